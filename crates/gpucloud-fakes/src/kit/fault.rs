//! Fault injection shared by every fake: what can go wrong, which requests it hits, and the
//! decision a server (axum or tonic) asks for before it runs a request.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

/// A fake's classification of its requests (each fake maps method and path, or gRPC method,
/// to its own enum), so that a fault can be aimed at some requests only.
pub trait OperationClass: Copy + Eq + fmt::Debug + Send + Sync + 'static {
    /// The class that stands for every request, including unclassified ones.
    const ANY: Self;

    /// Whether a fault aimed at `self` hits a request classified as `request` (`None` for a
    /// request that is none of the fake's operations).
    fn matches(self, request: Option<Self>) -> bool {
        self == Self::ANY || request == Some(self)
    }
}

/// A fault a fake injects into matching requests.
///
/// `times` is the number of matching requests the fault hits; after that it is used up.
/// [`Fault::Latency`] has no count: it stays until [`Faults::clear`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault<O> {
    /// Delay every matching response by this much (on top of the server's base latency).
    Latency(Duration),
    /// Answer `429 Too Many Requests` with `Retry-After: retry_after_secs` and the API's
    /// error body, without running the request.
    RateLimited {
        /// Value of the `Retry-After` header, in seconds.
        retry_after_secs: u64,
        /// How many matching requests to throttle.
        times: u32,
    },
    /// Answer with this status (500, 502, 503, ...) and the API's error body, without
    /// running the request.
    ServerError {
        /// HTTP status; values outside 100..=999 are sent as 500.
        status: u16,
        /// How many matching requests to fail.
        times: u32,
    },
    /// Close the connection without sending any response, without running the request.
    ConnectionReset {
        /// How many matching requests to drop.
        times: u32,
    },
    /// Answer `200 OK` with a JSON content type and a truncated, unparseable body, without
    /// running the request.
    MalformedJson {
        /// How many matching requests to answer with broken JSON.
        times: u32,
    },
    /// Run the request (the state change happens), then close the connection without
    /// sending the response. Only requests of `operation` are hit.
    CommitThenDropResponse {
        /// Which requests to hit, e.g. a launch or a terminate.
        operation: O,
        /// How many matching requests to hit.
        times: u32,
    },
}

impl<O: OperationClass> Fault<O> {
    /// The operation a fault set with [`Faults::set`] is aimed at: its own for
    /// commit-then-drop, every request otherwise.
    fn default_target(&self) -> O {
        match self {
            Fault::CommitThenDropResponse { operation, .. } => *operation,
            _ => O::ANY,
        }
    }

    fn times(&self) -> Option<u32> {
        match self {
            Fault::Latency(_) => None,
            Fault::RateLimited { times, .. }
            | Fault::ServerError { times, .. }
            | Fault::ConnectionReset { times }
            | Fault::MalformedJson { times }
            | Fault::CommitThenDropResponse { times, .. } => Some(*times),
        }
    }

    /// What this fault does to a request, or `None` for latency.
    fn injection(&self) -> Option<Injection> {
        match *self {
            Fault::Latency(_) => None,
            Fault::RateLimited {
                retry_after_secs, ..
            } => Some(Injection::RateLimited { retry_after_secs }),
            Fault::ServerError { status, .. } => Some(Injection::ServerError { status }),
            Fault::ConnectionReset { .. } => Some(Injection::ConnectionReset),
            Fault::MalformedJson { .. } => Some(Injection::MalformedBody),
            Fault::CommitThenDropResponse { .. } => Some(Injection::CommitThenDrop),
        }
    }
}

/// One kind of fault the random mode ([`Faults::random`]) draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// Delay the response by this much.
    Latency(Duration),
    /// `429` with this `Retry-After`.
    RateLimited {
        /// Value of the `Retry-After` header, in seconds.
        retry_after_secs: u64,
    },
    /// An error response with this status.
    ServerError {
        /// HTTP status.
        status: u16,
    },
    /// Connection closed without a response.
    ConnectionReset,
    /// `200` with an unparseable body.
    MalformedBody,
    /// The request runs, then the connection closes without the response.
    CommitThenDrop,
}

/// What a server does with one request instead of (or after) answering it normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Injection {
    /// Answer `429` with `Retry-After` (gRPC: `RESOURCE_EXHAUSTED`) without running it.
    RateLimited {
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// Answer this status (gRPC: `UNAVAILABLE` or `INTERNAL`) without running it.
    ServerError {
        /// HTTP status.
        status: u16,
    },
    /// Close the connection without an answer, without running it.
    ConnectionReset,
    /// Answer success with a body that does not parse, without running it.
    MalformedBody,
    /// Run it, then close the connection instead of answering.
    CommitThenDrop,
}

/// How many requests each kind of [`Injection`] hit (explicit and random faults alike), so a
/// campaign driving a fake's own faults can report them by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct InjectedCounts {
    /// [`Injection::RateLimited`].
    pub rate_limited: u64,
    /// [`Injection::ServerError`], every status.
    pub server_errors: u64,
    /// [`Injection::ConnectionReset`].
    pub resets: u64,
    /// [`Injection::MalformedBody`].
    pub malformed: u64,
    /// [`Injection::CommitThenDrop`].
    pub commit_then_drop: u64,
}

impl InjectedCounts {
    fn record(&mut self, injection: Injection) {
        let count = match injection {
            Injection::RateLimited { .. } => &mut self.rate_limited,
            Injection::ServerError { .. } => &mut self.server_errors,
            Injection::ConnectionReset => &mut self.resets,
            Injection::MalformedBody => &mut self.malformed,
            Injection::CommitThenDrop => &mut self.commit_then_drop,
        };
        *count += 1;
    }
}

/// The fault decision for one request: how long to wait first, and what to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Decision {
    /// Extra delay before the request is handled.
    pub delay: Duration,
    /// What replaces (or follows) the normal handling, if anything.
    pub injection: Option<Injection>,
}

#[derive(Debug)]
struct ActiveFault<O> {
    target: O,
    fault: Fault<O>,
    remaining: Option<u32>,
}

impl<O: OperationClass> ActiveFault<O> {
    fn hits(&self, op: Option<O>) -> bool {
        if !self.target.matches(op) {
            return false;
        }
        if let Fault::CommitThenDropResponse { operation, .. } = &self.fault
            && !operation.matches(op)
        {
            return false;
        }
        self.remaining != Some(0)
    }
}

struct RandomMode {
    rng: StdRng,
    rate: f64,
    kinds: Vec<FaultKind>,
}

impl fmt::Debug for RandomMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RandomMode")
            .field("rate", &self.rate)
            .field("kinds", &self.kinds)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Table<O> {
    faults: Vec<ActiveFault<O>>,
    random: Option<RandomMode>,
    injected: u64,
    by_kind: InjectedCounts,
}

/// The faults set on one fake: explicit switches, each aimed at an operation class with a
/// count, and an optional seeded random mode for fault campaigns.
///
/// Cheap to clone; clones share the same switches. A REST fake applies the decision through
/// [`crate::kit::RestApi`]; a gRPC fake calls [`Faults::take`] at the start of each call and
/// maps the [`Injection`] to a status.
pub struct Faults<O> {
    table: Arc<Mutex<Table<O>>>,
}

impl<O> Clone for Faults<O> {
    fn clone(&self) -> Self {
        Self {
            table: Arc::clone(&self.table),
        }
    }
}

impl<O: OperationClass> fmt::Debug for Faults<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Faults")
            .field("table", &*self.lock())
            .finish()
    }
}

impl<O: OperationClass> Default for Faults<O> {
    fn default() -> Self {
        Self::new()
    }
}

impl<O: OperationClass> Faults<O> {
    /// No faults.
    pub fn new() -> Self {
        Self {
            table: Arc::new(Mutex::new(Table {
                faults: Vec::new(),
                random: None,
                injected: 0,
                by_kind: InjectedCounts::default(),
            })),
        }
    }

    /// A random mode from the start: see [`Faults::set_random`].
    pub fn random(seed: u64, rate: f64, kinds: &[FaultKind]) -> Self {
        let faults = Self::new();
        faults.set_random(seed, rate, kinds);
        faults
    }

    fn lock(&self) -> MutexGuard<'_, Table<O>> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Injects a fault into the next matching requests: every request, except
    /// [`Fault::CommitThenDropResponse`], which is aimed at its own operation.
    pub fn set(&self, fault: Fault<O>) {
        let target = fault.default_target();
        self.set_for(target, fault);
    }

    /// Injects a fault into the next requests of one operation only.
    pub fn set_for(&self, operation: O, fault: Fault<O>) {
        let remaining = fault.times();
        if remaining == Some(0) {
            return;
        }
        self.lock().faults.push(ActiveFault {
            target: operation,
            fault,
            remaining,
        });
    }

    /// Hits every request not already hit by an explicit fault with probability `rate`
    /// (clamped to 0..=1) with a kind drawn uniformly from `kinds`. The same seed and the
    /// same request sequence give the same faults, so a failing campaign can be replayed.
    pub fn set_random(&self, seed: u64, rate: f64, kinds: &[FaultKind]) {
        let rate = if rate.is_nan() {
            0.0
        } else {
            rate.clamp(0.0, 1.0)
        };
        self.lock().random = Some(RandomMode {
            rng: StdRng::seed_from_u64(seed),
            rate,
            kinds: kinds.to_vec(),
        });
    }

    /// Removes every fault, including latency and the random mode.
    pub fn clear(&self) {
        let mut table = self.lock();
        table.faults.clear();
        table.random = None;
    }

    /// How many requests a fault (explicit or random) has hit so far, latency excluded.
    pub fn injected_count(&self) -> u64 {
        self.lock().injected
    }

    /// [`Faults::injected_count`] by kind of injection.
    pub fn injected_counts(&self) -> InjectedCounts {
        self.lock().by_kind
    }

    /// Decides what happens to one request classified as `op`, using up one hit of the fault
    /// that applies. Faults that replace the request win over commit-then-drop, then the
    /// first set wins; latency always adds up. The random mode only applies when no explicit
    /// fault did.
    pub fn take(&self, op: Option<O>) -> Decision {
        let mut table = self.lock();
        let mut delay: Duration = table
            .faults
            .iter()
            .filter(|f| f.hits(op))
            .filter_map(|f| match f.fault {
                Fault::Latency(d) => Some(d),
                _ => None,
            })
            .sum();
        let replacing = table.faults.iter().position(|f| {
            f.hits(op)
                && !matches!(
                    f.fault,
                    Fault::Latency(_) | Fault::CommitThenDropResponse { .. }
                )
        });
        let index = replacing.or_else(|| {
            table
                .faults
                .iter()
                .position(|f| f.hits(op) && matches!(f.fault, Fault::CommitThenDropResponse { .. }))
        });
        let mut injection = None;
        if let Some(index) = index {
            injection = table.faults[index].fault.injection();
            use_once(&mut table.faults, index);
        } else if let Some(random) = table.random.as_mut()
            && !random.kinds.is_empty()
            && random.rng.random_bool(random.rate)
        {
            let kind = random.kinds[random.rng.random_range(0..random.kinds.len())];
            match kind {
                FaultKind::Latency(d) => delay += d,
                FaultKind::RateLimited { retry_after_secs } => {
                    injection = Some(Injection::RateLimited { retry_after_secs });
                }
                FaultKind::ServerError { status } => {
                    injection = Some(Injection::ServerError { status });
                }
                FaultKind::ConnectionReset => injection = Some(Injection::ConnectionReset),
                FaultKind::MalformedBody => injection = Some(Injection::MalformedBody),
                FaultKind::CommitThenDrop => injection = Some(Injection::CommitThenDrop),
            }
        }
        if let Some(injection) = injection {
            table.injected += 1;
            table.by_kind.record(injection);
        }
        Decision { delay, injection }
    }
}

impl<O> Faults<O> {
    /// Draws a fault of the fake's own state rather than of one request (an accepted launch
    /// that the upstream then fails, a slow boot) from the random mode: with its rate,
    /// `Some(i)` for one of `outcomes` outcomes, drawn uniformly; `None` without a random
    /// mode, when the draw misses, or for no outcomes. The draw comes from the random mode's
    /// seeded generator, so the same seed and the same requests give the same outcomes.
    pub fn draw_outcome(&self, outcomes: usize) -> Option<usize> {
        if outcomes == 0 {
            return None;
        }
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        let random = table.random.as_mut()?;
        if !random.rng.random_bool(random.rate) {
            return None;
        }
        Some(random.rng.random_range(0..outcomes))
    }
}

fn use_once<O>(faults: &mut Vec<ActiveFault<O>>, index: usize) {
    if let Some(remaining) = faults[index].remaining.as_mut() {
        *remaining = remaining.saturating_sub(1);
        if *remaining == 0 {
            faults.remove(index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Op {
        Any,
        Create,
        List,
    }

    impl OperationClass for Op {
        const ANY: Self = Op::Any;
    }

    #[test]
    fn faults_are_used_up_in_order() {
        let faults = Faults::<Op>::new();
        faults.set_for(Op::Create, Fault::ConnectionReset { times: 1 });
        faults.set(Fault::ServerError {
            status: 503,
            times: 2,
        });
        let server_error = Some(Injection::ServerError { status: 503 });
        assert_eq!(faults.take(Some(Op::List)).injection, server_error);
        assert_eq!(
            faults.take(Some(Op::Create)).injection,
            Some(Injection::ConnectionReset)
        );
        assert_eq!(faults.take(Some(Op::Create)).injection, server_error);
        assert_eq!(faults.take(Some(Op::Create)), Decision::default());
        assert_eq!(faults.injected_count(), 3);
        let counts = faults.injected_counts();
        assert_eq!((counts.server_errors, counts.resets), (2, 1));
        assert_eq!(
            counts.rate_limited + counts.malformed + counts.commit_then_drop,
            0
        );
    }

    #[test]
    fn commit_then_drop_targets_its_operation_and_yields_to_replacing_faults() {
        let faults = Faults::<Op>::new();
        faults.set(Fault::CommitThenDropResponse {
            operation: Op::Create,
            times: 1,
        });
        faults.set(Fault::MalformedJson { times: 1 });
        assert_eq!(
            faults.take(Some(Op::List)).injection,
            Some(Injection::MalformedBody)
        );
        assert_eq!(faults.take(Some(Op::List)).injection, None);
        assert_eq!(
            faults.take(Some(Op::Create)).injection,
            Some(Injection::CommitThenDrop)
        );
        assert_eq!(faults.take(Some(Op::Create)).injection, None);
    }

    #[test]
    fn latency_adds_up_and_stays_until_cleared() {
        let faults = Faults::<Op>::new();
        faults.set(Fault::Latency(Duration::from_millis(5)));
        faults.set_for(Op::Create, Fault::Latency(Duration::from_millis(7)));
        assert_eq!(
            faults.take(Some(Op::Create)).delay,
            Duration::from_millis(12)
        );
        assert_eq!(faults.take(None).delay, Duration::from_millis(5));
        assert_eq!(faults.take(None).delay, Duration::from_millis(5));
        faults.clear();
        assert_eq!(faults.take(None), Decision::default());
    }

    #[test]
    fn zero_times_sets_nothing() {
        let faults = Faults::<Op>::new();
        faults.set(Fault::ConnectionReset { times: 0 });
        assert_eq!(faults.take(None), Decision::default());
    }

    #[test]
    fn outcomes_are_drawn_only_in_random_mode_seeded_and_at_its_rate() {
        let faults = Faults::<Op>::new();
        assert_eq!(faults.draw_outcome(2), None, "no random mode, no outcome");
        let draws = |seed| {
            let faults = Faults::<Op>::random(seed, 0.5, &[]);
            (0..1000)
                .map(|_| faults.draw_outcome(2))
                .collect::<Vec<_>>()
        };
        let first = draws(3);
        assert_eq!(first, draws(3), "same seed, same outcomes");
        let hits = first.iter().filter(|d| d.is_some()).count();
        assert!((400..600).contains(&hits), "about half, got {hits}");
        assert!(first.contains(&Some(0)) && first.contains(&Some(1)));
        assert!(first.iter().all(|d| d.is_none_or(|i| i < 2)));
        assert_eq!(Faults::<Op>::random(1, 1.0, &[]).draw_outcome(0), None);
        assert!(Faults::<Op>::random(1, 1.0, &[]).draw_outcome(1).is_some());
    }

    #[test]
    fn random_mode_is_seeded_and_follows_its_rate() {
        let kinds = [
            FaultKind::ServerError { status: 500 },
            FaultKind::ConnectionReset,
            FaultKind::Latency(Duration::from_millis(1)),
        ];
        let run = |seed| {
            let faults = Faults::<Op>::random(seed, 0.3, &kinds);
            (0..1000)
                .map(|_| faults.take(Some(Op::List)))
                .collect::<Vec<_>>()
        };
        let first = run(7);
        assert_eq!(first, run(7), "same seed, same faults");
        assert_ne!(first, run(8), "another seed, other faults");
        let hit = first.iter().filter(|d| **d != Decision::default()).count();
        assert!(
            (200..400).contains(&hit),
            "about 30% hit, got {hit} of 1000"
        );
        for kind in [
            Some(Injection::ServerError { status: 500 }),
            Some(Injection::ConnectionReset),
        ] {
            assert!(first.iter().any(|d| d.injection == kind), "{kind:?} drawn");
        }
        assert!(first.iter().any(|d| !d.delay.is_zero()), "latency drawn");
        let never = Faults::<Op>::random(1, 0.0, &kinds);
        assert!((0..100).all(|_| never.take(None) == Decision::default()));
    }

    #[test]
    fn explicit_faults_win_over_random_mode() {
        let faults = Faults::<Op>::random(3, 1.0, &[FaultKind::ConnectionReset]);
        faults.set(Fault::ServerError {
            status: 502,
            times: 1,
        });
        assert_eq!(
            faults.take(None).injection,
            Some(Injection::ServerError { status: 502 })
        );
        assert_eq!(
            faults.take(None).injection,
            Some(Injection::ConnectionReset)
        );
    }
}
