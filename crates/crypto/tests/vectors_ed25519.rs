//! Known-answer vectors of the Ed25519 entry-signature rule
//! (`spec/crypto.md` §10), committed as `spec/vectors/ed25519.json`: which
//! signatures are valid, and at which step of §10.1 the others fail. These
//! are the cases where Ed25519 implementations disagree (torsion, small
//! order, non-canonical encodings), so an implementation in another language
//! can check that it accepts exactly the same set.
//!
//! The test rebuilds the vectors deterministically and compares them with
//! the committed file (`TALLYBOARD_REGENERATE_VECTORS=1` rewrites it), then
//! checks the committed file from its hex alone: every case alone, and the
//! valid cases in one batch with and without each invalid one.
#![allow(non_snake_case)]

use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::Scalar;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde_json::{json, Value};
use sha2::{Digest, Sha512};
use tallyboard_crypto::ed25519::{
    vartime_decode_point, Ed25519Error, PreparedSignature, SignatureBatch,
};
use tallyboard_crypto::random_scalar;

const FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../spec/vectors/ed25519.json"
);

fn h(b: &[u8]) -> String {
    hex::encode(b)
}

fn unhex<const N: usize>(v: &Value) -> [u8; N] {
    hex::decode(v.as_str().expect("hex string"))
        .expect("hex")
        .try_into()
        .expect("length")
}

/// `R ‖ s` for secret scalar `a` (key `A`, given as bytes) with nonce point
/// `R = r·B + t`, over `msg`.
fn sign(a: &Scalar, key: &[u8; 32], r: &Scalar, t: &EdwardsPoint, msg: &[u8]) -> [u8; 64] {
    let big_r = (ED25519_BASEPOINT_POINT * r + t).compress().to_bytes();
    let k = Scalar::from_hash(
        Sha512::new()
            .chain_update(big_r)
            .chain_update(key)
            .chain_update(msg),
    );
    let s = r + k * a;
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&big_r);
    sig[32..].copy_from_slice(s.as_bytes());
    sig
}

/// `s + ℓ` in place of `s` (same equation, non-canonical scalar).
fn add_ell(sig: &[u8; 64]) -> [u8; 64] {
    const ELL: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut out = *sig;
    let mut carry = 0u16;
    for j in 0..32 {
        let v = u16::from(sig[32 + j]) + u16::from(ELL[j]) + carry;
        out[32 + j] = v as u8;
        carry = v >> 8;
    }
    out
}

/// A non-canonical encoding, `y = p + 1` (the canonical one is `y = 1`,
/// the identity).
fn non_canonical() -> [u8; 32] {
    let mut y = [0xffu8; 32];
    y[31] = 0x7f;
    y[0] = 0xee;
    y
}

fn case(name: &str, key: &[u8; 32], msg: &[u8], sig: &[u8; 64], verdict: &str) -> Value {
    json!({
        "name": name,
        "key": h(key),
        "message": h(msg),
        "signature": h(sig),
        "verdict": verdict,
    })
}

fn build() -> Value {
    let mut rng = ChaCha20Rng::from_seed([0xedu8; 32]);
    let a = random_scalar(&mut rng);
    let A = ED25519_BASEPOINT_POINT * a;
    let key = A.compress().to_bytes();
    let msg = b"tallyboard/v1/entry-signature\n0123456789abcdef0123456789abcdef";
    let mut r = || random_scalar(&mut rng);
    let none = EdwardsPoint::default();
    let honest = sign(&a, &key, &r(), &none, msg);

    // A key with a torsion component: A' = a·B + T₈ (a point of order 8).
    let mixed = (A + EIGHT_TORSION[1]).compress().to_bytes();
    let by_mixed = sign(&a, &mixed, &r(), &none, msg);
    // Small-order R, small-order key.
    let small = EIGHT_TORSION[3].compress().to_bytes();
    let mut small_r = honest;
    small_r[..32].copy_from_slice(&small);
    let by_small_key = sign(&Scalar::ZERO, &small, &r(), &none, msg);
    let mut non_canonical_r = honest;
    non_canonical_r[..32].copy_from_slice(&non_canonical());

    let cases = vec![
        case("honest signature", &key, msg, &honest, "valid"),
        case(
            "R off by a point of order 8 (cofactored equation holds, cofactorless does not)",
            &key,
            msg,
            &sign(&a, &key, &r(), &EIGHT_TORSION[1], msg),
            "valid",
        ),
        case(
            "key with a component of order 8, signed by its holder",
            &mixed,
            msg,
            &by_mixed,
            "valid",
        ),
        case(
            "another message",
            &key,
            b"another message",
            &honest,
            "equation",
        ),
        case(
            "s + l (non-canonical s)",
            &key,
            msg,
            &add_ell(&honest),
            "scalar",
        ),
        case("R of small order", &key, msg, &small_r, "R-small-order"),
        case(
            "R non-canonical (y = p + 1)",
            &key,
            msg,
            &non_canonical_r,
            "R-encoding",
        ),
        case(
            "key of small order",
            &small,
            msg,
            &by_small_key,
            "key-small-order",
        ),
        case(
            "key non-canonical (y = p + 1)",
            &non_canonical(),
            msg,
            &honest,
            "key-encoding",
        ),
    ];
    json!({
        "description": "Ed25519 entry-signature rule of spec/crypto.md §10: verdict 'valid', or the step that fails: key-encoding / key-small-order (rule 1 on A), R-encoding / R-small-order (rule 1 on R), scalar (rule 2), equation (rule 3). Hex byte strings; 'message' is the exact signed message.",
        "cases": cases,
    })
}

/// The verdict of §10.1 for one case, from its hex.
fn verdict(c: &Value) -> (&'static str, Option<PreparedSignature>) {
    let key: [u8; 32] = unhex(&c["key"]);
    let sig: [u8; 64] = unhex(&c["signature"]);
    let msg = hex::decode(c["message"].as_str().expect("message")).expect("hex");
    let A = match vartime_decode_point(&key, "key") {
        Ok(A) => A,
        Err(Ed25519Error::NonCanonicalPoint(_)) => return ("key-encoding", None),
        Err(_) => return ("key-small-order", None),
    };
    match PreparedSignature::vartime_new(&key, &A, &msg, &sig) {
        Err(Ed25519Error::NonCanonicalPoint(_)) => ("R-encoding", None),
        Err(Ed25519Error::SmallOrder(_)) => ("R-small-order", None),
        Err(Ed25519Error::NonCanonicalScalar) => ("scalar", None),
        Ok(p) if p.vartime_verify() => ("valid", Some(p)),
        Ok(p) => ("equation", Some(p)),
    }
}

fn batch(sigs: &[&PreparedSignature], seed: u64) -> bool {
    let mut b = SignatureBatch::new(ChaCha20Rng::seed_from_u64(seed));
    for s in sigs {
        b.push(s);
    }
    b.vartime_verify()
}

fn check(v: &Value) {
    let cases = v["cases"].as_array().expect("cases");
    let mut valid = Vec::new();
    let mut failing = Vec::new();
    for c in cases {
        let (got, prepared) = verdict(c);
        assert_eq!(got, c["verdict"], "{}", c["name"]);
        match (got, prepared) {
            ("valid", Some(p)) => valid.push(p),
            (_, Some(p)) => failing.push(p),
            _ => {}
        }
    }
    assert_eq!(valid.len(), 3);
    // Where the rule differs from ed25519-dalek's `verify_strict`: it also
    // accepts the two torsion cases (§10.1).
    let strict: Vec<bool> = cases[..3]
        .iter()
        .map(|c| {
            ed25519_dalek::VerifyingKey::from_bytes(&unhex(&c["key"])).is_ok_and(|k| {
                let msg = hex::decode(c["message"].as_str().expect("message")).expect("hex");
                k.verify_strict(
                    &msg,
                    &ed25519_dalek::Signature::from_bytes(&unhex(&c["signature"])),
                )
                .is_ok()
            })
        })
        .collect();
    assert_eq!(strict, [true, false, false]);
    let refs: Vec<&PreparedSignature> = valid.iter().collect();
    for seed in 0..8 {
        assert!(batch(&refs, seed), "the valid cases pass as one batch");
        for bad in &failing {
            let mut with = refs.clone();
            with.insert(1, bad);
            assert!(!batch(&with, seed), "one failing case fails the batch");
        }
    }
}

#[test]
fn ed25519_vectors() {
    let built = build();
    if std::env::var("TALLYBOARD_REGENERATE_VECTORS").as_deref() == Ok("1") {
        let mut text = serde_json::to_string_pretty(&built).expect("json");
        text.push('\n');
        std::fs::write(FILE, text).expect("write spec/vectors/ed25519.json");
    }
    let text = std::fs::read_to_string(FILE)
        .expect("spec/vectors/ed25519.json is missing: run with TALLYBOARD_REGENERATE_VECTORS=1");
    let committed: Value = serde_json::from_str(&text).expect("valid json");
    assert_eq!(
        committed, built,
        "spec/vectors/ed25519.json differs from what the code produces; \
         if the change is intended, regenerate with TALLYBOARD_REGENERATE_VECTORS=1"
    );
    check(&committed);
}

/// Every point of order dividing 8 as the offset of `R`: the cofactored rule
/// accepts the signature alone and in every batch (a cofactorless batch
/// would drop it with probability 1/8), while `verify_strict` accepts it
/// only for the identity offset.
#[test]
fn torsion_in_r_is_judged_alike_alone_and_in_batches() {
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let a = random_scalar(&mut rng);
    let key = (ED25519_BASEPOINT_POINT * a).compress().to_bytes();
    let A = vartime_decode_point(&key, "key").expect("key");
    for (i, t) in EIGHT_TORSION.iter().enumerate() {
        let sig = sign(&a, &key, &random_scalar(&mut rng), t, b"torsion");
        let p = PreparedSignature::vartime_new(&key, &A, b"torsion", &sig).expect("encodings");
        assert!(p.vartime_verify(), "torsion {i}");
        for seed in 0..16 {
            assert!(batch(&[&p], seed), "torsion {i} seed {seed}");
        }
        let strict = ed25519_dalek::VerifyingKey::from_bytes(&key)
            .expect("key")
            .verify_strict(b"torsion", &ed25519_dalek::Signature::from_bytes(&sig))
            .is_ok();
        assert_eq!(strict, i == 0, "verify_strict differs only by torsion");
    }
}
