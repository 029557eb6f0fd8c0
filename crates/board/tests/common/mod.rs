//! Shared helpers of the board's integration tests: a board served on a
//! loopback port, its admin, and entry builders.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use ed25519_dalek::SigningKey;
use tallyboard_board::{keys, serve_with_listener, BoardClient, BoardConfig, Limits, ServeError};
use tallyboard_protocol::{testkit, BoardIdentity};
use tallyboard_tlog::{Ed25519Verifier, NoteVerifier};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Origin used by the tests.
pub const ORIGIN: &str = "tallyboard/test";

/// The election's administrator and what it needs to sign entries.
#[derive(Clone)]
pub struct Admin {
    pub key: SigningKey,
    pub election_id: String,
    pub fingerprint: [u8; 32],
    counter: std::sync::Arc<AtomicU64>,
}

impl Admin {
    /// The admin for seed `seed`, with the manifest entry for `board`.
    pub fn new(board: &Ed25519Verifier, seed: u8) -> (Admin, Vec<u8>) {
        let key = SigningKey::from_bytes(&[seed; 32]);
        let identity = identity(board);
        let manifest = testkit::sample_manifest(&key, &identity, seed);
        let election_id = manifest.election_id.clone();
        let (entry, fingerprint) = testkit::manifest_entry(&key, manifest);
        (
            Admin {
                key,
                election_id,
                fingerprint,
                counter: Default::default(),
            },
            entry,
        )
    }

    /// A fresh notice (unique text).
    pub fn notice(&self) -> Vec<u8> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        self.notice_text(&format!("notice {n}"))
    }

    /// A notice with `text`.
    pub fn notice_text(&self, text: &str) -> Vec<u8> {
        testkit::notice_entry(&self.key, &self.election_id, self.fingerprint, text)
    }
}

/// The board identity of a verifier key.
pub fn identity(board: &Ed25519Verifier) -> BoardIdentity {
    BoardIdentity {
        origin: board.name().to_owned(),
        key: *board.verifying_key(),
    }
}

/// The board key of `dir` (creating it).
pub fn board_key(dir: &Path) -> Ed25519Verifier {
    keys::load_or_create_key(dir, ORIGIN).unwrap().verifier()
}

/// A board served in this process on a loopback port.
pub struct TestBoard {
    pub dir: PathBuf,
    pub addr: SocketAddr,
    pub verifier: Ed25519Verifier,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServeError>>>,
}

impl TestBoard {
    /// Starts a board on `dir` with `limits`.
    pub async fn start(dir: &Path, limits: Limits) -> TestBoard {
        Self::start_with(dir, limits, None).await
    }

    /// Starts a board on `dir` with `limits` and optional TLS files.
    pub async fn start_with(
        dir: &Path,
        limits: Limits,
        tls: Option<tallyboard_board::TlsFiles>,
    ) -> TestBoard {
        let verifier = board_key(dir);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = BoardConfig::new(dir, addr, ORIGIN);
        config.limits = limits;
        config.tls = tls;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve_with_listener(config, listener, async {
            let _ = stopped.await;
        }));
        TestBoard {
            dir: dir.to_owned(),
            addr,
            verifier,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// The `http://` URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A new verifying client (its own connection).
    pub async fn client(&self) -> BoardClient {
        connect(&self.url(), &self.verifier).await
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

/// Connects, retrying while the server is still opening.
pub async fn connect(url: &str, verifier: &Ed25519Verifier) -> BoardClient {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        match BoardClient::connect(url, verifier.clone(), None).await {
            Ok(c) => return c,
            Err(e) if std::time::Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Err(e) => panic!("cannot connect to {url}: {e}"),
        }
    }
}

/// Fetches every entry of the log.
pub async fn all_entries(client: &mut BoardClient) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let (page, size) = client.list_entries(out.len() as u64, 0).await.unwrap();
        out.extend(page.into_iter().map(|e| e.entry));
        if out.len() as u64 >= size {
            return out;
        }
    }
}
