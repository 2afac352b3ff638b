//! What an inventory's objects add up to: the bytes and objects last modified in the window
//! (what event scanning scanned, as far as the objects still exist) per prefix pattern and per
//! extension, and the content present under several keys (each copy was scanned). Bounded: at
//! most `MAX_PREFIXES` patterns and `MAX_EXTENSIONS` extensions (the rest under "(other)"),
//! and `max_contents` distinct contents remembered for duplicates (then it says so).

use std::collections::HashMap;
use std::hash::BuildHasher;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::manifest::Row;

pub const MAX_PREFIXES: usize = 10_000;
pub const MAX_EXTENSIONS: usize = 1_000;
/// Problems kept word for word; the rest are counted.
const MAX_PROBLEMS: usize = 20;
const OTHER: &str = "(other)";

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Objects last modified at or after this are counted.
    pub since: DateTime<Utc>,
    /// Path segments of a prefix pattern.
    pub depth: usize,
    /// Distinct (ETag, size) remembered; 16 bytes and a count each (about 32 MB per million
    /// with the table's overhead).
    pub max_contents: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Part {
    pub name: String,
    pub objects: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Rows read (delete markers included).
    pub rows: u64,
    /// In the window.
    pub objects: u64,
    pub bytes: u64,
    /// Last modified before the window: not counted.
    pub older: u64,
    /// By bytes, largest first.
    pub prefixes: Vec<Part>,
    pub extensions: Vec<Part>,
    /// Contents present under more than one key in the window: how many, the copies beyond the
    /// first, and their bytes (each copy was scanned).
    pub duplicate_contents: u64,
    pub duplicate_objects: u64,
    pub duplicate_bytes: u64,
    /// False when the inventory has no ETag or more contents than remembered: the duplicates
    /// are then a floor.
    pub duplicates_complete: bool,
    pub malformed: u64,
    pub problems: Vec<String>,
}

pub struct Aggregator {
    opts: Options,
    prefixes: HashMap<String, (u64, u64)>,
    extensions: HashMap<String, (u64, u64)>,
    contents: HashMap<(u64, u64), u32>,
    hasher: std::collections::hash_map::RandomState,
    summary: Summary,
}

impl Aggregator {
    pub fn new(opts: Options) -> Aggregator {
        let summary = Summary { duplicates_complete: true, ..Default::default() };
        Aggregator {
            opts,
            prefixes: HashMap::new(),
            extensions: HashMap::new(),
            contents: HashMap::new(),
            hasher: Default::default(),
            summary,
        }
    }

    pub fn add(&mut self, row: &Row<'_>) {
        let s = &mut self.summary;
        s.rows += 1;
        if row.skip {
            return;
        }
        if row.last_modified < self.opts.since {
            s.older += 1;
            return;
        }
        s.objects += 1;
        s.bytes += row.size;
        bump(&mut self.prefixes, pattern(&row.key, self.opts.depth), MAX_PREFIXES, row.size);
        bump(&mut self.extensions, extension(&row.key), MAX_EXTENSIONS, row.size);
        if row.etag.is_empty() {
            s.duplicates_complete = false;
            return;
        }
        // A 64-bit hash of the ETag: at a million contents a false match is about 1 in 10^7.
        let content = (self.hasher.hash_one(row.etag), row.size);
        let room = self.contents.len() < self.opts.max_contents;
        match self.contents.get_mut(&content) {
            Some(n) => {
                if *n == 1 {
                    s.duplicate_contents += 1;
                }
                *n = n.saturating_add(1);
                s.duplicate_objects += 1;
                s.duplicate_bytes += row.size;
            }
            None if room => {
                self.contents.insert(content, 1);
            }
            None => s.duplicates_complete = false,
        }
    }

    pub fn malformed(&mut self, problem: String) {
        let s = &mut self.summary;
        s.malformed += 1;
        if s.problems.len() < MAX_PROBLEMS {
            s.problems.push(crate::text::terminal(&problem).into_owned());
        }
    }

    pub fn finish(mut self) -> Summary {
        let order = |m: HashMap<String, (u64, u64)>| {
            let mut parts: Vec<Part> =
                m.into_iter().map(|(name, (objects, bytes))| Part { name, objects, bytes }).collect();
            parts.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
            parts
        };
        self.summary.prefixes = order(self.prefixes);
        self.summary.extensions = order(self.extensions);
        if self.summary.malformed > self.summary.problems.len() as u64 {
            let more = self.summary.malformed - self.summary.problems.len() as u64;
            self.summary.problems.push(format!("{more} more malformed rows"));
        }
        self.summary
    }
}

fn bump(m: &mut HashMap<String, (u64, u64)>, name: String, cap: usize, bytes: u64) {
    let name = if m.len() >= cap && !m.contains_key(&name) { OTHER.to_string() } else { name };
    let e = m.entry(name).or_default();
    e.0 += 1;
    e.1 += bytes;
}

/// The first `depth` folders of a key, each that names one of many (a number, a UUID, a date,
/// a long hash, `key=<such>`) folded into `*`: `users/8812/avatars/a.png` → `users/*/avatars/`.
/// A key in no folder is `(root)`.
pub fn pattern(key: &str, depth: usize) -> String {
    let mut folders: Vec<&str> = key.split('/').collect();
    folders.pop();
    if folders.is_empty() {
        return "(root)".into();
    }
    let mut out = String::new();
    for f in folders.into_iter().take(depth.max(1)) {
        match f.split_once('=') {
            Some((k, v)) if !k.is_empty() && one_of_many(v) => out.push_str(&format!("{k}=*")),
            _ if one_of_many(f) => out.push('*'),
            _ => out.push_str(f),
        }
        out.push('/');
    }
    // A folder name is the owner's data: it is escaped where it lands (a terminal, a sheet).
    out
}

fn one_of_many(s: &str) -> bool {
    let digits = s.bytes().filter(u8::is_ascii_digit).count();
    let hex = s.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    let date_like =
        digits >= 4 && s.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.' | b'T' | b':'));
    !s.is_empty() && (digits == s.len() || date_like || (hex && s.len() >= 16 && digits > 0))
}

/// The extension of a key's file name, lower case: `photo.JPG` → `jpg`; `(none)` without one
/// (or one longer than 10 letters and digits, which is a name, not a type).
pub fn extension(key: &str) -> String {
    let name = key.rsplit('/').next().unwrap_or(key);
    match name.rsplit_once('.') {
        Some((stem, ext))
            if !stem.is_empty() && (1..=10).contains(&ext.len()) && ext.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            ext.to_ascii_lowercase()
        }
        _ => "(none)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::manifest::Schema;
    use std::io::Write;

    #[test]
    fn patterns_fold_the_folders_that_name_one_of_many() {
        assert_eq!(pattern("users/8812/avatars/a.png", 3), "users/*/avatars/");
        assert_eq!(pattern("users/0b5e8c1e-6f7a-4c1d-9a51-2f0e6b7c8d9e/avatars/x/y.png", 3), "users/*/avatars/");
        assert_eq!(pattern("exports/2026-12-01/part-0001.csv", 3), "exports/*/");
        assert_eq!(pattern("logs/dt=2026-12-01/h.gz", 3), "logs/dt=*/");
        assert_eq!(pattern("cache/9f86d081884c7d659a2feaa0c55ad015/blob", 3), "cache/*/");
        assert_eq!(pattern("readme.txt", 3), "(root)");
        assert_eq!(pattern("a/b/c/d/e.txt", 2), "a/b/");
        assert_eq!(extension("a/b/Photo.JPG"), "jpg");
        assert_eq!(extension("a/b/.profile"), "(none)");
        assert_eq!(extension("a/b/archive"), "(none)");
        assert_eq!(extension("a/b/x.tar.gz"), "gz");
    }

    /// A gzip CSV as S3 Inventory writes it: no header, every field quoted, the key encoded.
    fn gz(rows: &[[&str; 5]]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        for r in rows {
            let line: Vec<String> = r.iter().map(|f| format!("\"{f}\"")).collect();
            writeln!(e, "{}", line.join(",")).unwrap();
        }
        e.finish().unwrap()
    }

    #[test]
    fn prefixes_extensions_and_duplicates_add_up_to_hand_computed_values() {
        let schema = Schema::parse("Bucket, Key, Size, LastModifiedDate, ETag").unwrap();
        let new = "2026-12-01T10:00:00.000Z";
        let old = "2026-10-01T10:00:00.000Z";
        let data = gz(&[
            ["b", "users%2F1%2Favatars%2Fa.png", "1000", new, "e1"],
            ["b", "users%2F2%2Favatars%2Fb.png", "3000", new, "e2"],
            // The same content under three keys: two copies more, 2 x 500 bytes scanned again.
            ["b", "exports%2F2026-11-30%2Fr.csv", "500", new, "dup"],
            ["b", "exports%2F2026-12-01%2Fr.csv", "500", new, "dup"],
            ["b", "inbound%2Fr+copy.csv", "500", new, "dup"],
            // Older than the window: not counted, not a duplicate.
            ["b", "users%2F3%2Favatars%2Fc.png", "7000", old, "e1"],
            ["b", "users%2F4%2Favatars%2Fd.png", "not-a-size", new, "e4"],
        ]);
        let since = "2026-11-05T00:00:00Z".parse().unwrap();
        let mut agg = Aggregator::new(Options { since, depth: 3, max_contents: 1000 });
        crate::inventory::read_csv_gz(&data[..], &schema, "data/1.csv.gz", &mut agg);
        let s = agg.finish();
        assert_eq!((s.rows, s.objects, s.bytes, s.older), (6, 5, 5500, 1));
        let part = |name: &str, objects, bytes| Part { name: name.into(), objects, bytes };
        assert_eq!(
            s.prefixes,
            vec![part("users/*/avatars/", 2, 4000), part("exports/*/", 2, 1000), part("inbound/", 1, 500)]
        );
        assert_eq!(s.extensions, vec![part("png", 2, 4000), part("csv", 3, 1500)]);
        assert_eq!((s.duplicate_contents, s.duplicate_objects, s.duplicate_bytes), (1, 2, 1000));
        assert!(s.duplicates_complete);
        assert_eq!(s.malformed, 1);
        assert_eq!(s.problems, vec!["data/1.csv.gz line 7: Size \"not-a-size\" is not a byte count"]);
    }

    #[test]
    fn duplicates_past_the_memory_bound_are_a_floor_and_say_so() {
        let schema = Schema::parse("Bucket, Key, Size, LastModifiedDate, ETag").unwrap();
        let t = "2026-12-01T10:00:00Z";
        let data = gz(&[["b", "a/1", "10", t, "x"], ["b", "a/2", "10", t, "y"], ["b", "a/3", "10", t, "y"]]);
        let mut agg = Aggregator::new(Options { since: DateTime::UNIX_EPOCH, depth: 3, max_contents: 1 });
        crate::inventory::read_csv_gz(&data[..], &schema, "f", &mut agg);
        let s = agg.finish();
        assert_eq!(s.duplicate_bytes, 0);
        assert!(!s.duplicates_complete);
    }
}
