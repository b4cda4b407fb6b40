//! Idempotency-Key records, shared by every worker and instance through the database.
//!
//! A request with a key first *claims* it (its own short transaction, so that concurrent
//! requests see the claim): a fresh key is recorded as running under a lease. The effect and
//! the completed record then commit in one transaction ([`complete`] runs inside it), so a
//! response is replayed if and only if its effect happened. A worker that dies leaves a lease
//! that expires; the retry then runs again, and finds nothing committed. Records are kept
//! at least 24 hours.

use diesel::prelude::*;

use crate::domain::time::Nanos;
use crate::wire::Error;

use super::convert::ts;
use super::schema::idempotency_keys;
use super::sqlite::{write_tx, Conn};

/// How long a running claim blocks retries before another worker may take it over.
pub const LEASE_NANOS: i64 = 60 * 1_000_000_000;
/// How long records are kept: twice the promised 24 hours.
pub const KEEP_NANOS: i64 = 48 * 3_600 * 1_000_000_000;

/// A response as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub status: u16,
    /// Headers that matter to a client: content type, location, ETag.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is ours now: run the request.
    Fresh,
    /// The first request finished: replay its response.
    Replay(Recorded),
    /// The first request is still running.
    InFlight,
    /// The key was used with another request.
    Reused,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = idempotency_keys)]
struct Row {
    fingerprint: String,
    state: String,
    lease_until: String,
    status: Option<i64>,
    headers: Option<String>,
    body: Option<Vec<u8>>,
}

/// Claims `key` for `owner` (an API key's name) and a request `fingerprint`.
pub fn claim(
    conn: &mut Conn,
    owner: &str,
    key: &str,
    fingerprint: &str,
    now: Nanos,
) -> Result<Claim, Error> {
    write_tx(conn, |c| {
        diesel::delete(
            idempotency_keys::table.filter(idempotency_keys::created_at.lt(ts(now - KEEP_NANOS))),
        )
        .execute(c)?;
        let row: Option<Row> = idempotency_keys::table
            .find((owner, key))
            .select(Row::as_select())
            .first(c)
            .optional()?;
        let lease = ts(now.saturating_add(LEASE_NANOS));
        match row {
            None => {
                diesel::insert_into(idempotency_keys::table)
                    .values((
                        idempotency_keys::owner.eq(owner),
                        idempotency_keys::key.eq(key),
                        idempotency_keys::fingerprint.eq(fingerprint),
                        idempotency_keys::state.eq("running"),
                        idempotency_keys::lease_until.eq(&lease),
                        idempotency_keys::created_at.eq(ts(now)),
                    ))
                    .execute(c)?;
                Ok(Claim::Fresh)
            }
            Some(r) if r.fingerprint != fingerprint => Ok(Claim::Reused),
            Some(r) if r.state == "done" => Ok(Claim::Replay(recorded(r)?)),
            Some(r) if r.lease_until > ts(now) => Ok(Claim::InFlight),
            Some(_) => {
                diesel::update(idempotency_keys::table.find((owner, key)))
                    .set(idempotency_keys::lease_until.eq(&lease))
                    .execute(c)?;
                Ok(Claim::Fresh)
            }
        }
    })
}

fn recorded(r: Row) -> Result<Recorded, Error> {
    let headers: Vec<(String, String)> = match &r.headers {
        Some(h) => serde_json::from_str(h)
            .map_err(|e| Error::internal_from("idempotency headers", e))?,
        None => Vec::new(),
    };
    Ok(Recorded {
        status: r
            .status
            .and_then(|s| u16::try_from(s).ok())
            .ok_or_else(|| Error::internal("idempotency record without a status"))?,
        headers,
        body: r.body.unwrap_or_default(),
    })
}

/// Records the response of a claimed key; call it inside the effect's transaction.
pub fn complete(conn: &mut Conn, owner: &str, key: &str, response: &Recorded) -> Result<(), Error> {
    let headers = serde_json::to_string(&response.headers)
        .map_err(|e| Error::internal_from("idempotency headers", e))?;
    diesel::update(idempotency_keys::table.find((owner, key)))
        .set((
            idempotency_keys::state.eq("done"),
            idempotency_keys::status.eq(Some(i64::from(response.status))),
            idempotency_keys::headers.eq(Some(headers)),
            idempotency_keys::body.eq(Some(response.body.clone())),
        ))
        .execute(conn)?;
    Ok(())
}

/// Gives a claimed key back after an answer that is never replayed (a 5xx, say): the retry
/// runs again.
pub fn release(conn: &mut Conn, owner: &str, key: &str) -> Result<(), Error> {
    write_tx(conn, |c| {
        diesel::delete(
            idempotency_keys::table
                .find((owner, key))
                .filter(idempotency_keys::state.eq("running")),
        )
        .execute(c)?;
        Ok(())
    })
}
