//! Text folding shared by the injection rules and the classifier: lower case, accents
//! stripped (compatibility decomposition minus combining marks), a few letters spelled
//! out (`ß` → `ss`), typographic quotes made plain and zero-width characters dropped.
//! [`Folded`] keeps, for every byte of the folded text, where it came from in the
//! original, so a match in folded text maps back to a span on original `char` boundaries.

use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// Folded text plus a byte-offset map back to the original.
#[derive(Debug, Clone, Default)]
pub struct Folded {
    /// The folded text.
    pub text: String,
    /// `origin[i]` is the byte offset in the original of the `char` that produced folded
    /// byte `i`. Unused when `ascii`.
    origin: Vec<u32>,
    /// The original was ASCII: folded byte `i` is original byte `i` (the common case,
    /// kept without writing and reading back a 4-byte entry per byte).
    ascii: bool,
}

impl Folded {
    /// Folds `original`. Offsets are kept as `u32`; inputs are scanned in bounded pieces
    /// far below 4 GiB, and longer inputs saturate instead of wrapping.
    pub fn new(original: &str) -> Folded {
        let mut folded = Folded::default();
        folded.fill(original);
        folded
    }

    /// Refolds into the existing buffers.
    pub fn fill(&mut self, original: &str) {
        self.text.clear();
        self.origin.clear();
        self.ascii = original.is_ascii();
        if self.ascii {
            self.text.push_str(original);
            self.text.make_ascii_lowercase();
            return;
        }
        self.text.reserve(original.len() + 8);
        self.origin.reserve(original.len() + 8);
        for (at, c) in original.char_indices() {
            let at = u32::try_from(at).unwrap_or(u32::MAX);
            if c.is_ascii() {
                self.text.push(c.to_ascii_lowercase());
                self.origin.push(at);
                continue;
            }
            let before = self.text.len();
            fold_char(c, &mut self.text);
            self.origin
                .extend(std::iter::repeat_n(at, self.text.len() - before));
        }
    }

    /// Maps a byte range of the folded text to a byte range of `original` (the text
    /// passed to [`Folded::new`]), widened to whole original characters.
    pub fn original_span(&self, original: &str, start: usize, end: usize) -> (usize, usize) {
        let origin = |i: usize| {
            let mapped = if self.ascii {
                Some(i).filter(|&i| i < self.text.len())
            } else {
                self.origin
                    .get(i)
                    .map(|&o| usize::try_from(o).unwrap_or(usize::MAX))
            };
            mapped.map_or(original.len(), |o| o.min(original.len()))
        };
        let s = origin(start);
        if end <= start {
            return (s, s);
        }
        let last = origin(end - 1);
        let e = original
            .get(last..)
            .and_then(|rest| rest.chars().next())
            .map_or(original.len(), |c| last + c.len_utf8());
        (s, e.max(s))
    }
}

/// Appends the folded form of `c` to `out`.
#[inline]
pub fn fold_char(c: char, out: &mut String) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    match c {
        // Invisible joiners and soft hyphens hide words from a matcher; drop them.
        '\u{00AD}' | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' => {}
        'ß' | 'ẞ' => out.push_str("ss"),
        'æ' | 'Æ' => out.push_str("ae"),
        'œ' | 'Œ' => out.push_str("oe"),
        'ø' | 'Ø' => out.push('o'),
        'ł' | 'Ł' => out.push('l'),
        'đ' | 'Đ' => out.push('d'),
        'ı' => out.push('i'),
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{2032}' => out.push('\''),
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{00AB}' | '\u{00BB}' | '\u{2033}' => {
            out.push('"');
        }
        '\u{2010}'..='\u{2015}' | '\u{2212}' => out.push('-'),
        '\u{00A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => {
            out.push(' ');
        }
        _ => {
            for lower in c.to_lowercase() {
                decompose_compatible(lower, |d| {
                    if !is_combining_mark(d) {
                        // Compatibility forms (fullwidth, ligatures) may decompose to
                        // upper case; fold once more.
                        for l in d.to_lowercase() {
                            out.push(l);
                        }
                    }
                });
            }
        }
    }
}

/// Folds `text` without keeping the offset map.
pub fn fold_str(text: &str, out: &mut String) {
    out.clear();
    out.reserve(text.len());
    for c in text.chars() {
        fold_char(c, out);
    }
}
