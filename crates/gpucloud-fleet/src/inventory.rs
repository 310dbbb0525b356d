//! The inventory loop: each credential's catalog, read through a client bound to no location
//! (which answers for every location in one round trip) and written to the store as a diff.

use gpucloud::GetInstanceTypeArgs;

use crate::credentials::{Watched, inventory_key};
use crate::error::{FleetError, Result};
use crate::fleet::{Inner, PassReport};
use crate::store::{CatalogEntry, PartitionOutcome, millis, now_ms};

impl Inner {
    /// One catalog read of `watched`.
    pub(crate) async fn inventory_pass(&self, watched: &Watched) -> Result<PassReport> {
        let key = inventory_key(watched.name());
        let Some(fence) = self.fence(&key, "inventory", watched.name(), "").await? else {
            return Ok(PassReport::default());
        };
        let interval = watched
            .config
            .inventory_interval
            .unwrap_or(self.config.inventory_interval);
        let answer = match watched.client("").await {
            Ok(client) => {
                watched
                    .call(
                        &self.metrics,
                        "instance_types",
                        client.instance_types(&GetInstanceTypeArgs::default()),
                    )
                    .await
            }
            Err(error) => Err(error),
        };
        let now = now_ms();
        let result = match answer {
            Ok(types) => {
                let entries: Vec<CatalogEntry> = types
                    .iter()
                    .filter_map(|entry| {
                        Some(CatalogEntry {
                            location: entry.location.as_str().to_owned(),
                            instance_type_id: entry.id.as_str().to_owned(),
                            instance_type: entry.type_name.as_str().to_owned(),
                            price: entry
                                .base_price
                                .as_ref()
                                .and_then(|p| serde_json::to_string(p).ok()),
                            available: entry.is_available,
                            entry: serde_json::to_string(entry).ok()?,
                        })
                    })
                    .collect();
                let diff = self
                    .store
                    .write_catalog(&fence, watched.name(), &watched.config.provider, &entries)
                    .await;
                match diff {
                    Ok(diff) => {
                        tracing::debug!(credential = %watched.name(), ?diff, "catalog written");
                        self.store
                            .finish_partition(
                                &fence,
                                PartitionOutcome::Ok {
                                    next_run_at: now.saturating_add(millis(interval)),
                                },
                                &[],
                            )
                            .await
                            .map(|_| PassReport {
                                inventories_read: 1,
                                ..PassReport::default()
                            })
                    }
                    Err(error) => Err(error),
                }
            }
            Err(error) => {
                let message = error.to_string();
                tracing::warn!(credential = %watched.name(), %error, "catalog read failed");
                let failures = self.store.partition_failures(&key).await?;
                self.store
                    .credential_error(watched.name(), &message)
                    .await?;
                self.store
                    .finish_partition(
                        &fence,
                        PartitionOutcome::Failed {
                            next_run_at: now.saturating_add(millis(Self::backoff(
                                self.config.status_interval,
                                failures.saturating_add(1),
                                interval.max(self.config.max_backoff),
                            ))),
                            error: &message,
                        },
                        &[],
                    )
                    .await
                    .map(|_| PassReport {
                        inventories_failed: 1,
                        ..PassReport::default()
                    })
            }
        };
        if let Err(FleetError::LeaseLost { .. }) = &result {
            self.lost(&key);
        }
        result
    }
}
