//! Viability and realignment (spec/caucus.md §4.1, §4.7).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::alignment::{Alignment, GroupId};
use crate::error::CaucusError;
use crate::rules::ViabilityRule;

/// The outcome of the viability test on the first alignment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viability {
    /// Delegates the precinct elects.
    pub delegates: u32,
    /// Eligible participants (attendance), the base of every share.
    pub participants: u64,
    /// Minimum members for a viable group; `None` in a plurality precinct.
    pub threshold: Option<u64>,
    /// Non-empty groups that met the threshold in the first alignment. In a
    /// plurality precinct this is empty: no group is locked.
    pub viable: BTreeSet<GroupId>,
    /// Non-empty groups below the threshold; their members may realign. In a
    /// plurality precinct every non-empty group.
    pub non_viable: BTreeSet<GroupId>,
}

impl Viability {
    /// Whether a group of `members` people meets the threshold (spec/caucus.md
    /// §4.1). In a plurality precinct every non-empty group does.
    pub fn meets_threshold(&self, members: u64) -> bool {
        members > 0 && self.threshold.is_none_or(|t| members >= t)
    }

    /// Whether members of `group`'s first-alignment group may move in the
    /// realignment: the group was not viable (or the precinct has no
    /// threshold). Viable groups are locked.
    pub fn may_realign(&self, group: GroupId) -> bool {
        !self.viable.contains(&group)
    }
}

/// Decide viability from the first alignment (spec/caucus.md §4.1).
///
/// `participants` is the number of eligible participants present — in a
/// caucus where everyone aligns (uncommitted being a group) it equals
/// `first.total()`, and may not be smaller.
///
/// Errors: [`CaucusError::NoDelegates`], [`CaucusError::NoParticipants`],
/// [`CaucusError::AlignedExceedsParticipants`], and rule errors.
pub fn viability(
    rule: &ViabilityRule,
    delegates: u32,
    participants: u64,
    first: &Alignment,
) -> Result<Viability, CaucusError> {
    if delegates == 0 {
        return Err(CaucusError::NoDelegates);
    }
    if participants == 0 {
        return Err(CaucusError::NoParticipants);
    }
    let aligned = first.total();
    if aligned > participants {
        return Err(CaucusError::AlignedExceedsParticipants {
            aligned,
            participants,
        });
    }
    let threshold = rule.threshold(participants, delegates)?;
    let mut v = Viability {
        delegates,
        participants,
        threshold,
        viable: BTreeSet::new(),
        non_viable: BTreeSet::new(),
    };
    for (g, n) in first.iter() {
        if n == 0 {
            continue;
        }
        if threshold.is_some() && v.meets_threshold(n) {
            v.viable.insert(g);
        } else {
            v.non_viable.insert(g);
        }
    }
    Ok(v)
}

/// A way the final alignment departs from what realignment permits
/// (spec/caucus.md §4.7).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RealignmentIssue {
    /// The final alignment counts more people than took part.
    MoreFinalThanParticipants {
        /// People in the final alignment.
        final_total: u64,
        /// Eligible participants.
        participants: u64,
    },
    /// A group viable in the first alignment (hence locked) has fewer
    /// members in the final alignment.
    ViableGroupShrank {
        /// The group.
        group: GroupId,
        /// First-alignment members.
        first: u64,
        /// Final-alignment members.
        final_count: u64,
    },
}

/// Check a final alignment against the first and its viability
/// (spec/caucus.md §4.7). Returns every issue found; empty means the
/// realignment is consistent with the rules.
pub fn check_realignment(
    viability: &Viability,
    first: &Alignment,
    final_alignment: &Alignment,
) -> Vec<RealignmentIssue> {
    let mut issues = Vec::new();
    let final_total = final_alignment.total();
    if final_total > viability.participants {
        issues.push(RealignmentIssue::MoreFinalThanParticipants {
            final_total,
            participants: viability.participants,
        });
    }
    for g in &viability.viable {
        let a = first.count(*g);
        let b = final_alignment.count(*g);
        if b < a {
            issues.push(RealignmentIssue::ViableGroupShrank {
                group: *g,
                first: a,
                final_count: b,
            });
        }
    }
    issues
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn al(v: &[(u32, u64)]) -> Alignment {
        Alignment::new(v.iter().map(|(g, n)| (GroupId(*g), *n))).unwrap()
    }

    #[test]
    fn viable_at_threshold_not_below() {
        let rule = ViabilityRule::iowa_2020();
        // 40 participants, 5 delegates: 15% of 40 = 6.
        let first = al(&[(1, 6), (2, 5), (3, 29), (4, 0)]);
        let v = viability(&rule, 5, 40, &first).unwrap();
        assert_eq!(v.threshold, Some(6));
        assert!(v.viable.contains(&GroupId(1)));
        assert!(v.non_viable.contains(&GroupId(2)));
        assert!(v.viable.contains(&GroupId(3)));
        assert!(!v.viable.contains(&GroupId(4)) && !v.non_viable.contains(&GroupId(4)));
        assert!(v.may_realign(GroupId(2)));
        assert!(!v.may_realign(GroupId(1)));
    }

    #[test]
    fn two_and_three_delegate_thresholds() {
        let rule = ViabilityRule::iowa_2020();
        // 2 delegates, 22 people: 25% = 5.5 -> 6.
        let v = viability(&rule, 2, 22, &al(&[(1, 6), (2, 5), (3, 11)])).unwrap();
        assert_eq!(v.threshold, Some(6));
        assert_eq!(v.viable.len(), 2);
        // 3 delegates, 13 people: 13/6 = 2.17 -> 3.
        let v = viability(&rule, 3, 13, &al(&[(1, 3), (2, 2), (3, 8)])).unwrap();
        assert_eq!(v.threshold, Some(3));
        assert_eq!(
            v.non_viable.iter().copied().collect::<Vec<_>>(),
            vec![GroupId(2)]
        );
    }

    #[test]
    fn plurality_precinct_locks_nobody() {
        let rule = ViabilityRule::iowa_2020();
        let v = viability(&rule, 1, 10, &al(&[(1, 6), (2, 4)])).unwrap();
        assert_eq!(v.threshold, None);
        assert!(v.viable.is_empty());
        assert!(v.may_realign(GroupId(1)));
        assert!(v.meets_threshold(1));
        assert!(!v.meets_threshold(0));
    }

    #[test]
    fn bad_inputs_are_errors() {
        let rule = ViabilityRule::iowa_2020();
        let first = al(&[(1, 6)]);
        assert_eq!(
            viability(&rule, 0, 6, &first),
            Err(CaucusError::NoDelegates)
        );
        assert_eq!(
            viability(&rule, 4, 0, &Alignment::default()),
            Err(CaucusError::NoParticipants)
        );
        assert_eq!(
            viability(&rule, 4, 5, &first),
            Err(CaucusError::AlignedExceedsParticipants {
                aligned: 6,
                participants: 5
            })
        );
        assert_eq!(
            Alignment::new([(GroupId(1), 1), (GroupId(1), 2)]),
            Err(CaucusError::DuplicateGroup(GroupId(1)))
        );
    }

    #[test]
    fn realignment_checks() {
        let rule = ViabilityRule::iowa_2020();
        let first = al(&[(1, 10), (2, 2), (3, 8)]);
        let v = viability(&rule, 4, 20, &first).unwrap();
        let ok = al(&[(1, 11), (3, 9)]);
        assert!(check_realignment(&v, &first, &ok).is_empty());
        let shrank = al(&[(1, 9), (3, 8)]);
        assert_eq!(
            check_realignment(&v, &first, &shrank),
            vec![RealignmentIssue::ViableGroupShrank {
                group: GroupId(1),
                first: 10,
                final_count: 9
            }]
        );
        let grew = al(&[(1, 12), (3, 9)]);
        assert_eq!(
            check_realignment(&v, &first, &grew),
            vec![RealignmentIssue::MoreFinalThanParticipants {
                final_total: 21,
                participants: 20
            }]
        );
    }
}
