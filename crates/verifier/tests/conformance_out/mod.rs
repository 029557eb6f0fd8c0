//! Writing the conformance suite (`spec/conformance/README.md`): when
//! `TALLYBOARD_WRITE_CONFORMANCE` names a directory, every record a tamper
//! test verifies and judges is written there as a case, with what a
//! verifier must conclude from it. The case is named after the test; its
//! explanation is the test's doc comment. Without the variable nothing is
//! written.
#![allow(dead_code, clippy::unwrap_used)]

use std::cell::RefCell;
use std::path::PathBuf;

use tallyboard_verifier::{Report, VerifyOptions};

/// A record and its earlier checkpoints (label, note).
type Verified = (Vec<u8>, Vec<(String, Vec<u8>)>);

thread_local! {
    /// The last record verified on this thread, with its earlier checkpoints.
    static LAST: RefCell<Option<Verified>> = const { RefCell::new(None) };
    /// Cases written by this thread's test so far (a test may write several).
    static WRITTEN: RefCell<usize> = const { RefCell::new(0) };
}

/// [`tallyboard_verifier::verify_bytes`], remembering the input.
pub fn verify_bytes(bytes: &[u8], opts: &VerifyOptions) -> Report {
    LAST.with(|l| *l.borrow_mut() = Some((bytes.to_vec(), opts.checkpoints.clone())));
    tallyboard_verifier::verify_bytes(bytes, opts)
}

fn out_dir() -> Option<PathBuf> {
    std::env::var_os("TALLYBOARD_WRITE_CONFORMANCE").map(PathBuf::from)
}

/// The test's name (libtest and nextest name the test's thread after it).
fn test_name() -> String {
    let t = std::thread::current();
    let name = t.name().unwrap_or("unnamed");
    name.rsplit("::").next().unwrap_or(name).to_owned()
}

/// The doc comment of `fn name()` in the test files that write cases, as
/// one paragraph.
fn why(name: &str) -> String {
    let sources = [
        include_str!("../tamper.rs"),
        include_str!("../witnesses.rs"),
        include_str!("../caucus_challenges.rs"),
        include_str!("../whole_records.rs"),
    ];
    let Some((src, at)) = sources
        .iter()
        .find_map(|src| src.find(&format!("\nfn {name}()")).map(|at| (*src, at)))
    else {
        return String::new();
    };
    let mut lines: Vec<&str> = src[..at]
        .lines()
        .rev()
        .skip_while(|l| l.trim().starts_with("#["))
        .take_while(|l| l.trim_start().starts_with("///"))
        .map(|l| l.trim_start().trim_start_matches("///").trim())
        .collect();
    lines.reverse();
    lines.join(" ")
}

fn case_dir(kind: &str) -> Option<PathBuf> {
    let root = out_dir()?;
    let n = WRITTEN.with(|w| {
        let mut w = w.borrow_mut();
        *w += 1;
        *w
    });
    let name = test_name();
    let name = if n == 1 { name } else { format!("{name}-{n}") };
    let dir = root.join(kind).join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let (record, checkpoints) = LAST
        .with(|l| l.borrow().clone())
        .expect("a verified record");
    std::fs::write(dir.join("record"), record).unwrap();
    for (i, (_, note)) in checkpoints.iter().enumerate() {
        std::fs::write(dir.join(format!("checkpoint-{}", i + 1)), note).unwrap();
    }
    Some(dir)
}

/// Writes the last record as an invalid case: `check` must fail (at
/// `entry`, if given); no check outside `check` and `may_also_fail` may
/// fail (`"*"`: any may).
pub fn emit_invalid(r: &Report, check: &str, entry: Option<usize>, may_also_fail: &[&str]) {
    let Some(dir) = case_dir("invalid") else {
        return;
    };
    let expected = serde_json::json!({
        "must_fail": check,
        "entry": entry,
        "may_also_fail": may_also_fail,
        "why": why(&test_name()),
        "failed_here": r.failed_checks(),
    });
    std::fs::write(
        dir.join("expected.json"),
        serde_json::to_string_pretty(&expected).unwrap() + "\n",
    )
    .unwrap();
}

/// Writes the last record as a valid case with its report (without the
/// run statistics): a verifier must pass every check with these counts and
/// results.
pub fn emit_valid(r: &Report) {
    emit_valid_why(r, &why(&test_name()));
}

/// [`emit_valid`] with the explanation given.
pub fn emit_valid_why(r: &Report, why: &str) {
    let Some(dir) = case_dir("valid") else {
        return;
    };
    let mut j: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    if let Some(o) = j.as_object_mut() {
        o.remove("performance");
    }
    std::fs::write(
        dir.join("expected.json"),
        serde_json::to_string_pretty(&j).unwrap() + "\n",
    )
    .unwrap();
    std::fs::write(dir.join("why.txt"), format!("{why}\n")).unwrap();
}
