//! The public messages of the key ceremony and their byte-exact encodings
//! (`spec/threshold.md` §2, §5).
//!
//! | tag | message | round | length |
//! |---|---|---|---|
//! | `0x01` | [`KeyAnnouncement`] | setup | 98 |
//! | `0x02` | [`Commitment`] | 0 | 34 |
//! | `0x03` | [`Reveal`] | 1 | 4 + 96·t + 80·n |
//! | `0x04` | [`Complaint`] | 2 | 131 |
//!
//! Decoding is canonical: exact lengths, canonical scalars and points,
//! identity points rejected wherever the protocol forbids them, indices in
//! `1..=n`, `1 ≤ t ≤ n`. Nothing is accepted that re-encodes to other bytes.

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::VartimeMultiscalarMul;
use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use tallyboard_crypto::batch::{Base, BatchVerifier};
use tallyboard_crypto::encoding::Reader;
use tallyboard_crypto::generators::{G_table, G};
use tallyboard_crypto::proofs::chaum_pedersen::{ChaumPedersenProof, DleqStatement};
use tallyboard_crypto::proofs::schnorr::SchnorrProof;
use tallyboard_crypto::transcript::ProofContext;
use tallyboard_crypto::DecodeError;

use crate::error::ThresholdError;
use crate::keys::{exact_len, KeyAnnouncement, TrusteeKeyPair};
use crate::labels::{self, tags};
use crate::params::{decode_index, decode_t_n, expect_tag, DkgParams};
use crate::share_encryption::{EncryptedShare, ShareAddress};

/// A round-0 hash commitment `0x02 ‖ j ‖ digest` (34 bytes,
/// `spec/threshold.md` §5.1):
///
/// ```text
/// digest = SHA-256("tallyboard/v1/dkg-commit" ‖ election ‖ j ‖ t ‖ n ‖ C_{j,0} ‖ … ‖ C_{j,t−1})
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Commitment {
    dealer: u8,
    digest: [u8; 32],
}

/// The round-0 digest of a dealer's coefficient commitments.
pub fn commitment_digest(
    params: &DkgParams,
    dealer: u8,
    coefficient_commitments: &[RistrettoPoint],
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(labels::DKG_COMMIT);
    h.update(params.election());
    h.update([dealer, params.threshold(), params.trustees()]);
    for c in coefficient_commitments {
        h.update(c.compress().as_bytes());
    }
    h.finalize().into()
}

impl Commitment {
    /// Encoded length.
    pub const LEN: usize = 34;

    /// The commitment of dealer `dealer` to `coefficient_commitments`.
    pub fn new(params: &DkgParams, dealer: u8, coefficient_commitments: &[RistrettoPoint]) -> Self {
        Self {
            dealer,
            digest: commitment_digest(params, dealer, coefficient_commitments),
        }
    }

    /// The dealer's index.
    pub fn dealer(&self) -> u8 {
        self.dealer
    }

    /// The SHA-256 digest.
    pub fn digest(&self) -> &[u8; 32] {
        &self.digest
    }

    /// Whether `reveal` opens this commitment: same dealer and the digest of
    /// its coefficient commitments equals this one. `RevealMismatch` otherwise.
    pub fn check_reveal(&self, params: &DkgParams, reveal: &Reveal) -> Result<(), ThresholdError> {
        if reveal.dealer != self.dealer
            || commitment_digest(params, reveal.dealer, &reveal.commitments) != self.digest
        {
            return Err(ThresholdError::RevealMismatch {
                dealer: reveal.dealer,
            });
        }
        Ok(())
    }

    /// `0x02 ‖ j ‖ digest`.
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        out[0] = tags::COMMITMENT;
        out[1] = self.dealer;
        out[2..].copy_from_slice(&self.digest);
        out
    }

    /// Canonical decoding (exact length, tag, index ≥ 1).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ThresholdError> {
        const WHAT: &str = "dkg commitment";
        exact_len(bytes, Self::LEN, WHAT)?;
        let mut r = Reader::new(bytes, WHAT);
        expect_tag(&mut r, tags::COMMITMENT, WHAT)?;
        let dealer = r.bytes(1)?[0];
        nonzero_index(dealer, WHAT)?;
        let mut digest = [0u8; 32];
        digest.copy_from_slice(r.bytes(32)?);
        r.finish()?;
        Ok(Self { dealer, digest })
    }
}

fn nonzero_index(i: u8, what: &'static str) -> Result<(), DecodeError> {
    if i == 0 {
        return Err(DecodeError::OutOfRange {
            what,
            detail: "trustee indices start at 1",
        });
    }
    Ok(())
}

/// The proof context of the proof of knowledge of `a_{j,k}`
/// (`spec/threshold.md` §5.2).
pub(crate) fn pok_context(election: &[u8; 32], dealer: u8, k: u8) -> ProofContext {
    ProofContext::new(*election)
        .with(labels::CTX_PURPOSE, labels::DKG_POK)
        .with_u64(labels::CTX_DEALER, u64::from(dealer))
        .with_u64(labels::CTX_COEFFICIENT, u64::from(k))
}

/// A round-1 reveal (`spec/threshold.md` §5.2):
///
/// ```text
/// 0x03 ‖ j ‖ t ‖ n ‖ C_{j,0} ‖ … ‖ C_{j,t−1} ‖ π_{j,0} ‖ … ‖ π_{j,t−1} ‖ S_{j,1} ‖ … ‖ S_{j,n}
/// ```
///
/// with `C_{j,k} = a_{j,k}·G` (non-identity), `π_{j,k}` a 64-byte Schnorr
/// proof of knowledge of `a_{j,k}`, and `S_{j,i}` the 80-byte encryption of
/// `f_j(i)` to trustee `i` (§5.3) — for every `i`, the dealer included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reveal {
    dealer: u8,
    trustees: u8,
    commitments: Vec<RistrettoPoint>,
    proofs: Vec<SchnorrProof>,
    shares: Vec<EncryptedShare>,
}

impl Reveal {
    /// Encoded length for threshold `t` and `n` trustees.
    pub fn encoded_len(t: u8, n: u8) -> usize {
        4 + 96 * usize::from(t) + EncryptedShare::LEN * usize::from(n)
    }

    /// Assembles a reveal from its parts. `commitments` and `proofs` must
    /// have the same length `t ≥ 1`, `shares` the length `n ≥ t` with
    /// `n ≤ 255`, `1 ≤ dealer ≤ n`, and no commitment may be the identity.
    pub fn from_parts(
        dealer: u8,
        commitments: Vec<RistrettoPoint>,
        proofs: Vec<SchnorrProof>,
        shares: Vec<EncryptedShare>,
    ) -> Result<Self, ThresholdError> {
        use curve25519_dalek::traits::IsIdentity;
        let t = u8::try_from(commitments.len())
            .map_err(|_| ThresholdError::InvalidParameters("too many coefficients"))?;
        let n = u8::try_from(shares.len())
            .map_err(|_| ThresholdError::InvalidParameters("too many shares"))?;
        if proofs.len() != commitments.len() {
            return Err(ThresholdError::InvalidParameters(
                "one proof per coefficient commitment",
            ));
        }
        decode_t_n(t, n, "dkg reveal")?;
        decode_index(dealer, n, "dkg reveal")?;
        if commitments.iter().any(|c| c.is_identity()) {
            return Err(DecodeError::IdentityPoint {
                what: "dkg coefficient commitment",
            }
            .into());
        }
        Ok(Self {
            dealer,
            trustees: n,
            commitments,
            proofs,
            shares,
        })
    }

    /// The dealer's index `j`.
    pub fn dealer(&self) -> u8 {
        self.dealer
    }

    /// The threshold `t` (the number of coefficients).
    pub fn threshold(&self) -> u8 {
        // `from_parts`/`from_bytes` guarantee 1 ≤ t ≤ 255.
        self.commitments.len() as u8
    }

    /// The number of trustees `n` (the number of encrypted shares).
    pub fn trustees(&self) -> u8 {
        self.trustees
    }

    /// The coefficient commitments `C_{j,0..t−1}`; `C_{j,0}` is the dealer's
    /// contribution to the joint key.
    pub fn coefficient_commitments(&self) -> &[RistrettoPoint] {
        &self.commitments
    }

    /// The proofs of knowledge `π_{j,0..t−1}`.
    pub fn proofs(&self) -> &[SchnorrProof] {
        &self.proofs
    }

    /// All encrypted shares, recipient `i` at position `i − 1`.
    pub fn shares(&self) -> &[EncryptedShare] {
        &self.shares
    }

    /// The encrypted share for `recipient` (`None` outside `1..=n`).
    pub fn share_for(&self, recipient: u8) -> Option<&EncryptedShare> {
        self.shares.get(usize::from(recipient).checked_sub(1)?)
    }

    /// `Σ_k i^k·C_{j,k}`: the point `f_j(i)·G` must equal. Variable time
    /// (public inputs).
    pub fn vartime_expected_share_point(&self, recipient: u8) -> RistrettoPoint {
        let x = Scalar::from(recipient);
        let mut powers = Vec::with_capacity(self.commitments.len());
        let mut p = Scalar::ONE;
        for _ in 0..self.commitments.len() {
            powers.push(p);
            p *= x;
        }
        RistrettoPoint::vartime_multiscalar_mul(&powers, &self.commitments)
    }

    /// Whether `share·G = Σ_k i^k·C_{j,k}` (`spec/threshold.md` §5.4).
    pub fn check_share(&self, recipient: u8, share: &Scalar) -> Result<(), ThresholdError> {
        if G_table() * share == self.vartime_expected_share_point(recipient) {
            Ok(())
        } else {
            Err(ThresholdError::InvalidShare {
                dealer: self.dealer,
                recipient,
            })
        }
    }

    /// Verifies every proof of knowledge; names the first failing coefficient.
    pub fn verify_proofs(&self, election: &[u8; 32]) -> Result<(), ThresholdError> {
        for (k, (c, p)) in self.commitments.iter().zip(&self.proofs).enumerate() {
            let k = k as u8;
            p.verify(&pok_context(election, self.dealer, k), &G(), c)
                .map_err(|_| ThresholdError::InvalidProofOfKnowledge {
                    dealer: self.dealer,
                    coefficient: k,
                })?;
        }
        Ok(())
    }

    /// Adds every proof-of-knowledge equation to `batch`.
    pub fn batch_verify_proofs<R: RngCore + CryptoRng>(
        &self,
        election: &[u8; 32],
        batch: &mut BatchVerifier<R>,
    ) -> Result<(), ThresholdError> {
        for (k, (c, p)) in self.commitments.iter().zip(&self.proofs).enumerate() {
            let k = k as u8;
            p.batch_verify(
                &pok_context(election, self.dealer, k),
                Base::G,
                &G(),
                c,
                batch,
            )
            .map_err(|_| ThresholdError::InvalidProofOfKnowledge {
                dealer: self.dealer,
                coefficient: k,
            })?;
        }
        Ok(())
    }

    /// The byte-exact encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let t = self.threshold();
        let mut out = Vec::with_capacity(Self::encoded_len(t, self.trustees));
        out.extend_from_slice(&[tags::REVEAL, self.dealer, t, self.trustees]);
        for c in &self.commitments {
            out.extend_from_slice(c.compress().as_bytes());
        }
        for p in &self.proofs {
            out.extend_from_slice(&p.to_bytes());
        }
        for s in &self.shares {
            out.extend_from_slice(&s.to_bytes());
        }
        out
    }

    /// Canonical decoding: tag, `1 ≤ t ≤ n`, `1 ≤ j ≤ n`, exact length
    /// `4 + 96·t + 80·n`, non-identity commitments and ephemeral keys,
    /// canonical proofs.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ThresholdError> {
        const WHAT: &str = "dkg reveal";
        let mut r = Reader::new(bytes, WHAT);
        expect_tag(&mut r, tags::REVEAL, WHAT)?;
        let head = r.bytes(3)?;
        let (dealer, t, n) = (head[0], head[1], head[2]);
        decode_t_n(t, n, WHAT)?;
        decode_index(dealer, n, WHAT)?;
        exact_len(bytes, Self::encoded_len(t, n), WHAT)?;
        let commitments = (0..t)
            .map(|_| r.nonidentity_point())
            .collect::<Result<Vec<_>, _>>()?;
        let proofs = (0..t)
            .map(|_| SchnorrProof::from_bytes(r.bytes(SchnorrProof::LEN)?))
            .collect::<Result<Vec<_>, _>>()?;
        let shares = (0..n)
            .map(|_| EncryptedShare::from_bytes(r.bytes(EncryptedShare::LEN)?))
            .collect::<Result<Vec<_>, _>>()?;
        r.finish()?;
        Ok(Self {
            dealer,
            trustees: n,
            commitments,
            proofs,
            shares,
        })
    }
}

/// The proof context of a complaint (`spec/threshold.md` §5.4).
pub(crate) fn complaint_context(election: &[u8; 32], complainer: u8, dealer: u8) -> ProofContext {
    ProofContext::new(*election)
        .with_u64(labels::CTX_COMPLAINER, u64::from(complainer))
        .with_u64(labels::CTX_DEALER, u64::from(dealer))
}

/// A round-2 verifiable complaint `0x04 ‖ i ‖ j ‖ Z ‖ proof` (131 bytes,
/// `spec/threshold.md` §5.4): trustee `i` publishes `Z = x_i·E_{j,i}`, the
/// Diffie–Hellman value that decrypts dealer `j`'s share to it, with a
/// Chaum–Pedersen proof (label `"dkg-complaint"`) of
/// `log_G PK_i = log_{E_{j,i}} Z`. Anyone can then decrypt the share and see
/// that it is wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Complaint {
    complainer: u8,
    dealer: u8,
    dh: RistrettoPoint,
    proof: ChaumPedersenProof,
}

impl Complaint {
    /// Encoded length.
    pub const LEN: usize = 131;

    /// Trustee `complainer` (with long-term key `keys`) complains about the
    /// share `reveal` holds for it.
    pub fn create<R: RngCore + CryptoRng>(
        election: &[u8; 32],
        complainer: u8,
        keys: &TrusteeKeyPair,
        reveal: &Reveal,
        rng: &mut R,
    ) -> Result<Self, ThresholdError> {
        let share = reveal
            .share_for(complainer)
            .ok_or(ThresholdError::UnknownTrustee {
                trustee: complainer,
                trustees: reveal.trustees,
            })?;
        let E = *share.ephemeral();
        let dh = keys.secret_scalar() * E;
        let st = DleqStatement {
            B1: G(),
            Y1: *keys.public_key(),
            B2: E,
            Y2: dh,
        };
        let ctx = complaint_context(election, complainer, reveal.dealer);
        let proof =
            ChaumPedersenProof::prove(labels::DKG_COMPLAINT, &ctx, &st, keys.secret_scalar(), rng)
                .map_err(|_| ThresholdError::InvalidComplaintProof {
                    complainer,
                    dealer: reveal.dealer,
                })?;
        Ok(Self {
            complainer,
            dealer: reveal.dealer,
            dh,
            proof,
        })
    }

    /// The complainer `i`.
    pub fn complainer(&self) -> u8 {
        self.complainer
    }

    /// The dealer complained about `j`.
    pub fn dealer(&self) -> u8 {
        self.dealer
    }

    /// The published Diffie–Hellman value `Z`.
    pub fn dh(&self) -> &RistrettoPoint {
        &self.dh
    }

    /// The Chaum–Pedersen proof.
    pub fn proof(&self) -> &ChaumPedersenProof {
        &self.proof
    }

    /// Judges the complaint against the dealer's reveal and the complainer's
    /// announced key (`spec/threshold.md` §5.5):
    ///
    /// * `Ok(e)` with `e = ShareDecryptionFailed` or `InvalidShare`: the
    ///   complaint is valid, the dealer is at fault;
    /// * `Err(InvalidComplaintProof)` or `Err(UnfoundedComplaint)`: the
    ///   complaint is not, the complainer is at fault.
    pub fn judge(
        &self,
        election: &[u8; 32],
        complainer_key: &KeyAnnouncement,
        reveal: &Reveal,
    ) -> Result<ThresholdError, ThresholdError> {
        let bad_proof = ThresholdError::InvalidComplaintProof {
            complainer: self.complainer,
            dealer: self.dealer,
        };
        if complainer_key.trustee() != self.complainer || reveal.dealer != self.dealer {
            return Err(bad_proof);
        }
        let share = reveal.share_for(self.complainer).ok_or(bad_proof.clone())?;
        let st = DleqStatement {
            B1: G(),
            Y1: *complainer_key.key(),
            B2: *share.ephemeral(),
            Y2: self.dh,
        };
        self.proof
            .verify(
                labels::DKG_COMPLAINT,
                &complaint_context(election, self.complainer, self.dealer),
                &st,
            )
            .map_err(|_| bad_proof)?;
        let to = ShareAddress {
            election,
            dealer: self.dealer,
            recipient: self.complainer,
            recipient_key: complainer_key.key(),
        };
        match share.decrypt_with_dh(&self.dh, &to) {
            Err(e) => Ok(e),
            Ok(s) => match reveal.check_share(self.complainer, &s) {
                Err(e) => Ok(e),
                Ok(()) => Err(ThresholdError::UnfoundedComplaint {
                    complainer: self.complainer,
                    dealer: self.dealer,
                }),
            },
        }
    }

    /// `0x04 ‖ i ‖ j ‖ Z ‖ A₁ ‖ A₂ ‖ z`.
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        out[0] = tags::COMPLAINT;
        out[1] = self.complainer;
        out[2] = self.dealer;
        out[3..35].copy_from_slice(self.dh.compress().as_bytes());
        out[35..].copy_from_slice(&self.proof.to_bytes());
        out
    }

    /// Canonical decoding: exact length, tag, indices ≥ 1, `Z` canonical and
    /// not the identity, canonical proof.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ThresholdError> {
        const WHAT: &str = "dkg complaint";
        exact_len(bytes, Self::LEN, WHAT)?;
        let mut r = Reader::new(bytes, WHAT);
        expect_tag(&mut r, tags::COMPLAINT, WHAT)?;
        let idx = r.bytes(2)?;
        let (complainer, dealer) = (idx[0], idx[1]);
        nonzero_index(complainer, WHAT)?;
        nonzero_index(dealer, WHAT)?;
        let dh = r.nonidentity_point()?;
        let proof = ChaumPedersenProof::from_bytes(r.bytes(ChaumPedersenProof::LEN)?)?;
        r.finish()?;
        Ok(Self {
            complainer,
            dealer,
            dh,
            proof,
        })
    }
}

/// Any public message of the ceremony, as posted on the board.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DkgMessage {
    /// Setup: a long-term key with proof of possession.
    KeyAnnouncement(KeyAnnouncement),
    /// Round 0: a hash commitment.
    Commitment(Commitment),
    /// Round 1: coefficient commitments, proofs and encrypted shares.
    Reveal(Reveal),
    /// Round 2: a verifiable complaint.
    Complaint(Complaint),
}

impl DkgMessage {
    /// The trustee that sends this message (the complainer for a complaint).
    /// The board layer checks it against the entry's signer.
    pub fn sender(&self) -> u8 {
        match self {
            Self::KeyAnnouncement(m) => m.trustee(),
            Self::Commitment(m) => m.dealer(),
            Self::Reveal(m) => m.dealer(),
            Self::Complaint(m) => m.complainer(),
        }
    }

    /// The message's own encoding (its first byte is the type tag).
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Self::KeyAnnouncement(m) => m.to_bytes().to_vec(),
            Self::Commitment(m) => m.to_bytes().to_vec(),
            Self::Reveal(m) => m.to_bytes(),
            Self::Complaint(m) => m.to_bytes().to_vec(),
        }
    }

    /// Decodes any message, dispatching on the type tag.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ThresholdError> {
        match bytes.first() {
            Some(&tags::KEY_ANNOUNCEMENT) => {
                KeyAnnouncement::from_bytes(bytes).map(Self::KeyAnnouncement)
            }
            Some(&tags::COMMITMENT) => Commitment::from_bytes(bytes).map(Self::Commitment),
            Some(&tags::REVEAL) => Reveal::from_bytes(bytes).map(Self::Reveal),
            Some(&tags::COMPLAINT) => Complaint::from_bytes(bytes).map(Self::Complaint),
            _ => Err(DecodeError::OutOfRange {
                what: "dkg message",
                detail: "unknown type tag",
            }
            .into()),
        }
    }
}
