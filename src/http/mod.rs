//! The HTTP API (docs/http.md): actix-web, thin handlers. A handler reads: extract → convert
//! to the checked command (`crate::wire`) → run the store call off the async workers →
//! respond. One route table ([`ROUTES`]) registers the routes and states each one's access;
//! the openapi test reads the same table.

mod credits;
mod customers;
pub mod error;
pub(crate) mod exports;
mod health;
mod imports;
mod incidents;
mod plans;
mod quote;
mod settlements;
pub mod support;

use std::net::TcpListener;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::{from_fn, ErrorHandlerResponse, ErrorHandlers, Next};
use actix_web::{web, App, HttpMessage, HttpRequest, HttpResponse, HttpServer};
use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};
use prometheus::{IntCounter, IntCounterVec, Opts};

use crate::store::keys::{self, Caller};
use crate::store::Store;
use crate::wire::keys::Access;

use error::ApiError;

/// Connections in the server's database pool unless told otherwise.
pub const DEFAULT_POOL_SIZE: u32 = 8;
/// SQLite's page cache per pooled connection of the server, in MiB, unless told otherwise.
pub const DEFAULT_PAGE_CACHE_MIB: u32 = 16;
/// MiB of the database file the server reads through a memory map unless told otherwise.
pub const DEFAULT_MMAP_MIB: u32 = 1024;

/// Everything the server is configured with; built once (tests build one with port 0).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to listen: `127.0.0.1:8080`; port 0 picks a free one.
    pub bind: String,
    /// The database URL.
    pub database: String,
    /// Connections in the pool.
    pub pool_size: u32,
    /// SQLite's page cache per pooled connection, in MiB.
    pub page_cache_mib: u32,
    /// MiB of the database file read through a memory map (0: none).
    pub mmap_mib: u32,
    /// Largest JSON body accepted, in bytes.
    pub json_limit: usize,
    /// HTTP worker threads (0: one per core).
    pub workers: usize,
    /// How long a verified API key is remembered in memory, in milliseconds (0: ask the
    /// database on every request). A revoked key stops working within this time.
    pub auth_cache_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bind: "127.0.0.1:8080".into(),
            database: "sqlite://sla-credit.db".into(),
            pool_size: DEFAULT_POOL_SIZE,
            page_cache_mib: DEFAULT_PAGE_CACHE_MIB,
            mmap_mib: DEFAULT_MMAP_MIB,
            json_limit: 8 * 1024 * 1024,
            workers: 0,
            auth_cache_ms: 1_000,
        }
    }
}

/// Counters beside the request metrics.
#[derive(Clone)]
pub struct Metrics {
    pub replays: IntCounter,
    pub credits_minor: IntCounterVec,
}

/// What handlers share.
pub struct AppState {
    pub store: Store,
    pub metrics: Metrics,
    pub settings: Settings,
    /// The web console's sessions and templates (`crate::web`).
    pub console: crate::web::Console,
    /// Keys verified recently, by the SHA-256 of their token (never the token itself).
    pub keys_seen:
        std::sync::Mutex<std::collections::HashMap<[u8; 32], (Caller, std::time::Instant)>>,
}

/// The caller a token belongs to: from memory if verified within `auth_cache_ms`, else
/// from the database (and remembered).
async fn caller_of(state: &web::Data<AppState>, token: &[u8]) -> Result<Option<Caller>, ApiError> {
    use sha2::{Digest, Sha256};
    let ttl = std::time::Duration::from_millis(state.settings.auth_cache_ms);
    let digest: [u8; 32] = Sha256::digest(token).into();
    if !ttl.is_zero() {
        if let Ok(seen) = state.keys_seen.lock() {
            if let Some((c, at)) = seen.get(&digest) {
                if at.elapsed() < ttl {
                    return Ok(Some(c.clone()));
                }
            }
        }
    }
    // A token that is not text names no key.
    let Ok(token) = std::str::from_utf8(token).map(str::to_string) else {
        return Ok(None);
    };
    let caller = support::read(state, move |c| keys::authenticate(c, &token)).await?;
    if let (Some(c), false) = (&caller, ttl.is_zero()) {
        if let Ok(mut seen) = state.keys_seen.lock() {
            if seen.len() > 10_000 {
                seen.clear();
            }
            seen.insert(digest, (c.clone(), std::time::Instant::now()));
        }
    }
    Ok(caller)
}

/// One route: method, path pattern, and who may call it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteSpec {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
}

macro_rules! routes {
    ($( $path:literal => { $( $method:ident $access:ident $handler:path ),+ $(,)? } ),+ $(,)?) => {
        /// Every route of the API, in one place.
        pub const ROUTES: &[RouteSpec] = &[
            $( $( RouteSpec { method: stringify!($method), path: $path, access: Access::$access }, )+ )+
        ];

        fn register(cfg: &mut web::ServiceConfig) {
            $(
                let allow = [$( stringify!($method) ),+].join(", ");
                cfg.service(
                    web::resource($path)
                        $( .route(web::method(Method::$method).to($handler)) )+
                        .default_service(web::to(move || {
                            let allow = allow.clone();
                            async move { Err::<HttpResponse, _>(ApiError::MethodNotAllowed(allow)) }
                        }))
                        .wrap(from_fn(|req: ServiceRequest, next: Next<BoxBody>| {
                            authorize(req, next, $path)
                        })),
                );
            )+
        }
    };
}

routes! {
    "/healthz" => { GET Public health::get_health },
    "/metrics" => { GET Public health::get_metrics_placeholder },
    "/openapi.yaml" => { GET Public health::get_openapi },
    "/problems/{slug}" => { GET Public health::get_problem },
    "/v1/quote" => { POST Read quote::post_quote },
    "/v1/plans" => { POST WriteBook plans::post_plan, GET Read plans::list_plans },
    "/v1/plans/{id}" => { GET Read plans::get_plan, PUT WriteBook plans::put_plan },
    "/v1/customers" => { POST WriteBook customers::post_customer, GET Read customers::list_customers },
    // The router tries resources in this order, each pattern with a parameter by a regular
    // expression: the support view, the most called of these, comes first.
    "/v1/customers/{id}/credits" => { GET Read credits::get_customer_credits, POST Credit credits::post_goodwill },
    "/v1/customers/{id}" => { GET Read customers::get_customer },
    "/v1/customers/{id}/plan-changes" => { POST WriteBook customers::post_plan_change },
    "/v1/incidents" => { POST WriteBook incidents::post_incident, GET Read incidents::list_incidents },
    "/v1/incidents/{id}" => { GET Read incidents::get_incident, PATCH WriteBook incidents::patch_incident },
    // Every role may dry-run; the handler asks for Settle when `dry_run` is false.
    "/v1/incidents/{id}/credits" => { POST Read settlements::post_incident_credits },
    "/v1/settlements/{id}" => { GET Read settlements::get_settlement },
    "/v1/settlements/{id}/lines" => { GET Read settlements::list_settlement_lines },
    "/v1/policy-presets" => { GET Read settlements::list_policy_presets },
    "/v1/credits/{entry_id}" => { GET Read credits::get_entry },
    "/v1/credits/{entry_id}/notice" => { GET Read settlements::get_notice },
    "/v1/credits/{entry_id}/reversal" => { POST Credit credits::post_reversal },
    "/v1/ledger" => { GET Read credits::list_ledger },
    "/v1/imports" => { GET Read imports::list_imports },
    // One resource for both: POST names the kind to import, GET an import's id.
    "/v1/imports/{id}" => { POST Transfer imports::post_import, GET Read imports::get_import },
    "/v1/exports" => { POST Transfer exports::post_export, GET Read exports::list_exports },
    "/v1/exports/{id}.csv" => { GET Transfer exports::get_export_csv },
    "/v1/exports/{id}" => { GET Read exports::get_export },
    "/v1/exports/{id}/acknowledgement" => { POST Transfer exports::post_acknowledgement },
}

/// The route of a method on a resource, if the resource answers that method.
fn route_of(method: &Method, pattern: &str) -> Option<&'static RouteSpec> {
    ROUTES
        .iter()
        .find(|r| r.path == pattern && r.method == method.as_str())
}

/// The bearer token of a request (read as bytes: a token is ASCII, and anything else simply
/// matches no key).
fn bearer(req: &ServiceRequest) -> Option<&[u8]> {
    let v = req.headers().get(header::AUTHORIZATION)?.as_bytes();
    let space = v.iter().position(|&b| b == b' ')?;
    let (scheme, token) = (&v[..space], &v[space + 1..]);
    scheme
        .eq_ignore_ascii_case(b"bearer")
        .then(|| token.trim_ascii())
}

/// Authentication and the role matrix, from the route table: wraps each resource, so it runs
/// once the router has chosen the resource (`pattern`) and never matches the path itself. A
/// method the resource does not answer is public: its 405 needs no key.
async fn authorize(
    req: ServiceRequest,
    next: Next<BoxBody>,
    pattern: &'static str,
) -> Result<ServiceResponse<EitherBody<BoxBody>>, actix_web::Error> {
    let spec = route_of(req.method(), pattern);
    let access = spec.map_or(Access::Public, |s| s.access);
    if access == Access::Public {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    }
    let fail = |req: ServiceRequest, e: ApiError| {
        let resp = actix_web::ResponseError::error_response(&e);
        Ok(req.into_response(resp).map_into_right_body())
    };
    let Some(token) = bearer(&req) else {
        return fail(req, ApiError::Unauthorized);
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return fail(req, ApiError::Unauthorized);
    };
    let caller = caller_of(&state, token).await;
    let caller = match caller {
        Ok(Some(c)) => c,
        Ok(None) => return fail(req, ApiError::Unauthorized),
        Err(e) => return fail(req, e),
    };
    if !caller.role.may(access) {
        return fail(req, ApiError::Forbidden(caller.role.as_str()));
    }
    req.extensions_mut().insert(caller);
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// Any error response that is not problem+json yet (the framework's own 400, 404, 413…)
/// becomes one. The web console's pages for people (HTML, its JSON search, its files) are
/// left as they are.
fn problem_for_framework_errors<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/problem+json") || v.starts_with("text/html"));
    let is_console = res.headers().contains_key(header::CONTENT_SECURITY_POLICY);
    if is_problem || is_console {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let e = match status.as_u16() {
        404 => ApiError::NoRoute(res.request().path().to_string()),
        413 => ApiError::PayloadTooLarge(
            res.request()
                .app_data::<web::Data<AppState>>()
                .map_or(0, |s| s.settings.json_limit),
        ),
        500..=599 => ApiError::Wire(crate::wire::Error::internal(format!(
            "framework error {status}"
        ))),
        _ => ApiError::Wire(crate::wire::Error::unparseable(
            "request",
            status.canonical_reason().unwrap_or("bad request"),
        )),
    };
    let (req, _) = res.into_parts();
    let resp: HttpResponse<BoxBody> = actix_web::ResponseError::error_response(&e);
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, resp).map_into_right_body(),
    ))
}

/// Echoes the request id tracing-actix-web assigned as `X-Request-Id`.
async fn request_id_header(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .extensions()
        .get::<tracing_actix_web::RequestId>()
        .map(ToString::to_string);
    let mut res = next.call(req).await?;
    if let Some(id) = id.and_then(|i| header::HeaderValue::from_str(&i).ok()) {
        res.headers_mut()
            .insert(header::HeaderName::from_static("x-request-id"), id);
    }
    Ok(res)
}

fn metrics() -> std::io::Result<(PrometheusMetrics, Metrics)> {
    let prom = PrometheusMetricsBuilder::new("sla_credit")
        .endpoint("/metrics")
        .mask_unmatched_patterns("UNMATCHED")
        .build()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let replays = IntCounter::new(
        "sla_credit_idempotent_replays_total",
        "Responses replayed for a repeated Idempotency-Key",
    )
    .map_err(std::io::Error::other)?;
    let credits_minor = IntCounterVec::new(
        Opts::new(
            "sla_credit_credits_issued_minor_total",
            "Credits issued through the API, in minor units, by currency",
        ),
        &["currency"],
    )
    .map_err(std::io::Error::other)?;
    prom.registry
        .register(Box::new(replays.clone()))
        .map_err(std::io::Error::other)?;
    prom.registry
        .register(Box::new(credits_minor.clone()))
        .map_err(std::io::Error::other)?;
    Ok((
        prom,
        Metrics {
            replays,
            credits_minor,
        },
    ))
}

/// A running server: where it listens, and how to wait for it.
pub struct Running {
    pub addr: std::net::SocketAddr,
    pub server: actix_web::dev::Server,
}

/// Opens the database, binds, and starts the server (it runs until SIGINT or SIGTERM, then
/// finishes in-flight requests).
pub fn start(settings: Settings) -> std::io::Result<Running> {
    let store = Store::open_for_serving(
        &settings.database,
        settings.pool_size,
        settings.page_cache_mib,
        settings.mmap_mib,
    )
    .map_err(|e| std::io::Error::other(e.to_string()))?;
    let listener = TcpListener::bind(&settings.bind)?;
    let addr = listener.local_addr()?;
    let (prom, counters) = metrics()?;
    let state = web::Data::new(AppState {
        store,
        metrics: counters,
        settings: settings.clone(),
        console: crate::web::Console::new().map_err(std::io::Error::other)?,
        keys_seen: std::sync::Mutex::default(),
    });
    let limit = settings.json_limit;
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(web::PayloadConfig::new(limit))
            .app_data(web::QueryConfig::default().error_handler(|e, _| {
                ApiError::Wire(crate::wire::Error::unparseable("query", e.to_string())).into()
            }))
            .configure(register)
            .configure(crate::web::register)
            .default_service(web::to(|req: HttpRequest| async move {
                Err::<HttpResponse, _>(ApiError::NoRoute(req.path().to_string()))
            }))
            .wrap(ErrorHandlers::new().default_handler(problem_for_framework_errors))
            .wrap(prom.clone())
            .wrap(from_fn(request_id_header))
            .wrap(tracing_actix_web::TracingLogger::default())
    })
    .listen(listener)?
    // `serve` handles SIGINT and SIGTERM itself, both gracefully.
    .disable_signals()
    .shutdown_timeout(30);
    if settings.workers > 0 {
        server = server.workers(settings.workers);
    }
    Ok(Running {
        addr,
        server: server.run(),
    })
}

/// Serves until a signal asks to stop.
pub fn serve(settings: Settings) -> std::io::Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    actix_web::rt::System::new().block_on(async move {
        let running = start(settings)?;
        tracing::info!(addr = %running.addr, "sla-credit listening");
        let handle = running.server.handle();
        actix_web::rt::spawn(async move {
            let signal = stop_signal().await;
            tracing::info!(
                signal,
                "stopping: in-flight requests finish, new ones are refused"
            );
            handle.stop(true).await;
        });
        running.server.await
    })
}

/// Waits for SIGINT or SIGTERM (either stops the server gracefully).
async fn stop_signal() -> &'static str {
    use actix_web::rt::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = actix_web::rt::signal::ctrl_c().await;
            return "SIGINT";
        }
    };
    tokio_select(actix_web::rt::signal::ctrl_c(), term.recv()).await
}

/// The first of two signal futures to complete.
async fn tokio_select(
    int: impl std::future::Future<Output = std::io::Result<()>>,
    term: impl std::future::Future<Output = Option<()>>,
) -> &'static str {
    let int = std::pin::pin!(int);
    let term = std::pin::pin!(term);
    match futures_util::future::select(int, term).await {
        futures_util::future::Either::Left(_) => "SIGINT",
        futures_util::future::Either::Right(_) => "SIGTERM",
    }
}

/// The caller a handler runs for (set by [`authorize`]).
pub fn caller(req: &HttpRequest) -> Result<Caller, ApiError> {
    req.extensions()
        .get::<Caller>()
        .cloned()
        .ok_or(ApiError::Unauthorized)
}
