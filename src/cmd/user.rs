//! `logtrack user add|list|passwd|remove`: the dashboard's users. A
//! password comes from standard input (`--password-stdin`, one line) or a
//! hidden prompt asked twice on a terminal — never from the command line —
//! and is never printed.

use crate::cli::{Global, UserCommand};
use crate::config;
use crate::error::Exit;
use crate::store::{self, users};
use std::io::{BufRead, IsTerminal, Write};

pub fn run(c: &UserCommand, g: &Global) -> anyhow::Result<Exit> {
    let msgs = g.messages();
    let url = config::database_url(g.database_url.as_deref(), g.config.as_deref())?;
    let mut client = store::open(&url)?;
    match c {
        UserCommand::Add { name, role, password_stdin } => {
            let name = &users::normalize_name(name)
                .map_err(|why| anyhow::anyhow!("user name {name:?} {why}"))?;
            let hash = users::hash_password(&password(*password_stdin)?)?;
            users::add(&mut client, name, role.as_str(), &hash)?;
            msgs.info(&format!("user {name:?} added ({})", role.as_str()));
        }
        UserCommand::List => {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{:<24}  {:<6}  created (UTC)", "user", "role")?;
            for u in users::list(&mut client)? {
                writeln!(out, "{:<24}  {:<6}  {}", u.name, u.role, u.created_at)?;
            }
        }
        UserCommand::Passwd { name, password_stdin } => {
            // Say an unknown name before asking for a password.
            if users::password_hash(&mut client, name)?.is_none() {
                return Err(crate::error::Error::NoSuchUser(name.clone()).into());
            }
            let hash = users::hash_password(&password(*password_stdin)?)?;
            users::set_password(&mut client, name, &hash)?;
            msgs.info(&format!("password of {name:?} changed"));
        }
        UserCommand::Remove { name } => {
            users::remove(&mut client, name)?;
            msgs.info(&format!("user {name:?} removed"));
        }
    }
    Ok(Exit::Ok)
}

/// A new password: one line of standard input, or asked twice on a
/// terminal without echo. Refused when too short or when the two differ.
fn password(from_stdin: bool) -> anyhow::Result<String> {
    let pw = if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\n', '\r']).to_string()
    } else if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("New password: ")?;
        let again = rpassword::prompt_password("Again: ")?;
        if first != again {
            anyhow::bail!("the two passwords differ");
        }
        first
    } else {
        anyhow::bail!("no terminal to ask for the password: pass --password-stdin and write it to standard input")
    };
    if let Some(why) = users::check_password(&pw) {
        anyhow::bail!(why);
    }
    Ok(pw)
}
