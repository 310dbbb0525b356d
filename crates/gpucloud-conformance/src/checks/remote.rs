//! Checks that log in to the test instance: SSH and the image, the firewall in both directions,
//! and live firewall changes. Only for targets whose instances this machine can reach.

use std::sync::Arc;
use std::time::Duration;

use gpucloud_core::{
    AddFirewallRulesToInstanceArgs, Architecture, CloudClientExt, ErrorKind, FirewallRule,
    FirewallRules, Instance, Protocol, RevokeSecurityGroupRuleArgs, validate_firewall_add,
    validate_firewall_revoke,
};

use super::{Findings, Verdict, describe};
use crate::ctx::Ctx;
use crate::net::{CallbackListener, Probe, probe};
use crate::ssh::{Session, wait_for_ssh};

/// A one-line Python server: accepts forever and greets every peer with the token.
const PY_LISTENER: &str = r#"import socket,sys
s=socket.socket(socket.AF_INET,socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)
s.bind(("0.0.0.0",int(sys.argv[1])))
s.listen(16)
while True:
    c,a=s.accept()
    try:
        c.sendall((sys.argv[2]+"\n").encode())
    except Exception:
        pass
    c.close()"#;
const PL_LISTENER: &str = r#"my $s=IO::Socket::INET->new(LocalAddr=>"0.0.0.0",LocalPort=>$ARGV[0],Listen=>16,ReuseAddr=>1) or die "listen: $!";
while(my $c=$s->accept){print $c "$ARGV[1]\n";close $c}"#;
/// Connects to `host port`, prints the first line (with `send`, sends a line instead).
const PY_CLIENT: &str = r#"import socket,sys
s=socket.create_connection((sys.argv[1],int(sys.argv[2])),5)
if len(sys.argv)>3:
    s.sendall((sys.argv[3]+"\n").encode())
else:
    print(s.recv(256).decode().strip())
s.close()"#;
const PL_CLIENT: &str = r#"my $s=IO::Socket::INET->new(PeerAddr=>$ARGV[0],PeerPort=>$ARGV[1],Timeout=>5) or die "connect: $!";
if(@ARGV>2){print $s "$ARGV[2]\n"}else{my $l=<$s>;print $l}
close $s"#;

/// Runs a program text with python3, or perl when python3 is missing; with `replace`, the
/// interpreter replaces the shell (so `$!` of a background launch is the interpreter's PID).
fn with_interpreter(python: &str, perl: &str, args: &str, replace: bool) -> String {
    let exec = if replace { "exec " } else { "" };
    format!(
        "if command -v python3 >/dev/null 2>&1; then {exec}python3 -c '{python}' {args}; \
         elif command -v perl >/dev/null 2>&1; then {exec}perl -MIO::Socket::INET -e '{perl}' {args}; \
         else echo 'the instance has neither python3 nor perl' >&2; exit 3; fi"
    )
}

/// A logged-in session on the test instance with helpers for the firewall checks.
struct Remote {
    session: Session,
    dir: String,
    timeout: Duration,
}

impl Remote {
    async fn open(ctx: &Ctx, instance: &Instance) -> Result<Self, String> {
        if instance.public_ip.is_empty() {
            return Err(format!(
                "public IP is not available for instance {}",
                instance.cloud_id
            ));
        }
        let key = ctx.key()?;
        let session = wait_for_ssh(
            key,
            &instance.ssh_user,
            &instance.public_ip,
            instance.ssh_port,
            ctx.timeouts.running_ssh,
        )
        .await?;
        Ok(Self {
            session,
            dir: format!("/tmp/{}-{}", ctx.options.name_prefix, ctx.run_id),
            timeout: ctx.timeouts.api_call,
        })
    }

    async fn run(&self, command: &str) -> Result<crate::ssh::Output, String> {
        self.session.exec(command, self.timeout).await
    }

    /// Runs `command` and returns its stdout; a failed run or a non-zero exit is an error that
    /// quotes the command, so every caller reports failures the same way.
    async fn stdout(&self, command: &str) -> Result<String, String> {
        let out = self.run(command).await?;
        if out.success() {
            Ok(out.stdout)
        } else {
            Err(format!("`{command}` failed: {}", out.describe()))
        }
    }

    /// Starts a listener on `port` that greets with `token`, and waits until it answers locally.
    async fn start_listener(&self, port: u16, token: &str) -> Result<(), String> {
        let start = format!(
            "mkdir -p {dir} || exit 3; ( {launch} ) </dev/null >{dir}/listener-{port}.log 2>&1 & echo $! > {dir}/listener-{port}.pid",
            dir = self.dir,
            launch = with_interpreter(PY_LISTENER, PL_LISTENER, &format!("{port} {token}"), true),
        );
        let out = self.run(&start).await?;
        if !out.success() {
            return Err(format!(
                "starting a listener on port {port} failed: {}",
                out.describe()
            ));
        }
        let check = format!(
            "for i in $(seq 1 50); do out=$({client} 2>/dev/null) && [ -n \"$out\" ] && {{ echo \"$out\"; exit 0; }}; sleep 0.1; done; \
             cat {dir}/listener-{port}.log >&2; exit 1",
            client = with_interpreter(PY_CLIENT, PL_CLIENT, &format!("127.0.0.1 {port}"), false),
            dir = self.dir,
        );
        let out = self.run(&check).await?;
        if out.success() && out.stdout.contains(token) {
            Ok(())
        } else {
            Err(format!(
                "the test listener on port {port} did not answer inside the instance: {}",
                out.describe()
            ))
        }
    }

    async fn stop_listener(&self, port: u16) {
        let stop = format!(
            "kill $(cat {dir}/listener-{port}.pid 2>/dev/null) 2>/dev/null; pkill -f '{port} gpucloud-token-' 2>/dev/null; \
             rm -f {dir}/listener-{port}.pid {dir}/listener-{port}.log; true",
            dir = self.dir
        );
        if let Err(e) = self.run(&stop).await {
            tracing::warn!(error = %e, port, "could not stop the test listener");
        }
    }

    async fn close(self) {
        let _ = self.run(&format!("rm -rf {}; true", self.dir)).await;
        self.session.close().await;
    }
}

/// True when `host:port` answers with `token` within a few attempts.
async fn reaches(
    host: &str,
    port: u16,
    token: &str,
    attempt_timeout: Duration,
    attempts: u32,
) -> Probe {
    let mut last = Probe::Silent;
    for attempt in 0..attempts {
        last = probe(host, port, attempt_timeout).await;
        if matches!(&last, Probe::Open(banner) if banner.contains(token)) {
            return last;
        }
        if attempt + 1 < attempts {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    last
}

/// Polls until `host:port` is open with `token` (`open = true`) or not open, up to `timeout`.
async fn until(
    host: &str,
    port: u16,
    token: &str,
    open: bool,
    probe_timeout: Duration,
    timeout: Duration,
) -> Probe {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let seen = probe(host, port, probe_timeout).await;
        let is_open = matches!(&seen, Probe::Open(banner) if banner.contains(token));
        if is_open == open || tokio::time::Instant::now() >= deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn token(ctx: &Ctx, what: &str) -> String {
    format!("gpucloud-token-{}-{what}", ctx.run_id)
}

pub(crate) async fn ssh(ctx: Arc<Ctx>) -> Verdict {
    let instance = match ctx.instance(true).await {
        Ok(instance) => instance,
        Err(why) => return Verdict::Skip(why),
    };
    let mut f = Findings::default();
    f.expect(!instance.ssh_user.is_empty(), || {
        format!("SSH user is not set for instance {}", instance.cloud_id)
    });
    f.expect(instance.ssh_port != 0, || {
        format!("SSH port is not set for instance {}", instance.cloud_id)
    });
    let remote = match Remote::open(&ctx, &instance).await {
        Ok(remote) => remote,
        Err(why) => return f.fail_done(why),
    };
    let user = instance.ssh_user.as_str();
    // First-boot setup may still be changing users and packages; wait for it where cloud-init
    // exists. Its outcome is not a finding: the checks below test what matters.
    let _ = remote.run("command -v cloud-init >/dev/null 2>&1 && cloud-init status --wait >/dev/null 2>&1; true").await;

    match remote.stdout("id -un").await {
        Ok(stdout) => f.expect(stdout.trim() == user, || {
            format!(
                "logged in as {:?}, the instance's ssh_user is {user:?}",
                stdout.trim()
            )
        }),
        Err(why) => f.fail(why),
    }

    let chosen = ctx.chosen_type().await.ok();
    match remote.stdout("uname -m").await {
        Ok(stdout) => {
            let arch = Architecture::parse_lenient(&stdout);
            if arch == Architecture::Unknown {
                f.fail(format!("unsupported architecture: {:?}", stdout.trim()));
            } else if let Some(chosen) = chosen.filter(|c| !c.supported_architectures.is_empty()) {
                f.expect(chosen.supported_architectures.contains(&arch), || {
                    format!(
                        "the instance runs {arch}, its type {} lists {:?}",
                        chosen.id, chosen.supported_architectures
                    )
                });
            }
            f.note(format!("architecture {arch}"));
        }
        Err(why) => f.fail(why),
    }

    match remote.stdout("cat /etc/os-release").await {
        Ok(stdout) => {
            let pretty = stdout
                .lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim().trim_matches('"').to_owned());
            match pretty {
                None => f.fail("/etc/os-release has no PRETTY_NAME"),
                Some(name) => {
                    let expected = &ctx.options.expected_os;
                    f.expect(
                        expected.is_empty() || expected.iter().any(|e| name.contains(e.as_str())),
                        || format!("the OS is {name:?}, expected one of {expected:?}"),
                    );
                    f.note(format!("OS {name}"));
                }
            }
        }
        Err(why) => f.fail(why),
    }

    match remote.stdout("cd ~ && pwd").await {
        Ok(stdout) => {
            let home = stdout.trim();
            let expected = if user == "root" {
                "/root".to_owned()
            } else {
                format!("/home/{user}")
            };
            f.expect(home.contains(&expected), || {
                format!("home directory of {user} is {home:?}, expected {expected}")
            });
        }
        Err(why) => f.fail(why),
    }

    if user == "root" {
        f.note("the user is root; sudo is not needed");
    } else if instance.user_privilege_escalation_disabled {
        f.note("the instance promises no privilege escalation; sudo not checked");
    } else if let Err(why) = remote.stdout("sudo -n true").await {
        f.fail(format!("passwordless sudo does not work: {why}"));
    }
    remote.close().await;
    f.done()
}

pub(crate) async fn firewall_ingress(ctx: Arc<Ctx>) -> Verdict {
    let instance = match ctx.instance(true).await {
        Ok(instance) => instance,
        Err(why) => return Verdict::Skip(why),
    };
    let mut f = Findings::default();
    let remote = match Remote::open(&ctx, &instance).await {
        Ok(remote) => remote,
        Err(why) => return f.fail_done(why),
    };
    let host = instance.public_ip.as_str();
    let probe_timeout = ctx.timeouts.port_probe;
    let closed = ctx.options.closed_port;
    let open = ctx.options.open_port;
    let opened_at_create = ctx.client.create_features().firewall_rules;

    let closed_token = token(&ctx, "closed");
    match remote.start_listener(closed, &closed_token).await {
        Ok(()) => {
            for attempt in 1..=3 {
                if let Probe::Open(banner) = probe(host, closed, probe_timeout).await {
                    f.fail(format!(
                        "port {closed} is accessible from outside but should be blocked by firewall (attempt {attempt} succeeded, greeting {banner:?})"
                    ));
                    break;
                }
            }
        }
        Err(why) => {
            f.fail(why);
        }
    }
    remote.stop_listener(closed).await;

    if opened_at_create {
        let open_token = token(&ctx, "open");
        match remote.start_listener(open, &open_token).await {
            Ok(()) => {
                match reaches(host, open, &open_token, probe_timeout, 3).await {
                    Probe::Open(banner) if banner.contains(&open_token) => {}
                    Probe::Open(banner) => {
                        f.fail(format!(
                    "port {open} answered from outside but not with the test listener's greeting ({banner:?})"
                ));
                    }
                    Probe::Refused(e) => {
                        f.fail(format!(
                            "allowed port {open} is not accessible: connection refused ({e})"
                        ));
                    }
                    Probe::Silent => {
                        f.fail(format!("allowed port {open} is not accessible: no answer within {probe_timeout:?}"));
                    }
                }
            }
            Err(why) => {
                f.fail(why);
            }
        }
        remote.stop_listener(open).await;
    } else {
        f.note("create_features().firewall_rules is false: only the default deny was checked");
    }
    remote.close().await;
    f.done()
}

pub(crate) async fn firewall_egress(ctx: Arc<Ctx>) -> Verdict {
    let instance = match ctx.instance(true).await {
        Ok(instance) => instance,
        Err(why) => return Verdict::Skip(why),
    };
    let mut f = Findings::default();
    let listener = match CallbackListener::bind().await {
        Ok(listener) => listener,
        Err(why) => return f.fail_done(why),
    };
    let port = match listener.port() {
        Ok(port) => port,
        Err(why) => return f.fail_done(why),
    };
    let remote = match Remote::open(&ctx, &instance).await {
        Ok(remote) => remote,
        Err(why) => return f.fail_done(why),
    };
    let egress_token = token(&ctx, "egress");
    let connect = format!(
        "addr=${{SSH_CLIENT%% *}}; [ -n \"$addr\" ] || {{ echo 'SSH_CLIENT is not set' >&2; exit 3; }}; echo \"$addr\"; {}",
        with_interpreter(
            PY_CLIENT,
            PL_CLIENT,
            &format!("\"$addr\" {port} {egress_token}"),
            false,
        )
    );
    let wait = listener.expect(&egress_token, ctx.timeouts.port_probe * 3);
    let (out, arrived) = tokio::join!(remote.run(&connect), wait);
    let target = match &out {
        Ok(out) => out
            .stdout
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned(),
        Err(_) => String::new(),
    };
    match (out, arrived) {
        (_, Ok(from)) => {
            f.note(format!("egress to {target}:{port} works ({from})"));
        }
        (Ok(out), Err(why)) => {
            f.fail(format!(
            "the instance could not connect out to this machine at {target}:{port}: {why}; the instance said: {} \
             (this machine must accept inbound TCP from the instance; set SuiteOptions::check_egress = false behind NAT)",
            out.describe()
        ));
        }
        (Err(e), Err(why)) => {
            f.fail(format!("the egress command failed ({e}); {why}"));
        }
    }
    remote.close().await;
    f.done()
}

pub(crate) async fn modify_firewall(ctx: Arc<Ctx>) -> Verdict {
    let Ok(firewall) = ctx.client.modify_firewall() else {
        return Verdict::Skip("capability modify-firewall not declared".to_owned());
    };
    let instance = match ctx.instance(true).await {
        Ok(instance) => instance,
        Err(why) => return Verdict::Skip(why),
    };
    let mut f = Findings::default();
    let port = ctx.options.closed_port;
    let id = instance.cloud_id.clone();
    let remote = if ctx.reachable {
        match Remote::open(&ctx, &instance).await {
            Ok(remote) => Some(remote),
            Err(why) => return f.fail_done(why),
        }
    } else {
        f.note("not reachable: the rule changes were checked through the API only");
        None
    };
    let live_token = token(&ctx, "modify");
    if let Some(remote) = &remote
        && let Err(why) = remote.start_listener(port, &live_token).await
    {
        f.fail(why);
    }
    let host = instance.public_ip.clone();
    let probe_timeout = ctx.timeouts.port_probe;

    let add = AddFirewallRulesToInstanceArgs {
        instance_id: id.clone(),
        firewall_rules: FirewallRules {
            ingress_rules: vec![FirewallRule::port(port)],
            egress_rules: Vec::new(),
        },
    };
    let verdict = 'check: {
        let add = match validate_firewall_add(&add, &ctx.client.create_features()) {
            Ok(add) => add,
            Err(e) => break 'check f.fail_done(format!("the suite's rule: {}", describe(&e))),
        };
        if let Err(e) = firewall.add_firewall_rules(&add).await {
            let declared = if e.kind() == ErrorKind::NotImplemented {
                " although the capability is declared"
            } else {
                ""
            };
            f.fail(format!("add_firewall_rules{declared}: {}", describe(&e)));
            break 'check f.done();
        }
        let rule_id = match ctx.client.get_instance(&id).await {
            Ok(seen) => seen
                .firewall_rules
                .ingress_rules
                .iter()
                .find(|r| r.covers(port, Protocol::Tcp) && !r.id.is_empty())
                .map(|r| r.id.clone()),
            Err(e) => {
                f.fail(format!(
                    "get_instance after add_firewall_rules: {}",
                    describe(&e)
                ));
                break 'check f.done();
            }
        };
        let Some(rule_id) = rule_id else {
            f.fail(format!(
                "after add_firewall_rules, get_instance's firewall_rules has no ingress rule with an id covering port {port} \
                 (revoke_firewall_rules takes the rule ids reported in Instance::firewall_rules)"
            ));
            break 'check f.done();
        };
        if remote.is_some() {
            let seen = until(
                &host,
                port,
                &live_token,
                true,
                probe_timeout,
                ctx.timeouts.firewall_change,
            )
            .await;
            if !matches!(&seen, Probe::Open(b) if b.contains(&live_token)) {
                f.fail(format!(
                    "port {port} is still not reachable {:?} after add_firewall_rules ({seen:?})",
                    ctx.timeouts.firewall_change
                ));
            }
        }
        let revoke = RevokeSecurityGroupRuleArgs {
            instance_id: id.clone(),
            security_group_rule_ids: vec![rule_id.clone()],
        };
        let revoke = match validate_firewall_revoke(&revoke) {
            Ok(revoke) => revoke,
            Err(e) => {
                f.fail(format!("rule id {rule_id:?}: {}", describe(&e)));
                break 'check f.done();
            }
        };
        if let Err(e) = firewall.revoke_firewall_rules(&revoke).await {
            f.fail(format!(
                "revoke_firewall_rules({rule_id}): {}",
                describe(&e)
            ));
            break 'check f.done();
        }
        match ctx.client.get_instance(&id).await {
            Ok(seen) => f.expect(
                !seen
                    .firewall_rules
                    .ingress_rules
                    .iter()
                    .any(|r| r.id == rule_id),
                || format!("rule {rule_id} is still listed after revoke_firewall_rules"),
            ),
            Err(e) => {
                f.fail(format!(
                    "get_instance after revoke_firewall_rules: {}",
                    describe(&e)
                ));
            }
        }
        if remote.is_some() {
            let seen = until(
                &host,
                port,
                &live_token,
                false,
                probe_timeout,
                ctx.timeouts.firewall_change,
            )
            .await;
            if matches!(&seen, Probe::Open(b) if b.contains(&live_token)) {
                f.fail(format!(
                    "port {port} is still reachable {:?} after revoke_firewall_rules",
                    ctx.timeouts.firewall_change
                ));
            }
        }
        f.done()
    };
    if let Some(remote) = remote {
        remote.stop_listener(port).await;
        remote.close().await;
    }
    verdict
}
