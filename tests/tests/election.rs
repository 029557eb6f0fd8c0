//! A whole election through the `tallyboard` command, every party a separate
//! OS process talking gRPC over loopback sockets, in the order of
//! `spec/manifest.md` §7:
//!
//! 1. `board key` and `board serve` (own data directory, port chosen by the
//!    kernel and read back from the board's log); `issuer init` with a roll
//!    of 60 voters in two districts; three `trustee keygen` (threshold 2) and
//!    `admin keygen`; a manifest with two contests of different rules
//!    (one-of-n and approval); `admin post-manifest`; `issuer serve`; the
//!    key-ceremony phase with the three `trustee ceremony` processes running
//!    at the same time and `admin election-key`; voting opens.
//! 2. Every voter runs `vote enroll` with the code from the issuer's
//!    `enrollment-codes.csv` (some read it from standard input) and `vote
//!    cast` with pseudo-random choices this test remembers, eight voters at a
//!    time. Some voters `vote challenge` a ballot with other choices first
//!    (never counted); some cast a second ballot, which replaces the first
//!    (`last_counts`).
//! 3. Voting closes; `admin tally`; `admin result` waits while trustees 1 and
//!    3 run `trustee decrypt` (trustee 2 is absent); the election finishes.
//! 4. `export`, then `verify` of the exported record and of the live board
//!    must pass every check (`spec/checks.md`); the verifier's totals per
//!    contest and option must equal the totals of the choices the voters
//!    last cast, its list of counted ballots (V5.4) must be each voter's
//!    last cast, and the receipts must exist and re-check against the board.
//!
//! Every process's standard output and error go to files in the temporary
//! directory; a failing step prints them, and servers still running are
//! killed when the test ends, also on a panic (the directory is then kept).

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use common::{
    decrypt_round, entry_index, line_after, open_election, parallel, s, Board, Harness, Voter,
};

/// The board's checkpoint origin.
const ORIGIN: &str = "tallyboard/it-e2e";
/// Voters on the roll; every one enrolls and casts.
const VOTERS: u64 = 60;
/// The two districts; voter `v` lives in `DISTRICTS[v % 2]`.
const DISTRICTS: [&str; 2] = ["ward-1", "ward-2"];
/// Contest 1, one-of-n.
const MAYOR: [&str; 4] = ["okafor", "lindqvist", "tanaka", "moreau"];
/// Contest 2, approval (any subset, the empty one included).
const MEASURES: [&str; 3] = ["library", "transit", "parks"];

/// Voters who cast a second ballot (the second counts).
fn revotes(v: u64) -> bool {
    v % 13 == 5
}

/// Voters who challenge a ballot before casting.
fn challenges(v: u64) -> bool {
    v % 25 == 2
}

/// Voters who give their enrollment code on standard input (`--code -`).
fn code_on_stdin(v: u64) -> bool {
    v % 10 == 9
}

/// SplitMix64: the voters' deterministic choices.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// What one ballot selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Choice {
    mayor: usize,
    measures: [bool; MEASURES.len()],
}

impl Choice {
    /// Voter `v`'s choice on ballot `attempt`.
    fn of(v: u64, attempt: u64) -> Self {
        let h = mix(0x7a11_b0a2 ^ mix(v.wrapping_mul(16).wrapping_add(attempt)));
        let mut measures = [false; MEASURES.len()];
        for (i, m) in measures.iter_mut().enumerate() {
            *m = (h >> (8 + i)) & 1 == 1;
        }
        Choice {
            mayor: usize::try_from(h % MAYOR.len() as u64).expect("small"),
            measures,
        }
    }

    /// The `--choice` arguments of `vote cast` / `vote challenge`.
    fn args(&self) -> Vec<String> {
        let approved: Vec<&str> = MEASURES
            .iter()
            .zip(self.measures)
            .filter(|(_, on)| *on)
            .map(|(o, _)| *o)
            .collect();
        vec![
            "--choice".into(),
            format!("mayor={}", MAYOR[self.mayor]),
            "--choice".into(),
            // `measures=` with nothing after it abstains (approval allows it).
            format!("measures={}", approved.join(",")),
        ]
    }

    fn count_into(&self, totals: &mut BTreeMap<(String, String), u64>) {
        *totals
            .get_mut(&("mayor".to_owned(), MAYOR[self.mayor].to_owned()))
            .expect("mayor option") += 1;
        for (o, on) in MEASURES.iter().zip(self.measures) {
            if on {
                *totals
                    .get_mut(&("measures".to_owned(), (*o).to_owned()))
                    .expect("measures option") += 1;
            }
        }
    }
}

/// Every contest/option with a zero count.
fn zero_totals() -> BTreeMap<(String, String), u64> {
    let mut t = BTreeMap::new();
    for o in MAYOR {
        t.insert(("mayor".to_owned(), o.to_owned()), 0);
    }
    for o in MEASURES {
        t.insert(("measures".to_owned(), o.to_owned()), 0);
    }
    t
}

/// The totals in the table `admin result` prints: a `  Title [contest]`
/// line, then `    option  count  percent` lines and a `total` line.
fn printed_result(text: &str) -> BTreeMap<(String, String), u64> {
    let mut totals = BTreeMap::new();
    let mut contest: Option<&str> = None;
    for line in text.lines() {
        if let Some(id) = line
            .strip_suffix(']')
            .and_then(|l| l.rsplit_once('['))
            .map(|(_, id)| id)
        {
            contest = Some(id);
            continue;
        }
        let (Some(c), Some(row)) = (contest, line.strip_prefix("    ")) else {
            continue;
        };
        let f: Vec<&str> = row.split_whitespace().collect();
        if f.first() == Some(&"total") || f.len() < 2 {
            continue;
        }
        let count = f[1]
            .parse()
            .unwrap_or_else(|_| panic!("count in result line {line:?}"));
        totals.insert((s(c), s(f[0])), count);
    }
    totals
}

// ---------------------------------------------------------------------------
// The election.

/// What a voter left behind.
struct Voted {
    /// The credential's public key (hex), as `vote enroll` printed it.
    credential_key: String,
    /// The ballot that counts.
    last: Choice,
    /// Log index of the ballot that counts.
    last_entry: u64,
    /// Every receipt written, in casting order.
    receipts: Vec<PathBuf>,
}

fn write_roll(h: &Harness) -> PathBuf {
    let mut roll = String::from("voter_id,district\n");
    for v in 0..VOTERS {
        roll.push_str(&format!("voter-{v:03},{}\n", DISTRICTS[(v % 2) as usize]));
    }
    let path = h.path("roll.csv");
    std::fs::write(&path, roll).expect("writing the roll");
    path
}

fn write_manifest(h: &Harness, vkey: &str) -> PathBuf {
    let mut m = String::new();
    m.push_str("election_id = \"it-e2e\"\n");
    m.push_str("title = \"End-to-end test election\"\n");
    m.push_str("admin_key = \"admin.key.pub\"\n");
    m.push_str("issuer_keys = \"issuer/issuer-keys.json\"\n");
    m.push_str("revote_policy = \"last_counts\"\n\n");
    m.push_str(&format!("[board]\nkey = \"{vkey}\"\n\n"));
    m.push_str("[trustees]\nthreshold = 2\nn = 3\n\n");
    for i in 1..=3 {
        m.push_str(&format!(
            "[[trustees.members]]\nname = \"Trustee {i}\"\nsigning_key = \"trustee-{i}/signing.pub\"\n\n"
        ));
    }
    for d in DISTRICTS {
        m.push_str(&format!("[[districts]]\nid = \"{d}\"\n\n"));
    }
    let list = |o: &[&str]| {
        o.iter()
            .map(|x| format!("\"{x}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    m.push_str(&format!(
        "[[contests]]\nid = \"mayor\"\ntitle = \"Mayor\"\nrule = \"one_of_n\"\noptions = [{}]\n\n",
        list(&MAYOR)
    ));
    m.push_str(&format!(
        "[[contests]]\nid = \"measures\"\ntitle = \"Ballot measures (approve any)\"\nrule = \"approval\"\noptions = [{}]\n",
        list(&MEASURES)
    ));
    let path = h.path("manifest.toml");
    std::fs::write(&path, m).expect("writing the manifest");
    path
}

/// One voter: enroll, maybe challenge, cast, maybe cast again.
fn vote(h: &Harness, board: &Board, issuer: &str, voter: &Voter) -> Result<Voted, String> {
    let cred = h.path(&format!("voters/{}.cred", voter.id));
    let mut args = vec![s("vote"), s("enroll")];
    args.extend(board.args());
    args.extend([
        s("--issuer"),
        s(issuer),
        s("--voter-id"),
        voter.id.clone(),
        s("--district"),
        voter.district.clone(),
        s("--out"),
        cred.display().to_string(),
        s("--code"),
    ]);
    let enrolled = if code_on_stdin(voter.v) {
        args.push(s("-"));
        h.try_run(
            &format!("enroll-{}", voter.id),
            &args,
            Some(&format!("{}\n", voter.code)),
        )?
    } else {
        args.push(voter.code.clone());
        h.try_run(&format!("enroll-{}", voter.id), &args, None)?
    };
    let credential_key = line_after(&enrolled.stdout, "credential")
        .and_then(|l| l.split("public key ").nth(1))
        .map(|k| k.trim().to_owned())
        .ok_or_else(|| format!("no credential key in:\n{}", enrolled.stdout))?;
    if !cred.is_file() {
        return Err(format!(
            "{}: no credential file {}",
            voter.id,
            cred.display()
        ));
    }

    let choice_args = |c: &Choice| {
        let mut a = board.args();
        a.extend([s("--credential"), cred.display().to_string()]);
        a.extend(c.args());
        a
    };

    if challenges(voter.v) {
        // Other choices than the cast ones: a challenged ballot never counts.
        let spent = Choice::of(voter.v, 9);
        let mut args = vec![s("vote"), s("challenge")];
        args.extend(choice_args(&spent));
        let out = h.try_run(&format!("challenge-{}", voter.id), &args, None)?;
        if entry_index(&out.stdout, "challenge").is_none() || !out.stdout.contains("verified") {
            return Err(format!(
                "{}: the challenge reports no verified entry:\n{}",
                voter.id, out.stdout
            ));
        }
    }

    let mut attempts = vec![Choice::of(voter.v, 0)];
    if revotes(voter.v) {
        attempts.push(Choice::of(voter.v, 1));
    }
    let mut receipts = Vec::new();
    let mut last_entry = 0;
    for (i, c) in attempts.iter().enumerate() {
        let receipt = h.path(&format!("voters/{}.receipt-{i}", voter.id));
        let mut args = vec![s("vote"), s("cast")];
        args.extend(choice_args(c));
        args.extend([s("--receipt-out"), receipt.display().to_string()]);
        let out = h.try_run(&format!("cast{i}-{}", voter.id), &args, None)?;
        last_entry = entry_index(&out.stdout, "cast")
            .ok_or_else(|| format!("{}: no cast entry in:\n{}", voter.id, out.stdout))?;
        receipts.push(receipt);
    }
    Ok(Voted {
        credential_key,
        last: *attempts.last().expect("one ballot at least"),
        last_entry,
        receipts,
    })
}

#[test]
fn election_over_processes() {
    let started = Instant::now();
    let h = Harness::new();
    std::fs::create_dir(h.path("voters")).expect("creating the voters' directory");

    // 1. The election opens.
    let roll = write_roll(&h);
    let common::Opened {
        board,
        issuer,
        voters,
    } = open_election(&h, ORIGIN, &roll, write_manifest);
    assert_eq!(
        voters.len() as u64,
        VOTERS,
        "voters in the enrollment codes"
    );
    for (i, voter) in voters.iter().enumerate() {
        assert_eq!(voter.v, i as u64, "voter ids of the codes file");
        assert_eq!(voter.district, DISTRICTS[i % 2], "district of {}", voter.id);
    }
    let setup = started.elapsed();
    common::verify_incrementally(&h, &board, "opened");

    // 2. Voting, PARALLEL voters at a time.
    let voted = parallel(&h, voters.len(), "voting", |i| {
        vote(&h, &board, &issuer, &voters[i])
    });
    assert_eq!(voted.len() as u64, VOTERS, "every voter voted");
    let voting = started.elapsed() - setup;
    common::verify_incrementally(&h, &board, "voted");

    let mut expected = zero_totals();
    for done in voted.values() {
        done.last.count_into(&mut expected);
    }
    let revoters = (0..VOTERS).filter(|&v| revotes(v)).count() as u64;
    let challengers = (0..VOTERS).filter(|&v| challenges(v)).count() as u64;
    assert!(revoters >= 1 && challengers >= 1);
    // The revotes must change something, or replacing could go unnoticed.
    assert!(
        (0..VOTERS)
            .filter(|&v| revotes(v))
            .any(|v| Choice::of(v, 0) != Choice::of(v, 1)),
        "no revote changes a choice"
    );

    // 3. Close, tally, decrypt (trustees 1 and 3), result.
    board.phase(&h, "voting-closed");
    let round = decrypt_round(&h, &board, 0);
    assert!(
        round.tally.contains(&format!(": {VOTERS} ballots counted")),
        "{}",
        round.tally
    );
    assert!(
        round.result.contains(&format!(
            "of the tally at entry {}, round 0: {VOTERS} ballots counted, decrypted by trustees 1, 3",
            round.tally_entry
        )),
        "{}",
        round.result
    );
    assert_eq!(
        printed_result(&round.result),
        expected,
        "the totals `admin result` printed (left) against the voters' choices (right)"
    );
    board.phase(&h, "finished");
    let last = common::verify_incrementally(&h, &board, "finished");
    assert_eq!(last["record"]["phase"], "Finished");

    // 4. Export and verify, offline and against the live board.
    let record = h.path("election.record");
    let mut args = vec![s("export")];
    args.extend(board.args());
    args.extend([s("--out"), record.display().to_string()]);
    h.run("export", &args);
    let counted = h.path("counted.txt");
    let report = h.run(
        "verify-record",
        &[
            s("verify"),
            s("--record"),
            record.display().to_string(),
            s("--board-key"),
            board.vkey.clone(),
            s("--json"),
            s("--quiet"),
            s("--counted"),
            counted.display().to_string(),
        ],
    );
    let mut args = vec![s("verify")];
    args.extend(board.args());
    args.push(s("--quiet"));
    let live = h.run("verify-board", &args);
    assert!(
        live.stdout
            .lines()
            .any(|l| l.starts_with("VERIFIED: every check passed")),
        "{}",
        live.stdout
    );

    let json: serde_json::Value = serde_json::from_str(&report.stdout)
        .unwrap_or_else(|e| panic!("verify --json: {e}:\n{}", report.stdout));
    assert_eq!(json["schema"], "tallyboard-verify/v1");
    assert_eq!(json["ok"], true, "{}", report.stdout);
    let checks = json["checks"].as_array().expect("checks");
    assert!(!checks.is_empty());
    for c in checks {
        assert_ne!(c["status"], "fail", "check failed: {c}");
    }
    let rec = &json["record"];
    assert_eq!(rec["election_id"], "it-e2e");
    assert_eq!(rec["origin"], ORIGIN);
    assert_eq!(rec["phase"], "Finished");
    assert_eq!(rec["ballots_cast"], VOTERS + revoters, "{rec}");
    assert_eq!(rec["challenged"], challengers, "{rec}");

    // The decrypted totals equal the choices the voters last cast.
    let mut decrypted = BTreeMap::new();
    for row in json["results"].as_array().expect("results") {
        if row["round"] != 0 || row["district"] != "" {
            continue;
        }
        let key = (
            s(row["contest"].as_str().expect("contest")),
            s(row["option"].as_str().expect("option")),
        );
        let count = row["count"].as_u64().expect("count");
        assert!(
            decrypted.insert(key.clone(), count).is_none(),
            "two totals for {key:?}"
        );
    }
    assert_eq!(
        decrypted, expected,
        "decrypted totals (left) against the voters' choices (right)"
    );

    // Exactly each voter's last ballot counts (V5.4).
    let counted = std::fs::read_to_string(&counted).expect("reading the counted ballots");
    let mut counted_by_key = BTreeMap::new();
    for line in counted.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f.len(), 3, "counted line {line:?}");
        assert_eq!(f[1], "0", "round of {line:?}");
        let entry: u64 = f[2].parse().expect("entry index");
        assert!(counted_by_key.insert(s(f[0]), entry).is_none(), "{line}");
    }
    let last_by_key: BTreeMap<String, u64> = voted
        .values()
        .map(|d| (d.credential_key.clone(), d.last_entry))
        .collect();
    assert_eq!(last_by_key.len() as u64, VOTERS, "distinct credentials");
    assert_eq!(
        counted_by_key, last_by_key,
        "counted ballots against the last cast ones"
    );

    // Receipts: every one exists; a sample re-checks against the board,
    // replaced ballots included (they stay on the record).
    for (v, done) in &voted {
        let expected_receipts = if revotes(*v as u64) { 2 } else { 1 };
        assert_eq!(done.receipts.len(), expected_receipts);
        for r in &done.receipts {
            let len = std::fs::metadata(r)
                .unwrap_or_else(|e| panic!("receipt {}: {e}", r.display()))
                .len();
            assert!(len > 0, "empty receipt {}", r.display());
        }
    }
    let sample: Vec<&PathBuf> = voted
        .iter()
        .filter(|(v, _)| revotes(**v as u64) || **v < 2)
        .flat_map(|(_, d)| &d.receipts)
        .collect();
    for (i, r) in sample.into_iter().enumerate() {
        let mut args = vec![s("vote"), s("check-receipt")];
        args.extend(board.args());
        args.extend([s("--receipt"), r.display().to_string()]);
        let out = h.run(&format!("check-receipt-{i}"), &args);
        assert!(
            out.stdout.contains("still hashes to the tracker"),
            "{}",
            out.stdout
        );
    }

    eprintln!(
        "election over processes: {VOTERS} voters ({revoters} revotes, {challengers} challenges); setup and ceremony {:.1} s, voting {:.1} s, total {:.1} s",
        setup.as_secs_f64(),
        voting.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}
