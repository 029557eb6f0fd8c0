//! Every label of the threshold layer (`spec/threshold.md` §3).
//!
//! Two kinds of label live here:
//!
//! * protocol labels and context-item names absorbed by the strong
//!   Fiat–Shamir transcripts of `tallyboard_crypto::transcript`
//!   (`spec/crypto.md` §4);
//! * domain-separation prefixes of the plain hash, KDF and AEAD inputs of the
//!   key ceremony.
//!
//! [`DKG_POK`] and [`PARTIAL_DECRYPTION`] are the foundation's labels,
//! re-exported so that this module lists every label the layer uses.

pub use tallyboard_crypto::transcript::labels::{DKG_POK, PARTIAL_DECRYPTION};

/// Purpose of the Schnorr proof of possession of a trustee's long-term
/// share-encryption key (`spec/threshold.md` §4).
pub const TRUSTEE_KEY_POP: &[u8] = b"trustee-key-pop";

/// Protocol label of the Chaum–Pedersen proof in a DKG complaint: the posted
/// point is the Diffie–Hellman value of the recipient's key and the dealer's
/// ephemeral key (`spec/threshold.md` §5.4).
pub const DKG_COMPLAINT: &[u8] = b"dkg-complaint";

/// Domain prefix of the round-0 hash commitment (`spec/threshold.md` §5.1).
pub const DKG_COMMIT: &[u8] = b"tallyboard/v1/dkg-commit";

/// Domain prefix of the HKDF `info` that derives a share-encryption key
/// (`spec/threshold.md` §5.3).
pub const DKG_SHARE_KEY: &[u8] = b"tallyboard/v1/dkg-share-key";

/// Domain prefix of the AEAD associated data of an encrypted share
/// (`spec/threshold.md` §5.3).
pub const DKG_SHARE_AAD: &[u8] = b"tallyboard/v1/dkg-share-aad";

/// Context-item name: the purpose of a Schnorr proof (its value is
/// [`TRUSTEE_KEY_POP`] or [`DKG_POK`]).
pub const CTX_PURPOSE: &[u8] = b"purpose";
/// Context-item name: a trustee's index (8 bytes big-endian).
pub const CTX_TRUSTEE: &[u8] = b"trustee";
/// Context-item name: a dealer's index (8 bytes big-endian).
pub const CTX_DEALER: &[u8] = b"dealer";
/// Context-item name: a coefficient's degree `k` (8 bytes big-endian).
pub const CTX_COEFFICIENT: &[u8] = b"coefficient";
/// Context-item name: a complainer's index (8 bytes big-endian).
pub const CTX_COMPLAINER: &[u8] = b"complainer";
/// Context-item name: a ciphertext's position in a tally (8 bytes big-endian).
pub const CTX_POSITION: &[u8] = b"position";

/// Type tags: the first byte of every encoding of this crate
/// (`spec/threshold.md` §2.2).
pub mod tags {
    /// Key announcement (long-term key + proof of possession).
    pub const KEY_ANNOUNCEMENT: u8 = 0x01;
    /// Round-0 hash commitment.
    pub const COMMITMENT: u8 = 0x02;
    /// Round-1 reveal.
    pub const REVEAL: u8 = 0x03;
    /// Round-2 complaint.
    pub const COMPLAINT: u8 = 0x04;
    /// Partial decryption of a list of ciphertexts.
    pub const PARTIAL_DECRYPTION: u8 = 0x05;
    /// Threshold public key (joint key and verification keys).
    pub const THRESHOLD_PUBLIC_KEY: u8 = 0x06;
    /// A trustee's secret share (file format).
    pub const SECRET_SHARE: u8 = 0x07;
    /// A trustee's long-term secret key (file format).
    pub const TRUSTEE_SECRET_KEY: u8 = 0x08;
    /// A trustee's ceremony state between rounds (file format).
    pub const TRUSTEE_STATE: u8 = 0x09;
}
