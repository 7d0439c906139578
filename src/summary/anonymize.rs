//! `--anonymize`: reports that can be shared (a CI summary, a mailed page)
//! without the people and machines in the logs. Applied to a finished
//! report (`report::anonymize`) before any of it is written or printed, and
//! to the alerts of notifications:
//!
//! - IP addresses (client IPs, hosts, any group value or top value that
//!   parses as one) are truncated: IPv4 to its /24 (`203.0.113.0`), IPv6 to
//!   its /48 (`2001:db8:1::`);
//! - user names, and any other client value that is not an IP, become a
//!   stable keyed hash (`user-3f9a1c0e2b7d`): the same name gives the same
//!   hash in every run with the same key (`LOGTRACK_ANONYMIZE_KEY`), so
//!   reports can still be compared, and without the key a name cannot be
//!   checked against it;
//! - alert messages have those values replaced where they quote them;
//! - evidence lines lose their text (a raw line holds everything), and
//!   reject reasons lose what they quote of the line.
//!
//! The database keeps the records as they were: it is the operator's.

use blake2::digest::{KeyInit, Mac};
use std::collections::BTreeMap;
use std::net::IpAddr;

pub struct Anonymizer {
    key: Vec<u8>,
}

impl Anonymizer {
    pub fn new(key: &[u8]) -> Anonymizer {
        Anonymizer { key: key.to_vec() }
    }

    /// A name as a keyed hash: `user-` and 12 hex digits of BLAKE2b-MAC.
    pub fn name(&self, v: &str) -> String {
        let mut mac =
            <blake2::Blake2bMac512 as KeyInit>::new_from_slice(&self.key[..self.key.len().min(64)])
                .expect("a key of at most 64 bytes");
        mac.update(v.as_bytes());
        let out = mac.finalize().into_bytes();
        let hex: String = out[..6].iter().map(|b| format!("{b:02x}")).collect();
        format!("user-{hex}")
    }

    /// An address truncated to its network, or `None` when `v` is none.
    pub fn ip(v: &str) -> Option<String> {
        match v.parse::<IpAddr>().ok()? {
            IpAddr::V4(a) => {
                let o = a.octets();
                Some(format!("{}.{}.{}.0", o[0], o[1], o[2]))
            }
            IpAddr::V6(a) => {
                let s = a.segments();
                Some(format!("{:x}:{:x}:{:x}::", s[0], s[1], s[2]))
            }
        }
    }

    /// A group or top value of kind `key`.
    pub fn value(&self, key: &str, v: &str) -> String {
        if let Some(net) = Self::ip(v) {
            return net;
        }
        match key {
            "user" | "client_ip" | "host" => self.name(v),
            _ => v.to_string(),
        }
    }

    /// Anonymizes an alert: its group's values (and them in its message);
    /// its evidence keeps only where the lines are, not their text.
    pub fn alert(&self, a: &mut crate::detect::Alert) {
        let mut replaced: Vec<(String, String)> = Vec::new();
        let group: BTreeMap<String, String> = std::mem::take(&mut a.group)
            .into_iter()
            .map(|(k, v)| {
                let new = self.value(&k, &v);
                if new != v && !v.is_empty() {
                    replaced.push((v, new.clone()));
                }
                (k, new)
            })
            .collect();
        a.group = group;
        // Longest first, so that a value inside another is not cut.
        replaced.sort_by_key(|(v, _)| std::cmp::Reverse(v.len()));
        for (old, new) in replaced {
            a.message = a.message.replace(&old, &new);
        }
        for e in &mut a.evidence {
            e.text = None;
        }
    }
}

/// A reason without what it quotes (`time "x" is bad` → `time "…" is bad`).
pub fn unquote(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len());
    let mut inside = false;
    for c in reason.chars() {
        if c == '"' {
            if !inside {
                out.push_str("\"…");
            } else {
                out.push('"');
            }
            inside = !inside;
        } else if !inside {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_truncated_and_names_hashed_with_the_key() {
        assert_eq!(Anonymizer::ip("203.0.113.66").as_deref(), Some("203.0.113.0"));
        assert_eq!(Anonymizer::ip("2001:db8:1:2::4").as_deref(), Some("2001:db8:1::"));
        assert_eq!(Anonymizer::ip("admin"), None);
        let a = Anonymizer::new(b"k1");
        assert_eq!(a.name("admin"), a.name("admin"));
        assert_ne!(a.name("admin"), a.name("root"));
        assert_ne!(a.name("admin"), Anonymizer::new(b"k2").name("admin"));
        assert!(a.name("admin").starts_with("user-") && a.name("admin").len() == 17);
        assert_eq!(
            unquote(r#"time "14/Mar/2026 x" is not a CLF time"#),
            r#"time "…" is not a CLF time"#
        );
    }
}
