//! Banned terms and topics: one Aho-Corasick automaton over every term of every topic,
//! matched on case- and accent-folded text ("Crème Brûlée" matches "creme brulee"),
//! on word boundaries unless substring mode is asked for, with spans mapped back to the
//! text given to [`Detector::detect`]. Findings: kind `banned_term`, category
//! [`Category::Banned`], detector `banned:<topic>` (`banned:terms` for a plain list).

use std::borrow::Cow;
use std::collections::HashSet;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use unicode_normalization::char::is_combining_mark;

use crate::detector::Detector;
use crate::finding::{Category, Finding};
use crate::normalize::fold::{fold_non_ascii, fold_str};

/// The topic name of a plain term list.
pub const DEFAULT_TOPIC: &str = "terms";
pub const BANNED_KIND: &str = "banned_term";

#[derive(Debug, thiserror::Error)]
pub enum BannedError {
    #[error("banned term #{index} of topic `{topic}` is empty once folded")]
    EmptyTerm { topic: String, index: usize },
    #[error("a banned topic has an empty name")]
    EmptyTopic,
    #[error("cannot build the banned-term matcher: {0}")]
    Build(#[from] aho_corasick::BuildError),
}

/// How terms match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BannedOptions {
    /// Match whole words only (true); false matches any substring.
    pub word_boundary: bool,
}

impl Default for BannedOptions {
    fn default() -> Self {
        BannedOptions {
            word_boundary: true,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Pattern {
    topic: usize,
    /// The term starts / ends with a word character of a space-separated script, so a
    /// match must not continue a word on that side.
    check_start: bool,
    check_end: bool,
}

/// The banned-term detector. Built once, shared by every request.
#[derive(Debug)]
pub struct BannedTerms {
    matcher: Option<AhoCorasick>,
    patterns: Vec<Pattern>,
    /// The folded terms, sorted: what [`BannedTerms::forming`] looks prefixes up in.
    sorted: Vec<String>,
    /// The longest folded term, in bytes.
    longest: usize,
    /// `banned:<topic>`, per topic.
    detectors: Vec<Cow<'static, str>>,
    opts: BannedOptions,
}

impl BannedTerms {
    /// A plain list of terms (topic `terms`), matched on word boundaries.
    pub fn new(terms: &[String]) -> Result<BannedTerms, BannedError> {
        Self::with_options(
            &[(DEFAULT_TOPIC.to_string(), terms.to_vec())],
            BannedOptions::default(),
        )
    }

    /// Terms grouped by topic, matched on word boundaries.
    pub fn with_topics(topics: &[(String, Vec<String>)]) -> Result<BannedTerms, BannedError> {
        Self::with_options(topics, BannedOptions::default())
    }

    pub fn with_options(
        topics: &[(String, Vec<String>)],
        opts: BannedOptions,
    ) -> Result<BannedTerms, BannedError> {
        let mut folded_terms = Vec::new();
        let mut patterns = Vec::new();
        let mut detectors = Vec::with_capacity(topics.len());
        let mut seen = HashSet::new();
        for (t, (topic, terms)) in topics.iter().enumerate() {
            let topic = topic.trim();
            if topic.is_empty() {
                return Err(BannedError::EmptyTopic);
            }
            detectors.push(Cow::Owned(format!("banned:{topic}")));
            for (index, term) in terms.iter().enumerate() {
                let folded = collapse_spaces(&fold_str(term.trim())).0.into_owned();
                let (Some(first), Some(last)) = (folded.chars().next(), folded.chars().last())
                else {
                    return Err(BannedError::EmptyTerm {
                        topic: topic.to_string(),
                        index,
                    });
                };
                if !seen.insert((t, folded.clone())) {
                    continue;
                }
                patterns.push(Pattern {
                    topic: t,
                    check_start: is_spaced_word_char(first),
                    check_end: is_spaced_word_char(last),
                });
                folded_terms.push(folded);
            }
        }
        let matcher = if folded_terms.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .match_kind(MatchKind::Standard)
                    .ascii_case_insensitive(true)
                    .build(&folded_terms)?,
            )
        };
        // Matching ignores ASCII case; so does the prefix lookup.
        let mut sorted: Vec<String> = folded_terms
            .iter()
            .map(|t| t.to_ascii_lowercase())
            .collect();
        sorted.sort_unstable();
        sorted.dedup();
        let longest = sorted.iter().map(String::len).max().unwrap_or(0);
        Ok(BannedTerms {
            matcher,
            patterns,
            sorted,
            longest,
            detectors,
            opts,
        })
    }

    /// Where, in `text`, a banned term may be forming: the earliest start of a run that
    /// reaches the end of `text` and is the beginning of a term, not yet all of it
    /// (`"… project blue"` for `project bluebird`, white space folded as in matching). A
    /// stream holds its output from there, so a multi-word term, one longer than the
    /// hold-back, or one whose words the model pads with white space, is seen whole
    /// before any of it goes out.
    pub fn forming(&self, text: &str) -> Option<usize> {
        if self.sorted.is_empty() {
            return None;
        }
        let folded = fold_non_ascii(text);
        let ft = folded.text();
        let (collapsed, at) = collapse_spaces(ft);
        let ct: &str = &collapsed;
        // Only suffixes shorter than the longest term can be a term's unfinished start.
        let from = ceil_char(ct, ct.len().saturating_sub(self.longest.saturating_sub(1)));
        let lower = ct[from..].to_ascii_lowercase();
        let mut prev = ct[..from].chars().next_back();
        for (i, c) in ct[from..].char_indices() {
            let i = from + i;
            let word_start = !prev.is_some_and(is_word_char) || !is_word_char(c);
            prev = Some(c);
            if self.opts.word_boundary && !word_start {
                continue;
            }
            if self.is_proper_prefix(&lower[i - from..]) {
                let start = at.as_ref().map_or(i, |at| at[i]);
                return Some(folded.original_span(start, start).start);
            }
        }
        None
    }

    /// Whether `s` begins some term and is shorter than it. In sorted order, the terms
    /// that begin with `s` come right after `s` itself.
    fn is_proper_prefix(&self, s: &str) -> bool {
        let at = self.sorted.partition_point(|t| t.as_str() < s);
        self.sorted[at..]
            .iter()
            .take(2)
            .any(|t| t.len() > s.len() && t.starts_with(s))
    }

    /// Number of distinct (topic, folded term) patterns.
    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }
}

/// `text` with every run of white space as one ASCII space, and for each byte of the
/// result the offset of the byte it came from (`None`, and the text borrowed, when there
/// was nothing to collapse: the usual case).
fn collapse_spaces(text: &str) -> (Cow<'_, str>, Option<Vec<usize>>) {
    let mut prev_space = false;
    let plain = text.chars().all(|c| {
        let ok = if c.is_whitespace() {
            c == ' ' && !prev_space
        } else {
            true
        };
        prev_space = c.is_whitespace();
        ok
    });
    if plain {
        return (Cow::Borrowed(text), None);
    }
    let mut out = String::with_capacity(text.len());
    let mut at = Vec::with_capacity(text.len());
    let mut in_space = false;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            if !in_space {
                out.push(' ');
                at.push(i);
            }
            in_space = true;
            continue;
        }
        in_space = false;
        let start = out.len();
        out.push(c);
        at.extend(i..i + (out.len() - start));
    }
    (Cow::Owned(out), Some(at))
}

/// The first char boundary of `s` at or after `i`.
fn ceil_char(s: &str, mut i: usize) -> usize {
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// A word character of a script that separates words with spaces. Han, kana, Thai, Lao,
/// Khmer and Myanmar text has no spaces, so terms there match as substrings.
fn is_spaced_word_char(c: char) -> bool {
    let unspaced = matches!(c as u32,
        0x0E00..=0x0EFF | 0x1000..=0x109F | 0x1780..=0x17FF | 0x3040..=0x30FF
        | 0x31F0..=0x31FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF
        | 0xFF66..=0xFF9F | 0x20000..=0x3FFFF);
    is_word_char(c) && !unspaced
}

fn boundary_ok(text: &str, start: usize, end: usize, p: Pattern) -> bool {
    let before = text.get(..start).and_then(|s| s.chars().next_back());
    let after = text.get(end..).and_then(|s| s.chars().next());
    let starts_word = !p.check_start || !before.is_some_and(is_word_char);
    let ends_word = !p.check_end || !after.is_some_and(is_word_char);
    starts_word && ends_word
}

impl Detector for BannedTerms {
    fn name(&self) -> &'static str {
        "banned"
    }

    fn detect(&self, text: &str, out: &mut Vec<Finding>) {
        let Some(matcher) = &self.matcher else {
            return;
        };
        let folded = fold_non_ascii(text);
        let ft = folded.text();
        // Terms are matched with every run of white space as one space (`project  bluebird`
        // on two lines is still the term); `at[i]` is where byte `i` of the collapsed text
        // is in `ft`.
        let (collapsed, at) = collapse_spaces(ft);
        let ct: &str = &collapsed;
        let to_ft = |i: usize| at.as_ref().map_or(i, |at| at[i]);
        // (topic, start, end) of every acceptable match.
        let mut hits: Vec<(usize, usize, usize)> = Vec::new();
        for m in matcher.find_overlapping_iter(ct) {
            let Some(&p) = self.patterns.get(m.pattern().as_usize()) else {
                continue;
            };
            if self.opts.word_boundary && !boundary_ok(ct, m.start(), m.end(), p) {
                continue;
            }
            // A match ends on a term's last byte, never on a collapsed space.
            hits.push((p.topic, to_ft(m.start()), to_ft(m.end() - 1) + 1));
        }
        if hits.is_empty() {
            return;
        }
        let first_new = out.len();
        // Per topic, a match inside a longer one ("creme" in "creme brulee") is dropped.
        hits.sort_unstable_by_key(|&(t, s, e)| (t, s, std::cmp::Reverse(e)));
        let mut last: Option<(usize, usize)> = None;
        for (topic, s, e) in hits {
            if let Some((lt, le)) = last
                && lt == topic
                && e <= le
            {
                continue;
            }
            last = Some((topic, e));
            let detector = self
                .detectors
                .get(topic)
                .cloned()
                .unwrap_or(Cow::Borrowed("banned"));
            let mut span = folded.original_span(s, e);
            // Combining marks folded away after the match belong to its last letter.
            if let Some(rest) = text.get(span.end..) {
                span.end += rest
                    .char_indices()
                    .find(|&(_, c)| !is_combining_mark(c))
                    .map_or(rest.len(), |(k, _)| k);
            }
            out.push(Finding::new(
                BANNED_KIND,
                Category::Banned,
                span,
                1.0,
                detector,
            ));
        }
        if let Some(new) = out.get_mut(first_new..) {
            new.sort_by_key(|f| (f.start, f.end));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(list: &[&str]) -> BannedTerms {
        let list: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        BannedTerms::new(&list).unwrap_or_else(|e| unreachable!("{e}"))
    }

    fn found<'t>(b: &BannedTerms, text: &'t str) -> Vec<&'t str> {
        let mut out = Vec::new();
        b.detect(text, &mut out);
        out.iter().map(|f| &text[f.span()]).collect()
    }

    #[test]
    fn folds_case_and_accents_both_ways() {
        let b = terms(&["creme brulee", "Café"]);
        assert_eq!(found(&b, "I love Crème Brûlée."), ["Crème Brûlée"]);
        assert_eq!(
            found(&b, "CAFE or café or cafe\u{301}"),
            ["CAFE", "café", "cafe\u{301}"]
        );
    }

    #[test]
    fn any_white_space_between_words_matches() {
        let b = terms(&["project  bluebird", "nerve agent"]);
        for text in [
            "about project bluebird now",
            "about project  bluebird now",
            "about project\nbluebird now",
            "about project \t\u{00A0} bluebird now",
            "about Projéct\u{2003}\u{2003}Bluebird now",
        ] {
            let hits = found(&b, text);
            assert_eq!(hits.len(), 1, "{text:?}");
            assert!(
                hits[0].starts_with("Proj") || hits[0].starts_with("proj"),
                "{hits:?}"
            );
            assert!(hits[0].ends_with("luebird"), "{hits:?}");
        }
        assert_eq!(
            found(&b, "a nerve   agent, a nerve\nagent"),
            ["nerve   agent", "nerve\nagent"]
        );
        assert!(found(&b, "nerveagent").is_empty());
    }

    #[test]
    fn a_term_still_forming_at_the_end_is_found_from_its_start() {
        let b = terms(&["project bluebird", "Crème Brûlée recipe", "ass"]);
        fn tail<'t>(b: &BannedTerms, text: &'t str) -> Option<&'t str> {
            b.forming(text).map(|at| &text[at..])
        }
        let forming = |text| tail(&b, text);
        assert_eq!(forming("ask about Project blue"), Some("Project blue"));
        assert_eq!(forming("ask about project"), Some("project"));
        let padded = format!("ask about project{}", " \n".repeat(60));
        assert_eq!(forming(&padded).map(str::len), Some(padded.len() - 10));
        assert_eq!(forming("the CRÈME brûl"), Some("CRÈME brûl"));
        // The whole term is a match, not a term forming; other words are nothing.
        assert_eq!(forming("about project bluebird"), None);
        assert_eq!(forming("about projects"), None);
        assert_eq!(forming("a classic as"), Some("as"));
        assert_eq!(forming("a classic clas"), None);
        assert_eq!(forming(""), None);
        assert_eq!(terms(&[]).forming("project"), None);
    }

    #[test]
    fn word_boundaries_by_default() {
        let b = terms(&["ass"]);
        assert!(found(&b, "a classic assessment").is_empty());
        assert_eq!(found(&b, "you ass!"), ["ass"]);
        let sub = BannedTerms::with_options(
            &[("t".into(), vec!["ass".into()])],
            BannedOptions {
                word_boundary: false,
            },
        )
        .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(found(&sub, "classic").len(), 1);
    }

    #[test]
    fn cjk_terms_match_inside_text() {
        let b = terms(&["機密"]);
        assert_eq!(found(&b, "これは機密情報です"), ["機密"]);
    }

    #[test]
    fn topics_and_detector_names() {
        let b = BannedTerms::with_topics(&[
            ("weapons".into(), vec!["bomb".into(), "Nerve Agent".into()]),
            ("competitors".into(), vec!["acme".into()]),
        ])
        .unwrap_or_else(|e| unreachable!("{e}"));
        let mut out = Vec::new();
        b.detect("ACME sells a bomb, not a nerve agent", &mut out);
        let names: Vec<&str> = out.iter().map(|f| f.detector.as_ref()).collect();
        assert_eq!(
            names,
            ["banned:competitors", "banned:weapons", "banned:weapons"]
        );
        assert!(
            out.iter()
                .all(|f| f.kind == BANNED_KIND && f.category == Category::Banned && f.score == 1.0)
        );
    }

    #[test]
    fn longest_match_per_topic() {
        let b = terms(&["creme", "creme brulee"]);
        assert_eq!(found(&b, "creme brulee"), ["creme brulee"]);
        assert_eq!(found(&b, "creme caramel"), ["creme"]);
    }

    #[test]
    fn non_word_edges_need_no_boundary() {
        let b = terms(&["c++", "@evil"]);
        assert_eq!(found(&b, "I write c++code for @evil."), ["c++", "@evil"]);
        assert!(found(&b, "mail @evilcorp").is_empty());
    }

    #[test]
    fn empty_list_finds_nothing() {
        let b = terms(&[]);
        assert!(b.is_empty());
        assert!(found(&b, "anything at all").is_empty());
    }

    #[test]
    fn errors() {
        assert!(matches!(
            BannedTerms::new(&["ok".into(), "  ".into()]),
            Err(BannedError::EmptyTerm { index: 1, .. })
        ));
        assert!(matches!(
            BannedTerms::with_topics(&[(" ".into(), vec![])]),
            Err(BannedError::EmptyTopic)
        ));
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_spans_are_char_aligned(text in "\\PC{0,64}", term in "\\PC{1,4}") {
            if let Ok(b) = BannedTerms::new(&[term]) {
                let mut out = Vec::new();
                b.detect(&text, &mut out);
                for f in out {
                    proptest::prop_assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
                    proptest::prop_assert!(f.start < f.end && f.end <= text.len());
                }
            }
        }
    }

    #[test]
    fn keeps_findings_of_other_detectors_in_place() {
        let b = terms(&["x"]);
        let mut out = vec![Finding::new("other", Category::Pii, 5..6, 1.0, "pii")];
        b.detect("x", &mut out);
        assert_eq!(out[0].kind, "other");
        assert_eq!(out[1].span(), 0..1);
    }

    #[test]
    fn spans_on_char_boundaries_for_any_text() {
        let b = terms(&["o", "ß", "i"]);
        for text in ["ǅoß İi", "ﬃ o", "a\u{301}o\u{308}"] {
            let mut out = Vec::new();
            b.detect(text, &mut out);
            for f in out {
                assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
                assert!(f.start < f.end && f.end <= text.len());
            }
        }
    }
}
