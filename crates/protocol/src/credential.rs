//! Voter credentials (`spec/issuer.md` §2).
//!
//! A credential is an Ed25519 key pair made by the voter's client. The
//! district's issuer signs, blindly (RFC 9474, RSABSSA-SHA384-PSS-Randomized),
//! the message
//!
//! ```text
//! "tallyboard/v1/credential\n" ‖ election_fingerprint (32) ‖ credential_public_key (32)
//! ```
//!
//! so the issuer never sees the credential key it signs and cannot link a
//! ballot to a voter, while anyone can check that the credential was issued
//! for the district whose key signed it.
//!
//! # Verification
//!
//! RFC 9474 §4.5 `Verify(pk, msg, sig)` is `RSASSA-PSS-VERIFY` (RFC 8017
//! §8.1.2) of the prepared message, with the variant's parameters (§5). For
//! RSABSSA-SHA384-PSS-Randomized these are SHA-384, MGF1 with SHA-384 and a
//! salt length of 48 bytes, and the prepared message is
//! `msg_prefix (32 bytes, the ballot's randomizer) ‖ msg` (§4.1
//! PrepareRandomize). [`verify_credential`] runs exactly that, with `ring`'s
//! `RSA_PSS_2048_8192_SHA384` (RSASSA-PSS, SHA-384, MGF1-SHA-384, salt
//! length = digest length = 48): the signature must be exactly `k` bytes and,
//! as an integer, below `n` (RSAVP1), and the encoded message must carry a
//! 48-byte salt. The issuer's key is parsed and checked once per election
//! ([`parse_issuer_key`]), not per ballot.

use blind_rsa_signatures::reexports::rsa::pkcs8::{DecodePublicKey as _, EncodePublicKey as _};
use blind_rsa_signatures::reexports::rsa::{BigUint, PublicKeyParts as _, RsaPublicKey};
use blind_rsa_signatures::Options;
use ring::signature::{RsaPublicKeyComponents, RSA_PSS_2048_8192_SHA384};

/// Domain prefix of the credential message.
pub const CREDENTIAL_DST: &[u8] = b"tallyboard/v1/credential\n";

/// Length of the RFC 9474 message randomizer (`msg_prefix`).
pub const RANDOMIZER_LEN: usize = 32;

/// Smallest issuer key, in bits (`spec/issuer.md` §2.2).
pub const MIN_ISSUER_KEY_BITS: usize = 2048;
/// Largest issuer key, in bits (`spec/issuer.md` §2.2).
pub const MAX_ISSUER_KEY_BITS: usize = 4096;
/// Largest DER issuer key parsed (a 4096-bit SubjectPublicKeyInfo is 550
/// bytes).
pub const MAX_ISSUER_KEY_DER: usize = 800;

/// Length of the message the issuer signs (`spec/issuer.md` §2.1).
const MESSAGE_LEN: usize = CREDENTIAL_DST.len() + 64;

/// A district's RFC 9474 issuer public key, parsed and checked once
/// ([`parse_issuer_key`], `spec/issuer.md` §2.2): a canonical DER
/// SubjectPublicKeyInfo `rsaEncryption` key of 2048 to 4096 bits (a multiple
/// of 8) with public exponent 3 or 65537. Always used with
/// RSABSSA-SHA384-PSS-Randomized ([`credential_options`]).
#[derive(Clone)]
pub struct IssuerPublicKey {
    /// Modulus and exponent, big-endian without leading zeros.
    components: RsaPublicKeyComponents<Box<[u8]>>,
    /// The canonical DER SubjectPublicKeyInfo.
    der: Box<[u8]>,
    /// Modulus size in bits.
    bits: usize,
}

impl std::fmt::Debug for IssuerPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerPublicKey")
            .field("bits", &self.bits)
            .finish_non_exhaustive()
    }
}

impl PartialEq for IssuerPublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Eq for IssuerPublicKey {}

impl IssuerPublicKey {
    /// The canonical DER SubjectPublicKeyInfo (the manifest's
    /// `District.issuer_rsa_key`).
    pub fn to_der(&self) -> &[u8] {
        &self.der
    }

    /// The modulus size in bits.
    pub fn modulus_bits(&self) -> usize {
        self.bits
    }

    /// The modulus size in bytes (`k`): the length of every signature.
    pub fn modulus_len(&self) -> usize {
        self.bits.div_ceil(8)
    }
}

/// The RFC 9474 variant of credentials: RSABSSA-SHA384-PSS-Randomized
/// (SHA-384, 48-byte salt, a 32-byte message randomizer), the variant the RFC
/// recommends. For the blind-signature flow (blind, blind sign, finalize).
pub fn credential_options() -> Options {
    Options::default()
}

/// Why a credential does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// The issuer key is not a canonical DER SubjectPublicKeyInfo RSA key of
    /// 2048–4096 bits (a multiple of 8) with e = 3 or 65537.
    #[error("issuer key is not a canonical DER SubjectPublicKeyInfo RSA key of 2048 to 4096 bits")]
    BadIssuerKey,
    /// The randomizer is not 32 bytes.
    #[error("credential randomizer must be 32 bytes, got {0}")]
    BadRandomizer(usize),
    /// The signature does not verify.
    #[error("credential signature does not verify under the district's issuer key")]
    BadSignature,
}

/// The message the issuer blind-signs.
pub fn credential_message(election_fingerprint: &[u8; 32], credential_key: &[u8; 32]) -> Vec<u8> {
    let mut m = Vec::with_capacity(MESSAGE_LEN);
    m.extend_from_slice(CREDENTIAL_DST);
    m.extend_from_slice(election_fingerprint);
    m.extend_from_slice(credential_key);
    m
}

/// Parses an issuer key (`spec/issuer.md` §2.2): DER SubjectPublicKeyInfo
/// with the `rsaEncryption` algorithm, canonically encoded (the exact bytes a
/// re-encoding produces: no PKCS#1, no PEM, no trailing bytes, minimal
/// integers), a modulus of 2048 to 4096 bits that is a multiple of 8 and
/// odd, and public exponent 3 or 65537.
pub fn parse_issuer_key(der: &[u8]) -> Result<IssuerPublicKey, CredentialError> {
    if der.is_empty() || der.len() > MAX_ISSUER_KEY_DER {
        return Err(CredentialError::BadIssuerKey);
    }
    let rsa = RsaPublicKey::from_public_key_der(der).map_err(|_| CredentialError::BadIssuerKey)?;
    let canonical = rsa
        .to_public_key_der()
        .map_err(|_| CredentialError::BadIssuerKey)?;
    if canonical.as_bytes() != der {
        return Err(CredentialError::BadIssuerKey);
    }
    let n = rsa.n().to_bytes_be();
    let bits = rsa.n().bits();
    let odd = n.last().is_some_and(|b| b & 1 == 1);
    if !(MIN_ISSUER_KEY_BITS..=MAX_ISSUER_KEY_BITS).contains(&bits)
        || !bits.is_multiple_of(8)
        || !odd
    {
        return Err(CredentialError::BadIssuerKey);
    }
    if *rsa.e() != BigUint::from(3u32) && *rsa.e() != BigUint::from(65_537u32) {
        return Err(CredentialError::BadIssuerKey);
    }
    Ok(IssuerPublicKey {
        components: RsaPublicKeyComponents {
            n: n.into_boxed_slice(),
            e: rsa.e().to_bytes_be().into_boxed_slice(),
        },
        der: der.into(),
        bits,
    })
}

/// Checks the issuer's signature on a credential key (`spec/issuer.md` §2.4):
/// RFC 9474 `Verify(pk, randomizer ‖ m, sig)` for
/// RSABSSA-SHA384-PSS-Randomized (see the module documentation).
pub fn verify_credential(
    issuer_key: &IssuerPublicKey,
    election_fingerprint: &[u8; 32],
    credential_key: &[u8; 32],
    signature: &[u8],
    randomizer: &[u8],
) -> Result<(), CredentialError> {
    if randomizer.len() != RANDOMIZER_LEN {
        return Err(CredentialError::BadRandomizer(randomizer.len()));
    }
    let mut input = [0u8; RANDOMIZER_LEN + MESSAGE_LEN];
    let (prefix, msg) = input.split_at_mut(RANDOMIZER_LEN);
    prefix.copy_from_slice(randomizer);
    let (dst, rest) = msg.split_at_mut(CREDENTIAL_DST.len());
    dst.copy_from_slice(CREDENTIAL_DST);
    let (fp, key) = rest.split_at_mut(32);
    fp.copy_from_slice(election_fingerprint);
    key.copy_from_slice(credential_key);
    issuer_key
        .components
        .verify(&RSA_PSS_2048_8192_SHA384, &input, signature)
        .map_err(|_| CredentialError::BadSignature)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use blind_rsa_signatures::reexports::rsa::pkcs1::EncodeRsaPublicKey as _;
    use blind_rsa_signatures::reexports::rsa::RsaPrivateKey;
    use blind_rsa_signatures::{
        DefaultRng, Hash, KeyPair, MessageRandomizer, PublicKey, SecretKey, Signature,
    };

    /// A credential made through the real RFC 9474 flow: blind (client),
    /// blind sign (issuer), finalize (client, which verifies).
    struct Issued {
        fp: [u8; 32],
        cred: [u8; 32],
        sig: Vec<u8>,
        rnd: [u8; 32],
    }

    fn issue(kp: &KeyPair, opts: &Options, fp: [u8; 32], cred: [u8; 32]) -> Issued {
        let msg = credential_message(&fp, &cred);
        let b = kp.pk.blind(&mut DefaultRng, &msg, true, opts).unwrap();
        let bs = kp
            .sk
            .blind_sign(&mut DefaultRng, &b.blind_msg, opts)
            .unwrap();
        let sig = kp
            .pk
            .finalize(&bs, &b.secret, b.msg_randomizer, &msg, opts)
            .unwrap();
        Issued {
            fp,
            cred,
            sig: sig.0,
            rnd: b.msg_randomizer.unwrap().0,
        }
    }

    /// The blind-rsa-signatures verifier (the reference implementation of
    /// the flow).
    fn reference(pk: &PublicKey, fp: &[u8; 32], cred: &[u8; 32], sig: &[u8], rnd: &[u8]) -> bool {
        let Ok(r) = <[u8; 32]>::try_from(rnd) else {
            return false;
        };
        pk.verify(
            &Signature(sig.to_vec()),
            Some(MessageRandomizer(r)),
            credential_message(fp, cred),
            &credential_options(),
        )
        .is_ok()
    }

    fn ours(pk: &IssuerPublicKey, fp: &[u8; 32], cred: &[u8; 32], sig: &[u8], rnd: &[u8]) -> bool {
        verify_credential(pk, fp, cred, sig, rnd).is_ok()
    }

    fn keypair(bits: usize, e: u32) -> KeyPair {
        let sk = RsaPrivateKey::new_with_exp(&mut DefaultRng, bits, &BigUint::from(e)).unwrap();
        KeyPair {
            pk: PublicKey(sk.to_public_key()),
            sk: SecretKey(sk),
        }
    }

    fn key_of(kp: &KeyPair) -> IssuerPublicKey {
        parse_issuer_key(&kp.pk.to_der().unwrap()).unwrap()
    }

    /// Both verifiers agree on `n` credentials issued under `kp` and on
    /// every tampering of them.
    fn cross_check(kp: &KeyPair, other: &KeyPair, n: u8) {
        let opts = credential_options();
        let pk = key_of(kp);
        let other_pk = key_of(other);
        let k = pk.modulus_len();
        assert_eq!(k * 8, kp.pk.0.n().bits());
        let modulus = kp.pk.0.n().clone();
        for i in 0..n {
            let c = issue(kp, &opts, [i; 32], [i ^ 0x5a; 32]);
            let (fp, cred, sig, rnd) = (&c.fp, &c.cred, &c.sig[..], &c.rnd[..]);
            assert_eq!(sig.len(), k);
            assert!(reference(&kp.pk, fp, cred, sig, rnd), "credential {i}");
            assert!(ours(&pk, fp, cred, sig, rnd), "credential {i}");
            // Any bit of the signature.
            for bit in [0, 7, 8 * k / 2, 8 * k - 1] {
                let mut s = sig.to_vec();
                s[bit / 8] ^= 1 << (bit % 8);
                assert!(!reference(&kp.pk, fp, cred, &s, rnd));
                assert!(!ours(&pk, fp, cred, &s, rnd));
            }
            // Truncated, extended, empty.
            for s in [&sig[1..], &[sig, &[0][..]].concat()[..], &[]] {
                assert!(!reference(&kp.pk, fp, cred, s, rnd));
                assert!(!ours(&pk, fp, cred, s, rnd));
            }
            // The message: another election, another credential key.
            let mut fp2 = *fp;
            fp2[31] ^= 0x80;
            let mut cred2 = *cred;
            cred2[0] ^= 1;
            for (f, c) in [(&fp2, cred), (fp, &cred2)] {
                assert!(!reference(&kp.pk, f, c, sig, rnd));
                assert!(!ours(&pk, f, c, sig, rnd));
            }
            // The randomizer: one bit, or the wrong length.
            let mut r2 = c.rnd;
            r2[i as usize % 32] ^= 4;
            for r in [&r2[..], &rnd[..31], &[rnd, &[0][..]].concat()[..], &[]] {
                assert!(!reference(&kp.pk, fp, cred, sig, r));
                assert!(!ours(&pk, fp, cred, sig, r));
            }
            assert_eq!(
                verify_credential(&pk, fp, cred, sig, &rnd[..31]),
                Err(CredentialError::BadRandomizer(31))
            );
            // Another issuer's key.
            assert!(!reference(&other.pk, fp, cred, sig, rnd));
            assert!(!ours(&other_pk, fp, cred, sig, rnd));
            // s + n, when it still fits in k bytes: the same residue, but
            // not a signature representative (RFC 8017 RSAVP1 requires
            // s < n). Refused here; rsa 0.8 (under blind-rsa-signatures)
            // reduces it and accepts.
            let big = BigUint::from_bytes_be(sig) + &modulus;
            let big = big.to_bytes_be();
            if big.len() == k {
                assert!(!ours(&pk, fp, cred, &big, rnd));
            }
        }
    }

    #[test]
    fn ring_and_blind_rsa_signatures_agree_on_issued_credentials() {
        let kp = crate::testkit::sample_issuer_rsa();
        let other = keypair(2048, 65_537);
        cross_check(kp, &other, 48);
    }

    #[test]
    fn they_agree_with_exponent_3_and_a_3072_bit_key() {
        let e3 = keypair(2048, 3);
        let big = keypair(3072, 65_537);
        cross_check(&e3, &big, 8);
        cross_check(&big, &e3, 4);
    }

    /// RFC 9474 §5: this variant's salt is 48 bytes. A client could finalize
    /// a signature whose PSS encoding has another salt length (here the
    /// PSSZERO variant's empty salt); it is not a credential of this variant.
    #[test]
    fn a_signature_of_another_salt_length_is_refused() {
        let kp = crate::testkit::sample_issuer_rsa();
        let pk = key_of(kp);
        let zero_salt = Options::new(Hash::Sha384, true, 0);
        let c = issue(kp, &zero_salt, [3; 32], [4; 32]);
        assert!(!ours(&pk, &c.fp, &c.cred, &c.sig, &c.rnd));
        let c = issue(kp, &credential_options(), [3; 32], [4; 32]);
        assert!(ours(&pk, &c.fp, &c.cred, &c.sig, &c.rnd));
    }

    #[test]
    fn the_message_layout_is_the_spec_s() {
        let m = credential_message(&[1; 32], &[2; 32]);
        assert_eq!(m.len(), 89);
        assert_eq!(m.len(), MESSAGE_LEN);
        assert!(m.starts_with(CREDENTIAL_DST));
        assert_eq!(&m[25..57], &[1; 32]);
        assert_eq!(&m[57..], &[2; 32]);
    }

    #[test]
    fn only_canonical_spki_keys_of_the_allowed_sizes_and_exponents_parse() {
        let kp = crate::testkit::sample_issuer_rsa();
        let der = kp.pk.to_der().unwrap();
        let pk = parse_issuer_key(&der).unwrap();
        assert_eq!(pk.to_der(), &der[..]);
        assert_eq!(pk.modulus_bits(), 2048);
        assert_eq!(pk.modulus_len(), 256);
        assert!(format!("{pk:?}").contains("2048"));
        let refused = |der: &[u8]| {
            assert_eq!(
                parse_issuer_key(der).map(|_| ()),
                Err(CredentialError::BadIssuerKey)
            );
        };
        // PKCS#1 RSAPublicKey (what blind-rsa-signatures also accepts).
        refused(kp.pk.0.to_pkcs1_der().unwrap().as_bytes());
        // Trailing bytes; a truncated key.
        refused(&[&der[..], &[0][..]].concat());
        refused(&der[..der.len() - 1]);
        // Non-canonical DER: the outer length in a longer form.
        let mut long = vec![0x30, 0x83, 0x00];
        long.extend_from_slice(&der[2..]);
        refused(&long);
        // PEM.
        refused(kp.pk.to_pem().unwrap().as_bytes());
        // Garbage, empty, oversized.
        for der in [&[][..], &[0x30, 0x03, 0x02, 0x01, 0xff], &[0u8; 801]] {
            refused(der);
        }
        // Sizes and exponents.
        let spki = |n: BigUint, e: u32| {
            RsaPublicKey::new(n, BigUint::from(e))
                .unwrap()
                .to_public_key_der()
                .unwrap()
                .as_bytes()
                .to_vec()
        };
        let n = kp.pk.0.n().clone();
        assert!(parse_issuer_key(&spki(n.clone(), 3)).is_ok());
        refused(&spki(n.clone(), 17));
        refused(&spki(n.clone(), 65_539));
        // 1024 bits; 2050 bits (not a multiple of 8); an even modulus.
        let small = RsaPrivateKey::new(&mut DefaultRng, 1024).unwrap();
        refused(&spki(small.n().clone(), 65_537));
        refused(&spki((n.clone() << 2usize) + 1u32, 65_537));
        refused(&spki(n + 1u32, 65_537));
    }
}
