//! The learned layer: a logistic-regression [`Classifier`] over hashed features
//! ([`super::features`]), loaded from a weights file ([`super::model`]). Long inputs are
//! scored in windows of whole sentences (and of tokens inside very long sentences) and the
//! highest window wins, so a long benign preamble cannot dilute an injection at the end;
//! the winning margin is lowered by a penalty that grows with the log of the number of
//! windows, so a long benign text is not flagged because one of its many windows scored
//! high by chance.

use std::cell::RefCell;
use std::ops::Range;

use super::features::EVIDENCE_FLOOR;
use super::features::{NEGATIVE, Scratch, SparseFeatures, TokenSink};
use super::fold::Folded;
use super::model::{Model, ModelError};

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

/// Per-thread buffers, so scoring allocates nothing after the first call on a thread.
#[derive(Debug, Default)]
struct Buffers {
    scratch: Scratch,
    toks: Vec<Tok>,
    /// Features read but not yet looked up (signed buckets), and the running sum of
    /// their weights.
    feats: Vec<u32>,
    sums: Vec<i64>,
    /// Tokens that start a unit (after a line break, or after sentence-ending
    /// punctuation followed by a space — not `:` inside an address).
    starts: Vec<usize>,
}

/// Buffers grown beyond this many tokens (by a very long text) are freed after use.
const KEEP_TOKENS: usize = 1 << 14;

thread_local! {
    static BUFFERS: RefCell<Buffers> = RefCell::new(Buffers::default());
}

/// Features are looked up in blocks of about this many, after extraction.
const LOOKUP_BLOCK: usize = 1024;

/// Scoring state while a text's tokens are read.
///
/// Feature extraction only collects each token's buckets; the weights are looked up
/// a block at a time in a loop that does nothing else ([`WindowSink::look_up`]). The
/// table is usually out of the cache when a request arrives, and with the lookups apart
/// from the hashing, the processor has many of those misses in flight at once instead
/// of a few: a cold scan of a 1 KB prompt (the `request_cost` example, cold mode) took
/// about a third less time.
struct WindowSink<'a> {
    table: &'a [i16],
    /// Sum of the weights and number of the features looked up so far.
    sum: i64,
    count: u32,
    /// The first token whose sum waits for a lookup.
    pending: usize,
    buffers: &'a mut Buffers,
}

impl TokenSink for WindowSink<'_> {
    #[inline]
    fn feature(&mut self, x: u32) {
        self.buffers.feats.push(x);
    }

    #[inline]
    fn token(&mut self, start: usize, end: usize, unit_start: bool) {
        let Buffers {
            toks,
            starts,
            feats,
            ..
        } = &mut *self.buffers;
        if unit_start {
            starts.push(toks.len());
        }
        let read = u32::try_from(feats.len()).unwrap_or(u32::MAX);
        toks.push(Tok {
            start,
            end,
            sum: 0,
            count: self.count.saturating_add(read),
        });
        if feats.len() >= LOOKUP_BLOCK {
            self.look_up();
        }
    }
}

impl WindowSink<'_> {
    /// Looks up the collected features and completes the pending tokens' sums (features
    /// after the last token belong to none and are dropped).
    fn look_up(&mut self) {
        let Buffers {
            toks, feats, sums, ..
        } = &mut *self.buffers;
        let before = self.sum;
        let mut sum = before;
        sums.clear();
        sums.extend(feats.iter().map(|&x| {
            let q = i32::from(
                self.table
                    .get((x & !NEGATIVE) as usize)
                    .copied()
                    .unwrap_or(0),
            );
            // Negate when the sign bit is set, without a branch.
            let m = -((x >> 31) as i32);
            sum += i64::from((q ^ m) - m);
            sum
        }));
        // The sum of the weights up to the `read`-th feature of this block.
        let sum_to = |read: usize| {
            read.checked_sub(1)
                .and_then(|i| sums.get(i))
                .copied()
                .unwrap_or(before)
        };
        let mut read = 0;
        for tok in toks.get_mut(self.pending..).unwrap_or_default() {
            read = (tok.count - self.count) as usize;
            tok.sum = sum_to(read);
        }
        self.sum = sum_to(read);
        self.count = self
            .count
            .saturating_add(u32::try_from(read).unwrap_or(u32::MAX));
        self.pending = toks.len();
        feats.clear();
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
                    *buffers = Buffers::default();
                }
                out
            }
            Err(_) => run(&mut Buffers::default()),
        })
    }

    fn best_window_in(&self, text: &str, buffers: &mut Buffers) -> Window {
        buffers.toks.clear();
        buffers.starts.clear();
        buffers.starts.push(0);
        let mut scratch = std::mem::take(&mut buffers.scratch);
        buffers.feats.clear();
        let mut sink = WindowSink {
            table: &self.table,
            sum: 0,
            count: 0,
            pending: 0,
            buffers,
        };
        self.model
            .features
            .for_each_token(text, &mut scratch, &mut sink);
        sink.look_up();
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
