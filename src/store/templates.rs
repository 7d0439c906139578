//! The `templates` and `known_values` tables (migration 0009).
//!
//! Loading adds each transaction's masked messages to the templates of
//! their services: the stored templates are the tree's seeds, the new
//! messages are added by first sighting ([`Catalog::build`]), and what
//! changed is written back before the transaction commits, under one lock
//! (two loaders would otherwise both make the same new template). The lock
//! is taken after the checkpoint row and before the per-minute counts, in
//! the order every loader takes them.

use crate::detect::Sighting;
use crate::error::{Error, Result};
use crate::source::LineRef;
use crate::template::catalog::{Catalog, Seed, SigStats, Stat};
use postgres::GenericClient;

/// Advisory lock key of template updates ("LTTEMPLT").
const LOCK: i64 = 0x4c54_5445_4d50_4c54;

/// The stored templates of `services` (all when `None`) first seen
/// before `before` (seconds; any time when `None`).
pub fn seeds(
    c: &mut impl GenericClient,
    services: Option<&[String]>,
    before: Option<i64>,
) -> Result<Vec<Seed>> {
    let sql = "SELECT service, template, count, extract(epoch FROM first_seen)::bigint, \
               extract(epoch FROM last_seen)::bigint, miner FROM templates \
               WHERE ($1::text[] IS NULL OR service = ANY($1)) \
                 AND ($2::bigint IS NULL \
                      OR first_seen < 'epoch'::timestamptz + $2::bigint * interval '1 second') \
               ORDER BY service, template_id";
    let rows =
        c.query(sql, &[&services, &before]).map_err(Error::db("reading the stored templates"))?;
    Ok(rows
        .iter()
        .map(|r| {
            let first: i64 = r.get(3);
            Seed {
                service: r.get(0),
                text: r.get(1),
                stat: Stat {
                    count: r.get::<_, i64>(2) as u64,
                    first,
                    last: r.get(4),
                    // Stored: before anything this run counts at the same time.
                    example: (first, LineRef::default()),
                },
                remine: r.get::<_, i16>(5) < crate::template::MINER,
            }
        })
        .collect())
}

/// Adds a transaction's masked messages (of the file at `path`) to the
/// stored templates.
pub fn store(tx: &mut postgres::Transaction<'_>, stats: SigStats, path: &str) -> Result<()> {
    if stats.is_empty() {
        return Ok(());
    }
    let db = || Error::db("storing the message templates");
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK]).map_err(db())?;
    let services = stats.services();
    let seeds = seeds(tx, Some(&services), None)?;
    let catalog = Catalog::build(seeds, stats, crate::template::DEFAULT_CAP);
    let mut changed: Vec<(&str, &str, &str, Stat, bool, i64)> = Vec::new();
    for (c, info) in catalog.info.iter().enumerate() {
        let cluster = catalog.drain.cluster(c as u32);
        // Stored templates that became part of this one: their rows go
        // (what they counted is in this one's).
        for old in &info.merged_texts {
            tx.execute(
                "DELETE FROM templates WHERE service = $1 AND template_id = $2",
                &[&&*cluster.service, &crate::template::template_id(old)],
            )
            .map_err(db())?;
        }
        // Rows change for what this file counted, for stored templates
        // merged into this one, and for those an earlier miner wrote.
        if info.stat.is_none() && info.merged_texts.is_empty() && !info.remined {
            continue;
        }
        let Some(total) = info.total() else { continue };
        // The example is this file's when this file has the first line.
        let ours = info.stat.is_some_and(|st| info.stored.is_none_or(|s| st.example.0 < s.first));
        let line = info.stat.map_or(0, |st| i64::from(st.example.1.line));
        // A stored template keeps its row (and its example) under its text,
        // which may have grown more general, unless another row has that
        // text already: then the old row goes and the two merge below.
        // Its counts are in `total`.
        if let Some(old) = info.stored_text.as_deref() {
            let old_id = crate::template::template_id(old);
            let kept = tx
                .execute(
                    "UPDATE templates SET template_id = $3, template = $4, count = $5, miner = DEFAULT,
                         first_seen = 'epoch'::timestamptz + $6::bigint * interval '1 second',
                         last_seen = 'epoch'::timestamptz + $7::bigint * interval '1 second',
                         example_path = CASE WHEN $8 THEN $9 ELSE example_path END,
                         example_line = CASE WHEN $8 THEN $10 ELSE example_line END
                     WHERE service = $1 AND template_id = $2
                       AND ($2 = $3 OR NOT EXISTS
                            (SELECT 1 FROM templates WHERE service = $1 AND template_id = $3))",
                    &[
                        &&*cluster.service,
                        &old_id,
                        &cluster.id(),
                        &cluster.text(),
                        &(total.count as i64),
                        &total.first,
                        &total.last,
                        &ours,
                        &path,
                        &line,
                    ],
                )
                .map_err(db())?;
            if kept == 1 {
                continue;
            }
            tx.execute(
                "DELETE FROM templates WHERE service = $1 AND template_id = $2",
                &[&&*cluster.service, &old_id],
            )
            .map_err(db())?;
        }
        changed.push((&cluster.service, cluster.id(), cluster.text(), total, ours, line));
    }
    for (service, id, text, stat, ours, line) in changed {
        // A new text; if another template already has it, the two merge.
        tx.execute(
            "INSERT INTO templates AS t (service, template_id, template, first_seen, last_seen, count, example_path, example_line)
             VALUES ($1, $2, $3, 'epoch'::timestamptz + $4::bigint * interval '1 second',
                     'epoch'::timestamptz + $5::bigint * interval '1 second', $6, $7, $8)
             ON CONFLICT (service, template_id) DO UPDATE SET
                 count = t.count + EXCLUDED.count,
                 first_seen = least(t.first_seen, EXCLUDED.first_seen),
                 last_seen = greatest(t.last_seen, EXCLUDED.last_seen),
                 example_path = CASE WHEN EXCLUDED.first_seen < t.first_seen THEN EXCLUDED.example_path ELSE t.example_path END,
                 example_line = CASE WHEN EXCLUDED.first_seen < t.first_seen THEN EXCLUDED.example_line ELSE t.example_line END",
            &[
                &service,
                &id,
                &text,
                &stat.first,
                &stat.last,
                &(stat.count as i64),
                &ours.then_some(path),
                &ours.then_some(line),
            ],
        )
        .map_err(db())?;
    }
    Ok(())
}

/// What a `new_value` rule of `job` knew before `before` (seconds): each
/// combination first seen earlier and last seen at most `remember` before
/// it, with its last sighting before `before` (at most `before - 1`).
pub fn known_before(
    c: &mut impl GenericClient,
    job: &str,
    rule: &str,
    before: i64,
    remember: i64,
) -> Result<Vec<(String, i64)>> {
    let rows = c
        .query(
            "SELECT value, extract(epoch FROM last_seen)::bigint FROM known_values
             WHERE job = $1 AND rule = $2
               AND first_seen < 'epoch'::timestamptz + $3::bigint * interval '1 second'
               AND last_seen >= 'epoch'::timestamptz + $4::bigint * interval '1 second'",
            &[&job, &rule, &before, &(before.saturating_sub(remember))],
        )
        .map_err(Error::db("reading the values new_value rules know"))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get::<_, i64>(1).min(before - 1))).collect())
}

/// Records what a `new_value` rule saw, and forgets what it has not seen
/// for `remember` before `newest` (seconds).
pub fn remember(
    tx: &mut postgres::Transaction<'_>,
    job: &str,
    rule: &str,
    seen: &[Sighting],
    remember: i64,
    newest: i64,
) -> Result<()> {
    let db = || Error::db("storing the values new_value rules know");
    for chunk in seen.chunks(5000) {
        let values: Vec<&str> = chunk.iter().map(|s| s.value.as_str()).collect();
        let firsts: Vec<i64> = chunk.iter().map(|s| s.first).collect();
        let lasts: Vec<i64> = chunk.iter().map(|s| s.last).collect();
        tx.execute(
            "INSERT INTO known_values AS k (job, rule, value, first_seen, last_seen, forget_after)
             SELECT $1, $2, v, 'epoch'::timestamptz + f * interval '1 second',
                    'epoch'::timestamptz + l * interval '1 second',
                    'epoch'::timestamptz + (l + $6::bigint) * interval '1 second'
             FROM unnest($3::text[], $4::bigint[], $5::bigint[]) AS u(v, f, l)
             ORDER BY v
             ON CONFLICT (job, rule, value) DO UPDATE SET
                 first_seen = least(k.first_seen, EXCLUDED.first_seen),
                 last_seen = greatest(k.last_seen, EXCLUDED.last_seen),
                 forget_after = greatest(k.forget_after, EXCLUDED.forget_after)",
            &[&job, &rule, &values, &firsts, &lasts, &remember],
        )
        .map_err(db())?;
    }
    tx.execute(
        "DELETE FROM known_values WHERE job = $1 AND rule = $2
           AND forget_after < 'epoch'::timestamptz + $3::bigint * interval '1 second'",
        &[&job, &rule, &newest],
    )
    .map_err(db())?;
    Ok(())
}

/// The report's templates of `[since, until]` (seconds): those seen in it,
/// new when first seen in it.
pub fn report_rows(
    c: &mut impl GenericClient,
    since: i64,
    until: i64,
) -> Result<Vec<crate::summary::TemplateRow>> {
    let rows = c
        .query(
            "SELECT service, template_id, template, count, extract(epoch FROM first_seen)::bigint,
                    extract(epoch FROM last_seen)::bigint FROM templates
             WHERE last_seen >= 'epoch'::timestamptz + $1::bigint * interval '1 second'
               AND first_seen <= 'epoch'::timestamptz + $2::bigint * interval '1 second'",
            &[&since, &until],
        )
        .map_err(Error::db("reading the stored templates"))?;
    let at = |t: i64| crate::parse::Timestamp::from_secs(t).to_rfc3339();
    let rows = rows
        .iter()
        .map(|r| {
            let (first, last): (i64, i64) = (r.get(4), r.get(5));
            let template: String = r.get(2);
            crate::summary::TemplateRow {
                service: r.get(0),
                template_id: r.get(1),
                new: first >= since && template != crate::template::mask::WILD,
                template,
                count: r.get::<_, i64>(3) as u64,
                first_seen: at(first),
                last_seen: at(last),
            }
        })
        .collect();
    Ok(crate::summary::pick_templates(rows))
}

/// A stored template, as the dashboard lists it.
pub struct TemplateListing {
    pub service: String,
    pub template_id: String,
    pub template: String,
    pub count: i64,
    /// RFC 3339.
    pub first_seen: String,
    pub last_seen: String,
    pub example: Option<(String, i64)>,
}

/// Stored templates (of `service`, if given), most frequent first or
/// newest first, at most `limit`.
pub fn list(
    c: &mut impl GenericClient,
    service: Option<&str>,
    newest_first: bool,
    limit: i64,
) -> Result<Vec<TemplateListing>> {
    let order = if newest_first { "first_seen DESC, count DESC" } else { "count DESC, first_seen" };
    let sql = format!(
        "SELECT service, template_id, template, count, extract(epoch FROM first_seen)::bigint,
                extract(epoch FROM last_seen)::bigint, example_path, example_line
         FROM templates WHERE ($1::text IS NULL OR service = $1)
         ORDER BY {order}, service, template_id LIMIT $2"
    );
    let rows = c.query(&sql, &[&service, &limit]).map_err(Error::db("listing templates"))?;
    let at = |t: i64| crate::parse::Timestamp::from_secs(t).to_rfc3339();
    Ok(rows
        .iter()
        .map(|r| TemplateListing {
            service: r.get(0),
            template_id: r.get(1),
            template: r.get(2),
            count: r.get(3),
            first_seen: at(r.get(4)),
            last_seen: at(r.get(5)),
            example: r.get::<_, Option<String>>(6).zip(r.get::<_, Option<i64>>(7)),
        })
        .collect())
}

/// The services that have templates.
pub fn services(c: &mut impl GenericClient) -> Result<Vec<String>> {
    let rows = c
        .query("SELECT DISTINCT service FROM templates ORDER BY service", &[])
        .map_err(Error::db("listing templates"))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
