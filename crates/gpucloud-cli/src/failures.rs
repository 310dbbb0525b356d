//! Answers that span providers: every provider that failed is reported once (on stderr, and in
//! the `failures` list of the JSON), every other provider's answer is printed, and a partial
//! answer exits with its own status ([`EXIT_PARTIAL`]).

use gpucloud::offers::ProviderFailure;
use serde::Serialize;

use crate::error::{CliError, CliResult, EXIT_PARTIAL, EXIT_USAGE};
use crate::output::Out;

/// A provider that did not answer, as the `failures` list of every JSON output that spans
/// providers holds it.
#[derive(Debug, Serialize)]
pub struct FailureJson<'a> {
    /// The provider's short name.
    provider: &'a str,
    /// The error kind, e.g. `Unauthenticated` or `Configuration`.
    kind: String,
    /// What went wrong.
    message: String,
}

impl<'a> From<&'a ProviderFailure> for FailureJson<'a> {
    fn from(failure: &'a ProviderFailure) -> Self {
        Self {
            provider: &failure.provider,
            kind: format!("{:?}", failure.error.kind()),
            message: failure.error.to_string(),
        }
    }
}

/// The `failures` list of a JSON output.
pub fn json(failures: &[ProviderFailure]) -> Vec<FailureJson<'_>> {
    failures.iter().map(FailureJson::from).collect()
}

/// One line for a provider that failed while doing `what` (e.g. `list instances`).
fn text(what: &str, failure: &ProviderFailure) -> String {
    CliError::cloud(&format!("{what} of {}", failure.provider), &failure.error).message
}

/// Prints one warning per failure on stderr (for a command whose status they do not decide).
pub fn warn_each(out: Out, what: &str, failures: &[ProviderFailure]) {
    for failure in failures {
        out.warn(&text(what, failure));
    }
}

/// Reports the failures of a command that asked `answered` providers successfully, after its
/// answer is printed, and returns its result (see [`outcome`]). A lone provider that failed is
/// the command's error, with its hint; otherwise each failure is one warning on stderr.
pub fn conclude(out: Out, what: &str, failures: &[ProviderFailure], answered: usize) -> CliResult {
    if let [only] = failures
        && answered == 0
    {
        return Err(CliError::cloud(
            &format!("{what} of {}", only.provider),
            &only.error,
        ));
    }
    warn_each(out, what, failures);
    outcome(what, failures, answered)
}

/// The result of a command that asked `answered` providers successfully and saw `failures`:
/// success when nothing failed; [`EXIT_PARTIAL`] when some answered; when none did, a failure
/// (bad input, exit 2, when every one is configured wrongly; else exit 1).
fn outcome(what: &str, failures: &[ProviderFailure], answered: usize) -> CliResult {
    if failures.is_empty() {
        return Ok(());
    }
    let mut names: Vec<&str> = failures.iter().map(|f| f.provider.as_str()).collect();
    names.dedup();
    let names = names.join(", ");
    if answered > 0 {
        return Err(CliError {
            code: EXIT_PARTIAL,
            message: format!(
                "partial answer: {names} failed ({what}); the other providers' answer is printed"
            ),
            hint: None,
        });
    }
    let all_input = failures
        .iter()
        .all(|f| CliError::cloud(what, &f.error).code == EXIT_USAGE);
    let error = CliError::failed(format!("{what}: no provider answered ({names} failed)"));
    Err(if all_input {
        CliError {
            code: EXIT_USAGE,
            ..error
        }
        .hint("`gpucloud providers` shows what each provider needs")
    } else {
        error
    })
}

#[cfg(test)]
mod tests {
    use gpucloud::{CloudError, ErrorKind};

    use super::*;

    fn failure(provider: &str, error: CloudError) -> ProviderFailure {
        ProviderFailure {
            provider: provider.to_owned(),
            error,
        }
    }

    #[test]
    fn partial_none_and_misconfigured_have_their_own_statuses() {
        assert!(outcome("list", &[], 2).is_ok());
        let down = failure(
            "lambda",
            CloudError::provider("lambda-labs", "list", ErrorKind::Unauthenticated, "401"),
        );
        let half = failure(
            "fluidstack",
            CloudError::configuration("FLUIDSTACK_PROJECT_ID is not set"),
        );
        let partial = outcome("list", std::slice::from_ref(&down), 1).unwrap_err();
        assert_eq!(partial.code, EXIT_PARTIAL);
        assert!(partial.message.contains("lambda"), "{}", partial.message);
        assert_eq!(
            outcome("list", std::slice::from_ref(&down), 0)
                .unwrap_err()
                .code,
            crate::error::EXIT_FAILED
        );
        assert_eq!(
            outcome("list", std::slice::from_ref(&half), 0)
                .unwrap_err()
                .code,
            EXIT_USAGE
        );
        assert_eq!(
            outcome("list", &[half, down], 0).unwrap_err().code,
            crate::error::EXIT_FAILED
        );
    }
}
