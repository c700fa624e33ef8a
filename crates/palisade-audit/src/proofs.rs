//! Inclusion and consistency proofs over a stored log, in bounded memory: the leaf hashes
//! are read in chunks and folded into the subtree hashes the proof needs
//! ([`merkle::inclusion_ranges`], [`merkle::consistency_ranges`]), so a proof over a
//! log of hundreds of millions of records holds a chunk and a few compact trees, never
//! every leaf hash at once. (Reading is still linear in the tree size.)

use std::ops::Range;

use thiserror::Error;

use crate::merkle::{self, CompactTree, Hash, ProofError};
use crate::store::{AuditStore, AuditStoreError};

/// Leaf hashes read per store call (2 MiB of hashes).
const CHUNK: u64 = 1 << 16;

#[derive(Debug, Error)]
pub enum ProofsError {
    #[error(transparent)]
    Proof(#[from] ProofError),
    #[error(transparent)]
    Store(#[from] AuditStoreError),
    /// The store returned fewer leaf hashes than the range asked for.
    #[error("the store returned {got} leaf hashes for records {from}..{to}")]
    Short { from: u64, to: u64, got: usize },
}

/// An inclusion proof read from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inclusion {
    pub leaf: Hash,
    pub hashes: Vec<Hash>,
    pub root: Hash,
}

/// A consistency proof read from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consistency {
    pub hashes: Vec<Hash>,
    pub first_root: Hash,
    pub second_root: Hash,
}

/// The proof that record `index` is in the tree of the first `size` records.
pub async fn inclusion(
    store: &dyn AuditStore,
    index: u64,
    size: u64,
) -> Result<Inclusion, ProofsError> {
    inclusion_in_chunks(store, index, size, CHUNK).await
}

/// [`inclusion`], reading `chunk` leaf hashes per store call.
pub async fn inclusion_in_chunks(
    store: &dyn AuditStore,
    index: u64,
    size: u64,
    chunk: u64,
) -> Result<Inclusion, ProofsError> {
    let ranges = merkle::inclusion_ranges(index, size)?;
    let mut wanted = ranges;
    wanted.push(index..index + 1);
    wanted.push(0..size);
    let mut roots = range_roots(store, &wanted, chunk).await?;
    let (root, leaf) = (pop(&mut roots), pop(&mut roots));
    Ok(Inclusion {
        leaf,
        hashes: roots,
        root,
    })
}

/// The proof that the tree of the first `second` records extends that of the first
/// `first`.
pub async fn consistency(
    store: &dyn AuditStore,
    first: u64,
    second: u64,
) -> Result<Consistency, ProofsError> {
    consistency_in_chunks(store, first, second, CHUNK).await
}

/// [`consistency`], reading `chunk` leaf hashes per store call.
pub async fn consistency_in_chunks(
    store: &dyn AuditStore,
    first: u64,
    second: u64,
    chunk: u64,
) -> Result<Consistency, ProofsError> {
    let mut wanted = merkle::consistency_ranges(first, second)?;
    wanted.push(0..first);
    wanted.push(0..second);
    let mut roots = range_roots(store, &wanted, chunk).await?;
    let (second_root, first_root) = (pop(&mut roots), pop(&mut roots));
    Ok(Consistency {
        hashes: roots,
        first_root,
        second_root,
    })
}

fn pop(roots: &mut Vec<Hash>) -> Hash {
    roots.pop().unwrap_or_else(merkle::empty_root)
}

/// The tree hash of each range of records, in one pass over the leaves they cover.
async fn range_roots(
    store: &dyn AuditStore,
    ranges: &[Range<u64>],
    chunk: u64,
) -> Result<Vec<Hash>, ProofsError> {
    let end = ranges.iter().map(|r| r.end).max().unwrap_or(0);
    let mut trees: Vec<CompactTree> = ranges.iter().map(|_| CompactTree::new()).collect();
    let mut from = ranges.iter().map(|r| r.start).min().unwrap_or(0);
    while from < end {
        let to = end.min(from + chunk.max(1));
        let chunk = store.leaf_hashes(from, to).await?;
        if chunk.len() as u64 != to - from {
            return Err(ProofsError::Short {
                from,
                to,
                got: chunk.len(),
            });
        }
        for (range, tree) in ranges.iter().zip(&mut trees) {
            let (a, b) = (range.start.max(from), range.end.min(to));
            if a < b {
                let slice = &chunk[(a - from) as usize..(b - from) as usize];
                slice.iter().for_each(|leaf| tree.push(*leaf));
            }
        }
        from = to;
    }
    Ok(trees.iter().map(CompactTree::root).collect())
}
