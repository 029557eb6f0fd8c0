//! Costs of the issuer's operations (`spec/issuer.md` §9).
//!
//! ```text
//! cargo bench -p tallyboard-issuer --bench issuer
//! ```

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use tallyboard_issuer::codes::{hash_code, verify_code, Argon2Profile, EnrollmentCode};
use tallyboard_issuer::credential::{
    blind, blind_sign, finalize, verify_credential_with, IssuerSecretKey,
};

fn argon2(c: &mut Criterion) {
    let mut group = c.benchmark_group("argon2id");
    group.sample_size(10);
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let code = EnrollmentCode::generate(&mut rng);
    for profile in [Argon2Profile::Fast, Argon2Profile::Default] {
        let phc = hash_code(&code, profile).expect("hash");
        group.bench_function(BenchmarkId::new("hash", profile.name()), |b| {
            b.iter(|| hash_code(&code, profile).expect("hash"))
        });
        group.bench_function(BenchmarkId::new("verify", profile.name()), |b| {
            b.iter(|| assert!(verify_code(&code, &phc)))
        });
    }
    group.finish();
}

fn rsa(c: &mut Criterion) {
    let mut group = c.benchmark_group("blind-rsa");
    group.sample_size(10);
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let fp = [7u8; 32];
    let cred = ed25519_dalek::SigningKey::generate(&mut rng)
        .verifying_key()
        .to_bytes();
    for bits in [2048usize, 3072] {
        let sk = IssuerSecretKey::generate(&mut rng, bits).expect("key");
        let pk = sk.public_key().clone();
        let (blinded, secret) = blind(&pk, &fp, &cred, &mut rng).expect("blind");
        let blind_sig = blind_sign(&sk, &blinded).expect("sign");
        let sig = finalize(&pk, &secret, &blind_sig).expect("finalize");
        group.bench_function(BenchmarkId::new("blind", bits), |b| {
            b.iter(|| blind(&pk, &fp, &cred, &mut rng).expect("blind"))
        });
        group.bench_function(BenchmarkId::new("blind_sign", bits), |b| {
            b.iter(|| blind_sign(&sk, &blinded).expect("sign"))
        });
        group.bench_function(BenchmarkId::new("finalize", bits), |b| {
            b.iter(|| finalize(&pk, &secret, &blind_sig).expect("finalize"))
        });
        group.bench_function(BenchmarkId::new("verify", bits), |b| {
            b.iter(|| {
                verify_credential_with(&pk, &fp, &cred, &sig.signature, &sig.randomizer)
                    .expect("verify")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, argon2, rsa);
criterion_main!(benches);
