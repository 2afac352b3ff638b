//! The committed Datadog files are exactly what thresholds.toml generates, Datadog's own API
//! models accept them, and every metric they query is one costwarden writes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read_tree(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for sub in ["", "monitors"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else { continue };
        for e in entries {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "json") {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn committed_dashboards_are_regenerated_identically_from_thresholds_toml() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_costwarden"))
        .args(["--config", root().join("thresholds.toml").to_str().unwrap(), "dashboards", "--out"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let generated = read_tree(tmp.path());
    let committed = read_tree(&root().join("dashboards"));
    assert!(generated.len() >= 2, "{generated:?}");
    assert_eq!(
        committed.keys().collect::<Vec<_>>(),
        generated.keys().collect::<Vec<_>>(),
        "run `cargo run -- dashboards` and commit dashboards/"
    );
    for (name, text) in &generated {
        assert_eq!(&committed[name], text, "dashboards/{name} is stale: run `cargo run -- dashboards`");
    }
}

#[test]
fn every_queried_metric_is_one_costwarden_writes() {
    let names: Vec<String> = costwarden::metrics::CATALOGUE
        .iter()
        .map(|d| costwarden::datadog::metric("Costwarden/Scanner", d.metric))
        .collect();
    let mut seen = 0;
    for text in read_tree(&root().join("dashboards")).values() {
        for (i, _) in text.match_indices("costwarden.scanner.") {
            let name: String =
                text[i..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '_').collect();
            assert!(names.contains(&name), "{name} is not in the metric catalogue");
            seen += 1;
        }
    }
    assert!(seen > 10, "only {seen} metric references found");
}

fn python() -> PathBuf {
    let venv = root().join(".venv/bin/python");
    assert!(venv.exists(), "run scripts/setup first (it installs datadog-api-client into .venv)");
    venv
}

fn check(files: &[PathBuf]) -> (bool, String) {
    let out = Command::new(python()).arg(root().join("scripts/check_datadog.py")).args(files).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn datadogs_api_models_accept_the_generated_files() {
    let dir = root().join("dashboards");
    let files: Vec<PathBuf> = read_tree(&dir).keys().map(|k| dir.join(k)).collect();
    let (ok, text) = check(&files);
    assert!(ok, "{text}");
    assert!(text.contains(&format!("{} file(s) checked, 0 problem(s)", files.len())), "{text}");
}

#[test]
fn the_check_rejects_a_broken_dashboard_and_a_broken_monitor() {
    let f = root().join("tests/fixtures");
    let (ok, text) = check(&[f.join("broken.dashboard.json")]);
    assert!(!ok, "{text}");
    assert!(text.contains("dashboard.widgets[0].definition: not a valid value of the Datadog API model"), "{text}");
    let (ok, text) = check(&[f.join("broken.monitor.json")]);
    assert!(!ok, "{text}");
    assert!(text.contains("broken.monitor.json"), "{text}");
}

#[test]
fn with_the_coverage_alert_the_dashboard_graphs_unscanned_buckets_and_datadog_accepts_it() {
    let text = std::fs::read_to_string(root().join("thresholds.toml")).unwrap();
    let text = text.replacen("[coverage]\n", "[coverage]\nalert = true\n", 1);
    let config = costwarden::config::Config::parse(&text, "alert.toml").unwrap();
    let dashboard = costwarden::datadog::dashboard(&config);
    let titles: Vec<&str> =
        dashboard["widgets"].as_array().unwrap().iter().filter_map(|w| w["definition"]["title"].as_str()).collect();
    // A source's charts follow the registry's order, before the collector's own.
    let at = |t: &str| titles.iter().position(|x| *x == t).unwrap_or_else(|| panic!("no {t:?} in {titles:?}"));
    assert!(at("ECS task capacity (% of maximum)") < at("Unscanned S3 buckets per team"), "{titles:?}");
    assert!(
        at("Unscanned S3 buckets per team") < at("Threshold utilisation and days to breach per series"),
        "{titles:?}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("dashboard.json");
    std::fs::write(&path, serde_json::to_string_pretty(&dashboard).unwrap()).unwrap();
    let (ok, out) = check(&[path]);
    assert!(ok && out.contains("1 file(s) checked, 0 problem(s)"), "{out}");
}

#[test]
fn a_source_that_is_off_has_no_charts_and_no_monitors() {
    let text = std::fs::read_to_string(root().join("thresholds.toml")).unwrap();
    let on = costwarden::config::Config::parse(&text, "on.toml").unwrap();
    assert!(on.ecs.as_ref().is_some_and(|e| e.enabled), "the shipped example watches ECS");
    let text = text.replacen("[ecs]\n", "[ecs]\nenabled = false\n", 1);
    let off = costwarden::config::Config::parse(&text, "off.toml").unwrap();
    let titles = |c: &costwarden::config::Config| -> Vec<String> {
        let d = costwarden::datadog::dashboard(c);
        d["widgets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["definition"]["title"].as_str().unwrap().to_string())
            .collect()
    };
    let stems = |c: &costwarden::config::Config| -> Vec<String> {
        costwarden::datadog::monitors(c).into_iter().map(|(s, _)| s).collect()
    };
    let (t_on, t_off) = (titles(&on), titles(&off));
    assert!(t_on.iter().any(|t| t.starts_with("ECS task")), "{t_on:?}");
    assert!(!t_off.iter().any(|t| t.starts_with("ECS task")), "{t_off:?}");
    let (m_on, m_off) = (stems(&on), stems(&off));
    let capacity = |m: &[String]| m.iter().filter(|s| s.starts_with("capacity-")).count();
    assert_eq!(capacity(&m_on), on.ecs.as_ref().unwrap().services.len(), "{m_on:?}");
    assert_eq!(capacity(&m_off), 0, "{m_off:?}");
    assert_eq!(m_on.len() - m_off.len(), capacity(&m_on));
    // The service filter goes with the ECS charts.
    let vars = |c| costwarden::datadog::dashboard(c)["template_variables"].to_string();
    assert!(vars(&on).contains("\"service\""));
    assert!(!vars(&off).contains("\"service\""));
}

/// docs/datadog.md's widget table and the generated dashboard name the same widgets (a row's
/// first cell is the start of a widget's title), with every optional widget on.
#[test]
fn the_widget_table_in_docs_is_the_generated_dashboard() {
    let text = std::fs::read_to_string(root().join("thresholds.toml")).unwrap();
    let text = text.replacen("[coverage]\n", "[coverage]\nalert = true\n", 1).replacen(
        "[ecs]\n",
        "[ecs]\ntask_details = true\n",
        1,
    );
    let config = costwarden::config::Config::parse(&text, "all.toml").unwrap();
    let dashboard = costwarden::datadog::dashboard(&config);
    let titles: Vec<String> = dashboard["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["definition"]["title"].as_str().unwrap().to_string())
        .collect();
    let doc = std::fs::read_to_string(root().join("docs/datadog.md")).unwrap();
    let table = doc.split_once("| widget | shows | rule |").expect("the widget table").1;
    let rows: Vec<String> = table
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with("| "))
        .map(|l| {
            let cell = l.trim_start_matches("| ").split(" | ").next().unwrap();
            cell.split(" (`").next().unwrap().to_string()
        })
        .collect();
    assert!(rows.len() >= 10, "{rows:?}");
    for row in &rows {
        assert!(
            titles.iter().any(|t| t.starts_with(row.as_str())),
            "docs/datadog.md names {row:?}, not generated: {titles:?}"
        );
    }
    for t in &titles {
        assert!(
            rows.iter().any(|r| t.starts_with(r.as_str())),
            "{t:?} is generated but not in docs/datadog.md's table"
        );
    }
}
