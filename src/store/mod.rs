//! The PostgreSQL store: connecting (the password never printed),
//! migrations, and loading files with binary `COPY` and checkpoints.

pub mod alerts;
pub mod load;
pub mod migrate;
pub mod overview;
pub mod runs;
pub mod scan;

use crate::error::{redact_text, redact_url};
use anyhow::Context;
use postgres::Client;

/// Connects, naming the (redacted) URL in the error.
///
/// TLS follows the URL's `sslmode`, as libpq does: `disable` never,
/// `prefer` (the default) when the server offers it, `require` always
/// (encrypted, certificate not checked), `verify-ca`/`verify-full` always,
/// with the certificate checked against the system's roots (and, for
/// `verify-full`, the host name).
pub fn connect(url: &str) -> anyhow::Result<Client> {
    let fail = |e: &dyn std::fmt::Display| {
        // The driver's message can quote the connection string: redact it too.
        anyhow::anyhow!("cannot connect to {}: {}", redact_url(url), redact_text(&e.to_string()))
    };
    let (url_for_driver, verify_ca, verify_host) = match sslmode(url).as_deref() {
        Some("verify-full") => (with_sslmode(url, "require"), true, true),
        Some("verify-ca") => (with_sslmode(url, "require"), true, false),
        _ => (url.to_string(), false, false),
    };
    let tls = native_tls::TlsConnector::builder()
        .danger_accept_invalid_certs(!verify_ca)
        .danger_accept_invalid_hostnames(!verify_host)
        .build()
        .map_err(|e| fail(&e))?;
    Client::connect(&url_for_driver, postgres_native_tls::MakeTlsConnector::new(tls))
        .map_err(|e| fail(&e))
}

fn sslmode(url: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|kv| kv.strip_prefix("sslmode=").map(str::to_string))
}

/// The URL with its `sslmode` replaced (the driver knows only disable, prefer, require).
fn with_sslmode(url: &str, mode: &str) -> String {
    let Some((base, query)) = url.split_once('?') else { return url.to_string() };
    let params: Vec<String> =
        query
            .split('&')
            .map(|kv| {
                if kv.starts_with("sslmode=") {
                    format!("sslmode={mode}")
                } else {
                    kv.to_string()
                }
            })
            .collect();
    format!("{base}?{}", params.join("&"))
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

/// A 64-bit advisory lock key for `kind` and `name` (`files` and a host,
/// `job` and a job name): 64 bits, so that distinct names sharing a lock
/// by accident is far less likely than with PostgreSQL's 32-bit `hashtext`.
pub fn lock_key(kind: &str, name: &str) -> i64 {
    let mut h = crate::source::identity::Fnv::default();
    h.update(b"logtrack-");
    h.update(kind.as_bytes());
    h.update(b":");
    h.update(name.as_bytes());
    h.finish()
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
