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

/// The longest user name, in characters.
pub const MAX_NAME: usize = 64;

/// Why a password is refused, if it is.
pub fn check_password(password: &str) -> Option<String> {
    if password.trim().is_empty() {
        return Some("the password is blank".into());
    }
    (password.chars().count() < MIN_PASSWORD)
        .then(|| format!("the password is too short: at least {MIN_PASSWORD} characters"))
}

/// A user name as stored: without surrounding white space; refused
/// (with the reason) when empty, longer than [`MAX_NAME`] or holding
/// control characters. Names are unique without regard to case, and
/// looked up that way: `Alice` signs in as `alice`.
pub fn normalize_name(name: &str) -> std::result::Result<String, String> {
    let n = name.trim();
    if n.is_empty() {
        Err("is empty".into())
    } else if n.chars().count() > MAX_NAME {
        Err(format!("is longer than {MAX_NAME} characters"))
    } else if n.chars().any(char::is_control) {
        Err("holds control characters".into())
    } else {
        Ok(n.to_string())
    }
}

/// A name as compared: trimmed, lower case.
pub fn fold(name: &str) -> String {
    name.trim().to_lowercase()
}

/// SQL: the stored name `$1` stands for (its exact spelling first, when
/// names from before case-insensitive uniqueness differ only in case).
const NAMED: &str = "(SELECT username FROM users WHERE lower(username) = lower($1)
                      ORDER BY username = $1 DESC, username LIMIT 1)";

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

/// Adds a user; a name taken already (in any case) is refused, naming it.
pub fn add(client: &mut Client, name: &str, role: &str, hash: &str) -> Result<()> {
    let n = client
        .execute(
            "INSERT INTO users (username, password_hash, role)
             SELECT $1, $2, $3 WHERE NOT EXISTS (SELECT 1 FROM users WHERE lower(username) = lower($1))
             ON CONFLICT DO NOTHING",
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
    let Some(row) = tx
        .query_opt(
            &format!(
                "UPDATE users SET password_hash = $2 WHERE username = {NAMED} RETURNING username"
            ),
            &[&name, &hash],
        )
        .map_err(Error::db("changing the password"))?
    else {
        return Err(Error::NoSuchUser(name.to_string()));
    };
    let stored: String = row.get(0);
    tx.execute("DELETE FROM sessions WHERE username = $1", &[&stored])
        .map_err(Error::db("ending the user's sessions"))?;
    tx.commit().map_err(Error::db("changing the password"))
}

/// The stored name and hash of the user `name` stands for, if there is one.
pub fn password_hash(client: &mut Client, name: &str) -> Result<Option<(String, String)>> {
    Ok(client
        .query_opt(
            &format!("SELECT username, password_hash FROM users WHERE username = {NAMED}"),
            &[&name],
        )
        .map_err(Error::db("reading the user"))?
        .map(|r| (r.get(0), r.get(1))))
}

/// Removes a user; an unknown name is an error.
pub fn remove(client: &mut Client, name: &str) -> Result<()> {
    let n = client
        .execute(&format!("DELETE FROM users WHERE username = {NAMED}"), &[&name])
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
        assert!(check_password(&" ".repeat(12)).is_some(), "blank");
        assert!(check_password(&"\t".repeat(20)).is_some(), "blank");
    }

    #[test]
    fn names_are_trimmed_and_checked() {
        assert_eq!(normalize_name("  Alice ").as_deref(), Ok("Alice"));
        assert_eq!(fold(" Alice "), "alice");
        assert!(normalize_name("   ").is_err());
        assert!(normalize_name("al\0ice").is_err());
        assert!(normalize_name("al\nice").is_err());
        assert!(normalize_name(&"a".repeat(MAX_NAME + 1)).is_err());
        assert!(normalize_name(&"é".repeat(MAX_NAME)).is_ok(), "characters, not bytes");
    }
}
