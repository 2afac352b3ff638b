//! Sources: each fetches (I/O) apart from parsing (pure) and returns samples plus the problems
//! it met; a problem with one item never hides the others. Every source is one module that
//! implements [`Source`] and one line in [`ALL`]: the cycle, `check` and the self-cost
//! projection go through that list, not through the sources by name.

pub mod antivirus;
pub mod cost_explorer;
pub mod coverage;
pub mod ecs;
pub mod guardduty;
pub mod inventory;
pub mod panel;
pub mod probe;

use chrono::NaiveDate;
use futures::future::BoxFuture;

use crate::config::Config;
pub use crate::model::SourceId;
use crate::model::{Daily, Sample, SeriesKey};
use crate::wire::Clients;
pub use panel::Panel;
pub use probe::{Probe, Verdict};

/// Every source, in the order runs report them. Registering a source is one line here.
pub static ALL: [&dyn Source; 6] = [
    &antivirus::Console,
    &guardduty::GuardDutyMetrics,
    &cost_explorer::CostExplorer,
    &ecs::Services,
    &coverage::Daily,
    &inventory::Inventories,
];

/// The registered source with this id.
pub fn get(id: SourceId) -> &'static dyn Source {
    *ALL.iter().find(|s| s.id() == id).expect("every SourceId is registered in sources::ALL")
}

/// One source: what the cycle reads, what `check` probes, and which datums are its own.
/// Its configuration section is `Config`'s (a file under `config/`, one arm in
/// `Config::source_section`); its metrics are in the catalogue (`metrics`).
pub trait Source: Sync {
    fn id(&self) -> SourceId;

    /// One read: the samples and the problems met, or why nothing could be read. Called only
    /// when the source is configured, enabled and due.
    fn read<'a>(&'a self, ctx: &'a Context<'a>) -> BoxFuture<'a, Result<SourceOutput, String>>;

    /// `costwarden check`: cheap live probes through the same code a read uses; nothing is
    /// written. Empty when the source is not configured.
    fn probe<'a>(&'a self, ctx: &'a Context<'a>) -> BoxFuture<'a, Probed>;

    /// Whether a datum of this metric (or a rule verdict on it), with this `Source` dimension,
    /// is this source's work: the self-cost projection prices a daily source's part by it, the
    /// run asks it what to publish and which series are configured.
    fn wrote(&self, metric: &str, source_dim: Option<&str>) -> bool;

    /// Whether one of its series is written to CloudWatch (each a billed stream), or only read
    /// by the rules: optional detail streams are its configuration's call.
    fn publishes(&self, _cfg: &Config, _key: &SeriesKey) -> bool {
        true
    }

    /// Whether thresholds.toml names the resource of one of its series: such series are always
    /// kept, the others are "new" to the bound on new series (`run::bounds`).
    fn configures(&self, cfg: &Config, key: &SeriesKey) -> bool;

    /// The rules that watch its series among `keys` (all its own), with their owners: the
    /// configuration's plans and overrides, already lowered (`Params::for_series`). Series the
    /// configuration does not list still get anomaly detection where it applies.
    fn rules(&self, _cfg: &Config, _keys: &[&SeriesKey]) -> Vec<crate::rules::SeriesRules> {
        Vec::new()
    }

    /// The series thresholds.toml names for it (when its section is enabled): the generated
    /// Datadog monitors watch each with the rules `rules` gives it.
    fn listed(&self, _cfg: &Config) -> Vec<SeriesKey> {
        Vec::new()
    }

    /// Its charts on the generated dashboard, shown when it is configured and enabled.
    fn panels(&self, _cfg: &Config) -> Vec<Panel> {
        Vec::new()
    }

    /// The least a daily read costs in requests beyond PutMetricData, in USD: what a month is
    /// projected with before the source has a record (`cost --daily-series`).
    fn least_read_usd(&self) -> f64 {
        0.0
    }
}

/// What a source is given: the configuration (it reads its own section), the clients, the
/// Console when it reads it, the run's day, and how many series it may add to those it wrote.
pub struct Context<'a> {
    pub config: &'a Config,
    pub clients: &'a Clients,
    pub console: &'a dyn antivirus::Access,
    pub today: NaiveDate,
    pub new_series: usize,
}

/// What `check` learned of a source: its probes, and for the Console the real shape of a page
/// the configured one does not read.
#[derive(Debug, Default)]
pub struct Probed {
    pub probes: Vec<Probe>,
    pub discovery: Option<antivirus::discover::Discovery>,
}

impl From<Vec<Probe>> for Probed {
    fn from(probes: Vec<Probe>) -> Probed {
        Probed { probes, discovery: None }
    }
}

/// The rules of a scanning source's daily scanned bytes per bucket, from its list in
/// thresholds.toml (indexed once: a search per series would be quadratic with thousands of
/// listed buckets).
pub fn bucket_rules(
    cfg: &Config,
    keys: &[&SeriesKey],
    list: Option<&Vec<crate::config::Bucket>>,
) -> Vec<crate::rules::SeriesRules> {
    use crate::metrics::{Metric, Unit, DIM_BUCKET, DIM_SOURCE};
    let d = &cfg.rules;
    let listed: std::collections::HashMap<&str, &crate::config::Bucket> =
        list.map(|l| l.iter().map(|b| (b.name.as_str(), b)).collect()).unwrap_or_default();
    let mut out = Vec::new();
    for key in keys.iter().filter(|k| k.metric == Metric::ScannedBytes) {
        let (Some(source), Some(bucket)) = (key.dim(DIM_SOURCE), key.dim(DIM_BUCKET)) else { continue };
        let b = listed.get(bucket);
        let plan = b.and_then(|b| b.plan.as_ref());
        out.push(crate::rules::SeriesRules {
            key: (*key).clone(),
            label: format!("bucket {bucket} ({source})").into(),
            owner: b.and_then(|b| b.owner.clone()),
            unit: Unit::Bytes,
            threshold: plan.map(|p| p.threshold()),
            monthly_budget: None,
            capacity: None,
            anomaly: d.anomaly,
            params: d.for_series(
                plan.and_then(|p| p.horizon_days),
                b.and_then(|b| b.anomaly_drops),
                crate::rules::DROPS_ON_VOLUME,
            ),
        });
    }
    out
}

/// The scanned-bytes series of the buckets a scanning source lists.
pub fn listed_buckets(source: &'static str, list: Option<&Vec<crate::config::Bucket>>) -> Vec<SeriesKey> {
    use crate::metrics::{Metric, DIM_BUCKET, DIM_SOURCE};
    let dims = |b: &crate::config::Bucket| vec![(DIM_SOURCE, source.to_string()), (DIM_BUCKET, b.name.clone())];
    list.into_iter().flatten().map(|b| SeriesKey::new(Metric::ScannedBytes, dims(b))).collect()
}

/// The charts of scanned bytes per bucket, the same for every scanning source (the dashboard
/// shows a chart once).
pub fn bucket_panels() -> Vec<Panel> {
    use crate::metrics::{Metric, DIM_BUCKET, DIM_SOURCE};
    use panel::{Agg, Chart, Line};
    let gb = |l: Line| Line { per: Some(1_000_000_000), ..l.picked(DIM_BUCKET) };
    vec![
        Panel::new(
            "Scanned GB per bucket per day",
            Chart::Bars,
            vec![gb(Line::new(Agg::Avg, Metric::ScannedBytes, &[DIM_BUCKET, DIM_SOURCE], "GB/day"))],
        ),
        Panel::new(
            "Top buckets by scanned GB (latest day)",
            Chart::Top(20),
            vec![gb(Line::new(Agg::Avg, Metric::ScannedBytes, &[DIM_BUCKET], "GB/day"))],
        ),
    ]
}

/// Whether thresholds.toml lists a bucket of this name (for the Console or GuardDuty).
pub fn listed_bucket(cfg: &Config, name: &str) -> bool {
    let av = cfg.antivirus.iter().flat_map(|a| &a.buckets);
    av.chain(cfg.guardduty.iter().flat_map(|g| &g.buckets)).any(|x| x.name == name)
}

/// The source whose work a sample is, by its metric (or the series a verdict is on) and its
/// `Source` dimension.
pub fn owner_of(key: &SeriesKey) -> Option<SourceId> {
    let metric = key.dim(crate::metrics::DIM_SERIES).unwrap_or(key.metric.def().name);
    ALL.iter().find(|s| s.wrote(metric, key.dim(crate::metrics::DIM_SOURCE))).map(|s| s.id())
}

/// What one source delivered. `problems` are item-level failures (a malformed record, an unknown
/// service); they fail the run without discarding the good items.
#[derive(Debug, Default)]
pub struct SourceOutput {
    pub daily: Vec<Daily>,
    pub gauges: Vec<Sample>,
    pub problems: Vec<String>,
    /// Buckets' bytes by scan type, where the source tells them apart (the Console).
    pub scan_types: Vec<(SeriesKey, crate::model::ScanTypes)>,
    /// What the read cost beyond its requests (Athena's scanned bytes), USD.
    pub billed_usd: f64,
}

impl SourceOutput {
    /// Data points delivered: each daily series' days, and the gauges.
    pub fn samples(&self) -> usize {
        self.daily.iter().map(|d| d.points().count()).sum::<usize>() + self.gauges.len()
    }
}

/// A source's problems, bounded: the first `KEEP` said in full, the rest counted. A page of a
/// million malformed items is a hundred lines and a count, not a million lines in the log and
/// in memory.
#[derive(Debug, Default)]
pub struct Problems {
    kept: Vec<String>,
    more: usize,
}

impl Problems {
    pub const KEEP: usize = 100;

    pub fn push(&mut self, p: String) {
        if self.kept.len() < Self::KEEP {
            self.kept.push(p);
        } else {
            self.more += 1;
        }
    }

    pub fn extend(&mut self, ps: impl IntoIterator<Item = String>) {
        for p in ps {
            self.push(p);
        }
    }

    /// A problem that sums up many (a count): said first, whatever the bound.
    pub fn summary(&mut self, p: String) {
        self.kept.insert(0, p);
    }

    pub fn absorb(&mut self, other: Problems) {
        self.extend(other.kept);
        self.more += other.more;
    }

    /// The problems kept, then one line with the count of the rest.
    pub fn into_vec(mut self) -> Vec<String> {
        if self.more > 0 {
            let all = self.kept.len() + self.more;
            self.kept.push(format!(
                "... and {} more problems ({all} in all; the first {} are above)",
                self.more,
                Self::KEEP
            ));
        }
        self.kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_source_id_is_registered_once_in_its_order() {
        let ids: Vec<SourceId> = ALL.iter().map(|s| s.id()).collect();
        assert_eq!(ids, SourceId::ALL, "sources::ALL registers each SourceId once, in SourceId's order");
    }

    #[test]
    fn each_datum_of_a_source_has_it_as_its_owner() {
        use crate::metrics::{Metric, DIM_SOURCE, DIM_TAG_KEY, SOURCE_CONSOLE, SOURCE_GUARDDUTY};
        let key = |m: Metric, dims: &[(&'static str, &str)]| {
            SeriesKey::new(m, dims.iter().map(|(d, v)| (*d, v.to_string())).collect())
        };
        assert_eq!(owner_of(&key(Metric::ScannedBytes, &[(DIM_SOURCE, SOURCE_CONSOLE)])), Some(SourceId::Antivirus));
        assert_eq!(owner_of(&key(Metric::ScannedBytes, &[(DIM_SOURCE, SOURCE_GUARDDUTY)])), Some(SourceId::GuardDuty));
        assert_eq!(owner_of(&key(Metric::Cost, &[(DIM_TAG_KEY, "team")])), Some(SourceId::Cost));
        assert_eq!(owner_of(&key(Metric::UnscannedBuckets, &[])), Some(SourceId::Coverage));
        assert_eq!(owner_of(&key(Metric::RunningTasks, &[])), Some(SourceId::Ecs));
        assert_eq!(owner_of(&key(Metric::SourceUp, &[(DIM_SOURCE, "antivirus")])), None);
    }

    #[test]
    fn problems_past_the_bound_are_counted_not_kept() {
        let mut p = Problems::default();
        p.extend((0..1_000_000).map(|i| format!("item {i}: bad")));
        let v = p.into_vec();
        assert_eq!(v.len(), Problems::KEEP + 1);
        assert_eq!(v[99], "item 99: bad");
        assert_eq!(v[100], "... and 999900 more problems (1000000 in all; the first 100 are above)");
    }
}
