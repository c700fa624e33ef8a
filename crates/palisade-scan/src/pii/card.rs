//! Payment card numbers: 13–19 digits, compact or in groups joined by one uniform space
//! or dash (groups of 3–6 digits, the last 1–6), Luhn-valid, and inside a known issuer
//! range with a length that issuer uses (Visa, Mastercard incl. 2221–2720, Amex,
//! Discover, JCB, Diners, UnionPay, Maestro).

use super::Kind;
use super::checksum::luhn;
use super::context::Tag;
use super::scan::{Run, Sink, report_groups};

const DET: &str = "pii.credit_card";

/// The first `n` digits as a number.
fn prefix(d: &[u8], n: usize) -> u32 {
    d[..n.min(d.len())]
        .iter()
        .fold(0, |acc, &b| acc * 10 + u32::from(b - b'0'))
}

/// Whether `d` is in an issuer range with a valid length for that issuer.
pub(crate) fn issuer_ok(d: &[u8]) -> bool {
    let len = d.len();
    let (p1, p2, p3, p4, p6) = (
        prefix(d, 1),
        prefix(d, 2),
        prefix(d, 3),
        prefix(d, 4),
        prefix(d, 6),
    );
    let visa = p1 == 4 && matches!(len, 13 | 16 | 19);
    let mastercard = ((51..=55).contains(&p2) || (2221..=2720).contains(&p4)) && len == 16;
    let amex = (p2 == 34 || p2 == 37) && len == 15;
    let discover =
        (p4 == 6011 || (644..=649).contains(&p3) || p2 == 65 || (622126..=622925).contains(&p6))
            && (16..=19).contains(&len);
    let jcb = (3528..=3589).contains(&p4) && (16..=19).contains(&len);
    let diners = ((300..=305).contains(&p3) || p4 == 3095 || p2 == 36 || p2 == 38 || p2 == 39)
        && (14..=19).contains(&len);
    let unionpay = p2 == 62 && (16..=19).contains(&len);
    let maestro = (p2 == 50 || (56..=69).contains(&p2)) && (13..=19).contains(&len);
    visa || mastercard || amex || discover || jcb || diners || unionpay || maestro
}

pub(crate) fn check(run: &Run<'_>, sink: &mut Sink<'_>) {
    report_groups(run, sink, candidate, Kind::CreditCard, 0.85, Tag::Card, DET);
}

/// The last group of the longest valid card starting at group `s`.
fn candidate(run: &Run<'_>, s: usize) -> Option<usize> {
    let first = run.g(s);
    if !first.digits || !run.starts_clean(s) {
        return None;
    }
    // `+4915…` is a phone number.
    if s == 0 && first.start > 0 && run.bytes[first.start - 1] == b'+' {
        return None;
    }
    let mut buf = [0u8; 19];
    if first.len() >= 13 {
        let n = run.digits(s, s, &mut buf)?;
        return (run.ends_clean(s) && valid(&buf[..n])).then_some(s);
    }
    if !(3..=6).contains(&first.len()) || s + 1 >= run.n {
        return None;
    }
    let sep = run.sep(s + 1);
    if sep != b" " && sep != b"-" {
        return None;
    }
    let mut best = None;
    let mut total = first.len();
    for e in s + 1..run.n {
        let g = run.g(e);
        if !g.digits || run.sep(e) != sep || g.len() > 6 {
            break;
        }
        total += g.len();
        if total > 19 {
            break;
        }
        if total >= 13 && run.ends_clean(e) {
            let n = run.digits(s, e, &mut buf)?;
            if valid(&buf[..n]) {
                best = Some(e);
            }
        }
        if g.len() < 3 {
            break;
        }
    }
    best
}

pub(crate) fn valid(d: &[u8]) -> bool {
    (13..=19).contains(&d.len()) && issuer_ok(d) && luhn(d)
}
