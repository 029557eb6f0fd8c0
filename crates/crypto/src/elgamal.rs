//! Exponential ElGamal on ristretto255 (`spec/crypto.md` §1.4, §2.3).
//!
//! Under the election key `K = x·G`, a small integer `m` with randomness `r`
//! encrypts to `(α, β) = (r·G, m·G + r·K)`. Ciphertexts add componentwise,
//! which adds the plaintexts. Decryption yields `m·G = β − x·α`; the integer
//! is recovered with a bounded discrete logarithm ([`crate::dlog`]).

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Sub};

use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoBasepointTable, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{Identity, IsIdentity};
use rand_core::{CryptoRng, RngCore};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::encoding::{EncodedPoint, Reader};
use crate::error::DecodeError;
use crate::generators::G_table;

/// The election public key `K`, with a precomputed table for fast
/// constant-time fixed-base multiplication.
#[derive(Clone)]
pub struct PublicKey {
    point: RistrettoPoint,
    compressed: CompressedRistretto,
    table: std::sync::Arc<RistrettoBasepointTable>,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", hex32(self.compressed.as_bytes()))
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.compressed == other.compressed
    }
}
impl Eq for PublicKey {}

pub(crate) fn hex32(b: &[u8; 32]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl PublicKey {
    /// Wraps a point as a public key. The identity is refused: encryption
    /// under it would be in the clear.
    pub fn from_point(point: RistrettoPoint) -> Result<Self, DecodeError> {
        if point.is_identity() {
            return Err(DecodeError::IdentityPoint {
                what: "election public key",
            });
        }
        Ok(Self {
            point,
            compressed: point.compress(),
            table: std::sync::Arc::new(RistrettoBasepointTable::create(&point)),
        })
    }

    /// Canonical decoding (non-identity point).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let p = crate::encoding::decode_nonidentity_point(bytes, "election public key")?;
        Self::from_point(p)
    }

    /// The point `K`.
    pub fn point(&self) -> &RistrettoPoint {
        &self.point
    }

    /// The 32-byte encoding of `K`.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.compressed.to_bytes()
    }

    /// `s·K`, constant time, through the precomputed table.
    pub fn mul(&self, s: &Scalar) -> RistrettoPoint {
        &*self.table * s
    }

    /// Encrypts `m` with fresh randomness; returns the ciphertext and the
    /// randomness (needed for proofs and for Benaloh challenges).
    pub fn encrypt<R: RngCore + CryptoRng>(&self, m: u64, rng: &mut R) -> (Ciphertext, Nonce) {
        let r = Nonce(crate::random_scalar(rng));
        (self.encrypt_with(m, &r), r)
    }

    /// Encrypts `m` with the given randomness: `(r·G, m·G + r·K)`.
    pub fn encrypt_with(&self, m: u64, r: &Nonce) -> Ciphertext {
        let alpha = G_table() * &r.0;
        let beta = G_table() * &Scalar::from(m) + self.mul(&r.0);
        Ciphertext { alpha, beta }
    }
}

/// A secret scalar: an ElGamal secret key or a trustee's key share.
/// Zeroized on drop; `Debug` prints `[REDACTED]`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretKey(Scalar);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey([REDACTED])")
    }
}

impl SecretKey {
    /// A fresh random secret key.
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        Self(crate::random_scalar(rng))
    }

    /// Wraps a scalar (which the caller must treat as secret).
    pub fn from_scalar(s: Scalar) -> Self {
        Self(s)
    }

    /// Canonical decoding from 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        Ok(Self(crate::encoding::decode_scalar(bytes, "secret key")?))
    }

    /// The secret scalar. Handle with care.
    pub fn expose_scalar(&self) -> &Scalar {
        &self.0
    }

    /// The corresponding public point `x·G`.
    pub fn public_point(&self) -> RistrettoPoint {
        G_table() * &self.0
    }

    /// The public key `x·G`.
    pub fn public_key(&self) -> Result<PublicKey, DecodeError> {
        PublicKey::from_point(self.public_point())
    }

    /// Decrypts to the group element `m·G = β − x·α`.
    pub fn decrypt_to_point(&self, ct: &Ciphertext) -> RistrettoPoint {
        ct.beta - self.0 * ct.alpha
    }
}

/// Encryption randomness `r`. Secret until a ballot is challenged; zeroized
/// on drop; `Debug` prints `[REDACTED]`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Nonce(pub(crate) Scalar);

impl fmt::Debug for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Nonce([REDACTED])")
    }
}

impl Nonce {
    /// Wraps a scalar.
    pub fn from_scalar(s: Scalar) -> Self {
        Self(s)
    }
    /// Canonical decoding (used when a challenged ballot reveals its randomness).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        Ok(Self(crate::encoding::decode_scalar(
            bytes,
            "encryption nonce",
        )?))
    }
    /// The scalar `r`.
    pub fn expose_scalar(&self) -> &Scalar {
        &self.0
    }
    /// The 32-byte encoding (only to reveal a challenged ballot).
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }
}

impl Add<&Nonce> for &Nonce {
    type Output = Nonce;
    fn add(self, rhs: &Nonce) -> Nonce {
        Nonce(self.0 + rhs.0)
    }
}

/// An exponential ElGamal ciphertext `(α, β)`. Encoded as `α ‖ β` (64 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ciphertext {
    /// `r·G`
    pub alpha: RistrettoPoint,
    /// `m·G + r·K`
    pub beta: RistrettoPoint,
}

impl Ciphertext {
    /// Encoded length.
    pub const LEN: usize = 64;

    /// The encryption of zero with zero randomness: the neutral element of addition.
    pub fn zero() -> Self {
        Self {
            alpha: RistrettoPoint::identity(),
            beta: RistrettoPoint::identity(),
        }
    }

    /// `α ‖ β`.
    pub fn to_bytes(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(self.alpha.compress().as_bytes());
        out[32..].copy_from_slice(self.beta.compress().as_bytes());
        out
    }

    /// Canonical decoding of a ballot ciphertext: both points canonical and
    /// `α` not the identity (an honest ciphertext never has `α = 0`, and one
    /// that does is encrypted in the clear). `spec/crypto.md` §2.3.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() != Self::LEN {
            return Err(DecodeError::WrongLength {
                what: "ciphertext",
                expected: Self::LEN,
                got: bytes.len(),
            });
        }
        let mut r = Reader::new(bytes, "ciphertext");
        let alpha = r.nonidentity_point()?;
        let beta = r.point()?;
        r.finish()?;
        Ok(Self { alpha, beta })
    }

    /// Canonical decoding of an aggregate ciphertext (identity `α` allowed:
    /// the sum of no ballots is the zero ciphertext).
    pub fn from_bytes_aggregate(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() != Self::LEN {
            return Err(DecodeError::WrongLength {
                what: "aggregate ciphertext",
                expected: Self::LEN,
                got: bytes.len(),
            });
        }
        let mut r = Reader::new(bytes, "aggregate ciphertext");
        let alpha = r.point()?;
        let beta = r.point()?;
        r.finish()?;
        Ok(Self { alpha, beta })
    }
}

/// A ciphertext together with its 64-byte encoding `α ‖ β`
/// (`spec/crypto.md` §2.3).
///
/// Proof transcripts absorb ciphertexts by their exact bytes; keeping the
/// bytes avoids compressing the points again (`spec/crypto.md` §5.4). The
/// fields are private and always agree.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct EncodedCiphertext {
    alpha: EncodedPoint,
    beta: EncodedPoint,
}

impl fmt::Debug for EncodedCiphertext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "EncodedCiphertext({}, {})",
            hex32(self.alpha.as_bytes()),
            hex32(self.beta.as_bytes())
        )
    }
}

impl EncodedCiphertext {
    /// Wraps a ciphertext, computing its encoding (two compressions).
    pub fn new(ct: &Ciphertext) -> Self {
        Self {
            alpha: EncodedPoint::new(ct.alpha),
            beta: EncodedPoint::new(ct.beta),
        }
    }

    /// Builds from already encoded components.
    pub fn from_parts(alpha: EncodedPoint, beta: EncodedPoint) -> Self {
        Self { alpha, beta }
    }

    /// Canonical decoding of a ballot ciphertext: both points canonical,
    /// `α` not the identity (`spec/crypto.md` §2.3).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() != Ciphertext::LEN {
            return Err(DecodeError::WrongLength {
                what: "ciphertext",
                expected: Ciphertext::LEN,
                got: bytes.len(),
            });
        }
        let mut r = Reader::new(bytes, "ciphertext");
        let alpha = r.encoded_point()?;
        if alpha.is_identity() {
            return Err(DecodeError::IdentityPoint { what: "ciphertext" });
        }
        let beta = r.encoded_point()?;
        r.finish()?;
        Ok(Self { alpha, beta })
    }

    /// The ciphertext.
    pub fn ciphertext(&self) -> Ciphertext {
        Ciphertext {
            alpha: *self.alpha.point(),
            beta: *self.beta.point(),
        }
    }

    /// `α` with its encoding.
    pub fn alpha(&self) -> &EncodedPoint {
        &self.alpha
    }

    /// `β` with its encoding.
    pub fn beta(&self) -> &EncodedPoint {
        &self.beta
    }

    /// `α ‖ β`.
    pub fn to_bytes(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(self.alpha.as_bytes());
        out[32..].copy_from_slice(self.beta.as_bytes());
        out
    }
}

impl Add for Ciphertext {
    type Output = Ciphertext;
    fn add(self, rhs: Ciphertext) -> Ciphertext {
        Ciphertext {
            alpha: self.alpha + rhs.alpha,
            beta: self.beta + rhs.beta,
        }
    }
}

impl AddAssign for Ciphertext {
    fn add_assign(&mut self, rhs: Ciphertext) {
        self.alpha += rhs.alpha;
        self.beta += rhs.beta;
    }
}

impl Sub for Ciphertext {
    type Output = Ciphertext;
    fn sub(self, rhs: Ciphertext) -> Ciphertext {
        Ciphertext {
            alpha: self.alpha - rhs.alpha,
            beta: self.beta - rhs.beta,
        }
    }
}

impl Sum for Ciphertext {
    fn sum<I: Iterator<Item = Ciphertext>>(iter: I) -> Ciphertext {
        iter.fold(Ciphertext::zero(), |a, b| a + b)
    }
}

impl<'a> Sum<&'a Ciphertext> for Ciphertext {
    fn sum<I: Iterator<Item = &'a Ciphertext>>(iter: I) -> Ciphertext {
        iter.fold(Ciphertext::zero(), |a, b| a + *b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::OsRng;

    #[test]
    fn encrypt_add_decrypt() {
        let sk = SecretKey::generate(&mut OsRng);
        let pk = sk.public_key().unwrap();
        let cts: Vec<_> = (0..10u64).map(|m| pk.encrypt(m, &mut OsRng).0).collect();
        let sum: Ciphertext = cts.iter().sum();
        assert_eq!(
            sk.decrypt_to_point(&sum),
            crate::generators::G_table() * &Scalar::from(45u64)
        );
        let back = Ciphertext::from_bytes(&sum.to_bytes()).unwrap();
        assert_eq!(back, sum);
    }

    #[test]
    fn debug_redacts_secrets() {
        let sk = SecretKey::generate(&mut OsRng);
        assert_eq!(format!("{sk:?}"), "SecretKey([REDACTED])");
        let (_, r) = sk.public_key().unwrap().encrypt(1, &mut OsRng);
        assert_eq!(format!("{r:?}"), "Nonce([REDACTED])");
    }

    #[test]
    fn rejects_identity_alpha_and_bad_lengths() {
        let z = Ciphertext::zero().to_bytes();
        assert!(matches!(
            Ciphertext::from_bytes(&z),
            Err(DecodeError::IdentityPoint { .. })
        ));
        assert!(Ciphertext::from_bytes_aggregate(&z).is_ok());
        assert!(matches!(
            Ciphertext::from_bytes(&z[..63]),
            Err(DecodeError::WrongLength { .. })
        ));
        assert!(matches!(
            PublicKey::from_bytes(&[0u8; 32]),
            Err(DecodeError::IdentityPoint { .. })
        ));
        assert!(matches!(
            PublicKey::from_bytes(&[0xffu8; 32]),
            Err(DecodeError::InvalidPoint { .. })
        ));
    }
}
