//! Timestamps: a compact UTC instant, fast parsers for the formats' time
//! stamps, time zones for formats that log local wall time, and RFC 3339
//! output.
//!
//! The CLF and HDFS hot paths parse by hand (fixed-width fields, no
//! allocation); only named time zones go through `chrono-tz`.

use chrono::{LocalResult, Offset, TimeZone};
use std::fmt;
use std::str::FromStr;

/// A UTC instant. `frac_digits` remembers how many fractional-second digits
/// the input had, so output keeps them (and prints none when it had none).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    pub secs: i64,
    pub nanos: u32,
    pub frac_digits: u8,
}

impl Timestamp {
    pub const fn from_secs(secs: i64) -> Self {
        Timestamp { secs, nanos: 0, frac_digits: 0 }
    }

    /// Writes RFC 3339 with `Z`, e.g. `2020-01-21T04:32:14Z`.
    pub fn write_rfc3339(&self, out: &mut Vec<u8>) {
        self.write_rfc3339_second(out);
        self.write_rfc3339_rest(out);
    }

    /// The part of [`Timestamp::write_rfc3339`] up to the second
    /// (`2020-01-21T04:32:14`): the same for every instant of a second.
    pub fn write_rfc3339_second(&self, out: &mut Vec<u8>) {
        let days = self.secs.div_euclid(86_400);
        let sod = self.secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let (hh, mm, ss) = (sod / 3600, sod / 60 % 60, sod % 60);
        if (0..=9999).contains(&y) {
            let y = y as u32;
            let buf = [
                b'0' + (y / 1000) as u8,
                b'0' + (y / 100 % 10) as u8,
                b'0' + (y / 10 % 10) as u8,
                b'0' + (y % 10) as u8,
                b'-',
                b'0' + (m / 10) as u8,
                b'0' + (m % 10) as u8,
                b'-',
                b'0' + (d / 10) as u8,
                b'0' + (d % 10) as u8,
                b'T',
                b'0' + (hh / 10) as u8,
                b'0' + (hh % 10) as u8,
                b':',
                b'0' + (mm / 10) as u8,
                b'0' + (mm % 10) as u8,
                b':',
                b'0' + (ss / 10) as u8,
                b'0' + (ss % 10) as u8,
            ];
            out.extend_from_slice(&buf);
        } else {
            use std::io::Write;
            let _ = write!(out, "{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}");
        }
    }

    /// The rest of [`Timestamp::write_rfc3339`] after the second: the
    /// fraction as written, and `Z`.
    pub fn write_rfc3339_rest(&self, out: &mut Vec<u8>) {
        if self.frac_digits > 0 {
            out.push(b'.');
            // The first `k` of the nine digits.
            let k = self.frac_digits.min(9) as usize;
            let mut digits = [b'0'; 9];
            let mut n = self.nanos.min(999_999_999) / 10u32.pow(9 - k as u32);
            for d in digits[..k].iter_mut().rev() {
                *d = b'0' + (n % 10) as u8;
                n /= 10;
            }
            out.extend_from_slice(&digits[..k]);
        }
        out.push(b'Z');
    }

    pub fn to_rfc3339(&self) -> String {
        let mut v = Vec::with_capacity(32);
        self.write_rfc3339(&mut v);
        String::from_utf8(v).expect("RFC 3339 output is ASCII")
    }

    /// Parses an RFC 3339 / ISO 8601 instant: `2023-07-10T11:42:18Z`,
    /// `2023-07-10T11:42:18.123+02:00`, `2023-07-10 11:42:18` (no offset:
    /// `tz` applies).
    pub fn parse_rfc3339(s: &str, tz: &Tz) -> Option<Timestamp> {
        let b = s.trim().as_bytes();
        if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
            return None;
        }
        let year = num(&b[0..4])? as i64;
        let month = num(&b[5..7])?;
        let day = num(&b[8..10])?;
        if b[13] != b':' || b[16] != b':' {
            return None;
        }
        let (h, mi, se) = (num(&b[11..13])?, num(&b[14..16])?, num(&b[17..19])?);
        let local = civil_to_secs(year, month, day, h, mi, se)?;
        let mut i = 19;
        let (nanos, frac_digits) = parse_fraction(b, &mut i)?;
        let rest = &b[i..];
        let secs = match rest {
            [] => tz.local_to_utc(local),
            [b'Z' | b'z'] => local,
            _ => local - parse_offset(rest)? as i64,
        };
        Some(Timestamp { secs, nanos, frac_digits })
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// Reads `.ddd` at `*i` (if present), returning nanoseconds and digit count.
pub fn parse_fraction(b: &[u8], i: &mut usize) -> Option<(u32, u8)> {
    if *i < b.len() && (b[*i] == b'.' || b[*i] == b',') {
        let start = *i + 1;
        let mut j = start;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j == start {
            return None;
        }
        let digits = &b[start..j];
        let mut nanos: u32 = 0;
        for k in 0..9 {
            nanos = nanos * 10 + digits.get(k).map_or(0, |d| (d - b'0') as u32);
        }
        *i = j;
        Some((nanos, digits.len().min(9) as u8))
    } else {
        Some((0, 0))
    }
}

/// Parses `+0200`, `-07:00`, `+02`, returning seconds east of UTC.
pub fn parse_offset(b: &[u8]) -> Option<i32> {
    let (sign, rest) = match b.first()? {
        b'+' => (1, &b[1..]),
        b'-' => (-1, &b[1..]),
        _ => return None,
    };
    let (h, m) = match rest.len() {
        2 => (num(rest)?, 0),
        4 => (num(&rest[0..2])?, num(&rest[2..4])?),
        5 if rest[2] == b':' => (num(&rest[0..2])?, num(&rest[3..5])?),
        _ => return None,
    };
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (h as i32 * 3600 + m as i32 * 60))
}

/// Parses a run of ASCII digits (at most 9) as a number.
#[inline]
pub fn num(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 9 {
        return None;
    }
    let mut n: u32 = 0;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n * 10 + d as u32;
    }
    Some(n)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// The earliest and latest of some instants (seconds), or nothing yet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeSpan(Option<(i64, i64)>);

impl TimeSpan {
    pub fn add(&mut self, t: i64) {
        self.0 = Some(self.0.map_or((t, t), |(lo, hi)| (lo.min(t), hi.max(t))));
    }

    pub fn merge(&mut self, other: TimeSpan) {
        if let Some((lo, hi)) = other.0 {
            self.add(lo);
            self.add(hi);
        }
    }

    pub fn min(self) -> Option<i64> {
        self.0.map(|(lo, _)| lo)
    }

    pub fn max(self) -> Option<i64> {
        self.0.map(|(_, hi)| hi)
    }

    pub fn bounds(self) -> Option<(i64, i64)> {
        self.0
    }
}

/// Seconds since the epoch of a wall-clock time read as UTC; `None` when a
/// field is out of range (month 13, 31 April, hour 24...). Second 60 (a leap
/// second) is accepted and folds into the next minute.
pub fn civil_to_secs(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<i64> {
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 60
    {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + (h * 3600 + mi * 60 + s) as i64)
}

/// Month abbreviation (`Jan`..`Dec`, any case) to 1..=12.
#[inline]
pub fn month_abbr(b: &[u8]) -> Option<u32> {
    if b.len() != 3 {
        return None;
    }
    let k = [b[0] | 0x20, b[1] | 0x20, b[2] | 0x20];
    Some(match &k {
        b"jan" => 1,
        b"feb" => 2,
        b"mar" => 3,
        b"apr" => 4,
        b"may" => 5,
        b"jun" => 6,
        b"jul" => 7,
        b"aug" => 8,
        b"sep" => 9,
        b"oct" => 10,
        b"nov" => 11,
        b"dec" => 12,
        _ => return None,
    })
}

/// Parses the CLF time `10/Oct/2000:13:55:36 -0700` (brackets stripped; an
/// optional `.fff` after the seconds). Without an offset, `tz` applies.
pub fn parse_clf_time(b: &[u8], tz: &Tz) -> Option<Timestamp> {
    if b.len() < 20 || b[2] != b'/' || b[6] != b'/' || b[11] != b':' {
        return None;
    }
    let d = num(&b[0..2])?;
    let mo = month_abbr(&b[3..6])?;
    let y = num(&b[7..11])? as i64;
    if b[14] != b':' || b[17] != b':' {
        return None;
    }
    let local = civil_to_secs(y, mo, d, num(&b[12..14])?, num(&b[15..17])?, num(&b[18..20])?)?;
    let mut i = 20;
    let (nanos, frac_digits) = parse_fraction(b, &mut i)?;
    let rest = &b[i..];
    let secs = if rest.is_empty() {
        tz.local_to_utc(local)
    } else if rest[0] == b' ' {
        local - parse_offset(&rest[1..])? as i64
    } else {
        return None;
    };
    Some(Timestamp { secs, nanos, frac_digits })
}

/// How far after the reference time a line without a year may lie and
/// still be taken for the reference year: a day, so that a source whose
/// `timezone` is wrong by up to 14 hours (or whose clock is a little ahead
/// of the file's modification time) does not move back a year.
pub const YEAR_SLACK: i64 = 86_400;

/// The instant of a wall-clock time logged without a year (syslog's
/// `Dec 31 23:59:59`): the latest year that puts it at or before
/// `reference` (seconds; a file's modification time, or the run's
/// reference time for stdin), so that a file spanning New Year, a leap day
/// and a file rotated in January read right. `None` when no year in the
/// eight before the reference has that date (Feb 30).
pub fn without_year(
    mo: u32,
    d: u32,
    h: u32,
    mi: u32,
    s: u32,
    tz: &Tz,
    reference: i64,
) -> Option<i64> {
    type Last = Option<((u32, u32, u32, u32, u32, i64, Tz), Option<i64>)>;
    thread_local! {
        /// The last answer of this thread: consecutive lines mostly share
        /// their second.
        static LAST: std::cell::RefCell<Last> = const { std::cell::RefCell::new(None) };
    }
    LAST.with_borrow_mut(|last| match last {
        Some((k, v)) if *k == (mo, d, h, mi, s, reference, tz.clone()) => *v,
        _ => {
            let v = year_search(mo, d, h, mi, s, tz, reference);
            *last = Some(((mo, d, h, mi, s, reference, tz.clone()), v));
            v
        }
    })
}

fn year_search(mo: u32, d: u32, h: u32, mi: u32, s: u32, tz: &Tz, reference: i64) -> Option<i64> {
    let ref_year = civil_from_days(reference.div_euclid(86_400)).0;
    (ref_year - 8..=ref_year + 1).rev().find_map(|y| {
        let utc = tz.local_to_utc(civil_to_secs(y, mo, d, h, mi, s)?);
        (utc <= reference.saturating_add(YEAR_SLACK)).then_some(utc)
    })
}

/// A syslog time without a year, as read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BsdTime {
    pub mo: u32,
    pub d: u32,
    pub h: u32,
    pub mi: u32,
    pub s: u32,
    pub nanos: u32,
    pub frac_digits: u8,
    /// Bytes read.
    pub len: usize,
}

/// Parses the syslog time `Mmm dd hh:mm:ss[.ffffff]` (day space- or
/// zero-padded) at the start of `b`.
pub fn parse_bsd_time(b: &[u8]) -> Option<BsdTime> {
    if b.len() < 14 || b[3] != b' ' {
        return None;
    }
    let mo = month_abbr(&b[0..3])?;
    // "Feb  7", "Feb 07", and the unpadded "Feb 7" (macOS, some daemons).
    let (d, at) = match (b[4], b[5]) {
        (b' ', c) if c.is_ascii_digit() => ((c - b'0') as u32, 6),
        (a, c) if a.is_ascii_digit() && c.is_ascii_digit() => {
            (((a - b'0') * 10 + (c - b'0')) as u32, 6)
        }
        (a, b' ') if a.is_ascii_digit() => ((a - b'0') as u32, 5),
        _ => return None,
    };
    let t = &b[at..];
    if t.len() < 9 || t[0] != b' ' || t[3] != b':' || t[6] != b':' {
        return None;
    }
    let (h, mi, s) = (num(&t[1..3])?, num(&t[4..6])?, num(&t[7..9])?);
    let mut i = at + 9;
    let (nanos, frac_digits) = parse_fraction(b, &mut i)?;
    Some(BsdTime { mo, d, h, mi, s, nanos, frac_digits, len: i })
}

/// The time zone of a source whose time stamps carry no offset.
#[derive(Clone, Debug, PartialEq)]
pub enum Tz {
    /// Seconds east of UTC.
    Fixed(i32),
    Named(chrono_tz::Tz),
}

impl Default for Tz {
    fn default() -> Self {
        Tz::Fixed(0)
    }
}

impl Tz {
    /// The wall-clock time (seconds since the epoch as if it were UTC) of
    /// the UTC instant `utc` here.
    pub fn utc_to_local(&self, utc: i64) -> i64 {
        match self {
            Tz::Fixed(off) => utc + *off as i64,
            Tz::Named(tz) => match chrono::DateTime::from_timestamp(utc, 0) {
                Some(t) => {
                    utc + tz.offset_from_utc_datetime(&t.naive_utc()).fix().local_minus_utc() as i64
                }
                None => utc,
            },
        }
    }

    /// Converts a wall-clock time (seconds since the epoch as if it were UTC)
    /// to the UTC instant. In a DST gap the pre-transition offset is used; in
    /// a DST overlap the earlier instant.
    pub fn local_to_utc(&self, local: i64) -> i64 {
        match self {
            Tz::Fixed(off) => local - *off as i64,
            Tz::Named(tz) => {
                let Some(naive) = chrono::DateTime::from_timestamp(local, 0) else {
                    return local;
                };
                let naive = naive.naive_utc();
                match tz.from_local_datetime(&naive) {
                    LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.timestamp(),
                    LocalResult::None => {
                        // In a gap: the offset in force a day before.
                        let before = naive - chrono::Duration::days(1);
                        let off = tz.offset_from_utc_datetime(&before).fix().local_minus_utc();
                        local - off as i64
                    }
                }
            }
        }
    }
}

impl FromStr for Tz {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("utc") || t == "Z" || t.eq_ignore_ascii_case("gmt") {
            return Ok(Tz::Fixed(0));
        }
        if let Some(off) = parse_offset(t.as_bytes()) {
            return Ok(Tz::Fixed(off));
        }
        chrono_tz::Tz::from_str(t).map(Tz::Named).map_err(|_| {
            format!("unknown time zone {t:?} (expected an IANA name such as \"Europe/Berlin\", \"UTC\", or an offset such as \"+02:00\")")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in [-800_000i64, -1, 0, 1, 11_000, 18_282, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn clf_time_applies_offset() {
        let ts = parse_clf_time(b"20/Jan/2020:21:32:14 -0700", &Tz::default()).unwrap();
        assert_eq!(ts.to_rfc3339(), "2020-01-21T04:32:14Z");
        let ts = parse_clf_time(b"07/Dec/2016:11:05:07 +0100", &Tz::default()).unwrap();
        assert_eq!(ts.to_rfc3339(), "2016-12-07T10:05:07Z");
    }

    #[test]
    fn clf_time_keeps_fraction() {
        let ts = parse_clf_time(b"20/Jan/2020:21:32:14.250 +0000", &Tz::default()).unwrap();
        assert_eq!(ts.to_rfc3339(), "2020-01-20T21:32:14.250Z");
    }

    #[test]
    fn clf_time_rejects_bad_fields() {
        for bad in [
            &b"32/Jan/2020:21:32:14 -0700"[..],
            b"20/Foo/2020:21:32:14 -0700",
            b"20/Jan/2020:25:32:14 -0700",
            b"20/Jan/2020:21:32:14 +9900",
            b"20/Jan/2020:21:32",
            b"29/Feb/2019:00:00:00 +0000",
        ] {
            assert!(
                parse_clf_time(bad, &Tz::default()).is_none(),
                "{:?}",
                std::str::from_utf8(bad)
            );
        }
    }

    #[test]
    fn rfc3339_variants() {
        let tz = Tz::default();
        let p = |s| Timestamp::parse_rfc3339(s, &tz).map(|t| t.to_rfc3339());
        assert_eq!(p("2023-07-10T11:42:18Z").unwrap(), "2023-07-10T11:42:18Z");
        assert_eq!(p("2023-07-10T13:42:18.5+02:00").unwrap(), "2023-07-10T11:42:18.5Z");
        assert_eq!(p("2023-07-10 11:42:18").unwrap(), "2023-07-10T11:42:18Z");
        assert!(p("2023-07-10").is_none());
        assert!(p("2023-13-10T11:42:18Z").is_none());
    }

    #[test]
    fn named_zone_handles_dst() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        // Summer: UTC+2. Winter: UTC+1.
        let summer = civil_to_secs(2023, 7, 10, 12, 0, 0).unwrap();
        assert_eq!(tz.local_to_utc(summer), summer - 7200);
        let winter = civil_to_secs(2023, 1, 10, 12, 0, 0).unwrap();
        assert_eq!(tz.local_to_utc(winter), winter - 3600);
        // 02:30 on 2023-03-26 does not exist in Berlin; it must not panic.
        let gap = civil_to_secs(2023, 3, 26, 2, 30, 0).unwrap();
        assert_eq!(tz.local_to_utc(gap), gap - 3600);
    }

    #[test]
    fn zone_names_and_offsets() {
        assert_eq!("UTC".parse::<Tz>().unwrap(), Tz::Fixed(0));
        assert_eq!("+05:30".parse::<Tz>().unwrap(), Tz::Fixed(19_800));
        assert_eq!("-0700".parse::<Tz>().unwrap(), Tz::Fixed(-25_200));
        let err = "Mars/Olympus".parse::<Tz>().unwrap_err();
        assert!(err.contains("unknown time zone \"Mars/Olympus\""), "{err}");
    }
}
