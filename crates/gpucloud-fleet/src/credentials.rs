//! A watched credential at run time: its clients (one per location, made once) through the
//! credential's rate limiter, with each call counted in the metrics.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use gpucloud::{ApiType, CloudClient, CloudCredential, CloudError};
use tokio::sync::Mutex;

use crate::config::FleetCredential;
use crate::limits::LimitedCredential;
use crate::metrics::Metrics;

/// The location a status partition of this credential covers for instances in `location`:
/// a global provider lists every location in one call, so it has one partition.
pub(crate) fn partition_location(api_type: ApiType, location: &str) -> &str {
    match api_type {
        ApiType::Global => "",
        ApiType::Locational => location,
    }
}

/// The key of the status partition of `credential` at `location`.
pub(crate) fn status_key(credential: &str, location: &str) -> String {
    format!("status/{credential}/{location}")
}

/// The key of the inventory partition of `credential`.
pub(crate) fn inventory_key(credential: &str) -> String {
    format!("inventory/{credential}")
}

/// A credential with its limited clients.
pub(crate) struct Watched {
    pub config: FleetCredential,
    /// The credential behind its limiter: every client, the launch's included, is made from it.
    pub limited: Arc<LimitedCredential>,
    clients: Mutex<HashMap<String, Arc<dyn CloudClient>>>,
}

impl std::fmt::Debug for Watched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watched")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Watched {
    pub fn new(config: FleetCredential, metrics: Arc<Metrics>) -> Self {
        Self {
            limited: Arc::new(LimitedCredential::new(&config, metrics)),
            config,
            clients: Mutex::new(HashMap::new()),
        }
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    pub fn api_type(&self) -> ApiType {
        self.config.credential.identity().api_type()
    }

    /// The client bound to `location`, made on first use.
    pub async fn client(&self, location: &str) -> Result<Arc<dyn CloudClient>, CloudError> {
        let mut clients = self.clients.lock().await;
        if let Some(client) = clients.get(location) {
            return Ok(client.clone());
        }
        let client = self.limited.make_client(location).await?;
        clients.insert(location.to_owned(), client.clone());
        Ok(client)
    }

    /// Runs one provider call (its client waits for the limiter) and counts it.
    pub async fn call<T, F>(
        &self,
        metrics: &Metrics,
        operation: &'static str,
        call: F,
    ) -> Result<T, CloudError>
    where
        F: Future<Output = Result<T, CloudError>>,
    {
        let result = call.await;
        let outcome = match &result {
            Ok(_) => "ok".to_owned(),
            Err(error) => snake_case(&format!("{:?}", error.kind())),
        };
        metrics.call(&self.config.provider, operation, &outcome);
        result
    }
}

/// `InsufficientCapacity` → `insufficient_capacity`.
fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kinds_become_snake_case_labels() {
        assert_eq!(snake_case("InsufficientCapacity"), "insufficient_capacity");
        assert_eq!(snake_case("Timeout"), "timeout");
    }

    #[test]
    fn a_global_provider_has_one_status_partition() {
        assert_eq!(partition_location(ApiType::Global, "us-east-1"), "");
        assert_eq!(
            partition_location(ApiType::Locational, "us-east-1"),
            "us-east-1"
        );
    }
}
