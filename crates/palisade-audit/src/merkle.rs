//! RFC 6962 Merkle tree hashing (as restated in RFC 9162 §2.1): leaf and node hashes,
//! tree heads, inclusion and consistency proofs, and their verification. Verification
//! follows RFC 9162's algorithms exactly, so any honest prover's proofs are accepted and
//! every altered one is rejected; it is checked against the transparency-dev test
//! vectors in `shared/data/merkle`.

use std::ops::Range;

use sha2::{Digest, Sha256};
use thiserror::Error;

pub type Hash = [u8; 32];

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ProofError {
    #[error("index {index} is not inside a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("tree size {second} is smaller than {first}")]
    SizesOutOfOrder { first: u64, second: u64 },
    #[error("consistency with the empty tree proves nothing")]
    EmptyTree,
    #[error("the proof has the wrong number of hashes")]
    WrongLength,
    #[error("the proof does not lead to the expected root")]
    RootMismatch,
}

/// `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of an empty tree: `SHA-256()` of nothing.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two smaller than `n` (n ≥ 2).
fn split(n: u64) -> u64 {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// Merkle tree hash of leaf hashes (RFC 9162 §2.1.1).
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n as u64) as usize;
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The inclusion proof of leaf `index` in the tree of these leaves (RFC 9162 §2.1.3.1).
pub fn inclusion_proof(leaves: &[Hash], index: usize) -> Result<Vec<Hash>, ProofError> {
    Ok(range_roots(
        leaves,
        inclusion_ranges(index as u64, leaves.len() as u64)?,
    ))
}

/// The consistency proof between the tree of the first `first` leaves and the tree of
/// all leaves (RFC 9162 §2.1.4.1).
pub fn consistency_proof(leaves: &[Hash], first: usize) -> Result<Vec<Hash>, ProofError> {
    Ok(range_roots(
        leaves,
        consistency_ranges(first as u64, leaves.len() as u64)?,
    ))
}

fn range_roots(leaves: &[Hash], ranges: Vec<Range<u64>>) -> Vec<Hash> {
    ranges
        .into_iter()
        .map(|r| root(&leaves[r.start as usize..r.end as usize]))
        .collect()
}

/// The leaf ranges whose subtree hashes are, in order, the inclusion proof of leaf
/// `index` in the tree of `size` leaves: RFC 9162's `PATH`, with each `MTH(D[a:b])` as
/// the range `a..b`. A proof is then computed from the leaves or from a store, one range
/// at a time.
pub fn inclusion_ranges(index: u64, size: u64) -> Result<Vec<Range<u64>>, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut out = Vec::new();
    path(index, 0..size, &mut out);
    Ok(out)
}

fn path(m: u64, d: Range<u64>, out: &mut Vec<Range<u64>>) {
    let n = d.end - d.start;
    if n <= 1 {
        return;
    }
    let mid = d.start + split(n);
    if m < mid - d.start {
        path(m, d.start..mid, out);
        out.push(mid..d.end);
    } else {
        path(m - (mid - d.start), mid..d.end, out);
        out.push(d.start..mid);
    }
}

/// The leaf ranges whose subtree hashes are, in order, the consistency proof between the
/// trees of `first` and of `size` leaves: RFC 9162's `SUBPROOF`, as ranges.
pub fn consistency_ranges(first: u64, size: u64) -> Result<Vec<Range<u64>>, ProofError> {
    if first > size {
        return Err(ProofError::SizesOutOfOrder {
            first,
            second: size,
        });
    }
    if first == 0 {
        return Err(ProofError::EmptyTree);
    }
    let mut out = Vec::new();
    if first < size {
        subproof(first, 0..size, true, &mut out);
    }
    Ok(out)
}

fn subproof(m: u64, d: Range<u64>, complete: bool, out: &mut Vec<Range<u64>>) {
    let n = d.end - d.start;
    if m == n {
        if !complete {
            out.push(d);
        }
        return;
    }
    let mid = d.start + split(n);
    if m <= mid - d.start {
        subproof(m, d.start..mid, complete, out);
        out.push(mid..d.end);
    } else {
        subproof(m - (mid - d.start), mid..d.end, false, out);
        out.push(d.start..mid);
    }
}

/// Verifies that `leaf` is at `index` in the tree of `size` with head `root`
/// (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return Err(ProofError::WrongLength);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongLength);
    }
    if &r != root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Verifies that the tree of `second` leaves with head `root2` extends the tree of
/// `first` leaves with head `root1` (RFC 9162 §2.1.4.2). Roots are taken as bytes as
/// received: a malformed one simply fails to match.
pub fn verify_consistency(
    first: u64,
    second: u64,
    root1: &[u8],
    root2: &[u8],
    proof: &[Hash],
) -> Result<(), ProofError> {
    if second < first {
        return Err(ProofError::SizesOutOfOrder { first, second });
    }
    if first == 0 {
        return Err(ProofError::EmptyTree);
    }
    if first == second {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if root1 == root2 {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    if proof.is_empty() {
        return Err(ProofError::WrongLength);
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(root1.try_into().map_err(|_| ProofError::RootMismatch)?);
    }
    path.extend_from_slice(proof);
    let (mut fn_, mut sn) = (first - 1, second - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if sn == 0 {
            return Err(ProofError::WrongLength);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongLength);
    }
    if fr.as_slice() != root1 || sr.as_slice() != root2 {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// An append-only tree that keeps only the roots of its perfect subtrees (at most one per
/// bit of the size), so appending is amortised one node hash and the root is O(log n).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactTree {
    size: u64,
    /// Roots of the perfect subtrees, largest (leftmost) first.
    peaks: Vec<Hash>,
}

impl CompactTree {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds the tree of these leaves.
    pub fn from_leaves(leaves: &[Hash]) -> Self {
        let mut tree = CompactTree::new();
        leaves.iter().for_each(|l| tree.push(*l));
        tree
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn push(&mut self, leaf: Hash) {
        let mut hash = leaf;
        let mut size = self.size;
        while size & 1 == 1 {
            if let Some(left) = self.peaks.pop() {
                hash = node_hash(&left, &hash);
            }
            size >>= 1;
        }
        self.peaks.push(hash);
        self.size += 1;
    }

    /// The tree head: the peaks folded right to left.
    pub fn root(&self) -> Hash {
        let mut peaks = self.peaks.iter().rev();
        let Some(last) = peaks.next() else {
            return empty_root();
        };
        peaks.fold(*last, |acc, left| node_hash(left, &acc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(format!("record {i}").as_bytes()))
            .collect()
    }

    #[test]
    fn own_proofs_verify_for_every_size_and_position() {
        for n in 1..=40 {
            let d = leaves(n);
            let head = root(&d);
            for i in 0..n {
                let proof = inclusion_proof(&d, i).unwrap();
                assert_eq!(
                    verify_inclusion(i as u64, n as u64, &d[i], &proof, &head),
                    Ok(()),
                    "n={n} i={i}"
                );
                let wrong = leaf_hash(b"forged");
                assert!(verify_inclusion(i as u64, n as u64, &wrong, &proof, &head).is_err());
            }
            for m in 1..=n {
                let proof = consistency_proof(&d, m).unwrap();
                assert_eq!(
                    verify_consistency(m as u64, n as u64, &root(&d[..m]), &head, &proof),
                    Ok(()),
                    "m={m} n={n}"
                );
            }
        }
    }

    #[test]
    fn the_compact_tree_has_the_same_root_as_the_full_one() {
        let all = leaves(70);
        let mut tree = CompactTree::new();
        assert_eq!(tree.root(), empty_root());
        for n in 1..=all.len() {
            tree.push(all[n - 1]);
            assert_eq!(tree.root(), root(&all[..n]), "size {n}");
        }
        assert_eq!(
            CompactTree::from_leaves(&all[..33]).root(),
            root(&all[..33])
        );
    }

    #[test]
    fn a_changed_leaf_changes_the_root_and_breaks_consistency() {
        let d = leaves(10);
        let mut edited = d.clone();
        edited[3] = leaf_hash(b"edited");
        assert_ne!(root(&d), root(&edited));
        let proof = consistency_proof(&edited, 5).unwrap();
        assert!(verify_consistency(5, 10, &root(&d[..5]), &root(&edited), &proof).is_err());
    }
}
