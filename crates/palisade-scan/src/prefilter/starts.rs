//! Match starts: the literals every match of a regex starts with, when there are few.
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
use regex_syntax::hir::Hir;
use regex_syntax::hir::literal::{ExtractKind, Extractor};

/// Most literals a [`MatchStarts`] searches for.
const MAX_STARTS: usize = 8;

/// Most longer starts a [`MatchStarts`] checks its literals' occurrences against, and
/// the largest character class spelled out in them.
const MAX_LONGER: usize = 1024;
const MAX_CLASS: usize = 64;

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
