//! Transparency-log primitives of the tallyboard bulletin board.
//!
//! Pure functions, no I/O. The byte-exact description is `spec/tlog.md`;
//! every item cites its section.
//!
//! - [`hash`]: RFC 9162 §2.1 leaf, node and tree hashes (`spec/tlog.md` §2).
//! - [`tree`]: storage-friendly tree with dense *stored hashes*, tree hashes
//!   and proof generation over a [`HashReader`] (`spec/tlog.md` §3, §4).
//! - [`proof`]: inclusion and consistency proof verification
//!   (`spec/tlog.md` §5).
//! - [`note`]: C2SP signed notes with Ed25519 keys (`spec/tlog.md` §6).
//! - [`checkpoint`]: C2SP tlog-checkpoint (`spec/tlog.md` §7).
//! - [`tlog_proof`]: C2SP tlog-proof, the voter's receipt (`spec/tlog.md` §8).
//! - [`consistency`]: checkpoint consistency for observers (`spec/tlog.md` §9).
//!
//! ```
//! use tallyboard_tlog::*;
//! use ed25519_dalek::SigningKey;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The board appends entries and signs a checkpoint.
//! let mut tree = MemoryTree::new();
//! for entry in [&b"manifest"[..], b"ballot 1", b"ballot 2"] {
//!     tree.append(entry)?;
//! }
//! let signer = Ed25519Signer::new("tallyboard/example", SigningKey::from_bytes(&[7; 32]))?;
//! let signed = Checkpoint::new("tallyboard/example", tree.size(), tree.root()?)?.sign(&signer)?;
//!
//! // Receipt for entry 1.
//! let receipt = TlogProof::new(1, tree.inclusion_proof(1, tree.size())?, signed).to_bytes();
//!
//! // The voter checks it with the board's public key and the ballot tracker.
//! let log_key = Ed25519Verifier::from_vkey(&signer.verifier().to_vkey())?;
//! let checkpoint = TlogProof::parse(&receipt)?.verify(&leaf_hash(b"ballot 1"), &log_key)?;
//! assert_eq!(checkpoint.size(), 3);
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![warn(clippy::unwrap_used)]

pub mod checkpoint;
pub mod consistency;
pub mod cosignature;
pub mod hash;
pub mod note;
pub mod proof;
pub mod tlog_proof;
pub mod tree;

/// The Ed25519 key types used by [`Ed25519Signer`] and [`Ed25519Verifier`],
/// re-exported so callers need not match the `ed25519-dalek` version.
pub use ed25519_dalek::{SigningKey, VerifyingKey};

pub use checkpoint::{Checkpoint, CheckpointError, SignedCheckpoint};
pub use consistency::{check_consistency, verify_checkpoint_consistency, ConsistencyError};
pub use cosignature::{
    cosigned_message, CosignatureSigner, CosignatureVerifier, SIG_TYPE_COSIGNATURE_V1,
};
pub use hash::{
    leaf_hash, merkle_tree_hash, node_hash, Hash, HashError, EMPTY_ROOT, HASH_SIZE, LEAF_PREFIX,
    NODE_PREFIX,
};
pub use note::{
    is_valid_key_name, key_id, open, Ed25519Signer, Ed25519Verifier, KeyError, Note, NoteError,
    NoteSignature, NoteSigner, NoteVerifier, MAX_NOTE_SIZE, MAX_SIGNATURES, SIG_TYPE_ED25519,
};
pub use proof::{root_from_inclusion_proof, verify_consistency, verify_inclusion, ProofError};
pub use tlog_proof::{
    TlogProof, TlogProofError, MAX_EXTRA_SIZE, MAX_PROOF_HASHES, MAX_TLOG_PROOF_SIZE,
    TLOG_PROOF_HEADER,
};
pub use tree::{
    consistency_proof, inclusion_proof, split_stored_hash_index, stored_hash_count,
    stored_hash_index, stored_hashes, stored_hashes_for_record, tree_hash, HashReader, MemoryTree,
    MemoryTreeError, TreeError, MAX_TREE_SIZE,
};
