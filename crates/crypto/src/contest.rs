//! Contest-level encryption: a ciphertext and a range proof per option,
//! and the contest's sum rule (`spec/crypto.md` §8).
//!
//! A [`ContestRule`] says how many options a contest has, the largest value
//! an option may take (`R_opt`, 1 for one-of-n, approval and k-of-n) and a
//! constraint on the sum of the values ([`SumRule`]). [`encrypt_contest`]
//! checks the selections against the rule **before** encrypting anything,
//! then produces an [`EncryptedContest`]:
//!
//! * option `i` (0-based): `(α_i, β_i)` and a CDS proof for `[0, R_opt]`
//!   (§6.3) under the *option context* `ctx ‖ ("option", i as u64 BE)`
//!   ([`option_context`]), so a proof cannot be moved to another option;
//! * under `Exact(L)` the last option's ciphertext is **implied**, not sent:
//!   it is `(−Σ α_i, L·G − Σ β_i)` over the sent ones (its nonce is minus
//!   the sum of theirs), and its CDS proof — whose statement absorbs `L` and
//!   every sent ciphertext — shows that `L − Σ v_i ∈ [0, R_opt]`, i.e. that
//!   the values add up to exactly `L`. No separate sum proof is needed, and
//!   a one-of-n ballot carries `n − 1` ciphertexts (`spec/crypto.md` §8.2);
//! * under `Range { min, max }` a `"sum-range"` proof (§6.4.2), made under
//!   the caller's context `ctx` itself and absorbing every ciphertext of the
//!   contest; under `Unconstrained` nothing more.
//!
//! Everything is made with fixed-base multiplications, and every point of
//! the contest (ciphertexts, commitments) is encoded in one batch with a
//! single field inversion. Verification puts all equations of a contest
//! into one [`BatchVerifier`] with shared terms (§5.3); many contests can
//! share one batch ([`verify_contests_batched`]). The option transcripts
//! share their prefix (everything up to the option item), absorbed once.
//!
//! Encoding (§8.5):
//!
//! ```text
//! n : u32 BE   (1 ≤ n ≤ 1024)          R : u32 BE   (0 ≤ R ≤ 64)
//! form : u8    0 = no sum constraint | 1 = exact sum | 2 = sum in a range
//!   form 1: L : u32 BE (L ≤ n·R)       form 2: w : u32 BE (w = max − min ≤ 64)
//! m × (α_i ‖ β_i)    m = n − 1 for form 1, n otherwise    64 bytes each
//! n × CDS proof for [0, R]                          (4R + 3)·32 bytes each
//! form 2: CDS proof for [0, w]
//! ```

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity;
use rand_core::{CryptoRng, OsRng, RngCore};
use thiserror::Error;

use crate::batch::{Base, BatchVerifier};
use crate::elgamal::{Ciphertext, EncodedCiphertext, Nonce, PublicKey};
use crate::encoding::{EncodedPoint, Reader};
use crate::error::{DecodeError, ProofError};
use crate::generators::{G_table, G};
use crate::proofs::cds_range::{
    commitments_challenge, encrypt_halves, implied_statement_after, pair_up, statement_after,
    CdsProver, CdsRangeProof, MAX_RANGE,
};
use crate::proofs::sum::{check_bounds, range_statement, SumRangeProof};
use crate::transcript::{labels, ProofContext, ProofTranscript, TranscriptPrefix};

/// Largest number of options in a contest.
pub const MAX_OPTIONS: u32 = 1024;

const NAME: &str = "contest";

/// Errors of the contest layer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ContestError {
    /// The rule itself is impossible or outside what small-range proofs support.
    #[error("invalid contest rule: {0}")]
    InvalidRule(&'static str),
    /// Not one selection per option.
    #[error("wrong number of selections: the contest has {expected} options, got {got}")]
    WrongSelectionCount {
        /// Options in the contest.
        expected: u32,
        /// Selections given.
        got: usize,
    },
    /// A selection above the per-option maximum.
    #[error("selection {value} for option {option} is above the maximum {max}")]
    SelectionOutOfRange {
        /// The option's index.
        option: u32,
        /// The value given.
        value: u64,
        /// The largest allowed value.
        max: u64,
    },
    /// The selections' total violates the sum rule.
    #[error("the selections add up to {total}, which the rule {rule:?} forbids")]
    SumViolated {
        /// The total of the selections.
        total: u64,
        /// The rule.
        rule: SumRule,
    },
    /// An encrypted contest does not have the shape the rule requires.
    #[error("encrypted contest does not match the rule: {0}")]
    RuleMismatch(&'static str),
    /// A member of a batch failed a statement check.
    #[error("contest {index} of the batch: {source}")]
    Member {
        /// Position in the batch.
        index: usize,
        /// What was wrong with it.
        source: Box<ContestError>,
    },
    /// Bytes that do not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A proof that does not verify.
    #[error(transparent)]
    Proof(#[from] ProofError),
}

/// The constraint on the sum of a contest's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SumRule {
    /// No constraint (approval voting); no sum proof.
    Unconstrained,
    /// The values add up to exactly `L` (one-of-n: `L = 1`; k-of-n: `L = k`).
    Exact(u64),
    /// The values add up to a value in `[min, max]`, `max − min ≤ 64`.
    Range {
        /// Smallest allowed total.
        min: u64,
        /// Largest allowed total.
        max: u64,
    },
}

/// What a valid contest looks like (`spec/crypto.md` §8.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContestRule {
    options: u32,
    option_max: u64,
    sum: SumRule,
}

impl ContestRule {
    /// A rule with `options` options (1..=1024), each taking a value in
    /// `[0, option_max]` (1..=64), and the sum constraint `sum`.
    pub fn new(options: u32, option_max: u64, sum: SumRule) -> Result<Self, ContestError> {
        if options == 0 || options > MAX_OPTIONS {
            return Err(ContestError::InvalidRule(
                "number of options must be 1..=1024",
            ));
        }
        if option_max == 0 || option_max > MAX_RANGE {
            return Err(ContestError::InvalidRule(
                "per-option maximum must be 1..=64",
            ));
        }
        let most = u64::from(options) * option_max;
        match sum {
            SumRule::Unconstrained => {}
            SumRule::Exact(L) => {
                if L > most {
                    return Err(ContestError::InvalidRule("exact sum is unreachable"));
                }
            }
            SumRule::Range { min, max } => {
                check_bounds(min, max).map_err(|_| {
                    ContestError::InvalidRule("sum range must have min ≤ max and max − min ≤ 64")
                })?;
                if min > most {
                    return Err(ContestError::InvalidRule("sum range is unreachable"));
                }
            }
        }
        Ok(Self {
            options,
            option_max,
            sum,
        })
    }

    /// Choose exactly one of `n`.
    pub fn one_of(n: u32) -> Result<Self, ContestError> {
        Self::new(n, 1, SumRule::Exact(1))
    }

    /// Choose exactly `k` of `n`.
    pub fn k_of_n(k: u64, n: u32) -> Result<Self, ContestError> {
        Self::new(n, 1, SumRule::Exact(k))
    }

    /// Choose between zero and `k` of `n` (`k ≤ 64`).
    pub fn up_to_k_of_n(k: u64, n: u32) -> Result<Self, ContestError> {
        Self::new(n, 1, SumRule::Range { min: 0, max: k })
    }

    /// Approve any subset of `n`.
    pub fn approval(n: u32) -> Result<Self, ContestError> {
        Self::new(n, 1, SumRule::Unconstrained)
    }

    /// Number of options.
    pub fn options(&self) -> u32 {
        self.options
    }

    /// Largest value of one option.
    pub fn option_max(&self) -> u64 {
        self.option_max
    }

    /// The sum constraint.
    pub fn sum(&self) -> SumRule {
        self.sum
    }

    /// Checks selections against the rule; returns their total.
    pub fn check_selections(&self, selections: &[u64]) -> Result<u64, ContestError> {
        if selections.len() != self.options as usize {
            return Err(ContestError::WrongSelectionCount {
                expected: self.options,
                got: selections.len(),
            });
        }
        for (i, &v) in selections.iter().enumerate() {
            if v > self.option_max {
                return Err(ContestError::SelectionOutOfRange {
                    option: i as u32,
                    value: v,
                    max: self.option_max,
                });
            }
        }
        // Each value ≤ 64 and at most 1024 options: no overflow.
        let total: u64 = selections.iter().sum();
        let ok = match self.sum {
            SumRule::Unconstrained => true,
            SumRule::Exact(L) => total == L,
            SumRule::Range { min, max } => (min..=max).contains(&total),
        };
        if !ok {
            return Err(ContestError::SumViolated {
                total,
                rule: self.sum,
            });
        }
        Ok(total)
    }
}

/// The context of option `index`'s proof: the caller's context with the
/// item `("option", index as 8 bytes big-endian)` appended
/// (`spec/crypto.md` §8.3).
pub fn option_context(ctx: &ProofContext, index: u32) -> ProofContext {
    ctx.clone().with_u64(labels::CTX_OPTION, u64::from(index))
}

/// An encrypted contest with its proofs. Made by [`encrypt_contest`] or
/// decoded by [`EncryptedContest::from_bytes`]; the fields are private so
/// that the points and their encodings always agree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptedContest {
    /// The sent ciphertexts: one per option, except under an exact-sum
    /// rule, where the last option's is implied (`spec/crypto.md` §8.2).
    ciphertexts: Vec<EncodedCiphertext>,
    option_proofs: Vec<CdsRangeProof>,
    sum: ContestSum,
}

/// How a contest's sum constraint is carried.
#[derive(Clone, Debug, PartialEq, Eq)]
enum ContestSum {
    /// No constraint.
    None,
    /// The values add up to exactly `L`: the last option's ciphertext is
    /// implied, `(−Σ α_i, L·G − Σ β_i)`, and its range proof shows the sum.
    Implied(u64),
    /// A range proof on the sum.
    Range(SumRangeProof),
}

/// Encrypts `selections` (one value per option) under `pk` and proves they
/// satisfy `rule` (`spec/crypto.md` §8.2). Selections that violate the rule
/// are refused before anything is encrypted. Returns the contest and the
/// per-option nonces (kept secret; revealed only if the ballot is
/// challenged). Under an exact-sum rule the last nonce is minus the sum of
/// the others: it is the nonce of the implied ciphertext.
pub fn encrypt_contest<RNG: RngCore + CryptoRng>(
    pk: &PublicKey,
    selections: &[u64],
    rule: &ContestRule,
    ctx: &ProofContext,
    rng: &mut RNG,
) -> Result<(EncryptedContest, Vec<Nonce>), ContestError> {
    let total = rule.check_selections(selections)?;
    let n = selections.len();
    let R = rule.option_max as usize;
    let implied = match rule.sum {
        SumRule::Exact(L) => Some(L),
        _ => None,
    };
    let sent = if implied.is_some() { n - 1 } else { n };
    let mut nonces: Vec<Nonce> = (0..sent)
        .map(|_| Nonce::from_scalar(crate::random_scalar(rng)))
        .collect();
    let mut r_sum = nonces.iter().map(|r| *r.expose_scalar()).sum::<Scalar>();
    if implied.is_some() {
        nonces.push(Nonce::from_scalar(-r_sum));
    }

    // Phase 1: every point of the contest, halved.
    let mut halves = Vec::with_capacity(2 * n + 2 * n * (R + 1) + 2 * (MAX_RANGE as usize + 1));
    for (v, r) in selections.iter().zip(&nonces).take(sent) {
        let (a, b) = encrypt_halves(pk, R, *v as usize, r.expose_scalar());
        halves.push(a);
        halves.push(b);
    }
    let provers: Vec<CdsProver> = selections
        .iter()
        .zip(&nonces)
        .map(|(v, r)| CdsProver::commit(pk, R, *v as usize, r.expose_scalar(), rng, &mut halves))
        .collect();
    let range_prover = match rule.sum {
        SumRule::Range { min, max } => Some((
            CdsProver::commit(
                pk,
                (max - min) as usize,
                (total - min) as usize,
                &r_sum,
                rng,
                &mut halves,
            ),
            min,
            max,
        )),
        _ => None,
    };
    zeroize::Zeroize::zeroize(&mut r_sum);

    // One inversion for all encodings.
    let enc = EncodedPoint::batch_from_halves(&halves);
    let (ct_enc, rest) = enc.split_at(2 * sent);
    let ciphertexts: Vec<EncodedCiphertext> = ct_enc
        .chunks_exact(2)
        .map(|p| EncodedCiphertext::from_parts(p[0], p[1]))
        .collect();
    let per = 2 * (R + 1);
    let (opt_enc, sum_enc) = rest.split_at(n * per);

    // Phase 2: challenges and responses.
    let prefix = ProofTranscript::prefix(labels::CDS_RANGE, ctx);
    let option_proofs: Vec<CdsRangeProof> = provers
        .into_iter()
        .zip(opt_enc.chunks_exact(per))
        .enumerate()
        .map(|(i, (prover, chunk))| {
            let commitments = pair_up(chunk);
            let t = option_transcript(&prefix, pk, R as u64, implied, &ciphertexts, i);
            let c = commitments_challenge(t, &commitments);
            prover.respond(commitments, &c)
        })
        .collect();
    let sum = match (implied, range_prover) {
        (Some(L), _) => ContestSum::Implied(L),
        (None, Some((prover, min, max))) => {
            let commitments = pair_up(sum_enc);
            let c = commitments_challenge(
                range_statement(ctx, pk, &ciphertexts, min, max),
                &commitments,
            );
            ContestSum::Range(SumRangeProof::from_cds(prover.respond(commitments, &c)))
        }
        (None, None) => ContestSum::None,
    };
    let contest = EncryptedContest {
        ciphertexts,
        option_proofs,
        sum,
    };
    debug_assert!(contest.verify(pk, rule, ctx).is_ok());
    Ok((contest, nonces))
}

/// The transcript of option `i`'s proof up to its commitments: the option
/// context (from the contest's shared prefix) and the statement — the
/// option's ciphertext, or for the implied last option the sent ciphertexts
/// and `L` (`spec/crypto.md` §8.3).
fn option_transcript(
    prefix: &TranscriptPrefix,
    pk: &PublicKey,
    R: u64,
    implied: Option<u64>,
    sent: &[EncodedCiphertext],
    i: usize,
) -> ProofTranscript {
    let t = prefix.finish_u64(labels::CTX_OPTION, i as u64);
    match (sent.get(i), implied) {
        (Some(ct), _) => statement_after(t, pk, R, ct),
        (None, L) => implied_statement_after(t, pk, R, L.unwrap_or(0), sent),
    }
}

impl EncryptedContest {
    /// The ciphertexts as sent: one per option, but without the last
    /// option's under an exact-sum rule ([`Self::option_ciphertexts`] has
    /// every option's).
    pub fn ciphertexts(&self) -> &[EncodedCiphertext] {
        &self.ciphertexts
    }

    /// `Some(L)` if the values add up to exactly `L` and the last option's
    /// ciphertext is implied.
    pub fn implied_sum(&self) -> Option<u64> {
        match self.sum {
            ContestSum::Implied(L) => Some(L),
            _ => None,
        }
    }

    /// Every option's ciphertext, the implied one included
    /// (`(−Σ α_i, L·G − Σ β_i)`, computed with point additions).
    pub fn option_ciphertexts(&self) -> Vec<Ciphertext> {
        let mut out: Vec<Ciphertext> = self.ciphertexts.iter().map(|c| c.ciphertext()).collect();
        if let ContestSum::Implied(L) = self.sum {
            let sum: Ciphertext = out.iter().copied().sum();
            // L·G: public, usually 1·G; the table when larger.
            let lg = match L {
                0 => RistrettoPoint::identity(),
                1 => G(),
                _ => G_table() * &Scalar::from(L),
            };
            out.push(Ciphertext {
                alpha: -sum.alpha,
                beta: lg - sum.beta,
            });
        }
        out
    }

    /// The per-option range proofs, one per option.
    pub fn option_proofs(&self) -> &[CdsRangeProof] {
        &self.option_proofs
    }

    /// The proof that the sum is in the rule's range, under a range rule.
    pub fn sum_proof(&self) -> Option<&SumRangeProof> {
        match &self.sum {
            ContestSum::Range(p) => Some(p),
            _ => None,
        }
    }

    fn check_shape(&self, rule: &ContestRule) -> Result<(), ContestError> {
        let n = rule.options as usize;
        let sent = match (&self.sum, rule.sum) {
            (ContestSum::None, SumRule::Unconstrained) => n,
            (ContestSum::Implied(l), SumRule::Exact(L)) if *l == L => n - 1,
            (ContestSum::Range(p), SumRule::Range { min, max }) if p.width() == max - min => n,
            _ => return Err(ContestError::RuleMismatch("sum constraint")),
        };
        if self.ciphertexts.len() != sent || self.option_proofs.len() != n {
            return Err(ContestError::RuleMismatch("number of options"));
        }
        if self.ciphertexts.iter().any(|ct| ct.alpha().is_identity()) {
            return Err(ContestError::RuleMismatch("identity alpha"));
        }
        if self
            .option_proofs
            .iter()
            .any(|p| p.range() != rule.option_max)
        {
            return Err(ContestError::RuleMismatch("per-option range"));
        }
        Ok(())
    }

    /// Verifies the contest against `rule` under `pk` and `ctx`: every
    /// equation in one multiscalar multiplication with random weights from
    /// the OS RNG (`spec/crypto.md` §8.4).
    pub fn verify(
        &self,
        pk: &PublicKey,
        rule: &ContestRule,
        ctx: &ProofContext,
    ) -> Result<(), ContestError> {
        let mut batch = BatchVerifier::new(OsRng);
        self.batch_verify(pk, rule, ctx, &mut batch)?;
        if batch.vartime_verify() {
            Ok(())
        } else {
            Err(ProofError::VerificationFailed { proof: NAME }.into())
        }
    }

    /// Checks the contest's shape against `rule` and adds all its equations
    /// to `batch`, sharing terms: `K` once per batch, each sent `α_i`, `β_i`
    /// once per contest with the coefficients of its option proof and of the
    /// implied option's or the sum's proof merged (`spec/crypto.md` §5.3).
    pub fn batch_verify<RNG: RngCore + CryptoRng>(
        &self,
        pk: &PublicKey,
        rule: &ContestRule,
        ctx: &ProofContext,
        batch: &mut BatchVerifier<RNG>,
    ) -> Result<(), ContestError> {
        self.check_shape(rule)?;
        let k = Base::Shared(batch.register_public_key(pk));
        let (alpha, beta): (Vec<Base>, Vec<Base>) = self
            .ciphertexts
            .iter()
            .map(|ct| {
                (
                    Base::Shared(batch.register(*ct.alpha().point())),
                    Base::Shared(batch.register(*ct.beta().point())),
                )
            })
            .unzip();
        let implied = self.implied_sum();
        let prefix = ProofTranscript::prefix(labels::CDS_RANGE, ctx);
        for (i, proof) in self.option_proofs.iter().enumerate() {
            let t = option_transcript(&prefix, pk, rule.option_max, implied, &self.ciphertexts, i);
            let c = proof.challenge_after(t);
            match (alpha.get(i..=i), beta.get(i..=i), implied) {
                (Some(a), Some(b), _) => proof.push_equations(&c, k, a, b, 0, batch),
                (_, _, L) => {
                    let shift = -Scalar::from(L.unwrap_or(0));
                    proof.push_signed_equations(&c, k, &alpha, &beta, true, &shift, batch);
                }
            }
        }
        if let (ContestSum::Range(p), SumRule::Range { min, max }) = (&self.sum, rule.sum) {
            let c = p.challenge(ctx, pk, &self.ciphertexts, min, max);
            p.push_equations(&c, k, &alpha, &beta, min, batch);
        }
        Ok(())
    }

    /// Encoded length.
    pub fn encoded_len(&self) -> usize {
        let R = self.option_proofs.first().map_or(0, |p| p.range());
        9 + self.ciphertexts.len() * 64
            + self.option_proofs.len() * CdsRangeProof::encoded_len(R)
            + match &self.sum {
                ContestSum::None => 0,
                ContestSum::Implied(_) => 4,
                ContestSum::Range(p) => 4 + CdsRangeProof::encoded_len(p.width()),
            }
    }

    /// The encoding of `spec/crypto.md` §8.5.
    pub fn to_bytes(&self) -> Vec<u8> {
        let R = self.option_proofs.first().map_or(0, |p| p.range());
        let mut out = Vec::with_capacity(self.encoded_len());
        out.extend_from_slice(&(self.option_proofs.len() as u32).to_be_bytes());
        out.extend_from_slice(&(R as u32).to_be_bytes());
        match &self.sum {
            ContestSum::None => out.push(0),
            ContestSum::Implied(L) => {
                out.push(1);
                out.extend_from_slice(&(*L as u32).to_be_bytes());
            }
            ContestSum::Range(p) => {
                out.push(2);
                out.extend_from_slice(&(p.width() as u32).to_be_bytes());
            }
        }
        for ct in &self.ciphertexts {
            out.extend_from_slice(&ct.to_bytes());
        }
        for p in &self.option_proofs {
            p.write_bytes(&mut out);
        }
        if let ContestSum::Range(p) = &self.sum {
            p.write_bytes(&mut out);
        }
        out
    }

    /// Canonical decoding (`spec/crypto.md` §8.5): counts within bounds,
    /// exact length, canonical points and scalars, sent `α_i` not the
    /// identity. Whether the contest fits a rule is checked by `verify`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        const WHAT: &str = "encrypted contest";
        let mut r = Reader::new(bytes, WHAT);
        let n = r.u32()?;
        if n == 0 || n > MAX_OPTIONS {
            return Err(DecodeError::OutOfRange {
                what: WHAT,
                detail: "number of options must be 1..=1024",
            });
        }
        let R = u64::from(r.u32()?);
        if R > MAX_RANGE {
            return Err(DecodeError::OutOfRange {
                what: WHAT,
                detail: "per-option range above 64",
            });
        }
        let n = n as usize;
        let (form, parameter) = match r.u8()? {
            0 => (0, 0),
            form @ (1 | 2) => (form, u64::from(r.u32()?)),
            _ => {
                return Err(DecodeError::OutOfRange {
                    what: WHAT,
                    detail: "unknown sum form",
                })
            }
        };
        if form == 1 && parameter > n as u64 * R {
            return Err(DecodeError::OutOfRange {
                what: WHAT,
                detail: "exact sum above the options' total maximum",
            });
        }
        if form == 2 && parameter > MAX_RANGE {
            return Err(DecodeError::OutOfRange {
                what: WHAT,
                detail: "sum range width above 64",
            });
        }
        let sent = if form == 1 { n - 1 } else { n };
        let body = sent * 64
            + n * CdsRangeProof::encoded_len(R)
            + if form == 2 {
                CdsRangeProof::encoded_len(parameter)
            } else {
                0
            };
        if r.remaining() != body {
            return Err(DecodeError::WrongLength {
                what: WHAT,
                expected: bytes.len() - r.remaining() + body,
                got: bytes.len(),
            });
        }
        let ciphertexts = (0..sent)
            .map(|_| EncodedCiphertext::from_bytes(r.bytes(64)?))
            .collect::<Result<Vec<_>, _>>()?;
        let option_proofs = (0..n)
            .map(|_| CdsRangeProof::read(&mut r, R))
            .collect::<Result<Vec<_>, _>>()?;
        let sum = match form {
            1 => ContestSum::Implied(parameter),
            2 => ContestSum::Range(SumRangeProof::from_cds(CdsRangeProof::read(
                &mut r, parameter,
            )?)),
            _ => ContestSum::None,
        };
        r.finish()?;
        Ok(Self {
            ciphertexts,
            option_proofs,
            sum,
        })
    }
}

/// The `α` encodings of the sent ciphertexts of an encoded contest, in
/// order, read from the exact bytes without decompressing anything (for
/// fingerprints of ciphertexts, e.g. to recognise a challenged ballot's
/// ciphertexts). Meant for bytes that [`EncryptedContest::from_bytes`]
/// accepted; stops early on bytes too short.
pub fn encoded_alphas(bytes: &[u8]) -> Vec<[u8; 32]> {
    let n = bytes
        .get(..4)
        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
    let (header, sent) = match bytes.get(8) {
        Some(0) => (9, n),
        Some(1) => (13, n.saturating_sub(1)),
        Some(2) => (13, n),
        _ => return Vec::new(),
    };
    (0..sent)
        .map_while(|i| {
            let at = header + 64 * i;
            bytes.get(at..at + 32)?.try_into().ok()
        })
        .collect()
}

/// Verifies many contests of the same rule with one batch
/// (`spec/crypto.md` §5.3): `Ok` if every contest is valid. A contest that
/// fails a statement check is reported as [`ContestError::Member`]; if the
/// batch equation fails, the result is `ProofError::BatchFailed` and the
/// caller re-verifies one by one to find the culprits. Batches are
/// independent of each other: split the contests into chunks to use several
/// cores.
pub fn verify_contests_batched<'a, RNG, I>(
    pk: &PublicKey,
    rule: &ContestRule,
    contests: I,
    rng: RNG,
) -> Result<(), ContestError>
where
    RNG: RngCore + CryptoRng,
    I: IntoIterator<Item = (&'a EncryptedContest, &'a ProofContext)>,
{
    let mut batch = BatchVerifier::new(rng);
    for (index, (contest, ctx)) in contests.into_iter().enumerate() {
        contest
            .batch_verify(pk, rule, ctx, &mut batch)
            .map_err(|e| ContestError::Member {
                index,
                source: Box::new(e),
            })?;
    }
    if batch.vartime_verify() {
        Ok(())
    } else {
        Err(ProofError::BatchFailed.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elgamal::SecretKey;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn setup() -> (SecretKey, PublicKey, ProofContext, ChaCha20Rng) {
        let mut rng = ChaCha20Rng::from_seed([11u8; 32]);
        let sk = SecretKey::generate(&mut rng);
        let pk = sk.public_key().unwrap();
        (
            sk,
            pk,
            ProofContext::new([2u8; 32]).with(b"contest", b"mayor"),
            rng,
        )
    }

    #[test]
    fn rules_and_selections() {
        assert!(ContestRule::one_of(0).is_err());
        assert!(ContestRule::new(3, 65, SumRule::Unconstrained).is_err());
        assert!(ContestRule::new(3, 1, SumRule::Exact(4)).is_err());
        assert!(ContestRule::new(3, 1, SumRule::Range { min: 2, max: 1 }).is_err());
        assert!(ContestRule::new(100, 1, SumRule::Range { min: 0, max: 65 }).is_err());
        let r = ContestRule::one_of(3).unwrap();
        assert_eq!(r.check_selections(&[0, 1, 0]), Ok(1));
        assert!(matches!(
            r.check_selections(&[0, 1]),
            Err(ContestError::WrongSelectionCount {
                expected: 3,
                got: 2
            })
        ));
        assert!(matches!(
            r.check_selections(&[0, 2, 0]),
            Err(ContestError::SelectionOutOfRange {
                option: 1,
                value: 2,
                max: 1
            })
        ));
        assert!(matches!(
            r.check_selections(&[1, 1, 0]),
            Err(ContestError::SumViolated { total: 2, .. })
        ));
    }

    #[test]
    fn all_rule_kinds_roundtrip_and_verify() {
        let (sk, pk, ctx, mut rng) = setup();
        let cases: Vec<(ContestRule, Vec<u64>)> = vec![
            (ContestRule::one_of(5).unwrap(), vec![0, 0, 1, 0, 0]),
            (ContestRule::k_of_n(2, 4).unwrap(), vec![1, 0, 0, 1]),
            (ContestRule::up_to_k_of_n(2, 4).unwrap(), vec![0, 0, 0, 1]),
            (ContestRule::approval(3).unwrap(), vec![1, 1, 0]),
            (
                ContestRule::new(3, 3, SumRule::Range { min: 2, max: 6 }).unwrap(),
                vec![3, 0, 2],
            ),
            (
                ContestRule::new(2, 5, SumRule::Exact(7)).unwrap(),
                vec![5, 2],
            ),
        ];
        for (rule, sel) in cases {
            let (c, nonces) = encrypt_contest(&pk, &sel, &rule, &ctx, &mut rng).unwrap();
            c.verify(&pk, &rule, &ctx).unwrap();
            let bytes = c.to_bytes();
            assert_eq!(bytes.len(), c.encoded_len());
            let d = EncryptedContest::from_bytes(&bytes).unwrap();
            assert_eq!(d, c);
            d.verify(&pk, &rule, &ctx).unwrap();
            for (i, ct) in c.ciphertexts().iter().enumerate() {
                assert_eq!(ct.ciphertext(), pk.encrypt_with(sel[i], &nonces[i]));
                let m = sk.decrypt_to_point(&ct.ciphertext());
                assert_eq!(crate::dlog::vartime_dlog(&m, 64), Some(sel[i]));
            }
            // Wrong context, wrong rule.
            let other = ProofContext::new([2u8; 32]).with(b"contest", b"council");
            assert!(c.verify(&pk, &rule, &other).is_err());
        }
    }

    #[test]
    fn invalid_selection_is_refused_before_encryption() {
        let (_, pk, ctx, mut rng) = setup();
        let rule = ContestRule::one_of(3).unwrap();
        let before = rng.clone();
        assert!(encrypt_contest(&pk, &[1, 1, 0], &rule, &ctx, &mut rng).is_err());
        // No randomness was consumed: nothing was encrypted.
        assert_eq!(rng.get_word_pos(), before.get_word_pos());
    }

    #[test]
    fn option_proofs_cannot_move_between_options() {
        let (_, pk, ctx, mut rng) = setup();
        let rule = ContestRule::approval(2).unwrap();
        let (c, _) = encrypt_contest(&pk, &[1, 1], &rule, &ctx, &mut rng).unwrap();
        // Each proof verifies under its own option context, not the other's.
        for i in 0..2u32 {
            let ct = &c.ciphertexts()[i as usize];
            let p = &c.option_proofs()[i as usize];
            p.verify(&option_context(&ctx, i), &pk, 1, ct).unwrap();
            assert!(p.verify(&option_context(&ctx, 1 - i), &pk, 1, ct).is_err());
            assert!(p.verify(&ctx, &pk, 1, ct).is_err());
        }
        // Swapping both ciphertexts and proofs between options fails.
        let mut swapped = c.clone();
        swapped.ciphertexts.swap(0, 1);
        swapped.option_proofs.swap(0, 1);
        assert!(swapped.verify(&pk, &rule, &ctx).is_err());
    }

    #[test]
    fn exact_sum_contests_imply_their_last_ciphertext() {
        let (sk, pk, ctx, mut rng) = setup();
        let rule = ContestRule::one_of(4).unwrap();
        let (c, nonces) = encrypt_contest(&pk, &[0, 0, 0, 1], &rule, &ctx, &mut rng).unwrap();
        assert_eq!(c.ciphertexts().len(), 3);
        assert_eq!(c.implied_sum(), Some(1));
        let all = c.option_ciphertexts();
        assert_eq!(all[3], pk.encrypt_with(1, &nonces[3]));
        assert_eq!(
            crate::dlog::vartime_dlog(&sk.decrypt_to_point(&all[3]), 4),
            Some(1)
        );
        let bytes = c.to_bytes();
        let alphas = encoded_alphas(&bytes);
        assert_eq!(alphas.len(), 3);
        assert_eq!(alphas[2], *c.ciphertexts()[2].alpha().as_bytes());
        // The same proofs under another exact sum: the implied ciphertext
        // changes and its proof fails; the encoded L must match the rule.
        let mut b = bytes.clone();
        b[9..13].copy_from_slice(&2u32.to_be_bytes());
        let two = EncryptedContest::from_bytes(&b).unwrap();
        let rule2 = ContestRule::k_of_n(2, 4).unwrap();
        assert!(two.verify(&pk, &rule2, &ctx).is_err());
        assert!(matches!(
            two.verify(&pk, &rule, &ctx),
            Err(ContestError::RuleMismatch(_))
        ));
        // Dropping the last sent ciphertext's proof and ciphertext does not
        // give a valid one-of-3.
        let (c3, _) = encrypt_contest(
            &pk,
            &[1, 0, 0],
            &ContestRule::approval(3).unwrap(),
            &ctx,
            &mut rng,
        )
        .unwrap();
        assert!(c3
            .verify(&pk, &ContestRule::one_of(3).unwrap(), &ctx)
            .is_err());
    }

    #[test]
    fn batch_of_many_contests() {
        let (_, pk, _, mut rng) = setup();
        let rule = ContestRule::one_of(4).unwrap();
        let ctxs: Vec<ProofContext> = (0..6u64)
            .map(|i| ProofContext::new([2u8; 32]).with_u64(b"ballot", i))
            .collect();
        let contests: Vec<EncryptedContest> = ctxs
            .iter()
            .enumerate()
            .map(|(i, ctx)| {
                let mut sel = vec![0; 4];
                sel[i % 4] = 1;
                encrypt_contest(&pk, &sel, &rule, ctx, &mut rng).unwrap().0
            })
            .collect();
        verify_contests_batched(&pk, &rule, contests.iter().zip(&ctxs), OsRng).unwrap();
        // A contest presented under another ballot's context breaks the batch.
        let mut shuffled: Vec<&ProofContext> = ctxs.iter().collect();
        shuffled.swap(0, 1);
        assert!(matches!(
            verify_contests_batched(&pk, &rule, contests.iter().zip(shuffled), OsRng),
            Err(ContestError::Proof(ProofError::BatchFailed))
        ));
        let wrong_rule = ContestRule::one_of(3).unwrap();
        assert!(matches!(
            verify_contests_batched(&pk, &wrong_rule, contests.iter().zip(&ctxs), OsRng),
            Err(ContestError::Member { index: 0, .. })
        ));
    }
}
