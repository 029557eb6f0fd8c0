//! The sequencer: one writer thread with group commit (`spec/board.md` §3).
//!
//! Appends that passed `precheck` queue on a bounded channel. The writer
//! thread takes every pending job (up to the batch limits), applies each to
//! the [`RecordState`] in queue order (a rejected job gets its rule error and
//! leaves the log unchanged; a job prechecked before the manifest or the
//! election key was applied is prechecked again first), extends the in-memory [`Frontier`], signs one
//! checkpoint for the new tree size, commits entries, stored hashes and the
//! checkpoint in **one** storage transaction (one log sync), and only then
//! publishes the new head and answers every waiter. A receipt is therefore
//! never sent for an entry that is not durable.
//!
//! If a commit fails, the in-memory state is ahead of storage and can no
//! longer be trusted: the sequencer stops, answers every waiter with
//! `Unavailable`, and reports the failure; a restart recovers from storage
//! (`spec/board.md` §4).

use std::sync::{Arc, PoisonError, RwLock};

use tallyboard_protocol::{Prechecked, RecordState};
use tallyboard_tlog::{Checkpoint, Ed25519Signer, Hash, SignedCheckpoint};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::error::BoardError;
use crate::storage::{Batch, BatchEntry, Storage};
use crate::Frontier;

/// The latest committed tree: its size, root and signed checkpoint.
#[derive(Debug, Clone)]
pub struct Head {
    /// Tree size (number of entries).
    pub size: u64,
    /// Root hash.
    pub root: Hash,
    /// The board's signed checkpoint of this tree.
    pub checkpoint: SignedCheckpoint,
}

/// A committed batch, as published to live streams.
#[derive(Debug)]
pub struct CommittedBatch {
    /// Index of the first entry.
    pub first: u64,
    /// The entries' exact bytes, in order.
    pub entries: Vec<Vec<u8>>,
    /// The head after the batch.
    pub head: Arc<Head>,
}

/// What the sequencer answers an accepted job.
#[derive(Debug, Clone)]
pub struct Committed {
    /// The entry's log index.
    pub index: u64,
    /// Its leaf hash.
    pub leaf_hash: Hash,
    /// The head the entry was committed under (size > index).
    pub head: Arc<Head>,
}

/// One queued append.
pub(crate) struct Job {
    pub(crate) entry: Vec<u8>,
    pub(crate) prechecked: Prechecked,
    /// The record's precheck generation when `prechecked` was made.
    pub(crate) generation: u8,
    pub(crate) leaf_hash: Hash,
    pub(crate) reply: oneshot::Sender<Result<Committed, BoardError>>,
}

/// Batch limits of the writer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchLimits {
    pub(crate) max_entries: usize,
    pub(crate) max_bytes: usize,
}

/// The writer thread's state.
pub(crate) struct Writer {
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) state: Arc<RwLock<RecordState>>,
    pub(crate) signer: Ed25519Signer,
    pub(crate) frontier: Frontier,
    pub(crate) head_tx: watch::Sender<Arc<Head>>,
    pub(crate) entries_tx: broadcast::Sender<Arc<CommittedBatch>>,
    pub(crate) failed_tx: watch::Sender<Option<String>>,
    pub(crate) limits: BatchLimits,
}

/// A failure that stops the sequencer.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Fatal(String);

struct Accepted {
    entry: Vec<u8>,
    leaf_hash: Hash,
    stored_hashes: Vec<Hash>,
    reply: oneshot::Sender<Result<Committed, BoardError>>,
}

impl Writer {
    /// Runs until the job channel closes (every sender dropped) or a commit
    /// fails.
    pub(crate) fn run(mut self, mut jobs: mpsc::Receiver<Job>) {
        while let Some(first) = jobs.blocking_recv() {
            let mut bytes = first.entry.len();
            let mut batch = vec![first];
            while batch.len() < self.limits.max_entries && bytes < self.limits.max_bytes {
                match jobs.try_recv() {
                    Ok(job) => {
                        bytes += job.entry.len();
                        batch.push(job);
                    }
                    Err(_) => break,
                }
            }
            if let Err(Fatal(message)) = self.commit_batch(batch) {
                tracing::error!(error = %message, "sequencer stopped: commit failed; restart the board to recover from storage");
                self.failed_tx.send_replace(Some(message));
                jobs.close();
                while let Some(job) = jobs.blocking_recv() {
                    let _ = job.reply.send(Err(BoardError::sequencer_stopped()));
                }
                return;
            }
        }
    }

    fn commit_batch(&mut self, jobs: Vec<Job>) -> Result<(), Fatal> {
        let first = self.frontier.size();
        let mut accepted: Vec<Accepted> = Vec::with_capacity(jobs.len());
        {
            let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
            for job in jobs {
                // A precheck made before the manifest or the election key
                // was applied is redone against the current state.
                let checked = if state.precheck_generation() == job.generation {
                    Ok(job.prechecked)
                } else {
                    state.precheck(&job.entry)
                };
                match checked.and_then(|p| state.apply(p)) {
                    Err(rule) => {
                        let _ = job.reply.send(Err(BoardError::Rejected(rule)));
                    }
                    Ok(()) => {
                        let stored_hashes = self
                            .frontier
                            .append(job.leaf_hash)
                            .map_err(|e| Fatal(format!("tree append failed: {e}")))?;
                        accepted.push(Accepted {
                            entry: job.entry,
                            leaf_hash: job.leaf_hash,
                            stored_hashes,
                            reply: job.reply,
                        });
                    }
                }
            }
        }
        if accepted.is_empty() {
            return Ok(());
        }
        let fail = |accepted: Vec<Accepted>, message: String| {
            for a in accepted {
                let _ = a.reply.send(Err(BoardError::sequencer_stopped()));
            }
            Fatal(message)
        };
        let size = self.frontier.size();
        let signed = match self.sign(size) {
            Ok(s) => s,
            Err(message) => return Err(fail(accepted, message)),
        };
        let entries: Vec<BatchEntry<'_>> = accepted
            .iter()
            .zip(first..)
            .map(|(a, index)| BatchEntry {
                index,
                bytes: &a.entry,
                stored_hashes: &a.stored_hashes,
            })
            .collect();
        let result = self.storage.append(&Batch {
            entries: &entries,
            checkpoint_size: size,
            checkpoint: signed.1.as_bytes(),
        });
        drop(entries);
        if let Err(e) = result {
            return Err(fail(accepted, format!("storage commit failed: {e}")));
        }

        let head = Arc::new(Head {
            size,
            root: signed.0,
            checkpoint: signed.1,
        });
        self.head_tx.send_replace(Arc::clone(&head));
        let mut replies = Vec::with_capacity(accepted.len());
        let mut bytes = Vec::with_capacity(accepted.len());
        for a in accepted {
            replies.push((a.leaf_hash, a.reply));
            bytes.push(a.entry);
        }
        // No live subscriber is not an error.
        let _ = self.entries_tx.send(Arc::new(CommittedBatch {
            first,
            entries: bytes,
            head: Arc::clone(&head),
        }));
        for ((leaf_hash, reply), index) in replies.into_iter().zip(first..) {
            let _ = reply.send(Ok(Committed {
                index,
                leaf_hash,
                head: Arc::clone(&head),
            }));
        }
        Ok(())
    }

    /// Signs the checkpoint of the current tree (of `size` entries).
    fn sign(&self, size: u64) -> Result<(Hash, SignedCheckpoint), String> {
        let root = self
            .frontier
            .root()
            .map_err(|e| format!("tree root failed: {e}"))?;
        let signed = Checkpoint::new(tallyboard_tlog::NoteSigner::name(&self.signer), size, root)
            .and_then(|c| c.sign(&self.signer))
            .map_err(|e| format!("signing the checkpoint failed: {e}"))?;
        Ok((root, signed))
    }
}

/// Signs the checkpoint of a tree (used at startup for the empty log).
pub(crate) fn sign_checkpoint(
    signer: &Ed25519Signer,
    size: u64,
    root: Hash,
) -> Result<SignedCheckpoint, tallyboard_tlog::CheckpointError> {
    Checkpoint::new(tallyboard_tlog::NoteSigner::name(signer), size, root)?.sign(signer)
}
