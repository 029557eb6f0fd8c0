//! Which rule a refusal names (`spec/record.md` §6), for the cases where
//! two rules could seem to apply: a ballot before the election key (R3.3,
//! not R3.2), a partial decryption naming another trustee (R10.2, not
//! R1.6), a challenged ballot in another district than its credential's
//! (R6.1), and the tallies a partial decryption or result may name (R3.3,
//! R10.1–R10.3). The verifier reports each under the check of
//! `spec/checks.md` §9 for its rule.
#![allow(clippy::unwrap_used)]

use ed25519_dalek::SigningKey;
use rand_core::OsRng;
use tallyboard_crypto::elgamal::Ciphertext;
use tallyboard_protocol::ballot::{build_ballot, CredentialRef};
use tallyboard_protocol::testkit::{
    entry, expected_tally_payload, manifest_entry, phase_entry, run_key_ceremony,
    sample_credential, sample_issuer_key, sample_manifest, sample_trustee_key,
};
use tallyboard_protocol::v1::{self, entry_body::Payload};
use tallyboard_protocol::{
    rules, BoardIdentity, ElectionPhase, RecordState, RuleError, RuleErrorKind,
};
use tallyboard_threshold::{DkgMessage, PartialDecryption, SecretShare, Trustee, TrusteeKeyPair};

const SEED: u8 = 41;

struct World {
    st: RecordState,
    admin: SigningKey,
    eid: String,
    fp: [u8; 32],
}

impl World {
    /// A record with the sample manifest plus a district `d2` that has the
    /// same issuer key as `d1` (so one credential verifies in both).
    fn new() -> Self {
        let board = BoardIdentity {
            origin: "tallyboard/test".into(),
            key: SigningKey::from_bytes(&[9; 32]).verifying_key(),
        };
        let admin = SigningKey::from_bytes(&[1; 32]);
        let mut m = sample_manifest(&admin, &board, SEED);
        let mut d2 = m.districts[0].clone();
        d2.id = "d2".into();
        m.districts.push(d2);
        let eid = m.election_id.clone();
        let (bytes, fp) = manifest_entry(&admin, m);
        let mut st = RecordState::new(board);
        st.check_and_apply(&bytes).unwrap();
        World { st, admin, eid, fp }
    }
    fn post(&mut self, key: &SigningKey, payload: Payload) -> Result<u64, RuleError> {
        let e = entry(key, &self.eid, self.fp, payload);
        self.st.check_and_apply(&e)?;
        Ok(self.st.len() - 1)
    }
    fn admin(&mut self, payload: Payload) -> Result<u64, RuleError> {
        let admin = self.admin.clone();
        self.post(&admin, payload)
    }
    fn phase(&mut self, p: v1::Phase) {
        let e = phase_entry(&self.admin, &self.eid, self.fp, p);
        self.st.check_and_apply(&e).unwrap();
    }
    fn trustees() -> Vec<SigningKey> {
        (1..=3).map(|i| sample_trustee_key(SEED, i)).collect()
    }
    fn issue(&mut self, voter: u8, district: &str) {
        self.post(
            &sample_issuer_key(SEED),
            Payload::Issuance(v1::Issuance {
                voter_id_hash: vec![voter; 32],
                district: district.into(),
                issued_unix_ms: 0,
            }),
        )
        .unwrap();
    }
}

fn refused(r: Result<u64, RuleError>, rule: &str, kind: RuleErrorKind) {
    let e = r.expect_err("must be refused");
    assert_eq!((e.rule, e.kind), (rule, kind), "{e}");
}

/// A ballot (or challenged ballot) of credential `v` in `district`, for
/// option `choice`; needs the election key.
fn ballot(
    w: &World,
    v: u64,
    district: &str,
    choice: usize,
    challenge: bool,
) -> (SigningKey, Payload) {
    let (ck, sig, rnd) = sample_credential(&w.fp, v);
    let cref = CredentialRef {
        key: &ck,
        district,
        signature: &sig,
        randomizer: &rnd,
    };
    let m = w.st.manifest().unwrap().clone();
    let pk = w.st.election_key().unwrap().clone();
    let mut sel = vec![0u64; 3];
    sel[choice] = 1;
    let (b, secrets) = build_ballot(&m, &pk, &cref, &[sel], 0, &mut OsRng).unwrap();
    let payload = if challenge {
        Payload::ChallengedBallot(v1::ChallengedBallot {
            ballot: Some(b),
            reveals: secrets.iter().map(|s| s.reveal()).collect(),
        })
    } else {
        Payload::Ballot(b)
    };
    (ck, payload)
}

/// Runs the key ceremony and opens voting.
fn open_voting(w: &mut World) -> Vec<SecretShare> {
    w.phase(v1::Phase::KeyCeremony);
    let admin = w.admin.clone();
    let shares = run_key_ceremony(&mut w.st, &admin, &World::trustees());
    w.phase(v1::Phase::VotingOpen);
    shares
}

#[test]
fn ballot_before_the_election_key_is_phase_allows() {
    let mut w = World::new();
    w.issue(0, "d1");
    // A ballot needs the election key to be checked; without it the phase
    // is at most KeyCeremony, which allows no ballot: R3.3, as after close.
    let (ck, sig, rnd) = sample_credential(&w.fp, 0);
    let b = v1::Ballot {
        district: "d1".into(),
        credential_signature: sig,
        credential_randomizer: rnd,
        ..Default::default()
    };
    for phase in [None, Some(v1::Phase::KeyCeremony)] {
        if let Some(p) = phase {
            w.phase(p);
        }
        refused(
            w.post(&ck, Payload::Ballot(b.clone())),
            rules::PHASE_ALLOWS,
            RuleErrorKind::FailedPrecondition,
        );
        refused(
            w.post(
                &ck,
                Payload::ChallengedBallot(v1::ChallengedBallot {
                    ballot: Some(b.clone()),
                    reveals: Vec::new(),
                }),
            ),
            rules::PHASE_ALLOWS,
            RuleErrorKind::FailedPrecondition,
        );
    }
    assert_eq!(w.st.phase(), ElectionPhase::KeyCeremony);
}

#[test]
fn a_challenged_ballot_binds_its_credential_to_its_district() {
    let mut w = World::new();
    open_voting(&mut w);
    w.issue(0, "d1");
    w.issue(1, "d1");
    // Credential 0 casts in d1; a challenged ballot in d2 is refused (R6.1).
    let (ck, p) = ballot(&w, 0, "d1", 0, false);
    w.post(&ck, p).unwrap();
    let (ck, p) = ballot(&w, 0, "d2", 0, true);
    refused(
        w.post(&ck, p),
        rules::BALLOT_CREDENTIAL,
        RuleErrorKind::InvalidArgument,
    );
    // Credential 1 challenges in d2 first: bound to d2, its cast ballot in
    // d1 is refused (R6.1).
    let (ck, p) = ballot(&w, 1, "d2", 1, true);
    w.post(&ck, p).unwrap();
    let (ck, p) = ballot(&w, 1, "d1", 1, false);
    refused(
        w.post(&ck, p),
        rules::BALLOT_CREDENTIAL,
        RuleErrorKind::InvalidArgument,
    );
    // A challenge does not use up the issuance bound (R6.4): d2 has no
    // issuance, credential 1's challenge was accepted, and its ballot in d2
    // is refused by R6.4, not by the challenge.
    let (ck, p) = ballot(&w, 1, "d2", 1, false);
    refused(
        w.post(&ck, p),
        rules::BALLOT_ISSUED,
        RuleErrorKind::FailedPrecondition,
    );
    // In d1, two issuances: credential 0 used one; credential 2 challenges
    // and then casts, using the second; credential 3 is one too many.
    let (ck, p) = ballot(&w, 2, "d1", 2, true);
    w.post(&ck, p).unwrap();
    let (ck, p) = ballot(&w, 2, "d1", 2, false);
    w.post(&ck, p).unwrap();
    let (ck, p) = ballot(&w, 3, "d1", 2, false);
    refused(
        w.post(&ck, p),
        rules::BALLOT_ISSUED,
        RuleErrorKind::FailedPrecondition,
    );
    assert_eq!(w.st.used_per_district().get(&0), Some(&2));
    assert_eq!(w.st.used_per_district().get(&1), None);
    assert_eq!(w.st.challenged(), 2);
}

#[test]
fn partial_decryptions_and_results_name_the_rule_of_their_fault() {
    let mut w = World::new();
    let shares = open_voting(&mut w);
    let tkeys = World::trustees();
    w.issue(0, "d1");
    let (ck, p) = ballot(&w, 0, "d1", 1, false);
    w.post(&ck, p).unwrap();
    // Before the close, no partial decryption or result (R3.3): a
    // well-formed partial decryption (its content is prechecked first).
    let early = PartialDecryption::create(&shares[0], &[Ciphertext::zero()], &mut OsRng).unwrap();
    refused(
        w.post(
            &tkeys[0],
            Payload::PartialDecryption(v1::PartialDecryption {
                trustee: 1,
                tally_entry: 0,
                partial: early.to_bytes(),
            }),
        ),
        rules::PHASE_ALLOWS,
        RuleErrorKind::FailedPrecondition,
    );
    refused(
        w.admin(Payload::Result(v1::ElectionResult::default())),
        rules::PHASE_ALLOWS,
        RuleErrorKind::FailedPrecondition,
    );
    w.phase(v1::Phase::VotingClosed);
    // Only rounds of this election have tallies (R10.1).
    let mut t = expected_tally_payload(&w.st, 0);
    for round in [1, 2] {
        t.round = round;
        refused(
            w.admin(Payload::EncryptedTally(t.clone())),
            rules::TALLY_AGGREGATE,
            RuleErrorKind::InvalidArgument,
        );
    }
    let tally = w
        .admin(Payload::EncryptedTally(expected_tally_payload(&w.st, 0)))
        .unwrap();
    let cts = w.st.tallies()[0].flat_ciphertexts();
    let partial = |i: usize| PartialDecryption::create(&shares[i], &cts, &mut OsRng).unwrap();
    // Trustee 2 signs trustee 1's partial decryption: it may post partial
    // decryptions (R1.6 holds), but this one names another trustee (R10.2).
    refused(
        w.post(
            &tkeys[1],
            Payload::PartialDecryption(v1::PartialDecryption {
                trustee: 1,
                tally_entry: tally,
                partial: partial(0).to_bytes(),
            }),
        ),
        rules::PARTIAL_VALID,
        RuleErrorKind::PermissionDenied,
    );
    // Its own partial under another trustee's index in the payload: R10.2.
    refused(
        w.post(
            &tkeys[1],
            Payload::PartialDecryption(v1::PartialDecryption {
                trustee: 1,
                tally_entry: tally,
                partial: partial(1).to_bytes(),
            }),
        ),
        rules::PARTIAL_VALID,
        RuleErrorKind::PermissionDenied,
    );
    // Someone who is not a trustee may not post partial decryptions (R1.6).
    refused(
        w.admin(Payload::PartialDecryption(v1::PartialDecryption {
            trustee: 1,
            tally_entry: tally,
            partial: partial(0).to_bytes(),
        })),
        rules::ENTRY_AUTHOR,
        RuleErrorKind::PermissionDenied,
    );
    // A partial decryption or result naming an entry that is not a tally:
    // NOT_FOUND under its own rule.
    refused(
        w.post(
            &tkeys[0],
            Payload::PartialDecryption(v1::PartialDecryption {
                trustee: 1,
                tally_entry: tally - 1,
                partial: partial(0).to_bytes(),
            }),
        ),
        rules::PARTIAL_VALID,
        RuleErrorKind::NotFound,
    );
    refused(
        w.admin(Payload::Result(v1::ElectionResult {
            tally_entry: tally - 1,
            ..Default::default()
        })),
        rules::RESULT_VALID,
        RuleErrorKind::NotFound,
    );
    for i in [0usize, 2] {
        w.post(
            &tkeys[i],
            Payload::PartialDecryption(v1::PartialDecryption {
                trustee: i as u32 + 1,
                tally_entry: tally,
                partial: partial(i).to_bytes(),
            }),
        )
        .unwrap();
    }
    let result = v1::ElectionResult {
        tally_entry: tally,
        trustees_used: vec![1, 3],
        contests: vec![v1::ContestResult {
            contest: "c1".into(),
            district: String::new(),
            counts: vec![0, 1, 0],
        }],
    };
    w.admin(Payload::Result(result.clone())).unwrap();
    // Once the tally has its result: no more partials (R10.2) or results
    // (R10.3) for it.
    refused(
        w.post(
            &tkeys[1],
            Payload::PartialDecryption(v1::PartialDecryption {
                trustee: 2,
                tally_entry: tally,
                partial: partial(1).to_bytes(),
            }),
        ),
        rules::PARTIAL_VALID,
        RuleErrorKind::FailedPrecondition,
    );
    refused(
        w.admin(Payload::Result(result)),
        rules::RESULT_VALID,
        RuleErrorKind::AlreadyExists,
    );
}

#[test]
fn reveals_wait_for_every_trustee_not_for_n_messages() {
    let mut w = World::new();
    w.phase(v1::Phase::KeyCeremony);
    let params = *w.st.dkg().unwrap().params();
    let tkeys = World::trustees();
    let mut trustees: Vec<Trustee> = (1..=3u8)
        .map(|i| Trustee::new(params, i, TrusteeKeyPair::generate(&mut OsRng), &mut OsRng).unwrap())
        .collect();
    let dkg = |w: &mut World, i: usize, m: DkgMessage| {
        w.post(
            &tkeys[i],
            Payload::Dkg(v1::DkgMessage {
                message: m.to_bytes(),
            }),
        )
    };
    // Offline, all three trustees announce and commit, so that trustee 2
    // can make its reveal.
    let mut local = tallyboard_threshold::DkgRecord::new(params);
    let mut msgs = Vec::new();
    for t in trustees.iter_mut() {
        msgs.push(DkgMessage::KeyAnnouncement(t.announce(&mut OsRng).unwrap()));
    }
    for t in trustees.iter_mut() {
        msgs.push(DkgMessage::Commitment(t.commit().unwrap()));
    }
    for m in &msgs {
        local.push(m.clone()).unwrap();
    }
    let reveal = trustees[1].reveal(&local, &mut OsRng).unwrap();
    // On the record: trustees 1 and 2 announce and commit, and trustee 1
    // also posts a second, different announcement and commitment
    // (equivocation, kept as evidence): three of each, from two trustees.
    let mut other =
        Trustee::new(params, 1, TrusteeKeyPair::generate(&mut OsRng), &mut OsRng).unwrap();
    let a = other.announce(&mut OsRng).unwrap();
    let c = other.commit().unwrap();
    for (i, m) in [(0, 0), (1, 1), (0, 3), (1, 4)] {
        dkg(&mut w, i, msgs[m].clone()).unwrap();
    }
    dkg(&mut w, 0, DkgMessage::KeyAnnouncement(a)).unwrap();
    dkg(&mut w, 0, DkgMessage::Commitment(c)).unwrap();
    assert_eq!(w.st.dkg().unwrap().announcements().len(), 3);
    assert_eq!(w.st.dkg().unwrap().commitments().len(), 3);
    // Trustee 3 has neither announced nor committed: no reveal yet (R8.1).
    refused(
        dkg(&mut w, 1, DkgMessage::Reveal(reveal.clone())),
        rules::DKG_MESSAGE,
        RuleErrorKind::FailedPrecondition,
    );
    // Once it has, the same reveal is accepted.
    dkg(&mut w, 2, msgs[2].clone()).unwrap();
    dkg(&mut w, 2, msgs[5].clone()).unwrap();
    dkg(&mut w, 1, DkgMessage::Reveal(reveal)).unwrap();
}
