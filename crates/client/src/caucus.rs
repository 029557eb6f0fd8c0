//! Caucus realignment by the voter's client (`spec/caucus.md` §9.4, §9.8).
//!
//! For a caucus, the client keeps what it needs of the voter's counted
//! first-alignment ballot ([`FirstAlignment`]: its log index, the alignment
//! contest's ciphertexts, their nonces and the chosen group) together with
//! up to five ranked preferences given at the start. When the viability is
//! posted, [`prepare_realignment`] decides by itself: a member of a viable
//! group stays (locked); otherwise the first viable preference, else
//! "uncommitted" if viable, else nobody (the participant drops out of the
//! final alignment). The realignment ballot carries the proof that the
//! first-alignment choice was not viable, without revealing it.

use tallyboard_board_client::BoardClient;
use tallyboard_crypto::elgamal::{Ciphertext, Nonce};
use tallyboard_protocol::ballot::{round_contests, CredentialRef};
use tallyboard_protocol::caucus::{
    build_realignment_ballot, ranked_choice_for_realignment, CaucusSetup, Round0Ballot,
    MAX_RANKED_PREFERENCES, REALIGNMENT_ROUND,
};
use tallyboard_protocol::{testkit, v1};
use tallyboard_tlog::leaf_hash;
use v1::entry_body::Payload;
use zeroize::Zeroize;

use crate::ballot::{cast, check_phase, PreparedBallot, Secrets};
use crate::credential::Credential;
use crate::election::Election;
use crate::error::ClientError;
use crate::receipt::CastReceipt;

/// What the client keeps of a cast first-alignment ballot to realign later.
/// The chosen group and the nonces are secret: `Debug` hides them, and the
/// group index is zeroized on drop (the nonces zeroize themselves).
pub struct FirstAlignment {
    entry: u64,
    choice: usize,
    ciphertexts: Vec<Ciphertext>,
    nonces: Vec<Nonce>,
}

impl Drop for FirstAlignment {
    fn drop(&mut self) {
        self.choice.zeroize();
    }
}

impl std::fmt::Debug for FirstAlignment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FirstAlignment")
            .field("entry", &self.entry)
            .field("choice", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

impl FirstAlignment {
    /// Log index of the first-alignment ballot.
    pub fn entry(&self) -> u64 {
        self.entry
    }
}

/// What [`prepare_realignment`] decided.
#[derive(Debug)]
pub enum Realignment {
    /// The first-alignment group is viable: the participant stays in it.
    Locked,
    /// No ranked preference (nor "uncommitted") is viable: the participant
    /// does not realign.
    NoViablePreference,
    /// A realignment ballot for the group at this option index, ready to
    /// cast (or challenge).
    Ballot(usize, Box<PreparedBallot>),
}

/// Casts a first-alignment ballot of a caucus like [`cast`] and keeps what a
/// realignment needs. Fails if the election is not a caucus or the ballot is
/// not of round 0.
pub async fn cast_first_alignment(
    board: &mut BoardClient,
    prepared: PreparedBallot,
) -> Result<(CastReceipt, FirstAlignment), ClientError> {
    let m = prepared.election.manifest.clone();
    let s = CaucusSetup::from_manifest(&m)
        .ok_or_else(|| ClientError::NotReady("this election is not a caucus".into()))?;
    if prepared.round() != 0 {
        return Err(ClientError::Ballot(
            "only a first-alignment (round 0) ballot can be realigned later".into(),
        ));
    }
    let positions = round_contests(&m, &prepared.ballot.district, 0);
    let k = positions
        .iter()
        .position(|p| *p == s.contest)
        .ok_or_else(|| {
            ClientError::Ballot("the ballot's district does not hold the caucus".into())
        })?;
    let secret = prepared
        .secrets
        .0
        .get(k)
        .ok_or_else(|| ClientError::Internal("the ballot lost its secrets".into()))?;
    let pk = &prepared.election.key;
    let ciphertexts = secret
        .selections
        .iter()
        .zip(&secret.nonces)
        .map(|(v, n)| pk.encrypt_with(*v, n))
        .collect();
    let choice = secret
        .selections
        .iter()
        .position(|v| *v == 1)
        .ok_or_else(|| ClientError::Ballot("the alignment choice is empty".into()))?;
    let nonces = secret.nonces.clone();
    let receipt = cast(board, prepared).await?;
    let entry = receipt.index();
    Ok((
        receipt,
        FirstAlignment {
            entry,
            choice,
            ciphertexts,
            nonces,
        },
    ))
}

/// Decides the participant's realignment from the viability on the
/// replayed record (refresh the election first) and `ranked`, the
/// participant's preferences as option indices of the alignment contest,
/// most preferred first (at most [`MAX_RANKED_PREFERENCES`] are read;
/// `spec/caucus.md` §9.8), and prepares the realignment ballot if there is
/// one to cast.
pub fn prepare_realignment(
    election: &Election,
    credential: &Credential,
    first: &FirstAlignment,
    ranked: &[usize],
) -> Result<Realignment, ClientError> {
    credential.verify(election)?;
    check_phase(election, REALIGNMENT_ROUND)?;
    let m = &election.manifest;
    let s = CaucusSetup::from_manifest(m)
        .ok_or_else(|| ClientError::NotReady("this election is not a caucus".into()))?;
    let viability = election.caucus_viability.as_ref().ok_or_else(|| {
        ClientError::NotReady("the caucus viability is not on the record yet".into())
    })?;
    let flags = &viability
        .iter()
        .find(|d| d.district == credential.district())
        .ok_or_else(|| {
            ClientError::NotReady(format!(
                "the viability names no district {}",
                credential.district()
            ))
        })?
        .viable;
    if flags.get(first.choice).copied().unwrap_or(false) {
        return Ok(Realignment::Locked);
    }
    let ranked: Vec<usize> = ranked
        .iter()
        .take(MAX_RANKED_PREFERENCES)
        .copied()
        .collect();
    let Some(target) = ranked_choice_for_realignment(&ranked, flags, s.uncommitted) else {
        return Ok(Realignment::NoViablePreference);
    };
    let cref = CredentialRef {
        key: credential.signing_key(),
        district: credential.district(),
        signature: credential.signature(),
        randomizer: credential.randomizer(),
    };
    let (ballot, secrets) = build_realignment_ballot(
        m,
        &election.key,
        &cref,
        target,
        &Round0Ballot {
            entry: first.entry,
            ciphertexts: &first.ciphertexts,
            nonces: &first.nonces,
        },
        flags,
        &mut rand_core::OsRng,
    )
    .map_err(ClientError::Ballot)?;
    let entry = testkit::entry(
        credential.signing_key(),
        election.election_id(),
        *election.fingerprint(),
        Payload::Ballot(ballot.clone()),
    );
    let tracker = leaf_hash(&entry);
    Ok(Realignment::Ballot(
        target,
        Box::new(PreparedBallot {
            election: election.clone(),
            key: credential.signing_key().clone(),
            ballot,
            entry,
            tracker,
            secrets: Secrets(secrets),
        }),
    ))
}

/// First line of a first-alignment file.
const FIRST_ALIGNMENT_HEADER: &str = "tallyboard first-alignment v1";
/// Largest first-alignment file read.
const MAX_FIRST_ALIGNMENT_FILE: u64 = 64 * 1024;

impl FirstAlignment {
    /// The file the CLI keeps between the first alignment and the
    /// realignment (mode 0600; it holds the ballot's nonces, which reveal
    /// the choice): lines `tallyboard first-alignment v1`, `election <hex>`,
    /// `entry <n>`, `choice <i>`, `ranked <i,j,…>` (or `-`), `nonces
    /// <hex>,<hex>,…`. Refuses to overwrite an existing file.
    pub fn save(
        &self,
        path: &std::path::Path,
        election: &Election,
        ranked: &[usize],
    ) -> Result<(), ClientError> {
        let ranked = if ranked.is_empty() {
            "-".to_owned()
        } else {
            ranked
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        let nonces = zeroize::Zeroizing::new(
            self.nonces
                .iter()
                .map(|n| hex::encode(n.to_bytes()))
                .collect::<Vec<_>>()
                .join(","),
        );
        let text = zeroize::Zeroizing::new(format!(
            "{FIRST_ALIGNMENT_HEADER}\nelection {}\nentry {}\nchoice {}\nranked {ranked}\nnonces {}\n",
            hex::encode(election.fingerprint()),
            self.entry,
            self.choice,
            nonces.as_str()
        ));
        crate::credential::write_private_file(path, text.as_bytes())
    }

    /// Reads a file written by [`Self::save`] for `election`, recomputing
    /// the ciphertexts from the nonces under the election key; returns the
    /// first alignment and the ranked preferences. Refuses a file readable
    /// by group or others, or of another election.
    pub fn load(
        path: &std::path::Path,
        election: &Election,
    ) -> Result<(Self, Vec<usize>), ClientError> {
        let buf = crate::credential::read_private_file(path, MAX_FIRST_ALIGNMENT_FILE)?;
        let bad = |m: &str| ClientError::Credential(format!("malformed first-alignment file: {m}"));
        let text = std::str::from_utf8(&buf).map_err(|_| bad("not UTF-8"))?;
        let mut lines = text.lines();
        if lines.next() != Some(FIRST_ALIGNMENT_HEADER) {
            return Err(bad("not a tallyboard first-alignment file"));
        }
        let mut field = |name: &str| {
            lines
                .next()
                .and_then(|l| l.strip_prefix(name))
                .and_then(|r| r.strip_prefix(' '))
                .ok_or_else(|| bad(&format!("expected line {name:?}")))
        };
        if field("election")? != hex::encode(election.fingerprint()) {
            return Err(ClientError::Credential(
                "the first-alignment file is for another election".into(),
            ));
        }
        let entry: u64 = field("entry")?.parse().map_err(|_| bad("entry"))?;
        let choice: usize = field("choice")?.parse().map_err(|_| bad("choice"))?;
        let ranked = match field("ranked")? {
            "-" => Vec::new(),
            r => r
                .split(',')
                .map(|x| x.parse::<usize>().map_err(|_| bad("ranked")))
                .collect::<Result<Vec<_>, _>>()?,
        };
        let nonces = field("nonces")?
            .split(',')
            .map(|h| {
                let mut b = zeroize::Zeroizing::new([0u8; 32]);
                hex::decode_to_slice(h, b.as_mut_slice()).map_err(|_| bad("nonce"))?;
                Nonce::from_bytes(b.as_slice()).map_err(|_| bad("nonce"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if choice >= nonces.len() {
            return Err(bad("choice out of range"));
        }
        let ciphertexts = nonces
            .iter()
            .enumerate()
            .map(|(i, n)| election.key.encrypt_with(u64::from(i == choice), n))
            .collect();
        Ok((
            Self {
                entry,
                choice,
                ciphertexts,
                nonces,
            },
            ranked,
        ))
    }
}
