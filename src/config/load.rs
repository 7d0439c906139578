//! Loading a job through every layer with figment: built-in defaults, the
//! site settings (`config/logtrack.toml`), the job file, `LOGTRACK_*`
//! variables, command-line flags — later layers win; a `rules_file`; the
//! database URL of commands without a job.

use super::{validate, Job, Overrides, Problems};
use figment::providers::{Env, Format as _, Json, Serialized, Toml};
use figment::value::{Dict, Value};
use figment::Figment;
use std::path::{Path, PathBuf};

/// Site settings, merged under every job.
pub const SITE_CONFIG: &str = "config/logtrack.toml";

/// The site settings file: `--config FILE`, else `$LOGTRACK_CONFIG`, else
/// `/etc/logtrack/logtrack.toml`, else `config/logtrack.toml` in the
/// current directory — the first that is given or exists. One given by
/// flag or variable must exist.
pub fn site_config(flag: Option<&Path>) -> Result<Option<PathBuf>, String> {
    let given = flag.map(Path::to_path_buf).or_else(|| {
        std::env::var_os("LOGTRACK_CONFIG").filter(|v| !v.is_empty()).map(PathBuf::from)
    });
    if let Some(p) = given {
        return match p.exists() {
            true => Ok(Some(p)),
            false => Err(format!("{}: no such site settings file", p.display())),
        };
    }
    Ok(["/etc/logtrack/logtrack.toml", SITE_CONFIG].iter().map(PathBuf::from).find(|p| p.exists()))
}

/// `base` joined with a relative `path`, with `.` and `..` taken out
/// lexically (`jobs` + `../samples/x.log` is `samples/x.log`); an absolute
/// path, `-`, or a base of `.` leave `path` as it is.
pub fn rebase(base: &Path, path: &str) -> String {
    if path == "-" || Path::new(path).is_absolute() || base.as_os_str().is_empty() {
        return path.to_string();
    }
    let mut out: Vec<std::path::Component> = Vec::new();
    for c in base.components().chain(Path::new(path).components()) {
        use std::path::Component::*;
        match c {
            CurDir => {}
            ParentDir if matches!(out.last(), Some(Normal(_))) => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    let joined: PathBuf = out.iter().collect();
    if joined.as_os_str().is_empty() {
        ".".into()
    } else {
        joined.to_string_lossy().into_owned()
    }
}

/// Loads a job file through every layer and validates it.
pub fn load(job_path: &Path, overrides: &Overrides) -> Result<Job, Problems> {
    let fig = figment(job_path, overrides).map_err(|e| Problems(vec![e]))?;
    let dict: Dict = fig.extract().map_err(|e| Problems(figment_errors(e)))?;
    let stem = job_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    // Relative paths in a job file are the job file's: under cron the
    // current directory is $HOME, under systemd `/`.
    let base = job_path.parent().unwrap_or(Path::new(""));
    let mut job = validate(&dict, &stem, base)?;
    for s in &mut job.sources {
        s.path = rebase(base, &s.path);
    }
    // A report directory from --report-dir or LOGTRACK_REPORT_DIR is the
    // current directory's; one from the job file is the job's.
    let from_env = std::env::var_os("LOGTRACK_REPORT_DIR").is_some_and(|v| !v.is_empty());
    if overrides.report_dir.is_none() && !from_env {
        job.report.dir = rebase(base, &job.report.dir.to_string_lossy()).into();
    }
    Ok(job)
}

/// figment's messages, which may quote a line of the file (a syntax error
/// on the `url` line): secrets are masked.
fn figment_errors(e: figment::Error) -> Vec<String> {
    e.into_iter().map(|e| crate::error::redact_text(&e.to_string())).collect()
}

fn figment(job_path: &Path, overrides: &Overrides) -> Result<Figment, String> {
    let mut fig = Figment::from(Serialized::defaults(serde_json::json!({
        "report": { "dir": "reports", "formats": ["json", "md", "html"] }
    })));
    if let Some(site) = site_config(overrides.config.as_deref())? {
        fig = fig.merge(Toml::file(site));
    }
    let shown = job_path.display();
    let text = std::fs::read_to_string(job_path).map_err(|e| format!("{shown}: {e}"))?;
    let ext = job_path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    fig = match ext.as_str() {
        "toml" => fig.merge(Toml::string(&text)),
        // YAML through serde_norway, the maintained fork of the deprecated
        // serde_yaml (figment's own YAML provider is built on the latter).
        "yaml" | "yml" => {
            let value: serde_json::Value = match serde_norway::from_str(&text) {
                Ok(serde_json::Value::Null) => serde_json::json!({}),
                Ok(v) => v,
                Err(e) => return Err(format!("{shown}: {e}")),
            };
            fig.merge(Serialized::defaults(value))
        }
        "json" if text.trim_start().starts_with('[') => {
            // The old tool's rules_config.json: a bare array of rules.
            let rules: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| format!("{shown}: {e}"))?;
            fig.merge(Serialized::defaults(serde_json::json!({ "rules": rules })))
        }
        "json" => fig.merge(Json::string(&text)),
        _ => {
            return Err(format!(
                "{shown}: unknown job file type {ext:?} (expected .toml, .yaml, .yml or .json)"
            ))
        }
    };
    fig = fig.merge(Env::prefixed("LOGTRACK_").filter_map(|k| {
        let k = k.as_str().to_ascii_lowercase();
        match k.as_str() {
            "database_url" => Some("database.url".into()),
            "report_dir" => Some("report.dir".into()),
            "name" => Some(k.into()),
            _ if k.contains("__") => Some(k.replace("__", ".").into()),
            _ => None,
        }
    }));
    if let Some(url) = &overrides.database_url {
        fig = fig.merge(Serialized::default("database.url", url));
    }
    if let Some(dir) = &overrides.report_dir {
        fig = fig.merge(Serialized::default("report.dir", dir.to_string_lossy()));
    }
    Ok(fig)
}

pub(super) fn load_rules_file(path: &str) -> Result<Vec<Value>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let fig = Figment::from(Serialized::defaults(serde_json::json!({
        "rules": serde_json::from_str::<serde_json::Value>(&text).map_err(|e| format!("{path}: {e}"))?
    })));
    let dict: Dict = fig.extract().map_err(|e| format!("{path}: {e}"))?;
    match dict.get("rules") {
        Some(Value::Array(_, items)) => Ok(items.clone()),
        _ => Err(format!("{path}: expected a JSON array of rules")),
    }
}

/// The database URL for commands without a job file: `--database-url`,
/// else `LOGTRACK_DATABASE_URL`, else `[database] url` in the site config.
pub fn database_url(flag: Option<&str>, config: Option<&Path>) -> anyhow::Result<String> {
    if let Some(u) = flag.filter(|u| !u.is_empty()) {
        return Ok(u.to_string());
    }
    if let Ok(u) = std::env::var("LOGTRACK_DATABASE_URL") {
        if !u.is_empty() {
            return Ok(u);
        }
    }
    if let Some(site) = site_config(config).map_err(anyhow::Error::msg)? {
        let dict: Dict = Figment::from(Toml::file(&site)).extract().map_err(|e| {
            anyhow::anyhow!("{}: {}", site.display(), crate::error::redact_text(&e.to_string()))
        })?;
        if let Some(Value::Dict(_, d)) = dict.get("database") {
            if let Some(Value::String(_, u)) = d.get("url") {
                return Ok(u.clone());
            }
        }
    }
    anyhow::bail!(
        "no database configured: pass --database-url, set LOGTRACK_DATABASE_URL, or set [database] url in the site settings (--config, $LOGTRACK_CONFIG, /etc/logtrack/logtrack.toml or {SITE_CONFIG})"
    )
}
