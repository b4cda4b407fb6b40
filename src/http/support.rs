//! What every handler shares: reading a JSON body (400 with line and column, 415, 413),
//! pages and cursors, rendering JSON, and running a write under an Idempotency-Key.

use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::domain::ids::hex;
use crate::domain::quote::from_value_at;
use crate::store::idempotency::{self, Claim, Recorded};
use crate::store::keys::Caller;
use crate::store::{Conn, Store};
use crate::wire::Error;

use super::error::ApiError;
use super::AppState;

/// Reads a JSON body: the content type must be JSON (415), the text must parse (400 naming
/// line and column), and the form must match (422 naming the field).
pub fn json_body<T: DeserializeOwned>(req: &HttpRequest, body: &[u8]) -> Result<T, ApiError> {
    let value = json_value(req, body)?;
    Ok(from_value_at(value, "").map_err(Error::from)?)
}

/// Reads a JSON body as a value (content type and syntax checked).
pub fn json_value(req: &HttpRequest, body: &[u8]) -> Result<Value, ApiError> {
    require_json(req)?;
    Ok(parse_json(body)?)
}

/// Parses a body already known to be JSON by its type (400 naming line and column).
pub fn parse_json(body: &[u8]) -> Result<Value, Error> {
    serde_json::from_slice(body)
        .map_err(|e| Error::unparseable("body", format!("is not valid JSON: {e}")))
}

/// A 415 unless the request says its body is JSON (`application/json` or any `+json` type).
pub fn require_json(req: &HttpRequest) -> Result<(), ApiError> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    let json_suffix = mime.len() >= 5
        && mime
            .get(mime.len() - 5..)
            .is_some_and(|s| s.eq_ignore_ascii_case("+json"));
    if !mime.eq_ignore_ascii_case("application/json") && !json_suffix {
        return Err(ApiError::UnsupportedMediaType(format!(
            "the body must be application/json, not {:?}",
            if ct.is_empty() { "nothing" } else { ct }
        )));
    }
    Ok(())
}

/// A JSON answer.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Result<Reply, Error> {
    let body = serde_json::to_vec(value).map_err(|e| Error::internal_from("rendering JSON", e))?;
    Ok(Reply {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body,
    })
}

/// An answer, before it becomes a response (so that it can be recorded for replay).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn with_header(mut self, name: &str, value: String) -> Self {
        self.headers.push((name.to_string(), value));
        self
    }

    pub fn into_response(self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status);
        for (k, v) in &self.headers {
            r.insert_header((k.as_str(), v.as_str()));
        }
        r.body(self.body)
    }

    fn recorded(&self) -> Recorded {
        Recorded {
            status: self.status.as_u16(),
            headers: self.headers.clone(),
            body: self.body.clone(),
        }
    }

    fn from_recorded(r: Recorded) -> Reply {
        Reply {
            status: StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK),
            headers: r.headers,
            body: r.body,
        }
    }
}

/// Runs a read on a pooled connection off the async workers.
pub async fn read<T: Send + 'static>(
    state: &web::Data<AppState>,
    f: impl FnOnce(&mut Conn) -> Result<T, Error> + Send + 'static,
) -> Result<T, ApiError> {
    // A read in WAL mode never waits for a writer: with an idle connection at hand it runs
    // right here (a few point queries), sparing two thread hand-offs; otherwise it waits for
    // one on the blocking pool, never on the async worker.
    if let Some(mut conn) = state.store.try_conn() {
        return Ok(f(&mut conn)?);
    }
    let store: Store = state.store.clone();
    Ok(web::block(move || {
        let mut conn = store.conn()?;
        f(&mut conn)
    })
    .await??)
}

/// The clock of the HTTP layer (the domain never reads one).
pub fn now() -> crate::domain::time::Nanos {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

/// The `If-Match` header of a request, if any.
pub fn if_match(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Checks an `If-Match` against the record's current ETag (`*` matches any).
pub fn check_if_match(if_match: Option<&str>, current: &str) -> Result<(), Error> {
    match if_match.map(str::trim) {
        Some(tag) if tag != "*" && tag != current => Err(Error::PreconditionFailed {
            message: format!("If-Match {tag} does not match the current version {current}"),
        }),
        _ => Ok(()),
    }
}

/// The Idempotency-Key of a request, checked: 1 to 255 printable ASCII characters.
fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(v) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let text = v.to_str().unwrap_or("");
    let ok =
        !text.is_empty() && text.len() <= 255 && text.bytes().all(|b| (0x20..0x7f).contains(&b));
    if !ok {
        return Err(ApiError::Wire(Error::unparseable(
            "Idempotency-Key",
            "must be 1 to 255 printable ASCII characters",
        )));
    }
    Ok(Some(text.to_string()))
}

fn fingerprint(method: &Method, req: &HttpRequest, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(method.as_str().as_bytes());
    h.update([0]);
    h.update(req.path().as_bytes());
    h.update([0]);
    h.update(req.query_string().as_bytes());
    h.update([0]);
    h.update(body);
    hex(&h.finalize())
}

/// Runs a write. With an Idempotency-Key, the key is claimed first; the effect and the
/// recorded answer commit in one transaction; a replay answers the first response with
/// `Idempotent-Replayed: true`. The handler's own 404/409/412/422 are recorded and replayed
/// too; anything else (a 5xx) gives the key back so that a retry runs again.
pub async fn write(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    caller: &Caller,
    body: &[u8],
    f: impl FnOnce(&mut Conn) -> Result<Reply, Error> + Send + 'static,
) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    let Some(key) = idempotency_key(req)? else {
        let reply = web::block(move || {
            let mut conn = store.conn()?;
            f(&mut conn)
        })
        .await??;
        return Ok(reply.into_response());
    };
    let print = fingerprint(req.method(), req, body);
    let owner = caller.name.clone();
    let replays = state.metrics.replays.clone();
    let outcome = web::block(move || -> Result<Reply, ApiError> {
        let mut conn = store.conn()?;
        match idempotency::claim(&mut conn, &owner, &key, &print, now())? {
            Claim::Replay(r) => {
                replays.inc();
                return Ok(
                    Reply::from_recorded(r).with_header("idempotent-replayed", "true".into())
                );
            }
            Claim::InFlight => return Err(ApiError::IdempotencyInFlight),
            Claim::Reused => return Err(ApiError::IdempotencyReused),
            Claim::Fresh => {}
        }
        let result = crate::store::sqlite::write_tx(&mut conn, |c| {
            let reply = f(c)?;
            idempotency::complete(c, &owner, &key, &reply.recorded())?;
            Ok(reply)
        });
        match result {
            Ok(reply) => Ok(reply),
            Err(e) => {
                let api = ApiError::Wire(e);
                if api.is_replayed() {
                    let parts = api.recorded_parts();
                    crate::store::sqlite::write_tx(&mut conn, |c| {
                        idempotency::complete(c, &owner, &key, &parts)
                    })?;
                } else {
                    let _ = idempotency::release(&mut conn, &owner, &key);
                }
                Err(api)
            }
        }
    })
    .await??;
    Ok(outcome.into_response())
}

impl ApiError {
    /// The response of an error as a record to replay.
    fn recorded_parts(&self) -> Recorded {
        use actix_web::ResponseError;
        Recorded {
            status: self.status_code().as_u16(),
            headers: vec![("content-type".into(), "application/problem+json".into())],
            body: serde_json::to_vec(&self.problem()).unwrap_or_default(),
        }
    }
}

/// `?limit=&after=` of every list.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    pub limit: Option<String>,
    pub after: Option<String>,
}

/// A checked page request: at most `limit` items after the cursor's key.
#[derive(Debug, Clone)]
pub struct Page {
    pub limit: usize,
    pub after: Option<String>,
    /// What the cursor is bound to (the list's filters).
    binding: String,
}

impl Page {
    /// Checks `limit` (1–500, default 100) and decodes `after`, which must have been made for
    /// the same filters (`binding`).
    pub fn check(
        limit: Option<&str>,
        after: Option<&str>,
        binding: &str,
    ) -> Result<Page, ApiError> {
        let limit = match limit {
            None => 100,
            Some(t) => match t.parse::<usize>() {
                Ok(n) if (1..=500).contains(&n) => n,
                _ => {
                    return Err(ApiError::Wire(Error::unparseable(
                        "limit",
                        "must be a whole number from 1 to 500",
                    )))
                }
            },
        };
        let binding = bind(binding);
        let after = match after {
            None => None,
            Some(c) => Some(decode_cursor(c, &binding).ok_or_else(|| {
                ApiError::Wire(Error::unparseable(
                    "after",
                    "is not a cursor of this list with these filters",
                ))
            })?),
        };
        Ok(Page {
            limit,
            after,
            binding,
        })
    }

    /// The answer `{data, has_more, next_after}` of `items` fetched with `limit + 1`.
    pub fn answer<T: Serialize>(
        &self,
        mut items: Vec<T>,
        key: impl Fn(&T) -> String,
    ) -> Listing<T> {
        let has_more = items.len() > self.limit;
        items.truncate(self.limit);
        let next_after = items.last().map(|i| encode_cursor(&key(i), &self.binding));
        Listing {
            data: items,
            has_more,
            next_after,
        }
    }
}

/// A page of a list.
#[derive(Debug, Serialize)]
pub struct Listing<T> {
    pub data: Vec<T>,
    pub has_more: bool,
    pub next_after: Option<String>,
}

fn bind(filters: &str) -> String {
    hex(&Sha256::digest(filters.as_bytes())[..4])
}

fn encode_cursor(key: &str, binding: &str) -> String {
    let mut cursor = String::with_capacity(binding.len() + 2 * key.len());
    cursor.push_str(binding);
    cursor.push_str(&hex(key.as_bytes()));
    cursor
}

fn decode_cursor(cursor: &str, binding: &str) -> Option<String> {
    let hex = cursor.strip_prefix(binding)?;
    if hex.is_empty() || hex.len() % 2 != 0 || hex.len() > 600 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_back() {
        let binding = bind("credits/acme");
        let cursor = encode_cursor("cre_42", &binding);
        assert_eq!(decode_cursor(&cursor, &binding).as_deref(), Some("cre_42"));
    }
}
