//! `costwarden efficiency`: where each scanned bucket's bytes come from (S3 Inventory, read by
//! `sources::inventory`), priced by the bucket's engine, with what skipping a prefix or
//! de-duplicating content would save a month. Pure: the reads come in, text and JSON go out.

use serde::Serialize;

use crate::config::{Bucket as ConfigBucket, Config};
use crate::inventory::{Part, Summary};
use crate::price::DAYS_PER_MONTH;
use crate::sources::coverage::Engine;
use crate::text::markdown;

/// Rows of each table in the Markdown.
const TOP: usize = 10;

#[derive(Debug, Clone, Serialize)]
pub struct Bucket {
    pub bucket: String,
    pub owner: Option<String>,
    /// "GuardDuty", "Console" or "not scanned by a configured engine".
    pub engine: &'static str,
    pub delivery: Option<String>,
    pub window_days: u32,
    /// A month's cost of the window's bytes at the engine's price; None when not priced.
    pub monthly_usd: Option<f64>,
    /// Which price: GuardDuty's list price, `coverage.console_usd_per_gb`, or the measured
    /// cost per GB of the cost values paying for the bucket.
    pub priced_at: Option<String>,
    pub prefixes: Vec<Priced>,
    pub extensions: Vec<Priced>,
    pub duplicate_bytes: u64,
    pub duplicate_objects: u64,
    pub duplicates_complete: bool,
    /// What not scanning the copies beyond the first would save a month.
    pub duplicate_saving_usd: Option<f64>,
    /// The bytes costwarden recorded as scanned on the window's days, and the share of them the
    /// inventory's window bytes make (over 1: more uploaded than scanned).
    pub recorded_bytes: Option<f64>,
    /// The window's days with a record: the share is said only when they are most of them.
    pub recorded_days: usize,
    pub explained_share: Option<f64>,
    pub summary: Option<Summary>,
    pub error: Option<String>,
    /// When Athena read the inventory: its query, bytes scanned and price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub athena: Option<crate::sources::inventory::AthenaRun>,
}

/// A prefix or extension: its bytes and objects in the window, and what scanning them costs a
/// month, which is what skipping them would save.
#[derive(Debug, Clone, Serialize)]
pub struct Priced {
    pub name: String,
    pub objects: u64,
    pub bytes: u64,
    pub monthly_usd: Option<f64>,
}

/// What scanning `bytes` and `objects` of a `window_days` window costs a month with the
/// bucket's engine, or None when it is not priced (the Console without a price, or no engine).
fn monthly(
    cfg: &Config,
    engine: Option<Engine>,
    console: Option<f64>,
    bytes: u64,
    objects: u64,
    window_days: u32,
) -> Option<f64> {
    let per_month = DAYS_PER_MONTH / f64::from(window_days.max(1));
    let gb = bytes as f64 / 1e9 * per_month;
    engine?.usd(&cfg.coverage, console, gb, objects as f64 * per_month)
}

/// The Console's price of a GB for `bucket`: `coverage.console_usd_per_gb`, else the sum of the
/// measured cost per GB (over the window) of the cost values that pay for it (`pays_for`,
/// default every bucket), as the alerts price a volume; with what it is.
pub fn console_price(
    cfg: &Config,
    bucket: &str,
    measured: &std::collections::BTreeMap<String, f64>,
) -> Option<(f64, String)> {
    if let Some(p) = cfg.coverage.console_usd_per_gb {
        return Some((p, "coverage.console_usd_per_gb".into()));
    }
    let c = cfg.cost.as_ref()?;
    let paying: Vec<(&str, f64)> = c
        .tags
        .iter()
        .filter(|t| t.pays_for.as_ref().is_none_or(|l| l.iter().any(|b| b == bucket)))
        .filter_map(|t| Some((t.value.as_str(), *measured.get(&t.value)?)))
        .collect();
    if paying.is_empty() {
        return None;
    }
    let names: Vec<&str> = paying.iter().map(|(v, _)| *v).collect();
    let usd = paying.iter().map(|(_, p)| p).sum();
    Some((usd, format!("the measured cost per GB scanned of {} = {} over the window", c.tag_key, names.join(", "))))
}

/// The engine thresholds.toml has scan `bucket`, with the bucket's entry there (GuardDuty's
/// first, as in coverage).
pub fn scanned_by<'c>(cfg: &'c Config, bucket: &str) -> Option<(Engine, &'c ConfigBucket)> {
    let gd = cfg.guardduty.iter().flat_map(|g| &g.buckets).find(|b| b.name == bucket);
    let av = cfg.antivirus.iter().flat_map(|a| &a.buckets).find(|b| b.name == bucket);
    gd.map(|b| (Engine::GuardDuty, b)).or(av.map(|b| (Engine::Console, b)))
}

/// `recorded`: what costwarden recorded on the window's days (`sources::inventory::recorded`).
pub fn bucket(
    cfg: &Config,
    name: &str,
    read: Result<(String, Summary), String>,
    recorded: &crate::sources::inventory::Recorded,
) -> Bucket {
    let by = scanned_by(cfg, name);
    let engine = by.map(|(e, _)| e);
    let console = console_price(cfg, name, &recorded.usd_per_gb);
    let priced_at = match engine {
        Some(Engine::GuardDuty) => Some("GuardDuty's list price".to_string()),
        Some(Engine::Console) => console.as_ref().map(|(_, said)| said.clone()),
        None => None,
    };
    let console = console.map(|(p, _)| p);
    let recorded_days = recorded.days.get(name).copied().unwrap_or(0);
    let recorded = recorded.bytes.get(name).copied();
    let owner = by.and_then(|(_, b)| b.owner.clone());
    let window_days = cfg.inventory.window_days;
    let price = |p: &Part| Priced {
        name: p.name.clone(),
        objects: p.objects,
        bytes: p.bytes,
        monthly_usd: monthly(cfg, engine, console, p.bytes, p.objects, window_days),
    };
    let mut b = Bucket {
        bucket: name.to_string(),
        owner,
        engine: match engine {
            Some(Engine::GuardDuty) => "GuardDuty",
            Some(Engine::Console) => "Console",
            None => "not scanned by a configured engine",
        },
        delivery: None,
        window_days,
        monthly_usd: None,
        priced_at,
        prefixes: Vec::new(),
        extensions: Vec::new(),
        duplicate_bytes: 0,
        duplicate_objects: 0,
        duplicates_complete: true,
        duplicate_saving_usd: None,
        recorded_bytes: recorded,
        recorded_days,
        explained_share: None,
        summary: None,
        error: None,
        athena: None,
    };
    match read {
        Err(e) => b.error = Some(e),
        Ok((delivery, s)) => {
            b.delivery = Some(delivery);
            b.monthly_usd = monthly(cfg, engine, console, s.bytes, s.objects, window_days);
            b.prefixes = s.prefixes.iter().map(price).collect();
            b.extensions = s.extensions.iter().map(price).collect();
            (b.duplicate_bytes, b.duplicate_objects, b.duplicates_complete) =
                (s.duplicate_bytes, s.duplicate_objects, s.duplicates_complete);
            b.duplicate_saving_usd = monthly(cfg, engine, console, s.duplicate_bytes, s.duplicate_objects, window_days);
            // Over most of the window's days, or the comparison says nothing.
            let most = recorded_days as u32 * 10 >= window_days * 9;
            b.explained_share = recorded.filter(|r| *r > 0.0 && most).map(|r| s.bytes as f64 / r);
            b.summary = Some(s);
        }
    }
    b
}

fn usd(v: Option<f64>) -> String {
    v.map_or("-".into(), |u| format!("USD {:.2}", u + 0.0))
}

fn gb(bytes: u64) -> String {
    format!("{:.3}", bytes as f64 / 1e9)
}

/// The prefixes of `buckets` as rows of the coverage workbooks' sheet "where the bytes come from".
pub fn prefix_rows(buckets: &[Bucket]) -> Vec<crate::coverage::render::PrefixRow> {
    let rows = buckets.iter().flat_map(|b| b.prefixes.iter().map(move |p| (b, p)));
    rows.map(|(b, p)| crate::coverage::render::PrefixRow {
        bucket: b.bucket.clone(),
        prefix: p.name.clone(),
        objects: p.objects,
        gb: p.bytes as f64 / 1e9,
        usd: p.monthly_usd,
        window_days: b.window_days,
    })
    .collect()
}

/// The report, a section per bucket; every name from the inventory escaped for Markdown.
pub fn markdown_report(buckets: &[Bucket]) -> String {
    let mut out = String::from("# Where the scanned bytes come from\n\n");
    out.push_str("From each bucket's latest S3 Inventory: the objects last modified in the window (what event scanning scanned, as far as they still exist), a month's cost at the bucket's engine, which is what not scanning them would save.\n");
    for b in buckets {
        let team = b.owner.as_deref().map_or("no owner".to_string(), |o| format!("team {}", markdown(o)));
        out.push_str(&format!("\n## {} ({team}, {})\n\n", markdown(&b.bucket), b.engine));
        let (Some(s), Some(d)) = (&b.summary, &b.delivery) else {
            out.push_str(&format!("Not read: {}\n", markdown(b.error.as_deref().unwrap_or("?"))));
            continue;
        };
        out.push_str(&format!(
            "Inventory {}: {} objects, {} GB last modified in the {} days ({}); {} older, {} malformed rows.\n\n",
            markdown(d),
            s.objects,
            gb(s.bytes),
            b.window_days,
            match b.monthly_usd {
                Some(u) => format!(
                    "about USD {:.2} a month to scan, at {}",
                    u + 0.0,
                    markdown(b.priced_at.as_deref().unwrap_or("?"))
                ),
                None if b.engine == "Console" => {
                    "not priced: set coverage.console_usd_per_gb, or [cost] values whose cost per GB is recorded"
                        .to_string()
                }
                None => "not priced: no configured engine scans it".to_string(),
            },
            s.older,
            s.malformed
        ));
        if let Some(a) = &b.athena {
            out.push_str(&format!(
                "Read by Athena (query {}): {} GB scanned, USD {:.4}.\n\n",
                markdown(&a.query_id),
                gb(a.scanned_bytes),
                a.usd
            ));
        }
        for (title, parts) in [("prefix", &b.prefixes), ("extension", &b.extensions)] {
            out.push_str(&format!(
                "| {title} | objects | GB | a month (saved if not scanned) |\n|---|---:|---:|---:|\n"
            ));
            for p in parts.iter().take(TOP) {
                out.push_str(&format!(
                    "| {} | {} | {} | {} |\n",
                    markdown(&p.name),
                    p.objects,
                    gb(p.bytes),
                    usd(p.monthly_usd)
                ));
            }
            if parts.len() > TOP {
                out.push_str(&format!("| {} more | | | |\n", parts.len() - TOP));
            }
            out.push('\n');
        }
        let floor = if b.duplicates_complete { "" } else { " (at least: not every content could be compared)" };
        out.push_str(&format!(
            "Duplicate content: {} copies of content already under another key, {} GB{floor}{}.\n",
            b.duplicate_objects,
            gb(b.duplicate_bytes),
            b.duplicate_saving_usd
                .map(|u| format!("; scanning each content once would save USD {:.2} a month", u + 0.0))
                .unwrap_or_default()
        ));
        out.push_str(&explained(b));
        for p in &s.problems {
            out.push_str(&format!("\n- {}", markdown(p)));
        }
        if !s.problems.is_empty() {
            out.push('\n');
        }
    }
    out
}

/// The inventory against what was recorded as scanned on the same days, and what the rest
/// likely is.
fn explained(b: &Bucket) -> String {
    let (Some(recorded), Some(s)) = (b.recorded_bytes, &b.summary) else {
        return "\nNo scanned volume recorded for it on these days: nothing to compare with.\n".into();
    };
    let Some(share) = b.explained_share else {
        return format!(
            "\nRecorded as scanned on only {} of the {} days ({} GB): too few to say what share of it the inventory explains.\n",
            b.recorded_days,
            b.window_days,
            gb(recorded as u64)
        );
    };
    let inventory = s.bytes as f64;
    let rest = if share < 1.0 {
        format!(
            "the other {} GB were likely scanned more than once (re-scans, retro scans) or deleted since upload",
            gb((recorded - inventory).max(0.0) as u64)
        )
    } else {
        format!(
            "{} GB more were uploaded than scanned: prefixes the engine skips, or uploads not scanned yet",
            gb((inventory - recorded).max(0.0) as u64)
        )
    };
    format!(
        "\nRecorded as scanned on these days: {} GB; the inventory explains {:.0}% of it; {rest}.\n",
        gb(recorded as u64),
        share.min(1.0) * 100.0
    )
}

/// One line per bucket and prefix, extension or duplicate content, for a spreadsheet or a
/// script: every name from the inventory neutralised for a spreadsheet (a formula never runs).
pub fn csv(buckets: &[Bucket]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["bucket", "owner", "engine", "kind", "name", "objects", "gb", "usd_a_month"])?;
    for b in buckets {
        for (kind, name, objects, bytes, usd) in lines(b) {
            let (objects, usd) = (objects.to_string(), usd.map(|u| format!("{:.2}", u + 0.0)).unwrap_or_default());
            let owner = b.owner.as_deref().unwrap_or("");
            let cells = [&b.bucket, owner, b.engine, kind, name, &objects, &gb(bytes), &usd];
            w.write_record(cells.map(|c| crate::text::spreadsheet(c).into_owned()))?;
        }
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

/// A bucket's lines: each prefix, each extension, then its duplicate copies.
fn lines(b: &Bucket) -> impl Iterator<Item = (&'static str, &str, u64, u64, Option<f64>)> {
    let prefixes = b.prefixes.iter().map(|p| ("prefix", p.name.as_str(), p.objects, p.bytes, p.monthly_usd));
    let extensions = b.extensions.iter().map(|p| ("extension", p.name.as_str(), p.objects, p.bytes, p.monthly_usd));
    let dups = b.summary.as_ref().map(|_| {
        (
            "duplicates",
            "copies of content under another key",
            b.duplicate_objects,
            b.duplicate_bytes,
            b.duplicate_saving_usd,
        )
    });
    prefixes.chain(extensions).chain(dups)
}

/// `efficiency.xlsx`: a sheet of the buckets (totals, duplicates, the explained share), one of
/// every bucket's prefixes and one of their extensions, numbers as numbers.
pub fn workbook(buckets: &[Bucket], path: &std::path::Path) -> Result<(), rust_xlsxwriter::XlsxError> {
    use crate::text::spreadsheet;
    let mut book = rust_xlsxwriter::Workbook::new();
    let bold = rust_xlsxwriter::Format::new().set_bold();
    let sheet = book.add_worksheet().set_name("buckets")?;
    let header = [
        "bucket",
        "owner",
        "engine",
        "inventory",
        "objects",
        "GB",
        "USD a month",
        "duplicate GB",
        "USD a month saved by scanning each content once",
        "share of the recorded scanned bytes",
        "not read",
    ];
    for (c, h) in header.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    for (i, b) in buckets.iter().enumerate() {
        let row = i as u32 + 1;
        let texts = [&b.bucket, b.owner.as_deref().unwrap_or(""), b.engine, b.delivery.as_deref().unwrap_or("")];
        for (c, t) in texts.iter().enumerate() {
            sheet.write_string(row, c as u16, spreadsheet(t))?;
        }
        if let Some(s) = &b.summary {
            sheet.write_number(row, 4, s.objects as f64)?;
            sheet.write_number(row, 5, s.bytes as f64 / 1e9)?;
            sheet.write_number(row, 7, b.duplicate_bytes as f64 / 1e9)?;
        }
        for (c, v) in [(6, b.monthly_usd), (8, b.duplicate_saving_usd), (9, b.explained_share)] {
            if let Some(v) = v {
                sheet.write_number(row, c, v)?;
            }
        }
        sheet.write_string(row, 10, spreadsheet(b.error.as_deref().unwrap_or("")))?;
    }
    for (name, kind) in [("prefixes", "prefix"), ("extensions", "extension")] {
        let sheet = book.add_worksheet().set_name(name)?;
        for (c, h) in
            ["bucket", "owner", kind, "objects", "GB", "USD a month (saved if not scanned)"].iter().enumerate()
        {
            sheet.write_string_with_format(0, c as u16, *h, &bold)?;
        }
        let mut row = 1;
        for b in buckets {
            for (_, part, objects, bytes, usd) in lines(b).filter(|l| l.0 == kind) {
                sheet.write_string(row, 0, spreadsheet(&b.bucket))?;
                sheet.write_string(row, 1, spreadsheet(b.owner.as_deref().unwrap_or("")))?;
                sheet.write_string(row, 2, spreadsheet(part))?;
                sheet.write_number(row, 3, objects as f64)?;
                sheet.write_number(row, 4, bytes as f64 / 1e9)?;
                if let Some(u) = usd {
                    sheet.write_number(row, 5, u)?;
                }
                row += 1;
            }
        }
        sheet.set_freeze_panes(1, 0)?;
    }
    book.save(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"
[antivirus]
base_url = "https://acme-1a2b.cloudstoragesecapp.com"
[[antivirus.buckets]]
name = "uploads"
[[antivirus.buckets]]
name = "logs"
[cost]
tag_key = "team"
[[cost.tags]]
value = "agents"
[[cost.tags]]
value = "console"
[[cost.tags]]
value = "logging"
pays_for = ["logs"]
"#;

    #[test]
    fn a_console_bucket_is_priced_at_the_measured_cost_per_gb_of_the_values_paying_for_it() {
        let cfg = Config::parse(CONFIG, "t").unwrap();
        let measured: std::collections::BTreeMap<String, f64> =
            [("agents".to_string(), 0.02), ("console".to_string(), 0.005), ("logging".to_string(), 1.0)].into();
        // "logging" pays for logs only.
        let (p, said) = console_price(&cfg, "uploads", &measured).unwrap();
        assert!((p - 0.025).abs() < 1e-12, "{p}");
        assert_eq!(said, "the measured cost per GB scanned of team = agents, console over the window");
        assert!((console_price(&cfg, "logs", &measured).unwrap().0 - 1.025).abs() < 1e-12);
        // Nothing measured: not priced; a configured price wins.
        assert_eq!(console_price(&cfg, "uploads", &Default::default()), None);
        let set = Config::parse(&format!("{CONFIG}[coverage]\nconsole_usd_per_gb = 0.05\n"), "t").unwrap();
        assert_eq!(console_price(&set, "uploads", &measured), Some((0.05, "coverage.console_usd_per_gb".into())));
        // 30 GB over 30 days at USD 0.025 a GB: a month of 30.42 GB.
        let summary = Summary { objects: 3, bytes: 30_000_000_000, ..Default::default() };
        let rec = crate::sources::inventory::Recorded { usd_per_gb: measured, ..Default::default() };
        let b = bucket(&cfg, "uploads", Ok(("2026-12-04T01-00Z".into(), summary)), &rec);
        let month = 30.0 * DAYS_PER_MONTH / 30.0 * 0.025;
        assert!((b.monthly_usd.unwrap() - month).abs() < 1e-9, "{b:?}");
        assert!(markdown_report(&[b])
            .contains("a month to scan, at the measured cost per GB scanned of team = agents, console"));
    }

    #[test]
    fn a_hostile_prefix_is_text_in_the_csv_and_the_markdown() {
        let cfg = Config::parse(CONFIG, "t").unwrap();
        let part = |name: &str| Part { name: name.into(), objects: 1, bytes: 1_000 };
        let summary = Summary {
            objects: 2,
            bytes: 2_000,
            prefixes: vec![part("=HYPERLINK(\"http://x\")/"), part("a|b*<x>/")],
            ..Default::default()
        };
        let b = bucket(&cfg, "uploads", Ok(("d".into(), summary)), &Default::default());
        let csv = String::from_utf8(csv(std::slice::from_ref(&b)).unwrap()).unwrap();
        assert!(csv.contains(",prefix,\"'=HYPERLINK(\"\"http://x\"\")/\","), "{csv}");
        let md = markdown_report(&[b]);
        assert!(md.contains("| a\\|b\\*"), "{md}");
    }

    #[test]
    fn the_share_the_inventory_explains_is_said_over_most_of_the_window_only() {
        let cfg = Config::parse(CONFIG, "t").unwrap();
        let summary = || Ok(("d".to_string(), Summary { objects: 1, bytes: 30_000_000_000, ..Default::default() }));
        let rec = |days: usize| crate::sources::inventory::Recorded {
            bytes: [("uploads".to_string(), 40e9)].into(),
            days: [("uploads".to_string(), days)].into(),
            ..Default::default()
        };
        let one = bucket(&cfg, "uploads", summary(), &rec(1));
        assert_eq!(one.explained_share, None);
        let md = markdown_report(&[one]);
        assert!(md.contains("Recorded as scanned on only 1 of the 30 days (40.000 GB): too few to say"), "{md}");
        let most = bucket(&cfg, "uploads", summary(), &rec(27));
        assert_eq!(most.explained_share, Some(0.75));
        assert!(markdown_report(&[most]).contains("the inventory explains 75% of it"));
    }
}
