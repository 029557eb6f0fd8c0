//! The board's data directory: its checkpoint key and its lock
//! (`spec/board.md` §6).
//!
//! - `board.key`: the 32-byte Ed25519 seed, raw, file mode 0600, created on
//!   first use and never logged or printed;
//! - `board.pub`: the C2SP note verifier key (`<origin>+<key id>+<base64>`)
//!   and a newline, rewritten on every start; this is what voters, observers
//!   and the manifest need;
//! - `board.lock`: held (an exclusive OS file lock) by the running board, so
//!   that two processes never sequence the same log: two sequencers would
//!   sign two different trees of one size.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use tallyboard_tlog::{is_valid_key_name, Ed25519Signer, Ed25519Verifier};
use zeroize::Zeroizing;

use crate::fsutil::{self, SecretFileError};

/// File name of the board's private key seed.
pub const KEY_FILE: &str = "board.key";
/// File name of the board's public verifier key.
pub const PUB_FILE: &str = "board.pub";
/// File name of the data directory lock.
pub const LOCK_FILE: &str = "board.lock";
/// File name of the SQLite database.
pub const DB_FILE: &str = "board.db";

/// Errors handling the data directory.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// A file system operation failed.
    #[error("{what} {path}: {error}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
    /// The key file does not hold exactly 32 bytes.
    #[error("{path} must hold exactly 32 bytes (an Ed25519 seed)")]
    BadKeyFile {
        /// The key file.
        path: PathBuf,
    },
    /// The key file is readable or writable by group or others.
    #[error("{path} has mode {mode:o}; it must not be accessible by group or others (chmod 600)")]
    KeyFilePermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The origin is not a valid note key name / checkpoint origin.
    #[error(
        "invalid origin {0:?}: it must be non-empty, without spaces, '+' or control characters"
    )]
    InvalidOrigin(String),
    /// Another process holds the data directory.
    #[error("{path} is locked: another board process is using this data directory")]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// There is no `board.pub` (the key was never created).
    #[error("no board key in {0} yet: run the board once, or create the key with an origin")]
    NoPublicKey(PathBuf),
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> KeyFileError {
    let path = path.to_owned();
    move |error| KeyFileError::Io { what, path, error }
}

/// Checks that `origin` can be a checkpoint origin and note key name.
pub fn check_origin(origin: &str) -> Result<(), KeyFileError> {
    if is_valid_key_name(origin) && !origin.bytes().any(|b| b < 0x20 || b == 0x7f) {
        Ok(())
    } else {
        Err(KeyFileError::InvalidOrigin(origin.to_owned()))
    }
}

/// Creates the data directory (mode 0700 on Unix) if it does not exist.
pub fn create_data_dir(dir: &Path) -> Result<(), KeyFileError> {
    fsutil::create_private_dir(dir).map_err(io("create directory", dir))
}

fn sync_dir(dir: &Path) -> Result<(), KeyFileError> {
    fsutil::sync_dir(dir).map_err(io("sync directory", dir))
}

pub(crate) fn read_seed(path: &Path) -> Result<SigningKey, KeyFileError> {
    let buf = fsutil::read_secret(path, 33).map_err(|e| match e {
        SecretFileError::Io(what, e) => io(what, path)(e),
        SecretFileError::Permissions(mode) => KeyFileError::KeyFilePermissions {
            path: path.to_owned(),
            mode,
        },
    })?;
    let seed: Zeroizing<[u8; 32]> =
        Zeroizing::new(
            buf.as_slice()
                .try_into()
                .map_err(|_| KeyFileError::BadKeyFile {
                    path: path.to_owned(),
                })?,
        );
    Ok(SigningKey::from_bytes(&seed))
}

pub(crate) fn create_seed(dir: &Path, path: &Path) -> Result<SigningKey, KeyFileError> {
    let mut seed = Zeroizing::new([0u8; 32]);
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, seed.as_mut());
    let tmp = dir.join(format!("{KEY_FILE}.tmp"));
    let _ = fs::remove_file(&tmp);
    fsutil::write_new(&tmp, seed.as_ref(), 0o600).map_err(|(what, e)| io(what, &tmp)(e))?;
    // Another process may have created the key meanwhile: keep theirs.
    if path.exists() {
        let _ = fs::remove_file(&tmp);
        return read_seed(path);
    }
    fs::rename(&tmp, path).map_err(io("rename", path))?;
    sync_dir(dir)?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Loads the board key of `dir` (creating the directory and a fresh key on
/// first use) as a note signer named `origin`, and (re)writes `board.pub`.
pub fn load_or_create_key(dir: &Path, origin: &str) -> Result<Ed25519Signer, KeyFileError> {
    check_origin(origin)?;
    create_data_dir(dir)?;
    let path = dir.join(KEY_FILE);
    let key = if path.exists() {
        read_seed(&path)?
    } else {
        create_seed(dir, &path)?
    };
    let signer =
        Ed25519Signer::new(origin, key).map_err(|_| KeyFileError::InvalidOrigin(origin.into()))?;
    write_public_key(dir, &signer.verifier())?;
    Ok(signer)
}

fn write_public_key(dir: &Path, verifier: &Ed25519Verifier) -> Result<(), KeyFileError> {
    let path = dir.join(PUB_FILE);
    let text = format!("{}\n", verifier.to_vkey());
    if fs::read_to_string(&path).ok().as_deref() == Some(text.as_str()) {
        return Ok(());
    }
    fsutil::replace_file(dir, &path, text.as_bytes(), 0o644)
        .map_err(|(what, path, error)| KeyFileError::Io { what, path, error })
}

/// Reads the verifier key string from `dir/board.pub`.
pub fn read_vkey(dir: &Path) -> Result<String, KeyFileError> {
    let path = dir.join(PUB_FILE);
    match fs::read_to_string(&path) {
        Ok(s) => Ok(s.trim_end().to_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(KeyFileError::NoPublicKey(dir.to_owned()))
        }
        Err(e) => Err(io("read", &path)(e)),
    }
}

/// The exclusive lock on a data directory, held while the board runs and
/// released when dropped (or when the process dies).
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

/// Takes the data directory lock, failing at once if another process holds
/// it.
pub fn lock_data_dir(dir: &Path) -> Result<DataDirLock, KeyFileError> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io("open", &path))?;
    match file.try_lock() {
        Ok(()) => Ok(DataDirLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => Err(KeyFileError::Locked { path }),
        Err(std::fs::TryLockError::Error(e)) => Err(io("lock", &path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_created_once_with_private_mode() {
        let d = tempfile::tempdir().expect("dir");
        let dir = d.path().join("data");
        let s1 = load_or_create_key(&dir, "tallyboard/test").expect("create");
        let s2 = load_or_create_key(&dir, "tallyboard/test").expect("load");
        assert_eq!(s1.verifier(), s2.verifier());
        assert_eq!(read_vkey(&dir).expect("vkey"), s1.verifier().to_vkey());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.join(KEY_FILE))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
            fs::set_permissions(dir.join(KEY_FILE), fs::Permissions::from_mode(0o644))
                .expect("chmod");
            assert!(matches!(
                load_or_create_key(&dir, "tallyboard/test"),
                Err(KeyFileError::KeyFilePermissions { .. })
            ));
        }
        assert!(matches!(
            load_or_create_key(&dir, "bad origin"),
            Err(KeyFileError::InvalidOrigin(_))
        ));
        assert!(matches!(
            read_vkey(&d.path().join("none")),
            Err(KeyFileError::NoPublicKey(_))
        ));
    }

    #[test]
    fn lock_is_exclusive() {
        let d = tempfile::tempdir().expect("dir");
        let l = lock_data_dir(d.path()).expect("lock");
        assert!(matches!(
            lock_data_dir(d.path()),
            Err(KeyFileError::Locked { .. })
        ));
        drop(l);
        lock_data_dir(d.path()).expect("relock");
    }
}
