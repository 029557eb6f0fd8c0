//! Split verification (`spec/checks.md` §14): `tallyboard verify --record R
//! --part i/k` and `tallyboard verify --record R --merge PARTS…`.
//!
//! A *part* does the expensive, stateless work of one index range of the
//! record — leaf hashes, entry decoding, entry signatures, ballots' RSA
//! credential signatures and contest proofs, in the same batches as a whole
//! run (§11) — and writes a *part file*: which record and range it covers,
//! the complete subtree hashes of its range, the manifest and election key
//! entries its prechecks rested on, and every expensive check that failed
//! (entry index, rule, message). Parts need nothing from each other: any
//! batch system can run them at once, on any machines.
//!
//! The *merge* checks that the part files are intact, of this verifier,
//! of this record, and cover it exactly once, then runs the engine over the
//! record as a whole run does, except that its workers only decode and
//! precheck (the cheap path) and the applying thread takes the outcome of
//! the expensive checks from the part covering the entry. The sequential,
//! stateful checks (phases, credentials, revotes, tallies against the
//! verifier's own sums, the caucus, the key ceremony, decryption) are
//! therefore the very code of a whole run, and the report is a whole run's.
//! After the run the merge checks that every part's subtree hashes are
//! those of the entries it applied: a part made from other bytes is an
//! error, never a verdict.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rand_chacha::ChaCha20Rng;
use rand_core::{OsRng, SeedableRng};
use sha2::{Digest, Sha256};
use tallyboard_protocol::entry::bad_entry_signature;
use tallyboard_protocol::snapshot::{SnapReader, SnapWriter, SnapshotError};
use tallyboard_protocol::{Prechecker, RecordState, RuleError, RuleErrorKind};
use tallyboard_tlog::{leaf_hash, merkle_tree_hash, Hash};

use crate::checks::{EntryKind, ALL_RULES};
use crate::record::{RawEntry, RecordError, RecordReader};
use crate::verify::{
    file_source, judge_chunk, measure_unit, process_usage, run_engine, stage_chunk, Fault,
};
use crate::{Report, VerifyOptions};

/// First line of a part file.
pub const PART_MAGIC: &[u8] = b"tallyboard-verify-part/v1\n";

/// Most parts a record is split into.
pub const MAX_PARTS: u32 = 1 << 16;

/// Largest part file read (a part holds about 150 bytes per failed entry;
/// 64 GiB is beyond any record).
const MAX_PART_BYTES: u64 = 64 << 30;

/// Entries per work unit of a part, as in a whole run (§11).
const CHUNK: usize = 256;

/// The verifier that makes and merges parts: a merge accepts only parts
/// made by the same verifier, name and version (§14).
pub fn verifier_id() -> String {
    format!("tallyboard-verifier {}", env!("CARGO_PKG_VERSION"))
}

/// Part `index` of `count` (`--part i/k`, `1 ≤ i ≤ k ≤` [`MAX_PARTS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PartSpec {
    /// `i`, from 1.
    pub index: u32,
    /// `k`.
    pub count: u32,
}

impl PartSpec {
    /// A checked `i/k`.
    pub fn new(index: u32, count: u32) -> Result<Self, String> {
        if count == 0 {
            return Err("a record is split into at least 1 part (k ≥ 1)".into());
        }
        if count > MAX_PARTS {
            return Err(format!("at most {MAX_PARTS} parts"));
        }
        if index == 0 {
            return Err(format!(
                "parts are numbered from 1: 1/{count} … {count}/{count}"
            ));
        }
        if index > count {
            return Err(format!(
                "there is no part {index} of {count}: parts are 1/{count} … {count}/{count}"
            ));
        }
        Ok(Self { index, count })
    }
}

impl FromStr for PartSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a part: give i/k, e.g. 2/5");
        let (i, k) = s.split_once('/').ok_or_else(bad)?;
        let num = |t: &str| {
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            t.parse::<u32>().map_err(|_| bad())
        };
        Self::new(num(i)?, num(k)?)
    }
}

impl fmt::Display for PartSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The index range `[⌊(i−1)·N/k⌋, ⌊i·N/k⌋)` of part `i/k` of a record of
/// `size` entries (§14).
pub fn part_range(size: u64, part: PartSpec) -> (u64, u64) {
    let at = |i: u32| {
        let v = u128::from(size) * u128::from(i) / u128::from(part.count.max(1));
        u64::try_from(v).unwrap_or(size)
    };
    (at(part.index.saturating_sub(1)), at(part.index))
}

/// The sizes of the maximal complete subtrees that cover `[start, start +
/// n)`, left to right: each is the largest power of two that `start` (as
/// far as covered) is a multiple of and that fits (§14).
fn subtree_sizes(start: u64, n: u64) -> Vec<u64> {
    let mut out = Vec::new();
    let (mut at, end) = (start, start.saturating_add(n));
    while at < end {
        let left = end - at;
        let fits = 1u64 << (63 - left.leading_zeros());
        let aligned = if at == 0 {
            u64::MAX
        } else {
            1u64 << at.trailing_zeros()
        };
        let size = fits.min(aligned);
        out.push(size);
        at += size;
    }
    out
}

/// RFC 9162 hashes of the complete subtrees of [`subtree_sizes`] over the
/// leaves `leaves` of entries `start…`.
fn subtree_hashes(start: u64, leaves: &[Hash]) -> Vec<Hash> {
    let mut at = 0usize;
    subtree_sizes(start, leaves.len() as u64)
        .into_iter()
        .filter_map(|size| {
            let size = usize::try_from(size).ok()?;
            let h = leaves.get(at..at + size).map(merkle_tree_hash);
            at += size;
            h
        })
        .collect()
}

/// The entries a record's prechecks rest on (`RecordState::prechecker`):
/// the accepted manifest and election key, each by (index, leaf hash).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Basis {
    pub(crate) manifest: Option<(u64, Hash)>,
    pub(crate) key: Option<(u64, Hash)>,
}

impl Basis {
    /// After entry `index` (leaf `leaf`) was applied to `state`: notes it if
    /// it brought the manifest or the election key.
    pub(crate) fn note(&mut self, state: &RecordState, index: u64, leaf: Hash) {
        if self.manifest.is_none() && state.manifest().is_some() {
            self.manifest = Some((index, leaf));
        }
        if self.key.is_none() && state.election_key().is_some() {
            self.key = Some((index, leaf));
        }
    }
}

/// One part's verdicts, as a merge uses them.
#[derive(Debug)]
struct TrustedPart {
    basis: Basis,
    /// Verdicts cover `from..to`.
    from: u64,
    to: u64,
    faults: HashMap<u64, Fault>,
}

/// The parts' verdicts on the expensive checks, for the merge's engine.
#[derive(Debug, Default)]
pub(crate) struct Trust {
    /// Sorted by `from`, not overlapping.
    parts: Vec<TrustedPart>,
}

impl Trust {
    /// The verdict of the part covering entry `index`, if one does and its
    /// prechecks rested on `basis`: `Some(None)` when every expensive check
    /// passed, `Some(Some(fault))` when one failed, `None` when the merge
    /// must judge the entry itself.
    pub(crate) fn verdict(&self, index: u64, basis: &Basis) -> Option<Option<&Fault>> {
        let at = self
            .parts
            .partition_point(|p| p.from <= index)
            .checked_sub(1)?;
        let p = &self.parts[at];
        (index < p.to && p.basis == *basis).then(|| p.faults.get(&index))
    }
}

/// The partial result of one part (§14), as written to a part file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    verifier: String,
    size: u64,
    checkpoint: Option<[u8; 32]>,
    fingerprint: Option<[u8; 32]>,
    spec: PartSpec,
    start: u64,
    end: u64,
    read: u64,
    basis: Basis,
    verdicts_from: u64,
    tree: Vec<Hash>,
    faults: Vec<(u64, Fault)>,
}

fn kind_code(k: RuleErrorKind) -> u8 {
    match k {
        RuleErrorKind::InvalidArgument => 0,
        RuleErrorKind::FailedPrecondition => 1,
        RuleErrorKind::AlreadyExists => 2,
        RuleErrorKind::PermissionDenied => 3,
        RuleErrorKind::ResourceExhausted => 4,
        RuleErrorKind::NotFound => 5,
    }
}

fn kind_of(code: u8) -> Option<RuleErrorKind> {
    Some(match code {
        0 => RuleErrorKind::InvalidArgument,
        1 => RuleErrorKind::FailedPrecondition,
        2 => RuleErrorKind::AlreadyExists,
        3 => RuleErrorKind::PermissionDenied,
        4 => RuleErrorKind::ResourceExhausted,
        5 => RuleErrorKind::NotFound,
        _ => return None,
    })
}

fn write_opt32(w: &mut SnapWriter, v: Option<&[u8; 32]>) {
    w.bool(v.is_some());
    if let Some(v) = v {
        w.fixed(v);
    }
}

fn read_opt32(
    r: &mut SnapReader<'_>,
    what: &'static str,
) -> Result<Option<[u8; 32]>, SnapshotError> {
    Ok(if r.bool(what)? {
        Some(r.array(what)?)
    } else {
        None
    })
}

fn write_entry_ref(w: &mut SnapWriter, v: Option<(u64, Hash)>) {
    w.bool(v.is_some());
    if let Some((i, h)) = v {
        w.u64(i);
        w.fixed(&h.0);
    }
}

fn read_entry_ref(
    r: &mut SnapReader<'_>,
    what: &'static str,
) -> Result<Option<(u64, Hash)>, SnapshotError> {
    Ok(if r.bool(what)? {
        Some((r.u64(what)?, Hash(r.array(what)?)))
    } else {
        None
    })
}

impl Part {
    /// Which part this is.
    pub fn spec(&self) -> PartSpec {
        self.spec
    }
    /// Its index range `[start, end)`.
    pub fn range(&self) -> (u64, u64) {
        (self.start, self.end)
    }
    /// Entries of the range the record file holds (fewer than the range
    /// when the file ends early).
    pub fn entries_read(&self) -> u64 {
        self.read
    }
    /// The first entry whose expensive checks the part judged (entries
    /// before the election key are judged by the merge).
    pub fn verdicts_from(&self) -> u64 {
        self.verdicts_from
    }
    /// Entries whose expensive checks failed.
    pub fn failed_entries(&self) -> Vec<u64> {
        self.faults.iter().map(|(i, _)| *i).collect()
    }

    /// The part file's bytes (§14).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = SnapWriter::new();
        w.fixed(PART_MAGIC);
        w.str(&self.verifier);
        w.u64(self.size);
        write_opt32(&mut w, self.checkpoint.as_ref());
        write_opt32(&mut w, self.fingerprint.as_ref());
        w.u32(self.spec.index);
        w.u32(self.spec.count);
        w.u64(self.start);
        w.u64(self.end);
        w.u64(self.read);
        write_entry_ref(&mut w, self.basis.manifest);
        write_entry_ref(&mut w, self.basis.key);
        w.u64(self.verdicts_from);
        w.len(self.tree.len());
        for h in &self.tree {
            w.fixed(&h.0);
        }
        w.len(self.faults.len());
        for (i, f) in &self.faults {
            let (what, e) = match f {
                Fault::Signature => (1, bad_entry_signature()),
                Fault::Proofs(e) => (2, e.clone()),
            };
            w.u64(*i);
            w.u8(what);
            w.u8(kind_code(e.kind));
            w.str(e.rule);
            w.str(&e.message);
        }
        let mut out = w.into_bytes();
        let digest = Sha256::digest(&out);
        out.extend_from_slice(&digest);
        out
    }

    /// Reads a part file's bytes, checking its checksum and that every field
    /// is consistent with the others (not yet with the other parts or the
    /// record: that is the merge's).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SnapshotError> {
        let body_len = bytes
            .len()
            .checked_sub(32)
            .ok_or(SnapshotError::Truncated("the file"))?;
        let (body, digest) = bytes.split_at(body_len);
        let mut r = SnapReader::new(body);
        if r.take(PART_MAGIC.len(), "the first line")? != PART_MAGIC {
            return Err(SnapshotError::invalid("first line", "not a part file"));
        }
        if Sha256::digest(body).as_slice() != digest {
            return Err(SnapshotError::invalid(
                "checksum",
                "the file was changed or damaged since it was written",
            ));
        }
        let verifier = r.str("verifier")?;
        let size = r.u64("record size")?;
        let checkpoint = read_opt32(&mut r, "checkpoint")?;
        let fingerprint = read_opt32(&mut r, "fingerprint")?;
        let (index, count) = (r.u32("part")?, r.u32("part count")?);
        let spec = PartSpec::new(index, count).map_err(|e| SnapshotError::invalid("part", e))?;
        let (start, end, read) = (r.u64("range")?, r.u64("range")?, r.u64("entries read")?);
        if (start, end) != part_range(size, spec) {
            return Err(SnapshotError::invalid(
                "range",
                format!("[{start}, {end}) is not the range of part {spec} of {size} entries"),
            ));
        }
        if read > end - start {
            return Err(SnapshotError::invalid(
                "entries read",
                format!("{read} entries read of a range of {}", end - start),
            ));
        }
        let stop = start + read;
        let basis = Basis {
            manifest: read_entry_ref(&mut r, "manifest entry")?,
            key: read_entry_ref(&mut r, "election key entry")?,
        };
        let verdicts_from = r.u64("verdicts")?;
        let expected_from = match (basis.manifest, basis.key) {
            (Some((m, _)), Some((k, _))) if m < k && k < end => (k + 1).max(start).min(stop),
            (_, None) => stop,
            _ => {
                return Err(SnapshotError::invalid(
                    "election key entry",
                    "not after the manifest, or past the range",
                ))
            }
        };
        if verdicts_from != expected_from {
            return Err(SnapshotError::invalid(
                "verdicts",
                format!("from entry {verdicts_from}, the basis says {expected_from}"),
            ));
        }
        let n = r.len(32, "subtrees")?;
        if n != subtree_sizes(start, read).len() {
            return Err(SnapshotError::invalid(
                "subtrees",
                format!("{n} subtree hashes for {read} entries from {start}"),
            ));
        }
        let tree = (0..n)
            .map(|_| r.array("subtree").map(Hash))
            .collect::<Result<Vec<_>, _>>()?;
        let m = r.len(8 + 1 + 1 + 8 + 8, "failures")?;
        let mut faults = Vec::with_capacity(m);
        let mut last = None;
        for _ in 0..m {
            let i = r.u64("failure entry")?;
            if i < verdicts_from || i >= stop || last.is_some_and(|l| i <= l) {
                return Err(SnapshotError::invalid(
                    "failure entry",
                    format!("entry {i} outside the verdicts or out of order"),
                ));
            }
            last = Some(i);
            let what = r.u8("failure")?;
            let kind = kind_of(r.u8("failure kind")?)
                .ok_or_else(|| SnapshotError::invalid("failure kind", "unknown"))?;
            let rule = r.str("failure rule")?;
            let rule = ALL_RULES
                .iter()
                .find(|x| **x == rule)
                .copied()
                .ok_or_else(|| SnapshotError::invalid("failure rule", rule.clone()))?;
            let e = RuleError::new(kind, rule, r.str("failure message")?);
            let f = match what {
                1 if e == bad_entry_signature() => Fault::Signature,
                2 => Fault::Proofs(e),
                _ => return Err(SnapshotError::invalid("failure", format!("type {what}"))),
            };
            faults.push((i, f));
        }
        r.finish()?;
        Ok(Self {
            verifier,
            size,
            checkpoint,
            fingerprint,
            spec,
            start,
            end,
            read,
            basis,
            verdicts_from,
            tree,
            faults,
        })
    }
}

/// Why a part could not be made or the parts could not be merged (exit
/// code 2, §10). A record that fails a check is not an error.
#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    /// The record cannot be opened.
    #[error("cannot open the record {path}: {error}")]
    Open {
        /// The record.
        path: PathBuf,
        /// Why (in the message).
        error: io::Error,
    },
    /// Reading or writing a file failed.
    #[error("{what} {path}: {error}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why (in the message).
        error: io::Error,
    },
    /// `--merge` without part files.
    #[error("no part files to merge")]
    NoParts,
    /// Not a part file at all.
    #[error("{path} is not a part file of a split verification (spec/checks.md §14)")]
    NotAPart {
        /// The file.
        path: PathBuf,
    },
    /// A part file that does not read back: damaged or altered.
    #[error("the part file {path} is damaged or altered ({reason}); make the part again")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why (in the message).
        reason: SnapshotError,
    },
    /// A part made by another verifier or version.
    #[error("the part file {path} was made by {found}, this is {expected}: make every part with the verifier that merges them")]
    Version {
        /// The file.
        path: PathBuf,
        /// Its verifier.
        found: String,
        /// This verifier.
        expected: String,
    },
    /// Parts of different splits.
    #[error("the part file {path} is part {part}, the first part file is of {count} parts")]
    MixedSplits {
        /// The file.
        path: PathBuf,
        /// Its part.
        part: PartSpec,
        /// The first file's part count.
        count: u32,
    },
    /// The same part twice.
    #[error("{first} and {second} are both part {part}")]
    Duplicate {
        /// Which part.
        part: PartSpec,
        /// The first file.
        first: PathBuf,
        /// The second file.
        second: PathBuf,
    },
    /// Parts missing: the ranges leave a gap.
    #[error("part {missing} of {count} is missing: entries {start}..{end} of the record are not covered")]
    Missing {
        /// The first missing part.
        missing: u32,
        /// The part count.
        count: u32,
        /// Its range.
        start: u64,
        /// Its range's end.
        end: u64,
    },
    /// A part of another record (or of other bytes of it).
    #[error("the part file {path} is not of this record: {detail}")]
    OtherRecord {
        /// The file.
        path: PathBuf,
        /// What differs.
        detail: String,
    },
}

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> SplitError {
    let path = path.to_path_buf();
    move |error| SplitError::Io { what, path, error }
}

/// A part and what making it cost.
#[derive(Debug)]
pub struct PartRun {
    /// The part.
    pub part: Part,
    /// Ballots (cast and challenged) whose expensive checks it judged.
    pub ballots: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// CPU seconds of the process.
    pub cpu_seconds: f64,
    /// One scalar multiplication, µs (`spec/checks.md` §10).
    pub unit_us: f64,
}

impl PartRun {
    /// CPU time per judged ballot, in scalar multiplications.
    pub fn units_per_ballot(&self) -> f64 {
        self.cpu_seconds * 1e6 / (self.ballots.max(1) as f64) / self.unit_us.max(1e-9)
    }
}

/// What a worker of a part found in one chunk.
struct Judged {
    seq: u64,
    leaves: Vec<Hash>,
    faults: Vec<(u64, Fault)>,
    ballots: u64,
}

/// What [`judge_range`] found.
struct Range {
    leaves: Vec<Hash>,
    faults: Vec<(u64, Fault)>,
    ballots: u64,
    /// The file ended (framing) inside the range.
    broken: bool,
}

/// Judges the expensive checks of entries `reader.next_index()..end` on
/// `threads` workers, in chunks as a whole run does (§11).
fn judge_range<R: io::Read>(
    reader: &mut RecordReader<R>,
    end: u64,
    pre: &Prechecker,
    threads: usize,
    bar: &indicatif::ProgressBar,
) -> Result<Range, io::Error> {
    let (job_tx, job_rx) = sync_channel::<(u64, Vec<RawEntry>)>(threads * 2);
    let (out_tx, out_rx) = sync_channel::<Judged>(threads * 2);
    let job_rx = Arc::new(Mutex::new(job_rx));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let job_rx = job_rx.clone();
            let out_tx = out_tx.clone();
            scope.spawn(move || loop {
                let job = job_rx.lock().ok().and_then(|rx| rx.recv().ok());
                let Some((seq, chunk)) = job else { break };
                let rng = ChaCha20Rng::from_rng(OsRng)
                    .unwrap_or_else(|_| ChaCha20Rng::from_seed(crate::verify::rand_seed()));
                let staged = stage_chunk(pre, chunk);
                let faults = judge_chunk(&staged, rng);
                let out = Judged {
                    seq,
                    leaves: staged.iter().map(|s| s.leaf).collect(),
                    faults: staged
                        .iter()
                        .zip(faults)
                        .filter_map(|(s, f)| f.map(|f| (s.raw.index, f)))
                        .collect(),
                    ballots: staged
                        .iter()
                        .filter(|s| matches!(s.kind, EntryKind::Ballot | EntryKind::Challenged))
                        .count() as u64,
                };
                if out_tx.send(out).is_err() {
                    break;
                }
            });
        }
        drop(out_tx);
        let collector = scope.spawn(move || {
            let mut got: Vec<Judged> = Vec::new();
            while let Ok(j) = out_rx.recv() {
                bar.inc(j.leaves.len() as u64);
                got.push(j);
            }
            got.sort_by_key(|j| j.seq);
            got
        });
        let mut seq = 0u64;
        let mut chunk = Vec::with_capacity(CHUNK);
        let mut broken = false;
        let mut failed = None;
        while reader.next_index() < end {
            match reader.next_entry() {
                Ok(Some(e)) => {
                    chunk.push(e);
                    if chunk.len() == CHUNK {
                        if job_tx.send((seq, std::mem::take(&mut chunk))).is_err() {
                            break;
                        }
                        seq += 1;
                    }
                }
                Ok(None) => break,
                Err(RecordError::Io(e)) => {
                    failed = Some(e);
                    break;
                }
                Err(_) => {
                    broken = true;
                    break;
                }
            }
        }
        if !chunk.is_empty() {
            let _ = job_tx.send((seq, chunk));
        }
        drop(job_tx);
        let got = collector.join().unwrap_or_default();
        if let Some(e) = failed {
            return Err(e);
        }
        let mut leaves = Vec::new();
        let mut faults = Vec::new();
        let mut ballots = 0;
        for j in got {
            leaves.extend(j.leaves);
            faults.extend(j.faults);
            ballots += j.ballots;
        }
        Ok(Range {
            leaves,
            faults,
            ballots,
            broken,
        })
    })
}

fn progress_bar(show: bool, part: PartSpec, len: u64) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(len),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(&format!(
        "{{spinner}} part {part}: {{pos}}/{{len}} entries verified ({{per_sec}}) {{elapsed_precise}}"
    )) {
        bar.set_style(style);
    }
    bar
}

/// Makes part `spec` of the record file `record` (§14): reads the record
/// once, applies the entries up to the election key (or the range's end)
/// with the rules, skips to the range, and judges the range's expensive
/// checks on `opts.threads` workers. Only `threads` and `progress` of
/// `opts` matter.
pub fn verify_part(
    record: &Path,
    spec: PartSpec,
    opts: &VerifyOptions,
) -> Result<PartRun, SplitError> {
    let started = Instant::now();
    let (cpu0, _) = process_usage();
    let threads = if opts.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        opts.threads
    };
    let read_err = |e: RecordError| match e {
        RecordError::Io(error) => SplitError::Io {
            what: "reading",
            path: record.to_path_buf(),
            error,
        },
        other => SplitError::Io {
            what: "reading",
            path: record.to_path_buf(),
            error: io::Error::other(other.to_string()),
        },
    };
    let file = File::open(record).map_err(|error| SplitError::Open {
        path: record.to_path_buf(),
        error,
    })?;
    // A file without a readable header is a record of 0 entries: every
    // part is empty and the merge reports what a whole run does (V1.4).
    let reader = match RecordReader::new(BufReader::with_capacity(1 << 20, file)) {
        Ok(r) => Some(r),
        Err(RecordError::Io(e)) => return Err(read_err(RecordError::Io(e))),
        Err(_) => None,
    };
    let size = reader.as_ref().map_or(0, RecordReader::announced);
    let (start, end) = part_range(size, spec);
    let mut state = RecordState::unbound_compact();
    let mut basis = Basis::default();
    let mut leaves = Vec::new();
    let mut faults = Vec::new();
    let mut ballots = 0;
    let mut checkpoint = None;
    if let Some(mut r) = reader {
        let mut broken = false;
        // The prefix: what the prechecks rest on, applied by the rules.
        while !broken && r.next_index() < end && state.precheck_generation() < 2 {
            match r.next_entry() {
                Ok(Some(e)) => {
                    let leaf = leaf_hash(&e.bytes);
                    if e.index >= start {
                        leaves.push(leaf);
                    }
                    match state.check_and_apply(&e.bytes) {
                        Ok(()) => basis.note(&state, e.index, leaf),
                        Err(_) => state.skip_refused(),
                    }
                }
                Ok(None) => break,
                Err(RecordError::Io(e)) => return Err(read_err(RecordError::Io(e))),
                Err(_) => broken = true,
            }
        }
        let skip = |r: &mut RecordReader<_>, to: u64| -> Result<bool, SplitError> {
            while r.next_index() < to {
                match r.skip_entry() {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(RecordError::Io(e)) => return Err(read_err(RecordError::Io(e))),
                    Err(_) => return Ok(true),
                }
            }
            Ok(false)
        };
        if !broken {
            broken = skip(&mut r, start)?;
        }
        if !broken && r.next_index() < end && state.precheck_generation() >= 2 {
            let bar = progress_bar(opts.progress, spec, end - r.next_index());
            let range = judge_range(&mut r, end, &state.prechecker(), threads, &bar)
                .map_err(|e| read_err(RecordError::Io(e)))?;
            bar.finish_and_clear();
            leaves.extend(range.leaves);
            faults = range.faults;
            ballots = range.ballots;
            broken = range.broken;
        }
        if !broken {
            broken = skip(&mut r, size)?;
        }
        if !broken {
            checkpoint = r
                .checkpoint()
                .ok()
                .map(|note| <[u8; 32]>::from(Sha256::digest(note)));
        }
    }
    let read = leaves.len() as u64;
    let stop = start + read;
    let verdicts_from = match basis.key {
        Some((k, _)) if k < end => (k + 1).max(start).min(stop),
        _ => stop,
    };
    let part = Part {
        verifier: verifier_id(),
        size,
        checkpoint,
        fingerprint: state.manifest().map(|m| m.fingerprint),
        spec,
        start,
        end,
        read,
        basis,
        verdicts_from,
        tree: subtree_hashes(start, &leaves),
        faults,
    };
    let (cpu1, _) = process_usage();
    Ok(PartRun {
        part,
        ballots,
        seconds: started.elapsed().as_secs_f64(),
        cpu_seconds: (cpu1 - cpu0).max(0.0),
        unit_us: measure_unit(),
    })
}

/// Writes a part file atomically: a temporary file in the same directory,
/// synced, renamed over `path`.
pub fn write_part(path: &Path, part: &Part) -> Result<(), SplitError> {
    use std::io::Write as _;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".tallyboard-part")
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(io_err("creating a temporary file in", &dir))?;
    tmp.write_all(&part.to_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(io_err("writing", path))?;
    tmp.persist(path)
        .map_err(|e| io_err("writing", path)(e.error))?;
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Reads a part file.
pub fn read_part(path: &Path) -> Result<Part, SplitError> {
    let meta = std::fs::metadata(path).map_err(io_err("reading", path))?;
    if meta.len() > MAX_PART_BYTES {
        return Err(SplitError::Corrupt {
            path: path.to_path_buf(),
            reason: SnapshotError::invalid("size", format!("{} bytes", meta.len())),
        });
    }
    let bytes = std::fs::read(path).map_err(io_err("reading", path))?;
    if !bytes.starts_with(PART_MAGIC) {
        return Err(SplitError::NotAPart {
            path: path.to_path_buf(),
        });
    }
    Part::from_bytes(&bytes).map_err(|reason| SplitError::Corrupt {
        path: path.to_path_buf(),
        reason,
    })
}

/// A merged report and how much of the expensive work the parts did.
#[derive(Debug)]
pub struct MergeRun {
    /// The report: a whole run's, performance aside (§14).
    pub report: Report,
    /// Entries whose expensive checks a part's verdict decided.
    pub trusted: u64,
    /// Entries whose expensive checks the merge judged itself (those before
    /// the election key, and any whose part rested on another basis).
    pub judged: u64,
}

/// Checks the parts against each other: same verifier, same split, same
/// record, every part once. Returns them in part order.
fn check_parts(parts: &[(PathBuf, Part)]) -> Result<Vec<&(PathBuf, Part)>, SplitError> {
    let first = &parts.first().ok_or(SplitError::NoParts)?.1;
    let me = verifier_id();
    let count = first.spec.count;
    let mut by_index: Vec<Option<&(PathBuf, Part)>> = vec![None; count as usize];
    for pp in parts {
        let (path, p) = pp;
        if p.verifier != me {
            return Err(SplitError::Version {
                path: path.clone(),
                found: p.verifier.clone(),
                expected: me,
            });
        }
        if p.spec.count != count {
            return Err(SplitError::MixedSplits {
                path: path.clone(),
                part: p.spec,
                count,
            });
        }
        let other = |detail: String| SplitError::OtherRecord {
            path: path.clone(),
            detail,
        };
        if p.size != first.size {
            return Err(other(format!(
                "it was made for a record of {} entries, {} for one of {}",
                p.size,
                parts[0].0.display(),
                first.size
            )));
        }
        if p.checkpoint != first.checkpoint || p.fingerprint != first.fingerprint {
            return Err(other(format!(
                "its record's checkpoint or election fingerprint differs from that of {}",
                parts[0].0.display()
            )));
        }
        let slot = &mut by_index[(p.spec.index - 1) as usize];
        if let Some((prev, _)) = slot {
            return Err(SplitError::Duplicate {
                part: p.spec,
                first: prev.clone(),
                second: path.clone(),
            });
        }
        *slot = Some(pp);
    }
    let mut ordered = Vec::with_capacity(by_index.len());
    let mut at = 0;
    for (i, slot) in by_index.into_iter().enumerate() {
        let spec = PartSpec {
            index: i as u32 + 1,
            count,
        };
        let Some(pp) = slot else {
            let (start, end) = part_range(first.size, spec);
            return Err(SplitError::Missing {
                missing: spec.index,
                count,
                start,
                end,
            });
        };
        // The ranges follow each other from 0 to the record's size: no gap,
        // no overlap (each range is also checked to be its part's by rule).
        if pp.1.start != at {
            return Err(SplitError::OtherRecord {
                path: pp.0.clone(),
                detail: format!("its range starts at {}, not {at}", pp.1.start),
            });
        }
        at = pp.1.end;
        ordered.push(pp);
    }
    if at != first.size {
        return Err(SplitError::OtherRecord {
            path: parts[0].0.clone(),
            detail: format!(
                "the ranges end at {at}, the record has {} entries",
                first.size
            ),
        });
    }
    Ok(ordered)
}

/// Merges the part files `parts` (path, part) of a split verification of
/// the record file `record` (§14): the report equals a whole run's with the
/// same options, performance aside.
pub fn merge(
    record: &Path,
    parts: &[(PathBuf, Part)],
    opts: &VerifyOptions,
) -> Result<MergeRun, SplitError> {
    let ordered = check_parts(parts)?;
    let size = {
        let file = File::open(record).map_err(|error| SplitError::Open {
            path: record.to_path_buf(),
            error,
        })?;
        match RecordReader::new(BufReader::new(file)) {
            Ok(r) => r.announced(),
            Err(RecordError::Io(e)) => return Err(io_err("reading", record)(e)),
            Err(_) => 0,
        }
    };
    let first = &ordered[0];
    if size != first.1.size {
        return Err(SplitError::OtherRecord {
            path: first.0.clone(),
            detail: format!(
                "the parts were made for a record of {} entries, {} has {size}",
                first.1.size,
                record.display()
            ),
        });
    }
    let trust = Trust {
        parts: ordered
            .iter()
            .map(|(_, p)| TrustedPart {
                basis: p.basis,
                from: p.verdicts_from,
                to: p.start + p.read,
                faults: p.faults.iter().cloned().collect(),
            })
            .collect(),
    };
    // V5.4's file is written only once the parts are known to be this
    // record's.
    let mut run_opts = opts.clone();
    let counted_tmp = opts.counted_out.as_ref().map(|p| {
        let mut t = p.as_os_str().to_owned();
        t.push(".merging");
        PathBuf::from(t)
    });
    run_opts.counted_out.clone_from(&counted_tmp);
    let src = file_source(record).map_err(|error| SplitError::Open {
        path: record.to_path_buf(),
        error,
    })?;
    let run = run_engine(&src, &run_opts, None, false, Some(&trust));
    let checked = check_against_run(&ordered, &run);
    match (&counted_tmp, &opts.counted_out) {
        (Some(tmp), Some(out)) if checked.is_ok() && tmp.exists() => {
            std::fs::rename(tmp, out).map_err(io_err("writing", out))?;
        }
        (Some(tmp), _) => {
            let _ = std::fs::remove_file(tmp);
        }
        _ => {}
    }
    checked?;
    Ok(MergeRun {
        report: run.report,
        trusted: run.trusted,
        judged: run.judged,
    })
}

/// After the merge's run: every part is of the entries the run applied.
fn check_against_run(
    ordered: &[&(PathBuf, Part)],
    run: &crate::verify::EngineRun,
) -> Result<(), SplitError> {
    let checkpoint = run
        .checkpoint
        .as_ref()
        .map(|note| <[u8; 32]>::from(Sha256::digest(note)));
    let fingerprint = &run.report.record.fingerprint;
    let total = run.tree.size();
    for (path, p) in ordered.iter().map(|pp| (&pp.0, &pp.1)) {
        let other = |detail: String| SplitError::OtherRecord {
            path: path.clone(),
            detail,
        };
        if p.checkpoint != checkpoint {
            return Err(other(
                "its record's signed checkpoint is not this record's".into(),
            ));
        }
        let fp = p.fingerprint.map(hex::encode).unwrap_or_default();
        if &fp != fingerprint {
            return Err(other(format!(
                "it is of the election with fingerprint {fp:?}, the record of {fingerprint:?}"
            )));
        }
        let read = total.clamp(p.start, p.end) - p.start;
        if read != p.read {
            return Err(other(format!(
                "it read {} entries of its range, the record holds {read}",
                p.read
            )));
        }
        let leaves = usize::try_from(p.start)
            .ok()
            .zip(usize::try_from(p.start + read).ok())
            .and_then(|(a, b)| run.tree.leaves().get(a..b))
            .unwrap_or(&[]);
        if subtree_hashes(p.start, leaves) != p.tree {
            return Err(other(format!(
                "its entries {}..{} are not the record's (their subtree hashes differ)",
                p.start,
                p.start + read
            )));
        }
    }
    Ok(())
}
