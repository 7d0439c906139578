//! Messages on stderr, as text or JSON lines: the one layer every message
//! of a command goes through, fatal errors included (`main`).
//!
//! Levels: `error` (always shown), `alert` (an alert of the run: always
//! shown, so that `-q` under cron prints exactly when something fired or
//! failed), `warning` and `info` (hidden by `-q`). With `--log-format
//! json` each line is an object with `ts` (RFC 3339, UTC), `level`,
//! `message` and any fields (`file`, `rule`, counts), for journald and log
//! shippers.

/// Messages on stderr: plain lines, or JSON objects with `--log-format json`.
pub struct Messages {
    quiet: bool,
    json: bool,
    /// Colour severities (text messages on a terminal, unless NO_COLOR).
    colour: bool,
}

impl Messages {
    /// Messages with `-q` (`quiet`), as JSON lines (`json`), severities
    /// in colour (`colour`; the command line decides, see `cli::Global`).
    pub fn new(quiet: bool, json: bool, colour: bool) -> Self {
        Messages { quiet, json, colour: colour && !json }
    }

    fn emit(&self, level: &str, msg: &str, fields: Option<serde_json::Value>) {
        if self.json {
            let mut line = serde_json::json!({
                "ts": crate::parse::Timestamp::from_secs(chrono::Utc::now().timestamp()).to_rfc3339(),
                "level": level,
                "message": msg,
            });
            if let (Some(serde_json::Value::Object(f)), Some(o)) = (fields, line.as_object_mut()) {
                for (k, v) in f {
                    o.entry(k).or_insert(v);
                }
            }
            crate::error::say(&line.to_string());
        } else if level == "info" || level == "alert" {
            crate::error::say(msg);
        } else {
            crate::error::say(&format!("logtrack: {level}: {msg}"));
        }
    }

    /// Messages for `--quiet` and `--log-format` alone (before a command
    /// has parsed its own arguments, e.g. for a fatal error).
    pub fn plain(quiet: bool, json: bool) -> Self {
        Messages { quiet, json, colour: false }
    }

    /// `text` in the colour of an alert severity, when colours are on.
    pub fn paint(&self, severity: &str, text: &str) -> String {
        let code = match severity {
            "critical" => "1;31",
            "high" => "31",
            "medium" => "33",
            _ => "34",
        };
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// An alert of the run (shown even with `-q`), with its fields.
    pub fn alert(&self, msg: &str, fields: serde_json::Value) {
        self.emit("alert", msg, Some(fields));
    }

    /// A warning with fields (hidden by `-q`).
    pub fn warn_with(&self, msg: &str, fields: serde_json::Value) {
        if !self.quiet {
            self.emit("warning", msg, Some(fields));
        }
    }

    /// An error with fields (always shown).
    pub fn error_with(&self, msg: &str, fields: serde_json::Value) {
        self.emit("error", msg, Some(fields));
    }

    pub fn info(&self, msg: &str) {
        if !self.quiet {
            self.emit("info", msg, None);
        }
    }

    pub fn warn(&self, msg: &str) {
        if !self.quiet {
            self.emit("warning", msg, None);
        }
    }

    pub fn error(&self, msg: &str) {
        self.emit("error", msg, None);
    }
}

/// Warns about the services whose templates reached the cap, and about
/// records whose message was past the distinct messages a run counts.
pub fn templates_capped(drain: &crate::template::Drain, dropped: u64, msgs: &Messages) {
    for (service, n) in drain.capped() {
        msgs.warn(&format!(
            "templates: service {service:?} reached the cap of {} templates; {n} distinct messages that fit none of them got the template <*>",
            drain.cap()
        ));
    }
    if dropped > 0 {
        msgs.warn(&format!(
            "templates: {dropped} records had a message past the {} distinct messages a run templates; they have no template",
            crate::template::catalog::MAX_SIGNATURES
        ));
    }
}

/// [`templates_capped`] of a run's catalog.
pub fn warn_templates_capped(c: &crate::template::catalog::Catalog, msgs: &Messages) {
    templates_capped(&c.drain, c.dropped, msgs);
}
