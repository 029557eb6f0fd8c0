//! Load test: 200 concurrent clients append notices over loopback gRPC for
//! `TALLYBOARD_LOAD_SECS` seconds (default 30). Afterwards every receipt is on
//! the log at its index with its leaf hash, the indexes are contiguous, every
//! receipt verified, and every checkpoint handed out is consistent with the
//! final one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{Admin, TestBoard};
use tallyboard_board::{Limits, VerifiedReceipt};
use tallyboard_tlog::{leaf_hash, MemoryTree};

const CLIENTS: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_clients_append_concurrently() {
    let secs: u64 = std::env::var("TALLYBOARD_LOAD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let dir = tempfile::tempdir().unwrap();
    let board = TestBoard::start(dir.path(), Limits::default()).await;
    let mut client = board.client().await;
    let (admin, manifest) = Admin::new(&board.verifier, 5);
    let first = client.append(manifest.clone()).await.unwrap();

    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    let mut tasks = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        let url = board.url();
        let verifier = board.verifier.clone();
        let admin = admin.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = common::connect(&url, &verifier).await;
            let mut done: Vec<(Vec<u8>, VerifiedReceipt)> = Vec::new();
            while Instant::now() < deadline {
                let entry = admin.notice();
                // `append` verifies the receipt against the entry and the
                // board key before returning it.
                let receipt = c.append(entry.clone()).await.expect("append under load");
                done.push((entry, receipt));
            }
            done
        }));
    }
    let mut receipts = vec![(manifest, first)];
    for t in tasks {
        receipts.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed();
    let stats_appends = receipts.len() - 1;
    eprintln!(
        "load: {stats_appends} appends by {CLIENTS} clients in {:.1} s ({:.0}/s)",
        elapsed.as_secs_f64(),
        stats_appends as f64 / elapsed.as_secs_f64()
    );
    assert!(stats_appends >= CLIENTS, "too few appends: {stats_appends}");

    // The log holds exactly the receipted entries, at their indexes.
    let final_cp = client.checkpoint().await.unwrap();
    let log = common::all_entries(&mut client).await;
    assert_eq!(log.len(), receipts.len());
    assert_eq!(final_cp.checkpoint().size(), log.len() as u64);
    let mut indexes: Vec<u64> = receipts.iter().map(|(_, r)| r.index).collect();
    indexes.sort_unstable();
    assert!(
        indexes.iter().copied().eq(0..log.len() as u64),
        "indexes are not contiguous"
    );
    for (entry, r) in &receipts {
        assert_eq!(&log[r.index as usize], entry);
        assert_eq!(r.leaf_hash, leaf_hash(entry));
        assert!(r.checkpoint.size() > r.index);
    }

    // The final root is the tree of the entries.
    let mut tree = MemoryTree::new();
    for e in &log {
        tree.append(e).unwrap();
    }
    assert_eq!(tree.root().unwrap(), final_cp.checkpoint().root());

    // Every checkpoint handed out: one root per size, and consistent with
    // the final checkpoint by the board's consistency proof.
    let mut by_size = BTreeMap::new();
    for (_, r) in &receipts {
        let root = *by_size
            .entry(r.checkpoint.size())
            .or_insert_with(|| r.checkpoint.root());
        assert_eq!(root, r.checkpoint.root(), "two roots for one size");
    }
    eprintln!(
        "load: {} checkpoints ({:.1} entries per commit)",
        by_size.len(),
        stats_appends as f64 / by_size.len() as f64
    );
    let batch_ends: Vec<_> = receipts
        .iter()
        .filter(|(_, r)| r.index + 1 == r.checkpoint.size())
        .map(|(_, r)| r.checkpoint.clone())
        .collect();
    assert_eq!(batch_ends.len(), by_size.len());
    for cp in &batch_ends {
        assert_eq!(tree.tree_hash(cp.size()).unwrap(), cp.root());
    }
    let mut checks = Vec::new();
    for part in batch_ends.chunks(batch_ends.len().div_ceil(8)) {
        let part = part.to_vec();
        let final_cp = final_cp.checkpoint().clone();
        let mut c = board.client().await;
        checks.push(tokio::spawn(async move {
            for cp in part {
                c.prove_consistency(&cp, &final_cp).await.unwrap();
            }
        }));
    }
    for c in checks {
        c.await.unwrap();
    }
    board.stop().await;
}
