//! A receiver's `title` and `text` templates (minijinja, Jinja's syntax),
//! rendered over one notification. The template is the operator's; every
//! value it prints comes from logs and is escaped for where the text goes,
//! so a log line cannot add a mention, a link or formatting of its own.

use super::Notification;
use minijinja::{AutoEscape, Environment, Value};

/// How printed values are escaped, by receiver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Escape {
    /// Slack's mrkdwn: `&`, `<`, `>` as entities (no mention, no link), and
    /// its formatting characters kept from pairing up.
    Slack,
    /// Markdown (Teams): punctuation backslash-escaped.
    Markdown,
    /// As it is (e-mail text, JSON fields, paging services' fields): control
    /// characters but line ends and tabs removed.
    Plain,
}

impl Escape {
    fn name(self) -> &'static str {
        match self {
            Escape::Slack => "slack",
            Escape::Markdown => "markdown",
            Escape::Plain => "plain",
        }
    }

    /// `s` escaped.
    pub fn apply(self, s: &str) -> String {
        match self {
            Escape::Slack => super::text::slack_mrkdwn(s),
            Escape::Markdown => super::text::escape_markdown(s),
            Escape::Plain => {
                s.chars().filter(|c| !c.is_control() || matches!(c, '\n' | '\t')).collect()
            }
        }
    }
}

/// `template` rendered over `n`, its values escaped by `escape`. A
/// template that fails at run time (it was checked when the job was read)
/// is an error the caller reports, with the built-in text sent instead.
pub fn render(template: &str, n: &Notification, escape: Escape) -> Result<String, String> {
    let mut env = Environment::new();
    let mode = escape.name();
    env.set_auto_escape_callback(move |_| AutoEscape::Custom(mode.into()));
    env.set_formatter(move |out, state, value| {
        // Values the template marked `|safe` are the operator's choice.
        if value.is_safe() || matches!(state.auto_escape(), AutoEscape::None) {
            return write!(out, "{value}").map_err(minijinja::Error::from);
        }
        let text =
            if value.is_none() || value.is_undefined() { String::new() } else { value.to_string() };
        out.write_str(&escape.apply(&text)).map_err(minijinja::Error::from)
    });
    let t = env.template_from_str(template).map_err(|e| e.to_string())?;
    t.render(context(n)).map_err(|e| format!("the template failed: {e}"))
}

/// The variables a template sees: the notification's fields (absent ones
/// as none) and `headline`.
fn context(n: &Notification) -> Value {
    let mut v = serde_json::to_value(n).expect("a notification serializes");
    if let Some(o) = v.as_object_mut() {
        for k in crate::config::notify::TEMPLATE_VARIABLES {
            o.entry(k.to_string()).or_insert(serde_json::Value::Null);
        }
        o.insert("headline".into(), n.headline().into());
    }
    Value::from(minijinja::value::Serde(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hostile() -> Notification {
        let mut n = Notification::test("web-audit");
        n.message = "<!channel> *bold* [x](http://evil.example) <http://evil.example|y>".into();
        n.group.insert("user".into(), "<@U123>".into());
        n.runbook = Some("https://wiki.example.com/runbooks/web".into());
        n
    }

    #[test]
    fn values_are_escaped_for_each_receiver_but_the_template_is_not() {
        let n = hostile();
        let t = "*{{ rule_id }}* {{ message }} user={{ group.user }} <{{ runbook }}|runbook>";
        let slack = render(t, &n, Escape::Slack).unwrap();
        // A value's own formatting characters cannot pair up.
        assert!(slack.starts_with("*logtrack_\u{200b}test* "), "{slack}");
        assert!(slack.ends_with("<https://wiki.example.com/runbooks/web|runbook>"), "{slack}");
        for bad in ["<!", "<@", "<http://evil"] {
            assert!(!slack.contains(bad), "{bad} in {slack}");
        }
        assert!(!slack.contains("*bold*"), "{slack}");
        let md = render("**{{ rule_id }}**: {{ message }}", &n, Escape::Markdown).unwrap();
        assert!(md.starts_with("**logtrack\\_test**: "), "{md}");
        assert!(md.contains("\\[x\\]\\(http://evil\\.example\\)"), "{md}");
        let plain = render("{{ message }}{{ dashboard }}", &n, Escape::Plain).unwrap();
        assert_eq!(plain, n.message);
    }

    #[test]
    fn loops_conditions_and_filters_work() {
        let n = hostile();
        let t = "{% if runbook %}RB {% endif %}{{ severity|upper }} {% for k, v in group|items %}{{ k }}={{ v }};{% endfor %}";
        let out = render(t, &n, Escape::Plain).unwrap();
        assert!(out.starts_with("RB LOW "), "{out}");
        assert!(out.contains("user=<@U123>;"), "{out}");
    }
}
