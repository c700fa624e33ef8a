//! Driving licence numbers, reported only after licence context (`driver's license`,
//! `driving licence`, `DL`, `Führerschein`, `permis de conduire`…):
//! * UK DVLA (16 characters: surname `[A-Z9]{5}`, `YMMDDY` birth code with month + 50
//!   for women, initials `[A-Z9]{2}`, a digit, two check characters) scores higher;
//! * US state shapes: 1–2 letters then 4–14 digits (`D1234567`, `A1234567890123`),
//!   7–12 digits, or dash-joined forms such as `A123-4567-8901-23` / `S530-460-78-123-0`.

use super::Kind;
use super::context::Tag;
use super::dob::valid_date;
use super::scan::{Run, Sink};

const DET: &str = "pii.drivers_license";

/// UK DVLA driving licence number.
pub(crate) fn dvla(s: &[u8]) -> bool {
    if s.len() != 16 {
        return false;
    }
    let surname_ok = s[..5].iter().all(|&b| b.is_ascii_uppercase() || b == b'9') && s[0] != b'9';
    let digits_ok = s[5..11].iter().all(u8::is_ascii_digit);
    if !surname_ok || !digits_ok {
        return false;
    }
    let v = |i: usize| u32::from(s[i] - b'0');
    let month = v(6) * 10 + v(7);
    let month = if month > 50 { month - 50 } else { month };
    let day = v(8) * 10 + v(9);
    let year = 1900 + v(5) * 10 + v(10);
    valid_date(year, month, day)
        && s[11..13]
            .iter()
            .all(|&b| b.is_ascii_uppercase() || b == b'9')
        && s[13].is_ascii_digit()
        && s[14..16]
            .iter()
            .all(|&b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// A US-style licence number (compact).
fn us_shape(s: &[u8]) -> bool {
    let letters = s.iter().take_while(|b| b.is_ascii_uppercase()).count();
    let rest = &s[letters..];
    let digits = rest.iter().all(u8::is_ascii_digit);
    match letters {
        0 => digits && (7..=12).contains(&rest.len()),
        1 | 2 => digits && (4..=14).contains(&rest.len()),
        _ => false,
    }
}

pub(crate) fn check(run: &Run<'_>, sink: &mut Sink<'_>) {
    let mut s = 0;
    while s < run.n {
        let next = candidate(run, s);
        if let Some((e, base)) = next {
            let span = run.g(s).start..run.g(e).end;
            if sink.report(Kind::DriversLicense, span, base, Tag::License, true, DET) {
                s = e + 1;
                continue;
            }
        }
        s += 1;
    }
}

fn candidate(run: &Run<'_>, s: usize) -> Option<(usize, f32)> {
    if !run.starts_clean(s) {
        return None;
    }
    let g = run.g(s);
    let first = &run.bytes[g.start..g.end];
    if run.ends_clean(s) {
        if dvla(first) {
            return Some((s, 0.95));
        }
        if us_shape(first) {
            return Some((s, 0.85));
        }
    }
    // Dash-joined: letter+digits head, then digit groups, 8–16 alphanumerics in all.
    let head_ok = first.first().is_some_and(u8::is_ascii_uppercase)
        && first[1..].iter().all(u8::is_ascii_digit)
        && first.len() >= 2;
    if !head_ok {
        return None;
    }
    let mut total = first.len();
    for e in s + 1..run.n {
        if run.sep(e) != b"-" || !run.g(e).digits {
            return None;
        }
        total += run.g(e).len();
        if total > 16 {
            return None;
        }
        if total >= 8 && run.ends_clean(e) {
            return Some((e, 0.85));
        }
    }
    None
}
