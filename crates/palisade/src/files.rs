//! Private files: credentials, keys and audit exports the binary writes, with mode 0600
//! (set again on a file that already existed, before anything is written to it), and a
//! warning for key files it reads that other users can read.

use std::path::Path;

use anyhow::Context as _;

pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let mut file = create_private(path)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

/// Creates `path` with `bytes`, readable by its owner only, unless it exists: `false`
/// then, and the file is left as it is. Never a half-written file: the bytes go to a
/// temporary file beside it, which is then linked into place (refused when `path`
/// exists), so instances starting together agree on one key file and none reads
/// another's before it is complete.
pub fn publish_private(path: &Path, bytes: &[u8]) -> anyhow::Result<bool> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // A new file of its own (random name, created exclusively, mode 0600): instances
    // starting together never write into each other's.
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    match tmp.persist_noclobber(path) {
        Ok(_) => Ok(true),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e.error).with_context(|| format!("cannot create {}", path.display())),
    }
}

/// Creates (or truncates) a file readable by its owner only. A regular file that already
/// existed keeps its permissions when opened: they are narrowed before anything is
/// written. A device or pipe (`/dev/null`, `/dev/stdout`) is written as it is.
pub fn create_private(path: &Path) -> anyhow::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let file = opts
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    if file.metadata().is_ok_and(|m| m.is_file()) {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot restrict {} to its owner", path.display()))?;
    }
    Ok(file)
}

/// Logs a warning when `path` (a key file: `what` names its setting) can be read by
/// users other than its owner. Not refused: secrets mounted by orchestrators are often
/// group- or world-readable inside a container nobody else uses.
pub fn warn_if_readable_by_others(path: &Path, what: &str) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                path = %path.display(),
                setting = what,
                mode = format!("{:o}", meta.permissions().mode() & 0o777),
                "a key file is readable by other users: chmod 600 it"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = (path, what);
}
