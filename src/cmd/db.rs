//! `logtrack db init|migrate|status|reset|text-index|prune`: schema management.

use crate::cli::{DbCommand, Global};
use crate::config::{self, HumanDuration};
use crate::error::{redact_url, Exit};
use crate::store::{self, migrate};
use std::io::Write;

pub fn run(cmd: &DbCommand, g: &Global) -> anyhow::Result<Exit> {
    let msgs = g.messages();
    let url = config::database_url(g.database_url.as_deref(), g.config.as_deref())?;
    let mut client = store::connect(&url)?;
    match cmd {
        DbCommand::Init { .. } | DbCommand::Migrate => {
            let applied = migrate::apply(&mut client)?;
            if applied.is_empty() {
                msgs.info(&format!("{}: schema is up to date", redact_url(&url)));
            }
            for m in applied {
                msgs.info(&format!("applied migration {m}"));
            }
            if matches!(cmd, DbCommand::Init { distributed: true }) {
                migrate::distribute(&mut client)?;
                msgs.info("the tables are distributed over the cluster's workers");
            } else if migrate::has_citus(&mut client)? && !migrate::is_distributed(&mut client)? {
                msgs.warn(
                    "this database has the citus extension but its tables are not distributed: \
                     run `logtrack db init --distributed` to spread them over the workers",
                );
            }
        }
        DbCommand::Status => {
            let done = migrate::applied(&mut client)?;
            let mut out = std::io::stdout().lock();
            for (version, name, _) in migrate::MIGRATIONS {
                let state = if done.contains(version) { "applied" } else { "pending" };
                writeln!(out, "{version:04}_{name}\t{state}")?;
            }
            if done.contains(&1) {
                let row = client.query_one(
                    "SELECT (SELECT count(*) FROM logs), (SELECT count(*) FROM checkpoints),
                            (SELECT count(*) FROM rejects), (SELECT count(*) FROM alerts),
                            (SELECT count(*) FROM pg_inherits WHERE inhparent = 'logs'::regclass)",
                    &[],
                )?;
                let n = |i: usize| row.get::<_, i64>(i);
                writeln!(
                    out,
                    "logs: {} rows in {} partitions; checkpoints: {}; rejects: {}; alerts: {}",
                    n(0),
                    n(4),
                    n(1),
                    n(2),
                    n(3)
                )?;
                if migrate::is_distributed(&mut client)? {
                    let workers: i64 = client
                        .query_one(
                            "SELECT count(*) FROM pg_dist_node
                             WHERE noderole = 'primary' AND shouldhaveshards",
                            &[],
                        )?
                        .get(0);
                    writeln!(out, "distributed over {workers} Citus worker(s)")?;
                }
                writeln!(
                    out,
                    "text index: {}",
                    if store::has_text_index(&mut client)? { "yes" } else { "no" }
                )?;
                if done.contains(&10) {
                    let row = client.query_one(
                        "SELECT (SELECT count(*) FROM incidents WHERE state <> 'resolved'),
                                (SELECT count(*) FROM outbox WHERE sent_at IS NULL AND gave_up_at IS NULL)",
                        &[],
                    )?;
                    writeln!(
                        out,
                        "incidents not resolved: {}; notifications not delivered: {}",
                        row.get::<_, i64>(0),
                        row.get::<_, i64>(1)
                    )?;
                }
            }
        }
        DbCommand::Reset { yes } => {
            if !yes {
                msgs.error("db reset drops every LogTrack table and its data; pass --yes to do it");
                return Ok(Exit::Failed);
            }
            migrate::reset(&mut client)?;
            msgs.info(&format!("{}: every LogTrack table dropped", redact_url(&url)));
        }
        DbCommand::TextIndex { drop } => {
            migrate::apply(&mut client)?;
            store::text_index(&mut client, !drop)?;
            msgs.info(if *drop {
                "the text index is dropped: the logs page's text filter scans records"
            } else {
                "the text index is made: the logs page's text filter reads it (loading is slower)"
            });
        }
        DbCommand::Prune { older_than } => {
            let keep: HumanDuration = older_than.parse().map_err(anyhow::Error::msg)?;
            let now = crate::run::Now::parse(g.now.as_deref())?.at_or_wall_clock();
            let cutoff = now - keep.secs();
            let pruned = store::prune(&mut client, cutoff)?;
            for name in &pruned.partitions {
                msgs.info(&format!("dropped {name}"));
            }
            msgs.info(&format!(
                "{} partition(s) dropped with {} per-minute count(s), {} checkpoint(s) of files gone removed, {} value(s) new_value rules forgot (kept everything after {})",
                pruned.partitions.len(),
                pruned.minutes,
                pruned.checkpoints,
                pruned.forgotten,
                crate::parse::Timestamp::from_secs(cutoff)
            ));
        }
    }
    Ok(Exit::Ok)
}
