//! Message templates per service: counts, first and last seen, and a
//! link to their records.

use super::{given, layout, query, text_filter, MAX_FILTER};
use crate::serve::auth::Session;
use crate::serve::{App, Fail};
use crate::store::templates;
use axum::extract::{Query, State};
use axum::response::Html;
use maud::html;
use std::sync::Arc;

#[derive(serde::Deserialize)]
pub struct TemplateQuery {
    service: Option<String>,
    sort: Option<String>,
}

/// Templates listed per page.
const TEMPLATE_PAGE: i64 = 500;

/// The longest constant part of a template: what its lines contain.
fn constant_part(template: &str) -> Option<String> {
    template
        .split(crate::template::mask::WILD)
        .map(str::trim)
        .max_by_key(|p| p.len())
        .filter(|p| !p.is_empty())
        .map(|p| p.chars().take(MAX_FILTER).collect())
}

pub async fn templates(
    State(app): State<Arc<App>>,
    s: Session,
    Query(q): Query<TemplateQuery>,
) -> Result<Html<String>, Fail> {
    let service = text_filter("service", &q.service)?;
    let newest = match given(&q.sort).as_deref() {
        None | Some("count") => false,
        Some("first_seen") => true,
        Some(other) => {
            return Err(Fail::BadRequest(format!("sort: {other:?} (expected count or first_seen)")))
        }
    };
    let svc = service.clone();
    let (services, rows) = app
        .db(move |c| {
            Ok((
                templates::services(c)?,
                templates::list(c, svc.as_deref(), newest, TEMPLATE_PAGE)?,
            ))
        })
        .await?;
    let body = html! {
        form.filters method="get" action="/templates" {
            label { "Service" select name="service" {
                option value="" { "any" }
                @for sv in &services { option value=(sv) selected[service.as_deref() == Some(sv.as_str())] { (sv) } }
            } }
            label { "Sort by" select name="sort" {
                option value="count" selected[!newest] { "count" }
                option value="first_seen" selected[newest] { "first seen (newest first)" }
            } }
            button type="submit" { "Filter" }
        }
        @if rows.is_empty() { p.muted { "No templates: they are stored as logs are loaded." } } @else {
            p.muted { "At most " (TEMPLATE_PAGE) ". A template's lines: the logs of its service since it was first seen that contain its longest constant part." }
            table.templates {
                tr { th { "Service" } th { "Template" } th.n { "Records" } th { "First seen (UTC)" } th { "Last seen (UTC)" } th { "Example" } }
                @for t in &rows {
                    tr {
                        td { (t.service) }
                        td {
                            a href=(format!("/logs{}", query(&[("service", Some(t.service.clone())), ("since", Some(t.first_seen.clone())), ("q", constant_part(&t.template))]))) { code { (t.template) } }
                            br; span.muted { (t.template_id) }
                        }
                        td.n { (t.count) }
                        td { (t.first_seen) }
                        td { (t.last_seen) }
                        td { @if let Some((path, line)) = &t.example { code { (path) ":" (line) } } }
                    }
                }
            }
        }
    };
    Ok(layout("Templates", &s, "Templates", body))
}
