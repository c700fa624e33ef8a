//! Network identifiers: IPv4 dotted quads (octets 0–255, no leading zeros, not part of
//! a longer dotted version string like `1.2.3.4.5`), IPv6 (full or `::`-compressed,
//! optional embedded IPv4, parsed by `std::net`), and MAC addresses (six hex pairs with
//! a uniform `:` or `-`, or Cisco `xxxx.xxxx.xxxx`).

use super::Kind;
use super::context::Tag;
use super::scan::{Run, Sink, boundary_after, boundary_before};

const DET_IP: &str = "pii.ip_address";
const DET_MAC: &str = "pii.mac_address";

fn octet(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 3
        && s.bytes().all(|b| b.is_ascii_digit())
        && !(s.len() > 1 && s.starts_with('0'))
        && s.parse::<u16>().is_ok_and(|v| v <= 255)
}

pub(crate) fn check_ipv4(run: &Run<'_>, sink: &mut Sink<'_>) {
    if run.n < 4 {
        return;
    }
    for s in 0..=run.n - 4 {
        let e = s + 3;
        if !(s..=e).all(|i| octet(run.str(i))) || !run.seps_are(s, e, b".") {
            continue;
        }
        // Not glued to a longer dotted string on either side.
        let left = if s == 0 {
            run.left_ok && !run.bytes[..run.g(0).start].ends_with(b".")
        } else {
            run.sep(s) != b"." && run.sep(s) != b":"
        };
        let right = if e + 1 == run.n {
            run.right_ok
        } else {
            matches!(run.sep(e + 1), b" " | b"/" | b":" | b")" | b") ")
        };
        if left && right {
            let span = run.g(s).start..run.g(e).end;
            sink.report(Kind::IpAddress, span, 0.80, Tag::Ip, false, DET_IP);
        }
    }
}

/// Looks for an IPv6 address around the run's start; returns where scanning may resume.
pub(crate) fn check_ipv6(run: &Run<'_>, sink: &mut Sink<'_>) -> usize {
    let bytes = run.bytes;
    let is_v6 = |b: u8| b.is_ascii_hexdigit() || b == b':' || b == b'.';
    let g0 = run.g(0);
    let first = if g0.start > 0 && bytes[g0.start - 1] == b':' {
        g0
    } else {
        match run
            .groups()
            .iter()
            .find(|g| bytes.get(g.end) == Some(&b':'))
        {
            Some(g) => *g,
            None => return 0,
        }
    };
    let mut start = first.start;
    while start > 0 && (bytes[start - 1] == b':' || bytes[start - 1].is_ascii_hexdigit()) {
        start -= 1;
    }
    let mut end = first.start;
    while end < bytes.len() && is_v6(bytes[end]) && end - start < 45 {
        end += 1;
    }
    let colons = bytes[start..end].iter().filter(|&&b| b == b':').count();
    if colons < 2 {
        return 0;
    }
    // Trailing punctuation: a sentence dot, or a single `:` that is not part of `::`.
    while end > start + 1
        && (bytes[end - 1] == b'.' || (bytes[end - 1] == b':' && bytes[end - 2] != b':'))
    {
        end -= 1;
    }
    let cand = &run.text[start..end];
    let groups = cand.split(':').filter(|g| !g.is_empty()).count();
    let compressed = cand.contains("::");
    if !(groups >= 3 || (compressed && groups >= 2)) {
        return 0;
    }
    if cand.parse::<std::net::Ipv6Addr>().is_err()
        || !boundary_before(run.text, start)
        || !boundary_after(run.text, end)
    {
        return 0;
    }
    if sink.report(Kind::IpAddress, start..end, 0.85, Tag::Ip, false, DET_IP) {
        end
    } else {
        0
    }
}

fn hex_group(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

pub(crate) fn check_mac(run: &Run<'_>, sink: &mut Sink<'_>) {
    for s in 0..run.n {
        if !run.starts_clean(s) {
            continue;
        }
        let shapes: [(usize, usize, &[&[u8]]); 2] = [(6, 2, &[b":", b"-"]), (3, 4, &[b"."])];
        for (count, len, seps) in shapes {
            let e = s + count - 1;
            if e >= run.n || !run.ends_clean(e) || !(s..=e).all(|i| hex_group(run.str(i), len)) {
                continue;
            }
            if seps.iter().any(|sep| run.seps_are(s, e, sep)) {
                let span = run.g(s).start..run.g(e).end;
                sink.report(Kind::MacAddress, span, 0.80, Tag::Mac, false, DET_MAC);
            }
        }
    }
}
