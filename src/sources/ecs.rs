//! ECS scanning services: running / desired / pending tasks, and the maximum, which lives only in
//! Application Auto Scaling (no CloudWatch metric carries it).

use std::collections::BTreeMap;

use futures::future::BoxFuture;

use crate::config::{Ecs, EcsService, TaskCount};
use crate::metrics::{Metric, DIM_CLUSTER, DIM_SERVICE};
use crate::model::{short_name as short, Sample, SeriesKey};
use crate::sources::probe::{fail, ok, warn, Probe};
use crate::sources::{Context, Probed, Source, SourceId, SourceOutput};
use crate::wire::{aws_message, bounded};

/// DescribeServices takes at most 10 services per call, DescribeScalableTargets 50 resource ids.
pub const SERVICES_PER_CALL: usize = 10;
pub const TARGETS_PER_CALL: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub running: i32,
    pub desired: i32,
    pub pending: i32,
}

pub struct EcsClients {
    pub ecs: aws_sdk_ecs::Client,
    pub autoscaling: aws_sdk_applicationautoscaling::Client,
}

/// `service/<cluster>/<service>`, Application Auto Scaling's resource id for an ECS service.
pub fn resource_id(s: &EcsService) -> String {
    format!("service/{}/{}", short(&s.cluster), short(&s.service))
}

/// A problem and the services it is about, as (cluster, service) short names: `check` gives each
/// service its own verdict from these, and a service's name may be part of another's. Empty
/// when it is about a whole call (DescribeScalableTargets answers for up to 50 services).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub about: Vec<(String, String)>,
    pub text: String,
}

impl Problem {
    fn of(cluster: &str, service: &str, text: String) -> Self {
        Problem { about: vec![(short(cluster).to_string(), short(service).to_string())], text }
    }

    pub fn is_about(&self, cluster: &str, service: &str) -> bool {
        self.about.iter().any(|(c, s)| c == short(cluster) && s == short(service))
    }
}

/// What `read` found: the gauges, and the problems with the services they concern.
pub struct Read {
    pub gauges: Vec<Sample>,
    pub problems: Vec<Problem>,
}

/// Pure: from what the APIs said to samples and problems.
pub fn to_samples(
    cfg: &Ecs,
    counts: &BTreeMap<(String, String), Counts>,
    max_from_autoscaling: &BTreeMap<String, i32>,
) -> (Vec<Sample>, Vec<Problem>) {
    let mut samples = Vec::new();
    let mut problems = Vec::new();
    for s in &cfg.services {
        let (cluster, service) = (short(&s.cluster).to_string(), short(&s.service).to_string());
        let Some(c) = counts.get(&(cluster.clone(), service.clone())) else {
            continue; // the fetch already reported why
        };
        let key = |m| SeriesKey::new(m, vec![(DIM_CLUSTER, cluster.clone()), (DIM_SERVICE, service.clone())]);
        samples.push(Sample::gauge(key(Metric::RunningTasks), f64::from(c.running)));
        samples.push(Sample::gauge(key(Metric::DesiredTasks), f64::from(c.desired)));
        samples.push(Sample::gauge(key(Metric::PendingTasks), f64::from(c.pending)));
        let max = s.max_tasks.map(|m| m as i32).or_else(|| max_from_autoscaling.get(&resource_id(s)).copied());
        match max {
            Some(max) if max > 0 => {
                let used = match cfg.count {
                    TaskCount::Running => c.running,
                    TaskCount::Desired => c.desired,
                };
                samples.push(Sample::gauge(key(Metric::MaxTasks), f64::from(max)));
                samples.push(Sample::gauge(
                    key(Metric::TaskUtilization),
                    100.0 * f64::from(used) / f64::from(max),
                ));
            }
            Some(max) => problems.push(Problem::of(&cluster, &service, format!(
                "ECS service {cluster}/{service}: Application Auto Scaling MaxCapacity is {max}; set max_tasks in thresholds.toml"
            ))),
            None => problems.push(Problem::of(&cluster, &service, format!(
                "ECS service {cluster}/{service}: no maximum task count: neither max_tasks in thresholds.toml nor an Application Auto Scaling target ({}); capacity cannot be evaluated",
                resource_id(s)
            ))),
        }
    }
    (samples, problems)
}

pub async fn collect(clients: &EcsClients, cfg: &Ecs, concurrency: usize) -> SourceOutput {
    let Read { gauges, problems } = read(clients, cfg, concurrency).await;
    SourceOutput { gauges, problems: problems.into_iter().map(|p| p.text).collect(), ..SourceOutput::default() }
}

/// Each configured service's tasks and maximum: both APIs at once, neither needs the other's
/// answer.
pub async fn read(clients: &EcsClients, cfg: &Ecs, concurrency: usize) -> Read {
    let ((counts, mut problems), (max, mut more)) =
        tokio::join!(describe(clients, cfg, concurrency), maximums(clients, cfg, concurrency));
    problems.append(&mut more);
    let (gauges, mut more) = to_samples(cfg, &counts, &max);
    problems.append(&mut more);
    Read { gauges, problems }
}

type Described = BTreeMap<(String, String), Counts>;

/// DescribeServices: per cluster, 10 at a time.
async fn describe(clients: &EcsClients, cfg: &Ecs, concurrency: usize) -> (Described, Vec<Problem>) {
    let mut by_cluster: BTreeMap<&str, Vec<&EcsService>> = BTreeMap::new();
    for s in &cfg.services {
        by_cluster.entry(s.cluster.as_str()).or_default().push(s);
    }
    // Owned batches: futures borrowing them trip the compiler's Send check in the daemon.
    let batches: Vec<(String, Vec<String>)> = by_cluster
        .iter()
        .flat_map(|(cluster, svcs)| {
            svcs.chunks(SERVICES_PER_CALL)
                .map(move |c| (cluster.to_string(), c.iter().map(|s| s.service.clone()).collect()))
        })
        .collect();
    let described = bounded(batches, concurrency, |(cluster, names)| async move {
        let res = clients.ecs.describe_services().cluster(&cluster).set_services(Some(names.clone())).send().await;
        (cluster, names, res)
    })
    .await;
    let (mut counts, mut problems) = (BTreeMap::new(), Vec::new());
    for (cluster, names, res) in described {
        let cluster = cluster.as_str();
        match res {
            Ok(out) => {
                for svc in out.services() {
                    let name = svc.service_name().unwrap_or_default().to_string();
                    counts.insert(
                        (short(cluster).to_string(), name),
                        Counts {
                            running: svc.running_count(),
                            desired: svc.desired_count(),
                            pending: svc.pending_count(),
                        },
                    );
                }
                for f in out.failures() {
                    let service = f.arn().map(short).unwrap_or("?");
                    problems.push(Problem::of(
                        cluster,
                        service,
                        format!(
                            "ECS service {service} in cluster {}: {}{}",
                            short(cluster),
                            f.reason().unwrap_or("failed"),
                            if f.reason() == Some("MISSING") { " (no such service; check ecs.services)" } else { "" }
                        ),
                    ));
                }
            }
            Err(e) => problems.push(Problem {
                about: names.iter().map(|n| (short(cluster).to_string(), short(n).to_string())).collect(),
                text: format!(
                    "ECS DescribeServices in cluster {} for {}: {}",
                    short(cluster),
                    names.join(", "),
                    aws_message(&e)
                ),
            }),
        }
    }
    (counts, problems)
}

/// The maximum: only for services without max_tasks, 50 resource ids per call.
async fn maximums(clients: &EcsClients, cfg: &Ecs, concurrency: usize) -> (BTreeMap<String, i32>, Vec<Problem>) {
    let ids: Vec<String> = cfg.services.iter().filter(|s| s.max_tasks.is_none()).map(resource_id).collect();
    let chunks: Vec<Vec<String>> = ids.chunks(TARGETS_PER_CALL).map(<[String]>::to_vec).collect();
    let targets = bounded(chunks, concurrency, |chunk| async move {
        let mut pages = clients
            .autoscaling
            .describe_scalable_targets()
            .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
            .scalable_dimension(aws_sdk_applicationautoscaling::types::ScalableDimension::EcsServiceDesiredCount)
            .set_resource_ids(Some(chunk))
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let out =
                page.map_err(|e| format!("Application Auto Scaling DescribeScalableTargets: {}", aws_message(&e)))?;
            found.extend(out.scalable_targets().iter().map(|t| (t.resource_id().to_string(), t.max_capacity())));
        }
        Ok::<_, String>(found)
    })
    .await;
    let (mut max, mut problems) = (BTreeMap::new(), Vec::new());
    for t in targets {
        match t {
            Ok(found) => max.extend(found),
            Err(text) => problems.push(Problem { about: Vec::new(), text }),
        }
    }
    (max, problems)
}

/// Each listed service's task-hours a UTC day over the 14 days to `last`, from the running
/// counts costwarden wrote (one GetMetricData: the hourly mean of `RunningTaskCount`, an hour
/// of it a task-hour; hours with no run are missing, not zero). For the why of a cost value's
/// change (`alerts::explain`): which services' agents ran more.
pub async fn task_hours(
    cw: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    cfg: &Ecs,
    last: chrono::NaiveDate,
) -> Result<Vec<crate::model::Daily>, String> {
    use crate::wire::metric_data;
    let keys: Vec<SeriesKey> = cfg
        .services
        .iter()
        .map(|s| {
            let dims = vec![(DIM_CLUSTER, short(&s.cluster).to_string()), (DIM_SERVICE, short(&s.service).to_string())];
            SeriesKey::new(Metric::RunningTasks, dims)
        })
        .collect();
    let name = Metric::RunningTasks.def().name;
    // The hourly mean, not the maximum: an hour of 7 then 9 tasks is 8 task-hours.
    let queries = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let dims = k.dims.iter().map(|(d, v)| (*d, v.as_str()));
            metric_data::own_series_by(i, namespace, name, dims, (3600, "Average"))
        })
        .collect();
    let first = last - chrono::Days::new(13);
    let window = (metric_data::midnight(first), metric_data::midnight(last + chrono::Days::new(1)));
    let results = metric_data::read(cw, queries, window, None, 1)
        .await
        .map_err(|e| format!("ECS task-hours (GetMetricData): {e}"))?;
    let mut out: Vec<crate::model::Daily> = keys.iter().map(|k| crate::model::Daily::new(k.clone(), first)).collect();
    for (id, values) in results {
        let Some(d) = metric_data::own_series_index(&id).and_then(|i| out.get_mut(i)) else { continue };
        for (t, v) in values {
            if let Some(at) = chrono::DateTime::<chrono::Utc>::from_timestamp(t, 0) {
                d.add(at.date_naive(), v);
            }
        }
    }
    Ok(out)
}

async fn probe(cfg: Option<&Ecs>, clients: &EcsClients, concurrency: usize) -> Vec<Probe> {
    let Some(cfg) = cfg else { return Vec::new() };
    let got = read(clients, cfg, concurrency).await;
    let gauge = |cluster: &str, service: &str, m: crate::metrics::Metric| {
        got.gauges
            .iter()
            .find(|s| {
                s.key.metric == m && s.key.dim(DIM_CLUSTER) == Some(cluster) && s.key.dim(DIM_SERVICE) == Some(service)
            })
            .map(|s| s.value)
    };
    let mut out = Vec::new();
    for s in &cfg.services {
        let (cluster, service) = (short(&s.cluster), short(&s.service));
        let name = format!("ecs {service}");
        let mine: Vec<&str> =
            got.problems.iter().filter(|p| p.is_about(cluster, service)).map(|p| p.text.as_str()).collect();
        let fix = "check ecs.services (cluster, service) and collector.region; the credentials of [ecs] need ecs:DescribeServices and application-autoscaling:DescribeScalableTargets";
        out.push(match (gauge(cluster, service, Metric::RunningTasks), mine.is_empty()) {
            (Some(running), true) => {
                let max = gauge(cluster, service, Metric::MaxTasks).unwrap_or(f64::NAN);
                let from = if s.max_tasks.is_some() { "max_tasks" } else { "Application Auto Scaling" };
                let detail = format!("cluster {cluster}: {running} running, maximum {max} ({from})");
                match running > max {
                    true => warn(
                        name,
                        detail,
                        "more tasks run than the maximum: is max_tasks (or the scalable target) right?",
                    ),
                    false => ok(name, detail),
                }
            }
            _ => fail(name, mine.join("; "), fix),
        });
    }
    // A whole call's problem (DescribeScalableTargets) is about no one service.
    let untold = got.problems.iter().filter(|p| !cfg.services.iter().any(|s| p.is_about(&s.cluster, &s.service)));
    for p in untold {
        out.push(fail(
            "ecs",
            p.text.clone(),
            "the credentials of [ecs] need application-autoscaling:DescribeScalableTargets",
        ));
    }
    out
}

/// The source: the scanning services' task counts against their maximum, every run.
pub struct Services;

impl Services {
    fn clients(ctx: &Context<'_>) -> EcsClients {
        EcsClients { ecs: ctx.clients.ecs.clone(), autoscaling: ctx.clients.autoscaling.clone() }
    }
}

impl Source for Services {
    fn id(&self) -> SourceId {
        SourceId::Ecs
    }

    fn read<'a>(&'a self, ctx: &'a Context<'a>) -> BoxFuture<'a, Result<SourceOutput, String>> {
        Box::pin(async move {
            let c = ctx.config.ecs.as_ref().expect("an enabled source is configured");
            Ok(collect(&Self::clients(ctx), c, ctx.config.collector.concurrency).await)
        })
    }

    fn probe<'a>(&'a self, ctx: &'a Context<'a>) -> BoxFuture<'a, Probed> {
        let c = ctx.config.ecs.as_ref().filter(|e| e.enabled);
        Box::pin(async move { probe(c, &Self::clients(ctx), ctx.config.collector.concurrency).await.into() })
    }

    fn wrote(&self, metric: &str, _source: Option<&str>) -> bool {
        [Metric::RunningTasks, Metric::DesiredTasks, Metric::PendingTasks, Metric::MaxTasks, Metric::TaskUtilization]
            .iter()
            .any(|m| m.def().name == metric)
    }

    /// The counts beside the running one only with `ecs.task_details`.
    fn publishes(&self, cfg: &crate::config::Config, key: &SeriesKey) -> bool {
        let details = [Metric::DesiredTasks, Metric::PendingTasks, Metric::MaxTasks].contains(&key.metric);
        !details || cfg.ecs.as_ref().is_some_and(|e| e.task_details)
    }

    fn configures(&self, cfg: &crate::config::Config, key: &SeriesKey) -> bool {
        let (Some(c), Some(s)) = (key.dim(DIM_CLUSTER), key.dim(DIM_SERVICE)) else { return false };
        cfg.ecs.iter().flat_map(|e| &e.services).any(|x| short(&x.cluster) == c && short(&x.service) == s)
    }

    fn listed(&self, cfg: &crate::config::Config) -> Vec<SeriesKey> {
        let dims = |s: &EcsService| {
            vec![(DIM_CLUSTER, short(&s.cluster).to_string()), (DIM_SERVICE, short(&s.service).to_string())]
        };
        cfg.ecs.iter().flat_map(|e| &e.services).map(|s| SeriesKey::new(Metric::TaskUtilization, dims(s))).collect()
    }

    /// Running tasks (desired and the maximum as lines of their own only when `task_details`
    /// writes them, else the capacity chart shows the maximum as 100%) and the capacity ratio
    /// against `[rules]`' levels.
    fn panels(&self, cfg: &crate::config::Config) -> Vec<crate::sources::Panel> {
        use crate::sources::panel::{Agg, Chart, Line, Mark, Panel};
        let line = |m, alias| Line::new(Agg::Avg, m, &[DIM_SERVICE], alias).picked(DIM_SERVICE);
        let details = cfg.ecs.as_ref().is_some_and(|e| e.task_details);
        let mut tasks = vec![line(Metric::RunningTasks, "running")];
        if details {
            tasks.extend([line(Metric::DesiredTasks, "desired"), line(Metric::MaxTasks, "maximum")]);
        }
        let title = if details { "ECS tasks: running and desired against the maximum" } else { "ECS tasks running" };
        let capacity = Panel {
            marks: vec![
                Mark { at: 100.0 * cfg.rules.capacity_warn, critical: false, label: "warning" },
                Mark { at: 100.0 * cfg.rules.capacity_crit, critical: true, label: "critical" },
            ],
            ..Panel::new(
                "ECS task capacity (% of maximum)",
                Chart::Line,
                vec![line(Metric::TaskUtilization, "capacity %")],
            )
        };
        vec![Panel::new(title, Chart::Line, tasks), capacity]
    }

    /// Capacity per service, at its own ratios else `[rules]`'s; no anomaly rule on a gauge.
    fn rules(&self, cfg: &crate::config::Config, keys: &[&SeriesKey]) -> Vec<crate::rules::SeriesRules> {
        let d = &cfg.rules;
        let mut out = Vec::new();
        for key in keys.iter().filter(|k| k.metric == Metric::TaskUtilization) {
            let (Some(cluster), Some(service)) = (key.dim(DIM_CLUSTER), key.dim(DIM_SERVICE)) else { continue };
            let s = cfg
                .ecs
                .as_ref()
                .and_then(|e| e.services.iter().find(|s| short(&s.service) == service && short(&s.cluster) == cluster));
            out.push(crate::rules::SeriesRules {
                key: (*key).clone(),
                label: format!("ECS service {cluster}/{service}").into(),
                owner: s.and_then(|s| s.owner.clone()),
                unit: crate::metrics::Unit::Percent,
                threshold: None,
                monthly_budget: None,
                capacity: Some((
                    s.and_then(|s| s.capacity_warn).unwrap_or(d.capacity_warn),
                    s.and_then(|s| s.capacity_crit).unwrap_or(d.capacity_crit),
                )),
                anomaly: false,
                params: d.for_series(None, None, false),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(name: &str, max: Option<u32>) -> EcsService {
        EcsService {
            cluster: "arn:aws:ecs:us-east-1:123456789012:cluster/scan".into(),
            service: name.into(),
            max_tasks: max,
            owner: None,
            capacity_warn: None,
            capacity_crit: None,
            snooze: None,
        }
    }

    #[test]
    fn utilisation_uses_override_then_autoscaling_and_reports_neither() {
        let cfg = Ecs {
            schedule: None,
            enabled: true,
            count: TaskCount::Running,
            task_details: false,
            services: vec![svc("a", Some(10)), svc("b", None), svc("c", None)],
            role: None,
        };
        let c = Counts { running: 7, desired: 8, pending: 1 };
        let counts =
            [("a", c), ("b", c), ("c", c)].into_iter().map(|(n, c)| (("scan".to_string(), n.to_string()), c)).collect();
        let max = [("service/scan/b".to_string(), 7)].into_iter().collect();
        let (samples, problems) = to_samples(&cfg, &counts, &max);
        let util: Vec<(String, f64)> = samples
            .iter()
            .filter(|s| s.key.metric == Metric::TaskUtilization)
            .map(|s| (s.key.dim(DIM_SERVICE).unwrap().to_string(), s.value))
            .collect();
        assert_eq!(util, vec![("a".to_string(), 70.0), ("b".to_string(), 100.0)]);
        assert!(problems[0].is_about("scan", "c") && !problems[0].is_about("scan", "b"));
        assert_eq!(
            problems.iter().map(|p| p.text.as_str()).collect::<Vec<_>>(),
            vec!["ECS service scan/c: no maximum task count: neither max_tasks in thresholds.toml nor an Application Auto Scaling target (service/scan/c); capacity cannot be evaluated"]
        );
    }
}
