//! The PostgreSQL store: connecting (the password never printed),
//! migrations, and loading files with binary `COPY` and checkpoints.

pub mod history;
pub mod load;
pub mod migrate;

use crate::error::redact_url;
use anyhow::Context;
use postgres::{Client, NoTls};

/// Connects, naming the (redacted) URL in the error.
pub fn connect(url: &str) -> anyhow::Result<Client> {
    Client::connect(url, NoTls).map_err(|e| {
        // The driver's message can quote the connection string: redact it too.
        let msg = redact_url(&e.to_string());
        anyhow::anyhow!("cannot connect to {}: {msg}", redact_url(url))
    })
}

/// This host's name, which keys checkpoints (a job may run on many hosts).
pub fn ingest_host() -> String {
    std::env::var("LOGTRACK_HOST")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok().map(|h| h.trim().to_string()))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Connects and applies pending migrations.
pub fn open(url: &str) -> anyhow::Result<Client> {
    let mut client = connect(url)?;
    migrate::apply(&mut client).context("applying migrations")?;
    Ok(client)
}

/// Drops the daily partitions of `logs` whose day ends at or before
/// `cutoff` (seconds since the epoch). Returns their names.
pub fn prune(client: &mut Client, cutoff: i64) -> anyhow::Result<Vec<String>> {
    let rows = client.query(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'logs'::regclass ORDER BY c.relname",
        &[],
    )?;
    let mut dropped = Vec::new();
    for row in rows {
        let name: String = row.get(0);
        // logs_YYYYMMDD
        let Some(day) = name.strip_prefix("logs_").filter(|d| d.len() == 8) else { continue };
        let (Ok(y), Ok(m), Ok(d)) = (day[..4].parse(), day[4..6].parse(), day[6..].parse()) else {
            continue;
        };
        let Some(start) = crate::parse::time::civil_to_secs(y, m, d, 0, 0, 0) else { continue };
        if start + 86_400 <= cutoff {
            client.batch_execute(&format!("DROP TABLE {name}"))?;
            dropped.push(name);
        }
    }
    Ok(dropped)
}
