//! The command line (clap derive types, and the messages their global
//! options ask for; the work is in `cmd`).

use crate::run::Messages;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "logtrack",
    version,
    about = "Batch log monitoring: parse logs, detect anomalies, write reports",
    after_help = "Examples:
  logtrack run jobs/quickstart.toml                   in memory, on the samples
  logtrack run job.toml --fail-on high --junit j.xml  a CI audit
  logtrack run job.toml -q                            under cron: prints only alerts and errors
  logtrack parse --format auto access.log | head      what LogTrack makes of a file
  logtrack runs --job web                             the run history (with a database)

Exit codes: 0 the job ran; 1 an alert at or above --fail-on fired; 2 the job could not
run or failed (or had problems, under --fail-on/--strict); 75 the job was already running."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone, Default)]
pub struct Global {
    /// Site settings merged under every job (else $LOGTRACK_CONFIG, else
    /// /etc/logtrack/logtrack.toml, else config/logtrack.toml).
    #[arg(help_heading = "Global options", long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// PostgreSQL URL (else LOGTRACK_DATABASE_URL, else the job's [database]).
    #[arg(help_heading = "Global options", long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Reports without the people and machines in the logs: IPs truncated
    /// (/24, /48), user names replaced by a hash keyed by
    /// LOGTRACK_ANONYMIZE_KEY.
    #[arg(help_heading = "Global options", long, global = true)]
    pub anonymize: bool,
    /// Problems (a source over max_reject_ratio, an unreadable directory)
    /// make the run fail with exit code 2, as they do under --fail-on.
    #[arg(help_heading = "Global options", long, global = true)]
    pub strict: bool,
    /// Work in memory even when a database is configured.
    #[arg(help_heading = "Global options", long, global = true)]
    pub no_db: bool,
    /// Where reports are written (default: the job's [report].dir, else reports/).
    #[arg(help_heading = "Global options", long, global = true, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
    /// Reference time for inactivity rules: an RFC 3339 instant,
    /// `end-of-data` (the newest record) or `wall-clock` (the default).
    #[arg(help_heading = "Global options", long, global = true, value_name = "T")]
    pub now: Option<String>,
    /// Exit with 1 when an alert of this severity or higher fires
    /// (low, medium, high, critical).
    #[arg(help_heading = "Global options", long, global = true, value_name = "SEVERITY")]
    pub fail_on: Option<String>,
    /// Also write a JUnit XML file: one test case per rule, failing when it
    /// raised an alert at or above --fail-on.
    #[arg(help_heading = "Global options", long, global = true, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Print only alerts and errors (under cron: output means something fired or failed).
    #[arg(help_heading = "Global options", short, long, global = true)]
    pub quiet: bool,
    /// Print every reject as it is found.
    #[arg(help_heading = "Global options", short, long, global = true)]
    pub verbose: bool,
    /// Format of the messages on stderr: text, or JSON lines with ts, level,
    /// message and fields.
    #[arg(help_heading = "Global options", long, global = true, value_enum, default_value_t = MessageFormat::Text)]
    pub log_format: MessageFormat,
    /// Colour severities on a terminal: auto (a terminal, NO_COLOR unset),
    /// always, never.
    #[arg(help_heading = "Global options", long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Parsing threads (default: one per core).
    #[arg(help_heading = "Global options", short = 'j', long, global = true, value_name = "N")]
    pub threads: Option<usize>,
}

#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MessageFormat {
    #[default]
    Text,
    Json,
}

impl Global {
    /// The messages of a command: `-q`, `--log-format`, and colour by
    /// `--color` (auto: on a terminal, unless `NO_COLOR` is set).
    pub fn messages(&self) -> Messages {
        use std::io::IsTerminal;
        let json = self.log_format == MessageFormat::Json;
        let colour = match self.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stderr().is_terminal()
            }
        };
        Messages::new(self.quiet, json, colour)
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a job: read every source, detect, write reports.
    Run(RunArgs),
    /// Parse only: print normalized records on stdout.
    Parse(ParseArgs),
    /// List the message templates of files: count, id, first and last
    /// time, template, an example line.
    Templates(TemplatesArgs),
    /// Load and check a job file; report every problem with its key path.
    Validate(ValidateArgs),
    /// Parse files and load them into PostgreSQL (no detection). Re-runs load
    /// only what is new.
    Ingest(IngestArgs),
    /// Schema management.
    #[command(subcommand)]
    Db(DbCommand),
    /// Print stored logs as a table.
    Logs(LogsArgs),
    /// Run the job's rules over what the database holds (a time range).
    Detect(RangeArgs),
    /// Write the report of a time range from the database.
    Report(RangeArgs),
    /// Print stored alerts as a table.
    Alerts(AlertsArgs),
    /// Print the run history (start, end, status, records, rejects, alerts).
    Runs(RunsArgs),
    /// Manage the dashboard's users (argon2id password hashes).
    #[command(subcommand)]
    User(UserCommand),
    /// Serve the dashboard (sign-in, overview, logs, alerts, runs, rules).
    Serve(ServeArgs),
    /// Notifications: send a test to every receiver (--test), retry what
    /// the outbox holds (--retry), or list what is not delivered yet.
    Notify(NotifyArgs),
    /// Silences: incidents a matcher takes are stored and shown but not
    /// notified for a while (add, list, expire).
    #[command(subcommand)]
    Silence(SilenceCommand),
    /// Sigma rules: check which of them LogTrack can run, on which sources.
    #[command(subcommand)]
    Sigma(SigmaCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
    /// Print the manual page (roff): `logtrack man > /usr/local/share/man/man1/logtrack.1`.
    Man,
}

#[derive(Args, Debug)]
pub struct IngestArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Files or globs; `-` reads stdin (not checkpointed).
    #[arg(required = true)]
    pub files: Vec<String>,
}

/// How to read inputs given on the command line.
#[derive(Args, Debug)]
pub struct InputArgs {
    /// Input format: common, combined, nginx, clf, apache:<LogFormat>,
    /// nginx:<log_format>, hdfs, hdfs-csv, cloudtrail, syslog, journald,
    /// json, logfmt, apache-error, nginx-error, regex:<pattern>, auto.
    #[arg(long, short, default_value = "auto")]
    pub format: String,
    /// Service name for formats that carry none.
    #[arg(long)]
    pub service: Option<String>,
    /// Time zone for formats whose time stamps carry no offset (IANA name or +HH:MM).
    #[arg(long, default_value = "UTC", allow_hyphen_values = true)]
    pub timezone: String,
    /// strftime format of text times (json, logfmt, regex:) that are
    /// neither RFC 3339 nor epoch numbers, e.g. "%d/%m/%Y %H:%M:%S".
    #[arg(long)]
    pub ts_format: Option<String>,
    /// Join multi-line records: indented, java, python, go,
    /// start:<regex> (a line it matches starts a record) or
    /// continuation:<regex> (a line it matches continues one).
    #[arg(long, value_name = "RULE")]
    pub multiline: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum DbCommand {
    /// Create the schema (apply every migration).
    Init {
        /// Spread the tables over a Citus cluster (connect to its
        /// coordinator; the `citus` extension must be created first).
        #[arg(long)]
        distributed: bool,
    },
    /// Apply pending migrations.
    Migrate,
    /// Show applied and pending migrations, and what the tables hold.
    Status,
    /// Drop every LogTrack table and its data (needs --yes).
    Reset {
        /// Really drop everything.
        #[arg(long)]
        yes: bool,
    },
    /// Make the trigram index (PostgreSQL's pg_trgm) that answers the
    /// dashboard's "message contains" filter from the index on large
    /// tables; loading is several times slower while it exists.
    TextIndex {
        /// Drop the index instead.
        #[arg(long)]
        drop: bool,
    },
    /// Retention: drop the daily partitions of `logs` older than a duration.
    Prune {
        /// e.g. 30d: partitions whose whole day ended before now minus this go.
        #[arg(long, value_name = "DURATION")]
        older_than: String,
    },
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Only this service.
    #[arg(long)]
    pub service: Option<String>,
    /// Only this severity or higher (trace, debug, info, warn, error, fatal).
    #[arg(long)]
    pub severity: Option<String>,
    /// Only records since this time: RFC 3339, or a duration back from now (e.g. 2h).
    #[arg(long)]
    pub since: Option<String>,
    /// Only messages containing this text (case-insensitive).
    #[arg(long)]
    pub grep: Option<String>,
    /// At most this many records (the newest).
    #[arg(long, default_value_t = 50)]
    pub limit: i64,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The job file (TOML, YAML or JSON).
    pub job: PathBuf,
    /// Only records from this time on: RFC 3339, or a duration back from
    /// --now such as "24h" (overrides the job's `since`).
    #[arg(long)]
    pub since: Option<String>,
    /// Only records up to this time (same forms; overrides the job's `until`).
    #[arg(long)]
    pub until: Option<String>,
    /// Print the notifications the run would send instead of sending
    /// them; with a database, nothing the run detects is kept (the next
    /// run detects it again).
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Args, Debug)]
pub struct NotifyArgs {
    /// The job whose receivers (`[[notify]]`) are used; without it, those
    /// of the site settings.
    #[arg(long, value_name = "FILE")]
    pub job: Option<PathBuf>,
    /// Send a clearly marked test notification to every receiver and
    /// report each result (exit 2 if one failed).
    #[arg(long, conflicts_with = "retry")]
    pub test: bool,
    /// Send every notification the outbox still holds for the job now,
    /// without waiting for its backoff (needs the database).
    #[arg(long)]
    pub retry: bool,
    /// Send given-up (or parked) notification ID again, once its receiver
    /// is fixed (its number is in the list `logtrack notify --job` prints).
    #[arg(long, value_name = "ID", conflicts_with_all = ["test", "retry"])]
    pub requeue: Option<i64>,
}

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// The job file (TOML, YAML or JSON).
    pub job: PathBuf,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Jsonl,
    Csv,
}

#[derive(Args, Debug)]
pub struct ParseArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Jsonl)]
    pub output: Output,
    /// Add each record's message template: `template_id` and `template`
    /// (two more columns in CSV).
    #[arg(long)]
    pub templates: bool,
    #[command(flatten)]
    pub cap: TemplateCap,
    /// Files or globs to parse; `-` reads stdin. .gz and .zst are read transparently.
    #[arg(required = true)]
    pub files: Vec<String>,
}

#[derive(Args, Debug)]
pub struct TemplateCap {
    /// Templates kept per service; past the cap, a message that fits none
    /// of them gets the template `<*>`.
    #[arg(long, default_value_t = crate::template::DEFAULT_CAP, value_name = "N")]
    pub max_templates: usize,
}

#[derive(Args, Debug)]
pub struct TemplatesArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// `text`: a table, most frequent first; `json`: one object per
    /// template and line.
    #[arg(long, value_enum, default_value_t = ListOutput::Text)]
    pub output: ListOutput,
    #[command(flatten)]
    pub cap: TemplateCap,
    /// Files or globs; `-` reads stdin. .gz and .zst are read transparently.
    #[arg(required = true)]
    pub files: Vec<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ListOutput {
    #[default]
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct RangeArgs {
    /// The job file (TOML, YAML or JSON).
    pub job: PathBuf,
    /// From this time: RFC 3339, or a duration back from now (e.g. 24h).
    /// Default: the oldest stored record.
    #[arg(long)]
    pub since: Option<String>,
    /// Up to this time (same forms). Default: the newest stored record.
    #[arg(long)]
    pub until: Option<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Role {
    /// Reads logs, alerts and runs.
    #[default]
    Viewer,
    /// Also acknowledges alerts.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Admin => "admin",
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Add a user; the password is asked twice (hidden) or read from stdin.
    Add {
        name: String,
        #[arg(long, value_enum, default_value_t = Role::Viewer)]
        role: Role,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the users and their roles.
    List,
    /// Change a user's password.
    Passwd {
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Remove a user.
    Remove { name: String },
}

#[derive(Subcommand, Debug)]
pub enum SigmaCommand {
    /// For each Sigma rule under PATH (files, folders searched recursively,
    /// globs; `.yml`/`.yaml`): loaded or unsupported (and why), the sources
    /// it applies to, and the fields it reads; a file that is no rule is an
    /// error naming the file and the key (exit 2).
    Check {
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<String>,
        /// Name the sources of this job each rule applies to.
        #[arg(long, value_name = "FILE")]
        job: Option<PathBuf>,
    },
    /// Try the Sigma rules under PATH on sample events: a file of JSON
    /// objects, one per line, keyed by Sigma field names (dotted names go
    /// into nested objects: `userIdentity.type`); keywords are read over the
    /// line as written. Prints, per event, its line number and the ids of
    /// the rules it matches (tab-separated); rules that cannot run are
    /// left out, as `check` says.
    Match {
        #[arg(long, value_name = "FILE")]
        events: PathBuf,
        /// Try every rule in full, without first looking for the texts a
        /// rule needs (the tests compare both ways).
        #[arg(long, hide = true)]
        no_prefilter: bool,
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum SilenceCommand {
    /// Silence the incidents whose labels EXPRESSION matches (`rule`,
    /// `severity`, `job`, `service`, `group.<key>`), in every job, from now
    /// (or --starts) for a while; prints the silence's number.
    Add {
        /// A `where` expression over an alert's labels, e.g.
        /// 'rule = "web_volume" and group.client_ip in 10.0.0.0/8'.
        #[arg(long = "match", value_name = "EXPRESSION")]
        matcher: String,
        /// How long it lasts (e.g. 2h, 30m, 1d).
        #[arg(
            long = "for",
            value_name = "DURATION",
            required_unless_present = "until",
            conflicts_with = "until"
        )]
        duration: Option<crate::config::HumanDuration>,
        /// When it ends (RFC 3339).
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
        /// When it starts (RFC 3339; now when not given).
        #[arg(long, value_name = "TIME")]
        starts: Option<String>,
        /// Why (shown with it everywhere).
        #[arg(long)]
        comment: String,
        /// Who made it (default: $USER).
        #[arg(long)]
        author: Option<String>,
        /// Take the database from this job file's [database] url.
        #[arg(long, value_name = "FILE")]
        job: Option<PathBuf>,
    },
    /// List the active and pending silences (--all: the expired too), with
    /// how many open incidents each covers.
    List {
        #[arg(long)]
        all: bool,
        /// Take the database from this job file's [database] url.
        #[arg(long, value_name = "FILE")]
        job: Option<PathBuf>,
    },
    /// End silence ID now (a job file's ends when the file says).
    Expire {
        id: i64,
        /// Who ended it (default: $USER).
        #[arg(long)]
        author: Option<String>,
        /// Take the database from this job file's [database] url.
        #[arg(long, value_name = "FILE")]
        job: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address and port to listen on (port 0: any free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub bind: std::net::SocketAddr,
    /// A session ends after this long without a request.
    #[arg(long, default_value = "30m", value_name = "DURATION")]
    pub session_idle: crate::config::HumanDuration,
    /// A session ends this long after signing in, however busy.
    #[arg(long, default_value = "12h", value_name = "DURATION")]
    pub session_max: crate::config::HumanDuration,
    /// Mark cookies Secure on every answer (serve behind HTTPS). Without it
    /// they are Secure when a trusted proxy sends `X-Forwarded-Proto: https`.
    #[arg(long)]
    pub secure_cookies: bool,
    /// Reverse proxies (addresses or blocks such as 10.0.0.0/8) whose
    /// forwarding headers (see --forwarded-header) are believed: the
    /// client's address (for sign-in limits), HTTPS and the host asked for.
    /// From any other peer those headers are ignored.
    #[arg(long, value_name = "CIDR", num_args = 1.., value_parser = parse_cidr)]
    pub trusted_proxy: Vec<crate::net::Cidr>,
    /// The headers the trusted proxies set: `x-forwarded-for` (with
    /// `X-Forwarded-Proto` and `-Host`) or `forwarded` (RFC 7239). Only
    /// that kind is read; the other is the client's own and ignored.
    #[arg(long, value_enum, default_value = "x-forwarded-for", value_name = "KIND")]
    pub forwarded_header: crate::net::ForwardedHeader,
    /// A page's database query is stopped after this long (answered 503).
    #[arg(long, default_value = "10s", value_name = "DURATION")]
    pub statement_timeout: crate::config::HumanDuration,
    /// A client must send a request's headers within this long.
    #[arg(long, default_value = "10s", value_name = "DURATION")]
    pub header_timeout: crate::config::HumanDuration,
    /// After its headers, a request (its body, waiting its turn, the
    /// page's work) is answered within this long, or with 408 and the
    /// connection closed.
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    pub request_timeout: crate::config::HumanDuration,
}

fn parse_cidr(s: &str) -> Result<crate::net::Cidr, String> {
    s.parse()
}

#[derive(Args, Debug)]
pub struct RunsArgs {
    /// Only runs of this job.
    #[arg(long)]
    pub job: Option<String>,
    /// At most this many (the newest).
    #[arg(long, default_value_t = 20)]
    pub limit: i64,
}

#[derive(Args, Debug)]
pub struct AlertsArgs {
    /// Only this rule.
    #[arg(long)]
    pub rule: Option<String>,
    /// Only alerts whose window starts at or after this time (RFC 3339 or a duration back from now).
    #[arg(long)]
    pub since: Option<String>,
    /// At most this many (the newest).
    #[arg(long, default_value_t = 50)]
    pub limit: i64,
}
