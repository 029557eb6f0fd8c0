//! What observers and witnesses use: lookup by tracker, witness
//! cosignatures, gRPC-Web over HTTP/1.1, the embedded page and both
//! reflection versions (`spec/board.md` §5.8, §10, §11).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{board_key, identity, TestBoard};
use ed25519_dalek::SigningKey;
use tallyboard_board::Limits;
use tallyboard_proto::v1 as pb;
use tallyboard_protocol::{testkit, v1};
use tallyboard_tlog::{leaf_hash, CosignatureSigner, Hash, Note, NoteSigner};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tonic::Code;

fn witness(seed: u8, name: &str) -> CosignatureSigner {
    CosignatureSigner::new(name, SigningKey::from_bytes(&[seed; 32])).unwrap()
}

/// A board with a manifest naming two witnesses, and `notices` notices.
async fn board_with_witnesses(
    dir: &std::path::Path,
    notices: usize,
) -> (TestBoard, Vec<Vec<u8>>, [CosignatureSigner; 2]) {
    let verifier = board_key(dir);
    let admin = SigningKey::from_bytes(&[7; 32]);
    let ws = [
        witness(41, "witness.example.org/press"),
        witness(42, "witness.example.org/campaign"),
    ];
    let mut manifest = testkit::sample_manifest(&admin, &identity(&verifier), 7);
    manifest.witnesses = ws
        .iter()
        .map(|w| v1::Witness {
            name: w.name().to_owned(),
            key: w.verifier().verifying_key().to_bytes().to_vec(),
        })
        .collect();
    let election_id = manifest.election_id.clone();
    let (entry, fingerprint) = testkit::manifest_entry(&admin, manifest);
    let board = TestBoard::start(dir, Limits::default()).await;
    let mut client = board.client().await;
    let mut entries = vec![entry.clone()];
    client.append(entry).await.unwrap();
    for i in 0..notices {
        let e = testkit::notice_entry(&admin, &election_id, fingerprint, &format!("notice {i}"));
        client.append(e.clone()).await.unwrap();
        entries.push(e);
    }
    (board, entries, ws)
}

#[tokio::test]
async fn tracker_lookup_finds_proves_and_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let (board, entries, _) = board_with_witnesses(dir.path(), 5).await;
    let mut client = board.client().await;
    for (i, e) in entries.iter().enumerate() {
        let found = client
            .find_by_tracker(&leaf_hash(e))
            .await
            .unwrap()
            .expect("found");
        assert_eq!(found.index, i as u64);
        assert_eq!(&found.entry, e);
        assert_eq!(found.checkpoint.checkpoint().size(), entries.len() as u64);
    }
    // Not on the log: NotFound, which the client reports as None.
    assert!(client
        .find_by_tracker(&Hash([9; 32]))
        .await
        .unwrap()
        .is_none());
    let status = client
        .rpc()
        .get_entry_by_leaf_hash(pb::GetEntryByLeafHashRequest {
            leaf_hash: vec![9; 32],
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert!(status.message().starts_with("board.tracker:"));
    // A malformed tracker names the rule.
    for bad in [vec![], vec![1; 31], vec![1; 33], vec![0; 4096]] {
        let status = client
            .rpc()
            .get_entry_by_leaf_hash(pb::GetEntryByLeafHashRequest { leaf_hash: bad })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains("32-byte"), "{}", status.message());
    }
    board.stop().await;

    // The index survives a restart, and a database whose index is missing
    // (written before it existed) is re-indexed on open.
    let conn = rusqlite::Connection::open(dir.path().join("board.db")).unwrap();
    conn.execute_batch("DELETE FROM leaves; DELETE FROM meta WHERE key = 'leaves_upto';")
        .unwrap();
    drop(conn);
    let board = TestBoard::start(dir.path(), Limits::default()).await;
    let mut client = board.client().await;
    let found = client
        .find_by_tracker(&leaf_hash(&entries[3]))
        .await
        .unwrap()
        .expect("found after re-indexing");
    assert_eq!(found.index, 3);
    board.stop().await;
}

/// The board's current checkpoint note, cosigned by `w`.
async fn cosign(client: &mut tallyboard_board::BoardClient, w: &CosignatureSigner) -> Vec<u8> {
    let cp = client.checkpoint().await.unwrap();
    let mut note = cp.note().clone();
    note.sign(w).unwrap();
    note.to_bytes()
}

#[tokio::test]
async fn cosignatures_are_checked_stored_and_served() {
    let dir = tempfile::tempdir().unwrap();
    let (board, _, [press, campaign]) = board_with_witnesses(dir.path(), 2).await;
    let mut client = board.client().await;
    assert!(client.cosigned_checkpoint().await.unwrap().is_none());

    let note = cosign(&mut client, &press).await;
    let held = client.add_cosignature(note.clone()).await.unwrap();
    assert_eq!(held, vec!["witness.example.org/press".to_owned()]);
    // Again (idempotent) and by the second witness.
    client.add_cosignature(note).await.unwrap();
    let note = cosign(&mut client, &campaign).await;
    let held = client.add_cosignature(note).await.unwrap();
    assert_eq!(held.len(), 2);

    // Served with the latest checkpoint and as the cosigned one.
    let cosigned = client
        .cosigned_checkpoint()
        .await
        .unwrap()
        .expect("cosigned");
    let pv = press.verifier();
    let cv = campaign.verifier();
    let verified = cosigned.note().verify(&[&pv, &cv]).unwrap();
    assert_eq!(verified.len(), 2);
    let response = client
        .rpc()
        .get_checkpoint(pb::GetCheckpointRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.checkpoint, response.cosigned_checkpoint);
    assert_eq!(response.cosigned_tree_size, 3);

    // Refusals, each naming the rule.
    let refuse = |status: tonic::Status, code: Code, text: &str| {
        assert_eq!(status.code(), code, "{}", status.message());
        assert!(
            status.message().starts_with("board.cosignature:") && status.message().contains(text),
            "{}",
            status.message()
        );
    };
    // A witness the manifest does not name.
    let stranger = witness(43, "witness.example.org/stranger");
    let note = cosign(&mut client, &stranger).await;
    let status = client
        .rpc()
        .add_cosignature(pb::AddCosignatureRequest {
            cosigned_checkpoint: note,
        })
        .await
        .unwrap_err();
    refuse(
        status,
        Code::InvalidArgument,
        "not by a witness of the manifest",
    );
    // A right name with a wrong key is a different key ID: also unknown.
    let impostor = witness(44, "witness.example.org/press");
    let note = cosign(&mut client, &impostor).await;
    let status = client
        .rpc()
        .add_cosignature(pb::AddCosignatureRequest {
            cosigned_checkpoint: note,
        })
        .await
        .unwrap_err();
    refuse(status, Code::InvalidArgument, "not by a witness");
    // A broken signature.
    let mut note = Note::parse(&cosign(&mut client, &press).await).unwrap();
    let text = note.text().to_owned();
    let good = note.to_bytes();
    let mut bad = good.clone();
    let at = bad.len() - 6;
    bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
    let status = client
        .rpc()
        .add_cosignature(pb::AddCosignatureRequest {
            cosigned_checkpoint: bad,
        })
        .await
        .unwrap_err();
    assert!(matches!(status.code(), Code::InvalidArgument));
    // A checkpoint the board never signed (same size, other root).
    let forged_text = text.replace(
        text.lines().nth(2).unwrap(),
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    );
    let mut forged = Note::new(forged_text).unwrap();
    forged.sign(&press).unwrap();
    let status = client
        .rpc()
        .add_cosignature(pb::AddCosignatureRequest {
            cosigned_checkpoint: forged.to_bytes(),
        })
        .await
        .unwrap_err();
    refuse(
        status,
        Code::InvalidArgument,
        "differs from the one the board signed",
    );
    // A size the board has no checkpoint of.
    let other_size = text.replacen("\n3\n", "\n2000\n", 1);
    let mut unknown = Note::new(other_size).unwrap();
    unknown.sign(&press).unwrap();
    let status = client
        .rpc()
        .add_cosignature(pb::AddCosignatureRequest {
            cosigned_checkpoint: unknown.to_bytes(),
        })
        .await
        .unwrap_err();
    refuse(status, Code::NotFound, "no checkpoint of size 2000");
    // A timestamp far in the future.
    let late = witness(41, "witness.example.org/press").at(u64::from(u32::MAX) * 4);
    note = Note::parse(&good).unwrap();
    note.sign(&late).unwrap();
    let status = client
        .rpc()
        .add_cosignature(pb::AddCosignatureRequest {
            cosigned_checkpoint: note.to_bytes(),
        })
        .await
        .unwrap_err();
    refuse(status, Code::InvalidArgument, "ahead of the board's clock");
    // Garbage and oversize.
    for (bytes, text) in [
        (b"not a note".to_vec(), "not a signed note"),
        (vec![b'x'; 20_000], "at most"),
    ] {
        let status = client
            .rpc()
            .add_cosignature(pb::AddCosignatureRequest {
                cosigned_checkpoint: bytes,
            })
            .await
            .unwrap_err();
        refuse(status, Code::InvalidArgument, text);
    }
    board.stop().await;

    // Cosignatures are durable: served again after a restart.
    let board = TestBoard::start(dir.path(), Limits::default()).await;
    let mut client = board.client().await;
    let cosigned = client.cosigned_checkpoint().await.unwrap().expect("kept");
    assert_eq!(cosigned.note().verify(&[&pv, &cv]).unwrap().len(), 2);
    board.stop().await;
}

#[tokio::test]
async fn cosignature_before_the_manifest_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let board = TestBoard::start(dir.path(), Limits::default()).await;
    let mut client = board.client().await;
    let note = cosign(&mut client, &witness(41, "witness.example.org/press")).await;
    let status = client
        .rpc()
        .add_cosignature(pb::AddCosignatureRequest {
            cosigned_checkpoint: note,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    board.stop().await;
}

/// One HTTP/1.1 request on a new connection; the whole response.
async fn http1(addr: std::net::SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    out
}

fn grpc_web_request(path: &str, message: &[u8], origin: Option<&str>) -> Vec<u8> {
    let mut body = vec![0u8];
    body.extend_from_slice(&(message.len() as u32).to_be_bytes());
    body.extend_from_slice(message);
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: board\r\nContent-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(o) = origin {
        req.push_str(&format!("Origin: {o}\r\n"));
    }
    req.push_str("\r\n");
    let mut out = req.into_bytes();
    out.extend_from_slice(&body);
    out
}

/// Decodes chunked transfer encoding (what hyper sends for a gRPC-Web body).
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = body.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let len =
            usize::from_str_radix(std::str::from_utf8(&body[..end]).unwrap().trim(), 16).unwrap();
        if len == 0 {
            return out;
        }
        out.extend_from_slice(&body[end + 2..end + 2 + len]);
        body = &body[end + 2 + len + 2..];
    }
}

#[tokio::test]
async fn grpc_web_page_and_reflection() {
    use prost::Message as _;
    let dir = tempfile::tempdir().unwrap();
    let (board, entries, _) = board_with_witnesses(dir.path(), 1).await;

    // gRPC-Web over HTTP/1.1: a data frame, then a trailers frame.
    let raw = http1(
        board.addr,
        &grpc_web_request("/tallyboard.v1.Board/GetCheckpoint", &[], None),
    )
    .await;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        head.contains("content-type: application/grpc-web"),
        "{head}"
    );
    let body = if head.contains("transfer-encoding: chunked") {
        dechunk(&raw[split + 4..])
    } else {
        raw[split + 4..].to_vec()
    };
    assert_eq!(body[0], 0);
    let len = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
    let msg = pb::GetCheckpointResponse::decode(&body[5..5 + len]).unwrap();
    assert_eq!(msg.tree_size, entries.len() as u64);
    let trailers = &body[5 + len..];
    assert_eq!(trailers[0], 0x80);
    assert!(String::from_utf8_lossy(&trailers[5..]).contains("grpc-status:0"));

    // A gRPC-Web error keeps its code and rule.
    let req = pb::GetEntryByLeafHashRequest {
        leaf_hash: vec![1; 5],
    }
    .encode_to_vec();
    let raw = http1(
        board.addr,
        &grpc_web_request("/tallyboard.v1.Board/GetEntryByLeafHash", &req, None),
    )
    .await;
    let text = String::from_utf8_lossy(&raw);
    assert!(
        text.contains("grpc-status: 3") || text.contains("grpc-status:3"),
        "{text}"
    );

    // No CORS grant to a foreign origin unless configured.
    let raw = http1(
        board.addr,
        &grpc_web_request(
            "/tallyboard.v1.Board/GetCheckpoint",
            &[],
            Some("https://evil.example"),
        ),
    )
    .await;
    let text = String::from_utf8_lossy(&raw).to_lowercase();
    assert!(!text.contains("access-control-allow-origin"), "{text}");

    // The page, with its security headers; unknown paths are 404.
    let raw = http1(
        board.addr,
        b"GET / HTTP/1.1\r\nHost: board\r\nConnection: close\r\n\r\n",
    )
    .await;
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text
        .to_lowercase()
        .contains("content-security-policy: default-src 'self'"));
    assert!(text.contains("<html"));
    for path in ["/app.js", "/app.css"] {
        let raw = http1(
            board.addr,
            format!("GET {path} HTTP/1.1\r\nHost: board\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await;
        assert!(raw.starts_with(b"HTTP/1.1 200"), "{path}");
    }
    let raw = http1(
        board.addr,
        b"GET /../../etc/passwd HTTP/1.1\r\nHost: board\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(raw.starts_with(b"HTTP/1.1 404"));

    // Both reflection versions list the Board service.
    let channel = tonic::transport::Endpoint::from_shared(board.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    // The two versions' generated types differ only in their module.
    macro_rules! lists_board {
        ($v:ident) => {{
            use tonic_reflection::pb::$v::{
                server_reflection_client::ServerReflectionClient, server_reflection_request,
                server_reflection_response, ServerReflectionRequest,
            };
            let mut c = ServerReflectionClient::new(channel.clone());
            let req = ServerReflectionRequest {
                host: String::new(),
                message_request: Some(server_reflection_request::MessageRequest::ListServices(
                    String::new(),
                )),
            };
            let mut stream = c
                .server_reflection_info(tokio_stream::iter([req]))
                .await
                .unwrap()
                .into_inner();
            let resp = stream.message().await.unwrap().unwrap();
            let Some(server_reflection_response::MessageResponse::ListServicesResponse(list)) =
                resp.message_response
            else {
                panic!("no service list ({})", stringify!($v));
            };
            assert!(list.service.iter().any(|s| s.name == "tallyboard.v1.Board"));
        }};
    }
    lists_board!(v1);
    lists_board!(v1alpha);
    board.stop().await;
}
