//! Record authenticators: what tells a record a Palisade writer made from one anyone with
//! write access to the database made.
//!
//! Signed checkpoints vouch for the records they cover, but a writer also adopts the
//! records it finds after the last checkpoint (its own commits before a crash, other
//! instances' records on a shared store) and then signs checkpoints over them. Without a
//! check there, a well-linked record appended straight into the database would become
//! "signed". So every header carries, as its last field, `"mac"`: HMAC-SHA256, under a
//! key only writers hold, of the header's bytes without that field. A writer adopts a
//! record only if its tag holds.
//!
//! The key is derived from the current master key and the log's origin: nothing in the
//! store helps compute it, a master-key rotation replaces it (a leaked old master key
//! tags nothing a writer with the new one accepts), and a log of another name under the
//! same master key does not share it.
//!
//! The tag is over the stored bytes exactly (the header serialised without `mac`, then
//! `,"mac":"<64 hex>"}` in place of its closing brace), so checking it never depends on
//! serialising a parsed header back the same way.
//!
//! `audit verify` does not check tags: it needs only the public key, and what it vouches
//! for is what checkpoints cover. Its `unsigned_tail` counts the records no checkpoint
//! covers yet.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::crypto::Keyring;
use crate::record::{hex, unhex};

/// `,"mac":"` + 64 hex digits + `"}`.
const SUFFIX_LEN: usize = 8 + 64 + 2;
const SUFFIX_START: &[u8] = br#","mac":""#;
const SUFFIX_END: &[u8] = br#""}"#;
const DOMAIN: &[u8] = b"palisade-audit-record\n";
/// The master-key derivation label of the key.
const LABEL: &str = "palisade-audit-record-auth";

/// The writers' record-authentication key.
pub struct Authenticator {
    key: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Authenticator(..)")
    }
}

impl Authenticator {
    pub fn new(key: Zeroizing<Vec<u8>>) -> Authenticator {
        Authenticator { key }
    }

    /// The writers' key of the log named `origin`, from the current master key.
    pub fn for_log(keyring: &Keyring, origin: &str) -> Authenticator {
        Authenticator::new(keyring.derive(LABEL, origin))
    }

    pub fn generate_key() -> Zeroizing<Vec<u8>> {
        Zeroizing::new(rand::random::<[u8; 32]>().to_vec())
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes a key of any length.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(DOMAIN);
        mac
    }

    /// The header bytes (a JSON object serialised without `mac`) with their tag appended
    /// as the object's last field.
    pub fn attach(&self, mut header: Vec<u8>) -> Vec<u8> {
        let mut mac = self.mac();
        mac.update(&header);
        let tag = hex(&mac.finalize().into_bytes());
        if header.last() == Some(&b'}') {
            header.pop();
        }
        header.reserve(SUFFIX_LEN);
        header.extend_from_slice(SUFFIX_START);
        header.extend_from_slice(tag.as_bytes());
        header.extend_from_slice(SUFFIX_END);
        header
    }

    /// The tag at the end of stored header bytes (unchecked).
    pub fn tag_in(stored: &[u8]) -> Option<&str> {
        let end = stored.len().checked_sub(SUFFIX_END.len())?;
        let start = end.checked_sub(64)?;
        std::str::from_utf8(stored.get(start..end)?).ok()
    }

    /// Whether stored header bytes end with a tag this key made over the rest.
    pub fn check(&self, stored: &[u8]) -> bool {
        let Some(split) = stored.len().checked_sub(SUFFIX_LEN) else {
            return false;
        };
        let (body, suffix) = stored.split_at(split);
        let (start, rest) = suffix.split_at(SUFFIX_START.len());
        let (tag, end) = rest.split_at(64);
        // Lower-case hex only: one tag, one spelling.
        let lower_hex = |b: &u8| b.is_ascii_digit() || (b'a'..=b'f').contains(b);
        if start != SUFFIX_START || end != SUFFIX_END || !tag.iter().all(lower_hex) {
            return false;
        }
        let Some(tag) = std::str::from_utf8(tag).ok().and_then(unhex) else {
            return false;
        };
        let mut mac = self.mac();
        mac.update(body);
        mac.update(b"}");
        // Constant time.
        mac.verify_slice(&tag).is_ok()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::event::{Event, Plane};
    use crate::record::Header;

    fn header() -> Header {
        Header {
            v: 1,
            seq: 7,
            prev: "00".repeat(32),
            event: Event::new(Plane::Data, "req-1", "chat.completions"),
            subject: None,
            content: None,
            mac: None,
        }
    }

    #[test]
    fn a_tagged_header_checks_parses_and_serialises_back_to_the_same_bytes() {
        let auth = Authenticator::new(Authenticator::generate_key());
        let original = header();
        let stored = auth.attach(original.to_bytes());
        assert!(auth.check(&stored));
        let parsed = Header::from_bytes(&stored).unwrap();
        assert_eq!(parsed.mac.as_deref(), Authenticator::tag_in(&stored));
        assert_eq!(parsed.to_bytes(), stored, "the tag is the last field");
        assert_eq!(
            Header {
                mac: None,
                ..parsed
            },
            original
        );
    }

    #[test]
    fn the_key_belongs_to_one_master_key_and_one_log() {
        use crate::crypto::{Keyring, MasterKey};
        let master = |byte| MasterKey::from_bytes([byte; 32]);
        let ring = Keyring::new(master(1), vec![]);
        let stored = Authenticator::for_log(&ring, "a/audit").attach(header().to_bytes());
        assert!(Authenticator::for_log(&ring, "a/audit").check(&stored));
        assert!(!Authenticator::for_log(&ring, "b/audit").check(&stored));
        let rotated = Keyring::new(master(2), vec![master(1)]);
        assert!(!Authenticator::for_log(&rotated, "a/audit").check(&stored));
    }

    #[test]
    fn any_change_a_foreign_key_or_no_tag_fails() {
        let auth = Authenticator::new(Authenticator::generate_key());
        let stored = auth.attach(header().to_bytes());
        for i in 0..stored.len() {
            let mut bad = stored.clone();
            for flip in [0x01, 0x20] {
                bad[i] ^= flip;
                assert!(!auth.check(&bad), "byte {i} changed");
                bad[i] ^= flip;
            }
        }
        let other = Authenticator::new(Authenticator::generate_key());
        assert!(!other.check(&stored));
        assert!(!auth.check(&header().to_bytes()));
        assert!(!auth.check(b""));
        assert!(!auth.check(&stored[1..]));
    }
}
