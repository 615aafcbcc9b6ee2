//! The KYC backend: HTTP routes, the webhook's decrypt → validate → store or
//! report flow, and the Bot API calls it makes. `main.rs` reads the
//! configuration and serves this router; the end-to-end test serves it too.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use subtle::ConstantTimeEq;
use telegram_passport::{
    decrypt, CalendarDate, DecryptedPassport, ElementType, Error, MemoryNonceStore, NonceCheck, NonceStore,
    PassportData, PassportRequest, PrivateKey, Scope, ScopeElement, Validation, Validator,
};

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// How long a request link stays valid.
const REQUEST_TTL: Duration = Duration::from_secs(30 * 60);

/// Everything the service is configured with.
pub(crate) struct Config {
    pub(crate) bot_token: String,
    pub(crate) key: PrivateKey,
    pub(crate) webhook_secret: String,
    pub(crate) bot_api_url: String,
    pub(crate) data_dir: PathBuf,
    /// The date documents are judged against; `None` for today's.
    pub(crate) today: Option<CalendarDate>,
}

/// The service's state, shared by all requests.
pub(crate) struct App {
    config: Config,
    bot_id: i64,
    nonces: MemoryNonceStore,
    /// The scope each open application asked for, by application id.
    scopes: Mutex<HashMap<String, Scope>>,
    http: reqwest::Client,
}

pub(crate) fn router(config: Config) -> Result<Router, Failure> {
    let bot_id = telegram_passport::bot_id_from_token(&config.bot_token)?;
    create_private_dir(&config.data_dir)?;
    let app = App {
        config,
        bot_id,
        nonces: MemoryNonceStore::new(),
        scopes: Mutex::new(HashMap::new()),
        http: reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?,
    };
    Ok(Router::new()
        .route("/", get(index))
        .route("/start", get(start))
        .route("/telegram/webhook", post(webhook))
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

/// A new application: its id, a nonce remembering it, the link and SDK parameters.
async fn start(State(app): State<Arc<App>>) -> Response {
    let created = (|| -> Result<serde_json::Value, Error> {
        let application_id = telegram_passport::generate_nonce()?;
        let scope = kyc_scope()?;
        let nonce = app.nonces.issue(&application_id, REQUEST_TTL)?;
        let request = PassportRequest::new(app.bot_id, scope.clone(), &app.config.key.public_key(), nonce);
        app.scopes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(application_id.clone(), scope);
        Ok(serde_json::json!({
            "application_id": application_id,
            "deep_link": request.deep_link(),
            "sdk": request.sdk_parameters(),
        }))
    })();
    match created {
        Ok(body) => {
            log::info!("application {} started", body["application_id"].as_str().unwrap_or("?"));
            Json(body).into_response()
        }
        Err(error) => {
            log::error!("could not start an application: {error}");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// Bot API updates. Anything but a bad secret or unreadable JSON is
/// answered 200, so that Telegram does not resend it.
async fn webhook(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let given = headers
        .get("x-telegram-bot-api-secret-token")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !bool::from(given.ct_eq(app.config.webhook_secret.as_bytes())) {
        log::warn!("webhook call with a wrong secret token refused");
        return StatusCode::UNAUTHORIZED;
    }
    let update: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(update) => update,
        Err(error) => {
            log::warn!("unreadable update: {error}");
            return StatusCode::BAD_REQUEST;
        }
    };
    let passport_data = match PassportData::from_json(&body) {
        Ok(passport_data) => passport_data,
        Err(Error::NoPassportData) => return StatusCode::OK,
        Err(error) => {
            log::warn!("update {}: unusable passport data: {error}", update["update_id"]);
            return StatusCode::OK;
        }
    };
    let Some(user_id) = update["message"]["from"]["id"].as_i64() else {
        log::warn!("update {}: passport data without a sender", update["update_id"]);
        return StatusCode::OK;
    };
    if let Err(error) = handle_submission(&app, user_id, passport_data).await {
        log::error!("update {}: {error}", update["update_id"]);
    }
    StatusCode::OK
}

async fn handle_submission(app: &Arc<App>, user_id: i64, passport_data: PassportData) -> Result<(), Failure> {
    // RSA takes milliseconds: off the async executor.
    let worker = Arc::clone(app);
    let decrypted = tokio::task::spawn_blocking(move || {
        decrypt(&worker.config.key, &passport_data, NonceCheck::Consume(&worker.nonces))
    })
    .await?;
    let passport = match decrypted {
        Ok(passport) => passport,
        Err(error @ (Error::NonceReplayed | Error::NonceUnknown | Error::NonceExpired)) => {
            log::warn!("submission refused: {error}");
            return Ok(());
        }
        Err(error) => return Err(format!("submission not decrypted: {error}").into()),
    };
    let application_id = passport.context().unwrap_or_default().to_owned();
    let scope = app
        .scopes
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&application_id);
    let scope = scope.ok_or("no open application for this nonce")?;
    let today = app.config.today.unwrap_or_else(today);
    match Validator::new(&scope, today).minimum_age(18).validate(passport) {
        Validation::Accepted(accepted) => {
            let files = store(app, &application_id, accepted.passport()).await?;
            log::info!("application {application_id}: accepted, {files} files stored");
        }
        Validation::Rejected(rejected) => {
            let body = rejected.set_passport_data_errors(user_id);
            app.bot_api("setPassportDataErrors", &body).await?;
            log::info!(
                "application {application_id}: rejected with {} errors",
                body.errors.len()
            );
        }
    }
    Ok(())
}

/// Downloads and decrypts every document file, then writes the values; the
/// folder gets `application.json` last, once everything else is in place.
async fn store(app: &App, application_id: &str, passport: &DecryptedPassport) -> Result<usize, Failure> {
    let dir = app.config.data_dir.join(application_id);
    let folder = dir.clone();
    tokio::task::spawn_blocking(move || create_private_dir(&folder)).await??;
    let mut stored = 0;
    for document in passport.identity_documents().chain(passport.address_documents()) {
        for (index, file) in document.all_files().enumerate() {
            let file_id = file.file_id().ok_or("not a Bot API file")?;
            let encrypted = app.download(file_id).await?;
            let file = file.clone();
            let path = dir.join(format!("{}-{index}.jpg", document.element_type()));
            tokio::task::spawn_blocking(move || -> Result<(), Failure> {
                let jpeg = file.decrypt(encrypted)?;
                Ok(write_private(&path, &jpeg)?)
            })
            .await??;
            stored += 1;
        }
    }
    let json = serde_json::to_vec_pretty(passport)?;
    let path = dir.join("application.json");
    tokio::task::spawn_blocking(move || write_private(&path, &json)).await??;
    Ok(stored)
}

/// Creates `path` (and its parents) readable by the owner only (0700 on Unix).
fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

/// Writes `bytes` to `path` readable by the owner only (0600 on Unix), all
/// at once: through a new temporary file beside it, renamed into place.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let folder = path.parent().unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(folder)?;
    std::io::Write::write_all(&mut file, bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

impl App {
    /// Calls a Bot API method with a JSON body; its `result`.
    async fn bot_api(&self, method: &str, body: &impl serde::Serialize) -> Result<serde_json::Value, Failure> {
        let url = format!("{}/bot{}/{method}", self.config.bot_api_url, self.config.bot_token);
        let reply: serde_json::Value = self.http.post(url).json(body).send().await?.json().await?;
        if reply["ok"] != true {
            return Err(format!("{method} failed: {}", reply["description"]).into());
        }
        Ok(reply["result"].clone())
    }

    /// `getFile`, then the download.
    async fn download(&self, file_id: &str) -> Result<Vec<u8>, Failure> {
        let file = self
            .bot_api("getFile", &serde_json::json!({ "file_id": file_id }))
            .await?;
        let path = file["file_path"].as_str().ok_or("getFile returned no file_path")?;
        let url = format!("{}/file/bot{}/{path}", self.config.bot_api_url, self.config.bot_token);
        let response = self.http.get(url).send().await?.error_for_status()?;
        Ok(response.bytes().await?.to_vec())
    }
}

/// Today's date (UTC) from the system clock.
fn today() -> CalendarDate {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400) as i64;
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as u16;
    CalendarDate::new(year, month, day).unwrap_or(CalendarDate::new(1970, 1, 1).expect("a real date"))
}
