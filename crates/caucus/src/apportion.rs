//! Delegate apportionment and state delegate equivalents (spec/caucus.md §4, §5).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::alignment::{Alignment, GroupId, PrecinctId};
use crate::coin::{checked_toss, CoinSource, EnumeratingCoins, Toss, TossKind};
use crate::error::CaucusError;
use crate::rational::Rational;
use crate::rules::Rules;

/// Decimal places of published state delegate equivalents (spec/caucus.md §5).
pub const SDE_DECIMALS: u32 = 4;

/// Default bound on [`all_outcomes`] enumeration.
pub const DEFAULT_OUTCOME_LIMIT: usize = 100_000;

/// The precinct-level facts an apportionment needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrecinctContext {
    /// Precinct identifier (enters coin tosses).
    pub id: PrecinctId,
    /// Delegates the precinct elects, `D >= 1`.
    pub delegates: u32,
    /// Eligible participants (attendance), `P >= 1`: the base of the
    /// viability threshold and of every share. Normally the first-alignment
    /// total.
    pub participants: u64,
    /// The alignment round apportioned (2 for the final alignment after one
    /// realignment); enters coin tosses.
    pub round: u32,
}

/// A coin toss as it happened during an apportionment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TossRecord {
    /// Why it happened.
    pub kind: TossKind,
    /// Toss number within the apportionment.
    pub counter: u32,
    /// Tied groups, ascending.
    pub tied: Vec<GroupId>,
    /// Number of winners.
    pub picks: u32,
    /// Winners, ascending.
    pub winners: Vec<GroupId>,
}

/// The delegates each group receives in one precinct.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Apportionment {
    /// Viability threshold used (`None`: plurality precinct).
    pub threshold: Option<u64>,
    /// Raw share `members * D / P` of every viable group (spec/caucus.md
    /// §4.2); empty in a plurality precinct.
    pub raw: BTreeMap<GroupId, Rational>,
    /// Delegates of every group listed in the final alignment (zero for
    /// groups that are not viable).
    pub delegates: BTreeMap<GroupId, u32>,
    /// Coin tosses that decided the outcome, in order.
    pub tosses: Vec<TossRecord>,
}

impl Apportionment {
    /// Delegates of `group` (zero when absent).
    pub fn delegates_for(&self, group: GroupId) -> u32 {
        self.delegates.get(&group).copied().unwrap_or(0)
    }

    /// Delegates allocated in total.
    pub fn total(&self) -> u64 {
        self.delegates.values().map(|d| u64::from(*d)).sum()
    }
}

fn to_u32(n: i128) -> Result<u32, CaucusError> {
    u32::try_from(n).map_err(|_| CaucusError::Overflow)
}

/// Apportion a precinct's delegates from its final alignment
/// (spec/caucus.md §4), settling ties with `coins`.
///
/// The final alignment may count more people than `participants`; the
/// arithmetic is still defined, but such an alignment breaks the
/// realignment rules and should be rejected earlier with
/// [`crate::check_realignment`] (spec/caucus.md §4.7).
///
/// Errors: [`CaucusError::NoDelegates`], [`CaucusError::NoParticipants`],
/// rule errors, arithmetic overflow, and invalid coin answers.
pub fn apportion(
    rules: &Rules,
    ctx: &PrecinctContext,
    final_alignment: &Alignment,
    coins: &mut dyn CoinSource,
) -> Result<Apportionment, CaucusError> {
    if ctx.delegates == 0 {
        return Err(CaucusError::NoDelegates);
    }
    if ctx.participants == 0 {
        return Err(CaucusError::NoParticipants);
    }
    let threshold = rules.viability.threshold(ctx.participants, ctx.delegates)?;
    let mut out = Apportionment {
        threshold,
        raw: BTreeMap::new(),
        delegates: final_alignment.groups().map(|g| (g, 0)).collect(),
        tosses: Vec::new(),
    };
    let mut counter: u32 = 0;

    let Some(t) = threshold else {
        // §4.5: plurality precinct (one delegate).
        let max = final_alignment.iter().map(|(_, n)| n).max().unwrap_or(0);
        if max == 0 {
            return Ok(out);
        }
        let tied: Vec<GroupId> = final_alignment
            .iter()
            .filter(|(_, n)| *n == max)
            .map(|(g, _)| g)
            .collect();
        let winner = if tied.len() == 1 {
            tied[0]
        } else {
            let toss = Toss {
                precinct: &ctx.id,
                round: ctx.round,
                kind: TossKind::Plurality,
                counter,
                tied: &tied,
                picks: 1,
            };
            let idx = checked_toss(coins, &toss)?;
            let winner = tied[idx[0]];
            out.tosses.push(TossRecord {
                kind: TossKind::Plurality,
                counter,
                tied: tied.clone(),
                picks: 1,
                winners: vec![winner],
            });
            winner
        };
        out.delegates.insert(winner, ctx.delegates);
        return Ok(out);
    };

    // §4.2: viable groups, raw shares, rounding half up.
    let d = Rational::from(ctx.delegates);
    let p = Rational::from(ctx.participants);
    let mut alloc: BTreeMap<GroupId, i128> = BTreeMap::new();
    for (g, n) in final_alignment.iter() {
        if n == 0 || n < t {
            continue;
        }
        let raw = Rational::from(n).checked_mul(d)?.checked_div(p)?;
        alloc.insert(g, raw.round_half_up()?);
        out.raw.insert(g, raw);
    }
    if alloc.is_empty() {
        return Ok(out);
    }
    let target = i128::from(ctx.delegates);
    let total = |a: &BTreeMap<GroupId, i128>| a.values().sum::<i128>();
    let raws = out.raw.clone();

    // §4.3: too many delegates.
    while total(&alloc) > target {
        let excess = total(&alloc) - target;
        let floor = if rules.keep_last_delegate { 2 } else { 1 };
        let mut candidates: Vec<GroupId> = alloc
            .iter()
            .filter(|(_, a)| **a >= floor)
            .map(|(g, _)| *g)
            .collect();
        if candidates.is_empty() {
            // §4.6: more viable groups than delegates.
            candidates = alloc
                .iter()
                .filter(|(_, a)| **a >= 1)
                .map(|(g, _)| *g)
                .collect();
        }
        let tied = extreme(&candidates, &alloc, &raws, false)?;
        let losers = settle(
            &tied,
            excess,
            TossKind::Remove,
            ctx,
            coins,
            &mut counter,
            &mut out,
        )?;
        for g in losers {
            if let Some(a) = alloc.get_mut(&g) {
                *a -= 1;
            }
        }
    }
    // §4.4: too few delegates.
    while total(&alloc) < target {
        let shortfall = target - total(&alloc);
        let candidates: Vec<GroupId> = alloc.keys().copied().collect();
        let tied = extreme(&candidates, &alloc, &raws, true)?;
        let gainers = settle(
            &tied,
            shortfall,
            TossKind::Add,
            ctx,
            coins,
            &mut counter,
            &mut out,
        )?;
        for g in gainers {
            if let Some(a) = alloc.get_mut(&g) {
                *a += 1;
            }
        }
    }
    for (g, a) in alloc {
        out.delegates.insert(g, to_u32(a)?);
    }
    Ok(out)
}

/// The candidates whose remainder `raw - alloc` is smallest
/// (`largest == false`) or largest, in canonical order.
fn extreme(
    candidates: &[GroupId],
    alloc: &BTreeMap<GroupId, i128>,
    raws: &BTreeMap<GroupId, Rational>,
    largest: bool,
) -> Result<Vec<GroupId>, CaucusError> {
    let mut best: Option<Rational> = None;
    let mut tied = Vec::new();
    for g in candidates {
        let raw = raws.get(g).copied().unwrap_or(Rational::ZERO);
        let r = raw.checked_sub(Rational::from_integer(alloc.get(g).copied().unwrap_or(0)))?;
        let better = match best {
            None => true,
            Some(b) => {
                if largest {
                    r > b
                } else {
                    r < b
                }
            }
        };
        if better {
            best = Some(r);
            tied.clear();
            tied.push(*g);
        } else if best == Some(r) {
            tied.push(*g);
        }
    }
    Ok(tied)
}

/// All of `tied` when `needed >= tied.len()`, else a coin toss picks `needed`.
fn settle(
    tied: &[GroupId],
    needed: i128,
    kind: TossKind,
    ctx: &PrecinctContext,
    coins: &mut dyn CoinSource,
    counter: &mut u32,
    out: &mut Apportionment,
) -> Result<Vec<GroupId>, CaucusError> {
    let m = i128::try_from(tied.len()).map_err(|_| CaucusError::Overflow)?;
    if needed >= m {
        return Ok(tied.to_vec());
    }
    let picks = to_u32(needed)?;
    let toss = Toss {
        precinct: &ctx.id,
        round: ctx.round,
        kind,
        counter: *counter,
        tied,
        picks,
    };
    let idx = checked_toss(coins, &toss)?;
    let winners: Vec<GroupId> = idx.iter().map(|i| tied[*i]).collect();
    out.tosses.push(TossRecord {
        kind,
        counter: *counter,
        tied: tied.to_vec(),
        picks,
        winners: winners.clone(),
    });
    *counter = counter.checked_add(1).ok_or(CaucusError::Overflow)?;
    Ok(winners)
}

/// Every apportionment the rules allow for some outcome of the coin tosses
/// (spec/caucus.md §6.3), without duplicates, ordered by delegate vector.
///
/// Errors with [`CaucusError::TooManyOutcomes`] when more than `limit`
/// outcomes (or toss paths) would have to be explored.
pub fn all_outcomes(
    rules: &Rules,
    ctx: &PrecinctContext,
    final_alignment: &Alignment,
    limit: usize,
) -> Result<Vec<Apportionment>, CaucusError> {
    let mut stack: Vec<Vec<u128>> = vec![Vec::new()];
    let mut found: BTreeMap<Vec<(GroupId, u32)>, Apportionment> = BTreeMap::new();
    let mut runs: usize = 0;
    while let Some(prefix) = stack.pop() {
        runs += 1;
        if runs > limit {
            return Err(CaucusError::TooManyOutcomes { limit });
        }
        let mut coins = EnumeratingCoins {
            script: prefix.clone(),
            options: Vec::new(),
            limit,
        };
        let a = apportion(rules, ctx, final_alignment, &mut coins)?;
        for depth in prefix.len()..coins.options.len() {
            for alt in 1..coins.options[depth] {
                let mut p = prefix.clone();
                p.resize(depth, 0);
                p.push(alt);
                stack.push(p);
                if stack.len() > limit {
                    return Err(CaucusError::TooManyOutcomes { limit });
                }
            }
        }
        let key: Vec<(GroupId, u32)> = a.delegates.iter().map(|(g, d)| (*g, *d)).collect();
        found.entry(key).or_insert(a);
    }
    Ok(found.into_values().collect())
}

/// The distinct delegate vectors among `outcomes`.
pub fn distinct_allocations(outcomes: &[Apportionment]) -> BTreeSet<Vec<(GroupId, u32)>> {
    outcomes
        .iter()
        .map(|a| a.delegates.iter().map(|(g, d)| (*g, *d)).collect())
        .collect()
}

/// State delegate equivalents of `delegates` county delegates in a precinct
/// electing `precinct_delegates` with total weight `precinct_sde`, exactly:
/// `delegates * precinct_sde / precinct_delegates` (spec/caucus.md §5).
/// Round for display with [`Rational::to_fixed`]`(`[`SDE_DECIMALS`]`)`.
pub fn state_delegate_equivalents(
    delegates: u32,
    precinct_sde: Rational,
    precinct_delegates: u32,
) -> Result<Rational, CaucusError> {
    if precinct_delegates == 0 {
        return Err(CaucusError::NoDelegates);
    }
    Rational::from(delegates)
        .checked_mul(precinct_sde)?
        .checked_div(Rational::from(precinct_delegates))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::coin::{FixedCoins, SeededCoins};

    fn g(i: u32) -> GroupId {
        GroupId(i)
    }

    fn al(counts: &[u64]) -> Alignment {
        Alignment::new(counts.iter().enumerate().map(|(i, n)| (g(i as u32), *n))).unwrap()
    }

    fn ctx(delegates: u32, participants: u64) -> PrecinctContext {
        PrecinctContext {
            id: PrecinctId::new("test"),
            delegates,
            participants,
            round: 2,
        }
    }

    /// Every rule-consistent delegate vector, in group order.
    fn outcomes(rules: &Rules, d: u32, p: u64, counts: &[u64]) -> Vec<Vec<u32>> {
        let a = al(counts);
        all_outcomes(rules, &ctx(d, p), &a, DEFAULT_OUTCOME_LIMIT)
            .unwrap()
            .iter()
            .map(|o| {
                (0..counts.len())
                    .map(|i| o.delegates_for(g(i as u32)))
                    .collect()
            })
            .collect()
    }

    fn iowa(d: u32, p: u64, counts: &[u64]) -> Vec<Vec<u32>> {
        outcomes(&Rules::iowa_2020(), d, p, counts)
    }

    #[test]
    fn exact_shares_need_no_adjustment() {
        // D = 6, P = 24: 8 -> 2.0, 4 -> 1.0 each.
        assert_eq!(iowa(6, 24, &[8, 4, 4, 4, 4]), vec![vec![2, 1, 1, 1, 1]]);
    }

    #[test]
    fn halves_round_up() {
        // D = 5, P = 20 (two people left): 10 -> 2.5 -> 3, 8 -> 2.0 -> 2.
        let a = apportion(
            &Rules::iowa_2020(),
            &ctx(5, 20),
            &al(&[10, 8]),
            &mut FixedCoins::default(),
        )
        .unwrap();
        assert_eq!(a.raw[&g(0)], Rational::new(5, 2).unwrap());
        assert_eq!(a.delegates_for(g(0)), 3);
        assert_eq!(a.delegates_for(g(1)), 2);
        assert!(a.tosses.is_empty());
    }

    #[test]
    fn non_viable_groups_get_nothing() {
        // D = 4, P = 20, threshold 3: a group of 2 is not viable.
        assert_eq!(iowa(4, 20, &[10, 8, 2]), vec![vec![2, 2, 0]]);
        // Nobody viable: nothing allocated.
        assert_eq!(iowa(4, 20, &[2, 2, 2]), vec![vec![0, 0, 0]]);
        // Empty final alignment.
        assert_eq!(iowa(4, 20, &[0, 0]), vec![vec![0, 0]]);
    }

    #[test]
    fn too_many_smallest_remainder_loses() {
        // Adair 4SE ORIENT: D = 10, P = 34. Raw 2.06, 1.76 x3, 2.65 -> 2, 2, 2, 2, 3 = 11.
        // The smallest remainder rounded up is 0.65: that group loses one.
        assert_eq!(iowa(10, 34, &[7, 6, 6, 6, 9]), vec![vec![2, 2, 2, 2, 2]]);
    }

    #[test]
    fn too_many_keeps_last_delegate() {
        // D = 4, P = 13: 1.85 -> 2, 0.92, 0.62, 0.62 -> 1 each; 5 > 4.
        // Only the group with two delegates may lose one.
        assert_eq!(iowa(4, 13, &[6, 3, 2, 2]), vec![vec![1, 1, 1, 1]]);
        // Without the protection, the two 0.62 groups tie for the loss.
        let loose = Rules {
            keep_last_delegate: false,
            ..Rules::iowa_2020()
        };
        assert_eq!(
            outcomes(&loose, 4, 13, &[6, 3, 2, 2]),
            vec![vec![2, 1, 0, 1], vec![2, 1, 1, 0]]
        );
    }

    #[test]
    fn too_many_tie_is_a_coin_toss() {
        // D = 4, P = 8: 5 -> 2.5 -> 3, 3 -> 1.5 -> 2; both 0.5 above: toss.
        assert_eq!(iowa(4, 8, &[5, 3]), vec![vec![2, 2], vec![3, 1]]);
        // Adair 1NW: D = 8, P = 40: 1.2, 1.6, 1.6, 1.8, 1.8 -> 1, 2, 2, 2, 2 = 9;
        // the two 0.6 groups tie.
        assert_eq!(
            iowa(8, 40, &[6, 8, 8, 9, 9]),
            vec![vec![1, 1, 2, 2, 2], vec![1, 2, 1, 2, 2]]
        );
    }

    #[test]
    fn more_viable_groups_than_delegates() {
        // D = 2, P = 22, threshold 6: 0.55, 0.64, 0.82 -> 1 each; the smallest loses.
        assert_eq!(iowa(2, 22, &[6, 7, 9]), vec![vec![0, 1, 1]]);
        // D = 3, P = 8: four groups of 2 at 0.75 each: one loses by toss.
        assert_eq!(iowa(3, 8, &[2, 2, 2, 2]).len(), 4);
    }

    #[test]
    fn too_few_largest_remainder_gains() {
        // Monroe No. 2-Albia: D = 6, P = 21: 2.29, 1.14, 1.14, 1.43 -> 2,1,1,1 = 5;
        // the largest remainder below one half (0.43) gains.
        assert_eq!(iowa(6, 21, &[8, 4, 4, 5]), vec![vec![2, 1, 1, 2]]);
        // Benton Fremont-Atkins: D = 22, P = 94 but only 70 in the final
        // alignment: 6.55, 5.15, 4.68 -> 7, 5, 5 = 17; five more go by largest
        // remainder, repeatedly.
        assert_eq!(iowa(22, 94, &[28, 22, 20]), vec![vec![8, 7, 7]]);
    }

    #[test]
    fn too_few_tie_is_a_coin_toss() {
        // D = 3, P = 12, four people left: 1.0 and 1.0 -> 2 < 3; tie.
        assert_eq!(iowa(3, 12, &[4, 4]), vec![vec![1, 2], vec![2, 1]]);
    }

    #[test]
    fn plurality_precinct() {
        assert_eq!(iowa(1, 20, &[3, 9, 8]), vec![vec![0, 1, 0]]);
        assert_eq!(iowa(1, 20, &[9, 2, 9]), vec![vec![0, 0, 1], vec![1, 0, 0]]);
        assert_eq!(iowa(1, 20, &[0, 0]), vec![vec![0, 0]]);
        let a = apportion(
            &Rules::iowa_2020(),
            &ctx(1, 20),
            &al(&[9, 2, 9]),
            &mut FixedCoins::new(vec![vec![g(2)]]),
        )
        .unwrap();
        assert_eq!(a.delegates_for(g(2)), 1);
        assert_eq!(
            a.tosses,
            vec![TossRecord {
                kind: TossKind::Plurality,
                counter: 0,
                tied: vec![g(0), g(2)],
                picks: 1,
                winners: vec![g(2)],
            }]
        );
    }

    #[test]
    fn seeded_toss_is_recorded_and_deterministic() {
        let rules = Rules::iowa_2020();
        let run = |seed: [u8; 32]| {
            apportion(
                &rules,
                &ctx(8, 40),
                &al(&[6, 8, 8, 9, 9]),
                &mut SeededCoins::new(seed),
            )
            .unwrap()
        };
        let a = run([1; 32]);
        assert_eq!(a, run([1; 32]));
        assert_eq!(a.total(), 8);
        assert_eq!(a.tosses.len(), 1);
        assert_eq!(a.tosses[0].kind, TossKind::Remove);
        assert_eq!(a.tosses[0].tied, vec![g(1), g(2)]);
        assert_eq!(a.tosses[0].picks, 1);
        let all = all_outcomes(&rules, &ctx(8, 40), &al(&[6, 8, 8, 9, 9]), 100).unwrap();
        assert!(all.iter().any(|o| o.delegates == a.delegates));
    }

    #[test]
    fn invalid_inputs() {
        let rules = Rules::iowa_2020();
        let a = al(&[1, 2]);
        let mut c = FixedCoins::default();
        assert_eq!(
            apportion(&rules, &ctx(0, 3), &a, &mut c),
            Err(CaucusError::NoDelegates)
        );
        assert_eq!(
            apportion(&rules, &ctx(2, 0), &a, &mut c),
            Err(CaucusError::NoParticipants)
        );
        // A coin source that names a group outside the tie.
        let mut wrong = FixedCoins::new(vec![vec![g(4)]]);
        assert!(matches!(
            apportion(&rules, &ctx(4, 8), &al(&[5, 3]), &mut wrong),
            Err(CaucusError::InvalidToss(_))
        ));
        // Enumeration limit.
        assert_eq!(
            all_outcomes(&rules, &ctx(3, 8), &al(&[2, 2, 2, 2]), 2),
            Err(CaucusError::TooManyOutcomes { limit: 2 })
        );
    }

    #[test]
    fn state_delegate_equivalents_exact_and_rounded() {
        // Adair 1NW ADAIR: W = 0.6274509803921569, D = 8.
        let w = Rational::parse_decimal("0.6274509803921569").unwrap();
        let one = state_delegate_equivalents(1, w, 8).unwrap();
        assert_eq!(one.to_fixed(SDE_DECIMALS).unwrap(), "0.0784");
        assert_eq!(
            state_delegate_equivalents(2, w, 8)
                .unwrap()
                .to_fixed(SDE_DECIMALS)
                .unwrap(),
            "0.1569"
        );
        assert_eq!(
            one,
            Rational::new(6274509803921569, 80_000_000_000_000_000).unwrap()
        );
        assert_eq!(
            state_delegate_equivalents(1, w, 0),
            Err(CaucusError::NoDelegates)
        );
        assert_eq!(state_delegate_equivalents(0, w, 8).unwrap(), Rational::ZERO);
    }
}
