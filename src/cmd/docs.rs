//! `logtrack completions SHELL` and `logtrack man`: generated from the
//! command line's own definition, so they never drift from `--help`.

use crate::cli::Cli;
use crate::error::Exit;
use clap::CommandFactory;
use std::io::Write;

/// A shell completion script on stdout.
pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<Exit> {
    // Generated into memory: the generator panics on a write error.
    let mut text = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "logtrack", &mut text);
    std::io::stdout().write_all(&text)?;
    Ok(Exit::Ok)
}

/// The manual page (roff) on stdout.
pub fn man() -> anyhow::Result<Exit> {
    let mut text = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut text)?;
    std::io::stdout().write_all(&text)?;
    Ok(Exit::Ok)
}
