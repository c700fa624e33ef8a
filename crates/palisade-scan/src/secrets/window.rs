//! Keyword windows: for a rule whose every match must contain one of its keywords, the
//! regex only needs to run where a match containing a keyword occurrence can lie.
//! gitleaks' context rules (`[\w.-]{0,50}?(?:key|token…)…`) cost ~20 µs/KB when run
//! over a whole prompt; over windows they cost next to nothing on text where the
//! keyword occurs only in prose.
//!
//! Whether a rule qualifies is decided from its syntax tree: some part of the pattern
//! that every match passes through matches only a small finite set of strings (ASCII
//! case folded), each containing a keyword. Otherwise the rule runs on the whole text.
//! How far a window reaches on each side of an occurrence is the tighter of two bounds:
//! the pattern's longest match, if it has one, and the [`ByteBudget`]s of the parts of a
//! match before and after its keyword, counted on the text itself (gitleaks' generic
//! rule has no longest match, but takes no space before its keyword and at most 29
//! after: a window reaches back to the word's start and forward a sentence or so).
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
use regex_automata::meta::Regex as MetaRegex;
use regex_automata::{Anchored, Input};
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{Class, Hir, HirKind};

use super::budget::ByteBudget;

/// Most literals a [`MatchStarts`] searches for.
const MAX_STARTS: usize = 8;

/// Most longer starts a [`MatchStarts`] checks its literals' occurrences against, and
/// the largest character class spelled out in them.
const MAX_LONGER: usize = 1024;
const MAX_CLASS: usize = 64;

/// Most strings a finite sub-pattern may stand for before the analysis gives up.
const MAX_SET: usize = 256;

/// How far around each of its keyword occurrences a windowed rule searches.
#[derive(Debug, Clone)]
pub struct KeywordWindow {
    /// Longest possible match, in bytes, if the pattern has one.
    max_len: Option<usize>,
    /// What the part of a match before (after) its keyword can hold.
    sides: Box<Sides>,
    /// What must follow a keyword occurrence that a match holds, when known.
    continuation: Option<Continuation>,
}

/// The rest of a pattern after the part that matches exactly a keyword (gitleaks'
/// `(?:key|token…)(?:[ \t\w.-]{0,20})[\s'"]{0,3}(?:=|:…)…`), searched anchored at a
/// keyword occurrence's end: an occurrence it does not follow ("keyboard", "the API
/// design team") is in no match, and opens no window. The anchored search stops within
/// a few bytes on prose, where a window search reads the whole window.
#[derive(Debug, Clone)]
struct Continuation(MetaRegex);

impl Continuation {
    /// The pattern after the first part of `hir`'s top sequence whose every string is a
    /// keyword (ASCII case folded), if there is one and anything follows it.
    fn of(hir: &Hir, keywords: &[String]) -> Option<Continuation> {
        let children = match hir.kind() {
            HirKind::Capture(c) => return Continuation::of(&c.sub, keywords),
            HirKind::Concat(children) => children,
            _ => return None,
        };
        let at = children.iter().position(|child| {
            finite(child).is_some_and(|set| {
                !set.is_empty()
                    && set.iter().all(|s| {
                        keywords
                            .iter()
                            .any(|k| s.eq_ignore_ascii_case(k.as_bytes()))
                    })
            })
        })?;
        let rest = children.get(at + 1..).filter(|r| !r.is_empty())?;
        let regex = MetaRegex::builder()
            .build_from_hir(&Hir::concat(rest.to_vec()))
            .ok()?;
        Some(Continuation(regex))
    }

    /// Whether the continuation matches from `at` (what precedes `at` is seen by
    /// look-behind assertions).
    fn follows(&self, text: &[u8], at: usize) -> bool {
        at <= text.len()
            && self
                .0
                .is_match(Input::new(text).range(at..).anchored(Anchored::Yes))
    }
}

/// The budgets of the parts of a match on either side of its keyword.
#[derive(Debug, Clone)]
struct Sides {
    before: ByteBudget,
    after: ByteBudget,
}

impl KeywordWindow {
    /// Whether the keyword occurrence ending at `end` can be the one a match holds
    /// (false only when it certainly is not).
    pub fn may_hold(&self, text: &[u8], end: usize) -> bool {
        self.continuation
            .as_ref()
            .is_none_or(|c| c.follows(text, end))
    }

    /// Where in `text` a match containing the keyword occurrence `start..end` can lie
    /// (byte offsets; not necessarily on character boundaries).
    pub fn around(&self, text: &[u8], start: usize, end: usize) -> (usize, usize) {
        let reach = self.max_len.unwrap_or(usize::MAX);
        let from = start.saturating_sub(reach);
        let before = text.get(from..start).unwrap_or_default();
        let ws = match self.sides.before.fits(before.iter().rev().copied()) {
            Some(fit) => start - fit,
            None => from,
        };
        let to = end.saturating_add(reach).min(text.len());
        let after = text.get(end..to).unwrap_or_default();
        let we = match self.sides.after.fits(after.iter().copied()) {
            Some(fit) => end + fit,
            None => to,
        };
        (ws, we)
    }
}

/// The window plan for a rule, if it qualifies.
pub fn plan(pattern: &str, keywords: &[String]) -> Option<KeywordWindow> {
    if keywords.is_empty() {
        return None;
    }
    let hir = regex_syntax::parse(pattern).ok()?;
    let sides = sides(&hir, keywords)?;
    Some(KeywordWindow {
        max_len: hir.properties().maximum_len(),
        sides: Box::new(sides),
        continuation: Continuation::of(&hir, keywords),
    })
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

/// If every match of `hir` contains a keyword: the budgets of a match's parts before
/// and after that keyword. (Another occurrence of a keyword inside a match may see
/// other sides; the windows of the one the pattern requires are what cover the match.)
fn sides(hir: &Hir, keywords: &[String]) -> Option<Sides> {
    let whole = || {
        let b = ByteBudget::of(hir);
        Sides {
            before: b.clone(),
            after: b,
        }
    };
    if finite(hir).is_some_and(|set| all_contain(&set, keywords)) {
        return Some(whole());
    }
    match hir.kind() {
        HirKind::Capture(c) => sides(&c.sub, keywords),
        // The keyword is in one repetition; the others may be on either side.
        HirKind::Repetition(r) if r.min >= 1 => sides(&r.sub, keywords).map(|_| whole()),
        HirKind::Alternation(alts) => {
            let mut all: Option<Sides> = None;
            for alt in alts {
                let s = sides(alt, keywords)?;
                match &mut all {
                    None => all = Some(s),
                    Some(a) => {
                        a.before.max(&s.before);
                        a.after.max(&s.after);
                    }
                }
            }
            all
        }
        HirKind::Concat(children) => {
            // Any child, or any run of consecutive finite children (from `run_from`).
            let around = |from: usize, to: usize, inner: Sides| {
                let mut before = ByteBudget::sum(&children[..from]);
                before.add(&inner.before);
                let mut after = inner.after;
                after.add(&ByteBudget::sum(&children[to + 1..]));
                Sides { before, after }
            };
            let mut run: Option<(usize, Vec<Vec<u8>>)> = None;
            for (i, child) in children.iter().enumerate() {
                if let Some(inner) = sides(child, keywords) {
                    return Some(around(i, i, inner));
                }
                match finite(child) {
                    Some(set) => {
                        run = Some(match run {
                            None => (i, set),
                            Some((from, prev)) => match product(&prev, &set) {
                                Some(p) => (from, p),
                                None => (i, set),
                            },
                        });
                        if let Some((from, r)) = &run
                            && all_contain(r, keywords)
                        {
                            let b = ByteBudget::sum(&children[*from..=i]);
                            let inner = Sides {
                                before: b.clone(),
                                after: b,
                            };
                            return Some(around(*from, i, inner));
                        }
                    }
                    None => run = None,
                }
            }
            None
        }
        _ => None,
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
                // Non-ASCII members are (?i) fold variants: KELVIN SIGN for k, LONG S
                // for s, which the keyword pass finds as those letters (`fold_variants`
                // in `engine`). Any other makes the class no keyword's.
                for c in r.start()..=r.end() {
                    chars.push(match c {
                        '\u{212A}' => b'k',
                        '\u{17F}' => b's',
                        c if c.is_ascii() => (c as u8).to_ascii_lowercase(),
                        _ => return None,
                    });
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
