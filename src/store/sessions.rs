//! Dashboard sessions, kept server-side: the browser holds a random token,
//! the table its hash, so a copy of the table signs no one in. A session
//! ends when signed out, when its user is removed or changes password, when
//! it has been idle for `idle` seconds, and at the latest `absolute`
//! seconds after sign-in.

use crate::error::{Error, Result};
use postgres::GenericClient;

/// How long sessions last.
#[derive(Clone, Copy, Debug)]
pub struct Lifetime {
    pub idle: i64,
    pub absolute: i64,
}

/// A live session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub user: String,
    pub role: String,
    /// The form token (CSRF) of this session.
    pub csrf: String,
}

/// Stores a new session of `user` (and drops expired ones).
pub fn create(
    client: &mut impl GenericClient,
    token_hash: &[u8],
    user: &str,
    csrf: &str,
    life: Lifetime,
) -> Result<()> {
    client
        .execute("DELETE FROM sessions WHERE expires_at <= now()", &[])
        .map_err(Error::db("dropping expired sessions"))?;
    client
        .execute(
            "INSERT INTO sessions (token_hash, username, csrf, expires_at)
             VALUES ($1, $2, $3, now() + least($4::bigint, $5::bigint) * interval '1 second')",
            &[&token_hash, &user, &csrf, &life.idle, &life.absolute],
        )
        .map_err(Error::db("storing the session"))?;
    Ok(())
}

/// The live session whose token hashes to `token_hash`, its idle time
/// restarted; `None` when there is none (unknown, expired, user removed).
pub fn touch(
    client: &mut impl GenericClient,
    token_hash: &[u8],
    life: Lifetime,
) -> Result<Option<Session>> {
    let row = client
        .query_opt(
            "WITH s AS (
               UPDATE sessions SET expires_at = least(created_at + $3::bigint * interval '1 second',
                                                      now() + $2::bigint * interval '1 second')
               WHERE token_hash = $1 AND expires_at > now()
               RETURNING username, csrf)
             SELECT s.username, u.role, s.csrf FROM s JOIN users u USING (username)",
            &[&token_hash, &life.idle, &life.absolute],
        )
        .map_err(Error::db("reading the session"))?;
    Ok(row.map(|r| Session { user: r.get(0), role: r.get(1), csrf: r.get(2) }))
}

/// Ends a session.
pub fn delete(client: &mut impl GenericClient, token_hash: &[u8]) -> Result<()> {
    client
        .execute("DELETE FROM sessions WHERE token_hash = $1", &[&token_hash])
        .map_err(Error::db("ending the session"))?;
    Ok(())
}
