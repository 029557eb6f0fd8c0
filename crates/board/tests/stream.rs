//! StreamEntries: history then live appends, slow consumers, shutdown; and
//! the health and reflection services.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{Admin, TestBoard};
use tallyboard_board::Limits;
use tallyboard_proto::v1 as pb;
use tallyboard_tlog::{leaf_hash, SignedCheckpoint};
use tokio_stream::StreamExt;

/// Reads `n` messages; checks indexes follow `next` and checkpoints verify
/// and cover their entry.
async fn read_n(
    stream: &mut tonic::Streaming<pb::StreamEntriesResponse>,
    next: &mut u64,
    n: usize,
    board: &tallyboard_tlog::Ed25519Verifier,
) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for _ in 0..n {
        let msg = tokio::time::timeout(Duration::from_secs(20), stream.next())
            .await
            .expect("stream stalled")
            .expect("stream ended")
            .expect("stream error");
        let e = msg.entry.expect("entry");
        assert_eq!(e.index, *next);
        if !msg.checkpoint.is_empty() {
            let cp = SignedCheckpoint::open(&msg.checkpoint, board).expect("checkpoint verifies");
            assert!(cp.checkpoint().size() > e.index);
        }
        *next += 1;
        out.push(e.entry);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_replays_history_then_follows_live_appends() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        stream_buffer: 4,
        live_batches: 2,
        ..Limits::default()
    };
    let board = TestBoard::start(dir.path(), limits).await;
    let mut client = board.client().await;
    let (admin, manifest) = Admin::new(&board.verifier, 3);
    client.append(manifest).await.unwrap();
    for _ in 0..20 {
        client.append(admin.notice()).await.unwrap();
    }

    // History: 21 entries, the last one with the checkpoint of size 21.
    let mut stream = client.stream_entries(0).await.unwrap();
    let mut next = 0;
    let mut got = Vec::new();
    for _ in 0..21 {
        let msg = stream.next().await.unwrap().unwrap();
        let e = msg.entry.unwrap();
        assert_eq!(e.index, next);
        next += 1;
        if e.index == 20 {
            let cp = SignedCheckpoint::open(&msg.checkpoint, &board.verifier).unwrap();
            assert_eq!(cp.checkpoint().size(), 21);
        }
        got.push(e.entry);
    }

    // Live: concurrent appends arrive in log order.
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let mut c = client.clone();
        let a = admin.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..10 {
                c.append(a.notice()).await.unwrap();
            }
        }));
    }
    got.extend(read_n(&mut stream, &mut next, 40, &board.verifier).await);
    for t in tasks {
        t.await.unwrap();
    }

    // A stream that is not read does not hold appends back: 300 appends
    // (300 batches, far more than the live buffer of 2) complete while it
    // sleeps, then it catches up from storage, in order, without gaps.
    let mut slow = client.stream_entries(0).await.unwrap();
    let mut slow_next = 0;
    read_n(&mut slow, &mut slow_next, 1, &board.verifier).await;
    let appends = tokio::time::timeout(Duration::from_secs(60), async {
        for _ in 0..300 {
            client.append(admin.notice()).await.unwrap();
        }
    });
    appends.await.expect("appends blocked by a slow stream");
    let all = common::all_entries(&mut client).await;
    assert_eq!(all.len(), 361);
    let rest = read_n(&mut slow, &mut slow_next, 360, &board.verifier).await;
    assert_eq!(rest[..], all[1..]);
    got.extend(read_n(&mut stream, &mut next, 300, &board.verifier).await);
    assert_eq!(got, all);
    for (i, e) in all.iter().enumerate() {
        let p = client
            .rpc()
            .get_inclusion_proof(pb::GetInclusionProofRequest {
                index: i as u64,
                tree_size: 0,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(p.leaf_hash, leaf_hash(e).0.to_vec());
        if i > 5 {
            break;
        }
    }

    // A stream from the current size waits for the next append.
    let mut tail = client.stream_entries(361).await.unwrap();
    let mut tail_next = 361;
    let e = admin.notice();
    client.append(e.clone()).await.unwrap();
    assert_eq!(
        read_n(&mut tail, &mut tail_next, 1, &board.verifier).await,
        vec![e]
    );

    // Shutdown ends open streams (it would otherwise wait for them).
    tokio::time::timeout(Duration::from_secs(20), board.stop())
        .await
        .expect("shutdown waits for streams");
    let end = tokio::time::timeout(Duration::from_secs(10), tail.next())
        .await
        .expect("stream still open after shutdown");
    match end {
        None => {}
        Some(Err(s)) => assert_eq!(s.code(), tonic::Code::Unavailable, "{s:?}"),
        Some(Ok(m)) => panic!("unexpected message {m:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_reflection_are_served() {
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::{health_check_response::ServingStatus, HealthCheckRequest};
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::{
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
        ServerReflectionRequest,
    };

    let dir = tempfile::tempdir().unwrap();
    let board = TestBoard::start(dir.path(), Limits::default()).await;
    let _ = board.client().await; // waits until the server is up
    let channel = tonic::transport::Endpoint::from_shared(board.url())
        .unwrap()
        .connect()
        .await
        .unwrap();

    let mut health = HealthClient::new(channel.clone());
    let status = health
        .check(HealthCheckRequest {
            service: "tallyboard.v1.Board".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(status, ServingStatus::Serving as i32);

    let mut reflection = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = reflection
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses.next().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection answer");
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"tallyboard.v1.Board"), "{names:?}");
    board.stop().await;
}
