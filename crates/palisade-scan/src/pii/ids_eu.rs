//! European national ids, each with its own validation:
//! UK NINO (prefix rules, suffix A–D), DE Steuer-ID (ISO 7064 MOD 11,10 + digit
//! frequency rule), FR NIR (key = 97 − n mod 97, Corsica 2A/2B), ES DNI/NIE (mod-23
//! check letter), IT codice fiscale (odd/even table check character, omocodia), NL BSN
//! (11-proof, context required). Also the shared group-joining helper.

use super::Kind;
use super::checksum::{dv, elfproef, iso7064_mod11_10, mod_decimal};
use super::context::Tag;
use super::scan::{Run, Sink};

/// Groups `s..=e`, all digits, joined by one uniform separator from `seps` (or a
/// single group); calls `f(e, digits)` at each clean end until it returns `Some`.
pub(crate) fn joined<T>(
    run: &Run<'_>,
    s: usize,
    seps: &[&[u8]],
    max: usize,
    mut f: impl FnMut(usize, &[u8]) -> Option<T>,
) -> Option<T> {
    let g = run.g(s);
    if !g.digits || !run.starts_clean(s) || g.len() > max {
        return None;
    }
    let mut buf = [0u8; 24];
    let mut n = run.digits(s, s, &mut buf)?;
    if run.ends_clean(s)
        && let Some(t) = f(s, &buf[..n])
    {
        return Some(t);
    }
    let sep = *seps
        .iter()
        .find(|sep| s + 1 < run.n && run.sep(s + 1) == **sep)?;
    for e in s + 1..run.n {
        let ge = run.g(e);
        if run.sep(e) != sep || !ge.digits || n + ge.len() > max.min(buf.len()) {
            return None;
        }
        buf[n..n + ge.len()].copy_from_slice(&run.bytes[ge.start..ge.end]);
        n += ge.len();
        if run.ends_clean(e)
            && let Some(t) = f(e, &buf[..n])
        {
            return Some(t);
        }
    }
    None
}

/// Concatenates groups `s..` joined by `sep` into `buf` up to `len` characters;
/// returns the last group when exactly `len` with a clean end.
pub(crate) fn alnum_joined(
    run: &Run<'_>,
    s: usize,
    sep: &[u8],
    len: usize,
    buf: &mut [u8],
) -> Option<usize> {
    if !run.starts_clean(s) || len > buf.len() {
        return None;
    }
    let mut n = 0;
    for e in s..run.n {
        let g = run.g(e);
        if (e > s && run.sep(e) != sep) || n + g.len() > len {
            return None;
        }
        buf[n..n + g.len()].copy_from_slice(&run.bytes[g.start..g.end]);
        n += g.len();
        if n == len {
            return run.ends_clean(e).then_some(e);
        }
    }
    None
}

type Scheme = fn(&Run<'_>, usize, &mut Sink<'_>) -> Option<usize>;

const SCHEMES: &[Scheme] = &[nino, steuer_id, nir, dni_nie, codice_fiscale, bsn];

pub(crate) fn check(run: &Run<'_>, sink: &mut Sink<'_>) {
    run_schemes(run, sink, SCHEMES);
}

pub(crate) fn run_schemes(run: &Run<'_>, sink: &mut Sink<'_>, schemes: &[Scheme]) {
    let mut s = 0;
    'outer: while s < run.n {
        for scheme in schemes {
            if let Some(e) = scheme(run, s, sink) {
                s = e + 1;
                continue 'outer;
            }
        }
        s += 1;
    }
}

/// Reports `s..=e` as a national id; returns `e` when reported.
pub(crate) fn emit(
    run: &Run<'_>,
    sink: &mut Sink<'_>,
    (s, e): (usize, usize),
    base: f32,
    tag: Tag,
    required: bool,
    det: &'static str,
) -> Option<usize> {
    let span = run.g(s).start..run.g(e).end;
    sink.report(Kind::NationalId, span, base, tag, required, det)
        .then_some(e)
}

/// A scheme written as one clean group of exactly `len` characters that `valid` accepts,
/// reported without context (its checksum is the evidence).
pub(crate) fn single_group(
    run: &Run<'_>,
    s: usize,
    sink: &mut Sink<'_>,
    (len, valid): (usize, fn(&[u8]) -> bool),
    tag: Tag,
    det: &'static str,
) -> Option<usize> {
    let g = run.g(s);
    if g.len() != len || !run.starts_clean(s) || !run.ends_clean(s) {
        return None;
    }
    if !valid(&run.bytes[g.start..g.end]) {
        return None;
    }
    emit(run, sink, (s, s), 0.90, tag, false, det)
}

pub(crate) fn nino_valid(s: &[u8]) -> bool {
    if !(s.len() == 8 || s.len() == 9) {
        return false;
    }
    let (a, b) = (s[0], s[1]);
    let prefix_ok = a.is_ascii_uppercase()
        && b.is_ascii_uppercase()
        && !b"DFIQUV".contains(&a)
        && !b"DFIOQUV".contains(&b)
        && ![b"BG", b"GB", b"KN", b"NK", b"NT", b"TN", b"ZZ"].contains(&&[a, b]);
    prefix_ok
        && s[2..8].iter().all(u8::is_ascii_digit)
        && (s.len() == 8 || (b'A'..=b'D').contains(&s[8]))
}

fn nino(run: &Run<'_>, s: usize, sink: &mut Sink<'_>) -> Option<usize> {
    let head = run.str(s).as_bytes();
    if head.len() < 2 || !head[0].is_ascii_uppercase() || !head[1].is_ascii_uppercase() {
        return None;
    }
    const DET: &str = "pii.national_id.uk_nino";
    if run.starts_clean(s) && run.ends_clean(s) && nino_valid(head) {
        return emit(run, sink, (s, s), 0.80, Tag::Nino, head.len() == 8, DET);
    }
    let mut buf = [0u8; 9];
    for len in [9, 8] {
        if let Some(e) = alnum_joined(run, s, b" ", len, &mut buf)
            && e > s
            && nino_valid(&buf[..len])
        {
            return emit(run, sink, (s, e), 0.80, Tag::Nino, len == 8, DET);
        }
    }
    None
}

/// DE Steuerliche Identifikationsnummer: 11 digits, first not 0, in the first ten
/// exactly one digit occurs twice or three times (never three in a row), check digit
/// ISO 7064 MOD 11,10.
pub(crate) fn steuer_id_valid(d: &[u8]) -> bool {
    if d.len() != 11 || d[0] == b'0' {
        return false;
    }
    let mut counts = [0u8; 10];
    for &b in &d[..10] {
        counts[dv(b) as usize] += 1;
    }
    let multi = counts.iter().filter(|&&c| c > 1).count();
    let max = counts.iter().copied().max().unwrap_or(0);
    let triple_run = d[..10].windows(3).any(|w| w[0] == w[1] && w[1] == w[2]);
    multi == 1 && (max == 2 || max == 3) && !triple_run && iso7064_mod11_10(d)
}

fn steuer_id(run: &Run<'_>, s: usize, sink: &mut Sink<'_>) -> Option<usize> {
    let e = joined(run, s, &[b" ", b"/"], 11, |e, d| {
        (d.len() == 11 && steuer_id_valid(d)).then_some(e)
    })?;
    emit(
        run,
        sink,
        (s, e),
        0.80,
        Tag::SteuerId,
        false,
        "pii.national_id.de_steuer_id",
    )
}

/// FR NIR (numéro de sécurité sociale): 13 characters + 2-digit key.
pub(crate) fn nir_valid(c: &[u8]) -> bool {
    if c.len() != 15 || !matches!(c[0], b'1' | b'2' | b'3' | b'4' | b'7' | b'8') {
        return false;
    }
    let mut digits = [0u8; 15];
    digits.copy_from_slice(c);
    match (c[5], c[6]) {
        (b'2', b'A' | b'a') => digits[5..7].copy_from_slice(b"19"),
        (b'2', b'B' | b'b') => digits[5..7].copy_from_slice(b"18"),
        _ => {}
    }
    if !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let month = dv(digits[3]) * 10 + dv(digits[4]);
    if !matches!(month, 1..=12 | 20..=42 | 50..=99) {
        return false;
    }
    let key = dv(digits[13]) * 10 + dv(digits[14]);
    u64::from(key) == 97 - mod_decimal(&digits[..13], 97)
}

fn nir(run: &Run<'_>, s: usize, sink: &mut Sink<'_>) -> Option<usize> {
    let first = run.bytes[run.g(s).start];
    if !matches!(first, b'1' | b'2' | b'3' | b'4' | b'7' | b'8') {
        return None;
    }
    let mut buf = [0u8; 15];
    let e = alnum_joined(run, s, b" ", 15, &mut buf)?;
    if !nir_valid(&buf) {
        return None;
    }
    emit(
        run,
        sink,
        (s, e),
        0.85,
        Tag::Nir,
        false,
        "pii.national_id.fr_nir",
    )
}

const DNI_LETTERS: &[u8; 23] = b"TRWAGMYFPDXBNJZSQVHLCKE";

/// ES DNI (`12345678Z`) or NIE (`X1234567L`), 9 characters.
pub(crate) fn dni_nie_valid(c: &[u8]) -> bool {
    if c.len() != 9 {
        return false;
    }
    let lead = match c[0] {
        b'X' => 0,
        b'Y' => 1,
        b'Z' => 2,
        b'0'..=b'9' => dv(c[0]),
        _ => return false,
    };
    if !c[1..8].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let n = u64::from(lead) * 10_000_000 + mod_decimal(&c[1..8], 100_000_000);
    DNI_LETTERS[(n % 23) as usize] == c[8].to_ascii_uppercase()
}

fn dni_nie(run: &Run<'_>, s: usize, sink: &mut Sink<'_>) -> Option<usize> {
    let mut buf = [0u8; 9];
    let e = alnum_joined(run, s, b"-", 9, &mut buf)
        .or_else(|| alnum_joined(run, s, b" ", 9, &mut buf))?;
    if !dni_nie_valid(&buf) || !buf[8].is_ascii_alphabetic() {
        return None;
    }
    let det = if buf[0].is_ascii_digit() {
        "pii.national_id.es_dni"
    } else {
        "pii.national_id.es_nie"
    };
    emit(run, sink, (s, e), 0.80, Tag::DniNie, false, det)
}

const CF_ODD: [u32; 26] = [
    1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23,
];
const OMOCODIA: &[u8; 10] = b"LMNPQRSTUV";

/// IT codice fiscale: `AAAAAA 00 A 00 A 000 A` with omocodia letters allowed in digit
/// places, month letter from `ABCDEHLMPRST`, and the odd/even check character.
pub(crate) fn codice_fiscale_valid(c: &[u8]) -> bool {
    if c.len() != 16 || !c.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let up = |i: usize| c[i].to_ascii_uppercase();
    let letter = |i: usize| up(i).is_ascii_uppercase();
    let digitish = |i: usize| up(i).is_ascii_digit() || OMOCODIA.contains(&up(i));
    let shape = (0..6).all(letter)
        && [6, 7, 9, 10, 12, 13, 14].into_iter().all(digitish)
        && b"ABCDEHLMPRST".contains(&up(8))
        && letter(11)
        && letter(15);
    if !shape {
        return false;
    }
    let mut sum = 0;
    for i in 0..15 {
        let b = up(i);
        let idx = if b.is_ascii_digit() {
            (b - b'0') as usize
        } else {
            (b - b'A') as usize
        };
        sum += if i % 2 == 0 { CF_ODD[idx] } else { idx as u32 };
    }
    u32::from(up(15) - b'A') == sum % 26
}

fn codice_fiscale(run: &Run<'_>, s: usize, sink: &mut Sink<'_>) -> Option<usize> {
    let scheme = (16, codice_fiscale_valid as fn(&[u8]) -> bool);
    single_group(
        run,
        s,
        sink,
        scheme,
        Tag::CodiceFiscale,
        "pii.national_id.it_codice_fiscale",
    )
}

fn bsn(run: &Run<'_>, s: usize, sink: &mut Sink<'_>) -> Option<usize> {
    let e = joined(run, s, &[b".", b" ", b"-"], 9, |e, d| {
        (d.len() == 9 && elfproef(d)).then_some(e)
    })?;
    emit(
        run,
        sink,
        (s, e),
        0.85,
        Tag::Bsn,
        true,
        "pii.national_id.nl_bsn",
    )
}
