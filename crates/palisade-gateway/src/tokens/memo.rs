//! A per-thread memo of how many `o200k_base` tokens a piece of text (one pre-tokenizer
//! piece: a word with its leading space, a number, a run of punctuation) encodes to.
//!
//! A prompt's pieces are mostly common words. Without the memo each is looked up in the
//! 200,000-entry vocabulary (a hash, a probe, a compare against a heap string: two or
//! three cache misses when a request arrives to a cold cache) and the rest are merged
//! by BPE; with it, a common piece costs one probe of a 32-byte slot. Exact: a slot holds
//! the whole piece and what tiktoken counted for it, and a piece's count depends on its
//! bytes alone. Direct-mapped, so no input can grow it; pieces over [`MAX_PIECE_BYTES`]
//! are counted every time.

use std::cell::RefCell;

/// Slots, a power of two: 4096 × 32 bytes = 128 KB per thread that counts.
const SLOTS: usize = 1 << 12;

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

thread_local! {
    static MEMO: RefCell<Vec<Slot>> = const { RefCell::new(Vec::new()) };
}

/// A hash of the piece's bytes, eight at a time.
fn slot_of(piece: &[u8]) -> usize {
    let mut h = piece.len() as u64;
    for chunk in piece.chunks(8) {
        let mut word = [0u8; 8];
        word.iter_mut().zip(chunk).for_each(|(w, &b)| *w = b);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    (h >> (64 - SLOTS.trailing_zeros())) as usize
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
        if slots.len() != SLOTS {
            slots.resize(SLOTS, EMPTY);
        }
        let mut total = 0u64;
        for_each(&mut |piece| {
            let bytes = piece.as_bytes();
            if bytes.len() > MAX_PIECE_BYTES {
                total += count(piece) as u64;
                return;
            }
            let Some(slot) = slots.get_mut(slot_of(bytes)) else {
                total += count(piece) as u64;
                return;
            };
            let len = usize::from(slot.len);
            if len == bytes.len() && slot.piece.get(..len) == Some(bytes) {
                total += u64::from(slot.tokens);
                return;
            }
            let tokens = count(piece);
            total += tokens as u64;
            if let (Ok(tokens), Ok(len)) = (u8::try_from(tokens), u8::try_from(bytes.len())) {
                slot.piece[..bytes.len()].copy_from_slice(bytes);
                slot.len = len;
                slot.tokens = tokens;
            }
        });
        total
    })
}
