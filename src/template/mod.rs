//! Message templates: which kinds of message a log holds.
//!
//! Two steps, as in the log-parsing literature (Drain, He et al., ICWS
//! 2017):
//!
//! 1. [`mask`] writes the parts any pattern recognizes as values (numbers,
//!    addresses, ids, paths, hex, quoted text) as `<*>`. It sees one
//!    message at a time, so the parsing threads do it.
//! 2. [`Drain`] groups the masked messages of each service with a
//!    fixed-depth prefix tree: messages of the same length and the same
//!    first words land in one leaf, and join the leaf's most similar
//!    template when at least [`SIMILARITY`] of its constant words agree;
//!    the positions that differ become `<*>` (a user name, a host name).
//!    Otherwise they start a template of their own. Only this step keeps
//!    state, and it runs once per distinct masked message, not per record.
//!
//! A template only ever grows more general, so a message once assigned to
//! a template keeps matching it. Each service holds at most
//! [`Drain::cap`] templates: past the cap, a message that fits none of them
//! gets the template `<*>` and is counted as capped.
//!
//! A template's id is a hash of its text (64 bits, as 16 hex digits; the
//! service is not part of it): the same text has the same id in every run
//! and on every host.

pub mod catalog;
pub mod mask;

use mask::WILD;
use rustc_hash::FxHashMap;

/// The share of a template's constant words a message must share to join it.
pub const SIMILARITY: f64 = 0.6;
/// Word layers of the prefix tree below the length layer.
const TREE_WORDS: usize = 2;
/// Children per tree node; more distinct words share the `<*>` child.
const MAX_CHILDREN: usize = 100;
/// As [`MAX_WORD_VALUES`], for words in capitals (`RUNNING`, `SCREEN_ON`):
/// the names a program gives its states, of which there are more.
pub const MAX_STATE_VALUES: usize = 16;

/// Whether a word is written as a program names a state or a constant:
/// capitals, digits and `_`, two letters or more (`RUNNING`, `SOCKS5`).
fn enum_like(w: &str) -> bool {
    w.bytes().filter(u8::is_ascii_uppercase).count() >= 2
        && w.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// The version of the miner (masks and tree): templates stored by an
/// earlier one are mined again (see [`catalog::Seed::remine`]).
pub const MINER: i16 = 2;
/// Words that take at most this many values at one place of otherwise
/// equal messages are the messages' own words (`GET`, `POST`, `DELETE`; a
/// state, a protocol), each its own template; one more makes the place a
/// variable (a user name, a host name) and the templates one.
pub const MAX_WORD_VALUES: usize = 4;
/// Default templates per service.
pub const DEFAULT_CAP: usize = 1000;
/// Services templated separately; later ones share one tree.
const MAX_SERVICES: usize = 4096;
const OTHER_SERVICES: &str = "(other services)";

/// A template's stable id: the FNV-1a hash of its text, mixed by
/// MurmurHash3's finalizer (FNV alone gives texts that differ in their
/// last word ids that differ in a few digits only).
pub fn template_id(text: &str) -> String {
    let mut h = crate::source::identity::hash(text.as_bytes()) as u64;
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    format!("{h:016x}")
}

/// One template and what it groups.
#[derive(Clone, Debug)]
pub struct Cluster {
    pub service: Box<str>,
    tokens: Vec<Box<str>>,
    text: String,
    id: String,
    /// The template this one became part of (see [`Drain::resolve`]).
    merged: Option<u32>,
}

impl Cluster {
    fn new(service: &str, tokens: Vec<Box<str>>) -> Cluster {
        let text = tokens.join(" ");
        Cluster { service: service.into(), id: template_id(&text), tokens, text, merged: None }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The share of the template's constant words that the message has at
    /// the same place (positions that are `<*>`, or hold a masked value,
    /// in the template are not compared: a message of `<*>` only fits any
    /// template of its length), and the number of `<*>` positions (which
    /// breaks ties toward the more general template).
    ///
    /// Drain divides by the message's length; dividing by the constant
    /// words only keeps two messages that share their masked values but
    /// differ in most of their words apart (`Received disconnect from <*>:
    /// <*>: Bye Bye [preauth]` and `... disconnected by user`).
    fn similarity(&self, words: &[&str]) -> (f64, usize) {
        let mut same = 0;
        let mut constant = 0;
        let mut wild = 0;
        for (t, w) in self.tokens.iter().zip(words) {
            if t.contains(WILD) {
                wild += 1;
                if &**t != WILD && &**t != *w {
                    constant += 1;
                }
                continue;
            }
            constant += 1;
            if &**t == *w {
                same += 1;
            }
        }
        if constant == 0 {
            // A template of values only takes only messages of values: a
            // message with a word of its own is another kind.
            let words_only = words.iter().all(|w| w.contains(WILD));
            return (if words_only { 1.0 } else { 0.0 }, wild);
        }
        (same as f64 / constant as f64, wild)
    }

    /// The positions where the template has a word and `words` another
    /// word (neither a value), if the two differ only there; `None` when
    /// they differ anywhere else too.
    fn word_differences(&self, words: &[&str]) -> Option<Vec<usize>> {
        let mut at = Vec::new();
        for (i, (t, w)) in self.tokens.iter().zip(words).enumerate() {
            if &**t == *w || &**t == WILD {
                continue;
            }
            // A word after one that introduces a name (`user bob`, `for
            // root`, `by alice`) is the name, a variable however few there
            // are; a word with two digits or more (`U11`, `J16`, not
            // `SOCKS5`) is likely a value.
            let digit = |s: &str| s.bytes().filter(u8::is_ascii_digit).count() >= 2;
            if t.contains(WILD)
                || w.contains(WILD)
                || digit(t)
                || digit(w)
                || i > 0 && names_next(words[i - 1])
            {
                return None;
            }
            at.push(i);
        }
        Some(at)
    }

    /// Whether this template is `shape` but for words at `at` (where the
    /// shape has `<*>`).
    fn is_sibling(&self, shape: &[Box<str>], at: &[usize]) -> bool {
        self.tokens.len() == shape.len()
            && self.tokens.iter().zip(shape).enumerate().all(|(i, (t, s))| {
                if at.contains(&i) {
                    !t.contains(WILD)
                } else {
                    t == s
                }
            })
    }

    /// Makes the positions where `words` differs `<*>`; whether it changed.
    fn generalize(&mut self, words: &[&str]) -> bool {
        let mut changed = false;
        for (t, w) in self.tokens.iter_mut().zip(words) {
            if &**t != *w && &**t != WILD {
                // `user=root` and `user=admin` make `user=<*>`.
                *t = match (t.split_once('='), w.split_once('=')) {
                    (Some((a, _)), Some((b, _))) if a == b && !a.is_empty() => {
                        format!("{a}={WILD}").into()
                    }
                    _ => WILD.into(),
                };
                changed = true;
            }
        }
        if changed {
            self.text = self.tokens.join(" ");
            self.id = template_id(&self.text);
        }
        changed
    }
}

#[derive(Default)]
struct Node {
    children: FxHashMap<Box<str>, Node>,
    leaf: Vec<u32>,
}

#[derive(Default)]
struct Service {
    by_len: FxHashMap<usize, Node>,
    templates: usize,
    overflow: Option<u32>,
    capped: u64,
}

/// The template of every service's messages, built online.
pub struct Drain {
    services: FxHashMap<Box<str>, Service>,
    clusters: Vec<Cluster>,
    cap: usize,
    /// Templates that became part of another, so far.
    merges: usize,
}

impl Default for Drain {
    fn default() -> Self {
        Drain::new(DEFAULT_CAP)
    }
}

/// Whether the word after `w` names someone or something (a user, a
/// host) rather than saying what happened.
fn names_next(w: &str) -> bool {
    matches!(w, "user" | "User" | "for" | "by" | "host" | "account")
}

/// The tree key of a word: words with digits or wildcards share `<*>`
/// (Drain's rule: they are likely values, and would grow the tree).
fn key(word: &str) -> &str {
    if word.contains(WILD) || word.bytes().any(|b| b.is_ascii_digit()) {
        WILD
    } else {
        word
    }
}

impl Drain {
    pub fn new(cap: usize) -> Drain {
        Drain { services: FxHashMap::default(), clusters: Vec::new(), cap: cap.max(1), merges: 0 }
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    /// The template `id` is now: itself, or the one it became part of.
    pub fn resolve(&self, mut id: u32) -> u32 {
        while let Some(m) = self.clusters[id as usize].merged {
            id = m;
        }
        id
    }

    /// How many templates became part of another so far.
    pub fn merges(&self) -> usize {
        self.merges
    }

    pub fn cluster(&self, id: u32) -> &Cluster {
        &self.clusters[id as usize]
    }

    pub fn clusters(&self) -> &[Cluster] {
        &self.clusters
    }

    /// Services that reached the cap, with the messages that got `<*>`.
    pub fn capped(&self) -> Vec<(&str, u64)> {
        let mut v: Vec<(&str, u64)> = self
            .services
            .iter()
            .filter(|(_, s)| s.capped > 0)
            .map(|(k, s)| (&**k, s.capped))
            .collect();
        v.sort();
        v
    }

    /// The template of a masked message (see [`mask::mask_into`]) of
    /// `service`: an existing one, made more general if need be, or a new
    /// one.
    pub fn add(&mut self, service: &str, masked: &str) -> u32 {
        let words = words(masked);
        let service = self.service_key(service);
        let svc = self.services.entry(service.into()).or_default();
        let node = route(svc.by_len.entry(words.len()).or_default(), &words);
        if let Some((c, sim)) = best(&self.clusters, &node.leaf, &words) {
            if sim >= SIMILARITY {
                let cl = &self.clusters[c as usize];
                match cl.word_differences(&words) {
                    // Words of their own at a few places: a sibling, until
                    // there are too many.
                    Some(at) if !at.is_empty() && svc.templates < self.cap => {
                        let mut shape = cl.tokens.clone();
                        for &i in &at {
                            shape[i] = WILD.into();
                        }
                        let siblings: Vec<u32> = node
                            .leaf
                            .iter()
                            .copied()
                            .filter(|&s| self.clusters[s as usize].is_sibling(&shape, &at))
                            .collect();
                        // Capitals (`RUNNING`, `FAIL_TASK_CLEANUP`) are a
                        // program's own names for states: more of them.
                        let caps =
                            at.iter().all(|&i| enum_like(&cl.tokens[i]) && enum_like(words[i]));
                        let limit = if caps { MAX_STATE_VALUES } else { MAX_WORD_VALUES };
                        if siblings.len() < limit {
                            let id = self.clusters.len() as u32;
                            let tokens = words.iter().map(|w| (*w).into()).collect();
                            self.clusters.push(Cluster::new(service, tokens));
                            svc.templates += 1;
                            node.leaf.push(id);
                            return id;
                        }
                        // One value too many: the siblings become one.
                        let root = siblings[0];
                        for &s in &siblings[1..] {
                            self.clusters[s as usize].merged = Some(root);
                        }
                        node.leaf.retain(|l| !siblings[1..].contains(l));
                        svc.templates -= siblings.len() - 1;
                        self.merges += siblings.len() - 1;
                        self.clusters[root as usize].generalize(&words);
                        return root;
                    }
                    _ => {
                        self.clusters[c as usize].generalize(&words);
                        return c;
                    }
                }
            }
        }
        if svc.templates >= self.cap {
            svc.capped += 1;
            if let Some(o) = svc.overflow {
                return o;
            }
            let id = self.clusters.len() as u32;
            self.clusters.push(Cluster::new(service, vec![WILD.into()]));
            svc.overflow = Some(id);
            return id;
        }
        let id = self.clusters.len() as u32;
        self.clusters.push(Cluster::new(service, words.iter().map(|w| (*w).into()).collect()));
        svc.templates += 1;
        node.leaf.push(id);
        id
    }

    /// Adds a known template as it is (its `<*>` stay, nothing is merged
    /// into it but the same text). Known templates count toward the cap,
    /// but are never turned away by it.
    pub fn seed(&mut self, service: &str, text: &str) -> u32 {
        let words = words(text);
        let service = self.service_key(service);
        let svc = self.services.entry(service.into()).or_default();
        let node = route(svc.by_len.entry(words.len()).or_default(), &words);
        if let Some(&c) = node.leaf.iter().find(|&&c| self.clusters[c as usize].text == text) {
            return c;
        }
        let id = self.clusters.len() as u32;
        self.clusters.push(Cluster::new(service, words.iter().map(|w| (*w).into()).collect()));
        svc.templates += 1;
        node.leaf.push(id);
        id
    }

    /// The template a masked message fits, changing nothing.
    pub fn find(&self, service: &str, masked: &str) -> Option<u32> {
        let words = words(masked);
        let svc = self.services.get(self.service_key(service))?;
        let mut node = svc.by_len.get(&words.len())?;
        for w in words.iter().take(TREE_WORDS) {
            node = node.children.get(key(w)).or_else(|| node.children.get(WILD))?;
        }
        best(&self.clusters, &node.leaf, &words).filter(|b| b.1 >= SIMILARITY).map(|b| b.0)
    }

    /// Past [`MAX_SERVICES`], services share one tree.
    fn service_key<'s>(&self, service: &'s str) -> &'s str {
        if self.services.len() >= MAX_SERVICES && !self.services.contains_key(service) {
            OTHER_SERVICES
        } else {
            service
        }
    }
}

fn words(masked: &str) -> Vec<&str> {
    if masked.is_empty() {
        Vec::new()
    } else {
        masked.split(' ').collect()
    }
}

/// The most similar template of a leaf, and its similarity.
fn best(clusters: &[Cluster], leaf: &[u32], words: &[&str]) -> Option<(u32, f64)> {
    let mut best: Option<(u32, (f64, usize))> = None;
    for &c in leaf {
        let s = clusters[c as usize].similarity(words);
        if best.is_none_or(|(_, b)| s.0 > b.0 || (s.0 == b.0 && s.1 > b.1)) {
            best = Some((c, s));
        }
    }
    best.map(|(c, (sim, _))| (c, sim))
}

/// The leaf for `words` below a length node, made on the way if missing.
fn route<'n>(mut node: &'n mut Node, words: &[&str]) -> &'n mut Node {
    for w in words.iter().take(TREE_WORDS) {
        let mut k = key(w);
        if !node.children.contains_key(k) && node.children.len() + 1 >= MAX_CHILDREN {
            k = WILD;
        }
        node = node.children.entry(k.into()).or_default();
    }
    node
}

/// The text [`Templater::assign`] reads: the record's service, a unit
/// separator, and its masked message (of a multi-line record, its first
/// line and the exception's class: see [`template_text`]). Appended to `out`.
pub fn key_into(service: &str, message: &str, out: &mut String) {
    if service.contains(KEY_SEP) {
        out.push_str(&service.replace(KEY_SEP, "?"));
    } else {
        out.push_str(service);
    }
    out.push(KEY_SEP);
    mask::mask_into(&template_text(message), out);
}

/// What a message's template is made of: the message, or of a stack trace
/// (a multi-line record that names an exception) its first line and the
/// exception's class
/// (`java.lang.IllegalStateException`, Python's `ValueError`, Go's
/// `panic`), so that a trace's frames and line numbers make no template
/// of their own.
pub fn template_text(message: &str) -> std::borrow::Cow<'_, str> {
    let Some(nl) = memchr::memchr(b'\n', message.as_bytes()) else {
        return std::borrow::Cow::Borrowed(message);
    };
    let (first, rest) = (&message[..nl], &message[nl + 1..]);
    let class = |line: &str| -> Option<String> {
        if line.starts_with("panic: ") || line.starts_with("fatal error: ") {
            return Some(line.split(':').next().unwrap_or("panic").to_string());
        }
        let name_len = line
            .bytes()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'$'))
            .count();
        let name = &line[..name_len];
        let after = &line[name_len..];
        let known = ["Exception", "Error", "Throwable", "Exit", "Interrupt", "Warning"];
        (name_len > 0
            && line.as_bytes()[0].is_ascii_alphabetic()
            && known.iter().any(|k| name.ends_with(k))
            && (after.is_empty() || after.starts_with(": ")))
        .then(|| name.to_string())
    };
    // Java names the exception first (then what caused it); Python last.
    let lines: Vec<&str> = rest.lines().filter(|l| !l.starts_with([' ', '\t'])).collect();
    let python = rest.starts_with("Traceback ");
    let found = if python {
        lines.iter().rev().find_map(|l| class(l))
    } else {
        lines.iter().find_map(|l| class(l))
    };
    match found {
        Some(c) => std::borrow::Cow::Owned(format!("{first} {c}")),
        // No trace: the message as it is (a journal entry's lines).
        None => std::borrow::Cow::Borrowed(message),
    }
}

pub(crate) const KEY_SEP: char = '\x1f';

/// Distinct keys remembered; past this the memory is emptied (a forgotten
/// key is found again in the tree, with the same answer).
const CACHE_MAX: usize = 1 << 17;

/// Templates for records in input order: a [`Drain`] behind a cache of the
/// keys (see [`key_into`]) already seen, so that a repeated message costs
/// one hash lookup.
pub struct Templater {
    pub drain: Drain,
    cache: FxHashMap<Box<str>, u32>,
    /// The tree's merges when the cache was last emptied.
    merges: usize,
}

impl Templater {
    pub fn new(cap: usize) -> Templater {
        Templater { drain: Drain::new(cap), cache: FxHashMap::default(), merges: 0 }
    }

    pub fn assign(&mut self, key: &str) -> u32 {
        if let Some(&c) = self.cache.get(key) {
            return c;
        }
        let (service, masked) = key.split_once(KEY_SEP).unwrap_or(("", key));
        let c = self.drain.add(service, masked);
        // A template that became part of another is not remembered (the
        // tree finds the one it became part of).
        if self.cache.len() >= CACHE_MAX || self.drain.merges() != self.merges {
            self.cache.clear();
            self.merges = self.drain.merges();
        }
        self.cache.insert(key.into(), c);
        c
    }
}

#[cfg(test)]
mod tests {

    /// A stack trace's template is its first line and its exception's class:
    /// two traces of one failure at different line numbers are one template.
    #[test]
    fn a_stack_trace_is_its_first_line_and_class() {
        let java = |line: u32| {
            format!("order 42 failed\njava.lang.IllegalStateException: boom\n\tat com.x.Y.z(Y.java:{line})\nCaused by: java.io.IOException: reset")
        };
        assert_eq!(template_text(&java(10)), "order 42 failed java.lang.IllegalStateException");
        let (mut a, mut b) = (String::new(), String::new());
        key_into("app", &java(10), &mut a);
        key_into("app", &java(99), &mut b);
        assert_eq!(a, b);
        let py = "request failed\nTraceback (most recent call last):\n  File \"x.py\", line 1, in f\nKeyError: 'a'\n\nDuring handling of the above exception, another exception occurred:\n\nTraceback (most recent call last):\n  File \"x.py\", line 3\napp.errors.CheckoutError: order 7";
        assert_eq!(template_text(py), "request failed app.errors.CheckoutError");
        let go = "processing batch 9\npanic: runtime error: index out of range [5] with length 3\n\ngoroutine 1 [running]:";
        assert_eq!(template_text(go), "processing batch 9 panic");
        let lines = "crash report:\n\tThread 0 Crashed:";
        assert_eq!(template_text(lines), lines, "no trace: all of it");
        assert_eq!(template_text("one line"), "one line");
    }

    use super::*;

    fn add(d: &mut Drain, svc: &str, msg: &str) -> u32 {
        let mut m = String::new();
        mask::mask_into(msg, &mut m);
        d.add(svc, &m)
    }

    #[test]
    fn variable_words_become_wildcards() {
        let mut d = Drain::default();
        let a = add(&mut d, "sshd", "Invalid user webmaster from 173.234.31.186");
        let b = add(&mut d, "sshd", "Invalid user test from 10.0.0.1");
        assert_eq!(a, b);
        assert_eq!(d.cluster(a).text(), "Invalid user <*> from <*>");
        let c = add(&mut d, "sshd", "Connection closed by 10.0.0.1 [preauth]");
        assert_ne!(a, c);
        // Another service never shares a template.
        let e = add(&mut d, "other", "Invalid user test from 10.0.0.1");
        assert_ne!(a, e);
        assert_eq!(d.cluster(a).id(), template_id("Invalid user <*> from <*>"));
        assert_eq!(d.cluster(a).id().len(), 16);
    }

    /// A word that takes a few values at one place is each its own
    /// template; the fifth value makes the place a variable. A name (after
    /// `user`, `by`) is a variable from the second.
    #[test]
    fn a_few_words_are_kinds_many_are_values() {
        let mut d = Drain::default();
        let states = ["Paused", "Resumed", "Started", "Stopped"];
        let ids: Vec<u32> = states
            .iter()
            .map(|s| add(&mut d, "nova", &format!("instance 42 VM {s} (Lifecycle Event)")))
            .collect();
        let texts: Vec<&str> = ids.iter().map(|&c| d.cluster(d.resolve(c)).text()).collect();
        assert_eq!(texts, states.map(|s| format!("instance <*> VM {s} (Lifecycle Event)")));
        let fifth = add(&mut d, "nova", "instance 42 VM Crashed (Lifecycle Event)");
        for c in ids {
            assert_eq!(d.resolve(c), fifth);
        }
        assert_eq!(d.cluster(fifth).text(), "instance <*> VM <*> (Lifecycle Event)");
        assert_eq!(d.merges(), 3);
        // A code with two digits is a value; a protocol's digit is not.
        let a = add(&mut d, "bgl", "processor card slot J16 failed");
        assert_eq!(add(&mut d, "bgl", "processor card slot J08 failed"), a);
        let socks = add(&mut d, "proxy", "open through proxy <*> SOCKS5");
        assert_ne!(add(&mut d, "proxy", "open through proxy <*> HTTPS"), socks);
        let alice = add(&mut d, "su", "session opened by alice");
        assert_eq!(add(&mut d, "su", "session opened by bob"), alice);
    }

    #[test]
    fn the_cap_holds() {
        let mut d = Drain::new(10);
        for i in 0..100 {
            let w: String =
                (0..5).map(|j| char::from(b'a' + ((i * 7 + j * 3) % 26) as u8)).collect();
            add(&mut d, "app", &format!("{w}{w} {w}x {w}y"));
        }
        assert!(d.clusters().len() <= 11);
        assert_eq!(d.capped().len(), 1);
        assert!(d.capped()[0].1 > 0);
    }
}
