//! Who the client is behind a load balancer. The connection's peer is the client, unless
//! it is one of `server.trusted_proxies`: then `X-Forwarded-For` (each proxy appends the
//! address it received from) is read from the right, past every trusted proxy, and the
//! first address that is not one is the client. A header from anyone else is ignored (a
//! client could write any address in it), and so is a malformed one. The listener
//! ([`crate::server`]) resolves the client once per request, for the data and the admin
//! plane alike (policy `client_ip`, failed-authentication throttling, audit records).
//! A trusted proxy must append the address it received from (nginx
//! `$proxy_add_x_forwarded_for`, most cloud balancers); one that passes the client's
//! header through unchanged lets the client name itself.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// Most `X-Forwarded-For` entries read, from the right (a longer chain of trusted
/// proxies is not one of ours).
const MAX_HOPS: usize = 32;

/// Whether `ip` is one of the `trusted` proxies; an IPv4-mapped IPv6 address (a
/// dual-stack listener's view of an IPv4 peer) counts as the IPv4 address.
pub fn is_trusted(trusted: &[IpNet], ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    trusted.iter().any(|net| net.contains(&ip))
}

/// One `X-Forwarded-For` entry: an address, or an address with a port as some balancers
/// write it (`203.0.113.7:41234`, `[2001:db8::1]:443`).
fn hop(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| entry.strip_prefix('[')?.strip_suffix(']')?.parse().ok())
}

/// The client's address: `peer`, or the address its trusted proxies forwarded for (with
/// port 0: the client's port is not forwarded). The listener resolves it once per request
/// and hands it to its plane as `ConnectInfo`.
///
/// The header is read from the right: each entry was appended by the proxy to its right,
/// trusted so far, and the first address that is not a trusted proxy is the client.
/// Whatever lies to its left was written by the client and is never parsed, so junk
/// there cannot make the request look like it came from the proxy. Every entry trusted:
/// the left-most one. A malformed entry among the trusted proxies' own (a proxy's
/// misconfiguration), or more than [`MAX_HOPS`]: the last trusted hop read.
pub fn client_addr(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpNet]) -> SocketAddr {
    if !is_trusted(trusted, peer.ip()) {
        return peer;
    }
    let proxy = |ip: IpAddr| SocketAddr::new(ip, if ip == peer.ip() { peer.port() } else { 0 });
    let mut last = peer.ip();
    let mut read = 0;
    let values: Vec<_> = headers.get_all("x-forwarded-for").iter().collect();
    for value in values.into_iter().rev() {
        // Split the raw bytes: a non-ASCII byte the client put in its part of the line
        // must not spoil the entries the proxies appended after it.
        for entry in value.as_bytes().rsplit(|&b| b == b',') {
            read += 1;
            let ip = std::str::from_utf8(entry).ok().and_then(hop);
            let Some(ip) = ip.filter(|_| read <= MAX_HOPS) else {
                return proxy(last);
            };
            if !is_trusted(trusted, ip) {
                return SocketAddr::new(ip, 0);
            }
            last = ip;
        }
    }
    proxy(last)
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

    #[test]
    fn what_the_client_wrote_cannot_make_it_the_proxy() {
        let lb: SocketAddr = "10.0.0.5:40000".parse().unwrap_or_else(|_| unreachable!());
        let trusted: Vec<IpNet> = vec!["10.0.0.0/24".parse().unwrap_or_else(|_| unreachable!())];
        // The client sent junk (or a long list); the balancer appended its address.
        let long = ["1.2.3.4"; 40].join(", ");
        for sent in ["x", "unknown", long.as_str()] {
            let h = headers(&[&format!("{sent}, 203.0.113.9")]);
            assert_eq!(ip(client_addr(lb, &h, &trusted)), "203.0.113.9", "{sent}");
            // The same as two header lines.
            let h = headers(&[sent, "203.0.113.9"]);
            assert_eq!(ip(client_addr(lb, &h, &trusted)), "203.0.113.9", "{sent}");
        }
        // Bytes that are not text, in the client's part of the line.
        let mut h = HeaderMap::new();
        h.append(
            "x-forwarded-for",
            axum::http::HeaderValue::from_bytes(b"\xff\xfe, 203.0.113.9")
                .unwrap_or_else(|_| unreachable!()),
        );
        assert_eq!(ip(client_addr(lb, &h, &trusted)), "203.0.113.9");
        // Ports as some balancers write them.
        let h = headers(&["203.0.113.9:41234"]);
        assert_eq!(ip(client_addr(lb, &h, &trusted)), "203.0.113.9");
        let h = headers(&["[2001:db8::7]:443, 10.0.0.9"]);
        assert_eq!(ip(client_addr(lb, &h, &trusted)), "2001:db8::7");
        // Every entry a trusted proxy: the left-most.
        let h = headers(&["10.0.0.8, 10.0.0.9"]);
        assert_eq!(ip(client_addr(lb, &h, &trusted)), "10.0.0.8");
    }

    #[test]
    fn a_dual_stack_listener_sees_the_balancer_as_mapped_ipv6() {
        let lb: SocketAddr = "[::ffff:10.0.0.5]:40000"
            .parse()
            .unwrap_or_else(|_| unreachable!());
        let trusted: Vec<IpNet> = vec!["10.0.0.0/24".parse().unwrap_or_else(|_| unreachable!())];
        let h = headers(&["203.0.113.9, ::ffff:10.0.0.6"]);
        assert_eq!(ip(client_addr(lb, &h, &trusted)), "203.0.113.9");
    }
}
