#![doc = include_str!("../README.md")]

mod firewall;
mod mime;
mod readback;

use base64::Engine as _;
use gpucloud_core::hostname::is_dns_label;
use gpucloud_core::sshkey::parse_public_key;
use gpucloud_core::{CloudError, FirewallRule, Result};

pub use firewall::TABLE;
pub use readback::ingress_rules_from_user_data;

/// The default SSH port the firewall always leaves open.
pub const DEFAULT_SSH_PORT: u16 = 22;

/// What kind of user data the user gave, from its first line, as cloud-init decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserDataKind {
    /// `#cloud-config`: merged with the bootstrap's own cloud-config.
    CloudConfig,
    /// `#cloud-config-archive`.
    CloudConfigArchive,
    /// `#!…`: a script run once at the end of first boot.
    Script,
    /// `#cloud-boothook`: run early on every boot.
    Boothook,
    /// `#include`: URLs cloud-init fetches.
    Include,
    /// `## template: jinja`: a Jinja template of one of the other kinds.
    Jinja,
}

impl UserDataKind {
    /// Recognises `data`; an error (naming `user_data_base64`) says which forms are accepted.
    pub fn detect(data: &[u8]) -> Result<Self> {
        const FIELD: &str = "user_data_base64";
        let kinds = [
            (&b"#cloud-config-archive"[..], Self::CloudConfigArchive),
            (b"#cloud-config", Self::CloudConfig),
            (b"#cloud-boothook", Self::Boothook),
            (b"#include", Self::Include),
            (b"## template: jinja", Self::Jinja),
            (b"#!", Self::Script),
        ];
        if let Some((_, kind)) = kinds.iter().find(|(prefix, _)| data.starts_with(prefix)) {
            return Ok(*kind);
        }
        if data.starts_with(&[0x1f, 0x8b]) {
            return Err(CloudError::invalid(
                FIELD,
                "is gzip-compressed; give it uncompressed so it can be combined with the bootstrap",
            ));
        }
        let head = String::from_utf8_lossy(&data[..data.len().min(64)]).to_ascii_lowercase();
        if head.starts_with("content-type:") || head.starts_with("mime-version:") {
            return Err(CloudError::invalid(
                FIELD,
                "is already a MIME document; give its parts (a #cloud-config or a script) instead",
            ));
        }
        Err(CloudError::invalid(
            FIELD,
            "is not cloud-init user data: it must start with #cloud-config, #! (a script), \
             #cloud-boothook, #include, #cloud-config-archive or ## template: jinja",
        ))
    }

    /// The MIME type cloud-init files this kind under.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::CloudConfig => "text/cloud-config",
            Self::CloudConfigArchive => "text/cloud-config-archive",
            Self::Script => "text/x-shellscript",
            Self::Boothook => "text/cloud-boothook",
            Self::Include => "text/x-include-url",
            Self::Jinja => "text/jinja2",
        }
    }
}

/// First-boot user data for one instance: the SSH key for its user, the firewall, and the
/// user's own user data. Build with [`Bootstrap::new`] and the `with_*` setters, then
/// [`Bootstrap::render`].
#[derive(Debug, Clone)]
pub struct Bootstrap {
    ssh_user: String,
    key_line: String,
    ssh_port: u16,
    rules: Vec<Vec<String>>,
    hostname: Option<String>,
    user_data: Option<(UserDataKind, Vec<u8>)>,
}

/// The first lines of the bootstrap's cloud-config, up to its first `bootcmd` entry.
const CLOUD_CONFIG_HEAD: &str = "#cloud-config\n\
     # Written by gpucloud-bootstrap: the SSH key and a default-deny inbound firewall.\n\
     merge_how: 'dict(no_replace,recurse_list)+list(append)'\n\
     bootcmd:\n";

/// How a list entry that runs one script through `sh -c` starts (see [`push_sh_command`]).
const SH_ENTRY: &str = "  - - sh\n    - -c\n    - |\n";

impl Bootstrap {
    /// A bootstrap installing `public_key` (OpenSSH or PEM) for `ssh_user`, with only SSH open.
    pub fn new(ssh_user: &str, public_key: &str) -> Result<Self> {
        gpucloud_core::validate::check_posix_user("ssh_user", ssh_user)?;
        let key = parse_public_key(public_key)
            .map_err(|problem| CloudError::invalid("public_key", problem))?;
        // The user's comment is left out: it would be the only free text in a root script.
        let key_line = format!(
            "{} {} gpucloud",
            key.algorithm,
            base64::engine::general_purpose::STANDARD.encode(&key.blob)
        );
        Ok(Self {
            ssh_user: ssh_user.to_owned(),
            key_line,
            ssh_port: DEFAULT_SSH_PORT,
            rules: Vec::new(),
            hostname: None,
            user_data: None,
        })
    }

    /// The port sshd listens on, which the firewall keeps open.
    pub fn with_ssh_port(mut self, port: u16) -> Result<Self> {
        if port == 0 {
            return Err(CloudError::invalid("ssh_port", "must be 1–65535"));
        }
        self.ssh_port = port;
        Ok(self)
    }

    /// Opens each ingress rule (v4 and v6 CIDRs; no CIDR means anywhere). Egress needs no
    /// rules: the firewall allows all outbound traffic.
    pub fn with_ingress_rules(mut self, rules: &[FirewallRule]) -> Result<Self> {
        self.rules = rules
            .iter()
            .enumerate()
            .map(|(i, rule)| {
                firewall::rule_lines(&format!("firewall_rules.ingress_rules[{i}]"), rule)
            })
            .collect::<Result<_>>()?;
        Ok(self)
    }

    /// Sets the machine's host name at first boot (cloud-init's `hostname`, and the
    /// `127.0.1.1` line of `/etc/hosts`, so `sudo` and friends resolve it). `hostname` is a DNS
    /// label as [`gpucloud_core::hostname::instance_hostname`] makes them; anything else is
    /// refused naming `hostname`. A `hostname` in the user's own cloud-config wins.
    pub fn with_hostname(mut self, hostname: &str) -> Result<Self> {
        if !is_dns_label(hostname) {
            return Err(CloudError::invalid(
                "hostname",
                format!(
                    "{hostname:?} is not a DNS label (1-63 of a-z, 0-9 and -, no - at either end)"
                ),
            ));
        }
        self.hostname = Some(hostname.to_owned());
        Ok(self)
    }

    /// The user's own user data (decoded), kept working next to the bootstrap. Empty means none.
    pub fn with_user_data(mut self, data: &[u8]) -> Result<Self> {
        self.user_data = if data.is_empty() {
            None
        } else {
            Some((UserDataKind::detect(data)?, data.to_vec()))
        };
        Ok(self)
    }

    /// The nftables ruleset (`nft -f` input) the firewall applies.
    pub fn nft_ruleset(&self) -> String {
        firewall::ruleset(self.ssh_port, &self.rules)
    }

    /// The POSIX shell script that applies the firewall; run on every boot (nftables rules do
    /// not survive a reboot) and idempotent.
    pub fn firewall_script(&self) -> String {
        firewall::script(&self.nft_ruleset())
    }

    /// The POSIX shell script that adds the key to the SSH user's `authorized_keys` once,
    /// keeping keys already there.
    pub fn key_script(&self) -> String {
        format!(
            "set -eu\n\
             user={user}\n\
             key={key}\n\
             home=$(getent passwd \"$user\" | cut -d: -f6)\n\
             if [ -z \"$home\" ]; then\n\
             \x20 echo \"gpucloud-bootstrap: user $user does not exist; no key installed\" >&2\n\
             \x20 exit 1\n\
             fi\n\
             group=$(id -gn \"$user\")\n\
             mkdir -p \"$home/.ssh\"\n\
             touch \"$home/.ssh/authorized_keys\"\n\
             grep -qxF \"$key\" \"$home/.ssh/authorized_keys\" || printf '%s\\n' \"$key\" >> \"$home/.ssh/authorized_keys\"\n\
             chown \"$user:$group\" \"$home/.ssh\" \"$home/.ssh/authorized_keys\"\n\
             chmod 0700 \"$home/.ssh\"\n\
             chmod 0600 \"$home/.ssh/authorized_keys\"\n\
             echo \"gpucloud-bootstrap: key installed for $user\"\n",
            user = shell_quote(&self.ssh_user),
            key = shell_quote(&self.key_line),
        )
    }

    /// The bootstrap's own `#cloud-config` document: the firewall in `bootcmd` (every boot,
    /// before the network services start), the key in `runcmd` (once, after cloud-init has
    /// created the users), then the host name if one is set. Its `merge_how` appends these
    /// lists to the user's own cloud-config instead of replacing them, and never replaces the
    /// user's other keys.
    ///
    /// It always starts with the same text up to the SSH line of the ruleset (the rules, the
    /// key and the host name all come later), which lets
    /// [`ingress_rules_from_user_data`] compare that part instead of decoding it.
    pub fn cloud_config(&self) -> String {
        let mut text = String::from(CLOUD_CONFIG_HEAD);
        push_sh_command(&mut text, &self.firewall_script());
        text.push_str("runcmd:\n");
        push_sh_command(&mut text, &self.key_script());
        if let Some(hostname) = &self.hostname {
            // Quoted: a label such as `1234` or `no` would otherwise be read as a number or a
            // boolean. A label has no character that needs escaping inside the quotes.
            text.push_str("preserve_hostname: false\n");
            text.push_str("hostname: \"");
            text.push_str(hostname);
            text.push_str("\"\n");
            text.push_str("manage_etc_hosts: localhost\n");
        }
        text
    }

    /// The user data to hand the cloud: the cloud-config alone, or (with user data) a
    /// multipart MIME document whose parts are the user's data and then the bootstrap's
    /// cloud-config, so cloud-init runs both.
    pub fn render(&self) -> Vec<u8> {
        let own = self.cloud_config();
        match &self.user_data {
            None => own.into_bytes(),
            Some((kind, data)) => mime::multipart(&[
                mime::Part {
                    content_type: kind.content_type(),
                    filename: "user-data",
                    body: data,
                },
                mime::Part {
                    content_type: UserDataKind::CloudConfig.content_type(),
                    filename: "gpucloud-bootstrap.cfg",
                    body: own.as_bytes(),
                },
            ]),
        }
    }
}

impl Bootstrap {
    /// The bootstrap as one first-boot shell script, for a platform that runs a script of its
    /// own instead of cloud-init user data (Shadeform's launch script, Verda's startup script):
    /// the firewall (installed as a systemd unit to run on every boot where systemd is there,
    /// since nftables rules do not survive a reboot), the host name if set, the key, then the
    /// user's own script. `writer` names the provider in the script's first comment.
    ///
    /// Each part is written to a file from base64 (no quoting of user text inside the script)
    /// and run by its own shell, so one part's failure neither stops nor changes another. Such
    /// a platform has no cloud-init to hand other user data to: user data that is not a script
    /// (`#!`) is refused naming `user_data_base64`.
    pub fn startup_script(&self, writer: &str) -> Result<String> {
        use std::fmt::Write as _;
        let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
        if let Some((kind, _)) = &self.user_data
            && *kind != UserDataKind::Script
        {
            return Err(CloudError::invalid(
                "user_data_base64",
                format!(
                    "{writer} runs a startup script, not cloud-init: user data must be a script \
                     starting with #! (this is {})",
                    kind.content_type()
                ),
            ));
        }
        let writer: String = writer
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        let mut script = format!(
            "#!/bin/sh\n\
             # Written by gpucloud ({writer}): SSH key, default-deny inbound firewall, user data.\n\
             umask 077\n\
             dir=/var/lib/gpucloud\n\
             mkdir -p \"$dir\"\n\
             printf '%s' '{firewall}' | base64 -d > \"$dir/firewall.sh\"\n\
             printf '%s' '{key}' | base64 -d > \"$dir/key.sh\"\n\
             chmod 0700 \"$dir/firewall.sh\" \"$dir/key.sh\"\n\
             sh \"$dir/firewall.sh\" || echo 'gpucloud: the firewall could not be applied' >&2\n\
             if command -v systemctl >/dev/null 2>&1 && [ -d /etc/systemd/system ]; then\n\
             \x20 cat > /etc/systemd/system/gpucloud-firewall.service <<'GPUCLOUD_UNIT'\n\
             [Unit]\n\
             Description=gpucloud default-deny inbound firewall\n\
             Before=network-pre.target docker.service\n\
             Wants=network-pre.target\n\
             [Service]\n\
             Type=oneshot\n\
             ExecStart=/bin/sh /var/lib/gpucloud/firewall.sh\n\
             [Install]\n\
             WantedBy=multi-user.target\n\
             GPUCLOUD_UNIT\n\
             \x20 systemctl daemon-reload >/dev/null 2>&1 || true\n\
             \x20 systemctl enable gpucloud-firewall.service >/dev/null 2>&1 || true\n\
             fi\n",
            firewall = b64(self.firewall_script().as_bytes()),
            key = b64(self.key_script().as_bytes()),
        );
        if let Some(hostname) = &self.hostname {
            // A DNS label (checked by `with_hostname`): nothing in it needs quoting.
            let _ = write!(
                script,
                "printf '%s\\n' '{hostname}' > /etc/hostname\n\
                 hostname '{hostname}' 2>/dev/null || true\n"
            );
        }
        script.push_str(
            "sh \"$dir/key.sh\" || echo 'gpucloud: the SSH key could not be installed' >&2\n",
        );
        if let Some((_, data)) = &self.user_data {
            // Writing to a String cannot fail.
            let _ = write!(
                script,
                "printf '%s' '{}' | base64 -d > \"$dir/user-data\"\n\
                 chmod 0700 \"$dir/user-data\"\n\
                 \"$dir/user-data\"\n",
                b64(data)
            );
        }
        Ok(script)
    }
}

/// The text every [`Bootstrap::cloud_config`] starts with: its head and the firewall script up
/// to the SSH line of the ruleset.
pub(crate) fn fixed_head() -> String {
    let mut text = String::from(CLOUD_CONFIG_HEAD);
    text.push_str(SH_ENTRY);
    push_block_lines(&mut text, firewall::SCRIPT_HEAD);
    push_block_lines(&mut text, &firewall::ruleset_head());
    text
}

/// Appends `script` as one `[sh, -c, script]` list entry: a separate shell, so the script's
/// `set -eu` and exit status cannot affect commands the user's cloud-config adds.
fn push_sh_command(text: &mut String, script: &str) {
    text.push_str(SH_ENTRY);
    push_block_lines(text, script);
}

/// Appends the lines of `script` as the body of a YAML block scalar of [`SH_ENTRY`]. Line by
/// line, so a script written in pieces (each ending in a newline) gives the same text.
fn push_block_lines(text: &mut String, script: &str) {
    for line in script.lines() {
        if line.is_empty() {
            text.push('\n');
        } else {
            text.push_str("      ");
            text.push_str(line);
            text.push('\n');
        }
    }
}

/// `text` as one single-quoted POSIX shell word.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ed25519 key core's own tests use, generated with ssh-keygen.
    mod test_keys {
        pub const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOu3o9AyeQeAgLrWm4iW8YTloO1TYKxHj8ZxO7xuEni5 test@gpucloud";
    }

    #[test]
    fn the_startup_script_carries_firewall_host_name_key_and_user_script() {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let bootstrap = Bootstrap::new("root", test_keys::ED25519)
            .unwrap()
            .with_hostname("train-1")
            .unwrap()
            .with_user_data(b"#!/bin/sh\necho 'it ran'\n")
            .unwrap();
        let script = bootstrap.startup_script("verda").unwrap();
        assert!(script.starts_with("#!/bin/sh\n# Written by gpucloud (verda)"));
        assert!(script.contains(&b64(&bootstrap.firewall_script())));
        assert!(script.contains(&b64(&bootstrap.key_script())));
        assert!(script.contains("hostname 'train-1'"));
        assert!(script.contains(&b64("#!/bin/sh\necho 'it ran'\n")));
        assert!(!script.contains("it ran"), "user text only in base64");
        // The firewall comes before the key, and the user's script last.
        let at = |needle: &str| script.find(needle).unwrap();
        assert!(
            at("firewall.sh\" ||") < at("key.sh\" ||") && at("key.sh\" ||") < at("user-data\"\n")
        );

        let plain = Bootstrap::new("root", test_keys::ED25519).unwrap();
        let script = plain.startup_script("x';rm").unwrap();
        assert!(!script.contains("user-data") && !script.contains("/etc/hostname"));
        assert!(script.contains("(xrm)"), "the writer's name is sanitized");

        let config = plain
            .with_user_data(b"#cloud-config\npackages: [htop]\n")
            .unwrap();
        let refused = config.startup_script("verda").unwrap_err();
        assert!(
            refused.to_string().contains("user_data_base64"),
            "{refused}"
        );
    }

    #[test]
    fn user_data_kinds_follow_cloud_init() {
        let cases: [(&[u8], UserDataKind); 7] = [
            (
                b"#cloud-config\npackages: [htop]\n",
                UserDataKind::CloudConfig,
            ),
            (
                b"#cloud-config-archive\n- type: x\n",
                UserDataKind::CloudConfigArchive,
            ),
            (b"#!/bin/bash\necho hi\n", UserDataKind::Script),
            (b"#!/usr/bin/env python3\n", UserDataKind::Script),
            (b"#cloud-boothook\necho\n", UserDataKind::Boothook),
            (b"#include\nhttps://example.com/a\n", UserDataKind::Include),
            (b"## template: jinja\n#cloud-config\n", UserDataKind::Jinja),
        ];
        for (data, kind) in cases {
            assert_eq!(UserDataKind::detect(data).unwrap(), kind);
        }
        for bad in [
            &b"echo no shebang"[..],
            b"\x1f\x8b\x08\x00",
            b"Content-Type: multipart/mixed; boundary=x\n",
            b"MIME-Version: 1.0\n",
        ] {
            let err = UserDataKind::detect(bad).unwrap_err();
            assert!(err.to_string().contains("user_data_base64"), "{err}");
        }
    }

    #[test]
    fn new_checks_the_user_and_the_key() {
        assert!(Bootstrap::new("ubuntu", test_keys::ED25519).is_ok());
        for user in ["", "Root", "a b", "x;rm", "1user", &"u".repeat(33)] {
            let err = Bootstrap::new(user, test_keys::ED25519).unwrap_err();
            assert!(err.to_string().contains("ssh_user"), "{user:?}: {err}");
        }
        let err = Bootstrap::new("ubuntu", "ssh-ed25519 nope").unwrap_err();
        assert!(err.to_string().contains("public_key"), "{err}");
    }

    #[test]
    fn key_script_quotes_and_drops_the_comment() {
        let script = Bootstrap::new("ubuntu", test_keys::ED25519)
            .unwrap()
            .key_script();
        assert!(script.contains("user='ubuntu'\n"));
        let key_line = test_keys::ED25519.rsplit_once(' ').unwrap().0;
        assert!(
            script.contains(&format!("key='{key_line} gpucloud'\n")),
            "{script}"
        );
        assert!(!script.contains("test@gpucloud"));
    }

    #[test]
    fn shell_quote_survives_quotes() {
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }

    #[test]
    fn cloud_config_runs_firewall_at_boot_and_key_once() {
        let b = Bootstrap::new("ubuntu", test_keys::ED25519)
            .unwrap()
            .with_ingress_rules(&[FirewallRule::port(8080)])
            .unwrap();
        let text = b.cloud_config();
        let boot = text.find("bootcmd:\n").unwrap();
        let run = text.find("runcmd:\n").unwrap();
        let nft = text.find("nft -f -").unwrap();
        let key = text.find("authorized_keys").unwrap();
        assert!(boot < nft && nft < run && run < key, "{text}");
        assert!(text.contains("      meta l4proto { tcp, udp } th dport 8080 accept\n"));
        assert!(text.starts_with("#cloud-config\n"));
    }

    #[test]
    fn the_host_name_is_set_quoted_and_checked() {
        let b = Bootstrap::new("ubuntu", test_keys::ED25519).unwrap();
        assert!(!b.cloud_config().contains("hostname"));
        let text = b.clone().with_hostname("1234").unwrap().cloud_config();
        assert!(
            text.ends_with(
                "preserve_hostname: false\nhostname: \"1234\"\nmanage_etc_hosts: localhost\n"
            ),
            "{text}"
        );
        for bad in ["", "Web", "a b", "-a", "a\"b", &"a".repeat(64)] {
            let err = b.clone().with_hostname(bad).unwrap_err();
            assert!(err.to_string().contains("hostname"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn render_without_user_data_is_the_cloud_config() {
        let b = Bootstrap::new("ubuntu", test_keys::ED25519).unwrap();
        assert_eq!(b.render(), b.cloud_config().into_bytes());
        let b = b.with_user_data(b"").unwrap();
        assert_eq!(b.render(), b.cloud_config().into_bytes());
    }

    #[test]
    fn render_with_user_data_puts_the_users_part_first() {
        let script = b"#!/bin/sh\necho mine\n";
        let b = Bootstrap::new("ubuntu", test_keys::ED25519)
            .unwrap()
            .with_user_data(script)
            .unwrap();
        let parts = mime::tests::parse(&b.render());
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].0, "text/x-shellscript");
        assert_eq!(parts[0].1, script);
        assert_eq!(parts[1].0, "text/cloud-config");
        assert_eq!(parts[1].1, b.cloud_config().into_bytes());
    }

    #[test]
    fn bad_rules_name_their_index() {
        let err = Bootstrap::new("ubuntu", test_keys::ED25519)
            .unwrap()
            .with_ingress_rules(&[
                FirewallRule::port(80),
                FirewallRule::range(1, 2, vec!["nope".into()]),
            ])
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("firewall_rules.ingress_rules[1].ip_ranges[0]"),
            "{err}"
        );
    }
}
