//! Dashes read as the ASCII hyphen-minus: `415‑555‑0132` (non-breaking hyphens, as
//! language models often write phone numbers), `4111–1111–1111–1111` (en dashes),
//! `219−09−9999` (minus signs) are what a reader sees as `-`, but detectors read `-`.
//! NFKC leaves these characters alone, so this pass maps them after it, with no
//! finding: they are ordinary typography.
//!
//! The em dash and the horizontal bar stay: they set off clauses in prose (`Москва —
//! столица`), where a hyphen would join words, and no number is written with them.

/// Whether `c` is a dash read as `-`: U+2010 hyphen, U+2011 non-breaking hyphen, U+2012
/// figure dash, U+2013 en dash, U+2212 minus sign, and U+FE32 (a presentation form NFKC
/// turns into an en dash; U+FE63 and U+FF0D become `-` by NFKC itself).
pub(crate) fn is_hyphen_like(c: char) -> bool {
    matches!(c, '\u{2010}'..='\u{2013}' | '\u{2212}' | '\u{FE32}')
}
