//! Rendering: the template environment (minijinja, HTML auto-escaping for every `.html`
//! template), the navigation by role, and the pages an action answers instead of its result
//! (sign in, 403, 404, the problems of a form) — never a 500 for a person's mistake.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use minijinja::{context, AutoEscape, Environment, Value};
use serde::Serialize;

use crate::http::error::ApiError;
use crate::wire::keys::{Access, Role};
use crate::wire::Error;

use super::guard::Signed;
use super::session::Sessions;

/// Every template, embedded in the binary.
pub const TEMPLATES: &[(&str, &str)] = &[
    (
        "base.html",
        include_str!("../../templates/console/base.html"),
    ),
    (
        "signin.html",
        include_str!("../../templates/console/signin.html"),
    ),
    (
        "customers.html",
        include_str!("../../templates/console/customers.html"),
    ),
    (
        "customer.html",
        include_str!("../../templates/console/customer.html"),
    ),
    (
        "incidents.html",
        include_str!("../../templates/console/incidents.html"),
    ),
    (
        "incident.html",
        include_str!("../../templates/console/incident.html"),
    ),
    (
        "imports.html",
        include_str!("../../templates/console/imports.html"),
    ),
    (
        "import.html",
        include_str!("../../templates/console/import.html"),
    ),
    (
        "exports.html",
        include_str!("../../templates/console/exports.html"),
    ),
    (
        "export.html",
        include_str!("../../templates/console/export.html"),
    ),
    (
        "notice.html",
        include_str!("../../templates/console/notice.html"),
    ),
    (
        "error.html",
        include_str!("../../templates/console/error.html"),
    ),
];

/// What the console keeps for the life of the server: the sessions and the templates.
pub struct Console {
    pub sessions: Sessions,
    /// Uploaded files whose dry run was clean, waiting for confirmation.
    pub uploads: super::imports::Uploads,
    env: Environment<'static>,
}

impl Console {
    /// Loads the embedded templates (a broken template fails the start, not a request).
    pub fn new() -> Result<Console, String> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        for (name, text) in TEMPLATES {
            env.add_template(name, text)
                .map_err(|e| format!("template {name}: {e}"))?;
        }
        Ok(Console {
            sessions: Sessions::default(),
            uploads: super::imports::Uploads::default(),
            env,
        })
    }

    /// Renders a page: the template with the page's values and the frame's (who is signed
    /// in, the navigation, the CSRF token of the forms).
    pub fn page(
        &self,
        status: StatusCode,
        name: &str,
        signed: Option<&Signed>,
        values: Value,
    ) -> HttpResponse {
        let frame = match signed {
            Some(s) => context! {
                me => context! { name => s.caller.name.clone(), role => s.caller.role.as_str() },
                csrf => s.csrf.clone(),
                nav => nav(s.caller.role),
            },
            None => context! { me => Value::from(()), csrf => "", nav => Vec::<NavItem>::new() },
        };
        let ctx = context! { ..values, ..frame };
        let rendered = self.env.get_template(name).and_then(|t| t.render(ctx));
        match rendered {
            Ok(html) => HttpResponse::build(status)
                .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
                .body(html),
            Err(e) => {
                tracing::error!(template = name, error = %e, "console template failed");
                HttpResponse::InternalServerError()
                    .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
                    .body("The console failed; the failure is logged.")
            }
        }
    }

    /// The page an action answers when it cannot give its result.
    pub fn fail(&self, signed: Option<&Signed>, fail: Fail) -> HttpResponse {
        match fail {
            Fail::SignIn { next } => HttpResponse::SeeOther()
                .insert_header((header::LOCATION, sign_in_location(&next)))
                .finish(),
            Fail::Forbidden(detail) => self.error_page(
                signed,
                StatusCode::FORBIDDEN,
                "Your key's role may not do this",
                &detail,
                Vec::new(),
            ),
            Fail::Csrf => self.error_page(
                signed,
                StatusCode::FORBIDDEN,
                "The form could not be checked",
                "It expired or did not come from this console. Reload the page and try again.",
                Vec::new(),
            ),
            Fail::Wire(e) => {
                let api = ApiError::Wire(e);
                let p = api.problem();
                let items = p
                    .errors
                    .into_iter()
                    .map(|i| Problem {
                        field: match (i.field, i.row, i.column) {
                            (Some(f), _, _) => f,
                            (None, Some(r), Some(c)) => format!("row {r}, {c}"),
                            _ => String::new(),
                        },
                        message: i.message,
                    })
                    .collect();
                self.error_page(signed, api.status_code(), &p.title, &p.detail, items)
            }
        }
    }

    fn error_page(
        &self,
        signed: Option<&Signed>,
        status: StatusCode,
        title: &str,
        detail: &str,
        problems: Vec<Problem>,
    ) -> HttpResponse {
        self.page(
            status,
            "error.html",
            signed,
            context! { title => title, detail => detail, problems => problems, status => status.as_u16() },
        )
    }
}

/// `/?next=PATH` for a path on this site only (never another host).
fn sign_in_location(next: &str) -> String {
    if next.is_empty() || next == "/" || !safe_next(next) {
        return "/".into();
    }
    let enc: String = next
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("/?next={enc}")
}

/// A local path: one leading slash, no scheme or host, no backslash.
pub fn safe_next(next: &str) -> bool {
    next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control)
}

/// One problem of a form, for the page.
#[derive(Debug, Serialize)]
pub struct Problem {
    pub field: String,
    pub message: String,
}

/// Why an action gives no result.
#[derive(Debug)]
pub enum Fail {
    /// No live session: to the sign-in page, then back here.
    SignIn { next: String },
    /// The key's role may not (the message says what).
    Forbidden(String),
    /// The form's CSRF token is missing or wrong, or it came from another site.
    Csrf,
    /// Anything the API would answer as a problem.
    Wire(Error),
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail::Wire(e)
    }
}

/// A store call's result from the blocking pool, its failure as the console shows it.
pub fn settled<T>(r: Result<Result<T, Error>, actix_web::error::BlockingError>) -> Result<T, Fail> {
    Ok(r??)
}

impl From<actix_web::error::BlockingError> for Fail {
    fn from(e: actix_web::error::BlockingError) -> Self {
        Fail::Wire(Error::internal_from("worker pool", e))
    }
}

/// A link of the navigation.
#[derive(Debug, Clone, Serialize)]
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
}

/// The pages a role may open (every page checks again on the server).
pub fn nav(role: Role) -> Vec<NavItem> {
    let mut items = vec![
        NavItem {
            href: "/customers",
            label: "Customers",
        },
        NavItem {
            href: "/incidents",
            label: "Incidents",
        },
    ];
    // Every role may read the history of imports and exports; only finance and admin get
    // their write controls (the pages show none to the others).
    items.push(NavItem {
        href: "/imports",
        label: "Imports",
    });
    items.push(NavItem {
        href: "/exports",
        label: "Exports",
    });
    items.retain(|_| role.may(Access::Read));
    items
}
