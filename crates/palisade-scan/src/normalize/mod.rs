//! Text normalisation before detection (anti-obfuscation): what detectors see, and how
//! what they find maps back to the text the user sent.
//!
//! Steps, in order, for non-ASCII text:
//! 1. NFKC and invisible-character removal ([`unicode`], [`invisible`]): full-width,
//!    mathematical and circled letters, ligatures become plain; zero-width, soft hyphen,
//!    tag, variation-selector and bidi characters are removed and reported as
//!    `invisible_text` (legitimate uses — emoji ZWJ sequences, subdivision flags, joiners
//!    in Arabic/Indic scripts — are left alone). Decimal digits of other scripts
//!    (Arabic-Indic, Devanagari, …) become ASCII digits ([`digits`]), with no finding:
//!    they are ordinary writing, but detectors read `0-9`. Likewise dashes (non-breaking
//!    hyphen, en dash, minus sign) become `-` ([`dashes`]), and marks on an ASCII digit
//!    are dropped.
//! 2. Homoglyph folding in mixed-script words ([`homoglyph`]), reported as `homoglyph`.
//!
//! Every text, ASCII or not: 3. letter-spaced words read as words (`i g n o r e`,
//! `R.E.V.E.A.L` → `ignore`, `REVEAL`: [`spacing`]), with no finding — spelling a word
//! out is also how people emphasise one.
//!
//! Then, on the normalised text, encoded runs (base64, hex, URL, `\x` escapes) are
//! decoded into [`Decoded`] items ([`decode`]); tag-character and variation-selector
//! smuggling found in step 1 is decoded there too. Spans of [`Normalized::text`] map
//! back to the original with [`Normalized::original_span`] ([`map`]).
//!
//! Pure ASCII text skips steps 1–2 entirely and, without spelled-out words or encoded
//! runs, is returned borrowed with nothing allocated.

mod bmp;
mod dashes;
mod decode;
mod digits;
pub mod fold;
mod homoglyph;
mod invisible;
mod map;
mod spacing;
mod unicode;
mod wrapped;

#[cfg(test)]
mod bench;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::ops::Range;

use crate::finding::{Category, Finding};
use map::{OffsetMap, ceil_boundary, floor_boundary};

pub use homoglyph::{HOMOGLYPH_DETECTOR, HOMOGLYPH_KIND};
pub use unicode::{INVISIBLE_DETECTOR, INVISIBLE_KIND};

/// An encoded run of the original text, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The decoded text (one level; the engine decides whether to decode it again).
    pub text: String,
    /// Byte span of the encoded run in the original text.
    pub span: Range<usize>,
    /// `base64`, `hex`, `hex_escape`, `url`, `unicode_tags` or `variation_selectors`.
    pub encoding: &'static str,
}

/// What normalisation does; [`Default`] is what the gateway uses.
#[derive(Debug, Clone, PartialEq)]
pub struct NormalizeOptions {
    /// Decode encoded runs (and tag/variation-selector smuggling) into [`Decoded`].
    pub decode: bool,
    /// Shortest base64/hex run considered, in characters (16).
    pub min_encoded_len: usize,
    /// Most decoded bytes kept per text, all items together (64 KiB).
    pub max_decoded: usize,
    /// Most decoded items per text (32).
    pub max_decoded_items: usize,
    /// Share of printable characters a decoded run needs to count as text (0.9).
    pub min_printable_ratio: f32,
    /// Fold homoglyphs in mixed-script words (true).
    pub homoglyphs: bool,
    /// Read letter-spaced words (`i g n o r e`) as words (true).
    pub letter_spacing: bool,
}

impl Default for NormalizeOptions {
    fn default() -> Self {
        NormalizeOptions {
            decode: true,
            min_encoded_len: 16,
            max_decoded: 64 * 1024,
            max_decoded_items: 32,
            min_printable_ratio: 0.9,
            homoglyphs: true,
            letter_spacing: true,
        }
    }
}

/// The text detectors scan, and the way back to the original.
#[derive(Debug)]
pub struct Normalized<'a> {
    original: &'a str,
    text: Cow<'a, str>,
    /// Applied in order to map a span of `text` to the original (last step first).
    maps: Vec<OffsetMap>,
    findings: Vec<Finding>,
    decoded: Vec<Decoded>,
}

impl<'a> Normalized<'a> {
    /// The text detectors scan: borrowed from the original when nothing changed.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The text that was normalised.
    pub fn original(&self) -> &'a str {
        self.original
    }

    /// Maps a byte span of [`text`](Self::text) to the smallest byte span of the original
    /// covering it, on char boundaries. Out-of-range or reversed input is clamped.
    pub fn original_span(&self, start: usize, end: usize) -> Range<usize> {
        let text: &str = &self.text;
        let start = floor_boundary(text, start);
        let end = ceil_boundary(text, end.max(start));
        let mut span = start..end;
        for m in &self.maps {
            span = m.map(span.start, span.end);
        }
        let s = floor_boundary(self.original, span.start);
        let e = ceil_boundary(self.original, span.end.max(s));
        s..e
    }

    /// Rewrites a finding made on [`text`](Self::text) to a span of the original.
    pub fn map_finding(&self, finding: &mut Finding) {
        let span = self.original_span(finding.start, finding.end);
        finding.start = span.start;
        finding.end = span.end;
    }

    /// Findings about the obfuscation itself (`invisible_text`, `homoglyph`), with spans
    /// of the original.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// Encoded runs found and decoded, with spans of the original.
    pub fn decoded(&self) -> &[Decoded] {
        &self.decoded
    }

    /// True when [`text`](Self::text) is the original itself.
    pub fn is_identity(&self) -> bool {
        matches!(self.text, Cow::Borrowed(_))
    }

    /// Gives the findings and decoded runs away (the engine merges them into its own).
    pub fn into_parts(self) -> (Cow<'a, str>, Vec<Finding>, Vec<Decoded>) {
        (self.text, self.findings, self.decoded)
    }
}

/// Where a letter-spaced phrase still being written at the end of `text` starts (a
/// stream's held text, `… r-e-v-e`): what it spells is known only once it ends.
pub fn spaced_letters_forming(text: &str) -> Option<usize> {
    spacing::forming(text)
}

/// [`normalize_with`] the default options.
pub fn normalize(text: &str) -> Normalized<'_> {
    normalize_with(text, &NormalizeOptions::default())
}

/// Normalises `text` for detection. Never panics; cost is one pass over the text (plus
/// decoding of the encoded runs found).
pub fn normalize_with<'a>(text: &'a str, opts: &NormalizeOptions) -> Normalized<'a> {
    let mut out = Normalized {
        original: text,
        text: Cow::Borrowed(text),
        maps: Vec::new(),
        findings: Vec::new(),
        decoded: Vec::new(),
    };
    let mut budget = decode::Budget::new(opts);
    let ascii = text.is_ascii();
    // Where smuggled text went undecoded, in the original (the decode pass below counts
    // in the normalised text).
    let mut smuggling_cut = None;
    if !ascii {
        let mut stage1 = None;
        if let Some((cleaned, map)) =
            unicode::clean(text, &mut out.findings, &mut out.decoded, &mut budget)
        {
            out.text = Cow::Owned(cleaned);
            stage1 = Some(map);
        }
        smuggling_cut = budget.cut_at.take();
        if opts.homoglyphs {
            let mut found = Vec::new();
            if let Some((folded, map)) = homoglyph::fold(&out.text, &mut found) {
                out.text = Cow::Owned(folded);
                out.maps.push(map);
            }
            if let Some(m) = &stage1 {
                for f in &mut found {
                    let span = m.map(f.start, f.end);
                    f.start = span.start;
                    f.end = span.end;
                }
            }
            out.findings.extend(found);
        }
        out.maps.extend(stage1);
        out.maps.retain(|m| !m.is_empty());
        out.findings.sort_by_key(|f| (f.start, f.end));
    }
    if opts.letter_spacing
        && let Some((collapsed, map)) = spacing::collapse(&out.text, ascii)
    {
        out.text = Cow::Owned(collapsed);
        // The last step's map is applied first.
        out.maps.insert(0, map);
    }
    if opts.decode {
        let found = decode::scan(&out.text, &mut budget);
        for mut d in found {
            d.span = out.original_span(d.span.start, d.span.end);
            out.decoded.push(d);
        }
        out.decoded.sort_by_key(|d| (d.span.start, d.span.end));
        let decode_cut = budget
            .cut_at
            .map(|at| out.original_span(at, out.text.len()).start);
        if let Some(at) = smuggling_cut.into_iter().chain(decode_cut).min() {
            // More encoded text than the decoding budget: what follows went unread.
            // Say so, rather than pass it as checked (a profile may block it).
            let span = at..text.len();
            out.findings.push(Finding::new(
                "decode_budget_exceeded",
                Category::Obfuscation,
                span,
                0.9,
                "normalize.decode",
            ));
        }
    }
    out
}
