//! # tallyboard-issuer
//!
//! The credential issuer of a tallyboard election (`spec/issuer.md` is the
//! authoritative description; items cite its sections).
//!
//! The issuer checks a voter against the roll with a single-use enrollment
//! code and blind-signs (RFC 9474) an Ed25519 credential key that the
//! voter's client made, so it cannot link the credential, and the ballots it
//! signs, to the voter. Each credential it issues is recorded publicly as an
//! `Issuance` entry on the board before the signature is released, so the
//! number of credentials per district is on the record.
//!
//! - [`credential`], [`codes`], [`client`]: the client side, re-exported
//!   from `tallyboard-issuer-client`;
//! - [`roll`]: the voter roll CSV;
//! - [`datadir`]: the data directory and `init` ([`init_data_dir`]);
//! - [`store`]: the SQLite database (redemption state, failed attempts);
//! - [`issue`]: the redemption logic ([`IssuerCore`]) and its rules;
//! - [`service`], [`server`]: the gRPC service ([`serve`]);
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use tallyboard_issuer::{serve, IssuerConfig};
//! let config = IssuerConfig::new("/var/lib/tallyboard-issuer", "127.0.0.1:50061".parse()?, "http://127.0.0.1:50051");
//! serve(config, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used, missing_docs)]

pub mod datadir;
pub mod issue;
pub mod roll;
pub mod server;
pub mod service;
pub mod store;

// The client side lives in its own crate (so that the voter's client does
// not link the server); it is re-exported here under its old paths.
pub use datadir::{init_data_dir, InitOptions, InitOutput, IssuedCode, PublicKeysFile};
pub use issue::{voter_id_hash, IssueError, IssueErrorKind, IssuerCore, IssuerLimits};
pub use roll::Roll;
pub use server::{serve, serve_with_listener, start, IssuerConfig, ServeError};
pub use tallyboard_issuer_client::{
    blind, blind_sign, client, codes, credential, finalize, issuer_keys_from_manifest,
    obtain_credential, verify_credential, Argon2Profile, BlindingSecret, Credential,
    CredentialError, CredentialSignature, EnrollmentCode, IssuerPublicKey, IssuerSecretKey,
    ObtainError,
};
