//! Encryption of DKG shares to recipients' long-term keys
//! (`spec/threshold.md` §5.3).
//!
//! Dealer `j` sends `f_j(i)` to trustee `i` (whose key is `PK_i = x_i·G`)
//! through the public board:
//!
//! ```text
//! e ← random;   E = e·G;   Z = e·PK_i                       (sender)
//!                          Z = x_i·E                        (recipient)
//! key   = HKDF-SHA256(salt = ∅, IKM = Z,
//!                     info = "tallyboard/v1/dkg-share-key" ‖ E ‖ PK_i ‖ election ‖ j ‖ i)   (32 bytes)
//! AAD   = "tallyboard/v1/dkg-share-aad" ‖ election ‖ j ‖ i ‖ E ‖ PK_i
//! ct    = ChaCha20-Poly1305(key, nonce = 0¹², AAD, f_j(i) as a canonical 32-byte scalar)
//! wire  = E ‖ ct ‖ tag                                      (32 + 32 + 16 = 80 bytes)
//! ```
//!
//! Every key is fresh (a new `e` per share), so the all-zero nonce is used
//! exactly once per key. Knowing `Z` is enough to decrypt: that is what makes
//! a complaint verifiable (§5.4), where the recipient publishes `Z` with a
//! proof that `log_G PK_i = log_E Z`.

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};
use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use hkdf::Hkdf;
use rand_core::{CryptoRng, RngCore};
use sha2::Sha256;
use tallyboard_crypto::encoding::Reader;
use tallyboard_crypto::generators::G_table;
use tallyboard_crypto::DecodeError;
use zeroize::{Zeroize, Zeroizing};

use crate::error::ThresholdError;
use crate::keys::{exact_len, TrusteeKeyPair};
use crate::labels;

/// Where a share goes: the election, the dealer `j`, the recipient `i` and
/// the recipient's long-term key `PK_i`. Everything here is bound into the
/// KDF and the AEAD associated data.
#[derive(Clone, Copy, Debug)]
pub struct ShareAddress<'a> {
    /// The election fingerprint.
    pub election: &'a [u8; 32],
    /// The dealer's index `j`.
    pub dealer: u8,
    /// The recipient's index `i`.
    pub recipient: u8,
    /// The recipient's long-term key `PK_i`.
    pub recipient_key: &'a RistrettoPoint,
}

/// One encrypted share `E ‖ ct ‖ tag` (80 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncryptedShare {
    ephemeral: RistrettoPoint,
    ciphertext: [u8; 48],
}

const NONCE: [u8; 12] = [0u8; 12];

/// `HKDF-SHA256(∅, Z, "tallyboard/v1/dkg-share-key" ‖ E ‖ PK_i ‖ election ‖ j ‖ i)`.
pub(crate) fn derive_key(
    dh: &RistrettoPoint,
    ephemeral: &RistrettoPoint,
    to: &ShareAddress<'_>,
) -> Zeroizing<[u8; 32]> {
    let mut ikm = Zeroizing::new(dh.compress().to_bytes());
    let hk = Hkdf::<Sha256>::new(None, ikm.as_slice());
    ikm.zeroize();
    let mut key = Zeroizing::new([0u8; 32]);
    let e_bytes = ephemeral.compress().to_bytes();
    let pk_bytes = to.recipient_key.compress().to_bytes();
    let info: [&[u8]; 6] = [
        labels::DKG_SHARE_KEY,
        &e_bytes,
        &pk_bytes,
        to.election,
        &[to.dealer],
        &[to.recipient],
    ];
    // 32 bytes is far below HKDF-SHA256's 8160-byte limit: cannot fail.
    let _ = hk.expand_multi_info(&info, key.as_mut_slice());
    key
}

/// `"tallyboard/v1/dkg-share-aad" ‖ election ‖ j ‖ i ‖ E ‖ PK_i`.
pub(crate) fn aad(ephemeral: &RistrettoPoint, to: &ShareAddress<'_>) -> Vec<u8> {
    let mut a = Vec::with_capacity(labels::DKG_SHARE_AAD.len() + 98);
    a.extend_from_slice(labels::DKG_SHARE_AAD);
    a.extend_from_slice(to.election);
    a.push(to.dealer);
    a.push(to.recipient);
    a.extend_from_slice(ephemeral.compress().as_bytes());
    a.extend_from_slice(to.recipient_key.compress().as_bytes());
    a
}

impl EncryptedShare {
    /// Encoded length.
    pub const LEN: usize = 80;

    /// Encrypts `share` to `to.recipient_key` with a fresh ephemeral key.
    pub fn encrypt<R: RngCore + CryptoRng>(
        share: &Scalar,
        to: &ShareAddress<'_>,
        rng: &mut R,
    ) -> Self {
        let mut e = tallyboard_crypto::random_scalar(rng);
        let ephemeral = G_table() * &e;
        let dh = e * to.recipient_key;
        e.zeroize();
        let key = derive_key(&dh, &ephemeral, to);
        let cipher = ChaCha20Poly1305::new(Key::from_slice(key.as_slice()));
        let mut buf = Zeroizing::new(share.to_bytes());
        let aad = aad(&ephemeral, to);
        let mut ciphertext = [0u8; 48];
        // ChaCha20-Poly1305 only fails for messages over 256 GiB.
        if let Ok(tag) =
            cipher.encrypt_in_place_detached(Nonce::from_slice(&NONCE), &aad, buf.as_mut_slice())
        {
            ciphertext[..32].copy_from_slice(buf.as_slice());
            ciphertext[32..].copy_from_slice(tag.as_slice());
        }
        Self {
            ephemeral,
            ciphertext,
        }
    }

    /// The dealer's ephemeral key `E`.
    pub fn ephemeral(&self) -> &RistrettoPoint {
        &self.ephemeral
    }

    /// The recipient's decryption: `Z = x_i·E`, then [`Self::decrypt_with_dh`].
    pub fn decrypt(
        &self,
        recipient: &TrusteeKeyPair,
        to: &ShareAddress<'_>,
    ) -> Result<Scalar, ThresholdError> {
        let dh = recipient.secret_scalar() * self.ephemeral;
        self.decrypt_with_dh(&dh, to)
    }

    /// Decrypts with the Diffie–Hellman value `Z` (the recipient's, or the
    /// one published in a complaint). Fails with `ShareDecryptionFailed` if
    /// the AEAD rejects or the plaintext is not a canonical scalar.
    pub fn decrypt_with_dh(
        &self,
        dh: &RistrettoPoint,
        to: &ShareAddress<'_>,
    ) -> Result<Scalar, ThresholdError> {
        let fail = ThresholdError::ShareDecryptionFailed {
            dealer: to.dealer,
            recipient: to.recipient,
        };
        let key = derive_key(dh, &self.ephemeral, to);
        let cipher = ChaCha20Poly1305::new(Key::from_slice(key.as_slice()));
        let mut buf = Zeroizing::new([0u8; 32]);
        buf.copy_from_slice(&self.ciphertext[..32]);
        let tag = Tag::from_slice(&self.ciphertext[32..]);
        cipher
            .decrypt_in_place_detached(
                Nonce::from_slice(&NONCE),
                &aad(&self.ephemeral, to),
                buf.as_mut_slice(),
                tag,
            )
            .map_err(|_| fail.clone())?;
        Option::from(Scalar::from_canonical_bytes(*buf)).ok_or(fail)
    }

    /// `E ‖ ct ‖ tag`.
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        out[..32].copy_from_slice(self.ephemeral.compress().as_bytes());
        out[32..].copy_from_slice(&self.ciphertext);
        out
    }

    /// Canonical decoding: exact length, `E` a canonical non-identity point.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        const WHAT: &str = "encrypted share";
        exact_len(bytes, Self::LEN, WHAT)?;
        let mut r = Reader::new(bytes, WHAT);
        let ephemeral = r.nonidentity_point()?;
        let mut ciphertext = [0u8; 48];
        ciphertext.copy_from_slice(r.bytes(48)?);
        r.finish()?;
        Ok(Self {
            ephemeral,
            ciphertext,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    #[test]
    fn roundtrip_and_binding() {
        let mut rng = ChaCha20Rng::from_seed([3u8; 32]);
        let kp = TrusteeKeyPair::generate(&mut rng);
        let election = [9u8; 32];
        let to = ShareAddress {
            election: &election,
            dealer: 2,
            recipient: 1,
            recipient_key: kp.public_key(),
        };
        let s = tallyboard_crypto::random_scalar(&mut rng);
        let enc = EncryptedShare::encrypt(&s, &to, &mut rng);
        assert_eq!(enc.decrypt(&kp, &to).unwrap(), s);
        let back = EncryptedShare::from_bytes(&enc.to_bytes()).unwrap();
        assert_eq!(back, enc);
        // Another dealer, recipient or election: the AEAD rejects.
        for other in [
            ShareAddress { dealer: 3, ..to },
            ShareAddress { recipient: 2, ..to },
            ShareAddress {
                election: &[8u8; 32],
                ..to
            },
        ] {
            assert!(enc.decrypt(&kp, &other).is_err());
        }
        // Another key: the AEAD rejects.
        let other = TrusteeKeyPair::generate(&mut rng);
        assert!(enc.decrypt(&other, &to).is_err());
    }
}
