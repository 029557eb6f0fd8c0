//! Check V6.2 on a caucus record (`spec/checks.md` V6): a caucus has two
//! tallies, and each challenged ciphertext is counted once, not once per
//! tally; a counted ballot that reuses a challenged ciphertext is reported
//! once although the final alignment compares the round-0 ballots again.
//! Also: the checks that the rules of the boundary cases of
//! `spec/checks.md` §9 are reported under.
#![allow(clippy::unwrap_used)]

use ed25519_dalek::SigningKey;
use rand_core::OsRng;
use tallyboard_protocol::ballot::{build_ballot, CredentialRef};
use tallyboard_protocol::caucus::{coin_seed, expected_apportionment, expected_viability};
use tallyboard_protocol::testkit::{
    election_key_payload, entry, expected_tally_payload, manifest_entry, sample_caucus_manifest,
    sample_credential, sample_issuer_key, sample_trustee_key,
};
use tallyboard_protocol::v1::{self, entry_body::Payload};
use tallyboard_protocol::{rules, BoardIdentity, RecordState};
use tallyboard_threshold::{DkgMessage, PartialDecryption, SecretShare, Trustee, TrusteeKeyPair};
use tallyboard_tlog::{leaf_hash, Checkpoint, Ed25519Signer};
use tallyboard_verifier::checks::{check_of_rule, EntryKind};
use tallyboard_verifier::generate::record_bytes;
use tallyboard_verifier::report::Status;
use tallyboard_verifier::tree::LeafTree;
use tallyboard_verifier::{verify_bytes, Report, VerifyOptions};

const SEED: u8 = 29;
const ORIGIN: &str = "tallyboard/caucus-test";

struct Builder {
    st: RecordState,
    entries: Vec<Vec<u8>>,
    eid: String,
    fp: [u8; 32],
    admin: SigningKey,
}

impl Builder {
    fn post(&mut self, key: &SigningKey, p: Payload) -> u64 {
        let e = entry(key, &self.eid, self.fp, p);
        self.st
            .check_and_apply(&e)
            .unwrap_or_else(|err| panic!("refused: {err}"));
        self.entries.push(e);
        self.st.len() - 1
    }
    fn admin(&mut self, p: Payload) -> u64 {
        let a = self.admin.clone();
        self.post(&a, p)
    }
    fn phase(&mut self, p: v1::Phase) {
        self.admin(Payload::PhaseChange(v1::PhaseChange { phase: p as i32 }));
    }
    fn dkg(&mut self, key: &SigningKey, m: DkgMessage) {
        self.post(
            key,
            Payload::Dkg(v1::DkgMessage {
                message: m.to_bytes(),
            }),
        );
    }
    /// Partial decryptions by trustees 1 and 2 and the result of `tally`;
    /// returns the result's entry index.
    fn decrypt(&mut self, tkeys: &[SigningKey], shares: &[SecretShare], tally: u64) -> u64 {
        let m = self.st.manifest().unwrap().clone();
        let t = self
            .st
            .tallies()
            .iter()
            .find(|t| t.index == tally)
            .unwrap()
            .clone();
        let cts = t.flat_ciphertexts();
        let mut partials = Vec::new();
        for i in 0..2 {
            let p = PartialDecryption::create(&shares[i], &cts, &mut OsRng).unwrap();
            self.post(
                &tkeys[i],
                Payload::PartialDecryption(v1::PartialDecryption {
                    trustee: i as u32 + 1,
                    tally_entry: tally,
                    partial: p.to_bytes(),
                }),
            );
            partials.push(p);
        }
        let key = self.st.threshold_key().unwrap().clone();
        let max = t
            .contests
            .iter()
            .map(|(c, _, _)| m.specs[*c].option_max() * t.max_ballots)
            .max()
            .unwrap();
        let dec = tallyboard_threshold::combine(&key, &cts, &partials, max).unwrap();
        let mut off = 0;
        let contests = t
            .contests
            .iter()
            .map(|(c, d, x)| {
                let counts = dec.plaintexts[off..off + x.len()].to_vec();
                off += x.len();
                v1::ContestResult {
                    contest: m.raw.contests[*c].id.clone(),
                    district: d.map(|d| m.raw.districts[d].id.clone()).unwrap_or_default(),
                    counts,
                }
            })
            .collect();
        self.admin(Payload::Result(v1::ElectionResult {
            tally_entry: tally,
            trustees_used: vec![1, 2],
            contests,
        }))
    }
}

/// A whole one-district caucus with four participants, one of whom
/// challenges a ballot first. With `cast_the_challenge`, that participant
/// casts the challenged ballot itself (its randomness is public).
fn caucus_record(cast_the_challenge: bool) -> (Vec<u8>, u64) {
    let board_key = SigningKey::from_bytes(&[9; 32]);
    let board = BoardIdentity {
        origin: ORIGIN.into(),
        key: board_key.verifying_key(),
    };
    let admin = SigningKey::from_bytes(&[1; 32]);
    let m = sample_caucus_manifest(&admin, &board, SEED, &[("d1", 3, "1.5")], &["a", "b", "u"]);
    let eid = m.election_id.clone();
    let (bytes, fp) = manifest_entry(&admin, m);
    let mut st = RecordState::new(board);
    st.check_and_apply(&bytes).unwrap();
    let mut b = Builder {
        st,
        entries: vec![bytes],
        eid,
        fp,
        admin,
    };
    b.phase(v1::Phase::KeyCeremony);
    let params = *b.st.dkg().unwrap().params();
    let tkeys: Vec<SigningKey> = (1..=3).map(|i| sample_trustee_key(SEED, i)).collect();
    let mut trustees: Vec<Trustee> = (1..=3u8)
        .map(|i| Trustee::new(params, i, TrusteeKeyPair::generate(&mut OsRng), &mut OsRng).unwrap())
        .collect();
    for i in 0..3 {
        let a = trustees[i].announce(&mut OsRng).unwrap();
        b.dkg(&tkeys[i], DkgMessage::KeyAnnouncement(a));
    }
    for i in 0..3 {
        let c = trustees[i].commit().unwrap();
        b.dkg(&tkeys[i], DkgMessage::Commitment(c));
    }
    for i in 0..3 {
        let r = trustees[i].reveal(b.st.dkg().unwrap(), &mut OsRng).unwrap();
        b.dkg(&tkeys[i], DkgMessage::Reveal(r));
    }
    let mut shares = Vec::new();
    let mut outcome = None;
    for t in &mut trustees {
        assert!(t
            .complain(b.st.dkg().unwrap(), &mut OsRng)
            .unwrap()
            .is_empty());
        let (share, out) = t.finish(b.st.dkg().unwrap()).unwrap();
        shares.push(share);
        outcome = Some(out);
    }
    let outcome = outcome.unwrap();
    b.admin(Payload::ElectionKey(election_key_payload(
        &outcome.public_key,
        &outcome.qualification.qualified,
    )));
    b.phase(v1::Phase::VotingOpen);

    let m = b.st.manifest().unwrap().clone();
    let pk = b.st.election_key().unwrap().clone();
    let issuer = sample_issuer_key(SEED);
    let mut reused = 0;
    for (v, choice) in [0usize, 0, 0, 1].into_iter().enumerate() {
        b.post(
            &issuer,
            Payload::Issuance(v1::Issuance {
                voter_id_hash: vec![v as u8; 32],
                district: "d1".into(),
                issued_unix_ms: 0,
            }),
        );
        let (ck, sig, rnd) = sample_credential(&fp, v as u64);
        let cref = CredentialRef {
            key: &ck,
            district: "d1",
            signature: &sig,
            randomizer: &rnd,
        };
        let mut sel = vec![0u64; 3];
        sel[choice] = 1;
        let (ballot, secrets) =
            build_ballot(&m, &pk, &cref, &[sel.clone()], 0, &mut OsRng).unwrap();
        if v == 0 {
            b.post(
                &ck,
                Payload::ChallengedBallot(v1::ChallengedBallot {
                    ballot: Some(ballot.clone()),
                    reveals: secrets.iter().map(|s| s.reveal()).collect(),
                }),
            );
            if cast_the_challenge {
                reused = b.post(&ck, Payload::Ballot(ballot));
                continue;
            }
        }
        let (ballot, _) = build_ballot(&m, &pk, &cref, &[sel], 0, &mut OsRng).unwrap();
        b.post(&ck, Payload::Ballot(ballot));
    }
    b.phase(v1::Phase::VotingClosed);
    let t0 = b.admin(Payload::EncryptedTally(expected_tally_payload(&b.st, 0)));
    b.decrypt(&tkeys, &shares, t0);
    let r0 = b.st.caucus_round(0).unwrap();
    let viability = expected_viability(&m, &r0.counts).unwrap();
    b.admin(Payload::CaucusViability(v1::CaucusViability {
        result_entry: r0.result_entry,
        districts: viability.clone(),
    }));
    b.phase(v1::Phase::RealignmentOpen);
    b.phase(v1::Phase::RealignmentClosed);
    let t1 = b.admin(Payload::EncryptedTally(expected_tally_payload(&b.st, 1)));
    b.decrypt(&tkeys, &shares, t1);
    let r1 = b.st.caucus_round(1).unwrap();
    let seed = coin_seed(&m, &r1.aggregates).unwrap();
    let districts = expected_apportionment(&m, &viability, &r1.counts, &seed).unwrap();
    b.admin(Payload::CaucusApportionment(v1::CaucusApportionment {
        result_entry: r1.result_entry,
        coin_seed: seed.to_vec(),
        districts,
    }));
    b.phase(v1::Phase::Finished);

    let mut tree = LeafTree::with_capacity(b.entries.len() as u64);
    for e in &b.entries {
        tree.push(leaf_hash(e));
    }
    let cp = Checkpoint::new(ORIGIN, tree.size(), tree.root(tree.size()).unwrap())
        .unwrap()
        .sign(&Ed25519Signer::new(ORIGIN, board_key).unwrap())
        .unwrap();
    (record_bytes(&b.entries, cp.as_bytes()).unwrap(), reused)
}

fn verify(record: &[u8]) -> Report {
    verify_bytes(
        record,
        &VerifyOptions {
            threads: 2,
            ..VerifyOptions::default()
        },
    )
}

fn check<'r>(r: &'r Report, id: &str) -> &'r tallyboard_verifier::report::CheckResult {
    r.checks.iter().find(|c| c.id == id).unwrap()
}

#[test]
fn challenged_ciphertexts_are_counted_once_on_a_caucus_record() {
    let (record, _) = caucus_record(false);
    let r = verify(&record);
    assert!(r.ok, "{}", r.to_human());
    // One challenged one-of-3 ballot: 2 sent ciphertexts (the third is
    // implied), compared at both tallies, counted once.
    let v62 = check(&r, "V6.2");
    assert_eq!((v62.status, v62.count), (Status::Pass, 2));
    assert_eq!(check(&r, "V7.1").count, 2, "two tallies");
    assert_eq!(check(&r, "V8.3").count, 1);
}

#[test]
fn a_counted_challenged_ciphertext_is_reported_once_on_a_caucus_record() {
    let (record, reused) = caucus_record(true);
    let r = verify(&record);
    let v62 = check(&r, "V6.2");
    assert_eq!(v62.status, Status::Fail);
    assert_eq!(v62.failed, 1, "{:?}", v62.failures);
    assert_eq!(v62.failures[0].entry, Some(reused));
    // The rules cannot see it: every other check passes.
    for c in &r.checks {
        assert!(
            c.id == "V6.2" || c.status != Status::Fail,
            "{} failed",
            c.id
        );
    }
}

#[test]
fn boundary_rules_are_reported_under_their_checks() {
    // A ballot before the election key is refused by R3.3: V5.3.
    assert_eq!(
        check_of_rule(rules::PHASE_ALLOWS, EntryKind::Ballot),
        "V5.3"
    );
    assert_eq!(
        check_of_rule(rules::PHASE_ALLOWS, EntryKind::Challenged),
        "V5.3"
    );
    // A partial decryption in the wrong phase: R3.3, V2.3.
    assert_eq!(
        check_of_rule(rules::PHASE_ALLOWS, EntryKind::Partial),
        "V2.3"
    );
    // A partial decryption naming another trustee: R10.2, V7.2; one by a
    // key that is no trustee's: R1.6, V2.2.
    assert_eq!(
        check_of_rule(rules::PARTIAL_VALID, EntryKind::Partial),
        "V7.2"
    );
    assert_eq!(
        check_of_rule(rules::ENTRY_AUTHOR, EntryKind::Partial),
        "V2.2"
    );
    // A challenged ballot in another district than its credential's: R6.1, V4.2.
    assert_eq!(
        check_of_rule(rules::BALLOT_CREDENTIAL, EntryKind::Challenged),
        "V4.2"
    );
}
