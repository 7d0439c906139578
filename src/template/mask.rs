//! The first, stateless step of templating: a message's variable parts
//! (numbers, addresses, ids, paths, hex, quoted values, `key=` values) are
//! written `<*>`, token by token, so that the second step (the tree in
//! [`super::Drain`]) only has to find the variable words no pattern knows,
//! such as user and host names.
//!
//! Tokens are the message's whitespace-separated words. A token keeps its
//! wrapping punctuation (`[<*>]`, `(uid=<*>)`, `<*>:`), runs of `<*>` become
//! one (a list of any length is one part), and the size of what is kept is
//! bounded: at most [`MAX_TOKENS`] tokens, each at most [`MAX_TOKEN`] bytes.

/// Tokens kept per message (after runs of values became one); the rest of
/// the message is one `<*>`.
pub const MAX_TOKENS: usize = 48;
/// A longer token is a value (a hash, a blob, a long URL): `<*>`.
pub const MAX_TOKEN: usize = 64;

pub const WILD: &str = crate::config::TEMPLATE_WILD;

/// Appends the masked tokens of `message` to `out`, separated by single
/// spaces.
pub fn mask_into(message: &str, out: &mut String) {
    let base = out.len();
    let mut tokens = Tokens { s: message, at: 0 };
    let mut kept = 0usize;
    // Where the previous token starts, when it was a masked value.
    let mut last_value: Option<usize> = None;
    let mut units = false;
    while let Some((tok, seen)) = tokens.next_flagged() {
        let before = out.len();
        if out.len() > base {
            out.push(' ');
        }
        let start = out.len();
        let at_cap = kept == MAX_TOKENS;
        if at_cap {
            out.push_str(WILD);
        } else if let quote @ (b'"' | b'\'') = tok.as_bytes()[0] {
            // A quoted value may hold spaces: `"a b c"` is one part.
            let mut tail = closes(&tok[1..], quote).map(|t| &tok[1 + t..]);
            while tail.is_none() {
                let Some((next, _)) = tokens.next_flagged() else { break };
                tail = closes(next, quote).map(|t| &next[t..]);
            }
            match tail {
                Some(tail) => {
                    out.push(char::from(quote));
                    // `"GET /v2/servers HTTP/1.1"`: a request's method is
                    // what kind it is.
                    if let Some(m) = method(&tok[1..]) {
                        out.push_str(m);
                        out.push(' ');
                    }
                    out.push_str(WILD);
                    out.push(char::from(quote));
                    out.push_str(tail);
                }
                None => out.push_str(WILD),
            }
        } else if seen & MAYBE_VALUE == 0 && tok.len() <= MAX_TOKEN && !date_word(tok) {
            out.push_str(tok);
        } else {
            mask_token(tok, seen, out);
        }
        // A list of masked values (`<*>`, `blk_<*>`, `<*>,`) is one part.
        let t = &out[start..];
        // A unit after a value, or a value in parentheses: see drop_units.
        units |= t.len() <= 5 && (t == "(<*>" || last_value.is_some() && is_unit(t));
        let value = t.ends_with(WILD) || t.ends_with("<*>,");
        match last_value {
            Some(prev) if value && out[start..] == out[prev..before] => out.truncate(before),
            _ => {
                last_value = value.then_some(start);
                kept += 1;
            }
        }
        if at_cap {
            break;
        }
    }
    if units {
        drop_units(out, base);
    }
}

/// A unit written after a value (`ms`, `KB`), or one closing a parenthesis.
fn is_unit(t: &str) -> bool {
    UNITS.contains(&t.strip_suffix(')').unwrap_or(t))
}

const UNITS: [&str; 16] = [
    "ns", "us", "ms", "s", "sec", "secs", "min", "mins", "B", "KB", "kB", "MB", "GB", "TB", "KiB",
    "MiB",
];

/// `GET`, `POST`: a word of two to ten capital letters that starts a quoted
/// span and is followed by more of it.
fn method(tok: &str) -> Option<&str> {
    let n = tok.bytes().take_while(u8::is_ascii_uppercase).count();
    ((2..=10).contains(&n) && tok.len() == n).then_some(tok)
}

/// Units written after a value (`12 ms`, `<1 sec`, `(0.5 KB)`) are part of
/// it: a value is one part however it is written. Removes, from the masked
/// tokens from `base` on, a unit after `<*>` and a parenthesized value with
/// its unit (`(<*> KB)`, a size repeated in other units).
fn drop_units(out: &mut String, base: usize) {
    let tokens: Vec<&str> = out[base..].split(' ').collect();
    let mut kept: Vec<&str> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i];
        let next = tokens.get(i + 1).copied();
        // `(<*> KB)`
        if t == "(<*>" && next.is_some_and(|n| n.ends_with(')') && is_unit(n)) {
            i += 2;
            continue;
        }
        if !t.ends_with(')') && is_unit(t) && kept.last().is_some_and(|p| p.ends_with(WILD)) {
            i += 1;
            continue;
        }
        kept.push(t);
        i += 1;
    }
    if kept.len() < tokens.len() {
        let joined = kept.join(" ");
        out.truncate(base);
        out.push_str(&joined);
    }
}

/// The message's words (split at ASCII white space, as
/// `split_ascii_whitespace` does), each with whether it holds a byte of
/// [`MAYBE_VALUE`]: one pass over the bytes for both.
struct Tokens<'a> {
    s: &'a str,
    at: usize,
}

impl<'a> Tokens<'a> {
    #[inline]
    fn next_flagged(&mut self) -> Option<(&'a str, u8)> {
        let b = self.s.as_bytes();
        let mut i = self.at;
        while i < b.len() && CLASS[b[i] as usize] & SPACE != 0 {
            i += 1;
        }
        if i == b.len() {
            self.at = i;
            return None;
        }
        let start = i;
        let mut seen = 0;
        // Four bytes a turn while none of them is white space (most of a
        // word), then byte by byte to its end.
        while let Some(&[a, b1, c, d]) = b.get(i..i + 4) {
            let four =
                CLASS[a as usize] | CLASS[b1 as usize] | CLASS[c as usize] | CLASS[d as usize];
            if four & SPACE != 0 {
                break;
            }
            seen |= four;
            i += 4;
        }
        while i < b.len() {
            let class = CLASS[b[i] as usize];
            if class & SPACE != 0 {
                break;
            }
            seen |= class;
            i += 1;
        }
        self.at = i;
        // ASCII white space never splits a UTF-8 sequence.
        Some((&self.s[start..i], seen))
    }
}

/// Where `tok`'s trailing punctuation starts, when it ends a quoted span
/// (an unescaped `quote` before that punctuation).
fn closes(tok: &str, quote: u8) -> Option<usize> {
    let b = tok.as_bytes();
    let end = b
        .iter()
        .rposition(|c| !matches!(c, b',' | b';' | b':' | b'.' | b')' | b']' | b'}'))
        .map_or(0, |i| i + 1);
    (end > 0 && b[end - 1] == quote && (end < 2 || b[end - 2] != b'\\')).then_some(end)
}

/// Byte classes: opening and closing punctuation a token keeps around
/// its core, and the bytes that can make a token a value (digits, `=`,
/// `@`, `/`, `~`): a token with none of the last (most constant words) is
/// kept as it is without looking further.
const OPEN: u8 = 1;
const CLOSE: u8 = 2;
const DIGIT: u8 = 4;
const EQ: u8 = 16;
/// `/`, `~`, `@`: paths, URLs, e-mail addresses.
const SLASHY: u8 = 32;
const MAYBE_VALUE: u8 = DIGIT | EQ | SLASHY;
/// ASCII white space (as `u8::is_ascii_whitespace`).
const SPACE: u8 = 8;
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let open = b"([{<\"'";
    let mut i = 0;
    while i < open.len() {
        t[open[i] as usize] |= OPEN;
        i += 1;
    }
    let close = b")]}>\"',;:.!?";
    i = 0;
    while i < close.len() {
        t[close[i] as usize] |= CLOSE;
        i += 1;
    }
    let mut c = b'0';
    while c <= b'9' {
        t[c as usize] |= DIGIT;
        c += 1;
    }
    t[b'=' as usize] |= EQ;
    t[b'@' as usize] |= SLASHY;
    t[b'/' as usize] |= SLASHY;
    t[b'~' as usize] |= SLASHY;
    let space = b" \t\n\x0c\r";
    i = 0;
    while i < space.len() {
        t[space[i] as usize] |= SPACE;
        i += 1;
    }
    t
};

/// The lengths of the opening and closing punctuation around `b`.
fn wrapping(b: &[u8]) -> (usize, usize) {
    let lead = b.iter().take_while(|&&c| CLASS[c as usize] & OPEN != 0).count();
    let trail = b[lead..].iter().rev().take_while(|&&c| CLASS[c as usize] & CLOSE != 0).count();
    (lead, trail)
}

/// Appends one token, masked; `seen` has the classes of its bytes.
fn mask_token(tok: &str, seen: u8, out: &mut String) {
    if tok.len() > MAX_TOKEN {
        // A long value keeps the word that names it (`steps=…`, `onExtend:…`).
        match word_prefix(tok) {
            Some(p) if p + WILD.len() <= MAX_TOKEN => out.push_str(&tok[..p]),
            _ => {}
        }
        out.push_str(WILD);
        return;
    }
    // `<1`, `>=5`: a bound is a value (`<1 sec` and `00:01` are one part).
    let bound = tok.trim_start_matches(['<', '>']).trim_start_matches('=');
    if bound.len() < tok.len()
        && bound.starts_with(|c: char| c.is_ascii_digit())
        && !tok.ends_with('>')
    {
        out.push_str(WILD);
        return;
    }
    let (lead, trail) = wrapping(tok.as_bytes());
    let core = &tok[lead..tok.len() - trail];
    if core.is_empty() {
        out.push_str(tok);
        return;
    }
    out.push_str(&tok[..lead]);
    mask_core(core, seen, out);
    out.push_str(&tok[tok.len() - trail..]);
}

fn mask_core(core: &str, seen: u8, out: &mut String) {
    // `uid=0`, `rhost=10.0.0.1`: the key is constant, the value may not be.
    let eq = if seen & EQ != 0 { memchr::memchr(b'=', core.as_bytes()) } else { None };
    let key_len = eq.filter(|&i| {
        i > 0
            && core.as_bytes()[..i].iter().all(|c| c.is_ascii_alphanumeric() || b"_-.".contains(c))
    });
    if let Some(eq) = key_len {
        let value = &core[eq + 1..];
        out.push_str(&core[..=eq]);
        if !value.is_empty() {
            let (lead, trail) = wrapping(value.as_bytes());
            let inner = &value[lead..value.len() - trail];
            if !inner.is_empty() && is_variable(inner) {
                out.push_str(&value[..lead]);
                out.push_str(WILD);
                out.push_str(&value[value.len() - trail..]);
            } else {
                out.push_str(value);
            }
        }
        return;
    }
    // `ScheduledMaps:9`, `vCores:-17`: a counter's name stays.
    if let Some(colon) = counter(core) {
        out.push_str(&core[..=colon]);
        out.push_str(WILD);
        return;
    }
    if is_variable(core) {
        // `blk_-123`, `part-00590`, `onExtend:1514038530000`: a word
        // prefix names what the id is.
        if let Some(p) = id_prefix(core).or_else(|| word_prefix(core)) {
            out.push_str(&core[..p]);
        }
        out.push_str(WILD);
        return;
    }
    out.push_str(core);
}

/// `blk_-1608`, `part-00590`, `task_2008`: letters, then `_` or `-`, then
/// the id (which starts with a digit or a sign). Returns where the id starts.
fn id_prefix(core: &str) -> Option<usize> {
    let b = core.as_bytes();
    let letters = b.iter().take_while(|c| c.is_ascii_alphabetic()).count();
    if letters == 0 || letters + 1 >= b.len() || !matches!(b[letters], b'_' | b'-') {
        return None;
    }
    let rest = &b[letters + 1..];
    let first = if rest[0] == b'-' { rest.get(1) } else { rest.first() };
    first.filter(|c| c.is_ascii_digit()).map(|_| letters + 1)
}

/// `ScheduledMaps:9`, `vCores:-17`, `retries:2.5`: a name of two letters or
/// more, a colon, and a number. Returns where the colon is.
fn counter(core: &str) -> Option<usize> {
    let b = core.as_bytes();
    let colon = b.iter().position(|&c| c == b':')?;
    let name = &b[..colon];
    let value = &b[colon + 1..];
    let value = value.strip_prefix(b"-").unwrap_or(value);
    (name.len() >= 2
        && name.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
        && name[0].is_ascii_alphabetic()
        && value.first().is_some_and(u8::is_ascii_digit)
        && value.iter().all(|c| c.is_ascii_digit() || *c == b'.'))
    .then_some(colon)
}

/// `onExtend:1514038530000`, `steps=12##34`, `tryToReload1514044800223|3`:
/// a word of at least four letters that is not hex (a name, not the start of
/// an id), then a separator or a digit. Returns where the value starts.
fn word_prefix(tok: &str) -> Option<usize> {
    let b = tok.as_bytes();
    let letters = b.iter().take_while(|c| c.is_ascii_alphabetic()).count();
    if letters < 4 || b[..letters].iter().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    match b.get(letters)? {
        b':' | b'=' | b'#' | b'|' | b'@' => Some(letters + 1),
        c if c.is_ascii_digit() => Some(letters),
        _ => None,
    }
}

/// Whether `tok`, without its punctuation, is a day or month name.
fn date_word(tok: &str) -> bool {
    let b = tok.as_bytes();
    // Most words are not: their first three letters say so.
    let at = usize::from(b.first().is_some_and(|c| CLASS[*c as usize] & OPEN != 0));
    if b.len() < at + 3 || b.len() > 12 || !date_head(&b[at..at + 3]) {
        return false;
    }
    let (lead, trail) = wrapping(b);
    lead + trail < b.len() && is_date_word(&b[lead..b.len() - trail])
}

/// Whether three bytes begin a day or month name as dates write it (`Jun`).
fn date_head(h: &[u8]) -> bool {
    matches!(
        h,
        b"Mon"
            | b"Tue"
            | b"Wed"
            | b"Thu"
            | b"Fri"
            | b"Sat"
            | b"Sun"
            | b"Jan"
            | b"Feb"
            | b"Mar"
            | b"Apr"
            | b"May"
            | b"Jun"
            | b"Jul"
            | b"Aug"
            | b"Sep"
            | b"Oct"
            | b"Nov"
            | b"Dec"
    )
}

/// A day or month name as dates write them (`Mon`, `Jun`, `July`): part of
/// a time, so a value.
fn is_date_word(b: &[u8]) -> bool {
    const FULL: [&[u8]; 19] = [
        b"monday",
        b"tuesday",
        b"wednesday",
        b"thursday",
        b"friday",
        b"saturday",
        b"sunday",
        b"january",
        b"february",
        b"march",
        b"april",
        b"may",
        b"june",
        b"july",
        b"august",
        b"september",
        b"october",
        b"november",
        b"december",
    ];
    // Capitalized as dates write them (`Jun`, not `jun` or `MAY`).
    if !(3..=9).contains(&b.len()) || !date_head(&b[..3]) {
        return false;
    }
    b.len() == 3
        || (b[3..].iter().all(u8::is_ascii_lowercase)
            && FULL.iter().any(|n| n.eq_ignore_ascii_case(b)))
}

/// Whether a token (without its wrapping punctuation) is a value rather
/// than a word: it starts with a digit or a sign and a digit (numbers,
/// sizes, durations, addresses, times), holds three digits or more (ids,
/// hex, versions of things), is a path or a URL, or an e-mail address.
/// Words with a digit or two (`ssh2`, `jk2_init()`, `HTTP/1.1`, `x86`) stay.
pub fn is_variable(core: &str) -> bool {
    let b = core.as_bytes();
    let (first, second) = (b[0], b.get(1).copied());
    if first.is_ascii_digit()
        || matches!(first, b'-' | b'+') && second.is_some_and(|c| c.is_ascii_digit())
        || first == b'/' && second.is_some()
        || first == b'~' && second == Some(b'/')
    {
        return true;
    }
    if is_date_word(b) {
        return true;
    }
    // One pass: digits, a URL's `://`, an `@` (not first) before a dot, a
    // host name (two dots or more between labels, and a digit).
    let mut digits = 0;
    let mut dots = 0;
    let mut double_dot = false;
    let mut prev = 0u8;
    let mut at = false;
    for (i, &c) in b.iter().enumerate() {
        if c.is_ascii_digit() {
            digits += 1;
            if digits == 3 {
                return true;
            }
        } else if c == b'.' {
            if at {
                return true;
            }
            dots += 1;
            double_dot |= prev == b'.';
        } else if c == b':' {
            if b.get(i + 1) == Some(&b'/') && b.get(i + 2) == Some(&b'/') {
                return true;
            }
        } else if c == b'@' {
            at |= i > 0;
        }
        prev = c;
    }
    // Long hex without a digit run (`deadbeefcafe`) is rare; long hex
    // with digits has three or more of them.
    dots >= 2 && digits > 0 && !double_dot
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> String {
        let mut out = String::new();
        mask_into(s, &mut out);
        out
    }

    #[test]
    fn values_are_masked_words_are_kept() {
        assert_eq!(
            m("Receiving block blk_-1608999687919862906 src: /10.250.19.102:54106 dest: /10.250.19.102:50010"),
            "Receiving block blk_<*> src: <*> dest: <*>"
        );
        assert_eq!(
            m("reverse mapping checking getaddrinfo for ns.example.com [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!"),
            "reverse mapping checking getaddrinfo for ns.example.com [<*>] failed - POSSIBLE BREAK-IN ATTEMPT!"
        );
        assert_eq!(
            m("pam_unix(sshd:session): session opened for user test9 by (uid=0)"),
            "pam_unix(sshd:session): session opened for user test9 by (uid=<*>)"
        );
        assert_eq!(
            m("jk2_init() Found child 6725 in scoreboard slot 10"),
            "jk2_init() Found child <*> in scoreboard slot <*>"
        );
        assert_eq!(m("GET /index.html?id=7 HTTP/1.1"), "GET <*> HTTP/1.1");
        assert_eq!(
            m("Received disconnect from 1.2.3.4: 11: Bye Bye [preauth]"),
            "Received disconnect from <*>: <*>: Bye Bye [preauth]"
        );
        assert_eq!(m("mod_jk child init 1 -2"), "mod_jk child init <*>");
        assert_eq!(m("user \"bob smith\" not found"), "user \"<*>\" not found");
        assert_eq!(
            m("can't open 'my file.txt', retrying in 5s"),
            "can't open '<*>', retrying in <*>"
        );
        assert_eq!(m("mail to bob@example.com bounced"), "mail to <*> bounced");
        assert_eq!(m("   "), "");
        assert_eq!(m("to delete blk_100 blk_-200 blk_300"), "to delete blk_<*>");
        assert_eq!(m("from 10.0.0.1, 10.0.0.2, 10.0.0.3 x"), "from <*>, <*> x");
    }

    #[test]
    fn what_names_a_value_and_how_it_is_written_stay_out_of_the_way() {
        // The word that names a value stays; a hex id's letters do not.
        assert_eq!(m("onExtend:1514038530000 14 0 4"), "onExtend:<*> <*>");
        assert_eq!(
            m("tryToReloadTodayBasicSteps1514044800223|3786|0|0"),
            "tryToReloadTodayBasicSteps<*>"
        );
        let long = format!("setTodayTotalDetailSteps={}", "1514038440000##7007".repeat(4));
        assert_eq!(m(&long), "setTodayTotalDetailSteps=<*>");
        assert_eq!(m("id deadbeef1234 done"), "id <*> done");
        // Day and month names are part of a time.
        assert_eq!(
            m("connection from 1.2.3.4 at Sat Jun 18 02:08:10 2005"),
            "connection from <*> at <*>"
        );
        assert_eq!(m("May I help"), "<*> I help");
        assert_eq!(m("mayday sunny"), "mayday sunny");
        // A request's method is what kind it is.
        assert_eq!(
            m("10.11.10.1 \"GET /v2/servers/detail HTTP/1.1\" status: 200"),
            "<*> \"GET <*>\" status: <*>"
        );
        // A unit is part of its value, however the value is written.
        assert_eq!(
            m("close, 0 bytes (0.0 KB) sent, lifetime <1 sec"),
            m("close, 0 bytes sent, lifetime 00:01")
        );
        assert_eq!(m("took 12 ms to answer"), "took <*> to answer");
        assert_eq!(m("the s in KB"), "the s in KB");
    }

    #[test]
    fn sizes_are_bounded() {
        let long = "x".repeat(MAX_TOKEN + 1);
        assert_eq!(m(&format!("a {long} b")), "a <*> b");
        let many: Vec<String> =
            (0..200).map(|i| format!("w{}", (b'a' + (i % 26) as u8) as char)).collect();
        let out = m(&many.join(" "));
        assert_eq!(out.split(' ').count(), MAX_TOKENS + 1);
        assert!(out.ends_with(" <*>"));
        assert_eq!(m("1 2 3 4 5"), "<*>");
        assert_eq!(m("\"never closed and so on"), "<*>");
    }
}
