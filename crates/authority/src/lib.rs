//! # tallyboard-authority
//!
//! The election authorities' tools: the administrator, who defines and runs
//! the election, and the trustees, who jointly hold the election key and
//! decrypt only the tally. Both work through the bulletin board, which is
//! their only shared record: every step reads the board (verifying it
//! against its signed checkpoints and replaying it through the record's
//! rules) and posts signed entries to it. `spec/manifest.md` is the
//! authoritative description of the manifest file and of the procedures.
//!
//! - [`manifest_file`]: the TOML manifest file and [`load_manifest`];
//! - [`keys`]: key files (mode 0600) and key parsing;
//! - [`follower`]: [`RecordFollower`], a verified, replayed copy of the
//!   record kept in step with the board;
//! - [`admin`]: [`Admin`]: manifest, phases, notices, election key, tally,
//!   result;
//! - [`trustee`]: [`run_ceremony`] (the key ceremony, resumable) and
//!   [`decrypt_tally`] (partial decryptions).
//!
//! ```no_run
//! # async fn run() -> Result<(), tallyboard_authority::AuthorityError> {
//! use tallyboard_authority::{keys, load_manifest, Admin, RecordFollower};
//! let board = keys::board_verifier("board.pub")?;
//! let follower = RecordFollower::connect("http://127.0.0.1:50051", board, None).await?;
//! let key = keys::load_signing_key("admin.key".as_ref())?;
//! let mut admin = Admin::new(follower, key);
//! admin.post_manifest(load_manifest("manifest.toml".as_ref())?).await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used, missing_docs)]

pub mod admin;
pub mod error;
pub mod follower;
pub mod keys;
pub mod manifest_file;
pub mod trustee;

pub use admin::{Admin, CeremonyWait, ContestCounts, ElectionKeySummary, ResultSummary};
pub use error::AuthorityError;
pub use follower::{board_identity, RecordFollower, DEFAULT_POLL};
pub use manifest_file::{check_manifest, load_manifest, parse_manifest, ManifestFile};
pub use tallyboard_threshold::SecretShare;
pub use trustee::{
    decrypt_tally, decrypt_tally_with, run_ceremony, run_ceremony_with, CeremonyEvent,
    CeremonyOptions, DecryptOutcome,
};
