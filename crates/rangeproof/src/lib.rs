//! # tallyboard-rangeproof
//!
//! Range proofs for large ranges: points and cumulative voting, weighted
//! voting with weights up to 2³², any per-option maximum up to 2⁶⁴ − 1.
//! The byte-exact protocol is `spec/range-proofs.md`; every module cites the
//! section it implements.
//!
//! A value `m` encrypted under the election key `K` as `(α, β) = (r·G, m·G + r·K)`
//! is also committed to as `V = m·G + t·H` ([`pedersen`], §2), where `H` is
//! hash-derived and nobody knows `log_G H`. A sigma proof ([`link`], §3)
//! shows that the ciphertext and the commitment hold the same `m`. All range
//! statements of a ballot are then proved at once by one aggregated
//! bulletproof on the commitments ([`range`], §4). [`points`] (§5) puts it
//! together for points/cumulative ballots, with an optional bound on the
//! total (`≤ B` by another range statement, `= B` by a Chaum–Pedersen proof
//! on the sum of the ciphertexts).
//!
//! The range proof is never made on `β` with `K` as the blinding base: the
//! trustees, who jointly know `log_G K`, could then open `β` to any value
//! and forge range proofs for out-of-range values (§2.2).
#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used, missing_docs)]
#![allow(non_snake_case)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod error;
pub mod labels;
pub mod link;
pub mod pedersen;
pub mod points;
pub mod range;

pub use error::RangeProofError;
pub use link::LinkProof;
pub use pedersen::{Blinding, PedersenCommitment};
pub use points::{encrypt_points, PointsBallot, PointsOpening, PointsRules, TotalRule};
pub use range::{AggregatedRangeProof, BitSize, RangeClaim, RangeStatements, RangeWitness};
