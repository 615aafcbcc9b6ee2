//! The `kyc_backend` example end to end, against a stand-in for the Bot API
//! on 127.0.0.1 that answers `getFile`, file downloads and
//! `setPassportDataErrors` and records what it received. Submissions are
//! built with the crate's client side, as a user's app would.

#[path = "../examples/kyc_backend/app.rs"]
#[allow(dead_code)]
mod app;
mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use telegram_passport::client::PassportBuilder;
use telegram_passport::{
    CalendarDate, Date, ElementType, FileSlot, Gender, IdDocumentData, PassportRequest, PersonalDetails,
    ResidentialAddress,
};

const TOKEN: &str = "123456:TEST-token";
const SECRET: &str = "webhook-secret-0123456789";

/// What the stand-in Bot API holds and has seen.
#[derive(Default)]
struct BotApi {
    files: Mutex<HashMap<String, Vec<u8>>>,
    errors: Mutex<Vec<Value>>,
    get_file_calls: Mutex<usize>,
}

async fn api_method(
    State(api): State<Arc<BotApi>>,
    UrlPath((bot, method)): UrlPath<(String, String)>,
    body: Bytes,
) -> Json<Value> {
    assert_eq!(bot, format!("bot{TOKEN}"));
    let body: Value = serde_json::from_slice(&body).unwrap();
    match method.as_str() {
        "getFile" => {
            *api.get_file_calls.lock().unwrap() += 1;
            let file_id = body["file_id"].as_str().unwrap();
            Json(json!({"ok": true, "result": {"file_id": file_id, "file_path": format!("passport/{file_id}")}}))
        }
        "setPassportDataErrors" => {
            api.errors.lock().unwrap().push(body);
            Json(json!({"ok": true, "result": true}))
        }
        _ => Json(json!({"ok": false, "description": "unknown method"})),
    }
}

async fn api_download(State(api): State<Arc<BotApi>>, UrlPath((bot, path)): UrlPath<(String, String)>) -> Vec<u8> {
    assert_eq!(bot, format!("bot{TOKEN}"));
    let file_id = path.strip_prefix("passport/").unwrap();
    api.files.lock().unwrap()[file_id].clone()
}

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}")
}

struct World {
    api: Arc<BotApi>,
    backend: String,
    data_dir: PathBuf,
    http: reqwest::Client,
}

async fn world(name: &str) -> World {
    let api = Arc::new(BotApi::default());
    let api_url = serve(
        Router::new()
            .route("/{bot}/{method}", post(api_method))
            .route("/file/{bot}/{*path}", get(api_download))
            .with_state(Arc::clone(&api)),
    )
    .await;
    let data_dir = std::env::temp_dir().join(format!("telegram-passport-kyc-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let config = app::Config {
        bot_token: TOKEN.to_owned(),
        key: common::key("keys/rsa2048_pkcs1.pem"),
        webhook_secret: SECRET.to_owned(),
        bot_api_url: api_url,
        data_dir: data_dir.clone(),
        today: CalendarDate::new(2026, 11, 23),
    };
    let backend = serve(app::router(config).unwrap()).await;
    World {
        api,
        backend,
        data_dir,
        http: reqwest::Client::new(),
    }
}

fn jpeg(seed: u8, len: usize) -> Vec<u8> {
    [0xff, 0xd8, 0xff, 0xe0]
        .into_iter()
        .chain((4..len).map(|i| (i as u8) ^ seed))
        .collect()
}

/// A submission: the photos it carries, by stored file name.
struct Submission {
    update: Value,
    photos: Vec<(String, Vec<u8>)>,
}

impl World {
    /// `GET /start`: the application id and the request its link carries.
    async fn start(&self) -> (String, PassportRequest) {
        let started: Value = self
            .http
            .get(format!("{}/start", self.backend))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(started["sdk"]["scope"]["data"].is_array());
        let request = PassportRequest::parse_link(started["deep_link"].as_str().unwrap()).unwrap();
        (started["application_id"].as_str().unwrap().to_owned(), request)
    }

    /// What the user's app sends for `request`; `expiry` and `selfie` make it good or bad.
    fn submission(&self, request: &PassportRequest, user: i64, expiry: &str, selfie: bool) -> Submission {
        let public_key = telegram_passport::PublicKey::from_pem(request.public_key()).unwrap();
        let mut details = PersonalDetails::new("Anna", "Ivanova", Date::new("14.03.1991"), Gender::Female, "RU", "DE");
        details.first_name_native = Some("Анна".to_owned());
        details.last_name_native = Some("Иванова".to_owned());
        let tag = format!("{user}-{}", &request.nonce()[..8]);
        let (front, back, face) = (jpeg(1, 3000), jpeg(2, 2500), jpeg(3, 4000));
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
            .address(&ResidentialAddress::new("Unter den Linden 5", "Berlin", "DE", "10117"))
            .phone_number("4915112345678")
            .email("anna@example.org");
        let mut photos = vec![
            ("identity_card-0.jpg".to_owned(), front),
            ("identity_card-1.jpg".to_owned(), back),
        ];
        if selfie {
            app = app.file(
                ElementType::IdentityCard,
                FileSlot::Selfie,
                &format!("selfie-{tag}"),
                face.clone(),
            );
            photos.push(("identity_card-2.jpg".to_owned(), face));
        }
        let sealed = app.seal(&public_key, request.nonce()).unwrap();
        self.api.files.lock().unwrap().extend(sealed.files.clone());
        let update = json!({
            "update_id": user,
            "message": {"message_id": 1, "date": 1_700_000_000, "from": {"id": user, "is_bot": false, "first_name": "A"},
                        "chat": {"id": user, "type": "private"}, "passport_data": sealed.passport_data},
        });
        Submission { update, photos }
    }

    async fn post(&self, body: impl Into<reqwest::Body>, secret: &str) -> reqwest::StatusCode {
        let response = self
            .http
            .post(format!("{}/telegram/webhook", self.backend))
            .header("X-Telegram-Bot-Api-Secret-Token", secret)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        response.status()
    }

    async fn send(&self, submission: &Submission) -> reqwest::StatusCode {
        self.post(submission.update.to_string(), SECRET).await
    }
}

fn stored(dir: &Path, application_id: &str) -> Option<Value> {
    let text = std::fs::read(dir.join(application_id).join("application.json")).ok()?;
    Some(serde_json::from_slice(&text).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_rejected_replayed_and_refused() {
    let world = world("flow").await;

    // An accepted application lands on disk with the right values and byte-identical photos.
    let (application_id, request) = world.start().await;
    let good = world.submission(&request, 1001, "01.01.2035", true);
    assert_eq!(world.send(&good).await, 200);
    let values = stored(&world.data_dir, &application_id).expect("application stored");
    assert_eq!(values["context"], application_id.as_str());
    assert_eq!(values["elements"][0]["data"]["first_name_native"], "Анна");
    assert_eq!(values["elements"][1]["data"]["document_no"], "ID-77");
    for (name, bytes) in &good.photos {
        assert_eq!(
            &std::fs::read(world.data_dir.join(&application_id).join(name)).unwrap(),
            bytes,
            "{name}"
        );
    }
    assert_eq!(*world.api.get_file_calls.lock().unwrap(), 3);
    assert!(world.api.errors.lock().unwrap().is_empty());
    // Identity documents are readable by the service's user only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        let folder = world.data_dir.join(&application_id);
        assert_eq!(mode(&folder), 0o700, "application folder");
        assert_eq!(mode(&world.data_dir), 0o700, "data folder");
        for name in good
            .photos
            .iter()
            .map(|(name, _)| name.as_str())
            .chain(["application.json"])
        {
            assert_eq!(mode(&folder.join(name)), 0o600, "{name}");
        }
    }

    // A replayed update is refused: nothing downloaded, nothing reported, nothing changed.
    assert_eq!(world.send(&good).await, 200);
    assert_eq!(*world.api.get_file_calls.lock().unwrap(), 3);
    assert!(world.api.errors.lock().unwrap().is_empty());

    // A bad submission (expired card, no selfie) produces the right setPassportDataErrors call.
    let (bad_id, request) = world.start().await;
    let bad = world.submission(&request, 2002, "01.01.2020", false);
    assert_eq!(world.send(&bad).await, 200);
    assert!(stored(&world.data_dir, &bad_id).is_none());
    let errors = world.api.errors.lock().unwrap().clone();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["user_id"], 2002);
    let reported: Vec<(&str, &str)> = errors[0]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["source"].as_str().unwrap(), e["message"].as_str().unwrap()))
        .collect();
    assert_eq!(
        reported,
        [
            ("unspecified", "Please upload a selfie holding the document"),
            ("data", "The document expired on 01.01.2020")
        ]
    );
    assert_eq!(errors[0]["errors"][1]["field_name"], "expiry_date");
    assert_eq!(errors[0]["errors"][1]["type"], "identity_card");

    // A wrong secret token gets 401; malformed JSON gets 400; the service keeps serving.
    let (third_id, request) = world.start().await;
    let third = world.submission(&request, 3003, "01.01.2035", true);
    assert_eq!(world.post(third.update.to_string(), "wrong").await, 401);
    assert_eq!(world.post(third.update.to_string(), "").await, 401);
    assert_eq!(world.post("{\"update_id\": ", SECRET).await, 400);
    assert_eq!(
        world
            .post("{\"update_id\": 5, \"message\": {\"text\": \"hi\"}}", SECRET)
            .await,
        200
    );
    assert_eq!(world.send(&third).await, 200);
    assert!(stored(&world.data_dir, &third_id).is_some());

    std::fs::remove_dir_all(&world.data_dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_submissions_from_eight_clients() {
    let world = Arc::new(world("load").await);
    const CLIENTS: usize = 8;
    const EACH: usize = 25;
    let started = Instant::now();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let world = Arc::clone(&world);
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for n in 0..EACH {
                    let (application_id, request) = world.start().await;
                    let user = (client * 1000 + n) as i64;
                    let submission = world.submission(&request, user, "01.01.2035", true);
                    assert_eq!(world.send(&submission).await, 200);
                    ids.push(application_id);
                }
                ids
            })
        })
        .collect();
    let mut ids = Vec::new();
    for task in tasks {
        ids.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), CLIENTS * EACH);
    for id in &ids {
        assert!(stored(&world.data_dir, id).is_some(), "application {id} lost");
    }
    let folders = std::fs::read_dir(&world.data_dir).unwrap().count();
    assert_eq!(folders, CLIENTS * EACH, "every submission stored exactly once");
    assert_eq!(*world.api.get_file_calls.lock().unwrap(), CLIENTS * EACH * 3);
    println!(
        "{} submissions from {CLIENTS} clients in {elapsed:.2?}: {:.0} submissions/s",
        ids.len(),
        ids.len() as f64 / elapsed.as_secs_f64()
    );
    std::fs::remove_dir_all(&world.data_dir).unwrap();
}
