//! The run history and the rules of the jobs that ran.

use super::{layout, query, text_filter};
use crate::serve::auth::Session;
use crate::serve::{App, Fail};
use crate::store::alerts::{self};
use crate::store::runs;
use axum::extract::{Query, State};
use axum::response::Html;
use maud::{html, Markup};
use std::sync::Arc;

pub(super) fn runs_table(rows: &[runs::RunRow]) -> Markup {
    if rows.is_empty() {
        return html! { p.muted { "No runs recorded." } };
    }
    html! {
        table.runs {
            tr { th.n { "Run" } th { "Job" } th { "Started (UTC)" } th { "Finished (UTC)" } th { "Status" } th.n { "Records" } th.n { "Rejected" } th.n { "Alerts" } th.n { "Seconds" } th { "Host" } }
            @for r in rows {
                tr {
                    td.n { (r.id) } td { (r.job) } td { (r.started) } td { (r.finished) }
                    td class=(if r.status == "ok" { "ok" } else if r.status.contains("failed") { "bad" } else { "muted" }) { (r.status) }
                    td.n { (r.records) } td.n { (r.rejected) } td.n { (r.alerts) }
                    td.n { @match r.duration_ms { Some(ms) => (format!("{:.1}", ms as f64 / 1000.0)), None => "-" } }
                    td { (r.host) }
                }
            }
        }
    }
}

#[derive(serde::Deserialize)]
pub struct RunQuery {
    job: Option<String>,
}

pub async fn runs(
    State(app): State<Arc<App>>,
    s: Session,
    Query(q): Query<RunQuery>,
) -> Result<Html<String>, Fail> {
    let job = text_filter("job", &q.job)?;
    let j = job.clone();
    let rows = app.db(move |c| runs::history(c, j.as_deref(), 200)).await?;
    let body = html! {
        form.filters method="get" action="/runs" {
            label { "Job" input name="job" value=[job] size="16"; }
            button type="submit" { "Filter" }
        }
        p.muted { "The newest 200, newest first." }
        (runs_table(&rows.into_iter().rev().collect::<Vec<_>>()))
    };
    Ok(layout("Runs", &s, "Runs", body))
}

pub async fn rules(State(app): State<Arc<App>>, s: Session) -> Result<Html<String>, Fail> {
    let rows = app.db(alerts::rules).await?;
    let body = html! {
        @if rows.is_empty() { p.muted { "No rules recorded: a job's rules are stored when it runs with a database." } } @else {
            p.muted { "Each job's rules as it last ran." }
            table {
                tr { th { "Job" } th { "Rule" } th { "Type" } th { "Definition" } }
                @for r in &rows {
                    tr {
                        td { (r.job) }
                        td { a href=(format!("/alerts{}", query(&[("job", Some(r.job.clone())), ("rule", Some(r.rule_id.clone()))]))) { code { (r.rule_id) } } }
                        td { (r.rule_type) }
                        td { pre { (r.definition) } }
                    }
                }
            }
        }
    };
    Ok(layout("Rules", &s, "Rules", body))
}
