//! The numbered checks of `spec/checks.md` and the mapping from the record's
//! rule identifiers (`spec/record.md` §6) to them.

use tallyboard_protocol::{caucus, rules};

/// Every check the verifier reports, in report order: (id, name).
pub const CHECKS: &[(&str, &str)] = &[
    ("V1.1", "log root and size equal the signed checkpoint"),
    ("V1.2", "checkpoint signed by the manifest's board key"),
    ("V1.3", "earlier checkpoints consistent with the record"),
    ("V1.4", "entries well framed and decodable"),
    ("V1.5", "witness cosignatures on the checkpoint valid"),
    ("V2.1", "manifest valid and signed by its admin key"),
    (
        "V2.2",
        "entries carry the election and are signed by an allowed key",
    ),
    ("V2.3", "phase order, prerequisites and allowed entries"),
    ("V2.4", "no entry body replayed"),
    ("V3.1", "trustee keys with proofs of possession"),
    (
        "V3.2",
        "dealer reveals match commitments, proofs of knowledge",
    ),
    ("V3.3", "complaints evaluated"),
    (
        "V3.4",
        "joint key and verification keys from the qualified dealers",
    ),
    ("V4.1", "issuance entries"),
    ("V4.2", "credential signatures by the district issuer"),
    (
        "V4.3",
        "credentials used at most credentials issued, per district",
    ),
    ("V5.1", "ballots signed by their credential"),
    ("V5.2", "ballot contests, ciphertexts and proofs"),
    ("V5.3", "ballots cast while voting is open"),
    (
        "V5.4",
        "one counted ballot per credential and round (revote policy)",
    ),
    ("V6.1", "challenged ballots re-encrypt to their reveals"),
    ("V6.2", "challenged ballots never counted"),
    ("V7.1", "encrypted tally is the sum of the counted ballots"),
    ("V7.2", "partial decryptions and their proofs"),
    (
        "V7.3",
        "result combines the partials; counts are the discrete logs",
    ),
    ("V8.1", "caucus viability"),
    ("V8.2", "realignment eligibility"),
    ("V8.3", "final alignment"),
    ("V8.4", "delegate apportionment"),
];

/// Every rule of `spec/record.md` §6 (and the caucus rules of
/// `spec/caucus.md`), by its identifier.
pub const ALL_RULES: &[&str] = &[
    rules::ENTRY_SIZE,
    rules::ENTRY_DECODE,
    rules::ENTRY_SIGNATURE,
    rules::ENTRY_ELECTION,
    rules::ENTRY_REPLAY,
    rules::ENTRY_AUTHOR,
    rules::MANIFEST_FIRST,
    rules::MANIFEST_VALID,
    rules::MANIFEST_BOARD,
    rules::PHASE_ORDER,
    rules::PHASE_PREREQUISITE,
    rules::PHASE_ALLOWS,
    rules::NOTICE_VALID,
    rules::ISSUANCE_VALID,
    rules::ISSUANCE_UNIQUE,
    rules::PAYLOAD_SUPPORTED,
    rules::BALLOT_CREDENTIAL,
    rules::BALLOT_CONTESTS,
    rules::BALLOT_PROOFS,
    rules::BALLOT_ISSUED,
    rules::CHALLENGE_REVEAL,
    rules::DKG_MESSAGE,
    rules::ELECTION_KEY,
    rules::TALLY_AGGREGATE,
    rules::PARTIAL_VALID,
    rules::RESULT_VALID,
    caucus::CAUCUS_REALIGNMENT,
    caucus::CAUCUS_VIABILITY,
    caucus::CAUCUS_APPORTIONMENT,
];

/// The kind of entry a rule error was raised for, as far as the verifier
/// could decode it (so that, e.g., a bad signature on a ballot is V5.1 and
/// on an administrator entry V2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// Undecodable, or not known.
    Unknown,
    /// The manifest.
    Manifest,
    /// A phase change.
    Phase,
    /// A notice.
    Notice,
    /// An issuance record.
    Issuance,
    /// A key-ceremony message.
    Dkg,
    /// The election key.
    ElectionKey,
    /// A cast ballot.
    Ballot,
    /// A challenged ballot.
    Challenged,
    /// An encrypted tally.
    Tally,
    /// A partial decryption.
    Partial,
    /// A result.
    Result,
    /// A caucus payload.
    Caucus,
}

impl EntryKind {
    /// The kind of a payload.
    pub fn of(p: &tallyboard_protocol::v1::entry_body::Payload) -> Self {
        use tallyboard_protocol::v1::entry_body::Payload as P;
        match p {
            P::Manifest(_) => Self::Manifest,
            P::PhaseChange(_) => Self::Phase,
            P::Notice(_) => Self::Notice,
            P::Issuance(_) => Self::Issuance,
            P::Dkg(_) => Self::Dkg,
            P::ElectionKey(_) => Self::ElectionKey,
            P::Ballot(_) => Self::Ballot,
            P::ChallengedBallot(_) => Self::Challenged,
            P::EncryptedTally(_) => Self::Tally,
            P::PartialDecryption(_) => Self::Partial,
            P::Result(_) => Self::Result,
            P::CaucusViability(_) | P::CaucusApportionment(_) => Self::Caucus,
        }
    }

    /// Best-effort kind of raw entry bytes (no signature check).
    pub fn sniff(bytes: &[u8]) -> Self {
        use prost::Message;
        use tallyboard_protocol::v1;
        v1::Entry::decode(bytes)
            .ok()
            .and_then(|e| v1::EntryBody::decode(e.body.as_slice()).ok())
            .and_then(|b| b.payload.as_ref().map(Self::of))
            .unwrap_or(Self::Unknown)
    }
}

/// The check a rule violation belongs to (`spec/checks.md` §9).
pub fn check_of_rule(rule: &str, kind: EntryKind) -> &'static str {
    let ballotish = matches!(kind, EntryKind::Ballot | EntryKind::Challenged);
    let manifest = kind == EntryKind::Manifest;
    if rule == rules::ENTRY_SIGNATURE && ballotish {
        return "V5.1";
    }
    if (rule == rules::ENTRY_SIGNATURE
        || rule == rules::ENTRY_ELECTION
        || rule == rules::ENTRY_AUTHOR)
        && manifest
    {
        return "V2.1";
    }
    if rule == rules::PHASE_ALLOWS && ballotish {
        return "V5.3";
    }
    if rule == rules::PAYLOAD_SUPPORTED && kind == EntryKind::Caucus {
        return "V8.1";
    }
    if rule == caucus::CAUCUS_VIABILITY {
        return "V8.1";
    }
    if rule == caucus::CAUCUS_REALIGNMENT {
        return "V8.2";
    }
    if rule == caucus::CAUCUS_APPORTIONMENT {
        return "V8.4";
    }
    const TABLE: &[(&str, &str)] = &[
        (rules::ENTRY_SIZE, "V1.4"),
        (rules::ENTRY_DECODE, "V1.4"),
        (rules::ENTRY_SIGNATURE, "V2.2"),
        (rules::ENTRY_ELECTION, "V2.2"),
        (rules::ENTRY_AUTHOR, "V2.2"),
        (rules::ENTRY_REPLAY, "V2.4"),
        (rules::MANIFEST_FIRST, "V2.1"),
        (rules::MANIFEST_VALID, "V2.1"),
        (rules::MANIFEST_BOARD, "V1.2"),
        (rules::PHASE_ORDER, "V2.3"),
        (rules::PHASE_PREREQUISITE, "V2.3"),
        (rules::PHASE_ALLOWS, "V2.3"),
        (rules::NOTICE_VALID, "V2.2"),
        (rules::ISSUANCE_VALID, "V4.1"),
        (rules::ISSUANCE_UNIQUE, "V4.1"),
        (rules::BALLOT_CREDENTIAL, "V4.2"),
        (rules::BALLOT_CONTESTS, "V5.2"),
        (rules::BALLOT_PROOFS, "V5.2"),
        (rules::BALLOT_ISSUED, "V4.3"),
        (rules::CHALLENGE_REVEAL, "V6.1"),
        (rules::DKG_MESSAGE, "V3.2"),
        (rules::ELECTION_KEY, "V3.4"),
        (rules::TALLY_AGGREGATE, "V7.1"),
        (rules::PARTIAL_VALID, "V7.2"),
        (rules::RESULT_VALID, "V7.3"),
        (rules::PAYLOAD_SUPPORTED, "V2.2"),
    ];
    TABLE
        .iter()
        .find(|(r, _)| *r == rule)
        .map_or("V2.2", |(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_maps_to_a_listed_check() {
        let all = ALL_RULES;
        for &r in all {
            for k in [EntryKind::Unknown, EntryKind::Ballot, EntryKind::Manifest] {
                let c = check_of_rule(r, k);
                assert!(CHECKS.iter().any(|(id, _)| *id == c), "{r} -> {c}");
            }
        }
        assert_eq!(
            check_of_rule(rules::ENTRY_SIGNATURE, EntryKind::Ballot),
            "V5.1"
        );
        assert_eq!(
            check_of_rule(rules::PHASE_ALLOWS, EntryKind::Ballot),
            "V5.3"
        );
        assert_eq!(
            check_of_rule(rules::PHASE_ALLOWS, EntryKind::Issuance),
            "V2.3"
        );
        assert_eq!(
            check_of_rule(caucus::CAUCUS_REALIGNMENT, EntryKind::Ballot),
            "V8.2"
        );
        assert_eq!(
            check_of_rule(caucus::CAUCUS_APPORTIONMENT, EntryKind::Caucus),
            "V8.4"
        );
    }
}
