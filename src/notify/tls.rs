//! Connections for notifications: TCP with timeouts, and TLS through
//! rustls that verifies the server (the system's roots, or `ca_file`).

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// A connection, plain or encrypted.
pub enum Conn {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

/// Shuts a connection down at a deadline, whatever it is waiting for: a
/// send's `timeout` bounds the whole send (a receiver that answers a byte
/// a second cannot hold it), not each read. Dropped, it stands down.
pub struct Watchdog {
    stop: Option<std::sync::mpsc::Sender<()>>,
    fired: Arc<std::sync::atomic::AtomicBool>,
}

impl Watchdog {
    pub fn start(sock: &TcpStream, until: std::time::Instant) -> Watchdog {
        use std::sync::atomic::{AtomicBool, Ordering};
        let (stop, wait) = std::sync::mpsc::channel::<()>();
        let fired = Arc::new(AtomicBool::new(false));
        if let Ok(sock) = sock.try_clone() {
            let flag = fired.clone();
            std::thread::spawn(move || {
                let left = until.saturating_duration_since(std::time::Instant::now());
                if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(left) {
                    flag.store(true, Ordering::SeqCst);
                    let _ = sock.shutdown(std::net::Shutdown::Both);
                }
            });
        }
        Watchdog { stop: Some(stop), fired }
    }

    /// Whether the deadline passed and the connection was shut.
    pub fn fired(&self) -> bool {
        self.fired.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.stop.take();
    }
}

/// Connects to `host:port`, trying each address, with `timeout` for the
/// connection and for every read and write after it.
pub fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, String> {
    let addrs = (host, port).to_socket_addrs().map_err(|e| format!("{host}: {e}"))?;
    let mut last = format!("{host}: no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                s.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
                s.set_write_timeout(Some(timeout)).map_err(|e| e.to_string())?;
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                last = format!("connecting to {host}:{port}: timed out")
            }
            Err(e) => last = format!("connecting to {host}:{port}: {e}"),
        }
    }
    Err(last)
}

/// The client configuration: the system's trusted roots, or only the
/// certificates of `ca_file` (PEM) when given. A certificate of `ca_file`
/// may be a CA that signed the server's, or the server's own (a
/// self-signed one, as `openssl req -x509` makes, is trusted as it is,
/// whether or not it says it is a CA).
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let Some(path) = ca_file else {
        let mut roots = RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        return Ok(Arc::new(builder.with_root_certificates(roots).with_no_client_auth()));
    };
    let at = |e: &dyn std::fmt::Display| format!("ca_file {}: {e}", path.display());
    let mut roots = RootCertStore::empty();
    let mut pinned = Vec::new();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| at(&e))? {
        let cert = cert.map_err(|e| at(&e))?;
        // One that is no trust anchor may still be the server's own.
        let _ = roots.add(cert.clone());
        pinned.push(cert);
    }
    if pinned.is_empty() {
        return Err(at(&"no certificate in it"));
    }
    let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .map_err(|e| at(&e))?;
    let verifier = Pinned { webpki, pinned, provider };
    Ok(Arc::new(
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth(),
    ))
}

/// Verifies as usual against `ca_file`'s certificates, and also takes a
/// server whose certificate is one of them byte for byte (its handshake
/// signature still checked).
#[derive(Debug)]
struct Pinned {
    webpki: Arc<rustls::client::WebPkiServerVerifier>,
    pinned: Vec<CertificateDer<'static>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        match self.webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(_) if self.pinned.iter().any(|c| c.as_ref() == end_entity.as_ref()) => {
                Ok(rustls::client::danger::ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// Encrypts `tcp` for `host`, finishing the handshake here so that a
/// certificate that does not verify is this call's error.
pub fn wrap(tcp: TcpStream, host: &str, config: Arc<ClientConfig>) -> Result<Conn, String> {
    let name = ServerName::try_from(host.to_string())
        .map_err(|_| format!("{host:?} is not a valid server name"))?;
    let mut conn = ClientConnection::new(config, name).map_err(|e| e.to_string())?;
    let mut tcp = tcp;
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).map_err(|e| format!("TLS handshake with {host}: {e}"))?;
    }
    Ok(Conn::Tls(Box::new(StreamOwned::new(conn, tcp))))
}
