//! `costwarden inventory review DIR`: the team workbooks of `coverage`, filled in, read back.
//! Every decision and who reviewed it; each malformed cell located (file, sheet, row, column)
//! and skipped; a summary; and a change plan for review (per bucket the engine's change, the
//! plan lowered by what a skipped prefix no longer scans). Reading the files is this module's
//! one I/O: the rest is pure.

use std::path::Path;

use calamine::{Data, DataType, Reader};
use serde::Serialize;

use crate::coverage::render::{title, DECISIONS, PREFIX_DECISIONS};
use crate::text::markdown;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Review {
    pub teams: Vec<Team>,
    /// "file, sheet, row N, column C: why", each skipped.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Team {
    pub team: String,
    pub file: String,
    /// Who reviewed, as written (any row's "reviewed by").
    pub reviewed_by: Vec<String>,
    pub buckets: Vec<Decision>,
    pub prefixes: Vec<Decision>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Decision {
    pub bucket: String,
    /// Empty for a bucket's own decision.
    pub prefix: String,
    pub decision: String,
    pub comment: String,
    /// What it costs a month now: the bucket's estimated cost, or the prefix's "saved if
    /// skipped" (None when the sheet had no amount).
    pub usd: Option<f64>,
    /// The prefix's GB over the sheet's window (`inventory.window_days`).
    pub gb: Option<f64>,
}

impl Decision {
    /// What the decision saves a month, as far as the sheet says: a stopped bucket its whole
    /// cost, a skipped prefix its own; "scan less" and the rest are not estimated.
    pub fn saving(&self) -> Option<f64> {
        match self.decision.as_str() {
            "stop" | "skip" => self.usd,
            _ => None,
        }
    }
}

/// The records of this review (`[inventory.review]`): `InventoryReviewed{Owner=team}` = today
/// for each team whose workbook was read reviewed, so its digest stops reminding it. Only a
/// team thresholds.toml expects is recorded (a workbook's team is data, and a dimension value
/// is a billed stream); the others are named.
pub fn records(
    r: &Review,
    cfg: &crate::config::Config,
    today: chrono::NaiveDate,
) -> (Vec<crate::model::Sample>, Vec<String>) {
    use crate::metrics::{Metric, DIM_OWNER};
    let Some(round) = &cfg.inventory.review else { return (Vec::new(), Vec::new()) };
    let expected = round.expected(cfg);
    let (mut out, mut not) = (Vec::new(), Vec::new());
    for t in r.teams.iter().filter(|t| !t.reviewed_by.is_empty()) {
        if expected.contains(&t.team) {
            let key = crate::model::SeriesKey::new(Metric::InventoryReviewed, vec![(DIM_OWNER, t.team.clone())]);
            out.push(crate::model::Sample::gauge(key, crate::model::day_code(today)));
        } else {
            not.push(crate::text::terminal(&t.team).into_owned());
        }
    }
    (out, not)
}

/// Every `coverage-*.xlsx` under `dir`, in name order.
pub fn read_dir(dir: &Path) -> Result<Review, String> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("coverage-") && n.ends_with(".xlsx"))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!(
            "no coverage-<team>.xlsx in {}: run `costwarden coverage` and collect the filled workbooks there",
            dir.display()
        ));
    }
    let mut review = Review::default();
    for f in files {
        read_workbook(&f, &mut review);
    }
    Ok(review)
}

/// A team's workbook is tens of kilobytes; one far larger is not what `coverage` wrote, and
/// calamine would hold it whole.
const MAX_WORKBOOK_BYTES: u64 = 20 << 20;

fn read_workbook(path: &Path, review: &mut Review) {
    let file = path.file_name().and_then(|n| n.to_str()).unwrap_or("?").to_string();
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if size > MAX_WORKBOOK_BYTES {
        return review.problems.push(format!("{file}: {size} bytes, over the {MAX_WORKBOOK_BYTES} read; not read"));
    }
    let mut book: calamine::Xlsx<_> = match calamine::open_workbook(path) {
        Ok(b) => b,
        Err(e) => return review.problems.push(format!("{file}: not a workbook: {e}")),
    };
    let names = book.sheet_names();
    let Some(team) = names.iter().find(|n| n.as_str() != title::PREFIX_SHEET).cloned() else {
        return review.problems.push(format!("{file}: no team sheet"));
    };
    let mut t = Team { team: team.clone(), file: file.clone(), ..Default::default() };
    match book.worksheet_range(&team) {
        Ok(range) => {
            let rows = Sheet { file: &file, name: &team, range: &range };
            rows.decisions(&DECISIONS, (title::COST, None), &mut t, &mut review.problems, false);
        }
        Err(e) => review.problems.push(format!("{file}, sheet {}: unreadable: {e}", terminal(&team))),
    }
    if names.iter().any(|n| n == title::PREFIX_SHEET) {
        if let Ok(range) = book.worksheet_range(title::PREFIX_SHEET) {
            let rows = Sheet { file: &file, name: title::PREFIX_SHEET, range: &range };
            let columns = (title::SAVED, Some(title::PREFIX_GB));
            rows.decisions(&PREFIX_DECISIONS, columns, &mut t, &mut review.problems, true);
        }
    }
    review.teams.push(t);
}

fn terminal(s: &str) -> String {
    crate::text::terminal(s).into_owned()
}

struct Sheet<'a> {
    file: &'a str,
    name: &'a str,
    range: &'a calamine::Range<Data>,
}

impl Sheet<'_> {
    /// Reads the rows under the header; `allowed` decisions, the amount column by title (and
    /// the GB column by the start of its title, which says the window's days); prefixes when
    /// `prefixes`.
    fn decisions(
        &self,
        allowed: &[&str],
        (usd_col, gb_col): (&str, Option<&str>),
        team: &mut Team,
        problems: &mut Vec<String>,
        prefixes: bool,
    ) {
        let mut rows = self.range.rows();
        let Some(header) = rows.next() else { return };
        let col = |title: &str| header.iter().position(|c| c.get_string() == Some(title));
        let at = |row: usize, c: usize| {
            format!("{}, sheet {}, row {}, column {}", self.file, terminal(self.name), row + 1, column_letter(c))
        };
        let (Some(bucket), Some(decision), Some(comment), Some(by)) =
            (col(title::BUCKET), col(title::DECISION), col(title::COMMENT), col(title::REVIEWED_BY))
        else {
            problems.push(format!(
                "{}, sheet {}: the header lacks bucket, decision, comment or reviewed by",
                self.file,
                terminal(self.name)
            ));
            return;
        };
        let starts = |t: &str| header.iter().position(|c| c.get_string().is_some_and(|s| s.starts_with(t)));
        let (usd, gb, prefix) = (col(usd_col), gb_col.and_then(starts), col(title::PREFIX));
        for (i, row) in rows.enumerate() {
            let r = i + 1;
            let cell = |c: Option<usize>| {
                c.and_then(|c| row.get(c)).map(|d| d.to_string().trim().to_string()).unwrap_or_default()
            };
            let number = |c: Option<usize>| c.and_then(|c| row.get(c)).and_then(|d| d.as_f64());
            let who = cell(Some(by));
            if !who.is_empty() && !team.reviewed_by.contains(&who) {
                team.reviewed_by.push(who);
            }
            let chosen = cell(Some(decision));
            if chosen.is_empty() {
                continue;
            }
            if !allowed.contains(&chosen.as_str()) {
                problems.push(format!(
                    "{}: {:?} is not one of {}; skipped",
                    at(r, decision),
                    terminal(&chosen),
                    allowed.join(", ")
                ));
                continue;
            }
            let d = Decision {
                bucket: cell(Some(bucket)),
                prefix: if prefixes { cell(prefix) } else { String::new() },
                decision: chosen,
                comment: cell(Some(comment)),
                usd: number(usd),
                gb: number(gb),
            };
            if prefixes {
                team.prefixes.push(d)
            } else {
                team.buckets.push(d)
            }
        }
    }
}

fn column_letter(c: usize) -> String {
    let (mut n, mut s) = (c + 1, String::new());
    while n > 0 {
        let r = (n - 1) % 26;
        s.insert(0, (b'A' + r as u8) as char);
        n = (n - 1) / 26;
    }
    s
}

/// The review's summary and change plan, for people to review (`--json` prints it with the
/// decisions).
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub teams_reviewed: Vec<String>,
    pub teams_not_reviewed: Vec<String>,
    pub bucket_decisions: usize,
    pub prefix_decisions: usize,
    /// The month's estimated saving of the stop and skip decisions ("scan less" says no amount).
    pub saving_usd: f64,
    /// Decisions of "scan less", whose saving the team is to say.
    pub not_estimated: usize,
    pub changes: Vec<Change>,
}

/// One decision to act on.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub team: String,
    pub bucket: String,
    /// Empty for a bucket's own decision.
    pub prefix: String,
    pub decision: String,
    /// What to change, for the bucket's engine (or the conversation to have).
    pub change: String,
    /// thresholds.toml's new plan for the bucket, when a skipped prefix lowers it, and the
    /// baseline it replaces (GB a day).
    pub plan: Option<String>,
    pub plan_was_gb_per_day: Option<f64>,
    pub saves_usd: Option<f64>,
    pub comment: String,
}

pub fn plan(r: &Review, cfg: &crate::config::Config, today: chrono::NaiveDate) -> Plan {
    let all = || r.teams.iter().flat_map(|t| t.buckets.iter().chain(&t.prefixes));
    let mut changes = Vec::new();
    for t in &r.teams {
        for d in t.buckets.iter().chain(&t.prefixes).filter(|d| d.decision != "keep" && d.decision != "keep scanning") {
            let (change, lowered) = change(cfg, d, today);
            changes.push(Change {
                team: t.team.clone(),
                bucket: d.bucket.clone(),
                prefix: d.prefix.clone(),
                decision: d.decision.clone(),
                change,
                plan: lowered.as_ref().map(|(line, _)| line.clone()),
                plan_was_gb_per_day: lowered.map(|(_, was)| was),
                saves_usd: d.saving(),
                comment: d.comment.clone(),
            });
        }
    }
    let names = |reviewed: bool| {
        r.teams.iter().filter(|t| t.reviewed_by.is_empty() != reviewed).map(|t| t.team.clone()).collect()
    };
    Plan {
        teams_reviewed: names(true),
        teams_not_reviewed: names(false),
        bucket_decisions: r.teams.iter().map(|t| t.buckets.len()).sum(),
        prefix_decisions: r.teams.iter().map(|t| t.prefixes.len()).sum(),
        saving_usd: all().filter_map(Decision::saving).sum::<f64>() + 0.0,
        not_estimated: all().filter(|d| d.decision == "scan less").count(),
        changes,
    }
}

/// The summary and the change plan, for review, as Markdown; every cell's text escaped.
pub fn markdown_plan(r: &Review, cfg: &crate::config::Config, today: chrono::NaiveDate) -> String {
    let p = plan(r, cfg, today);
    let not: Vec<String> = p.teams_not_reviewed.iter().map(|t| markdown(t).into_owned()).collect();
    let unpriced = match p.not_estimated {
        0 => String::new(),
        n => format!(" ({n} \"scan less\" not estimated: how much less is the team's to say)"),
    };
    let mut out = format!(
        "# Inventory review, {today}\n\n{} of {} teams reviewed{}; {} bucket and {} prefix decisions; the month's estimated saving of the stop and skip decisions: USD {:.2}{unpriced}.\n",
        p.teams_reviewed.len(),
        r.teams.len(),
        if not.is_empty() { String::new() } else { format!(" (not yet: {})", not.join(", ")) },
        p.bucket_decisions,
        p.prefix_decisions,
        p.saving_usd
    );
    out.push_str(
        "\n## Change plan\n\n| team | bucket | change | saves a month | why (comment) |\n|---|---|---|---:|---|\n",
    );
    for c in &p.changes {
        let saves = c.saves_usd.map_or("-".into(), |u| format!("USD {u:.2}"));
        // The plan line is costwarden's own text (numbers and a date), shown as code.
        let plan = match (&c.plan, c.plan_was_gb_per_day) {
            (Some(l), Some(was)) => format!("; thresholds.toml: `{l}` (was {was:.3} GB/day)"),
            _ => String::new(),
        };
        out.push_str(&format!(
            "| {} | {} | {}{plan} | {saves} | {} |\n",
            markdown(&c.team),
            markdown(&c.bucket),
            markdown(&c.change),
            markdown(&c.comment)
        ));
    }
    for p in &r.problems {
        out.push_str(&format!("\n- {}", markdown(p)));
    }
    out.push('\n');
    out
}

/// What to change for one decision, said for the bucket's engine; a skipped prefix also
/// lowers the bucket's plan by the bytes a day it no longer scans (the sheet's GB are of the
/// inventory window).
fn change(cfg: &crate::config::Config, d: &Decision, today: chrono::NaiveDate) -> (String, Option<(String, f64)>) {
    use crate::sources::coverage::Engine;
    let by = crate::efficiency::scanned_by(cfg, &d.bucket);
    let prefix = &d.prefix;
    let said = match (d.decision.as_str(), by.map(|(e, _)| e)) {
        ("stop", Some(Engine::GuardDuty)) => "GuardDuty: remove the bucket from the malware protection plan".into(),
        ("stop", Some(Engine::Console)) => "Console: turn the bucket's protection off".into(),
        ("skip", Some(e)) => {
            let engine = match e {
                Engine::GuardDuty => {
                    format!("GuardDuty: narrow the plan's object prefixes so that {prefix} is not among them")
                }
                Engine::Console => format!("Console: add {prefix} to the bucket's skipped paths"),
            };
            let window = f64::from(cfg.inventory.window_days.max(1));
            let plan = by.and_then(|(_, b)| b.plan.as_ref()).zip(d.gb).map(|(p, gb)| {
                let lower = (p.baseline - gb * 1e9 / window).max(0.0);
                (format!("plan = {{ baseline = \"{:.3} GB\", since = {today} }}", lower / 1e9), p.baseline / 1e9)
            });
            return (engine, plan);
        }
        ("scan less", _) => "the team's proposal to scan less: agree which paths with them".into(),
        ("scan more", _) => "the team asks for more scanning: add paths or protection".into(),
        ("fix in the application", _) => {
            format!("the team changes its application so that {prefix} is not uploaded as now")
        }
        // A stop or skip for a bucket no configured engine scans: there is nothing to change.
        _ => "not scanned by a configured engine: nothing to change".into(),
    };
    (said, None)
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_are_lettered_as_a_spreadsheet_does() {
        assert_eq!(super::column_letter(0), "A");
        assert_eq!(super::column_letter(11), "L");
        assert_eq!(super::column_letter(26), "AA");
    }
}
