//! Threshold-decryption tests: any t of n agree, tampered partials are
//! identified by trustee, batch verification agrees with one-by-one, and the
//! proofs bind statement and context.

mod common;

use std::sync::OnceLock;

use common::*;
use curve25519_dalek::scalar::Scalar;
use proptest::prelude::*;
use rand_core::OsRng;
use tallyboard_crypto::batch::BatchVerifier;
use tallyboard_crypto::elgamal::{Ciphertext, Nonce};
use tallyboard_crypto::generators::G;
use tallyboard_crypto::DecodeError;
use tallyboard_threshold::*;

/// A 3-of-5 ceremony run once for the whole file.
fn fixture() -> (Vec<SecretShare>, ThresholdPublicKey) {
    static F: OnceLock<(Vec<Vec<u8>>, Vec<u8>)> = OnceLock::new();
    let (shares, pk) = F.get_or_init(|| {
        let (shares, outcome, _) = honest_ceremony(3, 5, 40);
        (
            shares.iter().map(|s| s.to_bytes().to_vec()).collect(),
            outcome.public_key.to_bytes(),
        )
    });
    (
        shares
            .iter()
            .map(|b| SecretShare::from_bytes(b).unwrap())
            .collect(),
        ThresholdPublicKey::from_bytes(pk).unwrap(),
    )
}

/// A 5-option tally: each entry the sum of a few encrypted ballots.
fn tally(pk: &ThresholdPublicKey, counts: &[u64], seed: u8) -> Vec<Ciphertext> {
    let mut rng = rng(seed);
    counts
        .iter()
        .map(|&c| {
            let (a, _) = pk.joint_key().encrypt(c / 2, &mut rng);
            let (b, _) = pk.joint_key().encrypt(c - c / 2, &mut rng);
            a + b
        })
        .collect()
}

fn partials(shares: &[SecretShare], cts: &[Ciphertext], seed: u8) -> Vec<PartialDecryption> {
    let mut rng = rng(seed);
    shares
        .iter()
        .map(|s| PartialDecryption::create(s, cts, &mut rng).unwrap())
        .collect()
}

#[test]
fn all_partials_verify_alone_and_in_batch() {
    let (shares, pk) = fixture();
    let cts = tally(&pk, &[5, 0, 12, 3, 1], 41);
    let ps = partials(&shares, &cts, 42);
    let mut batch = BatchVerifier::new(OsRng);
    for p in &ps {
        p.verify(&pk, &cts).unwrap();
        p.batch_verify(&pk, &cts, &mut batch).unwrap();
        assert_eq!(PartialDecryption::from_bytes(&p.to_bytes()).unwrap(), *p);
        assert_eq!(
            p.to_bytes().len(),
            PartialDecryption::encoded_len(5).unwrap()
        );
    }
    assert!(batch.vartime_verify());
    assert!(verify_partials(&pk, &cts, &ps).iter().all(Result::is_ok));
    let d = combine(&pk, &cts, &ps, 100).unwrap();
    assert_eq!(d.plaintexts, [5, 0, 12, 3, 1]);
    assert_eq!(d.used, [1, 2, 3]);
}

#[test]
fn fewer_than_t_valid_is_an_error() {
    let (shares, pk) = fixture();
    let cts = tally(&pk, &[1, 2], 43);
    let ps = partials(&shares[..2], &cts, 44);
    assert_eq!(
        combine(&pk, &cts, &ps, 10),
        Err(ThresholdError::NotEnoughPartials {
            valid: 2,
            threshold: 3
        })
    );
    // Three partials, one invalid: still too few.
    let mut ps = partials(&shares[..3], &cts, 45);
    ps[1] = PartialDecryption::from_bytes(&flip(&ps[1].to_bytes(), 6 + 96 + 1)).unwrap();
    assert_eq!(
        combine(&pk, &cts, &ps, 10),
        Err(ThresholdError::NotEnoughPartials {
            valid: 2,
            threshold: 3
        })
    );
}

fn flip(b: &[u8], byte: usize) -> Vec<u8> {
    let mut v = b.to_vec();
    v[byte] ^= 1;
    v
}

#[test]
fn invalid_partials_are_named_and_set_aside() {
    let (shares, pk) = fixture();
    let cts = tally(&pk, &[4, 4, 0, 9, 2], 46);
    let mut ps = partials(&shares, &cts, 47);
    // Trustee 2: a wrong decryption share at position 3, with its old proof.
    let mut b = ps[1].to_bytes();
    let wrong = (Scalar::from(7u8) * cts[3].alpha).compress();
    b[6 + 3 * 128..6 + 3 * 128 + 32].copy_from_slice(wrong.as_bytes());
    ps[1] = PartialDecryption::from_bytes(&b).unwrap();
    // Trustee 4: its partial for other ciphertexts.
    let other = tally(&pk, &[1, 1, 1, 1, 1], 48);
    ps[3] = PartialDecryption::create(&shares[3], &other, &mut rng(49)).unwrap();
    // Trustee 5 twice.
    ps.push(ps[4].clone());
    let d = combine(&pk, &cts, &ps, 100).unwrap();
    assert_eq!(d.plaintexts, [4, 4, 0, 9, 2]);
    assert_eq!(d.used, [1, 3, 5]);
    assert_eq!(
        d.rejected,
        vec![
            (
                2,
                ThresholdError::InvalidPartialDecryption {
                    trustee: 2,
                    position: 3
                }
            ),
            (
                4,
                ThresholdError::InvalidPartialDecryption {
                    trustee: 4,
                    position: 0
                }
            ),
            (5, ThresholdError::DuplicatePartial { trustee: 5 }),
        ]
    );
    // Wrong length and unknown trustee.
    let short = PartialDecryption::create(&shares[0], &cts[..4], &mut rng(50)).unwrap();
    assert_eq!(
        short.verify(&pk, &cts),
        Err(ThresholdError::PartialLengthMismatch {
            trustee: 1,
            expected: 5,
            got: 4
        })
    );
    let mut b = ps[0].to_bytes();
    b[1] = 6;
    let stranger = PartialDecryption::from_bytes(&b).unwrap();
    assert_eq!(
        stranger.verify(&pk, &cts),
        Err(ThresholdError::UnknownTrustee {
            trustee: 6,
            trustees: 5
        })
    );
}

#[test]
fn proofs_bind_election_position_and_statement() {
    let (shares, pk) = fixture();
    let cts = tally(&pk, &[2, 3], 51);
    let p = PartialDecryption::create(&shares[0], &cts, &mut rng(52)).unwrap();
    p.verify(&pk, &cts).unwrap();
    // Swapped positions (the statement's α and D move together).
    let swapped_cts = vec![cts[1], cts[0]];
    let b = p.to_bytes();
    let mut sw = b[..6].to_vec();
    sw.extend_from_slice(&b[6 + 128..]);
    sw.extend_from_slice(&b[6..6 + 128]);
    let sw = PartialDecryption::from_bytes(&sw).unwrap();
    assert!(sw.verify(&pk, &swapped_cts).is_err());
    // Another trustee's verification key.
    let mut b2 = b.clone();
    b2[1] = 2;
    assert!(PartialDecryption::from_bytes(&b2)
        .unwrap()
        .verify(&pk, &cts)
        .is_err());
    // Another election (same points otherwise).
    let other = ThresholdPublicKey::from_parts(
        [0u8; 32],
        pk.threshold(),
        *pk.joint_key().point(),
        pk.verification_keys().to_vec(),
    )
    .unwrap();
    assert!(p.verify(&other, &cts).is_err());
    // Another β does not change the statement, but another α does.
    let mut alt = cts.clone();
    alt[1].beta += G();
    p.verify(&pk, &alt).unwrap();
    alt[1].alpha += G();
    assert_eq!(
        p.verify(&pk, &alt),
        Err(ThresholdError::InvalidPartialDecryption {
            trustee: 1,
            position: 1
        })
    );
}

#[test]
fn zero_aggregate_entries_must_be_exact() {
    let (shares, pk) = fixture();
    let cts = vec![
        Ciphertext::zero(),
        pk.joint_key()
            .encrypt_with(1, &Nonce::from_scalar(Scalar::ONE)),
    ];
    let p = PartialDecryption::create(&shares[0], &cts, &mut rng(53)).unwrap();
    p.verify(&pk, &cts).unwrap();
    // A non-identity D, or a non-zero placeholder proof, at the zero entry.
    for byte in [6usize, 6 + 32, 6 + 127] {
        let mut b = p.to_bytes();
        if byte == 6 {
            b[6..38].copy_from_slice(G().compress().as_bytes());
        } else if byte == 6 + 32 {
            b[38..70].copy_from_slice(G().compress().as_bytes());
        } else {
            b[byte - 31] = 1; // z = 1
        }
        let bad = PartialDecryption::from_bytes(&b).unwrap();
        assert_eq!(
            bad.verify(&pk, &cts),
            Err(ThresholdError::InvalidPartialDecryption {
                trustee: 1,
                position: 0
            })
        );
        assert!(verify_partials(&pk, &cts, &[bad])[0].is_err());
    }
}

#[test]
fn out_of_range_plaintext_is_reported() {
    let (shares, pk) = fixture();
    let cts = tally(&pk, &[20], 54);
    let ps = partials(&shares, &cts, 55);
    assert_eq!(
        combine(&pk, &cts, &ps, 19),
        Err(ThresholdError::PlaintextOutOfRange {
            position: 0,
            max: 19
        })
    );
}

#[test]
fn partial_decoding_rejects_malformed() {
    let (shares, pk) = fixture();
    let cts = tally(&pk, &[1, 2], 56);
    let b = PartialDecryption::create(&shares[0], &cts, &mut rng(57))
        .unwrap()
        .to_bytes();
    let dec = |v: &[u8]| PartialDecryption::from_bytes(v).unwrap_err();
    assert!(matches!(
        dec(&b[..b.len() - 1]),
        ThresholdError::Decode(DecodeError::WrongLength { .. })
    ));
    assert!(matches!(
        dec(&[b.as_slice(), &[0]].concat()),
        ThresholdError::Decode(DecodeError::WrongLength { .. })
    ));
    assert!(matches!(
        dec(&b[..3]),
        ThresholdError::Decode(DecodeError::WrongLength { .. })
    ));
    let mut count = b.clone();
    count[2..6].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(
        dec(&count),
        ThresholdError::Decode(DecodeError::WrongLength { .. })
    ));
    let mut pt = b.clone();
    pt[6..38].copy_from_slice(&[0xff; 32]);
    assert!(matches!(
        dec(&pt),
        ThresholdError::Decode(DecodeError::InvalidPoint { .. })
    ));
    let mut sc = b.clone();
    sc[6 + 96..6 + 128].copy_from_slice(&[0xff; 32]);
    assert!(matches!(
        dec(&sc),
        ThresholdError::Decode(DecodeError::NonCanonicalScalar { .. })
    ));
    let mut z = b.clone();
    z[1] = 0;
    assert!(matches!(
        dec(&z),
        ThresholdError::Decode(DecodeError::OutOfRange { .. })
    ));
    let mut tag = b.clone();
    tag[0] = 0x04;
    assert!(matches!(
        dec(&tag),
        ThresholdError::Decode(DecodeError::OutOfRange { .. })
    ));
    // The empty list is a valid (if useless) encoding.
    let empty = PartialDecryption::create(&shares[0], &[], &mut rng(58)).unwrap();
    assert_eq!(empty.to_bytes().len(), 6);
    assert!(empty.is_empty());
}

#[test]
fn lagrange_coefficients() {
    assert!(lagrange_at_zero(&[1, 1]).is_err());
    assert!(lagrange_at_zero(&[0, 1]).is_err());
    assert_eq!(lagrange_at_zero(&[7]).unwrap(), vec![Scalar::ONE]);
    // λ over {1,2}: 2/(2−1) = 2 and 1/(1−2) = −1.
    assert_eq!(
        lagrange_at_zero(&[1, 2]).unwrap(),
        vec![Scalar::from(2u8), -Scalar::ONE]
    );
}

fn subsets_of_3_of_5() -> Vec<Vec<usize>> {
    let mut v = Vec::new();
    for a in 0..5 {
        for b in a + 1..5 {
            for c in b + 1..5 {
                v.push(vec![a, b, c]);
            }
        }
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any t-subset of the n trustees decrypts to the same plaintexts.
    #[test]
    fn any_t_subset_agrees(counts in prop::collection::vec(0u64..200, 1..6), sub in 0usize..10, seed in any::<u8>()) {
        let (shares, pk) = fixture();
        let cts = tally(&pk, &counts, seed);
        let ps = partials(&shares, &cts, seed.wrapping_add(1));
        let subset: Vec<PartialDecryption> = subsets_of_3_of_5()[sub].iter().map(|&k| ps[k].clone()).collect();
        let d = combine(&pk, &cts, &subset, 1000).unwrap();
        prop_assert_eq!(&d.plaintexts, &counts);
        prop_assert_eq!(combine(&pk, &cts, &ps, 1000).unwrap().plaintexts, counts);
    }

    /// Flipping any bit of a partial decryption is refused on decoding or
    /// identified (naming the trustee), and the others still combine; batch
    /// verification agrees with one-by-one verification.
    #[test]
    fn tampered_partial_is_identified(who in 0usize..5, bit in 0usize..((6 + 128 * 2) * 8)) {
        let (shares, pk) = fixture();
        let cts = tally(&pk, &[3, 8], 60);
        let mut ps = partials(&shares, &cts, 61);
        let b = ps[who].to_bytes();
        let mut t = b.clone();
        t[bit / 8] ^= 1 << (bit % 8);
        let Ok(tampered) = PartialDecryption::from_bytes(&t) else { return Ok(()) };
        ps[who] = tampered.clone();
        let one_by_one: Vec<bool> = ps.iter().map(|p| p.verify(&pk, &cts).is_ok()).collect();
        let batched: Vec<bool> = verify_partials(&pk, &cts, &ps).iter().map(Result::is_ok).collect();
        // The index byte may now name another trustee (then a duplicate).
        prop_assert!(!one_by_one[who] || tampered.trustee() != (who as u8 + 1));
        let mut batch = BatchVerifier::new(OsRng);
        let pushed = tampered.batch_verify(&pk, &cts, &mut batch).is_ok();
        prop_assert_eq!(pushed && batch.vartime_verify(), one_by_one[who]);
        let d = combine(&pk, &cts, &ps, 100).unwrap();
        prop_assert_eq!(&d.plaintexts, &vec![3u64, 8]);
        prop_assert!(!batched[who]);
        prop_assert!(d.rejected.iter().any(|(i, _)| *i == tampered.trustee()));
    }
}
