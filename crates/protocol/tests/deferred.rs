//! Deferred ballot verification and compact records give the same answers
//! as `precheck` / ordinary records (`spec/checks.md` §11).

use ed25519_dalek::SigningKey;
use rand_core::OsRng;
use tallyboard_protocol::ballot::{build_ballot, CredentialRef};
use tallyboard_protocol::testkit::{
    entry, manifest_entry, phase_entry, sample_credential, sample_issuer_key, sample_manifest,
    sample_trustee_key,
};
use tallyboard_protocol::v1::{self, entry_body::Payload};
use tallyboard_protocol::{
    rules, verify_deferred_batch, BoardIdentity, DeferredBallotProofs, RecordState,
};
use tallyboard_threshold::{DkgMessage, Trustee, TrusteeKeyPair};

const SEED: u8 = 23;

/// A record up to VotingOpen with 4 issued credentials; returns the entries.
fn opened() -> (Vec<Vec<u8>>, SigningKey, String, [u8; 32]) {
    let board = BoardIdentity {
        origin: "tallyboard/test".into(),
        key: SigningKey::from_bytes(&[9; 32]).verifying_key(),
    };
    let admin = SigningKey::from_bytes(&[1; 32]);
    let manifest = sample_manifest(&admin, &board, SEED);
    let eid = manifest.election_id.clone();
    let (m, fp) = manifest_entry(&admin, manifest);
    let mut st = RecordState::new(board);
    let mut entries = vec![m];
    entries.push(phase_entry(&admin, &eid, fp, v1::Phase::KeyCeremony));
    for e in &entries {
        st.check_and_apply(e).unwrap();
    }
    let params = *st.dkg().unwrap().params();
    let keys: Vec<SigningKey> = (1..=3).map(|i| sample_trustee_key(SEED, i)).collect();
    let mut ts: Vec<Trustee> = (1..=3u8)
        .map(|i| Trustee::new(params, i, TrusteeKeyPair::generate(&mut OsRng), &mut OsRng).unwrap())
        .collect();
    let post = |st: &mut RecordState, entries: &mut Vec<Vec<u8>>, e: Vec<u8>| {
        st.check_and_apply(&e).unwrap();
        entries.push(e);
    };
    let dkg = |k: &SigningKey, m: DkgMessage| {
        entry(
            k,
            &eid,
            fp,
            Payload::Dkg(v1::DkgMessage {
                message: m.to_bytes(),
            }),
        )
    };
    for (t, k) in ts.iter_mut().zip(&keys) {
        let a = t.announce(&mut OsRng).unwrap();
        post(
            &mut st,
            &mut entries,
            dkg(k, DkgMessage::KeyAnnouncement(a)),
        );
    }
    for (t, k) in ts.iter_mut().zip(&keys) {
        let c = t.commit().unwrap();
        post(&mut st, &mut entries, dkg(k, DkgMessage::Commitment(c)));
    }
    for i in 0..3 {
        let r = ts[i].reveal(st.dkg().unwrap(), &mut OsRng).unwrap();
        post(&mut st, &mut entries, dkg(&keys[i], DkgMessage::Reveal(r)));
    }
    for t in &mut ts {
        assert!(t
            .complain(st.dkg().unwrap(), &mut OsRng)
            .unwrap()
            .is_empty());
    }
    let mut out = None;
    for t in &mut ts {
        out = Some(t.finish(st.dkg().unwrap()).unwrap().1);
    }
    let out = out.unwrap();
    let k = &out.public_key;
    let ek = v1::ElectionKey {
        joint_key: k.joint_key().to_bytes().to_vec(),
        verification_keys: k
            .verification_keys()
            .iter()
            .map(|v| v.compress().to_bytes().to_vec())
            .collect(),
        qualified: out
            .qualification
            .qualified
            .iter()
            .map(|&q| u32::from(q))
            .collect(),
    };
    post(
        &mut st,
        &mut entries,
        entry(&admin, &eid, fp, Payload::ElectionKey(ek)),
    );
    post(
        &mut st,
        &mut entries,
        phase_entry(&admin, &eid, fp, v1::Phase::VotingOpen),
    );
    let issuer = sample_issuer_key(SEED);
    for v in 0..4u8 {
        let i = entry(
            &issuer,
            &eid,
            fp,
            Payload::Issuance(v1::Issuance {
                voter_id_hash: vec![v; 32],
                district: "d1".into(),
                issued_unix_ms: 0,
            }),
        );
        post(&mut st, &mut entries, i);
    }
    (entries, admin, eid, fp)
}

fn replay(entries: &[Vec<u8>], compact: bool) -> RecordState {
    let mut st = if compact {
        RecordState::unbound_compact()
    } else {
        RecordState::unbound()
    };
    for e in entries {
        st.check_and_apply(e).unwrap();
    }
    st
}

#[test]
fn deferred_equals_precheck_and_compact_equals_ordinary() {
    let (mut entries, admin, eid, fp) = opened();
    let st = replay(&entries, false);
    let m = st.manifest().unwrap().clone();
    let pk = st.election_key().unwrap().clone();
    let creds: Vec<_> = (0..4u64)
        .map(|v| sample_credential(&fp, 1000 + v))
        .collect();
    let ballot = |v: usize, option: usize| {
        let (k, s, r) = &creds[v];
        let cref = CredentialRef {
            key: k,
            district: "d1",
            signature: s,
            randomizer: r,
        };
        let mut sel = vec![0u64; 3];
        sel[option] = 1;
        build_ballot(&m, &pk, &cref, &[sel], 0, &mut OsRng)
            .unwrap()
            .0
    };
    // Valid ballots, a revote by voter 0, and invalid ones of each kind.
    let good: Vec<Vec<u8>> = (0..4)
        .map(|v| entry(&creds[v].0, &eid, fp, Payload::Ballot(ballot(v, v % 3))))
        .collect();
    let revote = entry(&creds[0].0, &eid, fp, Payload::Ballot(ballot(0, 2)));
    let mut bad_cred = ballot(1, 0);
    bad_cred.credential_signature[3] ^= 1;
    let mut copied = ballot(2, 1);
    copied.credential_signature = creds[3].1.clone();
    copied.credential_randomizer = creds[3].2.clone();
    let mut bad_both = bad_cred.clone();
    bad_both.contests[0].contest = "zz".into();
    let mut bad_second = ballot(1, 1);
    bad_second.contests[0].encrypted[20] ^= 1;
    let bad = [
        entry(&creds[1].0, &eid, fp, Payload::Ballot(bad_cred)),
        entry(&creds[3].0, &eid, fp, Payload::Ballot(copied)),
        entry(&creds[1].0, &eid, fp, Payload::Ballot(bad_both)),
        entry(&creds[1].0, &eid, fp, Payload::Ballot(bad_second)),
    ];
    let all: Vec<&Vec<u8>> = good.iter().chain(&bad).chain([&revote]).collect();
    let mut deferred = Vec::new();
    for e in &all {
        let direct = st.precheck(e).map(|_| ());
        let pre = st.prechecker();
        let via = match pre.precheck_deferred(e) {
            Ok((_, Some(d))) => {
                let r = d.verify();
                deferred.push((d, direct.clone()));
                r
            }
            Ok((_, None)) => Ok(()),
            Err(e) => Err(e),
        };
        assert_eq!(via, direct);
    }
    assert_eq!(
        st.precheck(&bad[0]).unwrap_err().rule,
        rules::BALLOT_CREDENTIAL
    );
    assert_eq!(st.precheck(&bad[1]).unwrap_err().rule, rules::BALLOT_PROOFS);
    assert_eq!(
        st.precheck(&bad[2]).unwrap_err().rule,
        rules::BALLOT_CREDENTIAL
    );
    // Batched: same result per item, valid or not.
    let items: Vec<&DeferredBallotProofs> = deferred.iter().map(|(d, _)| d).collect();
    let got = verify_deferred_batch(&items, OsRng);
    for (g, (_, want)) in got.iter().zip(&deferred) {
        assert_eq!(g, want);
    }
    let only_good: Vec<&DeferredBallotProofs> = deferred
        .iter()
        .filter(|(_, w)| w.is_ok())
        .map(|(d, _)| d)
        .collect();
    assert!(verify_deferred_batch(&only_good, OsRng)
        .iter()
        .all(Result::is_ok));

    // Compact and ordinary records agree, once the revote is resolved.
    entries.extend(good.iter().cloned());
    let first = entries.len() - 4;
    entries.push(revote);
    entries.push(phase_entry(&admin, &eid, fp, v1::Phase::VotingClosed));
    let ordinary = replay(&entries, false);
    let mut compact = replay(&entries, true);
    assert_eq!(compact.superseded_pending().len(), 1);
    assert_eq!(compact.superseded_pending()[0].index, first as u64);
    assert_eq!(compact.counted_in_round(0), ordinary.counted_in_round(0));
    let creds_c = compact.compact_credentials().unwrap();
    assert_eq!(creds_c.len(), 4);
    assert!(compact.credentials().is_empty());
    let tally = |st: &RecordState| {
        let agg = st.expected_tally(0);
        entry(
            &admin,
            &eid,
            fp,
            Payload::EncryptedTally(v1::EncryptedTally {
                round: 0,
                contests: agg
                    .iter()
                    .map(|(_, _, cts)| v1::ContestTally {
                        contest: "c1".into(),
                        district: String::new(),
                        ciphertexts: cts.iter().map(|c| c.to_bytes().to_vec()).collect(),
                    })
                    .collect(),
                ballots_counted: 4,
                log_size: st.len(),
            }),
        )
    };
    let t = tally(&ordinary);
    let e = compact.clone().check_and_apply(&t).unwrap_err();
    assert_eq!(e.rule, rules::TALLY_AGGREGATE);
    // A wrong entry is not accepted as the superseded ballot.
    assert!(compact
        .resolve_superseded(first as u64, &entries[first + 1])
        .is_err());
    compact
        .resolve_superseded(first as u64, &entries[first])
        .unwrap();
    assert!(compact.superseded_pending().is_empty());
    assert_eq!(compact.expected_tally(0), ordinary.expected_tally(0));
    compact.check_and_apply(&t).unwrap();
    // skip_refused keeps log indexes.
    let mut st2 = replay(&entries, false);
    st2.skip_refused();
    assert_eq!(st2.len(), entries.len() as u64 + 1);
}
