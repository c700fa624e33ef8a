//! Output scanning for streams. Text arrives in small deltas; [`StreamGuard`] releases a
//! prefix to the client only when no match still in progress could include it:
//!
//! - the last `holdback` bytes are always held (a phone number or card split over chunks);
//! - the cut never falls inside a run of non-space characters (tokens, keys, URLs,
//!   JWTs), nor after an unterminated `-----BEGIN` block (closed by its `-----END …-----`
//!   line), nor inside a finding, nor after the start of a banned term or a word
//!   spelled out letter by letter (`s-e-c-r-e-t`) still being written, nor inside a placeholder such as `[EMAIL_1]` still being written — each bounded by
//!   `max_hold`, after which the text is released as scanned (a longer run still keeps
//!   its last 4 KiB, where a key could be forming);
//! - released text is rewritten by the profile's actions and pseudonyms are restored;
//! - a `block` finding anywhere in the unreleased text ends the stream before any of it
//!   is released.
//!
//! Every step scans the held text plus a little already-released context, so context
//! words and word boundaries work across chunks.

use std::sync::Arc;

use crate::finding::Finding;
use crate::leak::PromptLeak;
use crate::profile::{Action, Direction, Profile};
use crate::transform::{Applied, blocking_kinds, decide, rewrite};
use crate::vault::{Vault, open_placeholder};

/// The detectors a stream runs: the gateway passes its scanner, bound to a profile.
pub type ScanFn = Arc<dyn Fn(&str) -> Vec<Finding> + Send + Sync>;

/// Bytes held at the end of a run of non-space characters longer than
/// [`HoldBack::max`]: longer than the secrets the rules know (keys and tokens run to a
/// few hundred bytes, JWTs with many claims to a few KiB; private keys have their own
/// `-----BEGIN` hold), so a secret at the end of a long run is complete before any of it
/// is released.
const LONG_RUN_TAIL: usize = 4096;

/// How much a stream may hold back.
#[derive(Debug, Clone, Copy)]
pub struct HoldBack {
    /// Bytes always held at the end of the unreleased text.
    pub tail: usize,
    /// Most bytes held for one unfinished token, key block or finding.
    pub max: usize,
    /// Bytes of released text kept as context for the next scan.
    pub context: usize,
}

/// The smallest `HoldBack::tail` that keeps every spaced value the detectors know whole
/// until it can be recognised: the longest is an IBAN of 34 characters written in groups
/// of four (42 bytes), which is no finding while partial (its checksum fails), so a
/// shorter hold-back would release its start before the end arrives.
pub const MIN_HOLDBACK: usize = 48;

impl Default for HoldBack {
    fn default() -> HoldBack {
        HoldBack {
            tail: MIN_HOLDBACK,
            max: 16 * 1024,
            context: 64,
        }
    }
}

/// The result of one delta.
#[derive(Debug, PartialEq)]
pub enum Step {
    /// Text to send now (may be empty: everything is still held).
    Emit(String),
    /// A blocking finding: end the stream with `content_filter`; these kinds caused it.
    Blocked(Vec<String>),
}

pub struct StreamGuard {
    scan: ScanFn,
    profile: Arc<Profile>,
    hold: HoldBack,
    pending: String,
    context: String,
    released: usize,
    findings: Vec<Applied>,
    blocked: bool,
    /// The request's prompt, to catch it repeated ([`crate::leak`]), and the last words
    /// of the released text it is read after ([`PromptLeak::released_words`]).
    leak: Option<Arc<PromptLeak>>,
    leak_words: String,
}

impl std::fmt::Debug for StreamGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamGuard")
            .field("profile", &self.profile.name)
            .field("held", &self.pending.len())
            .field("released", &self.released)
            .finish_non_exhaustive()
    }
}

impl StreamGuard {
    /// A guard for one streamed text. Each step takes the request's [`Vault`]: pseudonyms
    /// issued on input are restored in the output, and one vault serves every text of a
    /// response (its choices, tool calls and fields), so none needs a copy of its own.
    pub fn new(scan: ScanFn, profile: Arc<Profile>, hold: HoldBack) -> StreamGuard {
        StreamGuard {
            scan,
            profile,
            hold,
            pending: String::new(),
            context: String::new(),
            released: 0,
            findings: Vec::new(),
            blocked: false,
            leak: None,
            leak_words: String::new(),
        }
    }

    /// Also catches the request's prompt repeated in the text (the scan function then
    /// leaves it out): held from where a repetition starts forming, and counted in words
    /// across what was released, so padding between the words does not hide it.
    pub fn with_leak(mut self, leak: Arc<PromptLeak>) -> StreamGuard {
        self.leak = Some(leak);
        self
    }

    /// Takes the next delta of model text.
    pub fn push(&mut self, delta: &str, vault: &mut Vault) -> Step {
        if self.blocked {
            return Step::Blocked(Vec::new());
        }
        self.pending.push_str(delta);
        if self.pending.len() <= self.hold.tail {
            return Step::Emit(String::new());
        }
        self.step(false, vault)
    }

    /// The stream ended: scans and releases whatever is held.
    pub fn finish(&mut self, vault: &mut Vault) -> Step {
        if self.blocked {
            return Step::Blocked(Vec::new());
        }
        if self.pending.is_empty() {
            return Step::Emit(String::new());
        }
        self.step(true, vault)
    }

    /// Bytes currently held back.
    pub fn held(&self) -> usize {
        self.pending.len()
    }

    /// The findings acted on so far, spans in the model's whole output.
    pub fn findings(&self) -> &[Applied] {
        &self.findings
    }

    pub fn into_findings(self) -> Vec<Applied> {
        self.findings
    }

    fn step(&mut self, last: bool, vault: &mut Vault) -> Step {
        // Every later rule only moves the cut back: when the run being written cannot be
        // cut yet, nothing is released and nothing needs scanning now (a model writing a
        // long run of encoded data token by token would otherwise have the whole run
        // rescanned for every token). A blocking finding is caught when the run can be
        // cut, or at the end, before any of it goes out.
        let run_cut = if last {
            self.pending.len()
        } else {
            self.run_cut()
        };
        if run_cut == 0 {
            return Step::Emit(String::new());
        }
        let ctx = self.context.len();
        let window = format!("{}{}", self.context, self.pending);
        let mut found = (self.scan)(&window);
        let growing = self.leak_in(&mut found, ctx, !last);
        // Findings that reach into the held text. One that began in the released context
        // (a hold-back too short for it, a multi-word banned term, a repeated prompt whose
        // start went out before it was long enough to count) still blocks the rest; a
        // rewriting action withholds what is still held of it (redacted: a part of a
        // value cannot be masked or given a pseudonym), so at most the part already out
        // was seen; a flag has nothing left to do.
        let applied: Vec<Applied> = decide(found, &self.profile)
            .into_iter()
            .filter(|a| a.finding.end > ctx && (a.finding.start >= ctx || a.action != Action::Flag))
            .map(|mut a| {
                if a.finding.start < ctx && a.action != Action::Block {
                    a.action = Action::Redact;
                }
                a.finding.start = a.finding.start.saturating_sub(ctx);
                a.finding.end -= ctx;
                a
            })
            .collect();
        let blocking = blocking_kinds(&applied);
        if !blocking.is_empty() {
            self.blocked = true;
            self.findings.extend(
                applied
                    .into_iter()
                    .filter(|a| a.action == Action::Block)
                    .map(|mut a| {
                        a.finding.start += self.released;
                        a.finding.end += self.released;
                        a
                    }),
            );
            return Step::Blocked(blocking);
        }
        let cut = if last {
            self.pending.len()
        } else {
            self.safe_cut(&applied, run_cut, growing)
        };
        let released: Vec<Applied> = applied
            .into_iter()
            .filter(|a| a.finding.end <= cut)
            .collect();
        let raw = &self.pending[..cut];
        let rewritten = rewrite(raw, &released, vault, Direction::Output);
        let text = rewritten.as_deref().unwrap_or(raw);
        let text = vault.restore(text).unwrap_or_else(|| text.to_owned());
        self.keep_context(cut);
        self.findings.extend(released.into_iter().map(|mut a| {
            a.finding.start += self.released;
            a.finding.end += self.released;
            a
        }));
        self.released += cut;
        self.pending.drain(..cut);
        Step::Emit(text)
    }

    /// The cut the hold-back and the run of non-space characters being written allow,
    /// before the rules that depend on what is written.
    fn run_cut(&self) -> usize {
        let p = &self.pending;
        let budget_start = p.len().saturating_sub(self.hold.max);
        let mut cut = floor_boundary(p, p.len().saturating_sub(self.hold.tail));
        // Not inside a run of non-space characters.
        if cut > 0 && cut < p.len() && !is_space_at(p, cut) && !is_space_before(p, cut) {
            let run = p[..cut]
                .rfind(char::is_whitespace)
                .map(|i| i + p[i..].chars().next().map_or(1, char::len_utf8))
                .unwrap_or(0);
            if run >= budget_start {
                cut = run;
            } else {
                // A run longer than the budget (encoded data, padding): keep enough of its
                // end for a whole key or token to form before any of it goes out.
                let tail = LONG_RUN_TAIL.min(self.hold.max);
                cut = cut.min(floor_boundary(p, p.len().saturating_sub(tail)));
            }
        }
        cut
    }

    /// Adds the prompt repeated in the held text (read after the released words) to
    /// `found`, in the coordinates of the scanned window (`ctx`: where the held text starts
    /// in it; a repetition that began among the released words starts before it). Returns
    /// where in the held text a repetition may still be forming (when asked: `growing`).
    /// (`found` need not stay sorted: [`decide`] sorts.)
    fn leak_in(&self, found: &mut Vec<Finding>, ctx: usize, growing: bool) -> Option<usize> {
        let leak = self.leak.as_ref()?;
        let before = self.leak_words.len();
        let words = format!("{}{}", self.leak_words, self.pending);
        let (leaks, growing) = leak.find_growing(&words, growing);
        for mut f in leaks {
            if f.end <= before {
                continue;
            }
            f.start = if f.start < before {
                0
            } else {
                f.start - before + ctx
            };
            f.end = f.end - before + ctx;
            found.push(f);
        }
        growing.map(|start| start.saturating_sub(before))
    }

    /// How much of `pending` can be released now, from the cut [`Self::run_cut`] allows
    /// and where a repeated prompt may be forming (`growing`).
    fn safe_cut(&self, applied: &[Applied], run_cut: usize, growing: Option<usize>) -> usize {
        let p = &self.pending;
        let budget_start = p.len().saturating_sub(self.hold.max);
        let mut cut = run_cut;
        // Not after an unterminated key block: one ends at the `-----` that closes its
        // `-----END … KEY-----` line, where the private-key rules can first match.
        if let Some(begin) = p[..cut].rfind("-----BEGIN")
            && !key_block_closed(&p[begin..])
            && begin >= budget_start
        {
            cut = begin;
        }
        // Not after the start of a banned term still being written (a multi-word term,
        // one longer than the hold-back, words padded with white space).
        if let Some(start) = self.profile.banned.as_ref().and_then(|b| b.forming(p))
            && start >= budget_start
            && start < cut
        {
            cut = floor_boundary(p, start);
        }
        // Not after the start of a word spelled out letter by letter still being written
        // (normalisation reads `s-e-c-r-e-t` as `secret` once it ends).
        if let Some(start) = crate::normalize::spaced_letters_forming(p)
            && start >= budget_start
            && start < cut
        {
            cut = start;
        }
        // Not after the start of a match that is still forming.
        if let Some(start) = growing
            && start >= budget_start
            && start < cut
        {
            cut = floor_boundary(p, start);
        }
        // Not inside a finding (repeat: moving the cut can make another one straddle it).
        loop {
            let straddling = applied
                .iter()
                .filter(|a| a.finding.start < cut && a.finding.end > cut)
                .map(|a| a.finding.start)
                .min();
            match straddling {
                Some(start) if start >= budget_start => cut = start,
                _ => break,
            }
        }
        // Not inside a placeholder still being written.
        if let Some(open) = open_placeholder(&p[..cut]) {
            cut = open;
        }
        cut
    }

    fn keep_context(&mut self, cut: usize) {
        if self.leak.is_some() {
            PromptLeak::released_words(&mut self.leak_words, &self.pending[..cut]);
        }
        self.context.push_str(&self.pending[..cut]);
        if self.context.len() > self.hold.context {
            let from = ceil_boundary(&self.context, self.context.len() - self.hold.context);
            self.context.drain(..from);
        }
    }
}

/// Whether a block that begins `-----BEGIN` has its closing line: `-----END`, a label,
/// and the `-----` after it.
fn key_block_closed(block: &str) -> bool {
    block
        .find("-----END")
        .is_some_and(|end| block[end + "-----END".len()..].contains("-----"))
}

fn is_space_at(s: &str, i: usize) -> bool {
    s[i..].chars().next().is_some_and(char::is_whitespace)
}

fn is_space_before(s: &str, i: usize) -> bool {
    s[..i].chars().next_back().is_some_and(char::is_whitespace)
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(s: &str, mut i: usize) -> usize {
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
