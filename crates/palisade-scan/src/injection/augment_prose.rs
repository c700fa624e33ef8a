//! Project-written benign training rows of technical prose: sentences from Palisade's own
//! documentation and doc comments (`training/benign-prose.txt`, regenerated on purpose by
//! `scripts/extract-benign-prose`; the file, not the live docs, is the training input).
//!
//! The S-Labs benign class is short questions with almost no punctuation; its injections
//! are statements with quotes, colons, brackets and identifiers. Trained on it alone, the
//! classifier flagged about a third of ordinary docstring paragraphs (a developer pasting
//! documentation into a prompt). These rows are statements with that punctuation and no
//! attack in them: the script leaves out every line that quotes an override, persona or
//! extraction phrase.

use super::csv::Example;

/// The snapshot, one row per line.
const PROSE: &str = include_str!("../../training/benign-prose.txt");

/// Every line of the snapshot, labelled benign.
pub fn rows() -> Vec<Example> {
    PROSE
        .lines()
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
        assert!(rows.len() > 1000, "{}", rows.len());
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
