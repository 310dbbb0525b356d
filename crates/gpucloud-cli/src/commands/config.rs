//! `gpucloud config init` and `gpucloud completions`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use clap::CommandFactory;
use gpucloud::{LoadOptions, SettingKind, SettingSpec};

use crate::cli::{Cli, ConfigCommand, GlobalArgs};
use crate::error::{CliError, CliResult};
use crate::output::Out;

/// Runs a `config` subcommand.
pub fn run(out: Out, global: &GlobalArgs, command: &ConfigCommand) -> CliResult {
    match command {
        ConfigCommand::Init { force } => init(out, global, *force),
    }
}

/// Prints the completion script for `shell` on stdout.
pub fn completions(out: Out, shell: clap_complete::Shell) {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "gpucloud", &mut script);
    out.stdout(String::from_utf8_lossy(&script).trim_end());
}

/// Writes the commented config file, private from its first byte.
fn init(out: Out, global: &GlobalArgs, force: bool) -> CliResult {
    let options = LoadOptions {
        path: global.config.clone(),
        profile: global.profile.clone(),
    };
    let Some(path) = gpucloud::config::config_file_path(&options) else {
        return Err(
            CliError::usage("cannot tell where the config file goes: HOME is not set")
                .hint("name the file with --config FILE or GPUCLOUD_CONFIG"),
        );
    };
    let profile = global
        .profile
        .clone()
        .or_else(|| std::env::var(gpucloud::config::PROFILE_ENV).ok())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| gpucloud::config::DEFAULT_PROFILE.to_owned());
    let text = template(&profile);
    write_private(&path, &text, force)?;
    let variables: Vec<String> = gpucloud::providers()
        .iter()
        .map(|d| {
            let envs: Vec<&str> = d.settings.iter().map(|s| s.env).collect();
            format!("  {}: {}", d.name, envs.join(", "))
        })
        .collect();
    out.stdout(&format!(
        "Wrote {} (mode 0600). Uncomment the settings you need.\n\
         These environment variables override the file, setting by setting:\n{}\n\
         as do GPUCLOUD_CONFIG (another file) and GPUCLOUD_PROFILE (another profile).",
        path.display(),
        variables.join("\n")
    ));
    Ok(())
}

/// Creates `path` with mode 0600 (its directory too), refusing to replace a file unless `force`.
fn write_private(path: &Path, text: &str, force: bool) -> CliResult {
    let shown = path.display();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::failed(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).mode(0o600);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            CliError::usage(format!("{shown} exists; it was left as it is"))
                .hint("use --force to replace it")
        } else {
            CliError::failed(format!("cannot write {shown}: {e}"))
        }
    })?;
    // A replaced file keeps its old mode on open: make it private before writing keys into it.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .and_then(|()| file.write_all(text.as_bytes()))
        .and_then(|()| file.sync_all())
        .map_err(|e| CliError::failed(format!("cannot write {shown}: {e}")))
}

/// The commented file: every provider of this build, every setting commented out with its
/// description, default and the variable that overrides it.
fn template(profile: &str) -> String {
    let mut text = String::from(
        "# gpucloud configuration, written by `gpucloud config init`.\n\
         #\n\
         # Keep this file private (chmod 600): gpucloud refuses a file others can read once it\n\
         # holds a key. Each provider has a table [profiles.PROFILE.PROVIDER]; choose the profile\n\
         # with --profile or GPUCLOUD_PROFILE (default `default`). An environment variable wins\n\
         # over the file, setting by setting: each setting below names its variable.\n\
         # Uncomment a provider's table and the settings you need.\n",
    );
    for descriptor in gpucloud::providers() {
        let _ = write!(
            text,
            "\n# {} ({}): {}\n# [profiles.{profile}.{}]\n",
            descriptor.display_name, descriptor.name, descriptor.description, descriptor.name
        );
        for spec in descriptor.settings {
            text.push_str(&setting_lines(spec));
        }
    }
    text
}

/// A setting as comment lines: what it is, then `# key = value` with its default or a blank.
fn setting_lines(spec: &SettingSpec) -> String {
    let secret = if spec.secret { ", secret" } else { "" };
    let value = match (spec.default, spec.kind) {
        (Some(default), SettingKind::Integer | SettingKind::Number) => default.to_owned(),
        (Some(default), _) => toml_string(default),
        (None, _) => "\"\"".to_owned(),
    };
    format!(
        "# {} ({}{secret}; env {})\n# {} = {value}\n",
        spec.description, spec.kind, spec.env, spec.key
    )
}

/// `text` as a TOML basic string.
fn toml_string(text: &str) -> String {
    let mut quoted = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(quoted, "\\u{:04X}", u32::from(c));
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_is_all_comments_and_names_every_setting() {
        let text = template("work");
        assert!(
            text.lines().all(|l| l.is_empty() || l.starts_with('#')),
            "{text}"
        );
        for descriptor in gpucloud::providers() {
            assert!(text.contains(&format!("# [profiles.work.{}]", descriptor.name)));
            for spec in descriptor.settings {
                assert!(text.contains(&format!("# {} = ", spec.key)), "{}", spec.key);
                assert!(text.contains(spec.env), "{}", spec.env);
            }
        }
    }

    #[test]
    fn toml_strings_are_escaped() {
        assert_eq!(toml_string(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
