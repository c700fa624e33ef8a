//! A retention purge's signed statement: the content of records before position
//! `through` and older than `cutoff` was removed on purpose. The ledger signs it with the
//! checkpoint key and keeps it in its `audit.purge` record; `audit verify` excuses missing
//! content only with such a statement.
//!
//! The record alone is not enough: `audit verify` holds only the public key, so it cannot
//! tell a writer's record from a well-linked one appended straight into the database
//! after the last checkpoint (writers can: [`crate::authenticator`], but verify does not
//! hold their key). A statement needs the signing key; a copy of a genuine one, replayed
//! elsewhere in the log, excuses no more than the original, since it names its own
//! bounds.

use crate::checkpoint::{NoteSigner, NoteVerifier};

/// The first line of a purge statement (so that no checkpoint, which starts with the
/// log's origin, can pass for one).
const HEADER: &str = "palisade audit purge";

/// What a verified statement says was purged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purge {
    /// Records at positions below this.
    pub through: u64,
    /// Records whose time is before this (µs since the epoch).
    pub cutoff_us: i64,
}

impl Purge {
    /// Whether the content of the record at `seq`, of time `time_us`, was purged by it.
    pub fn covers(&self, seq: u64, time_us: i64) -> bool {
        seq < self.through && time_us < self.cutoff_us
    }

    fn body(&self, origin: &str) -> String {
        format!("{HEADER}\n{origin}\n{}\n{}\n", self.through, self.cutoff_us)
    }

    /// The signed statement (a note, like a checkpoint).
    pub fn sign(&self, signer: &NoteSigner, origin: &str) -> String {
        signer.sign(&self.body(origin))
    }

    /// The purge a statement signed by `verifier` describes, if it is one, for the log
    /// `origin` when that is known.
    pub fn open(verifier: &NoteVerifier, note: &str, origin: Option<&str>) -> Option<Purge> {
        let body = verifier.open(note).ok()?;
        let mut lines = body.lines();
        if lines.next()? != HEADER {
            return None;
        }
        let named = lines.next()?;
        if origin.is_some_and(|o| o != named) {
            return None;
        }
        let through = lines.next()?.parse().ok()?;
        let cutoff_us = lines.next()?.parse().ok()?;
        lines
            .next()
            .is_none()
            .then_some(Purge { through, cutoff_us })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_opens_only_with_its_key_and_origin() {
        let signer = NoteSigner::generate("example.org/audit").expect("key");
        let purge = Purge {
            through: 42,
            cutoff_us: 1_700_000_000_000_000,
        };
        let note = purge.sign(&signer, "example.org/audit");
        let verifier = signer.verifier();
        assert_eq!(Purge::open(&verifier, &note, None), Some(purge));
        assert_eq!(
            Purge::open(&verifier, &note, Some("example.org/audit")),
            Some(purge)
        );
        assert_eq!(Purge::open(&verifier, &note, Some("other/audit")), None);
        let other = NoteSigner::generate("example.org/audit").expect("key");
        assert_eq!(Purge::open(&other.verifier(), &note, None), None);
        // Edited bounds break the signature.
        let edited = note.replace("\n42\n", "\n4200\n");
        assert_eq!(Purge::open(&verifier, &edited, None), None);
        // A checkpoint signed by the same key is not a purge statement.
        let checkpoint = signer.sign("example.org/audit\n42\nAAAA\n");
        assert_eq!(Purge::open(&verifier, &checkpoint, None), None);
        assert!(purge.covers(41, 1));
        assert!(!purge.covers(42, 1));
        assert!(!purge.covers(1, 1_700_000_000_000_000));
    }
}
