//! Offset mapping between a rewritten text and the text it was rewritten from.
//!
//! A rewrite is a list of sparse edits (replace or delete an original range); everything
//! between two edits is copied verbatim, so the map costs nothing when nothing changes and
//! one [`Edit`] per changed character or cluster otherwise. [`Builder`] produces the output
//! lazily: the output `String` is only allocated at the first edit.

use std::ops::Range;

/// One changed region: output bytes `out` came from original bytes `orig`. A deletion has
/// an empty `out`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Edit {
    out_start: usize,
    out_end: usize,
    orig_start: usize,
    orig_end: usize,
}

/// Maps byte spans of a rewritten text back to the text it was made from.
#[derive(Debug, Clone, Default)]
pub(crate) struct OffsetMap {
    /// Sorted by output (and original) position, non-overlapping.
    edits: Vec<Edit>,
}

impl OffsetMap {
    /// The smallest span of the source covering output bytes `start..end`, before
    /// snapping to char boundaries (the caller snaps against the original text).
    /// `start <= end` and both are within the output are the caller's job.
    /// An empty span maps to the end of the character before it (so it never lies
    /// beyond the mapping of a span that ends there), or, strictly inside the output of
    /// one replaced character, to that whole character: either way the map stays
    /// monotonic in both ends.
    pub(crate) fn map(&self, start: usize, end: usize) -> Range<usize> {
        if end <= start {
            let i = self.edits.partition_point(|e| e.out_end <= start);
            if let Some(e) = self.edits.get(i)
                && e.out_start < start
            {
                return e.orig_start..e.orig_end;
            }
            let p = if start == 0 {
                self.map_start(0)
            } else {
                self.map_end(start)
            };
            return p..p;
        }
        let s = self.map_start(start);
        let e = self.map_end(end);
        s..e.max(s)
    }

    /// Where output byte `pos` starts in the source (deletions just before `pos` excluded).
    fn map_start(&self, pos: usize) -> usize {
        let i = self.edits.partition_point(|e| e.out_end <= pos);
        match self.edits.get(i) {
            Some(e) if e.out_start <= pos => e.orig_start,
            _ => pos.wrapping_add(self.delta_before(i)),
        }
    }

    /// Where output byte `end - 1` ends in the source (deletions just after excluded).
    fn map_end(&self, end: usize) -> usize {
        let last = end - 1;
        let i = self.edits.partition_point(|e| e.out_end <= last);
        match self.edits.get(i) {
            Some(e) if e.out_start <= last => e.orig_end,
            _ => end.wrapping_add(self.delta_before(i)),
        }
    }

    /// Source offset minus output offset after the first `i` edits.
    fn delta_before(&self, i: usize) -> usize {
        match i.checked_sub(1).and_then(|j| self.edits.get(j)) {
            // Expansions can make the output longer than the source: a wrapping difference,
            // added back with wrapping_add, is exact either way.
            Some(e) => e.orig_end.wrapping_sub(e.out_end),
            None => 0,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.edits.is_empty()
    }
}

/// Builds a rewritten copy of `src` from edits given in increasing source order.
pub(crate) struct Builder<'a> {
    src: &'a str,
    out: Option<String>,
    /// Source bytes before this have been accounted for (copied or edited).
    copied: usize,
    edits: Vec<Edit>,
}

impl<'a> Builder<'a> {
    pub(crate) fn new(src: &'a str) -> Builder<'a> {
        Builder {
            src,
            out: None,
            copied: 0,
            edits: Vec::new(),
        }
    }

    /// Replaces source bytes `range` (char boundaries, at or after every earlier edit)
    /// with `with`. Ranges that go backwards are ignored rather than corrupting the map.
    pub(crate) fn replace(&mut self, range: Range<usize>, with: &str) {
        if range.start < self.copied || range.end < range.start || range.end > self.src.len() {
            return;
        }
        let src = self.src;
        let out = self
            .out
            .get_or_insert_with(|| String::with_capacity(src.len() + 16));
        out.push_str(src.get(self.copied..range.start).unwrap_or(""));
        let out_start = out.len();
        out.push_str(with);
        let out_end = out.len();
        self.copied = range.end;
        if let Some(last) = self.edits.last_mut()
            && out_start == out_end
            && last.out_end == out_start
            && last.out_start == last.out_end
            && last.orig_end == range.start
        {
            // Consecutive deletions become one.
            last.orig_end = range.end;
            return;
        }
        self.edits.push(Edit {
            out_start,
            out_end,
            orig_start: range.start,
            orig_end: range.end,
        });
    }

    pub(crate) fn delete(&mut self, range: Range<usize>) {
        self.replace(range, "");
    }

    /// The rewritten text (`None` when nothing changed) and its map.
    pub(crate) fn finish(mut self) -> Option<(String, OffsetMap)> {
        let mut out = self.out.take()?;
        out.push_str(self.src.get(self.copied..).unwrap_or(""));
        Some((out, OffsetMap { edits: self.edits }))
    }
}

/// Largest char boundary of `s` at or before `i`.
pub(crate) fn floor_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Smallest char boundary of `s` at or after `i`.
pub(crate) fn ceil_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(src: &str, edits: &[(Range<usize>, &str)]) -> (String, OffsetMap) {
        let mut b = Builder::new(src);
        for (r, w) in edits {
            b.replace(r.clone(), w);
        }
        b.finish()
            .unwrap_or_else(|| (src.to_string(), OffsetMap::default()))
    }

    #[test]
    fn identity_when_no_edit() {
        assert!(Builder::new("abc").finish().is_none());
    }

    #[test]
    fn deletion_excluded_at_edges_included_inside() {
        // "a<ZW>b<ZW>" with ZW = 3 bytes
        let src = "a\u{200B}b\u{200B}";
        let (out, map) = build(src, &[(1..4, ""), (5..8, "")]);
        assert_eq!(out, "ab");
        assert_eq!(map.map(0, 2), 0..5);
        assert_eq!(map.map(1, 2), 4..5);
        assert_eq!(map.map(0, 1), 0..1);
        assert_eq!(map.map(2, 2), 5..5);
        assert_eq!(map.map(0, 0), 0..0);
    }

    #[test]
    fn expansion_maps_to_whole_source_char() {
        let src = "x\u{FB01}y"; // "xﬁy", ﬁ is 3 bytes
        let (out, map) = build(src, &[(1..4, "fi")]);
        assert_eq!(out, "xfiy");
        assert_eq!(map.map(1, 2), 1..4);
        assert_eq!(map.map(2, 3), 1..4);
        assert_eq!(map.map(3, 4), 4..5);
        assert_eq!(map.map(0, 4), 0..5);
        assert_eq!(map.map(2, 2), 1..4);
        assert_eq!(map.map(1, 1), 1..1);
        assert_eq!(map.map(3, 3), 4..4);
    }

    #[test]
    fn consecutive_deletions_merge() {
        let src = "a\u{200B}\u{200C}b";
        let mut b = Builder::new(src);
        b.delete(1..4);
        b.delete(4..7);
        let (out, map) = b.finish().unwrap_or_default();
        assert_eq!(out, "ab");
        assert_eq!(map.edits.len(), 1);
        assert_eq!(map.map(1, 2), 7..8);
    }

    #[test]
    fn backwards_edit_ignored() {
        let mut b = Builder::new("abcdef");
        b.replace(3..4, "X");
        b.replace(1..2, "Y");
        let (out, _) = b.finish().unwrap_or_default();
        assert_eq!(out, "abcXef");
    }
}
