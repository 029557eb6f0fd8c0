//! # tallyboard-issuer-client
//!
//! What a voter's client needs of the credential issuer (`spec/issuer.md`),
//! and nothing of the issuer's server or its database:
//!
//! - [`credential`]: the cryptography of RFC 9474 blind RSA signatures on
//!   credential keys, pure (used by the client, the issuer and the verifier);
//! - [`codes`]: enrollment codes and their Argon2id hashes;
//! - [`client`]: [`obtain_credential`], the gRPC exchange with the issuer.
#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used, missing_docs)]

pub mod client;
pub mod codes;
pub mod credential;

pub use client::{issuer_keys_from_manifest, obtain_credential, Credential, ObtainError};
pub use codes::{Argon2Profile, EnrollmentCode};
pub use credential::{
    blind, blind_sign, finalize, verify_credential, BlindingSecret, CredentialError,
    CredentialSignature, IssuerPublicKey, IssuerSecretKey,
};
