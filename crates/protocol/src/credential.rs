//! Voter credentials (`spec/issuer.md` §2).
//!
//! A credential is an Ed25519 key pair made by the voter's client. The
//! district's issuer signs, blindly (RFC 9474, RSABSSA-SHA384-PSS-Randomized),
//! the message
//!
//! ```text
//! "tallyboard/v1/credential\n" ‖ election_fingerprint (32) ‖ credential_public_key (32)
//! ```
//!
//! so the issuer never sees the credential key it signs and cannot link a
//! ballot to a voter, while anyone can check that the credential was issued
//! for the district whose key signed it.

use blind_rsa_signatures::{MessageRandomizer, Options, PublicKey, Signature};

/// Domain prefix of the credential message.
pub const CREDENTIAL_DST: &[u8] = b"tallyboard/v1/credential\n";

/// RFC 9474 public key of an issuer. Always used with [`credential_options`]
/// (RSABSSA-SHA384-PSS-Randomized).
pub type IssuerPublicKey = PublicKey;

/// The RFC 9474 variant of credentials: RSABSSA-SHA384-PSS-Randomized
/// (SHA-384, 48-byte salt, a 32-byte message randomizer), the variant the RFC
/// recommends.
pub fn credential_options() -> Options {
    Options::default()
}

/// Why a credential does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// The issuer key is not a DER RSA public key of 2048–4096 bits with e = 3 or 65537.
    #[error("issuer key is not a DER RSA public key of 2048 to 4096 bits")]
    BadIssuerKey,
    /// The randomizer is not 32 bytes.
    #[error("credential randomizer must be 32 bytes, got {0}")]
    BadRandomizer(usize),
    /// The signature does not verify.
    #[error("credential signature does not verify under the district's issuer key")]
    BadSignature,
}

/// The message the issuer blind-signs.
pub fn credential_message(election_fingerprint: &[u8; 32], credential_key: &[u8; 32]) -> Vec<u8> {
    let mut m = Vec::with_capacity(CREDENTIAL_DST.len() + 64);
    m.extend_from_slice(CREDENTIAL_DST);
    m.extend_from_slice(election_fingerprint);
    m.extend_from_slice(credential_key);
    m
}

/// Parses an issuer key (DER SubjectPublicKeyInfo or PKCS#1).
pub fn parse_issuer_key(der: &[u8]) -> Result<IssuerPublicKey, CredentialError> {
    PublicKey::from_der(der).map_err(|_| CredentialError::BadIssuerKey)
}

/// Checks the issuer's signature on a credential key.
pub fn verify_credential(
    issuer_key: &IssuerPublicKey,
    election_fingerprint: &[u8; 32],
    credential_key: &[u8; 32],
    signature: &[u8],
    randomizer: &[u8],
) -> Result<(), CredentialError> {
    let r: [u8; 32] = randomizer
        .try_into()
        .map_err(|_| CredentialError::BadRandomizer(randomizer.len()))?;
    issuer_key
        .verify(
            &Signature(signature.to_vec()),
            Some(MessageRandomizer(r)),
            credential_message(election_fingerprint, credential_key),
            &credential_options(),
        )
        .map_err(|_| CredentialError::BadSignature)
}
