//! Entries: decoding, signing and signature checking (`spec/record.md` §2).
//!
//! The leaf input of the log is the serialized [`v1::Entry`] exactly as the
//! author sent it. `Entry.body` is a serialized [`v1::EntryBody`]; the author
//! signs
//!
//! ```text
//! "tallyboard/v1/entry-signature\n" ‖ SHA-256(body)
//! ```
//!
//! with Ed25519 (RFC 8032, verified in strict mode: non-canonical and
//! small-order keys and signatures are refused). Decoders parse the stored
//! bytes and never re-encode them.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use prost::Message;
use sha2::{Digest, Sha256};
use tallyboard_proto::v1;

use crate::error::{invalid, too_big, RuleError};
use crate::rules;

/// Domain prefix of entry signatures.
pub const ENTRY_SIGNATURE_DST: &[u8] = b"tallyboard/v1/entry-signature\n";

/// Largest serialized entry the record accepts (`spec/record.md` §2.1).
pub const MAX_ENTRY_BYTES: usize = 256 * 1024;

/// A 32-byte SHA-256 digest.
pub type Digest32 = [u8; 32];

/// The message an entry's author signs: the domain prefix and SHA-256 of the body.
pub fn signing_message(body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(ENTRY_SIGNATURE_DST.len() + 32);
    m.extend_from_slice(ENTRY_SIGNATURE_DST);
    m.extend_from_slice(&Sha256::digest(body));
    m
}

/// Serializes `body` and signs it with `key`, returning the exact entry bytes
/// to append. Sets `body.author_key` to `key`'s public key.
pub fn sign_entry(key: &SigningKey, mut body: v1::EntryBody) -> Vec<u8> {
    body.author_key = key.verifying_key().to_bytes().to_vec();
    let body_bytes = body.encode_to_vec();
    let signature = key.sign(&signing_message(&body_bytes));
    v1::Entry {
        body: body_bytes,
        signature: signature.to_bytes().to_vec(),
    }
    .encode_to_vec()
}

/// An entry whose framing, encoding and signature are valid, decoded once.
#[derive(Debug, Clone)]
pub struct DecodedEntry {
    /// The exact stored bytes.
    pub bytes: Vec<u8>,
    /// The exact body bytes (`Entry.body`).
    pub body_bytes: Vec<u8>,
    /// SHA-256 of the body bytes (replay detection, `spec/record.md` §2.4).
    pub body_hash: Digest32,
    /// The decoded body.
    pub body: v1::EntryBody,
    /// The author's key (already checked to have signed).
    pub author: VerifyingKey,
}

impl DecodedEntry {
    /// The payload (always present in a decoded entry).
    pub fn payload(&self) -> Option<&v1::entry_body::Payload> {
        self.body.payload.as_ref()
    }
}

/// Parses a 32-byte Ed25519 public key (canonical, not small order is checked
/// when verifying).
pub fn parse_verifying_key(
    bytes: &[u8],
    rule: &'static str,
    what: &str,
) -> Result<VerifyingKey, RuleError> {
    let arr: [u8; 32] = bytes.try_into().map_err(|_| {
        invalid(
            rule,
            format!("{what}: Ed25519 key must be 32 bytes, got {}", bytes.len()),
        )
    })?;
    let key = VerifyingKey::from_bytes(&arr)
        .map_err(|_| invalid(rule, format!("{what}: not a valid Ed25519 key")))?;
    if key.is_weak() {
        return Err(invalid(rule, format!("{what}: Ed25519 key of small order")));
    }
    Ok(key)
}

/// Decodes an entry and checks its author's signature (rules R1.1–R1.3).
/// Says nothing about whether the author may post it.
pub fn decode_entry(bytes: &[u8]) -> Result<DecodedEntry, RuleError> {
    if bytes.len() > MAX_ENTRY_BYTES {
        return Err(too_big(
            rules::ENTRY_SIZE,
            format!(
                "entry is {} bytes, the limit is {MAX_ENTRY_BYTES}",
                bytes.len()
            ),
        ));
    }
    let entry = v1::Entry::decode(bytes)
        .map_err(|e| invalid(rules::ENTRY_DECODE, format!("entry: {e}")))?;
    let body = v1::EntryBody::decode(entry.body.as_slice())
        .map_err(|e| invalid(rules::ENTRY_DECODE, format!("entry body: {e}")))?;
    if body.payload.is_none() {
        return Err(invalid(
            rules::ENTRY_DECODE,
            "entry body has no payload (or an unknown payload type)",
        ));
    }
    let author = parse_verifying_key(&body.author_key, rules::ENTRY_SIGNATURE, "author key")?;
    let sig_bytes: [u8; 64] = entry.signature.as_slice().try_into().map_err(|_| {
        invalid(
            rules::ENTRY_SIGNATURE,
            format!("signature must be 64 bytes, got {}", entry.signature.len()),
        )
    })?;
    let signature = Signature::from_bytes(&sig_bytes);
    author
        .verify_strict(&signing_message(&entry.body), &signature)
        .map_err(|_| {
            invalid(
                rules::ENTRY_SIGNATURE,
                "signature does not verify under the author key",
            )
        })?;
    Ok(DecodedEntry {
        bytes: bytes.to_vec(),
        body_hash: Sha256::digest(&entry.body).into(),
        body_bytes: entry.body,
        body,
        author,
    })
}

/// Name of a payload type, for messages.
pub fn payload_name(p: &v1::entry_body::Payload) -> &'static str {
    use v1::entry_body::Payload as P;
    match p {
        P::Manifest(_) => "manifest",
        P::PhaseChange(_) => "phase_change",
        P::Dkg(_) => "dkg",
        P::ElectionKey(_) => "election_key",
        P::Issuance(_) => "issuance",
        P::Ballot(_) => "ballot",
        P::ChallengedBallot(_) => "challenged_ballot",
        P::EncryptedTally(_) => "encrypted_tally",
        P::PartialDecryption(_) => "partial_decryption",
        P::Result(_) => "result",
        P::CaucusViability(_) => "caucus_viability",
        P::CaucusApportionment(_) => "caucus_apportionment",
        P::Notice(_) => "notice",
    }
}
