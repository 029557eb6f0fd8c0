//! The voter client against a real board over loopback gRPC: learning the
//! election, casting with verified receipts, re-checking receipts later,
//! Benaloh challenges catching a lying device, revoting, refusals.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestBoard, World};
use tallyboard_client::{
    cast, challenge, check_challenge_on_board, check_still_included, fetch_election, prepare,
    selections_for, verify_challenged_entry, verify_receipt_file, ClientError, ContestChoice,
    ElectionPhase, SelectionError,
};
use tallyboard_proto::v1::{self, entry_body::Payload};
use tallyboard_protocol::{decode_entry, rules, testkit};

fn choices(spec: &[&str]) -> Vec<ContestChoice> {
    spec.iter().map(|s| s.parse().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cast_receipt_recheck_and_revote() {
    let mut w = World::start(21).await;
    let creds = w.credentials(2).await;
    let mut board = w.voter_client().await;
    let mut election = fetch_election(&mut board).await.unwrap();
    assert_eq!(election.phase, ElectionPhase::VotingOpen);
    assert_eq!(election.election_id(), w.eid);
    assert_eq!(election.fingerprint(), &w.fp);
    // Manifest, KeyCeremony, 9 key-ceremony messages, key, VotingOpen: the
    // replay stops there (the issuances after it are not needed to vote).
    assert_eq!(election.log_size, 13);
    assert!(election.checkpoint.size() >= election.log_size);

    let sel = selections_for(&election.manifest, "d1", &choices(&["c1=b"])).unwrap();
    assert_eq!(sel, vec![vec![0, 1, 0]]);
    let prepared = prepare(&election, &creds[0], &sel, 0).unwrap();
    let tracker = prepared.tracker();
    assert!(!format!("{prepared:?}").contains("nonce"));
    let receipt = cast(&mut board, prepared).await.unwrap();
    assert_eq!(receipt.tracker(), tracker);
    assert_eq!(receipt.election(), &w.fp);

    // The receipt file re-verifies offline with the board key alone.
    let file = receipt.to_file_bytes();
    assert!(file.starts_with(b"tallyboard/v1/cast-receipt\n"));
    assert_eq!(
        verify_receipt_file(&w.board.verifier, &file).unwrap(),
        receipt
    );

    // More appends; the ballot is still there, in a consistent log.
    for i in 0..5 {
        w.notice(&format!("notice {i}")).await;
    }
    let check = check_still_included(&mut board, &receipt).await.unwrap();
    assert!(check.latest.checkpoint().size() > receipt.checkpoint().size());
    let reloaded = verify_receipt_file(&w.board.verifier, &file).unwrap();
    check_still_included(&mut board, &reloaded).await.unwrap();

    // Revote (last counts): the second ballot replaces the first.
    let sel2 = selections_for(&election.manifest, "d1", &choices(&["c1=c"])).unwrap();
    let second = cast(&mut board, prepare(&election, &creds[0], &sel2, 0).unwrap())
        .await
        .unwrap();
    assert!(second.index() > receipt.index());
    assert_ne!(second.tracker(), receipt.tracker());
    let other = cast(&mut board, prepare(&election, &creds[1], &sel, 0).unwrap())
        .await
        .unwrap();
    let record = w.record().await;
    let rec = &record.credentials()[&creds[0].public_key().to_bytes()];
    assert_eq!(rec.cast[0], 2);
    assert_eq!(rec.counted[0].as_ref().unwrap().index, second.index());
    assert_eq!(record.counted_in_round(0), 2);
    assert_eq!(record.ballots_cast(), 3);
    let _ = other;

    // Refreshing replays the ballots too, through the rules.
    assert_eq!(
        election.refresh(&mut board).await.unwrap(),
        ElectionPhase::VotingOpen
    );
    assert_eq!(election.log_size, record.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_receipt_files_are_rejected() {
    let mut w = World::start(22).await;
    let creds = w.credentials(1).await;
    let mut board = w.voter_client().await;
    let election = fetch_election(&mut board).await.unwrap();
    let sel = vec![vec![1, 0, 0]];
    let receipt = cast(&mut board, prepare(&election, &creds[0], &sel, 0).unwrap())
        .await
        .unwrap();
    // Some later entries so the proof is not empty.
    for i in 0..3 {
        w.notice(&format!("n{i}")).await;
    }
    let good = receipt.to_file_bytes();
    let text = String::from_utf8(good.clone()).unwrap();
    verify_receipt_file(&w.board.verifier, &good).unwrap();

    let flip_hex = |s: &str, prefix: &str| -> String {
        let start = s.find(prefix).unwrap() + prefix.len();
        let mut b = s.as_bytes().to_vec();
        b[start] = if b[start] == b'0' { b'1' } else { b'0' };
        String::from_utf8(b).unwrap()
    };
    let mut bad: Vec<(&str, Vec<u8>)> = vec![
        ("tracker", flip_hex(&text, "\ntracker ").into_bytes()),
        (
            "election-free header line",
            text.replacen("\nindex", "\nextra x\nindex", 1).into_bytes(),
        ),
        (
            "index",
            text.replacen(
                &format!("\nindex {}\n\n", receipt.index()),
                &format!("\nindex {}\n\n", receipt.index() + 1),
                1,
            )
            .into_bytes(),
        ),
        ("truncated", good[..good.len() - 10].to_vec()),
        ("no separator", text.replacen("\n\n", "\n", 1).into_bytes()),
        (
            "header",
            text.replacen("cast-receipt", "receipt", 1).into_bytes(),
        ),
    ];
    // A proof hash or the checkpoint root changed.
    let proof_start = text.find("c2sp.org/tlog-proof@v1\n").unwrap();
    let tail = &text[proof_start..];
    let first_hash_line = tail.lines().nth(2).unwrap();
    assert_eq!(
        first_hash_line.len(),
        44,
        "a proof hash line: {first_hash_line}"
    );
    let mut changed = first_hash_line.as_bytes().to_vec();
    changed[0] = if changed[0] == b'A' { b'B' } else { b'A' };
    bad.push((
        "proof hash",
        text.replacen(first_hash_line, std::str::from_utf8(&changed).unwrap(), 1)
            .into_bytes(),
    ));
    let root_line = receipt.checkpoint().root().to_base64();
    let mut root = root_line.as_bytes().to_vec();
    root[0] = if root[0] == b'A' { b'B' } else { b'A' };
    bad.push((
        "checkpoint root",
        text.replacen(&root_line, std::str::from_utf8(&root).unwrap(), 1)
            .into_bytes(),
    ));
    for (what, bytes) in bad {
        assert!(
            matches!(
                verify_receipt_file(&w.board.verifier, &bytes),
                Err(ClientError::Receipt(_))
            ),
            "{what} was accepted"
        );
    }
    // Another board key: the checkpoint signature does not verify.
    let other = tallyboard_tlog::Ed25519Signer::new(
        common::ORIGIN,
        ed25519_dalek::SigningKey::from_bytes(&[0x55; 32]),
    )
    .unwrap()
    .verifier();
    assert!(verify_receipt_file(&other, &good).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn challenge_catches_a_lying_device() {
    let mut w = World::start(23).await;
    let creds = w.credentials(1).await;
    let mut board = w.voter_client().await;
    let election = fetch_election(&mut board).await.unwrap();
    let intended = selections_for(&election.manifest, "d1", &choices(&["c1=a"])).unwrap();

    // A device that encrypts "c" when the voter chose "a".
    let lied = prepare(&election, &creds[0], &[vec![0, 0, 1]], 0).unwrap();
    let lied_tracker = lied.tracker();
    let err = challenge(&mut board, lied, &intended).await.unwrap_err();
    let ClientError::ChallengeMismatch(report) = err else {
        panic!("expected a mismatch, got {err}");
    };
    assert!(!report.honest());
    assert_eq!(report.ballot_tracker, lied_tracker);
    let bad: Vec<_> = report.mismatches().collect();
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].contest, "c1");
    assert_eq!(bad[0].revealed, vec![0, 0, 1]);
    assert_eq!(bad[0].intended, vec![1, 0, 0]);

    // A second device checks the same challenge on the board and agrees.
    let mut board2 = w.voter_client().await;
    let second = check_challenge_on_board(&mut board2, &election, report.index, &intended)
        .await
        .unwrap();
    assert!(!second.honest());
    assert_eq!(second.challenge_tracker, report.challenge_tracker);

    // An honest device passes; then the voter casts a fresh ballot.
    let honest = prepare(&election, &creds[0], &intended, 0).unwrap();
    let report = challenge(&mut board, honest, &intended).await.unwrap();
    assert!(report.honest());
    let record = w.record().await;
    assert_eq!(record.challenged(), 2);
    assert_eq!(
        record.counted_in_round(0),
        0,
        "challenged ballots are never counted"
    );
    let receipt = cast(
        &mut board,
        prepare(&election, &creds[0], &intended, 0).unwrap(),
    )
    .await
    .unwrap();
    let record = w.record().await;
    assert_eq!(record.counted_in_round(0), 1);
    assert_eq!(
        record.credentials()[&creds[0].public_key().to_bytes()].counted[0]
            .as_ref()
            .unwrap()
            .index,
        receipt.index()
    );

    // A reveal that does not open the ciphertexts is caught by the
    // independent check (rule R7.1), even if it never reached a board.
    let (page, _) = board.list_entries(report.index, 1).await.unwrap();
    let posted = decode_entry(&page[0].entry).unwrap();
    let Some(Payload::ChallengedBallot(mut cb)) = posted.body.payload.clone() else {
        panic!("not a challenged ballot");
    };
    cb.reveals[0].selections = vec![0, 1, 0];
    let (key, _, _) = testkit::sample_credential(&w.fp, 1 + 1000 * 23);
    assert_eq!(key.verifying_key(), creds[0].public_key());
    let forged = testkit::entry(&key, &w.eid, w.fp, Payload::ChallengedBallot(cb));
    let err = verify_challenged_entry(&election, &forged, &[vec![0, 1, 0]]).unwrap_err();
    assert_eq!(err.rule(), Some(rules::CHALLENGE_REVEAL));
    // The board refuses it too.
    let err = board.append(forged).await.unwrap_err();
    assert!(err.to_string().contains(rules::CHALLENGE_REVEAL), "{err}");

    // Intended selections that break the rule are refused before posting.
    let p = prepare(&election, &creds[0], &intended, 0).unwrap();
    let err = challenge(&mut board, p, &[vec![1, 1, 0]])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Selection(SelectionError::RuleViolated { .. })
        ),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn casting_after_close_names_rule_r3_3() {
    let mut w = World::start(24).await;
    let creds = w.credentials(1).await;
    let mut board = w.voter_client().await;
    let mut election = fetch_election(&mut board).await.unwrap();
    let sel = vec![vec![0, 1, 0]];
    let prepared = prepare(&election, &creds[0], &sel, 0).unwrap();
    w.phase(v1::Phase::VotingClosed).await;

    // The board refuses it.
    let err = cast(&mut board, prepared).await.unwrap_err();
    assert_eq!(err.code(), Some(tonic::Code::FailedPrecondition), "{err}");
    assert_eq!(err.rule(), Some(rules::PHASE_ALLOWS), "{err}");
    assert!(err.to_string().contains("R3.3"), "{err}");

    // After a refresh the client knows without asking the board.
    assert_eq!(
        election.refresh(&mut board).await.unwrap(),
        ElectionPhase::VotingClosed
    );
    let err = prepare(&election, &creds[0], &sel, 0).unwrap_err();
    assert_eq!(err.code(), Some(tonic::Code::FailedPrecondition), "{err}");
    assert_eq!(err.rule(), Some(rules::PHASE_ALLOWS), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forked_board_is_detected() {
    let mut w = World::start(25).await;
    let creds = w.credentials(1).await;
    let mut board = w.voter_client().await;
    let election = fetch_election(&mut board).await.unwrap();
    let receipt = cast(
        &mut board,
        prepare(&election, &creds[0], &[vec![1, 0, 0]], 0).unwrap(),
    )
    .await
    .unwrap();

    // A second board with the same key (a stolen key, or a board showing
    // different voters different logs) and another history.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        w._dir.path().join("board.key"),
        dir.path().join("board.key"),
    )
    .unwrap();
    let fork = TestBoard::start(dir.path()).await;
    assert_eq!(fork.verifier.to_vkey(), w.board.verifier.to_vkey());
    let mut fclient = fork.client().await;
    let admin = ed25519_dalek::SigningKey::from_bytes(&[25; 32]);
    let manifest = testkit::sample_manifest(&admin, &common::identity(&fork.verifier), 25);
    let eid = manifest.election_id.clone();
    let (m, fp) = testkit::manifest_entry(&admin, manifest);
    fclient.append(m).await.unwrap();
    for i in 0..(receipt.checkpoint().size() + 3) {
        fclient
            .append(testkit::notice_entry(
                &admin,
                &eid,
                fp,
                &format!("fork {i}"),
            ))
            .await
            .unwrap();
    }
    // The receipt still verifies offline (it is signed by the key)…
    verify_receipt_file(&fork.verifier, &receipt.to_file_bytes()).unwrap();
    // …but the forked board cannot prove its log extends the receipt's.
    let err = check_still_included(&mut fclient, &receipt)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Board(tallyboard_board::ClientError::Consistency(_))
        ),
        "{err}"
    );
    // The honest board can.
    check_still_included(&mut board, &receipt).await.unwrap();
    fork.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trusting_another_board_key_refuses() {
    let w = World::start(26).await;
    let other = tallyboard_tlog::Ed25519Signer::new(
        common::ORIGIN,
        ed25519_dalek::SigningKey::from_bytes(&[0x66; 32]),
    )
    .unwrap()
    .verifier();
    let mut board = tallyboard_board::BoardClient::connect(&w.board.url(), other, None)
        .await
        .unwrap();
    let err = fetch_election(&mut board).await.unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Board(tallyboard_board::ClientError::Checkpoint(_))
        ),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_voters_at_once() {
    const VOTERS: u64 = 24;
    let mut w = World::start(27).await;
    let creds = w.credentials(VOTERS).await;
    let mut board = w.voter_client().await;
    let election = fetch_election(&mut board).await.unwrap();
    let mut tasks = Vec::new();
    for (i, cred) in creds.into_iter().enumerate() {
        let (mut board, election) = (board.clone(), election.clone());
        tasks.push(tokio::spawn(async move {
            let mut sel = vec![vec![0u64; 3]];
            sel[0][i % 3] = 1;
            let receipt = cast(&mut board, prepare(&election, &cred, &sel, 0)?).await?;
            check_still_included(&mut board, &receipt).await?;
            Ok::<_, ClientError>(receipt.index())
        }));
    }
    let mut indexes = Vec::new();
    for t in tasks {
        indexes.push(t.await.unwrap().unwrap());
    }
    indexes.sort_unstable();
    indexes.dedup();
    assert_eq!(indexes.len() as u64, VOTERS);
    let record = w.record().await;
    assert_eq!(record.counted_in_round(0), VOTERS);
    // A clone refreshes; the replay (ballots checked in parallel) is shared.
    let mut e2 = election.clone();
    e2.refresh(&mut board).await.unwrap();
    assert_eq!(e2.log_size, record.len());
    let mut e3 = election.clone();
    e3.refresh(&mut board).await.unwrap();
    assert_eq!(e3.log_size, record.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selections_and_credentials_are_checked_before_encrypting() {
    let mut w = World::start(28).await;
    let creds = w.credentials(1).await;
    let mut board = w.voter_client().await;
    let election = fetch_election(&mut board).await.unwrap();
    let m = &election.manifest;
    let err = |spec: &[&str]| selections_for(m, "d1", &choices(spec)).unwrap_err();
    assert!(matches!(err(&["c9=a"]), SelectionError::UnknownContest(_)));
    assert!(matches!(
        err(&["c1=z"]),
        SelectionError::UnknownOption { .. }
    ));
    assert!(matches!(
        err(&["c1=a,b"]),
        SelectionError::RuleViolated { .. }
    ));
    assert!(matches!(err(&["c1="]), SelectionError::RuleViolated { .. }));
    assert!(matches!(
        err(&["c1=a:2"]),
        SelectionError::RuleViolated { .. }
    ));
    assert!(matches!(
        err(&["c1=a", "c1=b"]),
        SelectionError::Duplicate(_)
    ));
    assert!(matches!(err(&["c1=a,a"]), SelectionError::Duplicate(_)));
    assert!(matches!(
        selections_for(m, "d9", &[]).unwrap_err(),
        SelectionError::UnknownDistrict(_)
    ));
    assert!(matches!(
        prepare(&election, &creds[0], &[vec![1, 0, 0], vec![1]], 0).unwrap_err(),
        ClientError::Selection(SelectionError::Shape(_))
    ));
    // A credential with a signature for another key is refused up front.
    let (other, _, _) = testkit::sample_credential(&w.fp, 4242);
    let forged = tallyboard_client::Credential::new(
        other,
        w.fp,
        "d1",
        creds[0].signature().to_vec(),
        creds[0].randomizer().to_vec(),
    );
    assert!(matches!(
        prepare(&election, &forged, &[vec![1, 0, 0]], 0).unwrap_err(),
        ClientError::Credential(_)
    ));
    // A credential for another election too.
    let elsewhere = tallyboard_client::Credential::new(
        ed25519_dalek::SigningKey::from_bytes(&[3; 32]),
        [7; 32],
        "d1",
        Vec::new(),
        Vec::new(),
    );
    assert!(matches!(
        prepare(&election, &elsewhere, &[vec![1, 0, 0]], 0).unwrap_err(),
        ClientError::Credential(_)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_election_key_yet_is_not_ready() {
    let dir = tempfile::tempdir().unwrap();
    let board = TestBoard::start(dir.path()).await;
    let mut client = board.client().await;
    let admin = ed25519_dalek::SigningKey::from_bytes(&[29; 32]);
    let manifest = testkit::sample_manifest(&admin, &common::identity(&board.verifier), 29);
    let eid = manifest.election_id.clone();
    let (m, fp) = testkit::manifest_entry(&admin, manifest);
    client.append(m).await.unwrap();
    client
        .append(testkit::phase_entry(
            &admin,
            &eid,
            fp,
            v1::Phase::KeyCeremony,
        ))
        .await
        .unwrap();
    let err = fetch_election(&mut client).await.unwrap_err();
    assert!(matches!(err, ClientError::NotReady(_)), "{err}");
    board.stop().await;
}
