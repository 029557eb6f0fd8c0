//! Link proof: a ciphertext and a Pedersen commitment hold the same value
//! (`spec/range-proofs.md` §3).
//!
//! Statement: generators `G`, `H`, election key `K`, ciphertext `(α, β)`,
//! commitment `V`. Witness: `(m, r, t)` with
//!
//! ```text
//! α = r·G,    β = m·G + r·K,    V = m·G + t·H.
//! ```
//!
//! Sigma protocol in commitment form (batchable):
//!
//! ```text
//! prover:   w_m, w_r, w_t ← random
//!           A_alpha = w_r·G
//!           A_beta  = w_m·G + w_r·K
//!           A_V     = w_m·G + w_t·H
//!           c = Challenge(ProofTranscript(PEDERSEN_LINK, ctx)
//!                 ‖ "G" G ‖ "H" H ‖ "K" K ‖ "alpha" α ‖ "beta" β ‖ "V" V
//!                 ‖ "A_alpha" A_alpha ‖ "A_beta" A_beta ‖ "A_V" A_V)
//!           z_m = w_m + c·m,  z_r = w_r + c·r,  z_t = w_t + c·t
//! proof:    A_alpha ‖ A_beta ‖ A_V ‖ z_m ‖ z_r ‖ z_t        (192 bytes)
//! verifier: z_r·G − A_alpha − c·α = 0
//!           z_m·G + z_r·K − A_beta − c·β = 0
//!           z_m·G + z_t·H − A_V − c·V = 0
//! ```
//!
//! Special soundness: two accepting transcripts with `c ≠ c'` give
//! `r = Δz_r/Δc`, `m = Δz_m/Δc`, `t = Δz_t/Δc`, the same `m` in both the
//! ciphertext and the commitment. `α` and `V` must not be the identity.

use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use rand_core::{CryptoRng, RngCore};
use tallyboard_crypto::batch::{Base, BatchVerifier};
use tallyboard_crypto::elgamal::{Ciphertext, Nonce, PublicKey};
use tallyboard_crypto::encoding::Reader;
use tallyboard_crypto::generators::{self, G_table, H_table};
use tallyboard_crypto::transcript::{labels as tl, ProofContext, ProofTranscript};
use tallyboard_crypto::{DecodeError, ProofError};
use zeroize::Zeroize;

use crate::labels::msg;
use crate::pedersen::{Blinding, G_compressed, H_compressed, PedersenCommitment};

const NAME: &str = "pedersen-elgamal link";

/// A link proof in commitment form (§3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkProof {
    /// `w_r·G`.
    pub A_alpha: RistrettoPoint,
    /// `w_m·G + w_r·K`.
    pub A_beta: RistrettoPoint,
    /// `w_m·G + w_t·H`.
    pub A_V: RistrettoPoint,
    /// `w_m + c·m`.
    pub z_m: Scalar,
    /// `w_r + c·r`.
    pub z_r: Scalar,
    /// `w_t + c·t`.
    pub z_t: Scalar,
}

fn challenge(
    ctx: &ProofContext,
    pk: &PublicKey,
    ct: &Ciphertext,
    V: &PedersenCommitment,
    A_alpha: &RistrettoPoint,
    A_beta: &RistrettoPoint,
    A_V: &RistrettoPoint,
) -> Scalar {
    let mut t = ProofTranscript::new(tl::PEDERSEN_LINK, ctx);
    t.append_compressed(msg::G, &G_compressed());
    t.append_compressed(msg::H, &H_compressed());
    t.append_compressed(msg::K, &CompressedRistretto(pk.to_bytes()));
    t.append_point(msg::ALPHA, &ct.alpha);
    t.append_point(msg::BETA, &ct.beta);
    t.append_point(msg::V, V.point());
    t.append_point(msg::A_ALPHA, A_alpha);
    t.append_point(msg::A_BETA, A_beta);
    t.append_point(msg::A_V, A_V);
    t.challenge_scalar()
}

fn check_statement(ct: &Ciphertext, V: &PedersenCommitment) -> Result<(), ProofError> {
    if ct.alpha.is_identity() {
        return Err(ProofError::InvalidStatement("link: identity alpha"));
    }
    if V.point().is_identity() {
        return Err(ProofError::InvalidStatement("link: identity commitment"));
    }
    Ok(())
}

impl LinkProof {
    /// Encoded length.
    pub const LEN: usize = 192;

    /// Proves that `ct = (r·G, m·G + r·K)` and `V = m·G + t·H` hold the same
    /// `m`. The proof is checked before it is returned, so a witness that
    /// does not open the statement gives `VerificationFailed`.
    #[allow(clippy::too_many_arguments)]
    pub fn prove<R: RngCore + CryptoRng>(
        ctx: &ProofContext,
        pk: &PublicKey,
        ct: &Ciphertext,
        V: &PedersenCommitment,
        m: u64,
        r: &Nonce,
        t: &Blinding,
        rng: &mut R,
    ) -> Result<Self, ProofError> {
        let proof = Self::prove_unchecked(ctx, pk, ct, V, &Scalar::from(m), r, t, rng)?;
        proof.verify(ctx, pk, ct, V)?;
        Ok(proof)
    }

    /// The prover without its final self-check (tests use it to show that
    /// a forged witness does not verify).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn prove_unchecked<R: RngCore + CryptoRng>(
        ctx: &ProofContext,
        pk: &PublicKey,
        ct: &Ciphertext,
        V: &PedersenCommitment,
        m: &Scalar,
        r: &Nonce,
        t: &Blinding,
        rng: &mut R,
    ) -> Result<Self, ProofError> {
        check_statement(ct, V)?;
        let mut w_m = tallyboard_crypto::random_scalar(rng);
        let mut w_r = tallyboard_crypto::random_scalar(rng);
        let mut w_t = tallyboard_crypto::random_scalar(rng);
        let A_alpha = G_table() * &w_r;
        let A_beta = G_table() * &w_m + pk.mul(&w_r);
        let A_V = G_table() * &w_m + H_table() * &w_t;
        let c = challenge(ctx, pk, ct, V, &A_alpha, &A_beta, &A_V);
        let proof = Self {
            A_alpha,
            A_beta,
            A_V,
            z_m: w_m + c * m,
            z_r: w_r + c * r.expose_scalar(),
            z_t: w_t + c * t.expose_scalar(),
        };
        w_m.zeroize();
        w_r.zeroize();
        w_t.zeroize();
        Ok(proof)
    }

    /// Verifies the proof for `(ct, V)` under `pk` and `ctx`.
    pub fn verify(
        &self,
        ctx: &ProofContext,
        pk: &PublicKey,
        ct: &Ciphertext,
        V: &PedersenCommitment,
    ) -> Result<(), ProofError> {
        check_statement(ct, V)?;
        let c = challenge(ctx, pk, ct, V, &self.A_alpha, &self.A_beta, &self.A_V);
        let minus_one = -Scalar::ONE;
        let e1 = RistrettoPoint::vartime_multiscalar_mul(
            [self.z_r, minus_one, -c],
            [generators::G(), self.A_alpha, ct.alpha],
        );
        let e2 = RistrettoPoint::vartime_multiscalar_mul(
            [self.z_m, self.z_r, minus_one, -c],
            [generators::G(), *pk.point(), self.A_beta, ct.beta],
        );
        let e3 = RistrettoPoint::vartime_multiscalar_mul(
            [self.z_m, self.z_t, minus_one, -c],
            [generators::G(), generators::H(), self.A_V, *V.point()],
        );
        if e1.is_identity() && e2.is_identity() && e3.is_identity() {
            Ok(())
        } else {
            Err(ProofError::VerificationFailed { proof: NAME })
        }
    }

    /// Adds the three verification equations to `batch` (§3.3). `K` says
    /// how the election key is represented in the batch (a base registered
    /// once with [`BatchVerifier::register`], or `Base::Point`); it must
    /// denote `pk`'s point.
    pub fn batch_verify<R: RngCore + CryptoRng>(
        &self,
        ctx: &ProofContext,
        pk: &PublicKey,
        K: Base,
        ct: &Ciphertext,
        V: &PedersenCommitment,
        batch: &mut BatchVerifier<R>,
    ) -> Result<(), ProofError> {
        check_statement(ct, V)?;
        let c = challenge(ctx, pk, ct, V, &self.A_alpha, &self.A_beta, &self.A_V);
        let minus_one = -Scalar::ONE;
        batch.push_equation([
            (self.z_r, Base::G),
            (minus_one, Base::Point(self.A_alpha)),
            (-c, Base::Point(ct.alpha)),
        ]);
        batch.push_equation([
            (self.z_m, Base::G),
            (self.z_r, K),
            (minus_one, Base::Point(self.A_beta)),
            (-c, Base::Point(ct.beta)),
        ]);
        batch.push_equation([
            (self.z_m, Base::G),
            (self.z_t, Base::H),
            (minus_one, Base::Point(self.A_V)),
            (-c, Base::Point(*V.point())),
        ]);
        Ok(())
    }

    /// `A_alpha ‖ A_beta ‖ A_V ‖ z_m ‖ z_r ‖ z_t`.
    pub fn to_bytes(&self) -> [u8; 192] {
        let mut out = [0u8; 192];
        out[..32].copy_from_slice(self.A_alpha.compress().as_bytes());
        out[32..64].copy_from_slice(self.A_beta.compress().as_bytes());
        out[64..96].copy_from_slice(self.A_V.compress().as_bytes());
        out[96..128].copy_from_slice(self.z_m.as_bytes());
        out[128..160].copy_from_slice(self.z_r.as_bytes());
        out[160..].copy_from_slice(self.z_t.as_bytes());
        out
    }

    /// Canonical decoding (§3.2): exactly 192 bytes, three canonical points
    /// (the identity allowed), three canonical scalars.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() != Self::LEN {
            return Err(DecodeError::WrongLength {
                what: "link proof",
                expected: Self::LEN,
                got: bytes.len(),
            });
        }
        let mut r = Reader::new(bytes, "link proof");
        let A_alpha = r.point()?;
        let A_beta = r.point()?;
        let A_V = r.point()?;
        let z_m = r.scalar()?;
        let z_r = r.scalar()?;
        let z_t = r.scalar()?;
        r.finish()?;
        Ok(Self {
            A_alpha,
            A_beta,
            A_V,
            z_m,
            z_r,
            z_t,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;
    use tallyboard_crypto::elgamal::SecretKey;

    struct Fixture {
        ctx: ProofContext,
        pk: PublicKey,
        ct: Ciphertext,
        V: PedersenCommitment,
        proof: LinkProof,
    }

    fn fixture(seed: u8, m: u64) -> Fixture {
        let mut rng = ChaCha20Rng::from_seed([seed; 32]);
        let pk = SecretKey::generate(&mut rng).public_key().unwrap();
        let ctx = ProofContext::new([9u8; 32]).with(b"credential", b"cred-1");
        let (ct, r) = pk.encrypt(m, &mut rng);
        let t = Blinding::random(&mut rng);
        let V = PedersenCommitment::commit(m, &t);
        let proof = LinkProof::prove(&ctx, &pk, &ct, &V, m, &r, &t, &mut rng).unwrap();
        Fixture {
            ctx,
            pk,
            ct,
            V,
            proof,
        }
    }

    fn batch_accepts(f: &Fixture, proof: &LinkProof, ct: &Ciphertext, ctx: &ProofContext) -> bool {
        let mut b = BatchVerifier::new(ChaCha20Rng::from_seed([77u8; 32]));
        let k = b.register(*f.pk.point());
        proof
            .batch_verify(ctx, &f.pk, Base::Shared(k), ct, &f.V, &mut b)
            .is_ok()
            && b.vartime_verify()
    }

    #[test]
    fn honest_verifies_single_and_batched() {
        let f = fixture(1, 4_000_000_000);
        f.proof.verify(&f.ctx, &f.pk, &f.ct, &f.V).unwrap();
        assert!(batch_accepts(&f, &f.proof, &f.ct, &f.ctx));
        let mut b = BatchVerifier::new(ChaCha20Rng::from_seed([1u8; 32]));
        f.proof
            .batch_verify(
                &f.ctx,
                &f.pk,
                Base::Point(*f.pk.point()),
                &f.ct,
                &f.V,
                &mut b,
            )
            .unwrap();
        assert!(b.vartime_verify());
        assert_eq!(LinkProof::from_bytes(&f.proof.to_bytes()).unwrap(), f.proof);
    }

    #[test]
    fn forged_witness_does_not_verify() {
        let mut rng = ChaCha20Rng::from_seed([5u8; 32]);
        let pk = SecretKey::generate(&mut rng).public_key().unwrap();
        let ctx = ProofContext::new([9u8; 32]);
        let (ct, r) = pk.encrypt(101, &mut rng);
        let t = Blinding::random(&mut rng);
        // The commitment holds 100, the ciphertext 101.
        let V = PedersenCommitment::commit(100, &t);
        assert!(LinkProof::prove(&ctx, &pk, &ct, &V, 101, &r, &t, &mut rng).is_err());
        assert!(LinkProof::prove(&ctx, &pk, &ct, &V, 100, &r, &t, &mut rng).is_err());
        for m in [100u64, 101] {
            let p =
                LinkProof::prove_unchecked(&ctx, &pk, &ct, &V, &Scalar::from(m), &r, &t, &mut rng)
                    .unwrap();
            assert!(p.verify(&ctx, &pk, &ct, &V).is_err());
        }
    }

    #[test]
    fn every_bit_flip_of_the_proof_fails() {
        let f = fixture(2, 17);
        let bytes = f.proof.to_bytes();
        for i in 0..bytes.len() * 8 {
            let mut b = bytes;
            b[i / 8] ^= 1 << (i % 8);
            if let Ok(p) = LinkProof::from_bytes(&b) {
                assert!(p.verify(&f.ctx, &f.pk, &f.ct, &f.V).is_err(), "bit {i}");
                assert!(!batch_accepts(&f, &p, &f.ct, &f.ctx), "bit {i}");
            }
        }
    }

    #[test]
    fn statement_and_context_changes_fail() {
        let f = fixture(3, 42);
        let other_ctx = ProofContext::new([9u8; 32]).with(b"credential", b"cred-2");
        assert!(f.proof.verify(&other_ctx, &f.pk, &f.ct, &f.V).is_err());
        let other_election = ProofContext::new([8u8; 32]).with(b"credential", b"cred-1");
        assert!(f.proof.verify(&other_election, &f.pk, &f.ct, &f.V).is_err());
        let ct2 = Ciphertext {
            alpha: f.ct.alpha,
            beta: f.ct.beta + generators::G(),
        };
        assert!(f.proof.verify(&f.ctx, &f.pk, &ct2, &f.V).is_err());
        assert!(!batch_accepts(&f, &f.proof, &ct2, &f.ctx));
        let V2 = PedersenCommitment::from_point(f.V.point() + generators::G());
        assert!(f.proof.verify(&f.ctx, &f.pk, &f.ct, &V2).is_err());
        let pk2 = PublicKey::from_point(f.pk.point() + generators::G()).unwrap();
        assert!(f.proof.verify(&f.ctx, &pk2, &f.ct, &f.V).is_err());
        let id = PedersenCommitment::from_point(RistrettoPoint::default());
        assert!(matches!(
            f.proof.verify(&f.ctx, &f.pk, &f.ct, &id),
            Err(ProofError::InvalidStatement(_))
        ));
    }

    #[test]
    fn decoding_rejects_each_malformed_class() {
        let f = fixture(4, 0);
        let good = f.proof.to_bytes();
        assert!(matches!(
            LinkProof::from_bytes(&good[..191]),
            Err(DecodeError::WrongLength { .. })
        ));
        let mut long = good.to_vec();
        long.push(0);
        assert!(matches!(
            LinkProof::from_bytes(&long),
            Err(DecodeError::WrongLength { .. })
        ));
        for off in [0usize, 32, 64] {
            let mut b = good;
            b[off..off + 32].copy_from_slice(&[0xff; 32]);
            assert!(matches!(
                LinkProof::from_bytes(&b),
                Err(DecodeError::InvalidPoint { .. })
            ));
        }
        for off in [96usize, 128, 160] {
            let mut b = good;
            b[off..off + 32].copy_from_slice(&[0xff; 32]);
            assert!(matches!(
                LinkProof::from_bytes(&b),
                Err(DecodeError::NonCanonicalScalar { .. })
            ));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn batched_agrees_with_single(seed in any::<u8>(), m in any::<u64>(), flip in proptest::option::of(0usize..192*8)) {
            let f = fixture(seed, m);
            let mut bytes = f.proof.to_bytes();
            if let Some(i) = flip {
                bytes[i / 8] ^= 1 << (i % 8);
            }
            if let Ok(p) = LinkProof::from_bytes(&bytes) {
                let single = p.verify(&f.ctx, &f.pk, &f.ct, &f.V).is_ok();
                prop_assert_eq!(single, batch_accepts(&f, &p, &f.ct, &f.ctx));
                prop_assert_eq!(single, flip.is_none());
            } else {
                prop_assert!(flip.is_some());
            }
        }
    }
}
