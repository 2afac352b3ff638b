//! The `costwarden` binary as a user runs it: validate, run, --json, --dry-run, secrets kept out.

mod support;

use std::process::{Command, Output};

use support::*;

/// Every one of `lines` is in `out`.
fn assert_lines(out: &str, lines: &[&str]) {
    for line in lines {
        assert!(out.contains(line), "expected {line:?} in:\n{out}");
    }
}

fn costwarden(args: &[&str], env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_costwarden"));
    cmd.args(args).env_remove("COSTWARDEN_CONFIG").env_remove("AWS_PROFILE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn every_bad_fixture_is_rejected_with_its_expected_messages() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if !path.to_string_lossy().ends_with(".bad.toml") {
            continue;
        }
        let body = std::fs::read_to_string(&path).unwrap();
        let expected: Vec<&str> = body.lines().filter_map(|l| l.strip_prefix("# expect: ")).collect();
        assert!(!expected.is_empty(), "{} has no '# expect:' line", path.display());
        let out = costwarden(&["validate", path.to_str().unwrap()], &[]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{}: {stdout}{stderr}", path.display());
        for e in expected {
            assert!(stderr.contains(e), "{}: expected {e:?} in:\n{stderr}", path.display());
        }
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} fixtures");
}

#[test]
fn the_shipped_thresholds_toml_validates() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/thresholds.toml");
    let out = costwarden(&["validate", path], &[]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert_eq!(text(&out).0, format!("{path}: ok\n"));
}

#[test]
fn the_readmes_minimal_configuration_validates() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let block = readme.split("```toml\n").nth(1).and_then(|b| b.split("```").next()).expect("a toml block");
    let config = costwarden::config::Config::parse(block, "README.md").unwrap_or_else(|e| panic!("{e}"));
    assert!(config.antivirus.is_some() && config.cost.is_some() && config.ecs.is_some());
}

#[test]
fn an_unreadable_configuration_is_one_clear_line_and_exit_2() {
    for args in [&["run", "--config", "/nonexistent/t.toml"][..], &["validate", "/nonexistent/t.toml"]] {
        let out = costwarden(args, &[]);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("cannot read /nonexistent/t.toml: No such file"), "{args:?}: {stderr}");
        assert_eq!(stderr.matches("No such file").count(), 1, "{args:?}: the reason once: {stderr}");
    }
}

struct Peers {
    moto: Moto,
    console: Console,
    config: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

async fn peers() -> Peers {
    let moto = Moto::start(&[("MOTO_ECS_SERVICE_RUNNING", "7")]).await;
    let console = Console::start(USERNAME, PASSWORD, Paging::Page).await;
    seed(&moto, &console).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("thresholds.toml");
    // Credentials from the environment this time (the default), not Secrets Manager.
    let text = config_text("https://acme-1a2b.cloudstoragesecapp.com", "")
        .replace(&format!("credentials = {{ secret_id = \"{SECRET_ID}\" }}"), "");
    std::fs::write(&config, text).unwrap();
    Peers { moto, console, config, _dir: dir }
}

fn env(p: &Peers) -> Vec<(&'static str, String)> {
    [
        ("AWS_ENDPOINT_URL", p.moto.url.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
        ("COSTWARDEN_CONSOLE_URL", p.console.url.as_str()),
        ("CSS_CONSOLE_USERNAME", USERNAME),
        ("CSS_CONSOLE_PASSWORD", PASSWORD),
        ("COSTWARDEN_LOG", "debug"),
        // The run lock (run::lock) in this test's own folder: other tests never contend for it.
        ("TMPDIR", p._dir.path().to_str().unwrap()),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_string()))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_runs_on_one_host_tell_a_change_once() {
    let p = peers().await;
    let slack = support::slack::Slack::start().await;
    // uploads-prod (3 GB/day) breaches a plan of 1 GB/day: one growth change to tell on Slack.
    let planned = std::fs::read_to_string(&p.config)
        .unwrap()
        .replace(
            "name = \"uploads-prod\"\nowner = \"media\"",
            "name = \"uploads-prod\"\nowner = \"media\"\nplan = { baseline = 1e9, since = 2026-01-01 }",
        )
        .replace("[teams.media]\n", "[teams.media]\nslack_webhook_env = \"COSTWARDEN_TEST_HOOK\"\n");
    std::fs::write(&p.config, planned).unwrap();
    let mut env = env(&p);
    env.push(("COSTWARDEN_TEST_HOOK", slack.url.clone()));
    let cfg = p.config.to_str().unwrap().to_string();
    // Three runs started together, as a schedule, a retry and a person might.
    let runs: Vec<_> = (0..3)
        .map(|_| {
            let (cfg, env) = (cfg.clone(), env.clone());
            tokio::task::spawn_blocking(move || costwarden(&["run", "--config", &cfg], &env))
        })
        .collect();
    let mut summaries = String::new();
    for r in runs {
        let out = r.await.unwrap();
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
        // The summary names each change; the log does not say it a second time.
        assert!(!stderr.contains("costwarden::alert_change"), "an alert logged besides the summary:\n{stderr}");
        summaries.push_str(&stdout);
    }
    assert_eq!(summaries.matches("growth raised").count(), 1, "the change once, in one run's summary:\n{summaries}");
    let growth: Vec<String> = slack
        .received()
        .iter()
        .filter_map(|m| m["text"].as_str().map(str::to_string))
        .filter(|t| t.contains("growth"))
        .collect();
    assert_eq!(growth, vec!["[CRITICAL] bucket uploads-prod (console) growth raised"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_prints_a_summary_writes_metrics_and_never_prints_the_password() {
    let p = peers().await;
    let cfg = p.config.to_str().unwrap().to_string();
    let env = env(&p);
    let out = tokio::task::spawn_blocking(move || costwarden(&["run", "--config", &cfg], &env)).await.unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.starts_with("costwarden run OK at "), "{stdout}");
    assert_lines(&stdout, &[
        // 9 data datums (2 scanned volumes, 3 cost, 4 ECS), 4 capacity rule datums, 7 health; then the
        // records of the two daily sources' run (3 and 4) in a request of their own;
        // GetMetricData: which daily totals are due.
        "datums: 27 written, 0 failed, in 2 PutMetricData request(s)",
        "requests: ConsoleToken 1, ConsoleStats 3, GetMetricData 2, GetCostAndUsage 2, DescribeServices 1, DescribeScalableTargets 1, PutMetricData 2, ListMetrics 1",
        "estimated API cost of this run: USD 0.02005",
    ]);
    assert!(!stdout.contains(PASSWORD) && !stderr.contains(PASSWORD), "the password leaked:\n{stdout}{stderr}");
    assert!(!stderr.contains("tok-1"), "the bearer token leaked:\n{stderr}");
    assert_eq!(list_metrics(&p.moto, NAMESPACE).await.len(), 27);
    let last = stdout.lines().last().unwrap();
    assert!(last.starts_with("  self-cost: USD ") && last.contains(" a month projected (2920 runs;"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_console_names_reach_neither_the_terminal_nor_the_log_raw() {
    let p = peers().await;
    let mut items = console_items();
    for name in ["evil\x1b[2J\x1b]0;pwned\x07", "a\ncostwarden run OK, nothing to see", "rtl\u{202e}txt"] {
        items.push(console::item(name, days_ago(1), "Event", 1, 1));
    }
    p.console.set_items(items);
    let cfg = p.config.to_str().unwrap().to_string();
    let env = env(&p);
    let out =
        tokio::task::spawn_blocking(move || costwarden(&["run", "--force", "--config", &cfg], &env)).await.unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "the skipped items make the run incomplete:\n{stdout}{stderr}");
    for (what, bytes) in [("stdout", &stdout), ("the log", &stderr)] {
        for c in ['\x1b', '\x07', '\u{202e}'] {
            assert!(!bytes.contains(c), "{c:?} reached {what} raw:\n{bytes}");
        }
        assert!(!bytes.lines().any(|l| l.starts_with("costwarden run OK, nothing")), "a name started a line of {what}");
    }
    // Said, escaped, in both.
    assert!(
        stdout.contains(
            r#"problem: page 1 item 0: bucket "a\ncostwarden run OK, nothing to see" is not an S3 bucket name; skipped"#
        ),
        "{stdout}"
    );
    assert!(stderr.contains(r#"is not an S3 bucket name; skipped"#) && stderr.contains(r"\u{1b}[2J"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_prints_the_datums_and_writes_nothing() {
    let p = peers().await;
    let cfg = p.config.to_str().unwrap().to_string();
    let env = env(&p);
    let out =
        tokio::task::spawn_blocking(move || costwarden(&["run", "--dry-run", "--config", &cfg], &env)).await.unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("ScannedBytes{Bucket=uploads-prod,Source=console} 4000000000 Bytes\n"), "{stdout}");
    assert!(stdout.contains("TaskCapacityUtilization{Cluster=CloudStorageSecCluster-t1,Service=CloudStorageSecAgentService-t1} 70 Percent\n"), "{stdout}");
    assert!(stdout.contains("datums: 18 would be written"), "{stdout}");
    // Off by default: the Console is licensed by the GB, and ECS's details no monitor needs.
    for off in ["ScannedObjects", "DesiredTaskCount", "PendingTaskCount", "MaxTaskCount", "ApiRequests"] {
        assert!(!stdout.contains(off), "{off} written by default:\n{stdout}");
    }
    assert!(!stdout.contains(PASSWORD) && !stderr.contains(PASSWORD));
    assert_eq!(list_metrics(&p.moto, NAMESPACE).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_summary_and_exit_code_one_when_a_source_fails() {
    let p = peers().await;
    let cfg = p.config.to_str().unwrap().to_string();
    let mut env = env(&p);
    env.retain(|(k, _)| *k != "CSS_CONSOLE_PASSWORD");
    let out =
        tokio::task::spawn_blocking(move || costwarden(&["run", "--json", "--config", &cfg], &env)).await.unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let av = v["sources"].as_array().unwrap().iter().find(|s| s["source"] == "antivirus").unwrap();
    assert_eq!(av["status"], "failed");
    assert_eq!(
        av["error"],
        "Console credentials: environment variable CSS_CONSOLE_PASSWORD is not set (Console API user credentials)"
    );
    let ecs = v["sources"].as_array().unwrap().iter().find(|s| s["source"] == "ecs").unwrap();
    assert_eq!(ecs["status"], "ok");
    // 7 data datums (3 cost, 4 ECS), 4 capacity rule datums, 7 health datums and the cost
    // source's 4 records (the failed Console's totals stay due).
    assert_eq!(v["sink"]["written"], 22);

    // `status` shows the failed source's listed series as rows, not a silent gap.
    let cfg = p.config.to_str().unwrap().to_string();
    let mut vars = self::env(&p);
    vars.retain(|(k, _)| *k != "CSS_CONSOLE_PASSWORD");
    let out = tokio::task::spawn_blocking(move || costwarden(&["status", "--config", &cfg], &vars)).await.unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let row =
        stdout.lines().find(|l| l.starts_with("bucket uploads-prod (console)")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        row.ends_with("NO DATA: source antivirus failed: Console credentials: environment variable CSS_CONSOLE_PASSWORD is not set (Console API user credentials)"),
        "{row}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_prints_every_verdict_worst_first() {
    let p = peers().await;
    let cfg = p.config.to_str().unwrap().to_string();
    let env = env(&p);
    let out = tokio::task::spawn_blocking(move || costwarden(&["status", "--config", &cfg], &env)).await.unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(header, ["SERIES", "RULE", "CURRENT", "PLANNED", "THRESHOLD", "UTIL", "BREACH", "STATE"]);
    // 75% and 70% of the maximum: the two capacity warnings come first.
    assert!(lines[1].contains("capacity") && lines[1].ends_with("WARNING"), "{stdout}");
    assert!(lines[2].contains("capacity") && lines[2].ends_with("WARNING"), "{stdout}");
    assert!(lines[1].contains("75%") || lines[2].contains("75%"), "{stdout}");
    // Nothing was written: status is read-only.
    assert_eq!(list_metrics(&p.moto, NAMESPACE).await, Vec::<String>::new());
}

#[test]
fn backtest_json_lists_transitions_and_bad_csv_is_located() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("series.csv");
    let mut body = String::from("date,value\n");
    let d0: chrono::NaiveDate = "2026-01-01".parse().unwrap();
    for i in 0..70u64 {
        let v = if i < 30 { 50.0 } else { 50.0 * 1.03f64.powi((i - 29) as i32) };
        body.push_str(&format!("{},{v}\n", d0 + chrono::Days::new(i)));
    }
    std::fs::write(&csv, body).unwrap();
    let out = costwarden(&["backtest", "--input", csv.to_str().unwrap(), "--threshold", "100", "--json"], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let events: Vec<serde_json::Value> = serde_json::from_str(&stdout).unwrap();
    let first = |rule: &str, state: &str| {
        events
            .iter()
            .find(|e| e["rule"] == rule && e["state"] == state)
            .unwrap_or_else(|| panic!("no {rule} {state}: {stdout}"))
    };
    let warn = first("forecast", "WARNING");
    let crit = first("growth", "CRITICAL");
    assert!(warn["date"].as_str() < crit["date"].as_str(), "{stdout}");
    assert!(warn["projected_breach"].is_string(), "{warn}");
    assert!(warn["message"].as_str().unwrap().contains("crosses critical 100/day on"), "{warn}");

    // A configuration that is there but wrong is an error, not the defaults in disguise.
    let bad = dir.path().join("thresholds.toml");
    let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/thresholds.toml")).unwrap();
    std::fs::write(&bad, shipped.replace("anomaly_hold_days = 7", "anomaly_hold_days = 99")).unwrap();
    let out = costwarden(
        &["backtest", "-c", bad.to_str().unwrap(), "--input", csv.to_str().unwrap(), "--threshold", "100"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("rules.anomaly_hold_days: must be between 0 and 56"), "{}", text(&out).1);

    std::fs::write(&csv, "date,value\n2026-01-01,1\n2026-01-02,n/a\n").unwrap();
    let out = costwarden(&["backtest", "--input", csv.to_str().unwrap(), "--threshold", "100"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("series.csv line 3: \"n/a\" is not a number"), "{}", text(&out).1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cost_projects_the_month_from_the_daily_runs_records_without_reading_cost_explorer() {
    let p = peers().await;
    let cfg = p.config.to_str().unwrap().to_string();
    let env = env(&p);
    let cost = {
        let (cfg, env) = (cfg.clone(), env.clone());
        move || costwarden(&["cost", "--config", &cfg], &env)
    };
    // Before any daily run the daily part is unknown, and said so.
    let out = tokio::task::spawn_blocking(cost.clone()).await.unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("the daily part of antivirus is not recorded yet"), "{stdout}");
    assert!(stdout.contains("the daily part of cost is not recorded yet"), "{stdout}");

    // Or with a count the user gives: 100 series and the sources' records (3 and 4), written
    // once a day: 107 x (30.4 h / 730 h) x USD 0.30 = 1.3375 (shown 1.34); one Cost Explorer page (0.01) and one
    // PutMetricData (0.00001) a day x 30.4 = 0.30.
    let given = {
        let (cfg, env) = (cfg.clone(), env.clone());
        move || costwarden(&["cost", "--daily-series", "100", "--config", &cfg], &env)
    };
    let out = tokio::task::spawn_blocking(given).await.unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_lines(&stdout, &[
        "  daily series: 100 as given (--daily-series), in place of those last recorded",
        "  metric streams written once a day       107 streams      1.34  billed 30.4 h a month each",
        "  requests of the daily run                   30 days      0.30  USD 0.010010 a day (Cost Explorer USD 0.01 a page)",
    ]);
    assert!(!stdout.contains("not recorded"), "{stdout}");

    let first = {
        let (cfg, env) = (cfg.clone(), env.clone());
        move || costwarden(&["run", "--config", &cfg], &env)
    };
    let run = tokio::task::spawn_blocking(first).await.unwrap();
    assert_eq!(run.status.code(), Some(0), "{:?}", text(&run));
    let out = tokio::task::spawn_blocking(cost.clone()).await.unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    // Every run: 4 ECS, 2 capacity utilisations and 2 alert states (both services at warning),
    // SourceUp and 4 totals = 13 streams x USD 0.30; GetMetricData (records, alert states),
    // ListMetrics and one PutMetricData = USD 0.00004 a run x 2920. Daily: 5 totals, 2 SourceUp,
    // 7 records = 14 streams x 30.4/730 x USD 0.30; 2 Cost Explorer pages (0.02) and a
    // PutMetricData (0.00001) a day x 30.4 (the Console's credentials come from the
    // environment here: no secret read). One re-read of yesterday a day (cost.reread_hours 12,
    // settle_hours 0): a page, a GetMetricData query (no [[cost.tags]], so untagged only) and a
    // PutMetricData, x 30.4. Datadog: 27 streams x 4,380 reads x USD 0.00001.
    assert_lines(&stdout, &[
        "  runs a month: 2920 (schedule \"0 */15 * * * *\")",
        "  metric streams written every run         13 streams      3.90  billed 730 h a month each, USD 0.30 per metric-month (tiered)",
        "  metric streams written once a day        14 streams      0.18  billed 30.4 h a month each",
        "  requests of every run                     2920 runs      0.12  USD 0.000040 a run at list price",
        "  requests of the daily run                   30 days      0.61  USD 0.020020 a day (Cost Explorer USD 0.01 a page)",
        "  re-reads of CE's Estimated yesterday    30 re-reads      0.30  USD 0.010020 each",
        "  total                                                    5.11",
        "  Datadog's reading, on your AWS bill (an estimate; [datadog] reading = \"polling\"):",
        "    by polling                                             1.18  its crawler: GetMetricData USD 0.01 per 1,000 metrics, every stream about every 10 minutes  <- in use",
        // 13 x 2,920 + 14 x 30.4 datums x (USD 0.003 / 1,000 + 5 KB of Firehose at USD 0.029 a GB).
        "    by metric_stream                                       0.12  a Metric Stream (deploy/metric-stream.yaml): USD 0.003 per 1,000 datums + Firehose, at most 5 KB each",
    ]);
    assert!(!stdout.contains("not recorded"), "{stdout}");
    let measured = stdout.lines().last().unwrap();
    assert!(!measured.contains("GetCostAndUsage") && !measured.contains("ConsoleStats"), "{measured}");

    // Read by a Metric Stream: the same two prices, the stream's in use, and a run's last line says so.
    let text_of = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, format!("{text_of}\n[datadog]\nreading = \"metric_stream\"\n")).unwrap();
    let out = tokio::task::spawn_blocking(cost.clone()).await.unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("by metric_stream                                       0.12  a Metric Stream"),
        "{stdout}"
    );
    assert!(stdout.lines().any(|l| l.contains("by metric_stream") && l.ends_with("<- in use")), "{stdout}");
    assert!(!stdout.lines().any(|l| l.contains("by polling") && l.ends_with("<- in use")), "{stdout}");
    let run = tokio::task::spawn_blocking(move || costwarden(&["run", "--config", &cfg], &env)).await.unwrap();
    let said = text(&run).0;
    assert!(
        said.contains("; Datadog's Metric Stream about USD 0.12 more (estimate); details: costwarden cost"),
        "{said}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_exits_1_on_a_failed_probe_0_when_all_pass_2_on_a_bad_configuration() {
    let p = peers().await;
    p.moto.set_cost_allocation_tags(&[(TAG_KEY, "Active")]);
    p.console.state.other_shape.store(true, std::sync::atomic::Ordering::SeqCst);
    let run = |args: Vec<String>| {
        let env = env(&p);
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            costwarden(&args, &env)
        })
    };
    let cfg = p.config.to_str().unwrap().to_string();
    let out = run(vec!["check".into(), "--config".into(), cfg.clone()]).await.unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert_lines(&stdout, &[
        "  FAIL    the configured shape does not read the page: not found: items_pointer \"/items\"",
        "          fix: replace [antivirus.api] with the block suggested below (check each guess)\n",
        "  items at \"/data/results\" (2 in this page); the first one's fields:\n",
        "  suggested (thresholds.toml; keep the keys not shown):\n    [antivirus.api]\n    items_pointer = \"/data/results\"",
        "  warn    no channel: its alerts are only logged\n",
        "\n10 probes: 8 ok, 1 warnings, 1 failed. 10 requests, USD 0.03 (Cost Explorer: USD 0.01 a request)",
    ]);
    assert!(!stdout.contains(PASSWORD) && !stderr.contains(PASSWORD), "the password leaked:\n{stdout}{stderr}");
    assert!(!stdout.contains("tok-") && !stderr.contains("tok-"), "a token leaked:\n{stdout}{stderr}");

    p.console.state.other_shape.store(false, std::sync::atomic::Ordering::SeqCst);
    let out = run(vec!["check".into(), "--json".into(), "--config".into(), cfg]).await.unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["ok"], true);
    assert_eq!(json["probes"].as_array().unwrap().len(), 10);
    assert!(json.get("discovery").is_none(), "{stdout}");

    let bad = p._dir.path().join("bad.toml");
    std::fs::write(&bad, "[collector]\nnamespace = \"AWS/Mine\"\n").unwrap();
    let out = run(vec!["check".into(), "--config".into(), bad.to_str().unwrap().into()]).await.unwrap();
    assert_eq!(out.status.code(), Some(2), "{:?}", text(&out));
}

#[test]
fn coverage_refuses_an_unknown_format_before_reading_anything() {
    let out = costwarden(&["coverage", "--format", "md,pdf", "--config", "/nonexistent/t.toml"], &[]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("invalid value 'pdf' for '--format <FORMAT>'"), "{stderr}");
}

#[test]
fn a_reader_that_goes_away_ends_the_output_quietly() {
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("series.csv");
    // Long enough that the reader is gone before the first line is written.
    let mut body = String::from("date,value\n");
    let d0: chrono::NaiveDate = "2000-01-01".parse().unwrap();
    for i in 0..1000u64 {
        body.push_str(&format!("{},{}\n", d0 + chrono::Days::new(i), if i % 20 < 10 { 50 } else { 150 }));
    }
    std::fs::write(&csv, body).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_costwarden"))
        .args(["backtest", "--input", csv.to_str().unwrap(), "--threshold", "100", "--json"])
        .env_remove("COSTWARDEN_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("Broken pipe") && !stderr.contains("panicked"), "{stderr}");
}

/// A port nothing listens on, on loopback.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn aws_errors_are_one_line_that_says_what_to_check() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("thresholds.toml");
    std::fs::write(&config, config_text("https://acme-1a2b.cloudstoragesecapp.com", "")).unwrap();
    let endpoint = format!("http://127.0.0.1:{}", closed_port());
    let check = |creds: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_costwarden"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", dir.path())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_MAX_ATTEMPTS", "1")
            .args(["--config", config.to_str().unwrap(), "check"]);
        if creds {
            cmd.env("AWS_ACCESS_KEY_ID", "testing").env("AWS_SECRET_ACCESS_KEY", "testing");
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for (creds, expected) in [
        (false, "no AWS credentials found (environment, profile, web identity, container or instance role)"),
        (true, "AWS not reachable: connection refused (check collector.region, the endpoint and the network)"),
    ] {
        let stdout = check(creds);
        let identity = stdout.lines().find(|l| l.starts_with("identity base")).unwrap_or_else(|| panic!("{stdout}"));
        assert!(identity.ends_with(&format!("FAIL    {expected}")), "{identity}");
        for l in stdout.lines() {
            assert!(l.chars().count() < 320, "a line of {} characters: {l}", l.chars().count());
            assert!(!l.contains("DispatchFailure") && !l.contains("Attempted:") && !l.contains("} }"), "{l}");
        }
    }
}
