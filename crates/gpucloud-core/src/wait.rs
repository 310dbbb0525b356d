//! Waiting for an instance to reach a lifecycle status (v1 §9, with its gaps fixed).
//!
//! - Polls at the client's `instance_poll_time()` (or the interval given), the first poll at once.
//! - Transient and throttled read errors are retried until the deadline; the last one is kept.
//! - A not-found answer while waiting for `terminated` means the instance is gone: success.
//! - `failed`, or `terminating`/`terminated` while waiting for anything else, fails at once.
//! - On timeout the error carries the last instance seen.
//! - A cancellation token ends the wait with [`CloudError::Cancelled`].
//!
//! Only `tokio::time` is used, so tests run on a paused clock.

use std::time::Duration;

use tokio::time::Instant as TokioInstant;
use tokio_util::sync::CancellationToken;

use crate::client::CloudClient;
use crate::enums::LifecycleStatus;
use crate::error::{CloudError, ErrorKind, Result, Retry};
use crate::ids::InstanceId;
use crate::model::instance::{Instance, Status};

/// v1 `PendingToRunningTimeout`.
pub const PENDING_TO_RUNNING_TIMEOUT: Duration = Duration::from_secs(20 * 60);
/// v1 `RunningToStoppedTimeout`.
pub const RUNNING_TO_STOPPED_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// v1 `StoppedToRunningTimeout`.
pub const STOPPED_TO_RUNNING_TIMEOUT: Duration = Duration::from_secs(20 * 60);
/// v1 `RunningToTerminatedTimeout`.
pub const RUNNING_TO_TERMINATED_TIMEOUT: Duration = Duration::from_secs(20 * 60);
/// v1 `RunningSSHTimeout`.
pub const RUNNING_SSH_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// How long and how to wait.
#[derive(Debug, Clone)]
pub struct WaitOptions {
    /// Give up after this long.
    pub timeout: Duration,
    /// Poll this often; `None` uses the client's `instance_poll_time()`.
    pub poll_interval: Option<Duration>,
    /// Cancel the wait from elsewhere.
    pub cancel: Option<CancellationToken>,
}

impl WaitOptions {
    /// Wait up to `timeout` at the client's poll interval.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            poll_interval: None,
            cancel: None,
        }
    }

    /// The v1 default timeout for reaching `desired`.
    pub fn for_status(desired: LifecycleStatus) -> Self {
        Self::new(match desired {
            LifecycleStatus::Stopped | LifecycleStatus::Stopping => RUNNING_TO_STOPPED_TIMEOUT,
            LifecycleStatus::Terminated | LifecycleStatus::Terminating => {
                RUNNING_TO_TERMINATED_TIMEOUT
            }
            _ => PENDING_TO_RUNNING_TIMEOUT,
        })
    }

    /// Polls at `interval`.
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = Some(interval);
        self
    }

    /// Ends the wait when `token` is cancelled.
    pub fn with_cancel(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }
}

/// True when an instance in `status` can no longer reach `desired`.
fn cannot_reach(status: LifecycleStatus, desired: LifecycleStatus) -> bool {
    use LifecycleStatus::{Failed, Terminated, Terminating};
    match desired {
        Terminated => status == Failed,
        Terminating => matches!(status, Failed | Terminated),
        Failed => status == Terminated,
        _ => matches!(status, Failed | Terminated | Terminating),
    }
}

/// How many consecutive not-found answers are tolerated while waiting for a live status:
/// some APIs do not list an instance for a moment after accepting its create.
const NOT_FOUND_GRACE: u32 = 3;

/// Polls `id` until it reaches `desired`; see the module docs for the rules.
pub async fn wait_for_status(
    client: &dyn CloudClient,
    id: &InstanceId,
    desired: LifecycleStatus,
    options: WaitOptions,
) -> Result<Instance> {
    let interval = options
        .poll_interval
        .unwrap_or_else(|| client.instance_poll_time());
    let deadline = TokioInstant::now() + options.timeout;
    let mut last = Instance {
        cloud_id: id.clone(),
        ..Instance::default()
    };
    let mut last_error: Option<CloudError>;
    let mut not_found_in_a_row = 0;

    loop {
        let mut pause = interval;
        match client.get_instance(id).await {
            Ok(instance) => {
                last_error = None;
                not_found_in_a_row = 0;
                let status = instance.status.lifecycle_status;
                tracing::debug!(instance = %id, %status, %desired, "polled instance");
                if status == desired {
                    return Ok(instance);
                }
                if cannot_reach(status, desired) {
                    return Err(CloudError::Wait {
                        kind: ErrorKind::InstanceFailed,
                        desired,
                        last: Box::new(instance),
                        last_error: None,
                    });
                }
                last = instance;
            }
            Err(error) if error.is_not_found() => {
                if desired == LifecycleStatus::Terminated {
                    last.status = Status::new(LifecycleStatus::Terminated);
                    return Ok(last);
                }
                not_found_in_a_row += 1;
                if not_found_in_a_row >= NOT_FOUND_GRACE {
                    return Err(error);
                }
                last_error = Some(error);
            }
            Err(error) if error.is_retryable() => {
                tracing::debug!(instance = %id, %error, "transient error while waiting");
                if let Retry::Throttled { after: Some(after) } = error.retry() {
                    pause = pause.max(after);
                }
                last_error = Some(error);
            }
            Err(error) => return Err(error),
        }

        let now = TokioInstant::now();
        if now >= deadline {
            return Err(timeout_error(desired, last, last_error));
        }
        let wake = (now + pause).min(deadline);
        match &options.cancel {
            Some(token) => {
                tokio::select! {
                    () = token.cancelled() => return Err(CloudError::Cancelled),
                    () = tokio::time::sleep_until(wake) => {}
                }
            }
            None => tokio::time::sleep_until(wake).await,
        }
    }
}

fn timeout_error(
    desired: LifecycleStatus,
    last: Instance,
    last_error: Option<CloudError>,
) -> CloudError {
    CloudError::Wait {
        kind: ErrorKind::Timeout,
        desired,
        last: Box::new(last),
        last_error: last_error.map(Box::new),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::client::{CapabilityTable, CreateFeatures, Identity};
    use crate::enums::ApiType;
    use crate::filter::GetInstanceTypeArgs;
    use crate::location::{GetLocationsArgs, Location};
    use crate::model::instance::ListInstancesArgs;
    use crate::model::instance_type::InstanceType;
    use crate::validate::ValidCreate;

    /// Answers `get_instance` from a script; the last answer repeats.
    #[derive(Debug)]
    struct Scripted {
        identity: Identity,
        answers: Mutex<VecDeque<Result<LifecycleStatus>>>,
        polls: Mutex<u32>,
    }

    impl Scripted {
        fn new(answers: Vec<Result<LifecycleStatus>>) -> Self {
            Self {
                identity: Identity::new("test", ApiType::Global, "ref", ""),
                answers: Mutex::new(answers.into()),
                polls: Mutex::new(0),
            }
        }

        fn polls(&self) -> u32 {
            *self.polls.lock().unwrap()
        }
    }

    fn clone_answer(answer: &Result<LifecycleStatus>) -> Result<LifecycleStatus> {
        match answer {
            Ok(s) => Ok(*s),
            Err(e) => Err(
                CloudError::provider("test", "get_instance", e.kind(), "scripted")
                    .with_retry(e.retry()),
            ),
        }
    }

    #[async_trait]
    impl CloudClient for Scripted {
        fn identity(&self) -> &Identity {
            &self.identity
        }
        fn location(&self) -> &str {
            ""
        }
        fn capability_table(&self) -> CapabilityTable<'_> {
            CapabilityTable::NONE
        }
        fn create_features(&self) -> CreateFeatures {
            CreateFeatures::default()
        }
        async fn locations(&self, _: GetLocationsArgs) -> Result<Vec<Location>> {
            Ok(vec![])
        }
        async fn instance_types(&self, _: &GetInstanceTypeArgs) -> Result<Vec<InstanceType>> {
            Ok(vec![])
        }
        async fn create_instance(&self, _: ValidCreate) -> Result<Instance> {
            unreachable!("the waiter never creates")
        }
        async fn get_instance(&self, id: &InstanceId) -> Result<Instance> {
            *self.polls.lock().unwrap() += 1;
            let mut answers = self.answers.lock().unwrap();
            let answer = if answers.len() > 1 {
                answers.pop_front().unwrap()
            } else {
                clone_answer(&answers[0])
            };
            answer.map(|s| Instance {
                cloud_id: id.clone(),
                status: Status::new(s),
                ..Instance::default()
            })
        }
        async fn list_instances(&self, _: &ListInstancesArgs) -> Result<Vec<Instance>> {
            Ok(vec![])
        }
        async fn terminate_instance(&self, _: &InstanceId) -> Result<()> {
            Ok(())
        }
    }

    fn transient() -> CloudError {
        CloudError::provider("test", "get_instance", ErrorKind::Unavailable, "503")
    }

    fn id() -> InstanceId {
        InstanceId::new("i-1")
    }

    /// Waits for `desired` on instance `i-1` for `secs` at the client's poll interval.
    async fn wait_secs(client: &Scripted, desired: LifecycleStatus, secs: u64) -> Result<Instance> {
        wait_for_status(
            client,
            &id(),
            desired,
            WaitOptions::new(Duration::from_secs(secs)),
        )
        .await
    }

    #[tokio::test(start_paused = true)]
    async fn reaches_the_status() {
        use LifecycleStatus::{Pending, Running};
        let client = Scripted::new(vec![Ok(Pending), Ok(Pending), Ok(Running)]);
        let started = TokioInstant::now();
        let got = wait_secs(&client, Running, 60).await.unwrap();
        assert_eq!(got.lifecycle(), Running);
        assert_eq!(client.polls(), 3);
        assert_eq!(
            started.elapsed(),
            Duration::from_secs(10),
            "two pauses at the 5 s default"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn fails_fast_on_failed_and_on_terminated_while_waiting_for_running() {
        use LifecycleStatus::{Failed, Pending, Running, Terminated};
        for terminal in [Failed, Terminated] {
            let client = Scripted::new(vec![Ok(Pending), Ok(terminal)]);
            let err = wait_secs(&client, Running, 600).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InstanceFailed);
            assert_eq!(client.polls(), 2, "no polling after {terminal}");
            match err {
                CloudError::Wait { last, .. } => assert_eq!(last.lifecycle(), terminal),
                other => panic!("unexpected {other}"),
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn times_out_with_the_last_state() {
        use LifecycleStatus::{Pending, Running};
        let client = Scripted::new(vec![Ok(Pending)]);
        let err = wait_for_status(
            &client,
            &id(),
            Running,
            WaitOptions::new(Duration::from_secs(12)).with_poll_interval(Duration::from_secs(5)),
        )
        .await
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout);
        assert!(
            err.to_string().contains("last known status: pending"),
            "{err}"
        );
        match err {
            CloudError::Wait { last, desired, .. } => {
                assert_eq!(last.lifecycle(), Pending);
                assert_eq!(desired, Running);
            }
            other => panic!("unexpected {other}"),
        }
        assert_eq!(client.polls(), 4, "polls at 0, 5, 10 and the deadline");
    }

    #[tokio::test(start_paused = true)]
    async fn survives_transient_errors() {
        use LifecycleStatus::{Pending, Running};
        let client = Scripted::new(vec![
            Ok(Pending),
            Err(transient()),
            Err(transient()),
            Ok(Running),
        ]);
        let got = wait_secs(&client, Running, 60).await.unwrap();
        assert_eq!(got.lifecycle(), Running);
    }

    #[tokio::test(start_paused = true)]
    async fn timeout_keeps_the_last_error() {
        let client = Scripted::new(vec![Err(transient())]);
        let err = wait_secs(&client, LifecycleStatus::Running, 20)
            .await
            .unwrap_err();
        match err {
            CloudError::Wait {
                kind: ErrorKind::Timeout,
                last_error: Some(e),
                ..
            } => {
                assert_eq!(e.kind(), ErrorKind::Unavailable);
            }
            other => panic!("unexpected {other}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_errors_end_the_wait() {
        let denied = CloudError::provider(
            "test",
            "get_instance",
            ErrorKind::Unauthenticated,
            "bad key",
        );
        let client = Scripted::new(vec![Err(denied)]);
        let err = wait_secs(&client, LifecycleStatus::Running, 60)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthenticated);
        assert_eq!(client.polls(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn gone_counts_as_terminated_but_not_as_running() {
        let gone = || CloudError::instance_not_found("test", "get_instance", "i-1");
        let client = Scripted::new(vec![Ok(LifecycleStatus::Terminating), Err(gone())]);
        let got = wait_secs(&client, LifecycleStatus::Terminated, 60)
            .await
            .unwrap();
        assert_eq!(got.lifecycle(), LifecycleStatus::Terminated);

        let client = Scripted::new(vec![Err(gone())]);
        let err = wait_secs(&client, LifecycleStatus::Running, 600)
            .await
            .unwrap_err();
        assert!(err.is_not_found());
        assert_eq!(client.polls(), NOT_FOUND_GRACE);
    }

    #[tokio::test(start_paused = true)]
    async fn honours_cancellation() {
        let client = Scripted::new(vec![Ok(LifecycleStatus::Pending)]);
        let token = CancellationToken::new();
        let canceller = token.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(7)).await;
            canceller.cancel();
        });
        let started = TokioInstant::now();
        let err = wait_for_status(
            &client,
            &id(),
            LifecycleStatus::Running,
            WaitOptions::new(Duration::from_secs(600)).with_cancel(token),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, CloudError::Cancelled));
        assert_eq!(started.elapsed(), Duration::from_secs(7));
    }

    #[test]
    fn v1_default_timeouts() {
        assert_eq!(
            WaitOptions::for_status(LifecycleStatus::Running).timeout,
            PENDING_TO_RUNNING_TIMEOUT
        );
        assert_eq!(
            WaitOptions::for_status(LifecycleStatus::Stopped).timeout,
            RUNNING_TO_STOPPED_TIMEOUT
        );
        assert_eq!(
            WaitOptions::for_status(LifecycleStatus::Terminated).timeout,
            RUNNING_TO_TERMINATED_TIMEOUT
        );
    }
}
