//! From what a voter chose to selection vectors (`spec/client.md` §4.1).
//!
//! A ballot holds, for each contest of the voter's district in manifest
//! order, one value per option in manifest order: 0/1 for choice contests
//! (one-of-n, k-of-n, approval), points for points contests. A voter names
//! options by id; [`ContestChoice`] parses the command-line form
//! `CONTEST=OPTION[,OPTION...]` (points: `CONTEST=OPTION:POINTS,...`), and
//! [`selections_for`] turns choices into vectors, checking every contest rule
//! so that a mistake is reported in the voter's terms before anything is
//! encrypted.

use std::str::FromStr;

use tallyboard_protocol::ballot::district_contests;
use tallyboard_protocol::manifest::Rule;
use tallyboard_protocol::ElectionManifest;

/// Why selections are not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    /// A choice does not parse.
    #[error("cannot parse choice {input:?}: {reason} (expected CONTEST=OPTION[,OPTION...] or CONTEST=OPTION:POINTS,...)")]
    Syntax {
        /// The input.
        input: String,
        /// What is wrong.
        reason: String,
    },
    /// The district is not in the manifest.
    #[error("unknown district {0:?}")]
    UnknownDistrict(String),
    /// No contest has this id.
    #[error("unknown contest {0:?}")]
    UnknownContest(String),
    /// The contest exists but is not on the ballot of the voter's district.
    #[error("contest {contest:?} is not on the ballot of district {district:?}")]
    NotInDistrict {
        /// The contest.
        contest: String,
        /// The voter's district.
        district: String,
    },
    /// The contest has no option with this id.
    #[error("contest {contest:?} has no option {option:?} (options: {options})")]
    UnknownOption {
        /// The contest.
        contest: String,
        /// The option named.
        option: String,
        /// The contest's option ids.
        options: String,
    },
    /// A contest or an option was named twice.
    #[error("{0} named twice")]
    Duplicate(String),
    /// The selections break the contest's rule.
    #[error("contest {contest:?}: {reason}")]
    RuleViolated {
        /// The contest.
        contest: String,
        /// Which rule and how.
        reason: String,
    },
    /// Not one selection vector per contest of the district, or not one
    /// value per option.
    #[error("{0}")]
    Shape(String),
}

/// What a voter chose in one contest: option ids with values (1 for a
/// plain choice, points for a points contest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContestChoice {
    /// Contest id.
    pub contest: String,
    /// (option id, value).
    pub options: Vec<(String, u64)>,
}

impl FromStr for ContestChoice {
    type Err = SelectionError;

    /// `CONTEST=OPTION[,OPTION...]`, each option optionally `OPTION:POINTS`;
    /// `CONTEST=` chooses nothing (an abstention, where the rule allows it).
    fn from_str(s: &str) -> Result<Self, SelectionError> {
        let syntax = |reason: &str| SelectionError::Syntax {
            input: s.to_owned(),
            reason: reason.to_owned(),
        };
        let (contest, rest) = s.split_once('=').ok_or_else(|| syntax("no '='"))?;
        let contest = contest.trim();
        if contest.is_empty() {
            return Err(syntax("empty contest id"));
        }
        let mut options = Vec::new();
        for item in rest.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (option, value) = match item.split_once(':') {
                Some((o, v)) => (
                    o.trim(),
                    v.trim()
                        .parse::<u64>()
                        .map_err(|_| syntax(&format!("points of {o:?} are not a number")))?,
                ),
                None => (item, 1),
            };
            if option.is_empty() {
                return Err(syntax("empty option id"));
            }
            options.push((option.to_owned(), value));
        }
        Ok(ContestChoice {
            contest: contest.to_owned(),
            options,
        })
    }
}

/// Turns choices into one selection vector per contest of `district`'s
/// ballot (manifest order), checking each contest's rule. A contest not
/// named gets all zeros (valid only where its rule allows abstaining).
pub fn selections_for(
    manifest: &ElectionManifest,
    district: &str,
    choices: &[ContestChoice],
) -> Result<Vec<Vec<u64>>, SelectionError> {
    if !manifest.districts.contains_key(district) {
        return Err(SelectionError::UnknownDistrict(district.to_owned()));
    }
    let positions = district_contests(manifest, district);
    let mut out: Vec<Vec<u64>> = positions
        .iter()
        .map(|&p| vec![0; manifest.raw.contests[p].options.len()])
        .collect();
    let mut seen = std::collections::HashSet::new();
    for choice in choices {
        let cpos = *manifest
            .contests
            .get(&choice.contest)
            .ok_or_else(|| SelectionError::UnknownContest(choice.contest.clone()))?;
        let slot = positions.iter().position(|&p| p == cpos).ok_or_else(|| {
            SelectionError::NotInDistrict {
                contest: choice.contest.clone(),
                district: district.to_owned(),
            }
        })?;
        if !seen.insert(cpos) {
            return Err(SelectionError::Duplicate(format!(
                "contest {:?}",
                choice.contest
            )));
        }
        let contest = &manifest.raw.contests[cpos];
        let mut named = std::collections::HashSet::new();
        for (option, value) in &choice.options {
            let opos = contest
                .options
                .iter()
                .position(|o| &o.id == option)
                .ok_or_else(|| SelectionError::UnknownOption {
                    contest: choice.contest.clone(),
                    option: option.clone(),
                    options: contest
                        .options
                        .iter()
                        .map(|o| o.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                })?;
            if !named.insert(opos) {
                return Err(SelectionError::Duplicate(format!(
                    "option {option:?} of contest {:?}",
                    choice.contest
                )));
            }
            out[slot][opos] = *value;
        }
    }
    check_selections(manifest, district, &out)?;
    Ok(out)
}

/// Checks selection vectors against `district`'s contests and their rules
/// (`spec/client.md` §4.1).
pub fn check_selections(
    manifest: &ElectionManifest,
    district: &str,
    selections: &[Vec<u64>],
) -> Result<(), SelectionError> {
    if !manifest.districts.contains_key(district) {
        return Err(SelectionError::UnknownDistrict(district.to_owned()));
    }
    let positions = district_contests(manifest, district);
    if positions.len() != selections.len() {
        return Err(SelectionError::Shape(format!(
            "district {district} has {} contest(s), got selections for {}",
            positions.len(),
            selections.len()
        )));
    }
    for (&cpos, sel) in positions.iter().zip(selections) {
        let contest = &manifest.raw.contests[cpos];
        let violated = |reason: String| SelectionError::RuleViolated {
            contest: contest.id.clone(),
            reason,
        };
        if sel.len() != contest.options.len() {
            return Err(SelectionError::Shape(format!(
                "contest {} has {} options, got {} values",
                contest.id,
                contest.options.len(),
                sel.len()
            )));
        }
        let sum: u128 = sel.iter().map(|&v| u128::from(v)).sum();
        let binary = || {
            if let Some(i) = sel.iter().position(|&v| v > 1) {
                Err(violated(format!(
                    "option {} gets {}, but each option is chosen (1) or not (0)",
                    contest.options[i].id, sel[i]
                )))
            } else {
                Ok(())
            }
        };
        match manifest.rules[cpos] {
            Rule::OneOfN => {
                binary()?;
                if sum != 1 {
                    return Err(violated(format!("choose exactly one option, chose {sum}")));
                }
            }
            Rule::KOfN { min, max } => {
                binary()?;
                if sum < u128::from(min) || sum > u128::from(max) {
                    let want = if min == max {
                        format!("exactly {min}")
                    } else {
                        format!("{min} to {max}")
                    };
                    return Err(violated(format!("choose {want} options, chose {sum}")));
                }
            }
            Rule::Approval => binary()?,
            Rule::Points {
                per_option_max,
                budget,
                exact,
            } => {
                if let Some(i) = sel.iter().position(|&v| v > per_option_max) {
                    return Err(violated(format!(
                        "option {} gets {} points, at most {per_option_max} per option",
                        contest.options[i].id, sel[i]
                    )));
                }
                if exact && sum != u128::from(budget) {
                    return Err(violated(format!(
                        "spend exactly {budget} points, spent {sum}"
                    )));
                }
                if sum > u128::from(budget) {
                    return Err(violated(format!(
                        "spend at most {budget} points, spent {sum}"
                    )));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parse_choices() {
        let c: ContestChoice = "c1=a".parse().unwrap();
        assert_eq!(c.contest, "c1");
        assert_eq!(c.options, vec![("a".to_string(), 1)]);
        let c: ContestChoice = "pts = x:3, y:2".parse().unwrap();
        assert_eq!(c.options, vec![("x".to_string(), 3), ("y".to_string(), 2)]);
        let c: ContestChoice = "c1=".parse().unwrap();
        assert!(c.options.is_empty());
        for bad in ["c1", "=a", "c1=a:x", "c1=:3", "c1=a:-1"] {
            assert!(
                matches!(
                    bad.parse::<ContestChoice>(),
                    Err(SelectionError::Syntax { .. })
                ),
                "{bad}"
            );
        }
    }
}
