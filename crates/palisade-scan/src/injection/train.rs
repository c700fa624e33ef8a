//! Training and measuring the classifier, shared by the `train-injection` binary and the
//! `eval_injection` example: deterministic feature extraction, logistic regression with
//! L2 trained by AdaGrad in a seeded order (the weights averaged over several orders, so
//! that which order a seed happens to give does not move the result), k-fold splits,
//! confusion counts and threshold tuning. Same inputs and seed, same weights, bit for bit.

use super::classifier::sigmoid;
use super::csv::Example;
use super::features::{FeatureConfig, Scratch, SparseFeatures};
use super::model::Model;

/// Hyper-parameters of one training run.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    pub features: FeatureConfig,
    pub epochs: usize,
    pub learning_rate: f32,
    /// L2 penalty applied to the weights a step touches.
    pub l2: f32,
    pub seed: u64,
    /// Runs averaged into one model, each in its own seeded order: one run's validation F1
    /// moved by ±0.003 with the seed alone; the average of five moves far less.
    pub orders: usize,
    /// Window size stored in the model (tokens).
    pub window: u32,
    /// Window penalty stored in the model (see [`Model::window_penalty`]).
    pub window_penalty: f32,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            features: FeatureConfig::default(),
            epochs: 10,
            learning_rate: 0.1,
            l2: 1e-5,
            seed: 0x5EED_1A7E,
            orders: 5,
            window: 32,
            window_penalty: 0.5,
        }
    }
}

/// SplitMix64: a tiny seeded generator, so training needs no `rand`.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

/// Extracts the features of every example (training-time cache).
pub fn featurize(texts: &[&str], features: &FeatureConfig) -> Vec<SparseFeatures> {
    let mut scratch = Scratch::default();
    texts
        .iter()
        .map(|t| {
            let mut f = SparseFeatures::new();
            features.extract(t, &mut scratch, &mut f);
            f
        })
        .collect()
}

/// Trains logistic regression on pre-extracted features: the weights and bias averaged
/// over [`TrainConfig::orders`] runs (the average of solutions of a convex problem is
/// one too); threshold is left at 0.5.
pub fn train_features(xs: &[SparseFeatures], ys: &[bool], cfg: &TrainConfig) -> Model {
    let runs = cfg.orders.max(1);
    let mut rng = SplitMix64(cfg.seed);
    let mut sum: Option<Model> = None;
    for _ in 0..runs {
        let run = train_one_order(xs, ys, cfg, rng.next_u64());
        sum = Some(match sum {
            None => run,
            Some(mut acc) => {
                for (a, w) in acc.weights.iter_mut().zip(&run.weights) {
                    *a += w;
                }
                acc.bias += run.bias;
                acc
            }
        });
    }
    let mut model = sum.unwrap_or_else(|| train_one_order(xs, ys, cfg, cfg.seed));
    let scale = 1.0 / runs as f32;
    model.weights.iter_mut().for_each(|w| *w *= scale);
    model.bias *= scale;
    model
}

/// One AdaGrad run over the examples, shuffled by `seed` each epoch.
fn train_one_order(xs: &[SparseFeatures], ys: &[bool], cfg: &TrainConfig, seed: u64) -> Model {
    let n = 1usize << cfg.features.bits;
    let mut w = vec![0.0f32; n];
    let mut g2 = vec![1e-8f32; n];
    let (mut bias, mut bias_g2) = (0.0f32, 1e-8f32);
    let mut order: Vec<usize> = (0..xs.len().min(ys.len())).collect();
    let mut rng = SplitMix64(seed);
    for _ in 0..cfg.epochs {
        rng.shuffle(&mut order);
        for &i in &order {
            let x = &xs[i];
            let mut z = bias;
            for &(b, v) in x {
                z += w[b as usize] * v;
            }
            let err = sigmoid(z) - if ys[i] { 1.0 } else { 0.0 };
            for &(b, v) in x {
                let j = b as usize;
                let g = err * v + cfg.l2 * w[j];
                g2[j] += g * g;
                w[j] -= cfg.learning_rate * g / g2[j].sqrt();
            }
            bias_g2 += err * err;
            bias -= cfg.learning_rate * err / bias_g2.sqrt();
        }
    }
    Model {
        features: cfg.features,
        threshold: 0.5,
        bias,
        window: cfg.window,
        window_penalty: cfg.window_penalty,
        weights: w,
    }
}

/// Trains on labelled examples.
pub fn train(examples: &[Example], cfg: &TrainConfig) -> Model {
    let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
    let ys: Vec<bool> = examples.iter().map(|e| e.label).collect();
    train_features(&featurize(&texts, &cfg.features), &ys, cfg)
}

/// Probabilities for pre-extracted features under `model` (no windowing).
pub fn predict_features(model: &Model, xs: &[SparseFeatures]) -> Vec<f32> {
    xs.iter()
        .map(|x| {
            let mut z = model.bias;
            for &(b, v) in x {
                z += model.weights.get(b as usize).copied().unwrap_or(0.0) * v;
            }
            sigmoid(z)
        })
        .collect()
}

/// Assigns each index to one of `k` folds, stratified by label, in seeded order.
pub fn stratified_folds(ys: &[bool], k: usize, seed: u64) -> Vec<usize> {
    let mut rng = SplitMix64(seed);
    let mut fold = vec![0usize; ys.len()];
    for class in [false, true] {
        let mut idx: Vec<usize> = (0..ys.len()).filter(|&i| ys[i] == class).collect();
        rng.shuffle(&mut idx);
        for (n, i) in idx.into_iter().enumerate() {
            fold[i] = n % k.max(1);
        }
    }
    fold
}

/// A key shared by near-duplicate texts: the sorted set of their words of four or more
/// letters, lower-cased, digits read as leetspeak. Rows that differ only in case,
/// punctuation, word order or short words land in the same cross-validation fold.
pub fn group_key(text: &str) -> u64 {
    let mut words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 4)
        .map(|w| {
            w.chars()
                .map(|c| {
                    super::features::leet_letter(c)
                        .unwrap_or_else(|| c.to_lowercase().next().unwrap_or(c))
                })
                .collect()
        })
        .collect();
    words.sort_unstable();
    words.dedup();
    super::model::fnv1a64(words.join(" ").as_bytes())
}

/// Like [`stratified_folds`], but near-duplicates ([`group_key`]) share a fold: each
/// group goes to the fold of its first member, folds dealt in seeded order per label.
pub fn grouped_folds(texts: &[&str], ys: &[bool], k: usize, seed: u64) -> Vec<usize> {
    let k = k.max(1);
    let mut rng = SplitMix64(seed);
    let mut fold = vec![0usize; ys.len()];
    let mut assigned: std::collections::HashMap<u64, usize> = Default::default();
    for class in [false, true] {
        let mut idx: Vec<usize> = (0..ys.len()).filter(|&i| ys[i] == class).collect();
        rng.shuffle(&mut idx);
        let mut next = 0usize;
        for i in idx {
            let key = group_key(texts[i]);
            fold[i] = *assigned.entry(key).or_insert_with(|| {
                next += 1;
                (next - 1) % k
            });
        }
    }
    fold
}

/// Out-of-fold probabilities from `k`-fold cross-validation on the training set, folds
/// grouped by [`group_key`] (each fold's model trained on the other folds; held-out rows
/// scored whole).
pub fn cross_validate(examples: &[Example], k: usize, cfg: &TrainConfig) -> Vec<f32> {
    cross_validate_with(examples, &[], k, cfg)
}

/// [`cross_validate`] over `examples`, with `extra` rows (project-written data) added to
/// every fold's training rows and never scored.
pub fn cross_validate_with(
    examples: &[Example],
    extra: &[Example],
    k: usize,
    cfg: &TrainConfig,
) -> Vec<f32> {
    let ys: Vec<bool> = examples.iter().map(|e| e.label).collect();
    let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
    let folds = grouped_folds(&texts, &ys, k, cfg.seed ^ 0xF01D);
    let all_x = featurize(&texts, &cfg.features);
    let extra_texts: Vec<&str> = extra.iter().map(|e| e.text.as_str()).collect();
    let extra_x = featurize(&extra_texts, &cfg.features);
    let mut out = vec![0.0f32; ys.len()];
    for f in 0..k {
        let mut fit_x: Vec<SparseFeatures> = Vec::new();
        let mut fit_y: Vec<bool> = Vec::new();
        for i in (0..ys.len()).filter(|&i| folds[i] != f) {
            fit_x.push(all_x[i].clone());
            fit_y.push(ys[i]);
        }
        fit_x.extend(extra_x.iter().cloned());
        fit_y.extend(extra.iter().map(|e| e.label));
        let model = train_features(&fit_x, &fit_y, cfg);
        let held: Vec<usize> = (0..ys.len()).filter(|&i| folds[i] == f).collect();
        let hx: Vec<SparseFeatures> = held.iter().map(|&i| all_x[i].clone()).collect();
        for (i, p) in held.into_iter().zip(predict_features(&model, &hx)) {
            out[i] = p;
        }
    }
    out
}

/// Mean binary cross-entropy.
pub fn log_loss(scores: &[f32], ys: &[bool]) -> f64 {
    let n = scores.len().max(1) as f64;
    scores
        .iter()
        .zip(ys)
        .map(|(&p, &y)| {
            let p = f64::from(p).clamp(1e-7, 1.0 - 1e-7);
            if y { -p.ln() } else { -(1.0 - p).ln() }
        })
        .sum::<f64>()
        / n
}

/// Confusion counts at one threshold (score `>=` threshold is positive).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Confusion {
    pub tp: usize,
    pub fp: usize,
    pub tn: usize,
    pub fn_: usize,
}

impl Confusion {
    pub fn from_predictions(predicted: &[bool], ys: &[bool]) -> Confusion {
        let mut c = Confusion::default();
        for (&p, &y) in predicted.iter().zip(ys) {
            match (p, y) {
                (true, true) => c.tp += 1,
                (true, false) => c.fp += 1,
                (false, false) => c.tn += 1,
                (false, true) => c.fn_ += 1,
            }
        }
        c
    }

    pub fn at(scores: &[f32], ys: &[bool], threshold: f32) -> Confusion {
        let predicted: Vec<bool> = scores.iter().map(|&s| s >= threshold).collect();
        Confusion::from_predictions(&predicted, ys)
    }

    fn ratio(a: usize, b: usize) -> f64 {
        if b == 0 { 0.0 } else { a as f64 / b as f64 }
    }
    pub fn precision(&self) -> f64 {
        Self::ratio(self.tp, self.tp + self.fp)
    }
    pub fn recall(&self) -> f64 {
        Self::ratio(self.tp, self.tp + self.fn_)
    }
    pub fn fpr(&self) -> f64 {
        Self::ratio(self.fp, self.fp + self.tn)
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

/// The threshold with the best F1 among those whose false-positive rate is at most
/// `max_fpr`; ties go to the higher threshold. Candidates are midpoints between
/// consecutive distinct scores.
pub fn tune_threshold(scores: &[f32], ys: &[bool], max_fpr: f64) -> f32 {
    let mut sorted: Vec<f32> = scores.iter().copied().filter(|s| s.is_finite()).collect();
    sorted.sort_by(f32::total_cmp);
    sorted.dedup();
    let mut best = (f64::NEG_INFINITY, 0.5f32);
    for pair in sorted.windows(2) {
        let t = (pair[0] + pair[1]) / 2.0;
        let c = Confusion::at(scores, ys, t);
        if c.fpr() <= max_fpr && c.f1() >= best.0 {
            best = (c.f1(), t);
        }
    }
    best.1
}

/// The most conservative threshold that gives up little F1: the highest threshold whose
/// validation F1 is within `f1_slack` of the best F1 reachable with a false-positive rate
/// of at most `max_fpr` (and whose own FPR is within `max_fpr`). Where F1 is flat near
/// its maximum, a higher threshold flags fewer out-of-distribution benign texts (short
/// everyday requests sit near the model's prior, just under the F1-optimal threshold).
pub fn tune_threshold_conservative(
    scores: &[f32],
    ys: &[bool],
    max_fpr: f64,
    f1_slack: f64,
) -> f32 {
    let best = Confusion::at(scores, ys, tune_threshold(scores, ys, max_fpr)).f1();
    let mut sorted: Vec<f32> = scores.iter().copied().filter(|s| s.is_finite()).collect();
    sorted.sort_by(f32::total_cmp);
    sorted.dedup();
    let mut pick = tune_threshold(scores, ys, max_fpr);
    for pair in sorted.windows(2) {
        let t = (pair[0] + pair[1]) / 2.0;
        let c = Confusion::at(scores, ys, t);
        if t > pick && c.fpr() <= max_fpr && c.f1() >= best - f1_slack {
            pick = t;
        }
    }
    pick
}
