//! The CLI's error: what failed, why, what to do, and the exit status.

use std::fmt;

use gpucloud::{CloudError, ErrorKind};

/// Exit status 1: the operation failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit status 2: bad usage or bad input.
pub const EXIT_USAGE: u8 = 2;
/// Exit status 3: a partial answer; some providers answered (their answer is printed), others
/// failed (each reported).
pub const EXIT_PARTIAL: u8 = 3;

/// An error for people: one line saying what failed and why, and an optional hint line.
#[derive(Debug)]
pub struct CliError {
    /// The exit status.
    pub code: u8,
    /// What failed and why.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl CliError {
    /// Bad usage or input (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_USAGE,
            message: message.into(),
            hint: None,
        }
    }

    /// The operation failed (exit 1).
    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_FAILED,
            message: message.into(),
            hint: None,
        }
    }

    /// Adds a hint line.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Wraps a gpucloud error, saying what was being done (`context`, e.g. `create instance on lambda`).
    pub fn cloud(context: &str, error: &CloudError) -> Self {
        let code = match error {
            // The provider said the request was malformed: bad input too.
            CloudError::InvalidArgument { .. }
            | CloudError::Configuration { .. }
            | CloudError::NotImplemented { .. }
            | CloudError::Provider {
                kind: ErrorKind::InvalidArgument,
                ..
            } => EXIT_USAGE,
            _ => EXIT_FAILED,
        };
        let message = match error {
            CloudError::InvalidArgument { field, problem } => {
                format!("{context}: invalid {}: {problem}", flag_for_field(field))
            }
            CloudError::NotImplemented {
                provider,
                capability,
            } => {
                format!("{context}: provider {provider} does not support {capability}")
            }
            CloudError::Configuration { message } => format!("{context}: {message}"),
            other => format!("{context}: {other}"),
        };
        let hint = match error.kind() {
            ErrorKind::Unauthenticated | ErrorKind::PermissionDenied => Some(
                "check the provider's API key (`gpucloud providers` shows where it is read from)"
                    .to_owned(),
            ),
            ErrorKind::InsufficientCapacity => {
                Some("try another type or location (`gpucloud types --available`)".to_owned())
            }
            ErrorKind::QuotaExceeded => {
                Some("terminate unused instances or ask the provider for more quota".to_owned())
            }
            ErrorKind::RateLimited | ErrorKind::Unavailable | ErrorKind::Internal => {
                Some("this is likely temporary; try again in a minute".to_owned())
            }
            ErrorKind::InstanceNotFound => {
                Some("list instances with `gpucloud instances list`".to_owned())
            }
            _ => None,
        };
        Self {
            code,
            message,
            hint,
        }
    }
}

/// The CLI flag that sets a field of `CreateInstanceAttrs`, for error messages.
fn flag_for_field(field: &str) -> String {
    let head = field.split(['.', '[']).next().unwrap_or(field);
    let flag = match head {
        "public_key" => "--ssh-key",
        "firewall_rules" => "--open-port",
        "tags" => "--tag",
        "user_data_base64" => "--user-data",
        "name" => "--name",
        "ref_id" => "--ref-id",
        "location" => "--location",
        "instance_type" => "--type",
        "provider" => "--provider",
        _ => return format!("`{field}`"),
    };
    format!("{flag} ({field})")
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// Result of a command.
pub type CliResult<T = ()> = Result<T, CliError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_fields_name_the_flag() {
        let e = CliError::cloud(
            "create instance",
            &CloudError::invalid("firewall_rules.ingress_rules[0].from_port", "is 0"),
        );
        assert_eq!(e.code, EXIT_USAGE);
        assert!(e.message.contains("--open-port"), "{}", e.message);
        let e = CliError::cloud(
            "x",
            &CloudError::provider("lambda-labs", "get_instance", ErrorKind::Unavailable, "503"),
        );
        assert_eq!(e.code, EXIT_FAILED);
        assert!(e.hint.is_some());
    }
}
