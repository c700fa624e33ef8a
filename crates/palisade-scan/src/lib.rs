//! Palisade's content scanners, usable as a library: no I/O, no async, no global state.
//!
//! One scan, start to finish:
//! ```text
//! text ──► normalize   NFKC, invisible characters, homoglyphs, decoded base64/hex/URL runs
//!      ──► detectors   pii · secrets (gitleaks rules) · injection (rules + classifier) · banned terms
//!      ──► findings    kind, category, byte span of the original text, score, detector
//!      ──► actions     per profile: block · redact · mask · pseudonymize · flag
//! ```
//! [`engine::Scanner`] runs the detectors; [`profile::Profile`] decides what each finding
//! means; [`transform`] rewrites text; [`vault::Vault`] keeps pseudonyms reversible;
//! [`stream`] does all of it chunk by chunk with a bounded hold-back.

pub mod banned;
pub mod detector;
pub mod engine;
pub mod finding;
pub mod injection;
pub mod leak;
pub mod normalize;
pub mod pii;
pub(crate) mod prefilter;
pub mod profile;
pub mod secrets;
pub mod stream;
pub mod transform;
pub mod vault;

pub use detector::Detector;
pub use finding::{Category, Finding};

/// The finding kind of content no text scanner reads (images, audio, files in a
/// message), which the gateway reports as [`Category::Obfuscation`]: only `flag` and
/// `block` apply to it.
pub const UNSCANNED_MEDIA_KIND: &str = "unscanned_media";

/// Whether `kind` is a finding kind some built-in detector reports (config validation).
pub fn known_kind(kind: &str) -> bool {
    pii::ENTITIES.contains(&kind)
        || [
            "secret",
            "prompt_injection",
            normalize::INVISIBLE_KIND,
            normalize::HOMOGLYPH_KIND,
            "decode_budget_exceeded",
            UNSCANNED_MEDIA_KIND,
            banned::BANNED_KIND,
            leak::LEAK_KIND,
        ]
        .contains(&kind)
}
