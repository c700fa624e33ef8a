//! The scan: one literal pass (`literals`) over every rule's keywords (ASCII case-insensitive,
//! as gitleaks lower-cases both, plus the KELVIN SIGN and LONG S spellings a
//! case-insensitive regex also matches) selects the rules whose keywords occur in the text and
//! records where each keyword occurred; only selected rules run their regex, and a
//! windowed rule (see `window`) runs it only around its own keyword occurrences, taken
//! from that same pass. Rules without keywords get literals derived from their regex
//! (the required prefixes, when every match must start with one of a few literals of 3+
//! bytes) and only the rest run on every text. Then, per match, gitleaks' semantics:
//! newline trim, secret group, entropy floor, global then rule allowlists; finally
//! generic rules yield to a specific rule's finding over the same secret, and duplicate
//! spans collapse.
//!
//! The rule selection is a bitset on the stack (up to 1,024 rules); the keyword
//! occurrences go to a vector that allocates only when some keyword occurs;
//! `Regex::find_at` uses the regex's internal cache pool.

use regex_syntax::hir::literal::{ExtractKind, Extractor};

use super::allowlist::Candidate;
use super::entropy::shannon_entropy;
use super::rule::CompiledRule;
use crate::finding::{Category, Finding};
use crate::prefilter::literals::Literals;
use crate::prefilter::shape::spellings;
use crate::prefilter::window::{self, KeywordWindow};

const STACK_WORDS: usize = 16;

/// The prefilter over a rule list.
#[derive(Debug, Clone)]
pub struct Prefilter {
    ac: Option<Literals>,
    /// The keywords' spellings with KELVIN SIGN or LONG S ([`spellings`]), searched only
    /// in a text that holds one of those characters (they would crowd the main pass's
    /// table for text that never does); `exotic_ids` maps their ids to patterns.
    exotic: Option<Literals>,
    exotic_ids: Vec<u32>,
    /// Rules to select for each keyword pattern (ascending; a rule listing the same
    /// keyword twice appears twice).
    pattern_rules: Vec<Vec<u32>>,
    /// Whether some windowed rule has the pattern as a keyword, i.e. whether its
    /// occurrences need recording.
    pattern_windows: Vec<bool>,
    /// Rules with neither keywords nor derivable literals: run on every text.
    always: Vec<u32>,
}

/// One occurrence of a keyword pattern in the text.
#[derive(Debug, Clone, Copy)]
struct KeywordHit {
    pattern: u32,
    start: usize,
    end: usize,
}

impl Prefilter {
    pub fn build(rules: &[CompiledRule]) -> Prefilter {
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut pattern_rules: Vec<Vec<u32>> = Vec::new();
        let mut pattern_windows: Vec<bool> = Vec::new();
        let mut always = Vec::new();
        for (idx, rule) in rules.iter().enumerate() {
            let idx = idx as u32;
            let words: Option<Vec<Vec<u8>>> = if rule.keywords.is_empty() {
                derived_literals(rule)
                    .map(|lits| lits.iter().map(|l| l.to_ascii_lowercase()).collect())
            } else {
                Some(
                    rule.keywords
                        .iter()
                        .flat_map(|k| {
                            spellings(k.as_bytes())
                                .unwrap_or_else(|| vec![k.as_bytes().to_ascii_lowercase()])
                        })
                        .collect(),
                )
            };
            let Some(words) = words else {
                always.push(idx);
                continue;
            };
            for lw in words {
                let p = match patterns.iter().position(|p| *p == lw) {
                    Some(p) => p,
                    None => {
                        patterns.push(lw);
                        pattern_rules.push(Vec::new());
                        pattern_windows.push(false);
                        patterns.len() - 1
                    }
                };
                pattern_rules[p].push(idx);
                pattern_windows[p] |= rule.window.is_some();
            }
        }
        // Ids of the main pass are pattern indices: the exotic spellings go last.
        let mut all: Vec<_> = patterns
            .into_iter()
            .zip(pattern_rules)
            .zip(pattern_windows)
            .collect();
        all.sort_by_key(|((w, _), _)| is_exotic(w));
        let ((patterns, pattern_rules), pattern_windows): ((Vec<_>, Vec<_>), Vec<_>) =
            all.into_iter().unzip();
        let plain = patterns.iter().take_while(|p| !is_exotic(p)).count();
        let (main, exotic) = patterns.split_at(plain);
        let ac = (!patterns.is_empty()).then(|| Literals::new(main, true));
        let exotic_ids = (plain as u32..patterns.len() as u32).collect();
        let exotic = (!exotic.is_empty()).then(|| Literals::new(exotic, true));
        Prefilter {
            ac,
            exotic,
            exotic_ids,
            pattern_rules,
            pattern_windows,
            always,
        }
    }

    /// How many rules run on every text (no keyword, no derivable literal).
    pub fn unfiltered(&self) -> usize {
        self.always.len()
    }

    /// Indices of the rules selected for `text` (diagnostics; allocates).
    pub fn selected(&self, text: &str, n_rules: usize) -> Vec<usize> {
        let mut bits = vec![0u64; n_rules.div_ceil(64)];
        self.select(text, &mut bits, &mut Vec::new());
        (0..n_rules)
            .filter(|&i| bits[i / 64] & (1 << (i % 64)) != 0)
            .collect()
    }

    /// Marks the selected rules in `bits` and records, in the literal pass's order (by
    /// end, then longest first), the occurrences of the patterns windowed rules need.
    /// Filtered to one rule's keywords, that is the order a per-rule pass would report them
    /// in, so each rule merges the same windows as it would with its own keyword pass.
    fn select(&self, text: &str, bits: &mut [u64], kw: &mut Vec<KeywordHit>) {
        for &r in &self.always {
            set(bits, r);
        }
        let Some(ac) = &self.ac else {
            return;
        };
        let mut found = |p: usize, start: usize, end: usize| {
            if let Some(rules) = self.pattern_rules.get(p) {
                for &r in rules {
                    set(bits, r);
                }
            }
            if self.pattern_windows.get(p).copied().unwrap_or(false) {
                kw.push(KeywordHit {
                    pattern: p as u32,
                    start,
                    end,
                });
            }
        };
        ac.for_each(text.as_bytes(), &mut found);
        if let Some(exotic) = &self.exotic
            && (text.contains('\u{212A}') || text.contains('\u{17F}'))
        {
            exotic.for_each(text.as_bytes(), |id, start, end| {
                if let Some(&p) = self.exotic_ids.get(id) {
                    found(p as usize, start, end);
                }
            });
            kw.sort_by_key(|k| (k.end, std::cmp::Reverse(k.end - k.start), k.pattern));
        }
    }

    /// Whether `hit` is an occurrence of one of rule `rule`'s keywords.
    fn is_keyword_of(&self, hit: &KeywordHit, rule: u32) -> bool {
        self.pattern_rules
            .get(hit.pattern as usize)
            .is_some_and(|rules| rules.binary_search(&rule).is_ok())
    }

    /// Whether keyword occurrences were recorded (false when no rule has keywords).
    fn has_keywords(&self) -> bool {
        self.ac.is_some()
    }
}

/// Whether a keyword spelling holds a KELVIN SIGN or a LONG S.
fn is_exotic(word: &[u8]) -> bool {
    let has = |needle: &str| memchr::memmem::find(word, needle.as_bytes()).is_some();
    has("\u{212A}") || has("\u{17F}")
}

fn set(bits: &mut [u64], r: u32) {
    if let Some(w) = bits.get_mut((r / 64) as usize) {
        *w |= 1 << (r % 64);
    }
}

/// Literals one of which starts every match of the rule, if there are few, long ones.
fn derived_literals(rule: &CompiledRule) -> Option<Vec<Vec<u8>>> {
    let hir = regex_syntax::parse(rule.regex.as_str()).ok()?;
    let seq = Extractor::new().kind(ExtractKind::Prefix).extract(&hir);
    let lits = seq.literals()?;
    if lits.is_empty() || lits.len() > 64 || lits.iter().any(|l| l.as_bytes().len() < 3) {
        return None;
    }
    Some(lits.iter().map(|l| l.as_bytes().to_vec()).collect())
}

/// A finding plus what the post-pass needs.
struct Hit {
    finding: Finding,
    generic: bool,
}

/// Runs the selected rules over `text`, appending findings to `out`.
pub fn scan(rules: &[CompiledRule], prefilter: &Prefilter, text: &str, out: &mut Vec<Finding>) {
    if text.is_empty() || rules.is_empty() {
        return;
    }
    let words = rules.len().div_ceil(64);
    let mut stack = [0u64; STACK_WORDS];
    let mut heap = Vec::new();
    let bits: &mut [u64] = if words <= STACK_WORDS {
        &mut stack[..words]
    } else {
        heap.resize(words, 0u64);
        &mut heap
    };
    let mut keywords = Vec::new();
    prefilter.select(text, bits, &mut keywords);
    let mut hits: Vec<Hit> = Vec::new();
    for (w, &word) in bits.iter().enumerate() {
        let mut word = word;
        while word != 0 {
            let b = word.trailing_zeros() as usize;
            word &= word - 1;
            let idx = w * 64 + b;
            if let Some(rule) = rules.get(idx) {
                let occurrences = keywords
                    .iter()
                    .filter(|k| prefilter.is_keyword_of(k, idx as u32));
                let windowed = rule.window.as_ref().filter(|_| prefilter.has_keywords());
                run_rule(rule, windowed, occurrences, text, &mut hits);
            }
        }
    }
    if hits.is_empty() {
        return;
    }
    resolve(hits, out);
}

/// Runs one rule: over the whole text, or, with `window`, only around `occurrences` (its
/// keywords' occurrences, in the literal pass's order).
fn run_rule<'k>(
    rule: &CompiledRule,
    window: Option<&KeywordWindow>,
    occurrences: impl Iterator<Item = &'k KeywordHit>,
    text: &str,
    hits: &mut Vec<Hit>,
) {
    window::find_matches(
        &rule.regex,
        window,
        rule.starts.as_ref(),
        text,
        occurrences.map(|k| (k.start, k.end)),
        |start, end| on_match(rule, text, start, end, hits),
    );
}

/// gitleaks' per-match checks; pushes a hit when the match is a finding.
fn on_match(rule: &CompiledRule, text: &str, start: usize, end: usize, hits: &mut Vec<Hit>) {
    let has_groups = rule.regex.captures_len() > 1;
    // gitleaks trims newlines off both ends of the match.
    let raw = &text[start..end];
    let trimmed = raw.trim_matches('\n');
    if trimmed.is_empty() {
        return;
    }
    let lead = raw.len() - raw.trim_start_matches('\n').len();
    let (ms, me) = (start + lead, start + lead + trimmed.len());
    let (mut ss, mut se) = (ms, me);
    if has_groups && let Some(caps) = rule.regex.captures_at(text, start) {
        let group = if rule.secret_group > 0 {
            caps.get(rule.secret_group)
        } else {
            caps.iter().skip(1).flatten().find(|g| !g.is_empty())
        };
        match group {
            Some(g) => {
                ss = g.start().clamp(ms, me);
                se = g.end().clamp(ss, me);
            }
            // The configured group did not take part: gitleaks' secret is empty.
            None if rule.secret_group > 0 => return,
            None => {}
        }
    }
    if se <= ss {
        return;
    }
    let secret = &text[ss..se];
    if rule.entropy > 0.0 && shannon_entropy(secret) <= rule.entropy {
        return;
    }
    let line_start = text[..ms].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[me..].find('\n').map_or(text.len(), |i| me + i);
    let candidate = Candidate {
        secret,
        matched: &text[ms..me],
        line: &text[line_start..line_end],
    };
    let allowed = rule
        .globals
        .iter()
        .filter(|a| a.targets(&rule.id))
        .chain(rule.allowlists.iter())
        .any(|a| a.allows(&candidate));
    if allowed {
        return;
    }
    hits.push(Hit {
        finding: Finding::new(
            "secret",
            Category::Secret,
            ss..se,
            rule.score(secret),
            rule.detector.clone(),
        ),
        generic: rule.generic,
    });
}

/// gitleaks' filter (a generic finding yields to a specific one covering its secret)
/// plus collapsing identical spans (the highest score, then the first rule, wins).
fn resolve(mut hits: Vec<Hit>, out: &mut Vec<Finding>) {
    hits.sort_by(|a, b| {
        (a.finding.start, a.finding.end)
            .cmp(&(b.finding.start, b.finding.end))
            .then(b.finding.score.total_cmp(&a.finding.score))
    });
    // The specific findings' spans by start, each with the farthest end of those up to
    // it: a generic finding is covered by one iff that end, at its start, reaches its end.
    let mut reach: Vec<(usize, usize)> = Vec::new();
    for h in hits.iter().filter(|h| !h.generic) {
        let end = reach.last().map_or(0, |&(_, e)| e).max(h.finding.end);
        reach.push((h.finding.start, end));
    }
    for i in 0..hits.len() {
        let f = &hits[i].finding;
        let duplicate = i > 0 && hits[i - 1].finding.span() == f.span();
        let shadowed = hits[i].generic && {
            let upto = reach.partition_point(|&(s, _)| s <= f.start);
            upto > 0 && reach.get(upto - 1).is_some_and(|&(_, e)| f.end <= e)
        };
        if !duplicate && !shadowed {
            out.push(f.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// What `resolve` decides, said the slow way.
    fn naive(mut hits: Vec<Hit>) -> Vec<Finding> {
        hits.sort_by(|a, b| {
            (a.finding.start, a.finding.end)
                .cmp(&(b.finding.start, b.finding.end))
                .then(b.finding.score.total_cmp(&a.finding.score))
        });
        let mut out = Vec::new();
        for (i, h) in hits.iter().enumerate() {
            let f = &h.finding;
            let duplicate = i > 0 && hits[i - 1].finding.span() == f.span();
            let shadowed = h.generic
                && hits
                    .iter()
                    .any(|o| !o.generic && o.finding.start <= f.start && f.end <= o.finding.end);
            if !duplicate && !shadowed {
                out.push(f.clone());
            }
        }
        out
    }

    fn hits(spec: &[(usize, usize, bool, u8)]) -> Vec<Hit> {
        spec.iter()
            .map(|&(start, len, generic, score)| Hit {
                finding: Finding::new(
                    "secret",
                    Category::Secret,
                    start..start + len,
                    f32::from(score) / 10.0,
                    "t",
                ),
                generic,
            })
            .collect()
    }

    proptest! {
        #[test]
        fn resolve_keeps_what_the_definition_keeps(
            spec in proptest::collection::vec((0usize..40, 1usize..12, any::<bool>(), 0u8..10), 0..30),
        ) {
            let mut out = Vec::new();
            resolve(hits(&spec), &mut out);
            prop_assert_eq!(out, naive(hits(&spec)));
        }
    }
}
