//! Private data directories and secret files, for the board's data
//! directory (`spec/board.md` §6) and the issuer's (`spec/issuer.md`): both
//! keep secret keys in files only their owner may read.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

use zeroize::Zeroizing;

/// Why a secret file could not be read.
#[derive(Debug)]
pub enum SecretFileError {
    /// An I/O step failed (`what`: "open", "stat" or "read").
    Io(&'static str, io::Error),
    /// Group or others may access the file; `mode` is its permission bits.
    Permissions(u32),
}

/// Creates `dir` and its missing parents, mode 0700 on Unix.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Makes the directory entries of `dir` durable (a no-op off Unix).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir).and_then(|d| d.sync_all())?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Writes a new file with permission bits `mode` (refusing to overwrite:
/// `AlreadyExists`) and syncs it. On error, says which step failed
/// ("create", "write" or "sync").
pub fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), (&'static str, io::Error)> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).map_err(|e| ("create", e))?;
    file.write_all(bytes).map_err(|e| ("write", e))?;
    file.sync_all().map_err(|e| ("sync", e))
}

/// Replaces `path` (in directory `dir`) atomically and durably: writes
/// `path.tmp`, syncs it, renames it over `path` and syncs `dir`. On error,
/// says which step failed and on which file.
pub fn replace_file(
    dir: &Path,
    path: &Path,
    bytes: &[u8],
    mode: u32,
) -> Result<(), (&'static str, std::path::PathBuf, io::Error)> {
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    write_new(&tmp, bytes, mode).map_err(|(what, e)| (what, tmp.clone(), e))?;
    fs::rename(&tmp, path).map_err(|e| ("rename", path.to_owned(), e))?;
    sync_dir(dir).map_err(|e| ("sync", dir.to_owned(), e))
}

/// Reads at most `limit` bytes of a secret file, refusing one that group or
/// others can access (on Unix). The bytes are zeroized when dropped.
pub fn read_secret(path: &Path, limit: u64) -> Result<Zeroizing<Vec<u8>>, SecretFileError> {
    let mut file = File::open(path).map_err(|e| SecretFileError::Io("open", e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file
            .metadata()
            .map_err(|e| SecretFileError::Io("stat", e))?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(SecretFileError::Permissions(mode));
        }
    }
    let mut bytes = Zeroizing::new(Vec::new());
    (&mut file)
        .take(limit)
        .read_to_end(&mut bytes)
        .map_err(|e| SecretFileError::Io("read", e))?;
    Ok(bytes)
}
