//! Prompt-injection detection: a rule layer for the well-known attack phrasings and a
//! small learned classifier for everything the rules do not spell out.
//!
//! ```text
//! text ─┬─► fold ─► Aho-Corasick anchors ─► armed regexes ─► injection.rules:<family>
//!       └─► fold ─► hashed n-grams per token ─► logistic regression over windows of
//!                   whole sentences/lines (≤ 32 tokens), best margin − 0.5·ln(#windows)
//!                                        ─► injection.classifier
//! ```
//! - [`rules`]: [`InjectionRules`], four families (override, persona, extraction,
//!   delimiter); override and extraction also in de/fr/es/pt/it ([`patterns`],
//!   [`patterns_intl`]).
//! - [`classifier`]: [`Classifier`], weights in [`model`] format, features in [`features`];
//!   each word's own weight sum is memoised per thread (`word_memo`, exact).
//! - [`detector`]: [`InjectionDetector`], both layers behind [`crate::Detector`].
//! - [`train`] and [`csv`]: the training/evaluation code used by `train-injection` and
//!   `examples/eval_injection.rs`; [`augment`], [`augment_intl`], [`augment_override`],
//!   [`augment_prose`]: Palisade's own training rows.

pub mod augment;
pub mod augment_intl;
pub mod augment_override;
pub mod augment_prose;
pub mod classifier;
pub mod csv;
pub mod detector;
pub mod features;
pub mod fold;
pub mod model;
pub mod patterns;
pub mod patterns_intl;
pub mod rules;
pub mod train;
mod word_memo;

#[cfg(test)]
mod tests;

pub use classifier::Classifier;
pub use detector::{InjectionDetector, InjectionError};
pub use model::{Model, ModelError};
pub use rules::{Family, InjectionRules, RuleMatch, RulesError};
