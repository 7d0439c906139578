//! Silences (migration 0015): made by `logtrack silence add` and on the
//! dashboard (for every job), and a job file's `[[silence]]` blocks, kept
//! in step with the file by each of its runs (for that job only). Whether
//! one holds an incident is decided in [`super::incidents::hold`].

use crate::config::notify::Silence;
use crate::error::{Error, Result};
use crate::expr::Expr;
use postgres::GenericClient;

/// The longest comment kept, in characters.
pub const MAX_COMMENT: usize = 1000;

/// A stored silence as `silence list` and the dashboard show it.
#[derive(Clone, Debug)]
pub struct SilenceRow {
    pub id: i64,
    /// A job file's silence holds only that job's incidents.
    pub job: Option<String>,
    /// `cli`, `dashboard` or `job`.
    pub origin: String,
    pub ordinal: Option<i32>,
    /// The matcher as written.
    pub matcher: String,
    pub starts: i64,
    pub ends: i64,
    pub created_by: String,
    pub created_at: i64,
    pub comment: String,
    /// Who ended it before its time.
    pub expired_by: Option<String>,
}

impl SilenceRow {
    /// `pending`, `active` or `expired` at `now`.
    pub fn state(&self, now: i64) -> &'static str {
        if now < self.starts {
            "pending"
        } else if now < self.ends {
            "active"
        } else {
            "expired"
        }
    }

    /// The silence, with its matcher parsed (`None` when it no longer
    /// parses: written by a newer version).
    pub fn silence(&self) -> Option<Silence> {
        Some(Silence {
            id: Some(self.id),
            ordinal: self.ordinal,
            matcher: Expr::parse_labels(&self.matcher).ok()?,
            starts: self.starts,
            ends: self.ends,
            comment: self.comment.clone(),
            created_by: self.created_by.clone(),
        })
    }
}

const COLUMNS: &str = "id, job, origin, ordinal, matcher,
    extract(epoch FROM starts_at)::int8, extract(epoch FROM ends_at)::int8, created_by,
    extract(epoch FROM created_at)::int8, comment, expired_by";

fn from_row(r: &postgres::Row) -> SilenceRow {
    SilenceRow {
        id: r.get(0),
        job: r.get(1),
        origin: r.get(2),
        ordinal: r.get(3),
        matcher: r.get(4),
        starts: r.get(5),
        ends: r.get(6),
        created_by: r.get(7),
        created_at: r.get(8),
        comment: r.get(9),
        expired_by: r.get(10),
    }
}

/// The longest matcher, in characters.
pub const MAX_MATCHER: usize = 4096;

/// A new silence as asked for (on the command line or the dashboard),
/// before it is checked: times as given.
pub struct Request<'a> {
    pub matcher: &'a str,
    /// RFC 3339; now when `None`.
    pub starts: Option<&'a str>,
    /// `for`: seconds.
    pub duration: Option<i64>,
    /// RFC 3339.
    pub until: Option<&'a str>,
    pub comment: &'a str,
}

/// Checks a new silence the same way wherever it is asked for: the
/// matcher parses, times are RFC 3339 in the years 1 to 9999, it ends
/// after it starts and after `now`, and the comment says why. Text holding
/// a NUL (which PostgreSQL cannot store) or longer than the limits is
/// refused. Returns the matcher and the span; `Err` says what is wrong.
pub fn check(r: &Request<'_>, now: i64) -> std::result::Result<(Expr, i64, i64), String> {
    use crate::config::{MAX_SECS, MIN_SECS};
    if r.matcher.contains('\0') || r.comment.contains('\0') {
        return Err("the matcher and the comment cannot hold a NUL character".into());
    }
    if r.matcher.chars().count() > MAX_MATCHER {
        return Err(format!("the matcher is longer than {MAX_MATCHER} characters"));
    }
    if r.comment.chars().count() > MAX_COMMENT {
        return Err(format!("the comment is longer than {MAX_COMMENT} characters"));
    }
    let matcher = Expr::parse_labels(r.matcher.trim())
        .map_err(|e| format!("the matcher does not parse: {e}"))?;
    let time = |what: &str, t: &str| match crate::parse::Timestamp::parse_rfc3339(
        t.trim(),
        &Default::default(),
    ) {
        Some(t) if (MIN_SECS..=MAX_SECS).contains(&t.secs) => Ok(t.secs),
        Some(_) => Err(format!("{what} {t:?} is outside the years 1 to 9999")),
        None => Err(format!("{what} {t:?} is not an RFC 3339 time such as 2026-12-24T06:00:00Z")),
    };
    let starts = r.starts.map(|t| time("the start", t)).transpose()?.unwrap_or(now);
    let ends = match (r.duration, r.until) {
        (Some(_), Some(_)) => return Err("give a duration or an end, not both".into()),
        (Some(d), None) => starts.saturating_add(d).min(MAX_SECS),
        (None, Some(t)) => time("the end", t)?,
        (None, None) => return Err("say for how long (such as 2h) or until when".into()),
    };
    if ends <= starts {
        return Err("the silence would end before it starts".into());
    }
    if ends <= now {
        return Err("the silence would have ended already".into());
    }
    if r.comment.trim().is_empty() {
        return Err("the comment is empty: say why (it is shown with the silence)".into());
    }
    Ok((matcher, starts, ends))
}

/// What a new silence says.
pub struct NewSilence<'a> {
    pub matcher: &'a Expr,
    pub starts: i64,
    pub ends: i64,
    pub created_by: &'a str,
    pub comment: &'a str,
    /// `cli` or `dashboard`.
    pub origin: &'a str,
}

/// Stores a silence for every job; returns its number.
pub fn add(client: &mut impl GenericClient, s: &NewSilence<'_>) -> Result<i64> {
    let comment = s.comment.trim();
    client
        .query_one(
            "INSERT INTO silences (origin, matcher, starts_at, ends_at, created_by, comment)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[
                &s.origin,
                &s.matcher.to_string(),
                &super::at(s.starts),
                &super::at(s.ends),
                &s.created_by,
                &comment,
            ],
        )
        .map(|r| r.get(0))
        .map_err(Error::db("storing a silence"))
}

/// The silences that end after `now` (active and pending), newest first;
/// with `all`, the expired ones too.
pub fn list(client: &mut impl GenericClient, all: bool, now: i64) -> Result<Vec<SilenceRow>> {
    let rows = client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM silences WHERE $1 OR ends_at > $2
                 ORDER BY ends_at <= $2, id DESC LIMIT 1000"
            ),
            &[&all, &super::at(now)],
        )
        .map_err(Error::db("reading the silences"))?;
    Ok(rows.iter().map(from_row).collect())
}

/// What `silence expire` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Expired {
    Done,
    /// It had ended already.
    Ended,
    /// A job file's: it ends when the file says (or is taken out of it).
    JobFile(String),
    Missing,
}

/// Ends silence `id` at `now` (wall-clock seconds), recording `by`.
pub fn expire(client: &mut impl GenericClient, id: i64, by: &str, now: i64) -> Result<Expired> {
    let row = client
        .query_opt(&format!("SELECT {COLUMNS} FROM silences WHERE id = $1"), &[&id])
        .map_err(Error::db("reading a silence"))?;
    let Some(row) = row.as_ref().map(from_row) else { return Ok(Expired::Missing) };
    if let (Some(job), "job") = (&row.job, row.origin.as_str()) {
        return Ok(Expired::JobFile(job.clone()));
    }
    let n = client
        .execute(
            "UPDATE silences SET ends_at = greatest(starts_at, $2), expired_by = $3
             WHERE id = $1 AND ends_at > $2",
            &[&id, &super::at(now), &by],
        )
        .map_err(Error::db("expiring a silence"))?;
    Ok(if n == 1 { Expired::Done } else { Expired::Ended })
}

/// Stores the job file's `[[silence]]` blocks in place of what an earlier
/// run stored of them, and returns the silences that may hold the job's
/// incidents (stored for every job, and the file's), those that have not
/// ended by `now`.
pub fn sync_and_read(
    tx: &mut postgres::Transaction<'_>,
    job: &crate::config::Job,
    now: i64,
) -> Result<Vec<Silence>> {
    let count = job.silence.len() as i32;
    tx.execute(
        "DELETE FROM silences WHERE origin = 'job' AND job = $1 AND ordinal > $2",
        &[&job.name, &count],
    )
    .map_err(Error::db("keeping the job file's silences"))?;
    for s in &job.silence {
        // A silence without `starts` holds from when it was first stored.
        let starts = (s.starts != i64::MIN).then(|| super::at(s.starts));
        tx.execute(
            "INSERT INTO silences (job, origin, ordinal, matcher, starts_at, ends_at, created_by, comment)
             VALUES ($1, 'job', $2, $3, coalesce($4::timestamptz, least($5::timestamptz, $7::timestamptz)), $5, 'job file', $6)
             ON CONFLICT (job, ordinal) WHERE origin = 'job' DO UPDATE SET
               matcher = EXCLUDED.matcher, ends_at = EXCLUDED.ends_at, comment = EXCLUDED.comment,
               starts_at = coalesce($4::timestamptz, least(silences.starts_at, EXCLUDED.ends_at))",
            &[
                &job.name,
                &s.ordinal,
                &s.matcher.to_string(),
                &starts,
                &super::at(s.ends),
                &s.comment,
                &super::at(now),
            ],
        )
        .map_err(Error::db("keeping the job file's silences"))?;
    }
    let rows = tx
        .query(
            &format!(
                "SELECT {COLUMNS} FROM silences WHERE (job IS NULL OR job = $1) AND ends_at > $2
                 ORDER BY id"
            ),
            &[&job.name, &super::at(now)],
        )
        .map_err(Error::db("reading the silences"))?;
    Ok(rows.iter().map(from_row).filter_map(|r| r.silence()).collect())
}
