//! Every occurrence of a set of literals, overlapping ones included, in one pass: the
//! secret keyword prefilter and the injection rule anchors both need that, on every text.
//!
//! The text is read once through a filter of 4 KB: a bitmap of the hashed first three
//! bytes of every pattern of two bytes or more (a two-byte pattern sets the bits of all
//! its three-byte continuations; one-byte patterns have a 256-bit map). Only at the
//! positions it passes (about 8 % for the secret keywords on the scan benchmark's
//! corpus, mostly real three-byte prefixes) are the patterns looked up: those of three
//! bytes or more in a table keyed by the same bytes, shorter ones in small tables.
//!
//! An Aho-Corasick DFA finds the same occurrences with one table read per byte, but each
//! read depends on the one before and the table is large (337 KB for the secret
//! keywords). In a gateway the scanner's tables are out of the cache by the next
//! request, and that chain of misses made the DFA walks about a third of a cold scan.
//! The filter's reads do not depend on each other and its lines are few.
//!
//! With `ascii_fold`, ASCII letters match in either case: the patterns are stored in
//! lower case and the text is folded where it is compared. With `any_space`, a space in
//! a pattern (after its first three bytes) matches any run of whitespace characters
//! (Unicode `White_Space`, as a regex's `\s`): the injection anchor `you are` occurs in
//! `you\n are`, as the rule's `you\s+are` matches there.

/// Bits of the hash of three bytes in the filter: 32768 bits, 4 KB.
const FILTER_BITS: u32 = 15;
/// Positions filtered before their candidates are checked (at most 256: a candidate is
/// kept as its one-byte offset in the chunk).
const CHUNK: usize = 256;
const _: () = assert!(CHUNK <= 256);

/// A compiled literal set.
#[derive(Debug, Clone)]
pub(crate) struct Literals {
    /// Fold ASCII upper-case letters of the text to lower case before matching.
    ascii_fold: bool,
    /// Every pattern's bytes, back to back (lower case with `ascii_fold`), and each
    /// pattern's (offset, length) there, by id.
    bytes: Vec<u8>,
    spans: Vec<(u32, u32)>,
    /// Ids of the empty patterns (they match once, at the start of the text).
    empty: Vec<u32>,
    /// One-byte patterns: which bytes, and (byte, id) sorted.
    one_bits: [u64; 4],
    one: Vec<(u8, u32)>,
    /// Two-byte patterns: (pattern as a little-endian `u16`, id) sorted, and a one-word
    /// filter of them ([`two_bit`]): most candidate positions start none, and the filter
    /// says so without a search.
    two: Vec<(u16, u32)>,
    two_bits: u64,
    /// Where a pattern of two bytes or more may start: bits set at the hashes of their
    /// first three bytes' rough folds ([`rough_fold`]).
    filter: Box<[u64; 1 << (FILTER_BITS - 6)]>,
    /// The patterns of three bytes or more: an open-addressed table (linear probing, at
    /// most a quarter full, a power of two long) keyed by their first three bytes.
    table: Vec<Slot>,
    /// For [`Literals::spaced`]: where each pattern's first space after its third byte
    /// is (0: none); the bytes before it are compared as they are.
    space_at: Vec<u32>,
}

/// A pattern of three bytes or more in the table: its first eight bytes are compared in
/// the slot itself, so a candidate position usually costs one cache line.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    /// The pattern's first `min(len, 8)` bytes, little-endian, zero above.
    prefix: u64,
    /// Pattern length; 0 for an empty slot. [`SPACED`] set: the pattern has a space
    /// that matches any run of whitespace ([`Literals::spaced_len`]).
    len: u32,
    id: u32,
}

/// The flag in [`Slot::len`] of a pattern matched by [`Literals::spaced_len`].
const SPACED: u32 = 1 << 31;

impl Literals {
    /// With `ascii_fold`, matching ignores ASCII case (other bytes match as they are).
    pub(crate) fn new<P: AsRef<[u8]>>(patterns: &[P], ascii_fold: bool) -> Literals {
        Literals::build(patterns, ascii_fold, false)
    }

    /// Patterns whose spaces match any run of whitespace (case as it is). A space in a
    /// pattern's first three bytes matches only a space.
    pub(crate) fn spaced<P: AsRef<[u8]>>(patterns: &[P]) -> Literals {
        Literals::build(patterns, false, true)
    }

    fn build<P: AsRef<[u8]>>(patterns: &[P], ascii_fold: bool, any_space: bool) -> Literals {
        let mut lits = Literals {
            ascii_fold,
            bytes: Vec::new(),
            spans: Vec::new(),
            empty: Vec::new(),
            one_bits: [0; 4],
            one: Vec::new(),
            two: Vec::new(),
            two_bits: 0,
            filter: Box::new([0; 1 << (FILTER_BITS - 6)]),
            table: Vec::new(),
            space_at: Vec::new(),
        };
        let rough = |x: u32| if ascii_fold { rough_fold::<true>(x) } else { x };
        let mut longer = Vec::new();
        for (id, p) in (0u32..).zip(patterns) {
            let p = p.as_ref();
            let from = lits.bytes.len();
            if ascii_fold {
                lits.bytes.extend(p.iter().map(u8::to_ascii_lowercase));
            } else {
                lits.bytes.extend_from_slice(p);
            }
            lits.spans.push((from as u32, p.len() as u32));
            let pattern = lits.bytes.get(from..).unwrap_or_default();
            match *pattern {
                [] => lits.empty.push(id),
                [a] => {
                    set_bit(&mut lits.one_bits[..], usize::from(a));
                    lits.one.push((a, id));
                }
                [a, b] => {
                    for c in 0..=255 {
                        let key = rough(u32::from_le_bytes([a, b, c, 0])) & 0x00ff_ffff;
                        set_bit(&mut lits.filter[..], hash(key));
                    }
                    lits.two.push((u16::from_le_bytes([a, b]), id));
                    lits.two_bits |= two_bit(u16::from_le_bytes([a, b]));
                }
                [a, b, c, ..] => {
                    let key = rough(u32::from_le_bytes([a, b, c, 0])) & 0x00ff_ffff;
                    set_bit(&mut lits.filter[..], hash(key));
                    longer.push(id);
                }
            }
        }
        lits.one.sort_unstable();
        lits.two.sort_unstable();
        lits.table = vec![Slot::default(); (4 * longer.len()).next_power_of_two()];
        let mask = lits.table.len() - 1;
        for id in longer {
            let Some(p) = lits.pattern(id) else {
                continue;
            };
            let (prefix, mut len) = (prefix_of(p), p.len() as u32);
            if any_space && let Some(i) = p.iter().skip(3).position(|&b| b == b' ') {
                lits.space_at.resize(lits.spans.len(), 0);
                if let Some(at) = lits.space_at.get_mut(id as usize) {
                    *at = i as u32 + 3;
                }
                len |= SPACED;
            }
            let mut slot = slot_of(prefix as u32 & 0x00ff_ffff, mask);
            while lits.table.get(slot).is_some_and(|s| s.len != 0) {
                slot = (slot + 1) & mask;
            }
            if let Some(s) = lits.table.get_mut(slot) {
                *s = Slot { prefix, len, id };
            }
        }
        lits
    }

    fn pattern(&self, id: u32) -> Option<&[u8]> {
        let &(offset, len) = self.spans.get(id as usize)?;
        self.bytes.get(offset as usize..(offset + len) as usize)
    }

    /// Calls `found(pattern, start, end)` for every occurrence in `hay`, by end, then
    /// longest first, then by pattern id (the order of Aho-Corasick's
    /// `find_overlapping_iter`).
    #[inline]
    pub(crate) fn for_each(&self, hay: &[u8], found: impl FnMut(usize, usize, usize)) {
        if self.ascii_fold {
            self.walk::<true>(hay, found);
        } else {
            self.walk::<false>(hay, found);
        }
    }

    fn walk<const FOLD: bool>(&self, hay: &[u8], mut found: impl FnMut(usize, usize, usize)) {
        for &id in &self.empty {
            found(id as usize, 0, 0);
        }
        // (end, start, id) of each occurrence; found by start, reported by end.
        let mut hits: Vec<(usize, usize, u32)> = Vec::new();
        // A chunk at a time, the positions the filter passes are collected without a
        // branch (one would mispredict at every candidate), then looked up. Four
        // positions share one eight-byte load while eight bytes are left.
        // Offsets from the chunk's start: one byte each, so the array is four cache
        // lines (it is written at every position, pass or not).
        let mut candidates = [0u8; CHUNK];
        let filtered = hay.len().saturating_sub(3);
        let mut at = 0;
        while at < filtered {
            let end = (at + CHUNK).min(filtered);
            let mut n = 0;
            let mut pass = |i: usize, window: u32| {
                if let Some(slot) = candidates.get_mut(n) {
                    *slot = (i - at) as u8;
                }
                n += usize::from(self.passes::<FOLD>(window));
            };
            let mut i = at;
            while i + 4 <= end {
                let Some(&[a, b, c, d, e, f, g, h]) = hay.get(i..i + 8) else {
                    break;
                };
                let eight = u64::from_le_bytes([a, b, c, d, e, f, g, h]);
                for k in 0..4 {
                    pass(i + k, (eight >> (8 * k)) as u32);
                }
                i += 4;
            }
            for i in i..end {
                pass(i, prefix_of(hay.get(i..).unwrap_or_default()) as u32);
            }
            let candidates = candidates.get(..n).unwrap_or_default();
            self.warm::<FOLD>(hay, at, candidates);
            for &c in candidates {
                self.look_up::<FOLD>(hay, at + usize::from(c), &mut hits);
            }
            at = end;
        }
        // The last three positions.
        for at in at..hay.len() {
            self.look_up::<FOLD>(hay, at, &mut hits);
        }
        if !hits.is_sorted() {
            hits.sort_unstable();
        }
        for (end, start, id) in hits {
            found(id as usize, start, end);
        }
    }

    /// Whether the filter passes the position where the text is `window` (its next
    /// four bytes): whether a pattern could start there.
    #[inline(always)]
    fn passes<const FOLD: bool>(&self, window: u32) -> bool {
        let key = rough_fold::<FOLD>(window) & 0x00ff_ffff;
        let mut pass = has_bit(&self.filter[..], hash(key));
        if !self.one.is_empty() {
            pass |= has_bit(
                &self.one_bits[..],
                (fold::<FOLD>(u64::from(window)) & 0xff) as usize,
            );
        }
        pass
    }

    /// Reads the table slot each candidate (an offset from `at`) probes first, in one
    /// loop of independent loads. The table is usually out of the cache when a request
    /// arrives; read here, the misses overlap, where in [`Literals::look_up`] each
    /// waits for the one before (a probe's outcome decides what runs next).
    #[inline]
    fn warm<const FOLD: bool>(&self, hay: &[u8], at: usize, candidates: &[u8]) {
        let mask = self.table.len().wrapping_sub(1);
        let mut touched = 0u32;
        for &c in candidates {
            let rest = hay.get(at + usize::from(c)..).unwrap_or_default();
            let key = fold::<FOLD>(prefix_of(rest)) as u32 & 0x00ff_ffff;
            touched ^= self.table.get(slot_of(key, mask)).map_or(0, |s| s.len);
        }
        std::hint::black_box(touched);
    }

    /// Records the occurrences starting at `at`.
    #[inline(always)]
    fn look_up<const FOLD: bool>(
        &self,
        hay: &[u8],
        at: usize,
        hits: &mut Vec<(usize, usize, u32)>,
    ) {
        let rest = hay.get(at..).unwrap_or_default();
        let text = fold::<FOLD>(prefix_of(rest));
        if !self.one.is_empty() && has_bit(&self.one_bits, usize::from(text as u8)) {
            for &(_, id) in equal_range(&self.one, text as u8) {
                hits.push((at + 1, at, id));
            }
        }
        if rest.len() < 2 {
            return;
        }
        if self.two_bits & two_bit(text as u16) != 0 {
            for &(_, id) in equal_range(&self.two, text as u16) {
                hits.push((at + 2, at, id));
            }
        }
        if rest.len() < 3 {
            return;
        }
        let mask = self.table.len().wrapping_sub(1);
        let mut slot = slot_of(text as u32 & 0x00ff_ffff, mask);
        while let Some(s) = self.table.get(slot).filter(|s| s.len != 0) {
            slot = (slot + 1) & mask;
            if s.len & SPACED != 0 {
                let space_at = self.space_at.get(s.id as usize).map_or(0, |&a| a as usize);
                let known = u64::MAX >> (64 - 8 * space_at.clamp(3, 8));
                if (text ^ s.prefix) & known == 0
                    && let Some(n) = self.spaced_len(rest, s.id, space_at)
                {
                    hits.push((at + n, at, s.id));
                }
                continue;
            }
            let len = s.len as usize;
            // The pattern's first min(len, 8) bytes (len is at least 3).
            let known = u64::MAX >> (64 - 8 * len.min(8));
            if (text ^ s.prefix) & known != 0 || rest.len() < len {
                continue;
            }
            if len > 8 && !self.tail_equal::<FOLD>(rest, s.id) {
                continue;
            }
            hits.push((at + len, at, s.id));
        }
    }

    /// How many bytes of `rest` pattern `id` matches, its bytes before `space_at` as
    /// they are and each run of spaces from there on taking a run of whitespace
    /// characters (one at least); `None` if it does not match there.
    fn spaced_len(&self, rest: &[u8], id: u32, space_at: usize) -> Option<usize> {
        let pattern = self.pattern(id)?;
        let exact = pattern.get(..space_at)?;
        if rest.get(..space_at)? != exact {
            return None;
        }
        let mut at = space_at;
        let mut after_space = false;
        for &p in pattern.get(space_at..)? {
            if p != b' ' {
                if *rest.get(at)? != p {
                    return None;
                }
                at += 1;
            } else if !after_space {
                let mut run = whitespace_len(rest.get(at..)?);
                if run == 0 {
                    return None;
                }
                while run > 0 {
                    at += run;
                    run = whitespace_len(rest.get(at..).unwrap_or_default());
                }
            }
            after_space = p == b' ';
        }
        Some(at)
    }

    /// Whether the bytes of `rest` after the eighth equal those of pattern `id` (which
    /// is no shorter than `rest`).
    fn tail_equal<const FOLD: bool>(&self, rest: &[u8], id: u32) -> bool {
        let Some(pattern) = self.pattern(id) else {
            return false;
        };
        let (Some(pattern), Some(text)) = (pattern.get(8..), rest.get(8..pattern.len())) else {
            return false;
        };
        if FOLD {
            text.iter()
                .zip(pattern)
                .all(|(&t, &p)| t.to_ascii_lowercase() == p)
        } else {
            text == pattern
        }
    }
}

/// The length of the whitespace character `bytes` starts with (Unicode `White_Space`,
/// what a regex's `\s` matches), or 0.
fn whitespace_len(bytes: &[u8]) -> usize {
    match bytes.first() {
        Some(b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') => 1,
        Some(&b) if b >= 0x80 => {
            let width = match b {
                0xc0..=0xdf => 2,
                0xe0..=0xef => 3,
                _ => 4,
            };
            let c = bytes
                .get(..width)
                .and_then(|c| std::str::from_utf8(c).ok())
                .and_then(|c| c.chars().next());
            if c.is_some_and(char::is_whitespace) {
                width
            } else {
                0
            }
        }
        _ => 0,
    }
}

/// The first eight bytes of `bytes` (fewer if it is shorter, zero after), little-endian.
#[inline]
fn prefix_of(bytes: &[u8]) -> u64 {
    if let Some(&[a, b, c, d, e, f, g, h]) = bytes.get(..8) {
        return u64::from_le_bytes([a, b, c, d, e, f, g, h]);
    }
    let mut eight = [0; 8];
    for (e, &b) in eight.iter_mut().zip(bytes) {
        *e = b;
    }
    u64::from_le_bytes(eight)
}

/// Each byte of `x` folded as the patterns are (`to_ascii_lowercase` with `FOLD`).
#[inline(always)]
fn fold<const FOLD: bool>(x: u64) -> u64 {
    if FOLD { ascii_lower(x) } else { x }
}

/// What the filter is keyed by: with `FOLD`, each byte with its 0x20 bit set. Every
/// byte that folds to a pattern's byte has the same rough fold, so a filter of the
/// patterns' rough folds passes every occurrence (and a few more positions, for one
/// instruction instead of a full fold).
#[inline(always)]
fn rough_fold<const FOLD: bool>(x: u32) -> u32 {
    if FOLD { x | 0x2020_2020 } else { x }
}

/// Each byte of `x` in ASCII lower case (eight `to_ascii_lowercase` at once).
#[inline]
fn ascii_lower(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let ascii = !x & (0x80 * ONES);
    let low7 = x & (0x7f * ONES);
    // Bit 7 of each byte: set from b'A' on, and from the byte after b'Z' on.
    let from_a = low7.wrapping_add((0x80 - 0x41) * ONES);
    let after_z = low7.wrapping_add((0x80 - 0x5b) * ONES);
    let upper = from_a & !after_z & ascii;
    x | (upper >> 2)
}

/// The bit of a two-byte pattern (little-endian) in `Literals::two_bits`.
#[inline(always)]
fn two_bit(key: u16) -> u64 {
    1 << (u32::from(key).wrapping_mul(0x9E37_79B1) >> 26)
}

/// The filter bit of three bytes (little-endian, the fourth zero).
#[inline(always)]
fn hash(key: u32) -> usize {
    (key.wrapping_mul(0x9E37_79B1) >> (32 - FILTER_BITS)) as usize
}

/// Where the table (`mask + 1` slots) is probed first for a pattern whose first three
/// bytes are `key` (little-endian, the fourth zero).
fn slot_of(key: u32, mask: usize) -> usize {
    (key.wrapping_mul(0x85EB_CA6B).rotate_right(15) as usize) & mask
}

/// The entries of a sorted `(key, id)` table whose key is `key`.
fn equal_range<K: Ord + Copy>(table: &[(K, u32)], key: K) -> &[(K, u32)] {
    let from = table.partition_point(|&(k, _)| k < key);
    let rest = table.get(from..).unwrap_or_default();
    let len = rest.partition_point(|&(k, _)| k == key);
    rest.get(..len).unwrap_or_default()
}

fn set_bit(bits: &mut [u64], i: usize) {
    if let Some(word) = bits.get_mut(i / 64) {
        *word |= 1 << (i % 64);
    }
}

#[inline(always)]
fn has_bit(bits: &[u64], i: usize) -> bool {
    bits.get(i / 64)
        .is_some_and(|word| word & (1 << (i % 64)) != 0)
}

#[cfg(test)]
mod tests {
    use aho_corasick::AhoCorasick;
    use proptest::prelude::*;

    use super::*;

    fn all(lits: &Literals, hay: &[u8]) -> Vec<(usize, usize, usize)> {
        let mut out = Vec::new();
        lits.for_each(hay, |p, s, e| out.push((p, s, e)));
        out
    }

    fn overlapping_iter(
        patterns: &[Vec<u8>],
        fold: bool,
        hay: &[u8],
    ) -> Vec<(usize, usize, usize)> {
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(fold)
            .build(patterns)
            .unwrap_or_else(|e| panic!("{e}"));
        ac.find_overlapping_iter(hay)
            .map(|m| (m.pattern().as_usize(), m.start(), m.end()))
            .collect()
    }

    #[test]
    fn same_occurrences_in_the_same_order_as_overlapping_iter() {
        let patterns: Vec<Vec<u8>> = [
            "key",
            "apikey",
            "ke",
            "y_",
            "secret",
            "s",
            "KEY=",
            "SECRET KEYS",
            "secret kez",
            "my apikey_ and s",
            "ecret keys,",
            "ſecret",
        ]
        .iter()
        .map(|p| p.as_bytes().to_vec())
        .collect();
        let hay = "My APIKEY_ and secret keys, KEY=1 ſecret".as_bytes();
        let expected = overlapping_iter(&patterns, true, hay);
        assert!(expected.len() > 10);
        assert!(expected.iter().filter(|(_, s, e)| e - s > 8).count() >= 3);
        assert_eq!(all(&Literals::new(&patterns, true), hay), expected);
    }

    #[test]
    fn without_folding_case_matters() {
        let lits = Literals::new(&["ab", "b"], false);
        assert_eq!(all(&lits, b"AB ab"), vec![(0, 3, 5), (1, 4, 5)]);
    }

    #[test]
    fn patterns_at_the_very_end_and_in_a_short_text() {
        let lits = Literals::new(&["xyz", "yz", "z", "wxyz"], false);
        assert_eq!(
            all(&lits, b"wxyz"),
            vec![(3, 0, 4), (0, 1, 4), (1, 2, 4), (2, 3, 4)]
        );
        assert_eq!(all(&lits, b"z"), vec![(2, 0, 1)]);
        assert_eq!(all(&lits, b""), vec![]);
    }

    #[test]
    fn ascii_lower_is_to_ascii_lowercase_per_byte() {
        for b in 0..=255u8 {
            let bytes = [b, b'Q', b, 0xC3, b'Z', b, b'@', b'['];
            let x = u64::from_le_bytes(bytes);
            let expected = u64::from_le_bytes(bytes.map(|b| b.to_ascii_lowercase()));
            assert_eq!(ascii_lower(x), expected, "{b:#x}");
        }
    }

    /// The occurrences of `patterns` with each space after a pattern's third byte read
    /// as `\s+`, found by a regex at every position.
    fn spaced_reference(patterns: &[&str], hay: &str) -> Vec<(usize, usize, usize)> {
        let mut out = Vec::new();
        for (id, p) in patterns.iter().enumerate() {
            let (head, tail) = p.split_at(p.len().min(3));
            let mut pattern = format!("^{}", regex::escape(head));
            let mut after_space = false;
            for c in tail.chars() {
                if c != ' ' {
                    pattern.push_str(&regex::escape(&c.to_string()));
                } else if !after_space {
                    pattern.push_str(r"\s+");
                }
                after_space = c == ' ';
            }
            let re = regex::Regex::new(&pattern).unwrap_or_else(|e| panic!("{e}"));
            for (at, _) in hay.char_indices() {
                if let Some(m) = hay.get(at..).and_then(|rest| re.find(rest)) {
                    out.push((m.end() + at, at, id));
                }
            }
        }
        out.sort_unstable();
        out.into_iter()
            .map(|(end, start, id)| (id, start, end))
            .collect()
    }

    #[test]
    fn a_space_matches_any_run_of_whitespace() {
        let patterns = ["you are", "end of", "no  limit", "a b", "system message"];
        let hay = "You\nare; you are\t \u{2003}now; end\u{2028}of; a b; a  b; no limit; \
                   no  limit; system\r\nmessage; systemmessage; you  are";
        let lits = Literals::spaced(&patterns);
        let found = all(&lits, hay.as_bytes());
        assert_eq!(found, spaced_reference(&patterns, hay));
        assert_eq!(
            found.iter().filter(|f| f.0 == 1).count(),
            1,
            "end\u{2028}of"
        );
        assert_eq!(
            found.iter().filter(|f| f.0 == 4).count(),
            1,
            "system\r\nmessage"
        );
    }

    proptest! {
        #[test]
        fn spaced_agrees_with_a_regex(
            patterns in proptest::collection::vec("[ab ]{1,3}[ab ]{0,5}", 1..8),
            hay in proptest::collection::vec(prop_oneof![
                Just("a"), Just("b"), Just(" "), Just("\n"), Just("\u{a0}"), Just("é"),
            ], 0..80),
        ) {
            let patterns: Vec<&str> = patterns.iter().map(String::as_str).collect();
            let hay = hay.concat();
            prop_assert_eq!(
                all(&Literals::spaced(&patterns), hay.as_bytes()),
                spaced_reference(&patterns, &hay)
            );
        }

        /// Small alphabets make overlaps, shared prefixes, duplicates and hash
        /// collisions common.
        #[test]
        fn agrees_with_aho_corasick(
            patterns in proptest::collection::vec(
                proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'B'), Just(b'c'), Just(0xC5)], 1..12),
                1..40,
            ),
            hay in proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), Just(b'C'), Just(b'c'), Just(0xC5)], 0..700),
            fold in any::<bool>(),
        ) {
            let expected = overlapping_iter(&patterns, fold, &hay);
            prop_assert_eq!(all(&Literals::new(&patterns, fold), &hay), expected);
        }
    }
}
