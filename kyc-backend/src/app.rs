//! The KYC backend's routes and the state they share.
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

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path as UrlPath, State};
use axum::http::{header, HeaderMap, HeaderName, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;
use telegram_passport::{
    AsyncNonceStore, CalendarDate, CredentialsKey as _, ElementType, Error, KeyRing, PassportData, PassportRequest,
    Scope, ScopeElement,
};
use tracing::Instrument as _;

use crate::archive::Archive;
use crate::bot_api::{BotApi, Failure};
use crate::client_ip::Unreadable;
use crate::ledger::{Fact, Ledger};
use crate::limiter::StartLimiter;
pub(crate) use crate::public_url::PublicUrl;
use crate::shared::SharedRedis;
use crate::submission::{settle_drafts, submission, Outcome};

/// How long a request link stays valid.
const REQUEST_TTL: Duration = Duration::from_secs(30 * 60);
/// How often drafts of dead attempts are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(30);
/// Per `START_WINDOW`, how many applications one client may open.
const START_WINDOW: Duration = Duration::from_secs(10 * 60);

/// Everything the service is configured with.
pub(crate) struct Config {
    /// Where applicants' browsers reach this service.
    pub(crate) public_url: PublicUrl,
    pub(crate) bot_token: String,
    /// The keys that open credentials, the current one first: requests
    /// carry its public half.
    pub(crate) key: KeyRing,
    pub(crate) webhook_secret: String,
    pub(crate) bot_api_url: String,
    pub(crate) data_dir: std::path::PathBuf,
    /// The header a trusted load balancer puts the client's address in
    /// (its last entry); `None` to use the connection's peer address.
    pub(crate) client_ip_header: Option<HeaderName>,
    /// Applications one client may open per ten minutes.
    pub(crate) starts_per_client: u16,
    /// How long one instance owns a submission while working on it.
    pub(crate) claim_lease: Duration,
    /// How long an application stays open for fresh requests.
    pub(crate) application_ttl: Duration,
}

/// The service's state, shared by all requests: configuration and handles,
/// nothing that grows.
pub(crate) struct App<S> {
    pub(crate) config: Config,
    bot_id: i64,
    pub(crate) nonces: S,
    pub(crate) ledger: Ledger,
    starts: StartLimiter,
    pub(crate) archive: Archive,
    pub(crate) bot_api: BotApi,
}

/// The router, on a nonce store and the shared Redis (if any). Settles
/// the drafts of dead attempts first, then every half minute.
pub(crate) async fn router<S: AsyncNonceStore + 'static>(
    config: Config,
    nonces: S,
    shared: Option<SharedRedis>,
) -> Result<Router, Failure> {
    let bot_id = telegram_passport::bot_id_from_token(&config.bot_token)?;
    let app = App {
        bot_id,
        nonces,
        ledger: match shared.clone() {
            Some(redis) => Ledger::Redis(redis),
            None => Ledger::in_memory(),
        },
        starts: StartLimiter::new(config.starts_per_client, START_WINDOW, &config.webhook_secret, shared),
        archive: Archive::open(config.data_dir.clone())?,
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
            tokio::time::sleep(SWEEP_EVERY).await;
            settle_drafts(&sweeper).await;
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

/// What this service asks every applicant for.
pub(crate) fn kyc_scope() -> Result<Scope, Error> {
    Scope::new([
        ScopeElement::one(ElementType::PersonalDetails).native_names(),
        ScopeElement::one_of([
            ElementType::Passport,
            ElementType::IdentityCard,
            ElementType::DriverLicense,
        ])
        .selfie(),
        ElementType::Address.into(),
        ElementType::PhoneNumber.into(),
        ElementType::Email.into(),
    ])
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
        if app.ledger.holds(Fact::Stored(&id)).await? || app.holds_locally(&id).await {
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

/// What an applicant was last told, as the ledger keeps it.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct Told {
    /// The message, as the bot sent it.
    pub(crate) message: String,
    /// The request the submission answered ([`request_tag`]).
    pub(crate) request: Option<String>,
}

impl Told {
    /// The ledger's value.
    pub(crate) fn write(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    fn read(value: &str) -> Self {
        serde_json::from_str(value).unwrap_or_else(|_| Self {
            message: value.to_owned(),
            request: None,
        })
    }
}

/// A short name for the request that carried `nonce`, which the page can
/// be told without the nonce: the first 16 characters of its SHA-256, in
/// URL-safe base64.
pub(crate) fn request_tag(nonce: &str) -> String {
    let digest = Sha256::digest(nonce.as_bytes());
    let mut tag = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
    tag.truncate(16);
    tag
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

impl<S: AsyncNonceStore> App<S> {
    /// A request for `application_id` under a fresh nonce, returning to the
    /// application's page; its answer for the page (the application id, the
    /// Telegram Passport link, the SDK's parameters, the request's tag).
    pub(crate) async fn request(&self, application_id: &str) -> Result<serde_json::Value, Error> {
        let nonce = self.nonces.issue(application_id, REQUEST_TTL).await?;
        let tag = request_tag(&nonce);
        let request = PassportRequest::new(self.bot_id, kyc_scope()?, &self.config.key.public_key(), nonce)
            .with_callback_url(self.config.public_url.callback(application_id, &tag));
        Ok(serde_json::json!({
            "application_id": application_id,
            "deep_link": request.deep_link(),
            "sdk": request.sdk_parameters(),
            "request": tag,
        }))
    }

    /// Whether this instance's archive holds application `id`: true
    /// whatever the ledger forgot (an in-memory ledger after a restart, a
    /// fact past its time) or has yet to learn (the sweep repairs it).
    async fn holds_locally(&self, id: &str) -> bool {
        match self.archive.folder(id) {
            Some(folder) => tokio::fs::metadata(folder).await.is_ok_and(|meta| meta.is_dir()),
            None => false,
        }
    }

    /// The client a request comes from.
    fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> Result<IpAddr, Unreadable> {
        crate::client_ip::client(peer, headers, self.config.client_ip_header.as_ref())
    }

    /// Whether a browser says the request comes from a page of another
    /// site, or of another origin than the service's own: such a request
    /// was made by that page, not by the applicant. A caller that is not a
    /// browser sends neither header and is served.
    fn is_from_elsewhere(&self, headers: &HeaderMap) -> bool {
        let site = headers.get("sec-fetch-site").map(|v| v.as_bytes());
        let elsewhere_site = site.is_some_and(|site| site != b"same-origin" && site != b"none");
        let origin = headers.get(header::ORIGIN).map(|v| v.as_bytes());
        let elsewhere_origin = origin.is_some_and(|origin| origin != self.config.public_url.origin().as_bytes());
        elsewhere_site || elsewhere_origin
    }
}

/// A new application: its id, recorded as opened, and its first request.
async fn start<S: AsyncNonceStore>(
    State(app): State<Arc<App<S>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if app.is_from_elsewhere(&headers) {
        tracing::warn!("start refused: asked for by a page of another site");
        return no_store(StatusCode::FORBIDDEN);
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
    if app.is_from_elsewhere(&headers) {
        tracing::warn!("a request refused: asked for by a page of another site");
        return no_store(StatusCode::FORBIDDEN);
    }
    let unknown = || no_store((StatusCode::NOT_FOUND, Json(serde_json::json!({ "state": "unknown" }))));
    if !is_application_id(&id) {
        return unknown();
    }
    let gone = |state: &str| no_store((StatusCode::GONE, Json(serde_json::json!({ "state": state }))));
    let looked_up = async {
        let stored = app.ledger.holds(Fact::Stored(&id)).await? || app.holds_locally(&id).await;
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

/// Today's date (UTC).
pub(crate) fn today() -> CalendarDate {
    let today = time::OffsetDateTime::now_utc().date();
    let year = u16::try_from(today.year()).unwrap_or(u16::MAX);
    CalendarDate::new(year, u8::from(today.month()), today.day()).expect("the clock gives a real date")
}
