//! `thresholds.toml` in two steps: serde reads the raw form (`RawConfig`: unknown keys
//! rejected, defaults filled in), then `Config::try_from` has every section check itself and
//! resolves what must still be parsed (a plan's baseline and start day), so that every problem
//! is reported at once with its path and line, and a `Config` in hand is valid.

mod alerts;
mod antivirus;
mod collector;
mod cost;
mod coverage;
mod datadog;
mod digest;
mod ecs;
mod guardduty;
mod inventory;
mod read;
mod role;
mod rules;
mod validate;

use std::fmt;
use std::path::Path;

use chrono::NaiveDate;

use serde::Deserialize;

pub use alerts::{Alerts, Team};
pub use antivirus::{Antivirus, Bucket, ByteUnit, ConsoleApi, Credentials, Paging};
pub use collector::{Collector, DailyTotals};
pub use cost::{Cost, TagValue, CE_METRICS};
pub use coverage::{Coverage, ProtectionApi};
pub use datadog::{Datadog, DatadogReading};
pub use digest::Digest;
pub use ecs::{Ecs, EcsService, TaskCount};
pub use guardduty::GuardDuty;
pub use inventory::{Athena, Inventory, InventoryBucket, Review};
pub use role::Role;
pub use rules::{Plan, PlanDate, PlanSpec, Quantity, RuleDefaults, Snooze};
use validate::{locate, Validator};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    // Not a `source`: the reason is in the message already, and anyhow's chain would repeat it.
    #[error("cannot read {path}: {io}")]
    Read { path: String, io: std::io::Error },
    /// Values are checked once the file parses: a recovered document would give false ones.
    #[error("{path}: {} TOML syntax error(s); the values are checked once it parses:\n{}", .problems.len(), render(.problems))]
    Syntax { path: String, problems: Vec<Problem> },
    #[error("{path}: {} problem(s):\n{}", .problems.len(), render(.problems))]
    Invalid { path: String, problems: Vec<Problem> },
}

fn render(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n")
}

/// One finding, located by its TOML path and (when it is in the file) line, with the line's
/// text and a caret under the place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub line: Option<usize>,
    pub message: String,
    /// (the line's text, the column of the place from 0, its width), for the caret.
    pub caret: Option<(String, usize, usize)>,
}

impl Problem {
    /// At `span` of `text` (a byte range).
    fn at(text: &str, span: Option<std::ops::Range<usize>>, path: String, message: String) -> Problem {
        let Some(span) = span.filter(|s| s.start <= text.len()) else {
            return Problem { path, line: None, message, caret: None };
        };
        let start = floor_boundary(text, span.start);
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let line_text = text[line_start..line_end].trim_end_matches('\r');
        let column = text[line_start..start].chars().count();
        let end = floor_boundary(text, span.end.min(line_end).max(start));
        let width = text[start..end].chars().count().max(1);
        let line = text[..start].matches('\n').count() + 1;
        Problem { path, line: Some(line), message, caret: Some((line_text.to_string(), column, width)) }
    }
}

fn floor_boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() { String::new() } else { format!("{}: ", self.path) };
        match self.line {
            Some(line) => write!(f, "line {line}: {path}{}", self.message)?,
            None => write!(f, "{path}{}", self.message)?,
        }
        if let (Some(line), Some((text, column, width))) = (self.line, &self.caret) {
            // The file's text is the user's own, but a terminal is still no place for controls.
            let shown = crate::text::terminal(text);
            let pad = " ".repeat(line.to_string().len());
            write!(f, "\n    {line} | {shown}\n    {pad} | {}{}", " ".repeat(*column), "^".repeat(*width))?;
        }
        Ok(())
    }
}

/// The configuration. Serde reads `RawConfig` (= `Config<PlanSpec>`): unknown keys rejected,
/// defaults filled in. `Config` (its plans resolved) is what `try_from` returns once every
/// section has checked itself, and what the rest of costwarden sees.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "P: Deserialize<'de>"))]
pub struct Config<P = Plan> {
    #[serde(default)]
    pub collector: Collector,
    pub antivirus: Option<Antivirus<P>>,
    pub guardduty: Option<GuardDuty<P>>,
    pub cost: Option<Cost<P>>,
    pub ecs: Option<Ecs>,
    /// `costwarden coverage`; with `alert = true` also a daily source of the run.
    #[serde(default)]
    pub coverage: Coverage,
    #[serde(default)]
    pub rules: RuleDefaults,
    #[serde(default)]
    pub alerts: Alerts,
    /// Each team's weekly digest; absent: none.
    pub digest: Option<Digest>,
    /// How Datadog reads the metrics (priced by `costwarden cost`).
    #[serde(default)]
    pub datadog: Datadog,
    /// Where the scanned buckets' S3 Inventory lands (`costwarden efficiency`).
    #[serde(default)]
    pub inventory: Inventory,
    /// Owning teams by name: where their notifications go.
    #[serde(default)]
    pub teams: std::collections::BTreeMap<String, Team>,
}

/// What serde reads: plans as written (a quantity with a unit, a date or a string).
pub type RawConfig = Config<PlanSpec>;

impl Config {
    /// Reads and validates the file on `today` (a snooze more than 90 days ahead is refused).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::load_on(path, chrono::Utc::now().date_naive(), false)
    }

    /// `load` on a given day; `strict` (`costwarden validate`): a snooze that has ended is a
    /// problem too.
    pub fn load_on(path: &Path, today: NaiveDate, strict: bool) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|io| ConfigError::Read { path: path.display().to_string(), io })?;
        Config::parse_on(&text, &path.display().to_string(), Some((today, strict)))
    }

    /// Parses and validates; `origin` names the text in error messages. Pure: what depends on
    /// the day (snoozes' dates) is checked by `load`.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        Config::parse_on(text, origin, None)
    }

    pub fn parse_on(text: &str, origin: &str, today: Option<(NaiveDate, bool)>) -> Result<Config, ConfigError> {
        let raw = read::raw(text).map_err(|r| {
            let path = origin.to_string();
            let mut problems: Vec<Problem> =
                r.found.into_iter().map(|f| Problem::at(text, f.span, f.path, f.message)).collect();
            if r.syntax {
                return ConfigError::Syntax { path, problems };
            }
            // The rest of the file's values, checked too: every problem in one pass.
            if let Some(Err(more)) = r.rest.map(|rest| Config::validated(*rest, today)) {
                problems.extend(locate(text, more));
                problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
            }
            ConfigError::Invalid { path, problems }
        })?;
        Config::validated(raw, today)
            .map_err(|problems| ConfigError::Invalid { path: origin.to_string(), problems: locate(text, problems) })
    }

    /// A source's section as the run sees it: whether it is enabled, and its own schedule.
    /// None for a source that is not configured. One arm per source (`sources::ALL`).
    fn source_section(&self, id: crate::model::SourceId) -> Option<(bool, Option<&String>)> {
        use crate::model::SourceId;
        Some(match id {
            SourceId::Antivirus => self.antivirus.as_ref().map(|c| (c.enabled, c.schedule.as_ref()))?,
            SourceId::GuardDuty => self.guardduty.as_ref().map(|c| (c.enabled, c.schedule.as_ref()))?,
            SourceId::Cost => self.cost.as_ref().map(|c| (c.enabled, c.schedule.as_ref()))?,
            SourceId::Ecs => self.ecs.as_ref().map(|c| (c.enabled, c.schedule.as_ref()))?,
            SourceId::Coverage => (self.coverage.alert, self.coverage.schedule.as_ref()),
            SourceId::Inventory => (self.inventory.publish && !self.inventory.buckets.is_empty(), None),
        })
    }

    /// Days between two reads of a source whose totals are not read every run: 1 for the daily
    /// totals, `[inventory] every_days` for the inventory.
    pub fn every_days(&self, id: crate::model::SourceId) -> u32 {
        match id {
            crate::model::SourceId::Inventory => self.inventory.every_days,
            _ => 1,
        }
    }

    /// The daemon schedule of a source that is configured and enabled: its own, else
    /// `collector.schedule`. None for a source that is absent or disabled.
    pub fn source_schedule(&self, id: crate::model::SourceId) -> Option<&str> {
        let (enabled, own) = self.source_section(id)?;
        enabled.then(|| own.map_or(self.collector.schedule.as_str(), String::as_str))
    }
}

impl Config {
    /// The schedule of the part every run does (the ECS gauges), which the self-cost projection
    /// counts runs by: ECS's own when it is enabled and has one, else `collector.schedule`.
    pub fn every_run_schedule(&self) -> &str {
        self.source_schedule(crate::model::SourceId::Ecs).unwrap_or(&self.collector.schedule)
    }

    /// With daily totals read once a day, a daily source's schedule must run on every day after
    /// the day before has settled, or that day's totals are never read.
    fn days_skipped(&self) -> Vec<(String, String)> {
        use crate::model::SourceId;
        if self.collector.daily_totals != DailyTotals::Once {
            return Vec::new();
        }
        let settle = self.collector.settle_hours;
        let own = |id: SourceId| self.source_section(id).and_then(|(_, own)| own);
        let mut out: Vec<(String, String)> = Vec::new();
        for id in SourceId::ALL.into_iter().filter(|id| id.is_daily()) {
            let Some(schedule) = self.source_schedule(id) else { continue };
            let path = match own(id) {
                Some(_) => format!("{}.schedule", id.name()),
                None => "collector.schedule".to_string(),
            };
            if out.iter().any(|(p, _)| *p == path) {
                continue;
            }
            if let Some(day) = crate::schedule::misses_a_day(schedule, settle) {
                out.push((path, format!("{schedule:?} leaves days without a run after {settle:02}:00 UTC (e.g. {day}; collector.settle_hours): those days' totals would never be read; run at least daily after the settling delay, or set collector.daily_totals = \"every_run\"")));
            }
        }
        out
    }
}

impl TryFrom<RawConfig> for Config {
    /// Every problem found, as (TOML path, message). Pure: no environment, no network.
    type Error = Vec<(String, String)>;

    fn try_from(raw: RawConfig) -> Result<Config, Self::Error> {
        Config::validated(raw, None)
    }
}

impl Config {
    /// Every problem found, as (TOML path, message); `today` as in `parse_on`.
    fn validated(raw: RawConfig, today: Option<(NaiveDate, bool)>) -> Result<Config, Vec<(String, String)>> {
        let RawConfig {
            collector,
            antivirus,
            guardduty,
            cost,
            ecs,
            coverage,
            rules,
            alerts,
            digest,
            datadog,
            inventory,
            teams,
        } = raw;
        let mut v = Validator::new(&rules, &teams);
        v.today = today;
        collector.validate(&mut v);
        let antivirus = antivirus.map(|a| a.resolve(&mut v));
        let guardduty = guardduty.map(|g| g.resolve(&mut v));
        let cost = cost.map(|c| c.resolve(&mut v));
        if let Some(e) = &ecs {
            e.validate(&mut v);
        }
        coverage.validate(&mut v);
        rules::validate(&rules, &mut v);
        alerts.validate(&mut v);
        if let Some(d) = &digest {
            d.validate(&mut v);
        }
        inventory.validate(&mut v);
        if inventory.publish && collector.daily_totals != DailyTotals::Once {
            v.push(
                "inventory.publish",
                "reads every inventory.every_days days, as the records daily_totals = \"once\" writes tell; with \"every_run\" it would read every run".into(),
            );
        }
        let any = antivirus.as_ref().is_some_and(|a| a.enabled)
            || guardduty.as_ref().is_some_and(|g| g.enabled)
            || cost.as_ref().is_some_and(|c| c.enabled)
            || ecs.as_ref().is_some_and(|e| e.enabled);
        if !any {
            v.push(
                "(the file)",
                "no source is enabled: configure at least one of [antivirus], [guardduty], [cost], [ecs]".into(),
            );
        }
        let problems = v.into_problems();
        if !problems.is_empty() {
            return Err(problems);
        }
        let config = Config {
            collector,
            antivirus,
            guardduty,
            cost,
            ecs,
            coverage,
            rules,
            alerts,
            digest,
            datadog,
            inventory,
            teams,
        };
        let skipped = config.days_skipped();
        if !skipped.is_empty() {
            return Err(skipped);
        }
        Ok(config)
    }
}

fn d_true() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_thresholds_toml_is_valid() {
        let text = include_str!("../../thresholds.toml");
        Config::parse(text, "thresholds.toml").unwrap();
    }

    #[test]
    fn plan_dates_may_be_toml_dates_or_strings() {
        let text = |since: &str| {
            format!(
                "[cost]\ntag_key = \"t\"\n[[cost.tags]]\nvalue = \"x\"\nplan = {{ baseline = 5.0, since = {since} }}\n"
            )
        };
        let day = |t: &str| {
            let c = Config::parse(&text(t), "t").unwrap();
            Some(c.cost.unwrap().tags[0].plan.as_ref().unwrap().since)
        };
        assert_eq!(day("2026-10-01"), "2026-10-01".parse().ok());
        assert_eq!(day("\"2026-10-01\""), "2026-10-01".parse().ok());
        let err = Config::parse(&text("\"Oct 1st\""), "t").unwrap_err().to_string();
        assert!(err.contains("line 5: cost.tags[0].plan.since: must be a date (YYYY-MM-DD)"), "{err}");
    }

    #[test]
    fn a_snooze_needs_a_reason_and_a_date_at_most_90_days_ahead_and_ends_quietly() {
        let text = |snooze: &str| {
            format!("[cost]\ntag_key = \"t\"\n[[cost.tags]]\nvalue = \"x\"\nsnooze = {{ {snooze} }}\n[[cost.tags]]\nvalue = \"y\"\n")
        };
        let today: NaiveDate = "2026-12-05".parse().unwrap();
        let problems = |snooze: &str, strict: bool| match Config::parse_on(&text(snooze), "t", Some((today, strict))) {
            Ok(_) => Vec::new(),
            Err(ConfigError::Invalid { problems, .. }) => {
                problems.into_iter().map(|p| format!("line {:?}: {}: {}", p.line, p.path, p.message)).collect()
            }
            Err(e) => vec![e.to_string()],
        };
        assert_eq!(problems("until = 2026-12-20, reason = \"launch\"", true), Vec::<String>::new());
        assert_eq!(problems("until = \"2027-03-05\", reason = \"launch\"", true), Vec::<String>::new(), "90 days");
        assert_eq!(
            problems("until = 2027-03-06, reason = \" \"", false),
            vec![
                "line Some(5): cost.tags[0].snooze.reason: empty",
                "line Some(5): cost.tags[0].snooze.until: 2027-03-06 is more than 90 days ahead (at most 2027-03-05): replan instead",
            ]
        );
        // Ended: a run goes on (the snooze simply ends); `validate` asks for its removal.
        assert_eq!(problems("until = 2026-12-05, reason = \"launch\"", false), Vec::<String>::new());
        assert_eq!(
            problems("until = 2026-12-05, reason = \"launch\"", true),
            vec!["line Some(5): cost.tags[0].snooze.until: 2026-12-05 has passed: remove the snooze"]
        );
        let err = problems("until = \"soon\", reason = \"launch\"", false).join("");
        assert!(err.contains("line Some(5): cost.tags[0].snooze.until: must be a date (YYYY-MM-DD)"), "{err}");
        let s = Snooze { until: "2026-12-06".parse().unwrap(), reason: "r".into() };
        assert!(s.active(today) && !s.active(today.succ_opt().unwrap()));
    }

    #[test]
    fn problems_are_located_by_path_and_line() {
        let text = "[collector]\nnamespace = \"AWS/EC2\"\n\n[antivirus]\nbase_url = \"https://x.example\"\n\n[[antivirus.buckets]]\nname = \"ok-bucket\"\n\n[[antivirus.buckets]]\nname = \"\"\n";
        let err = Config::parse(text, "t.toml").unwrap_err();
        let ConfigError::Invalid { problems, .. } = err else { panic!("expected Invalid, got {err:?}") };
        let said: Vec<(&str, Option<usize>, &str)> =
            problems.iter().map(|p| (p.path.as_str(), p.line, p.message.as_str())).collect();
        assert_eq!(
            said,
            vec![
                ("collector.namespace", Some(2), "must be 1-255 ASCII characters and not start with \"AWS/\""),
                ("antivirus.buckets[1].name", Some(11), "empty"),
            ]
        );
        // With the line's text and a caret under the key.
        assert_eq!(problems[0].caret, Some(("namespace = \"AWS/EC2\"".to_string(), 0, 9)));
        let shown = problems[1].to_string();
        assert_eq!(shown, "line 11: antivirus.buckets[1].name: empty\n    11 | name = \"\"\n       | ^^^^", "{shown}");
    }

    #[test]
    fn rule_parameters_are_checked_and_located() {
        let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/thresholds.toml")).unwrap();
        let cases = [
            ("anomaly_new_high_days", "364", ["3", "431"], "must be between 7 and 430"),
            ("forecast_max_rise", "1.5", ["1.0", "nan"], "must be above 1"),
            ("growth_recovery", "0.95", ["0.0", "1.01"], "must be above 0 and at most 1"),
            ("capacity_recovery", "0.85", ["-1", "2"], "must be above 0 and at most 1"),
            ("forecast_hold_days", "7", ["57", "100"], "must be between 0 and 56"),
            ("unit_cost_rise", "0.25", ["-0.1", "nan"], "must be between 0 (off) and 10 (+1000%)"),
        ];
        for (key, default, bads, message) in cases {
            let line = format!("{key} = {default}");
            assert!(shipped.contains(&line), "{line}");
            for bad in bads {
                let text = shipped.replace(&line, &format!("{key} = {bad}"));
                let ConfigError::Invalid { problems, .. } = Config::parse(&text, "t.toml").unwrap_err() else {
                    panic!("expected Invalid")
                };
                let at = text.lines().position(|l| l.starts_with(&format!("{key} ="))).unwrap() + 1;
                let said: Vec<(&str, Option<usize>, &str)> =
                    problems.iter().map(|p| (p.path.as_str(), p.line, p.message.as_str())).collect();
                assert_eq!(said, vec![(format!("rules.{key}").as_str(), Some(at), message)]);
            }
        }
    }
}
