//! # tallyboard-protocol
//!
//! The rules of the election record, shared by the bulletin board (which
//! admits only valid entries), the other services, and the independent
//! verifier (which replays the record through the same rules). Services stay
//! thin: they decode a request, call into this crate, and map a
//! [`RuleError`] to a gRPC status.
//!
//! `spec/record.md` is the authoritative description; rule identifiers
//! ([`rules`]) match its §6.
#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used, missing_docs)]

pub mod ballot;
pub mod caucus;
pub mod credential;
pub mod deferred;
pub mod entry;
pub mod error;
pub mod manifest;
pub mod rules;
pub mod snapshot;
pub mod state;
pub mod testkit;

pub use deferred::{verify_deferred_batch, DeferredBallotProofs};
pub use entry::{decode_entry, decode_entry_deferred, sign_entry, DecodedEntry, MAX_ENTRY_BYTES};
pub use error::{RuleError, RuleErrorKind};
pub use manifest::{fingerprint, validate_manifest, ElectionManifest};
pub use state::{BoardIdentity, ElectionPhase, Prechecked, Prechecker, RecordState};
pub use tallyboard_proto::v1;
