//! The stored form of a record. A record is a `header` (canonical JSON bytes) and, when
//! content was captured, a `content` ciphertext. The header commits to everything:
//! its position (`seq`), the previous record's leaf hash (`prev`), the event, the
//! pseudonymous subject and the SHA-256 of the ciphertext. The Merkle leaf is the RFC
//! 6962 leaf hash of the header bytes exactly as stored, so the ciphertext is covered
//! through its digest, and retention can drop the ciphertext while the tree still
//! verifies.
//!
//! A few header fields are copied into indexed columns for search ([`IndexFields`]); the
//! verifier checks that the copies match the header.

use serde::{Deserialize, Serialize};

use std::borrow::Cow;

use crate::authenticator::Authenticator;
use crate::event::{Decision, Event, Plane, primary_actor};
use crate::merkle::{self, Hash};

/// Header format version.
pub const HEADER_VERSION: u8 = 1;

/// Where a record's encrypted content is and how it is sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentRef {
    /// Hex SHA-256 of the stored ciphertext.
    pub sha256: String,
    /// The id of the subject data key that sealed it.
    pub key_id: String,
    /// Length of the ciphertext in bytes.
    pub len: u64,
    /// How the content is sealed ([`crate::crypto::Sealing`]): `0` (absent in records
    /// written before it existed) directly under the data key, `1` under a key of its own
    /// derived from the data key and a random salt.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub sealing: u8,
}

fn is_zero(n: &u8) -> bool {
    *n == 0
}

/// The signed-over part of a record, serialised once and stored as bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub v: u8,
    pub seq: u64,
    /// Hex leaf hash of record `seq - 1` (zeros for the first record).
    pub prev: String,
    pub event: Event,
    /// Pseudonymous subject reference (keyed hash of the subject id), when content was
    /// captured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<ContentRef>,
    /// The writers' tag over the rest of the header ([`crate::authenticator`]). Always
    /// the last field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

impl Header {
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising a struct of strings and numbers cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Header, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// The searchable copies of this header's fields.
    pub fn index(&self) -> IndexFields {
        let e = &self.event;
        IndexFields {
            time_us: e.time_us,
            plane: e.plane.as_str().to_owned(),
            request_id: e.request_id.clone(),
            actor: e.actor.primary().to_owned(),
            user_id: e.actor.user.clone().unwrap_or_default(),
            model: e.model.clone().unwrap_or_default(),
            decision: e.decision.as_str().to_owned(),
            subject: self.subject.clone().unwrap_or_default(),
        }
    }
}

impl IndexFields {
    /// Whether these columns are exact copies of the header's fields (no allocation: the
    /// verifier runs this for every record).
    pub fn matches(&self, header: &HeaderView<'_>) -> bool {
        let e = &header.event;
        let primary = primary_actor(e.actor.key_id.as_deref(), e.actor.token_id.as_deref());
        self.time_us == e.time_us
            && self.plane == e.plane.as_str()
            && self.request_id == e.request_id
            && self.actor == primary
            && self.user_id == e.actor.user.as_deref().unwrap_or_default()
            && self.model == e.model.as_deref().unwrap_or_default()
            && self.decision == e.decision.as_str()
            && self.subject == header.subject.as_deref().unwrap_or_default()
    }
}

/// The header fields `verify` checks, parsed without copying: strings borrow from the
/// stored bytes (unless they hold JSON escapes). Same format as [`Header`].
#[derive(Debug, Deserialize)]
pub struct HeaderView<'a> {
    pub seq: u64,
    #[serde(borrow)]
    pub prev: Cow<'a, str>,
    #[serde(borrow)]
    pub event: EventView<'a>,
    #[serde(default, borrow)]
    pub subject: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub content: Option<ContentRefView<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct EventView<'a> {
    pub time_us: i64,
    #[serde(borrow)]
    pub request_id: Cow<'a, str>,
    pub plane: Plane,
    #[serde(borrow)]
    pub actor: ActorView<'a>,
    #[serde(borrow)]
    pub action: Cow<'a, str>,
    #[serde(default, borrow)]
    pub model: Option<Cow<'a, str>>,
    pub decision: Decision,
    #[serde(default)]
    pub change: Option<ChangeView>,
}

#[derive(Debug, Deserialize)]
pub struct ActorView<'a> {
    #[serde(default, borrow)]
    pub key_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub user: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub token_id: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
pub struct ChangeView {
    #[serde(default)]
    pub after: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub struct ContentRefView<'a> {
    #[serde(borrow)]
    pub sha256: Cow<'a, str>,
}

impl<'a> HeaderView<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<HeaderView<'a>, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

/// Columns copied from the header so the store can filter without parsing JSON. Empty
/// string means "none".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IndexFields {
    pub time_us: i64,
    pub plane: String,
    pub request_id: String,
    pub actor: String,
    pub user_id: String,
    pub model: String,
    pub decision: String,
    pub subject: String,
}

/// One row of the audit table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub seq: u64,
    pub index: IndexFields,
    pub header: Vec<u8>,
    /// `None` when no content was captured or retention purged it.
    pub content: Option<Vec<u8>>,
    pub leaf_hash: Hash,
}

impl StoredRecord {
    /// Builds the row for a header and its ciphertext, tagging the header with the
    /// writers' authenticator (`header.mac` is set to the tag).
    pub fn seal(
        header: &mut Header,
        content: Option<Vec<u8>>,
        auth: &Authenticator,
    ) -> StoredRecord {
        header.mac = None;
        let bytes = auth.attach(header.to_bytes());
        header.mac = Authenticator::tag_in(&bytes).map(str::to_owned);
        StoredRecord {
            seq: header.seq,
            index: header.index(),
            leaf_hash: merkle::leaf_hash(&bytes),
            header: bytes,
            content,
        }
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// Parses lower- or upper-case hex.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex(&Sha256::digest(bytes))
}
