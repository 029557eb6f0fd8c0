//! Receipts: what an author gets back for an appended entry, and how anyone
//! checks one (`spec/board.md` §5.1, §8).
//!
//! A receipt proves that the exact entry bytes are the leaf at `index` of the
//! tree that the board signed in `checkpoint`. To verify it one needs only
//! the entry bytes and the board's verifier key (`board.pub`, also named in
//! the manifest):
//!
//! 1. `leaf_hash = SHA-256(0x00 || entry)` (the tracker) equals the receipt's;
//! 2. the checkpoint is a C2SP signed note with a valid signature by the
//!    board key, whose name is the checkpoint's origin;
//! 3. the inclusion proof leads from `leaf_hash` at `index` to the
//!    checkpoint's root for its size (RFC 9162 §2.1.3.2);
//! 4. the `tlog_proof` field says the same thing in C2SP tlog-proof form.

use tallyboard_proto::v1 as pb;
use tallyboard_tlog::{
    leaf_hash, Checkpoint, Ed25519Verifier, Hash, SignedCheckpoint, TlogProof, TlogProofError,
};

/// A receipt as the board makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The entry's log index.
    pub index: u64,
    /// The entry's leaf hash (the tracker).
    pub leaf_hash: Hash,
    /// Inclusion proof of `index` in the checkpoint's tree.
    pub proof: Vec<Hash>,
    /// The board's signed checkpoint.
    pub checkpoint: SignedCheckpoint,
}

impl Receipt {
    /// The C2SP tlog-proof form.
    pub fn tlog_proof(&self) -> TlogProof {
        TlogProof::new(self.index, self.proof.clone(), self.checkpoint.clone())
    }

    /// The protobuf form (`tallyboard.v1.Receipt`).
    pub fn to_proto(&self) -> pb::Receipt {
        pb::Receipt {
            index: self.index,
            leaf_hash: self.leaf_hash.0.to_vec(),
            checkpoint: self.checkpoint.as_bytes().to_vec(),
            inclusion_proof: self.proof.iter().map(|h| h.0.to_vec()).collect(),
            tlog_proof: self.tlog_proof().to_bytes(),
        }
    }
}

/// Why a receipt does not verify.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    /// The receipt's leaf hash is not the leaf hash of the entry bytes.
    #[error("the receipt's leaf hash is not the hash of this entry")]
    LeafMismatch,
    /// The tlog-proof is malformed, its checkpoint is not signed by the
    /// board, or the inclusion proof fails.
    #[error("receipt does not verify: {0}")]
    Proof(TlogProofError),
    /// The protobuf fields disagree with the tlog-proof (index, checkpoint or
    /// proof hashes).
    #[error("the receipt's fields disagree with its tlog-proof: {0}")]
    Inconsistent(&'static str),
}

impl From<TlogProofError> for ReceiptError {
    fn from(e: TlogProofError) -> Self {
        ReceiptError::Proof(e)
    }
}

/// A receipt that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedReceipt {
    /// The entry's log index.
    pub index: u64,
    /// The entry's leaf hash (the tracker).
    pub leaf_hash: Hash,
    /// The verified checkpoint (keep it: later checkpoints must be
    /// consistent with it).
    pub checkpoint: Checkpoint,
    /// The signed checkpoint bytes.
    pub signed_checkpoint: Vec<u8>,
    /// The receipt in C2SP tlog-proof form, to keep or show.
    pub tlog_proof: Vec<u8>,
}

/// Verifies a receipt for `entry` (the exact bytes appended) against the
/// board's verifier key (`spec/board.md` §8).
pub fn verify_receipt(
    receipt: &pb::Receipt,
    entry: &[u8],
    board: &Ed25519Verifier,
) -> Result<VerifiedReceipt, ReceiptError> {
    let leaf = leaf_hash(entry);
    if receipt.leaf_hash.as_slice() != leaf.as_bytes() {
        return Err(ReceiptError::LeafMismatch);
    }
    let tlog = TlogProof::parse(&receipt.tlog_proof)?;
    if tlog.index() != receipt.index {
        return Err(ReceiptError::Inconsistent("index"));
    }
    if tlog.checkpoint().as_bytes() != receipt.checkpoint.as_slice() {
        return Err(ReceiptError::Inconsistent("checkpoint"));
    }
    if tlog.proof().len() != receipt.inclusion_proof.len()
        || tlog
            .proof()
            .iter()
            .zip(&receipt.inclusion_proof)
            .any(|(a, b)| a.as_bytes().as_slice() != b.as_slice())
    {
        return Err(ReceiptError::Inconsistent("inclusion_proof"));
    }
    let checkpoint = tlog.verify(&leaf, board)?;
    Ok(VerifiedReceipt {
        index: receipt.index,
        leaf_hash: leaf,
        checkpoint,
        signed_checkpoint: receipt.checkpoint.clone(),
        tlog_proof: receipt.tlog_proof.clone(),
    })
}

/// Verifies a receipt kept in C2SP tlog-proof form only, for `entry`.
pub fn verify_tlog_receipt(
    tlog_proof: &[u8],
    entry: &[u8],
    board: &Ed25519Verifier,
) -> Result<Checkpoint, ReceiptError> {
    Ok(TlogProof::parse(tlog_proof)?.verify(&leaf_hash(entry), board)?)
}
