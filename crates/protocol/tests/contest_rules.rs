//! From manifest contest rules to the crypto rule and the encoded contest
//! (`spec/crypto.md` §8.1 table, §8.5): for every choice rule of the
//! manifest, the header bytes, the number of sent ciphertexts and the length
//! of a ballot's `encrypted` contest, and that the ballot passes R6.3.
#![allow(clippy::unwrap_used)]

use ed25519_dalek::SigningKey;
use rand_core::OsRng;
use tallyboard_crypto::contest::SumRule;
use tallyboard_crypto::elgamal::SecretKey;
use tallyboard_protocol::ballot::{build_ballot, check_ballot, ContestSpec, CredentialRef};
use tallyboard_protocol::testkit::{manifest_entry, sample_credential, sample_manifest};
use tallyboard_protocol::v1::{self, contest_rule::Kind};
use tallyboard_protocol::{BoardIdentity, RecordState};

const N: usize = 4;

/// (manifest rule, expected crypto sum rule, form byte, the BE32 after it
/// (L or w; none for form 0), sample selections).
type Case = (Kind, SumRule, u8, Option<u32>, Vec<u64>);

fn cases() -> Vec<Case> {
    let k = |min, max| Kind::KOfN(v1::KOfN { min, max });
    vec![
        (
            Kind::OneOfN(v1::OneOfN {}),
            SumRule::Exact(1),
            1,
            Some(1),
            vec![0, 0, 1, 0],
        ),
        (k(2, 2), SumRule::Exact(2), 1, Some(2), vec![1, 0, 1, 0]),
        (k(4, 4), SumRule::Exact(4), 1, Some(4), vec![1, 1, 1, 1]),
        (
            k(1, 3),
            SumRule::Range { min: 1, max: 3 },
            2,
            Some(2),
            vec![0, 1, 1, 0],
        ),
        (
            k(0, 4),
            SumRule::Range { min: 0, max: 4 },
            2,
            Some(4),
            vec![0, 0, 0, 0],
        ),
        (
            Kind::Approval(v1::Approval {}),
            SumRule::Unconstrained,
            0,
            None,
            vec![1, 0, 1, 1],
        ),
    ]
}

#[test]
fn each_manifest_rule_maps_to_one_crypto_rule_and_encoding() {
    let board = BoardIdentity {
        origin: "tallyboard/test".into(),
        key: SigningKey::from_bytes(&[9; 32]).verifying_key(),
    };
    let admin = SigningKey::from_bytes(&[1; 32]);
    let mut m = sample_manifest(&admin, &board, 3);
    let template = m.contests[0].clone();
    m.contests = cases()
        .into_iter()
        .enumerate()
        .map(|(i, (kind, ..))| {
            let mut c = template.clone();
            c.id = format!("c{i}");
            c.options = (0..N)
                .map(|o| v1::ContestOption {
                    id: format!("o{o}"),
                    title: String::new(),
                })
                .collect();
            c.rule = Some(v1::ContestRule { kind: Some(kind) });
            c
        })
        .collect();
    let (bytes, fp) = manifest_entry(&admin, m);
    let mut st = RecordState::new(board);
    st.check_and_apply(&bytes).unwrap();
    let m = st.manifest().unwrap().clone();
    let pk = SecretKey::generate(&mut OsRng).public_key().unwrap();
    let (ck, sig, rnd) = sample_credential(&fp, 1);
    let cref = CredentialRef {
        key: &ck,
        district: "d1",
        signature: &sig,
        randomizer: &rnd,
    };
    let selections: Vec<Vec<u64>> = cases().into_iter().map(|c| c.4).collect();
    let (ballot, _) = build_ballot(&m, &pk, &cref, &selections, 0, &mut OsRng).unwrap();
    check_ballot(&m, &pk, &ck.verifying_key(), &ballot).unwrap();
    for (i, (_, sum, form, param, _)) in cases().into_iter().enumerate() {
        let ContestSpec::Choice(rule) = &m.specs[i] else {
            panic!("contest {i} is not a choice contest")
        };
        assert_eq!(
            (rule.options(), rule.option_max(), rule.sum()),
            (N as u32, 1, sum),
            "contest {i}"
        );
        let enc = &ballot.contests[i].encrypted;
        assert_eq!(enc[..4], (N as u32).to_be_bytes(), "n");
        assert_eq!(enc[4..8], 1u32.to_be_bytes(), "R");
        assert_eq!(enc[8], form, "form of contest {i}");
        let h = match param {
            Some(p) => {
                assert_eq!(enc[9..13], p.to_be_bytes(), "L or w of contest {i}");
                13
            }
            None => 9,
        };
        // Sent ciphertexts: n − 1 under an exact sum, n otherwise; n option
        // proofs for R = 1 (224 bytes each); a sum-range proof for [0, w].
        let sent = if form == 1 { N - 1 } else { N };
        let sum_proof = if form == 2 {
            (4 * param.unwrap() as usize + 3) * 32
        } else {
            0
        };
        assert_eq!(
            enc.len(),
            h + 64 * sent + 224 * N + sum_proof,
            "length of contest {i}"
        );
    }
}
