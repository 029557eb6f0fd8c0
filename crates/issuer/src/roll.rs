//! The voter roll (`spec/issuer.md` §3.1): a CSV file with the header
//! `voter_id,district` and one voter per line.
//!
//! - fields may be double-quoted (RFC 4180, `""` for a quote inside); a
//!   field cannot span lines;
//! - surrounding spaces are trimmed; blank lines are ignored; a UTF-8 byte
//!   order mark and CRLF line ends are accepted;
//! - a voter id is 1–128 bytes of UTF-8 without control characters and is
//!   case-sensitive; a district id is a manifest identifier
//!   (`[A-Za-z0-9._-]{1,64}`);
//! - every voter id appears once.
//!
//! Problems are reported with their line numbers (1-based, the header being
//! line 1), all of them up to [`MAX_REPORTED`].

use std::collections::{BTreeMap, HashMap};

/// Longest voter id, in bytes.
pub const MAX_VOTER_ID: usize = 128;
/// Longest district id, in bytes.
pub const MAX_DISTRICT_ID: usize = 64;
/// Most problems reported at once.
pub const MAX_REPORTED: usize = 20;

/// One voter on the roll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollEntry {
    /// The voter's id.
    pub voter_id: String,
    /// The voter's district.
    pub district: String,
}

/// A validated roll.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roll {
    entries: Vec<RollEntry>,
}

/// One problem in a roll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollProblem {
    /// 1-based line (or position, for a roll given in memory).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// A roll that cannot be used, with its problems.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RollError {
    /// The problems found (at most [`MAX_REPORTED`]).
    pub problems: Vec<RollProblem>,
    /// Whether more problems were left out.
    pub truncated: bool,
}

impl std::fmt::Display for RollError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the roll has problems:")?;
        for p in &self.problems {
            write!(f, "\n  line {}: {}", p.line, p.message)?;
        }
        if self.truncated {
            write!(f, "\n  (more problems left out)")?;
        }
        Ok(())
    }
}

/// Normalizes a voter id as typed by a voter (trims surrounding spaces).
pub fn normalize_voter_id(id: &str) -> &str {
    id.trim()
}

/// Checks a (normalized) voter id.
pub fn check_voter_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("voter_id is empty".into());
    }
    if id.len() > MAX_VOTER_ID {
        return Err(format!(
            "voter_id is {} bytes, at most {MAX_VOTER_ID} are allowed",
            id.len()
        ));
    }
    if id.chars().any(char::is_control) {
        return Err("voter_id contains a control character".into());
    }
    Ok(())
}

/// Checks a district id (the manifest identifier rule).
pub fn check_district_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("district is empty".into());
    }
    let ok = id.len() <= MAX_DISTRICT_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "district {id:?} is not an identifier (1–{MAX_DISTRICT_ID} characters of [A-Za-z0-9._-])"
        ))
    }
}

/// Splits one CSV line into fields.
fn split_csv_line(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        // Leading spaces before a quote are allowed.
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("unterminated quoted field".into()),
                }
            }
            while chars.peek() == Some(&' ') {
                chars.next();
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(_) => return Err("unexpected text after a quoted field".into()),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some('"') => return Err("a quote inside an unquoted field".into()),
                    Some(c) => field.push(c),
                }
            }
            fields.push(field);
        }
    }
}

struct Problems {
    list: Vec<RollProblem>,
    truncated: bool,
}

impl Problems {
    fn add(&mut self, line: usize, message: impl Into<String>) {
        if self.list.len() < MAX_REPORTED {
            self.list.push(RollProblem {
                line,
                message: message.into(),
            });
        } else {
            self.truncated = true;
        }
    }
}

impl Roll {
    /// Parses and validates a roll CSV.
    pub fn parse_csv(text: &str) -> Result<Roll, RollError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut problems = Problems {
            list: Vec::new(),
            truncated: false,
        };
        let mut rows = Vec::new();
        let mut header_seen = false;
        for (i, raw) in text.split('\n').enumerate() {
            let line_no = i + 1;
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if line.trim().is_empty() {
                continue;
            }
            let fields = match split_csv_line(line) {
                Ok(f) => f,
                Err(e) => {
                    problems.add(line_no, e);
                    if !header_seen {
                        header_seen = true;
                    }
                    continue;
                }
            };
            if !header_seen {
                header_seen = true;
                let names: Vec<String> = fields.iter().map(|f| f.trim().to_lowercase()).collect();
                if names != ["voter_id", "district"] {
                    problems.add(
                        line_no,
                        format!(
                            "the first line must be the header \"voter_id,district\", got {line:?}"
                        ),
                    );
                    return Err(RollError {
                        problems: problems.list,
                        truncated: problems.truncated,
                    });
                }
                continue;
            }
            if fields.len() != 2 {
                problems.add(
                    line_no,
                    format!(
                        "expected 2 fields (voter_id,district), got {}",
                        fields.len()
                    ),
                );
                continue;
            }
            rows.push((
                line_no,
                fields[0].trim().to_string(),
                fields[1].trim().to_string(),
            ));
        }
        if !header_seen {
            problems.add(
                1,
                "the roll is empty: it needs the header \"voter_id,district\"",
            );
        }
        Self::validate(rows, problems)
    }

    /// A roll from `(voter_id, district)` pairs (positions are reported
    /// 1-based).
    pub fn from_pairs<I, S, T>(pairs: I) -> Result<Roll, RollError>
    where
        I: IntoIterator<Item = (S, T)>,
        S: Into<String>,
        T: Into<String>,
    {
        let rows = pairs
            .into_iter()
            .enumerate()
            .map(|(i, (v, d))| {
                (
                    i + 1,
                    v.into().trim().to_string(),
                    d.into().trim().to_string(),
                )
            })
            .collect();
        Self::validate(
            rows,
            Problems {
                list: Vec::new(),
                truncated: false,
            },
        )
    }

    fn validate(
        rows: Vec<(usize, String, String)>,
        mut problems: Problems,
    ) -> Result<Roll, RollError> {
        let mut seen: HashMap<&str, usize> = HashMap::with_capacity(rows.len());
        for (line, voter, district) in &rows {
            if let Err(e) = check_voter_id(voter) {
                problems.add(*line, e);
            }
            if let Err(e) = check_district_id(district) {
                problems.add(*line, e);
            }
            if !voter.is_empty() {
                if let Some(first) = seen.insert(voter.as_str(), *line) {
                    problems.add(
                        *line,
                        format!("duplicate voter_id {voter:?} (first on line {first})"),
                    );
                }
            }
        }
        if rows.is_empty() && problems.list.is_empty() {
            problems.add(1, "the roll has no voters");
        }
        if !problems.list.is_empty() {
            problems.list.sort_by_key(|p| p.line);
            return Err(RollError {
                problems: problems.list,
                truncated: problems.truncated,
            });
        }
        Ok(Roll {
            entries: rows
                .into_iter()
                .map(|(_, voter_id, district)| RollEntry { voter_id, district })
                .collect(),
        })
    }

    /// The voters, in roll order.
    pub fn entries(&self) -> &[RollEntry] {
        &self.entries
    }

    /// Number of voters.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the roll has no voters (never true for a validated roll).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Voters per district, by district id.
    pub fn districts(&self) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        for e in &self.entries {
            *m.entry(e.district.clone()).or_insert(0) += 1;
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_good_roll() {
        let roll = Roll::parse_csv(
            "\u{feff}voter_id,district\r\nalice,d1\r\n\r\n \"bob, jr.\" , d2\n\"say \"\"hi\"\"\",d1\n",
        )
        .expect("roll");
        let ids: Vec<_> = roll.entries().iter().map(|e| e.voter_id.as_str()).collect();
        assert_eq!(ids, ["alice", "bob, jr.", "say \"hi\""]);
        assert_eq!(roll.districts().get("d1"), Some(&2));
        assert_eq!(roll.districts().get("d2"), Some(&1));
    }

    #[test]
    fn reports_problems_with_line_numbers() {
        let err = Roll::parse_csv(
            "voter_id,district\nalice,d1\n,d1\nbob,\ncarol,d 1\nalice,d2\ndan,d1,extra\n\"eve,d1\n",
        )
        .expect_err("bad roll");
        let lines: Vec<_> = err.problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, [3, 4, 5, 6, 7, 8], "{err}");
        assert!(err
            .to_string()
            .contains("line 6: duplicate voter_id \"alice\" (first on line 2)"));
        assert!(err.to_string().contains("line 3: voter_id is empty"));
        assert!(err.to_string().contains("line 4: district is empty"));
    }

    #[test]
    fn header_is_required() {
        let err = Roll::parse_csv("alice,d1\n").expect_err("no header");
        assert_eq!(err.problems[0].line, 1);
        assert!(Roll::parse_csv("").is_err());
        assert!(Roll::parse_csv("voter_id,district\n").is_err());
        assert!(Roll::parse_csv("Voter_ID , District\nx,d\n").is_ok());
    }

    #[test]
    fn many_problems_are_truncated() {
        let mut text = String::from("voter_id,district\n");
        for _ in 0..50 {
            text.push_str(",d1\n");
        }
        let err = Roll::parse_csv(&text).expect_err("bad");
        assert_eq!(err.problems.len(), MAX_REPORTED);
        assert!(err.truncated);
    }

    #[test]
    fn from_pairs() {
        let roll = Roll::from_pairs([("a", "d1"), ("b", "d2")]).expect("roll");
        assert_eq!(roll.len(), 2);
        let err = Roll::from_pairs([("a", "d1"), ("a", "d2")]).expect_err("dup");
        assert_eq!(err.problems[0].line, 2);
        assert!(Roll::from_pairs(Vec::<(String, String)>::new()).is_err());
    }
}
