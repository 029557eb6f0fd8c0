//! Pedersen commitments `V = m·G + t·H` (`spec/range-proofs.md` §2).
//!
//! `G` is the ristretto255 base point and `H = hash_to_group("pedersen-blinding")`
//! ([`tallyboard_crypto::generators::H`]): nobody knows `log_G H`, so `V`
//! binds `m` (computationally) and hides it (perfectly, `t` uniform).
//!
//! The blinding base is never the election key `K`: the trustees jointly
//! know `x = log_G K`, and with it `β = m·G + r·K` opens to any `m'` with
//! `r' = r + (m − m')/x`, so a range proof on `β` would prove nothing to
//! anyone who must not trust the trustees (§2.2).

use std::fmt;
use std::ops::Add;
use std::sync::OnceLock;

use curve25519_dalek::constants::RISTRETTO_BASEPOINT_COMPRESSED;
use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use rand_core::{CryptoRng, RngCore};
use subtle::ConstantTimeEq;
use tallyboard_crypto::encoding::decode_nonidentity_point;
use tallyboard_crypto::generators::{self, G_table, H_table};
use tallyboard_crypto::DecodeError;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// The compressed base point `G`.
pub(crate) fn G_compressed() -> CompressedRistretto {
    RISTRETTO_BASEPOINT_COMPRESSED
}

/// The compressed blinding generator `H`.
pub(crate) fn H_compressed() -> CompressedRistretto {
    static C: OnceLock<CompressedRistretto> = OnceLock::new();
    *C.get_or_init(|| generators::H().compress())
}

/// A commitment's blinding factor `t`. Secret (it opens the commitment);
/// zeroized on drop; `Debug` prints `[REDACTED]`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Blinding(Scalar);

impl fmt::Debug for Blinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Blinding([REDACTED])")
    }
}

impl Blinding {
    /// A uniformly random blinding factor.
    pub fn random<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        Self(tallyboard_crypto::random_scalar(rng))
    }

    /// Wraps a scalar (which the caller must treat as secret).
    pub fn from_scalar(s: Scalar) -> Self {
        Self(s)
    }

    /// Canonical decoding (used when a challenged ballot reveals its openings).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        Ok(Self(tallyboard_crypto::encoding::decode_scalar(
            bytes,
            "commitment blinding",
        )?))
    }

    /// The scalar `t`. Handle with care.
    pub fn expose_scalar(&self) -> &Scalar {
        &self.0
    }

    /// The 32-byte encoding (only to reveal a challenged ballot).
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }
}

impl Add<&Blinding> for &Blinding {
    type Output = Blinding;
    fn add(self, rhs: &Blinding) -> Blinding {
        Blinding(self.0 + rhs.0)
    }
}

/// A Pedersen commitment `V = m·G + t·H`, encoded as its 32-byte point.
/// Decoding rejects the identity (an honest commitment is never the
/// identity except with probability 2⁻²⁵²).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PedersenCommitment(RistrettoPoint);

impl PedersenCommitment {
    /// Encoded length.
    pub const LEN: usize = 32;

    /// `m·G + t·H`, constant time (fixed-base tables).
    pub fn commit(m: u64, t: &Blinding) -> Self {
        Self::commit_scalar(&Scalar::from(m), t)
    }

    /// `m·G + t·H` for a value given as a scalar.
    pub fn commit_scalar(m: &Scalar, t: &Blinding) -> Self {
        Self(G_table() * m + H_table() * &t.0)
    }

    /// Wraps a point received from elsewhere (no checks).
    pub fn from_point(p: RistrettoPoint) -> Self {
        Self(p)
    }

    /// The point `V`.
    pub fn point(&self) -> &RistrettoPoint {
        &self.0
    }

    /// The 32-byte encoding of `V`.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.compress().to_bytes()
    }

    /// Canonical decoding: a canonical, non-identity ristretto255 point (§2.1).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode_nonidentity_point(bytes, "pedersen commitment").map(Self)
    }

    /// Whether `(m, t)` opens this commitment. The recomputation and the
    /// comparison are constant time; only the verdict is revealed.
    pub fn opens(&self, m: u64, t: &Blinding) -> bool {
        Self::commit(m, t).0.ct_eq(&self.0).into()
    }
}

impl Add for PedersenCommitment {
    type Output = PedersenCommitment;
    fn add(self, rhs: PedersenCommitment) -> PedersenCommitment {
        PedersenCommitment(self.0 + rhs.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    #[test]
    fn commit_is_additive_and_round_trips() {
        let mut rng = ChaCha20Rng::from_seed([3u8; 32]);
        let (t1, t2) = (Blinding::random(&mut rng), Blinding::random(&mut rng));
        let v1 = PedersenCommitment::commit(5, &t1);
        let v2 = PedersenCommitment::commit(7, &t2);
        assert_eq!(v1 + v2, PedersenCommitment::commit(12, &(&t1 + &t2)));
        assert_eq!(PedersenCommitment::from_bytes(&v1.to_bytes()).unwrap(), v1);
        assert!(v1.opens(5, &t1));
        assert!(!v1.opens(6, &t1));
        assert_eq!(H_compressed(), generators::H().compress());
        assert_eq!(G_compressed(), generators::G().compress());
    }

    #[test]
    fn decoding_rejects_malformed() {
        assert!(matches!(
            PedersenCommitment::from_bytes(&[0u8; 32]),
            Err(DecodeError::IdentityPoint { .. })
        ));
        assert!(matches!(
            PedersenCommitment::from_bytes(&[0xffu8; 32]),
            Err(DecodeError::InvalidPoint { .. })
        ));
        assert!(matches!(
            PedersenCommitment::from_bytes(&[1u8; 31]),
            Err(DecodeError::WrongLength { .. })
        ));
        assert!(matches!(
            Blinding::from_bytes(&[0xffu8; 32]),
            Err(DecodeError::NonCanonicalScalar { .. })
        ));
        assert_eq!(
            format!("{:?}", Blinding::from_scalar(Scalar::ONE)),
            "Blinding([REDACTED])"
        );
    }
}
