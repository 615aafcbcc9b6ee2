//! The KYC backend's routes and the life of an application.
//!
//! `GET /start` opens an application: a new application id, and a nonce
//! whose context is that id, issued by the nonce store (in memory, or Redis
//! shared by every instance) for 30 minutes. Nothing else is kept: the
//! store is the only state, and everything in it expires.
//!
//! `POST /telegram/webhook` takes a submission through
//! decrypt → peek → validate → store or report → consume:
//! the nonce is only *peeked* (its context read, nothing consumed) until
//! the outcome is durable, and consumed last. So any failure on the way
//! (a download, the disk, the Bot API, the store itself) answers 503 and
//! leaves the submission as it was: Telegram delivers the update again and
//! it goes through. Two deliveries racing (two instances) both may do the
//! work; the application's folder appears once (an atomic rename that the
//! second finds done), and the store lets exactly one consume succeed.
//!
//! A rejected submission is answered with `setPassportDataErrors` (when
//! there are field or file errors) and a `sendMessage` to the user with a
//! button that opens a fresh request for the *same* application (a new
//! nonce, same context); then the old nonce is consumed, so it stays
//! refused. The corrected submission is stored under the same application id.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use subtle::ConstantTimeEq;
use telegram_passport::{
    decrypt, AsyncNonceStore, CalendarDate, DecryptedPassport, ElementType, Error, NonceCheck, PassportData,
    PassportRequest, PrivateKey, Problem, Rejected, Scope, ScopeElement, Validation, Validator,
};
use tracing::Instrument as _;

use crate::archive::{Archive, Committed};
use crate::bot_api::{BotApi, Failure};
use crate::client_ip::Unreadable;
use crate::limiter::StartLimiter;
use crate::shared::SharedRedis;

/// How long a request link stays valid.
const REQUEST_TTL: Duration = Duration::from_secs(30 * 60);
/// Per `START_WINDOW`, how many applications one client may open.
const START_WINDOW: Duration = Duration::from_secs(10 * 60);

/// Everything the service is configured with.
pub(crate) struct Config {
    pub(crate) bot_token: String,
    pub(crate) key: PrivateKey,
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
}

/// The service's state, shared by all requests: configuration and handles,
/// nothing that grows.
pub(crate) struct App<S> {
    config: Config,
    bot_id: i64,
    nonces: S,
    starts: StartLimiter,
    archive: Archive,
    bot_api: BotApi,
}

/// The router, on a nonce store.
pub(crate) fn router<S: AsyncNonceStore + 'static>(
    config: Config,
    nonces: S,
    shared: Option<SharedRedis>,
) -> Result<Router, Failure> {
    let bot_id = telegram_passport::bot_id_from_token(&config.bot_token)?;
    let app = App {
        bot_id,
        nonces,
        starts: StartLimiter::new(config.starts_per_client, START_WINDOW, &config.webhook_secret, shared),
        archive: Archive::open(config.data_dir.clone())?,
        bot_api: BotApi::new(config.bot_api_url.clone(), config.bot_token.clone())?,
        config,
    };
    Ok(Router::new()
        .route("/", get(index))
        .route("/start", get(start::<S>))
        .route("/telegram/webhook", post(webhook::<S>))
        .with_state(Arc::new(app)))
}

/// What this service asks every applicant for.
fn kyc_scope() -> Result<Scope, Error> {
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

async fn index() -> Html<&'static str> {
    Html(
        r##"<!doctype html>
<html><head><meta charset="utf-8"><title>Verify your identity</title></head>
<body>
<h1>Verify your identity</h1>
<p>Share your documents securely through Telegram Passport.</p>
<button id="login">Log in with Telegram</button>
<p><a id="link" href="#" hidden>Open Telegram</a></p>
<script>
document.getElementById('login').onclick = async () => {
  const request = await (await fetch('/start')).json();
  const link = document.getElementById('link');
  link.href = request.deep_link;
  link.hidden = false;
  window.location.href = request.deep_link;
};
</script>
</body></html>"##,
    )
}

impl<S: AsyncNonceStore> App<S> {
    /// A request for `application_id` under a fresh nonce.
    async fn request(&self, application_id: &str) -> Result<PassportRequest, Error> {
        let nonce = self.nonces.issue(application_id, REQUEST_TTL).await?;
        Ok(PassportRequest::new(
            self.bot_id,
            kyc_scope()?,
            &self.config.key.public_key(),
            nonce,
        ))
    }

    /// The client a request comes from.
    fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> Result<IpAddr, Unreadable> {
        crate::client_ip::client(peer, headers, self.config.client_ip_header.as_ref())
    }
}

/// A new application: its id, a nonce remembering it, the link and SDK parameters.
async fn start<S: AsyncNonceStore>(
    State(app): State<Arc<App<S>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let client = match app.client(peer, &headers) {
        Ok(client) => client,
        Err(unreadable) => {
            // Not the header's value: it is whatever the client sent.
            tracing::warn!(reason = %unreadable, "start refused: no client address");
            return StatusCode::BAD_REQUEST.into_response();
        }
    };
    match app.starts.allow(client).await {
        Ok(true) => {}
        Ok(false) => return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "600")]).into_response(),
        Err(error) => {
            tracing::error!(reason = %error, "could not count a start");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    }
    let opened = async {
        let application_id = telegram_passport::generate_nonce()?;
        let request = app.request(&application_id).await?;
        Ok::<_, Error>(serde_json::json!({
            "application_id": application_id,
            "deep_link": request.deep_link(),
            "sdk": request.sdk_parameters(),
        }))
    };
    match opened.await {
        Ok(body) => {
            tracing::info!(
                application = body["application_id"].as_str().unwrap_or("?"),
                "application opened"
            );
            Json(body).into_response()
        }
        Err(error) => {
            tracing::error!(reason = %error, "could not open an application");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// What became of a submission that needs no retry.
enum Outcome {
    Accepted {
        application: String,
        files: usize,
    },
    AlreadyAccepted {
        application: String,
    },
    Rejected {
        application: String,
        errors: usize,
        missing: bool,
    },
    /// Replayed, expired or never issued here.
    Refused(Error),
    /// Not decryptable with this key, or malformed: retrying cannot help.
    Unusable,
}

/// Bot API updates. 401 for a wrong secret (its body is never read), 400
/// for unreadable JSON, 503 when the submission could not be finished and
/// should be delivered again, 200 otherwise (including for refused submissions).
async fn webhook<S: AsyncNonceStore + 'static>(
    State(app): State<Arc<App<S>>>,
    headers: HeaderMap,
    body: Body,
) -> StatusCode {
    let given = headers
        .get("x-telegram-bot-api-secret-token")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !bool::from(given.ct_eq(app.config.webhook_secret.as_bytes())) {
        tracing::warn!("webhook call with a wrong secret token refused");
        return StatusCode::UNAUTHORIZED;
    }
    let body = match crate::serve::read_body(body).await {
        Ok(body) => body,
        Err(status) => return status,
    };
    let update: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(update) => update,
        Err(error) => {
            tracing::warn!(reason = %error, "unreadable update");
            return StatusCode::BAD_REQUEST;
        }
    };
    let update_id = &update["update_id"];
    let passport_data = match PassportData::from_json(&body) {
        Ok(passport_data) => passport_data,
        Err(Error::NoPassportData) => return StatusCode::OK,
        Err(error) => {
            tracing::warn!(update = %update_id, reason = %error, "unusable passport data");
            return StatusCode::OK;
        }
    };
    let Some(user_id) = update["message"]["from"]["id"].as_i64() else {
        tracing::warn!(update = %update_id, "passport data without a sender");
        return StatusCode::OK;
    };
    let span = tracing::info_span!("submission", update = %update_id);
    let outcome = submission(&app, user_id, passport_data).instrument(span.clone()).await;
    let _entered = span.enter();
    match outcome {
        Ok(Outcome::Accepted { application, files }) => {
            tracing::info!(application, files, outcome = "accepted", "application stored");
        }
        Ok(Outcome::AlreadyAccepted { application }) => {
            tracing::info!(application, outcome = "already stored", "submission finished");
        }
        Ok(Outcome::Rejected {
            application,
            errors,
            missing,
        }) => tracing::info!(
            application,
            errors,
            missing_elements = missing,
            outcome = "rejected",
            "user told, new link sent"
        ),
        Ok(Outcome::Refused(error)) => tracing::warn!(outcome = "refused", reason = %error, "submission refused"),
        // Not the error's text: it could quote what was sent.
        Ok(Outcome::Unusable) => tracing::warn!(outcome = "unusable", "submission not decrypted"),
        Err(error) => {
            tracing::error!(outcome = "retry", reason = %error, "not finished, left for redelivery");
            return StatusCode::SERVICE_UNAVAILABLE;
        }
    }
    StatusCode::OK
}

/// decrypt → peek → validate → store or report → consume. An `Err` left
/// the submission untouched and retryable.
async fn submission<S: AsyncNonceStore + 'static>(
    app: &Arc<App<S>>,
    user_id: i64,
    passport_data: PassportData,
) -> Result<Outcome, Failure> {
    // RSA takes a fraction of a millisecond to milliseconds: off the executor.
    let (worker, span) = (Arc::clone(app), tracing::Span::current());
    let decrypted = tokio::task::spawn_blocking(move || {
        span.in_scope(|| decrypt(&worker.config.key, &passport_data, NonceCheck::Skip))
    })
    .await?;
    let passport = match decrypted {
        Ok(passport) => passport,
        // The crate's audit trail has the kind and the failed step.
        Err(_) => return Ok(Outcome::Unusable),
    };
    let nonce = passport.nonce().to_owned();
    let application = match app.nonces.peek(&nonce).await {
        Ok(application) => application,
        Err(error @ (Error::NonceReplayed | Error::NonceUnknown | Error::NonceExpired)) => {
            return Ok(Outcome::Refused(error))
        }
        Err(error) => return Err(error.into()),
    };
    let scope = kyc_scope()?;
    let outcome = match Validator::new(&scope, today()).minimum_age(18).validate(passport) {
        Validation::Accepted(accepted) => match store(app, &application, user_id, accepted.passport()).await? {
            Committed::Stored => Outcome::Accepted {
                files: count_files(accepted.passport()),
                application,
            },
            Committed::AlreadyStored => Outcome::AlreadyAccepted { application },
        },
        Validation::Rejected(rejected) => {
            let (errors, missing) = report(app, user_id, &application, &rejected).await?;
            Outcome::Rejected {
                application,
                errors,
                missing,
            }
        }
    };
    match app.nonces.consume(&nonce).await {
        // Replayed: another delivery of the same update finished first.
        Ok(_) | Err(Error::NonceReplayed) => Ok(outcome),
        Err(error) => Err(error.into()),
    }
}

fn count_files(passport: &DecryptedPassport) -> usize {
    passport
        .identity_documents()
        .chain(passport.address_documents())
        .map(|document| document.all_files().count())
        .sum()
}

/// Downloads and decrypts every document photo into a draft with the
/// values as `application.json`, and commits it as the application's folder.
async fn store<S: AsyncNonceStore + 'static>(
    app: &Arc<App<S>>,
    application_id: &str,
    user_id: i64,
    passport: &DecryptedPassport,
) -> Result<Committed, Failure> {
    if app.archive.contains(application_id) {
        return Ok(Committed::AlreadyStored);
    }
    let draft = Arc::new(app.archive.draft()?);
    for document in passport.identity_documents().chain(passport.address_documents()) {
        for (index, file) in document.all_files().enumerate() {
            let file_id = file.file_id().ok_or("not a Bot API file")?;
            let encrypted = app.bot_api.download(file_id).await?;
            let (file, draft) = (file.clone(), Arc::clone(&draft));
            let name = format!("{}-{index}.jpg", document.element_type());
            tokio::task::spawn_blocking(move || -> Result<(), Failure> {
                let jpeg = file.decrypt(encrypted)?;
                Ok(draft.write(&name, &jpeg)?)
            })
            .await??;
        }
    }
    let json = serde_json::to_vec_pretty(&serde_json::json!({
        "application_id": application_id,
        "telegram_user_id": user_id,
        "passport": passport,
    }))?;
    let (archive_app, id) = (Arc::clone(app), application_id.to_owned());
    let committed = tokio::task::spawn_blocking(move || -> Result<Committed, Failure> {
        let draft = Arc::into_inner(draft).ok_or("a file task still holds the draft")?;
        draft.write("application.json", &json)?;
        Ok(draft.commit(&archive_app.archive, &id)?)
    })
    .await??;
    Ok(committed)
}

/// Tells the user what to fix: error reports for what the app can point at,
/// and a message with a fresh request for the same application. Returns
/// the number of error reports and whether whole elements were missing.
async fn report<S: AsyncNonceStore>(
    app: &App<S>,
    user_id: i64,
    application_id: &str,
    rejected: &Rejected,
) -> Result<(usize, bool), Failure> {
    let request = app.request(application_id).await?;
    let body = rejected.set_passport_data_errors(user_id);
    if !body.errors.is_empty() {
        app.bot_api.set_passport_data_errors(&body).await?;
    }
    let missing: Vec<String> = rejected
        .findings()
        .iter()
        .filter_map(|finding| match finding.problem() {
            Problem::MissingElement { requested } => Some(
                requested
                    .iter()
                    .map(ElementType::to_string)
                    .collect::<Vec<_>>()
                    .join(" or "),
            ),
            _ => None,
        })
        .collect();
    let text = match (missing.is_empty(), body.errors.is_empty()) {
        (true, _) => {
            "Some of your documents need attention: Telegram shows what to fix. Then send them again.".to_owned()
        }
        (false, true) => format!("Please also share: {}.", missing.join("; ").replace('_', " ")),
        (false, false) => format!(
            "Some of your documents need attention (Telegram shows what to fix), and please also share: {}.",
            missing.join("; ").replace('_', " ")
        ),
    };
    app.bot_api
        .send_message(user_id, &text, "Continue verification", &request.deep_link())
        .await?;
    Ok((body.errors.len(), !missing.is_empty()))
}

/// Today's date (UTC).
fn today() -> CalendarDate {
    let today = time::OffsetDateTime::now_utc().date();
    let year = u16::try_from(today.year()).unwrap_or(u16::MAX);
    CalendarDate::new(year, u8::from(today.month()), today.day()).expect("the clock gives a real date")
}
