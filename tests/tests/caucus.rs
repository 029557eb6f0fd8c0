//! A whole virtual caucus through the `tallyboard` command, every party a
//! separate OS process talking gRPC over loopback sockets
//! (`spec/caucus.md` §9):
//!
//! 1. The election opens as in `election.rs` (board, issuer with a roll of
//!    40 participants in four precincts of 5, 4, 3 and 1 delegates, three
//!    trustees with threshold 2, administrator), with a caucus manifest
//!    (`spec/manifest.md` §2.7): one one-of-n alignment contest of five
//!    groups, "uncommitted" among them, and the `idp-2020` viability rule.
//! 2. Every participant runs `vote enroll` and `vote cast` with a first
//!    alignment and ranked preferences (`--rank`, `--first-alignment-out`),
//!    eight at a time. The first alignments are chosen so that groups miss
//!    viability in every precinct electing more than one delegate
//!    (`spec/caucus.md` §2.2), and some participants rank nobody else.
//! 3. Voting closes; round 0 is tallied and decrypted by trustees 1 and 3;
//!    `admin viability` posts the viability, which must be the test's own
//!    (§9.3); the realignment opens.
//! 4. Every participant runs `vote realign`; what each one prints (locked,
//!    realigned to which group, no change) must be what the test computes
//!    from the viability and the ranked preferences (§9.8).
//! 5. The realignment closes; round 1 is tallied and decrypted; `admin
//!    apportion` posts the delegates, which must add up to each precinct's
//!    delegates and equal the apportionment of §4 worked out by hand; the
//!    caucus finishes.
//! 6. `export` and `verify --json` of the record must pass every check,
//!    V8.1–V8.4 included; the verifier's round-0 counts per precinct must be
//!    the first alignments cast, its round-1 counts the final alignment
//!    (viable groups keep their members and gain the realigners, the others
//!    count 0, §9.5).

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use common::{decrypt_round, entry_index, open_election, parallel, s, Board, Harness, Voter};

/// The board's checkpoint origin.
const ORIGIN: &str = "tallyboard/it-caucus";
/// The election id of the manifest.
const ELECTION_ID: &str = "it-caucus";
/// The alignment contest.
const CONTEST: &str = "alignment";
/// Its options, the caucus groups, in manifest order.
const GROUPS: [&str; 5] = ["adams", "baker", "chen", "diaz", "uncommitted"];
/// The position of "uncommitted" in [`GROUPS`].
const UNCOMMITTED: usize = 4;
/// The precincts: id, delegates, state delegate equivalents (`sde_weight`)
/// in ten-thousandths (each a multiple of the delegates, so that every
/// delegate's SDE is exact).
const PRECINCTS: [(&str, u32, u64); 4] = [
    ("precinct-1", 5, 25_000),
    ("precinct-2", 4, 12_000),
    ("precinct-3", 3, 7_500),
    ("precinct-4", 1, 2_500),
];
/// Each precinct's participants: `first>second>...` is a first alignment
/// followed by the other ranked preferences; a lone group ranks nobody
/// else. The comments give the viability threshold `T` (§2.2) and what the
/// test expects, which it computes again below rather than trusting these.
const ALIGNMENTS: [&[&str]; 4] = [
    // 5 delegates, P = 12, T = ceil(15 % of 12) = 2: chen (1) and diaz (1)
    // are not viable; chen's member realigns to baker (past diaz, not
    // viable), diaz's to "uncommitted" (viable, nobody else ranked).
    &[
        "adams",
        "adams>baker",
        "adams",
        "adams>chen>baker",
        "adams",
        "baker",
        "baker>adams",
        "baker",
        "chen>diaz>baker",
        "diaz",
        "uncommitted",
        "uncommitted>adams",
    ],
    // 4 delegates, P = 10, T = ceil(1.5) = 2: baker (2) is just viable;
    // adams's member has no viable preference and "uncommitted" is not
    // viable (no change); uncommitted's member realigns to baker.
    &[
        "adams>diaz",
        "baker",
        "baker>chen",
        "chen",
        "chen",
        "chen",
        "chen",
        "chen>adams",
        "chen>baker>adams",
        "uncommitted>diaz>baker",
    ],
    // 3 delegates, P = 11, T = ceil(11 / 6) = 2: baker, chen and
    // uncommitted (1 each) are not viable; to adams, nothing, to diaz.
    &[
        "adams",
        "adams>diaz",
        "baker>chen>adams",
        "chen",
        "diaz",
        "diaz",
        "diaz",
        "diaz>adams",
        "diaz",
        "diaz",
        "uncommitted>diaz",
    ],
    // 1 delegate: plurality, every group with members is viable (locked,
    // §9.3 item 2).
    &[
        "adams",
        "adams",
        "adams>baker",
        "baker>adams",
        "baker",
        "chen>diaz",
        "chen",
    ],
];
/// The delegates each group wins per precinct (§4, by hand, from the final
/// alignment the test expects; no tie, so no coin toss):
/// - precinct-1, final adams 5, baker 4, uncommitted 3: raw shares 25/12,
///   20/12, 15/12 round to 2, 2, 1 = 5;
/// - precinct-2, final baker 3, chen 6: raw 1.2 and 2.4 round to 1 and 2;
///   one short, chen has the larger decimal (0.4) and gets 3;
/// - precinct-3, final adams 3, diaz 7: raw 9/11 and 21/11 round to 1, 2;
/// - precinct-4, first (= final) adams 3, baker 2, chen 2: adams by
///   plurality.
const DELEGATES: [[u32; 5]; 4] = [
    [2, 2, 0, 0, 1],
    [0, 1, 3, 0, 0],
    [1, 0, 0, 2, 0],
    [1, 0, 0, 0, 0],
];
/// A participant of the test caucus.
#[derive(Debug, Clone)]
struct Participant {
    /// Index in [`PRECINCTS`].
    precinct: usize,
    /// The first alignment, an index in [`GROUPS`].
    first: usize,
    /// The ranked preferences (the first alignment first).
    ranked: Vec<usize>,
}

impl Participant {
    /// The `vote cast` arguments of the choice: `--choice`, and `--rank`
    /// unless nobody else is ranked. Some of those who rank nobody else
    /// still pass `--rank FIRST`, and some who do rank others leave the
    /// first alignment out of `--rank` (it is not viable when they realign,
    /// so both mean the same).
    fn cast_args(&self, v: usize) -> Vec<String> {
        let mut a = vec![s("--choice"), format!("{CONTEST}={}", GROUPS[self.first])];
        let rank: &[usize] = if self.ranked.len() > 1 && v.is_multiple_of(3) {
            &self.ranked[1..]
        } else if self.ranked.len() == 1 && v % 2 == 1 {
            &[]
        } else {
            &self.ranked
        };
        if !rank.is_empty() {
            let names: Vec<&str> = rank.iter().map(|&g| GROUPS[g]).collect();
            a.extend([s("--rank"), names.join(",")]);
        }
        a
    }
}

fn group(name: &str) -> usize {
    GROUPS
        .iter()
        .position(|g| *g == name)
        .unwrap_or_else(|| panic!("{name:?} is not a group"))
}

/// Every participant, in voter-id order (`voter-000` is the first).
fn participants() -> Vec<Participant> {
    let mut all = Vec::new();
    for (precinct, list) in ALIGNMENTS.iter().enumerate() {
        for spec in *list {
            let ranked: Vec<usize> = spec.split('>').map(group).collect();
            all.push(Participant {
                precinct,
                first: ranked[0],
                ranked,
            });
        }
    }
    all
}

/// The viability of the first alignment `counts` in a precinct electing
/// `delegates` under the Iowa 2020 rules (`spec/caucus.md` §2.2, §9.3):
/// the threshold (0 for plurality) and one flag per group.
fn viability(delegates: u32, counts: &[u64]) -> (u64, Vec<bool>) {
    let p: u64 = counts.iter().sum();
    let threshold = match delegates {
        // Plurality: every group with members is viable (locked).
        1 => 0,
        2 => p.div_ceil(4),
        3 => p.div_ceil(6),
        _ => (15 * p).div_ceil(100),
    };
    let viable = counts.iter().map(|&c| c > 0 && c >= threshold).collect();
    (threshold, viable)
}

/// What `vote realign` does for a participant (`spec/caucus.md` §9.8).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Move {
    /// The first group is viable.
    Locked,
    /// Realigned to this group.
    To(usize),
    /// No viable preference, and "uncommitted" not viable either.
    NoChange,
}

fn expected_move(p: &Participant, viable: &[bool]) -> Move {
    if viable[p.first] {
        return Move::Locked;
    }
    p.ranked
        .iter()
        .take(5)
        .copied()
        .find(|&g| viable[g])
        .or(Some(UNCOMMITTED).filter(|&u| viable[u]))
        .map_or(Move::NoChange, Move::To)
}

/// What `vote realign` printed.
fn printed_move(stdout: &str) -> Option<Move> {
    for line in stdout.lines() {
        if line.starts_with("locked ") {
            return Some(Move::Locked);
        }
        if line.starts_with("no change ") {
            return Some(Move::NoChange);
        }
        if let Some(rest) = line.strip_prefix("realign     to ") {
            let name = rest.split_whitespace().next()?;
            return GROUPS.iter().position(|g| *g == name).map(Move::To);
        }
    }
    None
}

fn write_roll(h: &Harness, all: &[Participant]) -> PathBuf {
    let mut roll = String::from("voter_id,district\n");
    for (v, p) in all.iter().enumerate() {
        roll.push_str(&format!("voter-{v:03},{}\n", PRECINCTS[p.precinct].0));
    }
    let path = h.path("roll.csv");
    std::fs::write(&path, roll).expect("writing the roll");
    path
}

/// A caucus manifest as `tallyboard demo --caucus` writes it
/// (`spec/manifest.md` §2.7).
fn write_manifest(h: &Harness, vkey: &str) -> PathBuf {
    let mut m = String::new();
    m.push_str(&format!("election_id = \"{ELECTION_ID}\"\n"));
    m.push_str("title = \"End-to-end test caucus\"\n");
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
    for (i, (id, delegates, sde)) in PRECINCTS.iter().enumerate() {
        m.push_str(&format!(
            "[[districts]]\nid = \"{id}\"\nname = \"Precinct {}\"\ndelegates = {delegates}\nsde_weight = \"{}\"\n\n",
            i + 1,
            ten_thousandths(*sde)
        ));
    }
    let options: Vec<String> = GROUPS.iter().map(|g| format!("\"{g}\"")).collect();
    m.push_str(&format!(
        "[[contests]]\nid = \"{CONTEST}\"\ntitle = \"Presidential preference\"\nrule = \"one_of_n\"\noptions = [{}]\n\n",
        options.join(", ")
    ));
    m.push_str(&format!(
        "[caucus]\nalignment_contest = \"{CONTEST}\"\nuncommitted_option = \"{}\"\nviability_rule = \"idp-2020\"\n",
        GROUPS[UNCOMMITTED]
    ));
    let path = h.path("manifest.toml");
    std::fs::write(&path, m).expect("writing the manifest");
    path
}

/// `n` ten-thousandths as a decimal with four places.
fn ten_thousandths(n: u64) -> String {
    format!("{}.{:04}", n / 10_000, n % 10_000)
}

/// The files a participant keeps between the rounds.
fn credential_path(h: &Harness, v: usize) -> PathBuf {
    h.path(&format!("participants/voter-{v:03}.cred"))
}

fn first_alignment_path(h: &Harness, v: usize) -> PathBuf {
    h.path(&format!("participants/voter-{v:03}.first"))
}

/// One participant's first alignment: enroll, then cast with the ranked
/// preferences.
fn first_alignment(
    h: &Harness,
    board: &Board,
    issuer: &str,
    voter: &Voter,
    p: &Participant,
) -> Result<(), String> {
    let v = usize::try_from(voter.v).map_err(|e| e.to_string())?;
    let cred = credential_path(h, v);
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
        voter.code.clone(),
    ]);
    h.try_run(&format!("enroll-{}", voter.id), &args, None)?;
    let first = first_alignment_path(h, v);
    let mut args = vec![s("vote"), s("cast")];
    args.extend(board.args());
    args.extend([s("--credential"), cred.display().to_string()]);
    args.extend(p.cast_args(v));
    args.extend([s("--first-alignment-out"), first.display().to_string()]);
    let out = h.try_run(&format!("cast-{}", voter.id), &args, None)?;
    if entry_index(&out.stdout, "cast").is_none() {
        return Err(format!("{}: no cast entry in:\n{}", voter.id, out.stdout));
    }
    let choice = format!("choice      {CONTEST}: {}", GROUPS[p.first]);
    if !out.stdout.lines().any(|l| l == choice) {
        return Err(format!("{}: no {choice:?} in:\n{}", voter.id, out.stdout));
    }
    if !first.is_file() {
        return Err(format!("{}: no file {}", voter.id, first.display()));
    }
    Ok(())
}

/// One participant's `vote realign`: what it printed, and the log index of
/// the realignment ballot if it cast one.
fn realign(h: &Harness, board: &Board, v: usize) -> Result<(Move, Option<u64>), String> {
    let mut args = vec![s("vote"), s("realign")];
    args.extend(board.args());
    args.extend([
        s("--credential"),
        credential_path(h, v).display().to_string(),
        s("--first-alignment"),
        first_alignment_path(h, v).display().to_string(),
    ]);
    let out = h.try_run(&format!("realign-voter-{v:03}"), &args, None)?;
    let m = printed_move(&out.stdout)
        .ok_or_else(|| format!("voter-{v:03}: no realignment outcome in:\n{}", out.stdout))?;
    Ok((m, entry_index(&out.stdout, "cast")))
}

/// Per precinct and group: a count.
type Counts = Vec<Vec<u64>>;

fn zero_counts() -> Counts {
    vec![vec![0; GROUPS.len()]; PRECINCTS.len()]
}

/// The lines `  PRECINCT: P participants, threshold T, viable: a, b` of
/// `admin viability`.
fn printed_viability(text: &str) -> BTreeMap<String, (u64, u64, Vec<bool>)> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some((district, rest)) = line.trim().split_once(": ") else {
            continue;
        };
        let Some((p, rest)) = rest.split_once(" participants, threshold ") else {
            continue;
        };
        let (t, viable) = rest
            .split_once(", viable:")
            .unwrap_or_else(|| panic!("viability line {line:?}"));
        let names: Vec<&str> = viable.split(',').map(str::trim).collect();
        let flags = GROUPS.iter().map(|g| names.contains(g)).collect();
        out.insert(
            s(district),
            (
                p.parse()
                    .unwrap_or_else(|_| panic!("participants in {line:?}")),
                t.parse()
                    .unwrap_or_else(|_| panic!("threshold in {line:?}")),
                flags,
            ),
        );
    }
    out
}

/// The lines `  PRECINCT: group N (SDE SDE), ...` of `admin apportion`:
/// per precinct, per group, delegates and SDE string (groups without a
/// delegate are not printed).
fn printed_apportionment(text: &str) -> BTreeMap<String, BTreeMap<String, (u32, String)>> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("  ")) {
        let (district, rest) = line
            .trim()
            .split_once(':')
            .unwrap_or_else(|| panic!("apportionment line {line:?}"));
        let mut won = BTreeMap::new();
        for item in rest.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            // `adams 2 (1.0000 SDE)`
            let f: Vec<&str> = item.split_whitespace().collect();
            assert!(
                f.len() == 4 && f[3] == "SDE)",
                "apportionment item {item:?}"
            );
            let n = f[1]
                .parse()
                .unwrap_or_else(|_| panic!("delegates in {item:?}"));
            let sde = f[2].trim_start_matches('(');
            won.insert(s(f[0]), (n, s(sde)));
        }
        out.insert(s(district), won);
    }
    out
}

#[test]
fn caucus_over_processes() {
    let started = Instant::now();
    let h = Harness::new();
    std::fs::create_dir(h.path("participants")).expect("creating the participants' directory");
    let all = participants();
    let roll = write_roll(&h, &all);

    // 1. The election opens.
    let common::Opened {
        board,
        issuer,
        voters,
    } = open_election(&h, ORIGIN, &roll, write_manifest);
    assert_eq!(
        voters.len(),
        all.len(),
        "participants in the enrollment codes"
    );
    for (v, (voter, p)) in voters.iter().zip(&all).enumerate() {
        assert_eq!(voter.v, v as u64, "voter ids of the codes file");
        assert_eq!(voter.district, PRECINCTS[p.precinct].0, "{}", voter.id);
    }
    let setup = started.elapsed();

    // 2. The first alignment.
    parallel(&h, all.len(), "first alignment", |v| {
        first_alignment(&h, &board, &issuer, &voters[v], &all[v])
    });
    let mut first = zero_counts();
    for p in &all {
        first[p.precinct][p.first] += 1;
    }
    let voting = started.elapsed() - setup;

    // 3. Round 0, the viability, the realignment opens.
    board.phase(&h, "voting-closed");
    let round0 = decrypt_round(&h, &board, 0);
    let n = all.len();
    assert!(
        round0.tally.contains(&format!(
            "encrypted tally of round 0 at entry {}: {n} ballots counted",
            round0.tally_entry
        )),
        "{}",
        round0.tally
    );
    assert!(
        round0.result.contains(&format!(
            "round 0: {n} ballots counted, decrypted by trustees 1, 3"
        )),
        "{}",
        round0.result
    );
    let mut args = vec![s("admin"), s("viability")];
    args.extend(board.admin());
    let posted = h.run("viability", &args);
    assert!(
        entry_index(&posted.stdout, "caucus viability").is_some(),
        "{}",
        posted.stdout
    );
    let printed = printed_viability(&posted.stdout);
    let mut viable = Vec::new();
    for (k, (id, delegates, _)) in PRECINCTS.iter().enumerate() {
        let (threshold, flags) = viability(*delegates, &first[k]);
        let participants: u64 = first[k].iter().sum();
        assert_eq!(
            printed.get(*id),
            Some(&(participants, threshold, flags.clone())),
            "viability of {id} (left: `admin viability`, right: the test's)\n{}",
            posted.stdout
        );
        if *delegates > 1 {
            assert!(
                flags.iter().zip(&first[k]).any(|(ok, &c)| !ok && c > 0),
                "every group with members is viable in {id}: the test realigns nobody there"
            );
        }
        viable.push(flags);
    }
    assert_eq!(printed.len(), PRECINCTS.len(), "{}", posted.stdout);
    common::verify_incrementally(&h, &board, "viability");
    board.phase(&h, "realignment-open");

    // 4. The realignment.
    let expected: Vec<Move> = all
        .iter()
        .map(|p| expected_move(p, &viable[p.precinct]))
        .collect();
    let kinds: [fn(&Move) -> bool; 4] = [
        |m| *m == Move::Locked,
        |m| *m == Move::NoChange,
        |m| *m == Move::To(UNCOMMITTED),
        |m| matches!(m, Move::To(g) if *g != UNCOMMITTED),
    ];
    for kind in kinds {
        assert!(
            expected.iter().any(kind),
            "the test covers every kind of outcome"
        );
    }
    let moves = parallel(&h, n, "realignment", |v| realign(&h, &board, v));
    let mut fin = zero_counts();
    for (k, counts) in first.iter().enumerate() {
        for (g, &c) in counts.iter().enumerate() {
            if viable[k][g] {
                fin[k][g] = c;
            }
        }
    }
    let mut realigners = 0u64;
    for (v, p) in all.iter().enumerate() {
        let (printed, cast) = &moves[&v];
        assert_eq!(
            printed, &expected[v],
            "voter-{v:03} in {} (first {}, ranked {:?}): `vote realign` (left) against the rule (right)",
            PRECINCTS[p.precinct].0, GROUPS[p.first], p.ranked
        );
        match printed {
            Move::To(g) => {
                assert!(cast.is_some(), "voter-{v:03} realigned without a ballot");
                fin[p.precinct][*g] += 1;
                realigners += 1;
            }
            Move::Locked | Move::NoChange => {
                assert!(cast.is_none(), "voter-{v:03} cast without realigning");
            }
        }
    }
    let realignment = started.elapsed() - setup - voting;

    // 5. Round 1, the apportionment.
    common::verify_incrementally(&h, &board, "realigned");
    board.phase(&h, "realignment-closed");
    let round1 = decrypt_round(&h, &board, 1);
    common::verify_incrementally(&h, &board, "round-1");
    assert!(
        round1.tally.contains(&format!(
            "encrypted tally of round 1 at entry {}: {realigners} ballots counted",
            round1.tally_entry
        )),
        "{}",
        round1.tally
    );
    let mut args = vec![s("admin"), s("apportion")];
    args.extend(board.admin());
    let apportioned = h.run("apportion", &args);
    assert!(
        entry_index(&apportioned.stdout, "delegate apportionment").is_some(),
        "{}",
        apportioned.stdout
    );
    let won = printed_apportionment(&apportioned.stdout);
    assert_eq!(won.len(), PRECINCTS.len(), "{}", apportioned.stdout);
    for (k, (id, delegates, sde)) in PRECINCTS.iter().enumerate() {
        let got = won
            .get(*id)
            .unwrap_or_else(|| panic!("no {id} in:\n{}", apportioned.stdout));
        let total: u32 = got.values().map(|(n, _)| n).sum();
        assert_eq!(
            total, *delegates,
            "{id}: the delegates apportioned add up to the precinct's\n{}",
            apportioned.stdout
        );
        let per_delegate = sde / u64::from(*delegates);
        let mut expected = BTreeMap::new();
        for (g, &n) in DELEGATES[k].iter().enumerate() {
            assert!(n == 0 || viable[k][g], "only viable groups win delegates");
            if n > 0 {
                expected.insert(
                    s(GROUPS[g]),
                    (n, ten_thousandths(u64::from(n) * per_delegate)),
                );
            }
        }
        assert_eq!(
            got, &expected,
            "{id}: delegates and SDE (left: `admin apportion`, right: §4 by hand)"
        );
    }
    board.phase(&h, "finished");
    let last = common::verify_incrementally(&h, &board, "finished");
    assert!(last["caucus"].is_object(), "{last}");

    // 6. Export and verify.
    let record = h.path("caucus.record");
    let mut args = vec![s("export")];
    args.extend(board.args());
    args.extend([s("--out"), record.display().to_string()]);
    h.run("export", &args);
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
        ],
    );
    let json: serde_json::Value = serde_json::from_str(&report.stdout)
        .unwrap_or_else(|e| panic!("verify --json: {e}:\n{}", report.stdout));
    assert_eq!(json["schema"], "tallyboard-verify/v1");
    assert_eq!(json["ok"], true, "{}", report.stdout);
    let checks = json["checks"].as_array().expect("checks");
    for c in checks {
        assert_ne!(c["status"], "fail", "check failed: {c}");
    }
    for (id, count) in [
        ("V8.1", Some(1)),
        ("V8.2", Some(realigners)),
        ("V8.3", None),
        ("V8.4", Some(1)),
    ] {
        let c = checks
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no check {id} in the report"));
        assert_eq!(c["status"], "pass", "{c}");
        if let Some(n) = count {
            assert_eq!(c["count"], n, "{c}");
        }
    }
    let rec = &json["record"];
    assert_eq!(rec["election_id"], ELECTION_ID);
    assert_eq!(rec["origin"], ORIGIN);
    assert_eq!(rec["phase"], "Finished");

    // The verifier's counts per round and precinct.
    let mut decrypted: BTreeMap<(u64, String, String), u64> = BTreeMap::new();
    for row in json["results"].as_array().expect("results") {
        assert_eq!(row["contest"], CONTEST, "{row}");
        let key = (
            row["round"].as_u64().expect("round"),
            s(row["district"].as_str().expect("district")),
            s(row["option"].as_str().expect("option")),
        );
        let count = row["count"].as_u64().expect("count");
        assert!(
            decrypted.insert(key.clone(), count).is_none(),
            "two counts for {key:?}"
        );
    }
    let mut want = BTreeMap::new();
    for (round, counts) in [(0, &first), (1, &fin)] {
        for (k, (id, _, _)) in PRECINCTS.iter().enumerate() {
            for (g, &c) in counts[k].iter().enumerate() {
                want.insert((round, s(id), s(GROUPS[g])), c);
            }
        }
    }
    assert_eq!(
        decrypted, want,
        "the verifier's counts (left) against the first alignments cast and the final alignment (right)"
    );

    eprintln!(
        "caucus over processes: {n} participants, {realigners} realigned; setup and ceremony {:.1} s, first alignment {:.1} s, realignment {:.1} s, total {:.1} s",
        setup.as_secs_f64(),
        voting.as_secs_f64(),
        realignment.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}
