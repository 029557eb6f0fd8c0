//! The election record as a state machine (`spec/record.md` §3–§5).
//!
//! [`RecordState`] is built by applying entries in log order. The board uses
//! it to admit entries (so an invalid entry never reaches the log); the
//! verifier replays the whole record through it. Validation is split in two:
//!
//! * [`RecordState::precheck`] (`&self`): decoding, signatures, proofs — the
//!   expensive, stateless-given-the-manifest part, safe to run concurrently;
//! * [`RecordState::apply`] (`&mut self`): the cheap stateful rules (phase
//!   order, replays, uniqueness), run by the single sequencer. On error the
//!   state is unchanged.
//!
//! Everything `precheck` relies on is immutable once set (the manifest is
//! entry 0 and never changes), so a precheck result stays valid until apply.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use ed25519_dalek::VerifyingKey;
use tallyboard_proto::v1;
use v1::entry_body::Payload;

use crate::entry::{decode_entry, payload_name, DecodedEntry, Digest32};
use crate::error::{denied, exists, invalid, precondition, RuleError, RuleErrorKind};
use crate::manifest::{validate_manifest, ElectionManifest};
use crate::rules;

/// Longest administrator notice, in bytes.
pub const MAX_NOTICE_BYTES: usize = 4_096;

/// The board that holds the record: its checkpoint origin and key. A manifest
/// naming another board is refused (rule R2.3), so a record cannot be
/// replayed onto a different board unnoticed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardIdentity {
    /// Checkpoint origin line.
    pub origin: String,
    /// Ed25519 checkpoint key.
    pub key: VerifyingKey,
}

/// The phase of the election (`spec/record.md` §4). `Setup` is the phase
/// between the manifest and the first phase change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ElectionPhase {
    /// No manifest yet.
    Empty,
    /// Manifest posted.
    Setup,
    /// Key ceremony.
    KeyCeremony,
    /// Voting open.
    VotingOpen,
    /// Voting closed.
    VotingClosed,
    /// Caucus realignment open.
    RealignmentOpen,
    /// Caucus realignment closed.
    RealignmentClosed,
    /// Final.
    Finished,
}

impl ElectionPhase {
    fn from_proto(p: v1::Phase) -> Option<Self> {
        Some(match p {
            v1::Phase::Unspecified => return None,
            v1::Phase::KeyCeremony => Self::KeyCeremony,
            v1::Phase::VotingOpen => Self::VotingOpen,
            v1::Phase::VotingClosed => Self::VotingClosed,
            v1::Phase::RealignmentOpen => Self::RealignmentOpen,
            v1::Phase::RealignmentClosed => Self::RealignmentClosed,
            v1::Phase::Finished => Self::Finished,
        })
    }
}

/// An entry that passed [`RecordState::precheck`].
#[derive(Debug, Clone)]
pub struct Prechecked {
    entry: DecodedEntry,
    manifest: Option<Arc<ElectionManifest>>,
}

impl Prechecked {
    /// The decoded entry.
    pub fn entry(&self) -> &DecodedEntry {
        &self.entry
    }
    /// The exact entry bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.entry.bytes
    }
}

/// What the record says so far.
#[derive(Debug, Clone)]
pub struct RecordState {
    board: Option<BoardIdentity>,
    len: u64,
    manifest: Option<Arc<ElectionManifest>>,
    phase: ElectionPhase,
    phase_changes: Vec<(ElectionPhase, u64)>,
    bodies: HashSet<Digest32>,
    issued_voters: HashSet<Vec<u8>>,
    issued_per_district: HashMap<String, u64>,
    election_key_posted: bool,
    result_posted: bool,
    notices: u64,
}

impl RecordState {
    /// An empty record held by `board`.
    pub fn new(board: BoardIdentity) -> Self {
        let mut s = Self::unbound();
        s.board = Some(board);
        s
    }

    /// An empty record whose manifest may name any board (for verifiers that
    /// learn the board identity from the manifest itself; they then check the
    /// checkpoints against it).
    pub fn unbound() -> Self {
        Self {
            board: None,
            len: 0,
            manifest: None,
            phase: ElectionPhase::Empty,
            phase_changes: Vec::new(),
            bodies: HashSet::new(),
            issued_voters: HashSet::new(),
            issued_per_district: HashMap::new(),
            election_key_posted: false,
            result_posted: false,
            notices: 0,
        }
    }

    /// Entries applied.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether no entry was applied.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The validated manifest, once posted.
    pub fn manifest(&self) -> Option<&Arc<ElectionManifest>> {
        self.manifest.as_ref()
    }

    /// The current phase.
    pub fn phase(&self) -> ElectionPhase {
        self.phase
    }

    /// Each phase change with the log index that made it.
    pub fn phase_changes(&self) -> &[(ElectionPhase, u64)] {
        &self.phase_changes
    }

    /// Credentials issued per district so far.
    pub fn issued_per_district(&self) -> &HashMap<String, u64> {
        &self.issued_per_district
    }

    /// Administrator notices so far.
    pub fn notices(&self) -> u64 {
        self.notices
    }

    /// Decodes and validates `bytes` against the record so far without
    /// changing it (rules R1.1–R1.4, R1.6, R2.x, and each payload's
    /// stateless rules).
    pub fn precheck(&self, bytes: &[u8]) -> Result<Prechecked, RuleError> {
        let entry = decode_entry(bytes)?;
        let payload = entry
            .payload()
            .ok_or_else(|| invalid(rules::ENTRY_DECODE, "entry body has no payload"))?;
        match (&self.manifest, payload) {
            (None, Payload::Manifest(m)) => {
                let manifest = validate_manifest(m, &entry.body_bytes)?;
                if entry.author != manifest.admin_key {
                    return Err(denied(
                        rules::ENTRY_AUTHOR,
                        "the manifest must be signed by its admin_key",
                    ));
                }
                if entry.body.election_id != m.election_id
                    || !entry.body.election_fingerprint.is_empty()
                {
                    return Err(invalid(
                        rules::ENTRY_ELECTION,
                        "the manifest entry carries its own election_id and an empty fingerprint",
                    ));
                }
                if let Some(board) = &self.board {
                    if m.board_origin != board.origin
                        || m.board_key.as_slice() != board.key.as_bytes()
                    {
                        return Err(precondition(
                            rules::MANIFEST_BOARD,
                            format!(
                                "the manifest names board {:?} with another key; this board is {:?}",
                                m.board_origin, board.origin
                            ),
                        ));
                    }
                }
                Ok(Prechecked {
                    entry,
                    manifest: Some(Arc::new(manifest)),
                })
            }
            (None, p) => Err(precondition(
                rules::MANIFEST_FIRST,
                format!(
                    "the first entry must be the manifest, not {}",
                    payload_name(p)
                ),
            )),
            (Some(_), Payload::Manifest(_)) => Err(exists(
                rules::MANIFEST_FIRST,
                "the record already has a manifest",
            )),
            (Some(manifest), p) => {
                if entry.body.election_id != manifest.raw.election_id
                    || entry.body.election_fingerprint.as_slice() != manifest.fingerprint
                {
                    return Err(invalid(
                        rules::ENTRY_ELECTION,
                        "election_id or election_fingerprint does not match the manifest",
                    ));
                }
                self.precheck_payload(manifest, &entry, p)?;
                Ok(Prechecked {
                    entry,
                    manifest: None,
                })
            }
        }
    }

    fn precheck_payload(
        &self,
        m: &ElectionManifest,
        e: &DecodedEntry,
        p: &Payload,
    ) -> Result<(), RuleError> {
        let admin_only = |what: &str| {
            if e.author == m.admin_key {
                Ok(())
            } else {
                Err(denied(
                    rules::ENTRY_AUTHOR,
                    format!("{what} must be signed by the admin key"),
                ))
            }
        };
        match p {
            Payload::Manifest(_) => Err(exists(
                rules::MANIFEST_FIRST,
                "the record already has a manifest",
            )),
            Payload::PhaseChange(pc) => {
                admin_only("a phase change")?;
                let phase = v1::Phase::try_from(pc.phase)
                    .ok()
                    .and_then(ElectionPhase::from_proto);
                if phase.is_none() {
                    return Err(invalid(
                        rules::PHASE_ORDER,
                        format!("unknown phase {}", pc.phase),
                    ));
                }
                Ok(())
            }
            Payload::Notice(n) => {
                admin_only("a notice")?;
                if n.text.is_empty() || n.text.len() > MAX_NOTICE_BYTES {
                    return Err(invalid(
                        rules::NOTICE_VALID,
                        format!(
                            "notice text must be 1..={MAX_NOTICE_BYTES} bytes, got {}",
                            n.text.len()
                        ),
                    ));
                }
                Ok(())
            }
            Payload::Issuance(i) => {
                if e.author != m.issuer_signing_key {
                    return Err(denied(
                        rules::ENTRY_AUTHOR,
                        "an issuance must be signed by the issuer_signing_key",
                    ));
                }
                if i.voter_id_hash.len() != 32 {
                    return Err(invalid(
                        rules::ISSUANCE_VALID,
                        "voter_id_hash must be 32 bytes",
                    ));
                }
                if !m.districts.contains_key(&i.district) {
                    return Err(invalid(
                        rules::ISSUANCE_VALID,
                        format!("unknown district {:?}", i.district),
                    ));
                }
                Ok(())
            }
            other => Err(RuleError::new(
                RuleErrorKind::FailedPrecondition,
                rules::PAYLOAD_SUPPORTED,
                format!(
                    "{} entries are not accepted by this version of the rules",
                    payload_name(other)
                ),
            )),
        }
    }

    /// Applies a prechecked entry as entry number [`Self::len`]: checks the
    /// stateful rules (R1.5, R2.1, R3.x, uniqueness) and updates the state.
    /// On error nothing changes.
    pub fn apply(&mut self, p: Prechecked) -> Result<(), RuleError> {
        if self.bodies.contains(&p.entry.body_hash) {
            return Err(exists(
                rules::ENTRY_REPLAY,
                "this entry body is already on the record",
            ));
        }
        let index = self.len;
        let payload = p
            .entry
            .payload()
            .ok_or_else(|| invalid(rules::ENTRY_DECODE, "entry body has no payload"))?;
        match payload {
            Payload::Manifest(_) => {
                let manifest = match (&self.manifest, p.manifest.clone()) {
                    (None, Some(m)) if self.len == 0 => m,
                    _ => {
                        return Err(exists(
                            rules::MANIFEST_FIRST,
                            "the record already has a manifest",
                        ))
                    }
                };
                self.manifest = Some(manifest);
                self.phase = ElectionPhase::Setup;
            }
            Payload::PhaseChange(pc) => {
                let next = v1::Phase::try_from(pc.phase)
                    .ok()
                    .and_then(ElectionPhase::from_proto)
                    .ok_or_else(|| {
                        invalid(rules::PHASE_ORDER, format!("unknown phase {}", pc.phase))
                    })?;
                self.check_transition(next)?;
                self.phase = next;
                self.phase_changes.push((next, index));
            }
            Payload::Notice(_) => {
                self.require_manifest()?;
                self.notices += 1;
            }
            Payload::Issuance(i) => {
                self.require_manifest()?;
                if !matches!(
                    self.phase,
                    ElectionPhase::Setup | ElectionPhase::KeyCeremony | ElectionPhase::VotingOpen
                ) {
                    return Err(precondition(
                        rules::PHASE_ALLOWS,
                        format!("credentials may not be issued in phase {:?}", self.phase),
                    ));
                }
                if self.issued_voters.contains(&i.voter_id_hash) {
                    return Err(exists(
                        rules::ISSUANCE_UNIQUE,
                        "this voter was already issued a credential",
                    ));
                }
                self.issued_voters.insert(i.voter_id_hash.clone());
                *self
                    .issued_per_district
                    .entry(i.district.clone())
                    .or_insert(0) += 1;
            }
            other => {
                return Err(precondition(
                    rules::PAYLOAD_SUPPORTED,
                    format!(
                        "{} entries are not accepted by this version of the rules",
                        payload_name(other)
                    ),
                ))
            }
        }
        self.bodies.insert(p.entry.body_hash);
        self.len += 1;
        Ok(())
    }

    /// Prechecks and applies in one step (for replaying a stored record).
    pub fn check_and_apply(&mut self, bytes: &[u8]) -> Result<(), RuleError> {
        let p = self.precheck(bytes)?;
        self.apply(p)
    }

    fn require_manifest(&self) -> Result<&Arc<ElectionManifest>, RuleError> {
        self.manifest.as_ref().ok_or_else(|| {
            precondition(
                rules::MANIFEST_FIRST,
                "the first entry must be the manifest",
            )
        })
    }

    fn check_transition(&self, next: ElectionPhase) -> Result<(), RuleError> {
        use ElectionPhase as P;
        let manifest = self.require_manifest()?;
        let allowed = match (self.phase, next) {
            (P::Setup, P::KeyCeremony) => true,
            (P::KeyCeremony, P::VotingOpen) => true,
            (P::VotingOpen, P::VotingClosed) => true,
            (P::VotingClosed, P::RealignmentOpen) => manifest.is_caucus,
            (P::RealignmentOpen, P::RealignmentClosed) => true,
            (P::VotingClosed, P::Finished) => !manifest.is_caucus,
            (P::RealignmentClosed, P::Finished) => true,
            _ => false,
        };
        if !allowed {
            return Err(precondition(
                rules::PHASE_ORDER,
                format!("cannot go from phase {:?} to {:?}", self.phase, next),
            ));
        }
        if next == P::VotingOpen && !self.election_key_posted {
            return Err(precondition(
                rules::PHASE_PREREQUISITE,
                "voting cannot open before the election key is on the record",
            ));
        }
        if next == P::Finished && !self.result_posted {
            return Err(precondition(
                rules::PHASE_PREREQUISITE,
                "the election cannot finish before a result is on the record",
            ));
        }
        Ok(())
    }
}
