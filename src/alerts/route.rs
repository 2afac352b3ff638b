//! Which rules watch which series, and which team owns each. Pure.

use std::collections::BTreeMap;

use crate::config::Config;
use crate::metrics::{
    Metric, DIM_BUCKET, DIM_CLUSTER, DIM_SERVICE, DIM_SOURCE, DIM_TAG_KEY, DIM_TAG_VALUE, SOURCE_CONSOLE,
    SOURCE_GUARDDUTY,
};
use crate::model::{short_name, SeriesKey};
use crate::rules::{Observations, SeriesRules};
use crate::sources::{self, SourceId};

/// The rules of every observed series that rules apply to: each series' source says which and
/// for whom (`Source::rules`). Daily series first, then gauges, each in key order.
pub fn series_rules(cfg: &Config, obs: &Observations) -> Vec<SeriesRules> {
    let mut mine: BTreeMap<SourceId, Vec<&SeriesKey>> = BTreeMap::new();
    for key in obs.daily.keys().chain(obs.gauges.keys()) {
        if let Some(id) = sources::owner_of(key) {
            mine.entry(id).or_default().push(key);
        }
    }
    let mut out: Vec<SeriesRules> =
        mine.into_iter().flat_map(|(id, keys)| sources::get(id).rules(cfg, &keys)).collect();
    out.sort_by(|a, b| (obs.gauges.contains_key(&a.key), &a.key).cmp(&(obs.gauges.contains_key(&b.key), &b.key)));
    out
}

/// The rules `thresholds.toml` gives a series named by a person: a bucket name or a cost tag
/// value (`bucket:NAME` / `cost:VALUE` when both exist).
pub fn rules_for_name(cfg: &Config, name: &str) -> Option<SeriesRules> {
    let (kind, name) = match name.split_once(':') {
        Some((k @ ("bucket" | "cost"), n)) => (Some(k), n),
        _ => (None, name),
    };
    let mut keys = Vec::new();
    if kind != Some("cost") {
        if cfg.antivirus.iter().flat_map(|a| &a.buckets).any(|b| b.name == name) {
            keys.push(SeriesKey::new(
                Metric::ScannedBytes,
                vec![(DIM_SOURCE, SOURCE_CONSOLE.into()), (DIM_BUCKET, name.into())],
            ));
        }
        if cfg.guardduty.iter().flat_map(|g| &g.buckets).any(|b| b.name == name) {
            keys.push(SeriesKey::new(
                Metric::ScannedBytes,
                vec![(DIM_SOURCE, SOURCE_GUARDDUTY.into()), (DIM_BUCKET, name.into())],
            ));
        }
    }
    if kind != Some("bucket") {
        if let Some(c) = cfg.cost.as_ref().filter(|c| c.tags.iter().any(|t| t.value == name)) {
            keys.push(SeriesKey::new(
                Metric::Cost,
                vec![(DIM_TAG_KEY, c.tag_key.clone()), (DIM_TAG_VALUE, name.into())],
            ));
        }
    }
    let mut obs = Observations::default();
    let key = keys.into_iter().next()?;
    obs.daily.insert(key.clone(), crate::model::Daily::new(key, chrono::NaiveDate::MIN));
    series_rules(cfg, &obs).into_iter().next()
}

/// The team told about a series: its owner, else the default team.
/// The entry of thresholds.toml that names the resource of a series.
pub enum Entry<'a> {
    /// In the list of the series' source (`[[antivirus.buckets]]` or `[[guardduty.buckets]]`).
    Bucket(&'a crate::config::Bucket),
    Tag(&'a crate::config::TagValue),
    Service(&'a crate::config::EcsService),
}

/// The entry naming the resource of `key`, if thresholds.toml has one.
pub fn entry<'a>(cfg: &'a Config, key: &SeriesKey) -> Option<Entry<'a>> {
    if let (Some(source), Some(b)) = (key.dim(DIM_SOURCE), key.dim(DIM_BUCKET)) {
        let list = match source {
            SOURCE_GUARDDUTY => cfg.guardduty.as_ref().map(|g| &g.buckets),
            _ => cfg.antivirus.as_ref().map(|a| &a.buckets),
        };
        return list?.iter().find(|x| x.name == b).map(Entry::Bucket);
    }
    if let Some(t) = key.dim(DIM_TAG_VALUE) {
        return cfg.cost.as_ref()?.tags.iter().find(|x| x.value == t).map(Entry::Tag);
    }
    let (Some(c), Some(s)) = (key.dim(DIM_CLUSTER), key.dim(DIM_SERVICE)) else { return None };
    let services = &cfg.ecs.as_ref()?.services;
    services.iter().find(|x| short_name(&x.cluster) == c && short_name(&x.service) == s).map(Entry::Service)
}

/// The plan thresholds.toml gives the resource of `key` (a bucket of its source, a tag value).
pub fn plan<'a>(cfg: &'a Config, key: &SeriesKey) -> Option<&'a crate::config::Plan> {
    match entry(cfg, key)? {
        Entry::Bucket(b) => b.plan.as_ref(),
        Entry::Tag(t) => t.plan.as_ref(),
        Entry::Service(_) => None,
    }
}

/// The snooze thresholds.toml puts on the resource of `key`, whether or not it is active.
pub fn snooze<'a>(cfg: &'a Config, key: &SeriesKey) -> Option<&'a crate::config::Snooze> {
    match entry(cfg, key)? {
        Entry::Bucket(b) => b.snooze.as_ref(),
        Entry::Tag(t) => t.snooze.as_ref(),
        Entry::Service(s) => s.snooze.as_ref(),
    }
}

pub fn team<'a>(cfg: &'a Config, owner: Option<&'a str>) -> Option<&'a str> {
    owner.or(cfg.alerts.default_team.as_deref())
}

/// The AWS console page of the resource behind a series; each name percent-encoded, so a
/// bucket's name cannot change where the link goes.
pub fn console_url(key: &SeriesKey, region: &str) -> Option<String> {
    use crate::text::url_part;
    let region = url_part(region);
    if let Some(bucket) = key.dim(DIM_BUCKET) {
        return Some(format!("https://s3.console.aws.amazon.com/s3/buckets/{}?region={region}", url_part(bucket)));
    }
    if let (Some(c), Some(s)) = (key.dim(DIM_CLUSTER), key.dim(DIM_SERVICE)) {
        let (c, s) = (url_part(c), url_part(s));
        return Some(format!(
            "https://{region}.console.aws.amazon.com/ecs/v2/clusters/{c}/services/{s}/health?region={region}"
        ));
    }
    key.dim(DIM_TAG_VALUE)
        .map(|_| "https://us-east-1.console.aws.amazon.com/costmanagement/home#/cost-explorer".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Daily;

    #[test]
    fn anomaly_drops_is_per_series_over_rules_over_the_kind_of_series() {
        let drops = |rules: &str| -> Vec<(String, bool)> {
            let cfg = Config::parse(
                &format!(
                    "{rules}[antivirus]\nbase_url = \"http://127.0.0.1:1\"\n\
                     [[antivirus.buckets]]\nname = \"uploads\"\nanomaly_drops = true\n\
                     [[antivirus.buckets]]\nname = \"avatars\"\nanomaly_drops = false\n\
                     [cost]\ntag_key = \"component\"\n\
                     [[cost.tags]]\nvalue = \"agents\"\nanomaly_drops = true\n"
                ),
                "t.toml",
            )
            .unwrap();
            let mut obs = Observations::default();
            let mut add =
                |key: SeriesKey| obs.daily.insert(key.clone(), Daily::new(key, "2026-11-01".parse().unwrap()));
            for bucket in ["uploads", "avatars", "unlisted"] {
                add(SeriesKey::new(
                    Metric::ScannedBytes,
                    vec![(DIM_SOURCE, SOURCE_CONSOLE.into()), (DIM_BUCKET, bucket.into())],
                ));
            }
            for value in ["agents", "console"] {
                add(SeriesKey::new(
                    Metric::Cost,
                    vec![(DIM_TAG_KEY, "component".into()), (DIM_TAG_VALUE, value.into())],
                ));
            }
            let mut out: Vec<_> =
                series_rules(&cfg, &obs).iter().map(|r| (r.label.to_string(), r.params.drops())).collect();
            out.sort();
            out
        };
        let expect = |unlisted_bucket: bool, unlisted_cost: bool| {
            vec![
                ("bucket avatars (console)".to_string(), false),
                ("bucket unlisted (console)".to_string(), unlisted_bucket),
                ("bucket uploads (console)".to_string(), true),
                ("cost of component=agents".to_string(), true),
                ("cost of component=console".to_string(), unlisted_cost),
            ]
        };
        // Unset: volume falls alert, cost falls do not; [rules] sets both; a series its own.
        assert_eq!(drops(""), expect(true, false));
        assert_eq!(drops("[rules]\nanomaly_drops = false\n"), expect(false, false));
        assert_eq!(drops("[rules]\nanomaly_drops = true\n"), expect(true, true));
    }
}
