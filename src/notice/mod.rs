//! The customer follow-up notice of a settled credit (docs/restitution.md): the five steps
//! of a good apology — an apology that takes responsibility; empathy; what happened and when
//! service was restored, in the customer's own zone; what is being done so it does not
//! happen again; the restitution, exact, with what it represents and how it is applied — and
//! how to reach a person.
//!
//! [`assemble`] is pure: it turns the stored customer, incident and entries into the
//! template's variables. [`render`] runs a MiniJinja template over them: the embedded copies
//! of `fixtures/templates/`, or a deployment's own directory of the same file names. HTML is
//! auto-escaped; Markdown is not.

use std::path::PathBuf;

use chrono::TimeZone;
use chrono_tz::Tz;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;
use serde_json::Value;

use crate::domain::book::{Customer, IncidentRecord};
use crate::domain::time::Nanos;
use crate::wire::credits::EntryView;
use crate::wire::Error;

/// The Markdown template's file name.
pub const MARKDOWN_TEMPLATE: &str = "notice.md.j2";
/// The HTML template's file name.
pub const HTML_TEMPLATE: &str = "notice.html.j2";

const EMBEDDED_MARKDOWN: &str = include_str!("../../fixtures/templates/notice.md.j2");
const EMBEDDED_HTML: &str = include_str!("../../fixtures/templates/notice.html.j2");

/// The sentence used when the incident's summary says nothing about prevention.
pub const NEUTRAL_PREVENTION: &str = "We are reviewing the causes of this incident and will put \
    changes in place to prevent it from happening again; we will tell you what we change.";

/// What a deployment sets for its notices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeSettings {
    /// A directory holding `notice.md.j2` and `notice.html.j2` to use instead of the embedded
    /// copies (env `SLA_CREDIT_TEMPLATES`).
    pub template_dir: Option<PathBuf>,
    /// Who apologises, as the sentence's subject (`we`, `Acme`).
    pub vendor: String,
    /// How to reach a person (env `SLA_CREDIT_CONTACT`).
    pub contact: String,
    /// The closing line.
    pub signature: String,
    /// How the credit is applied.
    pub applied: String,
}

impl Default for NoticeSettings {
    fn default() -> Self {
        NoticeSettings {
            template_dir: None,
            vendor: "we".into(),
            contact: "Reply to this message and a person on our support team will answer you \
                      directly; if you would rather talk, ask for a call and we will ring you."
                .into(),
            signature: "The support team".into(),
            applied: "as a credit on your next invoice".into(),
        }
    }
}

impl NoticeSettings {
    /// The defaults, with `SLA_CREDIT_TEMPLATES` and `SLA_CREDIT_CONTACT` where set.
    pub fn from_env() -> Self {
        let mut s = NoticeSettings::default();
        if let Some(dir) = std::env::var_os("SLA_CREDIT_TEMPLATES").filter(|d| !d.is_empty()) {
            s.template_dir = Some(PathBuf::from(dir));
        }
        if let Ok(c) = std::env::var("SLA_CREDIT_CONTACT") {
            if !c.trim().is_empty() {
                s.contact = c;
            }
        }
        s
    }
}

/// The notice's variables (docs/restitution.md lists them).
#[derive(Debug, Clone, Serialize)]
pub struct NoticeData {
    pub customer: CustomerPart,
    pub incident: IncidentPart,
    pub credits: Vec<CreditPart>,
    /// The sum of the credits, with the currency's minor digits.
    pub total: String,
    pub currency: String,
    pub applied: String,
    pub contact: String,
    pub vendor: String,
    pub signature: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CustomerPart {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub timezone: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct IncidentPart {
    pub id: String,
    pub title: String,
    pub summary: Option<String>,
    /// The summary's first sentence, or a sentence made from the title.
    pub what_happened: String,
    /// The rest of the summary, or [`NEUTRAL_PREVENTION`].
    pub prevention: String,
    /// In the customer's zone, with the zone's abbreviation and offset:
    /// `Monday 30 November 2026, 21:06 PST (UTC-08:00)`.
    pub started_local: String,
    pub ended_local: String,
    pub started_date: String,
    pub started_utc: String,
    pub ended_utc: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CreditPart {
    pub entry_id: String,
    pub period: String,
    pub amount: String,
    pub currency: String,
    /// What the credit is worth: `2 days of service (2 days × 29.00 USD ÷ 30 days = 1.93 USD)`
    /// or `10% of your fee of 100.00 USD for 2026-09`.
    pub represents: String,
    pub days: Option<u64>,
    pub percent: Option<String>,
}

fn local(t: Nanos, zone: Tz, pattern: &str) -> String {
    let secs = t.div_euclid(1_000_000_000);
    let nanos = u32::try_from(t.rem_euclid(1_000_000_000)).unwrap_or(0);
    match zone.timestamp_opt(secs, nanos) {
        chrono::LocalResult::Single(dt) => dt.format(pattern).to_string(),
        _ => crate::domain::time::format_utc(t),
    }
}

const LONG: &str = "%A %-d %B %Y, %H:%M %Z (UTC%:z)";

/// Splits a summary into its first sentence and the rest.
fn split_summary(summary: Option<&str>, title: &str) -> (String, String) {
    let text = summary.map(str::trim).unwrap_or("");
    if text.is_empty() {
        return (
            format!("the {title} interrupted the service."),
            NEUTRAL_PREVENTION.into(),
        );
    }
    let cut = text
        .char_indices()
        .find(|(i, ch)| {
            matches!(ch, '.' | '!' | '?') && text[i + 1..].starts_with(char::is_whitespace)
        })
        .map(|(i, _)| i + 1);
    match cut {
        Some(i) if !text[i..].trim().is_empty() => {
            (text[..i].to_string(), text[i..].trim().to_string())
        }
        _ => {
            let mut first = text.to_string();
            if !first.ends_with(['.', '!', '?']) {
                first.push('.');
            }
            (first, NEUTRAL_PREVENTION.into())
        }
    }
}

fn text_of<'a>(v: &'a Value, field: &str) -> Option<&'a str> {
    v.get(field).and_then(Value::as_str)
}

/// What an entry's credit represents, from its breakdown (docs/rules.md §7).
fn represents(
    e: &EntryView,
    cur: crate::domain::money::Currency,
) -> (String, Option<u64>, Option<String>) {
    let b = &e.breakdown;
    let whole_credit = text_of(b, "credit") == Some(e.amount.as_str());
    let days = b.get("days_credited").and_then(Value::as_u64);
    if let (Some("days_of_service"), Some(n), true) = (text_of(b, "rule"), days, whole_credit) {
        let unit = if n == 1 { "day" } else { "days" };
        let why = text_of(b, "explanation").map_or(String::new(), |x| format!(" ({x})"));
        return (format!("{n} {unit} of service{why}"), Some(n), None);
    }
    let fee: Option<Decimal> = text_of(b, "fee").and_then(|f| f.parse().ok());
    let amount: Option<Decimal> = e.amount.parse().ok();
    let percent = match (text_of(b, "credit_percent"), whole_credit) {
        (Some(p), true) => p.parse::<Decimal>().ok(),
        _ => match (amount, fee) {
            (Some(a), Some(f)) if !f.is_zero() => a
                .checked_mul(Decimal::ONE_HUNDRED)
                .and_then(|x| x.checked_div(f))
                .map(|x| x.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)),
            _ => None,
        },
    };
    // The fee as the customer reads it: to the minor unit (the breakdown keeps it exact).
    let fee_shown = fee.map(|f| {
        cur.format(
            f.round_dp_with_strategy(cur.minor_units(), RoundingStrategy::MidpointAwayFromZero),
        )
    });
    match (percent, fee_shown) {
        (Some(p), Some(fee)) => {
            let p = p.normalize().to_string();
            (
                format!("{p}% of your fee of {fee} {} for {}", e.currency, e.period),
                None,
                Some(p),
            )
        }
        _ => (format!("for {}", e.period), None, None),
    }
}

/// One part per period: the net of the period's entries (a later correction is netted in,
/// never written to the customer as a negative credit), described by the latest entry's
/// breakdown (the period's current target); periods that net to nothing or less are left out.
fn net_parts(
    credits: &[EntryView],
    cur: crate::domain::money::Currency,
) -> Result<(Vec<CreditPart>, Decimal), Error> {
    let mut by_period: std::collections::BTreeMap<&str, (Decimal, &EntryView)> =
        std::collections::BTreeMap::new();
    for e in credits {
        let a: Decimal = e
            .amount
            .parse()
            .map_err(|_| Error::internal(format!("entry amount {:?}", e.amount)))?;
        let slot = by_period
            .entry(e.period.as_str())
            .or_insert((Decimal::ZERO, e));
        slot.0 = slot
            .0
            .checked_add(a)
            .ok_or_else(|| Error::internal("notice total overflows"))?;
        if crate::domain::ids::parse_entry_id(&e.id)
            > crate::domain::ids::parse_entry_id(&slot.1.id)
        {
            slot.1 = e;
        }
    }
    let mut sum = Decimal::ZERO;
    let mut parts = Vec::new();
    for (period, (net, latest)) in by_period {
        if net <= Decimal::ZERO {
            continue;
        }
        sum = sum
            .checked_add(net)
            .ok_or_else(|| Error::internal("notice total overflows"))?;
        let mut view = latest.clone();
        view.amount = cur.format(net);
        let (text, days, percent) = represents(&view, cur);
        parts.push(CreditPart {
            entry_id: latest.id.clone(),
            period: period.to_string(),
            amount: view.amount,
            currency: latest.currency.clone(),
            represents: text,
            days,
            percent,
        });
    }
    Ok((parts, sum))
}

/// The notice's variables for a customer's credits from one incident.
pub fn assemble(
    customer: &Customer,
    incident: &IncidentRecord,
    credits: &[EntryView],
    settings: &NoticeSettings,
) -> Result<NoticeData, Error> {
    let zone = customer.timezone;
    let (what_happened, prevention) = split_summary(incident.summary.as_deref(), &incident.title);
    let currency = credits
        .first()
        .map(|c| c.currency.clone())
        .ok_or_else(|| Error::internal("a notice needs at least one credit"))?;
    let cur = crate::domain::money::Currency::parse(&currency)
        .map_err(|m| Error::internal(format!("currency: {m}")))?;
    let (parts, sum) = net_parts(credits, cur)?;
    if parts.is_empty() {
        return Err(Error::conflict(
            crate::wire::ConflictKind::State,
            "entry",
            "the customer's credits from this incident net to nothing: there is no restitution \
             to write about",
        ));
    }
    Ok(NoticeData {
        customer: CustomerPart {
            id: customer.id.clone(),
            name: customer.name.clone(),
            email: customer.email.clone(),
            timezone: zone.name().to_string(),
        },
        incident: IncidentPart {
            id: incident.id.clone(),
            title: incident.title.clone(),
            summary: incident.summary.clone(),
            what_happened,
            prevention,
            started_local: local(incident.started_at, zone, LONG),
            ended_local: incident
                .ended_at
                .map_or_else(|| "(not yet restored)".into(), |t| local(t, zone, LONG)),
            started_date: local(incident.started_at, zone, "%-d %B %Y"),
            started_utc: crate::domain::time::format_utc(incident.started_at),
            ended_utc: incident.ended_at.map(crate::domain::time::format_utc),
        },
        credits: parts,
        total: cur.format(sum),
        currency,
        applied: settings.applied.clone(),
        contact: settings.contact.clone(),
        vendor: settings.vendor.clone(),
        signature: settings.signature.clone(),
    })
}

/// Which template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Html,
}

impl Format {
    pub fn template(self) -> &'static str {
        match self {
            Format::Markdown => MARKDOWN_TEMPLATE,
            Format::Html => HTML_TEMPLATE,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Markdown => "md",
            Format::Html => "html",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Markdown => "text/markdown; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
        }
    }
}

fn source(format: Format, settings: &NoticeSettings) -> Result<String, Error> {
    match &settings.template_dir {
        Some(dir) => {
            let path = dir.join(format.template());
            std::fs::read_to_string(&path)
                .map_err(|e| Error::internal(format!("notice template {}: {e}", path.display())))
        }
        None => Ok(match format {
            Format::Markdown => EMBEDDED_MARKDOWN,
            Format::Html => EMBEDDED_HTML,
        }
        .to_string()),
    }
}

/// Renders the notice.
pub fn render(
    data: &NoticeData,
    format: Format,
    settings: &NoticeSettings,
) -> Result<String, Error> {
    let mut env = minijinja::Environment::new();
    env.set_auto_escape_callback(move |_| match format {
        Format::Html => minijinja::AutoEscape::Html,
        Format::Markdown => minijinja::AutoEscape::None,
    });
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    env.add_template_owned(format.template(), source(format, settings)?)
        .map_err(|e| Error::internal(format!("notice template {}: {e}", format.template())))?;
    let t = env
        .get_template(format.template())
        .map_err(|e| Error::internal(format!("notice template: {e}")))?;
    t.render(data)
        .map_err(|e| Error::internal(format!("rendering {}: {e}", format.template())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_splits_into_what_happened_and_prevention() {
        let (a, b) = split_summary(Some("Disk full. We added alerts."), "Outage");
        assert_eq!(a, "Disk full.");
        assert_eq!(b, "We added alerts.");
        let (a, b) = split_summary(Some("Version 2.1 broke logins"), "Outage");
        assert_eq!(a, "Version 2.1 broke logins.");
        assert_eq!(b, NEUTRAL_PREVENTION);
        let (a, _) = split_summary(None, "API outage");
        assert_eq!(a, "the API outage interrupted the service.");
    }

    #[test]
    fn html_is_escaped_and_markdown_is_not() {
        let data = NoticeData {
            customer: CustomerPart {
                id: "x".into(),
                name: "<b>Tom & Jerry</b>".into(),
                email: None,
                timezone: "UTC".into(),
            },
            incident: IncidentPart {
                id: "i".into(),
                title: "Outage".into(),
                summary: None,
                what_happened: "x.".into(),
                prevention: "y.".into(),
                started_local: "a".into(),
                ended_local: "b".into(),
                started_date: "c".into(),
                started_utc: "d".into(),
                ended_utc: None,
            },
            credits: vec![],
            total: "0.00".into(),
            currency: "USD".into(),
            applied: "on the next invoice".into(),
            contact: "call".into(),
            vendor: "we".into(),
            signature: "s".into(),
        };
        let s = NoticeSettings::default();
        let html = render(&data, Format::Html, &s).unwrap_or_default();
        assert!(
            html.contains("&lt;b&gt;Tom &amp; Jerry&lt;&#x2f;b&gt;")
                || html.contains("&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;"),
            "{html}"
        );
        let md = render(&data, Format::Markdown, &s).unwrap_or_default();
        assert!(md.contains("<b>Tom & Jerry</b>"), "{md}");
    }
}
