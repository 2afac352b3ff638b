//! The same aggregation as `aggregate`, as one SQL query for Athena over the inventory's
//! `hive/` layout, for a bucket whose inventory is too large to stream here or is ORC/Parquet.
//! Pure: the statements costwarden sends, the price of the bytes the query will scan, and the
//! result rows read back into a `Summary`. The query uses only functions Athena (Trino) and
//! DuckDB both have with the same meaning, so a test runs this very text with DuckDB over the
//! same files and compares it with the embedded path.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use super::aggregate::{Part, Summary, MAX_EXTENSIONS, MAX_PREFIXES};

/// Athena's list price: USD 5 per TB scanned, at least 10 MB a query.
pub const USD_PER_TB: f64 = 5.0;
pub const MIN_SCAN_BYTES: u64 = 10_000_000;

/// What a query over `bytes` of data files costs.
pub fn price(bytes: u64) -> f64 {
    bytes.max(MIN_SCAN_BYTES) as f64 / 1e12 * USD_PER_TB
}

/// Where the data files are, as the manifest says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Orc,
    Parquet,
}

impl Format {
    pub fn of(file_format: &str) -> Option<Format> {
        match file_format.to_ascii_uppercase().as_str() {
            "CSV" => Some(Format::Csv),
            "ORC" => Some(Format::Orc),
            "PARQUET" => Some(Format::Parquet),
            _ => None,
        }
    }
}

/// An inventory's table: its columns (from the manifest's `fileSchema`), its format and where
/// its `hive/` layout is.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// `database.name`; the name is the bucket and configuration, and a hash of the columns so
    /// a changed schema gets a new table.
    pub name: String,
    pub format: Format,
    /// (column, Athena type), in file order.
    pub columns: Vec<(String, String)>,
    /// `s3://destination/prefix/bucket/config/hive/`.
    pub location: String,
}

/// `CREATE DATABASE IF NOT EXISTS` (the name checked by the configuration).
pub fn create_database(database: &str) -> String {
    format!("CREATE DATABASE IF NOT EXISTS {database}")
}

/// The columns a query needs, by their names in the table.
const NEEDED: [&str; 3] = ["key", "size", "last_modified_date"];

impl Table {
    /// The table of an inventory whose manifest says `file_format` and `file_schema`. The
    /// schema is the manifest's (data): a column name that is not plain letters, digits and
    /// underscores, or a type not in the inventory's, is refused, never put in a statement.
    pub fn new(
        database: &str,
        bucket: &str,
        config_id: &str,
        file_format: &str,
        file_schema: &str,
        location: String,
    ) -> Result<Table, String> {
        let format = Format::of(file_format)
            .ok_or_else(|| format!("fileFormat {:?} is not CSV, ORC or Parquet", crate::text::terminal(file_format)))?;
        let columns = match format {
            // "Bucket, Key, Size, LastModifiedDate, ETag": strings, cast where used.
            Format::Csv => file_schema
                .split(',')
                .map(|c| snake(c.trim()).map(|n| (n, "string".to_string())))
                .collect::<Result<Vec<_>, _>>()?,
            // "struct<bucket:string,key:string,size:bigint,...>".
            Format::Orc | Format::Parquet => typed_columns(file_schema)?,
        };
        // The location goes into the statement quoted: the configured prefix and config id are
        // the operator's, but one quote would end the literal.
        if location.chars().any(|c| c == '\'' || c == '\\' || c.is_control()) {
            return Err(format!("the inventory's location {} has a quote, backslash or control character: not put in an Athena statement", crate::text::quoted(&location, 200)));
        }
        for need in NEEDED {
            if !columns.iter().any(|(c, _)| c == need) {
                return Err(format!(
                    "fileSchema {:?} lacks {need}: add it to the inventory configuration's fields",
                    crate::text::terminal(file_schema)
                ));
            }
        }
        // FNV-1a of the columns: stable across releases (std's hasher is not), so the table
        // keeps its name across upgrades and a changed schema gets a new one.
        let mut digest: u32 = 0x811c_9dc5;
        for b in columns.iter().flat_map(|(c, t)| c.bytes().chain(t.bytes()).chain([b','])) {
            digest = (digest ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
        let ident = |s: &str| -> String {
            s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect()
        };
        let name = format!("{}.inventory_{}_{}_{digest:08x}", ident(database), ident(bucket), ident(config_id));
        Ok(Table { name, format, columns, location })
    }

    /// `CREATE EXTERNAL TABLE IF NOT EXISTS`: partitioned by the delivery (`dt`), partitions
    /// projected (no MSCK REPAIR, no Glue crawler), CSV read through the symlinks S3 writes.
    pub fn create(&self) -> String {
        let cols: Vec<String> = self.columns.iter().map(|(c, t)| format!("  `{c}` {t}")).collect();
        let storage = match self.format {
            Format::Csv => {
                "ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde'\n\
                 STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat'\n\
                 OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'"
            }
            Format::Orc => {
                "ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.orc.OrcSerde'\n\
                 STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat'\n\
                 OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.IgnoreKeyTextOutputFormat'"
            }
            Format::Parquet => {
                "ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'\n\
                 STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat'\n\
                 OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.IgnoreKeyTextOutputFormat'"
            }
        };
        format!(
            "CREATE EXTERNAL TABLE IF NOT EXISTS {}(\n{}\n)\nPARTITIONED BY (dt string)\n{storage}\n\
             LOCATION '{}'\nTBLPROPERTIES (\n  'projection.enabled'='true',\n  'projection.dt.type'='date',\n  \
             'projection.dt.format'='yyyy-MM-dd-HH-mm',\n  'projection.dt.range'='2016-11-01-00-00,NOW',\n  \
             'projection.dt.interval'='1',\n  'projection.dt.interval.unit'='HOURS'\n)",
            self.name,
            cols.join(",\n"),
            self.location
        )
    }

    fn has(&self, column: &str) -> bool {
        self.columns.iter().any(|(c, _)| c == column)
    }

    /// The aggregation of one delivery (`2026-12-04T01-00Z`) as `aggregate` does it: objects
    /// last modified at or after `since` per prefix pattern of `depth` folders, per extension,
    /// duplicates by (ETag, size); older objects counted; rows whose size is not a number
    /// counted as malformed. One scan of the delivery's files.
    ///
    /// The result rows: `kind` ("total", "extension", "prefix"), `recent` (true: in the window;
    /// false: older; empty: malformed), `name`, `objects`, `bytes`, and on the totals
    /// `duplicate_contents`, `duplicate_objects`, `duplicate_bytes`.
    pub fn query(&self, delivery: &str, since: DateTime<Utc>, depth: usize) -> String {
        let dt = delivery.trim_end_matches('Z').replace('T', "-");
        let csv = self.format == Format::Csv;
        // CSV keys are URL-encoded, a space as '+': decoded the same way here and in DuckDB.
        let key = if csv { "url_decode(replace(key, '+', '%20'))" } else { "key" };
        let recent = if csv {
            format!("last_modified_date >= '{}'", since.format("%Y-%m-%dT%H:%M:%S%.3fZ"))
        } else {
            format!("last_modified_date >= TIMESTAMP '{}'", since.format("%Y-%m-%d %H:%M:%S%.3f"))
        };
        let live = match (self.has("is_delete_marker"), csv) {
            (false, _) => String::new(),
            (true, true) => "\n    AND coalesce(is_delete_marker, '') <> 'true'".into(),
            (true, false) => "\n    AND coalesce(is_delete_marker, false) = false".into(),
        };
        let etag = if self.has("e_tag") { "coalesce(e_tag, '')" } else { "''" };
        let mut prefix = String::new();
        for i in 1..=depth.max(1) {
            let _ =
                write!(prefix, "\n        || CASE WHEN n > {i} THEN {} || '/' ELSE '' END", fold(&format!("p[{i}]")));
        }
        let prefix = prefix.trim_start_matches("\n        || ");
        format!(
            "WITH o AS (\n  \
               SELECT k, s, e, CASE WHEN s IS NULL THEN NULL ELSE recent END AS recent,\n    \
                 split(k, '/') AS p, CAST(cardinality(split(k, '/')) AS bigint) AS n\n  \
               FROM (\n    \
                 SELECT {key} AS k, try_cast(size AS bigint) AS s, {etag} AS e,\n      \
                   {recent} AS recent\n    \
                 FROM {table}\n    \
                 WHERE dt = '{dt}'{live}\n  \
               ) r\n\
             ),\n\
             f AS (\n  \
               SELECT recent, e, s,\n    \
                 CASE WHEN recent THEN CASE WHEN n = 1 THEN '(root)' ELSE\n        {prefix}\n      END END AS prefix,\n    \
                 CASE WHEN recent THEN CASE WHEN length(x) > 0 THEN lower(x) ELSE '(none)' END END AS extension\n  \
               FROM (SELECT o.*, regexp_extract(p[n], '(?s)^.+\\.([A-Za-z0-9]{{1,10}})\\z', 1) AS x FROM o) w\n\
             ),\n\
             c AS (\n  \
               SELECT recent, prefix, extension, e, s, count(*) AS m,\n    \
                 sum(count(*)) OVER (PARTITION BY recent, e, s) AS copies,\n    \
                 row_number() OVER (PARTITION BY recent, e, s ORDER BY prefix, extension) AS nth\n  \
               FROM f GROUP BY recent, prefix, extension, e, s\n\
             )\n\
             SELECT\n  \
               CASE WHEN grouping(prefix) = 0 THEN 'prefix' WHEN grouping(extension) = 0 THEN 'extension' ELSE 'total' END AS kind,\n  \
               recent, coalesce(prefix, extension) AS name, sum(m) AS objects, sum(m * coalesce(s, 0)) AS bytes,\n  \
               sum(CASE WHEN nth = 1 AND copies > 1 AND e <> '' THEN 1 ELSE 0 END) AS duplicate_contents,\n  \
               sum(CASE WHEN nth = 1 AND copies > 1 AND e <> '' THEN copies - 1 ELSE 0 END) AS duplicate_objects,\n  \
               sum(CASE WHEN nth = 1 AND copies > 1 AND e <> '' THEN (copies - 1) * s ELSE 0 END) AS duplicate_bytes\n\
             FROM c\n\
             GROUP BY GROUPING SETS ((recent, prefix), (recent, extension), (recent))\n\
             ORDER BY CASE WHEN grouping(prefix) = 0 THEN 2 WHEN grouping(extension) = 0 THEN 1 ELSE 0 END, bytes DESC, name",
            table = self.name,
        )
    }
}

/// A folder `seg` folded as `aggregate::pattern` folds it: `*` for one of many, `k=*` for a
/// `key=one-of-many` folder, else itself.
fn fold(seg: &str) -> String {
    let v = format!("substr({seg}, strpos({seg}, '=') + 1)");
    format!(
        "CASE WHEN strpos({seg}, '=') > 1 AND {} THEN substr({seg}, 1, strpos({seg}, '=')) || '*' WHEN {} THEN '*' ELSE {seg} END",
        one_of_many(&v),
        one_of_many(seg)
    )
}

/// `aggregate::one_of_many` in SQL: all digits; or at least 4 digits and only digits and
/// `-_.T:` (a date); or 16 or more hex digits and dashes with a digit (a hash, a UUID).
/// `regexp_extract(s, '^…\z') = s` is a full match in both engines (Athena gives NULL for no
/// match, DuckDB ''); digits are counted with `translate`.
fn one_of_many(s: &str) -> String {
    let digits = format!("(length({s}) - length(translate({s}, '0123456789', '')))");
    format!(
        "(length({s}) > 0 AND (regexp_extract({s}, '^[0-9]+\\z') = {s} \
         OR ({digits} >= 4 AND regexp_extract({s}, '^[0-9_.T:-]+\\z') = {s}) \
         OR (length({s}) >= 16 AND {digits} > 0 AND regexp_extract({s}, '^[0-9a-fA-F-]+\\z') = {s})))"
    )
}

/// `LastModifiedDate` → `last_modified_date`, `ETag` → `e_tag`; a name that is not plain
/// letters and digits is refused.
fn snake(name: &str) -> Result<String, String> {
    if name.is_empty() || name.len() > 64 || !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!("fileSchema names a column {:?}: not a plain name", crate::text::terminal(name)));
    }
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, c) in chars.iter().enumerate() {
        let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
        let prev_lower = i > 0 && chars[i - 1].is_ascii_lowercase();
        if c.is_ascii_uppercase() && i > 0 && (prev_lower || next_lower) {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    Ok(out)
}

/// ORC and Parquet schemas, `struct<bucket:string,size:bigint,...>`: names checked, types from
/// the inventory's own (a nested type, which the inventory has for object tags, is skipped
/// with its whole column: none is needed).
fn typed_columns(schema: &str) -> Result<Vec<(String, String)>, String> {
    const TYPES: [&str; 6] = ["string", "boolean", "bigint", "int", "timestamp", "double"];
    let bad = || format!("fileSchema {:?} is not a struct<name:type,...>", crate::text::terminal(schema));
    let inner = schema.trim().strip_prefix("struct<").and_then(|s| s.strip_suffix('>')).ok_or_else(bad)?;
    let mut out = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    let mut fields = Vec::new();
    for (i, c) in inner.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => depth = depth.checked_sub(1).ok_or_else(bad)?,
            ',' if depth == 0 => {
                fields.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    fields.push(&inner[start..]);
    for f in fields {
        let (name, ty) = f.split_once(':').ok_or_else(bad)?;
        let name = name.trim();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
            return Err(format!("fileSchema names a column {:?}: not a plain name", crate::text::terminal(name)));
        }
        let ty = ty.trim().to_ascii_lowercase();
        if TYPES.contains(&ty.as_str()) {
            out.push((name.to_string(), ty));
        }
    }
    Ok(out)
}

/// The query's result rows (the header first, as Athena gives it; a NULL is None) read back
/// into what the embedded path gives. Bounded as it is: the largest `MAX_PREFIXES` prefixes
/// and `MAX_EXTENSIONS` extensions, the rest summed as "(other)".
pub fn summary(rows: &[Vec<Option<String>>]) -> Result<Summary, String> {
    let header: Vec<&str> =
        rows.first().ok_or("the query returned no header")?.iter().flatten().map(String::as_str).collect();
    let col =
        |name: &str| header.iter().position(|h| *h == name).ok_or_else(|| format!("the result has no {name} column"));
    let (kind, recent, name) = (col("kind")?, col("recent")?, col("name")?);
    let (objects, bytes) = (col("objects")?, col("bytes")?);
    let dups = [col("duplicate_contents")?, col("duplicate_objects")?, col("duplicate_bytes")?];
    let mut s = Summary { duplicates_complete: true, ..Default::default() };
    for (i, row) in rows.iter().enumerate().skip(1) {
        let text = |c: usize| row.get(c).and_then(|v| v.as_deref());
        let num = |c: usize| -> Result<u64, String> {
            let t = text(c).unwrap_or("0");
            t.parse::<u64>().map_err(|_| format!("result row {i}: {:?} is not a count", crate::text::terminal(t)))
        };
        let part = || -> Result<Part, String> {
            Ok(Part { name: text(name).unwrap_or("").to_string(), objects: num(objects)?, bytes: num(bytes)? })
        };
        match (text(kind), text(recent)) {
            (Some("total"), Some("true")) => {
                s.objects = num(objects)?;
                s.bytes = num(bytes)?;
                s.duplicate_contents = num(dups[0])?;
                s.duplicate_objects = num(dups[1])?;
                s.duplicate_bytes = num(dups[2])?;
            }
            (Some("total"), Some("false")) => s.older = num(objects)?,
            (Some("total"), None) => s.malformed = num(objects)?,
            (Some("prefix"), Some("true")) => keep(&mut s.prefixes, part()?, MAX_PREFIXES),
            (Some("extension"), Some("true")) => keep(&mut s.extensions, part()?, MAX_EXTENSIONS),
            (Some("prefix" | "extension"), _) => {}
            (k, _) => {
                return Err(format!("result row {i}: kind {:?} is not costwarden's", k.map(crate::text::terminal)))
            }
        }
    }
    for parts in [&mut s.prefixes, &mut s.extensions] {
        parts.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
    }
    s.rows = s.objects + s.older + s.malformed;
    if s.malformed > 0 {
        s.problems
            .push(format!("{} rows whose Size is not a byte count (Athena counts them, names none)", s.malformed));
    }
    Ok(s)
}

/// `parts` holds at most `cap` names; past it the rest are summed under "(other)".
fn keep(parts: &mut Vec<Part>, p: Part, cap: usize) {
    if parts.len() + 1 < cap {
        return parts.push(p);
    }
    match parts.iter_mut().find(|x| x.name == "(other)") {
        Some(o) => {
            o.objects += p.objects;
            o.bytes += p.bytes;
        }
        None => parts.push(Part { name: "(other)".into(), ..p }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_the_manifests_checked_and_named_as_athena_does() {
        let t = Table::new(
            "costwarden",
            "acme-user.uploads",
            "daily",
            "CSV",
            "Bucket, Key, Size, LastModifiedDate, ETag, IsDeleteMarker",
            "s3://d/p/".into(),
        )
        .unwrap();
        let names: Vec<&str> = t.columns.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(names, ["bucket", "key", "size", "last_modified_date", "e_tag", "is_delete_marker"]);
        assert!(t.name.starts_with("costwarden.inventory_acme_user_uploads_daily_"), "{}", t.name);
        // A schema is data: a name that would be SQL is refused.
        let err =
            Table::new("db", "b", "c", "CSV", "Key, Size, LastModifiedDate, x`) ; DROP", "s3://d/".into()).unwrap_err();
        assert!(err.contains("not a plain name"), "{err}");
        let err = Table::new("db", "b", "c", "CSV", "Bucket, Key, LastModifiedDate", "s3://d/".into()).unwrap_err();
        assert!(err.contains("lacks size"), "{err}");
        // The location is quoted in the statement: a quote in the configured prefix ends there.
        let at = "s3://d/it's/b/c/hive/".to_string();
        let err = Table::new("db", "b", "c", "CSV", "Key, Size, LastModifiedDate", at).unwrap_err();
        assert!(err.contains("not put in an Athena statement"), "{err}");
        let p = Table::new("db", "b", "c", "Parquet", "struct<bucket:string,key:string,size:bigint,last_modified_date:timestamp,e_tag:string,tags:array<struct<k:string>>>", "s3://d/".into()).unwrap();
        assert_eq!(p.columns.len(), 5, "{:?}", p.columns);
        assert!(p.create().contains("ParquetHiveSerDe") && p.create().contains("`size` bigint"));
        let q = p.query("2026-12-04T01-00Z", "2026-11-04T00:00:00Z".parse().unwrap(), 3);
        assert!(
            q.contains("TIMESTAMP '2026-11-04 00:00:00.000'") && q.contains("WHERE dt = '2026-12-04-01-00'"),
            "{q}"
        );
    }

    #[test]
    fn the_price_is_five_dollars_a_terabyte_and_ten_megabytes_at_least() {
        assert_eq!(price(1_000_000_000_000), 5.0);
        assert_eq!(price(1), price(MIN_SCAN_BYTES));
        assert!((price(100_000_000) - 0.0005).abs() < 1e-12);
    }

    #[test]
    fn result_rows_become_the_summary() {
        let row = |v: &[Option<&str>]| v.iter().map(|c| c.map(str::to_string)).collect::<Vec<_>>();
        let rows = vec![
            row(&[
                Some("kind"),
                Some("recent"),
                Some("name"),
                Some("objects"),
                Some("bytes"),
                Some("duplicate_contents"),
                Some("duplicate_objects"),
                Some("duplicate_bytes"),
            ]),
            row(&[Some("total"), Some("true"), None, Some("5"), Some("5500"), Some("1"), Some("2"), Some("1000")]),
            row(&[Some("total"), Some("false"), None, Some("1"), Some("7000"), Some("0"), Some("0"), Some("0")]),
            row(&[Some("total"), None, None, Some("1"), Some("0"), Some("0"), Some("0"), Some("0")]),
            row(&[Some("extension"), Some("true"), Some("png"), Some("2"), Some("4000"), None, None, None]),
            row(&[Some("prefix"), Some("true"), Some("users/*/avatars/"), Some("2"), Some("4000"), None, None, None]),
            row(&[Some("prefix"), Some("false"), None, Some("1"), Some("7000"), None, None, None]),
        ];
        let s = summary(&rows).unwrap();
        assert_eq!((s.objects, s.bytes, s.older, s.malformed), (5, 5500, 1, 1));
        assert_eq!((s.duplicate_contents, s.duplicate_objects, s.duplicate_bytes), (1, 2, 1000));
        assert_eq!(s.prefixes, vec![Part { name: "users/*/avatars/".into(), objects: 2, bytes: 4000 }]);
        assert_eq!(s.extensions.len(), 1);
        let mut bad = rows.clone();
        bad[1][3] = Some("-1".into());
        assert!(summary(&bad).unwrap_err().contains("row 1"));
    }
}
