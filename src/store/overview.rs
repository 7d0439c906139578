//! A report's charts and "top" lists for a time range of stored records,
//! counted by PostgreSQL (the same kinds of values as in memory; counts
//! here are exact).

use crate::error::{Error, Result};
use crate::report::overview::{Overview, TopList, TOP_KINDS, TOP_SHOWN};
use postgres::GenericClient;

/// The value of each "top" kind, as SQL over `logs`.
fn top_sql(kind: &str) -> &'static str {
    match kind {
        "client_ip" => "coalesce(fields->>'client_ip', fields->>'source_ip')",
        "user" => "user_name",
        "path" => "fields->>'path'",
        "status" => "fields->>'status'",
        // CloudTrail rows are the ones with an ARN field; their message is the event name.
        "cloudtrail_event" => "CASE WHEN fields ? 'arn' THEN nullif(message, '') END",
        "hdfs_component" => "fields->>'component'",
        _ => "NULL::text",
    }
}

const RANGE: &str = "ts >= to_timestamp($1) AND ts < to_timestamp($2)";

fn per_minute(
    client: &mut impl GenericClient,
    col: &str,
    since: i64,
    until: i64,
) -> Result<Vec<(String, i64, u64)>> {
    let sql = format!(
        "SELECT {col}, (floor(extract(epoch from ts) / 60) * 60)::bigint AS m, count(*)
         FROM logs WHERE {RANGE} GROUP BY 1, 2"
    );
    let rows = client
        .query(&sql, &[&(since as f64), &((until + 1) as f64)])
        .map_err(Error::db("counting records per minute"))?;
    Ok(rows
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1), r.get::<_, i64>(2) as u64))
        .collect())
}

/// Volume and severities per minute of the records with
/// `since <= ts <= until` (seconds), without the top values.
pub fn volume(client: &mut impl GenericClient, since: i64, until: i64) -> Result<Overview> {
    let volume = per_minute(client, "service", since, until)?;
    let severities = per_minute(client, "coalesce(severity, 'none')", since, until)?;
    Ok(Overview::from_minutes(volume.into_iter(), severities.into_iter()))
}

/// Volume and severities per minute of the minutes from the one holding
/// `since` to the one holding `until` (seconds), from `log_minutes`: whole
/// minutes, and a read of the span's minutes however many records they
/// count (the dashboard's overview).
pub fn volume_by_minute(
    client: &mut impl GenericClient,
    since: i64,
    until: i64,
) -> Result<Overview> {
    let rows = client
        .query(
            "SELECT service, severity, extract(epoch FROM minute)::bigint, records FROM log_minutes
             WHERE minute >= 'epoch'::timestamptz + $1::bigint * interval '1 second'
               AND minute <= 'epoch'::timestamptz + $2::bigint * interval '1 second'",
            &[&(since.div_euclid(60) * 60), &until],
        )
        .map_err(Error::db("reading the records per minute"))?;
    let mut volume: std::collections::HashMap<(String, i64), u64> = Default::default();
    let mut severities: std::collections::HashMap<(String, i64), u64> = Default::default();
    for r in &rows {
        let (service, severity, minute, n): (String, String, i64, i64) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        *volume.entry((service, minute)).or_default() += n as u64;
        *severities.entry((severity, minute)).or_default() += n as u64;
    }
    let flat = |m: std::collections::HashMap<(String, i64), u64>| {
        m.into_iter().map(|((name, minute), n)| (name, minute, n))
    };
    Ok(Overview::from_minutes(flat(volume), flat(severities)))
}

/// Volume and severities per minute, and the top values, of the records
/// with `since <= ts <= until` (seconds).
pub fn overview(client: &mut impl GenericClient, since: i64, until: i64) -> Result<Overview> {
    let mut o = volume(client, since, until)?;
    for kind in TOP_KINDS {
        let sql = format!(
            "SELECT v, count(*), (sum(count(*)) OVER ())::bigint
             FROM (SELECT {} AS v FROM logs WHERE {RANGE}) x WHERE v IS NOT NULL
             GROUP BY v ORDER BY 2 DESC, 1 LIMIT {TOP_SHOWN}",
            top_sql(kind)
        );
        let rows = client
            .query(&sql, &[&(since as f64), &((until + 1) as f64)])
            .map_err(Error::db(format!("counting the top {kind} values")))?;
        let Some(first) = rows.first() else { continue };
        let total = first.get::<_, i64>(2) as u64;
        let values =
            rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1) as u64)).collect();
        o.top.insert(kind.to_string(), TopList { values, estimated: false, total });
    }
    Ok(o)
}
