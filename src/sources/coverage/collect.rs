//! What `coverage` reads: the buckets (S3 ListBuckets, then each bucket's location and tags),
//! the Console's bucket-protection settings, GuardDuty's plans, and the volumes costwarden has
//! written. Progress goes to `progress` as the reads proceed (hundreds of buckets take a while).

use aws_sdk_cloudwatch::types::{Dimension, Metric as CwMetric, MetricDataQuery, MetricStat};
use chrono::NaiveDate;
use serde_json::Value;

use super::{Engine, Inputs, Protection, S3Bucket, UNKNOWN_REGION};
use crate::config::Config;
use crate::config::ProtectionApi;
use crate::metrics::{Metric, DIM_BUCKET, DIM_SOURCE, SOURCE_CONSOLE, SOURCE_GUARDDUTY};
use crate::sources::antivirus::{ConsoleClient, ConsoleIfEnabled};
use crate::wire::metric_data::midnight;
use crate::wire::Clients;
use crate::wire::{aws_message, bounded};

/// What to read besides the buckets and their scan settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Volumes {
    /// The window's volumes from costwarden's metrics (GetMetricData: 2 metrics a bucket).
    Read,
    /// Not needed (the run's coverage rule judges only whether a bucket is scanned).
    Skip,
}

/// Everything `rows` needs; `Err` when the buckets themselves cannot be listed. `console`:
/// the Console client when `[antivirus]` is enabled.
pub async fn collect(
    cfg: &Config,
    clients: &Clients,
    console: ConsoleIfEnabled<'_>,
    today: NaiveDate,
    wanted: Volumes,
    progress: &(dyn Fn(String) + Sync),
) -> Result<Inputs, String> {
    let conc = cfg.collector.concurrency;
    let mut inputs = Inputs { account: account(&clients.identities).await, ..Inputs::default() };
    inputs.buckets = buckets(&clients.s3, conc, progress, &mut inputs.warnings).await?;
    if let Some(client) = console {
        self::console(&cfg.coverage.console_api, client, &mut inputs, progress).await;
    }
    if cfg.guardduty.is_some() {
        match plans(&clients.guardduty, conc).await {
            Ok(found) => {
                progress(format!("GuardDuty: {} malware protection plans", found.len()));
                inputs.protections.extend(found);
            }
            Err(e) => inputs.partly_read(e),
        }
    }
    if wanted == Volumes::Read {
        let (ns, days) = (&cfg.collector.namespace, cfg.coverage.history_days);
        match volumes(&clients.cloudwatch, ns, days, conc, today, &inputs).await {
            Ok(v) => inputs.volumes = v,
            Err(e) => inputs.warnings.push(format!("scanned volumes not read: {e}")),
        }
    }
    Ok(inputs)
}

/// The account of the S3 credentials ([coverage.role], else the base ones).
async fn account(ids: &[(String, aws_sdk_sts::Client)]) -> String {
    let sts = ids.iter().find(|(w, _)| w == "coverage.role").or_else(|| ids.first()).map(|(_, c)| c);
    match sts {
        Some(c) => c.get_caller_identity().send().await.ok().and_then(|o| o.account).unwrap_or_else(|| "?".into()),
        None => "?".into(),
    }
}

async fn buckets(
    s3: &aws_sdk_s3::Client,
    concurrency: usize,
    progress: &(dyn Fn(String) + Sync),
    warnings: &mut Vec<String>,
) -> Result<Vec<S3Bucket>, String> {
    let mut names = Vec::new();
    let mut pages = s3.list_buckets().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| format!("S3 ListBuckets: {}", aws_message(&e)))?;
        names.extend(page.buckets().iter().filter_map(|b| b.name().map(str::to_string)));
        progress(format!("S3: {} buckets listed", names.len()));
    }
    let total = names.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let out = bounded(names, concurrency, |name| {
        let done = &done;
        async move {
            let b = bucket(s3, name).await;
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            if n.is_multiple_of(100) || n == total {
                progress(format!("S3: location and tags of {n} of {total} buckets"));
            }
            b
        }
    })
    .await;
    let (out, located): (Vec<S3Bucket>, Vec<Option<String>>) = out.into_iter().unzip();
    warnings.extend(located.into_iter().flatten());
    warnings.extend(out.iter().filter_map(|b| b.tags.as_ref().err().map(|e| format!("bucket {}: tags: {e}", b.name))));
    Ok(out)
}

/// The bucket, and a warning when its location could not be read: its region is then "?" and
/// its tags are asked of the client's region.
async fn bucket(s3: &aws_sdk_s3::Client, name: String) -> (S3Bucket, Option<String>) {
    let (region, warning) = match s3.get_bucket_location().bucket(&name).send().await {
        // No constraint is us-east-1; "EU" is the old name of eu-west-1.
        Ok(o) => match o.location_constraint().map(|c| c.as_str()) {
            None | Some("") => ("us-east-1".to_string(), None),
            Some("EU") => ("eu-west-1".to_string(), None),
            Some(r) => (r.to_string(), None),
        },
        Err(e) => {
            let why = format!("bucket {name}: location: {}; region shown as {UNKNOWN_REGION}", aws_message(&e));
            (UNKNOWN_REGION.to_string(), Some(why))
        }
    };
    // Tags are read in the bucket's own region (another answers with a redirect).
    let mut req = s3.get_bucket_tagging().bucket(&name).customize();
    if region != UNKNOWN_REGION {
        let over = aws_sdk_s3::config::Builder::new().region(aws_sdk_s3::config::Region::new(region.clone()));
        req = req.config_override(over);
    }
    let tags = match req.send().await {
        Ok(o) => Ok(o.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect()),
        Err(e) if e.as_service_error().and_then(|s| s.meta().code()) == Some("NoSuchTagSet") => Ok(Vec::new()),
        Err(e) => Err(aws_message(&e)),
    };
    (S3Bucket { name, region, tags }, warning)
}

/// Every page of the Console's bucket settings. Whatever keeps the list from being whole (a
/// page that failed, a page without its list) makes it `partly_read`; an item not read puts
/// the bucket it names in `unknown_buckets`: a bucket the list may have missed is then
/// "unknown", never "unscanned".
async fn console(
    api: &ProtectionApi,
    client: Result<&ConsoleClient, String>,
    inputs: &mut Inputs,
    progress: &(dyn Fn(String) + Sync),
) {
    let client = match client {
        Ok(c) => c,
        Err(e) => return inputs.partly_read(e),
    };
    let (pages, stopped) = client.protection_pages(api).await;
    let mut found = 0;
    for (n, page) in pages.iter().enumerate() {
        let read = protections(page, api, n + 1);
        found += read.found.len();
        inputs.protections.extend(read.found);
        inputs.problems.extend(read.problems);
        inputs.unknown_buckets.extend(read.unknown);
        if let Some(why) = read.no_list {
            inputs.partly_read(why);
        }
    }
    progress(format!("Console: {found} bucket settings in {} page(s)", pages.len()));
    if let Some(e) = stopped {
        inputs.partly_read(e.to_string());
    }
}

/// What one page of the Console's bucket settings holds.
#[derive(Debug, Default)]
pub struct ProtectionPage {
    pub found: Vec<Protection>,
    /// Items skipped, located.
    pub problems: Vec<String>,
    /// Buckets named by an item that could not be read: their protection is unknown.
    pub unknown: Vec<String>,
    /// The page has no list where configured: the whole list is incomplete.
    pub no_list: Option<String>,
}

/// One page of the Console's bucket settings (pure): a malformed item is located and skipped.
pub fn protections(page: &Value, api: &ProtectionApi, page_no: usize) -> ProtectionPage {
    let mut out = ProtectionPage::default();
    let Some(items) = page.pointer(&api.items_pointer).and_then(Value::as_array) else {
        out.no_list = Some(format!(
            "Console bucket settings page {page_no}: no list at {:?} (coverage.console_api.items_pointer)",
            api.items_pointer
        ));
        return out;
    };
    for (i, item) in items.iter().enumerate() {
        match protection(item, api) {
            Ok(p) => out.found.push(p),
            Err(why) => {
                out.problems.push(format!("Console bucket settings page {page_no} item {i}: {why}; skipped"));
                let name = item.get(&api.bucket_field).and_then(Value::as_str);
                out.unknown.extend(name.filter(|n| crate::model::possible_bucket_name(n)).map(str::to_string));
            }
        }
    }
    out
}

fn protection(item: &Value, api: &ProtectionApi) -> Result<Protection, String> {
    let bucket = item.get(&api.bucket_field).and_then(Value::as_str).filter(|b| !b.is_empty());
    let bucket = bucket.ok_or_else(|| format!("no {:?} string", api.bucket_field))?;
    if !crate::model::possible_bucket_name(bucket) {
        return Err(format!("bucket {} is not an S3 bucket name", crate::text::quoted(bucket, 64)));
    }
    let enabled = item
        .get(&api.enabled_field)
        .and_then(Value::as_bool)
        .ok_or_else(|| format!("bucket {bucket:?}: {:?} is not true or false", api.enabled_field))?;
    let paths = |field: &str| -> Result<Vec<String>, String> {
        match item.get(field) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(a)) => a
                .iter()
                .map(|p| {
                    p.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| format!("bucket {bucket:?}: {field:?} holds a non-string"))
                })
                .collect(),
            Some(_) => Err(format!("bucket {bucket:?}: {field:?} is not a list of paths")),
        }
    };
    Ok(Protection {
        bucket: bucket.to_string(),
        engine: Engine::Console,
        enabled,
        scanned_paths: paths(&api.scanned_paths_field)?,
        skipped_paths: paths(&api.skipped_paths_field)?,
        mode: item.get(&api.scan_mode_field).and_then(Value::as_str).map(str::to_string),
    })
}

/// ListMalwareProtectionPlans, then GetMalwareProtectionPlan for each: its bucket and prefixes.
async fn plans(gd: &aws_sdk_guardduty::Client, concurrency: usize) -> Result<Vec<Protection>, String> {
    let mut ids = Vec::new();
    let mut token: Option<String> = None;
    // No paginator in the SDK for this operation: NextToken by hand, bounded like every pager.
    for _ in 0..1_000 {
        let page = gd.list_malware_protection_plans().set_next_token(token.take()).send().await;
        let page = page.map_err(|e| format!("GuardDuty ListMalwareProtectionPlans: {}", aws_message(&e)))?;
        ids.extend(
            page.malware_protection_plans().iter().filter_map(|p| p.malware_protection_plan_id().map(str::to_string)),
        );
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    let got = bounded(ids, concurrency, |id| async move {
        let out = gd.get_malware_protection_plan().malware_protection_plan_id(&id).send().await;
        out.map_err(|e| format!("GuardDuty GetMalwareProtectionPlan {id}: {}", aws_message(&e)))
    })
    .await;
    let mut found = Vec::new();
    for plan in got {
        let plan = plan?;
        let Some(s3) = plan.protected_resource().and_then(|r| r.s3_bucket()) else { continue };
        let Some(bucket) = s3.bucket_name() else { continue };
        found.push(Protection {
            bucket: bucket.to_string(),
            engine: Engine::GuardDuty,
            // WARNING still scans; ERROR does not.
            enabled: plan.status().is_none_or(|s| s.as_str() != "ERROR"),
            scanned_paths: s3.object_prefixes().to_vec(),
            skipped_paths: Vec::new(),
            mode: Some("on upload".into()),
        });
    }
    Ok(found)
}

/// The window's ScannedBytes and ScannedObjects per protected bucket, from costwarden's own
/// metrics: the daily Maximum (a day written twice counts once), summed.
async fn volumes(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    ns: &str,
    history_days: u32,
    concurrency: usize,
    today: NaiveDate,
    inputs: &Inputs,
) -> Result<std::collections::BTreeMap<(Engine, String), (f64, Option<f64>)>, String> {
    let keys: std::collections::BTreeSet<(Engine, String)> =
        inputs.protections.iter().filter(|p| p.enabled).map(|p| (p.engine, p.bucket.clone())).collect();
    let keys: Vec<(Engine, String)> = keys.into_iter().collect();
    let mut queries = Vec::with_capacity(keys.len() * 2);
    for (i, (engine, bucket)) in keys.iter().enumerate() {
        let source = match engine {
            Engine::Console => SOURCE_CONSOLE,
            Engine::GuardDuty => SOURCE_GUARDDUTY,
        };
        for (m, metric) in [Metric::ScannedBytes, Metric::ScannedObjects].into_iter().enumerate() {
            let dims = [(DIM_BUCKET, bucket.as_str()), (DIM_SOURCE, source)]
                .map(|(k, v)| Dimension::builder().name(k).value(v).build());
            let metric = CwMetric::builder()
                .namespace(ns)
                .metric_name(metric.def().name)
                .set_dimensions(Some(dims.to_vec()))
                .build();
            queries.push(
                MetricDataQuery::builder()
                    .id(format!("v{i}m{m}"))
                    .metric_stat(MetricStat::builder().metric(metric).period(86_400).stat("Maximum").build())
                    .build(),
            );
        }
    }
    // A daily datum is stamped when it was collected (the day after the day it holds): the
    // window's days are those stamped from `days - 1` days ago through today.
    let days = u64::from(history_days.max(1));
    let window = (midnight(today - chrono::Days::new(days - 1)), midnight(today + chrono::Days::new(1)));
    let results = crate::wire::metric_data::read(cloudwatch, queries, window, None, concurrency).await?;
    let mut out = std::collections::BTreeMap::new();
    for (id, values) in results {
        let Some((i, m)) = id.strip_prefix('v').and_then(|r| r.split_once('m')) else { continue };
        let (Ok(i), Ok(m)) = (i.parse::<usize>(), m.parse::<usize>()) else { continue };
        let Some(key) = keys.get(i) else { continue };
        if values.is_empty() {
            continue;
        }
        let sum: f64 = values.iter().map(|(_, v)| v).sum();
        let slot: &mut (f64, Option<f64>) = out.entry(key.clone()).or_insert((0.0, None));
        match m {
            0 => slot.0 += sum,
            _ => slot.1 = Some(slot.1.unwrap_or(0.0) + sum),
        }
    }
    Ok(out)
}
