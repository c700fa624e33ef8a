//! The learned layer: a logistic-regression [`Classifier`] over hashed features
//! ([`super::features`]), loaded from a weights file ([`super::model`]). Long inputs are
//! scored in windows of whole sentences (and of tokens inside very long sentences) and the
//! highest window wins, so a long benign preamble cannot dilute an injection at the end;
//! the winning margin is lowered by a penalty that grows with the log of the number of
//! windows, so a long benign text is not flagged because one of its many windows scored
//! high by chance.
//!
//! Scoring is built for a table that is out of the cache when a request comes (a
//! gateway does much else between two prompts): a word's own features are weighed once
//! per thread and memoised ([`super::word_memo`]), and the memo slots and bigram weights
//! a group of tokens needs are read together before the tokens are scored
//! ([`TokenSink::warm`]), so their cache misses overlap.

use std::cell::RefCell;
use std::ops::Range;

use super::features::EVIDENCE_FLOOR;
use super::features::{NEGATIVE, Scratch, SparseFeatures, TokenSink};
use super::fold::Folded;
use super::model::{Model, ModelError};
use super::word_memo::{WordMemo, next_model_id};

/// Most units (sentences, lines) of a deciding window searched for its focus (the search
/// is quadratic in them; a model with a very long window falls back to the window).
const MAX_FOCUS_UNITS: usize = 64;

/// The weights shipped with Palisade, trained by `train-injection` on the S-Labs set.
pub static BUILTIN_MODEL: &[u8] = include_bytes!("../../models/injection-v2.bin");

/// The deciding window of a text: its margin (`bias + w·x`, before the window
/// penalty), its byte span, and how many windows the text was cut into.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub margin: f32,
    pub span: Range<usize>,
    /// Within `span`, the run of whole units (sentences, lines) with the highest margin,
    /// with the neighbouring units that also lean towards injection: where the injection
    /// is (a short text is one window, the sentence before an attack included). What a
    /// finding reports and a redaction replaces; `span` decides.
    pub focus: Range<usize>,
    pub windows: usize,
}

/// One token as the scorer keeps it: its byte span in the folded text, and the sum of
/// weight contributions and the count of features of every token up to and including it.
#[derive(Debug, Clone, Copy)]
struct Tok {
    start: usize,
    end: usize,
    sum: i64,
    count: u32,
}

/// Per-thread buffers, so scoring allocates nothing after the first call on a thread,
/// and the thread's memo of word weights.
#[derive(Debug, Default)]
struct Buffers {
    scratch: Scratch,
    toks: Vec<Tok>,
    /// Tokens that start a unit (after a line break, or after sentence-ending
    /// punctuation followed by a space — not `:` inside an address).
    starts: Vec<usize>,
    words: WordMemo,
}

/// Buffers grown beyond this many tokens (by a very long text) are freed after use.
const KEEP_TOKENS: usize = 1 << 14;

thread_local! {
    static BUFFERS: RefCell<Buffers> = RefCell::new(Buffers::default());
}

/// Scoring state while a text's tokens are read: each feature is weighed as it comes,
/// and each token records the running sum and count.
struct WindowSink<'a> {
    table: &'a [i16],
    /// The classifier's identity in the word memo.
    model: u64,
    /// Sum of the weights and number of the features read so far.
    sum: i64,
    count: u32,
    toks: &'a mut Vec<Tok>,
    starts: &'a mut Vec<usize>,
    words: &'a mut WordMemo,
}

impl WindowSink<'_> {
    /// The sum of the weights of signed buckets.
    #[inline]
    fn weigh(&self, xs: &[u32]) -> i64 {
        xs.iter()
            .map(|&x| {
                let q = i64::from(
                    self.table
                        .get((x & !NEGATIVE) as usize)
                        .copied()
                        .unwrap_or(0),
                );
                if x & NEGATIVE == 0 { q } else { -q }
            })
            .sum()
    }

    #[inline]
    fn add(&mut self, sum: i64, count: usize) {
        self.sum += sum;
        self.count = self
            .count
            .saturating_add(u32::try_from(count).unwrap_or(u32::MAX));
    }
}

impl TokenSink for WindowSink<'_> {
    /// Reads the coming words' memo slots and bigrams' weights in one loop of
    /// independent loads: in a gateway both are usually out of the cache by the next
    /// request, and read here the misses overlap; read as each token comes, each waits
    /// for the one before (whether a word is memoised decides what comes next).
    fn warm(&mut self, words: &[(u64, Option<u32>)]) {
        let mut touched = 0i64;
        for &(hash, bigram) in words {
            touched = touched.wrapping_add(self.words.peek(self.model, hash));
            if let Some(b) = bigram {
                touched = touched.wrapping_add(self.weigh(&[b]));
            }
        }
        std::hint::black_box(touched);
    }

    #[inline]
    fn features(&mut self, xs: &[u32]) {
        let sum = self.weigh(xs);
        self.add(sum, xs.len());
    }

    #[inline]
    fn wants_word(&mut self, word: &str, hash: u64) -> bool {
        match self.words.get(self.model, word.as_bytes(), hash) {
            Some((sum, count)) => {
                self.add(sum, count as usize);
                false
            }
            None => true,
        }
    }

    #[inline]
    fn word_features(&mut self, word: &str, hash: u64, xs: &[u32], bigram: Option<usize>) {
        let sum = self.weigh(xs);
        let (own_sum, own_count) = match bigram.and_then(|i| xs.get(i)) {
            Some(&b) => (sum - self.weigh(&[b]), xs.len() - 1),
            None => (sum, xs.len()),
        };
        self.words
            .put(self.model, word.as_bytes(), hash, own_sum, own_count);
        self.add(sum, xs.len());
    }

    #[inline]
    fn token(&mut self, start: usize, end: usize, unit_start: bool) {
        if unit_start {
            self.starts.push(self.toks.len());
        }
        self.toks.push(Tok {
            start,
            end,
            sum: self.sum,
            count: self.count,
        });
    }
}

/// A loaded injection classifier. Cheap to share: scoring takes `&self`.
///
/// Scoring reads the weights from a 16-bit fixed-point copy (`weight ≈ q · scale`):
/// half the memory of `f32`, so the table of a 2^17-bucket model (256 KB) stays in the
/// L2 cache, and a token's contribution is an integer sum, scaled once.
#[derive(Debug, Clone)]
pub struct Classifier {
    model: Model,
    table: Vec<i16>,
    scale: f32,
    /// This classifier's weights in the per-thread word memo ([`super::word_memo`]).
    id: u64,
}

#[inline]
pub(crate) fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

impl Classifier {
    /// The model compiled into the library (`models/injection-v2.bin`).
    pub fn builtin() -> Result<Classifier, ModelError> {
        Classifier::from_bytes(BUILTIN_MODEL)
    }

    /// Loads a user-supplied weights file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Classifier, ModelError> {
        Model::from_bytes(bytes).map(Classifier::from_model)
    }

    /// Wraps an in-memory model (as produced by training).
    pub fn from_model(model: Model) -> Classifier {
        let max = model.weights.iter().fold(0.0f32, |m, w| m.max(w.abs()));
        let scale = if max > 0.0 {
            max / f32::from(i16::MAX)
        } else {
            1.0
        };
        let table = model
            .weights
            .iter()
            .map(|&w| (w / scale).round().clamp(-32767.0, 32767.0) as i16)
            .collect();
        Classifier {
            model,
            table,
            scale,
            id: next_model_id(),
        }
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Serialises the model (half-precision weights).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.model.to_bytes()
    }

    /// The decision threshold stored with the model.
    pub fn threshold(&self) -> f32 {
        self.model.threshold
    }

    /// Probability that `text` is a prompt injection (the highest window's).
    pub fn score(&self, text: &str) -> f32 {
        self.score_window(text).0
    }

    /// The probability that `text` is an injection and the byte span of the window that
    /// decided it: [`Classifier::best_window`]'s margin, less the model's window penalty
    /// times the natural log of the number of windows scored.
    pub fn score_window(&self, text: &str) -> (f32, Range<usize>) {
        let ((p, window), ()) = self.score_window_with(text, |_| ());
        (p, window.span)
    }

    /// [`Classifier::score_window`], also handing `with_folded` the text as folded for
    /// scoring, so that the rule layer, which reads the same folding, need not fold again.
    pub(crate) fn score_window_with<R>(
        &self,
        text: &str,
        with_folded: impl FnOnce(&Folded) -> R,
    ) -> ((f32, Window), R) {
        let (best, r) = self.with_best_window(text, with_folded);
        let penalty = self.model.window_penalty * (best.windows.max(1) as f32).ln();
        ((sigmoid(best.margin - penalty), best), r)
    }

    /// The highest-margin window of `text` and how many windows were scored.
    ///
    /// Texts of at most `window` tokens are one window, scored whole. Longer texts are
    /// cut into units at sentence ends and line breaks (the training rows are single
    /// sentences or short passages), and every run of consecutive units that fits in
    /// `window` tokens is a window; a unit longer than `window` is also scored in windows
    /// of `window` tokens sliding by half a window. Since the model is linear, every
    /// window's margin comes from prefix sums over per-token contributions, so all
    /// windows together cost one feature extraction.
    pub fn best_window(&self, text: &str) -> Window {
        self.with_best_window(text, |_| ()).0
    }

    /// [`Classifier::best_window`], then `with_folded` on the folded text.
    fn with_best_window<R>(
        &self,
        text: &str,
        with_folded: impl FnOnce(&Folded) -> R,
    ) -> (Window, R) {
        let run = |buffers: &mut Buffers| {
            let w = self.best_window_in(text, buffers);
            (w, with_folded(buffers.scratch.folded()))
        };
        BUFFERS.with(|cell| match cell.try_borrow_mut() {
            Ok(mut buffers) => {
                let out = run(&mut buffers);
                if buffers.toks.capacity() > KEEP_TOKENS {
                    buffers.toks = Vec::new();
                    buffers.starts = Vec::new();
                    buffers.scratch = Scratch::default();
                }
                out
            }
            Err(_) => run(&mut Buffers {
                words: WordMemo::off(),
                ..Buffers::default()
            }),
        })
    }

    /// [`Classifier::best_window`] with every word's features extracted and weighed
    /// again (no memo): what the memo must reproduce exactly.
    #[cfg(test)]
    pub(crate) fn best_window_unmemoised(&self, text: &str) -> Window {
        self.best_window_in(
            text,
            &mut Buffers {
                words: WordMemo::off(),
                ..Buffers::default()
            },
        )
    }

    fn best_window_in(&self, text: &str, buffers: &mut Buffers) -> Window {
        buffers.toks.clear();
        buffers.starts.clear();
        buffers.starts.push(0);
        let mut scratch = std::mem::take(&mut buffers.scratch);
        let mut sink = WindowSink {
            table: &self.table,
            model: self.id,
            sum: 0,
            count: 0,
            toks: &mut buffers.toks,
            starts: &mut buffers.starts,
            words: &mut buffers.words,
        };
        self.model
            .features
            .for_each_token(text, &mut scratch, &mut sink);
        let Buffers { toks, starts, .. } = buffers;
        let toks = toks.as_slice();
        // Prefix sum and count before token `k`.
        let pre = |k: usize| {
            k.checked_sub(1)
                .map_or((0, 0), |i| (toks[i].sum, toks[i].count))
        };
        let (bias, scale) = (self.model.bias, f64::from(self.scale));
        let margin = |a: usize, b: usize| {
            let ((sa, ca), (sb, cb)) = (pre(a), pre(b));
            let n = (cb - ca) as usize;
            if n == 0 {
                return bias;
            }
            let sum = (sb - sa) as f64 * scale;
            bias + (sum / (n.max(EVIDENCE_FLOOR) as f64).sqrt()) as f32
        };
        let n = toks.len();
        starts.push(n);
        // The highest-margin run of whole units inside the window `a..b` (ties: the
        // whole window), widened by the neighbouring units that lean the same way (a
        // second sentence of the attack, weaker on its own), as a token range. Windows
        // of more than `MAX_FOCUS_UNITS` units are not narrowed.
        let focus = |a: usize, b: usize| {
            let lo = starts.partition_point(|&s| s <= a);
            let inner = &starts[lo..starts.partition_point(|&s| s < b).max(lo)];
            if inner.len() >= MAX_FOCUS_UNITS {
                return (a, b);
            }
            let bound = |i: usize| match i {
                0 => a,
                i if i <= inner.len() => inner[i - 1],
                _ => b,
            };
            let last = inner.len() + 1;
            let mut best = (margin(a, b), 0, last);
            for i in 0..last {
                for j in i + 1..=last {
                    let m = margin(bound(i), bound(j));
                    if m > best.0 {
                        best = (m, i, j);
                    }
                }
            }
            let (_, mut i, mut j) = best;
            // A unit's own weight: the sum of its tokens' contributions.
            let weight = |x: usize, y: usize| pre(bound(y)).0 - pre(bound(x)).0;
            while i > 0 && weight(i - 1, i) > 0 {
                i -= 1;
            }
            while j < last && weight(j, j + 1) > 0 {
                j += 1;
            }
            (bound(i), bound(j))
        };
        let original = |scratch: &Scratch, a: usize, b: usize| {
            if a >= b {
                return 0..text.len();
            }
            let (start, end) = scratch.original_span(text, toks[a].start, toks[b - 1].end);
            start..end
        };
        let window = (self.model.window as usize).max(4);
        if n <= window {
            let (fa, fb) = focus(0, n);
            let focus = if (fa, fb) == (0, n) {
                0..text.len()
            } else {
                original(&scratch, fa, fb)
            };
            buffers.scratch = scratch;
            return Window {
                margin: margin(0, n),
                span: 0..text.len(),
                focus,
                windows: 1,
            };
        }
        let mut best = (f32::NEG_INFINITY, 0usize, 0usize);
        let mut windows = 0usize;
        let mut consider = |a: usize, b: usize| {
            windows += 1;
            let m = margin(a, b);
            if m > best.0 {
                best = (m, a, b);
            }
        };
        for u in 0..starts.len() - 1 {
            let (a, unit_end) = (starts[u], starts[u + 1]);
            for &b in &starts[u + 1..] {
                if b - a > window {
                    break;
                }
                consider(a, b);
            }
            if unit_end - a > window {
                let stride = window / 2;
                let mut s = a;
                loop {
                    let b = (s + window).min(unit_end);
                    consider(s, b);
                    if b == unit_end {
                        break;
                    }
                    s += stride;
                }
            }
        }
        let (m, a, b) = best;
        let span = original(&scratch, a, b);
        let (fa, fb) = focus(a, b);
        let focus = original(&scratch, fa, fb);
        buffers.scratch = scratch;
        Window {
            margin: m,
            span,
            focus,
            windows,
        }
    }

    /// `bias + w·x` for already extracted features.
    pub fn margin(&self, feats: &SparseFeatures) -> f32 {
        let w = &self.model.weights;
        let mut z = self.model.bias;
        for &(b, v) in feats {
            z += w.get(b as usize).copied().unwrap_or(0.0) * v;
        }
        z
    }
}
