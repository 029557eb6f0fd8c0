//! A trustee: the key ceremony and partial decryptions through the board
//! (`spec/manifest.md` §7.3, `spec/threshold.md` §5.8, §6).
//!
//! [`run_ceremony`] drives the [`Trustee`] state machine from the record:
//!
//! ```text
//! wait for KeyCeremony ─► announce key ─► commit ─► (all n announced and committed) reveal
//!   ─► (all n revealed, or reveal_timeout) complain about bad shares
//!   ─► (ElectionKey on the record) finish: s_i, checked against VK_i
//! ```
//!
//! Every message is made, then saved to the state file, then posted, so a
//! trustee that stops at any point resumes from the file and posts exactly
//! the messages it made before — never a second, different announcement,
//! commitment, reveal or complaint, which the evaluation would treat as
//! equivocation. A message already on the record is not posted again. The
//! share is computed against the record as it stands when the election key
//! is posted (no key-ceremony message is accepted after that), so it agrees
//! with what every verifier evaluates.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use rand_core::OsRng;
use tallyboard_board_client::BoardClient;
use tallyboard_protocol::v1::{self, entry_body::Payload};
use tallyboard_protocol::{ElectionPhase, RecordState};
use tallyboard_threshold::{
    Commitment, Complaint, DkgMessage, DkgRecord, KeyAnnouncement, PartialDecryption, Reveal,
    Round, SecretShare, Trustee, TrusteeKeyPair,
};
use tokio::sync::mpsc::UnboundedSender;
use zeroize::Zeroizing;

use crate::error::AuthorityError;
use crate::follower::{RecordFollower, DEFAULT_POLL};
use crate::keys::{load_share, read_secret_file, replace_secret_file};

/// Progress of [`run_ceremony`], for callers that coordinate (a demo, a UI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyEvent {
    /// The key announcement is on the record.
    Announced,
    /// The commitment is on the record.
    Committed,
    /// The reveal is on the record.
    Revealed,
    /// The complaint round is done for this trustee (with this many
    /// complaints posted).
    Complained(usize),
    /// The share is computed and matches the posted election key.
    Finished,
}

/// How [`run_ceremony`] waits and where it keeps its files.
#[derive(Debug, Clone)]
pub struct CeremonyOptions {
    /// Poll interval.
    pub poll: Duration,
    /// After its own reveal, how long the trustee waits for the other
    /// reveals before judging the shares it has (`None`: wait for all).
    pub reveal_timeout: Option<Duration>,
    /// Give up after this long (`None`: never).
    pub timeout: Option<Duration>,
    /// Write the secret share here (mode 0600) once computed; a finished
    /// ceremony is resumed from it.
    pub share_path: Option<PathBuf>,
    /// Progress events.
    pub events: Option<UnboundedSender<CeremonyEvent>>,
}

impl Default for CeremonyOptions {
    fn default() -> Self {
        Self {
            poll: DEFAULT_POLL,
            reveal_timeout: Some(Duration::from_secs(600)),
            timeout: None,
            share_path: None,
            events: None,
        }
    }
}

/// Magic line of the ceremony state file.
const STATE_MAGIC: &[u8] = b"tallyboard/v1/trustee-ceremony\n";

/// What a trustee has made so far: the state machine and every message it
/// produced (`spec/manifest.md` §7.3).
struct CeremonyState {
    trustee: Trustee,
    announcement: KeyAnnouncement,
    commitment: Commitment,
    reveal: Option<Reveal>,
    complaints: Option<Vec<Complaint>>,
}

fn put(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        None => out.push(0),
        Some(b) => {
            out.push(1);
            out.extend_from_slice(&(b.len() as u32).to_be_bytes());
            out.extend_from_slice(b);
        }
    }
}

struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.rest.len() < n {
            return None;
        }
        let (a, b) = self.rest.split_at(n);
        self.rest = b;
        Some(a)
    }
    fn field(&mut self) -> Option<Option<&'a [u8]>> {
        match self.take(1)?[0] {
            0 => Some(None),
            1 => {
                let len = u32::from_be_bytes(self.take(4)?.try_into().ok()?) as usize;
                Some(Some(self.take(len)?))
            }
            _ => None,
        }
    }
}

impl CeremonyState {
    /// `magic ‖ field(trustee state) ‖ field(announcement) ‖
    /// field(commitment) ‖ field(reveal) ‖ field(complaints)`, where
    /// `field(x) = 0x00` (absent) or `0x01 ‖ u32be(len) ‖ x`, and the
    /// complaints field is `u32be(count) ‖ (u32be(len) ‖ complaint)*`.
    fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(4096));
        out.extend_from_slice(STATE_MAGIC);
        put(&mut out, Some(&self.trustee.to_bytes()));
        put(&mut out, Some(&self.announcement.to_bytes()));
        put(&mut out, Some(&self.commitment.to_bytes()));
        put(
            &mut out,
            self.reveal.as_ref().map(|r| r.to_bytes()).as_deref(),
        );
        let complaints = self.complaints.as_ref().map(|cs| {
            let mut v = (cs.len() as u32).to_be_bytes().to_vec();
            for c in cs {
                let b = c.to_bytes();
                v.extend_from_slice(&(b.len() as u32).to_be_bytes());
                v.extend_from_slice(&b);
            }
            v
        });
        put(&mut out, complaints.as_deref());
        out
    }

    fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self, AuthorityError> {
        let bad = |m: &str| AuthorityError::KeyFile {
            path: path.to_owned(),
            message: format!("not a trustee ceremony state: {m}"),
        };
        let body = bytes
            .strip_prefix(STATE_MAGIC)
            .ok_or_else(|| bad("wrong magic"))?;
        let mut c = Cursor { rest: body };
        let mut field = |what: &str| c.field().ok_or_else(|| bad(what));
        let trustee = field("trustee")?.ok_or_else(|| bad("no trustee state"))?;
        let trustee = Trustee::from_bytes(trustee).map_err(|e| bad(&e.to_string()))?;
        let ann = field("announcement")?.ok_or_else(|| bad("no announcement"))?;
        let announcement = KeyAnnouncement::from_bytes(ann).map_err(|e| bad(&e.to_string()))?;
        let com = field("commitment")?.ok_or_else(|| bad("no commitment"))?;
        let commitment = Commitment::from_bytes(com).map_err(|e| bad(&e.to_string()))?;
        let reveal = field("reveal")?
            .map(Reveal::from_bytes)
            .transpose()
            .map_err(|e| bad(&e.to_string()))?;
        let complaints = match field("complaints")? {
            None => None,
            Some(raw) => {
                let mut cc = Cursor { rest: raw };
                let n = u32::from_be_bytes(
                    cc.take(4)
                        .and_then(|b| b.try_into().ok())
                        .ok_or_else(|| bad("complaints"))?,
                );
                let mut v = Vec::new();
                for _ in 0..n {
                    let len = cc
                        .take(4)
                        .and_then(|b| b.try_into().ok())
                        .map(u32::from_be_bytes)
                        .ok_or_else(|| bad("complaints"))?;
                    let b = cc.take(len as usize).ok_or_else(|| bad("complaints"))?;
                    v.push(Complaint::from_bytes(b).map_err(|e| bad(&e.to_string()))?);
                }
                if !cc.rest.is_empty() {
                    return Err(bad("trailing complaint bytes"));
                }
                Some(v)
            }
        };
        if !c.rest.is_empty() {
            return Err(bad("trailing bytes"));
        }
        Ok(Self {
            trustee,
            announcement,
            commitment,
            reveal,
            complaints,
        })
    }

    fn save(&self, path: Option<&Path>) -> Result<(), AuthorityError> {
        match path {
            Some(p) => replace_secret_file(p, &self.to_bytes()),
            None => Ok(()),
        }
    }
}

fn emit(opts: &CeremonyOptions, e: CeremonyEvent) {
    if let Some(tx) = &opts.events {
        let _ = tx.send(e);
    }
}

fn remaining(start: Instant, limit: Option<Duration>) -> Option<Duration> {
    limit.map(|l| l.saturating_sub(start.elapsed()))
}

/// Whether `msg` is on the record; an error if a *different* message of the
/// same kind from the same trustee is (equivocation would disqualify it).
fn on_record(dkg: &DkgRecord, msg: &DkgMessage) -> Result<bool, AuthorityError> {
    let me = msg.sender();
    let conflict = |what: &str| {
        AuthorityError::Mismatch(format!(
            "the record holds another {what} from trustee {me}: was the ceremony state file lost? \
             Posting a second one would disqualify this trustee"
        ))
    };
    fn judge<T: PartialEq>(all: &[T], sender: impl Fn(&T) -> u8, me: u8, msg: &T) -> Option<bool> {
        let mine: Vec<&T> = all.iter().filter(|x| sender(x) == me).collect();
        if mine.contains(&msg) {
            Some(true)
        } else if mine.is_empty() {
            Some(false)
        } else {
            None
        }
    }
    match msg {
        DkgMessage::KeyAnnouncement(a) => judge(dkg.announcements(), |x| x.trustee(), me, a)
            .ok_or_else(|| conflict("key announcement")),
        DkgMessage::Commitment(c) => {
            judge(dkg.commitments(), |x| x.dealer(), me, c).ok_or_else(|| conflict("commitment"))
        }
        DkgMessage::Reveal(r) => {
            judge(dkg.reveals(), |x| x.dealer(), me, r).ok_or_else(|| conflict("reveal"))
        }
        DkgMessage::Complaint(c) => Ok(dkg.complaints().contains(c)),
    }
}

async fn ensure_posted(
    follower: &mut RecordFollower,
    signing: &SigningKey,
    msg: DkgMessage,
    what: &str,
) -> Result<(), AuthorityError> {
    follower.sync().await?;
    let dkg = follower
        .state()
        .dkg()
        .ok_or_else(|| AuthorityError::NotReady("no manifest".into()))?;
    if on_record(dkg, &msg)? {
        return Ok(());
    }
    follower
        .post(
            signing,
            Payload::Dkg(v1::DkgMessage {
                message: msg.to_bytes(),
            }),
            what,
        )
        .await?;
    Ok(())
}

fn distinct(it: impl Iterator<Item = u8>) -> usize {
    let mut v: Vec<u8> = it.collect();
    v.sort_unstable();
    v.dedup();
    v.len()
}

/// Checks that `signing` is trustee `index`'s key in the manifest.
fn check_identity(st: &RecordState, signing: &SigningKey, index: u8) -> Result<(), AuthorityError> {
    let m = st
        .manifest()
        .ok_or_else(|| AuthorityError::NotReady("the board has no manifest yet".into()))?;
    match m.trustee_index(&signing.verifying_key()) {
        Some(i) if i == u32::from(index) => Ok(()),
        Some(i) => Err(AuthorityError::Mismatch(format!(
            "this signing key is trustee {i}'s in the manifest, not trustee {index}'s"
        ))),
        None => Err(AuthorityError::Mismatch(format!(
            "this signing key is not a trustee's key in the manifest (election {:?})",
            m.raw.election_id
        ))),
    }
}

/// Runs trustee `index`'s side of the key ceremony through the board (see
/// the module documentation) and returns its secret share, checked against
/// the posted election key. With `state_path`, progress is saved there
/// (mode 0600) after every step and a restart resumes from it.
pub async fn run_ceremony(
    board: BoardClient,
    signing: SigningKey,
    keys: TrusteeKeyPair,
    index: u8,
    state_path: Option<&Path>,
    opts: &CeremonyOptions,
) -> Result<SecretShare, AuthorityError> {
    let mut follower = RecordFollower::new(board);
    run_ceremony_with(&mut follower, &signing, keys, index, state_path, opts).await
}

/// [`run_ceremony`] with an existing follower.
pub async fn run_ceremony_with(
    follower: &mut RecordFollower,
    signing: &SigningKey,
    keys: TrusteeKeyPair,
    index: u8,
    state_path: Option<&Path>,
    opts: &CeremonyOptions,
) -> Result<SecretShare, AuthorityError> {
    let start = Instant::now();
    follower
        .wait_for("the key ceremony to open", opts.poll, opts.timeout, |st| {
            (st.phase() >= ElectionPhase::KeyCeremony).then_some(())
        })
        .await?;
    check_identity(follower.state(), signing, index)?;
    let params = *follower
        .state()
        .dkg()
        .ok_or_else(|| AuthorityError::NotReady("no manifest".into()))?
        .params();

    // Resume or start.
    let saved = match state_path {
        Some(p) if p.exists() => Some(CeremonyState::from_bytes(&read_secret_file(p)?, p)?),
        _ => None,
    };
    let mut cs = match saved {
        Some(cs) => {
            if *cs.trustee.params() != params || cs.trustee.index() != index {
                return Err(AuthorityError::Mismatch(
                    "the ceremony state file belongs to another election or trustee".into(),
                ));
            }
            if cs.trustee.keys().public_key() != keys.public_key() {
                return Err(AuthorityError::Mismatch(
                    "the ceremony state file holds another share-encryption key".into(),
                ));
            }
            cs
        }
        None => {
            if follower.state().threshold_key().is_some()
                || follower.state().phase() > ElectionPhase::KeyCeremony
            {
                return Err(AuthorityError::NotReady(
                    "the key ceremony is over and this trustee has no saved state".into(),
                ));
            }
            let mut trustee = Trustee::new(params, index, keys, &mut OsRng)?;
            let announcement = trustee.announce(&mut OsRng)?;
            let commitment = trustee.commit()?;
            let cs = CeremonyState {
                trustee,
                announcement,
                commitment,
                reveal: None,
                complaints: None,
            };
            cs.save(state_path)?;
            cs
        }
    };

    if cs.trustee.round() == Round::Done {
        let path = opts.share_path.as_deref().ok_or_else(|| {
            AuthorityError::NotReady(
                "the ceremony is finished; the share is where it was written".into(),
            )
        })?;
        let share = load_share(path)?;
        follower.sync().await?;
        if let Some(key) = follower.state().threshold_key() {
            share.self_check(key)?;
        }
        emit(opts, CeremonyEvent::Finished);
        return Ok(share);
    }

    // Setup and round 0.
    if follower.state().threshold_key().is_none() {
        ensure_posted(
            follower,
            signing,
            DkgMessage::KeyAnnouncement(cs.announcement),
            "key announcement",
        )
        .await?;
        emit(opts, CeremonyEvent::Announced);
        ensure_posted(
            follower,
            signing,
            DkgMessage::Commitment(cs.commitment),
            "commitment",
        )
        .await?;
        emit(opts, CeremonyEvent::Committed);
    }

    // Round 1.
    let n = usize::from(params.trustees());
    if cs.trustee.round() == Round::Reveal {
        follower
            .wait_for(
                "every trustee's key announcement and commitment",
                opts.poll,
                remaining(start, opts.timeout),
                |st| {
                    let d = st.dkg()?;
                    (distinct(d.announcements().iter().map(|a| a.trustee())) >= n
                        && distinct(d.commitments().iter().map(|c| c.dealer())) >= n)
                        .then_some(())
                },
            )
            .await?;
        let dkg = follower
            .state()
            .dkg()
            .ok_or_else(|| AuthorityError::NotReady("no manifest".into()))?;
        let reveal = cs.trustee.reveal(dkg, &mut OsRng)?;
        cs.reveal = Some(reveal);
        cs.save(state_path)?;
    }
    if let Some(reveal) = cs.reveal.clone() {
        if follower.state().threshold_key().is_none() {
            ensure_posted(follower, signing, DkgMessage::Reveal(reveal), "reveal").await?;
        }
        emit(opts, CeremonyEvent::Revealed);
    }

    // Round 2.
    if cs.trustee.round() == Round::Complain {
        let limit = match (opts.reveal_timeout, remaining(start, opts.timeout)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let waited = follower
            .wait_for("every trustee's reveal", opts.poll, limit, |st| {
                let d = st.dkg()?;
                (distinct(d.reveals().iter().map(|r| r.dealer())) >= n
                    || st.threshold_key().is_some())
                .then_some(())
            })
            .await;
        match waited {
            Ok(()) => {}
            Err(AuthorityError::Timeout { .. }) if opts.reveal_timeout.is_some() => {
                tracing::warn!(
                    trustee = index,
                    "not every trustee revealed; judging the reveals on the record"
                );
            }
            Err(e) => return Err(e),
        }
        let dkg = follower
            .state()
            .dkg()
            .ok_or_else(|| AuthorityError::NotReady("no manifest".into()))?;
        let complaints = cs.trustee.complain(dkg, &mut OsRng)?;
        cs.complaints = Some(complaints);
        cs.save(state_path)?;
    }
    let complaints = cs.complaints.clone().unwrap_or_default();
    for c in &complaints {
        if follower.state().threshold_key().is_some() {
            tracing::warn!(
                trustee = index,
                dealer = c.dealer(),
                "the election key was posted before this complaint"
            );
            break;
        }
        tracing::warn!(
            trustee = index,
            dealer = c.dealer(),
            "complaining about a bad share"
        );
        ensure_posted(follower, signing, DkgMessage::Complaint(*c), "complaint").await?;
    }
    emit(opts, CeremonyEvent::Complained(complaints.len()));

    // Finish, against the record as of the election key.
    let key = follower
        .wait_for(
            "the election key",
            opts.poll,
            remaining(start, opts.timeout),
            |st| st.threshold_key().cloned(),
        )
        .await?;
    let dkg = follower
        .state()
        .dkg()
        .ok_or_else(|| AuthorityError::NotReady("no manifest".into()))?;
    let (share, outcome) = cs.trustee.finish(dkg)?;
    if outcome.public_key != key {
        return Err(AuthorityError::BadRecord(
            "the posted election key is not the ceremony's outcome".into(),
        ));
    }
    share.self_check(&key)?;
    if let Some(p) = &opts.share_path {
        replace_secret_file(p, share.to_bytes().as_slice())?;
    }
    cs.save(state_path)?;
    emit(opts, CeremonyEvent::Finished);
    Ok(share)
}

/// What [`decrypt_tally`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecryptOutcome {
    /// The partial decryption was posted at this log index.
    Posted(u64),
    /// This trustee's partial decryption of the tally was already on the record.
    AlreadyPosted,
}

/// Posts trustee `share.index()`'s partial decryption of the encrypted tally
/// at `tally_entry`, signed with `signing`. The tally is the one the record
/// validated as the aggregate of the counted ballots (the follower replays
/// the whole record), so the trustee never decrypts anything else.
pub async fn decrypt_tally(
    board: BoardClient,
    signing: &SigningKey,
    share: &SecretShare,
    tally_entry: u64,
) -> Result<DecryptOutcome, AuthorityError> {
    let mut follower = RecordFollower::new(board);
    decrypt_tally_with(&mut follower, signing, share, tally_entry).await
}

/// [`decrypt_tally`] with an existing follower.
pub async fn decrypt_tally_with(
    follower: &mut RecordFollower,
    signing: &SigningKey,
    share: &SecretShare,
    tally_entry: u64,
) -> Result<DecryptOutcome, AuthorityError> {
    follower.sync().await?;
    let st = follower.state();
    check_identity(st, signing, share.index())?;
    let m = st
        .manifest()
        .ok_or_else(|| AuthorityError::NotReady("no manifest".into()))?;
    if share.election() != &m.fingerprint {
        return Err(AuthorityError::Mismatch(
            "the share belongs to another election".into(),
        ));
    }
    let key = st
        .threshold_key()
        .ok_or_else(|| AuthorityError::NotReady("no election key on the record".into()))?;
    share.self_check(key)?;
    let tally = st
        .tallies()
        .iter()
        .find(|t| t.index == tally_entry)
        .ok_or_else(|| {
            AuthorityError::NotReady(format!(
                "entry {tally_entry} is not an encrypted tally on the record"
            ))
        })?;
    if tally.partials.contains_key(&share.index()) {
        return Ok(DecryptOutcome::AlreadyPosted);
    }
    if tally.result.is_some() {
        return Err(AuthorityError::NotReady(format!(
            "the tally at entry {tally_entry} already has a result"
        )));
    }
    let cts = tally.flat_ciphertexts();
    let share_c = share.clone();
    let partial =
        tokio::task::spawn_blocking(move || PartialDecryption::create(&share_c, &cts, &mut OsRng))
            .await
            .map_err(|e| AuthorityError::NotReady(format!("decryption task failed: {e}")))??;
    let r = follower
        .post(
            signing,
            Payload::PartialDecryption(v1::PartialDecryption {
                trustee: u32::from(share.index()),
                tally_entry,
                partial: partial.to_bytes(),
            }),
            "partial decryption",
        )
        .await?;
    Ok(DecryptOutcome::Posted(r.index))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tallyboard_threshold::DkgParams;

    #[test]
    fn state_file_round_trip() {
        let params = DkgParams::new([7; 32], 2, 3).unwrap();
        let mut trustee =
            Trustee::new(params, 2, TrusteeKeyPair::generate(&mut OsRng), &mut OsRng).unwrap();
        let announcement = trustee.announce(&mut OsRng).unwrap();
        let commitment = trustee.commit().unwrap();
        let cs = CeremonyState {
            trustee,
            announcement,
            commitment,
            reveal: None,
            complaints: Some(Vec::new()),
        };
        let bytes = cs.to_bytes();
        let back = CeremonyState::from_bytes(&bytes, Path::new("x")).unwrap();
        assert_eq!(back.trustee.to_bytes(), cs.trustee.to_bytes());
        assert_eq!(back.announcement, cs.announcement);
        assert_eq!(back.commitment, cs.commitment);
        assert!(back.reveal.is_none());
        assert_eq!(back.complaints.as_deref(), Some(&[][..]));
        assert_eq!(back.to_bytes(), bytes);
        // Truncations and trailing bytes are refused.
        for cut in [0, STATE_MAGIC.len(), bytes.len() - 1] {
            assert!(CeremonyState::from_bytes(&bytes[..cut], Path::new("x")).is_err());
        }
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert!(CeremonyState::from_bytes(&longer, Path::new("x")).is_err());
    }
}
