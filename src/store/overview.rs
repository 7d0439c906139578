//! A report's charts and "top" lists for a time range of stored records,
//! counted by PostgreSQL (the same kinds of values as in memory; counts
//! here are exact).

use crate::error::{Error, Result};
use crate::summary::overview::{Overview, TopList, TOP_KINDS, TOP_SHOWN};
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

const RANGE: &str = "ts >= $1 AND ts < $2";

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
        .query(&sql, &[&crate::store::at(since), &crate::store::at(until + 1)])
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

/// Volume and severities of the records with `since <= ts <= until`
/// (seconds) from the counts loading keeps (the dashboard's overview): per
/// minute (`log_minutes`) for spans up to two days, per hour (`log_hours`)
/// beyond, so a read is at most a few thousand rows however many records
/// the span holds. Counts are of whole minutes (hours): the first one of
/// the span is counted whole.
pub fn volume_counted(client: &mut impl GenericClient, since: i64, until: i64) -> Result<Overview> {
    let (table, column, bucket) = if until - since > 2 * 86_400 {
        ("log_hours", "hour", 3600)
    } else {
        ("log_minutes", "minute", 60)
    };
    let first = crate::store::at(since.div_euclid(bucket) * bucket);
    let rows = client
        .query(
            &format!(
                "SELECT service, severity, {column}, records FROM {table}
                 WHERE {column} >= $1 AND {column} <= $2"
            ),
            &[&first, &crate::store::at(until)],
        )
        .map_err(Error::db(format!("reading the records per {column}")))?;
    let mut volume: std::collections::HashMap<(String, i64), u64> = Default::default();
    let mut severities: std::collections::HashMap<(String, i64), u64> = Default::default();
    for r in &rows {
        let (service, severity, at, n): (String, String, std::time::SystemTime, i64) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        let at = crate::store::secs(at);
        *volume.entry((service, at)).or_default() += n as u64;
        *severities.entry((severity, at)).or_default() += n as u64;
    }
    let flat = |m: std::collections::HashMap<(String, i64), u64>| {
        m.into_iter().map(|((name, at), n)| (name, at, n))
    };
    Ok(Overview::from_buckets(bucket, flat(volume), flat(severities)))
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
            .query(&sql, &[&crate::store::at(since), &crate::store::at(until + 1)])
            .map_err(Error::db(format!("counting the top {kind} values")))?;
        let Some(first) = rows.first() else { continue };
        let total = first.get::<_, i64>(2) as u64;
        let values =
            rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1) as u64)).collect();
        o.top.insert(kind.to_string(), TopList { values, estimated: false, total });
    }
    Ok(o)
}
