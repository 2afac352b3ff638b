//! Detection quality of the evaluation core, through the same `backtest::replay` the
//! `costwarden backtest` command runs, on public labelled data in ../shared/data:
//!
//! 1. Forecast-breach lead time on Prophet's R-pageviews series against the derived ground
//!    truth (first day the 28-day mean crosses 70% / 100% of a 2,000/day cap).
//! 2. TCPD change points: TCPDBench's F1 (margin 5, annotators averaged), with the scorer first
//!    checked against the published scores of the "zero" (no change) method.
//! 3. NAB realAWSCloudwatch: NAB's score for three profiles, with the scorer first checked
//!    against NAB's published per-file scores of the null and windowedGaussian detectors.
//!
//!     cargo bench --bench detect            (DATA=path/to/shared/data to override)

#[path = "support/nab.rs"]
mod nab;

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{Days, NaiveDate};
use costwarden::backtest::{quick_rules, replay, Event};
use costwarden::config::RuleDefaults;
use costwarden::rules::{Level, RuleKind};

fn data() -> PathBuf {
    std::env::var("DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"))
}

// ---------------------------------------------------------------------------------------------
// 1. Forecast lead time.

/// Days of warning before a true crossing count as lead; a warning raised earlier than this
/// before the crossing (or with no crossing ahead) is a false one.
const APPROACH_DAYS: i64 = 120;

fn prophet_series(file: &str) -> Vec<(NaiveDate, f64)> {
    let text = std::fs::read_to_string(data().join("prophet-wp").join(file)).unwrap();
    let mut v: Vec<(NaiveDate, f64)> = text
        .lines()
        .skip(1)
        .filter_map(|l| {
            let (d, y) = l.split_once(',')?;
            Some((d.trim_matches('"').parse().ok()?, y.trim().parse::<f64>().ok()?.exp()))
        })
        .collect();
    v.sort_by_key(|(d, _)| *d);
    v
}

fn ground_truth() -> BTreeMap<(u32, String), NaiveDate> {
    let text = std::fs::read_to_string(data().join("prophet-wp/derived_breach_ground_truth.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let (cap, level, day) = (col("cap"), col("level"), col("first_day_28d_trailing_mean_ge_threshold"));
    lines
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Some(((f[cap].parse().ok()?, f[level].to_string()), f[day].parse().ok()?))
        })
        .collect()
}

struct Lead {
    crossing: NaiveDate,
    first_warning: Option<NaiveDate>,
    false_warnings: Vec<NaiveDate>,
    spike_warned: bool,
    /// WARNINGs raised over the whole series: each one a notification.
    raised: usize,
}

fn lead_time(series: &[(NaiveDate, f64)], critical: f64, crossing: NaiveDate, d: &RuleDefaults) -> Lead {
    let raises = forecast_raises(series, critical, d);
    let approach = crossing - Days::new(APPROACH_DAYS as u64);
    let spike: NaiveDate = "2009-01-07".parse().unwrap();
    Lead {
        crossing,
        first_warning: raises.iter().copied().find(|d| *d >= approach && *d <= crossing),
        false_warnings: raises.iter().copied().filter(|d| *d < approach).collect(),
        spike_warned: raises.iter().any(|d| (*d - spike).num_days().abs() <= 7),
        raised: raises.len(),
    }
}

fn forecast_raises(series: &[(NaiveDate, f64)], critical: f64, d: &RuleDefaults) -> Vec<NaiveDate> {
    let d = RuleDefaults { anomaly: false, ..d.clone() };
    replay(&quick_rules(critical, &d).unwrap(), series)
        .into_iter()
        .filter(|e| e.rule == RuleKind::Forecast && e.state == Level::Warning)
        .map(|e| e.date)
        .collect()
}

/// Synthetic growth: 60 flat days at half of critical (100), then × `daily` a day, each day's
/// value times `noise()`, until 36 days past the day the noise-free curve reaches critical (also
/// returned).
fn growth_series(daily: f64, mut noise: impl FnMut() -> f64) -> (Vec<(NaiveDate, f64)>, NaiveDate) {
    let d0: NaiveDate = "2020-01-01".parse().unwrap();
    let curve = |i: u64| 50.0 * daily.powi((i as i32 - 59).max(0));
    let at = (0..).find(|&i| curve(i) >= 100.0).unwrap();
    let series = (0..at + 36).map(|i| (d0 + Days::new(i), curve(i) * noise())).collect();
    (series, d0 + Days::new(at))
}

/// The growth onset: +3%/day, critical 24 days after the flat days.
fn onset_series(noise: impl FnMut() -> f64) -> (Vec<(NaiveDate, f64)>, NaiveDate) {
    growth_series(1.03, noise)
}

/// A standard normal from `rng` (Box-Muller).
fn normal(rng: &mut fastrand::Rng) -> f64 {
    (-2.0 * (1.0 - rng.f64()).ln()).sqrt() * (std::f64::consts::TAU * rng.f64()).cos()
}

/// What all the rules together (the static threshold warns at 80% of critical, the anomaly rule
/// on a level shift) give on steady growth with 10% noise: per seed, days from the first WARNING
/// to the noise-free crossing, of the forecast alone and of any rule (-99: none before it).
fn steady_growth_leads(d: &RuleDefaults, daily: f64, seeds: u64) -> (Vec<i64>, Vec<i64>) {
    let (mut forecast, mut any) = (Vec::new(), Vec::new());
    for seed in 0..seeds {
        let mut rng = fastrand::Rng::with_seed(seed);
        let (series, crossing) = growth_series(daily, || (1.0 + 0.1 * normal(&mut rng)).max(0.01));
        let onset = series[60].0;
        let raised: Vec<Event> = replay(&quick_rules(100.0, d).unwrap(), &series)
            .into_iter()
            .filter(|e| e.state != Level::Ok && e.previous == Level::Ok && e.date >= onset && e.date <= crossing)
            .collect();
        let lead = |e: Option<&Event>| e.map_or(-99, |e| (crossing - e.date).num_days());
        forecast.push(lead(raised.iter().find(|e| e.rule == RuleKind::Forecast)));
        any.push(lead(raised.first()));
    }
    (forecast, any)
}

/// What a quieter forecast costs: days of warning before the onset reaches critical.
fn onset_lead(d: &RuleDefaults) -> Option<i64> {
    let (series, crossing) = onset_series(|| 1.0);
    forecast_raises(&series, 100.0, d).first().map(|w| (crossing - *w).num_days())
}

/// The same onset with day-to-day noise (×(1 + `sd` × normal), one seed per run), as real
/// volumes have: (each seed's lead, or None if it never warned before the crossing; seeds that
/// warned during the 60 flat days).
fn noisy_onset_leads(d: &RuleDefaults, seeds: u64, sd: f64) -> (Vec<Option<i64>>, usize) {
    let mut leads = Vec::new();
    let mut early = 0;
    for seed in 0..seeds {
        let mut rng = fastrand::Rng::with_seed(seed);
        let (series, crossing) = onset_series(|| (1.0 + sd * normal(&mut rng)).max(0.01));
        let onset = series[60].0;
        let raises = forecast_raises(&series, 100.0, d);
        early += usize::from(raises.iter().any(|w| *w < onset));
        leads.push(raises.iter().find(|w| **w >= onset && **w <= crossing).map(|w| (crossing - *w).num_days()));
    }
    (leads, early)
}

// ---------------------------------------------------------------------------------------------
// 2. TCPD change points.

const TCPD: [&str; 8] = [
    "bank",
    "brent_spot",
    "businv",
    "construction",
    "jfk_passengers",
    "lga_passengers",
    "shanghai_license",
    "us_population",
];

/// TCPDBench's true positives: each annotation matched at most once, to the nearest prediction
/// within the margin.
fn true_positives(t: &[usize], x: &[usize], margin: usize) -> usize {
    let mut left: Vec<usize> = x.to_vec();
    let mut tp = 0;
    for &tau in t {
        let best = left
            .iter()
            .enumerate()
            .filter(|(_, &x)| tau.abs_diff(x) <= margin)
            .min_by_key(|(_, &x)| (tau.abs_diff(x), x));
        if let Some((i, _)) = best {
            left.remove(i);
            tp += 1;
        }
    }
    tp
}

/// TCPDBench's f_measure (alpha = 0.5): 0 is a change point in every set; precision against the
/// union of the annotations, recall averaged over the annotators.
fn f_measure(annotations: &[Vec<usize>], predictions: &[usize], margin: usize) -> f64 {
    let with_zero = |v: &[usize]| {
        let mut s: Vec<usize> = v.to_vec();
        s.push(0);
        s.sort_unstable();
        s.dedup();
        s
    };
    let x = with_zero(predictions);
    let tks: Vec<Vec<usize>> = annotations.iter().map(|a| with_zero(a)).collect();
    let tstar = with_zero(&tks.concat());
    let p = true_positives(&tstar, &x, margin) as f64 / x.len() as f64;
    let r =
        tks.iter().map(|tk| true_positives(tk, &x, margin) as f64 / tk.len() as f64).sum::<f64>() / tks.len() as f64;
    if p + r == 0.0 {
        0.0
    } else {
        p * r / (0.5 * r + 0.5 * p)
    }
}

fn tcpd_series(name: &str) -> Vec<f64> {
    let text = std::fs::read_to_string(data().join(format!("tcpd/{name}/{name}.json"))).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["series"][0]["raw"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect()
}

/// Default rules, with `anomaly_drops` as given (on by default for scanned volume, off for cost).
fn drops(on: bool) -> RuleDefaults {
    RuleDefaults { anomaly_drops: Some(on), ..RuleDefaults::default() }
}

/// The rows where the anomaly rule raises a WARNING (a spike or the start of a level shift),
/// each observation taken as one day: a transition, as an alert would be sent.
fn detect(values: &[f64], d: &RuleDefaults) -> Vec<usize> {
    let d0: NaiveDate = "2000-01-01".parse().unwrap();
    let series: Vec<(NaiveDate, f64)> =
        values.iter().enumerate().filter(|(_, v)| v.is_finite()).map(|(i, v)| (d0 + Days::new(i as u64), *v)).collect();
    anomalies(&series, d).into_iter().map(|d| (d - d0).num_days() as usize).collect()
}

/// The anomaly rule's changes of state on a dated series.
fn anomaly_events(series: &[(NaiveDate, f64)], d: &RuleDefaults) -> Vec<Event> {
    let mut rules = quick_rules(f64::MAX / 4.0, d).unwrap();
    rules.threshold = None;
    replay(&rules, series).into_iter().filter(|e| e.rule == RuleKind::Anomaly).collect()
}

/// The days the anomaly rule raises a WARNING on a dated series.
fn anomalies(series: &[(NaiveDate, f64)], d: &RuleDefaults) -> Vec<NaiveDate> {
    anomaly_events(series, d).into_iter().filter(|e| e.state == Level::Warning).map(|e| e.date).collect()
}

/// The anomaly rule at the best global setting that an in-sample search of a replica of it found
/// on NAB's AWS files (benches/support/nab_ceiling.py; its 50-sample baseline is 28 here, fixed
/// in the core). Look-back, hold and shift lengths in 5-minute samples, which make no sense for
/// days (the look-back and the hold are past what thresholds.toml accepts, 430 and 56 days): what
/// the core scores when set for these very files, evidence on the goal, not a setting.
fn nab_in_sample() -> RuleDefaults {
    RuleDefaults {
        anomaly_z: 2.5,
        anomaly_ratio: 1.2,
        anomaly_new_high_days: 5000,
        anomaly_hold_days: 200,
        anomaly_shift_days: 18,
        anomaly_shift_z: 4.0,
        anomaly_shift_ratio: 1.05,
        ..drops(true)
    }
}

/// How often the static growth threshold changes state on the R series, with and without the
/// recovery band: a seasonal series hovers at its thresholds for weeks.
fn growth_band_table() {
    let series = prophet_series("example_wp_log_R.csv");
    println!(
        "\nThe growth threshold on the R series (fixed critical, warning at 80% of it): changes of state \
         (raised), with and without the recovery band"
    );
    println!("| critical | growth_recovery 0.95 (default) | growth_recovery 1.0 (no band) |");
    println!("|---|---|---|");
    for critical in [1400.0, 2000.0] {
        // The growth rule alone, day by day as `replay` runs it: a replay would run the forecast too.
        let count = |recovery: f64| {
            let d = RuleDefaults { growth_recovery: recovery, ..RuleDefaults::default() };
            let rules = quick_rules(critical, &d).unwrap();
            let t = rules.threshold.clone().unwrap();
            let (mut before, mut changes, mut raised) = (Level::Ok, 0, 0);
            for end in 1..=series.len() {
                let level = costwarden::rules::growth::evaluate(&rules, &t, &series[..end]).level;
                changes += usize::from(level != before);
                raised += usize::from(before == Level::Ok && level != Level::Ok);
                before = level;
            }
            format!("{changes} ({raised})")
        };
        println!("| {critical:.0}/day | {} | {} |", count(0.95), count(1.0));
    }
}

/// prophet-wp's injected outliers as (file, first day, last day, value per day): runs of days
/// with the same injected value, up to 6 of the original days inside a run.
fn injected_runs() -> Vec<(String, NaiveDate, NaiveDate, f64)> {
    let text = std::fs::read_to_string(data().join("prophet-wp/derived_outlier_labels.json")).unwrap();
    let labels: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut runs: Vec<(String, NaiveDate, NaiveDate, f64)> = Vec::new();
    for (file, l) in labels.as_object().unwrap().iter().filter(|(k, _)| !k.starts_with('_')) {
        for seg in l["segments"].as_array().unwrap() {
            let day = |k: &str| seg[k].as_str().unwrap().parse::<NaiveDate>().unwrap();
            let value = seg["injected_y"].as_str().unwrap().parse::<f64>().unwrap().exp();
            match runs.last_mut() {
                Some(r) if r.0 == *file && r.3 == value && (day("first") - r.2).num_days() <= 7 => r.2 = day("last"),
                _ => runs.push((file.clone(), day("first"), day("last"), value)),
            }
        }
    }
    runs
}

/// Over `first..=last`: (days from `first` to the first WARNING raised in it, days in WARNING,
/// WARNINGs raised).
fn warned(events: &[Event], first: NaiveDate, last: NaiveDate) -> (Option<i64>, usize, usize) {
    let raised: Vec<NaiveDate> = events
        .iter()
        .filter(|e| e.state == Level::Warning && (first..=last).contains(&e.date))
        .map(|e| e.date)
        .collect();
    let state = |d: NaiveDate| events.iter().rev().find(|e| e.date <= d).map_or(Level::Ok, |e| e.state);
    let days = first.iter_days().take_while(|d| *d <= last).filter(|d| state(*d) == Level::Warning).count();
    (raised.first().map(|d| (*d - first).num_days()), days, raised.len())
}

fn main() {
    // (dataset, costwarden, anchor, goal): the one table the issue asks for, printed last.
    let mut summary: Vec<(String, String, String, &str)> = Vec::new();
    println!("## Forecast-breach lead time (prophet-wp R pageviews, cap 2,000/day)");
    let series = prophet_series("example_wp_log_R.csv");
    let truth = ground_truth();
    // The defaults, and the quiet setting a user may choose for a seasonal, noisy series.
    let configs = [
        ("defaults (window 28 d, horizon 45 d)", RuleDefaults::default()),
        (
            "window 56 d, horizon 28 d",
            RuleDefaults { trend_window_days: 56, horizon_days: 28, ..RuleDefaults::default() },
        ),
    ];
    println!(
        "| forecast | crossing | true day (28-day mean) | first warning | lead (days) | false warnings | \
         2009-01-07 spike warned | WARNINGs raised (2008–2015) | growth-onset lead (synthetic) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (name, d) in &configs {
        let onset = onset_lead(d).map_or("none".into(), |l| format!("{l} d"));
        for (level, frac) in [("0.7", 0.7), ("1.0", 1.0)] {
            let Some(&crossing) = truth.get(&(2000, level.to_string())) else { continue };
            let l = lead_time(&series, 2000.0 * frac, crossing, d);
            let lead = l.first_warning.map_or("none".into(), |d| (l.crossing - d).num_days().to_string());
            if level == "1.0" {
                summary.push((
                    format!("prophet-wp R: forecast lead before the 100% crossing, {name}"),
                    format!("{lead} d, {} false; growth onset {onset}", l.false_warnings.len()),
                    "-".to_string(),
                    "≥ 30 d, 0 false",
                ));
            }
            println!(
                "| {name} | {}% ({:.0}/day) | {} | {} | {lead} | {} | {} | {} | {onset} |",
                (frac * 100.0) as u32,
                2000.0 * frac,
                l.crossing,
                l.first_warning.map_or("none".into(), |d| d.to_string()),
                l.false_warnings.len(),
                if l.spike_warned { "YES" } else { "no" },
                l.raised
            );
        }
    }
    println!(
        "\nThe growth onset with noise (50 seeds; the same series × (1 + noise × a standard normal) per \
         day; lead before the noise-free curve reaches critical):"
    );
    println!(
        "| forecast | noise | median lead | lead range | seeds never warned before the crossing | seeds warned while flat |"
    );
    println!("|---|---|---|---|---|---|");
    for ((name, d), sd) in configs.iter().flat_map(|c| [0.1, 0.2, 0.3].map(|sd| (c, sd))) {
        let (leads, early) = noisy_onset_leads(d, 50, sd);
        let mut got: Vec<i64> = leads.iter().flatten().copied().collect();
        got.sort_unstable();
        let median = if got.is_empty() {
            "none".into()
        } else {
            format!("{} d", costwarden::rules::median(&got.iter().map(|&l| l as f64).collect::<Vec<f64>>()))
        };
        let range = match (got.first(), got.last()) {
            (Some(a), Some(b)) => format!("{a}–{b} d"),
            _ => "-".into(),
        };
        println!("| {name} | {:.0}% | {median} | {range} | {} | {early} |", sd * 100.0, leads.len() - got.len());
    }
    println!(
        "\nSteady growth from half of critical (10% noise, 20 seeds): median days from the first WARNING \
         to the crossing, of the forecast and of any rule (the static threshold warns at 80% of \
         critical, the anomaly rule on a level shift):"
    );
    println!("| forecast | growth | forecast | any rule |");
    println!("|---|---|---|---|");
    for (name, d) in &configs {
        for (growth, daily) in [
            ("+3%/day", 1.03),
            ("+10%/week", 1.1f64.powf(1.0 / 7.0)),
            ("+5%/week", 1.05f64.powf(1.0 / 7.0)),
            ("+2%/week", 1.02f64.powf(1.0 / 7.0)),
        ] {
            let (mut forecast, mut any) = steady_growth_leads(d, daily, 20);
            let mid = |v: &mut Vec<i64>| {
                v.sort_unstable();
                match v[v.len() / 2] {
                    -99 => "none".to_string(),
                    l => format!("{l} d"),
                }
            };
            println!("| {name} | {growth} | {} | {} |", mid(&mut forecast), mid(&mut any));
        }
    }
    growth_band_table();
    // How often the anomaly rule speaks on real daily series: alerts per series-year.
    let (mut alerts, mut rises, mut years) = (0, 0, 0.0);
    for file in ["example_wp_log_R.csv", "example_wp_log_peyton_manning.csv"] {
        let s = prophet_series(file);
        alerts += anomalies(&s, &drops(true)).len();
        rises += anomalies(&s, &drops(false)).len();
        years += (s[s.len() - 1].0 - s[0].0).num_days() as f64 / 365.25;
    }
    println!(
        "\nAnomaly alerts on prophet-wp's two daily page-view series (R, Peyton Manning): {alerts} in \
         {years:.1} series-years ({:.1} a year); rises only: {rises} ({:.1} a year)",
        alerts as f64 / years,
        rises as f64 / years
    );
    println!(
        "\nprophet-wp's injected outliers (the R series with runs of days replaced; default rules): when \
         each run was first WARNING, how many of its days were, and how many WARNINGs were raised in it"
    );
    println!("| file | injected run | days | per day | first WARNING | days in WARNING | WARNINGs | rises only: first, days, WARNINGs |");
    println!("|---|---|---|---|---|---|---|---|");
    for (file, first, last, value) in injected_runs() {
        let series = prophet_series(&file);
        let show =
            |(at, days, n): (Option<i64>, usize, usize)| (at.map_or("none".into(), |a| format!("day {a}")), days, n);
        let (at, days, n) = show(warned(&anomaly_events(&series, &drops(true)), first, last));
        let (dat, ddays, dn) = show(warned(&anomaly_events(&series, &drops(false)), first, last));
        println!(
            "| {file} | {first} to {last} | {} | {value:.0} | {at} | {days} | {n} | {dat}, {ddays}, {dn} |",
            (last - first).num_days() + 1
        );
    }
    println!("\n## TCPD change points (F1, margin 5)");
    let ann: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data().join("tcpd/annotations.json")).unwrap()).unwrap();
    let published = std::fs::read_to_string(data().join("tcpd/tcpdbench_default_scores_selected.csv")).unwrap();
    let score = |dataset: &str, method: &str| -> Option<f64> {
        published.lines().find_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f.first() == Some(&dataset) && f.get(1) == Some(&method)).then(|| f[2].parse().ok()).flatten()
        })
    };
    println!("| dataset | costwarden | costwarden, rises only | zero (ours / published) | binseg (published) |");
    println!("|---|---|---|---|---|");
    let (mut ours, mut rises, mut zero, mut binseg, mut n) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let mut scorer_ok = true;
    for name in TCPD {
        let annotations: Vec<Vec<usize>> = ann[name]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect())
            .collect();
        let series = tcpd_series(name);
        let f = f_measure(&annotations, &detect(&series, &drops(true)), 5);
        let fr = f_measure(&annotations, &detect(&series, &drops(false)), 5);
        let z = f_measure(&annotations, &[], 5);
        let zp = score(name, "zero").unwrap_or(f64::NAN);
        scorer_ok &= (z - zp).abs() < 0.0015;
        let b = score(name, "binseg").unwrap_or(f64::NAN);
        println!("| {name} | {f:.3} | {fr:.3} | {z:.3} / {zp:.3} | {b:.3} |");
        ours += f;
        rises += fr;
        zero += zp;
        binseg += b;
        n += 1.0;
    }
    println!("| **mean** | **{:.3}** | **{:.3}** | {:.3} | {:.3} |", ours / n, rises / n, zero / n, binseg / n);
    summary.push((
        format!("TCPD, {n} series: F1 (margin 5)"),
        format!("{:.3} (rises only: {:.3})", ours / n, rises / n),
        "binseg 0.744, zero 0.669 (TCPDBench-wide)".into(),
        "≥ 0.75",
    ));
    println!(
        "\nscorer check against the published \"zero\" scores: {}",
        if scorer_ok { "identical to 3 decimals" } else { "MISMATCH" }
    );

    let (nab, nab_rises, nab_tuned) = nab_table();
    summary.push((
        "NAB realAWSCloudwatch, standard profile".into(),
        format!("{nab:.1} (rises only: {nab_rises:.1}; set in-sample: {nab_tuned:.1})"),
        "ARTime 74.9 (NAB scoreboard); numenta 73.4 on these files".into(),
        "≥ 75",
    ));
    println!("\n## Summary");
    println!("| dataset | costwarden | anchor | goal |");
    println!("|---|---|---|---|");
    for (dataset, ours, anchor, goal) in summary {
        println!("| {dataset} | {ours} | {anchor} | {goal} |");
    }
}

/// Returns the standard profile's normalised score: with and without `anomaly_drops`, and set
/// in-sample (`nab_in_sample`).
fn nab_table() -> (f64, f64, f64) {
    let dir = data().join("nab");
    let files = nab::load(&dir, "realAWSCloudwatch");
    // The scorer first: NAB's own detectors' per-file scores, reproduced.
    let mut worst: f64 = 0.0;
    for f in &files {
        let checks = [
            ("null", vec![false; f.values.len()]),
            ("windowedGaussian", nab::windowed_gaussian(&f.values, nab::GAUSSIAN_THRESHOLD)),
        ];
        for (detector, detections) in &checks {
            for p in &nab::PROFILES {
                let ours = nab::score(f, detections, p).score;
                let published = nab::published(&dir, detector, p, &f.name).expect("published score");
                worst = worst.max((ours - published).abs());
                if (ours - published).abs() >= 0.1 {
                    let n = detections.iter().filter(|d| **d).count();
                    eprintln!(
                        "{} {detector} {}: ours {ours:.4} published {published:.4} ({n} detections)",
                        f.name, p.name
                    );
                }
            }
        }
    }
    let detections = |rules: &RuleDefaults| -> Vec<Vec<bool>> {
        files
            .iter()
            .map(|f| {
                let mut d = vec![false; f.values.len()];
                for i in detect(&f.values, rules) {
                    d[i] = true;
                }
                d
            })
            .collect()
    };
    let (ours, rises, tuned) = (detections(&drops(true)), detections(&drops(false)), detections(&nab_in_sample()));
    let category = std::fs::read_to_string(dir.join("results/derived_category_scores.csv")).unwrap();
    let anchor = |detector: &str, profile: &str| -> f64 {
        category
            .lines()
            .find_map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (f[0] == detector && f[1] == profile && f[2] == "realAWSCloudwatch")
                    .then(|| f[8].parse().ok())
                    .flatten()
            })
            .unwrap_or(f64::NAN)
    };
    println!("\n## NAB realAWSCloudwatch ({} files, normalised: null 0, perfect 100)", files.len());
    println!(
        "| profile | costwarden | costwarden, rises only | costwarden set in-sample | numenta | ARTime | contextOSE | randomCutForest | twitterADVec | skyline |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut standard = (f64::NAN, f64::NAN, f64::NAN);
    for p in &nab::PROFILES {
        let normalised = |detections: &[Vec<bool>]| {
            let (mut raw, mut windows) = (0.0, 0);
            for (f, d) in files.iter().zip(detections) {
                let s = nab::score(f, d, p);
                raw += s.score;
                windows += s.windows;
            }
            nab::normalised(raw, windows, p)
        };
        let a = |d| anchor(d, p.name);
        let score = (normalised(&ours), normalised(&rises), normalised(&tuned));
        if p.name == "standard" {
            standard = score;
        }
        println!(
            "| {} | **{:.1}** | **{:.1}** | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
            p.name,
            score.0,
            score.1,
            score.2,
            a("numenta"),
            a("ARTime"),
            a("contextOSE"),
            a("randomCutForest"),
            a("twitterADVec"),
            a("skyline")
        );
    }
    let alerts = |d: &[Vec<bool>]| d.iter().map(|d| d.iter().filter(|x| **x).count()).sum::<usize>();
    println!(
        "\ncostwarden raised {} alerts on these files ({} rises only; {} set in-sample), each a transition into \
         WARNING.",
        alerts(&ours),
        alerts(&rises),
        alerts(&tuned)
    );
    println!(
        "scorer check against NAB's published per-file scores (null, windowedGaussian; {} files × 3 profiles): \
         largest difference {worst:.4} ({})",
        files.len(),
        if worst < 0.1 { "within 0.1" } else { "MISMATCH" }
    );
    standard
}
