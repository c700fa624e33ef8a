//! Literal prefilters, shared by the secret rules and the injection rules: most of a
//! text holds none of the words a rule needs, so a rule's regex runs only where they
//! occur.
//!
//! - `literals`: every occurrence of a set of literals in one pass over the text (the
//!   secret keywords, the injection anchors);
//! - `window`: for a regex every match of which holds one of its literals, the windows
//!   around their occurrences the regex needs to search, and that search;
//! - `continuation`: whether the rest of a regex follows a keyword occurrence, read a
//!   few bytes at most;
//! - `shape`: what a regex's syntax tree says about its literals (is one in every match,
//!   what a match holds before and after it, what must follow it);
//! - `budget`: how many of each byte a match can hold, which bounds a window when the
//!   regex has no longest match;
//! - `starts`: the few literals every match of a regex may start with, which rule out a
//!   window none of them occurs in.

pub(crate) mod budget;
pub(crate) mod continuation;
pub(crate) mod literals;
pub(crate) mod shape;
pub(crate) mod starts;
pub(crate) mod window;
