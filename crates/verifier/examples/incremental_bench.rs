//! What an observer's incremental run costs against a full run
//! (`spec/checks.md` §13), on a live board in this process:
//!
//! ```text
//! cargo run --release -p tallyboard-verifier --example incremental_bench -- 20000
//! ```
//!
//! A record of N one-of-5 ballots is generated; 90 % of its entries are
//! appended to a board over loopback gRPC and verified with a saved state;
//! then each of five steps appends another 1 % and measures the
//! incremental run (download, verify the new entries, save) and a full run
//! of the same record (export, verify everything). Times are wall-clock,
//! given in units (one variable-base scalar multiplication, measured here
//! first) so that they compare across machines.

use std::path::Path;
use std::time::Instant;

use tallyboard_board::{serve_with_listener, BoardClient, BoardConfig};
use tallyboard_tlog::Ed25519Verifier;
use tallyboard_verifier::generate::{generate, GenOptions};
use tallyboard_verifier::incremental::{download, verify_update, StateFiles};
use tallyboard_verifier::verify::measure_unit;
use tallyboard_verifier::{export_record, verify_file, VerifyOptions};

fn opts() -> VerifyOptions {
    VerifyOptions {
        threads: 0,
        ..VerifyOptions::default()
    }
}

async fn append(client: &mut BoardClient, entries: &[Vec<u8>]) {
    // In log order, one at a time (the rules depend on the order).
    for e in entries {
        client.append(e.clone()).await.expect("append");
    }
}

async fn incremental(client: &mut BoardClient, files: &StateFiles) -> (f64, u64, bool) {
    let t = Instant::now();
    let update = download(client, files).await.expect("download");
    let new = update.new_entries();
    let r = tokio::task::spawn_blocking(move || verify_update(update, &opts()).expect("verify"))
        .await
        .expect("join");
    (t.elapsed().as_secs_f64(), new, r.ok)
}

async fn full(client: &mut BoardClient, dir: &Path) -> (f64, bool) {
    let t = Instant::now();
    let path = dir.join("full.record");
    let file = std::fs::File::create(&path).expect("record file");
    export_record(client, std::io::BufWriter::new(file))
        .await
        .expect("export");
    let r = tokio::task::spawn_blocking(move || verify_file(&path, &opts()).expect("verify"))
        .await
        .expect("join");
    (t.elapsed().as_secs_f64(), r.ok)
}

#[tokio::main]
async fn main() {
    let ballots: u64 = std::env::args()
        .nth(1)
        .map_or(20_000, |a| a.parse().expect("ballots"));
    let unit_us = measure_unit();
    let g = generate(&GenOptions {
        ballots,
        threads: 0,
        seed: 1,
        ..GenOptions::default()
    })
    .expect("generate");
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("board");
    std::fs::create_dir(&dir).expect("board dir");
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(dir.join("board.key"))
            .expect("key");
        f.write_all(&g.election.board.to_bytes()).expect("key");
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let config = BoardConfig::new(&dir, addr, g.election.origin.clone());
    tokio::spawn(serve_with_listener(
        config,
        listener,
        std::future::pending(),
    ));
    let key = Ed25519Verifier::from_vkey(&g.election.board_vkey()).expect("vkey");
    let url = format!("http://{addr}");
    let mut client = loop {
        match BoardClient::connect(&url, key.clone(), None).await {
            Ok(c) => break c,
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    };
    let total = g.entries.len();
    let files = StateFiles::new(&tmp.path().join("observer.state"));
    let first = total * 9 / 10;
    append(&mut client, &g.entries[..first]).await;
    let (s, n, ok) = incremental(&mut client, &files).await;
    println!("unit {unit_us:.1} µs; {total} entries in the record");
    println!(
        "first run (no saved state): {n} entries, {s:.2} s = {:.0} units, ok {ok}",
        s * 1e6 / unit_us
    );
    let step = total / 100;
    let mut at = first;
    println!("| step | entries | new | incremental (units) | full (units) | full / incremental |");
    println!("|---|---|---|---|---|---|");
    for k in 1..=5 {
        append(&mut client, &g.entries[at..at + step]).await;
        at += step;
        let (si, n, ok_i) = incremental(&mut client, &files).await;
        let (sf, ok_f) = full(&mut client, tmp.path()).await;
        assert!(ok_i && ok_f);
        println!(
            "| {k} | {at} | {n} | {:.0} | {:.0} | {:.0} |",
            si * 1e6 / unit_us,
            sf * 1e6 / unit_us,
            sf / si
        );
    }
}
