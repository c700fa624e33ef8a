//! The `o200k_base` pre-tokenizer: cuts a text into the pieces tiktoken's regex
//! (`O200K_BASE_PAT_STR`) matches, which BPE then encodes one by one, without a regex
//! engine.
//!
//! tiktoken runs that pattern with `fancy-regex` (it has a look-ahead, `\s+(?!\S)`),
//! whose backtracking VM made the split most of a prompt's counting time (~15 µs of
//! ~18 per 1 KB). The pattern's seven alternatives are simple enough to follow by hand:
//! each function below is one alternative, tried in the pattern's order, with the
//! backtracking the regex would do spelled out. The character classes come from the
//! same Unicode tables the regex uses (`regex-syntax`'s), so the pieces are the same by
//! construction; the tests compare them with the regex's on arbitrary text.
//!
//! ```text
//! 1  [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//! 2  [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//! 3  \p{N}{1,3}
//! 4   ?[^\s\p{L}\p{N}]+[\r\n/]*
//! 5  \s*[\r\n]+
//! 6  \s+(?!\S)
//! 7  \s+
//! ```

use std::sync::OnceLock;

use regex_syntax::hir::{Class, HirKind};

/// `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`: what may start a capitalised word.
const UPPER: u8 = 1;
/// `[\p{Ll}\p{Lm}\p{Lo}\p{M}]`.
const LOWER: u8 = 2;
const LETTER: u8 = 4;
const NUMBER: u8 = 8;
const SPACE: u8 = 16;

/// Each class's ranges, and its bits for ASCII at a glance.
struct Classes {
    ascii: [u8; 128],
    ranges: Vec<(u8, Vec<(char, char)>)>,
}

fn classes() -> &'static Classes {
    static CLASSES: OnceLock<Classes> = OnceLock::new();
    CLASSES.get_or_init(|| {
        let ranges: Vec<(u8, Vec<(char, char)>)> = [
            (UPPER, r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]"),
            (LOWER, r"[\p{Ll}\p{Lm}\p{Lo}\p{M}]"),
            (LETTER, r"\p{L}"),
            (NUMBER, r"\p{N}"),
            (SPACE, r"\s"),
        ]
        .into_iter()
        .map(|(bit, pattern)| (bit, unicode_ranges(pattern)))
        .collect();
        let mut ascii = [0u8; 128];
        for (b, bits) in (0u8..).zip(ascii.iter_mut()) {
            *bits = of_ranges(&ranges, char::from(b));
        }
        Classes { ascii, ranges }
    })
}

/// The ranges of a one-class pattern (a constant above: it always parses to a class).
fn unicode_ranges(pattern: &str) -> Vec<(char, char)> {
    match regex_syntax::parse(pattern).map(|hir| hir.into_kind()) {
        Ok(HirKind::Class(Class::Unicode(class))) => class
            .ranges()
            .iter()
            .map(|r| (r.start(), r.end()))
            .collect(),
        _ => Vec::new(),
    }
}

fn of_ranges(ranges: &[(u8, Vec<(char, char)>)], c: char) -> u8 {
    ranges
        .iter()
        .filter(|(_, r)| {
            let i = r.partition_point(|&(_, end)| end < c);
            r.get(i).is_some_and(|&(start, _)| start <= c)
        })
        .fold(0, |bits, (bit, _)| bits | bit)
}

impl Classes {
    #[inline]
    fn bits(&self, c: char) -> u8 {
        match self.ascii.get(c as usize) {
            Some(&b) => b,
            None => of_ranges(&self.ranges, c),
        }
    }
}

#[cfg(test)]
fn bits(c: char) -> u8 {
    classes().bits(c)
}

/// A text being cut (positions are byte offsets), and the classes.
struct Cursor<'t> {
    text: &'t str,
    classes: &'static Classes,
}

impl Cursor<'_> {
    /// The character at byte `i` (ASCII read straight from the byte).
    #[inline]
    fn at(&self, i: usize) -> Option<char> {
        match self.text.as_bytes().get(i) {
            Some(&b) if b.is_ascii() => Some(char::from(b)),
            Some(_) => self.text.get(i..).and_then(|rest| rest.chars().next()),
            None => None,
        }
    }

    #[inline]
    fn bits(&self, c: char) -> u8 {
        self.classes.bits(c)
    }

    /// The end of the run of characters with one of `want` bits from `i`, and the
    /// start of the last one in it that also has `also` (if any).
    #[inline]
    fn run(&self, mut i: usize, want: u8, also: u8) -> (usize, Option<usize>) {
        let mut last = None;
        while let Some(c) = self.at(i) {
            let b = self.bits(c);
            if b & want == 0 {
                break;
            }
            if b & also != 0 {
                last = Some(i);
            }
            i += c.len_utf8();
        }
        (i, last)
    }

    /// `[^\r\n\p{L}\p{N}]` at `i`: its length.
    fn prefix_mark(&self, i: usize) -> Option<usize> {
        self.at(i)
            .filter(|&c| c != '\r' && c != '\n' && self.bits(c) & (LETTER | NUMBER) == 0)
            .map(char::len_utf8)
    }

    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)?` at `i`: where it ends.
    fn contraction(&self, i: usize) -> usize {
        let rest = self.text.get(i..).unwrap_or_default();
        let Some(after) = rest.strip_prefix('\'') else {
            return i;
        };
        let mut chars = after.chars();
        let (first, second) = (chars.next(), chars.next());
        let len = match (first, second) {
            (Some('s' | 'S' | 'ſ' | 't' | 'T' | 'm' | 'M' | 'd' | 'D'), _) => {
                first.map_or(0, char::len_utf8)
            }
            (Some('r' | 'R' | 'v' | 'V'), Some('e' | 'E')) | (Some('l' | 'L'), Some('l' | 'L')) => {
                2
            }
            _ => return i,
        };
        i + 1 + len
    }

    /// Alternative 1 after its optional prefix (at `j`): the upper-case run gives back
    /// characters until a lower-case one follows (`Lm`, `Lo` and marks are both).
    fn lower_word(&self, j: usize) -> Option<usize> {
        let (upper_end, last_both) = self.run(j, UPPER, LOWER);
        let k = match self.at(upper_end) {
            Some(c) if self.bits(c) & LOWER != 0 => upper_end,
            _ => last_both?,
        };
        let (end, _) = self.run(k, LOWER, 0);
        Some(self.contraction(end))
    }

    /// Alternative 2 after its optional prefix: at least one upper-case character.
    fn upper_word(&self, j: usize) -> Option<usize> {
        let (upper_end, _) = self.run(j, UPPER, 0);
        if upper_end == j {
            return None;
        }
        let (end, _) = self.run(upper_end, LOWER, 0);
        Some(self.contraction(end))
    }

    /// Alternatives 1 and 2: the optional prefix character taken first, then not.
    fn word(&self, i: usize, body: impl Fn(&Self, usize) -> Option<usize>) -> Option<usize> {
        if let Some(n) = self.prefix_mark(i)
            && let Some(end) = body(self, i + n)
        {
            return Some(end);
        }
        body(self, i)
    }

    /// Alternative 3: one to three digits.
    fn digits(&self, i: usize) -> Option<usize> {
        let mut end = i;
        for _ in 0..3 {
            match self.at(end) {
                Some(c) if self.bits(c) & NUMBER != 0 => end += c.len_utf8(),
                _ => break,
            }
        }
        (end > i).then_some(end)
    }

    /// Alternative 4: an optional space, punctuation and symbols, then line breaks and
    /// slashes.
    fn symbols(&self, i: usize) -> Option<usize> {
        let j = if self.at(i) == Some(' ') { i + 1 } else { i };
        let end = self.run_not(j, SPACE | LETTER | NUMBER);
        if end == j {
            return None;
        }
        let mut end = end;
        while let Some(c @ ('\r' | '\n' | '/')) = self.at(end) {
            end += c.len_utf8();
        }
        Some(end)
    }

    /// The end of the run of characters with none of the `none` bits from `i`.
    fn run_not(&self, mut i: usize, none: u8) -> usize {
        while let Some(c) = self.at(i) {
            if self.bits(c) & none != 0 {
                break;
            }
            i += c.len_utf8();
        }
        i
    }

    /// Alternatives 5 to 7 over the white space starting at `i`.
    fn space(&self, i: usize) -> Option<usize> {
        let mut end = i;
        let (mut last_break, mut last_start) = (None, i);
        while let Some(c) = self.at(end) {
            if self.bits(c) & SPACE == 0 {
                break;
            }
            if c == '\r' || c == '\n' {
                last_break = Some(end);
            }
            last_start = end;
            end += c.len_utf8();
        }
        if end == i {
            return None;
        }
        // 5: up to and including the run's last line break.
        if let Some(k) = last_break {
            return Some(k + 1);
        }
        // 6: to the end of the text, else all but the last character (which goes with
        // what follows); 7: a single character.
        if end == self.text.len() || last_start == i {
            Some(end)
        } else {
            Some(last_start)
        }
    }

    /// The end of the piece starting at `i` (every character starts one).
    fn piece(&self, i: usize) -> usize {
        self.word(i, Self::lower_word)
            .or_else(|| self.word(i, Self::upper_word))
            .or_else(|| self.digits(i))
            .or_else(|| self.symbols(i))
            .or_else(|| self.space(i))
            // No alternative matches a lone character (none does, see the tests): it
            // is a piece of its own, so the walk always moves on.
            .unwrap_or_else(|| i + self.at(i).map_or(1, char::len_utf8))
    }
}

/// Calls `piece` with each piece of `text`, in order (together they are `text`).
pub fn for_each_piece(text: &str, mut piece: impl FnMut(&str)) {
    let cursor = Cursor {
        text,
        classes: classes(),
    };
    let mut i = 0;
    while i < text.len() {
        let end = cursor.piece(i).clamp(i + 1, text.len());
        match text.get(i..end) {
            Some(p) => piece(p),
            None => break,
        }
        i = end;
    }
}

#[cfg(test)]
#[path = "split_tests.rs"]
mod tests;
