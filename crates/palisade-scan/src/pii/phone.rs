//! Phone numbers. Reported shapes:
//! * international: `+` (or `00` with separators) and an assigned ITU country code,
//!   8–15 digits in all, with spaces, dots, dashes, parentheses or none
//!   (`+44 (0)20 7946 0958`, `+1 (415) 555-0132`, `+4915112345678`);
//! * NANP `(415) 555-0132`, `415-555-0132`, `1 415 555 0132` (area and exchange 2–9);
//! * trunk-prefix national numbers in groups (`020 7946 0958`, `030 12345678`,
//!   `01 23 45 67 89`): leading `0` then non-`0`, 9–12 digits, ≥ 2 groups;
//! * any other 7–15 digit run only with phone context (`phone`, `tel`, `call me`…).
//!
//! Never: bare digit runs without context, date shapes, anything longer than 15 digits.

use super::Kind;
use super::context::Tag;
use super::scan::{Run, Sink, boundary_before};

const DET: &str = "pii.phone";

const CC2: &[u8] = &[
    20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54, 55, 56,
    57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98,
];

fn cc3_assigned(c: u16) -> bool {
    matches!(c,
        211..=213 | 216 | 218 | 220..=258 | 260..=269 | 290 | 291 | 297..=299 | 350..=359
        | 370..=383 | 385..=387 | 389 | 420 | 421 | 423 | 500..=509 | 590..=599 | 670
        | 672..=692 | 800 | 808 | 850 | 852 | 853 | 855 | 856 | 870 | 878 | 880..=883 | 886
        | 888 | 960..=968 | 970..=979 | 992..=996 | 998)
}

/// Length of the assigned country calling code at the start of `d`.
pub(crate) fn country_code_len(d: &[u8]) -> Option<usize> {
    let v = |n: usize| {
        d[..n]
            .iter()
            .fold(0u16, |a, &b| a * 10 + u16::from(b - b'0'))
    };
    match d.first()? {
        b'1' | b'7' => return Some(1),
        b'0' => return None,
        _ => {}
    }
    if d.len() >= 2 && CC2.contains(&(v(2) as u8)) {
        return Some(2);
    }
    (d.len() >= 3 && cc3_assigned(v(3))).then_some(3)
}

pub(crate) fn check(run: &Run<'_>, sink: &mut Sink<'_>) {
    let mut s = 0;
    while s < run.n {
        s = match try_at(run, s, sink) {
            Some(e) => e + 1,
            None => s + 1,
        };
    }
}

/// `(day|month, day|month, year)` or `(year, month, day)` with date separators.
fn date_like(lens: &[usize], digits: &[u8], seps_datey: bool) -> bool {
    seps_datey
        && matches!(lens, [1 | 2, 1 | 2, 2 | 4] | [4, 1 | 2, 1 | 2])
        && (digits.len() == 8 || digits.len() <= 6 || lens[0] == 4)
}

/// The base score of a phone number of digits `d` read in groups of `lens`, and whether
/// it needs a context word; `None` when it is not a plausible number.
fn classify(d: &[u8], lens: &[usize], plus: bool, datey: bool) -> Option<(f32, bool)> {
    let nanp_digit = |i: usize| (b'2'..=b'9').contains(&d[i]);
    let n = d.len();
    let k = lens.len();
    Some(if plus {
        let cc = country_code_len(d)?;
        if !(8..=15).contains(&n) || n - cc < 4 {
            return None;
        }
        (0.80, false)
    } else if (k >= 2
        && d.starts_with(b"00")
        && country_code_len(&d[2..]).is_some()
        && (10..=17).contains(&n))
        || (n == 10 && lens == [3, 3, 4] && nanp_digit(0) && nanp_digit(3))
        || (n == 11 && lens == [1, 3, 3, 4] && d[0] == b'1' && nanp_digit(1) && nanp_digit(4))
    {
        (0.75, false)
    } else if d[0] == b'0'
        && d[1] != b'0'
        && (9..=12).contains(&n)
        && k >= 2
        && (2..=5).contains(&lens[0])
        && lens[1..].iter().all(|l| (2..=8).contains(l))
        && !date_like(lens, d, datey)
    {
        (0.70, false)
    } else if !date_like(lens, d, datey) {
        (0.70, true)
    } else {
        return None;
    })
}

fn try_at(run: &Run<'_>, s: usize, sink: &mut Sink<'_>) -> Option<usize> {
    let g = run.g(s);
    if !g.digits {
        return None;
    }
    let bytes = run.bytes;
    let (mut plus, mut paren) = (false, false);
    let start = if s == 0 {
        match g.start.checked_sub(1).map(|i| bytes[i]) {
            Some(b'+') => {
                plus = true;
                g.start - 1
            }
            Some(b'(') => {
                paren = true;
                g.start - 1
            }
            _ => g.start,
        }
    } else {
        if !run.starts_clean(s) {
            return None;
        }
        if run.sep(s).ends_with(b"(") {
            paren = true;
            g.start - 1
        } else {
            g.start
        }
    };
    if !boundary_before(run.text, start) {
        return None;
    }
    if paren && !(s + 1 < run.n && run.sep(s + 1).starts_with(b")")) {
        return None;
    }
    let mut buf = [0u8; 15];
    let mut lens = [0usize; 8];
    let (mut n, mut k) = (0, 0);
    let mut datey = true;
    // Where the number could end: after each digit group, with what was read up to it.
    // A run of groups longer than a phone number (two numbers in a row) is read up to
    // the 15-digit cap, and the longest end that makes a valid number wins.
    let mut ends: [(usize, usize, usize, bool); 8] = [(0, 0, 0, false); 8];
    for i in s..run.n {
        let gi = run.g(i);
        if !gi.digits {
            break;
        }
        if i > s {
            let sep = run.sep(i);
            if sep.contains(&b':') {
                break;
            }
            datey &= matches!(sep, b"." | b"/" | b"-");
            // `+44 (0)20 …`: the bracketed trunk zero is not dialled.
            if plus && i == s + 1 && run.str(i) == "0" && sep.ends_with(b"(") {
                continue;
            }
        }
        if n + gi.len() > buf.len() || k == lens.len() {
            break;
        }
        buf[n..n + gi.len()].copy_from_slice(&bytes[gi.start..gi.end]);
        n += gi.len();
        lens[k] = gi.len();
        ends[k] = (i, n, k + 1, datey);
        k += 1;
    }
    let mut candidates = ends[..k].iter().rev().filter_map(|&(e, n, k, datey)| {
        if !run.ends_clean(e) || n < 7 {
            return None;
        }
        classify(&buf[..n], &lens[..k], plus, datey).map(|c| (e, c))
    });
    // The longest end that is a number in its own right; else the longest that is one
    // with a context word.
    let first = candidates.next();
    let strong = match first {
        Some((_, (_, false))) => first,
        _ => candidates.find(|(_, (_, required))| !required),
    };
    let (e, (base, required)) = strong.or(first)?;
    let span = start..run.g(e).end;
    let ev = sink.evidence(start, Tag::Phone);
    sink.report_with(Kind::Phone, span, base, ev, required, DET)
        .then_some(e)
}
