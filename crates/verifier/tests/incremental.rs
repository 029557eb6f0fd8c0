//! Incremental verification (`spec/checks.md` §13) of a live board: a real
//! board over loopback gRPC takes a whole election entry by entry; in ten
//! steps along the way, `incremental::download` + `verify_update` verify
//! only what is new since the last step, and every step's report equals a
//! full verification of the same record.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use tallyboard_board::{serve_with_listener, BoardClient, BoardConfig};
use tallyboard_tlog::Ed25519Verifier;
use tallyboard_verifier::generate::{generate, GenOptions, Generated};
use tallyboard_verifier::incremental::{download, verify_update, IncrementalError, StateFiles};
use tallyboard_verifier::{export_record, verify_file, Report, VerifyOptions};
use tokio::net::TcpListener;

fn opts() -> VerifyOptions {
    VerifyOptions {
        threads: 2,
        ..VerifyOptions::default()
    }
}

/// The report without what differs between any two runs (timings).
fn comparable(r: &Report) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    v.as_object_mut().unwrap().remove("performance");
    v
}

/// What a full `verify --board` does: export, then verify the file.
async fn full(client: &mut BoardClient, dir: &Path) -> Report {
    let path = dir.join("full.record");
    let file = std::fs::File::create(&path).unwrap();
    let summary = export_record(client, std::io::BufWriter::new(file))
        .await
        .unwrap();
    let mut o = opts();
    o.board_consistency.push(format!(
        "board consistency proof {} -> {}",
        summary.entries, summary.latest_size
    ));
    tokio::task::spawn_blocking(move || verify_file(&path, &o).unwrap())
        .await
        .unwrap()
}

async fn incremental(client: &mut BoardClient, files: &StateFiles) -> (Report, u64) {
    let update = download(client, files).await.unwrap();
    let new = update.new_entries();
    let r = tokio::task::spawn_blocking(move || verify_update(update, &opts()).unwrap())
        .await
        .unwrap();
    (r, new)
}

/// A board in this process on a loopback port, holding the generator's
/// board key, and a client of it.
async fn start_board(
    g: &Generated,
    dir: &Path,
) -> (
    BoardClient,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), tallyboard_board::ServeError>>,
) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::create_dir(dir).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dir.join("board.key"))
        .unwrap();
    f.write_all(&g.election.board.to_bytes()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = BoardConfig::new(dir, addr, g.election.origin.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_with_listener(config, listener, async {
        let _ = stopped.await;
    }));
    let key = Ed25519Verifier::from_vkey(&g.election.board_vkey()).unwrap();
    let url = format!("http://{addr}");
    let client = loop {
        match BoardClient::connect(&url, key.clone(), None).await {
            Ok(c) => break c,
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    };
    (client, stop, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_steps_of_a_live_election_each_equal_a_full_run() {
    let g = generate(&GenOptions {
        ballots: 24,
        options: 3,
        districts: 2,
        trustees: 3,
        threshold: 2,
        revotes: 4,
        challenged: 3,
        threads: 2,
        seed: 77,
        ..GenOptions::default()
    })
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (mut client, stop, server) = start_board(&g, &tmp.path().join("board")).await;

    let files = StateFiles::new(&tmp.path().join("verifier.state"));
    let total = g.entries.len();
    // Ten steps: the first right after the manifest, the last at the end.
    let mut cuts: Vec<usize> = (1..10).map(|k| 1 + (total - 1) * k / 10).collect();
    cuts.insert(0, 1);
    cuts.push(total);
    cuts.dedup();
    assert!(cuts.len() >= 10, "{cuts:?}");
    let mut appended = 0;
    let mut verified = 0u64;
    for (step, &cut) in cuts.iter().enumerate() {
        for e in &g.entries[appended..cut] {
            client.append(e.clone()).await.unwrap();
        }
        appended = cut;
        let (inc, new) = incremental(&mut client, &files).await;
        let full = full(&mut client, tmp.path()).await;
        assert!(inc.ok, "step {step}: {}", inc.to_human());
        assert_eq!(inc.record.entries, cut as u64, "step {step}");
        assert_eq!(new, cut as u64 - verified, "step {step}: only new entries");
        verified = cut as u64;
        assert_eq!(
            comparable(&inc),
            comparable(&full),
            "step {step} ({cut} entries): the incremental report differs from a full run"
        );
    }
    // The last step holds the result: the counts are the generator's.
    let last = incremental(&mut client, &files).await.0;
    assert_eq!(last.record.entries, total as u64);
    let counts: Vec<u64> = last.results.iter().map(|x| x.count).collect();
    assert_eq!(counts, g.counts);

    // A saved state changed behind the verifier's back is refused, typed.
    let mut bytes = std::fs::read(&files.state).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x20;
    std::fs::write(&files.state, &bytes).unwrap();
    let err = download(&mut client, &files).await.err().expect("refused");
    assert!(err.to_string().contains("unusable"), "{err}");

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

/// A board that shows an observer one history and later another (the same
/// key, an entry changed before the saved checkpoint) is caught: the saved
/// checkpoint and the new one are not consistent, the run stops with that
/// error, and the saved state is left as it was (the evidence).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_board_that_rewrites_history_is_caught_at_the_next_run() {
    let g = generate(&GenOptions {
        ballots: 4,
        threads: 2,
        seed: 78,
        ..GenOptions::default()
    })
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let files = StateFiles::new(&tmp.path().join("verifier.state"));
    let cut = 6;
    let (mut honest, stop, server) = start_board(&g, &tmp.path().join("a")).await;
    for e in &g.entries[..cut] {
        honest.append(e.clone()).await.unwrap();
    }
    let (r, _) = incremental(&mut honest, &files).await;
    assert!(r.ok, "{}", r.to_human());
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    let saved = std::fs::read(&files.state).unwrap();

    // The same board key, another history: a notice before entry cut - 1.
    let (mut forked, stop, server) = start_board(&g, &tmp.path().join("b")).await;
    let e = &g.election;
    let notice = tallyboard_protocol::testkit::notice_entry(
        &e.admin,
        e.election_id(),
        e.fingerprint(),
        "inserted",
    );
    let mut history: Vec<Vec<u8>> = g.entries[..cut - 1].to_vec();
    history.push(notice);
    history.extend(g.entries[cut - 1..cut + 3].iter().cloned());
    for e in history {
        forked.append(e).await.unwrap();
    }
    let err = download(&mut forked, &files).await.err().expect("a fork");
    assert!(
        matches!(err, IncrementalError::Fork { size, .. } if size == cut as u64),
        "{err}"
    );
    assert!(err.to_string().contains("not consistent"), "{err}");
    assert_eq!(
        std::fs::read(&files.state).unwrap(),
        saved,
        "the evidence is kept"
    );
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

/// The entry file is the verifier's own, but a later run trusts nothing in
/// it: when the tally makes the engine re-read the superseded revotes and
/// they were changed on disk since they were verified, the run says so
/// (V7.1) instead of taking the changed bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_entry_file_is_not_believed() {
    use tallyboard_verifier::checks::EntryKind;
    let g = generate(&GenOptions {
        ballots: 6,
        revotes: 2,
        threads: 2,
        seed: 79,
        ..GenOptions::default()
    })
    .unwrap();
    let tally = g
        .entries
        .iter()
        .position(|e| EntryKind::sniff(e) == EntryKind::Tally)
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let files = StateFiles::new(&tmp.path().join("verifier.state"));
    let (mut client, stop, server) = start_board(&g, &tmp.path().join("board")).await;
    for e in &g.entries[..tally] {
        client.append(e.clone()).await.unwrap();
    }
    assert!(incremental(&mut client, &files).await.0.ok);

    // Change one byte of every ballot in the entry file.
    let mut bytes = std::fs::read(&files.entries).unwrap();
    let mut at = 0;
    while at < bytes.len() {
        let n = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let entry = at + 4..at + 4 + n;
        if EntryKind::sniff(&bytes[entry.clone()]) == EntryKind::Ballot {
            bytes[entry.end - 1] ^= 1;
        }
        at = entry.end;
    }
    std::fs::write(&files.entries, &bytes).unwrap();

    for e in &g.entries[tally..] {
        client.append(e.clone()).await.unwrap();
    }
    let (r, _) = incremental(&mut client, &files).await;
    assert!(!r.ok, "{}", r.to_human());
    let v71 = r.check("V7.1").unwrap();
    assert!(
        v71.failures
            .iter()
            .any(|f| f.message.contains("cannot re-read")),
        "{}",
        r.to_human()
    );
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
