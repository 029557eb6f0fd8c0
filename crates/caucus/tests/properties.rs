//! Property tests of apportionment (spec/caucus.md §4, §6).

use proptest::prelude::*;
use tallyboard_caucus::{
    all_outcomes, apportion, Alignment, GroupId, PrecinctContext, PrecinctId, Rational, Rules,
    SeededCoins, DEFAULT_OUTCOME_LIMIT,
};

fn alignment(counts: &[u64]) -> Alignment {
    Alignment::new(
        counts
            .iter()
            .enumerate()
            .map(|(i, n)| (GroupId(i as u32), *n)),
    )
    .expect("distinct groups")
}

fn ctx(delegates: u32, participants: u64) -> PrecinctContext {
    PrecinctContext {
        id: PrecinctId::new("prop"),
        delegates,
        participants,
        round: 2,
    }
}

/// A precinct: delegates, group counts, and attendance no smaller than the
/// aligned total (people may leave before the final count).
fn precinct() -> impl Strategy<Value = (u32, Vec<u64>, u64)> {
    (1u32..=30, prop::collection::vec(0u64..120, 1..9), 0u64..40).prop_map(|(d, counts, extra)| {
        let total: u64 = counts.iter().sum();
        (d, counts, (total + extra).max(1))
    })
}

/// A precinct whose attendance equals its final count, with at least two
/// delegates (so a viability threshold applies).
fn full_precinct() -> impl Strategy<Value = (u32, Vec<u64>)> {
    (2u32..=30, prop::collection::vec(0u64..120, 1..9))
}

fn is_viable(rules: &Rules, d: u32, p: u64, n: u64) -> bool {
    match rules.viability.threshold(p, d).expect("valid rule") {
        None => n > 0,
        Some(t) => n > 0 && n >= t,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn sums_to_delegates_when_any_group_is_viable((d, counts, p) in precinct(), seed in any::<[u8; 32]>()) {
        let rules = Rules::iowa_2020();
        let a = apportion(&rules, &ctx(d, p), &alignment(&counts), &mut SeededCoins::new(seed)).expect("apportion");
        let any_viable = counts.iter().any(|n| is_viable(&rules, d, p, *n));
        if any_viable {
            prop_assert_eq!(a.total(), u64::from(d));
        } else {
            prop_assert_eq!(a.total(), 0);
        }
    }

    #[test]
    fn sums_to_delegates_even_with_more_final_than_attendance(
        d in 1u32..=20,
        counts in prop::collection::vec(0u64..100, 1..8),
        p in 1u64..200,
        seed in any::<[u8; 32]>(),
    ) {
        let rules = Rules::iowa_2020();
        let a = apportion(&rules, &ctx(d, p), &alignment(&counts), &mut SeededCoins::new(seed)).expect("apportion");
        if counts.iter().any(|n| is_viable(&rules, d, p, *n)) {
            prop_assert_eq!(a.total(), u64::from(d));
        }
    }

    #[test]
    fn non_viable_groups_get_no_delegates((d, counts, p) in precinct(), seed in any::<[u8; 32]>()) {
        let rules = Rules::iowa_2020();
        let a = apportion(&rules, &ctx(d, p), &alignment(&counts), &mut SeededCoins::new(seed)).expect("apportion");
        for (i, n) in counts.iter().enumerate() {
            if !is_viable(&rules, d, p, *n) {
                prop_assert_eq!(a.delegates_for(GroupId(i as u32)), 0);
            }
        }
    }

    #[test]
    fn deterministic_given_the_seed((d, counts, p) in precinct(), seed in any::<[u8; 32]>()) {
        let rules = Rules::iowa_2020();
        let al = alignment(&counts);
        let a = apportion(&rules, &ctx(d, p), &al, &mut SeededCoins::new(seed)).expect("apportion");
        let b = apportion(&rules, &ctx(d, p), &al, &mut SeededCoins::new(seed)).expect("apportion");
        prop_assert_eq!(&a, &b);
    }

    #[test]
    fn seeded_outcome_is_among_all_outcomes((d, counts, p) in precinct(), seed in any::<[u8; 32]>()) {
        let rules = Rules::iowa_2020();
        let al = alignment(&counts);
        let a = apportion(&rules, &ctx(d, p), &al, &mut SeededCoins::new(seed)).expect("apportion");
        let all = all_outcomes(&rules, &ctx(d, p), &al, DEFAULT_OUTCOME_LIMIT).expect("enumerate");
        prop_assert!(!all.is_empty());
        prop_assert!(all.iter().any(|o| o.delegates == a.delegates));
        prop_assert_eq!(all.len() > 1, !a.tosses.is_empty());
        for o in &all {
            prop_assert_eq!(o.total(), a.total());
        }
    }

    #[test]
    fn viable_groups_keep_a_delegate_when_there_are_enough((d, counts) in full_precinct(), seed in any::<[u8; 32]>()) {
        // Everyone present in the final count and at least as many delegates
        // as viable groups: every viable group keeps a delegate
        // (spec/caucus.md §4.3).
        let rules = Rules::iowa_2020();
        let p: u64 = counts.iter().sum::<u64>().max(1);
        let viable: Vec<usize> = (0..counts.len()).filter(|i| is_viable(&rules, d, p, counts[*i])).collect();
        prop_assume!(viable.len() as u64 <= u64::from(d));
        let a = apportion(&rules, &ctx(d, p), &alignment(&counts), &mut SeededCoins::new(seed)).expect("apportion");
        for i in viable {
            prop_assert!(a.delegates_for(GroupId(i as u32)) >= 1);
        }
    }

    #[test]
    fn rational_round_trip(n in -1_000_000i64..1_000_000, den in 1i64..100_000) {
        let r = Rational::new(i128::from(n), i128::from(den)).expect("nonzero");
        let text = r.to_fixed(4).expect("fits");
        let back = Rational::parse_decimal(&text).expect("parses");
        prop_assert_eq!(back, r.round_to_decimals(4).expect("fits"));
        let err = back.checked_sub(r).expect("fits");
        let half_unit = Rational::new(1, 20_000).expect("nonzero");
        prop_assert!(err <= half_unit && err >= Rational::ZERO.checked_sub(half_unit).expect("fits"));
        // Ordering agrees with cross-multiplication.
        let other = Rational::new(i128::from(n) + 1, i128::from(den) + 1).expect("nonzero");
        let cross = (i128::from(n) * (i128::from(den) + 1)).cmp(&((i128::from(n) + 1) * i128::from(den)));
        prop_assert_eq!(r.cmp(&other), cross);
    }
}
