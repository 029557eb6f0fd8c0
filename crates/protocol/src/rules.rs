//! The rule identifiers of `spec/record.md` §6, in one place so that the
//! spec, the services and the verifier name them identically.

/// Entry larger than [`crate::MAX_ENTRY_BYTES`].
pub const ENTRY_SIZE: &str = "R1.1 entry-size";
/// Entry or body is not valid protobuf, or has no payload.
pub const ENTRY_DECODE: &str = "R1.2 entry-decode";
/// Author key or signature malformed, or the signature does not verify.
pub const ENTRY_SIGNATURE: &str = "R1.3 entry-signature";
/// Election id or fingerprint does not match the manifest.
pub const ENTRY_ELECTION: &str = "R1.4 entry-election";
/// The same body is already on the record (replay).
pub const ENTRY_REPLAY: &str = "R1.5 entry-replay";
/// The author key may not post this payload type.
pub const ENTRY_AUTHOR: &str = "R1.6 entry-author";

/// The first entry must be the manifest, and there is only one.
pub const MANIFEST_FIRST: &str = "R2.1 manifest-first";
/// The manifest's fields are invalid.
pub const MANIFEST_VALID: &str = "R2.2 manifest-valid";
/// The manifest names another board (origin or key).
pub const MANIFEST_BOARD: &str = "R2.3 manifest-board";

/// A phase change that does not follow the phase order.
pub const PHASE_ORDER: &str = "R3.1 phase-order";
/// A phase change whose prerequisite is not on the record.
pub const PHASE_PREREQUISITE: &str = "R3.2 phase-prerequisite";
/// An entry posted in a phase that does not allow it.
pub const PHASE_ALLOWS: &str = "R3.3 phase-allows";

/// An administrator notice is invalid.
pub const NOTICE_VALID: &str = "R4.1 notice-valid";

/// An issuance record is invalid (district, hash length).
pub const ISSUANCE_VALID: &str = "R5.1 issuance-valid";
/// A voter was already issued a credential.
pub const ISSUANCE_UNIQUE: &str = "R5.2 issuance-unique";

/// A payload type that this version of the rules does not accept yet.
pub const PAYLOAD_SUPPORTED: &str = "R9.1 payload-supported";

/// A ballot's credential is not validly issued for its district.
pub const BALLOT_CREDENTIAL: &str = "R6.1 ballot-credential";
/// A ballot's contests do not match its district's contests.
pub const BALLOT_CONTESTS: &str = "R6.2 ballot-contests";
/// A ballot's ciphertexts or proofs do not verify.
pub const BALLOT_PROOFS: &str = "R6.3 ballot-proofs";
/// More credentials voted in a district than were issued there.
pub const BALLOT_ISSUED: &str = "R6.4 ballot-issued";

/// A challenged ballot's reveal does not re-encrypt to its ciphertexts.
pub const CHALLENGE_REVEAL: &str = "R7.1 challenge-reveal";

/// A key-ceremony message is malformed, from the wrong trustee, or out of order.
pub const DKG_MESSAGE: &str = "R8.1 dkg-message";
/// The posted election key is not the one the ceremony produced.
pub const ELECTION_KEY: &str = "R8.2 election-key";

/// An encrypted tally is not the aggregate of the counted ballots.
pub const TALLY_AGGREGATE: &str = "R10.1 tally-aggregate";
/// A partial decryption is invalid.
pub const PARTIAL_VALID: &str = "R10.2 partial-valid";
/// A result does not follow from the partial decryptions.
pub const RESULT_VALID: &str = "R10.3 result-valid";
