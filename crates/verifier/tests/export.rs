//! Export from a live board (`spec/export.md` §3): a generated election is
//! appended to a real board over gRPC, exported, and verified, with the
//! board's earlier checkpoint checked for consistency.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;

use tallyboard_board::{serve_with_listener, BoardClient, BoardConfig};
use tallyboard_verifier::generate::{generate, GenOptions};
use tallyboard_verifier::{export_record, verify_bytes, VerifyOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_from_a_live_board_and_verify() {
    let g = generate(&GenOptions {
        ballots: 12,
        revotes: 1,
        challenged: 1,
        threads: 2,
        seed: 77,
        ..GenOptions::default()
    })
    .unwrap();
    let el = &g.election;
    // The board uses the key the manifest names.
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("board.key");
    std::fs::write(&key_path, el.board.to_bytes()).unwrap();
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = BoardConfig::new(dir.path(), addr, el.origin.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_with_listener(config, listener, async {
        let _ = stopped.await;
    }));
    let url = format!("http://{addr}");
    let mut client = None;
    for _ in 0..50 {
        match BoardClient::connect(&url, el.board_verifier(), None).await {
            Ok(c) => {
                client = Some(c);
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
    let mut client = client.unwrap();
    let half = g.entries.len() / 2;
    for e in &g.entries[..half] {
        client.append(e.clone()).await.unwrap();
    }
    let early = client.checkpoint().await.unwrap();
    for e in &g.entries[half..] {
        client.append(e.clone()).await.unwrap();
    }
    let mut file = Vec::new();
    let summary = export_record(&mut client, &mut file).await.unwrap();
    assert_eq!(summary.entries, g.entries.len() as u64);
    let opts = VerifyOptions {
        threads: 2,
        board_key: Some(el.board_verifier()),
        checkpoints: vec![("early".into(), early.as_bytes().to_vec())],
        ..VerifyOptions::default()
    };
    let report = tokio::task::spawn_blocking(move || verify_bytes(&file, &opts))
        .await
        .unwrap();
    assert!(report.ok, "{}", report.to_human());
    assert_eq!(report.check("V1.3").unwrap().count, 1);
    let counts: Vec<u64> = report.results.iter().map(|r| r.count).collect();
    assert_eq!(counts, g.counts);
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
