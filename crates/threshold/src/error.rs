//! The error type of the threshold layer.
//!
//! One enum, [`ThresholdError`], serves three purposes: it is returned by
//! functions that cannot proceed, it names the reason a dealer was
//! disqualified in a [`crate::dkg::Qualification`], and it names the reason a
//! partial decryption was set aside in a [`crate::decryption::Decryption`].
//! Every variant that blames a party carries that party's index.

use tallyboard_crypto::DecodeError;
use thiserror::Error;

use crate::dkg::Round;

/// Why a threshold operation failed, or why a party was found at fault.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ThresholdError {
    /// A byte string is not a canonical encoding (`spec/threshold.md` §2).
    #[error("malformed encoding: {0}")]
    Decode(#[from] DecodeError),
    /// Ceremony parameters outside `1 ≤ t ≤ n ≤ 255`, or inconsistent inputs.
    #[error("invalid parameters: {0}")]
    InvalidParameters(&'static str),
    /// A trustee index outside `1..=n`.
    #[error("trustee index {trustee} outside 1..={trustees}")]
    UnknownTrustee {
        /// The index given.
        trustee: u8,
        /// The number of trustees.
        trustees: u8,
    },
    /// A message whose `t` or `n` differ from the ceremony's.
    #[error("message from trustee {trustee} has parameters other than the ceremony's")]
    ParameterMismatch {
        /// The sender.
        trustee: u8,
    },
    /// A ceremony step was called out of order.
    #[error("wrong round: the step belongs to {expected:?}, the trustee is in {actual:?}")]
    WrongRound {
        /// The round the step belongs to.
        expected: Round,
        /// The trustee's current round.
        actual: Round,
    },
    /// A trustee posted no key announcement: the ceremony cannot start.
    #[error("trustee {trustee} has no key announcement")]
    MissingKeyAnnouncement {
        /// The trustee.
        trustee: u8,
    },
    /// A key announcement whose proof of possession does not verify.
    #[error("key announcement of trustee {trustee} does not verify")]
    InvalidKeyAnnouncement {
        /// The trustee.
        trustee: u8,
    },
    /// Two different messages of the same kind from the same trustee.
    #[error("trustee {trustee} posted conflicting {message} messages")]
    ConflictingMessages {
        /// The trustee.
        trustee: u8,
        /// Which kind of message.
        message: &'static str,
    },
    /// The record does not contain this trustee's own earlier message.
    #[error("the record lacks this trustee's own {0}")]
    MissingOwnMessage(&'static str),
    /// A dealer posted no round-0 commitment.
    #[error("dealer {dealer} posted no round-0 commitment")]
    MissingCommitment {
        /// The dealer.
        dealer: u8,
    },
    /// A dealer posted no round-1 reveal.
    #[error("dealer {dealer} posted no reveal")]
    MissingReveal {
        /// The dealer.
        dealer: u8,
    },
    /// A reveal whose coefficient commitments do not hash to the dealer's
    /// round-0 commitment.
    #[error("reveal of dealer {dealer} does not match its round-0 commitment")]
    RevealMismatch {
        /// The dealer.
        dealer: u8,
    },
    /// A coefficient commitment whose proof of knowledge does not verify.
    #[error("proof of knowledge of coefficient {coefficient} of dealer {dealer} does not verify")]
    InvalidProofOfKnowledge {
        /// The dealer.
        dealer: u8,
        /// The coefficient's degree `k`.
        coefficient: u8,
    },
    /// An encrypted share that does not decrypt (AEAD failure or
    /// non-canonical scalar).
    #[error("share from dealer {dealer} to trustee {recipient} does not decrypt")]
    ShareDecryptionFailed {
        /// The dealer.
        dealer: u8,
        /// The recipient.
        recipient: u8,
    },
    /// A decrypted share that does not match the dealer's coefficient commitments.
    #[error(
        "share from dealer {dealer} to trustee {recipient} does not match the dealer's commitments"
    )]
    InvalidShare {
        /// The dealer.
        dealer: u8,
        /// The recipient.
        recipient: u8,
    },
    /// A dealer shown by a verifiable complaint to have sent a bad share.
    #[error("dealer {dealer} sent a bad share, shown by trustee {complainer}'s complaint")]
    ValidComplaint {
        /// The dealer.
        dealer: u8,
        /// The complainer.
        complainer: u8,
    },
    /// A complaint whose Diffie–Hellman proof does not verify.
    #[error("complaint of trustee {complainer} against dealer {dealer} has an invalid proof")]
    InvalidComplaintProof {
        /// The complainer.
        complainer: u8,
        /// The dealer complained about.
        dealer: u8,
    },
    /// A complaint about a share that decrypts and verifies.
    #[error("complaint of trustee {complainer} against dealer {dealer} is unfounded")]
    UnfoundedComplaint {
        /// The complainer.
        complainer: u8,
        /// The dealer complained about.
        dealer: u8,
    },
    /// Fewer than `t` dealers qualified: no key was generated.
    #[error("ceremony failed: {qualified} qualified dealers, threshold {threshold}")]
    CeremonyFailed {
        /// Size of QUAL.
        qualified: usize,
        /// The threshold `t`.
        threshold: u8,
    },
    /// The joint key or a verification key is the identity (probability
    /// negligible unless the hash commitments are broken).
    #[error("degenerate joint or verification key")]
    DegenerateKey,
    /// A secret share whose `s·G` is not the trustee's verification key.
    #[error("secret share of trustee {trustee} does not match its verification key")]
    SelfCheckFailed {
        /// The trustee.
        trustee: u8,
    },
    /// Objects from different elections (or ceremonies) were mixed.
    #[error("election fingerprint or ceremony parameters mismatch")]
    ElectionMismatch,
    /// A threshold public key whose verification keys are not on one
    /// polynomial of degree < t with constant term the joint key.
    #[error("inconsistent threshold public key")]
    InconsistentPublicKey,
    /// A partial decryption for a different number of ciphertexts.
    #[error("partial decryption of trustee {trustee} has {got} entries, {expected} expected")]
    PartialLengthMismatch {
        /// The trustee.
        trustee: u8,
        /// Number of ciphertexts.
        expected: usize,
        /// Number of entries in the partial decryption.
        got: usize,
    },
    /// A second partial decryption from the same trustee.
    #[error("duplicate partial decryption from trustee {trustee}")]
    DuplicatePartial {
        /// The trustee.
        trustee: u8,
    },
    /// A partial decryption whose proof fails at `position`.
    #[error("partial decryption of trustee {trustee} is invalid at position {position}")]
    InvalidPartialDecryption {
        /// The trustee.
        trustee: u8,
        /// The first failing ciphertext position.
        position: usize,
    },
    /// Fewer than `t` valid partial decryptions.
    #[error("{valid} valid partial decryptions, {threshold} needed")]
    NotEnoughPartials {
        /// Number of valid partial decryptions.
        valid: usize,
        /// The threshold `t`.
        threshold: u8,
    },
    /// The combined plaintext is not in `[0, max]`.
    #[error("plaintext at position {position} is not in [0, {max}]")]
    PlaintextOutOfRange {
        /// The ciphertext position.
        position: usize,
        /// The bound.
        max: u64,
    },
}
