//! Discovery of the Console's statistics shape. The endpoint is not publicly documented, so a
//! wrong `[antivirus.api]` guess used to show up only as "no item list at /items". Given one page
//! the Console really returned, this says where the item list is, what one item holds, which
//! configured names are missing, and suggests an `[antivirus.api]` block, every guess marked as
//! one. Pure: `costwarden check` fetches the page.

use std::fmt::Write as _;

use serde_json::Value;

use crate::config::ConsoleApi;

/// One field of an item: its name, JSON type and a sample value.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Field {
    pub name: String,
    pub kind: &'static str,
    pub sample: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Discovery {
    /// JSON pointer (RFC 6901) to the largest array of objects in the page, if any.
    pub items_pointer: Option<String>,
    pub items: usize,
    /// The fields of the first item.
    pub fields: Vec<Field>,
    /// Configured keys whose name the page does not have: (key, configured name).
    pub missing: Vec<(&'static str, String)>,
    /// An `[antivirus.api]` block for this shape, guesses commented as such.
    pub suggestion: String,
}

impl Discovery {
    /// True when the configured shape reads this page.
    pub fn matches(&self) -> bool {
        self.missing.is_empty()
    }
}

pub fn discover(page: &Value, api: &ConsoleApi) -> Discovery {
    let mut arrays = Vec::new();
    arrays_of_objects(page, String::new(), &mut arrays);
    // The largest list wins; among equals, the shallowest.
    arrays.sort_by_key(|(ptr, n)| (std::cmp::Reverse(*n), ptr.matches('/').count()));
    let items_pointer = arrays.first().map(|(p, _)| p.clone());
    let items = arrays.first().map_or(0, |(_, n)| *n);
    let first = items_pointer.as_deref().and_then(|p| page.pointer(p)).and_then(|a| a.get(0));
    let fields: Vec<Field> = first.and_then(Value::as_object).map_or_else(Vec::new, |o| {
        o.iter().map(|(k, v)| Field { name: k.clone(), kind: kind(v), sample: sample(v) }).collect()
    });
    let has = |name: &str| fields.iter().any(|f| f.name == name);
    let mut missing = Vec::new();
    if page.pointer(&api.items_pointer).is_none_or(|v| !v.is_array()) {
        missing.push(("items_pointer", api.items_pointer.clone()));
    }
    let mut named = vec![
        ("bucket_field", &api.bucket_field),
        ("date_field", &api.date_field),
        ("bytes_field", &api.bytes_field),
        ("objects_field", &api.objects_field),
    ];
    if let Some(s) = &api.scan_type_field {
        named.push(("scan_type_field", s));
    }
    for (key, name) in named {
        if !has(name) {
            missing.push((key, name.clone()));
        }
    }
    let suggestion = suggest(page, items_pointer.as_deref(), &fields);
    Discovery { items_pointer, items, fields, missing, suggestion }
}

fn arrays_of_objects(v: &Value, at: String, out: &mut Vec<(String, usize)>) {
    match v {
        Value::Array(a) => {
            if !a.is_empty() && a.iter().all(Value::is_object) {
                out.push((at.clone(), a.len()));
            }
            // Items' own lists (e.g. tags) are smaller than the list that holds them.
            if let Some(first) = a.first() {
                arrays_of_objects(first, format!("{at}/0"), out);
            }
        }
        Value::Object(o) => {
            for (k, child) in o {
                arrays_of_objects(child, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out);
            }
        }
        _ => {}
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number (fraction)",
        Value::Number(_) => "number (integer)",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn sample(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

/// The first field whose lower-cased name contains one of `words` and whose type is `want`.
fn by_name<'a>(fields: &'a [Field], words: &[&str], want: &str, not: &[&str]) -> Option<&'a Field> {
    words.iter().find_map(|w| {
        fields.iter().find(|f| {
            let n = f.name.to_ascii_lowercase();
            n.contains(w) && f.kind.starts_with(want) && !not.contains(&f.name.as_str())
        })
    })
}

fn looks_like_date(s: &str) -> bool {
    let t = s.trim_matches('"');
    t.len() >= 10 && chrono::NaiveDate::parse_from_str(&t[..10], "%Y-%m-%d").is_ok()
}

fn suggest(page: &Value, items: Option<&str>, fields: &[Field]) -> String {
    let mut out = String::from("[antivirus.api]\n");
    let Some(items) = items else {
        out.push_str("# no list of objects in the page: is this the statistics endpoint?\n");
        return out;
    };
    let _ = writeln!(out, "items_pointer = {items:?}  # the largest list of objects in the page");
    let line = |out: &mut String, key: &str, f: Option<&Field>, why: &str| match f {
        Some(f) => {
            let _ = writeln!(out, "{key} = {:?}  # guess: {why} (e.g. {})", f.name, f.sample);
        }
        None => {
            let _ = writeln!(out, "# {key}: no field looks like it; set it by hand");
        }
    };
    let bucket = by_name(fields, &["bucket", "name"], "string", &[]);
    line(&mut out, "bucket_field", bucket, "a string named like a bucket");
    let date = fields
        .iter()
        .find(|f| f.kind == "string" && looks_like_date(&f.sample))
        .or_else(|| by_name(fields, &["date", "day", "time"], "string", &[]));
    line(&mut out, "date_field", date, "a string that reads as a date");
    let bytes = by_name(fields, &["byte", "size", "volume", "gb", "mb"], "number", &[]);
    line(&mut out, "bytes_field", bytes, "a number named like a size");
    let taken: Vec<&str> = bytes.iter().map(|f| f.name.as_str()).collect();
    let objects = by_name(fields, &["object", "file", "count", "items"], "number", &taken);
    line(&mut out, "objects_field", objects, "a number named like a count");
    let scan_type = by_name(fields, &["type", "kind", "mode"], "string", &[]);
    match scan_type {
        Some(f) => {
            let _ = writeln!(out, "scan_type_field = {:?}  # guess (e.g. {})", f.name, f.sample);
        }
        None => out.push_str("# scan_type_field: none seen (leave it out if the items are not split by scan type)\n"),
    }
    if let Some(f) = bytes {
        let _ = writeln!(out, "bytes_unit = {:?}  # guess: {}", unit(f).0, unit(f).1);
    }
    out.push_str(&paging(page, items));
    out
}

/// The byte unit from the field's name, else from the sample's magnitude.
fn unit(f: &Field) -> (&'static str, &'static str) {
    let n = f.name.to_ascii_lowercase();
    for (tag, unit) in [("gib", "GiB"), ("mib", "MiB"), ("kib", "KiB"), ("gb", "GB"), ("mb", "MB"), ("kb", "KB")] {
        if n.contains(tag) {
            return (unit, "from the field's name");
        }
    }
    let v: f64 = f.sample.parse().unwrap_or(0.0);
    if f.kind == "number (fraction)" && v < 1e6 {
        ("GB", "a small fraction is unlikely to count bytes")
    } else {
        ("B", "an integer this large reads as bytes")
    }
}

/// The paging scheme from what the page carries beside its items.
fn paging(page: &Value, items: &str) -> String {
    let mut found = Vec::new();
    scalars(page, String::new(), items, &mut found);
    let named = |words: &[&str], want: fn(&Value) -> bool| {
        found.iter().find(|(p, v)| {
            let last = p.rsplit('/').next().unwrap_or("").to_ascii_lowercase();
            want(v) && words.iter().any(|w| last.contains(w))
        })
    };
    if let Some((p, _)) = named(&["token", "cursor", "continuation", "next"], |v| v.is_string()) {
        return format!("paging = \"token\"  # guess: a continuation token\nnext_token_pointer = {p:?}\n");
    }
    if let Some((p, _)) = named(&["totalpages", "total_pages", "pagecount", "page_count", "pages"], |v| v.is_u64()) {
        return format!("paging = \"page\"  # guess: a page count\ntotal_pages_pointer = {p:?}\n");
    }
    "paging = \"none\"  # guess: no page count or token seen\n".to_string()
}

/// Every scalar outside the item list, by pointer.
fn scalars(v: &Value, at: String, items: &str, out: &mut Vec<(String, Value)>) {
    if at == items {
        return;
    }
    match v {
        Value::Object(o) => {
            for (k, child) in o {
                scalars(child, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), items, out);
            }
        }
        Value::Array(_) => {}
        other => out.push((at, other.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn another_shape_is_located_and_a_block_suggested() {
        let page = json!({
            "data": {"results": [
                {"bucket": "uploads-prod", "scanDay": "2026-12-01T00:00:00Z", "sizeGB": 3.25,
                 "fileCount": 120, "scanKind": "Event", "tags": [{"k": "v"}]},
                {"bucket": "avatars", "scanDay": "2026-12-01T00:00:00Z", "sizeGB": 0.5,
                 "fileCount": 9, "scanKind": "Retro", "tags": []}
            ]},
            "paging": {"nextCursor": "eyJwIjoyfQ", "returned": 2}
        });
        let d = discover(&page, &ConsoleApi::default());
        assert_eq!(d.items_pointer.as_deref(), Some("/data/results"));
        assert_eq!(d.items, 2);
        assert!(!d.matches());
        let missing: Vec<&str> = d.missing.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            missing,
            ["items_pointer", "bucket_field", "date_field", "bytes_field", "objects_field", "scan_type_field"]
        );
        let size = d.fields.iter().find(|f| f.name == "sizeGB").unwrap();
        assert_eq!((size.kind, size.sample.as_str()), ("number (fraction)", "3.25"));
        assert_eq!(
            d.suggestion,
            r#"[antivirus.api]
items_pointer = "/data/results"  # the largest list of objects in the page
bucket_field = "bucket"  # guess: a string named like a bucket (e.g. "uploads-prod")
date_field = "scanDay"  # guess: a string that reads as a date (e.g. "2026-12-01T00:00:00Z")
bytes_field = "sizeGB"  # guess: a number named like a size (e.g. 3.25)
objects_field = "fileCount"  # guess: a number named like a count (e.g. 120)
scan_type_field = "scanKind"  # guess (e.g. "Event")
bytes_unit = "GB"  # guess: from the field's name
paging = "token"  # guess: a continuation token
next_token_pointer = "/paging/nextCursor"
"#
        );
    }

    #[test]
    fn the_configured_shape_matches_and_page_counts_are_seen() {
        let page = json!({"items": [{"bucketName": "b", "date": "2026-12-01", "scannedBytes": 5_000_000_000u64,
            "scannedObjects": 10, "scanType": "Event"}], "page": 1, "totalPages": 3});
        let d = discover(&page, &ConsoleApi::default());
        assert!(d.matches(), "{:?}", d.missing);
        assert!(d.suggestion.contains("bytes_unit = \"B\"  # guess: an integer this large reads as bytes"));
        assert!(d
            .suggestion
            .ends_with("paging = \"page\"  # guess: a page count\ntotal_pages_pointer = \"/totalPages\"\n"));
    }

    #[test]
    fn a_page_without_objects_says_so() {
        let d = discover(&json!({"error": "not here", "items": []}), &ConsoleApi::default());
        assert_eq!(d.items_pointer, None);
        assert!(d.suggestion.contains("no list of objects in the page"));
        // An empty list is where the configuration says, so only the fields are missing.
        assert_eq!(d.missing.first().map(|(k, _)| *k), Some("bucket_field"));
    }
}
