//! `--check` of where the service keeps things: the shared state answers
//! (Redis or PostgreSQL; asked, nothing written), `DATA_DIR` takes a file,
//! object storage takes one and refuses a second create of its name (the
//! commit of every application rests on that refusal), and what is stored
//! is encrypted or said to be plaintext.
//!
//! Connection URLs are never printed whole: only their host, and the
//! passwords in them and `AWS_SECRET_ACCESS_KEY` are hidden from every line.

use std::path::Path;

use telegram_passport::one_line;

use super::{setting, Outcome, Report};
use crate::objects::Objects;
use crate::shared::{Shared, SharedPostgres, SharedRedis};
use crate::State;

const SHARED: &str = "shared state";
const DRAFTS: &str = "DATA_DIR";
const ARCHIVE: &str = "archive";
const AT_REST: &str = "at rest";

/// The secrets among the storage settings, hidden from what is printed:
/// the passwords in the connection URLs (as written in them, and decoded)
/// and the object stores' secret keys.
pub(super) fn secrets() -> Vec<String> {
    let mut secrets = Vec::new();
    for urls in ["REDIS_URL", "REDIS_CLUSTER", "DATABASE_URL"]
        .into_iter()
        .filter_map(setting)
    {
        for url in urls.split(',').filter_map(|url| url::Url::parse(url.trim()).ok()) {
            if let Some(written) = url.password() {
                let decoded = format!("p={}", written.replace('+', "%2B"));
                secrets.extend(url::form_urlencoded::parse(decoded.as_bytes()).map(|(_, value)| value.into_owned()));
                secrets.push(written.to_owned());
            }
        }
    }
    secrets.extend(
        [
            "AWS_SECRET_ACCESS_KEY",
            "AZURE_STORAGE_ACCESS_KEY",
            "AZURE_STORAGE_ACCOUNT_KEY",
        ]
        .into_iter()
        .filter_map(setting),
    );
    secrets
}

/// The shared state, `DATA_DIR`, the archive and encryption at rest, with
/// the service's own reading of the settings.
pub(super) async fn check_storage(report: &mut Report) {
    let Ok((config, state, _, _)) = crate::config() else {
        for subject in [SHARED, DRAFTS, ARCHIVE, AT_REST] {
            report.line(Outcome::Skipped, subject, "needs the settings above");
        }
        return;
    };
    check_shared(report, state).await;
    check_drafts(report, &config.data_dir, config.archive_url.is_none());
    if let Some(url) = &config.archive_url {
        check_archive(report, url).await;
    }
    match &config.archive_recipients {
        Some(recipients) => report.line(
            Outcome::Passed,
            AT_REST,
            format_args!(
                "every stored file is encrypted to the {} ARCHIVE_RECIPIENTS as it is written; the service \
                 cannot read it back",
                recipients.len()
            ),
        ),
        None => report.line(
            Outcome::Warning,
            AT_REST,
            "ARCHIVE_RECIPIENTS is not set: applications are stored in plaintext, readable by anyone who \
             can read the archive, its backups or its snapshots; set it to the reviewers' age recipients",
        ),
    }
}

/// Asks the shared state's server what it is, with the service's timeouts.
async fn check_shared(report: &mut Report, state: State) {
    let (shared, place) = match state {
        State::Memory => {
            report.line(
                Outcome::Passed,
                SHARED,
                "in memory, for one instance (REDIS_URL, REDIS_CLUSTER or DATABASE_URL share it between several)",
            );
            return;
        }
        State::Redis(url) => (
            SharedRedis::open(&url).map(Shared::Redis).map_err(|e| e.to_string()),
            host(&url),
        ),
        #[cfg(feature = "redis-cluster")]
        State::Cluster(nodes) => {
            let listed: Vec<&str> = nodes.iter().map(String::as_str).collect();
            let place = format!(
                "the cluster through {}",
                nodes.iter().map(|n| host(n)).collect::<Vec<_>>().join(", ")
            );
            (
                SharedRedis::open_cluster(&listed)
                    .map(Shared::Redis)
                    .map_err(|e| e.to_string()),
                place,
            )
        }
        #[cfg(not(feature = "redis-cluster"))]
        State::Cluster(_) => {
            report.line(
                Outcome::Problem,
                SHARED,
                "REDIS_CLUSTER: this build lacks the redis-cluster feature",
            );
            return;
        }
        State::Postgres(url) => (
            SharedPostgres::open(&url)
                .map(Shared::Postgres)
                .map_err(|e| e.to_string()),
            host(&url),
        ),
    };
    let answered = match shared {
        Ok(shared) => shared.server().await.map_err(|e| e.to_string()),
        Err(message) => Err(message),
    };
    match answered {
        Ok(server) => report.line(
            Outcome::Passed,
            SHARED,
            format_args!("{server} answers at {place}; every instance shares nonces, claims and the ledger there"),
        ),
        Err(message) => report.line(
            Outcome::Problem,
            SHARED,
            format_args!("{place} does not answer: {}", one_line(&message)),
        ),
    }
}

/// `DATA_DIR` takes a file (drafts are written there; and applications
/// too, without `ARCHIVE_URL`).
fn check_drafts(report: &mut Report, folder: &Path, holds_archive: bool) {
    let probe = folder.join(".check");
    let written = std::fs::create_dir_all(folder)
        .and_then(|()| std::fs::write(&probe, b"kyc_backend --check\n"))
        .and_then(|()| std::fs::remove_file(&probe));
    let role = match holds_archive {
        true => "drafts and stored applications (no ARCHIVE_URL)",
        false => "drafts, before they are committed to the archive",
    };
    match written {
        Ok(()) => report.line(
            Outcome::Passed,
            DRAFTS,
            format_args!("{} takes files: {role}", folder.display()),
        ),
        Err(error) => report.line(
            Outcome::Problem,
            DRAFTS,
            format_args!(
                "{} cannot hold {role}: {}",
                folder.display(),
                one_line(&error.to_string())
            ),
        ),
    }
}

/// Object storage takes a file, refuses a second create of its name, and
/// lets it be removed.
async fn check_archive(report: &mut Report, url: &str) {
    let objects = match Objects::open(url) {
        Ok(objects) => objects,
        Err(message) => {
            report.line(
                Outcome::Problem,
                ARCHIVE,
                format_args!("ARCHIVE_URL: {}", one_line(&message)),
            );
            return;
        }
    };
    let shown = objects.shown().to_owned();
    match objects.probe().await {
        Ok(true) => report.line(
            Outcome::Passed,
            ARCHIVE,
            format_args!(
                "{shown} took a file and refused to create it twice: each application is committed there \
                 once, whole"
            ),
        ),
        Ok(false) => report.line(
            Outcome::Warning,
            ARCHIVE,
            format_args!(
                "{shown} replaced a file it was asked to create only if absent: this store ignores \
                 conditional writes (If-None-Match), so a second instance's commit of one application \
                 could replace the first's record of it; use a store that honours them"
            ),
        ),
        Err(error) => report.line(
            Outcome::Problem,
            ARCHIVE,
            format_args!(
                "{shown} did not take a file: {} (check the bucket and its AWS_*, GOOGLE_* or AZURE_* \
                 settings)",
                store_said(&error)
            ),
        ),
    }
}

/// What went wrong in a store's `error`, short: its innermost cause (the
/// outer ones repeat the request), and of an error document (S3's, Azure's)
/// its code and the first line of its message.
fn store_said(error: &object_store::Error) -> String {
    let mut innermost: &dyn std::error::Error = error;
    while let Some(cause) = innermost.source() {
        innermost = cause;
    }
    let text = innermost.to_string();
    let element = |name: &str| {
        let (_, after) = text.split_once(&format!("<{name}>"))?;
        after
            .split_once(&format!("</{name}>"))
            .map(|(inner, _)| inner.to_owned())
    };
    let said = match (text.split_once(": <?xml"), element("Code"), element("Message")) {
        // Azure's message goes on with its request id and time, a line each.
        (Some((status, _)), Some(code), Some(message)) => {
            format!("{status}: {code}: {}", message.lines().next().unwrap_or_default())
        }
        _ => text,
    };
    let said = one_line(&said);
    match said.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &said[..cut]),
        None => said.into_owned(),
    }
}

/// A connection URL's host and port, without its user or password.
fn host(url: &str) -> String {
    match url::Url::parse(url.trim()) {
        Ok(parsed) => match (parsed.host_str(), parsed.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => format!("{}: (no host)", parsed.scheme()),
        },
        Err(_) => "(not a URL)".to_owned(),
    }
}
