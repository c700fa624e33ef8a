//! Byte budgets: for each byte value, the most times it can occur in a match of a
//! pattern (or of a part of one), read off the pattern's syntax tree; and [`Tally`],
//! which finds how far from a keyword a text stays within one. A budget bounds
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

    fn most(&self, byte: u8) -> u8 {
        self.most[usize::from(byte)]
    }
}

/// The bytes of a range of a text counted against a budget, the range sliding right
/// as keyword occurrences come in order: every byte is counted in and out at most once
/// per side, so the windows of a rule cost linear time however dense its keywords
/// (`eyeyey…` for the JWT rule).
pub struct Tally<'b> {
    budget: &'b ByteBudget,
    seen: [u8; 256],
    /// The counted range.
    lo: usize,
    hi: usize,
}

impl<'b> Tally<'b> {
    pub fn new(budget: &'b ByteBudget) -> Tally<'b> {
        Tally {
            budget,
            seen: [0; 256],
            lo: 0,
            hi: 0,
        }
    }

    /// Counts `byte` in if it fits.
    fn take(&mut self, byte: u8) -> bool {
        let most = self.budget.most(byte);
        if most == UNBOUNDED {
            return true;
        }
        let n = &mut self.seen[usize::from(byte)];
        if *n == most {
            return false;
        }
        *n += 1;
        true
    }

    fn drop(&mut self, byte: u8) {
        if self.budget.most(byte) != UNBOUNDED {
            let n = &mut self.seen[usize::from(byte)];
            *n = n.saturating_sub(1);
        }
    }

    fn reset(&mut self, at: usize) {
        self.seen = [0; 256];
        self.lo = at;
        self.hi = at;
    }

    /// The smallest `lo >= to - reach` such that `text[lo..to]` fits the budget.
    /// Linear over calls whose `to` does not decrease.
    pub fn reach_back(&mut self, text: &[u8], to: usize, reach: usize) -> usize {
        let floor = to.saturating_sub(reach);
        if self.budget.open {
            return floor;
        }
        let to = to.min(text.len());
        if to < self.hi || to - self.hi > self.hi - self.lo {
            // Read backwards from `to` (cheaper than sliding across a wide gap).
            self.reset(to);
            while self.lo > floor {
                match text.get(self.lo - 1) {
                    Some(&byte) if self.take(byte) => self.lo -= 1,
                    _ => break,
                }
            }
            return self.lo;
        }
        for i in self.hi..to {
            let Some(&byte) = text.get(i) else { break };
            // Drop from the left until `byte` fits (an empty range may not hold it).
            while !self.take(byte) {
                if self.lo == i {
                    self.lo = i + 1;
                    break;
                }
                if let Some(&left) = text.get(self.lo) {
                    self.drop(left);
                }
                self.lo += 1;
            }
        }
        self.hi = to;
        while self.lo < floor {
            if let Some(&left) = text.get(self.lo) {
                self.drop(left);
            }
            self.lo += 1;
        }
        self.lo
    }

    /// The largest `hi <= from + reach` such that `text[from..hi]` fits the budget.
    /// Linear over calls whose `from` does not decrease.
    pub fn reach_ahead(&mut self, text: &[u8], from: usize, reach: usize) -> usize {
        let cap = from.saturating_add(reach).min(text.len());
        if self.budget.open {
            return cap;
        }
        if from >= self.hi || from < self.lo {
            self.reset(from);
        } else {
            for i in self.lo..from {
                if let Some(&left) = text.get(i) {
                    self.drop(left);
                }
            }
            self.lo = from;
        }
        while self.hi < cap {
            match text.get(self.hi) {
                Some(&byte) if self.take(byte) => self.hi += 1,
                _ => break,
            }
        }
        self.hi
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
    fn reach_stops_at_the_first_byte_over_budget() {
        let b = budget(r"[a-z]+ [a-z]+, [a-z]+");
        let text = b"one two, three four";
        assert_eq!(Tally::new(&b).reach_ahead(text, 0, usize::MAX), 14);
        assert_eq!(Tally::new(&b).reach_ahead(text, 4, usize::MAX), 19);
        assert_eq!(Tally::new(&b).reach_ahead(text, 0, 5), 5);
        assert_eq!(Tally::new(&b).reach_ahead(b"one (two", 0, usize::MAX), 4);
        assert_eq!(Tally::new(&b).reach_back(text, 19, usize::MAX), 4);
        assert_eq!(Tally::new(&b).reach_back(text, 19, 3), 16);
        let open = budget(r"(?s).+");
        assert_eq!(Tally::new(&open).reach_ahead(text, 2, usize::MAX), 19);
        assert_eq!(Tally::new(&open).reach_back(text, 9, 4), 5);
    }

    /// Sliding across occurrences gives what a fresh count from each gives.
    #[test]
    fn sliding_agrees_with_counting_afresh() {
        let b = budget(r"[a-z]{0,3} ?[a-z]+(?:, ?)?[a-z]*\.?");
        let text = b"ab, cd efg. hi jk, lm no.pq rs, tu vw xy, z. abc def";
        for reach in [2, 5, 9, usize::MAX] {
            let (mut back, mut ahead) = (Tally::new(&b), Tally::new(&b));
            for at in 0..=text.len() {
                assert_eq!(
                    back.reach_back(text, at, reach),
                    Tally::new(&b).reach_back(text, at, reach),
                    "back to {at}, reach {reach}"
                );
                assert_eq!(
                    ahead.reach_ahead(text, at, reach),
                    Tally::new(&b).reach_ahead(text, at, reach),
                    "ahead from {at}, reach {reach}"
                );
            }
        }
    }
}
