//! Keyword windows: for a regex every match of which holds one of its literals (a
//! secret rule's keywords, an injection rule's anchors), the regex only needs to run
//! where a match holding one of their occurrences can lie. gitleaks' context rules
//! (`[\w.-]{0,50}?(?:key|token…)…`) cost ~20 µs/KB when run over a whole prompt; over
//! windows they cost next to nothing on text where the keyword occurs only in prose.
//!
//! Whether a regex qualifies, and what the parts of a match before and after its keyword
//! can hold, is read off its syntax tree (`shape`); otherwise it runs on the whole text.
//! How far a window reaches on each side of an occurrence is the tighter of two bounds:
//! the pattern's longest match, if it has one, and the byte budgets of a match's parts
//! before and after its keyword, counted on the text itself (gitleaks' generic rule has
//! no longest match, but takes no space before its keyword and at most 29 after: a
//! window reaches back to the word's start and forward a sentence or so). A window also
//! takes the character after the last one a match may hold, which an assertion at a
//! match's end (`\b`) reads.
//!
//! When the keyword part of a pattern matches exactly a keyword, the rest of the pattern
//! is tried first at each occurrence's end (`continuation`): an occurrence it does not
//! follow opens no window.
//!
//! The occurrences themselves come from one literal pass over every rule's literals
//! (`literals`), not from a pass per rule.

use std::ops::Range;
use std::sync::Arc;

use regex::Regex;

use super::budget::Tally;
use super::continuation::Continuation;
use super::shape::{self, Keywords, Sides};
use super::starts::MatchStarts;

/// How far around each of its keyword occurrences a windowed rule searches.
#[derive(Debug, Clone)]
pub struct KeywordWindow {
    /// Longest possible match, in bytes, if the pattern has one.
    max_len: Option<usize>,
    /// What the part of a match before (after) its keyword can hold.
    sides: Box<Sides>,
    /// What must follow a keyword occurrence that a match holds, when known.
    continuation: Option<Arc<Continuation>>,
}

/// The window plan for a regex and its keywords, if every match holds one.
pub fn plan(pattern: &str, keywords: &Keywords<'_>) -> Option<KeywordWindow> {
    let hir = regex_syntax::parse(pattern).ok()?;
    let shape = shape::analyse(&hir, keywords)?;
    let continuation = shape
        .continuation
        .as_ref()
        .and_then(Continuation::build)
        .map(Arc::new);
    Some(KeywordWindow {
        max_len: hir.properties().maximum_len(),
        sides: Box::new(shape.sides),
        continuation,
    })
}

impl KeywordWindow {
    /// The windows around `occurrences` (keyword occurrences as byte ranges, by end) in
    /// which a match holding one of them can lie: ranges on character boundaries,
    /// sorted by start. Linear in the text however many occurrences there are: each
    /// side's [`Tally`] slides over occurrences in order (ends come in order; starts
    /// too, unless a keyword lies inside another, when they are visited sorted).
    pub fn windows(
        &self,
        text: &str,
        occurrences: impl Iterator<Item = (usize, usize)>,
    ) -> Vec<(usize, usize)> {
        let bytes = text.as_bytes();
        let reach = self.max_len.unwrap_or(usize::MAX);
        let kept: Vec<(usize, usize)> = occurrences
            .filter(|&(_, end)| {
                self.continuation
                    .as_ref()
                    .is_none_or(|c| c.may_follow(bytes, end))
            })
            .collect();
        let mut ahead = Tally::new(&self.sides.after);
        let mut out: Vec<(usize, usize)> = kept
            .iter()
            .map(|&(start, end)| (start, ahead.reach_ahead(bytes, end, reach)))
            .collect();
        let mut back = Tally::new(&self.sides.before);
        if kept.is_sorted_by_key(|k| k.0) {
            for w in &mut out {
                w.0 = back.reach_back(bytes, w.0, reach);
            }
        } else {
            let mut by_start: Vec<usize> = (0..out.len()).collect();
            by_start.sort_by_key(|&i| kept.get(i).map_or(0, |k| k.0));
            for i in by_start {
                if let Some(w) = out.get_mut(i) {
                    w.0 = back.reach_back(bytes, w.0, reach);
                }
            }
        }
        for w in &mut out {
            // One character more at the end: an assertion there (`\b`) reads it.
            *w = (
                floor_char(text, w.0),
                ceil_char(text, w.1.saturating_add(1)),
            );
        }
        if !out.is_sorted() {
            out.sort_unstable();
        }
        out
    }
}

/// Calls `found(start, end)`, in order, for every match of `regex` that a `find_at`
/// iteration over the whole of `text` reports. With a `window` (every such match then
/// holds one of `occurrences`, keyword occurrences as byte ranges, by end, the way the
/// window was planned for), only the windows around them are searched, each once.
pub fn find_matches(
    regex: &Regex,
    window: Option<&KeywordWindow>,
    starts: Option<&MatchStarts>,
    text: &str,
    occurrences: impl Iterator<Item = (usize, usize)>,
    mut found: impl FnMut(usize, usize),
) {
    let Some(window) = window else {
        let mut pos = 0;
        while pos <= text.len() {
            let Some(m) = regex.find_at(text, pos) else {
                break;
            };
            pos = advance(text, m.start(), m.end());
            found(m.start(), m.end());
        }
        return;
    };
    let mut pending: Option<(usize, usize)> = None;
    let mut done = 0;
    for (ws, we) in window.windows(text, occurrences) {
        pending = match pending {
            Some((s, e)) if ws <= e => Some((s, e.max(we))),
            Some((s, e)) => {
                search_window(regex, starts, text, s..e, &mut done, &mut found);
                Some((ws, we))
            }
            None => Some((ws, we)),
        };
    }
    if let Some((s, e)) = pending {
        search_window(regex, starts, text, s..e, &mut done, &mut found);
    }
}

/// Searches `text[s..e]` from `done` on (look-behind sees the text before `s`). A match
/// touching `e` may have been cut by the window: it is re-run on the whole text.
fn search_window(
    regex: &Regex,
    starts: Option<&MatchStarts>,
    text: &str,
    Range { start: s, end: e }: Range<usize>,
    done: &mut usize,
    found: &mut impl FnMut(usize, usize),
) {
    let hay = &text[..e];
    let mut pos = s.max(*done);
    if let Some(starts) = starts
        && !starts.occur_in(hay.as_bytes().get(pos..).unwrap_or_default())
    {
        return;
    }
    while pos <= e {
        let Some(m) = regex.find_at(hay, pos) else {
            break;
        };
        let (ms, me) = if m.end() == e && e < text.len() {
            match regex.find_at(text, m.start()) {
                Some(full) => (full.start(), full.end()),
                None => {
                    // No match from here to the text's end: nothing left to find.
                    *done = text.len() + 1;
                    break;
                }
            }
        } else {
            (m.start(), m.end())
        };
        pos = advance(text, ms, me);
        *done = pos;
        found(ms, me);
    }
}

/// Where a `find_at` iteration goes on after the match `start..end` (past an empty
/// match, to the next character).
fn advance(text: &str, start: usize, end: usize) -> usize {
    if end > start {
        return end;
    }
    text.get(end..)
        .and_then(|rest| rest.chars().next())
        .map_or(text.len() + 1, |c| end + c.len_utf8())
}

fn floor_char(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while i < text.len() && !text.is_char_boundary(i) {
        i += 1;
    }
    i
}
