//! Valid whole records of the kinds the record generator does not make
//! (`spec/conformance/README.md`): a points contest, a key ceremony with a
//! complaint, and a decryption a faulty trustee takes no part in. Each is
//! built entry by entry through the record's rules ([`common::Builder`]),
//! verified, and checked for every check passing with the counts and
//! results it must have; each test's doc comment is its conformance case's
//! `why`.
#![allow(clippy::unwrap_used)]

use tallyboard_protocol::testkit::sample_manifest;
use tallyboard_protocol::v1::{self, contest_rule::Kind, entry_body::Payload};
use tallyboard_protocol::{rules, RuleErrorKind};
use tallyboard_threshold::{Disqualification, ThresholdError};
use tallyboard_verifier::Report;

mod common;
mod conformance_out;
use common::{assert_counts, results, verify_valid, BadShare, Builder};

const ORIGIN: &str = "tallyboard/whole-records";

/// The round-0 results are `want`, (option, count) in order.
fn assert_results(r: &Report, want: &[(&str, u64)]) {
    let got: Vec<(String, u64)> = results(r, 0).into_iter().map(|(_, o, n)| (o, n)).collect();
    let want: Vec<(String, u64)> = want.iter().map(|(o, n)| ((*o).to_string(), *n)).collect();
    assert_eq!(got, want);
}

/// One voter of d1 per choice casts a one-of-3 ballot for it.
fn cast_one_of_three(b: &mut Builder, choices: &[usize]) {
    for &choice in choices {
        let v = b.voter("d1");
        let mut sel = vec![0; 3];
        sel[choice] = 1;
        b.cast(&v, &[sel]);
    }
}

/// A points contest (`spec/manifest.md` §3: each of options a, b, c gets
/// 0..=3 points, at most 5 in all; `spec/range-proofs.md`): four voters,
/// one of whom challenges a ballot first and one of whom revotes (last
/// ballot counts); one voter spends no points. The tally is the sum of the
/// counted ballots' points per option: a 5, b 2, c 8.
#[test]
fn points_contest() {
    let seed = 31;
    let mut b = Builder::new(ORIGIN, seed, |admin, board| {
        let mut m = sample_manifest(admin, board, seed);
        m.contests[0].rule = Some(v1::ContestRule {
            kind: Some(Kind::Points(v1::Points {
                per_option_max: 3,
                budget: 5,
                exact: false,
            })),
        });
        m
    });
    b.key_ceremony(None);
    b.phase(v1::Phase::VotingOpen);
    let voters: Vec<_> = (0..4).map(|_| b.voter("d1")).collect();
    b.challenge(&voters[0], &[vec![3, 2, 0]]);
    b.cast(&voters[0], &[vec![0, 2, 3]]);
    b.cast(&voters[1], &[vec![1, 1, 1]]);
    b.cast(&voters[2], &[vec![0, 0, 0]]);
    b.cast(&voters[3], &[vec![2, 0, 3]]);
    b.cast(&voters[1], &[vec![3, 0, 2]]);
    b.phase(v1::Phase::VotingClosed);
    let t = b.tally(0);
    let (_, decrypted) = b.decrypt(&[1, 2, 3], &[1, 2], t);
    assert_eq!(decrypted, [vec![5, 2, 8]]);
    b.phase(v1::Phase::Finished);

    let r = verify_valid(&b.record());
    // Six ballots (one challenged), four counted, one revote set aside.
    assert_counts(
        &r,
        &[
            ("V5.2", 6),
            ("V5.4", 4),
            ("V6.1", 1),
            ("V7.2", 3),
            ("V7.3", 1),
        ],
    );
    assert_results(&r, &[("a", 5), ("b", 2), ("c", 8)]);
    assert_eq!((r.record.ballots_cast, r.record.challenged), (5, 1));
}

/// A key ceremony with a complaint (`spec/threshold.md` §5.4, §5.5): dealer
/// 3 encrypts a wrong share to trustee 1, which posts a verifiable
/// complaint; the complaint is valid, so dealer 3 is disqualified — a normal
/// outcome of the ceremony, not a failure (V3.2, V3.3 pass; the election
/// key's qualified set is {1, 2}, V3.4). Trustee 3 still holds a share and a
/// verification key and may decrypt (`spec/record.md` §9, §10.2): the three
/// trustees decrypt and the result combines trustees 1 and 3. Three voters:
/// a, b, a.
#[test]
fn ceremony_with_a_complaint() {
    let seed = 37;
    let mut b = Builder::new(ORIGIN, seed, |admin, board| {
        sample_manifest(admin, board, seed)
    });
    let outcome = b.key_ceremony(Some(BadShare {
        dealer: 3,
        recipient: 1,
    }));
    assert_eq!(outcome.qualification.qualified, [1, 2]);
    assert_eq!(
        outcome.qualification.disqualified,
        [Disqualification {
            trustee: 3,
            reason: ThresholdError::ValidComplaint {
                dealer: 3,
                complainer: 1,
            },
        }]
    );
    b.phase(v1::Phase::VotingOpen);
    cast_one_of_three(&mut b, &[0, 1, 0]);
    b.phase(v1::Phase::VotingClosed);
    let t = b.tally(0);
    b.decrypt(&[1, 2, 3], &[1, 3], t);
    b.phase(v1::Phase::Finished);

    let r = verify_valid(&b.record());
    // 3 announcements; 3 commitments and 3 reveals; 1 complaint; the key.
    assert_counts(
        &r,
        &[
            ("V3.1", 3),
            ("V3.2", 6),
            ("V3.3", 1),
            ("V3.4", 1),
            ("V7.2", 3),
            ("V7.3", 1),
        ],
    );
    assert_results(&r, &[("a", 2), ("b", 1), ("c", 0)]);
    // The report says who qualified and who did not, and why.
    assert_eq!(r.record.qualified_trustees, [1, 2]);
    assert_eq!(r.record.disqualified_trustees.len(), 1);
    assert_eq!(r.record.disqualified_trustees[0].trustee, 3);
    assert!(r.to_human().contains("trustee 3 disqualified"));
    assert!(r
        .to_html(&Default::default())
        .contains("trustee 3 disqualified"));
}

/// A trustee who misbehaves at decryption: trustee 1 submits a partial
/// decryption whose values are for other ciphertexts (the tally's in
/// reverse order), so its proofs fail; the rules refuse it (R10.2,
/// `spec/record.md` §10.2, §5: a refused entry is not appended), so it is
/// not on the record, and the administrator's notice says so. Trustees 2
/// and 3 — any t = 2 of the three — decrypt, and the result names them
/// (`spec/threshold.md` §6.3). Three voters: c, a, c.
#[test]
fn decryption_without_a_faulty_trustee() {
    let seed = 41;
    let mut b = Builder::new(ORIGIN, seed, |admin, board| {
        sample_manifest(admin, board, seed)
    });
    b.key_ceremony(None);
    b.phase(v1::Phase::VotingOpen);
    cast_one_of_three(&mut b, &[2, 0, 2]);
    b.phase(v1::Phase::VotingClosed);
    let t = b.tally(0);
    let mut other = b.tally_ciphertexts(t);
    other.reverse();
    let bad = b.partial(1, &other);
    let before = b.entries.len();
    let err = b.post_partial(t, &bad).unwrap_err();
    assert_eq!(
        (err.rule, err.kind),
        (rules::PARTIAL_VALID, RuleErrorKind::InvalidArgument),
        "{err}"
    );
    assert_eq!(b.entries.len(), before, "a refused entry is not kept");
    b.admin(Payload::Notice(v1::Notice {
        text: "The partial decryption of trustee 1 was refused (R10.2); \
               trustees 2 and 3 decrypt."
            .into(),
    }));
    let (_, decrypted) = b.decrypt(&[2, 3], &[2, 3], t);
    assert_eq!(decrypted, [vec![1, 0, 2]]);
    b.phase(v1::Phase::Finished);

    let r = verify_valid(&b.record());
    assert_counts(&r, &[("V7.1", 1), ("V7.2", 2), ("V7.3", 1)]);
    assert_results(&r, &[("a", 1), ("b", 0), ("c", 2)]);
}
