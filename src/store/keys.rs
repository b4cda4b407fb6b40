//! API keys: a name, a role and the SHA-256 of a bearer token. The token itself is shown once
//! when the key is created and never stored. A revoked key stays on record (it is the
//! `created_by` of the entries it made) but no longer authenticates.

use diesel::prelude::*;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::domain::ids::hex;
use crate::domain::time::{format_utc, Nanos};
use crate::wire::keys::{KeyView, NewKey, Role};
use crate::wire::{ConflictKind, Error};

use super::convert::{read_ts, ts};
use super::schema::api_keys;
use super::sqlite::{is_unique_violation, write_tx, Conn};

/// The prefix of every token, so that secret scanners find leaked ones.
pub const TOKEN_PREFIX: &str = "slc_";

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = api_keys)]
struct KeyRow {
    name: String,
    role: String,
    token_sha256: String,
    created_at: String,
    revoked_at: Option<String>,
}

/// A key that authenticated a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

fn sha256_hex(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

/// A new random token: the prefix and 256 random bits in hex.
fn new_token() -> Result<String, Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::internal(format!("random token: {e}")))?;
    let mut t = String::with_capacity(TOKEN_PREFIX.len() + 64);
    t.push_str(TOKEN_PREFIX);
    t.push_str(&hex(&bytes));
    Ok(t)
}

/// Creates a key; answers its token (shown once).
pub fn create_key(conn: &mut Conn, new: &NewKey, now: Nanos) -> Result<String, Error> {
    let token = new_token()?;
    let row = KeyRow {
        name: new.name.clone(),
        role: new.role.as_str().to_string(),
        token_sha256: sha256_hex(&token),
        created_at: ts(now),
        revoked_at: None,
    };
    write_tx(conn, |c| {
        match diesel::insert_into(api_keys::table).values(&row).execute(c) {
            Err(e) if is_unique_violation(&e) => Err(Error::conflict(
                ConflictKind::IdTaken,
                "name",
                format!("a key named {:?} exists", new.name),
            )),
            r => r.map(|_| ()).map_err(Error::from),
        }
    })?;
    Ok(token)
}

/// Every key, by name (never the token).
pub fn list_keys(conn: &mut Conn) -> Result<Vec<KeyView>, Error> {
    let rows: Vec<KeyRow> = api_keys::table
        .order(api_keys::name)
        .select(KeyRow::as_select())
        .load(conn)?;
    rows.into_iter()
        .map(|r| {
            Ok(KeyView {
                name: r.name,
                role: r.role,
                created_at: format_utc(read_ts(&r.created_at, "api_keys.created_at")?),
                revoked_at: r
                    .revoked_at
                    .as_deref()
                    .map(|t| read_ts(t, "api_keys.revoked_at").map(format_utc))
                    .transpose()?,
            })
        })
        .collect()
}

/// Revokes a key by name.
pub fn revoke_key(conn: &mut Conn, name: &str, now: Nanos) -> Result<(), Error> {
    write_tx(conn, |c| {
        let n = diesel::update(
            api_keys::table
                .filter(api_keys::name.eq(name))
                .filter(api_keys::revoked_at.is_null()),
        )
        .set(api_keys::revoked_at.eq(ts(now)))
        .execute(c)?;
        if n == 0 {
            return Err(Error::not_found("key", name));
        }
        Ok(())
    })
}

/// The live key a bearer token belongs to, if any. The token is hashed; the stored hash is
/// found by index and compared again in constant time.
pub fn authenticate(conn: &mut Conn, token: &str) -> Result<Option<Caller>, Error> {
    if !token.starts_with(TOKEN_PREFIX) || token.len() > 200 {
        return Ok(None);
    }
    let hash = sha256_hex(token);
    let row: Option<KeyRow> = api_keys::table
        .filter(api_keys::token_sha256.eq(&hash))
        .filter(api_keys::revoked_at.is_null())
        .select(KeyRow::as_select())
        .first(conn)
        .optional()?;
    Ok(row.and_then(|r| {
        let same: bool = r.token_sha256.as_bytes().ct_eq(hash.as_bytes()).into();
        let role = Role::parse(&r.role).ok()?;
        same.then_some(Caller { name: r.name, role })
    }))
}
