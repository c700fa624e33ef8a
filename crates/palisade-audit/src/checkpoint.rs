//! Signed checkpoints: the tree size and root, in the C2SP `tlog-checkpoint` format,
//! signed with Ed25519 as a C2SP `signed-note`. Keys use the note key encodings of
//! `golang.org/x/mod/sumdb/note`, so standard tooling can check a Palisade checkpoint:
//! verifier key `<name>+<hash>+<base64(0x01 ‖ public key)>`, signer key
//! `PRIVATE+KEY+<name>+<hash>+<base64(0x01 ‖ seed)>`, where `<hash>` is the first four
//! bytes of `SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)` in hex.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest, Sha256};
use thiserror::Error;
use zeroize::Zeroizing;

use crate::merkle::Hash;
use crate::record::{hex, unhex};

const ALG_ED25519: u8 = 0x01;
const SIG_PREFIX: &str = "\u{2014} ";
/// Most signature lines a note may carry (C2SP signed notes: verifiers reject more).
const MAX_SIGNATURES: usize = 100;
/// Most bytes a note may have: a checkpoint's body is about a hundred, each signature
/// line under two hundred. Anything larger is padding someone added to a stored note.
const MAX_NOTE_BYTES: usize = 32 * 1024;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum NoteError {
    #[error("malformed key: {0}")]
    BadKey(&'static str),
    #[error("malformed checkpoint: {0}")]
    Malformed(&'static str),
    #[error("no valid signature by key `{0}`")]
    BadSignature(String),
    #[error("checkpoint is for log `{found}`, expected `{expected}`")]
    WrongOrigin { expected: String, found: String },
}

fn key_hash(name: &str, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ALG_ED25519]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('+') && !name.chars().any(|c| c.is_whitespace())
}

/// The key that signs checkpoints.
pub struct NoteSigner {
    name: String,
    key: SigningKey,
    hash: [u8; 4],
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .finish()
    }
}

impl NoteSigner {
    /// A new random key named `name` (conventionally the log's origin).
    pub fn generate(name: &str) -> Result<NoteSigner, NoteError> {
        if !valid_name(name) {
            return Err(NoteError::BadKey(
                "name must be non-empty, without '+' or spaces",
            ));
        }
        let seed: Zeroizing<[u8; 32]> = Zeroizing::new(rand::random());
        Ok(NoteSigner::from_seed(name, &seed))
    }

    fn from_seed(name: &str, seed: &[u8; 32]) -> NoteSigner {
        let key = SigningKey::from_bytes(seed);
        let hash = key_hash(name, key.verifying_key().as_bytes());
        NoteSigner {
            name: name.to_owned(),
            key,
            hash,
        }
    }

    /// Parses `PRIVATE+KEY+<name>+<hash>+<base64>`.
    pub fn parse(text: &str) -> Result<NoteSigner, NoteError> {
        let rest = text
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(NoteError::BadKey("signer key must start with PRIVATE+KEY+"))?;
        let (name, hash, bytes) = split_key(rest)?;
        let seed: Zeroizing<[u8; 32]> = Zeroizing::new(
            bytes
                .as_slice()
                .try_into()
                .map_err(|_| NoteError::BadKey("wrong key length"))?,
        );
        let signer = NoteSigner::from_seed(&name, &seed);
        if signer.hash != hash {
            return Err(NoteError::BadKey("key hash does not match"));
        }
        Ok(signer)
    }

    /// The signer key text, for a private key file.
    pub fn to_text(&self) -> Zeroizing<String> {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        let text = Zeroizing::new(format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.name,
            hex(&self.hash),
            B64.encode(&raw)
        ));
        raw.iter_mut().for_each(|b| *b = 0);
        text
    }

    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key: self.key.verifying_key(),
            hash: self.hash,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Signs a note body (which must end with a newline).
    pub fn sign(&self, body: &str) -> String {
        let sig = self.key.sign(body.as_bytes());
        let mut blob = self.hash.to_vec();
        blob.extend_from_slice(&sig.to_bytes());
        format!("{body}\n{SIG_PREFIX}{} {}\n", self.name, B64.encode(blob))
    }
}

/// The public key that checks checkpoint signatures.
#[derive(Debug, Clone)]
pub struct NoteVerifier {
    name: String,
    key: VerifyingKey,
    hash: [u8; 4],
}

impl NoteVerifier {
    /// Parses `<name>+<hash>+<base64(0x01 ‖ key)>`.
    pub fn parse(text: &str) -> Result<NoteVerifier, NoteError> {
        let (name, hash, bytes) = split_key(text.trim())?;
        let raw: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| NoteError::BadKey("wrong key length"))?;
        let key =
            VerifyingKey::from_bytes(&raw).map_err(|_| NoteError::BadKey("not an Ed25519 key"))?;
        if key_hash(&name, &raw) != hash {
            return Err(NoteError::BadKey("key hash does not match"));
        }
        Ok(NoteVerifier { name, key, hash })
    }

    pub fn to_text(&self) -> String {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        format!("{}+{}+{}", self.name, hex(&self.hash), B64.encode(raw))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Checks a signed note and returns its body if one signature line is a valid
    /// signature by this key.
    pub fn open<'a>(&self, note: &'a str) -> Result<&'a str, NoteError> {
        if note.len() > MAX_NOTE_BYTES {
            return Err(NoteError::Malformed("longer than a note can be"));
        }
        let split = note
            .rfind("\n\n")
            .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
        let body = &note[..=split];
        let sigs = &note[split + 2..];
        if sigs.lines().nth(MAX_SIGNATURES).is_some() {
            return Err(NoteError::Malformed(
                "more signature lines than a note may carry",
            ));
        }
        for line in sigs.lines() {
            let Some(rest) = line.strip_prefix(SIG_PREFIX) else {
                return Err(NoteError::Malformed(
                    "signature line must start with an em dash",
                ));
            };
            let Some((name, sig)) = rest.split_once(' ') else {
                continue;
            };
            if name != self.name {
                continue;
            }
            let Ok(blob) = B64.decode(sig) else { continue };
            if blob.len() != 68 || blob[..4] != self.hash {
                continue;
            }
            let Ok(sig) = Signature::from_slice(&blob[4..]) else {
                continue;
            };
            if self.key.verify(body.as_bytes(), &sig).is_ok() {
                return Ok(body);
            }
        }
        Err(NoteError::BadSignature(self.name.clone()))
    }
}

fn split_key(text: &str) -> Result<(String, [u8; 4], Vec<u8>), NoteError> {
    // The base64 key itself may contain '+': split off the first two fields only.
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(hash), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(NoteError::BadKey("expected <name>+<hash>+<key>"));
    };
    if !valid_name(name) {
        return Err(NoteError::BadKey("bad key name"));
    }
    let hash: [u8; 4] = unhex(hash)
        .and_then(|h| h.try_into().ok())
        .ok_or(NoteError::BadKey("bad key hash"))?;
    let raw = B64
        .decode(b64)
        .map_err(|_| NoteError::BadKey("bad base64"))?;
    match raw.split_first() {
        Some((&ALG_ED25519, key)) => Ok((name.to_owned(), hash, key.to_vec())),
        _ => Err(NoteError::BadKey("not an Ed25519 key")),
    }
}

/// A tree head: the log's origin line, size and root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl Checkpoint {
    /// The checkpoint body: `origin\nsize\nbase64(root)\n`.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    pub fn sign(&self, signer: &NoteSigner) -> String {
        signer.sign(&self.body())
    }

    /// Checks the signature and parses a signed checkpoint.
    pub fn open(note: &str, verifier: &NoteVerifier) -> Result<Checkpoint, NoteError> {
        let body = verifier.open(note)?;
        let mut lines = body.lines();
        let origin = lines.next().ok_or(NoteError::Malformed("no origin line"))?;
        let size = lines
            .next()
            .and_then(|l| l.parse::<u64>().ok())
            .ok_or(NoteError::Malformed("bad size line"))?;
        let root: Hash = lines
            .next()
            .and_then(|l| B64.decode(l).ok())
            .and_then(|r| r.try_into().ok())
            .ok_or(NoteError::Malformed("bad root line"))?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn a_signed_checkpoint_opens_and_any_change_breaks_it() {
        let signer = NoteSigner::generate("palisade.example/audit").unwrap();
        let cp = Checkpoint {
            origin: "palisade.example/audit".into(),
            size: 42,
            root: [7; 32],
        };
        let note = cp.sign(&signer);
        assert!(note.starts_with("palisade.example/audit\n42\n"));
        assert!(note.contains("\n\n\u{2014} palisade.example/audit "));
        let verifier = NoteVerifier::parse(&signer.verifier().to_text()).unwrap();
        assert_eq!(Checkpoint::open(&note, &verifier).unwrap(), cp);

        let forged = note.replacen("\n42\n", "\n41\n", 1);
        assert!(matches!(
            Checkpoint::open(&forged, &verifier),
            Err(NoteError::BadSignature(_))
        ));
        let other = NoteSigner::generate("palisade.example/audit").unwrap();
        assert!(Checkpoint::open(&note, &other.verifier()).is_err());
    }

    #[test]
    fn a_genuine_note_padded_with_other_lines_is_refused_past_the_bounds() {
        let signer = NoteSigner::generate("log").unwrap();
        let cp = Checkpoint {
            origin: "log".into(),
            size: 3,
            root: [1; 32],
        };
        let note = cp.sign(&signer);
        let verifier = signer.verifier();
        let other = "\u{2014} other c2lnbmF0dXJl\n";
        let some = format!("{note}{}", other.repeat(10));
        assert!(
            Checkpoint::open(&some, &verifier).is_ok(),
            "other signers' lines are fine"
        );
        let many = format!("{note}{}", other.repeat(MAX_SIGNATURES));
        assert!(matches!(
            Checkpoint::open(&many, &verifier),
            Err(NoteError::Malformed(_))
        ));
        let long = format!("{note}\u{2014} {}\n", "x".repeat(MAX_NOTE_BYTES));
        assert!(matches!(
            Checkpoint::open(&long, &verifier),
            Err(NoteError::Malformed(_))
        ));
    }

    #[test]
    fn keys_round_trip_through_their_text_forms() {
        let signer = NoteSigner::generate("log").unwrap();
        let again = NoteSigner::parse(&signer.to_text()).unwrap();
        assert_eq!(again.verifier().to_text(), signer.verifier().to_text());
        assert!(signer.verifier().to_text().starts_with("log+"));
        let good = signer.verifier().to_text();
        for i in 0..good.len() {
            let mut bad = good.clone().into_bytes();
            bad[i] += 1; // as Go's note tests mangle keys
            if let Ok(bad) = String::from_utf8(bad) {
                assert!(NoteVerifier::parse(&bad).is_err(), "mangled at {i}: {bad}");
            }
        }
    }

    /// The golang.org/x/mod/sumdb/note example key and signed note.
    #[test]
    fn accepts_a_note_signed_by_the_go_implementation() {
        let vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
        let note = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n\
                    \n\
                    \u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
        let verifier = NoteVerifier::parse(vkey).unwrap();
        let skey = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
        let signer = NoteSigner::parse(skey).unwrap();
        assert_eq!(signer.verifier().to_text(), vkey);
        let body = note.split("\n\n").next().unwrap().to_owned() + "\n";
        assert_eq!(
            signer.sign(&body),
            note,
            "Ed25519 is deterministic: byte-identical"
        );
        assert_eq!(
            verifier.open(note).unwrap(),
            "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
        );
    }
}
