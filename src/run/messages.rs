//! Messages on stderr, as text or JSON lines.

use crate::cli::{Global, MessageFormat};

/// Messages on stderr: plain lines, or JSON objects with `--log-format json`.
pub struct Messages {
    quiet: bool,
    json: bool,
}

impl Messages {
    pub fn new(g: &Global) -> Self {
        Messages { quiet: g.quiet, json: g.log_format == MessageFormat::Json }
    }

    fn emit(&self, level: &str, msg: &str) {
        if self.json {
            let line = serde_json::json!({ "level": level, "message": msg });
            crate::error::say(&line.to_string());
        } else if level == "info" {
            crate::error::say(msg);
        } else {
            crate::error::say(&format!("logtrack: {level}: {msg}"));
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
