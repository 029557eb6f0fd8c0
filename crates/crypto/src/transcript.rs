//! Strong Fiat–Shamir transcripts (`spec/crypto.md` §4).
//!
//! Every proof in tallyboard is made non-interactive through a merlin
//! transcript that absorbs, in this order:
//!
//! 1. the domain `"tallyboard/v1"` (merlin's `Transcript::new` label);
//! 2. the proof's protocol label (one of [`labels`]), as message `"protocol"`;
//! 3. the 32-byte election fingerprint, as message `"election"`;
//! 4. the caller's context: the number of items as `u64` `"context-items"`,
//!    then each item as message `"context-label"` followed by message
//!    `"context-value"` (credential public key, contest, option, round, trustee
//!    index, …);
//! 5. the whole statement (every generator, public key and ciphertext the
//!    proof speaks of), then the prover's commitments, each under its own label;
//! 6. the challenge: 64 bytes `challenge_bytes("challenge")`, reduced mod ℓ.
//!
//! Because the statement *and* the context are absorbed, a proof cannot be
//! moved to another ballot, credential, election, contest, option or round
//! (the weak Fiat–Shamir flaw of Bernhard–Pereira–Warinschi 2012, and the
//! Cortier–Smyth replay attacks, are excluded by construction).

use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use merlin::Transcript;

/// Every transcript label used by tallyboard. `spec/crypto.md` §4.2 lists them.
pub mod labels {
    /// merlin domain of every transcript.
    pub const DOMAIN: &[u8] = b"tallyboard/v1";
    /// Schnorr proof of knowledge of a discrete logarithm.
    pub const SCHNORR: &[u8] = b"schnorr-pok";
    /// Chaum–Pedersen proof of equality of discrete logarithms.
    pub const CHAUM_PEDERSEN: &[u8] = b"chaum-pedersen-dleq";
    /// Disjunctive (CDS) range proof for a small range [0, R].
    pub const CDS_RANGE: &[u8] = b"cds-range";
    /// Proof that a sum of ciphertexts encrypts exactly L.
    pub const SUM_EXACT: &[u8] = b"sum-exact";
    /// Proof that a sum of ciphertexts encrypts a value in [min, max].
    pub const SUM_RANGE: &[u8] = b"sum-range";
    /// Sigma proof that a Pedersen commitment and a ciphertext hold the same value.
    pub const PEDERSEN_LINK: &[u8] = b"pedersen-elgamal-link";
    /// Aggregated bulletproofs range proof.
    pub const BULLETPROOF_RANGE: &[u8] = b"bulletproof-range";
    /// DKG: proof of knowledge of a polynomial's constant term.
    pub const DKG_POK: &[u8] = b"dkg-coefficient-pok";
    /// Threshold decryption: a trustee's partial decryption.
    pub const PARTIAL_DECRYPTION: &[u8] = b"partial-decryption";

    /// Label of the protocol message.
    pub const PROTOCOL: &[u8] = b"protocol";
    /// Label of the election fingerprint message.
    pub const ELECTION: &[u8] = b"election";
    /// Label of the number of context items.
    pub const CONTEXT_ITEMS: &[u8] = b"context-items";
    /// Label of a context item's name.
    pub const CONTEXT_LABEL: &[u8] = b"context-label";
    /// Label of a context item's value.
    pub const CONTEXT_VALUE: &[u8] = b"context-value";
    /// Label of the challenge.
    pub const CHALLENGE: &[u8] = b"challenge";

    /// Context item: an option's index within a contest, 8 bytes big-endian
    /// (`spec/crypto.md` §8.3).
    pub const CTX_OPTION: &[u8] = b"option";

    /// Statement message: the base point `G` (CDS and sum proofs).
    pub const MSG_G: &[u8] = b"G";
    /// Statement message: the election key `K`.
    pub const MSG_K: &[u8] = b"K";
    /// Statement message: the upper bound `R` of a CDS range `[0, R]` (u64).
    pub const MSG_RANGE: &[u8] = b"R";
    /// Statement message: a ciphertext's `α`.
    pub const MSG_ALPHA: &[u8] = b"alpha";
    /// Statement message: a ciphertext's `β`.
    pub const MSG_BETA: &[u8] = b"beta";
    /// Statement message: the number of ciphertexts of a sum proof (u64).
    pub const MSG_COUNT: &[u8] = b"n";
    /// Statement message: the exact sum `L` (u64).
    pub const MSG_SUM: &[u8] = b"L";
    /// Statement message: the lower bound of a sum range (u64).
    pub const MSG_MIN: &[u8] = b"min";
    /// Statement message: the upper bound of a sum range (u64).
    pub const MSG_MAX: &[u8] = b"max";
    /// Commitment message: a CDS branch's `a_j`.
    pub const MSG_CDS_A: &[u8] = b"a";
    /// Commitment message: a CDS branch's `b_j`.
    pub const MSG_CDS_B: &[u8] = b"b";
    /// Commitment message: the exact-sum proof's `A₁`.
    pub const MSG_A1: &[u8] = b"A1";
    /// Commitment message: the exact-sum proof's `A₂`.
    pub const MSG_A2: &[u8] = b"A2";
}

/// Where a proof belongs: the election and an ordered list of labelled items
/// (credential public key, contest, option, round, trustee index, …). Two
/// proofs made under different contexts never verify for each other.
/// `spec/crypto.md` §4.1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofContext {
    election: [u8; 32],
    items: Vec<(&'static [u8], Vec<u8>)>,
}

impl ProofContext {
    /// A context for the election with this fingerprint and no items.
    pub fn new(election_fingerprint: [u8; 32]) -> Self {
        Self {
            election: election_fingerprint,
            items: Vec::new(),
        }
    }

    /// Appends an item.
    pub fn with(mut self, label: &'static [u8], value: &[u8]) -> Self {
        self.items.push((label, value.to_vec()));
        self
    }

    /// Appends an integer item, encoded as 8 bytes big-endian.
    pub fn with_u64(self, label: &'static [u8], value: u64) -> Self {
        self.with(label, &value.to_be_bytes())
    }

    /// The election fingerprint.
    pub fn election(&self) -> &[u8; 32] {
        &self.election
    }

    /// The items in order.
    pub fn items(&self) -> &[(&'static [u8], Vec<u8>)] {
        &self.items
    }
}

/// A merlin transcript already bound to the domain, protocol, election and
/// context (`spec/crypto.md` §4). Proof modules add the statement and the
/// commitments, then draw the challenge.
#[derive(Clone)]
pub struct ProofTranscript(Transcript);

impl ProofTranscript {
    /// Starts a transcript for `protocol` (one of [`labels`]) under `ctx`.
    pub fn new(protocol: &'static [u8], ctx: &ProofContext) -> Self {
        let mut t = Transcript::new(labels::DOMAIN);
        t.append_message(labels::PROTOCOL, protocol);
        t.append_message(labels::ELECTION, &ctx.election);
        t.append_u64(labels::CONTEXT_ITEMS, ctx.items.len() as u64);
        for (label, value) in &ctx.items {
            t.append_message(labels::CONTEXT_LABEL, label);
            t.append_message(labels::CONTEXT_VALUE, value);
        }
        Self(t)
    }

    /// The part of [`Self::new`]`(protocol, ctx')` that proofs share when
    /// their contexts `ctx'` are `ctx` plus one last item (the options of a
    /// contest, `spec/crypto.md` §8.3): absorbing the prefix once and
    /// cloning it gives the same transcripts as starting each from scratch.
    pub fn prefix(protocol: &'static [u8], ctx: &ProofContext) -> TranscriptPrefix {
        let mut t = Transcript::new(labels::DOMAIN);
        t.append_message(labels::PROTOCOL, protocol);
        t.append_message(labels::ELECTION, &ctx.election);
        t.append_u64(labels::CONTEXT_ITEMS, ctx.items.len() as u64 + 1);
        for (label, value) in &ctx.items {
            t.append_message(labels::CONTEXT_LABEL, label);
            t.append_message(labels::CONTEXT_VALUE, value);
        }
        TranscriptPrefix(t)
    }

    /// Absorbs a point in its canonical 32-byte encoding.
    pub fn append_point(&mut self, label: &'static [u8], p: &RistrettoPoint) {
        self.0.append_message(label, p.compress().as_bytes());
    }

    /// Absorbs an already compressed point (its exact bytes).
    pub fn append_compressed(&mut self, label: &'static [u8], p: &CompressedRistretto) {
        self.0.append_message(label, p.as_bytes());
    }

    /// Absorbs a scalar in its canonical 32-byte encoding.
    pub fn append_scalar(&mut self, label: &'static [u8], s: &Scalar) {
        self.0.append_message(label, s.as_bytes());
    }

    /// Absorbs an integer (merlin's little-endian u64 framing).
    pub fn append_u64(&mut self, label: &'static [u8], v: u64) {
        self.0.append_u64(label, v);
    }

    /// Absorbs raw bytes.
    pub fn append_message(&mut self, label: &'static [u8], m: &[u8]) {
        self.0.append_message(label, m);
    }

    /// Draws the challenge: 64 bytes under label `"challenge"`, reduced mod ℓ.
    pub fn challenge_scalar(&mut self) -> Scalar {
        let mut wide = [0u8; 64];
        self.0.challenge_bytes(labels::CHALLENGE, &mut wide);
        Scalar::from_bytes_mod_order_wide(&wide)
    }

    /// The underlying merlin transcript (for bulletproofs, which takes one).
    pub fn as_merlin_mut(&mut self) -> &mut Transcript {
        &mut self.0
    }
}

/// A transcript bound to the domain, protocol, election and every context
/// item but the last ([`ProofTranscript::prefix`]).
#[derive(Clone)]
pub struct TranscriptPrefix(Transcript);

impl TranscriptPrefix {
    /// A copy completed with the last context item: equal to
    /// `ProofTranscript::new(protocol, &ctx.clone().with(label, value))`.
    pub fn finish(&self, label: &'static [u8], value: &[u8]) -> ProofTranscript {
        let mut t = self.0.clone();
        t.append_message(labels::CONTEXT_LABEL, label);
        t.append_message(labels::CONTEXT_VALUE, value);
        ProofTranscript(t)
    }

    /// [`Self::finish`] with an integer item (8 bytes big-endian, as
    /// [`ProofContext::with_u64`]).
    pub fn finish_u64(&self, label: &'static [u8], value: u64) -> ProofTranscript {
        self.finish(label, &value.to_be_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_then_last_item_equals_a_fresh_transcript() {
        let ctx = ProofContext::new([7; 32]).with(b"contest", b"governor");
        let prefix = ProofTranscript::prefix(labels::CDS_RANGE, &ctx);
        for i in 0..3u64 {
            let mut a = prefix.finish_u64(labels::CTX_OPTION, i);
            let mut b = ProofTranscript::new(
                labels::CDS_RANGE,
                &ctx.clone().with_u64(labels::CTX_OPTION, i),
            );
            assert_eq!(a.challenge_scalar(), b.challenge_scalar());
        }
        let mut a = prefix.finish_u64(labels::CTX_OPTION, 0);
        let mut b = ProofTranscript::new(labels::CDS_RANGE, &ctx);
        assert_ne!(a.challenge_scalar(), b.challenge_scalar());
    }
}
