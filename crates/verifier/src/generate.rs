//! A generator of complete, valid election records, in process and without
//! a network (`tallyboard gen-record`): manifest, threshold key ceremony,
//! issuance, credentials from a test issuer RSA key, one-of-n ballots (with
//! optional challenges and revotes), close, encrypted tally, partial
//! decryptions, result, and a checkpoint signed by a generated board key.
//! For tests, tamper experiments and benchmarks of the verifier.
//!
//! Ballots are made on all cores; the tally is computed from the sums of
//! the selections and of the encryption nonces, so nothing is decrypted.

use std::io::Write;
use std::path::Path;
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex};

use blind_rsa_signatures::{DefaultRng, KeyPair};
use ed25519_dalek::SigningKey;
use rand_chacha::ChaCha20Rng;
use rand_core::{OsRng, RngCore, SeedableRng};
use sha2::{Digest, Sha256};
use tallyboard_crypto::elgamal::{Ciphertext, Nonce, PublicKey};
use tallyboard_crypto::Scalar;
use tallyboard_protocol::ballot::{build_ballot, CredentialRef};
use tallyboard_protocol::credential::{credential_message, credential_options};
use tallyboard_protocol::manifest::ElectionManifest;
use tallyboard_protocol::testkit::{entry, manifest_entry, sample_issuer_rsa};
use tallyboard_protocol::v1::{self, entry_body::Payload};
use tallyboard_protocol::validate_manifest;
use tallyboard_threshold::{
    DkgMessage, DkgParams, DkgRecord, PartialDecryption, SecretShare, ThresholdPublicKey, Trustee,
    TrusteeKeyPair,
};
use tallyboard_tlog::{leaf_hash, Checkpoint, Ed25519Signer, Ed25519Verifier};

use crate::record::RecordWriter;
use crate::tree::LeafTree;

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenOptions {
    /// Voters, each with one credential and one counted ballot.
    pub ballots: u64,
    /// Options of the one-of-n contest.
    pub options: u32,
    /// Districts (voter `v` is in district `v mod districts`).
    pub districts: u32,
    /// Trustees.
    pub trustees: u8,
    /// Threshold.
    pub threshold: u8,
    /// The first `revotes` voters cast a second ballot at the end (LAST_COUNTS).
    pub revotes: u64,
    /// The first `challenged` voters challenge a ballot before casting.
    pub challenged: u64,
    /// Revote policy FIRST_COUNTS instead of LAST_COUNTS.
    pub first_counts: bool,
    /// Worker threads (0: one per core).
    pub threads: usize,
    /// Key seed (every signing key is derived from it).
    pub seed: u64,
    /// Draw a progress bar on standard error.
    pub progress: bool,
}

impl Default for GenOptions {
    fn default() -> Self {
        Self {
            ballots: 30,
            options: 5,
            districts: 1,
            trustees: 3,
            threshold: 2,
            revotes: 0,
            challenged: 0,
            first_counts: false,
            threads: 0,
            seed: 1,
            progress: false,
        }
    }
}

/// Generation failed.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// Invalid options.
    #[error("invalid options: {0}")]
    Options(String),
    /// A step of the election failed (a bug: the generator follows the rules).
    #[error("generating the election: {0}")]
    Election(String),
    /// Writing failed.
    #[error("writing the record: {0}")]
    Io(#[from] std::io::Error),
}

fn err(e: impl std::fmt::Display) -> GenError {
    GenError::Election(e.to_string())
}

/// Everyone's keys and the public parameters of a generated election.
pub struct Election {
    /// Administrator key.
    pub admin: SigningKey,
    /// Board checkpoint key.
    pub board: SigningKey,
    /// Board origin (the checkpoint key's name).
    pub origin: String,
    /// Issuer's signing key for issuance entries.
    pub issuer: SigningKey,
    /// Issuer's RSA key (every district uses it).
    pub issuer_rsa: KeyPair,
    /// Trustees' signing keys, trustee `i` at position `i − 1`.
    pub trustees: Vec<SigningKey>,
    /// Trustees' secret shares.
    pub shares: Vec<SecretShare>,
    /// The election key.
    pub key: ThresholdPublicKey,
    /// The validated manifest.
    pub manifest: Arc<ElectionManifest>,
    /// Seed of the credential keys.
    pub seed: u64,
    /// `issuer_rsa`'s secret key, for signing credentials directly.
    rsa_signer: ring::signature::RsaKeyPair,
}

impl std::fmt::Debug for Election {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Election({}, [REDACTED])", self.manifest.raw.election_id)
    }
}

impl Election {
    /// The election id.
    pub fn election_id(&self) -> &str {
        &self.manifest.raw.election_id
    }
    /// The election fingerprint.
    pub fn fingerprint(&self) -> [u8; 32] {
        self.manifest.fingerprint
    }
    /// The joint election key.
    pub fn public_key(&self) -> &PublicKey {
        self.key.joint_key()
    }
    /// Signs an entry of this election with `key`.
    pub fn entry(&self, key: &SigningKey, payload: Payload) -> Vec<u8> {
        entry(key, self.election_id(), self.fingerprint(), payload)
    }
    /// The board's note verifier.
    pub fn board_verifier(&self) -> Ed25519Verifier {
        Ed25519Verifier::new(&self.origin, self.board.verifying_key())
            .unwrap_or_else(|_| unreachable_verifier())
    }
    /// The board's `vkey` string (`spec/tlog.md` §6).
    pub fn board_vkey(&self) -> String {
        self.board_verifier().to_vkey()
    }
    /// A checkpoint of the tree of `entries`, signed by the board key.
    pub fn checkpoint(&self, entries: &[Vec<u8>]) -> Vec<u8> {
        let mut t = LeafTree::with_capacity(entries.len() as u64);
        for e in entries {
            t.push(leaf_hash(e));
        }
        self.sign_root(&t)
    }
    fn sign_root(&self, t: &LeafTree) -> Vec<u8> {
        let root = t.root(t.size()).unwrap_or(tallyboard_tlog::EMPTY_ROOT);
        Checkpoint::new(&self.origin, t.size(), root)
            .and_then(|c| {
                let signer = Ed25519Signer::new(&self.origin, self.board.clone())
                    .map_err(|_| tallyboard_tlog::CheckpointError::InvalidOrigin)?;
                c.sign(&signer)
            })
            .map(|s| s.as_bytes().to_vec())
            .unwrap_or_default()
    }
    /// The credential of voter `v`: its key, the issuer's signature and the
    /// message randomizer (`spec/issuer.md` §2).
    ///
    /// The generator is the issuer and the voter at once, so it signs
    /// `randomizer ‖ m` directly (RSASSA-PSS, SHA-384, 48-byte random salt,
    /// with a random 32-byte randomizer): the signature RFC 9474's
    /// Finalize outputs is exactly such a signature, with the same
    /// distribution; blinding only hides the message from the signer, and
    /// costs several times as much. [`Self::blind_credential`] goes through
    /// the blind-signature flow.
    pub fn credential(&self, v: u64) -> Result<(SigningKey, Vec<u8>, Vec<u8>), GenError> {
        let key = self.credential_key(v);
        let msg = credential_message(&self.fingerprint(), &key.verifying_key().to_bytes());
        let rng = ring::rand::SystemRandom::new();
        let mut input = vec![0u8; 32];
        ring::rand::SecureRandom::fill(&rng, &mut input).map_err(|_| err("no randomness"))?;
        input.extend_from_slice(&msg);
        let mut sig = vec![0u8; self.rsa_signer.public().modulus_len()];
        self.rsa_signer
            .sign(&ring::signature::RSA_PSS_SHA384, &rng, &input, &mut sig)
            .map_err(|_| err("RSA signing failed"))?;
        input.truncate(32);
        Ok((key, sig, input))
    }
    fn credential_key(&self, v: u64) -> SigningKey {
        let mut h = Sha256::new();
        h.update(b"tallyboard/gen/credential");
        h.update(self.seed.to_be_bytes());
        h.update(v.to_be_bytes());
        SigningKey::from_bytes(&h.finalize().into())
    }
    /// [`Self::credential`] through the RFC 9474 blind-signature flow: the
    /// client blinds, the issuer blind-signs, the client finalizes.
    pub fn blind_credential(&self, v: u64) -> Result<(SigningKey, Vec<u8>, Vec<u8>), GenError> {
        let key = self.credential_key(v);
        let opts = credential_options();
        let msg = credential_message(&self.fingerprint(), &key.verifying_key().to_bytes());
        let kp = &self.issuer_rsa;
        let blinded = kp
            .pk
            .blind(&mut DefaultRng, &msg, true, &opts)
            .map_err(err)?;
        let blind_sig = kp
            .sk
            .blind_sign(&mut DefaultRng, &blinded.blind_msg, &opts)
            .map_err(err)?;
        let sig = kp
            .pk
            .finalize(
                &blind_sig,
                &blinded.secret,
                blinded.msg_randomizer,
                &msg,
                &opts,
            )
            .map_err(err)?;
        let rnd = blinded
            .msg_randomizer
            .map(|r| r.0.to_vec())
            .unwrap_or_default();
        Ok((key, sig.0, rnd))
    }
    /// District id of voter `v`.
    pub fn district_of(&self, v: u64) -> &str {
        let d = &self.manifest.raw.districts;
        &d[(v % d.len() as u64) as usize].id
    }
    /// Builds voter `v`'s ballot for `option` (one-of-n) in round 0.
    pub fn ballot(
        &self,
        cred: &(SigningKey, Vec<u8>, Vec<u8>),
        district: &str,
        option: u32,
        rng: &mut ChaCha20Rng,
    ) -> Result<(v1::Ballot, Vec<tallyboard_protocol::ballot::ContestSecret>), GenError> {
        let n = self.manifest.specs[0].options();
        let mut sel = vec![0u64; n];
        sel[option as usize % n] = 1;
        let cref = CredentialRef {
            key: &cred.0,
            district,
            signature: &cred.1,
            randomizer: &cred.2,
        };
        build_ballot(&self.manifest, self.public_key(), &cref, &[sel], 0, rng).map_err(err)
    }
}

fn unreachable_verifier() -> Ed25519Verifier {
    // Only reached if the origin were not a valid key name, which the
    // generator never makes.
    Ed25519Verifier::new(
        "tallyboard/invalid",
        SigningKey::from_bytes(&[0; 32]).verifying_key(),
    )
    .unwrap_or_else(|_| panic!("static key name"))
}

fn derive_key(seed: u64, label: &str) -> SigningKey {
    let mut h = Sha256::new();
    h.update(b"tallyboard/gen/key");
    h.update(seed.to_be_bytes());
    h.update(label.as_bytes());
    SigningKey::from_bytes(&h.finalize().into())
}

/// The option voter `v` votes for (first ballot).
pub fn choice(v: u64, options: u32) -> u32 {
    ((v.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 33) % u64::from(options)) as u32
}

/// Entries a generated record has.
pub fn entry_count(o: &GenOptions) -> u64 {
    let n = u64::from(o.trustees);
    // manifest, KeyCeremony, 3n DKG, key, VotingOpen, issuance + ballots,
    // challenges, revotes, VotingClosed, tally, n partials, result, Finished
    1 + 1 + 3 * n + 1 + 1 + 2 * o.ballots + o.challenged + o.revotes + 1 + 1 + n + 1 + 1
}

/// Sets up the election (manifest and key ceremony entries) and returns
/// them with the keys.
fn setup(o: &GenOptions, rng: &mut ChaCha20Rng) -> Result<(Election, Vec<Vec<u8>>), GenError> {
    if o.ballots == 0 || o.options < 2 || o.options > 64 || o.districts == 0 || o.districts > 2000 {
        return Err(GenError::Options(
            "need ≥ 1 ballot, 2..=64 options, 1..=2000 districts".into(),
        ));
    }
    if o.threshold == 0
        || o.threshold > o.trustees
        || o.revotes > o.ballots
        || o.challenged > o.ballots
    {
        return Err(GenError::Options(
            "need 1 ≤ threshold ≤ trustees, revotes and challenges ≤ ballots".into(),
        ));
    }
    let admin = derive_key(o.seed, "admin");
    let board = derive_key(o.seed, "board");
    let issuer = derive_key(o.seed, "issuer");
    let trustees: Vec<SigningKey> = (1..=o.trustees)
        .map(|i| derive_key(o.seed, &format!("trustee-{i}")))
        .collect();
    let issuer_rsa = sample_issuer_rsa().clone();
    let rsa_der = issuer_rsa.pk.to_der().map_err(err)?;
    let mut pkcs8 = issuer_rsa.sk.to_der().map_err(err)?;
    let rsa_signer = ring::signature::RsaKeyPair::from_pkcs8(&pkcs8);
    pkcs8.fill(0);
    let rsa_signer = rsa_signer.map_err(|e| err(format!("issuer RSA key: {e}")))?;
    let election_id = format!("gen-{}-{}", o.ballots, o.seed);
    let origin = format!("tallyboard/{election_id}");
    let manifest = v1::Manifest {
        election_id: election_id.clone(),
        title: format!("Generated election, {} ballots", o.ballots),
        admin_key: admin.verifying_key().to_bytes().to_vec(),
        trustees: Some(v1::TrusteeSet {
            threshold: u32::from(o.threshold),
            trustees: trustees
                .iter()
                .enumerate()
                .map(|(i, k)| v1::Trustee {
                    index: i as u32 + 1,
                    name: format!("trustee-{}", i + 1),
                    signing_key: k.verifying_key().to_bytes().to_vec(),
                })
                .collect(),
        }),
        districts: (1..=o.districts)
            .map(|d| v1::District {
                id: format!("d{d}"),
                name: format!("District {d}"),
                issuer_rsa_key: rsa_der.clone(),
                delegates: 0,
                sde_weight: String::new(),
            })
            .collect(),
        contests: vec![v1::Contest {
            id: "c1".into(),
            title: "Contest 1".into(),
            options: (1..=o.options)
                .map(|i| v1::ContestOption {
                    id: format!("o{i}"),
                    title: format!("Option {i}"),
                })
                .collect(),
            rule: Some(v1::ContestRule {
                kind: Some(v1::contest_rule::Kind::OneOfN(v1::OneOfN {})),
            }),
            districts: Vec::new(),
        }],
        revote_policy: if o.first_counts {
            v1::RevotePolicy::FirstCounts as i32
        } else {
            v1::RevotePolicy::LastCounts as i32
        },
        voting_opens_unix_ms: 0,
        voting_closes_unix_ms: 0,
        issuer_signing_key: issuer.verifying_key().to_bytes().to_vec(),
        board_origin: origin.clone(),
        board_key: board.verifying_key().to_bytes().to_vec(),
        caucus: None,
        witnesses: Vec::new(),
    };
    let (mbytes, fp) = manifest_entry(&admin, manifest.clone());
    let body = {
        use prost::Message;
        v1::Entry::decode(mbytes.as_slice()).map_err(err)?.body
    };
    let validated = Arc::new(validate_manifest(&manifest, &body).map_err(err)?);
    if validated.fingerprint != fp {
        return Err(err("fingerprint mismatch"));
    }
    let mut entries = vec![mbytes];
    let phase = |p: v1::Phase| {
        entry(
            &admin,
            &election_id,
            fp,
            Payload::PhaseChange(v1::PhaseChange { phase: p as i32 }),
        )
    };
    entries.push(phase(v1::Phase::KeyCeremony));
    // Key ceremony.
    let params = DkgParams::new(fp, o.threshold, o.trustees).map_err(err)?;
    let mut record = DkgRecord::new(params);
    let mut ts: Vec<Trustee> = (1..=o.trustees)
        .map(|i| Trustee::new(params, i, TrusteeKeyPair::generate(rng), rng))
        .collect::<Result<_, _>>()
        .map_err(err)?;
    let dkg_entry = |k: &SigningKey, m: &DkgMessage| {
        entry(
            k,
            &election_id,
            fp,
            Payload::Dkg(v1::DkgMessage {
                message: m.to_bytes(),
            }),
        )
    };
    for (t, k) in ts.iter_mut().zip(&trustees) {
        let m = DkgMessage::KeyAnnouncement(t.announce(rng).map_err(err)?);
        entries.push(dkg_entry(k, &m));
        record.push(m).map_err(err)?;
    }
    for (t, k) in ts.iter_mut().zip(&trustees) {
        let m = DkgMessage::Commitment(t.commit().map_err(err)?);
        entries.push(dkg_entry(k, &m));
        record.push(m).map_err(err)?;
    }
    for (i, k) in trustees.iter().enumerate() {
        let m = DkgMessage::Reveal(ts[i].reveal(&record, rng).map_err(err)?);
        entries.push(dkg_entry(k, &m));
        record.push(m).map_err(err)?;
    }
    for t in ts.iter_mut() {
        let c = t.complain(&record, rng).map_err(err)?;
        if !c.is_empty() {
            return Err(err("an honest trustee complained"));
        }
    }
    let mut shares = Vec::new();
    let mut outcome = None;
    for t in &mut ts {
        let (share, out) = t.finish(&record).map_err(err)?;
        shares.push(share);
        outcome = Some(out);
    }
    let outcome = outcome.ok_or_else(|| err("no trustee"))?;
    let key = outcome.public_key;
    entries.push(entry(
        &admin,
        &election_id,
        fp,
        Payload::ElectionKey(v1::ElectionKey {
            joint_key: key.joint_key().to_bytes().to_vec(),
            verification_keys: key
                .verification_keys()
                .iter()
                .map(|v| v.compress().to_bytes().to_vec())
                .collect(),
            qualified: outcome
                .qualification
                .qualified
                .iter()
                .map(|&q| u32::from(q))
                .collect(),
        }),
    ));
    entries.push(phase(v1::Phase::VotingOpen));
    Ok((
        Election {
            admin,
            board,
            origin,
            issuer,
            issuer_rsa,
            trustees,
            shares,
            key,
            manifest: validated,
            seed: o.seed,
            rsa_signer,
        },
        entries,
    ))
}

/// What a chunk of voters contributes.
struct ChunkGen {
    seq: u64,
    voters: u64,
    entries: Vec<Vec<u8>>,
    nonces: Vec<Scalar>,
    counts: Vec<u64>,
}

/// Voters `range` of the first pass (`revote = false`: issuance, optional
/// challenge, ballot) or of the revote pass.
fn gen_chunk(
    el: &Election,
    o: &GenOptions,
    seq: u64,
    range: std::ops::Range<u64>,
    revote: bool,
) -> Result<ChunkGen, GenError> {
    let n = o.options as usize;
    let mut rng = ChaCha20Rng::from_rng(OsRng).map_err(err)?;
    let mut out = ChunkGen {
        seq,
        voters: range.end - range.start,
        entries: Vec::new(),
        nonces: vec![Scalar::ZERO; n],
        counts: vec![0; n],
    };
    let mut ballots = Vec::new();
    for v in range.clone() {
        let district = el.district_of(v).to_string();
        if !revote {
            let mut voter = [0u8; 32];
            voter[..8].copy_from_slice(&v.to_be_bytes());
            voter[8..16].copy_from_slice(&el.seed.to_be_bytes());
            out.entries.push(el.entry(
                &el.issuer,
                Payload::Issuance(v1::Issuance {
                    voter_id_hash: Sha256::digest(voter).to_vec(),
                    district: district.clone(),
                    issued_unix_ms: 0,
                }),
            ));
        }
        let cred = el.credential(v)?;
        if !revote && v < o.challenged {
            let (b, secrets) = el.ballot(&cred, &district, choice(v, o.options), &mut rng)?;
            ballots.push(el.entry(
                &cred.0,
                Payload::ChallengedBallot(v1::ChallengedBallot {
                    ballot: Some(b),
                    reveals: secrets.iter().map(|s| s.reveal()).collect(),
                }),
            ));
        }
        let option = if revote {
            (choice(v, o.options) + 1) % o.options
        } else {
            choice(v, o.options)
        };
        let (b, secrets) = el.ballot(&cred, &district, option, &mut rng)?;
        // The counted ballot: for the first `revotes` voters, the revote
        // (LAST_COUNTS) or the first ballot (FIRST_COUNTS).
        let counts = if o.first_counts {
            !revote
        } else {
            revote || v >= o.revotes
        };
        if counts {
            out.counts[option as usize] += 1;
            for (acc, nonce) in out.nonces.iter_mut().zip(&secrets[0].nonces) {
                *acc += nonce.expose_scalar();
            }
        }
        ballots.push(el.entry(&cred.0, Payload::Ballot(b)));
    }
    out.entries.extend(ballots);
    Ok(out)
}

/// Summary of a generated record.
#[derive(Debug, Clone)]
pub struct GenSummary {
    /// Entries written.
    pub entries: u64,
    /// The board's `vkey`.
    pub board_vkey: String,
    /// Expected counts per option.
    pub counts: Vec<u64>,
    /// Seconds taken.
    pub seconds: f64,
}

/// Generates the election, handing every entry in log order to `sink`.
fn produce(
    o: &GenOptions,
    sink: &mut dyn FnMut(Vec<u8>) -> Result<(), GenError>,
) -> Result<(Election, Vec<u64>), GenError> {
    let mut rng = ChaCha20Rng::from_rng(OsRng).map_err(err)?;
    let (el, head) = setup(o, &mut rng)?;
    let mut index = 0u64;
    for e in head {
        sink(e)?;
        index += 1;
    }
    let threads = if o.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        o.threads
    };
    let bar = if o.progress {
        indicatif::ProgressBar::new(o.ballots + o.revotes)
    } else {
        indicatif::ProgressBar::hidden()
    };
    let n = o.options as usize;
    let mut nonces = vec![Scalar::ZERO; n];
    let mut counts = vec![0u64; n];
    const VOTERS: u64 = 64;
    let mut jobs: Vec<(std::ops::Range<u64>, bool)> = Vec::new();
    let mut v = 0;
    while v < o.ballots {
        jobs.push((v..(v + VOTERS).min(o.ballots), false));
        v += VOTERS;
    }
    let mut v = 0;
    while v < o.revotes {
        jobs.push((v..(v + VOTERS).min(o.revotes), true));
        v += VOTERS;
    }
    let total_jobs = jobs.len() as u64;
    let jobs = Mutex::new(jobs.into_iter().enumerate());
    let result: Result<(), GenError> = std::thread::scope(|scope| {
        let (tx, rx) = sync_channel::<Result<ChunkGen, GenError>>(threads * 2);
        for _ in 0..threads {
            let tx = tx.clone();
            let (jobs, el) = (&jobs, &el);
            scope.spawn(move || loop {
                let job = jobs.lock().ok().and_then(|mut j| j.next());
                let Some((seq, (range, revote))) = job else {
                    break;
                };
                let r = gen_chunk(el, o, seq as u64, range, revote);
                let failed = r.is_err();
                if tx.send(r).is_err() || failed {
                    break;
                }
            });
        }
        drop(tx);
        let mut waiting = std::collections::BTreeMap::new();
        let mut next = 0u64;
        while next < total_jobs {
            let Ok(r) = rx.recv() else {
                return Err(err("a generator thread stopped"));
            };
            let c = r?;
            waiting.insert(c.seq, c);
            while let Some(c) = waiting.remove(&next) {
                for (a, b) in nonces.iter_mut().zip(&c.nonces) {
                    *a += b;
                }
                for (a, b) in counts.iter_mut().zip(&c.counts) {
                    *a += b;
                }
                let k = c.entries.len() as u64;
                let voters = c.voters;
                for e in c.entries {
                    sink(e)?;
                }
                index += k;
                bar.inc(voters);
                next += 1;
            }
        }
        Ok(())
    });
    result?;
    bar.finish_and_clear();
    let fp = el.fingerprint();
    let eid = el.election_id().to_string();
    sink(entry(
        &el.admin,
        &eid,
        fp,
        Payload::PhaseChange(v1::PhaseChange {
            phase: v1::Phase::VotingClosed as i32,
        }),
    ))?;
    index += 1;
    // The aggregate: Σ nonces and Σ selections of the counted ballots.
    let cts: Vec<Ciphertext> = counts
        .iter()
        .zip(&nonces)
        .map(|(m, r)| el.public_key().encrypt_with(*m, &Nonce::from_scalar(*r)))
        .collect();
    let tally_index = index;
    sink(el.entry(
        &el.admin,
        Payload::EncryptedTally(v1::EncryptedTally {
            round: 0,
            contests: vec![v1::ContestTally {
                contest: "c1".into(),
                district: String::new(),
                ciphertexts: cts.iter().map(|c| c.to_bytes().to_vec()).collect(),
            }],
            ballots_counted: o.ballots,
            log_size: tally_index,
        }),
    ))?;
    for (i, (share, k)) in el.shares.iter().zip(&el.trustees).enumerate() {
        let p = PartialDecryption::create(share, &cts, &mut rng).map_err(err)?;
        sink(el.entry(
            k,
            Payload::PartialDecryption(v1::PartialDecryption {
                trustee: i as u32 + 1,
                tally_entry: tally_index,
                partial: p.to_bytes(),
            }),
        ))?;
    }
    sink(el.entry(
        &el.admin,
        Payload::Result(v1::ElectionResult {
            tally_entry: tally_index,
            trustees_used: (1..=u32::from(o.threshold)).collect(),
            contests: vec![v1::ContestResult {
                contest: "c1".into(),
                district: String::new(),
                counts: counts.clone(),
            }],
        }),
    ))?;
    sink(entry(
        &el.admin,
        &eid,
        fp,
        Payload::PhaseChange(v1::PhaseChange {
            phase: v1::Phase::Finished as i32,
        }),
    ))?;
    Ok((el, counts))
}

/// A generated election held in memory.
pub struct Generated {
    /// Keys and parameters.
    pub election: Election,
    /// The entries, in log order.
    pub entries: Vec<Vec<u8>>,
    /// Expected counts per option.
    pub counts: Vec<u64>,
}

/// Generates an election in memory (for tests and tamper experiments).
pub fn generate(o: &GenOptions) -> Result<Generated, GenError> {
    let mut entries = Vec::new();
    let (election, counts) = produce(o, &mut |e| {
        entries.push(e);
        Ok(())
    })?;
    Ok(Generated {
        election,
        entries,
        counts,
    })
}

/// The record file bytes (`spec/export.md`) of `entries` with `checkpoint`.
pub fn record_bytes(entries: &[Vec<u8>], checkpoint: &[u8]) -> Result<Vec<u8>, GenError> {
    let mut w = RecordWriter::new(Vec::new(), entries.len() as u64)?;
    for e in entries {
        w.entry(e)?;
    }
    Ok(w.finish(checkpoint)?)
}

/// Generates a record file at `path`, streaming, and writes the board's
/// `vkey` to `path` + `.board-key`.
pub fn generate_to_file(o: &GenOptions, path: &Path) -> Result<GenSummary, GenError> {
    let started = std::time::Instant::now();
    let file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let expected = entry_count(o);
    let mut writer = RecordWriter::new(file, expected)?;
    let mut tree = LeafTree::with_capacity(expected);
    let (el, counts) = produce(o, &mut |e| {
        tree.push(leaf_hash(&e));
        writer.entry(&e)?;
        Ok(())
    })?;
    if tree.size() != expected {
        return Err(err(format!(
            "wrote {} entries, expected {expected}",
            tree.size()
        )));
    }
    let note = el.sign_root(&tree);
    let mut file = writer.finish(&note)?;
    file.flush()?;
    let vkey = el.board_vkey();
    let mut key_path = path.as_os_str().to_owned();
    key_path.push(".board-key");
    std::fs::write(&key_path, format!("{vkey}\n"))?;
    Ok(GenSummary {
        entries: expected,
        board_vkey: vkey,
        counts,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Fresh random bytes (for tests that need a distinct seed).
pub fn random_seed() -> u64 {
    OsRng.next_u64()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tallyboard_protocol::credential::verify_credential;

    /// Direct and blind credentials both verify under the district key, as
    /// the board and the verifier check them (`spec/issuer.md` §2.4), and
    /// neither verifies for another voter's key.
    #[test]
    fn direct_and_blind_credentials_verify() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let (el, _) = setup(&GenOptions::default(), &mut rng).unwrap();
        let pk = &el.manifest.issuer_keys[0];
        let fp = el.fingerprint();
        for v in 0..4 {
            for (key, sig, rnd) in [el.credential(v).unwrap(), el.blind_credential(v).unwrap()] {
                assert_eq!(key.to_bytes(), el.credential_key(v).to_bytes());
                let k = key.verifying_key().to_bytes();
                assert_eq!(rnd.len(), 32);
                verify_credential(pk, &fp, &k, &sig, &rnd).unwrap();
                let other = el.credential_key(v + 1).verifying_key().to_bytes();
                assert!(verify_credential(pk, &fp, &other, &sig, &rnd).is_err());
            }
        }
        // Fresh randomizer and salt every time.
        assert_ne!(el.credential(0).unwrap().1, el.credential(0).unwrap().1);
    }
}
