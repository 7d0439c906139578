//! Text for receivers: cut to their limits without splitting a character
//! or an escape, and escaped for Slack's mrkdwn and Markdown.

/// Slack's limit of a section's text.
pub const SLACK_SECTION: usize = 3_000;

/// `s` for Slack: `&`, `<` and `>` escaped (so no `<!channel>`, `<@U…>`
/// or `<url|label>` can come from it), inside a code block (`code`) every
/// backtick followed by a zero-width space (so "```" cannot close it), and
/// at most `max` characters (see [`fit`]).
pub fn slack_text(s: &str, max: usize, code: bool) -> String {
    fit(s, max, |c| match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '`' if code => Some("`\u{200b}"),
        _ => None,
    })
}

/// A value printed into a receiver's own mrkdwn: escaped as
/// [`slack_text`], and each of mrkdwn's formatting characters followed by
/// a zero-width space, so that a value's `*x*` is not bold and cannot pair
/// with the template's own.
pub fn slack_mrkdwn(s: &str) -> String {
    fit(s, SLACK_SECTION, |c| match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '*' => Some("*\u{200b}"),
        '_' => Some("_\u{200b}"),
        '~' => Some("~\u{200b}"),
        '`' => Some("`\u{200b}"),
        _ => None,
    })
}

/// At most `max` characters of `s` (see [`fit`]).
pub fn cut(s: &str, max: usize) -> String {
    fit(s, max, |_| None)
}

/// `s` with each character written as `escape` says (`None`: as it is),
/// in at most `max` characters: when it does not fit, the characters that
/// do, then "… N more characters" (N of `s`).
fn fit(s: &str, max: usize, escape: impl Fn(char) -> Option<&'static str>) -> String {
    let width = |c: char| escape(c).map_or(1, |e| e.chars().count());
    let fits = s.chars().map(width).sum::<usize>() <= max;
    let budget = if fits { max } else { max.saturating_sub(40) };
    let (mut out, mut used, mut taken) = (String::with_capacity(s.len().min(budget * 4)), 0, 0);
    for c in s.chars() {
        if used + width(c) > budget {
            break;
        }
        match escape(c) {
            Some(e) => out.push_str(e),
            None => out.push(c),
        }
        used += width(c);
        taken += 1;
    }
    if !fits {
        out.push_str(&format!("… {} more characters", s.chars().count() - taken));
    }
    out
}

/// Markdown's punctuation backslash-escaped (Teams renders Markdown in
/// fact values and TextBlocks).
pub fn escape_markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\`*_{}[]()#+-.!<>|~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
