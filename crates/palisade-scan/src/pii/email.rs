//! E-mail addresses: `memchr` finds each `@`, then a hand-written validator expands
//! left over the RFC 5322 dot-atom local part and right over a DNS domain. Rules: local
//! part 1–64 bytes (in a longer run, such as a URL's query, the part after its last `=`,
//! `&`, `?` or `/`), no leading/trailing/double dot, starts with an alphanumeric or `_`;
//! domain ≤ 253 bytes, ≥ 2 labels of 1–63 `[A-Za-z0-9-]` not starting or ending with
//! `-`, TLD alphabetic (≥ 2) or `xn--` punycode; a trailing dot is left out of the span.

use super::Kind;
use super::scan::{Sink, boundary_after, boundary_before};

const DET: &str = "pii.email";

/// Most bytes of address-like characters read left of an `@`.
const MAX_RUN: usize = 256;

fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~-.".contains(&b)
}

fn is_domain_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'.'
}

pub(crate) fn scan(sink: &mut Sink<'_>) {
    let text = sink.text;
    let bytes = text.as_bytes();
    let mut floor = 0;
    for at in memchr::memchr_iter(b'@', bytes) {
        if at < floor {
            continue;
        }
        if let Some((start, end)) = validate(bytes, at, floor)
            && boundary_before(text, start)
            && boundary_after(text, end)
        {
            sink.push(Kind::Email, start..end, 0.95, DET);
            floor = end;
        }
    }
}

/// The span of the address around the `@` at `at`, if valid.
fn validate(bytes: &[u8], at: usize, floor: usize) -> Option<(usize, usize)> {
    // Local part: expand left, then trim leading punctuation (quotes, brackets…).
    let mut start = at;
    while start > floor && is_atext(bytes[start - 1]) && at - start < MAX_RUN {
        start -= 1;
    }
    if start > floor && is_atext(bytes[start - 1]) {
        return None; // no address has a run this long before its `@`
    }
    if at - start > 64 {
        // Longer than a local part may be: an address inside a URL's path or query
        // (`…?campaign=spring&email=john.doe@example.com`) starts after the last of its
        // delimiters, all of which are also legal in a local part.
        let cut = bytes[start..at]
            .iter()
            .rposition(|b| matches!(b, b'=' | b'&' | b'?' | b'/'))?;
        start += cut + 1;
        if at - start > 64 {
            return None;
        }
    }
    while start < at && !(bytes[start].is_ascii_alphanumeric() || bytes[start] == b'_') {
        start += 1;
    }
    let local = &bytes[start..at];
    if local.is_empty() || local.ends_with(b".") || local.windows(2).any(|w| w == b"..") {
        return None;
    }
    // Domain: expand right, drop trailing dots/hyphens (sentence punctuation).
    let mut end = at + 1;
    while end < bytes.len() && is_domain_char(bytes[end]) && end - at <= 254 {
        end += 1;
    }
    while end > at + 1 && matches!(bytes[end - 1], b'.' | b'-') {
        end -= 1;
    }
    let domain = &bytes[at + 1..end];
    if domain.is_empty() || domain.len() > 253 {
        return None;
    }
    let mut labels = 0;
    let mut last: &[u8] = &[];
    for label in domain.split(|&b| b == b'.') {
        if label.is_empty() || label.len() > 63 || label.starts_with(b"-") || label.ends_with(b"-")
        {
            return None;
        }
        labels += 1;
        last = label;
    }
    let tld_ok = (last.len() >= 2 && last.iter().all(u8::is_ascii_alphabetic))
        || (last.len() > 4 && last[..4].eq_ignore_ascii_case(b"xn--"));
    (labels >= 2 && tld_ok).then_some((start, end))
}
