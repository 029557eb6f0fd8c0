//! Recovery: a reopened board has the same tree; damaged storage is refused
//! with a clear error; a data directory is used by one process at a time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::Admin;
use tallyboard_board::keys::{self, KeyFileError};
use tallyboard_board::storage::{Batch, BatchEntry};
use tallyboard_board::{Board, Limits, OpenError, SqliteStorage, Storage};
use tallyboard_tlog::{leaf_hash, Checkpoint, MemoryTree, NoteSigner};

fn open(dir: &std::path::Path) -> Result<Board, OpenError> {
    Board::open_dir(dir, common::ORIGIN, Limits::default())
}

async fn filled_board(dir: &std::path::Path, n: usize) -> (Board, Admin) {
    let board = open(dir).unwrap();
    let (admin, manifest) = Admin::new(board.verifier(), 7);
    board.append(manifest).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..n {
        let b = board.clone();
        let e = admin.notice();
        tasks.push(tokio::spawn(async move { b.append(e).await.unwrap() }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    (board, admin)
}

fn db(dir: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join(keys::DB_FILE)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_recovers_the_same_tree_and_state() {
    let dir = tempfile::tempdir().unwrap();
    let (board, admin) = filled_board(dir.path(), 200).await;
    let head = board.head();
    assert_eq!(head.size, 201);

    // Second process on the same directory: refused.
    assert!(matches!(
        open(dir.path()),
        Err(OpenError::DataDir(KeyFileError::Locked { .. }))
    ));
    board.close().await;
    drop(board);

    let board = open(dir.path()).unwrap();
    assert_eq!(board.recovery().entries, 201);
    let again = board.head();
    assert_eq!(again.size, head.size);
    assert_eq!(again.root, head.root);
    assert_eq!(again.checkpoint.as_bytes(), head.checkpoint.as_bytes());
    // The rebuilt state still knows every entry: a replay is refused, a new
    // entry goes to index 201.
    let (entries, _) = board.list_entries(5, 1).await.unwrap();
    let err = board.append(entries[0].clone()).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::AlreadyExists);
    let r = board.append(admin.notice()).await.unwrap();
    assert_eq!(r.index, 201);
    board.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_storage_is_refused() {
    // A changed entry byte: its stored hashes no longer match.
    let dir = tempfile::tempdir().unwrap();
    let (board, _) = filled_board(dir.path(), 20).await;
    board.close().await;
    drop(board);
    db(dir.path())
        .execute(
            "UPDATE entries SET data = CAST(data || x'00' AS BLOB) WHERE idx = 7",
            [],
        )
        .unwrap();
    let err = open(dir.path()).unwrap_err();
    assert!(
        matches!(&err, OpenError::Corrupt(m) if m.contains("entry 7")),
        "{err}"
    );

    // A missing entry.
    let dir = tempfile::tempdir().unwrap();
    let (board, _) = filled_board(dir.path(), 20).await;
    board.close().await;
    drop(board);
    db(dir.path())
        .execute("DELETE FROM entries WHERE idx = 3", [])
        .unwrap();
    assert!(matches!(
        open(dir.path()),
        Err(OpenError::Corrupt(_)) | Err(OpenError::Storage(_))
    ));

    // A latest checkpoint with another root (validly signed: as if the
    // board's own state had diverged from storage).
    let dir = tempfile::tempdir().unwrap();
    let (board, _) = filled_board(dir.path(), 20).await;
    let size = board.head().size;
    board.close().await;
    drop(board);
    let signer = keys::load_or_create_key(dir.path(), common::ORIGIN).unwrap();
    let forged = Checkpoint::new(signer.name(), size, leaf_hash(b"other"))
        .unwrap()
        .sign(&signer)
        .unwrap();
    db(dir.path())
        .execute(
            "UPDATE checkpoints SET note = ?1 WHERE size = ?2",
            rusqlite::params![forged.as_bytes(), size as i64],
        )
        .unwrap();
    let err = open(dir.path()).unwrap_err();
    assert!(
        matches!(&err, OpenError::Corrupt(m) if m.contains("checkpoint")),
        "{err}"
    );
    // ... and one whose signature is broken.
    let mut note = forged.as_bytes().to_vec();
    let n = note.len();
    note[n - 3] ^= 1;
    db(dir.path())
        .execute(
            "UPDATE checkpoints SET note = ?1 WHERE size = ?2",
            rusqlite::params![note, size as i64],
        )
        .unwrap();
    let err = open(dir.path()).unwrap_err();
    assert!(
        matches!(&err, OpenError::Corrupt(m) if m.contains("verify")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_entry_that_breaks_the_rules_is_fatal() {
    // Storage that is internally consistent (hashes and a valid signed
    // checkpoint) but whose entry 1 is not a valid entry.
    let dir = tempfile::tempdir().unwrap();
    let signer = keys::load_or_create_key(dir.path(), common::ORIGIN).unwrap();
    let verifier = signer.verifier();
    let (admin, manifest) = Admin::new(&verifier, 8);
    let entries = [manifest, b"not an entry".to_vec(), admin.notice()];
    let storage = SqliteStorage::open(
        &dir.path().join(keys::DB_FILE),
        common::ORIGIN,
        &verifier.to_vkey(),
    )
    .unwrap();
    let mut tree = MemoryTree::new();
    let mut hashes = Vec::new();
    for e in &entries {
        let before = tree.stored().len();
        tree.append(e).unwrap();
        hashes.push(tree.stored()[before..].to_vec());
    }
    let batch: Vec<BatchEntry<'_>> = entries
        .iter()
        .zip(&hashes)
        .enumerate()
        .map(|(i, (e, h))| BatchEntry {
            index: i as u64,
            bytes: e,
            stored_hashes: h,
        })
        .collect();
    let cp = Checkpoint::new(signer.name(), 3, tree.root().unwrap())
        .unwrap()
        .sign(&signer)
        .unwrap();
    storage
        .append(&Batch {
            entries: &batch,
            checkpoint_size: 3,
            checkpoint: cp.as_bytes(),
        })
        .unwrap();
    let storage: Arc<dyn Storage> = Arc::new(storage);
    let err = Board::open(storage, signer, Limits::default()).unwrap_err();
    match &err {
        OpenError::InvalidEntry { index, error } => {
            assert_eq!(*index, 1);
            assert!(error.rule.starts_with("R1.2"), "{error}");
        }
        other => panic!("expected InvalidEntry, got {other}"),
    }
    assert!(err.to_string().contains("stored entry 1"), "{err}");
}
