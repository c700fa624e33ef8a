//! Opening the audit ledger from `[audit]`: the checkpoint signing key and the master key
//! (read from their files, or created with mode 0600 on first run; the master key may
//! come from an environment variable instead), re-wrapping data keys still under a
//! previous master key, and the daily retention purge.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use palisade_audit::checkpoint::{Checkpoint, NoteSigner};
use palisade_audit::crypto::{Keyring, MasterKey};
use palisade_audit::keys::AuditKeys;
use palisade_audit::{Durability, Ledger, LedgerConfig};
use palisade_config::{AuditConfig, AuditDurability, MasterKeySource};
use palisade_store::Store;

use crate::files::{publish_private, warn_if_readable_by_others};

/// How often retention runs (and first, this long after start).
const RETENTION_EVERY: Duration = Duration::from_secs(24 * 3600);
const RETENTION_FIRST: Duration = Duration::from_secs(3600);

/// Opens the ledger, or `None` when `audit.enabled = false`.
pub async fn open(config: &AuditConfig, store: &Store) -> anyhow::Result<Option<Ledger>> {
    if !config.enabled {
        tracing::warn!("audit is disabled (audit.enabled = false): interactions are not recorded");
        return Ok(None);
    }
    let latest = store
        .audit
        .latest_checkpoint()
        .await
        .context("cannot read the audit log's latest checkpoint")?;
    let signer = signer(&config.signing_key_file, &config.origin, latest.is_some())?;
    signs_the_log(store, &signer, &config.signing_key_file, latest).await?;
    pin_signer(store, &signer, &config.signing_key_file).await?;
    let keyring = keyring(config)?;
    let keys = AuditKeys::load(store.audit.as_ref(), keyring)
        .await
        .context("cannot load the audit keys (is this the right audit.master_key?)")?;
    let ledger = Ledger::open(
        Arc::clone(&store.audit),
        keys,
        signer,
        LedgerConfig {
            origin: config.origin.clone(),
            durability: match config.durability {
                AuditDurability::Strict => Durability::Strict,
                AuditDurability::BestEffort => Durability::BestEffort,
            },
            batch_max: config.batch_max,
            checkpoint_every: config.checkpoint_every,
            checkpoint_interval: config.checkpoint_interval,
            commit_timeout: config.commit_timeout,
            witness: Some(witness_path(&config.signing_key_file)),
            ..LedgerConfig::default()
        },
    )
    .await
    .context("cannot open the audit ledger")?;
    // Re-wrapping after the ledger opened: a ledger that refuses to open (its tail
    // tagged under another master key) leaves every key wrapped as it was, so starting
    // again with the old key as the current one still works.
    if !config.previous_master_key_files.is_empty() {
        let n = ledger
            .keys()
            .rotate(store.audit.as_ref())
            .await
            .context("cannot re-wrap audit data keys under the current master key")?;
        tracing::info!(
            rewrapped = n,
            "audit data keys re-wrapped under the current master key"
        );
    }
    Ok(Some(ledger))
}

/// The store's record of the log's signing key (its public key, note format).
const SIGNER_META: &str = "checkpoint_verifier";

/// Pins the log to one signing key: the first instance to open the store records its
/// public key there, and an instance with another key refuses to start — also before
/// the first checkpoint, when two instances started on an empty log with separate key
/// files would otherwise each sign checkpoints no single public key verifies.
async fn pin_signer(store: &Store, signer: &NoteSigner, path: &Path) -> anyhow::Result<()> {
    let ours = signer.verifier().to_text();
    let pinned = store
        .audit
        .set_meta(SIGNER_META, ours.as_bytes(), true)
        .await
        .context("cannot record the audit signing key in the store")?;
    if pinned != ours.as_bytes() {
        anyhow::bail!(
            "the audit log is signed by another key than {} (audit.signing_key_file; the log's is {}): every instance sharing a store must use the same signing key",
            path.display(),
            String::from_utf8_lossy(&pinned).trim()
        );
    }
    Ok(())
}

/// The public key file written beside a signing key file.
pub fn public_key_path(signing_key_file: &Path) -> PathBuf {
    beside(signing_key_file, ".pub")
}

/// The witness file written beside a signing key file: the latest checkpoint this
/// instance signed (see `palisade_audit::witness`).
pub fn witness_path(signing_key_file: &Path) -> PathBuf {
    beside(signing_key_file, ".witness")
}

/// `file` with `suffix` appended to its name.
fn beside(file: &Path, suffix: &str) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Rows the startup check reads past when the latest checkpoint rows are not the key's.
const JUNK_ROWS_READ: usize = 1000;

/// The log's checkpoints must verify with the signing key: a log signed by two keys no
/// longer verifies with either public key, so a different key file (a wrong path, a
/// working directory that changed, an instance started without the shared key) is an
/// error. The latest row decides unless it is not the key's: then rows below it are read
/// (at most [`JUNK_ROWS_READ`]) and one that is lets the start go on — rows anyone with
/// write access could add ahead of the log must not stop it (the writer reports them).
async fn signs_the_log(
    store: &Store,
    signer: &NoteSigner,
    path: &Path,
    latest: Option<palisade_audit::store::StoredCheckpoint>,
) -> anyhow::Result<()> {
    let verifier = signer.verifier();
    let Some(mut row) = latest else {
        return Ok(());
    };
    for _ in 0..JUNK_ROWS_READ {
        if Checkpoint::open(&row.note, &verifier).is_ok() {
            return Ok(());
        }
        row = store
            .audit
            .checkpoint_below(row.size)
            .await
            .context("cannot read the audit log's checkpoints")?
            // No checkpoint row of this log's key at all.
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "the audit log's checkpoints are not signed by {} (audit.signing_key_file): use the key that signed them, or every checkpoint from now on would fail `palisade audit verify`",
                    path.display()
                )
            })?;
    }
    anyhow::bail!(
        "the latest {JUNK_ROWS_READ} checkpoint rows of the audit log are not signed by {} (audit.signing_key_file): run `palisade audit verify` with the log's public key",
        path.display()
    )
}

/// The checkpoint signing key: read from `path`, or created there when the log has no
/// checkpoint yet (`checkpointed`: it has some). A missing key file for a log with
/// checkpoints is an error, never a new key ([`signs_the_log`] checks the key against them).
fn signer(path: &Path, origin: &str, checkpointed: bool) -> anyhow::Result<NoteSigner> {
    if checkpointed && !path.exists() {
        anyhow::bail!(
            "{} (audit.signing_key_file) does not exist, but the audit log has checkpoints signed by a key: point audit.signing_key_file at that key (a new one would make the log unverifiable)",
            path.display()
        );
    }
    let signer = if path.exists() {
        warn_if_readable_by_others(path, "audit.signing_key_file");
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {} (audit.signing_key_file)", path.display()))?;
        NoteSigner::parse(&text).with_context(|| {
            format!(
                "{} is not a signer key (audit.signing_key_file)",
                path.display()
            )
        })?
    } else {
        let signer = NoteSigner::generate(origin)?;
        if publish_private(path, signer.to_text().as_bytes())? {
            tracing::info!(path = %path.display(), "created the audit signing key");
            signer
        } else {
            // Another instance sharing the directory created it first: use theirs.
            return self::signer(path, origin, checkpointed);
        }
    };
    if signer.name() != origin {
        tracing::warn!(
            key_name = signer.name(),
            origin,
            "the audit signing key's name differs from audit.origin"
        );
    }
    let public = public_key_path(path);
    let text = format!("{}\n", signer.verifier().to_text());
    if std::fs::read_to_string(&public).ok().as_deref() != Some(text.as_str()) {
        std::fs::write(&public, text)
            .with_context(|| format!("cannot write {}", public.display()))?;
    }
    Ok(signer)
}

fn keyring(config: &AuditConfig) -> anyhow::Result<Keyring> {
    let current = match &config.master_key {
        MasterKeySource::Inline(text) => MasterKey::from_text(text).context("audit.master_key")?,
        MasterKeySource::File(path) if path.exists() => read_master_key(path)?,
        MasterKeySource::File(path) => {
            let (key, text) = MasterKey::generate();
            if publish_private(path, text.as_bytes())? {
                tracing::warn!(
                    path = %path.display(),
                    "created a new audit master key; keep it apart from the database and back it up: without it, captured content cannot be read"
                );
                key
            } else {
                // Another instance sharing the directory created it first: use theirs.
                read_master_key(path)?
            }
        }
    };
    let previous = config
        .previous_master_key_files
        .iter()
        .map(|p| read_master_key(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Keyring::new(current, previous))
}

fn read_master_key(path: &Path) -> anyhow::Result<MasterKey> {
    warn_if_readable_by_others(path, "audit master key file");
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?,
    );
    MasterKey::from_text(&text)
        .with_context(|| format!("{} holds no valid master key", path.display()))
}

/// Purges captured content older than the retention period, daily.
pub fn spawn_retention(ledger: Ledger, days: u32) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tokio::time::sleep(RETENTION_FIRST).await;
        loop {
            let cutoff = palisade_audit::event::now_us() - i64::from(days) * 86_400_000_000;
            match ledger.purge_before(cutoff).await {
                Ok(n) => tracing::info!(purged = n, retention_days = days, "audit retention ran"),
                Err(e) => tracing::warn!(error = %e, "audit retention failed"),
            }
            tokio::time::sleep(RETENTION_EVERY).await;
        }
    })
}
