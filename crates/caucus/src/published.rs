//! Checking published caucus results against the rules (spec/caucus.md §7).
//!
//! Parses the Iowa Democratic Party's 2020 results export and a precinct
//! delegate table (both CSV, from memory or any [`Read`]), re-runs
//! viability and apportionment on every precinct's published alignments, and
//! compares the resulting state delegate equivalents with the published ones,
//! accepting any outcome the coin tosses could have produced.
//!
//! A precinct is *reproduced* when, for some rule-consistent coin outcome,
//! every group's computed SDE rounded to four decimals equals the published
//! value. Everything else is a [`Discrepancy`] with a reason; data problems
//! that do not prevent reproduction (duplicated rows, realignment
//! violations) are listed as [`Anomaly`] findings.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::Read;

use thiserror::Error;

use crate::alignment::{Alignment, GroupId, PrecinctId};
use crate::apportion::{
    all_outcomes, state_delegate_equivalents, PrecinctContext, DEFAULT_OUTCOME_LIMIT, SDE_DECIMALS,
};
use crate::error::CaucusError;
use crate::rational::Rational;
use crate::rules::Rules;
use crate::viability::{check_realignment, viability, RealignmentIssue};

/// A published file that cannot be used at all (spec/caucus.md §7.1).
///
/// Problems confined to one row are not errors: they become
/// [`Discrepancy::MalformedRow`] or [`DelegateEntry::Invalid`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DataError {
    /// The input could not be read.
    #[error("cannot read input: {0}")]
    Io(String),
    /// The CSV syntax is broken (for instance an unterminated quote).
    #[error("line {line}: {reason}")]
    Csv {
        /// 1-based line where the problem starts.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The header rows are not the expected layout.
    #[error("unexpected header: {0}")]
    Header(String),
}

/// Parse CSV text into records, each with its 1-based starting line.
/// RFC 4180 quoting (`"a,b"`, `""` for a quote); `\n` or `\r\n` line ends; a
/// leading byte-order mark is ignored; blank lines are skipped.
fn parse_csv(text: &str) -> Result<Vec<(usize, Vec<String>)>, DataError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut record: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut line = 1usize;
    let mut record_line = 1usize;
    let mut field_started = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() && !field_started => {
                in_quotes = true;
                field_started = true;
            }
            ',' => {
                record.push(std::mem::take(&mut field));
                field_started = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                field_started = false;
                if !(record.len() == 1 && record[0].is_empty()) {
                    records.push((record_line, std::mem::take(&mut record)));
                } else {
                    record.clear();
                }
                line += 1;
                record_line = line;
            }
            _ => {
                field.push(c);
                field_started = true;
            }
        }
    }
    if in_quotes {
        return Err(DataError::Csv {
            line: record_line,
            reason: "unterminated quoted field".into(),
        });
    }
    if field_started || !field.is_empty() || !record.is_empty() {
        record.push(field);
        if !(record.len() == 1 && record[0].is_empty()) {
            records.push((record_line, record));
        }
    }
    Ok(records)
}

fn read_all(mut r: impl Read) -> Result<String, DataError> {
    let mut s = String::new();
    r.read_to_string(&mut s)
        .map_err(|e| DataError::Io(e.to_string()))?;
    Ok(s)
}

/// The key used to match precinct names between files (spec/caucus.md §7.2):
/// the HTML entities `&amp; &lt; &gt; &quot; &#39;` decoded, runs of
/// whitespace collapsed to one space, ends trimmed, letters upper-cased.
pub fn normalize_name(name: &str) -> String {
    let decoded = name
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'");
    decoded
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase()
}

/// One precinct row of the results export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResultsRow {
    /// 1-based line in the file.
    pub line: usize,
    /// County, as written.
    pub county: String,
    /// Precinct name, as written.
    pub precinct: String,
    /// First-alignment head count per group (in [`ResultsTable::groups`] order).
    pub first: Vec<u64>,
    /// Final-alignment head count per group.
    pub final_alignment: Vec<u64>,
    /// Published SDEs per group, exactly as written.
    pub sde: Vec<Rational>,
    /// Published SDE text per group.
    pub sde_text: Vec<String>,
}

/// A precinct row that could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MalformedRow {
    /// 1-based line in the file.
    pub line: usize,
    /// County field, if present.
    pub county: String,
    /// Precinct field, if present.
    pub precinct: String,
    /// What is wrong.
    pub reason: String,
}

/// The parsed results export (spec/caucus.md §7.1).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ResultsTable {
    /// Preference group names, in column order; group `i` is `GroupId(i)`.
    pub groups: Vec<String>,
    /// Precinct rows (county-total rows excluded), in file order.
    pub rows: Vec<ResultsRow>,
    /// Precinct rows that could not be parsed, in file order.
    pub malformed: Vec<MalformedRow>,
}

const FIRST_LABEL: &str = "First Expression";
const FINAL_LABEL: &str = "Final Expression";
const SDE_LABEL: &str = "SDE";
const TOTAL_PRECINCT: &str = "Total";

/// Parse the results export from text (layout in spec/caucus.md §7.1).
pub fn parse_results(text: &str) -> Result<ResultsTable, DataError> {
    let records = parse_csv(text)?;
    let mut it = records.into_iter();
    let (l1, r1) = it
        .next()
        .ok_or_else(|| DataError::Header("empty file".into()))?;
    let (_, r2) = it
        .next()
        .ok_or_else(|| DataError::Header("missing candidate header row".into()))?;
    let (l3, r3) = it
        .next()
        .ok_or_else(|| DataError::Header("missing County,Precinct header row".into()))?;
    let k = r1.iter().filter(|f| f.trim() == FIRST_LABEL).count();
    let width = 2 + 3 * k;
    let labels_ok = k > 0
        && r1.len() >= width
        && r1[2..2 + k].iter().all(|f| f.trim() == FIRST_LABEL)
        && r1[2 + k..2 + 2 * k].iter().all(|f| f.trim() == FINAL_LABEL)
        && r1[2 + 2 * k..width].iter().all(|f| f.trim() == SDE_LABEL);
    if !labels_ok {
        return Err(DataError::Header(format!(
            "line {l1}: expected {FIRST_LABEL:?}, {FINAL_LABEL:?} and {SDE_LABEL:?} column groups of equal width"
        )));
    }
    if r2.len() < width {
        return Err(DataError::Header("candidate row too short".into()));
    }
    let groups: Vec<String> = r2[2..2 + k].iter().map(|s| s.trim().to_string()).collect();
    for block in 1..3 {
        let names = &r2[2 + block * k..2 + (block + 1) * k];
        if names
            .iter()
            .map(|s| s.trim())
            .ne(groups.iter().map(|s| s.as_str()))
        {
            return Err(DataError::Header(
                "candidate names differ between column groups".into(),
            ));
        }
    }
    if r3.len() < 2 || r3[0].trim() != "County" || r3[1].trim() != "Precinct" {
        return Err(DataError::Header(format!(
            "line {l3}: expected County,Precinct"
        )));
    }

    let mut table = ResultsTable {
        groups,
        ..ResultsTable::default()
    };
    for (line, rec) in it {
        let county = rec
            .first()
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        let precinct = rec.get(1).map(|s| s.trim().to_string()).unwrap_or_default();
        if precinct == TOTAL_PRECINCT {
            continue;
        }
        let malformed = |reason: String| MalformedRow {
            line,
            county: county.clone(),
            precinct: precinct.clone(),
            reason,
        };
        if rec.len() != width {
            table
                .malformed
                .push(malformed(format!("{} fields, expected {width}", rec.len())));
            continue;
        }
        let mut counts = Vec::with_capacity(2 * k);
        let mut bad = None;
        for (i, f) in rec[2..2 + 2 * k].iter().enumerate() {
            match f.trim().parse::<u64>() {
                Ok(n) => counts.push(n),
                Err(_) => {
                    bad = Some(format!(
                        "alignment count {:?} for {} is not a whole number",
                        f,
                        table.groups[i % k]
                    ));
                    break;
                }
            }
        }
        let mut sde = Vec::with_capacity(k);
        let mut sde_text = Vec::with_capacity(k);
        if bad.is_none() {
            for (i, f) in rec[2 + 2 * k..width].iter().enumerate() {
                match Rational::parse_decimal(f) {
                    Ok(r) if r >= Rational::ZERO => {
                        sde.push(r);
                        sde_text.push(f.trim().to_string());
                    }
                    _ => {
                        bad = Some(format!(
                            "SDE {:?} for {} is not a non-negative decimal",
                            f, table.groups[i]
                        ));
                        break;
                    }
                }
            }
        }
        if let Some(reason) = bad {
            table.malformed.push(malformed(reason));
            continue;
        }
        let final_alignment = counts.split_off(k);
        table.rows.push(ResultsRow {
            line,
            county,
            precinct,
            first: counts,
            final_alignment,
            sde,
            sde_text,
        });
    }
    Ok(table)
}

/// [`parse_results`] from any reader.
pub fn read_results(r: impl Read) -> Result<ResultsTable, DataError> {
    parse_results(&read_all(r)?)
}

/// A precinct's delegate count and SDE weight, or why its row is unusable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DelegateEntry {
    /// A usable row.
    Valid {
        /// 1-based line in the file.
        line: usize,
        /// Delegates to the county convention (`D`).
        delegates: u32,
        /// Total state delegate equivalents of the precinct (`W`).
        sde_weight: Rational,
    },
    /// A row whose numbers do not parse.
    Invalid {
        /// 1-based line in the file.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// The precinct delegate table keyed by normalised (county, long name).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct DelegateTable {
    entries: BTreeMap<(String, String), Vec<DelegateEntry>>,
}

/// The result of looking a precinct up in a [`DelegateTable`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DelegateLookup<'a> {
    /// Exactly one row matches.
    Found(&'a DelegateEntry),
    /// No row matches.
    Missing,
    /// Several rows match.
    Ambiguous(usize),
}

impl DelegateTable {
    /// Look up a precinct by county and precinct name (normalised with
    /// [`normalize_name`]).
    pub fn lookup(&self, county: &str, precinct: &str) -> DelegateLookup<'_> {
        match self
            .entries
            .get(&(normalize_name(county), normalize_name(precinct)))
        {
            None => DelegateLookup::Missing,
            Some(v) if v.len() == 1 => DelegateLookup::Found(&v[0]),
            Some(v) => DelegateLookup::Ambiguous(v.len()),
        }
    }

    /// Number of keyed rows.
    pub fn len(&self) -> usize {
        self.entries.values().map(Vec::len).sum()
    }

    /// Whether the table has no keyed rows.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

const COL_COUNTY: &str = "County";
const COL_DELEGATES: &str = "Delegates to County Convention";
const COL_LONG_NAME: &str = "Long Name";
const COL_SDE: &str = "State Delegate Equivalents";

/// Parse the precinct delegate table (spec/caucus.md §7.1): columns found by
/// header name; rows without a long name are skipped (they cannot be matched).
pub fn parse_delegates(text: &str) -> Result<DelegateTable, DataError> {
    let records = parse_csv(text)?;
    let mut it = records.into_iter();
    let (_, header) = it
        .next()
        .ok_or_else(|| DataError::Header("empty file".into()))?;
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| DataError::Header(format!("no {name:?} column")))
    };
    let (c_county, c_del, c_long, c_sde) = (
        col(COL_COUNTY)?,
        col(COL_DELEGATES)?,
        col(COL_LONG_NAME)?,
        col(COL_SDE)?,
    );
    let mut table = DelegateTable::default();
    for (line, rec) in it {
        let field = |i: usize| rec.get(i).map(|s| s.trim()).unwrap_or("");
        let long = field(c_long);
        if long.is_empty() {
            continue;
        }
        let key = (normalize_name(field(c_county)), normalize_name(long));
        let entry = match (
            field(c_del).parse::<u32>(),
            Rational::parse_decimal(field(c_sde)),
        ) {
            (Ok(delegates), Ok(sde_weight)) if sde_weight >= Rational::ZERO => {
                DelegateEntry::Valid {
                    line,
                    delegates,
                    sde_weight,
                }
            }
            (Err(_), _) => DelegateEntry::Invalid {
                line,
                reason: format!("delegate count {:?} is not a whole number", field(c_del)),
            },
            _ => DelegateEntry::Invalid {
                line,
                reason: format!(
                    "SDE weight {:?} is not a non-negative decimal",
                    field(c_sde)
                ),
            },
        };
        table.entries.entry(key).or_default().push(entry);
    }
    Ok(table)
}

/// [`parse_delegates`] from any reader.
pub fn read_delegates(r: impl Read) -> Result<DelegateTable, DataError> {
    parse_delegates(&read_all(r)?)
}

/// Delegates per group, named, for reports.
pub type NamedDelegates = Vec<(String, u32)>;

/// Why a precinct's published SDEs were not reproduced (spec/caucus.md §7.3).
/// Exactly one reason is given per precinct, the first that applies in the
/// order of the variants below (spec/caucus.md §7.3); `Computation` replaces
/// any of them when the arithmetic fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Discrepancy {
    /// The results row does not parse.
    MalformedRow {
        /// What is wrong.
        reason: String,
    },
    /// The delegate table has no row for the precinct.
    NoDelegateCount,
    /// The delegate table has several rows for the precinct.
    AmbiguousDelegateCount {
        /// How many rows match.
        rows: usize,
    },
    /// The delegate table's row for the precinct does not parse.
    InvalidDelegateCount {
        /// What is wrong.
        reason: String,
    },
    /// The delegate table gives the precinct zero delegates.
    NoDelegates,
    /// The first alignment is empty.
    NoParticipants,
    /// The final alignment is empty, yet SDEs were published.
    NoFinalAlignment,
    /// More people in the final alignment than in the first.
    MoreFinalThanFirst {
        /// First-alignment total (attendance).
        first: u64,
        /// Final-alignment total.
        final_total: u64,
        /// Whether the published SDEs follow from taking the final total as
        /// attendance instead.
        matches_final_as_base: bool,
    },
    /// A published SDE is not the SDE of a whole number of delegates.
    SdeNotWholeDelegates {
        /// The group.
        group: String,
        /// The published value.
        sde: String,
    },
    /// One-delegate precinct whose delegate did not go to the largest group.
    PluralityNotRespected {
        /// Groups published with the delegate.
        awarded: Vec<String>,
        /// The largest group(s) of the final alignment.
        largest: Vec<String>,
    },
    /// Delegates published for a group below the viability threshold.
    NonViableAwarded {
        /// The groups with their final-alignment counts.
        groups: Vec<(String, u64)>,
        /// The threshold.
        threshold: u64,
    },
    /// Published delegates do not add up to the precinct's delegates.
    DelegateTotal {
        /// Sum of the published delegates.
        published: u64,
        /// Delegates the precinct elects.
        expected: u32,
    },
    /// Delegates agree with a rule-consistent outcome but an SDE differs in
    /// its fourth decimal.
    SdeRounding {
        /// The group.
        group: String,
        /// Computed SDE, four decimals.
        computed: String,
        /// Published SDE.
        published: String,
    },
    /// Whole delegates that add up, but no rule-consistent outcome gives them.
    RoundingNotPerRules {
        /// Published delegates (non-zero groups).
        published: NamedDelegates,
        /// Every rule-consistent outcome (non-zero groups).
        allowed: Vec<NamedDelegates>,
    },
    /// The arithmetic failed (for instance overflow on absurd input).
    Computation(CaucusError),
}

impl Discrepancy {
    /// The reason category, as printed by `tallyboard caucus check-published`.
    pub fn reason(&self) -> &'static str {
        match self {
            Discrepancy::MalformedRow { .. } => "malformed row",
            Discrepancy::NoDelegateCount => "no delegate count for precinct",
            Discrepancy::AmbiguousDelegateCount { .. } => "ambiguous delegate count for precinct",
            Discrepancy::InvalidDelegateCount { .. } => "invalid delegate count for precinct",
            Discrepancy::NoDelegates => "precinct elects no delegates",
            Discrepancy::NoParticipants => "no participants in first alignment",
            Discrepancy::NoFinalAlignment => "SDEs published without a final alignment",
            Discrepancy::MoreFinalThanFirst { .. } => "more final than first participants",
            Discrepancy::SdeNotWholeDelegates { .. } => "SDE not a whole number of delegates",
            Discrepancy::PluralityNotRespected { .. } => {
                "single delegate not awarded to the largest group"
            }
            Discrepancy::NonViableAwarded { .. } => {
                "non-viable group in final alignment awarded delegates"
            }
            Discrepancy::DelegateTotal { .. } => "delegates do not add up to the precinct's",
            Discrepancy::RoundingNotPerRules { .. } => "rounding not per rules",
            Discrepancy::SdeRounding { .. } => "SDE rounding differs",
            Discrepancy::Computation(_) => "computation error",
        }
    }
}

fn fmt_named(v: &NamedDelegates) -> String {
    if v.is_empty() {
        return "none".into();
    }
    v.iter()
        .map(|(n, d)| format!("{n} {d}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for Discrepancy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())?;
        match self {
            Discrepancy::MalformedRow { reason } | Discrepancy::InvalidDelegateCount { reason } => {
                write!(f, ": {reason}")
            }
            Discrepancy::AmbiguousDelegateCount { rows } => write!(f, ": {rows} matching rows"),
            Discrepancy::MoreFinalThanFirst {
                first,
                final_total,
                matches_final_as_base,
            } => {
                write!(f, ": first {first}, final {final_total}")?;
                if *matches_final_as_base {
                    f.write_str(
                        " (published SDEs follow if the final total is taken as attendance)",
                    )?;
                }
                Ok(())
            }
            Discrepancy::SdeNotWholeDelegates { group, sde } => write!(f, ": {group} {sde}"),
            Discrepancy::PluralityNotRespected { awarded, largest } => write!(
                f,
                ": published {}, largest {}",
                if awarded.is_empty() {
                    "none".to_string()
                } else {
                    awarded.join(", ")
                },
                largest.join(", ")
            ),
            Discrepancy::NonViableAwarded { groups, threshold } => {
                let g: Vec<String> = groups.iter().map(|(n, c)| format!("{n} ({c})")).collect();
                write!(f, ": {} below threshold {threshold}", g.join(", "))
            }
            Discrepancy::DelegateTotal {
                published,
                expected,
            } => write!(f, ": published {published}, precinct elects {expected}"),
            Discrepancy::RoundingNotPerRules { published, allowed } => {
                let a: Vec<String> = allowed.iter().map(fmt_named).collect();
                write!(
                    f,
                    ": published {}; rules give {}",
                    fmt_named(published),
                    a.join(" or ")
                )
            }
            Discrepancy::SdeRounding {
                group,
                computed,
                published,
            } => write!(f, ": {group} computed {computed}, published {published}"),
            Discrepancy::Computation(e) => write!(f, ": {e}"),
            Discrepancy::NoDelegateCount
            | Discrepancy::NoDelegates
            | Discrepancy::NoParticipants
            | Discrepancy::NoFinalAlignment => Ok(()),
        }
    }
}

/// A data problem that does not by itself prevent reproduction
/// (spec/caucus.md §7.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Anomaly {
    /// Same county and precinct name as an earlier row.
    DuplicatedPrecinctName {
        /// Line of the earlier row.
        other_line: usize,
    },
    /// Identical first and final alignment counts as another row. Likely a
    /// copied row; in very small precincts possibly a coincidence.
    DuplicatedAlignment {
        /// First-alignment total of both rows.
        participants: u64,
        /// Line of the other row.
        other_line: usize,
        /// Its county.
        other_county: String,
        /// Its precinct.
        other_precinct: String,
    },
    /// More people in the final alignment than in the first.
    MoreFinalThanFirst {
        /// First-alignment total.
        first: u64,
        /// Final-alignment total.
        final_total: u64,
    },
    /// A group viable in the first alignment (hence locked) shrank.
    ViableGroupShrank {
        /// The group.
        group: String,
        /// First-alignment members.
        first: u64,
        /// Final-alignment members.
        final_count: u64,
    },
}

impl Anomaly {
    /// The anomaly category.
    pub fn reason(&self) -> &'static str {
        match self {
            Anomaly::DuplicatedPrecinctName { .. } => "duplicated precinct name",
            Anomaly::DuplicatedAlignment { .. } => "duplicated precinct (identical alignments)",
            Anomaly::MoreFinalThanFirst { .. } => "more final than first participants",
            Anomaly::ViableGroupShrank { .. } => "viable (locked) group shrank in realignment",
        }
    }
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())?;
        match self {
            Anomaly::DuplicatedPrecinctName { other_line } => {
                write!(f, ": same name as line {other_line}")
            }
            Anomaly::DuplicatedAlignment {
                participants,
                other_line,
                other_county,
                other_precinct,
            } => write!(
                f,
                ": same first and final alignment ({participants} participants) as line {other_line} ({other_county} / {other_precinct})"
            ),
            Anomaly::MoreFinalThanFirst { first, final_total } => {
                write!(f, ": first {first}, final {final_total}")
            }
            Anomaly::ViableGroupShrank {
                group,
                first,
                final_count,
            } => write!(f, ": {group} {first} -> {final_count}"),
        }
    }
}

/// The verdict on one precinct.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The published SDEs equal those of a rule-consistent outcome.
    Reproduced {
        /// How many distinct delegate allocations the rules allow (more than
        /// one when a coin toss decided).
        rule_outcomes: usize,
    },
    /// They do not.
    NotReproduced(Discrepancy),
}

/// The check of one results row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrecinctCheck {
    /// 1-based line in the results file.
    pub line: usize,
    /// County.
    pub county: String,
    /// Precinct.
    pub precinct: String,
    /// Reproduced or not, and why.
    pub outcome: Outcome,
    /// Data anomalies found in the row.
    pub anomalies: Vec<Anomaly>,
}

impl PrecinctCheck {
    /// Whether the precinct was reproduced.
    pub fn is_reproduced(&self) -> bool {
        matches!(self.outcome, Outcome::Reproduced { .. })
    }
}

/// The result of [`check_published`].
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct CheckReport {
    /// Group names of the results file.
    pub groups: Vec<String>,
    /// One entry per precinct row (county totals excluded), in file order.
    pub precincts: Vec<PrecinctCheck>,
}

impl CheckReport {
    /// Precinct rows checked (`M`).
    pub fn total(&self) -> usize {
        self.precincts.len()
    }

    /// Precincts reproduced (`N`).
    pub fn reproduced(&self) -> usize {
        self.precincts.iter().filter(|p| p.is_reproduced()).count()
    }

    /// Reproduced precincts where the rules allow several outcomes (a coin
    /// toss decided).
    pub fn reproduced_with_toss(&self) -> usize {
        self.precincts
            .iter()
            .filter(
                |p| matches!(p.outcome, Outcome::Reproduced { rule_outcomes } if rule_outcomes > 1),
            )
            .count()
    }

    /// Not-reproduced precincts per reason, most frequent first.
    pub fn discrepancy_counts(&self) -> Vec<(&'static str, usize)> {
        let mut m: BTreeMap<&'static str, usize> = BTreeMap::new();
        for p in &self.precincts {
            if let Outcome::NotReproduced(d) = &p.outcome {
                *m.entry(d.reason()).or_default() += 1;
            }
        }
        sorted_counts(m)
    }

    /// Anomalies per category, most frequent first (a precinct counts once
    /// per category).
    pub fn anomaly_counts(&self) -> Vec<(&'static str, usize)> {
        let mut m: BTreeMap<&'static str, usize> = BTreeMap::new();
        for p in &self.precincts {
            let mut seen: Vec<&'static str> = p.anomalies.iter().map(Anomaly::reason).collect();
            seen.sort_unstable();
            seen.dedup();
            for r in seen {
                *m.entry(r).or_default() += 1;
            }
        }
        sorted_counts(m)
    }

    /// Reproduced precincts with no anomaly.
    pub fn reproduced_clean(&self) -> usize {
        self.precincts
            .iter()
            .filter(|p| p.is_reproduced() && p.anomalies.is_empty())
            .count()
    }
}

fn sorted_counts(m: BTreeMap<&'static str, usize>) -> Vec<(&'static str, usize)> {
    let mut v: Vec<_> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    v
}

/// The alignment round apportioned when checking published results: the
/// final alignment after one realignment.
const FINAL_ROUND: u32 = 2;

/// Check every precinct of `results` against `rules` (spec/caucus.md §7).
pub fn check_published(
    rules: &Rules,
    results: &ResultsTable,
    delegates: &DelegateTable,
) -> CheckReport {
    let mut report = CheckReport {
        groups: results.groups.clone(),
        precincts: Vec::new(),
    };
    // Anomalies across rows.
    let mut by_name: HashMap<(String, String), usize> = HashMap::new();
    let mut by_alignment: HashMap<(&[u64], &[u64]), usize> = HashMap::new();
    let mut anomalies: BTreeMap<usize, Vec<Anomaly>> = BTreeMap::new();
    for (i, row) in results.rows.iter().enumerate() {
        let name = (normalize_name(&row.county), normalize_name(&row.precinct));
        if let Some(&j) = by_name.get(&name) {
            anomalies
                .entry(i)
                .or_default()
                .push(Anomaly::DuplicatedPrecinctName {
                    other_line: results.rows[j].line,
                });
        } else {
            by_name.insert(name, i);
        }
        let participants: u64 = row.first.iter().sum();
        if participants > 0 {
            let key = (row.first.as_slice(), row.final_alignment.as_slice());
            if let Some(&j) = by_alignment.get(&key) {
                let other = &results.rows[j];
                anomalies
                    .entry(i)
                    .or_default()
                    .push(Anomaly::DuplicatedAlignment {
                        participants,
                        other_line: other.line,
                        other_county: other.county.clone(),
                        other_precinct: other.precinct.clone(),
                    });
                anomalies
                    .entry(j)
                    .or_default()
                    .push(Anomaly::DuplicatedAlignment {
                        participants,
                        other_line: row.line,
                        other_county: row.county.clone(),
                        other_precinct: row.precinct.clone(),
                    });
            } else {
                by_alignment.insert(key, i);
            }
        }
    }

    let mut checks: Vec<PrecinctCheck> = Vec::new();
    for (i, row) in results.rows.iter().enumerate() {
        let mut found = anomalies.remove(&i).unwrap_or_default();
        let outcome = check_row(rules, &results.groups, row, delegates, &mut found);
        checks.push(PrecinctCheck {
            line: row.line,
            county: row.county.clone(),
            precinct: row.precinct.clone(),
            outcome,
            anomalies: found,
        });
    }
    for m in &results.malformed {
        checks.push(PrecinctCheck {
            line: m.line,
            county: m.county.clone(),
            precinct: m.precinct.clone(),
            outcome: Outcome::NotReproduced(Discrepancy::MalformedRow {
                reason: m.reason.clone(),
            }),
            anomalies: Vec::new(),
        });
    }
    checks.sort_by_key(|c| c.line);
    report.precincts = checks;
    report
}

/// Delegates implied by each published SDE: the whole `n` with
/// `round4(n * W / D) == published`, found from `n = round(published * D / W)`.
fn published_delegates(
    row: &ResultsRow,
    groups: &[String],
    d: u32,
    w: Rational,
) -> Result<Result<Vec<u32>, Discrepancy>, CaucusError> {
    let mut out = Vec::with_capacity(row.sde.len());
    for (i, s) in row.sde.iter().enumerate() {
        let n = if *s == Rational::ZERO {
            0
        } else if w == Rational::ZERO {
            -1
        } else {
            s.checked_mul(Rational::from(d))?
                .checked_div(w)?
                .round_half_up()?
        };
        let ok = match u32::try_from(n) {
            Ok(n) => {
                let sde = state_delegate_equivalents(n, w, d)?;
                (sde.round_to_decimals(SDE_DECIMALS)? == *s).then_some(n)
            }
            Err(_) => None,
        };
        match ok {
            Some(n) => out.push(n),
            None => {
                return Ok(Err(Discrepancy::SdeNotWholeDelegates {
                    group: groups.get(i).cloned().unwrap_or_default(),
                    sde: row.sde_text.get(i).cloned().unwrap_or_default(),
                }))
            }
        }
    }
    Ok(Ok(out))
}

fn alignment_of(counts: &[u64]) -> Result<Alignment, CaucusError> {
    Alignment::new(
        counts
            .iter()
            .enumerate()
            .map(|(i, n)| {
                Ok((
                    GroupId(u32::try_from(i).map_err(|_| CaucusError::Overflow)?),
                    *n,
                ))
            })
            .collect::<Result<Vec<_>, CaucusError>>()?,
    )
}

/// Whether some rule-consistent outcome gives SDEs equal to the published
/// ones; returns the number of distinct outcomes and the matching one.
fn matching_outcome(
    rules: &Rules,
    ctx: &PrecinctContext,
    final_alignment: &Alignment,
    row: &ResultsRow,
    d: u32,
    w: Rational,
) -> Result<(Vec<Vec<u32>>, Option<usize>), CaucusError> {
    let outcomes = all_outcomes(rules, ctx, final_alignment, DEFAULT_OUTCOME_LIMIT)?;
    let k = row.sde.len();
    let mut vectors = Vec::with_capacity(outcomes.len());
    let mut hit = None;
    for (idx, a) in outcomes.iter().enumerate() {
        let v: Vec<u32> = (0..k).map(|i| a.delegates_for(GroupId(i as u32))).collect();
        if hit.is_none() {
            let mut all = true;
            for (i, n) in v.iter().enumerate() {
                let sde = state_delegate_equivalents(*n, w, d)?.round_to_decimals(SDE_DECIMALS)?;
                if sde != row.sde[i] {
                    all = false;
                    break;
                }
            }
            if all {
                hit = Some(idx);
            }
        }
        vectors.push(v);
    }
    Ok((vectors, hit))
}

fn named(groups: &[String], v: &[u32]) -> NamedDelegates {
    v.iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(i, n)| (groups.get(i).cloned().unwrap_or_default(), *n))
        .collect()
}

fn check_row(
    rules: &Rules,
    groups: &[String],
    row: &ResultsRow,
    table: &DelegateTable,
    anomalies: &mut Vec<Anomaly>,
) -> Outcome {
    match check_row_inner(rules, groups, row, table, anomalies) {
        Ok(o) => o,
        Err(e) => Outcome::NotReproduced(Discrepancy::Computation(e)),
    }
}

fn check_row_inner(
    rules: &Rules,
    groups: &[String],
    row: &ResultsRow,
    table: &DelegateTable,
    anomalies: &mut Vec<Anomaly>,
) -> Result<Outcome, CaucusError> {
    let not = |d| Ok(Outcome::NotReproduced(d));
    let first_total: u64 = row.first.iter().sum();
    let final_total: u64 = row.final_alignment.iter().sum();
    let first = alignment_of(&row.first)?;
    let final_alignment = alignment_of(&row.final_alignment)?;

    let (d, w) = match table.lookup(&row.county, &row.precinct) {
        DelegateLookup::Missing => return not(Discrepancy::NoDelegateCount),
        DelegateLookup::Ambiguous(rows) => {
            return not(Discrepancy::AmbiguousDelegateCount { rows })
        }
        DelegateLookup::Found(DelegateEntry::Invalid { reason, .. }) => {
            return not(Discrepancy::InvalidDelegateCount {
                reason: reason.clone(),
            })
        }
        DelegateLookup::Found(DelegateEntry::Valid {
            delegates,
            sde_weight,
            ..
        }) => (*delegates, *sde_weight),
    };
    if d == 0 {
        return not(Discrepancy::NoDelegates);
    }
    if first_total == 0 {
        return not(Discrepancy::NoParticipants);
    }

    // Realignment anomalies (§4.7).
    let v = viability(&rules.viability, d, first_total, &first)?;
    let mut more_final = false;
    for issue in check_realignment(&v, &first, &final_alignment) {
        match issue {
            RealignmentIssue::MoreFinalThanParticipants {
                final_total,
                participants,
            } => {
                more_final = true;
                anomalies.push(Anomaly::MoreFinalThanFirst {
                    first: participants,
                    final_total,
                });
            }
            RealignmentIssue::ViableGroupShrank {
                group,
                first,
                final_count,
            } => anomalies.push(Anomaly::ViableGroupShrank {
                group: groups.get(group.0 as usize).cloned().unwrap_or_default(),
                first,
                final_count,
            }),
        }
    }

    if final_total == 0 {
        return if row.sde.iter().all(|s| *s == Rational::ZERO) {
            Ok(Outcome::Reproduced { rule_outcomes: 1 })
        } else {
            not(Discrepancy::NoFinalAlignment)
        };
    }

    let ctx = PrecinctContext {
        id: PrecinctId::new(format!("{}/{}", row.county, row.precinct)),
        delegates: d,
        participants: first_total,
        round: FINAL_ROUND,
    };
    let (vectors, hit) = matching_outcome(rules, &ctx, &final_alignment, row, d, w)?;
    if hit.is_some() {
        return Ok(Outcome::Reproduced {
            rule_outcomes: vectors.len(),
        });
    }

    // Not reproduced: find the first applicable reason (§7.3).
    if more_final {
        let alt = PrecinctContext {
            participants: final_total,
            ..ctx.clone()
        };
        let matches_final_as_base = matching_outcome(rules, &alt, &final_alignment, row, d, w)
            .map(|(_, h)| h.is_some())
            .unwrap_or(false);
        anomalies.retain(|a| !matches!(a, Anomaly::MoreFinalThanFirst { .. }));
        return not(Discrepancy::MoreFinalThanFirst {
            first: first_total,
            final_total,
            matches_final_as_base,
        });
    }
    let published = match published_delegates(row, groups, d, w)? {
        Ok(p) => p,
        Err(disc) => return not(disc),
    };
    match v.threshold {
        None => {
            let max = row.final_alignment.iter().copied().max().unwrap_or(0);
            let awarded: Vec<String> = published
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(i, _)| groups.get(i).cloned().unwrap_or_default())
                .collect();
            let largest: Vec<String> = row
                .final_alignment
                .iter()
                .enumerate()
                .filter(|(_, n)| **n == max)
                .map(|(i, _)| groups.get(i).cloned().unwrap_or_default())
                .collect();
            let ok = published
                .iter()
                .enumerate()
                .all(|(i, n)| *n == 0 || row.final_alignment[i] == max);
            if !ok {
                return not(Discrepancy::PluralityNotRespected { awarded, largest });
            }
        }
        Some(t) => {
            let below: Vec<(String, u64)> = published
                .iter()
                .enumerate()
                .filter(|(i, n)| {
                    **n > 0 && (row.final_alignment[*i] < t || row.final_alignment[*i] == 0)
                })
                .map(|(i, _)| {
                    (
                        groups.get(i).cloned().unwrap_or_default(),
                        row.final_alignment[i],
                    )
                })
                .collect();
            if !below.is_empty() {
                return not(Discrepancy::NonViableAwarded {
                    groups: below,
                    threshold: t,
                });
            }
        }
    }
    let sum: u64 = published.iter().map(|n| u64::from(*n)).sum();
    if sum != u64::from(d) {
        return not(Discrepancy::DelegateTotal {
            published: sum,
            expected: d,
        });
    }
    if let Some(v) = vectors.iter().find(|v| **v == published) {
        for (i, n) in v.iter().enumerate() {
            let computed = state_delegate_equivalents(*n, w, d)?;
            if computed.round_to_decimals(SDE_DECIMALS)? != row.sde[i] {
                return not(Discrepancy::SdeRounding {
                    group: groups.get(i).cloned().unwrap_or_default(),
                    computed: computed.to_fixed(SDE_DECIMALS)?,
                    published: row.sde_text.get(i).cloned().unwrap_or_default(),
                });
            }
        }
    }
    not(Discrepancy::RoundingNotPerRules {
        published: named(groups, &published),
        allowed: vectors.iter().map(|v| named(groups, v)).collect(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn csv_quoting_and_line_ends() {
        let recs = parse_csv("a,\"b,c\",\"d\"\"e\"\r\n\n1,2,3\n\"x\ny\",z").unwrap();
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[0], (1, vec!["a".into(), "b,c".into(), "d\"e".into()]));
        assert_eq!(recs[1], (3, vec!["1".into(), "2".into(), "3".into()]));
        assert_eq!(recs[2], (4, vec!["x\ny".into(), "z".into()]));
        assert!(parse_csv("a,\"b\n").is_err());
        assert_eq!(parse_csv("\u{feff}a,b").unwrap()[0].1, vec!["a", "b"]);
        assert_eq!(parse_csv("a,\n").unwrap()[0].1, vec!["a", ""]);
    }

    #[test]
    fn name_normalisation() {
        assert_eq!(
            normalize_name("  Carroll Ward Three &amp; S1/2  Maple River Twp "),
            "CARROLL WARD THREE & S1/2 MAPLE RIVER TWP"
        );
        assert_eq!(normalize_name("Guthrie "), normalize_name("guthrie"));
    }

    const HEADER: &str =
        ",,First Expression,First Expression,Final Expression,Final Expression,SDE,SDE\n\
                          ,,A,B,A,B,A,B\n\
                          County,Precinct,,,,,,\n";

    fn delegates_csv(rows: &str) -> String {
        format!("County,Precinct Short Name,Delegates to County Convention,Long Name,State Delegate Equivalents\n{rows}")
    }

    fn run(results: &str, dels: &str) -> CheckReport {
        let r = parse_results(&format!("{HEADER}{results}")).unwrap();
        let d = parse_delegates(&delegates_csv(dels)).unwrap();
        check_published(&Rules::iowa_2020(), &r, &d)
    }

    #[test]
    fn headers_are_checked() {
        assert!(parse_results("").is_err());
        assert!(parse_results("a,b\nc,d\ne,f\n").is_err());
        let bad_names = ",,First Expression,First Expression,Final Expression,Final Expression,SDE,SDE\n,,A,B,A,C,A,B\nCounty,Precinct\n";
        assert!(parse_results(bad_names).is_err());
        assert!(parse_delegates("County,Long Name\n").is_err());
    }

    #[test]
    fn reproduced_and_tie() {
        // D = 2, P = 10: A 5 -> 1.0, B 5 -> 1.0; W = 0.2.
        let rep = run("X,P1,5,5,5,5,0.1,0.1\n", "X,p1,2,P1,0.2\n");
        assert_eq!(rep.total(), 1);
        assert_eq!(rep.reproduced(), 1);
        // D = 1 tie: either group may take it.
        let rep = run("X,P1,5,5,5,5,0.2,0\n", "X,p1,1,P1,0.2\n");
        assert_eq!(rep.reproduced(), 1);
        assert_eq!(rep.reproduced_with_toss(), 1);
    }

    #[test]
    fn discrepancy_reasons() {
        let dels = "X,p1,2,P1,0.2\nX,p2,2,P2,0.2\nX,p3,0,P3,0.2\nX,p4,2,P4,0.2\nX,p4b,2,P4,0.2\nX,p5,1,P5,0.2\nX,p6,2,P6,abc\n";
        let results = "X,P1,6,4,6,4,0.2,0\n\
                       X,P2,5,5,8,7,0.2,0\n\
                       X,P3,5,5,5,5,0.1,0.1\n\
                       X,P4,5,5,5,5,0.1,0.1\n\
                       X,P5,6,4,6,4,0,0.2\n\
                       X,P6,5,5,5,5,0.1,0.1\n\
                       X,P7,5,5,5,5,0.1,0.1\n\
                       X,P8,5,x,5,5,0.1,0.1\n\
                       X,P9,1,2\n\
                       X,Total,1,1,1,1,1,1\n";
        let rep = run(results, dels);
        let reasons: Vec<&str> = rep
            .precincts
            .iter()
            .map(|p| match &p.outcome {
                Outcome::Reproduced { .. } => "reproduced",
                Outcome::NotReproduced(d) => d.reason(),
            })
            .collect();
        assert_eq!(
            reasons,
            vec![
                // P1: D=2, P=10, threshold 3: A 6 -> 1.2 -> 1, B 4 -> 0.8 -> 1.
                "rounding not per rules",
                "more final than first participants",
                "precinct elects no delegates",
                "ambiguous delegate count for precinct",
                "single delegate not awarded to the largest group",
                "invalid delegate count for precinct",
                "no delegate count for precinct",
                "malformed row",
                "malformed row",
            ]
        );
        assert_eq!(rep.total(), 9);
        // P1 and P5 share their alignments, and so do P3, P4, P6 and P7.
        let dup = rep
            .precincts
            .iter()
            .filter(|p| {
                p.anomalies
                    .iter()
                    .any(|a| matches!(a, Anomaly::DuplicatedAlignment { .. }))
            })
            .count();
        assert_eq!(dup, 6);
    }

    #[test]
    fn non_viable_and_rounding() {
        // D = 4, P = 20, threshold 3. A 15 -> 3, B 3 -> 0.6 -> 1, C 2 non-viable.
        let h = ",,First Expression,First Expression,First Expression,Final Expression,Final Expression,Final Expression,SDE,SDE,SDE\n,,A,B,C,A,B,C,A,B,C\nCounty,Precinct,,,,,,,,,\n";
        let d = parse_delegates(&delegates_csv(
            "X,a,4,P1,0.4\nX,b,4,P2,0.4\nX,c,4,P3,0.4\nX,d,4,P4,0.4\nX,e,4,P5,0.4\n",
        ))
        .unwrap();
        let r = parse_results(&format!(
            "{h}X,P1,15,3,2,15,3,2,0.3,0.1,0\n\
             X,P2,15,3,2,15,3,2,0.2,0.1,0.1\n\
             X,P3,15,3,2,15,3,2,0.2,0.2,0\n\
             X,P4,15,3,2,15,3,2,0.25,0.1,0\n\
             X,P5,15,3,2,15,3,2,0.3,0.2,0\n"
        ))
        .unwrap();
        let rep = check_published(&Rules::iowa_2020(), &r, &d);
        let reasons: Vec<String> = rep
            .precincts
            .iter()
            .map(|p| match &p.outcome {
                Outcome::Reproduced { .. } => "reproduced".to_string(),
                Outcome::NotReproduced(d) => d.to_string(),
            })
            .collect();
        assert_eq!(reasons[0], "reproduced");
        assert_eq!(
            reasons[1],
            "non-viable group in final alignment awarded delegates: C (2) below threshold 3"
        );
        assert_eq!(
            reasons[2],
            "rounding not per rules: published A 2, B 2; rules give A 3, B 1"
        );
        assert_eq!(reasons[3], "SDE not a whole number of delegates: A 0.25");
        assert_eq!(
            reasons[4],
            "delegates do not add up to the precinct's: published 5, precinct elects 4"
        );
    }
}
