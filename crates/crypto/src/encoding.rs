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
