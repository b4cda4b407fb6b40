//! Console sessions (docs/console.md): signing in with an API key makes a server-side session
//! keyed by a random 256-bit id that travels only in an HttpOnly, SameSite=Strict cookie.
//! The session keeps the key's token in memory so that every request authenticates again — a
//! revoked key ends its sessions at once — and a per-session CSRF token that every POST form
//! carries in a hidden field.

use std::collections::HashMap;

use crate::domain::ids::hex;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::HttpRequest;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::wire::Error;

/// The session cookie.
pub const COOKIE: &str = "slc_console";
/// The cookie that carries the sign-in form's CSRF token before there is a session.
pub const PRE_COOKIE: &str = "slc_console_pre";
/// A session ends after this long without a request.
pub const IDLE: Duration = Duration::from_secs(8 * 60 * 60);
/// At most this many live sessions; signing in past it drops the oldest.
const MAX_SESSIONS: usize = 10_000;

/// One signed-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    /// The API key's token, to authenticate every request again.
    pub token: String,
    /// The CSRF token of this session's forms.
    pub csrf: String,
    last_seen: Instant,
}

/// The live sessions, shared by every worker (kept in the App state).
#[derive(Debug, Default)]
pub struct Sessions {
    by_id_sha256: Mutex<HashMap<String, Session>>,
}

/// 256 random bits as 64 hex digits.
pub fn random_hex() -> Result<String, Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::internal(format!("random id: {e}")))?;
    Ok(hex(&bytes))
}

/// The map is keyed by a digest of the id, so a lookup never compares the secret itself.
fn key_of(id: &str) -> String {
    hex(&Sha256::digest(id.as_bytes()))
}

/// Whether two secrets are equal, in constant time.
pub fn same_secret(a: &str, b: &str) -> bool {
    !a.is_empty() && a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

impl Sessions {
    /// Starts a session for a token; answers its id (for the cookie).
    pub fn create(&self, token: String) -> Result<(String, Session), Error> {
        let id = random_hex()?;
        let session = Session {
            token,
            csrf: random_hex()?,
            last_seen: Instant::now(),
        };
        let mut map = self
            .by_id_sha256
            .lock()
            .map_err(|_| Error::internal("session lock poisoned"))?;
        let now = Instant::now();
        map.retain(|_, s| now.duration_since(s.last_seen) < IDLE);
        if map.len() >= MAX_SESSIONS {
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(key_of(&id), session.clone());
        Ok((id, session))
    }

    /// The live session of an id, refreshed; an expired one is removed.
    pub fn touch(&self, id: &str) -> Option<Session> {
        let mut map = self.by_id_sha256.lock().ok()?;
        let key = key_of(id);
        let now = Instant::now();
        let live = map
            .get(&key)
            .is_some_and(|s| now.duration_since(s.last_seen) < IDLE);
        if !live {
            map.remove(&key);
            return None;
        }
        let s = map.get_mut(&key)?;
        s.last_seen = now;
        Some(s.clone())
    }

    /// Ends a session.
    pub fn remove(&self, id: &str) {
        if let Ok(mut map) = self.by_id_sha256.lock() {
            map.remove(&key_of(id));
        }
    }
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, Path=/ (and Secure over HTTPS).
/// `max_age` 0 clears it.
pub fn set_cookie(req: &HttpRequest, name: &str, value: &str, max_age: Option<u64>) -> String {
    let mut c = format!("{name}={value}; HttpOnly; SameSite=Strict; Path=/");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if req.connection_info().scheme() == "https" {
        c.push_str("; Secure");
    }
    c
}
