//! A witness in front of an honest board and a forking one
//! (`spec/board.md` §10): it cosigns every checkpoint that extends the last
//! one it cosigned, and refuses (with evidence) one that does not.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{board_key, identity, TestBoard};
use ed25519_dalek::SigningKey;
use tallyboard_board::witness::{self, Round, Witness, WitnessError};
use tallyboard_board::Limits;
use tallyboard_protocol::{testkit, v1};
use tallyboard_tlog::NoteVerifier;

struct Election {
    admin: SigningKey,
    election_id: String,
    fingerprint: [u8; 32],
}

impl Election {
    fn notice(&self, text: &str) -> Vec<u8> {
        testkit::notice_entry(&self.admin, &self.election_id, self.fingerprint, text)
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_name() == "board.lock" {
            continue;
        }
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[tokio::test]
async fn witness_cosigns_growth_and_refuses_a_fork_and_a_shrink() {
    let tmp = tempfile::tempdir().unwrap();
    let board_dir = tmp.path().join("board");
    let witness_dir = tmp.path().join("witness");
    let signer = witness::init(&witness_dir, "witness.example.org/w1").unwrap();
    // The name is fixed by the first init.
    assert!(witness::init(&witness_dir, "witness.example.org/other").is_err());
    assert!(witness::init(&tmp.path().join("w2"), "bad name").is_err());

    let verifier = board_key(&board_dir);
    let admin = SigningKey::from_bytes(&[5; 32]);
    let mut manifest = testkit::sample_manifest(&admin, &identity(&verifier), 5);
    manifest.witnesses = vec![v1::Witness {
        name: signer.verifier().name().to_owned(),
        key: signer.verifier().verifying_key().to_bytes().to_vec(),
    }];
    let election_id = manifest.election_id.clone();
    let (entry, fingerprint) = testkit::manifest_entry(&admin, manifest);
    let e = Election {
        admin,
        election_id,
        fingerprint,
    };

    let board = TestBoard::start(&board_dir, Limits::default()).await;
    let mut client = board.client().await;
    client.append(entry).await.unwrap();
    client.append(e.notice("one")).await.unwrap();

    let mut w = Witness::open(&witness_dir, verifier.clone()).unwrap();
    assert_eq!(w.round(&mut client).await.unwrap(), Round::Cosigned(2));
    assert_eq!(w.round(&mut client).await.unwrap(), Round::Unchanged(2));
    let cosigned = client
        .cosigned_checkpoint()
        .await
        .unwrap()
        .expect("cosigned");
    assert_eq!(cosigned.checkpoint().size(), 2);
    cosigned.note().verify(&[&w.verifier()]).unwrap();
    board.stop().await;

    // Fork the board's storage here (same key, same 2 entries).
    let fork_dir = tmp.path().join("fork");
    copy_dir(&board_dir, &fork_dir);

    // The honest board grows; the witness follows (consistency proof).
    let board = TestBoard::start(&board_dir, Limits::default()).await;
    let mut client = board.client().await;
    client.append(e.notice("two")).await.unwrap();
    client.append(e.notice("three")).await.unwrap();
    // A reopened witness remembers where it was.
    let mut w = Witness::open(&witness_dir, verifier.clone()).unwrap();
    assert_eq!(w.last().map(|c| c.size()), Some(2));
    assert_eq!(w.round(&mut client).await.unwrap(), Round::Cosigned(4));
    board.stop().await;

    // The forked board shows another history of the same size class.
    let fork = TestBoard::start(&fork_dir, Limits::default()).await;
    let mut fork_client = fork.client().await;
    // Shrunk: the fork has 2 entries, the witness cosigned 4.
    let err = w.round(&mut fork_client).await.unwrap_err();
    let WitnessError::Fork {
        old_size,
        new_size,
        reason,
        evidence,
    } = err
    else {
        panic!("expected a fork, got {err}");
    };
    assert_eq!((old_size, new_size), (4, 2));
    assert!(reason.contains("shrank"), "{reason}");
    let text = std::fs::read_to_string(&evidence).unwrap();
    assert!(text.contains("tallyboard witness evidence") && text.contains("shrank"));

    // Diverged: the fork grows past 4 with other entries.
    for t in ["deux", "trois", "quatre"] {
        fork_client.append(e.notice(t)).await.unwrap();
    }
    let err = w.round(&mut fork_client).await.unwrap_err();
    assert!(
        matches!(
            err,
            WitnessError::Fork {
                old_size: 4,
                new_size: 5,
                ..
            }
        ),
        "{err}"
    );
    // The fork never got this witness's cosignature on its history.
    assert!(fork_client
        .cosigned_checkpoint()
        .await
        .unwrap()
        .is_none_or(|c| c.checkpoint().size() <= 2));
    // And the witness still stands by the honest history.
    assert_eq!(w.last().map(|c| c.size()), Some(4));
    fork.stop().await;
}
