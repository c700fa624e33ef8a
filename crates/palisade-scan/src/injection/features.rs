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
            bits: 17,
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
pub const EVIDENCE_FLOOR: usize = 128;

/// Longest word (in chars) that yields character n-grams; longer runs are usually
/// encoded data and are cut here so they cannot flood the vector.
const MAX_WORD_CHARS: usize = 24;
const SEED_WORD: u64 = 0x9E37_79B9_7F4A_7C15;
const SEED_BIGRAM: u64 = 0xC2B2_AE3D_27D4_EB4F;
const SEED_CHAR: u64 = 0x1656_67B1_9E37_79F9;
const SEED_PUNCT: u64 = 0x27D4_EB2F_1656_67C5;

impl Scratch {
    /// The last text passed to [`FeatureConfig::for_each_token`], folded.
    pub(crate) fn folded(&self) -> &Folded {
        &self.folded
    }

    /// Maps a byte range of the last folded text back to `original` (the text passed to
    /// [`FeatureConfig::for_each_token`]).
    pub fn original_span(&self, original: &str, start: usize, end: usize) -> (usize, usize) {
        self.folded.original_span(original, start, end)
    }
}

/// Whether a unit (sentence, line) starts after `gap`, the bytes between the previous
/// token and this one, when the previous token ended with `last`.
#[inline]
fn unit_boundary(last: u8, gap: &[u8]) -> bool {
    let mark = |b: u8| matches!(b, b'.' | b'!' | b'?' | b':' | b';');
    !gap.is_empty()
        && ((mark(last) || gap.contains(&b'\n'))
            || gap
                .windows(2)
                .any(|w| mark(w[0]) && w[1].is_ascii_whitespace()))
}

/// Reusable buffers, so scoring allocates nothing after the first call on a thread.
#[derive(Debug, Default)]
pub struct Scratch {
    folded: Folded,
    word: String,
    gram: Vec<u8>,
    bounds: Vec<usize>,
    pending: Vec<Pending>,
    warm: Vec<(u64, Option<u32>)>,
}

/// The buffers a group of read tokens is scored with ([`FeatureConfig::emit`]).
struct Emit<'s> {
    warm: &'s mut Vec<(u64, Option<u32>)>,
    word: &'s mut String,
    gram: &'s mut Vec<u8>,
    bounds: &'s mut Vec<usize>,
    batch: Batch,
}

/// Tokens read ahead of their features, at most this many at a time.
const PENDING: usize = 64;

/// A token read, its features not yet handed to the sink.
#[derive(Debug, Clone, Copy)]
struct Pending {
    start: usize,
    end: usize,
    /// A unit (sentence, line) starts at this token.
    unit: bool,
    kind: PendingKind,
}

#[derive(Debug, Clone, Copy)]
enum PendingKind {
    /// No features: an identifier, an address, a skipped chunk.
    Plain,
    /// A punctuation run's one feature.
    Punct(u32),
    /// A word: its hash, its bigram with the word before, and whether its digits are
    /// read as letters (leetspeak).
    Word {
        hash: u64,
        bigram: Option<u32>,
        leet: bool,
    },
}

impl Pending {
    fn plain(start: usize, end: usize, unit: bool) -> Pending {
        Pending {
            start,
            end,
            unit,
            kind: PendingKind::Plain,
        }
    }
}

/// Sparse features: `(bucket, signed value)`. Buckets may repeat (counts add up).
pub type SparseFeatures = Vec<(u32, f32)>;

/// The sign bit of a signed bucket: the bucket is in the low 31 bits, the top bit set
/// means the feature counts -1.
pub const NEGATIVE: u32 = 1 << 31;

/// Receives the features of a text token by token: a token's features as signed
/// buckets, then the token's byte span in the original text. Generic, so the scorer
/// weighs features as they are hashed.
pub trait TokenSink {
    /// The words (their hashes) and bigrams (signed buckets) of the next tokens, before
    /// their features come: a sink that reads memory for them can start every read at
    /// once, instead of one at a time as each token's features arrive.
    #[inline]
    fn warm(&mut self, _words: &[(u64, Option<u32>)]) {}
    fn features(&mut self, signed_buckets: &[u32]);
    /// Whether the sink wants `word`'s own features (its unigram and character
    /// n-grams, which depend on the word alone; `hash` is the word's hash). A sink that
    /// remembers what they weigh (the classifier's [`super::word_memo`]) takes that
    /// instead and returns false; then they are not extracted.
    #[inline]
    fn wants_word(&mut self, _word: &str, _hash: u64) -> bool {
        true
    }
    /// A word's features in extraction order, after [`TokenSink::wants_word`] returned
    /// true: its own, and at index `bigram` its bigram with the word before (not its
    /// own: that one depends on the word before).
    #[inline]
    fn word_features(
        &mut self,
        _word: &str,
        _hash: u64,
        signed_buckets: &[u32],
        _bigram: Option<usize>,
    ) {
        self.features(signed_buckets);
    }
    /// The token at `start..end` of the folded text ([`Scratch::original_span`] maps it
    /// back); `unit_start` when a line break, or sentence-ending punctuation followed by
    /// white space, comes before it.
    fn token(&mut self, start: usize, end: usize, unit_start: bool);
}

/// Collects a whole text's features (training and [`FeatureConfig::extract`]).
struct Collect<'a>(&'a mut SparseFeatures);

impl TokenSink for Collect<'_> {
    #[inline]
    fn features(&mut self, xs: &[u32]) {
        self.0.extend(xs.iter().map(|&x| {
            let v = if x & NEGATIVE == 0 { 1.0 } else { -1.0 };
            (x & !NEGATIVE, v)
        }));
    }
    #[inline]
    fn token(&mut self, _start: usize, _end: usize, _unit_start: bool) {}
}

/// A word's features on their way to the sink: an array and a count local to the
/// extraction loop, handed over once per word. Holds any word's features (at most 26
/// positions × 8 n-gram lengths, a unigram and a bigram); a configuration with more
/// would hand them over as the array fills ([`Batch::spilled`]).
struct Batch {
    buf: [u32; BATCH],
    n: usize,
    /// Some of the current word's features went to the sink already.
    spilled: bool,
}

const BATCH: usize = 256;

impl Batch {
    fn new() -> Batch {
        Batch {
            buf: [0; BATCH],
            n: 0,
            spilled: false,
        }
    }

    #[inline]
    fn push(&mut self, x: u32, sink: &mut impl TokenSink) {
        if self.n == BATCH {
            sink.features(&self.buf);
            self.n = 0;
            self.spilled = true;
        }
        // Always in range (emptied above); `get_mut` keeps the loop free of panics.
        if let Some(slot) = self.buf.get_mut(self.n) {
            *slot = x;
            self.n += 1;
        }
    }

    /// Hands the word's features to the sink (`bigram`: the index of its bigram) and
    /// empties the batch.
    #[inline]
    fn finish_word(
        &mut self,
        word: &str,
        hash: u64,
        bigram: Option<usize>,
        sink: &mut impl TokenSink,
    ) {
        let feats = &self.buf[..self.n];
        if self.spilled {
            sink.features(feats);
        } else {
            sink.word_features(word, hash, feats, bigram);
        }
        self.n = 0;
        self.spilled = false;
    }
}

/// Multiplier of the character n-gram hash (a 64-bit golden-ratio constant).
const GRAM_MUL: u64 = 0x9E37_79B9_7F4A_7C15;

/// `LOW_BYTES[n]` keeps the low `n` bytes of a `u64`: an n-gram of a packed window.
const LOW_BYTES: [u64; 9] = {
    let mut t = [0u64; 9];
    let mut n = 1;
    while n <= 8 {
        t[n] = u64::MAX >> (64 - 8 * n);
        n += 1;
    }
    t
};

/// Hash of a character n-gram of at most 8 bytes, packed little-endian into `packed`:
/// one multiply, whose top bits (bucket and sign) depend on every input byte.
#[inline]
fn gram_hash(packed: u64) -> u64 {
    (packed ^ SEED_CHAR).wrapping_mul(GRAM_MUL)
}

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

/// Byte classes for the tokeniser's loops: one table load instead of several range tests.
const WS: u8 = 1;
const ALNUM: u8 = 2;
const DIGIT: u8 = 4;
/// `@` and `:`, which (with digits) can make a chunk an address or identifier.
const ADDR: u8 = 8;

static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0usize;
    while b < 128 {
        let c = b as u8;
        // `char::is_whitespace` on ASCII: space, \t, \n, \x0B, \x0C, \r.
        if c == b' ' || (c >= b'\t' && c <= b'\r') {
            t[b] = WS;
        } else if c.is_ascii_digit() {
            t[b] = ALNUM | DIGIT;
        } else if c.is_ascii_alphabetic() {
            t[b] = ALNUM;
        } else if c == b'@' || c == b':' {
            t[b] = ADDR;
        }
        b += 1;
    }
    t
};

/// Whether the char at byte `pos` of `s` is white space and whether it is alphanumeric,
/// and its length in bytes; ASCII without decoding. `None` at the end of `s`.
#[inline]
fn class_at(s: &str, pos: usize) -> Option<(bool, bool, usize)> {
    let b = *s.as_bytes().get(pos)?;
    if b < 0x80 {
        let c = CLASS[usize::from(b)];
        return Some((c & WS != 0, c & ALNUM != 0, 1));
    }
    let c = s.get(pos..)?.chars().next()?;
    Some((c.is_whitespace(), c.is_alphanumeric(), c.len_utf8()))
}

/// Whether a token looks like an identifier rather than a word: long hex runs (hashes,
/// UUID parts), long runs mixing letters with several digits (keys, order ids), and
/// numbers, whose digits would otherwise hash to arbitrary weights. Short leetspeak
/// (`d1sr3gard`) stays a word. Also returns whether the token has a digit (one pass).
fn is_identifier(token: &str) -> (bool, bool) {
    let (mut digits, mut hex) = (0usize, true);
    for &b in token.as_bytes() {
        digits += usize::from(b.is_ascii_digit());
        hex &= b.is_ascii_hexdigit();
    }
    let len = if token.is_ascii() {
        token.len()
    } else {
        token.chars().count()
    };
    let id = (len >= 12 && hex && digits > 0)
        || digits == len
        || (len >= 10 && digits * 4 >= len && digits < len);
    (id, digits > 0)
}

/// Whether a whitespace-delimited chunk is an address or identifier rather than words:
/// URLs, e-mail addresses, IP addresses, dates, version numbers, connection strings —
/// three or more alphanumeric runs with digits between them, or an `@` or `://`. Their
/// pieces and separators (`:` in an IPv6 address, `.` in a domain) would otherwise count
/// as words and punctuation; the classifier skips the whole chunk.
fn is_identifier_chunk(chunk: &str) -> bool {
    // Bytes, not chars: a non-ASCII byte counts as part of an alphanumeric run (the
    // folded text's non-ASCII characters are almost all letters).
    let (mut runs, mut digits, mut at, mut in_run) = (0usize, 0usize, false, false);
    for &b in chunk.as_bytes() {
        let alnum = b.is_ascii_alphanumeric() || b >= 0x80;
        runs += usize::from(alnum && !in_run);
        in_run = alnum;
        digits += usize::from(b.is_ascii_digit());
        at |= b == b'@';
    }
    runs >= 2 && (chunk.contains("://") || (at && runs >= 3)) || (runs >= 3 && digits >= 2)
}

/// The letter a digit imitates in leetspeak (`d1sr3gard`), if any.
pub(crate) fn leet_letter(c: char) -> Option<char> {
    Some(match c {
        '0' => 'o',
        '1' => 'i',
        '3' => 'e',
        '4' => 'a',
        '5' => 's',
        '7' => 't',
        '8' => 'b',
        _ => return None,
    })
}

/// Reads the digits of a word that also has letters as the letters they imitate (the
/// caller checks that it has both).
fn unleet(word: &str, out: &mut String) {
    out.clear();
    out.extend(word.chars().map(|c| leet_letter(c).unwrap_or(c)));
}

impl FeatureConfig {
    /// A feature's signed bucket: the bucket from the top `bits` bits of its hash, the
    /// sign from the bit below them (one shift keeps both, at most 25 bits; one
    /// rotation moves the sign to bit 31).
    #[inline]
    fn bucket(&self, h: u64) -> u32 {
        let top = (h >> (63 - u32::from(self.bits))) as u32;
        top.rotate_right(1)
    }

    /// Extracts the features of `text` into `out` (cleared first), L2-normalised.
    pub fn extract(&self, text: &str, scratch: &mut Scratch, out: &mut SparseFeatures) {
        out.clear();
        self.for_each_token(text, scratch, &mut Collect(out));
        if !out.is_empty() {
            let norm = 1.0 / (out.len().max(EVIDENCE_FLOOR) as f32).sqrt();
            for (_, v) in out.iter_mut() {
                *v *= norm;
            }
        }
    }

    /// Feeds every token of `text` to `sink` in order: its features as signed buckets
    /// (a word's bigram with the word before it belongs to the later word), then its byte
    /// span in `text`. Skipped tokens (identifiers) are reported with no features.
    pub fn for_each_token(&self, text: &str, scratch: &mut Scratch, sink: &mut impl TokenSink) {
        let Scratch {
            folded,
            word,
            gram,
            bounds,
            pending,
            warm,
        } = scratch;
        folded.fill(text);
        let folded_text = folded.text.as_str();
        let mut prev_word: Option<u64> = None;
        let mut out = Emit {
            warm,
            word,
            gram,
            bounds,
            batch: Batch::new(),
        };
        let mut pos = 0;
        // End of the current whitespace-delimited chunk; a new chunk is checked for
        // being an identifier (URL, address, …) when `pos` reaches it.
        let mut chunk_end = 0;
        // End of the previous reported token (folded offsets), for unit boundaries.
        let mut prev_end = 0;
        let bytes = folded_text.as_bytes();
        let mut boundary = |start: usize, end: usize| {
            let cut = prev_end.min(start);
            let last = if cut > 0 { bytes[cut - 1] } else { b' ' };
            let b = cut > 0 && unit_boundary(last, &bytes[cut..start]);
            prev_end = end;
            b
        };
        // Tokens are read a group at a time: first where they are and their word hashes,
        // then the sink is told which words and bigrams are coming ([`TokenSink::warm`]),
        // then their features go to the sink in order.
        pending.clear();
        while let Some((space, alnum, first_len)) = class_at(folded_text, pos) {
            if pending.len() >= PENDING {
                self.emit(folded_text, pending, &mut out, sink);
            }
            if space {
                pos += first_len;
                continue;
            }
            if pos >= chunk_end {
                // One pass to the chunk's end, noting whether it could be an identifier
                // at all (a digit, `@` or `:`); most chunks are plain words.
                chunk_end = bytes.len();
                let mut seen = 0u8;
                for (i, &b) in bytes[pos..].iter().enumerate() {
                    // `u8::is_ascii_whitespace` (not \x0B), as before.
                    if b != 0x0B && CLASS[usize::from(b)] & WS != 0 {
                        chunk_end = pos + i;
                        break;
                    }
                    seen |= CLASS[usize::from(b)];
                }
                let maybe = seen & (DIGIT | ADDR) != 0;
                if maybe && is_identifier_chunk(&folded_text[pos..chunk_end]) {
                    let unit = boundary(pos, chunk_end);
                    pending.push(Pending::plain(pos, chunk_end, unit));
                    pos = chunk_end;
                    prev_word = None;
                    continue;
                }
            }
            let mut len = first_len;
            let mut digit = CLASS[usize::from(bytes[pos])] & DIGIT != 0;
            while let Some((sp, an, l)) = class_at(folded_text, pos + len) {
                if sp || an != alnum {
                    break;
                }
                digit |= CLASS[usize::from(bytes[pos + len])] & DIGIT != 0;
                len += l;
            }
            let token = &folded_text[pos..pos + len];
            let (start, end) = (pos, pos + len);
            pos += len;
            if !alnum {
                if self.punctuation {
                    let cut = token.char_indices().nth(6).map_or(token.len(), |(i, _)| i);
                    let x = self.bucket(hash_bytes(SEED_PUNCT, &token.as_bytes()[..cut]));
                    let unit = boundary(start, end);
                    pending.push(Pending {
                        kind: PendingKind::Punct(x),
                        ..Pending::plain(start, end, unit)
                    });
                }
                continue;
            }
            // Without a digit a token is never an identifier, nor leetspeak.
            let (identifier, has_digit) = if digit {
                is_identifier(token)
            } else {
                (false, false)
            };
            if identifier {
                // Ids, hashes and keys carry no meaning for the classifier, and their
                // random n-grams would land in random buckets: they are skipped.
                prev_word = None;
                let unit = boundary(start, end);
                pending.push(Pending::plain(start, end, unit));
                continue;
            }
            let leet = has_digit && token.chars().any(char::is_alphabetic);
            let w: &str = if leet {
                unleet(token, out.word);
                out.word
            } else {
                token
            };
            let wh = hash_bytes(SEED_WORD, w.as_bytes());
            let bigram = match (self.word_bigrams, prev_word) {
                (true, Some(p)) => Some(self.bucket(mix(p.rotate_left(17) ^ wh ^ SEED_BIGRAM))),
                _ => None,
            };
            prev_word = Some(wh);
            let unit = boundary(start, end);
            pending.push(Pending {
                kind: PendingKind::Word {
                    hash: wh,
                    bigram,
                    leet,
                },
                ..Pending::plain(start, end, unit)
            });
        }
        self.emit(folded_text, pending, &mut out, sink);
    }

    /// Hands a group of read tokens to the sink, and empties it: first
    /// [`TokenSink::warm`] with their words and bigrams, then each token's features and
    /// span.
    fn emit(
        &self,
        folded_text: &str,
        pending: &mut Vec<Pending>,
        out: &mut Emit<'_>,
        sink: &mut impl TokenSink,
    ) {
        let Emit {
            warm,
            word,
            gram,
            bounds,
            batch,
        } = out;
        warm.clear();
        warm.extend(pending.iter().filter_map(|p| match p.kind {
            PendingKind::Word { hash, bigram, .. } => Some((hash, bigram)),
            _ => None,
        }));
        sink.warm(warm);
        for p in pending.iter() {
            match p.kind {
                PendingKind::Plain => {}
                PendingKind::Punct(x) => sink.features(&[x]),
                PendingKind::Word { hash, bigram, leet } => {
                    let token = folded_text.get(p.start..p.end).unwrap_or_default();
                    let w: &str = if leet {
                        unleet(token, word);
                        word
                    } else {
                        token
                    };
                    if sink.wants_word(w, hash) {
                        // In the order training has always read them: unigram, bigram,
                        // n-grams.
                        if self.word_unigrams {
                            batch.push(self.bucket(hash), sink);
                        }
                        let at = bigram.map(|b| {
                            batch.push(b, sink);
                            batch.n - 1
                        });
                        if self.char_min > 0 {
                            self.char_grams(w, gram, bounds, batch, sink);
                        }
                        batch.finish_word(w, hash, at, sink);
                    } else if let Some(b) = bigram {
                        sink.features(&[b]);
                    }
                }
            }
            sink.token(p.start, p.end, p.unit);
        }
        pending.clear();
    }

    fn char_grams(
        &self,
        word: &str,
        gram: &mut Vec<u8>,
        bounds: &mut Vec<usize>,
        batch: &mut Batch,
        out: &mut impl TokenSink,
    ) {
        let (lo, hi) = (usize::from(self.char_min), usize::from(self.char_max));
        gram.clear();
        if word.is_ascii() {
            // Fast path, same hashes: one byte per char; the n-gram starting at `i` is
            // the low `n` bytes of `<word>` from `i` on, zero-padded, packed little-endian.
            // The window slides in a register: writing the marked word to a buffer and
            // reading 8 bytes back at each position stalls on store forwarding.
            let body = &word.as_bytes()[..word.len().min(MAX_WORD_CHARS)];
            let chars = body.len() + 2;
            let byte_at = |k: usize| -> u64 {
                match k {
                    0 => u64::from(b'<'),
                    k if k <= body.len() => u64::from(body[k - 1]),
                    k if k == body.len() + 1 => u64::from(b'>'),
                    _ => 0,
                }
            };
            let mut w = (0..8).fold(0u64, |w, k| w | byte_at(k) << (8 * k));
            // n-grams of 1 to 8 bytes fit the window (`lo` of 9 or more: none).
            let (lo, hi) = (lo.clamp(1, 9), hi.min(8));
            for i in 0..chars {
                for mask in &LOW_BYTES[lo..=hi.min(chars - i).max(lo - 1)] {
                    batch.push(self.bucket(gram_hash(w & mask)), out);
                }
                w = (w >> 8) | byte_at(i + 8) << 56;
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
        // Per start position, n-grams of every length on the way: packed like the ASCII
        // path while they fit in 8 bytes, FNV-hashed beyond.
        for i in 0..chars {
            let (mut packed, mut shift) = (0u64, 0u32);
            let mut h = SEED_CHAR ^ 0xCBF2_9CE4_8422_2325;
            for n in 1..=hi.min(chars - i) {
                for &b in &gram[bounds[i + n - 1]..bounds[i + n]] {
                    h ^= u64::from(b);
                    h = h.wrapping_mul(0x0000_0100_0000_01B3);
                    if shift < 64 {
                        packed |= u64::from(b) << shift;
                    }
                    shift += 8;
                }
                if n >= lo {
                    let hash = if shift <= 64 {
                        gram_hash(packed)
                    } else {
                        mix(h ^ n as u64)
                    };
                    batch.push(self.bucket(hash), out);
                }
            }
        }
    }
}
