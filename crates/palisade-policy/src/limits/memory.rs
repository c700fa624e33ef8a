//! The in-process backend: every bucket in one map behind one lock, so an admission
//! checks all its buckets and reserves in all of them, or in none, as one step. Exact
//! for one instance; with several instances each counts only its own traffic. It is
//! also the fallback of `FailMode::Local` while Redis is unreachable.
//!
//! Concurrency is a plain count here: slots are released by `Admission`'s settle or
//! drop, and nothing outlives the process, so leases are not needed.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::outcome::Verdict;
use super::plan::{Check, Kind, MAX_LEVEL_MINUTES, Op, WINDOW_GRACE_MICROS, leaked};

/// Idle buckets are swept every this many admissions.
const SWEEP_EVERY: u64 = 4096;

#[derive(Default)]
pub(crate) struct MemoryBackend {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    rates: HashMap<String, Rate>,
    counters: HashMap<String, Counter>,
    slots: HashMap<String, u64>,
    admissions: u64,
}

/// A rate bucket: `level` units at `t` (unix µs), draining `limit` per minute.
struct Rate {
    level: f64,
    t: u64,
    limit: u64,
}

/// A budget counter, kept until its window ends (plus grace).
struct Counter {
    spent: u64,
    until: u64,
}

impl MemoryBackend {
    /// Checks every bucket and, if all admit, reserves in all of them.
    pub fn admit(&self, checks: &[Check], now: u64) -> Verdict {
        let mut state = self.lock();
        state.admissions += 1;
        if state.admissions.is_multiple_of(SWEEP_EVERY) {
            state.sweep(now);
        }
        let mut admitted = true;
        let mut states = Vec::with_capacity(checks.len());
        for check in checks {
            let (value, fits) = state.current(check, now);
            admitted &= fits;
            states.push(value);
        }
        if admitted {
            for (check, value) in checks.iter().zip(states.iter_mut()) {
                *value = state.reserve(check, *value, now);
            }
        }
        Verdict { admitted, states }
    }

    /// Applies settlement or release operations.
    pub fn apply(&self, ops: &[Op], now: u64) {
        let mut state = self.lock();
        for op in ops {
            match op {
                Op::Rate { key, limit, delta } => {
                    let current = state
                        .rates
                        .get(key)
                        .map_or(0.0, |r| leaked(r.level, r.t, now, *limit));
                    let cap = *limit as f64 * MAX_LEVEL_MINUTES;
                    let level = (current + *delta as f64).clamp(0.0, cap);
                    if level <= 0.0 {
                        state.rates.remove(key);
                    } else {
                        let t = state.rates.get(key).map_or(now, |r| r.t.max(now));
                        let limit = *limit;
                        state.rates.insert(key.clone(), Rate { level, t, limit });
                    }
                }
                Op::Counter {
                    key,
                    delta,
                    window_end,
                } => {
                    let until = window_end.saturating_add(WINDOW_GRACE_MICROS);
                    let counter = state
                        .counters
                        .entry(key.clone())
                        .or_insert(Counter { spent: 0, until });
                    counter.spent = counter.spent.saturating_add_signed(*delta);
                }
                Op::Release { key } => {
                    if let Some(count) = state.slots.get_mut(key) {
                        *count = count.saturating_sub(1);
                        if *count == 0 {
                            state.slots.remove(key);
                        }
                    }
                }
                Op::Renew { .. } => {}
            }
        }
    }

    /// Buckets held now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        let state = self.lock();
        state.rates.len() + state.counters.len() + state.slots.len()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; if something did, the counts are still
        // whole numbers and the best state we have.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl State {
    /// A check's state before admission, and whether the request fits.
    fn current(&self, check: &Check, now: u64) -> (f64, bool) {
        let limit = check.limit;
        match check.kind {
            Kind::Requests | Kind::Tokens => {
                let level = self
                    .rates
                    .get(&check.key)
                    .map_or(0.0, |r| leaked(r.level, r.t, now, limit));
                (level, level + check.needed() <= limit as f64)
            }
            Kind::Budget { .. } => {
                let spent = self.counters.get(&check.key).map_or(0, |c| c.spent);
                let fits = spent < limit && spent.saturating_add(check.amount) <= limit;
                (spent as f64, fits)
            }
            Kind::Concurrent => {
                let count = self.slots.get(&check.key).copied().unwrap_or(0);
                (count as f64, count < limit)
            }
        }
    }

    /// Reserves a check's amount on top of `before`; returns the state after.
    fn reserve(&mut self, check: &Check, before: f64, now: u64) -> f64 {
        match check.kind {
            Kind::Requests | Kind::Tokens => {
                let level = before + check.amount as f64;
                let t = self.rates.get(&check.key).map_or(now, |r| r.t.max(now));
                let rate = Rate {
                    level,
                    t,
                    limit: check.limit,
                };
                self.rates.insert(check.key.clone(), rate);
                level
            }
            Kind::Budget { .. } => {
                let until = check.window_end.saturating_add(WINDOW_GRACE_MICROS);
                let counter = self
                    .counters
                    .entry(check.key.clone())
                    .or_insert(Counter { spent: 0, until });
                counter.spent = counter.spent.saturating_add(check.amount);
                counter.spent as f64
            }
            Kind::Concurrent => {
                let count = self.slots.entry(check.key.clone()).or_insert(0);
                *count += 1;
                *count as f64
            }
        }
    }

    /// Drops buckets that hold nothing any more: drained rates, ended windows.
    fn sweep(&mut self, now: u64) {
        self.rates
            .retain(|_, r| leaked(r.level, r.t, now, r.limit) > 0.0);
        self.counters.retain(|_, c| c.until > now);
        self.slots.retain(|_, n| *n > 0);
    }
}
