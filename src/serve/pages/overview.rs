//! The overview page: volume and severities over the last hours, the
//! latest alerts and runs.

use super::runs::runs_table;
use super::{layout, query};
use crate::report::charts::{severity_chart, volume_chart};
use crate::serve::auth::Session;
use crate::serve::{App, Fail};
use crate::store::alerts::{self};
use crate::store::{overview, runs};
use axum::extract::{Query, State};
use axum::response::Html;
use maud::html;
use std::sync::Arc;

#[derive(serde::Deserialize)]
pub struct Span {
    hours: Option<i64>,
}

pub async fn overview(
    State(app): State<Arc<App>>,
    s: Session,
    Query(q): Query<Span>,
) -> Result<Html<String>, Fail> {
    let hours = q.hours.unwrap_or(24).clamp(1, 24 * 93);
    let data = app
        .db(move |c| {
            let recent = runs::history(c, None, 5)?;
            let Some((_, last)) = runs::data_range(c)? else { return Ok((None, recent)) };
            let since = last - hours * 3600 + 1;
            let o = overview::volume_counted(c, since, last)?;
            let shown = alerts::stored(c, None, since, last)?;
            let per_rule = alerts::per_rule(c, since, last)?;
            Ok((Some((since, last, o, shown, per_rule)), recent))
        })
        .await?;
    let (range, recent) = data;
    let body = html! {
        p {
            "Show the last "
            @for h in [1, 6, 24, 168, 720] {
                a href=(format!("/?hours={h}")) class=[(h == hours).then_some("on")] {
                    @if h < 24 { (h) " h" } @else { (h / 24) " d" }
                }
                " "
            }
            "of stored records."
        }
        @match &range {
            None => p.muted { "No records are stored yet: run a job with a database." },
            Some((since, last, o, shown, per_rule)) => {
                p.muted {
                    (crate::parse::Timestamp::from_secs(*since).to_rfc3339()) " .. "
                    (crate::parse::Timestamp::from_secs(*last).to_rfc3339()) " (the newest stored record)"
                }
                h2 { "Record volume per service" }
                (volume_chart(o, shown, false))
                h2 { "Severities over time" }
                (severity_chart(o))
                h2 { "Alerts per rule" }
                @if per_rule.is_empty() { p.muted { "No alerts in this span." } } @else {
                    table {
                        tr { th { "Job" } th { "Rule" } th.n { "Alerts" } th.n { "Not acknowledged" } th { "Newest window" } }
                        @for r in per_rule {
                            tr {
                                td { (r.job) }
                                td { a href=(format!("/alerts{}", query(&[("job", Some(r.job.clone())), ("rule", Some(r.rule_id.clone()))]))) { code { (r.rule_id) } } }
                                td.n { (r.alerts) } td.n { (r.open) } td { (r.newest) }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Latest runs" }
        (runs_table(&recent.into_iter().rev().collect::<Vec<_>>()))
    };
    Ok(layout("Overview", &s, "Overview", body))
}
