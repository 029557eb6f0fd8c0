//! Cost of the parts of a ballot's verification, in units (one variable-base
//! ristretto255 scalar multiplication), measured in thread CPU time. The
//! unit is measured right before and right after each part (the machine's
//! speed drifts when it is shared) and the part is divided by their mean:
//!
//! ```text
//! cargo run --release -p tallyboard-verifier --example bench_parts
//! ```
#![allow(clippy::unwrap_used)]

use blind_rsa_signatures::{MessageRandomizer, Signature};
use rand_chacha::ChaCha20Rng;
use rand_core::{OsRng, SeedableRng};
use tallyboard_crypto::ed25519::SignatureBatch;
use tallyboard_protocol::credential::{credential_message, credential_options};
use tallyboard_protocol::{
    decode_entry, decode_entry_deferred, verify_deferred_batch, DeferredBallotProofs, RecordState,
};
use tallyboard_tlog::leaf_hash;
use tallyboard_verifier::checks::EntryKind;
use tallyboard_verifier::generate::{generate, GenOptions};
use tallyboard_verifier::verify::{measure_unit, thread_cpu_seconds};

fn per_item(label: &str, n: usize, f: impl FnOnce()) -> f64 {
    let before = measure_unit();
    let t = thread_cpu_seconds();
    f();
    let us = (thread_cpu_seconds() - t) * 1e6 / n as f64;
    let unit = (before + measure_unit()) / 2.0;
    println!("{label:<58} {us:>9.1} µs {:>6.2} units", us / unit);
    us / unit
}

fn main() {
    let g = generate(&GenOptions {
        ballots: 1024,
        threads: 2,
        ..GenOptions::default()
    })
    .unwrap();
    let unit = measure_unit();
    println!("unit (variable-base scalar mult), at the start             {unit:>9.1} µs");
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
    let ed_single = per_item(
        "issuance entry: decode + Ed25519 alone (spec/crypto.md §10.1)",
        issuances.len(),
        || {
            for e in &issuances {
                decode_entry(e).unwrap();
            }
        },
    );
    let iss_decoded = per_item(
        "issuance entry: decode, signature deferred",
        issuances.len(),
        || {
            for e in &issuances {
                decode_entry_deferred(e).unwrap();
            }
        },
    );
    let leaf = per_item(
        "ballot: leaf hash (SHA-256 of the entry)",
        ballots.len(),
        || {
            for e in &ballots {
                std::hint::black_box(leaf_hash(e));
            }
        },
    );
    let ballot_single = per_item(
        "ballot entry: decode + Ed25519 alone",
        ballots.len(),
        || {
            for e in &ballots {
                decode_entry(e).unwrap();
            }
        },
    );
    let ballot_decoded = per_item(
        "ballot entry: decode, signature deferred",
        ballots.len(),
        || {
            for e in &ballots {
                decode_entry_deferred(e).unwrap();
            }
        },
    );
    // The verifier's chunks interleave issuance entries and ballots.
    let mixed: Vec<_> = issuances
        .iter()
        .zip(&ballots)
        .flat_map(|(i, b)| {
            [
                decode_entry_deferred(i).unwrap().1,
                decode_entry_deferred(b).unwrap().1,
            ]
        })
        .collect();
    let sig_batch = per_item(
        "ballot + its issuance entry: 2 signatures, batches of 256",
        ballots.len(),
        || {
            for chunk in mixed.chunks(256) {
                let mut b = SignatureBatch::new(ChaCha20Rng::from_rng(OsRng).unwrap());
                for s in chunk {
                    b.push(s);
                }
                assert!(b.vartime_verify());
            }
        },
    );
    println!(
        "{:<58} {:>12} {:>6.2} units",
        "  (the same two checked alone, for comparison)",
        "",
        (ed_single - iss_decoded) + (ballot_single - ballot_decoded)
    );
    let deferred: Vec<DeferredBallotProofs> = ballots
        .iter()
        .map(|e| pre.precheck_deferred(e).unwrap().1.unwrap())
        .collect();
    let decoded: Vec<_> = ballots
        .iter()
        .map(|e| decode_entry_deferred(e).unwrap().0)
        .collect();
    let contests = per_item(
        "ballot: rules and contest decoding (28 point decompressions)",
        ballots.len(),
        || {
            for d in decoded {
                pre.precheck_decoded_deferred(d).unwrap();
            }
        },
    );
    let rsa = per_item(
        "ballot: RSA credential (RFC 9474 verify)",
        ballots.len(),
        || {
            for d in &deferred {
                d.verify_credential().unwrap();
            }
        },
    );
    // The same check through blind-rsa-signatures 0.15 (rsa 0.8), the
    // verifier's credential check before it moved to ring, for comparison.
    let creds: Vec<_> = (0..256u64)
        .map(|v| g.election.credential(v).unwrap())
        .collect();
    let fp = g.election.fingerprint();
    let old_pk = &g.election.issuer_rsa.pk;
    let opts = credential_options();
    per_item(
        "  same, through blind-rsa-signatures 0.15 (before)",
        creds.len(),
        || {
            for (k, sig, rnd) in &creds {
                let msg = credential_message(&fp, &k.verifying_key().to_bytes());
                let r = MessageRandomizer(rnd[..].try_into().unwrap());
                old_pk
                    .verify(&Signature(sig.clone()), Some(r), msg, &opts)
                    .unwrap();
            }
        },
    );
    let refs: Vec<&DeferredBallotProofs> = deferred.iter().collect();
    let mut batched = 0.0;
    for size in [64, 128, 512] {
        let b = per_item(
            &format!("ballot: credential + contest proofs, batches of {size}"),
            ballots.len(),
            || {
                for chunk in refs.chunks(size) {
                    let r = verify_deferred_batch(chunk, ChaCha20Rng::from_rng(OsRng).unwrap());
                    assert!(r.iter().all(Result::is_ok));
                }
            },
        );
        if size == 128 {
            batched = b;
            println!(
                "{:<58} {:>12} {:>6.2} units",
                "  of which contest proofs (one multiscalar mult per batch)",
                "",
                b - rsa
            );
        }
    }
    println!(
        "{:<58} {:>12} {:>6.2} units",
        "ballot and its issuance entry, a worker's total",
        "",
        leaf + iss_decoded + ballot_decoded + sig_batch + contests + batched
    );
    per_item("ballot: full precheck (one by one)", ballots.len(), || {
        for e in &ballots {
            st.precheck(e).unwrap();
        }
    });
}
