//! One statistics page, parsed without building a `serde_json::Value`: JSON pointers are
//! followed over raw JSON and only the configured fields of each item are read.

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::NaiveDate;
use serde_json::value::RawValue;

use super::{Error, Item, MAX_PAGES};
use crate::config::ConsoleApi;

/// One statistics page, parsed.
pub struct Page {
    pub items: Vec<Item>,
    pub problems: Vec<String>,
    pub(super) total_pages: Result<u64, String>,
    pub(super) next_token: Option<String>,
}

impl Page {
    pub(super) fn parse(bytes: &[u8], api: &ConsoleApi, page_no: usize, what: &str) -> Result<Page, Error> {
        let doc: &RawValue = serde_json::from_slice(bytes)
            .map_err(|e| Error::Json { what: what.to_string(), message: e.to_string() })?;
        let (items, problems) =
            parse_page(doc, api, page_no).map_err(|message| Error::Shape { what: what.to_string(), message })?;
        Ok(Page { items, problems, total_pages: total_pages(doc, api), next_token: next_token(doc, api) })
    }
}

pub fn total_pages(page: &RawValue, api: &ConsoleApi) -> Result<u64, String> {
    match pointer(page, &api.total_pages_pointer) {
        Some(v) => match serde_json::from_str::<u64>(v.get()) {
            Ok(0) => Ok(1),
            Ok(n) if n <= MAX_PAGES => Ok(n),
            Ok(n) => Err(format!("{} = {n} is over the limit of {MAX_PAGES} pages", api.total_pages_pointer)),
            Err(_) => Err(format!("{} is not a page count: {v}", api.total_pages_pointer)),
        },
        None => Err(format!("no page count at {}", api.total_pages_pointer)),
    }
}

fn next_token(page: &RawValue, api: &ConsoleApi) -> Option<String> {
    let raw = pointer(page, &api.next_token_pointer)?;
    serde_json::from_str::<Text>(raw.get()).ok().map(|t| t.0.into_owned()).filter(|s| !s.is_empty())
}

/// A JSON string, borrowed from the page unless it holds escapes.
#[derive(serde::Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

/// The value at an RFC 6901 pointer. Only the objects and arrays on the path are parsed, each to
/// a map or list of raw values: a page's 500 items are never built into a `serde_json::Value`.
fn pointer<'a>(doc: &'a RawValue, pointer: &str) -> Option<&'a RawValue> {
    let mut cur = doc;
    if pointer.is_empty() {
        return Some(cur);
    }
    for token in pointer.strip_prefix('/')?.split('/') {
        let token = token.replace("~1", "/").replace("~0", "~");
        cur = match cur.get().trim_start().as_bytes().first()? {
            b'{' => {
                let map: HashMap<Cow<'a, str>, &'a RawValue> = serde_json::from_str(cur.get()).ok()?;
                *map.get(token.as_str())?
            }
            b'[' => {
                let list: Vec<&'a RawValue> = serde_json::from_str(cur.get()).ok()?;
                *list.get(token.parse::<usize>().ok()?)?
            }
            _ => return None,
        };
    }
    Some(cur)
}

/// Parses one page: items that are malformed become problems, the rest are returned.
/// A page whose item list is missing is an error: its totals would be silently incomplete.
pub fn parse_page(page: &RawValue, api: &ConsoleApi, page_no: usize) -> Result<(Vec<Item>, Vec<String>), String> {
    let items: Vec<&RawValue> = pointer(page, &api.items_pointer)
        .and_then(|raw| serde_json::from_str(raw.get()).ok())
        .ok_or_else(|| format!("page {page_no}: no item list at {:?}", api.items_pointer))?;
    let names = Names::of(api);
    let mut out = Vec::with_capacity(items.len());
    let mut problems = Vec::new();
    for (i, raw) in items.iter().enumerate() {
        match parse_item(raw, api, &names) {
            Ok(item) => out.push(item),
            Err(msg) => problems.push(format!("page {page_no} item {i}: {msg}")),
        }
    }
    Ok((out, problems))
}

/// The configured field names of an item, in the order `Fields` returns them.
struct Names<'c>([Option<&'c str>; 5]);

impl<'c> Names<'c> {
    const BUCKET: usize = 0;
    const DATE: usize = 1;
    const BYTES: usize = 2;
    const OBJECTS: usize = 3;
    const SCAN_TYPE: usize = 4;

    fn of(api: &'c ConsoleApi) -> Self {
        Names([
            Some(api.bucket_field.as_str()),
            Some(api.date_field.as_str()),
            Some(api.bytes_field.as_str()),
            Some(api.objects_field.as_str()),
            api.scan_type_field.as_deref(),
        ])
    }
}

/// Reads one item object keeping only the named fields, as raw JSON; the rest is skipped.
struct Fields<'n, 'c>(&'n Names<'c>);

impl<'de> serde::de::DeserializeSeed<'de> for Fields<'_, '_> {
    type Value = [Option<&'de RawValue>; 5];

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Fields<'_, '_> {
    type Value = [Option<&'de RawValue>; 5];

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = [None; 5];
        while let Some(Text(key)) = map.next_key()? {
            match self.0 .0.iter().position(|n| *n == Some(key.as_ref())) {
                Some(i) => out[i] = Some(map.next_value()?),
                None => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

fn parse_item(raw: &RawValue, api: &ConsoleApi, names: &Names) -> Result<Item, String> {
    use serde::de::DeserializeSeed;
    let not_object = || "not a JSON object".to_string();
    if !raw.get().trim_start().starts_with('{') {
        return Err(not_object());
    }
    let fields =
        Fields(names).deserialize(&mut serde_json::Deserializer::from_str(raw.get())).map_err(|_| not_object())?;
    let text = |i: usize| -> Result<Cow<str>, String> {
        fields[i]
            .and_then(|v| serde_json::from_str::<Text>(v.get()).ok())
            .map(|t| t.0)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("field {:?} missing or not a non-empty string", names.0[i].unwrap_or_default()))
    };
    let bucket = text(Names::BUCKET)?;
    // The name becomes a dimension, a terminal line, a Slack text and a link: one S3 could not
    // have listed is not passed on.
    if !crate::model::possible_bucket_name(&bucket) {
        return Err(format!("bucket {} is not an S3 bucket name; skipped", crate::text::quoted(&bucket, 64)));
    }
    // Built only for a bad item: 600,000 good ones a run must not pay for it.
    let label = || format!("bucket {bucket:?}");
    let date_text = text(Names::DATE).map_err(|m| format!("{}: {m}", label()))?;
    let date = parse_date(&date_text, &api.date_format).ok_or_else(|| {
        format!("{}: {:?} = {date_text:?} is not a date ({})", label(), api.date_field, api.date_format)
    })?;
    let number = |i: usize| -> Result<f64, String> {
        let field = names.0[i].unwrap_or_default();
        let v = fields[i].ok_or_else(|| format!("{} on {date}: field {field:?} missing", label()))?;
        let n = serde_json::from_str::<f64>(v.get())
            .map_err(|_| format!("{} on {date}: {field:?} = {v} is not a number", label()))?;
        if n < 0.0 || !n.is_finite() {
            return Err(format!("{} on {date}: {field:?} = {v} is negative", label()));
        }
        Ok(n)
    };
    let bytes = number(Names::BYTES)? * api.bytes_unit.factor();
    let objects = number(Names::OBJECTS)?;
    let scan_type =
        fields[Names::SCAN_TYPE].and_then(|v| serde_json::from_str::<Text>(v.get()).ok()).map(|t| t.0.into_owned());
    Ok(Item { bucket: bucket.into_owned(), date, scan_type, bytes, objects })
}

/// The configured format, else an ISO 8601 date-time (ASP.NET serialises DateTime that way).
fn parse_date(s: &str, format: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, format)
        .ok()
        .or_else(|| chrono::DateTime::parse_from_rfc3339(s).ok().map(|d| d.date_naive()))
        .or_else(|| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").ok().map(|d| d.date()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use serde_json::Value;

    fn raw(v: Value) -> Box<RawValue> {
        RawValue::from_string(v.to_string()).unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn parse_page_keeps_good_items_and_names_bad_ones() {
        let api = ConsoleApi::default();
        let page = json!({"items": [
            {"bucketName": "uploads", "date": "2026-11-20", "scanType": "Event", "scannedBytes": 1000, "scannedObjects": 2},
            {"bucketName": "uploads", "date": "2026-11-20T00:00:00Z", "scanType": "Retro", "scannedBytes": 500, "scannedObjects": 1},
            {"bucketName": "bad-neg", "date": "2026-11-20", "scannedBytes": -5, "scannedObjects": 1},
            {"bucketName": "bad-str", "date": "2026-11-20", "scannedBytes": "lots", "scannedObjects": 1},
            {"bucketName": "bad-date", "date": "20/11/2026", "scannedBytes": 1, "scannedObjects": 1},
            "nonsense"
        ]});
        let (items, problems) = parse_page(&raw(page), &api, 1).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[1].date, day("2026-11-20"));
        assert_eq!(
            problems,
            vec![
                "page 1 item 2: bucket \"bad-neg\" on 2026-11-20: \"scannedBytes\" = -5 is negative",
                "page 1 item 3: bucket \"bad-str\" on 2026-11-20: \"scannedBytes\" = \"lots\" is not a number",
                "page 1 item 4: bucket \"bad-date\": \"date\" = \"20/11/2026\" is not a date (%Y-%m-%d)",
                "page 1 item 5: not a JSON object",
            ]
        );
    }

    #[test]
    fn parse_page_without_item_list_is_an_error() {
        let api = ConsoleApi::default();
        assert_eq!(parse_page(&raw(json!({"data": []})), &api, 3).unwrap_err(), "page 3: no item list at \"/items\"");
    }

    #[test]
    fn byte_unit_and_field_names_come_from_config() {
        let api = ConsoleApi {
            items_pointer: "/result/rows".into(),
            bucket_field: "bucket".into(),
            bytes_field: "sizeMb".into(),
            objects_field: "count".into(),
            bytes_unit: crate::config::ByteUnit::Mib,
            ..ConsoleApi::default()
        };
        let page = json!({"result": {"rows": [{"bucket": "b-1", "date": "2026-11-01", "sizeMb": 2.5, "count": 7}]}});
        let (items, problems) = parse_page(&raw(page), &api, 1).unwrap();
        assert!(problems.is_empty());
        assert_eq!(items[0].bytes, 2.5 * 1024.0 * 1024.0);
        assert_eq!(items[0].objects, 7.0);
    }

    #[test]
    fn pointers_descend_objects_and_arrays_and_escapes_are_read() {
        let api = ConsoleApi { items_pointer: "/data/1/a~1b".into(), ..ConsoleApi::default() };
        let text = r#"{"data": [{}, {"a/b": [{"bucketN\u0061me": "up\u002dloads", "extra": {"deep": [1, 2]},
            "date": "2026-11-01", "scannedBytes": 1e3, "scannedObjects": 1}]}]}"#;
        let page = RawValue::from_string(text.to_string()).unwrap();
        let (items, problems) = parse_page(&page, &api, 1).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(items[0].bucket, "up-loads");
        assert_eq!(items[0].bytes, 1000.0);
        assert!(parse_page(&page, &ConsoleApi { items_pointer: "/data/7".into(), ..api }, 1).is_err());
    }

    #[test]
    fn total_pages_rejects_nonsense() {
        let api = ConsoleApi::default();
        assert_eq!(total_pages(&raw(json!({"totalPages": 3})), &api), Ok(3));
        assert_eq!(total_pages(&raw(json!({"totalPages": 0})), &api), Ok(1));
        assert!(total_pages(&raw(json!({"totalPages": "x"})), &api).is_err());
        assert!(total_pages(&raw(json!({})), &api).is_err());
    }
}
