//! The run summary a person reads at 3 a.m. Every name or message in it may hold text read
//! from outside (a bucket, a tag value, a peer's error): each goes through `text::terminal`.

use std::fmt::Write;

use crate::text::terminal as t;

use crate::outcome::{RunReport, Status};

pub fn human(r: &RunReport) -> String {
    let mut out = String::new();
    let verdict = if r.ok() { "OK" } else { "FAILED" };
    let _ = writeln!(
        out,
        "costwarden run {} at {} (daily totals for {}): {}; {}{}",
        verdict,
        r.started.format("%Y-%m-%d %H:%M:%SZ"),
        r.report_day,
        collected(r),
        open(r),
        if r.dry_run { " [dry run: nothing written]" } else { "" }
    );
    let _ = writeln!(
        out,
        "  {:<10} {:<8} {:>7} {:>8} {:>11} {:>8} {:>8}",
        "source", "status", "series", "samples", "latest day", "requests", "time"
    );
    for s in &r.sources {
        let status = match s.status {
            Status::Ok => "ok",
            Status::Partial => "PARTIAL",
            Status::Failed => "FAILED",
            Status::Skipped => "skipped",
        };
        let _ = writeln!(
            out,
            "  {:<10} {:<8} {:>7} {:>8} {:>11} {:>8} {:>6}ms",
            s.source.name(),
            status,
            s.series,
            s.samples,
            s.latest_day.map(|d| d.to_string()).unwrap_or_else(|| "-".into()),
            s.requests,
            s.duration_ms
        );
        if let Some(e) = &s.error {
            let _ = writeln!(out, "      error: {}", t(e));
        }
        if let Some(why) = &s.skipped {
            let _ = writeln!(out, "      {}", t(why));
        }
        const SHOWN: usize = 10;
        for p in s.problems.iter().take(SHOWN) {
            let _ = writeln!(out, "      problem: {}", t(p));
        }
        if s.problems.len() > SHOWN {
            let _ = writeln!(out, "      ... and {} more problems (see --json)", s.problems.len() - SHOWN);
        }
    }
    if r.dry_run {
        let _ = writeln!(out, "  datums: {} would be written", r.datums);
    } else {
        let _ = writeln!(
            out,
            "  datums: {} written, {} failed, in {} PutMetricData request(s)",
            r.sink.written, r.sink.failed, r.sink.requests
        );
    }
    for e in r.sink.errors.iter().chain(&r.rejected) {
        let _ = writeln!(out, "      error: {}", t(e));
    }
    alerting(&mut out, r);
    let reqs: Vec<String> = r.requests.iter().map(|(a, n)| format!("{} {n}", a.name())).collect();
    let _ = writeln!(out, "  requests: {}", if reqs.is_empty() { "none".into() } else { reqs.join(", ") });
    let _ = writeln!(out, "  estimated API cost of this run: USD {:.5}", r.estimated_usd);
    let _ = writeln!(out, "  {}", self_cost_line(&r.self_cost));
    out
}

/// The rules' count, each change told (or not), what stays critical, the week's digests.
fn alerting(out: &mut String, r: &RunReport) {
    let count = |l: crate::rules::Level| r.findings.iter().filter(|f| f.level == l).count();
    let _ = writeln!(
        out,
        "  rules: {} verdicts, {} warning, {} critical",
        r.findings.len(),
        count(crate::rules::Level::Warning),
        count(crate::rules::Level::Critical)
    );
    // What stays critical though nothing changed: a quiet run still names it.
    let told: std::collections::HashSet<(&str, &str)> =
        r.alerts.transitions.iter().map(|tr| (tr.rule.name(), tr.series.as_str())).collect();
    let series: Vec<String> = r.findings.iter().map(|f| f.series.to_string()).collect();
    let still: Vec<String> = r
        .findings
        .iter()
        .zip(&series)
        .filter(|(f, key)| f.level == crate::rules::Level::Critical && !told.contains(&(f.rule.name(), key.as_str())))
        .map(|(f, _)| format!("{} {}", f.rule.name(), t(&f.label)))
        .collect();
    if !still.is_empty() {
        let _ = writeln!(out, "    still CRITICAL (told before): {}", still.join("; "));
    }
    // A series' why is the same for each of its changes: said under the first.
    let mut said = std::collections::HashSet::new();
    for tr in &r.alerts.transitions {
        transition(out, tr, &mut said);
    }
    if let Some(e) = &r.alerts.state_error {
        let _ = writeln!(out, "    error: {}", t(e));
    }
    if let Some(d) = &r.digest {
        let via = |v: &[&str]| if v.is_empty() { "logged, no channel".to_string() } else { v.join(", ") };
        let sent: Vec<String> = d.sent.iter().map(|(team, v)| format!("team {} ({})", t(team), via(v))).collect();
        let _ = writeln!(
            out,
            "  weekly digest sent to: {}",
            if sent.is_empty() { "nobody".into() } else { sent.join(", ") }
        );
        for e in &d.errors {
            let _ = writeln!(out, "    error: {}, tried again next run", t(e));
        }
    }
}

/// How the reading went, apart from what it found: "collected OK", "collected PARTIAL: cost".
fn collected(r: &RunReport) -> String {
    let named =
        |st: Status| -> Vec<&str> { r.sources.iter().filter(|s| s.status == st).map(|s| s.source.name()).collect() };
    let (failed, partial) = (named(Status::Failed), named(Status::Partial));
    match (failed.is_empty(), partial.is_empty()) {
        (true, true) => "collected OK".into(),
        (true, false) => format!("collected PARTIAL: {}", partial.join(", ")),
        (false, true) => format!("collected FAILED: {}", failed.join(", ")),
        (false, false) => format!("collected FAILED: {}; PARTIAL: {}", failed.join(", "), partial.join(", ")),
    }
}

/// What the rules found open now, whether or not it was told this run: "2 CRITICAL, 6 WARNING
/// open", "nothing open".
fn open(r: &RunReport) -> String {
    use crate::rules::Level;
    let count = |l: Level| r.findings.iter().filter(|f| f.level == l).count();
    match (count(Level::Critical), count(Level::Warning)) {
        (0, 0) => "nothing open".into(),
        (c, 0) => format!("{c} CRITICAL open"),
        (0, w) => format!("{w} WARNING open"),
        (c, w) => format!("{c} CRITICAL, {w} WARNING open"),
    }
}

/// One change told (or not) in the summary: to whom, whether it went, why, and its replan.
fn transition<'a>(
    out: &mut String,
    tr: &'a crate::alerts::deliver::TransitionReport,
    said: &mut std::collections::HashSet<(&'a str, &'a str)>,
) {
    let to = match (&tr.team, tr.channels.is_empty()) {
        (Some(team), false) => format!("team {team} via {}", tr.channels.join(", ")),
        (Some(team), true) => format!("team {team}"),
        (None, _) => "no team".to_string(),
    };
    let status = match (&tr.snoozed, tr.delivered) {
        (Some(s), _) => format!("snoozed {}", t(s)),
        (None, true) if tr.channels.is_empty() => "logged (no channel)".to_string(),
        (None, true) => "sent".to_string(),
        (None, false) => "NOT SENT, retried next run".to_string(),
    };
    let _ = writeln!(out, "    {} {} {}: {} → {}: {status}", tr.to, tr.rule.name(), tr.kind, t(&tr.label), to);
    let _ = writeln!(out, "      {}", t(&tr.message));
    for line in tr.why.iter().chain(&tr.costs) {
        if said.insert((&tr.label, line)) {
            let _ = writeln!(out, "      {}", t(line));
        }
    }
    if let Some(r) = &tr.replan {
        for line in r.lines() {
            let _ = writeln!(out, "      {}", t(line));
        }
    }
    if let Some(e) = &tr.error {
        let _ = writeln!(out, "      error: {}", t(e));
    }
}

/// The series thresholds.toml lists that have no verdict because their source failed or read
/// in part, with why: a row each, not a silent gap.
fn no_data(r: &RunReport, cfg: &crate::config::Config) -> Vec<(String, String)> {
    let judged: std::collections::HashSet<&crate::model::SeriesKey> = r.findings.iter().map(|f| &f.series).collect();
    let mut out = Vec::new();
    for s in r.sources.iter().filter(|s| matches!(s.status, Status::Failed | Status::Partial)) {
        let why = s.error.as_ref().or(s.problems.first()).map_or("no data".into(), |e| t(e).into_owned());
        let why = format!(
            "source {} {}: {why}",
            s.source.name(),
            if s.status == Status::Failed { "failed" } else { "read in part" }
        );
        let source = crate::sources::get(s.source);
        let keys = source.listed(cfg);
        let keys: Vec<&crate::model::SeriesKey> = keys.iter().filter(|k| !judged.contains(k)).collect();
        for rules in source.rules(cfg, &keys) {
            out.push((t(&rules.label).into_owned(), why.clone()));
        }
    }
    out
}

/// `costwarden cost`: the month's projection, line by line, with what measured it.
pub fn cost_table(r: &RunReport, cfg: &crate::config::Config) -> String {
    let p = &r.self_cost;
    let mut out = String::new();
    let schedule = cfg.every_run_schedule();
    let _ = writeln!(out, "costwarden's own AWS bill, projected to a month (list prices, us-east-1)");
    let _ = writeln!(out, "  runs a month: {:.0} (schedule \"{schedule}\")", p.runs_per_month);
    if let Some(n) = p.daily_series_given {
        let _ = writeln!(out, "  daily series: {n} as given (--daily-series), in place of those last recorded");
    }
    let _ = writeln!(out, "  {:<36} {:>14} {:>9}  assumption", "item", "quantity", "USD");
    for l in &p.lines {
        let qty = format!("{:.0} {}", l.quantity, l.unit);
        let _ = writeln!(out, "  {:<36} {:>14} {:>9.2}  {}", l.item, qty, l.usd, l.assumption);
    }
    let _ = writeln!(out, "  {:<36} {:>14} {:>9.2}", "total", "", p.monthly_usd);
    use crate::config::DatadogReading;
    let _ = writeln!(
        out,
        "  Datadog's reading, on your AWS bill (an estimate; [datadog] reading = \"{}\"):",
        p.datadog_reading.name()
    );
    for (way, usd, how) in [
        (
            DatadogReading::Polling,
            p.datadog_polling_usd,
            "its crawler: GetMetricData USD 0.01 per 1,000 metrics, every stream about every 10 minutes",
        ),
        (
            DatadogReading::MetricStream,
            p.datadog_stream_usd,
            "a Metric Stream (deploy/metric-stream.yaml): USD 0.003 per 1,000 datums + Firehose, at most 5 KB each",
        ),
    ] {
        let used = if p.datadog_reading == way { "  <- in use" } else { "" };
        let _ = writeln!(out, "  {:<36} {:>14} {:>9.2}  {how}{used}", format!("  by {}", way.name()), "", usd);
    }
    for id in &p.unknown {
        let _ = writeln!(
            out,
            "  the daily part of {} is not recorded yet: it is known after its first daily run (costwarden run)",
            id.name()
        );
    }
    let requests: Vec<String> = r.requests.iter().map(|(api, n)| format!("{} {n}", api.name())).collect();
    let _ = writeln!(out, "  measured by a run writing nothing: {} (USD {:.5})", requests.join(", "), r.estimated_usd);
    out
}

/// One line: the month's projection, what it is made of, and what it does not know.
pub fn self_cost_line(p: &crate::selfcost::Projection) -> String {
    let part = |i: usize| p.lines.get(i).map(|l| l.usd).unwrap_or(0.0);
    let digests = p.lines.get(5).map(|l| format!(", {} USD {:.2}", l.item, l.usd)).unwrap_or_default();
    let datadog = match p.datadog_reading {
        crate::config::DatadogReading::Polling => {
            format!("Datadog's crawler about USD {:.2} more (estimate)", p.datadog_usd)
        }
        crate::config::DatadogReading::MetricStream => {
            format!("Datadog's Metric Stream about USD {:.2} more (estimate)", p.datadog_usd)
        }
        crate::config::DatadogReading::None => "Datadog not reading".to_string(),
    };
    let mut line = format!(
        "self-cost: USD {:.2} a month projected ({:.0} runs; streams USD {:.2} every run + {:.2} daily, requests USD {:.2}{digests}); {datadog}; details: costwarden cost",
        p.monthly_usd,
        p.runs_per_month,
        part(0),
        part(1),
        part(2) + part(3) + part(4),
    );
    if !p.unknown.is_empty() {
        let names: Vec<&str> = p.unknown.iter().map(|id| id.name()).collect();
        line.push_str(&format!(
            "; without the daily part of {} (not recorded yet: known after their first daily run)",
            names.join(", ")
        ));
    }
    line
}

/// The datums of a dry run, one per line, sorted.
pub fn datums(r: &RunReport) -> String {
    let mut lines: Vec<String> = r
        .published
        .iter()
        .map(|s| {
            let def = s.key.metric.def();
            format!(
                "{} {} {}{}",
                t(&s.key.to_string()),
                s.value,
                def.unit.cloudwatch_name(),
                if s.estimated { " (estimated)" } else { "" }
            )
        })
        .collect();
    lines.sort();
    lines.join("\n") + "\n"
}

/// `costwarden status`: one line per rule and series, worst first; a series snoozed on `today`
/// says so, with its reason.
pub fn status_table(r: &RunReport, cfg: &crate::config::Config) -> String {
    let (findings, today) = (&r.findings, r.started.date_naive());
    use crate::rules::human;
    let mut rows: Vec<&crate::rules::Finding> = findings.iter().collect();
    rows.sort_by(|a, b| b.level.cmp(&a.level).then(a.label.cmp(&b.label)).then(a.rule.cmp(&b.rule)));
    let mut table = vec![[
        "SERIES".to_string(),
        "RULE".into(),
        "CURRENT".into(),
        "PLANNED".into(),
        "THRESHOLD".into(),
        "UTIL".into(),
        "BREACH".into(),
        "STATE".into(),
    ]];
    for f in rows {
        let v = |x: Option<f64>| x.map(|x| human(x, f.unit)).unwrap_or_else(|| "-".into());
        table.push([
            t(f.label.as_ref()).into_owned(),
            f.rule.name().into(),
            v(f.value),
            v(f.planned),
            v(f.threshold),
            f.utilisation.map(|u| format!("{:.0}%", 100.0 * u)).unwrap_or_else(|| "-".into()),
            match (f.projected_breach, f.breach_uncertainty_days) {
                // A forecast already at critical: its "breach" is its own data day.
                (Some(d), _) if f.day.is_some_and(|day| d <= day) => "now".into(),
                (Some(d), Some(u)) => format!("{d} ±{u}d"),
                (Some(d), None) => d.to_string(),
                _ => "-".into(),
            },
            match crate::alerts::route::snooze(cfg, &f.series)
                .filter(|s| s.active(today) && f.level != crate::rules::Level::Ok)
            {
                Some(s) => format!("{} SNOOZED until {}: {}", f.level.name(), s.until, t(&s.reason)),
                None => f.level.name().into(),
            },
        ]);
    }
    table.extend(no_data(r, cfg).into_iter().map(|(label, why)| {
        let dash = || "-".to_string();
        [label, dash(), dash(), dash(), dash(), dash(), dash(), format!("NO DATA: {why}")]
    }));
    let widths: Vec<usize> = (0..8).map(|c| table.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for r in &table {
        let line: Vec<String> = r.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    out
}
