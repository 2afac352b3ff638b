//! Coverage: which S3 buckets and paths are scanned, by which engine, for which team, at what
//! estimated cost; and which are not. The S3 console and the antivirus Console are separate, so
//! nobody else can tell. `collect` reads S3, the Console's bucket-protection settings,
//! GuardDuty's plans and costwarden's own 30-day volumes; `rows` (pure) classifies. The
//! `costwarden coverage` command renders them (`crate::coverage`); with `[coverage] alert` the
//! run reads them once a day as a source (`daily`).

pub mod collect;
mod daily;

pub use daily::Daily;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::config::Config;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Console,
    GuardDuty,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Console => "console",
            Engine::GuardDuty => "guardduty",
        }
    }

    /// What scanning `gb` and `objects` costs with this engine: GuardDuty at its list prices,
    /// the Console at `console_usd_per_gb` (None without one: its price is the account's own).
    pub fn usd(
        self,
        cov: &crate::config::Coverage,
        console_usd_per_gb: Option<f64>,
        gb: f64,
        objects: f64,
    ) -> Option<f64> {
        match self {
            Engine::Console => console_usd_per_gb.map(|p| gb * p),
            Engine::GuardDuty => Some(cov.guardduty_usd(gb, objects)),
        }
    }
}

/// The region of a bucket whose location S3 did not give (GetBucketLocation denied).
pub const UNKNOWN_REGION: &str = "?";

/// A bucket as S3 lists it; `tags` is the reason when they could not be read.
#[derive(Debug, Clone)]
pub struct S3Bucket {
    pub name: String,
    pub region: String,
    pub tags: Result<Vec<(String, String)>, String>,
}

/// One engine's protection of one bucket, as the Console or a GuardDuty plan states it.
#[derive(Debug, Clone, PartialEq)]
pub struct Protection {
    pub bucket: String,
    pub engine: Engine,
    pub enabled: bool,
    /// Empty: the whole bucket.
    pub scanned_paths: Vec<String>,
    pub skipped_paths: Vec<String>,
    pub mode: Option<String>,
}

/// What `collect` found, before classification.
#[derive(Debug, Default)]
pub struct Inputs {
    pub account: String,
    pub buckets: Vec<S3Bucket>,
    pub protections: Vec<Protection>,
    /// Bytes and objects scanned over the window, per (engine, bucket), from costwarden's own
    /// metrics (objects None where they are not written).
    pub volumes: BTreeMap<(Engine, String), (f64, Option<f64>)>,
    /// Items skipped (malformed settings): the command exits 1.
    pub problems: Vec<String>,
    /// Read, but partly (a bucket's tags): said, the rest complete.
    pub warnings: Vec<String>,
    /// A protection list (the Console's, GuardDuty's plans) was read only in part: a bucket
    /// not found scanned is then "unknown", not "unscanned". Why is among `problems`.
    pub partial: bool,
    /// Buckets whose protection item could not be read: "unknown" unless another engine scans them.
    pub unknown_buckets: BTreeSet<String>,
}

impl Inputs {
    /// A protection list read only in part, and why (the command then exits 1).
    pub fn partly_read(&mut self, problem: String) {
        self.partial = true;
        self.problems.push(problem);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scanned {
    Yes,
    Partly,
    No,
    Excluded,
    /// Named by the Console or a plan, absent from S3.
    NotFound,
    /// Not found scanned, but a protection list was read in part: it may have been missed.
    Unknown,
}

impl Scanned {
    pub fn label(self) -> &'static str {
        match self {
            Scanned::Yes => "yes",
            Scanned::Partly => "partly",
            Scanned::No => "no",
            Scanned::Excluded => "excluded",
            Scanned::NotFound => "configured, not found",
            Scanned::Unknown => "unknown",
        }
    }
}

pub const UNOWNED: &str = "unowned";
pub const OWNER_UNKNOWN: &str = "owner unknown";

/// One bucket of the inventory, the same in every format.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub account: String,
    pub region: String,
    pub bucket: String,
    pub owner: String,
    pub scanned: Scanned,
    /// "console", "guardduty", both joined by "+", or "" when none.
    pub engine: String,
    pub scanned_paths: Vec<String>,
    pub skipped_paths: Vec<String>,
    pub scan_mode: Option<String>,
    pub gb: Option<f64>,
    pub objects: Option<f64>,
    /// None: not priced (no volume, or no price for the engine).
    pub usd: Option<f64>,
    pub note: Option<String>,
}

/// The owners thresholds.toml gives buckets, by name.
fn configured_owners(cfg: &Config) -> BTreeMap<&str, &str> {
    let av = cfg.antivirus.iter().flat_map(|a| &a.buckets);
    let gd = cfg.guardduty.iter().flat_map(|g| &g.buckets);
    av.chain(gd).filter_map(|b| Some((b.name.as_str(), b.owner.as_deref()?))).collect()
}

/// Classifies every bucket (pure): sorted by account, region, bucket.
pub fn rows(cfg: &Config, inputs: &Inputs) -> Vec<Row> {
    let cov = &cfg.coverage;
    let owners = configured_owners(cfg);
    let mut by_bucket: BTreeMap<&str, Vec<&Protection>> = BTreeMap::new();
    for p in &inputs.protections {
        by_bucket.entry(p.bucket.as_str()).or_default().push(p);
    }
    let in_s3: BTreeSet<&str> = inputs.buckets.iter().map(|b| b.name.as_str()).collect();
    let mut out = Vec::new();
    let mut add = |name: &str, region: &str, tags: Option<&Result<Vec<(String, String)>, String>>| {
        let enabled: Vec<&Protection> =
            by_bucket.get(name).into_iter().flatten().copied().filter(|p| p.enabled).collect();
        let tag_list: &[(String, String)] = tags.and_then(|t| t.as_ref().ok()).map_or(&[], Vec::as_slice);
        let owner = match (&cov.owner_tag, tags) {
            (Some(key), Some(Ok(t))) => t.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()),
            (Some(_), Some(Err(_))) => Some(OWNER_UNKNOWN.to_string()),
            _ => None,
        }
        .or_else(|| owners.get(name).map(|o| o.to_string()))
        .unwrap_or_else(|| UNOWNED.to_string());
        let mut note = match tags {
            Some(Err(e)) => Some(format!("tags not read: {e}")),
            _ => None,
        };
        if tags.is_some() && region == UNKNOWN_REGION {
            note = Some(note.map_or("location not read".into(), |n| format!("location not read; {n}")));
        }
        let whole =
            |p: &&Protection| p.scanned_paths.iter().all(|s| s.is_empty() || s == "/") && p.skipped_paths.is_empty();
        let scanned = if tags.is_none() {
            Scanned::NotFound
        } else if enabled.is_empty() {
            match cov.excluded(name, tag_list) {
                Some(why) => {
                    note = Some(note.map_or(why.clone(), |n| format!("{why}; {n}")));
                    Scanned::Excluded
                }
                None if inputs.partial || inputs.unknown_buckets.contains(name) => {
                    let why = "protection not read in full (see the problems)";
                    note = Some(note.map_or(why.to_string(), |n| format!("{why}; {n}")));
                    Scanned::Unknown
                }
                None => Scanned::No,
            }
        } else if enabled.iter().any(whole) {
            Scanned::Yes
        } else {
            Scanned::Partly
        };
        let engines: BTreeSet<Engine> = enabled.iter().map(|p| p.engine).collect();
        let union = |f: fn(&Protection) -> &Vec<String>| {
            enabled.iter().flat_map(|p| f(p).iter().cloned()).collect::<BTreeSet<_>>().into_iter().collect::<Vec<_>>()
        };
        let modes: BTreeSet<&str> = enabled.iter().filter_map(|p| p.mode.as_deref()).collect();
        let (gb, objects, usd) = volume(cfg, inputs, name, &engines);
        out.push(Row {
            account: inputs.account.clone(),
            region: region.to_string(),
            bucket: name.to_string(),
            owner,
            scanned,
            engine: engines.iter().map(|e| e.name()).collect::<Vec<_>>().join("+"),
            scanned_paths: if enabled.iter().any(whole) { Vec::new() } else { union(|p| &p.scanned_paths) },
            skipped_paths: union(|p| &p.skipped_paths),
            scan_mode: (!modes.is_empty()).then(|| modes.into_iter().collect::<Vec<_>>().join(", ")),
            gb,
            objects,
            usd,
            note,
        });
    };
    for b in &inputs.buckets {
        add(&b.name, &b.region, Some(&b.tags));
    }
    for name in by_bucket.keys().filter(|n| !in_s3.contains(**n)) {
        add(name, "-", None);
    }
    out.sort_by(|a, b| (&a.account, &a.region, &a.bucket).cmp(&(&b.account, &b.region, &b.bucket)));
    out
}

/// GB and objects scanned over the window, and their estimated price, for the engines that
/// scan the bucket.
fn volume(
    cfg: &Config,
    inputs: &Inputs,
    bucket: &str,
    engines: &BTreeSet<Engine>,
) -> (Option<f64>, Option<f64>, Option<f64>) {
    let cov = &cfg.coverage;
    let (mut gb, mut objects, mut usd) = (None::<f64>, None::<f64>, Some(0.0));
    for e in engines {
        let Some((bytes, objs)) = inputs.volumes.get(&(*e, bucket.to_string())) else { continue };
        let g = bytes / 1e9;
        gb = Some(gb.unwrap_or(0.0) + g);
        if let Some(o) = objs {
            objects = Some(objects.unwrap_or(0.0) + o);
        }
        let price = e.usd(cov, cov.console_usd_per_gb, g, objs.unwrap_or(0.0));
        usd = usd.zip(price).map(|(a, b)| a + b);
    }
    (gb, objects, if gb.is_some() { usd } else { None })
}

/// What the run's coverage source observes: per bucket (scanned or not, excluded and absent
/// ones aside) 1 when unscanned, else 0, for the coverage rule, never written; and per owner
/// the count of its unscanned buckets, the UnscannedBuckets metric.
pub fn observations(rows: &[Row]) -> Vec<crate::model::Sample> {
    use crate::metrics::{Metric, DIM_BUCKET, DIM_OWNER};
    use crate::model::{Sample, SeriesKey};
    let mut per_owner: BTreeMap<&str, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for r in rows.iter().filter(|r| matches!(r.scanned, Scanned::Yes | Scanned::Partly | Scanned::No)) {
        let unscanned = r.scanned == Scanned::No;
        *per_owner.entry(r.owner.as_str()).or_default() += usize::from(unscanned);
        let dims = vec![(DIM_BUCKET, r.bucket.clone()), (DIM_OWNER, r.owner.clone())];
        out.push(Sample::gauge(SeriesKey::new(Metric::UnscannedBuckets, dims), f64::from(u8::from(unscanned))));
    }
    for (owner, n) in per_owner {
        let key = SeriesKey::new(Metric::UnscannedBuckets, vec![(DIM_OWNER, owner.to_string())]);
        out.push(Sample::gauge(key, n as f64));
    }
    out
}

/// Per team: buckets, unscanned, GB and estimated cost (showback).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TeamTotals {
    pub buckets: usize,
    pub scanned: usize,
    pub partly: usize,
    pub unscanned: usize,
    pub gb: f64,
    pub usd: f64,
    /// Some of its volume has no price (the Console's licence price is not set).
    pub unpriced: bool,
}

pub fn by_team(rows: &[Row]) -> BTreeMap<String, TeamTotals> {
    let mut out: BTreeMap<String, TeamTotals> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.scanned != Scanned::NotFound) {
        let t = out.entry(r.owner.clone()).or_default();
        t.buckets += 1;
        match r.scanned {
            Scanned::Yes => t.scanned += 1,
            Scanned::Partly => t.partly += 1,
            Scanned::No => t.unscanned += 1,
            _ => {}
        }
        t.gb += r.gb.unwrap_or(0.0);
        t.usd += r.usd.unwrap_or(0.0);
        t.unpriced |= r.gb.is_some() && r.usd.is_none();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> Config {
        let text = format!(
            "[ecs]\n[[ecs.services]]\ncluster = \"c\"\nservice = \"s\"\n[coverage]\nowner_tag = \"team\"\nexclude = [\"*-logs\"]\nconsole_usd_per_gb = 0.05\n{extra}"
        );
        Config::parse(&text, "t.toml").unwrap()
    }

    fn bucket(name: &str, tags: &[(&str, &str)]) -> S3Bucket {
        let tags = tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        S3Bucket { name: name.into(), region: "eu-west-1".into(), tags: Ok(tags) }
    }

    fn protect(bucket: &str, engine: Engine, paths: &[&str]) -> Protection {
        Protection {
            bucket: bucket.into(),
            engine,
            enabled: true,
            scanned_paths: paths.iter().map(|p| p.to_string()).collect(),
            skipped_paths: Vec::new(),
            mode: None,
        }
    }

    #[test]
    fn buckets_are_classified_owned_and_priced() {
        let inputs = Inputs {
            account: "111122223333".into(),
            buckets: vec![
                bucket("uploads", &[("team", "media")]),
                bucket("avatars", &[]),
                bucket("app-logs", &[("team", "platform")]),
                bucket("exports", &[("team", "data")]),
                S3Bucket { name: "secret".into(), region: "eu-west-1".into(), tags: Err("AccessDenied".into()) },
            ],
            protections: vec![
                protect("uploads", Engine::Console, &[]),
                protect("uploads", Engine::GuardDuty, &["incoming/"]),
                protect("avatars", Engine::Console, &["public/", "users/"]),
                protect("gone", Engine::GuardDuty, &[]),
            ],
            volumes: [
                ((Engine::Console, "uploads".to_string()), (10e9, None)),
                ((Engine::GuardDuty, "uploads".to_string()), (2e9, Some(4000.0))),
                ((Engine::Console, "avatars".to_string()), (1e9, None)),
            ]
            .into_iter()
            .collect(),
            ..Inputs::default()
        };
        let rows = rows(&config(""), &inputs);
        let got: Vec<(&str, &str, Scanned, &str)> =
            rows.iter().map(|r| (r.region.as_str(), r.bucket.as_str(), r.scanned, r.owner.as_str())).collect();
        assert_eq!(
            got,
            [
                ("-", "gone", Scanned::NotFound, UNOWNED),
                ("eu-west-1", "app-logs", Scanned::Excluded, "platform"),
                ("eu-west-1", "avatars", Scanned::Partly, UNOWNED),
                ("eu-west-1", "exports", Scanned::No, "data"),
                ("eu-west-1", "secret", Scanned::No, OWNER_UNKNOWN),
                ("eu-west-1", "uploads", Scanned::Yes, "media"),
            ]
        );
        let uploads = &rows[5];
        assert_eq!(uploads.engine, "console+guardduty");
        assert_eq!(uploads.scanned_paths, Vec::<String>::new(), "the Console scans it all");
        // 10 GB x 0.05 + 2 GB x 0.09 + 4 x 0.215
        assert!((uploads.usd.unwrap() - (0.5 + 0.18 + 0.86)).abs() < 1e-9, "{:?}", uploads.usd);
        assert_eq!(rows[2].scanned_paths, ["public/", "users/"]);
        assert_eq!(rows[1].note.as_deref(), Some("name matches \"*-logs\""));
        assert_eq!(rows[4].note.as_deref(), Some("tags not read: AccessDenied"));
        let teams = by_team(&rows);
        assert_eq!(teams["media"].gb, 12.0);
        assert_eq!((teams[UNOWNED].buckets, teams[UNOWNED].partly), (1, 1), "gone is not a bucket of anyone");

        // Without a Console price its volume is not priced.
        let mut unpriced = config("");
        unpriced.coverage.console_usd_per_gb = None;
        let rows = super::rows(&unpriced, &inputs);
        assert_eq!(rows[2].usd, None);
        assert!(by_team(&rows)[UNOWNED].unpriced);
    }
}
