//! The candidate finder's data: a [`Run`] is a digit-bearing alphanumeric token plus
//! the tokens joined to it by short separators (`4111 1111 …`, `(415) 555-0132`,
//! `GB82 WEST …`, `10.0.0.1`), kept on the stack; [`Sink`] is where validators report,
//! applying context and scoring. Also the word-boundary helpers.

use super::context::{self, ContextIndex, Evidence, Tag};
use super::{Kind, finding};
use crate::finding::Finding;

pub(crate) const MAX_GROUPS: usize = 16;

/// Groups a run cut at [`MAX_GROUPS`] shares with the next one, so that a value
/// straddling the cut is whole in the next run: the longest values scanned as groups are
/// IBANs (up to 34 characters, 9 groups of 4 at most).
pub(crate) const OVERLAP_GROUPS: usize = 9;

/// The first ASCII digit at or after `from`. Prose has few digits, so this is most of
/// the candidate search: blocks of 32 bytes are tested whole, without an early exit
/// inside a block, which the compiler turns into a few vector instructions.
pub(crate) fn next_digit(bytes: &[u8], from: usize) -> Option<usize> {
    const BLOCK: usize = 32;
    let rest = bytes.get(from..)?;
    let mut blocks = rest.chunks_exact(BLOCK);
    let mut base = from;
    for block in blocks.by_ref() {
        let any = block.iter().fold(false, |any, b| any | b.is_ascii_digit());
        if any {
            return block.iter().position(u8::is_ascii_digit).map(|i| base + i);
        }
        base += BLOCK;
    }
    let tail = blocks.remainder();
    tail.iter().position(u8::is_ascii_digit).map(|i| base + i)
}

/// One alphanumeric token: `start..end` bytes, all ASCII alphanumeric.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Group {
    pub start: usize,
    pub end: usize,
    pub digits: bool,
}

impl Group {
    pub fn len(&self) -> usize {
        self.end - self.start
    }
}

pub(crate) struct Run<'t> {
    pub text: &'t str,
    pub bytes: &'t [u8],
    g: [Group; MAX_GROUPS],
    pub n: usize,
    /// Whether the first group starts on a word boundary.
    pub left_ok: bool,
    /// Whether the last group ends on a word boundary.
    pub right_ok: bool,
    /// End of the last group.
    pub end: usize,
    /// Cut at [`MAX_GROUPS`] while more groups followed.
    pub truncated: bool,
}

fn group_at(bytes: &[u8], start: usize) -> Group {
    let mut end = start;
    let mut digits = true;
    while end < bytes.len() && bytes[end].is_ascii_alphanumeric() {
        digits &= bytes[end].is_ascii_digit();
        end += 1;
    }
    Group { start, end, digits }
}

/// A separator is `)?[ \-./:]?\(?`, non-empty, followed by an ASCII alphanumeric.
fn sep_at(bytes: &[u8], mut i: usize) -> Option<usize> {
    let start = i;
    if bytes.get(i) == Some(&b')') {
        i += 1;
    }
    if matches!(bytes.get(i), Some(b' ' | b'-' | b'.' | b'/' | b':')) {
        i += 1;
    }
    if bytes.get(i) == Some(&b'(') {
        i += 1;
    }
    (i > start && bytes.get(i).is_some_and(u8::is_ascii_alphanumeric)).then_some(i)
}

/// Letter-only tokens join a run only when short and upper-case (`WEST`, `C`) or hex-ish
/// after `:`/`-` (`aa:bb`), so runs do not swallow prose.
fn letters_admissible(bytes: &[u8], g: &Group, sep: &[u8]) -> bool {
    let s = &bytes[g.start..g.end];
    s.len() <= 4 && (s.iter().all(u8::is_ascii_uppercase) || sep == b":" || sep == b"-")
}

impl<'t> Run<'t> {
    /// Builds the run whose first digit-bearing token starts at `t`; `floor` is where
    /// the scan resumed (a preceding upper-case token may be included, never before it).
    pub fn build(text: &'t str, t: usize, floor: usize) -> Run<'t> {
        let bytes = text.as_bytes();
        let mut run = Run {
            text,
            bytes,
            g: [Group::default(); MAX_GROUPS],
            n: 0,
            left_ok: true,
            right_ok: true,
            end: t,
            truncated: false,
        };
        // A MAC address's first groups of hex letters (`ba:00:…`, `ab-cd-0e-…`,
        // `abcd.00ef.…`): a run starts at the first digit, which would cut them off.
        if t >= 3 + floor && matches!(bytes[t - 1], b':' | b'-' | b'.') {
            let sep = bytes[t - 1];
            let (len, most) = if sep == b'.' { (4, 2) } else { (2, 5) };
            // Starts of the letter groups, nearest first (on the stack: this is the
            // candidate finder's hot path).
            let mut groups = [0usize; 5];
            let mut found = 0;
            let mut end = t - 1;
            while found < most && end >= len + floor {
                let start = end - len;
                let hex_letters = bytes[start..end]
                    .iter()
                    .all(|b| b.is_ascii_hexdigit() && b.is_ascii_alphabetic());
                if !hex_letters {
                    break;
                }
                groups[found] = start;
                found += 1;
                if start > floor && bytes[start - 1] == sep {
                    end = start - 1;
                } else {
                    break;
                }
            }
            // The first letter group must start a word.
            while found > 0 && !boundary_before(text, groups[found - 1]) {
                found -= 1;
            }
            for &start in groups[..found].iter().rev() {
                run.push(Group {
                    start,
                    end: start + len,
                    digits: false,
                });
            }
        }
        // Else one preceding short upper-case token (`AB 12 34 56 C`, `ID-…`).
        if run.n == 0 && t >= 2 + floor && matches!(bytes[t - 1], b' ' | b'-') {
            let mut s = t - 1;
            while s > floor && bytes[s - 1].is_ascii_uppercase() {
                s -= 1;
            }
            let len = t - 1 - s;
            if (1..=4).contains(&len) && boundary_before(text, s) {
                run.push(Group {
                    start: s,
                    end: t - 1,
                    digits: false,
                });
            }
        }
        let mut pos = t;
        loop {
            let g = group_at(bytes, pos);
            run.push(g);
            if run.n == MAX_GROUPS {
                run.truncated = sep_at(bytes, g.end).is_some();
                break;
            }
            let Some(next) = sep_at(bytes, g.end) else {
                break;
            };
            let ng = group_at(bytes, next);
            if !ng.digits
                && !bytes[ng.start..ng.end].iter().any(u8::is_ascii_digit)
                && !letters_admissible(bytes, &ng, &bytes[g.end..next])
            {
                break;
            }
            pos = next;
        }
        let first = run.g[0].start;
        run.left_ok = boundary_before(text, first);
        run.end = run.g[run.n - 1].end;
        run.right_ok = boundary_after(text, run.end);
        run
    }

    fn push(&mut self, g: Group) {
        if self.n < MAX_GROUPS {
            self.g[self.n] = g;
            self.n += 1;
        }
    }

    pub fn groups(&self) -> &[Group] {
        &self.g[..self.n]
    }

    pub fn g(&self, i: usize) -> Group {
        self.g[i]
    }

    pub fn str(&self, i: usize) -> &'t str {
        &self.text[self.g[i].start..self.g[i].end]
    }

    /// The separator bytes before group `i` (`i ≥ 1`).
    pub fn sep(&self, i: usize) -> &'t [u8] {
        &self.bytes[self.g[i - 1].end..self.g[i].start]
    }

    /// Group `s` starts a value: on a boundary and not glued to a previous token by
    /// `-`, `.`, `/` or `:`.
    pub fn starts_clean(&self, s: usize) -> bool {
        if s == 0 {
            self.left_ok
        } else {
            self.sep(s).iter().any(|b| matches!(b, b' ' | b'('))
        }
    }

    /// Group `e` ends a value: on a boundary and not glued to a following token.
    pub fn ends_clean(&self, e: usize) -> bool {
        if e + 1 == self.n {
            self.right_ok
        } else {
            self.sep(e + 1).iter().any(|b| matches!(b, b' ' | b')'))
        }
    }

    /// Copies the digits of groups `s..=e` into `buf`; `None` if a group is not all
    /// digits or they do not fit.
    pub fn digits(&self, s: usize, e: usize, buf: &mut [u8]) -> Option<usize> {
        let mut n = 0;
        for g in &self.g[s..=e] {
            if !g.digits || n + g.len() > buf.len() {
                return None;
            }
            buf[n..n + g.len()].copy_from_slice(&self.bytes[g.start..g.end]);
            n += g.len();
        }
        Some(n)
    }

    /// Whether all separators between groups `s..=e` equal `sep`.
    pub fn seps_are(&self, s: usize, e: usize, sep: &[u8]) -> bool {
        (s + 1..=e).all(|i| self.sep(i) == sep)
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// No word character immediately before byte `i`.
pub(crate) fn boundary_before(text: &str, i: usize) -> bool {
    text.get(..i)
        .and_then(|s| s.chars().next_back())
        .is_none_or(|c| !is_word_char(c))
}

/// No word character at byte `i`.
pub(crate) fn boundary_after(text: &str, i: usize) -> bool {
    text.get(i..)
        .and_then(|s| s.chars().next())
        .is_none_or(|c| !is_word_char(c))
}

/// Where validators report. Holds the text, the context index and the output.
pub(crate) struct Sink<'a> {
    pub text: &'a str,
    ctx: &'a ContextIndex,
    out: &'a mut Vec<Finding>,
}

impl<'a> Sink<'a> {
    pub fn new(text: &'a str, ctx: &'a ContextIndex, out: &'a mut Vec<Finding>) -> Sink<'a> {
        Sink { text, ctx, out }
    }

    pub fn evidence(&self, start: usize, tag: Tag) -> Evidence {
        self.ctx.evidence(self.text, start, tag)
    }

    /// Scores with context and reports; returns whether it was reported.
    pub fn report(
        &mut self,
        kind: Kind,
        span: std::ops::Range<usize>,
        base: f32,
        tag: Tag,
        required: bool,
        det: &'static str,
    ) -> bool {
        let ev = self.evidence(span.start, tag);
        self.report_with(kind, span, base, ev, required, det)
    }

    pub fn report_with(
        &mut self,
        kind: Kind,
        span: std::ops::Range<usize>,
        base: f32,
        ev: Evidence,
        required: bool,
        det: &'static str,
    ) -> bool {
        match context::score(base, ev, required) {
            Some(score) => {
                self.out.push(finding(kind, span, score, det));
                true
            }
            None => false,
        }
    }

    /// Reports without context (e-mail, MRZ).
    pub fn push(
        &mut self,
        kind: Kind,
        span: std::ops::Range<usize>,
        score: f32,
        det: &'static str,
    ) {
        self.out.push(finding(kind, span, score, det));
    }
}

/// Reports every non-overlapping candidate of a run, left to right: `candidate(run, s)`
/// returns the last group of a valid value starting at group `s`.
pub(crate) fn report_groups(
    run: &Run<'_>,
    sink: &mut Sink<'_>,
    candidate: fn(&Run<'_>, usize) -> Option<usize>,
    kind: Kind,
    score: f32,
    tag: Tag,
    detector: &'static str,
) {
    let mut s = 0;
    while s < run.n {
        match candidate(run, s) {
            Some(e) => {
                let span = run.g(s).start..run.g(e).end;
                sink.report(kind, span, score, tag, false, detector);
                s = e + 1;
            }
            None => s += 1,
        }
    }
}
