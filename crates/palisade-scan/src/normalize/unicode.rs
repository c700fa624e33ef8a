//! The first rewrite pass over non-ASCII text: Unicode NFKC, removal of invisible
//! characters, other scripts' decimal digits read as ASCII ([`super::digits`]) and
//! dashes as `-` ([`super::dashes`]), in one walk that only allocates once something
//! actually changes.
//!
//! NFKC is applied per *cluster*: a starter plus every following character that could
//! combine with it (non-zero combining class, NFKC_QC=Maybe, or a compatibility
//! decomposition that begins with a non-starter, like half-width katakana voicing
//! marks). Clusters never span an invisible character, so each edit maps a cluster (or
//! a run of invisibles) of the original to its replacement, and spans stay precise.

use std::iter::once;
use std::ops::Range;
use std::sync::OnceLock;

use unicode_normalization::char::{canonical_combining_class, decompose_compatible};
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

use super::Decoded;
use super::bmp::BmpSet;
use super::decode::{Budget, printable_text};
use super::invisible::{self, Disposition};
use super::map::{Builder, OffsetMap};
use super::{dashes, digits};
use crate::finding::{Category, Finding};

pub const INVISIBLE_KIND: &str = "invisible_text";
pub const INVISIBLE_DETECTOR: &str = "normalize.invisible";

/// A cluster of the original: `start..end`, and whether it is one NFKC-stable char.
#[derive(Clone, Copy)]
struct Cluster {
    start: usize,
    end: usize,
    simple: bool,
}

struct Pass<'s, 'o> {
    src: &'s str,
    b: Builder<'s>,
    scratch: String,
    findings: &'o mut Vec<Finding>,
    decoded: &'o mut Vec<Decoded>,
    budget: &'o mut Budget,
    /// Every group's smuggled text in order: a payload split into several invisible runs
    /// between visible words is read whole too.
    smuggled: Smuggled,
}

/// The tag-character text and variation-selector bytes of all groups of one text.
#[derive(Default)]
struct Smuggled {
    /// The groups' tag text glued (a key split around a visible word), and with a space
    /// where white space stood between two groups (one word per group).
    tags: String,
    tags_spaced: String,
    tag_groups: usize,
    tag_span: Option<Range<usize>>,
    vs_bytes: Vec<u8>,
    vs_groups: usize,
    vs_span: Option<Range<usize>>,
}

/// `span` widened to reach `to`.
fn widen(span: &mut Option<Range<usize>>, to: &Range<usize>) {
    let s = span.get_or_insert(to.clone());
    s.start = s.start.min(to.start);
    s.end = s.end.max(to.end);
}

/// NFKC + invisible removal of `src`. `None` when the text is already clean. Findings
/// and decoded smuggled text get spans of `src`.
pub(crate) fn clean(
    src: &str,
    findings: &mut Vec<Finding>,
    decoded: &mut Vec<Decoded>,
    budget: &mut Budget,
) -> Option<(String, OffsetMap)> {
    let mut pass = Pass {
        src,
        b: Builder::new(src),
        scratch: String::new(),
        findings,
        decoded,
        budget,
        smuggled: Smuggled::default(),
    };
    let bytes = src.as_bytes();
    let mut cluster: Option<Cluster> = None;
    // Whether the last character kept is a digit: what would combine with it (`4́111…`),
    // even past removed invisibles or after another script's digit, is no part of any
    // number and is dropped, so that accents cannot split a card or a phone number.
    let mut after_digit = false;
    let mut i = 0;
    while i < bytes.len() {
        if bytes.get(i).is_some_and(u8::is_ascii) {
            let run = bytes.get(i..).unwrap_or_default();
            let j = i + run.iter().position(|b| !b.is_ascii()).unwrap_or(run.len());
            pass.flush(cluster.take());
            // ASCII characters are NFKC-stable starters; only the last one can still take
            // a combining mark.
            cluster = Some(Cluster {
                start: j - 1,
                end: j,
                simple: true,
            });
            after_digit = bytes.get(j - 1).is_some_and(u8::is_ascii_digit);
            i = j;
            continue;
        }
        let Some(c) = src.get(i..).and_then(|s| s.chars().next()) else {
            break;
        };
        let len = c.len_utf8();
        if stable().contains(c) {
            after_digit = false;
            pass.flush(cluster.take());
            cluster = Some(Cluster {
                start: i,
                end: i + len,
                simple: true,
            });
            i += len;
            continue;
        }
        if let Some(d) = digits::ascii_digit(c) {
            // A starter with no decomposition to combine: its own edit, and a mark after
            // it starts a cluster of its own.
            pass.flush(cluster.take());
            pass.b.replace(i..i + len, d.encode_utf8(&mut [0; 4]));
            after_digit = true;
            i += len;
            continue;
        }
        if dashes::is_hyphen_like(c) {
            after_digit = false;
            pass.flush(cluster.take());
            pass.b.replace(i..i + len, "-");
            i += len;
            continue;
        }
        if invisible::classify(c).is_some() {
            pass.flush(cluster.take());
            let run = src.get(i..).unwrap_or_default();
            let run_len = run
                .char_indices()
                .find(|&(_, c)| invisible::classify(c).is_none())
                .map_or(run.len(), |(k, _)| k);
            pass.invisible_run(i..i + run_len);
            i += run_len;
            continue;
        }
        let qc = is_nfkc_quick(once(c));
        if after_digit && attaches(c, &qc) {
            pass.b.delete(i..i + len);
            i += len;
            continue;
        }
        match cluster.as_mut() {
            Some(cl) if attaches(c, &qc) => {
                cl.end = i + len;
                cl.simple = false;
            }
            _ => {
                after_digit = false;
                pass.flush(cluster.take());
                cluster = Some(Cluster {
                    start: i,
                    end: i + len,
                    simple: qc == IsNormalized::Yes,
                });
            }
        }
        i += len;
    }
    pass.flush(cluster);
    pass.end_smuggled();
    pass.b.finish()
}

/// BMP characters that are NFKC-stable starters, not invisible and not another
/// script's digits: nothing to do.
fn stable() -> &'static BmpSet {
    static STABLE: OnceLock<BmpSet> = OnceLock::new();
    STABLE.get_or_init(|| {
        BmpSet::build(|c| {
            invisible::classify(c).is_none()
                && digits::ascii_digit(c).is_none()
                && !dashes::is_hyphen_like(c)
                && canonical_combining_class(c) == 0
                && is_nfkc_quick(once(c)) == IsNormalized::Yes
        })
    })
}

/// Whether `c` may change the normal form of the cluster before it.
fn attaches(c: char, qc: &IsNormalized) -> bool {
    match qc {
        IsNormalized::Maybe => true,
        IsNormalized::Yes => canonical_combining_class(c) != 0,
        IsNormalized::No => {
            let mut first = None;
            decompose_compatible(c, |d| {
                first.get_or_insert(d);
            });
            canonical_combining_class(c) != 0
                || first.is_some_and(|d| canonical_combining_class(d) != 0)
        }
    }
}

impl Pass<'_, '_> {
    fn flush(&mut self, cluster: Option<Cluster>) {
        let Some(cl) = cluster else { return };
        if cl.simple {
            return;
        }
        let Some(s) = self.src.get(cl.start..cl.end) else {
            return;
        };
        if is_nfkc_quick(s.chars()) == IsNormalized::Yes {
            return;
        }
        self.scratch.clear();
        self.scratch.extend(s.nfkc());
        if self.scratch != s {
            self.b.replace(cl.start..cl.end, &self.scratch);
        }
    }

    /// Handles a maximal run of invisible characters at `run` of the source.
    fn invisible_run(&mut self, run: Range<usize>) {
        let src = self.src;
        let Some(text) = src.get(run.clone()) else {
            return;
        };
        let before = src.get(..run.start).and_then(|s| s.chars().next_back());
        if invisible::is_flag_tag_sequence(before, text) {
            return;
        }
        let after = src.get(run.end..).and_then(|s| s.chars().next());
        let mut prev = before;
        let mut group: Option<Group> = None;
        let mut chars = text.char_indices().peekable();
        while let Some((k, c)) = chars.next() {
            let next = chars.peek().map(|&(_, n)| n).or(after);
            let kind = invisible::classify(c);
            let d = kind.map_or(Disposition::Keep, |kind| {
                invisible::disposition(kind, c, prev, next, run.start + k == 0)
            });
            let at = run.start + k..run.start + k + c.len_utf8();
            prev = Some(c);
            if d == Disposition::Keep {
                self.end_group(group.take());
                continue;
            }
            self.b.delete(at.clone());
            let g = group.get_or_insert_with(|| Group::new(at.start));
            g.end = at.end;
            if let Disposition::Drop(score) = d {
                g.score = g.score.max(score);
            }
            if let Some(a) = invisible::tag_ascii(c) {
                g.tags.push(a);
            }
            if let Some(v) = invisible::variation_byte(c) {
                g.vs_bytes.push(v);
            }
        }
        self.end_group(group);
    }

    fn end_group(&mut self, group: Option<Group>) {
        let Some(g) = group else { return };
        if g.score <= 0.0 {
            return;
        }
        let span = g.start..g.end;
        self.findings.push(Finding::new(
            INVISIBLE_KIND,
            Category::Obfuscation,
            span.clone(),
            g.score,
            INVISIBLE_DETECTOR,
        ));
        if !self.budget.enabled {
            return;
        }
        let all = &mut self.smuggled;
        if !g.tags.is_empty() {
            let between = all
                .tag_span
                .as_ref()
                .and_then(|s| self.src.get(s.end..span.start));
            if between.is_some_and(|b| b.chars().any(char::is_whitespace)) {
                all.tags_spaced.push(' ');
            }
            all.tags.push_str(&g.tags);
            all.tags_spaced.push_str(&g.tags);
            all.tag_groups += 1;
            widen(&mut all.tag_span, &span);
        }
        if !g.vs_bytes.is_empty() {
            all.vs_bytes.extend_from_slice(&g.vs_bytes);
            all.vs_groups += 1;
            widen(&mut all.vs_span, &span);
        }
        if g.tags.trim().chars().count() >= 2 {
            self.budget
                .push(self.decoded, g.tags, span.clone(), "unicode_tags");
        }
        if g.vs_bytes.len() >= 4
            && let Some(text) = printable_text(&g.vs_bytes, self.budget.min_printable_ratio)
        {
            self.budget
                .push(self.decoded, text, span, "variation_selectors");
        }
    }

    /// The smuggled text of all groups together, when there were several: what each
    /// says alone was decoded at its group.
    fn end_smuggled(&mut self) {
        if !self.budget.enabled {
            return;
        }
        let all = std::mem::take(&mut self.smuggled);
        if all.tag_groups >= 2
            && all.tags.trim().chars().count() >= 2
            && let Some(span) = all.tag_span
        {
            if all.tags_spaced != all.tags {
                self.budget
                    .push(self.decoded, all.tags_spaced, span.clone(), "unicode_tags");
            }
            self.budget
                .push(self.decoded, all.tags, span, "unicode_tags");
        }
        if all.vs_groups >= 2
            && all.vs_bytes.len() >= 4
            && let Some(span) = all.vs_span
            && let Some(text) = printable_text(&all.vs_bytes, self.budget.min_printable_ratio)
        {
            self.budget
                .push(self.decoded, text, span, "variation_selectors");
        }
    }
}

/// A run of removed invisibles reported as one finding.
struct Group {
    start: usize,
    end: usize,
    score: f32,
    tags: String,
    vs_bytes: Vec<u8>,
}

impl Group {
    fn new(start: usize) -> Group {
        Group {
            start,
            end: start,
            score: 0.0,
            tags: String::new(),
            vs_bytes: Vec::new(),
        }
    }
}
