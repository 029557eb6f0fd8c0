//! Following the board: a [`RecordState`] kept in step with the log
//! (`spec/manifest.md` §7.1).
//!
//! A [`RecordFollower`] reads the log from where it stopped (`ListEntries`),
//! replays every entry through the record's rules exactly as the board and
//! the verifier do, and feeds the leaf hashes into its own copy of the tree's
//! right edge. After each sync the recomputed root must equal the root of the
//! board's latest signed checkpoint, so the follower's view is the signed
//! log and extends every view it had before (the board cannot fork or
//! rewrite history under it unnoticed). An entry the rules refuse, or a root
//! that differs, is [`AuthorityError::BadRecord`]: evidence against the
//! board.
//!
//! Replaying is the expensive part (ballot proofs): prechecks of a page run
//! on all cores with the ballots' proofs verified in batches, and the
//! stateful step runs in order.

use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use tallyboard_board_client::{BoardClient, ClientError, ClientTls, Frontier, VerifiedReceipt};
use tallyboard_proto::v1::LoggedEntry;
use tallyboard_protocol::v1::entry_body::Payload;
use tallyboard_protocol::{
    testkit, verify_deferred_batch, BoardIdentity, DeferredBallotProofs, RecordState, RuleError,
};
use tallyboard_tlog::{leaf_hash, Checkpoint, Ed25519Verifier, NoteVerifier as _};

use crate::error::AuthorityError;

/// Default poll interval while waiting for something on the record.
pub const DEFAULT_POLL: Duration = Duration::from_millis(250);

/// Entries per `ListEntries` page asked for (the board caps it).
const PAGE: u32 = 1_000;

/// A verified, replayed copy of the board's record.
#[derive(Debug, Clone)]
pub struct RecordFollower {
    client: BoardClient,
    state: RecordState,
    frontier: Frontier,
    checkpoint: Option<Checkpoint>,
}

/// The board identity (origin and key) of a board verifier key.
pub fn board_identity(board: &Ed25519Verifier) -> BoardIdentity {
    BoardIdentity {
        origin: board.name().to_owned(),
        key: *board.verifying_key(),
    }
}

/// Maps a refused append to [`AuthorityError::Rejected`].
pub(crate) fn append_error(what: &str, e: ClientError) -> AuthorityError {
    match e {
        ClientError::Status(s) => AuthorityError::Rejected {
            what: what.to_owned(),
            code: s.code(),
            status: s.message().to_owned(),
        },
        other => AuthorityError::Board(other),
    }
}

impl RecordFollower {
    /// A follower of the board behind `client`, starting from an empty record.
    pub fn new(client: BoardClient) -> Self {
        let state = RecordState::new(board_identity(client.board_key()));
        Self {
            client,
            state,
            frontier: Frontier::new(),
            checkpoint: None,
        }
    }

    /// Connects to the board at `url` trusting `board` and syncs.
    pub async fn connect(
        url: &str,
        board: Ed25519Verifier,
        tls: Option<ClientTls>,
    ) -> Result<Self, AuthorityError> {
        let client = BoardClient::connect(url, board, tls).await?;
        let mut f = Self::new(client);
        f.sync().await?;
        Ok(f)
    }

    /// The replayed record.
    pub fn state(&self) -> &RecordState {
        &self.state
    }

    /// The board client.
    pub fn client(&mut self) -> &mut BoardClient {
        &mut self.client
    }

    /// A clone of the board client (its own handle on the same channel).
    pub fn client_clone(&self) -> BoardClient {
        self.client.clone()
    }

    /// The latest signed checkpoint the replayed log was checked against.
    pub fn checkpoint(&self) -> Option<&Checkpoint> {
        self.checkpoint.as_ref()
    }

    /// Reads and replays every entry up to the board's latest signed
    /// checkpoint; returns how many entries were new.
    pub async fn sync(&mut self) -> Result<u64, AuthorityError> {
        let signed = self.client.checkpoint().await?;
        let cp = signed.checkpoint().clone();
        let start = self.state.len();
        let target = cp.size();
        if target < start {
            return Err(AuthorityError::BadRecord(format!(
                "the board's latest checkpoint has {target} entries, fewer than the {start} already verified"
            )));
        }
        while self.state.len() < target {
            let from = self.state.len();
            let (mut page, _) = self.client.list_entries(from, PAGE).await?;
            if page.is_empty() {
                return Err(AuthorityError::BadRecord(format!(
                    "the board lists no entry {from} below its signed size {target}"
                )));
            }
            page.truncate(usize::try_from(target - from).unwrap_or(usize::MAX));
            self.apply_page(page).await?;
        }
        let root = self
            .frontier
            .root()
            .map_err(|e| AuthorityError::BadRecord(format!("tree: {e}")))?;
        if root != cp.root() {
            return Err(AuthorityError::BadRecord(format!(
                "the {target} entries listed do not hash to the root the board signed for that size"
            )));
        }
        self.checkpoint = Some(cp);
        Ok(target - start)
    }

    async fn apply_page(&mut self, page: Vec<LoggedEntry>) -> Result<(), AuthorityError> {
        let mut state = std::mem::replace(&mut self.state, RecordState::unbound());
        let mut frontier = std::mem::take(&mut self.frontier);
        let joined = tokio::task::spawn_blocking(move || {
            let r = apply_entries(&mut state, &mut frontier, &page);
            (state, frontier, r)
        })
        .await;
        match joined {
            Ok((state, frontier, r)) => {
                self.state = state;
                self.frontier = frontier;
                r
            }
            Err(e) => {
                // The replay thread died: start over from an empty record.
                self.state = RecordState::new(board_identity(self.client.board_key()));
                self.frontier = Frontier::new();
                self.checkpoint = None;
                Err(AuthorityError::BadRecord(format!("replay failed: {e}")))
            }
        }
    }

    /// Syncs until `f` finds what it waits for, polling every `poll`;
    /// gives up after `timeout` (never without one).
    pub async fn wait_for<T>(
        &mut self,
        what: &str,
        poll: Duration,
        timeout: Option<Duration>,
        mut f: impl FnMut(&RecordState) -> Option<T>,
    ) -> Result<T, AuthorityError> {
        let start = Instant::now();
        loop {
            self.sync().await?;
            if let Some(t) = f(&self.state) {
                return Ok(t);
            }
            if let Some(limit) = timeout {
                if start.elapsed() >= limit {
                    return Err(AuthorityError::Timeout {
                        what: what.to_owned(),
                        after: limit,
                    });
                }
            }
            tokio::time::sleep(poll).await;
        }
    }

    /// Signs `payload` with `key` for this election, checks it against the
    /// record's rules, appends it, checks the receipt and syncs. `what`
    /// names the entry in errors.
    pub async fn post(
        &mut self,
        key: &SigningKey,
        payload: Payload,
        what: &str,
    ) -> Result<VerifiedReceipt, AuthorityError> {
        let m = self
            .state
            .manifest()
            .cloned()
            .ok_or_else(|| AuthorityError::NotReady("the board has no manifest yet".into()))?;
        let entry = testkit::entry(key, &m.raw.election_id, m.fingerprint, payload);
        self.post_entry(entry, what).await
    }

    /// Appends exact entry bytes (checked against the record's rules first),
    /// checks the receipt, syncs, and checks that the synced log extends the
    /// receipt's checkpoint.
    pub async fn post_entry(
        &mut self,
        entry: Vec<u8>,
        what: &str,
    ) -> Result<VerifiedReceipt, AuthorityError> {
        self.state
            .precheck(&entry)
            .map_err(|e: RuleError| AuthorityError::Rule(e))?;
        let receipt = self
            .client
            .append(entry)
            .await
            .map_err(|e| append_error(what, e))?;
        self.sync().await?;
        if let Some(cp) = self.checkpoint.clone() {
            if cp.size() >= receipt.checkpoint.size() {
                self.client
                    .prove_consistency(&receipt.checkpoint, &cp)
                    .await?;
            }
        }
        Ok(receipt)
    }
}

/// Prechecks a chunk of entries against `state` with the ballots' proofs
/// deferred and verified together in one batch
/// ([`tallyboard_protocol::verify_deferred_batch`]). `None` where the
/// precheck or the deferred proofs fail (the caller then checks that entry
/// alone, in order, for the exact error).
fn precheck_chunk(
    state: &RecordState,
    chunk: &[LoggedEntry],
) -> Vec<Option<tallyboard_protocol::Prechecked>> {
    let mut out = Vec::with_capacity(chunk.len());
    let mut deferred = Vec::new();
    for (k, e) in chunk.iter().enumerate() {
        match state.precheck_deferred(&e.entry) {
            Ok((p, d)) => {
                if let Some(d) = d {
                    deferred.push((k, d));
                }
                out.push(Some(p));
            }
            Err(_) => out.push(None),
        }
    }
    let refs: Vec<&DeferredBallotProofs> = deferred.iter().map(|(_, d)| d).collect();
    let results = verify_deferred_batch(&refs, rand_core::OsRng);
    for ((k, _), r) in deferred.iter().zip(results) {
        if r.is_err() {
            if let Some(slot) = out.get_mut(*k) {
                *slot = None;
            }
        }
    }
    out
}

fn apply_entries(
    state: &mut RecordState,
    frontier: &mut Frontier,
    page: &[LoggedEntry],
) -> Result<(), AuthorityError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let generation = state.precheck_generation();
    let prechecked: Vec<Option<tallyboard_protocol::Prechecked>> =
        if page.len() >= 16 && state.manifest().is_some() {
            let chunk = page.len().div_ceil(threads);
            let shared: &RecordState = state;
            let parts: Vec<Option<Vec<_>>> = std::thread::scope(|s| {
                let handles: Vec<_> = page
                    .chunks(chunk)
                    .map(|c| s.spawn(move || precheck_chunk(shared, c)))
                    .collect();
                handles.into_iter().map(|h| h.join().ok()).collect()
            });
            if parts.iter().all(Option::is_some) {
                parts.into_iter().flatten().flatten().collect()
            } else {
                Vec::new()
            }
        } else {
            Vec::new()
        };
    let mut prechecked = prechecked.into_iter();
    for e in page {
        if e.index != state.len() {
            return Err(AuthorityError::BadRecord(format!(
                "entry {} listed where {} was expected",
                e.index,
                state.len()
            )));
        }
        // A precheck holds only while what prechecks depend on (the
        // manifest, the election key) is unchanged; one that failed, or was
        // made before an earlier entry of the page changed them, is redone.
        let p = prechecked.next().flatten();
        let r = match p {
            Some(p) if state.precheck_generation() == generation => state.apply(p),
            _ => state.check_and_apply(&e.entry),
        };
        r.map_err(|err| AuthorityError::BadRecord(format!("entry {}: {err}", e.index)))?;
        frontier
            .append(leaf_hash(&e.entry))
            .map_err(|err| AuthorityError::BadRecord(format!("tree: {err}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tallyboard_protocol::testkit;

    fn board() -> BoardIdentity {
        BoardIdentity {
            origin: "tallyboard/test".into(),
            key: SigningKey::from_bytes(&[9; 32]).verifying_key(),
        }
    }

    fn page(entries: &[Vec<u8>]) -> Vec<LoggedEntry> {
        entries
            .iter()
            .enumerate()
            .map(|(i, e)| LoggedEntry {
                index: i as u64,
                entry: e.clone(),
            })
            .collect()
    }

    fn record(notices: usize) -> Vec<Vec<u8>> {
        let admin = SigningKey::from_bytes(&[1; 32]);
        let m = testkit::sample_manifest(&admin, &board(), 3);
        let eid = m.election_id.clone();
        let (first, fp) = testkit::manifest_entry(&admin, m);
        let mut out = vec![first];
        for i in 0..notices {
            out.push(testkit::notice_entry(
                &admin,
                &eid,
                fp,
                &format!("notice {i}"),
            ));
        }
        out
    }

    #[test]
    fn replays_and_hashes_a_page() {
        let entries = record(40);
        let mut st = RecordState::new(board());
        let mut fr = Frontier::new();
        apply_entries(&mut st, &mut fr, &page(&entries[..1])).unwrap();
        // The rest in one page: prechecked in parallel.
        let rest: Vec<LoggedEntry> = page(&entries).split_off(1);
        apply_entries(&mut st, &mut fr, &rest).unwrap();
        assert_eq!(st.len(), 41);
        assert_eq!(st.notices(), 40);
        let mut tree = tallyboard_tlog::MemoryTree::new();
        for e in &entries {
            tree.append(e).unwrap();
        }
        assert_eq!(fr.root().unwrap(), tree.root().unwrap());
    }

    #[test]
    fn refuses_what_the_rules_refuse() {
        let mut entries = record(30);
        // A notice whose signature is broken, in the middle of a page.
        let last = entries[20].len() - 1;
        entries[20][last] ^= 1;
        let mut st = RecordState::new(board());
        let mut fr = Frontier::new();
        apply_entries(&mut st, &mut fr, &page(&entries[..1])).unwrap();
        let rest: Vec<LoggedEntry> = page(&entries).split_off(1);
        let err = apply_entries(&mut st, &mut fr, &rest)
            .unwrap_err()
            .to_string();
        assert!(err.contains("entry 20") && err.contains("R1.3"), "{err}");
        assert_eq!(st.len(), 20);

        // Entries out of order.
        let mut st = RecordState::new(board());
        let mut p = page(&entries[..2]);
        p[1].index = 5;
        let err = apply_entries(&mut st, &mut Frontier::new(), &p)
            .unwrap_err()
            .to_string();
        assert!(err.contains("entry 5 listed where 1 was expected"), "{err}");

        // A manifest naming another board.
        let mut st = RecordState::new(BoardIdentity {
            origin: "tallyboard/other".into(),
            key: board().key,
        });
        let err = apply_entries(&mut st, &mut Frontier::new(), &page(&entries[..1]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("R2.3"), "{err}");
    }
}
