//! Project-chosen benign training rows of technical prose and code:
//!
//! - sentences from Palisade's own documentation and doc comments
//!   (`training/benign-prose.txt`, regenerated on purpose by `scripts/extract-benign-prose`);
//! - sentences and 1–4-line code snippets from the documentation installed with Rust (the
//!   Book, the Reference, the Cargo book, the Rustonomicon, Rust by Example:
//!   `training/benign-rust-docs.txt`, MIT, see `training/LICENSE-rust-docs`; regenerated on
//!   purpose by `scripts/extract-rust-docs-text`).
//!
//! The files, not the live docs, are the training input.
//!
//! The S-Labs benign class is short questions with almost no punctuation; its injections
//! are statements with quotes, colons, brackets and identifiers. Trained on it alone, the
//! classifier flagged about a third of ordinary docstring paragraphs (a developer pasting
//! documentation into a prompt). These rows are statements and code with that
//! punctuation and no attack in them: the scripts leave out every line that quotes an
//! override, persona or extraction phrase, and the Rust rows every line with a word of the
//! S-Labs attack vocabulary.

use super::csv::Example;

/// The snapshots, one row per line.
const PROSE: &str = include_str!("../../training/benign-prose.txt");
const RUST_DOCS: &str = include_str!("../../training/benign-rust-docs.txt");

/// Every line of the snapshots, labelled benign.
pub fn rows() -> Vec<Example> {
    PROSE
        .lines()
        .chain(RUST_DOCS.lines())
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| Example {
            text: l.to_owned(),
            label: false,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_benign_prose_without_attack_phrases() {
        let rows = rows();
        assert!(rows.len() > 3500, "{}", rows.len());
        for r in &rows {
            assert!(!r.label);
            let t = r.text.to_lowercase();
            for phrase in [
                "ignore",
                "instruction",
                "system prompt",
                "jailbreak",
                "pretend",
            ] {
                assert!(!t.contains(phrase), "{t}");
            }
        }
    }
}
