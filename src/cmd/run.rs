//! `logtrack run JOB`: read every source, run every rule, write the
//! reports; in memory without a database (see [`crate::run`]).

use crate::cli::{Global, RunArgs};
use crate::error::Exit;
use crate::run as engine;

pub fn run(args: &RunArgs, g: &Global) -> anyhow::Result<Exit> {
    let msgs = g.messages();
    let Some(job) = super::load_job(&args.job, g, &msgs) else { return Ok(Exit::Failed) };
    let mut settings = super::settings(g, &job)?;
    let wall = settings.now.at_or_wall_clock();
    let bound = |flag: &str, arg: &Option<String>, key: &Option<String>| {
        arg.as_ref().or(key.as_ref()).map(|s| super::time_arg(flag, s, wall)).transpose()
    };
    settings.since = bound("--since", &args.since, &job.since)?;
    settings.until = bound("--until", &args.until, &job.until)?;
    settings.dry_run = args.dry_run;
    let db = job.database_url.as_deref().filter(|_| !g.no_db);
    engine::run(&job, db, &settings, &msgs)
}
