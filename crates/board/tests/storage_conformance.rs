//! One conformance suite for every storage backend (`spec/board.md` §2):
//! each property is written once, as a function of a [`Fixture`] that opens
//! handles to one fresh store, and run against SQLite (a temporary
//! directory) and PostgreSQL (a fresh schema of random name, dropped at the
//! end). The PostgreSQL tests need a server: `TALLYBOARD_TEST_POSTGRES`
//! (default `host=127.0.0.1 port=5432 user=postgres dbname=test`); they fail,
//! not skip, when it is unreachable.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Barrier};

use tallyboard_board::storage::{Batch, BatchEntry, Cosignatures, PostgresStorage};
use tallyboard_board::{keys, SqliteStorage, Storage, StorageError};
use tallyboard_tlog::{
    leaf_hash, stored_hash_count, stored_hashes_for_record, tree_hash, Hash, MemoryTree,
};

const ORIGIN: &str = "o";
const VKEY: &str = "k";

/// Opens handles to one fresh store.
trait Fixture {
    /// A new handle to the store, bound to board `origin` / `vkey`.
    fn open_as(&self, origin: &str, vkey: &str) -> Result<Arc<dyn Storage>, StorageError>;

    /// A new handle for the default board identity.
    fn open(&self) -> Arc<dyn Storage> {
        self.open_as(ORIGIN, VKEY).expect("open storage")
    }
}

struct SqliteFixture {
    dir: tempfile::TempDir,
}

impl SqliteFixture {
    fn new() -> Self {
        SqliteFixture {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }
}

impl Fixture for SqliteFixture {
    fn open_as(&self, origin: &str, vkey: &str) -> Result<Arc<dyn Storage>, StorageError> {
        let path = self.dir.path().join(keys::DB_FILE);
        Ok(Arc::new(SqliteStorage::open(&path, origin, vkey)?))
    }
}

/// The test server's connection string.
fn postgres_url() -> String {
    std::env::var("TALLYBOARD_TEST_POSTGRES")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=test".into())
}

/// `url` with the `schema` parameter set.
fn with_schema(url: &str, schema: &str) -> String {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}schema={schema}")
    } else {
        format!("{url} schema={schema}")
    }
}

/// A fresh schema of random name on the test server, dropped on drop.
struct PostgresFixture {
    url: String,
    schema: String,
}

impl PostgresFixture {
    fn new() -> Self {
        let url = postgres_url();
        // Fail (not skip) if the server is unreachable: CI has one.
        let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {} is unreachable ({e}); set TALLYBOARD_TEST_POSTGRES",
                tallyboard_board::storage::redact_url(&url)
            )
        });
        admin.simple_query("SELECT 1").expect("PostgreSQL answers");
        let schema = format!("tb_test_{:016x}", rand::random::<u64>());
        PostgresFixture { url, schema }
    }

    fn url(&self) -> String {
        with_schema(&self.url, &self.schema)
    }
}

impl Drop for PostgresFixture {
    fn drop(&mut self) {
        // On a thread of its own: the blocking client must not run on an
        // async runtime's thread (the end-to-end test drops it there).
        let (url, schema) = (self.url.clone(), self.schema.clone());
        let _ = std::thread::spawn(move || {
            if let Ok(mut admin) = postgres::Client::connect(&url, postgres::NoTls) {
                let _ = admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
            }
        })
        .join();
    }
}

impl Fixture for PostgresFixture {
    fn open_as(&self, origin: &str, vkey: &str) -> Result<Arc<dyn Storage>, StorageError> {
        let s = PostgresStorage::open(&self.url(), origin, vkey)?;
        assert_eq!(s.schema(), self.schema);
        Ok(Arc::new(s))
    }
}

/// Entries with their stored hashes, as the sequencer computes them.
struct Log {
    data: Vec<Vec<u8>>,
    hashes: Vec<Vec<Hash>>,
    tree: MemoryTree,
    roots: Vec<Hash>,
}

impl Log {
    fn new(data: Vec<Vec<u8>>) -> Self {
        let mut tree = MemoryTree::new();
        let mut hashes = Vec::new();
        let mut roots = vec![tree.root().unwrap()];
        for (i, d) in data.iter().enumerate() {
            hashes.push(stored_hashes_for_record(i as u64, leaf_hash(d), &tree).unwrap());
            tree.append(d).unwrap();
            roots.push(tree.root().unwrap());
        }
        Log {
            data,
            hashes,
            tree,
            roots,
        }
    }

    /// `n` distinct entries of varying length.
    fn distinct(n: usize) -> Self {
        Self::new(
            (0..n)
                .map(|i| format!("entry {i} {}", "x".repeat(i % 7)).into_bytes())
                .collect(),
        )
    }

    fn entries(&self, range: std::ops::Range<usize>) -> Vec<BatchEntry<'_>> {
        range
            .map(|i| BatchEntry {
                index: i as u64,
                bytes: &self.data[i],
                stored_hashes: &self.hashes[i],
            })
            .collect()
    }

    /// Appends `range` as one batch with checkpoint `cp{end}`.
    fn append(&self, s: &dyn Storage, range: std::ops::Range<usize>) -> Result<(), StorageError> {
        let end = range.end as u64;
        let entries = self.entries(range);
        s.append(&Batch {
            entries: &entries,
            checkpoint_size: end,
            checkpoint: checkpoint(end).as_bytes(),
        })
    }
}

fn checkpoint(size: u64) -> String {
    format!("cp{size}")
}

fn initial(s: &dyn Storage) {
    s.append(&Batch {
        entries: &[],
        checkpoint_size: 0,
        checkpoint: b"cp0",
    })
    .expect("initial checkpoint");
}

fn assert_mismatch(r: Result<(), StorageError>, batch_start: u64, stored_size: u64) {
    match r {
        Err(StorageError::SizeMismatch {
            batch_start: b,
            stored_size: s,
        }) => assert_eq!((b, s), (batch_start, stored_size)),
        other => panic!("expected SizeMismatch({batch_start}, {stored_size}), got {other:?}"),
    }
}

// ---- the properties ----

fn append_and_read_back(f: &dyn Fixture) {
    let s = f.open();
    let log = Log::distinct(5);
    initial(s.as_ref());
    log.append(s.as_ref(), 0..3).unwrap();
    log.append(s.as_ref(), 3..5).unwrap();
    assert_eq!(s.commits(), 3);
    assert_eq!(s.size().unwrap(), 5);
    assert_eq!(s.read_entries(0, 5, usize::MAX).unwrap(), log.data);
    assert_eq!(s.hash_count().unwrap(), stored_hash_count(5));
    assert_eq!(
        s.read_hash_range(0, stored_hash_count(5)).unwrap(),
        log.tree.stored()
    );
    assert_eq!(s.latest_checkpoint().unwrap(), Some((5, b"cp5".to_vec())));
}

fn empty_initial_batch(f: &dyn Fixture) {
    let s = f.open();
    assert_eq!(s.size().unwrap(), 0);
    assert_eq!(s.hash_count().unwrap(), 0);
    assert_eq!(s.latest_checkpoint().unwrap(), None);
    assert_eq!(s.checkpoint_at(0).unwrap(), None);
    assert!(s.read_entries(0, 0, usize::MAX).unwrap().is_empty());
    assert!(s.read_entries(0, 1, usize::MAX).is_err());
    initial(s.as_ref());
    assert_eq!(s.commits(), 1);
    assert_eq!(s.size().unwrap(), 0);
    assert_eq!(s.hash_count().unwrap(), 0);
    assert_eq!(s.latest_checkpoint().unwrap(), Some((0, b"cp0".to_vec())));
    assert_eq!(s.checkpoint_at(0).unwrap(), Some(b"cp0".to_vec()));
    // The empty tree's checkpoint exists once.
    assert!(s
        .append(&Batch {
            entries: &[],
            checkpoint_size: 0,
            checkpoint: b"again",
        })
        .is_err());
    assert_eq!(s.checkpoint_at(0).unwrap(), Some(b"cp0".to_vec()));
    assert_eq!(s.commits(), 1);
}

fn size_precondition_gap(f: &dyn Fixture) {
    let s = f.open();
    let log = Log::distinct(4);
    initial(s.as_ref());
    assert_mismatch(log.append(s.as_ref(), 1..3), 1, 0);
    // An empty batch must carry the stored size.
    assert_mismatch(
        s.append(&Batch {
            entries: &[],
            checkpoint_size: 2,
            checkpoint: b"cp2",
        }),
        2,
        0,
    );
    // A checkpoint size that does not match the entries.
    let entries = log.entries(0..2);
    assert_mismatch(
        s.append(&Batch {
            entries: &entries,
            checkpoint_size: 3,
            checkpoint: b"cp3",
        }),
        3,
        2,
    );
    assert_eq!(s.size().unwrap(), 0);
    assert_eq!(s.hash_count().unwrap(), 0);
    assert_eq!(s.latest_checkpoint().unwrap(), Some((0, b"cp0".to_vec())));
    log.append(s.as_ref(), 0..2).unwrap();
    assert_mismatch(log.append(s.as_ref(), 3..4), 3, 2);
    assert_eq!(s.size().unwrap(), 2);
}

fn size_precondition_duplicate(f: &dyn Fixture) {
    let s = f.open();
    let log = Log::distinct(4);
    initial(s.as_ref());
    log.append(s.as_ref(), 0..3).unwrap();
    assert_mismatch(log.append(s.as_ref(), 0..3), 0, 3);
    assert_mismatch(log.append(s.as_ref(), 2..4), 2, 3);
    // Through a second handle (another connection) too.
    let other = f.open();
    assert_mismatch(log.append(other.as_ref(), 1..4), 1, 3);
    assert_eq!(s.size().unwrap(), 3);
    assert_eq!(s.read_entries(0, 3, usize::MAX).unwrap(), log.data[..3]);
    assert_eq!(s.latest_checkpoint().unwrap(), Some((3, b"cp3".to_vec())));
}

/// Two handles (two connections) race for every index from two threads:
/// exactly one wins each round, the other is told the size moved.
fn concurrent_writers(f: &dyn Fixture) {
    const ROUNDS: u64 = 20;
    let a = f.open();
    let b = f.open();
    initial(a.as_ref());
    let barrier = Arc::new(Barrier::new(2));
    let run = |s: Arc<dyn Storage>, who: u8| {
        let barrier = Arc::clone(&barrier);
        std::thread::spawn(move || {
            let mut won = Vec::new();
            for k in 0..ROUNDS {
                let data = format!("writer {who} entry {k}").into_bytes();
                barrier.wait();
                let hashes = stored_hashes_for_record(k, leaf_hash(&data), s.as_ref()).unwrap();
                let entry = [BatchEntry {
                    index: k,
                    bytes: &data,
                    stored_hashes: &hashes,
                }];
                let cp = format!("cp{} by {who}", k + 1);
                match s.append(&Batch {
                    entries: &entry,
                    checkpoint_size: k + 1,
                    checkpoint: cp.as_bytes(),
                }) {
                    Ok(()) => won.push(k),
                    Err(StorageError::SizeMismatch {
                        batch_start,
                        stored_size,
                    }) => {
                        assert_eq!((batch_start, stored_size), (k, k + 1));
                    }
                    Err(e) => panic!("writer {who} round {k}: {e}"),
                }
                barrier.wait();
            }
            won
        })
    };
    let wa = run(Arc::clone(&a), 0);
    let wb = run(Arc::clone(&b), 1);
    let (wa, wb) = (wa.join().unwrap(), wb.join().unwrap());
    assert_eq!(wa.len() + wb.len(), ROUNDS as usize, "{wa:?} {wb:?}");
    let mut all: Vec<u64> = wa.iter().chain(&wb).copied().collect();
    all.sort_unstable();
    assert!(all.iter().copied().eq(0..ROUNDS), "one winner per index");
    assert_eq!(a.size().unwrap(), ROUNDS);
    assert_eq!(b.size().unwrap(), ROUNDS);
    let entries = a.read_entries(0, ROUNDS, usize::MAX).unwrap();
    for (k, e) in entries.iter().enumerate() {
        let who = if wa.contains(&(k as u64)) { 0 } else { 1 };
        assert_eq!(e, format!("writer {who} entry {k}").as_bytes());
        let cp = a.checkpoint_at(k as u64 + 1).unwrap().unwrap();
        assert_eq!(cp, format!("cp{} by {who}", k + 1).as_bytes());
    }
    // The stored hashes are those of the winners' tree.
    let log = Log::new(entries);
    assert_eq!(
        a.read_hash_range(0, stored_hash_count(ROUNDS)).unwrap(),
        log.tree.stored()
    );
}

/// A batch that fails part-way (here on a stored-hash key its own first
/// entry already used) leaves nothing behind.
fn partial_batch_failure_leaves_nothing(f: &dyn Fixture) {
    let s = f.open();
    let log = Log::distinct(4);
    initial(s.as_ref());
    log.append(s.as_ref(), 0..1).unwrap();
    let commits = s.commits();
    // Entry 1 with one stored hash too many: its third hash lands on the
    // stored-hash index of entry 2's leaf.
    let mut bad = log.hashes[1].clone();
    bad.push(Hash([7; 32]));
    let e1 = BatchEntry {
        index: 1,
        bytes: &log.data[1],
        stored_hashes: &bad,
    };
    let e2 = BatchEntry {
        index: 2,
        bytes: &log.data[2],
        stored_hashes: &log.hashes[2],
    };
    let r = s.append(&Batch {
        entries: &[e1, e2],
        checkpoint_size: 3,
        checkpoint: b"cp3",
    });
    assert!(r.is_err(), "{r:?}");
    // A batch with a gap inside it.
    let e3 = BatchEntry {
        index: 3,
        bytes: &log.data[3],
        stored_hashes: &log.hashes[3],
    };
    let r = s.append(&Batch {
        entries: &[log.entries(1..2)[0], e3],
        checkpoint_size: 3,
        checkpoint: b"cp3",
    });
    assert_mismatch(r, 3, 2);
    assert_eq!(s.commits(), commits);
    assert_eq!(s.size().unwrap(), 1);
    assert_eq!(s.hash_count().unwrap(), stored_hash_count(1));
    assert_eq!(s.checkpoint_at(3).unwrap(), None);
    assert_eq!(s.latest_checkpoint().unwrap(), Some((1, b"cp1".to_vec())));
    assert_eq!(s.find_leaf(&leaf_hash(&log.data[1])).unwrap(), None);
    assert!(s.read_entries(1, 2, usize::MAX).is_err());
    // And the log goes on from where it was.
    log.append(s.as_ref(), 1..4).unwrap();
    assert_eq!(s.read_entries(0, 4, usize::MAX).unwrap(), log.data);
    assert_eq!(tree_hash(4, s.as_ref()).unwrap(), log.roots[4]);
}

fn reads_of_ranges(f: &dyn Fixture) {
    let s = f.open();
    let log = Log::distinct(600);
    initial(s.as_ref());
    log.append(s.as_ref(), 0..5).unwrap();
    log.append(s.as_ref(), 5..600).unwrap();
    assert_eq!(s.read_entries(1, 4, usize::MAX).unwrap(), log.data[1..4]);
    assert_eq!(
        s.read_entries(3, 3, usize::MAX).unwrap(),
        Vec::<Vec<u8>>::new()
    );
    assert_eq!(
        s.read_entries(4, 2, usize::MAX).unwrap(),
        Vec::<Vec<u8>>::new()
    );
    // A range past the end stops at the end; one starting past it fails.
    assert_eq!(
        s.read_entries(598, 700, usize::MAX).unwrap(),
        log.data[598..]
    );
    assert!(s.read_entries(600, 601, usize::MAX).is_err());
    // Longer than any one page a backend fetches.
    assert_eq!(s.read_entries(0, 600, usize::MAX).unwrap(), log.data);
    assert_eq!(
        s.read_entries(7, 555, usize::MAX).unwrap(),
        log.data[7..555]
    );
    let n = stored_hash_count(600);
    assert_eq!(s.read_hash_range(2, 9).unwrap(), log.tree.stored()[2..9]);
    assert_eq!(s.read_hash_range(0, n).unwrap(), log.tree.stored());
    assert!(s.read_hash_range(9, 9).unwrap().is_empty());
    assert!(s.read_hash_range(n - 1, n + 1).is_err());
}

fn max_bytes_page_limit(f: &dyn Fixture) {
    let s = f.open();
    let log = Log::new((0..400u32).map(|i| vec![i as u8; 10]).collect());
    initial(s.as_ref());
    log.append(s.as_ref(), 0..400).unwrap();
    let len = |start, end, max| s.read_entries(start, end, max).unwrap().len();
    assert_eq!(len(0, 400, 0), 1, "at least one entry");
    assert_eq!(len(0, 400, 1), 1);
    assert_eq!(len(0, 400, 10), 1);
    assert_eq!(len(0, 400, 11), 2);
    assert_eq!(len(0, 400, 20), 2);
    assert_eq!(len(0, 400, 25), 3);
    assert_eq!(len(5, 400, 2_995), 300, "across pages");
    assert_eq!(len(5, 400, 3_000), 300);
    assert_eq!(len(5, 400, 3_001), 301);
    assert_eq!(len(0, 3, 1 << 20), 3);
    assert_eq!(s.read_entries(5, 400, 25).unwrap(), log.data[5..8]);
}

fn hash_reads_and_tree_hash(f: &dyn Fixture) {
    let s = f.open();
    let log = Log::distinct(37);
    initial(s.as_ref());
    for (a, b) in [(0, 1), (1, 2), (2, 9), (9, 16), (16, 17), (17, 37)] {
        log.append(s.as_ref(), a..b).unwrap();
    }
    let stored = log.tree.stored();
    // Unordered, with repeats, in one call.
    let ask: Vec<u64> = vec![5, 0, 70, 5, 33, 1, 69, 2];
    let want: Vec<Hash> = ask.iter().map(|&i| stored[i as usize]).collect();
    assert_eq!(s.read_hashes(&ask).unwrap(), want);
    assert!(s.read_hashes(&[]).unwrap().is_empty());
    assert!(s.read_hashes(&[3, stored.len() as u64]).is_err());
    let all: Vec<u64> = (0..stored.len() as u64).collect();
    assert_eq!(s.read_hashes(&all).unwrap(), stored);
    for n in 0..=37u64 {
        assert_eq!(
            tree_hash(n, s.as_ref()).unwrap(),
            log.roots[n as usize],
            "size {n}"
        );
        assert_eq!(
            tree_hash(n, s.as_ref()).unwrap(),
            log.tree.tree_hash(n).unwrap()
        );
    }
}

fn latest_checkpoint(f: &dyn Fixture) {
    let s = f.open();
    let log = Log::distinct(10);
    assert_eq!(s.latest_checkpoint().unwrap(), None);
    initial(s.as_ref());
    for (a, b) in [(0, 1), (1, 4), (4, 10)] {
        log.append(s.as_ref(), a..b).unwrap();
        assert_eq!(
            s.latest_checkpoint().unwrap(),
            Some((b as u64, checkpoint(b as u64).into_bytes()))
        );
    }
}

fn find_leaf_first_index_wins(f: &dyn Fixture) {
    let s = f.open();
    let dup = b"the same bytes".to_vec();
    let other = b"once".to_vec();
    // At 1 and 3 (one batch), and again at 6 (a later batch).
    let data = vec![
        b"a".to_vec(),
        dup.clone(),
        b"b".to_vec(),
        dup.clone(),
        other.clone(),
        b"c".to_vec(),
        dup.clone(),
    ];
    let log = Log::new(data);
    initial(s.as_ref());
    log.append(s.as_ref(), 0..5).unwrap();
    log.append(s.as_ref(), 5..7).unwrap();
    assert_eq!(s.find_leaf(&leaf_hash(&dup)).unwrap(), Some(1));
    assert_eq!(s.find_leaf(&leaf_hash(&other)).unwrap(), Some(4));
    assert_eq!(s.find_leaf(&leaf_hash(b"c")).unwrap(), Some(5));
    assert_eq!(s.find_leaf(&leaf_hash(b"never")).unwrap(), None);
    assert_eq!(s.find_leaf(&Hash([0; 32])).unwrap(), None);
}

fn checkpoint_at(f: &dyn Fixture) {
    let s = f.open();
    let log = Log::distinct(8);
    initial(s.as_ref());
    log.append(s.as_ref(), 0..3).unwrap();
    log.append(s.as_ref(), 3..8).unwrap();
    assert_eq!(s.checkpoint_at(0).unwrap(), Some(b"cp0".to_vec()));
    assert_eq!(s.checkpoint_at(3).unwrap(), Some(b"cp3".to_vec()));
    assert_eq!(s.checkpoint_at(8).unwrap(), Some(b"cp8".to_vec()));
    for no in [1, 2, 4, 7, 9, u64::MAX >> 1] {
        assert_eq!(s.checkpoint_at(no).unwrap(), None, "size {no}");
    }
}

fn cosignatures_replace_and_read(f: &dyn Fixture) {
    let s = f.open();
    let log = Log::distinct(5);
    initial(s.as_ref());
    log.append(s.as_ref(), 0..3).unwrap();
    log.append(s.as_ref(), 3..5).unwrap();
    assert_eq!(s.cosignatures(None).unwrap(), None);
    assert_eq!(s.cosignatures(Some(3)).unwrap(), None);
    let line = |w: &str, v: &str| (w.to_owned(), format!("— {w} {v}"));
    s.put_cosignatures(3, &[line("b-press", "1"), line("A-campaign", "1")])
        .unwrap();
    // Byte order of the names ('A' < 'b').
    let at3 = Cosignatures {
        size: 3,
        lines: vec![line("A-campaign", "1"), line("b-press", "1")],
    };
    assert_eq!(s.cosignatures(Some(3)).unwrap(), Some(at3.clone()));
    assert_eq!(s.cosignatures(None).unwrap(), Some(at3.clone()));
    s.put_cosignatures(5, &[line("b-press", "2")]).unwrap();
    s.put_cosignatures(5, &[line("b-press", "3"), line("c-uni", "1")])
        .unwrap();
    let at5 = Cosignatures {
        size: 5,
        lines: vec![line("b-press", "3"), line("c-uni", "1")],
    };
    assert_eq!(s.cosignatures(None).unwrap(), Some(at5.clone()));
    assert_eq!(s.cosignatures(Some(5)).unwrap(), Some(at5));
    assert_eq!(s.cosignatures(Some(3)).unwrap(), Some(at3));
    assert_eq!(s.cosignatures(Some(4)).unwrap(), None);
    s.put_cosignatures(5, &[]).unwrap();
    // Survives a reopen.
    drop(s);
    let s = f.open();
    assert_eq!(s.cosignatures(None).unwrap().unwrap().lines.len(), 2);
}

fn identity_binding(f: &dyn Fixture) {
    let s = f.open();
    initial(s.as_ref());
    drop(s);
    assert!(matches!(
        f.open_as("other", VKEY),
        Err(StorageError::WrongBoard(_))
    ));
    assert!(matches!(
        f.open_as(ORIGIN, "k2"),
        Err(StorageError::WrongBoard(_))
    ));
    let s = f.open();
    assert_eq!(s.latest_checkpoint().unwrap(), Some((0, b"cp0".to_vec())));
}

fn reopen_persistence(f: &dyn Fixture) {
    let log = Log::distinct(12);
    {
        let s = f.open();
        initial(s.as_ref());
        log.append(s.as_ref(), 0..7).unwrap();
        log.append(s.as_ref(), 7..12).unwrap();
        s.put_cosignatures(12, &[("w".into(), "— w x".into())])
            .unwrap();
    }
    let s = f.open();
    assert_eq!(s.commits(), 0, "commits counts this handle's batches");
    assert_eq!(s.size().unwrap(), 12);
    assert_eq!(s.read_entries(0, 12, usize::MAX).unwrap(), log.data);
    assert_eq!(s.hash_count().unwrap(), stored_hash_count(12));
    assert_eq!(
        s.read_hash_range(0, stored_hash_count(12)).unwrap(),
        log.tree.stored()
    );
    assert_eq!(tree_hash(12, s.as_ref()).unwrap(), log.roots[12]);
    assert_eq!(s.latest_checkpoint().unwrap(), Some((12, b"cp12".to_vec())));
    assert_eq!(s.checkpoint_at(7).unwrap(), Some(b"cp7".to_vec()));
    assert_eq!(s.find_leaf(&leaf_hash(&log.data[9])).unwrap(), Some(9));
    assert_eq!(s.cosignatures(None).unwrap().unwrap().size, 12);
    // And it appends on top.
    let more = Log::distinct(13);
    more.append(s.as_ref(), 12..13).unwrap();
    assert_eq!(s.size().unwrap(), 13);
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $( #[test] fn $name() { super::$name(&super::SqliteFixture::new()); } )*
        }
        mod on_postgres {
            $( #[test] fn $name() { super::$name(&super::PostgresFixture::new()); } )*
        }
    };
}

conformance!(
    append_and_read_back,
    empty_initial_batch,
    size_precondition_gap,
    size_precondition_duplicate,
    concurrent_writers,
    partial_batch_failure_leaves_nothing,
    reads_of_ranges,
    max_bytes_page_limit,
    hash_reads_and_tree_hash,
    latest_checkpoint,
    find_leaf_first_index_wins,
    checkpoint_at,
    cosignatures_replace_and_read,
    identity_binding,
    reopen_persistence,
);

// ---- PostgreSQL only ----

#[test]
fn postgres_errors_are_clear_and_keep_the_password() {
    let err = PostgresStorage::open(
        "postgres://board:hunter2@127.0.0.1:1/test?connect_timeout=5",
        ORIGIN,
        VKEY,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("connect to PostgreSQL"), "{err}");
    assert!(err.contains("127.0.0.1:1"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    let err = PostgresStorage::open("postgres://board:hunter2@h/d?nonsense=1", ORIGIN, VKEY)
        .unwrap_err()
        .to_string();
    assert!(err.contains("connection string"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    let f = PostgresFixture::new();
    let err = PostgresStorage::open(&with_schema(&f.url, "Bad-Name"), ORIGIN, VKEY)
        .unwrap_err()
        .to_string();
    assert!(err.contains("schema name"), "{err}");
}

/// The schema is created in the database named by the URL, and the URL's
/// `options=-c search_path=...` names it when no `schema` is given.
#[test]
fn postgres_schema_from_search_path() {
    let f = PostgresFixture::new();
    let url = if f.url.starts_with("postgres") {
        let sep = if f.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-csearch_path%3D{}", f.url, f.schema)
    } else {
        format!("{} options='-c search_path={}'", f.url, f.schema)
    };
    let s = PostgresStorage::open(&url, ORIGIN, VKEY).unwrap();
    assert_eq!(s.schema(), f.schema);
    initial(&s);
    drop(s);
    let s = f.open();
    assert_eq!(s.latest_checkpoint().unwrap(), Some((0, b"cp0".to_vec())));
}

async fn all_entries(board: &tallyboard_board::Board) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let (page, size) = board.list_entries(out.len() as u64, 0).await.unwrap();
        out.extend(page);
        if out.len() as u64 >= size {
            return out;
        }
    }
}

/// A board over PostgreSQL: concurrent appends, then dropped (on the async
/// runtime), reopened (recovery re-validates every entry) and serving the
/// same checkpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn board_over_postgres_appends_recovers_and_serves_the_same_checkpoint() {
    use tallyboard_board::{Board, Limits};
    use tallyboard_tlog::{Ed25519Signer, NoteSigner};

    let f = Arc::new(
        tokio::task::spawn_blocking(PostgresFixture::new)
            .await
            .unwrap(),
    );
    let key = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    let signer = Ed25519Signer::new(common::ORIGIN, key.clone()).unwrap();
    let vkey = signer.verifier().to_vkey();
    let open = |signer: Ed25519Signer| {
        let f = Arc::clone(&f);
        let vkey = vkey.clone();
        tokio::task::spawn_blocking(move || {
            let storage = f.open_as(signer.name(), &vkey)?;
            Board::open(storage, signer, Limits::default())
                .map_err(|e| StorageError::backend("open board", e))
        })
    };
    let board = open(signer).await.unwrap().unwrap();
    let (admin, manifest) = common::Admin::new(board.verifier(), 9);
    board.append(manifest).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let b = board.clone();
        let e = admin.notice();
        tasks.push(tokio::spawn(async move {
            (b.append(e.clone()).await.unwrap(), e)
        }));
    }
    let mut receipts = Vec::new();
    for t in tasks {
        receipts.push(t.await.unwrap());
    }
    let head = board.head();
    assert_eq!(head.size, 201);
    let commits = board.stats().commits;
    assert!((2..=202).contains(&commits), "{commits}");
    let served = board.served_checkpoint();
    let entries = all_entries(&board).await;
    assert_eq!(entries.len(), 201);
    board.close().await;
    drop(board);

    let signer = Ed25519Signer::new(common::ORIGIN, key).unwrap();
    let board = open(signer).await.unwrap().unwrap();
    assert_eq!(board.recovery().entries, 201);
    assert_eq!(board.head().size, 201);
    assert_eq!(board.head().root, head.root);
    assert_eq!(board.served_checkpoint(), served);
    for (r, e) in &receipts {
        let found = board.entry_by_leaf_hash(&leaf_hash(e).0).await.unwrap();
        assert_eq!(found.index, r.index);
        assert_eq!(&found.entry, e);
    }
    assert_eq!(all_entries(&board).await, entries);
    // The log still grows after recovery.
    board.append(admin.notice()).await.unwrap();
    assert_eq!(board.head().size, 202);
    board.close().await;
    drop(board);
}

#[test]
fn storage_choice_parses_and_never_shows_the_password() {
    use tallyboard_board::{BoardConfig, StorageChoice};
    assert_eq!("sqlite".parse::<StorageChoice>(), Ok(StorageChoice::Sqlite));
    let url = "postgres://board:hunter2@db:5432/tally?schema=ia_2028";
    let choice: StorageChoice = url.parse().unwrap();
    assert_eq!(choice, StorageChoice::Postgres(url.into()));
    assert_eq!(
        choice.to_string(),
        "postgres://board:***@db:5432/tally?schema=ia_2028"
    );
    let mut config = BoardConfig::new("/tmp/x", "127.0.0.1:1".parse().unwrap(), "o");
    assert_eq!(config.storage, StorageChoice::Sqlite);
    config.storage = choice;
    assert!(!format!("{config:?}").contains("hunter2"));
    let err = "mysql://u:hunter2@h/d"
        .parse::<StorageChoice>()
        .unwrap_err();
    assert!(err.contains("postgres://"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}
