//! JSON text, written by hand: string literals and integers straight into
//! a byte buffer. A leaf module: records (`parse::Value::write_json`) and
//! the writers of `output` both use it.

/// True for bytes that JSON strings must escape (and DEL, escaped for safety).
#[inline]
fn needs_escape(c: u8) -> bool {
    c < 0x20 || c == b'"' || c == b'\\' || c == 0x7f
}

/// Whether any of 8 bytes needs escaping (SWAR: a word at a time).
#[inline]
fn word_needs_escape(x: u64) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(LO) & !v & HI;
    let below_space = x.wrapping_sub(LO * 0x20) & !x & HI;
    (below_space
        | has_zero(x ^ (LO * 0x22))
        | has_zero(x ^ (LO * 0x5c))
        | has_zero(x ^ (LO * 0x7f)))
        != 0
}

/// Appends `s` as a JSON string literal. Most strings need no escape:
/// they are checked eight bytes at a time (the last few padded with
/// spaces) and copied whole; only a string with a special byte is walked
/// byte by byte, from the first word holding one.
pub fn write_json_str(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    out.reserve(b.len() + 2);
    out.push(b'"');
    let mut clean = 0;
    while clean + 8 <= b.len() {
        if word_needs_escape(u64::from_le_bytes(b[clean..clean + 8].try_into().expect("8 bytes"))) {
            return write_escaped(out, b, clean);
        }
        clean += 8;
    }
    if clean < b.len() {
        let mut w = [b' '; 8];
        w[..b.len() - clean].copy_from_slice(&b[clean..]);
        if word_needs_escape(u64::from_le_bytes(w)) {
            return write_escaped(out, b, clean);
        }
    }
    out.extend_from_slice(b);
    out.push(b'"');
}

/// The rest of [`write_json_str`] for a string whose bytes before `from`
/// need no escape.
#[cold]
fn write_escaped(out: &mut Vec<u8>, b: &[u8], from: usize) {
    let mut start = 0;
    for (k, &c) in b.iter().enumerate().skip(from) {
        if needs_escape(c) {
            out.extend_from_slice(&b[start..k]);
            write_escape(out, c);
            start = k + 1;
        }
    }
    out.extend_from_slice(&b[start..]);
    out.push(b'"');
}

fn write_escape(out: &mut Vec<u8>, c: u8) {
    match c {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        b'\n' => out.extend_from_slice(b"\\n"),
        b'\r' => out.extend_from_slice(b"\\r"),
        b'\t' => out.extend_from_slice(b"\\t"),
        _ => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(c >> 4) as usize]);
            out.push(HEX[(c & 15) as usize]);
        }
    }
}

/// Appends a decimal integer without going through `fmt`.
#[inline]
pub fn write_int(out: &mut Vec<u8>, v: i64) {
    let mut buf = [0u8; 20];
    let mut n = v.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escaping_agrees_with_serde_on_every_byte() {
        for c in 0u8..=0x7f {
            for pad in 0..10 {
                let s = format!("{}{}{}", "a".repeat(pad), c as char, "é".repeat(pad % 3));
                let mut out = Vec::new();
                write_json_str(&mut out, &s);
                let back: String = serde_json::from_slice(&out).unwrap();
                assert_eq!(back, s, "byte {c:#x} at {pad}");
            }
        }
        let mut out = Vec::new();
        write_int(&mut out, i64::MIN);
        write_int(&mut out, 0);
        write_int(&mut out, 1234567);
        assert_eq!(String::from_utf8(out).unwrap(), "-922337203685477580801234567");
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut out = Vec::new();
        write_json_str(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(String::from_utf8(out).unwrap(), r#""a\"b\\c\nd\u0001é""#);
        let v: String = serde_json::from_str(r#""a\"b\\c\nd\u0001é""#).unwrap();
        assert_eq!(v, "a\"b\\c\nd\u{1}é");
    }
}
