//! A bitset over the Basic Multilingual Plane, computed once from a predicate: turns the
//! per-character Unicode table lookups of the hot loops (normal-form quick check,
//! combining class, case and accent folding) into one bit test for the common case.

/// One bit per BMP code point (8 KiB). Characters outside the BMP are never members.
pub(crate) struct BmpSet(Box<[u64; 1024]>);

impl BmpSet {
    pub(crate) fn build(member: impl Fn(char) -> bool) -> BmpSet {
        let mut bits = Box::new([0u64; 1024]);
        for cp in 0u32..0x1_0000 {
            if let Some(c) = char::from_u32(cp)
                && member(c)
                && let Some(word) = bits.get_mut((cp / 64) as usize)
            {
                *word |= 1 << (cp % 64);
            }
        }
        BmpSet(bits)
    }

    pub(crate) fn contains(&self, c: char) -> bool {
        let cp = c as u32;
        cp < 0x1_0000
            && self
                .0
                .get((cp / 64) as usize)
                .is_some_and(|w| w & (1 << (cp % 64)) != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership() {
        let s = BmpSet::build(|c| c == 'a' || c == '\u{FFFF}' || c == 'ж');
        assert!(s.contains('a') && s.contains('\u{FFFF}') && s.contains('ж'));
        assert!(!s.contains('b') && !s.contains('😀'));
    }
}
