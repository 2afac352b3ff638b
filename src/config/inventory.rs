use serde::Deserialize;

use super::validate::Validator;

/// `[inventory]`: where each scanned bucket's S3 Inventory lands, read by `costwarden
/// efficiency` (where the scanned bytes come from).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Inventory {
    /// Objects last modified in this many days are counted (what event scanning scanned).
    pub window_days: u32,
    /// Folders of a prefix pattern (`users/*/avatars/` is 3).
    pub depth: usize,
    /// Distinct contents remembered for duplicates per bucket, about 32 bytes each.
    pub max_contents: usize,
    pub buckets: Vec<InventoryBucket>,
    /// The role the S3 client assumes to read the destination buckets; default: none.
    pub role: Option<super::Role>,
    /// Whether the run reads each inventory every `every_days` days and publishes its bytes and
    /// duplicate bytes per bucket (`costwarden efficiency` reads them whatever this says).
    pub publish: bool,
    pub every_days: u32,
    /// Athena, for an inventory too large to stream here or written as ORC or Parquet.
    pub athena: Option<Athena>,
    /// The periodic inventory's round: when the teams' workbooks are due back.
    pub review: Option<Review>,
}

/// `[inventory.review]`: a round of the periodic inventory. A team whose workbook
/// `costwarden inventory review` has not read reviewed since `opened` is reminded in its weekly
/// digest: before `due` that it is due, after it that it is late.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Review {
    #[serde(deserialize_with = "super::rules::date")]
    pub due: chrono::NaiveDate,
    /// When the workbooks went out; default: 30 days before `due`.
    #[serde(default, deserialize_with = "some_date")]
    pub opened: Option<chrono::NaiveDate>,
    /// The teams expected to review; default: the owners of the buckets thresholds.toml lists.
    pub teams: Option<Vec<String>>,
}

fn some_date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<chrono::NaiveDate>, D::Error> {
    super::rules::date(d).map(Some)
}

impl Review {
    pub fn opened(&self) -> chrono::NaiveDate {
        self.opened.unwrap_or(self.due - chrono::Days::new(30))
    }

    /// The teams expected to send their workbook back.
    pub fn expected(&self, cfg: &super::Config) -> std::collections::BTreeSet<String> {
        match &self.teams {
            Some(t) => t.iter().cloned().collect(),
            None => {
                let av = cfg.antivirus.iter().flat_map(|a| &a.buckets);
                av.chain(cfg.guardduty.iter().flat_map(|g| &g.buckets)).filter_map(|b| b.owner.clone()).collect()
            }
        }
    }
}

/// `[inventory.athena]`: where and how much.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Athena {
    /// Where Athena writes query results: `s3://bucket/prefix/`.
    pub output: String,
    #[serde(default = "Athena::default_database")]
    pub database: String,
    #[serde(default = "Athena::default_workgroup")]
    pub workgroup: String,
    /// A delivery whose data files are larger than this (MB, gzip CSV: about 100 bytes an
    /// object) is read by Athena, not here; 0: every delivery. The object count is only known
    /// once read; the files' size is in the manifest.
    #[serde(default = "Athena::default_above_mb")]
    pub above_mb: u64,
    /// The most one query may cost (USD 5 per TB scanned): above it the query is not started.
    #[serde(default = "Athena::default_max_usd")]
    pub max_usd: f64,
    /// A query still running after this is stopped.
    #[serde(default = "Athena::default_timeout_seconds")]
    pub timeout_seconds: u64,
}

impl Athena {
    fn default_database() -> String {
        "costwarden".into()
    }
    fn default_workgroup() -> String {
        "primary".into()
    }
    fn default_above_mb() -> u64 {
        500
    }
    fn default_max_usd() -> f64 {
        1.0
    }
    fn default_timeout_seconds() -> u64 {
        600
    }
}

impl Default for Inventory {
    fn default() -> Self {
        Inventory {
            window_days: 30,
            depth: 3,
            max_contents: 4_000_000,
            buckets: Vec::new(),
            role: None,
            publish: false,
            every_days: 7,
            athena: None,
            review: None,
        }
    }
}

/// One inventory configuration: S3 writes `destination/prefix/bucket/config_id/<date>/`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventoryBucket {
    /// The scanned bucket the inventory lists.
    pub bucket: String,
    /// The bucket the inventory is written to.
    pub destination: String,
    #[serde(default)]
    pub prefix: String,
    pub config_id: String,
}

impl InventoryBucket {
    /// `prefix/bucket/config_id/`, under which each delivery has its dated folder.
    pub fn base(&self) -> String {
        let prefix = self.prefix.trim_matches('/');
        match prefix.is_empty() {
            true => format!("{}/{}/", self.bucket, self.config_id),
            false => format!("{prefix}/{}/{}/", self.bucket, self.config_id),
        }
    }
}

impl Inventory {
    /// The aggregation's settings for a read whose window ends at `end`: the objects last
    /// modified in the `window_days` before it count.
    pub fn options(&self, end: chrono::DateTime<chrono::Utc>) -> crate::inventory::Options {
        let since = end - chrono::TimeDelta::days(i64::from(self.window_days));
        crate::inventory::Options { since, depth: self.depth, max_contents: self.max_contents }
    }

    pub(super) fn validate(&self, v: &mut Validator) {
        v.check("inventory.window_days", (1..=365).contains(&self.window_days), "must be between 1 and 365");
        v.check("inventory.depth", (1..=10).contains(&self.depth), "must be between 1 and 10");
        v.check(
            "inventory.max_contents",
            (1_000..=50_000_000).contains(&self.max_contents),
            "must be between 1000 and 50000000 (about 32 bytes each)",
        );
        super::Role::check(&self.role, "inventory", v);
        // Its record is read back over the period and a day at CloudWatch's 1-minute resolution,
        // which CloudWatch keeps 15 days.
        v.check("inventory.every_days", (1..=14).contains(&self.every_days), "must be between 1 and 14");
        if let Some(r) = &self.review {
            v.check("inventory.review.opened", r.opened() < r.due, "must be before inventory.review.due");
            for t in r.teams.iter().flatten() {
                v.team("inventory.review.teams", &Some(t.clone()));
            }
        }
        if let Some(a) = &self.athena {
            let bucket = a.output.strip_prefix("s3://").and_then(|r| r.split('/').next()).unwrap_or("");
            v.check(
                "inventory.athena.output",
                crate::model::valid_bucket_name(bucket),
                "must be s3://bucket/prefix/ (where Athena writes the results)",
            );
            v.check(
                "inventory.athena.database",
                !a.database.is_empty()
                    && a.database.len() <= 128
                    && a.database.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "lower-case letters, digits and '_' (an Athena database name)",
            );
            v.check(
                "inventory.athena.workgroup",
                !a.workgroup.is_empty()
                    && a.workgroup.len() <= 128
                    && a.workgroup.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')),
                "letters, digits, '_', '-' and '.' (an Athena workgroup name)",
            );
            v.check("inventory.athena.max_usd", a.max_usd.is_finite() && a.max_usd >= 0.0, "must be 0 or more");
            v.check(
                "inventory.athena.timeout_seconds",
                (10..=3600).contains(&a.timeout_seconds),
                "must be between 10 and 3600",
            );
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, b) in self.buckets.iter().enumerate() {
            let at = |k: &str| format!("inventory.buckets[{i}].{k}");
            for (k, name) in [("bucket", &b.bucket), ("destination", &b.destination)] {
                if !crate::model::valid_bucket_name(name) {
                    v.push(&at(k), format!("{name:?} is not a valid S3 bucket name"));
                }
            }
            v.check(
                &at("config_id"),
                !b.config_id.is_empty() && !b.config_id.contains('/'),
                "must be the inventory configuration's id (no '/')",
            );
            if !seen.insert((b.bucket.clone(), b.config_id.clone())) {
                v.push(&at("bucket"), format!("{:?} with config_id {:?} is listed twice", b.bucket, b.config_id));
            }
        }
    }
}
