//! The check that the rest of a pattern follows a keyword occurrence: when the keyword
//! part of a pattern matches exactly a keyword (gitleaks'
//! `(?:key|token…)(?:[ \t\w.-]{0,20})[\s'"]{0,3}(?:=|:…)…`), a match holding an
//! occurrence goes on, right at the occurrence's end, with the rest of the pattern. An
//! occurrence it does not follow ("keyboard", "the API design team") opens no window.
//!
//! The rest runs as a lazy DFA, anchored at the occurrence's end, for at most
//! [`READ`] bytes: on prose it dies within a few, a real assignment matches within a
//! few dozen, and an occurrence still undecided there is taken as possible. So keywords
//! packed densely (`eyeyey…`) cost at most [`READ`] steps each, not a read to the end
//! of the text each.

use std::panic::{RefUnwindSafe, UnwindSafe};

use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::nfa::thompson;
use regex_automata::util::pool::Pool;
use regex_automata::{Anchored, Input};
use regex_syntax::hir::Hir;

/// Most bytes a check reads past the occurrence before taking it as possible.
pub const READ: usize = 64;

type CacheFn = Box<dyn Fn() -> Cache + Send + Sync + UnwindSafe + RefUnwindSafe>;

/// The rest of a pattern after its keyword part, ready to run.
pub struct Continuation {
    dfa: DFA,
    caches: Pool<Cache, CacheFn>,
}

impl std::fmt::Debug for Continuation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Continuation").finish_non_exhaustive()
    }
}

impl Continuation {
    /// Compiles `rest`; `None` if the lazy DFA cannot run it.
    pub fn build(rest: &Hir) -> Option<Continuation> {
        let nfa = thompson::Compiler::new().build_from_hir(rest).ok()?;
        let dfa = DFA::builder()
            .configure(DFA::config().unicode_word_boundary(true))
            .build_from_nfa(nfa)
            .ok()?;
        let for_caches = dfa.clone();
        let create: CacheFn = Box::new(move || for_caches.create_cache());
        Some(Continuation {
            dfa,
            caches: Pool::new(create),
        })
    }

    /// False only when no match of the rest starts at `at` (look-behind assertions see
    /// what precedes `at`): the DFA died, or the text ended without a match.
    pub fn may_follow(&self, text: &[u8], at: usize) -> bool {
        let Some(rest) = text.get(at..) else {
            return true;
        };
        let mut cache = self.caches.get();
        let input = Input::new(text).range(at..).anchored(Anchored::Yes);
        let Ok(mut sid) = self.dfa.start_state_forward(&mut cache, &input) else {
            return true;
        };
        if sid.is_dead() {
            return false;
        }
        for &byte in rest.iter().take(READ) {
            let Ok(next) = self.dfa.next_state(&mut cache, sid, byte) else {
                return true;
            };
            sid = next;
            if sid.is_tagged() {
                // A match state (matches show one byte late), or a quit: possible.
                return !sid.is_dead();
            }
        }
        if rest.len() > READ {
            return true;
        }
        match self.dfa.next_eoi_state(&mut cache, sid) {
            Ok(end) => end.is_match() || end.is_quit(),
            Err(_) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rest(pattern: &str) -> Continuation {
        let hir = regex_syntax::parse(pattern).unwrap_or_else(|e| panic!("{e}"));
        Continuation::build(&hir).unwrap_or_else(|| panic!("{pattern} builds"))
    }

    #[test]
    fn follows_where_the_rest_matches_and_not_where_it_dies() {
        let c = rest(r"\s*=\s*'[a-z0-9]{8,}'");
        let text = b"keyboard; key = 'abcd1234'; key = 'ab'";
        assert!(!c.may_follow(text, 3), "board…");
        assert!(c.may_follow(text, 13));
        assert!(!c.may_follow(text, 31), "too short, and the text ends");
    }

    #[test]
    fn look_behind_sees_the_keyword_and_undecided_is_possible() {
        // `\B` right after a letter holds only if a word character follows.
        let c = rest(r"\B[a-z]+=");
        assert!(c.may_follow(b"keyname=", 3));
        assert!(!c.may_follow(b"key name=", 3));
        // Still going after READ bytes: taken as possible.
        let long = [b"key".as_slice(), &[b'a'; 2 * READ]].concat();
        assert!(c.may_follow(&long, 3));
    }
}
