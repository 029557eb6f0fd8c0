//! C2SP transparency-log proofs (<https://c2sp.org/tlog-proof>,
//! `spec/tlog.md` §8): the voter's receipt.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! [extra <base64 opaque data>]
//! index <decimal>
//! <base64 inclusion proof hash>...
//!
//! <signed checkpoint, verbatim>
//! ```
//!
//! The leaf hash itself (the ballot tracker) is not in the proof: the voter
//! already holds it and [`TlogProof::verify`] takes it as input.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use crate::checkpoint::{parse_decimal, Checkpoint, CheckpointError, SignedCheckpoint};
use crate::hash::Hash;
use crate::note::{NoteVerifier, MAX_NOTE_SIZE};
use crate::proof::{verify_inclusion, ProofError};

/// First line of every tlog-proof (`spec/tlog.md` §8.1).
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// Maximum number of inclusion-proof hashes: 64, the longest proof any `u64`
/// tree size admits (`spec/tlog.md` §8.1).
pub const MAX_PROOF_HASHES: usize = 64;

/// Maximum size of the opaque extra data, decoded: 64 KiB (`spec/tlog.md` §8.1).
pub const MAX_EXTRA_SIZE: usize = 1 << 16;

/// Maximum size of an encoded tlog-proof: the note limit plus room for the
/// header, index, proof and extra lines (`spec/tlog.md` §8.1).
pub const MAX_TLOG_PROOF_SIZE: usize = MAX_NOTE_SIZE + (1 << 17);

/// Errors of the tlog-proof layer.
/// See `spec/tlog.md` §8.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlogProofError {
    /// The input exceeds [`MAX_TLOG_PROOF_SIZE`].
    #[error("tlog-proof is {len} bytes, more than the limit")]
    TooLarge {
        /// Size of the rejected input.
        len: usize,
    },
    /// The first line is not [`TLOG_PROOF_HEADER`].
    #[error("missing tlog-proof header")]
    MissingHeader,
    /// The `extra` line is not valid base64 or exceeds [`MAX_EXTRA_SIZE`].
    #[error("invalid extra data line")]
    InvalidExtra,
    /// The `index` line is missing or not a canonical decimal.
    #[error("missing or invalid index line")]
    InvalidIndex,
    /// A proof line is not canonical base64 of 32 bytes.
    #[error("invalid inclusion proof hash on proof line {line}")]
    InvalidProofHash {
        /// Zero-based position among the proof lines.
        line: usize,
    },
    /// More than [`MAX_PROOF_HASHES`] proof lines.
    #[error("inclusion proof has too many hashes")]
    TooManyProofHashes,
    /// The input ends before the blank line that precedes the checkpoint.
    #[error("tlog-proof is truncated")]
    Truncated,
    /// The embedded checkpoint is malformed or its signature does not verify.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// The inclusion proof does not verify under the checkpoint.
    #[error("inclusion proof: {0}")]
    Inclusion(#[from] ProofError),
}

/// A C2SP tlog-proof: a leaf's index, its inclusion proof and the signed
/// checkpoint it is proven under, plus optional unauthenticated extra data
/// (`spec/tlog.md` §8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    extra: Option<Vec<u8>>,
    index: u64,
    proof: Vec<Hash>,
    checkpoint: SignedCheckpoint,
}

/// Splits off the next `\n`-terminated line (without its newline).
fn take_line<'a>(rest: &mut &'a [u8]) -> Result<&'a str, TlogProofError> {
    let i = rest
        .iter()
        .position(|&b| b == b'\n')
        .ok_or(TlogProofError::Truncated)?;
    let (line, tail) = rest.split_at(i);
    *rest = &tail[1..];
    core::str::from_utf8(line).map_err(|_| TlogProofError::Truncated)
}

impl TlogProof {
    /// A proof for the leaf at `index` under `checkpoint`. `proof` is the
    /// inclusion proof for `(index, checkpoint.size)`, as returned by
    /// [`crate::inclusion_proof`].
    /// See `spec/tlog.md` §8.1.
    pub fn new(index: u64, proof: Vec<Hash>, checkpoint: SignedCheckpoint) -> Self {
        TlogProof {
            extra: None,
            index,
            proof,
            checkpoint,
        }
    }

    /// Attaches opaque extra data (at most [`MAX_EXTRA_SIZE`] bytes).
    /// Verifiers must not trust it: it is not authenticated.
    /// See `spec/tlog.md` §8.1.
    pub fn with_extra(mut self, extra: Vec<u8>) -> Result<Self, TlogProofError> {
        if extra.len() > MAX_EXTRA_SIZE {
            return Err(TlogProofError::InvalidExtra);
        }
        self.extra = Some(extra);
        Ok(self)
    }

    /// Parses an encoded tlog-proof (`spec/tlog.md` §8.1). The checkpoint is
    /// parsed but its signature is not verified; use [`TlogProof::verify`].
    pub fn parse(bytes: &[u8]) -> Result<Self, TlogProofError> {
        if bytes.len() > MAX_TLOG_PROOF_SIZE {
            return Err(TlogProofError::TooLarge { len: bytes.len() });
        }
        let mut rest = bytes;
        if take_line(&mut rest)? != TLOG_PROOF_HEADER {
            return Err(TlogProofError::MissingHeader);
        }
        let mut line = take_line(&mut rest)?;
        let mut extra = None;
        if let Some(b64) = line.strip_prefix("extra ") {
            if b64.len() > MAX_EXTRA_SIZE.div_ceil(3) * 4 {
                return Err(TlogProofError::InvalidExtra);
            }
            extra = Some(
                BASE64
                    .decode(b64)
                    .map_err(|_| TlogProofError::InvalidExtra)?,
            );
            line = take_line(&mut rest)?;
        }
        let index = line
            .strip_prefix("index ")
            .and_then(parse_decimal)
            .ok_or(TlogProofError::InvalidIndex)?;
        let mut proof = Vec::new();
        loop {
            let line = take_line(&mut rest)?;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_HASHES {
                return Err(TlogProofError::TooManyProofHashes);
            }
            let h = Hash::from_base64(line)
                .map_err(|_| TlogProofError::InvalidProofHash { line: proof.len() })?;
            proof.push(h);
        }
        let checkpoint = SignedCheckpoint::parse(rest)?;
        Ok(TlogProof {
            extra,
            index,
            proof,
            checkpoint,
        })
    }

    /// Encodes the proof (`spec/tlog.md` §8.1); the checkpoint is copied
    /// verbatim.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::new();
        out.push_str(TLOG_PROOF_HEADER);
        out.push('\n');
        if let Some(extra) = &self.extra {
            out.push_str("extra ");
            out.push_str(&BASE64.encode(extra));
            out.push('\n');
        }
        out.push_str("index ");
        out.push_str(&self.index.to_string());
        out.push('\n');
        for h in &self.proof {
            out.push_str(&h.to_base64());
            out.push('\n');
        }
        out.push('\n');
        let mut out = out.into_bytes();
        out.extend_from_slice(self.checkpoint.as_bytes());
        out
    }

    /// Verifies the receipt (`spec/tlog.md` §8.2): the checkpoint carries a
    /// valid signature by the log key `verifier` (whose name is the origin),
    /// and `leaf_hash` is the leaf at [`index`](Self::index) of the tree it
    /// commits to. Returns the verified checkpoint, which the holder should
    /// keep to check later checkpoints for consistency
    /// ([`crate::check_consistency`]).
    pub fn verify(
        &self,
        leaf_hash: &Hash,
        verifier: &dyn NoteVerifier,
    ) -> Result<Checkpoint, TlogProofError> {
        let checkpoint = Checkpoint::open(self.checkpoint.as_bytes(), verifier)?;
        verify_inclusion(
            leaf_hash,
            self.index,
            checkpoint.size(),
            &self.proof,
            checkpoint.root(),
        )?;
        Ok(checkpoint)
    }

    /// The unauthenticated extra data, if any.
    /// See `spec/tlog.md` §8.1.
    pub fn extra(&self) -> Option<&[u8]> {
        self.extra.as_deref()
    }
    /// The leaf index.
    /// See `spec/tlog.md` §8.1.
    pub fn index(&self) -> u64 {
        self.index
    }
    /// The inclusion proof hashes, leaf's sibling first.
    /// See `spec/tlog.md` §8.1.
    pub fn proof(&self) -> &[Hash] {
        &self.proof
    }
    /// The signed checkpoint (not verified by [`TlogProof::parse`]).
    /// See `spec/tlog.md` §8.1.
    pub fn checkpoint(&self) -> &SignedCheckpoint {
        &self.checkpoint
    }
}
