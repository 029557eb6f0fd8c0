//! Caucus rounds on the record (`spec/caucus.md` §9).
//!
//! A caucus election runs two rounds of ballots on one alignment contest
//! (one-of-n, one option per preference group, "uncommitted" included):
//!
//! 1. **round 0**, the first alignment (phase VotingOpen); its per-district
//!    aggregates are decrypted into an `ElectionResult`;
//! 2. a `CaucusViability` entry says, per district, which groups met the
//!    threshold ([`expected_viability`], rule [`CAUCUS_VIABILITY`]);
//! 3. **round 1**, the realignment (phase RealignmentOpen): a participant
//!    whose counted round-0 ballot chose a non-viable group casts one
//!    ballot for a viable group, with a [`RealignmentProof`]
//!    ([`prove_realignment`], [`verify_realignment`], rule
//!    [`CAUCUS_REALIGNMENT`]);
//! 4. the final alignment is computed homomorphically
//!    ([`final_aggregates`]: viable groups keep their round-0 ballots and
//!    gain the realignment ballots; non-viable groups are zero) and
//!    decrypted;
//! 5. a `CaucusApportionment` entry apportions each district's delegates
//!    with coin tosses seeded by [`coin_seed`] ([`expected_apportionment`],
//!    rule [`CAUCUS_APPORTIONMENT`]).
//!
//! Everything here is a pure function of plain inputs (the validated
//! manifest, counts, ciphertexts), so the board, the administrator's tools,
//! the voter client and the verifier call the same code.
//!
//! # The realignment proof (`spec/caucus.md` §9.4)
//!
//! Let `c_1 … c_n` be the alignment contest's ciphertexts of the voter's
//! counted round-0 ballot (each encrypts 0 or 1, exactly one encrypts 1 —
//! already proven by that ballot), `N` the district's non-viable options and
//! `V` its viable options. Write `(A_N, B_N) = Σ_{i∈N} c_i`. The voter proves
//!
//! ```text
//! eligibility ("realignment-eligibility"):  log_G(A_N) = log_K(B_N − G)      witness Σ_{i∈N} r_i
//! target      ("realignment-target"):       log_G(A'_V) = log_K(B'_V − G)    witness Σ_{i∈V} r'_i
//! ```
//!
//! — Chaum–Pedersen proofs (`spec/crypto.md` §6.2) with `B₁ = G`, `B₂ = K`
//! that the sums encrypt exactly 1 — over the round-0 ciphertexts and over
//! the realignment ballot's ciphertexts `c'_i`. Both transcripts absorb the
//! context of [`realignment_context`]: the ballot context (credential,
//! contest, round), the round-0 ballot's log index, both option sets and
//! every ciphertext of both ballots.
#![allow(non_snake_case)]

use std::fmt;

use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use tallyboard_caucus::{
    apportion, state_delegate_equivalents, viability, Alignment, CaucusError, GroupId,
    PrecinctContext, PrecinctId, Rational, Rules, SeededCoins, Threshold, SDE_DECIMALS,
};
use tallyboard_crypto::elgamal::{Ciphertext, Nonce, PublicKey};
use tallyboard_crypto::generators::G;
use tallyboard_crypto::proofs::chaum_pedersen::{ChaumPedersenProof, DleqStatement};
use tallyboard_crypto::transcript::ProofContext;
use tallyboard_crypto::{DecodeError, ProofError, Scalar};
use tallyboard_proto::v1;
use thiserror::Error;

use crate::ballot::{ballot_context, CheckedBallot};
use crate::error::{RuleError, RuleErrorKind};
use crate::manifest::ElectionManifest;
use crate::rules;

// ------------------------------------------------------------------ rule ids

/// A realignment ballot's fields or proof are invalid (`spec/caucus.md` §9.4).
pub const CAUCUS_REALIGNMENT: &str = "R11.1 caucus-realignment";
/// A `CaucusViability` entry is not the one the first alignment gives
/// (`spec/caucus.md` §9.3).
pub const CAUCUS_VIABILITY: &str = "R11.2 caucus-viability";
/// A `CaucusApportionment` entry is not the one the final alignment and the
/// public coin seed give (`spec/caucus.md` §9.7).
pub const CAUCUS_APPORTIONMENT: &str = "R11.3 caucus-apportionment";

// -------------------------------------------------------------------- labels

/// Protocol label of the eligibility proof: the round-0 ballot chose a
/// non-viable group (`spec/caucus.md` §9.4).
pub const REALIGNMENT_ELIGIBILITY: &[u8] = b"realignment-eligibility";
/// Protocol label of the target proof: the realignment ballot chooses a
/// viable group (`spec/caucus.md` §9.4).
pub const REALIGNMENT_TARGET: &[u8] = b"realignment-target";
/// Context item: log index of the round-0 ballot realigned from (BE64).
pub const CTX_REALIGNS_ENTRY: &[u8] = b"realigns-entry";
/// Context item: the non-viable option indices, ascending, BE64 each.
pub const CTX_NONVIABLE: &[u8] = b"nonviable";
/// Context item: the viable option indices, ascending, BE64 each.
pub const CTX_VIABLE: &[u8] = b"viable";
/// Context item: the round-0 ballot's alignment ciphertexts, 64 bytes each.
pub const CTX_ROUND0_CIPHERTEXTS: &[u8] = b"round0-ciphertexts";
/// Context item: the realignment ballot's alignment ciphertexts, 64 bytes each.
pub const CTX_CIPHERTEXTS: &[u8] = b"ciphertexts";
/// Domain label of the coin seed (`spec/caucus.md` §9.6).
pub const COIN_SEED_LABEL: &[u8] = b"tallyboard/v1/caucus-coin-seed";

// ------------------------------------------------------------------- numbers

/// The record's round of the first alignment (`Ballot.round`).
pub const FIRST_ROUND: u32 = 0;
/// The record's round of the realignment (`Ballot.round`).
pub const REALIGNMENT_ROUND: u32 = 1;
/// The alignment number that enters coin tosses: the final alignment is
/// alignment 2 in the numbering of `spec/caucus.md` §1 (record round 0 is
/// alignment 1).
pub const FINAL_ALIGNMENT: u32 = 2;
/// Preferences a voter may rank for automatic realignment.
pub const MAX_RANKED_PREFERENCES: usize = 5;
/// The manifest's name of the Iowa Democratic Party 2020 rules
/// (`tallyboard_caucus::Rules::iowa_2020`); an empty name means the same.
pub const IDP_2020: &str = "idp-2020";

fn invalid(rule: &'static str, msg: impl Into<String>) -> RuleError {
    RuleError::new(RuleErrorKind::InvalidArgument, rule, msg)
}

fn precondition(rule: &'static str, msg: impl Into<String>) -> RuleError {
    RuleError::new(RuleErrorKind::FailedPrecondition, rule, msg)
}

// --------------------------------------------------------------------- setup

/// What a caucus manifest fixes about the rounds (`spec/caucus.md` §9.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaucusSetup {
    /// Position of the alignment contest in the manifest.
    pub contest: usize,
    /// Id of the alignment contest.
    pub contest_id: String,
    /// Number of options (groups); option `i` is `GroupId(i)`.
    pub options: usize,
    /// Option index of "uncommitted", if the manifest names one.
    pub uncommitted: Option<usize>,
    /// The rule set.
    pub rules: Rules,
    /// Positions of the districts where the alignment contest appears, in
    /// manifest order. Every per-district list of this module follows this
    /// order.
    pub districts: Vec<usize>,
}

impl CaucusSetup {
    /// The caucus facts of a validated manifest, or `None` if it is not a
    /// caucus (or names an unknown rule set).
    pub fn from_manifest(m: &ElectionManifest) -> Option<Self> {
        let c = m.raw.caucus.as_ref()?;
        let contest = *m.contests.get(&c.alignment_contest)?;
        let raw = m.raw.contests.get(contest)?;
        let rules = if c.viability_rule.is_empty() || c.viability_rule == IDP_2020 {
            Rules::iowa_2020()
        } else {
            return None;
        };
        let uncommitted = if c.uncommitted_option.is_empty() {
            None
        } else {
            raw.options
                .iter()
                .position(|o| o.id == c.uncommitted_option)
        };
        let districts = m
            .raw
            .districts
            .iter()
            .enumerate()
            .filter(|(_, d)| raw.districts.is_empty() || raw.districts.contains(&d.id))
            .map(|(i, _)| i)
            .collect();
        Some(Self {
            contest,
            contest_id: raw.id.clone(),
            options: raw.options.len(),
            uncommitted,
            rules,
            districts,
        })
    }

    /// The alignment contest's ciphertexts of a checked ballot, if it has
    /// that contest.
    pub fn alignment_ciphertexts<'b>(&self, ballot: &'b CheckedBallot) -> Option<&'b [Ciphertext]> {
        ballot
            .contests
            .iter()
            .find(|(c, _)| *c == self.contest)
            .map(|(_, cts)| cts.as_slice())
    }

    /// The alignment contest's items, in caucus order, of a list keyed like
    /// a tally's aggregates: `keys[j]` = (contest position, district
    /// position) of `values[j]` (e.g. `TallyRecord::contests` with its
    /// ciphertexts or its decrypted `counts`). `None` if a caucus district
    /// is missing.
    pub fn pick_alignment<T: Clone>(
        &self,
        keys: &[(usize, Option<usize>)],
        values: &[T],
    ) -> Option<Vec<T>> {
        self.districts
            .iter()
            .map(|d| {
                keys.iter()
                    .position(|k| *k == (self.contest, Some(*d)))
                    .and_then(|j| values.get(j).cloned())
            })
            .collect()
    }

    /// The district at position `k` of [`Self::districts`].
    fn district<'m>(&self, m: &'m ElectionManifest, k: usize) -> Option<&'m v1::District> {
        self.districts.get(k).and_then(|p| m.raw.districts.get(*p))
    }
}

fn setup(m: &ElectionManifest, rule: &'static str) -> Result<CaucusSetup, RuleError> {
    CaucusSetup::from_manifest(m).ok_or_else(|| precondition(rule, "this election is not a caucus"))
}

fn check_shape<T>(
    s: &CaucusSetup,
    per_district: &[Vec<T>],
    what: &str,
    rule: &'static str,
) -> Result<(), RuleError> {
    if per_district.len() != s.districts.len() {
        return Err(invalid(
            rule,
            format!(
                "{what}: expected {} districts, got {}",
                s.districts.len(),
                per_district.len()
            ),
        ));
    }
    if let Some(k) = per_district.iter().position(|v| v.len() != s.options) {
        return Err(invalid(
            rule,
            format!(
                "{what}: district {k} has {} options, the alignment contest {}",
                per_district[k].len(),
                s.options
            ),
        ));
    }
    Ok(())
}

fn caucus_err(rule: &'static str, district: &str, e: CaucusError) -> RuleError {
    invalid(rule, format!("district {district}: {e}"))
}

/// The alignment contest's counts per district from a posted (and already
/// checked) `ElectionResult`, in [`CaucusSetup::districts`] order. Errors
/// name `rule`.
pub fn alignment_counts(
    m: &ElectionManifest,
    result: &v1::ElectionResult,
    rule: &'static str,
) -> Result<Vec<Vec<u64>>, RuleError> {
    let s = setup(m, rule)?;
    let mut out = Vec::with_capacity(s.districts.len());
    for k in 0..s.districts.len() {
        let d = s
            .district(m, k)
            .ok_or_else(|| invalid(rule, "district out of range"))?;
        let found = result
            .contests
            .iter()
            .find(|c| c.contest == s.contest_id && c.district == d.id)
            .ok_or_else(|| {
                invalid(
                    rule,
                    format!(
                        "the result has no counts of contest {} in district {}",
                        s.contest_id, d.id
                    ),
                )
            })?;
        if found.counts.len() != s.options {
            return Err(invalid(
                rule,
                format!(
                    "district {}: {} counts for {} options",
                    d.id,
                    found.counts.len(),
                    s.options
                ),
            ));
        }
        out.push(found.counts.clone());
    }
    Ok(out)
}

// ----------------------------------------------------------------- viability

/// The viability of every district after the first alignment
/// (`spec/caucus.md` §9.3), in [`CaucusSetup::districts`] order:
/// `round0_counts[k][i]` is the round-0 count of option `i` in the `k`-th
/// district.
///
/// * `participants` = the district's round-0 total `P`;
/// * with a threshold tier (`D ≥ 2` under the Iowa rules):
///   `threshold = ceil(P·num/den)` and `viable[i] = count_i > 0 ∧ count_i ≥ threshold`
///   (`tallyboard_caucus::viability`);
/// * a plurality district (`D = 1`): `threshold = 0` and every group with
///   members is viable (locked) — there is no realignment there;
/// * `D = 0` or `P = 0`: `threshold = 0`, nothing viable.
pub fn expected_viability(
    m: &ElectionManifest,
    round0_counts: &[Vec<u64>],
) -> Result<Vec<v1::DistrictViability>, RuleError> {
    let s = setup(m, CAUCUS_VIABILITY)?;
    check_shape(&s, round0_counts, "round-0 counts", CAUCUS_VIABILITY)?;
    let mut out = Vec::with_capacity(s.districts.len());
    for (k, counts) in round0_counts.iter().enumerate() {
        let d = s
            .district(m, k)
            .ok_or_else(|| invalid(CAUCUS_VIABILITY, "district out of range"))?;
        let participants = counts
            .iter()
            .try_fold(0u64, |a, c| a.checked_add(*c))
            .ok_or_else(|| {
                invalid(
                    CAUCUS_VIABILITY,
                    format!("district {}: count overflow", d.id),
                )
            })?;
        let delegates = d.delegates;
        let (threshold, flags) = if delegates == 0 || participants == 0 {
            (0, vec![false; s.options])
        } else {
            let tier = s
                .rules
                .viability
                .threshold_for(delegates)
                .map_err(|e| caucus_err(CAUCUS_VIABILITY, &d.id, e))?;
            match tier {
                Threshold::Plurality => (0, counts.iter().map(|c| *c > 0).collect()),
                Threshold::Fraction { .. } => {
                    let first =
                        alignment(counts).map_err(|e| caucus_err(CAUCUS_VIABILITY, &d.id, e))?;
                    let v = viability(&s.rules.viability, delegates, participants, &first)
                        .map_err(|e| caucus_err(CAUCUS_VIABILITY, &d.id, e))?;
                    let flags = (0..s.options)
                        .map(|i| group(i).is_some_and(|g| v.viable.contains(&g)))
                        .collect();
                    (v.threshold.unwrap_or(0), flags)
                }
            }
        };
        out.push(v1::DistrictViability {
            district: d.id.clone(),
            participants,
            threshold,
            viable: flags,
        });
    }
    Ok(out)
}

/// Rule R11.2: `posted` must be exactly [`expected_viability`] of the
/// round-0 result at log index `result_entry` (`spec/caucus.md` §9.3).
pub fn check_viability_entry(
    m: &ElectionManifest,
    result_entry: u64,
    round0_counts: &[Vec<u64>],
    posted: &v1::CaucusViability,
) -> Result<(), RuleError> {
    if posted.result_entry != result_entry {
        return Err(invalid(
            CAUCUS_VIABILITY,
            format!(
                "result_entry is {}, the first-alignment result is entry {result_entry}",
                posted.result_entry
            ),
        ));
    }
    let expected = expected_viability(m, round0_counts)?;
    if posted.districts.len() != expected.len() {
        return Err(invalid(
            CAUCUS_VIABILITY,
            format!(
                "expected {} districts, got {}",
                expected.len(),
                posted.districts.len()
            ),
        ));
    }
    for (e, p) in expected.iter().zip(&posted.districts) {
        if e != p {
            return Err(invalid(
                CAUCUS_VIABILITY,
                format!(
                    "district {}: expected participants {}, threshold {}, viable {:?}; got district {:?}, participants {}, threshold {}, viable {:?}",
                    e.district, e.participants, e.threshold, e.viable,
                    p.district, p.participants, p.threshold, p.viable
                ),
            ));
        }
    }
    Ok(())
}

/// The viable and the non-viable option indices of a district's viability
/// flags, each ascending: `(V, N)`.
pub fn option_sets(viable: &[bool]) -> (Vec<usize>, Vec<usize>) {
    let mut v = Vec::new();
    let mut n = Vec::new();
    for (i, f) in viable.iter().enumerate() {
        if *f {
            v.push(i);
        } else {
            n.push(i);
        }
    }
    (v, n)
}

fn group(i: usize) -> Option<GroupId> {
    u32::try_from(i).ok().map(GroupId)
}

fn alignment(counts: &[u64]) -> Result<Alignment, CaucusError> {
    let pairs = counts
        .iter()
        .enumerate()
        .map(|(i, c)| group(i).map(|g| (g, *c)).ok_or(CaucusError::Overflow))
        .collect::<Result<Vec<_>, _>>()?;
    Alignment::new(pairs)
}

// ------------------------------------------------------- realignment proofs

/// Why a realignment proof cannot be made or does not verify.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RealignmentError {
    /// The option sets are not ascending, out of range, empty or overlapping.
    #[error("invalid option sets: {0}")]
    InvalidSets(&'static str),
    /// Ciphertext and nonce lists do not fit together.
    #[error("inconsistent inputs: {0}")]
    Inconsistent(&'static str),
    /// The round-0 ballot did not choose a non-viable group (or the nonces
    /// are not its nonces): its members may not realign.
    #[error("the first-alignment ballot did not choose a non-viable group")]
    NotEligible,
    /// The realignment ballot does not choose a viable group (or the nonces
    /// are not its nonces).
    #[error("the realignment ballot does not choose a viable group")]
    TargetNotViable,
    /// The proof bytes do not decode.
    #[error("malformed realignment proof: {0}")]
    Decode(#[from] DecodeError),
    /// A proof does not verify.
    #[error("realignment proof: {0}")]
    Proof(#[from] ProofError),
}

impl From<RealignmentError> for RuleError {
    fn from(e: RealignmentError) -> Self {
        invalid(CAUCUS_REALIGNMENT, e.to_string())
    }
}

/// Where a realignment proof belongs (`spec/caucus.md` §9.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RealignmentContext<'a> {
    /// The election fingerprint.
    pub fingerprint: &'a [u8; 32],
    /// The credential public key (the author of both ballots).
    pub credential: &'a [u8; 32],
    /// The alignment contest's id.
    pub contest: &'a str,
    /// The realignment ballot's round ([`REALIGNMENT_ROUND`]).
    pub round: u32,
    /// Log index of the credential's counted round-0 ballot
    /// (`Ballot.realigns_entry`).
    pub round0_entry: u64,
}

/// The realignment eligibility proof carried in `Ballot.realignment_proof`:
/// two Chaum–Pedersen proofs, eligibility then target; encoded as
/// `eligibility (96 bytes) ‖ target (96 bytes)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RealignmentProof {
    /// `Σ_{i∈N} c_i` of the round-0 ballot encrypts 1.
    pub eligibility: ChaumPedersenProof,
    /// `Σ_{i∈V} c'_i` of the realignment ballot encrypts 1.
    pub target: ChaumPedersenProof,
}

impl RealignmentProof {
    /// Encoded length.
    pub const LEN: usize = 2 * ChaumPedersenProof::LEN;

    /// `eligibility ‖ target`, each `A₁ ‖ A₂ ‖ z`.
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        out[..ChaumPedersenProof::LEN].copy_from_slice(&self.eligibility.to_bytes());
        out[ChaumPedersenProof::LEN..].copy_from_slice(&self.target.to_bytes());
        out
    }

    /// Canonical decoding: exactly [`Self::LEN`] bytes, canonical points and
    /// scalars.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() != Self::LEN {
            return Err(DecodeError::WrongLength {
                what: "realignment proof",
                expected: Self::LEN,
                got: bytes.len(),
            });
        }
        let (a, b) = bytes.split_at(ChaumPedersenProof::LEN);
        Ok(Self {
            eligibility: ChaumPedersenProof::from_bytes(a)?,
            target: ChaumPedersenProof::from_bytes(b)?,
        })
    }
}

fn encode_set(set: &[usize]) -> Vec<u8> {
    set.iter().flat_map(|i| (*i as u64).to_be_bytes()).collect()
}

fn encode_cts(cts: &[Ciphertext]) -> Vec<u8> {
    cts.iter().flat_map(|c| c.to_bytes()).collect()
}

/// The proof context of both realignment proofs (`spec/caucus.md` §9.4.2):
/// the ballot context (`"credential"`, `"contest"`, `"round"`), then
/// `"realigns-entry"`, `"nonviable"`, `"viable"`, `"round0-ciphertexts"`,
/// `"ciphertexts"`.
pub fn realignment_context(
    ctx: &RealignmentContext<'_>,
    round0_cts: &[Ciphertext],
    nonviable: &[usize],
    new_cts: &[Ciphertext],
    viable: &[usize],
) -> ProofContext {
    ballot_context(ctx.fingerprint, ctx.credential, ctx.contest, ctx.round)
        .with_u64(CTX_REALIGNS_ENTRY, ctx.round0_entry)
        .with(CTX_NONVIABLE, &encode_set(nonviable))
        .with(CTX_VIABLE, &encode_set(viable))
        .with(CTX_ROUND0_CIPHERTEXTS, &encode_cts(round0_cts))
        .with(CTX_CIPHERTEXTS, &encode_cts(new_cts))
}

fn check_inputs(
    round0_cts: &[Ciphertext],
    nonviable: &[usize],
    new_cts: &[Ciphertext],
    viable: &[usize],
) -> Result<(), RealignmentError> {
    let n = round0_cts.len();
    if n == 0 || new_cts.len() != n {
        return Err(RealignmentError::Inconsistent(
            "both ballots must have the same, non-zero number of ciphertexts",
        ));
    }
    for set in [nonviable, viable] {
        if set.is_empty() {
            return Err(RealignmentError::InvalidSets("a set is empty"));
        }
        if set.windows(2).any(|w| w[0] >= w[1]) {
            return Err(RealignmentError::InvalidSets(
                "indices must be strictly ascending",
            ));
        }
        if set.iter().any(|i| *i >= n) {
            return Err(RealignmentError::InvalidSets("index out of range"));
        }
    }
    if nonviable.iter().any(|i| viable.binary_search(i).is_ok()) {
        return Err(RealignmentError::InvalidSets(
            "an option is both viable and non-viable",
        ));
    }
    Ok(())
}

/// `(G, Σα, K, Σβ − G)`: the statement that `Σ_{i∈set} cts[i]` encrypts 1.
fn sum_is_one(pk: &PublicKey, cts: &[Ciphertext], set: &[usize]) -> DleqStatement {
    let sum: Ciphertext = set.iter().filter_map(|i| cts.get(*i)).sum();
    DleqStatement {
        B1: G(),
        Y1: sum.alpha,
        B2: *pk.point(),
        Y2: sum.beta - G(),
    }
}

/// The witness `Σ_{i∈set} r_i`, if the sum encrypts 1 under it.
fn witness(pk: &PublicKey, cts: &[Ciphertext], nonces: &[Nonce], set: &[usize]) -> Option<Nonce> {
    let r = Nonce::from_scalar(
        set.iter()
            .filter_map(|i| nonces.get(*i))
            .map(|n| *n.expose_scalar())
            .sum::<Scalar>(),
    );
    let sum: Ciphertext = set.iter().filter_map(|i| cts.get(*i)).sum();
    (pk.encrypt_with(1, &r) == sum).then_some(r)
}

/// Makes the realignment proof (`spec/caucus.md` §9.4), run by the voter's
/// client: `round0_cts`/`round0_nonces` are the alignment contest of the
/// counted round-0 ballot, `new_cts`/`new_nonces` that of the realignment
/// ballot, `nonviable` and `viable` the district's option sets
/// ([`option_sets`]). The prover refuses when the round-0 ballot chose a
/// viable group ([`RealignmentError::NotEligible`]) or the new ballot does
/// not choose one ([`RealignmentError::TargetNotViable`]), and checks its
/// proof before returning it.
#[allow(clippy::too_many_arguments)]
pub fn prove_realignment<R: RngCore + CryptoRng>(
    pk: &PublicKey,
    ctx: &RealignmentContext<'_>,
    round0_cts: &[Ciphertext],
    round0_nonces: &[Nonce],
    nonviable: &[usize],
    new_cts: &[Ciphertext],
    new_nonces: &[Nonce],
    viable: &[usize],
    rng: &mut R,
) -> Result<RealignmentProof, RealignmentError> {
    check_inputs(round0_cts, nonviable, new_cts, viable)?;
    if round0_nonces.len() != round0_cts.len() || new_nonces.len() != new_cts.len() {
        return Err(RealignmentError::Inconsistent(
            "one nonce per ciphertext is required",
        ));
    }
    let r_n =
        witness(pk, round0_cts, round0_nonces, nonviable).ok_or(RealignmentError::NotEligible)?;
    let r_v = witness(pk, new_cts, new_nonces, viable).ok_or(RealignmentError::TargetNotViable)?;
    let pctx = realignment_context(ctx, round0_cts, nonviable, new_cts, viable);
    let eligibility = ChaumPedersenProof::prove(
        REALIGNMENT_ELIGIBILITY,
        &pctx,
        &sum_is_one(pk, round0_cts, nonviable),
        r_n.expose_scalar(),
        rng,
    )?;
    let target = ChaumPedersenProof::prove(
        REALIGNMENT_TARGET,
        &pctx,
        &sum_is_one(pk, new_cts, viable),
        r_v.expose_scalar(),
        rng,
    )?;
    let proof = RealignmentProof {
        eligibility,
        target,
    };
    verify_realignment(pk, ctx, round0_cts, nonviable, new_cts, viable, &proof)?;
    Ok(proof)
}

/// Verifies a realignment proof (`spec/caucus.md` §9.4.3) against the same
/// inputs the prover used, minus the nonces.
pub fn verify_realignment(
    pk: &PublicKey,
    ctx: &RealignmentContext<'_>,
    round0_cts: &[Ciphertext],
    nonviable: &[usize],
    new_cts: &[Ciphertext],
    viable: &[usize],
    proof: &RealignmentProof,
) -> Result<(), RealignmentError> {
    check_inputs(round0_cts, nonviable, new_cts, viable)?;
    let pctx = realignment_context(ctx, round0_cts, nonviable, new_cts, viable);
    proof.eligibility.verify(
        REALIGNMENT_ELIGIBILITY,
        &pctx,
        &sum_is_one(pk, round0_cts, nonviable),
    )?;
    proof
        .target
        .verify(REALIGNMENT_TARGET, &pctx, &sum_is_one(pk, new_cts, viable))?;
    Ok(())
}

/// Rule R11.1 on a ballot's round fields alone (stateless): a round-0
/// ballot has `realigns_entry = 0` and no proof; a round-1 ballot carries a
/// proof of exactly [`RealignmentProof::LEN`] bytes.
pub fn check_ballot_round_fields(b: &v1::Ballot) -> Result<(), RuleError> {
    match b.round {
        FIRST_ROUND => {
            if b.realigns_entry != 0 || !b.realignment_proof.is_empty() {
                return Err(invalid(
                    CAUCUS_REALIGNMENT,
                    "a first-alignment ballot carries no realignment fields",
                ));
            }
        }
        REALIGNMENT_ROUND => {
            if b.realignment_proof.len() != RealignmentProof::LEN {
                return Err(invalid(
                    CAUCUS_REALIGNMENT,
                    format!(
                        "a realignment ballot carries a {}-byte realignment proof, got {}",
                        RealignmentProof::LEN,
                        b.realignment_proof.len()
                    ),
                ));
            }
        }
        r => {
            return Err(invalid(
                CAUCUS_REALIGNMENT,
                format!("round {r} is not a caucus round"),
            ))
        }
    }
    Ok(())
}

/// Rule R11.1 for a realignment ballot, given what the record knows
/// (`spec/caucus.md` §9.4.4): `credential` is the ballot's author,
/// `new_cts` the alignment contest's ciphertexts of `ballot` (already
/// checked by the ballot rules), `round0_entry` and `round0_cts` the log
/// index and alignment ciphertexts of the credential's counted round-0
/// ballot, `viable` the district's flags in the `CaucusViability` entry.
///
/// The caller also enforces that the credential has no other round-1
/// ballot and that both ballots are of the same district.
#[allow(clippy::too_many_arguments)]
pub fn check_realignment_ballot(
    m: &ElectionManifest,
    pk: &PublicKey,
    credential: &[u8; 32],
    ballot: &v1::Ballot,
    new_cts: &[Ciphertext],
    round0_entry: u64,
    round0_cts: &[Ciphertext],
    viable: &[bool],
) -> Result<(), RuleError> {
    let s = setup(m, CAUCUS_REALIGNMENT)?;
    if ballot.round != REALIGNMENT_ROUND {
        return Err(invalid(
            CAUCUS_REALIGNMENT,
            format!("round {} is not the realignment round", ballot.round),
        ));
    }
    if ballot.realigns_entry != round0_entry {
        return Err(invalid(
            CAUCUS_REALIGNMENT,
            format!(
                "realigns_entry is {}, this credential's counted first-alignment ballot is entry {round0_entry}",
                ballot.realigns_entry
            ),
        ));
    }
    if viable.len() != s.options || new_cts.len() != s.options || round0_cts.len() != s.options {
        return Err(invalid(
            CAUCUS_REALIGNMENT,
            format!("the alignment contest has {} options", s.options),
        ));
    }
    let proof =
        RealignmentProof::from_bytes(&ballot.realignment_proof).map_err(RealignmentError::from)?;
    let (v, n) = option_sets(viable);
    let ctx = RealignmentContext {
        fingerprint: &m.fingerprint,
        credential,
        contest: &s.contest_id,
        round: ballot.round,
        round0_entry,
    };
    verify_realignment(pk, &ctx, round0_cts, &n, new_cts, &v, &proof)?;
    Ok(())
}

/// What a voter's client kept of its counted first-alignment ballot: its
/// log index and the alignment contest's ciphertexts and nonces.
pub struct Round0Ballot<'a> {
    /// Log index of the counted round-0 ballot.
    pub entry: u64,
    /// Its alignment contest's ciphertexts.
    pub ciphertexts: &'a [Ciphertext],
    /// Their nonces.
    pub nonces: &'a [Nonce],
}

/// Builds a realignment ballot (`spec/caucus.md` §9.4) for group `target`:
/// the round-1 ballot with the alignment contest only, `realigns_entry` and
/// the realignment proof over `round0` and the district's viability flags
/// `viable`, with the encryption secrets of its contest (for a challenge).
/// Fails, without making a ballot, if the round-0 choice was viable or
/// `target` is not. The caller signs the entry with the credential key.
pub fn build_realignment_ballot<R: RngCore + CryptoRng>(
    m: &ElectionManifest,
    pk: &PublicKey,
    cred: &crate::ballot::CredentialRef<'_>,
    target: usize,
    round0: &Round0Ballot<'_>,
    viable: &[bool],
    rng: &mut R,
) -> Result<(v1::Ballot, Vec<crate::ballot::ContestSecret>), String> {
    let s = CaucusSetup::from_manifest(m).ok_or("this election is not a caucus")?;
    if target >= s.options || viable.len() != s.options {
        return Err(format!(
            "the alignment contest has {} options; target {target}, {} viability flags",
            s.options,
            viable.len()
        ));
    }
    let selections: Vec<u64> = (0..s.options).map(|i| u64::from(i == target)).collect();
    let (mut ballot, secrets) =
        crate::ballot::build_ballot(m, pk, cred, &[selections], REALIGNMENT_ROUND, rng)?;
    let secret = secrets
        .first()
        .ok_or("the ballot has no alignment contest")?;
    let new_cts: Vec<Ciphertext> = secret
        .selections
        .iter()
        .zip(&secret.nonces)
        .map(|(v, n)| pk.encrypt_with(*v, n))
        .collect();
    let credential = cred.key.verifying_key().to_bytes();
    let (v, n) = option_sets(viable);
    let ctx = RealignmentContext {
        fingerprint: &m.fingerprint,
        credential: &credential,
        contest: &s.contest_id,
        round: REALIGNMENT_ROUND,
        round0_entry: round0.entry,
    };
    let proof = prove_realignment(
        pk,
        &ctx,
        round0.ciphertexts,
        round0.nonces,
        &n,
        &new_cts,
        &secret.nonces,
        &v,
        rng,
    )
    .map_err(|e| e.to_string())?;
    ballot.realigns_entry = round0.entry;
    ballot.realignment_proof = proof.to_bytes().to_vec();
    Ok((ballot, secrets))
}

/// The voter client's automatic realignment (`spec/caucus.md` §9.8): the
/// first of the voter's ranked preferences (at most
/// [`MAX_RANKED_PREFERENCES`] are read) that is viable; else
/// `uncommitted` if it is viable; else `None` (the voter does not realign).
pub fn ranked_choice_for_realignment(
    ranked: &[usize],
    viable: &[bool],
    uncommitted: Option<usize>,
) -> Option<usize> {
    let is_viable = |i: &usize| viable.get(*i).copied().unwrap_or(false);
    ranked
        .iter()
        .take(MAX_RANKED_PREFERENCES)
        .copied()
        .find(is_viable)
        .or_else(|| uncommitted.filter(is_viable))
}

// ----------------------------------------------------------- final alignment

fn check_viability_list(
    m: &ElectionManifest,
    s: &CaucusSetup,
    viability: &[v1::DistrictViability],
    rule: &'static str,
) -> Result<(), RuleError> {
    if viability.len() != s.districts.len() {
        return Err(invalid(
            rule,
            format!(
                "viability lists {} districts, the caucus has {}",
                viability.len(),
                s.districts.len()
            ),
        ));
    }
    for (k, v) in viability.iter().enumerate() {
        let d = s
            .district(m, k)
            .ok_or_else(|| invalid(rule, "district out of range"))?;
        if v.district != d.id || v.viable.len() != s.options {
            return Err(invalid(
                rule,
                format!(
                    "viability of district {:?} does not fit district {}",
                    v.district, d.id
                ),
            ));
        }
    }
    Ok(())
}

/// The final alignment's aggregates per district (`spec/caucus.md` §9.5),
/// in [`CaucusSetup::districts`] order: for a viable option the round-0
/// aggregate plus the round-1 aggregate, for a non-viable option the zero
/// ciphertext. `round0` and `round1` are the alignment contest's
/// per-district aggregates of the two rounds; `viability` the posted
/// `CaucusViability` districts.
pub fn final_aggregates(
    m: &ElectionManifest,
    round0: &[Vec<Ciphertext>],
    round1: &[Vec<Ciphertext>],
    viability: &[v1::DistrictViability],
) -> Result<Vec<Vec<Ciphertext>>, RuleError> {
    let s = setup(m, rules::TALLY_AGGREGATE)?;
    check_shape(&s, round0, "round-0 aggregates", rules::TALLY_AGGREGATE)?;
    check_shape(&s, round1, "round-1 aggregates", rules::TALLY_AGGREGATE)?;
    check_viability_list(m, &s, viability, rules::TALLY_AGGREGATE)?;
    Ok(round0
        .iter()
        .zip(round1)
        .zip(viability)
        .map(|((a, b), v)| {
            a.iter()
                .zip(b)
                .zip(&v.viable)
                .map(|((x, y), ok)| if *ok { *x + *y } else { Ciphertext::zero() })
                .collect()
        })
        .collect())
}

// ------------------------------------------------------------------ coin seed

/// The public seed of the apportionment's coin tosses (`spec/caucus.md`
/// §9.6): SHA-256 over the label, the election fingerprint and the final
/// alignment's aggregate ciphertexts ([`final_aggregates`]) of every
/// district. Fixed the moment the realignment closes, before anyone can
/// decrypt a count, and chosen by nobody.
pub fn coin_seed(
    m: &ElectionManifest,
    final_aggregates: &[Vec<Ciphertext>],
) -> Result<[u8; 32], RuleError> {
    let s = setup(m, CAUCUS_APPORTIONMENT)?;
    check_shape(
        &s,
        final_aggregates,
        "final aggregates",
        CAUCUS_APPORTIONMENT,
    )?;
    let be32 = |n: usize| -> Result<[u8; 4], RuleError> {
        u32::try_from(n)
            .map(u32::to_be_bytes)
            .map_err(|_| invalid(CAUCUS_APPORTIONMENT, "length overflow"))
    };
    let mut h = Sha256::new();
    h.update([COIN_SEED_LABEL.len() as u8]);
    h.update(COIN_SEED_LABEL);
    h.update(m.fingerprint);
    h.update(be32(s.districts.len())?);
    for (k, cts) in final_aggregates.iter().enumerate() {
        let d = s
            .district(m, k)
            .ok_or_else(|| invalid(CAUCUS_APPORTIONMENT, "district out of range"))?;
        h.update(be32(d.id.len())?);
        h.update(d.id.as_bytes());
        h.update(be32(cts.len())?);
        for c in cts {
            h.update(c.to_bytes());
        }
    }
    Ok(h.finalize().into())
}

// -------------------------------------------------------------- apportionment

fn sde_weight(d: &v1::District) -> Result<Rational, RuleError> {
    if d.sde_weight.is_empty() {
        return Ok(Rational::ZERO);
    }
    Rational::parse_decimal(&d.sde_weight).map_err(|e| caucus_err(CAUCUS_APPORTIONMENT, &d.id, e))
}

/// The delegates and SDEs of every district (`spec/caucus.md` §9.7), in
/// [`CaucusSetup::districts`] order, from the posted viability (its
/// `participants` is `P`), the final alignment's decrypted counts and the
/// coin seed: `tallyboard_caucus::apportion` with [`SeededCoins`], precinct
/// id = district id, round [`FINAL_ALIGNMENT`], group `i` = option `i`;
/// SDE of option `i` = `delegates_i · W / D` with 4 decimals. A district
/// with `D = 0` or `P = 0` apportions nothing (SDEs `"0.0000"`).
///
/// The final counts must be consistent with the viability: non-viable
/// options count zero and the total is at most `P`.
pub fn expected_apportionment(
    m: &ElectionManifest,
    viability: &[v1::DistrictViability],
    final_counts: &[Vec<u64>],
    seed: &[u8; 32],
) -> Result<Vec<v1::DistrictApportionment>, RuleError> {
    const R: &str = CAUCUS_APPORTIONMENT;
    let s = setup(m, R)?;
    check_shape(&s, final_counts, "final counts", R)?;
    check_viability_list(m, &s, viability, R)?;
    let zero_sde = Rational::ZERO
        .to_fixed(SDE_DECIMALS)
        .map_err(|e| invalid(R, e.to_string()))?;
    let mut out = Vec::with_capacity(s.districts.len());
    for (k, (counts, v)) in final_counts.iter().zip(viability).enumerate() {
        let d = s
            .district(m, k)
            .ok_or_else(|| invalid(R, "district out of range"))?;
        if let Some(i) = counts
            .iter()
            .zip(&v.viable)
            .position(|(c, ok)| *c > 0 && !*ok)
        {
            return Err(invalid(
                R,
                format!("district {}: non-viable option {i} has a final count", d.id),
            ));
        }
        let total = counts
            .iter()
            .try_fold(0u64, |a, c| a.checked_add(*c))
            .ok_or_else(|| invalid(R, format!("district {}: count overflow", d.id)))?;
        if total > v.participants {
            return Err(invalid(
                R,
                format!(
                    "district {}: the final alignment counts {total}, more than the {} participants",
                    d.id, v.participants
                ),
            ));
        }
        let (delegates, sde) = if d.delegates == 0 || v.participants == 0 {
            (vec![0u32; s.options], vec![zero_sde.clone(); s.options])
        } else {
            let ctx = PrecinctContext {
                id: PrecinctId::new(d.id.clone()),
                delegates: d.delegates,
                participants: v.participants,
                round: FINAL_ALIGNMENT,
            };
            let final_alignment = alignment(counts).map_err(|e| caucus_err(R, &d.id, e))?;
            let a = apportion(
                &s.rules,
                &ctx,
                &final_alignment,
                &mut SeededCoins::new(*seed),
            )
            .map_err(|e| caucus_err(R, &d.id, e))?;
            let weight = sde_weight(d)?;
            let mut delegates = Vec::with_capacity(s.options);
            let mut sde = Vec::with_capacity(s.options);
            for i in 0..s.options {
                let n = group(i).map(|g| a.delegates_for(g)).unwrap_or(0);
                let e = state_delegate_equivalents(n, weight, d.delegates)
                    .and_then(|x| x.to_fixed(SDE_DECIMALS))
                    .map_err(|e| caucus_err(R, &d.id, e))?;
                delegates.push(n);
                sde.push(e);
            }
            (delegates, sde)
        };
        out.push(v1::DistrictApportionment {
            district: d.id.clone(),
            delegates,
            sde,
        });
    }
    Ok(out)
}

/// Rule R11.3: `posted` must name the final result at `result_entry`,
/// carry `seed` ([`coin_seed`]) and exactly [`expected_apportionment`]
/// (`spec/caucus.md` §9.7).
pub fn check_apportionment_entry(
    m: &ElectionManifest,
    result_entry: u64,
    viability: &[v1::DistrictViability],
    final_counts: &[Vec<u64>],
    seed: &[u8; 32],
    posted: &v1::CaucusApportionment,
) -> Result<(), RuleError> {
    const R: &str = CAUCUS_APPORTIONMENT;
    if posted.result_entry != result_entry {
        return Err(invalid(
            R,
            format!(
                "result_entry is {}, the final result is entry {result_entry}",
                posted.result_entry
            ),
        ));
    }
    if posted.coin_seed.as_slice() != seed {
        return Err(invalid(
            R,
            format!(
                "coin_seed is {}, the record gives {}",
                Hex(&posted.coin_seed),
                Hex(seed)
            ),
        ));
    }
    let expected = expected_apportionment(m, viability, final_counts, seed)?;
    if posted.districts.len() != expected.len() {
        return Err(invalid(
            R,
            format!(
                "expected {} districts, got {}",
                expected.len(),
                posted.districts.len()
            ),
        ));
    }
    for (e, p) in expected.iter().zip(&posted.districts) {
        if e != p {
            return Err(invalid(
                R,
                format!(
                    "district {}: expected delegates {:?}, SDEs {:?}; got district {:?}, delegates {:?}, SDEs {:?}",
                    e.district, e.delegates, e.sde, p.district, p.delegates, p.sde
                ),
            ));
        }
    }
    Ok(())
}

struct Hex<'a>(&'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0.iter().take(64) {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}
