//! Cost Explorer: daily cost per value of one cost-allocation tag. Every request and every page
//! costs USD 0.01, so a run makes exactly ONE query covering the whole history window.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_costexplorer::operation::get_cost_and_usage::GetCostAndUsageOutput;
use aws_sdk_costexplorer::types::{
    CostAllocationTagStatus, DateInterval, Granularity, GroupDefinition, GroupDefinitionType,
};
use chrono::NaiveDate;
use futures::future::BoxFuture;

use crate::config::Cost;
use crate::metrics::{Metric, DIM_TAG_KEY, DIM_TAG_VALUE};
use crate::model::{Daily, SeriesKey};
use crate::sources::probe::{fail, ok, warn, Probe};
use crate::sources::{Context, Probed, Source, SourceId, SourceOutput};
use crate::wire::aws_message;

/// The tag value reported for resources that do not carry the tag (CE returns `key$`).
pub const UNTAGGED: &str = "untagged";
/// A page token seen this many times means a broken peer; stop before the bill grows.
const MAX_PAGES: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Cost Explorer GetCostAndUsage: {0}")]
    Aws(String),
    #[error("Cost Explorer GetCostAndUsage: {0}")]
    Paging(String),
}

/// What the pages said. Days that appear with no group for a tag value are that value's
/// zero-cost days (CE omits zero groups); `unknown` are (value, day) whose amount was malformed
/// and so must not be zero-filled either.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Amounts per tag value and day; the value's name is stored once, not per day.
    pub amounts: BTreeMap<String, Vec<(NaiveDate, f64)>>,
    pub days: BTreeMap<NaiveDate, bool>,
    pub unknown: BTreeSet<(String, NaiveDate)>,
    pub problems: Vec<String>,
}

/// Parses one page into `acc`; malformed groups become problems.
pub fn parse_page(out: &GetCostAndUsageOutput, tag_key: &str, metric: &str, page_no: usize, acc: &mut Parsed) {
    let Parsed { amounts, days, unknown, problems } = acc;
    for (r, result) in out.results_by_time().iter().enumerate() {
        let at = format!("page {page_no} ResultsByTime[{r}]");
        let Some(day) = result.time_period().and_then(|p| NaiveDate::parse_from_str(p.start(), "%Y-%m-%d").ok()) else {
            problems.push(format!("{at}: TimePeriod.Start missing or not a date"));
            continue;
        };
        let estimated = result.estimated();
        // A day split across pages keeps the conservative (estimated) flag.
        *days.entry(day).or_default() |= estimated;
        for (g, group) in result.groups().iter().enumerate() {
            let at = format!("{at} Groups[{g}] ({day})");
            let Some(key) = group.keys().first() else {
                problems.push(format!("{at}: no Keys"));
                continue;
            };
            let value: &str = match key.split_once('$') {
                Some((k, "")) if k == tag_key => UNTAGGED,
                Some((k, v)) if k == tag_key => v,
                _ => {
                    problems.push(format!("{at}: key {key:?} is not \"{tag_key}$<value>\""));
                    continue;
                }
            };
            let Some(mv) = group.metrics().and_then(|m| m.get(metric)) else {
                problems.push(format!("{at}: tag value {value:?} has no {metric} metric"));
                unknown.insert((value.to_string(), day));
                continue;
            };
            let amount = mv.amount().and_then(|a| a.trim().parse::<f64>().ok());
            match amount {
                Some(a) if a.is_finite() => match amounts.get_mut(value) {
                    Some(v) => v.push((day, a)),
                    None => {
                        amounts.insert(value.to_string(), vec![(day, a)]);
                    }
                },
                _ => {
                    problems.push(format!(
                        "{at}: tag value {value:?}: {metric}.Amount {:?} is not a number",
                        mv.amount().unwrap_or("<missing>")
                    ));
                    unknown.insert((value.to_string(), day));
                }
            }
        }
    }
}

/// Merges pages into one daily series per tag value, zero-filling the days CE reported
/// without it (but not the days whose amount was malformed).
pub fn to_series(tag_key: &str, parsed: Parsed) -> Vec<Daily> {
    let first = parsed.days.keys().next().copied();
    let estimated_from = parsed.days.iter().find(|(_, e)| **e).map(|(d, _)| *d);
    let mut per_value: BTreeMap<String, Daily> = BTreeMap::new();
    for (value, amounts) in parsed.amounts {
        let key =
            SeriesKey::new(Metric::Cost, vec![(DIM_TAG_KEY, tag_key.to_string()), (DIM_TAG_VALUE, value.clone())]);
        let mut series = Daily::new(key, first.or(amounts.first().map(|(d, _)| *d)).unwrap_or(NaiveDate::MIN));
        for (day, amount) in amounts {
            series.add(day, amount);
        }
        per_value.insert(value, series);
    }
    for (value, series) in per_value.iter_mut() {
        for day in parsed.days.keys() {
            if series.get(*day).is_none() && !parsed.unknown.contains(&(value.clone(), *day)) {
                series.set(*day, 0.0);
            }
        }
        series.estimated_from = estimated_from;
    }
    per_value.into_values().collect()
}

/// ONE GetCostAndUsage over [today - history_days, today), following NextPageToken.
pub async fn collect(
    client: &aws_sdk_costexplorer::Client,
    cfg: &Cost,
    today: NaiveDate,
) -> Result<SourceOutput, Error> {
    collect_days(client, cfg, today - chrono::Days::new(u64::from(cfg.history_days)), today).await
}

/// ONE GetCostAndUsage over [start, today) (the daily run's window, or the re-read of
/// yesterday), following NextPageToken.
pub async fn collect_days(
    client: &aws_sdk_costexplorer::Client,
    cfg: &Cost,
    start: NaiveDate,
    today: NaiveDate,
) -> Result<SourceOutput, Error> {
    let period = DateInterval::builder()
        .start(start.format("%Y-%m-%d").to_string())
        .end(today.format("%Y-%m-%d").to_string())
        .build()
        .map_err(|e| Error::Aws(e.to_string()))?;
    let group = GroupDefinition::builder().r#type(GroupDefinitionType::Tag).key(&cfg.tag_key).build();
    let mut token: Option<String> = None;
    let mut seen_tokens = BTreeSet::new();
    let mut parsed = Parsed::default();
    for page_no in 1.. {
        // Throttling (CE's LimitExceededException) is retried by the client's policy.
        let out = client
            .get_cost_and_usage()
            .time_period(period.clone())
            .granularity(Granularity::Daily)
            .metrics(&cfg.metric)
            .group_by(group.clone())
            .set_next_page_token(token.clone())
            .send()
            .await
            .map_err(|e| Error::Aws(aws_message(&e)))?;
        parse_page(&out, &cfg.tag_key, &cfg.metric, page_no, &mut parsed);
        match out.next_page_token().filter(|t| !t.is_empty()) {
            None => break,
            Some(t) if !seen_tokens.insert(t.to_string()) || page_no >= MAX_PAGES => {
                return Err(Error::Paging(format!("NextPageToken {t:?} repeats or paging exceeds {MAX_PAGES} pages")))
            }
            Some(t) => token = Some(t.to_string()),
        }
    }
    let problems = std::mem::take(&mut parsed.problems);
    let daily = to_series(&cfg.tag_key, parsed);
    let present: BTreeSet<&str> = daily.iter().filter_map(|s| s.key.dim(DIM_TAG_VALUE)).collect();
    for t in &cfg.tags {
        if !present.contains(t.value.as_str()) {
            tracing::info!(tag_value = %t.value, tag_key = %cfg.tag_key, "Cost Explorer reported no cost for this tag value in the window");
        }
    }
    Ok(SourceOutput { daily, problems, ..SourceOutput::default() })
}

/// Whether the tag key is active, and one day's query.
async fn probe(c: Option<&Cost>, ce: &aws_sdk_costexplorer::Client, today: NaiveDate) -> Vec<Probe> {
    let Some(c) = c else { return Vec::new() };
    let mut out = Vec::new();
    let name = "cost tag key";
    let payer = "Cost Explorer answers in the management (payer) account: see [cost.role]";
    out.push(match ce.list_cost_allocation_tags().tag_keys(&c.tag_key).send().await {
        Ok(tags) => match tags.cost_allocation_tags().iter().find(|t| t.tag_key() == c.tag_key) {
            Some(t) if *t.status() == CostAllocationTagStatus::Active => {
                ok(name, format!("{:?} is active ({})", c.tag_key, t.r#type().as_str()))
            }
            Some(t) => fail(
                name,
                format!("{:?} is {}: Cost Explorer does not group by it", c.tag_key, t.status().as_str()),
                "activate it in Billing and Cost Management > Cost allocation tags (payer account); costs are grouped by it from then on, within 24 hours",
            ),
            None => fail(
                name,
                format!("Cost Explorer has never seen the tag key {:?}", c.tag_key),
                format!("tag the scanner's resources with {:?}; the key appears in Billing > Cost allocation tags within 24 hours, then activate it; or fix cost.tag_key. {payer}", c.tag_key),
            ),
        },
        Err(e) => fail(name, aws_message(&e), format!("the credentials of [cost] need ce:ListCostAllocationTags. {payer}")),
    });
    let yesterday = crate::model::day_before(today);
    let name = "cost query";
    out.push(match collect_days(ce, c, yesterday, today).await {
        Ok(o) if o.daily.is_empty() => warn(
            name,
            format!("GetCostAndUsage for {yesterday}: no cost under {:?}", c.tag_key),
            "a tag activated today groups costs from tomorrow; else the tagged resources cost nothing yet",
        ),
        Ok(o) => {
            let total: f64 = o.daily.iter().filter_map(|d| d.get(yesterday)).sum();
            let estimated = o.daily.iter().any(|d| d.estimated_from.is_some_and(|e| e <= yesterday));
            let state = if estimated { ", Estimated" } else { "" };
            ok(
                name,
                format!(
                    "GetCostAndUsage for {yesterday}: {} tag values, USD {total:.2} {}{state}",
                    o.daily.len(),
                    c.metric
                ),
            )
        }
        Err(e) => fail(name, e.to_string(), format!("the credentials of [cost] need ce:GetCostAndUsage. {payer}")),
    });
    out
}

/// The source: the daily cost per value of the cost-allocation tag.
pub struct CostExplorer;

impl Source for CostExplorer {
    fn id(&self) -> SourceId {
        SourceId::Cost
    }

    fn read<'a>(&'a self, ctx: &'a Context<'a>) -> BoxFuture<'a, Result<SourceOutput, String>> {
        Box::pin(async move {
            let c = ctx.config.cost.as_ref().expect("an enabled source is configured");
            collect(&ctx.clients.cost_explorer, c, ctx.today).await.map_err(|e| e.to_string())
        })
    }

    fn probe<'a>(&'a self, ctx: &'a Context<'a>) -> BoxFuture<'a, Probed> {
        let c = ctx.config.cost.as_ref().filter(|c| c.enabled);
        Box::pin(async move { probe(c, &ctx.clients.cost_explorer, ctx.today).await.into() })
    }

    /// Its cost, and the cost per GB scanned derived from it (`alerts::explain`).
    fn wrote(&self, metric: &str, _source: Option<&str>) -> bool {
        metric == Metric::Cost.def().name || metric == Metric::CostPerScannedGb.def().name
    }

    fn configures(&self, cfg: &crate::config::Config, key: &SeriesKey) -> bool {
        let listed = |t: &str| cfg.cost.iter().flat_map(|c| &c.tags).any(|x| x.value == t);
        key.dim(DIM_TAG_VALUE).is_some_and(listed)
    }

    /// Per tag value: its plan, budget and drops setting from `[[cost.tags]]`.
    fn rules(&self, cfg: &crate::config::Config, keys: &[&SeriesKey]) -> Vec<crate::rules::SeriesRules> {
        let d = &cfg.rules;
        let tags: std::collections::HashMap<&str, _> =
            cfg.cost.as_ref().map(|c| c.tags.iter().map(|t| (t.value.as_str(), t)).collect()).unwrap_or_default();
        let mut out = Vec::new();
        for key in keys.iter().filter(|k| k.metric == Metric::CostPerScannedGb) {
            let (Some(tag_key), Some(value)) = (key.dim(DIM_TAG_KEY), key.dim(DIM_TAG_VALUE)) else { continue };
            out.push(crate::rules::SeriesRules {
                key: (*key).clone(),
                label: format!("cost per GB scanned of {tag_key}={value}").into(),
                owner: tags.get(value).and_then(|t| t.owner.clone()),
                unit: crate::metrics::Unit::UsdPerGb,
                threshold: None,
                monthly_budget: None,
                capacity: None,
                anomaly: false,
                params: d.for_series(None, None, false),
            });
        }
        for key in keys.iter().filter(|k| k.metric == Metric::Cost) {
            let (Some(tag_key), Some(value)) = (key.dim(DIM_TAG_KEY), key.dim(DIM_TAG_VALUE)) else { continue };
            let t = tags.get(value);
            let plan = t.and_then(|t| t.plan.as_ref());
            out.push(crate::rules::SeriesRules {
                key: (*key).clone(),
                label: format!("cost of {tag_key}={value}").into(),
                owner: t.and_then(|t| t.owner.clone()),
                unit: crate::metrics::Unit::Usd,
                threshold: plan.map(|p| p.threshold()),
                monthly_budget: t.and_then(|t| t.monthly_budget),
                capacity: None,
                anomaly: d.anomaly,
                params: d.for_series(
                    plan.and_then(|p| p.horizon_days),
                    t.and_then(|t| t.anomaly_drops),
                    crate::rules::DROPS_ON_COST,
                ),
            });
        }
        out
    }

    fn listed(&self, cfg: &crate::config::Config) -> Vec<SeriesKey> {
        let Some(c) = cfg.cost.as_ref() else { return Vec::new() };
        let dims = |v: &str| vec![(DIM_TAG_KEY, c.tag_key.clone()), (DIM_TAG_VALUE, v.to_string())];
        c.tags.iter().map(|t| SeriesKey::new(Metric::Cost, dims(&t.value))).collect()
    }

    /// The cost per tag value against its planned curve (the growth rule's `PlannedValue`).
    fn panels(&self, _cfg: &crate::config::Config) -> Vec<crate::sources::Panel> {
        use crate::metrics::{DIM_RULE, DIM_SERIES};
        use crate::sources::panel::{Agg, Chart, Line, Panel};
        let planned = Line {
            only: vec![(DIM_RULE, "growth"), (DIM_SERIES, Metric::Cost.def().name)],
            ..Line::new(Agg::Avg, Metric::PlannedValue, &[DIM_TAG_VALUE], "planned").picked(DIM_TAG_VALUE)
        };
        let per_gb = Line::new(Agg::Avg, Metric::CostPerScannedGb, &[DIM_TAG_VALUE], "USD/GB").picked(DIM_TAG_VALUE);
        vec![
            Panel::new(
                "Cost per tag value against its planned curve (USD/day)",
                Chart::Line,
                vec![Line::new(Agg::Avg, Metric::Cost, &[DIM_TAG_VALUE], "cost").picked(DIM_TAG_VALUE), planned],
            ),
            Panel::new("Cost per GB scanned per tag value (USD/GB)", Chart::Line, vec![per_gb]),
        ]
    }

    /// One page of GetCostAndUsage.
    fn least_read_usd(&self) -> f64 {
        crate::wire::Api::GetCostAndUsage.usd_per_request()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_costexplorer::types::{Group, MetricValue, ResultByTime};

    fn result(day: &str, estimated: bool, groups: Vec<Group>) -> ResultByTime {
        let next = (day.parse::<NaiveDate>().unwrap() + chrono::Days::new(1)).to_string();
        ResultByTime::builder()
            .time_period(DateInterval::builder().start(day).end(next).build().unwrap())
            .set_groups(Some(groups))
            .estimated(estimated)
            .build()
    }

    fn group(key: &str, amount: &str) -> Group {
        Group::builder()
            .keys(key)
            .metrics("UnblendedCost", MetricValue::builder().amount(amount).unit("USD").build())
            .build()
    }

    #[test]
    fn parses_tag_values_untagged_and_zero_fills_missing_days() {
        let out = GetCostAndUsageOutput::builder()
            .results_by_time(result("2026-11-01", false, vec![group("team$scanner", "1.50"), group("team$", "0.25")]))
            .results_by_time(result("2026-11-02", true, vec![group("team$scanner", "2.00"), group("other$x", "9")]))
            .results_by_time(result("2026-11-03", true, vec![group("team$scanner", "abc")]))
            .build();
        let mut parsed = Parsed::default();
        parse_page(&out, "team", "UnblendedCost", 1, &mut parsed);
        assert_eq!(
            parsed.problems,
            vec![
                "page 1 ResultsByTime[1] Groups[1] (2026-11-02): key \"other$x\" is not \"team$<value>\"",
                "page 1 ResultsByTime[2] Groups[0] (2026-11-03): tag value \"scanner\": UnblendedCost.Amount \"abc\" is not a number",
            ]
        );
        let series = to_series("team", parsed);
        let got: Vec<(String, String, f64, bool)> = series
            .iter()
            .flat_map(|s| {
                let v = s.key.dim(DIM_TAG_VALUE).unwrap().to_string();
                s.points().map(move |(d, x)| (v.clone(), d.to_string(), x, s.is_estimated(d))).collect::<Vec<_>>()
            })
            .collect();
        let row = |v: &str, d: &str, a: f64, e: bool| (v.to_string(), d.to_string(), a, e);
        assert_eq!(
            got,
            vec![
                row("scanner", "2026-11-01", 1.5, false),
                row("scanner", "2026-11-02", 2.0, true),
                row("untagged", "2026-11-01", 0.25, false),
                row("untagged", "2026-11-02", 0.0, true),
                row("untagged", "2026-11-03", 0.0, true),
            ]
        );
    }

    #[test]
    fn a_result_without_time_period_is_a_problem() {
        let out = GetCostAndUsageOutput::builder().results_by_time(ResultByTime::builder().build()).build();
        let mut parsed = Parsed::default();
        parse_page(&out, "team", "UnblendedCost", 2, &mut parsed);
        assert_eq!(parsed.problems, vec!["page 2 ResultsByTime[0]: TimePeriod.Start missing or not a date"]);
    }
}
