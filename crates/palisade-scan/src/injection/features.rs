//! The classifier's feature extraction: folded text → hashed, signed, L2-normalised
//! sparse features. Words are runs of alphanumeric characters (digits inside words are
//! read as leetspeak: `d1sr3gard` → `disregard`; identifier-like runs — hashes, keys,
//! long numbers — are skipped); features are word unigrams, word
//! bigrams, character n-grams of each word with `<`/`>` boundary marks, and short
//! punctuation runs (`<|`, `###`). Everything is hashed into `2^bits` buckets with a sign
//! bit, so the model never stores a vocabulary and rare tokens share buckets.

use super::fold::Folded;

/// Which features are extracted and how many hash buckets they land in. Stored in the
/// model header so a model is always scored with the features it was trained on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeatureConfig {
    /// `log2` of the number of buckets (10..=24).
    pub bits: u8,
    pub word_unigrams: bool,
    pub word_bigrams: bool,
    /// Character n-gram lengths, inclusive; `char_min == 0` disables them.
    pub char_min: u8,
    pub char_max: u8,
    pub punctuation: bool,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            bits: 18,
            word_unigrams: true,
            word_bigrams: true,
            char_min: 3,
            char_max: 5,
            punctuation: true,
        }
    }
}

/// Feature vectors are scaled by `1/sqrt(max(n, EVIDENCE_FLOOR))`: a text with fewer
/// features than this (a greeting, a few words) carries proportionally less weight, so
/// its score stays near the prior instead of being decided by one or two words.
pub const EVIDENCE_FLOOR: usize = 192;

/// Longest word (in chars) that yields character n-grams; longer runs are usually
/// encoded data and are cut here so they cannot flood the vector.
const MAX_WORD_CHARS: usize = 24;
const SEED_WORD: u64 = 0x9E37_79B9_7F4A_7C15;
const SEED_BIGRAM: u64 = 0xC2B2_AE3D_27D4_EB4F;
const SEED_CHAR: u64 = 0x1656_67B1_9E37_79F9;
const SEED_PUNCT: u64 = 0x27D4_EB2F_1656_67C5;

/// Reusable buffers, so scoring allocates nothing after the first call on a thread.
#[derive(Debug, Default)]
pub struct Scratch {
    folded: Folded,
    word: String,
    gram: Vec<u8>,
    bounds: Vec<usize>,
}

/// Sparse features: `(bucket, signed value)`. Buckets may repeat (counts add up).
pub type SparseFeatures = Vec<(u32, f32)>;

#[inline]
fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^ (h >> 33)
}

#[inline]
fn hash_bytes(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = seed ^ 0xCBF2_9CE4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    mix(h)
}

/// The char at byte `pos` of `s` and its length; ASCII without decoding.
#[inline]
fn char_at(s: &str, pos: usize) -> Option<(char, usize)> {
    let b = *s.as_bytes().get(pos)?;
    if b < 0x80 {
        return Some((char::from(b), 1));
    }
    let c = s.get(pos..)?.chars().next()?;
    Some((c, c.len_utf8()))
}

/// Whether a token looks like an identifier rather than a word: long hex runs (hashes,
/// UUID parts), long runs mixing letters with several digits (keys, order ids), and
/// numbers, whose digits would otherwise hash to arbitrary weights. Short leetspeak (`d1sr3gard`) stays a word.
fn is_identifier(token: &str) -> bool {
    let len = token.chars().count();
    let digits = token.bytes().filter(u8::is_ascii_digit).count();
    let hex = token.bytes().all(|b| b.is_ascii_hexdigit());
    (len >= 12 && hex && digits > 0)
        || digits == len
        || (len >= 10 && digits * 4 >= len && digits < len)
}

/// Reads digits inside a word that also has letters as the letters they imitate.
fn unleet(word: &str, out: &mut String) {
    out.clear();
    let has_alpha = word.chars().any(char::is_alphabetic);
    let has_digit = word.bytes().any(|b| b.is_ascii_digit());
    for c in word.chars() {
        let c = if has_alpha && has_digit {
            match c {
                '0' => 'o',
                '1' => 'i',
                '3' => 'e',
                '4' => 'a',
                '5' => 's',
                '7' => 't',
                '8' => 'b',
                other => other,
            }
        } else {
            c
        };
        out.push(c);
    }
}

impl FeatureConfig {
    #[inline]
    fn push(&self, h: u64, out: &mut SparseFeatures) {
        let bucket = (h >> (64 - u32::from(self.bits))) as u32;
        let sign = if h & 1 == 0 { 1.0 } else { -1.0 };
        out.push((bucket, sign));
    }

    /// Extracts the features of `text` into `out` (cleared first), L2-normalised.
    pub fn extract(&self, text: &str, scratch: &mut Scratch, out: &mut SparseFeatures) {
        out.clear();
        let mut buf = SparseFeatures::new();
        self.for_each_token(text, scratch, &mut buf, |_, _, f| out.extend_from_slice(f));
        if !out.is_empty() {
            let norm = 1.0 / (out.len().max(EVIDENCE_FLOOR) as f32).sqrt();
            for (_, v) in out.iter_mut() {
                *v *= norm;
            }
        }
    }

    /// Calls `on_token(start, end, features)` for every token in order: its byte span in
    /// `text` and its unnormalised features (values ±1; a word's bigram with the word
    /// before it belongs to the later word). `out` is reused between tokens, so memory
    /// stays bounded by the longest token whatever the input length.
    pub fn for_each_token(
        &self,
        text: &str,
        scratch: &mut Scratch,
        out: &mut SparseFeatures,
        mut on_token: impl FnMut(usize, usize, &[(u32, f32)]),
    ) {
        let Scratch {
            folded,
            word,
            gram,
            bounds,
        } = scratch;
        folded.fill(text);
        let folded_text = folded.text.as_str();
        let mut prev_word: Option<u64> = None;
        let mut pos = 0;
        while let Some((first, first_len)) = char_at(folded_text, pos) {
            if first.is_whitespace() {
                pos += first_len;
                continue;
            }
            let alnum = first.is_alphanumeric();
            let mut len = first_len;
            while let Some((c, l)) = char_at(folded_text, pos + len) {
                if c.is_whitespace() || c.is_alphanumeric() != alnum {
                    break;
                }
                len += l;
            }
            let token = &folded_text[pos..pos + len];
            let (start, end) = folded.original_span(text, pos, pos + len);
            pos += len;
            out.clear();
            if !alnum {
                if self.punctuation {
                    let cut = token.char_indices().nth(6).map_or(token.len(), |(i, _)| i);
                    self.push(hash_bytes(SEED_PUNCT, &token.as_bytes()[..cut]), out);
                    on_token(start, end, out);
                }
                continue;
            }
            if is_identifier(token) {
                // Ids, hashes and keys carry no meaning for the classifier, and their
                // random n-grams would land in random buckets: they are skipped.
                prev_word = None;
                on_token(start, end, out);
                continue;
            }
            unleet(token, word);
            let wh = hash_bytes(SEED_WORD, word.as_bytes());
            if self.word_unigrams {
                self.push(wh, out);
            }
            if let (true, Some(p)) = (self.word_bigrams, prev_word) {
                self.push(mix(p.rotate_left(17) ^ wh ^ SEED_BIGRAM), out);
            }
            prev_word = Some(wh);
            if self.char_min > 0 {
                self.char_grams(word, gram, bounds, out);
            }
            on_token(start, end, out);
        }
    }

    fn char_grams(
        &self,
        word: &str,
        gram: &mut Vec<u8>,
        bounds: &mut Vec<usize>,
        out: &mut SparseFeatures,
    ) {
        let (lo, hi) = (usize::from(self.char_min), usize::from(self.char_max));
        gram.clear();
        if word.is_ascii() {
            // Fast path, same hashes: one byte per char, no boundary table.
            gram.push(b'<');
            gram.extend_from_slice(&word.as_bytes()[..word.len().min(MAX_WORD_CHARS)]);
            gram.push(b'>');
            let chars = gram.len();
            for i in 0..chars {
                let mut h = SEED_CHAR ^ 0xCBF2_9CE4_8422_2325;
                for (n, &b) in gram[i..chars.min(i + hi)].iter().enumerate() {
                    h ^= u64::from(b);
                    h = h.wrapping_mul(0x0000_0100_0000_01B3);
                    if n + 1 >= lo {
                        self.push(mix(h ^ (n + 1) as u64), out);
                    }
                }
            }
            return;
        }
        bounds.clear();
        gram.push(b'<');
        bounds.push(0);
        for (n, c) in word.chars().enumerate() {
            if n >= MAX_WORD_CHARS {
                break;
            }
            bounds.push(gram.len());
            let mut buf = [0u8; 4];
            gram.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
        bounds.push(gram.len());
        gram.push(b'>');
        bounds.push(gram.len());
        // bounds[i] is the start of char i; the final entry is the end of the buffer.
        let chars = bounds.len() - 1;
        // One FNV pass per start position; n-grams of every length are emitted on the way.
        for i in 0..chars {
            let mut h = SEED_CHAR ^ 0xCBF2_9CE4_8422_2325;
            for n in 1..=hi.min(chars - i) {
                for &b in &gram[bounds[i + n - 1]..bounds[i + n]] {
                    h ^= u64::from(b);
                    h = h.wrapping_mul(0x0000_0100_0000_01B3);
                }
                if n >= lo {
                    self.push(mix(h ^ n as u64), out);
                }
            }
        }
    }
}
