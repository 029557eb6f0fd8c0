//! Benchmarks of the threshold layer (`spec/threshold.md`). Every group also
//! measures one variable-base scalar multiplication, so results can be
//! quoted in scalar-multiplication units.
//!
//! ```text
//! CARGO_TARGET_DIR=target/h-threshold cargo bench -p tallyboard-threshold --bench threshold -- --warm-up-time 1 --measurement-time 3
//! ```

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use curve25519_dalek::ristretto::RistrettoPoint;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rand_core::OsRng;
use tallyboard_crypto::elgamal::Ciphertext;
use tallyboard_crypto::random_scalar;
use tallyboard_threshold::*;

const ELECTION: [u8; 32] = [7u8; 32];

fn scalar_mul_unit(c: &mut Criterion, group: &str) {
    let mut g = c.benchmark_group(group);
    g.bench_function("unit: scalar * RistrettoPoint", |b| {
        b.iter_batched(
            || {
                (
                    random_scalar(&mut OsRng),
                    RistrettoPoint::random(&mut OsRng),
                )
            },
            |(s, p)| black_box(s * p),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// A full ceremony: every trustee generates keys, announces, commits,
/// reveals, checks its shares (verifying every PoK), and finishes
/// (evaluating the whole record: PoPs, PoKs, complaints, keys).
fn full_dkg(t: u8, n: u8, rng: &mut ChaCha20Rng) -> (Vec<SecretShare>, DkgOutcome, DkgRecord) {
    let params = DkgParams::new(ELECTION, t, n).unwrap();
    let mut record = DkgRecord::new(params);
    let mut trustees = Vec::new();
    for i in 1..=n {
        let mut tr = Trustee::new(params, i, TrusteeKeyPair::generate(rng), rng).unwrap();
        record
            .push(DkgMessage::KeyAnnouncement(tr.announce(rng).unwrap()))
            .unwrap();
        record
            .push(DkgMessage::Commitment(tr.commit().unwrap()))
            .unwrap();
        trustees.push(tr);
    }
    let snap = record.clone();
    for tr in trustees.iter_mut() {
        record
            .push(DkgMessage::Reveal(tr.reveal(&snap, rng).unwrap()))
            .unwrap();
    }
    let snap = record.clone();
    for tr in trustees.iter_mut() {
        for c in tr.complain(&snap, rng).unwrap() {
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
    (shares, outcome.unwrap(), record)
}

fn bench_dkg(c: &mut Criterion) {
    scalar_mul_unit(c, "dkg");
    let mut g = c.benchmark_group("dkg");
    g.sample_size(10);
    let mut rng = ChaCha20Rng::from_seed([1u8; 32]);
    g.bench_function("full ceremony n=5 t=3 (all rounds, all trustees)", |b| {
        b.iter(|| black_box(full_dkg(3, 5, &mut rng)))
    });
    let (_, _, record) = full_dkg(3, 5, &mut rng);
    g.bench_function("public evaluation n=5 t=3 (verifier)", |b| {
        b.iter(|| black_box(evaluate(&record).unwrap()))
    });
    g.finish();
}

fn bench_decryption(c: &mut Criterion) {
    scalar_mul_unit(c, "decryption");
    let mut rng = ChaCha20Rng::from_seed([2u8; 32]);
    let (shares, outcome, _) = full_dkg(3, 5, &mut rng);
    let pk = &outcome.public_key;
    let counts = [120u64, 45, 300, 7, 0];
    let cts: Vec<Ciphertext> = counts
        .iter()
        .map(|&m| pk.joint_key().encrypt(m, &mut rng).0)
        .collect();
    let partials: Vec<PartialDecryption> = shares
        .iter()
        .map(|s| PartialDecryption::create(s, &cts, &mut rng).unwrap())
        .collect();
    // Build the shared discrete-log table outside the measurements.
    let _ = combine(pk, &cts, &partials[..3], 1000).unwrap();

    let mut g = c.benchmark_group("decryption");
    g.bench_function("partial decryption with proofs, 5-option tally", |b| {
        b.iter(|| black_box(PartialDecryption::create(&shares[0], &cts, &mut rng).unwrap()))
    });
    g.bench_function("verify one partial, 5-option tally", |b| {
        b.iter(|| partials[0].verify(black_box(pk), black_box(&cts)).unwrap())
    });
    g.bench_function(
        "verify 3 partials (batch) + combine + dlog, 5-option tally",
        |b| b.iter(|| black_box(combine(pk, &cts, &partials[..3], 1000).unwrap())),
    );
    g.bench_function(
        "verify 5 partials (batch) + combine + dlog, 5-option tally",
        |b| b.iter(|| black_box(combine(pk, &cts, &partials, 1000).unwrap())),
    );
    g.finish();
}

criterion_group!(benches, bench_dkg, bench_decryption);
criterion_main!(benches);
