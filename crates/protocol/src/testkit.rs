//! Builders of valid entries, for clients, tools and tests
//! (`spec/record.md` §2). Every builder signs with the given key.

use ed25519_dalek::SigningKey;
use tallyboard_proto::v1;
use v1::entry_body::Payload;

use crate::entry::sign_entry;
use crate::manifest::fingerprint;
use crate::state::BoardIdentity;

/// Current time in ms since the Unix epoch (0 if the clock is before 1970).
pub fn now_unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Signs a body with `payload` for election `election_id` / `fingerprint`.
pub fn entry(
    key: &SigningKey,
    election_id: &str,
    fingerprint: [u8; 32],
    payload: Payload,
) -> Vec<u8> {
    sign_entry(
        key,
        v1::EntryBody {
            election_id: election_id.to_string(),
            election_fingerprint: fingerprint.to_vec(),
            created_unix_ms: now_unix_ms(),
            author_key: Vec::new(),
            payload: Some(payload),
        },
    )
}

/// Signs the manifest entry (empty fingerprint) and returns its bytes with the
/// election fingerprint it defines.
pub fn manifest_entry(admin: &SigningKey, manifest: v1::Manifest) -> (Vec<u8>, [u8; 32]) {
    let body = v1::EntryBody {
        election_id: manifest.election_id.clone(),
        election_fingerprint: Vec::new(),
        created_unix_ms: now_unix_ms(),
        author_key: admin.verifying_key().to_bytes().to_vec(),
        payload: Some(Payload::Manifest(manifest)),
    };
    let bytes = sign_entry(admin, body.clone());
    let body_bytes = prost::Message::encode_to_vec(&body);
    (bytes, fingerprint(&body_bytes))
}

/// A small but complete manifest for tests: one district, one one-of-3
/// contest, three trustees with threshold two, all keys derived from `seed`.
pub fn sample_manifest(admin: &SigningKey, board: &BoardIdentity, seed: u8) -> v1::Manifest {
    let trustees = (1..=3u8)
        .map(|i| {
            let signing = SigningKey::from_bytes(&[seed ^ 0x40 ^ i; 32]);
            v1::Trustee {
                index: u32::from(i),
                name: format!("trustee-{i}"),
                signing_key: signing.verifying_key().to_bytes().to_vec(),
            }
        })
        .collect();
    let issuer = SigningKey::from_bytes(&[seed ^ 0x80; 32]);
    v1::Manifest {
        election_id: format!("test-{seed}"),
        title: "Test election".into(),
        admin_key: admin.verifying_key().to_bytes().to_vec(),
        trustees: Some(v1::TrusteeSet {
            threshold: 2,
            trustees,
        }),
        districts: vec![v1::District {
            id: "d1".into(),
            name: "District 1".into(),
            issuer_rsa_key: sample_issuer_rsa().pk.to_der().unwrap_or_default(),
            delegates: 0,
            sde_weight: String::new(),
        }],
        contests: vec![v1::Contest {
            id: "c1".into(),
            title: "Contest 1".into(),
            options: ["a", "b", "c"]
                .iter()
                .map(|o| v1::ContestOption {
                    id: (*o).into(),
                    title: o.to_uppercase(),
                })
                .collect(),
            rule: Some(v1::ContestRule {
                kind: Some(v1::contest_rule::Kind::OneOfN(v1::OneOfN {})),
            }),
            districts: Vec::new(),
        }],
        revote_policy: v1::RevotePolicy::LastCounts as i32,
        voting_opens_unix_ms: 0,
        voting_closes_unix_ms: 0,
        issuer_signing_key: issuer.verifying_key().to_bytes().to_vec(),
        board_origin: board.origin.clone(),
        board_key: board.key.to_bytes().to_vec(),
        caucus: None,
    }
}

/// The issuer signing key matching [`sample_manifest`] with the same seed.
pub fn sample_issuer_key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed ^ 0x80; 32])
}

/// An administrator notice.
pub fn notice_entry(
    admin: &SigningKey,
    election_id: &str,
    fingerprint: [u8; 32],
    text: &str,
) -> Vec<u8> {
    entry(
        admin,
        election_id,
        fingerprint,
        Payload::Notice(v1::Notice {
            text: text.to_string(),
        }),
    )
}

/// A phase change.
pub fn phase_entry(
    admin: &SigningKey,
    election_id: &str,
    fingerprint: [u8; 32],
    phase: v1::Phase,
) -> Vec<u8> {
    entry(
        admin,
        election_id,
        fingerprint,
        Payload::PhaseChange(v1::PhaseChange {
            phase: phase as i32,
        }),
    )
}

/// A 2048-bit RSA issuer key pair for tests, generated once per process.
pub fn sample_issuer_rsa() -> &'static blind_rsa_signatures::KeyPair {
    static KP: std::sync::OnceLock<blind_rsa_signatures::KeyPair> = std::sync::OnceLock::new();
    KP.get_or_init(|| {
        blind_rsa_signatures::KeyPair::generate(&mut blind_rsa_signatures::DefaultRng, 2048)
            .unwrap_or_else(|e| panic!("RSA key generation failed: {e}"))
    })
}

/// The signing key of trustee `i` (1-based) of [`sample_manifest`] with `seed`.
pub fn sample_trustee_key(seed: u8, i: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed ^ 0x40 ^ i; 32])
}

/// A credential for [`sample_manifest`]'s district `d1`, issued (blindly) by
/// [`sample_issuer_rsa`]: the credential key, the signature and randomizer.
pub fn sample_credential(fingerprint: &[u8; 32], seed: u64) -> (SigningKey, Vec<u8>, Vec<u8>) {
    use blind_rsa_signatures::DefaultRng;
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8] = 0xc7;
    let key = SigningKey::from_bytes(&bytes);
    let kp = sample_issuer_rsa();
    let opts = crate::credential::credential_options();
    let msg = crate::credential::credential_message(fingerprint, &key.verifying_key().to_bytes());
    let blinded = kp
        .pk
        .blind(&mut DefaultRng, &msg, true, &opts)
        .unwrap_or_else(|e| panic!("blind: {e}"));
    let blind_sig = kp
        .sk
        .blind_sign(&mut DefaultRng, &blinded.blind_msg, &opts)
        .unwrap_or_else(|e| panic!("blind_sign: {e}"));
    let sig = kp
        .pk
        .finalize(
            &blind_sig,
            &blinded.secret,
            blinded.msg_randomizer,
            &msg,
            &opts,
        )
        .unwrap_or_else(|e| panic!("finalize: {e}"));
    let randomizer = blinded
        .msg_randomizer
        .map(|r| r.0.to_vec())
        .unwrap_or_default();
    (key, sig.0, randomizer)
}
