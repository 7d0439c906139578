//! Who a request comes from, when a reverse proxy stands in front.
//!
//! The headers a proxy adds (`Forwarded`, `X-Forwarded-For`,
//! `X-Forwarded-Proto`, `X-Forwarded-Host`) are anyone's to write, so they
//! are read only when the TCP peer is one of the trusted proxies
//! (`--trusted-proxy CIDR...`). Then:
//! - the client is the rightmost forwarded address that is not itself a
//!   trusted proxy (each proxy appends the address it saw, so everything
//!   to the left of an untrusted hop may be forged);
//! - the scheme and host are the values the nearest proxy added
//!   (`Forwarded`'s last element, or the last value of
//!   `X-Forwarded-Proto`/`-Host`).
//!
//! Only the kind of header the proxy is configured to set is read
//! (`--forwarded-header`): a proxy that sets `X-Forwarded-For` passes a
//! client's own `Forwarded` header on untouched, and the other way round,
//! so reading both would let the client choose.

pub use crate::net::ForwardedHeader;
use crate::net::{unmap, Cidr};
use axum::http::HeaderMap;
use std::net::{IpAddr, SocketAddr};

/// Where a request comes from, after the trusted proxies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// The client's address (the TCP peer's without a trusted proxy).
    pub client: IpAddr,
    /// The client asked over HTTPS (as a trusted proxy says).
    pub https: bool,
    /// The host the client asked for, as a trusted proxy says.
    pub forwarded_host: Option<String>,
}

/// The trusted proxies, and which headers of theirs are read.
#[derive(Clone, Debug, Default)]
pub struct Proxies {
    pub cidrs: Vec<Cidr>,
    pub header: ForwardedHeader,
}

impl Proxies {
    pub fn new(cidrs: Vec<Cidr>, header: ForwardedHeader) -> Proxies {
        Proxies { cidrs, header }
    }

    pub fn trusted(&self, ip: IpAddr) -> bool {
        self.cidrs.iter().any(|c| c.contains(ip))
    }

    /// The request's peer, from the TCP peer `tcp` and the headers.
    pub fn peer(&self, tcp: SocketAddr, headers: &HeaderMap) -> Peer {
        let tcp_ip = unmap(tcp.ip());
        let mut peer = Peer { client: tcp_ip, https: false, forwarded_host: None };
        if !self.trusted(tcp_ip) {
            return peer;
        }
        let (chain, proto, host): (Vec<String>, _, _) =
            if self.header == ForwardedHeader::XForwardedFor {
                let values = |name: &str| -> Vec<String> {
                    headers
                        .get_all(name)
                        .iter()
                        .filter_map(|v| v.to_str().ok())
                        .flat_map(|v| v.split(','))
                        .map(|v| v.trim().to_string())
                        .filter(|v| !v.is_empty())
                        .collect()
                };
                (
                    values("x-forwarded-for"),
                    values("x-forwarded-proto").pop(),
                    values("x-forwarded-host").pop(),
                )
            } else {
                let elements = forwarded(headers);
                let last = elements.last();
                (
                    elements.iter().filter_map(|e| e.for_.clone()).collect(),
                    last.and_then(|e| e.proto.clone()),
                    last.and_then(|e| e.host.clone()),
                )
            };
        for hop in chain.iter().rev() {
            match node_ip(hop) {
                Some(ip) => {
                    peer.client = ip;
                    if !self.trusted(ip) {
                        break;
                    }
                }
                // "unknown" or an obfuscated name: the hop to its right,
                // a trusted proxy, is as far as can be told.
                None => break,
            }
        }
        peer.https = proto.is_some_and(|p| p.eq_ignore_ascii_case("https"));
        peer.forwarded_host = host.filter(|h| h.len() <= 255);
        peer
    }
}

/// One element of a `Forwarded` header.
#[derive(Default)]
struct Element {
    for_: Option<String>,
    proto: Option<String>,
    host: Option<String>,
}

/// The elements of every `Forwarded` header, in order.
fn forwarded(headers: &HeaderMap) -> Vec<Element> {
    let mut out = Vec::new();
    for v in headers.get_all("forwarded").iter().filter_map(|v| v.to_str().ok()) {
        for element in v.split(',') {
            let mut e = Element::default();
            for pair in element.split(';') {
                let Some((k, v)) = pair.trim().split_once('=') else { continue };
                let v = v.trim().trim_matches('"').to_string();
                match k.trim().to_ascii_lowercase().as_str() {
                    "for" => e.for_ = Some(v),
                    "proto" => e.proto = Some(v),
                    "host" => e.host = Some(v),
                    _ => {}
                }
            }
            out.push(e);
        }
    }
    out
}

/// The address of a forwarded node: `192.0.2.1`, `192.0.2.1:4711`,
/// `2001:db8::1`, `[2001:db8::1]:4711`.
fn node_ip(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(unmap(ip));
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']').and_then(|(ip, _)| ip.parse().ok()).map(unmap);
    }
    node.rsplit_once(':').and_then(|(ip, _)| ip.parse::<std::net::Ipv4Addr>().ok()).map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    fn tcp(s: &str) -> SocketAddr {
        SocketAddr::new(s.parse().unwrap(), 5000)
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let none = Proxies::default();
        let h = headers(&[
            ("x-forwarded-for", "198.51.100.7"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "logs.example"),
        ]);
        let p = none.peer(tcp("203.0.113.5"), &h);
        assert_eq!(
            p,
            Peer { client: "203.0.113.5".parse().unwrap(), https: false, forwarded_host: None }
        );

        let lb = Proxies::new(vec!["10.0.0.0/8".parse().unwrap()], ForwardedHeader::XForwardedFor);
        let p = lb.peer(tcp("10.1.1.1"), &h);
        assert_eq!(p.client, "198.51.100.7".parse::<IpAddr>().unwrap());
        assert!(p.https);
        assert_eq!(p.forwarded_host.as_deref(), Some("logs.example"));
        // Not from the proxy: the same headers are ignored.
        assert_eq!(
            lb.peer(tcp("203.0.113.5"), &h).client,
            "203.0.113.5".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_hop() {
        let lb = Proxies::new(vec!["10.0.0.0/8".parse().unwrap()], ForwardedHeader::XForwardedFor);
        // A client that forges a first hop is still itself.
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 198.51.100.7, 10.0.0.2")]);
        assert_eq!(lb.peer(tcp("10.0.0.1"), &h).client, "198.51.100.7".parse::<IpAddr>().unwrap());
        // Several header lines are one list.
        let h = headers(&[("x-forwarded-for", "1.2.3.4"), ("x-forwarded-for", "198.51.100.9")]);
        assert_eq!(lb.peer(tcp("10.0.0.1"), &h).client, "198.51.100.9".parse::<IpAddr>().unwrap());
        // Only proxies: the leftmost.
        let h = headers(&[("x-forwarded-for", "10.9.9.9, 10.0.0.2")]);
        assert_eq!(lb.peer(tcp("10.0.0.1"), &h).client, "10.9.9.9".parse::<IpAddr>().unwrap());
        // An unreadable hop: the proxy to its right.
        let h = headers(&[("x-forwarded-for", "198.51.100.7, unknown, 10.0.0.2")]);
        assert_eq!(lb.peer(tcp("10.0.0.1"), &h).client, "10.0.0.2".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn rfc_7239_forwarded() {
        let lb = Proxies::new(
            vec!["10.0.0.0/8".parse().unwrap(), "::1".parse().unwrap()],
            ForwardedHeader::Forwarded,
        );
        let h = headers(&[
            ("forwarded", "for=192.0.2.60;proto=http, for=\"[2001:db8:cafe::17]:4711\";proto=https;host=logs.example"),
            ("x-forwarded-for", "203.0.113.1"),
        ]);
        let p = lb.peer(tcp("10.0.0.1"), &h);
        assert_eq!(p.client, "2001:db8:cafe::17".parse::<IpAddr>().unwrap());
        assert!(p.https);
        assert_eq!(p.forwarded_host.as_deref(), Some("logs.example"));
        let h = headers(&[("forwarded", "For=192.0.2.43:8080")]);
        assert_eq!(lb.peer(tcp("::1"), &h).client, "192.0.2.43".parse::<IpAddr>().unwrap());
        // X-Forwarded-* from a client are passed on by a proxy that sets
        // only Forwarded: never read.
        let h = headers(&[
            ("forwarded", "for=198.51.100.7"),
            ("x-forwarded-for", "203.0.113.1"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "evil.example"),
        ]);
        let p = lb.peer(tcp("10.0.0.1"), &h);
        assert_eq!(
            p,
            Peer { client: "198.51.100.7".parse().unwrap(), https: false, forwarded_host: None }
        );
    }

    /// Behind a proxy that sets X-Forwarded-For (the default), a client's
    /// own `Forwarded` header (which the proxy passes on) is never read: it
    /// neither names the client (someone else's sign-in allowance) nor the
    /// scheme or host.
    #[test]
    fn a_clients_own_forwarded_header_is_ignored() {
        let lb = Proxies::new(vec!["127.0.0.1".parse().unwrap()], ForwardedHeader::default());
        let h = headers(&[
            ("forwarded", "for=192.0.2.99;proto=https;host=evil.example"),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        let p = lb.peer(tcp("127.0.0.1"), &h);
        assert_eq!(
            p,
            Peer { client: "198.51.100.7".parse().unwrap(), https: false, forwarded_host: None }
        );
        // Without X-Forwarded-For the client is the proxy's peer as far as
        // can be told: the proxy itself, never the forged address.
        let h = headers(&[("forwarded", "for=192.0.2.99")]);
        assert_eq!(lb.peer(tcp("127.0.0.1"), &h).client, "127.0.0.1".parse::<IpAddr>().unwrap());
    }
}
