//! Base64 wrapped over several lines, as MIME (76 columns) and PEM (64) write it: each
//! line alone decodes to a piece of the text (a width of 4n characters keeps the pieces
//! aligned), but a key or an address across a line break is found only in the whole.
//!
//! A *block* is two or more consecutive lines, each nothing but base64 characters
//! (after indentation or `>` quoting), all of one width but the last, which may be
//! shorter and padded. Its lines joined are decoded as one run by [`super::decode`].

use std::ops::Range;

/// A wrapped block: from its first line's first character to its last line's end
/// (padding included), and its lines joined without breaks or padding.
pub(crate) struct Block {
    pub(crate) span: Range<usize>,
    pub(crate) joined: String,
}

/// One line's base64 content: where it is, how long it is, and whether it ends in padding.
struct Line {
    span: Range<usize>,
    width: usize,
    padded: bool,
}

/// The block being gathered.
struct Open {
    span: Range<usize>,
    width: usize,
    lines: usize,
    /// The lines joined, once a second one joins (one line alone needs no copy).
    joined: String,
    /// A shorter or padded line ended it: nothing more joins.
    closed: bool,
}

/// The wrapped blocks of `text` whose lines are at least `min_width` characters wide;
/// `is_base64` tells the alphabet's bytes.
pub(crate) fn blocks(text: &str, min_width: usize, is_base64: impl Fn(u8) -> bool) -> Vec<Block> {
    // A block's first line ends in base64 at least `min_width` long: most texts have no
    // such line, and a prose line fails this at its last character.
    let bytes = text.as_bytes();
    let ends_in_base64 = |nl: usize| {
        let line = bytes.get(..nl).unwrap_or_default();
        let end = line.len()
            - line
                .iter()
                .rev()
                .take_while(|&&b| matches!(b, b' ' | b'\t' | b'\r'))
                .count();
        end >= min_width
            && line
                .get(end - min_width..end)
                .is_some_and(|r| r.iter().rev().all(|&b| is_base64(b)))
    };
    if !memchr::memchr_iter(b'\n', bytes).any(ends_in_base64) {
        return Vec::new();
    }
    let mut at = 0;
    let lines: Vec<Option<Line>> = text
        .split_inclusive('\n')
        .map(|raw| {
            let line = content(text, at..at + raw.len(), &is_base64);
            at += raw.len();
            line
        })
        .collect();
    let starts = |l: &Line| l.width >= min_width && l.width.is_multiple_of(4) && !l.padded;
    let mut out = Vec::new();
    let mut open: Option<Open> = None;
    for (k, line) in lines.iter().enumerate() {
        let joins = |o: &Open, l: &Line| {
            // A narrower line after a lone wider one that the next line matches in width
            // starts the real block (a hash or a token line right before a PEM body).
            let starts_next = o.lines == 1
                && l.width < o.width
                && starts(l)
                && lines
                    .get(k + 1)
                    .and_then(Option::as_ref)
                    .is_some_and(|n| n.width == l.width || (n.width < l.width && n.padded));
            !o.closed && l.width <= o.width && l.width > 0 && !starts_next
        };
        match (open.as_mut(), line) {
            (Some(o), Some(l)) if joins(o, l) => {
                if o.lines == 1 {
                    o.joined.push_str(text.get(o.span.clone()).unwrap_or(""));
                }
                o.joined
                    .push_str(text.get(l.span.start..l.span.start + l.width).unwrap_or(""));
                o.span.end = l.span.end;
                o.lines += 1;
                o.closed = l.width < o.width || l.padded;
            }
            (_, line) => {
                finish(open.take(), &mut out);
                open = line.as_ref().filter(|l| starts(l)).map(|l| Open {
                    joined: String::new(),
                    span: l.span.clone(),
                    width: l.width,
                    lines: 1,
                    closed: false,
                });
            }
        }
    }
    finish(open, &mut out);
    out
}

fn finish(open: Option<Open>, out: &mut Vec<Block>) {
    if let Some(o) = open.filter(|o| o.lines >= 2) {
        out.push(Block {
            span: o.span,
            joined: o.joined,
        });
    }
}

/// The base64 content of the line at `range` (its break included), when the line holds
/// nothing else: leading spaces, tabs and `>` and trailing white space aside.
fn content(text: &str, range: Range<usize>, is_base64: &impl Fn(u8) -> bool) -> Option<Line> {
    let bytes = text.as_bytes().get(range.clone())?;
    let lead = bytes
        .iter()
        .take_while(|&&b| matches!(b, b' ' | b'\t' | b'>'))
        .count();
    let trail = bytes
        .iter()
        .rev()
        .take_while(|&&b| b.is_ascii_whitespace())
        .count();
    let body = bytes.get(lead..bytes.len().saturating_sub(trail))?;
    let pad = body.iter().rev().take_while(|&&b| b == b'=').count();
    let width = body.len().checked_sub(pad)?;
    if pad > 2 || width == 0 || !body.iter().take(width).all(|&b| is_base64(b)) {
        return None;
    }
    let start = range.start + lead;
    Some(Line {
        span: start..start + body.len(),
        width,
        padded: pad > 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(b: u8) -> bool {
        b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/')
    }

    fn joined(text: &str) -> Vec<(String, &str)> {
        blocks(text, 16, b64)
            .into_iter()
            .map(|b| (b.joined, &text[b.span]))
            .collect()
    }

    #[test]
    fn lines_of_one_width_join_up_to_a_shorter_or_padded_one() {
        let text = "key:\n  QUJDREVGR0hJSktMTU5PUFFS\n  U1RVVldYWVo=\nafter\n";
        assert_eq!(
            joined(text),
            [(
                "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo".to_owned(),
                "QUJDREVGR0hJSktMTU5PUFFS\n  U1RVVldYWVo="
            )]
        );
        // Quoted in a reply, CRLF breaks, a full last line.
        let text = "> QUJDREVGR0hJSktMTU5PUFFS\r\n> QUJDREVGR0hJSktMTU5PUFFS\r\n";
        assert_eq!(joined(text).len(), 1);
    }

    #[test]
    fn a_wider_line_before_a_block_does_not_take_its_first_line() {
        let block = "QUJDREVGR0hJSktMTU5PUFFS\nQUJDREVGR0hJSktMTU5PUFFS\nU1RVVldYWVo=\n";
        let text = format!("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVpBQkNE\n{block}");
        let found = joined(&text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].1, block.trim_end());
        // Two lines, a full one and a short last one, are still one block.
        let text = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVpBQkNE\nQUJDREVGR0hJSktMTU5PUFFS\n";
        assert_eq!(joined(text).len(), 1);
    }

    #[test]
    fn prose_single_lines_and_uneven_widths_are_no_block() {
        for text in [
            "just some words\nand more words\n",
            "QUJDREVGR0hJSktMTU5PUFFS\n",
            "QUJDREVGR0hJSktMTU5PUFFS\nQUJDREVGR0hJSktMTU5PUFFSU1RV\n",
            "QUJDREVGR0hJSktMTU5PUFF=\nQUJDREVGR0hJSktMTU5PUFFS\n",
            "QUJDREVGR0hJSktMTU5PUFFSU\nQUJDREVGR0hJSktMTU5PUFFSU\n",
        ] {
            assert!(joined(text).is_empty(), "{text:?}");
        }
    }
}
