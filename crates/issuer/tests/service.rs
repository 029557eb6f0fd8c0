//! The issuer over real gRPC on loopback, against a real board
//! (`spec/issuer.md` §4, §5).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use prost::Message;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use tallyboard_board::{BoardClient, BoardConfig};
use tallyboard_issuer::codes::Argon2Profile;
use tallyboard_issuer::credential::{blind, finalize, TEST_RSA_BITS};
use tallyboard_issuer::datadir::{load_keys, DB_FILE};
use tallyboard_issuer::issue::rules;
use tallyboard_issuer::server::{serve_started, start, StartedIssuer};
use tallyboard_issuer::store::{CodeState, Redemption, Store};
use tallyboard_issuer::{
    init_data_dir, obtain_credential, verify_credential, voter_id_hash, BlindingSecret,
    InitOptions, IssuedCode, IssuerConfig, IssuerLimits, IssuerPublicKey, ObtainError, Roll,
    ServeError,
};
use tallyboard_proto::v1 as pb;
use tallyboard_protocol::{testkit, BoardIdentity};
use tallyboard_tlog::Ed25519Verifier;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::Code;

const ORIGIN: &str = "tallyboard/issuer-test";

struct Board {
    url: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Board {
    async fn start(dir: &Path) -> Board {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let config = BoardConfig::new(dir, addr, ORIGIN);
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            tallyboard_board::serve_with_listener(config, listener, async {
                let _ = rx.await;
            })
            .await
            .expect("board");
        });
        Board {
            url: format!("http://{addr}"),
            stop: Some(tx),
            task: Some(task),
        }
    }

    async fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("board task");
        }
    }
}

struct Issuer {
    url: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    recovery: tallyboard_issuer::issue::RecoveryReport,
}

impl Issuer {
    async fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("issuer task");
        }
    }
}

struct Harness {
    _tmp: tempfile::TempDir,
    issuer_dir: PathBuf,
    board_dir: PathBuf,
    board: Board,
    board_key: Ed25519Verifier,
    codes: Vec<IssuedCode>,
    keys: BTreeMap<String, IssuerPublicKey>,
    fingerprint: [u8; 32],
}

fn test_limits() -> IssuerLimits {
    IssuerLimits {
        address_burst: 1000,
        address_per_minute: 6000,
        lockout: Duration::from_secs(600),
        ..IssuerLimits::default()
    }
}

impl Harness {
    /// An issuer data directory for a small roll, a running board, and a
    /// manifest naming the issuer's keys (or other keys, if `foreign`).
    async fn new(foreign: bool) -> Harness {
        let tmp = tempfile::tempdir().expect("tempdir");
        let issuer_dir = tmp.path().join("issuer");
        let board_dir = tmp.path().join("board");
        let roll = Roll::parse_csv(
            "voter_id,district\nalice,d1\nbob,d1\ncarol,d2\ndave,d2\nerin,d1\nfrank,d2\n",
        )
        .expect("roll");
        let init = init_data_dir(
            &issuer_dir,
            &roll,
            &InitOptions {
                rsa_bits: TEST_RSA_BITS,
                argon2: Argon2Profile::Fast,
                write_codes_file: false,
            },
        )
        .expect("init");

        let signer =
            tallyboard_board::keys::load_or_create_key(&board_dir, ORIGIN).expect("board key");
        let board_key = signer.verifier();
        let board = Board::start(&board_dir).await;

        let admin = SigningKey::from_bytes(&[3; 32]);
        let identity = BoardIdentity {
            origin: ORIGIN.into(),
            key: *board_key.verifying_key(),
        };
        let mut manifest = testkit::sample_manifest(&admin, &identity, 5);
        let template = manifest.districts[0].clone();
        if !foreign {
            manifest.issuer_signing_key = init.signing_key.to_bytes().to_vec();
            manifest.districts = init
                .district_keys
                .iter()
                .map(|(id, key)| pb::District {
                    id: id.clone(),
                    name: format!("District {id}"),
                    issuer_rsa_key: key.to_der().to_vec(),
                    ..template.clone()
                })
                .collect();
        }
        let (entry, fingerprint) = testkit::manifest_entry(&admin, manifest);
        let mut client = BoardClient::connect(&board.url, board_key.clone(), None)
            .await
            .expect("board client");
        client.append(entry).await.expect("manifest appended");
        Harness {
            _tmp: tmp,
            issuer_dir,
            board_dir,
            board,
            board_key,
            codes: init.codes,
            keys: init.district_keys,
            fingerprint,
        }
    }

    fn config(&self, limits: IssuerLimits) -> IssuerConfig {
        let mut c = IssuerConfig::new(
            &self.issuer_dir,
            "127.0.0.1:0".parse::<SocketAddr>().expect("addr"),
            self.board.url.clone(),
        );
        c.limits = limits;
        c.board_key = Some(self.board_key.to_vkey());
        c
    }

    async fn start_issuer(&self, limits: IssuerLimits) -> Issuer {
        let config = self.config(limits);
        let started: StartedIssuer = start(&config).await.expect("issuer start");
        let recovery = started.recovery;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            serve_started(&started, &config, listener, async {
                let _ = rx.await;
            })
            .await
            .expect("issuer");
        });
        Issuer {
            url: format!("http://{addr}"),
            stop: Some(tx),
            task: Some(task),
            recovery,
        }
    }

    fn code(&self, voter: &str) -> &IssuedCode {
        self.codes
            .iter()
            .find(|c| c.voter_id == voter)
            .expect("voter on the roll")
    }

    async fn entries(&self) -> Vec<Vec<u8>> {
        let mut client = BoardClient::connect(&self.board.url, self.board_key.clone(), None)
            .await
            .expect("board client");
        let (page, _) = client.list_entries(0, 0).await.expect("list");
        page.into_iter().map(|e| e.entry).collect()
    }

    async fn issuances(&self) -> Vec<(u64, pb::Issuance, Vec<u8>)> {
        self.entries()
            .await
            .into_iter()
            .enumerate()
            .filter_map(|(i, bytes)| {
                let entry = pb::Entry::decode(bytes.as_slice()).expect("entry");
                let body = pb::EntryBody::decode(entry.body.as_slice()).expect("body");
                match body.payload {
                    Some(pb::entry_body::Payload::Issuance(iss)) => {
                        Some((i as u64, iss, body.author_key))
                    }
                    _ => None,
                }
            })
            .collect()
    }
}

async fn rpc(url: &str) -> pb::issuer_client::IssuerClient<tonic::transport::Channel> {
    pb::issuer_client::IssuerClient::connect(url.to_string())
        .await
        .expect("issuer client")
}

/// A blinded request for `voter` with a fresh credential key.
fn request(
    h: &Harness,
    voter: &str,
    code: &str,
    seed: u64,
) -> (pb::IssueCredentialRequest, BlindingSecret, [u8; 32]) {
    let c = h.code(voter);
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let cred = SigningKey::generate(&mut rng).verifying_key().to_bytes();
    let (blinded, secret) =
        blind(&h.keys[&c.district], &h.fingerprint, &cred, &mut rng).expect("blind");
    (
        pb::IssueCredentialRequest {
            voter_id: voter.into(),
            enrollment_code: code.into(),
            blinded_message: blinded,
            district: c.district.clone(),
        },
        secret,
        cred,
    )
}

fn wrong_code(h: &Harness, voter: &str) -> String {
    // A well-formed code that is someone else's.
    h.codes
        .iter()
        .find(|c| c.voter_id != voter)
        .expect("another voter")
        .code
        .display()
        .to_string()
}

fn assert_status(
    r: Result<tonic::Response<pb::IssueCredentialResponse>, tonic::Status>,
    code: Code,
    rule: &str,
) -> tonic::Status {
    let s = r.expect_err("refused");
    assert_eq!(s.code(), code, "{s:?}");
    assert!(s.message().contains(rule), "{s:?} should name {rule}");
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn happy_path_and_public_record() {
    let mut h = Harness::new(false).await;
    let mut issuer = h.start_issuer(test_limits()).await;

    let alice = h.code("alice");
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let cred = obtain_credential(
        &issuer.url,
        "alice",
        &alice.code.display(),
        "d1",
        &h.fingerprint,
        &h.keys,
        &mut rng,
    )
    .await
    .expect("credential");
    assert_eq!(cred.district, "d1");
    assert!(!format!("{cred:?}").contains(&hex::encode(cred.signing_key.as_bytes())));

    // Anyone can verify it against the manifest's district key.
    verify_credential(
        h.keys["d1"].to_der(),
        &h.fingerprint,
        cred.signing_key.verifying_key().as_bytes(),
        &cred.signature,
        &cred.randomizer,
    )
    .expect("credential verifies");
    assert!(verify_credential(
        h.keys["d2"].to_der(),
        &h.fingerprint,
        cred.signing_key.verifying_key().as_bytes(),
        &cred.signature,
        &cred.randomizer,
    )
    .is_err());

    // The Issuance entry is on the board, signed by the issuer key.
    let issuances = h.issuances().await;
    assert_eq!(issuances.len(), 1);
    let (index, iss, author) = &issuances[0];
    assert_eq!(*index, cred.issuance_entry);
    assert_eq!(
        iss.voter_id_hash,
        voter_id_hash(&h.fingerprint, "alice").to_vec()
    );
    assert_eq!(iss.district, "d1");
    let signing = load_keys(&h.issuer_dir, &[]).expect("keys").signing;
    assert_eq!(author, &signing.verifying_key().to_bytes().to_vec());

    // GetIssuerKeys answers the manifest's keys.
    let keys = rpc(&issuer.url)
        .await
        .get_issuer_keys(pb::GetIssuerKeysRequest {})
        .await
        .expect("keys")
        .into_inner()
        .keys;
    let got: BTreeMap<_, _> = keys
        .into_iter()
        .map(|k| (k.district, k.rsa_public_key))
        .collect();
    assert_eq!(got.len(), 2);
    assert_eq!(got["d1"], h.keys["d1"].to_der());

    // Health reports the service as serving.
    let channel = tonic::transport::Endpoint::from_shared(issuer.url.clone())
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "tallyboard.v1.Issuer".into(),
        })
        .await
        .expect("health check")
        .into_inner();
    assert_eq!(
        status.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    issuer.stop().await;
    h.board.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_code_unknown_voter_and_reuse() {
    let mut h = Harness::new(false).await;
    let mut issuer = h.start_issuer(test_limits()).await;
    let mut client = rpc(&issuer.url).await;

    // Wrong code for a voter on the roll.
    let (req, _, _) = request(&h, "bob", &wrong_code(&h, "bob"), 1);
    let wrong = assert_status(
        client.issue_credential(req).await,
        Code::PermissionDenied,
        rules::CREDENTIALS,
    );

    // A voter id not on the roll: the very same answer.
    let (mut req, _, _) = request(&h, "bob", &wrong_code(&h, "bob"), 2);
    req.voter_id = "mallory".into();
    let unknown = assert_status(
        client.issue_credential(req).await,
        Code::PermissionDenied,
        rules::CREDENTIALS,
    );
    assert_eq!(wrong.message(), unknown.message());
    // Even with a real code of someone else.
    let (mut req, _, _) = request(&h, "bob", &h.code("alice").code.display(), 3);
    req.voter_id = "mallory".into();
    let unknown2 = assert_status(
        client.issue_credential(req).await,
        Code::PermissionDenied,
        rules::CREDENTIALS,
    );
    assert_eq!(wrong.message(), unknown2.message());

    // A mistyped code is refused before any check, whoever asks.
    let (mut req, _, _) = request(&h, "bob", "not-a-code", 4);
    req.voter_id = "mallory".into();
    assert_status(
        client.issue_credential(req).await,
        Code::InvalidArgument,
        rules::CODE_FORMAT,
    );

    // The right code works once.
    let bob = h.code("bob").code.display().to_string();
    let (req, secret, cred) = request(&h, "bob", &bob, 5);
    let first = client
        .issue_credential(req.clone())
        .await
        .expect("issued")
        .into_inner();
    let sig = finalize(&h.keys["d1"], &secret, &first.blind_signature).expect("finalize");
    verify_credential(
        h.keys["d1"].to_der(),
        &h.fingerprint,
        &cred,
        &sig.signature,
        &sig.randomizer,
    )
    .expect("verifies");

    // The same request again (a lost answer): the same signature, no new entry.
    let again = client
        .issue_credential(req)
        .await
        .expect("re-delivered")
        .into_inner();
    assert_eq!(again, first);

    // Another blinded message with the used code: refused.
    let (req, _, _) = request(&h, "bob", &bob, 6);
    assert_status(
        client.issue_credential(req).await,
        Code::AlreadyExists,
        rules::CODE_USED,
    );
    // Through the client helper too.
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let err = obtain_credential(
        &issuer.url,
        "bob",
        &bob,
        "d1",
        &h.fingerprint,
        &h.keys,
        &mut rng,
    )
    .await
    .expect_err("reused");
    assert!(
        matches!(&err, ObtainError::Status(s) if s.code() == Code::AlreadyExists),
        "{err}"
    );

    let issuances = h.issuances().await;
    assert_eq!(issuances.len(), 1, "exactly one Issuance for bob");
    assert_eq!(
        issuances[0].1.voter_id_hash,
        voter_id_hash(&h.fingerprint, "bob").to_vec()
    );

    issuer.stop().await;
    h.board.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_do_not_spend_the_code() {
    let mut h = Harness::new(false).await;
    let mut issuer = h.start_issuer(test_limits()).await;
    let mut client = rpc(&issuer.url).await;
    let carol = h.code("carol").code.display().to_string();

    // Wrong length.
    let (mut req, _, _) = request(&h, "carol", &carol, 1);
    req.blinded_message.truncate(100);
    assert_status(
        client.issue_credential(req).await,
        Code::InvalidArgument,
        rules::BLINDED_MESSAGE,
    );
    // Empty, and longer than any modulus.
    let (mut req, _, _) = request(&h, "carol", &carol, 1);
    req.blinded_message.clear();
    assert_status(
        client.issue_credential(req).await,
        Code::InvalidArgument,
        rules::BLINDED_MESSAGE,
    );
    let (mut req, _, _) = request(&h, "carol", &carol, 1);
    req.blinded_message = vec![1; 513];
    assert_status(
        client.issue_credential(req).await,
        Code::InvalidArgument,
        rules::BLINDED_MESSAGE,
    );
    // Right length, not below the modulus.
    let (mut req, _, _) = request(&h, "carol", &carol, 1);
    req.blinded_message = vec![0xff; 256];
    assert_status(
        client.issue_credential(req).await,
        Code::InvalidArgument,
        rules::BLINDED_MESSAGE,
    );
    // Blinded under the other district's key.
    let (mut req, _, _) = request(&h, "carol", &carol, 1);
    req.district = "d1".into();
    assert_status(
        client.issue_credential(req).await,
        Code::InvalidArgument,
        rules::DISTRICT,
    );
    // Oversized fields.
    let (mut req, _, _) = request(&h, "carol", &carol, 1);
    req.voter_id = "x".repeat(300);
    assert_status(
        client.issue_credential(req).await,
        Code::InvalidArgument,
        rules::REQUEST_FIELDS,
    );
    let (mut req, _, _) = request(&h, "carol", &carol, 1);
    req.district.clear();
    assert_status(
        client.issue_credential(req).await,
        Code::InvalidArgument,
        rules::REQUEST_FIELDS,
    );
    // A message over the size limit never reaches the service.
    let (mut req, _, _) = request(&h, "carol", &carol, 1);
    req.enrollment_code = "A".repeat(10_000);
    let s = client.issue_credential(req).await.expect_err("too big");
    assert!(
        matches!(
            s.code(),
            Code::OutOfRange | Code::ResourceExhausted | Code::Internal
        ),
        "{s:?}"
    );

    // None of that spent the code or locked the voter.
    let (req, secret, cred) = request(&h, "carol", &carol, 2);
    let ok = client
        .issue_credential(req)
        .await
        .expect("issued")
        .into_inner();
    let sig = finalize(&h.keys["d2"], &secret, &ok.blind_signature).expect("finalize");
    verify_credential(
        h.keys["d2"].to_der(),
        &h.fingerprint,
        &cred,
        &sig.signature,
        &sig.randomizer,
    )
    .expect("verifies");

    issuer.stop().await;
    h.board.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits() {
    let mut h = Harness::new(false).await;
    let limits = IssuerLimits {
        address_burst: 1000,
        address_per_minute: 6000,
        max_failures: 5,
        lockout: Duration::from_secs(600),
        ..IssuerLimits::default()
    };
    let mut issuer = h.start_issuer(limits).await;
    let mut client = rpc(&issuer.url).await;

    // Five failures lock a voter id on the roll...
    for i in 0..5 {
        let (req, _, _) = request(&h, "dave", &wrong_code(&h, "dave"), i);
        assert_status(
            client.issue_credential(req).await,
            Code::PermissionDenied,
            rules::CREDENTIALS,
        );
    }
    let dave = h.code("dave").code.display().to_string();
    let (req, _, _) = request(&h, "dave", &dave, 9);
    let locked = assert_status(
        client.issue_credential(req).await,
        Code::ResourceExhausted,
        rules::RATE_VOTER,
    );
    // ...and one that is not: the same behaviour, so a lockout reveals nothing.
    for i in 0..5 {
        let (mut req, _, _) = request(&h, "dave", &wrong_code(&h, "dave"), i);
        req.voter_id = "nobody".into();
        assert_status(
            client.issue_credential(req).await,
            Code::PermissionDenied,
            rules::CREDENTIALS,
        );
    }
    let (mut req, _, _) = request(&h, "dave", &dave, 9);
    req.voter_id = "nobody".into();
    assert_status(
        client.issue_credential(req).await,
        Code::ResourceExhausted,
        rules::RATE_VOTER,
    );

    // The lock is persisted: it survives a restart.
    issuer.stop().await;
    let mut issuer = h
        .start_issuer(IssuerLimits {
            address_burst: 3,
            address_per_minute: 0,
            ..test_limits()
        })
        .await;
    let mut client = rpc(&issuer.url).await;
    let (req, _, _) = request(&h, "dave", &dave, 9);
    let again = assert_status(
        client.issue_credential(req).await,
        Code::ResourceExhausted,
        rules::RATE_VOTER,
    );
    assert!(locked.message().contains("locked") && again.message().contains("locked"));

    // Per address: a burst of 3, no refill in this configuration.
    for _ in 0..2 {
        let (req, _, _) = request(&h, "erin", &wrong_code(&h, "erin"), 1);
        assert_status(
            client.issue_credential(req).await,
            Code::PermissionDenied,
            rules::CREDENTIALS,
        );
    }
    let erin = h.code("erin").code.display().to_string();
    let (req, _, _) = request(&h, "erin", &erin, 1);
    assert_status(
        client.issue_credential(req).await,
        Code::ResourceExhausted,
        rules::RATE_ADDRESS,
    );

    issuer.stop().await;
    h.board.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn board_outage_leaves_a_pending_code_that_recovers() {
    let mut h = Harness::new(false).await;
    let mut issuer = h.start_issuer(test_limits()).await;
    let mut client = rpc(&issuer.url).await;
    let frank = h.code("frank").code.display().to_string();
    let (req, secret, cred) = request(&h, "frank", &frank, 1);

    // The board goes away: the code is reserved for this blinded message.
    h.board.stop().await;
    assert_status(
        client.issue_credential(req.clone()).await,
        Code::Unavailable,
        rules::BOARD_UNAVAILABLE,
    );
    // Another blinded message cannot take it.
    let (other, _, _) = request(&h, "frank", &frank, 2);
    assert_status(
        client.issue_credential(other.clone()).await,
        Code::AlreadyExists,
        rules::CODE_USED,
    );
    issuer.stop().await;
    {
        let store = Store::open(&h.issuer_dir.join(DB_FILE)).expect("db");
        let row = store.voter("frank").expect("voter").expect("frank");
        assert_eq!(row.state, CodeState::Pending);
    }

    // Board back (new address), issuer restarted: recovery posts the entry.
    h.board = Board::start(&h.board_dir).await;
    let mut issuer = h.start_issuer(test_limits()).await;
    assert_eq!(issuer.recovery.completed, 1);
    let issuances = h.issuances().await;
    assert_eq!(issuances.len(), 1);
    assert_eq!(
        issuances[0].1.voter_id_hash,
        voter_id_hash(&h.fingerprint, "frank").to_vec()
    );

    // The voter retries the same request and gets the signature.
    let mut client = rpc(&issuer.url).await;
    let ok = client
        .issue_credential(req)
        .await
        .expect("issued")
        .into_inner();
    assert_eq!(ok.issuance_entry, issuances[0].0);
    let sig = finalize(&h.keys["d2"], &secret, &ok.blind_signature).expect("finalize");
    verify_credential(
        h.keys["d2"].to_der(),
        &h.fingerprint,
        &cred,
        &sig.signature,
        &sig.randomizer,
    )
    .expect("verifies");
    assert_status(
        client.issue_credential(other).await,
        Code::AlreadyExists,
        rules::CODE_USED,
    );
    assert_eq!(
        h.issuances().await.len(),
        1,
        "never two Issuance entries for one voter"
    );

    issuer.stop().await;
    h.board.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_after_posting_is_recovered_from_the_board() {
    let mut h = Harness::new(false).await;
    // Simulate a crash after the entry reached the board but before the
    // code was marked Issued: Pending in the database, entry on the board.
    let (req, secret, cred) = request(&h, "alice", &h.code("alice").code.display(), 1);
    let signing = load_keys(&h.issuer_dir, &[]).expect("keys").signing;
    let entry = testkit::entry(
        &signing,
        "test-5",
        h.fingerprint,
        pb::entry_body::Payload::Issuance(pb::Issuance {
            voter_id_hash: voter_id_hash(&h.fingerprint, "alice").to_vec(),
            district: "d1".into(),
            issued_unix_ms: 1,
        }),
    );
    {
        let store = Store::open(&h.issuer_dir.join(DB_FILE)).expect("db");
        assert_eq!(
            store
                .begin_redemption("alice", &req.blinded_message, &entry, 0, 1)
                .expect("pending"),
            Redemption::Started
        );
    }
    let mut board = BoardClient::connect(&h.board.url, h.board_key.clone(), None)
        .await
        .expect("board");
    let posted = board.append(entry).await.expect("posted");

    let mut issuer = h.start_issuer(test_limits()).await;
    assert_eq!(issuer.recovery.completed, 1);
    assert_eq!(h.issuances().await.len(), 1);
    let mut client = rpc(&issuer.url).await;
    let ok = client
        .issue_credential(req)
        .await
        .expect("issued")
        .into_inner();
    assert_eq!(ok.issuance_entry, posted.index);
    let sig = finalize(&h.keys["d1"], &secret, &ok.blind_signature).expect("finalize");
    verify_credential(
        h.keys["d1"].to_der(),
        &h.fingerprint,
        &cred,
        &sig.signature,
        &sig.randomizer,
    )
    .expect("verifies");

    issuer.stop().await;
    h.board.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_a_manifest_with_other_keys() {
    let mut h = Harness::new(true).await;
    let err = start(&h.config(test_limits()))
        .await
        .expect_err("foreign manifest");
    assert!(matches!(err, ServeError::Manifest(_)), "{err}");
    // A pinned board key that is not the manifest's is refused too.
    let mut config = h.config(test_limits());
    config.board_key = Some(
        Ed25519Verifier::new(ORIGIN, SigningKey::from_bytes(&[9; 32]).verifying_key())
            .expect("vkey")
            .to_vkey(),
    );
    assert!(matches!(start(&config).await, Err(ServeError::Manifest(_))));
    h.board.stop().await;
}
