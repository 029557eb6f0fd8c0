//! C2SP transparency-log checkpoints (<https://c2sp.org/tlog-checkpoint>,
//! `spec/tlog.md` §7).
//!
//! ```text
//! <origin>
//! <tree size, decimal, no leading zeros>
//! <root hash, base64>
//! [<extension line>]...
//! ```
//!
//! A [`SignedCheckpoint`] is that text inside a signed note whose log
//! signature is by the key named after the origin (project convention:
//! key name = origin, `tallyboard/<election-id>`).

use crate::hash::{Hash, HASH_SIZE};
use crate::note::{is_valid_key_name, Note, NoteError, NoteSigner, NoteVerifier};

/// Errors of the checkpoint layer.
/// See `spec/tlog.md` §7.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The signed note is malformed or its signature does not verify.
    #[error("checkpoint note: {0}")]
    Note(#[from] NoteError),
    /// Fewer than three lines, or the text does not end with a newline.
    #[error("checkpoint text is truncated")]
    Truncated,
    /// The origin line is empty (or, when creating, not a valid key name).
    #[error("invalid checkpoint origin")]
    InvalidOrigin,
    /// The size line is not a canonical decimal `u64`.
    #[error("invalid checkpoint tree size")]
    InvalidSize,
    /// The root line is not canonical base64 of 32 bytes.
    #[error("invalid checkpoint root hash")]
    InvalidRoot,
    /// An extension line is empty (or, when creating, contains a control
    /// character).
    #[error("invalid checkpoint extension line")]
    InvalidExtension,
    /// The log key's name differs from the checkpoint origin.
    #[error("key name {key_name:?} does not match checkpoint origin {origin:?}")]
    OriginMismatch {
        /// The checkpoint's origin.
        origin: String,
        /// The key's name.
        key_name: String,
    },
}

/// Parses a canonical ASCII decimal `u64`: digits only, no sign, no leading
/// zero unless the value is `0` (`spec/tlog.md` §1.2).
pub(crate) fn parse_decimal(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 20 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if b.len() > 1 && b[0] == b'0' {
        return None;
    }
    s.parse().ok()
}

/// A checkpoint: the signed statement of a log's tree head
/// (`spec/tlog.md` §7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
    extensions: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint without extension lines. The origin must be a valid key
    /// name (non-empty, no white space, no `+`), since the log signs with a
    /// key of that name (`spec/tlog.md` §7.1).
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<Self, CheckpointError> {
        if !is_valid_key_name(origin) || origin.bytes().any(|b| b < 0x20) {
            return Err(CheckpointError::InvalidOrigin);
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions: Vec::new(),
        })
    }

    /// Adds an extension line (non-empty, no control characters). The C2SP
    /// spec does not recommend extension lines; the project emits none.
    /// See `spec/tlog.md` §7.1.
    pub fn with_extension(mut self, line: &str) -> Result<Self, CheckpointError> {
        if line.is_empty() || line.bytes().any(|b| b < 0x20) {
            return Err(CheckpointError::InvalidExtension);
        }
        self.extensions.push(line.to_owned());
        Ok(self)
    }

    /// Parses checkpoint text (the note text, with its final newline)
    /// exactly as `spec/tlog.md` §7.1 describes.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let body = text.strip_suffix('\n').ok_or(CheckpointError::Truncated)?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(CheckpointError::Truncated);
        };
        if origin.is_empty() || origin.bytes().any(|b| b < 0x20) {
            return Err(CheckpointError::InvalidOrigin);
        }
        let size = parse_decimal(size).ok_or(CheckpointError::InvalidSize)?;
        let root = Hash::from_base64(root).map_err(|_| CheckpointError::InvalidRoot)?;
        let mut extensions = Vec::new();
        for line in lines {
            if line.is_empty() || line.bytes().any(|b| b < 0x20) {
                return Err(CheckpointError::InvalidExtension);
            }
            extensions.push(line.to_owned());
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// The checkpoint text: origin, size, root and extension lines, each
    /// followed by a newline (`spec/tlog.md` §7.1).
    pub fn to_text(&self) -> String {
        let mut s = String::with_capacity(self.origin.len() + 24 + 4 * HASH_SIZE / 3 + 8);
        s.push_str(&self.origin);
        s.push('\n');
        s.push_str(&self.size.to_string());
        s.push('\n');
        s.push_str(&self.root.to_base64());
        s.push('\n');
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// The log's origin line.
    /// See `spec/tlog.md` §7.1.
    pub fn origin(&self) -> &str {
        &self.origin
    }
    /// The tree size.
    /// See `spec/tlog.md` §7.1.
    pub fn size(&self) -> u64 {
        self.size
    }
    /// The root hash `MTH(D[size])`.
    /// See `spec/tlog.md` §7.1.
    pub fn root(&self) -> Hash {
        self.root
    }
    /// The extension lines.
    /// See `spec/tlog.md` §7.1.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// Signs the checkpoint with the log key, whose name must equal the
    /// origin (`spec/tlog.md` §7.2).
    pub fn sign(&self, signer: &dyn NoteSigner) -> Result<SignedCheckpoint, CheckpointError> {
        if signer.name() != self.origin {
            return Err(CheckpointError::OriginMismatch {
                origin: self.origin.clone(),
                key_name: signer.name().to_owned(),
            });
        }
        let mut note = Note::new(self.to_text())?;
        note.sign(signer)?;
        let bytes = note.to_bytes();
        Ok(SignedCheckpoint {
            checkpoint: self.clone(),
            note,
            bytes,
        })
    }

    /// Parses and verifies a signed checkpoint, returning the checkpoint
    /// only. See [`SignedCheckpoint::open`].
    /// See `spec/tlog.md` §7.2.
    pub fn open(note_bytes: &[u8], verifier: &dyn NoteVerifier) -> Result<Self, CheckpointError> {
        SignedCheckpoint::open(note_bytes, verifier).map(|s| s.checkpoint)
    }
}

/// A checkpoint together with its signed note and the exact bytes it came
/// from (`spec/tlog.md` §7.2).
///
/// Obtained either verified ([`SignedCheckpoint::open`],
/// [`Checkpoint::sign`]) or only parsed ([`SignedCheckpoint::parse`]); the
/// type does not record which, so keep unverified values local.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    note: Note,
    bytes: Vec<u8>,
}

impl SignedCheckpoint {
    /// Parses a signed checkpoint without verifying any signature.
    /// See `spec/tlog.md` §7.2.
    pub fn parse(note_bytes: &[u8]) -> Result<Self, CheckpointError> {
        let note = Note::parse(note_bytes)?;
        let checkpoint = Checkpoint::parse(note.text())?;
        Ok(SignedCheckpoint {
            checkpoint,
            note,
            bytes: note_bytes.to_vec(),
        })
    }

    /// Parses a signed checkpoint and verifies the log's signature
    /// (`spec/tlog.md` §7.2): the note must carry a valid signature by
    /// `verifier`, whose key name must equal the checkpoint's origin. Other
    /// signatures (e.g. witness cosignatures) are ignored.
    pub fn open(note_bytes: &[u8], verifier: &dyn NoteVerifier) -> Result<Self, CheckpointError> {
        let signed = Self::parse(note_bytes)?;
        if signed.checkpoint.origin != verifier.name() {
            return Err(CheckpointError::OriginMismatch {
                origin: signed.checkpoint.origin.clone(),
                key_name: verifier.name().to_owned(),
            });
        }
        signed.note.verify(&[verifier])?;
        Ok(signed)
    }

    /// The checkpoint.
    /// See `spec/tlog.md` §7.2.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }
    /// The signed note (text and all signature lines).
    /// See `spec/tlog.md` §7.2.
    pub fn note(&self) -> &Note {
        &self.note
    }
    /// The exact encoded bytes (what was parsed, or what was signed).
    /// See `spec/tlog.md` §7.2.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
    /// Consumes the value, returning the checkpoint.
    /// See `spec/tlog.md` §7.2.
    pub fn into_checkpoint(self) -> Checkpoint {
        self.checkpoint
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;
    use crate::note::Ed25519Signer;
    use ed25519_dalek::SigningKey;

    #[test]
    fn decimal_rules() {
        assert_eq!(parse_decimal("0"), Some(0));
        assert_eq!(parse_decimal("20852163"), Some(20852163));
        assert_eq!(parse_decimal("18446744073709551615"), Some(u64::MAX));
        for bad in [
            "",
            "00",
            "01",
            "+1",
            "-1",
            " 1",
            "1 ",
            "18446744073709551616",
            "1e3",
            "٣",
        ] {
            assert_eq!(parse_decimal(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn text_roundtrip_and_rejects() {
        let root = leaf_hash(b"r");
        let c = Checkpoint::new("tallyboard/e1", 42, root).unwrap();
        let t = c.to_text();
        assert_eq!(t, format!("tallyboard/e1\n42\n{}\n", root.to_base64()));
        assert_eq!(Checkpoint::parse(&t).unwrap(), c);
        let c2 = c.clone().with_extension("ext one").unwrap();
        assert_eq!(Checkpoint::parse(&c2.to_text()).unwrap(), c2);
        let r = root.to_base64();
        for (text, want) in [
            (format!("o\n1\n{r}"), CheckpointError::Truncated),
            ("o\n1\n".to_string(), CheckpointError::Truncated),
            (format!("\n1\n{r}\n"), CheckpointError::InvalidOrigin),
            (format!("o\n01\n{r}\n"), CheckpointError::InvalidSize),
            (format!("o\n\n{r}\n"), CheckpointError::InvalidSize),
            (
                "o\n1\nZG9uJ3QgY2FyZSAx\n".to_string(),
                CheckpointError::InvalidRoot,
            ),
            (format!("o\n1\n{r}\n\n"), CheckpointError::InvalidExtension),
            (
                format!("o\n1\n{r}\na\n\nb\n"),
                CheckpointError::InvalidExtension,
            ),
        ] {
            assert_eq!(Checkpoint::parse(&text), Err(want), "{text:?}");
        }
        assert_eq!(
            Checkpoint::new("has space", 1, root),
            Err(CheckpointError::InvalidOrigin)
        );
        assert_eq!(
            c.clone().with_extension(""),
            Err(CheckpointError::InvalidExtension)
        );
    }

    #[test]
    fn sign_and_open() {
        let s = Ed25519Signer::new("tallyboard/e1", SigningKey::from_bytes(&[9; 32])).unwrap();
        let c = Checkpoint::new("tallyboard/e1", 3, leaf_hash(b"x")).unwrap();
        let signed = c.sign(&s).unwrap();
        let v = s.verifier();
        let opened = SignedCheckpoint::open(signed.as_bytes(), &v).unwrap();
        assert_eq!(opened, signed);
        assert_eq!(Checkpoint::open(signed.as_bytes(), &v).unwrap(), c);

        let other = Ed25519Signer::new("tallyboard/e2", SigningKey::from_bytes(&[9; 32])).unwrap();
        assert!(matches!(
            c.sign(&other),
            Err(CheckpointError::OriginMismatch { .. })
        ));
        assert!(matches!(
            SignedCheckpoint::open(signed.as_bytes(), &other.verifier()),
            Err(CheckpointError::OriginMismatch { .. })
        ));
        let wrong_key =
            Ed25519Signer::new("tallyboard/e1", SigningKey::from_bytes(&[8; 32])).unwrap();
        assert_eq!(
            SignedCheckpoint::open(signed.as_bytes(), &wrong_key.verifier()),
            Err(CheckpointError::Note(NoteError::NoKnownSignature))
        );
        let mut tampered = signed.as_bytes().to_vec();
        tampered[14] = b'4'; // size 3 -> 4
        assert!(matches!(
            SignedCheckpoint::open(&tampered, &v),
            Err(CheckpointError::Note(NoteError::InvalidSignature { .. }))
        ));
    }
}
