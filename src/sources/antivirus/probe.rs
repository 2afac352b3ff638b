//! `check`'s probes of the Console, through the client and page reading a run uses.

use chrono::NaiveDate;
use serde_json::Value;

use super::discover::{discover, Discovery};
use super::ConsoleClient;
use crate::sources::probe::{fail, ok, warn, Probe};
use crate::sources::{Context, Probed};

/// The Console: its health, a token, and the first statistics page read with the configured
/// shape (or, when it does not read it, the page's real shape discovered).
pub(super) async fn probe(ctx: &Context<'_>) -> Probed {
    let Some(av) = ctx.config.antivirus.as_ref().filter(|a| a.enabled) else { return Probed::default() };
    let (out, discovery) = console(av, ctx.console.console().await, ctx.today).await;
    Probed { probes: out, discovery }
}

async fn console(
    av: &crate::config::Antivirus,
    client: Option<Result<&ConsoleClient, String>>,
    today: NaiveDate,
) -> (Vec<Probe>, Option<Discovery>) {
    let client = match client.expect("an enabled [antivirus] has a Console") {
        Ok(c) => c,
        Err(e) => {
            let fix = "set antivirus.credentials (username_env / password_env, or secret_id with a JSON {\"username\", \"password\"}) and an https antivirus.base_url";
            return (vec![fail("console credentials", e.to_string(), fix)], None);
        }
    };
    let mut out = Vec::new();
    out.push(match client.health().await {
        Ok(status) => ok("console health", format!("GET {}: {status}", av.api.health_path)),
        Err(e) => fail(
            "console health",
            e.to_string(),
            "antivirus.base_url must be the Console's address (https://<account>-<appId>.cloudstoragesecapp.com), reachable from where costwarden runs",
        ),
    });
    if let Err(e) = client.authenticate().await {
        out.push(fail(
            "console token",
            e.to_string(),
            "the user must be a Console user in the Cognito group Api, with the password of the configured credentials",
        ));
        return (out, None);
    }
    out.push(ok("console token", format!("POST {}: a token for the API user", av.api.token_path)));
    let (from, to) = (today - chrono::Days::new(u64::from(av.history_days)), crate::model::day_before(today));
    let name = "console statistics";
    let page = match client.first_page(from, to).await {
        Ok(p) => p,
        Err(e) => {
            out.push(fail(name, e.to_string(), "antivirus.api.stats_path must be the statistics endpoint"));
            return (out, None);
        }
    };
    let (verdict, discovery) = statistics(&page, &av.api, (from, to));
    out.push(verdict);
    (out, discovery)
}

/// Reads one page with the configured shape; a page it cannot read comes with a discovery of
/// the page's real shape.
fn statistics(
    page: &Value,
    api: &crate::config::ConsoleApi,
    (from, to): (NaiveDate, NaiveDate),
) -> (Probe, Option<Discovery>) {
    let name = "console statistics";
    let fix = "replace [antivirus.api] with the block suggested below (check each guess)";
    let items = page.pointer(&api.items_pointer).and_then(Value::as_array);
    if items.is_some_and(Vec::is_empty) {
        let detail = format!("{:?} is an empty list: no statistics between {from} and {to}", api.items_pointer);
        return (warn(name, detail, "the fields are checked once the Console has scanned something"), None);
    }
    // The configured shape first: the page may hold a larger list than the statistics.
    let raw = serde_json::value::to_raw_value(page).expect("a JSON value serialises");
    let paging = match api.paging {
        crate::config::Paging::Page => super::total_pages(&raw, api).map(|n| format!(" of {n}")),
        _ => Ok(String::new()),
    };
    let parsed = super::parse_page(&raw, api, 1);
    if let (Ok((items, problems)), Ok(of)) = (&parsed, &paging) {
        if problems.is_empty() {
            let first = items.first().map_or(String::new(), |i| {
                let size = crate::rules::human(i.bytes, crate::metrics::Unit::Bytes);
                format!(", e.g. {} on {}: {size}", i.bucket, i.date)
            });
            return (
                ok(name, format!("page 1{of}: {} items read with the configured shape{first}", items.len())),
                None,
            );
        }
    }
    let d = discover(page, api);
    let detail = match (parsed, paging) {
        _ if !d.matches() => {
            let missing: Vec<String> = d.missing.iter().map(|(k, v)| format!("{k} {v:?}")).collect();
            format!("the configured shape does not read the page: not found: {}", missing.join(", "))
        }
        (Ok((_, problems)), Ok(_)) => {
            let shown: Vec<&str> = problems.iter().take(3).map(String::as_str).collect();
            format!("{} item(s) not read: {}", problems.len(), shown.join("; "))
        }
        (Err(e), _) | (_, Err(e)) => e,
    };
    (fail(name, detail, fix), Some(d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::Verdict;
    use serde_json::json;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_configured_shape_reads_a_page_that_holds_a_larger_list_beside_it() {
        let item = json!({"bucketName": "b-1", "date": "2026-12-01", "scannedBytes": 5e9, "scannedObjects": 10, "scanType": "Event"});
        let others: Vec<Value> = (0..5).map(|i| json!({"id": i})).collect();
        let page = json!({"items": [item], "totalPages": 1, "auditTrail": others});
        let api = crate::config::ConsoleApi::default();
        let (p, d) = statistics(&page, &api, (day("2026-11-22"), day("2026-12-01")));
        assert_eq!((p.verdict, d), (Verdict::Ok, None), "{p:?}");
        assert_eq!(p.detail, "page 1 of 1: 1 items read with the configured shape, e.g. b-1 on 2026-12-01: 5.0 GB");
        // A malformed item fails, with the page's shape discovered.
        let page = json!({"items": [{"bucketName": "b", "date": "someday", "scannedBytes": 1, "scannedObjects": 1, "scanType": "Event"}], "totalPages": 1});
        let (p, d) = statistics(&page, &api, (day("2026-11-22"), day("2026-12-01")));
        assert_eq!(p.verdict, Verdict::Fail);
        assert!(p.detail.starts_with("1 item(s) not read: page 1 item 0"), "{}", p.detail);
        assert_eq!(d.and_then(|d| d.items_pointer).as_deref(), Some("/items"));
    }
}
