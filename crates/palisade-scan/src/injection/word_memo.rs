//! A per-thread memo of each word's own contribution to the classifier's margin: the
//! sum of the weights of its unigram and character n-grams, and how many features those
//! are. Both depend on the word alone (its bigram, which depends on the word before, is
//! not memoised).
//!
//! A prompt's words are mostly common ones. With the memo, such a word costs one probe
//! of one cache line instead of hashing a dozen n-grams and reading a dozen weights
//! scattered over the 256 KB table: about one cache line per word where there were a
//! dozen, which matters most when the table is out of the cache, as it is in a gateway
//! between requests. Exact: a slot holds the whole word and the sums are integers, so a
//! memoised word adds exactly what extracting it again would. Words longer than
//! [`MAX_WORD_BYTES`] are not memoised. A word has two slots it may be in, side by side
//! in one cache line (two-way set-associative: with one slot per word, two of a prompt's
//! words sharing it would evict each other at every request); a third word for them
//! replaces the older one, so no input can grow the memo or make it return another
//! word's weights.

/// Sets of two slots, a power of two: 2048 × 64 bytes = 128 KB per thread that scores.
const SETS: usize = 1 << 11;

/// Longest word memoised, in bytes.
pub(crate) const MAX_WORD_BYTES: usize = 24;

#[derive(Debug, Clone, Copy)]
struct Slot {
    word: [u8; MAX_WORD_BYTES],
    /// The word's length; 0 for an empty slot (words are never empty).
    len: u8,
    /// How many features the word has (at most 26 positions × 8 n-gram lengths + 1).
    count: u8,
    sum: i32,
}

const EMPTY: Slot = Slot {
    word: [0; MAX_WORD_BYTES],
    len: 0,
    count: 0,
    sum: 0,
};

/// Two slots in one cache line: the newer word first.
#[derive(Debug, Clone, Copy)]
#[repr(align(64))]
struct Set([Slot; 2]);

impl Set {
    fn find(&self, word: &[u8]) -> Option<&Slot> {
        self.0.iter().find(|s| {
            let len = usize::from(s.len);
            len == word.len() && s.word.get(..len) == Some(word)
        })
    }
}

/// The memo of one thread, for one model at a time.
#[derive(Debug, Default)]
pub(crate) struct WordMemo {
    /// The model whose weights the slots sum ([`next_model_id`]); another model's
    /// first lookup on this thread empties them.
    model: u64,
    /// Allocated on first use.
    slots: Vec<Set>,
    /// Never holds anything (a scorer's nested call, which has no thread buffers).
    off: bool,
}

/// A new model identity (never 0, the identity of an unused memo).
pub(crate) fn next_model_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

fn set_of(hash: u64) -> usize {
    (hash >> (64 - SETS.trailing_zeros())) as usize
}

impl WordMemo {
    /// A memo that holds nothing and allocates nothing.
    pub(crate) fn off() -> WordMemo {
        WordMemo {
            off: true,
            ..WordMemo::default()
        }
    }

    /// Makes the memo hold `model`'s sums (emptying it if it held another model's).
    fn use_model(&mut self, model: u64) {
        if self.model != model || self.slots.len() != SETS {
            self.slots.clear();
            self.slots.resize(SETS, Set([EMPTY; 2]));
            self.model = model;
        }
    }

    /// The weight sum and feature count of `word` (whose hash is `hash`), if memoised.
    #[inline]
    pub(crate) fn get(&mut self, model: u64, word: &[u8], hash: u64) -> Option<(i64, u32)> {
        if self.off {
            return None;
        }
        self.use_model(model);
        let slot = self.slots.get(set_of(hash))?.find(word)?;
        Some((i64::from(slot.sum), u32::from(slot.count)))
    }

    /// Reads the slot `hash` maps to (its sum, whatever word it holds): a load the
    /// caller issues early so that the slot is in the cache when [`WordMemo::get`] runs.
    #[inline]
    pub(crate) fn peek(&mut self, model: u64, hash: u64) -> i64 {
        if self.off {
            return 0;
        }
        self.use_model(model);
        self.slots
            .get(set_of(hash))
            .map_or(0, |s| i64::from(s.0[0].sum))
    }

    /// Memoises `word`'s sum and count (when they and the word fit a slot).
    pub(crate) fn put(&mut self, model: u64, word: &[u8], hash: u64, sum: i64, count: usize) {
        let (Ok(sum), Ok(count), Ok(len)) = (
            i32::try_from(sum),
            u8::try_from(count),
            u8::try_from(word.len()),
        ) else {
            return;
        };
        if self.off || word.is_empty() || word.len() > MAX_WORD_BYTES {
            return;
        }
        self.use_model(model);
        if let Some(set) = self.slots.get_mut(set_of(hash)) {
            if set.find(word).is_some() {
                return;
            }
            // The newer word first; the older of the two goes.
            set.0[1] = set.0[0];
            let slot = &mut set.0[0];
            slot.word[..word.len()].copy_from_slice(word);
            slot.len = len;
            slot.count = count;
            slot.sum = sum;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_only_the_word_it_holds() {
        let mut m = WordMemo::default();
        assert_eq!(m.get(1, b"ignore", 7), None);
        m.put(1, b"ignore", 7, -1234, 17);
        assert_eq!(m.get(1, b"ignore", 7), Some((-1234, 17)));
        // Same set, another word (or a prefix of it): not its sum.
        assert_eq!(m.get(1, b"ignor", 7), None);
        assert_eq!(m.get(1, b"ignores", 7), None);
        // Two words of one set are both kept; a third replaces the older.
        m.put(1, b"please", 7, 5, 12);
        assert_eq!(m.get(1, b"ignore", 7), Some((-1234, 17)));
        assert_eq!(m.get(1, b"please", 7), Some((5, 12)));
        m.put(1, b"please", 7, 5, 12);
        m.put(1, b"reveal", 7, 9, 13);
        assert_eq!(m.get(1, b"ignore", 7), None);
        assert_eq!(m.get(1, b"please", 7), Some((5, 12)));
        assert_eq!(m.get(1, b"reveal", 7), Some((9, 13)));
    }

    #[test]
    fn an_off_memo_holds_nothing() {
        let mut m = WordMemo::off();
        m.put(1, b"ignore", 7, 10, 3);
        assert_eq!(m.get(1, b"ignore", 7), None);
        assert!(m.slots.is_empty());
    }

    #[test]
    fn another_model_empties_it() {
        let mut m = WordMemo::default();
        m.put(1, b"ignore", 7, 10, 3);
        assert_eq!(m.get(2, b"ignore", 7), None);
        assert_eq!(m.get(1, b"ignore", 7), None);
    }

    #[test]
    fn long_words_and_large_counts_are_not_memoised() {
        let mut m = WordMemo::default();
        let long = [b'a'; MAX_WORD_BYTES + 1];
        m.put(1, &long, 3, 1, 1);
        assert_eq!(m.get(1, &long, 3), None);
        m.put(1, b"word", 3, 1, 300);
        assert_eq!(m.get(1, b"word", 3), None);
        m.put(1, b"word", 3, i64::from(i32::MAX) + 1, 3);
        assert_eq!(m.get(1, b"word", 3), None);
    }
}
