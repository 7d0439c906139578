//! Silences: every signed-in user sees them (who made each, when, why,
//! until when, and the open incidents it covers); an admin adds and
//! expires them (forms with the session's token).

use super::layout;
use crate::clock::wall_clock;
use crate::parse::Timestamp;
use crate::serve::auth::{FormToken, Session};
use crate::serve::{App, Fail};
use crate::store::incidents::{self, IncidentRow};
use crate::store::silences::{self, Expired, SilenceRow};
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;

/// Open incidents listed under a silence (the count says if there are more).
const COVERED_SHOWN: usize = 20;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    /// `1`: the expired ones too.
    #[serde(default)]
    all: Option<String>,
}

pub async fn silences_page(
    State(app): State<Arc<App>>,
    s: Session,
    Query(q): Query<ListQuery>,
) -> Result<Html<String>, Fail> {
    let all = q.all.as_deref() == Some("1");
    let now = wall_clock();
    let (rows, covered) = app
        .db(move |c| {
            let rows = silences::list(c, all, now)?;
            let covered = incidents::covered(c, &rows)?;
            Ok((rows, covered))
        })
        .await?;
    let body = html! {
        p.muted {
            "While a silence is active (by the wall clock), the incidents its matcher takes are stored and shown but not notified; "
            "one still open when its silence ends is notified then, once. Matchers read an alert's labels: "
            code { "rule" } ", " code { "severity" } ", " code { "job" } ", " code { "service" } ", " code { "group.<key>" } "."
        }
        p {
            @if all { a href="/silences" { "Active and pending only" } }
            @else { a href="/silences?all=1" { "Show expired silences too" } }
        }
        (silence_table(&s, &rows, &covered, now))
        @if s.is_admin() { (add_form(&s)) } @else {
            p.muted { "An admin can add and expire silences." }
        }
    };
    Ok(layout("Silences", &s, "Silences", body))
}

fn silence_table(
    s: &Session,
    rows: &[SilenceRow],
    covered: &HashMap<i64, Vec<IncidentRow>>,
    now: i64,
) -> Markup {
    let ts = |t: i64| Timestamp::from_secs(t).to_rfc3339();
    if rows.is_empty() {
        return html! { p.muted { "No silences." } };
    }
    html! {
        table.silences {
            tr { th { "#" } th { "State" } th { "Match" } th { "From .. until (UTC)" } th { "By, when" } th { "Why" } th { "Covers (open incidents)" } th {} }
            @for r in rows {
                @let open = covered.get(&r.id).map(Vec::as_slice).unwrap_or_default();
                tr id=(format!("silence-{}", r.id)) {
                    td { (r.id) }
                    td {
                        @match r.state(now) {
                            "active" => span.bad { "active" },
                            "pending" => span.muted { "pending" },
                            _ => span.ok { "expired" },
                        }
                        @if let Some(by) = &r.expired_by { br; span.muted { "ended by " (by) } }
                    }
                    td { code { (r.matcher) } @if let Some(j) = &r.job { br; span.muted { "job " (j) " only" } } }
                    td { (ts(r.starts)) br; (ts(r.ends)) }
                    td {
                        @if r.origin == "job" { "the job file's [[silence]] " (r.ordinal.unwrap_or_default()) }
                        @else { (r.created_by) br; span.muted { (ts(r.created_at)) } }
                    }
                    td.msg { (r.comment) }
                    td {
                        (open.len())
                        @for i in open.iter().take(COVERED_SHOWN) {
                            " " a.incident href=(format!("/incidents/{}", i.id)) { (i.id) }
                        }
                    }
                    td {
                        @if s.is_admin() && r.origin != "job" && r.state(now) != "expired" {
                            form method="post" action=(format!("/silences/{}/expire", r.id)) {
                                input type="hidden" name="csrf" value=(s.csrf);
                                button type="submit" { "Expire" }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn add_form(s: &Session) -> Markup {
    html! {
        h2 { "Add a silence" }
        form.filters method="post" action="/silences" {
            input type="hidden" name="csrf" value=(s.csrf);
            label { "Match" input type="text" name="match" size="48" required placeholder="rule = \"web_volume\" and group.client_ip in 10.0.0.0/8"; }
            label { "For" input type="text" name="for" size="6" placeholder="2h"; }
            label { "or until (RFC 3339)" input type="text" name="until" size="22" placeholder="2026-12-24T06:00:00Z"; }
            label { "Why" input type="text" name="comment" size="36" required maxlength=(silences::MAX_COMMENT); }
            button type="submit" { "Silence" }
        }
    }
}

#[derive(Deserialize)]
pub struct AddForm {
    csrf: String,
    #[serde(rename = "match")]
    matcher: String,
    #[serde(rename = "for", default)]
    duration: String,
    #[serde(default)]
    until: String,
    comment: String,
}

fn admin(s: &Session, csrf: &str) -> Result<(), Fail> {
    s.check_form(csrf)?;
    if !s.is_admin() {
        return Err(Fail::Forbidden("Only an admin can add and expire silences.".into()));
    }
    Ok(())
}

pub async fn add_silence(
    State(app): State<Arc<App>>,
    s: Session,
    Form(f): Form<AddForm>,
) -> Result<Response, Fail> {
    admin(&s, &f.csrf)?;
    let duration = match f.duration.trim() {
        "" => None,
        d => match d.parse::<crate::config::HumanDuration>() {
            Ok(d) => Some(d.secs()),
            Err(_) => {
                return Err(Fail::BadRequest(
                    "The duration is not one such as 30m, 2h or 1d.".into(),
                ))
            }
        },
    };
    let request = silences::Request {
        matcher: &f.matcher,
        starts: None,
        duration,
        until: Some(f.until.trim()).filter(|t| !t.is_empty()),
        comment: &f.comment,
    };
    let now = wall_clock();
    let (matcher, starts, ends) = silences::check(&request, now)
        .map_err(|why| Fail::BadRequest(format!("This silence cannot be added: {why}.")))?;
    let (user, comment) = (s.user.clone(), f.comment.trim().to_string());
    app.db(move |c| {
        silences::add(
            c,
            &silences::NewSilence {
                matcher: &matcher,
                starts,
                ends,
                created_by: &user,
                comment: &comment,
                origin: "dashboard",
            },
        )
    })
    .await?;
    Ok(Redirect::to("/silences").into_response())
}

pub async fn expire_silence(
    State(app): State<Arc<App>>,
    s: Session,
    Path(id): Path<i64>,
    Form(f): Form<FormToken>,
) -> Result<Response, Fail> {
    admin(&s, &f.csrf)?;
    let user = s.user.clone();
    match app.db(move |c| silences::expire(c, id, &user, wall_clock())).await? {
        Expired::Done | Expired::Ended => Ok(Redirect::to("/silences").into_response()),
        Expired::JobFile(job) => Err(Fail::Conflict(format!(
            "This silence is a [[silence]] of job {job}: it ends when its file says."
        ))),
        Expired::Missing => Err(Fail::NotFound),
    }
}
