//! Notice previews: the follow-up letter of a settled credit entry, rendered exactly as
//! `GET /v1/credits/{entry_id}/notice` renders it (Markdown, the same templates and settings),
//! and an incident's letter to one customer over every entry its recorded settlements
//! appended (as `sla-credit notices` writes it). The page shows the text as text: the
//! console's templates escape it.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use minijinja::context;

use crate::domain::book::{Customer, IncidentRecord};
use crate::domain::ids::parse_entry_id;
use crate::notice::{self, Format, NoticeSettings};
use crate::store::{customers, incidents, settlements};
use crate::wire::credits::EntryView;
use crate::wire::Error;

use super::guard::signed;
use super::render::settled;
use crate::http::AppState;

/// What a notice page shows: whose letter, about what, and its text.
struct Letter {
    customer_id: String,
    customer_name: String,
    incident_id: String,
    incident_title: String,
    text: String,
}

impl Letter {
    /// The letter to `customer` about `incident` for `entries`, with the deployment's
    /// templates and settings.
    fn written(
        customer: &Customer,
        incident: &IncidentRecord,
        entries: &[EntryView],
    ) -> Result<Letter, Error> {
        let settings = NoticeSettings::from_env();
        let data = notice::assemble(customer, incident, entries, &settings)?;
        Ok(Letter {
            customer_id: customer.id.clone(),
            customer_name: customer.name.clone(),
            incident_id: incident.id.clone(),
            incident_title: incident.title.clone(),
            text: notice::render(&data, Format::Markdown, &settings)?,
        })
    }
}

fn show(state: &web::Data<AppState>, s: &super::Signed, what: String, l: Letter) -> HttpResponse {
    let title = format!("Notice to {}", l.customer_name);
    state.console.page(
        StatusCode::OK,
        "notice.html",
        Some(s),
        context! {
            title => title,
            what => what,
            customer_id => l.customer_id,
            customer_name => l.customer_name,
            incident_id => l.incident_id,
            incident_title => l.incident_title,
            text => l.text,
        },
    )
}

/// `GET /credits/{entry_id}/notice`: the notice of one settled credit entry.
pub async fn get_entry_notice(
    state: web::Data<AppState>,
    req: HttpRequest,
    entry: web::Path<String>,
) -> HttpResponse {
    let s = match signed(&state, &req).await {
        Ok(s) => s,
        Err(f) => return state.console.fail(None, f),
    };
    let text = entry.into_inner();
    let Some(id) = parse_entry_id(&text) else {
        return state
            .console
            .fail(Some(&s), Error::not_found("entry", text).into());
    };
    let store = state.store.clone();
    let made = web::block(move || {
        let mut c = store.conn()?;
        let (view, customer, incident) = settlements::notice_inputs(&mut c, id)?;
        Letter::written(&customer, &incident, std::slice::from_ref(&view))
    })
    .await;
    match settled(made) {
        Ok(l) => show(&state, &s, format!("entry {text}"), l),
        Err(f) => state.console.fail(Some(&s), f),
    }
}

/// `GET /incidents/{id}/notices/{customer}`: an incident's letter to one customer, over every
/// entry its recorded settlements appended for them.
pub async fn get_incident_notice(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let s = match signed(&state, &req).await {
        Ok(s) => s,
        Err(f) => return state.console.fail(None, f),
    };
    let (incident_id, customer_id) = path.into_inner();
    let store = state.store.clone();
    let made = web::block(move || {
        let mut c = store.conn()?;
        let incident = incidents::load_incident(&mut c, &incident_id)?
            .ok_or_else(|| Error::not_found("incident", incident_id.as_str()))?;
        let customer = customers::load_customer(&mut c, &customer_id)?
            .ok_or_else(|| Error::not_found("customer", customer_id.as_str()))?;
        let entries = settlements::settled_entries(&mut c, &incident.id, &customer.id)?;
        if entries.is_empty() {
            return Err(Error::not_found(
                "notice",
                format!("{} for {}", incident.id, customer.id),
            ));
        }
        Letter::written(&customer, &incident, &entries)
    })
    .await;
    match settled(made) {
        Ok(l) => {
            let what = format!("incident {}", l.incident_id);
            show(&state, &s, what, l)
        }
        Err(f) => state.console.fail(Some(&s), f),
    }
}
