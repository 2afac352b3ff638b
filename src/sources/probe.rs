//! A probe of `costwarden check`: one live read and its verdict, with the fix when it is not OK.
//! Each source probes itself (`Source::probe`) through the code its reads use.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    /// Works, but something will surprise (no data yet, nobody subscribed).
    Warn,
    Fail,
}

#[derive(Debug, Clone, Serialize)]
pub struct Probe {
    pub probe: String,
    pub verdict: Verdict,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

pub fn probe(name: impl Into<String>, verdict: Verdict, detail: impl Into<String>, fix: Option<String>) -> Probe {
    Probe { probe: name.into(), verdict, detail: detail.into(), fix }
}

pub fn ok(name: impl Into<String>, detail: impl Into<String>) -> Probe {
    probe(name, Verdict::Ok, detail, None)
}

pub fn fail(name: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Probe {
    probe(name, Verdict::Fail, detail, Some(fix.into()))
}

pub fn warn(name: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Probe {
    probe(name, Verdict::Warn, detail, Some(fix.into()))
}
