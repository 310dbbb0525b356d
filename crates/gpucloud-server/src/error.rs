//! Errors: the service's own (start-up), and a request's, each answered with one status and a
//! JSON body naming the field and the problem.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gpucloud_fleet::FleetError;
use serde::Serialize;

/// Why the service could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// A setting is wrong.
    #[error("invalid {field}: {problem}")]
    Invalid {
        /// The setting (`addr`, `token`, `token_file`).
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The address could not be bound or the connection loop failed.
    #[error("cannot serve on {addr}: {source}")]
    Io {
        /// The address.
        addr: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The engine failed (opening its database, or its loops).
    #[error(transparent)]
    Fleet(#[from] FleetError),
}

impl ServeError {
    /// An `Invalid` error on `field`.
    pub fn invalid(field: &'static str, problem: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            problem: problem.into(),
        }
    }
}

/// A request's failure, as the API answers it.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

/// The JSON body of every error answer.
#[derive(Debug, Serialize)]
struct ErrorBody {
    /// A stable word: `invalid`, `not_found`, `conflict`, `unavailable`, `cloud`.
    error: &'static str,
    /// The field at fault, for `invalid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    /// What went wrong, for people.
    message: String,
    /// True when the same request may work later unchanged.
    retryable: bool,
}

impl ApiError {
    /// 400: `field` is wrong.
    pub fn invalid(field: impl Into<String>, problem: impl std::fmt::Display) -> Self {
        let field = field.into();
        Self {
            status: StatusCode::BAD_REQUEST,
            body: ErrorBody {
                error: "invalid",
                message: format!("invalid {field}: {problem}"),
                field: Some(field),
                retryable: false,
            },
        }
    }

    /// 503: the database cannot be read or written right now.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            body: ErrorBody {
                error: "unavailable",
                field: None,
                message: message.into(),
                retryable: true,
            },
        }
    }

    /// The field at fault, for a 400.
    pub fn field(&self) -> Option<&str> {
        self.body.field.as_deref()
    }

    /// What went wrong, for people.
    pub fn message(&self) -> &str {
        &self.body.message
    }

    /// The status answered.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<FleetError> for ApiError {
    fn from(error: FleetError) -> Self {
        let retryable = error.is_retryable();
        let (status, word, field) = match &error {
            FleetError::Invalid { field, .. } => {
                (StatusCode::BAD_REQUEST, "invalid", Some(field.clone()))
            }
            FleetError::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found", None),
            FleetError::Conflict { .. } => (StatusCode::CONFLICT, "conflict", None),
            FleetError::Cloud(_) => (StatusCode::BAD_GATEWAY, "cloud", None),
            // Database down or locked, shutting down, busy rows, a lost lease, and anything
            // added later: nothing was recorded, and the same request may work later.
            _ => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", None),
        };
        if status == StatusCode::SERVICE_UNAVAILABLE {
            tracing::warn!(%error, "request refused: the fleet is unavailable");
        }
        Self {
            status,
            body: ErrorBody {
                error: word,
                field,
                message: error.to_string(),
                retryable,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        response
    }
}
