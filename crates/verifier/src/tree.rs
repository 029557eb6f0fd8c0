//! The log's Merkle tree recomputed from the record's leaf hashes
//! (`spec/tlog.md` §2–§4): 32 bytes per entry; stored hashes of complete
//! subtrees are computed on demand, so consistency proofs are derived
//! locally and verified like a board's.

use tallyboard_tlog::{
    consistency_proof, merkle_tree_hash, split_stored_hash_index, Hash, HashReader,
};

/// Leaf hashes of the record, in log order.
#[derive(Debug, Default)]
pub struct LeafTree {
    leaves: Vec<Hash>,
}

/// A stored hash outside the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("stored hash {0} is outside the tree")]
pub struct OutOfTree(pub u64);

impl LeafTree {
    /// An empty tree with room for `n` leaves (capped, the hint is untrusted).
    pub fn with_capacity(n: u64) -> Self {
        Self {
            leaves: Vec::with_capacity(usize::try_from(n.min(1 << 24)).unwrap_or(0)),
        }
    }
    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        self.leaves.push(leaf);
    }
    /// Every leaf hash, in log order.
    pub fn leaves(&self) -> &[Hash] {
        &self.leaves
    }
    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.leaves.len() as u64
    }
    /// Whether the tree is empty.
    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }
    /// The leaf hash of entry `i`.
    pub fn leaf(&self, i: u64) -> Option<Hash> {
        usize::try_from(i)
            .ok()
            .and_then(|i| self.leaves.get(i))
            .copied()
    }
    /// `MTH(D[0..size])`, for `size ≤ self.size()`.
    pub fn root(&self, size: u64) -> Option<Hash> {
        let n = usize::try_from(size).ok()?;
        self.leaves.get(..n).map(merkle_tree_hash)
    }
    /// The consistency proof from `old` to `new` (`1 ≤ old ≤ new ≤ size`).
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, String> {
        consistency_proof(old, new, self).map_err(|e| e.to_string())
    }
}

impl HashReader for LeafTree {
    type Error = OutOfTree;

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, OutOfTree> {
        indexes
            .iter()
            .map(|&index| {
                let (level, n) = split_stored_hash_index(index);
                let width = 1u64.checked_shl(level).ok_or(OutOfTree(index))?;
                let start = n.checked_mul(width).ok_or(OutOfTree(index))?;
                let end = start.checked_add(width).ok_or(OutOfTree(index))?;
                let (s, e) = (
                    usize::try_from(start).map_err(|_| OutOfTree(index))?,
                    usize::try_from(end).map_err(|_| OutOfTree(index))?,
                );
                self.leaves
                    .get(s..e)
                    .map(merkle_tree_hash)
                    .ok_or(OutOfTree(index))
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tallyboard_tlog::{leaf_hash, verify_consistency, MemoryTree};

    #[test]
    fn matches_memory_tree() {
        let mut mem = MemoryTree::new();
        let mut lt = LeafTree::default();
        for i in 0..37u32 {
            let d = i.to_be_bytes();
            mem.append(&d).unwrap();
            lt.push(leaf_hash(&d));
        }
        for new in 1..=37 {
            assert_eq!(lt.root(new).unwrap(), mem.tree_hash(new).unwrap());
            for old in 1..=new {
                let p = lt.consistency_proof(old, new).unwrap();
                assert_eq!(p, mem.consistency_proof(old, new).unwrap());
                verify_consistency(old, new, &p, lt.root(old).unwrap(), lt.root(new).unwrap())
                    .unwrap();
            }
        }
    }
}
