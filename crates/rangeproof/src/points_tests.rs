//! Tests of points ballots (`spec/range-proofs.md` §5).

use super::*;
use proptest::prelude::*;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use tallyboard_crypto::elgamal::SecretKey;

fn key(seed: u8) -> PublicKey {
    let mut rng = ChaCha20Rng::from_seed([seed; 32]);
    SecretKey::generate(&mut rng).public_key().unwrap()
}

fn ctx() -> ProofContext {
    ProofContext::new([0x42; 32])
        .with(b"credential", &[7u8; 32])
        .with(b"contest", b"points-1")
}

fn make(
    values: &[u64],
    maxes: &[u64],
    total: TotalRule,
    seed: u8,
) -> (PublicKey, PointsRules, PointsBallot) {
    let pk = key(seed);
    let rules = PointsRules::new(maxes, total).unwrap();
    let mut rng = ChaCha20Rng::from_seed([seed.wrapping_add(100); 32]);
    let (b, _) = PointsBallot::encrypt(&pk, &rules, values, &ctx(), &mut rng).unwrap();
    (pk, rules, b)
}

fn batch_accepts(
    pk: &PublicKey,
    rules: &PointsRules,
    ctx: &ProofContext,
    ballots: &[&PointsBallot],
) -> bool {
    let mut batch = BatchVerifier::new(ChaCha20Rng::from_seed([0xbb; 32]));
    let k = batch.register(*pk.point());
    ballots.iter().all(|b| {
        b.batch_verify(pk, Base::Shared(k), rules, ctx, &mut batch)
            .is_ok()
    }) && batch.vartime_verify()
}

#[test]
fn honest_ballots_verify_under_every_rule() {
    let w = 1u64 << 32;
    let cases: Vec<(Vec<u64>, Vec<u64>, TotalRule)> = vec![
        (vec![20, 30, 0, 50, 0], vec![100; 5], TotalRule::AtMost(100)),
        (vec![20, 30, 0, 49, 0], vec![100; 5], TotalRule::AtMost(100)),
        (
            vec![20, 30, 0, 50, 0],
            vec![100; 5],
            TotalRule::Exactly(100),
        ),
        (vec![100, 0, 0, 0, 0], vec![100; 5], TotalRule::None),
        (vec![w, 0, 17, w - 1, 3], vec![w; 5], TotalRule::None),
        (
            vec![w / 2, w / 2, 0, 0, 0],
            vec![w; 5],
            TotalRule::Exactly(w),
        ),
        (
            vec![1, 2, 3],
            vec![u32::MAX as u64; 3],
            TotalRule::AtMost(u32::MAX as u64),
        ),
        (vec![u64::MAX], vec![u64::MAX], TotalRule::AtMost(u64::MAX)),
        (vec![0], vec![0], TotalRule::Exactly(0)),
        (vec![5; 63], vec![10; 63], TotalRule::AtMost(400)),
    ];
    for (i, (values, maxes, total)) in cases.iter().enumerate() {
        let (pk, rules, b) = make(values, maxes, *total, i as u8);
        b.verify(&pk, &rules, &ctx()).unwrap();
        assert!(batch_accepts(&pk, &rules, &ctx(), &[&b]), "case {i}");
        let bytes = b.to_bytes();
        assert_eq!(bytes.len(), rules.ballot_len(), "case {i}");
        assert!(bytes.len() <= PointsBallot::MAX_LEN);
        let back = PointsBallot::from_bytes(&bytes).unwrap();
        assert_eq!(back, b);
        back.verify(&pk, &rules, &ctx()).unwrap();
    }
}

#[test]
fn the_free_function_and_openings() {
    let pk = key(1);
    let mut rng = ChaCha20Rng::from_seed([1; 32]);
    let (b, opening) = encrypt_points(
        &pk,
        &[3, 4],
        &[10, 10],
        TotalRule::AtMost(7),
        &ctx(),
        &mut rng,
    )
    .unwrap();
    let rules = PointsRules::new(&[10, 10], TotalRule::AtMost(7)).unwrap();
    b.verify(&pk, &rules, &ctx()).unwrap();
    assert!(opening.opens(&b, &pk));
    assert_eq!(opening.values(), &[3, 4]);
    assert_eq!(format!("{opening:?}"), "PointsOpening([REDACTED])");
    let (b2, _) = encrypt_points(
        &pk,
        &[3, 4],
        &[10, 10],
        TotalRule::AtMost(7),
        &ctx(),
        &mut rng,
    )
    .unwrap();
    assert!(!opening.opens(&b2, &pk));
}

#[test]
fn values_breaking_the_rules_are_refused_before_encrypting() {
    let pk = key(2);
    let cases: Vec<(Vec<u64>, Vec<u64>, TotalRule, RangeProofError)> = vec![
        (
            vec![101, 0],
            vec![100, 100],
            TotalRule::None,
            RangeProofError::ValueAboveMax {
                option: 0,
                value: 101,
                max: 100,
            },
        ),
        (
            vec![0, 1 << 32],
            vec![100, u32::MAX as u64],
            TotalRule::None,
            RangeProofError::ValueAboveMax {
                option: 1,
                value: 1 << 32,
                max: u32::MAX as u64,
            },
        ),
        (
            vec![60, 41],
            vec![100, 100],
            TotalRule::AtMost(100),
            RangeProofError::TotalAboveBudget {
                total: 101,
                budget: 100,
            },
        ),
        (
            vec![60, 39],
            vec![100, 100],
            TotalRule::Exactly(100),
            RangeProofError::TotalNotExact {
                total: 99,
                required: 100,
            },
        ),
        (
            vec![u64::MAX, u64::MAX],
            vec![u64::MAX, u64::MAX],
            TotalRule::AtMost(u64::MAX),
            RangeProofError::TotalAboveBudget {
                total: 2 * (u64::MAX as u128),
                budget: u64::MAX,
            },
        ),
        (
            vec![1],
            vec![100, 100],
            TotalRule::None,
            RangeProofError::WrongValueCount {
                expected: 2,
                got: 1,
            },
        ),
    ];
    for (values, maxes, total, err) in cases {
        let mut rng = ChaCha20Rng::from_seed([2; 32]);
        let before = rng.clone();
        let got = encrypt_points(&pk, &values, &maxes, total, &ctx(), &mut rng).unwrap_err();
        assert_eq!(got, err);
        // Nothing was encrypted: no randomness was drawn.
        assert_eq!(rng, before);
    }
    assert!(matches!(
        PointsRules::new(&[], TotalRule::None),
        Err(RangeProofError::InvalidRules(_))
    ));
    assert!(matches!(
        PointsRules::new(&[1; 64], TotalRule::None),
        Err(RangeProofError::InvalidRules(_))
    ));
    assert!(matches!(
        PointsRules::new(&[1, 1], TotalRule::Exactly(3)),
        Err(RangeProofError::InvalidRules(_))
    ));
}

/// Builds a ballot skipping the rule checks, with honest link proofs and a
/// range proof made by the unchecked prover: what a cheating client would send.
fn forge(pk: &PublicKey, rules: &PointsRules, values: &[u64], seed: u8) -> PointsBallot {
    let mut rng = ChaCha20Rng::from_seed([seed; 32]);
    let k = values.len();
    let mut cts = Vec::new();
    let mut nonces = Vec::new();
    let mut vs = Vec::new();
    let mut ts = Vec::new();
    for &m in values {
        let (ct, r) = pk.encrypt(m, &mut rng);
        let t = Blinding::random(&mut rng);
        vs.push(PedersenCommitment::commit(m, &t));
        cts.push(ct);
        nonces.push(r);
        ts.push(t);
    }
    let link_proofs = (0..k)
        .map(|i| {
            LinkProof::prove(
                &option_ctx(&ctx(), i),
                pk,
                &cts[i],
                &vs[i],
                values[i],
                &nonces[i],
                &ts[i],
                &mut rng,
            )
            .unwrap()
        })
        .collect();
    let claims = rules.claims(&vs);
    let mut witnesses: Vec<RangeWitness> = (0..k)
        .map(|i| RangeWitness::new(values[i], ts[i].clone()))
        .collect();
    if let TotalRule::AtMost(_) = rules.total() {
        let total = values.iter().fold(0u64, |a, &v| a.wrapping_add(v));
        let t_sum = ts
            .iter()
            .fold(Blinding::from_scalar(Scalar::ZERO), |a, t| &a + t);
        witnesses.push(RangeWitness::new(total, t_sum));
    }
    let mut t = range_transcript(&ctx(), pk, rules, &cts, &vs);
    let range_proof =
        AggregatedRangeProof::prove_unchecked(&mut t, &claims, &witnesses, &mut rng).unwrap();
    PointsBallot {
        ciphertexts: cts,
        commitments: vs,
        link_proofs,
        range_proof,
        total_proof: None,
    }
}

#[test]
fn forged_out_of_range_ballots_do_not_verify() {
    let pk = key(3);
    let cases: Vec<(Vec<u64>, Vec<u64>, TotalRule)> = vec![
        (vec![101, 0, 0], vec![100; 3], TotalRule::None),
        (vec![256, 0], vec![255; 2], TotalRule::None),
        (vec![0, 1 << 32], vec![u32::MAX as u64; 2], TotalRule::None),
        (vec![60, 41], vec![100; 2], TotalRule::AtMost(100)),
        (vec![100, 100, 100], vec![100; 3], TotalRule::AtMost(299)),
    ];
    for (i, (values, maxes, total)) in cases.iter().enumerate() {
        let rules = PointsRules::new(maxes, *total).unwrap();
        let b = forge(&pk, &rules, values, i as u8);
        assert!(b.verify(&pk, &rules, &ctx()).is_err(), "case {i}");
        assert!(!batch_accepts(&pk, &rules, &ctx(), &[&b]), "case {i}");
        // The same forger with in-range values passes: the test is not vacuous.
        let ok: Vec<u64> = maxes.iter().map(|_| 0).collect();
        let b = forge(&pk, &rules, &ok, i as u8);
        b.verify(&pk, &rules, &ctx()).unwrap();
    }
}

#[test]
fn crafted_commitments_and_swaps_do_not_verify() {
    let (pk, rules, b) = make(&[20, 30, 50], &[100; 3], TotalRule::AtMost(100), 4);
    // A ballot made under looser rules is not valid under the real ones.
    let loose = PointsRules::new(&[200; 3], TotalRule::AtMost(300)).unwrap();
    let mut rng = ChaCha20Rng::from_seed([4; 32]);
    let (big, _) = PointsBallot::encrypt(&pk, &loose, &[150, 0, 0], &ctx(), &mut rng).unwrap();
    assert!(big.verify(&pk, &rules, &ctx()).is_err());
    // A commitment to 101 in place of the commitment to 20, with the rest intact.
    let mut c = b.clone();
    c.commitments[0] = PedersenCommitment::commit(101, &Blinding::random(&mut rng));
    assert!(c.verify(&pk, &rules, &ctx()).is_err());
    // A commitment shifted by G: the link proof fails, and so does the range proof.
    let mut c = b.clone();
    c.commitments[0] = PedersenCommitment::from_point(b.commitments[0].point() + generators::G());
    assert!(c.verify(&pk, &rules, &ctx()).is_err());
    assert!(c.verify_range(&pk, &rules, &ctx(), &mut OsRng).is_err());
    // Two options swapped with their commitments and proofs.
    let mut c = b.clone();
    c.ciphertexts.swap(0, 1);
    c.commitments.swap(0, 1);
    c.link_proofs.swap(0, 1);
    assert!(c.verify(&pk, &rules, &ctx()).is_err());
    // A ciphertext replaced by an honest encryption of another value.
    let mut c = b.clone();
    c.ciphertexts[2] = pk.encrypt(51, &mut rng).0;
    assert!(c.verify(&pk, &rules, &ctx()).is_err());
    // Range proof of another ballot.
    let (_, _, other) = make(&[20, 30, 50], &[100; 3], TotalRule::AtMost(100), 5);
    let mut c = b.clone();
    c.range_proof = other.range_proof.clone();
    assert!(c.verify(&pk, &rules, &ctx()).is_err());
    // Exact totals: the proof for 100 does not prove 99, and is required.
    let (pk, rules, b) = make(&[20, 30, 50], &[100; 3], TotalRule::Exactly(100), 6);
    let r99 = PointsRules::new(&[100; 3], TotalRule::Exactly(99)).unwrap();
    assert!(b.verify(&pk, &r99, &ctx()).is_err());
    assert!(!batch_accepts(&pk, &r99, &ctx(), &[&b]));
    let mut c = b.clone();
    c.total_proof = None;
    assert!(matches!(
        c.verify(&pk, &rules, &ctx()),
        Err(ProofError::InvalidStatement(_))
    ));
    let none = PointsRules::new(&[100; 3], TotalRule::None).unwrap();
    assert!(matches!(
        b.verify(&pk, &none, &ctx()),
        Err(ProofError::InvalidStatement(_))
    ));
    let four = PointsRules::new(&[100; 4], TotalRule::Exactly(100)).unwrap();
    assert!(matches!(
        b.verify(&pk, &four, &ctx()),
        Err(ProofError::InvalidStatement(_))
    ));
}

#[test]
fn context_key_and_rule_changes_fail() {
    let (pk, rules, b) = make(&[1, 2, 3], &[10; 3], TotalRule::Exactly(6), 7);
    let contexts = [
        ProofContext::new([0x43; 32])
            .with(b"credential", &[7u8; 32])
            .with(b"contest", b"points-1"),
        ProofContext::new([0x42; 32])
            .with(b"credential", &[8u8; 32])
            .with(b"contest", b"points-1"),
        ProofContext::new([0x42; 32])
            .with(b"credential", &[7u8; 32])
            .with(b"contest", b"points-2"),
        ProofContext::new([0x42; 32]).with(b"credential", &[7u8; 32]),
    ];
    for c in &contexts {
        assert!(b.verify(&pk, &rules, c).is_err());
        assert!(!batch_accepts(&pk, &rules, c, &[&b]));
    }
    assert!(b.verify(&key(8), &rules, &ctx()).is_err());
    let other_max = PointsRules::new(&[10, 10, 11], TotalRule::Exactly(6)).unwrap();
    assert!(b.verify(&pk, &other_max, &ctx()).is_err());
    // The range proof alone binds the maxima and the total rule.
    let (pk, rules, b) = make(&[1, 2, 3], &[10; 3], TotalRule::AtMost(6), 7);
    for r in [
        PointsRules::new(&[10, 10, 11], TotalRule::AtMost(6)).unwrap(),
        PointsRules::new(&[10; 3], TotalRule::AtMost(7)).unwrap(),
    ] {
        assert!(b.verify(&pk, &r, &ctx()).is_err());
    }
    b.verify(&pk, &rules, &ctx()).unwrap();
}

#[test]
fn decoding_rejects_each_malformed_class() {
    let (_, _, b) = make(&[1, 2], &[10; 2], TotalRule::Exactly(3), 9);
    let good = b.to_bytes();
    let k_off = 0;
    let ct_off = 4;
    let v_off = ct_off + 2 * 64;
    let link_off = v_off + 2 * 32;
    let len_off = link_off + 2 * 192;
    let range_off = len_off + 4;
    let range_len = b.range_proof.as_bytes().len();
    let tag_off = range_off + range_len;

    let decode = |bytes: &[u8]| PointsBallot::from_bytes(bytes).unwrap_err();
    let with = |off: usize, patch: &[u8]| {
        let mut v = good.clone();
        v[off..off + patch.len()].copy_from_slice(patch);
        v
    };
    // Option count.
    assert!(matches!(
        decode(&with(k_off, &0u32.to_be_bytes())),
        DecodeError::OutOfRange { .. }
    ));
    assert!(matches!(
        decode(&with(k_off, &64u32.to_be_bytes())),
        DecodeError::OutOfRange { .. }
    ));
    assert!(matches!(
        decode(&with(k_off, &3u32.to_be_bytes())),
        DecodeError::WrongLength { .. }
            | DecodeError::InvalidPoint { .. }
            | DecodeError::IdentityPoint { .. }
            | DecodeError::NonCanonicalScalar { .. }
            | DecodeError::OutOfRange { .. }
    ));
    // Ciphertexts: invalid point, identity α.
    assert!(matches!(
        decode(&with(ct_off, &[0xff; 32])),
        DecodeError::InvalidPoint { .. }
    ));
    assert!(matches!(
        decode(&with(ct_off, &[0; 32])),
        DecodeError::IdentityPoint { .. }
    ));
    // Commitments: invalid point, identity.
    assert!(matches!(
        decode(&with(v_off + 32, &[0xff; 32])),
        DecodeError::InvalidPoint { .. }
    ));
    assert!(matches!(
        decode(&with(v_off, &[0; 32])),
        DecodeError::IdentityPoint { .. }
    ));
    // Link proof: invalid point, non-canonical scalar.
    assert!(matches!(
        decode(&with(link_off, &[0xff; 32])),
        DecodeError::InvalidPoint { .. }
    ));
    assert!(matches!(
        decode(&with(link_off + 96, &[0xff; 32])),
        DecodeError::NonCanonicalScalar { .. }
    ));
    // Range proof: length field too large, not of the form 32·(9+2·lg), a bad point.
    assert!(matches!(
        decode(&with(len_off, &2000u32.to_be_bytes())),
        DecodeError::OutOfRange { .. }
    ));
    assert!(matches!(
        decode(&with(len_off, &(range_len as u32 + 1).to_be_bytes())),
        DecodeError::WrongLength { .. }
    ));
    assert!(matches!(
        decode(&with(range_off, &[0; 32])),
        DecodeError::IdentityPoint { .. }
    ));
    assert!(matches!(
        decode(&with(range_off + 4 * 32, &[0xff; 32])),
        DecodeError::NonCanonicalScalar { .. }
    ));
    // Total tag and proof.
    assert!(matches!(
        decode(&with(tag_off, &[2])),
        DecodeError::OutOfRange { .. }
    ));
    assert!(matches!(
        decode(&with(tag_off, &[0])),
        DecodeError::WrongLength { .. }
    ));
    assert!(matches!(
        decode(&with(tag_off + 1, &[0xff; 32])),
        DecodeError::InvalidPoint { .. }
    ));
    assert!(matches!(
        decode(&with(tag_off + 65, &[0xff; 32])),
        DecodeError::NonCanonicalScalar { .. }
    ));
    // Truncation and trailing bytes.
    for cut in [0, 3, 4, 100, len_off + 2, tag_off, good.len() - 1] {
        assert!(
            matches!(decode(&good[..cut]), DecodeError::WrongLength { .. }),
            "cut {cut}"
        );
    }
    let mut long = good.clone();
    long.push(0);
    assert!(matches!(decode(&long), DecodeError::WrongLength { .. }));
    assert!(matches!(
        decode(&vec![0u8; PointsBallot::MAX_LEN + 1]),
        DecodeError::OutOfRange { .. }
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any single bit flip in the encoding is rejected (by decoding or by
    /// verification), and batched verification agrees with one-by-one
    /// verification on every input, honest or tampered.
    #[test]
    fn bit_flips_fail_and_batched_agrees_with_single(
        seed in any::<u8>(),
        rule in 0u8..3,
        flip in proptest::option::of(any::<proptest::sample::Index>()),
    ) {
        let (values, total) = match rule {
            0 => (vec![10, 20, 30], TotalRule::None),
            1 => (vec![10, 20, 30], TotalRule::AtMost(100)),
            _ => (vec![10, 20, 70], TotalRule::Exactly(100)),
        };
        let (pk, rules, b) = make(&values, &[100; 3], total, seed);
        let mut bytes = b.to_bytes();
        if let Some(ix) = &flip {
            let bit = ix.index(bytes.len() * 8);
            bytes[bit / 8] ^= 1 << (bit % 8);
        }
        match PointsBallot::from_bytes(&bytes) {
            Ok(d) => {
                let single = d.verify(&pk, &rules, &ctx()).is_ok();
                prop_assert_eq!(single, flip.is_none());
                prop_assert_eq!(single, batch_accepts(&pk, &rules, &ctx(), &[&d]));
                // In a batch with an honest ballot the verdict is the same.
                prop_assert_eq!(single, batch_accepts(&pk, &rules, &ctx(), &[&b, &d]));
            }
            Err(_) => prop_assert!(flip.is_some()),
        }
    }
}
