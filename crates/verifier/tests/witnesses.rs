//! Check V1.5: witness cosignatures on the record's checkpoint
//! (`spec/checks.md` V1.5, `spec/tlog.md` §14).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ed25519_dalek::SigningKey;
use tallyboard_protocol::{testkit, v1, BoardIdentity};
use tallyboard_tlog::{
    leaf_hash, merkle_tree_hash, Checkpoint, CosignatureSigner, Ed25519Signer, Note, NoteSigner,
};
use tallyboard_verifier::generate::record_bytes;
use tallyboard_verifier::{Report, Status, VerifyOptions};

mod conformance_out;
use conformance_out::{emit_invalid, emit_valid_why, verify_bytes};

const ORIGIN: &str = "tallyboard/v15";

struct Setup {
    board: Ed25519Signer,
    witnesses: Vec<CosignatureSigner>,
    entries: Vec<Vec<u8>>,
}

/// A manifest naming two witnesses, and two notices.
fn setup() -> Setup {
    let board = Ed25519Signer::new(ORIGIN, SigningKey::from_bytes(&[3; 32])).unwrap();
    let witnesses: Vec<CosignatureSigner> =
        [("witness.a.example/w1", 31u8), ("witness.b.example/w1", 32)]
            .iter()
            .map(|(n, s)| {
                CosignatureSigner::new(n, SigningKey::from_bytes(&[*s; 32]))
                    .unwrap()
                    .at(1_790_000_000)
            })
            .collect();
    let admin = SigningKey::from_bytes(&[4; 32]);
    let identity = BoardIdentity {
        origin: ORIGIN.into(),
        key: *board.verifier().verifying_key(),
    };
    let mut manifest = testkit::sample_manifest(&admin, &identity, 4);
    manifest.witnesses = witnesses
        .iter()
        .map(|w| v1::Witness {
            name: w.name().to_owned(),
            key: w.verifier().verifying_key().to_bytes().to_vec(),
        })
        .collect();
    let id = manifest.election_id.clone();
    let (m, fp) = testkit::manifest_entry(&admin, manifest);
    let entries = vec![
        m,
        testkit::notice_entry(&admin, &id, fp, "one"),
        testkit::notice_entry(&admin, &id, fp, "two"),
    ];
    Setup {
        board,
        witnesses,
        entries,
    }
}

/// The board's signed checkpoint of the entries as a note.
fn note(s: &Setup) -> Note {
    let leaves: Vec<_> = s.entries.iter().map(|e| leaf_hash(e)).collect();
    let root = merkle_tree_hash(&leaves);
    let cp = Checkpoint::new(ORIGIN, s.entries.len() as u64, root).unwrap();
    cp.sign(&s.board).unwrap().note().clone()
}

fn verify(s: &Setup, checkpoint: &[u8]) -> Report {
    let opts = VerifyOptions {
        threads: 1,
        ..VerifyOptions::default()
    };
    verify_bytes(&record_bytes(&s.entries, checkpoint).unwrap(), &opts)
}

#[test]
fn cosigned_by_both_witnesses() {
    let s = setup();
    let mut n = note(&s);
    for w in &s.witnesses {
        n.sign(w).unwrap();
    }
    let r = verify(&s, &n.to_bytes());
    assert!(r.ok, "{}", r.to_human());
    let v15 = r.check("V1.5").unwrap();
    assert_eq!(v15.status, Status::Pass, "{}", r.to_human());
    assert_eq!(v15.count, 2);
    assert_eq!(
        r.record.witnesses_cosigned,
        vec!["witness.a.example/w1", "witness.b.example/w1"]
    );
    assert!(r.record.witnesses_missing.is_empty());
    assert!(r
        .to_human()
        .contains("cosigned by: witness.a.example/w1, witness.b.example/w1"));
    emit_valid_why(
        &r,
        "Valid: a manifest naming two witnesses and two notices, under a checkpoint both witnesses cosigned (cosignature/v1, timestamp 1790000000): V1.5 passes with 2 cosignatures and the report lists both.",
    );
}

#[test]
fn a_missing_witness_is_reported_not_failed() {
    let s = setup();
    let mut n = note(&s);
    n.sign(&s.witnesses[1]).unwrap();
    // A line by a key the manifest does not name is ignored.
    let stranger =
        CosignatureSigner::new("witness.c.example/w1", SigningKey::from_bytes(&[33; 32])).unwrap();
    n.sign(&stranger).unwrap();
    let r = verify(&s, &n.to_bytes());
    assert_eq!(r.check("V1.5").unwrap().status, Status::Pass);
    assert_eq!(r.check("V1.5").unwrap().count, 1);
    assert_eq!(r.record.witnesses_cosigned, vec!["witness.b.example/w1"]);
    assert_eq!(r.record.witnesses_missing, vec!["witness.a.example/w1"]);
    // No cosignature at all: V1.5 passes with count 0; both are missing.
    let r = verify(&s, &note(&s).to_bytes());
    assert_eq!(r.check("V1.5").unwrap().count, 0);
    assert_eq!(r.check("V1.5").unwrap().status, Status::Pass);
    assert_eq!(r.record.witnesses_missing.len(), 2);
}

/// Tampering: a witness's cosignature line with its timestamp changed, so
/// its signature no longer covers the message — V1.5.
#[test]
fn a_forged_cosignature_fails_v1_5() {
    let s = setup();
    let mut n = note(&s);
    n.sign(&s.witnesses[0]).unwrap();
    let text = String::from_utf8(n.to_bytes()).unwrap();
    // Change the timestamp of the witness's line: its signature no longer
    // covers the message.
    let line = text.lines().last().unwrap().to_owned();
    let (prefix, b64) = line.rsplit_once(' ').unwrap();
    use base64::Engine as _;
    let mut raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    raw[4 + 7] ^= 1;
    let forged = format!(
        "{prefix} {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    );
    let bytes = text.replace(&line, &forged).into_bytes();
    let r = verify(&s, &bytes);
    let v15 = r.check("V1.5").unwrap();
    assert_eq!(v15.status, Status::Fail, "{}", r.to_human());
    assert!(v15.failures[0].message.contains("witness.a.example/w1"));
    // The board's own signature is still fine.
    assert_eq!(r.check("V1.2").unwrap().status, Status::Pass);
    assert!(!r.ok);
    emit_invalid(&r, "V1.5", None, &[]);
}
