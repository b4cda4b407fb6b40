//! Reads the web console needs beside the API's (`crate::web`): the recorded settlements of
//! one incident, for its detail page.

use diesel::prelude::*;

use crate::wire::credits::SettlementView;
use crate::wire::Error;

use super::schema::settlements;
use super::settlements::load_settlement;
use super::sqlite::Conn;

/// The recorded settlements of an incident, oldest first (at most `limit`).
pub fn incident_settlements(
    conn: &mut Conn,
    incident_id: &str,
    limit: usize,
) -> Result<Vec<SettlementView>, Error> {
    let ids: Vec<i64> = settlements::table
        .filter(settlements::incident_id.eq(incident_id))
        .order(settlements::id.asc())
        .limit(i64::try_from(limit).unwrap_or(i64::MAX))
        .select(settlements::id)
        .load(conn)?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(v) = load_settlement(conn, id)? {
            out.push(v);
        }
    }
    Ok(out)
}
