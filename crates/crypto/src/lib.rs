//! # tallyboard-crypto
//!
//! The cryptographic core of tallyboard: exponential ElGamal on ristretto255,
//! hash-derived generators, strong Fiat–Shamir proofs over merlin transcripts,
//! batch verification, threshold keys and threshold decryption.
//!
//! Pure math: no I/O, no async, no global state except lazily computed public
//! constants. Every type decoded from bytes goes through canonical decoding
//! ([`encoding`]); secrets zeroize on drop and print as `[REDACTED]`; any
//! variable-time function is named `vartime_*` and is only ever applied to
//! public data.
//!
//! The byte-exact protocol is in `spec/` at the repository root; each module
//! cites the section it implements.
#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used, missing_docs)]
#![allow(non_snake_case)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod batch;
pub mod contest;
pub mod dlog;
pub mod ed25519;
pub mod elgamal;
pub mod encoding;
pub mod error;
pub mod generators;
pub mod proofs;
pub mod transcript;

pub use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
pub use curve25519_dalek::scalar::Scalar;
pub use error::{DecodeError, ProofError};

/// Re-exported so that callers use the exact RNG traits this crate expects.
pub use rand_core::{CryptoRng, OsRng, RngCore};

/// A uniformly random scalar: 64 bytes from `rng` reduced modulo ℓ (wide
/// reduction, bias < 2⁻²⁵⁹). See `spec/crypto.md` §1.3.
pub fn random_scalar<R: RngCore + CryptoRng>(rng: &mut R) -> Scalar {
    let mut wide = [0u8; 64];
    rng.fill_bytes(&mut wide);
    let s = Scalar::from_bytes_mod_order_wide(&wide);
    zeroize::Zeroize::zeroize(&mut wide);
    s
}
