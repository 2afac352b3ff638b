//! The Athena path of the inventory: the very SQL text costwarden sends is run by DuckDB over the
//! same gzip CSV files S3 Inventory wrote (and over the same rows as Parquet, with the Parquet
//! table's query), and gives the embedded path's numbers; the query's
//! plumbing (database and table created, the query polled, its rows read back, FAILED with its
//! reason, the price cap) against moto's Athena, its results preset with DuckDB's rows.

mod support;

use std::io::Write;

use costwarden::config::{Athena, InventoryBucket};
use costwarden::inventory::athena::{Format, Table};
use costwarden::inventory::{Options, Summary};
use costwarden::wire::{Api, Policy};
use support::proxy::LatencyProxy;
use support::*;

const DEST: &str = "acme-inventory";
const OUTPUT: &str = "acme-athena-results";
const SCHEMA: &str = "Bucket, Key, Size, LastModifiedDate, ETag, IsDeleteMarker";
const DELIVERY: &str = "2026-12-04T01-00Z";

/// Rows as S3 Inventory writes them: every field quoted, the key URL-encoded (a space as '+').
/// Every case the prefix folding, the extensions and the duplicates treat apart, and a mix.
fn rows(recent: &str, old: &str) -> Vec<[String; 6]> {
    let mut out = Vec::new();
    let mut row = |key: &str, size: &str, modified: &str, etag: &str, deleted: &str| {
        out.push([
            "acme-uploads".to_string(),
            key.to_string(),
            size.to_string(),
            modified.to_string(),
            etag.to_string(),
            deleted.to_string(),
        ])
    };
    for i in 0..400u64 {
        let user =
            if i % 3 == 0 { format!("{:08x}-6f7a-4c1d-9a51-{:012x}", i * 7919, i) } else { (1000 + i).to_string() };
        let ext = ["png", "JPG", "webp", "Png"][(i % 4) as usize];
        row(
            &format!("users%2F{user}%2Favatars%2F{i}.{ext}"),
            &(1000 + i * 37).to_string(),
            recent,
            &format!("a{i}"),
            "false",
        );
        // Each export twice, under two dated folders: the second copy is scanned again.
        let day = 1 + i % 28;
        for month in ["10", "11"] {
            row(
                &format!("exports%2F2026-{month}-{day:02}%2Fpart-{i}.csv"),
                &(5000 + i).to_string(),
                recent,
                &format!("x{i}"),
                "",
            );
        }
    }
    let rest: [(&str, &str, &str, &str, &str); 18] = [
        ("logs%2Fdt%3D2026-12-01%2Fh.gz", "10", recent, "l1", "false"),
        ("logs%2Fdt%3Dlatest%2Fh.gz", "11", recent, "l2", "false"),
        ("cache%2F9f86d081884c7d659a2feaa0c55ad015%2Fblob", "12", recent, "c1", "false"),
        ("readme.txt", "13", recent, "r1", "false"),
        ("a%2F%2Fb.txt", "14", recent, "r2", "false"),
        ("deep%2Fa%2Fb%2Fc%2Fd%2Fe.json", "15", recent, "d1", "false"),
        ("inbound%2Fmy+photo.JPG", "16", recent, "p1", "false"),
        ("inbound%2Fx%2Bplus.png", "17", recent, "p2", "false"),
        ("inbound%2F.profile", "18", recent, "p3", "false"),
        ("inbound%2Farchive.tar.gz", "19", recent, "p4", "false"),
        ("inbound%2Fname.averyverylongext", "20", recent, "p5", "false"),
        // Without an ETag: counted, never a duplicate.
        ("inbound%2Fno-etag-1.bin", "21", recent, "", "false"),
        ("inbound%2Fno-etag-2.bin", "21", recent, "", "false"),
        // Before the window: counted as older only, even as a copy of a recent object.
        ("users%2F9999%2Favatars%2Fold.png", "1037", old, "a1", "false"),
        ("archive%2F2025%2Fold.csv", "70000", old, "o1", "false"),
        // A delete marker: not an object.
        ("inbound%2Fdeleted.png", "", recent, "", "true"),
        // A size S3 would not write: malformed, skipped.
        ("tmp%2Fx", "lots", recent, "t1", "false"),
        // The same content under a recent key in another prefix.
        ("inbound%2Fcopy-of-avatar.png", "1037", recent, "a1", "false"),
    ];
    for (k, s, m, e, d) in rest {
        row(k, s, m, e, d);
    }
    out
}

fn gz(rows: &[[String; 6]]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for r in rows {
        let quoted: Vec<String> = r.iter().map(|f| format!("\"{f}\"")).collect();
        writeln!(e, "{}", quoted.join(",")).unwrap();
    }
    e.finish().unwrap()
}

/// The numbers both ways must give (rows aside: Athena does not see delete markers).
fn numbers(s: &Summary) -> impl PartialEq + std::fmt::Debug + '_ {
    let dup = (s.duplicate_contents, s.duplicate_objects, s.duplicate_bytes);
    (s.objects, s.bytes, s.older, s.malformed, dup, &s.prefixes, &s.extensions)
}

struct Seeded {
    moto: Moto,
    inventory: InventoryBucket,
    opts: Options,
    files: Vec<(String, Vec<u8>)>,
}

async fn seeded() -> Seeded {
    let moto = Moto::start(&[]).await;
    let sdk = moto.sdk_config().await;
    let s3 = s3_client(&sdk);
    for b in [DEST, OUTPUT] {
        s3.create_bucket().bucket(b).send().await.unwrap();
    }
    let now = chrono::Utc::now();
    let stamp = |days: i64| (now - chrono::TimeDelta::days(days)).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let all = rows(&stamp(3), &stamp(45));
    let base = "inv/acme-uploads/daily";
    // Two data files, as S3 writes a large inventory.
    let (a, b) = all.split_at(all.len() / 2);
    let files = vec![(format!("{base}/data/0001.csv.gz"), gz(a)), (format!("{base}/data/0002.csv.gz"), gz(b))];
    let mut listed = Vec::new();
    for (key, body) in &files {
        s3.put_object().bucket(DEST).key(key).body(body.clone().into()).send().await.unwrap();
        let md5 = format!("{:032x}", md5_of(body));
        listed.push(serde_json::json!({"key": key, "size": body.len(), "MD5checksum": md5}));
    }
    let manifest = serde_json::json!({
        "sourceBucket": "acme-uploads", "destinationBucket": format!("arn:aws:s3:::{DEST}"),
        "version": "2016-11-30", "fileFormat": "CSV", "fileSchema": SCHEMA, "files": listed,
    });
    let key = format!("{base}/{DELIVERY}/manifest.json");
    s3.put_object().bucket(DEST).key(key).body(serde_json::to_vec(&manifest).unwrap().into()).send().await.unwrap();
    let symlinks: Vec<String> = files.iter().map(|(k, _)| format!("s3://{DEST}/{k}")).collect();
    let key = format!("{base}/hive/dt=2026-12-04-01-00/symlink.txt");
    s3.put_object().bucket(DEST).key(key).body(symlinks.join("\n").into_bytes().into()).send().await.unwrap();
    let inventory = InventoryBucket {
        bucket: "acme-uploads".into(),
        destination: DEST.into(),
        prefix: "inv".into(),
        config_id: "daily".into(),
    };
    let opts = Options { since: now - chrono::TimeDelta::days(30), depth: 3, max_contents: 1_000_000 };
    Seeded { moto, inventory, opts, files }
}

/// The MD5 S3 would put in the manifest, computed by the system's md5sum (not by the code
/// under test).
fn md5_of(body: &[u8]) -> u128 {
    let mut child = std::process::Command::new("md5sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    u128::from_str_radix(String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap(), 16).unwrap()
}

fn settings(max_usd: f64) -> Athena {
    let text = format!("output = \"s3://{OUTPUT}/costwarden/\"\nabove_mb = 0\nmax_usd = {max_usd}\n");
    toml::from_str(&text).unwrap()
}

fn clients(sdk: &aws_config::SdkConfig) -> costwarden::Clients {
    costwarden::Clients::new(sdk, Policy { max_attempts: 1, request_timeout: std::time::Duration::from_secs(5) })
}

/// DuckDB's answer to `query` over the files, as Athena's rows (over the same rows written as
/// Parquet when `table` is Parquet's).
fn duckdb(table: &Table, query: &str, files: &[(String, Vec<u8>)]) -> Vec<Vec<Option<String>>> {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (i, (_, body)) in files.iter().enumerate() {
        let p = dir.path().join(format!("{i}.csv.gz"));
        std::fs::write(&p, body).unwrap();
        paths.push(p.to_str().unwrap().to_string());
    }
    // The CSV's columns are the table's names (the Parquet table has the same ones).
    let columns: Vec<&str> = table.columns.iter().map(|(c, _)| c.as_str()).collect();
    let parquet =
        (table.format == Format::Parquet).then(|| dir.path().join("inventory.parquet").to_str().unwrap().to_string());
    let args = serde_json::json!({
        "table": table.name, "columns": columns, "dt": "2026-12-04-01-00", "files": paths, "query": query,
        "parquet": parquet,
    });
    let args_path = dir.path().join("args.json");
    std::fs::write(&args_path, serde_json::to_vec(&args).unwrap()).unwrap();
    let python = concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/duckdb_query.py");
    let out = std::process::Command::new(python).args([script, args_path.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "duckdb: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// moto answers the next executions' GetQueryResults with these rows, in order.
async fn preset(moto: &Moto, results: &[&Vec<Vec<Option<String>>>]) {
    let results: Vec<serde_json::Value> = results
        .iter()
        .map(|rows| {
            let rows: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| {
                    let data: Vec<serde_json::Value> = r
                        .iter()
                        .map(|v| v.as_ref().map_or(serde_json::json!({}), |v| serde_json::json!({"VarCharValue": v})))
                        .collect();
                    serde_json::json!({"Data": data})
                })
                .collect();
            serde_json::json!({"rows": rows, "column_info": []})
        })
        .collect();
    let url = format!("{}/moto-api/static/athena/query-results", moto.direct_url);
    let r = reqwest::Client::new().post(url).json(&serde_json::json!({"results": results})).send().await.unwrap();
    assert_eq!(r.status(), 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duckdb_runs_the_athena_sql_to_the_embedded_numbers_and_moto_serves_it_back() {
    let s = seeded().await;
    let sdk = s.moto.sdk_config().await;
    let c = clients(&sdk);
    let quiet = |_: String| {};

    // The embedded path.
    let embedded = costwarden::sources::inventory::read(&c.inventory_s3, &c.athena, None, &s.inventory, s.opts, &quiet)
        .await
        .unwrap();
    let e = &embedded.summary;
    assert!(embedded.athena.is_none());
    assert!(e.prefixes.len() == 9 && e.duplicate_objects >= 400 && e.malformed == 1 && e.older == 2, "{e:?}");

    // The same SQL costwarden sends, run by DuckDB over the same files.
    let location = format!("s3://{DEST}/inv/acme-uploads/daily/hive/");
    let table = Table::new("costwarden", "acme-uploads", "daily", "CSV", SCHEMA, location).unwrap();
    let query = table.query(DELIVERY, s.opts.since, s.opts.depth);
    let rows = duckdb(&table, &query, &s.files);
    let by_duckdb = costwarden::inventory::athena::summary(&rows).unwrap();
    assert_eq!(numbers(&by_duckdb), numbers(e), "DuckDB over the Athena SQL against the embedded path");

    // Through Athena (moto): the database and the table (no rows), then the query.
    let none = vec![];
    preset(&s.moto, &[&none, &none, &rows]).await;
    let said = std::sync::Mutex::new(Vec::new());
    let say = |line: String| said.lock().unwrap().push(line);
    let cfg = settings(1.0);
    let (read, requests) = costwarden::wire::counted(costwarden::sources::inventory::read(
        &c.inventory_s3,
        &c.athena,
        Some(&cfg),
        &s.inventory,
        s.opts,
        &say,
    ))
    .await;
    let read = read.unwrap();
    assert_eq!(numbers(&read.summary), numbers(e));
    let run = read.athena.expect("read by Athena");
    let data_bytes: usize = s.files.iter().map(|(_, b)| b.len()).sum();
    assert_eq!(run.estimated_bytes, data_bytes as u64);
    assert!((run.usd - 10e6 / 1e12 * 5.0).abs() < 1e-12, "at least 10 MB billed: {run:?}");
    // Its price said before it ran.
    let said = said.lock().unwrap().clone();
    assert_eq!(said.len(), 1);
    assert!(said[0].contains("Athena will scan about 0.000 GB") && said[0].contains("USD 0.0001"), "{said:?}");
    // What Athena was asked is the text DuckDB ran.
    let athena = aws_sdk_athena::Client::new(&sdk);
    let asked = athena.get_query_execution().query_execution_id(&run.query_id).send().await.unwrap();
    assert_eq!(asked.query_execution().and_then(|q| q.query()), Some(query.as_str()));
    let n = requests.snapshot();
    assert_eq!((n.get(&Api::StartQueryExecution), n.get(&Api::GetObject)), (Some(&3), Some(&1)), "{n:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_query_says_athenas_reason_and_one_over_the_cap_is_never_started() {
    let s = seeded().await;
    let proxy = LatencyProxy::start(&s.moto.url, std::time::Duration::ZERO).await;
    let sdk = sdk_config(&proxy.url).await;
    let c = clients(&sdk);
    let quiet = |_: String| {};

    // Over the cap: said with the setting, nothing started.
    let (r, requests) = costwarden::wire::counted(costwarden::sources::inventory::read(
        &c.inventory_s3,
        &c.athena,
        Some(&settings(0.00001)),
        &s.inventory,
        s.opts,
        &quiet,
    ))
    .await;
    let err = r.unwrap_err();
    assert!(err.contains("over inventory.athena.max_usd (USD 0.00)") && err.contains("not started"), "{err}");
    assert_eq!(requests.snapshot().get(&Api::StartQueryExecution), None);
    assert_eq!(proxy.counts().get("StartQueryExecution"), None);

    // FAILED, as Athena says it: the reason shown, escaped (it is Athena's text).
    let failed = serde_json::json!({"QueryExecution": {"QueryExecutionId": "q-1", "Status": {
        "State": "FAILED", "StateChangeReason": "HIVE_BAD_DATA",
        "AthenaError": {"ErrorCategory": 2, "ErrorType": 1002, "ErrorMessage": "HIVE_BAD_DATA: Error parsing field value '\u{1b}[31m' for field 2"}
    }}});
    proxy.fail_next("GetQueryExecution", 1, 200, &failed.to_string());
    let err = costwarden::sources::inventory::read(
        &c.inventory_s3,
        &c.athena,
        Some(&settings(1.0)),
        &s.inventory,
        s.opts,
        &quiet,
    )
    .await
    .unwrap_err();
    assert!(err.contains("FAILED: HIVE_BAD_DATA: Error parsing field value"), "{err}");
    assert!(!err.contains('\u{1b}'), "{err:?}");
    assert_eq!(proxy.counts().get("GetQueryResults"), None, "no rows read from a failed query");
}

/// Parquet (and ORC, the same statement): keys not encoded, typed columns. The query for that
/// table, run by DuckDB over the same rows written as Parquet, gives the embedded numbers of
/// the CSV.
#[test]
fn the_parquet_form_of_the_query_gives_the_embedded_numbers() {
    let now = chrono::Utc::now();
    let stamp = |days: i64| (now - chrono::TimeDelta::days(days)).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let body = gz(&rows(&stamp(3), &stamp(45)));
    let opts = Options { since: now - chrono::TimeDelta::days(30), depth: 3, max_contents: 1_000_000 };
    let schema = costwarden::inventory::Schema::parse(SCHEMA).unwrap();
    let mut agg = costwarden::inventory::Aggregator::new(opts);
    costwarden::inventory::read_csv_gz(&body[..], &schema, "f", &mut agg);
    let embedded = agg.finish();
    let parquet_schema = "struct<bucket:string,key:string,size:bigint,last_modified_date:timestamp,e_tag:string,is_delete_marker:boolean>";
    let table = Table::new("costwarden", "acme-uploads", "daily", "Parquet", parquet_schema, "s3://d/".into()).unwrap();
    let query = table.query(DELIVERY, opts.since, opts.depth);
    assert!(!query.contains("url_decode"), "Parquet keys are not encoded");
    let rows = duckdb(&table, &query, &[("f".into(), body)]);
    let by_duckdb = costwarden::inventory::athena::summary(&rows).unwrap();
    assert_eq!(numbers(&by_duckdb), numbers(&embedded));
}

/// A query still running at `timeout_seconds` is stopped, so it bills no further, and said.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_past_its_timeout_is_stopped() {
    let s = seeded().await;
    let sdk = s.moto.sdk_config().await;
    let c = clients(&sdk);
    // moto's executions stay QUEUED for the next thousand reads of their state.
    let url = format!("{}/moto-api/state-manager/set-transition", s.moto.direct_url);
    let body =
        serde_json::json!({"model_name": "athena::execution", "transition": {"progression": "manual", "times": 1000}});
    let r = reqwest::Client::new().post(url).json(&body).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let mut cfg = settings(1.0);
    cfg.timeout_seconds = 10;
    let quiet = |_: String| {};
    let (r, requests) = costwarden::wire::counted(costwarden::sources::inventory::read(
        &c.inventory_s3,
        &c.athena,
        Some(&cfg),
        &s.inventory,
        s.opts,
        &quiet,
    ))
    .await;
    let err = r.unwrap_err();
    assert!(err.contains("still running after 10 s (inventory.athena.timeout_seconds): stopped"), "{err}");
    let n = requests.snapshot();
    assert_eq!((n.get(&Api::StartQueryExecution), n.get(&Api::StopQueryExecution)), (Some(&1), Some(&1)), "{n:?}");
    assert_eq!(n.get(&Api::GetQueryResults), None);
}

/// `costwarden check` with `[inventory.athena]`: each inventory's latest delivery, and the
/// workgroup, found and enabled or said missing with the fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_probes_each_inventory_and_the_athena_workgroup() {
    let s = seeded().await;
    let dir = tempfile::tempdir().unwrap();
    let probes = |workgroup: &str| {
        let path = dir.path().join(format!("{workgroup}.toml"));
        let text = format!(
            "[guardduty]\nplan_id = \"p\"\n[[guardduty.buckets]]\nname = \"acme-uploads\"\n\n[inventory]\n\
             [[inventory.buckets]]\nbucket = \"acme-uploads\"\ndestination = \"{DEST}\"\nprefix = \"inv\"\nconfig_id = \"daily\"\n\
             [inventory.athena]\noutput = \"s3://{OUTPUT}/costwarden/\"\nworkgroup = \"{workgroup}\"\n"
        );
        std::fs::write(&path, text).unwrap();
        let out = costwarden_at(env!("CARGO_BIN_EXE_costwarden"), &s.moto.url, &path)
            .args(["check", "--json"])
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        report["probes"].as_array().unwrap().clone()
    };
    let find = |probes: &[serde_json::Value], name: &str| {
        probes.iter().find(|p| p["probe"] == name).unwrap_or_else(|| panic!("no {name} in {probes:#?}")).clone()
    };
    let ps = tokio::task::block_in_place(|| probes("primary"));
    let inv = find(&ps, "inventory acme-uploads");
    assert_eq!(inv["verdict"], "ok", "{inv}");
    assert_eq!(inv["detail"], format!("s3://{DEST}/inv/acme-uploads/daily/: latest delivery {DELIVERY}"));
    let athena = find(&ps, "inventory athena");
    assert_eq!(athena["verdict"], "ok", "{athena}");
    assert!(athena["detail"].as_str().unwrap().starts_with("workgroup primary: enabled; results to s3://"), "{athena}");
    let ps = tokio::task::block_in_place(|| probes("nope"));
    let athena = find(&ps, "inventory athena");
    assert_eq!(
        (athena["verdict"].as_str(), athena["detail"].as_str()),
        (Some("fail"), Some("workgroup nope not found"))
    );
    assert!(athena["fix"].as_str().unwrap().contains("\"primary\" exists in every account"), "{athena}");
}
