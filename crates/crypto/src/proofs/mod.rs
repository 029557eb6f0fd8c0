//! Zero-knowledge proofs (`spec/crypto.md` §6). One module per proof type;
//! each has a prover (`prove`), a verifier (`verify`), a batched verifier
//! (`batch_verify` into a [`crate::batch::BatchVerifier`]), and canonical
//! `to_bytes` / `from_bytes`.
//!
//! All proofs are in *commitment form* (the prover's commitments are sent,
//! the challenge is recomputed): this is what makes batch verification
//! possible. `spec/crypto.md` §5.2 gives the size/speed trade-off.

pub mod cds_range;
pub mod chaum_pedersen;
pub mod schnorr;
pub mod sum;
