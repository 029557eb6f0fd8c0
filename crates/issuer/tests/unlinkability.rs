//! The issuer cannot link a credential to the voter it issued it to
//! (`spec/issuer.md` §8.1): what it sees (the blinded message and its blind
//! signature) is unrelated, as bytes and as numbers, to what the ballot
//! later shows (the credential key, the signature and the randomizer).

use std::sync::OnceLock;

use blind_rsa_signatures::reexports::rsa::BigUint;
use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use tallyboard_issuer::credential::{
    blind, blind_sign, finalize, verify_credential, TEST_RSA_BITS,
};
use tallyboard_issuer::IssuerSecretKey;

fn key() -> &'static IssuerSecretKey {
    static K: OnceLock<IssuerSecretKey> = OnceLock::new();
    K.get_or_init(|| {
        IssuerSecretKey::generate(&mut ChaCha20Rng::seed_from_u64(11), TEST_RSA_BITS).expect("key")
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn issuer_view_is_unrelated_to_the_credential(seed in any::<u64>(), fp in any::<[u8; 32]>()) {
        let sk = key();
        let pk = sk.public_key();
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let cred = SigningKey::generate(&mut rng).verifying_key().to_bytes();

        // The same credential blinded twice: two unrelated blinded messages.
        let (blinded, secret) = blind(pk, &fp, &cred, &mut rng).expect("blind");
        let (blinded2, _) = blind(pk, &fp, &cred, &mut rng).expect("blind");
        prop_assert_ne!(&blinded, &blinded2);

        let blind_sig = blind_sign(sk, &blinded).expect("sign");
        let sig = finalize(pk, &secret, &blind_sig).expect("finalize");
        verify_credential(pk.to_der(), &fp, &cred, &sig.signature, &sig.randomizer).expect("verify");

        // What the issuer saw is not what the ballot shows.
        prop_assert_ne!(&sig.signature, &blind_sig);
        prop_assert_ne!(&sig.signature, &blinded);
        for window in blinded.windows(32).chain(blind_sig.windows(32)) {
            prop_assert_ne!(window, &cred[..]);
            prop_assert_ne!(window, &sig.randomizer[..]);
        }

        // As numbers: the encoded message the signature covers (sig^e mod n)
        // differs from the blinded message the issuer signed; they differ by
        // the factor r^e, uniform modulo n and known only to the client.
        let n = BigUint::from_bytes_be(&modulus(pk.to_der()));
        let e = BigUint::from(65_537u32);
        let encoded = BigUint::from_bytes_be(&sig.signature).modpow(&e, &n);
        let seen = BigUint::from_bytes_be(&blinded);
        prop_assert_ne!(&encoded, &seen);
        prop_assert_eq!(BigUint::from_bytes_be(&blind_sig).modpow(&e, &n), seen);
    }
}

/// The modulus of a DER SubjectPublicKeyInfo RSA key.
fn modulus(der: &[u8]) -> Vec<u8> {
    use blind_rsa_signatures::reexports::rsa::pkcs8::DecodePublicKey;
    use blind_rsa_signatures::reexports::rsa::{PublicKeyParts, RsaPublicKey};
    RsaPublicKey::from_public_key_der(der)
        .expect("key")
        .n()
        .to_bytes_be()
}
