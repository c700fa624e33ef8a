//! Keyword windows: for a rule whose every match must contain one of its keywords and
//! whose matches have a bounded length `L`, the regex only needs to run within `L` bytes
//! of each keyword occurrence. gitleaks' context rules (`[\w.-]{0,50}?(?:key|token…)…`)
//! cost ~20 µs/KB when run over a whole prompt; over windows they cost next to nothing
//! on text where the keyword occurs only in prose.
//!
//! Whether a rule qualifies is decided from its syntax tree: some part of the pattern
//! that every match passes through matches only a small finite set of strings (ASCII
//! case folded), each containing a keyword. Otherwise the rule runs on the whole text.
//!
//! The keyword occurrences themselves come from the engine's one shared literal pass over
//! every rule's keywords (see `engine`), not from a pass per rule.
//!
//! Keywords match ignoring case (as in gitleaks), regexes need not: Twilio's keyword `sk`
//! occurs in "risks" and "asks", its regex `SK[0-9a-fA-F]{32}` never there. When every
//! match of a rule starts with one of a few literals ([`MatchStarts`]), a window none of
//! them occurs in is not searched, nor one where each occurrence is followed by what
//! cannot continue a match (Vault's `s.` must be followed by a letter or digit, and ends
//! a sentence in prose: "…for our projects. We…"): in prose that skips most of the regex
//! searches, each of which costs more with the regex engine's code and caches cold (as
//! they are in a gateway between two requests) than a few substring searches.

use std::collections::HashSet;

use memchr::memmem::Finder;
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{Class, Hir, HirKind};

/// Most literals a [`MatchStarts`] searches for.
const MAX_STARTS: usize = 8;

/// Most longer starts a [`MatchStarts`] checks its literals' occurrences against, and
/// the largest character class spelled out in them.
const MAX_LONGER: usize = 1024;
const MAX_CLASS: usize = 64;

/// Most strings a finite sub-pattern may stand for before the analysis gives up.
const MAX_SET: usize = 256;

/// How far around each of its keyword occurrences a windowed rule searches.
#[derive(Debug, Clone, Copy)]
pub struct KeywordWindow {
    /// Longest possible match, in bytes.
    pub max_len: usize,
}

/// The window plan for a rule, if it qualifies.
pub fn plan(pattern: &str, keywords: &[String]) -> Option<KeywordWindow> {
    if keywords.is_empty() {
        return None;
    }
    let hir = regex_syntax::parse(pattern).ok()?;
    let max_len = hir.properties().maximum_len()?;
    if max_len > 4096 || !must_contain(&hir, keywords) {
        return None;
    }
    Some(KeywordWindow { max_len })
}

/// The literals every match of a rule starts with, spelled as the regex spells them
/// (its case-insensitive parts expanded), when there are at most [`MAX_STARTS`] of two
/// bytes or more; and, when they are few enough, the longer literals a match starts
/// with once the character classes after them are spelled out too (`s.` followed by
/// one of `[a-z0-9]`: `s.a`, …, `s.9`). A start literal followed by none of its
/// continuations — "sales." followed by a space — starts no match.
#[derive(Debug, Clone)]
pub struct MatchStarts {
    starts: Box<[Finder<'static>]>,
    longer: Option<Longer>,
}

/// Longer match starts, by length.
#[derive(Debug, Clone)]
struct Longer {
    lens: Box<[usize]>,
    set: HashSet<Box<[u8]>>,
}

impl MatchStarts {
    pub fn of(pattern: &str) -> Option<MatchStarts> {
        let hir = regex_syntax::parse(pattern).ok()?;
        let seq = Extractor::new().kind(ExtractKind::Prefix).extract(&hir);
        let literals = seq.literals()?;
        if literals.is_empty()
            || literals.len() > MAX_STARTS
            || literals.iter().any(|l| l.as_bytes().len() < 2)
        {
            return None;
        }
        let starts = literals
            .iter()
            .map(|l| Finder::new(l.as_bytes()).into_owned());
        Some(MatchStarts {
            starts: starts.collect(),
            longer: Longer::of(&hir),
        })
    }

    /// Whether a match may start in `hay`: one of the literals occurs there (followed by
    /// one of the longer starts, where known). If not, no match lies in `hay`.
    pub fn occur_in(&self, hay: &[u8]) -> bool {
        self.starts.iter().any(|f| {
            let Some(longer) = &self.longer else {
                return f.find(hay).is_some();
            };
            // Every occurrence, overlapping ones too (`xx` in "xxx0…" at 0 and at 1).
            let mut from = 0;
            while let Some(at) = hay.get(from..).and_then(|rest| f.find(rest)) {
                if longer.start_at(hay, from + at) {
                    return true;
                }
                from += at + 1;
            }
            false
        })
    }
}

impl Longer {
    fn of(hir: &Hir) -> Option<Longer> {
        let mut extractor = Extractor::new();
        extractor
            .kind(ExtractKind::Prefix)
            .limit_class(MAX_CLASS)
            .limit_total(MAX_LONGER);
        let seq = extractor.extract(hir);
        let literals = seq.literals()?;
        if literals.is_empty() || literals.len() > MAX_LONGER {
            return None;
        }
        let set: HashSet<Box<[u8]>> = literals.iter().map(|l| l.as_bytes().into()).collect();
        let mut lens: Vec<usize> = set.iter().map(|l| l.len()).collect();
        lens.sort_unstable();
        lens.dedup();
        Some(Longer {
            lens: lens.into(),
            set,
        })
    }

    /// Whether a longer start begins at `at` (or may: one running past the end of
    /// `hay` cannot be told from the bytes there, and counts).
    fn start_at(&self, hay: &[u8], at: usize) -> bool {
        self.lens.iter().any(|&len| match hay.get(at..at + len) {
            Some(bytes) => self.set.contains(bytes),
            None => true,
        })
    }
}

fn all_contain(set: &[Vec<u8>], keywords: &[String]) -> bool {
    !set.is_empty()
        && set.iter().all(|s| {
            keywords.iter().any(|k| {
                let k = k.as_bytes();
                !k.is_empty() && s.windows(k.len()).any(|w| w.eq_ignore_ascii_case(k))
            })
        })
}

/// Whether every match of `hir` contains a keyword.
fn must_contain(hir: &Hir, keywords: &[String]) -> bool {
    if finite(hir).is_some_and(|set| all_contain(&set, keywords)) {
        return true;
    }
    match hir.kind() {
        HirKind::Capture(c) => must_contain(&c.sub, keywords),
        HirKind::Repetition(r) => r.min >= 1 && must_contain(&r.sub, keywords),
        HirKind::Alternation(alts) => alts.iter().all(|h| must_contain(h, keywords)),
        HirKind::Concat(children) => {
            // Any child, or any run of consecutive finite children.
            let mut run: Option<Vec<Vec<u8>>> = None;
            for child in children {
                if must_contain(child, keywords) {
                    return true;
                }
                match finite(child) {
                    Some(set) => {
                        run = Some(match run {
                            None => set,
                            Some(prev) => match product(&prev, &set) {
                                Some(p) => p,
                                None => set,
                            },
                        });
                        if run.as_deref().is_some_and(|r| all_contain(r, keywords)) {
                            return true;
                        }
                    }
                    None => run = None,
                }
            }
            false
        }
        _ => false,
    }
}

/// The strings `hir` matches (ASCII letters folded to lower case), if few.
fn finite(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Some(vec![Vec::new()]),
        HirKind::Literal(l) => Some(vec![l.0.to_ascii_lowercase()]),
        HirKind::Class(c) => class_set(c),
        HirKind::Capture(c) => finite(&c.sub),
        HirKind::Repetition(r) => {
            let max = r.max?;
            if max > 4 {
                return None;
            }
            let sub = finite(&r.sub)?;
            let mut all = Vec::new();
            let mut cur = vec![Vec::new()];
            for n in 0..=max {
                if n >= r.min {
                    all.extend(cur.iter().cloned());
                }
                cur = product(&cur, &sub)?;
            }
            (all.len() <= MAX_SET).then_some(all)
        }
        HirKind::Concat(children) => {
            let mut acc = vec![Vec::new()];
            for child in children {
                acc = product(&acc, &finite(child)?)?;
            }
            Some(acc)
        }
        HirKind::Alternation(alts) => {
            let mut all = Vec::new();
            for a in alts {
                all.extend(finite(a)?);
                if all.len() > MAX_SET {
                    return None;
                }
            }
            Some(all)
        }
    }
}

fn product(a: &[Vec<u8>], b: &[Vec<u8>]) -> Option<Vec<Vec<u8>>> {
    if a.len().saturating_mul(b.len()) > MAX_SET {
        return None;
    }
    let mut out = Vec::with_capacity(a.len() * b.len());
    for x in a {
        for y in b {
            let mut s = x.clone();
            s.extend_from_slice(y);
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    Some(out)
}

/// A class of one character, or one ASCII letter in both cases.
fn class_set(class: &Class) -> Option<Vec<Vec<u8>>> {
    let mut chars: Vec<u8> = Vec::new();
    match class {
        Class::Unicode(u) => {
            for r in u.ranges() {
                if r.end() as u32 - r.start() as u32 > 2 {
                    return None;
                }
                // Non-ASCII members are (?i) fold variants (KELVIN SIGN for k, LONG S
                // for s); the keyword prefilter is ASCII case-insensitive, so a text
                // spelling a keyword with them never selects the rule anyway.
                for c in (r.start()..=r.end()).filter(char::is_ascii) {
                    chars.push((c as u8).to_ascii_lowercase());
                }
            }
            if chars.is_empty() {
                return None;
            }
        }
        Class::Bytes(b) => {
            for r in b.ranges() {
                if r.end() - r.start() > 2 {
                    return None;
                }
                for c in r.start()..=r.end() {
                    chars.push(c.to_ascii_lowercase());
                }
            }
        }
    }
    chars.sort_unstable();
    chars.dedup();
    (chars.len() <= 3).then(|| chars.into_iter().map(|c| vec![c]).collect())
}
