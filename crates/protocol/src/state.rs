//! The election record as a state machine (`spec/record.md` §3–§5, §7–§10).
//!
//! [`RecordState`] is built by applying entries in log order. The board uses
//! it to admit entries (so an invalid entry never reaches the log); the
//! verifier replays the whole record through it. Validation is split in two:
//!
//! * [`RecordState::precheck`] (`&self`): decoding, signatures, proofs — the
//!   expensive part, which depends only on things that never change once set
//!   (the manifest, the election key), so it is safe to run concurrently;
//! * [`RecordState::apply`] (`&mut self`): the cheap stateful rules (phase
//!   order, replays, uniqueness, revotes, aggregates), run by the single
//!   sequencer. On error the state is unchanged.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use ed25519_dalek::VerifyingKey;
use tallyboard_crypto::elgamal::{Ciphertext, PublicKey};
use tallyboard_proto::v1;
use tallyboard_threshold::{
    DkgMessage, DkgParams, DkgRecord, PartialDecryption, ThresholdPublicKey,
};
use v1::entry_body::Payload;

use crate::ballot::{check_ballot, check_reveal, CheckedBallot};
use crate::caucus::{self, CaucusSetup, REALIGNMENT_ROUND};
use crate::deferred::{precheck_ballot_deferred, DeferredBallotProofs};
use crate::entry::{decode_entry, payload_name, DecodedEntry, Digest32};
use crate::error::{denied, exists, invalid, precondition, RuleError, RuleErrorKind};
use crate::manifest::{validate_manifest, ElectionManifest};
use crate::rules;

mod snap;

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

/// What precheck learned that apply needs.
#[derive(Debug, Clone)]
enum Extra {
    None,
    Manifest(Arc<ElectionManifest>),
    Ballot(CheckedBallot),
    Challenged(CheckedBallot),
    Dkg(Box<DkgMessage>),
    Partial(Box<PartialDecryption>),
}

/// An entry that passed [`RecordState::precheck`].
#[derive(Debug, Clone)]
pub struct Prechecked {
    entry: DecodedEntry,
    extra: Extra,
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
    /// The checked ballot of a cast or challenged ballot entry.
    pub fn ballot(&self) -> Option<&CheckedBallot> {
        match &self.extra {
            Extra::Ballot(b) | Extra::Challenged(b) => Some(b),
            _ => None,
        }
    }
}

/// The ballot that counts for one credential in one round.
#[derive(Debug, Clone)]
pub struct CountedBallot {
    /// Log index of the ballot entry.
    pub index: u64,
    /// The checked ballot (district, contests' ciphertexts).
    pub ballot: CheckedBallot,
}

/// What the record knows about one credential.
#[derive(Debug, Clone, Default)]
pub struct CredentialRecord {
    /// District position (set by the first ballot, cast or challenged).
    pub district: usize,
    /// Ballots cast by this credential, per round.
    pub cast: [u32; 2],
    /// The ballot that counts, per round.
    pub counted: [Option<CountedBallot>; 2],
    /// Challenged ballots posted by this credential.
    pub challenged: u32,
}

impl CredentialRecord {
    /// Whether a ballot (cast or challenged) bound the credential to
    /// `district` (rule R6.1).
    pub fn bound(&self) -> bool {
        self.cast.iter().sum::<u32>() > 0 || self.challenged > 0
    }
}

/// An encrypted tally on the record and what followed it.
#[derive(Debug, Clone)]
pub struct TallyRecord {
    /// Log index of the tally entry.
    pub index: u64,
    /// Caucus round.
    pub round: u32,
    /// The aggregates, in entry order: (contest position, district position or None, ciphertexts).
    pub contests: Vec<(usize, Option<usize>, Vec<Ciphertext>)>,
    /// Ballots counted.
    pub ballots_counted: u64,
    /// The most ballots any aggregate of this tally can contain: the
    /// ballots counted, plus, for a caucus's final alignment (round 1), the
    /// first alignment's counted ballots (`spec/caucus.md` §9.5). It bounds
    /// the discrete logarithms of the decryption.
    pub max_ballots: u64,
    /// Valid partial decryptions by trustee.
    pub partials: BTreeMap<u8, PartialDecryption>,
    /// Log index of the result entry, once posted.
    pub result: Option<u64>,
    /// The decrypted counts, once posted (same order as `contests`).
    pub counts: Vec<Vec<u64>>,
}

impl TallyRecord {
    /// The largest plaintext any aggregate of this tally can hold (the
    /// option's largest value times [`Self::max_ballots`]): the bound of the
    /// discrete logarithms of its decryption (rule R10.3).
    pub fn max_plaintext(&self, m: &ElectionManifest) -> u64 {
        self.contests
            .iter()
            .filter_map(|(c, _, _)| m.specs.get(*c))
            .map(|s| s.option_max().saturating_mul(self.max_ballots))
            .max()
            .unwrap_or(0)
    }

    /// Every ciphertext of the tally, flattened in order (what partial
    /// decryptions cover).
    pub fn flat_ciphertexts(&self) -> Vec<Ciphertext> {
        self.contests
            .iter()
            .flat_map(|(_, _, c)| c.iter().copied())
            .collect()
    }
}

type AggKey = (u32, usize, usize); // (round, contest position, district position)

/// A decrypted caucus round, per caucus district in caucus order
/// ([`RecordState::caucus_round`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaucusRound {
    /// Log index of the round's result entry.
    pub result_entry: u64,
    /// The alignment contest's decrypted counts.
    pub counts: Vec<Vec<u64>>,
    /// The alignment contest's aggregate ciphertexts.
    pub aggregates: Vec<Vec<Ciphertext>>,
}

/// A caucus entry on the record (`spec/caucus.md` §9.3, §9.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaucusEntry<T> {
    /// Log index of the entry.
    pub index: u64,
    /// Its per-district content, in caucus district order.
    pub districts: Vec<T>,
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
    issued_voters: HashSet<[u8; 32]>,
    issued_per_district: HashMap<String, u64>,
    used_per_district: HashMap<usize, u64>,
    notices: u64,
    dkg: Option<DkgRecord>,
    threshold_key: Option<ThresholdPublicKey>,
    election_key: Option<PublicKey>,
    credentials: HashMap<[u8; 32], CredentialRecord>,
    aggregates: HashMap<AggKey, Vec<Ciphertext>>,
    ballots_cast: u64,
    challenged: u64,
    tallies: Vec<TallyRecord>,
    viability: Option<CaucusEntry<v1::DistrictViability>>,
    apportionment: Option<CaucusEntry<v1::DistrictApportionment>>,
    compact: Option<Box<Compact>>,
}

/// What a compact record keeps about one credential (see
/// [`RecordState::unbound_compact`]): 32 bytes instead of the counted
/// ballots' ciphertexts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactCredential {
    counted: [u64; 2],
    district: u32,
    cast: [u32; 2],
    challenged: u32,
}

impl Default for CompactCredential {
    fn default() -> Self {
        Self {
            counted: [u64::MAX; 2],
            district: 0,
            cast: [0; 2],
            challenged: 0,
        }
    }
}

impl CompactCredential {
    /// District position (set by the first ballot or challenge).
    pub fn district(&self) -> usize {
        self.district as usize
    }
    /// Ballots cast in `round` (0 or 1).
    pub fn cast(&self, round: u32) -> u32 {
        self.cast.get(round as usize).copied().unwrap_or(0)
    }
    /// Log index of the ballot that counts in `round`, if any.
    pub fn counted(&self, round: u32) -> Option<u64> {
        self.counted
            .get(round as usize)
            .copied()
            .filter(|&i| i != u64::MAX)
    }
    /// Challenged ballots posted by this credential.
    pub fn challenged(&self) -> u32 {
        self.challenged
    }
    /// Whether a ballot (cast or challenged) bound the credential to its
    /// district (rule R6.1).
    pub fn bound(&self) -> bool {
        self.cast.iter().sum::<u32>() > 0 || self.challenged > 0
    }
}

/// A ballot that stopped counting (a revote replaced it under
/// LAST_COUNTS) while its ciphertexts are still in the aggregates of a
/// compact record; see [`RecordState::resolve_superseded`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SupersededBallot {
    /// Log index of the superseded ballot.
    pub index: u64,
    /// Its round.
    pub round: u32,
    /// Its credential key.
    pub credential: [u8; 32],
}

#[derive(Debug, Clone, Default)]
struct Compact {
    credentials: HashMap<[u8; 32], CompactCredential>,
    pending: Vec<SupersededBallot>,
    /// Caucus only: the alignment contest's ciphertexts of each
    /// credential's counted round-0 ballot, which a realignment proof refers
    /// to (`spec/caucus.md` §9.4).
    round0_alignment: HashMap<[u8; 32], Vec<Ciphertext>>,
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
            used_per_district: HashMap::new(),
            notices: 0,
            dkg: None,
            threshold_key: None,
            election_key: None,
            credentials: HashMap::new(),
            aggregates: HashMap::new(),
            ballots_cast: 0,
            challenged: 0,
            tallies: Vec::new(),
            viability: None,
            apportionment: None,
            compact: None,
        }
    }

    /// An unbound record (as [`Self::unbound`]) that keeps, per credential,
    /// only the log index of its counted ballot instead of the ballot's
    /// ciphertexts, so that a verifier replays millions of ballots in bounded
    /// memory. The rules are the same, with one difference of bookkeeping:
    /// when a revote replaces a counted ballot (LAST_COUNTS), the replaced
    /// ballot's ciphertexts stay in the aggregates until the caller hands its
    /// entry back with [`Self::resolve_superseded`]; an encrypted tally is
    /// refused (rule R10.1) while any is pending. [`Self::credentials`] is
    /// empty in this mode; use [`Self::compact_credentials`].
    pub fn unbound_compact() -> Self {
        let mut s = Self::unbound();
        s.compact = Some(Box::default());
        s
    }

    /// Whether this record was made by [`Self::unbound_compact`].
    pub fn is_compact(&self) -> bool {
        self.compact.is_some()
    }

    /// The credentials of a compact record (`None` for an ordinary one).
    pub fn compact_credentials(&self) -> Option<&HashMap<[u8; 32], CompactCredential>> {
        self.compact.as_ref().map(|c| &c.credentials)
    }

    /// Superseded ballots whose ciphertexts a compact record still has to
    /// remove from its aggregates (always empty for an ordinary record).
    pub fn superseded_pending(&self) -> &[SupersededBallot] {
        self.compact.as_ref().map_or(&[], |c| c.pending.as_slice())
    }

    /// Removes a pending superseded ballot from the aggregates of a compact
    /// record, given the exact bytes of its entry (log index `index`). The
    /// bytes are decoded again (the entry's proofs were verified when it was
    /// applied and are not verified again) and must be a ballot of the
    /// pending credential and round.
    pub fn resolve_superseded(&mut self, index: u64, bytes: &[u8]) -> Result<(), RuleError> {
        let pos = self
            .superseded_pending()
            .iter()
            .position(|p| p.index == index)
            .ok_or_else(|| {
                RuleError::new(
                    RuleErrorKind::NotFound,
                    rules::TALLY_AGGREGATE,
                    format!("entry {index} is not a pending superseded ballot"),
                )
            })?;
        let pending = self.superseded_pending()[pos];
        let (p, _) = self.precheck_deferred(bytes)?;
        let Extra::Ballot(b) = &p.extra else {
            return Err(invalid(
                rules::TALLY_AGGREGATE,
                format!("entry {index} is not a ballot"),
            ));
        };
        if p.entry.author.to_bytes() != pending.credential || b.round != pending.round {
            return Err(invalid(
                rules::TALLY_AGGREGATE,
                format!("entry {index} is not the superseded ballot"),
            ));
        }
        for (cpos, cts) in &b.contests {
            if let Some(agg) = self.aggregates.get_mut(&(b.round, *cpos, b.district)) {
                for (a, c) in agg.iter_mut().zip(cts) {
                    *a = *a - *c;
                }
            }
        }
        if let Some(c) = self.compact.as_mut() {
            c.pending.swap_remove(pos);
        }
        Ok(())
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
    /// Distinct credentials that cast a ballot, per district position.
    pub fn used_per_district(&self) -> &HashMap<usize, u64> {
        &self.used_per_district
    }
    /// Administrator notices so far.
    pub fn notices(&self) -> u64 {
        self.notices
    }
    /// The key-ceremony messages so far.
    pub fn dkg(&self) -> Option<&DkgRecord> {
        self.dkg.as_ref()
    }
    /// The election's threshold key, once posted.
    pub fn threshold_key(&self) -> Option<&ThresholdPublicKey> {
        self.threshold_key.as_ref()
    }
    /// The joint election key, once posted.
    pub fn election_key(&self) -> Option<&PublicKey> {
        self.election_key.as_ref()
    }
    /// Every credential that cast or challenged a ballot.
    pub fn credentials(&self) -> &HashMap<[u8; 32], CredentialRecord> {
        &self.credentials
    }
    /// Ballots cast (all rounds, revotes included).
    pub fn ballots_cast(&self) -> u64 {
        self.ballots_cast
    }
    /// Challenged ballots posted.
    pub fn challenged(&self) -> u64 {
        self.challenged
    }
    /// Encrypted tallies on the record.
    pub fn tallies(&self) -> &[TallyRecord] {
        &self.tallies
    }

    /// The caucus viability entry, once posted (`spec/caucus.md` §9.3).
    pub fn caucus_viability(&self) -> Option<&CaucusEntry<v1::DistrictViability>> {
        self.viability.as_ref()
    }

    /// The caucus apportionment entry, once posted (`spec/caucus.md` §9.7).
    pub fn caucus_apportionment(&self) -> Option<&CaucusEntry<v1::DistrictApportionment>> {
        self.apportionment.as_ref()
    }

    /// Credentials whose ballot counts in `round`.
    pub fn counted_in_round(&self, round: u32) -> u64 {
        let r = round as usize;
        if let Some(c) = &self.compact {
            return c
                .credentials
                .values()
                .filter(|x| x.counted(round).is_some())
                .count() as u64;
        }
        self.credentials
            .values()
            .filter(|c| c.counted.get(r).is_some_and(Option::is_some))
            .count() as u64
    }

    /// The aggregates the next tally of `round` must post, in the order of
    /// `spec/record.md` §10.1: for each contest in manifest order, one total
    /// over all districts (an ordinary election) or one per district in
    /// manifest order where the contest appears (a caucus).
    ///
    /// A caucus's round-1 tally is the final alignment (`spec/caucus.md`
    /// §9.5): the alignment contest only, per caucus district, each viable
    /// option's round-0 plus round-1 sum and the zero ciphertext for the
    /// others.
    pub fn expected_tally(&self, round: u32) -> Vec<(usize, Option<usize>, Vec<Ciphertext>)> {
        let Some(m) = &self.manifest else {
            return Vec::new();
        };
        if m.is_caucus && round == REALIGNMENT_ROUND {
            return self.final_alignment(m).unwrap_or_default();
        }
        let mut out = Vec::new();
        for (cpos, c) in m.raw.contests.iter().enumerate() {
            let n = m.specs[cpos].options();
            let districts: Vec<usize> = m
                .raw
                .districts
                .iter()
                .enumerate()
                .filter(|(_, d)| c.districts.is_empty() || c.districts.contains(&d.id))
                .map(|(i, _)| i)
                .collect();
            let get = |d: usize| {
                self.aggregates
                    .get(&(round, cpos, d))
                    .cloned()
                    .unwrap_or_else(|| vec![Ciphertext::zero(); n])
            };
            if m.is_caucus {
                for d in districts {
                    out.push((cpos, Some(d), get(d)));
                }
            } else {
                let mut total = vec![Ciphertext::zero(); n];
                for d in districts {
                    for (t, x) in total.iter_mut().zip(get(d)) {
                        *t += x;
                    }
                }
                out.push((cpos, None, total));
            }
        }
        out
    }

    #[allow(clippy::type_complexity)]
    fn final_alignment(
        &self,
        m: &ElectionManifest,
    ) -> Option<Vec<(usize, Option<usize>, Vec<Ciphertext>)>> {
        let s = CaucusSetup::from_manifest(m)?;
        let v = self.viability.as_ref()?;
        let sums = |round: u32| -> Vec<Vec<Ciphertext>> {
            s.districts
                .iter()
                .map(|d| {
                    self.aggregates
                        .get(&(round, s.contest, *d))
                        .cloned()
                        .unwrap_or_else(|| vec![Ciphertext::zero(); s.options])
                })
                .collect()
        };
        let fin =
            caucus::final_aggregates(m, &sums(0), &sums(REALIGNMENT_ROUND), &v.districts).ok()?;
        Some(
            s.districts
                .iter()
                .zip(fin)
                .map(|(d, cts)| (s.contest, Some(*d), cts))
                .collect(),
        )
    }

    /// Decodes and validates `bytes` against the record so far without
    /// changing it.
    pub fn precheck(&self, bytes: &[u8]) -> Result<Prechecked, RuleError> {
        self.view().precheck(bytes, false).map(|(p, _)| p)
    }

    /// Like [`Self::precheck`], but a ballot's RSA credential signature and
    /// contest proofs — the expensive part — are returned unverified as
    /// [`DeferredBallotProofs`] instead of being checked (everything else,
    /// including the entry signature, is checked as in `precheck`). The entry
    /// is admissible exactly when this succeeds **and** the deferred proofs
    /// verify ([`DeferredBallotProofs::verify`], or many at once with
    /// [`crate::deferred::verify_deferred_batch`]); the error is then the one
    /// `precheck` would have returned. For verifiers of large records
    /// (`spec/checks.md` §11).
    pub fn precheck_deferred(
        &self,
        bytes: &[u8],
    ) -> Result<(Prechecked, Option<DeferredBallotProofs>), RuleError> {
        self.view().precheck(bytes, true)
    }

    /// A snapshot of what prechecks depend on (the board, the manifest, the
    /// election key), to precheck entries on other threads while this state
    /// keeps applying. A precheck by a snapshot equals the state's own as
    /// long as the state's manifest and election key are those of the
    /// snapshot ([`Self::precheck_generation`]).
    pub fn prechecker(&self) -> Prechecker {
        Prechecker {
            board: self.board.clone(),
            manifest: self.manifest.clone(),
            key: self.election_key.clone(),
        }
    }

    /// Changes whenever something prechecks depend on changes: 0 before the
    /// manifest, 1 after it, 2 once the election key is on the record.
    pub fn precheck_generation(&self) -> u8 {
        u8::from(self.manifest.is_some()) + u8::from(self.election_key.is_some())
    }

    fn view(&self) -> View<'_> {
        View {
            board: self.board.as_ref(),
            manifest: self.manifest.as_ref(),
            key: self.election_key.as_ref(),
        }
    }

    /// Applies a prechecked entry as entry number [`Self::len`]: checks the
    /// stateful rules and updates the state. On error nothing changes.
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
        match (payload, &p.extra) {
            (Payload::Manifest(_), Extra::Manifest(m)) => {
                if self.manifest.is_some() || self.len != 0 {
                    return Err(exists(
                        rules::MANIFEST_FIRST,
                        "the record already has a manifest",
                    ));
                }
                let t = u8::try_from(m.threshold)
                    .map_err(|_| invalid(rules::MANIFEST_VALID, "threshold"))?;
                let n = u8::try_from(m.trustee_keys.len())
                    .map_err(|_| invalid(rules::MANIFEST_VALID, "trustees"))?;
                let params = DkgParams::new(m.fingerprint, t, n)
                    .map_err(|e| invalid(rules::MANIFEST_VALID, format!("trustees: {e}")))?;
                self.dkg = Some(DkgRecord::new(params));
                self.manifest = Some(m.clone());
                self.phase = ElectionPhase::Setup;
            }
            (Payload::Manifest(_), _) => {
                return Err(exists(
                    rules::MANIFEST_FIRST,
                    "the record already has a manifest",
                ));
            }
            (Payload::PhaseChange(pc), _) => {
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
            (Payload::Notice(_), _) => {
                self.require_manifest()?;
                self.notices += 1;
            }
            (Payload::Issuance(i), _) => {
                self.require_manifest()?;
                self.require_phase(
                    &[
                        ElectionPhase::Setup,
                        ElectionPhase::KeyCeremony,
                        ElectionPhase::VotingOpen,
                    ],
                    "credentials may be issued",
                )?;
                let voter: [u8; 32] = i.voter_id_hash.as_slice().try_into().map_err(|_| {
                    invalid(rules::ISSUANCE_VALID, "voter_id_hash must be 32 bytes")
                })?;
                if self.issued_voters.contains(&voter) {
                    return Err(exists(
                        rules::ISSUANCE_UNIQUE,
                        "this voter was already issued a credential",
                    ));
                }
                self.issued_voters.insert(voter);
                *self
                    .issued_per_district
                    .entry(i.district.clone())
                    .or_insert(0) += 1;
            }
            (Payload::Dkg(_), Extra::Dkg(msg)) => self.apply_dkg(msg)?,
            (Payload::ElectionKey(k), _) => self.apply_election_key(k)?,
            (Payload::Ballot(raw), Extra::Ballot(b)) => {
                self.apply_ballot(&p.entry, raw, b, index)?
            }
            (Payload::ChallengedBallot(_), Extra::Challenged(b)) => {
                let round_phase = if b.round == 0 {
                    ElectionPhase::VotingOpen
                } else {
                    ElectionPhase::RealignmentOpen
                };
                self.require_phase(&[round_phase], "ballots may be challenged")?;
                // R6.1: a challenged ballot binds its credential to its
                // district like a cast one (every ballot of a credential,
                // cast or challenged, names one district); it does not use a
                // credential of the district's issuance bound (R6.4).
                let key = p.entry.author.to_bytes();
                let district = u32::try_from(b.district)
                    .map_err(|_| invalid(rules::BALLOT_CREDENTIAL, "district position"))?;
                let other_district = || {
                    invalid(
                        rules::BALLOT_CREDENTIAL,
                        "this credential already posted a ballot in another district",
                    )
                };
                if let Some(c) = self.compact.as_mut() {
                    let rec = c.credentials.entry(key).or_default();
                    if rec.bound() && rec.district != district {
                        return Err(other_district());
                    }
                    rec.district = district;
                    rec.challenged += 1;
                } else {
                    let rec = self.credentials.entry(key).or_default();
                    if rec.bound() && rec.district != b.district {
                        return Err(other_district());
                    }
                    rec.district = b.district;
                    rec.challenged += 1;
                }
                self.challenged += 1;
            }
            (Payload::EncryptedTally(t), _) => self.apply_tally(t, index)?,
            (Payload::PartialDecryption(pd), Extra::Partial(partial)) => {
                self.apply_partial(pd, partial)?
            }
            (Payload::Result(r), _) => self.apply_result(r, index)?,
            (Payload::CaucusViability(v), _) => self.apply_viability(v, index)?,
            (Payload::CaucusApportionment(a), _) => self.apply_apportionment(a, index)?,
            (other, _) => {
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

    /// Records that the entry at index [`Self::len`] is on the log although
    /// the rules refuse it, without applying it: only the entry count
    /// advances, so later entries keep their log indexes. A board never
    /// calls this (it does not append refused entries); a verifier replaying
    /// a faulty record does, to keep checking the rest of it.
    pub fn skip_refused(&mut self) {
        self.len += 1;
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

    fn require_phase(&self, allowed: &[ElectionPhase], what: &str) -> Result<(), RuleError> {
        if allowed.contains(&self.phase) {
            Ok(())
        } else {
            Err(precondition(
                rules::PHASE_ALLOWS,
                format!(
                    "{what} only in phase {allowed:?}; the election is in phase {:?}",
                    self.phase
                ),
            ))
        }
    }

    fn apply_dkg(&mut self, msg: &DkgMessage) -> Result<(), RuleError> {
        self.require_phase(
            &[ElectionPhase::KeyCeremony],
            "key-ceremony messages are accepted",
        )?;
        if self.threshold_key.is_some() {
            return Err(precondition(
                rules::DKG_MESSAGE,
                "the key ceremony is over: the election key is on the record",
            ));
        }
        let dkg = self
            .dkg
            .as_mut()
            .ok_or_else(|| precondition(rules::MANIFEST_FIRST, "no manifest"))?;
        let n = usize::from(dkg.params().trustees());
        let sender = msg.sender();
        match msg {
            DkgMessage::KeyAnnouncement(_) => {}
            DkgMessage::Commitment(_) => {
                if !dkg.announcements().iter().any(|a| a.trustee() == sender) {
                    return Err(precondition(
                        rules::DKG_MESSAGE,
                        "a trustee commits only after announcing its key",
                    ));
                }
            }
            DkgMessage::Reveal(_) => {
                // Every trustee 1..=n, counted by sender: two different
                // messages of one trustee (kept as evidence) count once.
                let announced: HashSet<u8> =
                    dkg.announcements().iter().map(|a| a.trustee()).collect();
                let committed: HashSet<u8> = dkg.commitments().iter().map(|c| c.dealer()).collect();
                if announced.len() < n || committed.len() < n {
                    return Err(precondition(
                        rules::DKG_MESSAGE,
                        "reveals are accepted only once every trustee has announced a key and committed (commit-then-reveal)",
                    ));
                }
            }
            DkgMessage::Complaint(c) => {
                if !dkg.reveals().iter().any(|r| r.dealer() == c.dealer()) {
                    return Err(precondition(
                        rules::DKG_MESSAGE,
                        "a complaint must follow the accused dealer's reveal",
                    ));
                }
            }
        }
        let mut next = dkg.clone();
        next.push(msg.clone())
            .map_err(|e| invalid(rules::DKG_MESSAGE, format!("trustee {sender}: {e}")))?;
        *dkg = next;
        Ok(())
    }

    fn apply_election_key(&mut self, k: &v1::ElectionKey) -> Result<(), RuleError> {
        self.require_phase(&[ElectionPhase::KeyCeremony], "the election key is posted")?;
        if self.threshold_key.is_some() {
            return Err(exists(
                rules::ELECTION_KEY,
                "the election key is already on the record",
            ));
        }
        let dkg = self
            .dkg
            .as_ref()
            .ok_or_else(|| precondition(rules::MANIFEST_FIRST, "no manifest"))?;
        let outcome = tallyboard_threshold::evaluate(dkg).map_err(|e| {
            precondition(
                rules::ELECTION_KEY,
                format!("the key ceremony has no outcome yet: {e}"),
            )
        })?;
        let key = outcome.public_key;
        let vks: Vec<Vec<u8>> = key
            .verification_keys()
            .iter()
            .map(|v| v.compress().to_bytes().to_vec())
            .collect();
        let qualified: Vec<u32> = outcome
            .qualification
            .qualified
            .iter()
            .map(|&q| u32::from(q))
            .collect();
        if k.joint_key.as_slice() != key.joint_key().to_bytes()
            || k.verification_keys != vks
            || k.qualified != qualified
        {
            return Err(invalid(
                rules::ELECTION_KEY,
                "the posted joint key, verification keys or qualified set differ from the ceremony's outcome",
            ));
        }
        self.election_key = Some(key.joint_key().clone());
        self.threshold_key = Some(key);
        Ok(())
    }

    fn apply_ballot(
        &mut self,
        e: &DecodedEntry,
        raw: &v1::Ballot,
        b: &CheckedBallot,
        index: u64,
    ) -> Result<(), RuleError> {
        let round_phase = if b.round == 0 {
            ElectionPhase::VotingOpen
        } else {
            ElectionPhase::RealignmentOpen
        };
        self.require_phase(&[round_phase], "ballots of this round are accepted")?;
        if self.compact.is_some() {
            return self.apply_ballot_compact(e, raw, b, index);
        }
        let m = self.require_manifest()?.clone();
        let key = e.author.to_bytes();
        let r = b.round as usize;
        let existing = self.credentials.get(&key);
        if let Some(rec) = existing {
            if rec.bound() && rec.district != b.district {
                return Err(invalid(
                    rules::BALLOT_CREDENTIAL,
                    "this credential already posted a ballot in another district",
                ));
            }
        }
        let first_use = existing.is_none_or(|rec| rec.cast.iter().sum::<u32>() == 0);
        if b.round == REALIGNMENT_ROUND {
            let round0 = existing.and_then(|rec| {
                rec.counted[0].as_ref().map(|c| {
                    let s = CaucusSetup::from_manifest(&m);
                    let cts = s.and_then(|s| s.alignment_ciphertexts(&c.ballot).map(<[_]>::to_vec));
                    (c.index, c.ballot.district, cts.unwrap_or_default())
                })
            });
            let cast1 = existing.map_or(0, |rec| rec.cast[1]);
            check_realignment(
                &m,
                self.election_key.as_ref(),
                self.viability.as_ref(),
                &key,
                raw,
                b,
                round0,
                cast1,
            )?;
        }
        if first_use {
            check_issued(
                &self.issued_per_district,
                &self.used_per_district,
                &m,
                b.district,
            )?;
        }
        let replaces = match existing.and_then(|rec| rec.counted[r].as_ref()) {
            None => true,
            Some(_) => m.revote_policy != v1::RevotePolicy::FirstCounts,
        };
        // Commit.
        if first_use {
            *self.used_per_district.entry(b.district).or_insert(0) += 1;
        }
        let rec = self.credentials.entry(key).or_default();
        rec.district = b.district;
        rec.cast[r] += 1;
        if replaces {
            if let Some(old) = rec.counted[r].take() {
                for (cpos, cts) in &old.ballot.contests {
                    if let Some(agg) =
                        self.aggregates
                            .get_mut(&(b.round, *cpos, old.ballot.district))
                    {
                        for (a, c) in agg.iter_mut().zip(cts) {
                            *a = *a - *c;
                        }
                    }
                }
            }
            for (cpos, cts) in &b.contests {
                let agg = self
                    .aggregates
                    .entry((b.round, *cpos, b.district))
                    .or_insert_with(|| vec![Ciphertext::zero(); cts.len()]);
                for (a, c) in agg.iter_mut().zip(cts) {
                    *a += *c;
                }
            }
            rec.counted[r] = Some(CountedBallot {
                index,
                ballot: b.clone(),
            });
        }
        self.ballots_cast += 1;
        Ok(())
    }

    /// [`Self::apply_ballot`] for a compact record: the same rules, with the
    /// counted ballot kept by index.
    fn apply_ballot_compact(
        &mut self,
        e: &DecodedEntry,
        raw: &v1::Ballot,
        b: &CheckedBallot,
        index: u64,
    ) -> Result<(), RuleError> {
        let m = self.require_manifest()?.clone();
        let key = e.author.to_bytes();
        let r = b.round as usize;
        let district = u32::try_from(b.district)
            .map_err(|_| invalid(rules::BALLOT_CREDENTIAL, "district position"))?;
        let compact = self
            .compact
            .as_deref_mut()
            .ok_or_else(|| precondition(rules::MANIFEST_FIRST, "not a compact record"))?;
        let existing = compact.credentials.get(&key).copied();
        if let Some(rec) = existing {
            if rec.bound() && rec.district != district {
                return Err(invalid(
                    rules::BALLOT_CREDENTIAL,
                    "this credential already posted a ballot in another district",
                ));
            }
        }
        let first_use = existing.is_none_or(|rec| rec.cast.iter().sum::<u32>() == 0);
        if b.round == REALIGNMENT_ROUND {
            let round0 = existing.and_then(|rec| {
                rec.counted(0).map(|i| {
                    let cts = compact.round0_alignment.get(&key).cloned();
                    (i, rec.district(), cts.unwrap_or_default())
                })
            });
            let cast1 = existing.map_or(0, |rec| rec.cast(1));
            check_realignment(
                &m,
                self.election_key.as_ref(),
                self.viability.as_ref(),
                &key,
                raw,
                b,
                round0,
                cast1,
            )?;
        }
        if first_use {
            check_issued(
                &self.issued_per_district,
                &self.used_per_district,
                &m,
                b.district,
            )?;
        }
        let old = existing.and_then(|rec| rec.counted(b.round));
        let replaces = match old {
            None => true,
            Some(_) => m.revote_policy != v1::RevotePolicy::FirstCounts,
        };
        // Commit.
        if first_use {
            *self.used_per_district.entry(b.district).or_insert(0) += 1;
        }
        let rec = compact.credentials.entry(key).or_default();
        rec.district = district;
        rec.cast[r] += 1;
        if replaces {
            if let Some(old) = old {
                compact.pending.push(SupersededBallot {
                    index: old,
                    round: b.round,
                    credential: key,
                });
            }
            rec.counted[r] = index;
            if b.round == 0 {
                if let Some(cts) = CaucusSetup::from_manifest(&m)
                    .and_then(|s| s.alignment_ciphertexts(b).map(<[_]>::to_vec))
                {
                    compact.round0_alignment.insert(key, cts);
                }
            }
            for (cpos, cts) in &b.contests {
                let agg = self
                    .aggregates
                    .entry((b.round, *cpos, b.district))
                    .or_insert_with(|| vec![Ciphertext::zero(); cts.len()]);
                for (a, c) in agg.iter_mut().zip(cts) {
                    *a += *c;
                }
            }
        }
        self.ballots_cast += 1;
        Ok(())
    }

    fn apply_tally(&mut self, t: &v1::EncryptedTally, index: u64) -> Result<(), RuleError> {
        if !self.superseded_pending().is_empty() {
            return Err(precondition(
                rules::TALLY_AGGREGATE,
                format!(
                    "{} superseded ballots are not resolved yet (compact record)",
                    self.superseded_pending().len()
                ),
            ));
        }
        let m = self.require_manifest()?.clone();
        if t.round > REALIGNMENT_ROUND || (t.round == REALIGNMENT_ROUND && !m.is_caucus) {
            return Err(invalid(
                rules::TALLY_AGGREGATE,
                format!(
                    "round {} is not a round of this election (0, or 1 in a caucus)",
                    t.round
                ),
            ));
        }
        let phase = if t.round == 0 {
            ElectionPhase::VotingClosed
        } else {
            ElectionPhase::RealignmentClosed
        };
        self.require_phase(&[phase], "the encrypted tally of this round is posted")?;
        if self.tallies.iter().any(|x| x.round == t.round) {
            return Err(exists(
                rules::TALLY_AGGREGATE,
                format!("round {} already has a tally", t.round),
            ));
        }
        let expected = self.expected_tally(t.round);
        if t.contests.len() != expected.len() {
            return Err(invalid(
                rules::TALLY_AGGREGATE,
                format!(
                    "expected {} contest aggregates, got {}",
                    expected.len(),
                    t.contests.len()
                ),
            ));
        }
        for ((cpos, dpos, cts), posted) in expected.iter().zip(&t.contests) {
            let cid = &m.raw.contests[*cpos].id;
            let did = dpos.map(|d| m.raw.districts[d].id.as_str()).unwrap_or("");
            if &posted.contest != cid || posted.district != did {
                return Err(invalid(
                    rules::TALLY_AGGREGATE,
                    format!(
                        "expected the aggregate of contest {cid} district {did:?}, got {} {:?}",
                        posted.contest, posted.district
                    ),
                ));
            }
            let got: Result<Vec<Ciphertext>, _> = posted
                .ciphertexts
                .iter()
                .map(|b| Ciphertext::from_bytes_aggregate(b))
                .collect();
            let got =
                got.map_err(|e| invalid(rules::TALLY_AGGREGATE, format!("contest {cid}: {e}")))?;
            if &got != cts {
                return Err(invalid(
                    rules::TALLY_AGGREGATE,
                    format!("contest {cid} district {did:?}: the aggregate is not the sum of the counted ballots"),
                ));
            }
        }
        let counted = self.counted_in_round(t.round);
        if t.ballots_counted != counted {
            return Err(invalid(
                rules::TALLY_AGGREGATE,
                format!(
                    "ballots_counted is {}, the record counts {counted}",
                    t.ballots_counted
                ),
            ));
        }
        if t.log_size != index {
            return Err(invalid(
                rules::TALLY_AGGREGATE,
                format!("log_size is {}, the tally is entry {index}", t.log_size),
            ));
        }
        let max_ballots = if m.is_caucus && t.round == REALIGNMENT_ROUND {
            counted.saturating_add(self.counted_in_round(0))
        } else {
            counted
        };
        self.tallies.push(TallyRecord {
            index,
            round: t.round,
            contests: expected,
            ballots_counted: counted,
            max_ballots,
            partials: BTreeMap::new(),
            result: None,
            counts: Vec::new(),
        });
        Ok(())
    }

    /// The tally at log index `entry`; NOT_FOUND under `rule` (R10.2 for a
    /// partial decryption, R10.3 for a result) if there is none.
    fn tally_at(&mut self, entry: u64, rule: &'static str) -> Result<&mut TallyRecord, RuleError> {
        self.tallies
            .iter_mut()
            .find(|t| t.index == entry)
            .ok_or_else(|| {
                RuleError::new(
                    RuleErrorKind::NotFound,
                    rule,
                    format!("entry {entry} is not an encrypted tally"),
                )
            })
    }

    fn apply_partial(
        &mut self,
        pd: &v1::PartialDecryption,
        partial: &PartialDecryption,
    ) -> Result<(), RuleError> {
        self.require_phase(
            &[
                ElectionPhase::VotingClosed,
                ElectionPhase::RealignmentClosed,
            ],
            "partial decryptions are posted",
        )?;
        let key = self
            .threshold_key
            .clone()
            .ok_or_else(|| precondition(rules::PHASE_ALLOWS, "no election key"))?;
        let tally = self.tally_at(pd.tally_entry, rules::PARTIAL_VALID)?;
        if tally.result.is_some() {
            return Err(precondition(
                rules::PARTIAL_VALID,
                "this tally already has a result",
            ));
        }
        if tally.partials.contains_key(&partial.trustee()) {
            return Err(exists(
                rules::PARTIAL_VALID,
                format!("trustee {} already decrypted this tally", partial.trustee()),
            ));
        }
        partial
            .verify(&key, &tally.flat_ciphertexts())
            .map_err(|e| {
                invalid(
                    rules::PARTIAL_VALID,
                    format!("trustee {}: {e}", partial.trustee()),
                )
            })?;
        tally.partials.insert(partial.trustee(), partial.clone());
        Ok(())
    }

    fn apply_result(&mut self, r: &v1::ElectionResult, index: u64) -> Result<(), RuleError> {
        let m = self.require_manifest()?.clone();
        self.require_phase(
            &[
                ElectionPhase::VotingClosed,
                ElectionPhase::RealignmentClosed,
            ],
            "results are posted",
        )?;
        let key = self
            .threshold_key
            .clone()
            .ok_or_else(|| precondition(rules::PHASE_ALLOWS, "no election key"))?;
        let tally = self.tally_at(r.tally_entry, rules::RESULT_VALID)?;
        if tally.result.is_some() {
            return Err(exists(
                rules::RESULT_VALID,
                "this tally already has a result",
            ));
        }
        let mut used = Vec::with_capacity(r.trustees_used.len());
        for &t in &r.trustees_used {
            let t8 = u8::try_from(t)
                .map_err(|_| invalid(rules::RESULT_VALID, format!("no trustee {t}")))?;
            let p = tally.partials.get(&t8).ok_or_else(|| {
                precondition(
                    rules::RESULT_VALID,
                    format!("trustee {t} has no partial decryption of this tally"),
                )
            })?;
            used.push(p.clone());
        }
        let max = tally.max_plaintext(&m);
        let dec = tallyboard_threshold::combine(&key, &tally.flat_ciphertexts(), &used, max)
            .map_err(|e| {
                invalid(
                    rules::RESULT_VALID,
                    format!("combining the partial decryptions: {e}"),
                )
            })?;
        if !dec.rejected.is_empty() {
            return Err(invalid(
                rules::RESULT_VALID,
                "a named partial decryption does not verify",
            ));
        }
        let mut counts = Vec::with_capacity(tally.contests.len());
        let mut off = 0usize;
        if r.contests.len() != tally.contests.len() {
            return Err(invalid(
                rules::RESULT_VALID,
                "the result must list every aggregate of the tally",
            ));
        }
        for ((cpos, dpos, cts), posted) in tally.contests.iter().zip(&r.contests) {
            let c = dec
                .plaintexts
                .get(off..off + cts.len())
                .unwrap_or(&[])
                .to_vec();
            off += cts.len();
            let cid = &m.raw.contests[*cpos].id;
            let did = dpos.map(|d| m.raw.districts[d].id.as_str()).unwrap_or("");
            if &posted.contest != cid || posted.district != did || posted.counts != c {
                return Err(invalid(
                    rules::RESULT_VALID,
                    format!("contest {cid} district {did:?}: the posted counts are not the decryption of the tally"),
                ));
            }
            counts.push(c);
        }
        tally.result = Some(index);
        tally.counts = counts;
        Ok(())
    }

    /// The alignment contest's decrypted counts and aggregates, per caucus
    /// district, of the tally of caucus `round` (0: first alignment, 1:
    /// final alignment) once its result is on the record. Errors name rule
    /// R11.2 for round 0 and R11.3 for round 1: FAILED_PRECONDITION when the
    /// election is not a caucus or the result is not there yet.
    pub fn caucus_round(&self, round: u32) -> Result<CaucusRound, RuleError> {
        let rule = if round == 0 {
            caucus::CAUCUS_VIABILITY
        } else {
            caucus::CAUCUS_APPORTIONMENT
        };
        let s = self
            .manifest
            .as_deref()
            .and_then(CaucusSetup::from_manifest)
            .ok_or_else(|| precondition(rule, "this election is not a caucus"))?;
        let t = self
            .tallies
            .iter()
            .find(|t| t.round == round && t.result.is_some())
            .ok_or_else(|| {
                precondition(
                    rule,
                    format!("the result of round {round} is not on the record yet"),
                )
            })?;
        let keys: Vec<(usize, Option<usize>)> =
            t.contests.iter().map(|(c, d, _)| (*c, *d)).collect();
        let cts: Vec<Vec<Ciphertext>> = t.contests.iter().map(|(_, _, c)| c.clone()).collect();
        let missing = || {
            invalid(
                rule,
                format!("the round-{round} tally lacks a caucus district"),
            )
        };
        Ok(CaucusRound {
            result_entry: t.result.unwrap_or_default(),
            counts: s.pick_alignment(&keys, &t.counts).ok_or_else(missing)?,
            aggregates: s.pick_alignment(&keys, &cts).ok_or_else(missing)?,
        })
    }

    /// Rule R11.2 (`spec/caucus.md` §9.3).
    fn apply_viability(&mut self, v: &v1::CaucusViability, index: u64) -> Result<(), RuleError> {
        const R: &str = caucus::CAUCUS_VIABILITY;
        let m = self.require_manifest()?.clone();
        if !m.is_caucus {
            return Err(precondition(R, "this election is not a caucus"));
        }
        self.require_phase(
            &[ElectionPhase::VotingClosed],
            "the caucus viability is posted",
        )?;
        if self.viability.is_some() {
            return Err(exists(R, "the caucus viability is already on the record"));
        }
        let r0 = self.caucus_round(0)?;
        caucus::check_viability_entry(&m, r0.result_entry, &r0.counts, v)?;
        self.viability = Some(CaucusEntry {
            index,
            districts: v.districts.clone(),
        });
        Ok(())
    }

    /// Rule R11.3 (`spec/caucus.md` §9.6–§9.7).
    fn apply_apportionment(
        &mut self,
        a: &v1::CaucusApportionment,
        index: u64,
    ) -> Result<(), RuleError> {
        const R: &str = caucus::CAUCUS_APPORTIONMENT;
        let m = self.require_manifest()?.clone();
        if !m.is_caucus {
            return Err(precondition(R, "this election is not a caucus"));
        }
        self.require_phase(
            &[ElectionPhase::RealignmentClosed],
            "the delegate apportionment is posted",
        )?;
        if self.apportionment.is_some() {
            return Err(exists(R, "the apportionment is already on the record"));
        }
        let viability = self
            .viability
            .as_ref()
            .ok_or_else(|| precondition(R, "the caucus viability is not on the record"))?;
        let r1 = self.caucus_round(REALIGNMENT_ROUND)?;
        let seed = caucus::coin_seed(&m, &r1.aggregates)?;
        caucus::check_apportionment_entry(
            &m,
            r1.result_entry,
            &viability.districts,
            &r1.counts,
            &seed,
            a,
        )?;
        self.apportionment = Some(CaucusEntry {
            index,
            districts: a.districts.clone(),
        });
        Ok(())
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
        if next == P::VotingOpen && self.election_key.is_none() {
            return Err(precondition(
                rules::PHASE_PREREQUISITE,
                "voting cannot open before the election key is on the record",
            ));
        }
        if next == P::RealignmentOpen && self.viability.is_none() {
            return Err(precondition(
                rules::PHASE_PREREQUISITE,
                "the realignment cannot open before the caucus viability is on the record",
            ));
        }
        if next == P::Finished && manifest.is_caucus && self.apportionment.is_none() {
            return Err(precondition(
                rules::PHASE_PREREQUISITE,
                "the caucus cannot finish before the delegate apportionment is on the record",
            ));
        }
        if next == P::Finished && !self.tallies.iter().any(|t| t.result.is_some()) {
            return Err(precondition(
                rules::PHASE_PREREQUISITE,
                "the election cannot finish before a result is on the record",
            ));
        }
        Ok(())
    }
}

/// Rule R6.4: a credential's first ballot in district position `district`
/// must not make the district's voting credentials exceed its issuances.
fn check_issued(
    issued_per_district: &HashMap<String, u64>,
    used_per_district: &HashMap<usize, u64>,
    m: &ElectionManifest,
    district: usize,
) -> Result<(), RuleError> {
    let district_id = m.raw.districts.get(district).map_or("", |d| d.id.as_str());
    let issued = issued_per_district.get(district_id).copied().unwrap_or(0);
    let used = used_per_district.get(&district).copied().unwrap_or(0);
    if used + 1 > issued {
        return Err(precondition(
            rules::BALLOT_ISSUED,
            format!(
                "district {district_id}: {issued} credentials issued, this would be credential {}",
                used + 1
            ),
        ));
    }
    Ok(())
}

/// The stateful part of rule R11.1 for a realignment ballot
/// (`spec/caucus.md` §9.4.4): `round0` is the credential's counted round-0
/// ballot (log index, district position, alignment ciphertexts), `cast1`
/// the round-1 ballots it already cast.
#[allow(clippy::too_many_arguments)]
fn check_realignment(
    m: &ElectionManifest,
    pk: Option<&PublicKey>,
    viability: Option<&CaucusEntry<v1::DistrictViability>>,
    credential: &[u8; 32],
    raw: &v1::Ballot,
    b: &CheckedBallot,
    round0: Option<(u64, usize, Vec<Ciphertext>)>,
    cast1: u32,
) -> Result<(), RuleError> {
    const R: &str = caucus::CAUCUS_REALIGNMENT;
    let s = CaucusSetup::from_manifest(m)
        .ok_or_else(|| precondition(R, "this election is not a caucus"))?;
    let pk = pk.ok_or_else(|| precondition(rules::PHASE_ALLOWS, "no election key"))?;
    let viability =
        viability.ok_or_else(|| precondition(R, "the caucus viability is not on the record"))?;
    let (index0, district0, cts0) = round0.ok_or_else(|| {
        invalid(
            R,
            "this credential has no counted first-alignment ballot to realign from",
        )
    })?;
    if district0 != b.district {
        return Err(invalid(
            R,
            "the realignment ballot is of another district than the first-alignment ballot",
        ));
    }
    if cast1 > 0 {
        return Err(exists(
            R,
            "this credential already cast its realignment ballot",
        ));
    }
    let k = s
        .districts
        .iter()
        .position(|d| *d == b.district)
        .ok_or_else(|| invalid(R, "the alignment contest is not held in this district"))?;
    let viable = &viability
        .districts
        .get(k)
        .ok_or_else(|| invalid(R, "no viability for this district"))?
        .viable;
    let new_cts = s
        .alignment_ciphertexts(b)
        .ok_or_else(|| invalid(R, "the realignment ballot has no alignment contest"))?;
    caucus::check_realignment_ballot(m, pk, credential, raw, new_cts, index0, &cts0, viable)
}

/// What prechecks read: the board identity, the manifest, the election key.
struct View<'a> {
    board: Option<&'a BoardIdentity>,
    manifest: Option<&'a Arc<ElectionManifest>>,
    key: Option<&'a PublicKey>,
}

impl View<'_> {
    fn precheck(
        &self,
        bytes: &[u8],
        defer: bool,
    ) -> Result<(Prechecked, Option<DeferredBallotProofs>), RuleError> {
        self.precheck_decoded(decode_entry(bytes)?, defer)
    }

    fn precheck_decoded(
        &self,
        entry: DecodedEntry,
        defer: bool,
    ) -> Result<(Prechecked, Option<DeferredBallotProofs>), RuleError> {
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
                if let Some(board) = self.board {
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
                Ok((
                    Prechecked {
                        entry,
                        extra: Extra::Manifest(Arc::new(manifest)),
                    },
                    None,
                ))
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
                let (extra, deferred) = self.precheck_payload(manifest, &entry, p, defer)?;
                Ok((Prechecked { entry, extra }, deferred))
            }
        }
    }

    /// The election key, which ballots need. Before it is on the record the
    /// phase is at most KeyCeremony (VotingOpen requires it, R3.2), which
    /// allows no ballot: the refusal is R3.3 (`spec/record.md` §4, §7.3).
    fn require_key(&self) -> Result<&PublicKey, RuleError> {
        self.key.ok_or_else(|| {
            precondition(
                rules::PHASE_ALLOWS,
                "ballots are accepted only once voting is open; the election key is not on the record yet",
            )
        })
    }

    fn precheck_payload(
        &self,
        m: &Arc<ElectionManifest>,
        e: &DecodedEntry,
        p: &Payload,
        defer: bool,
    ) -> Result<(Extra, Option<DeferredBallotProofs>), RuleError> {
        let extra = match p {
            Payload::Ballot(b) if defer => {
                let pk = self.require_key()?;
                let (checked, proofs) = precheck_ballot_deferred(m, pk, &e.author, b)?;
                return Ok((Extra::Ballot(checked), Some(proofs)));
            }
            _ => self.precheck_other(m, e, p)?,
        };
        Ok((extra, None))
    }

    fn precheck_other(
        &self,
        m: &ElectionManifest,
        e: &DecodedEntry,
        p: &Payload,
    ) -> Result<Extra, RuleError> {
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
                if v1::Phase::try_from(pc.phase)
                    .ok()
                    .and_then(ElectionPhase::from_proto)
                    .is_none()
                {
                    return Err(invalid(
                        rules::PHASE_ORDER,
                        format!("unknown phase {}", pc.phase),
                    ));
                }
                Ok(Extra::None)
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
                Ok(Extra::None)
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
                Ok(Extra::None)
            }
            Payload::Dkg(d) => {
                let sender = m.trustee_index(&e.author).ok_or_else(|| {
                    denied(
                        rules::ENTRY_AUTHOR,
                        "key-ceremony messages must be signed by a trustee",
                    )
                })?;
                let msg = DkgMessage::from_bytes(&d.message).map_err(|err| {
                    invalid(rules::DKG_MESSAGE, format!("undecodable message: {err}"))
                })?;
                if u32::from(msg.sender()) != sender {
                    return Err(denied(
                        rules::DKG_MESSAGE,
                        format!(
                            "message names trustee {} but is signed by trustee {sender}",
                            msg.sender()
                        ),
                    ));
                }
                Ok(Extra::Dkg(Box::new(msg)))
            }
            Payload::ElectionKey(_) => {
                admin_only("the election key")?;
                Ok(Extra::None)
            }
            Payload::Ballot(b) => {
                let pk = self.require_key()?;
                Ok(Extra::Ballot(check_ballot(m, pk, &e.author, b)?))
            }
            Payload::ChallengedBallot(c) => {
                let pk = self.require_key()?;
                let b = c.ballot.as_ref().ok_or_else(|| {
                    invalid(
                        rules::CHALLENGE_REVEAL,
                        "challenged ballot without its ballot",
                    )
                })?;
                let checked = check_ballot(m, pk, &e.author, b)?;
                check_reveal(m, pk, &checked, &c.reveals)?;
                Ok(Extra::Challenged(checked))
            }
            Payload::EncryptedTally(_) | Payload::Result(_) => {
                admin_only("tallies and results")?;
                Ok(Extra::None)
            }
            Payload::CaucusViability(_) | Payload::CaucusApportionment(_) => {
                let rule = if matches!(p, Payload::CaucusViability(_)) {
                    caucus::CAUCUS_VIABILITY
                } else {
                    caucus::CAUCUS_APPORTIONMENT
                };
                if !m.is_caucus {
                    return Err(precondition(rule, "this election is not a caucus"));
                }
                admin_only("caucus entries")?;
                Ok(Extra::None)
            }
            Payload::PartialDecryption(pd) => {
                let trustee = m.trustee_index(&e.author).ok_or_else(|| {
                    denied(
                        rules::ENTRY_AUTHOR,
                        "partial decryptions must be signed by a trustee",
                    )
                })?;
                let partial = PartialDecryption::from_bytes(&pd.partial).map_err(|err| {
                    invalid(
                        rules::PARTIAL_VALID,
                        format!("undecodable partial decryption: {err}"),
                    )
                })?;
                if u32::from(partial.trustee()) != trustee || pd.trustee != trustee {
                    return Err(denied(
                        rules::PARTIAL_VALID,
                        "the partial decryption names another trustee",
                    ));
                }
                Ok(Extra::Partial(Box::new(partial)))
            }
        }
    }
}

/// An owned snapshot of what prechecks read, made by
/// [`RecordState::prechecker`]; `Send + Sync`, cheap to clone.
#[derive(Debug, Clone)]
pub struct Prechecker {
    board: Option<BoardIdentity>,
    manifest: Option<Arc<ElectionManifest>>,
    key: Option<PublicKey>,
}

impl Prechecker {
    fn view(&self) -> View<'_> {
        View {
            board: self.board.as_ref(),
            manifest: self.manifest.as_ref(),
            key: self.key.as_ref(),
        }
    }

    /// [`RecordState::precheck`] against the snapshot.
    pub fn precheck(&self, bytes: &[u8]) -> Result<Prechecked, RuleError> {
        self.view().precheck(bytes, false).map(|(p, _)| p)
    }

    /// [`RecordState::precheck_deferred`] against the snapshot.
    pub fn precheck_deferred(
        &self,
        bytes: &[u8],
    ) -> Result<(Prechecked, Option<DeferredBallotProofs>), RuleError> {
        self.view().precheck(bytes, true)
    }

    /// [`Self::precheck_deferred`] for an entry already decoded by
    /// [`crate::entry::decode_entry_deferred`] whose signature the caller
    /// has verified (alone or in a batch). With a verified signature the
    /// outcome equals `precheck_deferred` on the entry's bytes.
    pub fn precheck_decoded_deferred(
        &self,
        entry: DecodedEntry,
    ) -> Result<(Prechecked, Option<DeferredBallotProofs>), RuleError> {
        self.view().precheck_decoded(entry, true)
    }

    /// [`RecordState::precheck_generation`] of the state it was taken from.
    pub fn generation(&self) -> u8 {
        u8::from(self.manifest.is_some()) + u8::from(self.key.is_some())
    }

    /// The manifest, once posted.
    pub fn manifest(&self) -> Option<&Arc<ElectionManifest>> {
        self.manifest.as_ref()
    }
}
