//! Ballot benchmarks (`spec/crypto.md` §5.2, §5.4). Every group also
//! measures one variable-base scalar multiplication (`Scalar *
//! RistrettoPoint`, the "unit") so results can be quoted as ratios.
//!
//! ```text
//! cargo bench -p tallyboard-crypto --bench ballot -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Times are the benchmark thread's **CPU time**
//! (`clock_gettime(CLOCK_THREAD_CPUTIME_ID)`), not wall time, so that the
//! ratios stay meaningful on a shared machine where the thread waits for a
//! core; where that clock is unavailable, wall time is used.
#![allow(non_snake_case)]

use std::time::{Duration, Instant};

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{
    black_box, criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput,
};
use curve25519_dalek::traits::{MultiscalarMul, VartimeMultiscalarMul};
use rand_chacha::ChaCha20Rng;
use rand_core::{OsRng, SeedableRng};
use tallyboard_crypto::contest::{
    encrypt_contest, verify_contests_batched, ContestRule, EncryptedContest,
};
use tallyboard_crypto::dlog::{DlogTable, DEFAULT_BABY_STEPS};
use tallyboard_crypto::elgamal::{EncodedCiphertext, PublicKey, SecretKey};
use tallyboard_crypto::encoding::{half, EncodedPoint};
use tallyboard_crypto::generators::{G_table, G};
use tallyboard_crypto::proofs::cds_range::CdsRangeProof;
use tallyboard_crypto::transcript::{labels, ProofContext, ProofTranscript};
use tallyboard_crypto::{random_scalar, RistrettoPoint, Scalar};

const BALLOTS: usize = 10_000;

/// Thread CPU time as a criterion measurement.
struct ThreadCpu(WallTime);

fn thread_cpu_ns() -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the call only writes it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return None;
    }
    Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

impl Measurement for ThreadCpu {
    type Intermediate = (Instant, Option<u64>);
    type Value = Duration;

    fn start(&self) -> Self::Intermediate {
        (Instant::now(), thread_cpu_ns())
    }
    fn end(&self, (wall, cpu): Self::Intermediate) -> Duration {
        match (cpu, thread_cpu_ns()) {
            (Some(a), Some(b)) => Duration::from_nanos(b.saturating_sub(a)),
            _ => wall.elapsed(),
        }
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, v: &Duration) -> f64 {
        v.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        self.0.formatter()
    }
}

type Group<'a> = BenchmarkGroup<'a, ThreadCpu>;
type Crit = Criterion<ThreadCpu>;

fn unit(c: &mut Group<'_>) {
    let mut rng = ChaCha20Rng::from_seed([1u8; 32]);
    let p = RistrettoPoint::random(&mut rng);
    let s = random_scalar(&mut rng);
    c.throughput(Throughput::Elements(1));
    c.bench_function("unit: variable-base scalar mult", |b| {
        b.iter(|| black_box(s) * black_box(p))
    });
}

fn setup() -> (PublicKey, ContestRule, ProofContext, ChaCha20Rng) {
    let mut rng = ChaCha20Rng::from_seed([7u8; 32]);
    let pk = SecretKey::generate(&mut rng).public_key().expect("key");
    let ctx = ProofContext::new([3u8; 32])
        .with(b"credential", &[9u8; 32])
        .with(b"contest", b"governor");
    (pk, ContestRule::one_of(5).expect("rule"), ctx, rng)
}

fn ballot(c: &mut Crit) {
    let (pk, rule, ctx, mut rng) = setup();
    let mut g = c.benchmark_group("ballot one-of-5");
    unit(&mut g);
    g.bench_function("encrypt+prove", |b| {
        b.iter(|| encrypt_contest(&pk, &[0, 0, 1, 0, 0], &rule, &ctx, &mut rng).expect("ok"))
    });
    let (contest, _) = encrypt_contest(&pk, &[0, 1, 0, 0, 0], &rule, &ctx, &mut rng).expect("ok");
    let bytes = contest.to_bytes();
    g.bench_function("decode (28 point decompressions)", |b| {
        b.iter(|| EncryptedContest::from_bytes(black_box(&bytes)).expect("ok"))
    });
    g.bench_function("verify one by one (decoded)", |b| {
        b.iter(|| contest.verify(&pk, &rule, &ctx).expect("ok"))
    });
    g.bench_function("decode+verify one by one", |b| {
        b.iter(|| {
            EncryptedContest::from_bytes(black_box(&bytes))
                .expect("ok")
                .verify(&pk, &rule, &ctx)
                .expect("ok")
        })
    });
    let points: Vec<RistrettoPoint> = (0..32).map(|_| RistrettoPoint::random(&mut rng)).collect();
    let compressed: Vec<_> = points.iter().map(|p| p.compress()).collect();
    g.bench_function("32 point decompressions", |b| {
        b.iter(|| {
            for c in &compressed {
                black_box(c.decompress());
            }
        })
    });
    g.bench_function("32 point compressions, one by one", |b| {
        b.iter(|| {
            for p in &points {
                black_box(p.compress());
            }
        })
    });
    g.bench_function("32 point compressions, batched", |b| {
        b.iter(|| EncodedPoint::batch_from_halves(black_box(&points)))
    });
    g.finish();
}

fn batch(c: &mut Crit) {
    let (pk, rule, ctx, mut rng) = setup();
    let ctxs: Vec<ProofContext> = (0..BALLOTS as u64)
        .map(|i| ctx.clone().with_u64(b"ballot", i))
        .collect();
    let contests: Vec<EncryptedContest> = ctxs
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let mut sel = [0u64; 5];
            sel[i % 5] = 1;
            encrypt_contest(&pk, &sel, &rule, x, &mut rng)
                .expect("ok")
                .0
        })
        .collect();
    let bytes: Vec<Vec<u8>> = contests.iter().map(|c| c.to_bytes()).collect();
    let mut g = c.benchmark_group("ballot one-of-5, batch of 10000");
    g.sample_size(10);
    unit(&mut g);
    g.throughput(Throughput::Elements(BALLOTS as u64));
    g.bench_function("verify batched (decoded)", |b| {
        b.iter(|| {
            verify_contests_batched(
                &pk,
                &rule,
                contests.iter().zip(&ctxs),
                ChaCha20Rng::from_rng(OsRng).expect("rng"),
            )
            .expect("ok")
        })
    });
    g.bench_function("decode+verify batched", |b| {
        b.iter(|| {
            let decoded: Vec<EncryptedContest> = bytes
                .iter()
                .map(|b| EncryptedContest::from_bytes(b).expect("ok"))
                .collect();
            verify_contests_batched(
                &pk,
                &rule,
                decoded.iter().zip(&ctxs),
                ChaCha20Rng::from_rng(OsRng).expect("rng"),
            )
            .expect("ok")
        })
    });
    g.finish();
}

fn dlog(c: &mut Crit) {
    let mut g = c.benchmark_group("dlog");
    g.sample_size(10);
    unit(&mut g);
    g.bench_function("table build (2^16 baby steps)", |b| {
        b.iter(|| DlogTable::new(black_box(DEFAULT_BABY_STEPS)))
    });
    let table = DlogTable::default_table();
    let m = 1_000_000_000u64;
    let target = G_table() * &Scalar::from(m);
    g.bench_function("dlog of 10^9 (default table)", |b| {
        b.iter(|| assert_eq!(table.vartime_dlog(black_box(&target), m), Some(m)))
    });
    g.finish();
}

/// Commitment form (what this crate sends: 224 bytes for R = 1) against
/// challenge form (c_0, c_1, z_0, z_1: 128 bytes), where the verifier must
/// recompute the four commitments before hashing them.
fn forms(c: &mut Crit) {
    let (pk, _, ctx, mut rng) = setup();
    let ctx = tallyboard_crypto::contest::option_context(&ctx, 0);
    let (ct, _, proof) = CdsRangeProof::encrypt_and_prove(&ctx, &pk, 1, 1, &mut rng).expect("ok");
    let bytes = proof.to_bytes();
    let sc = |i: usize| {
        tallyboard_crypto::encoding::decode_scalar(&bytes[i * 32..i * 32 + 32], "b").expect("ok")
    };
    let (c0, z0, z1) = (sc(4), sc(5), sc(6));
    let statement = |ct: &EncodedCiphertext| {
        let mut t = ProofTranscript::new(labels::CDS_RANGE, &ctx);
        t.append_message(labels::MSG_G, G().compress().as_bytes());
        t.append_message(labels::MSG_K, &pk.to_bytes());
        t.append_u64(labels::MSG_RANGE, 1);
        t.append_message(labels::MSG_ALPHA, ct.alpha().as_bytes());
        t.append_message(labels::MSG_BETA, ct.beta().as_bytes());
        t
    };
    let mut t = statement(&ct);
    for i in 0..4 {
        t.append_message(
            if i & 1 == 0 {
                labels::MSG_CDS_A
            } else {
                labels::MSG_CDS_B
            },
            &bytes[i * 32..i * 32 + 32],
        );
    }
    let c_full = t.challenge_scalar();
    let c1 = c_full - c0;
    let challenge_form = [c0, c1, z0, z1];

    let mut g = c.benchmark_group("cds R=1 proof forms");
    unit(&mut g);
    g.bench_function("commitment form: decode proof (4 decompressions)", |b| {
        b.iter(|| CdsRangeProof::from_bytes(black_box(&bytes), 1).expect("ok"))
    });
    g.bench_function("commitment form: verify alone (decoded)", |b| {
        b.iter(|| proof.verify(&ctx, &pk, 1, &ct).expect("ok"))
    });
    g.bench_function("challenge form: verify (recompute 4 commitments)", |b| {
        b.iter(|| {
            let [c0, c1, z0, z1] = black_box(challenge_form);
            let (alpha, beta) = (*ct.alpha().point(), *ct.beta().point());
            let hf = half();
            // ½·a_j, ½·b_j, then one batched compression.
            let halves = [
                RistrettoPoint::vartime_double_scalar_mul_basepoint(
                    &(-c0 * hf),
                    &alpha,
                    &(z0 * hf),
                ),
                RistrettoPoint::vartime_multiscalar_mul([z0 * hf, -c0 * hf], [*pk.point(), beta]),
                RistrettoPoint::vartime_double_scalar_mul_basepoint(
                    &(-c1 * hf),
                    &alpha,
                    &(z1 * hf),
                ),
                RistrettoPoint::vartime_multiscalar_mul(
                    [z1 * hf, -c1 * hf, c1 * hf],
                    [*pk.point(), beta, G()],
                ),
            ];
            let enc = EncodedPoint::batch_from_halves(&halves);
            let mut t = statement(&ct);
            for (i, e) in enc.iter().enumerate() {
                t.append_message(
                    if i & 1 == 0 {
                        labels::MSG_CDS_A
                    } else {
                        labels::MSG_CDS_B
                    },
                    e.as_bytes(),
                );
            }
            assert_eq!(t.challenge_scalar(), c0 + c1);
        })
    });
    // Constant-time multiscalar for reference (what a prover would pay).
    let s = [random_scalar(&mut rng), random_scalar(&mut rng)];
    let p = [
        RistrettoPoint::random(&mut rng),
        RistrettoPoint::random(&mut rng),
    ];
    g.bench_function("reference: 2-term constant-time multiscalar", |b| {
        b.iter(|| RistrettoPoint::multiscalar_mul(black_box(s), black_box(p)))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpu(WallTime));
    targets = ballot, batch, dlog, forms
}
criterion_main!(benches);
