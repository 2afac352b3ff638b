//! Coverage as a source of the run (`[coverage] alert`): once a day, per bucket whether it is
//! scanned (for the `coverage` rule) and per owner the unscanned buckets.

use futures::future::BoxFuture;

use crate::metrics::Metric;
use crate::model::SeriesKey;
use crate::sources::antivirus::ConsoleIfEnabled;
use crate::sources::probe::{fail, ok, Probe};
use crate::sources::{Context, Probed, Source, SourceId, SourceOutput};
use crate::text::terminal;
use crate::wire::aws_message;

/// The source: coverage's reads without the volumes (the rule judges only whether a bucket is
/// scanned).
pub struct Daily;

impl Source for Daily {
    fn id(&self) -> SourceId {
        SourceId::Coverage
    }

    fn read<'a>(&'a self, ctx: &'a Context<'a>) -> BoxFuture<'a, Result<SourceOutput, String>> {
        Box::pin(async move {
            let console = ctx.console.console().await;
            let (cfg, volumes) = (ctx.config, super::collect::Volumes::Skip);
            let inputs = super::collect::collect(cfg, ctx.clients, console, ctx.today, volumes, &|_| {}).await?;
            for w in &inputs.warnings {
                tracing::warn!(source = "coverage", warning = %terminal(w), "coverage read in part");
            }
            let rows = super::rows(cfg, &inputs);
            Ok(SourceOutput {
                gauges: super::observations(&rows),
                problems: inputs.problems,
                ..SourceOutput::default()
            })
        })
    }

    fn probe<'a>(&'a self, ctx: &'a Context<'a>) -> BoxFuture<'a, Probed> {
        Box::pin(async move { probe(&ctx.config.coverage, &ctx.clients.s3, ctx.console.console().await).await.into() })
    }

    fn wrote(&self, metric: &str, _source: Option<&str>) -> bool {
        metric == Metric::UnscannedBuckets.def().name
    }

    /// Per owner only: the per-bucket series are for the `coverage` rule.
    fn publishes(&self, _cfg: &crate::config::Config, key: &SeriesKey) -> bool {
        key.dim(crate::metrics::DIM_BUCKET).is_none()
    }

    /// A team's series; a bucket's when thresholds.toml lists the bucket.
    fn configures(&self, cfg: &crate::config::Config, key: &SeriesKey) -> bool {
        match key.dim(crate::metrics::DIM_BUCKET) {
            Some(b) => crate::sources::listed_bucket(cfg, b),
            None => key.dim(crate::metrics::DIM_OWNER).is_some_and(|o| cfg.teams.contains_key(o)),
        }
    }

    fn panels(&self, _cfg: &crate::config::Config) -> Vec<crate::sources::Panel> {
        use crate::sources::panel::{Agg, Chart, Line, Panel};
        let line = Line::new(Agg::Max, Metric::UnscannedBuckets, &[crate::metrics::DIM_OWNER], "unscanned buckets");
        vec![Panel::new("Unscanned S3 buckets per team", Chart::Bars, vec![line])]
    }

    /// The `coverage` rule per bucket it observed, told to the bucket's owner (the owners'
    /// totals carry no Bucket); no anomaly rule.
    fn rules(&self, cfg: &crate::config::Config, keys: &[&SeriesKey]) -> Vec<crate::rules::SeriesRules> {
        use crate::metrics::{DIM_BUCKET, DIM_OWNER};
        let mut out = Vec::new();
        for key in keys.iter().filter(|k| k.metric == Metric::UnscannedBuckets) {
            let (Some(bucket), Some(owner)) = (key.dim(DIM_BUCKET), key.dim(DIM_OWNER)) else { continue };
            let owned = ![super::UNOWNED, super::OWNER_UNKNOWN].contains(&owner);
            out.push(crate::rules::SeriesRules {
                key: (*key).clone(),
                label: format!("bucket {bucket}").into(),
                owner: owned.then(|| owner.to_string()),
                unit: crate::metrics::Unit::Count,
                threshold: None,
                monthly_budget: None,
                capacity: None,
                anomaly: false,
                params: cfg.rules.for_series(None, None, false),
            });
        }
        out
    }
}

/// With `[coverage] alert`: one page of S3's bucket list, and the Console's protection settings.
async fn probe(cov: &crate::config::Coverage, s3: &aws_sdk_s3::Client, console: ConsoleIfEnabled<'_>) -> Vec<Probe> {
    if !cov.alert {
        return Vec::new();
    }
    let mut out = vec![match s3.list_buckets().max_buckets(1000).send().await {
        Ok(o) => {
            let more = if o.continuation_token().is_some() { " (first page)" } else { "" };
            ok("coverage buckets", format!("S3 ListBuckets: {} buckets{more}", o.buckets().len()))
        }
        Err(e) => fail(
            "coverage buckets",
            format!("S3 ListBuckets: {}", aws_message(&e)),
            "the credentials of [coverage] (base, or [coverage.role]) need s3:ListAllMyBuckets, s3:GetBucketLocation and s3:GetBucketTagging",
        ),
    }];
    if let Some(client) = console {
        let got = match client {
            Ok(c) => match c.protection_pages(&cov.console_api).await {
                (pages, None) => Ok(pages),
                (_, Some(e)) => Err(e.to_string()),
            },
            Err(e) => Err(e),
        };
        out.push(match got {
            Ok(pages) => {
                let (mut found, mut problems) = (0, Vec::new());
                for (n, page) in pages.iter().enumerate() {
                    let read = super::collect::protections(page, &cov.console_api, n + 1);
                    found += read.found.len();
                    problems.extend(read.no_list.into_iter().chain(read.problems));
                }
                match problems.first() {
                    None => ok(
                        "coverage console",
                        format!("GET {}: {found} bucket settings in {} page(s)", cov.console_api.path, pages.len()),
                    ),
                    Some(p) => fail(
                        "coverage console",
                        format!("{} of {} not read: {p}", problems.len(), found + problems.len()),
                        "set [coverage.console_api] to the shape the Console returns",
                    ),
                }
            }
            Err(e) => fail(
                "coverage console",
                e,
                "coverage.console_api.path must be the Console's bucket-protection settings",
            ),
        });
    }
    out
}
