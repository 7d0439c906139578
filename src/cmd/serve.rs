//! `logtrack serve`: the dashboard over the database.

use crate::cli::{Global, ServeArgs};
use crate::config;
use crate::error::Exit;
use crate::run::Messages;
use crate::serve::{self, Options};
use crate::store::sessions::Lifetime;

pub fn run(a: &ServeArgs, g: &Global) -> anyhow::Result<Exit> {
    let url = config::database_url(g.database_url.as_deref(), g.config.as_deref())?;
    let life = Lifetime { idle: a.session_idle.secs(), absolute: a.session_max.secs() };
    if life.idle <= 0 || life.absolute <= 0 {
        anyhow::bail!("--session-idle and --session-max must be longer than zero");
    }
    let opts = Options { bind: a.bind, url, life, secure_cookies: a.secure_cookies };
    serve::serve(opts, Messages::new(g))?;
    Ok(Exit::Ok)
}
