//! Threshold decryption (`spec/threshold.md` §6).
//!
//! Trustee `i` with share `s_i` (and public `VK_i = s_i·G`) decrypts a list
//! of ciphertexts `(α_p, β_p)`, `p = 0, 1, …` (a whole tally) by publishing
//! `D_{i,p} = s_i·α_p` with a Chaum–Pedersen proof (protocol label
//! `"partial-decryption"`) of
//!
//! ```text
//! log_G VK_i = log_{α_p} D_{i,p}          statement (B₁, Y₁, B₂, Y₂) = (G, VK_i, α_p, D_{i,p})
//! ctx = ProofContext(election) ‖ ("trustee", u64be(i)) ‖ ("position", u64be(p))
//! ```
//!
//! Any `t` valid partials, from trustees `S`, combine with the Lagrange
//! coefficients at zero `λ_i = Π_{m∈S, m≠i} m/(m − i)`:
//!
//! ```text
//! m_p·G = β_p − Σ_{i∈S} λ_i·D_{i,p}
//! ```
//!
//! and `m_p` is found by the bounded discrete logarithm of
//! `tallyboard_crypto::dlog`. Given more than `t` partials, [`combine`]
//! verifies them all (one batch; one by one only if the batch fails), names
//! every invalid one, and combines the `t` valid ones with the smallest
//! indices. Because all valid partials lie on one polynomial, every choice of
//! `t` valid partials yields the same plaintexts.
//!
//! An aggregate with `α_p = 0` (the sum of no ballots) has `D_{i,p} = 0` for
//! every share; its proof field must be 96 zero bytes and is not a
//! Chaum–Pedersen proof (whose bases may not be the identity).

use std::collections::BTreeSet;

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{Identity, IsIdentity, VartimeMultiscalarMul};
use rand_core::{CryptoRng, OsRng, RngCore};
use tallyboard_crypto::batch::{Base, BatchVerifier};
use tallyboard_crypto::elgamal::Ciphertext;
use tallyboard_crypto::encoding::Reader;
use tallyboard_crypto::generators::G;
use tallyboard_crypto::proofs::chaum_pedersen::{ChaumPedersenProof, DleqStatement};
use tallyboard_crypto::transcript::ProofContext;
use tallyboard_crypto::DecodeError;

use crate::error::ThresholdError;
use crate::labels::{self, tags};
use crate::params::expect_tag;
use crate::public_key::{lagrange_at, ThresholdPublicKey};
use crate::share::SecretShare;

/// The proof context of trustee `trustee`'s partial decryption of the
/// ciphertext at `position` (`spec/threshold.md` §6.1).
fn partial_context(election: &[u8; 32], trustee: u8, position: usize) -> ProofContext {
    ProofContext::new(*election)
        .with_u64(labels::CTX_TRUSTEE, u64::from(trustee))
        .with_u64(labels::CTX_POSITION, position as u64)
}

/// The placeholder proof for `α = 0`: 96 zero bytes.
fn zero_proof() -> ChaumPedersenProof {
    ChaumPedersenProof {
        A1: RistrettoPoint::identity(),
        A2: RistrettoPoint::identity(),
        z: Scalar::ZERO,
    }
}

/// Lagrange coefficients at zero for the distinct non-zero trustee indices
/// `S`: `λ_i = Π_{m∈S, m≠i} m/(m − i)` (`spec/threshold.md` §6.3).
pub fn lagrange_at_zero(indices: &[u8]) -> Result<Vec<Scalar>, ThresholdError> {
    lagrange_at(Scalar::ZERO, indices)
}

/// Trustee `i`'s partial decryption of a list of ciphertexts:
/// `0x05 ‖ i ‖ u32be(m) ‖ (D_{i,p} ‖ A₁ ‖ A₂ ‖ z) for p = 0..m−1`
/// (`6 + 128·m` bytes, `spec/threshold.md` §6.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartialDecryption {
    trustee: u8,
    entries: Vec<(RistrettoPoint, ChaumPedersenProof)>,
}

impl PartialDecryption {
    /// Bytes per ciphertext.
    pub const ENTRY_LEN: usize = 128;

    /// Decrypts `ciphertexts` with `share` and proves every decryption share.
    /// Constant time in the share (fixed-base and variable-base
    /// multiplications of dalek); each proof is checked before it is returned.
    pub fn create<R: RngCore + CryptoRng>(
        share: &SecretShare,
        ciphertexts: &[Ciphertext],
        rng: &mut R,
    ) -> Result<Self, ThresholdError> {
        let s = share.expose_scalar();
        let vk = share.public_point();
        let trustee = share.index();
        let mut entries = Vec::with_capacity(ciphertexts.len());
        for (p, ct) in ciphertexts.iter().enumerate() {
            if ct.alpha.is_identity() {
                entries.push((RistrettoPoint::identity(), zero_proof()));
                continue;
            }
            let D = s * ct.alpha;
            let st = DleqStatement {
                B1: G(),
                Y1: vk,
                B2: ct.alpha,
                Y2: D,
            };
            let proof = ChaumPedersenProof::prove(
                labels::PARTIAL_DECRYPTION,
                &partial_context(share.election(), trustee, p),
                &st,
                s,
                rng,
            )
            .map_err(|_| ThresholdError::InvalidPartialDecryption {
                trustee,
                position: p,
            })?;
            entries.push((D, proof));
        }
        Ok(Self { trustee, entries })
    }

    /// The trustee's index `i`.
    pub fn trustee(&self) -> u8 {
        self.trustee
    }

    /// Number of ciphertexts decrypted.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no ciphertext was decrypted.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The decryption shares `D_{i,p}`.
    pub fn shares(&self) -> impl Iterator<Item = &RistrettoPoint> {
        self.entries.iter().map(|(d, _)| d)
    }

    /// The proofs.
    pub fn proofs(&self) -> impl Iterator<Item = &ChaumPedersenProof> {
        self.entries.iter().map(|(_, p)| p)
    }

    /// Checks the trustee index and the length; returns `VK_i`.
    fn check_shape<'k>(
        &self,
        key: &'k ThresholdPublicKey,
        ciphertexts: &[Ciphertext],
    ) -> Result<&'k RistrettoPoint, ThresholdError> {
        let vk = key
            .verification_key(self.trustee)
            .ok_or(ThresholdError::UnknownTrustee {
                trustee: self.trustee,
                trustees: key.trustees(),
            })?;
        if self.entries.len() != ciphertexts.len() {
            return Err(ThresholdError::PartialLengthMismatch {
                trustee: self.trustee,
                expected: ciphertexts.len(),
                got: self.entries.len(),
            });
        }
        Ok(vk)
    }

    fn statement(vk: &RistrettoPoint, ct: &Ciphertext, D: &RistrettoPoint) -> DleqStatement {
        DleqStatement {
            B1: G(),
            Y1: *vk,
            B2: ct.alpha,
            Y2: *D,
        }
    }

    fn invalid(&self, position: usize) -> ThresholdError {
        ThresholdError::InvalidPartialDecryption {
            trustee: self.trustee,
            position,
        }
    }

    /// Verifies every proof (`spec/threshold.md` §6.2); names the first
    /// failing position.
    pub fn verify(
        &self,
        key: &ThresholdPublicKey,
        ciphertexts: &[Ciphertext],
    ) -> Result<(), ThresholdError> {
        let vk = self.check_shape(key, ciphertexts)?;
        for (p, (ct, (D, proof))) in ciphertexts.iter().zip(&self.entries).enumerate() {
            if ct.alpha.is_identity() {
                if !(D.is_identity() && *proof == zero_proof()) {
                    return Err(self.invalid(p));
                }
                continue;
            }
            proof
                .verify(
                    labels::PARTIAL_DECRYPTION,
                    &partial_context(key.election(), self.trustee, p),
                    &Self::statement(vk, ct, D),
                )
                .map_err(|_| self.invalid(p))?;
        }
        Ok(())
    }

    /// Adds every verification equation to `batch` (`spec/threshold.md`
    /// §6.2). Shape errors and `α = 0` entries are checked at once.
    pub fn batch_verify<R: RngCore + CryptoRng>(
        &self,
        key: &ThresholdPublicKey,
        ciphertexts: &[Ciphertext],
        batch: &mut BatchVerifier<R>,
    ) -> Result<(), ThresholdError> {
        let bases: Vec<Base> = ciphertexts.iter().map(|c| Base::Point(c.alpha)).collect();
        self.batch_verify_with(key, ciphertexts, &bases, batch)
    }

    fn batch_verify_with<R: RngCore + CryptoRng>(
        &self,
        key: &ThresholdPublicKey,
        ciphertexts: &[Ciphertext],
        alpha_bases: &[Base],
        batch: &mut BatchVerifier<R>,
    ) -> Result<(), ThresholdError> {
        let vk = self.check_shape(key, ciphertexts)?;
        for (p, ((ct, (D, proof)), b2)) in ciphertexts
            .iter()
            .zip(&self.entries)
            .zip(alpha_bases)
            .enumerate()
        {
            if ct.alpha.is_identity() {
                if !(D.is_identity() && *proof == zero_proof()) {
                    return Err(self.invalid(p));
                }
                continue;
            }
            proof
                .batch_verify(
                    labels::PARTIAL_DECRYPTION,
                    &partial_context(key.election(), self.trustee, p),
                    &Self::statement(vk, ct, D),
                    Base::G,
                    *b2,
                    batch,
                )
                .map_err(|_| self.invalid(p))?;
        }
        Ok(())
    }

    /// Encoded length for `m` ciphertexts.
    pub fn encoded_len(m: usize) -> Option<usize> {
        m.checked_mul(Self::ENTRY_LEN)?.checked_add(6)
    }

    /// `0x05 ‖ i ‖ u32be(m) ‖ (D ‖ A₁ ‖ A₂ ‖ z)*`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(6 + Self::ENTRY_LEN * self.entries.len());
        out.push(tags::PARTIAL_DECRYPTION);
        out.push(self.trustee);
        out.extend_from_slice(&(self.entries.len() as u32).to_be_bytes());
        for (D, proof) in &self.entries {
            out.extend_from_slice(D.compress().as_bytes());
            out.extend_from_slice(&proof.to_bytes());
        }
        out
    }

    /// Canonical decoding: tag, index ≥ 1, exact length `6 + 128·m`,
    /// canonical points (the identity is allowed for `D`; its proof is then
    /// judged by [`Self::verify`]) and canonical proofs.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ThresholdError> {
        const WHAT: &str = "partial decryption";
        let mut r = Reader::new(bytes, WHAT);
        expect_tag(&mut r, tags::PARTIAL_DECRYPTION, WHAT)?;
        let trustee = r.bytes(1)?[0];
        if trustee == 0 {
            return Err(DecodeError::OutOfRange {
                what: WHAT,
                detail: "trustee indices start at 1",
            }
            .into());
        }
        let m = r.u32()? as usize;
        let expected = Self::encoded_len(m).ok_or(DecodeError::OutOfRange {
            what: WHAT,
            detail: "entry count overflows",
        })?;
        crate::keys::exact_len(bytes, expected, WHAT)?;
        let mut entries = Vec::with_capacity(m);
        for _ in 0..m {
            let D = r.point()?;
            let proof = ChaumPedersenProof::from_bytes(r.bytes(ChaumPedersenProof::LEN)?)?;
            entries.push((D, proof));
        }
        r.finish()?;
        Ok(Self { trustee, entries })
    }
}

/// Verifies many partial decryptions of the same ciphertexts
/// (`spec/threshold.md` §6.4): shape checks, then one batch over all proofs
/// (each `α_p` is a shared base), and only if the batch fails, one by one.
/// Result `k` is for `partials[k]`; a second partial from the same trustee is
/// `DuplicatePartial`. Batch weights come from the OS RNG.
pub fn verify_partials(
    key: &ThresholdPublicKey,
    ciphertexts: &[Ciphertext],
    partials: &[PartialDecryption],
) -> Vec<Result<(), ThresholdError>> {
    let mut batch = BatchVerifier::new(OsRng);
    let bases: Vec<Base> = ciphertexts
        .iter()
        .map(|c| {
            if c.alpha.is_identity() {
                Base::Point(c.alpha)
            } else {
                Base::Shared(batch.register(c.alpha))
            }
        })
        .collect();
    let mut seen = BTreeSet::new();
    let mut results: Vec<Result<(), ThresholdError>> = partials
        .iter()
        .map(|pd| {
            if !seen.insert(pd.trustee) {
                return Err(ThresholdError::DuplicatePartial {
                    trustee: pd.trustee,
                });
            }
            pd.batch_verify_with(key, ciphertexts, &bases, &mut batch)
        })
        .collect();
    if !batch.vartime_verify() {
        for (res, pd) in results.iter_mut().zip(partials) {
            if res.is_ok() {
                *res = pd.verify(key, ciphertexts);
            }
        }
    }
    results
}

/// The outcome of a threshold decryption.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decryption {
    /// `m_p` for every ciphertext.
    pub plaintexts: Vec<u64>,
    /// The trustees whose partials were combined (the `t` valid ones with
    /// the smallest indices), ascending.
    pub used: Vec<u8>,
    /// Every partial set aside, with the trustee it came from and why.
    pub rejected: Vec<(u8, ThresholdError)>,
}

/// Verifies `partials`, identifies the invalid ones, and combines `t` valid
/// ones into the plaintexts `m_p ∈ [0, max]` (`spec/threshold.md` §6.3,
/// §6.4). `NotEnoughPartials` if fewer than `t` are valid;
/// `PlaintextOutOfRange` if some `m_p` is not in `[0, max]`.
pub fn combine(
    key: &ThresholdPublicKey,
    ciphertexts: &[Ciphertext],
    partials: &[PartialDecryption],
    max: u64,
) -> Result<Decryption, ThresholdError> {
    let results = verify_partials(key, ciphertexts, partials);
    let mut valid: Vec<&PartialDecryption> = Vec::new();
    let mut rejected = Vec::new();
    for (res, pd) in results.into_iter().zip(partials) {
        match res {
            Ok(()) => valid.push(pd),
            Err(e) => rejected.push((pd.trustee, e)),
        }
    }
    let t = usize::from(key.threshold());
    if valid.len() < t {
        return Err(ThresholdError::NotEnoughPartials {
            valid: valid.len(),
            threshold: key.threshold(),
        });
    }
    valid.sort_by_key(|pd| pd.trustee);
    valid.truncate(t);
    let used: Vec<u8> = valid.iter().map(|pd| pd.trustee).collect();
    let lambdas = lagrange_at_zero(&used)?;
    let mut scalars: Vec<Scalar> = lambdas.iter().map(|l| -l).collect();
    scalars.push(Scalar::ONE);
    let mut plaintexts = Vec::with_capacity(ciphertexts.len());
    for (p, ct) in ciphertexts.iter().enumerate() {
        let points = valid
            .iter()
            .map(|pd| pd.entries[p].0)
            .chain(std::iter::once(ct.beta));
        let M = RistrettoPoint::vartime_multiscalar_mul(&scalars, points);
        let m = tallyboard_crypto::dlog::vartime_dlog(&M, max)
            .ok_or(ThresholdError::PlaintextOutOfRange { position: p, max })?;
        plaintexts.push(m);
    }
    Ok(Decryption {
        plaintexts,
        used,
        rejected,
    })
}
