//! The web console (docs/console.md): server-rendered pages for support agents and finance,
//! served by the same binary under `/`, beside the API. Pages are minijinja templates with
//! HTML auto-escaping (`templates/console/`, embedded); the script and the style sheet are
//! embedded files served from `/console/static/`; nothing is loaded from elsewhere.
//!
//! A page reads: session → role check → the same store calls and checked commands the API
//! runs (`crate::wire` forms, `crate::store`) → render. The page is no security boundary:
//! every page and action checks the key's role on the server (the roles table of the HTTP
//! contract, [`crate::wire::keys::Role::may`]), and every POST carries the session's CSRF
//! token.
//!
//! Adding a page: a module here with its handlers, its routes in [`register`], its templates
//! in `templates/console/` (listed in [`render::TEMPLATES`]), and a [`render::NavItem`] in
//! [`render::nav`] for the roles that may use it (imports and exports go there).

mod assets;
mod customers;
mod exports;
mod guard;
pub mod imports;
mod incidents;
mod notices;
pub mod render;
pub mod session;
mod signin;
mod upload;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{from_fn, Next};
use actix_web::web;

pub use guard::Signed;
pub use render::Console;

/// The Content-Security-Policy of every console answer: nothing inline, nothing from
/// elsewhere.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The console's routes, as one scope registered after the API's (so the API's routes win;
/// a path neither knows falls through to the API's 404).
pub fn register(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("")
            .wrap(from_fn(security_headers))
            .route("/", web::get().to(signin::get_home))
            .route("/sign-in", web::post().to(signin::post_sign_in))
            .route("/sign-out", web::post().to(signin::post_sign_out))
            .route("/customers", web::get().to(customers::get_customers))
            .route("/customers/{id}", web::get().to(customers::get_customer))
            .route(
                "/customers/{id}/goodwill",
                web::post().to(customers::post_goodwill),
            )
            .route("/incidents", web::get().to(incidents::get_incidents))
            .route("/incidents/{id}", web::get().to(incidents::get_incident))
            .route(
                "/incidents/{id}/settle",
                web::post().to(incidents::post_settle),
            )
            .route(
                "/incidents/{id}/notices/{customer}",
                web::get().to(notices::get_incident_notice),
            )
            .route(
                "/credits/{entry_id}/notice",
                web::get().to(notices::get_entry_notice),
            )
            .route("/imports", web::get().to(imports::get_imports))
            .route("/imports", web::post().to(imports::post_upload))
            .route("/imports/confirm", web::post().to(imports::post_confirm))
            .route("/imports/{id}", web::get().to(imports::get_import))
            .route("/exports", web::get().to(exports::get_exports))
            .route("/exports", web::post().to(exports::post_export))
            .route("/exports/{id}", web::get().to(exports::get_export))
            .route("/exports/{id}/csv", web::get().to(exports::get_export_csv))
            .route(
                "/exports/{id}/acknowledgement",
                web::post().to(exports::post_acknowledgement),
            )
            .route("/console/search", web::get().to(customers::get_search))
            .route("/console/static/{file}", web::get().to(assets::get_asset)),
    );
}

/// CSP, nosniff, no framing, no referrer to other sites (`same-origin`: with `no-referrer`
/// a browser sends `Origin: null` on a form POST, which the form check refuses), and no
/// caching of pages that show a ledger.
async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    if res.request().match_pattern().is_none() {
        // Not a console route: the API's 404 answers it, unchanged.
        return Ok(res);
    }
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(res)
}

fn now() -> crate::domain::time::Nanos {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
}
