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
//! with Ed25519 (RFC 8032), verified by the rule of `spec/crypto.md` §10:
//! canonical encodings, no small-order key or `R`, `s < ℓ`, and the
//! cofactored equation, so that checking one entry at a time (the board)
//! and checking thousands in a batch (the verifier) accept the same
//! entries. Decoders parse the stored bytes and never re-encode them.

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use prost::Message;
use sha2::{Digest, Sha256};
use tallyboard_crypto::ed25519::{vartime_is_canonical_y, PreparedSignature};
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
    signing_message_of_hash(&Sha256::digest(body).into())
}

/// [`signing_message`] given SHA-256 of the body.
fn signing_message_of_hash(body_hash: &Digest32) -> Vec<u8> {
    let mut m = Vec::with_capacity(ENTRY_SIGNATURE_DST.len() + 32);
    m.extend_from_slice(ENTRY_SIGNATURE_DST);
    m.extend_from_slice(body_hash);
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

/// Parses a 32-byte Ed25519 public key under rule 1 of `spec/crypto.md`
/// §10.1: a canonical encoding of a curve point not of small order.
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
    if !vartime_is_canonical_y(&arr) {
        return Err(invalid(
            rule,
            format!("{what}: not a canonical Ed25519 point encoding"),
        ));
    }
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
    let (entry, signature) = decode_entry_deferred(bytes)?;
    if signature.vartime_verify() {
        Ok(entry)
    } else {
        Err(bad_entry_signature())
    }
}

/// [`decode_entry`] without the last step, the signature equation
/// (`spec/crypto.md` §10.1 rule 3): every other check of R1.1–R1.3 is made,
/// and the signature is returned ready to be verified alone or in a
/// [`SignatureBatch`](tallyboard_crypto::ed25519::SignatureBatch) with
/// others. The entry is valid exactly when this succeeds and the signature
/// verifies; if it does not, the error is [`bad_entry_signature`], as from
/// `decode_entry`. For verifiers of large records (`spec/checks.md` §11).
pub fn decode_entry_deferred(bytes: &[u8]) -> Result<(DecodedEntry, PreparedSignature), RuleError> {
    decode_entry_deferred_with(bytes, &mut AuthorKeys::default())
}

/// Author keys already parsed, so that the entries of an author who posts
/// many (the issuer's issuance entries, the trustees', the
/// administrator's) decompress its key once. Ballot authors are
/// credential keys, each used for about one entry: they are not kept.
#[derive(Default)]
pub struct AuthorKeys(Vec<VerifyingKey>);

impl AuthorKeys {
    /// Most keys kept (the oldest is dropped first).
    const MAX: usize = 8;

    fn parse(&mut self, bytes: &[u8], keep: bool) -> Result<VerifyingKey, RuleError> {
        if let Some(k) = self.0.iter().find(|k| k.as_bytes().as_slice() == bytes) {
            return Ok(*k);
        }
        let key = parse_verifying_key(bytes, rules::ENTRY_SIGNATURE, "author key")?;
        if keep {
            if self.0.len() == Self::MAX {
                self.0.remove(0);
            }
            self.0.push(key);
        }
        Ok(key)
    }
}

/// [`decode_entry_deferred`] with a cache of author keys, for callers that
/// decode many entries.
pub fn decode_entry_deferred_with(
    bytes: &[u8],
    keys: &mut AuthorKeys,
) -> Result<(DecodedEntry, PreparedSignature), RuleError> {
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
    let is_ballot = matches!(
        body.payload,
        Some(v1::entry_body::Payload::Ballot(_) | v1::entry_body::Payload::ChallengedBallot(_))
    );
    let author = keys.parse(&body.author_key, !is_ballot)?;
    let sig_bytes: [u8; 64] = entry.signature.as_slice().try_into().map_err(|_| {
        invalid(
            rules::ENTRY_SIGNATURE,
            format!("signature must be 64 bytes, got {}", entry.signature.len()),
        )
    })?;
    let body_hash: Digest32 = Sha256::digest(&entry.body).into();
    let signature = PreparedSignature::vartime_new(
        author.as_bytes(),
        &author.to_edwards(),
        &signing_message_of_hash(&body_hash),
        &sig_bytes,
    )
    .map_err(|e| invalid(rules::ENTRY_SIGNATURE, format!("entry signature: {e}")))?;
    Ok((
        DecodedEntry {
            bytes: bytes.to_vec(),
            body_hash,
            body_bytes: entry.body,
            body,
            author,
        },
        signature,
    ))
}

/// The error of an entry whose signature equation does not hold (R1.3).
pub fn bad_entry_signature() -> RuleError {
    invalid(
        rules::ENTRY_SIGNATURE,
        "signature does not verify under the author key",
    )
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
