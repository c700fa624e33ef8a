//! The audit ledger. Today: [`merkle`], the RFC 6962 / RFC 9162 Merkle tree the ledger
//! is built on (tree heads, inclusion and consistency proofs, and their verification).
//! Records, signed checkpoints, encryption and the verifier join it next (issue: audit).

pub mod merkle;
