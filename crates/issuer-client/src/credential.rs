//! Credential cryptography (`spec/issuer.md` §2). Pure functions, no I/O.
//!
//! A credential is an Ed25519 key pair made by the voter's client. The
//! district's issuer signs, blindly, the message
//!
//! ```text
//! m = "tallyboard/v1/credential\n" ‖ election_fingerprint (32 bytes) ‖ credential_public_key (32 bytes)
//! ```
//!
//! with RFC 9474 RSABSSA-SHA384-PSS-Randomized (SHA-384, MGF1-SHA-384, a
//! 48-byte PSS salt and a 32-byte message randomizer), the variant the RFC
//! recommends (§5 and §7.1 there): the randomizer makes the signed message
//! unpredictable to the signer, so the signer cannot choose the message
//! that is encoded, and PSS with a random salt keeps the signature
//! distribution independent of the message. The protocol is
//!
//! ```text
//! client:  (blinded, secret) = Blind(pk, m)          blind(), with a 32-byte randomizer
//! issuer:  blind_sig         = BlindSign(sk, blinded) blind_sign()
//! client:  sig               = Finalize(pk, m, blind_sig, secret)  finalize(): verifies
//! anyone:  Verify(pk, randomizer ‖ m, sig)           verify_credential()
//! ```
//!
//! `blinded` is uniformly distributed modulo `n` whatever `m` is, so the
//! issuer, who sees `blinded` and `blind_sig`, learns nothing that links
//! them to the `(m, sig)` later published on a ballot.
//!
//! Issuer keys are 2048 to 4096 bits, a multiple of 8 ([`MIN_RSA_BITS`],
//! [`MAX_RSA_BITS`]); [`DEFAULT_RSA_BITS`] (3072, about 128-bit security)
//! for production, [`TEST_RSA_BITS`] (2048) in tests and demos, where key
//! generation time matters. Public keys are encoded as DER
//! SubjectPublicKeyInfo (`rsaEncryption`), exactly the bytes of the
//! manifest's `District.issuer_rsa_key`.

use blind_rsa_signatures::reexports::rsa::{BigUint, PublicKeyParts};
use blind_rsa_signatures::{
    BlindSignature, KeyPair, MessageRandomizer, PublicKey, Secret, SecretKey,
};
use rand_core::{CryptoRng, RngCore};
use zeroize::{Zeroize, Zeroizing};

use tallyboard_protocol::credential as shared;
pub use tallyboard_protocol::credential::{credential_message, CREDENTIAL_DST};

/// Smallest issuer key accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;
/// Largest issuer key accepted, in bits.
pub const MAX_RSA_BITS: usize = 4096;
/// Key size for production elections.
pub const DEFAULT_RSA_BITS: usize = 3072;
/// Key size for tests and demos (key generation is much faster).
pub const TEST_RSA_BITS: usize = 2048;
/// Length of the RFC 9474 message randomizer.
pub const RANDOMIZER_LEN: usize = 32;
/// Length of an election fingerprint and of a credential public key.
pub const KEY_LEN: usize = 32;
/// Largest DER public key parsed (a 4096-bit SPKI is 550 bytes).
pub const MAX_PUBLIC_KEY_DER: usize = 800;

/// Why a credential operation failed. Never panics on malformed input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// The issuer public key is not a DER SubjectPublicKeyInfo RSA key with
    /// public exponent 3 or 65537, canonically encoded.
    #[error("issuer key is not a canonical DER SubjectPublicKeyInfo RSA key")]
    MalformedPublicKey,
    /// The issuer secret key does not parse or is inconsistent.
    #[error("issuer secret key is malformed")]
    MalformedSecretKey,
    /// The key size is outside 2048..=4096 bits or not a multiple of 8.
    #[error("RSA key of {0} bits: issuer keys must have 2048 to 4096 bits, a multiple of 8")]
    KeySize(usize),
    /// The election fingerprint is not 32 bytes.
    #[error("election fingerprint must be 32 bytes, got {0}")]
    FingerprintLength(usize),
    /// The credential public key is not 32 bytes.
    #[error("credential public key must be 32 bytes, got {0}")]
    CredentialKeyLength(usize),
    /// The credential public key is not a valid Ed25519 key (or has small order).
    #[error("credential public key is not a valid Ed25519 key")]
    CredentialKeyInvalid,
    /// The blinded message is not modulus-sized.
    #[error("blinded message must be {expected} bytes (the modulus size), got {got}")]
    BlindedMessageLength {
        /// The modulus size in bytes.
        expected: usize,
        /// The length received.
        got: usize,
    },
    /// The blinded message is not an integer below the modulus.
    #[error("blinded message is not an integer below the issuer's modulus")]
    BlindedMessageRange,
    /// The blind signature is not modulus-sized.
    #[error("blind signature must be {expected} bytes, got {got}")]
    BlindSignatureLength {
        /// The modulus size in bytes.
        expected: usize,
        /// The length received.
        got: usize,
    },
    /// The signature is not modulus-sized.
    #[error("credential signature must be {expected} bytes, got {got}")]
    SignatureLength {
        /// The modulus size in bytes.
        expected: usize,
        /// The length received.
        got: usize,
    },
    /// The randomizer is not 32 bytes.
    #[error("credential randomizer must be 32 bytes, got {0}")]
    RandomizerLength(usize),
    /// The signature does not verify.
    #[error("credential signature does not verify under the district's issuer key")]
    BadSignature,
    /// An RSA operation failed unexpectedly (e.g. key generation).
    #[error("RSA operation failed: {0}")]
    Internal(&'static str),
}

/// Checks an issuer key size: 2048..=4096 bits, a multiple of 8.
pub fn check_key_size(bits: usize) -> Result<(), CredentialError> {
    if (MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) && bits.is_multiple_of(8) {
        Ok(())
    } else {
        Err(CredentialError::KeySize(bits))
    }
}

fn modulus_bits(n: &BigUint) -> usize {
    n.bits()
}

/// A district's issuer public key, parsed and checked.
#[derive(Clone)]
pub struct IssuerPublicKey {
    inner: PublicKey,
    der: Vec<u8>,
    /// The same key as the shared rules verify with.
    shared: shared::IssuerPublicKey,
}

impl std::fmt::Debug for IssuerPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The same key as the shared rules', shown the same way.
        std::fmt::Debug::fmt(&self.shared, f)
    }
}

impl PartialEq for IssuerPublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.shared == other.shared
    }
}

impl Eq for IssuerPublicKey {}

impl IssuerPublicKey {
    /// Parses a DER SubjectPublicKeyInfo RSA key. Refuses other encodings
    /// (PKCS#1, PEM, non-canonical DER), keys outside 2048..=4096 bits or
    /// not a multiple of 8 bits, and exponents other than 3 and 65537.
    pub fn from_der(der: &[u8]) -> Result<Self, CredentialError> {
        if der.is_empty() || der.len() > MAX_PUBLIC_KEY_DER {
            return Err(CredentialError::MalformedPublicKey);
        }
        use blind_rsa_signatures::reexports::rsa::pkcs8::DecodePublicKey as _;
        let rsa = blind_rsa_signatures::reexports::rsa::RsaPublicKey::from_public_key_der(der)
            .map_err(|_| CredentialError::MalformedPublicKey)?;
        let bits = modulus_bits(rsa.n());
        check_key_size(bits)?;
        let inner = PublicKey::from_der(der).map_err(|_| CredentialError::MalformedPublicKey)?;
        // One key, one encoding: the bytes must be what we would write.
        let canonical = inner
            .to_der()
            .map_err(|_| CredentialError::MalformedPublicKey)?;
        if canonical != der {
            return Err(CredentialError::MalformedPublicKey);
        }
        // The shared rules' parser applies the same rules (spec/issuer.md §2.2).
        let shared =
            shared::parse_issuer_key(der).map_err(|_| CredentialError::MalformedPublicKey)?;
        Ok(IssuerPublicKey {
            inner,
            der: canonical,
            shared,
        })
    }

    fn from_inner(inner: PublicKey) -> Result<Self, CredentialError> {
        let der = inner
            .to_der()
            .map_err(|_| CredentialError::Internal("encode public key"))?;
        Self::from_der(&der)
    }

    /// The DER SubjectPublicKeyInfo bytes (the manifest's `issuer_rsa_key`).
    pub fn to_der(&self) -> &[u8] {
        &self.der
    }

    /// The modulus size in bytes: the length of blinded messages, blind
    /// signatures and signatures.
    pub fn modulus_len(&self) -> usize {
        self.inner.0.size()
    }

    /// The modulus size in bits.
    pub fn modulus_bits(&self) -> usize {
        modulus_bits(self.inner.0.n())
    }

    /// The key as the shared rules (`tallyboard_protocol::credential`) use it.
    pub fn as_protocol_key(&self) -> &shared::IssuerPublicKey {
        &self.shared
    }
}

/// A district's issuer secret key. Debug prints `[REDACTED]`; the key
/// material is zeroized when dropped (by the `rsa` crate).
#[derive(Clone)]
pub struct IssuerSecretKey {
    inner: SecretKey,
    public: IssuerPublicKey,
}

impl std::fmt::Debug for IssuerSecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IssuerSecretKey([REDACTED])")
    }
}

impl IssuerSecretKey {
    /// Generates a key of `bits` bits (2048..=4096, a multiple of 8) with
    /// public exponent 65537.
    pub fn generate<R: RngCore + CryptoRng>(
        rng: &mut R,
        bits: usize,
    ) -> Result<Self, CredentialError> {
        check_key_size(bits)?;
        let kp = KeyPair::generate(rng, bits)
            .map_err(|_| CredentialError::Internal("RSA key generation"))?;
        let public = IssuerPublicKey::from_inner(kp.pk)?;
        if public.modulus_bits() != bits {
            return Err(CredentialError::Internal(
                "generated key has the wrong size",
            ));
        }
        Ok(IssuerSecretKey {
            inner: kp.sk,
            public,
        })
    }

    /// Parses a PKCS#8 DER private key and checks it (consistency of the
    /// primes and exponents, size).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, CredentialError> {
        use blind_rsa_signatures::reexports::rsa::pkcs8::DecodePrivateKey as _;
        // Only PKCS#8 (SecretKey::from_der would also take PKCS#1).
        let mut rsa = blind_rsa_signatures::reexports::rsa::RsaPrivateKey::from_pkcs8_der(der)
            .map_err(|_| CredentialError::MalformedSecretKey)?;
        rsa.validate()
            .map_err(|_| CredentialError::MalformedSecretKey)?;
        rsa.precompute()
            .map_err(|_| CredentialError::MalformedSecretKey)?;
        check_key_size(modulus_bits(rsa.n()))?;
        let inner = SecretKey(rsa);
        let pk = inner
            .public_key()
            .map_err(|_| CredentialError::MalformedSecretKey)?;
        let public = IssuerPublicKey::from_inner(pk)?;
        Ok(IssuerSecretKey { inner, public })
    }

    /// The PKCS#8 DER encoding (zeroized when dropped).
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, CredentialError> {
        self.inner
            .to_der()
            .map(Zeroizing::new)
            .map_err(|_| CredentialError::Internal("encode secret key"))
    }

    /// The public key.
    pub fn public_key(&self) -> &IssuerPublicKey {
        &self.public
    }
}

/// What the client keeps between [`blind`] and [`finalize`]: the RFC 9474
/// blinding inverse, the message randomizer and the message. Whoever holds
/// it can link the blinded message to the credential, so it is zeroized on
/// drop and Debug prints `[REDACTED]`.
pub struct BlindingSecret {
    secret: Zeroizing<Vec<u8>>,
    randomizer: [u8; RANDOMIZER_LEN],
    message: Vec<u8>,
    modulus_len: usize,
}

impl Drop for BlindingSecret {
    fn drop(&mut self) {
        self.randomizer.zeroize();
        self.message.zeroize();
    }
}

impl std::fmt::Debug for BlindingSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlindingSecret([REDACTED])")
    }
}

/// The issuer's signature on a credential key, as carried by a ballot
/// (`Ballot.credential_signature`, `Ballot.credential_randomizer`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialSignature {
    /// The RSA signature (modulus-sized).
    pub signature: Vec<u8>,
    /// The RFC 9474 message randomizer.
    pub randomizer: [u8; RANDOMIZER_LEN],
}

fn fixed32(bytes: &[u8], err: fn(usize) -> CredentialError) -> Result<[u8; 32], CredentialError> {
    bytes.try_into().map_err(|_| err(bytes.len()))
}

/// Client: blinds the credential message for `fingerprint` and the
/// credential public key `credential_key` under the district key `pk`.
/// Returns the blinded message to send to the issuer and the secret to keep
/// for [`finalize`]. Refuses a credential key that is not a valid Ed25519
/// key, so an enrollment code is never spent on a useless credential.
pub fn blind<R: RngCore + CryptoRng>(
    pk: &IssuerPublicKey,
    fingerprint: &[u8],
    credential_key: &[u8],
    rng: &mut R,
) -> Result<(Vec<u8>, BlindingSecret), CredentialError> {
    let fingerprint = fixed32(fingerprint, CredentialError::FingerprintLength)?;
    let credential_key = fixed32(credential_key, CredentialError::CredentialKeyLength)?;
    // The board's rule for author keys (spec/crypto.md §10.1, rule 1).
    tallyboard_protocol::entry::parse_verifying_key(
        &credential_key,
        "credential",
        "credential key",
    )
    .map_err(|_| CredentialError::CredentialKeyInvalid)?;
    let message = credential_message(&fingerprint, &credential_key);
    let result = pk
        .inner
        .blind(rng, &message, true, &shared::credential_options())
        .map_err(|_| CredentialError::Internal("blind"))?;
    let randomizer = result
        .msg_randomizer
        .map(|r| r.0)
        .ok_or(CredentialError::Internal("blind returned no randomizer"))?;
    let blinded = result.blind_msg.0.clone();
    let secret = Zeroizing::new(result.secret.0.clone());
    let mut leftover = result.secret;
    leftover.0.zeroize();
    Ok((
        blinded,
        BlindingSecret {
            secret,
            randomizer,
            message,
            modulus_len: pk.modulus_len(),
        },
    ))
}

/// Issuer: signs a blinded message with the district key. Checks that it is
/// modulus-sized and below the modulus; the RSA operation is blinded
/// internally and its result checked before it is returned.
pub fn blind_sign(sk: &IssuerSecretKey, blinded: &[u8]) -> Result<Vec<u8>, CredentialError> {
    check_blinded(sk.public_key(), blinded)?;
    let mut rng = rand_core::OsRng;
    sk.inner
        .blind_sign(&mut rng, blinded, &shared::credential_options())
        .map(|s| s.0)
        .map_err(|_| CredentialError::BlindedMessageRange)
}

/// Checks that `blinded` is a possible blinded message for `pk`: exactly
/// modulus-sized and, as an integer, below the modulus.
pub fn check_blinded(pk: &IssuerPublicKey, blinded: &[u8]) -> Result<(), CredentialError> {
    let expected = pk.modulus_len();
    if blinded.len() != expected {
        return Err(CredentialError::BlindedMessageLength {
            expected,
            got: blinded.len(),
        });
    }
    if &BigUint::from_bytes_be(blinded) >= pk.inner.0.n() {
        return Err(CredentialError::BlindedMessageRange);
    }
    Ok(())
}

/// Client: unblinds the issuer's answer and verifies the resulting
/// signature before returning it.
pub fn finalize(
    pk: &IssuerPublicKey,
    secret: &BlindingSecret,
    blind_signature: &[u8],
) -> Result<CredentialSignature, CredentialError> {
    let expected = pk.modulus_len();
    if blind_signature.len() != expected {
        return Err(CredentialError::BlindSignatureLength {
            expected,
            got: blind_signature.len(),
        });
    }
    if secret.modulus_len != expected {
        return Err(CredentialError::BadSignature);
    }
    let sig = pk
        .inner
        .finalize(
            &BlindSignature(blind_signature.to_vec()),
            &Secret(secret.secret.to_vec()),
            Some(MessageRandomizer(secret.randomizer)),
            &secret.message,
            &shared::credential_options(),
        )
        .map_err(|_| CredentialError::BadSignature)?;
    Ok(CredentialSignature {
        signature: sig.0,
        randomizer: secret.randomizer,
    })
}

/// Anyone: checks the issuer's signature on a credential key, given the
/// district's issuer key as DER SubjectPublicKeyInfo.
pub fn verify_credential(
    issuer_key_der: &[u8],
    fingerprint: &[u8],
    credential_key: &[u8],
    signature: &[u8],
    randomizer: &[u8],
) -> Result<(), CredentialError> {
    let pk = IssuerPublicKey::from_der(issuer_key_der)?;
    verify_credential_with(&pk, fingerprint, credential_key, signature, randomizer)
}

/// [`verify_credential`] with a key parsed once (for verifying many ballots).
pub fn verify_credential_with(
    pk: &IssuerPublicKey,
    fingerprint: &[u8],
    credential_key: &[u8],
    signature: &[u8],
    randomizer: &[u8],
) -> Result<(), CredentialError> {
    let fingerprint = fixed32(fingerprint, CredentialError::FingerprintLength)?;
    let credential_key = fixed32(credential_key, CredentialError::CredentialKeyLength)?;
    if randomizer.len() != RANDOMIZER_LEN {
        return Err(CredentialError::RandomizerLength(randomizer.len()));
    }
    let expected = pk.modulus_len();
    if signature.len() != expected {
        return Err(CredentialError::SignatureLength {
            expected,
            got: signature.len(),
        });
    }
    shared::verify_credential(
        &pk.shared,
        &fingerprint,
        &credential_key,
        signature,
        randomizer,
    )
    .map_err(|e| match e {
        shared::CredentialError::BadRandomizer(n) => CredentialError::RandomizerLength(n),
        _ => CredentialError::BadSignature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;
    use std::sync::OnceLock;

    fn key() -> &'static IssuerSecretKey {
        static K: OnceLock<IssuerSecretKey> = OnceLock::new();
        K.get_or_init(|| {
            let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
            IssuerSecretKey::generate(&mut rng, TEST_RSA_BITS)
                .unwrap_or_else(|e| panic!("keygen: {e}"))
        })
    }

    fn cred(seed: u8) -> [u8; 32] {
        ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
            .verifying_key()
            .to_bytes()
    }

    #[test]
    fn round_trip() {
        let sk = key();
        let pk = sk.public_key();
        let fp = [9u8; 32];
        let c = cred(1);
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let (blinded, secret) = blind(pk, &fp, &c, &mut rng).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(blinded.len(), 256);
        let bs = blind_sign(sk, &blinded).unwrap_or_else(|e| panic!("{e}"));
        let sig = finalize(pk, &secret, &bs).unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(sig.signature, bs);
        assert_ne!(sig.signature, blinded);
        verify_credential(pk.to_der(), &fp, &c, &sig.signature, &sig.randomizer)
            .unwrap_or_else(|e| panic!("{e}"));
        // Other fingerprint, other key, other randomizer: refused.
        assert_eq!(
            verify_credential(pk.to_der(), &[8u8; 32], &c, &sig.signature, &sig.randomizer),
            Err(CredentialError::BadSignature)
        );
        assert_eq!(
            verify_credential(pk.to_der(), &fp, &cred(2), &sig.signature, &sig.randomizer),
            Err(CredentialError::BadSignature)
        );
        let mut r = sig.randomizer;
        r[0] ^= 1;
        assert_eq!(
            verify_credential(pk.to_der(), &fp, &c, &sig.signature, &r),
            Err(CredentialError::BadSignature)
        );
        let mut s = sig.signature.clone();
        s[100] ^= 1;
        assert_eq!(
            verify_credential(pk.to_der(), &fp, &c, &s, &sig.randomizer),
            Err(CredentialError::BadSignature)
        );
    }

    #[test]
    fn deterministic_given_the_rng() {
        let pk = key().public_key();
        let run = || {
            let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(42);
            blind(pk, &[1u8; 32], &cred(3), &mut rng)
                .map(|(b, _)| b)
                .unwrap_or_else(|e| panic!("{e}"))
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn garbage_is_refused_without_panics() {
        let sk = key();
        let pk = sk.public_key();
        let n = pk.modulus_len();
        for der in [&b""[..], &[0x30u8; 16][..], &[0xffu8; 900][..]] {
            assert!(IssuerPublicKey::from_der(der).is_err());
            assert!(verify_credential(der, &[0; 32], &cred(1), &[0; 256], &[0; 32]).is_err());
        }
        // PKCS#1 and PEM are not accepted: SPKI DER only.
        assert!(IssuerPublicKey::from_der(pk.to_der().get(24..).unwrap_or_default()).is_err());
        // Trailing bytes make the encoding non-canonical.
        let mut long = pk.to_der().to_vec();
        long.push(0);
        assert_eq!(
            IssuerPublicKey::from_der(&long),
            Err(CredentialError::MalformedPublicKey)
        );
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        assert_eq!(
            blind(pk, &[0; 31], &cred(1), &mut rng).map(|_| ()),
            Err(CredentialError::FingerprintLength(31))
        );
        assert_eq!(
            blind(pk, &[0; 32], &[0; 33], &mut rng).map(|_| ()),
            Err(CredentialError::CredentialKeyLength(33))
        );
        // The identity point has small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            blind(pk, &[0; 32], &identity, &mut rng).map(|_| ()),
            Err(CredentialError::CredentialKeyInvalid)
        );
        // A point of large order with a small y, written as y + p (not
        // canonical): ed25519-dalek decodes it, but the board refuses it as
        // an author key, so blinding it would waste the code.
        let y = (2u8..19)
            .find(|&y| {
                let mut b = [0u8; 32];
                b[0] = y;
                ed25519_dalek::VerifyingKey::from_bytes(&b).is_ok_and(|k| !k.is_weak())
            })
            .expect("a point of large order with y < 19");
        let mut non_canonical = [0xffu8; 32];
        non_canonical[0] = 0xed + y;
        non_canonical[31] = 0x7f;
        assert!(ed25519_dalek::VerifyingKey::from_bytes(&non_canonical).is_ok());
        assert_eq!(
            blind(pk, &[0; 32], &non_canonical, &mut rng).map(|_| ()),
            Err(CredentialError::CredentialKeyInvalid)
        );
        assert_eq!(
            blind_sign(sk, &[1; 10]),
            Err(CredentialError::BlindedMessageLength {
                expected: n,
                got: 10
            })
        );
        assert_eq!(
            blind_sign(sk, &vec![0xff; n]),
            Err(CredentialError::BlindedMessageRange)
        );
        assert_eq!(
            verify_credential(pk.to_der(), &[0; 32], &cred(1), &[0; 12], &[0; 32]),
            Err(CredentialError::SignatureLength {
                expected: n,
                got: 12
            })
        );
        assert_eq!(
            verify_credential(pk.to_der(), &[0; 32], &cred(1), &vec![0; n], &[0; 31]),
            Err(CredentialError::RandomizerLength(31))
        );
        let (_, secret) = blind(pk, &[0; 32], &cred(1), &mut rng).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            finalize(pk, &secret, &[0; 5]),
            Err(CredentialError::BlindSignatureLength {
                expected: n,
                got: 5
            })
        );
        assert_eq!(
            finalize(pk, &secret, &vec![7; n]),
            Err(CredentialError::BadSignature)
        );
        assert_eq!(format!("{secret:?}"), "BlindingSecret([REDACTED])");
        assert_eq!(format!("{sk:?}"), "IssuerSecretKey([REDACTED])");
    }

    #[test]
    fn small_keys_are_refused() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
        assert_eq!(
            IssuerSecretKey::generate(&mut rng, 1024).map(|_| ()),
            Err(CredentialError::KeySize(1024))
        );
        assert_eq!(
            IssuerSecretKey::generate(&mut rng, 2050).map(|_| ()),
            Err(CredentialError::KeySize(2050))
        );
        let small = blind_rsa_signatures::reexports::rsa::RsaPrivateKey::new(&mut rng, 1024)
            .unwrap_or_else(|e| panic!("{e}"));
        use blind_rsa_signatures::reexports::rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
        let der = small
            .to_public_key()
            .to_public_key_der()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(IssuerPublicKey::from_der(der.as_bytes()).is_err());
        let sder = small.to_pkcs8_der().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            IssuerSecretKey::from_pkcs8_der(sder.as_bytes()).map(|_| ()),
            Err(CredentialError::KeySize(1024))
        );
    }

    #[test]
    fn secret_key_round_trip() {
        let sk = key();
        let der = sk.to_pkcs8_der().unwrap_or_else(|e| panic!("{e}"));
        let back = IssuerSecretKey::from_pkcs8_der(&der).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.public_key(), sk.public_key());
        assert!(IssuerSecretKey::from_pkcs8_der(&der[..der.len() - 1]).is_err());
    }
}
