//! `logtrack report JOB [--since T] [--until T]`: `report.json` and
//! `report.md` for a time range from what the database holds: the alerts
//! whose window starts in it, the records and rejects of each source.

use crate::cli::{Global, RangeArgs};
use crate::error::Exit;
use crate::run::RangeWork;

pub fn run(a: &RangeArgs, g: &Global) -> anyhow::Result<Exit> {
    super::over_range(a, g, RangeWork::Report)
}
