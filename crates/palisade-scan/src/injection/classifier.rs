//! The learned layer: a logistic-regression [`Classifier`] over hashed features
//! ([`super::features`]), loaded from a weights file ([`super::model`]). Long inputs are
//! scored in overlapping windows of tokens and the highest window wins, so a long benign preamble
//! cannot dilute an injection at the end.

use std::ops::Range;

use super::features::EVIDENCE_FLOOR;
use super::features::{Scratch, SparseFeatures};
use super::model::{Model, ModelError};

/// The weights shipped with Palisade, trained by `train-injection` on the S-Labs set.
pub static BUILTIN_MODEL: &[u8] = include_bytes!("../../models/injection-v1.bin");

/// A loaded injection classifier. Cheap to share: scoring takes `&self`.
#[derive(Debug, Clone)]
pub struct Classifier {
    model: Model,
}

#[inline]
pub(crate) fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

impl Classifier {
    /// The model compiled into the library (`models/injection-v1.bin`).
    pub fn builtin() -> Result<Classifier, ModelError> {
        Classifier::from_bytes(BUILTIN_MODEL)
    }

    /// Loads a user-supplied weights file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Classifier, ModelError> {
        Model::from_bytes(bytes).map(Classifier::from_model)
    }

    /// Wraps an in-memory model (as produced by training).
    pub fn from_model(model: Model) -> Classifier {
        Classifier { model }
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

    /// The highest window probability and that window's byte span of `text`.
    ///
    /// Texts of at most `window` tokens are scored whole. Longer texts are scored in
    /// windows of `window` and `window / 2` tokens, sliding by half a window and also
    /// starting at every sentence or line start. Since the model is linear, every
    /// window's margin comes from prefix sums over per-token contributions, so all
    /// windows together cost one feature extraction.
    pub fn score_window(&self, text: &str) -> (f32, Range<usize>) {
        let mut scratch = Scratch::default();
        let mut feats = SparseFeatures::new();
        // Per token: byte span, prefix sum of contributions, prefix count of features.
        let w = &self.model.weights;
        let mut spans: Vec<(usize, usize)> = Vec::new();
        let mut sums = vec![0.0f64];
        let mut ends = vec![0usize];
        let (mut acc, mut count) = (0.0f64, 0usize);
        self.model
            .features
            .for_each_token(text, &mut scratch, &mut feats, |start, end, f| {
                let mut c = 0.0f32;
                for &(b, v) in f {
                    c += w.get(b as usize).copied().unwrap_or(0.0) * v;
                }
                acc += f64::from(c);
                count += f.len();
                spans.push((start, end));
                sums.push(acc);
                ends.push(count);
            });
        if spans.is_empty() {
            return (sigmoid(self.model.bias), 0..text.len());
        }
        let score = |a: usize, b: usize| {
            let n = ends[b] - ends[a];
            if n == 0 {
                return sigmoid(self.model.bias);
            }
            let n = n.max(EVIDENCE_FLOOR);
            sigmoid(self.model.bias + ((sums[b] - sums[a]) / (n as f64).sqrt()) as f32)
        };
        let span = |a: usize, b: usize| spans[a].0..spans[b - 1].1;
        let n = spans.len();
        let window = (self.model.window as usize).max(4);
        if n <= window {
            return (score(0, n), 0..text.len());
        }
        let mut best = (f32::NEG_INFINITY, 0..0);
        for size in [window, window / 2] {
            let stride = (size / 2).max(1);
            let mut a = 0;
            loop {
                let b = (a + size).min(n);
                let p = score(a, b);
                if p > best.0 {
                    best = (p, span(a, b));
                }
                if b == n {
                    break;
                }
                a += stride;
            }
        }
        // Windows that start where a sentence or line starts, so an injection appended
        // after benign text is scored without the benign words before it.
        for a in 1..n {
            let gap = text.get(spans[a - 1].1..spans[a].0).unwrap_or("");
            let prev = text.get(spans[a - 1].0..spans[a - 1].1).unwrap_or("");
            let boundary = gap.contains('\n') || prev.ends_with(['.', '!', '?', ':', ';']);
            if !boundary {
                continue;
            }
            for size in [window, window / 2] {
                let b = (a + size).min(n);
                let p = score(a, b);
                if p > best.0 {
                    best = (p, span(a, b));
                }
            }
        }
        best
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
