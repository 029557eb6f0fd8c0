//! The error type of the prover side (`spec/range-proofs.md` §5.1).
//!
//! Verification and decoding use the foundation's
//! [`tallyboard_crypto::ProofError`] and [`tallyboard_crypto::DecodeError`];
//! this enum adds what only a prover can get wrong: values that break the
//! rules. Every such error is returned before anything is encrypted.

use tallyboard_crypto::ProofError;
use thiserror::Error;

/// Why a ballot or a range proof could not be made.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RangeProofError {
    /// The rules themselves are unusable (no options, too many, an exact
    /// total that no ballot can reach, …).
    #[error("invalid rules: {0}")]
    InvalidRules(&'static str),
    /// The number of values is not the number of options (or claims).
    #[error("expected {expected} values, got {got}")]
    WrongValueCount {
        /// Number of options.
        expected: usize,
        /// Number of values given.
        got: usize,
    },
    /// A value is above its option's maximum.
    #[error("value {value} of option {option} exceeds its maximum {max}")]
    ValueAboveMax {
        /// Index of the option (or claim).
        option: usize,
        /// The value.
        value: u64,
        /// The maximum.
        max: u64,
    },
    /// The values add up to more than the budget.
    #[error("total {total} exceeds the budget {budget}")]
    TotalAboveBudget {
        /// Sum of the values.
        total: u128,
        /// The budget.
        budget: u64,
    },
    /// The values do not add up to the required total.
    #[error("total {total} differs from the required total {required}")]
    TotalNotExact {
        /// Sum of the values.
        total: u128,
        /// The required total.
        required: u64,
    },
    /// A witness does not open the claim it is given for.
    #[error("witness {0} does not open its claim")]
    WitnessMismatch(usize),
    /// The bulletproofs prover refused its input (a bug if it happens).
    #[error("bulletproofs prover failed")]
    Prover,
    /// A proof did not verify (the prover checks its own proofs).
    #[error(transparent)]
    Proof(#[from] ProofError),
}
