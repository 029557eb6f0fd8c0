//! The verification report: one line per check, the result table, and the
//! stable JSON form (`spec/checks.md` §10).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::checks::CHECKS;
use tallyboard_protocol::snapshot::{SnapReader, SnapWriter, SnapshotError};

/// Schema identifier of the JSON report.
pub const SCHEMA: &str = "tallyboard-verify/v1";

/// Most failures kept per check (the count of failures is exact).
pub const MAX_FAILURES_KEPT: usize = 20;

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every instance passed (at least one instance, or the check is global).
    Pass,
    /// At least one instance failed.
    Fail,
    /// Nothing on the record to check (e.g. no caucus, no tally yet).
    #[serde(rename = "n/a")]
    NotApplicable,
}

/// One failed instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// Log index of the entry, when the failure concerns one.
    pub entry: Option<u64>,
    /// The record rule (`spec/record.md` §6), when the rules found it.
    pub rule: Option<String>,
    /// What was wrong.
    pub message: String,
}

/// The result of one numbered check.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    /// `V<n>.<m>`.
    pub id: &'static str,
    /// Short name.
    pub name: &'static str,
    /// Outcome.
    pub status: Status,
    /// Instances verified (entries, proofs, checkpoints; see `spec/checks.md`).
    pub count: u64,
    /// What was counted, e.g. "ballots".
    pub unit: String,
    /// Number of failed instances.
    pub failed: u64,
    /// The first failures (at most [`MAX_FAILURES_KEPT`]).
    pub failures: Vec<Failure>,
}

/// One line of the result table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResultRow {
    /// Caucus round (0 for an ordinary election).
    pub round: u32,
    /// Contest id.
    pub contest: String,
    /// District id ("" for an election-wide total).
    pub district: String,
    /// Option id.
    pub option: String,
    /// Decrypted count.
    pub count: u64,
    /// The contest's title in the manifest.
    pub contest_title: String,
    /// The district's name in the manifest ("" for an election-wide total).
    pub district_title: String,
    /// The option's title in the manifest.
    pub option_title: String,
}

/// What the record is.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RecordInfo {
    /// Election id (from the manifest).
    pub election_id: String,
    /// Election title (from the manifest).
    pub title: String,
    /// Election fingerprint, hex.
    pub fingerprint: String,
    /// Board origin (from the manifest).
    pub origin: String,
    /// Entries in the record.
    pub entries: u64,
    /// Size of the signed checkpoint.
    pub checkpoint_size: u64,
    /// Root hash of the signed checkpoint, base64.
    pub root: String,
    /// Phase after the last entry.
    pub phase: String,
    /// Ballots cast (revotes included).
    pub ballots_cast: u64,
    /// Challenged ballots.
    pub challenged: u64,
    /// Witnesses of the manifest whose valid cosignature is on the record's
    /// checkpoint (check V1.5), in manifest order.
    pub witnesses_cosigned: Vec<String>,
    /// Witnesses of the manifest with no cosignature on it.
    pub witnesses_missing: Vec<String>,
    /// The key ceremony's qualified dealers (QUAL, ascending), once the
    /// election key is on the record (check V3.4).
    pub qualified_trustees: Vec<u8>,
    /// Dealers the ceremony disqualified, with the fault (an outcome of the
    /// ceremony, not a failure of the record: V3.2, V3.3).
    pub disqualified_trustees: Vec<DisqualifiedTrustee>,
}

/// A dealer the key ceremony disqualified (`spec/threshold.md` §5.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DisqualifiedTrustee {
    /// The trustee index.
    pub trustee: u8,
    /// The fault, as the ceremony's evaluation names it.
    pub reason: String,
}

/// Run statistics (not part of the verdict).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Performance {
    /// Worker threads.
    pub threads: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Process CPU seconds (user + system).
    pub cpu_seconds: f64,
    /// Ballots (cast and challenged) per wall-clock second.
    pub ballots_per_second: f64,
    /// One variable-base ristretto255 scalar multiplication, measured in this
    /// run, in microseconds.
    pub unit_us: f64,
    /// CPU time per ballot in units (whole run, everything included).
    pub units_per_ballot: f64,
    /// Peak resident set size in MiB.
    pub peak_rss_mib: f64,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// True iff no check failed.
    pub ok: bool,
    /// The record.
    pub record: RecordInfo,
    /// Every check of `spec/checks.md`, in order.
    pub checks: Vec<CheckResult>,
    /// The decrypted results.
    pub results: Vec<ResultRow>,
    /// Statistics of the run.
    pub performance: Performance,
    /// The caucus's per-district viability and apportionment (a caucus
    /// record only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caucus: Option<CaucusReport>,
}

/// A caucus record's viability and delegate apportionment, per district, as
/// checked by V8.1 and V8.4 (`spec/checks.md` §10).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CaucusReport {
    /// Id of the alignment contest.
    pub contest: String,
    /// Log index of the accepted `caucus_viability` entry.
    pub viability_entry: Option<u64>,
    /// Log index of the accepted `caucus_apportionment` entry.
    pub apportionment_entry: Option<u64>,
    /// The apportionment's coin seed, hex ("" without an apportionment).
    pub coin_seed: String,
    /// The caucus districts, in manifest order.
    pub districts: Vec<CaucusDistrict>,
}

/// One caucus district (precinct).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CaucusDistrict {
    /// District id.
    pub district: String,
    /// District name in the manifest.
    pub title: String,
    /// Delegates the district elects (manifest).
    pub delegates: u32,
    /// State delegate equivalents the district carries (manifest).
    pub sde_weight: String,
    /// Participants counted for viability (from the viability entry).
    pub participants: Option<u64>,
    /// Viability threshold in participants.
    pub threshold: Option<u64>,
    /// The groups (options of the alignment contest), in manifest order.
    pub groups: Vec<CaucusGroup>,
}

/// One preference group in one caucus district.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CaucusGroup {
    /// Option id.
    pub option: String,
    /// Option title.
    pub title: String,
    /// First alignment: the round-0 result.
    pub first: Option<u64>,
    /// Viable after the first alignment.
    pub viable: Option<bool>,
    /// Final alignment: the round-1 result.
    #[serde(rename = "final")]
    pub final_: Option<u64>,
    /// Delegates apportioned.
    pub delegates: Option<u32>,
    /// State delegate equivalents apportioned (decimal string).
    pub sde: Option<String>,
}

/// Accumulates check outcomes while verifying.
#[derive(Debug, Default)]
pub struct Tally {
    counts: BTreeMap<&'static str, u64>,
    units: BTreeMap<&'static str, String>,
    failed: BTreeMap<&'static str, u64>,
    failures: BTreeMap<&'static str, Vec<Failure>>,
    passed_global: BTreeMap<&'static str, bool>,
}

impl Tally {
    /// Counts `n` passing instances of `check`, described by `unit`.
    pub fn pass(&mut self, check: &'static str, n: u64, unit: &str) {
        *self.counts.entry(check).or_insert(0) += n;
        self.units.entry(check).or_insert_with(|| unit.to_string());
    }
    /// Marks a global check (no instances) as performed.
    pub fn performed(&mut self, check: &'static str, unit: &str) {
        self.passed_global.insert(check, true);
        self.units.entry(check).or_insert_with(|| unit.to_string());
    }
    /// Records a failure of `check`.
    pub fn fail(&mut self, check: &'static str, f: Failure) {
        *self.failed.entry(check).or_insert(0) += 1;
        let v = self.failures.entry(check).or_default();
        if v.len() < MAX_FAILURES_KEPT {
            v.push(f);
        }
    }
    /// Total failures.
    pub fn failures(&self) -> u64 {
        self.failed.values().sum()
    }
    /// Count of passing instances of a check.
    pub fn count(&self, check: &str) -> u64 {
        self.counts.get(check).copied().unwrap_or(0)
    }

    /// The checks in report order.
    pub fn results(&self) -> Vec<CheckResult> {
        CHECKS
            .iter()
            .map(|&(id, name)| {
                let count = self.count(id);
                let failed = self.failed.get(id).copied().unwrap_or(0);
                let status = if failed > 0 {
                    Status::Fail
                } else if count > 0 || self.passed_global.contains_key(id) {
                    Status::Pass
                } else {
                    Status::NotApplicable
                };
                CheckResult {
                    id,
                    name,
                    status,
                    count,
                    unit: self.units.get(id).cloned().unwrap_or_default(),
                    failed,
                    failures: self.failures.get(id).cloned().unwrap_or_default(),
                }
            })
            .collect()
    }
}

impl Report {
    /// The check `id`.
    pub fn check(&self, id: &str) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// Ids of the failed checks.
    pub fn failed_checks(&self) -> Vec<&'static str> {
        self.checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .map(|c| c.id)
            .collect()
    }

    /// The JSON form (`spec/checks.md` §10).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The human form: one line per check, failures below their check,
    /// then the result table.
    pub fn to_human(&self) -> String {
        let mut s = String::new();
        let r = &self.record;
        let _ = writeln!(
            s,
            "election {} ({}), board {}: {} entries, phase {}",
            r.election_id, r.fingerprint, r.origin, r.entries, r.phase
        );
        if !r.witnesses_cosigned.is_empty() || !r.witnesses_missing.is_empty() {
            let list = |v: &[String]| {
                if v.is_empty() {
                    "none".to_string()
                } else {
                    v.join(", ")
                }
            };
            let _ = writeln!(
                s,
                "final checkpoint (size {}) cosigned by: {}; not cosigned by: {}",
                r.checkpoint_size,
                list(&r.witnesses_cosigned),
                list(&r.witnesses_missing)
            );
        }
        if !r.qualified_trustees.is_empty() {
            let q: Vec<String> = r.qualified_trustees.iter().map(u8::to_string).collect();
            let _ = write!(s, "key ceremony: qualified trustees {}", q.join(", "));
            for d in &r.disqualified_trustees {
                let _ = write!(s, "; trustee {} disqualified ({})", d.trustee, d.reason);
            }
            s.push('\n');
        }
        for c in &self.checks {
            let status = match c.status {
                Status::Pass => "PASS",
                Status::Fail => "FAIL",
                Status::NotApplicable => "n/a",
            };
            let what = if c.unit.is_empty() {
                String::new()
            } else {
                format!("{} {}", c.count, c.unit)
            };
            let _ = writeln!(s, "{:<5} {:<62} {:>24}  {status}", c.id, c.name, what);
            for f in &c.failures {
                let at = f.entry.map(|e| format!("entry {e}: ")).unwrap_or_default();
                let rule = f
                    .rule
                    .as_ref()
                    .map(|r| format!("rule {r}: "))
                    .unwrap_or_default();
                let _ = writeln!(s, "      {at}{rule}{}", f.message);
            }
            if c.failed > c.failures.len() as u64 {
                let _ = writeln!(
                    s,
                    "      ... and {} more",
                    c.failed - c.failures.len() as u64
                );
            }
        }
        if !self.results.is_empty() {
            let _ = writeln!(s, "\nresult");
            let _ = writeln!(
                s,
                "{:<5} {:<20} {:<12} {:<20} {:>12}",
                "round", "contest", "district", "option", "count"
            );
            for row in &self.results {
                let _ = writeln!(
                    s,
                    "{:<5} {:<20} {:<12} {:<20} {:>12}",
                    row.round,
                    row.contest,
                    if row.district.is_empty() {
                        "-"
                    } else {
                        &row.district
                    },
                    row.option,
                    row.count
                );
            }
        }
        let p = &self.performance;
        if p.seconds > 0.0 {
            let _ = writeln!(
                s,
                "\n{:.1} s on {} threads, {:.0} ballots/s, {:.2} units/ballot (unit {:.1} µs), peak RSS {:.0} MiB",
                p.seconds, p.threads, p.ballots_per_second, p.units_per_ballot, p.unit_us, p.peak_rss_mib
            );
        }
        let _ = writeln!(
            s,
            "{}",
            if self.ok {
                "VERIFIED: every check passed".to_string()
            } else {
                format!("NOT VERIFIED: failed {}", self.failed_checks().join(", "))
            }
        );
        s
    }
}

/// The check id of [`CHECKS`] spelled `id`.
fn check_id(id: &str) -> Result<&'static str, SnapshotError> {
    CHECKS
        .iter()
        .map(|(c, _)| *c)
        .find(|c| *c == id)
        .ok_or_else(|| SnapshotError::invalid("check", format!("unknown check {id:?}")))
}

fn write_opt_str(w: &mut SnapWriter, s: Option<&str>) {
    w.bool(s.is_some());
    if let Some(s) = s {
        w.str(s);
    }
}

fn read_opt_str(
    r: &mut SnapReader<'_>,
    what: &'static str,
) -> Result<Option<String>, SnapshotError> {
    Ok(if r.bool(what)? {
        Some(r.str(what)?)
    } else {
        None
    })
}

impl Tally {
    /// Saves the outcomes so far (`spec/checks.md` §13).
    pub fn write_snapshot(&self, w: &mut SnapWriter) {
        w.len(self.counts.len());
        for (id, n) in &self.counts {
            w.str(id);
            w.u64(*n);
        }
        w.len(self.units.len());
        for (id, u) in &self.units {
            w.str(id);
            w.str(u);
        }
        w.len(self.failed.len());
        for (id, n) in &self.failed {
            w.str(id);
            w.u64(*n);
        }
        w.len(self.failures.len());
        for (id, fs) in &self.failures {
            w.str(id);
            w.len(fs.len());
            for f in fs {
                w.u64(f.entry.unwrap_or(u64::MAX));
                write_opt_str(w, f.rule.as_deref());
                w.str(&f.message);
            }
        }
        w.len(self.passed_global.len());
        for (id, b) in &self.passed_global {
            w.str(id);
            w.bool(*b);
        }
    }

    /// Restores what [`Self::write_snapshot`] saved.
    pub fn read_snapshot(r: &mut SnapReader<'_>) -> Result<Self, SnapshotError> {
        let mut t = Self::default();
        for _ in 0..r.len(16, "check counts")? {
            let id = check_id(&r.str("check")?)?;
            t.counts.insert(id, r.u64("count")?);
        }
        for _ in 0..r.len(16, "check units")? {
            let id = check_id(&r.str("check")?)?;
            t.units.insert(id, r.str("unit")?);
        }
        for _ in 0..r.len(16, "check failures")? {
            let id = check_id(&r.str("check")?)?;
            t.failed.insert(id, r.u64("failures")?);
        }
        for _ in 0..r.len(16, "failures kept")? {
            let id = check_id(&r.str("check")?)?;
            let n = r.len(17, "failures kept")?;
            let mut fs = Vec::with_capacity(n);
            for _ in 0..n {
                fs.push(Failure {
                    entry: Some(r.u64("failure")?).filter(|&e| e != u64::MAX),
                    rule: read_opt_str(r, "failure rule")?,
                    message: r.str("failure message")?,
                });
            }
            t.failures.insert(id, fs);
        }
        for _ in 0..r.len(9, "global checks")? {
            let id = check_id(&r.str("check")?)?;
            t.passed_global.insert(id, r.bool("global check")?);
        }
        Ok(t)
    }
}

impl ResultRow {
    /// Saves the row (`spec/checks.md` §13).
    pub fn write_snapshot(&self, w: &mut SnapWriter) {
        w.u32(self.round);
        for s in [
            &self.contest,
            &self.district,
            &self.option,
            &self.contest_title,
            &self.district_title,
            &self.option_title,
        ] {
            w.str(s);
        }
        w.u64(self.count);
    }

    /// Restores what [`Self::write_snapshot`] saved.
    pub fn read_snapshot(r: &mut SnapReader<'_>) -> Result<Self, SnapshotError> {
        let round = r.u32("result row")?;
        let mut s = || r.str("result row");
        let (contest, district, option) = (s()?, s()?, s()?);
        let (contest_title, district_title, option_title) = (s()?, s()?, s()?);
        Ok(Self {
            round,
            contest,
            district,
            option,
            count: r.u64("result row")?,
            contest_title,
            district_title,
            option_title,
        })
    }
}
