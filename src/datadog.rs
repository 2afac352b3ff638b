//! Datadog dashboard and monitors generated from thresholds.toml, so what Datadog shows and
//! alerts on cannot drift from what the daemon evaluates. Metric names come from the catalogue
//! (`metrics.rs`), the same table the CloudWatch sink writes from.
//!
//! Naming: Datadog's AWS integration turns CloudWatch names into lowercase, dot-separated
//! names with CamelCase metric names in snake_case (its FAQ's example: AWS/ApiGateway
//! `IntegrationLatency` is `aws.apigateway.integration_latency`); for a custom namespace the
//! prefix is the namespace itself, so `Costwarden/Scanner` `ScannedBytes` is
//! `costwarden.scanner.scanned_bytes`, and dimensions become lowercase tags (`bucket:...`).

use serde_json::{json, Value};

use crate::alerts::route;
use crate::config::Config;
use crate::metrics::{Metric, DIM_RULE, DIM_SERIES};
use crate::model::SeriesKey;
use crate::rules::SeriesRules;
use crate::sources::panel::{Agg, Chart, Line};
use crate::sources::{self, Panel};

/// `ScannedBytes` → `scanned_bytes`.
pub fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let chars: Vec<char> = name.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev_lower = i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if i > 0 && (prev_lower || (next_lower && chars[i - 1].is_uppercase())) {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(*c);
        }
    }
    out
}

/// The Datadog name of one of costwarden's metrics.
pub fn metric(namespace: &str, m: Metric) -> String {
    let prefix: Vec<String> = namespace.split('/').map(|p| p.to_lowercase().replace(' ', "_")).collect();
    format!("{}.{}", prefix.join("."), snake(m.def().name))
}

/// A dimension as a Datadog tag: lowercase key and value.
pub fn tag(dim: &str, value: &str) -> String {
    format!("{}:{}", dim.to_lowercase(), value.to_lowercase())
}

fn q(name: &str, query: String) -> Value {
    json!({"data_source": "metrics", "name": name, "query": query})
}

fn timeseries(title: &str, queries: Vec<Value>, formulas: Vec<Value>, display: &str, markers: Vec<Value>) -> Value {
    let mut def = json!({
        "type": "timeseries",
        "title": title,
        "show_legend": true,
        "requests": [{
            "queries": queries,
            "formulas": formulas,
            "response_format": "timeseries",
            "display_type": display,
        }],
    });
    if !markers.is_empty() {
        def["markers"] = Value::Array(markers);
    }
    json!({"definition": def})
}

fn formula(f: &str, alias: &str) -> Value {
    json!({"formula": f, "alias": alias})
}

/// The dashboard "Scanner cost early warning" (v1 dashboard API shape): the charts of every
/// configured and enabled source (`Source::panels`, a chart shared by two sources once), then
/// the collector's own (rules, alert states, health, self-cost).
pub fn dashboard(cfg: &Config) -> Value {
    let ns = &cfg.collector.namespace;
    let m = |x| metric(ns, x);
    let mut panels: Vec<Panel> = Vec::new();
    for s in sources::ALL.iter().filter(|s| cfg.source_schedule(s.id()).is_some()) {
        for p in s.panels(cfg) {
            if !panels.contains(&p) {
                panels.push(p);
            }
        }
    }
    let mut picks: Vec<&str> = Vec::new();
    for l in panels.iter().flat_map(|p| &p.lines) {
        if let Some(d) = l.pick.filter(|d| !picks.contains(d)) {
            picks.push(d);
        }
    }
    let mut widgets: Vec<Value> = panels.iter().map(|p| widget(ns, p)).collect();
    widgets.extend([
        utilisation_table(&m),
        timeseries(
            "Alert states (0 OK, 1 WARNING, 2 CRITICAL)",
            vec![q("q1", format!("max:{}{{*}} by {{rule,series,bucket,tagvalue,service}}", m(Metric::AlertState)))],
            vec![formula("q1", "state")],
            "line",
            vec![
                json!({"value": "y = 1", "display_type": "warning dashed", "label": "WARNING"}),
                json!({"value": "y = 2", "display_type": "error dashed", "label": "CRITICAL"}),
            ],
        ),
        timeseries(
            "Collector health: sources up, failed notifications",
            vec![
                q("q1", format!("min:{}{{*}} by {{source}}", m(Metric::SourceUp))),
                q("q2", format!("max:{}{{*}}", m(Metric::NotificationsFailed))),
            ],
            vec![formula("q1", "source up"), formula("q2", "notifications failed")],
            "line",
            vec![],
        ),
        self_cost(cfg, &m),
    ]);
    let template_variables: Vec<Value> =
        picks.iter().map(|d| json!({"name": d.to_lowercase(), "prefix": d.to_lowercase(), "default": "*"})).collect();
    json!({
        "title": "Scanner cost early warning",
        "description": "Generated by `costwarden dashboards` from thresholds.toml; edit that file and regenerate, not this dashboard.",
        "layout_type": "ordered",
        "reflow_type": "auto",
        "template_variables": template_variables,
        "widgets": widgets,
    })
}

/// One line of a panel as a Datadog metric query: `avg:name{rule:growth,$tagvalue} by {tagvalue}`.
fn query(ns: &str, l: &Line) -> String {
    let agg = match l.agg {
        Agg::Avg => "avg",
        Agg::Max => "max",
    };
    let mut scope: Vec<String> = l.only.iter().map(|(d, v)| tag(d, v)).collect();
    scope.extend(l.pick.map(|d| format!("${}", d.to_lowercase())));
    let scope = if scope.is_empty() { "*".to_string() } else { scope.join(",") };
    let by: Vec<String> = l.by.iter().map(|d| d.to_lowercase()).collect();
    let by = if by.is_empty() { String::new() } else { format!(" by {{{}}}", by.join(",")) };
    format!("{agg}:{}{{{scope}}}{by}", metric(ns, l.metric))
}

/// A source's panel as a widget: a timeseries, or a toplist of the largest.
fn widget(ns: &str, p: &Panel) -> Value {
    let queries: Vec<Value> =
        p.lines.iter().enumerate().map(|(i, l)| q(&format!("q{}", i + 1), query(ns, l))).collect();
    let mut formulas: Vec<Value> = p
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| match l.per {
            Some(d) => formula(&format!("q{} / {d}", i + 1), l.alias),
            None => formula(&format!("q{}", i + 1), l.alias),
        })
        .collect();
    let display = match p.chart {
        Chart::Top(n) => {
            for f in &mut formulas {
                f["limit"] = json!({"count": n, "order": "desc"});
            }
            return json!({"definition": {
                "type": "toplist",
                "title": p.title,
                "requests": [{"queries": queries, "formulas": formulas, "response_format": "scalar"}],
            }});
        }
        Chart::Line => "line",
        Chart::Bars => "bars",
    };
    let marks = p
        .marks
        .iter()
        .map(|k| {
            let style = if k.critical { "error dashed" } else { "warning dashed" };
            json!({"value": format!("y = {}", number(k.at)), "display_type": style, "label": k.label})
        })
        .collect();
    timeseries(&p.title, queries, formulas, display, marks)
}

/// Every rule's threshold utilisation and days to breach, one row per series.
fn utilisation_table(m: &impl Fn(Metric) -> String) -> Value {
    json!({"definition": {
        "type": "query_table",
        "title": "Threshold utilisation and days to breach per series",
        "requests": [{
            "queries": [
                q("q1", format!("avg:{}{{*}} by {{rule,series,bucket,tagvalue,service}}", m(Metric::ThresholdUtilization))),
                q("q2", format!("avg:{}{{*}} by {{rule,series,bucket,tagvalue,service}}", m(Metric::DaysToBreach))),
            ],
            "formulas": [
                {"formula": "q1", "alias": "utilisation %"},
                {"formula": "q2", "alias": "days to breach"},
            ],
            "response_format": "scalar",
        }],
    }})
}

/// A level as Datadog shows it: `70`, `72.5`.
fn number(p: f64) -> String {
    if p.fract() == 0.0 {
        format!("{p:.0}")
    } else {
        format!("{p:.1}")
    }
}

fn mention(cfg: &Config, owner: Option<&str>) -> String {
    route::team(cfg, owner).and_then(|t| cfg.teams.get(t)).and_then(|t| t.datadog_handle.clone()).unwrap_or_default()
}

#[allow(clippy::too_many_arguments)]
fn monitor(
    name: String,
    query: String,
    message: String,
    team: Option<&str>,
    rule: &str,
    critical: f64,
    warning: Option<f64>,
    recovery: Option<f64>,
) -> Value {
    let mut thresholds = json!({"critical": critical});
    if let Some(w) = warning {
        thresholds["warning"] = json!(w);
    }
    // A recovery band as costwarden's own rule keeps, so the monitor flaps no more than it.
    if let Some(r) = recovery {
        let band = |t: f64| json!((t * r * 100.0).round() / 100.0);
        thresholds["critical_recovery"] = band(critical);
        if let Some(w) = warning {
            thresholds["warning_recovery"] = band(w);
        }
    }
    let mut tags = vec!["managed-by:costwarden".to_string(), format!("rule:{rule}")];
    if let Some(t) = team {
        tags.push(format!("team:{t}"));
    }
    json!({
        "name": name,
        "type": "query alert",
        "query": query,
        "message": message,
        "tags": tags,
        "priority": if rule == "capacity" || rule == "growth" { 2 } else { 3 },
        "options": {
            "thresholds": thresholds,
            "notify_no_data": false,
            "require_full_window": false,
            "include_tags": true,
            "renotify_interval": 0,
        },
    })
}

/// The month's projection and the datums; requests per API only when `collector.api_metrics`
/// writes them.
fn self_cost(cfg: &Config, m: &impl Fn(Metric) -> String) -> Value {
    let mut queries = vec![
        q("q1", format!("max:{}{{*}}", m(Metric::SelfCostMonthly))),
        q("q2", format!("sum:{}{{*}}", m(Metric::DatumsWritten))),
    ];
    let mut formulas = vec![formula("q1", "USD a month (projected)"), formula("q2", "datums")];
    if cfg.collector.api_metrics {
        queries.push(q("q3", format!("sum:{}{{*}} by {{api}}", m(Metric::ApiRequests))));
        formulas.push(formula("q3", "requests"));
    }
    timeseries("Collector self-cost: projected month and datums written", queries, formulas, "line", vec![])
}

/// Every monitor, as (file stem, v1 monitor JSON): for each series thresholds.toml names
/// (`Source::listed`), one per rule its source gives it (`Source::rules`: the same lowered
/// rules the daemon evaluates), and one for the collector's health.
pub fn monitors(cfg: &Config) -> Vec<(String, Value)> {
    let dash = cfg.alerts.dashboard_url.as_deref().map(|u| format!("\nDashboard: {u}")).unwrap_or_default();
    let mut out = Vec::new();
    for s in sources::ALL.iter().filter(|s| cfg.source_schedule(s.id()).is_some()) {
        let keys = s.listed(cfg);
        let keys: Vec<&SeriesKey> = keys.iter().collect();
        for r in s.rules(cfg, &keys) {
            out.extend(series_monitors(cfg, &r, &dash));
        }
    }
    out.push(health_monitor(cfg, &dash));
    out
}

/// A series' label as a file stem: `bucket acme-uploads (console)` → `bucket-acme-uploads-console`.
fn slug(label: &str) -> String {
    let words: Vec<String> =
        label.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
    words.join("-")
}

/// The monitors of one series: growth and forecast on a plan, budget on a budget, capacity
/// on capacity ratios.
fn series_monitors(cfg: &Config, r: &SeriesRules, dash: &str) -> Vec<(String, Value)> {
    let util = metric(&cfg.collector.namespace, Metric::ThresholdUtilization);
    let (label, stem) = (&*r.label, slug(&r.label));
    let team = route::team(cfg, r.owner.as_deref());
    let at = mention(cfg, r.owner.as_deref());
    let dims = || r.key.dims.iter().map(|(d, v)| tag(d, v));
    let scope = |rule: &str| {
        let mut s = vec![tag(DIM_RULE, rule), tag(DIM_SERIES, r.key.metric.def().name)];
        s.extend(dims());
        s.join(",")
    };
    let mut out = Vec::new();
    if let Some(t) = &r.threshold {
        let warn_pct = 100.0 * t.warn / t.crit;
        out.push((
            format!("growth-{stem}"),
            monitor(
                format!("[costwarden] {label} above its planned growth"),
                // A day: the verdicts of daily totals are written once a day (`collector.daily_totals`).
                format!("max(last_1d):avg:{util}{{{}}} >= 100", scope("growth")),
                format!(
                    "{{{{#is_warning}}}}{label} is above {warn_pct:.0}% of its critical level (planned curve × tolerance).{{{{/is_warning}}}}\n{{{{#is_alert}}}}{label} is at or above its critical level.{{{{/is_alert}}}}\nThe level is the 7-day mean against the planned curve in thresholds.toml.{dash}\n{at}"
                ),
                team,
                "growth",
                100.0,
                Some(warn_pct),
                Some(cfg.rules.growth_recovery),
            ),
        ));
        out.push((
            format!("forecast-{stem}"),
            monitor(
                format!("[costwarden] {label} forecast to cross its critical level"),
                format!(
                    "max(next_1w):forecast(avg:{util}{{{}}}, 'linear', 1, interval='60m', history='4w', model='default') >= 100",
                    scope("growth")
                ),
                format!("{label} is forecast to reach its critical level within a week (Datadog's forecast of costwarden's threshold utilisation).{dash}\n{at}"),
                team,
                "forecast",
                100.0,
                None,
                Some(0.9),
            ),
        ));
    }
    if r.monthly_budget.is_some() {
        out.push((
            format!("budget-{stem}"),
            monitor(
                format!("[costwarden] {label} projected over its monthly budget"),
                format!("max(last_1d):avg:{util}{{{}}} >= 100", scope("budget")),
                format!(
                    "{label}: month-to-date plus the forecast to month end reaches the monthly budget.{dash}\n{at}"
                ),
                team,
                "budget",
                100.0,
                Some(90.0),
                None,
            ),
        ));
    }
    if let Some((warn, crit)) = r.capacity {
        let gauge = metric(&cfg.collector.namespace, r.key.metric);
        let (warn, crit) = (100.0 * warn, 100.0 * crit);
        out.push((
            format!("capacity-{stem}"),
            monitor(
                format!("[costwarden] {label} near its maximum task count"),
                format!("max(last_15m):avg:{gauge}{{{}}} >= {}", dims().collect::<Vec<_>>().join(","), number(crit)),
                format!(
                    "{label} runs at {{{{value}}}}% of its maximum task count (warning {}%, critical {}%). Scanning is about to queue up, or the maximum needs raising.{dash}\n{at}",
                    number(warn),
                    number(crit),
                ),
                team,
                "capacity",
                crit,
                Some(warn),
                Some(cfg.rules.capacity_recovery),
            ),
        ));
    }
    out
}

/// One monitor for the collector itself: a source not read completely.
fn health_monitor(cfg: &Config, dash: &str) -> (String, Value) {
    let ns = &cfg.collector.namespace;
    (
    "collector-health".into(),
    monitor(
        "[costwarden] a source could not be read".into(),
        format!("max(last_1h):min:{}{{*}} by {{source}} < 1", metric(ns, Metric::SourceUp)),
        format!("costwarden could not read source {{{{source.name}}}} completely: its data is missing or partial, so its warnings may be late. Check the collector's logs.{dash}\n{}", mention(cfg, None)),
        route::team(cfg, None),
        "health",
        1.0,
        None,
        None,
    ),
)
}

/// Every generated file: (path relative to the output folder, JSON).
pub fn files(cfg: &Config) -> Vec<(String, Value)> {
    let mut out = vec![("scanner-cost-early-warning.dashboard.json".to_string(), dashboard(cfg))];
    for (stem, m) in monitors(cfg) {
        let safe: String = stem
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c.to_ascii_lowercase() } else { '-' })
            .collect();
        out.push((format!("monitors/{safe}.json"), m));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datadog_names_follow_the_integration_rule() {
        assert_eq!(snake("IntegrationLatency"), "integration_latency");
        assert_eq!(snake("TaskCapacityUtilization"), "task_capacity_utilization");
        assert_eq!(snake("ApiRequests"), "api_requests");
        assert_eq!(metric("Costwarden/Scanner", Metric::ScannedBytes), "costwarden.scanner.scanned_bytes");
        assert_eq!(tag("TagValue", "Scanner-Agents"), "tagvalue:scanner-agents");
    }
}
