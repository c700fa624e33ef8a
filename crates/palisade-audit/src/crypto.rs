//! Encryption at rest. Captured content is sealed with AES-256-GCM under a key of its
//! own, derived from the subject's data key and a random salt (so no data key ever seals
//! enough messages under random nonces to approach AES-GCM's limits, however busy the
//! subject); data keys are stored only wrapped (AES-256-GCM) by a master key that lives
//! outside the store (a file or an environment variable). Rotating the master key
//! re-wraps every data key; destroying a subject's wrapped key makes that subject's
//! content unreadable for good (crypto-shredding).
//!
//! Subjects are never stored by name: the store sees a keyed hash ([`SubjectIndex`]),
//! whose key is itself stored wrapped by the master key.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use thiserror::Error;
use zeroize::Zeroizing;

use crate::record::{hex, unhex};
use crate::store::WrappedKey;

const NONCE_LEN: usize = 12;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("a master key must be 32 bytes, given as base64 or hex")]
    BadMasterKey,
    #[error("data key was wrapped by master key {0}, which is not configured")]
    UnknownMasterKey(String),
    #[error("decryption failed: wrong key or altered ciphertext")]
    Decrypt,
    #[error("malformed wrapped key")]
    Malformed,
}

/// A 32-byte key-encryption key with a public id (a hash prefix, safe to store).
pub struct MasterKey {
    id: String,
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey").field("id", &self.id).finish()
    }
}

impl MasterKey {
    pub fn from_bytes(bytes: [u8; 32]) -> MasterKey {
        let mut h = Sha256::new();
        h.update(b"palisade-master-key-id\n");
        h.update(bytes);
        let id = hex(&h.finalize()[..8]);
        MasterKey {
            id,
            key: Zeroizing::new(bytes),
        }
    }

    /// Parses a key written as base64 (standard, padded) or 64 hex digits.
    pub fn from_text(text: &str) -> Result<MasterKey, KeyError> {
        let text = text.trim();
        let bytes = if text.len() == 64 {
            unhex(text)
        } else {
            B64.decode(text).ok()
        };
        let bytes: [u8; 32] = bytes
            .and_then(|b| b.try_into().ok())
            .ok_or(KeyError::BadMasterKey)?;
        Ok(MasterKey::from_bytes(bytes))
    }

    /// A fresh random key and its base64 text form (for a key file).
    pub fn generate() -> (MasterKey, Zeroizing<String>) {
        let bytes: [u8; 32] = rand::random();
        let text = Zeroizing::new(B64.encode(bytes));
        (MasterKey::from_bytes(bytes), text)
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        seal(&self.key, aad, plaintext)
    }

    fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        open(&self.key, aad, sealed)
    }
}

/// The current master key and the previous ones still accepted for unwrapping.
#[derive(Debug)]
pub struct Keyring {
    current: MasterKey,
    previous: Vec<MasterKey>,
}

impl Keyring {
    pub fn new(current: MasterKey, previous: Vec<MasterKey>) -> Keyring {
        Keyring { current, previous }
    }

    pub fn current_id(&self) -> &str {
        self.current.id()
    }

    fn find(&self, id: &str) -> Result<&MasterKey, KeyError> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == id)
            .ok_or_else(|| KeyError::UnknownMasterKey(id.to_owned()))
    }

    /// Wraps a subject's data key under the current master key.
    pub fn wrap(&self, subject: &str, key_id: &str, key: &DataKey, created_us: i64) -> WrappedKey {
        let aad = wrap_aad(subject, key_id);
        WrappedKey {
            subject: subject.to_owned(),
            key_id: key_id.to_owned(),
            master_key_id: self.current.id.clone(),
            wrapped: self.current.seal(&aad, key.0.as_slice()),
            created_us,
        }
    }

    pub fn unwrap(&self, wrapped: &WrappedKey) -> Result<DataKey, KeyError> {
        let master = self.find(&wrapped.master_key_id)?;
        let aad = wrap_aad(&wrapped.subject, &wrapped.key_id);
        let plain = master.open(&aad, &wrapped.wrapped)?;
        let bytes: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::Malformed)?;
        Ok(DataKey(Zeroizing::new(bytes)))
    }

    /// Whether a wrapped key still uses an old master key.
    pub fn is_stale(&self, wrapped: &WrappedKey) -> bool {
        wrapped.master_key_id != self.current.id
    }

    /// The same data key wrapped under the current master key.
    pub fn rewrap(&self, wrapped: &WrappedKey) -> Result<WrappedKey, KeyError> {
        let key = self.unwrap(wrapped)?;
        Ok(self.wrap(&wrapped.subject, &wrapped.key_id, &key, wrapped.created_us))
    }

    /// A key for `label` and `context` derived from the current master key
    /// (HMAC-SHA256): it changes when the master key is rotated, and nothing stored lets
    /// anyone compute it without the master key.
    pub fn derive(&self, label: &str, context: &str) -> Zeroizing<Vec<u8>> {
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(self.current.key.as_slice()) else {
            unreachable!("HMAC accepts any key length");
        };
        mac.update(label.as_bytes());
        mac.update(b"\n");
        mac.update(context.as_bytes());
        Zeroizing::new(mac.finalize().into_bytes().to_vec())
    }

    /// Wraps a ledger secret (stored in the store's meta table): `master id ':' sealed`.
    pub fn wrap_secret(&self, label: &str, secret: &[u8]) -> Vec<u8> {
        let mut out = self.current.id.as_bytes().to_vec();
        out.push(b':');
        out.extend(self.current.seal(label.as_bytes(), secret));
        out
    }

    pub fn unwrap_secret(
        &self,
        label: &str,
        wrapped: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let colon = wrapped
            .iter()
            .position(|b| *b == b':')
            .ok_or(KeyError::Malformed)?;
        let (id, sealed) = wrapped.split_at(colon);
        let id = std::str::from_utf8(id).map_err(|_| KeyError::Malformed)?;
        self.find(id)?.open(label.as_bytes(), &sealed[1..])
    }

    /// Whether a wrapped secret still uses an old master key.
    pub fn secret_is_stale(&self, wrapped: &[u8]) -> bool {
        !wrapped.starts_with(self.current.id.as_bytes())
    }
}

fn wrap_aad(subject: &str, key_id: &str) -> Vec<u8> {
    format!("palisade-audit-dek\n{subject}\n{key_id}").into_bytes()
}

/// A subject's 32-byte content key.
pub struct DataKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl DataKey {
    /// A fresh random key and a random public id for it.
    pub fn generate() -> (DataKey, String) {
        let key = DataKey(Zeroizing::new(rand::random()));
        let id: [u8; 8] = rand::random();
        (key, hex(&id))
    }

    /// Seals one record's content ([`Sealing::RecordKey`]): `salt || nonce ||
    /// ciphertext+tag`, bound to `aad`.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let salt: [u8; SALT_LEN] = rand::random();
        let mut out = salt.to_vec();
        out.extend(seal(&self.record_key(&salt), aad, plaintext));
        out
    }

    /// Opens content sealed the way `sealing` says.
    pub fn open(
        &self,
        sealing: Sealing,
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        match sealing {
            Sealing::DataKey => open(&self.0, aad, sealed),
            Sealing::RecordKey => {
                if sealed.len() < SALT_LEN {
                    return Err(KeyError::Decrypt);
                }
                let (salt, rest) = sealed.split_at(SALT_LEN);
                open(&self.record_key(salt), aad, rest)
            }
        }
    }

    /// HMAC-SHA256(data key, label ‖ salt): the key of one record's content.
    fn record_key(&self, salt: &[u8]) -> Zeroizing<[u8; 32]> {
        let mut key = Zeroizing::new([0u8; 32]);
        if let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(self.0.as_slice()) {
            mac.update(b"palisade-audit-record-key\n");
            mac.update(salt);
            key.copy_from_slice(&mac.finalize().into_bytes());
        }
        key
    }
}

/// Random bytes a record's content key is derived with.
const SALT_LEN: usize = 16;

/// How a record's content is sealed ([`crate::record::ContentRef::sealing`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sealing {
    /// `nonce || ciphertext+tag` directly under the data key (records written before
    /// record keys).
    DataKey,
    /// `salt || nonce || ciphertext+tag` under HMAC-SHA256(data key, label ‖ salt).
    RecordKey,
}

impl Sealing {
    /// The scheme a record's `sealing` number names; `None` for one this version does
    /// not know.
    pub fn from_number(n: u8) -> Option<Sealing> {
        match n {
            0 => Some(Sealing::DataKey),
            1 => Some(Sealing::RecordKey),
            _ => None,
        }
    }

    pub fn number(self) -> u8 {
        match self {
            Sealing::DataKey => 0,
            Sealing::RecordKey => 1,
        }
    }
}

/// The associated data binding a record's content to its subject, key and request. Not
/// to its position: a batch re-sealed at other positions (another instance appended
/// first) keeps its ciphertexts; the header's digest of the ciphertext pins it in place.
pub fn content_aad(subject: &str, key_id: &str, request_id: &str, time_us: i64) -> Vec<u8> {
    format!("palisade-audit-content\n{subject}\n{key_id}\n{request_id}\n{time_us}").into_bytes()
}

fn seal(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(key.into());
    let nonce: [u8; NONCE_LEN] = rand::random();
    let mut out = nonce.to_vec();
    // AES-GCM encryption only fails for plaintexts beyond 64 GiB.
    if let Ok(ct) = cipher.encrypt(
        Nonce::from_slice(&nonce),
        Payload {
            msg: plaintext,
            aad,
        },
    ) {
        out.extend(ct);
    }
    out
}

fn open(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    if sealed.len() < NONCE_LEN + 16 {
        return Err(KeyError::Decrypt);
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    let cipher = Aes256Gcm::new(key.into());
    cipher
        .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
        .map(Zeroizing::new)
        .map_err(|_| KeyError::Decrypt)
}

/// Turns subject ids (user ids, end-user ids — personal data) into stable pseudonymous
/// references with a keyed hash, so the store never holds the id itself.
pub struct SubjectIndex {
    key: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for SubjectIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SubjectIndex(..)")
    }
}

impl SubjectIndex {
    pub fn new(key: Zeroizing<Vec<u8>>) -> SubjectIndex {
        SubjectIndex { key }
    }

    pub fn generate_key() -> Zeroizing<Vec<u8>> {
        Zeroizing::new(rand::random::<[u8; 32]>().to_vec())
    }

    /// `s_` and 32 hex digits of HMAC-SHA256(key, subject).
    pub fn reference(&self, subject: &str) -> String {
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&self.key) else {
            return String::new();
        };
        mac.update(subject.as_bytes());
        format!("s_{}", hex(&mac.finalize().into_bytes()[..16]))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn content_round_trips_and_is_bound_to_its_aad() {
        let (key, _) = DataKey::generate();
        let sealed = key.seal(b"a", b"hello");
        let open = |aad: &[u8], sealed: &[u8]| key.open(Sealing::RecordKey, aad, sealed);
        assert_eq!(open(b"a", &sealed).unwrap().as_slice(), b"hello");
        assert_eq!(open(b"b", &sealed), Err(KeyError::Decrypt));
        for at in [3, SALT_LEN + 3, sealed.len() - 1] {
            // The salt, the nonce or the ciphertext altered.
            let mut bad = sealed.clone();
            bad[at] ^= 1;
            assert_eq!(open(b"a", &bad), Err(KeyError::Decrypt), "byte {at}");
        }
        assert_eq!(open(b"a", &sealed[..SALT_LEN]), Err(KeyError::Decrypt));
        // Read as the other scheme, it does not open.
        assert_eq!(
            key.open(Sealing::DataKey, b"a", &sealed),
            Err(KeyError::Decrypt)
        );
    }

    #[test]
    fn every_record_has_a_key_of_its_own() {
        // Two records of one subject with the same text: different salts, different keys,
        // neither opens with the other's salt.
        let (key, _) = DataKey::generate();
        let (a, b) = (key.seal(b"x", b"same"), key.seal(b"x", b"same"));
        assert_ne!(a[..SALT_LEN], b[..SALT_LEN]);
        assert_ne!(
            *key.record_key(&a[..SALT_LEN]),
            *key.record_key(&b[..SALT_LEN])
        );
        let mut swapped = b[..SALT_LEN].to_vec();
        swapped.extend_from_slice(&a[SALT_LEN..]);
        assert_eq!(
            key.open(Sealing::RecordKey, b"x", &swapped),
            Err(KeyError::Decrypt)
        );
    }

    #[test]
    fn content_sealed_under_the_data_key_itself_still_opens() {
        // Records written before record keys: `nonce || ciphertext` under the data key.
        let (key, _) = DataKey::generate();
        let legacy = seal(&key.0, b"a", b"old record");
        assert_eq!(
            key.open(Sealing::DataKey, b"a", &legacy)
                .unwrap()
                .as_slice(),
            b"old record"
        );
        assert_eq!(Sealing::from_number(0), Some(Sealing::DataKey));
        assert_eq!(Sealing::from_number(1), Some(Sealing::RecordKey));
        assert_eq!(Sealing::from_number(2), None);
    }

    #[test]
    fn rotation_rewraps_under_the_new_master_key() {
        let (old, old_text) = MasterKey::generate();
        let ring = Keyring::new(old, vec![]);
        let (dek, id) = DataKey::generate();
        let wrapped = ring.wrap("s_1", &id, &dek, 0);
        let sealed = dek.seal(b"x", b"secret");

        let (new, _) = MasterKey::generate();
        let rotated = Keyring::new(new, vec![MasterKey::from_text(&old_text).unwrap()]);
        assert!(rotated.is_stale(&wrapped));
        let rewrapped = rotated.rewrap(&wrapped).unwrap();
        assert!(!rotated.is_stale(&rewrapped));
        let only_new = Keyring::new(MasterKey::from_bytes([0; 32]), vec![]);
        assert!(only_new.unwrap(&rewrapped).is_err());
        let dek2 = rotated.unwrap(&rewrapped).unwrap();
        assert_eq!(
            dek2.open(Sealing::RecordKey, b"x", &sealed)
                .unwrap()
                .as_slice(),
            b"secret"
        );
    }

    #[test]
    fn master_keys_parse_from_base64_or_hex() {
        let hex_text = "00".repeat(32);
        let a = MasterKey::from_text(&hex_text).unwrap();
        let b = MasterKey::from_text(&B64.encode([0u8; 32])).unwrap();
        assert_eq!(a.id(), b.id());
        assert_eq!(
            MasterKey::from_text("short").unwrap_err(),
            KeyError::BadMasterKey
        );
    }

    #[test]
    fn subject_references_are_keyed() {
        let a = SubjectIndex::new(Zeroizing::new(vec![1; 32]));
        let b = SubjectIndex::new(Zeroizing::new(vec![2; 32]));
        assert_eq!(a.reference("alice"), a.reference("alice"));
        assert_ne!(a.reference("alice"), b.reference("alice"));
        assert!(!a.reference("alice").contains("alice"));
    }
}
