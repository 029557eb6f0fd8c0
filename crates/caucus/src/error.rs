//! The error type of the caucus rules (spec/caucus.md §8).

use thiserror::Error;

use crate::alignment::GroupId;

/// Everything that can go wrong while applying the caucus rules.
///
/// Inputs come from the board or from published files, so every malformed
/// input is reported through this type rather than by panicking.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CaucusError {
    /// An intermediate value does not fit in `i128`.
    #[error("arithmetic overflow")]
    Overflow,
    /// A rational with denominator zero was requested.
    #[error("division by zero")]
    ZeroDenominator,
    /// A decimal string could not be parsed exactly.
    #[error("invalid decimal number {0:?}")]
    InvalidDecimal(String),
    /// A [`crate::ViabilityRule`] is inconsistent (spec/caucus.md §2.1).
    #[error("invalid caucus rule: {0}")]
    InvalidRule(&'static str),
    /// The precinct elects no delegates.
    #[error("the precinct elects no delegates")]
    NoDelegates,
    /// Nobody took part in the caucus.
    #[error("the caucus has no participants")]
    NoParticipants,
    /// An alignment counts more people than took part.
    #[error("the alignment counts {aligned} people but only {participants} took part")]
    AlignedExceedsParticipants {
        /// People counted in the alignment.
        aligned: u64,
        /// Eligible participants (attendance).
        participants: u64,
    },
    /// The same group appears twice in one alignment.
    #[error("group {0} appears twice in the alignment")]
    DuplicateGroup(GroupId),
    /// A [`crate::CoinSource`] returned a choice that is not a valid toss outcome.
    #[error("invalid coin toss outcome: {0}")]
    InvalidToss(&'static str),
    /// Enumerating every rule-consistent outcome would exceed the limit.
    #[error("more than {limit} rule-consistent outcomes")]
    TooManyOutcomes {
        /// The enumeration limit.
        limit: usize,
    },
}
