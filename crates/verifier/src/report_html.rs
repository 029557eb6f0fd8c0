//! The audit report: the verification [`Report`] as one self-contained HTML
//! page that a person can read, print and archive (`spec/checks.md` §12).
//!
//! The page loads nothing: the style sheet is inline, there is no script, no
//! image and no web font, and it links only to its own sections. Every
//! string that comes from the record (titles, ids, failure messages, witness
//! names) is untrusted and goes through [`escape`]. A verdict is always
//! written out (`PASS`, `FAIL`, `n/a`, `VERIFIED`, `NOT VERIFIED`), never
//! conveyed by colour alone.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read as _;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest as _, Sha256};

use crate::report::{CaucusReport, CheckResult, Report, ResultRow, Status, MAX_FAILURES_KEPT};

/// What the page says about the run that the [`Report`] does not carry.
#[derive(Debug, Clone, Default)]
pub struct HtmlContext {
    /// When the report was made, e.g. from [`utc_timestamp`].
    pub generated_at: String,
    /// The verifier's version, e.g. `env!("CARGO_PKG_VERSION")`.
    pub version: String,
    /// The command that re-runs this verification.
    pub command: String,
    /// The record file verified, as named on the command line (none when
    /// the record was downloaded from a board).
    pub record_file: Option<String>,
    /// SHA-256 of that file, hex.
    pub record_sha256: Option<String>,
}

/// Escapes `s` for HTML text and double- or single-quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `t` as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc_timestamp(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// SHA-256 of a file, hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// The groups of checks, as headed in `spec/checks.md`.
const GROUPS: &[(&str, &str)] = &[
    ("V1", "Log integrity"),
    ("V2", "Manifest and phases"),
    ("V3", "Key ceremony"),
    ("V4", "Credentials and issuance"),
    ("V5", "Ballots"),
    ("V6", "Challenged ballots"),
    ("V7", "Tally and decryption"),
    ("V8", "Caucus"),
];

const STYLE: &str = r#"
:root { color-scheme: light; --ink: #1b1b1b; --muted: #4a4a4a; --line: #c9c9c9;
  --pass: #0b5d1e; --pass-bg: #e3f1e6; --fail: #a1110f; --fail-bg: #fbe7e6;
  --na: #4a4a4a; --na-bg: #ececec; --head: #f3f3f1; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.45;
  font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif; }
.page { max-width: 64rem; margin: 0 auto; padding: 1.5rem 1.25rem 3rem; }
h1 { font-size: 1.75rem; line-height: 1.2; margin: .25rem 0 1rem; overflow-wrap: anywhere; }
h2 { font-size: 1.3rem; margin: 2.25rem 0 .75rem; padding-bottom: .3rem; border-bottom: 2px solid var(--ink); }
h3 { font-size: 1.08rem; margin: 1.5rem 0 .5rem; overflow-wrap: anywhere; }
p { margin: .5rem 0; }
code, pre, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: .9em; }
.hash { overflow-wrap: anywhere; word-break: break-all; }
.eyebrow { margin: 0; font-size: .85rem; font-weight: 600; letter-spacing: .06em; text-transform: uppercase; color: var(--muted); }
.facts { display: grid; grid-template-columns: repeat(auto-fit, minmax(14rem, 1fr)); gap: .5rem 1.5rem; margin: 0; }
.facts div { border-top: 1px solid var(--line); padding-top: .35rem; min-width: 0; }
.facts dt { font-size: .8rem; color: var(--muted); font-weight: 600; }
.facts dd { margin: 0; overflow-wrap: anywhere; }
.facts .wide { grid-column: 1 / -1; }
.verdict { margin: 1.75rem 0 0; padding: 1rem 1.25rem; border: 3px solid; border-left-width: .75rem; border-radius: 4px; }
.verdict h2 { border: 0; margin: 0; padding: 0; font-size: .85rem; letter-spacing: .06em; text-transform: uppercase; }
.verdict .word { font-size: 2.1rem; font-weight: 800; letter-spacing: .02em; margin: .1rem 0 .4rem; line-height: 1.1; }
.verdict.pass { border-color: var(--pass); background: var(--pass-bg); }
.verdict.pass .word, .verdict.pass h2 { color: var(--pass); }
.verdict.fail { border-color: var(--fail); background: var(--fail-bg); }
.verdict.fail .word, .verdict.fail h2 { color: var(--fail); }
.verdict ul { margin: .25rem 0 .25rem 1.25rem; padding: 0; }
.verdict a { color: inherit; }
table.results, table.narrow { max-width: 40rem; }
table.narrow th[scope=row] { white-space: normal; overflow-wrap: anywhere; font-weight: 400; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; width: 100%; margin: .25rem 0 1rem; }
caption { text-align: left; font-weight: 600; padding: .25rem 0 .4rem; overflow-wrap: anywhere; }
th, td { text-align: left; vertical-align: top; padding: .35rem .6rem; border-bottom: 1px solid var(--line); }
thead th { background: var(--head); border-bottom: 2px solid var(--ink); font-size: .9rem; }
th[scope=row] { font-weight: 600; white-space: nowrap; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.unit { color: var(--muted); font-size: .85em; }
.count-inline, .short, .legend { display: none; }
.id { color: var(--muted); font-size: .85em; overflow-wrap: anywhere; }
tbody.group th[scope=colgroup] { background: var(--head); font-size: .95rem; padding-top: .5rem; }
.badge { display: inline-block; min-width: 3.6em; text-align: center; font-weight: 700; font-size: .85rem;
  padding: .1rem .45rem; border: 1px solid; border-radius: 3px; }
.badge.pass { color: var(--pass); background: var(--pass-bg); }
.badge.fail { color: var(--fail); background: var(--fail-bg); border-width: 2px; }
.badge.na { color: var(--na); background: var(--na-bg); font-weight: 600; }
tr.st-fail > * { background: var(--fail-bg); }
tr.st-fail > th:first-child { box-shadow: inset .3rem 0 0 var(--fail); }
tr.failures > td { background: #fff7f6; padding: .25rem .6rem .75rem 1.5rem; }
table.fail-list { margin: 0; font-size: .92rem; }
table.fail-list caption { color: var(--fail); }
table.fail-list td { overflow-wrap: anywhere; }
tfoot th, tfoot td { border-top: 2px solid var(--ink); border-bottom: 0; font-weight: 600; }
.yes { font-weight: 700; color: var(--pass); }
.no { color: var(--muted); }
pre { background: var(--head); border: 1px solid var(--line); padding: .75rem; white-space: pre-wrap; overflow-wrap: anywhere; margin: .5rem 0; }
.note { color: var(--muted); font-size: .92rem; }
footer { margin-top: 2.5rem; padding-top: .5rem; border-top: 1px solid var(--line); color: var(--muted); font-size: .9rem; }
footer h2 { font-size: 1rem; border: 0; margin: .5rem 0; color: var(--ink); }
footer dl { display: flex; flex-wrap: wrap; gap: .25rem 1.5rem; margin: 0; }
footer dt { font-weight: 600; } footer dd { margin: 0; }
footer dl div { display: flex; gap: .35rem; }
a:focus-visible, .scroll:focus-visible { outline: 3px solid #1a4fd6; outline-offset: 2px; }
@media (max-width: 40rem) {
  body { font-size: 15px; }
  .page { padding: 1rem .75rem 2rem; }
  h1 { font-size: 1.4rem; }
  .verdict .word { font-size: 1.6rem; }
  th, td { padding: .3rem .4rem; }
  .checks .c-count { display: none; }
  thead th.num { white-space: normal; }
  td .id, th[scope=row] .id { display: none; }
  th[scope=row] { white-space: normal; }
  table.caucus .long { display: none; }
  table.caucus .short { display: inline; }
  .legend { display: block; color: var(--muted); font-size: .85rem; }
  table.caucus { font-size: .85rem; }
  table.caucus th, table.caucus td { padding: .3rem .22rem; }
  .checks .count-inline { display: block; color: var(--muted); font-size: .9em; }
  .facts { grid-template-columns: repeat(auto-fit, minmax(9rem, 1fr)); gap: .4rem 1rem; }
  tr.failures > td { padding-left: .5rem; }
}
@media print {
  @page { margin: 14mm 12mm; }
  body { font-size: 10pt; }
  .page { max-width: none; padding: 0; }
  h2 { break-after: avoid; page-break-after: avoid; }
  h3, caption { break-after: avoid; page-break-after: avoid; }
  tr, .verdict, .facts div, .keep { break-inside: avoid; page-break-inside: avoid; }
  thead { display: table-header-group; }
  tfoot { display: table-row-group; }
  table.caucus, table.results, table.narrow, table.fail-list { break-inside: avoid; page-break-inside: avoid; }
  .scroll { overflow: visible; }
  a { color: inherit; text-decoration: none; }
  .verdict, .badge, tr.st-fail > *, thead th { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"#;

fn status_badge(s: Status) -> &'static str {
    match s {
        Status::Pass => r#"<span class="badge pass">PASS</span>"#,
        Status::Fail => r#"<span class="badge fail">FAIL</span>"#,
        Status::NotApplicable => {
            r#"<span class="badge na" title="nothing on the record to check">n/a</span>"#
        }
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A fact of the header: `<div><dt>…</dt><dd>…</dd></div>` (`dd` is HTML).
fn fact(s: &mut String, class: &str, label: &str, dd_html: &str) {
    let class = if class.is_empty() {
        String::new()
    } else {
        format!(r#" class="{class}""#)
    };
    let _ = write!(s, "<div{class}><dt>{label}</dt><dd>{dd_html}</dd></div>");
}

/// A column label with a short form for narrow screens (only one of the
/// two is displayed, so only one is read out).
fn label(long: &str, short: &str) -> String {
    format!(r#"<span class="long">{long}</span><span class="short">{short}</span>"#)
}

/// A name with its id: `Title <span class=id>(id)</span>`, or the id alone.
fn titled(title: &str, id: &str) -> String {
    if title.is_empty() || title == id {
        format!("<code>{}</code>", escape(id))
    } else {
        format!(
            r#"{} <span class="id">(<code>{}</code>)</span>"#,
            escape(title),
            escape(id)
        )
    }
}

impl Report {
    /// The audit report: one self-contained HTML page (`spec/checks.md`
    /// §12). A pure function of the report and `ctx`.
    pub fn to_html(&self, ctx: &HtmlContext) -> String {
        let mut s = String::with_capacity(32 * 1024);
        let r = &self.record;
        let name = if r.title.is_empty() {
            if r.election_id.is_empty() {
                "Unidentified record".to_string()
            } else {
                r.election_id.clone()
            }
        } else {
            r.title.clone()
        };
        let word = if self.ok { "VERIFIED" } else { "NOT VERIFIED" };
        let _ = write!(
            s,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <meta name=\"generator\" content=\"tallyboard {}\">\n\
             <title>{word}: {} — tallyboard verification report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<div class=\"page\">\n",
            escape(&ctx.version),
            escape(&name)
        );
        self.html_header(&mut s, ctx, &name);
        s.push_str("<main>\n");
        self.html_verdict(&mut s);
        self.html_checks(&mut s);
        self.html_results(&mut s);
        if let Some(c) = &self.caucus {
            html_caucus(&mut s, c);
        }
        self.html_checkpoint(&mut s);
        html_rerun(&mut s, ctx);
        s.push_str("</main>\n");
        self.html_footer(&mut s, ctx);
        s.push_str("</div>\n</body>\n</html>\n");
        s
    }

    fn html_header(&self, s: &mut String, ctx: &HtmlContext, name: &str) {
        let r = &self.record;
        let _ = write!(
            s,
            "<header>\n<p class=\"eyebrow\">tallyboard verification report</p>\n<h1>{}</h1>\n<dl class=\"facts\">",
            escape(name)
        );
        let or_dash = |v: &str| {
            if v.is_empty() {
                "—".to_string()
            } else {
                format!("<code>{}</code>", escape(v))
            }
        };
        fact(s, "", "Election id", &or_dash(&r.election_id));
        fact(s, "", "Board origin", &or_dash(&r.origin));
        fact(s, "", "Entries on the record", &r.entries.to_string());
        fact(s, "", "Phase", &escape(&r.phase));
        fact(
            s,
            "",
            "Ballots",
            &format!(
                "{} cast (revotes included), {} challenged",
                r.ballots_cast, r.challenged
            ),
        );
        if !r.qualified_trustees.is_empty() {
            let q: Vec<String> = r.qualified_trustees.iter().map(u8::to_string).collect();
            let mut v = format!("qualified: {}", q.join(", "));
            for d in &r.disqualified_trustees {
                let _ = write!(
                    v,
                    "; trustee {} disqualified ({})",
                    d.trustee,
                    escape(&d.reason)
                );
            }
            fact(s, "", "Key ceremony", &v);
        }
        fact(s, "", "Report made", &escape(&ctx.generated_at));
        fact(
            s,
            "",
            "Verifier",
            &format!("tallyboard {}", escape(&ctx.version)),
        );
        fact(
            s,
            "wide",
            "Election fingerprint",
            &if r.fingerprint.is_empty() {
                "—".to_string()
            } else {
                format!(r#"<code class="hash">{}</code>"#, escape(&r.fingerprint))
            },
        );
        s.push_str("</dl>\n</header>\n");
    }

    fn html_verdict(&self, s: &mut String) {
        let class = if self.ok { "pass" } else { "fail" };
        let _ = write!(
            s,
            "<section class=\"verdict {class}\" aria-labelledby=\"verdict\">\n<h2 id=\"verdict\">Verdict</h2>\n"
        );
        let passed = self
            .checks
            .iter()
            .filter(|c| c.status == Status::Pass)
            .count();
        let na = self
            .checks
            .iter()
            .filter(|c| c.status == Status::NotApplicable)
            .count();
        if self.ok {
            let _ = write!(
                s,
                "<p class=\"word\">VERIFIED</p>\n<p>No check failed: {} passed, {} not applicable \
                 (nothing on the record to check), of the {} numbered checks.</p>\n",
                passed,
                na,
                self.checks.len()
            );
        } else {
            let failed: Vec<&CheckResult> = self
                .checks
                .iter()
                .filter(|c| c.status == Status::Fail)
                .collect();
            let _ = write!(
                s,
                "<p class=\"word\">NOT VERIFIED</p>\n<p>{} failed ({} passed, {} not applicable):</p>\n<ul>",
                plural(failed.len(), "check", "checks"),
                passed,
                na
            );
            for c in failed {
                let _ = write!(
                    s,
                    "<li><a href=\"#check-{id}\"><strong>{id}</strong> {}</a>: {}</li>",
                    escape(c.name),
                    plural(c.failed as usize, "failure", "failures"),
                    id = escape(c.id)
                );
            }
            s.push_str("</ul>\n");
        }
        if self.results.is_empty() {
            let _ = writeln!(
                s,
                "<p>The record carries no decrypted result (phase {}).</p>",
                escape(&self.record.phase)
            );
        }
        s.push_str("</section>\n");
    }

    fn html_checks(&self, s: &mut String) {
        s.push_str(
            "<section aria-labelledby=\"checks\">\n<h2 id=\"checks\">Checks</h2>\n\
             <p class=\"note\">Every numbered check of the verification specification \
             (<code>spec/checks.md</code>), in order. A check passes only if every instance \
             passes; <em>n/a</em> means the record holds nothing it applies to.</p>\n\
             <div class=\"scroll\" role=\"region\" aria-label=\"Checks\" tabindex=\"0\">\n\
             <table class=\"checks\">\n<thead><tr><th scope=\"col\">Check</th>\
             <th scope=\"col\">What is checked</th><th scope=\"col\" class=\"num c-count\">Count</th>\
             <th scope=\"col\">Verdict</th></tr></thead>\n",
        );
        let mut open_group = None;
        for c in &self.checks {
            let group = c.id.split('.').next().unwrap_or(c.id);
            if open_group != Some(group) {
                if open_group.is_some() {
                    s.push_str("</tbody>\n");
                }
                let title = GROUPS
                    .iter()
                    .find(|(g, _)| *g == group)
                    .map_or("", |(_, t)| *t);
                let _ = writeln!(
                    s,
                    "<tbody class=\"group\"><tr><th scope=\"colgroup\" colspan=\"4\">{} {}</th></tr>",
                    escape(group),
                    escape(title)
                );
                open_group = Some(group);
            }
            let st = match c.status {
                Status::Pass => "st-pass",
                Status::Fail => "st-fail",
                Status::NotApplicable => "st-na",
            };
            let count = if c.unit.is_empty() && c.count == 0 {
                "—".to_string()
            } else {
                format!(
                    "{} <span class=\"unit\">{}</span>",
                    c.count,
                    escape(&c.unit)
                )
            };
            let inline = if c.unit.is_empty() && c.count == 0 {
                String::new()
            } else {
                format!("<span class=\"count-inline\">{count}</span>")
            };
            let _ = writeln!(
                s,
                "<tr id=\"check-{id}\" class=\"{st}\"><th scope=\"row\">{id}</th><td>{}\
                 {inline}</td>\
                 <td class=\"num c-count\">{count}</td><td>{}</td></tr>",
                escape(c.name),
                status_badge(c.status),
                id = escape(c.id)
            );
            if c.status == Status::Fail {
                let _ = write!(
                    s,
                    "<tr class=\"failures\"><td colspan=\"4\">\n<table class=\"fail-list\">\
                     <caption>{} of {}</caption>\n<thead><tr><th scope=\"col\">Entry</th>\
                     <th scope=\"col\">Rule</th><th scope=\"col\">Message</th></tr></thead>\n<tbody>\n",
                    plural(c.failed as usize, "failure", "failures"),
                    escape(c.id)
                );
                for f in &c.failures {
                    let entry = f.entry.map_or("—".to_string(), |e| e.to_string());
                    let rule = f
                        .rule
                        .as_deref()
                        .map_or("—".to_string(), |r| format!("<code>{}</code>", escape(r)));
                    let _ = writeln!(
                        s,
                        "<tr><td class=\"num\">{entry}</td><td>{rule}</td><td>{}</td></tr>",
                        escape(&f.message)
                    );
                }
                s.push_str("</tbody>\n</table>\n");
                let kept = c.failures.len() as u64;
                if c.failed > kept {
                    let _ = writeln!(
                        s,
                        "<p class=\"note\">… and {} more (the report keeps the first {} of a check).</p>",
                        c.failed - kept,
                        MAX_FAILURES_KEPT
                    );
                }
                s.push_str("</td></tr>\n");
            }
        }
        if open_group.is_some() {
            s.push_str("</tbody>\n");
        }
        s.push_str("</table>\n</div>\n</section>\n");
    }

    fn html_results(&self, s: &mut String) {
        s.push_str("<section aria-labelledby=\"results\">\n<h2 id=\"results\">Results</h2>\n");
        if self.results.is_empty() {
            s.push_str("<p>No result on the record yet.</p>\n</section>\n");
            return;
        }
        let caucus = self.caucus.is_some();
        s.push_str(
            "<p class=\"note\">The counts the verifier decrypted itself by combining the \
             trustees' partial decryptions (check V7.3).</p>\n",
        );
        // A caucus's alignment contest is shown per precinct, with its
        // viability and delegates, in the caucus section.
        let in_caucus = |r: &ResultRow| {
            self.caucus.as_ref().is_some_and(|c| {
                r.contest == c.contest && c.districts.iter().any(|d| d.district == r.district)
            })
        };
        if self.results.iter().any(in_caucus) {
            s.push_str(
                "<p>The first and final alignment of every precinct are listed with its \
                 viability and delegates under <a href=\"#caucus\">Caucus</a>.</p>\n",
            );
        }
        // Contests, districts, options and rounds in order of appearance.
        let mut contests: Vec<(&str, &str)> = Vec::new();
        let mut rounds: Vec<u32> = Vec::new();
        for row in self.results.iter().filter(|r| !in_caucus(r)) {
            if !contests.iter().any(|(c, _)| *c == row.contest) {
                contests.push((&row.contest, &row.contest_title));
            }
            if !rounds.contains(&row.round) {
                rounds.push(row.round);
            }
        }
        rounds.sort_unstable();
        let round_name = |round: u32| match (caucus, round) {
            (true, 0) => "First alignment".to_string(),
            (true, 1) => "Final alignment".to_string(),
            _ if rounds.len() == 1 => "Count".to_string(),
            _ => format!("Round {round}"),
        };
        for (cid, ctitle) in contests {
            let rows: Vec<&ResultRow> = self
                .results
                .iter()
                .filter(|r| r.contest == cid && !in_caucus(r))
                .collect();
            let _ = writeln!(s, "<h3>{}</h3>", titled(ctitle, cid));
            let mut districts: Vec<(&str, &str)> = Vec::new();
            for r in &rows {
                if !districts.iter().any(|(d, _)| *d == r.district) {
                    districts.push((&r.district, &r.district_title));
                }
            }
            for (did, dtitle) in districts {
                let drows: Vec<&&ResultRow> = rows.iter().filter(|r| r.district == did).collect();
                let drounds: Vec<u32> = rounds
                    .iter()
                    .copied()
                    .filter(|x| drows.iter().any(|r| r.round == *x))
                    .collect();
                let mut options: Vec<(&str, &str)> = Vec::new();
                let mut counts: BTreeMap<(&str, u32), u64> = BTreeMap::new();
                for r in &drows {
                    if !options.iter().any(|(o, _)| *o == r.option) {
                        options.push((&r.option, &r.option_title));
                    }
                    counts.insert((&r.option, r.round), r.count);
                }
                let caption = if did.is_empty() {
                    "Election-wide".to_string()
                } else {
                    titled(dtitle, did)
                };
                let _ = write!(
                    s,
                    "<div class=\"scroll\" role=\"region\" aria-label=\"Results\" tabindex=\"0\">\n\
                     <table class=\"results\">\n<caption>{caption}</caption>\n<thead><tr><th scope=\"col\">Option</th>"
                );
                for &x in &drounds {
                    let _ = write!(
                        s,
                        "<th scope=\"col\" class=\"num\">{}</th>",
                        escape(&round_name(x))
                    );
                }
                s.push_str("</tr></thead>\n<tbody>\n");
                for (oid, otitle) in &options {
                    let _ = write!(s, "<tr><th scope=\"row\">{}</th>", titled(otitle, oid));
                    for &x in &drounds {
                        let v = counts
                            .get(&(*oid, x))
                            .map_or("—".to_string(), |n| n.to_string());
                        let _ = write!(s, "<td class=\"num\">{v}</td>");
                    }
                    s.push_str("</tr>\n");
                }
                s.push_str("</tbody>\n<tfoot><tr><th scope=\"row\">Sum</th>");
                for &x in &drounds {
                    let total: u64 = drows.iter().filter(|r| r.round == x).map(|r| r.count).sum();
                    let _ = write!(s, "<td class=\"num\">{total}</td>");
                }
                s.push_str("</tr></tfoot>\n</table>\n</div>\n");
            }
        }
        s.push_str("</section>\n");
    }

    fn html_checkpoint(&self, s: &mut String) {
        let r = &self.record;
        s.push_str(
            "<section aria-labelledby=\"checkpoint\">\n<h2 id=\"checkpoint\">Signed checkpoint and witnesses</h2>\n\
             <dl class=\"facts\">",
        );
        fact(s, "", "Checkpoint size", &r.checkpoint_size.to_string());
        fact(
            s,
            "wide",
            "Root hash (base64)",
            &if r.root.is_empty() {
                "— (no valid checkpoint)".to_string()
            } else {
                format!(r#"<code class="hash">{}</code>"#, escape(&r.root))
            },
        );
        s.push_str("</dl>\n");
        let v15 = self.check("V1.5").map(|c| c.status);
        if r.witnesses_cosigned.is_empty() && r.witnesses_missing.is_empty() {
            s.push_str("<p>The manifest names no witness.</p>\n");
        } else {
            let _ = write!(
                s,
                "<div class=\"scroll\" role=\"region\" aria-label=\"Witnesses\" tabindex=\"0\">\n\
                 <table class=\"narrow\">\n<caption>The manifest's witnesses: {} of {} cosigned this checkpoint</caption>\n\
                 <thead><tr><th scope=\"col\">Witness</th><th scope=\"col\">Cosignature</th></tr></thead>\n<tbody>\n",
                r.witnesses_cosigned.len(),
                r.witnesses_cosigned.len() + r.witnesses_missing.len()
            );
            for (names, badge) in [
                (
                    &r.witnesses_cosigned,
                    r#"<span class="badge pass">COSIGNED</span>"#,
                ),
                (
                    &r.witnesses_missing,
                    r#"<span class="badge na">NONE</span>"#,
                ),
            ] {
                for n in names {
                    let _ = writeln!(
                        s,
                        "<tr><th scope=\"row\"><code>{}</code></th><td>{badge}</td></tr>",
                        escape(n)
                    );
                }
            }
            s.push_str("</tbody>\n</table>\n</div>\n");
        }
        if let Some(st) = v15 {
            let _ = writeln!(
                s,
                "<p class=\"note\">Witness cosignatures are check <a href=\"#check-V1.5\">V1.5</a>: {}. \
                 A witness cosigns a checkpoint only if it extends every one it cosigned before, \
                 so each cosigner vouches that the board showed it this same history.</p>",
                status_badge(st)
            );
        }
        s.push_str("</section>\n");
    }

    fn html_footer(&self, s: &mut String, ctx: &HtmlContext) {
        let p = &self.performance;
        s.push_str("<footer aria-labelledby=\"run\">\n<h2 id=\"run\">Run statistics</h2>\n<dl>");
        let item = |s: &mut String, k: &str, v: String| {
            let _ = write!(s, "<div><dt>{k}</dt><dd>{v}</dd></div>");
        };
        item(s, "Threads", p.threads.to_string());
        item(s, "Wall clock", format!("{:.2} s", p.seconds));
        item(s, "CPU", format!("{:.2} s", p.cpu_seconds));
        item(
            s,
            "Ballots per second",
            format!("{:.0}", p.ballots_per_second),
        );
        item(s, "Unit", format!("{:.1} µs", p.unit_us));
        item(s, "Units per ballot", format!("{:.2}", p.units_per_ballot));
        item(s, "Peak RSS", format!("{:.0} MiB", p.peak_rss_mib));
        let _ = write!(
            s,
            "</dl>\n<p>These describe the machine that made this report, not the record. A unit is one \
             ristretto255 scalar multiplication measured in the same run. Made by tallyboard {} \
             on {}.</p>\n</footer>\n",
            escape(&ctx.version),
            escape(&ctx.generated_at)
        );
    }
}

fn html_caucus(s: &mut String, c: &CaucusReport) {
    s.push_str(
        "<section aria-labelledby=\"caucus\">\n<h2 id=\"caucus\">Caucus: viability and delegates</h2>\n",
    );
    let at = |e: Option<u64>, what: &str, check: &str| match e {
        Some(i) => format!("{what} at entry {i} (check <a href=\"#check-{check}\">{check}</a>)"),
        None => format!("no {what} on the record"),
    };
    let _ = writeln!(
        s,
        "<p>Alignment contest <code>{}</code>; {}; {}.</p>",
        escape(&c.contest),
        at(c.viability_entry, "viability", "V8.1"),
        at(c.apportionment_entry, "apportionment", "V8.4")
    );
    if !c.coin_seed.is_empty() {
        let _ = writeln!(
            s,
            "<p>Seed of the apportionment's coin tosses: <code class=\"hash\">{}</code></p>",
            escape(&c.coin_seed)
        );
    }
    let opt = |v: Option<u64>| v.map_or("—".to_string(), |n| n.to_string());
    let _ = write!(
        s,
        "<p class=\"legend\">Part.: participants; Thr.: viability threshold; Del.: delegates; \
         SDE: state delegate equivalents.</p>\n\
         <div class=\"scroll\" role=\"region\" aria-label=\"Precincts\" tabindex=\"0\">\n\
         <table class=\"caucus\">\n<caption>Precincts</caption>\n<thead><tr><th scope=\"col\">Precinct</th>\
         <th scope=\"col\" class=\"num\">{}</th><th scope=\"col\" class=\"num\">{}</th>\
         <th scope=\"col\">{}</th><th scope=\"col\" class=\"num\">{}</th>\
         <th scope=\"col\" class=\"num\">{}</th></tr></thead>\n<tbody>\n",
        label("Participants", "Part."),
        label("Viability threshold", "Thr."),
        label("Viable groups", "Viable"),
        label("Delegates", "Del."),
        label("SDE weight", "SDE"),
    );
    for (k, d) in c.districts.iter().enumerate() {
        let viable: Vec<String> = d
            .groups
            .iter()
            .filter(|g| g.viable == Some(true))
            .map(|g| {
                escape(if g.title.is_empty() {
                    &g.option
                } else {
                    &g.title
                })
            })
            .collect();
        let viable = if d.participants.is_none() {
            "—".to_string()
        } else if viable.is_empty() {
            "none".to_string()
        } else {
            format!(
                "{}<span class=\"long\">: {}</span>",
                viable.len(),
                viable.join(", ")
            )
        };
        let _ = writeln!(
            s,
            "<tr><th scope=\"row\"><a href=\"#precinct-{k}\">{}</a></th><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td>{viable}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            titled(&d.title, &d.district),
            opt(d.participants),
            opt(d.threshold),
            d.delegates,
            if d.sde_weight.is_empty() {
                "—".to_string()
            } else {
                escape(&d.sde_weight)
            }
        );
    }
    s.push_str("</tbody>\n</table>\n</div>\n");
    for (k, d) in c.districts.iter().enumerate() {
        let _ = write!(
            s,
            "<div class=\"keep\">\n<h3 id=\"precinct-{k}\">{}</h3>\n<p>{} participants, viability threshold {}, {}{}.</p>\n\
             <div class=\"scroll\" role=\"region\" aria-label=\"{}\" tabindex=\"0\">\n\
             <table class=\"caucus\">\n<thead><tr><th scope=\"col\">Group</th><th scope=\"col\" class=\"num\">{}</th>\
             <th scope=\"col\">Viable</th><th scope=\"col\" class=\"num\">{}</th>\
             <th scope=\"col\" class=\"num\">{}</th><th scope=\"col\" class=\"num\">{}</th></tr></thead>\n<tbody>\n",
            titled(&d.title, &d.district),
            opt(d.participants),
            opt(d.threshold),
            plural(d.delegates as usize, "delegate", "delegates"),
            if d.sde_weight.is_empty() {
                String::new()
            } else {
                format!(", SDE weight {}", escape(&d.sde_weight))
            },
            escape(if d.title.is_empty() {
                &d.district
            } else {
                &d.title
            }),
            label("First alignment", "First"),
            label("Final alignment", "Final"),
            label("Delegates", "Del."),
            label("SDEs", "SDE"),
        );
        for g in &d.groups {
            let viable = match g.viable {
                Some(true) => "<span class=\"yes\">yes</span>",
                Some(false) => "<span class=\"no\">no</span>",
                None => "—",
            };
            let _ = writeln!(
                s,
                "<tr><th scope=\"row\">{}</th><td class=\"num\">{}</td><td>{viable}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                titled(&g.title, &g.option),
                opt(g.first),
                opt(g.final_),
                g.delegates.map_or("—".to_string(), |n| n.to_string()),
                g.sde.as_deref().map_or("—".to_string(), escape)
            );
        }
        let sum = |f: &dyn Fn(&crate::report::CaucusGroup) -> Option<u64>| {
            let v: Vec<u64> = d.groups.iter().filter_map(f).collect();
            if v.is_empty() {
                "—".to_string()
            } else {
                v.iter().sum::<u64>().to_string()
            }
        };
        let _ = write!(
            s,
            "</tbody>\n<tfoot><tr><th scope=\"row\">Total</th><td class=\"num\">{}</td><td></td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr></tfoot>\n</table>\n</div>\n</div>\n",
            sum(&|g| g.first),
            sum(&|g| g.final_),
            sum(&|g| g.delegates.map(u64::from)),
            sde_sum(d.groups.iter().filter_map(|g| g.sde.as_deref()))
        );
    }
    s.push_str("</section>\n");
}

/// The sum of decimal strings (up to 9 decimals), or "—" if there are none
/// or one does not parse.
fn sde_sum<'a>(values: impl Iterator<Item = &'a str>) -> String {
    const SCALE: u32 = 9;
    let mut total: u128 = 0;
    let mut places = 0usize;
    let mut any = false;
    for v in values {
        let (int, frac) = v.split_once('.').unwrap_or((v, ""));
        let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
        if !digits(int) || (!frac.is_empty() && !digits(frac)) || frac.len() > SCALE as usize {
            return "—".to_string();
        }
        let (Ok(i), Ok(f)) = (int.parse::<u128>(), format!("{frac:0<9}").parse::<u128>()) else {
            return "—".to_string();
        };
        total = total.saturating_add(i * 10u128.pow(SCALE) + f);
        places = places.max(frac.len());
        any = true;
    }
    if !any {
        return "—".to_string();
    }
    let int = total / 10u128.pow(SCALE);
    let frac = format!("{:09}", total % 10u128.pow(SCALE));
    if places == 0 {
        int.to_string()
    } else {
        format!("{int}.{}", &frac[..places])
    }
}

fn html_rerun(s: &mut String, ctx: &HtmlContext) {
    s.push_str(
        "<section aria-labelledby=\"rerun\">\n<h2 id=\"rerun\">How to check this yourself</h2>\n\
         <p>The verdict depends on the record alone. Anyone can re-run the verification with the \
         same command (add <code>--report FILE.html</code> for this page, <code>--json</code> for \
         machines):</p>\n",
    );
    let _ = writeln!(s, "<pre><code>{}</code></pre>", escape(&ctx.command));
    match (&ctx.record_file, &ctx.record_sha256) {
        (Some(f), Some(h)) => {
            let _ = write!(
                s,
                "<p>SHA-256 of the record file <code>{}</code> (compare with \
                 <code>sha256sum</code>):</p>\n<pre><code class=\"hash\">{}</code></pre>\n",
                escape(f),
                escape(h)
            );
        }
        _ => s.push_str(
            "<p>The record was downloaded from the board; <code>tallyboard export</code> saves a \
             copy to archive with this page.</p>\n",
        ),
    }
    s.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::CHECKS;
    use crate::report::{
        CaucusDistrict, CaucusGroup, Failure, Performance, RecordInfo, ResultRow, Tally, SCHEMA,
    };

    fn report(tally: &Tally, title: &str) -> Report {
        let checks = tally.results();
        let ok = checks.iter().all(|c| c.status != Status::Fail);
        Report {
            schema: SCHEMA,
            ok,
            record: RecordInfo {
                election_id: "e-1".into(),
                title: title.into(),
                fingerprint: "ab".repeat(32),
                origin: "tallyboard/e-1".into(),
                entries: 12,
                checkpoint_size: 12,
                root: "AAAA".into(),
                phase: "Finished".into(),
                witnesses_cosigned: vec!["w.example/one".into()],
                witnesses_missing: vec!["w.example/<two>".into()],
                ..RecordInfo::default()
            },
            checks,
            results: vec![ResultRow {
                round: 0,
                contest: "c1".into(),
                district: String::new(),
                option: "o1".into(),
                count: 7,
                contest_title: "Mayor & council".into(),
                district_title: String::new(),
                option_title: "<b>Ann</b>".into(),
            }],
            performance: Performance {
                threads: 2,
                seconds: 0.5,
                ..Performance::default()
            },
            caucus: None,
        }
    }

    fn ctx() -> HtmlContext {
        HtmlContext {
            generated_at: utc_timestamp(UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000)),
            version: "0.1.0".into(),
            command: "tallyboard verify --record election.record".into(),
            record_file: Some("election.record".into()),
            record_sha256: Some("00".repeat(32)),
        }
    }

    fn honest() -> Tally {
        let mut t = Tally::default();
        t.pass("V1.1", 1, "roots");
        t.pass("V5.2", 30, "ballots");
        t
    }

    #[test]
    fn sums_decimal_strings() {
        assert_eq!(
            sde_sum(["1.5000", "0.2500", "0.0000"].into_iter()),
            "1.7500"
        );
        assert_eq!(sde_sum(["1", "2"].into_iter()), "3");
        assert_eq!(sde_sum(["0.1", "0.25"].into_iter()), "0.35");
        assert_eq!(sde_sum(["x"].into_iter()), "—");
        assert_eq!(sde_sum(std::iter::empty()), "—");
    }

    #[test]
    fn timestamp_is_utc_civil_time() {
        assert_eq!(ctx().generated_at, "2023-11-14 22:13:20 UTC");
        assert_eq!(utc_timestamp(UNIX_EPOCH), "1970-01-01 00:00:00 UTC");
        let leap = UNIX_EPOCH + std::time::Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(utc_timestamp(leap), "2000-02-29 00:00:00 UTC");
    }

    #[test]
    fn lists_every_check_in_order() {
        let html = report(&honest(), "Demo").to_html(&ctx());
        let mut at = 0;
        for (id, name) in CHECKS {
            let row = format!("<tr id=\"check-{id}\"");
            let pos = html[at..]
                .find(&row)
                .unwrap_or_else(|| panic!("{id} missing or out of order"));
            at += pos;
            assert!(html.contains(&escape(name)), "{id}'s name");
        }
        assert!(html.contains("<html lang=\"en\">"));
        assert!(html.contains("<p class=\"word\">VERIFIED</p>"));
        assert!(html.contains("30 <span class=\"unit\">ballots</span>"));
        assert!(html.contains("@media print"));
        assert!(html.contains("<th scope=\"col\">"));
    }

    #[test]
    fn escapes_hostile_strings() {
        let mut t = honest();
        t.fail(
            "V5.2",
            Failure {
                entry: Some(52),
                rule: Some("R6.3 <ballot-proofs>".into()),
                message: "contest <c1> & \"friends\": </td><script>alert(2)</script>".into(),
            },
        );
        let html = report(&t, "<script>alert(1)</script>").to_html(&ctx());
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<b>Ann"));
        assert!(!html.contains("<two>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("contest &lt;c1&gt; &amp; &quot;friends&quot;: &lt;/td&gt;"));
        assert!(html.contains("Mayor &amp; council"));
        assert!(html.contains("R6.3 &lt;ballot-proofs&gt;"));
    }

    #[test]
    fn is_self_contained() {
        let mut t = honest();
        t.fail(
            "V1.1",
            Failure {
                entry: None,
                rule: None,
                message: "x".into(),
            },
        );
        for r in [report(&honest(), "Demo"), report(&t, "Demo")] {
            let html = r.to_html(&ctx()).to_lowercase();
            for bad in [
                "http://",
                "https://",
                "src=",
                "@import",
                "url(",
                "<script",
                "<link",
                "<img",
                "<iframe",
                "<object",
                "<embed",
                "@font-face",
            ] {
                assert!(!html.contains(bad), "{bad}");
            }
            // Links stay on the page.
            for (i, _) in html.match_indices("href=\"") {
                assert_eq!(&html[i + 6..i + 7], "#", "{}", &html[i..i + 40]);
            }
        }
    }

    #[test]
    fn marks_a_failed_check() {
        let mut t = honest();
        for i in 0..25 {
            t.fail(
                "V7.1",
                Failure {
                    entry: Some(100 + i),
                    rule: Some("R10.1 tally-aggregate".into()),
                    message: "aggregate differs".into(),
                },
            );
        }
        let html = report(&t, "Demo").to_html(&ctx());
        assert!(html.contains("<p class=\"word\">NOT VERIFIED</p>"));
        assert!(html.contains("<title>NOT VERIFIED: Demo"));
        assert!(html.contains("<a href=\"#check-V7.1\"><strong>V7.1</strong>"));
        assert!(
            html.contains("<tr id=\"check-V7.1\" class=\"st-fail\"><th scope=\"row\">V7.1</th>")
        );
        assert!(html.contains("<span class=\"badge fail\">FAIL</span>"));
        assert!(html.contains("25 failures of V7.1"));
        assert!(html.contains("<td class=\"num\">100</td><td><code>R10.1 tally-aggregate</code></td><td>aggregate differs</td>"));
        assert!(html.contains("… and 5 more"));
        assert!(!html.contains("<p class=\"word\">VERIFIED</p>"));
    }

    #[test]
    fn shows_witnesses_rerun_and_caucus() {
        let mut r = report(&honest(), "Caucus");
        r.caucus = Some(CaucusReport {
            contest: "alignment".into(),
            viability_entry: Some(80),
            apportionment_entry: Some(120),
            coin_seed: "cd".repeat(32),
            districts: vec![CaucusDistrict {
                district: "p1".into(),
                title: "Precinct <1>".into(),
                delegates: 5,
                sde_weight: "2.5".into(),
                participants: Some(15),
                threshold: Some(3),
                groups: vec![CaucusGroup {
                    option: "adams".into(),
                    title: "Adams".into(),
                    first: Some(9),
                    viable: Some(true),
                    final_: Some(10),
                    delegates: Some(3),
                    sde: Some("1.5000".into()),
                }],
            }],
        });
        let html = r.to_html(&ctx());
        assert!(html.contains("<code>w.example/one</code>"));
        assert!(html.contains("<code>w.example/&lt;two&gt;</code>"));
        assert!(html.contains("tallyboard verify --record election.record"));
        assert!(html.contains(&"00".repeat(32)));
        assert!(html.contains("Precinct &lt;1&gt;"));
        assert!(html.contains("1<span class=\"long\">: Adams</span>"));
        assert!(html.contains("<td class=\"num\">1.5000</td>"));
        assert!(html.contains("First alignment"));
    }
}
