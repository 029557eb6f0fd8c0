//! The voter's credential (`spec/client.md` §3, `spec/issuer.md`).
//!
//! The client makes an Ed25519 key pair; the district's issuer blind-signs
//! (RFC 9474, RSABSSA-SHA384-PSS-Randomized) the credential message
//! `"tallyboard/v1/credential\n" ‖ fingerprint ‖ credential public key` after
//! checking the voter's enrollment code, without ever seeing the key it signs.
//! The finalized signature is checked against the district's key *from the
//! manifest the client replayed*, not a key the issuer hands out.
//!
//! # Credential file (`spec/client.md` §3.2)
//!
//! UTF-8 text, mode 0600, lines ending in `\n`, in this order:
//!
//! ```text
//! tallyboard/v1/credential
//! election <64 hex: election fingerprint>
//! district <district id>
//! secret-key <64 hex: Ed25519 seed>
//! public-key <64 hex: Ed25519 public key>
//! signature <base64: RFC 9474 signature, modulus-sized>
//! randomizer <64 hex: RFC 9474 message randomizer>
//! ```

use std::io::Write as _;
use std::path::Path;

use std::collections::BTreeMap;

use base64::Engine as _;
use ed25519_dalek::{SigningKey, VerifyingKey};
use tallyboard_issuer_client::client::obtain_credential_with;
use tallyboard_issuer_client::{EnrollmentCode, IssuerPublicKey, ObtainError};
use tallyboard_protocol::credential::verify_credential;
use tonic::transport::Channel;
use zeroize::{Zeroize, Zeroizing};

use crate::election::Election;
use crate::error::ClientError;

/// First line of a credential file.
pub const CREDENTIAL_FILE_HEADER: &str = "tallyboard/v1/credential";

/// Largest credential file read.
const MAX_CREDENTIAL_FILE: u64 = 8 * 1024;

/// A voter's credential: the Ed25519 signing key (zeroized on drop) and the
/// issuer's blind RSA signature on its public key for one election and
/// district. `Debug` never prints the key.
#[derive(Clone)]
pub struct Credential {
    key: SigningKey,
    election: [u8; 32],
    district: String,
    signature: Vec<u8>,
    randomizer: Vec<u8>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("district", &self.district)
            .field(
                "public_key",
                &hex::encode(self.key.verifying_key().as_bytes()),
            )
            .field("election", &hex::encode(self.election))
            .field("key", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

impl Credential {
    /// A credential from its parts (e.g. issued by other means). Check it
    /// with [`Credential::verify`] before use; [`crate::prepare`] does.
    pub fn new(
        key: SigningKey,
        election_fingerprint: [u8; 32],
        district: impl Into<String>,
        signature: Vec<u8>,
        randomizer: Vec<u8>,
    ) -> Self {
        Credential {
            key,
            election: election_fingerprint,
            district: district.into(),
            signature,
            randomizer,
        }
    }

    /// The credential public key (the author key of the voter's ballots).
    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }
    /// The voter's district.
    pub fn district(&self) -> &str {
        &self.district
    }
    /// The fingerprint of the election it was issued for.
    pub fn election_fingerprint(&self) -> &[u8; 32] {
        &self.election
    }
    /// The issuer's RFC 9474 signature.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }
    /// The RFC 9474 message randomizer.
    pub fn randomizer(&self) -> &[u8] {
        &self.randomizer
    }
    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// Checks that the credential is for `election`, names one of its
    /// districts, and carries a valid signature by that district's issuer
    /// key as the replayed manifest gives it.
    pub fn verify(&self, election: &Election) -> Result<(), ClientError> {
        let m = &election.manifest;
        if self.election != m.fingerprint {
            return Err(ClientError::Credential(format!(
                "issued for election {}, this is election {} ({})",
                hex::encode(self.election),
                hex::encode(m.fingerprint),
                m.raw.election_id
            )));
        }
        let d = *m.districts.get(&self.district).ok_or_else(|| {
            ClientError::Credential(format!("unknown district {:?}", self.district))
        })?;
        verify_credential(
            &m.issuer_keys[d],
            &m.fingerprint,
            self.key.verifying_key().as_bytes(),
            &self.signature,
            &self.randomizer,
        )
        .map_err(|e| ClientError::Credential(format!("district {}: {e}", self.district)))
    }

    /// The credential file text (see the module docs).
    pub fn to_file_string(&self) -> Zeroizing<String> {
        let raw = Zeroizing::new(self.key.to_bytes());
        let mut seed = Zeroizing::new(hex::encode(raw.as_slice()));
        let s = Zeroizing::new(format!(
            "{CREDENTIAL_FILE_HEADER}\nelection {}\ndistrict {}\nsecret-key {}\npublic-key {}\nsignature {}\nrandomizer {}\n",
            hex::encode(self.election),
            self.district,
            seed.as_str(),
            hex::encode(self.key.verifying_key().as_bytes()),
            base64::engine::general_purpose::STANDARD.encode(&self.signature),
            hex::encode(&self.randomizer),
        ));
        seed.zeroize();
        s
    }

    /// Parses a credential file (strictly: the lines of the module docs, in
    /// order; the public key must match the secret key).
    pub fn from_file_str(text: &str) -> Result<Self, ClientError> {
        let bad = |m: &str| ClientError::Credential(format!("malformed credential file: {m}"));
        let mut lines = text.split_inclusive('\n');
        let mut field = |name: &str| -> Result<&str, ClientError> {
            let line = lines
                .next()
                .and_then(|l| l.strip_suffix('\n'))
                .ok_or_else(|| bad(&format!("missing line {name:?}")))?;
            if name == CREDENTIAL_FILE_HEADER {
                return if line == name {
                    Ok("")
                } else {
                    Err(bad("not a tallyboard credential file"))
                };
            }
            line.strip_prefix(name)
                .and_then(|r| r.strip_prefix(' '))
                .ok_or_else(|| bad(&format!("expected line {name:?}")))
        };
        field(CREDENTIAL_FILE_HEADER)?;
        let election = hex32(field("election")?).ok_or_else(|| bad("election"))?;
        let district = field("district")?.to_owned();
        if district.is_empty()
            || district
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(bad("district"));
        }
        let mut seed =
            Zeroizing::new(hex32(field("secret-key")?).ok_or_else(|| bad("secret-key"))?);
        let key = SigningKey::from_bytes(&seed);
        seed.zeroize();
        let public = hex32(field("public-key")?).ok_or_else(|| bad("public-key"))?;
        if public != key.verifying_key().to_bytes() {
            return Err(bad("public-key does not match secret-key"));
        }
        let signature = base64::engine::general_purpose::STANDARD
            .decode(field("signature")?)
            .map_err(|_| bad("signature"))?;
        let randomizer = hex32(field("randomizer")?)
            .ok_or_else(|| bad("randomizer"))?
            .to_vec();
        if lines.next().is_some() {
            return Err(bad("trailing data"));
        }
        Ok(Credential {
            key,
            election,
            district,
            signature,
            randomizer,
        })
    }

    /// Writes the credential file at `path` with mode 0600. Refuses to
    /// overwrite an existing file: a credential cannot be issued twice, so
    /// losing one loses the vote.
    pub fn save(&self, path: &Path) -> Result<(), ClientError> {
        write_private_file(path, self.to_file_string().as_bytes())
    }

    /// Reads a credential file. Refuses a file readable or writable by group
    /// or others.
    pub fn load(path: &Path) -> Result<Self, ClientError> {
        let buf = read_private_file(path, MAX_CREDENTIAL_FILE)?;
        let text = std::str::from_utf8(&buf)
            .map_err(|_| ClientError::Credential("credential file is not UTF-8".into()))?;
        Self::from_file_str(text)
    }
}

/// Writes a secret file: created with mode 0600, never over an existing
/// file, synced to disk.
pub(crate) fn write_private_file(path: &Path, bytes: &[u8]) -> Result<(), ClientError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(ClientError::io("create", path))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(ClientError::io("write", path))
}

/// Reads a secret file of at most `max` bytes, refusing one readable or
/// writable by group or others.
pub(crate) fn read_private_file(path: &Path, max: u64) -> Result<Zeroizing<Vec<u8>>, ClientError> {
    use std::io::Read as _;
    let f = std::fs::File::open(path).map_err(ClientError::io("open", path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = f
            .metadata()
            .map_err(ClientError::io("stat", path))?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(ClientError::Credential(format!(
                "{} has mode {mode:o}; a secret file must not be accessible by group or others (chmod 600)",
                path.display()
            )));
        }
    }
    let mut buf = Zeroizing::new(Vec::new());
    f.take(max + 1)
        .read_to_end(&mut buf)
        .map_err(ClientError::io("read", path))?;
    if buf.len() as u64 > max {
        return Err(ClientError::Credential(format!(
            "{} is too large",
            path.display()
        )));
    }
    Ok(buf)
}

fn hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// Enrolls with the issuer at `issuer_url` (`http://host:port`,
/// `spec/client.md` §3.1): makes a credential key, has the issuer
/// blind-sign it after checking the voter's enrollment code, and checks the
/// result under the district key of the replayed manifest. The election must
/// have a single district; otherwise use [`enroll_in_district`] with the
/// district of the voter's enrollment letter (the key to blind with depends
/// on it).
pub async fn enroll(
    issuer_url: &str,
    voter_id: &str,
    code: &str,
    election: &Election,
) -> Result<Credential, ClientError> {
    let districts = &election.manifest.raw.districts;
    let [only] = districts.as_slice() else {
        return Err(ClientError::Credential(format!(
            "the election has {} districts: name the voter's district",
            districts.len()
        )));
    };
    enroll_in_district(issuer_url, voter_id, code, &only.id, election).await
}

/// [`enroll`] for the voter's `district`.
pub async fn enroll_in_district(
    issuer_url: &str,
    voter_id: &str,
    code: &str,
    district: &str,
    election: &Election,
) -> Result<Credential, ClientError> {
    let channel = connect_issuer(issuer_url).await?;
    enroll_with(channel, voter_id, code, district, election).await
}

/// Connects to an issuer. The channel is cheap to clone: one connection can
/// serve many concurrent enrollments ([`enroll_with`]).
pub async fn connect_issuer(issuer_url: &str) -> Result<Channel, ClientError> {
    let endpoint = tonic::transport::Endpoint::from_shared(issuer_url.to_owned())
        .map_err(|e| ClientError::Issuer(format!("bad issuer URL {issuer_url:?}: {e}")))?
        .connect_timeout(std::time::Duration::from_secs(10))
        .tcp_nodelay(true);
    endpoint
        .connect()
        .await
        .map_err(|e| ClientError::Issuer(format!("cannot connect to {issuer_url}: {e}")))
}

/// The enrollment protocol over an existing issuer channel
/// ([`tallyboard_issuer_client::client::obtain_credential_with`]), with the
/// district key taken from the replayed manifest.
pub async fn enroll_with(
    channel: Channel,
    voter_id: &str,
    code: &str,
    district: &str,
    election: &Election,
) -> Result<Credential, ClientError> {
    let m = &election.manifest;
    let d = *m
        .districts
        .get(district)
        .ok_or_else(|| ClientError::Credential(format!("unknown district {district:?}")))?;
    let key = IssuerPublicKey::from_der(&m.raw.districts[d].issuer_rsa_key)
        .map_err(|e| ClientError::Credential(format!("district {district}'s issuer key: {e}")))?;
    let keys = BTreeMap::from([(district.to_owned(), key)]);
    let code =
        EnrollmentCode::parse(code).map_err(|e| ClientError::Enroll(ObtainError::Code(e)))?;
    let issued = obtain_credential_with(
        channel,
        voter_id,
        &code,
        district,
        &m.fingerprint,
        &keys,
        &mut rand_core::OsRng,
    )
    .await
    .map_err(ClientError::Enroll)?;
    let credential = Credential::new(
        issued.signing_key.clone(),
        m.fingerprint,
        issued.district.clone(),
        issued.signature.clone(),
        issued.randomizer.to_vec(),
    );
    credential.verify(election)?;
    Ok(credential)
}
