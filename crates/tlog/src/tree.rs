//! Storage-friendly Merkle tree: stored hashes, tree hashes and proof
//! generation (`spec/tlog.md` §3 and §4).
//!
//! The design follows Go's `golang.org/x/mod/sumdb/tlog`, itself after
//! Crosby and Wallach, "Efficient Data Structures for Tamper-Evident Logging"
//! (USENIX Security 2009, §3.3). A log keeps only its *stored hashes*: for
//! every record `n`, the leaf hash of `n` followed by the hashes of the
//! complete subtrees that record `n` completes. They are numbered densely in
//! append order by [`stored_hash_index`], so a backend can keep them in one
//! append-only table keyed by a `u64`. Every tree hash and every proof for any
//! tree size up to the current one is computed from those hashes alone, with a
//! single batched [`HashReader::read_hashes`] call of at most `O(log n)`
//! indexes.
//!
//! Appending record `n`:
//!
//! ```
//! use tallyboard_tlog::{leaf_hash, stored_hash_index, stored_hashes_for_record, MemoryTree};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut tree = MemoryTree::new();
//! tree.append(b"entry 0")?;
//! let n = tree.size();
//! let new = stored_hashes_for_record(n, leaf_hash(b"entry 1"), &tree)?;
//! // A backend writes `new[i]` at stored index `stored_hash_index(0, n) + i`.
//! assert_eq!(stored_hash_index(0, n), 1);
//! assert_eq!(new.len(), 2); // leaf 1, then node (level 1, 0)
//! # Ok(()) }
//! ```

use crate::hash::{leaf_hash, node_hash, split_point, Hash, EMPTY_ROOT};

/// Largest tree size the tree functions accept: 2^62 records
/// (`spec/tlog.md` §3.4). Larger sizes are refused with
/// [`TreeError::SizeTooLarge`] so that no index arithmetic can overflow.
pub const MAX_TREE_SIZE: u64 = 1 << 62;

/// Errors of the tree layer (stored hashes and proof generation).
///
/// `E` is the error type of the storage backend's [`HashReader`].
/// See `spec/tlog.md` §3 and §4.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError<E> {
    /// The storage backend failed to read hashes.
    #[error("hash reader failed: {0}")]
    Reader(#[source] E),
    /// The storage backend returned a different number of hashes than requested.
    #[error("hash reader returned {returned} hashes for {requested} indexes")]
    WrongHashCount {
        /// Number of indexes requested.
        requested: usize,
        /// Number of hashes returned.
        returned: usize,
    },
    /// An inclusion proof was requested for an index outside the tree.
    #[error("record index {index} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// The requested record index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof needs `1 <= old <= new`.
    #[error("no consistency proof from size {old} to size {new}")]
    InvalidSizes {
        /// The older (smaller) tree size.
        old: u64,
        /// The newer (larger) tree size.
        new: u64,
    },
    /// Internal inconsistency between the indexes requested and the hashes
    /// consumed. Cannot happen; reported instead of panicking.
    #[error("internal error: stored-hash index arithmetic is inconsistent")]
    IndexArithmetic,
    /// A size or record number above [`MAX_TREE_SIZE`].
    #[error("tree size {size} exceeds the maximum {MAX_TREE_SIZE}")]
    SizeTooLarge {
        /// The rejected size.
        size: u64,
    },
}

/// Read access to a log's stored hashes (`spec/tlog.md` §3).
///
/// This is the only thing a storage backend (SQLite, PostgreSQL, ...) has to
/// provide for the tree functions of this crate.
pub trait HashReader {
    /// The backend's error type.
    type Error;

    /// Returns the stored hashes at the given stored-hash indexes
    /// ([`stored_hash_index`]), in the same order as `indexes`.
    ///
    /// Must return exactly `indexes.len()` hashes or an error. The callers in
    /// this crate always pass indexes in increasing order, which lets a
    /// backend use one range-friendly query.
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Self::Error>;
}

impl<R: HashReader + ?Sized> HashReader for &R {
    type Error = R::Error;
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Self::Error> {
        (**self).read_hashes(indexes)
    }
}

/// Maps tree coordinates to the dense stored-hash index (`spec/tlog.md` §3.1).
///
/// `(level, n)` is the `n`-th node of level `level`: level 0 holds leaf
/// hashes, and node `(level, n)` is the root of the complete subtree over
/// records `[n·2^level, (n+1)·2^level)`. With `m = (n+1)·2^level − 1`
/// (the last record of that subtree):
///
/// ```text
/// stored_hash_index(level, n) = 2·m − popcount(m) + level
/// ```
///
/// The result is meaningful for nodes of trees of at most [`MAX_TREE_SIZE`]
/// records, that is `(n+1)·2^level <= 2^62`; outside that domain the
/// arithmetic wraps (never panics) and the value is meaningless.
pub fn stored_hash_index(level: u32, n: u64) -> u64 {
    let m = n.wrapping_add(1).wrapping_shl(level).wrapping_sub(1);
    m.wrapping_mul(2)
        .wrapping_sub(u64::from(m.count_ones()))
        .wrapping_add(u64::from(level))
}

/// Inverse of [`stored_hash_index`]: returns `(level, n)` (`spec/tlog.md` §3.1).
///
/// Meaningful for indexes below `stored_hash_count(MAX_TREE_SIZE)`.
pub fn split_stored_hash_index(index: u64) -> (u32, u64) {
    // The record whose append wrote this hash is in [index/2, index/2 + log2(index)].
    let mut n = index / 2;
    let mut index_n = stored_hash_index(0, n);
    loop {
        // Record n wrote 1 + trailing_ones(n) = 1 + trailing_zeros(n+1)
        // hashes, so record n+1's leaf is at x.
        let x = index_n
            .wrapping_add(1)
            .wrapping_add(u64::from(n.wrapping_add(1).trailing_zeros()));
        if x > index {
            break;
        }
        n += 1;
        index_n = x;
    }
    // The hash was written with record n: it is one of (0, n), (1, n/2), (2, n/4), ...
    let level = index.wrapping_sub(index_n);
    let level = u32::try_from(level).unwrap_or(u32::MAX);
    (level, n.checked_shr(level).unwrap_or(0))
}

/// Number of stored hashes of a tree with `size` records: `2·size − popcount(size)`
/// (`spec/tlog.md` §3.2). Meaningful for `size <= MAX_TREE_SIZE`.
pub fn stored_hash_count(size: u64) -> u64 {
    size.wrapping_mul(2)
        .wrapping_sub(u64::from(size.count_ones()))
}

fn check_size<E>(size: u64) -> Result<(), TreeError<E>> {
    if size > MAX_TREE_SIZE {
        Err(TreeError::SizeTooLarge { size })
    } else {
        Ok(())
    }
}

fn read_exact<R: HashReader + ?Sized>(
    reader: &R,
    indexes: &[u64],
) -> Result<Vec<Hash>, TreeError<R::Error>> {
    if indexes.is_empty() {
        return Ok(Vec::new());
    }
    let hashes = reader.read_hashes(indexes).map_err(TreeError::Reader)?;
    if hashes.len() != indexes.len() {
        return Err(TreeError::WrongHashCount {
            requested: indexes.len(),
            returned: hashes.len(),
        });
    }
    Ok(hashes)
}

/// Returns the stored hashes to write when appending record `n` (the
/// `n`-th record, zero-based) whose leaf hash is `leaf` (`spec/tlog.md` §3.3).
///
/// The result starts with `leaf` and is followed by the hashes of the
/// complete subtrees that record `n` completes, lowest first: one hash per
/// trailing `1` bit of `n`. They must be written at consecutive stored
/// indexes starting at [`stored_hash_index(0, n)`](stored_hash_index).
/// Reads `trailing_ones(n)` earlier hashes from `reader` (none for even `n`).
pub fn stored_hashes_for_record<R: HashReader + ?Sized>(
    n: u64,
    leaf: Hash,
    reader: &R,
) -> Result<Vec<Hash>, TreeError<R::Error>> {
    if n >= MAX_TREE_SIZE {
        return Err(TreeError::SizeTooLarge { size: n });
    }
    // Each trailing 1 bit of n completes a subtree and needs the hash of the
    // adjacent complete subtree on its left: node (i, (n >> i) - 1).
    let m = n.trailing_ones();
    let indexes: Vec<u64> = (0..m)
        .rev()
        .map(|i| stored_hash_index(i, (n >> i) - 1))
        .collect();
    let old = read_exact(reader, &indexes)?;

    let mut hashes = Vec::with_capacity(1 + old.len());
    let mut h = leaf;
    hashes.push(h);
    // `old` is sorted by increasing index, i.e. from the highest level down.
    for left in old.iter().rev() {
        h = node_hash(left, &h);
        hashes.push(h);
    }
    Ok(hashes)
}

/// Like [`stored_hashes_for_record`], from the record's bytes.
/// See `spec/tlog.md` §3.3.
pub fn stored_hashes<R: HashReader + ?Sized>(
    n: u64,
    data: &[u8],
    reader: &R,
) -> Result<Vec<Hash>, TreeError<R::Error>> {
    stored_hashes_for_record(n, leaf_hash(data), reader)
}

/// Stored indexes of the complete subtrees whose concatenation is `[lo, hi)`,
/// appended to `need` (largest first). `lo` must be a multiple of the first
/// subtree's width, which holds for every call site (`spec/tlog.md` §4.1).
fn sub_tree_index(mut lo: u64, hi: u64, need: &mut Vec<u64>) {
    while lo < hi {
        let k = split_point(hi - lo + 1);
        let level = k.trailing_zeros();
        need.push(stored_hash_index(level, lo >> level));
        lo += k;
    }
}

/// A cursor over the hashes returned by the reader, consumed in the order
/// the `*_index` functions produced their indexes.
struct Cursor<'a> {
    hashes: &'a [Hash],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [Hash]> {
        if n > self.hashes.len() {
            return None;
        }
        let (head, tail) = self.hashes.split_at(n);
        self.hashes = tail;
        Some(head)
    }
}

/// Hash of the subtree over `[lo, hi)` from the hashes named by
/// `sub_tree_index(lo, hi)`.
fn sub_tree_hash(mut lo: u64, hi: u64, cur: &mut Cursor<'_>) -> Option<Hash> {
    let mut num_tree = 0usize;
    while lo < hi {
        lo += split_point(hi - lo + 1);
        num_tree += 1;
    }
    let parts = cur.take(num_tree)?;
    let (last, rest) = parts.split_last()?;
    Some(rest.iter().rev().fold(*last, |h, left| node_hash(left, &h)))
}

/// Checks that a proof or hash computation consumed exactly the hashes read.
/// Both failure cases are impossible given the index arithmetic; they are
/// reported rather than panicking.
fn done<T, E>(cur: &Cursor<'_>, value: Option<T>) -> Result<T, TreeError<E>> {
    match value {
        Some(v) if cur.hashes.is_empty() => Ok(v),
        _ => Err(TreeError::IndexArithmetic),
    }
}

/// The root hash `MTH(D[size])` of the tree of the first `size` records,
/// computed from stored hashes (`spec/tlog.md` §4.1).
///
/// The empty tree's hash is [`EMPTY_ROOT`] (`SHA-256("")`, RFC 9162 §2.1.1;
/// note that Go's `tlog.TreeHash` returns all zeros instead). Reads at most
/// `1 + log2(size)` hashes in one call.
pub fn tree_hash<R: HashReader + ?Sized>(
    size: u64,
    reader: &R,
) -> Result<Hash, TreeError<R::Error>> {
    check_size(size)?;
    if size == 0 {
        return Ok(EMPTY_ROOT);
    }
    let mut indexes = Vec::new();
    sub_tree_index(0, size, &mut indexes);
    let hashes = read_exact(reader, &indexes)?;
    let mut cur = Cursor { hashes: &hashes };
    let h = sub_tree_hash(0, size, &mut cur);
    done(&cur, h)
}

fn leaf_proof_index(lo: u64, hi: u64, n: u64, need: &mut Vec<u64>) {
    if lo + 1 >= hi {
        return;
    }
    let k = split_point(hi - lo);
    if n < lo + k {
        leaf_proof_index(lo, lo + k, n, need);
        sub_tree_index(lo + k, hi, need);
    } else {
        sub_tree_index(lo, lo + k, need);
        leaf_proof_index(lo + k, hi, n, need);
    }
}

fn leaf_proof(lo: u64, hi: u64, n: u64, cur: &mut Cursor<'_>) -> Option<Vec<Hash>> {
    if lo + 1 >= hi {
        // Reached the leaf: the verifier knows its hash.
        return Some(Vec::new());
    }
    let k = split_point(hi - lo);
    let (mut p, th) = if n < lo + k {
        let p = leaf_proof(lo, lo + k, n, cur)?;
        (p, sub_tree_hash(lo + k, hi, cur)?)
    } else {
        let th = sub_tree_hash(lo, lo + k, cur)?;
        (leaf_proof(lo + k, hi, n, cur)?, th)
    };
    p.push(th);
    Some(p)
}

/// The inclusion proof (RFC 9162 §2.1.3.1 audit path) of record `index` in
/// the tree of the first `size` records, ordered from the leaf's sibling up
/// to the root's child (`spec/tlog.md` §4.2).
///
/// Equivalent to Go's `tlog.ProveRecord`. Reads at most `2·⌈log2(size)⌉ + 1`
/// hashes, in increasing index order, in one call.
pub fn inclusion_proof<R: HashReader + ?Sized>(
    index: u64,
    size: u64,
    reader: &R,
) -> Result<Vec<Hash>, TreeError<R::Error>> {
    check_size(size)?;
    if index >= size {
        return Err(TreeError::IndexOutOfRange { index, size });
    }
    let mut indexes = Vec::new();
    leaf_proof_index(0, size, index, &mut indexes);
    let hashes = read_exact(reader, &indexes)?;
    let mut cur = Cursor { hashes: &hashes };
    let p = leaf_proof(0, size, index, &mut cur);
    done(&cur, p)
}

fn tree_proof_index(lo: u64, hi: u64, n: u64, need: &mut Vec<u64>) {
    if n >= hi {
        if lo != 0 {
            sub_tree_index(lo, hi, need);
        }
        return;
    }
    let k = split_point(hi - lo);
    if n <= lo + k {
        tree_proof_index(lo, lo + k, n, need);
        sub_tree_index(lo + k, hi, need);
    } else {
        sub_tree_index(lo, lo + k, need);
        tree_proof_index(lo + k, hi, n, need);
    }
}

fn tree_proof(lo: u64, hi: u64, n: u64, cur: &mut Cursor<'_>) -> Option<Vec<Hash>> {
    if n >= hi {
        if lo == 0 {
            // This subtree is exactly the old tree: the verifier knows its hash.
            return Some(Vec::new());
        }
        return Some(vec![sub_tree_hash(lo, hi, cur)?]);
    }
    let k = split_point(hi - lo);
    let (mut p, th) = if n <= lo + k {
        let p = tree_proof(lo, lo + k, n, cur)?;
        (p, sub_tree_hash(lo + k, hi, cur)?)
    } else {
        let th = sub_tree_hash(lo, lo + k, cur)?;
        (tree_proof(lo + k, hi, n, cur)?, th)
    };
    p.push(th);
    Some(p)
}

/// The consistency proof (RFC 9162 §2.1.4.1) that the tree of the first
/// `new` records extends the tree of the first `old` records
/// (`spec/tlog.md` §4.3). Requires `1 <= old <= new`; the proof is empty when
/// `old == new`.
///
/// Equivalent to Go's `tlog.ProveTree`. Reads at most `2·⌈log2(new)⌉ + 1`
/// hashes, in increasing index order, in one call.
pub fn consistency_proof<R: HashReader + ?Sized>(
    old: u64,
    new: u64,
    reader: &R,
) -> Result<Vec<Hash>, TreeError<R::Error>> {
    check_size(new)?;
    if old == 0 || old > new {
        return Err(TreeError::InvalidSizes { old, new });
    }
    let mut indexes = Vec::new();
    tree_proof_index(0, new, old, &mut indexes);
    let hashes = read_exact(reader, &indexes)?;
    let mut cur = Cursor { hashes: &hashes };
    let p = tree_proof(0, new, old, &mut cur);
    done(&cur, p)
}

/// Error of [`MemoryTree`] as a [`HashReader`].
/// See `spec/tlog.md` §3.5.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemoryTreeError {
    /// No hash is stored at that index (the tree is smaller).
    #[error("no stored hash at index {index}")]
    Missing {
        /// The requested stored-hash index.
        index: u64,
    },
}

/// An in-memory log keeping its stored hashes in a `Vec` (`spec/tlog.md` §3),
/// for tests, tools and small logs.
///
/// A persistent backend does the same with a table keyed by stored-hash
/// index: append with [`stored_hashes_for_record`], serve reads through
/// [`HashReader`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryTree {
    hashes: Vec<Hash>,
    size: u64,
}

impl MemoryTree {
    /// An empty tree.
    /// See `spec/tlog.md` §3.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of records.
    /// See `spec/tlog.md` §3.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// All stored hashes, by stored-hash index.
    /// See `spec/tlog.md` §3.
    pub fn stored(&self) -> &[Hash] {
        &self.hashes
    }

    /// Appends a record by its bytes; returns its index.
    /// See `spec/tlog.md` §3.3.
    pub fn append(&mut self, data: &[u8]) -> Result<u64, TreeError<MemoryTreeError>> {
        self.append_leaf_hash(leaf_hash(data))
    }

    /// Appends a record by its leaf hash; returns its index.
    /// See `spec/tlog.md` §3.3.
    pub fn append_leaf_hash(&mut self, leaf: Hash) -> Result<u64, TreeError<MemoryTreeError>> {
        let n = self.size;
        let new = stored_hashes_for_record(n, leaf, &*self)?;
        self.hashes.extend(new);
        self.size = n + 1;
        Ok(n)
    }

    /// Leaf hash of record `index`, if present.
    /// See `spec/tlog.md` §3.1.
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        if index >= self.size {
            return None;
        }
        let i = usize::try_from(stored_hash_index(0, index)).ok()?;
        self.hashes.get(i).copied()
    }

    /// Root hash of the current tree.
    /// See `spec/tlog.md` §4.1.
    pub fn root(&self) -> Result<Hash, TreeError<MemoryTreeError>> {
        tree_hash(self.size, self)
    }

    /// Root hash of the tree of the first `size` records ([`tree_hash`]).
    /// See `spec/tlog.md` §4.1.
    pub fn tree_hash(&self, size: u64) -> Result<Hash, TreeError<MemoryTreeError>> {
        tree_hash(size, self)
    }

    /// [`inclusion_proof`] over this tree.
    /// See `spec/tlog.md` §4.2.
    pub fn inclusion_proof(
        &self,
        index: u64,
        size: u64,
    ) -> Result<Vec<Hash>, TreeError<MemoryTreeError>> {
        inclusion_proof(index, size, self)
    }

    /// [`consistency_proof`] over this tree.
    /// See `spec/tlog.md` §4.3.
    pub fn consistency_proof(
        &self,
        old: u64,
        new: u64,
    ) -> Result<Vec<Hash>, TreeError<MemoryTreeError>> {
        consistency_proof(old, new, self)
    }
}

impl HashReader for MemoryTree {
    type Error = MemoryTreeError;

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, MemoryTreeError> {
        indexes
            .iter()
            .map(|&index| {
                usize::try_from(index)
                    .ok()
                    .and_then(|i| self.hashes.get(i))
                    .copied()
                    .ok_or(MemoryTreeError::Missing { index })
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::hash::merkle_tree_hash;

    /// Go's loop form of StoredHashIndex.
    fn go_stored_hash_index(level: u32, mut n: u64) -> u64 {
        for _ in 0..level {
            n = 2 * n + 1;
        }
        let mut i = 0;
        while n > 0 {
            i += n;
            n >>= 1;
        }
        i + u64::from(level)
    }

    #[test]
    fn index_layout_first_entries() {
        // (level, n) in storage order for the first 8 records.
        let order = [
            (0, 0),
            (0, 1),
            (1, 0),
            (0, 2),
            (0, 3),
            (1, 1),
            (2, 0),
            (0, 4),
            (0, 5),
            (1, 2),
            (0, 6),
            (0, 7),
            (1, 3),
            (2, 1),
            (3, 0),
        ];
        for (i, &(level, n)) in order.iter().enumerate() {
            assert_eq!(stored_hash_index(level, n), i as u64, "({level},{n})");
            assert_eq!(split_stored_hash_index(i as u64), (level, n));
        }
    }

    #[test]
    fn index_closed_form_matches_go_loop_and_inverse() {
        for level in 0..12 {
            for n in 0..500 {
                let i = stored_hash_index(level, n);
                assert_eq!(i, go_stored_hash_index(level, n));
                assert_eq!(split_stored_hash_index(i), (level, n));
            }
        }
        for i in 0..5000 {
            let (level, n) = split_stored_hash_index(i);
            assert_eq!(stored_hash_index(level, n), i);
        }
        // Top of the domain.
        let n = MAX_TREE_SIZE - 1;
        let i = stored_hash_index(0, n);
        assert_eq!(split_stored_hash_index(i), (0, n));
        assert_eq!(
            split_stored_hash_index(stored_hash_count(MAX_TREE_SIZE) - 1),
            (62, 0)
        );
    }

    #[test]
    fn count_matches_go() {
        fn go_count(n: u64) -> u64 {
            if n == 0 {
                return 0;
            }
            let mut num = go_stored_hash_index(0, n - 1) + 1;
            let mut i = n - 1;
            while i & 1 != 0 {
                num += 1;
                i >>= 1;
            }
            num
        }
        for n in 0..3000 {
            assert_eq!(stored_hash_count(n), go_count(n), "n={n}");
        }
    }

    #[test]
    fn memory_tree_matches_reference_mth() {
        let mut t = MemoryTree::new();
        let mut leaves = Vec::new();
        assert_eq!(t.root().unwrap(), EMPTY_ROOT);
        for i in 0u32..200 {
            let data = i.to_be_bytes();
            leaves.push(leaf_hash(&data));
            assert_eq!(t.append(&data).unwrap(), u64::from(i));
            assert_eq!(t.stored().len() as u64, stored_hash_count(t.size()));
            assert_eq!(t.root().unwrap(), merkle_tree_hash(&leaves));
        }
        for size in 0..=200u64 {
            assert_eq!(
                t.tree_hash(size).unwrap(),
                merkle_tree_hash(&leaves[..size as usize])
            );
        }
        assert_eq!(t.leaf(7), Some(leaves[7]));
        assert_eq!(t.leaf(200), None);
    }

    #[test]
    fn reads_are_single_sorted_and_bounded() {
        use core::cell::RefCell;
        struct Counting<'a>(&'a MemoryTree, RefCell<Vec<usize>>);
        impl HashReader for Counting<'_> {
            type Error = MemoryTreeError;
            fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, MemoryTreeError> {
                assert!(indexes.windows(2).all(|w| w[0] < w[1]), "{indexes:?}");
                self.1.borrow_mut().push(indexes.len());
                self.0.read_hashes(indexes)
            }
        }
        let mut t = MemoryTree::new();
        for size in 1u64..=160 {
            t.append(&size.to_be_bytes()).unwrap();
            // ceil(log2(size))
            let log = u64::BITS - (size - 1).leading_zeros();
            let bound = 2 * log as usize + 1;
            let r = Counting(&t, RefCell::new(Vec::new()));
            tree_hash(size, &r).unwrap();
            for i in 0..size {
                inclusion_proof(i, size, &r).unwrap();
                consistency_proof(i + 1, size, &r).unwrap();
            }
            let calls = r.1.into_inner();
            assert!(calls.len() <= 1 + 2 * size as usize);
            assert!(calls.iter().all(|&c| c <= bound), "size {size}: {calls:?}");
        }
    }

    #[test]
    fn errors_not_panics() {
        let mut t = MemoryTree::new();
        for i in 0u8..5 {
            t.append(&[i]).unwrap();
        }
        assert_eq!(
            t.inclusion_proof(5, 5),
            Err(TreeError::IndexOutOfRange { index: 5, size: 5 })
        );
        assert!(matches!(
            t.inclusion_proof(3, 9),
            Err(TreeError::Reader(MemoryTreeError::Missing { .. }))
        ));
        assert_eq!(
            t.consistency_proof(0, 3),
            Err(TreeError::InvalidSizes { old: 0, new: 3 })
        );
        assert_eq!(
            t.consistency_proof(4, 3),
            Err(TreeError::InvalidSizes { old: 4, new: 3 })
        );
        assert_eq!(
            t.tree_hash(u64::MAX),
            Err(TreeError::SizeTooLarge { size: u64::MAX })
        );
        assert_eq!(t.consistency_proof(5, 5), Ok(vec![]));
        assert_eq!(t.inclusion_proof(0, 1), Ok(vec![]));

        struct Short;
        impl HashReader for Short {
            type Error = core::convert::Infallible;
            fn read_hashes(&self, _: &[u64]) -> Result<Vec<Hash>, Self::Error> {
                Ok(vec![])
            }
        }
        assert!(matches!(
            tree_hash(3, &Short),
            Err(TreeError::WrongHashCount {
                requested: 2,
                returned: 0
            })
        ));
        assert!(matches!(
            stored_hashes_for_record(3, EMPTY_ROOT, &Short),
            Err(TreeError::WrongHashCount { .. })
        ));
    }
}
