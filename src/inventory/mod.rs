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
