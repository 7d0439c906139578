//! The `logtrack` binary: parse the command line, run, map the outcome to
//! an exit code (grep's: 0 ran, 1 alert at `--fail-on`, 2 failed).

use clap::Parser;
use logtrack::cli::Cli;
use logtrack::error::{is_broken_pipe, say, Exit};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match logtrack::cmd::dispatch(cli) {
        Ok(exit) => exit.into(),
        // `logtrack parse ... | head` is a success.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            say(&format!("logtrack: error: {e:#}"));
            Exit::Failed.into()
        }
    }
}
