//! Error types of the cryptographic core. One enum per layer: decoding
//! ([`DecodeError`]) and proof verification ([`ProofError`]).

use thiserror::Error;

/// A byte string that is not the canonical encoding of the expected value.
/// See `spec/crypto.md` §2 for the encodings and the rejection rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The input does not have the exact length of the encoding.
    #[error("wrong length for {what}: expected {expected} bytes, got {got}")]
    WrongLength {
        /// What was being decoded.
        what: &'static str,
        /// The required length.
        expected: usize,
        /// The length received.
        got: usize,
    },
    /// A 32-byte string that is not a canonical scalar (not reduced mod ℓ).
    #[error("non-canonical scalar encoding in {what}")]
    NonCanonicalScalar {
        /// What was being decoded.
        what: &'static str,
    },
    /// A 32-byte string that is not the canonical encoding of a ristretto255 element.
    #[error("invalid ristretto255 point encoding in {what}")]
    InvalidPoint {
        /// What was being decoded.
        what: &'static str,
    },
    /// The identity element where the protocol forbids it.
    #[error("identity point not allowed in {what}")]
    IdentityPoint {
        /// What was being decoded.
        what: &'static str,
    },
    /// A count or parameter in an encoding is outside the allowed range.
    #[error("{what} out of range: {detail}")]
    OutOfRange {
        /// What was being decoded.
        what: &'static str,
        /// Why it is out of range.
        detail: &'static str,
    },
}

/// Why a proof or a protocol message did not verify.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProofError {
    /// The proof bytes do not decode.
    #[error("malformed proof: {0}")]
    Decode(#[from] DecodeError),
    /// The statement given to the verifier is malformed (wrong sizes, identity
    /// points, inconsistent parameters).
    #[error("invalid statement: {0}")]
    InvalidStatement(&'static str),
    /// The verification equations do not hold.
    #[error("{proof} proof does not verify")]
    VerificationFailed {
        /// Which proof failed.
        proof: &'static str,
    },
    /// A small-range proof was asked for a range larger than this crate's
    /// disjunctive proofs support (`spec/crypto.md` §6.3); larger ranges use
    /// bulletproofs (`spec/range-proofs.md`).
    #[error("range [0, {got}] too large: at most [0, {max}] is supported")]
    RangeTooLarge {
        /// The largest supported upper bound.
        max: u64,
        /// The upper bound asked for.
        got: u64,
    },
    /// A batch did not verify; at least one of its members is invalid.
    #[error("batch verification failed")]
    BatchFailed,
}
