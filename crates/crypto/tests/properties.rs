//! Property tests for every proof and for contests (`spec/crypto.md` §6, §8):
//! honest proofs verify; flipping any bit of the proof bytes, of the
//! statement or of the context makes verification fail; batched and
//! one-by-one verification accept and reject exactly the same inputs;
//! decoding rejects every malformed class.
#![allow(non_snake_case)]

use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::{OsRng, SeedableRng};
use tallyboard_crypto::batch::{Base, BatchVerifier};
use tallyboard_crypto::contest::{
    encrypt_contest, option_context, verify_contests_batched, ContestRule, EncryptedContest,
    SumRule,
};
use tallyboard_crypto::elgamal::{Ciphertext, EncodedCiphertext, Nonce, PublicKey, SecretKey};
use tallyboard_crypto::generators::{hash_to_group, G};
use tallyboard_crypto::proofs::cds_range::CdsRangeProof;
use tallyboard_crypto::proofs::chaum_pedersen::{ChaumPedersenProof, DleqStatement};
use tallyboard_crypto::proofs::schnorr::SchnorrProof;
use tallyboard_crypto::proofs::sum::{SumExactProof, SumRangeProof};
use tallyboard_crypto::transcript::{labels, ProofContext};
use tallyboard_crypto::{random_scalar, DecodeError, RistrettoPoint};

/// ℓ in little-endian: the smallest non-canonical scalar encoding.
const ELL: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: n,
        ..ProptestConfig::default()
    }
}

fn flip(bytes: &[u8], bit: usize) -> Vec<u8> {
    let mut b = bytes.to_vec();
    let i = bit % (b.len() * 8);
    b[i / 8] ^= 1 << (i % 8);
    b
}

fn ctx_from(seed: u8, item: &[u8]) -> ProofContext {
    ProofContext::new([seed; 32])
        .with(b"credential", item)
        .with(b"contest", b"c-1")
}

/// The context with one bit of its election fingerprint or of its first
/// item's value flipped.
fn flip_ctx(seed: u8, item: &[u8], bit: usize) -> ProofContext {
    if bit & 1 == 0 {
        let mut e = [seed; 32];
        e[(bit / 2) % 32] ^= 1 << (bit % 8);
        ProofContext::new(e)
            .with(b"credential", item)
            .with(b"contest", b"c-1")
    } else {
        ctx_from(seed, &flip(item, bit / 2))
    }
}

fn keypair(rng: &mut ChaCha20Rng) -> (SecretKey, PublicKey) {
    let sk = SecretKey::generate(rng);
    let pk = sk.public_key().unwrap();
    (sk, pk)
}

/// Replaces the 32-byte element at `index` with a different valid element
/// of the same kind (the proof still decodes, but is wrong).
fn replace_element(bytes: &[u8], index: usize, is_point: bool, rng: &mut ChaCha20Rng) -> Vec<u8> {
    let mut b = bytes.to_vec();
    let i = index % (b.len() / 32);
    let new = if is_point {
        RistrettoPoint::random(rng).compress().to_bytes()
    } else {
        random_scalar(rng).to_bytes()
    };
    b[i * 32..i * 32 + 32].copy_from_slice(&new);
    b
}

fn one_batch<F>(push: F) -> bool
where
    F: FnOnce(&mut BatchVerifier<OsRng>) -> bool,
{
    let mut b = BatchVerifier::new(OsRng);
    push(&mut b) && b.vartime_verify()
}

// ------------------------------------------------------------------ Schnorr

proptest! {
    #![proptest_config(cases(48))]

    #[test]
    fn schnorr_properties(seed in any::<[u8; 32]>(), bit in any::<usize>(), elem in any::<usize>()) {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let ctx = ctx_from(1, b"trustee-1");
        let x = random_scalar(&mut rng);
        let (Y, p) = SchnorrProof::prove(&ctx, &G(), &x, &mut rng).unwrap();
        let bytes = p.to_bytes();
        let single = |p: &SchnorrProof, ctx: &ProofContext, Y: &RistrettoPoint| p.verify(ctx, &G(), Y).is_ok();
        let batched = |p: &SchnorrProof, ctx: &ProofContext, Y: &RistrettoPoint| {
            one_batch(|b| p.batch_verify(ctx, Base::G, &G(), Y, b).is_ok())
        };
        prop_assert!(single(&p, &ctx, &Y) && batched(&p, &ctx, &Y));
        // Any bit of the proof.
        if let Ok(q) = SchnorrProof::from_bytes(&flip(&bytes, bit)) {
            prop_assert!(!single(&q, &ctx, &Y));
            prop_assert!(!batched(&q, &ctx, &Y));
        }
        // A decodable but wrong proof: both verifiers reject.
        let q = SchnorrProof::from_bytes(&replace_element(&bytes, elem, elem & 1 == 0, &mut rng)).unwrap();
        prop_assert_eq!(single(&q, &ctx, &Y), batched(&q, &ctx, &Y));
        prop_assert!(!single(&q, &ctx, &Y));
        // Statement and context.
        let Y2 = tallyboard_crypto::encoding::decode_point(&flip(Y.compress().as_bytes(), bit), "t");
        if let Ok(Y2) = Y2 {
            prop_assert!(!single(&p, &ctx, &Y2) && !batched(&p, &ctx, &Y2));
        }
        let c2 = flip_ctx(1, b"trustee-1", bit);
        prop_assert!(!single(&p, &c2, &Y) && !batched(&p, &c2, &Y));
    }

    #[test]
    fn chaum_pedersen_properties(seed in any::<[u8; 32]>(), bit in any::<usize>(), elem in any::<usize>()) {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let ctx = ctx_from(2, b"trustee-2");
        let x = random_scalar(&mut rng);
        let B2 = RistrettoPoint::random(&mut rng);
        let st = DleqStatement { B1: G(), Y1: x * G(), B2, Y2: x * B2 };
        let p = ChaumPedersenProof::prove(labels::PARTIAL_DECRYPTION, &ctx, &st, &x, &mut rng).unwrap();
        let single = |p: &ChaumPedersenProof, ctx: &ProofContext, st: &DleqStatement| {
            p.verify(labels::PARTIAL_DECRYPTION, ctx, st).is_ok()
        };
        let batched = |p: &ChaumPedersenProof, ctx: &ProofContext, st: &DleqStatement| {
            one_batch(|b| p.batch_verify(labels::PARTIAL_DECRYPTION, ctx, st, Base::G, Base::Point(st.B2), b).is_ok())
        };
        prop_assert!(single(&p, &ctx, &st) && batched(&p, &ctx, &st));
        let bytes = p.to_bytes();
        if let Ok(q) = ChaumPedersenProof::from_bytes(&flip(&bytes, bit)) {
            prop_assert!(!single(&q, &ctx, &st) && !batched(&q, &ctx, &st));
        }
        let q = ChaumPedersenProof::from_bytes(&replace_element(&bytes, elem, elem % 3 != 2, &mut rng)).unwrap();
        prop_assert!(!single(&q, &ctx, &st) && !batched(&q, &ctx, &st));
        let bad = DleqStatement { Y2: st.Y2 + G(), ..st };
        prop_assert!(!single(&p, &ctx, &bad) && !batched(&p, &ctx, &bad));
        let c2 = flip_ctx(2, b"trustee-2", bit);
        prop_assert!(!single(&p, &c2, &st) && !batched(&p, &c2, &st));
        prop_assert!(p.verify(labels::SUM_EXACT, &ctx, &st).is_err());
    }
}

// ------------------------------------------------------------------ CDS range

fn cds_single(
    p: &CdsRangeProof,
    ctx: &ProofContext,
    pk: &PublicKey,
    R: u64,
    ct: &EncodedCiphertext,
) -> bool {
    p.verify(ctx, pk, R, ct).is_ok()
}

fn cds_batched(
    p: &CdsRangeProof,
    ctx: &ProofContext,
    pk: &PublicKey,
    R: u64,
    ct: &EncodedCiphertext,
) -> bool {
    one_batch(|b| p.batch_verify(ctx, pk, R, ct, b).is_ok())
}

proptest! {
    #![proptest_config(cases(48))]

    #[test]
    fn cds_range_properties(
        seed in any::<[u8; 32]>(),
        R in 0u64..=6,
        v_frac in any::<u64>(),
        bit in any::<usize>(),
        elem in any::<usize>(),
    ) {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let (_, pk) = keypair(&mut rng);
        let v = v_frac % (R + 1);
        let ctx = ctx_from(3, b"cred");
        let (ct, r, p) = CdsRangeProof::encrypt_and_prove(&ctx, &pk, R, v, &mut rng).unwrap();
        prop_assert_eq!(ct.ciphertext(), pk.encrypt_with(v, &r));
        prop_assert!(cds_single(&p, &ctx, &pk, R, &ct) && cds_batched(&p, &ctx, &pk, R, &ct));
        let bytes = p.to_bytes();
        prop_assert_eq!(bytes.len(), CdsRangeProof::encoded_len(R));
        prop_assert_eq!(&CdsRangeProof::from_bytes(&bytes, R).unwrap(), &p);

        // Proof bits.
        if let Ok(q) = CdsRangeProof::from_bytes(&flip(&bytes, bit), R) {
            prop_assert!(!cds_single(&q, &ctx, &pk, R, &ct) && !cds_batched(&q, &ctx, &pk, R, &ct));
        }
        let n_points = 2 * (R as usize + 1);
        let i = elem % (bytes.len() / 32);
        let q = CdsRangeProof::from_bytes(&replace_element(&bytes, i, i < n_points, &mut rng), R).unwrap();
        prop_assert!(!cds_single(&q, &ctx, &pk, R, &ct) && !cds_batched(&q, &ctx, &pk, R, &ct));

        // Statement: the ciphertext's bits, the range, the key.
        if let Ok(ct2) = EncodedCiphertext::from_bytes(&flip(&ct.to_bytes(), bit)) {
            prop_assert!(!cds_single(&p, &ctx, &pk, R, &ct2) && !cds_batched(&p, &ctx, &pk, R, &ct2));
        }
        prop_assert!(!cds_single(&p, &ctx, &pk, R + 1, &ct) && !cds_batched(&p, &ctx, &pk, R + 1, &ct));
        let (_, pk2) = keypair(&mut rng);
        prop_assert!(!cds_single(&p, &ctx, &pk2, R, &ct) && !cds_batched(&p, &ctx, &pk2, R, &ct));
        // Context.
        let c2 = flip_ctx(3, b"cred", bit);
        prop_assert!(!cds_single(&p, &c2, &pk, R, &ct) && !cds_batched(&p, &c2, &pk, R, &ct));
    }

    /// A ciphertext of a value outside [0, R] cannot be given a proof that
    /// verifies by re-using the honest machinery with a false witness.
    #[test]
    fn cds_range_refuses_out_of_range(seed in any::<[u8; 32]>(), R in 0u64..=4, extra in 1u64..=3) {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let (_, pk) = keypair(&mut rng);
        let ctx = ctx_from(3, b"cred");
        let (ct, r) = pk.encrypt(R + extra, &mut rng);
        let ct = EncodedCiphertext::new(&ct);
        for v in 0..=R {
            prop_assert!(CdsRangeProof::prove(&ctx, &pk, R, &ct, v, &r, &mut rng).is_err());
        }
        prop_assert!(CdsRangeProof::prove(&ctx, &pk, R, &ct, R + extra, &r, &mut rng).is_err());
    }
}

// ------------------------------------------------------------------ sums

fn encrypt_all(
    pk: &PublicKey,
    values: &[u64],
    rng: &mut ChaCha20Rng,
) -> (Vec<EncodedCiphertext>, Vec<Nonce>) {
    values
        .iter()
        .map(|&v| {
            let (ct, r) = pk.encrypt(v, rng);
            (EncodedCiphertext::new(&ct), r)
        })
        .unzip()
}

proptest! {
    #![proptest_config(cases(32))]

    #[test]
    fn sum_exact_properties(
        seed in any::<[u8; 32]>(),
        values in proptest::collection::vec(0u64..3, 1..6),
        bit in any::<usize>(),
        elem in any::<usize>(),
    ) {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let (_, pk) = keypair(&mut rng);
        let ctx = ctx_from(4, b"cred");
        let L: u64 = values.iter().sum();
        let (cts, nonces) = encrypt_all(&pk, &values, &mut rng);
        let p = SumExactProof::prove(&ctx, &pk, &cts, L, &nonces, &mut rng).unwrap();
        let single = |p: &SumExactProof, ctx: &ProofContext, cts: &[EncodedCiphertext], L: u64| p.verify(ctx, &pk, cts, L).is_ok();
        let batched = |p: &SumExactProof, ctx: &ProofContext, cts: &[EncodedCiphertext], L: u64| {
            one_batch(|b| p.batch_verify(ctx, &pk, cts, L, b).is_ok())
        };
        prop_assert!(single(&p, &ctx, &cts, L) && batched(&p, &ctx, &cts, L));
        let bytes = p.to_bytes();
        if let Ok(q) = SumExactProof::from_bytes(&flip(&bytes, bit)) {
            prop_assert!(!single(&q, &ctx, &cts, L) && !batched(&q, &ctx, &cts, L));
        }
        let q = SumExactProof::from_bytes(&replace_element(&bytes, elem, elem % 3 != 2, &mut rng)).unwrap();
        prop_assert!(!single(&q, &ctx, &cts, L) && !batched(&q, &ctx, &cts, L));
        // Statement: L, any ciphertext bit, one ciphertext fewer.
        prop_assert!(!single(&p, &ctx, &cts, L + 1) && !batched(&p, &ctx, &cts, L + 1));
        let i = bit % cts.len();
        let mut cts2 = cts.clone();
        if let Ok(ct) = EncodedCiphertext::from_bytes(&flip(&cts[i].to_bytes(), bit / 7)) {
            cts2[i] = ct;
            prop_assert!(!single(&p, &ctx, &cts2, L) && !batched(&p, &ctx, &cts2, L));
        }
        if cts.len() > 1 {
            prop_assert!(!single(&p, &ctx, &cts[1..], L) && !batched(&p, &ctx, &cts[1..], L));
        }
        let c2 = flip_ctx(4, b"cred", bit);
        prop_assert!(!single(&p, &c2, &cts, L) && !batched(&p, &c2, &cts, L));
        // Wrong total: refused before proving.
        prop_assert!(SumExactProof::prove(&ctx, &pk, &cts, L + 1, &nonces, &mut rng).is_err());
    }

    #[test]
    fn sum_range_properties(
        seed in any::<[u8; 32]>(),
        values in proptest::collection::vec(0u64..3, 1..5),
        below in 0u64..3,
        above in 0u64..3,
        bit in any::<usize>(),
        elem in any::<usize>(),
    ) {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let (_, pk) = keypair(&mut rng);
        let ctx = ctx_from(5, b"cred");
        let total: u64 = values.iter().sum();
        let (min, max) = (total.saturating_sub(below), total + above);
        let (cts, nonces) = encrypt_all(&pk, &values, &mut rng);
        let p = SumRangeProof::prove(&ctx, &pk, &cts, min, max, total, &nonces, &mut rng).unwrap();
        let single = |p: &SumRangeProof, ctx: &ProofContext, cts: &[EncodedCiphertext], min: u64, max: u64| {
            p.verify(ctx, &pk, cts, min, max).is_ok()
        };
        let batched = |p: &SumRangeProof, ctx: &ProofContext, cts: &[EncodedCiphertext], min: u64, max: u64| {
            one_batch(|b| p.batch_verify(ctx, &pk, cts, min, max, b).is_ok())
        };
        prop_assert!(single(&p, &ctx, &cts, min, max) && batched(&p, &ctx, &cts, min, max));
        let bytes = p.to_bytes();
        prop_assert_eq!(&SumRangeProof::from_bytes(&bytes, min, max).unwrap(), &p);
        if let Ok(q) = SumRangeProof::from_bytes(&flip(&bytes, bit), min, max) {
            prop_assert!(!single(&q, &ctx, &cts, min, max) && !batched(&q, &ctx, &cts, min, max));
        }
        let n_points = 2 * (max - min + 1) as usize;
        let i = elem % (bytes.len() / 32);
        let q = SumRangeProof::from_bytes(&replace_element(&bytes, i, i < n_points, &mut rng), min, max).unwrap();
        prop_assert!(!single(&q, &ctx, &cts, min, max) && !batched(&q, &ctx, &cts, min, max));
        // Statement: shifted bounds (same width), a ciphertext bit.
        prop_assert!(!single(&p, &ctx, &cts, min + 1, max + 1) && !batched(&p, &ctx, &cts, min + 1, max + 1));
        let i = bit % cts.len();
        let mut cts2 = cts.clone();
        if let Ok(ct) = EncodedCiphertext::from_bytes(&flip(&cts[i].to_bytes(), bit / 7)) {
            cts2[i] = ct;
            prop_assert!(!single(&p, &ctx, &cts2, min, max) && !batched(&p, &ctx, &cts2, min, max));
        }
        let c2 = flip_ctx(5, b"cred", bit);
        prop_assert!(!single(&p, &c2, &cts, min, max) && !batched(&p, &c2, &cts, min, max));
        // A total outside the range cannot be proved.
        prop_assert!(SumRangeProof::prove(&ctx, &pk, &cts, total + 1, total + 3, total, &nonces, &mut rng).is_err());
    }
}

// ------------------------------------------------------------------ contests

fn rule_strategy() -> impl Strategy<Value = (ContestRule, Vec<u64>)> {
    // (options, option_max, sum kind, selection seed)
    (1u32..6, 1u64..4, 0u8..3, any::<u64>()).prop_map(|(n, R, kind, s)| {
        let sel: Vec<u64> = (0..n)
            .map(|i| (s.rotate_left(i * 7) ^ u64::from(i)) % (R + 1))
            .collect();
        let total: u64 = sel.iter().sum();
        let sum = match kind {
            0 => SumRule::Unconstrained,
            1 => SumRule::Exact(total),
            _ => SumRule::Range {
                min: total.saturating_sub(s % 3),
                max: total + (s >> 8) % 3,
            },
        };
        (ContestRule::new(n, R, sum).unwrap(), sel)
    })
}

/// `(offset, is_point)` of every 32-byte element of an encoded contest.
fn contest_elements(rule: &ContestRule) -> Vec<(usize, bool)> {
    let n = rule.options() as usize;
    let R = rule.option_max() as usize;
    let mut v = Vec::new();
    // n, R, form, and L or w for forms 1 and 2.
    let mut off = if rule.sum() == SumRule::Unconstrained {
        9
    } else {
        13
    };
    let mut push = |count: usize, is_point: bool, off: &mut usize| {
        for _ in 0..count {
            v.push((*off, is_point));
            *off += 32;
        }
    };
    let sent = if matches!(rule.sum(), SumRule::Exact(_)) {
        n - 1
    } else {
        n
    };
    push(2 * sent, true, &mut off);
    for _ in 0..n {
        push(2 * (R + 1), true, &mut off);
        push(2 * R + 1, false, &mut off);
    }
    if let SumRule::Range { min, max } = rule.sum() {
        let w = (max - min) as usize;
        push(2 * (w + 1), true, &mut off);
        push(2 * w + 1, false, &mut off);
    }
    v
}

fn contest_single(
    c: &EncryptedContest,
    pk: &PublicKey,
    rule: &ContestRule,
    ctx: &ProofContext,
) -> bool {
    c.verify(pk, rule, ctx).is_ok()
}

fn contest_batched(
    c: &EncryptedContest,
    pk: &PublicKey,
    rule: &ContestRule,
    ctx: &ProofContext,
) -> bool {
    one_batch(|b| c.batch_verify(pk, rule, ctx, b).is_ok())
}

proptest! {
    #![proptest_config(cases(32))]

    #[test]
    fn contest_properties(
        seed in any::<[u8; 32]>(),
        (rule, sel) in rule_strategy(),
        bit in any::<usize>(),
        elem in any::<usize>(),
    ) {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let (sk, pk) = keypair(&mut rng);
        let ctx = ctx_from(6, b"cred");
        let (c, nonces) = encrypt_contest(&pk, &sel, &rule, &ctx, &mut rng).unwrap();
        prop_assert!(contest_single(&c, &pk, &rule, &ctx) && contest_batched(&c, &pk, &rule, &ctx));
        // Every option's ciphertext (the implied one included) re-encrypts
        // from its selection and nonce; the sent ones are its prefix.
        let all = c.option_ciphertexts();
        prop_assert_eq!(all.len(), sel.len());
        for (i, ct) in all.iter().enumerate() {
            prop_assert_eq!(*ct, pk.encrypt_with(sel[i], &nonces[i]));
        }
        for (sent, ct) in c.ciphertexts().iter().zip(&all) {
            prop_assert_eq!(sent.ciphertext(), *ct);
        }
        let sum: Ciphertext = all.iter().copied().sum();
        let total: u64 = sel.iter().sum();
        prop_assert_eq!(tallyboard_crypto::dlog::vartime_dlog(&sk.decrypt_to_point(&sum), 1000), Some(total));

        let bytes = c.to_bytes();
        prop_assert_eq!(bytes.len(), c.encoded_len());
        prop_assert_eq!(&EncryptedContest::from_bytes(&bytes).unwrap(), &c);
        // Any bit of the encoding.
        if let Ok(d) = EncryptedContest::from_bytes(&flip(&bytes, bit)) {
            prop_assert!(!contest_single(&d, &pk, &rule, &ctx));
            prop_assert!(!contest_batched(&d, &pk, &rule, &ctx));
        }
        // A decodable substitution of any 32-byte element.
        let elements = contest_elements(&rule);
        let (off, is_point) = elements[elem % elements.len()];
        let mut b2 = bytes.clone();
        let new = if is_point { RistrettoPoint::random(&mut rng).compress().to_bytes() } else { random_scalar(&mut rng).to_bytes() };
        b2[off..off + 32].copy_from_slice(&new);
        let d = EncryptedContest::from_bytes(&b2).unwrap();
        prop_assert!(!contest_single(&d, &pk, &rule, &ctx));
        prop_assert!(!contest_batched(&d, &pk, &rule, &ctx));
        // Context: flipped bits, another option order. (A one-option
        // exact-sum contest sends no ciphertext: its only statement, that
        // (𝟙, L·G) encrypts L, is public and its proof holds in any context.)
        let c2 = flip_ctx(6, b"cred", bit);
        if !c.ciphertexts().is_empty() {
            prop_assert!(!contest_single(&c, &pk, &rule, &c2) && !contest_batched(&c, &pk, &rule, &c2));
            let o = (bit % c.ciphertexts().len()) as u32;
            prop_assert!(c.option_proofs()[o as usize].verify(&option_context(&ctx, o), &pk, rule.option_max(), &c.ciphertexts()[o as usize]).is_ok());
            prop_assert!(c.option_proofs()[o as usize].verify(&option_context(&ctx, o + 1), &pk, rule.option_max(), &c.ciphertexts()[o as usize]).is_err());
        }
        // Statement: another key, another rule.
        let (_, pk2) = keypair(&mut rng);
        prop_assert!(!contest_single(&c, &pk2, &rule, &ctx) && !contest_batched(&c, &pk2, &rule, &ctx));
        let other_sum = match rule.sum() {
            SumRule::Exact(L) if L < rule.options() as u64 * rule.option_max() => Some(SumRule::Exact(L + 1)),
            SumRule::Range { min, max } => Some(SumRule::Range { min: min + 1, max: max + 1 }),
            _ => None,
        };
        if let Some(s) = other_sum {
            if let Ok(r2) = ContestRule::new(rule.options(), rule.option_max(), s) {
                prop_assert!(!contest_single(&c, &pk, &r2, &ctx) && !contest_batched(&c, &pk, &r2, &ctx));
            }
        }
    }

    /// Selections that violate the rule are refused before any randomness
    /// is drawn.
    #[test]
    fn contest_refuses_bad_selections(seed in any::<[u8; 32]>(), n in 1u32..6, k in 0usize..6, v in 2u64..5) {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let (_, pk) = keypair(&mut rng);
        let ctx = ctx_from(6, b"cred");
        let rule = ContestRule::one_of(n).unwrap();
        let mut sel = vec![0u64; n as usize];
        sel[k % n as usize] = v; // above the per-option max
        let pos = rng.get_word_pos();
        prop_assert!(encrypt_contest(&pk, &sel, &rule, &ctx, &mut rng).is_err());
        let zeros = vec![0u64; n as usize]; // violates the exact sum
        prop_assert!(encrypt_contest(&pk, &zeros, &rule, &ctx, &mut rng).is_err());
        prop_assert!(encrypt_contest(&pk, &zeros[1..], &rule, &ctx, &mut rng).is_err());
        prop_assert_eq!(rng.get_word_pos(), pos);
    }

    /// Batched and one-by-one verification agree on a mix of honest and
    /// tampered contests, member by member and for the whole batch.
    #[test]
    fn contest_batch_agrees_with_single(seed in any::<[u8; 32]>(), tamper in proptest::collection::vec(0u8..6, 2..6)) {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let (_, pk) = keypair(&mut rng);
        let rule = ContestRule::one_of(3).unwrap();
        let mut items = Vec::new();
        for (i, t) in tamper.iter().enumerate() {
            let ctx = ctx_from(7, &[i as u8; 4]);
            let mut sel = vec![0u64; 3];
            sel[i % 3] = 1;
            let (c, _) = encrypt_contest(&pk, &sel, &rule, &ctx, &mut rng).unwrap();
            let mut bytes = c.to_bytes();
            let (c, ctx) = match t {
                // honest
                0 | 1 => (c, ctx),
                // a response scalar of option 0 replaced
                2 => {
                    let off = 13 + 2 * 64 + 4 * 32 + 32;
                    bytes[off..off + 32].copy_from_slice(&random_scalar(&mut rng).to_bytes());
                    (EncryptedContest::from_bytes(&bytes).unwrap(), ctx)
                }
                // a ciphertext replaced by an encryption of 2 (proof made for another)
                3 => {
                    let (ct, _) = pk.encrypt(1, &mut rng);
                    bytes[13..77].copy_from_slice(&ct.to_bytes());
                    (EncryptedContest::from_bytes(&bytes).unwrap(), ctx)
                }
                // a commitment of the implied last option's proof replaced
                4 => {
                    let off = 13 + 2 * 64 + 2 * CdsRangeProof::encoded_len(1);
                    bytes[off..off + 32].copy_from_slice(&(hash_to_group(b"x")).compress().to_bytes());
                    (EncryptedContest::from_bytes(&bytes).unwrap(), ctx)
                }
                // presented under another ballot's context
                _ => (c, ctx_from(7, b"other")),
            };
            items.push((c, ctx));
        }
        let singles: Vec<bool> = items.iter().map(|(c, x)| contest_single(c, &pk, &rule, x)).collect();
        for ((c, x), s) in items.iter().zip(&singles) {
            prop_assert_eq!(contest_batched(c, &pk, &rule, x), *s);
        }
        for (s, t) in singles.iter().zip(&tamper) {
            prop_assert_eq!(*s, *t <= 1);
        }
        let all = verify_contests_batched(&pk, &rule, items.iter().map(|(c, x)| (c, x)), OsRng).is_ok();
        prop_assert_eq!(all, singles.iter().all(|&s| s));
    }
}

// ------------------------------------------------------------------ decoding

#[test]
fn decoding_rejects_every_malformed_class() {
    let mut rng = ChaCha20Rng::from_seed([42u8; 32]);
    let (_, pk) = keypair(&mut rng);
    let ctx = ctx_from(8, b"cred");
    let rule = ContestRule::one_of(2).unwrap();
    let (c, _) = encrypt_contest(&pk, &[1, 0], &rule, &ctx, &mut rng).unwrap();
    let bytes = c.to_bytes();

    // Wrong length: one byte short, one byte extra.
    assert!(matches!(
        EncryptedContest::from_bytes(&bytes[..bytes.len() - 1]),
        Err(DecodeError::WrongLength { .. })
    ));
    let mut long = bytes.clone();
    long.push(0);
    assert!(matches!(
        EncryptedContest::from_bytes(&long),
        Err(DecodeError::WrongLength { .. })
    ));
    // Counts out of range.
    let mut b = bytes.clone();
    b[..4].copy_from_slice(&0u32.to_be_bytes());
    assert!(matches!(
        EncryptedContest::from_bytes(&b),
        Err(DecodeError::OutOfRange { .. })
    ));
    b[..4].copy_from_slice(&2000u32.to_be_bytes());
    assert!(matches!(
        EncryptedContest::from_bytes(&b),
        Err(DecodeError::OutOfRange { .. })
    ));
    let mut b = bytes.clone();
    b[4..8].copy_from_slice(&65u32.to_be_bytes());
    assert!(matches!(
        EncryptedContest::from_bytes(&b),
        Err(DecodeError::OutOfRange { .. })
    ));
    // Unknown sum form; an exact sum above n·R.
    let mut b = bytes.clone();
    b[8] = 7;
    assert!(matches!(
        EncryptedContest::from_bytes(&b),
        Err(DecodeError::OutOfRange { .. })
    ));
    let mut b = bytes.clone();
    b[9..13].copy_from_slice(&3u32.to_be_bytes());
    assert!(matches!(
        EncryptedContest::from_bytes(&b),
        Err(DecodeError::OutOfRange { .. })
    ));
    // Form 0 (no sum constraint) with the ciphertexts of form 1: too short.
    let mut b = bytes[..9].to_vec();
    b[8] = 0;
    b.extend_from_slice(&bytes[13..]);
    assert!(matches!(
        EncryptedContest::from_bytes(&b),
        Err(DecodeError::WrongLength { .. })
    ));
    // One-of-2 sends one ciphertext (the second is implied), after a
    // 13-byte header: n, R, form 1, L.
    assert_eq!(bytes.len(), 13 + 64 + 2 * CdsRangeProof::encoded_len(1));
    // Identity α.
    let mut b = bytes.clone();
    b[13..45].copy_from_slice(&[0u8; 32]);
    assert!(matches!(
        EncryptedContest::from_bytes(&b),
        Err(DecodeError::IdentityPoint { .. })
    ));
    // Invalid point encodings: ≥ p, negative s.
    for bad in [[0xffu8; 32], {
        let mut x = [0u8; 32];
        x[0] = 1;
        x
    }] {
        let mut b = bytes.clone();
        b[45..77].copy_from_slice(&bad);
        assert!(matches!(
            EncryptedContest::from_bytes(&b),
            Err(DecodeError::InvalidPoint { .. })
        ));
        let mut b = bytes.clone();
        b[77..109].copy_from_slice(&bad); // a commitment
        assert!(matches!(
            EncryptedContest::from_bytes(&b),
            Err(DecodeError::InvalidPoint { .. })
        ));
    }
    // Non-canonical scalar: ℓ in place of a response.
    let mut b = bytes.clone();
    let z0 = 77 + 4 * 32 + 32;
    b[z0..z0 + 32].copy_from_slice(&ELL);
    assert!(matches!(
        EncryptedContest::from_bytes(&b),
        Err(DecodeError::NonCanonicalScalar { .. })
    ));

    // The same classes for each proof type on its own.
    let p = &c.option_proofs()[0];
    let pb = p.to_bytes();
    assert!(matches!(
        CdsRangeProof::from_bytes(&pb[..pb.len() - 1], 1),
        Err(DecodeError::WrongLength { .. })
    ));
    assert!(matches!(
        CdsRangeProof::from_bytes(&pb, 2),
        Err(DecodeError::WrongLength { .. })
    ));
    let mut b = pb.clone();
    b[pb.len() - 32..].copy_from_slice(&ELL);
    assert!(matches!(
        CdsRangeProof::from_bytes(&b, 1),
        Err(DecodeError::NonCanonicalScalar { .. })
    ));
    let mut b = pb.clone();
    b[..32].copy_from_slice(&[0xff; 32]);
    assert!(matches!(
        CdsRangeProof::from_bytes(&b, 1),
        Err(DecodeError::InvalidPoint { .. })
    ));

    let mut sb = [0u8; 96];
    sb[64..].copy_from_slice(&ELL);
    assert!(matches!(
        SumExactProof::from_bytes(&sb),
        Err(DecodeError::NonCanonicalScalar { .. })
    ));
    assert!(matches!(
        SumExactProof::from_bytes(&sb[..64]),
        Err(DecodeError::WrongLength { .. })
    ));
    sb[..32].copy_from_slice(&[0xff; 32]);
    assert!(matches!(
        SumExactProof::from_bytes(&sb),
        Err(DecodeError::InvalidPoint { .. })
    ));
    assert!(matches!(
        SumRangeProof::from_bytes(&pb, 3, 2),
        Err(DecodeError::OutOfRange { .. })
    ));

    let mut s = [0u8; 64];
    s[32..].copy_from_slice(&ELL);
    assert!(matches!(
        SchnorrProof::from_bytes(&s),
        Err(DecodeError::NonCanonicalScalar { .. })
    ));
    assert!(matches!(
        ChaumPedersenProof::from_bytes(&[0u8; 95]),
        Err(DecodeError::WrongLength { .. })
    ));

    assert!(matches!(
        EncodedCiphertext::from_bytes(&[0u8; 64]),
        Err(DecodeError::IdentityPoint { .. })
    ));
    assert!(matches!(
        EncodedCiphertext::from_bytes(&[0u8; 63]),
        Err(DecodeError::WrongLength { .. })
    ));
    assert!(matches!(
        Ciphertext::from_bytes(&[0xffu8; 64]),
        Err(DecodeError::InvalidPoint { .. })
    ));
}
