//! The voter side (`spec/issuer.md` §2.3): make a credential key, blind it,
//! redeem the enrollment code, unblind and verify.

use std::collections::BTreeMap;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use rand_core::{CryptoRng, RngCore};
use tallyboard_proto::v1 as pb;
use tonic::transport::{Channel, Endpoint};
use tonic::Code;

use crate::codes::{CodeError, EnrollmentCode};
use crate::credential::{
    blind, finalize, verify_credential_with, CredentialError, IssuerPublicKey, RANDOMIZER_LEN,
};

/// How often a request is retried after `Unavailable` or a transport error
/// (with the same blinded message, as the issuer expects).
const ATTEMPTS: u32 = 3;

/// A credential: the voter's Ed25519 key and the issuer's signature on it.
/// Debug prints the key as `[REDACTED]`; the key is zeroized on drop.
#[derive(Clone)]
pub struct Credential {
    /// The credential key (signs ballots).
    pub signing_key: SigningKey,
    /// The voter's district.
    pub district: String,
    /// The issuer's RFC 9474 signature (`Ballot.credential_signature`).
    pub signature: Vec<u8>,
    /// The message randomizer (`Ballot.credential_randomizer`).
    pub randomizer: [u8; RANDOMIZER_LEN],
    /// Log index of the Issuance entry the issuer recorded.
    pub issuance_entry: u64,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("signing_key", &"[REDACTED]")
            .field(
                "public_key",
                &hex::encode(self.signing_key.verifying_key().as_bytes()),
            )
            .field("district", &self.district)
            .field("issuance_entry", &self.issuance_entry)
            .finish_non_exhaustive()
    }
}

/// Why no credential was obtained.
#[derive(Debug, thiserror::Error)]
pub enum ObtainError {
    /// The code is mistyped (nothing was sent).
    #[error("enrollment code: {0}")]
    Code(#[from] CodeError),
    /// The district has no issuer key in the manifest.
    #[error("district {0:?} is not in the manifest")]
    UnknownDistrict(String),
    /// Cannot connect to the issuer.
    #[error("cannot connect to the issuer: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The issuer refused; the message names the rule (`spec/issuer.md` §7).
    #[error("issuer: {}: {}", .0.code(), .0.message())]
    Status(#[from] tonic::Status),
    /// The issuer's answer is malformed or does not verify.
    #[error("the issuer's answer is invalid: {0}")]
    Credential(#[from] CredentialError),
    /// The issuer answered for another district.
    #[error("the issuer answered for district {got:?}, not {expected:?}")]
    DistrictMismatch {
        /// The district asked for.
        expected: String,
        /// The district answered.
        got: String,
    },
}

/// The district keys of a manifest, parsed.
pub fn issuer_keys_from_manifest(
    manifest: &pb::Manifest,
) -> Result<BTreeMap<String, IssuerPublicKey>, CredentialError> {
    manifest
        .districts
        .iter()
        .map(|d| Ok((d.id.clone(), IssuerPublicKey::from_der(&d.issuer_rsa_key)?)))
        .collect()
}

/// Obtains a credential from the issuer at `issuer_url`: makes an Ed25519
/// key with `rng`, blinds it under `district`'s key from `issuer_keys` (the
/// manifest's), redeems `code`, unblinds the answer and verifies the
/// signature before returning it.
#[allow(clippy::too_many_arguments)]
pub async fn obtain_credential<R: RngCore + CryptoRng>(
    issuer_url: &str,
    voter_id: &str,
    code: &str,
    district: &str,
    fingerprint: &[u8; 32],
    issuer_keys: &BTreeMap<String, IssuerPublicKey>,
    rng: &mut R,
) -> Result<Credential, ObtainError> {
    // Check what can be checked before connecting.
    let code = EnrollmentCode::parse(code)?;
    if !issuer_keys.contains_key(district) {
        return Err(ObtainError::UnknownDistrict(district.to_string()));
    }
    let channel = Endpoint::from_shared(issuer_url.to_owned())?
        .connect_timeout(Duration::from_secs(10))
        .connect()
        .await?;
    obtain_credential_with(
        channel,
        voter_id,
        &code,
        district,
        fingerprint,
        issuer_keys,
        rng,
    )
    .await
}

/// [`obtain_credential`] over an existing channel (e.g. with TLS).
#[allow(clippy::too_many_arguments)]
pub async fn obtain_credential_with<R: RngCore + CryptoRng>(
    channel: Channel,
    voter_id: &str,
    code: &EnrollmentCode,
    district: &str,
    fingerprint: &[u8; 32],
    issuer_keys: &BTreeMap<String, IssuerPublicKey>,
    rng: &mut R,
) -> Result<Credential, ObtainError> {
    let pk = issuer_keys
        .get(district)
        .ok_or_else(|| ObtainError::UnknownDistrict(district.to_string()))?;
    let signing_key = SigningKey::generate(rng);
    let credential_key = signing_key.verifying_key().to_bytes();
    let (blinded, secret) = blind(pk, fingerprint, &credential_key, rng)?;
    let request = pb::IssueCredentialRequest {
        voter_id: voter_id.to_string(),
        enrollment_code: code.display().to_string(),
        blinded_message: blinded,
        district: district.to_string(),
    };
    let mut client = pb::issuer_client::IssuerClient::new(channel)
        .max_decoding_message_size(64 * 1024)
        .max_encoding_message_size(64 * 1024);
    let mut attempt = 0;
    let response = loop {
        attempt += 1;
        match client.issue_credential(request.clone()).await {
            Ok(r) => break r.into_inner(),
            Err(s)
                if attempt < ATTEMPTS
                    && matches!(s.code(), Code::Unavailable | Code::DeadlineExceeded) =>
            {
                tokio::time::sleep(Duration::from_millis(250 * u64::from(attempt))).await;
            }
            Err(s) => return Err(s.into()),
        }
    };
    if response.district != district {
        return Err(ObtainError::DistrictMismatch {
            expected: district.to_string(),
            got: response.district,
        });
    }
    let sig = finalize(pk, &secret, &response.blind_signature)?;
    verify_credential_with(
        pk,
        fingerprint,
        &credential_key,
        &sig.signature,
        &sig.randomizer,
    )?;
    Ok(Credential {
        signing_key,
        district: response.district,
        signature: sig.signature,
        randomizer: sig.randomizer,
        issuance_entry: response.issuance_entry,
    })
}
