//! Protection against unauthenticated floods. [`AuthFailures`] counts failed
//! authentications per client IP in one-minute windows; an IP over its budget is refused
//! before its key is even looked at, so a flood of bad keys cannot reach the store.
//! [`ConnectionSlots`] bounds open connections per client IP at the listener.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// Most IPs tracked at once; beyond it the table starts over (bounded memory).
const MAX_TRACKED: usize = 100_000;

fn minute_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() / 60)
        .unwrap_or(0)
}

pub struct AuthFailures {
    per_minute: u32,
    seen: Mutex<HashMap<IpAddr, (u64, u32)>>,
}

impl AuthFailures {
    pub fn new(per_minute: u32) -> Self {
        AuthFailures {
            per_minute,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `ip` used up its failed attempts for this minute.
    pub fn is_blocked(&self, ip: IpAddr) -> bool {
        let minute = minute_now();
        self.seen
            .lock()
            .map(|seen| {
                seen.get(&ip)
                    .is_some_and(|&(m, n)| m == minute && n >= self.per_minute)
            })
            .unwrap_or(false)
    }

    pub fn record_failure(&self, ip: IpAddr) {
        let minute = minute_now();
        if let Ok(mut seen) = self.seen.lock() {
            if seen.len() >= MAX_TRACKED {
                seen.retain(|_, (m, _)| *m == minute);
                if seen.len() >= MAX_TRACKED {
                    seen.clear();
                }
            }
            let entry = seen.entry(ip).or_insert((minute, 0));
            if entry.0 != minute {
                *entry = (minute, 0);
            }
            entry.1 = entry.1.saturating_add(1);
        }
    }
}

/// Open connections per client IP.
pub struct ConnectionSlots {
    max: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// Holds one connection slot until dropped.
pub struct ConnectionSlot {
    ip: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl ConnectionSlots {
    pub fn new(max: usize) -> Self {
        ConnectionSlots {
            max,
            open: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// A slot for a new connection from `ip`, or `None` when it has too many open.
    pub fn acquire(&self, ip: IpAddr) -> Option<ConnectionSlot> {
        let mut open = self.open.lock().ok()?;
        let n = open.entry(ip).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(ConnectionSlot {
            ip,
            open: Arc::clone(&self.open),
        })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.open.lock()
            && let Some(n) = open.get_mut(&self.ip)
        {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_budget() {
        let guard = AuthFailures::new(3);
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        for _ in 0..3 {
            assert!(!guard.is_blocked(ip));
            guard.record_failure(ip);
        }
        assert!(guard.is_blocked(ip));
        assert!(!guard.is_blocked("10.1.2.4".parse().unwrap()));
    }

    #[test]
    fn connection_slots_are_returned() {
        let slots = ConnectionSlots::new(2);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let a = slots.acquire(ip).unwrap();
        let _b = slots.acquire(ip).unwrap();
        assert!(slots.acquire(ip).is_none());
        drop(a);
        assert!(slots.acquire(ip).is_some());
    }
}
