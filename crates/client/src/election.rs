//! What a client learns from the board (`spec/client.md` §2).
//!
//! The client trusts nothing it did not check itself. It reads the record
//! from entry 0 and replays every entry through the rules of the record
//! ([`RecordState::unbound`]), exactly as the independent verifier does, so
//! the manifest, the election key and the phase it uses are the ones the
//! rules derive — not what some server says they are. It also binds what it
//! read to the board's signature: the entries it replayed must hash (RFC 9162)
//! to a prefix of the tree of a checkpoint signed by the board key it was
//! configured with, and every later checkpoint must be consistent with the
//! earlier ones.
//!
//! [`fetch_election`] stops once the election key and the opening of voting
//! are on the record (the ballots after that are what the client need not
//! check to vote); [`Election::refresh`] continues from there to the end of
//! the log, to learn the current phase.

use std::sync::Arc;

use tallyboard_board_client::BoardClient;
use tallyboard_crypto::elgamal::PublicKey;
use tallyboard_protocol::{ElectionManifest, ElectionPhase, Prechecked, RecordState, RuleError};
use tallyboard_threshold::ThresholdPublicKey;
use tallyboard_tlog::{Checkpoint, MemoryTree, NoteVerifier as _, SignedCheckpoint};
use tokio::sync::Mutex;

use crate::error::ClientError;

/// Entries asked for per `ListEntries` page (the board's maximum; it may
/// answer with fewer).
const PAGE: u32 = 1000;

/// Where a replay stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopAt {
    /// Once the election key is on the record and the phase is past the key
    /// ceremony (or at the end of the log).
    VotingOpened,
    /// At the end of the log (the latest checkpoint).
    End,
}

/// Why a page of entries could not be applied.
enum PageError {
    /// The rules refuse the entry at `index`.
    Invalid {
        index: u64,
        error: RuleError,
        bytes: Vec<u8>,
    },
    Other(ClientError),
}

/// The replayed record: the rules' state, the Merkle tree of the replayed
/// entries, and the last checkpoint verified.
#[derive(Debug)]
struct Replay {
    state: RecordState,
    tree: MemoryTree,
    trusted: Option<SignedCheckpoint>,
}

/// An election as the client learned it from the board: every field was
/// derived by replaying the record through the rules (`spec/client.md` §2).
///
/// Cheap to clone (shared pointers): one `Election` can serve thousands of
/// concurrent voters. Clones share the replayed record, so a
/// [`refresh`](Election::refresh) by any of them continues where the last one
/// stopped.
#[derive(Clone)]
pub struct Election {
    /// The validated manifest (with its fingerprint).
    pub manifest: Arc<ElectionManifest>,
    /// The joint election key ballots are encrypted under.
    pub key: PublicKey,
    /// The threshold key the key ceremony produced.
    pub threshold_key: ThresholdPublicKey,
    /// The phase of the replayed record.
    pub phase: ElectionPhase,
    /// A caucus's viability per district, once posted (`spec/caucus.md`
    /// §9.3).
    pub caucus_viability: Option<Vec<tallyboard_proto::v1::DistrictViability>>,
    /// Entries replayed (and verified against `checkpoint`).
    pub log_size: u64,
    /// The signed checkpoint the replayed entries were checked against
    /// (its size may exceed `log_size`); later checkpoints must extend it.
    pub checkpoint: Checkpoint,
    replay: Arc<Mutex<Option<Replay>>>,
}

impl std::fmt::Debug for Election {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Election")
            .field("election_id", &self.manifest.raw.election_id)
            .field("fingerprint", &hex::encode(self.manifest.fingerprint))
            .field("key", &self.key)
            .field("phase", &self.phase)
            .field("log_size", &self.log_size)
            .field("checkpoint_size", &self.checkpoint.size())
            .finish_non_exhaustive()
    }
}

impl Election {
    /// The election id.
    pub fn election_id(&self) -> &str {
        &self.manifest.raw.election_id
    }

    /// The election fingerprint.
    pub fn fingerprint(&self) -> &[u8; 32] {
        &self.manifest.fingerprint
    }

    /// The contests on the ballot of `district`, in manifest (ballot) order
    /// (empty for an unknown district).
    pub fn ballot_contests(&self, district: &str) -> Vec<&tallyboard_proto::v1::Contest> {
        if !self.manifest.districts.contains_key(district) {
            return Vec::new();
        }
        tallyboard_protocol::ballot::district_contests(&self.manifest, district)
            .into_iter()
            .filter_map(|p| self.manifest.raw.contests.get(p))
            .collect()
    }

    /// Continues the replay to the board's latest checkpoint and updates
    /// `phase`, `log_size` and `checkpoint`. Every entry is checked by the
    /// rules (ballots by their proofs, in parallel), so this costs time
    /// proportional to the entries appended since the last refresh of any
    /// clone.
    pub async fn refresh(&mut self, board: &mut BoardClient) -> Result<ElectionPhase, ClientError> {
        let mut slot = self.replay.lock().await;
        sync(board, &mut slot, StopAt::End).await?;
        let fresh = match slot.as_ref() {
            Some(replay) => snapshot(replay, &self.replay)?,
            None => return Err(ClientError::Internal("the replay was lost".into())),
        };
        drop(slot);
        self.phase = fresh.phase;
        self.caucus_viability = fresh.caucus_viability;
        self.log_size = fresh.log_size;
        self.checkpoint = fresh.checkpoint;
        Ok(self.phase)
    }
}

/// Reads the record from the board and replays it through the rules until
/// the election key is on the record and voting has opened (or the log
/// ends), checking the entries against the board's signed checkpoint and the
/// manifest's board against the board key `board` trusts.
///
/// Fails with [`ClientError::NotReady`] if the log ends before the election
/// key; with [`ClientError::InvalidRecord`] if the board serves an entry the
/// rules refuse.
pub async fn fetch_election(board: &mut BoardClient) -> Result<Election, ClientError> {
    let mut slot = None;
    sync(board, &mut slot, StopAt::VotingOpened).await?;
    let replay = slot.ok_or_else(|| ClientError::Internal("the replay was lost".into()))?;
    let shared = Arc::new(Mutex::new(None));
    let election = snapshot(&replay, &shared)?;
    *shared.lock().await = Some(replay);
    Ok(election)
}

impl Replay {
    fn new() -> Self {
        Replay {
            state: RecordState::unbound(),
            tree: MemoryTree::new(),
            trusted: None,
        }
    }

    fn done(&self, stop: StopAt) -> bool {
        match stop {
            StopAt::End => false,
            StopAt::VotingOpened => {
                self.state.election_key().is_some()
                    && self.state.phase() > ElectionPhase::KeyCeremony
            }
        }
    }

    /// Applies `entries` (starting at index `self.state.len()`) until `stop`.
    /// Once the manifest and the election key are known, prechecks (the
    /// signature and proof checks) depend on nothing else, so they run in
    /// parallel; the stateful part runs in order.
    fn apply_page(&mut self, entries: Vec<Vec<u8>>, stop: StopAt) -> Result<(), PageError> {
        let mut rest = entries.as_slice();
        while !rest.is_empty() && !self.done(stop) {
            let parallel = self.state.manifest().is_some() && self.state.election_key().is_some();
            if parallel && stop == StopAt::End && rest.len() > 1 {
                let prechecked = precheck_parallel(&self.state, rest).map_err(PageError::Other)?;
                for (p, bytes) in prechecked.into_iter().zip(rest) {
                    let p = p.map_err(|error| self.invalid(error, bytes))?;
                    self.apply_one(p, bytes)?;
                }
                return Ok(());
            }
            let (bytes, tail) = match rest.split_first() {
                Some(x) => x,
                None => break,
            };
            rest = tail;
            let p = self
                .state
                .precheck(bytes)
                .map_err(|error| self.invalid(error, bytes))?;
            self.apply_one(p, bytes)?;
        }
        Ok(())
    }

    fn invalid(&self, error: RuleError, bytes: &[u8]) -> PageError {
        PageError::Invalid {
            index: self.state.len(),
            error,
            bytes: bytes.to_vec(),
        }
    }

    fn apply_one(&mut self, p: Prechecked, bytes: &[u8]) -> Result<(), PageError> {
        if let Err(error) = self.state.apply(p) {
            return Err(self.invalid(error, bytes));
        }
        self.tree
            .append(bytes)
            .map_err(|e| PageError::Other(ClientError::Internal(format!("tree: {e}"))))?;
        Ok(())
    }
}

fn precheck_parallel(
    state: &RecordState,
    entries: &[Vec<u8>],
) -> Result<Vec<Result<Prechecked, RuleError>>, ClientError> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 16);
    let chunk = entries.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = entries
            .chunks(chunk)
            .map(|c| s.spawn(move || c.iter().map(|e| state.precheck(e)).collect::<Vec<_>>()))
            .collect();
        let mut out = Vec::with_capacity(entries.len());
        for h in handles {
            out.extend(
                h.join()
                    .map_err(|_| ClientError::Internal("a precheck thread panicked".into()))?,
            );
        }
        Ok(out)
    })
}

/// Checks that the manifest names the board `board` trusts.
fn check_board(replay: &Replay, board: &BoardClient) -> Result<(), ClientError> {
    if let Some(m) = replay.state.manifest() {
        let key = board.board_key();
        if m.raw.board_origin != key.name()
            || m.raw.board_key.as_slice() != key.verifying_key().as_bytes()
        {
            return Err(ClientError::WrongBoard {
                manifest: format!("{}+{}", m.raw.board_origin, hex::encode(&m.raw.board_key)),
                configured: key.to_vkey(),
            });
        }
    }
    Ok(())
}

/// Reads and replays entries up to the latest checkpoint (or `stop`), then
/// proves that the replayed entries are a prefix of that checkpoint's tree.
/// `slot` holds the replay between calls (a fresh one if `None`); it is left
/// at the last entry applied, also on error.
async fn sync(
    board: &mut BoardClient,
    slot: &mut Option<Replay>,
    stop: StopAt,
) -> Result<(), ClientError> {
    let latest = board.checkpoint().await?;
    let size = latest.checkpoint().size();
    {
        let replay = slot.get_or_insert_with(Replay::new);
        if let Some(old) = &replay.trusted {
            board
                .prove_consistency(old.checkpoint(), latest.checkpoint())
                .await?;
        }
        if size < replay.state.len() {
            return Err(ClientError::Mismatch(format!(
                "the board's checkpoint has {size} entries, {} were replayed before",
                replay.state.len()
            )));
        }
    }
    loop {
        let Some(mut replay) = slot.take() else {
            return Err(ClientError::Internal("the replay was lost".into()));
        };
        let start = replay.state.len();
        if start >= size || replay.done(stop) {
            *slot = Some(replay);
            break;
        }
        let page = match board.list_entries(start, PAGE).await {
            Ok((page, _)) => page,
            Err(e) => {
                *slot = Some(replay);
                return Err(e.into());
            }
        };
        let entries: Vec<Vec<u8>> = page
            .into_iter()
            .take_while(|e| e.index < size)
            .map(|e| e.entry)
            .collect();
        if entries.is_empty() {
            *slot = Some(replay);
            return Err(ClientError::Mismatch(format!(
                "the board listed no entry at {start} below its checkpoint size {size}"
            )));
        }
        let (replay, result) = tokio::task::spawn_blocking(move || {
            let r = replay.apply_page(entries, stop);
            (replay, r)
        })
        .await
        .map_err(|e| ClientError::Internal(format!("replay task: {e}")))?;
        *slot = Some(replay);
        match result {
            Ok(()) => {}
            Err(PageError::Other(e)) => return Err(e),
            Err(PageError::Invalid {
                index,
                error,
                bytes,
            }) => {
                // Evidence only if the board signed it: the entry must be in
                // the signed tree.
                return match board.prove_inclusion(&bytes, index, latest.checkpoint()).await {
                    Ok(()) => Err(ClientError::InvalidRecord { index, error }),
                    Err(e) => Err(ClientError::Mismatch(format!(
                        "the board listed an entry at {index} that breaks rule {} and is not in its signed tree: {e}",
                        error.rule
                    ))),
                };
            }
        }
        if let Some(r) = slot.as_ref() {
            check_board(r, board)?;
        }
    }
    let Some(replay) = slot.as_mut() else {
        return Err(ClientError::Internal("the replay was lost".into()));
    };
    check_board(replay, board)?;
    // The replayed entries must be a prefix of the signed tree.
    let n = replay.state.len();
    let root = replay
        .tree
        .root()
        .map_err(|e| ClientError::Internal(format!("tree: {e}")))?;
    if n == size {
        if root != latest.checkpoint().root() {
            return Err(ClientError::Mismatch(format!(
                "the {n} entries the board listed do not hash to its signed root"
            )));
        }
    } else if n > 0 {
        let ours = Checkpoint::new(latest.checkpoint().origin(), n, root)
            .map_err(|e| ClientError::Internal(format!("checkpoint: {e}")))?;
        board
            .prove_consistency(&ours, latest.checkpoint())
            .await
            .map_err(|e| {
                ClientError::Mismatch(format!(
                    "the {n} entries the board listed are not a prefix of its signed tree: {e}"
                ))
            })?;
    }
    replay.trusted = Some(latest);
    Ok(())
}

/// The election as of `replay`.
fn snapshot(replay: &Replay, shared: &Arc<Mutex<Option<Replay>>>) -> Result<Election, ClientError> {
    let st = &replay.state;
    let manifest = st
        .manifest()
        .cloned()
        .ok_or_else(|| ClientError::NotReady("the board's record has no manifest yet".into()))?;
    let (key, threshold_key) = match (st.election_key(), st.threshold_key()) {
        (Some(k), Some(t)) => (k.clone(), t.clone()),
        _ => {
            return Err(ClientError::NotReady(format!(
                "the election key is not on the record yet (phase {:?}, {} entries)",
                st.phase(),
                st.len()
            )))
        }
    };
    let checkpoint = replay
        .trusted
        .as_ref()
        .map(|c| c.checkpoint().clone())
        .ok_or_else(|| ClientError::Internal("no verified checkpoint".into()))?;
    Ok(Election {
        manifest,
        key,
        threshold_key,
        phase: st.phase(),
        caucus_viability: st.caucus_viability().map(|v| v.districts.clone()),
        log_size: st.len(),
        checkpoint,
        replay: Arc::clone(shared),
    })
}
