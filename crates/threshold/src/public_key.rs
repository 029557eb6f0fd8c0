//! The threshold public key: the joint election key and every trustee's
//! verification key (`spec/threshold.md` §5.6, §7.1).

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use tallyboard_crypto::elgamal::PublicKey;
use tallyboard_crypto::encoding::Reader;
use tallyboard_crypto::DecodeError;

use crate::error::ThresholdError;
use crate::labels::tags;
use crate::params::{decode_t_n, expect_tag};

/// The public result of a key ceremony: election, threshold `t`, joint key
/// `K = F(0)·G` and verification keys `VK_i = F(i)·G` for `i = 1..=n`, where
/// `F = Σ_{j∈QUAL} f_j` is the (never computed) joint polynomial of degree
/// `< t`. Construction checks that the points are consistent (all on one such
/// polynomial), so holders of this type never see an inconsistent key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThresholdPublicKey {
    election: [u8; 32],
    threshold: u8,
    joint_key: PublicKey,
    verification_keys: Vec<RistrettoPoint>,
}

/// Lagrange coefficients `λ_j(x) = Π_{m∈S, m≠j} (x − m)/(j − m)` for the
/// distinct non-zero indices `S` (`spec/threshold.md` §6.3).
pub(crate) fn lagrange_at(x: Scalar, indices: &[u8]) -> Result<Vec<Scalar>, ThresholdError> {
    for (a, &i) in indices.iter().enumerate() {
        if i == 0 {
            return Err(ThresholdError::InvalidParameters(
                "trustee indices start at 1",
            ));
        }
        if indices[..a].contains(&i) {
            return Err(ThresholdError::InvalidParameters("duplicate trustee index"));
        }
    }
    let mut num = Vec::with_capacity(indices.len());
    let mut den = Vec::with_capacity(indices.len());
    for &j in indices {
        let xj = Scalar::from(j);
        let mut n = Scalar::ONE;
        let mut d = Scalar::ONE;
        for &m in indices {
            if m != j {
                let xm = Scalar::from(m);
                n *= x - xm;
                d *= xj - xm;
            }
        }
        num.push(n);
        den.push(d);
    }
    Scalar::batch_invert(&mut den);
    Ok(num.into_iter().zip(den).map(|(n, d)| n * d).collect())
}

impl ThresholdPublicKey {
    /// Builds and validates a threshold public key: `1 ≤ t ≤ n ≤ 255`, no
    /// identity point, and `K` and every `VK_i` interpolate one polynomial of
    /// degree `< t` (checked from `VK_1..VK_t`). Variable time (public data).
    pub fn from_parts(
        election: [u8; 32],
        threshold: u8,
        joint_key: RistrettoPoint,
        verification_keys: Vec<RistrettoPoint>,
    ) -> Result<Self, ThresholdError> {
        let n = u8::try_from(verification_keys.len())
            .map_err(|_| ThresholdError::InvalidParameters("more than 255 trustees"))?;
        decode_t_n(threshold, n, "threshold public key")?;
        if joint_key.is_identity() || verification_keys.iter().any(|v| v.is_identity()) {
            return Err(ThresholdError::DegenerateKey);
        }
        let base: Vec<u8> = (1..=threshold).collect();
        let base_points = &verification_keys[..usize::from(threshold)];
        let at0 = lagrange_at(Scalar::ZERO, &base)?;
        if RistrettoPoint::vartime_multiscalar_mul(&at0, base_points) != joint_key {
            return Err(ThresholdError::InconsistentPublicKey);
        }
        for (i, vk) in verification_keys
            .iter()
            .enumerate()
            .skip(usize::from(threshold))
        {
            let l = lagrange_at(Scalar::from(i as u64 + 1), &base)?;
            if RistrettoPoint::vartime_multiscalar_mul(&l, base_points) != *vk {
                return Err(ThresholdError::InconsistentPublicKey);
            }
        }
        Self::from_parts_unchecked(election, threshold, joint_key, verification_keys)
    }

    /// For the DKG, whose output is consistent by construction.
    pub(crate) fn from_parts_unchecked(
        election: [u8; 32],
        threshold: u8,
        joint_key: RistrettoPoint,
        verification_keys: Vec<RistrettoPoint>,
    ) -> Result<Self, ThresholdError> {
        if verification_keys.iter().any(|v| v.is_identity()) {
            return Err(ThresholdError::DegenerateKey);
        }
        let joint_key =
            PublicKey::from_point(joint_key).map_err(|_| ThresholdError::DegenerateKey)?;
        Ok(Self {
            election,
            threshold,
            joint_key,
            verification_keys,
        })
    }

    /// The election fingerprint.
    pub fn election(&self) -> &[u8; 32] {
        &self.election
    }

    /// The threshold `t`.
    pub fn threshold(&self) -> u8 {
        self.threshold
    }

    /// The number of trustees `n`.
    pub fn trustees(&self) -> u8 {
        // ≤ 255 by construction.
        self.verification_keys.len() as u8
    }

    /// The joint election key `K`.
    pub fn joint_key(&self) -> &PublicKey {
        &self.joint_key
    }

    /// `VK_i` (`None` outside `1..=n`).
    pub fn verification_key(&self, trustee: u8) -> Option<&RistrettoPoint> {
        self.verification_keys
            .get(usize::from(trustee).checked_sub(1)?)
    }

    /// `VK_1..VK_n`.
    pub fn verification_keys(&self) -> &[RistrettoPoint] {
        &self.verification_keys
    }

    /// Encoded length for `n` trustees.
    pub fn encoded_len(n: u8) -> usize {
        67 + 32 * usize::from(n)
    }

    /// `0x06 ‖ election ‖ t ‖ n ‖ K ‖ VK_1 ‖ … ‖ VK_n`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::encoded_len(self.trustees()));
        out.push(tags::THRESHOLD_PUBLIC_KEY);
        out.extend_from_slice(&self.election);
        out.push(self.threshold);
        out.push(self.trustees());
        out.extend_from_slice(&self.joint_key.to_bytes());
        for v in &self.verification_keys {
            out.extend_from_slice(v.compress().as_bytes());
        }
        out
    }

    /// Canonical decoding followed by the checks of [`Self::from_parts`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ThresholdError> {
        const WHAT: &str = "threshold public key";
        let mut r = Reader::new(bytes, WHAT);
        expect_tag(&mut r, tags::THRESHOLD_PUBLIC_KEY, WHAT)?;
        let mut election = [0u8; 32];
        election.copy_from_slice(r.bytes(32)?);
        let tn = r.bytes(2)?;
        let (t, n) = (tn[0], tn[1]);
        decode_t_n(t, n, WHAT)?;
        if bytes.len() != Self::encoded_len(n) {
            return Err(DecodeError::WrongLength {
                what: WHAT,
                expected: Self::encoded_len(n),
                got: bytes.len(),
            }
            .into());
        }
        let k = r.nonidentity_point()?;
        let vks = (0..n)
            .map(|_| r.nonidentity_point())
            .collect::<Result<Vec<_>, _>>()?;
        r.finish()?;
        Self::from_parts(election, t, k, vks)
    }
}
