//! Caucus rules for tallyboard: viability, realignment, delegate
//! apportionment with verifiable coin tosses, and state delegate
//! equivalents, in exact rational arithmetic.
//!
//! This crate is the pure caucus math shared by the services and the
//! independent verifier; it works on decrypted counts and performs no I/O
//! apart from parsing published result files from memory ([`published`]).
//! The authoritative description is `spec/caucus.md`; each item cites the
//! section it implements.
//!
//! The flow for one precinct:
//!
//! 1. [`viability`] on the first alignment (spec/caucus.md §4.1) decides which
//!    groups are viable (locked) and whose members may realign;
//! 2. [`check_realignment`] checks the final alignment against it (§4.7);
//! 3. [`apportion`] turns the final alignment into delegates (§4.2–§4.6),
//!    settling ties with a [`CoinSource`] — normally [`SeededCoins`], seeded
//!    from the signed board checkpoint (§6); [`all_outcomes`] lists every
//!    outcome any coin could have produced;
//! 4. [`state_delegate_equivalents`] weights delegates into SDEs (§5).
//!
//! ```
//! use tallyboard_caucus::*;
//!
//! # fn main() -> Result<(), CaucusError> {
//! let rules = Rules::iowa_2020();
//! let g = |i| GroupId(i);
//! let first = Alignment::new([(g(1), 9), (g(2), 6), (g(3), 6), (g(4), 6), (g(5), 7), (g(6), 2)])?;
//! let v = viability(&rules.viability, 10, first.total(), &first)?;
//! assert_eq!(v.threshold, Some(6)); // ceil(36 * 15 / 100)
//! assert!(v.may_realign(g(6)));
//!
//! let final_ = Alignment::new([(g(1), 9), (g(2), 6), (g(3), 6), (g(4), 8), (g(5), 7)])?;
//! assert!(check_realignment(&v, &first, &final_).is_empty());
//! let ctx = PrecinctContext { id: PrecinctId::new("demo"), delegates: 10, participants: 36, round: 2 };
//! let a = apportion(&rules, &ctx, &final_, &mut SeededCoins::new([0; 32]))?;
//! assert_eq!(a.total(), 10);
//! let sde = state_delegate_equivalents(a.delegates_for(g(1)), Rational::parse_decimal("0.75")?, 10)?;
//! assert_eq!(sde.to_fixed(SDE_DECIMALS)?, "0.1500");
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used)]
#![warn(missing_docs)]

mod alignment;
mod apportion;
mod coin;
mod error;
pub mod published;
mod rational;
mod rules;
mod viability;

pub use alignment::{Alignment, GroupId, PrecinctId};
pub use apportion::{
    all_outcomes, apportion, distinct_allocations, state_delegate_equivalents, Apportionment,
    PrecinctContext, TossRecord, DEFAULT_OUTCOME_LIMIT, SDE_DECIMALS,
};
pub use coin::{CoinSource, FixedCoins, SeededCoins, Toss, TossKind, COIN_TOSS_LABEL};
pub use error::CaucusError;
pub use rational::Rational;
pub use rules::{Rules, Threshold, ViabilityRule, ViabilityTier};
pub use viability::{check_realignment, viability, RealignmentIssue, Viability};
