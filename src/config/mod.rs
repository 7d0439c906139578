//! Job files: loading with figment (built-in defaults, `config/logtrack.toml`,
//! the job file, `LOGTRACK_*` variables, command-line flags — later layers
//! win), then one validation pass that turns the raw tree into a [`Job`] and
//! reports *every* problem with its key path (`rules[2].window: ...`).
//!
//! Validation reads the merged tree key by key instead of deriving
//! `Deserialize`, so one bad value does not hide the others, unknown keys are
//! named (with a suggestion), and the old tool's keys (`rule_type`,
//! `window_minutes`, `window_seconds`, `max_idle_minutes`) are accepted.

mod check;
mod duration;
mod job;
mod load;
pub mod notify;
#[cfg(test)]
mod tests;

pub use check::validate;
pub use duration::{time_arg, HumanDuration, MAX_SECS, MIN_SECS};
pub use job::*;
pub use load::{database_url, load, rebase, site_config, SITE_CONFIG};
