//! The witness file: the latest checkpoint this writer signed, kept outside the database
//! (beside the signing key). At start, the store's log must pass through it: records
//! deleted together with the checkpoints covering them while the gateway was down (a
//! rollback) are refused, as a running writer refuses them ([`crate::tail`]).
//!
//! Written after each checkpoint the writer signs, and at start with the largest
//! checkpoint the records were checked against when it goes beyond the witness (signed
//! by another instance, say), each time a temporary file renamed over the old one; a
//! write that fails is logged and the older witness stays, which only
//! weakens the check. A missing file is no witness (a first start, or an operator who,
//! knowingly, gives up the records it vouched for).

use std::path::Path;

use crate::checkpoint::{Checkpoint, NoteVerifier};
use crate::ledger::AuditError;
use crate::tail::Vouched;

/// The checkpoint in the witness file, if there is one: it must be this log's.
pub(crate) fn read(
    path: &Path,
    verifier: &NoteVerifier,
    origin: &str,
) -> Result<Option<Vouched>, AuditError> {
    let note = match std::fs::read_to_string(path) {
        Ok(note) => note,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(AuditError::Unavailable(format!(
                "cannot read the audit witness file {}: {e}",
                path.display()
            )));
        }
    };
    match Checkpoint::open(&note, verifier) {
        Ok(cp) if cp.origin == origin => Ok(Some((cp.size, cp.root))),
        _ => Err(AuditError::Unavailable(format!(
            "the audit witness file {} is not a checkpoint of this log (signed by its key \
             under its origin)",
            path.display()
        ))),
    }
}

/// Replaces the witness with `note` (a checkpoint just signed).
pub(crate) fn write(path: &Path, note: &str) {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let result = std::fs::write(&tmp, note).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = result {
        tracing::warn!(error = %e, path = %path.display(), "cannot update the audit witness file");
    }
}
