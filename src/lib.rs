//! LogTrack: batch log monitoring and anomaly detection.
//!
//! The pipeline, stage by stage: [`config`] loads and checks a job file;
//! [`source`] finds, opens and frames inputs; [`parse`] turns units into
//! normalized records; [`pipeline`] runs parsing in parallel in input order;
//! [`output`] writes records. `cmd` holds one module per subcommand.

pub mod cli;
pub mod cmd;
pub mod config;
pub mod detect;
pub mod error;
pub mod json;
pub mod output;
pub mod parse;
pub mod pipeline;
pub mod read;
pub mod report;
pub mod run;
pub mod source;
pub mod store;
