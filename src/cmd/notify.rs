//! `logtrack notify`: test every receiver, retry the outbox, or list what
//! is not delivered yet.

use crate::cli::{Global, NotifyArgs};
use crate::config::notify::ReceiverKind;
use crate::error::{Error, Exit};
use crate::notify::{self, Notification};
use crate::store;
use std::io::Write;

pub fn run(a: &NotifyArgs, g: &Global) -> anyhow::Result<Exit> {
    let msgs = g.messages();
    // Without --job, the site settings are the job (their [[notify]]).
    let path = match &a.job {
        Some(p) => p.clone(),
        None => {
            match crate::config::site_config(g.config.as_deref()).map_err(anyhow::Error::msg)? {
                Some(p) => p,
                None => anyhow::bail!("no job given (--job FILE) and no site settings file"),
            }
        }
    };
    let Some(job) = super::load_job(&path, g, &msgs) else { return Ok(Exit::Failed) };
    // Written with `?`: a closed stdout (`| head -1`) ends the command
    // quietly, as a broken pipe (see `main`).
    let mut out = std::io::stdout().lock();
    if job.notify.is_empty() {
        msgs.error(&format!("{}: no receivers: add a [[notify]] block", path.display()));
        return Ok(Exit::Failed);
    }
    if a.test {
        let mut failed = 0;
        for r in &job.notify {
            let mut n = Notification::test(&job.name);
            n.dashboard = r.dashboard_url.clone();
            let id = n.id.clone();
            let result = notify::deliver(r, std::slice::from_ref(&n), &id, None);
            // A paging service's test alert is closed again at once.
            let paging =
                matches!(r.kind, ReceiverKind::PagerDuty { .. } | ReceiverKind::Opsgenie { .. });
            let result = match result {
                Ok(refused) if paging => {
                    let resolved = Notification { event: "resolved".into(), ..n };
                    notify::deliver(r, &[resolved], &id, None).map(|_| refused)
                }
                other => other,
            };
            match result {
                Ok(refused) if refused.is_empty() => writeln!(out, "ok      {}", r.name)?,
                Ok(refused) => {
                    failed += 1;
                    for x in refused {
                        writeln!(
                            out,
                            "FAILED  {}: recipient {} refused: {}",
                            r.name, x.to, x.error
                        )?;
                    }
                }
                Err(e) => {
                    failed += 1;
                    writeln!(out, "FAILED  {}: {e}", r.name)?;
                }
            }
        }
        return Ok(if failed == 0 { Exit::Ok } else { Exit::Failed });
    }
    let url = job.database_url.as_deref().filter(|_| !g.no_db).ok_or(Error::NoDatabase)?;
    let mut client = store::open(url)?;
    if let Some(id) = a.requeue {
        if !crate::store::outbox::requeue(&mut client, &job.name, id)? {
            msgs.error(&format!(
                "{}: no given-up notification #{id} (logtrack notify --job lists them)",
                job.name
            ));
            return Ok(Exit::Failed);
        }
    }
    if a.retry || a.requeue.is_some() {
        for p in crate::store::outbox::give_up_overdue(&mut client, &job)? {
            msgs.error(&p);
        }
        let sent = crate::store::outbox::send_pending(&mut client, &job, a.retry)?;
        writeln!(out, "{} notification(s) sent", sent.sent)?;
        for f in sent.failed.iter().chain(&sent.parked) {
            writeln!(out, "FAILED  {f}")?;
        }
        if !sent.failed.is_empty() || !sent.parked.is_empty() {
            return Ok(Exit::Failed);
        }
    }
    let undelivered = crate::store::outbox::undelivered(&mut client, &job.name)?;
    let count = |state: &str| undelivered.iter().filter(|p| p.state == state).count();
    let (waiting, refused, given_up) = (count("pending"), count("refused"), count("given up"));
    if undelivered.is_empty() {
        writeln!(out, "{}: every notification is delivered", job.name)?;
    } else {
        writeln!(
            out,
            "{}: {waiting} notification(s) not delivered yet, {refused} refused (parked), {given_up} given up",
            job.name
        )?;
        for p in undelivered {
            let state = match (p.state, &p.next_attempt) {
                ("pending", Some(t)) => format!("waiting until {t}"),
                ("pending", None) => "waiting".to_string(),
                ("refused", _) => "refused, parked".to_string(),
                (other, _) => other.to_string(),
            };
            let to = p.recipients.map(|r| format!(" to {}", r.join(", "))).unwrap_or_default();
            writeln!(
                out,
                "  #{} {}{to}: {} of incident {}, made {}, {} attempt(s), {state}{}",
                p.id,
                p.receiver,
                p.event,
                p.incident.map_or("-".into(), |i| i.to_string()),
                p.created,
                p.attempts,
                p.last_error.map(|e| format!(": {e}")).unwrap_or_default()
            )?;
        }
    }
    Ok(Exit::Ok)
}
