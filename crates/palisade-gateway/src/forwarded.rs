//! Who the client is behind a load balancer. The connection's peer is the client, unless
//! it is one of `server.trusted_proxies`: then `X-Forwarded-For` (each proxy appends the
//! address it received from) is read from the right, past every trusted proxy, and the
//! first address that is not one is the client. A header from anyone else is ignored (a
//! client could write any address in it), and so is a malformed one. The listener
//! ([`crate::server`]) resolves the client once per request, for the data and the admin
//! plane alike (policy `client_ip`, failed-authentication throttling, audit records).

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// Most `X-Forwarded-For` entries read (a longer chain is not one of ours).
const MAX_HOPS: usize = 32;

/// The client's address: `peer`, or the address its trusted proxies forwarded for (with
/// port 0: the client's port is not forwarded). The listener resolves it once per request
/// and hands it to both planes as `ConnectInfo`.
pub fn client_addr(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpNet]) -> SocketAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer.ip()) {
        return peer;
    }
    let mut hops = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(value) = value.to_str() else {
            return peer;
        };
        for entry in value.split(',') {
            let Ok(ip) = entry.trim().parse::<IpAddr>() else {
                return peer;
            };
            hops.push(ip);
            if hops.len() > MAX_HOPS {
                return peer;
            }
        }
    }
    let client = hops
        .iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .or_else(|| hops.first())
        .copied();
    client.map_or(peer, |ip| SocketAddr::new(ip, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(
                "x-forwarded-for",
                v.parse().unwrap_or_else(|_| unreachable!()),
            );
        }
        h
    }

    fn ip(addr: SocketAddr) -> String {
        addr.ip().to_string()
    }

    #[test]
    fn only_trusted_proxies_may_name_the_client() {
        let lb: SocketAddr = "10.0.0.5:40000".parse().unwrap_or_else(|_| unreachable!());
        let trusted: Vec<IpNet> = vec!["10.0.0.0/24".parse().unwrap_or_else(|_| unreachable!())];
        // Behind the balancer: the right-most address it did not add itself.
        let h = headers(&["198.51.100.9, 203.0.113.7"]);
        assert_eq!(ip(client_addr(lb, &h, &trusted)), "203.0.113.7");
        // A chain of trusted proxies is walked past.
        let h = headers(&["203.0.113.7", "10.0.0.9"]);
        assert_eq!(ip(client_addr(lb, &h, &trusted)), "203.0.113.7");
        // A client connecting directly cannot choose its address.
        let direct: SocketAddr = "192.0.2.1:5000".parse().unwrap_or_else(|_| unreachable!());
        assert_eq!(ip(client_addr(direct, &h, &trusted)), "192.0.2.1");
        // Nothing configured: the peer, whatever the header says.
        assert_eq!(ip(client_addr(lb, &h, &[])), "10.0.0.5");
        // Malformed or missing: the peer.
        assert_eq!(
            ip(client_addr(lb, &headers(&["nonsense"]), &trusted)),
            "10.0.0.5"
        );
        assert_eq!(ip(client_addr(lb, &HeaderMap::new(), &trusted)), "10.0.0.5");
    }
}
