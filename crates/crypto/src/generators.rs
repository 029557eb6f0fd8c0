//! Group generators (`spec/crypto.md` §3).
//!
//! `G` is the ristretto255 base point. Every other generator is derived from
//! a public label by hash-to-group, so nobody knows its discrete logarithm
//! with respect to `G` or to any other generator:
//!
//! ```text
//! generator(label) = OneWayMap(SHA-512("tallyboard/v1/generator:" ‖ label))
//! ```
//!
//! where `OneWayMap` is the ristretto255 element derivation of RFC 9496 §4.3.4
//! (`RistrettoPoint::from_uniform_bytes`). The verifier recomputes every
//! generator from its label; `spec/crypto.md` §3 lists them.

use std::sync::OnceLock;

use curve25519_dalek::constants::{RISTRETTO_BASEPOINT_POINT, RISTRETTO_BASEPOINT_TABLE};
use curve25519_dalek::ristretto::{RistrettoBasepointTable, RistrettoPoint};
use sha2::{Digest, Sha512};

/// Domain-separation prefix of every hash-derived generator.
pub const GENERATOR_DST: &[u8] = b"tallyboard/v1/generator:";

/// Label of `H`, the blinding generator of the Pedersen commitments that
/// bulletproofs range proofs are made on (`spec/crypto.md` §3.2; `spec/range-proofs.md`).
pub const LABEL_PEDERSEN_H: &[u8] = b"pedersen-blinding";

/// Derives the generator for `label` (`spec/crypto.md` §3).
pub fn hash_to_group(label: &[u8]) -> RistrettoPoint {
    let mut h = Sha512::new();
    h.update(GENERATOR_DST);
    h.update(label);
    let wide: [u8; 64] = h.finalize().into();
    RistrettoPoint::from_uniform_bytes(&wide)
}

/// The ristretto255 base point `G`.
pub fn G() -> RistrettoPoint {
    RISTRETTO_BASEPOINT_POINT
}

/// Precomputed table for fixed-base multiplication by `G` (constant time).
pub fn G_table() -> &'static RistrettoBasepointTable {
    RISTRETTO_BASEPOINT_TABLE
}

/// `H = hash_to_group("pedersen-blinding")`.
pub fn H() -> RistrettoPoint {
    static H: OnceLock<RistrettoPoint> = OnceLock::new();
    *H.get_or_init(|| hash_to_group(LABEL_PEDERSEN_H))
}

/// Precomputed table for fixed-base multiplication by `H`.
pub fn H_table() -> &'static RistrettoBasepointTable {
    static T: OnceLock<RistrettoBasepointTable> = OnceLock::new();
    T.get_or_init(|| RistrettoBasepointTable::create(&H()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::traits::IsIdentity;

    #[test]
    fn h_is_not_g_and_not_identity() {
        assert_ne!(H(), G());
        assert!(!H().is_identity());
        assert_eq!(H(), hash_to_group(b"pedersen-blinding"));
        assert_ne!(hash_to_group(b"a"), hash_to_group(b"b"));
    }
}
