//! The audit ledger: one tamper-evident, encrypted record per interaction.
//!
//! A record flows: producer builds an [`event::Event`] (and optionally captured content)
//! → [`ledger::Ledger::record`] queues it → the writer task seals it ([`record`]: header
//! linked to the previous leaf, content encrypted by [`crypto`] under the subject's data
//! key, tagged by the writers' [`authenticator`]) → a batch is committed in one transaction to an [`store::AuditStore`] → the
//! producer is answered. The records form an RFC 6962 [`merkle`] tree whose heads are
//! signed as C2SP [`checkpoint`]s; a writer adopts records no checkpoint covers yet
//! only with a valid tag, and a log that passes through the last checkpoint it signed
//! (`tail`, `witness`); [`verify`] recomputes everything from storage and
//! names the first record that differs; [`proofs`] serves inclusion and consistency
//! proofs from storage; [`export`] renders records for people and SIEMs;
//! [`keys`] holds the key hierarchy, rotation and content opening.

pub mod authenticator;
pub mod checkpoint;
pub mod crypto;
pub mod event;
pub mod export;
pub mod keys;
pub mod ledger;
pub mod merkle;
pub mod proofs;
pub mod purge;
pub mod record;
pub mod store;
mod tail;
pub mod verify;
mod witness;

pub use event::{Actor, Capture, Change, Decision, Entry, Event, Finding, Plane, TokenUsage};
pub use ledger::{AuditError, Durability, Ledger, LedgerConfig};
