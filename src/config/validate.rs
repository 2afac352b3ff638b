//! The checks every section shares, and locating a problem's path in the file.

use std::collections::BTreeMap;

use super::{Problem, RuleDefaults, Team};

/// Collects every problem as (TOML path, message); the sections check themselves into it,
/// with the rules' defaults and the teams at hand for the checks that need them.
pub(super) struct Validator<'c> {
    problems: Vec<(String, String)>,
    pub rules: &'c RuleDefaults,
    pub teams: &'c BTreeMap<String, Team>,
    /// The day the file is read on, when known (not in `Config::parse`, which is pure), and
    /// whether ended snoozes are problems (`costwarden validate`).
    pub today: Option<(chrono::NaiveDate, bool)>,
}

impl<'c> Validator<'c> {
    pub fn new(rules: &'c RuleDefaults, teams: &'c BTreeMap<String, Team>) -> Validator<'c> {
        Validator { problems: Vec::new(), rules, teams, today: None }
    }
    pub fn into_problems(self) -> Vec<(String, String)> {
        self.problems
    }
    pub fn push(&mut self, path: &str, msg: String) {
        self.problems.push((path.to_string(), msg));
    }
    pub fn check(&mut self, path: &str, ok: bool, msg: &str) {
        if !ok {
            self.push(path, msg.to_string());
        }
    }
    pub fn non_empty(&mut self, path: &str, s: &str) {
        self.check(path, !s.trim().is_empty(), "empty");
    }
    pub fn days(&mut self, path: &str, d: u32) {
        self.check(path, (1..=430).contains(&d), "must be between 1 and 430 days");
    }
    pub fn schedule(&mut self, path: &str, expr: Option<&str>) {
        if let Some(Err(e)) = expr.map(croner_check) {
            self.push(path, e);
        }
    }
    /// An owner must be a team.
    pub fn team(&mut self, path: &str, owner: &Option<String>) {
        if let Some(o) = owner {
            if !self.teams.contains_key(o) {
                let msg = match super::read::nearest(o, self.teams.keys().map(String::as_str)) {
                    Some(t) => format!("unknown team {o:?}; did you mean {t:?}?"),
                    None => format!("unknown team {o:?}: define it as [teams.{o}]"),
                };
                self.push(path, msg);
            }
        }
    }
    /// A plan's tolerances, each its own or the default: a problem of the defaults alone is
    /// said once, at `[rules]`, not again at every plan that inherits them.
    pub fn tolerances(&mut self, path: &str, warn: Option<f64>, crit: Option<f64>) {
        if path != "rules" && warn.is_none() && crit.is_none() {
            return;
        }
        let (w, c) = (warn.unwrap_or(self.rules.warn_tolerance), crit.unwrap_or(self.rules.crit_tolerance));
        if w <= 0.0 {
            self.push(&format!("{path}.warn_tolerance"), "must be above 0".into());
        } else if w >= c {
            let at = if warn.is_some() { "warn_tolerance" } else { "crit_tolerance" };
            self.push(&format!("{path}.{at}"), format!("warning ({w}) must be below critical ({c})"));
        }
    }
    pub fn ratios(&mut self, path: &str, warn: f64, crit: f64) {
        if !(warn > 0.0 && warn < crit) {
            self.push(
                &format!("{path}.capacity_warn"),
                format!("capacity warning ({warn}) must be above 0 and below critical ({crit})"),
            );
        }
    }
}

pub(super) fn valid_namespace(ns: &str) -> bool {
    !ns.is_empty() && ns.len() <= 255 && ns.is_ascii() && !ns.starts_with("AWS/") && !ns.starts_with(':')
}

fn croner_check(expr: &str) -> Result<(), String> {
    // tokio-cron-scheduler parses with croner, seconds field first.
    let parts = expr.split_whitespace().count();
    if !(6..=7).contains(&parts) {
        return Err(format!(
            "{expr:?} has {parts} fields; expected 6 (sec min hour day month weekday), e.g. \"0 */15 * * * *\""
        ));
    }
    tokio_cron_scheduler::Job::new_async(expr, |_, _| Box::pin(async {}))
        .map(|_| ())
        .map_err(|e| format!("{expr:?} is not a valid cron expression: {e}"))
}

/// Attaches the source line of each path (`a.b[2].c`) by walking the span-keeping document.
pub(super) fn locate(text: &str, problems: Vec<(String, String)>) -> Vec<Problem> {
    let doc = toml_edit::Document::parse(text).ok();
    let mut located: Vec<Problem> = problems
        .into_iter()
        .map(|(path, message)| {
            let span = doc.as_ref().and_then(|d| span_of(d.as_item(), &path));
            Problem::at(text, span, path, message)
        })
        .collect();
    // In file order, so the list reads top to bottom; unlocated ones last.
    located.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
    located
}

enum Node<'a> {
    Item(&'a toml_edit::Item),
    Table(&'a toml_edit::Table),
    Value(&'a toml_edit::Value),
}

/// Where the last key on `path` (`a.b[2].c`) that exists in the document is.
fn span_of(root: &toml_edit::Item, path: &str) -> Option<std::ops::Range<usize>> {
    let mut node = Node::Item(root);
    let mut best = None;
    for seg in path.split('.').filter(|s| !s.is_empty()) {
        let mut parts = seg.split(['[', ']']).filter(|s| !s.is_empty());
        let key = parts.next()?;
        let table: &dyn toml_edit::TableLike = match node {
            Node::Item(i) => i.as_table_like(),
            Node::Table(t) => Some(t as &dyn toml_edit::TableLike),
            Node::Value(v) => v.as_inline_table().map(|t| t as &dyn toml_edit::TableLike),
        }?;
        let Some((k, child)) = table.get_key_value(key) else {
            return best;
        };
        best = k.span().or(best);
        node = Node::Item(child);
        for idx in parts.filter_map(|p| p.parse::<usize>().ok()) {
            let next = match node {
                Node::Item(toml_edit::Item::ArrayOfTables(a)) => a.get(idx).map(Node::Table),
                Node::Item(toml_edit::Item::Value(toml_edit::Value::Array(a)))
                | Node::Value(toml_edit::Value::Array(a)) => a.get(idx).map(Node::Value),
                _ => None,
            };
            let Some(next) = next else { return best };
            let start = match &next {
                Node::Table(t) => t.iter().next().and_then(|(k, _)| t.key(k)).and_then(|k| k.span()),
                Node::Value(v) => v.span(),
                Node::Item(i) => i.span(),
            };
            best = start.or(best);
            node = next;
        }
    }
    best
}
