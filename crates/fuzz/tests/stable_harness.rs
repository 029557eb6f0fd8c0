//! The stable fuzz harness: for every target of `tallyboard_fuzz::TARGETS`,
//! every saved regression input (`regressions/<target>/`), every seed, then
//! random mutations of them for `TALLYBOARD_FUZZ_SECS` seconds (default 3)
//! with a seed from `TALLYBOARD_FUZZ_SEED` (default: the clock, printed).
//! A panicking input is written to `target/fuzz-crashes/<target>-<n>.bin`
//! and the test fails with its hex; move it to `regressions/<target>/` once
//! fixed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// xorshift64*: deterministic, small, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const INTERESTING: [u8; 8] = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x0a, 0x2b, 0x20];

/// One to four mutations of `input` (bit flips, bytes set to interesting
/// values, insertions, deletions, duplications, truncation, splices of
/// another seed, protobuf-ish varint bumps).
fn mutate(rng: &mut Rng, input: &[u8], others: &[Vec<u8>]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = v.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                v[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                v.splice(i..i, bytes);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                v.drain(i..i + n);
            }
            4 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                let part = v[i..i + n].to_vec();
                let at = rng.below(len + 1);
                v.splice(at..at, part);
            }
            5 if len > 0 => v.truncate(rng.below(len)),
            6 if !others.is_empty() => {
                let o = &others[rng.below(others.len())];
                if !o.is_empty() {
                    let i = rng.below(o.len());
                    let n = 1 + rng.below((o.len() - i).min(256));
                    let at = rng.below(len + 1);
                    let end = (at + n).min(len);
                    v.splice(at..end, o[i..i + n].iter().copied());
                }
            }
            7 if len > 0 => {
                // A length-like byte grown or shrunk.
                let i = rng.below(len);
                v[i] = v[i].wrapping_add(rng.below(5) as u8).wrapping_sub(2);
            }
            _ => {
                let i = rng.below(len + 1);
                v.splice(i..i, [0xff, 0xff, 0xff, 0xff, 0x0f]);
            }
        }
    }
    v
}

fn crash_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/fuzz-crashes")
}

fn regressions(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("regressions")
        .join(target);
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

fn run(name: &str) {
    let (_, target) = *tallyboard_fuzz::TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .expect("target");
    let secs: f64 = std::env::var("TALLYBOARD_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let seed: u64 = std::env::var("TALLYBOARD_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
        | 1;
    eprintln!("fuzz {name}: seed {seed}, {secs} s");
    let seeds = tallyboard_fuzz::seeds(name);
    assert!(!seeds.is_empty(), "target {name} has no seed");
    let try_one = |input: &[u8], what: &str| {
        if catch_unwind(AssertUnwindSafe(|| target(input))).is_err() {
            let dir = crash_dir();
            let _ = std::fs::create_dir_all(&dir);
            let path = dir.join(format!("{name}-{}.bin", input.len()));
            let _ = std::fs::write(&path, input);
            let shown: String = input.iter().take(256).map(|b| format!("{b:02x}")).collect();
            panic!(
                "target {name} panicked on {what} ({} bytes), saved to {}: {shown}",
                input.len(),
                path.display()
            );
        }
    };
    for (i, r) in regressions(name).iter().enumerate() {
        try_one(r, &format!("regression {i}"));
    }
    for (i, s) in seeds.iter().enumerate() {
        try_one(s, &format!("seed {i}"));
    }
    try_one(&[], "the empty input");
    let mut rng = Rng(seed);
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut runs = 0u64;
    let mut corpus = seeds.clone();
    while Instant::now() < deadline {
        let base = corpus[rng.below(corpus.len())].clone();
        let input = mutate(&mut rng, &base, &seeds);
        try_one(&input, &format!("mutation {runs} (seed {seed})"));
        // Keep a few mutants as bases (deeper mutations); most inputs stay
        // one to four steps from a valid seed, which keeps them decodable.
        if rng.below(64) == 0 && corpus.len() < seeds.len() + 64 {
            corpus.push(input);
        }
        runs += 1;
    }
    eprintln!(
        "fuzz {name}: {runs} mutated inputs, no panic ({} re-signed by admission_signed)",
        tallyboard_fuzz::SIGNED.load(std::sync::atomic::Ordering::Relaxed)
    );
    assert!(runs > 0 || secs == 0.0);
}

#[test]
fn fuzz_entry() {
    run("entry");
}
#[test]
fn fuzz_admission() {
    run("admission");
}
#[test]
fn fuzz_admission_signed() {
    run("admission_signed");
}
#[test]
fn fuzz_record() {
    run("record");
}
#[test]
fn fuzz_note() {
    run("note");
}
#[test]
fn fuzz_receipt() {
    run("receipt");
}
#[test]
fn fuzz_manifest_toml() {
    run("manifest_toml");
}
#[test]
fn fuzz_roll_csv() {
    run("roll_csv");
}
#[test]
fn fuzz_crypto() {
    run("crypto");
}

/// Every target has a test above, a regression directory name and a
/// cargo-fuzz target.
#[test]
fn every_target_is_wired() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (name, _) in tallyboard_fuzz::TARGETS {
        assert!(
            here.join(format!("fuzz/fuzz_targets/{name}.rs")).is_file(),
            "no cargo-fuzz target for {name}"
        );
    }
}
