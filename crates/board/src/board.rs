//! The board: recovery, admission, sequencing and reads (`spec/board.md`
//! §3–§5). The gRPC service ([`crate::service`]) is a thin layer over
//! [`Board`].

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use tallyboard_protocol::{BoardIdentity, Prechecked, RecordState, RuleError, MAX_ENTRY_BYTES};
use tallyboard_tlog::{
    consistency_proof, inclusion_proof, leaf_hash, stored_hash_count, stored_hash_index,
    Checkpoint, CosignatureVerifier, Ed25519Signer, Ed25519Verifier, Hash, Note, NoteVerifier,
    SignedCheckpoint, TreeError, EMPTY_ROOT,
};
use tokio::sync::{broadcast, mpsc, oneshot, watch, OwnedSemaphorePermit, Semaphore};

use crate::error::{BoardError, OpenError};
use crate::keys::{self, DataDirLock};
use crate::receipt::Receipt;
use crate::sequencer::{sign_checkpoint, BatchLimits, CommittedBatch, Head, Job, Writer};
use crate::storage::{Batch, SqliteStorage, Storage, StorageError};
use crate::Frontier;

/// Limits of a board (`spec/board.md` §7). The defaults suit one machine.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest entry accepted (the record's own limit, rule R1.1).
    pub max_entry_bytes: usize,
    /// Most entries committed in one batch.
    pub max_batch_entries: usize,
    /// A batch stops growing once it holds this many bytes of entries.
    pub max_batch_bytes: usize,
    /// Appends waiting for the sequencer; further appends wait (async) for
    /// room, bounded by the request timeout.
    pub queue_depth: usize,
    /// Prechecks (signature and proof verification) running at once.
    pub precheck_concurrency: usize,
    /// Entries per `ListEntries` page when the request says 0.
    pub list_default: u32,
    /// Most entries per `ListEntries` page.
    pub list_max: u32,
    /// A page (or a stream's storage read) stops growing past this many
    /// bytes of entries (but holds at least one entry).
    pub page_bytes: usize,
    /// Concurrent `StreamEntries` calls.
    pub max_streams: usize,
    /// Messages buffered per stream before the stream's reader waits.
    pub stream_buffer: usize,
    /// Committed batches buffered for live streams; a stream that falls
    /// further behind re-reads from storage.
    pub live_batches: usize,
    /// Server-side deadline of every unary call (and of opening a stream).
    pub request_timeout: Duration,
    /// Concurrent requests per connection.
    pub concurrency_per_connection: usize,
}

impl Default for Limits {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Limits {
            max_entry_bytes: MAX_ENTRY_BYTES,
            max_batch_entries: 1024,
            max_batch_bytes: 4 << 20,
            queue_depth: 4096,
            precheck_concurrency: 2 * cores,
            list_default: 100,
            list_max: 1000,
            page_bytes: 2 << 20,
            max_streams: 1024,
            stream_buffer: 256,
            live_batches: 256,
            request_timeout: Duration::from_secs(30),
            concurrency_per_connection: 256,
        }
    }
}

/// Counters for operators and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Entries on the log.
    pub size: u64,
    /// Storage commits (one log sync each) since the board opened.
    pub commits: u64,
    /// Entries appended since the board opened.
    pub appended: u64,
}

/// An inclusion proof (`GetInclusionProof`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// Leaf hash of the entry.
    pub leaf_hash: Hash,
    /// Tree size the proof is for.
    pub tree_size: u64,
    /// Audit path, leaf's sibling first.
    pub proof: Vec<Hash>,
}

/// A consistency proof (`GetConsistencyProof`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyProof {
    /// Older size.
    pub old_size: u64,
    /// Newer size.
    pub new_size: u64,
    /// Proof hashes.
    pub proof: Vec<Hash>,
}

/// What recovery found (logged at startup).
#[derive(Debug, Clone, Copy)]
pub struct RecoveryReport {
    /// Entries re-validated.
    pub entries: u64,
    /// Time taken.
    pub elapsed: Duration,
}

/// A running bulletin board. Cheap to clone (all clones share one board).
#[derive(Clone)]
pub struct Board {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Board {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Board")
            .field("origin", &self.inner.verifier.name())
            .field("size", &self.head().size)
            .finish_non_exhaustive()
    }
}

struct Inner {
    storage: Arc<dyn Storage>,
    state: Arc<RwLock<RecordState>>,
    verifier: Ed25519Verifier,
    limits: Limits,
    head_rx: watch::Receiver<Arc<Head>>,
    entries_tx: broadcast::Sender<Arc<CommittedBatch>>,
    failed_rx: watch::Receiver<Option<String>>,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    precheck: Semaphore,
    streams: Arc<Semaphore>,
    closing: watch::Sender<bool>,
    appended: AtomicU64,
    recovery: RecoveryReport,
    cosigned: RwLock<Option<Arc<CosignedCheckpoint>>>,
    _lock: Option<DataDirLock>,
}

/// The newest checkpoint witnesses cosigned, as served (`spec/board.md`
/// §10.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignedCheckpoint {
    /// Its tree size.
    pub size: u64,
    /// The board's signed checkpoint followed by every cosignature line the
    /// board holds for this size.
    pub note: Vec<u8>,
    /// The witnesses whose cosignatures it carries, by name.
    pub witnesses: Vec<String>,
}

/// An entry found by its tracker (`GetEntryByLeafHash`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundEntry {
    /// Its log index.
    pub index: u64,
    /// Its exact bytes.
    pub entry: Vec<u8>,
    /// The latest checkpoint, with the cosignatures the board holds for it.
    pub checkpoint: Vec<u8>,
    /// The inclusion proof of the entry in that checkpoint's tree.
    pub proof: InclusionProof,
}

/// Most bytes of a cosigned checkpoint a witness may send.
pub const MAX_COSIGNED_CHECKPOINT_BYTES: usize = 16 << 10;

/// How far in the future a cosignature's timestamp may be (clock skew).
const COSIGNATURE_FUTURE_SECS: u64 = 300;

fn append_lines(note: &[u8], lines: &[(String, String)]) -> Vec<u8> {
    let mut out = note.to_vec();
    for (_, line) in lines {
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out
}

fn load_cosigned(storage: &dyn Storage) -> Result<Option<CosignedCheckpoint>, StorageError> {
    let Some(c) = storage.cosignatures(None)? else {
        return Ok(None);
    };
    let Some(note) = storage.checkpoint_at(c.size)? else {
        return Err(StorageError::Corrupt(format!(
            "cosignatures are stored for size {} but no checkpoint",
            c.size
        )));
    };
    Ok(Some(CosignedCheckpoint {
        size: c.size,
        note: append_lines(&note, &c.lines),
        witnesses: c.lines.into_iter().map(|(w, _)| w).collect(),
    }))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, BoardError> + Send + 'static,
) -> Result<T, BoardError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| BoardError::Internal(format!("worker task failed: {e}")))?
}

fn tree_error(e: TreeError<StorageError>) -> BoardError {
    match e {
        TreeError::Reader(e) => BoardError::Storage(e),
        TreeError::IndexOutOfRange { index, size } => BoardError::OutOfRange(format!(
            "board.range: index {index} is not in a tree of size {size}"
        )),
        TreeError::InvalidSizes { old, new } => BoardError::InvalidArgument(format!(
            "board.range: no consistency proof from size {old} to size {new}"
        )),
        other => BoardError::Internal(other.to_string()),
    }
}

impl Board {
    /// Opens the board in `data_dir` (`spec/board.md` §6): takes the
    /// directory lock, loads or creates the key, opens the SQLite database
    /// and recovers. Blocking; run it on a blocking thread.
    pub fn open_dir(data_dir: &Path, origin: &str, limits: Limits) -> Result<Board, OpenError> {
        Self::open_dir_with(data_dir, origin, limits, |vkey| {
            let storage = SqliteStorage::open(&data_dir.join(keys::DB_FILE), origin, vkey)?;
            Ok(Arc::new(storage))
        })
    }

    /// [`Board::open_dir`] with the log in the storage that `open_storage`
    /// opens for the board's verifier key (e.g. PostgreSQL,
    /// `spec/board.md` §2.3): the data directory still holds the key and the
    /// lock (§6.1). Blocking; run it on a blocking thread.
    pub fn open_dir_with(
        data_dir: &Path,
        origin: &str,
        limits: Limits,
        open_storage: impl FnOnce(&str) -> Result<Arc<dyn Storage>, StorageError>,
    ) -> Result<Board, OpenError> {
        keys::check_origin(origin)?;
        keys::create_data_dir(data_dir)?;
        let lock = keys::lock_data_dir(data_dir)?;
        let signer = keys::load_or_create_key(data_dir, origin)?;
        let vkey = signer.verifier().to_vkey();
        let storage = open_storage(&vkey)?;
        Self::open_with(storage, signer, limits, Some(lock))
    }

    /// Opens a board over any storage backend with the board key `signer`
    /// (whose name is the origin). Blocking: recovers the log first
    /// (`spec/board.md` §4).
    pub fn open(
        storage: Arc<dyn Storage>,
        signer: Ed25519Signer,
        limits: Limits,
    ) -> Result<Board, OpenError> {
        Self::open_with(storage, signer, limits, None)
    }

    fn open_with(
        storage: Arc<dyn Storage>,
        signer: Ed25519Signer,
        limits: Limits,
        lock: Option<DataDirLock>,
    ) -> Result<Board, OpenError> {
        let verifier = signer.verifier();
        let identity = BoardIdentity {
            origin: verifier.name().to_owned(),
            key: *verifier.verifying_key(),
        };
        let mut state = RecordState::new(identity);
        let started = Instant::now();
        let (frontier, head) = recover(storage.as_ref(), &signer, &mut state)?;
        let recovery = RecoveryReport {
            entries: head.size,
            elapsed: started.elapsed(),
        };
        tracing::info!(
            origin = verifier.name(),
            size = head.size,
            root = %head.root,
            elapsed_ms = recovery.elapsed.as_millis() as u64,
            "board recovered"
        );

        let head = Arc::new(head);
        let (head_tx, head_rx) = watch::channel(head);
        let (entries_tx, _) = broadcast::channel(limits.live_batches.max(1));
        let (failed_tx, failed_rx) = watch::channel(None);
        let (jobs_tx, jobs_rx) = mpsc::channel(limits.queue_depth.max(1));
        let state = Arc::new(RwLock::new(state));
        let writer = Writer {
            storage: Arc::clone(&storage),
            state: Arc::clone(&state),
            signer,
            frontier,
            head_tx,
            entries_tx: entries_tx.clone(),
            failed_tx,
            limits: BatchLimits {
                max_entries: limits.max_batch_entries.max(1),
                max_bytes: limits.max_batch_bytes.max(1),
            },
        };
        let handle = std::thread::Builder::new()
            .name("board-sequencer".into())
            .spawn(move || writer.run(jobs_rx))
            .map_err(|e| StorageError::backend("start sequencer thread", e))?;
        let (closing, _) = watch::channel(false);
        let cosigned = load_cosigned(storage.as_ref())?.map(Arc::new);
        Ok(Board {
            inner: Arc::new(Inner {
                storage,
                state,
                verifier,
                precheck: Semaphore::new(limits.precheck_concurrency.max(1)),
                streams: Arc::new(Semaphore::new(limits.max_streams)),
                limits,
                head_rx,
                entries_tx,
                failed_rx,
                jobs: Mutex::new(Some(jobs_tx)),
                writer: Mutex::new(Some(handle)),
                closing,
                appended: AtomicU64::new(0),
                recovery,
                cosigned: RwLock::new(cosigned),
                _lock: lock,
            }),
        })
    }

    /// The board's note verifier (its public key under its origin).
    pub fn verifier(&self) -> &Ed25519Verifier {
        &self.inner.verifier
    }

    /// The board's limits.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// The latest committed head.
    pub fn head(&self) -> Arc<Head> {
        Arc::clone(&self.inner.head_rx.borrow())
    }

    /// Watches the head (changes after every commit).
    pub fn watch_head(&self) -> watch::Receiver<Arc<Head>> {
        self.inner.head_rx.clone()
    }

    /// What recovery did when the board opened.
    pub fn recovery(&self) -> RecoveryReport {
        self.inner.recovery
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        Stats {
            size: self.head().size,
            commits: self.inner.storage.commits(),
            appended: self.inner.appended.load(Ordering::Relaxed),
        }
    }

    /// Set (with the reason) once the sequencer stopped after a storage
    /// failure; the board then refuses appends and should be restarted.
    pub fn failed(&self) -> watch::Receiver<Option<String>> {
        self.inner.failed_rx.clone()
    }

    /// Validates and appends one entry; returns its receipt once the entry
    /// is durable (`spec/board.md` §3, §5.1).
    pub async fn append(&self, entry: Vec<u8>) -> Result<Receipt, BoardError> {
        if self.inner.failed_rx.borrow().is_some() {
            return Err(BoardError::sequencer_stopped());
        }
        let jobs = self
            .inner
            .jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or_else(BoardError::closing)?;
        let permit = self
            .inner
            .precheck
            .acquire()
            .await
            .map_err(|_| BoardError::closing())?;
        let state = Arc::clone(&self.inner.state);
        let (entry, prechecked, generation, leaf) = blocking(move || {
            let state = state.read().unwrap_or_else(PoisonError::into_inner);
            let prechecked = state.precheck(&entry).map_err(BoardError::Rejected)?;
            let generation = state.precheck_generation();
            drop(state);
            let leaf = leaf_hash(&entry);
            Ok((entry, prechecked, generation, leaf))
        })
        .await?;
        drop(permit);

        let (reply, answer) = oneshot::channel();
        jobs.send(Job {
            entry,
            prechecked,
            generation,
            leaf_hash: leaf,
            reply,
        })
        .await
        .map_err(|_| BoardError::closing())?;
        drop(jobs);
        let committed = answer
            .await
            .map_err(|_| BoardError::sequencer_stopped())??;
        self.inner.appended.fetch_add(1, Ordering::Relaxed);

        let storage = Arc::clone(&self.inner.storage);
        let size = committed.head.size;
        let index = committed.index;
        let proof =
            blocking(move || inclusion_proof(index, size, storage.as_ref()).map_err(tree_error))
                .await?;
        Ok(Receipt {
            index,
            leaf_hash: committed.leaf_hash,
            proof,
            checkpoint: committed.head.checkpoint.clone(),
        })
    }

    /// A page of entries from `start` (`spec/board.md` §5.3). Returns the
    /// entries and the log size they were read at.
    pub async fn list_entries(
        &self,
        start: u64,
        limit: u32,
    ) -> Result<(Vec<Vec<u8>>, u64), BoardError> {
        let size = self.head().size;
        if start > size {
            return Err(BoardError::OutOfRange(format!(
                "board.range: start {start} is beyond the log size {size}"
            )));
        }
        let limits = &self.inner.limits;
        let limit = match limit {
            0 => limits.list_default,
            n => n.min(limits.list_max),
        };
        let end = size.min(start.saturating_add(u64::from(limit)));
        let entries = self.read_entries(start, end).await?;
        Ok((entries, size))
    }

    /// Entries `[start, end)` from storage (at most a page of bytes; at
    /// least one entry when the range is not empty). `end` must not exceed
    /// the committed size.
    pub(crate) async fn read_entries(
        &self,
        start: u64,
        end: u64,
    ) -> Result<Vec<Vec<u8>>, BoardError> {
        if start >= end {
            return Ok(Vec::new());
        }
        let storage = Arc::clone(&self.inner.storage);
        let max_bytes = self.inner.limits.page_bytes;
        blocking(move || Ok(storage.read_entries(start, end, max_bytes)?)).await
    }

    /// The inclusion proof of entry `index` in the tree of `tree_size`
    /// entries (0 = the latest checkpoint) (`spec/board.md` §5.5).
    pub async fn inclusion_proof(
        &self,
        index: u64,
        tree_size: u64,
    ) -> Result<InclusionProof, BoardError> {
        let size = self.head().size;
        let tree_size = if tree_size == 0 { size } else { tree_size };
        if tree_size > size {
            return Err(BoardError::OutOfRange(format!(
                "board.range: tree size {tree_size} is beyond the log size {size}"
            )));
        }
        if index >= tree_size {
            return Err(BoardError::OutOfRange(format!(
                "board.range: index {index} is not in a tree of size {tree_size}"
            )));
        }
        let storage = Arc::clone(&self.inner.storage);
        blocking(move || {
            let leaf = storage.read_hashes(&[stored_hash_index(0, index)])?;
            let leaf_hash = leaf
                .first()
                .copied()
                .ok_or_else(|| BoardError::Internal("leaf hash missing".into()))?;
            let proof = inclusion_proof(index, tree_size, storage.as_ref()).map_err(tree_error)?;
            Ok(InclusionProof {
                leaf_hash,
                tree_size,
                proof,
            })
        })
        .await
    }

    /// The consistency proof from `old_size` to `new_size` (0 = the latest
    /// checkpoint) (`spec/board.md` §5.6).
    pub async fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<ConsistencyProof, BoardError> {
        let size = self.head().size;
        let new_size = if new_size == 0 { size } else { new_size };
        if new_size > size {
            return Err(BoardError::OutOfRange(format!(
                "board.range: tree size {new_size} is beyond the log size {size}"
            )));
        }
        if old_size == 0 || old_size > new_size {
            return Err(BoardError::InvalidArgument(format!(
                "board.range: a consistency proof needs 1 <= old_size <= new_size, got {old_size} and {new_size}"
            )));
        }
        let storage = Arc::clone(&self.inner.storage);
        blocking(move || {
            let proof =
                consistency_proof(old_size, new_size, storage.as_ref()).map_err(tree_error)?;
            Ok(ConsistencyProof {
                old_size,
                new_size,
                proof,
            })
        })
        .await
    }

    /// The latest checkpoint as served (`spec/board.md` §10.3): the board's
    /// signed note followed by the cosignatures it holds for that size.
    pub fn served_checkpoint(&self) -> (u64, Vec<u8>) {
        let head = self.head();
        (head.size, self.with_cosignatures(&head))
    }

    /// The checkpoint of `head` with the cosignatures held for its size.
    pub(crate) fn with_cosignatures(&self, head: &Head) -> Vec<u8> {
        match self.cosigned_checkpoint() {
            Some(c) if c.size == head.size => c.note.clone(),
            _ => head.checkpoint.as_bytes().to_vec(),
        }
    }

    /// The newest checkpoint witnesses cosigned, if any.
    pub fn cosigned_checkpoint(&self) -> Option<Arc<CosignedCheckpoint>> {
        self.inner
            .cosigned
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Finds the first entry whose leaf hash is `leaf_hash` and proves it
    /// included in the latest checkpoint (`spec/board.md` §5.8).
    pub async fn entry_by_leaf_hash(&self, tracker: &[u8]) -> Result<FoundEntry, BoardError> {
        let hash = Hash::from_slice(tracker).map_err(|_| {
            BoardError::InvalidArgument(format!(
                "board.tracker: a tracker is a 32-byte leaf hash, got {} bytes",
                tracker.len()
            ))
        })?;
        let head = self.head();
        let checkpoint = self.with_cosignatures(&head);
        let size = head.size;
        let storage = Arc::clone(&self.inner.storage);
        blocking(move || {
            let not_found = || {
                BoardError::NotFound(format!(
                    "board.tracker: no entry of the log (size {size}) has leaf hash {hash}"
                ))
            };
            let index = storage.find_leaf(&hash)?.ok_or_else(not_found)?;
            if index >= size {
                // Committed after the head we read: not in this checkpoint.
                return Err(not_found());
            }
            let entry = storage
                .read_entries(index, index + 1, usize::MAX)?
                .pop()
                .ok_or_else(|| BoardError::Internal("entry missing".into()))?;
            if leaf_hash(&entry) != hash {
                return Err(BoardError::Storage(StorageError::Corrupt(format!(
                    "entry {index} does not hash to its indexed leaf hash"
                ))));
            }
            let proof = inclusion_proof(index, size, storage.as_ref()).map_err(tree_error)?;
            Ok(FoundEntry {
                index,
                entry,
                checkpoint,
                proof: InclusionProof {
                    leaf_hash: hash,
                    tree_size: size,
                    proof,
                },
            })
        })
        .await
    }

    /// Admits a witness's cosignature of one of the board's checkpoints
    /// (`spec/board.md` §10.3): `note` is the checkpoint text the board
    /// signed at some size, followed by signature lines. Lines by the board
    /// itself are ignored; every other line must be a valid `cosignature/v1`
    /// by a witness of the manifest, with a timestamp at most five minutes
    /// ahead of the board's clock. Returns the size and the witnesses whose
    /// cosignatures the board now holds for it.
    pub async fn add_cosignature(&self, note: Vec<u8>) -> Result<(u64, Vec<String>), BoardError> {
        let bad = |m: String| BoardError::InvalidArgument(format!("board.cosignature: {m}"));
        if note.len() > MAX_COSIGNED_CHECKPOINT_BYTES {
            return Err(bad(format!(
                "a cosigned checkpoint is at most {MAX_COSIGNED_CHECKPOINT_BYTES} bytes, got {}",
                note.len()
            )));
        }
        let parsed = Note::parse(&note).map_err(|e| bad(format!("not a signed note: {e}")))?;
        let cp =
            Checkpoint::parse(parsed.text()).map_err(|e| bad(format!("not a checkpoint: {e}")))?;
        if cp.origin() != self.inner.verifier.name() {
            return Err(bad(format!(
                "the checkpoint's origin {:?} is not this board's {:?}",
                cp.origin(),
                self.inner.verifier.name()
            )));
        }
        let witnesses: Vec<CosignatureVerifier> = {
            let state = self
                .inner
                .state
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            let manifest = state.manifest().ok_or_else(|| {
                BoardError::FailedPrecondition(
                    "board.cosignature: no manifest is on the log yet, so no witness is known"
                        .into(),
                )
            })?;
            manifest
                .witnesses
                .iter()
                .filter_map(|(name, key)| CosignatureVerifier::new(name, *key).ok())
                .collect()
        };
        let size = cp.size();
        let storage = Arc::clone(&self.inner.storage);
        let signed = blocking(move || Ok(storage.checkpoint_at(size)?)).await?;
        let Some(signed_bytes) = signed else {
            return Err(BoardError::NotFound(format!(
                "board.cosignature: the board signed no checkpoint of size {size}"
            )));
        };
        let signed = Note::parse(&signed_bytes)
            .map_err(|e| BoardError::Internal(format!("stored checkpoint {size}: {e}")))?;
        if signed.text() != parsed.text() {
            return Err(bad(format!(
                "the checkpoint text differs from the one the board signed at size {size}"
            )));
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let board = &self.inner.verifier;
        let mut lines = Vec::new();
        for sig in parsed.signatures() {
            if sig.name() == board.name() && sig.key_id() == board.key_id() {
                continue;
            }
            let Some(w) = witnesses
                .iter()
                .find(|w| w.name() == sig.name() && w.key_id() == sig.key_id())
            else {
                return Err(bad(format!(
                    "the signature by {:?} (key ID {:08x}) is not by a witness of the manifest",
                    sig.name(),
                    sig.key_id()
                )));
            };
            let Some(ts) = w.verify_timestamp(parsed.text().as_bytes(), sig.signature()) else {
                return Err(bad(format!(
                    "the cosignature by {:?} does not verify (cosignature/v1)",
                    sig.name()
                )));
            };
            if ts > now + COSIGNATURE_FUTURE_SECS {
                return Err(bad(format!(
                    "the cosignature by {:?} is dated {ts}, more than {COSIGNATURE_FUTURE_SECS} s ahead of the board's clock ({now})",
                    sig.name()
                )));
            }
            lines.push((sig.name().to_owned(), sig.to_line()));
        }
        if lines.is_empty() {
            return Err(bad("the note carries no witness cosignature".into()));
        }
        let storage = Arc::clone(&self.inner.storage);
        let held = blocking(move || {
            storage.put_cosignatures(size, &lines)?;
            Ok(storage.cosignatures(Some(size))?)
        })
        .await?;
        let Some(held) = held else {
            return Err(BoardError::Internal("cosignatures not stored".into()));
        };
        let witnesses: Vec<String> = held.lines.iter().map(|(w, _)| w.clone()).collect();
        let mut slot = self
            .inner
            .cosigned
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if slot.as_ref().is_none_or(|c| c.size <= size) {
            *slot = Some(Arc::new(CosignedCheckpoint {
                size,
                note: append_lines(&signed_bytes, &held.lines),
                witnesses: witnesses.clone(),
            }));
        }
        drop(slot);
        tracing::info!(size, witnesses = ?witnesses, "checkpoint cosigned");
        Ok((size, witnesses))
    }

    /// Subscribes to committed batches (for live streams).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<CommittedBatch>> {
        self.inner.entries_tx.subscribe()
    }

    /// A stream slot, or `ResourceExhausted` if all are taken.
    pub(crate) fn stream_permit(&self) -> Result<OwnedSemaphorePermit, BoardError> {
        Arc::clone(&self.inner.streams)
            .try_acquire_owned()
            .map_err(|_| {
                BoardError::ResourceExhausted(format!(
                    "board.streams: at most {} concurrent streams",
                    self.inner.limits.max_streams
                ))
            })
    }

    /// Becomes `true` when the board starts shutting down (streams end).
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.inner.closing.subscribe()
    }

    /// Starts shutting down: live streams end and new appends are refused;
    /// appends already queued are still committed and answered.
    pub fn begin_close(&self) {
        self.inner.closing.send_replace(true);
        self.inner
            .jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    /// Shuts down: [`Board::begin_close`], then waits for the sequencer to
    /// commit what was queued and stop.
    pub async fn close(&self) {
        self.begin_close();
        let handle = self
            .inner
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
    }
}

/// Prechecks `entries` against `state` on all cores (the expensive,
/// signature-bound part of re-validation). The results stay valid while the
/// state's precheck generation does not change.
fn precheck_parallel(
    state: &RecordState,
    entries: &[Vec<u8>],
) -> Vec<Result<Prechecked, RuleError>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || entries.len() < 64 {
        return entries.iter().map(|e| state.precheck(e)).collect();
    }
    let per = entries.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = entries
            .chunks(per)
            .map(|part| {
                scope.spawn(move || part.iter().map(|e| state.precheck(e)).collect::<Vec<_>>())
            })
            .collect();
        let mut out = Vec::with_capacity(entries.len());
        for (w, part) in workers.into_iter().zip(entries.chunks(per)) {
            match w.join() {
                Ok(results) => out.extend(results),
                // Cannot happen for sound rules.
                Err(_) => out.extend(part.iter().map(|_| Err(panicked()))),
            }
        }
        out
    })
}

fn panicked() -> RuleError {
    RuleError::new(
        tallyboard_protocol::RuleErrorKind::InvalidArgument,
        "board.recovery",
        "precheck worker failed",
    )
}

/// Recovery (`spec/board.md` §4): re-reads every entry, recomputes every
/// stored hash from the entry bytes and compares, re-applies every entry to
/// `state` through the rules, and checks the latest checkpoint (signature,
/// size and root) against the recomputed tree. Signs and stores the initial
/// checkpoint of an empty log.
fn recover(
    storage: &dyn Storage,
    signer: &Ed25519Signer,
    state: &mut RecordState,
) -> Result<(Frontier, Head), OpenError> {
    const CHUNK: u64 = 4096;
    const CHUNK_BYTES: usize = 32 << 20;
    let size = storage.size()?;
    let hashes = storage.hash_count()?;
    if hashes != stored_hash_count(size) {
        return Err(OpenError::Corrupt(format!(
            "{size} entries need {} stored hashes, found {hashes}",
            stored_hash_count(size)
        )));
    }
    let mut frontier = Frontier::new();
    let mut next = 0u64;
    while next < size {
        let chunk = storage.read_entries(next, size.min(next + CHUNK), CHUNK_BYTES)?;
        let chunk_end = next + chunk.len() as u64;
        let stored =
            storage.read_hash_range(stored_hash_count(next), stored_hash_count(chunk_end))?;
        // Prechecks depend only on the record's precheck generation
        // (manifest, election key); a result from an earlier generation is
        // redone against the current state, in order.
        let generation = state.precheck_generation();
        let mut prechecked = if generation == 0 {
            Vec::new()
        } else {
            precheck_parallel(state, &chunk)
        }
        .into_iter();
        let mut pos = 0usize;
        for (index, entry) in (next..).zip(&chunk) {
            let computed = frontier
                .append(leaf_hash(entry))
                .map_err(|e| OpenError::Corrupt(format!("tree append: {e}")))?;
            let end = pos + computed.len();
            if stored.get(pos..end) != Some(&computed[..]) {
                return Err(OpenError::Corrupt(format!(
                    "the stored hashes of entry {index} do not match its bytes"
                )));
            }
            pos = end;
            let checked = match prechecked.next() {
                Some(result) if state.precheck_generation() == generation => result,
                _ => state.precheck(entry),
            }
            .map_err(|error| OpenError::InvalidEntry { index, error })?;
            state
                .apply(checked)
                .map_err(|error| OpenError::InvalidEntry { index, error })?;
        }
        next = chunk_end;
    }
    let root = frontier
        .root()
        .map_err(|e| OpenError::Corrupt(format!("tree root: {e}")))?;
    let verifier = signer.verifier();
    let head = match storage.latest_checkpoint()? {
        None if size == 0 => {
            let checkpoint = sign_checkpoint(signer, 0, EMPTY_ROOT)
                .map_err(|e| OpenError::Corrupt(format!("signing the empty checkpoint: {e}")))?;
            storage.append(&Batch {
                entries: &[],
                checkpoint_size: 0,
                checkpoint: checkpoint.as_bytes(),
            })?;
            Head {
                size: 0,
                root: EMPTY_ROOT,
                checkpoint,
            }
        }
        None => {
            return Err(OpenError::Corrupt(format!(
                "no checkpoint is stored for the {size} entries"
            )))
        }
        Some((cp_size, note)) => {
            let checkpoint = SignedCheckpoint::open(&note, &verifier).map_err(|e| {
                OpenError::Corrupt(format!(
                    "the latest stored checkpoint does not verify under the board key: {e}"
                ))
            })?;
            let c = checkpoint.checkpoint();
            if cp_size != size || c.size() != size || c.root() != root {
                return Err(OpenError::Corrupt(format!(
                    "the latest stored checkpoint (size {}, root {}) does not match the recomputed tree (size {size}, root {root})",
                    c.size(),
                    c.root()
                )));
            }
            Head {
                size,
                root,
                checkpoint,
            }
        }
    };
    Ok((frontier, head))
}
