//! The conformance suite under `spec/conformance/` (its README): every valid
//! record verifies with its expected report (run statistics aside; fields
//! added to the report since are allowed),
//! and every invalid record fails the one check it names (at the entry it
//! names) and nothing outside the checks it allows. Another implementation
//! runs the same cases.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use tallyboard_verifier::{verify_bytes, Status, VerifyOptions};

fn suite() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spec/conformance")
}

fn cases(kind: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(suite().join(kind))
        .unwrap_or_else(|e| panic!("spec/conformance/{kind}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

fn run(dir: &Path) -> tallyboard_verifier::Report {
    let record = std::fs::read(dir.join("record")).unwrap();
    let mut checkpoints = Vec::new();
    for i in 1.. {
        let p = dir.join(format!("checkpoint-{i}"));
        let Ok(note) = std::fs::read(&p) else { break };
        checkpoints.push((format!("checkpoint-{i}"), note));
    }
    let opts = VerifyOptions {
        threads: 2,
        checkpoints,
        ..VerifyOptions::default()
    };
    verify_bytes(&record, &opts)
}

fn expected(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap()
}

/// Every field of `want` is in `got` with the same value (the report's
/// fields are only ever added, checks.md §10: a newer report may carry more).
fn contains(got: &serde_json::Value, want: &serde_json::Value, at: &str) {
    use serde_json::Value;
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            for (k, v) in w {
                let gv = g.get(k).unwrap_or_else(|| panic!("{at}: no field {k}"));
                contains(gv, v, &format!("{at}.{k}"));
            }
        }
        (Value::Array(g), Value::Array(w)) => {
            assert_eq!(g.len(), w.len(), "{at}: length");
            for (i, (gv, wv)) in g.iter().zip(w).enumerate() {
                contains(gv, wv, &format!("{at}[{i}]"));
            }
        }
        _ => assert_eq!(got, want, "{at}"),
    }
}

#[test]
fn valid_records_give_their_reports() {
    let cases = cases("valid");
    assert!(cases.len() >= 7, "only {} valid cases", cases.len());
    for dir in cases {
        let r = run(&dir);
        assert!(r.ok, "{}: {}", dir.display(), r.to_human());
        let mut got: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        got.as_object_mut().unwrap().remove("performance");
        contains(&got, &expected(&dir), &dir.display().to_string());
    }
}

#[test]
fn invalid_records_fail_the_named_check() {
    let cases = cases("invalid");
    assert!(cases.len() >= 25, "only {} invalid cases", cases.len());
    for dir in cases {
        let name = dir.display();
        let x = expected(&dir);
        let check = x["must_fail"].as_str().unwrap();
        let r = run(&dir);
        assert!(!r.ok, "{name} verified");
        let c = r
            .check(check)
            .unwrap_or_else(|| panic!("{name}: no check {check}"));
        assert_eq!(c.status, Status::Fail, "{name}: {check}\n{}", r.to_human());
        if let Some(e) = x["entry"].as_u64() {
            assert!(
                c.failures.iter().any(|f| f.entry == Some(e)),
                "{name}: {check} does not name entry {e}\n{}",
                r.to_human()
            );
        }
        let also: Vec<&str> = x["may_also_fail"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        if !also.contains(&"*") {
            for f in r.failed_checks() {
                assert!(
                    f == check || also.contains(&f),
                    "{name}: {f} failed too\n{}",
                    r.to_human()
                );
            }
        }
        assert!(
            !x["why"].as_str().unwrap_or("").is_empty(),
            "{name}: no explanation"
        );
    }
}
