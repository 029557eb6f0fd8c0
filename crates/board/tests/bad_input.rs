//! Bad input over real gRPC: every rejection has the right code, names the
//! rule, and leaves the log unchanged (size and root).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Admin, TestBoard};
use ed25519_dalek::SigningKey;
use prost::Message;
use tallyboard_board::{BoardClient, ClientError, Limits};
use tallyboard_proto::v1 as pb;
use tallyboard_protocol::{testkit, MAX_ENTRY_BYTES};
use tallyboard_tlog::SignedCheckpoint;
use tonic::Code;

/// Appends raw bytes and returns the error status.
async fn reject(client: &mut BoardClient, entry: Vec<u8>) -> tonic::Status {
    match client.append(entry).await {
        Err(ClientError::Status(s)) => s,
        Err(other) => panic!("expected a status, got {other}"),
        Ok(r) => panic!("expected a rejection, got a receipt for index {}", r.index),
    }
}

async fn head(client: &mut BoardClient) -> SignedCheckpoint {
    client.checkpoint().await.unwrap()
}

fn assert_unchanged(before: &SignedCheckpoint, after: &SignedCheckpoint) {
    assert_eq!(before.checkpoint().size(), after.checkpoint().size());
    assert_eq!(before.checkpoint().root(), after.checkpoint().root());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_rejected_and_leaves_the_log_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let board = TestBoard::start(dir.path(), Limits::default()).await;
    let mut client = board.client().await;
    let (admin, manifest) = Admin::new(&board.verifier, 1);

    // Before the manifest: a notice is out of order.
    let before = head(&mut client).await;
    assert_eq!(before.checkpoint().size(), 0);
    let s = reject(&mut client, admin.notice()).await;
    assert_eq!(s.code(), Code::FailedPrecondition, "{s:?}");
    assert!(s.message().contains("R2.1"), "{s:?}");
    assert_unchanged(&before, &head(&mut client).await);

    // Invalid key encodings in the manifest: an Ed25519 key that is not a
    // curve point, a small-order one (the identity), a garbage RSA key.
    let identity = common::identity(&board.verifier);
    let not_a_point = (2u8..)
        .map(|i| {
            let mut k = [0u8; 32];
            k[0] = i;
            k
        })
        .find(|k| ed25519_dalek::VerifyingKey::from_bytes(k).is_err())
        .unwrap();
    let mut identity_point = [0u8; 32];
    identity_point[0] = 1;
    type Mutation = Box<dyn Fn(&mut pb::Manifest)>;
    let mutations: [(&str, Mutation); 3] = [
        (
            "issuer_signing_key",
            Box::new(move |m| m.issuer_signing_key = not_a_point.to_vec()),
        ),
        (
            "trustee signing_key",
            Box::new(move |m| {
                m.trustees.as_mut().unwrap().trustees[0].signing_key = identity_point.to_vec()
            }),
        ),
        (
            "issuer_rsa_key",
            Box::new(|m| m.districts[0].issuer_rsa_key = vec![0x30, 0x03, 0x02, 0x01, 0xff]),
        ),
    ];
    for (what, mutate) in mutations {
        let mut m = testkit::sample_manifest(&admin.key, &identity, 1);
        mutate(&mut m);
        let (bad, _) = testkit::manifest_entry(&admin.key, m);
        let s = reject(&mut client, bad).await;
        assert_eq!(s.code(), Code::InvalidArgument, "{what}: {s:?}");
        assert!(s.message().contains("R2.2"), "{what}: {s:?}");
    }
    // A manifest naming another board.
    let other = SigningKey::from_bytes(&[42; 32]).verifying_key();
    let mut m = testkit::sample_manifest(&admin.key, &identity, 1);
    m.board_key = other.to_bytes().to_vec();
    let (bad, _) = testkit::manifest_entry(&admin.key, m);
    let s = reject(&mut client, bad).await;
    assert_eq!(s.code(), Code::FailedPrecondition, "{s:?}");
    assert!(s.message().contains("R2.3"), "{s:?}");
    assert_unchanged(&before, &head(&mut client).await);

    // The manifest itself is accepted.
    let receipt = client.append(manifest.clone()).await.unwrap();
    assert_eq!(receipt.index, 0);
    let before = head(&mut client).await;
    assert_eq!(before.checkpoint().size(), 1);

    // Undecodable protobuf.
    let s = reject(&mut client, vec![0xff, 0xff, 0xff, 0x0f, 0x01]).await;
    assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
    assert!(s.message().contains("R1.2"), "{s:?}");
    // An entry whose body does not decode.
    let garbage_body = pb::Entry {
        body: vec![0x0a, 0xff, 0x01],
        signature: vec![0; 64],
    }
    .encode_to_vec();
    let s = reject(&mut client, garbage_body).await;
    assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
    assert!(s.message().contains("R1.2"), "{s:?}");

    // Unknown payload: a validly signed body whose only payload is a field
    // number this version does not know.
    let mut body = pb::EntryBody {
        election_id: admin.election_id.clone(),
        election_fingerprint: admin.fingerprint.to_vec(),
        created_unix_ms: 1,
        author_key: admin.key.verifying_key().to_bytes().to_vec(),
        payload: None,
    }
    .encode_to_vec();
    body.extend_from_slice(&[0xfa, 0x06, 0x02, 0x08, 0x01]); // field 111, length 2
    let sig = {
        use ed25519_dalek::Signer;
        admin
            .key
            .sign(&tallyboard_protocol::entry::signing_message(&body))
    };
    let unknown = pb::Entry {
        body,
        signature: sig.to_bytes().to_vec(),
    }
    .encode_to_vec();
    let s = reject(&mut client, unknown).await;
    assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
    assert!(s.message().contains("R1.2"), "{s:?}");

    // Garbage author key (not a curve point) and a bad signature.
    let mut e = pb::Entry::decode(admin.notice().as_slice()).unwrap();
    let mut b = pb::EntryBody::decode(e.body.as_slice()).unwrap();
    b.author_key = vec![0xff; 31];
    b.author_key.push(0x7f);
    e.body = b.encode_to_vec();
    let s = reject(&mut client, e.encode_to_vec()).await;
    assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
    assert!(s.message().contains("R1.3"), "{s:?}");
    let mut e = pb::Entry::decode(admin.notice().as_slice()).unwrap();
    e.signature[0] ^= 1;
    let s = reject(&mut client, e.encode_to_vec()).await;
    assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
    assert!(s.message().contains("R1.3"), "{s:?}");

    // A notice signed by someone else.
    let stranger = SigningKey::from_bytes(&[99; 32]);
    let forged = testkit::notice_entry(&stranger, &admin.election_id, admin.fingerprint, "hi");
    let s = reject(&mut client, forged).await;
    assert_eq!(s.code(), Code::PermissionDenied, "{s:?}");
    assert!(s.message().contains("R1.6"), "{s:?}");

    // Wrong election fingerprint.
    let wrong = testkit::notice_entry(&admin.key, &admin.election_id, [7; 32], "hi");
    let s = reject(&mut client, wrong).await;
    assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
    assert!(s.message().contains("R1.4"), "{s:?}");

    // A notice that is too long.
    let long = admin.notice_text(&"x".repeat(5000));
    let s = reject(&mut client, long).await;
    assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
    assert!(s.message().contains("R4.1"), "{s:?}");

    // Oversize: just above the entry limit (reaches the rules) ...
    let s = reject(&mut client, vec![0; MAX_ENTRY_BYTES + 1]).await;
    assert_eq!(s.code(), Code::ResourceExhausted, "{s:?}");
    assert!(s.message().contains("R1.1"), "{s:?}");
    // ... and far above the gRPC message limit (refused before decoding).
    let s = reject(&mut client, vec![0; 2 * MAX_ENTRY_BYTES]).await;
    assert_eq!(s.code(), Code::OutOfRange, "{s:?}");

    // Exact replay of an existing entry, and a second manifest.
    let s = reject(&mut client, manifest.clone()).await;
    assert_eq!(s.code(), Code::AlreadyExists, "{s:?}");
    assert!(s.message().contains("R2.1"), "{s:?}");
    let notice = admin.notice();
    client.append(notice.clone()).await.unwrap();
    let before = head(&mut client).await;
    let s = reject(&mut client, notice.clone()).await;
    assert_eq!(s.code(), Code::AlreadyExists, "{s:?}");
    assert!(s.message().contains("R1.5"), "{s:?}");
    // A replay with a different encoding of the same body (an extra unknown
    // field on the Entry) is still a replay.
    let mut reencoded = notice.clone();
    reencoded.extend_from_slice(&[0x18, 0x01]); // field 3 varint 1
    let s = reject(&mut client, reencoded).await;
    assert_eq!(s.code(), Code::AlreadyExists, "{s:?}");

    // Concurrent replays of one fresh entry: exactly one is appended.
    let fresh = admin.notice();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let mut c = client.clone();
        let e = fresh.clone();
        tasks.push(tokio::spawn(async move { c.append(e).await }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(ClientError::Status(s)) => assert_eq!(s.code(), Code::AlreadyExists),
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(ok, 1);
    let after = head(&mut client).await;
    assert_eq!(after.checkpoint().size(), before.checkpoint().size() + 1);
    let before = after;

    // Reads out of range.
    let size = before.checkpoint().size();
    let rpc = client.rpc();
    let s = rpc
        .list_entries(pb::ListEntriesRequest {
            start: size + 1,
            limit: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::OutOfRange, "{s:?}");
    let page = rpc
        .list_entries(pb::ListEntriesRequest {
            start: size,
            limit: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(page.entries.is_empty());
    assert_eq!(page.tree_size, size);
    let s = rpc
        .get_inclusion_proof(pb::GetInclusionProofRequest {
            index: size,
            tree_size: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::OutOfRange, "{s:?}");
    let s = rpc
        .get_inclusion_proof(pb::GetInclusionProofRequest {
            index: 0,
            tree_size: size + 1,
        })
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::OutOfRange, "{s:?}");
    let s = rpc
        .get_consistency_proof(pb::GetConsistencyProofRequest {
            old_size: 0,
            new_size: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
    let s = rpc
        .get_consistency_proof(pb::GetConsistencyProofRequest {
            old_size: 2,
            new_size: 1,
        })
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
    let s = rpc
        .get_consistency_proof(pb::GetConsistencyProofRequest {
            old_size: 1,
            new_size: size + 1,
        })
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::OutOfRange, "{s:?}");
    let s = rpc
        .stream_entries(pb::StreamEntriesRequest { start: size + 1 })
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::OutOfRange, "{s:?}");

    assert_unchanged(&before, &head(&mut client).await);
    let entries = common::all_entries(&mut client).await;
    assert_eq!(entries.len() as u64, size);
    assert_eq!(entries[0], manifest);
    board.stop().await;
}
