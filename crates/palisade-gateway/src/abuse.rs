//! Bounds on open connections per client: [`ConnectionSlots`] limits how many a client
//! IP holds at the listener, counting an IPv6 client by its /64
//! ([`palisade_policy::identity::client_block`]). Failed authentications are counted by
//! [`palisade_policy::identity::AuthFailures`] (one count per plane).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use palisade_policy::identity::client_block;

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
        let slots = ConnectionSlots::new(1);
        let _held = slots.acquire("2001:db8::1".parse().unwrap()).unwrap();
        assert!(slots.acquire("2001:db8::2".parse().unwrap()).is_none());
        assert!(slots.acquire("2001:db9::1".parse().unwrap()).is_some());
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
