//! Deferred ballot verification, for verifiers of large records
//! (`spec/checks.md` §11, `spec/record.md` §5).
//!
//! [`RecordState::precheck_deferred`](crate::RecordState::precheck_deferred)
//! checks everything about a ballot except its two expensive parts — the
//! issuer's RFC 9474 signature on the credential and the contests'
//! zero-knowledge proofs — and hands those back as a
//! [`DeferredBallotProofs`]. The caller verifies them later, on any thread,
//! one by one ([`DeferredBallotProofs::verify`]) or many ballots at once with
//! one multiscalar multiplication ([`verify_deferred_batch`]).
//!
//! Equivalence with [`RecordState::precheck`](crate::RecordState::precheck):
//! a ballot passes `precheck` exactly when it passes `precheck_deferred` and
//! its deferred proofs verify, and the error is the same [`RuleError`] (same
//! rule, same message): the structural checks that `precheck_deferred` runs
//! first report their error only after verifying what `check_ballot` would
//! have verified before reaching them (the credential, then the proofs of
//! the contests before the faulty one).

use std::sync::Arc;

use ed25519_dalek::VerifyingKey;
use rand_core::{CryptoRng, RngCore};
use tallyboard_crypto::batch::BatchVerifier;
use tallyboard_crypto::elgamal::PublicKey;
use tallyboard_crypto::transcript::ProofContext;
use tallyboard_proto::v1;

use crate::ballot::{ballot_positions, decode_contest, CheckedBallot, ContestSpec, SealedContest};
use crate::credential::verify_credential;
use crate::error::{invalid, RuleError};
use crate::manifest::ElectionManifest;
use crate::rules;

/// One contest of a deferred ballot: its manifest position, the decoded
/// ciphertexts and proofs, and the proof context.
#[derive(Debug, Clone)]
struct DeferredContest {
    position: usize,
    sealed: SealedContest,
    ctx: ProofContext,
}

/// The unverified expensive parts of a ballot that passed
/// `precheck_deferred`: the credential's issuer signature and every
/// contest's proofs.
#[derive(Debug, Clone)]
pub struct DeferredBallotProofs {
    manifest: Arc<ElectionManifest>,
    key: PublicKey,
    district: usize,
    credential: [u8; 32],
    signature: Vec<u8>,
    randomizer: Vec<u8>,
    contests: Vec<DeferredContest>,
}

impl DeferredBallotProofs {
    /// The credential key (the ballot's author).
    pub fn credential(&self) -> &[u8; 32] {
        &self.credential
    }

    /// District position in the manifest.
    pub fn district(&self) -> usize {
        self.district
    }

    /// Number of contests whose proofs are deferred.
    pub fn contests(&self) -> usize {
        self.contests.len()
    }

    /// Checks the issuer's signature on the credential (rule R6.1).
    pub fn verify_credential(&self) -> Result<(), RuleError> {
        let issuer = self
            .manifest
            .issuer_keys
            .get(self.district)
            .ok_or_else(|| invalid(rules::BALLOT_CREDENTIAL, "district without an issuer key"))?;
        verify_credential(
            issuer,
            &self.manifest.fingerprint,
            &self.credential,
            &self.signature,
            &self.randomizer,
        )
        .map_err(|e| invalid(rules::BALLOT_CREDENTIAL, e.to_string()))
    }

    fn verify_contest(&self, c: &DeferredContest) -> Result<(), RuleError> {
        let spec = &self.manifest.specs[c.position];
        c.sealed.verify(spec, &self.key, &c.ctx).map_err(|e| {
            invalid(
                rules::BALLOT_PROOFS,
                format!("contest {}: {e}", self.manifest.raw.contests[c.position].id),
            )
        })
    }

    /// Verifies every contest's proofs one by one, in order (rule R6.3).
    pub fn verify_contests(&self) -> Result<(), RuleError> {
        self.contests
            .iter()
            .try_for_each(|c| self.verify_contest(c))
    }

    /// Verifies everything that was deferred, in the order of
    /// `check_ballot`: the credential, then each contest. The error is the
    /// one `precheck` would have returned.
    pub fn verify(&self) -> Result<(), RuleError> {
        self.verify_credential()?;
        self.verify_contests()
    }

    /// Adds the equations of every choice contest to `batch`; points
    /// contests (bulletproofs) are verified on the spot. `Err(())` if a
    /// contest has the wrong shape or a points contest fails: the caller
    /// then verifies this ballot alone to get the precise error.
    fn push_batch<R: RngCore + CryptoRng>(&self, batch: &mut BatchVerifier<R>) -> Result<(), ()> {
        for c in &self.contests {
            match (&c.sealed, &self.manifest.specs[c.position]) {
                (SealedContest::Choice(e), ContestSpec::Choice(rule)) => {
                    e.batch_verify(&self.key, rule, &c.ctx, batch)
                        .map_err(|_| ())?;
                }
                _ => self.verify_contest(c).map_err(|_| ())?,
            }
        }
        Ok(())
    }
}

/// Verifies many deferred ballots (`spec/checks.md` §11): each credential on
/// its own (RSA verification is cheap with e = 65537), every choice contest
/// of every ballot in one batch with weights from `rng` (seed it from the OS
/// RNG; the weights must be unpredictable to whoever made the proofs). If
/// the batch fails, every ballot is verified alone so that each failure is
/// named. Result `i` is for `items[i]` and equals `items[i].verify()`.
pub fn verify_deferred_batch<R: RngCore + CryptoRng>(
    items: &[&DeferredBallotProofs],
    rng: R,
) -> Vec<Result<(), RuleError>> {
    let mut batch = BatchVerifier::new(rng);
    let mut results: Vec<Result<(), RuleError>> = Vec::with_capacity(items.len());
    let mut alone = Vec::new();
    for (i, d) in items.iter().enumerate() {
        match d.verify_credential() {
            Err(e) => results.push(Err(e)),
            Ok(()) => {
                if d.push_batch(&mut batch).is_err() {
                    alone.push(i);
                }
                results.push(Ok(()));
            }
        }
    }
    if batch.is_empty() || batch.vartime_verify() {
        for i in alone {
            results[i] = items[i].verify_contests();
        }
    } else {
        for (r, d) in results.iter_mut().zip(items) {
            if r.is_ok() {
                *r = d.verify_contests();
            }
        }
    }
    results
}

/// `check_ballot` with the credential and the proofs deferred (see the
/// module documentation for the equivalence).
pub(crate) fn precheck_ballot_deferred(
    m: &Arc<ElectionManifest>,
    pk: &PublicKey,
    author: &VerifyingKey,
    b: &v1::Ballot,
) -> Result<(CheckedBallot, DeferredBallotProofs), RuleError> {
    let district = *m.districts.get(&b.district).ok_or_else(|| {
        invalid(
            rules::BALLOT_CREDENTIAL,
            format!("unknown district {:?}", b.district),
        )
    })?;
    let cred = author.to_bytes();
    let mut deferred = DeferredBallotProofs {
        manifest: m.clone(),
        key: pk.clone(),
        district,
        credential: cred,
        signature: b.credential_signature.clone(),
        randomizer: b.credential_randomizer.clone(),
        contests: Vec::new(),
    };
    match structure(m, &cred, b, &mut deferred.contests) {
        Ok(contests) => Ok((
            CheckedBallot {
                district,
                round: b.round,
                contests,
            },
            deferred,
        )),
        Err(e) => {
            // What check_ballot verifies before reaching the structural fault.
            deferred.verify()?;
            Err(e)
        }
    }
}

/// The structural part of `check_ballot`: round, contests in manifest order,
/// canonical decoding. Contests decoded so far are left in `out`.
fn structure(
    m: &ElectionManifest,
    cred: &[u8; 32],
    b: &v1::Ballot,
    out: &mut Vec<DeferredContest>,
) -> Result<Vec<(usize, Vec<tallyboard_crypto::elgamal::Ciphertext>)>, RuleError> {
    let positions = ballot_positions(m, b)?;
    let mut contests = Vec::with_capacity(positions.len());
    for (pos, ec) in positions.iter().zip(&b.contests) {
        let (sealed, ctx) = decode_contest(m, cred, b.round, *pos, ec)?;
        contests.push((*pos, sealed.ciphertexts()));
        out.push(DeferredContest {
            position: *pos,
            sealed,
            ctx,
        });
    }
    Ok(contests)
}
