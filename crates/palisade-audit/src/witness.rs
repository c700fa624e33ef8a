//! The witness file: the latest checkpoint this writer signed, kept outside the database
//! (beside the signing key). At start, the store's log must pass through it: records
//! deleted together with the checkpoints covering them while the gateway was down (a
//! rollback) are refused, as a running writer refuses them ([`crate::tail`]).
//!
//! Written after each checkpoint the writer signs, and at start with the largest
//! checkpoint the records were checked against (signed by another instance, say), but
//! only over a smaller one: instances sharing the key's directory share the file (and
//! take turns through a lock file beside it), and it never goes back. Each write goes to a temporary file of its own, synced, renamed over
//! the old one, and the directory synced, so a crash or a concurrent write leaves the
//! old witness or the new one, never a torn file (which would refuse the next start). A
//! write that fails is logged and the older witness stays, which only weakens the check.
//! A missing file is no witness (a first start, or an operator who, knowingly, gives up
//! the records it vouched for).

use std::io::Write as _;
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

/// Replaces the witness with `note`, a checkpoint of `size` records of this log (just
/// signed, or checked against the records), unless it already holds one as large.
/// Instances sharing the key's directory take turns (an exclusive lock on
/// `<witness>.lock` around the read and the rename), so none puts a smaller checkpoint
/// back over a larger one another just wrote.
pub(crate) fn write(path: &Path, note: &str, size: u64, verifier: &NoteVerifier, origin: &str) {
    let written = (|| {
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(beside(path, ".lock"))?;
        lock.lock()?;
        if let Ok(Some((held, _))) = read(path, verifier, origin)
            && held >= size
        {
            return Ok(());
        }
        replace(path, note)
        // The lock goes with the file handle.
    })();
    if let Err(e) = written {
        tracing::warn!(error = %e, path = %path.display(), "cannot update the audit witness file");
    }
}

/// Writes `note` to `<path>.tmp`, syncs it, renames it over `path` and syncs the
/// directory. Only under the lock of [`write`], which excludes every other writer of
/// the file, in this process and others: one temporary name is enough.
fn replace(path: &Path, note: &str) -> std::io::Result<()> {
    let tmp = beside(path, ".tmp");
    let written = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(note.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)?.sync_all()
}

/// `path` with `suffix` appended to its name.
fn beside(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    std::path::PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::checkpoint::NoteSigner;

    #[test]
    fn a_witness_never_goes_back_and_refuses_what_is_not_the_logs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.key.witness");
        let signer = NoteSigner::generate("log").unwrap();
        let verifier = signer.verifier();
        let note = |size| {
            Checkpoint {
                origin: "log".into(),
                size,
                root: [size as u8; 32],
            }
            .sign(&signer)
        };
        assert_eq!(read(&path, &verifier, "log").unwrap(), None);
        for (size, held) in [(5, 5), (3, 5), (7, 7), (7, 7)] {
            write(&path, &note(size), size, &verifier, "log");
            let (read_size, _) = read(&path, &verifier, "log").unwrap().unwrap();
            assert_eq!(read_size, held, "after writing {size}");
        }
        assert!(read(&path, &verifier, "other-log").is_err());
        std::fs::write(&path, "not a note").unwrap();
        assert!(read(&path, &verifier, "log").is_err());
    }
}
