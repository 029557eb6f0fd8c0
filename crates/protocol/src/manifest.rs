//! Manifest validation and the election fingerprint (`spec/manifest.md`,
//! `spec/record.md` §2.3).
//!
//! A manifest arrives as protobuf inside the first entry. [`validate_manifest`]
//! turns it into an [`ElectionManifest`] — the only form the rest of the code
//! sees — or says which field breaks rule R2.2.

use std::collections::{HashMap, HashSet};

use ed25519_dalek::VerifyingKey;
use sha2::{Digest, Sha256};
use tallyboard_proto::v1;

use crate::ballot::ContestSpec;
use crate::credential::{parse_issuer_key, IssuerPublicKey};
use crate::entry::{parse_verifying_key, Digest32};
use crate::error::{invalid, RuleError};
use crate::rules;

/// Domain prefix of the election fingerprint.
pub const FINGERPRINT_DST: &[u8] = b"tallyboard/v1/election-fingerprint\n";

/// Limits on manifest contents (`spec/manifest.md` §4).
pub mod limits {
    /// Longest identifier (election, district, contest, option).
    pub const MAX_ID_LEN: usize = 64;
    /// Longest title or name, in bytes.
    pub const MAX_TITLE_LEN: usize = 256;
    /// Most trustees.
    pub const MAX_TRUSTEES: usize = 255;
    /// Most districts.
    pub const MAX_DISTRICTS: usize = 2_000;
    /// Most contests.
    pub const MAX_CONTESTS: usize = 64;
    /// Most options per contest.
    pub const MAX_OPTIONS: usize = 64;
    /// Largest per-option points maximum (weights up to 2³²).
    pub const MAX_POINTS: u64 = u32::MAX as u64;
    /// Largest RSA issuer key, DER bytes.
    pub const MAX_RSA_KEY_LEN: usize = 1_024;
    /// Most witnesses.
    pub const MAX_WITNESSES: usize = 32;
    /// Longest witness key name, in bytes.
    pub const MAX_WITNESS_NAME_LEN: usize = 128;
}

/// The election fingerprint: SHA-256 of the domain prefix and the manifest
/// entry's exact body bytes.
pub fn fingerprint(manifest_body_bytes: &[u8]) -> Digest32 {
    let mut h = Sha256::new();
    h.update(FINGERPRINT_DST);
    h.update(manifest_body_bytes);
    h.finalize().into()
}

/// A validated contest rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Exactly one option.
    OneOfN,
    /// Between `min` and `max` options.
    KOfN {
        /// Minimum selections.
        min: u32,
        /// Maximum selections.
        max: u32,
    },
    /// Any subset.
    Approval,
    /// Points voting.
    Points {
        /// Per-option maximum.
        per_option_max: u64,
        /// Budget.
        budget: u64,
        /// Must the budget be spent exactly.
        exact: bool,
    },
}

/// A validated manifest together with its fingerprint.
#[derive(Debug, Clone)]
pub struct ElectionManifest {
    /// The protobuf as posted.
    pub raw: v1::Manifest,
    /// The election fingerprint.
    pub fingerprint: Digest32,
    /// Administrator key.
    pub admin_key: VerifyingKey,
    /// Issuer's Ed25519 key for `Issuance` entries.
    pub issuer_signing_key: VerifyingKey,
    /// Trustee signing keys by index (1-based; position 0 is trustee 1).
    pub trustee_keys: Vec<VerifyingKey>,
    /// Threshold t.
    pub threshold: u32,
    /// District id → position.
    pub districts: HashMap<String, usize>,
    /// Contest id → position.
    pub contests: HashMap<String, usize>,
    /// Validated rules, by contest position.
    pub rules: Vec<Rule>,
    /// Revote policy (never `Unspecified`).
    pub revote_policy: v1::RevotePolicy,
    /// Whether this election is a caucus.
    pub is_caucus: bool,
    /// Parsed issuer RSA keys, by district position.
    pub issuer_keys: Vec<IssuerPublicKey>,
    /// How each contest's ballots are proven valid, by contest position.
    pub specs: Vec<ContestSpec>,
    /// The witnesses (key name, cosignature key), in manifest order
    /// (`spec/manifest.md` §2.9).
    pub witnesses: Vec<(String, VerifyingKey)>,
}

impl ElectionManifest {
    /// The trustee index (1-based) whose signing key is `key`, if any.
    pub fn trustee_index(&self, key: &VerifyingKey) -> Option<u32> {
        self.trustee_keys
            .iter()
            .position(|k| k == key)
            .and_then(|i| u32::try_from(i + 1).ok())
    }
}

fn check_id(id: &str, what: &str) -> Result<(), RuleError> {
    let ok = !id.is_empty()
        && id.len() <= limits::MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            rules::MANIFEST_VALID,
            format!(
                "{what} {id:?}: identifiers are 1–{} characters of [A-Za-z0-9._-]",
                limits::MAX_ID_LEN
            ),
        ))
    }
}

fn check_title(t: &str, what: &str) -> Result<(), RuleError> {
    if t.len() > limits::MAX_TITLE_LEN {
        return Err(invalid(
            rules::MANIFEST_VALID,
            format!("{what}: longer than {} bytes", limits::MAX_TITLE_LEN),
        ));
    }
    Ok(())
}

/// Parses a non-negative decimal with at most 4 fraction digits ("12.3456").
pub fn parse_decimal4(s: &str) -> Option<u64> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if int.is_empty() || int.len() > 12 || frac.len() > 4 {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let i: u64 = int.parse().ok()?;
    let mut f: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    for _ in frac.len()..4 {
        f *= 10;
    }
    i.checked_mul(10_000)?.checked_add(f)
}

/// Validates a manifest (rule R2.2) and computes its fingerprint from the
/// exact body bytes of the entry that carries it.
pub fn validate_manifest(
    m: &v1::Manifest,
    body_bytes: &[u8],
) -> Result<ElectionManifest, RuleError> {
    let bad = |msg: String| invalid(rules::MANIFEST_VALID, msg);
    check_id(&m.election_id, "election_id")?;
    check_title(&m.title, "title")?;
    let admin_key = parse_verifying_key(&m.admin_key, rules::MANIFEST_VALID, "admin_key")?;
    let issuer_signing_key = parse_verifying_key(
        &m.issuer_signing_key,
        rules::MANIFEST_VALID,
        "issuer_signing_key",
    )?;
    if m.board_origin.is_empty()
        || m.board_origin.len() > limits::MAX_TITLE_LEN
        || m.board_origin.contains('\n')
    {
        return Err(bad("board_origin must be a non-empty single line".into()));
    }
    let board_key = parse_verifying_key(&m.board_key, rules::MANIFEST_VALID, "board_key")?;

    // Trustees.
    let ts = m
        .trustees
        .as_ref()
        .ok_or_else(|| bad("trustees missing".into()))?;
    let n = ts.trustees.len();
    if n == 0 || n > limits::MAX_TRUSTEES {
        return Err(bad(format!(
            "trustees: need 1 to {} trustees, got {n}",
            limits::MAX_TRUSTEES
        )));
    }
    if ts.threshold == 0 || ts.threshold as usize > n {
        return Err(bad(format!(
            "trustees: threshold {} must be in 1..={n}",
            ts.threshold
        )));
    }
    let mut trustee_keys = Vec::with_capacity(n);
    let mut seen_sign = HashSet::new();
    for (pos, t) in ts.trustees.iter().enumerate() {
        if t.index as usize != pos + 1 {
            return Err(bad(format!(
                "trustees: trustee at position {pos} has index {}, expected {}",
                t.index,
                pos + 1
            )));
        }
        check_title(&t.name, "trustee name")?;
        let k = parse_verifying_key(&t.signing_key, rules::MANIFEST_VALID, "trustee signing_key")?;
        if !seen_sign.insert(k.to_bytes()) || k == admin_key {
            return Err(bad(format!(
                "trustees: trustee {} reuses a signing key",
                t.index
            )));
        }
        trustee_keys.push(k);
    }

    // Districts.
    if m.districts.is_empty() || m.districts.len() > limits::MAX_DISTRICTS {
        return Err(bad(format!(
            "districts: need 1 to {}, got {}",
            limits::MAX_DISTRICTS,
            m.districts.len()
        )));
    }
    let mut districts = HashMap::new();
    let mut issuer_keys = Vec::with_capacity(m.districts.len());
    for (pos, d) in m.districts.iter().enumerate() {
        check_id(&d.id, "district id")?;
        check_title(&d.name, "district name")?;
        if d.issuer_rsa_key.is_empty() || d.issuer_rsa_key.len() > limits::MAX_RSA_KEY_LEN {
            return Err(bad(format!(
                "district {}: issuer_rsa_key must be 1..={} bytes of DER",
                d.id,
                limits::MAX_RSA_KEY_LEN
            )));
        }
        if !d.sde_weight.is_empty() && parse_decimal4(&d.sde_weight).is_none() {
            return Err(bad(format!(
                "district {}: sde_weight {:?} is not a decimal with ≤ 4 fraction digits",
                d.id, d.sde_weight
            )));
        }
        let key = parse_issuer_key(&d.issuer_rsa_key)
            .map_err(|e| bad(format!("district {}: issuer_rsa_key: {e}", d.id)))?;
        issuer_keys.push(key);
        if districts.insert(d.id.clone(), pos).is_some() {
            return Err(bad(format!("districts: duplicate id {}", d.id)));
        }
    }

    // Contests.
    if m.contests.is_empty() || m.contests.len() > limits::MAX_CONTESTS {
        return Err(bad(format!(
            "contests: need 1 to {}, got {}",
            limits::MAX_CONTESTS,
            m.contests.len()
        )));
    }
    let mut contests = HashMap::new();
    let mut rules_out = Vec::with_capacity(m.contests.len());
    let mut specs = Vec::with_capacity(m.contests.len());
    for (pos, c) in m.contests.iter().enumerate() {
        check_id(&c.id, "contest id")?;
        check_title(&c.title, "contest title")?;
        let k = c.options.len();
        if k == 0 || k > limits::MAX_OPTIONS {
            return Err(bad(format!(
                "contest {}: need 1 to {} options, got {k}",
                c.id,
                limits::MAX_OPTIONS
            )));
        }
        let mut opts = HashSet::new();
        for o in &c.options {
            check_id(&o.id, "option id")?;
            check_title(&o.title, "option title")?;
            if !opts.insert(o.id.as_str()) {
                return Err(bad(format!("contest {}: duplicate option {}", c.id, o.id)));
            }
        }
        for d in &c.districts {
            if !districts.contains_key(d) {
                return Err(bad(format!("contest {}: unknown district {d}", c.id)));
            }
        }
        use v1::contest_rule::Kind;
        let rule = match c.rule.as_ref().and_then(|r| r.kind.as_ref()) {
            None => return Err(bad(format!("contest {}: rule missing", c.id))),
            Some(Kind::OneOfN(_)) => Rule::OneOfN,
            Some(Kind::Approval(_)) => Rule::Approval,
            Some(Kind::KOfN(r)) => {
                if r.min > r.max || r.max as usize > k || r.max == 0 {
                    return Err(bad(format!(
                        "contest {}: k-of-n needs 0 ≤ min ≤ max ≤ {k}, max ≥ 1 (got {}..{})",
                        c.id, r.min, r.max
                    )));
                }
                Rule::KOfN {
                    min: r.min,
                    max: r.max,
                }
            }
            Some(Kind::Points(p)) => {
                if p.per_option_max == 0
                    || p.per_option_max > limits::MAX_POINTS
                    || p.budget == 0
                    || p.budget > limits::MAX_POINTS
                {
                    return Err(bad(format!(
                        "contest {}: points need 1 ≤ per_option_max, budget ≤ {}",
                        c.id,
                        limits::MAX_POINTS
                    )));
                }
                Rule::Points {
                    per_option_max: p.per_option_max,
                    budget: p.budget,
                    exact: p.exact,
                }
            }
        };
        if contests.insert(c.id.clone(), pos).is_some() {
            return Err(bad(format!("contests: duplicate id {}", c.id)));
        }
        let spec =
            ContestSpec::from_rule(rule, k).map_err(|e| bad(format!("contest {}: {e}", c.id)))?;
        specs.push(spec);
        rules_out.push(rule);
    }

    let revote_policy = match v1::RevotePolicy::try_from(m.revote_policy) {
        Ok(v1::RevotePolicy::Unspecified) => v1::RevotePolicy::LastCounts,
        Ok(p) => p,
        Err(_) => {
            return Err(bad(format!(
                "revote_policy: unknown value {}",
                m.revote_policy
            )))
        }
    };

    let is_caucus = if let Some(c) = &m.caucus {
        let pos = contests.get(&c.alignment_contest).copied().ok_or_else(|| {
            bad(format!(
                "caucus: alignment_contest {:?} is not a contest",
                c.alignment_contest
            ))
        })?;
        if rules_out[pos] != Rule::OneOfN {
            return Err(bad("caucus: the alignment contest must be one-of-n".into()));
        }
        if !c.uncommitted_option.is_empty()
            && !m.contests[pos]
                .options
                .iter()
                .any(|o| o.id == c.uncommitted_option)
        {
            return Err(bad(format!(
                "caucus: uncommitted_option {:?} is not an option of the alignment contest",
                c.uncommitted_option
            )));
        }
        if !(c.viability_rule.is_empty() || c.viability_rule == "idp-2020") {
            return Err(bad(format!(
                "caucus: unknown viability_rule {:?}",
                c.viability_rule
            )));
        }
        true
    } else {
        false
    };

    let witnesses = validate_witnesses(m, &board_key)?;
    Ok(ElectionManifest {
        raw: m.clone(),
        fingerprint: fingerprint(body_bytes),
        admin_key,
        issuer_signing_key,
        trustee_keys,
        threshold: ts.threshold,
        districts,
        contests,
        rules: rules_out,
        revote_policy,
        is_caucus,
        issuer_keys,
        specs,
        witnesses,
    })
}

/// The manifest's witnesses (`spec/manifest.md` §2.9): at most
/// [`limits::MAX_WITNESSES`]; each name a C2SP key name (1 to 128 bytes, no
/// whitespace, no `+`) unique in the manifest; each key a valid Ed25519 key
/// used by no other witness and not the board's.
fn validate_witnesses(
    m: &v1::Manifest,
    board_key: &VerifyingKey,
) -> Result<Vec<(String, VerifyingKey)>, RuleError> {
    let bad = |msg: String| invalid(rules::MANIFEST_VALID, msg);
    if m.witnesses.len() > limits::MAX_WITNESSES {
        return Err(bad(format!(
            "witnesses: at most {}, got {}",
            limits::MAX_WITNESSES,
            m.witnesses.len()
        )));
    }
    let mut names = HashSet::new();
    let mut keys = HashSet::new();
    let mut out = Vec::with_capacity(m.witnesses.len());
    for w in &m.witnesses {
        let name_ok = !w.name.is_empty()
            && w.name.len() <= limits::MAX_WITNESS_NAME_LEN
            && !w.name.chars().any(|c| c.is_whitespace() || c == '+');
        if !name_ok {
            return Err(bad(format!(
                "witnesses: name {:?} must be 1 to {} bytes without whitespace or '+'",
                w.name,
                limits::MAX_WITNESS_NAME_LEN
            )));
        }
        if !names.insert(w.name.as_str()) {
            return Err(bad(format!("witnesses: name {:?} appears twice", w.name)));
        }
        let key = parse_verifying_key(&w.key, rules::MANIFEST_VALID, "witness key")?;
        if !keys.insert(key.to_bytes()) || key == *board_key {
            return Err(bad(format!(
                "witnesses: witness {:?} reuses a key (of another witness or the board)",
                w.name
            )));
        }
        out.push((w.name.clone(), key));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal4() {
        assert_eq!(parse_decimal4("12.3456"), Some(123_456));
        assert_eq!(parse_decimal4("12.3"), Some(123_000));
        assert_eq!(parse_decimal4("7"), Some(70_000));
        assert_eq!(parse_decimal4("1.23456"), None);
        assert_eq!(parse_decimal4("-1"), None);
        assert_eq!(parse_decimal4(".5"), None);
        assert_eq!(parse_decimal4(""), None);
    }
}
