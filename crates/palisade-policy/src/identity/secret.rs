//! Minting and checking bearer secrets. A secret looks like `pal_<id>_<secret>` (API key)
//! or `pat_<id>_<secret>` (admin token): the id is public and used for lookup, the secret
//! part is 32 random bytes in base62 and is stored only as a SHA-256 hash. Secrets carry
//! 190 bits of entropy, so a fast hash is the right tool (no password stretching needed);
//! comparison is constant time.

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const ID_LEN: usize = 12;
const SECRET_BYTES: usize = 32;
const ID_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const B62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Which kind of bearer secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    ApiKey,
    AdminToken,
}

impl SecretKind {
    fn prefix(self) -> &'static str {
        match self {
            SecretKind::ApiKey => "pal",
            SecretKind::AdminToken => "pat",
        }
    }
}

/// A freshly minted secret: `plaintext` is shown once and never stored.
#[derive(Clone)]
pub struct IssuedSecret {
    pub id: String,
    pub plaintext: String,
    pub hash: String,
}

impl std::fmt::Debug for IssuedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedSecret")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A random public id of 12 lowercase letters and digits, with a prefix (`usr_…`).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}{}", random_id())
}

fn random_id() -> String {
    let mut rng = rand::rng();
    (0..ID_LEN)
        .map(|_| ID_ALPHABET[(rng.next_u32() as usize) % ID_ALPHABET.len()] as char)
        .collect()
}

/// Mints a new secret of `kind`.
pub fn issue(kind: SecretKind) -> IssuedSecret {
    let mut rng = rand::rng();
    let id = random_id();
    let mut bytes = [0u8; SECRET_BYTES];
    rng.fill_bytes(&mut bytes);
    let secret = base62(&bytes);
    let hash = hash_secret(&id, &secret);
    IssuedSecret {
        plaintext: format!("{}_{}_{}", kind.prefix(), id, secret),
        id,
        hash,
    }
}

/// Splits a presented bearer into `(id, secret)` if it has the shape of `kind`.
pub fn parse(kind: SecretKind, presented: &str) -> Option<(&str, &str)> {
    let rest = presented.strip_prefix(kind.prefix())?.strip_prefix('_')?;
    let (id, secret) = rest.split_once('_')?;
    let id_ok = id.len() == ID_LEN && id.bytes().all(|b| ID_ALPHABET.contains(&b));
    let secret_ok = !secret.is_empty()
        && secret.len() <= 64
        && secret.bytes().all(|b| b.is_ascii_alphanumeric());
    (id_ok && secret_ok).then_some((id, secret))
}

/// The stored hash of a secret, bound to its id so hashes cannot be swapped between rows.
pub fn hash_secret(id: &str, secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"palisade-secret-v1\0");
    h.update(id.as_bytes());
    h.update(b"\0");
    h.update(secret.as_bytes());
    hex(&h.finalize())
}

/// Constant-time check of a presented secret against a stored hash.
pub fn verify(id: &str, secret: &str, stored_hash: &str) -> bool {
    let computed = hash_secret(id, secret);
    computed.as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

/// SHA-256 of arbitrary bytes, as lowercase hex (used to hold the bootstrap token).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// Base62 of a byte string (big-endian number), fixed alphabet, no padding.
fn base62(bytes: &[u8]) -> String {
    let mut digits: Vec<u8> = Vec::with_capacity(44);
    let mut num: Vec<u32> = bytes.iter().map(|&b| u32::from(b)).collect();
    while num.iter().any(|&d| d != 0) {
        let mut rem = 0u32;
        for d in num.iter_mut() {
            let acc = (rem << 8) | *d;
            *d = acc / 62;
            rem = acc % 62;
        }
        digits.push(B62[rem as usize]);
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_secret_round_trips() {
        let s = issue(SecretKind::ApiKey);
        assert!(s.plaintext.starts_with("pal_"));
        let (id, secret) = parse(SecretKind::ApiKey, &s.plaintext).unwrap();
        assert_eq!(id, s.id);
        assert!(verify(id, secret, &s.hash));
        assert!(!verify(id, "wrong", &s.hash));
        assert!(parse(SecretKind::AdminToken, &s.plaintext).is_none());
    }

    #[test]
    fn secrets_are_distinct_and_long() {
        let a = issue(SecretKind::AdminToken);
        let b = issue(SecretKind::AdminToken);
        assert_ne!(a.plaintext, b.plaintext);
        assert!(a.plaintext.len() > 50);
        assert!(!format!("{a:?}").contains(&a.plaintext));
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "pal_",
            "pal_short_x",
            "pal_abcdefghijkl_",
            "pal_ABCDEFGHIJKL_x",
            "sk-123",
        ] {
            assert!(parse(SecretKind::ApiKey, bad).is_none(), "{bad}");
        }
    }
}
