//! Request-rate refusals that hold for a whole API key: when a request is refused by a
//! requests-per-minute rule not tied to a model (key, user, group or global scope), every
//! request of that key is refused until the retry time, whatever its model or size —
//! request buckets are never refunded, only time frees them. The limiter remembers such a
//! refusal per key, so the gateway can answer the key's next requests before reading and
//! parsing their bodies and counting their tokens ([`super::Limiter::held`]): a key over
//! its rate no longer costs the gateway a body's worth of work per refused request.
//!
//! Local to the instance and bounded; forgotten when the rules are replaced. A hold never
//! outlasts the `retry-after` already sent with the refusal that set it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::types::Refusal;

/// Most keys held at once (one entry per key over its rate): beyond, expired holds are
/// dropped, and if none has expired, all are (holds are only a shortcut).
const MAX_HELD: usize = 100_000;

struct Held {
    until_micros: u64,
    /// The refusal that set the hold (its retry times are replaced by the time left).
    refusal: Refusal,
}

#[derive(Default)]
pub(crate) struct Holds {
    held: Mutex<HashMap<String, Held>>,
    /// How many keys are held (kept under the lock): asked on every request, so that a
    /// gateway holding none takes no lock.
    count: AtomicUsize,
}

impl Holds {
    /// Remembers `refusal` for `key_id` if it holds for the whole key.
    pub fn record(&self, key_id: &str, refusal: &Refusal, now: u64) {
        let Some(hold) = refusal.holds_key_for else {
            return;
        };
        let until_micros = now.saturating_add(u64::try_from(hold.as_micros()).unwrap_or(u64::MAX));
        let Ok(mut held) = self.held.lock() else {
            return;
        };
        if held.len() >= MAX_HELD && !held.contains_key(key_id) {
            held.retain(|_, h| h.until_micros > now);
            if held.len() >= MAX_HELD {
                held.clear();
            }
        }
        held.insert(
            key_id.to_owned(),
            Held {
                until_micros,
                refusal: refusal.clone(),
            },
        );
        self.count.store(held.len(), Ordering::Relaxed);
    }

    /// The refusal still holding for `key_id` at `now`, with the time left as its retry.
    pub fn check(&self, key_id: &str, now: u64) -> Option<Refusal> {
        if self.count.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let mut held = self.held.lock().ok()?;
        let h = held.get(key_id)?;
        if h.until_micros <= now {
            held.remove(key_id);
            self.count.store(held.len(), Ordering::Relaxed);
            return None;
        }
        let left = Duration::from_micros(h.until_micros - now);
        Some(Refusal {
            retry_after: left,
            holds_key_for: Some(left),
            ..h.refusal.clone()
        })
    }

    pub fn clear(&self) {
        if let Ok(mut held) = self.held.lock() {
            held.clear();
            self.count.store(0, Ordering::Relaxed);
        }
    }
}
