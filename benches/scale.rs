//! Scale and self-cost: full cycles of the release binary against loopback peers with a fixed
//! latency on every round trip, at three sizes; requests per API (as counted at the wire),
//! datums, wall time against the critical path, peak memory; and the same work done by a naive
//! client (one request per item, sequential) for comparison.
//!
//!     cargo bench --bench scale            # all sizes
//!     cargo bench --bench scale -- small   # one size
//!
//! AWS is moto behind a latency proxy (tests/support/proxy.rs), except CloudWatch: moto needs
//! seconds per 1,000-datum PutMetricData, so PutMetricData and ListMetrics go to the project's
//! CloudWatch double (tests/support/cloudwatch.rs, RPC v2 CBOR) behind the same proxy. The Console is the
//! project's double with the same latency.

/// The daily sources of the bench's configuration (the Console and Cost Explorer): each writes
/// a published-day marker with its totals.
const DAILY_SOURCES: u64 = 2;

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use support::cloudwatch::CloudWatchDouble;
use support::console;
use support::proxy::LatencyProxy;
use support::{days_ago, Console, Moto, Paging};

const LATENCY: Duration = Duration::from_millis(20);
const CONCURRENCY: u64 = 8;
const CE_DAYS: u64 = 90;
const CE_DAYS_PER_PAGE: u64 = 10;
const CONSOLE_DAYS: u64 = 60;
const PAGE_SIZE: u64 = 500;

struct Size {
    name: &'static str,
    buckets: usize,
    tags: usize,
    services: usize,
    naive: bool,
}

const SIZES: [Size; 3] = [
    Size { name: "small", buckets: 10, tags: 5, services: 2, naive: true },
    Size { name: "medium", buckets: 1_000, tags: 200, services: 50, naive: true },
    Size { name: "large", buckets: 10_000, tags: 1_000, services: 200, naive: false },
];

fn ceil(a: u64, b: u64) -> u64 {
    a.div_ceil(b)
}

async fn seed_ecs(moto: &Moto, services: usize) {
    let sdk = moto.sdk_config().await;
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let aas = aws_sdk_applicationautoscaling::Client::new(&sdk);
    ecs.create_cluster().cluster_name("bench").send().await.unwrap();
    for i in 0..services {
        ecs.create_service().cluster("bench").service_name(format!("svc-{i}")).desired_count(4).send().await.unwrap();
        aas.register_scalable_target()
            .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
            .scalable_dimension(aws_sdk_applicationautoscaling::types::ScalableDimension::EcsServiceDesiredCount)
            .resource_id(format!("service/bench/svc-{i}"))
            .min_capacity(1)
            .max_capacity(10)
            .send()
            .await
            .unwrap();
    }
}

fn ce_days(tags: usize, from: u64, to: u64, only: Option<usize>) -> Vec<serde_json::Value> {
    (from..to)
        .map(|d| {
            let day = days_ago(CE_DAYS - d);
            let groups: Vec<serde_json::Value> = (0..tags)
                .filter(|t| only.is_none_or(|o| o == *t))
                .map(|t| {
                    serde_json::json!({"Keys": [format!("bench$tag-{t}")],
                        "Metrics": {"UnblendedCost": {"Amount": format!("{:.4}", 1.0 + t as f64 * 0.01 + d as f64 * 0.001), "Unit": "USD"}}})
                })
                .collect();
            serde_json::json!({"TimePeriod": {"Start": day.to_string(), "End": (day + chrono::Days::new(1)).to_string()},
                "Total": {}, "Groups": groups, "Estimated": d + 2 >= CE_DAYS})
        })
        .collect()
}

/// The one query's pages, ten days each, chained by NextPageToken.
async fn preset_ce(moto: &Moto, tags: usize) {
    let pages = ceil(CE_DAYS, CE_DAYS_PER_PAGE);
    let results: Vec<serde_json::Value> = (0..pages)
        .map(|p| {
            let mut page = serde_json::json!({
                "ResultsByTime": ce_days(tags, p * CE_DAYS_PER_PAGE, ((p + 1) * CE_DAYS_PER_PAGE).min(CE_DAYS), None),
                "GroupDefinitions": [{"Type": "TAG", "Key": "bench"}],
            });
            if p + 1 < pages {
                page["NextPageToken"] = serde_json::json!(format!("page-{}", p + 2));
            }
            page
        })
        .collect();
    moto.preset_cost_and_usage(serde_json::Value::Array(results)).await;
}

fn console_items(buckets: usize) -> Vec<serde_json::Value> {
    let mut items = Vec::with_capacity(buckets * CONSOLE_DAYS as usize);
    for b in 0..buckets {
        for d in 1..=CONSOLE_DAYS {
            let bytes = 1_000_000_000 + (b as u64 % 97) * 10_000_000 + d * 1_000;
            items.push(console::item(&format!("bucket-{b:05}"), days_ago(d), "Event", bytes, bytes / 1_000_000));
        }
    }
    items
}

fn config(console: &str, services: usize) -> String {
    // SCALE_SOURCES=antivirus,cost,ecs narrows a run to some sources (to attribute time or memory).
    let only = std::env::var("SCALE_SOURCES").unwrap_or_else(|_| "antivirus,cost,ecs".into());
    let off = |name: &str| if only.split(',').any(|s| s == name) { "" } else { "enabled = false\n" };
    let mut s = format!(
        "[collector]\nnamespace = \"Costwarden/Bench\"\nconcurrency = {CONCURRENCY}\n# A deployment of this size writes its series from the first run on.\nmax_new_series = 100000\n\n[antivirus]\n{}base_url = \"{console}\"\nhistory_days = {CONSOLE_DAYS}\n\n[cost]\n{}tag_key = \"bench\"\nhistory_days = {CE_DAYS}\n\n[ecs]\n{}",
        off("antivirus"),
        off("cost"),
        off("ecs")
    );
    for i in 0..services {
        s.push_str(&format!("[[ecs.services]]\ncluster = \"bench\"\nservice = \"svc-{i}\"\n"));
    }
    s
}

/// The child's peak resident memory, by polling the kernel's high-water mark (VmHWM) until it
/// exits. (wait4's ru_maxrss is no good here: it counts the bench's own pages that the child
/// shares between fork and exec, and the bench holds the Console's data.)
/// Also its CPU time (user + system), from /proc/PID/stat, which still holds the final figures
/// while the exited child waits to be reaped.
fn watch_peak(pid: u32) -> std::thread::JoinHandle<(i64, Duration)> {
    std::thread::spawn(move || {
        let (mut peak, mut cpu) = (0, Duration::ZERO);
        while let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            if let Some(kib) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
            {
                peak = peak.max(kib);
            }
            if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
                // Fields 14 and 15 (utime, stime) in clock ticks, counted after the ")" closing
                // the command name; USER_HZ is 100 on Linux.
                let f: Vec<&str> =
                    stat.rsplit_once(')').map(|(_, r)| r.split_whitespace().collect()).unwrap_or_default();
                if let (Some(u), Some(s)) = (f.get(11), f.get(12)) {
                    let ticks = u.parse::<u64>().unwrap_or(0) + s.parse::<u64>().unwrap_or(0);
                    cpu = Duration::from_millis(ticks * 10);
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        (peak, cpu)
    })
}

/// Runs the release binary once; returns (wall, (peak RSS in KiB, CPU time), exit code, stdout).
fn run_child(
    args: &[&str],
    cfg: &std::path::Path,
    aws: &str,
    console: &str,
) -> (Duration, (i64, Duration), i32, String) {
    let start = Instant::now();
    // SCALE_WRAP="valgrind --tool=massif" runs the child under a profiler (numbers then meaningless).
    let wrap = std::env::var("SCALE_WRAP").unwrap_or_default();
    let mut argv: Vec<String> = wrap.split_whitespace().map(str::to_string).collect();
    argv.push(env!("CARGO_BIN_EXE_costwarden").to_string());
    let mut child = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .args(args)
        .args(["--config", cfg.to_str().unwrap()])
        .env("AWS_ENDPOINT_URL", aws)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("COSTWARDEN_CONSOLE_URL", console)
        .env("CSS_CONSOLE_USERNAME", "bench")
        .env("CSS_CONSOLE_PASSWORD", "bench-password")
        // SCALE_CHILD_LOG=costwarden=debug shows the child's phase timings ("evaluated ms=…").
        .env("COSTWARDEN_LOG", std::env::var("SCALE_CHILD_LOG").unwrap_or_else(|_| "error".into()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let peak = watch_peak(child.id());
    let mut stdout = child.stdout.take().unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut out).unwrap();
    let status = child.wait().unwrap();
    let wall = start.elapsed();
    (wall, peak.join().unwrap(), status.code().unwrap_or(-1), out)
}

/// The naive client: one request per item, one at a time.
async fn naive(
    size: &Size,
    moto: &Moto,
    aws: &str,
    console: &Console,
    datums: u64,
) -> (Duration, BTreeMap<&'static str, u64>) {
    let sdk = support::sdk_config(aws).await;
    // Each per-tag query is its own request body: queue one result each.
    let results: Vec<serde_json::Value> =
        (0..size.tags).map(|t| serde_json::json!({"ResultsByTime": ce_days(size.tags, 0, CE_DAYS, Some(t))})).collect();
    moto.preset_cost_and_usage(serde_json::Value::Array(results)).await;
    let mut n: BTreeMap<&'static str, u64> = BTreeMap::new();
    let http = reqwest::Client::new();
    let start = Instant::now();
    let token: serde_json::Value = http
        .post(format!("{}/api/Token", console.url))
        .json(&serde_json::json!({"username": "bench", "password": "bench-password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    *n.entry("ConsoleToken").or_default() += 1;
    let bearer = token["accessToken"].as_str().unwrap().to_string();
    for b in 0..size.buckets {
        let url = format!(
            "{}/api/statistics/scans?from={}&to={}&page=1&pageSize={PAGE_SIZE}&bucket=bucket-{b:05}",
            console.url,
            days_ago(CONSOLE_DAYS),
            days_ago(1)
        );
        let r = http.get(url).bearer_auth(&bearer).send().await.unwrap();
        assert!(r.status().is_success());
        let _: serde_json::Value = r.json().await.unwrap();
        *n.entry("ConsoleStats").or_default() += 1;
    }
    let ce = aws_sdk_costexplorer::Client::new(&sdk);
    for t in 0..size.tags {
        use aws_sdk_costexplorer::types::{DateInterval, Expression, Granularity, TagValues};
        ce.get_cost_and_usage()
            .time_period(
                DateInterval::builder()
                    .start(days_ago(CE_DAYS).to_string())
                    .end(days_ago(0).to_string())
                    .build()
                    .unwrap(),
            )
            .granularity(Granularity::Daily)
            .metrics("UnblendedCost")
            .filter(
                Expression::builder()
                    .tags(TagValues::builder().key("bench").values(format!("tag-{t}")).build())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        *n.entry("GetCostAndUsage").or_default() += 1;
    }
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let aas = aws_sdk_applicationautoscaling::Client::new(&sdk);
    for i in 0..size.services {
        ecs.describe_services().cluster("bench").services(format!("svc-{i}")).send().await.unwrap();
        *n.entry("DescribeServices").or_default() += 1;
        aas.describe_scalable_targets()
            .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
            .resource_ids(format!("service/bench/svc-{i}"))
            .send()
            .await
            .unwrap();
        *n.entry("DescribeScalableTargets").or_default() += 1;
    }
    let cw = aws_sdk_cloudwatch::Client::new(&sdk);
    for i in 0..datums {
        cw.put_metric_data()
            .namespace("Costwarden/Naive")
            .metric_data(
                aws_sdk_cloudwatch::types::MetricDatum::builder()
                    .metric_name("ScannedBytes")
                    .dimensions(
                        aws_sdk_cloudwatch::types::Dimension::builder()
                            .name("Bucket")
                            .value(format!("bucket-{i}"))
                            .build(),
                    )
                    .value(1.0)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        *n.entry("PutMetricData").or_default() += 1;
    }
    (start.elapsed(), n)
}

#[tokio::main]
async fn main() {
    let only: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let dir = tempfile::tempdir().unwrap();
    let mut rows = Vec::new();
    let mut costs = Vec::new();
    for size in SIZES.iter().filter(|s| only.is_empty() || only.iter().any(|o| o == s.name)) {
        eprintln!("== {}: {} buckets, {} tag values, {} services", size.name, size.buckets, size.tags, size.services);
        let moto = Moto::start(&[("MOTO_ECS_SERVICE_RUNNING", "3")]).await;
        seed_ecs(&moto, size.services).await;
        preset_ce(&moto, size.tags).await;
        let console = Console::start("bench", "bench-password", Paging::Page).await;
        console.set_items(console_items(size.buckets));
        // Pages rendered before the timed run: on these 2 cores the double's JSON encoding would
        // otherwise compete with the client it measures (a real Console runs elsewhere).
        console.prerender(days_ago(CONSOLE_DAYS), days_ago(1), PAGE_SIZE as usize);
        *console.state.delay.lock().unwrap() = LATENCY;
        // moto takes seconds per 1,000-datum PutMetricData; CloudWatch goes to the CBOR double.
        let cw = CloudWatchDouble::start(0).await;
        let routes = [("PutMetricData", cw.url.as_str()), ("ListMetrics", cw.url.as_str())];
        let proxy = LatencyProxy::with_routes(&moto.url, &routes, LATENCY).await;
        let cfg = dir.path().join(format!("{}.toml", size.name));
        std::fs::write(&cfg, config(&console.url, size.services)).unwrap();

        let (wall, (rss_kib, cpu), code, stdout) = run_child(&["run", "--json"], &cfg, &proxy.url, &console.url);
        let report: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
        assert!(code == 0, "the cycle failed: {stdout}");
        let wire = proxy.counts();
        for src in report["sources"].as_array().unwrap() {
            eprintln!(
                "   source {:<10} {} ms, {} requests",
                src["source"].as_str().unwrap(),
                src["duration_ms"],
                src["requests"]
            );
        }
        let reported = |api: &str| report["requests"][api].as_u64().unwrap_or(0);
        let datums = report["sink"]["written"].as_u64().unwrap();
        let items = (size.buckets as u64) * CONSOLE_DAYS;
        let pages = ceil(items, PAGE_SIZE).max(1);
        let (svc, ce_pages) = (size.services as u64, ceil(CE_DAYS, CE_DAYS_PER_PAGE));
        let floors: Vec<(&str, u64)> = vec![
            ("ConsoleToken", 1),
            ("ConsoleStats", pages),
            ("GetCostAndUsage", ce_pages),
            ("DescribeServices", ceil(svc, 10)),
            ("DescribeScalableTargets", ceil(svc, 50)),
            // The datums, then the daily sources' records (3 each) in a request of their own,
            // once every datum is written (run::cadence).
            ("PutMetricData", ceil(datums - 3 * DAILY_SOURCES, 1000) + 1),
        ];
        let mut all_floor = true;
        for (api, floor) in &floors {
            let seen = if api.starts_with("Console") {
                if *api == "ConsoleToken" {
                    console.log().token_requests as u64
                } else {
                    console.log().stats_requests as u64
                }
            } else {
                wire.get(*api).copied().unwrap_or(0)
            };
            let ok = seen == *floor && reported(api) == seen;
            all_floor &= ok;
            eprintln!(
                "   {api:<24} wire {seen:>5}  reported {:>5}  floor {floor:>5}  {}",
                reported(api),
                if ok { "ok" } else { "NOT AT FLOOR" }
            );
        }
        // Round trips that must follow each other, given the concurrency bound, timed with a
        // round trip per API: the sources run side by side, then the alert state, then the write.
        let path = |rt: &dyn Fn(&str) -> Duration| {
            let n = |api: &str, rounds: u64| rt(api) * rounds as u32;
            let collection = [
                n("ConsoleStats", 2 + ceil(pages - 1, CONCURRENCY)),
                n("GetCostAndUsage", ce_pages),
                n("DescribeServices", ceil(ceil(svc, 10), CONCURRENCY))
                    .max(n("DescribeScalableTargets", ceil(ceil(svc, 50), CONCURRENCY))),
            ];
            collection.into_iter().max().unwrap()
                + n("ListMetrics", wire.get("ListMetrics").copied().unwrap_or(0))
                + n("GetMetricData", wire.get("GetMetricData").copied().unwrap_or(0).min(1))
                + n("PutMetricData", ceil(ceil(datums, 1000), CONCURRENCY))
        };
        let critical = path(&|_| LATENCY);
        let rounds = critical.as_millis() / LATENCY.as_millis();
        let ratio = wall.as_secs_f64() / critical.as_secs_f64();
        // The same chain with each API's mean round trip as the proxy saw it: the 20 ms plus the
        // peer's own time (moto's Python), which the client cannot shorten. The Console is not
        // behind the proxy; it serves pre-rendered pages, so its round trip is the 20 ms.
        let rtt = proxy.mean_round_trip();
        let observed = path(&|api| rtt.get(api).copied().unwrap_or(LATENCY));
        let observed_ratio = wall.as_secs_f64() / observed.as_secs_f64();
        eprintln!(
            "   wall {:.2} s, critical path {rounds} round trips = {:.2} s, ratio {ratio:.2}; with the peers' observed round trips {:.2} s, ratio {observed_ratio:.2}; costwarden CPU {:.2} s; datums {datums}; peak RSS {:.1} MB",
            wall.as_secs_f64(),
            critical.as_secs_f64(),
            observed.as_secs_f64(),
            cpu.as_secs_f64(),
            rss_kib as f64 / 1024.0
        );
        let naive_result = if size.naive && std::env::var("SCALE_NAIVE").as_deref() != Ok("0") {
            let (nwall, n) = naive(size, &moto, &proxy.url, &console, datums).await;
            let total: u64 = n.values().sum();
            eprintln!(
                "   naive: {total} requests, wall {:.2} s ({:.1}x ours)",
                nwall.as_secs_f64(),
                nwall.as_secs_f64() / wall.as_secs_f64()
            );
            Some((total, nwall))
        } else {
            None
        };
        let cost = self_cost(&report, &cfg, &proxy.url, &console.url);
        let ours_total: u64 =
            floors.iter().map(|(a, _)| reported(a)).sum::<u64>() + wire.get("ListMetrics").copied().unwrap_or(0);
        rows.push((
            size,
            wall,
            critical,
            ratio,
            observed_ratio,
            cpu,
            rss_kib,
            datums,
            ours_total,
            all_floor,
            naive_result,
            report["estimated_usd"].as_f64().unwrap_or(0.0),
        ));
        costs.push((size, cost));
    }
    println!("| size | buckets / tags / services | datums | requests | at floor | wall | critical path | ratio | ratio to observed path | CPU | peak RSS | naive requests | naive wall | naive / ours | est. USD per run |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (s, wall, crit, ratio, observed, cpu, rss, datums, reqs, floor, naive, usd) in rows {
        let (nr, nw, nx) = match naive {
            Some((r, w)) => (
                r.to_string(),
                format!("{:.2} s", w.as_secs_f64()),
                format!("{:.1}x", w.as_secs_f64() / wall.as_secs_f64()),
            ),
            None => ("not run".into(), "-".into(), "-".into()),
        };
        println!(
            "| {} | {} / {} / {} | {datums} | {reqs} | {} | {:.2} s | {:.2} s | {ratio:.2} | {observed:.2} | {:.2} s | {:.1} MB | {nr} | {nw} | {nx} | {usd:.4} |",
            s.name,
            s.buckets,
            s.tags,
            s.services,
            if floor { "yes" } else { "NO" },
            wall.as_secs_f64(),
            crit.as_secs_f64(),
            cpu.as_secs_f64(),
            rss as f64 / 1024.0
        );
    }
    println!();
    println!("| size | self-cost a month, every run reads and writes all (before) | new defaults | Datadog's crawler before / now (estimate) | Datadog by Metric Stream, now | a quiet run: datums, requests |");
    println!("|---|---|---|---|---|---|");
    for (s, c) in costs {
        println!(
            "| {} | USD {:.2} | USD {:.2} | USD {:.2} / {:.2} | USD {:.2} | {} datums; {} |",
            s.name,
            c.before,
            c.now,
            c.datadog_before,
            c.datadog_now,
            c.datadog_stream,
            c.quiet_datums,
            c.quiet_requests
        );
    }
}

struct SelfCost {
    before: f64,
    now: f64,
    datadog_before: f64,
    datadog_now: f64,
    datadog_stream: f64,
    quiet_datums: u64,
    quiet_requests: String,
}

/// The month projected by the daily run just made (new defaults); a quiet run's footprint from
/// `costwarden cost` (it reads ECS and the records only); and the behaviour before the cadence
/// (every run reads and writes everything, every optional stream on) from `costwarden cost`
/// with that configuration, which reads every source as each such run would.
fn self_cost(report: &serde_json::Value, cfg: &std::path::Path, aws: &str, console: &str) -> SelfCost {
    let usd = |p: &serde_json::Value, k: &str| p[k].as_f64().unwrap();
    let (_, _, code, quiet) = run_child(&["cost", "--json"], cfg, aws, console);
    let quiet: serde_json::Value = serde_json::from_str(&quiet).unwrap_or_else(|e| panic!("{e}: {quiet}"));
    assert!(code == 0, "cost failed: {quiet}");
    let text = std::fs::read_to_string(cfg).unwrap();
    let before = text
        .replacen("[collector]\n", "[collector]\ndaily_totals = \"every_run\"\napi_metrics = true\n", 1)
        .replacen("[ecs]\n", "[ecs]\ntask_details = true\n", 1)
        .replacen("[antivirus]\n", "[antivirus]\nobject_counts = true\n", 1);
    let before_cfg = cfg.with_extension("before.toml");
    std::fs::write(&before_cfg, before).unwrap();
    let (_, _, code, old) = run_child(&["cost", "--json"], &before_cfg, aws, console);
    let old: serde_json::Value = serde_json::from_str(&old).unwrap_or_else(|e| panic!("{e}: {old}"));
    assert!(code == 0, "cost failed: {old}");
    let requests = quiet["measured_by"]["requests"].as_object().unwrap();
    let (before, now) = (&old["projection"], &report["self_cost"]);
    eprintln!(
        "   self-cost a month: before USD {:.2}, now USD {:.2}",
        usd(before, "monthly_usd"),
        usd(now, "monthly_usd")
    );
    SelfCost {
        before: usd(before, "monthly_usd"),
        now: usd(now, "monthly_usd"),
        datadog_before: usd(before, "datadog_usd"),
        datadog_now: usd(now, "datadog_polling_usd"),
        datadog_stream: usd(now, "datadog_stream_usd"),
        quiet_datums: quiet["projection"]["lines"][0]["quantity"].as_f64().unwrap() as u64,
        quiet_requests: requests.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", "),
    }
}
