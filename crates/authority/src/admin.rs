//! The election administrator (`spec/manifest.md` §7.2).
//!
//! The administrator signs the manifest, the phase changes, notices, the
//! election key, the encrypted tally and the result. It holds no secret
//! that matters to the count: everything it posts is derived from the
//! record (which it replays through the rules like everyone else) and
//! checked again by the board and by every verifier.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use tallyboard_board_client::VerifiedReceipt;
use tallyboard_protocol::caucus;
use tallyboard_protocol::manifest::ElectionManifest;
use tallyboard_protocol::state::{CaucusRound, TallyRecord};
use tallyboard_protocol::v1::{self, entry_body::Payload};
use tallyboard_protocol::{testkit, ElectionPhase, RecordState};
use tallyboard_threshold::{combine, evaluate, PartialDecryption};
use tallyboard_tlog::NoteVerifier as _;

use crate::error::AuthorityError;
use crate::follower::{RecordFollower, DEFAULT_POLL};
use crate::manifest_file::check_manifest;

/// How many times a tally is re-posted when another entry took the index
/// it was computed for.
const TALLY_ATTEMPTS: usize = 5;

/// The administrator: its signing key and its view of the record.
pub struct Admin {
    follower: RecordFollower,
    key: SigningKey,
}

impl fmt::Debug for Admin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Admin")
            .field(
                "public_key",
                &hex::encode(self.key.verifying_key().as_bytes()),
            )
            .field("key", &"[REDACTED]")
            .field("entries", &self.follower.state().len())
            .finish()
    }
}

/// When the administrator considers the key ceremony over
/// ([`Admin::post_election_key`]).
#[derive(Debug, Clone)]
pub struct CeremonyWait {
    /// Poll interval.
    pub poll: Duration,
    /// Stop waiting for missing reveals after this long (counted from the
    /// call); `None` waits for all `n`.
    pub reveal_timeout: Option<Duration>,
    /// After the reveals, how long trustees have to post complaints.
    pub complaint_window: Duration,
    /// Give up entirely after this long.
    pub timeout: Option<Duration>,
}

impl Default for CeremonyWait {
    fn default() -> Self {
        Self {
            poll: DEFAULT_POLL,
            reveal_timeout: None,
            complaint_window: Duration::from_secs(10),
            timeout: None,
        }
    }
}

/// The posted election key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElectionKeySummary {
    /// Log index of the `ElectionKey` entry (`None` if it was already on
    /// the record).
    pub entry: Option<u64>,
    /// The joint key `K` (32 bytes).
    pub joint_key: [u8; 32],
    /// QUAL.
    pub qualified: Vec<u8>,
    /// Trustees found at fault, and why.
    pub disqualified: Vec<(u8, String)>,
}

/// Counts of one contest (in one district, for a caucus).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContestCounts {
    /// Contest id.
    pub contest: String,
    /// Contest title.
    pub title: String,
    /// District id (caucus tallies), or `None` for all districts.
    pub district: Option<String>,
    /// `(option id, option title, count)` in ballot order.
    pub options: Vec<(String, String, u64)>,
}

/// A decrypted result on the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultSummary {
    /// Log index of the tally.
    pub tally_entry: u64,
    /// Log index of the result.
    pub result_entry: u64,
    /// Caucus round (0 outside caucuses).
    pub round: u32,
    /// Ballots counted.
    pub ballots_counted: u64,
    /// Trustees whose partial decryptions were combined.
    pub trustees_used: Vec<u32>,
    /// The counts.
    pub contests: Vec<ContestCounts>,
}

impl ResultSummary {
    /// The summary of the result of `tally` (which must have one), from the
    /// record.
    pub fn from_record(state: &RecordState, tally: &TallyRecord) -> Option<Self> {
        let m = state.manifest()?;
        let result_entry = tally.result?;
        let mut contests = Vec::with_capacity(tally.contests.len());
        for ((cpos, dpos, _), counts) in tally.contests.iter().zip(&tally.counts) {
            let c = m.raw.contests.get(*cpos)?;
            contests.push(ContestCounts {
                contest: c.id.clone(),
                title: c.title.clone(),
                district: dpos.and_then(|d| m.raw.districts.get(d).map(|x| x.id.clone())),
                options: c
                    .options
                    .iter()
                    .zip(counts)
                    .map(|(o, n)| (o.id.clone(), o.title.clone(), *n))
                    .collect(),
            });
        }
        Some(Self {
            tally_entry: tally.index,
            result_entry,
            round: tally.round,
            ballots_counted: tally.ballots_counted,
            trustees_used: Vec::new(),
            contests,
        })
    }
}

impl fmt::Display for ResultSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Result (entry {}) of the tally at entry {}, round {}: {} ballots counted{}",
            self.result_entry,
            self.tally_entry,
            self.round,
            self.ballots_counted,
            if self.trustees_used.is_empty() {
                String::new()
            } else {
                format!(
                    ", decrypted by trustees {}",
                    self.trustees_used
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        )?;
        for c in &self.contests {
            let total: u64 = c.options.iter().map(|o| o.2).sum();
            match &c.district {
                Some(d) => writeln!(f, "\n  {} [{}] — district {d}", c.title, c.contest)?,
                None => writeln!(f, "\n  {} [{}]", c.title, c.contest)?,
            }
            let width = c
                .options
                .iter()
                .map(|o| o.1.chars().count())
                .max()
                .unwrap_or(0)
                .max(6);
            for (_, title, n) in &c.options {
                let pct = if total == 0 {
                    0.0
                } else {
                    *n as f64 * 100.0 / total as f64
                };
                writeln!(f, "    {title:<width$}  {n:>10}  {pct:>6.2}%")?;
            }
            writeln!(f, "    {:<width$}  {total:>10}", "total")?;
        }
        Ok(())
    }
}

fn phase_name(p: v1::Phase) -> &'static str {
    match p {
        v1::Phase::Unspecified => "unspecified",
        v1::Phase::KeyCeremony => "key-ceremony",
        v1::Phase::VotingOpen => "voting-open",
        v1::Phase::VotingClosed => "voting-closed",
        v1::Phase::RealignmentOpen => "realignment-open",
        v1::Phase::RealignmentClosed => "realignment-closed",
        v1::Phase::Finished => "finished",
    }
}

fn record_phase(p: v1::Phase) -> Option<ElectionPhase> {
    Some(match p {
        v1::Phase::Unspecified => return None,
        v1::Phase::KeyCeremony => ElectionPhase::KeyCeremony,
        v1::Phase::VotingOpen => ElectionPhase::VotingOpen,
        v1::Phase::VotingClosed => ElectionPhase::VotingClosed,
        v1::Phase::RealignmentOpen => ElectionPhase::RealignmentOpen,
        v1::Phase::RealignmentClosed => ElectionPhase::RealignmentClosed,
        v1::Phase::Finished => ElectionPhase::Finished,
    })
}

pub use tallyboard_protocol::testkit::election_key_payload;

/// The largest plaintext a tally's aggregate can hold (the bound of the
/// discrete logarithm, as in rule R10.3).
pub fn tally_max(state: &RecordState, tally: &TallyRecord) -> u64 {
    state.manifest().map_or(0, |m| tally.max_plaintext(m))
}

fn caucus_manifest(st: &RecordState) -> Result<Arc<ElectionManifest>, AuthorityError> {
    st.manifest()
        .cloned()
        .ok_or_else(|| AuthorityError::NotReady("the board has no manifest".into()))
}

/// [`RecordState::caucus_round`], with "not yet" as [`AuthorityError::NotReady`].
fn caucus_round(st: &RecordState, round: u32) -> Result<CaucusRound, AuthorityError> {
    st.caucus_round(round).map_err(|e| {
        if e.kind == tallyboard_protocol::RuleErrorKind::FailedPrecondition {
            AuthorityError::NotReady(e.to_string())
        } else {
            AuthorityError::BadRecord(e.to_string())
        }
    })
}

impl Admin {
    /// The administrator with signing key `key`, following the board through
    /// `follower`.
    pub fn new(follower: RecordFollower, key: SigningKey) -> Self {
        Self { follower, key }
    }

    /// The administrator's view of the record.
    pub fn follower(&mut self) -> &mut RecordFollower {
        &mut self.follower
    }

    /// The replayed record.
    pub fn state(&self) -> &RecordState {
        self.follower.state()
    }

    /// Gives the follower back.
    pub fn into_follower(self) -> RecordFollower {
        self.follower
    }

    async fn post(
        &mut self,
        payload: Payload,
        what: &str,
    ) -> Result<VerifiedReceipt, AuthorityError> {
        let key = self.key.clone();
        self.follower.post(&key, payload, what).await
    }

    /// Posts `manifest` as entry 0 and returns the election fingerprint.
    /// Checks first that it is valid, signed by this administrator's key and
    /// names this board. If the board already holds exactly this manifest,
    /// returns its fingerprint without posting.
    pub async fn post_manifest(
        &mut self,
        manifest: v1::Manifest,
    ) -> Result<[u8; 32], AuthorityError> {
        check_manifest(&manifest)?;
        if manifest.admin_key.as_slice() != self.key.verifying_key().as_bytes() {
            return Err(AuthorityError::Mismatch(
                "the manifest's admin_key is not this administrator's key".into(),
            ));
        }
        let board = self.follower.client().board_key().clone();
        if manifest.board_origin != board.name()
            || manifest.board_key.as_slice() != board.verifying_key().as_bytes()
        {
            return Err(AuthorityError::Mismatch(format!(
                "the manifest names board {:?} with key {}, but this board is {:?} with key {}",
                manifest.board_origin,
                hex::encode(&manifest.board_key),
                board.name(),
                hex::encode(board.verifying_key().as_bytes())
            )));
        }
        self.follower.sync().await?;
        if let Some(existing) = self.follower.state().manifest() {
            if existing.raw == manifest {
                return Ok(existing.fingerprint);
            }
            return Err(AuthorityError::Mismatch(format!(
                "the board already holds another manifest (election {:?})",
                existing.raw.election_id
            )));
        }
        let (entry, fingerprint) = testkit::manifest_entry(&self.key, manifest);
        self.follower.post_entry(entry, "manifest").await?;
        Ok(fingerprint)
    }

    /// Moves the election to `phase`; returns the phase change's log index.
    /// If the election is already in `phase`, returns the index of the
    /// change that put it there.
    pub async fn set_phase(&mut self, phase: v1::Phase) -> Result<u64, AuthorityError> {
        let target =
            record_phase(phase).ok_or_else(|| AuthorityError::NotReady("no such phase".into()))?;
        self.follower.sync().await?;
        if self.state().phase() == target {
            if let Some((_, index)) = self.state().phase_changes().last() {
                return Ok(*index);
            }
        }
        let r = self
            .post(
                Payload::PhaseChange(v1::PhaseChange {
                    phase: phase as i32,
                }),
                &format!("phase change to {}", phase_name(phase)),
            )
            .await?;
        Ok(r.index)
    }

    /// Posts a public notice; returns its log index.
    pub async fn post_notice(&mut self, text: &str) -> Result<u64, AuthorityError> {
        let r = self
            .post(
                Payload::Notice(v1::Notice {
                    text: text.to_owned(),
                }),
                "notice",
            )
            .await?;
        Ok(r.index)
    }

    /// Waits for the key ceremony (all reveals, or `wait.reveal_timeout`,
    /// then `wait.complaint_window` for complaints), evaluates it from the
    /// record with [`tallyboard_threshold::evaluate`] and posts the
    /// `ElectionKey`. If the key is already on the record, returns it.
    pub async fn post_election_key(
        &mut self,
        wait: &CeremonyWait,
    ) -> Result<ElectionKeySummary, AuthorityError> {
        let started = Instant::now();
        self.follower.sync().await?;
        if let Some(summary) = self.existing_key()? {
            return Ok(summary);
        }
        if self.state().phase() != ElectionPhase::KeyCeremony {
            return Err(AuthorityError::NotReady(format!(
                "the election is in phase {:?}; the key is posted in KeyCeremony",
                self.state().phase()
            )));
        }
        let n = self
            .state()
            .dkg()
            .map(|d| usize::from(d.params().trustees()))
            .unwrap_or(0);
        let reveal_limit = match (wait.reveal_timeout, wait.timeout) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let all_revealed = |st: &RecordState| {
            let dkg = st.dkg()?;
            let mut dealers: Vec<u8> = dkg.reveals().iter().map(|r| r.dealer()).collect();
            dealers.sort_unstable();
            dealers.dedup();
            (dealers.len() >= n).then_some(())
        };
        match self
            .follower
            .wait_for(
                "every trustee's reveal",
                wait.poll,
                reveal_limit,
                all_revealed,
            )
            .await
        {
            Ok(()) => {}
            Err(AuthorityError::Timeout { .. }) if wait.reveal_timeout.is_some() => {
                tracing::warn!("not every trustee revealed; evaluating the ceremony without them");
            }
            Err(e) => return Err(e),
        }
        let window_end = Instant::now() + wait.complaint_window;
        while Instant::now() < window_end {
            let left = window_end.saturating_duration_since(Instant::now());
            tokio::time::sleep(wait.poll.min(left)).await;
            self.follower.sync().await?;
        }
        if let Some(limit) = wait.timeout {
            if started.elapsed() > limit {
                return Err(AuthorityError::Timeout {
                    what: "the key ceremony".into(),
                    after: limit,
                });
            }
        }
        let dkg = self
            .state()
            .dkg()
            .ok_or_else(|| AuthorityError::NotReady("no manifest".into()))?;
        let outcome = evaluate(dkg)?;
        let payload = election_key_payload(&outcome.public_key, &outcome.qualification.qualified);
        let r = self
            .post(Payload::ElectionKey(payload), "election key")
            .await?;
        Ok(ElectionKeySummary {
            entry: Some(r.index),
            joint_key: outcome.public_key.joint_key().to_bytes(),
            qualified: outcome.qualification.qualified.clone(),
            disqualified: outcome
                .qualification
                .disqualified
                .iter()
                .map(|d| (d.trustee, d.reason.to_string()))
                .collect(),
        })
    }

    fn existing_key(&self) -> Result<Option<ElectionKeySummary>, AuthorityError> {
        let st = self.state();
        let Some(key) = st.threshold_key() else {
            return Ok(None);
        };
        let dkg = st
            .dkg()
            .ok_or_else(|| AuthorityError::NotReady("no manifest".into()))?;
        let outcome = evaluate(dkg)?;
        Ok(Some(ElectionKeySummary {
            entry: None,
            joint_key: key.joint_key().to_bytes(),
            qualified: outcome.qualification.qualified,
            disqualified: outcome
                .qualification
                .disqualified
                .iter()
                .map(|d| (d.trustee, d.reason.to_string()))
                .collect(),
        }))
    }

    /// Posts the encrypted tally of `round`: the aggregates the record
    /// expects ([`RecordState::expected_tally`]), the number of ballots
    /// counted and `log_size` = the index the tally gets. If another entry
    /// takes that index first, the tally is recomputed and posted again
    /// (up to 5 times). Returns the tally's log index; if the round already
    /// has a tally, returns its index.
    pub async fn post_tally(&mut self, round: u32) -> Result<u64, AuthorityError> {
        let mut last = None;
        for _ in 0..TALLY_ATTEMPTS {
            self.follower.sync().await?;
            let st = self.state();
            if let Some(t) = st.tallies().iter().find(|t| t.round == round) {
                return Ok(t.index);
            }
            st.manifest()
                .ok_or_else(|| AuthorityError::NotReady("the board has no manifest".into()))?;
            let closed = if round == 0 {
                ElectionPhase::VotingClosed
            } else {
                ElectionPhase::RealignmentClosed
            };
            if st.phase() != closed {
                return Err(AuthorityError::NotReady(format!(
                    "the tally of round {round} is posted in phase {closed:?}; the election is in {:?}",
                    st.phase()
                )));
            }
            let tally = testkit::expected_tally_payload(st, round);
            let log_size = tally.log_size;
            match self
                .post(Payload::EncryptedTally(tally), "encrypted tally")
                .await
            {
                Ok(r) if r.index == log_size => return Ok(r.index),
                Ok(r) => {
                    return Err(AuthorityError::BadRecord(format!(
                        "the board accepted a tally for log size {log_size} at index {}",
                        r.index
                    )))
                }
                Err(e @ AuthorityError::Rejected { .. }) => {
                    // Another entry may have taken the index: retry on a
                    // fresh view; any other refusal repeats and is returned.
                    tracing::info!("tally refused ({e}); re-reading the record and retrying");
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| AuthorityError::NotReady("tally not posted".into())))
    }

    /// Posts the caucus viability (`spec/caucus.md` §9.3) computed from the
    /// first-alignment result on the record, and returns its log index (or
    /// the index of the one already posted).
    pub async fn post_caucus_viability(&mut self) -> Result<u64, AuthorityError> {
        self.follower.sync().await?;
        let st = self.state();
        if let Some(v) = st.caucus_viability() {
            return Ok(v.index);
        }
        let m = caucus_manifest(st)?;
        let r0 = caucus_round(st, 0)?;
        let districts = caucus::expected_viability(&m, &r0.counts)
            .map_err(|e| AuthorityError::BadRecord(e.to_string()))?;
        let r = self
            .post(
                Payload::CaucusViability(v1::CaucusViability {
                    result_entry: r0.result_entry,
                    districts,
                }),
                "caucus viability",
            )
            .await?;
        Ok(r.index)
    }

    /// Posts the delegate apportionment (`spec/caucus.md` §9.6–§9.7)
    /// computed from the final-alignment result and the coin seed, and
    /// returns its log index (or the index of the one already posted).
    pub async fn post_caucus_apportionment(&mut self) -> Result<u64, AuthorityError> {
        self.follower.sync().await?;
        let st = self.state();
        if let Some(a) = st.caucus_apportionment() {
            return Ok(a.index);
        }
        let m = caucus_manifest(st)?;
        let viability = st
            .caucus_viability()
            .ok_or_else(|| AuthorityError::NotReady("the caucus viability is not posted".into()))?
            .districts
            .clone();
        let r1 = caucus_round(st, caucus::REALIGNMENT_ROUND)?;
        let bad = |e: tallyboard_protocol::RuleError| AuthorityError::BadRecord(e.to_string());
        let seed = caucus::coin_seed(&m, &r1.aggregates).map_err(bad)?;
        let districts =
            caucus::expected_apportionment(&m, &viability, &r1.counts, &seed).map_err(bad)?;
        let r = self
            .post(
                Payload::CaucusApportionment(v1::CaucusApportionment {
                    result_entry: r1.result_entry,
                    coin_seed: seed.to_vec(),
                    districts,
                }),
                "caucus apportionment",
            )
            .await?;
        Ok(r.index)
    }

    /// Waits (up to `wait`, or without limit if `None`; polling every
    /// `poll`) until at least `t` valid
    /// partial decryptions of the tally at `tally_entry` are on the record,
    /// combines them ([`tallyboard_threshold::combine`]) and posts the
    /// `ElectionResult`. If the tally already has a result, returns it.
    pub async fn post_result(
        &mut self,
        tally_entry: u64,
        wait: Option<Duration>,
        poll: Duration,
    ) -> Result<ResultSummary, AuthorityError> {
        self.follower.sync().await?;
        let find = |st: &RecordState| {
            st.tallies()
                .iter()
                .find(|t| t.index == tally_entry)
                .cloned()
        };
        let tally = find(self.state()).ok_or_else(|| {
            AuthorityError::NotReady(format!("entry {tally_entry} is not an encrypted tally"))
        })?;
        if tally.result.is_some() {
            return ResultSummary::from_record(self.state(), &tally)
                .ok_or_else(|| AuthorityError::NotReady("no manifest".into()));
        }
        let key = self
            .state()
            .threshold_key()
            .cloned()
            .ok_or_else(|| AuthorityError::NotReady("no election key on the record".into()))?;
        let t = usize::from(key.threshold());
        let tally = self
            .follower
            .wait_for(
                &format!("{t} partial decryptions of the tally at entry {tally_entry}"),
                poll,
                wait,
                |st| find(st).filter(|x| x.partials.len() >= t || x.result.is_some()),
            )
            .await?;
        if tally.result.is_some() {
            return ResultSummary::from_record(self.state(), &tally)
                .ok_or_else(|| AuthorityError::NotReady("no manifest".into()));
        }
        let cts = tally.flat_ciphertexts();
        let partials: Vec<PartialDecryption> = tally.partials.values().cloned().collect();
        let max = tally_max(self.state(), &tally);
        let dec = tokio::task::spawn_blocking(move || combine(&key, &cts, &partials, max))
            .await
            .map_err(|e| AuthorityError::NotReady(format!("decryption task failed: {e}")))??;
        let m = self
            .state()
            .manifest()
            .cloned()
            .ok_or_else(|| AuthorityError::NotReady("no manifest".into()))?;
        let mut contests = Vec::with_capacity(tally.contests.len());
        let mut off = 0usize;
        for (c, d, cts) in &tally.contests {
            let counts = dec
                .plaintexts
                .get(off..off + cts.len())
                .ok_or_else(|| AuthorityError::NotReady("decryption is short".into()))?
                .to_vec();
            off += cts.len();
            contests.push(v1::ContestResult {
                contest: m.raw.contests[*c].id.clone(),
                district: d.map(|d| m.raw.districts[d].id.clone()).unwrap_or_default(),
                counts,
            });
        }
        let trustees_used: Vec<u32> = dec.used.iter().map(|&u| u32::from(u)).collect();
        let r = self
            .post(
                Payload::Result(v1::ElectionResult {
                    tally_entry,
                    trustees_used: trustees_used.clone(),
                    contests,
                }),
                "result",
            )
            .await?;
        let tally = find(self.state()).ok_or_else(|| {
            AuthorityError::BadRecord("the tally vanished from the record".into())
        })?;
        let mut summary = ResultSummary::from_record(self.state(), &tally).ok_or_else(|| {
            AuthorityError::BadRecord(format!(
                "the result at entry {} is not applied to the tally",
                r.index
            ))
        })?;
        summary.trustees_used = trustees_used;
        Ok(summary)
    }
}
