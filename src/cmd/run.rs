//! `logtrack run JOB`: read every source, run every rule, write the
//! reports; in memory without a database (see [`crate::run`]).

use crate::cli::{Global, RunArgs};
use crate::error::Exit;
use crate::run::{self as engine, Messages};

pub fn run(args: &RunArgs, g: &Global) -> anyhow::Result<Exit> {
    let msgs = Messages::new(g);
    let Some(job) = super::load_job(&args.job, g, &msgs) else { return Ok(Exit::Failed) };
    let settings = super::settings(g, &job)?;
    let db = job.database_url.as_deref().filter(|_| !g.no_db);
    engine::run(&job, db, &settings, &msgs)
}
