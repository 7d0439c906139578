//! `logtrack serve`: the dashboard over the database.

use crate::cli::{Global, ServeArgs};
use crate::config;
use crate::error::Exit;
use crate::serve::{self, Options};
use crate::store::sessions::Lifetime;

pub fn run(a: &ServeArgs, g: &Global) -> anyhow::Result<Exit> {
    let url = config::database_url(g.database_url.as_deref(), g.config.as_deref())?;
    let life = Lifetime { idle: a.session_idle.secs(), absolute: a.session_max.secs() };
    if life.idle <= 0 || life.absolute <= 0 {
        anyhow::bail!("--session-idle and --session-max must be longer than zero");
    }
    if [a.statement_timeout, a.header_timeout, a.request_timeout].iter().any(|d| d.secs() <= 0) {
        anyhow::bail!(
            "--statement-timeout, --header-timeout and --request-timeout must be longer than zero"
        );
    }
    let secs = |d: crate::config::HumanDuration| std::time::Duration::from_secs(d.secs() as u64);
    let opts = Options {
        bind: a.bind,
        url,
        life,
        secure_cookies: a.secure_cookies,
        proxies: serve::proxy::Proxies::new(a.trusted_proxy.clone(), a.forwarded_header),
        statement_timeout: secs(a.statement_timeout),
        header_timeout: secs(a.header_timeout),
        request_timeout: secs(a.request_timeout),
    };
    serve::serve(opts, g.messages())?;
    Ok(Exit::Ok)
}
