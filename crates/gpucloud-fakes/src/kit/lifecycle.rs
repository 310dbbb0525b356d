//! Timed lifecycle transitions, computed lazily from timestamps: no background task, and a
//! state read at any time is the one the schedule says.

use std::time::Duration;

use tokio::time::Instant;

/// A schedule of states: the first from its start, each next one after its delay, and
/// optionally gone (absent from the API) at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline<S> {
    start: Instant,
    steps: Vec<(Instant, Option<S>)>,
}

impl<S: Copy> Timeline<S> {
    /// In `state` from `now` on, until a later step.
    pub fn starting(now: Instant, state: S) -> Self {
        Self {
            start: now,
            steps: vec![(now, Some(state))],
        }
    }

    /// Pinned in `state` for good.
    pub fn fixed(state: S) -> Self {
        Self::starting(Instant::now(), state)
    }

    fn last_at(&self) -> Instant {
        self.steps.last().map_or(self.start, |(at, _)| *at)
    }

    /// Then `state`, `after` the previous step.
    #[must_use]
    pub fn then(mut self, after: Duration, state: S) -> Self {
        let at = self.last_at() + after;
        self.steps.push((at, Some(state)));
        self
    }

    /// Then gone, `after` the previous step.
    #[must_use]
    pub fn then_gone(mut self, after: Duration) -> Self {
        let at = self.last_at() + after;
        self.steps.push((at, None));
        self
    }

    /// The state at `now`; `None` once gone. Before the start, the first state.
    pub fn at(&self, now: Instant) -> Option<S> {
        let mut current = self.steps.first().and_then(|(_, s)| *s);
        for (at, state) in &self.steps {
            if *at <= now {
                current = *state;
            } else {
                break;
            }
        }
        current
    }

    /// When the schedule started.
    pub fn started(&self) -> Instant {
        self.start
    }

    /// When the first step into `state` happens (or happened), if the schedule has one.
    pub fn when<F: Fn(&S) -> bool>(&self, is: F) -> Option<Instant> {
        self.steps
            .iter()
            .find(|(_, s)| s.as_ref().is_some_and(&is))
            .map(|(at, _)| *at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum S {
        A,
        B,
    }

    #[test]
    fn steps_follow_their_delays_and_end_gone() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let timeline = Timeline::starting(t0, S::A)
            .then(ms(10), S::B)
            .then_gone(ms(5));
        assert_eq!(timeline.at(t0), Some(S::A));
        assert_eq!(timeline.at(t0 + ms(9)), Some(S::A));
        assert_eq!(timeline.at(t0 + ms(10)), Some(S::B));
        assert_eq!(timeline.at(t0 + ms(14)), Some(S::B));
        assert_eq!(timeline.at(t0 + ms(15)), None);
        assert_eq!(timeline.when(|s| *s == S::B), Some(t0 + ms(10)));
        assert_eq!(timeline.started(), t0);
    }

    #[test]
    fn fixed_stays() {
        let timeline = Timeline::fixed(S::B);
        assert_eq!(
            timeline.at(Instant::now() + Duration::from_secs(3600)),
            Some(S::B)
        );
    }
}
