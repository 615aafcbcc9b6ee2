//! The KYC backend's routes, on the state in [`crate::app`].
//!
//! `GET /start` opens an application: a new application id, recorded as
//! opened in the ledger, and its first request: a nonce whose context is
//! that id, issued by the nonce store (in memory, or in the Redis every
//! instance shares) for 30 minutes.
//!
//! `POST /applications/{id}/request` gives a fresh request for an open
//! application, on whichever instance serves it: what the applicant's
//! page asks for when it is opened from the bot's message, and after a
//! rejection. A finished, unknown or expired application is said to be so.
//!
//! `GET /` is the applicant's page (`page.html`): it opens an application
//! (or takes the one its link names), shows the "Log in with Telegram"
//! link, and follows `GET /applications/{id}/status` (outcomes only, from
//! the ledger) until the application is stored. The page is the one place
//! a Telegram Passport link appears: Telegram refuses one inside a bot's
//! button, and its apps ignore one met inside Telegram, so the bot's
//! messages link to this page.
//!
//! What a browser can be made to send from another site is refused: the
//! routes that open applications or issue requests answer 403 to a
//! request marked cross-site or same-site (`Sec-Fetch-Site`), or from an
//! `Origin` other than `PUBLIC_URL`'s; callers that send neither (a
//! server, curl) are served. No answer that opens something is cached.
//!
//! `POST /telegram/webhook` takes each submission through the flow in
//! [`crate::submission`]: exactly one instance works on a submission (a
//! claim on its nonce), every delivery of it is answered from one state
//! (the ledger), and the answer is 503 only where a retry can help.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path as UrlPath, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;
use telegram_passport::{AsyncNonceStore, Error, PassportData};
use tracing::Instrument as _;

use crate::app::{App, Config, Told};
use crate::archive::Archive;
use crate::ledger::{Fact, Ledger};
use crate::limiter::StartLimiter;
use crate::shared::Shared;
use crate::submission::{settle_drafts, submission, Outcome};
use crate::telegram::{BotApi, Failure};

/// Per `START_WINDOW`, how many applications one client may open.
const START_WINDOW: Duration = Duration::from_secs(10 * 60);

/// The router, on a nonce store and the shared state (if any). Settles
/// the drafts of dead attempts first, then every half minute.
pub(crate) async fn router<S: AsyncNonceStore + 'static>(
    config: Config,
    nonces: S,
    shared: Option<Shared>,
) -> Result<Router, Failure> {
    let bot_id = telegram_passport::bot_id_from_token(&config.bot_token)?;
    let objects = config
        .archive_url
        .as_deref()
        .map(crate::objects::Objects::open)
        .transpose()?;
    if let Some(objects) = &objects {
        tracing::info!(
            archive = objects.shown(),
            "applications are committed to object storage"
        );
    }
    let app = App {
        bot_id,
        nonces,
        ledger: Ledger::on(shared.clone()),
        starts: StartLimiter::new(config.starts_per_client, START_WINDOW, &config.webhook_secret, shared),
        archive: Archive::open(config.data_dir.clone(), config.archive_recipients.clone(), objects)?,
        bot_api: BotApi::new(config.bot_api_url.clone(), config.bot_token.clone())?,
        config,
    };
    let app = Arc::new(app);
    // A draft a writer was making when it died may be too young to tell
    // from one being made: look again once it is not.
    if settle_drafts(&app).await {
        tokio::time::sleep(crate::archive::STILLBORN).await;
        settle_drafts(&app).await;
    }
    let sweeper = Arc::clone(&app);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(sweeper.config.sweep_every).await;
            settle_drafts(&sweeper).await;
            if let Some(retention) = sweeper.config.retention {
                retain(&sweeper, retention).await;
            }
        }
    });
    Ok(Router::new()
        .route("/", get(index))
        .route("/start", get(start::<S>))
        .route("/applications/{id}/request", post(fresh_request::<S>))
        .route("/applications/{id}/status", get(status::<S>))
        .route("/telegram/webhook", post(webhook::<S>))
        .with_state(app))
}

/// Erases every application this instance stored more than `retention`
/// ago, folder and ledger facts; one that cannot be erased now is tried
/// again at the next sweep.
async fn retain<S: AsyncNonceStore + 'static>(app: &App<S>, retention: Duration) {
    let expired = match app.archive.objects() {
        Some(objects) => objects.stored_before(retention).await.map_err(|e| e.to_string()),
        None => app.archive.stored_before(retention).map_err(|e| e.to_string()),
    };
    let expired = match expired {
        Ok(expired) => expired,
        Err(error) => {
            tracing::error!(reason = %error, "could not look for applications past their retention");
            return;
        }
    };
    for application in expired {
        match crate::erasure::erase(&app.archive, &app.ledger, &application).await {
            Ok(_) => tracing::info!(application, "an application past its retention erased"),
            Err(error) => {
                tracing::warn!(application, reason = %error, "an application past its retention not erased yet");
                return;
            }
        }
    }
}

/// The applicant's page: opens an application (or takes the one its link
/// names), offers the link into Telegram (and the SDK's parameters), then
/// follows the application's status until it is stored. Its one script
/// and one style sheet are inline and allowed by their hashes; nothing
/// else runs, nothing comes from elsewhere.
async fn index() -> Response {
    static POLICY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| page_policy(PAGE));
    (
        [
            (header::CONTENT_SECURITY_POLICY, POLICY.as_str()),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Html(PAGE),
    )
        .into_response()
}

/// The applicant's page.
const PAGE: &str = include_str!("page.html");

/// The page's Content-Security-Policy: its inline `<script>` and `<style>`
/// by their SHA-256 hashes, fetches to this origin only, nothing else.
fn page_policy(page: &str) -> String {
    let hashes = |tag: &str| {
        let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
        let mut sources = String::new();
        let mut rest = page;
        while let Some((_, inside)) = rest.split_once(open.as_str()) {
            let Some((body, after)) = inside.split_once(close.as_str()) else {
                break;
            };
            let digest = Sha256::digest(body.as_bytes());
            sources.push_str(" 'sha256-");
            sources.push_str(&base64::engine::general_purpose::STANDARD.encode(digest));
            sources.push('\'');
            rest = after;
        }
        sources
    };
    format!(
        "default-src 'none'; script-src{}; style-src{}; connect-src 'self'; img-src 'none'; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        hashes("script"),
        hashes("style")
    )
}

/// What became of an application, for its applicant's page: `waiting`,
/// `rejected` with the message the bot sent (what to fix) and the request
/// it was about ([`request_tag`]), or `accepted`. Never personal data:
/// only outcomes and the service's own words. The application id, a
/// 256-bit random nonce only its applicant got, is the key.
async fn status<S: AsyncNonceStore>(State(app): State<Arc<App<S>>>, UrlPath(id): UrlPath<String>) -> Response {
    if !is_application_id(&id) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let outcome = async {
        if app.ledger.holds(Fact::Stored(&id)).await? || app.holds(&id).await {
            return Ok(serde_json::json!({ "state": "accepted" }));
        }
        Ok::<_, crate::ledger::Unavailable>(match app.ledger.value(Fact::LastTold(&id)).await? {
            Some(told) => {
                let told = Told::read(&told);
                serde_json::json!({ "state": "rejected", "message": told.message, "request": told.request })
            }
            None => serde_json::json!({ "state": "waiting" }),
        })
    };
    match outcome.await {
        Ok(body) => no_store(Json(body)),
        Err(error) => {
            tracing::warn!(reason = %error, "an application's status could not be read");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// Whether `id` could be an application id ([`telegram_passport::generate_nonce`]:
/// 43 characters of URL-safe base64); nothing else reaches the ledger.
fn is_application_id(id: &str) -> bool {
    id.len() == 43 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `response`, never to be cached: each answer opens or tells something
/// for one applicant only.
fn no_store(response: impl IntoResponse) -> Response {
    ([(header::CACHE_CONTROL, "no-store")], response).into_response()
}

/// 403, never cached, for what a page of another site asked for
/// ([`App::is_from_elsewhere`]); logged as `refused`.
fn refuse_from_elsewhere<S: AsyncNonceStore>(app: &App<S>, headers: &HeaderMap, refused: &str) -> Option<Response> {
    if !app.is_from_elsewhere(headers) {
        return None;
    }
    tracing::warn!("{refused}: asked for by a page of another site");
    Some(no_store(StatusCode::FORBIDDEN))
}

/// A new application: its id, recorded as opened, and its first request.
async fn start<S: AsyncNonceStore>(
    State(app): State<Arc<App<S>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = refuse_from_elsewhere(&app, &headers, "start refused") {
        return refused;
    }
    let client = match app.client(peer, &headers) {
        Ok(client) => client,
        Err(unreadable) => {
            // Not the header's value: it is whatever the client sent.
            tracing::warn!(reason = %unreadable, "start refused: no client address");
            return no_store(StatusCode::BAD_REQUEST);
        }
    };
    match app.starts.allow(client).await {
        Ok(true) => {}
        Ok(false) => return no_store((StatusCode::TOO_MANY_REQUESTS, [("retry-after", "600")])),
        Err(error) => {
            tracing::error!(reason = %error, "could not count a start");
            return no_store(StatusCode::SERVICE_UNAVAILABLE);
        }
    }
    let opened = async {
        let application_id = telegram_passport::generate_nonce()?;
        let now = unix_now().to_string();
        app.ledger
            .record_with(Fact::Opened(&application_id), &now)
            .await
            .map_err(|error| Error::NonceStore(Box::new(error)))?;
        app.request(&application_id).await
    };
    match opened.await {
        Ok(body) => {
            tracing::info!(
                application = body["application_id"].as_str().unwrap_or("?"),
                "application opened"
            );
            no_store(Json(body))
        }
        Err(error) => {
            tracing::error!(reason = %error, "could not open an application");
            no_store(StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

/// A fresh request for an open application: 200 with the request, 410
/// for one that is finished (`"state": "finished"`) or expired
/// (`"expired"`), 404 for one this service does not know (`"unknown"`).
async fn fresh_request<S: AsyncNonceStore>(
    State(app): State<Arc<App<S>>>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = refuse_from_elsewhere(&app, &headers, "a request refused") {
        return refused;
    }
    let unknown = || no_store((StatusCode::NOT_FOUND, Json(serde_json::json!({ "state": "unknown" }))));
    if !is_application_id(&id) {
        return unknown();
    }
    let gone = |state: &str| no_store((StatusCode::GONE, Json(serde_json::json!({ "state": state }))));
    let looked_up = async {
        let stored = app.ledger.holds(Fact::Stored(&id)).await? || app.holds(&id).await;
        let opened = app.ledger.value(Fact::Opened(&id)).await?;
        Ok::<_, crate::ledger::Unavailable>((stored, opened))
    };
    let opened = match looked_up.await {
        Ok((true, _)) => return gone("finished"),
        Ok((false, None)) => return unknown(),
        Ok((false, Some(opened))) => opened.parse::<u64>().unwrap_or(0),
        Err(error) => {
            tracing::warn!(reason = %error, "an application could not be looked up");
            return no_store(StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    if unix_now().saturating_sub(opened) > app.config.application_ttl.as_secs() {
        return gone("expired");
    }
    match app.request(&id).await {
        Ok(body) => no_store(Json(body)),
        Err(error) => {
            tracing::error!(reason = %error, "could not issue a request");
            no_store(StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

/// Seconds since the Unix epoch.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// Bot API updates. 401 for a wrong secret (its body is never read), 400
/// for unreadable JSON, 503 (with `Retry-After` when another instance holds
/// the submission) when it should be delivered again, 200 otherwise.
async fn webhook<S: AsyncNonceStore + 'static>(
    State(app): State<Arc<App<S>>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let given = headers
        .get("x-telegram-bot-api-secret-token")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !bool::from(given.ct_eq(app.config.webhook_secret.as_bytes())) {
        tracing::warn!("webhook call with a wrong secret token refused");
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let body = match crate::serve::read_body(body).await {
        Ok(body) => body,
        Err(status) => return status.into_response(),
    };
    let update: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(update) => update,
        Err(error) => {
            tracing::warn!(reason = %error, "unreadable update");
            return StatusCode::BAD_REQUEST.into_response();
        }
    };
    let update_id = &update["update_id"];
    let passport_data = match PassportData::from_json(&body) {
        Ok(passport_data) => passport_data,
        Err(Error::NoPassportData) => return StatusCode::OK.into_response(),
        Err(error) => {
            tracing::warn!(update = %update_id, reason = %error, "unusable passport data");
            return StatusCode::OK.into_response();
        }
    };
    let Some(user_id) = update["message"]["from"]["id"].as_i64() else {
        tracing::warn!(update = %update_id, "passport data without a sender");
        return StatusCode::OK.into_response();
    };
    let span = tracing::info_span!("submission", update = %update_id);
    let outcome = submission(&app, user_id, passport_data).instrument(span.clone()).await;
    let _entered = span.enter();
    match outcome {
        Ok(Outcome::Accepted { application, files }) => {
            tracing::info!(application, files, outcome = "accepted", "application stored");
        }
        Ok(Outcome::AlreadyStored { application }) => {
            tracing::info!(application, outcome = "already stored", "submission finished");
        }
        Ok(Outcome::Told {
            application,
            told,
            reached,
        }) => tracing::info!(
            application = application.as_deref().unwrap_or("a new one"),
            told,
            reached,
            outcome = "told",
            "user told, sent to the application's page"
        ),
        Ok(Outcome::AlreadyTold) => tracing::info!(outcome = "already told", "submission finished"),
        Ok(Outcome::Finished) => tracing::info!(outcome = "finished", "another delivery finished it"),
        // Not the error's text: it could quote what was sent.
        Ok(Outcome::Unusable) => tracing::warn!(outcome = "unusable", "submission not decrypted"),
        Err(retry) => {
            tracing::warn!(outcome = "retry", reason = %retry.reason, "not finished, left for redelivery");
            let mut response = StatusCode::SERVICE_UNAVAILABLE.into_response();
            if let Some(after) = retry.after {
                // Whole seconds, rounded up: never "0" while a lease lasts.
                let seconds = after.as_millis().div_ceil(1000).max(1);
                if let Ok(value) = seconds.to_string().parse() {
                    response.headers_mut().insert("retry-after", value);
                }
            }
            return response;
        }
    }
    StatusCode::OK.into_response()
}
