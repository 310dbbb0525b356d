//! Timing helpers the providers' benchmarks share: interleaved samples (so that a slow moment
//! of the machine hits every contender alike), medians, and the units the figures print in.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

/// One contender of a comparison: a call to time, made anew for each sample.
pub type Task<'a> = Box<dyn FnMut() -> Pin<Box<dyn Future<Output = ()> + 'a>> + 'a>;

/// The median of `samples` (the upper one of an even count); zero when there are none.
pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

/// Runs every task `iterations` times, interleaved in rotating order; the median per task.
pub async fn interleaved(iterations: usize, tasks: &mut [Task<'_>]) -> Vec<Duration> {
    let n = tasks.len();
    let mut samples = vec![Vec::with_capacity(iterations); n];
    for i in 0..iterations {
        for k in 0..n {
            let which = (i + k) % n;
            let started = Instant::now();
            (tasks[which])().await;
            samples[which].push(started.elapsed());
        }
    }
    samples.into_iter().map(median).collect()
}

/// `d` in microseconds.
pub fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// `d` in milliseconds.
pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `a / b`, with `b` at least a nanosecond.
pub fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}
