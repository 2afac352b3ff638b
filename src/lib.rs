//! costwarden: collects the malware scanner's cost drivers, writes them as CloudWatch custom
//! metrics, and warns the owning team before the cost runs away. ARCHITECTURE.md maps the
//! modules; this file declares them and re-exports what the commands and the tests use.

// The commands' futures nest the AWS SDK's deep ones; rustc's default layout depth (128) was
// passed on a clean build (CI, 2026-12-06: 130 at cli_main). The cycle is also boxed (run/cycle.rs).
#![recursion_limit = "256"]

pub mod alerts;
pub mod app;
pub mod backtest;
pub mod check;
pub mod config;
pub mod coverage;
pub mod datadog;
pub mod digest;
pub mod efficiency;
pub mod inventory;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod outcome;
pub mod price;
pub mod report;
pub mod review;
pub mod rules;
pub mod run;
pub mod schedule;
pub mod secret;
pub mod selfcost;
pub mod sink;
pub mod sources;
pub mod text;
pub mod wire;

pub use crate::app::App;
pub use crate::outcome::{RunReport, SourceReport, Status};
pub use crate::run::cycle::{run_cycle, run_once, run_sources, Options};
pub use crate::wire::Clients;
