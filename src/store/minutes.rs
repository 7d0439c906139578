//! Records per (minute, service, severity), counted while loading and
//! written to `log_minutes` (and, summed by hour, `log_hours`) in the
//! load's transaction: what the overview and the volume charts read.

use crate::error::Error;
use postgres::Transaction;

/// Records per (minute, service, severity), as `log_minutes` keeps them
/// (and, summed by hour, `log_hours`).
#[derive(Default)]
pub struct Minutes {
    services: Vec<Box<str>>,
    counts: rustc_hash::FxHashMap<Key, i64>,
    /// The key of the latest records and how many there were since it was
    /// last added to `counts`: neighbouring records mostly share their
    /// minute, service and severity, so most records cost a comparison.
    run: Option<(Key, i64)>,
}

/// (minute start in seconds, service index, severity index or `u8::MAX`).
type Key = (i64, u32, u8);

/// The name of a missing severity in `log_minutes` and `log_hours`.
const NO_SEVERITY: &str = "none";

impl Minutes {
    pub(super) fn add(
        &mut self,
        secs: i64,
        service: &str,
        severity: Option<crate::parse::Severity>,
        n: i64,
    ) {
        let minute = secs.div_euclid(60) * 60;
        let sev = severity.map_or(u8::MAX, |s| s as u8);
        if let Some(((m, svc, sv), count)) = &mut self.run {
            if *m == minute && *sv == sev && &*self.services[*svc as usize] == service {
                *count += n;
                return;
            }
        }
        let svc = match self.services.iter().position(|s| &**s == service) {
            Some(i) => i as u32,
            None => {
                self.services.push(service.into());
                self.services.len() as u32 - 1
            }
        };
        self.flush();
        self.run = Some(((minute, svc, sev), n));
    }

    /// Adds the current run to `counts`.
    fn flush(&mut self) {
        if let Some((key, n)) = self.run.take() {
            *self.counts.entry(key).or_default() += n;
        }
    }

    pub(super) fn merge(&mut self, mut other: Minutes) {
        other.flush();
        for ((minute, svc, sev), n) in other.counts {
            let service = &other.services[svc as usize];
            let severity = (sev != u8::MAX).then(|| crate::parse::Severity::ALL[sev as usize]);
            self.add(minute, service, severity, n);
        }
    }

    /// Adds the counts to `log_minutes` and `log_hours`, each in key order
    /// (see the module's doc).
    pub(super) fn store(&mut self, tx: &mut Transaction<'_>) -> Result<(), Error> {
        self.flush();
        self.store_by(tx, "log_minutes", "minute", 60)?;
        self.store_by(tx, "log_hours", "hour", 3600)
    }

    /// Adds the counts, summed by `secs`, to `table`, whose time column is `column`.
    fn store_by(
        &self,
        tx: &mut Transaction<'_>,
        table: &str,
        column: &str,
        secs: i64,
    ) -> Result<(), Error> {
        let mut sums: std::collections::BTreeMap<(i64, &str, &str), i64> = Default::default();
        for (&(minute, svc, sev), &n) in &self.counts {
            let severity = match sev {
                u8::MAX => NO_SEVERITY,
                s => crate::parse::Severity::ALL[s as usize].as_str(),
            };
            let at = minute.div_euclid(secs) * secs;
            *sums.entry((at, &*self.services[svc as usize], severity)).or_default() += n;
        }
        if sums.is_empty() {
            return Ok(());
        }
        let times: Vec<std::time::SystemTime> = sums.keys().map(|k| super::at(k.0)).collect();
        let services: Vec<&str> = sums.keys().map(|k| k.1).collect();
        let severities: Vec<&str> = sums.keys().map(|k| k.2).collect();
        let counts: Vec<i64> = sums.values().copied().collect();
        tx.execute(
            &format!(
                "INSERT INTO {table} ({column}, service, severity, records)
                 SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::bigint[])
                 ON CONFLICT ({column}, service, severity)
                 DO UPDATE SET records = {table}.records + EXCLUDED.records"
            ),
            &[&times, &services, &severities, &counts],
        )
        .map_err(Error::db(format!("counting the records per {column}")))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::Severity;

    /// The counts as (minute, service, severity) → records.
    fn flat(m: &mut Minutes) -> std::collections::BTreeMap<(i64, String, Option<u8>), i64> {
        m.flush();
        m.counts
            .iter()
            .map(|(&(t, svc, sev), &n)| {
                ((t, m.services[svc as usize].to_string(), (sev != u8::MAX).then_some(sev)), n)
            })
            .collect()
    }

    #[test]
    fn minutes_count_runs_and_interleaved_keys_alike() {
        let records = [
            (0, "web", Some(Severity::Info)),
            (30, "web", Some(Severity::Info)),
            (59, "web", Some(Severity::Error)),
            (60, "web", Some(Severity::Info)),
            (61, "db", None),
            (62, "web", Some(Severity::Info)),
            (10, "web", Some(Severity::Info)),
        ];
        let mut one = Minutes::default();
        for (t, svc, sev) in records {
            one.add(t, svc, sev, 1);
        }
        // Counted in two parts and merged: the same.
        let (mut a, mut b) = (Minutes::default(), Minutes::default());
        for (i, (t, svc, sev)) in records.into_iter().enumerate() {
            if i % 2 == 0 { &mut a } else { &mut b }.add(t, svc, sev, 1);
        }
        a.merge(b);
        let got = flat(&mut one);
        assert_eq!(got, flat(&mut a));
        let info = Some(Severity::Info as u8);
        assert_eq!(got[&(0, "web".to_string(), info)], 3);
        assert_eq!(got[&(0, "web".to_string(), Some(Severity::Error as u8))], 1);
        assert_eq!(got[&(60, "web".to_string(), info)], 2);
        assert_eq!(got[&(60, "db".to_string(), None)], 1);
        assert_eq!(got.values().sum::<i64>(), records.len() as i64);
    }
}
