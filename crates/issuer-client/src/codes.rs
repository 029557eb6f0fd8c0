//! Enrollment codes and their Argon2id hashes (`spec/issuer.md` §3.2, §3.3).
//!
//! A code is 24 random symbols of Crockford's base-32 alphabet (120 bits
//! from the OS random number generator) and one check symbol, shown in five
//! groups of five: `XXXXX-XXXXX-XXXXX-XXXXX-XXXXC`. Reading is forgiving
//! (case, hyphens and spaces are ignored; `O` reads as `0`, `I` and `L` as
//! `1`), and the check symbol catches most typing errors before they count
//! as a failed attempt.
//!
//! The issuer stores only an Argon2id hash of each code (a PHC string,
//! which carries its own parameters and salt), so a stolen database does not
//! give away the codes, and brute-forcing a 120-bit code offline is out of
//! reach anyway.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand_core::{CryptoRng, OsRng, RngCore};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Crockford's base-32 alphabet (no I, L, O, U).
pub const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Random symbols of a code (24 × 5 = 120 bits).
pub const DATA_SYMBOLS: usize = 24;
/// Symbols of a code, with the check symbol.
pub const CODE_SYMBOLS: usize = DATA_SYMBOLS + 1;
/// Symbols per group when displayed.
pub const GROUP: usize = 5;
/// Longest code input accepted before normalization.
pub const MAX_CODE_INPUT: usize = 64;
/// Domain prefix of the check symbol.
pub const CHECK_DST: &[u8] = b"tallyboard/v1/enrollment-code-check\n";

/// Why a code could not be read or hashed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// The input is longer than [`MAX_CODE_INPUT`] characters.
    #[error("enrollment code is too long")]
    TooLong,
    /// A character is not in the code alphabet.
    #[error("enrollment code contains a character that is not in the code alphabet")]
    BadCharacter,
    /// The code does not have 25 symbols.
    #[error("enrollment code must have {CODE_SYMBOLS} symbols, got {0}")]
    Length(usize),
    /// The check symbol does not match (a typing error).
    #[error("enrollment code check symbol does not match: please re-check the code")]
    Check,
    /// Hashing failed.
    #[error("Argon2id hashing failed: {0}")]
    Hash(String),
}

/// An enrollment code in canonical form (25 symbols, no separators).
/// Zeroized on drop; Debug prints `[REDACTED]`.
#[derive(Clone, PartialEq, Eq)]
pub struct EnrollmentCode(Zeroizing<String>);

impl std::fmt::Debug for EnrollmentCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnrollmentCode([REDACTED])")
    }
}

fn check_symbol(data: &[u8]) -> u8 {
    let digest = Sha256::new()
        .chain_update(CHECK_DST)
        .chain_update(data)
        .finalize();
    ALPHABET[usize::from(digest[0] >> 3)]
}

fn symbol_value(c: u8) -> Option<u8> {
    let c = match c.to_ascii_uppercase() {
        b'O' => b'0',
        b'I' | b'L' => b'1',
        other => other,
    };
    ALPHABET
        .iter()
        .position(|&a| a == c)
        .and_then(|p| u8::try_from(p).ok())
}

impl EnrollmentCode {
    /// A fresh code: 120 bits from `rng` (the OS generator in production).
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut bytes = Zeroizing::new([0u8; 15]);
        rng.fill_bytes(bytes.as_mut());
        Self::from_bytes(&bytes)
    }

    /// The code of 120 random bits: the 15 bytes, most significant bit
    /// first, in 24 base-32 symbols, then the check symbol.
    pub fn from_bytes(bytes: &[u8; 15]) -> Self {
        let mut s = Zeroizing::new(String::with_capacity(CODE_SYMBOLS));
        let mut acc: u32 = 0;
        let mut bits = 0;
        for &b in bytes.iter() {
            acc = ((acc << 8) | u32::from(b)) & 0xffff;
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                s.push(char::from(ALPHABET[((acc >> bits) & 31) as usize]));
            }
        }
        let check = check_symbol(s.as_bytes());
        s.push(char::from(check));
        EnrollmentCode(s)
    }

    /// Reads a code as a voter typed it: ignores case, hyphens and spaces,
    /// reads `O` as `0` and `I`/`L` as `1`, and checks the check symbol.
    pub fn parse(input: &str) -> Result<Self, CodeError> {
        if input.len() > MAX_CODE_INPUT {
            return Err(CodeError::TooLong);
        }
        let mut s = Zeroizing::new(String::with_capacity(CODE_SYMBOLS));
        for c in input.bytes() {
            if c == b'-' || c == b' ' {
                continue;
            }
            let v = symbol_value(c).ok_or(CodeError::BadCharacter)?;
            s.push(char::from(ALPHABET[usize::from(v)]));
        }
        if s.len() != CODE_SYMBOLS {
            return Err(CodeError::Length(s.len()));
        }
        let (data, check) = s.as_bytes().split_at(DATA_SYMBOLS);
        if check[0] != check_symbol(data) {
            return Err(CodeError::Check);
        }
        Ok(EnrollmentCode(s))
    }

    /// The canonical form: 25 symbols, no separators (what is hashed).
    pub fn canonical(&self) -> &str {
        &self.0
    }

    /// The display form, in groups of five: `XXXXX-XXXXX-XXXXX-XXXXX-XXXXX`.
    pub fn display(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::with_capacity(CODE_SYMBOLS + 4));
        for (i, c) in self.0.chars().enumerate() {
            if i > 0 && i % GROUP == 0 {
                out.push('-');
            }
            out.push(c);
        }
        out
    }
}

/// Argon2id parameter sets (`spec/issuer.md` §3.3). The parameters are also
/// written into every PHC string, so verification always uses the ones a
/// code was hashed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Argon2Profile {
    /// OWASP's recommendation: m = 19456 KiB, t = 2, p = 1.
    Default,
    /// Demos and tests: m = 1024 KiB, t = 1, p = 1. Not for real elections.
    Fast,
}

impl Argon2Profile {
    /// `(m_cost KiB, t_cost, p_cost)`.
    pub fn costs(self) -> (u32, u32, u32) {
        match self {
            Argon2Profile::Default => (19_456, 2, 1),
            Argon2Profile::Fast => (1_024, 1, 1),
        }
    }

    /// The profile's name (`default` or `fast`).
    pub fn name(self) -> &'static str {
        match self {
            Argon2Profile::Default => "default",
            Argon2Profile::Fast => "fast",
        }
    }

    /// Parses `default` or `fast`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "default" => Some(Argon2Profile::Default),
            "fast" => Some(Argon2Profile::Fast),
            _ => None,
        }
    }

    fn hasher(self) -> Result<Argon2<'static>, CodeError> {
        let (m, t, p) = self.costs();
        let params = Params::new(m, t, p, Some(32)).map_err(|e| CodeError::Hash(e.to_string()))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// Hashes a code with Argon2id and a fresh 16-byte salt; returns the PHC string.
pub fn hash_code(code: &EnrollmentCode, profile: Argon2Profile) -> Result<String, CodeError> {
    hash_bytes(code.canonical().as_bytes(), profile)
}

fn hash_bytes(password: &[u8], profile: Argon2Profile) -> Result<String, CodeError> {
    let salt = SaltString::generate(&mut OsRng);
    profile
        .hasher()?
        .hash_password(password, &salt)
        .map(|h| h.to_string())
        .map_err(|e| CodeError::Hash(e.to_string()))
}

/// Whether `code` matches the PHC string `phc` (Argon2id only). The
/// comparison of the derived hash is constant-time; a malformed PHC string
/// never matches.
pub fn verify_code(code: &EnrollmentCode, phc: &str) -> bool {
    verify_bytes(code.canonical().as_bytes(), phc)
}

fn verify_bytes(password: &[u8], phc: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    if hash.algorithm != Algorithm::Argon2id.ident() {
        return false;
    }
    Argon2::default().verify_password(password, &hash).is_ok()
}

/// A PHC string with the same parameters as `like`, for a random password
/// nobody knows: verifying against it costs what verifying a real code
/// costs, so unknown voter ids take as long as known ones.
pub fn dummy_hash(like: &str) -> Result<String, CodeError> {
    let hash = PasswordHash::new(like).map_err(|e| CodeError::Hash(e.to_string()))?;
    let params = Params::try_from(&hash).map_err(|e| CodeError::Hash(e.to_string()))?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut secret = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(secret.as_mut());
    let salt = SaltString::generate(&mut OsRng);
    argon
        .hash_password(secret.as_ref(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CodeError::Hash(e.to_string()))
}

/// Hashes many codes on all available cores.
pub fn hash_codes_parallel(
    codes: &[EnrollmentCode],
    profile: Argon2Profile,
) -> Result<Vec<String>, CodeError> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 64);
    let chunk = codes.len().div_ceil(threads).max(1);
    let mut out = Vec::with_capacity(codes.len());
    std::thread::scope(|scope| {
        let handles: Vec<_> = codes
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|c| hash_code(c, profile))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        for h in handles {
            match h.join() {
                Ok(Ok(hashes)) => out.extend(hashes),
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(CodeError::Hash("a hashing thread panicked".into())),
            }
        }
        Ok(())
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;

    #[test]
    fn generate_parse_display() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        for _ in 0..200 {
            let code = EnrollmentCode::generate(&mut rng);
            assert_eq!(code.canonical().len(), CODE_SYMBOLS);
            let shown = code.display();
            assert_eq!(shown.len(), 29);
            assert_eq!(shown.matches('-').count(), 4);
            assert_eq!(EnrollmentCode::parse(&shown), Ok(code.clone()));
            let sloppy = shown.to_lowercase().replace('-', " ");
            assert_eq!(EnrollmentCode::parse(&sloppy), Ok(code.clone()));
            let confusable = code.canonical().replace('0', "o").replace('1', "l");
            assert_eq!(EnrollmentCode::parse(&confusable), Ok(code));
        }
    }

    #[test]
    fn known_answers() {
        let code = EnrollmentCode::from_bytes(&std::array::from_fn(|i| i as u8));
        assert_eq!(code.canonical(), "000G40R40M30E209185GR38EM");
        assert_eq!(code.display().as_str(), "000G4-0R40M-30E20-9185G-R38EM");
        assert_eq!(check_symbol(b"000000000000000000000000"), b'A');
        assert_eq!(check_symbol(b"7ZXK4M9QH2WD1R6TBN3PJ8CA"), b'B');
    }

    #[test]
    fn typos_are_caught() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(2);
        let code = EnrollmentCode::generate(&mut rng);
        let s = code.canonical().to_string();
        assert_eq!(EnrollmentCode::parse(&s[1..]), Err(CodeError::Length(24)));
        assert_eq!(
            EnrollmentCode::parse(&format!("{s}U")),
            Err(CodeError::BadCharacter)
        );
        assert_eq!(
            EnrollmentCode::parse(&"A".repeat(65)),
            Err(CodeError::TooLong)
        );
        // Most single-symbol substitutions are caught by the check symbol.
        let mut caught = 0;
        let mut total = 0;
        for pos in 0..DATA_SYMBOLS {
            for &a in ALPHABET {
                if a == s.as_bytes()[pos] {
                    continue;
                }
                let mut t = s.clone().into_bytes();
                t[pos] = a;
                total += 1;
                if EnrollmentCode::parse(&String::from_utf8_lossy(&t)) == Err(CodeError::Check) {
                    caught += 1;
                }
            }
        }
        assert!(caught * 100 >= total * 90, "{caught}/{total}");
        assert_eq!(format!("{code:?}"), "EnrollmentCode([REDACTED])");
    }

    #[test]
    fn hash_and_verify() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let code = EnrollmentCode::generate(&mut rng);
        let other = EnrollmentCode::generate(&mut rng);
        let phc = hash_code(&code, Argon2Profile::Fast).expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{phc}");
        assert!(verify_code(&code, &phc));
        assert!(!verify_code(&other, &phc));
        assert!(!verify_code(&code, "garbage"));
        assert!(!verify_code(&code, ""));
        let dummy = dummy_hash(&phc).expect("dummy");
        assert!(
            dummy.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"),
            "{dummy}"
        );
        assert!(!verify_code(&code, &dummy));
        // argon2i hashes are not accepted.
        let argon2i = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x13,
            Params::new(1024, 1, 1, None).expect("params"),
        )
        .hash_password(
            code.canonical().as_bytes(),
            &SaltString::generate(&mut OsRng),
        )
        .expect("hash")
        .to_string();
        assert!(!verify_code(&code, &argon2i));
    }

    #[test]
    fn parallel_hashing() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(4);
        let codes: Vec<_> = (0..9).map(|_| EnrollmentCode::generate(&mut rng)).collect();
        let hashes = hash_codes_parallel(&codes, Argon2Profile::Fast).expect("hash");
        assert_eq!(hashes.len(), codes.len());
        for (c, h) in codes.iter().zip(&hashes) {
            assert!(verify_code(c, h));
        }
        assert!(hash_codes_parallel(&[], Argon2Profile::Fast)
            .expect("empty")
            .is_empty());
    }
}
