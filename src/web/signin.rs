//! Signing in with an API key, and out. The sign-in form is protected like every other one:
//! before there is a session, its CSRF token is a random value in a short-lived cookie of its
//! own, repeated in the form (so no other site can sign a browser in with its key).

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use minijinja::context;
use serde::Deserialize;

use crate::http::AppState;
use crate::store::keys;

use super::guard::{check_form, form, signed};
use super::render::{safe_next, Fail};
use super::session::{cookie, random_hex, set_cookie, COOKIE, IDLE, PRE_COOKIE};

/// `?next=` of the sign-in page.
#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

fn next_or_default(next: Option<&str>) -> String {
    next.filter(|n| safe_next(n) && *n != "/")
        .unwrap_or("/customers")
        .to_string()
}

/// `GET /`: the sign-in page, or straight on for a signed-in browser.
pub async fn get_home(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<NextQuery>,
) -> HttpResponse {
    let next = next_or_default(q.next.as_deref());
    if signed(&state, &req).await.is_ok() {
        return HttpResponse::SeeOther()
            .insert_header((header::LOCATION, next))
            .finish();
    }
    sign_in_page(&state, &req, StatusCode::OK, &next, None)
}

fn sign_in_page(
    state: &AppState,
    req: &HttpRequest,
    status: StatusCode,
    next: &str,
    error: Option<&str>,
) -> HttpResponse {
    let pre = match cookie(req, PRE_COOKIE) {
        Some(p) if p.len() == 64 && p.bytes().all(|b| b.is_ascii_hexdigit()) => p,
        _ => match random_hex() {
            Ok(p) => p,
            Err(e) => return state.console.fail(None, Fail::Wire(e)),
        },
    };
    let mut resp = state.console.page(
        status,
        "signin.html",
        None,
        context! { title => "Sign in", pre => pre.clone(), next => next, error => error },
    );
    if let Ok(v) = header::HeaderValue::from_str(&set_cookie(req, PRE_COOKIE, &pre, Some(3600))) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    next: Option<String>,
}

/// `POST /sign-in`: a valid key starts a session; anything else shows the form again.
pub async fn post_sign_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let f: SignInForm = match form(&body) {
        Ok(f) => f,
        Err(e) => return state.console.fail(None, e),
    };
    let pre = cookie(&req, PRE_COOKIE).unwrap_or_default();
    if let Err(e) = check_form(&req, &pre, f.csrf.as_deref()) {
        return state.console.fail(None, e);
    }
    let next = next_or_default(f.next.as_deref());
    let token = f.token.trim().to_string();
    let store = state.store.clone();
    let probe = token.clone();
    let caller = web::block(move || {
        let mut conn = store.conn()?;
        keys::authenticate(&mut conn, &probe)
    })
    .await;
    match caller {
        Ok(Ok(Some(_))) => {}
        Ok(Ok(None)) => {
            return sign_in_page(
                &state,
                &req,
                StatusCode::UNAUTHORIZED,
                &next,
                Some("That is not a live API key. Keys start with slc_."),
            )
        }
        Ok(Err(e)) => return state.console.fail(None, Fail::Wire(e)),
        Err(e) => return state.console.fail(None, e.into()),
    }
    let (id, _) = match state.console.sessions.create(token) {
        Ok(s) => s,
        Err(e) => return state.console.fail(None, Fail::Wire(e)),
    };
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, next))
        .append_header((
            header::SET_COOKIE,
            set_cookie(&req, COOKIE, &id, Some(IDLE.as_secs())),
        ))
        .append_header((
            header::SET_COOKIE,
            set_cookie(&req, PRE_COOKIE, "", Some(0)),
        ))
        .finish()
}

/// The sign-out form.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: Option<String>,
}

/// `POST /sign-out`: ends the session and clears the cookie.
pub async fn post_sign_out(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let s = match signed(&state, &req).await {
        Ok(s) => s,
        Err(_) => {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/"))
                .append_header((header::SET_COOKIE, set_cookie(&req, COOKIE, "", Some(0))))
                .finish()
        }
    };
    let checked =
        form::<CsrfForm>(&body).and_then(|f| check_form(&req, &s.csrf, f.csrf.as_deref()));
    if let Err(e) = checked {
        return state.console.fail(Some(&s), e);
    }
    state.console.sessions.remove(&s.id);
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/"))
        .append_header((header::SET_COOKIE, set_cookie(&req, COOKIE, "", Some(0))))
        .finish()
}
