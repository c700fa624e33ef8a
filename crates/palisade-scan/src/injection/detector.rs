//! [`InjectionDetector`]: the rule layer and the classifier behind the [`Detector`]
//! trait. Rules report each matched phrase; the classifier reports the highest-scoring
//! window when its probability reaches the threshold.

use super::classifier::Classifier;
use super::model::ModelError;
use super::rules::{InjectionRules, RulesError};
use crate::detector::Detector;
use crate::finding::{Category, Finding};

/// Why the built-in detector could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum InjectionError {
    #[error(transparent)]
    Rules(#[from] RulesError),
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// Prompt-injection detector: rules plus a learned classifier, either of which can be
/// turned off.
#[derive(Debug)]
pub struct InjectionDetector {
    rules: Option<InjectionRules>,
    classifier: Option<Classifier>,
    threshold: f32,
}

impl InjectionDetector {
    /// Rules plus the built-in classifier at its tuned threshold.
    pub fn builtin() -> Result<InjectionDetector, InjectionError> {
        let classifier = Classifier::builtin()?;
        Ok(InjectionDetector::new(
            Some(InjectionRules::new()?),
            Some(classifier),
        ))
    }

    /// Any combination of layers; the threshold is the classifier's own (0.5 without one).
    pub fn new(rules: Option<InjectionRules>, classifier: Option<Classifier>) -> InjectionDetector {
        let threshold = classifier.as_ref().map_or(0.5, Classifier::threshold);
        InjectionDetector {
            rules,
            classifier,
            threshold,
        }
    }

    /// Overrides the classifier threshold (clamped to `0.0..=1.0`).
    #[must_use]
    pub fn with_threshold(mut self, threshold: f32) -> InjectionDetector {
        self.threshold = if threshold.is_nan() {
            self.threshold
        } else {
            threshold.clamp(0.0, 1.0)
        };
        self
    }

    /// Turns the rule layer off.
    #[must_use]
    pub fn without_rules(mut self) -> InjectionDetector {
        self.rules = None;
        self
    }

    /// Turns the classifier layer off.
    #[must_use]
    pub fn without_classifier(mut self) -> InjectionDetector {
        self.classifier = None;
        self
    }

    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    pub fn rules(&self) -> Option<&InjectionRules> {
        self.rules.as_ref()
    }

    pub fn classifier(&self) -> Option<&Classifier> {
        self.classifier.as_ref()
    }
}

impl Detector for InjectionDetector {
    fn name(&self) -> &'static str {
        "injection"
    }

    fn detect(&self, text: &str, out: &mut Vec<Finding>) {
        let Some(classifier) = &self.classifier else {
            if let Some(rules) = &self.rules {
                rules.detect(text, out);
            }
            return;
        };
        // Both layers read the same folded text: the classifier folds it, the rules
        // reuse it (their findings still come first).
        let ((p, window), ()) = classifier.score_window_with(text, |folded| {
            if let Some(rules) = &self.rules {
                rules.detect_folded(text, folded, out);
            }
        });
        // The deciding window decides (and must hold enough words); the finding points
        // at the sentences inside it that carry the attack.
        if decisive(p, text, window.span.clone()).is_some_and(|p| p >= self.threshold) {
            out.push(Finding::new(
                "prompt_injection",
                Category::Injection,
                window.focus,
                p,
                "injection.classifier",
            ));
        }
    }
}

/// The fewest words the classifier decides on alone. Below it (a greeting, "request
/// 3-17") a linear model is swayed by one word's weight; the rules still cover short
/// explicit attacks ("ignore previous instructions").
pub const MIN_CLASSIFIER_WORDS: usize = 4;

/// The score the detector compares with its threshold for `text`: the classifier's
/// probability, or 0 when the deciding window has too few words for the classifier to
/// decide on ([`MIN_CLASSIFIER_WORDS`]). Training tunes the threshold on this score, so
/// the threshold fits the decision as shipped.
pub fn deciding_score(classifier: &Classifier, text: &str) -> f32 {
    let (p, span) = classifier.score_window(text);
    decisive(p, text, span).unwrap_or(0.0)
}

/// The classifier's probability `p` if its deciding window (`span` of `text`) holds
/// enough words for it to decide on.
fn decisive(p: f32, text: &str, span: std::ops::Range<usize>) -> Option<f32> {
    text.get(span).is_some_and(enough_words).then_some(p)
}

/// Whether `text` has at least [`MIN_CLASSIFIER_WORDS`] words of two or more letters.
fn enough_words(text: &str) -> bool {
    text.split(|c: char| !c.is_alphabetic())
        .filter(|w| w.chars().nth(1).is_some())
        .nth(MIN_CLASSIFIER_WORDS - 1)
        .is_some()
}
