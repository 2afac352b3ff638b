//! Sources: each fetches (I/O) apart from parsing (pure) and returns samples plus the problems
//! it met; a problem with one item never hides the others.

pub mod antivirus;
pub mod cost_explorer;
pub mod ecs;
pub mod guardduty;

pub use crate::model::SourceId;
use crate::model::{Daily, Sample};

/// What one source delivered. `problems` are item-level failures (a malformed record, an unknown
/// service); they fail the run without discarding the good items.
#[derive(Debug, Default)]
pub struct SourceOutput {
    pub daily: Vec<Daily>,
    pub gauges: Vec<Sample>,
    pub problems: Vec<String>,
}
