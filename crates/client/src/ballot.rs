//! Preparing and casting ballots (`spec/client.md` §4, §5).
//!
//! [`prepare`] encrypts and proves the voter's selections
//! ([`build_ballot`]) and signs the ballot entry with the credential key. The
//! result, a [`PreparedBallot`], is a commitment: its tracker (the RFC 9162
//! leaf hash of the exact entry bytes) is what the voter is shown before
//! deciding to cast or challenge it. Either decision consumes it — a ballot
//! whose encryption was opened by a challenge can never be cast, and a cast
//! ballot can never be opened:
//!
//! ```compile_fail
//! # async fn f(board: &mut tallyboard_board_client::BoardClient, p: tallyboard_client::PreparedBallot, i: &[Vec<u64>]) {
//! let _ = tallyboard_client::challenge(board, p, i).await;
//! let _ = tallyboard_client::cast(board, p).await; // `p` was moved: does not compile
//! # }
//! ```

use ed25519_dalek::SigningKey;
use tallyboard_board_client::BoardClient;
use tallyboard_proto::v1;
use tallyboard_protocol::ballot::{build_ballot, ContestSecret, CredentialRef};
use tallyboard_protocol::{rules, testkit, ElectionPhase};
use tallyboard_tlog::{leaf_hash, Hash};
use v1::entry_body::Payload;
use zeroize::Zeroize;

use crate::credential::Credential;
use crate::election::Election;
use crate::error::{from_append, ClientError};
use crate::receipt::CastReceipt;
use crate::selection::check_selections;

/// The encryption secrets of a prepared ballot, zeroized on drop.
pub(crate) struct Secrets(pub(crate) Vec<ContestSecret>);

impl Drop for Secrets {
    fn drop(&mut self) {
        for s in &mut self.0 {
            s.selections.zeroize();
            // The nonces zeroize themselves on drop.
        }
    }
}

/// A ballot encrypted, proven and signed, not yet cast or challenged.
/// Holds the encryption secrets (zeroized on drop); `Debug` shows only the
/// tracker.
pub struct PreparedBallot {
    pub(crate) election: Election,
    pub(crate) key: SigningKey,
    pub(crate) ballot: v1::Ballot,
    pub(crate) entry: Vec<u8>,
    pub(crate) tracker: Hash,
    pub(crate) secrets: Secrets,
}

impl std::fmt::Debug for PreparedBallot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedBallot")
            .field("tracker", &hex::encode(self.tracker.0))
            .field("round", &self.ballot.round)
            .field("secrets", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

impl PreparedBallot {
    /// The ballot tracker: `SHA-256(0x00 ‖ entry bytes)`, the leaf hash the
    /// entry will have on the board.
    pub fn tracker(&self) -> Hash {
        self.tracker
    }
    /// The tracker in lowercase hex.
    pub fn tracker_hex(&self) -> String {
        hex::encode(self.tracker.0)
    }
    /// The exact entry bytes that casting appends.
    pub fn entry_bytes(&self) -> &[u8] {
        &self.entry
    }
    /// The caucus round (0 for an ordinary election).
    pub fn round(&self) -> u32 {
        self.ballot.round
    }
    /// The ballot (ciphertexts and proofs).
    pub fn ballot(&self) -> &v1::Ballot {
        &self.ballot
    }
}

/// The phase in which ballots of `round` are accepted.
pub(crate) fn round_phase(round: u32) -> ElectionPhase {
    if round == 0 {
        ElectionPhase::VotingOpen
    } else {
        ElectionPhase::RealignmentOpen
    }
}

/// Refuses locally when the replayed record shows that ballots of `round`
/// can no longer be accepted (phases only move forward, so a replayed phase
/// past the round's is final). An earlier phase is left to the board: the
/// replay may be behind.
pub(crate) fn check_phase(election: &Election, round: u32) -> Result<(), ClientError> {
    let open = round_phase(round);
    if election.phase > open {
        return Err(ClientError::Rejected {
            code: tonic::Code::FailedPrecondition,
            rule: Some(rules::PHASE_ALLOWS.to_owned()),
            message: format!(
                "rule {}: ballots of round {round} are accepted only in phase {open:?}; the record (replayed to entry {}) is in phase {:?}",
                rules::PHASE_ALLOWS,
                election.log_size,
                election.phase
            ),
        });
    }
    Ok(())
}

/// Encrypts and proves `selections` (one vector per contest of the
/// credential's district, manifest order; see [`crate::selections_for`]) for
/// caucus `round` (0 for an ordinary election), and signs the ballot entry
/// with the credential (`spec/client.md` §4).
///
/// Checks first that the credential is valid for this election (its issuer
/// signature under the district key of the replayed manifest), that the
/// selections follow the contest rules, and that the replayed record does
/// not already show the round closed.
pub fn prepare(
    election: &Election,
    credential: &Credential,
    selections: &[Vec<u64>],
    round: u32,
) -> Result<PreparedBallot, ClientError> {
    credential.verify(election)?;
    check_selections(&election.manifest, credential.district(), selections)?;
    check_phase(election, round)?;
    let cref = CredentialRef {
        key: credential.signing_key(),
        district: credential.district(),
        signature: credential.signature(),
        randomizer: credential.randomizer(),
    };
    let (ballot, secrets) = build_ballot(
        &election.manifest,
        &election.key,
        &cref,
        selections,
        round,
        &mut rand_core::OsRng,
    )
    .map_err(ClientError::Ballot)?;
    let secrets = Secrets(secrets);
    let entry = testkit::entry(
        credential.signing_key(),
        election.election_id(),
        *election.fingerprint(),
        Payload::Ballot(ballot.clone()),
    );
    let tracker = leaf_hash(&entry);
    Ok(PreparedBallot {
        election: election.clone(),
        key: credential.signing_key().clone(),
        ballot,
        entry,
        tracker,
        secrets,
    })
}

/// Reads the entry at `index` back from the board and checks it is
/// byte-identical to `expected`.
pub(crate) async fn read_back(
    board: &mut BoardClient,
    index: u64,
    expected: &[u8],
) -> Result<(), ClientError> {
    let (page, _) = board.list_entries(index, 1).await?;
    match page.first() {
        Some(e) if e.index == index && e.entry == expected => Ok(()),
        Some(e) if e.index == index => Err(ClientError::Mismatch(format!(
            "entry {index} read back from the board is not the entry appended"
        ))),
        _ => Err(ClientError::Mismatch(format!(
            "the board did not list entry {index} after appending it"
        ))),
    }
}

/// Casts a prepared ballot (`spec/client.md` §5): appends it and checks
///
/// 1. the receipt: the board's signature on its checkpoint and the
///    inclusion proof of the entry (by [`BoardClient::append`]);
/// 2. the receipt's leaf hash equals the tracker shown to the voter;
/// 3. the entry at the receipt's index, read back, is byte-identical;
/// 4. the receipt's checkpoint extends the one the election was replayed
///    against (the ballot went into the same log, not a fork).
///
/// Consumes the prepared ballot: its secrets are zeroized and it can no
/// longer be challenged.
pub async fn cast(
    board: &mut BoardClient,
    prepared: PreparedBallot,
) -> Result<CastReceipt, ClientError> {
    let receipt = board
        .append(prepared.entry.clone())
        .await
        .map_err(from_append)?;
    if receipt.leaf_hash != prepared.tracker {
        return Err(ClientError::Mismatch(
            "the receipt's leaf hash is not the ballot tracker".into(),
        ));
    }
    read_back(board, receipt.index, &prepared.entry).await?;
    board
        .prove_consistency(&prepared.election.checkpoint, &receipt.checkpoint)
        .await?;
    CastReceipt::from_verified(*prepared.election.fingerprint(), &receipt)
}
