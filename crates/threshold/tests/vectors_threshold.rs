//! Known-answer vectors for the threshold layer (`spec/threshold.md` §8):
//! two deterministic 2-of-3 ceremonies (one honest, one with a dealer caught
//! by a verifiable complaint), each with every message as hex, the long-term
//! secrets, every decrypted share, QUAL, the joint key, the verification keys,
//! the secret shares, and a threshold decryption.
//!
//! The test rebuilds the vectors and compares them with
//! `spec/vectors/threshold.json`; with `TALLYBOARD_REGENERATE_VECTORS=1` it
//! rewrites the file. Either way it then *verifies* the committed file from
//! its bytes alone: messages decode, the ceremony evaluates to the recorded
//! QUAL and keys, every share decrypts under an independent implementation of
//! the KDF and AEAD of §5.3, partial decryptions verify and combine.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::ChaCha20Poly1305;
use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use hkdf::Hkdf;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde_json::{json, Value};
use sha2::Sha256;
use tallyboard_crypto::elgamal::{Ciphertext, Nonce};
use tallyboard_crypto::encoding::{decode_nonidentity_point, decode_scalar};
use tallyboard_crypto::generators::G;
use tallyboard_threshold::*;

const ELECTION: [u8; 32] = *b"tallyboard threshold vectors v1\0";
const SEED_HONEST: [u8; 32] = [0x11; 32];
const SEED_CHEAT: [u8; 32] = [0x22; 32];

fn path() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../spec/vectors/threshold.json"
    )
    .to_string()
}

fn reason_json(e: &ThresholdError) -> Value {
    match e {
        ThresholdError::ValidComplaint { dealer, complainer } => {
            json!({"reason": "valid-complaint", "dealer": dealer, "complainer": complainer})
        }
        other => json!({"reason": format!("{other}")}),
    }
}

/// One deterministic 2-of-3 ceremony and decryption. With `cheat`, dealer 3
/// sends trustee 1 the share `f_3(1) + 1` (correctly encrypted).
fn ceremony(name: &str, seed: [u8; 32], cheat: bool) -> Value {
    let mut rng = ChaCha20Rng::from_seed(seed);
    let params = DkgParams::new(ELECTION, 2, 3).unwrap();
    let mut record = DkgRecord::new(params);
    let mut trustees = Vec::new();
    let mut secret_keys = Vec::new();
    for i in 1..=3u8 {
        let kp = TrusteeKeyPair::generate(&mut rng);
        secret_keys.push(hex::encode(kp.to_bytes().as_slice()));
        let mut tr = Trustee::new(params, i, kp, &mut rng).unwrap();
        record
            .push(DkgMessage::KeyAnnouncement(tr.announce(&mut rng).unwrap()))
            .unwrap();
        record
            .push(DkgMessage::Commitment(tr.commit().unwrap()))
            .unwrap();
        trustees.push(tr);
    }
    let round0 = record.clone();
    for tr in trustees.iter_mut() {
        let mut r = tr.reveal(&round0, &mut rng).unwrap();
        if cheat && tr.index() == 3 {
            // Recover f_3(1) with trustee 1's key, then re-encrypt f_3(1) + 1.
            let pk1 = *round0.announcements()[0].key();
            let to = ShareAddress {
                election: &ELECTION,
                dealer: 3,
                recipient: 1,
                recipient_key: &pk1,
            };
            let good = r
                .share_for(1)
                .unwrap()
                .decrypt(trustees_key(&secret_keys, 1).as_ref().unwrap(), &to)
                .unwrap();
            let mut shares = r.shares().to_vec();
            shares[0] = EncryptedShare::encrypt(&(good + Scalar::ONE), &to, &mut rng);
            r = Reveal::from_parts(
                3,
                r.coefficient_commitments().to_vec(),
                r.proofs().to_vec(),
                shares,
            )
            .unwrap();
        }
        record.push(DkgMessage::Reveal(r)).unwrap();
    }
    let round1 = record.clone();
    for tr in trustees.iter_mut() {
        for c in tr.complain(&round1, &mut rng).unwrap() {
            record.push(DkgMessage::Complaint(c)).unwrap();
        }
    }
    let mut shares = Vec::new();
    let mut outcome = None;
    for tr in trustees.iter_mut() {
        let (s, o) = tr.finish(&record).unwrap();
        shares.push(s);
        outcome = Some(o);
    }
    let outcome = outcome.unwrap();
    let pk = &outcome.public_key;

    // Threshold decryption of a 3-entry tally with fixed nonces.
    let plaintexts = [3u64, 0, 11];
    let nonces: Vec<Scalar> = (1..=3u64).map(|k| Scalar::from(1000 + k)).collect();
    let cts: Vec<Ciphertext> = plaintexts
        .iter()
        .zip(&nonces)
        .map(|(&m, r)| pk.joint_key().encrypt_with(m, &Nonce::from_scalar(*r)))
        .collect();
    let partials: Vec<PartialDecryption> = shares
        .iter()
        .map(|s| PartialDecryption::create(s, &cts, &mut rng).unwrap())
        .collect();
    let d = combine(pk, &cts, &partials, 100).unwrap();
    assert_eq!(d.plaintexts, plaintexts);

    json!({
        "name": name,
        "seed": hex::encode(seed),
        "election": hex::encode(ELECTION),
        "threshold": 2,
        "trustees": 3,
        "trustee_secret_keys": secret_keys,
        "key_announcements": record.announcements().iter().map(|m| hex::encode(m.to_bytes())).collect::<Vec<_>>(),
        "commitments": record.commitments().iter().map(|m| hex::encode(m.to_bytes())).collect::<Vec<_>>(),
        "reveals": record.reveals().iter().map(|m| hex::encode(m.to_bytes())).collect::<Vec<_>>(),
        "complaints": record.complaints().iter().map(|m| hex::encode(m.to_bytes())).collect::<Vec<_>>(),
        "decrypted_shares": decrypted_shares(&record, &secret_keys),
        "qualified": outcome.qualification.qualified,
        "disqualified": outcome.qualification.disqualified.iter().map(|d| {
            let mut v = reason_json(&d.reason);
            v["trustee"] = json!(d.trustee);
            v
        }).collect::<Vec<_>>(),
        "joint_key": hex::encode(pk.joint_key().to_bytes()),
        "verification_keys": pk.verification_keys().iter().map(|v| hex::encode(v.compress().as_bytes())).collect::<Vec<_>>(),
        "threshold_public_key": hex::encode(pk.to_bytes()),
        "secret_shares": shares.iter().map(|s| hex::encode(s.to_bytes().as_slice())).collect::<Vec<_>>(),
        "decryption": {
            "plaintexts": plaintexts,
            "nonces": nonces.iter().map(|r| hex::encode(r.as_bytes())).collect::<Vec<_>>(),
            "ciphertexts": cts.iter().map(|c| hex::encode(c.to_bytes())).collect::<Vec<_>>(),
            "partial_decryptions": partials.iter().map(|p| hex::encode(p.to_bytes())).collect::<Vec<_>>(),
            "lagrange_1_2": lagrange_at_zero(&[1, 2]).unwrap().iter().map(|l| hex::encode(l.as_bytes())).collect::<Vec<_>>(),
            "combined_from": d.used,
        },
    })
}

fn trustees_key(secret_keys: &[String], i: usize) -> Option<TrusteeKeyPair> {
    TrusteeKeyPair::from_bytes(&hex::decode(&secret_keys[i - 1]).ok()?).ok()
}

/// Every share `f_j(i)` as decrypted by its recipient, or `null` if it does
/// not decrypt or does not match the dealer's commitments.
fn decrypted_shares(record: &DkgRecord, secret_keys: &[String]) -> Value {
    let mut rows = Vec::new();
    for r in record.reveals() {
        let mut row = Vec::new();
        for i in 1..=3u8 {
            let kp = trustees_key(secret_keys, usize::from(i)).unwrap();
            let to = ShareAddress {
                election: &ELECTION,
                dealer: r.dealer(),
                recipient: i,
                recipient_key: kp.public_key(),
            };
            match r.share_for(i).unwrap().decrypt(&kp, &to) {
                Ok(s) if r.check_share(i, &s).is_ok() => row.push(json!(hex::encode(s.as_bytes()))),
                _ => row.push(Value::Null),
            }
        }
        rows.push(json!({"dealer": r.dealer(), "shares": row}));
    }
    Value::Array(rows)
}

fn build() -> Value {
    json!({
        "description": "tallyboard threshold layer known-answer vectors (spec/threshold.md §8). Deterministic 2-of-3 key ceremonies (ChaCha20 RNG from the given seed) with every public message as hex, then a threshold decryption.",
        "ceremonies": [
            ceremony("honest 2-of-3", SEED_HONEST, false),
            ceremony("2-of-3, dealer 3 sends trustee 1 a bad share and is disqualified by a verifiable complaint", SEED_CHEAT, true),
        ],
    })
}

fn h(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn hexes(v: &Value) -> Vec<Vec<u8>> {
    v.as_array().unwrap().iter().map(h).collect()
}

/// Spec §5.3, implemented again from the text: HKDF-SHA256 and
/// ChaCha20-Poly1305 over the documented inputs.
fn independent_share_decryption(
    reveal: &[u8],
    dealer: u8,
    recipient: u8,
    sk: &[u8],
    pk: &[u8],
) -> Option<[u8; 32]> {
    let t = usize::from(reveal[2]);
    let off = 4 + 96 * t + 80 * (usize::from(recipient) - 1);
    let e_bytes = &reveal[off..off + 32];
    let ct = &reveal[off + 32..off + 80];
    let x = decode_scalar(&sk[1..], "sk").unwrap();
    let e = decode_nonidentity_point(e_bytes, "E").unwrap();
    let z: RistrettoPoint = x * e;
    let mut info = b"tallyboard/v1/dkg-share-key".to_vec();
    info.extend_from_slice(e_bytes);
    info.extend_from_slice(pk);
    info.extend_from_slice(&ELECTION);
    info.extend_from_slice(&[dealer, recipient]);
    let mut key = [0u8; 32];
    Hkdf::<Sha256>::new(None, z.compress().as_bytes())
        .expand(&info, &mut key)
        .unwrap();
    let mut aad = b"tallyboard/v1/dkg-share-aad".to_vec();
    aad.extend_from_slice(&ELECTION);
    aad.extend_from_slice(&[dealer, recipient]);
    aad.extend_from_slice(e_bytes);
    aad.extend_from_slice(pk);
    let pt = ChaCha20Poly1305::new(&key.into())
        .decrypt(&[0u8; 12].into(), Payload { msg: ct, aad: &aad })
        .ok()?;
    pt.try_into().ok()
}

/// Verifies one committed ceremony from its bytes.
fn verify_ceremony(c: &Value) {
    let t = c["threshold"].as_u64().unwrap() as u8;
    let n = c["trustees"].as_u64().unwrap() as u8;
    let election: [u8; 32] = h(&c["election"]).try_into().unwrap();
    assert_eq!(election, ELECTION);
    let params = DkgParams::new(election, t, n).unwrap();
    let mut record = DkgRecord::new(params);
    for kind in ["key_announcements", "commitments", "reveals", "complaints"] {
        for b in hexes(&c[kind]) {
            let m = DkgMessage::from_bytes(&b).unwrap();
            assert_eq!(m.to_bytes(), b, "canonical re-encoding");
            record.push(m).unwrap();
        }
    }
    let outcome = evaluate(&record).unwrap();
    let qual: Vec<u8> = c["qualified"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u8)
        .collect();
    assert_eq!(outcome.qualification.qualified, qual);
    assert_eq!(
        outcome.qualification.disqualified.len(),
        c["disqualified"].as_array().unwrap().len()
    );
    let pk = &outcome.public_key;
    assert_eq!(pk.joint_key().to_bytes().to_vec(), h(&c["joint_key"]));
    assert_eq!(pk.to_bytes(), h(&c["threshold_public_key"]));
    assert_eq!(
        ThresholdPublicKey::from_bytes(&h(&c["threshold_public_key"])).unwrap(),
        *pk
    );
    // K = Σ_{j∈QUAL} C_{j,0}.
    let k: RistrettoPoint = record
        .reveals()
        .iter()
        .filter(|r| qual.contains(&r.dealer()))
        .map(|r| r.coefficient_commitments()[0])
        .sum();
    assert_eq!(k, *pk.joint_key().point());

    // Every share, decrypted independently of the library.
    let sks = hexes(&c["trustee_secret_keys"]);
    let pks: Vec<Vec<u8>> = record
        .announcements()
        .iter()
        .map(|a| a.key().compress().to_bytes().to_vec())
        .collect();
    let table = c["decrypted_shares"].as_array().unwrap();
    let reveals = hexes(&c["reveals"]);
    let mut sums = vec![Scalar::ZERO; usize::from(n)];
    for (row, rb) in table.iter().zip(&reveals) {
        let j = row["dealer"].as_u64().unwrap() as u8;
        for i in 1..=n {
            let expected = &row["shares"][usize::from(i) - 1];
            let got = independent_share_decryption(
                rb,
                j,
                i,
                &sks[usize::from(i) - 1],
                &pks[usize::from(i) - 1],
            );
            let reveal = Reveal::from_bytes(rb).unwrap();
            let valid = got
                .and_then(|b| Option::<Scalar>::from(Scalar::from_canonical_bytes(b)))
                .filter(|s| reveal.check_share(i, s).is_ok());
            match valid {
                Some(s) => {
                    assert_eq!(hex::encode(s.as_bytes()), expected.as_str().unwrap());
                    if qual.contains(&j) {
                        sums[usize::from(i) - 1] += s;
                    }
                }
                None => assert!(expected.is_null()),
            }
        }
    }
    // s_i = Σ_{j∈QUAL} f_j(i), s_i·G = VK_i.
    for (i, sb) in hexes(&c["secret_shares"]).iter().enumerate() {
        let s = SecretShare::from_bytes(sb).unwrap();
        assert_eq!(*s.expose_scalar(), sums[i]);
        s.self_check(pk).unwrap();
        assert_eq!(sums[i] * G(), pk.verification_keys()[i]);
        assert_eq!(
            hex::encode(pk.verification_keys()[i].compress().as_bytes()),
            c["verification_keys"][i].as_str().unwrap()
        );
    }

    // Decryption.
    let d = &c["decryption"];
    let cts: Vec<Ciphertext> = hexes(&d["ciphertexts"])
        .iter()
        .map(|b| Ciphertext::from_bytes(b).unwrap())
        .collect();
    for ((ct, r), m) in cts
        .iter()
        .zip(hexes(&d["nonces"]))
        .zip(d["plaintexts"].as_array().unwrap())
    {
        let r = Nonce::from_bytes(&r).unwrap();
        assert_eq!(*ct, pk.joint_key().encrypt_with(m.as_u64().unwrap(), &r));
    }
    let partials: Vec<PartialDecryption> = hexes(&d["partial_decryptions"])
        .iter()
        .map(|b| PartialDecryption::from_bytes(b).unwrap())
        .collect();
    for p in &partials {
        p.verify(pk, &cts).unwrap();
    }
    let plaintexts: Vec<u64> = d["plaintexts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    // Every t-subset recovers the plaintexts.
    for pair in [[0usize, 1], [0, 2], [1, 2]] {
        let sub: Vec<PartialDecryption> = pair.iter().map(|&k| partials[k].clone()).collect();
        assert_eq!(combine(pk, &cts, &sub, 100).unwrap().plaintexts, plaintexts);
    }
    let l = lagrange_at_zero(&[1, 2]).unwrap();
    assert_eq!(
        hexes(&d["lagrange_1_2"]),
        l.iter().map(|s| s.to_bytes().to_vec()).collect::<Vec<_>>()
    );
}

#[test]
fn threshold_vectors() {
    let built = build();
    let text = serde_json::to_string_pretty(&built).unwrap() + "\n";
    if std::env::var("TALLYBOARD_REGENERATE_VECTORS").as_deref() == Ok("1") {
        std::fs::write(path(), &text).unwrap();
    }
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(path()).expect(
            "spec/vectors/threshold.json (regenerate with TALLYBOARD_REGENERATE_VECTORS=1)",
        ))
        .unwrap();
    assert_eq!(
        committed, built,
        "vectors differ from spec/vectors/threshold.json"
    );
    for c in committed["ceremonies"].as_array().unwrap() {
        verify_ceremony(c);
    }
    // The cheating ceremony has exactly one complaint and dealer 3 is out.
    let cheat = &committed["ceremonies"][1];
    assert_eq!(cheat["complaints"].as_array().unwrap().len(), 1);
    assert_eq!(cheat["qualified"], json!([1, 2]));
    assert!(cheat["decrypted_shares"][2]["shares"][0].is_null());
}
