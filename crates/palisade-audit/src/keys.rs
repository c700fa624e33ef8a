//! The ledger's keys as one unit: the master [`Keyring`] and the [`SubjectIndex`] whose
//! key is kept in the store wrapped by the master key. Also: opening a record's content
//! for an authorised reader, and master-key rotation.

use std::sync::Arc;

use serde::Serialize;

use crate::crypto::{DataKey, KeyError, Keyring, Sealing, SubjectIndex, content_aad};
use crate::record::{Header, StoredRecord, sha256_hex};
use crate::store::{AuditStore, AuditStoreError};

const INDEX_KEY_META: &str = "subject_index_key";
const INDEX_KEY_LABEL: &str = "palisade-audit-subject-index";

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Store(#[from] AuditStoreError),
}

/// What an authorised reader gets for a record's content.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ContentView {
    /// Nothing was captured for this record.
    None,
    /// Retention removed the ciphertext (its digest stays in the header).
    Purged,
    /// The subject's data key was destroyed (erasure).
    Erased,
    /// The ciphertext does not match the header or does not decrypt.
    Corrupt,
    Plain {
        content: serde_json::Value,
    },
}

/// A subject id counts up to this many characters: longer ids (an end-user id a client
/// sends) are the same subject as their first 256 characters, for sealing and erasure
/// alike.
pub const MAX_SUBJECT_CHARS: usize = 256;

#[derive(Debug)]
pub struct AuditKeys {
    keyring: Keyring,
    index: SubjectIndex,
}

impl AuditKeys {
    /// Loads the subject-index key from the store, creating it on first use.
    pub async fn load(
        store: &dyn AuditStore,
        keyring: Keyring,
    ) -> Result<Arc<AuditKeys>, KeysError> {
        let fresh = SubjectIndex::generate_key();
        let wrapped = keyring.wrap_secret(INDEX_KEY_LABEL, &fresh);
        let stored = store.set_meta(INDEX_KEY_META, &wrapped, true).await?;
        let key = keyring.unwrap_secret(INDEX_KEY_LABEL, &stored)?;
        Ok(Arc::new(AuditKeys {
            keyring,
            index: SubjectIndex::new(key),
        }))
    }

    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// The pseudonymous reference the store uses for a subject id: of its first
    /// [`MAX_SUBJECT_CHARS`] characters, the same whether content is sealed or erased.
    pub fn subject_ref(&self, subject: &str) -> String {
        let end = subject
            .char_indices()
            .nth(MAX_SUBJECT_CHARS)
            .map_or(subject.len(), |(i, _)| i);
        self.index.reference(&subject[..end])
    }

    /// Re-wraps every data key (and the subject-index key) still under an old master
    /// key; returns how many keys were re-wrapped.
    pub async fn rotate(&self, store: &dyn AuditStore) -> Result<u64, KeysError> {
        let mut count = 0;
        if let Some(wrapped) = store.meta(INDEX_KEY_META).await?
            && self.keyring.secret_is_stale(&wrapped)
        {
            let key = self.keyring.unwrap_secret(INDEX_KEY_LABEL, &wrapped)?;
            let rewrapped = self.keyring.wrap_secret(INDEX_KEY_LABEL, &key);
            store.set_meta(INDEX_KEY_META, &rewrapped, false).await?;
            count += 1;
        }
        for key in store.wrapped_keys().await? {
            if self.keyring.is_stale(&key) {
                store
                    .rewrap_subject_key(&self.keyring.rewrap(&key)?)
                    .await?;
                count += 1;
            }
        }
        if count > 0 {
            // A rotation is often made because the old master key leaked: the copies
            // wrapped under it must not stay in the files.
            store.scrub_replaced_keys().await;
        }
        Ok(count)
    }

    /// Decrypts a record's content if the store still holds what it takes.
    pub async fn open_content(
        &self,
        store: &dyn AuditStore,
        record: &StoredRecord,
    ) -> Result<ContentView, KeysError> {
        let Ok(header) = Header::from_bytes(&record.header) else {
            return Ok(ContentView::Corrupt);
        };
        let (Some(content_ref), Some(subject)) = (&header.content, &header.subject) else {
            return Ok(ContentView::None);
        };
        let Some(sealed) = &record.content else {
            return Ok(ContentView::Purged);
        };
        if sha256_hex(sealed) != content_ref.sha256 {
            return Ok(ContentView::Corrupt);
        }
        let key = match store.subject_key(subject).await? {
            Some(k) if k.key_id == content_ref.key_id => k,
            _ => return Ok(ContentView::Erased),
        };
        let dek: DataKey = self.keyring.unwrap(&key)?;
        let aad = content_aad(
            subject,
            &content_ref.key_id,
            &header.event.request_id,
            header.event.time_us,
        );
        let Some(sealing) = Sealing::from_number(content_ref.sealing) else {
            return Ok(ContentView::Corrupt);
        };
        let Ok(plain) = dek.open(sealing, &aad, sealed) else {
            return Ok(ContentView::Corrupt);
        };
        Ok(match serde_json::from_slice(&plain) {
            Ok(content) => ContentView::Plain { content },
            Err(_) => ContentView::Corrupt,
        })
    }
}
