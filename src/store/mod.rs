//! The PostgreSQL store: connecting (the password never printed),
//! migrations, and loading files with binary `COPY` and checkpoints.

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
