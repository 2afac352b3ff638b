//! S3 Inventory: where a bucket's scanned bytes come from. Pure: the manifest (`manifest`), the
//! rows and what they add up to (`aggregate`). The CSV data files are read as a stream (gzip,
//! a row at a time), so memory follows the distinct prefixes, extensions and contents, never
//! the file.

pub mod aggregate;
pub mod athena;
pub mod manifest;

pub use aggregate::{Aggregator, Options, Part, Summary};
pub use manifest::{Manifest, Schema};

/// Reads one gzip CSV data file into `agg`; `file` names it in the problems. A row that does
/// not parse is located (file, line) and skipped; a file that cannot be read stops here with
/// what it had.
pub fn read_csv_gz<R: std::io::Read>(data: R, schema: &Schema, file: &str, agg: &mut Aggregator) {
    let gz = flate2::read::MultiGzDecoder::new(data);
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(gz);
    let mut record = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line());
                match schema.row(&record) {
                    Ok(row) => agg.add(&row),
                    Err(why) => agg.malformed(format!("{file} line {line}: {why}")),
                }
            }
            Err(e) => {
                agg.malformed(format!("{file}: unreadable from here on: {e}"));
                break;
            }
        }
    }
}

/// A data file read through, its MD5 computed on the way: the manifest gives each file's, so
/// a file truncated or replaced since S3 wrote it is said (its rows may be partial).
pub struct Md5Read<R> {
    inner: R,
    md5: md5::Md5,
}

impl<R: std::io::Read> Md5Read<R> {
    pub fn new(inner: R) -> Md5Read<R> {
        use md5::Digest;
        Md5Read { inner, md5: md5::Md5::new() }
    }

    /// Why the file is not the one the manifest describes, having read it to its end; None
    /// when its MD5 is `expected`, or when the manifest gives none (32 hex digits) to check.
    pub fn differs(mut self, expected: &str) -> Option<String> {
        use md5::Digest;
        if expected.len() != 32 || !expected.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        // The gzip reader may stop before the end (a trailer, an unreadable row): the rest counts.
        if let Err(e) = std::io::copy(&mut self, &mut std::io::sink()) {
            return Some(format!("not read to its end: {e}"));
        }
        let got: String = self.md5.finalize().iter().map(|b| format!("{b:02x}")).collect();
        (!got.eq_ignore_ascii_case(expected)).then(|| {
            format!(
                "its MD5 is {got}, the manifest's {}: the file was truncated or replaced; its rows may be partial",
                crate::text::terminal(expected)
            )
        })
    }
}

impl<R: std::io::Read> std::io::Read for Md5Read<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use md5::Digest;
        let n = self.inner.read(buf)?;
        self.md5.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_data_file_not_the_manifests_is_said() {
        let data = b"\"b\",\"k\",\"1\"\n".repeat(1000);
        // The empty file's well-known MD5 (a sum computed here by the same crate would prove
        // nothing); tests/athena.rs checks real files against md5sum's.
        let empty = super::Md5Read::new(&b""[..]);
        assert_eq!(empty.differs("d41d8cd98f00b204e9800998ecf8427e"), None);
        let mut r = super::Md5Read::new(&data[..]);
        let mut first = [0u8; 10];
        std::io::Read::read_exact(&mut r, &mut first).unwrap();
        // Read in part: the rest is read for the sum, and the sum is not the manifest's.
        let why = r.differs("d41d8cd98f00b204e9800998ecf8427e").unwrap();
        assert!(
            why.contains("the manifest's d41d8cd98f00b204e9800998ecf8427e: the file was truncated or replaced"),
            "{why}"
        );
        // A manifest without an MD5 (not 32 hex digits): nothing to check.
        assert_eq!(super::Md5Read::new(&data[..]).differs("x"), None);
    }
}
