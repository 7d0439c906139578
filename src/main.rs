//! The `logtrack` binary: parse the command line, run, map the outcome to
//! an exit code (grep's: 0 ran, 1 alert at `--fail-on`, 2 failed; 75 the
//! job was already running).

use clap::Parser;
use logtrack::cli::{Cli, MessageFormat};
use logtrack::error::{is_broken_pipe, Error, Exit};
use logtrack::run::Messages;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(n) = cli.global.threads.filter(|n| *n > 0) {
        // Only fails when a pool exists already, which it cannot here.
        let _ = rayon::ThreadPoolBuilder::new().num_threads(n).build_global();
    }
    let msgs = Messages::plain(cli.global.quiet, cli.global.log_format == MessageFormat::Json);
    match logtrack::cmd::dispatch(cli) {
        Ok(exit) => exit.into(),
        // `logtrack parse ... | head` is a success.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        // Another run of the job is at work: not a failure, try later (a
        // warning, so that a quiet cron job does not mail it).
        Err(e) if matches!(e.downcast_ref::<Error>(), Some(Error::JobLocked(_))) => {
            msgs.warn(&format!("{e:#}"));
            Exit::Locked.into()
        }
        Err(e) => {
            msgs.error(&format!("{e:#}"));
            Exit::Failed.into()
        }
    }
}
