//! The administrator and three trustees (threshold two) run a whole election
//! through a real board over loopback gRPC: manifest file, key ceremony (one
//! trustee stops mid-ceremony and resumes from its state file), voting with
//! a revote, tally, a refused bad partial decryption, decryption with one
//! trustee absent, result, and a fresh replay of the record.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use rand_core::OsRng;
use tallyboard_authority::keys::{self, TrusteeDir};
use tallyboard_authority::{
    decrypt_tally, load_manifest, run_ceremony, Admin, AuthorityError, CeremonyEvent,
    CeremonyOptions, CeremonyWait, DecryptOutcome, RecordFollower,
};
use tallyboard_board::{serve_with_listener, BoardClient, BoardConfig};
use tallyboard_protocol::ballot::{build_ballot, CredentialRef};
use tallyboard_protocol::v1::{self, entry_body::Payload};
use tallyboard_protocol::{testkit, ElectionPhase};
use tallyboard_threshold::PartialDecryption;
use tallyboard_tlog::Ed25519Verifier;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const ORIGIN: &str = "tallyboard/authority-test";
const SEED: u8 = 23;

async fn start_board(dir: &Path) -> (String, Ed25519Verifier, tokio::sync::oneshot::Sender<()>) {
    let verifier = tallyboard_board::keys::load_or_create_key(dir, ORIGIN)
        .unwrap()
        .verifier();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = BoardConfig::new(dir, addr, ORIGIN);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve_with_listener(config, listener, async {
        let _ = stopped.await;
    }));
    (format!("http://{addr}"), verifier, stop)
}

async fn connect(url: &str, board: &Ed25519Verifier) -> BoardClient {
    for _ in 0..500 {
        if let Ok(c) = BoardClient::connect(url, board.clone(), None).await {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("cannot connect to {url}");
}

fn write_manifest(dir: &Path, board: &Ed25519Verifier, trustees: &[String]) -> std::path::PathBuf {
    let rsa = testkit::sample_issuer_rsa().pk.to_der().unwrap();
    let issuer = testkit::sample_issuer_key(SEED).verifying_key();
    let members: String = trustees
        .iter()
        .enumerate()
        .map(|(i, k)| {
            format!(
                "[[trustees.members]]\nname = \"Trustee {}\"\nsigning_key = \"{k}\"\n\n",
                i + 1
            )
        })
        .collect();
    let text = format!(
        r#"
election_id = "authority-e2e"
title = "End-to-end test"
admin_key = "admin.key.pub"
issuer_signing_key = "{issuer}"
revote_policy = "last_counts"

[voting]
opens = 2030-01-01T09:00:00Z
closes = 2030-01-01T21:00:00+01:00

[board]
key = "{vkey}"

[trustees]
threshold = 2
n = 3

{members}
[[districts]]
id = "d1"
name = "District 1"
issuer_rsa_key = "{rsa}"

[[contests]]
id = "mayor"
title = "Mayor"
options = [{{ id = "ada", title = "Ada" }}, {{ id = "bo", title = "Bo" }}, "cy"]
rule = "one_of_n"

[[contests]]
id = "parks"
title = "Park projects"
options = ["north", "south", "east"]
rule = "approval"
"#,
        issuer = hex::encode(issuer.as_bytes()),
        vkey = board.to_vkey(),
        rsa = base64::engine::general_purpose::STANDARD.encode(rsa),
    );
    let path = dir.join("manifest.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn election_through_the_board() {
    let tmp = tempfile::tempdir().unwrap();
    let (url, board, _stop) = start_board(&tmp.path().join("board")).await;

    // Keys and the manifest file.
    let admin_path = tmp.path().join("admin.key");
    keys::generate_signing_key(&admin_path, &keys::public_key_path(&admin_path)).unwrap();
    let admin_key = keys::load_signing_key(&admin_path).unwrap();
    let dirs: Vec<TrusteeDir> = (1..=3)
        .map(|i| TrusteeDir::new(tmp.path().join(format!("trustee{i}"))))
        .collect();
    let pubs: Vec<String> = dirs
        .iter()
        .map(|d| hex::encode(d.generate().unwrap().as_bytes()))
        .collect();
    let manifest = load_manifest(&write_manifest(tmp.path(), &board, &pubs)).unwrap();
    assert_eq!(manifest.trustees.as_ref().unwrap().trustees.len(), 3);
    assert_eq!(manifest.voting_opens_unix_ms, 1_893_488_400_000);
    assert_eq!(manifest.voting_closes_unix_ms, 1_893_528_000_000);

    let mut admin = Admin::new(RecordFollower::new(connect(&url, &board).await), admin_key);
    // Nothing can be posted before the manifest.
    assert!(matches!(
        admin.post_notice("too early").await,
        Err(AuthorityError::NotReady(_))
    ));
    let fp = admin.post_manifest(manifest.clone()).await.unwrap();
    // Posting the same manifest again is a no-op; another one is refused.
    assert_eq!(admin.post_manifest(manifest.clone()).await.unwrap(), fp);
    let mut other = manifest.clone();
    other.title = "Another".into();
    assert!(matches!(
        admin.post_manifest(other).await,
        Err(AuthorityError::Mismatch(_))
    ));
    admin
        .post_notice("Key ceremony today at noon")
        .await
        .unwrap();
    admin.set_phase(v1::Phase::KeyCeremony).await.unwrap();
    // Voting cannot open without the election key: the board names the rule.
    let err = admin.set_phase(v1::Phase::VotingOpen).await.unwrap_err();
    assert!(err.to_string().contains("R3.2"), "{err}");

    // Key ceremony: three trustees through the board; trustee 3 is stopped
    // after its commitment and resumes from its state file.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let opts = |i: usize, tx: &mpsc::UnboundedSender<(usize, CeremonyEvent)>| {
        let (etx, mut erx) = mpsc::unbounded_channel();
        let fwd = tx.clone();
        tokio::spawn(async move {
            while let Some(e) = erx.recv().await {
                let _ = fwd.send((i, e));
            }
        });
        CeremonyOptions {
            poll: Duration::from_millis(50),
            reveal_timeout: Some(Duration::from_secs(60)),
            timeout: Some(Duration::from_secs(120)),
            share_path: Some(dirs[i].share_path()),
            events: Some(etx),
        }
    };
    let spawn = |i: usize, o: CeremonyOptions, client: BoardClient| {
        let d = dirs[i].clone();
        tokio::spawn(async move {
            let (signing, keys) = d.load_keys().unwrap();
            run_ceremony(
                client,
                signing,
                keys,
                i as u8 + 1,
                Some(&d.state_path()),
                &o,
            )
            .await
        })
    };
    let mut tasks = Vec::new();
    for i in 0..3 {
        tasks.push(Some(spawn(i, opts(i, &tx), connect(&url, &board).await)));
    }
    let mut complained = 0;
    let mut resumed = false;
    while complained < 3 {
        let (i, e) = tokio::time::timeout(Duration::from_secs(120), rx.recv())
            .await
            .expect("ceremony events")
            .unwrap();
        if i == 2 && e == CeremonyEvent::Committed && !resumed {
            resumed = true;
            tasks[2].take().unwrap().abort();
            tasks[2] = Some(spawn(2, opts(2, &tx), connect(&url, &board).await));
        }
        if let CeremonyEvent::Complained(n) = e {
            assert_eq!(n, 0, "trustee {} complained", i + 1);
            complained += 1;
        }
    }
    assert!(resumed);
    let wait = CeremonyWait {
        poll: Duration::from_millis(50),
        reveal_timeout: None,
        complaint_window: Duration::ZERO,
        timeout: Some(Duration::from_secs(60)),
    };
    let key = admin.post_election_key(&wait).await.unwrap();
    assert_eq!(key.qualified, vec![1, 2, 3]);
    assert!(key.disqualified.is_empty());
    assert!(key.entry.is_some());
    let mut shares = Vec::new();
    for t in tasks {
        shares.push(t.unwrap().await.unwrap().unwrap());
    }
    for (i, d) in dirs.iter().enumerate() {
        let s = d.load_share().unwrap();
        assert_eq!(s.index(), i as u8 + 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(d.share_path())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
    // Asking again returns the key on the record.
    assert_eq!(
        admin.post_election_key(&wait).await.unwrap().joint_key,
        key.joint_key
    );
    // A resumed, finished ceremony returns the saved share.
    {
        let (signing, keys) = dirs[0].load_keys().unwrap();
        let o = CeremonyOptions {
            share_path: Some(dirs[0].share_path()),
            ..CeremonyOptions::default()
        };
        let again = run_ceremony(
            connect(&url, &board).await,
            signing,
            keys,
            1,
            Some(&dirs[0].state_path()),
            &o,
        )
        .await
        .unwrap();
        assert_eq!(again.to_bytes(), shares[0].to_bytes());
    }

    admin.set_phase(v1::Phase::VotingOpen).await.unwrap();

    // Voters: issuance, ballots, one revote.
    let m = admin.state().manifest().unwrap().clone();
    let pk = admin.state().election_key().unwrap().clone();
    let issuer = testkit::sample_issuer_key(SEED);
    let mut voter = connect(&url, &board).await;
    let choices: [(usize, [u64; 3]); 7] = [
        (0, [1, 0, 1]),
        (1, [0, 0, 0]),
        (1, [1, 1, 1]),
        (2, [0, 1, 0]),
        (0, [1, 1, 0]),
        (0, [0, 0, 1]),
        (1, [1, 0, 0]),
    ];
    let mut mayor = [0u64; 3];
    let mut parks = [0u64; 3];
    let mut creds = Vec::new();
    for (v, (c, p)) in choices.iter().enumerate() {
        let issuance = testkit::entry(
            &issuer,
            &m.raw.election_id,
            fp,
            Payload::Issuance(v1::Issuance {
                voter_id_hash: vec![v as u8 + 1; 32],
                district: "d1".into(),
                issued_unix_ms: 0,
            }),
        );
        voter.append(issuance).await.unwrap();
        let (ck, sig, rnd) = testkit::sample_credential(&fp, 1000 + v as u64);
        let cref = CredentialRef {
            key: &ck,
            district: "d1",
            signature: &sig,
            randomizer: &rnd,
        };
        let mut sel = vec![0u64; 3];
        sel[*c] = 1;
        let (ballot, _) = build_ballot(&m, &pk, &cref, &[sel, p.to_vec()], 0, &mut OsRng).unwrap();
        voter
            .append(testkit::entry(
                &ck,
                &m.raw.election_id,
                fp,
                Payload::Ballot(ballot),
            ))
            .await
            .unwrap();
        mayor[*c] += 1;
        for (a, b) in parks.iter_mut().zip(p) {
            *a += b;
        }
        creds.push((ck, sig, rnd));
    }
    {
        // Voter 1 revotes: the last ballot counts.
        let (ck, sig, rnd) = &creds[1];
        let cref = CredentialRef {
            key: ck,
            district: "d1",
            signature: sig,
            randomizer: rnd,
        };
        let (ballot, _) = build_ballot(
            &m,
            &pk,
            &cref,
            &[vec![0, 0, 1], vec![1, 1, 1]],
            0,
            &mut OsRng,
        )
        .unwrap();
        voter
            .append(testkit::entry(
                ck,
                &m.raw.election_id,
                fp,
                Payload::Ballot(ballot),
            ))
            .await
            .unwrap();
        mayor[1] -= 1;
        mayor[2] += 1;
        parks = [parks[0] + 1, parks[1] + 1, parks[2] + 1];
    }
    // A tally while voting is open is refused before posting.
    assert!(matches!(
        admin.post_tally(0).await,
        Err(AuthorityError::NotReady(_))
    ));
    admin.set_phase(v1::Phase::VotingClosed).await.unwrap();
    assert_eq!(admin.state().phase(), ElectionPhase::VotingClosed);

    // Tally (asking twice gives the same entry).
    let tally = admin.post_tally(0).await.unwrap();
    assert_eq!(admin.post_tally(0).await.unwrap(), tally);
    let t = admin.state().tallies()[0].clone();
    assert_eq!(t.ballots_counted, 7);

    // Trustee 2 is absent, except for a bad partial decryption the board
    // refuses (it covers only part of the tally).
    {
        let (signing2, _) = dirs[1].load_keys().unwrap();
        let cts = t.flat_ciphertexts();
        let wrong = PartialDecryption::create(&shares[1], &cts[..2], &mut OsRng).unwrap();
        let entry = testkit::entry(
            &signing2,
            &m.raw.election_id,
            fp,
            Payload::PartialDecryption(v1::PartialDecryption {
                trustee: 2,
                tally_entry: tally,
                partial: wrong.to_bytes(),
            }),
        );
        let err = voter.append(entry).await.unwrap_err().to_string();
        assert!(err.contains("R10.2"), "{err}");
        // Trustee 2 cannot decrypt with trustee 1's share either.
        let err = decrypt_tally(connect(&url, &board).await, &signing2, &shares[0], tally)
            .await
            .unwrap_err();
        assert!(matches!(err, AuthorityError::Mismatch(_)), "{err}");
    }
    // Not enough partials yet: the result waits, then times out.
    let err = admin
        .post_result(
            tally,
            Some(Duration::from_millis(200)),
            Duration::from_millis(50),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AuthorityError::Timeout { .. }), "{err}");
    for i in [0usize, 2] {
        let (signing, _) = dirs[i].load_keys().unwrap();
        let out = decrypt_tally(connect(&url, &board).await, &signing, &shares[i], tally)
            .await
            .unwrap();
        assert!(matches!(out, DecryptOutcome::Posted(_)));
        let again = decrypt_tally(connect(&url, &board).await, &signing, &shares[i], tally)
            .await
            .unwrap();
        assert_eq!(again, DecryptOutcome::AlreadyPosted);
    }
    let result = admin
        .post_result(
            tally,
            Some(Duration::from_secs(30)),
            Duration::from_millis(50),
        )
        .await
        .unwrap();
    assert_eq!(result.trustees_used, vec![1, 3]);
    assert_eq!(result.contests.len(), 2);
    let counts =
        |k: usize| -> Vec<u64> { result.contests[k].options.iter().map(|o| o.2).collect() };
    assert_eq!(counts(0), mayor.to_vec());
    assert_eq!(counts(1), parks.to_vec());
    let table = result.to_string();
    assert!(table.contains("Mayor") && table.contains("Ada"), "{table}");
    admin.set_phase(v1::Phase::Finished).await.unwrap();

    // Anyone can replay the record and reach the same state.
    let fresh = RecordFollower::connect(&url, board.clone(), None)
        .await
        .unwrap();
    let st = fresh.state();
    assert_eq!(st.phase(), ElectionPhase::Finished);
    assert_eq!(st.len(), admin.state().len());
    assert_eq!(st.tallies()[0].counts, vec![mayor.to_vec(), parks.to_vec()]);
    assert_eq!(st.notices(), 1);
}
