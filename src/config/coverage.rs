//! `[coverage]`: which buckets `costwarden coverage` lists, who owns them, what is excluded, the
//! shape of the Console's bucket-protection settings, and the scan prices for showback.

use serde::Deserialize;

use super::validate::Validator;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Coverage {
    /// Opt-in: the run reads coverage once a day, writes UnscannedBuckets per owner, and a
    /// bucket neither scanned nor excluded raises WARNING to its owner (the `coverage` rule).
    pub alert: bool,
    /// Daemon schedule of this source (default: collector.schedule).
    pub schedule: Option<String>,
    /// The S3 bucket tag whose value names the owning team; else the owner in thresholds.toml.
    pub owner_tag: Option<String>,
    /// Bucket name patterns (`*`, `?`) that are not expected to be scanned (logs, artefacts).
    pub exclude: Vec<String>,
    /// A bucket tag `key=value` that excludes the bucket, e.g. "costwarden:scan=no".
    pub exclude_tag: Option<String>,
    /// Days of scanned volume summed per bucket, from costwarden's own metrics.
    pub history_days: u32,
    /// The Console product's licence price per GB scanned. No public list price was found (the
    /// product is sold through AWS Marketplace offers), so unset until you set yours; the cost
    /// column then says "not priced".
    pub console_usd_per_gb: Option<f64>,
    /// GuardDuty Malware Protection for S3, us-east-1 list price (aws.amazon.com/guardduty/pricing,
    /// as recorded in the project's design notes, 2026): USD 0.09 per GB scanned...
    pub guardduty_usd_per_gb: f64,
    /// ...and USD 0.215 per 1,000 objects evaluated.
    pub guardduty_usd_per_1000_objects: f64,
    /// The role the S3 client assumes (the buckets' account); default: none.
    pub role: Option<super::Role>,
    /// The Console's bucket-protection settings, undocumented like its statistics.
    pub console_api: ProtectionApi,
}

impl Coverage {
    /// GuardDuty's price of scanning `gb` and `objects`: the per-GB and per-object prices.
    pub fn guardduty_usd(&self, gb: f64, objects: f64) -> f64 {
        gb * self.guardduty_usd_per_gb + objects / 1000.0 * self.guardduty_usd_per_1000_objects
    }
}

impl Default for Coverage {
    fn default() -> Self {
        Coverage {
            alert: false,
            schedule: None,
            owner_tag: None,
            exclude: Vec::new(),
            exclude_tag: None,
            history_days: 30,
            console_usd_per_gb: None,
            guardduty_usd_per_gb: crate::price::GUARDDUTY_PER_GB,
            guardduty_usd_per_1000_objects: crate::price::GUARDDUTY_PER_1000_OBJECTS,
            role: None,
            console_api: ProtectionApi::default(),
        }
    }
}

/// Defaults match the project's Console double (`tests/support/console.rs`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProtectionApi {
    pub path: String,
    /// JSON pointer to the list of bucket settings.
    pub items_pointer: String,
    pub bucket_field: String,
    /// A boolean: protection on.
    pub enabled_field: String,
    /// A list of prefixes scanned; empty or absent: the whole bucket.
    pub scanned_paths_field: String,
    /// A list of prefixes skipped.
    pub skipped_paths_field: String,
    /// A string, e.g. "Event", "Retro", "Event+Retro".
    pub scan_mode_field: String,
    /// How the list is paged, as `[antivirus.api]` pages the statistics: "none" (one page;
    /// a page that says it has more is an incomplete list), "page" or "token".
    pub paging: super::Paging,
    pub page_param: String,
    pub page_size_param: String,
    pub page_size: u32,
    /// JSON pointer to the number of pages.
    pub total_pages_pointer: String,
    pub token_param: String,
    /// JSON pointer to the continuation token; absent, null or "" ends the list.
    pub next_token_pointer: String,
}

impl Default for ProtectionApi {
    fn default() -> Self {
        ProtectionApi {
            path: "/api/buckets/protection".into(),
            items_pointer: "/items".into(),
            bucket_field: "bucketName".into(),
            enabled_field: "protected".into(),
            scanned_paths_field: "scanPaths".into(),
            skipped_paths_field: "skipPaths".into(),
            scan_mode_field: "scanMode".into(),
            paging: super::Paging::None,
            page_param: "page".into(),
            page_size_param: "pageSize".into(),
            page_size: 500,
            total_pages_pointer: "/totalPages".into(),
            token_param: "continuationToken".into(),
            next_token_pointer: "/continuationToken".into(),
        }
    }
}

impl Coverage {
    pub(super) fn validate(&self, v: &mut Validator) {
        super::Role::check(&self.role, "coverage", v);
        v.schedule("coverage.schedule", self.schedule.as_deref());
        v.days("coverage.history_days", self.history_days);
        for (i, p) in self.exclude.iter().enumerate() {
            if let Err(e) = glob::Pattern::new(p) {
                v.push(&format!("coverage.exclude[{i}]"), format!("{p:?} is not a name pattern: {e}"));
            }
        }
        if let Some(t) = &self.exclude_tag {
            v.check("coverage.exclude_tag", t.split_once('=').is_some_and(|(k, _)| !k.is_empty()), "must be key=value");
        }
        for (name, p) in [
            ("console_usd_per_gb", self.console_usd_per_gb.unwrap_or(0.0)),
            ("guardduty_usd_per_gb", self.guardduty_usd_per_gb),
            ("guardduty_usd_per_1000_objects", self.guardduty_usd_per_1000_objects),
        ] {
            v.check(&format!("coverage.{name}"), p.is_finite() && p >= 0.0, "must be a price >= 0");
        }
        v.check("coverage.console_api.path", self.console_api.path.starts_with('/'), "must start with '/'");
        v.check(
            "coverage.console_api.items_pointer",
            self.console_api.items_pointer.is_empty() || self.console_api.items_pointer.starts_with('/'),
            "must be a JSON pointer (\"\" or starting with '/')",
        );
        let api = &self.console_api;
        for (name, p) in
            [("total_pages_pointer", &api.total_pages_pointer), ("next_token_pointer", &api.next_token_pointer)]
        {
            v.check(
                &format!("coverage.console_api.{name}"),
                p.starts_with('/'),
                "must be a JSON pointer starting with '/'",
            );
        }
        v.check("coverage.console_api.page_size", (1..=10_000).contains(&api.page_size), "must be between 1 and 10000");
    }

    /// The exclusion a bucket matches, if any: its name pattern or the tag.
    pub fn excluded(&self, bucket: &str, tags: &[(String, String)]) -> Option<String> {
        if let Some(p) = self.exclude.iter().find(|p| glob::Pattern::new(p).is_ok_and(|g| g.matches(bucket))) {
            return Some(format!("name matches {p:?}"));
        }
        let (k, val) = self.exclude_tag.as_deref()?.split_once('=')?;
        tags.iter().any(|(tk, tv)| tk == k && tv == val).then(|| format!("tag {k}={val}"))
    }
}
