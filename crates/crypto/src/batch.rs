//! Batch verification (`spec/crypto.md` §5).
//!
//! Every verifier in this crate checks equations of the form
//! `Σᵢ cᵢ·Pᵢ = 0`. Instead of checking each equation on its own, a
//! [`BatchVerifier`] multiplies equation `j` by a fresh random weight `ρⱼ`
//! drawn by the *verifier* and checks the single equation
//! `Σⱼ ρⱼ·(Σᵢ cⱼᵢ·Pⱼᵢ) = 0` with one variable-time multiscalar
//! multiplication. Coefficients on bases shared by many equations (`G`, `H`,
//! the election key) are summed first, so each shared base costs one term.
//!
//! If every equation holds, the batch holds. If any fails, the batch fails
//! except with probability ≤ 1/ℓ per batch (the weights are uniform scalars
//! unknown to the prover). A failed batch does not say which member failed:
//! callers re-verify one by one to identify it.
//!
//! All inputs are public (proofs, statements), so variable-time arithmetic
//! is safe here.
//!
//! A batch is independent of every other batch: to use several cores, split
//! the proofs into chunks and verify one `BatchVerifier` per chunk on its own
//! thread (the type is `Send` whenever its RNG is).

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use rand_core::{CryptoRng, RngCore};

use crate::elgamal::PublicKey;
use crate::generators;

/// A base of an equation term.
#[derive(Clone, Copy, Debug)]
pub enum Base {
    /// The base point `G`.
    G,
    /// The Pedersen blinding generator `H`.
    H,
    /// A base registered with [`BatchVerifier::register`] (e.g. the election key).
    Shared(SharedBase),
    /// Any other point.
    Point(RistrettoPoint),
}

/// Handle of a base registered with [`BatchVerifier::register`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SharedBase(usize);

/// Collects weighted equations and checks them all at once.
pub struct BatchVerifier<R: RngCore + CryptoRng> {
    rng: R,
    g: Scalar,
    h: Scalar,
    shared: Vec<(Scalar, RistrettoPoint)>,
    scalars: Vec<Scalar>,
    points: Vec<RistrettoPoint>,
    equations: usize,
    keys: Vec<([u8; 32], SharedBase)>,
}

impl<R: RngCore + CryptoRng> BatchVerifier<R> {
    /// An empty batch whose weights come from `rng` (use the OS RNG: the
    /// weights must be unpredictable to whoever made the proofs).
    pub fn new(rng: R) -> Self {
        Self {
            rng,
            g: Scalar::ZERO,
            h: Scalar::ZERO,
            shared: Vec::new(),
            scalars: Vec::new(),
            points: Vec::new(),
            equations: 0,
            keys: Vec::new(),
        }
    }

    /// Registers a base that many equations use, so its coefficients are
    /// summed into a single term.
    pub fn register(&mut self, base: RistrettoPoint) -> SharedBase {
        self.shared.push((Scalar::ZERO, base));
        SharedBase(self.shared.len() - 1)
    }

    /// Adds the equation `Σ coeff·base = 0`, multiplied by a fresh random weight.
    pub fn push_equation<I>(&mut self, terms: I)
    where
        I: IntoIterator<Item = (Scalar, Base)>,
    {
        let w = crate::random_scalar(&mut self.rng);
        self.push_weighted(w, terms);
    }

    /// Adds the equation `Σ coeff·base = 0`, multiplied by a fresh uniformly
    /// random **128-bit** weight (`spec/crypto.md` §5.1). A false equation
    /// then slips through with probability at most 2⁻¹²⁸.
    ///
    /// Use this where a term's coefficient is exactly 1 (a proof's
    /// commitment, written with coefficient +1): its weighted coefficient is
    /// the short weight itself, and the multiscalar multiplication skips the
    /// upper half of its digits. Commitment-form proofs in this crate write
    /// their equations as `A − z·B + c·Y = 0` for this reason.
    pub fn push_equation_short<I>(&mut self, terms: I)
    where
        I: IntoIterator<Item = (Scalar, Base)>,
    {
        let mut b = [0u8; 16];
        self.rng.fill_bytes(&mut b);
        let w = Scalar::from(u128::from_le_bytes(b));
        self.push_weighted(w, terms);
    }

    /// Registers the election key (or any public key) as a shared base,
    /// once per batch: later calls with the same key return the same handle,
    /// so every equation of every ballot in the batch adds its coefficient of
    /// `K` to one term (`spec/crypto.md` §5.3).
    pub fn register_public_key(&mut self, pk: &PublicKey) -> SharedBase {
        let key = pk.to_bytes();
        if let Some((_, h)) = self.keys.iter().find(|(k, _)| *k == key) {
            return *h;
        }
        let h = self.register(*pk.point());
        self.keys.push((key, h));
        h
    }

    /// Number of terms the final multiscalar multiplication will have.
    pub fn terms(&self) -> usize {
        self.points.len() + self.shared.len() + 2
    }

    fn push_weighted<I>(&mut self, w: Scalar, terms: I)
    where
        I: IntoIterator<Item = (Scalar, Base)>,
    {
        for (c, base) in terms {
            // A commitment's coefficient is 1 (spec/crypto.md §5.1).
            let wc = if c == Scalar::ONE { w } else { w * c };
            match base {
                Base::G => self.g += wc,
                Base::H => self.h += wc,
                Base::Shared(SharedBase(i)) => {
                    if let Some(slot) = self.shared.get_mut(i) {
                        slot.0 += wc;
                    } else {
                        // An unknown handle can only come from another batch:
                        // make the batch fail rather than panic.
                        self.scalars.push(Scalar::ONE);
                        self.points.push(generators::G());
                    }
                }
                Base::Point(p) => {
                    self.scalars.push(wc);
                    self.points.push(p);
                }
            }
        }
        self.equations += 1;
    }

    /// Number of equations pushed so far.
    pub fn len(&self) -> usize {
        self.equations
    }

    /// Whether no equation was pushed.
    pub fn is_empty(&self) -> bool {
        self.equations == 0
    }

    /// Checks every pushed equation with one multiscalar multiplication.
    /// Variable time: inputs are public.
    pub fn vartime_verify(self) -> bool {
        let Self {
            g,
            h,
            shared,
            mut scalars,
            mut points,
            ..
        } = self;
        scalars.push(g);
        points.push(generators::G());
        scalars.push(h);
        points.push(generators::H());
        for (c, p) in shared {
            scalars.push(c);
            points.push(p);
        }
        RistrettoPoint::vartime_multiscalar_mul(&scalars, &points).is_identity()
    }
}
