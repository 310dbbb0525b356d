//! Desired state from callers: create and terminate requests, recorded before any provider
//! call; the reconcile loop carries them out.

use gpucloud::{CloudError, CreateFeatures, CreateInstanceAttrs, validate_create};

use crate::error::{FleetError, Result};
use crate::fleet::Fleet;
use crate::model::{Cause, CreateRequest, CreateTarget, Desired, InstanceRecord, Phase};
use crate::store::{Change, InstanceRow, NewEvent, millis, now_ms};

/// How many times a terminate request re-reads a row another writer changed meanwhile.
const WRITE_ATTEMPTS: usize = 5;

impl Fleet {
    /// Records a create request and returns its instance (phase `requested`); the reconcile
    /// loop sends it. Idempotent by RefID: the same request again returns the instance it
    /// made, whatever it has become; another request with a RefID in use is a `Conflict`. An
    /// empty RefID gets a generated one. The request is checked (fields, credential, target)
    /// before anything is recorded.
    pub async fn request_create(&self, request: CreateRequest) -> Result<InstanceRecord> {
        self.refuse_when_shutting_down()?;
        let mut request = request;
        if request.attrs.ref_id.is_empty() {
            request.attrs.ref_id = format!("fleet-{}", uuid::Uuid::new_v4().simple());
        }
        let (credential, provider, location, partition_key) = self.check_target(&request)?;
        let ref_id = request.attrs.ref_id.clone();
        let now = now_ms();
        let row = InstanceRow {
            id: 0,
            ref_id: ref_id.clone(),
            credential,
            provider,
            location,
            partition_key,
            cloud_id: None,
            desired: Desired::Running,
            phase: Phase::Requested,
            status: None,
            stale: false,
            first_seen_at: None,
            last_seen_at: None,
            price: None,
            tags: request.attrs.tags.clone(),
            model: None,
            request: Some(request.clone()),
            attempts: 0,
            next_run_at: now,
            sent_at: None,
            last_error: None,
            created_at: now,
            updated_at: now,
            expires_at: request.ttl.map(|ttl| now.saturating_add(millis(ttl))),
            version: 0,
        };
        let event = NewEvent {
            ref_id: ref_id.clone(),
            from: None,
            to: Phase::Requested.as_str().to_owned(),
            cause: Cause::CreateRequested,
            detail: None,
        };
        if let Some((row, event)) = self.inner.store.insert_new(&row, &event).await? {
            self.inner.publish(vec![event]);
            return Ok(row.to_record());
        }
        let existing =
            self.inner
                .store
                .instance(&ref_id)
                .await?
                .ok_or_else(|| FleetError::Conflict {
                    ref_id: ref_id.clone(),
                })?;
        if existing.request.as_ref() == Some(&request) {
            Ok(existing.to_record())
        } else {
            Err(FleetError::Conflict { ref_id })
        }
    }

    /// Asks for an instance to be terminated; the reconcile loop sends the terminate, again
    /// with backoff until the provider shows it gone (only then is it `terminated`).
    /// Idempotent: asking again changes nothing.
    pub async fn request_terminate(&self, ref_id: &str) -> Result<InstanceRecord> {
        self.refuse_when_shutting_down()?;
        for _ in 0..WRITE_ATTEMPTS {
            let row =
                self.inner
                    .store
                    .instance(ref_id)
                    .await?
                    .ok_or_else(|| FleetError::NotFound {
                        what: "instance",
                        id: ref_id.to_owned(),
                    })?;
            if row.desired == Desired::Terminated || !row.is_live() {
                return Ok(row.to_record());
            }
            let mut changed = row.clone();
            changed.desired = Desired::Terminated;
            changed.next_run_at = now_ms();
            changed.attempts = 0;
            let change = Change {
                row: changed,
                event: None,
            };
            self.inner.store.write(None, &[change]).await?;
            let after = self.inner.store.instance(ref_id).await?;
            if let Some(after) = after
                && after.desired == Desired::Terminated
            {
                return Ok(after.to_record());
            }
        }
        Err(FleetError::Busy {
            ref_id: ref_id.to_owned(),
        })
    }

    /// The credential, provider, location and status partition a request goes to (empty
    /// strings and no partition for a failover launch, until an offer is chosen).
    fn check_target(
        &self,
        request: &CreateRequest,
    ) -> Result<(String, String, String, Option<String>)> {
        let attrs = &request.attrs;
        match &request.target {
            CreateTarget::Explicit {
                credential,
                location,
                instance_type,
            } => {
                let watched = self.inner.watched.get(credential).ok_or_else(|| {
                    FleetError::invalid(
                        "target.credential",
                        format!(
                            "{credential:?} is not a watched credential (watched: {})",
                            self.inner
                                .watched
                                .keys()
                                .cloned()
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                })?;
                if location.is_empty() {
                    return Err(FleetError::invalid("target.location", "must not be empty"));
                }
                if instance_type.is_empty() {
                    return Err(FleetError::invalid(
                        "target.instance_type",
                        "must not be empty",
                    ));
                }
                check_attrs(&CreateInstanceAttrs {
                    location: location.clone(),
                    instance_type: instance_type.clone(),
                    ..attrs.clone()
                })?;
                Ok((
                    credential.clone(),
                    watched.config.provider.clone(),
                    location.clone(),
                    self.inner.partition_of(credential, location),
                ))
            }
            CreateTarget::Offers { credentials, .. } => {
                if let Some(unknown) = credentials
                    .iter()
                    .find(|c| !self.inner.watched.contains_key(c.as_str()))
                {
                    return Err(FleetError::invalid(
                        "target.credentials",
                        format!("{unknown:?} is not a watched credential"),
                    ));
                }
                check_attrs(&CreateInstanceAttrs {
                    location: "any".into(),
                    instance_type: "any".into(),
                    ..attrs.clone()
                })?;
                Ok((String::new(), String::new(), String::new(), None))
            }
        }
    }
}

/// The create's own fields, checked as every provider checks them (the provider's own
/// features are checked again when it is sent).
fn check_attrs(attrs: &CreateInstanceAttrs) -> Result<()> {
    validate_create(attrs, &CreateFeatures::ALL)
        .map(|_| ())
        .map_err(|error| match error {
            CloudError::InvalidArgument { field, problem } => {
                FleetError::invalid(format!("attrs.{field}"), problem)
            }
            other => FleetError::Cloud(other),
        })
}
