//! Known-answer vectors of the cryptographic core (`spec/crypto.md` §9),
//! committed as `spec/vectors/crypto.json`.
//!
//! The test rebuilds every vector deterministically (ChaCha20 from fixed
//! seeds) and compares with the committed file; with
//! `TALLYBOARD_REGENERATE_VECTORS=1` it rewrites the file instead. It then
//! checks the committed file *as another implementation would*: it decodes
//! every input from hex, recomputes what can be recomputed (generators,
//! encryptions, transcript challenges) and verifies every proof.
#![allow(non_snake_case)]

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde_json::{json, Value};
use tallyboard_crypto::batch::{Base, BatchVerifier};
use tallyboard_crypto::contest::{encrypt_contest, ContestRule, EncryptedContest, SumRule};
use tallyboard_crypto::elgamal::{Ciphertext, EncodedCiphertext, Nonce, PublicKey, SecretKey};
use tallyboard_crypto::encoding::{decode_point, decode_scalar};
use tallyboard_crypto::generators::{hash_to_group, G, GENERATOR_DST, LABEL_PEDERSEN_H};
use tallyboard_crypto::proofs::cds_range::CdsRangeProof;
use tallyboard_crypto::proofs::chaum_pedersen::{ChaumPedersenProof, DleqStatement};
use tallyboard_crypto::proofs::schnorr::SchnorrProof;
use tallyboard_crypto::proofs::sum::{SumExactProof, SumRangeProof};
use tallyboard_crypto::transcript::{labels, ProofContext, ProofTranscript};
use tallyboard_crypto::{DecodeError, OsRng, RistrettoPoint, Scalar};

const FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../spec/vectors/crypto.json"
);

fn h(b: &[u8]) -> String {
    hex::encode(b)
}

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("valid hex")
}

fn p(point: &RistrettoPoint) -> String {
    h(point.compress().as_bytes())
}

fn class(e: DecodeError) -> &'static str {
    match e {
        DecodeError::WrongLength { .. } => "WrongLength",
        DecodeError::NonCanonicalScalar { .. } => "NonCanonicalScalar",
        DecodeError::InvalidPoint { .. } => "InvalidPoint",
        DecodeError::IdentityPoint { .. } => "IdentityPoint",
        DecodeError::OutOfRange { .. } => "OutOfRange",
    }
}

/// The context every proof vector uses, and its JSON form.
fn context() -> (ProofContext, Value) {
    let election = [0x11u8; 32];
    let cred = [0x22u8; 32];
    let ctx = ProofContext::new(election)
        .with(b"credential", &cred)
        .with(b"contest", b"governor");
    let j = json!({
        "election": h(&election),
        "items": [
            {"label": h(b"credential"), "value": h(&cred)},
            {"label": h(b"contest"), "value": h(b"governor")},
        ],
    });
    (ctx, j)
}

fn context_from_json(v: &Value) -> ProofContext {
    let e: [u8; 32] = unhex(&v["election"]).try_into().expect("32 bytes");
    let mut ctx = ProofContext::new(e);
    for item in v["items"].as_array().expect("items") {
        // Labels must be 'static: leak the few bytes a test uses.
        let label: &'static [u8] = Box::leak(unhex(&item["label"]).into_boxed_slice());
        ctx = ctx.with(label, &unhex(&item["value"]));
    }
    ctx
}

fn key(rng: &mut ChaCha20Rng) -> (SecretKey, PublicKey) {
    let sk = SecretKey::generate(rng);
    let pk = sk.public_key().expect("non-identity");
    (sk, pk)
}

fn build() -> Value {
    let (ctx, ctx_json) = context();
    let mut rng = ChaCha20Rng::from_seed([0x5au8; 32]);
    let (sk, pk) = key(&mut rng);

    // §3 generators
    let generators = json!([
        {"label": "(base point G)", "dst": "", "point": p(&G())},
        {"label": h(LABEL_PEDERSEN_H), "dst": h(GENERATOR_DST), "point": p(&hash_to_group(LABEL_PEDERSEN_H))},
        {"label": h(b"test-label"), "dst": h(GENERATOR_DST), "point": p(&hash_to_group(b"test-label"))},
    ]);

    // §2 encodings
    let ell_minus_1 = (-Scalar::ONE).to_bytes();
    let mut ell = ell_minus_1;
    ell[0] += 1;
    let mut ell_plus_1 = ell;
    ell_plus_1[0] += 1;
    let scalars = json!([
        {"hex": h(&Scalar::ZERO.to_bytes()), "valid": true},
        {"hex": h(&Scalar::ONE.to_bytes()), "valid": true},
        {"hex": h(&ell_minus_1), "valid": true},
        {"hex": h(&ell), "valid": false, "error": "NonCanonicalScalar"},
        {"hex": h(&ell_plus_1), "valid": false, "error": "NonCanonicalScalar"},
        {"hex": h(&[0xffu8; 32]), "valid": false, "error": "NonCanonicalScalar"},
        {"hex": h(&[0u8; 31]), "valid": false, "error": "WrongLength"},
    ]);
    let two_g = G() + G();
    let mut points = vec![
        json!({"hex": h(&[0u8; 32]), "valid": true, "identity": true}),
        json!({"hex": p(&G()), "valid": true, "identity": false}),
        json!({"hex": p(&two_g), "valid": true, "identity": false}),
    ];
    for bad in [
        // non-canonical field elements (≥ p)
        "00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        // negative field elements
        "0100000000000000000000000000000000000000000000000000000000000000",
        "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        // non-square x²
        "26948d35ca62e643e26a83177332e6b6afeb9d08e4268b650f1f5bbd8d81d371",
        // negative xy
        "3eb858e78f5a7254d8c9731174a94f76755fd3941c0ac93735c07ba14579630e",
        // s = −1
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ] {
        points.push(json!({"hex": bad, "valid": false, "error": "InvalidPoint"}));
    }
    points.push(json!({"hex": h(&[0u8; 33]), "valid": false, "error": "WrongLength"}));
    let mut ct_ok = [0u8; 64];
    ct_ok[..32].copy_from_slice(G().compress().as_bytes());
    let mut ct_bad_beta = ct_ok;
    ct_bad_beta[32..].copy_from_slice(&[0xff; 32]);
    let ciphertexts = json!([
        {"hex": h(&ct_ok), "valid": true, "note": "alpha = G, beta = identity"},
        {"hex": h(&[0u8; 64]), "valid": false, "error": "IdentityPoint", "note": "alpha = identity (refused in a ballot ciphertext)"},
        {"hex": h(&ct_bad_beta), "valid": false, "error": "InvalidPoint"},
        {"hex": h(&ct_ok[..63]), "valid": false, "error": "WrongLength"},
    ]);

    // §1.4 ElGamal with fixed randomness
    let r = Nonce::from_scalar(tallyboard_crypto::random_scalar(&mut rng));
    let elgamal: Vec<Value> = [0u64, 1, 3, 1_000_000]
        .iter()
        .map(|&m| {
            json!({"m": m, "r": h(&r.to_bytes()), "ciphertext": h(&pk.encrypt_with(m, &r).to_bytes())})
        })
        .collect();

    // §4 transcript challenge for a fixed context
    let mut t = ProofTranscript::new(labels::SCHNORR, &ctx);
    t.append_message(b"B", G().compress().as_bytes());
    t.append_u64(b"n", 5);
    let transcript = json!({
        "protocol": h(labels::SCHNORR),
        "context": ctx_json,
        "appended": [
            {"kind": "message", "label": h(b"B"), "value": p(&G())},
            {"kind": "u64", "label": h(b"n"), "value": 5},
        ],
        "challenge": h(&t.challenge_scalar().to_bytes()),
    });

    // §6.1 Schnorr
    let x = tallyboard_crypto::random_scalar(&mut rng);
    let (Y, sp) = SchnorrProof::prove(&ctx, &G(), &x, &mut rng).expect("prove");
    let schnorr = json!({"B": p(&G()), "Y": p(&Y), "proof": h(&sp.to_bytes())});

    // §6.2 Chaum–Pedersen (partial decryption shape: B1 = G, B2 = α)
    let (ct, _) = pk.encrypt(1, &mut rng);
    let st = DleqStatement {
        B1: G(),
        Y1: *pk.point(),
        B2: ct.alpha,
        Y2: sk.expose_scalar() * ct.alpha,
    };
    let cp = ChaumPedersenProof::prove(
        labels::PARTIAL_DECRYPTION,
        &ctx,
        &st,
        sk.expose_scalar(),
        &mut rng,
    )
    .expect("prove");
    let chaum_pedersen = json!({
        "protocol": h(labels::PARTIAL_DECRYPTION),
        "B1": p(&st.B1), "Y1": p(&st.Y1), "B2": p(&st.B2), "Y2": p(&st.Y2),
        "proof": h(&cp.to_bytes()),
    });

    // §6.3 CDS range, R = 1 and R = 3
    let cds: Vec<Value> = [(1u64, 1u64), (1, 0), (3, 2)]
        .iter()
        .map(|&(R, v)| {
            let (ct, r, proof) = CdsRangeProof::encrypt_and_prove(&ctx, &pk, R, v, &mut rng).expect("prove");
            json!({"R": R, "v": v, "r": h(&r.to_bytes()), "ciphertext": h(&ct.to_bytes()), "proof": h(&proof.to_bytes())})
        })
        .collect();

    // §6.4 sums over four ciphertexts of 0, 1, 0, 1
    let values = [0u64, 1, 0, 1];
    let (cts, nonces): (Vec<EncodedCiphertext>, Vec<Nonce>) = values
        .iter()
        .map(|&v| {
            let (ct, r) = pk.encrypt(v, &mut rng);
            (EncodedCiphertext::new(&ct), r)
        })
        .unzip();
    let cts_json: Vec<String> = cts.iter().map(|c| h(&c.to_bytes())).collect();
    let se = SumExactProof::prove(&ctx, &pk, &cts, 2, &nonces, &mut rng).expect("prove");
    let sr = SumRangeProof::prove(&ctx, &pk, &cts, 1, 3, 2, &nonces, &mut rng).expect("prove");
    let sum_exact = json!({"ciphertexts": cts_json, "L": 2, "proof": h(&se.to_bytes())});
    let sum_range =
        json!({"ciphertexts": cts_json, "min": 1, "max": 3, "proof": h(&sr.to_bytes())});

    // §8 a one-of-5 contest
    let rule = ContestRule::one_of(5).expect("rule");
    let selections = [0u64, 0, 1, 0, 0];
    let (contest, nonces) =
        encrypt_contest(&pk, &selections, &rule, &ctx, &mut rng).expect("encrypt");
    let contest_json = json!({
        "options": 5, "option_max": 1, "sum": {"exact": 1},
        "selections": selections,
        "nonces": nonces.iter().map(|r| h(&r.to_bytes())).collect::<Vec<_>>(),
        "encoding": h(&contest.to_bytes()),
    });

    json!({
        "description": "tallyboard crypto known-answer vectors; see spec/crypto.md §9. Hex strings are byte strings; labels are given as hex of their ASCII bytes.",
        "seed": h(&[0x5au8; 32]),
        "context": context().1,
        "secret_key": h(&sk.expose_scalar().to_bytes()),
        "public_key": h(&pk.to_bytes()),
        "generators": generators,
        "encodings": {"scalars": scalars, "points": points, "ciphertexts": ciphertexts},
        "elgamal": elgamal,
        "transcript": transcript,
        "schnorr": schnorr,
        "chaum_pedersen": chaum_pedersen,
        "cds_range": cds,
        "sum_exact": sum_exact,
        "sum_range": sum_range,
        "contest_one_of_5": contest_json,
    })
}

fn pt(v: &Value) -> RistrettoPoint {
    decode_point(&unhex(v), "vector").expect("valid point")
}

/// Checks the committed vectors independently of how they were built.
fn check(v: &Value) {
    let ctx = context_from_json(&v["context"]);
    let sk = SecretKey::from_bytes(&unhex(&v["secret_key"])).expect("sk");
    let pk = PublicKey::from_bytes(&unhex(&v["public_key"])).expect("pk");
    assert_eq!(sk.public_point(), *pk.point());

    for g in v["generators"].as_array().expect("generators") {
        let label = g["label"].as_str().expect("label");
        let expected = if label == "(base point G)" {
            G()
        } else {
            assert_eq!(unhex(&g["dst"]), GENERATOR_DST);
            hash_to_group(&unhex(&g["label"]))
        };
        assert_eq!(pt(&g["point"]), expected);
    }

    for s in v["encodings"]["scalars"].as_array().expect("scalars") {
        let r = decode_scalar(&unhex(&s["hex"]), "vector");
        match s["valid"].as_bool().expect("bool") {
            true => assert!(r.is_ok()),
            false => assert_eq!(
                class(r.expect_err("rejected")),
                s["error"].as_str().expect("class")
            ),
        }
    }
    for s in v["encodings"]["points"].as_array().expect("points") {
        let r = decode_point(&unhex(&s["hex"]), "vector");
        match s["valid"].as_bool().expect("bool") {
            true => {
                let point = r.expect("valid");
                assert_eq!(
                    point.compress().as_bytes().to_vec(),
                    unhex(&s["hex"]),
                    "canonical"
                );
                assert_eq!(
                    point == RistrettoPoint::default(),
                    s["identity"].as_bool().expect("bool")
                );
            }
            false => assert_eq!(
                class(r.expect_err("rejected")),
                s["error"].as_str().expect("class"),
                "{s}"
            ),
        }
    }
    for s in v["encodings"]["ciphertexts"]
        .as_array()
        .expect("ciphertexts")
    {
        let b = unhex(&s["hex"]);
        let r = Ciphertext::from_bytes(&b);
        let e = EncodedCiphertext::from_bytes(&b);
        match s["valid"].as_bool().expect("bool") {
            true => assert_eq!(r.expect("valid").to_bytes().to_vec(), b),
            false => {
                assert_eq!(
                    class(r.expect_err("rejected")),
                    s["error"].as_str().expect("class")
                );
                assert_eq!(
                    class(e.expect_err("rejected")),
                    s["error"].as_str().expect("class")
                );
            }
        }
    }

    for e in v["elgamal"].as_array().expect("elgamal") {
        let r = Nonce::from_bytes(&unhex(&e["r"])).expect("r");
        let m = e["m"].as_u64().expect("m");
        let ct = Ciphertext::from_bytes(&unhex(&e["ciphertext"])).expect("ct");
        assert_eq!(pk.encrypt_with(m, &r), ct);
        assert_eq!(
            tallyboard_crypto::dlog::vartime_dlog(&sk.decrypt_to_point(&ct), 1_000_000),
            Some(m)
        );
    }

    let t = &v["transcript"];
    assert_eq!(unhex(&t["protocol"]), labels::SCHNORR);
    let mut tr = ProofTranscript::new(labels::SCHNORR, &context_from_json(&t["context"]));
    for a in t["appended"].as_array().expect("appended") {
        let label: &'static [u8] = Box::leak(unhex(&a["label"]).into_boxed_slice());
        match a["kind"].as_str().expect("kind") {
            "message" => tr.append_message(label, &unhex(&a["value"])),
            _ => tr.append_u64(label, a["value"].as_u64().expect("u64")),
        }
    }
    assert_eq!(
        tr.challenge_scalar().to_bytes().to_vec(),
        unhex(&t["challenge"])
    );

    let s = &v["schnorr"];
    let sp = SchnorrProof::from_bytes(&unhex(&s["proof"])).expect("decode");
    sp.verify(&ctx, &pt(&s["B"]), &pt(&s["Y"]))
        .expect("schnorr verifies");

    let c = &v["chaum_pedersen"];
    let st = DleqStatement {
        B1: pt(&c["B1"]),
        Y1: pt(&c["Y1"]),
        B2: pt(&c["B2"]),
        Y2: pt(&c["Y2"]),
    };
    let cp = ChaumPedersenProof::from_bytes(&unhex(&c["proof"])).expect("decode");
    cp.verify(labels::PARTIAL_DECRYPTION, &ctx, &st)
        .expect("cp verifies");
    let mut b = BatchVerifier::new(OsRng);
    cp.batch_verify(
        labels::PARTIAL_DECRYPTION,
        &ctx,
        &st,
        Base::G,
        Base::Point(st.B2),
        &mut b,
    )
    .expect("statement");
    assert!(b.vartime_verify());

    for c in v["cds_range"].as_array().expect("cds") {
        let R = c["R"].as_u64().expect("R");
        let ct = EncodedCiphertext::from_bytes(&unhex(&c["ciphertext"])).expect("ct");
        let r = Nonce::from_bytes(&unhex(&c["r"])).expect("r");
        assert_eq!(
            pk.encrypt_with(c["v"].as_u64().expect("v"), &r),
            ct.ciphertext()
        );
        let proof = CdsRangeProof::from_bytes(&unhex(&c["proof"]), R).expect("decode");
        assert_eq!(unhex(&c["proof"]).len(), (4 * R as usize + 3) * 32);
        proof.verify(&ctx, &pk, R, &ct).expect("cds verifies");
        assert!(proof.verify(&ctx, &pk, R + 1, &ct).is_err());
    }

    let cts: Vec<EncodedCiphertext> = v["sum_exact"]["ciphertexts"]
        .as_array()
        .expect("cts")
        .iter()
        .map(|c| EncodedCiphertext::from_bytes(&unhex(c)).expect("ct"))
        .collect();
    let se = SumExactProof::from_bytes(&unhex(&v["sum_exact"]["proof"])).expect("decode");
    se.verify(&ctx, &pk, &cts, v["sum_exact"]["L"].as_u64().expect("L"))
        .expect("sum exact verifies");
    let (min, max) = (
        v["sum_range"]["min"].as_u64().expect("min"),
        v["sum_range"]["max"].as_u64().expect("max"),
    );
    let sr = SumRangeProof::from_bytes(&unhex(&v["sum_range"]["proof"]), min, max).expect("decode");
    sr.verify(&ctx, &pk, &cts, min, max)
        .expect("sum range verifies");

    let c = &v["contest_one_of_5"];
    let rule = ContestRule::new(5, 1, SumRule::Exact(1)).expect("rule");
    let contest = EncryptedContest::from_bytes(&unhex(&c["encoding"])).expect("decode");
    contest.verify(&pk, &rule, &ctx).expect("contest verifies");
    for ((ct, r), sel) in contest
        .option_ciphertexts()
        .iter()
        .zip(c["nonces"].as_array().expect("nonces"))
        .zip(c["selections"].as_array().expect("selections"))
    {
        let r = Nonce::from_bytes(&unhex(r)).expect("r");
        assert_eq!(pk.encrypt_with(sel.as_u64().expect("u64"), &r), *ct);
    }
}

#[test]
fn crypto_vectors() {
    let built = build();
    if std::env::var("TALLYBOARD_REGENERATE_VECTORS").as_deref() == Ok("1") {
        let mut text = serde_json::to_string_pretty(&built).expect("json");
        text.push('\n');
        std::fs::write(FILE, text).expect("write spec/vectors/crypto.json");
    }
    let text = std::fs::read_to_string(FILE)
        .expect("spec/vectors/crypto.json is missing: run with TALLYBOARD_REGENERATE_VECTORS=1");
    let committed: Value = serde_json::from_str(&text).expect("valid json");
    if committed != built {
        let differing: Vec<&String> = built
            .as_object()
            .expect("object")
            .iter()
            .filter(|(k, v)| committed.get(k.as_str()) != Some(v))
            .map(|(k, _)| k)
            .collect();
        panic!(
            "spec/vectors/crypto.json differs from what the code produces in {differing:?}; \
             if the change is intended, regenerate with TALLYBOARD_REGENERATE_VECTORS=1"
        );
    }
    check(&committed);
}
