//! `logtrack detect JOB [--since T] [--until T]`: the job's rules over a
//! time range of what the database holds (plus the history each rule needs
//! before it); alerts stored once per identity, printed, and reported.

use crate::cli::{Global, RangeArgs};
use crate::error::Exit;
use crate::run::RangeWork;

pub fn run(a: &RangeArgs, g: &Global) -> anyhow::Result<Exit> {
    super::over_range(a, g, RangeWork::Detect)
}
