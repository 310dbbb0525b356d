//! Quota marks on offers: for a provider with the quota capability, the quota of each distinct
//! quota group among the offers about to be shown is read once per location, concurrently,
//! and every offer of that group and location is marked with it.
//!
//! Quotas are read with the catalog they mark and never cached: the current use changes with
//! every launch and terminate, and a stale "over quota" would make a launch skip an offer that
//! fits. Offers answered from the catalog cache therefore carry no mark.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use gpucloud_core::{CloudClientExt, CloudCredential, GetInstanceTypeQuotasArgs, Quota};
use serde::{Deserialize, Serialize};

use super::{Offer, OfferSource};

/// The quota an offer counts against, as read when the offers were fetched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferQuota {
    /// The provider's id of the quota (AWS: the Service Quotas code).
    pub id: String,
    /// Its human name.
    pub name: String,
    /// What is counted, e.g. `vCPU`, `instances` or `gpus`.
    pub unit: String,
    /// The limit.
    pub limit: i64,
    /// What the account uses of it now.
    pub current: i64,
    /// What one instance of this offer takes of it.
    pub needed: i64,
    /// One more instance of this offer fits: `needed <= limit - current`.
    pub fits: bool,
}

impl fmt::Display for OfferQuota {
    /// `Running On-Demand P instances (L-417A185B): 200 of 384 vCPU in use, one instance needs 192`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {} of {} {} in use, one instance needs {}",
            self.name, self.id, self.current, self.limit, self.unit, self.needed
        )
    }
}

impl OfferQuota {
    /// The mark `quota` gives `offer`; `None` when the quota counts a unit whose amount per
    /// instance is not known (the offer stays unmarked rather than guessed at).
    fn of(offer: &Offer, quota: &Quota) -> Option<Self> {
        let unit = quota.unit.trim().to_ascii_lowercase();
        let needed = match unit.trim_end_matches('s') {
            "vcpu" | "cpu" | "core" => i64::from(offer.vcpus),
            "gpu" => i64::from(offer.gpu_count()),
            "instance" => 1,
            _ => return None,
        };
        Some(Self {
            id: quota.id.clone(),
            name: quota.name.clone(),
            unit: quota.unit.clone(),
            limit: quota.maximum,
            current: quota.current,
            needed,
            fits: needed <= quota.maximum.saturating_sub(quota.current),
        })
    }
}

/// What a quota marks: provider, location, instance type.
type OfferKey = (String, String, String);

/// Marks the on-demand `offers` of every source with the quota capability; each provider's
/// reads together are bounded by `deadline` (what is left of the query's). A quota that cannot be read (error, timeout,
/// unknown unit) leaves its offers unmarked and fails nothing.
pub(super) async fn mark(sources: &[&OfferSource], offers: &mut [Offer], deadline: Duration) {
    // Per provider, per location: the type names on offer there.
    let mut wanted: BTreeMap<&str, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for offer in offers.iter().filter(|o| !o.spot) {
        wanted
            .entry(offer.provider.as_str())
            .or_default()
            .entry(offer.location.clone())
            .or_default()
            .insert(offer.instance_type.clone());
    }
    let asks: Vec<_> = wanted
        .into_iter()
        .filter_map(|(provider, locations)| {
            let source = sources.iter().find(|s| s.name == provider)?;
            Some(provider_quotas(
                provider.to_owned(),
                Arc::clone(&source.credential),
                locations,
                deadline,
            ))
        })
        .collect();
    let read: HashMap<OfferKey, Arc<Quota>> = join_all(asks).await.into_iter().flatten().collect();
    if read.is_empty() {
        return;
    }
    for offer in offers.iter_mut().filter(|o| !o.spot) {
        let key = (
            offer.provider.clone(),
            offer.location.clone(),
            offer.instance_type.clone(),
        );
        offer.quota = read
            .get(&key)
            .and_then(|quota| OfferQuota::of(offer, quota));
    }
}

/// The quotas of one provider for the types of each location, read concurrently within
/// `deadline`; nothing for a provider without the quota capability.
async fn provider_quotas(
    provider: String,
    credential: Arc<dyn CloudCredential>,
    locations: BTreeMap<String, BTreeSet<String>>,
    deadline: Duration,
) -> Vec<(OfferKey, Arc<Quota>)> {
    let work = async {
        // The catalog was just read through such a client, so making one costs no round trip.
        let client = match credential.make_client("").await {
            Ok(client) => client,
            Err(error) => {
                tracing::debug!(%provider, %error, "no client to read quotas with");
                return Vec::new();
            }
        };
        let Ok(quotas) = client.quota() else {
            return Vec::new();
        };
        let mut asks = Vec::new();
        for (location, types) in locations {
            // The types of each group, so that the group is asked about once.
            let mut groups: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for name in types {
                if let Some(group) = quotas.quota_group(&name) {
                    groups.entry(group).or_default().insert(name);
                }
            }
            for (group, types) in groups {
                asks.push(location_quota(
                    provider.clone(),
                    Arc::clone(&credential),
                    location.clone(),
                    group,
                    types,
                ));
            }
        }
        join_all(asks).await.into_iter().flatten().collect()
    };
    tokio::time::timeout(deadline, work)
        .await
        .unwrap_or_else(|_| {
            tracing::debug!(%provider, ?deadline, "quotas not read in time; offers left unmarked");
            Vec::new()
        })
}

/// One quota group's quota in one location, asked about through one of its types.
async fn location_quota(
    provider: String,
    credential: Arc<dyn CloudCredential>,
    location: String,
    group: String,
    types: BTreeSet<String>,
) -> Vec<(OfferKey, Arc<Quota>)> {
    let Some(instance_type) = types.first().cloned() else {
        return Vec::new();
    };
    let answer = async {
        let client = credential.make_client(&location).await?;
        client
            .quota()?
            .instance_type_quota(&GetInstanceTypeQuotasArgs { instance_type })
            .await
    }
    .await;
    match answer {
        Ok(quota) => {
            let quota = Arc::new(quota);
            types
                .into_iter()
                .map(|name| {
                    (
                        (provider.clone(), location.clone(), name),
                        Arc::clone(&quota),
                    )
                })
                .collect()
        }
        Err(error) => {
            tracing::debug!(%provider, %location, %group, %error, "quota not read; offers left unmarked");
            Vec::new()
        }
    }
}
