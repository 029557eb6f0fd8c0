//! A real board on a loopback port, an election set up through it (manifest,
//! key ceremony with three trustees, election key, voting open), and
//! credentials issued for it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use ed25519_dalek::SigningKey;
use rand_core::OsRng;
use tallyboard_board::{
    keys, serve_with_listener, BoardClient, BoardConfig, ServeError, VerifiedReceipt,
};
use tallyboard_client::Credential;
use tallyboard_proto::v1::{self, entry_body::Payload};
use tallyboard_protocol::testkit::{
    election_key_payload, entry, manifest_entry, phase_entry, sample_credential, sample_issuer_key,
    sample_manifest, sample_trustee_key,
};
use tallyboard_protocol::{BoardIdentity, RecordState};
use tallyboard_threshold::{DkgMessage, Trustee, TrusteeKeyPair};
use tallyboard_tlog::{Ed25519Verifier, NoteVerifier as _};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const ORIGIN: &str = "tallyboard/client-test";

/// A board served in this process.
pub struct TestBoard {
    pub addr: std::net::SocketAddr,
    pub verifier: Ed25519Verifier,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServeError>>>,
}

impl TestBoard {
    pub async fn start(dir: &Path) -> TestBoard {
        let verifier = keys::load_or_create_key(dir, ORIGIN).unwrap().verifier();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let config = BoardConfig::new(dir, addr, ORIGIN);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve_with_listener(config, listener, async {
            let _ = stopped.await;
        }));
        TestBoard {
            addr,
            verifier,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn client(&self) -> BoardClient {
        connect(&self.url(), &self.verifier).await
    }

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
            Ok(mut c) => {
                if c.checkpoint().await.is_ok() {
                    return c;
                }
            }
            Err(e) if std::time::Instant::now() >= deadline => {
                panic!("cannot connect to {url}: {e}")
            }
            Err(_) => {}
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

pub fn identity(board: &Ed25519Verifier) -> BoardIdentity {
    BoardIdentity {
        origin: board.name().to_owned(),
        key: *board.verifying_key(),
    }
}

/// An election run through a real board by its administrator, trustees and
/// issuer.
pub struct World {
    pub _dir: tempfile::TempDir,
    pub board: TestBoard,
    pub client: BoardClient,
    pub seed: u8,
    pub admin: SigningKey,
    pub eid: String,
    pub fp: [u8; 32],
    issued: u64,
}

impl World {
    /// Board, manifest, key ceremony, election key, voting open.
    pub async fn start(seed: u8) -> World {
        Self::start_with(seed, |_| {}).await
    }

    pub async fn start_with(seed: u8, edit: impl FnOnce(&mut v1::Manifest)) -> World {
        let dir = tempfile::tempdir().unwrap();
        let board = TestBoard::start(dir.path()).await;
        let mut client = board.client().await;
        let admin = SigningKey::from_bytes(&[seed; 32]);
        let mut manifest = sample_manifest(&admin, &identity(&board.verifier), seed);
        edit(&mut manifest);
        let eid = manifest.election_id.clone();
        let (bytes, fp) = manifest_entry(&admin, manifest);
        // A local mirror of the record, for the trustees' view of the ceremony.
        let mut st = RecordState::new(identity(&board.verifier));
        st.check_and_apply(&bytes).unwrap();
        client.append(bytes).await.unwrap();
        let mut w = World {
            _dir: dir,
            board,
            client,
            seed,
            admin,
            eid,
            fp,
            issued: 0,
        };
        let e = phase_entry(&w.admin, &w.eid, w.fp, v1::Phase::KeyCeremony);
        post_mirrored(&mut w.client, &mut st, e).await;

        let params = *st.dkg().unwrap().params();
        let tkeys: Vec<SigningKey> = (1..=3).map(|i| sample_trustee_key(seed, i)).collect();
        let mut trustees: Vec<Trustee> = (1..=3u8)
            .map(|i| {
                Trustee::new(params, i, TrusteeKeyPair::generate(&mut OsRng), &mut OsRng).unwrap()
            })
            .collect();
        let dkg = |k: &SigningKey, m: DkgMessage, w: &World| {
            entry(
                k,
                &w.eid,
                w.fp,
                Payload::Dkg(v1::DkgMessage {
                    message: m.to_bytes(),
                }),
            )
        };
        for (t, k) in trustees.iter_mut().zip(&tkeys) {
            let a = t.announce(&mut OsRng).unwrap();
            let e = dkg(k, DkgMessage::KeyAnnouncement(a), &w);
            post_mirrored(&mut w.client, &mut st, e).await;
        }
        for (t, k) in trustees.iter_mut().zip(&tkeys) {
            let c = t.commit().unwrap();
            let e = dkg(k, DkgMessage::Commitment(c), &w);
            post_mirrored(&mut w.client, &mut st, e).await;
        }
        for i in 0..3 {
            let r = trustees[i].reveal(st.dkg().unwrap(), &mut OsRng).unwrap();
            let e = dkg(&tkeys[i], DkgMessage::Reveal(r), &w);
            post_mirrored(&mut w.client, &mut st, e).await;
        }
        let mut outcome = None;
        for t in &mut trustees {
            assert!(t
                .complain(st.dkg().unwrap(), &mut OsRng)
                .unwrap()
                .is_empty());
            let (_share, out) = t.finish(st.dkg().unwrap()).unwrap();
            outcome = Some(out);
        }
        let outcome = outcome.unwrap();
        let ek = election_key_payload(&outcome.public_key, &outcome.qualification.qualified);
        let e = entry(&w.admin, &w.eid, w.fp, Payload::ElectionKey(ek));
        post_mirrored(&mut w.client, &mut st, e).await;
        let e = phase_entry(&w.admin, &w.eid, w.fp, v1::Phase::VotingOpen);
        post_mirrored(&mut w.client, &mut st, e).await;
        w
    }

    /// Posts an entry signed by `key`.
    pub async fn post(&mut self, key: &SigningKey, payload: Payload) -> VerifiedReceipt {
        let e = entry(key, &self.eid, self.fp, payload);
        self.client.append(e).await.unwrap()
    }

    /// An administrator notice.
    pub async fn notice(&mut self, text: &str) {
        let admin = self.admin.clone();
        self.post(&admin, Payload::Notice(v1::Notice { text: text.into() }))
            .await;
    }

    /// A phase change.
    pub async fn phase(&mut self, p: v1::Phase) {
        let e = phase_entry(&self.admin, &self.eid, self.fp, p);
        self.client.append(e).await.unwrap();
    }

    /// Records one issuance (as the issuer would).
    pub async fn record_issuance(&mut self, district: &str) {
        let issuer = sample_issuer_key(self.seed);
        let n = self.issued;
        self.issued += 1;
        let mut h = [0u8; 32];
        h[..8].copy_from_slice(&n.to_le_bytes());
        h[8] = self.seed;
        self.post(
            &issuer,
            Payload::Issuance(v1::Issuance {
                voter_id_hash: h.to_vec(),
                district: district.into(),
                issued_unix_ms: 0,
            }),
        )
        .await;
    }

    /// Issues `n` credentials for district `d1` (issuance entries on the
    /// board, credentials blind-signed by the test issuer key).
    pub async fn credentials(&mut self, n: u64) -> Vec<Credential> {
        let mut out = Vec::new();
        for _ in 0..n {
            self.record_issuance("d1").await;
            let (key, sig, rnd) =
                sample_credential(&self.fp, self.issued + 1000 * u64::from(self.seed));
            out.push(Credential::new(key, self.fp, "d1", sig, rnd));
        }
        out
    }

    /// A fresh verifying client of the board.
    pub async fn voter_client(&self) -> BoardClient {
        self.board.client().await
    }

    /// Replays the whole record through the rules (as the verifier does).
    pub async fn record(&mut self) -> RecordState {
        let mut st = RecordState::new(identity(&self.board.verifier));
        loop {
            let (page, size) = self.client.list_entries(st.len(), 0).await.unwrap();
            for e in page {
                st.check_and_apply(&e.entry).unwrap();
            }
            if st.len() >= size {
                return st;
            }
        }
    }
}

async fn post_mirrored(client: &mut BoardClient, st: &mut RecordState, bytes: Vec<u8>) {
    st.check_and_apply(&bytes).unwrap();
    client.append(bytes).await.unwrap();
}
