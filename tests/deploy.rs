//! The shapes users run: the Lambda bootstrap driven through a loopback Runtime API, and the
//! cron daemon on a fast schedule, both against moto and the Console double.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_sdk_cloudwatch::types::StandardUnit;
use support::lambda_api::{scheduled_event, RuntimeApi};
use support::*;

struct Setup {
    moto: Moto,
    console: Console,
    dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let moto = Moto::start(&[("MOTO_ECS_SERVICE_RUNNING", "7")]).await;
    let console = Console::start(USERNAME, PASSWORD, Paging::Page).await;
    seed(&moto, &console).await;
    Setup { moto, console, dir: tempfile::tempdir().unwrap() }
}

fn write_config(s: &Setup, text: &str) -> String {
    let path = s.dir.path().join("thresholds.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn command(bin: &str, s: &Setup) -> Command {
    let mut c = Command::new(bin);
    c.env_remove("COSTWARDEN_CONFIG")
        .env("AWS_ENDPOINT_URL", &s.moto.url)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("COSTWARDEN_CONSOLE_URL", &s.console.url)
        // The run lock (run::lock) in this test's own folder: other tests never contend for it.
        .env("TMPDIR", s.dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn lambda(s: &Setup, api: &RuntimeApi, config: &str) -> Child {
    command(env!("CARGO_BIN_EXE_bootstrap"), s)
        .env("AWS_LAMBDA_RUNTIME_API", &api.addr)
        .env("AWS_LAMBDA_FUNCTION_NAME", "costwarden")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("COSTWARDEN_CONFIG", config)
        .spawn()
        .unwrap()
}

fn stop(mut child: Child) -> (Option<i32>, String) {
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_runs_a_cycle_per_scheduled_event_with_clients_built_once() {
    let s = setup().await;
    let config = write_config(&s, &config_text(&s.console.url, ""));
    let api = RuntimeApi::start(vec![scheduled_event(), scheduled_event()]).await;
    let child = lambda(&s, &api, &config);
    api.wait_answers(2, 60).await;
    let (_, stderr) = stop(child);

    let responses = api.state.responses.lock().unwrap().clone();
    assert_eq!(responses.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), ["req-1", "req-2"], "{stderr}");
    let body: serde_json::Value = serde_json::from_str(&responses[0].1).unwrap();
    assert_eq!(body["ok"], true);
    assert_eq!(body["datums_written"], 27);
    // The next invocation reads only what is due: ECS, not the daily totals just published.
    let next: serde_json::Value = serde_json::from_str(&responses[1].1).unwrap();
    let status = |source: &str| {
        let s = next["sources"].as_array().unwrap().iter().find(|s| s["source"] == source).unwrap();
        s["status"].as_str().unwrap().to_string()
    };
    assert_eq!((status("antivirus"), status("cost"), status("ecs")), ("skipped".into(), "skipped".into(), "ok".into()));
    // The Console token is fetched once per container, not per invocation.
    assert_eq!(console_token_requests(&s), 1);
    let svc = [("Cluster", CLUSTER), ("Service", AGENTS)];
    let running = read_metric(&s.moto, NAMESPACE, "RunningTaskCount", &svc, StandardUnit::Count).await;
    assert_eq!(running, Some(7.0));
    // JSON logs, one object per line, never the password.
    assert!(!stderr.contains(PASSWORD));
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for l in lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        assert!(v.get("level").is_some() && v.get("timestamp").is_some(), "{l}");
    }
}

fn console_token_requests(s: &Setup) -> usize {
    s.console.log().token_requests
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_marks_the_invocation_failed_when_a_source_fails() {
    let s = setup().await;
    let config = write_config(&s, &config_text(&s.console.url, ""));
    for _ in 0..2 {
        s.console.fault(Fault::Status(500));
    }
    let api = RuntimeApi::start(vec![scheduled_event()]).await;
    let child = lambda(&s, &api, &config);
    api.wait_answers(1, 60).await;
    let (_, stderr) = stop(child);
    let errors = api.state.errors.lock().unwrap().clone();
    assert_eq!(errors.len(), 1, "{stderr}");
    let (id, kind, body) = &errors[0];
    // lambda_runtime sends "unhandled" in the header and our errorType in the body.
    assert_eq!((id.as_str(), kind.as_str()), ("req-1", "unhandled"));
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["errorType"], "CostwardenRunFailed");
    let message = v["errorMessage"].as_str().unwrap();
    assert!(message.contains("antivirus  FAILED"), "{message}");
    assert!(message.contains("error: Console GET /api/statistics/scans: 500 Internal Server Error"), "{message}");
    // The other sources were still written.
    let svc = [("Cluster", CLUSTER), ("Service", AGENTS)];
    assert_eq!(read_metric(&s.moto, NAMESPACE, "RunningTaskCount", &svc, StandardUnit::Count).await, Some(7.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_runs_on_schedule_skips_overlapping_ticks_and_stops_cleanly_on_sigterm() {
    let s = setup().await;
    // Every second; the Console answers in 1.5 s, so some ticks find the previous run going.
    *s.console.state.delay.lock().unwrap() = Duration::from_millis(1500);
    let text = config_text(&s.console.url, "").replace(
        &format!("namespace = \"{NAMESPACE}\""),
        &format!("namespace = \"{NAMESPACE}\"\nschedule = \"* * * * * *\""),
    );
    let config = write_config(&s, &text);
    let health = |extra: &[&str]| {
        let out =
            command(env!("CARGO_BIN_EXE_costwarden"), &s).args(["health", "--config", &config]).args(extra).output();
        let out = out.unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (code, said) = health(&[]);
    assert_eq!(code, Some(1), "{said}");
    assert!(said.starts_with("unhealthy: no heartbeat"), "{said}");
    let child = command(env!("CARGO_BIN_EXE_costwarden"), &s)
        .args(["--log-format", "json", "daemon", "--config", &config])
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (code, said) = health(&[]);
    assert_eq!(code, Some(0), "{said}");
    assert!(said.starts_with("healthy: last run complete at "), "{said}");
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let messages: Vec<String> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["message"].as_str().map(str::to_string))
        .collect();
    let count = |m: &str| messages.iter().filter(|x| x.as_str() == m).count();
    assert!(count("run finished") >= 2, "{stderr}");
    assert!(count("tick skipped: the previous run is still going") >= 1, "{stderr}");
    assert_eq!(count("SIGTERM: stopping after the current run"), 1, "{stderr}");
    assert_eq!(messages.last().map(String::as_str), Some("stopped"), "{stderr}");
    let svc = [("Cluster", CLUSTER), ("Service", AGENTS)];
    assert_eq!(read_metric(&s.moto, NAMESPACE, "RunningTaskCount", &svc, StandardUnit::Count).await, Some(7.0));
    // Stopped: unhealthy at once, not two intervals later.
    let (code, said) = health(&[]);
    assert_eq!(code, Some(1), "{said}");
    assert!(said.starts_with("unhealthy: the daemon stopped at "), "{said}");
}

#[test]
fn daemon_refuses_a_bad_config_at_start_with_the_located_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[collector]\nschedule = \"every minute\"\n[ecs]\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_costwarden"))
        .args(["daemon", "--config", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 2: collector.schedule: \"every minute\" has 2 fields"), "{stderr}");
}

#[test]
fn the_kubernetes_configmap_holds_a_valid_configuration_and_the_pods_run_costwarden() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes");
    let configmap = std::fs::read_to_string(dir.join("configmap.yaml")).unwrap();
    let (_, block) = configmap.split_once("  thresholds.toml: |\n").expect("the ConfigMap's thresholds.toml");
    let toml: String = block.lines().map(|l| l.strip_prefix("    ").unwrap_or(l).to_string() + "\n").collect();
    costwarden::config::Config::parse(&toml, "configmap.yaml").unwrap_or_else(|e| panic!("{e}"));
    for (file, command) in [("cronjob.yaml", "run"), ("daemon.yaml", "daemon")] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        assert!(text.contains(&format!("args: [\"{command}\"]")), "{file} runs costwarden {command}");
        for hardening in ["runAsNonRoot: true", "readOnlyRootFilesystem: true", "drop: [\"ALL\"]", "limits:"] {
            assert!(text.contains(hardening), "{file} lacks {hardening}");
        }
    }
    let cron = std::fs::read_to_string(dir.join("cronjob.yaml")).unwrap();
    assert!(cron.contains("concurrencyPolicy: Forbid"));
    let daemon = std::fs::read_to_string(dir.join("daemon.yaml")).unwrap();
    assert!(daemon.contains("replicas: 1") && daemon.contains("type: Recreate"));
}

/// The Lambda template's role grants every AWS action costwarden calls (each counted `Api`), and
/// nothing else but the few actions the runtime, the configuration or Athena itself need.
#[test]
fn the_lambda_role_grants_exactly_the_actions_costwarden_calls() {
    use strum::IntoEnumIterator;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/template.yaml");
    let template = std::fs::read_to_string(path).unwrap();
    // `service:Action` tokens; not actions: condition keys (`cloudwatch:namespace`, and
    // `aws:SourceAccount:` as a YAML key) and ARNs.
    let granted: std::collections::BTreeSet<&str> = template
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == ':' || c == '-'))
        .filter(|t| t.matches(':').count() == 1)
        .filter(|t| {
            t.split_once(':').is_some_and(|(s, a)| !s.is_empty() && a.starts_with(|c: char| c.is_ascii_uppercase()))
        })
        .collect();
    let called: std::collections::BTreeSet<&str> =
        costwarden::wire::Api::iter().filter_map(|api| api.iam_action()).collect();
    let missing: Vec<_> = called.difference(&granted).collect();
    assert!(missing.is_empty(), "called but not granted by deploy/template.yaml: {missing:?}");
    let needed_besides = [
        // The function's own logs, and EventBridge Scheduler invoking it.
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "lambda:InvokeFunction",
        // Roles of [*.role], and the trust of the function's own role.
        "sts:AssumeRole",
        // The configuration from COSTWARDEN_CONFIG_SSM_PARAMETER (read once, not counted).
        "ssm:GetParameter",
        // Athena's DDL goes to the Glue catalog, and Athena writes the results with the
        // caller's credentials.
        "glue:GetDatabase",
        "glue:CreateDatabase",
        "glue:GetTable",
        "glue:CreateTable",
        "s3:PutObject",
        "s3:ListBucketMultipartUploads",
        "s3:ListMultipartUploadParts",
        "s3:AbortMultipartUpload",
    ];
    let extra: Vec<_> = granted.iter().filter(|a| !called.contains(*a) && !needed_besides.contains(a)).collect();
    assert!(extra.is_empty(), "granted by deploy/template.yaml but never called: {extra:?}");
}
