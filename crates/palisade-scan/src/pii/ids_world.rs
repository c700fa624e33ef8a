//! National ids outside Europe's core, each with its own validation:
//! IN Aadhaar (12 digits, not starting 0/1, Verhoeff; compact only with context),
//! BR CPF (two mod-11 check digits, not all one digit), CA SIN (Luhn, context required),
//! CN resident id (region, birth date, ISO 7064 MOD 11-2 with `X`), SE personnummer
//! (birth date or samordningsnummer day + 60, Luhn over ten digits; compact only with
//! context).

use super::checksum::{dv, iso7064_mod11_2, luhn, verhoeff};
use super::context::Tag;
use super::dob::valid_date;
use super::ids_eu::{emit, joined, run_schemes, single_group};
use super::scan::{Run, Sink, boundary_after};

pub(crate) fn check(run: &Run<'_>, sink: &mut Sink<'_>) {
    run_schemes(
        run,
        sink,
        &[cn_resident_id, cpf, aadhaar, personnummer, sin],
    );
}

pub(crate) fn aadhaar_valid(d: &[u8]) -> bool {
    d.len() == 12 && (b'2'..=b'9').contains(&d[0]) && verhoeff(d)
}

fn aadhaar(run: &Run<'_>, s: usize, sink: &mut Sink<'_>) -> Option<usize> {
    let e = joined(run, s, &[b" ", b"-"], 12, |e, d| {
        aadhaar_valid(d).then_some(e)
    })?;
    let compact = e == s;
    if !compact && !(s..=e).all(|i| run.g(i).len() == 4) {
        return None;
    }
    emit(
        run,
        sink,
        (s, e),
        0.80,
        Tag::Aadhaar,
        compact,
        "pii.national_id.in_aadhaar",
    )
}

pub(crate) fn cpf_valid(d: &[u8]) -> bool {
    if d.len() != 11 || d.iter().all(|&b| b == d[0]) {
        return false;
    }
    let check = |n: usize| {
        let sum: u32 = d[..n]
            .iter()
            .enumerate()
            .map(|(i, &b)| dv(b) * (n as u32 + 1 - i as u32))
            .sum();
        (sum * 10) % 11 % 10
    };
    check(9) == dv(d[9]) && check(10) == dv(d[10])
}

fn cpf(run: &Run<'_>, s: usize, sink: &mut Sink<'_>) -> Option<usize> {
    const DET: &str = "pii.national_id.br_cpf";
    let mut buf = [0u8; 11];
    let lens = |i: usize, l: usize| i < run.n && run.g(i).digits && run.g(i).len() == l;
    if lens(s, 3) && lens(s + 1, 3) && lens(s + 2, 3) && lens(s + 3, 2) {
        let formatted = run.sep(s + 1) == b"." && run.sep(s + 2) == b"." && run.sep(s + 3) == b"-";
        if formatted && run.starts_clean(s) && run.ends_clean(s + 3) {
            run.digits(s, s + 3, &mut buf)?;
            if cpf_valid(&buf) {
                return emit(run, sink, (s, s + 3), 0.85, Tag::Cpf, false, DET);
            }
        }
    }
    if lens(s, 11) && run.starts_clean(s) && run.ends_clean(s) {
        run.digits(s, s, &mut buf)?;
        if cpf_valid(&buf) {
            return emit(run, sink, (s, s), 0.70, Tag::Cpf, false, DET);
        }
    }
    None
}

fn sin(run: &Run<'_>, s: usize, sink: &mut Sink<'_>) -> Option<usize> {
    let e = joined(run, s, &[b" ", b"-"], 9, |e, d| {
        (d.len() == 9 && d[0] != b'8' && luhn(d)).then_some(e)
    })?;
    if e != s && !(s..=e).all(|i| run.g(i).len() == 3) {
        return None;
    }
    emit(
        run,
        sink,
        (s, e),
        0.85,
        Tag::Sin,
        true,
        "pii.national_id.ca_sin",
    )
}

/// CN resident identity card number (18 characters).
pub(crate) fn cn_id_valid(c: &[u8]) -> bool {
    if c.len() != 18 || !c[..17].iter().all(u8::is_ascii_digit) || !(b'1'..=b'8').contains(&c[0]) {
        return false;
    }
    let n = |r: std::ops::Range<usize>| c[r].iter().fold(0, |a, &b| a * 10 + dv(b));
    let (y, m, d) = (n(6..10), n(10..12), n(12..14));
    (1900..=2099).contains(&y) && valid_date(y, m, d) && iso7064_mod11_2(&c[..17], c[17])
}

fn cn_resident_id(run: &Run<'_>, s: usize, sink: &mut Sink<'_>) -> Option<usize> {
    let scheme = (18, cn_id_valid as fn(&[u8]) -> bool);
    single_group(
        run,
        s,
        sink,
        scheme,
        Tag::CnId,
        "pii.national_id.cn_resident_id",
    )
}

/// Ten digits `YYMMDDNNNC`: a date (day + 60 for samordningsnummer) and Luhn.
pub(crate) fn personnummer_valid(d: &[u8], century: Option<u32>) -> bool {
    if d.len() != 10 {
        return false;
    }
    let v = |i: usize| dv(d[i]) * 10 + dv(d[i + 1]);
    let (yy, m, mut day) = (v(0), v(2), v(4));
    if day > 60 {
        day -= 60;
    }
    let year = century.unwrap_or(if yy <= 30 { 20 } else { 19 }) * 100 + yy;
    valid_date(year, m, day) && luhn(d)
}

fn personnummer(run: &Run<'_>, s: usize, sink: &mut Sink<'_>) -> Option<usize> {
    const DET: &str = "pii.national_id.se_personnummer";
    let g = run.g(s);
    if !g.digits || !run.starts_clean(s) || !matches!(g.len(), 6 | 8 | 10 | 12) {
        return None;
    }
    let head = &run.bytes[g.start..g.end];
    let (century, date) = match head.len() {
        8 | 12 => (Some(dv(head[0]) * 10 + dv(head[1])), &head[2..]),
        _ => (None, head),
    };
    if century.is_some_and(|c| !(18..=20).contains(&c)) {
        return None;
    }
    let mut buf = [0u8; 10];
    if date.len() == 10 {
        // Compact: context required.
        buf.copy_from_slice(date);
        if run.ends_clean(s) && personnummer_valid(&buf, century) {
            return emit(run, sink, (s, s), 0.85, Tag::Personnummer, true, DET);
        }
        return None;
    }
    buf[..6].copy_from_slice(date);
    // `YYMMDD-NNNC` inside the run, or `YYMMDD+NNNC` (born 100+ years ago) after it.
    let (e, tail_start) = if s + 1 < run.n && run.sep(s + 1) == b"-" && run.g(s + 1).len() == 4 {
        (s + 1, run.g(s + 1).start)
    } else if s + 1 == run.n && run.bytes.get(g.end) == Some(&b'+') {
        (s, g.end + 1)
    } else {
        return None;
    };
    let tail = run.bytes.get(tail_start..tail_start + 4)?;
    if !tail.iter().all(u8::is_ascii_digit) || !boundary_after(run.text, tail_start + 4) {
        return None;
    }
    if e != s && !run.ends_clean(e) {
        return None;
    }
    buf[6..].copy_from_slice(tail);
    if !personnummer_valid(&buf, century) {
        return None;
    }
    let span = g.start..tail_start + 4;
    sink.report(
        super::Kind::NationalId,
        span,
        0.85,
        Tag::Personnummer,
        false,
        DET,
    )
    .then_some(e)
}
