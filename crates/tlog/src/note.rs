//! C2SP signed notes (<https://c2sp.org/signed-note>, `spec/tlog.md` §6).
//!
//! ```text
//! <text, ending in a newline>
//! <blank line>
//! — <key name> base64(key ID (4 bytes, big-endian) || signature)
//! — ...
//! ```
//!
//! Parsing ([`Note::parse`]) is syntax only; [`open`] parses and verifies
//! against a set of trusted [`NoteVerifier`]s: signatures from unknown keys
//! are ignored, a signature from a known key that fails to verify rejects the
//! whole note, and at least one known key must have signed.
//!
//! Parsing is strict so that a parsed note re-serializes to exactly the bytes
//! it was parsed from ([`Note::to_bytes`]): base64 must be canonical and
//! padded.

use core::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// Maximum size of an encoded note in bytes, signatures included: 1 MiB
/// (`spec/tlog.md` §6.5).
pub const MAX_NOTE_SIZE: usize = 1 << 20;

/// Maximum number of signature lines in a note: 100 (`spec/tlog.md` §6.5).
/// The C2SP spec requires accepting at least 16.
pub const MAX_SIGNATURES: usize = 100;

/// Signature type byte of plain Ed25519 note signatures (`spec/tlog.md` §6.3).
pub const SIG_TYPE_ED25519: u8 = 0x01;

/// The em dash and space that start a signature line.
const SIG_PREFIX: &str = "\u{2014} ";

/// Errors of the signed-note layer when handling notes.
/// See `spec/tlog.md` §6.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The encoded note exceeds [`MAX_NOTE_SIZE`].
    #[error("note is {len} bytes, more than the limit of {MAX_NOTE_SIZE}")]
    TooLarge {
        /// Size of the rejected input.
        len: usize,
    },
    /// The note is not valid UTF-8.
    #[error("note is not valid UTF-8")]
    InvalidUtf8,
    /// The note contains an ASCII control character other than newline.
    #[error("note contains a control character other than newline")]
    ControlCharacter,
    /// The note text is empty or does not end with a newline.
    #[error("note text must end with a newline")]
    TextNotNewlineTerminated,
    /// No blank line separating text and signatures, or no signature lines,
    /// or the signature block does not end with a newline.
    #[error("note has no signature block")]
    MissingSignatures,
    /// A signature line is malformed (prefix, key name, base64, length).
    #[error("malformed signature line {line}")]
    MalformedSignature {
        /// Zero-based position of the line in the signature block.
        line: usize,
    },
    /// More than [`MAX_SIGNATURES`] signature lines.
    #[error("note has more than {MAX_SIGNATURES} signatures")]
    TooManySignatures,
    /// A signature by a known key failed to verify.
    #[error("invalid signature by known key {name}+{key_id:08x}")]
    InvalidSignature {
        /// Key name.
        name: String,
        /// Key ID.
        key_id: u32,
    },
    /// No known key signed the note.
    #[error("note has no signature from a known key")]
    NoKnownSignature,
    /// Two trusted verifiers share a key name and key ID and disagree about
    /// a signature (a misconfigured trust list).
    #[error("ambiguous verifiers for key {name}+{key_id:08x}")]
    AmbiguousVerifier {
        /// Key name.
        name: String,
        /// Key ID.
        key_id: u32,
    },
    /// The signer's key name is not a valid key name.
    #[error("invalid key name")]
    InvalidKeyName,
}

/// Errors of the signed-note layer when handling keys.
/// See `spec/tlog.md` §6.4.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Key names must be non-empty, valid UTF-8 without Unicode white space
    /// or `+` (`spec/tlog.md` §6.1).
    #[error("invalid key name")]
    InvalidName,
    /// The verifier key string is not `name+hex8+base64`.
    #[error("malformed verifier key")]
    Malformed,
    /// The verifier key's type byte is not supported.
    #[error("unsupported signature type 0x{0:02x}")]
    UnsupportedType(u8),
    /// The key ID in the verifier key string does not match the key.
    #[error("key ID does not match the key")]
    KeyIdMismatch,
    /// The public key is not a valid, non-weak Ed25519 point.
    #[error("invalid Ed25519 public key")]
    InvalidPublicKey,
}

/// Whether `name` is a valid key name: non-empty, no Unicode white space, no
/// `+` (`spec/tlog.md` §6.1).
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

/// `SHA-256(name || 0x0A || sig_type || public_key)[:4]`, big-endian
/// (`spec/tlog.md` §6.3).
pub fn key_id(name: &str, sig_type: u8, public_key: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', sig_type]);
    h.update(public_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// Splits a verifier key `name+hex8+base64(sig_type || key)`
/// (`spec/tlog.md` §6.4) into its name, key ID and key bytes; the type byte
/// must be `sig_type`. The caller checks the key and that the ID matches.
pub(crate) fn split_vkey(vkey: &str, sig_type: u8) -> Result<(&str, u32, Vec<u8>), KeyError> {
    let mut parts = vkey.splitn(3, '+');
    let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(KeyError::Malformed);
    };
    if !is_valid_key_name(name) {
        return Err(KeyError::InvalidName);
    }
    if id_hex.len() != 8 || !id_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(KeyError::Malformed);
    }
    let id = u32::from_str_radix(id_hex, 16).map_err(|_| KeyError::Malformed)?;
    let raw = BASE64.decode(key_b64).map_err(|_| KeyError::Malformed)?;
    let (&ty, key) = raw.split_first().ok_or(KeyError::Malformed)?;
    if ty != sig_type {
        return Err(KeyError::UnsupportedType(ty));
    }
    Ok((name, id, key.to_vec()))
}

/// A key that can verify note signatures (`spec/tlog.md` §6.2).
pub trait NoteVerifier {
    /// The key name.
    fn name(&self) -> &str;
    /// The 32-bit key ID.
    fn key_id(&self) -> u32;
    /// Whether `sig` (without the 4-byte key ID) is a valid signature of `msg`.
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool;
}

/// A key that can sign notes (`spec/tlog.md` §6.2).
pub trait NoteSigner {
    /// The key name.
    fn name(&self) -> &str;
    /// The 32-bit key ID.
    fn key_id(&self) -> u32;
    /// Signs `msg` (the note text); returns the signature without key ID.
    fn sign(&self, msg: &[u8]) -> Vec<u8>;
}

/// An Ed25519 note verifier (signature type `0x01`, `spec/tlog.md` §6.3).
///
/// Its text form, the *verifier key*, is
/// `<name>+<key ID as 8 lowercase hex digits>+<base64(0x01 || public key)>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Ed25519Verifier {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl Ed25519Verifier {
    /// A verifier for `key` under `name`. Rejects invalid names and weak
    /// (small-order) keys.
    /// See `spec/tlog.md` §6.3.
    pub fn new(name: &str, key: VerifyingKey) -> Result<Self, KeyError> {
        if !is_valid_key_name(name) {
            return Err(KeyError::InvalidName);
        }
        if key.is_weak() {
            return Err(KeyError::InvalidPublicKey);
        }
        Ok(Ed25519Verifier {
            name: name.to_owned(),
            key_id: key_id(name, SIG_TYPE_ED25519, key.as_bytes()),
            key,
        })
    }

    /// Parses a verifier key string `name+hex8+base64(0x01 || key)`
    /// (`spec/tlog.md` §6.4). The key ID must match the key.
    pub fn from_vkey(vkey: &str) -> Result<Self, KeyError> {
        let (name, id, key) = split_vkey(vkey, SIG_TYPE_ED25519)?;
        let key: [u8; 32] = key.as_slice().try_into().map_err(|_| KeyError::Malformed)?;
        let key = VerifyingKey::from_bytes(&key).map_err(|_| KeyError::InvalidPublicKey)?;
        let v = Self::new(name, key)?;
        if v.key_id != id {
            return Err(KeyError::KeyIdMismatch);
        }
        Ok(v)
    }

    /// The verifier key string (`spec/tlog.md` §6.4).
    pub fn to_vkey(&self) -> String {
        let mut key = Vec::with_capacity(33);
        key.push(SIG_TYPE_ED25519);
        key.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.key_id, BASE64.encode(key))
    }

    /// The Ed25519 public key.
    /// See `spec/tlog.md` §6.3.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }
}

impl NoteVerifier for Ed25519Verifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.key_id
    }
    /// RFC 8032 verification in the strict form of `ed25519-dalek`
    /// (`verify_strict`: canonical `S`, no small-order `R` or key).
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = Signature::from_slice(sig) else {
            return false;
        };
        self.key.verify_strict(msg, &sig).is_ok()
    }
}

impl fmt::Debug for Ed25519Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Ed25519Verifier")
            .field(&self.to_vkey())
            .finish()
    }
}

impl fmt::Display for Ed25519Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_vkey())
    }
}

impl core::str::FromStr for Ed25519Verifier {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        Self::from_vkey(s)
    }
}

/// An Ed25519 note signer (signature type `0x01`, `spec/tlog.md` §6.3).
///
/// The secret key is zeroized on drop (by `ed25519-dalek`) and never printed:
/// `Debug` shows only the public verifier key.
pub struct Ed25519Signer {
    name: String,
    key_id: u32,
    key: SigningKey,
}

impl Ed25519Signer {
    /// A signer for `key` under `name`.
    /// See `spec/tlog.md` §6.3.
    pub fn new(name: &str, key: SigningKey) -> Result<Self, KeyError> {
        if !is_valid_key_name(name) {
            return Err(KeyError::InvalidName);
        }
        let public = key.verifying_key();
        Ok(Ed25519Signer {
            name: name.to_owned(),
            key_id: key_id(name, SIG_TYPE_ED25519, public.as_bytes()),
            key,
        })
    }

    /// The matching verifier.
    /// See `spec/tlog.md` §6.4.
    pub fn verifier(&self) -> Ed25519Verifier {
        Ed25519Verifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }
}

impl NoteSigner for Ed25519Signer {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.key_id
    }
    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.key.sign(msg).to_bytes().to_vec()
    }
}

impl fmt::Debug for Ed25519Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ed25519Signer")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .field("key", &format_args!("[REDACTED]"))
            .finish()
    }
}

/// One signature line of a note (`spec/tlog.md` §6.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    name: String,
    key_id: u32,
    signature: Vec<u8>,
}

impl NoteSignature {
    /// Key name of the signer.
    /// See `spec/tlog.md` §6.1.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Key ID of the signer.
    /// See `spec/tlog.md` §6.1.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }
    /// The signature bytes, without the key ID.
    /// See `spec/tlog.md` §6.1.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The signature line, without its final newline:
    /// `— <name> base64(key ID || signature)`.
    /// See `spec/tlog.md` §6.1.
    pub fn to_line(&self) -> String {
        let mut raw = Vec::with_capacity(4 + self.signature.len());
        raw.extend_from_slice(&self.key_id.to_be_bytes());
        raw.extend_from_slice(&self.signature);
        format!("{SIG_PREFIX}{} {}", self.name, BASE64.encode(raw))
    }

    fn parse_line(line: &str, index: usize) -> Result<Self, NoteError> {
        let bad = NoteError::MalformedSignature { line: index };
        let rest = line.strip_prefix(SIG_PREFIX).ok_or(bad.clone())?;
        let (name, b64) = rest.split_once(' ').ok_or(bad.clone())?;
        if !is_valid_key_name(name) || b64.is_empty() {
            return Err(bad);
        }
        let raw = BASE64.decode(b64).map_err(|_| bad.clone())?;
        // Key ID plus at least one byte of signature.
        if raw.len() < 5 {
            return Err(bad);
        }
        let (id, sig) = raw.split_at(4);
        let key_id = u32::from_be_bytes([id[0], id[1], id[2], id[3]]);
        Ok(NoteSignature {
            name: name.to_owned(),
            key_id,
            signature: sig.to_vec(),
        })
    }
}

/// Checks the character rules of `spec/tlog.md` §6.1: no ASCII control
/// character other than newline. (UTF-8 validity is the type's.)
fn check_chars(s: &str) -> Result<(), NoteError> {
    if s.bytes().any(|b| b < 0x20 && b != b'\n') {
        Err(NoteError::ControlCharacter)
    } else {
        Ok(())
    }
}

/// A note: text and signatures (`spec/tlog.md` §6.1), verified or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl Note {
    /// An unsigned note with the given text, which must end with a newline
    /// and contain no control character other than newline.
    /// See `spec/tlog.md` §6.1.
    pub fn new(text: impl Into<String>) -> Result<Self, NoteError> {
        let text = text.into();
        if !text.ends_with('\n') {
            return Err(NoteError::TextNotNewlineTerminated);
        }
        check_chars(&text)?;
        if text.len() >= MAX_NOTE_SIZE {
            return Err(NoteError::TooLarge { len: text.len() });
        }
        Ok(Note {
            text,
            signatures: Vec::new(),
        })
    }

    /// Parses an encoded note without verifying any signature
    /// (`spec/tlog.md` §6.1). Enforces [`MAX_NOTE_SIZE`] and
    /// [`MAX_SIGNATURES`].
    pub fn parse(msg: &[u8]) -> Result<Self, NoteError> {
        if msg.len() > MAX_NOTE_SIZE {
            return Err(NoteError::TooLarge { len: msg.len() });
        }
        let msg = core::str::from_utf8(msg).map_err(|_| NoteError::InvalidUtf8)?;
        check_chars(msg)?;
        // The text ends at the last blank line.
        let split = msg.rfind("\n\n").ok_or(NoteError::MissingSignatures)?;
        let (text, sigs) = (&msg[..split + 1], &msg[split + 2..]);
        let Some(sigs) = sigs.strip_suffix('\n') else {
            return Err(NoteError::MissingSignatures);
        };
        let mut signatures = Vec::new();
        for (i, line) in sigs.split('\n').enumerate() {
            if i >= MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures);
            }
            signatures.push(NoteSignature::parse_line(line, i)?);
        }
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The note text, including its final newline (the signed message).
    /// See `spec/tlog.md` §6.1.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines, in order.
    /// See `spec/tlog.md` §6.1.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Encodes the note: text, blank line, one line per signature
    /// (`spec/tlog.md` §6.1). A note without signatures encodes to its text
    /// and a blank line, which [`Note::parse`] rejects.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::with_capacity(self.text.len() + 1 + 120 * self.signatures.len());
        out.push_str(&self.text);
        out.push('\n');
        for s in &self.signatures {
            out.push_str(&s.to_line());
            out.push('\n');
        }
        out.into_bytes()
    }

    /// Signs the note text with `signer`, replacing any earlier signature by
    /// the same key name and key ID; the new signature goes last.
    /// See `spec/tlog.md` §6.2.
    pub fn sign(&mut self, signer: &dyn NoteSigner) -> Result<(), NoteError> {
        let name = signer.name();
        if !is_valid_key_name(name) {
            return Err(NoteError::InvalidKeyName);
        }
        let id = signer.key_id();
        self.signatures
            .retain(|s| !(s.name == name && s.key_id == id));
        if self.signatures.len() >= MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures);
        }
        let signature = signer.sign(self.text.as_bytes());
        self.signatures.push(NoteSignature {
            name: name.to_owned(),
            key_id: id,
            signature,
        });
        Ok(())
    }

    /// Verifies the note against trusted verifiers (`spec/tlog.md` §6.2).
    ///
    /// Returns the signatures made by known keys, all of which verified.
    /// Signatures whose (name, key ID) matches no verifier are ignored. Fails
    /// if a known key's signature does not verify
    /// ([`NoteError::InvalidSignature`]) or if no known key signed
    /// ([`NoteError::NoKnownSignature`]).
    pub fn verify(
        &self,
        verifiers: &[&dyn NoteVerifier],
    ) -> Result<Vec<&NoteSignature>, NoteError> {
        let mut verified = Vec::new();
        for sig in &self.signatures {
            let mut matching = verifiers
                .iter()
                .filter(|v| v.name() == sig.name && v.key_id() == sig.key_id);
            let Some(v) = matching.next() else {
                continue;
            };
            // Several verifiers for one (name, key ID): every one must accept,
            // which two different keys cannot both do for honest input.
            let others: Vec<_> = matching.collect();
            if !v.verify(self.text.as_bytes(), &sig.signature) {
                return Err(NoteError::InvalidSignature {
                    name: sig.name.clone(),
                    key_id: sig.key_id,
                });
            }
            if others
                .iter()
                .any(|o| !o.verify(self.text.as_bytes(), &sig.signature))
            {
                return Err(NoteError::AmbiguousVerifier {
                    name: sig.name.clone(),
                    key_id: sig.key_id,
                });
            }
            verified.push(sig);
        }
        if verified.is_empty() {
            return Err(NoteError::NoKnownSignature);
        }
        Ok(verified)
    }
}

/// Parses and verifies an encoded note (`spec/tlog.md` §6.2): [`Note::parse`]
/// then [`Note::verify`].
pub fn open(msg: &[u8], verifiers: &[&dyn NoteVerifier]) -> Result<Note, NoteError> {
    let note = Note::parse(msg)?;
    note.verify(verifiers)?;
    Ok(note)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn signer(name: &str, seed: u8) -> Ed25519Signer {
        Ed25519Signer::new(name, SigningKey::from_bytes(&[seed; 32])).unwrap()
    }

    #[test]
    fn go_sumdb_note_example() {
        // The example of golang.org/x/mod/sumdb/note's package documentation.
        let vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
        let msg = "If you think cryptography is the answer to your problem,\n\
                   then you don't know what your problem is.\n\
                   \n\
                   \u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
        let v = Ed25519Verifier::from_vkey(vkey).unwrap();
        assert_eq!(v.to_vkey(), vkey);
        let n = open(msg.as_bytes(), &[&v]).unwrap();
        assert_eq!(n.signatures()[0].key_id(), 0xc74f20a3);
        assert_eq!(n.to_bytes(), msg.as_bytes());

        // The same key signs deterministically (Ed25519).
        let seed = BASE64
            .decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")
            .unwrap();
        let seed: [u8; 32] = seed[1..].try_into().unwrap();
        let s = Ed25519Signer::new("PeterNeumann", SigningKey::from_bytes(&seed)).unwrap();
        let mut n2 = Note::new(n.text()).unwrap();
        n2.sign(&s).unwrap();
        assert_eq!(n2.to_bytes(), msg.as_bytes());
    }

    #[test]
    fn sign_open_roundtrip_and_unknown_ignored() {
        let a = signer("example.com/a", 1);
        let b = signer("example.com/b", 2);
        let mut n = Note::new("hello\n\nworld\n").unwrap();
        n.sign(&a).unwrap();
        n.sign(&b).unwrap();
        n.sign(&a).unwrap(); // replaces the first
        assert_eq!(n.signatures().len(), 2);
        assert_eq!(n.signatures()[1].name(), "example.com/a");
        let bytes = n.to_bytes();
        let parsed = Note::parse(&bytes).unwrap();
        assert_eq!(parsed, n);
        assert_eq!(parsed.text(), "hello\n\nworld\n");
        let av = a.verifier();
        assert_eq!(open(&bytes, &[&av]).unwrap(), n);
        // Unknown: same name, other key.
        let other = signer("example.com/a", 3).verifier();
        assert_eq!(open(&bytes, &[&other]), Err(NoteError::NoKnownSignature));
        assert_eq!(open(&bytes, &[]), Err(NoteError::NoKnownSignature));
    }

    #[test]
    fn bad_signature_by_known_key_rejects() {
        let a = signer("example.com/a", 1);
        let mut n = Note::new("text\n").unwrap();
        n.sign(&a).unwrap();
        let mut bytes = n.to_bytes();
        bytes[0] = b'T';
        assert!(matches!(
            open(&bytes, &[&a.verifier()]),
            Err(NoteError::InvalidSignature { .. })
        ));
    }

    #[test]
    fn malformed_notes() {
        let a = signer("example.com/a", 1);
        let mut n = Note::new("text\n").unwrap();
        n.sign(&a).unwrap();
        let good = String::from_utf8(n.to_bytes()).unwrap();
        let line = n.signatures()[0].to_line();
        let b64 = line.rsplit(' ').next().unwrap().to_owned();
        let cases: Vec<(String, NoteError)> = vec![
            ("text\n".into(), NoteError::MissingSignatures),
            ("text\n\n".into(), NoteError::MissingSignatures),
            (good.trim_end().into(), NoteError::MissingSignatures),
            (good.replace("text", "te\rxt"), NoteError::ControlCharacter),
            (good.replace("text", "te\txt"), NoteError::ControlCharacter),
            (
                format!("text\n\n- example.com/a {b64}\n"),
                NoteError::MalformedSignature { line: 0 },
            ),
            (
                format!("text\n\n\u{2014} example.com/a{b64}\n"),
                NoteError::MalformedSignature { line: 0 },
            ),
            (
                format!("text\n\n\u{2014} ex+ample {b64}\n"),
                NoteError::MalformedSignature { line: 0 },
            ),
            (
                format!("text\n\n\u{2014}  {b64}\n"),
                NoteError::MalformedSignature { line: 0 },
            ),
            (
                format!("text\n\n\u{2014} a\u{a0}b {b64}\n"),
                NoteError::MalformedSignature { line: 0 },
            ),
            (
                "text\n\n\u{2014} a AAAAAA==\n".into(),
                NoteError::MalformedSignature { line: 0 },
            ),
            (
                format!("text\n\n\u{2014} a {}\n", &b64[..b64.len() - 1]),
                NoteError::MalformedSignature { line: 0 },
            ),
            (
                format!("{good}\u{2014} a {b64} \n"),
                NoteError::MalformedSignature { line: 1 },
            ),
            (format!("{good}\n"), NoteError::MissingSignatures),
        ];
        for (msg, want) in cases {
            assert_eq!(Note::parse(msg.as_bytes()), Err(want), "{msg:?}");
        }
        assert_eq!(Note::parse(b"te\xffxt\n\n"), Err(NoteError::InvalidUtf8));
        assert_eq!(
            Note::new("no newline"),
            Err(NoteError::TextNotNewlineTerminated)
        );
        assert_eq!(Note::new(""), Err(NoteError::TextNotNewlineTerminated));
    }

    #[test]
    fn limits() {
        let a = signer("example.com/a", 1);
        let mut n = Note::new("text\n").unwrap();
        n.sign(&a).unwrap();
        let line = n.signatures()[0].to_line();
        let mut msg = String::from("text\n\n");
        for _ in 0..MAX_SIGNATURES {
            msg.push_str(&line);
            msg.push('\n');
        }
        assert_eq!(
            Note::parse(msg.as_bytes()).unwrap().signatures().len(),
            MAX_SIGNATURES
        );
        assert!(open(msg.as_bytes(), &[&a.verifier()]).is_ok());
        msg.push_str(&line);
        msg.push('\n');
        assert_eq!(
            Note::parse(msg.as_bytes()),
            Err(NoteError::TooManySignatures)
        );

        let big = vec![b'a'; MAX_NOTE_SIZE + 1];
        assert_eq!(
            Note::parse(&big),
            Err(NoteError::TooLarge {
                len: MAX_NOTE_SIZE + 1
            })
        );
    }

    #[test]
    fn verifier_keys() {
        let s = signer("example.com/a", 7);
        let v = s.verifier();
        let vk = v.to_vkey();
        assert_eq!(Ed25519Verifier::from_vkey(&vk).unwrap(), v);
        assert_eq!(vk.parse::<Ed25519Verifier>().unwrap(), v);
        let (name, rest) = vk.split_once('+').unwrap();
        let (id, key) = rest.split_once('+').unwrap();
        assert_eq!(
            Ed25519Verifier::from_vkey(&format!("{name}+{}+{key}", id.to_uppercase())).unwrap(),
            v
        );
        assert_eq!(
            Ed25519Verifier::from_vkey(&format!("{name}+00000000+{key}")),
            Err(KeyError::KeyIdMismatch)
        );
        assert_eq!(
            Ed25519Verifier::from_vkey(&format!("other+{id}+{key}")),
            Err(KeyError::KeyIdMismatch)
        );
        assert_eq!(Ed25519Verifier::from_vkey(name), Err(KeyError::Malformed));
        assert_eq!(
            Ed25519Verifier::from_vkey(&format!("{name}+{id}")),
            Err(KeyError::Malformed)
        );
        assert_eq!(
            Ed25519Verifier::from_vkey(&format!("{name}+{id}+")),
            Err(KeyError::Malformed)
        );
        assert_eq!(
            Ed25519Verifier::from_vkey(&format!("{name}+{id}+Ag==")),
            Err(KeyError::UnsupportedType(2))
        );
        assert_eq!(
            Ed25519Verifier::from_vkey(&format!("bad name+{id}+{key}")),
            Err(KeyError::InvalidName)
        );
        // Small-order public key (the identity point).
        let mut weak = vec![SIG_TYPE_ED25519, 1];
        weak.extend([0u8; 31]);
        let weak_b64 = BASE64.encode(&weak);
        let weak_id = key_id("w", SIG_TYPE_ED25519, &weak[1..]);
        assert_eq!(
            Ed25519Verifier::from_vkey(&format!("w+{weak_id:08x}+{weak_b64}")),
            Err(KeyError::InvalidPublicKey)
        );
        assert!(!format!("{s:?}").contains(&BASE64.encode(s.key.to_bytes())));
        assert!(format!("{s:?}").contains("[REDACTED]"));
    }
}
