//! Ed25519 signature verification for record entries (`spec/crypto.md` §10).
//!
//! Signatures are ordinary RFC 8032 Ed25519 signatures (any RFC 8032 signer
//! produces them). Verification follows one rule, the same for a single
//! signature and for a batch, so that a board checking entries one at a time
//! and a verifier checking thousands at once always agree:
//!
//! 1. the key `A` and the nonce point `R` are canonical encodings
//!    (`y < p`), decompress, and are not of small order;
//! 2. `s` is a canonical scalar (`s < ℓ`);
//! 3. `[8]·(R + [k]·A − [s]·B) = 0`, with `k = SHA-512(R ‖ A ‖ M) mod ℓ`.
//!
//! Step 3 is the *cofactored* equation. The cofactorless equation of
//! `ed25519-dalek`'s `verify_strict` cannot be batched without changing the
//! accepted set (a random linear combination may cancel an 8-torsion
//! component with probability 1/8), which is why this module exists rather
//! than calling that crate: a batch here accepts exactly when every member
//! passes step 3, except with probability at most 2⁻¹²⁸ per batch.
//!
//! Every signature `verify_strict` accepts with a canonical key is accepted
//! here. The only signatures accepted here and not there are ones whose `R`
//! differs from `[s]B − [k]A` by a torsion point, which only the holder of
//! the signing key can make; they add nothing an attacker could use.
//!
//! All inputs are public: the arithmetic is variable-time.

use std::collections::HashMap;

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha512};
use thiserror::Error;

/// Why an Ed25519 key or signature was refused before its equation was
/// checked (`spec/crypto.md` §10.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Ed25519Error {
    /// A key or `R` that is not a canonical point encoding (`y ≥ p`) or
    /// does not decompress.
    #[error("{0} is not the canonical encoding of an Ed25519 curve point")]
    NonCanonicalPoint(&'static str),
    /// A key or `R` of small order (in the 8-torsion subgroup).
    #[error("{0} is an Ed25519 point of small order")]
    SmallOrder(&'static str),
    /// `s ≥ ℓ`.
    #[error("signature scalar s is not canonical (s ≥ ℓ)")]
    NonCanonicalScalar,
}

/// Whether the 255-bit `y` of an Edwards point encoding is reduced
/// (`y < p = 2²⁵⁵ − 19`); the top bit is the sign of `x` and is ignored.
/// Together with decompression and the small-order check this is rule 1
/// (the non-canonical encodings of `x = 0` with the sign bit set are small
/// order). For callers that decompress with another library.
pub fn vartime_is_canonical_y(b: &[u8; 32]) -> bool {
    // y ≥ p exactly when y = 2²⁵⁵ − 19 + j for j in 0..19: bytes 1..31 are
    // 0xff, the top byte (sign cleared) is 0x7f, the low byte is ≥ 0xed.
    b[31] & 0x7f != 0x7f || b[1..31].iter().any(|&x| x != 0xff) || b[0] < 0xed
}

/// Decodes a point under rule 1 of `spec/crypto.md` §10.1: canonical,
/// on the curve, not of small order. `what` names it in the error.
pub fn vartime_decode_point(
    bytes: &[u8; 32],
    what: &'static str,
) -> Result<EdwardsPoint, Ed25519Error> {
    if !vartime_is_canonical_y(bytes) {
        return Err(Ed25519Error::NonCanonicalPoint(what));
    }
    let p = CompressedEdwardsY(*bytes)
        .decompress()
        .ok_or(Ed25519Error::NonCanonicalPoint(what))?;
    if p.is_small_order() {
        return Err(Ed25519Error::SmallOrder(what));
    }
    Ok(p)
}

/// A signature whose encodings passed rules 1 and 2, ready for the
/// equation (rule 3), on its own ([`Self::vartime_verify`]) or in a batch
/// ([`SignatureBatch`]).
#[derive(Clone, Debug)]
pub struct PreparedSignature {
    key_bytes: [u8; 32],
    key: EdwardsPoint,
    r: EdwardsPoint,
    s: Scalar,
    k: Scalar,
}

impl PreparedSignature {
    /// Checks the encodings of `signature` (`R ‖ s`) and computes its
    /// challenge over `message`. `key` must be the decoding of `key_bytes`
    /// by [`vartime_decode_point`] (the caller usually holds it already).
    pub fn vartime_new(
        key_bytes: &[u8; 32],
        key: &EdwardsPoint,
        message: &[u8],
        signature: &[u8; 64],
    ) -> Result<Self, Ed25519Error> {
        let mut r_bytes = [0u8; 32];
        r_bytes.copy_from_slice(&signature[..32]);
        let mut s_bytes = [0u8; 32];
        s_bytes.copy_from_slice(&signature[32..]);
        let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes))
            .ok_or(Ed25519Error::NonCanonicalScalar)?;
        let r = vartime_decode_point(&r_bytes, "signature R")?;
        let k = Scalar::from_hash(
            Sha512::new()
                .chain_update(r_bytes)
                .chain_update(key_bytes)
                .chain_update(message),
        );
        Ok(Self {
            key_bytes: *key_bytes,
            key: *key,
            r,
            s,
            k,
        })
    }

    /// Rule 3 for this signature alone: `[8]·(R + [k]A − [s]B) = 0`.
    pub fn vartime_verify(&self) -> bool {
        let sb_minus_ka =
            EdwardsPoint::vartime_double_scalar_mul_basepoint(&self.k, &(-self.key), &self.s);
        (self.r - sb_minus_ka).mul_by_cofactor().is_identity()
    }
}

/// Many signatures checked with one multiscalar multiplication
/// (`spec/crypto.md` §10.2): signature `i` gets a fresh uniformly random
/// 128-bit weight `zᵢ` and the batch checks
/// `[8]·(Σ zᵢ·Rᵢ + Σ (zᵢkᵢ)·Aᵢ − (Σ zᵢsᵢ)·B) = 0`, with the terms of
/// signatures under the same key summed into one.
pub struct SignatureBatch<R: RngCore + CryptoRng> {
    rng: R,
    b: Scalar,
    keys: HashMap<[u8; 32], usize>,
    scalars: Vec<Scalar>,
    points: Vec<EdwardsPoint>,
    len: usize,
}

impl<R: RngCore + CryptoRng> SignatureBatch<R> {
    /// An empty batch whose weights come from `rng` (the OS RNG or a CSPRNG
    /// seeded from it: the weights must be unpredictable to the signers).
    pub fn new(rng: R) -> Self {
        Self {
            rng,
            b: Scalar::ZERO,
            keys: HashMap::new(),
            scalars: Vec::new(),
            points: Vec::new(),
            len: 0,
        }
    }

    /// Adds a signature.
    pub fn push(&mut self, sig: &PreparedSignature) {
        let mut w = [0u8; 16];
        self.rng.fill_bytes(&mut w);
        let z = Scalar::from(u128::from_le_bytes(w));
        self.b -= z * sig.s;
        self.scalars.push(z);
        self.points.push(sig.r);
        let zk = z * sig.k;
        match self.keys.get(&sig.key_bytes) {
            Some(&i) => self.scalars[i] += zk,
            None => {
                self.keys.insert(sig.key_bytes, self.scalars.len());
                self.scalars.push(zk);
                self.points.push(sig.key);
            }
        }
        self.len += 1;
    }

    /// Number of signatures pushed.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no signature was pushed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Checks every pushed signature at once. `true` if all pass rule 3
    /// (an empty batch passes); `false` if at least one fails, except with
    /// probability at most 2⁻¹²⁸. A failed batch does not say which member
    /// failed: verify them one by one to find out.
    pub fn vartime_verify(self) -> bool {
        let Self {
            b,
            mut scalars,
            mut points,
            ..
        } = self;
        scalars.push(b);
        points.push(ED25519_BASEPOINT_POINT);
        EdwardsPoint::vartime_multiscalar_mul(&scalars, &points)
            .mul_by_cofactor()
            .is_identity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::constants::EIGHT_TORSION;
    use ed25519_dalek::{Signer, SigningKey};
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn prepare(
        key: &[u8; 32],
        msg: &[u8],
        sig: &[u8; 64],
    ) -> Result<PreparedSignature, Ed25519Error> {
        let a = vartime_decode_point(key, "key")?;
        PreparedSignature::vartime_new(key, &a, msg, sig)
    }

    fn batch_ok(sigs: &[&PreparedSignature], seed: u64) -> bool {
        let mut b = SignatureBatch::new(ChaCha20Rng::seed_from_u64(seed));
        for s in sigs {
            b.push(s);
        }
        b.vartime_verify()
    }

    #[test]
    fn rfc8032_test_1() {
        let key: [u8; 32] =
            hex::decode("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
                .unwrap()
                .try_into()
                .unwrap();
        let sig: [u8; 64] = hex::decode(
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        )
        .unwrap()
        .try_into()
        .unwrap();
        let p = prepare(&key, b"", &sig).unwrap();
        assert!(p.vartime_verify());
        assert!(batch_ok(&[&p], 1));
        let q = prepare(&key, b"x", &sig).unwrap();
        assert!(!q.vartime_verify());
        assert!(!batch_ok(&[&p, &q], 2));
    }

    #[test]
    fn agrees_with_verify_strict_on_honest_and_altered_signatures() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let mut good = Vec::new();
        for i in 0..40u32 {
            let sk = SigningKey::generate(&mut rng);
            let key = sk.verifying_key().to_bytes();
            let msg = format!("message {i}");
            let sig = sk.sign(msg.as_bytes()).to_bytes();
            let p = prepare(&key, msg.as_bytes(), &sig).unwrap();
            assert!(p.vartime_verify());
            good.push(p);
            // Flip one bit of the message, of R or of s: both rules refuse.
            let mut bad = sig;
            bad[(i as usize * 7) % 64] ^= 1 << (i % 8);
            let strict = sk
                .verifying_key()
                .verify_strict(msg.as_bytes(), &ed25519_dalek::Signature::from_bytes(&bad))
                .is_ok();
            let ours = prepare(&key, msg.as_bytes(), &bad).is_ok_and(|p| p.vartime_verify());
            assert!(!strict && !ours, "altered signature {i}");
        }
        let refs: Vec<&PreparedSignature> = good.iter().collect();
        assert!(batch_ok(&refs, 3));
    }

    #[test]
    fn one_bad_signature_fails_the_batch() {
        let mut rng = ChaCha20Rng::seed_from_u64(8);
        let sk = SigningKey::generate(&mut rng);
        let key = sk.verifying_key().to_bytes();
        let mut sigs: Vec<PreparedSignature> = (0..20u8)
            .map(|i| prepare(&key, &[i], &sk.sign(&[i]).to_bytes()).unwrap())
            .collect();
        // Same key for every signature: the key's terms are summed into one.
        assert!(batch_ok(&sigs.iter().collect::<Vec<_>>(), 4));
        // Signature 5 with signature 6's message.
        let other = sk.sign(&[6]).to_bytes();
        sigs[5] = prepare(&key, &[5], &other).unwrap();
        assert!(!sigs[5].vartime_verify());
        for seed in 0..8 {
            assert!(!batch_ok(&sigs.iter().collect::<Vec<_>>(), seed));
        }
    }

    #[test]
    fn encodings_are_refused() {
        let mut rng = ChaCha20Rng::seed_from_u64(10);
        let sk = SigningKey::generate(&mut rng);
        let key = sk.verifying_key().to_bytes();
        let sig = sk.sign(b"m").to_bytes();
        // s + ℓ: same equation, non-canonical scalar.
        let s = Scalar::from_canonical_bytes(sig[32..].try_into().unwrap()).unwrap();
        let mut wide = [0u8; 64];
        wide[..32].copy_from_slice(&sig[..32]);
        let ell: [u8; 32] =
            hex::decode("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
                .unwrap()
                .try_into()
                .unwrap();
        // s + ℓ < 2²⁵⁶ as little-endian byte addition.
        let mut carry = 0u16;
        for j in 0..32 {
            let v = u16::from(s.as_bytes()[j]) + u16::from(ell[j]) + carry;
            wide[32 + j] = v as u8;
            carry = v >> 8;
        }
        assert_eq!(carry, 0);
        assert_eq!(
            prepare(&key, b"m", &wide).unwrap_err(),
            Ed25519Error::NonCanonicalScalar
        );
        // Small-order R and key.
        let t = EIGHT_TORSION[3].compress().to_bytes();
        let mut small_r = sig;
        small_r[..32].copy_from_slice(&t);
        assert_eq!(
            prepare(&key, b"m", &small_r).unwrap_err(),
            Ed25519Error::SmallOrder("signature R")
        );
        assert_eq!(
            vartime_decode_point(&t, "key").unwrap_err(),
            Ed25519Error::SmallOrder("key")
        );
        // The identity written with y = p + 1 (non-canonical), and y = p.
        let mut y = [0xffu8; 32];
        y[31] = 0x7f;
        y[0] = 0xee;
        assert_eq!(
            vartime_decode_point(&y, "key").unwrap_err(),
            Ed25519Error::NonCanonicalPoint("key")
        );
        y[0] = 0xed;
        assert_eq!(
            vartime_decode_point(&y, "key").unwrap_err(),
            Ed25519Error::NonCanonicalPoint("key")
        );
        // The largest canonical y, p − 1 (y = −1, a point of order 2).
        y[0] = 0xec;
        assert_eq!(
            vartime_decode_point(&y, "key").unwrap_err(),
            Ed25519Error::SmallOrder("key")
        );
        assert!(vartime_is_canonical_y(&y));
    }
}
