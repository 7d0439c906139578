//! `logtrack silence add|list|expire`: silences stored for every job (see
//! `docs/notifications.md`). They are judged by the wall clock.

use crate::cli::{Global, SilenceCommand};
use crate::clock::wall_clock;
use crate::error::Exit;
use crate::parse::Timestamp;
use crate::store::{self, silences};
use std::io::Write;
use std::path::PathBuf;

pub fn run(c: &SilenceCommand, g: &Global) -> anyhow::Result<Exit> {
    let msgs = g.messages();
    let (SilenceCommand::Add { job, .. }
    | SilenceCommand::List { job, .. }
    | SilenceCommand::Expire { job, .. }) = c;
    let Some(url) = database(job.as_ref(), g, &msgs)? else { return Ok(Exit::Failed) };
    let mut client = store::open(&url)?;
    let now = wall_clock();
    match c {
        SilenceCommand::Add { matcher, duration, until, starts, comment, author, .. } => {
            let request = silences::Request {
                matcher,
                starts: starts.as_deref(),
                duration: duration.map(|d| d.secs()),
                until: until.as_deref(),
                comment,
            };
            let (expr, starts, ends) = silences::check(&request, now)
                .map_err(|why| anyhow::anyhow!("silence add: {why}"))?;
            let by = author.clone().unwrap_or_else(user);
            let id = silences::add(
                &mut client,
                &silences::NewSilence {
                    matcher: &expr,
                    starts,
                    ends,
                    created_by: &by,
                    comment: comment.trim(),
                    origin: "cli",
                },
            )?;
            writeln!(std::io::stdout().lock(), "{id}")?;
            msgs.info(&format!("silence {id}: {expr} from {} until {}", ts(starts), ts(ends)));
        }
        SilenceCommand::List { all, .. } => {
            let rows = silences::list(&mut client, *all, now)?;
            let covered = store::incidents::covered(&mut client, &rows)?;
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "{:<6}  {:<8}  {:<20}  {:<20}  {:<16}  {:>6}  {:<40}  comment",
                "id", "state", "starts (UTC)", "ends (UTC)", "by", "covers", "match"
            )?;
            for r in &rows {
                let by = match (&r.job, r.origin.as_str()) {
                    (Some(j), "job") => format!("job {j}"),
                    _ => r.created_by.clone(),
                };
                let covers = covered.get(&r.id).map_or(0, Vec::len);
                let mut state = r.state(now).to_string();
                if let (Some(x), "expired") = (&r.expired_by, state.as_str()) {
                    state = format!("expired by {x}");
                }
                writeln!(
                    out,
                    "{:<6}  {:<8}  {:<20}  {:<20}  {:<16}  {:>6}  {:<40}  {}",
                    r.id,
                    state,
                    ts(r.starts),
                    ts(r.ends),
                    crate::output::terminal(&by),
                    covers,
                    crate::output::terminal(&r.matcher),
                    crate::output::terminal(&r.comment)
                )?;
            }
        }
        SilenceCommand::Expire { id, author, .. } => {
            let by = author.clone().unwrap_or_else(user);
            match silences::expire(&mut client, *id, &by, now)? {
                silences::Expired::Done => msgs.info(&format!("silence {id} expired")),
                silences::Expired::Ended => msgs.info(&format!("silence {id} had ended already")),
                silences::Expired::JobFile(job) => {
                    msgs.error(&format!(
                        "silence {id} is a [[silence]] of job {job:?}: it ends when its file says; \
                         change `until` there or take the block out"
                    ));
                    return Ok(Exit::Failed);
                }
                silences::Expired::Missing => {
                    msgs.error(&format!(
                        "no silence {id} (logtrack silence list --all lists them)"
                    ));
                    return Ok(Exit::Failed);
                }
            }
        }
    }
    Ok(Exit::Ok)
}

/// The database: the job file's when `--job` is given, else the usual
/// (--database-url, LOGTRACK_DATABASE_URL, the site settings).
fn database(
    job: Option<&PathBuf>,
    g: &Global,
    msgs: &crate::run::Messages,
) -> anyhow::Result<Option<String>> {
    let Some(path) = job else {
        return crate::config::database_url(g.database_url.as_deref(), g.config.as_deref())
            .map(Some);
    };
    let Some(job) = super::load_job(path, g, msgs) else { return Ok(None) };
    match job.database_url {
        Some(u) => Ok(Some(u)),
        None => anyhow::bail!("{}: no [database] url", path.display()),
    }
}

fn ts(t: i64) -> String {
    Timestamp::from_secs(t).to_rfc3339()
}

/// Who is running this: `$USER` (or `$LOGNAME`), else `cli`.
fn user() -> String {
    ["USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.trim().is_empty()))
        .unwrap_or_else(|| "cli".to_string())
}
