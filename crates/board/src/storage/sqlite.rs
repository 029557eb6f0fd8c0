//! The embedded SQLite backend (`spec/board.md` §2.1).
//!
//! One database file in WAL mode with `synchronous = FULL`: every commit
//! syncs the write-ahead log before it returns, so a committed batch survives
//! power loss. (`NORMAL` would sync only at WAL checkpoints, and a batch whose
//! receipts were already sent could roll back: not acceptable for a board.)
//! One writer connection, used only by the sequencer thread; a small pool of
//! reader connections, which WAL lets run concurrently with the writer, each
//! seeing only committed transactions.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use tallyboard_tlog::{stored_hash_index, Hash, HashReader, HASH_SIZE};

use super::{Batch, Cosignatures, Storage, StorageError};

/// Schema version stored in `meta`.
const SCHEMA_VERSION: &str = "1";

/// Idle reader connections kept open.
const MAX_IDLE_READERS: usize = 16;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS entries (
    idx  INTEGER PRIMARY KEY,
    data BLOB NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS hashes (
    idx  INTEGER PRIMARY KEY,
    hash BLOB NOT NULL CHECK (length(hash) = 32)
) STRICT;
CREATE TABLE IF NOT EXISTS checkpoints (
    size INTEGER PRIMARY KEY,
    note BLOB NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS leaves (
    hash BLOB PRIMARY KEY CHECK (length(hash) = 32),
    idx  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cosignatures (
    size    INTEGER NOT NULL,
    witness TEXT NOT NULL,
    line    TEXT NOT NULL,
    PRIMARY KEY (size, witness)
) STRICT, WITHOUT ROWID;
";

/// `meta` key: entries whose leaf hash is in `leaves` (the lookup index
/// by tracker, `spec/board.md` §2.1); older databases are indexed on open.
const LEAVES_UPTO: &str = "leaves_upto";

/// The SQLite storage backend.
pub struct SqliteStorage {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    commits: AtomicU64,
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorage")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn db_err(op: &'static str) -> impl Fn(rusqlite::Error) -> StorageError {
    move |e| StorageError::backend(op, e)
}

fn to_i64(v: u64) -> Result<i64, StorageError> {
    i64::try_from(v).map_err(|_| StorageError::Corrupt(format!("index {v} out of range")))
}

fn to_u64(v: i64) -> Result<u64, StorageError> {
    u64::try_from(v).map_err(|_| StorageError::Corrupt(format!("negative index {v}")))
}

fn to_hash(blob: &[u8]) -> Result<Hash, StorageError> {
    Hash::from_slice(blob).map_err(|_| {
        StorageError::Corrupt(format!(
            "stored hash has {} bytes, not {HASH_SIZE}",
            blob.len()
        ))
    })
}

impl SqliteStorage {
    /// Opens (creating if needed) the database at `path` for the board with
    /// checkpoint origin `origin` and note verifier key `vkey`. A database
    /// created for another origin or key is refused with
    /// [`StorageError::WrongBoard`].
    pub fn open(path: &Path, origin: &str, vkey: &str) -> Result<Self, StorageError> {
        let conn = Connection::open(path).map_err(db_err("open"))?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(db_err("open"))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(db_err("open"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StorageError::backend(
                "open",
                format!("cannot enable WAL mode (journal_mode is {mode})"),
            ));
        }
        conn.execute_batch("PRAGMA synchronous = FULL;")
            .map_err(db_err("open"))?;
        conn.execute_batch(SCHEMA)
            .map_err(db_err("create schema"))?;

        let storage = SqliteStorage {
            path: path.to_owned(),
            writer: Mutex::new(conn),
            readers: Mutex::new(Vec::new()),
            commits: AtomicU64::new(0),
        };
        storage.bind_identity(origin, vkey)?;
        storage.index_leaves()?;
        Ok(storage)
    }

    /// Adds the leaf hashes of entries not yet in `leaves` (a database
    /// written before the lookup index existed), in one transaction.
    fn index_leaves(&self) -> Result<(), StorageError> {
        let mut conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err("index leaves"))?;
        let size = size_of(&tx)?;
        let upto = leaves_upto(&tx)?;
        if upto < size {
            let mut get = tx
                .prepare_cached("SELECT hash FROM hashes WHERE idx = ?1")
                .map_err(db_err("index leaves"))?;
            let mut put = tx
                .prepare_cached("INSERT OR IGNORE INTO leaves (hash, idx) VALUES (?1, ?2)")
                .map_err(db_err("index leaves"))?;
            for n in upto..size {
                let hash: Vec<u8> = get
                    .query_row([to_i64(stored_hash_index(0, n))?], |r| r.get(0))
                    .map_err(db_err("index leaves"))?;
                put.execute(params![hash, to_i64(n)?])
                    .map_err(db_err("index leaves"))?;
            }
        }
        if upto != size {
            set_leaves_upto(&tx, size)?;
        }
        tx.commit().map_err(db_err("index leaves"))
    }

    /// Records (first open) or checks (later opens) which board owns the
    /// database.
    fn bind_identity(&self, origin: &str, vkey: &str) -> Result<(), StorageError> {
        let mut conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err("bind identity"))?;
        let get = |key: &str| -> Result<Option<String>, StorageError> {
            tx.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()
                .map_err(db_err("read meta"))
        };
        match get("schema_version")? {
            None => {
                for (k, v) in [
                    ("schema_version", SCHEMA_VERSION),
                    ("origin", origin),
                    ("vkey", vkey),
                ] {
                    tx.execute("INSERT INTO meta (key, value) VALUES (?1, ?2)", [k, v])
                        .map_err(db_err("write meta"))?;
                }
            }
            Some(v) if v == SCHEMA_VERSION => {
                let stored_origin = get("origin")?.unwrap_or_default();
                if stored_origin != origin {
                    return Err(StorageError::WrongBoard(format!(
                        "origin is {stored_origin:?}, not {origin:?}"
                    )));
                }
                let stored_vkey = get("vkey")?.unwrap_or_default();
                if stored_vkey != vkey {
                    return Err(StorageError::WrongBoard(format!(
                        "it was created with key {stored_vkey:?}, not {vkey:?}"
                    )));
                }
            }
            Some(v) => {
                return Err(StorageError::Corrupt(format!(
                    "unknown schema version {v:?}"
                )))
            }
        }
        tx.commit().map_err(db_err("bind identity"))
    }

    fn open_reader(&self) -> Result<Connection, StorageError> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(db_err("open reader"))?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(db_err("open reader"))?;
        conn.execute_batch("PRAGMA query_only = ON;")
            .map_err(db_err("open reader"))?;
        Ok(conn)
    }

    /// Runs `f` on a pooled reader connection.
    fn with_reader<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let pooled = self
            .readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match pooled {
            Some(c) => c,
            None => self.open_reader()?,
        };
        let result = f(&conn);
        let mut pool = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        if pool.len() < MAX_IDLE_READERS {
            pool.push(conn);
        }
        result
    }
}

fn leaves_upto(conn: &Connection) -> Result<u64, StorageError> {
    let v: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [LEAVES_UPTO],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err("read meta"))?;
    match v {
        None => Ok(0),
        Some(v) => v
            .parse()
            .map_err(|_| StorageError::Corrupt(format!("meta {LEAVES_UPTO} is {v:?}"))),
    }
}

fn set_leaves_upto(conn: &Connection, size: u64) -> Result<(), StorageError> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![LEAVES_UPTO, size.to_string()],
    )
    .map_err(db_err("write meta"))?;
    Ok(())
}

fn size_of(conn: &Connection) -> Result<u64, StorageError> {
    let n: i64 = conn
        .query_row("SELECT COALESCE(MAX(idx) + 1, 0) FROM entries", [], |r| {
            r.get(0)
        })
        .map_err(db_err("read size"))?;
    to_u64(n)
}

impl HashReader for SqliteStorage {
    type Error = StorageError;

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StorageError> {
        self.with_reader(|conn| {
            let mut stmt = conn
                .prepare_cached("SELECT hash FROM hashes WHERE idx = ?1")
                .map_err(db_err("read hashes"))?;
            indexes
                .iter()
                .map(|&i| {
                    let blob: Option<Vec<u8>> = stmt
                        .query_row([to_i64(i)?], |r| r.get(0))
                        .optional()
                        .map_err(db_err("read hashes"))?;
                    match blob {
                        Some(b) => to_hash(&b),
                        None => Err(StorageError::Corrupt(format!("stored hash {i} is missing"))),
                    }
                })
                .collect()
        })
    }
}

impl Storage for SqliteStorage {
    fn size(&self) -> Result<u64, StorageError> {
        self.with_reader(size_of)
    }

    fn append(&self, batch: &Batch<'_>) -> Result<(), StorageError> {
        let mut conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err("begin append"))?;
        let stored_size = size_of(&tx)?;
        let batch_start = batch
            .entries
            .first()
            .map_or(batch.checkpoint_size, |e| e.index);
        if batch_start != stored_size {
            return Err(StorageError::SizeMismatch {
                batch_start,
                stored_size,
            });
        }
        {
            let mut put_entry = tx
                .prepare_cached("INSERT INTO entries (idx, data) VALUES (?1, ?2)")
                .map_err(db_err("append entries"))?;
            let mut put_hash = tx
                .prepare_cached("INSERT INTO hashes (idx, hash) VALUES (?1, ?2)")
                .map_err(db_err("append hashes"))?;
            let mut put_leaf = tx
                .prepare_cached("INSERT OR IGNORE INTO leaves (hash, idx) VALUES (?1, ?2)")
                .map_err(db_err("append leaves"))?;
            let mut expected = stored_size;
            for e in batch.entries {
                if e.index != expected {
                    return Err(StorageError::SizeMismatch {
                        batch_start: e.index,
                        stored_size: expected,
                    });
                }
                expected += 1;
                put_entry
                    .execute(params![to_i64(e.index)?, e.bytes])
                    .map_err(db_err("append entries"))?;
                let first = stored_hash_index(0, e.index);
                if let Some(leaf) = e.stored_hashes.first() {
                    put_leaf
                        .execute(params![&leaf.0[..], to_i64(e.index)?])
                        .map_err(db_err("append leaves"))?;
                }
                for (k, h) in (first..).zip(e.stored_hashes) {
                    put_hash
                        .execute(params![to_i64(k)?, &h.0[..]])
                        .map_err(db_err("append hashes"))?;
                }
            }
            if expected != batch.checkpoint_size {
                return Err(StorageError::SizeMismatch {
                    batch_start: batch.checkpoint_size,
                    stored_size: expected,
                });
            }
            tx.execute(
                "INSERT INTO checkpoints (size, note) VALUES (?1, ?2)",
                params![to_i64(batch.checkpoint_size)?, batch.checkpoint],
            )
            .map_err(db_err("append checkpoint"))?;
            if !batch.entries.is_empty() {
                set_leaves_upto(&tx, batch.checkpoint_size)?;
            }
        }
        tx.commit().map_err(db_err("commit"))?;
        self.commits.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn read_entries(
        &self,
        start: u64,
        end: u64,
        max_bytes: usize,
    ) -> Result<Vec<Vec<u8>>, StorageError> {
        if start >= end {
            return Ok(Vec::new());
        }
        self.with_reader(|conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT idx, data FROM entries WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
                )
                .map_err(db_err("read entries"))?;
            let mut rows = stmt
                .query([to_i64(start)?, to_i64(end)?])
                .map_err(db_err("read entries"))?;
            let mut out = Vec::new();
            let mut bytes = 0usize;
            let mut expected = start;
            while let Some(row) = rows.next().map_err(db_err("read entries"))? {
                let idx: i64 = row.get(0).map_err(db_err("read entries"))?;
                if to_u64(idx)? != expected {
                    return Err(StorageError::Corrupt(format!(
                        "entry {expected} is missing"
                    )));
                }
                let data: Vec<u8> = row.get(1).map_err(db_err("read entries"))?;
                bytes = bytes.saturating_add(data.len());
                out.push(data);
                expected += 1;
                if bytes >= max_bytes {
                    break;
                }
            }
            if out.is_empty() {
                return Err(StorageError::Corrupt(format!("entry {start} is missing")));
            }
            Ok(out)
        })
    }

    fn read_hash_range(&self, start: u64, end: u64) -> Result<Vec<Hash>, StorageError> {
        if start >= end {
            return Ok(Vec::new());
        }
        self.with_reader(|conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT idx, hash FROM hashes WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
                )
                .map_err(db_err("read hashes"))?;
            let mut rows = stmt
                .query([to_i64(start)?, to_i64(end)?])
                .map_err(db_err("read hashes"))?;
            let mut out = Vec::new();
            let mut expected = start;
            while let Some(row) = rows.next().map_err(db_err("read hashes"))? {
                let idx: i64 = row.get(0).map_err(db_err("read hashes"))?;
                if to_u64(idx)? != expected {
                    return Err(StorageError::Corrupt(format!(
                        "stored hash {expected} is missing"
                    )));
                }
                let blob: Vec<u8> = row.get(1).map_err(db_err("read hashes"))?;
                out.push(to_hash(&blob)?);
                expected += 1;
            }
            if expected != end {
                return Err(StorageError::Corrupt(format!(
                    "stored hash {expected} is missing"
                )));
            }
            Ok(out)
        })
    }

    fn hash_count(&self) -> Result<u64, StorageError> {
        self.with_reader(|conn| {
            let n: i64 = conn
                .query_row("SELECT COALESCE(MAX(idx) + 1, 0) FROM hashes", [], |r| {
                    r.get(0)
                })
                .map_err(db_err("count hashes"))?;
            to_u64(n)
        })
    }

    fn latest_checkpoint(&self) -> Result<Option<(u64, Vec<u8>)>, StorageError> {
        self.with_reader(|conn| {
            let row: Option<(i64, Vec<u8>)> = conn
                .query_row(
                    "SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(db_err("read checkpoint"))?;
            row.map(|(s, n)| Ok((to_u64(s)?, n))).transpose()
        })
    }

    fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    fn find_leaf(&self, leaf_hash: &Hash) -> Result<Option<u64>, StorageError> {
        self.with_reader(|conn| {
            let idx: Option<i64> = conn
                .prepare_cached("SELECT idx FROM leaves WHERE hash = ?1")
                .map_err(db_err("find leaf"))?
                .query_row([&leaf_hash.0[..]], |r| r.get(0))
                .optional()
                .map_err(db_err("find leaf"))?;
            idx.map(to_u64).transpose()
        })
    }

    fn checkpoint_at(&self, size: u64) -> Result<Option<Vec<u8>>, StorageError> {
        self.with_reader(|conn| {
            conn.prepare_cached("SELECT note FROM checkpoints WHERE size = ?1")
                .map_err(db_err("read checkpoint"))?
                .query_row([to_i64(size)?], |r| r.get(0))
                .optional()
                .map_err(db_err("read checkpoint"))
        })
    }

    fn put_cosignatures(&self, size: u64, lines: &[(String, String)]) -> Result<(), StorageError> {
        let mut conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err("write cosignatures"))?;
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT INTO cosignatures (size, witness, line) VALUES (?1, ?2, ?3)
                     ON CONFLICT (size, witness) DO UPDATE SET line = excluded.line",
                )
                .map_err(db_err("write cosignatures"))?;
            for (witness, line) in lines {
                put.execute(params![to_i64(size)?, witness, line])
                    .map_err(db_err("write cosignatures"))?;
            }
        }
        tx.commit().map_err(db_err("write cosignatures"))
    }

    fn cosignatures(&self, size: Option<u64>) -> Result<Option<Cosignatures>, StorageError> {
        self.with_reader(|conn| {
            let size: Option<i64> = match size {
                Some(s) => Some(to_i64(s)?),
                None => conn
                    .query_row("SELECT MAX(size) FROM cosignatures", [], |r| r.get(0))
                    .map_err(db_err("read cosignatures"))?,
            };
            let Some(size) = size else {
                return Ok(None);
            };
            let mut stmt = conn
                .prepare_cached(
                    "SELECT witness, line FROM cosignatures WHERE size = ?1 ORDER BY witness",
                )
                .map_err(db_err("read cosignatures"))?;
            let lines = stmt
                .query_map([size], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(db_err("read cosignatures"))?
                .collect::<Result<Vec<(String, String)>, _>>()
                .map_err(db_err("read cosignatures"))?;
            if lines.is_empty() {
                return Ok(None);
            }
            Ok(Some(Cosignatures {
                size: to_u64(size)?,
                lines,
            }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::BatchEntry;
    use tallyboard_tlog::{leaf_hash, stored_hashes_for_record, tree_hash, MemoryTree};

    fn dir() -> tempfile::TempDir {
        tempfile::tempdir().expect("temp dir")
    }

    #[test]
    fn append_read_and_reject() {
        let d = dir();
        let path = d.path().join("board.db");
        let s = SqliteStorage::open(&path, "o", "k").expect("open");
        assert_eq!(s.size().expect("size"), 0);
        assert_eq!(s.latest_checkpoint().expect("cp"), None);
        s.append(&Batch {
            entries: &[],
            checkpoint_size: 0,
            checkpoint: b"cp0",
        })
        .expect("initial checkpoint");

        let mut mem = MemoryTree::new();
        let data: Vec<Vec<u8>> = (0u8..5).map(|i| vec![i; 10]).collect();
        let mut hashes = Vec::new();
        for (i, d) in data.iter().enumerate() {
            let h = stored_hashes_for_record(i as u64, leaf_hash(d), &mem).expect("hashes");
            mem.append(d).expect("append");
            hashes.push(h);
        }
        let entries: Vec<BatchEntry<'_>> = data
            .iter()
            .zip(&hashes)
            .enumerate()
            .map(|(i, (d, h))| BatchEntry {
                index: i as u64,
                bytes: d,
                stored_hashes: h,
            })
            .collect();
        // Wrong start: nothing written.
        let err = s
            .append(&Batch {
                entries: &entries[1..],
                checkpoint_size: 5,
                checkpoint: b"x",
            })
            .expect_err("gap");
        assert!(matches!(err, StorageError::SizeMismatch { .. }));
        // A failing batch (duplicate checkpoint size 0) leaves nothing behind.
        s.append(&Batch {
            entries: &[],
            checkpoint_size: 0,
            checkpoint: b"again",
        })
        .expect_err("duplicate checkpoint");
        assert_eq!(s.size().expect("size"), 0);

        s.append(&Batch {
            entries: &entries[..3],
            checkpoint_size: 3,
            checkpoint: b"cp3",
        })
        .expect("append 3");
        s.append(&Batch {
            entries: &entries[3..],
            checkpoint_size: 5,
            checkpoint: b"cp5",
        })
        .expect("append 2");
        assert_eq!(s.commits(), 3);
        assert_eq!(s.size().expect("size"), 5);
        assert_eq!(s.hash_count().expect("count"), mem.stored().len() as u64);
        assert_eq!(
            s.read_hash_range(0, mem.stored().len() as u64)
                .expect("range"),
            mem.stored()
        );
        assert_eq!(tree_hash(5, &s).expect("root"), mem.root().expect("root"));
        assert_eq!(s.read_entries(1, 4, usize::MAX).expect("read"), data[1..4]);
        assert_eq!(s.read_entries(1, 4, 1).expect("read").len(), 1);
        assert!(s.read_entries(4, 6, usize::MAX).expect("read").len() == 1);
        assert!(s.read_entries(5, 6, usize::MAX).is_err());
        assert_eq!(
            s.latest_checkpoint().expect("cp"),
            Some((5, b"cp5".to_vec()))
        );
        drop(s);

        // Reopen: same identity works, another is refused.
        let s = SqliteStorage::open(&path, "o", "k").expect("reopen");
        assert_eq!(s.size().expect("size"), 5);
        drop(s);
        assert!(matches!(
            SqliteStorage::open(&path, "other", "k"),
            Err(StorageError::WrongBoard(_))
        ));
        assert!(matches!(
            SqliteStorage::open(&path, "o", "k2"),
            Err(StorageError::WrongBoard(_))
        ));
    }
}
