//! Cast receipts: keeping them, re-checking them, and checking later that
//! the ballot is still on the board (`spec/client.md` §5.2, §5.3).
//!
//! # Receipt file (`spec/client.md` §5.2)
//!
//! ```text
//! tallyboard/v1/cast-receipt
//! election <64 hex: election fingerprint>
//! tracker <64 hex: leaf hash of the ballot entry>
//! index <decimal: log index of the ballot entry>
//!
//! <C2SP tlog-proof, verbatim: index, inclusion proof, signed checkpoint>
//! ```
//!
//! The header lines end in `\n` and the empty line separates them from the
//! tlog-proof (`spec/tlog.md` §8), which must name the same index. Anyone
//! with the board's verifier key checks a receipt file offline: the
//! checkpoint's signature and the inclusion of the tracker at the index. The
//! election line is not covered by the board's signature; the online check
//! ([`check_still_included`]) compares it with the entry on the board.

use tallyboard_board_client::{BoardClient, VerifiedReceipt};
use tallyboard_protocol::decode_entry;
use tallyboard_tlog::{leaf_hash, Checkpoint, Ed25519Verifier, Hash, SignedCheckpoint, TlogProof};

use crate::error::ClientError;

/// First line of a receipt file.
pub const RECEIPT_FILE_HEADER: &str = "tallyboard/v1/cast-receipt";

/// A receipt for a cast ballot, verified against the board's key: only
/// [`crate::cast`] and [`verify_receipt_file`] make one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CastReceipt {
    election: [u8; 32],
    index: u64,
    tracker: Hash,
    checkpoint: Checkpoint,
    signed_checkpoint: Vec<u8>,
    tlog_proof: Vec<u8>,
}

impl CastReceipt {
    pub(crate) fn from_verified(
        election: [u8; 32],
        r: &VerifiedReceipt,
    ) -> Result<Self, ClientError> {
        Ok(CastReceipt {
            election,
            index: r.index,
            tracker: r.leaf_hash,
            checkpoint: r.checkpoint.clone(),
            signed_checkpoint: r.signed_checkpoint.clone(),
            tlog_proof: r.tlog_proof.clone(),
        })
    }

    /// The election fingerprint.
    pub fn election(&self) -> &[u8; 32] {
        &self.election
    }
    /// The ballot entry's log index.
    pub fn index(&self) -> u64 {
        self.index
    }
    /// The ballot tracker (the entry's leaf hash).
    pub fn tracker(&self) -> Hash {
        self.tracker
    }
    /// The tracker in lowercase hex.
    pub fn tracker_hex(&self) -> String {
        hex::encode(self.tracker.0)
    }
    /// The board's checkpoint that the receipt proves inclusion in.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }
    /// The signed checkpoint note, verbatim.
    pub fn signed_checkpoint(&self) -> &[u8] {
        &self.signed_checkpoint
    }
    /// The C2SP tlog-proof.
    pub fn tlog_proof(&self) -> &[u8] {
        &self.tlog_proof
    }

    /// The receipt file (see the module docs).
    pub fn to_file_bytes(&self) -> Vec<u8> {
        let mut out = format!(
            "{RECEIPT_FILE_HEADER}\nelection {}\ntracker {}\nindex {}\n\n",
            hex::encode(self.election),
            hex::encode(self.tracker.0),
            self.index
        )
        .into_bytes();
        out.extend_from_slice(&self.tlog_proof);
        out
    }
}

fn header_field<'a>(
    lines: &mut impl Iterator<Item = &'a [u8]>,
    name: &str,
) -> Result<&'a str, ClientError> {
    let line = lines
        .next()
        .ok_or_else(|| ClientError::Receipt(format!("missing line {name:?}")))?;
    std::str::from_utf8(line)
        .ok()
        .and_then(|l| l.strip_prefix(name))
        .and_then(|l| l.strip_prefix(' '))
        .ok_or_else(|| ClientError::Receipt(format!("expected line {name:?}")))
}

fn hex32(s: &str, what: &str) -> Result<[u8; 32], ClientError> {
    let mut out = [0u8; 32];
    if s.len() != 64 || hex::decode_to_slice(s, &mut out).is_err() {
        return Err(ClientError::Receipt(format!(
            "{what} must be 64 hex digits"
        )));
    }
    Ok(out)
}

/// Parses a receipt file and verifies it against the board's verifier key
/// (`spec/client.md` §5.2): the tlog-proof parses and names the header's
/// index, its checkpoint is signed by `board`, and the tracker is included at
/// the index in the checkpoint's tree. Any change to the tracker, index,
/// proof or checkpoint fails.
pub fn verify_receipt_file(
    board: &Ed25519Verifier,
    bytes: &[u8],
) -> Result<CastReceipt, ClientError> {
    const MAX: usize = tallyboard_tlog::MAX_TLOG_PROOF_SIZE + 1024;
    if bytes.len() > MAX {
        return Err(ClientError::Receipt("receipt file too large".into()));
    }
    // Split the header (up to the first empty line) from the tlog-proof.
    let sep = bytes
        .windows(2)
        .position(|w| w == b"\n\n")
        .ok_or_else(|| ClientError::Receipt("no empty line after the header".into()))?;
    let (header, proof) = (&bytes[..=sep], &bytes[sep + 2..]);
    let mut lines = header.split(|&b| b == b'\n').filter(|l| !l.is_empty());
    if lines.next() != Some(RECEIPT_FILE_HEADER.as_bytes()) {
        return Err(ClientError::Receipt("not a tallyboard cast receipt".into()));
    }
    let election = hex32(header_field(&mut lines, "election")?, "election")?;
    let tracker = Hash(hex32(header_field(&mut lines, "tracker")?, "tracker")?);
    let index_text = header_field(&mut lines, "index")?;
    let index: u64 = index_text
        .parse()
        .ok()
        .filter(|_| {
            !index_text.starts_with('+') && (index_text == "0" || !index_text.starts_with('0'))
        })
        .ok_or_else(|| ClientError::Receipt("index must be a decimal number".into()))?;
    if lines.next().is_some() {
        return Err(ClientError::Receipt("unexpected header line".into()));
    }
    let tlog =
        TlogProof::parse(proof).map_err(|e| ClientError::Receipt(format!("tlog-proof: {e}")))?;
    if tlog.index() != index {
        return Err(ClientError::Receipt(format!(
            "the header names index {index}, the tlog-proof {}",
            tlog.index()
        )));
    }
    let checkpoint = tlog
        .verify(&tracker, board)
        .map_err(|e| ClientError::Receipt(format!("does not verify: {e}")))?;
    Ok(CastReceipt {
        election,
        index,
        tracker,
        checkpoint,
        signed_checkpoint: tlog.checkpoint().as_bytes().to_vec(),
        tlog_proof: proof.to_vec(),
    })
}

/// What [`check_still_included`] established.
#[derive(Debug, Clone)]
pub struct InclusionCheck {
    /// The board's latest checkpoint, verified and consistent with the
    /// receipt's: keep it as the checkpoint to compare the next one with.
    pub latest: SignedCheckpoint,
}

/// Checks with the board that a cast ballot is still on the record
/// (`spec/client.md` §5.3): the latest signed checkpoint is consistent with
/// the receipt's (a board that dropped, rewrote or forked the log cannot
/// prove that), the entry at the receipt's index still hashes to the tracker
/// and belongs to the receipt's election, and it is included in the latest
/// tree.
pub async fn check_still_included(
    board: &mut BoardClient,
    receipt: &CastReceipt,
) -> Result<InclusionCheck, ClientError> {
    let latest = board.check_consistency(&receipt.checkpoint).await?;
    let (page, _) = board.list_entries(receipt.index, 1).await?;
    let entry = match page.into_iter().next() {
        Some(e) if e.index == receipt.index => e.entry,
        _ => {
            return Err(ClientError::Mismatch(format!(
                "the board did not list entry {}",
                receipt.index
            )))
        }
    };
    if leaf_hash(&entry) != receipt.tracker {
        return Err(ClientError::Mismatch(format!(
            "entry {} on the board is not the ballot with this tracker",
            receipt.index
        )));
    }
    let decoded = decode_entry(&entry).map_err(|e| {
        ClientError::Mismatch(format!("entry {} does not decode: {e}", receipt.index))
    })?;
    if decoded.body.election_fingerprint.as_slice() != receipt.election {
        return Err(ClientError::Mismatch(format!(
            "entry {} belongs to another election than the receipt names",
            receipt.index
        )));
    }
    board
        .prove_inclusion(&entry, receipt.index, latest.checkpoint())
        .await?;
    Ok(InclusionCheck { latest })
}
