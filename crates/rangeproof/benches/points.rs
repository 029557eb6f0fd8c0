//! Points ballots: encrypt+prove and verify a 5-option ballot
//! (`spec/range-proofs.md` §5, §4.6). Each group also measures one
//! variable-base scalar multiplication, the unit results are quoted in.
//!
//! `cargo bench -p tallyboard-rangeproof --bench points -- --warm-up-time 1 --measurement-time 3`

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use rand_chacha::rand_core::{OsRng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use std::hint::black_box;
use tallyboard_crypto::batch::{Base, BatchVerifier};
use tallyboard_crypto::elgamal::SecretKey;
use tallyboard_crypto::transcript::ProofContext;
use tallyboard_rangeproof::{PointsBallot, PointsRules, TotalRule};

fn scalar_mult_unit(c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    c.bench_function("scalar_mult_unit", |b| {
        b.iter_batched(
            || {
                (
                    Scalar::random(&mut OsRng),
                    RistrettoPoint::random(&mut OsRng),
                )
            },
            |(s, p)| black_box(s * p),
            BatchSize::SmallInput,
        )
    });
}

fn bench_config(c: &mut Criterion, name: &str, values: &[u64], maxes: &[u64], total: TotalRule) {
    let mut rng = ChaCha20Rng::from_seed([1; 32]);
    let pk = SecretKey::generate(&mut rng).public_key().expect("key");
    let rules = PointsRules::new(maxes, total).expect("rules");
    let ctx = ProofContext::new([0x42; 32])
        .with(b"credential", &[7; 32])
        .with(b"contest", b"points");
    let (ballot, _) = PointsBallot::encrypt(&pk, &rules, values, &ctx, &mut rng).expect("ballot");
    let mut g = c.benchmark_group(name);
    g.sample_size(10);
    g.bench_function("encrypt_prove", |b| {
        b.iter(|| {
            black_box(PointsBallot::encrypt(&pk, &rules, values, &ctx, &mut rng).expect("ballot"))
        })
    });
    g.bench_function("verify", |b| {
        b.iter(|| ballot.verify(&pk, &rules, &ctx).expect("verifies"))
    });
    g.bench_function("batch_verify_1", |b| {
        b.iter(|| {
            let mut batch = BatchVerifier::new(OsRng);
            let k = batch.register(*pk.point());
            ballot
                .batch_verify(&pk, Base::Shared(k), &rules, &ctx, &mut batch)
                .expect("range proof");
            assert!(batch.vartime_verify());
        })
    });
    g.bench_function("decode", |b| {
        let bytes = ballot.to_bytes();
        b.iter(|| black_box(PointsBallot::from_bytes(&bytes).expect("decodes")))
    });
    scalar_mult_unit(&mut g);
    g.finish();
}

fn points(c: &mut Criterion) {
    bench_config(
        c,
        "points_5x100_atmost100",
        &[20, 30, 0, 45, 5],
        &[100; 5],
        TotalRule::AtMost(100),
    );
    bench_config(
        c,
        "points_5x100_exactly100",
        &[20, 30, 0, 45, 5],
        &[100; 5],
        TotalRule::Exactly(100),
    );
    let w = 1u64 << 32;
    bench_config(
        c,
        "points_5x2^32_atmost2^32",
        &[w / 2, w / 4, 0, w / 8, 3],
        &[w; 5],
        TotalRule::AtMost(w),
    );
}

criterion_group!(benches, points);
criterion_main!(benches);
