//! Benaloh cast-or-challenge (`spec/client.md` §6).
//!
//! A voter cannot see what their device encrypted. So the device commits to a
//! ballot (shows its tracker) *before* the voter says whether to cast it or
//! challenge it. On a challenge the device posts the ballot with every
//! encryption nonce and selection (a `ChallengedBallot`, never counted), and
//! anyone — ideally a second device — checks that
//!
//! 1. the revealed selections and nonces re-encrypt to the posted
//!    ciphertexts under the election key (rule R7.1), and
//! 2. the revealed selections are what the voter intended.
//!
//! A device that encrypts something else is caught with probability equal to
//! the fraction of ballots voters challenge, without knowing which ones will
//! be. The challenged encryption is spent: the voter prepares a fresh ballot
//! (new nonces) and may challenge again or cast.

use tallyboard_board_client::BoardClient;
use tallyboard_proto::v1;
use tallyboard_protocol::ballot::{check_ballot, check_reveal, district_contests};
use tallyboard_protocol::{decode_entry, testkit};
use tallyboard_tlog::{leaf_hash, Checkpoint, Hash};
use v1::entry_body::Payload;

use crate::ballot::{read_back, PreparedBallot};
use crate::election::Election;
use crate::error::{from_append, ClientError};
use crate::selection::check_selections;

/// One contest of a challenged ballot: what was revealed and what the voter
/// intended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContestCheck {
    /// Contest id.
    pub contest: String,
    /// The selections the posted reveal opens to.
    pub revealed: Vec<u64>,
    /// The selections the voter intended.
    pub intended: Vec<u64>,
}

impl ContestCheck {
    /// Whether the device encrypted what the voter intended.
    pub fn matches(&self) -> bool {
        self.revealed == self.intended
    }
}

/// The outcome of a challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeReport {
    /// Log index of the challenged-ballot entry.
    pub index: u64,
    /// Leaf hash of the challenged-ballot entry.
    pub challenge_tracker: Hash,
    /// The tracker of the ballot the device committed to (now spent; never
    /// cast).
    pub ballot_tracker: Hash,
    /// The checkpoint of the challenge's receipt.
    pub checkpoint: Checkpoint,
    /// Per contest of the district, in manifest order.
    pub contests: Vec<ContestCheck>,
}

impl ChallengeReport {
    /// Whether every contest matched.
    pub fn honest(&self) -> bool {
        self.contests.iter().all(ContestCheck::matches)
    }
    /// The contests whose revealed selections differ from the intended ones.
    pub fn mismatches(&self) -> impl Iterator<Item = &ContestCheck> {
        self.contests.iter().filter(|c| !c.matches())
    }
}

/// Challenges a prepared ballot (`spec/client.md` §6): posts it with its
/// reveal, signed by the credential; reads the entry back from the board
/// (byte-identical); and checks it independently of the device's secrets —
/// the posted ballot is the one committed to, its proofs verify, the reveal
/// re-encrypts to its ciphertexts, and the revealed selections equal
/// `intended` (one vector per contest of the district, manifest order).
///
/// Returns the report if the device was honest, and
/// [`ClientError::ChallengeMismatch`] (with the report) if it encrypted
/// something else. Either way the prepared ballot is consumed: prepare a new
/// one to vote.
pub async fn challenge(
    board: &mut BoardClient,
    prepared: PreparedBallot,
    intended: &[Vec<u64>],
) -> Result<ChallengeReport, ClientError> {
    let district = prepared.ballot.district.clone();
    check_selections(&prepared.election.manifest, &district, intended)?;
    let reveals = prepared.secrets.0.iter().map(|s| s.reveal()).collect();
    let entry = testkit::entry(
        &prepared.key,
        prepared.election.election_id(),
        *prepared.election.fingerprint(),
        Payload::ChallengedBallot(v1::ChallengedBallot {
            ballot: Some(prepared.ballot.clone()),
            reveals,
        }),
    );
    let receipt = board.append(entry.clone()).await.map_err(from_append)?;
    read_back(board, receipt.index, &entry).await?;
    board
        .prove_consistency(&prepared.election.checkpoint, &receipt.checkpoint)
        .await?;
    let mut report = verify_challenged_entry(&prepared.election, &entry, intended)?;
    // The posted ballot must be the one the device committed to.
    let posted = match decode_entry(&entry).ok().and_then(|e| e.body.payload) {
        Some(Payload::ChallengedBallot(c)) => c.ballot,
        _ => None,
    };
    if posted.as_ref() != Some(&prepared.ballot)
        || report_author(&entry) != Some(prepared.key.verifying_key().to_bytes())
    {
        return Err(ClientError::Mismatch(
            "the challenged ballot is not the ballot the device committed to".into(),
        ));
    }
    report.index = receipt.index;
    report.checkpoint = receipt.checkpoint;
    report.ballot_tracker = prepared.tracker;
    if report.honest() {
        Ok(report)
    } else {
        Err(ClientError::ChallengeMismatch(Box::new(report)))
    }
}

fn report_author(entry: &[u8]) -> Option<[u8; 32]> {
    decode_entry(entry).ok().map(|e| e.author.to_bytes())
}

/// Checks a challenged-ballot entry (the exact bytes, e.g. as read from the
/// board by a second device) against the election and the voter's intended
/// selections: signature, credential, proofs, the reveal (rule R7.1), and
/// the revealed selections against `intended`. `index`, `checkpoint` and
/// `ballot_tracker` of the report are left empty (the caller knows them).
///
/// Errors: [`ClientError::ChallengeInvalid`] if the entry is not a valid
/// challenged ballot (it does not open to its ciphertexts, or its proofs or
/// credential fail). A mismatch with `intended` is *not* an error here: see
/// [`ChallengeReport::honest`].
pub fn verify_challenged_entry(
    election: &Election,
    entry: &[u8],
    intended: &[Vec<u64>],
) -> Result<ChallengeReport, ClientError> {
    let m = &election.manifest;
    let decoded = decode_entry(entry).map_err(ClientError::ChallengeInvalid)?;
    if decoded.body.election_fingerprint.as_slice() != m.fingerprint {
        return Err(ClientError::Mismatch(
            "the challenged ballot belongs to another election".into(),
        ));
    }
    let c = match decoded.payload() {
        Some(Payload::ChallengedBallot(c)) => c,
        _ => {
            return Err(ClientError::Mismatch(
                "the entry is not a challenged ballot".into(),
            ))
        }
    };
    let ballot = c
        .ballot
        .as_ref()
        .ok_or_else(|| ClientError::Mismatch("the challenged ballot has no ballot".into()))?;
    let checked = check_ballot(m, &election.key, &decoded.author, ballot)
        .map_err(ClientError::ChallengeInvalid)?;
    check_reveal(m, &election.key, &checked, &c.reveals).map_err(ClientError::ChallengeInvalid)?;
    check_selections(m, &ballot.district, intended)?;
    let positions = district_contests(m, &ballot.district);
    let contests = positions
        .iter()
        .zip(&c.reveals)
        .zip(intended)
        .map(|((&p, r), want)| ContestCheck {
            contest: m.raw.contests[p].id.clone(),
            revealed: r.selections.clone(),
            intended: want.clone(),
        })
        .collect();
    Ok(ChallengeReport {
        index: 0,
        challenge_tracker: leaf_hash(entry),
        ballot_tracker: Hash::default(),
        checkpoint: election.checkpoint.clone(),
        contests,
    })
}

/// A second device's check of a challenge: reads the entry at `index` from
/// the board, checks it is included in the board's latest signed tree, and
/// runs [`verify_challenged_entry`] with the voter's `intended` selections.
pub async fn check_challenge_on_board(
    board: &mut BoardClient,
    election: &Election,
    index: u64,
    intended: &[Vec<u64>],
) -> Result<ChallengeReport, ClientError> {
    let (page, _) = board.list_entries(index, 1).await?;
    let entry = match page.into_iter().next() {
        Some(e) if e.index == index => e.entry,
        _ => {
            return Err(ClientError::Mismatch(format!(
                "the board did not list entry {index}"
            )))
        }
    };
    let latest = board.check_consistency(&election.checkpoint).await?;
    board
        .prove_inclusion(&entry, index, latest.checkpoint())
        .await?;
    let mut report = verify_challenged_entry(election, &entry, intended)?;
    report.index = index;
    report.checkpoint = latest.into_checkpoint();
    Ok(report)
}
