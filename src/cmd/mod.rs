//! One module per subcommand; each is thin glue over the library stages.

pub mod alerts;
pub mod db;
pub mod detect;
pub mod docs;
pub mod ingest;
pub mod logs;
pub mod notify;
pub mod parse;
pub mod report;
pub mod run;
pub mod runs;
pub mod serve;
pub mod sigma;
pub mod silence;
pub mod templates;
pub mod user;
pub mod validate;

use crate::cli::{Cli, Command, Global, RangeArgs};
use crate::error::{Error, Exit};
use crate::run::{Messages, Now, RangeWork, Settings};

pub fn dispatch(cli: Cli) -> anyhow::Result<Exit> {
    let g = &cli.global;
    crate::progress::enable_if_terminal(g.quiet, g.log_format == crate::cli::MessageFormat::Json);
    match &cli.command {
        Command::Run(a) => run::run(a, g),
        Command::Parse(a) => parse::run(a, g),
        Command::Templates(a) => templates::run(a, g),
        Command::Validate(a) => validate::run(a, g),
        Command::Ingest(a) => ingest::run(a, g),
        Command::Db(c) => db::run(c, g),
        Command::Logs(a) => logs::run(a, g),
        Command::Detect(a) => detect::run(a, g),
        Command::Report(a) => report::run(a, g),
        Command::Alerts(a) => alerts::run(a, g),
        Command::Runs(a) => runs::run(a, g),
        Command::User(c) => user::run(c, g),
        Command::Serve(a) => serve::run(a, g),
        Command::Notify(a) => notify::run(a, g),
        Command::Silence(c) => silence::run(c, g),
        Command::Sigma(c) => sigma::run(c, g),
        Command::Completions { shell } => docs::completions(*shell),
        Command::Man => docs::man(),
    }
}

/// The format and parser options given on the command line.
pub fn input_options(
    a: &crate::cli::InputArgs,
) -> anyhow::Result<(crate::parse::Format, crate::parse::ParserOptions)> {
    use anyhow::Context;
    let format: crate::parse::Format =
        a.format.parse().map_err(anyhow::Error::msg).context("--format")?;
    let timezone: crate::parse::Tz =
        a.timezone.parse().map_err(anyhow::Error::msg).context("--timezone")?;
    let multiline = a
        .multiline
        .as_deref()
        .map(|m| crate::source::multiline::Multiline::from_arg(m).map_err(anyhow::Error::msg))
        .transpose()
        .context("--multiline")?;
    Ok((
        format,
        crate::parse::ParserOptions {
            service: a.service.clone(),
            timezone,
            ts_format: a.ts_format.clone(),
            multiline,
            ..Default::default()
        },
    ))
}

/// Expands file arguments (globs, `-`). A pattern that matches nothing is
/// reported and makes the exit code 2; the others still run.
pub fn expand(patterns: &[String], msgs: &Messages, exit: &mut Exit) -> Vec<String> {
    let mut out = Vec::new();
    for pattern in patterns {
        match crate::source::discover(pattern) {
            Ok(found) => {
                for w in &found.warnings {
                    msgs.warn(w);
                }
                out.extend(found.paths)
            }
            Err(e) => {
                msgs.error(&e.to_string());
                *exit = Exit::Failed;
            }
        }
    }
    out
}

/// Loads a job with the command line's overrides; every problem is printed
/// with its key path and `None` returned (exit 2).
pub fn load_job(path: &std::path::Path, g: &Global, msgs: &Messages) -> Option<crate::config::Job> {
    let overrides = crate::config::Overrides {
        database_url: g.database_url.clone(),
        report_dir: g.report_dir.clone(),
        config: g.config.clone(),
    };
    match crate::config::load(path, &overrides) {
        Ok(job) => Some(job),
        Err(problems) => {
            for p in &problems.0 {
                msgs.error(&format!("{}: {p}", path.display()));
            }
            None
        }
    }
}

/// `--now`, `--fail-on` and `--verbose`, with the job's `now` under `--now`.
pub fn settings(g: &Global, job: &crate::config::Job) -> anyhow::Result<Settings> {
    use anyhow::Context;
    let fail_on = g
        .fail_on
        .as_deref()
        .map(|s| s.parse().map_err(anyhow::Error::msg).context("--fail-on"))
        .transpose()?;
    let now = Now::parse(g.now.as_deref().or(job.now.as_deref()))?;
    Ok(Settings {
        started: std::time::Instant::now(),
        now,
        fail_on,
        verbose: g.verbose,
        since: None,
        until: None,
        junit: g.junit.clone(),
        anonymize: g.anonymize,
        strict: g.strict,
        dry_run: false,
    })
}

/// `detect` and `report`: the job over a time range of the database
/// (`--since` and `--until`: durations count back from `--now`).
fn over_range(a: &RangeArgs, g: &Global, work: RangeWork) -> anyhow::Result<Exit> {
    let msgs = g.messages();
    let Some(job) = load_job(&a.job, g, &msgs) else { return Ok(Exit::Failed) };
    let settings = settings(g, &job)?;
    let url = job.database_url.as_deref().ok_or(Error::NoDatabase)?;
    let wall = settings.now.at_or_wall_clock();
    let t =
        |flag: &str, v: &Option<String>| v.as_deref().map(|s| time_arg(flag, s, wall)).transpose();
    let range = (t("--since", &a.since)?, t("--until", &a.until)?);
    crate::run::over_range(&job, url, range, work, &settings, &msgs)
}

pub use crate::config::time_arg;
