//! # tallyboard-threshold
//!
//! Threshold trustees for tallyboard: `n` trustees jointly generate the
//! election key so that any `t` of them can decrypt aggregates and fewer
//! learn nothing (`spec/threshold.md`).
//!
//! * [`keys`]: trustees' long-term ristretto255 share-encryption keys with
//!   proofs of possession (§4);
//! * [`dkg`]: joint-Feldman DKG with a commit-then-reveal round, shares
//!   encrypted to recipients through the board, verifiable complaints, and
//!   the pure evaluation of a ceremony from its public messages (§5);
//! * [`decryption`]: partial decryptions with Chaum–Pedersen proofs, batch
//!   verification, identification of invalid partials and Lagrange
//!   combination (§6).
//!
//! Every message has a canonical byte encoding (`to_bytes` / `from_bytes`,
//! §2); secrets zeroize on drop and print as `[REDACTED]`.
#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used, missing_docs)]
#![allow(non_snake_case)]

pub mod decryption;
pub mod dkg;
pub mod error;
pub mod keys;
pub mod labels;
pub mod messages;
pub mod params;
pub mod public_key;
pub mod share;
pub mod share_encryption;

pub use decryption::{combine, lagrange_at_zero, verify_partials, Decryption, PartialDecryption};
pub use dkg::{
    evaluate, qualify, Disqualification, DkgOutcome, DkgRecord, Qualification, Round, Trustee,
};
pub use error::ThresholdError;
pub use keys::{KeyAnnouncement, TrusteeKeyPair};
pub use messages::{Commitment, Complaint, DkgMessage, Reveal};
pub use params::DkgParams;
pub use public_key::ThresholdPublicKey;
pub use share::SecretShare;
pub use share_encryption::{EncryptedShare, ShareAddress};
