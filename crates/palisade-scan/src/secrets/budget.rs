//! Byte budgets: for each byte value, the most times it can occur in a match of a
//! pattern (or of a part of one), read off the pattern's syntax tree. A budget bounds
//! how far a match can reach from a keyword even when the pattern has no length limit:
//! gitleaks' generic rule ends in `[a-z0-9+/]{11,}`, but it holds at most 29 spaces,
//! one comma and no `(`, so in prose its matches end within a sentence or two of the
//! keyword.
//!
//! Counts saturate at [`UNBOUNDED`]: a byte a repetition without maximum can take, or
//! one that may occur 255 times or more, has no limit. Non-ASCII bytes are counted
//! coarsely (a class with any non-ASCII member may put up to four of each byte from
//! 0x80 up in the match), which only makes a budget larger, never wrong.

use regex_syntax::hir::{Class, Hir, HirKind};

/// The count that means "no limit".
pub const UNBOUNDED: u8 = u8::MAX;

/// Up to how many times each byte value occurs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByteBudget {
    most: [u8; 256],
    /// Every byte unbounded: nothing to count.
    open: bool,
}

impl ByteBudget {
    /// Nothing may occur (the budget of an empty match).
    pub fn zero() -> ByteBudget {
        ByteBudget {
            most: [0; 256],
            open: false,
        }
    }

    /// The budget of any match of `hir`.
    pub fn of(hir: &Hir) -> ByteBudget {
        let mut b = ByteBudget::zero();
        match hir.kind() {
            HirKind::Empty | HirKind::Look(_) => {}
            HirKind::Literal(l) => {
                for &byte in l.0.iter() {
                    b.bump(byte, 1);
                }
            }
            HirKind::Class(Class::Bytes(c)) => {
                for r in c.ranges() {
                    for byte in r.start()..=r.end() {
                        b.most[usize::from(byte)] = 1;
                    }
                }
            }
            HirKind::Class(Class::Unicode(c)) => {
                for r in c.ranges() {
                    let ascii_end = (r.end() as u32).min(0x7f);
                    for byte in r.start() as u32..=ascii_end {
                        b.most[byte as usize] = 1;
                    }
                    if r.end() as u32 > 0x7f {
                        // Up to four bytes of a character's UTF-8 are from 0x80 up.
                        b.most[0x80..].fill(4);
                    }
                }
            }
            HirKind::Capture(c) => b = ByteBudget::of(&c.sub),
            HirKind::Repetition(r) => {
                let sub = ByteBudget::of(&r.sub);
                for (m, &s) in b.most.iter_mut().zip(&sub.most) {
                    *m = match r.max {
                        _ if s == 0 => 0,
                        Some(max) => times(s, max),
                        None => UNBOUNDED,
                    };
                }
            }
            HirKind::Concat(children) => b = ByteBudget::sum(children),
            HirKind::Alternation(alts) => {
                for alt in alts {
                    let a = ByteBudget::of(alt);
                    for (m, &x) in b.most.iter_mut().zip(&a.most) {
                        *m = (*m).max(x);
                    }
                }
            }
        }
        b.open = b.most.iter().all(|&m| m == UNBOUNDED);
        b
    }

    /// The budget of the concatenation of `parts`.
    pub fn sum(parts: &[Hir]) -> ByteBudget {
        let mut b = ByteBudget::zero();
        for p in parts {
            b.add(&ByteBudget::of(p));
        }
        b
    }

    /// Adds `other` (the budget of what follows or precedes).
    pub fn add(&mut self, other: &ByteBudget) {
        for (m, &x) in self.most.iter_mut().zip(&other.most) {
            *m = plus(*m, x);
        }
        self.open = self.most.iter().all(|&m| m == UNBOUNDED);
    }

    /// The larger of the two, byte by byte (either may be the one that happens).
    pub fn max(&mut self, other: &ByteBudget) {
        for (m, &x) in self.most.iter_mut().zip(&other.most) {
            *m = (*m).max(x);
        }
        self.open = self.most.iter().all(|&m| m == UNBOUNDED);
    }

    fn bump(&mut self, byte: u8, n: u8) {
        let m = &mut self.most[usize::from(byte)];
        *m = plus(*m, n);
    }

    /// How many bytes of `bytes`, read in order, fit the budget: the index of the first
    /// byte that would be one too many of its value (`bytes.len()` if none is).
    pub fn fits(&self, bytes: impl Iterator<Item = u8>) -> Option<usize> {
        if self.open {
            return None;
        }
        let mut seen = [0u8; 256];
        for (i, byte) in bytes.enumerate() {
            let most = self.most[usize::from(byte)];
            if most == UNBOUNDED {
                continue;
            }
            let n = &mut seen[usize::from(byte)];
            if *n == most {
                return Some(i);
            }
            *n += 1;
        }
        None
    }
}

fn plus(a: u8, b: u8) -> u8 {
    a.saturating_add(b)
}

fn times(a: u8, n: u32) -> u8 {
    u8::try_from(u32::from(a).saturating_mul(n)).unwrap_or(UNBOUNDED)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(pattern: &str) -> ByteBudget {
        ByteBudget::of(&regex_syntax::parse(pattern).unwrap_or_else(|e| panic!("{e}")))
    }

    #[test]
    fn counts_literals_classes_and_repetitions() {
        let b = budget(r"ab{2,3}[ x]{0,4}(?:,|;;)c*");
        assert_eq!(b.most[usize::from(b'a')], 1);
        assert_eq!(b.most[usize::from(b'b')], 3);
        assert_eq!(b.most[usize::from(b' ')], 4);
        assert_eq!(b.most[usize::from(b'x')], 4);
        assert_eq!(b.most[usize::from(b',')], 1);
        assert_eq!(b.most[usize::from(b';')], 2);
        assert_eq!(b.most[usize::from(b'c')], UNBOUNDED);
        assert_eq!(b.most[usize::from(b'(')], 0);
        assert!(!b.open);
        assert!(budget(r"(?s).*").open);
    }

    #[test]
    fn non_ascii_members_count_high_bytes() {
        // (?i) puts KELVIN SIGN in the class of `k`.
        let b = budget(r"(?i)k{2}");
        assert_eq!(b.most[usize::from(b'k')], 2);
        assert_eq!(b.most[0xe2], 8);
        assert_eq!(budget(r"x{200}y{2}").most[usize::from(b'x')], 200);
        assert_eq!(budget(r"x{300}").most[usize::from(b'x')], UNBOUNDED);
    }

    #[test]
    fn fits_stops_at_the_first_byte_over_budget() {
        let b = budget(r"[a-z]+ [a-z]+, [a-z]+");
        assert_eq!(b.fits("one two, three four".bytes()), Some(14));
        assert_eq!(b.fits("one two, three".bytes()), None);
        assert_eq!(b.fits("one (two".bytes()), Some(4));
        assert_eq!(budget(r"(?s).+").fits("anything at all".bytes()), None);
    }
}
