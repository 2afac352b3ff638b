//! A chart of a source's series, said in the catalogue's terms (metric, dimensions) and not in
//! a vendor's query language: each source says what its series look best as
//! (`Source::panels`), `datadog` writes them as widgets.

use crate::metrics::Metric;

/// One chart: its lines, drawn as `chart`, with horizontal marks (a rule's levels).
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    pub title: String,
    pub chart: Chart,
    pub lines: Vec<Line>,
    pub marks: Vec<Mark>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Chart {
    Line,
    Bars,
    /// The largest `n` series at their latest value.
    Top(u32),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Agg {
    Avg,
    Max,
}

/// One metric, aggregated over the dimensions not in `by`.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub agg: Agg,
    pub metric: Metric,
    /// Fixed dimension values (`Rule=growth`), before the reader's choice.
    pub only: Vec<(&'static str, &'static str)>,
    /// The dimension a reader narrows the whole dashboard by (a template variable), if any.
    pub pick: Option<&'static str>,
    pub by: Vec<&'static str>,
    /// Divided by this before it is shown (bytes as GB).
    pub per: Option<u64>,
    pub alias: &'static str,
}

impl Line {
    pub fn new(agg: Agg, metric: Metric, by: &[&'static str], alias: &'static str) -> Line {
        Line { agg, metric, only: Vec::new(), pick: None, by: by.to_vec(), per: None, alias }
    }

    pub fn picked(mut self, dim: &'static str) -> Line {
        self.pick = Some(dim);
        self
    }
}

/// A level drawn across the chart, in the lines' unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    pub at: f64,
    pub critical: bool,
    pub label: &'static str,
}

impl Panel {
    pub fn new(title: impl Into<String>, chart: Chart, lines: Vec<Line>) -> Panel {
        Panel { title: title.into(), chart, lines, marks: Vec::new() }
    }
}
