//! Points and cumulative ballots (`spec/range-proofs.md` §5).
//!
//! A voter spreads points over `k` options: value `mᵢ ∈ [0, maxᵢ]` per
//! option, and optionally a rule on the total: `Σ mᵢ ≤ B` (a budget) or
//! `Σ mᵢ = B` (spend exactly `B`, e.g. a voter's weight). A ballot holds,
//! per option, an ElGamal ciphertext `(αᵢ, βᵢ)` under the election key, a
//! Pedersen commitment `Vᵢ = mᵢ·G + tᵢ·H` and a link proof (§3); then ONE
//! aggregated bulletproof for every range claim (§4):
//!
//! * `(Vᵢ, maxᵢ)` for each option;
//! * `(Σ Vᵢ, B)` when the rule is `AtMost(B)`;
//!
//! and, when the rule is `Exactly(B)`, a Chaum–Pedersen proof that
//! `(Σ αᵢ, Σ βᵢ − B·G)` is an encryption of 0, i.e. `log_G Σαᵢ = log_K (Σβᵢ − B·G)`
//! (§5.4).
//!
//! Soundness: the link proofs give `Vᵢ` and `(αᵢ, βᵢ)` the same `mᵢ`
//! (as scalars); the range proof gives each `mᵢ` as an integer in
//! `[0, maxᵢ]`, so `Σ mᵢ` is an integer below `k·2⁶⁴ ≪ ℓ` and the total
//! claim or the exact-sum proof bounds it as an integer.

use std::fmt;

use curve25519_dalek::ristretto::CompressedRistretto;
use curve25519_dalek::scalar::Scalar;
use rand_core::{CryptoRng, OsRng, RngCore};
use tallyboard_crypto::batch::{Base, BatchVerifier};
use tallyboard_crypto::elgamal::{Ciphertext, Nonce, PublicKey};
use tallyboard_crypto::encoding::Reader;
use tallyboard_crypto::generators::{self, G_table};
use tallyboard_crypto::proofs::chaum_pedersen::{ChaumPedersenProof, DleqStatement};
use tallyboard_crypto::transcript::{labels as tl, ProofContext, ProofTranscript};
use tallyboard_crypto::{DecodeError, ProofError};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::RangeProofError;
use crate::labels::{self, msg};
use crate::link::LinkProof;
use crate::pedersen::{Blinding, G_compressed, H_compressed, PedersenCommitment};
use crate::range::{AggregatedRangeProof, RangeClaim, RangeStatements, RangeWitness};

/// Most options of a points contest: `2·63 + 2 ≤ 128` statements.
pub const MAX_OPTIONS: usize = 63;

/// The rule on the total of a points ballot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TotalRule {
    /// No rule beyond the per-option maxima.
    None,
    /// `Σ mᵢ ≤ B`.
    AtMost(u64),
    /// `Σ mᵢ = B`.
    Exactly(u64),
}

impl TotalRule {
    /// `(tag, bound)` as absorbed into transcripts (§5.2): 0 none, 1 at most, 2 exactly.
    pub fn tag_and_bound(self) -> (u64, u64) {
        match self {
            TotalRule::None => (0, 0),
            TotalRule::AtMost(b) => (1, b),
            TotalRule::Exactly(b) => (2, b),
        }
    }
}

/// Validated rules of a points contest (from the manifest).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PointsRules {
    maxes: Vec<u64>,
    total: TotalRule,
}

impl PointsRules {
    /// Checks and wraps the rules: 1 to [`MAX_OPTIONS`] options, and an
    /// exact total no larger than the sum of the maxima (otherwise no
    /// ballot could satisfy it).
    pub fn new(per_option_max: &[u64], total: TotalRule) -> Result<Self, RangeProofError> {
        if per_option_max.is_empty() {
            return Err(RangeProofError::InvalidRules("no options"));
        }
        if per_option_max.len() > MAX_OPTIONS {
            return Err(RangeProofError::InvalidRules("more than 63 options"));
        }
        if let TotalRule::Exactly(b) = total {
            let sum: u128 = per_option_max.iter().map(|&m| m as u128).sum();
            if b as u128 > sum {
                return Err(RangeProofError::InvalidRules(
                    "exact total above the sum of the maxima",
                ));
            }
        }
        Ok(Self {
            maxes: per_option_max.to_vec(),
            total,
        })
    }

    /// Number of options `k`.
    pub fn options(&self) -> usize {
        self.maxes.len()
    }

    /// The per-option maxima.
    pub fn per_option_max(&self) -> &[u64] {
        &self.maxes
    }

    /// The total rule.
    pub fn total(&self) -> TotalRule {
        self.total
    }

    /// Checks `values` against the rules (§5.1): the count, each maximum,
    /// then the total. This is what the prover runs before encrypting.
    pub fn check_values(&self, values: &[u64]) -> Result<(), RangeProofError> {
        if values.len() != self.maxes.len() {
            return Err(RangeProofError::WrongValueCount {
                expected: self.maxes.len(),
                got: values.len(),
            });
        }
        for (i, (&v, &max)) in values.iter().zip(&self.maxes).enumerate() {
            if v > max {
                return Err(RangeProofError::ValueAboveMax {
                    option: i,
                    value: v,
                    max,
                });
            }
        }
        let total: u128 = values.iter().map(|&v| v as u128).sum();
        match self.total {
            TotalRule::AtMost(b) if total > b as u128 => {
                Err(RangeProofError::TotalAboveBudget { total, budget: b })
            }
            TotalRule::Exactly(b) if total != b as u128 => {
                Err(RangeProofError::TotalNotExact { total, required: b })
            }
            _ => Ok(()),
        }
    }

    fn claims(&self, commitments: &[PedersenCommitment]) -> Vec<RangeClaim> {
        let mut claims: Vec<RangeClaim> = commitments
            .iter()
            .zip(&self.maxes)
            .map(|(&commitment, &max)| RangeClaim { commitment, max })
            .collect();
        if let TotalRule::AtMost(b) = self.total {
            let sum = commitments.iter().fold(
                PedersenCommitment::from_point(Default::default()),
                |a, &v| a + v,
            );
            claims.push(RangeClaim {
                commitment: sum,
                max: b,
            });
        }
        claims
    }

    /// The range statements any ballot under these rules proves (bit size,
    /// count); the commitments in it are those of a dummy ballot.
    fn statements_shape(&self) -> Result<RangeStatements, ProofError> {
        let dummy = vec![PedersenCommitment::from_point(generators::G()); self.maxes.len()];
        RangeStatements::derive(&self.claims(&dummy))
    }

    /// Exact length of a ballot's encoding under these rules (§5.5); a
    /// board can refuse any other length before decoding.
    pub fn ballot_len(&self) -> usize {
        let k = self.maxes.len();
        let range = self
            .statements_shape()
            .map(|s| s.proof_len())
            .unwrap_or(AggregatedRangeProof::MAX_LEN);
        let total = match self.total {
            TotalRule::Exactly(_) => ChaumPedersenProof::LEN,
            _ => 0,
        };
        4 + k * (Ciphertext::LEN + PedersenCommitment::LEN + LinkProof::LEN) + 4 + range + 1 + total
    }
}

/// A points/cumulative ballot (§5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PointsBallot {
    /// `(αᵢ, βᵢ) = (rᵢ·G, mᵢ·G + rᵢ·K)`.
    pub ciphertexts: Vec<Ciphertext>,
    /// `Vᵢ = mᵢ·G + tᵢ·H`.
    pub commitments: Vec<PedersenCommitment>,
    /// Link proof of option `i` (§3, §5.3).
    pub link_proofs: Vec<LinkProof>,
    /// One aggregated bulletproof for every range claim (§4, §5.2).
    pub range_proof: AggregatedRangeProof,
    /// Exact-total proof, present iff the rule is `Exactly` (§5.4).
    pub total_proof: Option<ChaumPedersenProof>,
}

/// The openings of a ballot: values, encryption nonces, commitment
/// blindings. Secret until the ballot is challenged (Benaloh); zeroized on
/// drop; `Debug` prints `[REDACTED]`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct PointsOpening {
    values: Vec<u64>,
    nonces: Vec<Nonce>,
    blindings: Vec<Blinding>,
}

impl fmt::Debug for PointsOpening {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PointsOpening([REDACTED])")
    }
}

impl PointsOpening {
    /// The values.
    pub fn values(&self) -> &[u64] {
        &self.values
    }
    /// The encryption nonces `rᵢ`.
    pub fn nonces(&self) -> &[Nonce] {
        &self.nonces
    }
    /// The commitment blindings `tᵢ`.
    pub fn blindings(&self) -> &[Blinding] {
        &self.blindings
    }
    /// Whether this opening opens every ciphertext and commitment of
    /// `ballot` (checking a challenged ballot, whose openings are public).
    pub fn opens(&self, ballot: &PointsBallot, pk: &PublicKey) -> bool {
        let k = self.values.len();
        ballot.ciphertexts.len() == k
            && ballot.commitments.len() == k
            && self.nonces.len() == k
            && self.blindings.len() == k
            && (0..k).all(|i| {
                pk.encrypt_with(self.values[i], &self.nonces[i]) == ballot.ciphertexts[i]
                    && ballot.commitments[i].opens(self.values[i], &self.blindings[i])
            })
    }
}

/// Encrypts and proves a points ballot (§5): see [`PointsBallot::encrypt`].
pub fn encrypt_points<R: RngCore + CryptoRng>(
    pk: &PublicKey,
    values: &[u64],
    per_option_max: &[u64],
    total: TotalRule,
    ctx: &ProofContext,
    rng: &mut R,
) -> Result<(PointsBallot, PointsOpening), RangeProofError> {
    let rules = PointsRules::new(per_option_max, total)?;
    PointsBallot::encrypt(pk, &rules, values, ctx, rng)
}

fn option_ctx(ctx: &ProofContext, i: usize) -> ProofContext {
    ctx.clone().with_u64(labels::OPTION_INDEX, i as u64)
}

fn total_ctx(ctx: &ProofContext, cts: &[Ciphertext], b: u64) -> ProofContext {
    let all: Vec<u8> = cts.iter().flat_map(|c| c.to_bytes()).collect();
    ctx.clone()
        .with(labels::BALLOT_CIPHERTEXTS, &all)
        .with_u64(labels::TOTAL_BOUND, b)
}

fn total_statement(pk: &PublicKey, cts: &[Ciphertext], b: u64) -> DleqStatement {
    let sum: Ciphertext = cts.iter().sum();
    DleqStatement {
        B1: generators::G(),
        Y1: sum.alpha,
        B2: *pk.point(),
        Y2: sum.beta - G_table() * &Scalar::from(b),
    }
}

/// The range-proof transcript of a ballot, up to the claims (§5.2).
fn range_transcript(
    ctx: &ProofContext,
    pk: &PublicKey,
    rules: &PointsRules,
    cts: &[Ciphertext],
    commitments: &[PedersenCommitment],
) -> ProofTranscript {
    let mut t = ProofTranscript::new(tl::BULLETPROOF_RANGE, ctx);
    t.append_message(msg::STATEMENT, labels::STATEMENT_POINTS_BALLOT);
    t.append_compressed(msg::G, &G_compressed());
    t.append_compressed(msg::H, &H_compressed());
    t.append_compressed(msg::K, &CompressedRistretto(pk.to_bytes()));
    t.append_u64(msg::OPTION_COUNT, cts.len() as u64);
    for ((ct, v), max) in cts.iter().zip(commitments).zip(&rules.maxes) {
        t.append_message(msg::CIPHERTEXT, &ct.to_bytes());
        t.append_point(msg::COMMITMENT, v.point());
        t.append_u64(msg::OPTION_MAX, *max);
    }
    let (tag, bound) = rules.total.tag_and_bound();
    t.append_u64(msg::TOTAL_RULE, tag);
    t.append_u64(msg::TOTAL_BOUND, bound);
    t
}

impl PointsBallot {
    /// Largest encoding: `4 + 63·288 + 4 + 1120 + 1 + 96` bytes.
    pub const MAX_LEN: usize = 4
        + MAX_OPTIONS * (Ciphertext::LEN + PedersenCommitment::LEN + LinkProof::LEN)
        + 4
        + AggregatedRangeProof::MAX_LEN
        + 1
        + ChaumPedersenProof::LEN;

    /// Encrypts `values` under `pk` and proves the ballot valid under
    /// `rules` and `ctx` (§5.1). Values that break the rules are refused
    /// with a typed error before anything is encrypted. Every proof is
    /// verified before the ballot is returned. Returns the ballot and its
    /// openings (for a Benaloh challenge).
    pub fn encrypt<R: RngCore + CryptoRng>(
        pk: &PublicKey,
        rules: &PointsRules,
        values: &[u64],
        ctx: &ProofContext,
        rng: &mut R,
    ) -> Result<(Self, PointsOpening), RangeProofError> {
        rules.check_values(values)?;
        let k = values.len();
        let mut ciphertexts = Vec::with_capacity(k);
        let mut nonces = Vec::with_capacity(k);
        let mut commitments = Vec::with_capacity(k);
        let mut blindings = Vec::with_capacity(k);
        for &m in values {
            let (ct, r) = pk.encrypt(m, rng);
            let t = Blinding::random(rng);
            commitments.push(PedersenCommitment::commit(m, &t));
            ciphertexts.push(ct);
            nonces.push(r);
            blindings.push(t);
        }
        let opening = PointsOpening {
            values: values.to_vec(),
            nonces,
            blindings,
        };
        let link_proofs = (0..k)
            .map(|i| {
                LinkProof::prove(
                    &option_ctx(ctx, i),
                    pk,
                    &ciphertexts[i],
                    &commitments[i],
                    values[i],
                    &opening.nonces[i],
                    &opening.blindings[i],
                    rng,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;

        let claims = rules.claims(&commitments);
        let mut witnesses: Vec<RangeWitness> = (0..k)
            .map(|i| RangeWitness::new(values[i], opening.blindings[i].clone()))
            .collect();
        if let TotalRule::AtMost(_) = rules.total {
            // check_values bounded the total by a u64 budget.
            let total = values.iter().fold(0u64, |a, &v| a.wrapping_add(v));
            let t_sum = opening
                .blindings
                .iter()
                .fold(Blinding::from_scalar(Scalar::ZERO), |a, t| &a + t);
            witnesses.push(RangeWitness::new(total, t_sum));
        }
        let mut transcript = range_transcript(ctx, pk, rules, &ciphertexts, &commitments);
        let range_proof = AggregatedRangeProof::prove(&mut transcript, &claims, &witnesses, rng)?;

        let total_proof = match rules.total {
            TotalRule::Exactly(b) => {
                let mut r_sum = opening
                    .nonces
                    .iter()
                    .fold(Scalar::ZERO, |a, r| a + r.expose_scalar());
                let p = ChaumPedersenProof::prove(
                    labels::POINTS_TOTAL_EXACT,
                    &total_ctx(ctx, &ciphertexts, b),
                    &total_statement(pk, &ciphertexts, b),
                    &r_sum,
                    rng,
                );
                r_sum.zeroize();
                Some(p?)
            }
            _ => None,
        };
        Ok((
            Self {
                ciphertexts,
                commitments,
                link_proofs,
                range_proof,
                total_proof,
            },
            opening,
        ))
    }

    fn check_shape(&self, rules: &PointsRules) -> Result<(), ProofError> {
        let k = rules.options();
        if self.ciphertexts.len() != k || self.commitments.len() != k || self.link_proofs.len() != k
        {
            return Err(ProofError::InvalidStatement(
                "points ballot: option count differs from the rules",
            ));
        }
        if self.total_proof.is_some() != matches!(rules.total, TotalRule::Exactly(_)) {
            return Err(ProofError::InvalidStatement(
                "points ballot: total proof presence differs from the rules",
            ));
        }
        Ok(())
    }

    /// Verifies the ballot under `pk`, `rules` and `ctx` (§5.6), with the OS
    /// RNG for bulletproofs' verifier weight.
    pub fn verify(
        &self,
        pk: &PublicKey,
        rules: &PointsRules,
        ctx: &ProofContext,
    ) -> Result<(), ProofError> {
        self.verify_with_rng(pk, rules, ctx, &mut OsRng)
    }

    /// [`Self::verify`] with an explicit RNG for bulletproofs' verifier
    /// weight. Order: shape, link proofs, exact-total proof, range proof.
    pub fn verify_with_rng<R: RngCore + CryptoRng>(
        &self,
        pk: &PublicKey,
        rules: &PointsRules,
        ctx: &ProofContext,
        rng: &mut R,
    ) -> Result<(), ProofError> {
        self.check_shape(rules)?;
        for (i, p) in self.link_proofs.iter().enumerate() {
            p.verify(
                &option_ctx(ctx, i),
                pk,
                &self.ciphertexts[i],
                &self.commitments[i],
            )?;
        }
        if let (TotalRule::Exactly(b), Some(p)) = (rules.total, &self.total_proof) {
            p.verify(
                labels::POINTS_TOTAL_EXACT,
                &total_ctx(ctx, &self.ciphertexts, b),
                &total_statement(pk, &self.ciphertexts, b),
            )?;
        }
        self.verify_range(pk, rules, ctx, rng)
    }

    fn verify_range<R: RngCore + CryptoRng>(
        &self,
        pk: &PublicKey,
        rules: &PointsRules,
        ctx: &ProofContext,
        rng: &mut R,
    ) -> Result<(), ProofError> {
        let mut t = range_transcript(ctx, pk, rules, &self.ciphertexts, &self.commitments);
        self.range_proof
            .verify(&mut t, &rules.claims(&self.commitments), rng)
    }

    /// Batched verification (§5.6): the link proofs' equations (3 per
    /// option) and the exact-total proof's (2) go into `batch`; the
    /// aggregated range proof is verified now, as one multiscalar
    /// multiplication (bulletproofs 5 offers no cross-proof batching, §4.6).
    /// `Ok(())` means the range proof and the shape hold and the other
    /// equations are pending in `batch`. `K` must denote `pk`'s point in
    /// `batch` (register it once per batch).
    pub fn batch_verify<R: RngCore + CryptoRng>(
        &self,
        pk: &PublicKey,
        K: Base,
        rules: &PointsRules,
        ctx: &ProofContext,
        batch: &mut BatchVerifier<R>,
    ) -> Result<(), ProofError> {
        self.check_shape(rules)?;
        self.verify_range(pk, rules, ctx, &mut OsRng)?;
        for (i, p) in self.link_proofs.iter().enumerate() {
            p.batch_verify(
                &option_ctx(ctx, i),
                pk,
                K,
                &self.ciphertexts[i],
                &self.commitments[i],
                batch,
            )?;
        }
        if let (TotalRule::Exactly(b), Some(p)) = (rules.total, &self.total_proof) {
            p.batch_verify(
                labels::POINTS_TOTAL_EXACT,
                &total_ctx(ctx, &self.ciphertexts, b),
                &total_statement(pk, &self.ciphertexts, b),
                Base::G,
                K,
                batch,
            )?;
        }
        Ok(())
    }

    /// The homomorphic sum of the ciphertexts (what the exact-total proof
    /// speaks of).
    pub fn ciphertext_sum(&self) -> Ciphertext {
        self.ciphertexts.iter().sum()
    }

    /// The encoding of §5.5:
    /// `u32 k ‖ k×ciphertext ‖ k×commitment ‖ k×link proof ‖ u32 L ‖ range proof (L bytes) ‖ u8 tag ‖ [total proof]`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let k = self.ciphertexts.len();
        let range = self.range_proof.as_bytes();
        let mut out = Vec::with_capacity(
            4 + k * (Ciphertext::LEN + PedersenCommitment::LEN + LinkProof::LEN)
                + 4
                + range.len()
                + 1
                + ChaumPedersenProof::LEN,
        );
        out.extend_from_slice(&(k as u32).to_be_bytes());
        for ct in &self.ciphertexts {
            out.extend_from_slice(&ct.to_bytes());
        }
        for v in &self.commitments {
            out.extend_from_slice(&v.to_bytes());
        }
        for p in &self.link_proofs {
            out.extend_from_slice(&p.to_bytes());
        }
        out.extend_from_slice(&(range.len() as u32).to_be_bytes());
        out.extend_from_slice(range);
        match &self.total_proof {
            None => out.push(0),
            Some(p) => {
                out.push(1);
                out.extend_from_slice(&p.to_bytes());
            }
        }
        out
    }

    /// Canonical decoding of §5.5 with its limits: at most
    /// [`Self::MAX_LEN`] bytes, `1 ≤ k ≤ 63`, range-proof length as in
    /// §4.5, tag 0 or 1, no trailing bytes; every element canonical,
    /// ciphertext `α` and commitments not the identity.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        const WHAT: &str = "points ballot";
        if bytes.len() > Self::MAX_LEN {
            return Err(DecodeError::OutOfRange {
                what: WHAT,
                detail: "encoding longer than the largest ballot",
            });
        }
        let mut r = Reader::new(bytes, WHAT);
        let k = r.u32()? as usize;
        if k == 0 || k > MAX_OPTIONS {
            return Err(DecodeError::OutOfRange {
                what: WHAT,
                detail: "option count not in 1..=63",
            });
        }
        let fixed = k * (Ciphertext::LEN + PedersenCommitment::LEN + LinkProof::LEN);
        if r.remaining() < fixed + 4 {
            return Err(DecodeError::WrongLength {
                what: WHAT,
                expected: 4 + fixed + 4,
                got: bytes.len(),
            });
        }
        let ciphertexts = (0..k)
            .map(|_| Ciphertext::from_bytes(r.bytes(Ciphertext::LEN)?))
            .collect::<Result<Vec<_>, _>>()?;
        let commitments = (0..k)
            .map(|_| PedersenCommitment::from_bytes(r.bytes(PedersenCommitment::LEN)?))
            .collect::<Result<Vec<_>, _>>()?;
        let link_proofs = (0..k)
            .map(|_| LinkProof::from_bytes(r.bytes(LinkProof::LEN)?))
            .collect::<Result<Vec<_>, _>>()?;
        let range_len = r.u32()? as usize;
        if range_len > AggregatedRangeProof::MAX_LEN {
            return Err(DecodeError::OutOfRange {
                what: WHAT,
                detail: "range proof longer than 1120 bytes",
            });
        }
        let range_proof = AggregatedRangeProof::from_bytes(r.bytes(range_len)?)?;
        let total_proof = match r.bytes(1)?[0] {
            0 => None,
            1 => Some(ChaumPedersenProof::from_bytes(
                r.bytes(ChaumPedersenProof::LEN)?,
            )?),
            _ => {
                return Err(DecodeError::OutOfRange {
                    what: WHAT,
                    detail: "total proof tag not 0 or 1",
                })
            }
        };
        r.finish()?;
        Ok(Self {
            ciphertexts,
            commitments,
            link_proofs,
            range_proof,
            total_proof,
        })
    }
}

#[cfg(test)]
#[path = "points_tests.rs"]
mod tests;
