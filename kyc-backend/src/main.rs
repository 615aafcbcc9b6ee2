//! A small KYC backend on Telegram Passport: users open a link, share their
//! documents through Telegram, and the service decrypts, checks and stores
//! them, or tells the user what to fix and sends a new link.
//!
//! ```text
//! TELEGRAM_BOT_TOKEN=123456:ABC... PASSPORT_PRIVATE_KEY=private.key WEBHOOK_SECRET=long-random-text \
//!     REDIS_URL=redis://127.0.0.1:6379/ cargo run --release -p kyc-backend
//! ```
//!
//! Run with `--help` for every setting. Register the webhook (`setWebhook`
//! with `url=https://your.host/telegram/webhook` and
//! `secret_token=$WEBHOOK_SECRET`) and the public key (`/setpublickey` with
//! BotFather) once. Logs never contain secrets or personal data.

mod app;
mod archive;
mod at_rest;
mod check;
mod client_ip;
mod erasure;
mod ledger;
mod limiter;
mod objects;
mod public_url;
mod routes;
mod serve;
mod shared;
mod submission;
mod telegram;

use std::process::ExitCode;
use std::time::Duration;

use telegram_passport::{MemoryNonceStore, PostgresNonceStore, RedisNonceStore};

use crate::shared::{Shared, SharedPostgres, SharedRedis};

const USAGE: &str = "\
Usage: kyc_backend [--check | --erase APPLICATION_ID | --help]

A KYC backend on Telegram Passport, configured by environment variables.
With --check, asks the Bot API whether the bot is set up as this service
needs (token, webhook, keys), tries the shared state, DATA_DIR and the
archive (writing nothing that stays), says what is wrong in plain words,
and exits non-zero if the service would not work. With --erase, erases one
application: its objects in ARCHIVE_URL (or its folder in this DATA_DIR)
and what the shared ledger says of it (its page then answers unknown); run
it again if it says it did not finish, and, without ARCHIVE_URL, where each
DATA_DIR is. With state in memory, only the folder.

Required:
  TELEGRAM_BOT_TOKEN    the bot's token from BotFather, e.g. 123456:ABC-DEF...
  PASSPORT_PRIVATE_KEY  the bot's keys, separated by spaces, newlines or commas: the current one first (its
                        public key is the one registered with BotFather), then older ones still accepted
                        during a rotation; each a PEM file or (feature pkcs11) a pkcs11: URI. A URI keeps
                        its commas and ends only before another pkcs11: URI or an existing file (a space
                        inside it is written %20); a list that would cut one is refused
  WEBHOOK_SECRET        the secret_token given to setWebhook (1-256 characters A-Z, a-z, 0-9, _ and -)
  PUBLIC_URL            the https address applicants' browsers reach this service at, e.g.
                        https://kyc.example.org (the bot's messages link to its page there; the webhook
                        is PUBLIC_URL/telegram/webhook). http:// is taken for a loopback host only, to
                        try the service on one machine
Optional:
  REDIS_URL             redis://host:port/db: keep nonces, claims, the application ledger and the start
                        counts in Redis, so that several instances share them (default: in memory, one instance)
  REDIS_CLUSTER         redis://host:port/,redis://host:port/,...: the same on a Redis Cluster, found
                        through any of these nodes (instead of REDIS_URL)
  DATABASE_URL          postgres://user:password@host:port/database: the same in PostgreSQL (instead of
                        Redis); the service creates its tables there on first use
  ARCHIVE_URL           where applications are committed: s3://bucket/prefix, gs://..., az://...,
                        file:///folder (object storage shared by every instance; endpoint and credentials
                        from AWS_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION,
                        AWS_ALLOW_HTTP or the Google and Azure equivalents); default: DATA_DIR. Drafts are
                        written in DATA_DIR either way
  ARCHIVE_RECIPIENTS    age1...,age1...: encrypt every stored file to these age recipients (the reviewers)
                        as it is written, named *.age; the service cannot read them back. Unset: plaintext
  RETENTION_SECONDS     erase each stored application (its folder, and what the ledger says of it) this
                        long after it was stored; default 0: keep until erased with --erase
  BOT_API_URL           default https://api.telegram.org
  DATA_DIR              where this instance stores accepted applications, default kyc-data (each instance
                        may have its own: every application is stored by exactly one of them)
  APPLICATION_TTL_SECONDS
                        how long after it was opened an application's page still gives fresh requests,
                        default 86400 (a day), at most a week; then its page says it expired
  CLAIM_LEASE_SECONDS   how long one instance owns a submission while working on it, default 60: longer
                        than the slowest submission takes (downloads included)
  SWEEP_SECONDS         how often drafts of dead attempts are settled and stored applications'
                        records repaired, default 30
  LISTEN                address to serve on, default 127.0.0.1:8080
  MAX_CONNECTIONS       connections served at once, default 1024; one more waits for a place, and
                        idle keep-alive connections are let go to make one
  CONNECTIONS_PER_CLIENT
                        connections one client (an IPv4 address or an IPv6 /64) may hold at once, default
                        MAX_CONNECTIONS/16 (at least 1); more are closed at once. Only without
                        CLIENT_IP_HEADER: behind a load balancer every connection comes from it, and
                        limiting each client's connections is the balancer's job
  HEADER_TIMEOUT_SECONDS
                        how long a request's headers may take to arrive, and how long an idle
                        connection stays open while places are free, default 10
  BODY_TIMEOUT_SECONDS  how long a request's body may take to arrive after its headers, and a
                        response may wait for the client to take it, default 30
  CLIENT_IP_HEADER      a header your load balancer sets to the client's address, e.g. x-forwarded-for
                        or forwarded: all its lines form one list and its last entry counts (the one
                        the balancer appended); a request whose header lines do not all parse to
                        their end, or whose last entry is not an address, is refused (400).
                        Default: the connection's address
  STARTS_PER_CLIENT     applications one client (an IPv4 address or an IPv6 /64) may open per ten
                        minutes, default 10; with Redis, counted across all instances
  RUST_LOG              what to log, default info (e.g. info,telegram_passport=debug); the
                        audit trail of each submission, never personal data or secrets";

/// Where the instances' shared state lives.
enum State {
    /// In this process: one instance only.
    Memory,
    /// One Redis server.
    Redis(String),
    /// A Redis Cluster, through any of these nodes.
    Cluster(Vec<String>),
    /// One PostgreSQL database.
    Postgres(String),
}

/// `name`'s whole number within `range`, or `default` when it is not set.
fn number(name: &str, range: std::ops::RangeInclusive<u64>, default: u64) -> Result<u64, String> {
    match std::env::var(name).ok().filter(|v| !v.is_empty()) {
        Some(text) => text
            .parse()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| format!("{name}: not a number from {} to {}: {text}", range.start(), range.end())),
        None => Ok(default),
    }
}

fn config() -> Result<(app::Config, State, String, serve::Limits), String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let missing: Vec<&str> = [
        "TELEGRAM_BOT_TOKEN",
        "PASSPORT_PRIVATE_KEY",
        "WEBHOOK_SECRET",
        "PUBLIC_URL",
    ]
    .into_iter()
    .filter(|name| var(name).is_none())
    .collect();
    if !missing.is_empty() {
        return Err(format!("missing {}", missing.join(", ")));
    }
    let keys = var("PASSPORT_PRIVATE_KEY").unwrap_or_default();
    let key = telegram_passport::KeyRing::open_list(&keys).map_err(|e| format!("PASSPORT_PRIVATE_KEY: {e}"))?;
    let client_ip_header = var("CLIENT_IP_HEADER")
        .map(|name| {
            name.parse()
                .map_err(|_| format!("CLIENT_IP_HEADER: not a header name: {name}"))
        })
        .transpose()?;
    let starts_per_client = match var("STARTS_PER_CLIENT") {
        Some(text) => text
            .parse()
            .map_err(|_| format!("STARTS_PER_CLIENT: not a number from 0 to 65535: {text}"))?,
        None => 10,
    };
    let claim_lease = match var("CLAIM_LEASE_SECONDS") {
        Some(text) => text
            .parse()
            .ok()
            .filter(|seconds| (1..=3600).contains(seconds))
            .map(std::time::Duration::from_secs)
            .ok_or_else(|| format!("CLAIM_LEASE_SECONDS: not a number from 1 to 3600: {text}"))?,
        None => std::time::Duration::from_secs(60),
    };
    let shared = match (var("REDIS_URL"), var("REDIS_CLUSTER"), var("DATABASE_URL")) {
        (Some(url), None, None) => State::Redis(url),
        (None, Some(nodes), None) => State::Cluster(nodes.split(',').map(str::trim).map(str::to_owned).collect()),
        (None, None, Some(url)) => State::Postgres(url),
        (None, None, None) => State::Memory,
        _ => return Err("set one of REDIS_URL, REDIS_CLUSTER and DATABASE_URL".to_owned()),
    };
    let public_url =
        app::PublicUrl::parse(&var("PUBLIC_URL").unwrap_or_default()).map_err(|e| format!("PUBLIC_URL: {e}"))?;
    let config = app::Config {
        public_url,
        bot_token: var("TELEGRAM_BOT_TOKEN").unwrap_or_default(),
        key,
        webhook_secret: var("WEBHOOK_SECRET").unwrap_or_default(),
        bot_api_url: var("BOT_API_URL").unwrap_or_else(|| "https://api.telegram.org".to_owned()),
        data_dir: var("DATA_DIR").unwrap_or_else(|| "kyc-data".to_owned()).into(),
        client_ip_header,
        starts_per_client,
        claim_lease,
        application_ttl: Duration::from_secs(number("APPLICATION_TTL_SECONDS", 1..=7 * 24 * 3600, 24 * 3600)?),
        sweep_every: Duration::from_secs(number("SWEEP_SECONDS", 1..=3600, 30)?),
        retention: match number("RETENTION_SECONDS", 0..=10 * 366 * 24 * 3600, 0)? {
            0 => None,
            seconds => Some(Duration::from_secs(seconds)),
        },
        archive_url: var("ARCHIVE_URL"),
        archive_recipients: var("ARCHIVE_RECIPIENTS")
            .map(|text| at_rest::Recipients::parse(&text))
            .transpose()
            .map_err(|e| format!("ARCHIVE_RECIPIENTS: {e}"))?,
    };
    let listen = var("LISTEN").unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let max_connections = usize::try_from(number("MAX_CONNECTIONS", 1..=1_000_000, 1024)?).unwrap_or(1024);
    let per_client = number(
        "CONNECTIONS_PER_CLIENT",
        1..=1_000_000,
        (max_connections as u64 / 16).max(1),
    )?;
    let limits = serve::Limits {
        max_connections,
        // Behind a balancer, every connection is the balancer's.
        per_client: match config.client_ip_header {
            Some(_) => None,
            None => Some(usize::try_from(per_client).unwrap_or(1)),
        },
        header_timeout: Duration::from_secs(number("HEADER_TIMEOUT_SECONDS", 1..=3600, 10)?),
        body_timeout: Duration::from_secs(number("BODY_TIMEOUT_SECONDS", 1..=3600, 30)?),
    };
    Ok((config, shared, listen, limits))
}

/// `--erase ID`: erases one application from this instance's `DATA_DIR`
/// and from the shared ledger, with the service's own settings.
async fn erase(id: &str) -> ExitCode {
    if !archive::is_safe_name(id) {
        eprintln!(
            "kyc_backend: not an application id: {}",
            id.escape_debug().take(64).collect::<String>()
        );
        return ExitCode::from(2);
    }
    let (config, state, _, _) = match config() {
        Ok(config) => config,
        Err(message) => {
            eprintln!("kyc_backend: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let erased = async {
        let shared = match state {
            State::Memory => None,
            State::Redis(url) => Some(Shared::Redis(SharedRedis::open(&url)?)),
            #[cfg(feature = "redis-cluster")]
            State::Cluster(nodes) => {
                let nodes: Vec<&str> = nodes.iter().map(String::as_str).collect();
                Some(Shared::Redis(SharedRedis::open_cluster(&nodes)?))
            }
            #[cfg(not(feature = "redis-cluster"))]
            State::Cluster(_) => return Err("REDIS_CLUSTER: this build lacks the redis-cluster feature".into()),
            State::Postgres(url) => Some(Shared::Postgres(SharedPostgres::open(&url)?)),
        };
        let objects = config.archive_url.as_deref().map(objects::Objects::open).transpose()?;
        let archive = archive::Archive::open(config.data_dir.clone(), None, objects)?;
        let ledger = ledger::Ledger::on(shared);
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(erasure::erase(&archive, &ledger, id).await?)
    };
    match erased.await {
        Ok(erased) => {
            let folder = match erased.folder {
                true => "removed from the archive",
                false => "not in the archive",
            };
            println!("erased {id}: {folder}; the ledger's facts about it forgotten");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("kyc_backend: {id} not fully erased (run again): {error}");
            ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let check = match args.next().as_deref() {
        None => false,
        Some("--check") if args.next().is_none() => true,
        Some("--erase") => {
            let (Some(id), None) = (args.next(), args.next()) else {
                eprintln!("kyc_backend: --erase takes one application id\n\n{USAGE}");
                return ExitCode::from(2);
            };
            return erase(&id).await;
        }
        Some("--help" | "-h") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!("kyc_backend: unexpected argument {other}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt().with_env_filter(filter).init();
    if check {
        return check::run().await;
    }
    let (config, shared, listen, limits) = match config() {
        Ok(config) => config,
        Err(message) => {
            eprintln!("kyc_backend: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match &config.archive_recipients {
        Some(recipients) => tracing::info!(
            recipients = recipients.len(),
            "applications are stored encrypted to the ARCHIVE_RECIPIENTS"
        ),
        None => tracing::warn!("ARCHIVE_RECIPIENTS is not set: applications are stored in plaintext"),
    }
    if config.public_url.is_plain_http() {
        tracing::warn!("PUBLIC_URL is not https: for trying the service on this machine only");
    }
    let served = async {
        let router = match shared {
            State::Redis(url) => {
                tracing::info!("shared state in Redis");
                let shared = Shared::Redis(SharedRedis::open(&url)?);
                routes::router(config, RedisNonceStore::open(&url)?, Some(shared)).await?
            }
            #[cfg(feature = "redis-cluster")]
            State::Cluster(nodes) => {
                tracing::info!("shared state in a Redis Cluster");
                let nodes: Vec<&str> = nodes.iter().map(String::as_str).collect();
                let nonces = RedisNonceStore::open_cluster(nodes.iter().copied())?;
                let shared = Shared::Redis(SharedRedis::open_cluster(&nodes)?);
                routes::router(config, nonces, Some(shared)).await?
            }
            #[cfg(not(feature = "redis-cluster"))]
            State::Cluster(nodes) => {
                let nodes = nodes.join(",");
                return Err(format!("REDIS_CLUSTER={nodes}: this build lacks the redis-cluster feature").into());
            }
            State::Postgres(url) => {
                tracing::info!("shared state in PostgreSQL");
                let shared = Shared::Postgres(SharedPostgres::open(&url)?);
                routes::router(config, PostgresNonceStore::open(&url)?, Some(shared)).await?
            }
            State::Memory => {
                tracing::info!("state in memory: run one instance only");
                routes::router(config, MemoryNonceStore::new(), None).await?
            }
        };
        let listener = tokio::net::TcpListener::bind(&listen).await?;
        tracing::info!(
            "serving on http://{} (webhook: /telegram/webhook, start: /start)",
            listener.local_addr()?
        );
        serve::serve(listener, router, limits).await?;
        Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    };
    match served.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("kyc_backend: {error}");
            ExitCode::FAILURE
        }
    }
}
