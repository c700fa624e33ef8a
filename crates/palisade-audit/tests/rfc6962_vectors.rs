//! The transparency-dev Merkle test vectors (`tests/vectors/merkle`, Apache-2.0): every
//! `wantErr: false` case is accepted and every `wantErr: true` case rejected.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use base64::Engine as _;
use palisade_audit::merkle::{Hash, verify_consistency, verify_inclusion};
use serde_json::Value;

/// The vectors: from `PALISADE_SHARED_DIR` (`<dir>/data/merkle/testdata`) when set, else
/// the copy kept with this test (`tests/vectors/merkle`, with its licence).
fn testdata() -> PathBuf {
    match std::env::var("PALISADE_SHARED_DIR") {
        Ok(dir) => Path::new(&dir).join("data/merkle/testdata"),
        Err(_) => palisade_testkit::manifest_dir().join("tests/vectors/merkle/testdata"),
    }
}

fn vectors(kind: &str) -> Vec<PathBuf> {
    let root = testdata().join(kind);
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// A hash field; `None` when it is missing, null or not 32 bytes (such a case must fail).
fn hash(v: &Value) -> Option<Hash> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v.as_str()?)
        .ok()?;
    bytes.try_into().ok()
}

/// Raw bytes of a root as received (any length).
fn bytes(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::Null => Some(Vec::new()),
        other => base64::engine::general_purpose::STANDARD
            .decode(other.as_str()?)
            .ok(),
    }
}

fn proof(v: &Value) -> Option<Vec<Hash>> {
    match v {
        Value::Null => Some(Vec::new()),
        Value::Array(items) => items.iter().map(hash).collect(),
        _ => None,
    }
}

#[test]
fn inclusion_vectors() {
    let files = vectors("inclusion");
    assert!(files.len() > 20);
    for file in files {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let want_err = case["wantErr"].as_bool().unwrap();
        let ok = (|| {
            let (leaf, root, proof) = (
                hash(&case["leafHash"])?,
                hash(&case["root"])?,
                proof(&case["proof"])?,
            );
            let index = case["leafIdx"].as_u64()?;
            let size = case["treeSize"].as_u64()?;
            Some(verify_inclusion(index, size, &leaf, &proof, &root).is_ok())
        })()
        .unwrap_or(false);
        assert_eq!(ok, !want_err, "{}", file.display());
    }
}

#[test]
fn consistency_vectors() {
    let files = vectors("consistency");
    assert!(files.len() > 20);
    for file in files {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let want_err = case["wantErr"].as_bool().unwrap();
        let ok = (|| {
            let (root1, root2, proof) = (
                bytes(&case["root1"])?,
                bytes(&case["root2"])?,
                proof(&case["proof"])?,
            );
            let (first, second) = (case["size1"].as_u64()?, case["size2"].as_u64()?);
            Some(verify_consistency(first, second, &root1, &root2, &proof).is_ok())
        })()
        .unwrap_or(false);
        assert_eq!(ok, !want_err, "{}", file.display());
    }
}
