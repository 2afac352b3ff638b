//! An inventory's `manifest.json` and the column layout (`fileSchema`) of its data files.

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// What S3 Inventory writes beside the data files of one delivery.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub source_bucket: String,
    #[serde(default)]
    pub destination_bucket: String,
    pub file_format: String,
    pub file_schema: String,
    #[serde(default)]
    pub creation_timestamp: Option<String>,
    pub files: Vec<DataFile>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DataFile {
    pub key: String,
    #[serde(default)]
    pub size: u64,
    #[serde(rename = "MD5checksum", default)]
    pub md5: String,
}

/// Larger is not a manifest: one lists a file per few million objects.
pub const MAX_MANIFEST_BYTES: usize = 16 << 20;

impl Manifest {
    pub fn parse(text: &[u8]) -> Result<Manifest, String> {
        if text.len() > MAX_MANIFEST_BYTES {
            return Err(format!("manifest.json is {} bytes, over the {MAX_MANIFEST_BYTES} read", text.len()));
        }
        serde_json::from_slice(text).map_err(|e| format!("manifest.json: {e}"))
    }

    /// The columns of the data files, when this format is read here (CSV); ORC and Parquet are
    /// Athena's.
    pub fn schema(&self) -> Result<Schema, String> {
        if !self.file_format.eq_ignore_ascii_case("CSV") {
            return Err(format!(
                "manifest.json: fileFormat {:?} is read by Athena: configure [inventory.athena]",
                crate::text::terminal(&self.file_format)
            ));
        }
        Schema::parse(&self.file_schema)
    }
}

/// Where each needed column is in a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    pub key: usize,
    pub size: usize,
    pub last_modified: usize,
    /// Without it no duplicate content can be found (said in the summary).
    pub etag: Option<usize>,
    /// Versioned inventories: a delete marker was never scanned.
    pub delete_marker: Option<usize>,
}

impl Schema {
    /// `"Bucket, Key, Size, LastModifiedDate, ETag, StorageClass"`.
    pub fn parse(file_schema: &str) -> Result<Schema, String> {
        let cols: Vec<&str> = file_schema.split(',').map(str::trim).collect();
        let at = |name: &str| cols.iter().position(|c| c.eq_ignore_ascii_case(name));
        let need = |name: &str| {
            at(name).ok_or_else(|| {
                format!(
                    "manifest.json: fileSchema {:?} lacks {name}: add it to the inventory configuration's fields",
                    crate::text::terminal(file_schema)
                )
            })
        };
        Ok(Schema {
            key: need("Key")?,
            size: need("Size")?,
            last_modified: need("LastModifiedDate")?,
            etag: at("ETag"),
            delete_marker: at("IsDeleteMarker"),
        })
    }

    /// One data row; the key URL-decoded, as S3 Inventory writes it encoded.
    pub fn row<'r>(&self, r: &'r csv::ByteRecord) -> Result<Row<'r>, String> {
        let field = |i: usize, name: &str| r.get(i).ok_or_else(|| format!("no {name} column ({} fields)", r.len()));
        let text =
            |i: usize, name: &str| std::str::from_utf8(field(i, name)?).map_err(|_| format!("{name} is not UTF-8"));
        if let Some(i) = self.delete_marker {
            if text(i, "IsDeleteMarker")? == "true" {
                return Ok(Row {
                    key: String::new(),
                    size: 0,
                    last_modified: DateTime::UNIX_EPOCH,
                    etag: b"",
                    skip: true,
                });
            }
        }
        let raw_key = text(self.key, "Key")?;
        let key = decode_key(raw_key).ok_or_else(|| "Key is not URL-encoded UTF-8".to_string())?;
        let size_text = text(self.size, "Size")?;
        let size = size_text.parse::<u64>().map_err(|_| format!("Size {:?} is not a byte count", trunc(size_text)))?;
        let lm_text = text(self.last_modified, "LastModifiedDate")?;
        let last_modified = DateTime::parse_from_rfc3339(lm_text)
            .map_err(|_| format!("LastModifiedDate {:?} is not a date and time", trunc(lm_text)))?
            .with_timezone(&Utc);
        let etag = match self.etag {
            Some(i) => field(i, "ETag")?,
            None => b"",
        };
        Ok(Row { key, size, last_modified, etag, skip: false })
    }
}

/// One object of the inventory.
#[derive(Debug, Clone)]
pub struct Row<'r> {
    pub key: String,
    pub size: u64,
    pub last_modified: DateTime<Utc>,
    pub etag: &'r [u8],
    /// A delete marker: not an object.
    pub skip: bool,
}

/// What goes into a problem of a bad field: a few characters, for a person to find it (shown
/// with `{:?}`, and the problem is escaped for the terminal where it is kept).
fn trunc(s: &str) -> String {
    s.chars().take(40).collect()
}

/// S3 Inventory's CSV key: form-URL-encoded (`+` a space, `%2F` a slash).
pub fn decode_key(raw: &str) -> Option<String> {
    let plus = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&plus).decode_utf8().ok().map(|c| c.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schema_without_size_is_refused_with_what_to_do() {
        let err = Schema::parse("Bucket, Key, LastModifiedDate, ETag").unwrap_err();
        assert!(err.contains("lacks Size"), "{err}");
        let s = Schema::parse("Bucket, Key, Size, LastModifiedDate, ETag, StorageClass").unwrap();
        assert_eq!((s.key, s.size, s.last_modified, s.etag), (1, 2, 3, Some(4)));
    }

    #[test]
    fn keys_are_url_decoded() {
        assert_eq!(decode_key("users%2F42%2Fmy+photo.JPG").unwrap(), "users/42/my photo.JPG");
        assert_eq!(decode_key("a/b%20c").unwrap(), "a/b c");
        assert!(decode_key("bad%FF").is_none());
    }

    #[test]
    fn orc_is_athenas() {
        let m =
            Manifest::parse(br#"{"sourceBucket":"b","fileFormat":"ORC","fileSchema":"struct<>","files":[]}"#).unwrap();
        assert!(m.schema().unwrap_err().contains("Athena"));
    }
}
