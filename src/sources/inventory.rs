//! S3 Inventory, read for `costwarden efficiency`: per configured inventory, the latest
//! delivery's `manifest.json` and its gzip CSV data files from the destination bucket, each
//! streamed through the aggregation (`crate::inventory`), never whole in memory. Not a source
//! of the run yet: it writes no metric (see ARCHITECTURE.md, "Adding a source").

use aws_sdk_s3::Client;
use tokio::io::AsyncReadExt;

use crate::config::InventoryBucket;
use crate::inventory::{manifest::MAX_MANIFEST_BYTES, Aggregator, Manifest, Options, Summary};

/// Listing pages of delivery folders read at most (1,000 a page: years of daily reports).
const MAX_LIST_PAGES: usize = 20;
/// Data files of one delivery read at most (S3 writes one per few million objects).
const MAX_FILES: usize = 10_000;

/// The bytes costwarden recorded as scanned for each of `buckets` on the days from `since` to
/// yesterday (its own daily ScannedBytes, both engines summed), for the share an inventory
/// explains. A bucket with no record is absent. One GetMetricData metric per bucket and engine.
pub async fn recorded(
    cw: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    buckets: &[&str],
    since: chrono::NaiveDate,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<std::collections::BTreeMap<String, f64>, String> {
    use crate::metrics::{Metric, DIM_BUCKET, DIM_SOURCE, SOURCE_CONSOLE, SOURCE_GUARDDUTY};
    use crate::wire::metric_data;
    let pairs: Vec<(&str, &str)> =
        buckets.iter().flat_map(|b| [(SOURCE_CONSOLE, *b), (SOURCE_GUARDDUTY, *b)]).collect();
    let name = Metric::ScannedBytes.def().name;
    let queries = pairs
        .iter()
        .enumerate()
        .map(|(i, (source, b))| {
            metric_data::own_series_by(
                i,
                namespace,
                name,
                [(DIM_SOURCE, *source), (DIM_BUCKET, *b)],
                (86_400, "Maximum"),
            )
        })
        .collect();
    // A day's total is stamped the day after it (`Sample::daily`).
    let window = (
        metric_data::midnight(since + chrono::Days::new(1)),
        aws_smithy_types::DateTime::from_secs(now.timestamp() + 60),
    );
    let results = metric_data::read(cw, queries, window, None, 4).await?;
    let mut out = std::collections::BTreeMap::new();
    for (id, values) in results {
        let Some((_, bucket)) = metric_data::own_series_index(&id).and_then(|i| pairs.get(i)) else { continue };
        for (t, v) in values {
            let day = chrono::DateTime::from_timestamp(t, 0).map(|at| crate::model::day_before(at.date_naive()));
            if day.is_some_and(|d| d >= since && d < now.date_naive()) {
                *out.entry(bucket.to_string()).or_insert(0.0) += v;
            }
        }
    }
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
}

/// The latest delivery of `b`, read and aggregated; an error says where it stopped.
pub async fn read(s3: &Client, b: &InventoryBucket, opts: Options) -> Result<Read, String> {
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
        let (name, s) = (file.key.clone(), schema.clone());
        agg = tokio::task::spawn_blocking(move || {
            crate::inventory::read_csv_gz(body, &s, &name, &mut agg);
            agg
        })
        .await
        .map_err(|e| format!("reading {}: {e}", file.key))?;
    }
    if manifest.files.len() > MAX_FILES {
        agg.malformed(format!("manifest.json lists {} files: the first {MAX_FILES} read", manifest.files.len()));
    }
    Ok(Read { delivery, summary: agg.finish(), files, gz_bytes })
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
