//! Witness cosignatures of checkpoints (C2SP tlog-cosignature,
//! `cosignature/v1`, `spec/tlog.md` §14).
//!
//! A cosignature is a note signature line on a checkpoint:
//!
//! ```text
//! — <witness name> base64(key ID (4) || timestamp (8, big-endian) || Ed25519 signature (64))
//! key ID  = SHA-256(name || 0x0A || 0x04 || public key)[:4]
//! message = "cosignature/v1\n" || "time " || decimal(timestamp) || "\n" || note text
//! ```
//!
//! where the note text is the checkpoint's, with its final newline and
//! without any signature line. The timestamp is seconds since the Unix
//! epoch, at most 2^63 − 1. A cosignature states that, at that time, this
//! was the largest checkpoint of the log the witness had checked to be
//! consistent with every earlier one it saw.
//!
//! [`CosignatureVerifier`] is a [`NoteVerifier`], so cosignatures are checked
//! by the same [`Note::verify`](crate::Note::verify) as the board's own
//! signature; [`CosignatureSigner`] is a [`NoteSigner`].

use core::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::{engine::general_purpose::STANDARD as BASE64, Engine as _};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use crate::note::{
    is_valid_key_name, key_id, KeyError, Note, NoteSignature, NoteSigner, NoteVerifier,
};

/// Signature type byte of Ed25519 cosignatures (C2SP signed-note, `0x04`).
pub const SIG_TYPE_COSIGNATURE_V1: u8 = 0x04;

/// First line of the signed message.
const HEADER: &str = "cosignature/v1\n";

/// Bytes of a cosignature after the key ID: timestamp and Ed25519 signature.
pub const COSIGNATURE_BYTES: usize = 8 + 64;

/// The message a `cosignature/v1` signature covers (`spec/tlog.md` §14.1).
pub fn cosigned_message(note_text: &[u8], timestamp: u64) -> Vec<u8> {
    let time = format!("time {timestamp}\n");
    let mut msg = Vec::with_capacity(HEADER.len() + time.len() + note_text.len());
    msg.extend_from_slice(HEADER.as_bytes());
    msg.extend_from_slice(time.as_bytes());
    msg.extend_from_slice(note_text);
    msg
}

/// Splits a cosignature (after its key ID) into its timestamp and Ed25519
/// signature; `None` unless it is exactly 72 bytes with a timestamp below
/// 2^63.
pub fn split_cosignature(sig: &[u8]) -> Option<(u64, Signature)> {
    if sig.len() != COSIGNATURE_BYTES {
        return None;
    }
    let (ts, sig) = sig.split_at(8);
    let ts = u64::from_be_bytes(ts.try_into().ok()?);
    if ts > i64::MAX as u64 {
        return None;
    }
    Some((ts, Signature::from_slice(sig).ok()?))
}

/// A witness's public cosignature key under its name.
#[derive(Clone, PartialEq, Eq)]
pub struct CosignatureVerifier {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl CosignatureVerifier {
    /// A verifier for the witness `name` with Ed25519 key `key`; refuses
    /// invalid names and small-order keys.
    pub fn new(name: &str, key: VerifyingKey) -> Result<Self, KeyError> {
        if !is_valid_key_name(name) {
            return Err(KeyError::InvalidName);
        }
        if key.is_weak() {
            return Err(KeyError::InvalidPublicKey);
        }
        Ok(CosignatureVerifier {
            name: name.to_owned(),
            key_id: key_id(name, SIG_TYPE_COSIGNATURE_V1, key.as_bytes()),
            key,
        })
    }

    /// A verifier from the 32 key bytes of a manifest witness.
    pub fn from_bytes(name: &str, key: &[u8]) -> Result<Self, KeyError> {
        let key: [u8; 32] = key.try_into().map_err(|_| KeyError::Malformed)?;
        let key = VerifyingKey::from_bytes(&key).map_err(|_| KeyError::InvalidPublicKey)?;
        Self::new(name, key)
    }

    /// Parses a verifier key `name+hex8+base64(0x04 || key)`.
    pub fn from_vkey(vkey: &str) -> Result<Self, KeyError> {
        let (name, id, key) = crate::note::split_vkey(vkey, SIG_TYPE_COSIGNATURE_V1)?;
        let v = Self::from_bytes(name, &key)?;
        if v.key_id != id {
            return Err(KeyError::KeyIdMismatch);
        }
        Ok(v)
    }

    /// The verifier key string `name+hex8+base64(0x04 || key)`.
    pub fn to_vkey(&self) -> String {
        let mut key = Vec::with_capacity(33);
        key.push(SIG_TYPE_COSIGNATURE_V1);
        key.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.key_id, BASE64.encode(key))
    }

    /// The Ed25519 public key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// The signature lines of `note` with this witness's name and key ID.
    pub fn lines_of<'a>(&'a self, note: &'a Note) -> impl Iterator<Item = &'a NoteSignature> {
        note.signatures()
            .iter()
            .filter(|s| s.name() == self.name && s.key_id() == self.key_id)
    }

    /// Whether `note` carries a valid cosignature of this witness
    /// (`spec/tlog.md` §14.3).
    pub fn cosigned(&self, note: &Note) -> bool {
        self.lines_of(note).any(|s| {
            self.verify_timestamp(note.text().as_bytes(), s.signature())
                .is_some()
        })
    }

    /// The timestamp of `sig` if it is a valid cosignature of `note_text`.
    pub fn verify_timestamp(&self, note_text: &[u8], sig: &[u8]) -> Option<u64> {
        let (ts, signature) = split_cosignature(sig)?;
        self.key
            .verify_strict(&cosigned_message(note_text, ts), &signature)
            .ok()
            .map(|()| ts)
    }
}

impl NoteVerifier for CosignatureVerifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.key_id
    }
    /// `cosignature/v1` verification: the same strict RFC 8032 rule as
    /// checkpoint signatures (`spec/tlog.md` §6.3), over
    /// [`cosigned_message`].
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        self.verify_timestamp(msg, sig).is_some()
    }
}

impl fmt::Debug for CosignatureVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CosignatureVerifier")
            .field(&self.to_vkey())
            .finish()
    }
}

impl fmt::Display for CosignatureVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_vkey())
    }
}

/// A witness's signing key. Signs with the current time, or a given one
/// ([`CosignatureSigner::at`]). The secret is zeroized on drop by
/// `ed25519-dalek` and never printed.
pub struct CosignatureSigner {
    name: String,
    key_id: u32,
    key: SigningKey,
    fixed_time: Option<u64>,
}

impl CosignatureSigner {
    /// A signer for the witness `name`.
    pub fn new(name: &str, key: SigningKey) -> Result<Self, KeyError> {
        if !is_valid_key_name(name) {
            return Err(KeyError::InvalidName);
        }
        let public = key.verifying_key();
        Ok(CosignatureSigner {
            name: name.to_owned(),
            key_id: key_id(name, SIG_TYPE_COSIGNATURE_V1, public.as_bytes()),
            key,
            fixed_time: None,
        })
    }

    /// The same signer, signing with timestamp `timestamp` (tests, vectors).
    pub fn at(mut self, timestamp: u64) -> Self {
        self.fixed_time = Some(timestamp.min(i64::MAX as u64));
        self
    }

    /// The matching verifier.
    pub fn verifier(&self) -> CosignatureVerifier {
        CosignatureVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }
}

impl NoteSigner for CosignatureSigner {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.key_id
    }
    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let ts = self.fixed_time.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        });
        let sig = self.key.sign(&cosigned_message(msg, ts));
        let mut out = Vec::with_capacity(COSIGNATURE_BYTES);
        out.extend_from_slice(&ts.to_be_bytes());
        out.extend_from_slice(&sig.to_bytes());
        out
    }
}

impl fmt::Debug for CosignatureSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CosignatureSigner")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .field("key", &format_args!("[REDACTED]"))
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::note::{Note, NoteError};
    use crate::{Checkpoint, Ed25519Signer, Hash};

    fn witness(seed: u8) -> CosignatureSigner {
        CosignatureSigner::new(
            "witness.example.org/w1",
            SigningKey::from_bytes(&[seed; 32]),
        )
        .unwrap()
    }

    #[test]
    fn c2sp_example_parses_and_key_id_is_type_0x04() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/data/tlog-vectors/C2SP/tlog-cosignature/example-cosigned.checkpoint"
        );
        let Ok(bytes) = std::fs::read(path) else {
            panic!("the C2SP vectors are missing at {path}");
        };
        let note = Note::parse(&bytes).unwrap();
        let cosig = &note.signatures()[1];
        assert_eq!(cosig.name(), "witness.example.com/w1");
        // timestamp || signature after the key ID.
        let (ts, _) = split_cosignature(cosig.signature()).unwrap();
        assert_eq!(ts, 1_679_315_147);
    }

    #[test]
    fn cosign_then_verify_and_tamper() {
        let board = Ed25519Signer::new("tallyboard/t", SigningKey::from_bytes(&[1; 32])).unwrap();
        let cp = Checkpoint::new("tallyboard/t", 5, Hash([7; 32])).unwrap();
        let mut note = cp.sign(&board).unwrap().note().clone();
        let w = witness(9).at(1_700_000_000);
        note.sign(&w).unwrap();
        let v = w.verifier();
        let bytes = note.to_bytes();
        let parsed = Note::parse(&bytes).unwrap();
        let ok = parsed.verify(&[&v]).unwrap();
        assert_eq!(ok.len(), 1);
        assert_eq!(
            v.verify_timestamp(parsed.text().as_bytes(), ok[0].signature()),
            Some(1_700_000_000)
        );
        // Round trip of the verifier key.
        assert_eq!(CosignatureVerifier::from_vkey(&v.to_vkey()).unwrap(), v);
        // The board key does not verify as a cosigner and vice versa.
        assert!(parsed.verify(&[&board.verifier()]).is_ok());
        // Another witness key under the same name: ignored (key ID differs).
        let other = witness(10).verifier();
        assert!(matches!(
            parsed.verify(&[&other]),
            Err(NoteError::NoKnownSignature)
        ));
        // A changed timestamp breaks the signature.
        let sig = ok[0].signature();
        let mut bad = sig.to_vec();
        bad[7] ^= 1;
        assert!(!v.verify(parsed.text().as_bytes(), &bad));
        // A changed text breaks it.
        assert!(!v.verify(b"tallyboard/t\n6\nAAAA\n", sig));
        // Wrong lengths and timestamps above 2^63 - 1 are refused.
        assert!(!v.verify(parsed.text().as_bytes(), &sig[..71]));
        let mut big = sig.to_vec();
        big[0] = 0x80;
        assert!(split_cosignature(&big).is_none());
    }

    #[test]
    fn vkey_type_is_checked() {
        let v = witness(3).verifier();
        let ed = Ed25519Signer::new("witness.example.org/w1", SigningKey::from_bytes(&[3; 32]))
            .unwrap()
            .verifier()
            .to_vkey();
        assert!(matches!(
            CosignatureVerifier::from_vkey(&ed),
            Err(KeyError::UnsupportedType(1))
        ));
        assert!(v.to_vkey().starts_with("witness.example.org/w1+"));
    }
}
