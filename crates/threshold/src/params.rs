//! Ceremony parameters (`spec/threshold.md` §1).

use crate::error::ThresholdError;

/// The parameters every message of one key ceremony is bound to: the
/// election fingerprint, the threshold `t` and the number of trustees `n`,
/// with `1 ≤ t ≤ n ≤ 255`. Trustees are numbered `1..=n`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DkgParams {
    election: [u8; 32],
    threshold: u8,
    trustees: u8,
}

impl DkgParams {
    /// Validates `1 ≤ t ≤ n` (`n ≤ 255` holds by type).
    pub fn new(election: [u8; 32], threshold: u8, trustees: u8) -> Result<Self, ThresholdError> {
        if threshold == 0 {
            return Err(ThresholdError::InvalidParameters(
                "threshold must be at least 1",
            ));
        }
        if threshold > trustees {
            return Err(ThresholdError::InvalidParameters(
                "threshold exceeds the number of trustees",
            ));
        }
        Ok(Self {
            election,
            threshold,
            trustees,
        })
    }

    /// The 32-byte election fingerprint.
    pub fn election(&self) -> &[u8; 32] {
        &self.election
    }

    /// The threshold `t`: the number of trustees needed to decrypt, and the
    /// number of coefficients of each dealer's polynomial.
    pub fn threshold(&self) -> u8 {
        self.threshold
    }

    /// The number of trustees `n`.
    pub fn trustees(&self) -> u8 {
        self.trustees
    }

    /// All trustee indices `1..=n`.
    pub fn indices(&self) -> impl Iterator<Item = u8> {
        1..=self.trustees
    }

    /// `Ok` iff `1 ≤ index ≤ n`.
    pub fn check_index(&self, index: u8) -> Result<(), ThresholdError> {
        if index == 0 || index > self.trustees {
            Err(ThresholdError::UnknownTrustee {
                trustee: index,
                trustees: self.trustees,
            })
        } else {
            Ok(())
        }
    }
}

/// Reads and checks the `t ‖ n` pair of an encoding (`1 ≤ t ≤ n`).
pub(crate) fn decode_t_n(
    t: u8,
    n: u8,
    what: &'static str,
) -> Result<(), tallyboard_crypto::DecodeError> {
    if t == 0 || t > n {
        return Err(tallyboard_crypto::DecodeError::OutOfRange {
            what,
            detail: "threshold must satisfy 1 <= t <= n",
        });
    }
    Ok(())
}

/// Checks `1 ≤ index ≤ n` while decoding.
pub(crate) fn decode_index(
    index: u8,
    n: u8,
    what: &'static str,
) -> Result<(), tallyboard_crypto::DecodeError> {
    if index == 0 || index > n {
        return Err(tallyboard_crypto::DecodeError::OutOfRange {
            what,
            detail: "trustee index must satisfy 1 <= i <= n",
        });
    }
    Ok(())
}

/// Reads the one-byte type tag and checks it (`spec/threshold.md` §2.2).
pub(crate) fn expect_tag(
    r: &mut tallyboard_crypto::encoding::Reader<'_>,
    tag: u8,
    what: &'static str,
) -> Result<(), tallyboard_crypto::DecodeError> {
    let t = r.bytes(1)?[0];
    if t != tag {
        return Err(tallyboard_crypto::DecodeError::OutOfRange {
            what,
            detail: "wrong type tag",
        });
    }
    Ok(())
}
