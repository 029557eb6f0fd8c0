//! Caucus rounds on the record (spec/caucus.md §9): realignment proofs,
//! the viability entry, the final alignment, the coin seed and the
//! apportionment entry, on a four-district caucus.

use ed25519_dalek::SigningKey;
use rand_core::OsRng;
use tallyboard_caucus::{GroupId, PrecinctId, SeededCoins, Toss, TossKind};
use tallyboard_crypto::dlog::vartime_dlog;
use tallyboard_crypto::elgamal::{Ciphertext, Nonce, PublicKey, SecretKey};
use tallyboard_crypto::Scalar;
use tallyboard_protocol::caucus::*;
use tallyboard_protocol::manifest::{validate_manifest, ElectionManifest};
use tallyboard_protocol::testkit::sample_caucus_manifest;
use tallyboard_protocol::{v1, BoardIdentity, RuleError, RuleErrorKind};

/// Options of the alignment contest: four candidates and uncommitted.
const OPTIONS: [&str; 5] = ["a", "b", "c", "d", "u"];
const A: usize = 0;
const B: usize = 1;
const C: usize = 2;
const D: usize = 3;
const U: usize = 4;

/// Four districts: (id, delegates, SDE weight).
const DISTRICTS: [(&str, u32, &str); 4] = [
    ("d1", 5, "2.5"),
    ("d2", 1, "0.75"),
    ("d3", 4, "1.2"),
    ("d4", 3, "0.6"),
];

fn caucus_manifest() -> ElectionManifest {
    let board = BoardIdentity {
        origin: "tallyboard/test".into(),
        key: SigningKey::from_bytes(&[9; 32]).verifying_key(),
    };
    let admin = SigningKey::from_bytes(&[1; 32]);
    let m = sample_caucus_manifest(&admin, &board, 21, &DISTRICTS, &OPTIONS);
    validate_manifest(&m, b"caucus-rounds test manifest").unwrap()
}

fn keys() -> (SecretKey, PublicKey) {
    let sk = SecretKey::generate(&mut OsRng);
    let pk = sk.public_key().unwrap();
    (sk, pk)
}

/// One alignment contest as a client encrypts it: one-of-n, with nonces.
struct Sealed {
    cts: Vec<Ciphertext>,
    nonces: Vec<Nonce>,
}

fn seal(pk: &PublicKey, choice: usize) -> Sealed {
    let (cts, nonces) = (0..OPTIONS.len())
        .map(|i| pk.encrypt(u64::from(i == choice), &mut OsRng))
        .unzip();
    Sealed { cts, nonces }
}

fn decrypt(sk: &SecretKey, aggs: &[Vec<Ciphertext>]) -> Vec<Vec<u64>> {
    aggs.iter()
        .map(|d| {
            d.iter()
                .map(|c| vartime_dlog(&sk.decrypt_to_point(c), 1_000).unwrap())
                .collect()
        })
        .collect()
}

fn sum(sealed: &[&Sealed]) -> Vec<Ciphertext> {
    (0..OPTIONS.len())
        .map(|i| sealed.iter().map(|s| s.cts[i]).sum())
        .collect()
}

fn expect_rule(r: Result<(), RuleError>, rule: &str) {
    let e = r.expect_err("must be rejected");
    assert_eq!(e.rule, rule, "{e}");
    assert_eq!(e.kind, RuleErrorKind::InvalidArgument, "{e}");
}

/// A non-viable voter of district d1 (viable: a, c, d) with a proof.
struct Fixture {
    m: ElectionManifest,
    pk: PublicKey,
    credential: [u8; 32],
    round0: Sealed,
    new: Sealed,
    viable: Vec<usize>,
    nonviable: Vec<usize>,
    proof: RealignmentProof,
}

const ROUND0_ENTRY: u64 = 1234;

fn ctx<'a>(m: &'a ElectionManifest, credential: &'a [u8; 32]) -> RealignmentContext<'a> {
    RealignmentContext {
        fingerprint: &m.fingerprint,
        credential,
        contest: "align",
        round: REALIGNMENT_ROUND,
        round0_entry: ROUND0_ENTRY,
    }
}

fn fixture() -> Fixture {
    let m = caucus_manifest();
    let (_, pk) = keys();
    let credential = SigningKey::from_bytes(&[7; 32]).verifying_key().to_bytes();
    let flags = [true, false, true, true, false];
    let (viable, nonviable) = option_sets(&flags);
    let round0 = seal(&pk, B);
    let new = seal(&pk, C);
    let proof = prove_realignment(
        &pk,
        &ctx(&m, &credential),
        &round0.cts,
        &round0.nonces,
        &nonviable,
        &new.cts,
        &new.nonces,
        &viable,
        &mut OsRng,
    )
    .unwrap();
    Fixture {
        m,
        pk,
        credential,
        round0,
        new,
        viable,
        nonviable,
        proof,
    }
}

impl Fixture {
    fn verify_with(
        &self,
        ctx: &RealignmentContext<'_>,
        round0: &[Ciphertext],
        new: &[Ciphertext],
        proof: &RealignmentProof,
    ) -> Result<(), RealignmentError> {
        verify_realignment(
            &self.pk,
            ctx,
            round0,
            &self.nonviable,
            new,
            &self.viable,
            proof,
        )
    }
}

#[test]
fn honest_realignment_proof_verifies_and_encodes_canonically() {
    let f = fixture();
    let ctx = ctx(&f.m, &f.credential);
    f.verify_with(&ctx, &f.round0.cts, &f.new.cts, &f.proof)
        .unwrap();
    let bytes = f.proof.to_bytes();
    assert_eq!(bytes.len(), RealignmentProof::LEN);
    assert_eq!(RealignmentProof::LEN, 192);
    assert_eq!(RealignmentProof::from_bytes(&bytes).unwrap(), f.proof);
    assert!(RealignmentProof::from_bytes(&bytes[..191]).is_err());
    let mut longer = bytes.to_vec();
    longer.push(0);
    assert!(RealignmentProof::from_bytes(&longer).is_err());
    assert!(RealignmentProof::from_bytes(&[]).is_err());

    // Through the record-level rule.
    let ballot = v1::Ballot {
        district: "d1".into(),
        round: REALIGNMENT_ROUND,
        realigns_entry: ROUND0_ENTRY,
        realignment_proof: bytes.to_vec(),
        ..Default::default()
    };
    let flags = [true, false, true, true, false];
    check_ballot_round_fields(&ballot).unwrap();
    check_realignment_ballot(
        &f.m,
        &f.pk,
        &f.credential,
        &ballot,
        &f.new.cts,
        ROUND0_ENTRY,
        &f.round0.cts,
        &flags,
    )
    .unwrap();
    // realigns_entry must name the credential's counted round-0 ballot.
    expect_rule(
        check_realignment_ballot(
            &f.m,
            &f.pk,
            &f.credential,
            &ballot,
            &f.new.cts,
            ROUND0_ENTRY + 1,
            &f.round0.cts,
            &flags,
        ),
        CAUCUS_REALIGNMENT,
    );
    // Other viability flags: another statement.
    expect_rule(
        check_realignment_ballot(
            &f.m,
            &f.pk,
            &f.credential,
            &ballot,
            &f.new.cts,
            ROUND0_ENTRY,
            &f.round0.cts,
            &[true, false, false, true, true],
        ),
        CAUCUS_REALIGNMENT,
    );
    let round0 = v1::Ballot {
        round: FIRST_ROUND,
        ..ballot.clone()
    };
    expect_rule(check_ballot_round_fields(&round0), CAUCUS_REALIGNMENT);
    expect_rule(
        check_realignment_ballot(
            &f.m,
            &f.pk,
            &f.credential,
            &round0,
            &f.new.cts,
            ROUND0_ENTRY,
            &f.round0.cts,
            &flags,
        ),
        CAUCUS_REALIGNMENT,
    );
    check_ballot_round_fields(&v1::Ballot::default()).unwrap();
    let short = v1::Ballot {
        realignment_proof: bytes[..100].to_vec(),
        ..ballot.clone()
    };
    expect_rule(check_ballot_round_fields(&short), CAUCUS_REALIGNMENT);
    let round2 = v1::Ballot { round: 2, ..ballot };
    expect_rule(check_ballot_round_fields(&round2), CAUCUS_REALIGNMENT);
}

#[test]
fn viable_group_members_cannot_realign() {
    let f = fixture();
    let ctx = ctx(&f.m, &f.credential);
    // A member of viable group a: the prover refuses.
    let locked = seal(&f.pk, A);
    let new = seal(&f.pk, C);
    let r = prove_realignment(
        &f.pk,
        &ctx,
        &locked.cts,
        &locked.nonces,
        &f.nonviable,
        &new.cts,
        &new.nonces,
        &f.viable,
        &mut OsRng,
    );
    assert_eq!(r.unwrap_err(), RealignmentError::NotEligible);
    // Nonces that are not the ballot's do not help either.
    let r = prove_realignment(
        &f.pk,
        &ctx,
        &f.round0.cts,
        &locked.nonces,
        &f.nonviable,
        &new.cts,
        &new.nonces,
        &f.viable,
        &mut OsRng,
    );
    assert_eq!(r.unwrap_err(), RealignmentError::NotEligible);

    // Forgery 1: an honest voter's proof presented with the locked ballot.
    assert!(f
        .verify_with(&ctx, &locked.cts, &f.new.cts, &f.proof)
        .is_err());
    // Forgery 2: a proof made for sets that put a in the non-viable set.
    let fake_nonviable = [A, B, U];
    let fake_viable = [C, D];
    let forged = prove_realignment(
        &f.pk,
        &ctx,
        &locked.cts,
        &locked.nonces,
        &fake_nonviable,
        &new.cts,
        &new.nonces,
        &fake_viable,
        &mut OsRng,
    )
    .unwrap();
    assert!(f.verify_with(&ctx, &locked.cts, &new.cts, &forged).is_err());
    // Forgery 3: the eligibility half of a real proof, grafted onto another
    // context (the locked voter's ballot and a fresh target proof).
    let mixed = RealignmentProof {
        eligibility: f.proof.eligibility,
        target: forged.target,
    };
    assert!(f.verify_with(&ctx, &locked.cts, &new.cts, &mixed).is_err());

    // The target must be viable: the prover refuses a non-viable one.
    let to_b = seal(&f.pk, B);
    let r = prove_realignment(
        &f.pk,
        &ctx,
        &f.round0.cts,
        &f.round0.nonces,
        &f.nonviable,
        &to_b.cts,
        &to_b.nonces,
        &f.viable,
        &mut OsRng,
    );
    assert_eq!(r.unwrap_err(), RealignmentError::TargetNotViable);

    // Malformed sets are refused by both sides.
    for (n, v) in [
        (vec![B, B], vec![A, C]),
        (vec![U, B], vec![A, C]),
        (vec![B, 5], vec![A, C]),
        (vec![], vec![A, C]),
        (vec![B], vec![]),
        (vec![A, B], vec![A, C]),
    ] {
        let r = verify_realignment(&f.pk, &ctx, &f.round0.cts, &n, &f.new.cts, &v, &f.proof);
        assert!(
            matches!(r, Err(RealignmentError::InvalidSets(_))),
            "{n:?} {v:?}"
        );
    }
    let r = verify_realignment(
        &f.pk,
        &ctx,
        &f.round0.cts[..4],
        &f.nonviable,
        &f.new.cts,
        &f.viable,
        &f.proof,
    );
    assert!(matches!(r, Err(RealignmentError::Inconsistent(_))));
}

#[test]
fn proof_is_bound_to_its_context() {
    let f = fixture();
    let base = ctx(&f.m, &f.credential);
    let other_cred = SigningKey::from_bytes(&[8; 32]).verifying_key().to_bytes();
    let other_fp = [0xee; 32];
    let variants = [
        RealignmentContext {
            credential: &other_cred,
            ..base
        },
        RealignmentContext {
            round0_entry: ROUND0_ENTRY + 1,
            ..base
        },
        RealignmentContext { round: 0, ..base },
        RealignmentContext { round: 2, ..base },
        RealignmentContext {
            contest: "other",
            ..base
        },
        RealignmentContext {
            fingerprint: &other_fp,
            ..base
        },
    ];
    for v in &variants {
        assert!(
            f.verify_with(v, &f.round0.cts, &f.new.cts, &f.proof)
                .is_err(),
            "{v:?}"
        );
    }
    // Another round-0 ballot for the same non-viable group, or another
    // realignment ballot for the same target: the ciphertexts are bound.
    let again = seal(&f.pk, B);
    assert!(f
        .verify_with(&base, &again.cts, &f.new.cts, &f.proof)
        .is_err());
    let again = seal(&f.pk, C);
    assert!(f
        .verify_with(&base, &f.round0.cts, &again.cts, &f.proof)
        .is_err());
    // Both halves are needed, in their order.
    let swapped = RealignmentProof {
        eligibility: f.proof.target,
        target: f.proof.eligibility,
    };
    assert!(f
        .verify_with(&base, &f.round0.cts, &f.new.cts, &swapped)
        .is_err());
    // Another key.
    let (_, pk2) = keys();
    assert!(verify_realignment(
        &pk2,
        &base,
        &f.round0.cts,
        &f.nonviable,
        &f.new.cts,
        &f.viable,
        &f.proof
    )
    .is_err());
}

#[test]
fn every_bit_flip_is_rejected() {
    let f = fixture();
    let ctx = ctx(&f.m, &f.credential);
    let bytes = f.proof.to_bytes();
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut b = bytes;
            b[i] ^= 1 << bit;
            let ok = RealignmentProof::from_bytes(&b)
                .ok()
                .is_some_and(|p| f.verify_with(&ctx, &f.round0.cts, &f.new.cts, &p).is_ok());
            assert!(!ok, "flipping bit {bit} of byte {i} still verifies");
        }
    }
}

#[test]
fn ranked_preferences_pick_the_realignment() {
    let viable = [true, false, true, true, false];
    assert_eq!(
        ranked_choice_for_realignment(&[B, C, A], &viable, Some(U)),
        Some(C)
    );
    assert_eq!(
        ranked_choice_for_realignment(&[B, D], &viable, None),
        Some(D)
    );
    // No viable preference: uncommitted if viable, else nobody.
    assert_eq!(
        ranked_choice_for_realignment(&[B, U], &viable, Some(U)),
        None
    );
    let u_viable = [false, false, true, false, true];
    assert_eq!(
        ranked_choice_for_realignment(&[B, A], &u_viable, Some(U)),
        Some(U)
    );
    assert_eq!(ranked_choice_for_realignment(&[], &u_viable, None), None);
    // Out-of-range preferences are skipped; only five are read.
    assert_eq!(
        ranked_choice_for_realignment(&[99, C], &viable, None),
        Some(C)
    );
    assert_eq!(
        ranked_choice_for_realignment(&[B, B, B, B, B, A], &viable, None),
        None
    );
}

/// The whole caucus: first alignment in four districts, viability,
/// realignment with proofs, final alignment, coin seed, apportionment.
#[test]
fn four_district_caucus() {
    let m = caucus_manifest();
    let (sk, pk) = keys();
    let setup = CaucusSetup::from_manifest(&m).unwrap();
    assert_eq!(setup.districts, vec![0, 1, 2, 3]);
    assert_eq!(setup.uncommitted, Some(U));
    assert_eq!(setup.options, 5);

    // First alignment. Each voter: (choice, ranked preferences).
    let voters: [Vec<(usize, Vec<usize>)>; 4] = [
        // d1: 5 delegates, P = 20, threshold ceil(3.0) = 3.
        [
            vec![(A, vec![]); 10],
            vec![(B, vec![B, A]), (B, vec![B, U, C])],
            vec![(C, vec![]); 5],
            vec![(D, vec![]); 3],
        ]
        .concat(),
        // d2: 1 delegate, plurality; a and b tie.
        [
            vec![(A, vec![]); 3],
            vec![(B, vec![]); 3],
            vec![(C, vec![A])],
        ]
        .concat(),
        // d3: 4 delegates, three groups of 5: one extra delegate by coin.
        [
            vec![(A, vec![]); 5],
            vec![(B, vec![]); 5],
            vec![(C, vec![]); 5],
        ]
        .concat(),
        // d4: 3 delegates, P = 12, threshold 2; the a voter falls back to
        // uncommitted (c is not viable).
        [
            vec![(A, vec![A, C])],
            vec![(B, vec![]); 6],
            vec![(D, vec![]); 2],
            vec![(U, vec![]); 3],
        ]
        .concat(),
    ];
    let sealed: Vec<Vec<Sealed>> = voters
        .iter()
        .map(|d| d.iter().map(|(c, _)| seal(&pk, *c)).collect())
        .collect();
    let round0: Vec<Vec<Ciphertext>> = sealed
        .iter()
        .map(|d| sum(&d.iter().collect::<Vec<_>>()))
        .collect();
    let counts0 = decrypt(&sk, &round0);
    assert_eq!(
        counts0,
        vec![
            vec![10, 2, 5, 3, 0],
            vec![3, 3, 1, 0, 0],
            vec![5, 5, 5, 0, 0],
            vec![1, 6, 0, 2, 3]
        ]
    );

    // Viability.
    let viability = expected_viability(&m, &counts0).unwrap();
    let summary: Vec<(u64, u64, Vec<bool>)> = viability
        .iter()
        .map(|v| (v.participants, v.threshold, v.viable.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (20, 3, vec![true, false, true, true, false]),
            (7, 0, vec![true, true, true, false, false]),
            (15, 3, vec![true, true, true, false, false]),
            (12, 2, vec![false, true, false, true, true]),
        ]
    );
    let entry = v1::CaucusViability {
        result_entry: 40,
        districts: viability.clone(),
    };
    check_viability_entry(&m, 40, &counts0, &entry).unwrap();
    expect_rule(
        check_viability_entry(&m, 41, &counts0, &entry),
        CAUCUS_VIABILITY,
    );
    let mut bad = entry.clone();
    bad.districts[0].viable[1] = true;
    expect_rule(
        check_viability_entry(&m, 40, &counts0, &bad),
        CAUCUS_VIABILITY,
    );
    let mut bad = entry.clone();
    bad.districts[2].threshold = 2;
    expect_rule(
        check_viability_entry(&m, 40, &counts0, &bad),
        CAUCUS_VIABILITY,
    );
    let mut bad = entry.clone();
    bad.districts[3].participants = 13;
    expect_rule(
        check_viability_entry(&m, 40, &counts0, &bad),
        CAUCUS_VIABILITY,
    );
    let mut bad = entry.clone();
    bad.districts.pop();
    expect_rule(
        check_viability_entry(&m, 40, &counts0, &bad),
        CAUCUS_VIABILITY,
    );

    // Realignment: every voter tries; only non-viable ones can, each to the
    // first viable preference.
    let mut round1 = vec![vec![Ciphertext::zero(); OPTIONS.len()]; 4];
    let mut realigned = 0;
    for (k, district) in voters.iter().enumerate() {
        let flags = &viability[k].viable;
        let (v, n) = option_sets(flags);
        for (j, (choice, ranked)) in district.iter().enumerate() {
            let cred = SigningKey::from_bytes(&[(k * 50 + j + 1) as u8; 32])
                .verifying_key()
                .to_bytes();
            let entry_index = 100 + (k * 50 + j) as u64;
            let ctx = RealignmentContext {
                fingerprint: &m.fingerprint,
                credential: &cred,
                contest: &setup.contest_id,
                round: REALIGNMENT_ROUND,
                round0_entry: entry_index,
            };
            let own = &sealed[k][j];
            let target = ranked_choice_for_realignment(ranked, flags, setup.uncommitted);
            let new = seal(&pk, target.unwrap_or(*choice));
            let proof = prove_realignment(
                &pk,
                &ctx,
                &own.cts,
                &own.nonces,
                &n,
                &new.cts,
                &new.nonces,
                &v,
                &mut OsRng,
            );
            if flags[*choice] {
                assert_eq!(proof.unwrap_err(), RealignmentError::NotEligible);
                continue;
            }
            let proof = proof.unwrap();
            let ballot = v1::Ballot {
                district: DISTRICTS[k].0.into(),
                round: REALIGNMENT_ROUND,
                realigns_entry: entry_index,
                realignment_proof: proof.to_bytes().to_vec(),
                ..Default::default()
            };
            check_realignment_ballot(
                &m,
                &pk,
                &cred,
                &ballot,
                &new.cts,
                entry_index,
                &own.cts,
                flags,
            )
            .unwrap();
            for (a, c) in round1[k].iter_mut().zip(&new.cts) {
                *a += *c;
            }
            realigned += 1;
        }
    }
    assert_eq!(realigned, 3);

    // Final alignment.
    let finals = final_aggregates(&m, &round0, &round1, &viability).unwrap();
    let counts = decrypt(&sk, &finals);
    assert_eq!(
        counts,
        vec![
            vec![11, 0, 6, 3, 0],
            vec![3, 3, 1, 0, 0],
            vec![5, 5, 5, 0, 0],
            vec![0, 6, 0, 2, 4]
        ]
    );
    // Non-viable options are the zero ciphertext.
    assert_eq!(finals[0][B], Ciphertext::zero());
    assert_eq!(finals[3][A], Ciphertext::zero());

    // Coin seed and apportionment.
    let seed = coin_seed(&m, &finals).unwrap();
    assert_eq!(coin_seed(&m, &finals).unwrap(), seed);
    let mut other = finals.clone();
    other[2][A] += pk.encrypt(0, &mut OsRng).0;
    assert_ne!(
        coin_seed(&m, &other).unwrap(),
        seed,
        "every ciphertext counts"
    );

    let app = expected_apportionment(&m, &viability, &counts, &seed).unwrap();
    let ids: Vec<&str> = app.iter().map(|a| a.district.as_str()).collect();
    assert_eq!(ids, ["d1", "d2", "d3", "d4"]);
    // d1: raw 2.75, 1.5, 0.75 round to 3 + 2 + 1 = 6 > 5; c has the lowest
    // decimal above .5 and gives one back. SDE per delegate 2.5/5.
    assert_eq!(app[0].delegates, vec![3, 0, 1, 1, 0]);
    assert_eq!(
        app[0].sde,
        ["1.5000", "0.0000", "0.5000", "0.5000", "0.0000"]
    );
    // d4: raw 1.5, 0.5, 1 round to 2 + 1 + 1 = 4 > 3; only b has two.
    assert_eq!(app[3].delegates, vec![0, 1, 0, 1, 1]);
    assert_eq!(
        app[3].sde,
        ["0.0000", "0.2000", "0.0000", "0.2000", "0.2000"]
    );

    // d2: plurality tie between a and b, decided by the seeded coin.
    let toss_winner = |seed: &[u8; 32], precinct: &str, kind, tied: &[GroupId], picks| {
        SeededCoins::new(*seed)
            .winners(&Toss {
                precinct: &PrecinctId::new(precinct),
                round: FINAL_ALIGNMENT,
                kind,
                counter: 0,
                tied,
                picks,
            })
            .unwrap()
    };
    let ab = [GroupId(A as u32), GroupId(B as u32)];
    let w = toss_winner(&seed, "d2", TossKind::Plurality, &ab, 1)[0].0 as usize;
    let mut expected = vec![0u32; 5];
    expected[w] = 1;
    assert_eq!(app[1].delegates, expected);
    assert_eq!(app[1].sde[w], "0.7500");
    // d3: 1 + 1 + 1 = 3 < 4, three remainders of 1/3 tie; the coin adds one.
    let abc = [GroupId(A as u32), GroupId(B as u32), GroupId(C as u32)];
    let w3 = toss_winner(&seed, "d3", TossKind::Add, &abc, 1)[0].0 as usize;
    let mut expected = vec![1u32, 1, 1, 0, 0];
    expected[w3] = 2;
    assert_eq!(app[2].delegates, expected);
    assert_eq!(app[2].sde[w3], "0.6000");

    // Another seed can give d2's delegate to the other group: the seed decides.
    let flipped = (0u8..=255)
        .map(|i| [i; 32])
        .find(|s| toss_winner(s, "d2", TossKind::Plurality, &ab, 1)[0].0 as usize != w)
        .unwrap();
    let app2 = expected_apportionment(&m, &viability, &counts, &flipped).unwrap();
    assert_eq!(app2[1].delegates[w], 0);
    assert_eq!(app2[1].delegates[1 - w], 1);

    // The entry.
    let posted = v1::CaucusApportionment {
        result_entry: 77,
        coin_seed: seed.to_vec(),
        districts: app.clone(),
    };
    check_apportionment_entry(&m, 77, &viability, &counts, &seed, &posted).unwrap();
    expect_rule(
        check_apportionment_entry(&m, 78, &viability, &counts, &seed, &posted),
        CAUCUS_APPORTIONMENT,
    );
    // The tie given to the coin's loser.
    let mut bad = posted.clone();
    bad.districts[1].delegates.swap(A, B);
    bad.districts[1].sde.swap(A, B);
    expect_rule(
        check_apportionment_entry(&m, 77, &viability, &counts, &seed, &bad),
        CAUCUS_APPORTIONMENT,
    );
    // A chosen seed (consistent with its own entry) is not the record's.
    let chosen = v1::CaucusApportionment {
        result_entry: 77,
        coin_seed: flipped.to_vec(),
        districts: app2,
    };
    expect_rule(
        check_apportionment_entry(&m, 77, &viability, &counts, &seed, &chosen),
        CAUCUS_APPORTIONMENT,
    );
    // SDE text must be exact.
    let mut bad = posted.clone();
    bad.districts[0].sde[A] = "1.5".into();
    expect_rule(
        check_apportionment_entry(&m, 77, &viability, &counts, &seed, &bad),
        CAUCUS_APPORTIONMENT,
    );
    let mut bad = posted.clone();
    bad.districts.swap(0, 3);
    expect_rule(
        check_apportionment_entry(&m, 77, &viability, &counts, &seed, &bad),
        CAUCUS_APPORTIONMENT,
    );
    // Final counts inconsistent with the viability are refused.
    let mut wrong = counts.clone();
    wrong[0][B] = 1;
    expect_rule(
        expected_apportionment(&m, &viability, &wrong, &seed).map(|_| ()),
        CAUCUS_APPORTIONMENT,
    );
    let mut wrong = counts.clone();
    wrong[3][B] = 9;
    expect_rule(
        expected_apportionment(&m, &viability, &wrong, &seed).map(|_| ()),
        CAUCUS_APPORTIONMENT,
    );
}

#[test]
fn result_counts_are_read_per_district() {
    let m = caucus_manifest();
    let result = v1::ElectionResult {
        tally_entry: 5,
        trustees_used: vec![1, 2],
        contests: DISTRICTS
            .iter()
            .enumerate()
            .map(|(k, (id, _, _))| v1::ContestResult {
                contest: "align".into(),
                district: (*id).into(),
                counts: vec![k as u64; 5],
            })
            .collect(),
    };
    let counts = alignment_counts(&m, &result, CAUCUS_VIABILITY).unwrap();
    assert_eq!(counts[3], vec![3; 5]);
    // The same from a tally's keyed lists (another contest in between).
    let setup = CaucusSetup::from_manifest(&m).unwrap();
    let keys = [
        (0, Some(3)),
        (1, Some(0)),
        (0, Some(1)),
        (0, Some(0)),
        (0, Some(2)),
    ];
    let values = ["d4", "other", "d2", "d1", "d3"];
    assert_eq!(
        setup.pick_alignment(&keys, &values).unwrap(),
        ["d1", "d2", "d3", "d4"]
    );
    assert_eq!(setup.pick_alignment(&keys[1..], &values[1..]), None);
    let mut short = result.clone();
    short.contests.pop();
    expect_rule(
        alignment_counts(&m, &short, CAUCUS_VIABILITY).map(|_| ()),
        CAUCUS_VIABILITY,
    );
    // Not a caucus.
    let mut plain = m.clone();
    plain.raw.caucus = None;
    let e = expected_viability(&plain, &counts).unwrap_err();
    assert_eq!(e.kind, RuleErrorKind::FailedPrecondition);
    // Districts with no delegates or nobody present: nothing viable.
    let mut none = m.clone();
    none.raw.districts[0].delegates = 0;
    let v = expected_viability(
        &none,
        &[vec![5, 0, 0, 0, 0], vec![0; 5], vec![1; 5], vec![2; 5]],
    )
    .unwrap();
    assert_eq!((v[0].threshold, v[0].viable.clone()), (0, vec![false; 5]));
    assert_eq!(
        (v[1].participants, v[1].viable.clone()),
        (0, vec![false; 5])
    );
    let zero = vec![vec![0u64; 5]; 4];
    let app = expected_apportionment(&none, &v, &zero, &[0; 32]).unwrap();
    assert_eq!(app[0].delegates, vec![0; 5]);
    assert_eq!(app[0].sde, vec!["0.0000"; 5]);
}

/// Known-answer vector of the coin seed (spec/caucus.md §9.6): election key
/// `7·G`, the aggregate of option `i` in the `k`-th district an encryption
/// of `i` with nonce `100k + i + 1`.
#[test]
fn coin_seed_vectors() {
    let m = caucus_manifest();
    let pk = SecretKey::from_scalar(Scalar::from(7u64))
        .public_key()
        .unwrap();
    let finals: Vec<Vec<Ciphertext>> = (0..4u64)
        .map(|k| {
            (0..5u64)
                .map(|i| pk.encrypt_with(i, &Nonce::from_scalar(Scalar::from(100 * k + i + 1))))
                .collect()
        })
        .collect();
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    assert_eq!(
        hex(&m.fingerprint),
        "a6fcfa94d900b80077df5dcdf017b069e4da9bca251964caea3ef7b54e992406"
    );
    assert_eq!(
        hex(&coin_seed(&m, &finals).unwrap()),
        "7c625f7a09e884528e3c41dd4ba730998cec277deec1c11e2641bba8a5d01067"
    );
}
