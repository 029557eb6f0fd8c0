//! Ballots: contest rules, sealing (encrypt + prove), and checking
//! (`spec/record.md` §7, `spec/crypto.md` §8, `spec/range-proofs.md` §5).
//!
//! A ballot carries, for each contest of the voter's district in manifest
//! order, a *sealed contest*: the ciphertexts of every option with their
//! validity proofs. Choice contests (one-of-n, k-of-n, approval) use the
//! disjunctive range and sum proofs of `tallyboard-crypto`; points contests use
//! the bulletproofs of `tallyboard-rangeproof`. Every proof is made under the
//! context
//!
//! ```text
//! ProofContext(fingerprint)
//!   ‖ ("credential", credential public key, 32 bytes)
//!   ‖ ("contest",    contest id, UTF-8)
//!   ‖ ("round",      round as 8 bytes big-endian)
//! ```
//!
//! so a proof cannot be replayed under another credential, election, contest
//! or caucus round (Cortier–Smyth replay attacks).

use ed25519_dalek::{SigningKey, VerifyingKey};
use rand_core::{CryptoRng, RngCore};
use tallyboard_crypto::contest::{encrypt_contest, ContestRule, EncryptedContest, SumRule};
use tallyboard_crypto::elgamal::{Ciphertext, Nonce, PublicKey};
use tallyboard_crypto::transcript::ProofContext;
use tallyboard_proto::v1;
use tallyboard_rangeproof::points::{PointsBallot, PointsRules, TotalRule};

use crate::credential::{verify_credential, IssuerPublicKey};
use crate::error::{invalid, RuleError};
use crate::manifest::{ElectionManifest, Rule};
use crate::rules;

/// Context label of the credential public key.
pub const CTX_CREDENTIAL: &[u8] = b"credential";
/// Context label of the contest id.
pub const CTX_CONTEST: &[u8] = b"contest";
/// Context label of the caucus round.
pub const CTX_ROUND: &[u8] = b"round";

/// The proof context of one contest of one ballot.
pub fn ballot_context(
    fingerprint: &[u8; 32],
    credential: &[u8; 32],
    contest_id: &str,
    round: u32,
) -> ProofContext {
    ProofContext::new(*fingerprint)
        .with(CTX_CREDENTIAL, credential)
        .with(CTX_CONTEST, contest_id.as_bytes())
        .with_u64(CTX_ROUND, u64::from(round))
}

/// How a contest's ciphertexts are proven valid.
#[derive(Debug, Clone)]
pub enum ContestSpec {
    /// Per-option disjunctive range proofs and a sum proof.
    Choice(ContestRule),
    /// Pedersen commitments, link proofs and an aggregated bulletproof.
    Points(PointsRules),
}

impl ContestSpec {
    /// The spec of a validated manifest rule with `options` options.
    pub fn from_rule(rule: Rule, options: usize) -> Result<Self, String> {
        let n = u32::try_from(options).map_err(|_| "too many options".to_string())?;
        let spec = match rule {
            Rule::OneOfN => Self::Choice(ContestRule::one_of(n).map_err(|e| e.to_string())?),
            Rule::Approval => Self::Choice(ContestRule::approval(n).map_err(|e| e.to_string())?),
            Rule::KOfN { min, max } => {
                let sum = if min == max {
                    SumRule::Exact(u64::from(min))
                } else {
                    SumRule::Range {
                        min: u64::from(min),
                        max: u64::from(max),
                    }
                };
                Self::Choice(ContestRule::new(n, 1, sum).map_err(|e| e.to_string())?)
            }
            Rule::Points {
                per_option_max,
                budget,
                exact,
            } => {
                let total = if exact {
                    TotalRule::Exactly(budget)
                } else {
                    TotalRule::AtMost(budget)
                };
                Self::Points(
                    PointsRules::new(&vec![per_option_max; options], total)
                        .map_err(|e| e.to_string())?,
                )
            }
        };
        Ok(spec)
    }

    /// Number of options.
    pub fn options(&self) -> usize {
        match self {
            Self::Choice(r) => r.options() as usize,
            Self::Points(r) => r.options(),
        }
    }

    /// The largest value one ballot can give one option (bounds the discrete
    /// logarithm of a tally).
    pub fn option_max(&self) -> u64 {
        match self {
            Self::Choice(r) => r.option_max(),
            Self::Points(r) => r.per_option_max().iter().copied().max().unwrap_or(0),
        }
    }
}

/// A contest's ciphertexts with their proofs.
#[derive(Debug, Clone)]
pub enum SealedContest {
    /// A choice contest.
    Choice(Box<EncryptedContest>),
    /// A points contest.
    Points(Box<PointsBallot>),
}

impl SealedContest {
    /// Canonical decoding under `spec`.
    pub fn decode(spec: &ContestSpec, bytes: &[u8]) -> Result<Self, String> {
        match spec {
            ContestSpec::Choice(_) => EncryptedContest::from_bytes(bytes)
                .map(|c| Self::Choice(Box::new(c)))
                .map_err(|e| e.to_string()),
            ContestSpec::Points(_) => PointsBallot::from_bytes(bytes)
                .map(|p| Self::Points(Box::new(p)))
                .map_err(|e| e.to_string()),
        }
    }

    /// Canonical encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Self::Choice(c) => c.to_bytes(),
            Self::Points(p) => p.to_bytes(),
        }
    }

    /// One ciphertext per option.
    pub fn ciphertexts(&self) -> Vec<Ciphertext> {
        match self {
            Self::Choice(c) => c.option_ciphertexts(),
            Self::Points(p) => p.ciphertexts.clone(),
        }
    }

    /// Verifies every proof under `pk` and `ctx`.
    pub fn verify(
        &self,
        spec: &ContestSpec,
        pk: &PublicKey,
        ctx: &ProofContext,
    ) -> Result<(), String> {
        match (self, spec) {
            (Self::Choice(c), ContestSpec::Choice(r)) => {
                c.verify(pk, r, ctx).map_err(|e| e.to_string())
            }
            (Self::Points(p), ContestSpec::Points(r)) => {
                p.verify(pk, r, ctx).map_err(|e| e.to_string())
            }
            _ => Err("contest kind does not match the manifest rule".into()),
        }
    }
}

/// The secrets of a sealed contest: the selections and the encryption nonces.
/// Kept by the voter's client; revealed only when the ballot is challenged.
#[derive(Clone)]
pub struct ContestSecret {
    /// Manifest contest id.
    pub contest: String,
    /// Value per option.
    pub selections: Vec<u64>,
    /// Nonce per option.
    pub nonces: Vec<Nonce>,
}

impl std::fmt::Debug for ContestSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ContestSecret({}, [REDACTED])", self.contest)
    }
}

impl ContestSecret {
    /// The reveal posted with a challenged ballot.
    pub fn reveal(&self) -> v1::ContestReveal {
        v1::ContestReveal {
            contest: self.contest.clone(),
            selections: self.selections.clone(),
            nonces: self.nonces.iter().map(|n| n.to_bytes().to_vec()).collect(),
        }
    }
}

/// Encrypts and proves one contest.
pub fn seal_contest<R: RngCore + CryptoRng>(
    spec: &ContestSpec,
    pk: &PublicKey,
    contest_id: &str,
    selections: &[u64],
    ctx: &ProofContext,
    rng: &mut R,
) -> Result<(SealedContest, ContestSecret), String> {
    match spec {
        ContestSpec::Choice(rule) => {
            let (c, nonces) =
                encrypt_contest(pk, selections, rule, ctx, rng).map_err(|e| e.to_string())?;
            Ok((
                SealedContest::Choice(Box::new(c)),
                ContestSecret {
                    contest: contest_id.to_string(),
                    selections: selections.to_vec(),
                    nonces,
                },
            ))
        }
        ContestSpec::Points(rules) => {
            let (b, opening) = PointsBallot::encrypt(pk, rules, selections, ctx, rng)
                .map_err(|e| e.to_string())?;
            Ok((
                SealedContest::Points(Box::new(b)),
                ContestSecret {
                    contest: contest_id.to_string(),
                    selections: selections.to_vec(),
                    nonces: opening.nonces().to_vec(),
                },
            ))
        }
    }
}

/// Positions (in the manifest) of the contests of `district`, in order.
pub fn district_contests(m: &ElectionManifest, district: &str) -> Vec<usize> {
    m.raw
        .contests
        .iter()
        .enumerate()
        .filter(|(_, c)| c.districts.is_empty() || c.districts.iter().any(|d| d == district))
        .map(|(i, _)| i)
        .collect()
}

/// Positions of the contests a ballot of `round` carries in `district`
/// (`spec/record.md` §6.2, `spec/caucus.md` §9.4): every contest of the
/// district in round 0; in a caucus's realignment round (1) only the
/// alignment contest, the one contest that round counts.
pub fn round_contests(m: &ElectionManifest, district: &str, round: u32) -> Vec<usize> {
    let all = district_contests(m, district);
    if round == 0 {
        return all;
    }
    match crate::caucus::CaucusSetup::from_manifest(m) {
        Some(s) if all.contains(&s.contest) => vec![s.contest],
        _ => Vec::new(),
    }
}

/// A voter's credential as a ballot needs it.
pub struct CredentialRef<'a> {
    /// The credential signing key.
    pub key: &'a SigningKey,
    /// The voter's district.
    pub district: &'a str,
    /// The issuer's RFC 9474 signature on the credential.
    pub signature: &'a [u8],
    /// The RFC 9474 message randomizer.
    pub randomizer: &'a [u8],
}

/// Builds a ballot of `round`: one sealed contest per contest of
/// [`round_contests`], with `selections[i]` for the i-th of them. The caller
/// signs the entry with the credential key (e.g. with
/// [`crate::testkit::entry`]); a realignment ballot (round 1) also needs its
/// `realigns_entry` and `realignment_proof` (`crate::caucus::prove_realignment`).
pub fn build_ballot<R: RngCore + CryptoRng>(
    m: &ElectionManifest,
    pk: &PublicKey,
    cred: &CredentialRef<'_>,
    selections: &[Vec<u64>],
    round: u32,
    rng: &mut R,
) -> Result<(v1::Ballot, Vec<ContestSecret>), String> {
    let positions = round_contests(m, cred.district, round);
    if positions.len() != selections.len() {
        return Err(format!(
            "district {} has {} contests in this round, got selections for {}",
            cred.district,
            positions.len(),
            selections.len()
        ));
    }
    let cred_pk = cred.key.verifying_key().to_bytes();
    let mut contests = Vec::with_capacity(positions.len());
    let mut secrets = Vec::with_capacity(positions.len());
    for (pos, sel) in positions.iter().zip(selections) {
        let c = &m.raw.contests[*pos];
        let ctx = ballot_context(&m.fingerprint, &cred_pk, &c.id, round);
        let (sealed, secret) = seal_contest(&m.specs[*pos], pk, &c.id, sel, &ctx, rng)
            .map_err(|e| format!("contest {}: {e}", c.id))?;
        contests.push(v1::EncryptedContest {
            contest: c.id.clone(),
            encrypted: sealed.to_bytes(),
        });
        secrets.push(secret);
    }
    Ok((
        v1::Ballot {
            district: cred.district.to_string(),
            credential_signature: cred.signature.to_vec(),
            credential_randomizer: cred.randomizer.to_vec(),
            contests,
            round,
            realigns_entry: 0,
            realignment_proof: Vec::new(),
        },
        secrets,
    ))
}

/// A ballot whose credential and proofs verified.
#[derive(Debug, Clone)]
pub struct CheckedBallot {
    /// District position in the manifest.
    pub district: usize,
    /// Caucus round.
    pub round: u32,
    /// (contest position, one ciphertext per option), in manifest order.
    pub contests: Vec<(usize, Vec<Ciphertext>)>,
}

/// Checks a ballot's credential and every proof (rules R6.1–R6.3). The entry
/// signature by `author` was checked by the entry layer.
pub fn check_ballot(
    m: &ElectionManifest,
    pk: &PublicKey,
    author: &VerifyingKey,
    b: &v1::Ballot,
) -> Result<CheckedBallot, RuleError> {
    let district = *m.districts.get(&b.district).ok_or_else(|| {
        invalid(
            rules::BALLOT_CREDENTIAL,
            format!("unknown district {:?}", b.district),
        )
    })?;
    let issuer: &IssuerPublicKey = &m.issuer_keys[district];
    let cred = author.to_bytes();
    verify_credential(
        issuer,
        &m.fingerprint,
        &cred,
        &b.credential_signature,
        &b.credential_randomizer,
    )
    .map_err(|e| invalid(rules::BALLOT_CREDENTIAL, e.to_string()))?;
    let positions = ballot_positions(m, b)?;
    let mut contests = Vec::with_capacity(positions.len());
    for (pos, ec) in positions.iter().zip(&b.contests) {
        let (sealed, ctx) = decode_contest(m, &cred, b.round, *pos, ec)?;
        let spec = &m.specs[*pos];
        let c = &m.raw.contests[*pos];
        sealed
            .verify(spec, pk, &ctx)
            .map_err(|e| invalid(rules::BALLOT_PROOFS, format!("contest {}: {e}", c.id)))?;
        contests.push((*pos, sealed.ciphertexts()));
    }
    Ok(CheckedBallot {
        district,
        round: b.round,
        contests,
    })
}

/// Checks a challenged ballot's reveal: every contest's selections and nonces
/// re-encrypt to its ciphertexts (rule R7.1).
pub fn check_reveal(
    m: &ElectionManifest,
    pk: &PublicKey,
    ballot: &CheckedBallot,
    reveals: &[v1::ContestReveal],
) -> Result<(), RuleError> {
    if reveals.len() != ballot.contests.len() {
        return Err(invalid(
            rules::CHALLENGE_REVEAL,
            "one reveal per contest is required",
        ));
    }
    for ((pos, cts), r) in ballot.contests.iter().zip(reveals) {
        let c = &m.raw.contests[*pos];
        if r.contest != c.id || r.selections.len() != cts.len() || r.nonces.len() != cts.len() {
            return Err(invalid(
                rules::CHALLENGE_REVEAL,
                format!("reveal of contest {} does not match its ciphertexts", c.id),
            ));
        }
        for (i, ((sel, nonce), ct)) in r.selections.iter().zip(&r.nonces).zip(cts).enumerate() {
            let n = Nonce::from_bytes(nonce).map_err(|e| {
                invalid(
                    rules::CHALLENGE_REVEAL,
                    format!("contest {} option {i}: {e}", c.id),
                )
            })?;
            if pk.encrypt_with(*sel, &n) != *ct {
                return Err(invalid(
                    rules::CHALLENGE_REVEAL,
                    format!("contest {} option {i}: revealed value and nonce do not re-encrypt to the ciphertext", c.id),
                ));
            }
        }
    }
    Ok(())
}

/// The district's contest positions for ballot `b`, after the round and
/// contest-count checks of rule R6.2 (shared by [`check_ballot`] and the
/// deferred checks).
pub(crate) fn ballot_positions(
    m: &ElectionManifest,
    b: &v1::Ballot,
) -> Result<Vec<usize>, RuleError> {
    if !m.is_caucus && b.round != 0 {
        return Err(invalid(
            rules::BALLOT_CONTESTS,
            format!("round {} is not a round of this election", b.round),
        ));
    }
    if m.is_caucus {
        crate::caucus::check_ballot_round_fields(b)?;
    } else if b.realigns_entry != 0 || !b.realignment_proof.is_empty() {
        return Err(invalid(
            rules::BALLOT_CONTESTS,
            "a ballot of an election that is not a caucus carries no realignment fields",
        ));
    }
    let positions = round_contests(m, &b.district, b.round);
    if b.contests.len() != positions.len() || (b.round != 0 && positions.is_empty()) {
        return Err(invalid(
            rules::BALLOT_CONTESTS,
            format!(
                "district {} has {} contests in round {}, the ballot has {}",
                b.district,
                positions.len(),
                b.round,
                b.contests.len()
            ),
        ));
    }
    Ok(positions)
}

/// Decodes the contest at manifest position `pos` of a ballot (rules R6.2
/// order, R6.3 decoding) and returns it with its proof context.
pub(crate) fn decode_contest(
    m: &ElectionManifest,
    cred: &[u8; 32],
    round: u32,
    pos: usize,
    ec: &v1::EncryptedContest,
) -> Result<(SealedContest, ProofContext), RuleError> {
    let c = &m.raw.contests[pos];
    if ec.contest != c.id {
        return Err(invalid(
            rules::BALLOT_CONTESTS,
            format!(
                "expected contest {} in manifest order, found {:?}",
                c.id, ec.contest
            ),
        ));
    }
    let sealed = SealedContest::decode(&m.specs[pos], &ec.encrypted)
        .map_err(|e| invalid(rules::BALLOT_PROOFS, format!("contest {}: {e}", c.id)))?;
    Ok((sealed, ballot_context(&m.fingerprint, cred, &c.id, round)))
}
