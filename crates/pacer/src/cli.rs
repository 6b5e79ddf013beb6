//! The `pacer` command line. Every subcommand drives the same library code as the server.

use crate::app::Pacer;
use crate::render::{self, Format};
use crate::settings::Settings;
use crate::{present, server, store, timefmt};
use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use pacer_core::Window;
use serde_json::{Value, json};
use std::io::IsTerminal;
use std::path::PathBuf;

pub const DEFAULT_SERVER: &str = "http://127.0.0.1:7077";
pub const DEMO_DATABASE: &str = "sqlite://pacer-demo.db";

#[derive(Debug, Parser)]
#[command(
    name = "pacer",
    version,
    about = "DORA metrics from real production deployments and real incidents"
)]
pub struct Cli {
    /// TOML config file (see `pacer config`); PACER_SECTION__KEY environment variables override it.
    #[arg(long, global = true, env = "PACER_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (creates and migrates the database).
    Serve(ServeArgs),
    /// Load a generated 90-day history into a demo database, print a report and serve it.
    Demo(DemoArgs),
    /// The four metrics with their bands for every service, team and the organisation.
    Report(ReportArgs),
    /// Send deployments to a server.
    #[command(subcommand)]
    Deployment(DeploymentCommand),
    /// Send incidents and triage to a server.
    #[command(subcommand)]
    Incident(IncidentCommand),
    /// Print the effective configuration (defaults, file, environment) as TOML.
    Config,
    /// Print Prometheus recording and alerting rules over /metrics, with thresholds from the settings.
    Rules(RulesArgs),
    /// Make API tokens and the hashes that go into [auth.tokens] (docs/security.md).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Create or upgrade the database schema and exit (before rolling out replicas).
    Migrate(MigrateArgs),
    /// Load deployments and incidents from JSON Lines or CSV files (docs/import.md).
    Import(ImportArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FileFormatArg {
    Jsonl,
    Csv,
}

impl From<FileFormatArg> for crate::demo::FileFormat {
    fn from(f: FileFormatArg) -> Self {
        match f {
            FileFormatArg::Jsonl => crate::demo::FileFormat::Jsonl,
            FileFormatArg::Csv => crate::demo::FileFormat::Csv,
        }
    }
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Files to import, in order: JSON Lines (.jsonl) or CSV (.csv).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Database URL, e.g. sqlite://pacer.db [default: server.database]
    #[arg(long)]
    pub database: Option<String>,
    /// The files' format [default: from each file's extension]
    #[arg(long, value_enum)]
    pub format: Option<FileFormatArg>,
    /// Events (deployments + changes + incidents) per transaction.
    #[arg(long, default_value_t = crate::import::DEFAULT_BATCH_EVENTS)]
    pub batch: usize,
    /// No progress bar (it is drawn only when stderr is a terminal anyway).
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// Write a generated history to a file for `pacer import`: the demo's 6 services by
    /// default, any size with --services / --deploys-per-day (docs/import.md).
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Services, in teams of 20 [default with --deploys-per-day: 100; without both: the
    /// 6-service history of `pacer demo`]
    #[arg(long)]
    pub services: Option<u32>,
    /// Days of history.
    #[arg(long, default_value_t = 90)]
    pub days: u32,
    /// Deployments per day per service, all environments (70 % production) [default with
    /// --services: 5]
    #[arg(long)]
    pub deploys_per_day: Option<f64>,
    /// Seed of the generator (same seed, same history).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// End of the history: RFC 3339 or Unix seconds [default: now]
    #[arg(long)]
    pub end: Option<String>,
    /// jsonl or csv [default: from the --output extension, else jsonl]
    #[arg(long, value_enum)]
    pub format: Option<FileFormatArg>,
    /// The file to write.
    #[arg(long, short)]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Database URL, e.g. postgres://pacer@db/pacer [default: server.database]
    #[arg(long)]
    pub database: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print the SHA-256 of a token read from standard input (one line), for
    /// `[auth.tokens.<name>] sha256`. Not an argument: it would stay in shell history.
    Hash,
    /// Make a new random token; prints the token (give it to its user) and the config
    /// entry with its hash.
    New(TokenNewArgs),
}

#[derive(Debug, Args)]
pub struct TokenNewArgs {
    /// The token's name: who or what uses it (recorded as the actor of triages).
    #[arg(long)]
    pub name: String,
    /// Its scopes: ingest, triage, admin (repeatable or comma-separated).
    #[arg(long = "scope", value_delimiter = ',', required = true)]
    pub scopes: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Write the rule file here instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:7077, or server.listen]
    #[arg(long)]
    pub listen: Option<String>,
    /// Database URL, e.g. sqlite://pacer.db [default: sqlite://pacer.db, or server.database]
    #[arg(long)]
    pub database: Option<String>,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DemoArgs {
    #[command(subcommand)]
    pub command: Option<DemoCommand>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7077")]
    pub listen: String,
    /// Demo database; recreated on every run when it is the default.
    #[arg(long, default_value = DEMO_DATABASE)]
    pub database: String,
    /// Days of history to generate.
    #[arg(long, default_value_t = 90)]
    pub days: u32,
    /// Seed of the generator (same seed, same history).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Print the report and exit instead of serving.
    #[arg(long)]
    pub no_serve: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ColourChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Read this database directly [default: server.database]
    #[arg(long, conflicts_with = "server")]
    pub database: Option<String>,
    /// Ask a running server instead of reading a database.
    #[arg(long, env = "PACER_SERVER")]
    pub server: Option<String>,
    /// API token for --server when it requires one for reads.
    #[arg(long, env = "PACER_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Window length in days [default: metrics.default_window_days]
    #[arg(long)]
    pub days: Option<u32>,
    /// Window end: RFC 3339 or Unix seconds [default: now]
    #[arg(long)]
    pub end: Option<String>,
    #[arg(long, value_enum, default_value_t = ColourChoice::Auto)]
    pub color: ColourChoice,
}

#[derive(Debug, Args)]
pub struct ServerArg {
    /// Pacer server URL.
    #[arg(long, env = "PACER_SERVER", default_value = DEFAULT_SERVER)]
    pub server: String,
    /// API token from the server's [auth.tokens], sent as `Authorization: Bearer`; its
    /// name is recorded as who triaged.
    #[arg(long, env = "PACER_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

impl ServerArg {
    /// A client that sends the token (if any) with every request.
    pub fn client(&self) -> anyhow::Result<reqwest::Client> {
        client_with_token(self.token.as_deref())
    }
}

/// A client whose every request carries `Authorization: Bearer <token>` (marked sensitive,
/// so reqwest never prints it).
fn client_with_token(token: Option<&str>) -> anyhow::Result<reqwest::Client> {
    let mut builder = crate::http::builder();
    if let Some(token) = token.map(str::trim).filter(|t| !t.is_empty()) {
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| {
                anyhow::anyhow!("--token (or PACER_TOKEN) has characters a header cannot carry")
            })?;
        value.set_sensitive(true);
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::AUTHORIZATION, value);
        builder = builder.default_headers(headers);
    }
    builder.build().context("cannot build the HTTP client")
}

#[derive(Debug, Subcommand)]
pub enum DeploymentCommand {
    /// Record one deployment (prints its id).
    // Boxed: the git and GitHub options make it much larger than the other commands.
    Record(Box<RecordArgs>),
}

#[derive(Debug, Args)]
pub struct RecordArgs {
    #[command(flatten)]
    pub server: ServerArg,
    #[arg(long)]
    pub service: String,
    #[arg(long)]
    pub environment: String,
    /// success or failure.
    #[arg(long, default_value = "success")]
    pub status: String,
    /// Deployment id (made by the server when absent); re-sending an id never double counts.
    #[arg(long)]
    pub id: Option<String>,
    /// When it was deployed: RFC 3339 or Unix seconds [default: now]
    #[arg(long)]
    pub deployed_at: Option<String>,
    /// The deployed commit [default with --repo: HEAD]
    #[arg(long)]
    pub sha: Option<String>,
    #[arg(long)]
    pub team: Option<String>,
    /// A change it carries, as ID=STARTED_AT (first commit time, RFC 3339 or Unix seconds). Repeatable.
    #[arg(long = "change", value_name = "ID=STARTED_AT")]
    pub changes: Vec<String>,
    /// A precomputed lead time (one change) instead of --change.
    #[arg(long, conflicts_with = "changes")]
    pub lead_time_seconds: Option<f64>,
    /// Work out the changes from this git checkout: the first-parent history since the
    /// service's previous production deployment (see docs/integrations/git-lead-time.md).
    #[arg(long, value_name = "PATH", conflicts_with_all = ["changes", "lead_time_seconds"])]
    pub repo: Option<PathBuf>,
    /// GitHub repository as owner/name: names pull requests and is sent as the deployment's repo.
    #[arg(long, env = "GITHUB_REPOSITORY", value_name = "OWNER/NAME")]
    pub github_repo: Option<crate::github::RepoName>,
    /// Token for looking up squash-merged and rebased pull requests with --repo.
    #[arg(
        long,
        env = "GITHUB_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub github_token: Option<crate::github::Token>,
    /// GitHub REST API base URL (GitHub Enterprise: https://HOST/api/v3).
    #[arg(long, env = "GITHUB_API_URL", default_value = crate::github::DEFAULT_API_URL)]
    pub github_api_url: String,
    /// Mark it as a hotfix: unplanned work in the rework rate.
    #[arg(long)]
    pub hotfix: bool,
    /// Mark it as a rollback: unplanned work in the rework rate.
    #[arg(long)]
    pub rollback: bool,
}

#[derive(Debug, Subcommand)]
pub enum IncidentCommand {
    /// Record an incident as opened.
    Open(OpenArgs),
    /// Mark an incident resolved.
    Resolve(ResolveArgs),
    /// Say whether a deployment caused an incident.
    Triage(TriageArgs),
}

#[derive(Debug, Args)]
pub struct OpenArgs {
    #[command(flatten)]
    pub server: ServerArg,
    #[arg(long)]
    pub id: String,
    #[arg(long)]
    pub service: Option<String>,
    #[arg(long, default_value = "production")]
    pub environment: String,
    /// RFC 3339 or Unix seconds [default: now]
    #[arg(long)]
    pub opened_at: Option<String>,
    #[arg(long)]
    pub severity: Option<String>,
}

#[derive(Debug, Args)]
pub struct ResolveArgs {
    #[command(flatten)]
    pub server: ServerArg,
    #[arg(long)]
    pub id: String,
    /// RFC 3339 or Unix seconds [default: now]
    #[arg(long)]
    pub resolved_at: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Triage {
    True,
    False,
    Unset,
}

#[derive(Debug, Args)]
pub struct TriageArgs {
    #[command(flatten)]
    pub server: ServerArg,
    #[arg(long)]
    pub id: String,
    /// Whether a deployment caused it (`unset` clears the triage).
    #[arg(long, value_enum)]
    pub caused_by_deploy: Option<Triage>,
    /// The deployment that caused it.
    #[arg(long)]
    pub deployment_id: Option<String>,
    /// The kind of fault: bad_configuration, code_defect, dependency_failure, capacity,
    /// bad_migration, infrastructure or other (docs/triage.md).
    #[arg(long)]
    pub fault_class: Option<String>,
    /// Free text for the triage log and the incident (at most 2000 characters).
    #[arg(long)]
    pub note: Option<String>,
}

fn time_arg(name: &str, value: &Option<String>) -> anyhow::Result<Option<i64>> {
    value
        .as_deref()
        .map(|v| {
            timefmt::parse_flexible(v)
                .map(|t| t.millis() / 1000)
                .map_err(|e| anyhow::anyhow!("--{name}: {e}"))
        })
        .transpose()
}

fn time_text(name: &str, value: &Option<String>) -> anyhow::Result<Option<String>> {
    value
        .as_deref()
        .map(|v| {
            timefmt::parse_flexible(v)
                .map(timefmt::format)
                .map_err(|e| anyhow::anyhow!("--{name}: {e}"))
        })
        .transpose()
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut settings = Settings::load(cli.config.as_deref())?;
    match cli.command {
        Command::Config => {
            print!("{}", settings.to_toml());
            Ok(())
        }
        Command::Serve(args) => {
            if let Some(l) = args.listen {
                settings.server.listen = l;
            }
            if let Some(d) = args.database {
                settings.server.database = d;
            }
            serve(settings, None).await
        }
        Command::Demo(DemoArgs {
            command: Some(DemoCommand::Generate(args)),
            ..
        }) => generate(args),
        Command::Demo(args) => demo(settings, args).await,
        Command::Import(args) => import(settings, args).await,
        Command::Report(args) => report(settings, args).await,
        Command::Deployment(DeploymentCommand::Record(args)) => record_deployment(*args).await,
        Command::Incident(cmd) => incident(cmd).await,
        Command::Rules(args) => rules(&settings, args),
        Command::Token(cmd) => token(cmd),
        Command::Migrate(args) => {
            let database = args.database.unwrap_or(settings.server.database);
            let version = store::migrate(&database).await?;
            println!(
                "database {} is at schema version {version}",
                store::redact_url(&database)
            );
            Ok(())
        }
    }
}

/// `pacer token hash` and `pacer token new`.
fn token(cmd: TokenCommand) -> anyhow::Result<()> {
    use crate::settings::{MIN_TOKEN_LEN, hash_token};
    match cmd {
        TokenCommand::Hash => {
            if std::io::stdin().is_terminal() {
                eprintln!("paste the token and press Enter (it is read, never printed):");
            }
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("cannot read the token from standard input")?;
            let token = line.trim();
            if token.len() < MIN_TOKEN_LEN {
                bail!(
                    "the token is shorter than {MIN_TOKEN_LEN} characters; use a random one, e.g. from `pacer token new` or `openssl rand -hex 32`"
                );
            }
            println!("{}", hash_token(token));
        }
        TokenCommand::New(args) => {
            let mut scopes = Vec::new();
            for s in &args.scopes {
                let scope: crate::settings::TokenScope =
                    serde_json::from_value(json!(s.trim().to_ascii_lowercase())).map_err(|_| {
                        anyhow::anyhow!("--scope {s:?} is not ingest, triage or admin")
                    })?;
                scopes.push(scope);
            }
            let mut bytes = [0u8; 32];
            use std::io::Read;
            std::fs::File::open("/dev/urandom")
                .and_then(|mut f| f.read_exact(&mut bytes))
                .context("cannot read /dev/urandom for a random token")?;
            let token = hex::encode(bytes);
            let names: Vec<String> = scopes.iter().map(|s| format!("{:?}", s.as_str())).collect();
            println!("token: {token}");
            println!();
            println!("# for the server's config file:");
            println!("[auth.tokens.{:?}]", args.name);
            println!("sha256 = {:?}", hash_token(&token));
            println!("scopes = [{}]", names.join(", "));
        }
    }
    Ok(())
}

/// `pacer rules`: the rule file on standard output, or written to `--output`.
fn rules(settings: &Settings, args: RulesArgs) -> anyhow::Result<()> {
    let text = crate::rules::render(settings)?;
    match args.output {
        Some(path) => {
            std::fs::write(&path, text)
                .with_context(|| format!("cannot write the rules to {}", path.display()))?;
            tracing::info!(path = %path.display(), "wrote Prometheus rules");
        }
        None => print!("{text}"),
    }
    Ok(())
}

async fn serve(settings: Settings, before: Option<String>) -> anyhow::Result<()> {
    let listen = settings.server.listen.clone();
    let database = settings.server.database.clone();
    // The URL may carry a password: messages show it redacted.
    let database = store::redact_url(&database);
    let store = store::open(&settings.server.database)
        .await
        .with_context(|| format!("opening database {database}"))?;
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| {
            format!("cannot listen on {listen}; pick another address with --listen")
        })?;
    let addr = listener.local_addr()?;
    // Before the line that tells supervisors and tests the server is up.
    let shutdown = server::shutdown_signal();
    if let Some(text) = before {
        print!("{text}");
    }
    println!("pacer listening on http://{addr} (database {database})");
    tracing::info!(%addr, %database, "listening");
    server::run(listener, Pacer::new(store, settings), shutdown).await?;
    Ok(())
}

/// The file behind a `sqlite://PATH` URL.
fn sqlite_path(url: &str) -> Option<String> {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .map(|p| p.split('?').next().unwrap_or(p).to_string())
}

async fn demo(mut settings: Settings, args: DemoArgs) -> anyhow::Result<()> {
    let path = sqlite_path(&args.database);
    if let Some(path) = &path {
        if args.database == DEMO_DATABASE {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{path}{suffix}"));
            }
        } else if std::path::Path::new(path).exists() {
            bail!(
                "{path} already exists; `pacer demo` only writes into a new database (or the default {DEMO_DATABASE})"
            );
        }
    }
    let store = store::open(&args.database).await?;
    let now = timefmt::now();
    let data = crate::demo::generate(now, args.days, args.seed);
    let (n_dep, n_inc) = (data.deployments.len(), data.incidents.len());
    for d in &data.deployments {
        store.record_deployment(d).await?;
    }
    for i in data.incidents {
        store.record_incident(i).await?;
    }
    settings.server.database = args.database.clone();
    settings.server.listen = args.listen.clone();
    let pacer = Pacer::new(store, settings.clone());
    let window = Window::new(now, settings.metrics.default_window_days);
    let report = present::report_json(&pacer.report(window).await?, &pacer.config);
    let mut text = format!(
        "Loaded a generated {}-day history: {n_dep} deployments, {n_inc} incidents into {}\n\n",
        args.days, args.database
    );
    text.push_str(&render::table(&report, std::io::stdout().is_terminal()));
    text.push('\n');
    if args.no_serve {
        print!("{text}");
        return Ok(());
    }
    drop(pacer);
    text.push_str(&format!(
        "Try: curl 'http://{}/api/v1/metrics?team=payments'   (Ctrl-C to stop)\n",
        args.listen
    ));
    serve(settings, Some(text)).await
}

/// `pacer demo generate`: a generated history into a file.
fn generate(args: GenerateArgs) -> anyhow::Result<()> {
    use crate::demo::{FileFormat, ScaleOptions};
    let end =
        time_arg("end", &args.end)?.map_or_else(timefmt::now, pacer_core::Timestamp::from_seconds);
    let format = match args.format {
        Some(f) => f.into(),
        None => crate::import::format_of(&args.output, None).unwrap_or(FileFormat::Jsonl),
    };
    if args.days == 0 {
        bail!("--days must be at least 1");
    }
    let file = std::fs::File::create(&args.output)
        .with_context(|| format!("cannot create {}", args.output.display()))?;
    let out = std::io::BufWriter::with_capacity(1 << 20, file);
    let scaled = args.services.is_some() || args.deploys_per_day.is_some();
    let written = if scaled {
        let options = ScaleOptions {
            services: args.services.unwrap_or(100),
            days: args.days,
            deploys_per_day: args.deploys_per_day.unwrap_or(5.0),
            seed: args.seed,
            now: end,
        };
        if options.services == 0 {
            bail!("--services must be at least 1");
        }
        if !(options.deploys_per_day.is_finite() && options.deploys_per_day > 0.0) {
            bail!("--deploys-per-day must be a number above 0, e.g. 4 or 0.5");
        }
        crate::demo::scale::write_events(crate::demo::generate_scaled(options), format, out)
    } else {
        let data = crate::demo::generate(end, args.days, args.seed);
        crate::demo::scale::write_events(crate::demo::scale::demo_events(data), format, out)
    }
    .with_context(|| format!("cannot write {}", args.output.display()))?;
    println!(
        "wrote {}: {} deployments, {} changes, {} incidents ({} events)",
        args.output.display(),
        written.deployments,
        written.changes,
        written.incidents,
        written.events()
    );
    Ok(())
}

/// `pacer import`: check the files, then write them in batches.
async fn import(settings: Settings, args: ImportArgs) -> anyhow::Result<()> {
    let database = args.database.unwrap_or(settings.server.database);
    let shown = store::redact_url(&database);
    let store = store::open(&database)
        .await
        .with_context(|| format!("opening database {shown}"))?;
    let options = crate::import::ImportOptions {
        files: args.files,
        format: args.format.map(Into::into),
        batch_events: args.batch,
        progress: !args.quiet,
    };
    let s = crate::import::import(store, &options).await?;
    let c = s.counts;
    println!(
        "imported {} file(s) into {shown} in {:.1} s",
        options.files.len(),
        s.elapsed.as_secs_f64()
    );
    println!(
        "  deployments: {} created, {} already recorded",
        c.deployments_created, c.deployments_already
    );
    println!("  changes:     {} created", c.changes_created);
    println!(
        "  incidents:   {} created, {} updated, {} already recorded (unchanged)",
        c.incidents_created, c.incidents_updated, c.incidents_unchanged
    );
    println!(
        "  {} events read ({} deployments + {} changes + {} incidents): {:.0} events/s",
        s.events(),
        s.deployments,
        s.changes,
        s.incidents,
        s.events_per_second()
    );
    Ok(())
}

async fn report(settings: Settings, args: ReportArgs) -> anyhow::Result<()> {
    let days = args.days.unwrap_or(settings.metrics.default_window_days);
    if days == 0 {
        bail!("--days must be at least 1");
    }
    let end = time_arg("end", &args.end)?;
    let report: present::ReportJson = match &args.server {
        Some(server) => {
            let mut url = format!("{}/api/v1/report?days={days}", server.trim_end_matches('/'));
            if let Some(end) = end {
                url.push_str(&format!("&end={end}"));
            }
            let body = send(client_with_token(args.token.as_deref())?.get(&url)).await?;
            serde_json::from_value(body)
                .context("the server's report is not in the expected shape")?
        }
        None => {
            let database = args
                .database
                .clone()
                .unwrap_or(settings.server.database.clone());
            if let Some(path) = sqlite_path(&database)
                && !std::path::Path::new(&path).exists()
            {
                bail!(
                    "database {path} does not exist; check --database (or server.database), or ask a server with --server"
                );
            }
            let store = store::open(&database)
                .await
                .with_context(|| format!("opening database {}", store::redact_url(&database)))?;
            let pacer = Pacer::new(store, settings);
            let end = end.map_or_else(timefmt::now, pacer_core::Timestamp::from_seconds);
            present::report_json(&pacer.report(Window::new(end, days)).await?, &pacer.config)
        }
    };
    let colours = match args.color {
        ColourChoice::Always => true,
        ColourChoice::Never => false,
        ColourChoice::Auto => {
            std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
        }
    };
    print!("{}", render::render(&report, args.format, colours)?);
    Ok(())
}

/// Sends a request and returns the JSON body, or the server's error message.
async fn send(request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
    Ok(crate::http::send(request).await?.1)
}

async fn record_deployment(args: RecordArgs) -> anyhow::Result<()> {
    if args.repo.is_some() {
        return crate::git::record::record(args).await;
    }
    let mut changes = Vec::new();
    for c in &args.changes {
        let (id, started) = c.rsplit_once('=').with_context(|| {
            format!("--change {c:?} must look like ID=STARTED_AT, e.g. abc123=2026-03-15T14:23:00Z")
        })?;
        let started =
            timefmt::parse_flexible(started).map_err(|e| anyhow::anyhow!("--change {c:?}: {e}"))?;
        changes.push(json!({"id": id, "started_at": timefmt::format(started)}));
    }
    let mut body = json!({
        "service": args.service,
        "environment": args.environment,
        "status": args.status,
    });
    let obj = body.as_object_mut().expect("object");
    let github_repo = args.github_repo.as_ref().map(ToString::to_string);
    for (k, v) in [
        ("id", &args.id),
        ("sha", &args.sha),
        ("repo", &github_repo),
        ("team", &args.team),
    ] {
        if let Some(v) = v {
            obj.insert(k.into(), json!(v));
        }
    }
    if let Some(t) = time_text("deployed-at", &args.deployed_at)? {
        obj.insert("deployed_at".into(), json!(t));
    }
    if !changes.is_empty() {
        obj.insert("changes".into(), Value::Array(changes));
    }
    if let Some(lt) = args.lead_time_seconds {
        obj.insert("lead_time_seconds".into(), json!(lt));
    }
    // Sent only when set: `false` is the server's default.
    for (k, set) in [("hotfix", args.hotfix), ("rollback", args.rollback)] {
        if set {
            obj.insert(k.into(), json!(true));
        }
    }
    let url = format!(
        "{}/api/v1/deployments",
        args.server.server.trim_end_matches('/')
    );
    let answer = send(args.server.client()?.post(url).json(&body)).await?;
    println!(
        "{}",
        answer.get("id").and_then(Value::as_str).unwrap_or_default()
    );
    Ok(())
}

async fn incident(cmd: IncidentCommand) -> anyhow::Result<()> {
    let server = match &cmd {
        IncidentCommand::Open(a) => &a.server,
        IncidentCommand::Resolve(a) => &a.server,
        IncidentCommand::Triage(a) => &a.server,
    };
    let client = server.client()?;
    let answer = match cmd {
        IncidentCommand::Open(a) => {
            let opened = time_text("opened-at", &a.opened_at)?
                .unwrap_or_else(|| timefmt::format(timefmt::now()));
            let mut body = json!({"id": a.id, "environment": a.environment, "opened_at": opened});
            if let Some(s) = a.service {
                body["service"] = json!(s);
            }
            if let Some(s) = a.severity {
                body["severity"] = json!(s);
            }
            let url = format!("{}/api/v1/incidents", a.server.server.trim_end_matches('/'));
            send(client.post(url).json(&body)).await?
        }
        IncidentCommand::Resolve(a) => {
            let base = a.server.server.trim_end_matches('/');
            let current = send(client.get(format!("{base}/api/v1/incidents/{}", a.id))).await?;
            let opened = current["incident"]["opened_at"].clone();
            let resolved = time_text("resolved-at", &a.resolved_at)?
                .unwrap_or_else(|| timefmt::format(timefmt::now()));
            let body = json!({"id": a.id, "opened_at": opened, "resolved_at": resolved});
            send(client.post(format!("{base}/api/v1/incidents")).json(&body)).await?
        }
        IncidentCommand::Triage(a) => {
            let mut body = json!({});
            if let Some(caused) = a.caused_by_deploy {
                body["caused_by_deploy"] = match caused {
                    Triage::True => json!(true),
                    Triage::False => json!(false),
                    Triage::Unset => Value::Null,
                };
            }
            for (key, value) in [
                ("deployment_id", a.deployment_id),
                ("fault_class", a.fault_class),
                ("note", a.note),
            ] {
                if let Some(v) = value {
                    body[key] = json!(v);
                }
            }
            if body.as_object().is_some_and(serde_json::Map::is_empty) {
                bail!(
                    "nothing to triage: give --caused-by-deploy, --deployment-id, --fault-class and/or --note"
                );
            }
            let url = format!(
                "{}/api/v1/incidents/{}",
                a.server.server.trim_end_matches('/'),
                a.id
            );
            send(client.patch(url).json(&body)).await?
        }
    };
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(())
}
