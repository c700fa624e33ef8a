//! Dates of birth: a calendar-valid date (years 1900–2099) in one of the usual shapes,
//! reported only when birth context (`born`, `DOB`, `date of birth`, `geboren`, `née`,
//! `nacido`, `data di nascita`…) precedes it. Shapes: `1990-04-12`, `1990/04/12`,
//! `12/04/1990`, `04/12/1990`, `12.04.1990`, `12-04-1990`, two-digit years,
//! `April 12, 1990`, `Apr 12th 1990`, `12 April 1990`, `12. April 1990`,
//! `12 de abril de 1990`; month names in English, German, French, Spanish, Italian
//! and Dutch.

use super::Kind;
use super::context::Tag;
use super::scan::{Run, Sink, boundary_after, boundary_before};

const DET: &str = "pii.date_of_birth";

const MONTHS: &[(&str, u8)] = &[
    ("january", 1),
    ("february", 2),
    ("march", 3),
    ("april", 4),
    ("may", 5),
    ("june", 6),
    ("july", 7),
    ("august", 8),
    ("september", 9),
    ("october", 10),
    ("november", 11),
    ("december", 12),
    ("jan", 1),
    ("feb", 2),
    ("mar", 3),
    ("apr", 4),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("sep", 9),
    ("sept", 9),
    ("oct", 10),
    ("nov", 11),
    ("dec", 12),
    ("januar", 1),
    ("februar", 2),
    ("märz", 3),
    ("mai", 5),
    ("juni", 6),
    ("juli", 7),
    ("oktober", 10),
    ("dezember", 12),
    ("janvier", 1),
    ("février", 2),
    ("fevrier", 2),
    ("mars", 3),
    ("avril", 4),
    ("juin", 6),
    ("juillet", 7),
    ("août", 8),
    ("aout", 8),
    ("septembre", 9),
    ("octobre", 10),
    ("novembre", 11),
    ("décembre", 12),
    ("decembre", 12),
    ("enero", 1),
    ("febrero", 2),
    ("marzo", 3),
    ("abril", 4),
    ("mayo", 5),
    ("junio", 6),
    ("julio", 7),
    ("agosto", 8),
    ("septiembre", 9),
    ("setiembre", 9),
    ("octubre", 10),
    ("noviembre", 11),
    ("diciembre", 12),
    ("gennaio", 1),
    ("febbraio", 2),
    ("aprile", 4),
    ("maggio", 5),
    ("giugno", 6),
    ("luglio", 7),
    ("settembre", 9),
    ("ottobre", 10),
    ("dicembre", 12),
    ("januari", 1),
    ("februari", 2),
    ("maart", 3),
    ("mei", 5),
    ("augustus", 8),
];

fn month_named(word: &str) -> Option<u8> {
    let word = word.strip_suffix('.').unwrap_or(word);
    MONTHS
        .iter()
        .find(|(name, _)| name.len() == word.len() && name.eq_ignore_ascii_case(word))
        .map(|(_, m)| *m)
}

fn num(s: &[u8]) -> u32 {
    s.iter().fold(0, |a, &b| a * 10 + u32::from(b - b'0'))
}

fn year(s: &[u8]) -> Option<u32> {
    match s.len() {
        4 => Some(num(s)).filter(|y| (1900..=2099).contains(y)),
        2 => Some(match num(s) {
            yy @ 0..=30 => 2000 + yy,
            yy => 1900 + yy,
        }),
        _ => None,
    }
}

pub(crate) fn valid_date(y: u32, m: u32, d: u32) -> bool {
    let leap = (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

pub(crate) fn check(run: &Run<'_>, sink: &mut Sink<'_>) {
    for s in 0..run.n {
        if !run.bytes[run.g(s).start].is_ascii_digit() || !run.starts_clean(s) {
            continue;
        }
        let found = numeric(run, s)
            .or_else(|| day_month_year(run, s))
            .or_else(|| month_day_year(run, s));
        if let Some(span) = found {
            let ev = sink.evidence(span.start, Tag::Dob);
            sink.report_with(Kind::DateOfBirth, span, 0.90, ev, true, DET);
        }
    }
}

/// `Y-M-D`, `D.M.Y`, `D/M/Y`, `M/D/Y` (either reading valid), 2- or 4-digit years.
fn numeric(run: &Run<'_>, s: usize) -> Option<std::ops::Range<usize>> {
    let e = s + 2;
    if e >= run.n || !(s..=e).all(|i| run.g(i).digits) || !run.ends_clean(e) {
        return None;
    }
    let sep = run.sep(s + 1);
    if !matches!(sep, b"-" | b"/" | b".") || run.sep(e) != sep {
        return None;
    }
    let part = |i: usize| run.str(i).as_bytes();
    let (a, b, c) = (part(s), part(s + 1), part(e));
    let ok = if a.len() == 4 && b.len() <= 2 && c.len() <= 2 {
        year(a).is_some_and(|y| valid_date(y, num(b), num(c)))
    } else if a.len() <= 2 && b.len() <= 2 {
        year(c).is_some_and(|y| valid_date(y, num(b), num(a)) || valid_date(y, num(a), num(b)))
    } else {
        false
    };
    ok.then(|| run.g(s).start..run.g(e).end)
}

/// Skips `n` spaces at most; returns the new position.
fn skip_spaces(b: &[u8], mut i: usize, max: usize) -> usize {
    let start = i;
    while i < b.len() && b[i] == b' ' && i - start < max {
        i += 1;
    }
    i
}

/// A word of letters (ASCII or not) starting at `i`; returns its end.
fn word_end(text: &str, i: usize) -> usize {
    text.get(i..)
        .map(|rest| {
            i + rest
                .char_indices()
                .find(|(_, c)| !c.is_alphabetic())
                .map_or(rest.len(), |(j, _)| j)
        })
        .unwrap_or(i)
}

fn digits_at(b: &[u8], i: usize, max: usize) -> usize {
    let mut j = i;
    while j < b.len() && b[j].is_ascii_digit() && j - i <= max {
        j += 1;
    }
    j
}

/// Day (1–2 digits, optional `st/nd/rd/th`), then an optional `.`.
fn day_at(b: &[u8], i: usize) -> Option<(u32, usize)> {
    let j = digits_at(b, i, 2);
    if j == i || j - i > 2 {
        return None;
    }
    let day = num(&b[i..j]);
    let mut k = j;
    if k + 2 <= b.len() && matches!(&b[k..k + 2], b"st" | b"nd" | b"rd" | b"th") {
        k += 2;
    }
    if b.get(k) == Some(&b'.') {
        k += 1;
    }
    Some((day, k))
}

/// Skips an optional Spanish/Portuguese `de`.
fn skip_de(b: &[u8], i: usize) -> usize {
    if b.len() >= i + 3 && b[i..i + 3].eq_ignore_ascii_case(b"de ") {
        skip_spaces(b, i + 3, 2)
    } else {
        i
    }
}

fn year_at(text: &str, i: usize) -> Option<(u32, usize)> {
    let b = text.as_bytes();
    let j = digits_at(b, i, 4);
    if j - i != 4 || !boundary_after(text, j) {
        return None;
    }
    year(&b[i..j]).map(|y| (y, j))
}

/// `12 April 1990`, `12. April 1990`, `12th of April, 1990`, `12 de abril de 1990`.
fn day_month_year(run: &Run<'_>, s: usize) -> Option<std::ops::Range<usize>> {
    let (text, b) = (run.text, run.bytes);
    let start = run.g(s).start;
    let (day, mut i) = day_at(b, start)?;
    i = skip_spaces(b, i, 2);
    if i == start || b.len() < i + 3 {
        return None;
    }
    if b[i..i + 3].eq_ignore_ascii_case(b"of ") {
        i = skip_spaces(b, i + 3, 2);
    }
    i = skip_de(b, i);
    let we = word_end(text, i);
    let mut mend = we;
    if b.get(mend) == Some(&b'.') {
        mend += 1;
    }
    let month = month_named(text.get(i..mend)?)?;
    i = mend;
    if b.get(i) == Some(&b',') {
        i += 1;
    }
    i = skip_de(b, skip_spaces(b, i, 2));
    let (y, end) = year_at(text, i)?;
    valid_date(y, u32::from(month), day).then_some(start..end)
}

/// `April 12, 1990`, `Apr. 12th 1990`: the month word precedes the run.
fn month_day_year(run: &Run<'_>, s: usize) -> Option<std::ops::Range<usize>> {
    let (text, b) = (run.text, run.bytes);
    let dstart = run.g(s).start;
    let mut i = dstart;
    while i > 0 && b[i - 1] == b' ' && dstart - i < 2 {
        i -= 1;
    }
    if i == dstart {
        return None;
    }
    let mut wend = i;
    if wend > 0 && b[wend - 1] == b'.' {
        wend -= 1;
    }
    let wstart = text
        .get(..wend)?
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_alphabetic())
        .last()
        .map(|(j, _)| j)?;
    let month = month_named(text.get(wstart..wend)?)?;
    if !boundary_before(text, wstart) {
        return None;
    }
    let (day, mut k) = day_at(b, dstart)?;
    if b.get(k) == Some(&b',') {
        k += 1;
    }
    let k2 = skip_spaces(b, k, 2);
    if k2 == k && b.get(k - 1) != Some(&b',') {
        return None;
    }
    let (y, end) = year_at(text, k2)?;
    valid_date(y, u32::from(month), day).then_some(wstart..end)
}
