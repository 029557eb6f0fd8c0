//! Trustees' long-term share-encryption keys (`spec/threshold.md` §4).
//!
//! Each trustee holds a ristretto255 key pair `(x_i, PK_i = x_i·G)`, separate
//! from the Ed25519 key that signs its board entries. Dealers encrypt shares
//! to `PK_i` (§5.3); the recipient proves Diffie–Hellman values under it when
//! it complains (§5.4).
//!
//! A trustee announces its key for an election with a Schnorr proof of
//! possession bound to the election and to its index:
//!
//! ```text
//! ctx   = ProofContext(election) ‖ ("purpose", "trustee-key-pop") ‖ ("trustee", u64be(i))
//! proof = SchnorrProof(ctx; B = G, Y = PK_i)          (protocol label "schnorr-pok")
//! ```
//!
//! The proof stops a trustee from announcing a key it does not control (for
//! instance another trustee's key, to receive a copy of its shares) and binds
//! the announcement to one election and one index.

use std::fmt;

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use rand_core::{CryptoRng, RngCore};
use tallyboard_crypto::batch::{Base, BatchVerifier};
use tallyboard_crypto::elgamal::SecretKey;
use tallyboard_crypto::encoding::Reader;
use tallyboard_crypto::generators::{G_table, G};
use tallyboard_crypto::proofs::schnorr::SchnorrProof;
use tallyboard_crypto::transcript::ProofContext;
use tallyboard_crypto::DecodeError;
use zeroize::Zeroizing;

use crate::error::ThresholdError;
use crate::labels::{self, tags};
use crate::params::expect_tag;

/// A trustee's long-term share-encryption key pair. The secret zeroizes on
/// drop; `Debug` prints only the public key.
#[derive(Clone)]
pub struct TrusteeKeyPair {
    secret: SecretKey,
    public: RistrettoPoint,
}

impl fmt::Debug for TrusteeKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrusteeKeyPair")
            .field("public", &self.public.compress())
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

impl TrusteeKeyPair {
    /// Encoded length of the secret-key file (`spec/threshold.md` §4.2).
    pub const LEN: usize = 33;

    /// A fresh key pair.
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        loop {
            let secret = SecretKey::generate(rng);
            if *secret.expose_scalar() != Scalar::ZERO {
                let public = secret.public_point();
                return Self { secret, public };
            }
        }
    }

    /// The public key `PK = x·G`.
    pub fn public_key(&self) -> &RistrettoPoint {
        &self.public
    }

    pub(crate) fn secret_scalar(&self) -> &Scalar {
        self.secret.expose_scalar()
    }

    /// Announces this key as trustee `trustee`'s key for `election`, with a
    /// proof of possession (`spec/threshold.md` §4.1).
    pub fn announce<R: RngCore + CryptoRng>(
        &self,
        election: &[u8; 32],
        trustee: u8,
        rng: &mut R,
    ) -> Result<KeyAnnouncement, ThresholdError> {
        if trustee == 0 {
            return Err(ThresholdError::InvalidParameters(
                "trustee indices start at 1",
            ));
        }
        let ctx = pop_context(election, trustee);
        let (_, pop) = SchnorrProof::prove(&ctx, &G(), self.secret.expose_scalar(), rng)
            .map_err(|_| ThresholdError::InvalidKeyAnnouncement { trustee })?;
        Ok(KeyAnnouncement {
            trustee,
            key: self.public,
            pop,
        })
    }

    /// `0x08 ‖ x` (33 bytes), for a file only its trustee can read.
    pub fn to_bytes(&self) -> Zeroizing<[u8; Self::LEN]> {
        let mut out = Zeroizing::new([0u8; Self::LEN]);
        out[0] = tags::TRUSTEE_SECRET_KEY;
        out[1..].copy_from_slice(self.secret.expose_scalar().as_bytes());
        out
    }

    /// Canonical decoding of `0x08 ‖ x`; `x` must be a canonical non-zero scalar.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ThresholdError> {
        const WHAT: &str = "trustee secret key";
        let mut r = Reader::new(bytes, WHAT);
        expect_tag(&mut r, tags::TRUSTEE_SECRET_KEY, WHAT)?;
        let x = r.scalar()?;
        r.finish()?;
        if x == Scalar::ZERO {
            return Err(DecodeError::OutOfRange {
                what: WHAT,
                detail: "secret key is zero",
            }
            .into());
        }
        let public = G_table() * &x;
        Ok(Self {
            secret: SecretKey::from_scalar(x),
            public,
        })
    }
}

/// The proof context of a key announcement (`spec/threshold.md` §4.1).
pub(crate) fn pop_context(election: &[u8; 32], trustee: u8) -> ProofContext {
    ProofContext::new(*election)
        .with(labels::CTX_PURPOSE, labels::TRUSTEE_KEY_POP)
        .with_u64(labels::CTX_TRUSTEE, u64::from(trustee))
}

/// A trustee's announcement of its long-term key for one election:
/// `0x01 ‖ i ‖ PK_i ‖ proof` (98 bytes, `spec/threshold.md` §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyAnnouncement {
    trustee: u8,
    key: RistrettoPoint,
    pop: SchnorrProof,
}

impl KeyAnnouncement {
    /// Encoded length.
    pub const LEN: usize = 98;

    /// The announcing trustee's index.
    pub fn trustee(&self) -> u8 {
        self.trustee
    }

    /// The announced public key `PK_i`.
    pub fn key(&self) -> &RistrettoPoint {
        &self.key
    }

    /// The proof of possession.
    pub fn proof(&self) -> &SchnorrProof {
        &self.pop
    }

    /// Verifies the proof of possession for `election`.
    pub fn verify(&self, election: &[u8; 32]) -> Result<(), ThresholdError> {
        self.pop
            .verify(&pop_context(election, self.trustee), &G(), &self.key)
            .map_err(|_| ThresholdError::InvalidKeyAnnouncement {
                trustee: self.trustee,
            })
    }

    /// Adds the proof-of-possession equation to `batch`.
    pub fn batch_verify<R: RngCore + CryptoRng>(
        &self,
        election: &[u8; 32],
        batch: &mut BatchVerifier<R>,
    ) -> Result<(), ThresholdError> {
        self.pop
            .batch_verify(
                &pop_context(election, self.trustee),
                Base::G,
                &G(),
                &self.key,
                batch,
            )
            .map_err(|_| ThresholdError::InvalidKeyAnnouncement {
                trustee: self.trustee,
            })
    }

    /// `0x01 ‖ i ‖ PK_i ‖ A ‖ z`.
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        out[0] = tags::KEY_ANNOUNCEMENT;
        out[1] = self.trustee;
        out[2..34].copy_from_slice(self.key.compress().as_bytes());
        out[34..].copy_from_slice(&self.pop.to_bytes());
        out
    }

    /// Canonical decoding: exact length, tag `0x01`, index ≥ 1, `PK_i` a
    /// canonical non-identity point, canonical proof.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ThresholdError> {
        const WHAT: &str = "key announcement";
        exact_len(bytes, Self::LEN, WHAT)?;
        let mut r = Reader::new(bytes, WHAT);
        expect_tag(&mut r, tags::KEY_ANNOUNCEMENT, WHAT)?;
        let trustee = r.bytes(1)?[0];
        if trustee == 0 {
            return Err(DecodeError::OutOfRange {
                what: WHAT,
                detail: "trustee indices start at 1",
            }
            .into());
        }
        let key = r.nonidentity_point()?;
        let pop = SchnorrProof::from_bytes(r.bytes(SchnorrProof::LEN)?)?;
        r.finish()?;
        Ok(Self { trustee, key, pop })
    }
}

/// `Err(WrongLength)` unless `bytes.len() == len`.
pub(crate) fn exact_len(bytes: &[u8], len: usize, what: &'static str) -> Result<(), DecodeError> {
    if bytes.len() != len {
        return Err(DecodeError::WrongLength {
            what,
            expected: len,
            got: bytes.len(),
        });
    }
    Ok(())
}
