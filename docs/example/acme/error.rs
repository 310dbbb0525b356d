mod error {
    //! The one classifier: the core status table, changed only where Acme's structured error
    //! code says more. Never by message text: messages change without notice.

    use gpucloud::ErrorKind;
    use gpucloud_http::{Classification, HeaderMap, StatusCode};

    use crate::wire;

    pub fn classify(status: StatusCode, _headers: &HeaderMap, body: &[u8]) -> Classification {
        let by_status = Classification::from_status(status);
        // A body that is not Acme's error shape (a proxy's HTML page) keeps the status's row.
        let Ok(wire::ErrorBody { error }) = serde_json::from_slice::<wire::ErrorBody>(body) else {
            return by_status;
        };
        let kind = match error.code.as_str() {
            "invalid_api_key" => Some(ErrorKind::Unauthenticated),
            "forbidden" => Some(ErrorKind::PermissionDenied),
            "not_found" => Some(ErrorKind::ResourceNotFound),
            "no_capacity" => Some(ErrorKind::InsufficientCapacity),
            "quota_exceeded" => Some(ErrorKind::QuotaExceeded),
            "invalid_request" => Some(ErrorKind::InvalidArgument),
            _ => None,
        };
        let classified = match kind {
            // A 429 stays throttling whatever its code says.
            Some(kind) if status != StatusCode::TOO_MANY_REQUESTS => {
                by_status.with_kind(kind).with_retry(kind.default_retry())
            }
            _ => by_status,
        };
        classified.with_code(error.code).with_message(error.message)
    }
}
