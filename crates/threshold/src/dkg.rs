//! Joint-Feldman distributed key generation with a commit-then-reveal round
//! and verifiable complaints (`spec/threshold.md` §5).
//!
//! ```text
//! setup    trustee i:  KeyAnnouncement(i, PK_i, PoP)                       (§4)
//! round 0  dealer j:   f_j(x) = a_{j,0} + a_{j,1}·x + … + a_{j,t−1}·x^{t−1}, a_{j,k} ← random
//!                      C_{j,k} = a_{j,k}·G
//!                      Commitment(j, SHA-256("…dkg-commit" ‖ election ‖ j ‖ t ‖ n ‖ C_{j,·}))   (§5.1)
//! round 1  dealer j:   Reveal(j, C_{j,·}, PoK_{j,·}, Enc_{PK_i}(f_j(i)) for i = 1..=n)        (§5.2, §5.3)
//! round 2  trustee i:  for every dealer j: s_{j,i} = Dec(…); if it fails or
//!                      s_{j,i}·G ≠ Σ_k i^k·C_{j,k}: Complaint(i, j, Z = x_i·E_{j,i}, DLEQ)     (§5.4)
//! result   QUAL = dealers with a commitment, one matching reveal, valid PoKs, no valid complaint (§5.5)
//!          K = Σ_{j∈QUAL} C_{j,0};  VK_i = Σ_{j∈QUAL} Σ_k i^k·C_{j,k};  s_i = Σ_{j∈QUAL} s_{j,i} (§5.6)
//! ```
//!
//! The public side is a pure function of the board: [`DkgRecord`] collects
//! the posted messages, [`qualify`] and [`evaluate`] compute QUAL, the
//! reasons for every disqualification and the [`ThresholdPublicKey`]. The
//! private side is the [`Trustee`] state machine, which produces each
//! round's messages from the record and finally its [`SecretShare`].
//!
//! The board's phases order the rounds: it accepts round-`r` messages only
//! while round `r` is open, and opens round 1 only after round 0 is closed,
//! so no dealer can choose its polynomial after seeing another's (§5.7).

use std::collections::BTreeMap;
use std::fmt;

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{Identity, VartimeMultiscalarMul};
use rand_core::{CryptoRng, OsRng, RngCore};
use tallyboard_crypto::batch::BatchVerifier;
use tallyboard_crypto::encoding::Reader;
use tallyboard_crypto::generators::{G_table, G};
use tallyboard_crypto::proofs::schnorr::SchnorrProof;
use tallyboard_crypto::DecodeError;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::ThresholdError;
use crate::keys::{KeyAnnouncement, TrusteeKeyPair};
use crate::labels::tags;
use crate::messages::{pok_context, Commitment, Complaint, DkgMessage, Reveal};
use crate::params::{decode_index, decode_t_n, expect_tag, DkgParams};
use crate::public_key::ThresholdPublicKey;
use crate::share::SecretShare;
use crate::share_encryption::{EncryptedShare, ShareAddress};

/// The public messages of one ceremony, in board order, grouped by kind.
///
/// [`DkgRecord::push`] accepts a message only if its indices are in `1..=n`
/// and its parameters are the ceremony's, and at most one complaint per
/// (complainer, dealer); the board layer refuses entries it rejects. An exact
/// duplicate of a message already in the record is ignored; two *different*
/// key announcements, commitments or reveals from one trustee are kept, and
/// [`qualify`] treats them as equivocation (`spec/threshold.md` §5.8).
#[derive(Clone, Debug)]
pub struct DkgRecord {
    params: DkgParams,
    announcements: Vec<KeyAnnouncement>,
    commitments: Vec<Commitment>,
    reveals: Vec<Reveal>,
    complaints: Vec<Complaint>,
}

fn push_unique<T: PartialEq>(v: &mut Vec<T>, m: T) {
    if !v.contains(&m) {
        v.push(m);
    }
}

impl DkgRecord {
    /// An empty record for the ceremony `params`.
    pub fn new(params: DkgParams) -> Self {
        Self {
            params,
            announcements: Vec::new(),
            commitments: Vec::new(),
            reveals: Vec::new(),
            complaints: Vec::new(),
        }
    }

    /// The ceremony's parameters.
    pub fn params(&self) -> &DkgParams {
        &self.params
    }

    /// Adds a message (structural checks only; proofs are judged by
    /// [`qualify`]).
    pub fn push(&mut self, msg: DkgMessage) -> Result<(), ThresholdError> {
        self.params.check_index(msg.sender())?;
        match msg {
            DkgMessage::KeyAnnouncement(m) => push_unique(&mut self.announcements, m),
            DkgMessage::Commitment(m) => push_unique(&mut self.commitments, m),
            DkgMessage::Reveal(m) => {
                if m.threshold() != self.params.threshold()
                    || m.trustees() != self.params.trustees()
                {
                    return Err(ThresholdError::ParameterMismatch {
                        trustee: m.dealer(),
                    });
                }
                push_unique(&mut self.reveals, m)
            }
            DkgMessage::Complaint(m) => {
                self.params.check_index(m.dealer())?;
                // At most one complaint per (complainer, dealer): each one
                // costs the verifier a proof and a decryption.
                if self.complaints.iter().any(|c| {
                    c.complainer() == m.complainer() && c.dealer() == m.dealer() && *c != m
                }) {
                    return Err(ThresholdError::ConflictingMessages {
                        trustee: m.complainer(),
                        message: "complaint",
                    });
                }
                push_unique(&mut self.complaints, m)
            }
        }
        Ok(())
    }

    /// Decodes and adds a message.
    pub fn push_bytes(&mut self, bytes: &[u8]) -> Result<(), ThresholdError> {
        self.push(DkgMessage::from_bytes(bytes)?)
    }

    /// Key announcements.
    pub fn announcements(&self) -> &[KeyAnnouncement] {
        &self.announcements
    }

    /// Round-0 commitments.
    pub fn commitments(&self) -> &[Commitment] {
        &self.commitments
    }

    /// Round-1 reveals.
    pub fn reveals(&self) -> &[Reveal] {
        &self.reveals
    }

    /// Round-2 complaints.
    pub fn complaints(&self) -> &[Complaint] {
        &self.complaints
    }
}

/// A trustee found at fault, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disqualification {
    /// The trustee.
    pub trustee: u8,
    /// The fault (one of `MissingCommitment`, `MissingReveal`,
    /// `ConflictingMessages`, `RevealMismatch`, `InvalidProofOfKnowledge`,
    /// `ValidComplaint`, `InvalidComplaintProof`, `UnfoundedComplaint`).
    pub reason: ThresholdError,
}

/// Who qualified as a dealer and who did not (`spec/threshold.md` §5.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Qualification {
    /// QUAL, ascending.
    pub qualified: Vec<u8>,
    /// Every fault found, ascending by trustee, then in the order of §5.5.
    pub disqualified: Vec<Disqualification>,
}

/// The result of a successful ceremony.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DkgOutcome {
    /// QUAL and the faults found.
    pub qualification: Qualification,
    /// The joint key and the verification keys.
    pub public_key: ThresholdPublicKey,
}

/// The verified long-term keys, `PK_i` at position `i − 1`
/// (`spec/threshold.md` §5.5 step 1). Setup errors are fatal.
fn verified_keys(record: &DkgRecord) -> Result<Vec<KeyAnnouncement>, ThresholdError> {
    let params = &record.params;
    let mut keys = Vec::with_capacity(usize::from(params.trustees()));
    for i in params.indices() {
        let mut mine = record.announcements.iter().filter(|a| a.trustee() == i);
        let first = mine
            .next()
            .ok_or(ThresholdError::MissingKeyAnnouncement { trustee: i })?;
        if mine.any(|a| a != first) {
            return Err(ThresholdError::ConflictingMessages {
                trustee: i,
                message: "key announcement",
            });
        }
        keys.push(*first);
    }
    let mut batch = BatchVerifier::new(OsRng);
    for k in &keys {
        k.batch_verify(params.election(), &mut batch)?;
    }
    if !batch.vartime_verify() {
        for k in &keys {
            k.verify(params.election())?;
        }
    }
    Ok(keys)
}

/// Dealers that pass every check that involves no complaint
/// (`spec/threshold.md` §5.5 step 2), with the faults of the others.
fn screen_dealers(record: &DkgRecord) -> (BTreeMap<u8, &Reveal>, Vec<Disqualification>) {
    let params = &record.params;
    let mut faults = Vec::new();
    let mut candidates = BTreeMap::new();
    for j in params.indices() {
        let fault = |reason| Disqualification { trustee: j, reason };
        let commits: Vec<&Commitment> = record
            .commitments
            .iter()
            .filter(|c| c.dealer() == j)
            .collect();
        let reveals: Vec<&Reveal> = record.reveals.iter().filter(|r| r.dealer() == j).collect();
        let commitment = match commits.as_slice() {
            [] => {
                faults.push(fault(ThresholdError::MissingCommitment { dealer: j }));
                continue;
            }
            [c] => *c,
            _ => {
                faults.push(fault(ThresholdError::ConflictingMessages {
                    trustee: j,
                    message: "commitment",
                }));
                continue;
            }
        };
        let reveal = match reveals.as_slice() {
            [] => {
                faults.push(fault(ThresholdError::MissingReveal { dealer: j }));
                continue;
            }
            [r] => *r,
            _ => {
                faults.push(fault(ThresholdError::ConflictingMessages {
                    trustee: j,
                    message: "reveal",
                }));
                continue;
            }
        };
        if let Err(e) = commitment.check_reveal(params, reveal) {
            faults.push(fault(e));
            continue;
        }
        candidates.insert(j, reveal);
    }
    // Proofs of knowledge: one batch; on failure, find the culprits.
    let mut batch = BatchVerifier::new(OsRng);
    let mut batch_ok = true;
    for r in candidates.values() {
        batch_ok &= r.batch_verify_proofs(params.election(), &mut batch).is_ok();
    }
    if !(batch_ok && batch.vartime_verify()) {
        candidates.retain(|&j, r| match r.verify_proofs(params.election()) {
            Ok(()) => true,
            Err(e) => {
                faults.push(Disqualification {
                    trustee: j,
                    reason: e,
                });
                false
            }
        });
    }
    (candidates, faults)
}

/// What the public evaluation knows after all three rounds.
struct Evaluation<'a> {
    keys: Vec<KeyAnnouncement>,
    reveals: BTreeMap<u8, &'a Reveal>,
    qualification: Qualification,
}

fn run(record: &DkgRecord) -> Result<Evaluation<'_>, ThresholdError> {
    let params = &record.params;
    let keys = verified_keys(record)?;
    let (candidates, mut faults) = screen_dealers(record);
    // Step 3: complaints, each judged on its own against the step-2 candidates.
    for c in &record.complaints {
        let Some(reveal) = candidates.get(&c.dealer()) else {
            continue; // moot: the dealer is already out
        };
        let key = &keys[usize::from(c.complainer()) - 1];
        match c.judge(params.election(), key, reveal) {
            Ok(_) => faults.push(Disqualification {
                trustee: c.dealer(),
                reason: ThresholdError::ValidComplaint {
                    dealer: c.dealer(),
                    complainer: c.complainer(),
                },
            }),
            Err(e) => faults.push(Disqualification {
                trustee: c.complainer(),
                reason: e,
            }),
        }
    }
    faults.sort_by_key(|d| d.trustee);
    let qualified: Vec<u8> = candidates
        .keys()
        .copied()
        .filter(|j| !faults.iter().any(|d| d.trustee == *j))
        .collect();
    let reveals = candidates
        .into_iter()
        .filter(|(j, _)| qualified.contains(j))
        .collect();
    Ok(Evaluation {
        keys,
        reveals,
        qualification: Qualification {
            qualified,
            disqualified: faults,
        },
    })
}

/// QUAL and the faults, from public messages alone (`spec/threshold.md`
/// §5.5). Fails only if the setup is broken (a key announcement missing,
/// conflicting or invalid), in which case no round could have run.
pub fn qualify(record: &DkgRecord) -> Result<Qualification, ThresholdError> {
    Ok(run(record)?.qualification)
}

fn public_key_of(
    params: &DkgParams,
    reveals: &BTreeMap<u8, &Reveal>,
) -> Result<ThresholdPublicKey, ThresholdError> {
    let t = usize::from(params.threshold());
    let mut A = vec![RistrettoPoint::identity(); t];
    for r in reveals.values() {
        for (a, c) in A.iter_mut().zip(r.coefficient_commitments()) {
            *a += c;
        }
    }
    let vks = params
        .indices()
        .map(|i| {
            let x = Scalar::from(i);
            let mut p = Scalar::ONE;
            let powers: Vec<Scalar> = (0..t)
                .map(|_| {
                    let q = p;
                    p *= x;
                    q
                })
                .collect();
            RistrettoPoint::vartime_multiscalar_mul(&powers, &A)
        })
        .collect();
    ThresholdPublicKey::from_parts_unchecked(*params.election(), params.threshold(), A[0], vks)
}

/// The ceremony's result from public messages alone (`spec/threshold.md`
/// §5.5, §5.6): QUAL, the faults, the joint key `K = Σ_{j∈QUAL} C_{j,0}` and
/// `VK_i = Σ_{j∈QUAL} Σ_k i^k·C_{j,k}`. `CeremonyFailed` if `|QUAL| < t`.
pub fn evaluate(record: &DkgRecord) -> Result<DkgOutcome, ThresholdError> {
    let ev = run(record)?;
    let params = &record.params;
    if ev.qualification.qualified.len() < usize::from(params.threshold()) {
        return Err(ThresholdError::CeremonyFailed {
            qualified: ev.qualification.qualified.len(),
            threshold: params.threshold(),
        });
    }
    let public_key = public_key_of(params, &ev.reveals)?;
    Ok(DkgOutcome {
        qualification: ev.qualification,
        public_key,
    })
}

/// A trustee's progress through the ceremony.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Round {
    /// Next step: [`Trustee::commit`] (round 0).
    Commit = 0,
    /// Next step: [`Trustee::reveal`] (round 1).
    Reveal = 1,
    /// Next step: [`Trustee::complain`] (round 2).
    Complain = 2,
    /// Next step: [`Trustee::finish`].
    Finish = 3,
    /// The trustee holds its secret share.
    Done = 4,
}

impl Round {
    fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            0 => Self::Commit,
            1 => Self::Reveal,
            2 => Self::Complain,
            3 => Self::Finish,
            4 => Self::Done,
            _ => return None,
        })
    }
}

/// A dealer's secret polynomial `f(x) = a_0 + a_1·x + … + a_{t−1}·x^{t−1}`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
struct Polynomial(Vec<Scalar>);

impl Polynomial {
    fn random<R: RngCore + CryptoRng>(t: u8, rng: &mut R) -> Self {
        Self(
            (0..t)
                .map(|_| loop {
                    let a = tallyboard_crypto::random_scalar(rng);
                    if a != Scalar::ZERO {
                        break a;
                    }
                })
                .collect(),
        )
    }

    /// Horner evaluation at `x` (constant time in the coefficients).
    fn eval(&self, x: u8) -> Scalar {
        let x = Scalar::from(x);
        self.0.iter().rev().fold(Scalar::ZERO, |acc, a| acc * x + a)
    }

    fn commitments(&self) -> Vec<RistrettoPoint> {
        self.0.iter().map(|a| G_table() * a).collect()
    }
}

/// One trustee's side of the ceremony: a state machine that a service or
/// command-line tool drives round by round from the board's [`DkgRecord`].
///
/// ```text
/// Trustee::new ─► commit() ─► reveal(record) ─► complain(record) ─► finish(record) ─► SecretShare
///    Commit        Reveal         Complain           Finish              Done
/// ```
///
/// The key announcement ([`Trustee::announce`]) may be made at any time
/// before round 1. Each step checks the round and advances it; calling a
/// step out of order gives `WrongRound`. The state (long-term secret key and,
/// until the reveal, the polynomial) serializes with [`Trustee::to_bytes`]
/// so the driver can persist it between rounds. The polynomial is erased as
/// soon as the reveal is made: the trustee's own share travels, like every
/// other, encrypted on the board.
pub struct Trustee {
    params: DkgParams,
    index: u8,
    keys: TrusteeKeyPair,
    round: Round,
    polynomial: Polynomial,
}

impl fmt::Debug for Trustee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trustee")
            .field("params", &self.params)
            .field("index", &self.index)
            .field("round", &self.round)
            .field("keys", &self.keys)
            .field("polynomial", &"[REDACTED]")
            .finish()
    }
}

impl Trustee {
    /// Trustee `index` of the ceremony `params`, with long-term key pair
    /// `keys`; draws the secret polynomial of degree `t − 1`.
    pub fn new<R: RngCore + CryptoRng>(
        params: DkgParams,
        index: u8,
        keys: TrusteeKeyPair,
        rng: &mut R,
    ) -> Result<Self, ThresholdError> {
        params.check_index(index)?;
        Ok(Self {
            params,
            index,
            keys,
            round: Round::Commit,
            polynomial: Polynomial::random(params.threshold(), rng),
        })
    }

    /// The ceremony's parameters.
    pub fn params(&self) -> &DkgParams {
        &self.params
    }

    /// This trustee's index `i`.
    pub fn index(&self) -> u8 {
        self.index
    }

    /// The next step.
    pub fn round(&self) -> Round {
        self.round
    }

    /// The long-term key pair.
    pub fn keys(&self) -> &TrusteeKeyPair {
        &self.keys
    }

    fn expect(&self, expected: Round) -> Result<(), ThresholdError> {
        if self.round == expected {
            Ok(())
        } else {
            Err(ThresholdError::WrongRound {
                expected,
                actual: self.round,
            })
        }
    }

    /// Setup: announces the long-term key for this election and index.
    pub fn announce<R: RngCore + CryptoRng>(
        &self,
        rng: &mut R,
    ) -> Result<KeyAnnouncement, ThresholdError> {
        self.keys.announce(self.params.election(), self.index, rng)
    }

    /// Round 0: the hash commitment to the coefficient commitments.
    pub fn commit(&mut self) -> Result<Commitment, ThresholdError> {
        self.expect(Round::Commit)?;
        let c = Commitment::new(&self.params, self.index, &self.polynomial.commitments());
        self.round = Round::Reveal;
        Ok(c)
    }

    /// Round 1: coefficient commitments with proofs of knowledge, and the
    /// share `f(i)` encrypted to every trustee `i`. Requires every key
    /// announcement to be present and valid, and this trustee's own
    /// announcement and commitment to be in `record` (the board must have
    /// closed round 0). Erases the polynomial.
    pub fn reveal<R: RngCore + CryptoRng>(
        &mut self,
        record: &DkgRecord,
        rng: &mut R,
    ) -> Result<Reveal, ThresholdError> {
        self.expect(Round::Reveal)?;
        self.check_record(record)?;
        let keys = verified_keys(record)?;
        if keys[usize::from(self.index) - 1].key() != self.keys.public_key() {
            return Err(ThresholdError::MissingOwnMessage("key announcement"));
        }
        let commitments = self.polynomial.commitments();
        let own = Commitment::new(&self.params, self.index, &commitments);
        if !record.commitments.contains(&own) {
            return Err(ThresholdError::MissingOwnMessage("commitment"));
        }
        let election = self.params.election();
        let mut proofs = Vec::with_capacity(commitments.len());
        for (k, a) in self.polynomial.0.iter().enumerate() {
            let (_, p) =
                SchnorrProof::prove(&pok_context(election, self.index, k as u8), &G(), a, rng)
                    .map_err(|_| ThresholdError::InvalidProofOfKnowledge {
                        dealer: self.index,
                        coefficient: k as u8,
                    })?;
            proofs.push(p);
        }
        let shares = keys
            .iter()
            .map(|a| {
                let s = Zeroizing::new(self.polynomial.eval(a.trustee()));
                let to = ShareAddress {
                    election,
                    dealer: self.index,
                    recipient: a.trustee(),
                    recipient_key: a.key(),
                };
                EncryptedShare::encrypt(&s, &to, rng)
            })
            .collect();
        let reveal = Reveal::from_parts(self.index, commitments, proofs, shares)?;
        self.polynomial.zeroize();
        self.polynomial.0.clear();
        self.round = Round::Complain;
        Ok(reveal)
    }

    fn check_record(&self, record: &DkgRecord) -> Result<(), ThresholdError> {
        if record.params != self.params {
            return Err(ThresholdError::ElectionMismatch);
        }
        Ok(())
    }

    fn address<'a>(&'a self, dealer: u8, record_keys: &'a [KeyAnnouncement]) -> ShareAddress<'a> {
        ShareAddress {
            election: self.params.election(),
            dealer,
            recipient: self.index,
            recipient_key: record_keys[usize::from(self.index) - 1].key(),
        }
    }

    /// Decrypts and checks dealer `reveal.dealer()`'s share to this trustee.
    fn receive(&self, reveal: &Reveal, keys: &[KeyAnnouncement]) -> Result<Scalar, ThresholdError> {
        let enc = reveal
            .share_for(self.index)
            .ok_or(ThresholdError::UnknownTrustee {
                trustee: self.index,
                trustees: reveal.trustees(),
            })?;
        let s = enc.decrypt(&self.keys, &self.address(reveal.dealer(), keys))?;
        reveal.check_share(self.index, &s)?;
        Ok(s)
    }

    /// Round 2: decrypts and checks the share from every dealer that passed
    /// the public checks; returns one verifiable complaint per bad share
    /// (usually none).
    pub fn complain<R: RngCore + CryptoRng>(
        &mut self,
        record: &DkgRecord,
        rng: &mut R,
    ) -> Result<Vec<Complaint>, ThresholdError> {
        self.expect(Round::Complain)?;
        self.check_record(record)?;
        let keys = verified_keys(record)?;
        let (candidates, _) = screen_dealers(record);
        let mut complaints = Vec::new();
        for reveal in candidates.values() {
            if self.receive(reveal, &keys).is_err() {
                complaints.push(Complaint::create(
                    self.params.election(),
                    self.index,
                    &self.keys,
                    reveal,
                    rng,
                )?);
            }
        }
        self.round = Round::Finish;
        Ok(complaints)
    }

    /// After round 2: evaluates the ceremony and sums the shares from QUAL
    /// into `s_i`, checked against `VK_i`. Fails with the dealer's index if a
    /// qualified dealer's share to this trustee is bad (which happens only if
    /// this trustee's complaint did not reach the board).
    pub fn finish(
        &mut self,
        record: &DkgRecord,
    ) -> Result<(SecretShare, DkgOutcome), ThresholdError> {
        self.expect(Round::Finish)?;
        self.check_record(record)?;
        let ev = run(record)?;
        let t = self.params.threshold();
        if ev.qualification.qualified.len() < usize::from(t) {
            return Err(ThresholdError::CeremonyFailed {
                qualified: ev.qualification.qualified.len(),
                threshold: t,
            });
        }
        let public_key = public_key_of(&self.params, &ev.reveals)?;
        let mut s = Scalar::ZERO;
        for reveal in ev.reveals.values() {
            let mut sj = self.receive(reveal, &ev.keys)?;
            s += sj;
            sj.zeroize();
        }
        let share = SecretShare::new(&self.params, self.index, s);
        s.zeroize();
        share.self_check(&public_key)?;
        self.round = Round::Done;
        Ok((
            share,
            DkgOutcome {
                qualification: ev.qualification,
                public_key,
            },
        ))
    }

    /// `0x09 ‖ election ‖ t ‖ n ‖ i ‖ round ‖ x ‖ a_0 ‖ … ‖ a_{t−1}`; the
    /// coefficients are present only in rounds `Commit` and `Reveal`
    /// (`spec/threshold.md` §7.3). For a file only the trustee can read.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(69 + 32 * self.polynomial.0.len()));
        out.push(tags::TRUSTEE_STATE);
        out.extend_from_slice(self.params.election());
        out.extend_from_slice(&[
            self.params.threshold(),
            self.params.trustees(),
            self.index,
            self.round as u8,
        ]);
        out.extend_from_slice(&self.keys.to_bytes()[1..]);
        for a in &self.polynomial.0 {
            out.extend_from_slice(a.as_bytes());
        }
        out
    }

    /// Canonical decoding of [`Self::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ThresholdError> {
        const WHAT: &str = "trustee state";
        let mut r = Reader::new(bytes, WHAT);
        expect_tag(&mut r, tags::TRUSTEE_STATE, WHAT)?;
        let mut election = [0u8; 32];
        election.copy_from_slice(r.bytes(32)?);
        let h = r.bytes(4)?;
        let (t, n, index, round) = (h[0], h[1], h[2], h[3]);
        decode_t_n(t, n, WHAT)?;
        decode_index(index, n, WHAT)?;
        let round = Round::from_u8(round).ok_or(DecodeError::OutOfRange {
            what: WHAT,
            detail: "unknown round",
        })?;
        let mut key_bytes = Zeroizing::new([0u8; TrusteeKeyPair::LEN]);
        key_bytes[0] = tags::TRUSTEE_SECRET_KEY;
        key_bytes[1..].copy_from_slice(r.bytes(32)?);
        let keys = TrusteeKeyPair::from_bytes(key_bytes.as_slice())?;
        let coefficients = if round <= Round::Reveal {
            usize::from(t)
        } else {
            0
        };
        let expected = 69 + 32 * coefficients;
        crate::keys::exact_len(bytes, expected, WHAT)?;
        let mut poly = Polynomial(Vec::with_capacity(coefficients));
        for _ in 0..coefficients {
            let a = r.scalar()?;
            if a == Scalar::ZERO {
                return Err(DecodeError::OutOfRange {
                    what: WHAT,
                    detail: "zero coefficient",
                }
                .into());
            }
            poly.0.push(a);
        }
        r.finish()?;
        Ok(Self {
            params: DkgParams::new(election, t, n)?,
            index,
            keys,
            round,
            polynomial: poly,
        })
    }
}
