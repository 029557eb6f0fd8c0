//! Verification of inclusion and consistency proofs (RFC 9162 §2.1.3.2 and
//! §2.1.4.2, `spec/tlog.md` §5).
//!
//! The algorithms are the bit-decomposition form used by
//! `transparency-dev/merkle` (`proof/verify.go`), equivalent to the RFC's
//! step lists. Inputs are byte slices so that untrusted data can be passed
//! as received: every length is checked, and the expected proof length is
//! computed from `(index, size)` or `(size1, size2)` *before* any hashing, so
//! a proof can never cost more than 64 hash evaluations (128 for consistency).
//!
//! No function here panics, whatever its input.

use crate::hash::{node_hash_bytes, Hash, HASH_SIZE};

/// Errors of proof verification (`spec/tlog.md` §5).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// Inclusion: the leaf index is not below the tree size.
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// The claimed leaf index.
        index: u64,
        /// The claimed tree size.
        size: u64,
    },
    /// Consistency: the newer tree is smaller than the older one.
    #[error("tree size went backwards: {size1} > {size2}")]
    SizeWentBackwards {
        /// The older tree size.
        size1: u64,
        /// The newer tree size.
        size2: u64,
    },
    /// Consistency from the empty tree is meaningless and refused
    /// (`spec/tlog.md` §5.2).
    #[error("consistency proof from the empty tree")]
    EmptyOldTree,
    /// The proof has the wrong number of hashes for the sizes/index given.
    #[error("proof has {got} hashes, expected {want}")]
    WrongProofLength {
        /// Number of hashes in the proof.
        got: usize,
        /// Number of hashes the sizes/index require.
        want: usize,
    },
    /// A leaf hash, root hash or proof hash is not 32 bytes long.
    #[error("{what} is {len} bytes, expected {HASH_SIZE}")]
    WrongHashLength {
        /// Which input: `"leaf hash"`, `"root"`, `"old root"`, `"new root"` or `"proof hash"`.
        what: &'static str,
        /// Its length in bytes.
        len: usize,
    },
    /// Inclusion: the root computed from the proof differs from the given root.
    #[error("inclusion proof does not lead to the given root")]
    RootMismatch,
    /// Consistency: the proof does not reproduce the older root.
    #[error("consistency proof does not reproduce the old root")]
    OldRootMismatch,
    /// Consistency: the proof does not reproduce the newer root.
    #[error("consistency proof does not reproduce the new root")]
    NewRootMismatch,
}

fn check_len<'a>(what: &'static str, h: &'a [u8]) -> Result<&'a [u8], ProofError> {
    if h.len() == HASH_SIZE {
        Ok(h)
    } else {
        Err(ProofError::WrongHashLength { what, len: h.len() })
    }
}

fn check_proof<P: AsRef<[u8]>>(proof: &[P]) -> Result<Vec<&[u8]>, ProofError> {
    proof
        .iter()
        .map(|p| check_len("proof hash", p.as_ref()))
        .collect()
}

/// Splits the inclusion proof of `index` in a tree of `size` (index < size)
/// into `(inner, border)`: `inner` hashes below the point where the paths to
/// `index` and `size - 1` diverge, `border` hashes above it.
fn decomp_incl_proof(index: u64, size: u64) -> (usize, usize) {
    let inner = (64 - (index ^ (size - 1)).leading_zeros()) as usize;
    let border = index.checked_shr(inner as u32).unwrap_or(0).count_ones() as usize;
    (inner, border)
}

fn bit(x: u64, i: usize) -> bool {
    u32::try_from(i)
        .ok()
        .and_then(|i| x.checked_shr(i))
        .is_some_and(|v| v & 1 == 1)
}

fn chain_inner(seed: Hash, proof: &[&[u8]], index: u64) -> Hash {
    proof.iter().enumerate().fold(seed, |h, (i, p)| {
        if bit(index, i) {
            node_hash_bytes(p, &h.0)
        } else {
            node_hash_bytes(&h.0, p)
        }
    })
}

fn chain_inner_right(seed: Hash, proof: &[&[u8]], index: u64) -> Hash {
    proof.iter().enumerate().fold(seed, |h, (i, p)| {
        if bit(index, i) {
            node_hash_bytes(p, &h.0)
        } else {
            h
        }
    })
}

fn chain_border_right(seed: Hash, proof: &[&[u8]]) -> Hash {
    proof.iter().fold(seed, |h, p| node_hash_bytes(p, &h.0))
}

/// Recomputes the root of a tree of `size` leaves from the leaf hash at
/// `index` and its inclusion proof (RFC 9162 §2.1.3.2, `spec/tlog.md` §5.1).
///
/// Fails if `index >= size`, if any hash is not 32 bytes, or if the proof
/// does not have exactly the length that `(index, size)` requires.
pub fn root_from_inclusion_proof(
    leaf_hash: impl AsRef<[u8]>,
    index: u64,
    size: u64,
    proof: &[impl AsRef<[u8]>],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let leaf = Hash::from_slice(leaf_hash.as_ref()).map_err(|_| ProofError::WrongHashLength {
        what: "leaf hash",
        len: leaf_hash.as_ref().len(),
    })?;
    let (inner, border) = decomp_incl_proof(index, size);
    if proof.len() != inner + border {
        return Err(ProofError::WrongProofLength {
            got: proof.len(),
            want: inner + border,
        });
    }
    let proof = check_proof(proof)?;
    let (inner_part, border_part) = proof.split_at(inner);
    let h = chain_inner(leaf, inner_part, index);
    Ok(chain_border_right(h, border_part))
}

/// Verifies that `leaf_hash` is the leaf at `index` of the tree of `size`
/// leaves whose root is `root` (RFC 9162 §2.1.3.2, `spec/tlog.md` §5.1).
///
/// `proof` is the audit path from the leaf's sibling up to the root's child,
/// as produced by [`crate::inclusion_proof`]. Never panics.
pub fn verify_inclusion(
    leaf_hash: impl AsRef<[u8]>,
    index: u64,
    size: u64,
    proof: &[impl AsRef<[u8]>],
    root: impl AsRef<[u8]>,
) -> Result<(), ProofError> {
    let computed = root_from_inclusion_proof(leaf_hash, index, size, proof)?;
    let root = check_len("root", root.as_ref())?;
    if computed.0 == root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// Verifies that the tree of `size2` leaves with root `root2` extends the
/// tree of `size1` leaves with root `root1` (RFC 9162 §2.1.4.2,
/// `spec/tlog.md` §5.2).
///
/// Edge cases (`spec/tlog.md` §5.2):
/// - `size1 == 0` is always an error ([`ProofError::EmptyOldTree`]); observers
///   handle a trusted empty tree themselves (see
///   [`crate::verify_checkpoint_consistency`]);
/// - `size1 == size2` requires an empty proof and byte-equal roots;
/// - `size1 > size2` is [`ProofError::SizeWentBackwards`].
///
/// Never panics.
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    proof: &[impl AsRef<[u8]>],
    root1: impl AsRef<[u8]>,
    root2: impl AsRef<[u8]>,
) -> Result<(), ProofError> {
    let (root1, root2) = (root1.as_ref(), root2.as_ref());
    if size2 < size1 {
        return Err(ProofError::SizeWentBackwards { size1, size2 });
    }
    if size1 == 0 {
        return Err(ProofError::EmptyOldTree);
    }
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(ProofError::WrongProofLength {
                got: proof.len(),
                want: 0,
            });
        }
        // Same tree: the roots must be identical. (Compared as bytes, as
        // transparency-dev/merkle does; checkpoints always carry 32 bytes.)
        return if root1 == root2 {
            Ok(())
        } else {
            Err(ProofError::NewRootMismatch)
        };
    }
    // Now 0 < size1 < size2.
    let root1 = check_len("old root", root1)?;
    let root2 = check_len("new root", root2)?;
    if proof.is_empty() {
        return Err(ProofError::WrongProofLength { got: 0, want: 1 });
    }

    let (inner, border) = decomp_incl_proof(size1 - 1, size2);
    let shift = size1.trailing_zeros() as usize;
    // shift < inner whenever size1 < size2.
    let inner = inner.saturating_sub(shift);

    // The proof starts with the root of the subtree of size 2^shift holding
    // leaf size1-1, unless that subtree is the whole old tree.
    let size1_is_pow2 = size1.is_power_of_two();
    let start = usize::from(!size1_is_pow2);
    let want = start + inner + border;
    if proof.len() != want {
        return Err(ProofError::WrongProofLength {
            got: proof.len(),
            want,
        });
    }
    let proof = check_proof(proof)?;
    let (seed, rest): (&[u8], &[&[u8]]) = if size1_is_pow2 {
        (root1, &proof[..])
    } else {
        (proof[0], &proof[1..])
    };
    let seed = Hash::from_slice(seed).map_err(|_| ProofError::WrongHashLength {
        what: "proof hash",
        len: seed.len(),
    })?;
    let (inner_part, border_part) = rest.split_at(inner.min(rest.len()));

    // Chaining starts at level `shift`.
    let mask = (size1 - 1) >> shift;
    let hash1 = chain_border_right(chain_inner_right(seed, inner_part, mask), border_part);
    if hash1.0 != root1 {
        return Err(ProofError::OldRootMismatch);
    }
    let hash2 = chain_border_right(chain_inner(seed, inner_part, mask), border_part);
    if hash2.0 != root2 {
        return Err(ProofError::NewRootMismatch);
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    #[test]
    fn extreme_sizes_do_not_panic() {
        let h = leaf_hash(b"x");
        let none: [Hash; 0] = [];
        for (index, size) in [
            (0, u64::MAX),
            (u64::MAX - 1, u64::MAX),
            (1 << 63, u64::MAX),
            (u64::MAX, u64::MAX),
            (0, 1 << 63),
        ] {
            let _ = verify_inclusion(h, index, size, &none, h);
            let long = vec![h; 64];
            let _ = verify_inclusion(h, index, size, &long, h);
        }
        for (s1, s2) in [
            (1, u64::MAX),
            (u64::MAX - 1, u64::MAX),
            (1 << 63, u64::MAX),
            (3, 1 << 63),
            (u64::MAX, u64::MAX),
        ] {
            let _ = verify_consistency(s1, s2, &none, h, h);
            let long = vec![h; 130];
            let _ = verify_consistency(s1, s2, &long, h, h);
            for n in 0..130 {
                let _ = verify_consistency(s1, s2, &long[..n], h, h);
            }
        }
    }

    #[test]
    fn length_errors_are_typed() {
        let h = leaf_hash(b"x");
        let none: [Hash; 0] = [];
        assert_eq!(
            verify_inclusion(&h.0[..31], 0, 1, &none, h),
            Err(ProofError::WrongHashLength {
                what: "leaf hash",
                len: 31
            })
        );
        assert_eq!(
            verify_inclusion(h, 0, 1, &none, b""),
            Err(ProofError::WrongHashLength {
                what: "root",
                len: 0
            })
        );
        assert_eq!(
            verify_inclusion(h, 0, 2, &[&b"short"[..]], h),
            Err(ProofError::WrongHashLength {
                what: "proof hash",
                len: 5
            })
        );
        assert_eq!(verify_inclusion(h, 0, 1, &none, h), Ok(()));
    }
}
