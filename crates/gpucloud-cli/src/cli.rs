//! The command line, as clap derive types. Doc comments are the help text.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Arg, ArgAction, ArgMatches, Args, FromArgMatches, Parser, Subcommand, ValueEnum};
use gpucloud::FirewallRule;
use gpucloud_fakes::registry::{ExtraFlag, FAKES, ServeOptions, ServedFake};

use crate::args::{self, Tag};

/// Find GPU instances across clouds, create them, and SSH in.
///
/// Providers are configured with environment variables (e.g. LAMBDA_API_KEY) or in
/// ~/.config/gpucloud/config.toml ([profiles.default.lambda] api_key = "..."). The local
/// provider (network namespaces with sshd) is always available when running as root.
#[derive(Debug, Parser)]
#[command(
    name = "gpucloud",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,

    /// Global options.
    #[command(flatten)]
    pub global: GlobalArgs,
}

/// Options every command takes, listed after each command's own.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Output format: `table` for people, `json` for programs (stdout then holds only JSON;
    /// refused by `ssh`, `fake`, `completions` and `config`, which print no data).
    #[arg(short = 'o', long = "output", global = true, value_enum, default_value_t = Format::Table)]
    pub output: Format,

    /// Only print errors on stderr (no progress, hints or warnings).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// More logging on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// The config profile to use [env: GPUCLOUD_PROFILE] [default: default].
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,

    /// The config file [env: GPUCLOUD_CONFIG] [default: ~/.config/gpucloud/config.toml].
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// A `gpucloud serve` to send `instances list|create|terminate`, `offers` and `launch` to
    /// instead of the clouds, and to `watch` (its token from GPUCLOUD_SERVER_TOKEN).
    #[arg(long, global = true, value_name = "URL", env = "GPUCLOUD_SERVER")]
    pub server: Option<String>,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Tables for people.
    Table,
    /// JSON for programs: the serde form of the gpucloud model.
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the providers of this build: configured or not, API type, capabilities.
    Providers,

    /// List a provider's locations (regions).
    Locations {
        /// The provider, e.g. `lambda` or `local`.
        #[arg(short, long, value_name = "PROVIDER")]
        provider: String,
    },

    /// List instance types with prices, across providers and locations.
    Types(TypesArgs),

    /// List every GPU model on offer: GPU counts, memory, cheapest price and GPU-hour, and where.
    Gpus(GpusArgs),

    /// Find offers across every configured cloud: normalized, filtered, cheapest first.
    ///
    /// One row per offer with its locations folded; `--wide` shows one row per location with
    /// every field. Catalogs are cached on disk for a few minutes (`--refresh` asks again);
    /// availability in the table is as of the provider's answer.
    Offers(OffersArgs),

    /// Launch on the cheapest offer that comes up, moving to the next on capacity, quota or
    /// boot failures; prints every offer tried and why it failed.
    Launch(Box<LaunchArgs>),

    /// Create, list and manage instances.
    #[command(subcommand)]
    Instances(InstancesCommand),

    /// SSH into an instance (runs `ssh` with the instance's user, address, port and key).
    ///
    /// Gives up when the instance's SSH port does not answer within the connect timeout.
    Ssh {
        /// The provider.
        #[arg(short, long, value_name = "PROVIDER")]
        provider: String,
        /// The instance id.
        id: String,
        /// Seconds to wait for the SSH port to answer before giving up.
        #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = args::parse_secs)]
        connect_timeout: u64,
        /// A command to run instead of a login shell (after `--`).
        #[arg(last = true, value_name = "CMD")]
        command: Vec<String>,
    },

    /// Run the conformance checks against a provider; exits 1 if any check fails.
    ///
    /// This creates (and terminates) real instances on the provider: on a real cloud (not a
    /// fake on this machine, not the local provider) it says which type and price, and asks
    /// first unless --yes.
    Validate(ValidateArgs),

    /// Serve a fake provider API on 127.0.0.1 until interrupted.
    #[command(subcommand)]
    Fake(FakeCommand),

    /// Print a shell completion script: `gpucloud completions bash > /etc/bash_completion.d/gpucloud`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },

    /// The configuration file.
    #[command(subcommand)]
    Config(ConfigCommand),

    /// Run the control plane: watch every configured provider (inventory, status, creates and
    /// verified terminates, kept in a database) and serve its API, until SIGTERM or Ctrl-C.
    ///
    /// The first stdout line is the API's URL. `--once` runs one pass instead.
    Serve(crate::commands::serve::ServeArgs),

    /// Follow a server's events (needs --server); resumes after a dropped connection.
    Watch(crate::commands::watch::WatchArgs),

    /// Start a local instance you can SSH into (installs the tools it needs on Debian/Ubuntu).
    ///
    /// Needs root. Creates an instance with the local provider using ~/.ssh/id_ed25519.pub
    /// (or a key generated under ~/.config/gpucloud/keys/), waits until SSH answers, and
    /// prints how to connect.
    Up {
        /// Public key to authorize (default ~/.ssh/id_ed25519.pub, else a generated key).
        #[arg(long, value_name = "FILE.pub")]
        ssh_key: Option<PathBuf>,
        /// Instance name.
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// Do not install missing tools; fail instead.
        #[arg(long)]
        no_install: bool,
    },
}

/// Arguments of `gpucloud types`.
#[derive(Debug, Args)]
pub struct TypesArgs {
    /// Providers to query (repeatable; default: every configured provider).
    #[arg(short, long = "provider", value_name = "PROVIDER")]
    pub providers: Vec<String>,
    /// Only this location (repeatable).
    #[arg(long = "location", value_name = "LOCATION")]
    pub locations: Vec<String>,
    /// GPU model, optionally with the exact count: `H100`, `h-100`, `H100:8`, `8xH100`,
    /// `A100-80GB` (with 80 GB each), `RTX4090`.
    #[arg(long, value_name = "MODEL[:COUNT]", value_parser = args::parse_gpu)]
    pub gpu: Option<args::GpuArg>,
    /// Only types with exactly this many GPUs.
    #[arg(long, value_name = "N", value_parser = args::parse_count)]
    pub gpus: Option<u32>,
    /// Only types costing at most this many US dollars per hour.
    #[arg(long, value_name = "USD", value_parser = args::parse_usd, allow_negative_numbers = true)]
    pub max_price: Option<rust_decimal::Decimal>,
    /// Only types that can be launched now.
    #[arg(long)]
    pub available: bool,
    /// Sort order.
    #[arg(long, value_enum, default_value_t = SortBy::Price)]
    pub sort: SortBy,
    /// Show every column in full, however wide.
    #[arg(long)]
    pub wide: bool,
}

/// Arguments of `gpucloud gpus`.
#[derive(Debug, Args)]
pub struct GpusArgs {
    /// Providers to ask (repeatable; default: every configured provider).
    #[arg(short, long = "provider", value_name = "PROVIDER")]
    pub providers: Vec<String>,
    /// Only this location (repeatable).
    #[arg(long = "location", value_name = "LOCATION")]
    pub locations: Vec<String>,
    /// Only offers that can be launched now.
    #[arg(long)]
    pub available: bool,
    /// Show every column in full, however wide.
    #[arg(long)]
    pub wide: bool,
    /// Ask the providers even when the cached catalog is fresh.
    #[arg(long)]
    pub refresh: bool,
}

/// `gpucloud config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Write a commented config file (mode 0600) with every provider's settings, and say which
    /// environment variables override it.
    Init {
        /// Replace the file if it exists.
        #[arg(long)]
        force: bool,
    },
}

/// What selects offers, shared by `offers` and `launch`.
#[derive(Debug, Args)]
pub struct OfferFilterArgs {
    /// GPU model, optionally with the exact count: `H100`, `h-100`, `H100:8`, `8xH100`,
    /// `A100-80GB` (with at least 80 GB each), `RTX4090`.
    #[arg(long, value_name = "MODEL[:COUNT]", value_parser = args::parse_gpu)]
    pub gpu: Option<args::GpuArg>,
    /// At least this many GPUs.
    #[arg(long, value_name = "N", value_parser = args::parse_count)]
    pub min_gpus: Option<u32>,
    /// At least this much memory per GPU: `80GB`, `80G`, `80` (GB), `24GiB`.
    #[arg(long, value_name = "SIZE", value_parser = args::parse_bytes)]
    pub min_vram: Option<gpucloud::Bytes>,
    /// At most this many US dollars per hour for the instance.
    #[arg(long, value_name = "USD", value_parser = args::parse_usd, allow_negative_numbers = true)]
    pub max_price: Option<rust_decimal::Decimal>,
    /// At most this many US dollars per GPU-hour.
    #[arg(long, value_name = "USD", value_parser = args::parse_usd, allow_negative_numbers = true)]
    pub max_price_per_gpu: Option<rust_decimal::Decimal>,
    /// Providers to ask (repeatable; default: every configured provider).
    #[arg(short, long = "provider", value_name = "PROVIDER")]
    pub providers: Vec<String>,
    /// Only this location (repeatable).
    #[arg(long = "location", value_name = "LOCATION")]
    pub locations: Vec<String>,
    /// Only this CPU architecture.
    #[arg(long, value_enum)]
    pub arch: Option<Arch>,
    /// Only spot (preemptible) offers.
    #[arg(long, conflicts_with = "on_demand")]
    pub spot: bool,
    /// Only on-demand offers.
    #[arg(long)]
    pub on_demand: bool,
    /// How long one provider may take, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 20, value_parser = args::parse_secs)]
    pub deadline: u64,
}

/// CPU architectures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Arch {
    /// x86-64.
    #[value(name = "x86_64", alias = "amd64")]
    X86_64,
    /// 64-bit Arm.
    #[value(name = "arm64", alias = "aarch64")]
    Arm64,
}

/// Arguments of `gpucloud offers`.
#[derive(Debug, Args)]
pub struct OffersArgs {
    /// Which offers.
    #[command(flatten)]
    pub filter: OfferFilterArgs,
    /// Only offers that can be launched now.
    #[arg(long)]
    pub available: bool,
    /// Sort order.
    #[arg(long, value_enum, default_value_t = SortBy::Price)]
    pub sort: SortBy,
    /// One row per offer and location, with every field in full.
    #[arg(long)]
    pub wide: bool,
    /// Ask the providers even when the cached catalog is fresh.
    #[arg(long, conflicts_with = "no_cache")]
    pub refresh: bool,
    /// Neither read nor write the catalog cache.
    #[arg(long)]
    pub no_cache: bool,
}

/// Arguments of `gpucloud launch`.
#[derive(Debug, Args)]
pub struct LaunchArgs {
    /// Which offers to try (`--gpu` is required).
    #[command(flatten)]
    pub filter: OfferFilterArgs,
    /// Offers tried per round, cheapest first.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = args::parse_max_offers)]
    pub max_offers: u32,
    /// The order offers are tried in.
    #[arg(long, value_enum, default_value_t = SortBy::Price)]
    pub sort: SortBy,
    /// Instance name.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Public key to authorize (default ~/.ssh/id_ed25519.pub, else a generated key).
    #[arg(long, value_name = "FILE.pub")]
    pub ssh_key: Option<PathBuf>,
    /// Idempotency id for the whole launch (default: a new UUID, printed when it matters).
    #[arg(long, value_name = "ID")]
    pub ref_id: Option<String>,
    /// Open inbound ports: PORT or FROM-TO, optionally /tcp or /udp, optionally @CIDR (repeatable).
    #[arg(long = "open-port", value_name = "PORT[-PORT][/PROTO][@CIDR]", value_parser = args::parse_open_port)]
    pub open_ports: Vec<FirewallRule>,
    /// A first-boot script (e.g. cloud-init) to pass as user data.
    #[arg(long, value_name = "FILE")]
    pub user_data: Option<PathBuf>,
    /// A tag `key=value` to store on the instance (repeatable).
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = args::parse_tag)]
    pub tags: Vec<Tag>,
    /// Wait until the instance is running; one that fails while booting is terminated and the
    /// next offer tried.
    #[arg(long)]
    pub wait: bool,
    /// How long to wait for one instance to run, in seconds (default: 20 minutes); with --wait
    /// or --retry-until-up.
    #[arg(long, value_name = "SECS", value_parser = args::parse_secs)]
    pub timeout: Option<u64>,
    /// When every offer failed, run the list again with backoff until one is running (implies
    /// --wait).
    #[arg(long)]
    pub retry_until_up: bool,
    /// The first pause between rounds, in seconds (doubles up to 8×).
    #[arg(long, value_name = "SECS", default_value_t = 30, requires = "retry_until_up", value_parser = args::parse_secs)]
    pub retry_interval: u64,
    /// Give up retrying after this many seconds (default: until interrupted).
    #[arg(long, value_name = "SECS", requires = "retry_until_up", value_parser = args::parse_secs)]
    pub retry_deadline: Option<u64>,
    /// Print the offers the launch would try, in order, and create nothing.
    #[arg(long, conflicts_with_all = ["wait", "retry_until_up", "timeout"])]
    pub dry_run: bool,
}

/// Sort orders of `types`, `offers` and `launch` (one `--sort` flag, one set of values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SortBy {
    /// Price per instance-hour, cheapest first.
    Price,
    /// Price per GPU-hour, cheapest first.
    PricePerGpu,
    /// Most GPUs first, then cheapest.
    Gpus,
}

/// `gpucloud instances ...`.
#[derive(Debug, Subcommand)]
pub enum InstancesCommand {
    /// List the instances this credential created (with --all, every instance of the account).
    ///
    /// Only instances carrying this credential's mark are listed: those gpucloud created with
    /// the same `ref_id` setting (each provider's credential has one; `gpucloud providers -o
    /// json` lists the settings). Instances made in the provider's console, by another tool
    /// or under another `ref_id` are not shown unless --all is given.
    List {
        /// Providers to query (repeatable; default: every configured provider).
        #[arg(short, long = "provider", value_name = "PROVIDER")]
        providers: Vec<String>,
        /// Only instances with this tag: `key=value`, or `key` for any value (repeatable).
        #[arg(long = "tag", value_name = "KEY[=VALUE]", value_parser = args::parse_tag_filter)]
        tags: Vec<(String, Option<String>)>,
        /// Only the instance a create with this RefID made (how a create whose outcome is
        /// unknown is found).
        #[arg(long, value_name = "ID")]
        ref_id: Option<String>,
        /// Every instance the account has, also those gpucloud does not manage (made in the
        /// provider's console, by another tool or under another `ref_id`): the MANAGED column
        /// says `no` for those, and `-o json` rows carry `managed: false`.
        #[arg(long)]
        all: bool,
        /// Show names and tags in full, however wide.
        #[arg(long)]
        wide: bool,
    },

    /// Create an instance.
    Create(Box<CreateArgs>),

    /// Show an instance; with --wait, wait until it leaves a transitional status.
    Get(InstanceArgs),
    /// Terminate instances (deletes them and their disks).
    Terminate(TerminateArgs),
    /// Stop an instance (if the provider supports stop/start).
    Stop(InstanceArgs),
    /// Start a stopped instance.
    Start(InstanceArgs),
    /// Reboot an instance (if the provider supports reboot).
    Reboot(InstanceArgs),
}

/// An instance and whether to wait.
#[derive(Debug, Args)]
pub struct InstanceArgs {
    /// The provider.
    #[arg(short, long, value_name = "PROVIDER")]
    pub provider: String,
    /// The instance id.
    pub id: String,
    /// Wait until the operation has finished (with a spinner on stderr).
    #[arg(long)]
    pub wait: bool,
    /// How long to wait, in seconds (default: the SDK's per-transition timeout).
    #[arg(long, value_name = "SECS", requires = "wait", value_parser = args::parse_secs)]
    pub timeout: Option<u64>,
}

/// Instances to terminate and whether to wait.
#[derive(Debug, Args)]
pub struct TerminateArgs {
    /// The provider.
    #[arg(short, long, value_name = "PROVIDER")]
    pub provider: String,
    /// The instance ids (one or more).
    #[arg(required = true, num_args = 1.., value_name = "ID")]
    pub ids: Vec<String>,
    /// Wait until every instance is terminated (with a spinner on stderr).
    #[arg(long)]
    pub wait: bool,
    /// How long to wait for each, in seconds (default: the SDK's per-transition timeout).
    #[arg(long, value_name = "SECS", requires = "wait", value_parser = args::parse_secs)]
    pub timeout: Option<u64>,
}

/// Arguments of `gpucloud instances create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The provider.
    #[arg(short, long, value_name = "PROVIDER")]
    pub provider: String,
    /// The instance type, as listed by `gpucloud types`.
    #[arg(long = "type", value_name = "TYPE")]
    pub instance_type: String,
    /// The location (default: the first location where the type is available).
    #[arg(long, value_name = "LOCATION")]
    pub location: Option<String>,
    /// Instance name.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Public key to authorize (default ~/.ssh/id_ed25519.pub, else a generated key).
    #[arg(long, value_name = "FILE.pub")]
    pub ssh_key: Option<PathBuf>,
    /// Idempotency id: creating twice with the same id makes one instance (default: a new UUID).
    #[arg(long, value_name = "ID")]
    pub ref_id: Option<String>,
    /// Open inbound ports: PORT or FROM-TO, optionally /tcp or /udp, optionally @CIDR (repeatable).
    /// SSH is always open.
    #[arg(long = "open-port", value_name = "PORT[-PORT][/PROTO][@CIDR]", value_parser = args::parse_open_port)]
    pub open_ports: Vec<FirewallRule>,
    /// A first-boot script (e.g. cloud-init) to pass as user data.
    #[arg(long, value_name = "FILE")]
    pub user_data: Option<PathBuf>,
    /// A tag `key=value` to store on the instance (repeatable).
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = args::parse_tag)]
    pub tags: Vec<Tag>,
    /// Wait until the instance is running (with a spinner on stderr), then print how to SSH in.
    #[arg(long)]
    pub wait: bool,
    /// How long to wait, in seconds (default: 20 minutes).
    #[arg(long, value_name = "SECS", requires = "wait", value_parser = args::parse_secs)]
    pub timeout: Option<u64>,
}

/// `gpucloud fake <name>`: the registered fake and what it was given. Its subcommands come
/// from [`gpucloud_fakes::registry::FAKES`], one per fake, with the fake's own flags.
#[derive(Debug)]
pub struct FakeCommand {
    /// The fake to serve.
    pub fake: &'static ServedFake,
    /// Its options.
    pub options: ServeOptions,
}

impl FakeCommand {
    /// The subcommand serving `fake`: the common flags and the fake's own.
    fn subcommand(fake: &'static ServedFake) -> clap::Command {
        let mut command = clap::Command::new(fake.name).about(fake.about).arg(
            Arg::new("addr")
                .long("addr")
                .value_name("ADDR")
                .help("Address to listen on (loopback only).")
                .default_value("127.0.0.1:0")
                .value_parser(args::parse_loopback_addr),
        );
        for flag in fake.extra_flags {
            command = command.arg(match *flag {
                ExtraFlag::Regions(help) => Arg::new("region")
                    .long("region")
                    .value_name("REGION")
                    .help(help)
                    .action(ArgAction::Append),
                ExtraFlag::CredentialsFile(help) => Arg::new("credentials-file")
                    .long("credentials-file")
                    .value_name("PATH")
                    .help(help)
                    .value_parser(clap::value_parser!(PathBuf)),
            });
        }
        command
            .arg(
                Arg::new("latency-ms")
                    .long("latency-ms")
                    .value_name("N")
                    .help(fake.latency_help)
                    .default_value("0")
                    .value_parser(args::parse_millis)
                    .allow_negative_numbers(true),
            )
            .arg(
                Arg::new("boot-ms")
                    .long("boot-ms")
                    .value_name("N")
                    .help(fake.boot_help)
                    .value_parser(args::parse_millis)
                    .allow_negative_numbers(true),
            )
    }
}

impl FromArgMatches for FakeCommand {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let Some((name, sub)) = matches.subcommand() else {
            return Err(clap::Error::new(clap::error::ErrorKind::MissingSubcommand));
        };
        let Some(fake) = gpucloud_fakes::registry::find(name) else {
            return Err(clap::Error::new(clap::error::ErrorKind::InvalidSubcommand));
        };
        let takes = |wanted: fn(&ExtraFlag) -> bool| fake.extra_flags.iter().any(wanted);
        let options = ServeOptions {
            addr: sub
                .get_one::<SocketAddr>("addr")
                .copied()
                .ok_or_else(|| clap::Error::new(clap::error::ErrorKind::MissingRequiredArgument))?,
            latency: Duration::from_millis(sub.get_one::<u64>("latency-ms").copied().unwrap_or(0)),
            boot: sub
                .get_one::<u64>("boot-ms")
                .map(|ms| Duration::from_millis(*ms)),
            regions: if takes(|f| matches!(f, ExtraFlag::Regions(_))) {
                sub.get_many::<String>("region")
                    .map(|regions| regions.cloned().collect())
                    .unwrap_or_default()
            } else {
                Vec::new()
            },
            credentials_file: if takes(|f| matches!(f, ExtraFlag::CredentialsFile(_))) {
                sub.get_one::<PathBuf>("credentials-file").cloned()
            } else {
                None
            },
        };
        Ok(Self { fake, options })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Subcommand for FakeCommand {
    fn augment_subcommands(command: clap::Command) -> clap::Command {
        FAKES
            .iter()
            .fold(command, |command, fake| {
                command.subcommand(Self::subcommand(fake))
            })
            .subcommand_required(true)
            .arg_required_else_help(true)
    }

    fn augment_subcommands_for_update(command: clap::Command) -> clap::Command {
        Self::augment_subcommands(command)
    }

    fn has_subcommand(name: &str) -> bool {
        gpucloud_fakes::registry::find(name).is_some()
    }
}

/// Arguments of `gpucloud validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The provider.
    #[arg(short, long, value_name = "PROVIDER")]
    pub provider: String,
    /// The instance type to create (default: the cheapest available).
    #[arg(long = "type", value_name = "TYPE")]
    pub instance_type: Option<String>,
    /// The location to create in (default: the provider's choice).
    #[arg(long, value_name = "LOCATION")]
    pub location: Option<String>,
    /// Also run the SSH, firewall and egress checks (instances must be reachable from this
    /// machine; always on for the local provider).
    #[arg(long)]
    pub ssh: bool,
    /// Run only this check (repeatable).
    #[arg(long, value_name = "CHECK")]
    pub only: Vec<String>,
    /// Skip this check (repeatable).
    #[arg(long, value_name = "CHECK")]
    pub skip: Vec<String>,
    /// Do not ask before creating billable instances on a real cloud (required without a
    /// terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
}
