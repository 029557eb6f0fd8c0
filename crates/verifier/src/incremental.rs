//! Incremental verification of a live board (`spec/checks.md` §13):
//! `tallyboard verify --board URL --state FILE`.
//!
//! The first run verifies the whole record and saves what it built; each
//! later run downloads only the entries after the saved checkpoint, has the
//! board prove its new checkpoint consistent with the saved one, applies
//! only the new entries and saves again. The report is the one a full run
//! over the same record gives (less the performance figures): the saved
//! state holds everything the entries built, and the checks that concern
//! the checkpoint (V1.1–V1.5) and the end of the record are judged afresh.
//!
//! Two files:
//!
//! * `FILE`, the saved state, replaced atomically at the end of a run:
//!   the board key, the last verified checkpoint, how much of the entry file
//!   it covers, the engine's state, and a SHA-256 of all of it;
//! * `FILE.entries`, the entries verified so far, each as in a record file
//!   (u32 BE length ‖ bytes), appended and synced before they are verified.
//!   The engine re-reads a few ballots from it (superseded revotes at a
//!   tally, checked against the saved leaf hashes).

use std::fs::{File, OpenOptions};
use std::io::{self, Cursor, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};
use tallyboard_board_client::{BoardClient, ClientError};
use tallyboard_protocol::snapshot::{SnapReader, SnapWriter, SnapshotError};
use tallyboard_tlog::{Ed25519Verifier, SignedCheckpoint};

use crate::record::{RawEntry, MAGIC};
use crate::verify::{read_engine, run_from, Source};
use crate::{Report, VerifyOptions};

/// First line of a saved-state file.
pub const STATE_MAGIC: &[u8] = b"tallyboard-verifier-state/v1\n";

/// Largest saved-state file read (the engine's state is about 100 bytes per
/// entry and credential; 64 GiB is far beyond any election).
const MAX_STATE_BYTES: u64 = 64 << 30;

/// Why an incremental run could not run. A record that fails a check is not
/// an error: it is a report with `ok == false`.
#[derive(Debug, thiserror::Error)]
pub enum IncrementalError {
    /// Reading or writing a state file failed.
    #[error("{what} {path}: {error}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The error (in the message, so not also a source).
        error: io::Error,
    },
    /// The saved state does not read back.
    #[error(
        "the saved state {path} is unusable ({reason}); move it away to verify from the start"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why (in the message).
        reason: SnapshotError,
    },
    /// The saved state is of another board.
    #[error("the saved state {path} is of the board {saved}, not of {given}")]
    OtherBoard {
        /// The file.
        path: PathBuf,
        /// Its board key.
        saved: String,
        /// The key given.
        given: String,
    },
    /// The board's new checkpoint does not extend the saved one: the board
    /// showed two histories. The saved checkpoint is the evidence.
    #[error("the board's checkpoint is not consistent with the saved checkpoint of {size} entries (in {path}): {error}")]
    Fork {
        /// The saved state.
        path: PathBuf,
        /// Size of the saved checkpoint.
        size: u64,
        /// What the board answered (in the message).
        error: ClientError,
    },
    /// The board failed or served something that does not verify.
    #[error(transparent)]
    Board(#[from] ClientError),
}

/// The two files of a saved state.
#[derive(Debug, Clone)]
pub struct StateFiles {
    /// The saved state.
    pub state: PathBuf,
    /// The entries verified so far.
    pub entries: PathBuf,
}

impl StateFiles {
    /// `path` and `path.entries`.
    pub fn new(path: &Path) -> Self {
        let mut entries = path.as_os_str().to_owned();
        entries.push(".entries");
        Self {
            state: path.to_path_buf(),
            entries: PathBuf::from(entries),
        }
    }
}

/// What a saved state says, and the engine's state (decoded when the run
/// starts).
struct Saved {
    board: String,
    checkpoint: Vec<u8>,
    entries: u64,
    entries_len: u64,
    engine: Vec<u8>,
}

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> IncrementalError {
    let path = path.to_path_buf();
    move |error| IncrementalError::Io { what, path, error }
}

fn encode_saved(s: &Saved) -> Vec<u8> {
    let mut w = SnapWriter::new();
    w.fixed(STATE_MAGIC);
    w.str(&s.board);
    w.bytes(&s.checkpoint);
    w.u64(s.entries);
    w.u64(s.entries_len);
    w.bytes(&s.engine);
    let mut out = w.into_bytes();
    let digest = Sha256::digest(&out);
    out.extend_from_slice(&digest);
    out
}

fn decode_saved(bytes: &[u8]) -> Result<Saved, SnapshotError> {
    let body_len = bytes
        .len()
        .checked_sub(32)
        .ok_or(SnapshotError::Truncated("the file"))?;
    let (body, digest) = bytes.split_at(body_len);
    let mut r = SnapReader::new(body);
    if r.take(STATE_MAGIC.len(), "the first line")? != STATE_MAGIC {
        return Err(SnapshotError::invalid(
            "first line",
            "not a tallyboard verifier state",
        ));
    }
    if Sha256::digest(body).as_slice() != digest {
        return Err(SnapshotError::invalid(
            "checksum",
            "the file was changed or damaged since it was saved",
        ));
    }
    let s = Saved {
        board: r.str("board key")?,
        checkpoint: r.bytes("checkpoint")?.to_vec(),
        entries: r.u64("entries")?,
        entries_len: r.u64("entry file length")?,
        engine: r.bytes("engine")?.to_vec(),
    };
    r.finish()?;
    Ok(s)
}

/// What [`download`] fetched: the new entries are in the entry file, after
/// `from_len` bytes.
pub struct Update {
    files: StateFiles,
    board: Ed25519Verifier,
    saved: Option<Saved>,
    checkpoint: Vec<u8>,
    from_len: u64,
    to_len: u64,
    new_entries: u64,
}

impl Update {
    /// Entries verified by earlier runs.
    pub fn verified_before(&self) -> u64 {
        self.saved.as_ref().map_or(0, |s| s.entries)
    }
    /// Entries this run verifies.
    pub fn new_entries(&self) -> u64 {
        self.new_entries
    }
}

/// Loads the saved state (if `files.state` exists), has the board prove its
/// latest checkpoint consistent with the saved one, and appends the entries
/// after it to the entry file (synced). Nothing is verified yet.
pub async fn download(
    client: &mut BoardClient,
    files: &StateFiles,
) -> Result<Update, IncrementalError> {
    let board = client.board_key().clone();
    let vkey = board.to_vkey();
    let saved = match std::fs::metadata(&files.state) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(io_err("reading", &files.state)(e)),
        Ok(meta) => {
            if meta.len() > MAX_STATE_BYTES {
                return Err(IncrementalError::Corrupt {
                    path: files.state.clone(),
                    reason: SnapshotError::invalid("size", format!("{} bytes", meta.len())),
                });
            }
            let bytes = std::fs::read(&files.state).map_err(io_err("reading", &files.state))?;
            let s = decode_saved(&bytes).map_err(|reason| IncrementalError::Corrupt {
                path: files.state.clone(),
                reason,
            })?;
            if s.board != vkey {
                return Err(IncrementalError::OtherBoard {
                    path: files.state.clone(),
                    saved: s.board,
                    given: vkey,
                });
            }
            Some(s)
        }
    };
    let (latest, from) = match &saved {
        None => (client.checkpoint().await?, 0),
        Some(s) => {
            let old = SignedCheckpoint::open(&s.checkpoint, &board).map_err(|e| {
                IncrementalError::Corrupt {
                    path: files.state.clone(),
                    reason: SnapshotError::invalid("checkpoint", e.to_string()),
                }
            })?;
            let latest = client
                .check_consistency(old.checkpoint())
                .await
                .map_err(|error| IncrementalError::Fork {
                    path: files.state.clone(),
                    size: old.checkpoint().size(),
                    error,
                })?;
            (latest, s.entries)
        }
    };
    let size = latest.checkpoint().size();
    // The entry file: cut back to what the saved state covers (a run that
    // stopped after appending left more), then append.
    let from_len = saved.as_ref().map_or(0, |s| s.entries_len);
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&files.entries)
        .map_err(io_err("opening", &files.entries))?;
    let have = file
        .metadata()
        .map_err(io_err("reading", &files.entries))?
        .len();
    if have < from_len {
        return Err(IncrementalError::Corrupt {
            path: files.entries.clone(),
            reason: SnapshotError::invalid(
                "entry file",
                format!("{have} bytes, the saved state covers {from_len}"),
            ),
        });
    }
    file.set_len(from_len)
        .map_err(io_err("truncating", &files.entries))?;
    file.seek(SeekFrom::Start(from_len))
        .map_err(io_err("writing", &files.entries))?;
    let mut out = io::BufWriter::new(file);
    let mut next = from;
    let mut len = from_len;
    while next < size {
        let (page, _) = client.list_entries(next, 0).await?;
        if page.is_empty() {
            return Err(ClientError::Malformed(format!(
                "the board served {next} of the {size} entries its checkpoint covers"
            ))
            .into());
        }
        for e in page.into_iter().take((size - next) as usize) {
            let n = u32::try_from(e.entry.len()).unwrap_or(u32::MAX);
            out.write_all(&n.to_be_bytes())
                .and_then(|()| out.write_all(&e.entry))
                .map_err(io_err("writing", &files.entries))?;
            len += 4 + e.entry.len() as u64;
            next += 1;
        }
    }
    let file = out
        .into_inner()
        .map_err(|e| io_err("writing", &files.entries)(e.into_error()))?;
    file.sync_all().map_err(io_err("syncing", &files.entries))?;
    if saved.is_none() {
        // As a full download does (`crate::export`): the board proves its
        // latest checkpoint consistent with the one downloaded.
        client.check_consistency(latest.checkpoint()).await?;
    }
    Ok(Update {
        files: files.clone(),
        board,
        saved,
        checkpoint: latest.as_bytes().to_vec(),
        from_len,
        to_len: len,
        new_entries: size - from,
    })
}

/// The new entries as a record file (header, entries from the entry file,
/// checkpoint), placed after the saved ones.
struct Continuation {
    path: PathBuf,
    file: Mutex<File>,
    header: Vec<u8>,
    checkpoint: Vec<u8>,
    first_index: u64,
    from_len: u64,
    to_len: u64,
}

impl Source for Continuation {
    fn stream(&self) -> io::Result<Box<dyn Read + Send + '_>> {
        let mut f = File::open(&self.path)?;
        f.seek(SeekFrom::Start(self.from_len))?;
        let entries = io::BufReader::with_capacity(1 << 20, f).take(self.to_len - self.from_len);
        let mut trailer = (self.checkpoint.len() as u32).to_be_bytes().to_vec();
        trailer.extend_from_slice(&self.checkpoint);
        Ok(Box::new(
            Cursor::new(self.header.clone())
                .chain(entries)
                .chain(Cursor::new(trailer)),
        ))
    }

    fn read_at(&self, offset: u64) -> io::Result<Vec<u8>> {
        let mut f = self
            .file
            .lock()
            .map_err(|_| io::Error::other("poisoned lock"))?;
        crate::verify::read_entry_at(&mut *f, offset)
    }

    fn locate(&self, e: &mut RawEntry) {
        e.index += self.first_index;
        e.offset = e.offset - self.header.len() as u64 + self.from_len;
    }
}

/// Verifies the entries [`download`] fetched, continuing from the saved
/// state, and saves the new state. The report is that of the whole record.
pub fn verify_update(update: Update, opts: &VerifyOptions) -> Result<Report, IncrementalError> {
    let files = &update.files;
    let resume = match &update.saved {
        None => None,
        Some(s) => {
            let mut r = SnapReader::new(&s.engine);
            let restored = read_engine(&mut r)
                .and_then(|e| r.finish().map(|()| e))
                .map_err(|reason| IncrementalError::Corrupt {
                    path: files.state.clone(),
                    reason,
                })?;
            Some(restored)
        }
    };
    let first_index = update.verified_before();
    let mut header = MAGIC.to_vec();
    header.extend_from_slice(format!("{}\n", update.new_entries).as_bytes());
    let src = Continuation {
        path: files.entries.clone(),
        file: Mutex::new(File::open(&files.entries).map_err(io_err("opening", &files.entries))?),
        header,
        checkpoint: update.checkpoint.clone(),
        first_index,
        from_len: update.from_len,
        to_len: update.to_len,
    };
    let mut opts = opts.clone();
    opts.board_consistency.push(format!(
        "board consistency proof {first_index} -> {}",
        first_index + update.new_entries
    ));
    let (report, saved) = run_from(&src, &opts, resume, true);
    let engine = match saved {
        Some(Ok(bytes)) => bytes,
        Some(Err(reason)) => {
            return Err(IncrementalError::Corrupt {
                path: files.state.clone(),
                reason,
            })
        }
        None => Vec::new(),
    };
    let state = Saved {
        board: update.board.to_vkey(),
        checkpoint: update.checkpoint,
        entries: first_index + update.new_entries,
        entries_len: update.to_len,
        engine,
    };
    let dir = files
        .state
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    tallyboard_board_client::fsutil::replace_file(dir, &files.state, &encode_saved(&state), 0o600)
        .map_err(|(what, path, error)| IncrementalError::Io { what, path, error })?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_saved_state_reads_back_and_any_change_is_refused() {
        let s = Saved {
            board: "board+1234+key".into(),
            checkpoint: b"note".to_vec(),
            entries: 7,
            entries_len: 700,
            engine: vec![1, 2, 3],
        };
        let bytes = encode_saved(&s);
        let back = decode_saved(&bytes).unwrap();
        assert_eq!(
            (
                back.board,
                back.checkpoint,
                back.entries,
                back.entries_len,
                back.engine
            ),
            (s.board, s.checkpoint, 7, 700, vec![1, 2, 3])
        );
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 1;
            assert!(decode_saved(&b).is_err(), "byte {i} flipped");
        }
        for n in 0..bytes.len() {
            assert!(decode_saved(&bytes[..n]).is_err(), "cut at {n}");
        }
    }
}
