//! Runs the published-results check on the real Iowa 2020 precinct data
//! (spec/caucus.md §7.4).

use std::path::PathBuf;

use tallyboard_caucus::published::{check_published, parse_delegates, parse_results};
use tallyboard_caucus::Rules;

/// Measured with `tallyboard caucus check-published` (spec/caucus.md §7.4).
const REPRODUCED_FLOOR: usize = 1404;
const PRECINCT_ROWS: usize = 1765;

fn data_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/iowa-2020"
    ))
}

#[test]
fn iowa_2020_reproduction_does_not_regress() {
    let dir = data_dir();
    let results = std::fs::read_to_string(dir.join("idp-results-2020-02-08.csv"))
        .unwrap_or_else(|e| panic!("results file under {}: {e}", dir.display()));
    let delegates = std::fs::read_to_string(dir.join("precinct-delegates.csv"))
        .unwrap_or_else(|e| panic!("delegate file under {}: {e}", dir.display()));
    let results = parse_results(&results).expect("results parse");
    let delegates = parse_delegates(&delegates).expect("delegates parse");
    let report = check_published(&Rules::iowa_2020(), &results, &delegates);
    println!(
        "reproduced {} of {} precincts",
        report.reproduced(),
        report.total()
    );
    for (reason, n) in report.discrepancy_counts() {
        println!("  {n:5}  {reason}");
    }
    for (reason, n) in report.anomaly_counts() {
        println!("  anomaly {n:5}  {reason}");
    }
    assert_eq!(report.total(), PRECINCT_ROWS);
    assert!(
        report.reproduced() >= REPRODUCED_FLOOR,
        "reproduced {} < floor {REPRODUCED_FLOOR}",
        report.reproduced()
    );
}
