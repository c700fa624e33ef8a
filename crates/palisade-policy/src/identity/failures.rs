//! Failed authentications counted per client address (each plane keeps one): [`AuthFailures`]
//! counts them in one-minute windows, and an address over its budget is refused before
//! its key or token is even looked at, so a flood of guesses cannot reach the store. An
//! IPv6 client counts by its /64 ([`client_block`]): one subscriber or host gets a whole
//! /64 and could otherwise rotate through its addresses.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
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
}
