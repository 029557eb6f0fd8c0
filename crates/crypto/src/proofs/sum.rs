//! Sum proofs: the homomorphic sum of a contest's ciphertexts encrypts
//! exactly `L`, or a value in `[min, max]` (`spec/crypto.md` §6.4).
//!
//! Statement: the election key `K` and **every** ciphertext
//! `(α_1, β_1) … (α_n, β_n)` of the contest (not just their sum), plus `L`
//! or `(min, max)`. Witness: `r = Σ r_i` (and the total `v = Σ v_i`). Write
//! `A = Σ α_i`, `B = Σ β_i`.
//!
//! **Exact sum** (protocol label `"sum-exact"`, §6.4.1): a Chaum–Pedersen
//! proof that `log_G A = log_K (B − L·G)`.
//!
//! ```text
//! prover:   w ← random;  A₁ = w·G;  A₂ = w·K
//!           c = Challenge("sum-exact"; ctx; "G" G, "K" K, "n" n,
//!                         "alpha" α_i, "beta" β_i for i = 1..n, "L" L, "A1" A₁, "A2" A₂)
//!           z = w + c·r
//! proof:    A₁ ‖ A₂ ‖ z                                       (96 bytes)
//! verifier: A₁ − z·G + c·Σα_i          = 0
//!           A₂ − z·K + c·Σβ_i − c·L·G  = 0
//! ```
//!
//! **Range sum** (protocol label `"sum-range"`, §6.4.2): a CDS proof
//! ([`super::cds_range`]) that `(A, B − min·G)` encrypts a value in
//! `[0, max − min]`, with `max − min ≤ 64`; its transcript absorbs
//! `"G" G, "K" K, "n" n, "alpha" α_i, "beta" β_i (i = 1..n), "min" min,
//! "max" max`, then the commitments as in §6.3. Branch `j`'s equations are
//! `a_j − z_j·G + c_j·Σα_i = 0` and `b_j − z_j·K + c_j·Σβ_i − c_j·(min + j)·G = 0`.
//!
//! In a batch, the sum's coefficients are added to the individual `α_i`,
//! `β_i` that the option proofs already use: no point `A` or `B` is formed.

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use rand_core::{CryptoRng, OsRng, RngCore};
use zeroize::Zeroize;

use super::cds_range::{self, g_bytes, CdsProver, CdsRangeProof};
use crate::batch::{Base, BatchVerifier};
use crate::elgamal::{Ciphertext, EncodedCiphertext, Nonce, PublicKey};
use crate::encoding::{half, EncodedPoint, Reader};
use crate::error::{DecodeError, ProofError};
use crate::generators::G_table;
use crate::transcript::{labels, ProofContext, ProofTranscript};

/// The transcript of a sum proof up to its protocol-specific parameters:
/// `"G" G, "K" K, "n" n, ("alpha" α_i, "beta" β_i)_{i=1..n}`.
pub(crate) fn sum_statement(
    protocol: &'static [u8],
    ctx: &ProofContext,
    pk: &PublicKey,
    cts: &[EncodedCiphertext],
) -> ProofTranscript {
    let mut t = ProofTranscript::new(protocol, ctx);
    t.append_message(labels::MSG_G, g_bytes());
    t.append_message(labels::MSG_K, &pk.to_bytes());
    t.append_u64(labels::MSG_COUNT, cts.len() as u64);
    for ct in cts {
        t.append_message(labels::MSG_ALPHA, ct.alpha().as_bytes());
        t.append_message(labels::MSG_BETA, ct.beta().as_bytes());
    }
    t
}

fn check_ciphertexts(cts: &[EncodedCiphertext]) -> Result<(), ProofError> {
    if cts.is_empty() {
        return Err(ProofError::InvalidStatement("sum: no ciphertexts"));
    }
    if cts.iter().any(|ct| ct.alpha().is_identity()) {
        return Err(ProofError::InvalidStatement("sum: identity alpha"));
    }
    Ok(())
}

fn sum_nonces(nonces: &[Nonce]) -> Scalar {
    nonces.iter().map(|r| *r.expose_scalar()).sum()
}

fn check_witness(
    pk: &PublicKey,
    cts: &[EncodedCiphertext],
    nonces: &[Nonce],
    total: u64,
) -> Result<Nonce, ProofError> {
    if nonces.len() != cts.len() {
        return Err(ProofError::InvalidStatement(
            "sum: one nonce per ciphertext is required",
        ));
    }
    let r = Nonce::from_scalar(sum_nonces(nonces));
    let sum: Ciphertext = cts.iter().map(|c| c.ciphertext()).sum();
    if pk.encrypt_with(total, &r) != sum {
        return Err(ProofError::InvalidStatement(
            "sum: ciphertexts do not match the witness",
        ));
    }
    Ok(r)
}

fn register_all<RNG: RngCore + CryptoRng>(
    cts: &[EncodedCiphertext],
    batch: &mut BatchVerifier<RNG>,
) -> (Vec<Base>, Vec<Base>) {
    cts.iter()
        .map(|ct| {
            (
                Base::Shared(batch.register(*ct.alpha().point())),
                Base::Shared(batch.register(*ct.beta().point())),
            )
        })
        .unzip()
}

fn finish_local<RNG: RngCore + CryptoRng>(
    batch: BatchVerifier<RNG>,
    name: &'static str,
) -> Result<(), ProofError> {
    if batch.vartime_verify() {
        Ok(())
    } else {
        Err(ProofError::VerificationFailed { proof: name })
    }
}

// ---------------------------------------------------------------- exact sum

/// Proof that the sum of the ciphertexts encrypts exactly `L`
/// (`spec/crypto.md` §6.4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SumExactProof {
    A1: EncodedPoint,
    A2: EncodedPoint,
    z: Scalar,
}

/// The exact-sum prover's state between commitment and response.
pub(crate) struct SumExactProver {
    w: Scalar,
    r: Scalar,
}

impl Drop for SumExactProver {
    fn drop(&mut self) {
        self.w.zeroize();
        self.r.zeroize();
    }
}

impl SumExactProver {
    /// Draws `w` and appends `½A₁, ½A₂` to `halves`.
    pub(crate) fn commit<RNG: RngCore + CryptoRng>(
        pk: &PublicKey,
        r: &Scalar,
        rng: &mut RNG,
        halves: &mut Vec<RistrettoPoint>,
    ) -> Self {
        let w = crate::random_scalar(rng);
        let mut wh = w * half();
        halves.push(G_table() * &wh);
        halves.push(pk.mul(&wh));
        wh.zeroize();
        Self { w, r: *r }
    }

    pub(crate) fn respond(self, A1: EncodedPoint, A2: EncodedPoint, c: &Scalar) -> SumExactProof {
        SumExactProof {
            A1,
            A2,
            z: self.w + c * self.r,
        }
    }
}

pub(crate) fn exact_challenge(
    ctx: &ProofContext,
    pk: &PublicKey,
    cts: &[EncodedCiphertext],
    L: u64,
    A1: &EncodedPoint,
    A2: &EncodedPoint,
) -> Scalar {
    let mut t = sum_statement(labels::SUM_EXACT, ctx, pk, cts);
    t.append_u64(labels::MSG_SUM, L);
    t.append_message(labels::MSG_A1, A1.as_bytes());
    t.append_message(labels::MSG_A2, A2.as_bytes());
    t.challenge_scalar()
}

impl SumExactProof {
    /// Encoded length.
    pub const LEN: usize = 96;

    /// Proves that `Σ cts` encrypts `L`, given every ciphertext's nonce. The
    /// witness is checked, and the proof verified, before it is returned.
    pub fn prove<RNG: RngCore + CryptoRng>(
        ctx: &ProofContext,
        pk: &PublicKey,
        cts: &[EncodedCiphertext],
        L: u64,
        nonces: &[Nonce],
        rng: &mut RNG,
    ) -> Result<Self, ProofError> {
        check_ciphertexts(cts)?;
        let r = check_witness(pk, cts, nonces, L)?;
        let mut halves = Vec::with_capacity(2);
        let prover = SumExactProver::commit(pk, r.expose_scalar(), rng, &mut halves);
        let enc = EncodedPoint::batch_from_halves(&halves);
        let c = exact_challenge(ctx, pk, cts, L, &enc[0], &enc[1]);
        let proof = prover.respond(enc[0], enc[1], &c);
        proof.verify(ctx, pk, cts, L)?;
        Ok(proof)
    }

    /// Pushes the two equations with challenge `c` (bases as in
    /// [`CdsRangeProof`]'s internal `push_equations`).
    pub(crate) fn push_equations<RNG: RngCore + CryptoRng>(
        &self,
        c: &Scalar,
        k: Base,
        alpha: &[Base],
        beta: &[Base],
        L: u64,
        batch: &mut BatchVerifier<RNG>,
    ) {
        batch.push_equation_short(
            [
                (Scalar::ONE, Base::Point(*self.A1.point())),
                (-self.z, Base::G),
            ]
            .into_iter()
            .chain(alpha.iter().map(|&b| (*c, b))),
        );
        batch.push_equation_short(
            [
                (Scalar::ONE, Base::Point(*self.A2.point())),
                (-self.z, k),
                (-(c * Scalar::from(L)), Base::G),
            ]
            .into_iter()
            .chain(beta.iter().map(|&b| (*c, b))),
        );
    }

    /// The Fiat–Shamir challenge of this proof for the statement.
    pub(crate) fn challenge(
        &self,
        ctx: &ProofContext,
        pk: &PublicKey,
        cts: &[EncodedCiphertext],
        L: u64,
    ) -> Scalar {
        exact_challenge(ctx, pk, cts, L, &self.A1, &self.A2)
    }

    /// Verifies that `Σ cts` encrypts `L` under `pk` and `ctx`.
    pub fn verify(
        &self,
        ctx: &ProofContext,
        pk: &PublicKey,
        cts: &[EncodedCiphertext],
        L: u64,
    ) -> Result<(), ProofError> {
        let mut batch = BatchVerifier::new(OsRng);
        self.batch_verify(ctx, pk, cts, L, &mut batch)?;
        finish_local(batch, "sum-exact")
    }

    /// Adds the two verification equations to `batch`.
    pub fn batch_verify<RNG: RngCore + CryptoRng>(
        &self,
        ctx: &ProofContext,
        pk: &PublicKey,
        cts: &[EncodedCiphertext],
        L: u64,
        batch: &mut BatchVerifier<RNG>,
    ) -> Result<(), ProofError> {
        check_ciphertexts(cts)?;
        let c = self.challenge(ctx, pk, cts, L);
        let k = Base::Shared(batch.register_public_key(pk));
        let (alpha, beta) = register_all(cts, batch);
        self.push_equations(&c, k, &alpha, &beta, L, batch);
        Ok(())
    }

    /// `A₁ ‖ A₂ ‖ z`.
    pub fn to_bytes(&self) -> [u8; 96] {
        let mut out = [0u8; 96];
        out[..32].copy_from_slice(self.A1.as_bytes());
        out[32..64].copy_from_slice(self.A2.as_bytes());
        out[64..].copy_from_slice(self.z.as_bytes());
        out
    }

    /// Canonical decoding of `A₁ ‖ A₂ ‖ z` (exactly 96 bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes, "sum-exact proof");
        let p = Self::read(&mut r)?;
        r.finish()?;
        Ok(p)
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        if r.remaining() < Self::LEN {
            return Err(DecodeError::WrongLength {
                what: "sum-exact proof",
                expected: Self::LEN,
                got: r.remaining(),
            });
        }
        let A1 = r.encoded_point()?;
        let A2 = r.encoded_point()?;
        let z = r.scalar()?;
        Ok(Self { A1, A2, z })
    }
}

// ---------------------------------------------------------------- range sum

/// Proof that the sum of the ciphertexts encrypts a value in `[min, max]`,
/// `max − min ≤ 64` (`spec/crypto.md` §6.4.2). Encoded as a CDS proof for
/// `[0, max − min]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SumRangeProof(CdsRangeProof);

/// Checks `min ≤ max`, `max − min ≤ 64`; returns `max − min`.
pub(crate) fn check_bounds(min: u64, max: u64) -> Result<u64, ProofError> {
    if min > max {
        return Err(ProofError::InvalidStatement("sum-range: min above max"));
    }
    let width = max - min;
    cds_range::check_range(width)?;
    Ok(width)
}

pub(crate) fn range_statement(
    ctx: &ProofContext,
    pk: &PublicKey,
    cts: &[EncodedCiphertext],
    min: u64,
    max: u64,
) -> ProofTranscript {
    let mut t = sum_statement(labels::SUM_RANGE, ctx, pk, cts);
    t.append_u64(labels::MSG_MIN, min);
    t.append_u64(labels::MSG_MAX, max);
    t
}

impl SumRangeProof {
    /// Encoded length for bounds `[min, max]`.
    pub const fn encoded_len(min: u64, max: u64) -> usize {
        CdsRangeProof::encoded_len(max - min)
    }

    /// `max − min`, the width this proof is for.
    pub fn width(&self) -> u64 {
        self.0.range()
    }

    pub(crate) fn from_cds(p: CdsRangeProof) -> Self {
        Self(p)
    }

    /// Proves that `Σ cts` encrypts `total ∈ [min, max]`, given every
    /// ciphertext's nonce. The witness is checked, and the proof verified,
    /// before it is returned.
    #[allow(clippy::too_many_arguments)]
    pub fn prove<RNG: RngCore + CryptoRng>(
        ctx: &ProofContext,
        pk: &PublicKey,
        cts: &[EncodedCiphertext],
        min: u64,
        max: u64,
        total: u64,
        nonces: &[Nonce],
        rng: &mut RNG,
    ) -> Result<Self, ProofError> {
        let width = check_bounds(min, max)?;
        check_ciphertexts(cts)?;
        if total < min || total > max {
            return Err(ProofError::InvalidStatement(
                "sum-range: total outside the range",
            ));
        }
        let r = check_witness(pk, cts, nonces, total)?;
        let mut halves = Vec::with_capacity(2 * (width as usize + 1));
        let prover = CdsProver::commit(
            pk,
            width as usize,
            (total - min) as usize,
            r.expose_scalar(),
            rng,
            &mut halves,
        );
        let commitments = cds_range::pair_up(&EncodedPoint::batch_from_halves(&halves));
        let c =
            cds_range::commitments_challenge(range_statement(ctx, pk, cts, min, max), &commitments);
        let proof = Self(prover.respond(commitments, &c));
        proof.verify(ctx, pk, cts, min, max)?;
        Ok(proof)
    }

    pub(crate) fn challenge(
        &self,
        ctx: &ProofContext,
        pk: &PublicKey,
        cts: &[EncodedCiphertext],
        min: u64,
        max: u64,
    ) -> Scalar {
        self.0
            .challenge_after(range_statement(ctx, pk, cts, min, max))
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn push_equations<RNG: RngCore + CryptoRng>(
        &self,
        c: &Scalar,
        k: Base,
        alpha: &[Base],
        beta: &[Base],
        min: u64,
        batch: &mut BatchVerifier<RNG>,
    ) {
        self.0.push_equations(c, k, alpha, beta, min, batch);
    }

    fn check_statement(
        &self,
        cts: &[EncodedCiphertext],
        min: u64,
        max: u64,
    ) -> Result<(), ProofError> {
        let width = check_bounds(min, max)?;
        check_ciphertexts(cts)?;
        if self.width() != width {
            return Err(ProofError::InvalidStatement(
                "sum-range: proof is for another width",
            ));
        }
        Ok(())
    }

    /// Verifies that `Σ cts` encrypts a value in `[min, max]`.
    pub fn verify(
        &self,
        ctx: &ProofContext,
        pk: &PublicKey,
        cts: &[EncodedCiphertext],
        min: u64,
        max: u64,
    ) -> Result<(), ProofError> {
        let mut batch = BatchVerifier::new(OsRng);
        self.batch_verify(ctx, pk, cts, min, max, &mut batch)?;
        finish_local(batch, "sum-range")
    }

    /// Adds the `2(max − min + 1)` verification equations to `batch`.
    pub fn batch_verify<RNG: RngCore + CryptoRng>(
        &self,
        ctx: &ProofContext,
        pk: &PublicKey,
        cts: &[EncodedCiphertext],
        min: u64,
        max: u64,
        batch: &mut BatchVerifier<RNG>,
    ) -> Result<(), ProofError> {
        self.check_statement(cts, min, max)?;
        let c = self.challenge(ctx, pk, cts, min, max);
        let k = Base::Shared(batch.register_public_key(pk));
        let (alpha, beta) = register_all(cts, batch);
        self.push_equations(&c, k, &alpha, &beta, min, batch);
        Ok(())
    }

    /// The CDS encoding for `[0, max − min]` (`spec/crypto.md` §6.3).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.to_bytes()
    }

    /// Appends the encoding to `out`.
    pub fn write_bytes(&self, out: &mut Vec<u8>) {
        self.0.write_bytes(out)
    }

    /// Canonical decoding of a proof for `[min, max]`.
    pub fn from_bytes(bytes: &[u8], min: u64, max: u64) -> Result<Self, DecodeError> {
        if min > max {
            return Err(DecodeError::OutOfRange {
                what: "sum-range proof",
                detail: "min above max",
            });
        }
        Ok(Self(CdsRangeProof::from_bytes(bytes, max - min)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elgamal::SecretKey;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn setup(
        values: &[u64],
    ) -> (
        PublicKey,
        ProofContext,
        ChaCha20Rng,
        Vec<EncodedCiphertext>,
        Vec<Nonce>,
    ) {
        let mut rng = ChaCha20Rng::from_seed([5u8; 32]);
        let pk = SecretKey::generate(&mut rng).public_key().unwrap();
        let (cts, nonces) = values
            .iter()
            .map(|&v| {
                let (ct, r) = pk.encrypt(v, &mut rng);
                (EncodedCiphertext::new(&ct), r)
            })
            .unzip();
        (pk, ProofContext::new([1u8; 32]), rng, cts, nonces)
    }

    #[test]
    fn exact_sum() {
        let (pk, ctx, mut rng, cts, nonces) = setup(&[0, 1, 0, 2]);
        let p = SumExactProof::prove(&ctx, &pk, &cts, 3, &nonces, &mut rng).unwrap();
        p.verify(&ctx, &pk, &cts, 3).unwrap();
        assert!(p.verify(&ctx, &pk, &cts, 2).is_err());
        assert!(p.verify(&ctx, &pk, &cts[..3], 3).is_err());
        let mut swapped = cts.clone();
        swapped.swap(0, 1);
        // Same sum, but the statement lists every ciphertext: order matters.
        assert!(p.verify(&ctx, &pk, &swapped, 3).is_err());
        assert!(SumExactProof::prove(&ctx, &pk, &cts, 2, &nonces, &mut rng).is_err());
        assert_eq!(SumExactProof::from_bytes(&p.to_bytes()).unwrap(), p);
        assert!(SumExactProof::from_bytes(&p.to_bytes()[..95]).is_err());
    }

    #[test]
    fn range_sum() {
        let (pk, ctx, mut rng, cts, nonces) = setup(&[1, 1, 0, 1]);
        for (min, max) in [(3, 3), (0, 3), (2, 5), (3, 10)] {
            let p = SumRangeProof::prove(&ctx, &pk, &cts, min, max, 3, &nonces, &mut rng).unwrap();
            p.verify(&ctx, &pk, &cts, min, max).unwrap();
            assert!(p.verify(&ctx, &pk, &cts, min + 1, max + 1).is_err());
            let q = SumRangeProof::from_bytes(&p.to_bytes(), min, max).unwrap();
            assert_eq!(p, q);
        }
        assert!(SumRangeProof::prove(&ctx, &pk, &cts, 4, 6, 3, &nonces, &mut rng).is_err());
        assert!(matches!(
            SumRangeProof::prove(&ctx, &pk, &cts, 0, 65, 3, &nonces, &mut rng),
            Err(ProofError::RangeTooLarge { .. })
        ));
    }
}
