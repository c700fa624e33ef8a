//! Protection against unauthenticated floods. [`AuthFailures`] counts failed
//! authentications per client IP in one-minute windows; an IP over its budget is refused
//! before its key is even looked at, so a flood of bad keys cannot reach the store.
//! [`ConnectionSlots`] bounds open connections per client IP at the listener. Both count
//! an IPv6 client by its /64 ([`client_block`]): one subscriber or host gets a whole /64
//! and could otherwise rotate through its addresses.

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

/// The address a client is counted under: an IPv4 address as is (IPv4-mapped IPv6
/// included), an IPv6 address by its /64 prefix.
pub fn client_block(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from_bits(
                v6.to_bits() & !((1u128 << 64) - 1),
            )),
        },
    }
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
        let ip = client_block(ip);
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
        let ip = client_block(ip);
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
        let ip = client_block(ip);
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
    fn ipv6_clients_count_by_their_64() {
        let guard = AuthFailures::new(2);
        guard.record_failure("2001:db8:1:2::1".parse().unwrap());
        guard.record_failure("2001:db8:1:2:ffff::9".parse().unwrap());
        assert!(guard.is_blocked("2001:db8:1:2::abcd".parse().unwrap()));
        assert!(!guard.is_blocked("2001:db8:1:3::1".parse().unwrap()));
        let mapped: IpAddr = "::ffff:10.0.0.7".parse().unwrap();
        assert_eq!(client_block(mapped), "10.0.0.7".parse::<IpAddr>().unwrap());
        let slots = ConnectionSlots::new(1);
        let _held = slots.acquire("2001:db8::1".parse().unwrap()).unwrap();
        assert!(slots.acquire("2001:db8::2".parse().unwrap()).is_none());
        assert!(slots.acquire("2001:db9::1".parse().unwrap()).is_some());
    }

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
