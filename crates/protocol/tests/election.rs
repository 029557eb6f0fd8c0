//! A whole election through the record's rules: manifest, key ceremony,
//! credentials, ballots (with a revote and a challenge), tally, threshold
//! decryption with one trustee absent, result.
#![allow(clippy::needless_range_loop)]

use ed25519_dalek::SigningKey;
use rand_core::OsRng;
use tallyboard_crypto::elgamal::Ciphertext;
use tallyboard_protocol::ballot::{build_ballot, CredentialRef};
use tallyboard_protocol::testkit::{
    election_key_payload, entry, manifest_entry, phase_entry, sample_credential, sample_issuer_key,
    sample_manifest, sample_trustee_key,
};
use tallyboard_protocol::v1::{self, entry_body::Payload};
use tallyboard_protocol::{rules, BoardIdentity, ElectionPhase, RecordState};
use tallyboard_threshold::{DkgMessage, PartialDecryption, Trustee, TrusteeKeyPair};

struct World {
    st: RecordState,
    admin: SigningKey,
    eid: String,
    fp: [u8; 32],
}

impl World {
    fn post(
        &mut self,
        key: &SigningKey,
        payload: Payload,
    ) -> Result<u64, tallyboard_protocol::RuleError> {
        let e = entry(key, &self.eid, self.fp, payload);
        self.st.check_and_apply(&e)?;
        Ok(self.st.len() - 1)
    }
    fn admin(&mut self, payload: Payload) -> u64 {
        let admin = self.admin.clone();
        self.post(&admin, payload).unwrap()
    }
    fn phase(&mut self, p: v1::Phase) {
        let e = phase_entry(&self.admin, &self.eid, self.fp, p);
        self.st.check_and_apply(&e).unwrap();
    }
}

fn dkg(w: &mut World, key: &SigningKey, m: DkgMessage) {
    w.post(
        key,
        Payload::Dkg(v1::DkgMessage {
            message: m.to_bytes(),
        }),
    )
    .unwrap();
}

#[test]
fn whole_election() {
    let seed = 11;
    let board = BoardIdentity {
        origin: "tallyboard/test".into(),
        key: SigningKey::from_bytes(&[9; 32]).verifying_key(),
    };
    let admin = SigningKey::from_bytes(&[1; 32]);
    let mut manifest = sample_manifest(&admin, &board, seed);
    manifest.revote_policy = v1::RevotePolicy::LastCounts as i32;
    let eid = manifest.election_id.clone();
    let (bytes, fp) = manifest_entry(&admin, manifest);
    let mut st = RecordState::new(board);
    st.check_and_apply(&bytes).unwrap();
    let mut w = World { st, admin, eid, fp };
    w.phase(v1::Phase::KeyCeremony);

    // Key ceremony, 2 of 3, through the record.
    let params = *w.st.dkg().unwrap().params();
    let tkeys: Vec<SigningKey> = (1..=3).map(|i| sample_trustee_key(seed, i)).collect();
    let mut trustees: Vec<Trustee> = (1..=3u8)
        .map(|i| Trustee::new(params, i, TrusteeKeyPair::generate(&mut OsRng), &mut OsRng).unwrap())
        .collect();
    for (t, k) in trustees.iter_mut().zip(&tkeys) {
        let a = t.announce(&mut OsRng).unwrap();
        dkg(&mut w, k, DkgMessage::KeyAnnouncement(a));
    }
    // A reveal before every commitment is refused (commit-then-reveal).
    let c1 = trustees[0].commit().unwrap();
    dkg(&mut w, &tkeys[0], DkgMessage::Commitment(c1));
    for (t, k) in trustees.iter_mut().zip(&tkeys).skip(1) {
        let c = t.commit().unwrap();
        dkg(&mut w, k, DkgMessage::Commitment(c));
    }
    for i in 0..3 {
        let r = trustees[i].reveal(w.st.dkg().unwrap(), &mut OsRng).unwrap();
        dkg(&mut w, &tkeys[i], DkgMessage::Reveal(r));
    }
    for i in 0..3 {
        let complaints = trustees[i]
            .complain(w.st.dkg().unwrap(), &mut OsRng)
            .unwrap();
        assert!(complaints.is_empty());
    }
    let mut shares = Vec::new();
    let mut outcome = None;
    for t in &mut trustees {
        let (share, out) = t.finish(w.st.dkg().unwrap()).unwrap();
        shares.push(share);
        outcome = Some(out);
    }
    let outcome = outcome.unwrap();
    // A wrong election key is refused, the right one accepted.
    let mut ek = election_key_payload(&outcome.public_key, &outcome.qualification.qualified);
    let mut bad = ek.clone();
    bad.verification_keys.swap(0, 1);
    let admin = w.admin.clone();
    assert_eq!(
        w.post(&admin, Payload::ElectionKey(bad)).unwrap_err().rule,
        rules::ELECTION_KEY
    );
    w.admin(Payload::ElectionKey(ek.clone()));
    ek.qualified.clear();
    w.phase(v1::Phase::VotingOpen);
    assert_eq!(w.st.phase(), ElectionPhase::VotingOpen);

    // Credentials, issuance and ballots.
    let issuer = sample_issuer_key(seed);
    let manifest = w.st.manifest().unwrap().clone();
    let pk = w.st.election_key().unwrap().clone();
    let choices = [0usize, 1, 1, 2, 1, 0];
    let mut expected = [0u64; 3];
    let mut creds = Vec::new();
    for (v, &c) in choices.iter().enumerate() {
        w.post(
            &issuer,
            Payload::Issuance(v1::Issuance {
                voter_id_hash: vec![v as u8; 32],
                district: "d1".into(),
                issued_unix_ms: 0,
            }),
        )
        .unwrap();
        let (ck, sig, rnd) = sample_credential(&fp, v as u64);
        let cref = CredentialRef {
            key: &ck,
            district: "d1",
            signature: &sig,
            randomizer: &rnd,
        };
        let mut sel = vec![0u64; 3];
        sel[c] = 1;
        let (ballot, secrets) =
            build_ballot(&manifest, &pk, &cref, &[sel.clone()], 0, &mut OsRng).unwrap();
        if v == 0 {
            // Voter 0 challenges a ballot first: posted with its randomness, never counted.
            let reveals = secrets.iter().map(|s| s.reveal()).collect();
            w.post(
                &ck,
                Payload::ChallengedBallot(v1::ChallengedBallot {
                    ballot: Some(ballot.clone()),
                    reveals,
                }),
            )
            .unwrap();
            // A lying reveal is refused.
            let mut lie: Vec<v1::ContestReveal> = secrets.iter().map(|s| s.reveal()).collect();
            lie[0].selections = vec![0, 0, 1];
            let (b2, _) =
                build_ballot(&manifest, &pk, &cref, &[sel.clone()], 0, &mut OsRng).unwrap();
            let e = w
                .post(
                    &ck,
                    Payload::ChallengedBallot(v1::ChallengedBallot {
                        ballot: Some(b2),
                        reveals: lie,
                    }),
                )
                .unwrap_err();
            assert_eq!(e.rule, rules::CHALLENGE_REVEAL);
            let (fresh, _) =
                build_ballot(&manifest, &pk, &cref, &[sel.clone()], 0, &mut OsRng).unwrap();
            w.post(&ck, Payload::Ballot(fresh)).unwrap();
        } else {
            w.post(&ck, Payload::Ballot(ballot.clone())).unwrap();
        }
        creds.push((ck, sig, rnd));
    }
    for &c in &choices {
        expected[c] += 1;
    }
    // Voter 1 revotes for option 2: the last ballot counts.
    {
        let (ck, sig, rnd) = &creds[1];
        let cref = CredentialRef {
            key: ck,
            district: "d1",
            signature: sig,
            randomizer: rnd,
        };
        let (ballot, _) =
            build_ballot(&manifest, &pk, &cref, &[vec![0, 0, 1]], 0, &mut OsRng).unwrap();
        w.post(ck, Payload::Ballot(ballot)).unwrap();
        expected[1] -= 1;
        expected[2] += 1;
    }
    // A ballot copied under another credential is refused (proofs bind the credential).
    {
        let (ck, sig, rnd) = &creds[2];
        let cref = CredentialRef {
            key: ck,
            district: "d1",
            signature: sig,
            randomizer: rnd,
        };
        let (ballot, _) =
            build_ballot(&manifest, &pk, &cref, &[vec![1, 0, 0]], 0, &mut OsRng).unwrap();
        let (other, osig, ornd) = &creds[3];
        let mut copied = ballot.clone();
        copied.credential_signature = osig.clone();
        copied.credential_randomizer = ornd.clone();
        assert_eq!(
            w.post(other, Payload::Ballot(copied)).unwrap_err().rule,
            rules::BALLOT_PROOFS
        );
        // A credential without the issuer's signature is refused.
        let mallory = SigningKey::from_bytes(&[0x66; 32]);
        assert_eq!(
            w.post(&mallory, Payload::Ballot(ballot)).unwrap_err().rule,
            rules::BALLOT_CREDENTIAL
        );
    }
    // More credentials than issued: a 7th credential with no issuance entry.
    {
        let (ck, sig, rnd) = sample_credential(&fp, 99);
        let cref = CredentialRef {
            key: &ck,
            district: "d1",
            signature: &sig,
            randomizer: &rnd,
        };
        let (ballot, _) =
            build_ballot(&manifest, &pk, &cref, &[vec![1, 0, 0]], 0, &mut OsRng).unwrap();
        assert_eq!(
            w.post(&ck, Payload::Ballot(ballot)).unwrap_err().rule,
            rules::BALLOT_ISSUED
        );
    }

    w.phase(v1::Phase::VotingClosed);
    // Ballots after close are refused.
    {
        let (ck, sig, rnd) = &creds[4];
        let cref = CredentialRef {
            key: ck,
            district: "d1",
            signature: sig,
            randomizer: rnd,
        };
        let (ballot, _) =
            build_ballot(&manifest, &pk, &cref, &[vec![1, 0, 0]], 0, &mut OsRng).unwrap();
        assert_eq!(
            w.post(ck, Payload::Ballot(ballot)).unwrap_err().rule,
            rules::PHASE_ALLOWS
        );
    }

    // Tally.
    let agg = w.st.expected_tally(0);
    let tally = v1::EncryptedTally {
        round: 0,
        contests: agg
            .iter()
            .map(|(c, _, cts)| v1::ContestTally {
                contest: manifest.raw.contests[*c].id.clone(),
                district: String::new(),
                ciphertexts: cts.iter().map(|x| x.to_bytes().to_vec()).collect(),
            })
            .collect(),
        ballots_counted: 6,
        log_size: w.st.len(),
    };
    let mut forged = tally.clone();
    forged.contests[0].ciphertexts.swap(0, 1);
    let admin = w.admin.clone();
    assert_eq!(
        w.post(&admin, Payload::EncryptedTally(forged))
            .unwrap_err()
            .rule,
        rules::TALLY_AGGREGATE
    );
    let tally_index = w.admin(Payload::EncryptedTally(tally));
    let cts: Vec<Ciphertext> = agg.iter().flat_map(|(_, _, c)| c.iter().copied()).collect();

    // Trustees 1 and 3 decrypt; trustee 2 is absent. A wrong partial is refused.
    for i in [0usize, 2] {
        let partial = PartialDecryption::create(&shares[i], &cts, &mut OsRng).unwrap();
        w.post(
            &tkeys[i],
            Payload::PartialDecryption(v1::PartialDecryption {
                trustee: i as u32 + 1,
                tally_entry: tally_index,
                partial: partial.to_bytes(),
            }),
        )
        .unwrap();
    }
    {
        let wrong = PartialDecryption::create(&shares[1], &cts[..2], &mut OsRng).unwrap();
        let e = w
            .post(
                &tkeys[1],
                Payload::PartialDecryption(v1::PartialDecryption {
                    trustee: 2,
                    tally_entry: tally_index,
                    partial: wrong.to_bytes(),
                }),
            )
            .unwrap_err();
        assert_eq!(e.rule, rules::PARTIAL_VALID);
    }
    let result = |counts: Vec<u64>| v1::ElectionResult {
        tally_entry: tally_index,
        trustees_used: vec![1, 3],
        contests: vec![v1::ContestResult {
            contest: "c1".into(),
            district: String::new(),
            counts,
        }],
    };
    let e = w
        .post(&admin, Payload::Result(result(vec![6, 0, 0])))
        .unwrap_err();
    assert_eq!(e.rule, rules::RESULT_VALID);
    w.admin(Payload::Result(result(expected.to_vec())));
    w.phase(v1::Phase::Finished);
    assert_eq!(w.st.tallies()[0].counts, vec![expected.to_vec()]);
    assert_eq!(w.st.challenged(), 1);
}
