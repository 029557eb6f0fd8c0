//! The crates match the roles: the verifier and the voter's client build
//! without the board's server or storage, SQLite, PostgreSQL, the issuer's
//! server or tonic's server side (so an auditor builds the verifier alone,
//! quickly). Read off `cargo tree` of each crate's normal dependencies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

/// `(package, enabled features)` of every normal dependency of `package`.
fn tree(package: &str) -> Vec<(String, String)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml");
    let out = Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "--manifest-path",
            manifest,
            "-p",
            package,
            "-e",
            "normal",
            "--prefix",
            "none",
            "-f",
            "{p}|{f}",
        ])
        .output()
        .expect("running cargo tree");
    assert!(
        out.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let (p, f) = l.split_once('|')?;
            let name = p.split_whitespace().next()?.to_string();
            Some((name, f.to_string()))
        })
        .collect()
}

fn assert_lean(package: &str) {
    let deps = tree(package);
    assert!(deps.iter().any(|(p, _)| p == "tallyboard-board-client"));
    for banned in [
        "tallyboard-board",
        "tallyboard-issuer",
        "rusqlite",
        "libsqlite3-sys",
        "postgres",
        "tokio-postgres",
        "tonic-health",
        "tonic-reflection",
        "tonic-web",
        "axum",
    ] {
        assert!(
            !deps.iter().any(|(p, _)| p == banned),
            "{package} depends on {banned}"
        );
    }
    for (p, f) in deps.iter().filter(|(p, _)| p == "tonic") {
        let features: Vec<&str> = f.split(',').collect();
        assert!(
            !features.contains(&"server") && !features.contains(&"router"),
            "{package} builds {p} with {f}"
        );
    }
}

#[test]
fn the_verifier_builds_without_any_server_or_database() {
    assert_lean("tallyboard-verifier");
}

#[test]
fn the_voter_client_builds_without_any_server_or_database() {
    assert_lean("tallyboard-client");
}

/// The check above can fail: the board itself has all of it.
#[test]
fn the_board_does_have_its_server_and_storage() {
    let deps = tree("tallyboard-board");
    assert!(deps.iter().any(|(p, _)| p == "rusqlite"));
    assert!(deps
        .iter()
        .any(|(p, f)| p == "tonic" && f.split(',').any(|x| x == "server")));
}
