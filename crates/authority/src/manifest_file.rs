//! The manifest file: TOML that the administrator writes and
//! [`load_manifest`] turns into the protobuf [`v1::Manifest`] posted as
//! entry 0 (`spec/manifest.md` §2, §3).
//!
//! Keys may be given inline (hex, base64, C2SP vkey) or as paths relative to
//! the manifest file, so a manifest can name the `.pub` files that
//! `tallyboard admin keygen` and `tallyboard trustee keygen` write. The
//! result is checked with [`tallyboard_protocol::validate_manifest`], the
//! same function the board and the verifier run, so a manifest that loads
//! is one the board accepts (if it names that board).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Deserialize;
use tallyboard_protocol::v1;
use tallyboard_tlog::NoteVerifier as _;

use crate::error::AuthorityError;
use crate::keys::{board_verifier, public_key_from_hex_or_file};

/// The manifest file as written (`spec/manifest.md` §2).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestFile {
    /// Stable election identifier.
    pub election_id: String,
    /// Human-readable title.
    pub title: String,
    /// The administrator's Ed25519 public key: hex or a path.
    pub admin_key: String,
    /// The issuer's Ed25519 key for issuance entries: hex or a path (of a
    /// file holding the hex). Optional with `issuer_keys`.
    #[serde(default)]
    pub issuer_signing_key: Option<String>,
    /// The issuer's exported public keys (`issuer-keys.json` of its data
    /// directory): supplies `issuer_signing_key` and every district's RSA key
    /// not given otherwise.
    #[serde(default)]
    pub issuer_keys: Option<String>,
    /// Which ballot counts when a credential votes several times.
    #[serde(default)]
    pub revote_policy: RevotePolicyFile,
    /// The planned voting window (informational).
    #[serde(default)]
    pub voting: VotingWindow,
    /// The board that holds the record.
    pub board: BoardFile,
    /// The trustees.
    pub trustees: TrusteesFile,
    /// Districts, in order.
    pub districts: Vec<DistrictFile>,
    /// Contests, in ballot order.
    pub contests: Vec<ContestFile>,
    /// Caucus rules, for a caucus.
    #[serde(default)]
    pub caucus: Option<CaucusFile>,
    /// The witnesses expected to cosign the board's checkpoints.
    #[serde(default)]
    pub witnesses: Vec<WitnessFile>,
}

/// One `[[witnesses]]` (`spec/manifest.md` §2.9).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessFile {
    /// The witness's cosignature verifier key
    /// (`<name>+<key id>+<base64(0x04 || key)>`, as printed by
    /// `tallyboard witness init`), or the path of a file holding it.
    pub key: String,
}

/// `revote_policy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevotePolicyFile {
    /// The last ballot counts (default).
    #[default]
    LastCounts,
    /// The first ballot counts.
    FirstCounts,
}

/// A point in time: a TOML offset date-time (`2028-02-03T19:00:00Z`) or
/// milliseconds since the Unix epoch.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum TimeFile {
    /// Milliseconds since the Unix epoch.
    UnixMs(u64),
    /// A TOML date-time with an offset.
    Datetime(toml::value::Datetime),
}

/// `[voting]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VotingWindow {
    /// Planned opening.
    #[serde(default)]
    pub opens: Option<TimeFile>,
    /// Planned close.
    #[serde(default)]
    pub closes: Option<TimeFile>,
}

/// `[board]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoardFile {
    /// The board's C2SP verifier key (`<origin>+<key id>+<base64>`), or the
    /// path of its `board.pub`.
    pub key: String,
    /// The checkpoint origin; must equal the key's name if given.
    #[serde(default)]
    pub origin: Option<String>,
}

/// `[trustees]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrusteesFile {
    /// How many trustees must cooperate to decrypt.
    pub threshold: u32,
    /// The number of trustees, if given: must equal the number of members.
    #[serde(default)]
    pub n: Option<u32>,
    /// The trustees, in index order (the first is trustee 1).
    pub members: Vec<TrusteeFile>,
}

/// One `[[trustees.members]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrusteeFile {
    /// Display name.
    pub name: String,
    /// Ed25519 public key that signs the trustee's entries: hex or a path.
    pub signing_key: String,
}

/// One `[[districts]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistrictFile {
    /// Identifier.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// The issuer's RSA public key, base64 of the DER SubjectPublicKeyInfo.
    #[serde(default)]
    pub issuer_rsa_key: Option<String>,
    /// Or a file: DER, PEM (`PUBLIC KEY`), or the issuer's exported keys
    /// (JSON objects with `district` and `issuer_rsa_key` fields, as in
    /// `issuer-keys.json`, or one `district-id base64` pair per line), from
    /// which this district's key is taken.
    #[serde(default)]
    pub issuer_rsa_key_file: Option<String>,
    /// Delegates (caucus).
    #[serde(default)]
    pub delegates: u32,
    /// State delegate equivalents (caucus), decimal with ≤ 4 fraction digits.
    #[serde(default)]
    pub sde_weight: Option<SdeWeight>,
}

/// An SDE weight, written as a string (`"12.5"`) or an integer.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SdeWeight {
    /// Decimal string.
    Text(String),
    /// Integer.
    Integer(u64),
}

/// One `[[contests]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContestFile {
    /// Identifier.
    pub id: String,
    /// Display title.
    #[serde(default)]
    pub title: String,
    /// Options in ballot order.
    pub options: Vec<OptionFile>,
    /// The selection rule.
    pub rule: RuleFile,
    /// Districts where the contest appears (default: all).
    #[serde(default)]
    pub districts: Vec<String>,
}

/// A contest option: `"id"` or `{ id = "…", title = "…" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OptionFile {
    /// Just an id (the title is the id).
    Id(String),
    /// Id and title.
    Full {
        /// Identifier.
        id: String,
        /// Display title.
        #[serde(default)]
        title: Option<String>,
    },
}

/// A contest rule: `"one_of_n"`, `"approval"`,
/// `{ k_of_n = { min = 1, max = 2 } }` or
/// `{ points = { per_option_max = 5, budget = 10, exact = false } }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleFile {
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
        /// Most points per option.
        per_option_max: u64,
        /// Points per ballot.
        budget: u64,
        /// Whether the budget must be spent exactly.
        #[serde(default)]
        exact: bool,
    },
}

/// `[caucus]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaucusFile {
    /// The one-of-n contest of the first alignment.
    pub alignment_contest: String,
    /// The option id of "uncommitted", if any.
    #[serde(default)]
    pub uncommitted_option: String,
    /// The viability rule (`idp-2020`).
    #[serde(default = "default_viability")]
    pub viability_rule: String,
}

fn default_viability() -> String {
    "idp-2020".into()
}

fn bad(msg: impl Into<String>) -> AuthorityError {
    AuthorityError::Manifest(msg.into())
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: u8) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Milliseconds since the Unix epoch of a TOML offset date-time.
pub fn datetime_to_unix_ms(dt: &toml::value::Datetime) -> Result<u64, String> {
    let (Some(date), Some(time), Some(offset)) = (dt.date, dt.time, dt.offset) else {
        return Err(format!(
            "{dt}: give a full date-time with an offset, e.g. 2028-02-03T19:00:00Z"
        ));
    };
    let (y, mo, d) = (i64::from(date.year), date.month, date.day);
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) {
        return Err(format!("{dt}: no such date"));
    }
    let offset_min = match offset {
        toml::value::Offset::Z => 0i64,
        toml::value::Offset::Custom { minutes } => i64::from(minutes),
    };
    let secs = days_from_civil(y, i64::from(mo), i64::from(d)) * 86_400
        + i64::from(time.hour) * 3_600
        + i64::from(time.minute) * 60
        + i64::from(time.second.unwrap_or(0))
        - offset_min * 60;
    let ms = secs * 1_000 + i64::from(time.nanosecond.unwrap_or(0) / 1_000_000);
    u64::try_from(ms).map_err(|_| format!("{dt}: before 1970"))
}

fn time_ms(t: &Option<TimeFile>, what: &str) -> Result<u64, AuthorityError> {
    match t {
        None => Ok(0),
        Some(TimeFile::UnixMs(ms)) => Ok(*ms),
        Some(TimeFile::Datetime(dt)) => {
            datetime_to_unix_ms(dt).map_err(|e| bad(format!("voting.{what}: {e}")))
        }
    }
}

fn decode_pem_public_key(text: &str) -> Option<Vec<u8>> {
    let begin = "-----BEGIN PUBLIC KEY-----";
    let end = "-----END PUBLIC KEY-----";
    let start = text.find(begin)? + begin.len();
    let stop = text[start..].find(end)? + start;
    let b64: String = text[start..stop].split_whitespace().collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

/// Finds the key of `district` in an issuer key export: JSON holding
/// objects with a `"district"` field and an `"issuer_rsa_key"` (or
/// `"rsa_public_key"`) base64 DER field, at any depth, or lines
/// `district-id base64-der`.
fn key_from_export(text: &str, district: &str) -> Option<Vec<u8>> {
    let b64 = &base64::engine::general_purpose::STANDARD;
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(text) {
        return find_json_key(&json, district).and_then(|k| b64.decode(k).ok());
    }
    for line in text.lines() {
        let mut it = line.split_whitespace();
        if let (Some(id), Some(key), None) = (it.next(), it.next(), it.next()) {
            if id == district {
                return b64.decode(key).ok();
            }
        }
    }
    None
}

fn find_json_key<'a>(v: &'a serde_json::Value, district: &str) -> Option<&'a str> {
    match v {
        serde_json::Value::Object(o) => {
            if o.get("district").and_then(|d| d.as_str()) == Some(district) {
                if let Some(k) = ["issuer_rsa_key", "rsa_public_key"]
                    .iter()
                    .find_map(|f| o.get(*f).and_then(|k| k.as_str()))
                {
                    return Some(k);
                }
            }
            o.values().find_map(|x| find_json_key(x, district))
        }
        serde_json::Value::Array(a) => a.iter().find_map(|x| find_json_key(x, district)),
        _ => None,
    }
}

fn issuer_key(
    d: &DistrictFile,
    base: &Path,
    export: Option<&(PathBuf, String)>,
) -> Result<Vec<u8>, AuthorityError> {
    let b64 = &base64::engine::general_purpose::STANDARD;
    let what = |m: String| bad(format!("district {}: {m}", d.id));
    match (&d.issuer_rsa_key, &d.issuer_rsa_key_file) {
        (Some(k), None) => {
            let clean: String = k.split_whitespace().collect();
            b64.decode(clean)
                .map_err(|e| what(format!("issuer_rsa_key is not base64: {e}")))
        }
        (None, Some(f)) => {
            let path = base.join(f);
            let bytes = std::fs::read(&path).map_err(AuthorityError::io("read", &path))?;
            if bytes.first() == Some(&0x30) {
                return Ok(bytes); // DER SEQUENCE
            }
            let text = String::from_utf8(bytes).map_err(|_| {
                what(format!(
                    "{}: neither DER, PEM nor an issuer key export",
                    path.display()
                ))
            })?;
            if let Some(der) = decode_pem_public_key(&text) {
                return Ok(der);
            }
            key_from_export(&text, &d.id).ok_or_else(|| {
                what(format!(
                    "{} holds no key for district {:?}",
                    path.display(),
                    d.id
                ))
            })
        }
        (Some(_), Some(_)) => Err(what(
            "give issuer_rsa_key or issuer_rsa_key_file, not both".into(),
        )),
        (None, None) => match export {
            Some((path, text)) => key_from_export(text, &d.id).ok_or_else(|| {
                what(format!(
                    "issuer_keys {} holds no key for this district",
                    path.display()
                ))
            }),
            None => Err(what(
                "issuer_rsa_key or issuer_rsa_key_file (or a top-level issuer_keys) is required"
                    .into(),
            )),
        },
    }
}

impl ManifestFile {
    /// Parses the TOML text of a manifest file.
    pub fn parse(text: &str) -> Result<Self, AuthorityError> {
        toml::from_str(text).map_err(|e| bad(format!("manifest TOML: {e}")))
    }

    /// Builds the protobuf manifest, resolving key paths relative to `base`
    /// (the manifest file's directory). Not yet validated.
    pub fn to_proto(&self, base: &Path) -> Result<v1::Manifest, AuthorityError> {
        let key = |v: &str, what: &str| {
            public_key_from_hex_or_file(v, base)
                .map(|k| k.to_bytes().to_vec())
                .map_err(|e| bad(format!("{what}: {e}")))
        };
        let board =
            board_verifier_at(&self.board.key, base).map_err(|e| bad(format!("board.key: {e}")))?;
        let origin = board.name().to_owned();
        if let Some(o) = &self.board.origin {
            if *o != origin {
                return Err(bad(format!(
                    "board.origin {o:?} differs from the board key's name {origin:?}"
                )));
            }
        }
        let export = match &self.issuer_keys {
            Some(f) => {
                let path = base.join(f);
                let text =
                    std::fs::read_to_string(&path).map_err(AuthorityError::io("read", &path))?;
                Some((path, text))
            }
            None => None,
        };
        let issuer_signing_key = match (&self.issuer_signing_key, &export) {
            (Some(k), _) => key(k, "issuer_signing_key")?,
            (None, Some((path, text))) => {
                let hex_key = serde_json::from_str::<serde_json::Value>(text)
                    .ok()
                    .and_then(|v| {
                        v.get("issuer_signing_key")
                            .and_then(|k| k.as_str())
                            .map(str::to_owned)
                    })
                    .ok_or_else(|| {
                        bad(format!(
                            "issuer_keys {}: no issuer_signing_key field",
                            path.display()
                        ))
                    })?;
                key(&hex_key, "issuer_keys: issuer_signing_key")?
            }
            (None, None) => return Err(bad("issuer_signing_key (or issuer_keys) is required")),
        };
        let n = self.trustees.members.len();
        if let Some(expected) = self.trustees.n {
            if expected as usize != n {
                return Err(bad(format!(
                    "trustees.n is {expected} but {n} members are listed"
                )));
            }
        }
        let trustees = self
            .trustees
            .members
            .iter()
            .enumerate()
            .map(|(i, t)| {
                Ok(v1::Trustee {
                    index: u32::try_from(i + 1).map_err(|_| bad("too many trustees"))?,
                    name: t.name.clone(),
                    signing_key: key(
                        &t.signing_key,
                        &format!("trustees.members[{i}] ({})", t.name),
                    )?,
                })
            })
            .collect::<Result<Vec<_>, AuthorityError>>()?;
        let districts = self
            .districts
            .iter()
            .map(|d| {
                Ok(v1::District {
                    id: d.id.clone(),
                    name: if d.name.is_empty() {
                        d.id.clone()
                    } else {
                        d.name.clone()
                    },
                    issuer_rsa_key: issuer_key(d, base, export.as_ref())?,
                    delegates: d.delegates,
                    sde_weight: match &d.sde_weight {
                        None => String::new(),
                        Some(SdeWeight::Text(s)) => s.clone(),
                        Some(SdeWeight::Integer(i)) => i.to_string(),
                    },
                })
            })
            .collect::<Result<Vec<_>, AuthorityError>>()?;
        let contests = self
            .contests
            .iter()
            .map(|c| {
                use v1::contest_rule::Kind;
                let kind = match c.rule {
                    RuleFile::OneOfN => Kind::OneOfN(v1::OneOfN {}),
                    RuleFile::Approval => Kind::Approval(v1::Approval {}),
                    RuleFile::KOfN { min, max } => Kind::KOfN(v1::KOfN { min, max }),
                    RuleFile::Points {
                        per_option_max,
                        budget,
                        exact,
                    } => Kind::Points(v1::Points {
                        per_option_max,
                        budget,
                        exact,
                    }),
                };
                v1::Contest {
                    id: c.id.clone(),
                    title: if c.title.is_empty() {
                        c.id.clone()
                    } else {
                        c.title.clone()
                    },
                    options: c
                        .options
                        .iter()
                        .map(|o| match o {
                            OptionFile::Id(id) => v1::ContestOption {
                                id: id.clone(),
                                title: id.clone(),
                            },
                            OptionFile::Full { id, title } => v1::ContestOption {
                                id: id.clone(),
                                title: title.clone().unwrap_or_else(|| id.clone()),
                            },
                        })
                        .collect(),
                    rule: Some(v1::ContestRule { kind: Some(kind) }),
                    districts: c.districts.clone(),
                }
            })
            .collect();
        Ok(v1::Manifest {
            election_id: self.election_id.clone(),
            title: self.title.clone(),
            admin_key: key(&self.admin_key, "admin_key")?,
            trustees: Some(v1::TrusteeSet {
                threshold: self.trustees.threshold,
                trustees,
            }),
            districts,
            contests,
            revote_policy: match self.revote_policy {
                RevotePolicyFile::LastCounts => v1::RevotePolicy::LastCounts,
                RevotePolicyFile::FirstCounts => v1::RevotePolicy::FirstCounts,
            } as i32,
            voting_opens_unix_ms: time_ms(&self.voting.opens, "opens")?,
            voting_closes_unix_ms: time_ms(&self.voting.closes, "closes")?,
            issuer_signing_key,
            board_origin: origin,
            board_key: board.verifying_key().to_bytes().to_vec(),
            caucus: self.caucus.as_ref().map(|c| v1::CaucusRules {
                alignment_contest: c.alignment_contest.clone(),
                uncommitted_option: c.uncommitted_option.clone(),
                viability_rule: c.viability_rule.clone(),
            }),
            witnesses: self
                .witnesses
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    let v = witness_verifier_at(&w.key, base)
                        .map_err(|e| bad(format!("witnesses[{i}].key: {e}")))?;
                    Ok(v1::Witness {
                        name: v.name().to_owned(),
                        key: v.verifying_key().to_bytes().to_vec(),
                    })
                })
                .collect::<Result<_, AuthorityError>>()?,
        })
    }
}

/// A witness's cosignature verifier key, given inline or as a file path
/// (relative to the manifest's directory).
fn witness_verifier_at(
    value: &str,
    base: &Path,
) -> Result<tallyboard_tlog::CosignatureVerifier, String> {
    let text = if value.contains('+') {
        value.to_owned()
    } else {
        let path = base.join(value);
        std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?
    };
    tallyboard_tlog::CosignatureVerifier::from_vkey(text.trim())
        .map_err(|e| format!("not a witness verifier key (name+id+base64 of 0x04 || key): {e}"))
}

fn board_verifier_at(
    value: &str,
    base: &Path,
) -> Result<tallyboard_tlog::Ed25519Verifier, AuthorityError> {
    if value.contains('+') {
        board_verifier(value)
    } else {
        board_verifier(&base.join(value).to_string_lossy())
    }
}

/// Validates a manifest with the record's own rule (R2.2,
/// [`tallyboard_protocol::validate_manifest`]) and checks that the voting
/// window, if given, is not reversed.
pub fn check_manifest(m: &v1::Manifest) -> Result<(), AuthorityError> {
    tallyboard_protocol::validate_manifest(m, &[])
        .map_err(|e| bad(format!("the manifest is invalid: {e}")))?;
    if m.voting_opens_unix_ms != 0
        && m.voting_closes_unix_ms != 0
        && m.voting_closes_unix_ms < m.voting_opens_unix_ms
    {
        return Err(bad("voting.closes is before voting.opens"));
    }
    Ok(())
}

/// Parses and validates manifest TOML; key paths are relative to `base`.
pub fn parse_manifest(text: &str, base: &Path) -> Result<v1::Manifest, AuthorityError> {
    let m = ManifestFile::parse(text)?.to_proto(base)?;
    check_manifest(&m)?;
    Ok(m)
}

/// Loads, resolves and validates the manifest file at `path`.
pub fn load_manifest(path: &Path) -> Result<v1::Manifest, AuthorityError> {
    let text = std::fs::read_to_string(path).map_err(AuthorityError::io("read", path))?;
    let base: PathBuf = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    parse_manifest(&text, &base).map_err(|e| match e {
        AuthorityError::Manifest(m) => AuthorityError::Manifest(format!("{}: {m}", path.display())),
        other => other,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn datetimes() {
        let dt: toml::value::Datetime = "1970-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(datetime_to_unix_ms(&dt), Ok(0));
        let dt: toml::value::Datetime = "2000-03-01T00:00:01.5+01:00".parse().unwrap();
        assert_eq!(datetime_to_unix_ms(&dt), Ok(951_865_201_500));
        let dt: toml::value::Datetime = "2024-02-29T12:00:00Z".parse().unwrap();
        assert_eq!(datetime_to_unix_ms(&dt), Ok(1_709_208_000_000));
        for bad in [
            "2023-02-29T00:00:00Z",
            "2028-02-03",
            "2028-02-03T19:00:00",
            "1969-12-31T23:59:59Z",
        ] {
            // Either TOML or the conversion refuses it.
            if let Ok(dt) = bad.parse::<toml::value::Datetime>() {
                assert!(datetime_to_unix_ms(&dt).is_err(), "{bad}");
            }
        }
    }

    #[test]
    fn exported_keys() {
        let text = "d1 AAEC\nd2 AwQF\n";
        assert_eq!(key_from_export(text, "d2"), Some(vec![3, 4, 5]));
        let json = r#"{"keys":[{"district":"d1","rsa_public_key":"AAEC"},{"district":"d2","rsa_public_key":"AwQF"}]}"#;
        assert_eq!(key_from_export(json, "d2"), Some(vec![3, 4, 5]));
        assert_eq!(key_from_export(json, "d3"), None);
    }

    #[test]
    fn rules_parse() {
        #[derive(Deserialize)]
        struct R {
            rule: RuleFile,
        }
        let r: R = toml::from_str("rule = \"one_of_n\"").unwrap();
        assert_eq!(r.rule, RuleFile::OneOfN);
        let r: R = toml::from_str("rule = { k_of_n = { min = 1, max = 2 } }").unwrap();
        assert_eq!(r.rule, RuleFile::KOfN { min: 1, max: 2 });
        let r: R =
            toml::from_str("rule = { points = { per_option_max = 5, budget = 10 } }").unwrap();
        assert_eq!(
            r.rule,
            RuleFile::Points {
                per_option_max: 5,
                budget: 10,
                exact: false
            }
        );
        assert!(toml::from_str::<R>("rule = \"ranked\"").is_err());
    }
}
