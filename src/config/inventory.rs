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
}

impl Default for Inventory {
    fn default() -> Self {
        Inventory { window_days: 30, depth: 3, max_contents: 4_000_000, buckets: Vec::new(), role: None }
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
    pub(super) fn validate(&self, v: &mut Validator) {
        v.check("inventory.window_days", (1..=365).contains(&self.window_days), "must be between 1 and 365");
        v.check("inventory.depth", (1..=10).contains(&self.depth), "must be between 1 and 10");
        v.check(
            "inventory.max_contents",
            (1_000..=50_000_000).contains(&self.max_contents),
            "must be between 1000 and 50000000 (about 32 bytes each)",
        );
        super::Role::check(&self.role, "inventory", v);
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
