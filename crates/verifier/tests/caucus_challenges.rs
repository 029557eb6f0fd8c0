//! Whole caucus records (`spec/caucus.md` §9): one with realignment and
//! coin tosses that every check passes (a valid case of the conformance
//! suite); and check V6.2 on a caucus record (`spec/checks.md` V6): a
//! caucus has two tallies, and each challenged ciphertext is counted once,
//! not once per tally; a counted ballot that reuses a challenged ciphertext
//! is reported once although the final alignment compares the round-0
//! ballots again. Also: the checks that the rules of the boundary cases of
//! `spec/checks.md` §9 are reported under.
#![allow(clippy::unwrap_used)]

use rand_core::OsRng;
use tallyboard_protocol::caucus::{
    build_realignment_ballot, coin_seed, expected_apportionment, expected_viability,
    ranked_choice_for_realignment, Round0Ballot, REALIGNMENT_ROUND,
};
use tallyboard_protocol::rules;
use tallyboard_protocol::testkit::sample_caucus_manifest;
use tallyboard_protocol::v1::{self, entry_body::Payload};
use tallyboard_verifier::checks::{check_of_rule, EntryKind};
use tallyboard_verifier::report::Status;

mod common;
mod conformance_out;
use common::{assert_counts, check, results, verify, verify_valid, Builder};

const SEED: u8 = 29;
const ORIGIN: &str = "tallyboard/caucus-test";

/// A participant: district, first choice (option position), and the ranked
/// preferences it realigns by if its first choice is not viable.
type Participant = (&'static str, usize, &'static [usize]);

/// A whole caucus (`spec/caucus.md` §9.1) of `people` in `districts` (id,
/// delegates, SDE weight), the groups `options`: the first participant
/// challenges a ballot for its first choice before casting; first
/// alignment, tally, decryption by trustees 1 and 2, viability;
/// realignment of the participants of non-viable groups by their ranked
/// preferences; the final alignment's tally and decryption; the
/// apportionment with the seeded coin. With `cast_the_challenge`, the
/// first participant casts the challenged ballot itself (its randomness is
/// public). Returns the record and the log index of the first
/// participant's counted ballot.
fn caucus_record(
    districts: &[(&str, u32, &str)],
    options: &[&str],
    people: &[Participant],
    cast_the_challenge: bool,
) -> (Vec<u8>, u64) {
    let mut b = Builder::new(ORIGIN, SEED, |admin, board| {
        sample_caucus_manifest(admin, board, SEED, districts, options)
    });
    b.key_ceremony(None);
    b.phase(v1::Phase::VotingOpen);
    let one_hot = |i: usize| {
        (0..options.len())
            .map(|j| u64::from(i == j))
            .collect::<Vec<_>>()
    };
    let mut round0 = Vec::new();
    for (v, &(district, first, _)) in people.iter().enumerate() {
        let voter = b.voter(district);
        let sel = [one_hot(first)];
        let (entry, secrets) = if v == 0 {
            let (challenged, secrets) = b.challenge(&voter, &sel);
            if cast_the_challenge {
                (b.post(&voter.key, Payload::Ballot(challenged)), secrets)
            } else {
                b.cast(&voter, &sel)
            }
        } else {
            b.cast(&voter, &sel)
        };
        round0.push((voter, entry, secrets));
    }
    b.phase(v1::Phase::VotingClosed);
    let t0 = b.tally(0);
    b.decrypt(&[1, 2], &[1, 2], t0);
    let m = b.st.manifest().unwrap().clone();
    let r0 = b.st.caucus_round(0).unwrap();
    let viability = expected_viability(&m, &r0.counts).unwrap();
    b.admin(Payload::CaucusViability(v1::CaucusViability {
        result_entry: r0.result_entry,
        districts: viability.clone(),
    }));
    b.phase(v1::Phase::RealignmentOpen);
    let uncommitted = options.iter().position(|o| *o == "u");
    for ((voter, entry, secrets), &(district, first, ranked)) in round0.iter().zip(people) {
        let dpos = districts.iter().position(|d| d.0 == district).unwrap();
        let flags = &viability[dpos].viable;
        if flags[first] {
            continue;
        }
        let Some(target) = ranked_choice_for_realignment(ranked, flags, uncommitted) else {
            continue;
        };
        let counted = b.st.credentials()[&voter.key.verifying_key().to_bytes()].counted[0]
            .clone()
            .unwrap();
        let pk = b.st.election_key().unwrap().clone();
        let (ballot, _) = build_realignment_ballot(
            &m,
            &pk,
            &voter.cref(),
            target,
            &Round0Ballot {
                entry: *entry,
                ciphertexts: &counted.ballot.contests[0].1,
                nonces: &secrets[0].nonces,
            },
            flags,
            &mut OsRng,
        )
        .unwrap();
        b.post(&voter.key, Payload::Ballot(ballot));
    }
    b.phase(v1::Phase::RealignmentClosed);
    let t1 = b.tally(REALIGNMENT_ROUND);
    b.decrypt(&[1, 2], &[1, 2], t1);
    let r1 = b.st.caucus_round(REALIGNMENT_ROUND).unwrap();
    let seed = coin_seed(&m, &r1.aggregates).unwrap();
    let apportioned = expected_apportionment(&m, &viability, &r1.counts, &seed).unwrap();
    b.admin(Payload::CaucusApportionment(v1::CaucusApportionment {
        result_entry: r1.result_entry,
        coin_seed: seed.to_vec(),
        districts: apportioned,
    }));
    b.phase(v1::Phase::Finished);
    (b.record(), round0[0].1)
}

/// The record of the V6.2 tests: one district of 3 delegates, four
/// participants (three for "a", one for "b"), all groups viable.
fn small_caucus(cast_the_challenge: bool) -> (Vec<u8>, u64) {
    caucus_record(
        &[("d1", 3, "1.5")],
        &["a", "b", "u"],
        &[
            ("d1", 0, &[]),
            ("d1", 0, &[]),
            ("d1", 0, &[]),
            ("d1", 1, &[]),
        ],
        cast_the_challenge,
    )
}

/// A whole caucus record: two districts, groups a, b, c and uncommitted.
/// District d1 (3 delegates, threshold 2 of 8 participants): a 3, b 3, c 1,
/// uncommitted 1; c and uncommitted are not viable, and their two members
/// realign to a and b by ranked preference (realignment ballots with their
/// proofs, V8.2), giving a 4, b 4: 1.5 delegates each, rounded to 2 + 2,
/// one of which the seeded coin removes (V8.4). District d2 (1 delegate,
/// plurality): a 1, b 1, the delegate to one by the coin. The first
/// participant challenges a ballot before casting; the trustees 1 and 2
/// decrypt both alignments.
#[test]
fn caucus_with_realignment_and_coin_tosses() {
    let (record, _) = caucus_record(
        &[("d1", 3, "1.5"), ("d2", 1, "0.5")],
        &["a", "b", "c", "u"],
        &[
            ("d1", 0, &[]),
            ("d1", 0, &[]),
            ("d1", 0, &[]),
            ("d1", 1, &[]),
            ("d1", 1, &[]),
            ("d1", 1, &[]),
            ("d1", 2, &[2, 0]),
            ("d1", 3, &[1]),
            ("d2", 0, &[]),
            ("d2", 1, &[]),
        ],
        false,
    );
    let r = verify_valid(&record);
    assert_counts(
        &r,
        &[
            ("V6.1", 1),
            ("V7.1", 2),
            ("V7.2", 4),
            ("V7.3", 2),
            ("V8.1", 1),
            ("V8.2", 2),
            ("V8.3", 1),
            ("V8.4", 1),
        ],
    );
    // Result rows: per district (d1, d2), per group (a, b, c, u).
    let rows: Vec<String> = results(&r, 0)
        .into_iter()
        .map(|(d, o, _)| format!("{d}/{o}"))
        .collect();
    let groups = ["a", "b", "c", "u"];
    let want: Vec<String> = ["d1", "d2"]
        .iter()
        .flat_map(|d| groups.iter().map(move |o| format!("{d}/{o}")))
        .collect();
    assert_eq!(rows, want);
    let counts = |round| -> Vec<u64> { results(&r, round).into_iter().map(|x| x.2).collect() };
    assert_eq!(counts(0), [3, 3, 1, 1, 1, 1, 0, 0]);
    assert_eq!(counts(REALIGNMENT_ROUND), [4, 4, 0, 0, 1, 1, 0, 0]);
    let caucus = r.caucus.as_ref().unwrap();
    let delegates = |d: usize| -> Vec<u32> {
        caucus.districts[d]
            .groups
            .iter()
            .map(|g| g.delegates.unwrap())
            .collect()
    };
    // The coin gives d1's third delegate to a or b, d2's one to a or b.
    let (d1, d2) = (delegates(0), delegates(1));
    assert!(d1 == [2, 1, 0, 0] || d1 == [1, 2, 0, 0], "{d1:?}");
    assert!(d2 == [1, 0, 0, 0] || d2 == [0, 1, 0, 0], "{d2:?}");
}

#[test]
fn challenged_ciphertexts_are_counted_once_on_a_caucus_record() {
    let (record, _) = small_caucus(false);
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
    let (record, reused) = small_caucus(true);
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
