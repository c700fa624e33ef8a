//! The ledger's keys as one unit: the master [`Keyring`], and the [`SubjectIndex`] and
//! record [`Authenticator`] whose keys are kept in the store wrapped by the master key. Also: opening a record's content
//! for an authorised reader, and master-key rotation.

use std::sync::Arc;

use serde::Serialize;

use zeroize::Zeroizing;

use crate::authenticator::Authenticator;
use crate::crypto::{DataKey, KeyError, Keyring, Sealing, SubjectIndex, content_aad};
use crate::record::{Header, StoredRecord, sha256_hex};
use crate::store::{AuditStore, AuditStoreError};

/// A secret of the ledger's own, kept in the store's meta table wrapped by the master
/// key: the meta row's name and the label the wrapping is bound to.
struct Secret {
    meta: &'static str,
    label: &'static str,
}

const INDEX_KEY: Secret = Secret {
    meta: "subject_index_key",
    label: "palisade-audit-subject-index",
};
const AUTH_KEY: Secret = Secret {
    meta: "record_auth_key",
    label: "palisade-audit-record-auth",
};

/// A secret from the store, or `fresh` stored (wrapped) if there is none yet: writers
/// starting together all end up with the one that was stored first.
async fn load_secret(
    store: &dyn AuditStore,
    keyring: &Keyring,
    secret: &Secret,
    fresh: Zeroizing<Vec<u8>>,
) -> Result<Zeroizing<Vec<u8>>, KeysError> {
    let wrapped = keyring.wrap_secret(secret.label, &fresh);
    let stored = store.set_meta(secret.meta, &wrapped, true).await?;
    Ok(keyring.unwrap_secret(secret.label, &stored)?)
}

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
    authenticator: Authenticator,
}

impl AuditKeys {
    /// Loads the ledger's own secrets (the subject-index key and the record
    /// authenticator's key) from the store, creating each on first use.
    pub async fn load(
        store: &dyn AuditStore,
        keyring: Keyring,
    ) -> Result<Arc<AuditKeys>, KeysError> {
        let index = load_secret(store, &keyring, &INDEX_KEY, SubjectIndex::generate_key()).await?;
        let auth = load_secret(store, &keyring, &AUTH_KEY, Authenticator::generate_key()).await?;
        Ok(Arc::new(AuditKeys {
            keyring,
            index: SubjectIndex::new(index),
            authenticator: Authenticator::new(auth),
        }))
    }

    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// The writers' record authenticator.
    pub fn authenticator(&self) -> &Authenticator {
        &self.authenticator
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
        for secret in [&INDEX_KEY, &AUTH_KEY] {
            if let Some(wrapped) = store.meta(secret.meta).await?
                && self.keyring.secret_is_stale(&wrapped)
            {
                let key = self.keyring.unwrap_secret(secret.label, &wrapped)?;
                let rewrapped = self.keyring.wrap_secret(secret.label, &key);
                store.set_meta(secret.meta, &rewrapped, false).await?;
                count += 1;
            }
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
