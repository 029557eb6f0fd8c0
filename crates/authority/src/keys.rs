//! Key files of the administrator and the trustees (`spec/manifest.md` §6).
//!
//! - an Ed25519 *signing key file* holds the 32-byte seed, raw (64 hex
//!   characters are accepted too), mode 0600; its public half is written
//!   next to it as `<file>.pub`, 64 hex characters and a newline;
//! - a trustee directory holds `signing.key` / `signing.pub` (the trustee's
//!   Ed25519 key, named in the manifest), `encryption.key` (the ristretto255
//!   share-encryption key pair, `spec/threshold.md` §4.2), `ceremony.state`
//!   (the key-ceremony progress) and, after the ceremony, `share.key` (the
//!   secret share, `spec/threshold.md` §7.2). Every secret file has mode 0600
//!   and is refused if group or others can access it.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use ed25519_dalek::{SigningKey, VerifyingKey};
use tallyboard_threshold::{SecretShare, TrusteeKeyPair};
use tallyboard_tlog::Ed25519Verifier;
use zeroize::Zeroizing;

use crate::error::AuthorityError;

/// File name of a trustee's Ed25519 signing key.
pub const SIGNING_KEY_FILE: &str = "signing.key";
/// File name of a trustee's Ed25519 public key (hex).
pub const SIGNING_PUB_FILE: &str = "signing.pub";
/// File name of a trustee's share-encryption key pair.
pub const ENCRYPTION_KEY_FILE: &str = "encryption.key";
/// File name of a trustee's key-ceremony state.
pub const CEREMONY_STATE_FILE: &str = "ceremony.state";
/// File name of a trustee's secret share.
pub const SHARE_FILE: &str = "share.key";

/// Largest secret file read (the ceremony state is the largest).
const MAX_SECRET_FILE: u64 = 1 << 20;

fn key_file(path: &Path, message: impl Into<String>) -> AuthorityError {
    AuthorityError::KeyFile {
        path: path.to_owned(),
        message: message.into(),
    }
}

fn sync_parent(path: &Path) -> Result<(), AuthorityError> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(AuthorityError::io("sync directory", dir))?;
    }
    let _ = path;
    Ok(())
}

fn open_secret_for_write(path: &Path) -> Result<File, AuthorityError> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path).map_err(AuthorityError::io("create", path))
}

/// Writes a new secret file (mode 0600). Refuses to overwrite an existing
/// file.
pub fn write_secret_file(path: &Path, bytes: &[u8]) -> Result<(), AuthorityError> {
    let mut f = open_secret_for_write(path)?;
    f.write_all(bytes)
        .map_err(AuthorityError::io("write", path))?;
    f.sync_all().map_err(AuthorityError::io("sync", path))?;
    drop(f);
    sync_parent(path)
}

/// Replaces a secret file atomically (write a 0600 temporary file, sync,
/// rename over `path`, sync the directory).
pub fn replace_secret_file(path: &Path, bytes: &[u8]) -> Result<(), AuthorityError> {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".tmp");
    let tmp = path.with_file_name(name);
    let _ = fs::remove_file(&tmp);
    let mut f = open_secret_for_write(&tmp)?;
    f.write_all(bytes)
        .map_err(AuthorityError::io("write", &tmp))?;
    f.sync_all().map_err(AuthorityError::io("sync", &tmp))?;
    drop(f);
    fs::rename(&tmp, path).map_err(AuthorityError::io("rename", path))?;
    sync_parent(path)
}

/// Reads a secret file, refusing one that group or others can access.
pub fn read_secret_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, AuthorityError> {
    let file = File::open(path).map_err(AuthorityError::io("open", path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file
            .metadata()
            .map_err(AuthorityError::io("stat", path))?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(key_file(
                path,
                format!("mode {mode:o}: a secret file must not be accessible by group or others (chmod 600)"),
            ));
        }
    }
    let mut buf = Zeroizing::new(Vec::new());
    file.take(MAX_SECRET_FILE + 1)
        .read_to_end(&mut buf)
        .map_err(AuthorityError::io("read", path))?;
    if buf.len() as u64 > MAX_SECRET_FILE {
        return Err(key_file(path, "file too large"));
    }
    Ok(buf)
}

/// The path of the public key written next to a signing key file:
/// `<file>.pub`.
pub fn public_key_path(secret: &Path) -> PathBuf {
    let mut name = secret
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".pub");
    secret.with_file_name(name)
}

/// Generates an Ed25519 signing key into `path` (mode 0600, never
/// overwritten) and its public key into `pub_path` (hex); returns the public key.
pub fn generate_signing_key(path: &Path, pub_path: &Path) -> Result<VerifyingKey, AuthorityError> {
    let key = SigningKey::generate(&mut rand_core::OsRng);
    if pub_path.exists() {
        return Err(key_file(pub_path, "already exists; not overwriting"));
    }
    write_secret_file(path, key.as_bytes())?;
    let public = key.verifying_key();
    fs::write(pub_path, format!("{}\n", hex::encode(public.as_bytes())))
        .map_err(AuthorityError::io("write", pub_path))?;
    Ok(public)
}

/// Loads an Ed25519 signing key file: 32 raw bytes, or 64 hex characters
/// (surrounding white space ignored).
pub fn load_signing_key(path: &Path) -> Result<SigningKey, AuthorityError> {
    let bytes = read_secret_file(path)?;
    let seed: Zeroizing<[u8; 32]> = if bytes.len() == 32 {
        let mut s = Zeroizing::new([0u8; 32]);
        s.copy_from_slice(&bytes);
        s
    } else {
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| key_file(path, "not an Ed25519 key (32 bytes or 64 hex characters)"))?
            .trim();
        let mut s = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text, s.as_mut())
            .map_err(|_| key_file(path, "not an Ed25519 key (32 bytes or 64 hex characters)"))?;
        s
    };
    Ok(SigningKey::from_bytes(&seed))
}

/// Parses a 32-byte Ed25519 public key from 64 hex characters.
pub fn parse_public_key_hex(text: &str) -> Result<VerifyingKey, AuthorityError> {
    let mut b = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut b)
        .map_err(|_| AuthorityError::BadKey(format!("{text:?} is not 64 hex characters")))?;
    let key = VerifyingKey::from_bytes(&b)
        .map_err(|_| AuthorityError::BadKey(format!("{text:?} is not an Ed25519 public key")))?;
    if key.is_weak() {
        return Err(AuthorityError::BadKey(format!(
            "{text:?} is an Ed25519 key of small order"
        )));
    }
    Ok(key)
}

/// Whether `s` looks like a hex-encoded 32-byte key.
pub fn is_hex_key(s: &str) -> bool {
    let s = s.trim();
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// An Ed25519 public key given as 64 hex characters or as the path (relative
/// to `base`) of a file holding them (such as a `.pub` file written by
/// `keygen`).
pub fn public_key_from_hex_or_file(
    value: &str,
    base: &Path,
) -> Result<VerifyingKey, AuthorityError> {
    if is_hex_key(value) {
        return parse_public_key_hex(value);
    }
    let path = base.join(value);
    let text = fs::read_to_string(&path).map_err(AuthorityError::io("read", &path))?;
    parse_public_key_hex(&text).map_err(|e| key_file(&path, e.to_string()))
}

/// The board's C2SP verifier key (`<origin>+<key id>+<base64>`), given as
/// the string itself or as the path of a file holding it (`board.pub`).
pub fn board_verifier(value: &str) -> Result<Ed25519Verifier, AuthorityError> {
    let text = if value.contains('+') {
        value.to_owned()
    } else {
        let path = Path::new(value);
        fs::read_to_string(path).map_err(AuthorityError::io("read", path))?
    };
    Ed25519Verifier::from_vkey(text.trim())
        .map_err(|e| AuthorityError::BadKey(format!("board key {:?}: {e}", text.trim())))
}

/// A trustee's key directory (see the module documentation).
#[derive(Debug, Clone)]
pub struct TrusteeDir {
    dir: PathBuf,
}

impl TrusteeDir {
    /// The trustee directory `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// `signing.key`.
    pub fn signing_key_path(&self) -> PathBuf {
        self.dir.join(SIGNING_KEY_FILE)
    }
    /// `encryption.key`.
    pub fn encryption_key_path(&self) -> PathBuf {
        self.dir.join(ENCRYPTION_KEY_FILE)
    }
    /// `ceremony.state`.
    pub fn state_path(&self) -> PathBuf {
        self.dir.join(CEREMONY_STATE_FILE)
    }
    /// `share.key`.
    pub fn share_path(&self) -> PathBuf {
        self.dir.join(SHARE_FILE)
    }

    /// Creates the directory (mode 0700) and fresh keys; returns the public
    /// signing key (for the manifest). Refuses to overwrite existing keys.
    pub fn generate(&self) -> Result<VerifyingKey, AuthorityError> {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder
            .create(&self.dir)
            .map_err(AuthorityError::io("create directory", &self.dir))?;
        let enc = self.encryption_key_path();
        if enc.exists() {
            return Err(key_file(&enc, "already exists; not overwriting"));
        }
        let public =
            generate_signing_key(&self.signing_key_path(), &self.dir.join(SIGNING_PUB_FILE))?;
        let keys = TrusteeKeyPair::generate(&mut rand_core::OsRng);
        write_secret_file(&enc, keys.to_bytes().as_slice())?;
        Ok(public)
    }

    /// Loads the signing key and the share-encryption key pair.
    pub fn load_keys(&self) -> Result<(SigningKey, TrusteeKeyPair), AuthorityError> {
        let signing = load_signing_key(&self.signing_key_path())?;
        let path = self.encryption_key_path();
        let bytes = read_secret_file(&path)?;
        let keys =
            TrusteeKeyPair::from_bytes(&bytes).map_err(|e| key_file(&path, e.to_string()))?;
        Ok((signing, keys))
    }

    /// Loads the secret share written by the ceremony.
    pub fn load_share(&self) -> Result<SecretShare, AuthorityError> {
        load_share(&self.share_path())
    }
}

/// Loads a secret share file (`spec/threshold.md` §7.2).
pub fn load_share(path: &Path) -> Result<SecretShare, AuthorityError> {
    let bytes = read_secret_file(path)?;
    SecretShare::from_bytes(&bytes).map_err(|e| key_file(path, e.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn signing_key_round_trip_and_modes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("admin.key");
        let public = generate_signing_key(&path, &public_key_path(&path)).unwrap();
        let key = load_signing_key(&path).unwrap();
        assert_eq!(key.verifying_key(), public);
        let read_pub = public_key_from_hex_or_file("admin.key.pub", dir.path()).unwrap();
        assert_eq!(read_pub, public);
        // Never overwritten.
        assert!(generate_signing_key(&path, &dir.path().join("other.pub")).is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
            let err = load_signing_key(&path).unwrap_err().to_string();
            assert!(err.contains("chmod 600"), "{err}");
        }
    }

    #[test]
    fn trustee_dir() {
        let dir = tempfile::tempdir().unwrap();
        let t = TrusteeDir::new(dir.path().join("t1"));
        let public = t.generate().unwrap();
        let (signing, keys) = t.load_keys().unwrap();
        assert_eq!(signing.verifying_key(), public);
        let again = TrusteeKeyPair::from_bytes(keys.to_bytes().as_slice()).unwrap();
        assert_eq!(again.public_key(), keys.public_key());
        assert!(t.generate().is_err());
    }

    #[test]
    fn hex_keys() {
        let k = SigningKey::from_bytes(&[3; 32]).verifying_key();
        let h = hex::encode(k.as_bytes());
        assert!(is_hex_key(&h));
        assert_eq!(parse_public_key_hex(&h).unwrap(), k);
        assert!(parse_public_key_hex("zz").is_err());
        // The identity is a small-order point.
        let mut id = [0u8; 32];
        id[0] = 1;
        assert!(parse_public_key_hex(&hex::encode(id)).is_err());
    }
}
