//! Passports. Two ways in:
//! * a passport-number shape (6–9 upper-case letters/digits with ≥ 5 digits, one token:
//!   US/UK `123456789`, DE `C01X00T47`, FR `12AB34567`, IN `J8369854`) reported only
//!   when passport context (`passport`, `Reisepass`, `passeport`, `pasaporte`…) precedes;
//! * an ICAO 9303 TD3 machine-readable zone: a 44-character second line whose document
//!   number, birth date, expiry, personal number and composite check digits all verify
//!   (reported without context, with the `P<` first line when present).

use super::Kind;
use super::checksum::mrz_check;
use super::context::Tag;
use super::dob::valid_date;
use super::scan::{Run, Sink, boundary_after, boundary_before};

/// Two filler characters, searched for in every text: built once (a `memmem` search
/// function builds its searcher on every call).
static FILLERS: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"<<"));

const DET: &str = "pii.passport";
const DET_MRZ: &str = "pii.passport.mrz";

/// A single-token passport number shape.
pub(crate) fn number_shape(s: &[u8]) -> bool {
    (6..=9).contains(&s.len())
        && s.iter()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        && s.iter().filter(|b| b.is_ascii_digit()).count() >= 5
}

pub(crate) fn check(run: &Run<'_>, sink: &mut Sink<'_>) {
    for s in 0..run.n {
        let g = run.g(s);
        if number_shape(&run.bytes[g.start..g.end]) && run.starts_clean(s) && run.ends_clean(s) {
            sink.report(
                Kind::Passport,
                g.start..g.end,
                0.90,
                Tag::Passport,
                true,
                DET,
            );
        }
    }
}

/// Finds TD3 MRZ lines around every `<<`.
pub(crate) fn scan_mrz(sink: &mut Sink<'_>) {
    let text = sink.text;
    let bytes = text.as_bytes();
    let mut floor = 0;
    for hit in FILLERS.find_iter(bytes) {
        if hit < floor {
            continue;
        }
        let line_start = memchr::memrchr(b'\n', &bytes[..hit]).map_or(0, |i| i + 1);
        let line_end = memchr::memchr(b'\n', &bytes[hit..]).map_or(bytes.len(), |i| hit + i);
        floor = line_end;
        let (start, end) = trim(bytes, line_start, line_end);
        if end - start != 44 || !td3_line2(&bytes[start..end]) {
            continue;
        }
        // The first line, when it is the line just before.
        let mut span_start = start;
        if line_start >= 1 {
            let prev_start = memchr::memrchr(b'\n', &bytes[..line_start - 1]).map_or(0, |i| i + 1);
            let (ps, pe) = trim(bytes, prev_start, line_start - 1);
            let prev = &bytes[ps..pe];
            if prev.len() == 44 && prev[0] == b'P' && prev.iter().all(|&b| mrz_char(b)) {
                span_start = ps;
            }
        }
        if boundary_before(text, span_start) && boundary_after(text, end) {
            sink.push(Kind::Passport, span_start..end, 0.99, DET_MRZ);
        }
    }
}

fn trim(bytes: &[u8], mut s: usize, mut e: usize) -> (usize, usize) {
    while s < e && bytes[s].is_ascii_whitespace() {
        s += 1;
    }
    while e > s && bytes[e - 1].is_ascii_whitespace() {
        e -= 1;
    }
    (s, e)
}

fn mrz_char(b: u8) -> bool {
    b.is_ascii_digit() || b.is_ascii_uppercase() || b == b'<'
}

fn yymmdd(s: &[u8]) -> bool {
    if !s.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let v = |i: usize| u32::from(s[i] - b'0') * 10 + u32::from(s[i + 1] - b'0');
    valid_date(2000 + v(0), v(2), v(4))
}

/// TD3 line 2: number(9) check, nationality(3), birth(6) check, sex, expiry(6) check,
/// personal number(14) check, composite check.
pub(crate) fn td3_line2(l: &[u8]) -> bool {
    l.len() == 44
        && l.iter().all(|&b| mrz_char(b))
        && l[10..13]
            .iter()
            .all(|&b| b.is_ascii_uppercase() || b == b'<')
        && matches!(l[20], b'M' | b'F' | b'X' | b'<')
        && yymmdd(&l[13..19])
        && yymmdd(&l[21..27])
        && mrz_check(&l[0..9], l[9])
        && mrz_check(&l[13..19], l[19])
        && mrz_check(&l[21..27], l[27])
        && mrz_check(&l[28..42], l[42])
        && composite(l)
}

fn composite(l: &[u8]) -> bool {
    let mut field = [0u8; 39];
    field[..10].copy_from_slice(&l[0..10]);
    field[10..17].copy_from_slice(&l[13..20]);
    field[17..39].copy_from_slice(&l[21..43]);
    mrz_check(&field, l[43])
}
