//! `costwarden inventory review DIR`: team workbooks filled in the way a team would (written
//! here with rust_xlsxwriter, in the layout `coverage` writes), read back: the decisions, who
//! reviewed, a bad decision and a workbook without its team sheet located, the summary's
//! saving and the change plan with the lowered plan; with `[inventory.review]`, the teams read
//! reviewed recorded in CloudWatch (moto) and the others reminded in their weekly digest.

mod support;

use std::path::Path;
use std::process::Command;

use chrono::NaiveDate;
use rust_xlsxwriter::Workbook;

use support::COVERAGE_HEADER as BUCKET_HEADER;
const PREFIX_HEADER: [&str; 8] = [
    "bucket",
    "prefix",
    "objects (30 days)",
    "GB (30 days)",
    "USD a month, saved if skipped",
    "decision",
    "comment",
    "reviewed by",
];

/// A team's workbook: its buckets as (bucket, cost, decision, comment, reviewed by), and its
/// prefixes as (bucket, prefix, GB, USD, decision, reviewed by).
/// The day the binary saw: the test's day, or the next one when it ran across midnight.
fn its_day(text: &str, before: NaiveDate, says: impl Fn(NaiveDate) -> String) -> NaiveDate {
    let after = chrono::Utc::now().date_naive();
    [before, after].into_iter().find(|d| text.contains(&says(*d))).unwrap_or(before)
}

fn workbook(
    dir: &Path,
    team: Option<&str>,
    buckets: &[(&str, f64, &str, &str, &str)],
    prefixes: &[(&str, &str, f64, f64, &str, &str)],
    file: &str,
) {
    let mut book = Workbook::new();
    if let Some(team) = team {
        let sheet = book.add_worksheet().set_name(team).unwrap();
        for (c, h) in BUCKET_HEADER.iter().enumerate() {
            sheet.write_string(0, c as u16, *h).unwrap();
        }
        for (i, (bucket, usd, decision, comment, by)) in buckets.iter().enumerate() {
            let r = i as u32 + 1;
            sheet.write_string(r, 2, *bucket).unwrap();
            sheet.write_number(r, 9, *usd).unwrap();
            sheet.write_string(r, 11, *decision).unwrap();
            sheet.write_string(r, 12, *comment).unwrap();
            sheet.write_string(r, 13, *by).unwrap();
        }
    }
    let sheet = book.add_worksheet().set_name("where the bytes come from").unwrap();
    for (c, h) in PREFIX_HEADER.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    for (i, (bucket, prefix, gb, usd, decision, by)) in prefixes.iter().enumerate() {
        let r = i as u32 + 1;
        sheet.write_string(r, 0, *bucket).unwrap();
        sheet.write_string(r, 1, *prefix).unwrap();
        sheet.write_number(r, 3, *gb).unwrap();
        sheet.write_number(r, 4, *usd).unwrap();
        sheet.write_string(r, 5, *decision).unwrap();
        sheet.write_string(r, 7, *by).unwrap();
    }
    book.save(dir.join(file)).unwrap();
}

const CONFIG: &str = r#"
[antivirus]
base_url = "https://acme-1a2b.cloudstoragesecapp.com"
[[antivirus.buckets]]
name = "uploads-prod"
owner = "media"
plan = { baseline = "10 GB", since = 2026-01-01 }
[[antivirus.buckets]]
name = "avatars"
owner = "media"
[teams.media]
"#;

#[test]
fn filled_workbooks_become_a_summary_and_a_change_plan_with_bad_cells_located() {
    let dir = tempfile::tempdir().unwrap();
    workbook(
        dir.path(),
        Some("media"),
        &[
            ("uploads-prod", 12.5, "stop", "moved to uploads-v2", "ana"),
            ("avatars", 3.0, "maybe", "", "ana"),
            ("avatars", 3.0, "scan less", "originals only", "ana"),
        ],
        &[
            ("uploads-prod", "tmp/", 30.0, 2.74, "skip", "ana"),
            ("uploads-prod", "users/*/", 90.0, 8.0, "keep scanning", "ana"),
        ],
        "coverage-media.xlsx",
    );
    workbook(dir.path(), Some("identity"), &[("id-docs", 1.0, "", "", "")], &[], "coverage-identity.xlsx");
    workbook(dir.path(), None, &[], &[], "coverage-support.xlsx");
    let cfg = dir.path().join("thresholds.toml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let before = chrono::Utc::now().date_naive();
    let out = Command::new(env!("CARGO_BIN_EXE_costwarden"))
        .args(["inventory", "review", dir.path().to_str().unwrap(), "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    let (md, err) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // A malformed cell and a team that has not reviewed: exit 1, the rest reported.
    assert_eq!(out.status.code(), Some(1), "{md}{err}");
    let today = its_day(&md, before, |d| format!("since = {d} }}"));
    for expected in [
        "1 of 2 teams reviewed (not yet: identity); 2 bucket and 2 prefix decisions; the month's estimated saving of the stop and skip decisions: USD 15.24 (1 \"scan less\" not estimated: how much less is the team's to say).".to_string(),
        "| media | avatars | the team's proposal to scan less: agree which paths with them | - | originals only |".to_string(),
        "| media | uploads-prod | Console: turn the bucket's protection off | USD 12.50 | moved to uploads-v2 |".to_string(),
        format!("| media | uploads-prod | Console: add tmp/ to the bucket's skipped paths; thresholds.toml: `plan = {{ baseline = \"9.000 GB\", since = {today} }}` (was 10.000 GB/day) | USD 2.74 |  |"),
        "coverage-media.xlsx, sheet media, row 3, column L: \"maybe\" is not one of keep, scan more, scan less, stop; skipped".to_string(),
        "coverage-support.xlsx: no team sheet".to_string(),
    ] {
        assert!(md.contains(&expected), "expected {expected:?} in:\n{md}");
    }
    // "keep scanning" is no change.
    assert!(!md.contains("users/"), "{md}");

    let json = Command::new(env!("CARGO_BIN_EXE_costwarden"))
        .args(["inventory", "review", dir.path().to_str().unwrap(), "--json", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["teams"][1]["team"], "media");
    assert_eq!(v["teams"][1]["reviewed_by"], serde_json::json!(["ana"]));
    assert_eq!(v["teams"][1]["prefixes"][0]["gb"], 30.0);
    // The plan too: what to change, what it saves, the lowered plan as data.
    let plan = &v["plan"];
    assert_eq!(plan["teams_not_reviewed"], serde_json::json!(["identity"]));
    assert!((plan["saving_usd"].as_f64().unwrap() - 15.24).abs() < 0.005, "{plan}");
    let skip = plan["changes"].as_array().unwrap().iter().find(|c| c["decision"] == "skip").expect("the skip");
    assert_eq!(skip["change"], "Console: add tmp/ to the bucket's skipped paths");
    assert_eq!(skip["plan"], format!("plan = {{ baseline = \"9.000 GB\", since = {today} }}"));
    assert_eq!(skip["plan_was_gb_per_day"], 10.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_review_ends_the_teams_reminder_and_a_team_not_reviewed_is_reminded_in_its_digest() {
    let moto = support::Moto::start(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    workbook(dir.path(), Some("media"), &[("uploads-prod", 12.5, "keep", "", "ana")], &[], "coverage-media.xlsx");
    workbook(dir.path(), Some("identity"), &[("id-docs", 1.0, "", "", "")], &[], "coverage-identity.xlsx");
    let now = chrono::Utc::now();
    let due = now.date_naive() + chrono::Days::new(10);
    let cfg = dir.path().join("thresholds.toml");
    let weekday = now.format("%A");
    let extra = format!(
        "[[antivirus.buckets]]\nname = \"id-docs\"\nowner = \"identity\"\n[teams.identity]\n\
         [inventory.review]\ndue = {due}\n[digest]\nweekday = \"{weekday}\"\nhour = 0\ntimezone = \"UTC\"\n"
    );
    std::fs::write(&cfg, format!("{CONFIG}{extra}")).unwrap();
    let url = moto.url.clone();
    let run = move |args: &[&str]| {
        support::costwarden_at(env!("CARGO_BIN_EXE_costwarden"), &url, &cfg).args(args).output().unwrap()
    };
    let folder = dir.path().to_str().unwrap().to_string();
    let (review, identity, media) = tokio::task::spawn_blocking(move || {
        let review = run(&["inventory", "review", &folder]);
        (review, run(&["digest", "--dry-run", "--team", "identity"]), run(&["digest", "--dry-run", "--team", "media"]))
    })
    .await
    .unwrap();
    let said = String::from_utf8_lossy(&review.stderr);
    // identity has not reviewed: exit 1; media's review is recorded.
    assert_eq!(review.status.code(), Some(1), "{said}");
    let today = its_day(&said, now.date_naive(), |d| format!("reviewed on {d} "));
    assert!(said.contains(&format!("recorded as reviewed on {today} (InventoryReviewed): media")), "{said}");
    let text = String::from_utf8_lossy(&identity.stdout);
    assert!(identity.status.success(), "{text}{}", String::from_utf8_lossy(&identity.stderr));
    let left = (due - its_day(&text, now.date_naive(), |d| format!("in {} days", (due - d).num_days()))).num_days();
    let expected = format!("periodic inventory: coverage-identity.xlsx is due back on {due} (in {left} days): fill in its decision and reviewed-by columns");
    assert!(text.contains(&expected), "{expected:?} in:\n{text}");
    let text = String::from_utf8_lossy(&media.stdout);
    assert!(media.status.success() && text.starts_with("Weekly scan cost digest for team media"), "{text}");
    assert!(!text.contains("periodic inventory"), "media's review was recorded: {text}");
}
