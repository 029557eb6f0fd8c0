//! Disjunctive Chaum–Pedersen (CDS) proof that an ElGamal ciphertext encrypts
//! a value in a small range `[0, R]` (`spec/crypto.md` §6.3).
//!
//! Statement: the election key `K`, the bound `R ≤ 64` ([`MAX_RANGE`]) and a
//! ciphertext `(α, β)`. Witness: `v ∈ [0, R]` and `r` with `α = r·G` and
//! `β = v·G + r·K`. The proof is an OR of `R + 1` Chaum–Pedersen proofs, one
//! per branch `j`, each claiming `log_G α = log_K (β − j·G)`; the prover
//! answers branch `v` honestly and simulates the others (Cramer–Damgård–
//! Schoenmakers 1994).
//!
//! ```text
//! prover:   for j ≠ v:  c_j, t_j ← random;  z_j = t_j + c_j·r
//!                       a_j = t_j·G;  b_j = t_j·K − c_j·(v − j)·G
//!           for j = v:  w ← random;  a_v = w·G;  b_v = w·K
//!                       (computed as the j ≠ v case with t_v = w)
//!           c   = Challenge("cds-range"; ctx; "G" G, "K" K, "R" R, "alpha" α, "beta" β,
//!                           then "a" a_j, "b" b_j for j = 0..R)
//!           c_v = c − Σ_{j≠v} c_j;  z_v = w + c_v·r
//! proof:    a_0 ‖ b_0 ‖ … ‖ a_R ‖ b_R ‖ c_0 ‖ … ‖ c_{R−1} ‖ z_0 ‖ … ‖ z_R
//!           ((4R + 3)·32 bytes; c_R is not sent)
//! verifier: c_R = c − Σ_{j<R} c_j, and for every j = 0..R:
//!           a_j − z_j·G + c_j·α             = 0
//!           b_j − z_j·K + c_j·β − c_j·j·G   = 0
//! ```
//!
//! Every simulated commitment is a fixed-base multiplication (`G_table()`,
//! [`PublicKey::mul`]) because the prover knows `r` (`α = r·G`). The prover
//! treats every branch alike (the honest one is the simulation formula with
//! `v − j = 0`), so its running time does not depend on the secret `v`: one
//! encryption and proof for `R = 1` costs eight fixed-base multiplications
//! and no variable-base one. The prover computes every point *halved* and
//! encodes all of them with one inversion
//! ([`EncodedPoint::batch_from_halves`]).
//!
//! The same machinery proves that a *sum* of ciphertexts, shifted by `min·G`,
//! lies in `[0, max − min]` ([`super::sum::SumRangeProof`], `spec/crypto.md`
//! §6.4.2): the equations then carry a shift `s` (`β` replaced by
//! `β − s·G`), which this module's internal functions take as a parameter.

use std::sync::OnceLock;

use curve25519_dalek::constants::RISTRETTO_BASEPOINT_COMPRESSED;
use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use rand_core::{CryptoRng, OsRng, RngCore};
use subtle::{ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroize;

use crate::batch::{Base, BatchVerifier};
use crate::elgamal::{EncodedCiphertext, Nonce, PublicKey};
use crate::encoding::{half, EncodedPoint, Reader, ELEMENT_LEN};
use crate::error::{DecodeError, ProofError};
use crate::generators::{G_table, G};
use crate::transcript::{labels, ProofContext, ProofTranscript};

const NAME: &str = "cds-range";

/// The largest supported bound `R` of a range `[0, R]`. Larger ranges are
/// refused with [`ProofError::RangeTooLarge`]; they use bulletproofs
/// (`spec/range-proofs.md`).
pub const MAX_RANGE: u64 = 64;

/// Refuses `R > MAX_RANGE`.
pub(crate) fn check_range(R: u64) -> Result<usize, ProofError> {
    if R > MAX_RANGE {
        return Err(ProofError::RangeTooLarge {
            max: MAX_RANGE,
            got: R,
        });
    }
    Ok(R as usize)
}

/// `(j/2)·G` for `j = 0..=MAX_RANGE`: the halved plaintext term of an
/// encryption of a small value.
fn half_multiples_of_G() -> &'static [RistrettoPoint] {
    static T: OnceLock<Vec<RistrettoPoint>> = OnceLock::new();
    T.get_or_init(|| {
        let h = G() * half();
        let mut acc = RistrettoPoint::default();
        let mut v = Vec::with_capacity(MAX_RANGE as usize + 1);
        for _ in 0..=MAX_RANGE {
            v.push(acc);
            acc += h;
        }
        v
    })
}

/// The halves `(½·α, ½·β)` of the encryption of `v ∈ [0, R]` under `r`
/// (two fixed-base multiplications; `½v·G` is selected from a table in
/// constant time, scanning all `R + 1` entries).
pub(crate) fn encrypt_halves(
    pk: &PublicKey,
    R: usize,
    v: usize,
    r: &Scalar,
) -> (RistrettoPoint, RistrettoPoint) {
    let mut rh = r * half();
    let alpha = G_table() * &rh;
    let mut vG = RistrettoPoint::default();
    for (j, p) in half_multiples_of_G().iter().take(R + 1).enumerate() {
        vG.conditional_assign(p, (j as u64).ct_eq(&(v as u64)));
    }
    let beta = vG + pk.mul(&rh);
    rh.zeroize();
    vG.zeroize();
    (alpha, beta)
}

/// Canonical bytes of `G`.
pub(crate) fn g_bytes() -> &'static [u8; 32] {
    RISTRETTO_BASEPOINT_COMPRESSED.as_bytes()
}

/// A CDS range proof in commitment form. Fields are private: a proof is made
/// by [`CdsRangeProof::prove`] or decoded by [`CdsRangeProof::from_bytes`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CdsRangeProof {
    /// `(a_j, b_j)` for `j = 0..=R`.
    commitments: Vec<(EncodedPoint, EncodedPoint)>,
    /// `c_0 … c_{R−1}`.
    challenges: Vec<Scalar>,
    /// `z_0 … z_R`.
    responses: Vec<Scalar>,
}

/// The prover's secret state between its commitments and its responses.
///
/// The prover runs in time independent of the secret value `v`: every
/// branch draws `(c_j, t_j)` and computes `a_j = t_j·G`,
/// `b_j = t_j·K − c_j·(v − j)·G` — for `j = v` this is the honest
/// commitment `(w·G, w·K)` with `w = t_v` (the factor `v − j` vanishes) —
/// and the real branch is selected with constant-time conditional moves.
pub(crate) struct CdsProver {
    v: u64,
    r: Scalar,
    /// `c_j` (for `j = v`, replaced by `c − Σ_{j≠v} c_j` at the end).
    c: Vec<Scalar>,
    /// `t_j` (secret: `t_j = z_j − c_j·r`; `t_v` is the honest nonce `w`).
    t: Vec<Scalar>,
}

impl Drop for CdsProver {
    fn drop(&mut self) {
        self.v.zeroize();
        self.r.zeroize();
        self.t.zeroize();
        self.c.zeroize();
    }
}

impl CdsProver {
    /// Draws the prover's randomness for `v ∈ [0, R]` (caller-checked) and
    /// appends the `2(R+1)` halved commitments `½a_0, ½b_0, …, ½a_R, ½b_R`
    /// to `halves`. Three fixed-base multiplications per branch.
    pub(crate) fn commit<RNG: RngCore + CryptoRng>(
        pk: &PublicKey,
        R: usize,
        v: usize,
        r: &Scalar,
        rng: &mut RNG,
        halves: &mut Vec<RistrettoPoint>,
    ) -> Self {
        let h = half();
        let mut state = Self {
            v: v as u64,
            r: *r,
            c: Vec::with_capacity(R + 1),
            t: Vec::with_capacity(R + 1),
        };
        let mut v_h = Scalar::from(v as u64) * h;
        for j in 0..=R {
            let c_j = crate::random_scalar(rng);
            let t_j = crate::random_scalar(rng);
            let mut th = t_j * h;
            let mut g_coef = -(c_j * (v_h - Scalar::from(j as u64) * h));
            halves.push(G_table() * &th);
            halves.push(pk.mul(&th) + G_table() * &g_coef);
            th.zeroize();
            g_coef.zeroize();
            state.c.push(c_j);
            state.t.push(t_j);
        }
        v_h.zeroize();
        state
    }

    /// Completes the proof with the challenge `c` drawn after the commitments.
    pub(crate) fn respond(
        self,
        commitments: Vec<(EncodedPoint, EncodedPoint)>,
        c: &Scalar,
    ) -> CdsRangeProof {
        let R = self.c.len() - 1;
        let mut others = Scalar::ZERO;
        for (j, c_j) in self.c.iter().enumerate() {
            let is_real = (j as u64).ct_eq(&self.v);
            others += Scalar::conditional_select(c_j, &Scalar::ZERO, is_real);
        }
        let c_v = c - others;
        let mut challenges = Vec::with_capacity(R + 1);
        let mut responses = Vec::with_capacity(R + 1);
        for (j, (c_j, t_j)) in self.c.iter().zip(&self.t).enumerate() {
            let is_real = (j as u64).ct_eq(&self.v);
            let c_j = Scalar::conditional_select(c_j, &c_v, is_real);
            responses.push(t_j + c_j * self.r);
            challenges.push(c_j);
        }
        challenges.truncate(R);
        CdsRangeProof {
            commitments,
            challenges,
            responses,
        }
    }
}

/// Pairs consecutive encoded points as `(a_j, b_j)`.
pub(crate) fn pair_up(points: &[EncodedPoint]) -> Vec<(EncodedPoint, EncodedPoint)> {
    points.chunks_exact(2).map(|p| (p[0], p[1])).collect()
}

/// The transcript of an option proof up to its commitments
/// (`spec/crypto.md` §6.3): `"G" G, "K" K, "R" R, "alpha" α, "beta" β`.
pub(crate) fn option_statement(
    ctx: &ProofContext,
    pk: &PublicKey,
    R: u64,
    ct: &EncodedCiphertext,
) -> ProofTranscript {
    statement_after(ProofTranscript::new(labels::CDS_RANGE, ctx), pk, R, ct)
}

/// [`option_statement`] continuing `t`, a transcript already bound to the
/// protocol and context (e.g. from a shared prefix).
pub(crate) fn statement_after(
    mut t: ProofTranscript,
    pk: &PublicKey,
    R: u64,
    ct: &EncodedCiphertext,
) -> ProofTranscript {
    t.append_message(labels::MSG_G, g_bytes());
    t.append_message(labels::MSG_K, &pk.to_bytes());
    t.append_u64(labels::MSG_RANGE, R);
    t.append_message(labels::MSG_ALPHA, ct.alpha().as_bytes());
    t.append_message(labels::MSG_BETA, ct.beta().as_bytes());
    t
}

/// The statement of the proof about an implied ciphertext
/// `(−Σ α_i, L·G − Σ β_i)` (`spec/crypto.md` §8.2), continuing `t`:
/// `"G" G, "K" K, "R" R, "L" L, "n" (number of sent ciphertexts)`, then
/// `"alpha" α_i, "beta" β_i` for every sent ciphertext — which determine
/// the implied one without compressing it.
pub(crate) fn implied_statement_after(
    mut t: ProofTranscript,
    pk: &PublicKey,
    R: u64,
    L: u64,
    sent: &[EncodedCiphertext],
) -> ProofTranscript {
    t.append_message(labels::MSG_G, g_bytes());
    t.append_message(labels::MSG_K, &pk.to_bytes());
    t.append_u64(labels::MSG_RANGE, R);
    t.append_u64(labels::MSG_SUM, L);
    t.append_u64(labels::MSG_COUNT, sent.len() as u64);
    for ct in sent {
        t.append_message(labels::MSG_ALPHA, ct.alpha().as_bytes());
        t.append_message(labels::MSG_BETA, ct.beta().as_bytes());
    }
    t
}

/// Absorbs `"a" a_j, "b" b_j` for `j = 0..R` and draws the challenge.
pub(crate) fn commitments_challenge(
    mut t: ProofTranscript,
    commitments: &[(EncodedPoint, EncodedPoint)],
) -> Scalar {
    for (a, b) in commitments {
        t.append_message(labels::MSG_CDS_A, a.as_bytes());
        t.append_message(labels::MSG_CDS_B, b.as_bytes());
    }
    t.challenge_scalar()
}

fn check_ciphertext(ct: &EncodedCiphertext) -> Result<(), ProofError> {
    if ct.alpha().is_identity() {
        return Err(ProofError::InvalidStatement("cds-range: identity alpha"));
    }
    Ok(())
}

impl CdsRangeProof {
    /// Encoded length for the range `[0, R]`: `(4R + 3)·32` bytes.
    pub const fn encoded_len(R: u64) -> usize {
        (4 * R as usize + 3) * ELEMENT_LEN
    }

    /// The bound `R` this proof is for.
    pub fn range(&self) -> u64 {
        (self.commitments.len() - 1) as u64
    }

    /// Proves that `ct` encrypts `v ∈ [0, R]` with randomness `r` under `pk`.
    /// The witness is checked against `ct` (an inconsistent one gives
    /// [`ProofError::InvalidStatement`]) and the proof is verified before it
    /// is returned.
    pub fn prove<RNG: RngCore + CryptoRng>(
        ctx: &ProofContext,
        pk: &PublicKey,
        R: u64,
        ct: &EncodedCiphertext,
        v: u64,
        r: &Nonce,
        rng: &mut RNG,
    ) -> Result<Self, ProofError> {
        let Ru = check_range(R)?;
        check_ciphertext(ct)?;
        if v > R {
            return Err(ProofError::InvalidStatement(
                "cds-range: value outside the range",
            ));
        }
        if pk.encrypt_with(v, r) != ct.ciphertext() {
            return Err(ProofError::InvalidStatement(
                "cds-range: ciphertext does not match the witness",
            ));
        }
        let mut halves = Vec::with_capacity(2 * (Ru + 1));
        let prover = CdsProver::commit(pk, Ru, v as usize, r.expose_scalar(), rng, &mut halves);
        let commitments = pair_up(&EncodedPoint::batch_from_halves(&halves));
        let c = commitments_challenge(option_statement(ctx, pk, R, ct), &commitments);
        let proof = prover.respond(commitments, &c);
        proof.verify(ctx, pk, R, ct)?;
        Ok(proof)
    }

    /// Encrypts `v ∈ [0, R]` with fresh randomness and proves it, with
    /// fixed-base multiplications only (the fast path used for ballots).
    pub fn encrypt_and_prove<RNG: RngCore + CryptoRng>(
        ctx: &ProofContext,
        pk: &PublicKey,
        R: u64,
        v: u64,
        rng: &mut RNG,
    ) -> Result<(EncodedCiphertext, Nonce, Self), ProofError> {
        let Ru = check_range(R)?;
        if v > R {
            return Err(ProofError::InvalidStatement(
                "cds-range: value outside the range",
            ));
        }
        let r = Nonce::from_scalar(crate::random_scalar(rng));
        let (ah, bh) = encrypt_halves(pk, Ru, v as usize, r.expose_scalar());
        let mut halves = vec![ah, bh];
        let prover = CdsProver::commit(pk, Ru, v as usize, r.expose_scalar(), rng, &mut halves);
        let enc = EncodedPoint::batch_from_halves(&halves);
        let ct = EncodedCiphertext::from_parts(enc[0], enc[1]);
        let commitments = pair_up(&enc[2..]);
        let c = commitments_challenge(option_statement(ctx, pk, R, &ct), &commitments);
        let proof = prover.respond(commitments, &c);
        Ok((ct, r, proof))
    }

    /// The Fiat–Shamir challenge for `transcript` (statement absorbed).
    pub(crate) fn challenge_after(&self, transcript: ProofTranscript) -> Scalar {
        commitments_challenge(transcript, &self.commitments)
    }

    /// Pushes the `2(R+1)` equations with the transcript challenge `c`,
    /// for `α = Σ alpha` and `β = Σ beta − shift·G` (every listed base has
    /// coefficient 1). `k` denotes the election key in `batch`.
    pub(crate) fn push_equations<RNG: RngCore + CryptoRng>(
        &self,
        c: &Scalar,
        k: Base,
        alpha: &[Base],
        beta: &[Base],
        shift: u64,
        batch: &mut BatchVerifier<RNG>,
    ) {
        self.push_signed_equations(c, k, alpha, beta, false, &Scalar::from(shift), batch);
    }

    /// [`Self::push_equations`] for `α = ±Σ alpha`, `β = ±Σ beta − shift·G`,
    /// with the minus sign when `negate` (an implied ciphertext,
    /// `spec/crypto.md` §8.2, has `negate` and `shift = −L`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn push_signed_equations<RNG: RngCore + CryptoRng>(
        &self,
        c: &Scalar,
        k: Base,
        alpha: &[Base],
        beta: &[Base],
        negate: bool,
        shift: &Scalar,
        batch: &mut BatchVerifier<RNG>,
    ) {
        let R = self.commitments.len() - 1;
        let c_R = c - self.challenges.iter().sum::<Scalar>();
        for (j, ((a, b), z)) in self.commitments.iter().zip(&self.responses).enumerate() {
            let c_j = if j == R { c_R } else { self.challenges[j] };
            let c_s = if negate { -c_j } else { c_j };
            batch.push_equation_short(
                [(Scalar::ONE, Base::Point(*a.point())), (-z, Base::G)]
                    .into_iter()
                    .chain(alpha.iter().map(|&base| (c_s, base))),
            );
            batch.push_equation_short(
                [
                    (Scalar::ONE, Base::Point(*b.point())),
                    (-z, k),
                    (-(c_j * (shift + Scalar::from(j as u64))), Base::G),
                ]
                .into_iter()
                .chain(beta.iter().map(|&base| (c_s, base))),
            );
        }
    }

    fn check_statement(&self, R: u64, ct: &EncodedCiphertext) -> Result<(), ProofError> {
        check_range(R)?;
        check_ciphertext(ct)?;
        if self.range() != R {
            return Err(ProofError::InvalidStatement(
                "cds-range: proof is for another range",
            ));
        }
        Ok(())
    }

    /// Verifies that `ct` encrypts a value in `[0, R]` under `pk` and `ctx`.
    /// The `2(R+1)` equations are checked together with random weights from
    /// the OS RNG (`spec/crypto.md` §5.1).
    pub fn verify(
        &self,
        ctx: &ProofContext,
        pk: &PublicKey,
        R: u64,
        ct: &EncodedCiphertext,
    ) -> Result<(), ProofError> {
        let mut batch = BatchVerifier::new(OsRng);
        self.batch_verify(ctx, pk, R, ct, &mut batch)?;
        if batch.vartime_verify() {
            Ok(())
        } else {
            Err(ProofError::VerificationFailed { proof: NAME })
        }
    }

    /// Adds the verification equations to `batch` (`spec/crypto.md` §5.3).
    pub fn batch_verify<RNG: RngCore + CryptoRng>(
        &self,
        ctx: &ProofContext,
        pk: &PublicKey,
        R: u64,
        ct: &EncodedCiphertext,
        batch: &mut BatchVerifier<RNG>,
    ) -> Result<(), ProofError> {
        self.check_statement(R, ct)?;
        let c = self.challenge_after(option_statement(ctx, pk, R, ct));
        let k = Base::Shared(batch.register_public_key(pk));
        let a = Base::Shared(batch.register(*ct.alpha().point()));
        let b = Base::Shared(batch.register(*ct.beta().point()));
        self.push_equations(&c, k, &[a], &[b], 0, batch);
        Ok(())
    }

    /// `a_0 ‖ b_0 ‖ … ‖ a_R ‖ b_R ‖ c_0 ‖ … ‖ c_{R−1} ‖ z_0 ‖ … ‖ z_R`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::encoded_len(self.range()));
        self.write_bytes(&mut out);
        out
    }

    /// Appends the encoding to `out`.
    pub fn write_bytes(&self, out: &mut Vec<u8>) {
        for (a, b) in &self.commitments {
            out.extend_from_slice(a.as_bytes());
            out.extend_from_slice(b.as_bytes());
        }
        for c in &self.challenges {
            out.extend_from_slice(c.as_bytes());
        }
        for z in &self.responses {
            out.extend_from_slice(z.as_bytes());
        }
    }

    /// Canonical decoding of a proof for the range `[0, R]`: exactly
    /// `(4R + 3)·32` bytes, canonical points (identity allowed) and scalars.
    pub fn from_bytes(bytes: &[u8], R: u64) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes, "cds range proof");
        let proof = Self::read(&mut r, R)?;
        r.finish()?;
        Ok(proof)
    }

    /// Reads a proof for `[0, R]` from `r` (used by contest decoding).
    pub(crate) fn read(r: &mut Reader<'_>, R: u64) -> Result<Self, DecodeError> {
        if R > MAX_RANGE {
            return Err(DecodeError::OutOfRange {
                what: "cds range proof",
                detail: "range bound above 64",
            });
        }
        let n = R as usize + 1;
        if r.remaining() < Self::encoded_len(R) {
            return Err(DecodeError::WrongLength {
                what: "cds range proof",
                expected: Self::encoded_len(R),
                got: r.remaining(),
            });
        }
        let mut commitments = Vec::with_capacity(n);
        for _ in 0..n {
            let a = r.encoded_point()?;
            let b = r.encoded_point()?;
            commitments.push((a, b));
        }
        let challenges = (0..n - 1).map(|_| r.scalar()).collect::<Result<_, _>>()?;
        let responses = (0..n).map(|_| r.scalar()).collect::<Result<_, _>>()?;
        Ok(Self {
            commitments,
            challenges,
            responses,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elgamal::SecretKey;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn setup() -> (PublicKey, ProofContext, ChaCha20Rng) {
        let mut rng = ChaCha20Rng::from_seed([3u8; 32]);
        let pk = SecretKey::generate(&mut rng).public_key().unwrap();
        (
            pk,
            ProofContext::new([9u8; 32]).with(b"contest", b"c1"),
            rng,
        )
    }

    #[test]
    fn every_value_of_small_ranges_verifies() {
        let (pk, ctx, mut rng) = setup();
        for R in [0u64, 1, 2, 3, 5] {
            for v in 0..=R {
                let (ct, r, p) =
                    CdsRangeProof::encrypt_and_prove(&ctx, &pk, R, v, &mut rng).unwrap();
                p.verify(&ctx, &pk, R, &ct).unwrap();
                assert_eq!(ct.ciphertext(), pk.encrypt_with(v, &r));
                let q = CdsRangeProof::prove(&ctx, &pk, R, &ct, v, &r, &mut rng).unwrap();
                q.verify(&ctx, &pk, R, &ct).unwrap();
                let bytes = p.to_bytes();
                assert_eq!(bytes.len(), CdsRangeProof::encoded_len(R));
                assert_eq!(CdsRangeProof::from_bytes(&bytes, R).unwrap(), p);
                assert!(p.verify(&ctx, &pk, R + 1, &ct).is_err());
            }
        }
    }

    #[test]
    fn out_of_range_value_cannot_be_proved() {
        let (pk, ctx, mut rng) = setup();
        let (ct, r) = pk.encrypt(2, &mut rng);
        let ct = EncodedCiphertext::new(&ct);
        assert!(matches!(
            CdsRangeProof::prove(&ctx, &pk, 1, &ct, 2, &r, &mut rng),
            Err(ProofError::InvalidStatement(_))
        ));
        // Lying about the value: the witness check refuses.
        assert!(CdsRangeProof::prove(&ctx, &pk, 1, &ct, 1, &r, &mut rng).is_err());
        assert!(matches!(
            CdsRangeProof::encrypt_and_prove(&ctx, &pk, 65, 0, &mut rng),
            Err(ProofError::RangeTooLarge { max: 64, got: 65 })
        ));
        assert!(matches!(
            CdsRangeProof::from_bytes(&[], 65),
            Err(DecodeError::OutOfRange { .. })
        ));
    }

    #[test]
    fn max_range_works() {
        let (pk, ctx, mut rng) = setup();
        let (ct, _, p) = CdsRangeProof::encrypt_and_prove(&ctx, &pk, 64, 37, &mut rng).unwrap();
        p.verify(&ctx, &pk, 64, &ct).unwrap();
    }
}
