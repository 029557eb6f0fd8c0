//! TLS smoke test: a self-signed certificate made here, a client that trusts
//! it, and a plaintext client that gets nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{Admin, TestBoard};
use tallyboard_board::{BoardClient, ClientTls, Limits, TlsFiles};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_smoke() {
    let dir = tempfile::tempdir().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_pem = certified.cert.pem();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, &cert_pem).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();

    let data = dir.path().join("data");
    let board = TestBoard::start_with(&data, Limits::default(), Some(TlsFiles { cert, key })).await;
    let url = format!("https://{}", board.addr);
    let tls = ClientTls {
        ca_pem: cert_pem.into_bytes(),
        domain: Some("localhost".into()),
    };
    let mut client = None;
    for _ in 0..600 {
        match BoardClient::connect(&url, board.verifier.clone(), Some(tls.clone())).await {
            Ok(c) => {
                client = Some(c);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    let mut client = client.expect("TLS connection");
    let (admin, manifest) = Admin::new(&board.verifier, 4);
    let r = client.append(manifest).await.unwrap();
    assert_eq!(r.index, 0);
    let r = client.append(admin.notice()).await.unwrap();
    assert_eq!(r.index, 1);
    let cp = client.checkpoint().await.unwrap();
    client
        .prove_consistency(&r.checkpoint, cp.checkpoint())
        .await
        .unwrap();

    // Plaintext to a TLS port fails.
    let plain = BoardClient::connect(&board.url(), board.verifier.clone(), None).await;
    match plain {
        Err(_) => {}
        Ok(mut c) => assert!(c.checkpoint().await.is_err()),
    }
    board.stop().await;
}
