//! Exit codes (they follow grep) and helpers for messages that must never
//! show a secret.

use std::process::ExitCode;

/// `0`: the job ran. `1`: it ran and an alert at or above `--fail-on` fired.
/// `2`: it could not run or failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Ok,
    AlertFired,
    Failed,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(match e {
            Exit::Ok => 0,
            Exit::AlertFired => 1,
            Exit::Failed => 2,
        })
    }
}

/// A database URL with its password replaced by `***`, for messages.
pub fn redact_url(url: &str) -> String {
    // postgres://user:secret@host/db  and  key=value style "password=secret".
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let auth_end = out[rest_start..].find('@').map(|i| rest_start + i);
        if let Some(at) = auth_end {
            if let Some(colon) = out[rest_start..at].find(':') {
                out.replace_range(rest_start + colon + 1..at, "***");
            }
        }
    }
    if let Some(i) = out.find("password=") {
        let start = i + "password=".len();
        let end = out[start..].find(['&', ' ']).map_or(out.len(), |j| start + j);
        out.replace_range(start..end, "***");
    }
    out
}

/// Writes one line to stderr. A stderr that is closed, full or a broken
/// pipe (some supervisors) must not stop a run, so write errors are ignored.
pub fn say(line: &str) {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(line.as_bytes()).and_then(|()| err.write_all(b"\n"));
}

/// True when an error chain ends in a broken pipe (`logtrack parse | head`).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact_url("postgres://lt:s3cret@db:5432/x"), "postgres://lt:***@db:5432/x");
        assert_eq!(redact_url("postgres://lt@db/x"), "postgres://lt@db/x");
        assert_eq!(redact_url("host=db password=s3cret user=x"), "host=db password=*** user=x");
        assert_eq!(
            redact_url("postgres://db/x?password=s3cret&sslmode=require"),
            "postgres://db/x?password=***&sslmode=require"
        );
    }

    #[test]
    fn exit_codes_follow_grep() {
        assert_eq!(ExitCode::from(Exit::Ok), ExitCode::from(0));
        assert_eq!(ExitCode::from(Exit::AlertFired), ExitCode::from(1));
        assert_eq!(ExitCode::from(Exit::Failed), ExitCode::from(2));
    }
}
