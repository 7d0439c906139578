//! Dashboard users: a name, a role (`viewer` reads, `admin` also
//! acknowledges alerts) and an argon2id password hash as a PHC string
//! (random salt, the parameters inside the string). A password is never
//! stored, printed or put in an error.

use crate::error::{Error, Result};
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use postgres::Client;

/// Shorter passwords are refused.
pub const MIN_PASSWORD: usize = 12;

/// The roles a user may have.
pub const ROLES: [&str; 2] = ["viewer", "admin"];

/// Why a password is refused, if it is.
pub fn check_password(password: &str) -> Option<String> {
    (password.chars().count() < MIN_PASSWORD)
        .then(|| format!("the password is too short: at least {MIN_PASSWORD} characters"))
}

/// The argon2id PHC string of `password`, with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| Error::Protocol(format!("hashing the password failed: {e}")))
}

/// Whether `password` matches the PHC string `hash`.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// One user as listed.
pub struct User {
    pub name: String,
    pub role: String,
    pub created_at: String,
}

/// Adds a user; a name taken already is refused, naming it.
pub fn add(client: &mut Client, name: &str, role: &str, hash: &str) -> Result<()> {
    let n = client
        .execute(
            "INSERT INTO users (username, password_hash, role) VALUES ($1, $2, $3)
             ON CONFLICT (username) DO NOTHING",
            &[&name, &hash, &role],
        )
        .map_err(Error::db("adding the user"))?;
    if n == 0 {
        return Err(Error::UserExists(name.to_string()));
    }
    Ok(())
}

/// Every user, by name.
pub fn list(client: &mut Client) -> Result<Vec<User>> {
    let rows = client
        .query(
            concat!(
                "SELECT username, role, ",
                utc_text!("created_at"),
                " FROM users ORDER BY username"
            ),
            &[],
        )
        .map_err(Error::db("listing the users"))?;
    Ok(rows.iter().map(|r| User { name: r.get(0), role: r.get(1), created_at: r.get(2) }).collect())
}

/// Sets a user's password hash and ends the user's dashboard sessions;
/// an unknown name is an error.
pub fn set_password(client: &mut Client, name: &str, hash: &str) -> Result<()> {
    let mut tx = client.transaction().map_err(Error::db("changing the password"))?;
    let n = tx
        .execute("UPDATE users SET password_hash = $2 WHERE username = $1", &[&name, &hash])
        .map_err(Error::db("changing the password"))?;
    if n == 0 {
        return Err(Error::NoSuchUser(name.to_string()));
    }
    tx.execute("DELETE FROM sessions WHERE username = $1", &[&name])
        .map_err(Error::db("ending the user's sessions"))?;
    tx.commit().map_err(Error::db("changing the password"))
}

/// The stored hash of a user, if there is one.
pub fn password_hash(client: &mut Client, name: &str) -> Result<Option<String>> {
    Ok(client
        .query_opt("SELECT password_hash FROM users WHERE username = $1", &[&name])
        .map_err(Error::db("reading the user"))?
        .map(|r| r.get(0)))
}

/// Removes a user; an unknown name is an error.
pub fn remove(client: &mut Client, name: &str) -> Result<()> {
    let n = client
        .execute("DELETE FROM users WHERE username = $1", &[&name])
        .map_err(Error::db("removing the user"))?;
    match n {
        0 => Err(Error::NoSuchUser(name.to_string())),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let a = hash_password("correct horse battery").unwrap();
        let b = hash_password("correct horse battery").unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "a fresh salt each time");
        assert!(verify_password("correct horse battery", &a));
        assert!(!verify_password("correct horse batterz", &a));
        assert!(!verify_password("anything", "not a phc string"));
        assert!(check_password("short").is_some());
        assert!(check_password("twelve chars").is_none());
    }
}
