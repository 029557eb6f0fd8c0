//! A whole virtual caucus through the record's rules (`spec/caucus.md` §9):
//! manifest with four districts, key ceremony, first alignment, tally and
//! threshold decryption, the viability entry, realignment ballots made from
//! ranked preferences with their eligibility proofs, the final alignment,
//! and the delegate apportionment with its seeded coin — plus the entries the
//! rules must refuse at each step.

use ed25519_dalek::SigningKey;
use rand_core::OsRng;
use tallyboard_crypto::elgamal::Nonce;
use tallyboard_protocol::ballot::{build_ballot, CredentialRef};
use tallyboard_protocol::caucus::{
    build_realignment_ballot, coin_seed, expected_apportionment, expected_viability,
    ranked_choice_for_realignment, Round0Ballot, CAUCUS_APPORTIONMENT, CAUCUS_REALIGNMENT,
    CAUCUS_VIABILITY, REALIGNMENT_ROUND,
};
use tallyboard_protocol::testkit::{
    decrypt_and_post_result, entry, expected_tally_payload, manifest_entry, phase_entry,
    run_key_ceremony, sample_caucus_manifest, sample_credential, sample_issuer_key,
    sample_manifest, sample_trustee_key,
};
use tallyboard_protocol::v1::{self, entry_body::Payload};
use tallyboard_protocol::{
    rules, BoardIdentity, ElectionPhase, RecordState, RuleError, RuleErrorKind,
};

const SEED: u8 = 23;
const OPTIONS: [&str; 5] = ["a", "b", "c", "d", "u"];
const UNCOMMITTED: usize = 4;
/// (id, delegates, SDE weight).
const DISTRICTS: [(&str, u32, &str); 4] = [
    ("d1", 5, "2.5"),
    ("d2", 1, "0.75"),
    ("d3", 4, "1.2"),
    ("d4", 3, "0.6"),
];

/// Per district: (first choice, ranked preferences) of each participant.
fn participants() -> Vec<Vec<(usize, Vec<usize>)>> {
    vec![
        // d1, 5 delegates, 20 participants, threshold 3: a, c viable; b (2),
        // d (1), u (2) not.
        [
            (0, vec![]),
            (0, vec![]),
            (0, vec![]),
            (0, vec![]),
            (0, vec![]),
            (0, vec![]),
            (0, vec![]),
            (0, vec![]),
            (2, vec![]),
            (2, vec![]),
            (2, vec![]),
            (2, vec![]),
            (2, vec![]),
            (2, vec![]),
            (2, vec![]),
            (1, vec![1, 2, 0]), // realigns to c
            (1, vec![1, 3]),    // no viable preference, u not viable: drops out
            (3, vec![3, 0]),    // realigns to a
            (4, vec![4, 2]),    // realigns to c
            (4, vec![]),        // no preference: drops out
        ]
        .to_vec(),
        // d2, 1 delegate: plurality, everyone locked; a and b tie for the coin.
        vec![(0, vec![]), (1, vec![]), (0, vec![]), (1, vec![])],
        // d3, 4 delegates, 10 participants, threshold 2: a, b, u viable; c, d not.
        [
            (0, vec![]),
            (0, vec![]),
            (0, vec![]),
            (1, vec![]),
            (1, vec![]),
            (1, vec![]),
            (4, vec![]),
            (4, vec![]),
            (2, vec![2, 3]), // falls back to uncommitted
            (3, vec![1]),    // realigns to b
        ]
        .to_vec(),
        // d4, 3 delegates, 12 participants, threshold 2 (1/6): a, b viable.
        [
            (0, vec![]),
            (0, vec![]),
            (0, vec![]),
            (0, vec![]),
            (0, vec![]),
            (1, vec![]),
            (1, vec![]),
            (1, vec![]),
            (1, vec![]),
            (1, vec![]),
            (2, vec![0]), // realigns to a
            (3, vec![1]), // realigns to b
        ]
        .to_vec(),
    ]
}

struct World {
    st: RecordState,
    admin: SigningKey,
    eid: String,
    fp: [u8; 32],
}

impl World {
    fn post(&mut self, key: &SigningKey, payload: Payload) -> Result<u64, RuleError> {
        let e = entry(key, &self.eid, self.fp, payload);
        self.st.check_and_apply(&e)?;
        Ok(self.st.len() - 1)
    }
    fn admin(&mut self, payload: Payload) -> Result<u64, RuleError> {
        let admin = self.admin.clone();
        self.post(&admin, payload)
    }
    fn phase(&mut self, p: v1::Phase) -> Result<(), RuleError> {
        let e = phase_entry(&self.admin, &self.eid, self.fp, p);
        self.st.check_and_apply(&e)
    }
}

fn refused(r: Result<u64, RuleError>, rule: &str, kind: RuleErrorKind) {
    let e = r.expect_err("must be refused");
    assert_eq!((e.rule, e.kind), (rule, kind), "{e}");
}

/// A participant: credential, district, first choice, preferences, and
/// what the client keeps of its counted first-alignment ballot.
struct Voter {
    key: SigningKey,
    sig: Vec<u8>,
    rnd: Vec<u8>,
    district: &'static str,
    dpos: usize,
    first: usize,
    ranked: Vec<usize>,
    round0_entry: u64,
    round0_nonces: Vec<Nonce>,
}

fn one_hot(i: usize) -> Vec<u64> {
    (0..OPTIONS.len()).map(|j| u64::from(i == j)).collect()
}

/// The realignment ballot of `v` for `target`, with its proof.
fn realignment(
    w: &World,
    v: &Voter,
    target: usize,
    viable_flags: &[bool],
    realigns_entry: u64,
) -> v1::Ballot {
    let m = w.st.manifest().unwrap().clone();
    let pk = w.st.election_key().unwrap().clone();
    let cref = CredentialRef {
        key: &v.key,
        district: v.district,
        signature: &v.sig,
        randomizer: &v.rnd,
    };
    let round0 = w.st.credentials()[&v.key.verifying_key().to_bytes()].counted[0]
        .clone()
        .unwrap();
    build_realignment_ballot(
        &m,
        &pk,
        &cref,
        target,
        &Round0Ballot {
            entry: realigns_entry,
            ciphertexts: &round0.ballot.contests[0].1,
            nonces: &v.round0_nonces,
        },
        viable_flags,
        &mut OsRng,
    )
    .unwrap()
    .0
}

#[test]
fn whole_caucus() {
    let board = BoardIdentity {
        origin: "tallyboard/test".into(),
        key: SigningKey::from_bytes(&[9; 32]).verifying_key(),
    };
    let admin = SigningKey::from_bytes(&[1; 32]);
    let manifest = sample_caucus_manifest(&admin, &board, SEED, &DISTRICTS, &OPTIONS);
    let eid = manifest.election_id.clone();
    let (bytes, fp) = manifest_entry(&admin, manifest);
    let mut st = RecordState::new(board);
    st.check_and_apply(&bytes).unwrap();
    let mut w = World { st, admin, eid, fp };
    // Caucus entries are refused outside their phase.
    refused(
        w.admin(Payload::CaucusViability(v1::CaucusViability::default())),
        rules::PHASE_ALLOWS,
        RuleErrorKind::FailedPrecondition,
    );
    w.phase(v1::Phase::KeyCeremony).unwrap();
    let tkeys: Vec<SigningKey> = (1..=3).map(|i| sample_trustee_key(SEED, i)).collect();
    let admin = w.admin.clone();
    let shares = run_key_ceremony(&mut w.st, &admin, &tkeys);
    w.phase(v1::Phase::VotingOpen).unwrap();

    // First alignment.
    let m = w.st.manifest().unwrap().clone();
    let pk = w.st.election_key().unwrap().clone();
    let issuer = sample_issuer_key(SEED);
    let mut voters = Vec::new();
    let mut round0 = vec![vec![0u64; OPTIONS.len()]; DISTRICTS.len()];
    for (dpos, people) in participants().into_iter().enumerate() {
        let district = DISTRICTS[dpos].0;
        for (first, ranked) in people {
            let n = voters.len() as u64;
            w.post(
                &issuer,
                Payload::Issuance(v1::Issuance {
                    voter_id_hash: vec![n as u8; 32],
                    district: district.into(),
                    issued_unix_ms: 0,
                }),
            )
            .unwrap();
            let (key, sig, rnd) = sample_credential(&fp, 1000 + n);
            let cref = CredentialRef {
                key: &key,
                district,
                signature: &sig,
                randomizer: &rnd,
            };
            let (ballot, secrets) =
                build_ballot(&m, &pk, &cref, &[one_hot(first)], 0, &mut OsRng).unwrap();
            let round0_entry = w.post(&key, Payload::Ballot(ballot)).unwrap();
            round0[dpos][first] += 1;
            voters.push(Voter {
                key,
                sig,
                rnd,
                district,
                dpos,
                first,
                ranked,
                round0_entry,
                round0_nonces: secrets[0].nonces.clone(),
            });
        }
    }
    // A round-0 ballot carrying realignment fields is refused.
    {
        let v = &voters[0];
        let cref = CredentialRef {
            key: &v.key,
            district: v.district,
            signature: &v.sig,
            randomizer: &v.rnd,
        };
        let (mut b, _) = build_ballot(&m, &pk, &cref, &[one_hot(0)], 0, &mut OsRng).unwrap();
        b.realigns_entry = 5;
        refused(
            w.post(&v.key, Payload::Ballot(b)),
            CAUCUS_REALIGNMENT,
            RuleErrorKind::InvalidArgument,
        );
    }
    w.phase(v1::Phase::VotingClosed).unwrap();
    let t0 = w
        .admin(Payload::EncryptedTally(expected_tally_payload(&w.st, 0)))
        .unwrap();
    // The viability cannot precede the first-alignment result.
    let early = expected_viability(&m, &round0).unwrap();
    refused(
        w.admin(Payload::CaucusViability(v1::CaucusViability {
            result_entry: t0,
            districts: early.clone(),
        })),
        CAUCUS_VIABILITY,
        RuleErrorKind::FailedPrecondition,
    );
    let counts0 = decrypt_and_post_result(&mut w.st, &admin, &tkeys, &[&shares[0], &shares[2]], t0);
    assert_eq!(
        counts0, round0,
        "the first alignment decrypts to the choices"
    );
    let result0 = w.st.len() - 1;
    // Realignment cannot open before the viability is posted.
    refused(
        w.phase(v1::Phase::RealignmentOpen).map(|_| 0),
        rules::PHASE_PREREQUISITE,
        RuleErrorKind::FailedPrecondition,
    );
    let viability = expected_viability(&m, &counts0).unwrap();
    assert_eq!(
        viability
            .iter()
            .map(|d| d.viable.clone())
            .collect::<Vec<_>>(),
        vec![
            vec![true, false, true, false, false],
            vec![true, true, false, false, false],
            vec![true, true, false, false, true],
            vec![true, true, false, false, false],
        ]
    );
    // Tampered viability entries are refused.
    for tamper in 0..4 {
        let mut v = v1::CaucusViability {
            result_entry: result0,
            districts: viability.clone(),
        };
        match tamper {
            0 => v.districts[0].viable[1] = true,
            1 => v.districts[2].threshold -= 1,
            2 => v.result_entry = t0,
            _ => v.districts.swap(0, 1),
        }
        refused(
            w.admin(Payload::CaucusViability(v)),
            CAUCUS_VIABILITY,
            RuleErrorKind::InvalidArgument,
        );
    }
    w.admin(Payload::CaucusViability(v1::CaucusViability {
        result_entry: result0,
        districts: viability.clone(),
    }))
    .unwrap();
    w.phase(v1::Phase::RealignmentOpen).unwrap();
    // While realignment is open no tally may be decrypted or resulted
    // (R3.3): the first alignment's tally has its result, the final
    // alignment's does not exist yet.
    let partial_of = |st: &RecordState, t: usize, share: usize| {
        let cts = st.tallies()[t].flat_ciphertexts();
        let p = tallyboard_threshold::PartialDecryption::create(&shares[share], &cts, &mut OsRng)
            .unwrap();
        Payload::PartialDecryption(v1::PartialDecryption {
            trustee: share as u32 + 1,
            tally_entry: st.tallies()[t].index,
            partial: p.to_bytes(),
        })
    };
    let late = partial_of(&w.st, 0, 1);
    refused(
        w.post(&tkeys[1], late.clone()),
        rules::PHASE_ALLOWS,
        RuleErrorKind::FailedPrecondition,
    );
    refused(
        w.admin(Payload::Result(v1::ElectionResult {
            tally_entry: t0,
            ..Default::default()
        })),
        rules::PHASE_ALLOWS,
        RuleErrorKind::FailedPrecondition,
    );

    // Realignment from ranked preferences.
    let mut fin = round0.clone();
    for (dpos, d) in fin.iter_mut().enumerate() {
        for (i, c) in d.iter_mut().enumerate() {
            if !viability[dpos].viable[i] {
                *c = 0;
            }
        }
    }
    let mut realigned = 0;
    for v in &voters {
        let flags = &viability[v.dpos].viable;
        if flags[v.first] {
            continue;
        }
        let Some(target) = ranked_choice_for_realignment(&v.ranked, flags, Some(UNCOMMITTED))
        else {
            continue;
        };
        let b = realignment(&w, v, target, flags, v.round0_entry);
        if realigned == 0 {
            // The proof is bound to its credential and its first-round entry.
            let other = voters
                .iter()
                .find(|o| o.dpos == v.dpos && !flags[o.first] && o.key != v.key);
            if let Some(o) = other {
                let mut copied = b.clone();
                copied.credential_signature = o.sig.clone();
                copied.credential_randomizer = o.rnd.clone();
                refused(
                    w.post(&o.key, Payload::Ballot(copied)),
                    rules::BALLOT_PROOFS,
                    RuleErrorKind::InvalidArgument,
                );
            }
            let mut wrong = b.clone();
            wrong.realigns_entry += 1;
            assert!(w.post(&v.key, Payload::Ballot(wrong)).is_err());
            let moved = realignment(&w, v, target, flags, v.round0_entry + 1);
            refused(
                w.post(&v.key, Payload::Ballot(moved)),
                CAUCUS_REALIGNMENT,
                RuleErrorKind::InvalidArgument,
            );
        }
        w.post(&v.key, Payload::Ballot(b)).unwrap();
        if realigned == 0 {
            // One realignment per credential.
            let again = realignment(&w, v, target, flags, v.round0_entry);
            refused(
                w.post(&v.key, Payload::Ballot(again)),
                CAUCUS_REALIGNMENT,
                RuleErrorKind::AlreadyExists,
            );
        }
        fin[v.dpos][target] += 1;
        realigned += 1;
    }
    assert_eq!(realigned, 7);
    // Members of viable groups cannot realign: they cannot make the proof,
    // and a proof made by another voter does not carry over.
    {
        let locked = voters.iter().find(|v| v.dpos == 0 && v.first == 0).unwrap();
        let donor = voters
            .iter()
            .find(|v| v.dpos == 0 && v.first == 4 && v.ranked.is_empty())
            .unwrap();
        let flags = &viability[0].viable;
        let b = realignment(&w, donor, 0, flags, donor.round0_entry);
        let mut stolen = b.clone();
        stolen.realigns_entry = locked.round0_entry;
        assert!(w.post(&locked.key, Payload::Ballot(stolen)).is_err());
    }
    w.phase(v1::Phase::RealignmentClosed).unwrap();
    let t1_payload = expected_tally_payload(&w.st, REALIGNMENT_ROUND);
    assert_eq!(t1_payload.contests.len(), DISTRICTS.len());
    assert_eq!(t1_payload.ballots_counted, 7);
    let t1 = w.admin(Payload::EncryptedTally(t1_payload)).unwrap();
    // In RealignmentClosed only the final alignment's tally can be
    // decrypted: the first alignment's has its result (R10.2, R10.3).
    refused(
        w.post(&tkeys[1], late),
        rules::PARTIAL_VALID,
        RuleErrorKind::FailedPrecondition,
    );
    refused(
        w.admin(Payload::Result(v1::ElectionResult {
            tally_entry: t0,
            ..Default::default()
        })),
        rules::RESULT_VALID,
        RuleErrorKind::AlreadyExists,
    );
    let counts1 = decrypt_and_post_result(&mut w.st, &admin, &tkeys, &[&shares[1], &shares[2]], t1);
    assert_eq!(
        counts1, fin,
        "the final alignment decrypts as the rules say"
    );
    let result1 = w.st.len() - 1;

    // Apportionment with the seeded coin.
    let aggs: Vec<_> = w.st.tallies()[1]
        .contests
        .iter()
        .map(|(_, _, c)| c.clone())
        .collect();
    let seed = coin_seed(&m, &aggs).unwrap();
    let districts = expected_apportionment(&m, &viability, &counts1, &seed).unwrap();
    // d1 (5 delegates, 20 participants): a 9 → 2.25, c 9 → 2.25: 2 + 2 = 4,
    // one more by the largest remainder tie, decided by the coin.
    assert_eq!(districts[0].delegates.iter().sum::<u32>(), 5);
    // d2: plurality between a and b (2 each): one delegate by the coin.
    assert_eq!(districts[1].delegates.iter().sum::<u32>(), 1);
    assert_eq!(districts[1].delegates[2..], [0, 0, 0]);
    let good = v1::CaucusApportionment {
        result_entry: result1,
        coin_seed: seed.to_vec(),
        districts: districts.clone(),
    };
    for tamper in 0..4 {
        let mut a = good.clone();
        match tamper {
            0 => a.coin_seed[0] ^= 1,
            1 => {
                let d = &mut a.districts[1].delegates;
                d.swap(0, 1);
            }
            2 => a.districts[0].sde[0] = "1.0".into(),
            _ => a.result_entry = result0,
        }
        refused(
            w.admin(Payload::CaucusApportionment(a)),
            CAUCUS_APPORTIONMENT,
            RuleErrorKind::InvalidArgument,
        );
    }
    refused(
        w.phase(v1::Phase::Finished).map(|_| 0),
        rules::PHASE_PREREQUISITE,
        RuleErrorKind::FailedPrecondition,
    );
    w.admin(Payload::CaucusApportionment(good)).unwrap();
    w.phase(v1::Phase::Finished).unwrap();
    assert_eq!(w.st.phase(), ElectionPhase::Finished);
    assert_eq!(w.st.caucus_apportionment().unwrap().districts, districts);
}

#[test]
fn caucus_entries_are_refused_outside_a_caucus() {
    let board = BoardIdentity {
        origin: "tallyboard/test".into(),
        key: SigningKey::from_bytes(&[9; 32]).verifying_key(),
    };
    let admin = SigningKey::from_bytes(&[1; 32]);
    let manifest = sample_manifest(&admin, &board, SEED);
    let eid = manifest.election_id.clone();
    let (bytes, fp) = manifest_entry(&admin, manifest);
    let mut st = RecordState::new(board);
    st.check_and_apply(&bytes).unwrap();
    let mut w = World { st, admin, eid, fp };
    refused(
        w.admin(Payload::CaucusViability(v1::CaucusViability::default())),
        CAUCUS_VIABILITY,
        RuleErrorKind::FailedPrecondition,
    );
    refused(
        w.admin(Payload::CaucusApportionment(
            v1::CaucusApportionment::default(),
        )),
        CAUCUS_APPORTIONMENT,
        RuleErrorKind::FailedPrecondition,
    );
}
