//! The costwarden command line: thin; the work is in the library.

// The commands' futures nest the AWS SDK's deep ones; rustc's default layout depth (128) was
// passed on a clean build (CI, 2026-12-06: 130 at cli_main). The cycle is also boxed (run/cycle.rs).
#![recursion_limit = "256"]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use costwarden::config::Config;
use costwarden::text::terminal;
use costwarden::{report, run_cycle, run_once, App, Clients, Options};

#[derive(Parser)]
#[command(version, about = "Early warnings before the malware scanner's cloud cost runs away")]
struct Cli {
    /// thresholds.toml to use
    #[arg(long, short, global = true, env = "COSTWARDEN_CONFIG", default_value = "thresholds.toml")]
    config: PathBuf,
    /// Log format on stderr
    #[arg(long, global = true, env = "COSTWARDEN_LOG_FORMAT", default_value = "text")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum InventoryCommand {
    /// Read the teams' filled coverage-<team>.xlsx in DIR: every decision and who reviewed it,
    /// malformed cells located and skipped, a summary and the change plan (Markdown, or JSON).
    /// Exit 1 when a cell was malformed or a team has not reviewed
    Review {
        dir: PathBuf,
        #[arg(long)]
        json: bool,
        /// Record nothing (with [inventory.review], each team read reviewed is recorded in
        /// CloudWatch so its digest stops reminding it)
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
enum Command {
    /// One full cycle: collect every source, write CloudWatch metrics, print a summary
    Run {
        /// Print the summary as JSON
        #[arg(long)]
        json: bool,
        /// Print the datums instead of writing them (reads every source, due or not)
        #[arg(long)]
        dry_run: bool,
        /// Read and write the daily totals even when they are not due
        #[arg(long)]
        force: bool,
        /// Seconds to wait for another run on this host to finish before skipping this one
        #[arg(long, default_value_t = 120)]
        lock_wait: u64,
        /// Override antivirus.base_url (e.g. a local Console double)
        #[arg(long, env = "COSTWARDEN_CONSOLE_URL")]
        console_url: Option<reqwest::Url>,
    },
    /// Run on the schedules of thresholds.toml until SIGTERM / SIGINT (the container entrypoint)
    Daemon {
        /// Override antivirus.base_url (e.g. a local Console double)
        #[arg(long, env = "COSTWARDEN_CONSOLE_URL")]
        console_url: Option<reqwest::Url>,
    },
    /// Exit 0 when the daemon on this host has run within two intervals of its schedule, 1 when
    /// not (the image's HEALTHCHECK, a liveness probe); reads the heartbeat the daemon writes
    Health {
        /// Seconds a heartbeat stays fresh (default: two schedule intervals and a minute)
        #[arg(long)]
        max_age: Option<i64>,
    },
    /// Collect (writing nothing, notifying nobody) and show every rule's verdict, worst first
    Status {
        /// Print the verdicts as JSON
        #[arg(long)]
        json: bool,
        /// Override antivirus.base_url (e.g. a local Console double)
        #[arg(long, env = "COSTWARDEN_CONSOLE_URL")]
        console_url: Option<reqwest::Url>,
    },
    /// Replay a daily series (CSV with a date,value header) through the rules, day by day, and
    /// print every alert transition it would have raised
    Backtest {
        /// The CSV file
        #[arg(long)]
        input: PathBuf,
        /// Use the rules of this series in thresholds.toml (bucket name or cost tag value); the
        /// CSV's values are then in its unit: bytes a day for a bucket, USD a day for a tag value
        #[arg(long, conflicts_with = "threshold", required_unless_present = "threshold")]
        series: Option<String>,
        /// Quick form: a fixed critical level (in the CSV's unit), default warning ratio,
        /// forecast and anomaly rules
        #[arg(long)]
        threshold: Option<f64>,
        /// Print a JSON array
        #[arg(long)]
        json: bool,
    },
    /// Project this configuration's own AWS bill to a month: streams, requests, and an estimate
    /// of Datadog's crawler. Reads ECS and costwarden's own records (no Cost Explorer call with
    /// daily_totals = "once"); writes nothing
    Cost {
        /// Print the projection as JSON
        #[arg(long)]
        json: bool,
        /// Project with this many daily series (buckets, tag values, their rule streams) instead
        /// of those recorded by the last daily run: before the first one, or to ask "what if"
        #[arg(long, value_name = "N")]
        daily_series: Option<usize>,
        /// Override antivirus.base_url (e.g. a local Console double)
        #[arg(long, env = "COSTWARDEN_CONSOLE_URL")]
        console_url: Option<reqwest::Url>,
    },
    /// Each team's weekly digest now, whatever [digest]'s day: its buckets and cost values last
    /// week against the week before, month-end projections, the largest moves and why, open
    /// alerts and snoozes. Sent to the team's channels (and marked sent for the week) unless
    /// --dry-run; read from what costwarden wrote to CloudWatch
    Digest {
        /// Only this team
        #[arg(long)]
        team: Option<String>,
        /// Print it; send nothing, mark nothing
        #[arg(long)]
        dry_run: bool,
        /// Print the digests as JSON
        #[arg(long)]
        json: bool,
    },
    /// One cheap live probe per credential set, source and team channel, each with its verdict
    /// and fix; writes nothing. Exit 0: all good (warnings allowed), 1: a probe failed, 2: the
    /// configuration is invalid
    Check {
        /// Print the probes as JSON
        #[arg(long)]
        json: bool,
        /// Post a test message to every team's Slack webhook and SNS topic
        #[arg(long)]
        send_test: bool,
        /// Override antivirus.base_url (e.g. a local Console double)
        #[arg(long, env = "COSTWARDEN_CONSOLE_URL")]
        console_url: Option<reqwest::Url>,
    },
    /// Which S3 buckets and paths are scanned, by what, for which team, at what estimated cost:
    /// coverage.md, a workbook per team, CSV and JSON. Exit 1 when settings were malformed (or,
    /// with --check, when the committed coverage.md is stale)
    Coverage {
        /// Output folder
        #[arg(long, default_value = "coverage")]
        out: PathBuf,
        /// Formats to write, comma-separated: md, xlsx, csv, json
        #[arg(long, value_delimiter = ',', default_value = "md,xlsx,csv,json", value_parser = ["md", "xlsx", "csv", "json"])]
        format: Vec<String>,
        /// Write nothing; exit 1 when OUT/coverage.md differs from a fresh one (the dated line aside)
        #[arg(long)]
        check: bool,
        /// Override antivirus.base_url (e.g. a local Console double)
        #[arg(long, env = "COSTWARDEN_CONSOLE_URL")]
        console_url: Option<reqwest::Url>,
    },
    /// Where each scanned bucket's bytes come from, from its latest S3 Inventory ([inventory]):
    /// per prefix and extension, duplicate content, and what not scanning them saves a month.
    /// Exit 1 when an inventory could not be read or had malformed rows
    Efficiency {
        /// Write efficiency.<format> to this folder (default: the first format on stdout)
        #[arg(long)]
        out: Option<PathBuf>,
        /// Formats, comma-separated: md, xlsx, csv, json (default: md,json with --out, md on
        /// stdout; xlsx only with --out)
        #[arg(long, value_delimiter = ',', value_parser = ["md", "xlsx", "csv", "json"])]
        format: Vec<String>,
        /// Print the JSON on stdout (as --format json)
        #[arg(long, conflicts_with = "format")]
        json: bool,
    },
    /// The periodic inventory: `inventory review DIR` reads the filled coverage workbooks back
    Inventory {
        #[command(subcommand)]
        command: InventoryCommand,
    },
    /// Write the Datadog dashboard and monitors (v1 API JSON) generated from thresholds.toml
    Dashboards {
        /// Output folder
        #[arg(long, default_value = "dashboards")]
        out: PathBuf,
    },
    /// Check a thresholds.toml; every problem is listed with its path and line
    Validate {
        /// File to check (default: --config)
        file: Option<PathBuf>,
    },
}

/// Streamed to stdout: at 10,000 buckets the report is megabytes, and never needs to be one string.
fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    out.flush().context("writing to stdout")
}

// One thread is plenty for a collector that mostly waits on the network; Console pages are
// parsed on two blocking threads (more would only add allocator arenas, i.e. memory).
fn main() -> ExitCode {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(2)
        .build()
        .expect("a tokio runtime");
    runtime.block_on(cli_main())
}

async fn cli_main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Daemon { .. }) {
        quiet_on_closed_pipe();
    }
    let summary_names_alerts = matches!(cli.command, Command::Run { .. });
    costwarden::run::init_logs(matches!(cli.log_format, LogFormat::Json), summary_names_alerts);
    match real_main(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// `costwarden status --json | head`: when the reader goes away, end as `cat` does, quietly
/// (Rust ignores SIGPIPE, so every print would fail or panic with "Broken pipe"). Not for the
/// daemon, which has no reader to lose.
fn quiet_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: restoring a signal's default disposition, before any thread that writes starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

async fn real_main(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = cli.config;
    match cli.command {
        Command::Validate { file } => Ok(validate(&file.unwrap_or(config))),
        Command::Dashboards { out } => dashboards(&load(&config)?, &out),
        Command::Daemon { console_url } => {
            // A configuration error stops the daemon at start, with the located message.
            let app = app(load(&config)?, console_url).await;
            costwarden::run::daemon::run(std::sync::Arc::new(app)).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { json, console_url } => status(app(load(&config)?, console_url).await, json).await,
        Command::Backtest { input, series, threshold, json } => backtest(&config, &input, series, threshold, json),
        Command::Health { max_age } => Ok(health(&load(&config)?, max_age)),
        Command::Cost { json, daily_series, console_url } => {
            cost(app(load(&config)?, console_url).await, json, daily_series).await
        }
        Command::Digest { team, dry_run, json } => digest(app(load(&config)?, None).await, team, dry_run, json).await,
        Command::Check { json, send_test, console_url } => {
            check(app(load(&config)?, console_url).await, json, send_test).await
        }
        Command::Inventory { command: InventoryCommand::Review { dir, json, dry_run } } => {
            review(load(&config)?, &dir, json, dry_run).await
        }
        Command::Efficiency { out, format, json } => {
            let format = efficiency_formats(out.as_deref(), format, json)?;
            efficiency(app(load(&config)?, None).await, out.as_deref(), &format).await
        }
        Command::Coverage { out, format, check, console_url } => {
            coverage(app(load(&config)?, console_url).await, &out, &format, check).await
        }
        Command::Run { json, dry_run, force, lock_wait, console_url } => {
            run(app(load(&config)?, console_url).await, json, dry_run, force, lock_wait).await
        }
    }
}

/// `costwarden run`: one cycle, one at a time on this host (the second reads the state the
/// first left).
async fn run(app: App, json: bool, dry_run: bool, force: bool, lock_wait: u64) -> anyhow::Result<ExitCode> {
    let opts = Options { dry_run, force: force || dry_run, daily_series: None };
    let _lock = match dry_run {
        true => None,
        false => {
            let path = costwarden::run::lock::path_for(&app.config.collector.namespace);
            match costwarden::run::lock::acquire(&path, std::time::Duration::from_secs(lock_wait)).await {
                Ok(lock) => Some(lock),
                Err(e) => {
                    eprintln!("{e}");
                    return Ok(ExitCode::from(1));
                }
            }
        }
    };
    let report = run_cycle(&app, chrono::Utc::now(), opts, None).await;
    if json {
        print_json(&report)?;
    } else {
        if dry_run {
            print!("{}", report::datums(&report));
        }
        print!("{}", report::human(&report));
    }
    Ok(exit(report.ok()))
}

/// `costwarden status`: collect, write nothing, every verdict.
async fn status(app: App, json: bool) -> anyhow::Result<ExitCode> {
    let report = run_once(&app, chrono::Utc::now(), true).await;
    if json {
        print_json(&report.findings)?;
    } else {
        print!("{}", report::status_table(&report, &app.config));
        for s in report.sources.iter().filter(|s| s.status != costwarden::Status::Ok) {
            eprintln!("warning: source {} is {:?}: its series show as NO DATA", s.source.name(), s.status);
        }
    }
    Ok(exit(report.ok()))
}

/// `costwarden digest`: each team's week now, sent unless `dry_run`.
async fn digest(app: App, team: Option<String>, dry_run: bool, json: bool) -> anyhow::Result<ExitCode> {
    if let Some(t) = team.as_deref().filter(|t| !app.config.teams.contains_key(*t)) {
        anyhow::bail!("no team {t:?} in the configuration's [teams]");
    }
    let opts = costwarden::digest::send::Options { dry_run, force: true };
    let now = chrono::Utc::now();
    let r =
        costwarden::digest::send::run(&app.config, &app.clients, &app.digest_sent, now, team.as_deref(), opts).await;
    if json {
        print_json(&r)?;
    } else {
        for d in &r.digests {
            println!("{}", costwarden::digest::render::text(d));
        }
        if r.digests.is_empty() {
            println!("no team owns a series thresholds.toml lists: no digest");
        }
        for (t, via) in &r.sent {
            println!("sent to team {} via {}", costwarden::text::terminal(t), via.join(", "));
        }
    }
    for e in &r.errors {
        eprintln!("error: {}", costwarden::text::terminal(e));
    }
    Ok(exit(r.errors.is_empty()))
}

/// `costwarden check`: every probe, and its verdict.
async fn check(app: App, json: bool, send_test: bool) -> anyhow::Result<ExitCode> {
    let today = chrono::Utc::now().date_naive();
    let console = app.console_if_enabled();
    let report = costwarden::check::check(&app.config, &app.clients, console, today, send_test).await;
    if json {
        print_json(&report)?;
    } else {
        print!("{}", costwarden::check::human(&report));
    }
    Ok(exit(report.ok))
}

/// `costwarden inventory review DIR`: the summary and plan, and with `[inventory.review]` each
/// team read reviewed recorded (unless `dry_run`).
async fn review(cfg: Config, dir: &Path, json: bool, dry_run: bool) -> anyhow::Result<ExitCode> {
    let review = costwarden::review::read_dir(dir).map_err(anyhow::Error::msg)?;
    let today = chrono::Utc::now().date_naive();
    match json {
        true => {
            let plan = costwarden::review::plan(&review, &cfg, today);
            let both = serde_json::json!({"teams": &review.teams, "problems": &review.problems, "plan": plan});
            println!("{}", serde_json::to_string_pretty(&both)?)
        }
        false => print!("{}", costwarden::review::markdown_plan(&review, &cfg, today)),
    }
    let all_reviewed = review.teams.iter().all(|t| !t.reviewed_by.is_empty());
    let (records, unexpected) = costwarden::review::records(&review, &cfg, today);
    if !unexpected.is_empty() {
        eprintln!("not recorded (not a team [inventory.review] expects): {}", unexpected.join(", "));
    }
    let mut recorded = true;
    if !records.is_empty() && !dry_run {
        let app = app(cfg, None).await;
        let batches = costwarden::sink::cloudwatch::batches(&records, chrono::Utc::now());
        let ns = &app.config.collector.namespace;
        let w = costwarden::sink::cloudwatch::put(&app.clients.cloudwatch, ns, batches, 1).await;
        recorded = w.errors.is_empty();
        for e in &w.errors {
            eprintln!("error: recording the review: {}", terminal(e));
        }
        if recorded {
            let teams: Vec<&str> = records.iter().filter_map(|s| s.key.dim(costwarden::metrics::DIM_OWNER)).collect();
            eprintln!("recorded as reviewed on {today} (InventoryReviewed): {}", teams.join(", "));
        }
    }
    Ok(exit(review.problems.is_empty() && all_reviewed && recorded))
}

/// `efficiency`'s formats: `--json` is `--format json`; by default md and json into `--out`,
/// md on stdout, where only one text format can go.
fn efficiency_formats(out: Option<&Path>, format: Vec<String>, json: bool) -> anyhow::Result<Vec<String>> {
    let format = match (json, format.is_empty(), out.is_some()) {
        (true, _, _) => vec!["json".into()],
        (false, false, _) => format,
        (false, true, true) => vec!["md".into(), "json".into()],
        (false, true, false) => vec!["md".into()],
    };
    if out.is_none() && (format.len() > 1 || format[0] == "xlsx") {
        anyhow::bail!("--format {} needs --out DIR: one text format (md, csv, json) goes to stdout", format.join(","));
    }
    Ok(format)
}

/// A run as the schedule makes it when nothing daily is due, writing nothing: its footprint is
/// every run's, the daily runs' comes from their records. With `every_run` every source is read
/// (Cost Explorer included): that is what each run does.
async fn cost(app: App, json: bool, daily_series: Option<usize>) -> anyhow::Result<ExitCode> {
    let every_run = app.config.collector.daily_totals == costwarden::config::DailyTotals::EveryRun;
    let only: &[costwarden::model::SourceId] = &[costwarden::model::SourceId::Ecs];
    let opts = Options { dry_run: true, force: every_run, daily_series };
    let report = run_cycle(&app, chrono::Utc::now(), opts, (!every_run).then_some(only)).await;
    if json {
        print_json(&serde_json::json!({
            "projection": report.self_cost,
            "measured_by": {"requests": report.requests, "usd": report.estimated_usd},
        }))?;
    } else {
        print!("{}", report::cost_table(&report, &app.config));
    }
    Ok(exit(report.sources.iter().all(|s| s.status != costwarden::Status::Failed)))
}

async fn coverage(app: App, out: &Path, formats: &[String], check: bool) -> anyhow::Result<ExitCode> {
    use costwarden::coverage::{self, render};
    let today = chrono::Utc::now().date_naive();
    let progress = |line: String| eprintln!("{}", terminal(&line));
    let started = std::time::Instant::now();
    // The Console client is built (its credentials read) inside the count.
    let reading = async {
        let console = app.console_if_enabled().await;
        coverage::collect::collect(
            &app.config,
            &app.clients,
            console,
            today,
            coverage::collect::Volumes::Read,
            &progress,
        )
        .await
    };
    let (inputs, requests) = costwarden::wire::counted(reading).await;
    let inputs = inputs.map_err(anyhow::Error::msg)?;
    let mut requests = requests.snapshot();
    let rows = coverage::rows(&app.config, &inputs);
    for w in &inputs.warnings {
        eprintln!("warning: {}", terminal(w));
    }
    for p in &inputs.problems {
        eprintln!("problem: {}", terminal(p));
    }
    let md = render::markdown(&rows, today, app.config.coverage.history_days);
    if check {
        return Ok(coverage_check(out, &md, inputs.problems.is_empty()));
    }
    // With [inventory], each team's workbook also gets its buckets' prefixes to decide on.
    let mut prefixes = Vec::new();
    if !app.config.inventory.buckets.is_empty() && formats.iter().any(|f| f == "xlsx") {
        let (buckets, more, _) = inventories(&app).await;
        for (api, n) in more {
            *requests.entry(api).or_default() += n;
        }
        for b in buckets.iter().filter_map(|b| Some((&b.bucket, b.error.as_ref()?))) {
            eprintln!("warning: the inventory of {} was not read: {}", b.0, terminal(b.1));
        }
        prefixes = costwarden::efficiency::prefix_rows(&buckets);
    }
    for path in render::write_all(&rows, &prefixes, &md, out, formats).map_err(anyhow::Error::msg)? {
        println!("wrote {}", path.display());
    }
    println!("{}", render::summary(&rows));
    let usd = costwarden::wire::usd(&requests);
    let listed: Vec<String> = requests.iter().map(|(api, n)| format!("{} {n}", api.name())).collect();
    println!("read in {:.1} s: {}; USD {usd:.5}", started.elapsed().as_secs_f64(), listed.join(", "));
    Ok(exit(inputs.problems.is_empty()))
}

/// `coverage --check`: is the committed coverage.md the one this reading gives?
fn coverage_check(out: &Path, fresh: &str, no_problems: bool) -> ExitCode {
    let path = out.join("coverage.md");
    // No committed file is as stale as it gets: exit 1, as documented, not a usage error.
    let committed = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            let run = format!("run `costwarden coverage --out {}` and commit it", out.display());
            println!("{}: cannot read it ({e}); {run}", path.display());
            return exit(false);
        }
    };
    let stale = costwarden::coverage::render::stale(&committed, fresh);
    if stale.is_empty() {
        println!("{}: up to date", path.display());
    } else {
        println!("{}: stale; run `costwarden coverage` and commit it:", path.display());
        for l in &stale {
            println!("  {}", terminal(l));
        }
    }
    exit(stale.is_empty() && no_problems)
}

/// Every `[[inventory.buckets]]` read and priced, with what costwarden recorded as scanned; the
/// requests made and the gzip bytes read.
async fn inventories(
    app: &App,
) -> (Vec<costwarden::efficiency::Bucket>, std::collections::BTreeMap<costwarden::wire::Api, u64>, u64) {
    let cfg = &app.config;
    let opts = cfg.inventory.options(chrono::Utc::now());
    let names: Vec<&str> = cfg.inventory.buckets.iter().map(|b| b.bucket.as_str()).collect();
    // The cost values' measured cost per GB prices a Console bucket without coverage.console_usd_per_gb.
    let values = cfg
        .cost
        .as_ref()
        .filter(|_| cfg.coverage.console_usd_per_gb.is_none())
        .map(|c| (c.tag_key.as_str(), c.tags.iter().map(|t| t.value.as_str()).collect()));
    let work = async {
        let recorded = costwarden::sources::inventory::recorded(
            &app.clients.cloudwatch,
            &cfg.collector.namespace,
            &names,
            values,
            opts.since.date_naive(),
            chrono::Utc::now(),
        )
        .await
        .unwrap_or_else(|e| {
            eprintln!("warning: the scanned volume costwarden recorded could not be read: {}", terminal(&e));
            Default::default()
        });
        let mut reads = Vec::new();
        for b in &cfg.inventory.buckets {
            eprintln!("reading the inventory of {} (s3://{}/{})", b.bucket, b.destination, b.base());
            let say = |line: String| eprintln!("{}", terminal(&line));
            let athena = cfg.inventory.athena.as_ref();
            let c = &app.clients;
            reads.push((
                b,
                costwarden::sources::inventory::read(&c.inventory_s3, &c.athena, athena, b, opts, &say).await,
            ));
        }
        (recorded, reads)
    };
    let ((recorded, reads), requests) = costwarden::wire::counted(work).await;
    let gz = reads.iter().filter_map(|(_, r)| r.as_ref().ok()).map(|r| r.gz_bytes).sum();
    let buckets = reads
        .into_iter()
        .map(|(b, r)| {
            let athena = r.as_ref().ok().and_then(|r| r.athena.clone());
            let mut out = costwarden::efficiency::bucket(cfg, &b.bucket, r.map(|r| (r.delivery, r.summary)), &recorded);
            out.athena = athena;
            out
        })
        .collect();
    (buckets, requests.snapshot(), gz)
}

async fn efficiency(app: App, out: Option<&Path>, formats: &[String]) -> anyhow::Result<ExitCode> {
    use costwarden::efficiency as eff;
    if app.config.inventory.buckets.is_empty() {
        anyhow::bail!("no [[inventory.buckets]] in the configuration: name where each bucket's S3 Inventory lands");
    }
    let started = std::time::Instant::now();
    let (buckets, requests, gz) = inventories(&app).await;
    let fine = buckets.iter().all(|b| b.summary.as_ref().is_some_and(|s| s.malformed == 0));
    let text = |format: &str| -> anyhow::Result<Vec<u8>> {
        Ok(match format {
            "json" => serde_json::to_vec_pretty(&buckets)?,
            "csv" => eff::csv(&buckets)?,
            _ => eff::markdown_report(&buckets).into_bytes(),
        })
    };
    match out {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            for f in formats {
                let path = dir.join(format!("efficiency.{f}"));
                match f.as_str() {
                    "xlsx" => eff::workbook(&buckets, &path)?,
                    _ => std::fs::write(&path, text(f)?)?,
                }
                println!("wrote {}", path.display());
            }
        }
        None => std::io::Write::write_all(&mut std::io::stdout().lock(), &text(&formats[0])?)?,
    }
    let usd = costwarden::wire::usd(&requests);
    let listed: Vec<String> = requests.iter().map(|(api, n)| format!("{} {n}", api.name())).collect();
    let athena: Vec<_> = buckets.iter().filter_map(|b| b.athena.as_ref()).collect();
    let by_athena = match athena.is_empty() {
        true => String::new(),
        false => format!(
            "; Athena scanned {:.3} GB, USD {:.5}",
            athena.iter().map(|a| a.scanned_bytes).sum::<u64>() as f64 / 1e9,
            athena.iter().map(|a| a.usd).sum::<f64>()
        ),
    };
    eprintln!(
        "read in {:.1} s: {}; {:.3} MB of gzip CSV; USD {usd:.5} of requests{by_athena}",
        started.elapsed().as_secs_f64(),
        listed.join(", "),
        gz as f64 / 1e6
    );
    Ok(exit(fine))
}

fn health(config: &Config, max_age: Option<i64>) -> ExitCode {
    use costwarden::run::health;
    let schedules = costwarden::model::SourceId::ALL.into_iter().filter_map(|id| config.source_schedule(id));
    let runs = schedules.filter_map(costwarden::schedule::runs_per_month).fold(0.0, f64::max);
    let max = max_age.map(chrono::TimeDelta::seconds).unwrap_or_else(|| health::max_age(runs));
    let path = health::path_for(&config.collector.namespace);
    match health::judge(health::read(&path).as_ref(), chrono::Utc::now(), max) {
        Ok(fine) => {
            println!("healthy: {fine}");
            ExitCode::SUCCESS
        }
        Err(wrong) => {
            println!("unhealthy: {wrong}");
            ExitCode::from(1)
        }
    }
}

fn load(path: &Path) -> anyhow::Result<Config> {
    Config::load(path).context("loading the configuration")
}

async fn app(config: Config, console_url: Option<reqwest::Url>) -> App {
    let clients = Clients::from_env(&config).await;
    let mut app = App::new(config, clients);
    app.console_url = console_url;
    app
}

/// 0 when everything was read, written and told; 1 when something was not.
fn exit(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn validate(path: &Path) -> ExitCode {
    // Strict: a snooze that has ended is a problem here (remove it), not in a run.
    match Config::load_on(path, chrono::Utc::now().date_naive(), true) {
        Ok(_) => {
            println!("{}: ok", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

fn dashboards(config: &Config, out: &Path) -> anyhow::Result<ExitCode> {
    let files = costwarden::datadog::files(config);
    // Monitors of series no longer configured must not linger.
    let monitors = out.join("monitors");
    if monitors.is_dir() {
        for e in std::fs::read_dir(&monitors)? {
            let p = e?.path();
            if p.extension().is_some_and(|x| x == "json") {
                std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
            }
        }
    }
    for (rel, json) in &files {
        let path = out.join(rel);
        std::fs::create_dir_all(path.parent().expect("a file in a folder"))?;
        std::fs::write(&path, serde_json::to_string_pretty(json)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    println!("{} files written to {} (1 dashboard, {} monitors)", files.len(), out.display(), files.len() - 1);
    Ok(ExitCode::SUCCESS)
}

fn backtest(
    config: &Path,
    input: &Path,
    series: Option<String>,
    threshold: Option<f64>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(input).with_context(|| format!("reading {}", input.display()))?;
    let data = costwarden::backtest::parse_csv(&text, &input.display().to_string())?;
    let rules = match (series, threshold) {
        (Some(name), _) => costwarden::alerts::route::rules_for_name(&load(config)?, &name)
            .with_context(|| format!("no bucket or cost tag value named {name:?} in {}", config.display()))?,
        (None, Some(level)) => {
            // The quick form needs no configuration file but honours one that is there; a
            // broken one is an error, not silently replaced by the defaults.
            let defaults = if config.exists() { load(config)?.rules } else { Default::default() };
            costwarden::backtest::quick_rules(level, &defaults)?
        }
        (None, None) => unreachable!("clap requires --series or --threshold"),
    };
    let events = costwarden::backtest::replay(&rules, &data);
    if json {
        print_json(&events)?;
    } else {
        let (first, last) = (data[0].0, data[data.len() - 1].0);
        println!("{} days from {first} to {last}, {} transitions", data.len(), events.len());
        for e in &events {
            println!("{}  {:<8} {:<9} {}", e.date, e.state.name(), e.rule.name(), e.message);
        }
    }
    Ok(ExitCode::SUCCESS)
}
