//! Durable append throughput: 64 concurrent clients append 1 KiB notice
//! entries over loopback gRPC to a board on local disk; reports appends per
//! second and storage commits (log syncs) per entry, then the time to
//! recover the whole log on reopen.
//!
//! ```text
//! cargo bench -p tallyboard-board --bench append
//! ```
//!
//! Environment: `TALLYBOARD_BENCH_SECS` (default 10), `TALLYBOARD_BENCH_CLIENTS`
//! (default 64), `TALLYBOARD_BENCH_DIR` (default: a temporary directory under
//! the system temp dir; must be on the disk you want to measure, not tmpfs),
//! `TALLYBOARD_BENCH_KEEP=1` (keep the data directory and print its path),
//! `TALLYBOARD_BENCH_RECOVER=DIR` (only time the recovery of an existing
//! data directory, origin `tallyboard/bench`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use tallyboard_board::{serve_board, Board, BoardClient, BoardConfig, Limits};
use tallyboard_protocol::{testkit, BoardIdentity};

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    if let Ok(dir) = std::env::var("TALLYBOARD_BENCH_RECOVER") {
        let t = Instant::now();
        let board = Board::open_dir(
            std::path::Path::new(&dir),
            "tallyboard/bench",
            Limits::default(),
        )
        .unwrap();
        let took = t.elapsed().as_secs_f64();
        let size = board.head().size;
        println!(
            "recovery: {size} entries in {took:.2} s = {:.0} entries/s",
            size as f64 / took
        );
        return;
    }
    let secs: u64 = env("TALLYBOARD_BENCH_SECS", 10);
    let clients: usize = env("TALLYBOARD_BENCH_CLIENTS", 64);
    let base = std::env::var("TALLYBOARD_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir());
    let tmp = tempfile::tempdir_in(base).unwrap();
    let dir = tmp.path().join("board");
    let origin = "tallyboard/bench";

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let board = {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || Board::open_dir(&dir, origin, Limits::default()))
                .await
                .unwrap()
                .unwrap()
        };
        let verifier = board.verifier().clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let config = BoardConfig::new(&dir, addr, origin);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = {
            let board = board.clone();
            tokio::spawn(async move {
                serve_board(board, &config, listener, async {
                    let _ = stop_rx.await;
                })
                .await
            })
        };
        let url = format!("http://{addr}");

        // The election: manifest, then notices of 1 KiB each (entry bytes).
        let admin = SigningKey::from_bytes(&[11; 32]);
        let identity = BoardIdentity {
            origin: origin.into(),
            key: *verifier.verifying_key(),
        };
        let manifest = testkit::sample_manifest(&admin, &identity, 11);
        let election_id = manifest.election_id.clone();
        let (manifest, fingerprint) = testkit::manifest_entry(&admin, manifest);
        let mut c = connect(&url, &verifier).await;
        c.append(manifest).await.unwrap();
        let probe = testkit::notice_entry(&admin, &election_id, fingerprint, "x");
        let pad = 1024usize.saturating_sub(probe.len()).max(1);

        // Entries are made before timing so that the clients' signing does
        // not count against the board.
        let per_client_max = 40_000usize / clients.max(1) * secs.max(1) as usize / 10 + 200;
        let made = Instant::now();
        let mut batches = Vec::new();
        for k in 0..clients {
            let entries: Vec<Vec<u8>> = (0..per_client_max)
                .map(|i| {
                    let mut text = format!("{k}/{i} ");
                    text.push_str(&"x".repeat(pad.saturating_sub(text.len())));
                    testkit::notice_entry(&admin, &election_id, fingerprint, &text)
                })
                .collect();
            batches.push(entries);
        }
        let size = batches[0][0].len();
        eprintln!(
            "prepared {} entries of {size} bytes in {:.1} s",
            clients * per_client_max,
            made.elapsed().as_secs_f64()
        );

        let before = board.stats();
        let done = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let deadline = start + Duration::from_secs(secs);
        let mut tasks = Vec::new();
        for entries in batches {
            let url = url.clone();
            let verifier = verifier.clone();
            let done = Arc::clone(&done);
            tasks.push(tokio::spawn(async move {
                let mut c = connect(&url, &verifier).await;
                let mut latencies = Vec::new();
                for e in entries {
                    if Instant::now() >= deadline {
                        break;
                    }
                    let t = Instant::now();
                    c.append(e).await.unwrap();
                    latencies.push(t.elapsed());
                    done.fetch_add(1, Ordering::Relaxed);
                }
                latencies
            }));
        }
        let mut latencies = Vec::new();
        for t in tasks {
            latencies.extend(t.await.unwrap());
        }
        let elapsed = start.elapsed().as_secs_f64();
        let after = board.stats();
        let appended = after.appended - before.appended;
        let commits = after.commits - before.commits;
        latencies.sort_unstable();
        let pct = |p: f64| {
            latencies
                .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        println!(
            "append: {clients} clients, {size}-byte entries, {elapsed:.1} s: {appended} durable appends = {:.0} appends/s",
            appended as f64 / elapsed
        );
        println!(
            "commits: {commits} (one log sync each) = {:.4} syncs per entry, {:.1} entries per commit",
            commits as f64 / appended.max(1) as f64,
            appended as f64 / commits.max(1) as f64
        );
        println!(
            "latency (receipt verified by the client): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            pct(0.5),
            pct(0.99),
            pct(1.0)
        );

        let _ = stop_tx.send(());
        server.await.unwrap().unwrap();
        board.close().await;
        let size = board.head().size;
        drop(board);

        // Recovery: re-validate and re-hash the whole log.
        let t = Instant::now();
        let reopened = {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || Board::open_dir(&dir, origin, Limits::default()))
                .await
                .unwrap()
                .unwrap()
        };
        let took = t.elapsed().as_secs_f64();
        assert_eq!(reopened.head().size, size);
        println!(
            "recovery: {size} entries in {took:.2} s = {:.0} entries/s",
            size as f64 / took
        );
        reopened.close().await;
    });
    if std::env::var_os("TALLYBOARD_BENCH_KEEP").is_some() {
        println!("kept data directory {}", tmp.keep().join("board").display());
    }
}

async fn connect(url: &str, verifier: &tallyboard_tlog::Ed25519Verifier) -> BoardClient {
    for _ in 0..100 {
        if let Ok(c) = BoardClient::connect(url, verifier.clone(), None).await {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("cannot connect to {url}");
}
