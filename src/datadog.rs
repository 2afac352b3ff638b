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
use crate::metrics::{Metric, SOURCE_CONSOLE, SOURCE_GUARDDUTY};

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

/// The dashboard "Scanner cost early warning" (v1 dashboard API shape).
pub fn dashboard(cfg: &Config) -> Value {
    let ns = &cfg.collector.namespace;
    let m = |x| metric(ns, x);
    let mut widgets = vec![
        timeseries(
            "Scanned GB per bucket per day",
            vec![q("q1", format!("avg:{}{{$bucket}} by {{bucket,source}}", m(Metric::ScannedBytes)))],
            vec![formula("q1 / 1000000000", "GB/day")],
            "bars",
            vec![],
        ),
        json!({"definition": {
            "type": "toplist",
            "title": "Top buckets by scanned GB (latest day)",
            "requests": [{
                "queries": [q("q1", format!("avg:{}{{$bucket}} by {{bucket}}", m(Metric::ScannedBytes)))],
                "formulas": [{"formula": "q1 / 1000000000", "alias": "GB/day", "limit": {"count": 20, "order": "desc"}}],
                "response_format": "scalar",
            }],
        }}),
        timeseries(
            "Cost per tag value against its planned curve (USD/day)",
            vec![
                q("q1", format!("avg:{}{{$tagvalue}} by {{tagvalue}}", m(Metric::Cost))),
                q(
                    "q2",
                    format!("avg:{}{{rule:growth,series:cost,$tagvalue}} by {{tagvalue}}", m(Metric::PlannedValue)),
                ),
            ],
            vec![formula("q1", "cost"), formula("q2", "planned")],
            "line",
            vec![],
        ),
        ecs_tasks(cfg, &m),
        timeseries(
            "ECS task capacity (% of maximum)",
            vec![q("q1", format!("avg:{}{{$service}} by {{service}}", m(Metric::TaskUtilization)))],
            vec![formula("q1", "capacity %")],
            "line",
            vec![
                json!({"value": format!("y = {}", pct(cfg.rules.capacity_warn)), "display_type": "warning dashed", "label": "warning"}),
                json!({"value": format!("y = {}", pct(cfg.rules.capacity_crit)), "display_type": "error dashed", "label": "critical"}),
            ],
        ),
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
    ];
    if cfg.coverage.alert {
        widgets.push(timeseries(
            "Unscanned S3 buckets per team",
            vec![q("q1", format!("max:{}{{*}} by {{owner}}", m(Metric::UnscannedBuckets)))],
            vec![formula("q1", "unscanned buckets")],
            "bars",
            vec![],
        ));
    }
    json!({
        "title": "Scanner cost early warning",
        "description": "Generated by `costwarden dashboards` from thresholds.toml; edit that file and regenerate, not this dashboard.",
        "layout_type": "ordered",
        "reflow_type": "auto",
        "template_variables": [
            {"name": "bucket", "prefix": "bucket", "default": "*"},
            {"name": "tagvalue", "prefix": "tagvalue", "default": "*"},
            {"name": "service", "prefix": "service", "default": "*"},
        ],
        "widgets": widgets,
    })
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

fn pct(ratio: f64) -> String {
    let p = 100.0 * ratio;
    if p.fract() == 0.0 {
        format!("{p:.0}")
    } else {
        format!("{p:.1}")
    }
}

struct Watched {
    slug: String,
    label: String,
    series: &'static str,
    scope: Vec<String>,
    owner: Option<String>,
    warn_pct: f64,
    has_plan: bool,
    budget: bool,
}

fn watched(cfg: &Config) -> Vec<Watched> {
    let d = &cfg.rules;
    let ratio = |p: Option<&crate::config::Plan>| {
        let w = p.map_or(d.warn_tolerance, |p| p.warn_tolerance);
        let c = p.map_or(d.crit_tolerance, |p| p.crit_tolerance);
        100.0 * w / c
    };
    let mut out = Vec::new();
    let buckets =
        cfg.antivirus.iter().filter(|a| a.enabled).flat_map(|a| a.buckets.iter().map(|b| (SOURCE_CONSOLE, b))).chain(
            cfg.guardduty.iter().filter(|g| g.enabled).flat_map(|g| g.buckets.iter().map(|b| (SOURCE_GUARDDUTY, b))),
        );
    for (source, b) in buckets {
        out.push(Watched {
            slug: format!("bucket-{}-{source}", b.name),
            label: format!("bucket {} ({source})", b.name),
            series: Metric::ScannedBytes.def().name,
            scope: vec![tag("bucket", &b.name), tag("source", source)],
            owner: b.owner.clone(),
            warn_pct: ratio(b.plan.as_ref()),
            has_plan: b.plan.is_some(),
            budget: false,
        });
    }
    if let Some(c) = cfg.cost.as_ref().filter(|c| c.enabled) {
        for t in &c.tags {
            out.push(Watched {
                slug: format!("cost-{}", t.value),
                label: format!("cost of {}={}", c.tag_key, t.value),
                series: Metric::Cost.def().name,
                scope: vec![tag("tagkey", &c.tag_key), tag("tagvalue", &t.value)],
                owner: t.owner.clone(),
                warn_pct: ratio(t.plan.as_ref()),
                has_plan: t.plan.is_some(),
                budget: t.monthly_budget.is_some(),
            });
        }
    }
    out
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

/// Running against the maximum; desired and the maximum as lines of their own only when
/// `ecs.task_details` writes them (else the capacity widget shows the maximum as 100%).
fn ecs_tasks(cfg: &Config, m: &impl Fn(Metric) -> String) -> Value {
    let details = cfg.ecs.as_ref().is_some_and(|e| e.task_details);
    let mut queries = vec![q("q1", format!("avg:{}{{$service}} by {{service}}", m(Metric::RunningTasks)))];
    let mut formulas = vec![formula("q1", "running")];
    if details {
        queries.push(q("q2", format!("avg:{}{{$service}} by {{service}}", m(Metric::DesiredTasks))));
        queries.push(q("q3", format!("avg:{}{{$service}} by {{service}}", m(Metric::MaxTasks))));
        formulas.extend([formula("q2", "desired"), formula("q3", "maximum")]);
    }
    let title = if details { "ECS tasks: running and desired against the maximum" } else { "ECS tasks running" };
    timeseries(title, queries, formulas, "line", vec![])
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

/// Every monitor, as (file stem, v1 monitor JSON).
pub fn monitors(cfg: &Config) -> Vec<(String, Value)> {
    let ns = &cfg.collector.namespace;
    let util = metric(ns, Metric::ThresholdUtilization);
    let dash = cfg.alerts.dashboard_url.as_deref().map(|u| format!("\nDashboard: {u}")).unwrap_or_default();
    let mut out = Vec::new();
    for w in watched(cfg) {
        let team = route::team(cfg, w.owner.as_deref());
        let at = mention(cfg, w.owner.as_deref());
        let scope = |rule: &str| {
            let mut s = vec![tag("rule", rule), tag("series", w.series)];
            s.extend(w.scope.iter().cloned());
            s.join(",")
        };
        if w.has_plan {
            out.push((
                format!("growth-{}", w.slug),
                monitor(
                    format!("[costwarden] {} above its planned growth", w.label),
                    // A day: the verdicts of daily totals are written once a day (`collector.daily_totals`).
                    format!("max(last_1d):avg:{util}{{{}}} >= 100", scope("growth")),
                    format!(
                        "{{{{#is_warning}}}}{} is above {:.0}% of its critical level (planned curve × tolerance).{{{{/is_warning}}}}\n{{{{#is_alert}}}}{} is at or above its critical level.{{{{/is_alert}}}}\nThe level is the 7-day mean against the planned curve in thresholds.toml.{dash}\n{at}",
                        w.label, w.warn_pct, w.label
                    ),
                    team,
                    "growth",
                    100.0,
                    Some(w.warn_pct),
                    Some(cfg.rules.growth_recovery),
                ),
            ));
            out.push((
                format!("forecast-{}", w.slug),
                monitor(
                    format!("[costwarden] {} forecast to cross its critical level", w.label),
                    format!(
                        "max(next_1w):forecast(avg:{util}{{{}}}, 'linear', 1, interval='60m', history='4w', model='default') >= 100",
                        scope("growth")
                    ),
                    format!("{} is forecast to reach its critical level within a week (Datadog's forecast of costwarden's threshold utilisation).{dash}\n{at}", w.label),
                    team,
                    "forecast",
                    100.0,
                    None,
                    Some(0.9),
                ),
            ));
        }
        if w.budget {
            out.push((
                format!("budget-{}", w.slug),
                monitor(
                    format!("[costwarden] {} projected over its monthly budget", w.label),
                    format!("max(last_1d):avg:{util}{{{}}} >= 100", scope("budget")),
                    format!(
                        "{}: month-to-date plus the forecast to month end reaches the monthly budget.{dash}\n{at}",
                        w.label
                    ),
                    team,
                    "budget",
                    100.0,
                    Some(90.0),
                    None,
                ),
            ));
        }
    }
    out.extend(capacity_monitors(cfg, &dash));
    out.push(health_monitor(cfg, &dash));
    out
}

/// One monitor per ECS service: its task count against the maximum, at the capacity ratios.
fn capacity_monitors(cfg: &Config, dash: &str) -> Vec<(String, Value)> {
    let Some(e) = cfg.ecs.as_ref().filter(|e| e.enabled) else { return Vec::new() };
    let cap = metric(&cfg.collector.namespace, Metric::TaskUtilization);
    let mut out = Vec::new();
    for s in &e.services {
        let (cluster, service) = (crate::model::short_name(&s.cluster), crate::model::short_name(&s.service));
        let warn = s.capacity_warn.unwrap_or(cfg.rules.capacity_warn);
        let crit = s.capacity_crit.unwrap_or(cfg.rules.capacity_crit);
        let team = route::team(cfg, s.owner.as_deref());
        out.push((
            format!("capacity-{service}"),
            monitor(
                format!("[costwarden] ECS service {service} near its maximum task count"),
                format!("max(last_15m):avg:{cap}{{{},{}}} >= {}", tag("cluster", cluster), tag("service", service), pct(crit)),
                format!(
                    "ECS service {cluster}/{service} runs at {{{{value}}}}% of its maximum task count (warning {}%, critical {}%). Scanning is about to queue up, or the maximum needs raising.{dash}\n{}",
                    pct(warn),
                    pct(crit),
                    mention(cfg, s.owner.as_deref())
                ),
                team,
                "capacity",
                100.0 * crit,
                Some(100.0 * warn),
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
