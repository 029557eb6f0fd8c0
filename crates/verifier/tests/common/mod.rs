//! Whole records for the verifier's tests, built entry by entry through the
//! record's rules (`spec/record.md` §5): a [`Builder`] has every entry it
//! posts checked and applied by a [`RecordState`], as a board would (an
//! entry the rules refuse panics, unless posted with [`Builder::try_post`],
//! and is then not kept), so the record it ends with ([`Builder::record`])
//! is one an honest board could have published. Keys are the testkit's
//! sample keys of a seed; ballot nonces and proofs draw fresh randomness.
#![allow(dead_code, clippy::unwrap_used)]

use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::SigningKey;
use rand_core::OsRng;
use tallyboard_crypto::elgamal::Ciphertext;
use tallyboard_protocol::ballot::{build_ballot, ContestSecret, CredentialRef};
use tallyboard_protocol::testkit::{
    election_key_payload, entry, expected_tally_payload, manifest_entry, result_payload,
    sample_credential, sample_issuer_key, sample_trustee_key,
};
use tallyboard_protocol::v1::{self, entry_body::Payload};
use tallyboard_protocol::{BoardIdentity, RecordState, RuleError};
use tallyboard_threshold::{
    DkgMessage, DkgOutcome, EncryptedShare, PartialDecryption, Reveal, SecretShare, ShareAddress,
    Trustee, TrusteeKeyPair,
};
use tallyboard_tlog::{leaf_hash, Checkpoint, Ed25519Signer};
use tallyboard_verifier::generate::record_bytes;
use tallyboard_verifier::report::{CheckResult, Status};
use tallyboard_verifier::tree::LeafTree;
use tallyboard_verifier::{Report, VerifyOptions};

use crate::conformance_out;

/// A record being built, with every key that posts to it.
pub struct Builder {
    /// The record's state after the entries so far.
    pub st: RecordState,
    /// The entries so far, in log order.
    pub entries: Vec<Vec<u8>>,
    /// Trustee `i`'s signing key, at `i − 1`.
    pub trustee_keys: Vec<SigningKey>,
    /// Trustee `i`'s secret share, at `i − 1` (after the key ceremony).
    pub shares: Vec<SecretShare>,
    eid: String,
    fp: [u8; 32],
    admin: SigningKey,
    board: SigningKey,
    origin: String,
    issuer: SigningKey,
    voters: u64,
}

/// A voter's credential: its key, the issuer's signature on it and the
/// message randomizer (`spec/issuer.md` §2), and its district.
pub struct Voter {
    pub key: SigningKey,
    pub sig: Vec<u8>,
    pub rnd: Vec<u8>,
    pub district: String,
}

impl Voter {
    pub fn cref(&self) -> CredentialRef<'_> {
        CredentialRef {
            key: &self.key,
            district: &self.district,
            signature: &self.sig,
            randomizer: &self.rnd,
        }
    }
}

/// A dealer of the key ceremony that encrypts a wrong share to one
/// recipient, the rest of its reveal honest (`spec/threshold.md` §5.4).
#[derive(Clone, Copy, Debug)]
pub struct BadShare {
    pub dealer: u8,
    pub recipient: u8,
}

impl Builder {
    /// A record for board `origin` whose first entry is the manifest
    /// `manifest(admin, board)`; the testkit's sample keys of `seed` sign
    /// (administrator `[1; 32]`, board `[9; 32]`, the sample issuer and
    /// trustees).
    pub fn new(
        origin: &str,
        seed: u8,
        manifest: impl FnOnce(&SigningKey, &BoardIdentity) -> v1::Manifest,
    ) -> Self {
        let board = SigningKey::from_bytes(&[9; 32]);
        let identity = BoardIdentity {
            origin: origin.into(),
            key: board.verifying_key(),
        };
        let admin = SigningKey::from_bytes(&[1; 32]);
        let m = manifest(&admin, &identity);
        let eid = m.election_id.clone();
        let n = m.trustees.as_ref().map_or(0, |t| t.trustees.len()) as u8;
        let (bytes, fp) = manifest_entry(&admin, m);
        let mut st = RecordState::new(identity);
        st.check_and_apply(&bytes).unwrap();
        Self {
            st,
            entries: vec![bytes],
            trustee_keys: (1..=n).map(|i| sample_trustee_key(seed, i)).collect(),
            shares: Vec::new(),
            eid,
            fp,
            admin,
            board,
            origin: origin.into(),
            issuer: sample_issuer_key(seed),
            voters: 0,
        }
    }

    /// Posts `p` signed by `key`; if the rules refuse it, the refusal (the
    /// record is unchanged). Returns the entry's log index.
    pub fn try_post(&mut self, key: &SigningKey, p: Payload) -> Result<u64, RuleError> {
        let e = entry(key, &self.eid, self.fp, p);
        self.st.check_and_apply(&e)?;
        self.entries.push(e);
        Ok(self.st.len() - 1)
    }

    /// Posts `p` signed by `key`; panics if the rules refuse it.
    pub fn post(&mut self, key: &SigningKey, p: Payload) -> u64 {
        self.try_post(key, p)
            .unwrap_or_else(|err| panic!("refused: {err}"))
    }

    /// Posts `p` signed by the administrator.
    pub fn admin(&mut self, p: Payload) -> u64 {
        let a = self.admin.clone();
        self.post(&a, p)
    }

    /// The administrator moves the election to `p`.
    pub fn phase(&mut self, p: v1::Phase) {
        self.admin(Payload::PhaseChange(v1::PhaseChange { phase: p as i32 }));
    }

    /// Posts key-ceremony message `m` signed by trustee `i`.
    pub fn dkg(&mut self, i: u8, m: DkgMessage) {
        let key = self.trustee_keys[usize::from(i) - 1].clone();
        let message = m.to_bytes();
        self.post(&key, Payload::Dkg(v1::DkgMessage { message }));
    }

    /// Opens the key ceremony and runs it (`spec/threshold.md` §5.8): every
    /// trustee announces, commits and reveals — `bad_share`'s dealer with a
    /// wrong share for its recipient — and posts the complaints its tooling
    /// makes; every trustee finishes, keeping its share, and the
    /// administrator posts the election key. Returns the ceremony's
    /// outcome.
    pub fn key_ceremony(&mut self, bad_share: Option<BadShare>) -> DkgOutcome {
        self.phase(v1::Phase::KeyCeremony);
        let params = *self.st.dkg().unwrap().params();
        let mut trustees: Vec<Trustee> = (1..=params.trustees())
            .map(|i| {
                Trustee::new(params, i, TrusteeKeyPair::generate(&mut OsRng), &mut OsRng).unwrap()
            })
            .collect();
        for t in &trustees {
            let a = t.announce(&mut OsRng).unwrap();
            self.dkg(t.index(), DkgMessage::KeyAnnouncement(a));
        }
        for t in &mut trustees {
            let c = t.commit().unwrap();
            self.dkg(t.index(), DkgMessage::Commitment(c));
        }
        for t in &mut trustees {
            let mut r = t.reveal(self.st.dkg().unwrap(), &mut OsRng).unwrap();
            if let Some(bad) = bad_share.filter(|b| b.dealer == t.index()) {
                r = self.with_bad_share(&r, bad.recipient);
            }
            self.dkg(t.index(), DkgMessage::Reveal(r));
        }
        for t in &mut trustees {
            for c in t.complain(self.st.dkg().unwrap(), &mut OsRng).unwrap() {
                self.dkg(t.index(), DkgMessage::Complaint(c));
            }
        }
        let mut outcome = None;
        for t in &mut trustees {
            let (share, out) = t.finish(self.st.dkg().unwrap()).unwrap();
            self.shares.push(share);
            outcome = Some(out);
        }
        let outcome = outcome.unwrap();
        self.admin(Payload::ElectionKey(election_key_payload(
            &outcome.public_key,
            &outcome.qualification.qualified,
        )));
        outcome
    }

    /// `r` with the share for `recipient` replaced by the encryption of a
    /// wrong value: the share decrypts, and fails the dealer's commitments.
    fn with_bad_share(&self, r: &Reveal, recipient: u8) -> Reveal {
        let dkg = self.st.dkg().unwrap();
        let to = dkg
            .announcements()
            .iter()
            .find(|a| a.trustee() == recipient)
            .unwrap();
        let bad = EncryptedShare::encrypt(
            &Scalar::from(12345u64),
            &ShareAddress {
                election: dkg.params().election(),
                dealer: r.dealer(),
                recipient,
                recipient_key: to.key(),
            },
            &mut OsRng,
        );
        let mut shares = r.shares().to_vec();
        shares[usize::from(recipient) - 1] = bad;
        Reveal::from_parts(
            r.dealer(),
            r.coefficient_commitments().to_vec(),
            r.proofs().to_vec(),
            shares,
        )
        .unwrap()
    }

    /// The issuer records a new voter of `district` (an issuance entry) and
    /// the voter obtains its credential.
    pub fn voter(&mut self, district: &str) -> Voter {
        let v = self.voters;
        self.voters += 1;
        let issuer = self.issuer.clone();
        self.post(
            &issuer,
            Payload::Issuance(v1::Issuance {
                voter_id_hash: vec![u8::try_from(v).unwrap(); 32],
                district: district.into(),
                issued_unix_ms: 0,
            }),
        );
        let (key, sig, rnd) = sample_credential(&self.fp, v);
        Voter {
            key,
            sig,
            rnd,
            district: district.into(),
        }
    }

    /// A first-round ballot of `voter` with `selections` per contest, and
    /// its secrets.
    pub fn ballot(
        &self,
        voter: &Voter,
        selections: &[Vec<u64>],
    ) -> (v1::Ballot, Vec<ContestSecret>) {
        let m = self.st.manifest().unwrap();
        let pk = self.st.election_key().unwrap();
        build_ballot(m, pk, &voter.cref(), selections, 0, &mut OsRng).unwrap()
    }

    /// `voter` casts a first-round ballot; returns its log index and secrets.
    pub fn cast(&mut self, voter: &Voter, selections: &[Vec<u64>]) -> (u64, Vec<ContestSecret>) {
        let (ballot, secrets) = self.ballot(voter, selections);
        (self.post(&voter.key, Payload::Ballot(ballot)), secrets)
    }

    /// `voter` challenges a ballot with `selections` (posted with its
    /// secrets, `spec/record.md` §8); returns that ballot and its secrets.
    pub fn challenge(
        &mut self,
        voter: &Voter,
        selections: &[Vec<u64>],
    ) -> (v1::Ballot, Vec<ContestSecret>) {
        let (ballot, secrets) = self.ballot(voter, selections);
        self.post(
            &voter.key,
            Payload::ChallengedBallot(v1::ChallengedBallot {
                ballot: Some(ballot.clone()),
                reveals: secrets.iter().map(ContestSecret::reveal).collect(),
            }),
        );
        (ballot, secrets)
    }

    /// The administrator posts the encrypted tally of `round`; returns its
    /// log index.
    pub fn tally(&mut self, round: u32) -> u64 {
        let t = expected_tally_payload(&self.st, round);
        self.admin(Payload::EncryptedTally(t))
    }

    /// The ciphertexts of the tally at `tally`, flattened in order.
    pub fn tally_ciphertexts(&self, tally: u64) -> Vec<Ciphertext> {
        let t = self.st.tallies().iter().find(|t| t.index == tally).unwrap();
        t.flat_ciphertexts()
    }

    /// Trustee `i`'s partial decryption of `cts` (honest when `cts` are
    /// the ciphertexts of the tally it is posted for).
    pub fn partial(&self, i: u8, cts: &[Ciphertext]) -> PartialDecryption {
        PartialDecryption::create(&self.shares[usize::from(i) - 1], cts, &mut OsRng).unwrap()
    }

    /// Posts `p` for the tally at `tally`, signed by its trustee.
    pub fn post_partial(&mut self, tally: u64, p: &PartialDecryption) -> Result<u64, RuleError> {
        let key = self.trustee_keys[usize::from(p.trustee()) - 1].clone();
        self.try_post(
            &key,
            Payload::PartialDecryption(v1::PartialDecryption {
                trustee: u32::from(p.trustee()),
                tally_entry: tally,
                partial: p.to_bytes(),
            }),
        )
    }

    /// Trustees `by` post partial decryptions of the tally at `tally`; the
    /// administrator combines those of `used` (in the order of `by`) and
    /// posts the result. Returns
    /// the result's log index and the counts, per aggregate in tally order.
    pub fn decrypt(&mut self, by: &[u8], used: &[u8], tally: u64) -> (u64, Vec<Vec<u64>>) {
        let cts = self.tally_ciphertexts(tally);
        let mut partials = Vec::new();
        for &i in by {
            let p = self.partial(i, &cts);
            self.post_partial(tally, &p)
                .unwrap_or_else(|err| panic!("refused: {err}"));
            if used.contains(&i) {
                partials.push(p);
            }
        }
        let (result, counts) = result_payload(&self.st, tally, &partials);
        (self.admin(Payload::Result(result)), counts)
    }

    /// The record file (`spec/export.md`): the entries and a checkpoint of
    /// all of them signed by the board.
    pub fn record(&self) -> Vec<u8> {
        let mut tree = LeafTree::with_capacity(self.entries.len() as u64);
        for e in &self.entries {
            tree.push(leaf_hash(e));
        }
        let signer = Ed25519Signer::new(&self.origin, self.board.clone()).unwrap();
        let cp = Checkpoint::new(&self.origin, tree.size(), tree.root(tree.size()).unwrap())
            .unwrap()
            .sign(&signer)
            .unwrap();
        record_bytes(&self.entries, cp.as_bytes()).unwrap()
    }
}

/// Verifies `record` with no earlier checkpoint (remembered for the
/// conformance suite).
pub fn verify(record: &[u8]) -> Report {
    conformance_out::verify_bytes(
        record,
        &VerifyOptions {
            threads: 2,
            ..VerifyOptions::default()
        },
    )
}

/// Check `id` of the report.
pub fn check<'r>(r: &'r Report, id: &str) -> &'r CheckResult {
    r.check(id).unwrap_or_else(|| panic!("no check {id}"))
}

/// Verifies `record`, asserts that every check passes, and writes it as a
/// valid conformance case (when asked to, `conformance_out`).
pub fn verify_valid(record: &[u8]) -> Report {
    let r = verify(record);
    assert!(r.ok, "{}", r.to_human());
    for c in &r.checks {
        assert_ne!(c.status, Status::Fail, "{} failed:\n{}", c.id, r.to_human());
    }
    conformance_out::emit_valid(&r);
    r
}

/// Each check of `want` passed with that count.
pub fn assert_counts(r: &Report, want: &[(&str, u64)]) {
    for &(id, n) in want {
        let c = check(r, id);
        assert_eq!((c.status, c.count), (Status::Pass, n), "{id}");
    }
}

/// The results of round `round` as (district, option, count).
pub fn results(r: &Report, round: u32) -> Vec<(String, String, u64)> {
    r.results
        .iter()
        .filter(|x| x.round == round)
        .map(|x| (x.district.clone(), x.option.clone(), x.count))
        .collect()
}
