//! Chaum–Pedersen proof of equality of discrete logarithms (DLEQ)
//! (`spec/crypto.md` §6.2).
//!
//! Statement: `(B₁, Y₁, B₂, Y₂)`. Witness: `x` with `Y₁ = x·B₁` and `Y₂ = x·B₂`.
//! Used for partial decryptions (`B₁ = G`, `Y₁` = the trustee's verification
//! key, `B₂ = α`, `Y₂` = the decryption share) and for sum proofs
//! (`B₁ = G`, `B₂ = K`, showing a ciphertext encrypts a known value).
//!
//! ```text
//! prover:   w ← random;  A₁ = w·B₁;  A₂ = w·B₂
//!           c = Challenge(transcript ‖ "B1" B₁ ‖ "Y1" Y₁ ‖ "B2" B₂ ‖ "Y2" Y₂ ‖ "A1" A₁ ‖ "A2" A₂)
//!           z = w + c·x
//! proof:    A₁ ‖ A₂ ‖ z                                (96 bytes)
//! verifier: z·B₁ − A₁ − c·Y₁ = 0  and  z·B₂ − A₂ − c·Y₂ = 0
//! ```
//!
//! The protocol label is a parameter so that each use (decryption, sum) is
//! domain-separated.

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroize;

use crate::batch::{Base, BatchVerifier};
use crate::encoding::Reader;
use crate::error::{DecodeError, ProofError};
use crate::transcript::{ProofContext, ProofTranscript};

const NAME: &str = "chaum-pedersen";

/// The public statement of a DLEQ proof.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DleqStatement {
    /// First base.
    pub B1: RistrettoPoint,
    /// `x·B₁`.
    pub Y1: RistrettoPoint,
    /// Second base.
    pub B2: RistrettoPoint,
    /// `x·B₂`.
    pub Y2: RistrettoPoint,
}

/// A Chaum–Pedersen proof in commitment form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChaumPedersenProof {
    /// `w·B₁`.
    pub A1: RistrettoPoint,
    /// `w·B₂`.
    pub A2: RistrettoPoint,
    /// `w + c·x`.
    pub z: Scalar,
}

fn challenge(
    protocol: &'static [u8],
    ctx: &ProofContext,
    st: &DleqStatement,
    A1: &RistrettoPoint,
    A2: &RistrettoPoint,
) -> Scalar {
    let mut t = ProofTranscript::new(protocol, ctx);
    t.append_point(b"B1", &st.B1);
    t.append_point(b"Y1", &st.Y1);
    t.append_point(b"B2", &st.B2);
    t.append_point(b"Y2", &st.Y2);
    t.append_point(b"A1", A1);
    t.append_point(b"A2", A2);
    t.challenge_scalar()
}

fn check_statement(st: &DleqStatement) -> Result<(), ProofError> {
    if st.B1.is_identity() || st.B2.is_identity() {
        return Err(ProofError::InvalidStatement(
            "chaum-pedersen: identity base",
        ));
    }
    Ok(())
}

impl ChaumPedersenProof {
    /// Encoded length.
    pub const LEN: usize = 96;

    /// Proves `log_{B₁} Y₁ = log_{B₂} Y₂ = x`. The statement must be
    /// consistent with `x`; the proof is checked before it is returned.
    pub fn prove<R: RngCore + CryptoRng>(
        protocol: &'static [u8],
        ctx: &ProofContext,
        st: &DleqStatement,
        x: &Scalar,
        rng: &mut R,
    ) -> Result<Self, ProofError> {
        check_statement(st)?;
        let mut w = crate::random_scalar(rng);
        let A1 = w * st.B1;
        let A2 = w * st.B2;
        let c = challenge(protocol, ctx, st, &A1, &A2);
        let z = w + c * x;
        w.zeroize();
        let proof = Self { A1, A2, z };
        proof.verify(protocol, ctx, st)?;
        Ok(proof)
    }

    /// Verifies the proof under `ctx`.
    pub fn verify(
        &self,
        protocol: &'static [u8],
        ctx: &ProofContext,
        st: &DleqStatement,
    ) -> Result<(), ProofError> {
        check_statement(st)?;
        let c = challenge(protocol, ctx, st, &self.A1, &self.A2);
        let e1 = RistrettoPoint::vartime_multiscalar_mul(
            [self.z, -Scalar::ONE, -c],
            [st.B1, self.A1, st.Y1],
        );
        let e2 = RistrettoPoint::vartime_multiscalar_mul(
            [self.z, -Scalar::ONE, -c],
            [st.B2, self.A2, st.Y2],
        );
        if e1.is_identity() && e2.is_identity() {
            Ok(())
        } else {
            Err(ProofError::VerificationFailed { proof: NAME })
        }
    }

    /// Adds both verification equations to `batch`. `b1`/`b2` say how the
    /// bases are to be represented in the batch (`Base::G`, a shared base, or
    /// the point itself); they must denote `st.B1` and `st.B2`.
    pub fn batch_verify<R: RngCore + CryptoRng>(
        &self,
        protocol: &'static [u8],
        ctx: &ProofContext,
        st: &DleqStatement,
        b1: Base,
        b2: Base,
        batch: &mut BatchVerifier<R>,
    ) -> Result<(), ProofError> {
        check_statement(st)?;
        let c = challenge(protocol, ctx, st, &self.A1, &self.A2);
        batch.push_equation([
            (self.z, b1),
            (-Scalar::ONE, Base::Point(self.A1)),
            (-c, Base::Point(st.Y1)),
        ]);
        batch.push_equation([
            (self.z, b2),
            (-Scalar::ONE, Base::Point(self.A2)),
            (-c, Base::Point(st.Y2)),
        ]);
        Ok(())
    }

    /// `A₁ ‖ A₂ ‖ z`.
    pub fn to_bytes(&self) -> [u8; 96] {
        let mut out = [0u8; 96];
        out[..32].copy_from_slice(self.A1.compress().as_bytes());
        out[32..64].copy_from_slice(self.A2.compress().as_bytes());
        out[64..].copy_from_slice(self.z.as_bytes());
        out
    }

    /// Canonical decoding of `A₁ ‖ A₂ ‖ z`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() != Self::LEN {
            return Err(DecodeError::WrongLength {
                what: "chaum-pedersen proof",
                expected: Self::LEN,
                got: bytes.len(),
            });
        }
        let mut r = Reader::new(bytes, "chaum-pedersen proof");
        let A1 = r.point()?;
        let A2 = r.point()?;
        let z = r.scalar()?;
        r.finish()?;
        Ok(Self { A1, A2, z })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::BatchVerifier;
    use crate::generators::{hash_to_group, G};
    use crate::transcript::labels;
    use rand_core::OsRng;

    fn setup() -> (DleqStatement, Scalar) {
        let x = crate::random_scalar(&mut OsRng);
        let B2 = hash_to_group(b"test-base");
        (
            DleqStatement {
                B1: G(),
                Y1: x * G(),
                B2,
                Y2: x * B2,
            },
            x,
        )
    }

    #[test]
    fn honest_verifies_single_and_batched() {
        let ctx = ProofContext::new([1u8; 32]);
        let (st, x) = setup();
        let p = ChaumPedersenProof::prove(labels::PARTIAL_DECRYPTION, &ctx, &st, &x, &mut OsRng)
            .unwrap();
        p.verify(labels::PARTIAL_DECRYPTION, &ctx, &st).unwrap();
        assert!(p.verify(labels::SUM_EXACT, &ctx, &st).is_err());
        let mut b = BatchVerifier::new(OsRng);
        p.batch_verify(
            labels::PARTIAL_DECRYPTION,
            &ctx,
            &st,
            Base::G,
            Base::Point(st.B2),
            &mut b,
        )
        .unwrap();
        assert!(b.vartime_verify());
        let bad = DleqStatement {
            Y2: st.Y2 + G(),
            ..st
        };
        assert!(p.verify(labels::PARTIAL_DECRYPTION, &ctx, &bad).is_err());
        let mut b = BatchVerifier::new(OsRng);
        p.batch_verify(
            labels::PARTIAL_DECRYPTION,
            &ctx,
            &bad,
            Base::G,
            Base::Point(bad.B2),
            &mut b,
        )
        .unwrap();
        assert!(!b.vartime_verify());
    }

    #[test]
    fn prove_rejects_wrong_witness() {
        let ctx = ProofContext::new([1u8; 32]);
        let (st, x) = setup();
        assert!(ChaumPedersenProof::prove(
            labels::PARTIAL_DECRYPTION,
            &ctx,
            &st,
            &(x + Scalar::ONE),
            &mut OsRng
        )
        .is_err());
    }
}
