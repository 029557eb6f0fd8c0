//! Cost of the parts of a ballot's verification, in units (one variable-base
//! ristretto255 scalar multiplication), measured in thread CPU time:
//!
//! ```text
//! cargo run --release -p tallyboard-verifier --example bench_parts
//! ```
#![allow(clippy::unwrap_used)]

use rand_chacha::ChaCha20Rng;
use rand_core::{OsRng, SeedableRng};
use tallyboard_protocol::{decode_entry, verify_deferred_batch, DeferredBallotProofs, RecordState};
use tallyboard_verifier::checks::EntryKind;
use tallyboard_verifier::generate::{generate, GenOptions};
use tallyboard_verifier::verify::{measure_unit, thread_cpu_seconds};

fn per_item(label: &str, n: usize, unit: f64, f: impl FnOnce()) {
    let t = thread_cpu_seconds();
    f();
    let us = (thread_cpu_seconds() - t) * 1e6 / n as f64;
    println!("{label:<58} {us:>9.1} µs {:>6.2} units", us / unit);
}

fn main() {
    let g = generate(&GenOptions {
        ballots: 512,
        threads: 2,
        ..GenOptions::default()
    })
    .unwrap();
    let unit = measure_unit();
    println!("unit (variable-base scalar mult)                           {unit:>9.1} µs");
    let kinds: Vec<EntryKind> = g.entries.iter().map(|e| EntryKind::sniff(e)).collect();
    let of = |k: EntryKind| -> Vec<&Vec<u8>> {
        g.entries
            .iter()
            .zip(&kinds)
            .filter(|(_, x)| **x == k)
            .map(|(e, _)| e)
            .collect()
    };
    let ballots = of(EntryKind::Ballot);
    let issuances = of(EntryKind::Issuance);
    let mut st = RecordState::unbound_compact();
    let first_ballot = kinds.iter().position(|k| *k == EntryKind::Ballot).unwrap();
    for e in &g.entries[..first_ballot] {
        st.check_and_apply(e).unwrap();
    }
    let pre = st.prechecker();
    per_item(
        "issuance entry: decode + Ed25519 (strict)",
        issuances.len(),
        unit,
        || {
            for e in &issuances {
                decode_entry(e).unwrap();
            }
        },
    );
    per_item(
        "ballot entry: decode + Ed25519 (strict)",
        ballots.len(),
        unit,
        || {
            for e in &ballots {
                decode_entry(e).unwrap();
            }
        },
    );
    let deferred: Vec<DeferredBallotProofs> = ballots
        .iter()
        .map(|e| pre.precheck_deferred(e).unwrap().1.unwrap())
        .collect();
    per_item(
        "ballot: precheck_deferred (decode, signature, 32 points)",
        ballots.len(),
        unit,
        || {
            for e in &ballots {
                pre.precheck_deferred(e).unwrap();
            }
        },
    );
    per_item(
        "ballot: RSA credential (RFC 9474 verify)",
        ballots.len(),
        unit,
        || {
            for d in &deferred {
                d.verify_credential().unwrap();
            }
        },
    );
    let refs: Vec<&DeferredBallotProofs> = deferred.iter().collect();
    per_item(
        "ballot: credential + contest proofs, batches of 128",
        ballots.len(),
        unit,
        || {
            for chunk in refs.chunks(128) {
                let r = verify_deferred_batch(chunk, ChaCha20Rng::from_rng(OsRng).unwrap());
                assert!(r.iter().all(Result::is_ok));
            }
        },
    );
    per_item(
        "ballot: full precheck (one by one)",
        ballots.len(),
        unit,
        || {
            for e in &ballots {
                st.precheck(e).unwrap();
            }
        },
    );
}
