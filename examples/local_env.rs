//! Local stand-ins for AWS (moto) and the antivirus Console (the project's double), seeded from
//! a thresholds.toml with 30 days of plausible data, so `costwarden run` can be tried with no
//! account. Prints `export` lines for the run, then "ready", and serves until stdin closes.
//!
//!     cargo run --example local_env -- thresholds.toml

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::{BufRead, Write};

use costwarden::config::Config;
use support::*;

#[tokio::main]
async fn main() {
    let path = std::env::args().nth(1).unwrap_or_else(|| "thresholds.toml".into());
    let cfg = Config::load(path.as_ref()).unwrap_or_else(|e| panic!("{e}"));
    let moto = Moto::start(&[("MOTO_ECS_SERVICE_RUNNING", "5")]).await;
    let console = Console::start("demo-api-user", "demo-password", Paging::Page).await;
    let sdk = moto.sdk_config().await;

    // Console: 30 days per configured bucket, growing ~2%/day, quieter at weekends.
    let mut items = Vec::new();
    if let Some(av) = &cfg.antivirus {
        for (b, bucket) in av.buckets.iter().enumerate() {
            for d in 1..=30u64 {
                let day = days_ago(d);
                let weekend = matches!(chrono::Datelike::weekday(&day), chrono::Weekday::Sat | chrono::Weekday::Sun);
                let growth = 1.02f64.powi(30 - d as i32);
                let bytes = (2e10 / (b as f64 + 1.0) * growth * if weekend { 0.6 } else { 1.0 }) as u64;
                items.push(console::item(&bucket.name, day, "Event", bytes, bytes / 2_000_000));
                items.push(console::item(&bucket.name, day, "Retro", bytes / 10, bytes / 20_000_000));
            }
        }
    }
    // COSTWARDEN_DEMO_CONSOLE_ITEMS=N: N statistics items more, the last
    // COSTWARDEN_DEMO_CONSOLE_DAYS (60) days of N/days buckets, to measure a run on large pages
    // or many buckets (docs/scale.md).
    let var = |k: &str, d: usize| std::env::var(k).ok().and_then(|n| n.parse().ok()).unwrap_or(d);
    let (more, days) = (var("COSTWARDEN_DEMO_CONSOLE_ITEMS", 0), var("COSTWARDEN_DEMO_CONSOLE_DAYS", 60).max(1));
    // COSTWARDEN_DEMO_ITEM_PADDING=B: B characters more in each (a field no one reads), to make
    // pages as large as antivirus.api.max_page_mib allows.
    let padding = "x".repeat(var("COSTWARDEN_DEMO_ITEM_PADDING", 0));
    let today = chrono::Utc::now().date_naive();
    items.extend((0..more).map(|i| {
        let day = today - chrono::Days::new(1 + (i % days) as u64);
        let mut item = console::item(&format!("acme-load-{:06}", i / days), day, "Event", 1_000_000 + i as u64, 10);
        if !padding.is_empty() {
            item["comment"] = padding.clone().into();
        }
        item
    }));
    console.set_items(items);

    // Cost Explorer: one page covering the configured window for every configured tag value.
    if let Some(ce) = &cfg.cost {
        let days: Vec<serde_json::Value> = (1..=u64::from(ce.history_days))
            .rev()
            .map(|d| {
                let groups: Vec<serde_json::Value> = ce
                    .tags
                    .iter()
                    .enumerate()
                    .map(|(i, t)| {
                        let amount = 40.0 / (i as f64 + 1.0) * 1.01f64.powi(90 - d as i32);
                        serde_json::json!({"Keys": [format!("{}${}", ce.tag_key, t.value)],
                            "Metrics": {ce.metric.clone(): {"Amount": format!("{amount:.4}"), "Unit": "USD"}}})
                    })
                    .collect();
                serde_json::json!({"TimePeriod": {"Start": days_ago(d).to_string(), "End": days_ago(d - 1).to_string()},
                    "Total": {}, "Groups": groups, "Estimated": d <= 2})
            })
            .collect();
        moto.preset_cost_and_usage(serde_json::json!([{"ResultsByTime": days}])).await;
        // Activated in Billing, as `costwarden check` wants it.
        moto.set_cost_allocation_tags(&[(&ce.tag_key, "Active")]);
    }

    // ECS: each configured service, desired 8 (moto runs 5); max 12 where the config has none.
    if let Some(e) = &cfg.ecs {
        let ecs = aws_sdk_ecs::Client::new(&sdk);
        let aas = aws_sdk_applicationautoscaling::Client::new(&sdk);
        for s in &e.services {
            let _ = ecs.create_cluster().cluster_name(&s.cluster).send().await;
            ecs.create_service().cluster(&s.cluster).service_name(&s.service).desired_count(8).send().await.unwrap();
            if s.max_tasks.is_none() {
                aas.register_scalable_target()
                    .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
                    .scalable_dimension(
                        aws_sdk_applicationautoscaling::types::ScalableDimension::EcsServiceDesiredCount,
                    )
                    .resource_id(costwarden::sources::ecs::resource_id(s))
                    .min_capacity(1)
                    .max_capacity(12)
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    // S3 for `costwarden coverage`: every Console bucket, tagged with its owner and protected
    // whole but the last (a prefix only), plus two the Console does not scan.
    let s3 = support::s3_client(&sdk);
    let mut protection = Vec::new();
    let buckets = cfg.antivirus.iter().flat_map(|a| &a.buckets).map(|b| (b.name.clone(), b.owner.clone()));
    let mut extra =
        vec![("acme-data-exports".to_string(), Some("media".to_string())), ("acme-build-logs".to_string(), None)];
    // COSTWARDEN_DEMO_BUCKETS=N: N buckets more, unscanned, to see coverage on a large account.
    let more: usize = std::env::var("COSTWARDEN_DEMO_BUCKETS").ok().and_then(|n| n.parse().ok()).unwrap_or(0);
    let teams = ["media", "identity", "support", "platform"];
    extra.extend((0..more).map(|i| (format!("acme-extra-{i:05}"), Some(teams[i % teams.len()].to_string()))));
    let all: Vec<(String, Option<String>)> = buckets.collect();
    for (i, (name, owner)) in all.iter().chain(extra.iter()).enumerate() {
        s3.create_bucket().bucket(name).send().await.unwrap();
        if let Some(team) = owner {
            let tag = aws_sdk_s3::types::Tag::builder().key("team").value(team).build().unwrap();
            let tagging = aws_sdk_s3::types::Tagging::builder().tag_set(tag).build().unwrap();
            s3.put_bucket_tagging().bucket(name).tagging(tagging).send().await.unwrap();
        }
        if i < all.len() {
            let scan: &[&str] = if i + 1 == all.len() { &["inbound/"] } else { &[] };
            protection.push(console::protection_item(name, true, scan, &[]));
        }
    }
    console.state.protection.lock().unwrap().extend(protection);

    // S3 Inventory for `costwarden efficiency`: a delivery of yesterday for each inventory of
    // thresholds.toml, written the way S3 writes it (gzip CSV, keys URL-encoded).
    for inv in &cfg.inventory.buckets {
        let _ = s3.create_bucket().bucket(&inv.destination).send().await;
        let base = inv.base();
        let data_key = format!("{base}data/demo.csv.gz");
        s3.put_object()
            .bucket(&inv.destination)
            .key(&data_key)
            .body(demo_inventory(&inv.bucket).into())
            .send()
            .await
            .unwrap();
        let manifest = serde_json::json!({
            "sourceBucket": inv.bucket, "destinationBucket": format!("arn:aws:s3:::{}", inv.destination),
            "fileFormat": "CSV", "fileSchema": "Bucket, Key, Size, LastModifiedDate, ETag, StorageClass",
            "files": [{"key": data_key, "size": 0, "MD5checksum": ""}]
        });
        let folder = days_ago(1).format("%Y-%m-%dT01-00Z");
        let key = format!("{base}{folder}/manifest.json");
        s3.put_object()
            .bucket(&inv.destination)
            .key(key)
            .body(manifest.to_string().into_bytes().into())
            .send()
            .await
            .unwrap();
    }

    // Where the teams' notifications go: a local Slack receiver for every Slack channel, and
    // moto's SNS for every topic, so the demo's alerts are really delivered.
    let slack = support::slack::Slack::start().await;
    let mut exports: Vec<(String, String)> = Vec::new();
    for team in cfg.teams.values() {
        if let Some(env) = &team.slack_webhook_env {
            exports.push((env.clone(), slack.url.clone()));
        }
        if let Some(id) = &team.slack_webhook_secret_id {
            let sm = aws_sdk_secretsmanager::Client::new(&sdk);
            let _ = sm.create_secret().name(id).secret_string(&slack.url).send().await;
        }
        if let Some(arn) = &team.sns_topic_arn {
            let name = arn.rsplit(':').next().unwrap_or("costwarden");
            aws_sdk_sns::Client::new(&sdk).create_topic().name(name).send().await.unwrap();
        }
    }

    let mut out = std::io::stdout().lock();
    for (k, v) in &exports {
        writeln!(out, "export {k}='{v}'").unwrap();
    }
    for (k, v) in [
        ("AWS_ENDPOINT_URL", moto.url.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", cfg.collector.region.as_str()),
        ("COSTWARDEN_CONSOLE_URL", console.url.as_str()),
        ("CSS_CONSOLE_USERNAME", "demo-api-user"),
        ("CSS_CONSOLE_PASSWORD", "demo-password"),
    ] {
        writeln!(out, "export {k}='{v}'").unwrap();
    }
    writeln!(out, "ready").unwrap();
    out.flush().unwrap();
    drop(out);
    // Serve until the caller closes our stdin (or kills us); moto stops with us.
    tokio::task::spawn_blocking(|| for _ in std::io::stdin().lock().lines() {}).await.unwrap();
    // What the teams received on Slack, to read (COSTWARDEN_DEMO_SLACK_OUT=FILE: one payload a line).
    if let Ok(path) = std::env::var("COSTWARDEN_DEMO_SLACK_OUT") {
        let lines: Vec<String> = slack.received().iter().map(|p| p.to_string()).collect();
        std::fs::write(path, lines.join("\n")).unwrap();
    }
}

/// A month of uploads to `bucket`: avatars per user, dated exports (each sent twice, under two
/// dates: the same content scanned twice), and thumbnails the application regenerates.
fn demo_inventory(bucket: &str) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for i in 0..3000u64 {
        let day = days_ago(1 + i % 30);
        let (key, size, etag) = match i % 3 {
            0 => (format!("users%2F{}%2Favatars%2Fphoto-{i}.jpg", 1000 + i), 2_000_000 + i * 1000, format!("a{i:031}")),
            1 => (format!("exports%2F{day}%2Freport-{}.pdf", i / 6), 8_000_000, format!("e{:031}", i / 6)),
            _ => (format!("thumbnails%2F{}%2Fsmall.png", 1000 + i), 150_000, format!("t{i:031}")),
        };
        writeln!(gz, "\"{bucket}\",\"{key}\",\"{size}\",\"{day}T12:00:00.000Z\",\"{etag}\",\"STANDARD\"").unwrap();
    }
    gz.finish().unwrap()
}
