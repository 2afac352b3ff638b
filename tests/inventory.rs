//! `costwarden efficiency` end to end: S3 Inventory deliveries written into moto's S3 the way S3
//! writes them (a dated folder with manifest.json, gzip CSV data files under data/, a hive/
//! folder), read back by the binary; the per-prefix bytes, duplicates and monthly savings
//! against hand-computed values, the latest delivery chosen, a manifest without Size located
//! while the other bucket is still reported.

mod support;

use std::io::Write;

use support::*;

const DEST: &str = "acme-inventory";

fn gz(rows: &[(String, u64, String, &str)]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for (key, size, modified, etag) in rows {
        writeln!(e, "\"acme-uploads\",\"{key}\",\"{size}\",\"{modified}\",\"{etag}\",\"STANDARD\"").unwrap();
    }
    e.finish().unwrap()
}

async fn put(s3: &aws_sdk_s3::Client, key: &str, body: Vec<u8>) {
    s3.put_object().bucket(DEST).key(key).body(body.into()).send().await.unwrap();
}

fn manifest(bucket: &str, schema: &str, files: &[&str]) -> Vec<u8> {
    let files: Vec<serde_json::Value> =
        files.iter().map(|k| serde_json::json!({"key": k, "size": 1, "MD5checksum": "x"})).collect();
    serde_json::to_vec(&serde_json::json!({
        "sourceBucket": bucket, "destinationBucket": format!("arn:aws:s3:::{DEST}"), "version": "2016-11-30",
        "creationTimestamp": "1733274000000", "fileFormat": "CSV", "fileSchema": schema, "files": files
    }))
    .unwrap()
}

const CONFIG: &str = r#"
[guardduty]
plan_id = "plan-1"
[[guardduty.buckets]]
name = "acme-uploads"
owner = "media"

[teams.media]

[inventory]
window_days = 30
[[inventory.buckets]]
bucket = "acme-uploads"
destination = "acme-inventory"
prefix = "inv"
config_id = "daily"
[[inventory.buckets]]
bucket = "acme-docs"
destination = "acme-inventory"
prefix = "inv"
config_id = "daily"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn efficiency_prices_prefixes_and_duplicates_from_the_latest_inventory() {
    let moto = Moto::start(&[]).await;
    let sdk = moto.sdk_config().await;
    let s3 = s3_client(&sdk);
    s3.create_bucket().bucket(DEST).send().await.unwrap();
    let recent = (chrono::Utc::now() - chrono::TimeDelta::days(3)).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let old = (chrono::Utc::now() - chrono::TimeDelta::days(45)).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let base = "inv/acme-uploads/daily";
    let rows = vec![
        ("users%2F101%2Favatars%2Fa.png".to_string(), 3_000_000_000, recent.clone(), "e1"),
        ("users%2F102%2Favatars%2Fb.png".to_string(), 1_000_000_000, recent.clone(), "e2"),
        // One content under three keys: 2 copies more, 2 x 0.5 GB scanned again.
        ("exports%2F2026-11-30%2Freport.pdf".to_string(), 500_000_000, recent.clone(), "dup"),
        ("exports%2F2026-12-01%2Freport.pdf".to_string(), 500_000_000, recent.clone(), "dup"),
        ("inbound%2Freport+copy.pdf".to_string(), 500_000_000, recent.clone(), "dup"),
        // Before the window.
        ("users%2F103%2Favatars%2Fc.png".to_string(), 9_000_000_000, old.clone(), "e3"),
    ];
    let mut data = gz(&rows);
    // A row S3 would not write: located, skipped.
    let mut bad = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    writeln!(bad, "\"acme-uploads\",\"tmp%2Fx\",\"lots\",\"{recent}\",\"e9\",\"STANDARD\"").unwrap();
    data.extend(bad.finish().unwrap());
    put(&s3, &format!("{base}/data/0001.csv.gz"), data).await;
    let schema = "Bucket, Key, Size, LastModifiedDate, ETag, StorageClass";
    put(
        &s3,
        &format!("{base}/2026-12-04T01-00Z/manifest.json"),
        manifest("acme-uploads", schema, &[&format!("{base}/data/0001.csv.gz")]),
    )
    .await;
    // An older delivery, naming a file that is not there: never read.
    put(
        &s3,
        &format!("{base}/2026-12-03T01-00Z/manifest.json"),
        manifest("acme-uploads", schema, &[&format!("{base}/data/gone.csv.gz")]),
    )
    .await;
    put(&s3, &format!("{base}/hive/dt=2026-12-04-01-00/symlink.txt"), b"x".to_vec()).await;
    // acme-docs' inventory lacks Size.
    put(
        &s3,
        "inv/acme-docs/daily/2026-12-04T01-00Z/manifest.json",
        manifest("acme-docs", "Bucket, Key, LastModifiedDate", &[]),
    )
    .await;

    // What costwarden recorded as scanned for acme-uploads: the 30 days of 0.22 GB (each
    // stamped the day after the day it totals), 6.6 GB, of which the inventory's 5.5 GB are 83%.
    let cw = aws_sdk_cloudwatch::Client::new(&sdk);
    for k in 0..30 {
        let at = days_ago(k).and_hms_opt(12, 0, 0).unwrap().and_utc().timestamp();
        let dim = |n: &str, v: &str| aws_sdk_cloudwatch::types::Dimension::builder().name(n).value(v).build();
        let datum = aws_sdk_cloudwatch::types::MetricDatum::builder()
            .metric_name("ScannedBytes")
            .dimensions(dim("Bucket", "acme-uploads"))
            .dimensions(dim("Source", "guardduty"))
            .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from_secs(at))
            .value(0.22e9)
            .unit(aws_sdk_cloudwatch::types::StandardUnit::Bytes)
            .build();
        cw.put_metric_data().namespace("Costwarden/Scanner").metric_data(datum).send().await.unwrap();
    }

    let cfg = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(cfg.path(), CONFIG).unwrap();
    let (path, url) = (cfg.path().to_str().unwrap().to_string(), moto.url.clone());
    let run = move |args: &[&str]| {
        costwarden_at(env!("CARGO_BIN_EXE_costwarden"), &url, path.as_ref()).args(args).output().unwrap()
    };
    let again = run.clone();
    let formats = run.clone();
    let workbooks = run.clone();
    let out = tokio::task::spawn_blocking(move || run(&["efficiency", "--json"])).await.unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // acme-docs was not read and acme-uploads had a malformed row.
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let up = &report[0];
    assert_eq!(up["bucket"], "acme-uploads");
    assert_eq!(up["engine"], "GuardDuty");
    assert_eq!(up["owner"], "media");
    assert_eq!(up["delivery"], "2026-12-04T01-00Z");
    let s = &up["summary"];
    assert_eq!(
        (s["objects"].as_u64(), s["bytes"].as_u64(), s["older"].as_u64()),
        (Some(5), Some(5_500_000_000), Some(1))
    );
    assert_eq!(s["malformed"], 1);
    assert!(
        s["problems"][0].as_str().unwrap().ends_with("data/0001.csv.gz line 7: Size \"lots\" is not a byte count"),
        "{s}"
    );
    // A month of a 30-day window: x 30.4167 / 30; GuardDuty USD 0.09 a GB and 0.215 per 1,000 objects.
    let month = 730.0 / 24.0 / 30.0;
    let usd = |gb: f64, objects: f64| gb * month * 0.09 + objects * month / 1000.0 * 0.215;
    let prefix = |i: usize| {
        let p = &up["prefixes"][i];
        (p["name"].as_str().unwrap().to_string(), p["bytes"].as_u64().unwrap(), p["monthly_usd"].as_f64().unwrap())
    };
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
    let (name, bytes, saves) = prefix(0);
    assert_eq!((name.as_str(), bytes), ("users/*/avatars/", 4_000_000_000));
    assert!(close(saves, usd(4.0, 2.0)), "{saves} vs {}", usd(4.0, 2.0));
    let (name, bytes, saves) = prefix(1);
    assert_eq!((name.as_str(), bytes), ("exports/*/", 1_000_000_000));
    assert!(close(saves, usd(1.0, 2.0)));
    assert_eq!((up["duplicate_objects"].as_u64(), up["duplicate_bytes"].as_u64()), (Some(2), Some(1_000_000_000)));
    assert!(close(up["duplicate_saving_usd"].as_f64().unwrap(), usd(1.0, 2.0)));
    assert!(close(up["monthly_usd"].as_f64().unwrap(), usd(5.5, 5.0)));
    assert!(close(up["recorded_bytes"].as_f64().unwrap(), 6.6e9), "{up}");
    assert!(close(up["explained_share"].as_f64().unwrap(), 5.5 / 6.6), "{up}");
    let docs = &report[1];
    assert!(docs["error"].as_str().unwrap().contains("lacks Size"), "{docs}");
    assert!(docs["error"].as_str().unwrap().contains("inv/acme-docs/daily/2026-12-04T01-00Z/manifest.json"), "{docs}");
    // What it read and what that cost.
    assert!(stderr.contains("ListObjectsV2 2, GetObject 3"), "{stderr}");

    // The Markdown: the same numbers, a row per prefix.
    let out = tokio::task::spawn_blocking(move || again(&["efficiency"])).await.unwrap();
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("## acme-uploads (team media, GuardDuty)"), "{md}");
    // The pattern escaped for Markdown (a `*` is emphasis there).
    assert!(md.contains(&format!("| users/\\*/avatars/ | 2 | 4.000 | USD {:.2} |", usd(4.0, 2.0))), "{md}");
    assert!(md.contains("Not read: "), "{md}");
    assert!(
        md.contains("Recorded as scanned on these days: 6.600 GB; the inventory explains 83% of it; the other 1.100 GB were likely scanned more than once"),
        "{md}"
    );

    // The same as CSV and a workbook, numbers as numbers; a workbook is not for stdout.
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap().to_string();
    let done = tokio::task::spawn_blocking(move || {
        (formats(&["efficiency", "--format", "xlsx"]), formats(&["efficiency", "--out", &dir, "--format", "csv,xlsx"]))
    })
    .await
    .unwrap();
    assert_eq!(done.0.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&done.0.stderr).contains("--format xlsx needs --out DIR"));
    let csv = std::fs::read_to_string(out.path().join("efficiency.csv")).unwrap();
    let line = format!("acme-uploads,media,GuardDuty,prefix,users/*/avatars/,2,4.000,{:.2}", usd(4.0, 2.0));
    assert!(csv.lines().any(|l| l == line), "{line} in\n{csv}");
    let dups = format!(
        "acme-uploads,media,GuardDuty,duplicates,copies of content under another key,2,1.000,{:.2}",
        usd(1.0, 2.0)
    );
    assert!(csv.lines().any(|l| l == dups), "{dups} in\n{csv}");
    {
        use calamine::Reader;
        let mut book: calamine::Xlsx<_> = calamine::open_workbook(out.path().join("efficiency.xlsx")).unwrap();
        let mut cells = |name: &str| -> Vec<Vec<String>> {
            let sheet = book.worksheet_range(name).unwrap();
            sheet.rows().map(|r| r.iter().map(|c| c.to_string()).collect()).collect()
        };
        let prefixes = cells("prefixes");
        assert_eq!(prefixes[1][..5], ["acme-uploads", "media", "users/*/avatars/", "2", "4"]);
        assert!(close(prefixes[1][5].parse().unwrap(), usd(4.0, 2.0)), "{prefixes:?}");
        let buckets = cells("buckets");
        assert_eq!(buckets.len(), 3, "{buckets:?}");
        assert!(buckets[2][10].contains("lacks Size"), "{buckets:?}");
    }

    // The team's coverage workbook gets a sheet to decide per prefix.
    s3.create_bucket().bucket("acme-uploads").send().await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap().to_string();
    let done =
        tokio::task::spawn_blocking(move || workbooks(&["coverage", "--format", "xlsx", "--out", &dir])).await.unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&done.stdout), String::from_utf8_lossy(&done.stderr));
    let book_path = out.path().join("coverage-media.xlsx");
    assert!(book_path.exists(), "{said}");
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(&book_path).unwrap();
    let sheet = book.worksheet_range("where the bytes come from").unwrap_or_else(|e| panic!("{e}: {said}"));
    let rows: Vec<Vec<String>> = sheet.rows().map(|r| r.iter().map(|c| c.to_string()).collect()).collect();
    assert_eq!(
        rows[0][..6],
        ["bucket", "prefix", "objects (30 days)", "GB (30 days)", "USD a month, saved if skipped", "decision"]
    );
    assert_eq!(rows[1][..4], ["acme-uploads", "users/*/avatars/", "2", "4"]);
    assert_eq!(rows[1][4], format!("{}", (usd(4.0, 2.0) * 100.0).round() / 100.0));
    assert_eq!(rows.len(), 4, "a row per prefix: {rows:?}");
}

/// With `[inventory] publish`, the run reads the inventory every `every_days` days: the window's
/// bytes and the duplicate bytes per bucket written, the source skipped until the period has
/// passed (told by its record in CloudWatch, whatever process runs next; a read in part too, or
/// the inventories read would be read again every run), and its month priced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_publishes_each_inventory_weekly_and_prices_it() {
    let moto = Moto::start(&[]).await;
    let sdk = moto.sdk_config().await;
    let s3 = s3_client(&sdk);
    s3.create_bucket().bucket(DEST).send().await.unwrap();
    let recent = (chrono::Utc::now() - chrono::TimeDelta::days(3)).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let base = "inv/acme-uploads/daily";
    let rows = vec![
        ("users%2F1%2Fa.png".to_string(), 3_000_000_000, recent.clone(), "e1"),
        ("copies%2Fa.png".to_string(), 3_000_000_000, recent.clone(), "e1"),
        ("users%2F2%2Fb.png".to_string(), 1_000_000_000, recent.clone(), "e2"),
    ];
    put(&s3, &format!("{base}/data/0001.csv.gz"), gz(&rows)).await;
    let schema = "Bucket, Key, Size, LastModifiedDate, ETag, StorageClass";
    let files = [format!("{base}/data/0001.csv.gz")];
    put(&s3, &format!("{base}/2026-12-04T01-00Z/manifest.json"), manifest("acme-uploads", schema, &[&files[0]])).await;
    // acme-docs' inventory lacks Size: the read is partial, and still starts the week.
    put(&s3, "inv/acme-docs/daily/2026-12-04T01-00Z/manifest.json", manifest("acme-docs", "Bucket, Key", &[])).await;
    let text = CONFIG.replace("[inventory]\n", "[inventory]\npublish = true\n");
    let app = app(&moto, costwarden::config::Config::parse(&text, "t.toml").unwrap()).await;
    let noon = today().and_hms_opt(12, 0, 0).unwrap().and_utc();
    let opts = costwarden::Options::default();
    let inventory = |r: &costwarden::RunReport| {
        r.sources.iter().find(|s| s.source == costwarden::model::SourceId::Inventory).unwrap().clone()
    };

    let r = costwarden::run_cycle(&app, noon, opts, None).await;
    let inv = inventory(&r);
    assert_eq!(inv.status, costwarden::Status::Partial, "{inv:?}");
    assert!(
        inv.problems.iter().any(|p| p.starts_with("inventory of acme-docs:") && p.contains("lacks Size")),
        "{inv:?}"
    );
    let written: Vec<(String, f64)> = r
        .published
        .iter()
        .filter(|s| matches!(s.key.metric.def().name, "InventoryBytes" | "DuplicateBytes"))
        .map(|s| (s.key.to_string(), s.value))
        .collect();
    assert_eq!(
        written,
        [
            ("InventoryBytes{Bucket=acme-uploads}".to_string(), 7e9),
            ("DuplicateBytes{Bucket=acme-uploads}".to_string(), 3e9)
        ]
    );
    let line = r.self_cost.lines.iter().find(|l| l.item == "inventory read every 7 days").expect("priced");
    assert!(line.usd > 0.0 && (line.quantity - 730.0 / 24.0 / 7.0).abs() < 1e-9, "{line:?}");
    // The owning team's digest says it, read back from CloudWatch.
    let opts_digest = costwarden::digest::send::Options { dry_run: true, force: true };
    let sent = Default::default();
    let later = noon + chrono::TimeDelta::hours(1);
    let d = costwarden::digest::send::run(&app.config, &app.clients, &sent, later, Some("media"), opts_digest).await;
    assert_eq!(
        d.digests[0].where_from[0],
        "acme-uploads: 7.0 GB last modified in 30 days, 3.0 GB (43%) of it content already under another key (scanned again)",
        "{d:?}"
    );

    // The next day, and six days on: not due.
    for days in [1, 6] {
        let r = costwarden::run_cycle(&app, noon + chrono::TimeDelta::days(days), opts, None).await;
        let inv = inventory(&r);
        assert_eq!(inv.status, costwarden::Status::Skipped, "day {days}: {inv:?}");
        assert!(inv.skipped.as_deref().unwrap_or_default().contains("read every 7 days"), "{inv:?}");
    }
    // A week on: read again.
    let r = costwarden::run_cycle(&app, noon + chrono::TimeDelta::days(7), opts, None).await;
    assert_eq!(inventory(&r).status, costwarden::Status::Partial, "{:?}", inventory(&r));
}
