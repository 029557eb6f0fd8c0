//! Checkpoint consistency for observers and verifiers (`spec/tlog.md` §9).
//!
//! An observer keeps the last checkpoint it trusts. When it sees a newer one
//! it asks the board for a consistency proof and calls [`check_consistency`]:
//! the newer checkpoint must be signed by the log key, have the same origin,
//! not be smaller, and be proven to extend the trusted tree. On success the
//! newer checkpoint becomes the trusted one.
//!
//! A board that forks (shows different histories to different parties) is
//! caught here: it cannot produce a valid proof between two checkpoints of
//! different histories, and two signed checkpoints of one size with different
//! roots are themselves the evidence.

use crate::checkpoint::{Checkpoint, CheckpointError, SignedCheckpoint};
use crate::hash::{Hash, EMPTY_ROOT};
use crate::note::NoteVerifier;
use crate::proof::{verify_consistency, ProofError};

/// Errors of the observer layer (`spec/tlog.md` §9).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsistencyError {
    /// The newer checkpoint is malformed or not validly signed by the log key.
    #[error("newer checkpoint rejected: {0}")]
    BadCheckpoint(#[from] CheckpointError),
    /// The two checkpoints are for different logs.
    #[error("origin changed from {trusted:?} to {newer:?}")]
    OriginMismatch {
        /// Origin of the trusted checkpoint.
        trusted: String,
        /// Origin of the newer checkpoint.
        newer: String,
    },
    /// The newer checkpoint is smaller than the trusted one: the log
    /// went backwards. Both signed checkpoints are evidence.
    #[error("tree size went backwards from {trusted} to {newer}")]
    SizeWentBackwards {
        /// Size of the trusted checkpoint.
        trusted: u64,
        /// Size of the newer checkpoint.
        newer: u64,
    },
    /// Fork detected: two checkpoints of the same size with different
    /// roots. Both signed checkpoints are evidence.
    #[error("fork detected: two different roots for tree size {size}")]
    Fork {
        /// The common tree size.
        size: u64,
    },
    /// The proof does not show that the newer tree extends the trusted one.
    /// An honest log can always produce such a proof, so unless the proof was
    /// corrupted on its way this is a fork; keep both checkpoints.
    #[error("inconsistent checkpoints (sizes {trusted_size} -> {newer_size}): {reason}")]
    Inconsistent {
        /// Size of the trusted checkpoint.
        trusted_size: u64,
        /// Size of the newer checkpoint.
        newer_size: u64,
        /// Why the proof failed.
        #[source]
        reason: ProofError,
    },
}

/// Checks that `newer` extends `trusted`, given the consistency proof from
/// `trusted.size()` to `newer.size()` (`spec/tlog.md` §9). Signatures are not
/// examined here: both checkpoints must already be verified.
///
/// A trusted checkpoint of size 0 is extended by every tree: the proof must
/// be empty and the empty tree's root must be [`EMPTY_ROOT`].
pub fn verify_checkpoint_consistency(
    trusted: &Checkpoint,
    newer: &Checkpoint,
    proof: &[Hash],
) -> Result<(), ConsistencyError> {
    if trusted.origin() != newer.origin() {
        return Err(ConsistencyError::OriginMismatch {
            trusted: trusted.origin().to_owned(),
            newer: newer.origin().to_owned(),
        });
    }
    let (size1, size2) = (trusted.size(), newer.size());
    if size2 < size1 {
        return Err(ConsistencyError::SizeWentBackwards {
            trusted: size1,
            newer: size2,
        });
    }
    if size1 == size2 && trusted.root() != newer.root() {
        return Err(ConsistencyError::Fork { size: size1 });
    }
    let inconsistent = |reason| ConsistencyError::Inconsistent {
        trusted_size: size1,
        newer_size: size2,
        reason,
    };
    if size1 == 0 {
        if trusted.root() != EMPTY_ROOT {
            return Err(inconsistent(ProofError::OldRootMismatch));
        }
        if size2 == 0 && newer.root() != EMPTY_ROOT {
            return Err(inconsistent(ProofError::NewRootMismatch));
        }
        if !proof.is_empty() {
            return Err(inconsistent(ProofError::WrongProofLength {
                got: proof.len(),
                want: 0,
            }));
        }
        return Ok(());
    }
    verify_consistency(size1, size2, proof, trusted.root(), newer.root()).map_err(inconsistent)
}

/// Opens the newer signed checkpoint `newer_note` with the log key
/// `verifier` and checks that it extends `trusted` with `proof`
/// (`spec/tlog.md` §9). Returns the newer checkpoint, to be trusted from now
/// on.
pub fn check_consistency(
    trusted: &Checkpoint,
    newer_note: &[u8],
    proof: &[Hash],
    verifier: &dyn NoteVerifier,
) -> Result<SignedCheckpoint, ConsistencyError> {
    let newer = SignedCheckpoint::open(newer_note, verifier)?;
    verify_checkpoint_consistency(trusted, newer.checkpoint(), proof)?;
    Ok(newer)
}
