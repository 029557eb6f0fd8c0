//! The verification engine (`spec/checks.md`).
//!
//! One reader thread streams the record file; worker threads precheck
//! chunks of entries against a snapshot of the rules
//! ([`Prechecker`]) with the expensive ballot proofs deferred and verified
//! per chunk in one batch; the calling thread applies the results in log
//! order to a compact [`RecordState`], so the rules of the board and of the
//! verifier are the same code. On top of the rules the engine recomputes
//! independently what it can: the Merkle tree, the aggregates of the counted
//! ballots, the combination of the partial decryptions, the credentials used
//! per district, which ballot counted per credential.
//!
//! Memory is bounded by the number of entries and credentials (about
//! 32 bytes per entry and 100 bytes per credential, plus the rules' sets of
//! body hashes and voter hashes), never by their sizes: entries are dropped
//! once applied and re-read from the file when needed.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, OsRng, RngCore, SeedableRng};
use tallyboard_crypto::contest::encoded_alphas;
use tallyboard_crypto::ed25519::{PreparedSignature, SignatureBatch};
use tallyboard_crypto::elgamal::Ciphertext;
use tallyboard_protocol::ballot::CheckedBallot;
use tallyboard_protocol::caucus;
use tallyboard_protocol::entry::{bad_entry_signature, decode_entry_deferred_with, AuthorKeys};
use tallyboard_protocol::manifest::ElectionManifest;
use tallyboard_protocol::snapshot::{SnapWriter, SnapshotError};
use tallyboard_protocol::v1::{self, entry_body::Payload};
use tallyboard_protocol::{
    verify_deferred_batch, DeferredBallotProofs, Prechecked, Prechecker, RecordState, RuleError,
};
use tallyboard_threshold::{DkgMessage, PartialDecryption};
use tallyboard_tlog::{
    leaf_hash, verify_checkpoint_consistency, Ed25519Verifier, Hash, NoteVerifier, SignedCheckpoint,
};

use crate::checks::{check_of_rule, EntryKind};
use crate::record::{RawEntry, RecordError, RecordReader};
use crate::report::{
    CaucusDistrict, CaucusGroup, CaucusReport, DisqualifiedTrustee, Failure, Performance,
    RecordInfo, Report, ResultRow, Tally, SCHEMA,
};
use crate::split::{Basis, Trust};
use crate::tree::LeafTree;

/// Entries per work unit. A record interleaves issuance entries with the
/// ballots, so a chunk carries about 128 ballots: the batch's multiscalar
/// multiplication costs about 15 % less per ballot at 128 ballots than at 64.
const CHUNK: usize = 256;

/// A worker times [`UNIT_SAMPLE`] scalar multiplications before every
/// `UNIT_EVERY`-th chunk (`spec/checks.md` §10): about 0.1 % of the work.
const UNIT_EVERY: u64 = 8;
/// Scalar multiplications per unit sample.
const UNIT_SAMPLE: u32 = 16;

/// Options of a verification run.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Worker threads (0: one per core).
    pub threads: usize,
    /// The board key the user expects (`--board-key`); must be the
    /// manifest's.
    pub board_key: Option<Ed25519Verifier>,
    /// Earlier signed checkpoints to check against the record (V1.3):
    /// (label, note bytes).
    pub checkpoints: Vec<(String, Vec<u8>)>,
    /// Consistency between checkpoints already proven by the board while
    /// downloading (label), counted under V1.3.
    pub board_consistency: Vec<String>,
    /// Draw a progress bar on standard error.
    pub progress: bool,
    /// Write the counted ballot of every credential here (V5.4).
    pub counted_out: Option<PathBuf>,
    /// Stop applying entries after this many failures (0: 1000).
    pub max_failures: u64,
}

/// Errors that prevent verification from starting.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The record cannot be opened.
    #[error("cannot open the record {path}: {error}")]
    Open {
        /// The path.
        path: PathBuf,
        /// Why (in the message, so not also a source).
        error: io::Error,
    },
}

/// Holds the reader back while the rules' snapshot can still change (before
/// the election key is applied): a chunk prechecked against an outdated
/// snapshot is prechecked again, one entry at a time, on the applying
/// thread. Until then a chunk is handed out only once every chunk before it
/// has been applied; a stuck applier only delays the reader (`GATE_WAIT`).
#[derive(Default)]
struct Gate {
    /// (chunks applied, the snapshot is final).
    state: Mutex<(u64, bool)>,
    moved: Condvar,
}

/// Longest the reader waits at the gate for one chunk.
const GATE_WAIT: Duration = Duration::from_secs(2);

impl Gate {
    fn wait_for(&self, seq: u64) {
        let deadline = Instant::now() + GATE_WAIT;
        let Ok(mut g) = self.state.lock() else { return };
        while !g.1 && g.0 < seq {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            match self.moved.wait_timeout(g, left) {
                Ok((next, _)) => g = next,
                Err(_) => return,
            }
        }
    }

    fn applied(&self, chunks: u64, settled: bool) {
        if let Ok(mut g) = self.state.lock() {
            if !g.1 {
                *g = (chunks, settled);
                self.moved.notify_all();
            }
        }
    }
}

mod saved;
pub(crate) use saved::{read_engine, Restored};

/// Random access to the record, to re-read an entry by its offset.
pub(crate) trait Source: Send + Sync {
    /// The record file's bytes, from its header line to its checkpoint.
    fn stream(&self) -> io::Result<Box<dyn Read + Send + '_>>;
    /// The entry whose bytes start at `offset` (after its length).
    fn read_at(&self, offset: u64) -> io::Result<Vec<u8>>;
    /// Where an entry read from [`Self::stream`] is in the whole record: a
    /// stream that continues a saved run starts at a later index, and
    /// `read_at` reads another file.
    fn locate(&self, _entry: &mut RawEntry) {}
}

pub(crate) struct FileSource {
    path: PathBuf,
    file: Mutex<File>,
}

/// The record file at `path`, to run the engine on.
pub(crate) fn file_source(path: &Path) -> io::Result<FileSource> {
    Ok(FileSource {
        path: path.to_path_buf(),
        file: Mutex::new(File::open(path)?),
    })
}

impl Source for FileSource {
    fn stream(&self) -> io::Result<Box<dyn Read + Send + '_>> {
        Ok(Box::new(BufReader::with_capacity(
            1 << 20,
            File::open(&self.path)?,
        )))
    }
    fn read_at(&self, offset: u64) -> io::Result<Vec<u8>> {
        let mut f = self
            .file
            .lock()
            .map_err(|_| io::Error::other("poisoned lock"))?;
        read_entry_at(&mut *f, offset)
    }
}

/// Reads the entry whose bytes start at `offset`, after its u32 BE length.
pub(crate) fn read_entry_at<F: Read + Seek>(f: &mut F, offset: u64) -> io::Result<Vec<u8>> {
    f.seek(SeekFrom::Start(offset.saturating_sub(4)))?;
    let mut len = [0u8; 4];
    f.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    if len > tallyboard_protocol::MAX_ENTRY_BYTES {
        return Err(io::Error::other("bad entry length"));
    }
    let mut buf = vec![0u8; len];
    f.read_exact(&mut buf)?;
    Ok(buf)
}

struct BytesSource<'a>(&'a [u8]);

impl Source for BytesSource<'_> {
    fn stream(&self) -> io::Result<Box<dyn Read + Send + '_>> {
        Ok(Box::new(self.0))
    }
    fn read_at(&self, offset: u64) -> io::Result<Vec<u8>> {
        let o = usize::try_from(offset).map_err(io::Error::other)?;
        let len =
            self.0
                .get(o.saturating_sub(4)..o)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(u32::from_be_bytes)
                .ok_or_else(|| io::Error::other("offset outside the record"))? as usize;
        self.0
            .get(o..o + len)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| io::Error::other("entry outside the record"))
    }
}

/// Verifies the record file at `path`.
pub fn verify_file(path: &Path, opts: &VerifyOptions) -> Result<Report, VerifyError> {
    let open = |p: &Path| {
        File::open(p).map_err(|error| VerifyError::Open {
            path: p.to_path_buf(),
            error,
        })
    };
    let src = FileSource {
        path: path.to_path_buf(),
        file: Mutex::new(open(path)?),
    };
    Ok(run(&src, opts))
}

/// Verifies a record held in memory (same format as a record file).
pub fn verify_bytes(record: &[u8], opts: &VerifyOptions) -> Report {
    run(&BytesSource(record), opts)
}

/// A prechecked entry coming back from a worker.
struct Item {
    index: u64,
    offset: u64,
    leaf: Hash,
    kind: EntryKind,
    generation: u8,
    bytes: Vec<u8>,
    result: Result<Prechecked, RuleError>,
    /// A merge's worker leaves the expensive checks to the applying thread.
    pending: Option<Pending>,
    alphas: Vec<[u8; 32]>,
}

struct ChunkOut {
    seq: u64,
    items: Vec<Item>,
}

/// The ciphertext α encodings of a ballot (for V6.2): of the sent
/// ciphertexts, from the exact bytes, for choice contests (an implied last
/// ciphertext, `spec/crypto.md` §8.2, is a function of them); compressed
/// from the points otherwise.
fn ballot_alphas(m: &ElectionManifest, b: &v1::Ballot, checked: &CheckedBallot) -> Vec<[u8; 32]> {
    use tallyboard_protocol::ballot::ContestSpec;
    let mut out = Vec::new();
    for (ec, (pos, cts)) in b.contests.iter().zip(&checked.contests) {
        match m.specs.get(*pos) {
            Some(ContestSpec::Choice(_)) => out.extend(encoded_alphas(&ec.encrypted)),
            _ => out.extend(cts.iter().map(|c| c.alpha.compress().to_bytes())),
        }
    }
    out
}

fn inner_ballot(p: &Prechecked) -> Option<&v1::Ballot> {
    match p.entry().payload()? {
        Payload::Ballot(b) => Some(b),
        Payload::ChallengedBallot(c) => c.ballot.as_ref(),
        _ => None,
    }
}

/// A precheck's outcome, the entry's kind, and its ballot ciphertexts' α.
type Prechecked3 = (
    Result<(Prechecked, Option<DeferredBallotProofs>), RuleError>,
    EntryKind,
    Vec<[u8; 32]>,
);

fn precheck_one(pre: &Prechecker, bytes: &[u8]) -> Prechecked3 {
    classify(pre, pre.precheck_deferred(bytes), bytes)
}

/// Adds the entry's kind and its ballot ciphertexts' α to a precheck's outcome.
fn classify(
    pre: &Prechecker,
    r: Result<(Prechecked, Option<DeferredBallotProofs>), RuleError>,
    bytes: &[u8],
) -> Prechecked3 {
    let kind = match &r {
        Ok((p, _)) => p
            .entry()
            .payload()
            .map_or(EntryKind::Unknown, EntryKind::of),
        Err(_) => EntryKind::sniff(bytes),
    };
    let alphas = match (&r, pre.manifest()) {
        (Ok((p, _)), Some(m)) => match (inner_ballot(p), p.ballot()) {
            (Some(b), Some(c)) => ballot_alphas(m, b, c),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    (r, kind, alphas)
}

/// One entry of a chunk, decoded and prechecked by a worker, its entry
/// signature and deferred proofs not judged yet.
pub(crate) struct Staged {
    pub(crate) raw: RawEntry,
    pub(crate) leaf: Hash,
    /// The prepared entry signature (`None` when the entry does not decode).
    sig: Option<PreparedSignature>,
    /// The precheck, as if the signature verified.
    r: Result<(Prechecked, Option<DeferredBallotProofs>), RuleError>,
    pub(crate) kind: EntryKind,
    alphas: Vec<[u8; 32]>,
}

/// What the expensive, stateless checks of one entry found
/// (`spec/checks.md` §11, §14): its entry signature does not verify, or its
/// deferred ballot proofs (credential signature, contest proofs) do not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fault {
    /// R1.3: the entry signature does not verify.
    Signature,
    /// The deferred proofs fail with this error.
    Proofs(RuleError),
}

/// Decodes every entry of a chunk with its signature deferred and prechecks
/// it against `pre` with its ballot proofs deferred: the cheap part of a
/// worker's job.
pub(crate) fn stage_chunk(pre: &Prechecker, chunk: Vec<RawEntry>) -> Vec<Staged> {
    let mut keys = AuthorKeys::default();
    chunk
        .into_iter()
        .map(|raw| {
            let leaf = leaf_hash(&raw.bytes);
            let (r, sig) = match decode_entry_deferred_with(&raw.bytes, &mut keys) {
                Err(e) => (Err(e), None),
                Ok((entry, sig)) => (pre.precheck_decoded_deferred(entry), Some(sig)),
            };
            let (r, kind, alphas) = classify(pre, r, &raw.bytes);
            Staged {
                raw,
                leaf,
                sig,
                r,
                kind,
                alphas,
            }
        })
        .collect()
}

/// The expensive part: the staged entries' signatures in one batch (one by
/// one only if the batch fails, `spec/crypto.md` §10.2), then the deferred
/// proofs of the entries whose signature verified and whose precheck passed
/// in one batch (`verify_deferred_batch`). One outcome per entry.
pub(crate) fn judge_chunk<R: RngCore + CryptoRng>(
    staged: &[Staged],
    mut rng: R,
) -> Vec<Option<Fault>> {
    let mut batch = SignatureBatch::new(&mut rng);
    for sig in staged.iter().filter_map(|s| s.sig.as_ref()) {
        batch.push(sig);
    }
    let all = batch.vartime_verify();
    let mut faults: Vec<Option<Fault>> = staged
        .iter()
        .map(|s| match &s.sig {
            Some(sig) if !all && !sig.vartime_verify() => Some(Fault::Signature),
            _ => None,
        })
        .collect();
    let deferred: Vec<(usize, &DeferredBallotProofs)> = staged
        .iter()
        .enumerate()
        .filter(|(i, _)| faults[*i].is_none())
        .filter_map(|(i, s)| match &s.r {
            Ok((_, Some(d))) => Some((i, d)),
            _ => None,
        })
        .collect();
    let refs: Vec<&DeferredBallotProofs> = deferred.iter().map(|(_, d)| *d).collect();
    let outcomes = verify_deferred_batch(&refs, &mut rng);
    for ((i, _), o) in deferred.iter().zip(outcomes) {
        if let Err(e) = o {
            faults[*i] = Some(Fault::Proofs(e));
        }
    }
    faults
}

/// The outcome of one staged entry once its expensive checks are judged:
/// what `precheck_one` and the deferred proofs' verification give.
fn settle(
    r: Result<Prechecked, RuleError>,
    fault: Option<Fault>,
    kind: &mut EntryKind,
    alphas: &mut Vec<[u8; 32]>,
    bytes: &[u8],
) -> Result<Prechecked, RuleError> {
    match fault {
        None => r,
        Some(Fault::Signature) => {
            *kind = EntryKind::sniff(bytes);
            alphas.clear();
            Err(bad_entry_signature())
        }
        // Only an entry whose precheck passed has deferred proofs.
        Some(Fault::Proofs(e)) => r.and(Err(e)),
    }
}

/// What the applying thread still has to judge of an entry staged by a
/// merge's worker (`spec/checks.md` §14): nothing when a part's verdict
/// covers it, else the signature and deferred proofs, one at a time.
struct Pending {
    sig: Option<PreparedSignature>,
    deferred: Option<DeferredBallotProofs>,
}

impl Pending {
    fn judge(&self, r: &Result<Prechecked, RuleError>) -> Option<Fault> {
        if self.sig.as_ref().is_some_and(|s| !s.vartime_verify()) {
            return Some(Fault::Signature);
        }
        match (&self.deferred, r) {
            (Some(d), Ok(_)) => d.verify().err().map(Fault::Proofs),
            _ => None,
        }
    }
}

/// A worker's job. `defer`: stage only, and leave the expensive checks to
/// the applying thread and the parts' verdicts (a merge, §14).
fn work_chunk(pre: &Prechecker, seq: u64, chunk: Vec<RawEntry>, defer: bool) -> ChunkOut {
    let generation = pre.generation();
    let staged = stage_chunk(pre, chunk);
    let faults = if defer {
        vec![None; staged.len()]
    } else {
        let rng =
            ChaCha20Rng::from_rng(OsRng).unwrap_or_else(|_| ChaCha20Rng::from_seed(rand_seed()));
        judge_chunk(&staged, rng)
    };
    let items = staged
        .into_iter()
        .zip(faults)
        .map(|(s, fault)| {
            let Staged {
                raw,
                leaf,
                sig,
                r,
                mut kind,
                mut alphas,
            } = s;
            let (r, deferred) = match r {
                Ok((p, d)) => (Ok(p), d),
                Err(e) => (Err(e), None),
            };
            let (result, pending) = if defer {
                (r, Some(Pending { sig, deferred }))
            } else {
                (settle(r, fault, &mut kind, &mut alphas, &raw.bytes), None)
            };
            Item {
                index: raw.index,
                offset: raw.offset,
                leaf,
                kind,
                generation,
                result,
                pending,
                bytes: raw.bytes,
                alphas,
            }
        })
        .collect();
    ChunkOut { seq, items }
}

/// A seed from the OS RNG through `getrandom` failing is not expected; this
/// fallback still differs per call.
pub(crate) fn rand_seed() -> [u8; 32] {
    let mut s = [0u8; 32];
    let t = Instant::now().elapsed().as_nanos().to_le_bytes();
    s[..16].copy_from_slice(&t);
    s
}

/// Per-round bookkeeping of the verifier's own recomputation.
#[derive(Default)]
struct Own {
    /// Σ of the ciphertexts of every applied ballot, per (round, contest, district).
    sums: HashMap<(u32, usize, usize), Vec<Ciphertext>>,
    /// Issuance entries per district id.
    issued: HashMap<String, u64>,
    /// Cast ballot entries per round, as bitsets over log indexes.
    cast: [Vec<u64>; 2],
    /// (u32 fingerprint of α, entry index) of every cast ballot ciphertext
    /// (8 bytes each; entries beyond index 2³² − 1 are checked by a re-read
    /// of every ballot instead, see `alpha_overflow`).
    alpha_fps: Vec<(u32, u32)>,
    /// Some cast ballot had an index above 2³² − 1.
    alpha_overflow: bool,
    /// Challenged ballots: α encoding → challenged entry index.
    challenged_alphas: HashMap<[u8; 32], u64>,
    /// How many of `challenged_alphas` V6.2 has counted already (each is
    /// counted once, at the first tally after it; a caucus has two).
    challenged_reported: u64,
    /// Counted ballots V6.2 already failed (a caucus compares round-0
    /// ballots at both tallies; each is reported once).
    reuse_reported: HashSet<u64>,
    /// Key-ceremony messages by type.
    dkg: [u64; 4],
    /// Ballots per round counted by the verifier after resolving revotes.
    counted: [u64; 2],
    /// The accepted caucus apportionment's coin seed (for the report).
    coin_seed: Option<Vec<u8>>,
}

fn set_bit(bits: &mut Vec<u64>, i: u64) {
    let w = (i / 64) as usize;
    if bits.len() <= w {
        bits.resize(w + 1, 0);
    }
    bits[w] |= 1 << (i % 64);
}

fn get_bit(bits: &[u64], i: u64) -> bool {
    bits.get((i / 64) as usize)
        .is_some_and(|w| w & (1 << (i % 64)) != 0)
}

fn fp(a: &[u8; 32]) -> u32 {
    u32::from_le_bytes([a[1], a[2], a[3], a[4]])
}

struct Engine<'s> {
    src: &'s dyn Source,
    state: RecordState,
    shared: Arc<RwLock<Arc<Prechecker>>>,
    tree: LeafTree,
    offsets: Vec<u64>,
    tally: Tally,
    own: Own,
    manifest: Option<Arc<ElectionManifest>>,
    results: Vec<ResultRow>,
    max_failures: u64,
    stopped: bool,
    ballots: u64,
    /// A merge's parts' verdicts (§14).
    trust: Option<&'s Trust>,
    /// Which manifest and election key entries the prechecks rest on (kept
    /// by a merge only).
    basis: Basis,
    /// A merge's entries whose expensive checks a part decided, and those
    /// it judged itself.
    trusted: u64,
    judged: u64,
}

impl Engine<'_> {
    fn rule_failure(&mut self, index: u64, e: &RuleError, kind: EntryKind) {
        let check = check_of_rule(e.rule, kind);
        self.tally.fail(
            check,
            Failure {
                entry: Some(index),
                rule: Some(e.rule.to_string()),
                message: e.message.clone(),
            },
        );
    }

    fn failure(&mut self, check: &'static str, entry: Option<u64>, message: impl Into<String>) {
        self.tally.fail(
            check,
            Failure {
                entry,
                rule: None,
                message: message.into(),
            },
        );
    }

    fn refresh_prechecker(&mut self) {
        let pre = Arc::new(self.state.prechecker());
        if let Ok(mut w) = self.shared.write() {
            *w = pre;
        }
    }

    fn process(&mut self, item: Item) {
        self.tree.push(item.leaf);
        self.offsets.push(item.offset);
        if self.stopped {
            return;
        }
        let index = item.index;
        let mut kind = item.kind;
        let mut result = item.result;
        let mut alphas = item.alphas;
        if item.generation != self.state.precheck_generation() {
            // The worker's snapshot predates the manifest or the election
            // key: precheck again against the current state.
            let (r, k, a) = precheck_one(&self.state.prechecker(), &item.bytes);
            kind = k;
            alphas = a;
            result = r.and_then(|(p, d)| match d {
                Some(d) => d.verify().map(|()| p),
                None => Ok(p),
            });
        } else if let Some(pending) = item.pending {
            // A merge (§14): a part's verdict on the expensive checks, if
            // one covers this entry under the same manifest and key; else
            // judged here.
            let fault = match self.trust.and_then(|t| t.verdict(index, &self.basis)) {
                Some(v) => {
                    self.trusted += 1;
                    v.cloned()
                }
                None => {
                    self.judged += 1;
                    pending.judge(&result)
                }
            };
            result = settle(result, fault, &mut kind, &mut alphas, &item.bytes);
        }
        let p = match result {
            Ok(p) => p,
            Err(e) => return self.reject(index, &e, kind),
        };
        let ballot = p.ballot().cloned();
        // Ballots (the bulk) need only their checked ciphertexts.
        let payload = match p.entry().payload() {
            Some(Payload::Ballot(_)) => None,
            other => other.cloned(),
        };
        if let Some(Payload::EncryptedTally(t)) = &payload {
            self.before_tally(index, t);
        }
        if let Err(e) = self.state.apply(p) {
            return self.reject(index, &e, kind);
        }
        if self.trust.is_some() {
            self.basis.note(&self.state, index, item.leaf);
        }
        self.applied(index, kind, payload, ballot, alphas);
    }

    fn reject(&mut self, index: u64, e: &RuleError, kind: EntryKind) {
        self.state.skip_refused();
        self.rule_failure(index, e, kind);
        if self.tally.failures() >= self.max_failures {
            self.stopped = true;
            self.failure(
                "V1.4",
                Some(index),
                format!(
                    "verification stopped after {} failures",
                    self.tally.failures()
                ),
            );
        }
    }

    fn applied(
        &mut self,
        index: u64,
        kind: EntryKind,
        payload: Option<Payload>,
        ballot: Option<CheckedBallot>,
        alphas: Vec<[u8; 32]>,
    ) {
        let t = &mut self.tally;
        t.pass("V1.4", 1, "entries");
        t.pass("V2.4", 1, "entries");
        if kind != EntryKind::Manifest {
            t.pass("V2.2", 1, "entries");
        }
        match payload {
            Some(Payload::Manifest(_)) => {
                t.pass("V2.1", 1, "manifest");
                self.manifest = self.state.manifest().cloned();
                self.refresh_prechecker();
            }
            Some(Payload::PhaseChange(_)) => t.pass("V2.3", 1, "phase changes"),
            Some(Payload::Notice(_)) => {}
            Some(Payload::Issuance(i)) => {
                t.pass("V4.1", 1, "issuances");
                *self.own.issued.entry(i.district).or_insert(0) += 1;
            }
            Some(Payload::Dkg(d)) => {
                let k = match DkgMessage::from_bytes(&d.message) {
                    Ok(DkgMessage::KeyAnnouncement(_)) => 0,
                    Ok(DkgMessage::Commitment(_)) => 1,
                    Ok(DkgMessage::Reveal(_)) => 2,
                    _ => 3,
                };
                self.own.dkg[k] += 1;
            }
            Some(Payload::ElectionKey(_)) => self.refresh_prechecker(),
            None if kind == EntryKind::Ballot => {
                self.ballots += 1;
                t.pass("V5.1", 1, "ballots");
                t.pass("V4.2", 1, "credentials");
                t.pass("V5.2", 1, "ballots");
                t.pass("V5.3", 1, "ballots");
                if let Some(b) = ballot {
                    if b.round == caucus::REALIGNMENT_ROUND {
                        t.pass("V8.2", 1, "realignment ballots");
                    }
                    let r = (b.round as usize).min(1);
                    set_bit(&mut self.own.cast[r], index);
                    for (cpos, cts) in b.contests {
                        let s = self
                            .own
                            .sums
                            .entry((b.round, cpos, b.district))
                            .or_insert_with(|| vec![Ciphertext::zero(); cts.len()]);
                        for (a, c) in s.iter_mut().zip(cts) {
                            *a += c;
                        }
                    }
                }
                match u32::try_from(index) {
                    Ok(i) => self.own.alpha_fps.extend(alphas.iter().map(|a| (fp(a), i))),
                    Err(_) => self.own.alpha_overflow = true,
                }
            }
            Some(Payload::ChallengedBallot(_)) => {
                self.ballots += 1;
                t.pass("V5.1", 1, "ballots");
                t.pass("V4.2", 1, "credentials");
                t.pass("V5.2", 1, "ballots");
                t.pass("V6.1", 1, "challenged ballots");
                for a in alphas {
                    self.own.challenged_alphas.insert(a, index);
                }
            }
            Some(Payload::EncryptedTally(et)) => {
                t.pass("V7.1", 1, "tallies");
                if et.round == caucus::REALIGNMENT_ROUND {
                    t.pass("V8.3", 1, "final alignments");
                }
            }
            Some(Payload::CaucusViability(_)) => t.pass("V8.1", 1, "viability entries"),
            Some(Payload::CaucusApportionment(a)) => {
                t.pass("V8.4", 1, "apportionment entries");
                self.own.coin_seed = Some(a.coin_seed);
            }
            Some(Payload::PartialDecryption(_)) => t.pass("V7.2", 1, "partial decryptions"),
            Some(Payload::Result(r)) => self.after_result(index, &r),
            _ => {}
        }
    }

    /// Before an encrypted tally is applied: resolve revotes, recompute the
    /// aggregates of the counted ballots independently (V5.4, V6.2, V7.1).
    fn before_tally(&mut self, index: u64, t: &v1::EncryptedTally) {
        let round = t.round.min(1);
        let Some(m) = self.manifest.clone() else {
            return;
        };
        let policy_last = m.revote_policy != v1::RevotePolicy::FirstCounts;
        // Which entry counts per credential, by the rules.
        let mut counted_bits = Vec::new();
        let mut counted_by_cred: HashMap<[u8; 32], u64> = HashMap::new();
        let mut n_counted = 0u64;
        if let Some(creds) = self.state.compact_credentials() {
            for (k, c) in creds {
                if let Some(i) = c.counted(round) {
                    set_bit(&mut counted_bits, i);
                    n_counted += 1;
                    if c.cast(round) > 1 {
                        counted_by_cred.insert(*k, i);
                    }
                }
            }
        }
        let pending: HashSet<u64> = self
            .state
            .superseded_pending()
            .iter()
            .map(|p| p.index)
            .collect();
        // Every cast ballot of the round that does not count: re-read it,
        // check the revote policy, take it out of our sums.
        let cast = std::mem::take(&mut self.own.cast[round as usize]);
        let mut not_counted = 0u64;
        for (w, word) in cast.iter().enumerate() {
            let mut bits = *word & !counted_bits.get(w).copied().unwrap_or(0);
            while bits != 0 {
                let i = (w as u64) * 64 + u64::from(bits.trailing_zeros());
                bits &= bits - 1;
                not_counted += 1;
                self.uncount(i, round, policy_last, &counted_by_cred, &pending);
            }
        }
        self.own.cast[round as usize] = cast;
        self.own.counted[round as usize] = n_counted;
        self.tally.pass("V5.4", n_counted, "credentials counted");
        let _ = not_counted;
        // V6.2: no counted ballot carries a challenged ciphertext. A
        // caucus's final alignment (round 1) also counts the round-0
        // ballots, which a later challenge could reveal: compare them too.
        let mut compared_bits = counted_bits.clone();
        if m.is_caucus && round == caucus::REALIGNMENT_ROUND {
            if let Some(creds) = self.state.compact_credentials() {
                for i in creds.values().filter_map(|c| c.counted(0)) {
                    set_bit(&mut compared_bits, i);
                }
            }
        }
        if !self.own.challenged_alphas.is_empty() {
            let fps: HashMap<u32, Vec<[u8; 32]>> =
                self.own
                    .challenged_alphas
                    .keys()
                    .fold(HashMap::new(), |mut acc, a| {
                        acc.entry(fp(a)).or_default().push(*a);
                        acc
                    });
            let mut suspects: Vec<u64> = self
                .own
                .alpha_fps
                .iter()
                .map(|&(f, i)| (f, u64::from(i)))
                .filter(|(f, i)| fps.contains_key(f) && get_bit(&compared_bits, *i))
                .map(|(_, i)| i)
                .collect();
            if self.own.alpha_overflow {
                // Beyond 2³² entries: re-read every counted ballot above it.
                for (w, word) in counted_bits.iter().enumerate().skip(1 << 26) {
                    let mut bits = *word;
                    while bits != 0 {
                        suspects.push((w as u64) * 64 + u64::from(bits.trailing_zeros()));
                        bits &= bits - 1;
                    }
                }
            }
            suspects.dedup();
            for i in suspects {
                let Some(alphas) = self.reread_alphas(i) else {
                    continue;
                };
                if let Some(ch) = alphas
                    .iter()
                    .find_map(|a| self.own.challenged_alphas.get(a))
                {
                    let ch = *ch;
                    if self.own.reuse_reported.insert(i) {
                        self.failure(
                            "V6.2",
                            Some(i),
                            format!("the counted ballot reuses a ciphertext of the challenged ballot at entry {ch}"),
                        );
                    }
                }
            }
        }
        let challenged = self.own.challenged_alphas.len() as u64;
        self.tally.pass(
            "V6.2",
            challenged - self.own.challenged_reported,
            "challenged ciphertexts",
        );
        self.own.challenged_reported = challenged;
        if self.own.challenged_alphas.is_empty() && self.state.challenged() > 0 {
            self.tally.performed("V6.2", "challenged ciphertexts");
        }
        // V7.1 (V8.3 for a caucus's final alignment): the posted aggregates
        // are our sums.
        let agg_check = if m.is_caucus && t.round == caucus::REALIGNMENT_ROUND {
            "V8.3"
        } else {
            "V7.1"
        };
        let expected = self.own_expected(&m, t.round);
        if expected.len() != t.contests.len() {
            self.failure(
                agg_check,
                Some(index),
                format!(
                    "the tally has {} aggregates, the manifest calls for {}",
                    t.contests.len(),
                    expected.len()
                ),
            );
        }
        for ((cid, did, sum), posted) in expected.iter().zip(&t.contests) {
            let got: Result<Vec<Ciphertext>, _> = posted
                .ciphertexts
                .iter()
                .map(|b| Ciphertext::from_bytes_aggregate(b))
                .collect();
            if posted.contest != *cid || posted.district != *did || got.as_ref().ok() != Some(sum) {
                self.failure(
                    agg_check,
                    Some(index),
                    format!("contest {cid} district {did:?}: the posted aggregate differs from the verifier's sum of the counted ballots"),
                );
            }
        }
        if t.ballots_counted != n_counted {
            self.failure(
                "V7.1",
                Some(index),
                format!(
                    "ballots_counted is {}, the verifier counts {n_counted}",
                    t.ballots_counted
                ),
            );
        }
    }

    fn reread_alphas(&mut self, i: u64) -> Option<Vec<[u8; 32]>> {
        let off = *self.offsets.get(i as usize)?;
        let bytes = self.src.read_at(off).ok()?;
        // The entry read again must be the one applied (an incremental
        // run re-reads its entry file, which could have changed since).
        if Some(leaf_hash(&bytes)) != self.tree.leaf(i) {
            self.failure(
                "V6.2",
                Some(i),
                "cannot re-read this ballot from the record",
            );
            return None;
        }
        let pre = self.state.prechecker();
        let (r, _, alphas) = precheck_one(&pre, &bytes);
        r.ok().map(|_| alphas)
    }

    /// Takes a non-counted ballot out of the verifier's sums (and of the
    /// rules' aggregates if they still hold it), checking the revote policy.
    fn uncount(
        &mut self,
        i: u64,
        round: u32,
        policy_last: bool,
        counted_by_cred: &HashMap<[u8; 32], u64>,
        pending: &HashSet<u64>,
    ) {
        let Some(&off) = self.offsets.get(i as usize) else {
            return;
        };
        let bytes = match self.src.read_at(off) {
            Ok(b) if leaf_hash(&b) == self.tree.leaf(i).unwrap_or(Hash([0; 32])) => b,
            _ => {
                return self.failure(
                    "V7.1",
                    Some(i),
                    "cannot re-read this ballot from the record",
                )
            }
        };
        let pre = self.state.prechecker();
        let Ok((p, _)) = pre.precheck_deferred(&bytes) else {
            return self.failure("V7.1", Some(i), "the ballot no longer decodes");
        };
        let cred = p.entry().author.to_bytes();
        match counted_by_cred.get(&cred) {
            Some(&c) if (policy_last && c > i) || (!policy_last && c < i) => {}
            Some(&c) => self.failure(
                "V5.4",
                Some(i),
                format!("the revote policy makes this ballot count, yet entry {c} counts"),
            ),
            None => self.failure(
                "V5.4",
                Some(i),
                "no ballot counts for this ballot's credential",
            ),
        }
        if let Some(b) = p.ballot() {
            if b.round == round {
                for (cpos, cts) in &b.contests {
                    if let Some(s) = self.own.sums.get_mut(&(b.round, *cpos, b.district)) {
                        for (a, c) in s.iter_mut().zip(cts) {
                            *a = *a - *c;
                        }
                    }
                }
            }
        }
        if pending.contains(&i) {
            if let Err(e) = self.state.resolve_superseded(i, &bytes) {
                self.rule_failure(i, &e, EntryKind::Ballot);
            }
        }
    }

    /// The verifier's own aggregates, in the order of `spec/record.md`
    /// §10.1: (contest id, district id or "", sum).
    fn own_expected(
        &self,
        m: &ElectionManifest,
        round: u32,
    ) -> Vec<(String, String, Vec<Ciphertext>)> {
        if m.is_caucus && round == caucus::REALIGNMENT_ROUND {
            return self.own_final_alignment(m).unwrap_or_default();
        }
        let mut out = Vec::new();
        for (cpos, c) in m.raw.contests.iter().enumerate() {
            let n = m.specs[cpos].options();
            let get = |d: usize| {
                self.own
                    .sums
                    .get(&(round, cpos, d))
                    .cloned()
                    .unwrap_or_else(|| vec![Ciphertext::zero(); n])
            };
            let districts: Vec<usize> = m
                .raw
                .districts
                .iter()
                .enumerate()
                .filter(|(_, d)| c.districts.is_empty() || c.districts.contains(&d.id))
                .map(|(i, _)| i)
                .collect();
            if m.is_caucus {
                for d in districts {
                    out.push((c.id.clone(), m.raw.districts[d].id.clone(), get(d)));
                }
            } else {
                let mut total = vec![Ciphertext::zero(); n];
                for d in districts {
                    for (t, x) in total.iter_mut().zip(get(d)) {
                        *t += x;
                    }
                }
                out.push((c.id.clone(), String::new(), total));
            }
        }
        out
    }

    /// The final alignment of a caucus from the verifier's own sums and the
    /// posted (and checked) viability (`spec/caucus.md` §9.5, check V8.3).
    fn own_final_alignment(
        &self,
        m: &ElectionManifest,
    ) -> Option<Vec<(String, String, Vec<Ciphertext>)>> {
        let s = caucus::CaucusSetup::from_manifest(m)?;
        let v = self.state.caucus_viability()?;
        let sums = |round: u32| -> Vec<Vec<Ciphertext>> {
            s.districts
                .iter()
                .map(|d| {
                    self.own
                        .sums
                        .get(&(round, s.contest, *d))
                        .cloned()
                        .unwrap_or_else(|| vec![Ciphertext::zero(); s.options])
                })
                .collect()
        };
        let fin =
            caucus::final_aggregates(m, &sums(0), &sums(caucus::REALIGNMENT_ROUND), &v.districts)
                .ok()?;
        Some(
            s.districts
                .iter()
                .zip(fin)
                .map(|(d, cts)| (s.contest_id.clone(), m.raw.districts[*d].id.clone(), cts))
                .collect(),
        )
    }

    /// After a result is applied: combine the partials independently
    /// (V7.3) and fill the result table.
    fn after_result(&mut self, index: u64, r: &v1::ElectionResult) {
        let (Some(m), Some(key)) = (self.manifest.clone(), self.state.threshold_key().cloned())
        else {
            return;
        };
        let Some(tally) = self
            .state
            .tallies()
            .iter()
            .find(|t| t.index == r.tally_entry)
        else {
            return;
        };
        let used: Vec<PartialDecryption> = r
            .trustees_used
            .iter()
            .filter_map(|&t| u8::try_from(t).ok())
            .filter_map(|t| tally.partials.get(&t).cloned())
            .collect();
        let max = tally.max_plaintext(&m);
        match tallyboard_threshold::combine(&key, &tally.flat_ciphertexts(), &used, max) {
            Ok(dec) => {
                let mut off = 0;
                let mut ok = true;
                for ((cpos, _, cts), posted) in tally.contests.iter().zip(&r.contests) {
                    let counts = dec.plaintexts.get(off..off + cts.len()).unwrap_or(&[]);
                    off += cts.len();
                    ok &= counts == posted.counts.as_slice();
                    let c = &m.raw.contests[*cpos];
                    let district_title = m
                        .districts
                        .get(&posted.district)
                        .and_then(|&d| m.raw.districts.get(d))
                        .map(|d| d.name.clone())
                        .unwrap_or_default();
                    for (o, n) in c.options.iter().zip(counts) {
                        self.results.push(ResultRow {
                            round: tally.round,
                            contest: c.id.clone(),
                            district: posted.district.clone(),
                            option: o.id.clone(),
                            count: *n,
                            contest_title: c.title.clone(),
                            district_title: district_title.clone(),
                            option_title: o.title.clone(),
                        });
                    }
                }
                if ok {
                    self.tally.pass("V7.3", 1, "results");
                } else {
                    self.failure(
                        "V7.3",
                        Some(index),
                        "the verifier's combination differs from the posted counts",
                    );
                }
            }
            Err(e) => self.failure("V7.3", Some(index), format!("combining: {e}")),
        }
    }

    /// A caucus's per-district viability and apportionment as accepted by
    /// the rules (V8.1, V8.4), with the first and final alignment from the
    /// verified results (`spec/checks.md` §10).
    fn caucus_report(&self) -> Option<CaucusReport> {
        let m = self.manifest.as_ref()?;
        let s = caucus::CaucusSetup::from_manifest(m)?;
        let contest = m.raw.contests.get(s.contest)?;
        let via = self.state.caucus_viability();
        let app = self.state.caucus_apportionment();
        let count = |round: u32, district: &str, option: &str| {
            self.results
                .iter()
                .find(|r| {
                    r.round == round
                        && r.contest == s.contest_id
                        && r.district == district
                        && r.option == option
                })
                .map(|r| r.count)
        };
        let districts = s
            .districts
            .iter()
            .enumerate()
            .filter_map(|(k, &d)| {
                let raw = m.raw.districts.get(d)?;
                let v = via.and_then(|v| v.districts.get(k));
                let a = app.and_then(|a| a.districts.get(k));
                let groups = contest
                    .options
                    .iter()
                    .enumerate()
                    .map(|(i, o)| CaucusGroup {
                        option: o.id.clone(),
                        title: o.title.clone(),
                        first: count(0, &raw.id, &o.id),
                        viable: v.and_then(|v| v.viable.get(i).copied()),
                        final_: count(caucus::REALIGNMENT_ROUND, &raw.id, &o.id),
                        delegates: a.and_then(|a| a.delegates.get(i).copied()),
                        sde: a.and_then(|a| a.sde.get(i).cloned()),
                    })
                    .collect();
                Some(CaucusDistrict {
                    district: raw.id.clone(),
                    title: raw.name.clone(),
                    delegates: raw.delegates,
                    sde_weight: raw.sde_weight.clone(),
                    participants: v.map(|v| v.participants),
                    threshold: v.map(|v| v.threshold),
                    groups,
                })
            })
            .collect();
        Some(CaucusReport {
            contest: s.contest_id.clone(),
            viability_entry: via.map(|v| v.index),
            apportionment_entry: app.map(|a| a.index),
            coin_seed: self
                .own
                .coin_seed
                .as_ref()
                .map(hex::encode)
                .unwrap_or_default(),
            districts,
        })
    }

    /// Checks that need the whole record.
    fn finish(
        &mut self,
        checkpoint: Result<Vec<u8>, RecordError>,
        opts: &VerifyOptions,
    ) -> RecordInfo {
        let mut info = RecordInfo {
            entries: self.tree.size(),
            phase: format!("{:?}", self.state.phase()),
            ballots_cast: self.state.ballots_cast(),
            challenged: self.state.challenged(),
            ..RecordInfo::default()
        };
        let m = self.manifest.clone();
        if let Some(m) = &m {
            info.election_id = m.raw.election_id.clone();
            info.title = m.raw.title.clone();
            info.fingerprint = hex::encode(m.fingerprint);
            info.origin = m.raw.board_origin.clone();
        }
        // V1.2: the board key named in the manifest.
        let board = m.as_ref().and_then(|m| {
            let key = ed25519_dalek::VerifyingKey::try_from(m.raw.board_key.as_slice()).ok()?;
            Ed25519Verifier::new(&m.raw.board_origin, key).ok()
        });
        if let (Some(expected), Some(b)) = (&opts.board_key, &board) {
            if expected.verifying_key() != b.verifying_key() || expected.name() != b.name() {
                self.failure(
                    "V1.2",
                    None,
                    format!(
                        "the manifest names board key {}, not the given {}",
                        b.to_vkey(),
                        expected.to_vkey()
                    ),
                );
            }
        }
        let latest = match (&checkpoint, &board) {
            (Err(e), _) => {
                self.failure("V1.1", None, format!("no checkpoint: {e}"));
                None
            }
            (Ok(_), None) => {
                self.failure("V1.2", None, "no manifest naming the board key");
                None
            }
            (Ok(note), Some(b)) => match SignedCheckpoint::open(note, b) {
                Ok(s) => {
                    self.tally.pass("V1.2", 1, "checkpoints");
                    if let Some(m) = &m {
                        self.check_cosignatures(&s, m, &mut info);
                    }
                    Some(s)
                }
                Err(e) => {
                    self.failure("V1.2", None, format!("record checkpoint: {e}"));
                    None
                }
            },
        };
        // V1.1: the recomputed tree.
        if let Some(cp) = &latest {
            let c = cp.checkpoint();
            info.checkpoint_size = c.size();
            info.root = c.root().to_base64();
            if c.size() != self.tree.size() {
                self.failure(
                    "V1.1",
                    None,
                    format!(
                        "the checkpoint covers {} entries, the record has {}",
                        c.size(),
                        self.tree.size()
                    ),
                );
            } else if self.tree.root(c.size()) != Some(c.root()) {
                self.failure(
                    "V1.1",
                    None,
                    "the recomputed Merkle root differs from the checkpoint's",
                );
            } else {
                self.tally.pass("V1.1", 1, "roots");
            }
        }
        // V1.3: earlier checkpoints.
        for (label, note) in &opts.checkpoints {
            let Some(b) = &board else { break };
            let old = match SignedCheckpoint::open(note, b) {
                Ok(o) => o,
                Err(e) => {
                    self.failure(
                        "V1.3",
                        None,
                        format!("{label}: not a checkpoint signed by the board: {e}"),
                    );
                    continue;
                }
            };
            let Some(cp) = &latest else { continue };
            let (o, n) = (old.checkpoint(), cp.checkpoint());
            if o.size() > self.tree.size() {
                self.failure(
                    "V1.3",
                    None,
                    format!("{label}: checkpoint of size {} is larger than the record ({} entries): entries are missing", o.size(), self.tree.size()),
                );
                continue;
            }
            let proof = if o.size() == 0 || o.size() == n.size() {
                Ok(Vec::new())
            } else {
                self.tree.consistency_proof(o.size(), n.size())
            };
            match proof
                .map_err(|e| e.to_string())
                .and_then(|p| verify_checkpoint_consistency(o, n, &p).map_err(|e| e.to_string()))
            {
                Ok(()) => self.tally.pass("V1.3", 1, "checkpoints"),
                Err(e) => self.failure("V1.3", None, format!("{label}: {e}")),
            }
        }
        for _ in &opts.board_consistency {
            self.tally.pass("V1.3", 1, "checkpoints");
        }
        if opts.checkpoints.is_empty() && opts.board_consistency.is_empty() {
            self.tally.performed("V1.3", "checkpoints");
        }
        self.finish_dkg(&mut info);
        self.finish_credentials(&m, opts);
        info
    }

    /// V1.5 (`spec/checks.md` §2): every cosignature line on the record's
    /// checkpoint whose (name, key ID) is a manifest witness's must verify
    /// (C2SP `cosignature/v1`); lines by other keys are ignored. Records which
    /// witnesses cosigned and which did not.
    fn check_cosignatures(
        &mut self,
        cp: &SignedCheckpoint,
        m: &ElectionManifest,
        info: &mut RecordInfo,
    ) {
        let note = cp.note();
        for (name, key) in &m.witnesses {
            let Ok(v) = tallyboard_tlog::CosignatureVerifier::new(name, *key) else {
                continue;
            };
            let lines: Vec<_> = v.lines_of(note).collect();
            if lines.is_empty() {
                info.witnesses_missing.push(name.clone());
                continue;
            }
            if lines.iter().all(|s| {
                v.verify_timestamp(note.text().as_bytes(), s.signature())
                    .is_some()
            }) {
                self.tally.pass("V1.5", lines.len() as u64, "cosignatures");
                info.witnesses_cosigned.push(name.clone());
            } else {
                self.failure(
                    "V1.5",
                    None,
                    format!(
                        "the cosignature of witness {name:?} on the checkpoint does not verify"
                    ),
                );
            }
        }
        self.tally.performed("V1.5", "cosignatures");
    }

    fn finish_dkg(&mut self, info: &mut RecordInfo) {
        let Some(dkg) = self.state.dkg() else { return };
        let d = self.own.dkg;
        if d[0] > 0 {
            self.tally.pass("V3.1", d[0], "key announcements");
        }
        if d[1] + d[2] > 0 {
            self.tally
                .pass("V3.2", d[1] + d[2], "commitments and reveals");
        }
        let Some(key) = self.state.threshold_key() else {
            return;
        };
        match tallyboard_threshold::evaluate(dkg) {
            Ok(out) => {
                info.qualified_trustees = out.qualification.qualified.clone();
                info.disqualified_trustees = out
                    .qualification
                    .disqualified
                    .iter()
                    .map(|d| DisqualifiedTrustee {
                        trustee: d.trustee,
                        reason: d.reason.to_string(),
                    })
                    .collect();
                self.tally
                    .pass("V3.3", dkg.complaints().len() as u64, "complaints");
                self.tally.performed("V3.3", "complaints");
                // A disqualified dealer is an outcome of the ceremony, not
                // a failure of the record (`spec/checks.md` V3.2, V3.3):
                // what V3.4 checks is that the posted key and qualified set
                // are the evaluation's.
                if out.public_key.joint_key() == key.joint_key()
                    && out.public_key.verification_keys() == key.verification_keys()
                {
                    self.tally.pass("V3.4", 1, "election keys");
                } else {
                    self.failure(
                        "V3.4",
                        None,
                        "the election key differs from the ceremony's outcome",
                    );
                }
            }
            Err(e) => self.failure(
                "V3.4",
                None,
                format!("the key ceremony has no outcome: {e}"),
            ),
        }
    }

    fn finish_credentials(&mut self, m: &Option<Arc<ElectionManifest>>, opts: &VerifyOptions) {
        let Some(m) = m else { return };
        let Some(creds) = self.state.compact_credentials() else {
            return;
        };
        let mut used: HashMap<usize, u64> = HashMap::new();
        for c in creds.values() {
            if c.cast(0) + c.cast(1) > 0 {
                *used.entry(c.district()).or_insert(0) += 1;
            }
        }
        let mut fails = Vec::new();
        for (d, dist) in m.raw.districts.iter().enumerate() {
            let u = used.get(&d).copied().unwrap_or(0);
            let i = self.own.issued.get(&dist.id).copied().unwrap_or(0);
            if u > i {
                fails.push(format!(
                    "district {}: {u} credentials used, {i} issued",
                    dist.id
                ));
            }
        }
        let total: u64 = used.values().sum();
        let lines: Option<Vec<(u64, u32, [u8; 32])>> = opts.counted_out.as_ref().map(|_| {
            creds
                .iter()
                .flat_map(|(k, c)| (0..2).filter_map(move |r| c.counted(r).map(|i| (i, r, *k))))
                .collect()
        });
        for f in fails {
            self.failure("V4.3", None, f);
        }
        if total > 0 {
            self.tally.pass("V4.3", total, "credentials used");
        }
        if let (Some(path), Some(mut lines)) = (&opts.counted_out, lines) {
            lines.sort_unstable();
            let mut out = String::with_capacity(lines.len() * 90);
            for (i, r, k) in lines {
                out.push_str(&format!("{} {r} {i}\n", hex::encode(k)));
            }
            if let Err(e) = std::fs::write(path, out) {
                self.failure(
                    "V5.4",
                    None,
                    format!("cannot write {}: {e}", path.display()),
                );
            }
        }
    }
}

/// One variable-base ristretto255 scalar multiplication, in microseconds
/// of this thread's CPU time (median of 5 runs of 200), so that other
/// processes on the machine do not inflate it.
pub fn measure_unit() -> f64 {
    let mut runs: Vec<f64> = (0..5).map(|_| unit_sample(200).0).collect();
    runs.sort_by(f64::total_cmp);
    runs[2]
}

/// `n` variable-base ristretto255 scalar multiplications on this thread:
/// (microseconds of thread CPU time per multiplication, seconds spent).
pub fn unit_sample(n: u32) -> (f64, f64) {
    use tallyboard_crypto::{random_scalar, RistrettoPoint};
    let mut rng = ChaCha20Rng::from_seed([5; 32]);
    let p = RistrettoPoint::random(&mut rng);
    let s = random_scalar(&mut rng);
    let t0 = thread_cpu_seconds();
    let mut acc = p;
    for _ in 0..n {
        acc = std::hint::black_box(s) * std::hint::black_box(acc);
    }
    std::hint::black_box(acc);
    let spent = thread_cpu_seconds() - t0;
    (spent * 1e6 / f64::from(n.max(1)), spent)
}

/// Unit samples taken by the workers while they verify, so that the unit
/// and the work it measures share the machine's conditions (on a shared
/// machine the speed of both drifts during a run).
#[derive(Default)]
struct UnitSamples {
    /// Microseconds per multiplication, one per sample.
    samples: Vec<f64>,
    /// CPU seconds spent sampling (not part of the verification).
    spent: f64,
}

impl UnitSamples {
    /// The median sample, or a measurement now when fewer than 5 samples
    /// were taken (small records).
    fn unit_us(&mut self) -> f64 {
        if self.samples.len() < 5 {
            return measure_unit();
        }
        self.samples.sort_by(f64::total_cmp);
        self.samples[self.samples.len() / 2]
    }
}

/// CPU time of the calling thread, in seconds.
#[allow(unsafe_code)]
pub fn thread_cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the call only writes it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0.0;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// (CPU seconds, peak RSS MiB) of this process.
#[allow(unsafe_code)]
pub fn process_usage() -> (f64, f64) {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a rusage into the valid pointer it is given.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, ru.as_mut_ptr()) };
    if rc != 0 {
        return (0.0, 0.0);
    }
    // SAFETY: rc == 0, so the struct was initialised.
    let ru = unsafe { ru.assume_init() };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (
        t(ru.ru_utime) + t(ru.ru_stime),
        ru.ru_maxrss as f64 / 1024.0,
    )
}

fn run(src: &dyn Source, opts: &VerifyOptions) -> Report {
    run_from(src, opts, None, false).0
}

/// Verifies the entries of `src`, after those of `resume` if given, and
/// returns the report and, if `save`, the saved state of everything the
/// entries built (for a later run to continue from, `spec/checks.md` §13).
pub(crate) fn run_from(
    src: &dyn Source,
    opts: &VerifyOptions,
    resume: Option<Restored>,
    save: bool,
) -> (Report, Option<Result<Vec<u8>, SnapshotError>>) {
    let out = run_engine(src, opts, resume, save, None);
    (out.report, out.saved)
}

/// What a run of the engine gives besides its report, for a merge
/// (`spec/checks.md` §14) to check its parts against.
pub(crate) struct EngineRun {
    pub(crate) report: Report,
    pub(crate) saved: Option<Result<Vec<u8>, SnapshotError>>,
    /// The record's signed checkpoint, when the file reads to it.
    pub(crate) checkpoint: Option<Vec<u8>>,
    /// Every entry's leaf hash, in log order.
    pub(crate) tree: LeafTree,
    /// A merge's entries decided by a part's verdict, and judged by itself.
    pub(crate) trusted: u64,
    pub(crate) judged: u64,
}

/// [`run_from`], with a merge's parts' verdicts when `trust` is given: the
/// workers then only stage entries, and the applying thread takes the
/// expensive checks' outcomes from the parts (§14).
pub(crate) fn run_engine(
    src: &dyn Source,
    opts: &VerifyOptions,
    resume: Option<Restored>,
    save: bool,
    trust: Option<&Trust>,
) -> EngineRun {
    let defer = trust.is_some();
    let started = Instant::now();
    let (cpu0, _) = process_usage();
    let threads = if opts.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        opts.threads
    };
    let r = resume.unwrap_or_else(|| Restored {
        state: RecordState::unbound_compact(),
        tree: LeafTree::default(),
        offsets: Vec::new(),
        tally: Tally::default(),
        own: Own::default(),
        results: Vec::new(),
        ballots: 0,
        stopped: false,
    });
    let shared = Arc::new(RwLock::new(Arc::new(r.state.prechecker())));
    let mut engine = Engine {
        src,
        manifest: r.state.manifest().cloned(),
        state: r.state,
        shared: shared.clone(),
        tree: r.tree,
        offsets: r.offsets,
        tally: r.tally,
        own: r.own,
        results: r.results,
        max_failures: if opts.max_failures == 0 {
            1000
        } else {
            opts.max_failures
        },
        stopped: r.stopped,
        ballots: r.ballots,
        trust,
        basis: Basis::default(),
        trusted: 0,
        judged: 0,
    };
    let ballots_before = engine.ballots;
    let units = Mutex::new(UnitSamples::default());
    let gate = Gate::default();
    // A resumed run whose manifest and election key are applied already
    // prechecks against its final snapshot from the start.
    gate.applied(0, engine.state.precheck_generation() >= 2);
    let checkpoint = std::thread::scope(|scope| {
        let (job_tx, job_rx) = sync_channel::<(u64, Vec<RawEntry>)>(threads * 2);
        let (out_tx, out_rx) = sync_channel::<ChunkOut>(threads * 2);
        let job_rx = Arc::new(Mutex::new(job_rx));
        for _ in 0..threads {
            let job_rx = job_rx.clone();
            let out_tx = out_tx.clone();
            let shared = shared.clone();
            let units = &units;
            scope.spawn(move || loop {
                let job = job_rx.lock().ok().and_then(|rx| rx.recv().ok());
                let Some((seq, chunk)) = job else { break };
                if seq % UNIT_EVERY == 0 {
                    let (us, spent) = unit_sample(UNIT_SAMPLE);
                    if let Ok(mut u) = units.lock() {
                        u.samples.push(us);
                        u.spent += spent;
                    }
                }
                let pre = shared.read().map(|p| p.clone());
                let Ok(pre) = pre else { break };
                if out_tx.send(work_chunk(&pre, seq, chunk, defer)).is_err() {
                    break;
                }
            });
        }
        drop(out_tx);
        let gate = &gate;
        let reader = scope.spawn(
            move || -> Result<(u64, Result<Vec<u8>, RecordError>), RecordError> {
                let stream = src.stream()?;
                let mut r = RecordReader::new(stream)?;
                let announced = r.announced();
                let mut seq = 0;
                let mut chunk = Vec::with_capacity(CHUNK);
                let mut trailer = None;
                loop {
                    match r.next_entry() {
                        Ok(Some(mut e)) => {
                            src.locate(&mut e);
                            chunk.push(e);
                            if chunk.len() == CHUNK {
                                gate.wait_for(seq);
                                if job_tx.send((seq, std::mem::take(&mut chunk))).is_err() {
                                    break;
                                }
                                seq += 1;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            trailer = Some(e);
                            break;
                        }
                    }
                }
                if !chunk.is_empty() {
                    gate.wait_for(seq);
                    let _ = job_tx.send((seq, chunk));
                }
                drop(job_tx);
                let cp = match trailer {
                    Some(e) => Err(e),
                    None => r.checkpoint(),
                };
                Ok((announced, cp))
            },
        );
        let bar = progress_bar(opts.progress);
        let mut next = 0u64;
        let mut waiting: std::collections::BTreeMap<u64, ChunkOut> = Default::default();
        drain(&out_rx, &mut waiting, &mut next, &mut engine, &bar, gate);
        bar.finish_and_clear();
        match reader.join() {
            Ok(Ok((_, cp))) => cp,
            Ok(Err(e)) => Err(e),
            Err(_) => Err(RecordError::BadCheckpoint("the reader thread failed")),
        }
    });
    // Truncation or framing errors are V1.4, at the entry they concern.
    let checkpoint = match checkpoint {
        Err(e) => {
            let entry = match &e {
                RecordError::Truncated { index, .. } | RecordError::BadLength { index, .. } => {
                    Some(*index)
                }
                _ => None,
            };
            engine.failure("V1.4", entry, e.to_string());
            Err(e)
        }
        ok => ok,
    };
    let saved = save.then(|| {
        let mut w = SnapWriter::new();
        engine.write_snapshot(&mut w).map(|()| w.into_bytes())
    });
    let checkpoint_bytes = checkpoint.as_ref().ok().cloned();
    let mut info = engine.finish(checkpoint, opts);
    let caucus = engine.caucus_report();
    info.entries = engine.tree.size();
    let (cpu1, rss) = process_usage();
    let seconds = started.elapsed().as_secs_f64();
    let mut units = units.into_inner().unwrap_or_default();
    let cpu_seconds = (cpu1 - cpu0 - units.spent).max(0.0);
    let unit_us = units.unit_us();
    let run_ballots = engine.ballots - ballots_before;
    let ballots = run_ballots.max(1) as f64;
    let performance = Performance {
        threads,
        seconds,
        cpu_seconds,
        ballots_per_second: run_ballots as f64 / seconds.max(1e-9),
        unit_us,
        units_per_ballot: cpu_seconds * 1e6 / ballots / unit_us.max(1e-9),
        peak_rss_mib: rss,
    };
    let checks = engine.tally.results();
    let ok = checks
        .iter()
        .all(|c| c.status != crate::report::Status::Fail);
    let report = Report {
        schema: SCHEMA,
        ok,
        record: info,
        checks,
        results: engine.results,
        performance,
        caucus,
    };
    EngineRun {
        report,
        saved,
        checkpoint: checkpoint_bytes,
        tree: engine.tree,
        trusted: engine.trusted,
        judged: engine.judged,
    }
}

fn progress_bar(show: bool) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} {pos} entries verified ({per_sec}) {elapsed_precise}",
    ) {
        bar.set_style(style);
    }
    bar
}

fn drain(
    out_rx: &Receiver<ChunkOut>,
    waiting: &mut std::collections::BTreeMap<u64, ChunkOut>,
    next: &mut u64,
    engine: &mut Engine<'_>,
    bar: &indicatif::ProgressBar,
    gate: &Gate,
) {
    while let Ok(out) = out_rx.recv() {
        waiting.insert(out.seq, out);
        while let Some(out) = waiting.remove(next) {
            let n = out.items.len() as u64;
            for item in out.items {
                engine.process(item);
            }
            bar.inc(n);
            *next += 1;
            gate.applied(*next, engine.state.precheck_generation() >= 2);
        }
    }
}
