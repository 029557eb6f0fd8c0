//! Groups, precincts and alignments (spec/caucus.md §1).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::CaucusError;

/// A preference group: a candidate, or "uncommitted".
///
/// Groups are identified by a number fixed in the election manifest. The
/// canonical order of groups (used in coin tosses, spec/caucus.md §6) is
/// ascending `GroupId`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct GroupId(pub u32);

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// The identifier of a precinct (or other apportionment district), as
/// written in the manifest. Its UTF-8 bytes enter the coin-toss input
/// (spec/caucus.md §6).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PrecinctId(pub String);

impl PrecinctId {
    /// Construct from anything string-like.
    pub fn new(id: impl Into<String>) -> Self {
        PrecinctId(id.into())
    }

    /// The bytes hashed in a coin toss.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Display for PrecinctId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The head count of each preference group in one alignment (round).
///
/// A group absent from the map has no members. Built through
/// [`Alignment::new`], which rejects a group listed twice, so the rest of
/// the crate never sees an ambiguous alignment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alignment {
    counts: BTreeMap<GroupId, u64>,
}

impl Alignment {
    /// Build an alignment from `(group, head count)` pairs.
    ///
    /// Errors: [`CaucusError::DuplicateGroup`] when a group appears twice;
    /// [`CaucusError::Overflow`] when the total does not fit in `u64`.
    pub fn new(counts: impl IntoIterator<Item = (GroupId, u64)>) -> Result<Self, CaucusError> {
        let mut map = BTreeMap::new();
        let mut total: u64 = 0;
        for (g, n) in counts {
            if map.insert(g, n).is_some() {
                return Err(CaucusError::DuplicateGroup(g));
            }
            total = total.checked_add(n).ok_or(CaucusError::Overflow)?;
        }
        Ok(Alignment { counts: map })
    }

    /// Head count of `group` (zero when absent).
    pub fn count(&self, group: GroupId) -> u64 {
        self.counts.get(&group).copied().unwrap_or(0)
    }

    /// All listed groups in canonical order with their counts.
    pub fn iter(&self) -> impl Iterator<Item = (GroupId, u64)> + '_ {
        self.counts.iter().map(|(g, n)| (*g, *n))
    }

    /// The listed groups in canonical order.
    pub fn groups(&self) -> impl Iterator<Item = GroupId> + '_ {
        self.counts.keys().copied()
    }

    /// Total head count. Cannot overflow: checked in [`Alignment::new`].
    pub fn total(&self) -> u64 {
        self.counts.values().fold(0u64, |a, n| a.saturating_add(*n))
    }
}
