//! Key-ceremony tests: full ceremonies, cheating dealers caught by verifiable
//! complaints, every disqualification rule, the trustee state machine, and
//! canonical decoding of every message.

mod common;

use common::*;
use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use proptest::prelude::*;
use tallyboard_crypto::elgamal::{Ciphertext, Nonce};
use tallyboard_crypto::generators::G;
use tallyboard_crypto::proofs::schnorr::SchnorrProof;
use tallyboard_crypto::DecodeError;
use tallyboard_threshold::*;

fn decrypt_with(
    outcome: &DkgOutcome,
    shares: &[SecretShare],
    subset: &[usize],
    messages: &[u64],
    seed: u8,
) -> Vec<u64> {
    let mut rng = rng(seed);
    let pk = outcome.public_key.joint_key();
    let cts: Vec<Ciphertext> = messages
        .iter()
        .map(|&m| pk.encrypt(m, &mut rng).0)
        .collect();
    let partials: Vec<PartialDecryption> = subset
        .iter()
        .map(|&k| PartialDecryption::create(&shares[k], &cts, &mut rng).unwrap())
        .collect();
    let d = combine(&outcome.public_key, &cts, &partials, 1000).unwrap();
    assert!(d.rejected.is_empty());
    d.plaintexts
}

#[test]
fn two_of_three_ceremony_decrypts() {
    let (shares, outcome, _) = honest_ceremony(2, 3, 1);
    assert_eq!(outcome.qualification.qualified, vec![1, 2, 3]);
    assert!(outcome.qualification.disqualified.is_empty());
    for s in &shares {
        s.self_check(&outcome.public_key).unwrap();
    }
    let msgs = [0, 1, 7, 42, 999];
    for subset in [[0, 1], [0, 2], [1, 2]] {
        assert_eq!(decrypt_with(&outcome, &shares, &subset, &msgs, 2), msgs);
    }
    // All three: the two smallest indices are combined.
    assert_eq!(decrypt_with(&outcome, &shares, &[2, 0, 1], &msgs, 3), msgs);
}

#[test]
fn three_of_five_ceremony_decrypts_and_key_is_consistent() {
    let (shares, outcome, _) = honest_ceremony(3, 5, 4);
    assert_eq!(outcome.qualification.qualified, vec![1, 2, 3, 4, 5]);
    let msgs = [3, 0, 12, 1, 500];
    for subset in [[0, 1, 2], [2, 3, 4], [0, 2, 4], [1, 3, 4]] {
        assert_eq!(decrypt_with(&outcome, &shares, &subset, &msgs, 5), msgs);
    }
    // The secret never exists in one place, but the test can interpolate it.
    let idx = [1u8, 2, 3];
    let l = lagrange_at_zero(&idx).unwrap();
    let x: Scalar = (0..3).map(|k| l[k] * shares[k].expose_scalar()).sum();
    assert_eq!(x * G(), *outcome.public_key.joint_key().point());
    // The public key re-encodes and re-validates.
    let bytes = outcome.public_key.to_bytes();
    assert_eq!(
        ThresholdPublicKey::from_bytes(&bytes).unwrap(),
        outcome.public_key
    );
}

#[test]
fn one_of_one_and_n_of_n() {
    let (shares, outcome, _) = honest_ceremony(1, 1, 6);
    assert_eq!(decrypt_with(&outcome, &shares, &[0], &[5], 7), [5]);
    let (shares, outcome, _) = honest_ceremony(4, 4, 8);
    assert_eq!(
        decrypt_with(&outcome, &shares, &[0, 1, 2, 3], &[9, 0], 9),
        [9, 0]
    );
}

/// Dealer 3 sends trustee 1 a share that decrypts but is wrong.
fn cheat_with_bad_share(seed: u8) -> (Vec<Trustee>, DkgRecord, ChaCha) {
    let mut rng = rng(seed);
    let (mut trustees, mut record) = setup(2, 3, &mut rng);
    reveal_all(&mut trustees, &mut record, &mut rng);
    let honest = record
        .reveals()
        .iter()
        .find(|r| r.dealer() == 3)
        .unwrap()
        .clone();
    let key1 = *record.announcements()[0].key();
    let bad = EncryptedShare::encrypt(
        &Scalar::from(12345u64),
        &ShareAddress {
            election: &ELECTION,
            dealer: 3,
            recipient: 1,
            recipient_key: &key1,
        },
        &mut rng,
    );
    let mut shares = honest.shares().to_vec();
    shares[0] = bad;
    let cheat = Reveal::from_parts(
        3,
        honest.coefficient_commitments().to_vec(),
        honest.proofs().to_vec(),
        shares,
    )
    .unwrap();
    (trustees, replace_reveal(&record, 3, Some(cheat)), rng)
}
type ChaCha = rand_chacha::ChaCha20Rng;

#[test]
fn cheating_dealer_is_caught_by_a_verifiable_complaint() {
    let (mut trustees, mut record, mut rng) = cheat_with_bad_share(10);
    // Before complaints, dealer 3 looks fine publicly.
    assert_eq!(qualify(&record).unwrap().qualified, vec![1, 2, 3]);
    assert_eq!(complain_all(&mut trustees, &mut record, &mut rng), 1);
    let c = record.complaints()[0];
    assert_eq!((c.complainer(), c.dealer()), (1, 3));
    // Anyone can judge it from public data.
    let q = qualify(&record).unwrap();
    assert_eq!(q.qualified, vec![1, 2]);
    assert_eq!(
        q.disqualified,
        vec![Disqualification {
            trustee: 3,
            reason: ThresholdError::ValidComplaint {
                dealer: 3,
                complainer: 1
            }
        }]
    );
    // The ceremony still succeeds and the key works.
    let (shares, outcome) = finish_all(&mut trustees, &record);
    assert_eq!(outcome.qualification, q);
    let msgs = [4, 0, 17];
    for subset in [[0, 1], [0, 2], [1, 2]] {
        assert_eq!(decrypt_with(&outcome, &shares, &subset, &msgs, 11), msgs);
    }
    // Joint key = C_{1,0} + C_{2,0}.
    let k: RistrettoPoint = record
        .reveals()
        .iter()
        .filter(|r| r.dealer() != 3)
        .map(|r| r.coefficient_commitments()[0])
        .sum();
    assert_eq!(*outcome.public_key.joint_key().point(), k);
}

#[test]
fn garbled_share_is_caught_too() {
    let mut rng = rng(12);
    let (mut trustees, mut record) = setup(2, 3, &mut rng);
    reveal_all(&mut trustees, &mut record, &mut rng);
    let mut bytes = record.reveals()[1].to_bytes();
    let n = bytes.len();
    bytes[n - 1] ^= 1; // the tag of the share for trustee 3
    let garbled = Reveal::from_bytes(&bytes).unwrap();
    let mut record = replace_reveal(&record, 2, Some(garbled));
    assert_eq!(complain_all(&mut trustees, &mut record, &mut rng), 1);
    let q = qualify(&record).unwrap();
    assert_eq!(q.qualified, vec![1, 3]);
    assert_eq!(
        q.disqualified[0].reason,
        ThresholdError::ValidComplaint {
            dealer: 2,
            complainer: 3
        }
    );
    finish_all(&mut trustees, &record);
}

#[test]
fn unfounded_and_forged_complaints_blame_the_complainer() {
    let mut rng = rng(13);
    let (mut trustees, mut record) = setup(2, 4, &mut rng);
    reveal_all(&mut trustees, &mut record, &mut rng);
    // Trustee 2 complains about dealer 1's perfectly good share.
    let reveal1 = record.reveals()[0].clone();
    let unfounded =
        Complaint::create(&ELECTION, 2, trustees[1].keys(), &reveal1, &mut rng).unwrap();
    // Trustee 4 posts a complaint with a wrong DH value (proof breaks).
    let real = Complaint::create(&ELECTION, 4, trustees[3].keys(), &reveal1, &mut rng).unwrap();
    let mut forged = real.to_bytes();
    forged[3..35].copy_from_slice(G().compress().as_bytes());
    let forged = Complaint::from_bytes(&forged).unwrap();
    record.push(DkgMessage::Complaint(unfounded)).unwrap();
    record.push(DkgMessage::Complaint(forged)).unwrap();
    complain_all(&mut trustees, &mut record, &mut rng);
    let q = qualify(&record).unwrap();
    assert_eq!(q.qualified, vec![1, 3]);
    assert_eq!(
        q.disqualified,
        vec![
            Disqualification {
                trustee: 2,
                reason: ThresholdError::UnfoundedComplaint {
                    complainer: 2,
                    dealer: 1
                }
            },
            Disqualification {
                trustee: 4,
                reason: ThresholdError::InvalidComplaintProof {
                    complainer: 4,
                    dealer: 1
                }
            },
        ]
    );
    // Disqualified dealers still receive shares: everyone finishes.
    let (shares, outcome) = finish_all(&mut trustees, &record);
    assert_eq!(
        decrypt_with(&outcome, &shares, &[1, 3], &[8, 1], 14),
        [8, 1]
    );
}

#[test]
fn tampered_proof_of_knowledge_disqualifies() {
    let mut rng = rng(15);
    let (mut trustees, mut record) = setup(3, 4, &mut rng);
    reveal_all(&mut trustees, &mut record, &mut rng);
    let r = record.reveals()[2].clone();
    let mut proofs = r.proofs().to_vec();
    proofs[1] = SchnorrProof {
        z: proofs[1].z + Scalar::ONE,
        ..proofs[1]
    };
    let bad = Reveal::from_parts(
        3,
        r.coefficient_commitments().to_vec(),
        proofs,
        r.shares().to_vec(),
    )
    .unwrap();
    assert_eq!(
        bad.verify_proofs(&ELECTION),
        Err(ThresholdError::InvalidProofOfKnowledge {
            dealer: 3,
            coefficient: 1
        })
    );
    // A valid proof under another election does not verify either.
    assert!(r.verify_proofs(&[0u8; 32]).is_err());
    let record = replace_reveal(&record, 3, Some(bad));
    let q = qualify(&record).unwrap();
    assert_eq!(q.qualified, vec![1, 2, 4]);
    assert_eq!(
        q.disqualified[0].reason,
        ThresholdError::InvalidProofOfKnowledge {
            dealer: 3,
            coefficient: 1
        }
    );
    assert!(evaluate(&record).is_ok());
}

#[test]
fn reveal_not_matching_commitment_disqualifies() {
    let mut rng = rng(16);
    let (mut trustees, mut record) = setup(2, 3, &mut rng);
    // Dealer 2 reveals a polynomial other than the one it committed to.
    let params = *record.params();
    let mut other = Trustee::new(params, 2, trustees[1].keys().clone(), &mut rng).unwrap();
    let other_commit = other.commit().unwrap();
    let mut rec_other = record.clone();
    rec_other
        .push(DkgMessage::Commitment(other_commit))
        .unwrap();
    let swapped = other.reveal(&rec_other, &mut rng).unwrap();
    reveal_all(&mut trustees, &mut record, &mut rng);
    let c2 = record.commitments()[1];
    assert_eq!(
        c2.check_reveal(&params, &swapped),
        Err(ThresholdError::RevealMismatch { dealer: 2 })
    );
    let record = replace_reveal(&record, 2, Some(swapped));
    let q = qualify(&record).unwrap();
    assert_eq!(q.qualified, vec![1, 3]);
    assert_eq!(
        q.disqualified[0].reason,
        ThresholdError::RevealMismatch { dealer: 2 }
    );
}

#[test]
fn missing_and_conflicting_messages() {
    let mut rng = rng(17);
    let (mut trustees, mut record) = setup(2, 4, &mut rng);
    reveal_all(&mut trustees, &mut record, &mut rng);
    // Dealer 1 never revealed.
    let mut rec = replace_reveal(&record, 1, None);
    // Dealer 2 posts a second, different reveal (same commitment).
    let r2 = rec
        .reveals()
        .iter()
        .find(|r| r.dealer() == 2)
        .unwrap()
        .clone();
    let mut shares = r2.shares().to_vec();
    shares.swap(0, 1);
    let r2b = Reveal::from_parts(
        2,
        r2.coefficient_commitments().to_vec(),
        r2.proofs().to_vec(),
        shares,
    )
    .unwrap();
    rec.push(DkgMessage::Reveal(r2b)).unwrap();
    // An exact duplicate is ignored.
    rec.push(DkgMessage::Reveal(r2.clone())).unwrap();
    let q = qualify(&rec).unwrap();
    assert_eq!(q.qualified, vec![3, 4]);
    assert_eq!(
        q.disqualified[0].reason,
        ThresholdError::MissingReveal { dealer: 1 }
    );
    assert_eq!(
        q.disqualified[1].reason,
        ThresholdError::ConflictingMessages {
            trustee: 2,
            message: "reveal"
        }
    );

    // A dealer whose commitment is missing is out, even if it reveals.
    let params = *record.params();
    let mut rec = DkgRecord::new(params);
    for a in record.announcements() {
        rec.push(DkgMessage::KeyAnnouncement(*a)).unwrap();
    }
    for c in record.commitments().iter().filter(|c| c.dealer() != 4) {
        rec.push(DkgMessage::Commitment(*c)).unwrap();
    }
    for r in record.reveals() {
        rec.push(DkgMessage::Reveal(r.clone())).unwrap();
    }
    let q = qualify(&rec).unwrap();
    assert_eq!(q.qualified, vec![1, 2, 3]);
    assert_eq!(
        q.disqualified[0].reason,
        ThresholdError::MissingCommitment { dealer: 4 }
    );
}

#[test]
fn too_few_qualified_fails_the_ceremony() {
    let mut rng = rng(18);
    let (mut trustees, mut record) = setup(3, 4, &mut rng);
    reveal_all(&mut trustees, &mut record, &mut rng);
    let rec = replace_reveal(&replace_reveal(&record, 1, None), 2, None);
    assert_eq!(
        evaluate(&rec),
        Err(ThresholdError::CeremonyFailed {
            qualified: 2,
            threshold: 3
        })
    );
    complain_all(&mut trustees, &mut rec.clone(), &mut rng);
    assert!(matches!(
        trustees[2].finish(&rec),
        Err(ThresholdError::CeremonyFailed { .. })
    ));
}

#[test]
fn setup_errors_are_fatal() {
    let mut rng = rng(19);
    let params = DkgParams::new(ELECTION, 2, 3).unwrap();
    let kps: Vec<_> = (0..3).map(|_| TrusteeKeyPair::generate(&mut rng)).collect();
    let mut rec = DkgRecord::new(params);
    rec.push(DkgMessage::KeyAnnouncement(
        kps[0].announce(&ELECTION, 1, &mut rng).unwrap(),
    ))
    .unwrap();
    rec.push(DkgMessage::KeyAnnouncement(
        kps[1].announce(&ELECTION, 2, &mut rng).unwrap(),
    ))
    .unwrap();
    assert_eq!(
        qualify(&rec),
        Err(ThresholdError::MissingKeyAnnouncement { trustee: 3 })
    );
    // A proof of possession made for another index does not verify.
    let wrong = kps[2].announce(&ELECTION, 1, &mut rng).unwrap();
    let mut b = wrong.to_bytes();
    b[1] = 3;
    let wrong = KeyAnnouncement::from_bytes(&b).unwrap();
    assert_eq!(
        wrong.verify(&ELECTION),
        Err(ThresholdError::InvalidKeyAnnouncement { trustee: 3 })
    );
    let mut rec2 = rec.clone();
    rec2.push(DkgMessage::KeyAnnouncement(wrong)).unwrap();
    assert_eq!(
        qualify(&rec2),
        Err(ThresholdError::InvalidKeyAnnouncement { trustee: 3 })
    );
    // Another election: does not verify.
    let other = kps[2].announce(&[1u8; 32], 3, &mut rng).unwrap();
    assert!(other.verify(&ELECTION).is_err());
    // Two different announcements from trustee 3: equivocation.
    let a = kps[2].announce(&ELECTION, 3, &mut rng).unwrap();
    let b = kps[2].announce(&ELECTION, 3, &mut rng).unwrap();
    let mut rec3 = rec.clone();
    rec3.push(DkgMessage::KeyAnnouncement(a)).unwrap();
    rec3.push(DkgMessage::KeyAnnouncement(b)).unwrap();
    assert_eq!(
        qualify(&rec3),
        Err(ThresholdError::ConflictingMessages {
            trustee: 3,
            message: "key announcement"
        })
    );
    // Out-of-range senders and parameter mismatches are refused by push.
    let a4 = kps[2].announce(&ELECTION, 4, &mut rng).unwrap();
    assert_eq!(
        rec.push(DkgMessage::KeyAnnouncement(a4)),
        Err(ThresholdError::UnknownTrustee {
            trustee: 4,
            trustees: 3
        })
    );
    assert!(DkgParams::new(ELECTION, 0, 3).is_err());
    assert!(DkgParams::new(ELECTION, 4, 3).is_err());
    assert!(DkgParams::new(ELECTION, 255, 255).is_ok());
}

#[test]
fn reveal_with_other_parameters_is_refused() {
    let mut rng = rng(20);
    let (mut trustees, mut record) = setup(2, 3, &mut rng);
    reveal_all(&mut trustees, &mut record, &mut rng);
    let r = record.reveals()[0].clone();
    let p3 = DkgParams::new(ELECTION, 3, 3).unwrap();
    let mut rec = DkgRecord::new(p3);
    assert_eq!(
        rec.push(DkgMessage::Reveal(r)),
        Err(ThresholdError::ParameterMismatch { trustee: 1 })
    );
}

#[test]
fn state_machine_enforces_order_and_persists() {
    let mut rng = rng(21);
    let (mut trustees, mut record) = setup(2, 3, &mut rng);
    let tr = &mut trustees[0];
    assert_eq!(tr.round(), Round::Reveal);
    assert_eq!(
        tr.commit(),
        Err(ThresholdError::WrongRound {
            expected: Round::Commit,
            actual: Round::Reveal
        })
    );
    assert!(matches!(
        tr.complain(&record, &mut rng),
        Err(ThresholdError::WrongRound { .. })
    ));
    // Reveal needs the trustee's own commitment in the record.
    let mut fresh = Trustee::new(*record.params(), 1, tr.keys().clone(), &mut rng).unwrap();
    fresh.commit().unwrap();
    assert_eq!(
        fresh.reveal(&record, &mut rng),
        Err(ThresholdError::MissingOwnMessage("commitment"))
    );
    // Reveal needs every key announcement.
    let mut partial = DkgRecord::new(*record.params());
    for c in record.commitments() {
        partial.push(DkgMessage::Commitment(*c)).unwrap();
    }
    assert_eq!(
        copy(tr).reveal(&partial, &mut rng),
        Err(ThresholdError::MissingKeyAnnouncement { trustee: 1 })
    );
    // A record of another ceremony is refused.
    let other = DkgRecord::new(DkgParams::new([0u8; 32], 2, 3).unwrap());
    assert_eq!(
        copy(tr).reveal(&other, &mut rng),
        Err(ThresholdError::ElectionMismatch)
    );

    // Persist every trustee between every round: same result.
    let mut restored: Vec<Trustee> = trustees.iter().map(copy).collect();
    assert!(format!("{:?}", restored[0]).contains("[REDACTED]"));
    reveal_all(&mut restored, &mut record, &mut rng);
    let mut restored: Vec<Trustee> = restored.iter().map(copy).collect();
    assert_eq!(restored[0].to_bytes().len(), 69);
    complain_all(&mut restored, &mut record, &mut rng);
    let mut restored: Vec<Trustee> = restored.iter().map(copy).collect();
    let (shares, outcome) = finish_all(&mut restored, &record);
    assert_eq!(restored[0].round(), Round::Done);
    assert_eq!(decrypt_with(&outcome, &shares, &[0, 2], &[3], 22), [3]);
}

#[test]
fn secret_share_file_roundtrip_and_redaction() {
    let (shares, outcome, _) = honest_ceremony(2, 3, 23);
    let s = &shares[1];
    let bytes = s.to_bytes();
    assert_eq!(bytes.len(), SecretShare::LEN);
    let back = SecretShare::from_bytes(bytes.as_slice()).unwrap();
    back.self_check(&outcome.public_key).unwrap();
    assert_eq!(back.expose_scalar(), s.expose_scalar());
    let dbg = format!("{s:?}");
    assert!(dbg.contains("[REDACTED]"));
    assert!(!dbg.contains(&hex::encode(s.expose_scalar().as_bytes())));
    // A share does not pass the self-check against another trustee's slot.
    let mut wrong = bytes.to_vec();
    wrong[35] = 1;
    let wrong = SecretShare::from_bytes(&wrong).unwrap();
    assert_eq!(
        wrong.self_check(&outcome.public_key),
        Err(ThresholdError::SelfCheckFailed { trustee: 1 })
    );
    // Malformed files.
    assert!(matches!(
        SecretShare::from_bytes(&bytes[..67]),
        Err(ThresholdError::Decode(DecodeError::WrongLength { .. }))
    ));
    let mut nc = bytes.to_vec();
    nc[36..].copy_from_slice(&[0xff; 32]);
    assert!(matches!(
        SecretShare::from_bytes(&nc),
        Err(ThresholdError::Decode(
            DecodeError::NonCanonicalScalar { .. }
        ))
    ));
    let mut bad_idx = bytes.to_vec();
    bad_idx[35] = 4;
    assert!(matches!(
        SecretShare::from_bytes(&bad_idx),
        Err(ThresholdError::Decode(DecodeError::OutOfRange { .. }))
    ));
    let mut bad_tag = bytes.to_vec();
    bad_tag[0] = 0x06;
    assert!(SecretShare::from_bytes(&bad_tag).is_err());

    let kp = TrusteeKeyPair::generate(&mut rng(24));
    assert!(format!("{kp:?}").contains("[REDACTED]"));
    let kb = kp.to_bytes();
    assert_eq!(
        TrusteeKeyPair::from_bytes(kb.as_slice())
            .unwrap()
            .public_key(),
        kp.public_key()
    );
    let mut zero = [0u8; 33];
    zero[0] = 0x08;
    assert!(TrusteeKeyPair::from_bytes(&zero).is_err());
}

#[test]
fn threshold_public_key_rejects_inconsistent_and_malformed() {
    let (_, outcome, _) = honest_ceremony(2, 4, 25);
    let pk = &outcome.public_key;
    let vks = pk.verification_keys().to_vec();
    let mut bad = vks.clone();
    bad[3] += G();
    assert_eq!(
        ThresholdPublicKey::from_parts(ELECTION, 2, *pk.joint_key().point(), bad),
        Err(ThresholdError::InconsistentPublicKey)
    );
    assert_eq!(
        ThresholdPublicKey::from_parts(ELECTION, 2, *pk.joint_key().point() + G(), vks.clone()),
        Err(ThresholdError::InconsistentPublicKey)
    );
    let bytes = pk.to_bytes();
    assert_eq!(bytes.len(), ThresholdPublicKey::encoded_len(4));
    let mut ident = bytes.clone();
    ident[35..67].copy_from_slice(&[0u8; 32]);
    assert!(matches!(
        ThresholdPublicKey::from_bytes(&ident),
        Err(ThresholdError::Decode(DecodeError::IdentityPoint { .. }))
    ));
    let mut badpt = bytes.clone();
    badpt[67..99].copy_from_slice(&[0xffu8; 32]);
    assert!(matches!(
        ThresholdPublicKey::from_bytes(&badpt),
        Err(ThresholdError::Decode(DecodeError::InvalidPoint { .. }))
    ));
    assert!(matches!(
        ThresholdPublicKey::from_bytes(&bytes[..bytes.len() - 1]),
        Err(ThresholdError::Decode(DecodeError::WrongLength { .. }))
    ));
    let mut bad_t = bytes.clone();
    bad_t[33] = 5;
    assert!(matches!(
        ThresholdPublicKey::from_bytes(&bad_t),
        Err(ThresholdError::Decode(DecodeError::OutOfRange { .. }))
    ));
}

#[test]
fn messages_roundtrip_and_reject_malformed_encodings() {
    let mut rng = rng(26);
    let (mut trustees, mut record) = setup(2, 3, &mut rng);
    reveal_all(&mut trustees, &mut record, &mut rng);
    let reveal1 = record.reveals()[0].clone();
    let complaint =
        Complaint::create(&ELECTION, 2, trustees[1].keys(), &reveal1, &mut rng).unwrap();
    let msgs = [
        DkgMessage::KeyAnnouncement(record.announcements()[0]),
        DkgMessage::Commitment(record.commitments()[0]),
        DkgMessage::Reveal(reveal1.clone()),
        DkgMessage::Complaint(complaint),
    ];
    let lens = [
        KeyAnnouncement::LEN,
        Commitment::LEN,
        Reveal::encoded_len(2, 3),
        Complaint::LEN,
    ];
    for (m, len) in msgs.iter().zip(lens) {
        let b = m.to_bytes();
        assert_eq!(b.len(), len);
        assert_eq!(&DkgMessage::from_bytes(&b).unwrap(), m);
        // Wrong lengths: one byte short, one byte long, empty.
        for bad in [
            &b[..b.len() - 1],
            &[b.as_slice(), &[0]].concat()[..],
            &[][..],
        ] {
            assert!(matches!(
                DkgMessage::from_bytes(bad),
                Err(ThresholdError::Decode(DecodeError::WrongLength { .. })
                    | ThresholdError::Decode(DecodeError::OutOfRange { .. }))
            ));
        }
        // Index 0.
        let mut z = b.clone();
        z[1] = 0;
        assert!(matches!(
            DkgMessage::from_bytes(&z),
            Err(ThresholdError::Decode(DecodeError::OutOfRange { .. }))
        ));
    }
    assert!(DkgMessage::from_bytes(&[0x77; 34]).is_err());

    // Point fields: identity and invalid encodings; scalar fields: non-canonical.
    let ident = [0u8; 32];
    let invalid = [0xffu8; 32];
    let noncanon = [0xffu8; 32];
    let cases: Vec<(Vec<u8>, usize, [u8; 32], &str)> = vec![
        (msgs[0].to_bytes(), 2, ident, "identity"),
        (msgs[0].to_bytes(), 2, invalid, "invalid"),
        (msgs[0].to_bytes(), 66, noncanon, "noncanonical"),
        (msgs[2].to_bytes(), 4, ident, "identity"),
        (msgs[2].to_bytes(), 36, invalid, "invalid"),
        (msgs[2].to_bytes(), 4 + 64 + 32, noncanon, "noncanonical"),
        (msgs[2].to_bytes(), 4 + 64 + 128, ident, "identity"),
        (msgs[2].to_bytes(), 4 + 64 + 128 + 80, invalid, "invalid"),
        (msgs[3].to_bytes(), 3, ident, "identity"),
        (msgs[3].to_bytes(), 35, invalid, "invalid"),
        (msgs[3].to_bytes(), 99, noncanon, "noncanonical"),
    ];
    for (mut b, at, field, kind) in cases {
        b[at..at + 32].copy_from_slice(&field);
        let err = DkgMessage::from_bytes(&b).unwrap_err();
        let ok = match kind {
            "identity" => matches!(
                err,
                ThresholdError::Decode(DecodeError::IdentityPoint { .. })
            ),
            "invalid" => matches!(
                err,
                ThresholdError::Decode(DecodeError::InvalidPoint { .. })
            ),
            _ => matches!(
                err,
                ThresholdError::Decode(DecodeError::NonCanonicalScalar { .. })
            ),
        };
        assert!(ok, "{kind} at {at}: {err:?}");
    }
    // A reveal claiming t > n, or a dealer beyond n.
    let mut b = msgs[2].to_bytes();
    b[2] = 4;
    assert!(matches!(
        Reveal::from_bytes(&b),
        Err(ThresholdError::Decode(DecodeError::OutOfRange { .. }))
    ));
    let mut b = msgs[2].to_bytes();
    b[1] = 4;
    assert!(matches!(
        Reveal::from_bytes(&b),
        Err(ThresholdError::Decode(DecodeError::OutOfRange { .. }))
    ));
}

#[test]
fn decrypting_the_zero_aggregate() {
    let (shares, outcome, _) = honest_ceremony(2, 3, 27);
    let mut rng = rng(28);
    let k = outcome.public_key.joint_key();
    let cts = vec![
        Ciphertext::zero(),
        k.encrypt_with(2, &Nonce::from_scalar(Scalar::from(5u8))),
    ];
    let partials: Vec<_> = shares
        .iter()
        .map(|s| PartialDecryption::create(s, &cts, &mut rng).unwrap())
        .collect();
    let d = combine(&outcome.public_key, &cts, &partials, 10).unwrap();
    assert_eq!(d.plaintexts, [0, 2]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any single-bit change to a dealer's reveal is refused on decoding or
    /// ends with that dealer (or the dealer it now claims to be) out of QUAL.
    #[test]
    fn any_bit_flip_in_a_reveal_is_caught(dealer in 1u8..=3, bit in 0usize..(Reveal::encoded_len(2, 3) * 8)) {
        let (trustees, record) = round1_fixture();
        let mut b = record.reveals()[usize::from(dealer) - 1].to_bytes();
        b[bit / 8] ^= 1 << (bit % 8);
        let Ok(tampered) = Reveal::from_bytes(&b) else { return Ok(()) };
        let mut rec = replace_reveal(&record, dealer, None);
        if rec.push(DkgMessage::Reveal(tampered)).is_err() {
            return Ok(());
        }
        let mut trustees: Vec<Trustee> = trustees.iter().map(copy).collect();
        let mut rng = rng(30);
        complain_all(&mut trustees, &mut rec, &mut rng);
        let q = qualify(&rec).unwrap();
        prop_assert!(q.qualified.len() < 3, "tampering at bit {} went unnoticed", bit);
        // Whoever complained was right.
        let complainers_right = q.disqualified.iter().all(|d| !matches!(
            d.reason,
            ThresholdError::UnfoundedComplaint { .. } | ThresholdError::InvalidComplaintProof { .. }
        ));
        prop_assert!(complainers_right);
    }

    /// Any single-bit change to a valid complaint is refused on decoding or
    /// makes it fail (the complaint then blames its claimed sender, whose
    /// signature the board checks).
    #[test]
    fn any_bit_flip_in_a_complaint_breaks_it(bit in 0usize..(Complaint::LEN * 8)) {
        let (record, complaint) = complaint_fixture();
        let mut b = complaint.to_bytes();
        b[bit / 8] ^= 1 << (bit % 8);
        let Ok(tampered) = Complaint::from_bytes(&b) else { return Ok(()) };
        let mut rec = record.clone();
        if rec.push(DkgMessage::Complaint(tampered)).is_err() {
            return Ok(());
        }
        let q = qualify(&rec).unwrap();
        // The tampered complaint proves nothing: only its claimed sender is
        // blamed, and the cheating dealer 3 is not caught by it.
        prop_assert_eq!(
            q.disqualified,
            vec![Disqualification {
                trustee: tampered.complainer(),
                reason: ThresholdError::InvalidComplaintProof {
                    complainer: tampered.complainer(),
                    dealer: tampered.dealer(),
                },
            }]
        );
    }
}

fn round1_fixture() -> (Vec<Trustee>, DkgRecord) {
    use std::sync::OnceLock;
    static F: OnceLock<(Vec<Vec<u8>>, DkgRecord)> = OnceLock::new();
    let (states, record) = F.get_or_init(|| {
        let mut rng = rng(29);
        let (mut trustees, mut record) = setup(2, 3, &mut rng);
        reveal_all(&mut trustees, &mut record, &mut rng);
        (
            trustees.iter().map(|t| t.to_bytes().to_vec()).collect(),
            record,
        )
    });
    (
        states
            .iter()
            .map(|b| Trustee::from_bytes(b).unwrap())
            .collect(),
        record.clone(),
    )
}

fn complaint_fixture() -> (DkgRecord, Complaint) {
    use std::sync::OnceLock;
    static F: OnceLock<(DkgRecord, Complaint)> = OnceLock::new();
    F.get_or_init(|| {
        let (mut trustees, record, mut rng) = cheat_with_bad_share(31);
        let c = trustees[0].complain(&record.clone(), &mut rng).unwrap();
        assert_eq!(c.len(), 1);
        let q = {
            let mut r = record.clone();
            r.push(DkgMessage::Complaint(c[0])).unwrap();
            qualify(&r).unwrap()
        };
        assert_eq!(q.qualified, vec![1, 2]);
        (record, c[0])
    })
    .clone()
}

#[test]
fn second_different_complaint_is_refused() {
    let mut rng = rng(32);
    let (mut trustees, mut record) = setup(2, 3, &mut rng);
    reveal_all(&mut trustees, &mut record, &mut rng);
    let r1 = record.reveals()[0].clone();
    let a = Complaint::create(&ELECTION, 2, trustees[1].keys(), &r1, &mut rng).unwrap();
    let b = Complaint::create(&ELECTION, 2, trustees[1].keys(), &r1, &mut rng).unwrap();
    record.push(DkgMessage::Complaint(a)).unwrap();
    record.push(DkgMessage::Complaint(a)).unwrap();
    assert_eq!(
        record.push(DkgMessage::Complaint(b)),
        Err(ThresholdError::ConflictingMessages {
            trustee: 2,
            message: "complaint"
        })
    );
    assert_eq!(record.complaints().len(), 1);
    let c = Complaint::create(
        &ELECTION,
        2,
        trustees[1].keys(),
        &record.reveals()[2].clone(),
        &mut rng,
    )
    .unwrap();
    record.push(DkgMessage::Complaint(c)).unwrap();
    assert_eq!(record.complaints().len(), 2);
}
