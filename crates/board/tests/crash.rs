//! Crash test: the board runs as a child process, clients append
//! concurrently, the child is SIGKILLed at random moments (at least 10
//! times) and restarted. After each restart every entry that got a receipt
//! is on the log at its index, and every checkpoint signed before the crash
//! is consistent with the one after.
//!
//! The child process is this test binary itself, re-run with
//! `--exact board_child --ignored` and the data directory in
//! `TALLYBOARD_CRASH_CHILD_DIR`: the board is served through the same
//! `serve_with_listener` entry point the CLI uses, with no extra binary to
//! build and no risk of running a stale one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::Admin;
use rand::{Rng, SeedableRng};
use tallyboard_board::{serve_with_listener, BoardClient, BoardConfig, VerifiedReceipt};
use tallyboard_tlog::Checkpoint;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const CHILD_ENV: &str = "TALLYBOARD_CRASH_CHILD_DIR";

/// The board process. Does nothing unless started by `crash_recovery`.
#[test]
#[ignore = "the board process of crash_recovery, which starts it"]
fn board_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        println!("LISTENING {addr}");
        let config = BoardConfig::new(&dir, addr, common::ORIGIN);
        serve_with_listener(config, listener, std::future::pending())
            .await
            .unwrap();
    });
}

/// Starts the child board on `dir`; returns it and its address.
async fn spawn_child(dir: &Path) -> (Child, String) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "board_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            // libtest may print "test board_child ... " on the same line.
            if let Some((_, addr)) = line.split_once("LISTENING ") {
                return addr.trim().to_owned();
            }
        }
        panic!("child exited before listening");
    })
    .await
    .expect("child did not start");
    // Keep draining the child's output.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, format!("http://{addr}"))
}

async fn kill(child: &mut Child) {
    child.start_kill().unwrap(); // SIGKILL
    let _ = child.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_recovery() {
    let rounds: usize = std::env::var("TALLYBOARD_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    let seed: u64 = std::env::var("TALLYBOARD_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().gen());
    eprintln!("crash test: {rounds} rounds, seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    let dir = tempfile::tempdir().unwrap();
    let verifier = common::board_key(dir.path());
    let (admin, manifest) = Admin::new(&verifier, 6);

    let (mut child, mut url) = spawn_child(dir.path()).await;
    let mut client = common::connect(&url, &verifier).await;
    let mut receipts: Vec<(Vec<u8>, VerifiedReceipt)> =
        vec![(manifest.clone(), client.append(manifest).await.unwrap())];
    let mut latest: Checkpoint = receipts[0].1.checkpoint.clone();
    let started = Instant::now();

    for round in 0..rounds {
        // Writers append until the board dies under them.
        let mut writers = Vec::new();
        for _ in 0..16 {
            let url = url.clone();
            let verifier = verifier.clone();
            let admin = admin.clone();
            writers.push(tokio::spawn(async move {
                let mut ok = Vec::new();
                let Ok(mut c) = BoardClient::connect(&url, verifier, None).await else {
                    return ok;
                };
                loop {
                    let entry = admin.notice();
                    match c.append(entry.clone()).await {
                        Ok(r) => ok.push((entry, r)),
                        Err(_) => return ok,
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(rng.gen_range(30..400))).await;
        kill(&mut child).await;
        let mut got = 0;
        for w in writers {
            let ok = w.await.unwrap();
            got += ok.len();
            receipts.extend(ok);
        }

        // Restart and check; now and then kill the restarted board again
        // while it is still recovering (recovery only reads).
        if rng.gen_bool(0.25) {
            (child, _) = spawn_child(dir.path()).await;
            tokio::time::sleep(Duration::from_millis(rng.gen_range(0..30))).await;
            kill(&mut child).await;
        }
        (child, url) = spawn_child(dir.path()).await;
        client = common::connect(&url, &verifier).await;
        let now = client.checkpoint().await.unwrap();
        let log = common::all_entries(&mut client).await;
        assert_eq!(log.len() as u64, now.checkpoint().size());
        for (entry, r) in &receipts {
            assert_eq!(
                log.get(r.index as usize),
                Some(entry),
                "round {round}: receipted entry {} lost",
                r.index
            );
        }
        // Every checkpoint ever handed out (one per size) is consistent
        // with the checkpoint after the restart.
        let mut by_size = BTreeMap::new();
        for (_, r) in &receipts {
            let root = *by_size
                .entry(r.checkpoint.size())
                .or_insert(r.checkpoint.root());
            assert_eq!(root, r.checkpoint.root(), "two roots for one size");
        }
        for (_, r) in receipts
            .iter()
            .filter(|(_, r)| r.index + 1 == r.checkpoint.size())
        {
            client
                .prove_consistency(&r.checkpoint, now.checkpoint())
                .await
                .unwrap();
        }
        client
            .prove_consistency(&latest, now.checkpoint())
            .await
            .unwrap();
        latest = now.into_checkpoint();
        eprintln!(
            "round {round}: {got} receipts before the kill, log size {}",
            latest.size()
        );
    }
    kill(&mut child).await;
    assert!(receipts.len() > rounds, "too few appends");
    eprintln!(
        "crash test: {} receipts over {rounds} crashes in {:.1} s",
        receipts.len(),
        started.elapsed().as_secs_f64()
    );
}
