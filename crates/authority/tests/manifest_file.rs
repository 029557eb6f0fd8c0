//! The manifest file: the example of `spec/examples/manifest.toml` loads and
//! validates once its key files exist, and malformed manifests are refused
//! with errors that name what is wrong.
#![allow(clippy::type_complexity)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use base64::Engine as _;
use ed25519_dalek::SigningKey;
use tallyboard_authority::keys::{self, TrusteeDir};
use tallyboard_authority::{load_manifest, parse_manifest, AuthorityError};
use tallyboard_protocol::{testkit, v1, validate_manifest};
use tallyboard_tlog::Ed25519Verifier;

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spec/examples/manifest.toml")
}

fn board() -> Ed25519Verifier {
    Ed25519Verifier::new(
        "tallyboard/springfield-2028",
        SigningKey::from_bytes(&[5; 32]).verifying_key(),
    )
    .unwrap()
}

fn rsa_b64() -> String {
    base64::engine::general_purpose::STANDARD
        .encode(testkit::sample_issuer_rsa().pk.to_der().unwrap())
}

/// Writes every key file the example names into `dir`.
fn key_files(dir: &Path) -> (String, Vec<String>) {
    let admin = dir.join("admin.key");
    let admin_pub = keys::generate_signing_key(&admin, &keys::public_key_path(&admin)).unwrap();
    let trustees: Vec<String> = ["alice", "bob", "carmen"]
        .iter()
        .map(|n| {
            let d = TrusteeDir::new(dir.join("trustees").join(n));
            hex::encode(d.generate().unwrap().as_bytes())
        })
        .collect();
    std::fs::create_dir_all(dir.join("issuer")).unwrap();
    let signing = hex::encode(testkit::sample_issuer_key(1).verifying_key().as_bytes());
    let districts: Vec<String> = ["ward-1", "ward-2", "ward-3"]
        .iter()
        .map(|w| {
            format!(
                r#"{{"district": "{w}", "issuer_rsa_key": "{}", "modulus_bits": 2048, "voters": 10}}"#,
                rsa_b64()
            )
        })
        .collect();
    std::fs::write(
        dir.join("issuer/issuer-keys.json"),
        format!(
            r#"{{"format": "tallyboard-issuer-keys/v1", "issuer_signing_key": "{signing}", "variant": "RSABSSA-SHA384-PSS-Randomized", "argon2_profile": "fast", "districts": [{}]}}"#,
            districts.join(", ")
        ),
    )
    .unwrap();
    std::fs::write(dir.join("board.pub"), format!("{}\n", board().to_vkey())).unwrap();
    (hex::encode(admin_pub.as_bytes()), trustees)
}

#[test]
fn the_example_loads_and_validates() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("manifest.toml");
    std::fs::copy(example(), &path).unwrap();
    let (admin, trustees) = key_files(tmp.path());
    let m = load_manifest(&path).unwrap();
    validate_manifest(&m, &[]).unwrap();

    assert_eq!(m.election_id, "springfield-2028-general");
    assert_eq!(hex::encode(&m.admin_key), admin);
    let ts = m.trustees.as_ref().unwrap();
    assert_eq!(ts.threshold, 2);
    assert_eq!(
        ts.trustees
            .iter()
            .map(|t| hex::encode(&t.signing_key))
            .collect::<Vec<_>>(),
        trustees
    );
    assert_eq!(
        ts.trustees.iter().map(|t| t.index).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(m.districts.len(), 3);
    assert_eq!(m.districts[1].name, "Ward 2");
    assert_eq!(
        m.districts[2].issuer_rsa_key,
        testkit::sample_issuer_rsa().pk.to_der().unwrap()
    );
    assert_eq!(
        m.issuer_signing_key,
        testkit::sample_issuer_key(1)
            .verifying_key()
            .to_bytes()
            .to_vec()
    );
    use v1::contest_rule::Kind;
    let kinds: Vec<Kind> = m
        .contests
        .iter()
        .map(|c| c.rule.unwrap().kind.unwrap())
        .collect();
    assert_eq!(
        kinds,
        vec![
            Kind::OneOfN(v1::OneOfN {}),
            Kind::KOfN(v1::KOfN { min: 0, max: 2 }),
            Kind::OneOfN(v1::OneOfN {}),
            Kind::Points(v1::Points {
                per_option_max: 10,
                budget: 10,
                exact: true
            }),
        ]
    );
    assert_eq!(m.contests[0].options[1].title, "Erik Lindqvist");
    assert_eq!(m.contests[1].options[2].title, "chen");
    assert_eq!(m.contests[3].districts, vec!["ward-3".to_string()]);
    assert_eq!(m.revote_policy, v1::RevotePolicy::LastCounts as i32);
    // 2028-11-03T07:00:00-06:00 = 13:00Z; 20:00-06:00 = 02:00Z next day.
    assert_eq!(m.voting_opens_unix_ms, 1_856_869_200_000);
    assert_eq!(m.voting_closes_unix_ms, 1_856_916_000_000);
    assert_eq!(m.board_origin, "tallyboard/springfield-2028");
    assert_eq!(m.board_key, board().verifying_key().to_bytes().to_vec());
    assert!(m.caucus.is_none());
}

/// A small valid manifest with inline keys; `edit` changes the text.
fn small(edit: impl Fn(String) -> String) -> Result<v1::Manifest, AuthorityError> {
    let k = |b: u8| hex::encode(SigningKey::from_bytes(&[b; 32]).verifying_key().as_bytes());
    let text = format!(
        r#"
election_id = "small"
title = "Small"
admin_key = "{admin}"
issuer_signing_key = "{issuer}"

[board]
key = "{vkey}"

[trustees]
threshold = 1
members = [{{ name = "T1", signing_key = "{t1}" }}]

[[districts]]
id = "d1"
issuer_rsa_key = "{rsa}"

[[contests]]
id = "c1"
options = ["a", "b"]
rule = "one_of_n"
"#,
        admin = k(1),
        issuer = k(2),
        t1 = k(3),
        vkey = board().to_vkey(),
        rsa = rsa_b64(),
    );
    parse_manifest(&edit(text), Path::new("."))
}

fn err(edit: impl Fn(String) -> String) -> String {
    small(edit).unwrap_err().to_string()
}

#[test]
fn small_manifest_defaults() {
    let m = small(|t| t).unwrap();
    assert_eq!(m.districts[0].name, "d1");
    assert_eq!(m.contests[0].title, "c1");
    assert_eq!(m.voting_opens_unix_ms, 0);
    assert_eq!(m.revote_policy, v1::RevotePolicy::LastCounts as i32);
    let m = small(|t| {
        t.replace(
            "title = \"Small\"",
            "title = \"Small\"\nrevote_policy = \"first_counts\"",
        )
    })
    .unwrap();
    assert_eq!(m.revote_policy, v1::RevotePolicy::FirstCounts as i32);
    let m = small(|t| t + "\n[caucus]\nalignment_contest = \"c1\"\nuncommitted_option = \"b\"\n")
        .unwrap();
    assert_eq!(m.caucus.unwrap().viability_rule, "idp-2020");
}

#[test]
fn malformed_manifests_say_what_is_wrong() {
    let cases: Vec<(Box<dyn Fn(String) -> String>, &str)> = vec![
        (
            Box::new(|t| t + "\nsurprise = 1\n"),
            "unknown field `surprise`",
        ),
        (
            Box::new(|t| t.replace("rule = \"one_of_n\"", "rule = \"ranked\"")),
            "unknown variant `ranked`",
        ),
        (
            Box::new(|t| {
                t.replace(
                    "rule = \"one_of_n\"",
                    "rule = { k_of_n = { min = 2, max = 1 } }",
                )
            }),
            "k-of-n",
        ),
        (
            Box::new(|t| t.replace("threshold = 1", "threshold = 2")),
            "threshold 2 must be in 1..=1",
        ),
        (
            Box::new(|t| t.replace("threshold = 1", "threshold = 1\nn = 2")),
            "trustees.n is 2",
        ),
        (
            Box::new(|t| t.replace("[board]", "[board]\norigin = \"elsewhere\"")),
            "board.origin",
        ),
        (
            Box::new(|t| t.replace("id = \"c1\"", "id = \"c 1\"")),
            "contest id",
        ),
        (
            Box::new(|t| {
                let start = t.find("issuer_rsa_key").unwrap();
                let end = start + t[start..].find('\n').unwrap();
                format!("{}{}", &t[..start], &t[end..])
            }),
            "district d1: issuer_rsa_key or issuer_rsa_key_file",
        ),
        (
            Box::new(|t| t.replace("issuer_rsa_key = \"", "issuer_rsa_key = \"!!")),
            "not base64",
        ),
        (
            Box::new(|t| {
                t + "\n[voting]\nopens = 2030-01-02T00:00:00Z\ncloses = 2030-01-01T00:00:00Z\n"
            }),
            "closes is before",
        ),
        (
            Box::new(|t| t + "\n[voting]\nopens = 2030-01-02\n"),
            "with an offset",
        ),
        (
            Box::new(|t| t.replace("admin_key = \"", "admin_key = \"missing-file")),
            "missing-file",
        ),
        (
            Box::new(|t| t + "\n[[districts]]\nid = \"d1\"\nissuer_rsa_key = \"AAAA\"\n"),
            "district d1",
        ),
    ];
    for (edit, expected) in cases {
        let e = err(edit);
        assert!(e.contains(expected), "expected {expected:?} in {e:?}");
    }
}
