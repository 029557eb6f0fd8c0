//! Canonical byte encodings of scalars and points (`spec/crypto.md` §2).
//!
//! Scalars are 32 bytes little-endian and must be fully reduced modulo
//! ℓ = 2²⁵² + 27742317777372353535851937790883648493. Points are the 32-byte
//! ristretto255 encoding (RFC 9496 §4.3.2); decoding rejects every
//! non-canonical string. Nothing else is accepted: no length prefixes, no
//! alternative forms.

use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;

use crate::error::DecodeError;

/// Length of an encoded scalar or point.
pub const ELEMENT_LEN: usize = 32;

fn array32(bytes: &[u8], what: &'static str) -> Result<[u8; 32], DecodeError> {
    bytes.try_into().map_err(|_| DecodeError::WrongLength {
        what,
        expected: ELEMENT_LEN,
        got: bytes.len(),
    })
}

/// Decodes a canonical scalar (`spec/crypto.md` §2.1).
pub fn decode_scalar(bytes: &[u8], what: &'static str) -> Result<Scalar, DecodeError> {
    let arr = array32(bytes, what)?;
    Option::from(Scalar::from_canonical_bytes(arr)).ok_or(DecodeError::NonCanonicalScalar { what })
}

/// Decodes a canonical ristretto255 point, the identity allowed (`spec/crypto.md` §2.2).
pub fn decode_point(bytes: &[u8], what: &'static str) -> Result<RistrettoPoint, DecodeError> {
    let arr = array32(bytes, what)?;
    CompressedRistretto(arr)
        .decompress()
        .ok_or(DecodeError::InvalidPoint { what })
}

/// Decodes a canonical ristretto255 point that must not be the identity
/// (`spec/crypto.md` §2.2).
pub fn decode_nonidentity_point(
    bytes: &[u8],
    what: &'static str,
) -> Result<RistrettoPoint, DecodeError> {
    let p = decode_point(bytes, what)?;
    if p.is_identity() {
        return Err(DecodeError::IdentityPoint { what });
    }
    Ok(p)
}

/// Splits `bytes` into consecutive 32-byte chunks, requiring an exact multiple.
pub fn chunks32<'a>(
    bytes: &'a [u8],
    count: usize,
    what: &'static str,
) -> Result<impl Iterator<Item = &'a [u8]> + 'a, DecodeError> {
    let expected = count
        .checked_mul(ELEMENT_LEN)
        .ok_or(DecodeError::OutOfRange {
            what,
            detail: "element count overflows",
        })?;
    if bytes.len() != expected {
        return Err(DecodeError::WrongLength {
            what,
            expected,
            got: bytes.len(),
        });
    }
    Ok(bytes.chunks_exact(ELEMENT_LEN))
}

/// A cursor over a byte string that reads fixed-size protocol fields and
/// refuses trailing bytes. Used by every `from_bytes` in this crate.
pub struct Reader<'a> {
    bytes: &'a [u8],
    what: &'static str,
    total: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading `bytes`, which encode a `what`.
    pub fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Self {
            bytes,
            what,
            total: bytes.len(),
        }
    }

    fn take(&mut self, n: usize, expected_total: usize) -> Result<&'a [u8], DecodeError> {
        if self.bytes.len() < n {
            return Err(DecodeError::WrongLength {
                what: self.what,
                expected: expected_total.max(self.total - self.bytes.len() + n),
                got: self.total,
            });
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    /// Reads a canonical scalar.
    pub fn scalar(&mut self) -> Result<Scalar, DecodeError> {
        let b = self.take(ELEMENT_LEN, 0)?;
        decode_scalar(b, self.what)
    }

    /// Reads a canonical point (identity allowed).
    pub fn point(&mut self) -> Result<RistrettoPoint, DecodeError> {
        let b = self.take(ELEMENT_LEN, 0)?;
        decode_point(b, self.what)
    }

    /// Reads a canonical non-identity point.
    pub fn nonidentity_point(&mut self) -> Result<RistrettoPoint, DecodeError> {
        let b = self.take(ELEMENT_LEN, 0)?;
        decode_nonidentity_point(b, self.what)
    }

    /// Reads a canonical point (identity allowed) and keeps its encoding.
    pub fn encoded_point(&mut self) -> Result<EncodedPoint, DecodeError> {
        let b = self.take(ELEMENT_LEN, 0)?;
        EncodedPoint::decode(b, self.what)
    }

    /// Reads one byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        let b = self.take(1, 0)?;
        Ok(b[0])
    }

    /// Reads a big-endian u32.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4, 0)?;
        let mut a = [0u8; 4];
        a.copy_from_slice(b);
        Ok(u32::from_be_bytes(a))
    }

    /// Reads `n` raw bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        self.take(n, 0)
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.bytes.len()
    }

    /// Succeeds only if every byte was consumed.
    pub fn finish(self) -> Result<(), DecodeError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::WrongLength {
                what: self.what,
                expected: self.total - self.bytes.len(),
                got: self.total,
            })
        }
    }
}

/// A ristretto255 point together with its canonical 32-byte encoding.
///
/// Proofs keep the bytes they were decoded from (or that were computed once,
/// in a batch, when they were made) so that transcripts absorb them without
/// compressing the point again: a compression costs about as much as a
/// decompression (`spec/crypto.md` §5.4). The two fields are private and
/// always agree.
#[derive(Clone, Copy)]
pub struct EncodedPoint {
    point: RistrettoPoint,
    compressed: CompressedRistretto,
}

impl PartialEq for EncodedPoint {
    fn eq(&self, other: &Self) -> bool {
        self.compressed == other.compressed
    }
}
impl Eq for EncodedPoint {}

impl core::fmt::Debug for EncodedPoint {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "EncodedPoint({})",
            crate::elgamal::hex32(self.compressed.as_bytes())
        )
    }
}

impl EncodedPoint {
    /// Wraps a point, computing its encoding (one compression).
    pub fn new(point: RistrettoPoint) -> Self {
        Self {
            point,
            compressed: point.compress(),
        }
    }

    /// Canonical decoding, identity allowed (`spec/crypto.md` §2.2).
    pub fn decode(bytes: &[u8], what: &'static str) -> Result<Self, DecodeError> {
        let arr = array32(bytes, what)?;
        let compressed = CompressedRistretto(arr);
        let point = compressed
            .decompress()
            .ok_or(DecodeError::InvalidPoint { what })?;
        Ok(Self { point, compressed })
    }

    /// Encodes `2·hᵢ` for every `hᵢ` with a single field inversion
    /// (`RistrettoPoint::double_and_compress_batch`). Provers compute their
    /// points *halved* (multiplying each scalar by ½) and encode them here,
    /// which is much cheaper than compressing points one at a time.
    pub fn batch_from_halves(halves: &[RistrettoPoint]) -> Vec<Self> {
        let compressed = RistrettoPoint::double_and_compress_batch(halves);
        halves
            .iter()
            .zip(compressed)
            .map(|(h, compressed)| Self {
                point: h + h,
                compressed,
            })
            .collect()
    }

    /// The point.
    pub fn point(&self) -> &RistrettoPoint {
        &self.point
    }

    /// The canonical encoding.
    pub fn compressed(&self) -> &CompressedRistretto {
        &self.compressed
    }

    /// The canonical encoding as bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.compressed.as_bytes()
    }

    /// Whether this is the identity (whose encoding is 32 zero bytes).
    pub fn is_identity(&self) -> bool {
        self.compressed.as_bytes() == &[0u8; 32]
    }
}

/// `½ mod ℓ`, the scalar that halves a point (used with
/// [`EncodedPoint::batch_from_halves`]).
pub fn half() -> Scalar {
    static HALF: std::sync::OnceLock<Scalar> = std::sync::OnceLock::new();
    *HALF.get_or_init(|| Scalar::from(2u8).invert())
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::constants::RISTRETTO_BASEPOINT_POINT as G;

    #[test]
    fn batch_from_halves_matches_compress() {
        let halves: Vec<RistrettoPoint> = (0u64..9).map(|i| G * Scalar::from(i * 7 + 1)).collect();
        let enc = EncodedPoint::batch_from_halves(&halves);
        for (h, e) in halves.iter().zip(&enc) {
            assert_eq!(e.compressed(), &(h + h).compress());
            assert_eq!(e.point(), &(h + h));
            assert_eq!(EncodedPoint::decode(e.as_bytes(), "t").unwrap(), *e);
        }
        assert_eq!(G * (Scalar::from(6u8) * half()), G * Scalar::from(3u8));
        assert!(EncodedPoint::new(RistrettoPoint::default()).is_identity());
        assert!(!enc[0].is_identity());
    }

    #[test]
    fn decode_rejects_malformed() {
        assert!(matches!(
            EncodedPoint::decode(&[0u8; 31], "t"),
            Err(DecodeError::WrongLength { .. })
        ));
        assert!(matches!(
            EncodedPoint::decode(&[0xffu8; 32], "t"),
            Err(DecodeError::InvalidPoint { .. })
        ));
        assert!(matches!(
            decode_scalar(&[0xffu8; 32], "t"),
            Err(DecodeError::NonCanonicalScalar { .. })
        ));
    }
}
