//! IBANs (ISO 13616): a country with its fixed length from the SWIFT registry, two
//! check digits, and the mod-97 = 1 rule; compact (`DE89370400440532013000`) or in
//! groups of four separated by single spaces (`GB82 WEST 1234 5698 7654 32`).

use super::Kind;
use super::context::Tag;
use super::scan::{Run, Sink, report_groups};

const DET: &str = "pii.iban";

/// (country, total length). SEPA countries and the other registry members in use.
const LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24),
    (b"AE", 23),
    (b"AL", 28),
    (b"AT", 20),
    (b"AZ", 28),
    (b"BA", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"BH", 22),
    (b"BI", 27),
    (b"BR", 29),
    (b"BY", 28),
    (b"CH", 21),
    (b"CR", 22),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DJ", 27),
    (b"DK", 18),
    (b"DO", 28),
    (b"EE", 20),
    (b"EG", 29),
    (b"ES", 24),
    (b"FI", 18),
    (b"FK", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GE", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GR", 27),
    (b"GT", 28),
    (b"HN", 28),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IQ", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LC", 32),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"LY", 25),
    (b"MC", 27),
    (b"MD", 24),
    (b"ME", 22),
    (b"MK", 19),
    (b"MN", 20),
    (b"MR", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"NI", 28),
    (b"NL", 18),
    (b"NO", 15),
    (b"OM", 23),
    (b"PK", 24),
    (b"PL", 28),
    (b"PS", 29),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"RS", 22),
    (b"RU", 33),
    (b"SA", 24),
    (b"SC", 31),
    (b"SD", 18),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"SO", 23),
    (b"ST", 25),
    (b"SV", 28),
    (b"TL", 23),
    (b"TN", 24),
    (b"TR", 26),
    (b"UA", 29),
    (b"VA", 22),
    (b"VG", 24),
    (b"XK", 20),
    (b"YE", 30),
];

pub(crate) fn country_length(cc: &[u8]) -> Option<usize> {
    let cc = [
        cc.first()?.to_ascii_uppercase(),
        cc.get(1)?.to_ascii_uppercase(),
    ];
    LENGTHS.iter().find(|(c, _)| **c == cc).map(|(_, l)| *l)
}

pub(crate) fn check(run: &Run<'_>, sink: &mut Sink<'_>) {
    report_groups(run, sink, candidate, Kind::Iban, 0.90, Tag::Iban, DET);
}

fn candidate(run: &Run<'_>, s: usize) -> Option<usize> {
    let first = run.bytes.get(run.g(s).start..run.g(s).end)?;
    if first.len() < 4
        || !first[0].is_ascii_alphabetic()
        || !first[1].is_ascii_alphabetic()
        || !first[2].is_ascii_digit()
        || !first[3].is_ascii_digit()
        || !run.starts_clean(s)
    {
        return None;
    }
    let len = country_length(&first[..2])?;
    let mut buf = [0u8; 34];
    if first.len() == len {
        buf[..len].copy_from_slice(first);
        return (run.ends_clean(s) && mod97_ok(&buf[..len])).then_some(s);
    }
    if first.len() != 4 {
        return None;
    }
    let mut n = 0;
    for e in s..run.n {
        let g = run.g(e);
        if (e > s && run.sep(e) != b" ") || g.len() > 4 || n + g.len() > len {
            return None;
        }
        buf[n..n + g.len()].copy_from_slice(&run.bytes[g.start..g.end]);
        n += g.len();
        if n == len {
            return (run.ends_clean(e) && mod97_ok(&buf[..n])).then_some(e);
        }
        if g.len() < 4 {
            return None;
        }
    }
    None
}

/// The mod-97 check of a compact IBAN (letters as 10–35, first four moved to the end).
pub(crate) fn mod97_ok(iban: &[u8]) -> bool {
    if iban.len() < 5 || !iban.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let mut rem: u32 = 0;
    for &b in iban[4..].iter().chain(&iban[..4]) {
        let b = b.to_ascii_uppercase();
        if b.is_ascii_digit() {
            rem = (rem * 10 + u32::from(b - b'0')) % 97;
        } else {
            rem = (rem * 100 + u32::from(b - b'A') + 10) % 97;
        }
    }
    rem == 1
}
