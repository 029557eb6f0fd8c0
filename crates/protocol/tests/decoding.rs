//! How strictly entries are decoded (`spec/record.md` §2.5): the protobuf
//! parse of every message of `entries.proto` (prost), plus the record's own
//! check that a body has a known payload (R1.2). Each case writes the wire
//! bytes by hand, signs them as they are, and checks what `decode_entry`
//! makes of them.
#![allow(clippy::unwrap_used)]

use ed25519_dalek::{Signer, SigningKey};
use prost::Message;
use tallyboard_protocol::entry::signing_message;
use tallyboard_protocol::testkit::{manifest_entry, notice_entry, sample_manifest};
use tallyboard_protocol::v1::{self, entry_body::Payload};
use tallyboard_protocol::{decode_entry, rules, BoardIdentity, RecordState, RuleErrorKind};

/// A field key.
fn key(field: u32, wire: u8) -> Vec<u8> {
    varint(u64::from(field) << 3 | u64::from(wire))
}

/// Minimal varint.
fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        if v < 0x80 {
            out.push(v as u8);
            return out;
        }
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
}

/// A varint field.
fn vfield(field: u32, v: u64) -> Vec<u8> {
    [key(field, 0), varint(v)].concat()
}

/// A length-delimited field.
fn lfield(field: u32, bytes: &[u8]) -> Vec<u8> {
    [key(field, 2), varint(bytes.len() as u64), bytes.to_vec()].concat()
}

fn admin() -> SigningKey {
    SigningKey::from_bytes(&[1; 32])
}

/// The fields of an `EntryBody` before the payload, for election `eid`.
fn head(eid: &str, fp: &[u8; 32]) -> Vec<u8> {
    [
        lfield(1, eid.as_bytes()),
        lfield(2, fp),
        vfield(3, 7),
        lfield(4, admin().verifying_key().as_bytes()),
    ]
    .concat()
}

/// `Entry { body, signature }` with the admin's signature over `body`.
fn signed(body: &[u8]) -> Vec<u8> {
    let sig = admin().sign(&signing_message(body));
    [lfield(1, body), lfield(2, &sig.to_bytes())].concat()
}

/// A notice payload (field 24) with text `t`.
fn notice(t: &str) -> Vec<u8> {
    lfield(24, &lfield(1, t.as_bytes()))
}

fn body_of(entry: &[u8]) -> v1::EntryBody {
    decode_entry(entry).unwrap().body
}

fn refused_as_decode(entry: &[u8]) {
    let e = decode_entry(entry).unwrap_err();
    assert_eq!(
        (e.rule, e.kind),
        (rules::ENTRY_DECODE, RuleErrorKind::InvalidArgument),
        "{e}"
    );
}

const EID: &str = "test-5";
const FP: [u8; 32] = [0xab; 32];

#[test]
fn unknown_fields_are_skipped_at_every_level() {
    let plain = [head(EID, &FP), notice("hi")].concat();
    // In Entry (field 3), in EntryBody (a reserved number, 5, and a new
    // one, 99), inside the payload (Notice field 2), of every wire type
    // (varint, 64-bit, length-delimited, group, 32-bit).
    let unknown = [
        vfield(5, 1),
        [key(99, 1), vec![0; 8]].concat(),
        lfield(98, b"x"),
        [key(97, 3), vfield(1, 1), key(97, 4)].concat(),
        [key(96, 5), vec![0; 4]].concat(),
    ]
    .concat();
    let body = [
        head(EID, &FP),
        unknown.clone(),
        lfield(
            24,
            &[lfield(1, b"hi"), vfield(2, 9), lfield(3, b"?")].concat(),
        ),
    ]
    .concat();
    let framed = [signed(&body), vfield(3, 1), lfield(4, b"extra")].concat();
    let d = decode_entry(&framed).unwrap();
    assert_eq!(
        d.body,
        body_of(&signed(&plain)),
        "unknown fields are dropped"
    );
    // …but hashed and signed as sent: the body bytes are the exact ones.
    assert_eq!(d.body_bytes, body);
    assert_ne!(
        d.body_hash,
        decode_entry(&signed(&plain)).unwrap().body_hash
    );
}

#[test]
fn a_body_without_a_known_payload_is_refused() {
    // No payload at all, or only a payload number this version lacks (25),
    // or a removed one (reserved 13).
    for extra in [vec![], lfield(25, b""), lfield(13, &lfield(1, b"x"))] {
        refused_as_decode(&signed(&[head(EID, &FP), extra].concat()));
    }
}

#[test]
fn repeated_non_repeated_fields_last_wins_messages_merge() {
    // A scalar or string field given twice: the last one counts.
    let body = [
        head("first", &FP),
        lfield(1, EID.as_bytes()),
        vfield(3, 9),
        notice("hi"),
    ]
    .concat();
    let b = body_of(&signed(&body));
    assert_eq!((b.election_id.as_str(), b.created_unix_ms), (EID, 9));
    // The same payload message twice: merged field by field.
    let issuance1 = lfield(16, &[lfield(1, &[7; 32]), lfield(2, b"d1")].concat());
    let issuance2 = lfield(16, &vfield(3, 42));
    let b = body_of(&signed(&[head(EID, &FP), issuance1, issuance2].concat()));
    assert_eq!(
        b.payload,
        Some(Payload::Issuance(v1::Issuance {
            voter_id_hash: vec![7; 32],
            district: "d1".into(),
            issued_unix_ms: 42,
        }))
    );
    // Another member of the oneof: replaces the earlier one.
    let b = body_of(&signed(
        &[head(EID, &FP), notice("hi"), lfield(11, &vfield(1, 1))].concat(),
    ));
    assert_eq!(
        b.payload,
        Some(Payload::PhaseChange(v1::PhaseChange { phase: 1 }))
    );
    // Repeated fields concatenate, packed and unpacked alike.
    let result = [vfield(2, 1), lfield(2, &[2, 3]), vfield(2, 4)].concat();
    let b = body_of(&signed(&[head(EID, &FP), lfield(21, &result)].concat()));
    let Some(Payload::Result(r)) = b.payload else {
        panic!("not a result")
    };
    assert_eq!(r.trustees_used, vec![1, 2, 3, 4]);
}

#[test]
fn varints_non_minimal_accepted_overlong_refused_narrow_fields_truncated() {
    // created_unix_ms = 5 in three bytes, the body's length in Entry with a
    // redundant byte: accepted.
    let body = [
        head(EID, &FP),
        key(3, 0),
        vec![0x85, 0x80, 0x00],
        notice("hi"),
    ]
    .concat();
    let sig = admin().sign(&signing_message(&body));
    let mut len = varint(body.len() as u64);
    *len.last_mut().unwrap() |= 0x80;
    len.push(0);
    let entry = [key(1, 2), len, body.clone(), lfield(2, &sig.to_bytes())].concat();
    assert_eq!(body_of(&entry).created_unix_ms, 5);
    // Eleven bytes, or a tenth byte above 1 (≥ 2⁶⁴): refused (R1.2).
    for tail in [vec![0x80; 10].into_iter().chain([0]).collect::<Vec<_>>(), {
        let mut v = vec![0xff; 9];
        v.push(0x02);
        v
    }] {
        let body = [head(EID, &FP), key(3, 0), tail, notice("hi")].concat();
        refused_as_decode(&signed(&body));
    }
    // uint32, int32 and enum fields keep the low 32 bits: a phase of
    // 2³² + 1 decodes as 1 (KEY_CEREMONY); a bool is any non-zero varint.
    let b = body_of(&signed(
        &[head(EID, &FP), lfield(11, &vfield(1, (1 << 32) | 1))].concat(),
    ));
    assert_eq!(
        b.payload,
        Some(Payload::PhaseChange(v1::PhaseChange { phase: 1 }))
    );
    let ballot = v1::Ballot::decode([vfield(5, (1 << 32) | 1)].concat().as_slice()).unwrap();
    assert_eq!(ballot.round, 1);
    assert!(v1::Points::decode(vfield(3, 2).as_slice()).unwrap().exact);
}

#[test]
fn wrong_wire_types_and_invalid_utf8_are_refused() {
    // election_id (a string) as a varint; created_unix_ms as bytes.
    for bad in [vfield(1, 1), lfield(3, b"x")] {
        refused_as_decode(&signed(&[bad, head(EID, &FP), notice("hi")].concat()));
    }
    // A string that is not UTF-8, in the body and inside the payload.
    refused_as_decode(&signed(
        &[head(EID, &FP), lfield(1, &[0xff]), notice("hi")].concat(),
    ));
    refused_as_decode(&signed(
        &[head(EID, &FP), lfield(24, &lfield(1, &[0xc3]))].concat(),
    ));
    // A length past the end of the message.
    let mut e = signed(&[head(EID, &FP), notice("hi")].concat());
    e.truncate(e.len() - 1);
    refused_as_decode(&e);
}

#[test]
fn reframing_is_a_replay_and_reencoding_a_new_entry() {
    let board = BoardIdentity {
        origin: "tallyboard/test".into(),
        key: SigningKey::from_bytes(&[9; 32]).verifying_key(),
    };
    let m = sample_manifest(&admin(), &board, 5);
    let eid = m.election_id.clone();
    let (bytes, fp) = manifest_entry(&admin(), m);
    let mut st = RecordState::new(board);
    st.check_and_apply(&bytes).unwrap();
    let n = notice_entry(&admin(), &eid, fp, "hello");
    st.check_and_apply(&n).unwrap();
    // The same body in another Entry framing (an unknown field added to
    // Entry): a different leaf, the same body: R1.5.
    let e = st
        .check_and_apply(&[n.clone(), vfield(3, 1)].concat())
        .unwrap_err();
    assert_eq!(
        (e.rule, e.kind),
        (rules::ENTRY_REPLAY, RuleErrorKind::AlreadyExists)
    );
    // The same content encoded differently (an unknown field in the body)
    // is another body, signed anew: accepted as a second notice.
    let body = v1::Entry::decode(n.as_slice()).unwrap().body;
    let reencoded = [body, vfield(99, 0)].concat();
    st.check_and_apply(&signed(&reencoded)).unwrap();
    assert_eq!(st.notices(), 2);
}
