//! Case and accent folding for term matching ("Crème Brûlée" → "creme brulee"): NFKD,
//! combining marks dropped, lower case, and a few letters with no decomposition
//! (ß → ss, ø → o, æ → ae, œ → oe, ł → l, đ → d). Folding is per character, so a span
//! of the folded text maps back to whole characters of the input.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::OnceLock;

use unicode_normalization::char::{decompose_compatible, is_combining_mark};

use super::bmp::BmpSet;
use super::map::{Builder, OffsetMap, ceil_boundary, floor_boundary};

/// A folded text and the way back to the text it was folded from.
#[derive(Debug)]
pub struct Folded<'a> {
    original: &'a str,
    text: Cow<'a, str>,
    map: OffsetMap,
}

impl Folded<'_> {
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The smallest char-boundary span of the input covering folded bytes `start..end`.
    pub fn original_span(&self, start: usize, end: usize) -> Range<usize> {
        let start = floor_boundary(&self.text, start);
        let end = ceil_boundary(&self.text, end.max(start));
        let span = self.map.map(start, end);
        let s = floor_boundary(self.original, span.start);
        s..ceil_boundary(self.original, span.end.max(s))
    }
}

/// Folds `text` fully (ASCII lower-cased too).
pub fn fold(text: &str) -> Folded<'_> {
    fold_with(text, true)
}

/// Folds only non-ASCII characters, leaving ASCII as is: for matchers that are already
/// ASCII case-insensitive. ASCII input is returned borrowed.
pub fn fold_non_ascii(text: &str) -> Folded<'_> {
    fold_with(text, false)
}

/// The folded form of a term, as a plain string.
pub fn fold_str(s: &str) -> String {
    fold(s).text.into_owned()
}

fn fold_with(text: &str, ascii: bool) -> Folded<'_> {
    if !ascii && text.is_ascii() {
        return Folded {
            original: text,
            text: Cow::Borrowed(text),
            map: OffsetMap::default(),
        };
    }
    let mut b = Builder::new(text);
    let mut scratch = String::new();
    let mut buf = [0u8; 4];
    for (i, c) in text.char_indices() {
        if c.is_ascii() {
            if ascii && c.is_ascii_uppercase() {
                b.replace(i..i + 1, c.to_ascii_lowercase().encode_utf8(&mut buf));
            }
            continue;
        }
        if unchanged().contains(c) {
            continue;
        }
        scratch.clear();
        fold_char(c, &mut scratch);
        let mut chars = scratch.chars();
        if chars.next() != Some(c) || chars.next().is_some() {
            b.replace(i..i + c.len_utf8(), &scratch);
        }
    }
    let (text_out, map) = match b.finish() {
        Some((t, m)) => (Cow::Owned(t), m),
        None => (Cow::Borrowed(text), OffsetMap::default()),
    };
    Folded {
        original: text,
        text: text_out,
        map,
    }
}

/// BMP characters that fold to themselves.
fn unchanged() -> &'static BmpSet {
    static UNCHANGED: OnceLock<BmpSet> = OnceLock::new();
    UNCHANGED.get_or_init(|| {
        BmpSet::build(|c| {
            let mut s = String::new();
            fold_char(c, &mut s);
            let mut chars = s.chars();
            chars.next() == Some(c) && chars.next().is_none()
        })
    })
}

fn fold_char(c: char, out: &mut String) {
    decompose_compatible(c, |d| {
        if is_combining_mark(d) {
            return;
        }
        for l in d.to_lowercase() {
            match l {
                'ß' => out.push_str("ss"),
                'ø' => out.push('o'),
                'æ' => out.push_str("ae"),
                'œ' => out.push_str("oe"),
                'ł' => out.push('l'),
                'đ' => out.push('d'),
                _ if is_combining_mark(l) => {}
                _ => out.push(l),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_and_accents() {
        assert_eq!(fold_str("Crème Brûlée"), "creme brulee");
        assert_eq!(fold_str("STRAẞE Øl"), "strasse ol");
        assert_eq!(fold_str("İstanbul"), "istanbul");
        assert_eq!(fold_str("ＡＢＣ"), "abc");
        assert_eq!(fold_str("Привет"), "привет");
    }

    #[test]
    fn spans_map_back() {
        let s = "Crème Brûlée!";
        let f = fold(s);
        assert_eq!(f.text(), "creme brulee!");
        let at = f.text().find("brulee").unwrap_or(0);
        let span = f.original_span(at, at + 6);
        assert_eq!(&s[span], "Brûlée");
    }

    #[test]
    fn ascii_untouched_in_non_ascii_mode() {
        let f = fold_non_ascii("Hello World");
        assert!(matches!(f.text, Cow::Borrowed(_)));
        assert_eq!(fold_non_ascii("Héllo").text(), "Hello");
    }
}
