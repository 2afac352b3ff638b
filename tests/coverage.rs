//! `costwarden coverage` end to end: buckets and tags in moto's S3 (one bucket's tags denied at
//! the wire), the Console double's protection settings (one malformed, one naming a bucket S3
//! lacks), the GuardDuty plan double, volumes from a real run; the Markdown against a golden
//! file, the workbooks read back, the JSON rows equal to the Markdown's, and `--check`.

mod support;

use support::*;

/// S3's answer to a request the bucket's policy refuses.
const DENIED: &str = "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>";

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/coverage.md");

async fn s3_bucket(sdk: &aws_config::SdkConfig, name: &str, region: &str, team: Option<&str>) {
    let s3 = s3_client(&sdk.to_builder().region(aws_sdk_s3::config::Region::new(region.to_string())).build());
    let mut req = s3.create_bucket().bucket(name);
    if region != "us-east-1" {
        let loc = aws_sdk_s3::types::BucketLocationConstraint::from(region);
        req = req.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder().location_constraint(loc).build(),
        );
    }
    req.send().await.unwrap();
    if let Some(team) = team {
        let tag = aws_sdk_s3::types::Tag::builder().key("team").value(team).build().unwrap();
        let tagging = aws_sdk_s3::types::Tagging::builder().tag_set(tag).build().unwrap();
        s3.put_bucket_tagging().bucket(name).tagging(tagging).send().await.unwrap();
    }
}

/// GuardDuty's own metric for gd-bucket yesterday, which the run turns into ScannedBytes.
async fn guardduty_scans(sdk: &aws_config::SdkConfig) {
    let noon = days_ago(1).and_hms_opt(12, 0, 0).unwrap().and_utc().timestamp();
    for (name, value) in [("CompletedScanBytes", 2e9), ("CompletedScanCount", 4000.0)] {
        guardduty_datum(sdk, name, "gd-bucket", value, Some(noon)).await;
    }
}

const EXTRA: &str = r#"
[coverage]
owner_tag = "team"
exclude = ["*-logs"]
console_usd_per_gb = 0.05

[guardduty]
plan_id = "plan-1"
history_days = 5
[[guardduty.buckets]]
name = "gd-bucket"
"#;

/// The table rows of a Markdown page: (bucket, owner, scanned, GB) of each bucket line.
fn markdown_rows(md: &str) -> Vec<(String, String, String, String)> {
    md.lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let c: Vec<&str> = l.split(" | ").collect();
            (c[0].trim_start_matches("| `").trim_end_matches('`').to_string(), c[1].into(), c[2].into(), c[6].into())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coverage_lists_every_bucket_with_its_scan_owner_and_cost_in_every_format() {
    let Peers { moto, console, proxy } = peers_behind_proxy().await;
    let sdk = moto.sdk_config().await;
    for (name, region, team) in [
        ("uploads-prod", "us-east-1", Some("media")),
        ("avatars", "us-east-1", None),
        ("app-logs", "us-east-1", Some("platform")),
        ("exports", "us-east-1", Some("data")),
        ("gd-bucket", "us-east-1", Some("data")),
        ("secret-bucket", "us-east-1", Some("security")),
        ("eu-archive", "eu-west-1", Some("media")),
    ] {
        s3_bucket(&sdk, name, region, team).await;
    }
    console.state.protection.lock().unwrap().extend([
        console::protection_item("uploads-prod", true, &[], &[]),
        console::protection_item("avatars", true, &["public/"], &["public/tmp/"]),
        console::protection_item("ghost-bucket", true, &[], &[]),
        console::protection_item("exports", false, &[], &[]),
        serde_json::json!({"bucketName": "bad", "protected": "yes"}),
    ]);
    moto.set_malware_protection_plans(vec![guardduty_plans::plan("plan-1", "gd-bucket", &["incoming/"])]);
    guardduty_scans(&sdk).await;

    // A real run writes the volumes coverage reads back.
    let config = config(&console.url, EXTRA);
    let app = app(&moto, config).await;
    let opts = costwarden::Options { dry_run: false, force: true, daily_series: None };
    let run = costwarden::run_cycle(&app, chrono::Utc::now(), opts, None).await;
    assert_eq!(run.sink.failed, 0, "{}", costwarden::report::human(&run));

    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("thresholds.toml");
    std::fs::write(&cfg, config_text(&console.url, EXTRA)).unwrap();
    let out = dir.path().join("coverage");
    proxy.fail_next("GetBucketTagging /secret-bucket", 1, 403, DENIED);
    proxy.fail_next("GetBucketLocation /app-logs", 1, 403, DENIED);
    let costwarden = |args: &[&str]| {
        costwarden_at(env!("CARGO_BIN_EXE_costwarden"), &proxy.url, &cfg)
            .args(args)
            .env("COSTWARDEN_CONSOLE_URL", &console.url)
            .output()
            .unwrap()
    };
    let args = ["coverage", "--out", out.to_str().unwrap()];
    let o = tokio::task::block_in_place(|| costwarden(&args));
    let (stdout, stderr) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(1), "the malformed item fails the run:\n{stdout}{stderr}");
    for line in [
        "S3: 7 buckets listed\n",
        "S3: location and tags of 7 of 7 buckets\n",
        "Console: 4 bucket settings in 1 page(s)\n",
        "GuardDuty: 1 malware protection plans\n",
        "warning: bucket secret-bucket: tags: AccessDenied: Access Denied (the IAM policy of these credentials does not allow this action)\n",
        "warning: bucket app-logs: location: AccessDenied: Access Denied (the IAM policy of these credentials does not allow this action); region shown as ?\n",
        "problem: Console bucket settings page 1 item 4: bucket \"bad\": \"protected\" is not true or false; skipped\n",
    ] {
        assert!(stderr.contains(line), "{line:?} not in:\n{stderr}");
    }
    let listing: Vec<&str> = stdout.lines().collect();
    assert_eq!(listing.len(), 10, "{stdout}");
    for name in ["coverage.md", "coverage.json", "coverage.csv", "coverage-data.xlsx", "coverage-media.xlsx"] {
        assert!(listing.iter().any(|l| *l == format!("wrote {}", out.join(name).display())), "{name}: {stdout}");
    }
    assert_eq!(listing[8], "7 buckets: 1 scanned, 2 partly, 3 unscanned, 1 excluded; 1 configured, not found in S3");
    // What it read, counted at the wire: 1 list, 7 locations and 7 tag sets (one denied).
    assert!(listing[9].starts_with("read in "), "{}", listing[9]);
    assert!(listing[9].contains(": ConsoleToken 1, GetMetricData 1, GetSecretValue 1, GetCallerIdentity 1, ConsoleProtection 1, ListBuckets 1, GetBucketLocation 7, GetBucketTagging 7, ListMalwareProtectionPlans 1, GetMalwareProtectionPlan 1; USD 0.00003"), "{}", listing[9]);

    // The page, against the golden file (its dated line aside).
    let md = std::fs::read_to_string(out.join("coverage.md")).unwrap();
    if std::env::var_os("COSTWARDEN_BLESS").is_some() {
        std::fs::write(GOLDEN, &md).unwrap();
    }
    let golden = std::fs::read_to_string(GOLDEN).unwrap();
    assert_eq!(costwarden::coverage::render::stale(&golden, &md), Vec::<String>::new(), "\n{md}");

    // JSON: the same rows as the Markdown.
    let json: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(out.join("coverage.json")).unwrap()).unwrap();
    let from_json: Vec<(String, String, String, String)> = json
        .iter()
        .map(|r| {
            let scanned = serde_json::from_value::<costwarden::coverage::Scanned>(r["scanned"].clone()).unwrap();
            let gb = costwarden::coverage::render::gb(r["gb"].as_f64());
            (r["bucket"].as_str().unwrap().into(), r["owner"].as_str().unwrap().into(), scanned.label().into(), gb)
        })
        .collect();
    assert_eq!(from_json, markdown_rows(&md));
    assert_eq!(from_json.len(), 8);

    // The media team's workbook: one sheet, the header, its two buckets.
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(out.join("coverage-media.xlsx")).unwrap();
    assert_eq!(book.sheet_names(), ["media"]);
    let sheet = book.worksheet_range("media").unwrap();
    let rows: Vec<Vec<String>> = sheet.rows().map(|r| r.iter().map(|c| c.to_string()).collect()).collect();
    assert_eq!(rows[0], COVERAGE_HEADER);
    let buckets: Vec<(&str, &str, &str)> =
        rows[1..].iter().map(|r| (r[1].as_str(), r[2].as_str(), r[3].as_str())).collect();
    assert_eq!(buckets, [("eu-west-1", "eu-archive", "no"), ("us-east-1", "uploads-prod", "yes")]);
    assert_eq!((rows[2][8].as_str(), rows[2][9].as_str()), ("4", "0.2"), "4 GB at USD 0.05");
    // CSV: a header and the eight rows.
    let csv = std::fs::read_to_string(out.join("coverage.csv")).unwrap();
    assert_eq!(csv.lines().count(), 9, "{csv}");
    assert!(csv.starts_with("account,region,bucket,owner,scanned,engine,"), "{csv}");

    // --check: fresh (but for the malformed item, which still fails it) once tags are readable...
    console.state.protection.lock().unwrap().pop();
    proxy.fail_next("GetBucketTagging /secret-bucket", 1, 403, DENIED);
    proxy.fail_next("GetBucketLocation /app-logs", 1, 403, DENIED);
    let check = ["coverage", "--check", "--out", out.to_str().unwrap()];
    let o = tokio::task::block_in_place(|| costwarden(&check));
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(stdout, format!("{}: up to date\n", out.join("coverage.md").display()));
    // ...and stale once a bucket's protection changes.
    console.state.protection.lock().unwrap()[3] = console::protection_item("exports", true, &[], &[]);
    proxy.fail_next("GetBucketTagging /secret-bucket", 1, 403, DENIED);
    proxy.fail_next("GetBucketLocation /app-logs", 1, 403, DENIED);
    let o = tokio::task::block_in_place(|| costwarden(&check));
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("stale; run `costwarden coverage` and commit it:"), "{stdout}");
    assert!(stdout.contains("  - | `exports` | data | no | - | - | - | - | - |  |\n"), "{stdout}");
    assert!(stdout.contains("  + | `exports` | data | yes | console | all | - | - | - |  |\n"), "{stdout}");
    // No committed file: stale too (exit 1, as documented), and it says what to do.
    std::fs::remove_file(out.join("coverage.md")).unwrap();
    proxy.fail_next("GetBucketTagging /secret-bucket", 1, 403, DENIED);
    proxy.fail_next("GetBucketLocation /app-logs", 1, 403, DENIED);
    let o = tokio::task::block_in_place(|| costwarden(&check));
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("cannot read it") && stdout.contains("and commit it"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_coverage_alert_an_unscanned_bucket_is_told_to_its_owner_once_and_its_recovery_too() {
    let Peers { moto, console, proxy: _proxy } = peers_behind_proxy().await;
    let sdk = moto.sdk_config().await;
    for (name, team) in [("uploads-prod", "media"), ("exports", "data"), ("app-logs", "platform")] {
        s3_bucket(&sdk, name, "us-east-1", Some(team)).await;
    }
    console.state.protection.lock().unwrap().push(console::protection_item("uploads-prod", true, &[], &[]));
    let slack = support::slack_behind_secret(&moto, "costwarden/slack-data").await;
    let extra = "\n[coverage]\nalert = true\nowner_tag = \"team\"\nexclude = [\"*-logs\"]\n\n[teams.data]\nslack_webhook_secret_id = \"costwarden/slack-data\"\n";
    let app = app(&moto, config(&console.url, extra)).await;
    let told = || -> Vec<String> {
        slack
            .received()
            .iter()
            .filter_map(|m| m["text"].as_str())
            .filter(|t| t.contains("coverage"))
            .map(str::to_string)
            .collect()
    };
    // Noon, so that two hours later is still the same day whenever the test runs (from 22:00 UTC
    // it was the next day, and coverage due again).
    let now = today().and_hms_opt(12, 0, 0).unwrap().and_utc();
    let opts = costwarden::Options::default();

    let r = costwarden::run_cycle(&app, now, opts, None).await;
    assert!(r.ok(), "{}", costwarden::report::human(&r));
    assert_eq!(told(), ["[WARNING] bucket exports coverage raised"]);
    let per_owner: Vec<(String, f64)> = r
        .published
        .iter()
        .filter(|s| s.key.metric == costwarden::metrics::Metric::UnscannedBuckets)
        .map(|s| (s.key.to_string(), s.value))
        .collect();
    assert_eq!(
        per_owner,
        [("UnscannedBuckets{Owner=data}".to_string(), 1.0), ("UnscannedBuckets{Owner=media}".to_string(), 0.0)],
        "per owner only; the excluded bucket counts nowhere"
    );

    // Two hours later: coverage is not due again today; nothing more is said.
    let r = costwarden::run_cycle(&app, now + chrono::Duration::hours(2), opts, None).await;
    let cov = r.sources.iter().find(|s| s.source == costwarden::model::SourceId::Coverage).unwrap();
    assert_eq!(cov.status, costwarden::Status::Skipped, "{cov:?}");
    assert_eq!(told().len(), 1);

    // The next day the bucket is scanned: its owner hears it once.
    console.state.protection.lock().unwrap().push(console::protection_item("exports", true, &[], &[]));
    let r = costwarden::run_cycle(&app, now + chrono::Duration::hours(26), opts, None).await;
    assert!(r.ok(), "{}", costwarden::report::human(&r));
    assert_eq!(told(), ["[WARNING] bucket exports coverage raised", "[OK] bucket exports coverage recovered"]);
}
