//! The issuer's data directory and `init` (`spec/issuer.md` §3).
//!
//! | file | content | mode |
//! |---|---|---|
//! | `issuer.db` | SQLite: roll, code hashes, redemption state ([`crate::store`]) | 0600 |
//! | `issuer-signing.key` | Ed25519 seed (32 raw bytes) that signs Issuance entries | 0600 |
//! | `district-keys/<district>.pk8` | the district's RSA key, PKCS#8 DER | 0600 |
//! | `issuer-keys.json` | the public keys, for the manifest | 0644 |
//! | `enrollment-codes.csv` | `voter_id,district,enrollment_code`, for delivery; never read again | 0600 |
//! | `issuer.lock` | held by the running service | 0600 |
//!
//! `init` writes the database last (under a temporary name, renamed when
//! everything else is on disk), so a directory with `issuer.db` is complete.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use ed25519_dalek::{SigningKey, VerifyingKey};
use rand_core::OsRng;
use serde::{Deserialize, Serialize};
use tallyboard_board::fsutil::{self, SecretFileError};
use zeroize::Zeroizing;

use crate::codes::{hash_codes_parallel, Argon2Profile, CodeError, EnrollmentCode};
use crate::credential::{CredentialError, IssuerPublicKey, IssuerSecretKey, DEFAULT_RSA_BITS};
use crate::roll::Roll;
use crate::store::{Store, StoreError};

/// The SQLite database.
pub const DB_FILE: &str = "issuer.db";
/// The Ed25519 seed of the Issuance signing key.
pub const SIGNING_KEY_FILE: &str = "issuer-signing.key";
/// Directory of the district RSA keys.
pub const KEYS_DIR: &str = "district-keys";
/// The public keys, for the manifest.
pub const PUBLIC_KEYS_FILE: &str = "issuer-keys.json";
/// The enrollment codes, for delivery.
pub const CODES_FILE: &str = "enrollment-codes.csv";
/// The lock held by the running service.
pub const LOCK_FILE: &str = "issuer.lock";
/// `format` of [`PublicKeysFile`].
pub const PUBLIC_KEYS_FORMAT: &str = "tallyboard/v1/issuer-keys";
/// The RFC 9474 variant, as named in [`PublicKeysFile`].
pub const VARIANT: &str = "RSABSSA-SHA384-PSS-Randomized";

/// Errors handling the data directory.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// A file operation failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The directory already holds an issuer (or a part of one).
    #[error("{0} already exists: refusing to overwrite an issuer's keys and codes")]
    Exists(PathBuf),
    /// A secret file is accessible by group or others.
    #[error("{path} has mode {mode:o}; it must not be accessible by group or others (chmod 600)")]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A key file is malformed.
    #[error("{path}: {message}")]
    BadKey {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The directory holds no issuer.
    #[error("{0} holds no issuer database: run `tallyboard issuer init` first")]
    NotInitialized(PathBuf),
    /// Another process holds the data directory.
    #[error("{0} is locked: another issuer process is using this data directory")]
    Locked(PathBuf),
    /// The roll is invalid.
    #[error(transparent)]
    Roll(#[from] crate::roll::RollError),
    /// A key could not be generated or encoded.
    #[error("issuer key: {0}")]
    Credential(#[from] CredentialError),
    /// A code could not be hashed.
    #[error(transparent)]
    Code(#[from] CodeError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// `issuer-keys.json` could not be written or read.
    #[error("{PUBLIC_KEYS_FILE}: {0}")]
    Json(String),
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> DataDirError + 'a {
    move |source| DataDirError::Io {
        what,
        path: path.to_owned(),
        source,
    }
}

/// Options of [`init_data_dir`].
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// RSA modulus size of the district keys (2048..=4096, a multiple of 8).
    pub rsa_bits: usize,
    /// Argon2id parameters of the code hashes.
    pub argon2: Argon2Profile,
    /// Write `enrollment-codes.csv` (the codes are returned in memory either way).
    pub write_codes_file: bool,
}

impl Default for InitOptions {
    /// Production settings: 3072-bit keys, OWASP Argon2id parameters, codes file written.
    fn default() -> Self {
        InitOptions {
            rsa_bits: DEFAULT_RSA_BITS,
            argon2: Argon2Profile::Default,
            write_codes_file: true,
        }
    }
}

/// One voter's enrollment code, as made by `init`.
#[derive(Debug, Clone)]
pub struct IssuedCode {
    /// The voter id.
    pub voter_id: String,
    /// The voter's district.
    pub district: String,
    /// The code (Debug-redacted, zeroized on drop).
    pub code: EnrollmentCode,
}

/// What `init` made.
#[derive(Debug)]
pub struct InitOutput {
    /// The Issuance signing key (the manifest's `issuer_signing_key`).
    pub signing_key: VerifyingKey,
    /// The district keys (the manifest's `District.issuer_rsa_key`).
    pub district_keys: BTreeMap<String, IssuerPublicKey>,
    /// The codes, in roll order.
    pub codes: Vec<IssuedCode>,
    /// Where the public keys were written.
    pub public_keys_file: PathBuf,
    /// Where the codes were written, if they were.
    pub codes_file: Option<PathBuf>,
}

/// `issuer-keys.json`: what the administrator copies into the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeysFile {
    /// Always [`PUBLIC_KEYS_FORMAT`].
    pub format: String,
    /// The Ed25519 key of Issuance entries, hex (manifest `issuer_signing_key`).
    pub issuer_signing_key: String,
    /// The RFC 9474 variant ([`VARIANT`]).
    pub variant: String,
    /// The Argon2id profile of the code hashes (`default` or `fast`).
    pub argon2_profile: String,
    /// The districts, sorted by id.
    pub districts: Vec<DistrictPublicKey>,
}

/// One district in `issuer-keys.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistrictPublicKey {
    /// District id.
    pub district: String,
    /// DER SubjectPublicKeyInfo, base64 (manifest `District.issuer_rsa_key`).
    pub issuer_rsa_key: String,
    /// Modulus size in bits.
    pub modulus_bits: usize,
    /// Voters of the district on the roll.
    pub voters: u64,
}

impl PublicKeysFile {
    /// Reads `issuer-keys.json` of a data directory.
    pub fn read(dir: &Path) -> Result<Self, DataDirError> {
        let path = dir.join(PUBLIC_KEYS_FILE);
        let text = fs::read_to_string(&path).map_err(io("read", &path))?;
        serde_json::from_str(&text).map_err(|e| DataDirError::Json(e.to_string()))
    }

    /// The district keys, parsed.
    pub fn district_keys(&self) -> Result<BTreeMap<String, IssuerPublicKey>, DataDirError> {
        self.districts
            .iter()
            .map(|d| {
                let der = base64::engine::general_purpose::STANDARD
                    .decode(&d.issuer_rsa_key)
                    .map_err(|e| DataDirError::Json(format!("district {}: {e}", d.district)))?;
                Ok((d.district.clone(), IssuerPublicKey::from_der(&der)?))
            })
            .collect()
    }
}

/// Creates a directory (mode 0700) if missing.
fn create_dir(dir: &Path) -> Result<(), DataDirError> {
    fsutil::create_private_dir(dir).map_err(io("create directory", dir))
}

fn sync_dir(dir: &Path) -> Result<(), DataDirError> {
    fsutil::sync_dir(dir).map_err(io("sync directory", dir))
}

/// Writes a new file (refusing to overwrite) with `mode`, and syncs it.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), DataDirError> {
    fsutil::write_new(path, bytes, mode).map_err(|(what, e)| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            DataDirError::Exists(path.to_owned())
        } else {
            io(what, path)(e)
        }
    })
}

/// Reads a secret file, refusing one that group or others can access.
fn read_secret(path: &Path) -> Result<Zeroizing<Vec<u8>>, DataDirError> {
    fsutil::read_secret(path, MAX_SECRET_FILE).map_err(|e| match e {
        SecretFileError::Io(what, e) => io(what, path)(e),
        SecretFileError::Permissions(mode) => DataDirError::Permissions {
            path: path.to_owned(),
            mode,
        },
    })
}

/// Largest secret file read (an RSA-4096 PKCS#8 key is about 2.4 KB).
const MAX_SECRET_FILE: u64 = 64 * 1024;

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn district_key_path(dir: &Path, district: &str) -> PathBuf {
    dir.join(KEYS_DIR).join(format!("{district}.pk8"))
}

fn generate_keys(districts: &[String], bits: usize) -> Result<Vec<IssuerSecretKey>, DataDirError> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 64);
    let chunk = districts.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = districts
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|_| IssuerSecretKey::generate(&mut OsRng, bits))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        let mut keys = Vec::with_capacity(districts.len());
        for h in handles {
            match h.join() {
                Ok(r) => keys.extend(r?),
                Err(_) => {
                    return Err(DataDirError::Credential(CredentialError::Internal(
                        "a key generation thread panicked",
                    )))
                }
            }
        }
        Ok(keys)
    })
}

/// Initializes an issuer in `dir` for `roll` (`spec/issuer.md` §3): one RSA
/// key per district, the Issuance signing key, one enrollment code per
/// voter (hashed with Argon2id into the database; written in clear only to
/// `enrollment-codes.csv` when asked, and returned). Refuses a directory
/// that already holds an issuer.
pub fn init_data_dir(
    dir: &Path,
    roll: &Roll,
    options: &InitOptions,
) -> Result<InitOutput, DataDirError> {
    crate::credential::check_key_size(options.rsa_bits)?;
    create_dir(dir)?;
    for name in [
        DB_FILE,
        SIGNING_KEY_FILE,
        PUBLIC_KEYS_FILE,
        CODES_FILE,
        KEYS_DIR,
    ] {
        let p = dir.join(name);
        if p.exists() {
            return Err(DataDirError::Exists(p));
        }
    }
    let tmp_db = dir.join(format!("{DB_FILE}.init"));
    if tmp_db.exists() {
        fs::remove_file(&tmp_db).map_err(io("remove", &tmp_db))?;
    }

    // Keys.
    let counts = roll.districts();
    let districts: Vec<String> = counts.keys().cloned().collect();
    let secret_keys = generate_keys(&districts, options.rsa_bits)?;
    create_dir(&dir.join(KEYS_DIR))?;
    let mut district_keys = BTreeMap::new();
    for (district, sk) in districts.iter().zip(&secret_keys) {
        write_new(
            &district_key_path(dir, district),
            &sk.to_pkcs8_der()?,
            0o600,
        )?;
        district_keys.insert(district.clone(), sk.public_key().clone());
    }
    sync_dir(&dir.join(KEYS_DIR))?;
    let signing = SigningKey::generate(&mut OsRng);
    write_new(&dir.join(SIGNING_KEY_FILE), signing.as_bytes(), 0o600)?;
    let signing_key = signing.verifying_key();
    drop(signing);

    // Codes.
    let codes: Vec<IssuedCode> = roll
        .entries()
        .iter()
        .map(|e| IssuedCode {
            voter_id: e.voter_id.clone(),
            district: e.district.clone(),
            code: EnrollmentCode::generate(&mut OsRng),
        })
        .collect();
    let plain: Vec<EnrollmentCode> = codes.iter().map(|c| c.code.clone()).collect();
    let hashes = hash_codes_parallel(&plain, options.argon2)?;
    drop(plain);

    // Public keys.
    let public = PublicKeysFile {
        format: PUBLIC_KEYS_FORMAT.into(),
        issuer_signing_key: hex::encode(signing_key.as_bytes()),
        variant: VARIANT.into(),
        argon2_profile: options.argon2.name().into(),
        districts: district_keys
            .iter()
            .map(|(d, pk)| DistrictPublicKey {
                district: d.clone(),
                issuer_rsa_key: base64::engine::general_purpose::STANDARD.encode(pk.to_der()),
                modulus_bits: pk.modulus_bits(),
                voters: counts.get(d).copied().unwrap_or(0),
            })
            .collect(),
    };
    let json =
        serde_json::to_string_pretty(&public).map_err(|e| DataDirError::Json(e.to_string()))?;
    let public_keys_file = dir.join(PUBLIC_KEYS_FILE);
    write_new(&public_keys_file, format!("{json}\n").as_bytes(), 0o644)?;

    let codes_file = if options.write_codes_file {
        let mut text = Zeroizing::new(String::from("voter_id,district,enrollment_code\n"));
        for c in &codes {
            text.push_str(&csv_field(&c.voter_id));
            text.push(',');
            text.push_str(&c.district);
            text.push(',');
            text.push_str(&c.code.display());
            text.push('\n');
        }
        let path = dir.join(CODES_FILE);
        write_new(&path, text.as_bytes(), 0o600)?;
        Some(path)
    } else {
        None
    };

    // The database, last.
    let rows: Vec<(String, String, String)> = codes
        .iter()
        .zip(hashes)
        .map(|(c, h)| (c.voter_id.clone(), c.district.clone(), h))
        .collect();
    {
        let _store = Store::create(
            &tmp_db,
            &rows,
            &[
                ("argon2_profile", options.argon2.name()),
                ("rsa_bits", &options.rsa_bits.to_string()),
            ],
        )?;
    }
    restrict(&tmp_db)?;
    for suffix in ["-wal", "-shm"] {
        let p = dir.join(format!("{DB_FILE}.init{suffix}"));
        if p.exists() {
            fs::remove_file(&p).map_err(io("remove", &p))?;
        }
    }
    let db = dir.join(DB_FILE);
    fs::rename(&tmp_db, &db).map_err(io("rename", &db))?;
    sync_dir(dir)?;

    Ok(InitOutput {
        signing_key,
        district_keys,
        codes,
        public_keys_file,
        codes_file,
    })
}

/// Sets a file's mode to 0600.
fn restrict(path: &Path) -> Result<(), DataDirError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(io("chmod", path))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// The secret keys of a running issuer. Debug prints `[REDACTED]`.
pub struct IssuerKeys {
    /// The Issuance signing key (zeroized on drop).
    pub signing: SigningKey,
    /// The district keys, by district id.
    pub districts: BTreeMap<String, IssuerSecretKey>,
}

impl std::fmt::Debug for IssuerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerKeys")
            .field("signing", &"[REDACTED]")
            .field("districts", &self.districts.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Loads the keys of `districts` from a data directory.
pub fn load_keys(dir: &Path, districts: &[String]) -> Result<IssuerKeys, DataDirError> {
    let path = dir.join(SIGNING_KEY_FILE);
    let seed = read_secret(&path)?;
    let seed: [u8; 32] = seed
        .as_slice()
        .try_into()
        .map_err(|_| DataDirError::BadKey {
            path: path.clone(),
            message: "must hold exactly 32 bytes (an Ed25519 seed)".into(),
        })?;
    let signing = SigningKey::from_bytes(&seed);
    let mut keys = BTreeMap::new();
    for d in districts {
        let path = district_key_path(dir, d);
        let der = read_secret(&path)?;
        let sk = IssuerSecretKey::from_pkcs8_der(&der).map_err(|e| DataDirError::BadKey {
            path: path.clone(),
            message: e.to_string(),
        })?;
        keys.insert(d.clone(), sk);
    }
    Ok(IssuerKeys {
        signing,
        districts: keys,
    })
}

/// The data directory lock, held while the service runs.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

/// Takes the data directory's lock (an exclusive OS file lock), so two
/// issuer processes never redeem codes from one database.
pub fn lock_data_dir(dir: &Path) -> Result<DataDirLock, DataDirError> {
    if !dir.join(DB_FILE).is_file() {
        return Err(DataDirError::NotInitialized(dir.to_owned()));
    }
    let path = dir.join(LOCK_FILE);
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(&path).map_err(io("open", &path))?;
    match file.try_lock() {
        Ok(()) => Ok(DataDirLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => Err(DataDirError::Locked(path)),
        Err(std::fs::TryLockError::Error(e)) => Err(DataDirError::Io {
            what: "lock",
            path,
            source: e,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::verify_code;
    use crate::credential::TEST_RSA_BITS;

    #[test]
    fn init_writes_everything() {
        let dir = tempfile::tempdir().expect("tempdir");
        let roll =
            Roll::from_pairs([("alice", "d1"), ("bob, jr.", "d2"), ("carol", "d1")]).expect("roll");
        let options = InitOptions {
            rsa_bits: TEST_RSA_BITS,
            argon2: Argon2Profile::Fast,
            write_codes_file: true,
        };
        let out = init_data_dir(dir.path(), &roll, &options).expect("init");
        assert_eq!(out.codes.len(), 3);
        assert_eq!(out.district_keys.len(), 2);

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for f in [
                DB_FILE.to_string(),
                SIGNING_KEY_FILE.to_string(),
                CODES_FILE.to_string(),
                format!("{KEYS_DIR}/d1.pk8"),
            ] {
                let mode = fs::metadata(dir.path().join(&f))
                    .expect("stat")
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o077, 0, "{f}: {mode:o}");
            }
        }

        // Codes file: header and one quoted row.
        let text = fs::read_to_string(dir.path().join(CODES_FILE)).expect("codes");
        assert!(text.starts_with("voter_id,district,enrollment_code\nalice,d1,"));
        assert!(text.contains("\"bob, jr.\",d2,"));

        // Public keys file matches.
        let public = PublicKeysFile::read(dir.path()).expect("json");
        assert_eq!(public.districts.len(), 2);
        assert_eq!(public.districts[0].voters, 2);
        assert_eq!(public.district_keys().expect("keys"), out.district_keys);
        assert_eq!(
            public.issuer_signing_key,
            hex::encode(out.signing_key.as_bytes())
        );

        // The database has the hashes, the keys load.
        let store = Store::open(&dir.path().join(DB_FILE)).expect("db");
        let row = store.voter("alice").expect("voter").expect("alice");
        assert!(verify_code(&out.codes[0].code, &row.code_hash));
        assert!(!verify_code(&out.codes[1].code, &row.code_hash));
        let keys = load_keys(dir.path(), &store.districts().expect("districts")).expect("keys");
        assert_eq!(keys.signing.verifying_key(), out.signing_key);
        assert_eq!(keys.districts["d2"].public_key(), &out.district_keys["d2"]);
        assert!(!format!("{keys:?}").contains(&hex::encode(keys.signing.as_bytes())));

        // A second init refuses.
        assert!(matches!(
            init_data_dir(dir.path(), &roll, &options),
            Err(DataDirError::Exists(_))
        ));

        // The lock is exclusive (and needs an initialized directory).
        assert!(matches!(
            lock_data_dir(&dir.path().join("nothing")),
            Err(DataDirError::NotInitialized(_))
        ));
        let lock = lock_data_dir(dir.path()).expect("lock");
        assert!(matches!(
            lock_data_dir(dir.path()),
            Err(DataDirError::Locked(_))
        ));
        drop(lock);
        lock_data_dir(dir.path()).expect("relock");
    }

    #[test]
    fn bad_key_size_is_refused_before_writing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let roll = Roll::from_pairs([("alice", "d1")]).expect("roll");
        let options = InitOptions {
            rsa_bits: 1024,
            argon2: Argon2Profile::Fast,
            write_codes_file: false,
        };
        assert!(matches!(
            init_data_dir(&dir.path().join("x"), &roll, &options),
            Err(DataDirError::Credential(CredentialError::KeySize(1024)))
        ));
        assert!(!dir.path().join("x").exists());
    }

    #[cfg(unix)]
    #[test]
    fn open_secret_files_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join(SIGNING_KEY_FILE);
        fs::write(&p, [7u8; 32]).expect("write");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(matches!(
            load_keys(dir.path(), &[]),
            Err(DataDirError::Permissions { .. })
        ));
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).expect("chmod");
        load_keys(dir.path(), &[]).expect("load");
        fs::write(&p, [7u8; 31]).expect("write");
        assert!(matches!(
            load_keys(dir.path(), &[]),
            Err(DataDirError::BadKey { .. })
        ));
    }
}
