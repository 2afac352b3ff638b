//! GuardDuty Malware Protection for S3: per-bucket daily scanned bytes and objects, read from
//! its CloudWatch metrics (namespace AWS/GuardDuty/MalwareProtection) with GetMetricData.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_cloudwatch::types::{Dimension, Metric as CwMetric, MetricDataQuery, MetricStat};
use chrono::NaiveDate;
use futures::future::BoxFuture;

use crate::config::GuardDuty;
use crate::metrics::{Metric, DIM_BUCKET, DIM_SOURCE, SOURCE_GUARDDUTY};
use crate::model::{Daily, SeriesKey};
use crate::sources::probe::{fail, ok, warn, Probe};
use crate::sources::{Context, Probed, Source, SourceId, SourceOutput};
use crate::wire::aws_message;
use crate::wire::metric_data::{self, midnight};

pub const NAMESPACE: &str = "AWS/GuardDuty/MalwareProtection";
const SOURCE_METRICS: [(&str, Metric); 2] =
    [("CompletedScanBytes", Metric::ScannedBytes), ("CompletedScanCount", Metric::ScannedObjects)];

#[derive(Debug, thiserror::Error)]
#[error("GuardDuty GetMetricData: {0}")]
pub struct Error(String);

/// One query per (bucket, metric); the id encodes both so the answer maps back without state.
pub fn queries(cfg: &GuardDuty) -> Vec<MetricDataQuery> {
    let mut q = Vec::with_capacity(cfg.buckets.len() * SOURCE_METRICS.len());
    for (b, bucket) in cfg.buckets.iter().enumerate() {
        for (m, (name, _)) in SOURCE_METRICS.iter().enumerate() {
            let metric = CwMetric::builder()
                .namespace(NAMESPACE)
                .metric_name(*name)
                .dimensions(Dimension::builder().name("Malware Protection Plan Id").value(&cfg.plan_id).build())
                .dimensions(Dimension::builder().name("Resource Name").value(&bucket.name).build())
                .build();
            q.push(
                MetricDataQuery::builder()
                    .id(format!("b{b}m{m}"))
                    .metric_stat(MetricStat::builder().metric(metric).period(86_400).stat("Sum").build())
                    .return_data(true)
                    .build(),
            );
        }
    }
    q
}

/// Maps `b{bucket}m{metric}` results back to samples (pure).
pub fn to_series(cfg: &GuardDuty, results: &[(String, Vec<(i64, f64)>)]) -> (Vec<Daily>, Vec<String>) {
    let mut series = Vec::new();
    let mut problems = Vec::new();
    let mut points: BTreeMap<(usize, usize), BTreeMap<NaiveDate, f64>> = BTreeMap::new();
    for (id, values) in results {
        let parsed = id
            .strip_prefix('b')
            .and_then(|r| r.split_once('m'))
            .and_then(|(b, m)| Some((b.parse::<usize>().ok()?, m.parse::<usize>().ok()?)))
            .filter(|(b, m)| *b < cfg.buckets.len() && *m < SOURCE_METRICS.len());
        let Some(idx) = parsed else {
            problems.push(format!("GetMetricData returned an unknown query id {id:?}"));
            continue;
        };
        for &(ts, v) in values {
            let Some(day) = chrono::DateTime::from_timestamp(ts, 0).map(|d| d.date_naive()) else {
                continue;
            };
            *points.entry(idx).or_default().entry(day).or_default() += v;
        }
    }
    for ((b, m), points) in points {
        let key = SeriesKey::new(
            SOURCE_METRICS[m].1,
            vec![(DIM_SOURCE, SOURCE_GUARDDUTY.to_string()), (DIM_BUCKET, cfg.buckets[b].name.clone())],
        );
        let Some(start) = points.keys().next().copied() else { continue };
        let mut d = Daily::new(key, start);
        for (day, v) in points {
            d.set(day, v);
        }
        series.push(d);
    }
    (series, problems)
}

pub async fn collect(
    client: &aws_sdk_cloudwatch::Client,
    cfg: &GuardDuty,
    today: NaiveDate,
    concurrency: usize,
) -> Result<SourceOutput, Error> {
    let start = midnight(today - chrono::Days::new(u64::from(cfg.history_days)));
    let end = midnight(today);
    let results = metric_data::read(client, queries(cfg), (start, end), None, concurrency).await.map_err(Error)?;
    let (daily, problems) = to_series(cfg, &results);
    Ok(SourceOutput { daily, problems, ..SourceOutput::default() })
}

/// Whether CloudWatch lists GuardDuty's metrics for each configured bucket of the plan.
async fn probe(cfg: Option<&GuardDuty>, metrics: &aws_sdk_cloudwatch::Client) -> Vec<Probe> {
    let Some(cfg) = cfg else { return Vec::new() };
    let name = "guardduty metrics";
    let plan = aws_sdk_cloudwatch::types::DimensionFilter::builder()
        .name("Malware Protection Plan Id")
        .value(&cfg.plan_id)
        .build();
    let mut pages = metrics
        .list_metrics()
        .namespace(NAMESPACE)
        .metric_name("CompletedScanBytes")
        .dimensions(plan)
        .into_paginator()
        .send();
    let mut seen = BTreeSet::new();
    while let Some(page) = pages.next().await {
        match page {
            Ok(p) => seen.extend(
                p.metrics()
                    .iter()
                    .flat_map(|m| m.dimensions())
                    .filter(|d| d.name() == Some("Resource Name"))
                    .map(|d| d.value().unwrap_or_default().to_string()),
            ),
            Err(e) => {
                let fix = "the credentials reading GuardDuty's metrics (base, or [guardduty.role]) need cloudwatch:ListMetrics and cloudwatch:GetMetricData";
                return vec![fail(name, format!("ListMetrics: {}", aws_message(&e)), fix)];
            }
        }
    }
    let missing: Vec<&str> = cfg.buckets.iter().map(|b| b.name.as_str()).filter(|b| !seen.contains(*b)).collect();
    let found = cfg.buckets.len() - missing.len();
    let detail = format!("plan {}: metrics for {found} of {} buckets", cfg.plan_id, cfg.buckets.len());
    let why = "GuardDuty writes a bucket's metrics after its first scan, and CloudWatch lists them for two weeks";
    match (found, missing.is_empty()) {
        (_, true) => vec![ok(name, detail)],
        (0, _) => vec![fail(
            name,
            detail,
            format!(
                "check guardduty.plan_id (aws guardduty list-malware-protection-plans) and collector.region; {why}"
            ),
        )],
        _ => vec![warn(
            name,
            format!("{detail}; none for {}", missing.join(", ")),
            format!("is each bucket in the plan? {why}"),
        )],
    }
}

/// The source: GuardDuty's per-bucket metrics of one malware protection plan.
pub struct GuardDutyMetrics;

impl Source for GuardDutyMetrics {
    fn id(&self) -> SourceId {
        SourceId::GuardDuty
    }

    fn read<'a>(&'a self, ctx: &'a Context<'a>) -> BoxFuture<'a, Result<SourceOutput, String>> {
        Box::pin(async move {
            let c = ctx.config.guardduty.as_ref().expect("an enabled source is configured");
            let conc = ctx.config.collector.concurrency;
            collect(&ctx.clients.guardduty_metrics, c, ctx.today, conc).await.map_err(|e| e.to_string())
        })
    }

    fn probe<'a>(&'a self, ctx: &'a Context<'a>) -> BoxFuture<'a, Probed> {
        let cfg = ctx.config.guardduty.as_ref().filter(|g| g.enabled);
        Box::pin(async move { probe(cfg, &ctx.clients.guardduty_metrics).await.into() })
    }

    fn wrote(&self, _metric: &str, source: Option<&str>) -> bool {
        source == Some(SOURCE_GUARDDUTY)
    }

    /// Object counts unless `guardduty.object_counts = false`.
    fn publishes(&self, cfg: &crate::config::Config, key: &SeriesKey) -> bool {
        key.metric != Metric::ScannedObjects || cfg.guardduty.as_ref().is_none_or(|g| g.object_counts)
    }

    fn configures(&self, cfg: &crate::config::Config, key: &SeriesKey) -> bool {
        key.dim(DIM_BUCKET).is_some_and(|b| crate::sources::listed_bucket(cfg, b))
    }

    fn rules(&self, cfg: &crate::config::Config, keys: &[&SeriesKey]) -> Vec<crate::rules::SeriesRules> {
        crate::sources::bucket_rules(cfg, keys, cfg.guardduty.as_ref().map(|g| &g.buckets))
    }

    fn listed(&self, cfg: &crate::config::Config) -> Vec<SeriesKey> {
        crate::sources::listed_buckets(SOURCE_GUARDDUTY, cfg.guardduty.as_ref().map(|g| &g.buckets))
    }

    fn panels(&self, _cfg: &crate::config::Config) -> Vec<crate::sources::Panel> {
        crate::sources::bucket_panels()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Bucket;

    #[test]
    fn query_ids_map_back_to_buckets_and_days() {
        let cfg = GuardDuty {
            schedule: None,
            enabled: true,
            plan_id: "plan-1".into(),
            history_days: 7,
            object_counts: true,
            role: None,
            buckets: vec![
                Bucket { name: "alpha".into(), owner: None, plan: None, anomaly_drops: None, snooze: None },
                Bucket { name: "beta".into(), owner: None, plan: None, anomaly_drops: None, snooze: None },
            ],
        };
        let q = queries(&cfg);
        let ids: Vec<_> = q.iter().map(|q| q.id().unwrap().to_string()).collect();
        assert_eq!(ids, vec!["b0m0", "b0m1", "b1m0", "b1m1"]);
        let day0 = 1_763_942_400; // 2025-11-24T00:00:00Z
        let (series, problems) = to_series(&cfg, &[("b1m0".into(), vec![(day0, 5e9)]), ("zz".into(), vec![])]);
        assert_eq!(problems, vec!["GetMetricData returned an unknown query id \"zz\""]);
        assert_eq!(series.len(), 1);
        assert_eq!(series[0].key.to_string(), "ScannedBytes{Bucket=beta,Source=guardduty}");
        assert_eq!(series[0].points().collect::<Vec<_>>(), vec![("2025-11-24".parse().unwrap(), 5e9)]);
    }
}
