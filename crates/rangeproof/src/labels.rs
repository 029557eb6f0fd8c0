//! Transcript and context labels defined by this crate
//! (`spec/range-proofs.md` §1.2).
//!
//! The protocol labels of the link proof and of the aggregated range proof
//! are the foundation's [`tallyboard_crypto::transcript::labels::PEDERSEN_LINK`]
//! and [`tallyboard_crypto::transcript::labels::BULLETPROOF_RANGE`]. The
//! labels below are this crate's own: one protocol label, the context items
//! it appends, and the names under which statements are absorbed.

/// Protocol label of the Chaum–Pedersen proof that the sum of a points
/// ballot's ciphertexts encrypts exactly the required total (§5.4).
pub const POINTS_TOTAL_EXACT: &[u8] = b"points-total-exact";

/// Context item appended to the caller's context for the link proof of
/// option `i`: value `i` as 8 bytes big-endian (§5.3).
pub const OPTION_INDEX: &[u8] = b"option-index";

/// Context item of the exact-total proof: all ciphertexts of the ballot,
/// concatenated (§5.4).
pub const BALLOT_CIPHERTEXTS: &[u8] = b"ballot-ciphertexts";

/// Context item of the exact-total proof: the required total, 8 bytes
/// big-endian (§5.4).
pub const TOTAL_BOUND: &[u8] = b"total-bound";

/// Value of the `statement` message that opens the range-proof transcript
/// of a points ballot (§5.2).
pub const STATEMENT_POINTS_BALLOT: &[u8] = b"points-ballot";

/// Message labels absorbed into transcripts, in the order the spec lists.
pub mod msg {
    /// The base point `G`.
    pub const G: &[u8] = b"G";
    /// The Pedersen blinding generator `H`.
    pub const H: &[u8] = b"H";
    /// The election key `K`.
    pub const K: &[u8] = b"K";
    /// A ciphertext's first component.
    pub const ALPHA: &[u8] = b"alpha";
    /// A ciphertext's second component.
    pub const BETA: &[u8] = b"beta";
    /// A Pedersen commitment.
    pub const V: &[u8] = b"V";
    /// Link proof commitment for `α`.
    pub const A_ALPHA: &[u8] = b"A_alpha";
    /// Link proof commitment for `β`.
    pub const A_BETA: &[u8] = b"A_beta";
    /// Link proof commitment for `V`.
    pub const A_V: &[u8] = b"A_V";
    /// Kind of statement a range-proof transcript is about.
    pub const STATEMENT: &[u8] = b"statement";
    /// Number of options of a points ballot.
    pub const OPTION_COUNT: &[u8] = b"option-count";
    /// A ballot ciphertext `α ‖ β`.
    pub const CIPHERTEXT: &[u8] = b"ciphertext";
    /// A ballot commitment.
    pub const COMMITMENT: &[u8] = b"commitment";
    /// An option's maximum.
    pub const OPTION_MAX: &[u8] = b"option-max";
    /// Total rule tag (0 none, 1 at most, 2 exactly).
    pub const TOTAL_RULE: &[u8] = b"total-rule";
    /// Total bound (0 when there is no rule).
    pub const TOTAL_BOUND: &[u8] = b"total-bound";
    /// Bit size `n` of the aggregated range proof.
    pub const BIT_SIZE: &[u8] = b"bit-size";
    /// Number of range claims.
    pub const CLAIM_COUNT: &[u8] = b"claim-count";
    /// A claim's commitment.
    pub const CLAIM_COMMITMENT: &[u8] = b"claim-commitment";
    /// A claim's maximum.
    pub const CLAIM_MAX: &[u8] = b"claim-max";
    /// Number of aggregated statements after padding.
    pub const STATEMENT_COUNT: &[u8] = b"statement-count";
}
