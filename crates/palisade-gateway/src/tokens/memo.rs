//! A per-thread memo of how many `o200k_base` tokens a piece of text (one pre-tokenizer
//! piece: a word with its leading space, a number, a run of punctuation) encodes to.
//!
//! A prompt's pieces are mostly common words. Without the memo each is looked up in the
//! 200,000-entry vocabulary (a hash, a probe, a compare against a heap string: two or
//! three cache misses when a request arrives to a cold cache) and the rest are merged
//! by BPE; with it, a common piece costs one probe of one cache line. Exact: a slot
//! holds the whole piece and what tiktoken counted for it, and a piece's count depends
//! on its bytes alone. A piece may be in one of two slots that share a cache line (with one,
//! two of a prompt's pieces hashing alike would evict each other at every request); a
//! third replaces the older, so no input can grow it. Pieces over [`MAX_PIECE_BYTES`] are
//! counted every time.

use std::cell::RefCell;

/// Sets of two slots, a power of two: 2048 × 64 bytes = 128 KB per thread that counts.
const SETS: usize = 1 << 11;

/// Longest piece memoised, in bytes.
pub const MAX_PIECE_BYTES: usize = 30;

#[derive(Debug, Clone, Copy)]
struct Slot {
    piece: [u8; MAX_PIECE_BYTES],
    /// The piece's length; 0 for an empty slot (pieces are never empty).
    len: u8,
    /// Its tokens (at most one per byte).
    tokens: u8,
}

const EMPTY: Slot = Slot {
    piece: [0; MAX_PIECE_BYTES],
    len: 0,
    tokens: 0,
};

/// Two slots in one cache line: the newer piece first.
#[derive(Debug, Clone, Copy)]
#[repr(align(64))]
struct Set([Slot; 2]);

impl Set {
    fn find(&self, piece: &[u8]) -> Option<u8> {
        self.0.iter().find_map(|s| {
            let len = usize::from(s.len);
            (len == piece.len() && s.piece.get(..len) == Some(piece)).then_some(s.tokens)
        })
    }

    fn put(&mut self, piece: &[u8], tokens: usize) {
        let (Ok(tokens), Ok(len)) = (u8::try_from(tokens), u8::try_from(piece.len())) else {
            return;
        };
        if piece.len() > MAX_PIECE_BYTES {
            return;
        }
        self.0[1] = self.0[0];
        let slot = &mut self.0[0];
        slot.piece[..piece.len()].copy_from_slice(piece);
        slot.len = len;
        slot.tokens = tokens;
    }
}

thread_local! {
    static MEMO: RefCell<Vec<Set>> = const { RefCell::new(Vec::new()) };
}

/// A hash of the piece's bytes, eight at a time.
fn set_of(piece: &[u8]) -> usize {
    let mut h = piece.len() as u64;
    for chunk in piece.chunks(8) {
        let mut word = [0u8; 8];
        word.iter_mut().zip(chunk).for_each(|(w, &b)| *w = b);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    (h >> (64 - SETS.trailing_zeros())) as usize
}

/// The tokens of each piece `for_each` hands over, summed: memoised ones from the
/// memo, the others from `count` (and memoised).
pub fn sum(for_each: impl FnOnce(&mut dyn FnMut(&str)), count: impl Fn(&str) -> usize) -> u64 {
    MEMO.with(|memo| {
        let Ok(mut slots) = memo.try_borrow_mut() else {
            // Counting from inside a count (never done): no memo.
            let mut total = 0u64;
            for_each(&mut |p| total += count(p) as u64);
            return total;
        };
        if slots.len() != SETS {
            slots.resize(SETS, Set([EMPTY; 2]));
        }
        let mut total = 0u64;
        for_each(&mut |piece| {
            let bytes = piece.as_bytes();
            if bytes.len() > MAX_PIECE_BYTES {
                total += count(piece) as u64;
                return;
            }
            let Some(set) = slots.get_mut(set_of(bytes)) else {
                total += count(piece) as u64;
                return;
            };
            if let Some(tokens) = set.find(bytes) {
                total += u64::from(tokens);
                return;
            }
            let tokens = count(piece);
            total += tokens as u64;
            set.put(bytes, tokens);
        });
        total
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_keeps_two_pieces_and_drops_the_older() {
        let mut set = Set([EMPTY; 2]);
        assert_eq!(set.find(b" hello"), None);
        set.put(b" hello", 1);
        set.put(b" world", 2);
        assert_eq!(set.find(b" hello"), Some(1));
        assert_eq!(set.find(b" world"), Some(2));
        assert_eq!(set.find(b" hell"), None);
        set.put(b" again", 3);
        assert_eq!(set.find(b" hello"), None);
        assert_eq!(set.find(b" world"), Some(2));
        assert_eq!(set.find(b" again"), Some(3));
    }

    #[test]
    fn counts_sum_and_repeat_from_the_memo() {
        let pieces = ["a", " b", " a", " b"];
        let calls = std::cell::Cell::new(0);
        let count = |p: &str| {
            calls.set(calls.get() + 1);
            p.len()
        };
        let total = sum(|each| pieces.iter().for_each(|p| each(p)), count);
        assert_eq!(total, 7);
        assert_eq!(calls.get(), 3);
        let again = sum(|each| pieces.iter().for_each(|p| each(p)), count);
        assert_eq!(again, 7);
        assert_eq!(calls.get(), 3);
    }
}
