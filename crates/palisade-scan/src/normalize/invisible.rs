//! Invisible characters: which code points hide text from a human reader, when one is
//! legitimate (emoji ZWJ sequences, subdivision flags, joiners in Arabic and Indic
//! scripts, a single variation selector after a symbol or ideograph, a leading BOM,
//! bidi marks next to right-to-left text), and how suspicious each kind is.
//!
//! Also the two "smuggling" alphabets hidden in invisible runs: Unicode tag characters
//! (U+E0020–U+E007E shadow printable ASCII) and variation selectors used as bytes
//! (VS1–VS16 = 0–15, VS17–VS256 = 16–255).

/// The kinds of invisible code points removed before detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Invisible {
    /// U+200B, U+2060–U+2065, U+180E, U+034F, and every other default-ignorable code
    /// point (which renders as nothing): Mongolian free variation selectors
    /// (U+180B–U+180D, U+180F), Khmer inherent vowels (U+17B4, U+17B5), Hangul fillers
    /// (U+115F, U+1160, U+3164, U+FFA0), deprecated format characters (U+206A–U+206F),
    /// shorthand format controls (U+1BCA0–U+1BCA3), musical formatting
    /// (U+1D173–U+1D17A), and the reserved ones (U+FFF0–U+FFF8, U+E0080–U+E00FF,
    /// U+E01F0–U+E0FFF) a later Unicode may assign and fonts draw as nothing today. Also
    /// the interlinear annotation marks (U+FFF9–U+FFFB), format characters that render
    /// as nothing.
    ZeroWidth,
    /// U+200C ZWNJ, U+200D ZWJ.
    Joiner,
    /// U+FEFF.
    Bom,
    /// U+00AD.
    SoftHyphen,
    /// U+E0000–U+E007F.
    Tag,
    /// U+FE00–U+FE0F, U+E0100–U+E01EF.
    VariationSelector,
    /// U+202A–U+202E: embeddings and overrides.
    BidiOverride,
    /// U+2066–U+2069.
    BidiIsolate,
    /// U+200E, U+200F, U+061C.
    BidiMark,
}

pub(crate) fn classify(c: char) -> Option<Invisible> {
    use Invisible::*;
    Some(match c as u32 {
        0x200B | 0x2060..=0x2065 | 0x180E | 0x034F => ZeroWidth,
        0x180B..=0x180D | 0x180F | 0x17B4 | 0x17B5 => ZeroWidth,
        0x115F | 0x1160 | 0x3164 | 0xFFA0 | 0x1D173..=0x1D17A => ZeroWidth,
        0x206A..=0x206F | 0x1BCA0..=0x1BCA3 | 0xFFF0..=0xFFFB => ZeroWidth,
        0xE0080..=0xE00FF | 0xE01F0..=0xE0FFF => ZeroWidth,
        0x200C | 0x200D => Joiner,
        0xFEFF => Bom,
        0x00AD => SoftHyphen,
        0xE0000..=0xE007F => Tag,
        0xFE00..=0xFE0F | 0xE0100..=0xE01EF => VariationSelector,
        0x202A..=0x202E => BidiOverride,
        0x2066..=0x2069 => BidiIsolate,
        0x200E | 0x200F | 0x061C => BidiMark,
        _ => return None,
    })
}

/// What to do with one invisible character.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Disposition {
    /// Legitimate: kept in the text, not reported.
    Keep,
    /// Removed, not reported (a leading BOM).
    DropSilent,
    /// Removed and reported with this score.
    Drop(f32),
}

/// Decides the fate of `c` (of kind `kind`) from its neighbours in the original text.
pub(crate) fn disposition(
    kind: Invisible,
    c: char,
    prev: Option<char>,
    next: Option<char>,
    at_start: bool,
) -> Disposition {
    use Disposition::*;
    let alnum = |x: Option<char>| x.is_some_and(char::is_alphanumeric);
    match kind {
        Invisible::Joiner => {
            let emoji_zwj = c == '\u{200D}'
                && prev.is_some_and(is_emoji_like)
                && next.is_some_and(is_emoji_like);
            let script_joiner = prev.is_some_and(is_joining_script)
                && !next.is_some_and(|n| n.is_ascii_alphanumeric());
            if emoji_zwj || script_joiner {
                Keep
            } else {
                zero_width_score(alnum(prev) && alnum(next))
            }
        }
        Invisible::ZeroWidth => zero_width_score(alnum(prev) && alnum(next)),
        Invisible::Bom if at_start => DropSilent,
        Invisible::Bom => Drop(0.6),
        Invisible::SoftHyphen => Drop(0.4),
        Invisible::Tag => Drop(0.95),
        Invisible::VariationSelector => {
            let single = !next.is_some_and(|n| classify(n) == Some(Invisible::VariationSelector));
            let after_symbol = prev.is_some_and(|p| !p.is_ascii() && classify(p).is_none());
            let keycap = prev.is_some_and(|p| p.is_ascii_digit() || p == '#' || p == '*')
                && next == Some('\u{20E3}');
            if single && (after_symbol || keycap) {
                Keep
            } else {
                Drop(0.6)
            }
        }
        Invisible::BidiOverride => {
            if matches!(c, '\u{202D}' | '\u{202E}') {
                Drop(0.95)
            } else {
                Drop(0.9)
            }
        }
        Invisible::BidiIsolate => Drop(0.8),
        Invisible::BidiMark => {
            if prev.is_some_and(is_rtl) || next.is_some_and(is_rtl) {
                Keep
            } else {
                Drop(0.3)
            }
        }
    }
}

fn zero_width_score(inside_word: bool) -> Disposition {
    Disposition::Drop(if inside_word { 0.85 } else { 0.7 })
}

/// A subdivision flag: U+1F3F4 then 1–7 tag digits/lowercase letters then CANCEL TAG.
pub(crate) fn is_flag_tag_sequence(prev: Option<char>, run: &str) -> bool {
    if prev != Some('\u{1F3F4}') {
        return false;
    }
    let mut n = 0;
    let mut chars = run.chars();
    for c in chars.by_ref() {
        match c as u32 {
            0xE0030..=0xE0039 | 0xE0061..=0xE007A => n += 1,
            0xE007F => return (1..=7).contains(&n) && chars.next().is_none(),
            _ => return false,
        }
    }
    false
}

/// The ASCII character a tag character shadows (U+E0020–U+E007E).
pub(crate) fn tag_ascii(c: char) -> Option<char> {
    match c as u32 {
        v @ 0xE0020..=0xE007E => char::from_u32(v - 0xE0000),
        _ => None,
    }
}

/// The byte a variation selector encodes in "emoji smuggling".
pub(crate) fn variation_byte(c: char) -> Option<u8> {
    match c as u32 {
        v @ 0xFE00..=0xFE0F => u8::try_from(v - 0xFE00).ok(),
        v @ 0xE0100..=0xE01EF => u8::try_from(v - 0xE0100 + 16).ok(),
        _ => None,
    }
}

/// Pictographs and the invisible glue of emoji sequences (VS16, keycap, skin tones,
/// CANCEL TAG), enough to recognise an emoji on either side of a ZWJ.
fn is_emoji_like(c: char) -> bool {
    matches!(c as u32,
        0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2300..=0x23FF | 0x2B00..=0x2BFF
        | 0x2190..=0x21FF | 0x25A0..=0x25FF | 0x2934 | 0x2935 | 0x3030 | 0x303D
        | 0x3297 | 0x3299 | 0xA9 | 0xAE | 0x203C | 0x2049 | 0x2122 | 0x2139 | 0x24C2
        | 0xFE0F | 0x20E3 | 0xE007F)
}

/// Scripts where ZWJ/ZWNJ are part of ordinary spelling (Arabic, Syriac, Indic,
/// Tibetan, Myanmar, Khmer, Mongolian, Arabic presentation forms).
fn is_joining_script(c: char) -> bool {
    matches!(c as u32,
        0x0600..=0x08FF | 0x0900..=0x0DFF | 0x0F00..=0x0FFF | 0x1000..=0x109F
        | 0x1780..=0x18AF | 0xA8E0..=0xA8FF | 0xFB50..=0xFDFF | 0xFE70..=0xFEFE)
}

/// Right-to-left scripts, where LRM/RLM/ALM are ordinary typography.
fn is_rtl(c: char) -> bool {
    matches!(c as u32,
        0x0590..=0x08FF | 0xFB1D..=0xFDFF | 0xFE70..=0xFEFE | 0x10800..=0x10FFF
        | 0x1E800..=0x1EFFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_kinds() {
        assert_eq!(classify('\u{200B}'), Some(Invisible::ZeroWidth));
        assert_eq!(classify('\u{E0041}'), Some(Invisible::Tag));
        assert_eq!(classify('\u{202E}'), Some(Invisible::BidiOverride));
        assert_eq!(classify('a'), None);
        assert_eq!(classify('é'), None);
    }

    /// Every default-ignorable code point is removed before detection: one left out
    /// (U+206F, U+1BCA0 were) hides a key or an email from every detector.
    #[test]
    fn every_default_ignorable_code_point_is_invisible() {
        use regex_syntax::hir::{Class, HirKind};
        let hir = regex_syntax::Parser::new()
            .parse(r"\p{Default_Ignorable_Code_Point}")
            .unwrap_or_else(|e| panic!("{e}"));
        let HirKind::Class(Class::Unicode(class)) = hir.kind() else {
            panic!("not a class: {hir:?}");
        };
        let mut checked = 0;
        for r in class.ranges() {
            for c in r.start()..=r.end() {
                assert!(
                    classify(c).is_some(),
                    "U+{:04X} is not invisible",
                    u32::from(c)
                );
                checked += 1;
            }
        }
        assert!(checked > 4000, "{checked}");
    }

    #[test]
    fn zwj_between_emoji_is_kept() {
        let d = disposition(Invisible::Joiner, '\u{200D}', Some('👨'), Some('👩'), false);
        assert_eq!(d, Disposition::Keep);
        let d = disposition(Invisible::Joiner, '\u{200D}', Some('a'), Some('b'), false);
        assert_eq!(d, Disposition::Drop(0.85));
    }

    #[test]
    fn flag_sequence() {
        let scotland = "\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}";
        assert!(is_flag_tag_sequence(Some('\u{1F3F4}'), scotland));
        assert!(!is_flag_tag_sequence(Some('x'), scotland));
        assert!(!is_flag_tag_sequence(
            Some('\u{1F3F4}'),
            "\u{E0041}\u{E007F}"
        ));
    }

    #[test]
    fn smuggling_alphabets() {
        assert_eq!(tag_ascii('\u{E0041}'), Some('A'));
        assert_eq!(tag_ascii('\u{E007F}'), None);
        assert_eq!(variation_byte('\u{FE0F}'), Some(15));
        assert_eq!(variation_byte('\u{E0100}'), Some(16));
        assert_eq!(variation_byte('\u{E01EF}'), Some(255));
    }
}
