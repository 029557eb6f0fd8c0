//! Schnorr proof of knowledge of a discrete logarithm (`spec/crypto.md` §6.1).
//!
//! Statement: base `B`, public `Y`. Witness: `x` with `Y = x·B`.
//!
//! ```text
//! prover:   w ← random;  A = w·B
//!           c = Challenge(transcript ‖ "B" B ‖ "Y" Y ‖ "A" A)
//!           z = w + c·x
//! proof:    A ‖ z                                  (64 bytes)
//! verifier: z·B − A − c·Y = 0
//! ```
//!
//! `Y` must not be the identity; `B` must not be the identity.

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroize;

use crate::batch::{Base, BatchVerifier};
use crate::encoding::Reader;
use crate::error::{DecodeError, ProofError};
use crate::transcript::{labels, ProofContext, ProofTranscript};

const NAME: &str = "schnorr";

/// A Schnorr proof in commitment form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SchnorrProof {
    /// The commitment `A = w·B`.
    pub A: RistrettoPoint,
    /// The response `z = w + c·x`.
    pub z: Scalar,
}

fn challenge(
    ctx: &ProofContext,
    B: &RistrettoPoint,
    Y: &RistrettoPoint,
    A: &RistrettoPoint,
) -> Scalar {
    let mut t = ProofTranscript::new(labels::SCHNORR, ctx);
    t.append_point(b"B", B);
    t.append_point(b"Y", Y);
    t.append_point(b"A", A);
    t.challenge_scalar()
}

fn check_statement(B: &RistrettoPoint, Y: &RistrettoPoint) -> Result<(), ProofError> {
    if B.is_identity() || Y.is_identity() {
        return Err(ProofError::InvalidStatement(
            "schnorr: identity base or public point",
        ));
    }
    Ok(())
}

impl SchnorrProof {
    /// Encoded length.
    pub const LEN: usize = 64;

    /// Proves knowledge of `x` with `Y = x·B`. The proof is checked before
    /// it is returned; an inconsistent witness gives `InvalidStatement`.
    pub fn prove<R: RngCore + CryptoRng>(
        ctx: &ProofContext,
        B: &RistrettoPoint,
        x: &Scalar,
        rng: &mut R,
    ) -> Result<(RistrettoPoint, Self), ProofError> {
        let Y = x * B;
        check_statement(B, &Y)?;
        let mut w = crate::random_scalar(rng);
        let A = w * B;
        let c = challenge(ctx, B, &Y, &A);
        let z = w + c * x;
        w.zeroize();
        let proof = Self { A, z };
        proof.verify(ctx, B, &Y)?;
        Ok((Y, proof))
    }

    /// Verifies the proof for `Y = x·B` under `ctx`.
    pub fn verify(
        &self,
        ctx: &ProofContext,
        B: &RistrettoPoint,
        Y: &RistrettoPoint,
    ) -> Result<(), ProofError> {
        check_statement(B, Y)?;
        let c = challenge(ctx, B, Y, &self.A);
        let lhs =
            RistrettoPoint::vartime_multiscalar_mul([self.z, -Scalar::ONE, -c], [*B, self.A, *Y]);
        if lhs.is_identity() {
            Ok(())
        } else {
            Err(ProofError::VerificationFailed { proof: NAME })
        }
    }

    /// Adds the verification equation to `batch`.
    pub fn batch_verify<R: RngCore + CryptoRng>(
        &self,
        ctx: &ProofContext,
        B: Base,
        B_point: &RistrettoPoint,
        Y: &RistrettoPoint,
        batch: &mut BatchVerifier<R>,
    ) -> Result<(), ProofError> {
        check_statement(B_point, Y)?;
        let c = challenge(ctx, B_point, Y, &self.A);
        batch.push_equation([
            (self.z, B),
            (-Scalar::ONE, Base::Point(self.A)),
            (-c, Base::Point(*Y)),
        ]);
        Ok(())
    }

    /// `A ‖ z`.
    pub fn to_bytes(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(self.A.compress().as_bytes());
        out[32..].copy_from_slice(self.z.as_bytes());
        out
    }

    /// Canonical decoding of `A ‖ z`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() != Self::LEN {
            return Err(DecodeError::WrongLength {
                what: "schnorr proof",
                expected: Self::LEN,
                got: bytes.len(),
            });
        }
        let mut r = Reader::new(bytes, "schnorr proof");
        let A = r.point()?;
        let z = r.scalar()?;
        r.finish()?;
        Ok(Self { A, z })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generators::G;
    use rand_core::OsRng;

    fn ctx() -> ProofContext {
        ProofContext::new([7u8; 32]).with(b"trustee", b"1")
    }

    #[test]
    fn honest_verifies_and_binds_context() {
        let x = crate::random_scalar(&mut OsRng);
        let (Y, p) = SchnorrProof::prove(&ctx(), &G(), &x, &mut OsRng).unwrap();
        p.verify(&ctx(), &G(), &Y).unwrap();
        let other = ProofContext::new([7u8; 32]).with(b"trustee", b"2");
        assert!(p.verify(&other, &G(), &Y).is_err());
        let q = SchnorrProof::from_bytes(&p.to_bytes()).unwrap();
        assert_eq!(p, q);
        assert!(p.verify(&ctx(), &G(), &(Y + G())).is_err());
    }
}
