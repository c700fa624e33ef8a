//! Homoglyph folding: Cyrillic, Greek, Armenian and Cherokee letters that look like
//! Latin ones are replaced by their Latin skeleton, but only inside a word that mixes
//! them with Latin letters and contains no other letter of those scripts ("ignоre" with
//! a Cyrillic о folds; "Москва", "καλημέρα" and "iPhoneом" stay as written).
//!
//! The table follows the skeleton idea of Unicode's confusables.txt (UTS #39): each
//! entry maps a letter to the Latin letter it is visually confusable with. It is a
//! compact hand-written subset covering the letters attackers actually use, not a copy
//! of the data file. Full-width and mathematical letters need no entry: NFKC already
//! made them Latin.

use std::ops::Range;
use std::sync::OnceLock;

use unicode_normalization::char::is_combining_mark;

use super::map::{Builder, OffsetMap};
use crate::finding::{Category, Finding};

pub const HOMOGLYPH_KIND: &str = "homoglyph";
pub const HOMOGLYPH_DETECTOR: &str = "normalize.homoglyph";
const SCORE: f32 = 0.9;

/// The Latin letter `c` is confusable with, for letters of the confusable scripts.
pub(crate) fn skeleton(c: char) -> Option<char> {
    Some(match c {
        // Cyrillic lower case
        'а' => 'a',
        'е' => 'e',
        'о' => 'o',
        'р' => 'p',
        'с' => 'c',
        'у' => 'y',
        'х' => 'x',
        'ѕ' => 's',
        'і' => 'i',
        'ј' => 'j',
        'ԁ' => 'd',
        'һ' => 'h',
        'ӏ' => 'l',
        'ԛ' => 'q',
        'ԝ' => 'w',
        'ү' => 'y',
        'ѵ' => 'v',
        'ɡ' => 'g',
        // Cyrillic upper case
        'А' => 'A',
        'В' => 'B',
        'Е' => 'E',
        'К' => 'K',
        'М' => 'M',
        'Н' => 'H',
        'О' => 'O',
        'Р' => 'P',
        'С' => 'C',
        'Т' => 'T',
        'Х' => 'X',
        'У' => 'Y',
        'Ү' => 'Y',
        'І' => 'I',
        'Ј' => 'J',
        'Ѕ' => 'S',
        'Ԛ' => 'Q',
        'Ԝ' => 'W',
        'Ӏ' => 'l',
        'Ѵ' => 'V',
        // Greek lower case
        'ο' => 'o',
        'α' => 'a',
        'ε' => 'e',
        'ι' => 'i',
        'κ' => 'k',
        'ν' => 'v',
        'ρ' => 'p',
        'τ' => 't',
        'υ' => 'u',
        'χ' => 'x',
        'γ' => 'y',
        'η' => 'n',
        'ϳ' => 'j',
        // Greek upper case
        'Α' => 'A',
        'Β' => 'B',
        'Ε' => 'E',
        'Ζ' => 'Z',
        'Η' => 'H',
        'Ι' => 'I',
        'Κ' => 'K',
        'Μ' => 'M',
        'Ν' => 'N',
        'Ο' => 'O',
        'Ρ' => 'P',
        'Τ' => 'T',
        'Υ' => 'Y',
        'Χ' => 'X',
        'Ϝ' => 'F',
        // Armenian
        'օ' => 'o',
        'ս' => 'u',
        'ց' => 'g',
        'հ' => 'h',
        'ո' => 'n',
        'զ' => 'q',
        'Օ' => 'O',
        'Ս' => 'U',
        'Տ' => 'S',
        'Լ' => 'L',
        // Cherokee
        'Ꭺ' => 'A',
        'Ᏼ' => 'B',
        'Ꮯ' => 'C',
        'Ꭰ' => 'D',
        'Ꭼ' => 'E',
        'Ꮐ' => 'G',
        'Ꮋ' => 'H',
        'Ꭻ' => 'J',
        'Ꮶ' => 'K',
        'Ꮮ' => 'L',
        'Ꮇ' => 'M',
        'Ꮲ' => 'P',
        'Ꮪ' => 'S',
        'Ꭲ' => 'T',
        'Ꮩ' => 'V',
        'Ꮃ' => 'W',
        'Ꮓ' => 'Z',
        '\u{13A1}' => 'R',
        '\u{13D2}' => 'R',
        '\u{13A9}' => 'Y',
        '\u{13CF}' => 'b',
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    Latin,
    /// Cyrillic, Greek, Armenian or Cherokee: scripts with Latin lookalikes.
    Confusable,
    Other,
}

fn script(c: char) -> Script {
    match c as u32 {
        0x41..=0x5A | 0x61..=0x7A => Script::Latin,
        0xC0..=0x24F
        | 0x250..=0x2AF
        | 0x1E00..=0x1EFF
        | 0x2C60..=0x2C7F
        | 0xA720..=0xA7FF
        | 0xAB30..=0xAB6F
            if c != '×' && c != '÷' && c != 'ɡ' =>
        {
            Script::Latin
        }
        0x370..=0x3FF | 0x1F00..=0x1FFF => Script::Confusable,
        0x400..=0x52F | 0x1C80..=0x1C8F | 0x2DE0..=0x2DFF | 0xA640..=0xA69F => Script::Confusable,
        0x531..=0x58F | 0xFB13..=0xFB17 => Script::Confusable,
        0x13A0..=0x13FF | 0xAB70..=0xABBF => Script::Confusable,
        _ if c == 'ɡ' => Script::Confusable,
        _ => Script::Other,
    }
}

/// Per-character class bits for the word pass.
const WORD: u8 = 1;
const LATIN: u8 = 2;
const LOOKALIKE: u8 = 4;
/// A letter of the confusable scripts with no Latin lookalike: a genuine word.
const GENUINE: u8 = 8;
const DIGIT: u8 = 16;

/// Shortest word of lookalikes and digits alone that is folded: keys and ids are long,
/// while `5А` or `12В` (a house number in Cyrillic) are ordinary text.
const MIN_LOOKALIKE_ID: usize = 8;

/// Whether a word (its class bits, its length in chars) calls for folding: Latin
/// letters mixed with lookalikes, or a long run of lookalikes and ASCII digits with no
/// Latin (`АКІА2Е0А8С3В244…`, a key spelled in Cyrillic). A word with a letter that has
/// no Latin lookalike is genuine text of its script and is left alone.
fn folds(flags: u8, chars: usize) -> bool {
    let letters = flags & (LATIN | LOOKALIKE | GENUINE);
    letters == LATIN | LOOKALIKE
        || (letters == LOOKALIKE && flags & DIGIT != 0 && chars >= MIN_LOOKALIKE_ID)
}

fn class_of(c: char) -> u8 {
    let sc = script(c);
    // Characters of the Latin and confusable blocks all count as word characters: after
    // NFKC they are letters and marks.
    if c.is_ascii_digit() {
        return WORD | DIGIT;
    }
    if sc == Script::Other && !(c.is_alphanumeric() || is_combining_mark(c)) {
        return 0;
    }
    WORD | match sc {
        Script::Latin => LATIN,
        Script::Confusable if skeleton(c).is_some() => LOOKALIKE,
        Script::Confusable => GENUINE,
        Script::Other => 0,
    }
}

/// [`class_of`] for every BMP character, computed once (64 KiB).
fn class(c: char) -> u8 {
    static TABLE: OnceLock<Box<[u8]>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        (0u32..0x1_0000)
            .map(|cp| char::from_u32(cp).map_or(0, class_of))
            .collect()
    });
    match table.get(c as usize) {
        Some(&k) => k,
        None => class_of(c),
    }
}

/// Folds mixed-script words of `src`; `None` when no word needed it. Findings get spans
/// of `src`.
pub(crate) fn fold(src: &str, findings: &mut Vec<Finding>) -> Option<(String, OffsetMap)> {
    if src.is_ascii() {
        return None;
    }
    let mut b = Builder::new(src);
    let mut word_start = None;
    let mut flags = 0u8;
    let mut chars = 0usize;
    for (i, c) in src.char_indices() {
        let k = class(c);
        if k & WORD != 0 {
            word_start.get_or_insert(i);
            flags |= k;
            chars += 1;
            continue;
        }
        if let Some(start) = word_start.take()
            && folds(flags, chars)
        {
            end_word(src, start..i, &mut b, findings);
        }
        flags = 0;
        chars = 0;
    }
    if let Some(start) = word_start
        && folds(flags, chars)
    {
        end_word(src, start..src.len(), &mut b, findings);
    }
    b.finish()
}

/// Folds the lookalikes of a mixed-script word and reports it, unless the word is
/// [`scientific`].
fn end_word(src: &str, span: Range<usize>, b: &mut Builder<'_>, findings: &mut Vec<Finding>) {
    let Some(text) = src.get(span.clone()) else {
        return;
    };
    let mut buf = [0u8; 4];
    let mut folded = 0;
    for (k, c) in text.char_indices() {
        if script(c) != Script::Confusable {
            continue;
        }
        if let Some(l) = skeleton(c) {
            let at = span.start + k;
            b.replace(at..at + c.len_utf8(), l.encode_utf8(&mut buf));
            folded += 1;
        }
    }
    if folded == 1 && scientific(text) {
        return;
    }
    findings.push(Finding::new(
        HOMOGLYPH_KIND,
        Category::Obfuscation,
        span,
        SCORE,
        HOMOGLYPH_DETECTOR,
    ));
}

/// A word with one Greek letter at its start or end (`TNFα`, `κB`, `αKG`, `Hα`): how
/// biology, chemistry and astronomy write, not a disguise; the letter is still folded, so
/// what the word says is read either way, but it is not reported.
fn scientific(word: &str) -> bool {
    let greek = |c: Option<char>| c.is_some_and(|c| ('\u{370}'..='\u{3FF}').contains(&c));
    greek(word.chars().next()) || greek(word.chars().next_back())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folded(s: &str) -> String {
        let mut f = Vec::new();
        fold(s, &mut f).map_or_else(|| s.to_string(), |(t, _)| t)
    }

    #[test]
    fn mixed_words_fold() {
        assert_eq!(folded("ign\u{43E}re previous"), "ignore previous");
        assert_eq!(folded("\u{440}\u{430}yp\u{430}l"), "paypal");
        assert_eq!(folded("\u{3BF}pen the d\u{3BF}\u{3BF}r"), "open the door");
        // Lookalikes that once vetoed folding (a letter with no entry reads as genuine).
        assert_eq!(folded("jane@ex\u{430}mple.\u{3F3}ob"), "jane@example.job");
        assert_eq!(
            folded("AKIAZ5X2Q7LMN3\u{13A1}TB6PW"),
            "AKIAZ5X2Q7LMN3RTB6PW"
        );
    }

    #[test]
    fn one_greek_letter_at_a_word_edge_is_not_reported() {
        // Reported: inside a word, two of them, or another script's letter.
        for (s, reported) in [
            ("NF-\u{3BA}B", 0),
            ("TNF\u{3B1} levels", 0),
            ("\u{3B1}KG", 0),
            ("the H\u{3B1} line", 0),
            ("ign\u{3BF}re", 1),
            ("\u{3BF}pe\u{3BD}", 1),
            ("ign\u{43E}re", 1),
            ("\u{43E}pen", 1),
        ] {
            let mut f = Vec::new();
            let _ = fold(s, &mut f);
            assert_eq!(f.len(), reported, "{s}");
        }
    }

    #[test]
    fn genuine_words_stay() {
        for s in [
            "Москва",
            "καλημέρα",
            "iPhoneом",
            "Привет, world",
            "ευχαριστώ",
        ] {
            assert_eq!(folded(s), s);
        }
    }

    #[test]
    fn every_table_entry_is_confusable_script() {
        for c in ('\u{370}'..'\u{590}').chain('\u{13A0}'..'\u{1400}') {
            if skeleton(c).is_some() {
                assert_eq!(script(c), Script::Confusable, "{c:?}");
            }
        }
        assert_eq!(script('ɡ'), Script::Confusable);
    }
}
