//! What every console page checks first: a live session whose key still authenticates, the
//! key's role (the roles table of the HTTP contract), and for a POST, that the form came from
//! this console (its Origin, and the session's CSRF token in a hidden field).

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use serde::de::DeserializeOwned;

use crate::http::AppState;
use crate::store::keys::{self, Caller};
use crate::wire::keys::Access;
use crate::wire::Error;

use super::render::Fail;
use super::session::{cookie, same_secret, COOKIE};

/// A signed-in request: the session, and the key it runs for.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The session id (from the cookie).
    pub id: String,
    pub caller: Caller,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
}

/// Where a request came from, to come back to after signing in.
fn here(req: &HttpRequest) -> String {
    match req.query_string() {
        "" => req.path().to_string(),
        q => format!("{}?{q}", req.path()),
    }
}

/// The live session of a request, its key authenticated again (a revoked key ends it).
pub async fn signed(state: &web::Data<AppState>, req: &HttpRequest) -> Result<Signed, Fail> {
    let sign_in = || Fail::SignIn {
        next: if req.method() == actix_web::http::Method::GET {
            here(req)
        } else {
            String::new()
        },
    };
    let Some(id) = cookie(req, COOKIE) else {
        return Err(sign_in());
    };
    let Some(session) = state.console.sessions.touch(&id) else {
        return Err(sign_in());
    };
    let store = state.store.clone();
    let token = session.token.clone();
    let caller = web::block(move || {
        let mut conn = store.conn()?;
        keys::authenticate(&mut conn, &token)
    })
    .await??;
    match caller {
        Some(caller) => Ok(Signed {
            id,
            caller,
            csrf: session.csrf,
        }),
        None => {
            state.console.sessions.remove(&id);
            Err(sign_in())
        }
    }
}

/// The role may take this kind of action, or a 403 page saying what it may not.
pub fn require(signed: &Signed, access: Access, what: &str) -> Result<(), Fail> {
    if signed.caller.role.may(access) {
        Ok(())
    } else {
        Err(Fail::Forbidden(format!(
            "A {} key may not {what}.",
            signed.caller.role.as_str()
        )))
    }
}

/// A POST came from a page of this console: same Origin when the browser says one, and the
/// expected CSRF token.
pub fn check_form(req: &HttpRequest, expected: &str, given: Option<&str>) -> Result<(), Fail> {
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let origin_host = origin
            .to_str()
            .ok()
            .and_then(|o| o.split_once("://"))
            .map_or("", |(_, h)| h);
        if host.is_empty() || !origin_host.eq_ignore_ascii_case(host) {
            return Err(Fail::Csrf);
        }
    }
    match given {
        Some(t) if same_secret(t, expected) => Ok(()),
        _ => Err(Fail::Csrf),
    }
}

/// Reads an `application/x-www-form-urlencoded` body (a 400 page when it cannot be read).
pub fn form<T: DeserializeOwned>(body: &[u8]) -> Result<T, Fail> {
    serde_urlencoded::from_bytes(body)
        .map_err(|e| Fail::Wire(Error::unparseable("form", format!("cannot be read: {e}"))))
}
