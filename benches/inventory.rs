//! S3 Inventory at a million objects: one gzip CSV written the way S3 Inventory writes it
//! (no header, every field quoted, keys URL-encoded), then read as `sources::inventory` reads a
//! data file (its MD5 computed on the way and checked against md5sum's) and aggregated with the
//! duplicate detection on; the wall time, the peak RSS and the hand-known truth compared.
//!
//!     cargo bench --bench inventory              # 1,000,000 objects
//!     cargo bench --bench inventory -- 200000    # another count
//!
//! The file is written streaming to a temporary directory (the generator holds a row at a
//! time), so the peak RSS is the reader's. Every 20th object is a copy of the one before (same
//! ETag and size under another key): the duplicate bytes are known exactly.

use std::io::{BufWriter, Write};
use std::time::Instant;

use costwarden::inventory::{read_csv_gz, Aggregator, Md5Read, Options, Schema};

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap_or("VmHWM: 0 kB");
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or(0)
}

fn main() {
    let n: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.csv.gz");
    let started = Instant::now();
    let (mut bytes, mut dup_bytes, mut dups) = (0u64, 0u64, 0u64);
    {
        let file = BufWriter::new(std::fs::File::create(&path).unwrap());
        let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
        let mut rng = fastrand::Rng::with_seed(7);
        let mut last = (0u128, 0u64);
        for i in 0..n {
            let (etag, size) = if i % 20 == 19 {
                dups += 1;
                dup_bytes += last.1;
                last
            } else {
                (rng.u128(..), rng.u64(1_000..5_000_000))
            };
            last = (etag, size);
            bytes += size;
            let prefix = ["users%2F{}%2Favatars", "uploads%2F2026-11-{}", "exports%2Fteam-a%2F{}", "tmp"]
                [(i % 4) as usize]
                .replace("{}", &(i % 997).to_string());
            let ext = ["jpg", "png", "pdf", "csv", "zip"][(i % 5) as usize];
            writeln!(
                gz,
                "\"acme-uploads\",\"{prefix}%2Fobject-{i:08}.{ext}\",\"{size}\",\"2026-11-{:02}T10:00:00.000Z\",\"{etag:032x}\",\"STANDARD\"",
                1 + i % 28
            )
            .unwrap();
        }
        gz.finish().unwrap().flush().unwrap();
    }
    let gz_mib = std::fs::metadata(&path).unwrap().len() as f64 / (1024.0 * 1024.0);
    let before = peak_rss_kib();
    eprintln!("wrote {n} objects, {gz_mib:.1} MiB of gzip CSV in {:.1} s", started.elapsed().as_secs_f64());

    // The manifest's MD5 of the file, from the system's md5sum (not the code under test).
    let md5sum = std::process::Command::new("md5sum").arg(&path).output().unwrap();
    let md5 = String::from_utf8_lossy(&md5sum.stdout).split_whitespace().next().unwrap_or_default().to_string();
    let schema = Schema::parse("Bucket, Key, Size, LastModifiedDate, ETag, StorageClass").unwrap();
    let opts = Options { since: chrono::DateTime::UNIX_EPOCH, depth: 3, max_contents: 4_000_000 };
    let started = Instant::now();
    let mut agg = Aggregator::new(opts);
    let mut file = Md5Read::new(std::fs::File::open(&path).unwrap());
    read_csv_gz(&mut file, &schema, "data.csv.gz", &mut agg);
    assert_eq!(file.differs(&md5), None, "the file is the one md5sum read");
    let s = agg.finish();
    let secs = started.elapsed().as_secs_f64();
    let rss = peak_rss_kib();

    assert_eq!((s.objects, s.bytes, s.malformed), (n, bytes, 0), "every object read");
    assert_eq!((s.duplicate_objects, s.duplicate_bytes), (dups, dup_bytes), "the duplicates as written");
    println!("| objects | gzip CSV | aggregated in | objects/s | peak RSS (generator before) | prefixes | duplicate bytes (truth) |");
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {n} | {gz_mib:.1} MiB | {secs:.2} s | {:.0} | {:.1} MiB ({:.1}) | {} | {} ({dup_bytes}) |",
        n as f64 / secs,
        rss as f64 / 1024.0,
        before as f64 / 1024.0,
        s.prefixes.len(),
        s.duplicate_bytes
    );
}
