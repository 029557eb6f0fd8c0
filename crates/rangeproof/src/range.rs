//! Aggregated bulletproofs range proofs on Pedersen commitments
//! (`spec/range-proofs.md` §4).
//!
//! A [`RangeClaim`] says "the value committed in `V` lies in `[0, max]`".
//! A list of claims becomes a list of bulletproofs statements
//! "the value committed in `Vⱼ` lies in `[0, 2ⁿ)`" (§4.2):
//!
//! * `n` is the smallest of 8, 16, 32, 64 with `max < 2ⁿ` for every claim;
//! * claim `(V, max)` gives the *lower* statement on `V` and, unless
//!   `max = 2ⁿ − 1`, the *upper* statement on `V + (2ⁿ − 1 − max)·G`
//!   (both in `[0, 2ⁿ)` ⇔ `m ∈ [0, max]`, as `2ⁿ⁺¹ < ℓ`);
//! * the list is padded to a power of two with the identity point, the
//!   commitment to 0 with blinding 0 (a public, trivially true statement).
//!
//! All statements are proved by ONE aggregated bulletproof
//! (`RangeProof::prove_multiple_with_rng`) with Pedersen generators
//! `B = G`, `B_blinding = H` and [`BulletproofGens`] of capacity
//! `GENS_CAPACITY × MAX_STATEMENTS` = 64 × 128 (§4.3). Before bulletproofs
//! sees it, the merlin transcript is a [`ProofTranscript`] started by the
//! caller with `BULLETPROOF_RANGE` and its context and statement, to which
//! this module adds `"bit-size"`, `"claim-count"`, every claim and
//! `"statement-count"` (§4.4).
//!
//! Verification is one multiscalar multiplication per aggregated proof
//! (bulletproofs' own verifier); bulletproofs 5 has no cross-proof batch
//! API, see §4.6 for the cost and the reason.

use std::fmt;
use std::sync::OnceLock;

use bulletproofs::{BulletproofGens, PedersenGens, RangeProof};
use curve25519_dalek::ristretto::CompressedRistretto;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity;
use rand_core::{CryptoRng, OsRng, RngCore};
use tallyboard_crypto::encoding::{decode_nonidentity_point, decode_scalar, ELEMENT_LEN};
use tallyboard_crypto::generators::{self, G_table};
use tallyboard_crypto::transcript::ProofTranscript;
use tallyboard_crypto::{DecodeError, ProofError};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::RangeProofError;
use crate::labels::msg;
use crate::pedersen::{Blinding, PedersenCommitment};

const NAME: &str = "bulletproof range";

/// Generators per party: enough for 64-bit statements.
pub const GENS_CAPACITY: usize = 64;
/// Most statements one aggregated proof may hold (after padding).
pub const MAX_STATEMENTS: usize = 128;
/// Smallest `log₂(n·m)` of a proof (`n = 8`, `m = 1`).
pub const MIN_LG: usize = 3;
/// Largest `log₂(n·m)` of a proof (`n = 64`, `m = 128`).
pub const MAX_LG: usize = 13;

/// Bit size `n` of the aggregated statements (§4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BitSize {
    /// `n = 8`
    B8,
    /// `n = 16`
    B16,
    /// `n = 32`
    B32,
    /// `n = 64`
    B64,
}

impl BitSize {
    /// `n`.
    pub fn bits(self) -> usize {
        match self {
            BitSize::B8 => 8,
            BitSize::B16 => 16,
            BitSize::B32 => 32,
            BitSize::B64 => 64,
        }
    }

    /// `2ⁿ − 1`, the largest value a statement admits.
    pub fn top(self) -> u64 {
        match self {
            BitSize::B64 => u64::MAX,
            b => (1u64 << b.bits()) - 1,
        }
    }

    /// The smallest bit size whose range `[0, 2ⁿ)` contains `max`.
    pub fn for_max(max: u64) -> Self {
        [BitSize::B8, BitSize::B16, BitSize::B32]
            .into_iter()
            .find(|b| max <= b.top())
            .unwrap_or(BitSize::B64)
    }
}

/// A public claim: the value committed in `commitment` lies in `[0, max]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RangeClaim {
    /// The commitment `V = m·G + t·H` (derived commitments such as a sum
    /// may be any point, the identity included).
    pub commitment: PedersenCommitment,
    /// The inclusive upper bound.
    pub max: u64,
}

/// The opening `(m, t)` of a claim's commitment. Secret; zeroized on drop;
/// `Debug` prints `[REDACTED]`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct RangeWitness {
    value: u64,
    blinding: Blinding,
}

impl fmt::Debug for RangeWitness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RangeWitness([REDACTED])")
    }
}

impl RangeWitness {
    /// Wraps an opening.
    pub fn new(value: u64, blinding: Blinding) -> Self {
        Self { value, blinding }
    }
}

/// Where an aggregated statement comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    /// The claim's commitment itself.
    Lower(usize),
    /// The claim's commitment plus `offset·G`.
    Upper(usize, u64),
    /// The identity (value 0, blinding 0).
    Padding,
}

/// The bulletproofs statements derived from a list of claims (§4.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeStatements {
    bits: BitSize,
    commitments: Vec<CompressedRistretto>,
    slots: Vec<Slot>,
    real: usize,
}

impl RangeStatements {
    /// Derives the statements of `claims`: bit size, lower and upper
    /// statements in claim order, identity padding to a power of two.
    /// Refuses an empty list and more than [`MAX_STATEMENTS`] statements.
    pub fn derive(claims: &[RangeClaim]) -> Result<Self, ProofError> {
        let bits = claims
            .iter()
            .map(|c| BitSize::for_max(c.max))
            .max()
            .ok_or(ProofError::InvalidStatement("range: no claims"))?;
        let mut slots = Vec::with_capacity(2 * claims.len());
        for (i, c) in claims.iter().enumerate() {
            slots.push(Slot::Lower(i));
            if c.max < bits.top() {
                slots.push(Slot::Upper(i, bits.top() - c.max));
            }
        }
        let real = slots.len();
        let padded = real.next_power_of_two();
        if padded > MAX_STATEMENTS {
            return Err(ProofError::InvalidStatement(
                "range: more than 128 aggregated statements",
            ));
        }
        slots.resize(padded, Slot::Padding);
        let commitments = slots
            .iter()
            .map(|s| match *s {
                Slot::Lower(i) => claims[i].commitment.point().compress(),
                Slot::Upper(i, off) => {
                    (claims[i].commitment.point() + G_table() * &Scalar::from(off)).compress()
                }
                Slot::Padding => CompressedRistretto::identity(),
            })
            .collect();
        Ok(Self {
            bits,
            commitments,
            slots,
            real,
        })
    }

    /// The bit size `n`.
    pub fn bits(&self) -> BitSize {
        self.bits
    }

    /// The `m` aggregated commitments, padding included.
    pub fn commitments(&self) -> &[CompressedRistretto] {
        &self.commitments
    }

    /// Number of statements before padding.
    pub fn real_count(&self) -> usize {
        self.real
    }

    /// `log₂(n·m)`: the number of inner-product rounds.
    pub fn lg(&self) -> usize {
        (self.bits.bits() * self.commitments.len()).trailing_zeros() as usize
    }

    /// Length of the proof for these statements: `32·(9 + 2·lg)`.
    pub fn proof_len(&self) -> usize {
        AggregatedRangeProof::len_for_lg(self.lg())
    }

    fn absorb(&self, t: &mut ProofTranscript, claims: &[RangeClaim]) {
        t.append_u64(msg::BIT_SIZE, self.bits.bits() as u64);
        t.append_u64(msg::CLAIM_COUNT, claims.len() as u64);
        for c in claims {
            t.append_point(msg::CLAIM_COMMITMENT, c.commitment.point());
            t.append_u64(msg::CLAIM_MAX, c.max);
        }
        t.append_u64(msg::STATEMENT_COUNT, self.commitments.len() as u64);
    }
}

/// `B = G`, `B_blinding = H` (§4.3).
pub fn pedersen_gens() -> PedersenGens {
    PedersenGens {
        B: generators::G(),
        B_blinding: generators::H(),
    }
}

/// The bulletproofs generators for up to `parties` statements (§4.3).
/// Party `j`'s generators do not depend on the capacity, so two sizes are
/// kept: 64 × 16 (most ballots) and 64 × 128.
pub fn bulletproof_gens(parties: usize) -> &'static BulletproofGens {
    static SMALL: OnceLock<BulletproofGens> = OnceLock::new();
    static FULL: OnceLock<BulletproofGens> = OnceLock::new();
    if parties <= 16 {
        SMALL.get_or_init(|| BulletproofGens::new(GENS_CAPACITY, 16))
    } else {
        FULL.get_or_init(|| BulletproofGens::new(GENS_CAPACITY, MAX_STATEMENTS))
    }
}

/// One aggregated bulletproofs range proof (§4.5 gives the byte format).
#[derive(Clone)]
pub struct AggregatedRangeProof {
    inner: RangeProof,
    bytes: Vec<u8>,
}

impl fmt::Debug for AggregatedRangeProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AggregatedRangeProof({} bytes)", self.bytes.len())
    }
}

impl PartialEq for AggregatedRangeProof {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}
impl Eq for AggregatedRangeProof {}

impl AggregatedRangeProof {
    /// Largest encoding: `32·(9 + 2·13)` = 1120 bytes.
    pub const MAX_LEN: usize = 32 * (9 + 2 * MAX_LG);

    /// Encoded length of a proof with `lg` inner-product rounds.
    pub fn len_for_lg(lg: usize) -> usize {
        ELEMENT_LEN * (9 + 2 * lg)
    }

    /// Proves every claim at once. `transcript` must already hold the
    /// protocol label, context and the caller's statement (§4.4). Each
    /// witness must open its claim with `value ≤ max`; a value above its
    /// maximum is refused before any proving ([`RangeProofError::ValueAboveMax`]).
    /// The proof is verified before it is returned.
    pub fn prove<R: RngCore + CryptoRng>(
        transcript: &mut ProofTranscript,
        claims: &[RangeClaim],
        witnesses: &[RangeWitness],
        rng: &mut R,
    ) -> Result<Self, RangeProofError> {
        if claims.len() != witnesses.len() {
            return Err(RangeProofError::WrongValueCount {
                expected: claims.len(),
                got: witnesses.len(),
            });
        }
        for (i, (c, w)) in claims.iter().zip(witnesses).enumerate() {
            if w.value > c.max {
                return Err(RangeProofError::ValueAboveMax {
                    option: i,
                    value: w.value,
                    max: c.max,
                });
            }
            if !c.commitment.opens(w.value, &w.blinding) {
                return Err(RangeProofError::WitnessMismatch(i));
            }
        }
        let mut check = transcript.clone();
        let proof = Self::prove_unchecked(transcript, claims, witnesses, rng)?;
        proof.verify(&mut check, claims, &mut OsRng)?;
        Ok(proof)
    }

    /// The prover without the witness checks and the self-check (tests use
    /// it to show that a proof for an out-of-range value does not verify).
    pub(crate) fn prove_unchecked<R: RngCore + CryptoRng>(
        transcript: &mut ProofTranscript,
        claims: &[RangeClaim],
        witnesses: &[RangeWitness],
        rng: &mut R,
    ) -> Result<Self, RangeProofError> {
        let st = RangeStatements::derive(claims)?;
        st.absorb(transcript, claims);
        let mut values = Zeroizing::new(Vec::with_capacity(st.slots.len()));
        let mut blindings = Zeroizing::new(Vec::with_capacity(st.slots.len()));
        for s in &st.slots {
            let (v, b) = match *s {
                Slot::Lower(i) => (witnesses[i].value, witnesses[i].blinding.expose_scalar()),
                Slot::Upper(i, off) => (
                    witnesses[i].value.wrapping_add(off),
                    witnesses[i].blinding.expose_scalar(),
                ),
                Slot::Padding => (0, &Scalar::ZERO),
            };
            values.push(v);
            blindings.push(*b);
        }
        let (inner, Vs) = RangeProof::prove_multiple_with_rng(
            bulletproof_gens(st.slots.len()),
            &pedersen_gens(),
            transcript.as_merlin_mut(),
            &values,
            &blindings,
            st.bits.bits(),
            rng,
        )
        .map_err(|_| RangeProofError::Prover)?;
        if Vs != st.commitments {
            return Err(RangeProofError::Prover);
        }
        let bytes = inner.to_bytes();
        Ok(Self { inner, bytes })
    }

    /// Verifies the proof for `claims`. `transcript` must be in the state
    /// the prover's was in when it called [`Self::prove`]. `rng` draws
    /// bulletproofs' verifier weight (it must be unpredictable to the
    /// prover: use the OS RNG).
    pub fn verify<R: RngCore + CryptoRng>(
        &self,
        transcript: &mut ProofTranscript,
        claims: &[RangeClaim],
        rng: &mut R,
    ) -> Result<(), ProofError> {
        let st = RangeStatements::derive(claims)?;
        if self.bytes.len() != st.proof_len() {
            return Err(ProofError::VerificationFailed { proof: NAME });
        }
        st.absorb(transcript, claims);
        self.inner
            .verify_multiple_with_rng(
                bulletproof_gens(st.commitments.len()),
                &pedersen_gens(),
                transcript.as_merlin_mut(),
                &st.commitments,
                st.bits.bits(),
                rng,
            )
            .map_err(|_| ProofError::VerificationFailed { proof: NAME })
    }

    /// `log₂(n·m)` of this proof.
    pub fn lg(&self) -> usize {
        (self.bytes.len() / ELEMENT_LEN - 9) / 2
    }

    /// The bytes as bulletproofs serializes them (§4.5).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.bytes.clone()
    }

    /// The encoding, borrowed.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Canonical decoding (§4.5): length `32·(9 + 2·lg)` with
    /// `3 ≤ lg ≤ 13`; `A, S, T_1, T_2, L_k, R_k` canonical non-identity
    /// points; `t_x, t_x_blinding, e_blinding, a, b` canonical scalars.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        const WHAT: &str = "bulletproof range proof";
        let elems = bytes.len() / ELEMENT_LEN;
        let lg = elems.saturating_sub(9) / 2;
        if bytes.len() % ELEMENT_LEN != 0
            || elems < 9
            || (elems - 9) % 2 != 0
            || !(MIN_LG..=MAX_LG).contains(&lg)
        {
            let expected = Self::len_for_lg(lg.clamp(MIN_LG, MAX_LG));
            return Err(DecodeError::WrongLength {
                what: WHAT,
                expected,
                got: bytes.len(),
            });
        }
        for (k, chunk) in bytes.chunks_exact(ELEMENT_LEN).enumerate() {
            let is_scalar = (4..7).contains(&k) || k >= elems - 2;
            if is_scalar {
                decode_scalar(chunk, WHAT)?;
            } else {
                decode_nonidentity_point(chunk, WHAT)?;
            }
        }
        let inner = RangeProof::from_bytes(bytes).map_err(|_| DecodeError::OutOfRange {
            what: WHAT,
            detail: "rejected by bulletproofs",
        })?;
        Ok(Self {
            inner,
            bytes: bytes.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::traits::IsIdentity;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;
    use tallyboard_crypto::transcript::{labels as tl, ProofContext};

    fn is_identity(p: &CompressedRistretto) -> bool {
        p.decompress().is_some_and(|q| q.is_identity())
    }

    fn ctx() -> ProofContext {
        ProofContext::new([5u8; 32]).with(b"contest", b"c1")
    }

    fn transcript() -> ProofTranscript {
        ProofTranscript::new(tl::BULLETPROOF_RANGE, &ctx())
    }

    fn setup(values: &[u64], maxes: &[u64], seed: u8) -> (Vec<RangeClaim>, Vec<RangeWitness>) {
        let mut rng = ChaCha20Rng::from_seed([seed; 32]);
        values
            .iter()
            .zip(maxes)
            .map(|(&v, &max)| {
                let t = Blinding::random(&mut rng);
                (
                    RangeClaim {
                        commitment: PedersenCommitment::commit(v, &t),
                        max,
                    },
                    RangeWitness::new(v, t),
                )
            })
            .unzip()
    }

    #[test]
    fn bit_size_selection() {
        assert_eq!(BitSize::for_max(0), BitSize::B8);
        assert_eq!(BitSize::for_max(255), BitSize::B8);
        assert_eq!(BitSize::for_max(256), BitSize::B16);
        assert_eq!(BitSize::for_max(u32::MAX as u64), BitSize::B32);
        assert_eq!(BitSize::for_max(1 << 32), BitSize::B64);
        assert_eq!(BitSize::for_max(u64::MAX), BitSize::B64);
        assert_eq!(BitSize::B64.top(), u64::MAX);
        assert_eq!(BitSize::B16.top(), 65535);
    }

    #[test]
    fn statements_are_derived_and_padded() {
        let (claims, _) = setup(&[1, 2, 3], &[100, 255, 1000], 1);
        let st = RangeStatements::derive(&claims).unwrap();
        assert_eq!(st.bits(), BitSize::B16);
        // 3 lower + 3 upper = 6 → 8.
        assert_eq!(st.real_count(), 6);
        assert_eq!(st.commitments().len(), 8);
        assert!(is_identity(&st.commitments()[6]) && is_identity(&st.commitments()[7]));
        let upper = claims[0].commitment.point() + Scalar::from(65535u64 - 100) * generators::G();
        assert_eq!(st.commitments()[1], upper.compress());
        // max = 2ⁿ − 1: no upper statement.
        let (claims, _) = setup(&[7], &[u64::MAX], 1);
        let st = RangeStatements::derive(&claims).unwrap();
        assert_eq!(
            (st.real_count(), st.commitments().len(), st.lg()),
            (1, 1, 6)
        );
        assert!(RangeStatements::derive(&[]).is_err());
        let (claims, _) = setup(&[0; 65], &[10; 65], 1);
        assert!(RangeStatements::derive(&claims).is_err());
    }

    #[test]
    fn honest_proofs_verify_for_every_bit_size() {
        let cases: &[(&[u64], &[u64])] = &[
            (&[0, 100, 37], &[100, 100, 100]),
            (&[65535], &[65535]),
            (&[4_000_000_000, 1], &[u32::MAX as u64, 1 << 32]),
            (&[u64::MAX, 0], &[u64::MAX, u64::MAX - 1]),
        ];
        for (i, (values, maxes)) in cases.iter().enumerate() {
            let (claims, w) = setup(values, maxes, i as u8);
            let mut rng = ChaCha20Rng::from_seed([i as u8 + 10; 32]);
            let p = AggregatedRangeProof::prove(&mut transcript(), &claims, &w, &mut rng).unwrap();
            p.verify(&mut transcript(), &claims, &mut OsRng).unwrap();
            let q = AggregatedRangeProof::from_bytes(&p.to_bytes()).unwrap();
            assert_eq!(p, q);
            q.verify(&mut transcript(), &claims, &mut OsRng).unwrap();
            let other = ProofContext::new([5u8; 32]).with(b"contest", b"c2");
            assert!(p
                .verify(
                    &mut ProofTranscript::new(tl::BULLETPROOF_RANGE, &other),
                    &claims,
                    &mut OsRng
                )
                .is_err());
            assert!(p
                .verify(
                    &mut ProofTranscript::new(tl::PEDERSEN_LINK, &ctx()),
                    &claims,
                    &mut OsRng
                )
                .is_err());
        }
    }

    #[test]
    fn out_of_range_values_are_refused_and_forgeries_fail() {
        let mut rng = ChaCha20Rng::from_seed([9u8; 32]);
        for (v, max) in [
            (101u64, 100u64),
            (256, 255),
            (1 << 32, u32::MAX as u64),
            (5, 0),
        ] {
            let (claims, w) = setup(&[v], &[max], 3);
            assert!(matches!(
                AggregatedRangeProof::prove(&mut transcript(), &claims, &w, &mut rng),
                Err(RangeProofError::ValueAboveMax { .. })
            ));
            // Made anyway, the proof does not verify.
            let p = AggregatedRangeProof::prove_unchecked(&mut transcript(), &claims, &w, &mut rng)
                .unwrap();
            assert!(p.verify(&mut transcript(), &claims, &mut OsRng).is_err());
        }
        // A claim whose maximum is lowered after proving.
        let (mut claims, w) = setup(&[50], &[100], 4);
        let p = AggregatedRangeProof::prove(&mut transcript(), &claims, &w, &mut rng).unwrap();
        claims[0].max = 49;
        assert!(p.verify(&mut transcript(), &claims, &mut OsRng).is_err());
        // The same proof for a commitment shifted by G (value 51).
        claims[0].max = 100;
        claims[0].commitment =
            PedersenCommitment::from_point(claims[0].commitment.point() + generators::G());
        assert!(p.verify(&mut transcript(), &claims, &mut OsRng).is_err());
        // A witness that does not open its claim.
        let (claims, _) = setup(&[50], &[100], 4);
        let (_, w2) = setup(&[50], &[100], 5);
        assert!(matches!(
            AggregatedRangeProof::prove(&mut transcript(), &claims, &w2, &mut rng),
            Err(RangeProofError::WitnessMismatch(0))
        ));
    }

    #[test]
    fn decoding_rejects_each_malformed_class() {
        let (claims, w) = setup(&[3, 4], &[10, 10], 6);
        let mut rng = ChaCha20Rng::from_seed([6u8; 32]);
        let p = AggregatedRangeProof::prove(&mut transcript(), &claims, &w, &mut rng).unwrap();
        let good = p.to_bytes();
        assert_eq!(good.len(), 32 * (9 + 2 * 5));
        for bad_len in [
            0,
            31,
            32 * 9,
            32 * 14,
            good.len() - 1,
            good.len() + 32,
            32 * 37,
        ] {
            let b = vec![1u8; bad_len];
            assert!(
                matches!(
                    AggregatedRangeProof::from_bytes(&b),
                    Err(DecodeError::WrongLength { .. })
                ),
                "len {bad_len}"
            );
        }
        let elems = good.len() / 32;
        for k in 0..elems {
            let is_scalar = (4..7).contains(&k) || k >= elems - 2;
            let mut b = good.clone();
            b[32 * k..32 * k + 32].copy_from_slice(&[0xff; 32]);
            let e = AggregatedRangeProof::from_bytes(&b).unwrap_err();
            if is_scalar {
                assert!(matches!(e, DecodeError::NonCanonicalScalar { .. }), "{k}");
            } else {
                assert!(matches!(e, DecodeError::InvalidPoint { .. }), "{k}");
                b[32 * k..32 * k + 32].copy_from_slice(&[0; 32]);
                assert!(matches!(
                    AggregatedRangeProof::from_bytes(&b),
                    Err(DecodeError::IdentityPoint { .. })
                ));
            }
        }
    }
}
