//! Durable storage of the log (`spec/board.md` §2).
//!
//! A backend keeps three append-only tables: the entries (exact bytes, by log
//! index), the tlog *stored hashes* (by stored-hash index, `spec/tlog.md` §3)
//! and the signed checkpoints (by tree size). The sequencer is the only
//! writer; it hands a backend whole batches, each with the checkpoint that
//! signs the batch's final tree, and the backend commits each batch
//! atomically and durably. Readers may run concurrently with the writer and
//! with each other.
//!
//! The embedded backend is [`SqliteStorage`] (§2.1); [`PostgresStorage`]
//! keeps the log in a PostgreSQL schema (§2.3): one transaction per batch
//! with `synchronous_commit = on`, and the `size` precondition of
//! [`Storage::append`] enforced inside the transaction.

mod postgres;
mod sqlite;

pub use self::postgres::{redact_url, PostgresStorage};
pub use sqlite::SqliteStorage;

use tallyboard_tlog::{Hash, HashReader};

/// Errors of a storage backend.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The backend failed (I/O, database error). The message names the
    /// operation; no entry data or key material is included.
    #[error("storage backend failed during {op}: {message}")]
    Backend {
        /// What was being done.
        op: &'static str,
        /// The backend's error text.
        message: String,
    },
    /// A batch did not start at the stored size: someone else appended, or
    /// the caller lost track. Nothing was written.
    #[error("batch starts at index {batch_start} but the log has {stored_size} entries")]
    SizeMismatch {
        /// First index of the rejected batch.
        batch_start: u64,
        /// Entries durably stored.
        stored_size: u64,
    },
    /// Stored data violates the schema's invariants (missing rows, bad
    /// lengths, gaps). The data directory is damaged.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The data directory belongs to another board (origin or key differ).
    #[error("the data directory belongs to another board: {0}")]
    WrongBoard(String),
}

impl StorageError {
    /// A backend error for operation `op`.
    pub fn backend(op: &'static str, err: impl std::fmt::Display) -> Self {
        StorageError::Backend {
            op,
            message: err.to_string(),
        }
    }
}

/// One entry of a batch: its index, exact bytes and the stored hashes its
/// append produces (the first is its leaf hash, `spec/tlog.md` §3.3).
#[derive(Debug, Clone, Copy)]
pub struct BatchEntry<'a> {
    /// 0-based log index.
    pub index: u64,
    /// The exact entry bytes.
    pub bytes: &'a [u8],
    /// `stored_hashes_for_record(index, leaf_hash(bytes), ..)`: written at
    /// consecutive stored-hash indexes from `stored_hash_index(0, index)`.
    pub stored_hashes: &'a [Hash],
}

/// A batch committed in one transaction (`spec/board.md` §2.2).
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    /// The entries, with consecutive indexes starting at the stored size.
    /// May be empty (then only the checkpoint is written: the initial
    /// checkpoint of the empty log).
    pub entries: &'a [BatchEntry<'a>],
    /// The tree size after the batch (= stored size + entries).
    pub checkpoint_size: u64,
    /// The signed checkpoint (C2SP note bytes) of the tree after the batch.
    pub checkpoint: &'a [u8],
}

/// Durable, append-only storage of entries, stored hashes and checkpoints.
///
/// All methods block; async callers run them on a blocking thread. Reads
/// return only committed data: a reader never observes part of a batch.
pub trait Storage: HashReader<Error = StorageError> + Send + Sync + 'static {
    /// Number of entries durably stored.
    fn size(&self) -> Result<u64, StorageError>;

    /// Appends a batch atomically and durably: when this returns `Ok`, the
    /// entries, their stored hashes and the checkpoint survive a crash or
    /// power failure; when it returns `Err`, nothing of the batch was
    /// written. Fails with [`StorageError::SizeMismatch`] unless the first
    /// entry's index equals [`Storage::size`] (and, for an empty batch,
    /// `checkpoint_size` equals it).
    fn append(&self, batch: &Batch<'_>) -> Result<(), StorageError>;

    /// Entries `[start, end)` in order, stopping early (but after at least
    /// one entry) once `max_bytes` of entry data were read. Fails if any
    /// index in the range is not stored.
    fn read_entries(
        &self,
        start: u64,
        end: u64,
        max_bytes: usize,
    ) -> Result<Vec<Vec<u8>>, StorageError>;

    /// The stored hashes `[start, end)` by stored-hash index (for
    /// recovery, which checks every one of them).
    fn read_hash_range(&self, start: u64, end: u64) -> Result<Vec<Hash>, StorageError>;

    /// Number of stored hashes.
    fn hash_count(&self) -> Result<u64, StorageError>;

    /// The latest signed checkpoint, with its tree size, if any.
    fn latest_checkpoint(&self) -> Result<Option<(u64, Vec<u8>)>, StorageError>;

    /// Number of batches committed by this process (each one transaction
    /// and one log sync): a statistic for benchmarks.
    fn commits(&self) -> u64;

    /// The index of the first entry whose leaf hash is `leaf_hash` (the
    /// lookup by tracker, `spec/board.md` §5.8), if any.
    fn find_leaf(&self, leaf_hash: &Hash) -> Result<Option<u64>, StorageError>;

    /// The signed checkpoint stored for tree size `size`, if any (the board
    /// stores one per committed batch).
    fn checkpoint_at(&self, size: u64) -> Result<Option<Vec<u8>>, StorageError>;

    /// Stores witness cosignature lines `(witness name, line)` of the
    /// checkpoint of tree size `size`, durably, replacing an earlier line by
    /// the same witness for that size (`spec/board.md` §10.3).
    fn put_cosignatures(&self, size: u64, lines: &[(String, String)]) -> Result<(), StorageError>;

    /// The cosignatures of tree size `size`, or (`None`) of the largest
    /// cosigned size; `None` if there are none.
    fn cosignatures(&self, size: Option<u64>) -> Result<Option<Cosignatures>, StorageError>;
}

/// The witness cosignature lines the board holds for one checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosignatures {
    /// Tree size of the checkpoint.
    pub size: u64,
    /// `(witness name, signature line without newline)`, by witness name.
    pub lines: Vec<(String, String)>,
}
