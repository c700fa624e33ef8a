//! The scanner: runs normalization and every detector over a text and returns findings
//! whose spans point into the text as given. Built once, shared by every request.
//!
//! ```text
//! scan(text)
//!   normalize(text) ──► invisible-text / homoglyph findings
//!                   ──► detectors on the normalized text ──► spans mapped back
//!                   ──► each decoded run (base64, hex, URL, tag characters), normalized
//!                       and scanned again (depth-limited) ──► spans = the encoded run
//! ```
//! Which detectors run is chosen per call: a profile that ignores secrets does not pay
//! for the secret rules; banned terms come from the profile.

use crate::banned::BannedTerms;
use crate::detector::Detector;
use crate::finding::{Category, Finding};
use crate::injection::{InjectionDetector, InjectionError};
use crate::normalize::{self, NormalizeOptions};
use crate::pii::PiiDetector;
use crate::profile::{Direction, Profile};
use crate::secrets::SecretRules;

/// How deep decoded runs are followed (base64 inside hex inside …).
const MAX_DECODE_DEPTH: u8 = 2;

pub struct Scanner {
    detectors: Vec<(Category, Box<dyn Detector>)>,
    normalize: Option<NormalizeOptions>,
}

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.detectors.iter().map(|(_, d)| d.name()).collect();
        f.debug_struct("Scanner")
            .field("detectors", &names)
            .field("normalize", &self.normalize.is_some())
            .finish()
    }
}

/// Which categories a scan runs, plus optional banned terms.
#[derive(Clone, Copy, Default)]
pub struct Selection<'a> {
    pub categories: &'a [Category],
    pub banned: Option<&'a BannedTerms>,
}

impl Scanner {
    /// Every built-in detector: normalization, PII, secrets (gitleaks rules and
    /// Palisade's), injection rules and the learned classifier.
    pub fn standard() -> Result<Scanner, InjectionError> {
        Scanner::builder().build()
    }

    /// The deterministic detectors only (no classifier).
    pub fn deterministic() -> Result<Scanner, InjectionError> {
        Scanner::builder().classifier(false).build()
    }

    pub fn builder() -> ScannerBuilder {
        ScannerBuilder::default()
    }

    /// A scanner over the given detectors (for tests and custom setups).
    pub fn with_detectors(
        detectors: Vec<(Category, Box<dyn Detector>)>,
        normalize: Option<NormalizeOptions>,
    ) -> Scanner {
        Scanner {
            detectors,
            normalize,
        }
    }

    /// All detectors over `text`.
    pub fn scan(&self, text: &str) -> Vec<Finding> {
        self.scan_selected(
            text,
            Selection {
                categories: &Category::ALL,
                banned: None,
            },
        )
    }

    /// The detectors `profile` needs in `direction`, with its banned terms.
    pub fn scan_for(&self, text: &str, profile: &Profile, direction: Direction) -> Vec<Finding> {
        // On the request path: the wanted categories without a heap allocation.
        let mut wanted = Category::ALL;
        let mut n = 0;
        for c in Category::ALL {
            if profile.wants(c, direction) {
                wanted[n] = c;
                n += 1;
            }
        }
        let wanted = &wanted[..n];
        let banned = if wanted.contains(&Category::Banned) {
            profile.banned.as_deref()
        } else {
            None
        };
        self.scan_selected(
            text,
            Selection {
                categories: wanted,
                banned,
            },
        )
    }

    pub fn scan_selected(&self, text: &str, sel: Selection<'_>) -> Vec<Finding> {
        let mut out = Vec::new();
        self.scan_into(text, sel, 0, &mut out);
        // The same finding twice (a banned term found as written and as normalised, the
        // classifier on encoded text and a rule on its decoding) sits next to itself once
        // sorted by kind too, strongest first, and only that one is kept: a weaker twin
        // must not hide a finding above the threshold, nor the detector that names how
        // the text was hidden.
        out.sort_by(|a, b| {
            (a.start, std::cmp::Reverse(a.end), &a.kind)
                .cmp(&(b.start, std::cmp::Reverse(b.end), &b.kind))
                .then_with(|| b.score.total_cmp(&a.score))
        });
        out.dedup_by(|a, b| a.start == b.start && a.end == b.end && a.kind == b.kind);
        out
    }

    fn scan_into(&self, text: &str, sel: Selection<'_>, depth: u8, out: &mut Vec<Finding>) {
        let Some(opts) = &self.normalize else {
            self.detect(text, sel, out);
            return;
        };
        let norm = normalize::normalize_with(text, opts);
        if sel.categories.contains(&Category::Obfuscation) {
            out.extend(norm.findings().iter().cloned());
        }
        if norm.is_identity() {
            self.detect(text, sel, out);
        } else {
            let mut found = Vec::new();
            self.detect(norm.text(), sel, &mut found);
            // Banned terms are the user's own strings, matched as written too: a term
            // spelled with punctuation (`S.H.I.E.L.D`) reads differently once normalised.
            if let Some(banned) = sel.banned {
                banned.detect(text, out);
            }
            for mut f in found {
                let span = norm.original_span(f.start, f.end);
                f.start = span.start;
                f.end = span.end;
                out.push(f);
            }
        }
        if depth >= MAX_DECODE_DEPTH {
            return;
        }
        for decoded in norm.decoded() {
            let mut inner = Vec::new();
            self.scan_into(&decoded.text, sel, depth + 1, &mut inner);
            for mut f in inner {
                f.start = decoded.span.start;
                f.end = decoded.span.end;
                f.detector = format!("{}+{}", f.detector, decoded.encoding).into();
                out.push(f);
            }
        }
    }

    fn detect(&self, text: &str, sel: Selection<'_>, out: &mut Vec<Finding>) {
        for (category, detector) in &self.detectors {
            if sel.categories.contains(category) {
                detector.detect(text, out);
            }
        }
        if let Some(banned) = sel.banned {
            banned.detect(text, out);
        }
    }
}

/// Chooses the built-in detectors and their options.
pub struct ScannerBuilder {
    normalize: Option<NormalizeOptions>,
    pii: bool,
    secrets: Option<SecretRules>,
    builtin_secrets: bool,
    injection_rules: bool,
    classifier: bool,
    injection_threshold: Option<f32>,
    /// A detector given whole (its own weights): replaces the built-in one.
    injection: Option<InjectionDetector>,
}

impl Default for ScannerBuilder {
    fn default() -> ScannerBuilder {
        ScannerBuilder {
            normalize: Some(NormalizeOptions::default()),
            pii: true,
            secrets: None,
            builtin_secrets: true,
            injection_rules: true,
            classifier: true,
            injection_threshold: None,
            injection: None,
        }
    }
}

impl ScannerBuilder {
    pub fn normalize(mut self, opts: Option<NormalizeOptions>) -> Self {
        self.normalize = opts;
        self
    }

    pub fn pii(mut self, on: bool) -> Self {
        self.pii = on;
        self
    }

    /// Whether the built-in secret rules (gitleaks' default set and Palisade's) load.
    pub fn builtin_secrets(mut self, on: bool) -> Self {
        self.builtin_secrets = on;
        self
    }

    /// Adds user rules (gitleaks format) to the secret detector.
    pub fn secret_rules(mut self, rules: SecretRules) -> Self {
        match &mut self.secrets {
            Some(existing) => existing.extend(rules),
            None => self.secrets = Some(rules),
        }
        self
    }

    pub fn injection_rules(mut self, on: bool) -> Self {
        self.injection_rules = on;
        self
    }

    pub fn classifier(mut self, on: bool) -> Self {
        self.classifier = on;
        self
    }

    /// The classifier's decision threshold (default: the one tuned at training).
    pub fn injection_threshold(mut self, threshold: f32) -> Self {
        self.injection_threshold = Some(threshold);
        self
    }

    /// Uses `detector` (e.g. with weights loaded from a file) for prompt injection instead
    /// of the built-in one; [`ScannerBuilder::injection_rules`],
    /// [`ScannerBuilder::classifier`] and the threshold still apply to it.
    pub fn injection_detector(mut self, detector: InjectionDetector) -> Self {
        self.injection = Some(detector);
        self
    }

    /// Fails only if the embedded classifier weights do not load (a build defect the
    /// crate's tests catch).
    pub fn build(self) -> Result<Scanner, InjectionError> {
        let mut detectors: Vec<(Category, Box<dyn Detector>)> = Vec::new();
        if self.pii {
            detectors.push((Category::Pii, Box::new(PiiDetector::new())));
        }
        let mut secrets = if self.builtin_secrets {
            Some(SecretRules::builtin())
        } else {
            None
        };
        if let Some(user) = self.secrets {
            match &mut secrets {
                Some(s) => s.extend(user),
                None => secrets = Some(user),
            }
        }
        if let Some(s) = secrets {
            detectors.push((Category::Secret, Box::new(s)));
        }
        if self.injection_rules || self.classifier {
            let mut d = match self.injection {
                Some(d) => d,
                None => InjectionDetector::builtin()?,
            };
            if !self.injection_rules {
                d = d.without_rules();
            }
            if !self.classifier {
                d = d.without_classifier();
            }
            if let Some(t) = self.injection_threshold {
                d = d.with_threshold(t);
            }
            detectors.push((Category::Injection, Box::new(d)));
        }
        Ok(Scanner {
            detectors,
            normalize: self.normalize,
        })
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
