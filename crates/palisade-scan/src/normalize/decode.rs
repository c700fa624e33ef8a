//! Finds encoded runs — base64 (standard and URL-safe, padded or not), hex (plain,
//! `0x`-prefixed, `\x41` escapes) and URL percent-encoding — and decodes those that turn
//! out to be mostly printable UTF-8 text, base64 wrapped over lines included
//! ([`super::wrapped`]). One byte-class pass plus `memchr` for `%`, `\` and line
//! breaks; decoding is attempted only on runs past a length floor, and bounded by a
//! [`Budget`] of items and bytes. No recursion: the engine decides about depth.

use std::ops::Range;

/// The `\x` of a hex escape, searched for in every text: built once (a `memmem::find`
/// builds its searcher on every call).
static HEX_ESCAPE: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\\x"));

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};

use super::map::floor_boundary;
use super::wrapped;
use super::{Decoded, NormalizeOptions};

/// How much decoding one normalisation may still do.
pub(crate) struct Budget {
    pub(crate) enabled: bool,
    pub(crate) min_printable_ratio: f32,
    min_len: usize,
    items_left: usize,
    bytes_left: usize,
    /// Where [`scan`] met an encoded run it could no longer decode whole (the budget ran
    /// out): from there on, encoded text went unchecked. Reported as a finding.
    pub(crate) cut_at: Option<usize>,
}

impl Budget {
    pub(crate) fn new(opts: &NormalizeOptions) -> Budget {
        Budget {
            enabled: opts.decode,
            min_printable_ratio: opts.min_printable_ratio,
            min_len: opts.min_encoded_len.max(4),
            items_left: opts.max_decoded_items,
            bytes_left: opts.max_decoded,
            cut_at: None,
        }
    }

    /// Records that encoded text at `at` went undecoded; the earliest such place counts.
    pub(crate) fn cut(&mut self, at: usize) {
        self.cut_at = Some(self.cut_at.map_or(at, |c| c.min(at)));
    }

    fn exhausted(&self) -> bool {
        !self.enabled || self.items_left == 0 || self.bytes_left == 0
    }

    /// Records a decoded run, truncated to the byte budget left.
    pub(crate) fn push(
        &mut self,
        out: &mut Vec<Decoded>,
        mut text: String,
        span: Range<usize>,
        encoding: &'static str,
    ) {
        if text.is_empty() {
            return;
        }
        if self.exhausted() {
            // Decoded text the budget cannot take goes unscanned: say so.
            self.cut(span.start);
            return;
        }
        if text.len() > self.bytes_left {
            let cut = floor_boundary(&text, self.bytes_left);
            text.truncate(cut);
            self.cut(span.start);
        }
        self.items_left -= 1;
        self.bytes_left -= text.len();
        out.push(Decoded {
            text,
            span,
            encoding,
        });
    }
}

/// `bytes` as text when it is valid-enough UTF-8 and at least `ratio` of its characters
/// are printable (controls other than tab/newline and replacement characters are not).
pub(crate) fn printable_text(bytes: &[u8], ratio: f32) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let (mut total, mut good) = (0usize, 0usize);
    for c in text.chars() {
        total += 1;
        if c != '\u{FFFD}' && (!c.is_control() || matches!(c, '\n' | '\r' | '\t')) {
            good += 1;
        }
    }
    let enough = total > 0 && good as f32 >= ratio * total as f32;
    (enough && !text.trim().is_empty()).then(|| text.into_owned())
}

const ALNUM: u8 = 1;
const PLUS_SLASH: u8 = 2;
const URL_SAFE: u8 = 4;
const HEX: u8 = 8;
const UPPER: u8 = 16;
const LOWER: u8 = 32;
const B64: u8 = ALNUM | PLUS_SLASH | URL_SAFE;

const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = match b {
            b'0'..=b'9' => ALNUM | HEX,
            b'a'..=b'f' => ALNUM | HEX | LOWER,
            b'A'..=b'F' => ALNUM | HEX | UPPER,
            b'g'..=b'z' => ALNUM | LOWER,
            b'G'..=b'Z' => ALNUM | UPPER,
            b'+' | b'/' => PLUS_SLASH,
            b'-' | b'_' => URL_SAFE,
            _ => 0,
        };
        i += 1;
    }
    t
};

fn class(b: u8) -> u8 {
    CLASS[usize::from(b)]
}

/// The byte classes of `s` together.
fn classes(s: &[u8]) -> u8 {
    s.iter().fold(0u8, |a, &b| a | class(b))
}

fn is_base64_byte(b: u8) -> bool {
    class(b) & B64 != 0
}

/// The `=` padding (at most two) at `at` of `bytes`.
fn padding_at(bytes: &[u8], at: usize) -> usize {
    bytes
        .get(at..)
        .map_or(0, |r| r.iter().take(2).take_while(|&&b| b == b'=').count())
}

/// Every encoded run of `text` that decodes to text; spans are byte ranges of `text`.
pub(crate) fn scan(text: &str, budget: &mut Budget) -> Vec<Decoded> {
    let mut out = Vec::new();
    if !budget.enabled {
        return out;
    }
    let bytes = text.as_bytes();
    let is_b64 = |at: usize| bytes.get(at).copied().is_some_and(is_base64_byte);
    // Maximal base64-alphabet runs of at least `len` bytes with their `=` padding, in
    // order. A run that long starting at or after `i` covers byte `i + len - 1` (or its
    // padding does), so when that byte is neither the search skips `len` bytes at once;
    // prose words are short, so most of the text is never looked at. Invariant: `i` is
    // 0 or follows a non-run byte.
    let len = budget.min_len.max(1);
    // Base64 wrapped over lines is decoded whole; its lines, once it decodes, not again.
    let wrapped_spans = wrapped_runs(text, len, budget, &mut out);
    let mut next_wrapped = 0;
    let mut i = 0usize;
    while let Some(probe) = i.checked_add(len - 1).filter(|&p| p < bytes.len()) {
        let at_padding = bytes.get(probe) == Some(&b'=');
        if !is_b64(probe) && !at_padding {
            i = probe + 1;
            continue;
        }
        let (mut start, mut end) = if at_padding {
            // The run ends before its padding (`==`: the probe may be the second `=`).
            let pad = if probe > i && bytes.get(probe - 1) == Some(&b'=') {
                probe - 1
            } else {
                probe
            };
            (pad, pad)
        } else {
            (probe, probe + 1)
        };
        while start > i && is_b64(start - 1) {
            start -= 1;
        }
        while is_b64(end) {
            end += 1;
        }
        // Blocks and runs both come in text order: one cursor walks the blocks.
        while wrapped_spans
            .get(next_wrapped)
            .is_some_and(|w| w.end <= start)
        {
            next_wrapped += 1;
        }
        let in_wrapped = wrapped_spans
            .get(next_wrapped)
            .is_some_and(|w| w.start <= start && end <= w.end);
        // `MjE5LTA5LTk5OTk=` (an SSN) is 15 characters and its padding.
        if end > start && end - start + padding_at(bytes, end) >= len && !in_wrapped {
            if budget.exhausted() {
                budget.cut(start);
                return out;
            }
            // Runs this long are rare in prose: classify them only now.
            let run = bytes.get(start..end).unwrap_or_default();
            let any = classes(run);
            let all = run.iter().fold(0xFFu8, |a, &b| a & class(b));
            try_run(text, start..end, any, all, budget, &mut out);
        }
        i = end + 1;
    }
    if memchr::memchr(b'%', bytes).is_some() {
        percent_runs(text, budget, &mut out);
    }
    if HEX_ESCAPE.find(bytes).is_some() {
        hex_escapes(text, budget, &mut out);
    }
    out
}

/// Decodes the wrapped base64 blocks of `text` ([`wrapped::blocks`]) into `out`; the
/// spans of those that decoded, in text order.
fn wrapped_runs(
    text: &str,
    len: usize,
    budget: &mut Budget,
    out: &mut Vec<Decoded>,
) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    for block in wrapped::blocks(text, len, is_base64_byte) {
        if budget.exhausted() {
            budget.cut(block.span.start);
            break;
        }
        let any = classes(block.joined.as_bytes());
        if let Some(t) = base64_text(&block.joined, any, budget.min_printable_ratio) {
            budget.push(out, t, block.span.clone(), "base64");
            spans.push(block.span);
        }
    }
    spans
}

fn try_run(
    text: &str,
    run: Range<usize>,
    any: u8,
    all: u8,
    budget: &mut Budget,
    out: &mut Vec<Decoded>,
) {
    let Some(s) = text.get(run.clone()) else {
        return;
    };
    let ratio = budget.min_printable_ratio;
    if all & HEX != 0 || (s.len() > 2 && (s.starts_with("0x") || s.starts_with("0X"))) {
        let digits = if all & HEX != 0 { s } else { &s[2..] };
        if digits.len() % 2 == 0
            && let Some(bytes) = hex_bytes(digits)
            && let Some(t) = printable_text(&bytes, ratio)
        {
            budget.push(out, t, run, "hex");
        }
        // An all-hex run (hash, UUID part) that is not hex text is not base64 text either.
        return;
    }
    // Padding after the run belongs to it.
    let pad = padding_at(text.as_bytes(), run.end);
    if let Some(t) = base64_text(s, any, ratio) {
        budget.push(out, t, run.start..run.end + pad, "base64");
        return;
    }
    // `/`, `-` and `_` are base64 too: a payload glued to a path (`https://x.io/c/YXdz…`,
    // a Markdown image's URL, the classic exfiltration channel) or to a dash is read from
    // the wrong place as part of one run. Read it from after each of them as well.
    if any & (PLUS_SLASH | URL_SAFE) == 0 {
        return;
    }
    let glue = s
        .bytes()
        .enumerate()
        .filter(|&(_, b)| matches!(b, b'/' | b'-' | b'_'))
        .map(|(k, _)| k + 1)
        .take(MAX_GLUE_TRIES);
    for from in glue {
        let Some(tail) = s.get(from..).filter(|t| t.len() >= budget.min_len) else {
            break;
        };
        let any = classes(tail.as_bytes());
        if let Some(t) = base64_text(tail, any, ratio) {
            budget.push(out, t, run.start + from..run.end + pad, "base64");
            return;
        }
    }
}

/// How many places after a `/`, `-` or `_` a base64 run is also read from.
const MAX_GLUE_TRIES: usize = 8;

/// The text `s` (a run of the base64 alphabet whose byte classes together are `any`)
/// encodes, when it is base64 of printable text.
fn base64_text(s: &str, any: u8, ratio: f32) -> Option<String> {
    // Base64 of text has upper and lower case; one alphabet only; never length 4n+1.
    let mixed_case = any & UPPER != 0 && any & LOWER != 0;
    let both_alphabets = any & PLUS_SLASH != 0 && any & URL_SAFE != 0;
    if !mixed_case || both_alphabets || s.len() % 4 == 1 {
        return None;
    }
    let engine = if any & URL_SAFE != 0 {
        &URL_SAFE_NO_PAD
    } else {
        &STANDARD_NO_PAD
    };
    // Reject big binary blobs (images, keys) from a prefix before decoding them whole.
    if s.len() > 256 {
        let head = s.get(..128).unwrap_or(s);
        printable_text(&engine.decode(head).ok()?, ratio)?;
    }
    printable_text(&engine.decode(s).ok()?, ratio)
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    s.as_bytes()
        .chunks(2)
        .map(|p| match p {
            [h, l] => Some(hex_val(*h)? << 4 | hex_val(*l)?),
            _ => None,
        })
        .collect()
}

/// Bytes that can be part of a URL-ish token around a `%XX`.
fn urlish(b: u8) -> bool {
    b.is_ascii_graphic() && !matches!(b, b'"' | b'\'' | b'<' | b'>' | b'`' | b'(' | b')')
}

/// Tokens with at least three `%XX` escapes, or an escaped `@`, decoded whole.
fn percent_runs(text: &str, budget: &mut Budget, out: &mut Vec<Decoded>) {
    let bytes = text.as_bytes();
    let mut done = 0;
    for p in memchr::memchr_iter(b'%', bytes) {
        if p < done {
            continue;
        }
        if budget.exhausted() {
            // Only an actual escape (`%4A`) is encoded text left unchecked; `50%` is not.
            let hex = |k: usize| bytes.get(k).is_some_and(u8::is_ascii_hexdigit);
            if hex(p + 1) && hex(p + 2) {
                budget.cut(p);
                break;
            }
            continue;
        }
        let start = bytes[..p]
            .iter()
            .rposition(|&b| !urlish(b))
            .map_or(0, |k| k + 1)
            .max(done);
        let end = bytes[p..]
            .iter()
            .position(|&b| !urlish(b))
            .map_or(bytes.len(), |k| p + k);
        done = end;
        let token = &bytes[start..end];
        let mut decoded = Vec::with_capacity(token.len());
        let (mut escapes, mut at_sign, mut k) = (0, false, 0);
        while k < token.len() {
            let esc = match token.get(k..k + 3) {
                Some([b'%', h, l]) => hex_val(*h).zip(hex_val(*l)),
                _ => None,
            };
            if let Some((h, l)) = esc {
                decoded.push(h << 4 | l);
                escapes += 1;
                at_sign |= h << 4 | l == b'@';
                k += 3;
            } else {
                decoded.push(token[k]);
                k += 1;
            }
        }
        // One escaped `@` is enough: `?email=ada%40example.org` in a link is an address.
        if (escapes >= 3 || at_sign)
            && let Some(t) = printable_text(&decoded, budget.min_printable_ratio)
        {
            budget.push(out, t, start..end, "url");
        }
    }
}

/// Runs of at least four `\xHH` escapes.
fn hex_escapes(text: &str, budget: &mut Budget, out: &mut Vec<Decoded>) {
    let bytes = text.as_bytes();
    let mut done = 0;
    for p in memchr::memchr_iter(b'\\', bytes) {
        if p < done {
            continue;
        }
        if budget.exhausted() {
            let hex = |k: usize| bytes.get(k).is_some_and(u8::is_ascii_hexdigit);
            if bytes.get(p + 1) == Some(&b'x') && hex(p + 2) && hex(p + 3) {
                budget.cut(p);
                break;
            }
            continue;
        }
        let mut k = p;
        let mut decoded = Vec::new();
        while let Some([b'\\', b'x', h, l]) = bytes.get(k..k + 4) {
            let (Some(h), Some(l)) = (hex_val(*h), hex_val(*l)) else {
                break;
            };
            decoded.push(h << 4 | l);
            k += 4;
        }
        done = k;
        if decoded.len() >= 4
            && let Some(t) = printable_text(&decoded, budget.min_printable_ratio)
        {
            budget.push(out, t, p..k, "hex_escape");
        }
    }
}
