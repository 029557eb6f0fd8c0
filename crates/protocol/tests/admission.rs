//! Admission rules of `spec/record.md`: what the record accepts and refuses.
#![allow(clippy::type_complexity)]

use ed25519_dalek::SigningKey;
use prost::Message;
use tallyboard_protocol::testkit::{
    entry, manifest_entry, notice_entry, phase_entry, sample_issuer_key, sample_manifest,
};
use tallyboard_protocol::v1::{self, entry_body::Payload};
use tallyboard_protocol::{rules, BoardIdentity, ElectionPhase, RecordState, RuleErrorKind};

fn board() -> (SigningKey, BoardIdentity) {
    let k = SigningKey::from_bytes(&[9u8; 32]);
    let id = BoardIdentity {
        origin: "tallyboard/test".into(),
        key: k.verifying_key(),
    };
    (k, id)
}

struct Setup {
    state: RecordState,
    admin: SigningKey,
    fp: [u8; 32],
    eid: String,
}

fn setup() -> Setup {
    let (_, b) = board();
    let admin = SigningKey::from_bytes(&[1u8; 32]);
    let m = sample_manifest(&admin, &b, 5);
    let eid = m.election_id.clone();
    let (bytes, fp) = manifest_entry(&admin, m);
    let mut state = RecordState::new(b);
    state.check_and_apply(&bytes).unwrap();
    Setup {
        state,
        admin,
        fp,
        eid,
    }
}

#[test]
fn manifest_then_notices_and_phases() {
    let mut s = setup();
    assert_eq!(s.state.phase(), ElectionPhase::Setup);
    s.state
        .check_and_apply(&notice_entry(&s.admin, &s.eid, s.fp, "hello"))
        .unwrap();
    s.state
        .check_and_apply(&phase_entry(&s.admin, &s.eid, s.fp, v1::Phase::KeyCeremony))
        .unwrap();
    assert_eq!(s.state.phase(), ElectionPhase::KeyCeremony);
    assert_eq!(s.state.len(), 3);
    // Voting cannot open before the election key is on the record.
    let e = s
        .state
        .check_and_apply(&phase_entry(&s.admin, &s.eid, s.fp, v1::Phase::VotingOpen))
        .unwrap_err();
    assert_eq!(e.rule, rules::PHASE_PREREQUISITE);
    // Phases cannot go backwards or skip.
    let e = s
        .state
        .check_and_apply(&phase_entry(
            &s.admin,
            &s.eid,
            s.fp,
            v1::Phase::VotingClosed,
        ))
        .unwrap_err();
    assert_eq!(e.rule, rules::PHASE_ORDER);
    assert_eq!(s.state.len(), 3);
}

#[test]
fn first_entry_must_be_manifest_and_unique() {
    let (_, b) = board();
    let admin = SigningKey::from_bytes(&[1u8; 32]);
    let mut st = RecordState::new(b.clone());
    let e = st
        .check_and_apply(&notice_entry(&admin, "x", [0; 32], "hi"))
        .unwrap_err();
    assert_eq!(e.rule, rules::MANIFEST_FIRST);
    let (bytes, _) = manifest_entry(&admin, sample_manifest(&admin, &b, 5));
    st.check_and_apply(&bytes).unwrap();
    let (bytes2, _) = manifest_entry(&admin, sample_manifest(&admin, &b, 6));
    let e = st.check_and_apply(&bytes2).unwrap_err();
    assert_eq!(e.kind, RuleErrorKind::AlreadyExists);
}

#[test]
fn manifest_for_another_board_is_refused() {
    let (_, b) = board();
    let other = BoardIdentity {
        origin: "elsewhere".into(),
        key: b.key,
    };
    let admin = SigningKey::from_bytes(&[1u8; 32]);
    let (bytes, _) = manifest_entry(&admin, sample_manifest(&admin, &other, 5));
    let e = RecordState::new(b).check_and_apply(&bytes).unwrap_err();
    assert_eq!(e.rule, rules::MANIFEST_BOARD);
}

#[test]
fn manifest_signed_by_someone_else_is_refused() {
    let (_, b) = board();
    let admin = SigningKey::from_bytes(&[1u8; 32]);
    let mallory = SigningKey::from_bytes(&[2u8; 32]);
    let (bytes, _) = manifest_entry(&mallory, sample_manifest(&admin, &b, 5));
    let e = RecordState::new(b).check_and_apply(&bytes).unwrap_err();
    assert_eq!(e.rule, rules::ENTRY_AUTHOR);
}

#[test]
fn invalid_manifests_name_the_field() {
    let (_, b) = board();
    let admin = SigningKey::from_bytes(&[1u8; 32]);
    let cases: Vec<(&str, Box<dyn Fn(&mut v1::Manifest)>)> = vec![
        (
            "threshold",
            Box::new(|m| m.trustees.as_mut().unwrap().threshold = 4),
        ),
        (
            "identifiers",
            Box::new(|m| m.election_id = "bad id!".into()),
        ),
        (
            "signing_key",
            Box::new(|m| m.trustees.as_mut().unwrap().trustees[1].signing_key = vec![1; 31]),
        ),
        (
            "duplicate option",
            Box::new(|m| m.contests[0].options[1].id = "a".into()),
        ),
        ("rule missing", Box::new(|m| m.contests[0].rule = None)),
        (
            "unknown district",
            Box::new(|m| m.contests[0].districts = vec!["nowhere".into()]),
        ),
        (
            "sde_weight",
            Box::new(|m| m.districts[0].sde_weight = "1.23456".into()),
        ),
    ];
    for (needle, mutate) in cases {
        let mut m = sample_manifest(&admin, &b, 5);
        mutate(&mut m);
        let (bytes, _) = manifest_entry(&admin, m);
        let e = RecordState::new(b.clone())
            .check_and_apply(&bytes)
            .unwrap_err();
        assert_eq!(e.rule, rules::MANIFEST_VALID, "{needle}: {e}");
        assert!(e.message.contains(needle), "{needle}: {e}");
    }
}

#[test]
fn garbage_and_tampering_are_typed_errors() {
    let mut s = setup();
    let len = s.state.len();
    for garbage in [&b""[..], b"\xff\xff\xff", b"\x0a\x05abc"] {
        let e = s.state.check_and_apply(garbage).unwrap_err();
        assert_eq!(e.kind, RuleErrorKind::InvalidArgument, "{e}");
    }
    let big = vec![0u8; tallyboard_protocol::MAX_ENTRY_BYTES + 1];
    assert_eq!(
        s.state.check_and_apply(&big).unwrap_err().rule,
        rules::ENTRY_SIZE
    );
    // Flip a byte inside the signed body: the signature no longer verifies.
    let good = notice_entry(&s.admin, &s.eid, s.fp, "tamper me");
    let mut entry_msg = v1::Entry::decode(good.as_slice()).unwrap();
    let n = entry_msg.body.len();
    entry_msg.body[n - 2] ^= 1;
    let e = s
        .state
        .check_and_apply(&entry_msg.encode_to_vec())
        .unwrap_err();
    assert_eq!(e.rule, rules::ENTRY_SIGNATURE);
    // The author key written non-canonically (y + p for the key's y, which
    // is possible when y < 19: here the identity, y = 1, as y = p + 1):
    // refused as an encoding before any curve arithmetic (spec/crypto.md
    // §10.1), and a small-order key as such.
    let mut body = v1::EntryBody::decode(entry_msg.body.as_slice()).unwrap();
    for (key, what) in [
        (
            {
                let mut y = [0xffu8; 32];
                y[0] = 0xee;
                y[31] = 0x7f;
                y
            },
            "canonical",
        ),
        (
            {
                let mut y = [0u8; 32];
                y[0] = 1;
                y
            },
            "small order",
        ),
    ] {
        body.author_key = key.to_vec();
        let forged = v1::Entry {
            body: body.encode_to_vec(),
            signature: vec![0; 64],
        };
        let e = s
            .state
            .check_and_apply(&forged.encode_to_vec())
            .unwrap_err();
        assert_eq!(e.rule, rules::ENTRY_SIGNATURE);
        assert!(e.to_string().contains(what), "{e}");
    }
    assert_eq!(s.state.len(), len);
    // Wrong fingerprint.
    let e = s
        .state
        .check_and_apply(&notice_entry(&s.admin, &s.eid, [7; 32], "x"))
        .unwrap_err();
    assert_eq!(e.rule, rules::ENTRY_ELECTION);
    // Notice by a non-admin.
    let mallory = SigningKey::from_bytes(&[2u8; 32]);
    let e = s
        .state
        .check_and_apply(&notice_entry(&mallory, &s.eid, s.fp, "x"))
        .unwrap_err();
    assert_eq!(e.rule, rules::ENTRY_AUTHOR);
    assert_eq!(s.state.len(), len);
}

#[test]
fn exact_and_semantic_replays_are_refused() {
    let mut s = setup();
    let n = notice_entry(&s.admin, &s.eid, s.fp, "once");
    s.state.check_and_apply(&n).unwrap();
    assert_eq!(
        s.state.check_and_apply(&n).unwrap_err().rule,
        rules::ENTRY_REPLAY
    );
    // Same body, re-framed with an unknown trailing field: still a replay.
    let mut reframed = n.clone();
    reframed.extend_from_slice(&[0x18, 0x01]);
    assert_eq!(
        s.state.check_and_apply(&reframed).unwrap_err().rule,
        rules::ENTRY_REPLAY
    );
}

#[test]
fn issuance_rules() {
    let mut s = setup();
    let issuer = sample_issuer_key(5);
    let iss = |h: u8, d: &str| {
        entry(
            &issuer,
            &s.eid,
            s.fp,
            Payload::Issuance(v1::Issuance {
                voter_id_hash: vec![h; 32],
                district: d.into(),
                issued_unix_ms: 1,
            }),
        )
    };
    // The same entry twice is a replay (the body carries the author's clock,
    // so the entry is built once).
    let first = iss(1, "d1");
    s.state.check_and_apply(&first).unwrap();
    assert_eq!(
        s.state.check_and_apply(&first).unwrap_err().rule,
        rules::ENTRY_REPLAY
    );
    let again = entry(
        &issuer,
        &s.eid,
        s.fp,
        Payload::Issuance(v1::Issuance {
            voter_id_hash: vec![1; 32],
            district: "d1".into(),
            issued_unix_ms: 2,
        }),
    );
    assert_eq!(
        s.state.check_and_apply(&again).unwrap_err().rule,
        rules::ISSUANCE_UNIQUE
    );
    assert_eq!(
        s.state.check_and_apply(&iss(2, "d9")).unwrap_err().rule,
        rules::ISSUANCE_VALID
    );
    assert_eq!(s.state.issued_per_district().get("d1"), Some(&1));
}
