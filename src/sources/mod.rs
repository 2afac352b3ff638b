//! Sources: each fetches (I/O) apart from parsing (pure) and returns samples plus the problems
//! it met; a problem with one item never hides the others.

pub mod antivirus;
pub mod cost_explorer;
pub mod ecs;
pub mod guardduty;

pub use crate::model::SourceId;
use crate::model::{Daily, Sample};

/// What one source delivered. `problems` are item-level failures (a malformed record, an unknown
/// service); they fail the run without discarding the good items.
#[derive(Debug, Default)]
pub struct SourceOutput {
    pub daily: Vec<Daily>,
    pub gauges: Vec<Sample>,
    pub problems: Vec<String>,
}

impl SourceOutput {
    /// Data points delivered: each daily series' days, and the gauges.
    pub fn samples(&self) -> usize {
        self.daily.iter().map(|d| d.points().count()).sum::<usize>() + self.gauges.len()
    }
}

/// A source's problems, bounded: the first `KEEP` said in full, the rest counted. A page of a
/// million malformed items is a hundred lines and a count, not a million lines in the log and
/// in memory.
#[derive(Debug, Default)]
pub struct Problems {
    kept: Vec<String>,
    more: usize,
}

impl Problems {
    pub const KEEP: usize = 100;

    pub fn push(&mut self, p: String) {
        if self.kept.len() < Self::KEEP {
            self.kept.push(p);
        } else {
            self.more += 1;
        }
    }

    pub fn extend(&mut self, ps: impl IntoIterator<Item = String>) {
        for p in ps {
            self.push(p);
        }
    }

    /// A problem that sums up many (a count): said first, whatever the bound.
    pub fn summary(&mut self, p: String) {
        self.kept.insert(0, p);
    }

    pub fn absorb(&mut self, other: Problems) {
        self.extend(other.kept);
        self.more += other.more;
    }

    /// The problems kept, then one line with the count of the rest.
    pub fn into_vec(mut self) -> Vec<String> {
        if self.more > 0 {
            let all = self.kept.len() + self.more;
            self.kept.push(format!(
                "... and {} more problems ({all} in all; the first {} are above)",
                self.more,
                Self::KEEP
            ));
        }
        self.kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_past_the_bound_are_counted_not_kept() {
        let mut p = Problems::default();
        p.extend((0..1_000_000).map(|i| format!("item {i}: bad")));
        let v = p.into_vec();
        assert_eq!(v.len(), Problems::KEEP + 1);
        assert_eq!(v[99], "item 99: bad");
        assert_eq!(v[100], "... and 999900 more problems (1000000 in all; the first 100 are above)");
    }
}
