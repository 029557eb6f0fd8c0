//! A trustee's secret share of the joint key (`spec/threshold.md` §5.6, §7.2).

use std::fmt;

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use subtle::ConstantTimeEq;
use tallyboard_crypto::encoding::Reader;
use tallyboard_crypto::generators::G_table;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::ThresholdError;
use crate::labels::tags;
use crate::params::{decode_index, decode_t_n, expect_tag, DkgParams};
use crate::public_key::ThresholdPublicKey;

/// Trustee `i`'s share `s_i = Σ_{j∈QUAL} f_j(i)` of the joint secret, with
/// the ceremony it belongs to. Zeroized on drop; `Debug` prints only the
/// public fields. The file format (`to_bytes`) is
/// `0x07 ‖ election ‖ t ‖ n ‖ i ‖ s_i` (68 bytes); whoever writes it keeps it
/// readable by its trustee only (mode 0600).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretShare {
    election: [u8; 32],
    threshold: u8,
    trustees: u8,
    index: u8,
    scalar: Scalar,
}

impl fmt::Debug for SecretShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretShare")
            .field("trustee", &self.index)
            .field("threshold", &self.threshold)
            .field("trustees", &self.trustees)
            .field("share", &"[REDACTED]")
            .finish()
    }
}

impl SecretShare {
    /// Encoded length.
    pub const LEN: usize = 68;

    pub(crate) fn new(params: &DkgParams, index: u8, scalar: Scalar) -> Self {
        Self {
            election: *params.election(),
            threshold: params.threshold(),
            trustees: params.trustees(),
            index,
            scalar,
        }
    }

    /// The trustee's index `i`.
    pub fn index(&self) -> u8 {
        self.index
    }

    /// The threshold `t`.
    pub fn threshold(&self) -> u8 {
        self.threshold
    }

    /// The number of trustees `n`.
    pub fn trustees(&self) -> u8 {
        self.trustees
    }

    /// The election fingerprint.
    pub fn election(&self) -> &[u8; 32] {
        &self.election
    }

    /// The secret scalar `s_i`. Handle with care.
    pub fn expose_scalar(&self) -> &Scalar {
        &self.scalar
    }

    /// `s_i·G`, which must equal `VK_i`.
    pub fn public_point(&self) -> RistrettoPoint {
        G_table() * &self.scalar
    }

    /// Checks that the share belongs to `key`'s ceremony and that
    /// `s_i·G = VK_i` (constant-time comparison of the encodings).
    pub fn self_check(&self, key: &ThresholdPublicKey) -> Result<(), ThresholdError> {
        if key.election() != &self.election
            || key.threshold() != self.threshold
            || key.trustees() != self.trustees
        {
            return Err(ThresholdError::ElectionMismatch);
        }
        let vk = key
            .verification_key(self.index)
            .ok_or(ThresholdError::UnknownTrustee {
                trustee: self.index,
                trustees: self.trustees,
            })?;
        let ok = self
            .public_point()
            .compress()
            .as_bytes()
            .ct_eq(vk.compress().as_bytes());
        if bool::from(ok) {
            Ok(())
        } else {
            Err(ThresholdError::SelfCheckFailed {
                trustee: self.index,
            })
        }
    }

    /// `0x07 ‖ election ‖ t ‖ n ‖ i ‖ s_i`.
    pub fn to_bytes(&self) -> Zeroizing<[u8; Self::LEN]> {
        let mut out = Zeroizing::new([0u8; Self::LEN]);
        out[0] = tags::SECRET_SHARE;
        out[1..33].copy_from_slice(&self.election);
        out[33] = self.threshold;
        out[34] = self.trustees;
        out[35] = self.index;
        out[36..].copy_from_slice(self.scalar.as_bytes());
        out
    }

    /// Canonical decoding: exact length, tag, `1 ≤ t ≤ n`, `1 ≤ i ≤ n`,
    /// canonical scalar.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ThresholdError> {
        const WHAT: &str = "secret share";
        crate::keys::exact_len(bytes, Self::LEN, WHAT)?;
        let mut r = Reader::new(bytes, WHAT);
        expect_tag(&mut r, tags::SECRET_SHARE, WHAT)?;
        let mut election = [0u8; 32];
        election.copy_from_slice(r.bytes(32)?);
        let h = r.bytes(3)?;
        let (threshold, trustees, index) = (h[0], h[1], h[2]);
        decode_t_n(threshold, trustees, WHAT)?;
        decode_index(index, trustees, WHAT)?;
        let scalar = r.scalar()?;
        r.finish()?;
        Ok(Self {
            election,
            threshold,
            trustees,
            index,
            scalar,
        })
    }
}
