use super::*;
use crate::model::Daily;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn tokyo_monday_9() -> crate::config::Digest {
    crate::config::Digest { enabled: true, weekday: "Monday".into(), hour: 9, timezone: "Asia/Tokyo".into() }
}

#[test]
fn a_week_is_due_from_its_local_day_and_hour() {
    let d = tokyo_monday_9();
    // Monday 09:30 in Tokyo is 00:30 UTC that Monday.
    assert_eq!(period(&d, at("2026-12-07T00:30:00Z")), day("2026-12-07"));
    // Monday 08:30 in Tokyo (Sunday 23:30 UTC): still the week before's.
    assert_eq!(period(&d, at("2026-12-06T23:30:00Z")), day("2026-11-30"));
    // Sunday in Tokyo: the Monday before.
    assert_eq!(period(&d, at("2026-12-13T10:00:00Z")), day("2026-12-07"));
    // The next Monday 09:00 sharp starts the next week.
    assert_eq!(period(&d, at("2026-12-14T00:00:00Z")), day("2026-12-14"));
    let utc = crate::config::Digest { timezone: "UTC".into(), weekday: "fri".into(), hour: 0, enabled: true };
    assert_eq!(period(&utc, at("2026-12-05T12:00:00Z")), day("2026-12-04"));
}

#[test]
fn a_sparkline_scales_from_the_least_to_the_largest_and_leaves_gaps() {
    assert_eq!(sparkline(&[Some(1.0), Some(8.0), None, Some(4.5)]), "▁█ ▅");
    assert_eq!(sparkline(&[Some(3.0), Some(3.0)]), "▄▄");
    assert_eq!(sparkline(&[None, None]), "  ");
}

const CONFIG: &str = r#"
[cost]
tag_key = "team"
[[cost.tags]]
value = "agents"
owner = "media"
monthly_budget = 600
[[cost.tags]]
value = "console"
owner = "media"
snooze = { until = 2026-12-20, reason = "migration week" }
[teams.media]
[teams.platform]
[alerts]
default_team = "platform"
[digest]
timezone = "Asia/Tokyo"
"#;

/// 35 days to 2026-12-04: `before` a day, then `now` a day for the last 7.
fn series(key: SeriesKey, before: f64, now: f64) -> Daily {
    let last = day("2026-12-04");
    let mut d = Daily::new(key, last);
    for back in 0..35u64 {
        d.set(last - Days::new(back), if back < 7 { now } else { before });
    }
    d
}

#[test]
fn a_teams_digest_sums_its_weeks_projects_its_month_and_names_what_moved() {
    let cfg = Config::parse(CONFIG, "t").unwrap();
    let teams = teams(&cfg);
    assert_eq!(teams.keys().collect::<Vec<_>>(), ["media"], "only media owns a listed series");
    let media = &teams["media"];
    let key = |v: &str| {
        SeriesKey::new(
            Metric::Cost,
            vec![(crate::metrics::DIM_TAG_KEY, "team".into()), (crate::metrics::DIM_TAG_VALUE, v.into())],
        )
    };
    let mut history = Observations::default();
    history.extend(vec![series(key("agents"), 10.0, 20.0), series(key("console"), 5.0, 5.0)], Vec::new());
    let mut told = Told::new();
    told.insert((RuleKind::Growth, key("agents")), Level::Critical);
    told.insert((RuleKind::Budget, key("console")), Level::Ok);
    let i = Inputs {
        cfg: &cfg,
        history: &history,
        told: &told,
        unscanned: Some(2),
        reviewed: None,
        period: day("2026-11-30"),
        today: day("2026-12-05"),
    };
    let d = build("media", media, &i);
    assert_eq!(d.week_to, day("2026-12-04"));
    let agents = d.rows.iter().find(|r| r.label.ends_with("=agents")).unwrap();
    assert_eq!((agents.last_week, agents.week_before, agents.last_week_days), (Some(140.0), Some(70.0), 7));
    assert_eq!(agents.change, Some(1.0));
    assert_eq!(agents.sparkline.chars().count(), 28);
    assert!(agents.sparkline.ends_with("███████") && agents.sparkline.starts_with('▁'), "{}", agents.sparkline);
    // December to the 4th: 4 days at 20; the 28-day robust trend (the budget rule's) reads a
    // week's step as the level of the three before, 10 a day for the 27 days left: 350, its
    // upper slope higher; against the budget of 600.
    let m = agents.month_end.unwrap();
    assert_eq!(m.budget, Some(600.0));
    assert!((m.projected - 350.0).abs() < 1e-6 && m.low <= m.projected && m.high > 600.0, "{m:?}");
    // The movers: agents (+100%); console did not move.
    assert_eq!(d.movers.len(), 1, "{:?}", d.movers);
    assert_eq!(d.movers[0].change, 1.0);
    assert_eq!(d.open, ["growth CRITICAL: cost of team=agents"]);
    assert_eq!(d.snoozed, ["cost of team=console until 2026-12-20: migration week"]);
    let text = render::text(&d);
    assert!(text.contains("USD 140.00  +100%  ▁"), "{text}");
    assert!(text.contains("unscanned buckets: 2"), "{text}");
    assert!(text.contains("month end USD"), "{text}");
}

#[test]
fn the_digest_costs_a_few_cents_a_month() {
    let cfg = Config::parse(CONFIG, "t").unwrap();
    let (teams, usd) = monthly_usd(&cfg, 2920.0).unwrap();
    assert_eq!(teams, 1);
    // Every run's check dominates: 2,920 GetMetricData metrics, USD 0.0292.
    assert!((0.029..0.035).contains(&usd), "{usd}");
    let off = Config::parse(&CONFIG.replace("[digest]\n", "[digest]\nenabled = false\n"), "t").unwrap();
    assert_eq!(monthly_usd(&off, 2920.0), None);
}

#[test]
fn a_team_that_has_not_sent_its_workbook_back_is_reminded_while_the_round_is_open() {
    let text = format!(
        "{CONFIG}[guardduty]\nplan_id = \"p\"\n[[guardduty.buckets]]\nname = \"uploads\"\nowner = \"media\"\n[inventory.review]\ndue = 2027-01-15\n"
    );
    let cfg = Config::parse(&text, "t").unwrap();
    // Opened 30 days before it is due: nothing before.
    assert_eq!(reminder(&cfg, "media", None, day("2026-12-15")), None);
    assert_eq!(
        reminder(&cfg, "media", None, day("2026-12-16")).as_deref(),
        Some("coverage-media.xlsx is due back on 2027-01-15 (in 30 days): fill in its decision and reviewed-by columns and send it back to the platform team")
    );
    let late = reminder(&cfg, "media", None, day("2027-01-20")).unwrap();
    assert!(
        late.starts_with("coverage-media.xlsx was due back on 2027-01-15, 5 days ago, and has not been reviewed"),
        "{late}"
    );
    // Reviewed, or a team with no bucket of its own: nothing.
    assert_eq!(reminder(&cfg, "media", Some(day("2027-01-02")), day("2027-01-20")), None);
    assert_eq!(reminder(&cfg, "platform", None, day("2027-01-20")), None);
    // Its read is priced: one GetMetricData metric a week more for media.
    let without = Config::parse(&text.replace("[inventory.review]\ndue = 2027-01-15\n", ""), "t").unwrap();
    let more = monthly_usd(&cfg, 2920.0).unwrap().1 - monthly_usd(&without, 2920.0).unwrap().1;
    assert!((more - WEEKS_PER_MONTH * crate::price::GET_METRIC_DATA_PER_METRIC).abs() < 1e-12, "{more}");
}

#[test]
fn a_team_with_a_published_inventory_hears_where_its_bytes_come_from() {
    let text = format!(
        "{CONFIG}[guardduty]\nplan_id = \"p\"\n[[guardduty.buckets]]\nname = \"uploads\"\nowner = \"media\"\n\
         [inventory]\npublish = true\n[[inventory.buckets]]\nbucket = \"uploads\"\ndestination = \"inv\"\nconfig_id = \"all\"\n"
    );
    let cfg = Config::parse(&text, "t").unwrap();
    let key = |m| SeriesKey::new(m, vec![(crate::metrics::DIM_BUCKET, "uploads".into())]);
    // Written weekly: the latest is what counts.
    let weekly = |m, old: f64, new: f64| {
        let mut d = Daily::new(key(m), day("2026-11-20"));
        d.set(day("2026-11-21"), old);
        d.set(day("2026-11-28"), new);
        d
    };
    let mut history = Observations::default();
    history.extend(
        vec![weekly(Metric::InventoryBytes, 9e9, 11.6e9), weekly(Metric::DuplicateBytes, 1e9, 4e9)],
        Vec::new(),
    );
    let told = Told::new();
    let i = Inputs {
        cfg: &cfg,
        history: &history,
        told: &told,
        unscanned: None,
        reviewed: None,
        period: day("2026-11-30"),
        today: day("2026-12-05"),
    };
    let d = build("media", &[], &i);
    assert_eq!(
        d.where_from,
        [
            "uploads: 11.6 GB last modified in 30 days, 4.0 GB (34%) of it content already under another key (scanned again)",
            "costwarden efficiency names the prefixes and what skipping each would save"
        ]
    );
    assert!(render::text(&d).contains("  where the bytes come from:\n    uploads: 11.6 GB"), "{}", render::text(&d));
    // Another team's digest says nothing of it; reading it is two metrics a week.
    assert!(build("platform", &[], &i).where_from.is_empty());
    let unpublished = Config::parse(&text.replace("publish = true\n", ""), "t").unwrap();
    let more = monthly_usd(&cfg, 2920.0).unwrap().1 - monthly_usd(&unpublished, 2920.0).unwrap().1;
    assert!((more - 2.0 * WEEKS_PER_MONTH * crate::price::GET_METRIC_DATA_PER_METRIC).abs() < 1e-12, "{more}");
}
