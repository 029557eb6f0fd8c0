//! RFC 9162 §2.1 Merkle tree hashing (`spec/tlog.md` §2).
//!
//! ```text
//! leaf_hash(d)    = SHA-256(0x00 || d)
//! node_hash(l, r) = SHA-256(0x01 || l || r)
//! MTH({})         = SHA-256("")
//! MTH({d0})       = leaf_hash(d0)
//! MTH(D[n])       = node_hash(MTH(D[0:k]), MTH(D[k:n])),  k = largest power of two < n
//! ```

use core::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// Size of a [`Hash`](struct@Hash) in bytes (SHA-256). See `spec/tlog.md` §2.
pub const HASH_SIZE: usize = 32;

/// Domain-separation prefix of a leaf hash (RFC 9162 §2.1.1). See `spec/tlog.md` §2.
pub const LEAF_PREFIX: u8 = 0x00;

/// Domain-separation prefix of an interior node hash (RFC 9162 §2.1.1). See `spec/tlog.md` §2.
pub const NODE_PREFIX: u8 = 0x01;

/// Root hash of the empty tree: `SHA-256("")` (RFC 9162 §2.1.1). See `spec/tlog.md` §2.
pub const EMPTY_ROOT: Hash = Hash([
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
]);

/// Errors of the hash layer: decoding a [`Hash`](struct@Hash) from untrusted bytes or text.
/// See `spec/tlog.md` §1.2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// The input did not have exactly [`HASH_SIZE`] bytes.
    #[error("hash must be {HASH_SIZE} bytes, got {len}")]
    WrongLength {
        /// Length of the rejected input in bytes.
        len: usize,
    },
    /// The input was not canonical, padded, standard base64 (RFC 4648 §4).
    #[error("hash is not canonical standard base64")]
    Base64,
}

/// A SHA-256 hash of a leaf, an interior node or a tree root (`spec/tlog.md` §2).
///
/// Hashes are public values: equality is ordinary (variable-time) comparison.
/// `Display` prints standard base64 (the form used in checkpoints and proofs);
/// `Debug` prints lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash(pub [u8; HASH_SIZE]);

impl Hash {
    /// Wraps 32 raw bytes. See `spec/tlog.md` §2.
    pub const fn new(bytes: [u8; HASH_SIZE]) -> Self {
        Hash(bytes)
    }

    /// Decodes a hash from exactly [`HASH_SIZE`] bytes.
    /// See `spec/tlog.md` §2.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, HashError> {
        let arr: [u8; HASH_SIZE] = bytes
            .try_into()
            .map_err(|_| HashError::WrongLength { len: bytes.len() })?;
        Ok(Hash(arr))
    }

    /// Decodes a hash from canonical, padded, standard base64 (44 characters).
    /// See `spec/tlog.md` §1.2.
    pub fn from_base64(s: &str) -> Result<Self, HashError> {
        // 32 bytes encode to exactly 44 characters; refuse anything longer
        // before decoding so that garbage costs no allocation.
        if s.len() != 44 {
            return Err(HashError::Base64);
        }
        let bytes = BASE64.decode(s).map_err(|_| HashError::Base64)?;
        Self::from_slice(&bytes)
    }

    /// Encodes the hash as padded standard base64 (44 characters).
    /// See `spec/tlog.md` §1.2.
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0)
    }

    /// The raw bytes. See `spec/tlog.md` §2.
    pub const fn as_bytes(&self) -> &[u8; HASH_SIZE] {
        &self.0
    }

    /// The raw bytes, by value. See `spec/tlog.md` §2.
    pub const fn to_bytes(self) -> [u8; HASH_SIZE] {
        self.0
    }
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<[u8; HASH_SIZE]> for Hash {
    fn from(bytes: [u8; HASH_SIZE]) -> Self {
        Hash(bytes)
    }
}

impl From<Hash> for [u8; HASH_SIZE] {
    fn from(h: Hash) -> Self {
        h.0
    }
}

impl TryFrom<&[u8]> for Hash {
    type Error = HashError;
    fn try_from(bytes: &[u8]) -> Result<Self, HashError> {
        Hash::from_slice(bytes)
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Hash(")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

/// `SHA-256(0x00 || data)`: the hash of a log entry (RFC 9162 §2.1.1,
/// `spec/tlog.md` §2). On the board this is the entry's "ballot tracker".
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([LEAF_PREFIX]);
    h.update(data);
    Hash(h.finalize().into())
}

/// `SHA-256(0x01 || left || right)`: the hash of an interior node
/// (RFC 9162 §2.1.1, `spec/tlog.md` §2).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut buf = [0u8; 1 + 2 * HASH_SIZE];
    buf[0] = NODE_PREFIX;
    buf[1..1 + HASH_SIZE].copy_from_slice(&left.0);
    buf[1 + HASH_SIZE..].copy_from_slice(&right.0);
    Hash(Sha256::digest(buf).into())
}

/// Byte-slice form of [`node_hash`] used by proof verification, where the
/// lengths have already been checked.
pub(crate) fn node_hash_bytes(left: &[u8], right: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([NODE_PREFIX]);
    h.update(left);
    h.update(right);
    Hash(h.finalize().into())
}

/// Largest power of two strictly smaller than `n`, for `n >= 2`
/// (the split point `k` of RFC 9162 §2.1.1). Returns 1 for `n < 2`.
pub(crate) fn split_point(n: u64) -> u64 {
    if n < 2 {
        return 1;
    }
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The Merkle Tree Hash `MTH(D[n])` of a list of leaf hashes, computed
/// directly from RFC 9162 §2.1.1 (`spec/tlog.md` §2).
///
/// This is the reference definition; it needs all leaves in memory. Storage
/// backends use [`crate::tree_hash`] over stored hashes instead.
pub fn merkle_tree_hash(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => EMPTY_ROOT,
        1 => leaves[0],
        n => {
            // n >= 2, and k < n, so both halves are non-empty.
            let k = split_point(n as u64) as usize;
            let (left, right) = leaves.split_at(k);
            node_hash(&merkle_tree_hash(left), &merkle_tree_hash(right))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(EMPTY_ROOT, Hash(Sha256::digest([]).into()));
        assert_eq!(merkle_tree_hash(&[]), EMPTY_ROOT);
        assert_eq!(
            EMPTY_ROOT.to_base64(),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn split_point_is_largest_power_of_two_below() {
        for n in 2u64..2000 {
            let k = split_point(n);
            assert!(k.is_power_of_two() && k < n && 2 * k >= n, "n={n} k={k}");
        }
        assert_eq!(split_point(u64::MAX), 1 << 63);
    }

    #[test]
    fn base64_is_strict() {
        let h = leaf_hash(b"");
        assert_eq!(Hash::from_base64(&h.to_base64()), Ok(h));
        assert_eq!(Hash::from_base64(""), Err(HashError::Base64));
        assert_eq!(
            Hash::from_base64("ZG9uJ3QgY2FyZSAx"),
            Err(HashError::Base64)
        );
        // Non-canonical: non-zero trailing bits in the last data character.
        assert_eq!(
            Hash::from_base64("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV="),
            Err(HashError::Base64)
        );
        // Unpadded.
        assert_eq!(
            Hash::from_base64("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"),
            Err(HashError::Base64)
        );
        assert_eq!(
            Hash::from_slice(&[0u8; 31]),
            Err(HashError::WrongLength { len: 31 })
        );
    }

    #[test]
    fn rfc6962_reference_tree_root() {
        // The 8-entry reference tree of RFC 6962 / transparency-dev/merkle.
        let inputs: [&[u8]; 8] = [
            b"",
            &[0x00],
            &[0x10],
            &[0x20, 0x21],
            &[0x30, 0x31],
            &[0x40, 0x41, 0x42, 0x43],
            &[0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
            &[
                0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d,
                0x6e, 0x6f,
            ],
        ];
        let leaves: Vec<Hash> = inputs.iter().map(|d| leaf_hash(d)).collect();
        assert_eq!(
            leaves[0].to_base64(),
            "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0="
        );
        assert_eq!(
            merkle_tree_hash(&leaves).to_base64(),
            "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg="
        );
    }
}
