//! Migrations: the SQL files of `migrations/`, built into the binary,
//! applied in order, each in its own transaction, and recorded in
//! `schema_migrations`. A lock keeps two processes from migrating at once.

use postgres::Client;

/// (version, name, SQL), in order.
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "init", include_str!("../../migrations/0001_init.sql")),
    (2, "file_identity", include_str!("../../migrations/0002_file_identity.sql")),
    (3, "alerts_per_job", include_str!("../../migrations/0003_alerts_per_job.sql")),
    (4, "runs_pending_detection", include_str!("../../migrations/0004_runs_pending_detection.sql")),
    (5, "checkpoint_format", include_str!("../../migrations/0005_checkpoint_format.sql")),
    (6, "user_roles", include_str!("../../migrations/0006_user_roles.sql")),
    (7, "dashboard", include_str!("../../migrations/0007_dashboard.sql")),
    (8, "dashboard_at_scale", include_str!("../../migrations/0008_dashboard_at_scale.sql")),
    (9, "templates", include_str!("../../migrations/0009_templates.sql")),
    (10, "incidents", include_str!("../../migrations/0010_incidents.sql")),
    (11, "distributable_keys", include_str!("../../migrations/0011_distributable_keys.sql")),
    (12, "outbox_delivery", include_str!("../../migrations/0012_outbox_delivery.sql")),
    (13, "template_miner", include_str!("../../migrations/0013_template_miner.sql")),
    (14, "inhibited", include_str!("../../migrations/0014_inhibited.sql")),
    (15, "silences", include_str!("../../migrations/0015_silences.sql")),
];

/// How `db init --distributed` spreads the tables over a Citus cluster.
const DISTRIBUTE: &str = include_str!("../../migrations/citus.sql");

/// Whether the database has the `citus` extension.
pub fn has_citus(client: &mut Client) -> Result<bool, postgres::Error> {
    Ok(client.query_opt("SELECT 1 FROM pg_extension WHERE extname = 'citus'", &[])?.is_some())
}

/// Distributes the tables over the cluster (see `migrations/citus.sql`);
/// tables distributed already are left as they are. An error names what
/// is missing when the database is not a Citus coordinator.
pub fn distribute(client: &mut Client) -> anyhow::Result<()> {
    if !has_citus(client)? {
        anyhow::bail!(
            "--distributed needs the citus extension in this database: on the coordinator and \
             every worker, add citus to shared_preload_libraries and run CREATE EXTENSION citus; \
             then add the workers (SELECT citus_add_node(host, port))"
        );
    }
    let workers: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_dist_node WHERE noderole = 'primary' AND shouldhaveshards",
            &[],
        )?
        .get(0);
    if workers == 0 {
        anyhow::bail!(
            "--distributed: the cluster has no worker to hold shards; add them on the coordinator \
             with SELECT citus_add_node(host, port)"
        );
    }
    client.batch_execute(DISTRIBUTE)?;
    Ok(())
}

/// Whether `logs` is distributed (the database is a Citus cluster's).
pub fn is_distributed(client: &mut Client) -> Result<bool, postgres::Error> {
    if !has_citus(client)? {
        return Ok(false);
    }
    Ok(client
        .query_opt("SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'logs'::regclass", &[])?
        .is_some())
}

/// Advisory lock key for migrations ("LTMIGRAT").
const LOCK: i64 = 0x4c54_4d49_4752_4154;

fn ensure_table(client: &mut Client) -> Result<(), postgres::Error> {
    client.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    integer     PRIMARY KEY,
             name       text        NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
}

/// Versions applied so far.
pub fn applied(client: &mut Client) -> Result<Vec<i32>, postgres::Error> {
    ensure_table(client)?;
    Ok(client
        .query("SELECT version FROM schema_migrations ORDER BY version", &[])?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// Applies pending migrations; returns the names applied.
pub fn apply(client: &mut Client) -> Result<Vec<String>, postgres::Error> {
    client.execute("SELECT pg_advisory_lock($1)", &[&LOCK])?;
    let result = (|| {
        let done = applied(client)?;
        let mut names = Vec::new();
        for (version, name, sql) in MIGRATIONS {
            if done.contains(version) {
                continue;
            }
            let mut tx = client.transaction()?;
            tx.batch_execute(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                &[version, name],
            )?;
            tx.commit()?;
            names.push(format!("{version:04}_{name}"));
        }
        Ok(names)
    })();
    client.execute("SELECT pg_advisory_unlock($1)", &[&LOCK])?;
    result
}

/// Drops every LogTrack table (and its data).
pub fn reset(client: &mut Client) -> Result<(), postgres::Error> {
    client.batch_execute(
        "DROP TABLE IF EXISTS logs, log_minutes, log_hours, checkpoints, rejects, alerts, rules, runs, sessions, users, templates, known_values, outbox, incidents, schema_migrations CASCADE",
    )
}
