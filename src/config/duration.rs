//! Human durations: `"90s"`, `"5m"`, `"2h"`, `"1d"`, `"1h30m"`.

use std::fmt;
use std::str::FromStr;

/// A duration in whole seconds, written with units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HumanDuration(pub i64);

impl HumanDuration {
    pub fn secs(self) -> i64 {
        self.0
    }
}

impl FromStr for HumanDuration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad =
            || format!("invalid duration {s:?} (expected e.g. \"90s\", \"5m\", \"2h\", \"1d\")");
        let t = s.trim();
        if t.is_empty() {
            return Err(bad());
        }
        let b = t.as_bytes();
        let mut i = 0;
        let mut total: i64 = 0;
        while i < b.len() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if start == i {
                return Err(bad());
            }
            let n: i64 = t[start..i].parse().map_err(|_| bad())?;
            let ustart = i;
            while i < b.len() && b[i].is_ascii_alphabetic() {
                i += 1;
            }
            let unit = match &t[ustart..i] {
                "s" | "sec" | "secs" => 1,
                "m" | "min" | "mins" => 60,
                "h" | "hr" | "hrs" => 3600,
                "d" => 86_400,
                "w" => 7 * 86_400,
                _ => return Err(bad()),
            };
            total = n.checked_mul(unit).and_then(|v| total.checked_add(v)).ok_or_else(bad)?;
        }
        Ok(HumanDuration(total))
    }
}

impl fmt::Display for HumanDuration {
    /// Compound units, largest first: `5m`, `1h30m`, `15m40s`, `2d`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.0;
        if s == 0 {
            return f.write_str("0s");
        }
        if s < 0 {
            f.write_str("-")?;
            s = -s;
        }
        for (unit, name) in [(86_400, "d"), (3600, "h"), (60, "m"), (1, "s")] {
            if s >= unit {
                write!(f, "{}{name}", s / unit)?;
                s %= unit;
            }
        }
        Ok(())
    }
}

/// A time argument: an RFC 3339 instant, or a duration back from `now`
/// (seconds); `flag` names it in the error.
pub fn time_arg(flag: &str, s: &str, now: i64) -> anyhow::Result<i64> {
    if let Some(t) = crate::parse::Timestamp::parse_rfc3339(s, &Default::default()) {
        // Year 0 (or an offset that leaves the years 1-9999) is no time a
        // record or a query bound can have.
        if !(MIN_SECS..=MAX_SECS).contains(&t.secs) {
            anyhow::bail!("{flag} {s:?}: is outside the years 1 to 9999");
        }
        return Ok(t.secs);
    }
    let d: HumanDuration = s.parse().map_err(|_| {
        anyhow::anyhow!("{flag} {s:?}: expected an RFC 3339 time or a duration such as \"2h\"")
    })?;
    now.checked_sub(d.secs())
        .filter(|t| (MIN_SECS..=MAX_SECS).contains(t))
        .ok_or_else(|| anyhow::anyhow!("{flag} {s:?}: reaches back before the year 1"))
}

/// The first second of the year 1 and the last of the year 9999: the
/// times a stored record or a query bound can have.
pub const MIN_SECS: i64 = -62_135_596_800;
pub const MAX_SECS: i64 = 253_402_300_799;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_args_stay_in_years_1_to_9999() {
        let now = 1_700_000_000;
        assert_eq!(time_arg("--since", "2h", now).unwrap(), now - 7200);
        assert!(time_arg("--since", "99999999h", now).is_err());
        assert!(time_arg("--since", "99999999999999999d", now).is_err());
        for t in ["0000-01-01T00:00:00Z", "0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-00:01"]
        {
            let e = time_arg("--since", t, now).unwrap_err().to_string();
            assert!(e.contains("outside the years 1 to 9999"), "{t}: {e}");
        }
        assert_eq!(time_arg("--since", "0001-01-01T00:00:00Z", now).unwrap(), MIN_SECS);
        assert_eq!(time_arg("--until", "9999-12-31T23:59:59Z", now).unwrap(), MAX_SECS);
    }

    #[test]
    fn durations() {
        let d = |s: &str| s.parse::<HumanDuration>().map(|d| d.0);
        assert_eq!(d("90s"), Ok(90));
        assert_eq!(d("5m"), Ok(300));
        assert_eq!(d("2h"), Ok(7200));
        assert_eq!(d("1h30m"), Ok(5400));
        assert_eq!(d("30d"), Ok(2_592_000));
        assert_eq!(
            d("5 minutes").unwrap_err(),
            r#"invalid duration "5 minutes" (expected e.g. "90s", "5m", "2h", "1d")"#
        );
        assert!(d("5").is_err());
        assert!(d("m").is_err());
        assert_eq!(HumanDuration(300).to_string(), "5m");
        assert_eq!(HumanDuration(940).to_string(), "15m40s");
        assert_eq!(HumanDuration(90_061).to_string(), "1d1h1m1s");
    }
}
