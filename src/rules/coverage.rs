//! The coverage rule (`[coverage] alert`): a bucket scanned by neither the Console nor GuardDuty,
//! and not excluded, is a gap in the malware scanning nobody else is told about. WARNING to its
//! owner, once, like every rule; OK again once it is scanned or excluded.

use super::{Finding, Level, RuleKind, SeriesRules};

/// `unscanned`: the bucket's observation, 1 when unscanned, 0 when scanned (whole or partly).
pub fn evaluate(r: &SeriesRules, unscanned: f64) -> Finding {
    let mut f = Finding::new(r, RuleKind::Coverage, None);
    f.value = Some(unscanned);
    if unscanned >= 1.0 {
        f.level = Level::Warning;
        f.message = format!(
            "{} is scanned by neither the Console nor GuardDuty, and not excluded (coverage.exclude, coverage.exclude_tag): its uploads are not checked for malware",
            r.label
        );
    } else {
        f.message = format!("{} is scanned", r.label);
    }
    f
}
