//! Decimal digits of every script read as ASCII digits: `٤١١١ ١١١١ ١١١١ ١١١١`
//! (Arabic-Indic), `۰۹۱۲…` (Persian), `४१११…` (Devanagari) are card and phone numbers
//! to a reader and to a model, but not to detectors that read `0-9`. NFKC leaves these
//! digits alone (they are not compatibility characters), so this pass maps them after it.
//!
//! The set is Unicode's general category `Nd`, taken from the `regex-syntax` tables the
//! scanner already carries. Unicode encodes every script's decimal digits as contiguous
//! runs of ten in ascending order (a stability guarantee), so a digit's value is its
//! distance from the start of its run, modulo ten (some runs are adjacent: the range
//! holds several).

use std::sync::OnceLock;

use regex_syntax::hir::{Class, HirKind};

/// Ranges of non-ASCII decimal digits, inclusive, in code point order.
fn ranges() -> &'static [(u32, u32)] {
    static RANGES: OnceLock<Vec<(u32, u32)>> = OnceLock::new();
    RANGES.get_or_init(|| {
        let Ok(hir) = regex_syntax::Parser::new().parse(r"\p{Nd}") else {
            return Vec::new();
        };
        let HirKind::Class(Class::Unicode(class)) = hir.kind() else {
            return Vec::new();
        };
        class
            .ranges()
            .iter()
            .map(|r| (u32::from(r.start()), u32::from(r.end())))
            .filter(|&(_, end)| end > 0x7F)
            .collect()
    })
}

/// The ASCII digit `c` stands for, when `c` is a decimal digit of another script.
pub(crate) fn ascii_digit(c: char) -> Option<char> {
    let cp = u32::from(c);
    if cp < 0x80 {
        return None;
    }
    let ranges = ranges();
    let i = ranges.partition_point(|&(_, end)| end < cp);
    let &(start, end) = ranges.get(i)?;
    if cp < start || cp > end {
        return None;
    }
    char::from_digit((cp - start) % 10, 10)
}

#[cfg(test)]
mod tests {
    use super::ascii_digit;

    #[test]
    fn every_script_reads_as_ascii() {
        // Arabic-Indic, Extended Arabic-Indic (Persian), Devanagari, Bengali, Thai,
        // Tibetan, Myanmar, full-width, mathematical bold (a run among adjacent runs),
        // Adlam (outside the BMP).
        for zero in [
            0x0660, 0x06F0, 0x0966, 0x09E6, 0x0E50, 0x0F20, 0x1040, 0xFF10, 0x1D7CE, 0x1D7D8,
            0x1E950,
        ] {
            for v in 0..10u32 {
                let c = char::from_u32(zero + v).expect("valid code point");
                assert_eq!(
                    ascii_digit(c),
                    char::from_digit(v, 10),
                    "U+{:04X}",
                    zero + v
                );
            }
        }
    }

    #[test]
    fn other_characters_are_not_digits() {
        for c in ['7', 'a', 'ت', '٫', '½', 'Ⅻ', '①', '²', '〇', '零'] {
            assert_eq!(ascii_digit(c), None, "{c:?}");
        }
    }
}
