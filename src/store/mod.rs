//! The PostgreSQL store: connecting (the password never printed),
//! migrations, and loading files with binary `COPY` and checkpoints.

/// SQL: the `timestamptz` expression `$col` as RFC 3339 text in UTC, to
/// the second (`2026-03-14T10:40:00Z`), as every listing prints times.
macro_rules! utc_text {
    ($col:literal) => {
        concat!("to_char(", $col, " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
    };
}

pub mod alerts;
pub mod browse;
mod copy;
pub mod incidents;
pub mod load;
pub mod migrate;
mod minutes;
pub mod outbox;
pub mod overview;
pub mod runs;
pub mod scan;
pub mod sessions;
pub mod silences;
pub mod templates;
pub mod users;

use crate::error::{redact_text, redact_url};
use anyhow::Context;
use postgres::Client;

/// A test hook for the crash tests: with `LOGTRACK_TEST_KILL_AT` set to
/// `point`, the process kills itself (SIGKILL, as `kill -9` would) there,
/// between two steps of a write (a run's commit, a notification's send).
pub fn test_kill_point(point: &str) {
    if std::env::var("LOGTRACK_TEST_KILL_AT").is_ok_and(|p| p == point) {
        let pid = std::process::id().to_string();
        let _ = std::process::Command::new("kill").args(["-KILL", &pid]).status();
        std::process::abort();
    }
}

/// Connects, naming the (redacted) URL in the error.
///
/// TLS (rustls, so the binary links no OpenSSL) follows the URL's
/// `sslmode`, as libpq does: `disable` never, `prefer` (the default) when
/// the server offers it, `require` always (encrypted, certificate not
/// checked), `verify-ca`/`verify-full` always, with the certificate checked
/// against the system's roots (and, for `verify-full`, the host name).
pub fn connect(url: &str) -> anyhow::Result<Client> {
    let fail = |e: &dyn std::fmt::Display| {
        // The driver's message can quote the connection string: redact it too.
        anyhow::anyhow!("cannot connect to {}: {}", redact_url(url), redact_text(&e.to_string()))
    };
    let (url_for_driver, tls) = tls_for(url).map_err(|e| fail(&e))?;
    Client::connect(&url_for_driver, tls).map_err(|e| {
        // With its causes: "error performing TLS handshake: invalid peer
        // certificate: UnknownIssuer".
        let mut text = e.to_string();
        let mut cause = std::error::Error::source(&e);
        while let Some(c) = cause {
            text.push_str(&format!(": {c}"));
            cause = c.source();
        }
        fail(&text)
    })
}

/// The URL the driver is given and the TLS connector for `url`'s `sslmode`.
fn tls_for(url: &str) -> Result<(String, tokio_postgres_rustls::MakeRustlsConnect), String> {
    let (url_for_driver, verify_ca, verify_host) = match sslmode(url).as_deref() {
        Some("verify-full") => (with_sslmode(url, "require"), true, true),
        Some("verify-ca") => (with_sslmode(url, "require"), true, false),
        _ => (url.to_string(), false, false),
    };
    let config = tls::client_config(verify_ca, verify_host)?;
    Ok((url_for_driver, tokio_postgres_rustls::MakeRustlsConnect::new(config)))
}

/// Asks the server to cancel what the connection of `token` is running
/// (a blocking call: run it off the async threads). Failures are
/// returned, not retried: the statement timeout still ends the query.
pub fn cancel(url: &str, token: &postgres::CancelToken) -> anyhow::Result<()> {
    let (_, tls) = tls_for(url).map_err(anyhow::Error::msg)?;
    token.cancel_query(tls).map_err(|e| anyhow::anyhow!("cancelling a query: {e}"))
}

mod tls {
    //! rustls for the driver: a verifier that checks the certificate chain
    //! and the host name, only the chain (`verify-ca`), or nothing
    //! (`prefer`/`require`: encrypted, not authenticated, as libpq does) —
    //! always checking the handshake's signatures.

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::client::WebPkiServerVerifier;
    use rustls::crypto::CryptoProvider;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, Error, SignatureScheme};
    use std::sync::Arc;

    #[derive(Debug)]
    struct Verifier {
        /// The chain check; `None`: no check.
        chain: Option<Arc<WebPkiServerVerifier>>,
        check_name: bool,
        provider: Arc<CryptoProvider>,
    }

    impl Verifier {
        /// Without a chain check (`prefer`/`require`), a certificate that
        /// webpki cannot read (X.509 version 1, as the self-signed one
        /// Citus makes on each node) is accepted as libpq accepts it: the
        /// server is not authenticated in these modes, so the signature
        /// made with an unchecked certificate's key proves nothing more.
        /// A signature that does not verify is refused all the same.
        fn unauthenticated(
            &self,
            checked: Result<HandshakeSignatureValid, Error>,
        ) -> Result<HandshakeSignatureValid, Error> {
            match checked {
                Err(Error::InvalidCertificate(e))
                    if self.chain.is_none() && e != CertificateError::BadSignature =>
                {
                    Ok(HandshakeSignatureValid::assertion())
                }
                other => other,
            }
        }
    }

    impl ServerCertVerifier for Verifier {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            intermediates: &[CertificateDer<'_>],
            server_name: &ServerName<'_>,
            ocsp: &[u8],
            now: UnixTime,
        ) -> Result<ServerCertVerified, Error> {
            let Some(chain) = &self.chain else { return Ok(ServerCertVerified::assertion()) };
            match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
                Err(Error::InvalidCertificate(
                    CertificateError::NotValidForName
                    | CertificateError::NotValidForNameContext { .. },
                )) if !self.check_name => Ok(ServerCertVerified::assertion()),
                other => other,
            }
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            self.unauthenticated(rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            ))
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            self.unauthenticated(rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            ))
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.provider.signature_verification_algorithms.supported_schemes()
        }
    }

    /// The client configuration for a `verify_ca`/`verify_host` choice.
    pub fn client_config(verify_ca: bool, verify_host: bool) -> Result<ClientConfig, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let chain = if verify_ca {
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            let v = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| {
                    format!("no trusted root certificates to verify the server with: {e}")
                })?;
            Some(v)
        } else {
            None
        };
        let verifier = Verifier { chain, check_name: verify_host, provider: provider.clone() };
        Ok(ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth())
    }
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

/// The instant `secs` seconds from the Unix epoch, bound as a
/// `timestamptz` parameter (whole seconds: exact, no float on the way).
pub fn at(secs: i64) -> std::time::SystemTime {
    let d = std::time::Duration::from_secs(secs.unsigned_abs());
    if secs >= 0 {
        std::time::UNIX_EPOCH + d
    } else {
        std::time::UNIX_EPOCH - d
    }
}

/// SQL for the instant `secs` seconds from the Unix epoch, exact (integer
/// arithmetic, no float), for statements that take no parameters (COPY).
pub fn at_literal(secs: i64) -> String {
    format!("('epoch'::timestamptz + {secs}::bigint * interval '1 second')")
}

/// A parsed time stamp as a `timestamptz` parameter (PostgreSQL keeps
/// microseconds: finer digits are cut).
/// The database's clock (`now()`: the transaction's start), bound as a
/// parameter where a statement would otherwise call `now()` beside column
/// references, which Citus refuses in an UPDATE of a distributed table.
pub fn db_now(
    client: &mut impl postgres::GenericClient,
) -> crate::error::Result<std::time::SystemTime> {
    client
        .query_one("SELECT now()", &[])
        .map(|r| r.get(0))
        .map_err(crate::error::Error::db("reading the database's clock"))
}

pub fn at_timestamp(t: crate::parse::Timestamp) -> std::time::SystemTime {
    at(t.secs) + std::time::Duration::from_nanos(u64::from(t.nanos))
}

/// Whole seconds since the Unix epoch of a `timestamptz` read back
/// (rounded down, as `floor(extract(epoch ...))` is).
pub fn secs(t: std::time::SystemTime) -> i64 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => {
            let d = e.duration();
            -(d.as_secs() as i64) - i64::from(d.subsec_nanos() > 0)
        }
    }
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

/// The trigram index of `logs.message`, which the dashboard's text filter
/// (`message ILIKE '%word%'`) reads instead of scanning records.
const TEXT_INDEX: &str = "logs_message_trgm";

/// Makes (`on`) or drops the text index. Making it needs the `pg_trgm`
/// extension, which ships with PostgreSQL (contrib) and is trusted, so the
/// database's owner may create it. Not made by a migration: every load
/// maintains it, and that made loading 3.5 to 4 times slower (README).
pub fn text_index(client: &mut Client, on: bool) -> anyhow::Result<()> {
    if !on {
        client.batch_execute(&format!("DROP INDEX IF EXISTS {TEXT_INDEX}"))?;
        return Ok(());
    }
    client.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_trgm").map_err(|e| {
        anyhow::anyhow!(
            "cannot create the pg_trgm extension ({}): install PostgreSQL's contrib modules, or have the database's owner run this",
            redact_text(&e.to_string())
        )
    })?;
    client.batch_execute(&format!(
        "CREATE INDEX IF NOT EXISTS {TEXT_INDEX} ON logs USING gin (message gin_trgm_ops)"
    ))?;
    Ok(())
}

/// Whether the text index exists.
pub fn has_text_index(client: &mut Client) -> anyhow::Result<bool> {
    Ok(client.query_one("SELECT to_regclass($1) IS NOT NULL", &[&TEXT_INDEX])?.get(0))
}

/// What `db prune` removed.
#[derive(Debug, Default)]
pub struct Pruned {
    /// The daily partitions dropped, by name.
    pub partitions: Vec<String>,
    /// Rows of `log_minutes` deleted (the minutes of the dropped days; their
    /// hours go from `log_hours` too).
    pub minutes: u64,
    /// This host's checkpoints of files that are gone and were last
    /// loaded before the cutoff.
    pub checkpoints: u64,
    /// Combinations `new_value` rules forgot: not seen for their
    /// `remember` before the newest stored record.
    pub forgotten: u64,
}

/// Drops the daily partitions of `logs` whose day ends at or before
/// `cutoff` (seconds since the epoch) with their per-minute counts, and
/// this host's checkpoints of files that no longer exist and were last
/// loaded before `cutoff` (a file still there keeps its checkpoint
/// however old: loading it again would double it).
pub fn prune(client: &mut Client, cutoff: i64) -> anyhow::Result<Pruned> {
    let rows = client.query(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'logs'::regclass ORDER BY c.relname",
        &[],
    )?;
    let mut out = Pruned::default();
    for row in rows {
        let name: String = row.get(0);
        // logs_YYYYMMDD
        let Some(day) = name.strip_prefix("logs_").filter(|d| d.len() == 8) else { continue };
        let (Ok(y), Ok(m), Ok(d)) = (day[..4].parse(), day[4..6].parse(), day[6..].parse()) else {
            continue;
        };
        let Some(start) = crate::parse::time::civil_to_secs(y, m, d, 0, 0, 0) else { continue };
        if start + 86_400 <= cutoff {
            let mut tx = client.transaction()?;
            tx.batch_execute(&format!("DROP TABLE {name}"))?;
            let day = (at(start), at(start + 86_400));
            out.minutes += tx.execute(
                "DELETE FROM log_minutes WHERE minute >= $1 AND minute < $2",
                &[&day.0, &day.1],
            )?;
            tx.execute("DELETE FROM log_hours WHERE hour >= $1 AND hour < $2", &[&day.0, &day.1])?;
            tx.commit()?;
            out.partitions.push(name);
        }
    }
    let host = ingest_host();
    let cutoff_at = at(cutoff);
    let old = client.query(
        "SELECT id, path FROM checkpoints WHERE ingest_host = $1 AND updated_at < $2",
        &[&host, &cutoff_at],
    )?;
    let gone: Vec<i64> = old
        .iter()
        .filter(|r| !std::path::Path::new(&r.get::<_, String>(1)).exists())
        .map(|r| r.get(0))
        .collect();
    if !gone.is_empty() {
        out.checkpoints = client.execute(
            "DELETE FROM checkpoints WHERE ingest_host = $1 AND id = ANY($2) AND updated_at < $3",
            &[&host, &gone, &cutoff_at],
        )?;
    }
    out.forgotten = client
        .execute("DELETE FROM known_values WHERE forget_after < (SELECT max(ts) FROM logs)", &[])?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_round_trip_whole_seconds() {
        for s in
            [0, 1, 59, 1_700_000_000, -1, -86_400, crate::config::MIN_SECS, crate::config::MAX_SECS]
        {
            assert_eq!(secs(at(s)), s, "{s}");
        }
        // Read back with a fraction: rounded down, as floor() is.
        assert_eq!(secs(at(10) + std::time::Duration::from_millis(900)), 10);
        assert_eq!(secs(at(-10) + std::time::Duration::from_millis(100)), -10);
        assert_eq!(at_literal(-5), "('epoch'::timestamptz + -5::bigint * interval '1 second')");
    }
}
