//! Caucus rules as data (spec/caucus.md §2).

use serde::{Deserialize, Serialize};

use crate::error::CaucusError;

/// How viability is decided in a precinct electing a given number of
/// delegates (spec/caucus.md §2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Threshold {
    /// No viability threshold: the precinct's single delegate goes to the
    /// largest group of the final alignment, ties by coin toss
    /// (spec/caucus.md §4.5). Only valid for a tier electing exactly one
    /// delegate.
    Plurality,
    /// A group is viable with at least `ceil(participants * num / den)`
    /// members (spec/caucus.md §4.1).
    Fraction {
        /// Numerator of the required share, `num <= den`.
        num: u64,
        /// Denominator of the required share, `den > 0`.
        den: u64,
    },
}

/// One row of a [`ViabilityRule`]: applies to precincts electing at least
/// `min_delegates` delegates, up to the next tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViabilityTier {
    /// Smallest delegate count the tier applies to.
    pub min_delegates: u32,
    /// The threshold for those precincts.
    pub threshold: Threshold,
}

/// The viability threshold by precinct delegate count (spec/caucus.md §2.1).
///
/// Tiers are listed by strictly increasing `min_delegates`, the first being
/// 1; a precinct electing `D` delegates uses the last tier with
/// `min_delegates <= D`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViabilityRule {
    /// The tiers, in increasing `min_delegates`.
    pub tiers: Vec<ViabilityTier>,
}

impl ViabilityRule {
    /// The Iowa Democratic Party 2020 precinct caucus thresholds
    /// (spec/caucus.md §2.2): 1 delegate — plurality, no threshold;
    /// 2 delegates — 25%; 3 delegates — 1/6; 4 or more — 15%; each rounded
    /// up to a whole participant.
    pub fn iowa_2020() -> Self {
        ViabilityRule {
            tiers: vec![
                ViabilityTier {
                    min_delegates: 1,
                    threshold: Threshold::Plurality,
                },
                ViabilityTier {
                    min_delegates: 2,
                    threshold: Threshold::Fraction { num: 1, den: 4 },
                },
                ViabilityTier {
                    min_delegates: 3,
                    threshold: Threshold::Fraction { num: 1, den: 6 },
                },
                ViabilityTier {
                    min_delegates: 4,
                    threshold: Threshold::Fraction { num: 15, den: 100 },
                },
            ],
        }
    }

    /// Check the rule is well formed (spec/caucus.md §2.1).
    pub fn validate(&self) -> Result<(), CaucusError> {
        let first = self
            .tiers
            .first()
            .ok_or(CaucusError::InvalidRule("no tiers"))?;
        if first.min_delegates != 1 {
            return Err(CaucusError::InvalidRule(
                "the first tier must start at 1 delegate",
            ));
        }
        for pair in self.tiers.windows(2) {
            if pair[1].min_delegates <= pair[0].min_delegates {
                return Err(CaucusError::InvalidRule(
                    "tiers must have strictly increasing min_delegates",
                ));
            }
        }
        for (i, tier) in self.tiers.iter().enumerate() {
            match tier.threshold {
                Threshold::Plurality => {
                    let next = self.tiers.get(i + 1).map(|t| t.min_delegates);
                    if tier.min_delegates != 1 || next != Some(2) {
                        return Err(CaucusError::InvalidRule(
                            "a plurality tier must cover exactly one delegate",
                        ));
                    }
                }
                Threshold::Fraction { num, den } => {
                    if den == 0 || num > den {
                        return Err(CaucusError::InvalidRule(
                            "a threshold fraction must satisfy 0 <= num <= den, den > 0",
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The threshold kind for a precinct electing `delegates` delegates.
    pub fn threshold_for(&self, delegates: u32) -> Result<Threshold, CaucusError> {
        if delegates == 0 {
            return Err(CaucusError::NoDelegates);
        }
        self.validate()?;
        self.tiers
            .iter()
            .rev()
            .find(|t| t.min_delegates <= delegates)
            .map(|t| t.threshold)
            .ok_or(CaucusError::InvalidRule("no tier applies"))
    }

    /// The viability threshold in participants, `ceil(participants * num /
    /// den)` computed in integers (spec/caucus.md §4.1), or `None` in a
    /// plurality precinct.
    pub fn threshold(&self, participants: u64, delegates: u32) -> Result<Option<u64>, CaucusError> {
        match self.threshold_for(delegates)? {
            Threshold::Plurality => Ok(None),
            Threshold::Fraction { num, den } => {
                let p = u128::from(participants)
                    .checked_mul(u128::from(num))
                    .ok_or(CaucusError::Overflow)?;
                let d = u128::from(den);
                let t = p.div_ceil(d);
                u64::try_from(t)
                    .map(Some)
                    .map_err(|_| CaucusError::Overflow)
            }
        }
    }
}

/// The full rule set applied to a precinct (spec/caucus.md §2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    /// Viability thresholds by delegate count.
    pub viability: ViabilityRule,
    /// When delegates must be taken back after rounding, a viable group does
    /// not lose its only delegate while another group has two or more
    /// (spec/caucus.md §4.3).
    pub keep_last_delegate: bool,
}

impl Rules {
    /// The name under which a manifest refers to [`Rules::iowa_2020`].
    pub const IOWA_2020: &'static str = "iowa-2020";

    /// The Iowa Democratic Party 2020 precinct caucus rules (spec/caucus.md §2.2).
    pub fn iowa_2020() -> Self {
        Rules {
            viability: ViabilityRule::iowa_2020(),
            keep_last_delegate: true,
        }
    }

    /// The built-in rule set called `name`, if any (spec/caucus.md §2.2).
    pub fn named(name: &str) -> Option<Self> {
        (name == Self::IOWA_2020).then(Self::iowa_2020)
    }
}

impl Default for Rules {
    fn default() -> Self {
        Rules::iowa_2020()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn iowa_thresholds_at_each_delegate_count() {
        let r = ViabilityRule::iowa_2020();
        // 1 delegate: no threshold.
        assert_eq!(r.threshold(100, 1).unwrap(), None);
        // 2 delegates: 25%, rounded up.
        assert_eq!(r.threshold(100, 2).unwrap(), Some(25));
        assert_eq!(r.threshold(101, 2).unwrap(), Some(26));
        assert_eq!(r.threshold(11, 2).unwrap(), Some(3));
        // 3 delegates: one sixth, rounded up.
        assert_eq!(r.threshold(60, 3).unwrap(), Some(10));
        assert_eq!(r.threshold(61, 3).unwrap(), Some(11));
        assert_eq!(r.threshold(8, 3).unwrap(), Some(2));
        // 4 or more: 15%, rounded up.
        for d in [4, 5, 10, 36, u32::MAX] {
            assert_eq!(r.threshold(20, d).unwrap(), Some(3));
            assert_eq!(r.threshold(21, d).unwrap(), Some(4), "3.15 rounds up");
            assert_eq!(r.threshold(100, d).unwrap(), Some(15));
            assert_eq!(r.threshold(101, d).unwrap(), Some(16));
        }
        assert_eq!(r.threshold(0, 4).unwrap(), Some(0));
        assert_eq!(
            r.threshold(u64::MAX, 4).unwrap(),
            Some(2_767_011_611_056_432_743)
        );
        assert_eq!(r.threshold(10, 0), Err(CaucusError::NoDelegates));
    }

    #[test]
    fn rule_validation() {
        assert!(ViabilityRule::iowa_2020().validate().is_ok());
        let empty = ViabilityRule { tiers: vec![] };
        assert!(empty.validate().is_err());
        let not_from_one = ViabilityRule {
            tiers: vec![ViabilityTier {
                min_delegates: 2,
                threshold: Threshold::Fraction { num: 1, den: 4 },
            }],
        };
        assert!(not_from_one.validate().is_err());
        let plurality_wide = ViabilityRule {
            tiers: vec![ViabilityTier {
                min_delegates: 1,
                threshold: Threshold::Plurality,
            }],
        };
        assert!(plurality_wide.validate().is_err());
        let bad_fraction = ViabilityRule {
            tiers: vec![ViabilityTier {
                min_delegates: 1,
                threshold: Threshold::Fraction { num: 2, den: 1 },
            }],
        };
        assert!(bad_fraction.validate().is_err());
        let unsorted = ViabilityRule {
            tiers: vec![
                ViabilityTier {
                    min_delegates: 1,
                    threshold: Threshold::Fraction { num: 1, den: 2 },
                },
                ViabilityTier {
                    min_delegates: 1,
                    threshold: Threshold::Fraction { num: 1, den: 4 },
                },
            ],
        };
        assert!(unsorted.validate().is_err());
    }

    #[test]
    fn rules_round_trip_as_data() {
        let r = Rules::iowa_2020();
        assert_eq!(Rules::default(), r);
        assert!(r.keep_last_delegate);
        assert_eq!(Rules::named("iowa-2020"), Some(r));
        assert_eq!(Rules::named("iowa-2016"), None);
    }
}
