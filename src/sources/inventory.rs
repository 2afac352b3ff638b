//! S3 Inventory, read for `costwarden efficiency`: per configured inventory, the latest
//! delivery's `manifest.json` and its gzip CSV data files from the destination bucket, each
//! streamed through the aggregation (`crate::inventory`), never whole in memory; or, for a
//! delivery larger than `[inventory.athena] above_mb` or written as ORC/Parquet, the same
//! aggregation as one Athena query, its price said first and capped. With `[inventory]
//! publish` it is also a source of the run, read every `every_days` days: per bucket the
//! window's bytes and the duplicate bytes (`InventoryBytes`, `DuplicateBytes`).

use aws_sdk_s3::Client;
use futures::future::BoxFuture;
use tokio::io::AsyncReadExt;

use crate::metrics::{Metric, DIM_BUCKET};
use crate::model::{Sample, SeriesKey};
use crate::sources::probe::{fail, ok};
use crate::sources::{Context, Probed, Source, SourceId, SourceOutput};

use crate::config::InventoryBucket;
use crate::inventory::athena::{self as sql, Table};
use crate::inventory::{manifest::MAX_MANIFEST_BYTES, Aggregator, Manifest, Options, Summary};

/// Listing pages of delivery folders read at most (1,000 a page: years of daily reports).
const MAX_LIST_PAGES: usize = 20;
/// Data files of one delivery read at most (S3 writes one per few million objects).
const MAX_FILES: usize = 10_000;

/// The source: every configured inventory's latest delivery, every `every_days` days.
pub struct Inventories;

/// Inventories probed at most by `check` (a ListObjectsV2 each).
const MAX_PROBES: usize = 20;

impl Source for Inventories {
    fn id(&self) -> SourceId {
        SourceId::Inventory
    }

    fn read<'a>(&'a self, ctx: &'a Context<'a>) -> BoxFuture<'a, Result<SourceOutput, String>> {
        Box::pin(async move {
            let inv = &ctx.config.inventory;
            let opts = inv.options(ctx.today.and_hms_opt(0, 0, 0).expect("midnight").and_utc());
            let say = |line: String| tracing::info!(source = "inventory", "{}", crate::text::terminal(&line));
            let (mut out, mut failed) = (SourceOutput::default(), Vec::new());
            let c = ctx.clients;
            for b in &inv.buckets {
                match read(&c.inventory_s3, &c.athena, inv.athena.as_ref(), b, opts, &say).await {
                    Ok(r) => {
                        out.billed_usd += r.athena.as_ref().map_or(0.0, |a| a.usd);
                        let [bytes, duplicates] = series(&b.bucket);
                        out.gauges.push(Sample::gauge(bytes, r.summary.bytes as f64));
                        out.gauges.push(Sample::gauge(duplicates, r.summary.duplicate_bytes as f64));
                        // The aggregation's own are bounded (20 and a count).
                        out.problems
                            .extend(r.summary.problems.iter().map(|p| format!("inventory of {}: {p}", b.bucket)));
                    }
                    Err(e) => failed.push(format!("inventory of {}: {e}", b.bucket)),
                }
            }
            if out.gauges.is_empty() {
                return Err(failed.join("; "));
            }
            out.problems.extend(failed);
            Ok(out)
        })
    }

    fn probe<'a>(&'a self, ctx: &'a Context<'a>) -> BoxFuture<'a, Probed> {
        Box::pin(async move {
            // `efficiency` reads them too, published or not.
            let inv = &ctx.config.inventory;
            let mut probes = Vec::new();
            for b in inv.buckets.iter().take(MAX_PROBES) {
                let base = b.base();
                let name = format!("inventory {}", b.bucket);
                let s3 = &ctx.clients.inventory_s3;
                probes.push(match latest_delivery(s3, b, &base).await {
                    Ok(d) => ok(name, format!("s3://{}/{base}: latest delivery {d}", b.destination)),
                    Err(e) => fail(
                        name,
                        e,
                        "the credentials of [inventory] (base, or [inventory.role]) need s3:ListBucket and s3:GetObject on the destination bucket",
                    ),
                });
            }
            if let (Some(a), false) = (&inv.athena, inv.buckets.is_empty()) {
                probes.push(athena_probe(&ctx.clients.athena, a).await);
            }
            probes.into()
        })
    }

    fn wrote(&self, metric: &str, _source: Option<&str>) -> bool {
        [Metric::InventoryBytes, Metric::DuplicateBytes].iter().any(|m| m.def().name == metric)
    }

    fn configures(&self, cfg: &crate::config::Config, key: &SeriesKey) -> bool {
        key.dim(DIM_BUCKET).is_some_and(|b| cfg.inventory.buckets.iter().any(|i| i.bucket == b))
    }

    fn panels(&self, _cfg: &crate::config::Config) -> Vec<crate::sources::Panel> {
        use crate::sources::panel::{Agg, Chart, Line, Panel};
        let gb = |m, alias| Line { per: Some(1_000_000_000), ..Line::new(Agg::Max, m, &[DIM_BUCKET], alias) };
        vec![Panel::new(
            "S3 Inventory: GB of the window and duplicate GB per bucket",
            Chart::Bars,
            vec![gb(Metric::InventoryBytes, "GB in the window"), gb(Metric::DuplicateBytes, "duplicate GB")],
        )]
    }
}

/// The series published for `bucket`'s inventory: its window's bytes and its duplicate bytes.
pub fn series(bucket: &str) -> [SeriesKey; 2] {
    let key = |m| SeriesKey::new(m, vec![(DIM_BUCKET, bucket.to_string())]);
    [key(Metric::InventoryBytes), key(Metric::DuplicateBytes)]
}

/// With `[inventory.athena]`: its workgroup exists and is enabled (GetWorkGroup); the rest of
/// what a query needs is said in the fix, since probing it would run one.
async fn athena_probe(client: &aws_sdk_athena::Client, a: &crate::config::Athena) -> crate::sources::Probe {
    use aws_sdk_athena::types::WorkGroupState;
    let name = "inventory athena";
    let needs = "the credentials of [inventory] need athena:GetWorkGroup, StartQueryExecution, GetQueryExecution, GetQueryResults and StopQueryExecution, glue:GetDatabase, CreateDatabase, GetTable and CreateTable, read on the destination bucket and write on inventory.athena.output";
    match client.get_work_group().work_group(&a.workgroup).send().await {
        Ok(o) => match o.work_group() {
            Some(wg) if wg.state() == Some(&WorkGroupState::Enabled) => {
                let cap = wg
                    .configuration()
                    .and_then(|c| c.bytes_scanned_cutoff_per_query())
                    .map(|b| format!("; its own cap {:.3} GB a query", b as f64 / 1e9))
                    .unwrap_or_default();
                ok(name, format!("workgroup {}: enabled{cap}; results to {}; at most USD {:.2} a query (inventory.athena.max_usd)", a.workgroup, crate::text::terminal(&a.output), a.max_usd))
            }
            Some(_) => fail(
                name,
                format!("workgroup {} is disabled", a.workgroup),
                "enable it, or set inventory.athena.workgroup",
            ),
            None => fail(
                name,
                format!("workgroup {} not found", a.workgroup),
                "set inventory.athena.workgroup to an existing one (\"primary\" exists in every account)",
            ),
        },
        Err(e) => fail(name, format!("GetWorkGroup {}: {}", a.workgroup, crate::wire::aws_message(&e)), needs),
    }
}

/// What costwarden recorded on the window's days, for the share an inventory explains and the
/// Console's price: each bucket's scanned bytes (its own daily ScannedBytes, both engines
/// summed; a bucket with no record is absent) and each cost value's mean cost per GB scanned
/// (CostPerScannedGB; `values`: the tag key and the values). One GetMetricData request.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    pub bytes: std::collections::BTreeMap<String, f64>,
    /// The days with a record, per bucket: a comparison over fewer than the window's is partial.
    pub days: std::collections::BTreeMap<String, usize>,
    pub usd_per_gb: std::collections::BTreeMap<String, f64>,
}

pub async fn recorded(
    cw: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    buckets: &[&str],
    values: Option<(&str, Vec<&str>)>,
    since: chrono::NaiveDate,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Recorded, String> {
    use crate::metrics::{DIM_SOURCE, DIM_TAG_KEY, DIM_TAG_VALUE, SOURCE_CONSOLE, SOURCE_GUARDDUTY};
    use crate::wire::metric_data;
    let pairs: Vec<(&str, &str)> =
        buckets.iter().flat_map(|b| [(SOURCE_CONSOLE, *b), (SOURCE_GUARDDUTY, *b)]).collect();
    let (tag_key, tag_values) = values.unwrap_or_default();
    let daily = (86_400, "Maximum");
    let mut queries: Vec<_> = pairs
        .iter()
        .enumerate()
        .map(|(i, (source, b))| {
            let dims = [(DIM_SOURCE, *source), (DIM_BUCKET, *b)];
            metric_data::own_series_by(i, namespace, Metric::ScannedBytes.def().name, dims, daily)
        })
        .collect();
    queries.extend(tag_values.iter().enumerate().map(|(i, v)| {
        let dims = [(DIM_TAG_KEY, tag_key), (DIM_TAG_VALUE, *v)];
        metric_data::own_series_by(pairs.len() + i, namespace, Metric::CostPerScannedGb.def().name, dims, daily)
    }));
    // A day's total is stamped the day after it (`Sample::daily`), when it is written: whole
    // days to the next midnight, so today's period is complete (moto returns no partial one).
    let window = (
        metric_data::midnight(since + chrono::Days::new(1)),
        metric_data::midnight(now.date_naive() + chrono::Days::new(1)),
    );
    let results = metric_data::read(cw, queries, window, None, 4).await?;
    let mut out = Recorded::default();
    let mut days: std::collections::BTreeMap<String, std::collections::BTreeSet<i64>> = Default::default();
    for (id, points) in results {
        let Some(i) = metric_data::own_series_index(&id) else { continue };
        let in_window = |t: i64| {
            let day = chrono::DateTime::from_timestamp(t, 0).map(|at| crate::model::day_before(at.date_naive()));
            day.is_some_and(|d| d >= since && d < now.date_naive())
        };
        let kept: Vec<(i64, f64)> = points.into_iter().filter(|(t, _)| in_window(*t)).collect();
        let values = || kept.iter().map(|(_, v)| *v);
        if let Some((_, bucket)) = pairs.get(i) {
            if !kept.is_empty() {
                *out.bytes.entry(bucket.to_string()).or_insert(0.0) += values().sum::<f64>();
                days.entry(bucket.to_string()).or_default().extend(kept.iter().map(|(t, _)| t / 86_400));
            }
        } else if let Some(v) = tag_values.get(i - pairs.len()).filter(|_| !kept.is_empty()) {
            out.usd_per_gb.insert(v.to_string(), values().sum::<f64>() / kept.len() as f64);
        }
    }
    out.days = days.into_iter().map(|(b, d)| (b, d.len())).collect();
    Ok(out)
}

/// One inventory read.
#[derive(Debug, Clone)]
pub struct Read {
    /// The delivery's folder, `2026-12-04T01-00Z`.
    pub delivery: String,
    pub summary: Summary,
    /// Data files read, and their compressed bytes (what S3 bills the GETs and transfer of).
    pub files: usize,
    pub gz_bytes: u64,
    /// When Athena read it instead.
    pub athena: Option<AthenaRun>,
}

/// One Athena query over an inventory.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AthenaRun {
    pub query_id: String,
    /// What the price cap was checked against: the delivery's data files, as the manifest says.
    pub estimated_bytes: u64,
    /// What Athena says it scanned (billed, at least 10 MB).
    pub scanned_bytes: u64,
    pub usd: f64,
}

/// The latest delivery of `b`, read and aggregated here or by Athena (`athena`, when
/// configured); an error says where it stopped. `say` is told what an Athena query will
/// scan and cost before it starts.
pub async fn read(
    s3: &Client,
    athena: &aws_sdk_athena::Client,
    settings: Option<&crate::config::Athena>,
    b: &InventoryBucket,
    opts: Options,
    say: &(dyn Fn(String) + Sync),
) -> Result<Read, String> {
    let base = b.base();
    let delivery = latest_delivery(s3, b, &base).await?;
    let manifest_key = format!("{base}{delivery}/manifest.json");
    let manifest = Manifest::parse(&get_small(s3, &b.destination, &manifest_key).await?)
        .map_err(|e| format!("s3://{}/{manifest_key}: {e}", b.destination))?;
    if manifest.source_bucket != b.bucket {
        return Err(format!(
            "s3://{}/{manifest_key} lists bucket {:?}, not {:?}",
            b.destination,
            crate::text::terminal(&manifest.source_bucket),
            b.bucket
        ));
    }
    let data_bytes: u64 = manifest.files.iter().map(|f| f.size).sum();
    let csv = manifest.file_format.eq_ignore_ascii_case("CSV");
    if let Some(a) = settings.filter(|a| !csv || data_bytes > a.above_mb.saturating_mul(1_000_000)) {
        let at = format!("s3://{}/{base}hive/", b.destination);
        let table = Table::new(&a.database, &b.bucket, &b.config_id, &manifest.file_format, &manifest.file_schema, at)
            .map_err(|e| format!("s3://{}/{manifest_key}: {e}", b.destination))?;
        let query = table.query(&delivery, opts.since, opts.depth);
        let run = by_athena(athena, a, &table, &query, data_bytes, &b.bucket, say).await?;
        return Ok(Read { delivery, summary: run.0, files: manifest.files.len(), gz_bytes: 0, athena: Some(run.1) });
    }
    let schema = manifest.schema().map_err(|e| format!("s3://{}/{manifest_key}: {e}", b.destination))?;
    let mut agg = Aggregator::new(opts);
    let (mut files, mut gz_bytes) = (0, 0);
    for file in manifest.files.iter().take(MAX_FILES) {
        // The manifest is data: it names files under this inventory's folder, or none is read.
        if !file.key.starts_with(&base) || file.key.contains("..") {
            agg.malformed(format!("manifest.json names {:?}, outside {base}: not read", file.key));
            continue;
        }
        let object = s3
            .get_object()
            .bucket(&b.destination)
            .key(&file.key)
            .send()
            .await
            .map_err(|e| format!("s3://{}/{}: {}", b.destination, file.key, crate::wire::aws_message(&e)))?;
        gz_bytes += object.content_length().unwrap_or(0).max(0) as u64;
        files += 1;
        let body = tokio_util::io::SyncIoBridge::new(object.body.into_async_read());
        let (name, s, md5) = (file.key.clone(), schema.clone(), file.md5.clone());
        agg = tokio::task::spawn_blocking(move || {
            let mut body = crate::inventory::Md5Read::new(body);
            crate::inventory::read_csv_gz(&mut body, &s, &name, &mut agg);
            if let Some(why) = body.differs(&md5) {
                agg.malformed(format!("{name}: {why}"));
            }
            agg
        })
        .await
        .map_err(|e| format!("reading {}: {e}", file.key))?;
    }
    if manifest.files.len() > MAX_FILES {
        agg.malformed(format!("manifest.json lists {} files: the first {MAX_FILES} read", manifest.files.len()));
    }
    Ok(Read { delivery, summary: agg.finish(), files, gz_bytes, athena: None })
}

/// Result pages read at most (1,000 rows each): the totals, then extensions and prefixes by
/// bytes, largest first, as many as the embedded path keeps.
const MAX_RESULT_PAGES: usize =
    (crate::inventory::aggregate::MAX_PREFIXES + crate::inventory::aggregate::MAX_EXTENSIONS) / 1000 + 2;

/// The aggregation as one Athena query: its price said first and refused over the cap, the
/// database and table created if absent, the query polled to its end (stopped past the
/// timeout), the rows read back.
async fn by_athena(
    client: &aws_sdk_athena::Client,
    a: &crate::config::Athena,
    table: &Table,
    query: &str,
    data_bytes: u64,
    bucket: &str,
    say: &(dyn Fn(String) + Sync),
) -> Result<(Summary, AthenaRun), String> {
    let usd = sql::price(data_bytes);
    say(format!(
        "{bucket}: Athena will scan about {:.3} GB of inventory files, USD {usd:.4} (inventory.athena.max_usd: USD {:.2})",
        data_bytes as f64 / 1e9,
        a.max_usd
    ));
    if usd > a.max_usd {
        return Err(format!(
            "the Athena query would scan {:.3} GB, USD {usd:.4}, over inventory.athena.max_usd (USD {:.2}): not started",
            data_bytes as f64 / 1e9,
            a.max_usd
        ));
    }
    run(client, a, &sql::create_database(&a.database)).await?;
    run(client, a, &table.create()).await?;
    let (id, scanned) = run(client, a, query).await?;
    let mut rows = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = client
            .get_query_results()
            .query_execution_id(&id)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| format!("Athena query {id}: {}", crate::wire::aws_message(&e)))?;
        for row in page.result_set().map(|r| r.rows()).unwrap_or_default() {
            rows.push(row.data().iter().map(|d| d.var_char_value().map(str::to_string)).collect());
        }
        pages += 1;
        token = page.next_token().map(str::to_string);
        if token.is_none() || pages == MAX_RESULT_PAGES {
            break;
        }
    }
    let mut summary = sql::summary(&rows).map_err(|e| format!("Athena query {id}: {e}"))?;
    if token.is_some() {
        summary
            .problems
            .push(format!("Athena query {id}: the smallest prefixes past {} result rows not read", rows.len()));
    }
    let billed = scanned.max(sql::MIN_SCAN_BYTES);
    let run = AthenaRun { query_id: id, estimated_bytes: data_bytes, scanned_bytes: scanned, usd: sql::price(billed) };
    Ok((summary, run))
}

/// One statement to its end: its id and the bytes it scanned, or why it failed.
async fn run(
    client: &aws_sdk_athena::Client,
    a: &crate::config::Athena,
    statement: &str,
) -> Result<(String, u64), String> {
    use aws_sdk_athena::types::{QueryExecutionState as State, ResultConfiguration};
    let started = client
        .start_query_execution()
        .query_string(statement)
        .work_group(&a.workgroup)
        .result_configuration(ResultConfiguration::builder().output_location(&a.output).build())
        .send()
        .await
        .map_err(|e| format!("Athena StartQueryExecution: {}", crate::wire::aws_message(&e)))?;
    // Athena's answer is data too: an id is a UUID, anything else is not put in a message.
    let id = started.query_execution_id().unwrap_or_default().to_string();
    if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(format!("Athena StartQueryExecution: no query id, or not one ({})", crate::text::quoted(&id, 40)));
    }
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(a.timeout_seconds);
    let mut wait = std::time::Duration::from_millis(200);
    loop {
        let got = client
            .get_query_execution()
            .query_execution_id(&id)
            .send()
            .await
            .map_err(|e| format!("Athena query {id}: {}", crate::wire::aws_message(&e)))?;
        let q = got.query_execution();
        let status = q.and_then(|q| q.status());
        let scanned = q.and_then(|q| q.statistics()).and_then(|s| s.data_scanned_in_bytes()).unwrap_or(0).max(0) as u64;
        match status.and_then(|s| s.state()) {
            Some(State::Succeeded) => return Ok((id, scanned)),
            Some(state @ (State::Failed | State::Cancelled)) => {
                let s = status.expect("a state has a status");
                let reason = s
                    .athena_error()
                    .and_then(|e| e.error_message())
                    .or(s.state_change_reason())
                    .unwrap_or("no reason given");
                return Err(format!("Athena query {id} {}: {}", state.as_str(), crate::text::terminal(reason)));
            }
            _ => {}
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            // Stopped, so a runaway query bills no further.
            let _ = client.stop_query_execution().query_execution_id(&id).send().await;
            return Err(format!(
                "Athena query {id} still running after {} s (inventory.athena.timeout_seconds): stopped",
                a.timeout_seconds
            ));
        }
        tokio::time::sleep(wait.min(left)).await;
        wait = (wait * 2).min(std::time::Duration::from_secs(5));
    }
}

/// The newest `YYYY-MM-DDTHH-MMZ/` folder under `base` (the `data/` and `hive/` folders aside).
async fn latest_delivery(s3: &Client, b: &InventoryBucket, base: &str) -> Result<String, String> {
    let mut latest: Option<String> = None;
    let mut token: Option<String> = None;
    for _ in 0..MAX_LIST_PAGES {
        let page = s3
            .list_objects_v2()
            .bucket(&b.destination)
            .prefix(base)
            .delimiter("/")
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|e| format!("s3://{}/{base}: {}", b.destination, crate::wire::aws_message(&e)))?;
        for p in page.common_prefixes() {
            let name = p.prefix().unwrap_or("").strip_prefix(base).unwrap_or("").trim_end_matches('/');
            if is_delivery(name) && latest.as_deref().is_none_or(|l| name > l) {
                latest = Some(name.to_string());
            }
        }
        token = page.next_continuation_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    latest.ok_or_else(|| {
        format!(
            "no inventory delivery under s3://{}/{base} (check prefix and config_id; S3 writes the first report within 48 hours)",
            b.destination
        )
    })
}

/// `2026-12-04T01-00Z`.
fn is_delivery(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() == 17
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 | 13 => *c == b'-',
            10 => *c == b'T',
            16 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// A small object (the manifest), refused when it is larger than a manifest can be.
async fn get_small(s3: &Client, bucket: &str, key: &str) -> Result<Vec<u8>, String> {
    let object = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| format!("s3://{bucket}/{key}: {}", crate::wire::aws_message(&e)))?;
    let mut out = Vec::new();
    let limit = MAX_MANIFEST_BYTES as u64 + 1;
    object
        .body
        .into_async_read()
        .take(limit)
        .read_to_end(&mut out)
        .await
        .map_err(|e| format!("s3://{bucket}/{key}: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_delivery_folder_is_a_date_and_time() {
        assert!(super::is_delivery("2026-12-04T01-00Z"));
        for not in ["data", "hive", "2026-12-04", "2026-12-04T01:00Z", "2026-12-04T01-00Z/x"] {
            assert!(!super::is_delivery(not), "{not}");
        }
    }
}
