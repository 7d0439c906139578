//! One module per subcommand; each is thin glue over the library stages.

pub mod parse;
pub mod run;

pub mod validate;

use crate::cli::{Cli, Command, Global, LogFormat};
use crate::error::Exit;

pub fn dispatch(cli: Cli) -> anyhow::Result<Exit> {
    let g = &cli.global;
    match &cli.command {
        Command::Run(a) => run::run(a, g),
        Command::Parse(a) => parse::run(a, g),
        Command::Validate(a) => validate::run(a, g),
    }
}

/// Messages on stderr: plain lines, or JSON objects with `--log-format json`.
pub struct Messages {
    quiet: bool,
    json: bool,
}

impl Messages {
    pub fn new(g: &Global) -> Self {
        Messages { quiet: g.quiet, json: g.log_format == LogFormat::Json }
    }

    fn emit(&self, level: &str, msg: &str) {
        if self.json {
            let line = serde_json::json!({ "level": level, "message": msg });
            eprintln!("{line}");
        } else if level == "info" {
            eprintln!("{msg}");
        } else {
            eprintln!("logtrack: {level}: {msg}");
        }
    }

    pub fn info(&self, msg: &str) {
        if !self.quiet {
            self.emit("info", msg);
        }
    }

    pub fn warn(&self, msg: &str) {
        if !self.quiet {
            self.emit("warning", msg);
        }
    }

    pub fn error(&self, msg: &str) {
        self.emit("error", msg);
    }
}
