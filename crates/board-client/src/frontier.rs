//! The right edge of the tree, kept in memory by the sequencer
//! (`spec/board.md` §3.2).
//!
//! For a tree of `size` records, the *frontier* is, for each level `l` with
//! `size >> l >= 1`, the latest complete node `(l, (size >> l) − 1)`. These at
//! most 63 hashes are exactly the stored hashes that
//! [`stored_hashes_for_record`] reads to append the next record and that
//! [`tree_hash`] reads for the root of the current tree. With them in memory
//! the sequencer never reads storage on the append path.

use tallyboard_tlog::{
    split_stored_hash_index, stored_hashes_for_record, tree_hash, Hash, HashReader, TreeError,
};

/// A node the frontier was asked for but does not hold: an internal error
/// (the caller asked for a hash that is not on the right edge).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("stored hash {index} is not on the tree's right edge")]
pub struct NotOnFrontier {
    /// The stored-hash index asked for.
    pub index: u64,
}

/// The frontier of a tree of [`Frontier::size`] records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// `nodes[l] = (n, hash of node (l, n))`, the latest complete node of
    /// level `l`.
    nodes: Vec<(u64, Hash)>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The frontier of a tree of `size` records, read from a store's stored
    /// hashes (one batched read of at most 63 hashes).
    pub fn load<R: HashReader + ?Sized>(size: u64, reader: &R) -> Result<Self, R::Error> {
        let levels: Vec<u32> = (0..64).filter(|&l| size >> l >= 1).collect();
        let indexes: Vec<u64> = levels
            .iter()
            .map(|&l| tallyboard_tlog::stored_hash_index(l, (size >> l) - 1))
            .collect();
        let hashes = if indexes.is_empty() {
            Vec::new()
        } else {
            reader.read_hashes(&indexes)?
        };
        let nodes = levels
            .iter()
            .zip(hashes)
            .map(|(&l, h)| ((size >> l) - 1, h))
            .collect();
        Ok(Frontier { size, nodes })
    }

    /// Number of records.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends the next record by its leaf hash; returns the stored hashes
    /// it produces (leaf first), to be written from
    /// `stored_hash_index(0, size)`.
    pub fn append(&mut self, leaf: Hash) -> Result<Vec<Hash>, TreeError<NotOnFrontier>> {
        let n = self.size;
        let hashes = stored_hashes_for_record(n, leaf, &*self)?;
        for (level, h) in hashes.iter().enumerate() {
            let node = (n >> level, *h);
            match self.nodes.get_mut(level) {
                Some(slot) => *slot = node,
                None => self.nodes.push(node),
            }
        }
        self.size = n + 1;
        Ok(hashes)
    }

    /// The root hash of the current tree.
    pub fn root(&self) -> Result<Hash, TreeError<NotOnFrontier>> {
        tree_hash(self.size, self)
    }
}

impl HashReader for Frontier {
    type Error = NotOnFrontier;

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, NotOnFrontier> {
        indexes
            .iter()
            .map(|&index| {
                let (level, n) = split_stored_hash_index(index);
                match self.nodes.get(level as usize) {
                    Some(&(m, h)) if m == n => Ok(h),
                    _ => Err(NotOnFrontier { index }),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tallyboard_tlog::{leaf_hash, MemoryTree};

    #[test]
    fn matches_memory_tree_and_reloads() {
        let mut f = Frontier::new();
        let mut mem = MemoryTree::new();
        assert_eq!(f.root(), Ok(mem.root().expect("root")));
        for i in 0u32..300 {
            let leaf = leaf_hash(&i.to_be_bytes());
            let before = mem.stored().len();
            mem.append(&i.to_be_bytes()).expect("append");
            let got = f.append(leaf).expect("frontier append");
            assert_eq!(got, mem.stored()[before..]);
            assert_eq!(f.root(), Ok(mem.root().expect("root")));
            let loaded = Frontier::load(f.size(), &mem).expect("load");
            assert_eq!(loaded, f);
        }
    }
}
