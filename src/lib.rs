//! LogTrack: batch log monitoring and anomaly detection.
//!
//! The pipeline, stage by stage: [`config`] loads and checks a job file
//! (its `where` expressions are [`expr`]); [`source`] finds, opens and
//! frames inputs; [`parse`] turns units into normalized records; [`read`]
//! reads one source end to end through a sink, on [`pipeline`]'s parallel
//! workers in input order; [`template`] mines message templates;
//! [`detect`] matches records against rules and turns counts into alerts;
//! [`summary`] holds the shapes the store fills and the reports render;
//! [`store`] loads PostgreSQL and reads stored rows back; [`notify`]
//! delivers incidents; [`report`] writes the reports; [`run`] is the
//! engine that owns one run from sources to report; [`sigma`] reads
//! Sigma rules and tries them on events; [`output`] writes
//! records; [`serve`] is the dashboard over the store; [`cli`] and `cmd`
//! are the command line, one thin module per subcommand.
//!
//! Every import points down the layers of `docs/architecture.md`
//! (checked by `tests/layers.rs`).

pub mod cli;
pub mod clock;
pub mod cmd;
pub mod config;
pub mod detect;
pub mod error;
pub mod expr;
pub mod json;
pub mod net;
pub mod notify;
pub mod output;
pub mod parse;
pub mod pipeline;
pub mod progress;
pub mod read;
pub mod report;
pub mod run;
pub mod serve;
pub mod sigma;
pub mod source;
pub mod store;
pub mod summary;
pub mod template;
