//! From text to the raw configuration with every problem at once. First the TOML syntax: every
//! error the parser recovers from (values are not checked then: a recovered document would
//! give false ones). Then each unknown key and each value serde refuses: serde stops at the
//! first, so the offending entry is taken out and the document read again, until it reads or
//! a problem names no entry (a missing required key).

use std::ops::Range;

use serde::Deserialize;
use toml::de::{DeTable, DeValue};

use super::RawConfig;

/// A problem at a place in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Found {
    pub path: String,
    pub span: Option<Range<usize>>,
    pub message: String,
}

/// More would be a file of another kind; the first ones say so.
const MAX_PROBLEMS: usize = 50;

/// Why the text is not a raw configuration.
pub(super) struct Rejected {
    /// TOML syntax errors (then nothing else is checked).
    pub syntax: bool,
    pub found: Vec<Found>,
    /// The file without the entries taken out, when it reads: its values can still be checked.
    pub rest: Option<Box<RawConfig>>,
}

/// The raw configuration, or every problem found.
pub(super) fn raw(text: &str) -> Result<RawConfig, Rejected> {
    let (mut doc, syntax) = DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        let found = syntax
            .iter()
            .take(MAX_PROBLEMS)
            .map(|e| Found { path: String::new(), span: e.span(), message: e.message().replace('\n', "; ") })
            .collect();
        return Err(Rejected { syntax: true, found: in_file_order(found), rest: None });
    }
    let mut found: Vec<Found> = Vec::new();
    let mut removed: Vec<String> = Vec::new();
    loop {
        let e = match RawConfig::deserialize(toml::de::Deserializer::from(doc.clone())) {
            Ok(raw) if found.is_empty() => return Ok(raw),
            Ok(rest) => {
                return Err(Rejected { syntax: false, found: in_file_order(found), rest: Some(Box::new(rest)) })
            }
            Err(e) => e,
        };
        let span = e.span();
        // A missing key has no entry to take out (its span is the table's).
        let missing = missing_of(e.message());
        let taken = span.as_ref().filter(|_| missing.is_none()).and_then(|s| take(doc.get_mut(), s, ""));
        let message = with_suggestion(e.message());
        match taken {
            Some(path) => {
                removed.push(path.clone());
                found.push(Found { path, span, message });
                if found.len() < MAX_PROBLEMS {
                    continue;
                }
            }
            // A required key missing because its wrong value was taken out: said already.
            None if missing.is_some_and(|k| removed.iter().any(|r| last_key(r) == k)) => {}
            None => found.push(Found { path: String::new(), span, message }),
        }
        return Err(Rejected { syntax: false, found: in_file_order(found), rest: None });
    }
}

fn in_file_order(mut found: Vec<Found>) -> Vec<Found> {
    found.sort_by_key(|f| f.span.as_ref().map_or(usize::MAX, |s| s.start));
    found
}

/// Takes out of `table` the entry whose key or value is at `at` (the innermost one), and
/// returns its path (`a.b[2].c`).
fn take(table: &mut DeTable<'_>, at: &Range<usize>, prefix: &str) -> Option<String> {
    let inside = |s: Range<usize>| s.start <= at.start && at.end <= s.end.max(s.start + 1);
    let join = |key: &str| if prefix.is_empty() { key.to_string() } else { format!("{prefix}.{key}") };
    let mut hit = None;
    for (k, v) in table.iter_mut() {
        if let Some(p) = take_in(v.get_mut(), at, &join(k.get_ref())) {
            return Some(p);
        }
        if inside(k.span()) || inside(v.span()) {
            hit = Some(k.get_ref().to_string());
            break;
        }
    }
    let key = hit?;
    table.remove(key.as_str());
    Some(join(&key))
}

fn take_in(value: &mut DeValue<'_>, at: &Range<usize>, path: &str) -> Option<String> {
    match value {
        DeValue::Table(t) => take(t, at, path),
        DeValue::Array(a) => {
            a.iter_mut().enumerate().find_map(|(i, v)| take_in(v.get_mut(), at, &format!("{path}[{i}]")))
        }
        _ => None,
    }
}

fn last_key(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

/// "missing field `x`" → x.
fn missing_of(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

/// serde's "unknown field `antivrus`, expected one of `antivirus`, …" (or variant) with the
/// nearest expected name first.
fn with_suggestion(message: &str) -> String {
    let message = message.trim_end().replace('\n', "; ");
    let Some(rest) = message.strip_prefix("unknown field `").or_else(|| message.strip_prefix("unknown variant `"))
    else {
        return message;
    };
    let Some((given, expected)) = rest.split_once('`') else { return message };
    let names: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    let kind = if message.starts_with("unknown field") { "field" } else { "variant" };
    match nearest(given, names.iter().copied()) {
        Some(best) => format!("unknown {kind} `{given}`; did you mean `{best}`?"),
        None => message,
    }
}

/// The closest of `names` to a misspelt `given`, if one is close enough to be meant.
pub(super) fn nearest<'a>(given: &str, names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    names
        .map(|n| (strsim::jaro_winkler(&given.to_lowercase(), &n.to_lowercase()), n))
        .filter(|(score, _)| *score >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, n)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> (bool, Vec<(String, String, String)>) {
        match raw(text) {
            Ok(_) => (false, Vec::new()),
            Err(Rejected { syntax, found, .. }) => (
                syntax,
                found
                    .into_iter()
                    .map(|f| (f.path, f.span.map(|s| text[s].to_string()).unwrap_or_default(), f.message))
                    .collect(),
            ),
        }
    }

    #[test]
    fn every_unknown_key_and_wrong_type_is_found_in_one_pass_with_a_suggestion() {
        let text = "[collector]\nregoin = \"eu-west-1\"\nconcurrency = \"eight\"\n[antivrus]\nx = 1\n[cost]\ntag_key = \"t\"\nhistory_dayz = 3\n";
        let (syntax, found) = problems(text);
        assert!(!syntax);
        let paths: Vec<&str> = found.iter().map(|(p, _, _)| p.as_str()).collect();
        assert_eq!(paths.len(), 4, "{found:?}");
        for p in ["collector.regoin", "collector.concurrency", "antivrus", "cost.history_dayz"] {
            assert!(paths.contains(&p), "{p} in {found:?}");
        }
        let said = |p: &str| found.iter().find(|f| f.0 == p).unwrap().clone();
        assert!(said("antivrus").2.ends_with("did you mean `antivirus`?"), "{found:?}");
        assert!(said("collector.regoin").2.ends_with("did you mean `region`?"), "{found:?}");
        assert!(said("cost.history_dayz").2.ends_with("did you mean `history_days`?"), "{found:?}");
        // The span points at what is wrong: the key, or the value of the wrong type.
        assert_eq!(said("collector.regoin").1, "regoin");
        assert_eq!(said("collector.concurrency").1, "\"eight\"");
    }

    #[test]
    fn a_wrong_value_of_a_required_key_is_said_once() {
        let (_, found) = problems("[cost]\ntag_key = 5\n");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "cost.tag_key");
    }

    #[test]
    fn syntax_errors_are_all_reported_with_their_place() {
        let text = "[collector]\nregion = \"eu-west-1\nnamespace = = 1\n[cost\n";
        let (syntax, found) = problems(text);
        assert!(syntax);
        assert!(found.len() >= 3, "{found:?}");
        // In file order: the unclosed string of line 2 first, the table header last.
        let (first, last) = (&found[0].1, &found[found.len() - 1].1);
        assert!(text.find(first.as_str()) <= text.find(last.as_str()), "{found:?}");
    }
}
