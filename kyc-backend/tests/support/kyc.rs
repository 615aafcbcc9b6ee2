//! Drives the `kyc_backend` service's binary as a user's browser, a user's
//! Telegram app and Telegram's Bot API would: a stand-in Bot API on
//! 127.0.0.1 (answers `getMe`, `getWebhookInfo`, `getFile`, file
//! downloads, `setPassportDataErrors` and `sendMessage`, records them, and
//! fails `getFile` on request; refuses what Telegram refuses: a Telegram
//! Passport link inside a button, `400 Bad Request: BUTTON_URL_INVALID`);
//! backend processes started with the environment a deployment gives them;
//! submissions sealed with the crate's client side.

#![allow(dead_code, unreachable_pub, unused_imports)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::routing;
use axum::{Json, Router};
use serde_json::{json, Value};
use telegram_passport::client::PassportBuilder;
use telegram_passport::{
    Date, ElementType, FileSlot, Gender, IdDocumentData, PassportRequest, PersonalDetails, ResidentialAddress,
};

pub use telegram_passport_dev_support::softhsm;

pub const TOKEN: &str = "123456:TEST-token";
pub const SECRET: &str = "webhook-secret-0123456789";

/// What the stand-in Bot API holds and has seen.
#[derive(Default)]
pub struct BotApi {
    pub files: Mutex<HashMap<String, Vec<u8>>>,
    pub errors: Mutex<Vec<Value>>,
    pub messages: Mutex<Vec<Value>>,
    /// Users who blocked the bot: `sendMessage` to them answers 403.
    pub blocked: Mutex<HashSet<i64>>,
    pub get_file_calls: AtomicUsize,
    /// The number of the `getFile` call that fails (HTTP 500); 0 for none.
    pub failing_get_file: AtomicUsize,
    /// How long each file download takes, in milliseconds.
    pub download_delay_ms: std::sync::atomic::AtomicU64,
    /// If not 0, downloads are sent 256 KiB at a time, this many
    /// milliseconds apart, as a slow network delivers them.
    pub download_pace_ms: std::sync::atomic::AtomicU64,
    /// Run when a `sendMessage` arrives, before it is answered.
    pub on_send_message: Mutex<Option<Box<dyn Fn() + Send>>>,
    /// `sendMessage` calls refused (a Passport link in a button), each body.
    pub refused_messages: Mutex<Vec<Value>>,
    /// What `getWebhookInfo` answers; `None`: a webhook set to
    /// `https://kyc.example.org/telegram/webhook` with nothing pending.
    pub webhook_info: Mutex<Option<Value>>,
    /// Whether the token is refused (`getMe` and every call answer 401).
    pub token_refused: std::sync::atomic::AtomicBool,
    /// If set, every `sendMessage` is refused with 400 and this description.
    pub message_refusal: Mutex<Option<&'static str>>,
    /// How many of the next Bot API calls answer 429 (flood control, with
    /// `parameters.retry_after`), as Telegram does to a bot that sends too
    /// fast.
    pub rate_limited: AtomicUsize,
}

/// Whether `url` opens a Telegram Passport request (`tg://passport?…`,
/// `tg://resolve?domain=telegrampassport…`, or the same behind
/// `https://t.me/…`), which Telegram refuses inside any button.
pub fn is_passport_link(url: &str) -> bool {
    let url = url.to_ascii_lowercase();
    url.starts_with("tg:") && (url.contains("passport")) || url.contains("telegrampassport")
}

/// Every URL in the buttons of a `sendMessage` body.
pub fn button_urls(body: &Value) -> Vec<String> {
    let Some(rows) = body["reply_markup"]["inline_keyboard"].as_array() else {
        return Vec::new();
    };
    rows.iter()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|button| button["url"].as_str().map(str::to_owned))
        .collect()
}

async fn api_method(
    State(api): State<Arc<BotApi>>,
    UrlPath((bot, method)): UrlPath<(String, String)>,
    body: Bytes,
) -> (axum::http::StatusCode, Json<Value>) {
    if api.token_refused.load(Ordering::SeqCst) || bot != format!("bot{TOKEN}") {
        let reply = json!({"ok": false, "error_code": 401, "description": "Unauthorized"});
        return (axum::http::StatusCode::UNAUTHORIZED, Json(reply));
    }
    let body: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&body).unwrap()
    };
    let limited = api
        .rate_limited
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| left.checked_sub(1));
    if limited.is_ok() {
        let reply = json!({
            "ok": false,
            "error_code": 429,
            "description": "Too Many Requests: retry after 1",
            "parameters": {"retry_after": 1},
        });
        return (axum::http::StatusCode::TOO_MANY_REQUESTS, Json(reply));
    }
    let ok = |result: Value| (axum::http::StatusCode::OK, Json(json!({"ok": true, "result": result})));
    match method.as_str() {
        "getMe" => ok(json!({
            "id": 123456, "is_bot": true, "first_name": "KYC test bot", "username": "kyc_test_bot",
            "can_join_groups": true, "can_read_all_group_messages": false, "supports_inline_queries": false,
        })),
        "getWebhookInfo" => ok(api.webhook_info.lock().unwrap().clone().unwrap_or_else(|| {
            json!({
                "url": "https://kyc.example.org/telegram/webhook",
                "has_custom_certificate": false,
                "pending_update_count": 0,
                "max_connections": 40,
            })
        })),
        "getFile" => {
            let call = api.get_file_calls.fetch_add(1, Ordering::SeqCst) + 1;
            if call == api.failing_get_file.load(Ordering::SeqCst) {
                let reply = json!({"ok": false, "error_code": 500, "description": "Internal Server Error"});
                return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, Json(reply));
            }
            let file_id = body["file_id"].as_str().unwrap();
            ok(json!({"file_id": file_id, "file_path": format!("passport/{file_id}")}))
        }
        "setPassportDataErrors" => {
            api.errors.lock().unwrap().push(body);
            ok(json!(true))
        }
        "sendMessage" => {
            if let Some(description) = *api.message_refusal.lock().unwrap() {
                api.refused_messages.lock().unwrap().push(body);
                let reply = json!({"ok": false, "error_code": 400, "description": description});
                return (axum::http::StatusCode::BAD_REQUEST, Json(reply));
            }
            if button_urls(&body).iter().any(|url| is_passport_link(url)) {
                api.refused_messages.lock().unwrap().push(body);
                let reply = json!({"ok": false, "error_code": 400, "description": "Bad Request: BUTTON_URL_INVALID"});
                return (axum::http::StatusCode::BAD_REQUEST, Json(reply));
            }
            if body["chat_id"]
                .as_i64()
                .is_some_and(|chat| api.blocked.lock().unwrap().contains(&chat))
            {
                let reply =
                    json!({"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"});
                return (axum::http::StatusCode::FORBIDDEN, Json(reply));
            }
            if let Some(hook) = api.on_send_message.lock().unwrap().as_ref() {
                hook();
            }
            api.messages.lock().unwrap().push(body);
            ok(json!({"message_id": 1}))
        }
        _ => (
            axum::http::StatusCode::NOT_FOUND,
            Json(json!({"ok": false, "description": "unknown method"})),
        ),
    }
}

async fn api_download(
    State(api): State<Arc<BotApi>>,
    UrlPath((bot, path)): UrlPath<(String, String)>,
) -> axum::response::Response {
    assert_eq!(bot, format!("bot{TOKEN}"));
    let file_id = path.strip_prefix("passport/").unwrap();
    let delay = api.download_delay_ms.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(delay)).await;
    let bytes = Bytes::from(api.files.lock().unwrap()[file_id].clone());
    let pace = api.download_pace_ms.load(Ordering::SeqCst);
    if pace == 0 {
        return axum::response::IntoResponse::into_response(bytes);
    }
    let (sender, receiver) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        for start in (0..bytes.len()).step_by(256 << 10) {
            let chunk = bytes.slice(start..bytes.len().min(start + (256 << 10)));
            if sender.send(chunk).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(pace)).await;
        }
    });
    axum::response::Response::new(axum::body::Body::from_stream(Paced(receiver)))
}

/// A download body as the pacing task hands it out.
struct Paced(tokio::sync::mpsc::Receiver<Bytes>);

impl futures_core::Stream for Paced {
    type Item = Result<Bytes, std::io::Error>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx).map(|chunk| chunk.map(Ok))
    }
}

/// Starts the stand-in Bot API; its state and base URL.
pub async fn bot_api() -> (Arc<BotApi>, String) {
    let api = Arc::new(BotApi::default());
    let router = Router::new()
        .route("/{bot}/{method}", routing::post(api_method))
        .route("/file/{bot}/{*path}", routing::get(api_download))
        .with_state(Arc::clone(&api));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (api, format!("http://{address}"))
}

/// `strace`, found on the PATH (the backend's environment is cleared).
pub fn strace() -> String {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("strace"))
        .find(|candidate| candidate.is_file())
        .expect("these tests need strace (Debian: apt-get install strace)")
        .to_string_lossy()
        .into_owned()
}

/// The service's binary, built by cargo for these tests.
pub fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_kyc_backend"))
}

/// How a backend is started, besides its settings.
#[derive(Default)]
struct Launch<'a> {
    /// A program (and its arguments) that runs the binary, if not empty.
    wrapper: &'a [&'a str],
    /// The address to listen on; 127.0.0.1 if `None`.
    host: Option<&'a str>,
    /// The port; a free one if `None`.
    port: Option<u16>,
    /// Where its output goes (appended); discarded if `None`.
    log: Option<&'a Path>,
}

/// A running `kyc_backend` process, killed on drop.
pub struct Backend {
    pub child: Child,
    pub url: String,
}

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Backend {
    /// Starts the binary on a free port against `bot_api_url`, storing in
    /// `data_dir`, with nonces in `redis_url` or in memory.
    pub fn start(bot_api_url: &str, data_dir: &Path, redis_url: Option<&str>) -> Backend {
        Self::start_with(bot_api_url, data_dir, redis_url, &[])
    }

    /// [`Backend::start`] with more environment variables.
    pub fn start_with(bot_api_url: &str, data_dir: &Path, redis_url: Option<&str>, env: &[(&str, &str)]) -> Backend {
        Self::start_under(&[], bot_api_url, data_dir, redis_url, env)
    }

    /// [`Backend::start_with`], the binary run by `wrapper` (a program and
    /// its arguments, such as `strace` injecting faults), if not empty.
    pub fn start_under(
        wrapper: &[&str],
        bot_api_url: &str,
        data_dir: &Path,
        redis_url: Option<&str>,
        env: &[(&str, &str)],
    ) -> Backend {
        let launch = Launch {
            wrapper,
            ..Launch::default()
        };
        Self::spawn(&launch, bot_api_url, data_dir, redis_url, env)
    }

    /// Starts the binary on `port` (a restart keeps its address) with
    /// `env` on top of the settings every instance needs, its output (the
    /// log, and any error) appended to `log`; returns once it listens.
    pub fn start_on(bot_api_url: &str, data_dir: &Path, port: u16, env: &[(&str, &str)], log: &Path) -> Backend {
        let launch = Launch {
            port: Some(port),
            log: Some(log),
            ..Launch::default()
        };
        Self::spawn(&launch, bot_api_url, data_dir, None, env)
    }

    /// Starts the binary as `launch` says; returns once it listens.
    fn spawn(
        launch: &Launch<'_>,
        bot_api_url: &str,
        data_dir: &Path,
        redis_url: Option<&str>,
        env: &[(&str, &str)],
    ) -> Backend {
        let port = launch
            .port
            .unwrap_or_else(|| TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port());
        let mut command = match launch.wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(binary());
                command
            }
            None => Command::new(binary()),
        };
        command
            .env_clear()
            .env("TELEGRAM_BOT_TOKEN", TOKEN)
            .envs(key_env())
            .env("WEBHOOK_SECRET", SECRET)
            .env("BOT_API_URL", bot_api_url)
            .env("DATA_DIR", data_dir)
            .env("LISTEN", format!("{}:{port}", launch.host.unwrap_or("127.0.0.1")))
            .env("PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .env(
                "RUST_LOG",
                std::env::var("KYC_LOG").unwrap_or_else(|_| "off".to_owned()),
            );
        match launch.log {
            Some(log) => {
                let file = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
                command.stdout(file.try_clone().unwrap()).stderr(file);
            }
            // KYC_LOG=info shows the backend's log with the test's output.
            None if std::env::var_os("KYC_LOG").is_some() => {
                command.stdout(Stdio::inherit());
            }
            None => {
                command.stdout(Stdio::null());
            }
        }
        if let Some(url) = redis_url {
            command.env("REDIS_URL", url);
        }
        command.envs(env.iter().copied());
        let mut backend = Backend {
            child: command.spawn().unwrap(),
            url: format!("http://127.0.0.1:{port}"),
        };
        let log = launch
            .log
            .map(|log| format!("; its log: {}", log.display()))
            .unwrap_or_default();
        // This check is a connection from 127.0.0.1 that the backend holds
        // for a moment: a test that counts one client's connections makes
        // them from another address.
        for _ in 0..400 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return backend;
            }
            if let Some(status) = backend.child.try_wait().unwrap() {
                panic!("kyc_backend exited ({status}) before listening on port {port}{log}");
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("kyc_backend did not start listening on port {port}{log}");
    }

    /// The process's resident memory, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}

/// A browser's or app's HTTP client, from `source` (any 127.0.0.0/8
/// address: a distinct client as far as the backend can tell).
pub fn client(source: IpAddr) -> reqwest::Client {
    reqwest::Client::builder().local_address(source).build().unwrap()
}

/// `GET /start`: the status, and on success the application id and the
/// request its link carries.
pub async fn start(http: &reqwest::Client, backend: &str) -> Result<(String, PassportRequest), u16> {
    let response = http.get(format!("{backend}/start")).send().await.unwrap();
    if !response.status().is_success() {
        return Err(response.status().as_u16());
    }
    let started: Value = response.json().await.unwrap();
    assert!(started["sdk"]["scope"]["data"].is_array());
    let request = PassportRequest::parse_link(started["deep_link"].as_str().unwrap()).unwrap();
    Ok((started["application_id"].as_str().unwrap().to_owned(), request))
}

/// The page link of the bot's last message to `user`. Asserts what
/// Telegram would refuse or ignore is not there: every message carries one
/// https button to the service's page, and no Telegram Passport link
/// anywhere.
pub fn last_page_link(api: &BotApi, user: i64) -> String {
    let messages = api.messages.lock().unwrap();
    let message = messages
        .iter()
        .rev()
        .find(|message| message["chat_id"] == user)
        .expect("a message to the user");
    page_link(message)
}

/// The page link of one message the bot sent (see [`last_page_link`]).
pub fn page_link(message: &Value) -> String {
    assert!(!is_passport_link(&message.to_string()), "a Passport link in {message}");
    let urls = button_urls(message);
    assert_eq!(urls.len(), 1, "one button: {message}");
    assert_eq!(message["link_preview_options"]["is_disabled"], true);
    urls.into_iter().next().unwrap()
}

/// What the applicant's page does with a link the bot sent: for an
/// application's page (`…/#application=ID`), asks the service at
/// `backend` for a fresh request; the application id and the request, or
/// the status and the answer's `state` (`finished`, `expired`, `unknown`).
pub async fn follow_link(
    http: &reqwest::Client,
    backend: &str,
    link: &str,
) -> Result<(String, PassportRequest), (u16, String)> {
    let (_, fragment) = link.split_once('#').expect("a link to an application's page");
    let application = fragment
        .strip_prefix("application=")
        .expect("the application in the fragment");
    fresh_request(http, backend, application).await
}

/// `POST /applications/{application}/request`, as the page sends it.
pub async fn fresh_request(
    http: &reqwest::Client,
    backend: &str,
    application: &str,
) -> Result<(String, PassportRequest), (u16, String)> {
    // 0: no answer (an instance killed meanwhile).
    let Ok(response) = http
        .post(format!("{backend}/applications/{application}/request"))
        .send()
        .await
    else {
        return Err((0, String::new()));
    };
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status != 200 {
        return Err((status, body["state"].as_str().unwrap_or_default().to_owned()));
    }
    let request = PassportRequest::parse_link(body["deep_link"].as_str().unwrap()).unwrap();
    assert_eq!(body["application_id"], application);
    Ok((application.to_owned(), request))
}

/// The fresh request the page of the bot's last message to `user` gives.
pub async fn relink(api: &BotApi, http: &reqwest::Client, backend: &str, user: i64) -> PassportRequest {
    let link = last_page_link(api, user);
    follow_link(http, backend, &link).await.unwrap().1
}

/// What a user's app sends.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// Everything asked for, valid.
    Good,
    /// An expired identity card and no selfie: errors the app can show.
    ExpiredNoSelfie,
    /// No residential address at all: nothing the app can point at.
    NoAddress,
    /// Everything asked for, but the front side's download does not match
    /// its credentials (the sender controls the bytes).
    TamperedPhoto,
}

/// Update ids, unique within a test process.
static UPDATE_IDS: AtomicI64 = AtomicI64::new(1);

/// A submission: the update, and the photos it carries by stored file name.
pub struct Submission {
    pub update: Value,
    pub photos: Vec<(String, Vec<u8>)>,
}

/// A JPEG header, then byte `i` is `i ^ seed` (copied 256 bytes at a
/// time: quick even for 10 MiB photos in a debug build).
fn jpeg(seed: u8, len: usize) -> Vec<u8> {
    let pattern: Vec<u8> = (0..=255u8).map(|i| i ^ seed).collect();
    let mut photo = Vec::with_capacity(len);
    while photo.len() < len {
        let take = (len - photo.len()).min(pattern.len());
        photo.extend_from_slice(&pattern[..take]);
    }
    let header = [0xff, 0xd8, 0xff, 0xe0];
    let head = len.min(header.len());
    photo[..head].copy_from_slice(&header[..head]);
    photo
}

/// Seals a submission for `request` from user `user`, and puts its
/// encrypted files where the stand-in Bot API serves them.
pub fn submission(api: &BotApi, request: &PassportRequest, user: i64, kind: Kind) -> Submission {
    submission_sized(api, request, user, kind, None)
}

/// [`submission`] with every photo `photo_len` bytes long (a few KB if `None`).
pub fn submission_sized(
    api: &BotApi,
    request: &PassportRequest,
    user: i64,
    kind: Kind,
    photo_len: Option<usize>,
) -> Submission {
    let public_key = telegram_passport::PublicKey::from_pem(request.public_key()).unwrap();
    let mut details = PersonalDetails::new("Anna", "Ivanova", Date::new("14.03.1991"), Gender::Female, "RU", "DE");
    details.first_name_native = Some("Анна".to_owned());
    details.last_name_native = Some("Иванова".to_owned());
    let tag = format!("{user}-{}", &request.nonce()[..12]);
    let expiry = if kind == Kind::ExpiredNoSelfie {
        "01.01.2020"
    } else {
        "01.01.2035"
    };
    let len = |small: usize| photo_len.unwrap_or(small);
    let (front, back, face) = (jpeg(1, len(3000)), jpeg(2, len(2500)), jpeg(3, len(4000)));
    let mut app = PassportBuilder::new()
        .personal_details(&details)
        .id_document(
            ElementType::IdentityCard,
            &IdDocumentData::new("ID-77", Some(Date::new(expiry))),
        )
        .file(
            ElementType::IdentityCard,
            FileSlot::FrontSide,
            &format!("front-{tag}"),
            front.clone(),
        )
        .file(
            ElementType::IdentityCard,
            FileSlot::ReverseSide,
            &format!("back-{tag}"),
            back.clone(),
        )
        .phone_number("4915112345678")
        .email("anna@example.org");
    if kind != Kind::NoAddress {
        app = app.address(&ResidentialAddress::new("Unter den Linden 5", "Berlin", "DE", "10117"));
    }
    let mut photos = vec![
        ("identity_card-0.jpg".to_owned(), front),
        ("identity_card-1.jpg".to_owned(), back),
    ];
    if kind != Kind::ExpiredNoSelfie {
        app = app.file(
            ElementType::IdentityCard,
            FileSlot::Selfie,
            &format!("selfie-{tag}"),
            face.clone(),
        );
        photos.push(("identity_card-2.jpg".to_owned(), face));
    }
    let sealed = app.seal(&public_key, request.nonce()).unwrap();
    let mut files = sealed.files.clone();
    if kind == Kind::TamperedPhoto {
        let front = files.get_mut(&format!("front-{tag}")).unwrap();
        let last = front.len() - 1;
        front[last] ^= 1;
    }
    api.files.lock().unwrap().extend(files);
    let update = json!({
        "update_id": UPDATE_IDS.fetch_add(1, Ordering::Relaxed),
        "message": {"message_id": 1, "date": 1_700_000_000, "from": {"id": user, "is_bot": false, "first_name": "A"},
                    "chat": {"id": user, "type": "private"}, "passport_data": sealed.passport_data},
    });
    Submission { update, photos }
}

/// Posts `body` to the webhook with `secret`; the answer's status.
pub async fn post(http: &reqwest::Client, backend: &str, body: String, secret: &str) -> u16 {
    http.post(format!("{backend}/telegram/webhook"))
        .header("X-Telegram-Bot-Api-Secret-Token", secret)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Delivers a submission as Telegram does; the answer's status and
/// `Retry-After` header.
pub async fn deliver_answer(http: &reqwest::Client, backend: &str, submission: &Submission) -> (u16, Option<String>) {
    let response = send(http, backend, submission).await.unwrap();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|value| value.to_str().unwrap().to_owned());
    (response.status().as_u16(), retry_after)
}

/// Delivers a submission as Telegram does.
pub async fn deliver(http: &reqwest::Client, backend: &str, submission: &Submission) -> u16 {
    post(http, backend, submission.update.to_string(), SECRET).await
}

/// Delivers `submission`'s update to `backend`'s webhook once: the answer,
/// or the error of a connection the backend dropped (killed mid-request).
pub async fn send(
    http: &reqwest::Client,
    backend: &str,
    submission: &Submission,
) -> reqwest::Result<reqwest::Response> {
    http.post(format!("{backend}/telegram/webhook"))
        .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
        .header("content-type", "application/json")
        .body(submission.update.to_string())
        .send()
        .await
}

/// The stored `application.json` of an application, if it is stored.
pub fn stored(data_dir: &Path, application_id: &str) -> Option<Value> {
    let text = std::fs::read(data_dir.join(application_id).join("application.json")).ok()?;
    Some(serde_json::from_slice(&text).unwrap())
}

/// Application folders in `data_dir`, and what is left in its `.incoming`.
pub fn folders(data_dir: &Path) -> (usize, usize) {
    let count = |dir: &Path| std::fs::read_dir(dir).map_or(0, |entries| entries.count());
    (
        count(data_dir) - usize::from(data_dir.join(".incoming").exists()),
        count(&data_dir.join(".incoming")),
    )
}

/// A fresh scratch folder for a test's data.
pub fn data_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("telegram-passport-kyc-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// `GET /start` over a new connection from `source`, without an HTTP
/// client library (cheap enough for floods); the answer's status.
pub async fn raw_start(backend: &str, source: IpAddr) -> u16 {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let address: std::net::SocketAddr = backend.trim_start_matches("http://").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind((source, 0).into()).unwrap();
    let mut stream = socket.connect(address).await.unwrap();
    stream
        .write_all(b"GET /start HTTP/1.1\r\nHost: kyc\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let status = answer.get(9..12).and_then(|code| std::str::from_utf8(code).ok());
    status.and_then(|code| code.parse().ok()).unwrap_or(0)
}

/// [`Backend::start_with`] on `LISTEN={host}:{port}` (`[::]` for every
/// address family) instead of 127.0.0.1; `url` reaches it over 127.0.0.1.
pub fn start_listening_on(host: &str, bot_api_url: &str, data_dir: &Path, env: &[(&str, &str)]) -> Backend {
    let launch = Launch {
        host: Some(host),
        ..Launch::default()
    };
    Backend::spawn(&launch, bot_api_url, data_dir, None, env)
}

/// The key every backend is started with (`tests/data/keys/rsa2048_pkcs1.pem`,
/// whose public half its requests carry): from the PEM file, or, with
/// `KYC_KEY_IN_TOKEN` set in the test's environment, from a SoftHSM2 token
/// this test process makes once and imports it into (the service then
/// holds no key in its memory; the same tests pass).
pub fn key_env() -> Vec<(&'static str, String)> {
    static TOKEN_KEY: OnceLock<Vec<(&'static str, String)>> = OnceLock::new();
    let pem = crate::common::data_dir().join("keys/rsa2048_pkcs1.pem");
    if std::env::var_os("KYC_KEY_IN_TOKEN").is_none() {
        return vec![("PASSPORT_PRIVATE_KEY", pem.to_string_lossy().into_owned())];
    }
    TOKEN_KEY
        .get_or_init(|| {
            let dir = std::env::temp_dir().join(format!("telegram-passport-kyc-token-{}", std::process::id()));
            let token = softhsm::Token::new(&dir, "kyc").unwrap();
            token.import(&pem, "kyc-key", 1).unwrap();
            vec![
                ("PASSPORT_PRIVATE_KEY", token.uri("kyc-key")),
                ("SOFTHSM2_CONF", token.conf().to_string_lossy().into_owned()),
            ]
        })
        .clone()
}

/// Runs the binary once with `args` (a command such as `--erase`), with
/// the settings every instance gets, `data_dir` and `env`; its output.
pub fn run_command(args: &[&str], data_dir: &Path, env: &[(&str, &str)]) -> std::process::Output {
    Command::new(binary())
        .args(args)
        .env_clear()
        .env("TELEGRAM_BOT_TOKEN", TOKEN)
        .envs(key_env())
        .env("WEBHOOK_SECRET", SECRET)
        .env("PUBLIC_URL", "http://127.0.0.1:1")
        .env("DATA_DIR", data_dir)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// Sends `request` (a whole HTTP/1.1 request, or the start of one) over a
/// new connection from `source` to `to`, and reads the answer until the
/// server closes the connection: the answer's status (0 for none) and the
/// bytes read. No HTTP client library, so any header lines can be sent.
pub async fn raw_request(to: std::net::SocketAddr, source: IpAddr, request: &[u8]) -> (u16, Vec<u8>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let socket = match source {
        IpAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
        IpAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
    }
    .unwrap();
    socket.bind((source, 0).into()).unwrap();
    let mut stream = socket.connect(to).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let status = answer.get(9..12).and_then(|code| std::str::from_utf8(code).ok());
    (status.and_then(|code| code.parse().ok()).unwrap_or(0), answer)
}

/// The settings that point the service at the S3-compatible test server at
/// `endpoint` (its access key `test`, its secret key `secret`).
pub fn s3_env(endpoint: &str, secret: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT", endpoint.to_owned()),
        ("AWS_ALLOW_HTTP", "true".to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", secret.to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
    ]
}

/// The bucket `kyc` of the S3-compatible test server at `endpoint`, as a
/// reviewer's tool would see it (signed requests and all).
pub fn bucket(endpoint: &str) -> object_store::aws::AmazonS3 {
    object_store::aws::AmazonS3Builder::new()
        .with_bucket_name("kyc")
        .with_endpoint(endpoint)
        .with_allow_http(true)
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .with_region("us-east-1")
        .build()
        .unwrap()
}

/// The container `kyc` of the Azurite emulator at `endpoint`, as a
/// reviewer's tool would see it (signed with the emulator's account key).
pub fn container(endpoint: &str) -> object_store::azure::MicrosoftAzure {
    use telegram_passport_dev_support::azurite_server::{ACCOUNT, ACCOUNT_KEY};
    object_store::azure::MicrosoftAzureBuilder::new()
        .with_account(ACCOUNT)
        .with_access_key(ACCOUNT_KEY)
        .with_endpoint(format!("{endpoint}/{ACCOUNT}"))
        .with_allow_http(true)
        .with_container_name("kyc")
        .build()
        .unwrap()
}

/// `GET /applications/{application}/status` of `backend`: what the
/// applicant's page reads, as JSON (whatever the answer's code).
pub async fn status(http: &reqwest::Client, backend: &str, application: &str) -> Value {
    http.get(format!("{backend}/applications/{application}/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
