//! The applicant's page of the `kyc_backend` service in a real headless
//! Chromium, under its own Content-Security-Policy (no inline script or
//! style but by hash): it opens an application and shows the "Log in with
//! Telegram" link (this bot, the service's scope and public key, a
//! callback to this page); after a rejected submission, opened from the
//! bot's message as the applicant would, it shows what to fix in the words
//! the bot sent and a fresh link for the same application; while the app
//! has reported but the service has not, it says so; after the corrected
//! submission, that the documents are stored. Links to unknown or finished
//! applications say so. Another site's page cannot open applications in
//! its visitor's name. The status it follows tells outcomes only. A
//! screenshot of each state is written for a person to look at (the paths
//! are printed).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

#[path = "support/common.rs"]
mod common;
#[path = "support/kyc.rs"]
mod kyc;

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Command;

use kyc::{deliver, stored, Backend, Kind};
use telegram_passport::{PassportRequest, PrivateKey, PublicKey};

/// Loads `url` in a headless Chromium, lets its scripts run (a few seconds
/// of virtual time: the page's first status polls), and returns the DOM;
/// with `screenshot`, writes one there too (a second load of the same URL).
async fn browse(url: &str, screenshot: Option<&Path>) -> String {
    let (url, screenshot) = (url.to_owned(), screenshot.map(Path::to_owned));
    tokio::task::spawn_blocking(move || {
        let profile = tempfile::tempdir().unwrap();
        let run = |extra: Vec<String>| {
            let output = Command::new("chromium")
                .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"])
                .args(["--disable-dev-shm-usage", "--virtual-time-budget=4000"])
                .arg(format!("--user-data-dir={}", profile.path().display()))
                .args(extra)
                .arg(&url)
                .output()
                .expect("chromium runs (apt-get install chromium)");
            assert!(
                output.status.success(),
                "chromium failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8(output.stdout).unwrap()
        };
        if let Some(path) = screenshot {
            run(vec![
                format!("--screenshot={}", path.display()),
                "--window-size=800,640".to_owned(),
            ]);
            assert!(path.is_file(), "chromium wrote no screenshot");
            println!("screenshot: {}", path.display());
        }
        run(vec!["--dump-dom".to_owned()])
    })
    .await
    .unwrap()
}

/// The value of `attribute` on the element with `id`, as the DOM dump has it.
fn attribute(dom: &str, id: &str, attribute: &str) -> Option<String> {
    let start = dom.find(&format!("id=\"{id}\""))?;
    let tag_start = dom[..start].rfind('<')?;
    let tag = &dom[tag_start..tag_start + dom[tag_start..].find('>')?];
    let value_start = tag.find(&format!(" {attribute}=\""))? + attribute.len() + 3;
    let value = &tag[value_start..value_start + tag[value_start..].find('"')?];
    Some(
        value
            .replace("&amp;", "&")
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">"),
    )
}

/// The text of the status box.
fn status_text(dom: &str) -> String {
    let start = dom.find("id=\"status\"").unwrap();
    let text_start = start + dom[start..].find('>').unwrap() + 1;
    let text = &dom[text_start..text_start + dom[text_start..].find("</div>").unwrap()];
    text.replace("&amp;", "&").replace("&quot;", "\"")
}

fn screenshots() -> PathBuf {
    let folder = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kyc-page");
    std::fs::create_dir_all(&folder).unwrap();
    folder
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(no_chromium, ignore = "needs chromium (apt-get install chromium)")]
async fn the_page_opens_an_application_and_follows_it_to_accepted() {
    let (api, api_url) = kyc::bot_api().await;
    let data = kyc::data_dir("page");
    let backend = Backend::start(&api_url, &data, None);
    let shots = screenshots();

    // Everything is in the page itself: no script, style or image from elsewhere.
    let page = kyc::client(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)))
        .get(format!("{}/", backend.url))
        .send()
        .await
        .unwrap();
    let policy = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(policy.starts_with("default-src 'none';"), "{policy}");
    assert!(policy.contains("connect-src 'self'"), "{policy}");
    assert!(!policy.contains("unsafe"), "{policy}");
    for directive in ["script-src 'sha256-", "style-src 'sha256-"] {
        assert!(policy.contains(directive), "{policy} lacks {directive}");
    }
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(!html.contains("src=") && !html.contains("http:") && !html.contains("https:"));

    // Opened: the button links into Telegram with this bot, scope and key.
    let dom = browse(&format!("{}/", backend.url), Some(&shots.join("1-waiting.png"))).await;
    let link = attribute(&dom, "login", "href").expect("the login button has a link");
    let application = attribute(&dom, "login", "data-application").unwrap();
    assert_eq!(attribute(&dom, "status", "data-state").as_deref(), Some("waiting"));
    let request = PassportRequest::parse_link(&link).unwrap();
    let key =
        PrivateKey::from_pem(&std::fs::read_to_string(common::data_dir().join("keys/rsa2048_pkcs1.pem")).unwrap())
            .unwrap();
    assert_eq!(request.bot_id(), 123_456);
    assert!(PublicKey::from_pem(request.public_key()).unwrap() == key.public_key());
    // The scope the service asks for: the one its /start hands out.
    let (_, started) = kyc::start(&kyc::client(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))), &backend.url)
        .await
        .unwrap();
    assert_eq!(request.scope(), started.scope());
    assert!(dom.contains("public_key"), "the SDK parameters are on the page");

    // The app returns to the page before the service's outcome: it says so.
    let callback = request.callback_url().expect("a callback to the page").to_owned();
    assert!(callback.starts_with(&format!("{}/?application={application}&request=", backend.url)));
    let dom = browse(&format!("{callback}&tg_passport=success"), None).await;
    assert_eq!(attribute(&dom, "status", "data-state").as_deref(), Some("checking"));
    let dom = browse(&format!("{callback}&tg_passport=cancel"), None).await;
    assert!(status_text(&dom).contains("You cancelled"), "{}", status_text(&dom));

    // Rejected: the bot's message links to the application's page, which
    // shows what the bot told the applicant and a fresh link.
    let user = 8101;
    let http = kyc::client(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let expired = kyc::submission(&api, &request, user, Kind::ExpiredNoSelfie);
    assert_eq!(deliver(&http, &backend.url, &expired).await, 200);
    assert!(api.refused_messages.lock().unwrap().is_empty());
    let message = api.messages.lock().unwrap().last().unwrap().clone();
    let told = message["text"].as_str().unwrap().to_owned();
    let followed = kyc::page_link(&message);
    assert_eq!(followed, format!("{}/#application={application}", backend.url));
    let dom = browse(&followed, Some(&shots.join("2-rejected.png"))).await;
    assert_eq!(attribute(&dom, "status", "data-state").as_deref(), Some("rejected"));
    assert!(status_text(&dom).contains(&told), "{} lacks {told}", status_text(&dom));
    let fresh = PassportRequest::parse_link(&attribute(&dom, "login", "href").expect("a fresh link")).unwrap();
    assert_ne!(fresh.nonce(), request.nonce());
    assert_eq!(
        attribute(&dom, "login", "data-application").as_deref(),
        Some(application.as_str())
    );

    // The status says outcomes and the service's words only.
    let status = kyc::status(&http, &backend.url, &application).await;
    assert_eq!(status["state"], "rejected");
    assert_eq!(status["message"], told.as_str());
    assert_eq!(status.as_object().unwrap().len(), 3, "{status}");
    for personal in ["Anna", "Ivanova", "ID-77", "4915112345678", "anna@example.org"] {
        assert!(!status.to_string().contains(personal));
    }
    let other = "A".repeat(43);
    let unknown = http
        .get(format!("{}/applications/{other}/status", backend.url))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.json::<serde_json::Value>().await.unwrap()["state"], "waiting");
    let malformed = http
        .get(format!("{}/applications/..%2Fetc/status", backend.url))
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 404);

    // Corrected, through the link the page gave: accepted.
    let good = kyc::submission(&api, &fresh, user, Kind::Good);
    assert_eq!(deliver(&http, &backend.url, &good).await, 200);
    assert!(stored(&data, &application).is_some());
    let dom = browse(&followed, Some(&shots.join("3-accepted.png"))).await;
    assert_eq!(attribute(&dom, "status", "data-state").as_deref(), Some("accepted"));
    assert!(status_text(&dom).contains("received and stored"));
    assert!(attribute(&dom, "login", "hidden").is_some(), "no button once accepted");

    // The bot's link once the application is finished, and one it never
    // gave: each says so and offers a new application.
    let dom = browse(&followed, None).await;
    assert!(status_text(&dom).contains("complete"), "{}", status_text(&dom));
    let dom = browse(&format!("{}/#application={}", backend.url, "A".repeat(43)), None).await;
    assert!(
        status_text(&dom).contains("start a new application"),
        "{}",
        status_text(&dom)
    );
    assert!(attribute(&dom, "restart", "hidden").is_none(), "a way to start again");
    std::fs::remove_dir_all(&data).unwrap();
}

/// Another site's page that loads `/start` ten times, as images and as a
/// fetch, in the visitor's browser: every one is refused (and logged as
/// such), none counts towards the visitor's quota, and the visitor's own
/// page then opens an application. `/start` is never cacheable, and a
/// caller that is not a browser is still served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(no_chromium, ignore = "needs chromium (apt-get install chromium)")]
async fn another_sites_page_cannot_open_applications() {
    let (_api, api_url) = kyc::bot_api().await;
    let data = kyc::data_dir("page-cross-site");
    let log = data.with_extension("log");
    let _ = std::fs::remove_file(&log);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = [("STARTS_PER_CLIENT", "3"), ("RUST_LOG", "info")];
    let backend = Backend::start_on(&api_url, &data, port, &env, &log);

    let target = format!("{}/start", backend.url);
    let images: String = (0..10).map(|i| format!("<img src=\"{target}?{i}\">")).collect();
    let html = format!("<!doctype html><body>{images}<script>fetch('{target}', {{mode: 'no-cors'}});</script></body>");
    let router = axum::Router::new().route(
        "/",
        axum::routing::get(move || async move { axum::response::Html(html) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let elsewhere = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    // localhost is another site than 127.0.0.1 to a browser.
    browse(&format!("http://localhost:{elsewhere}/"), None).await;
    let refused = std::fs::read_to_string(&log)
        .unwrap()
        .matches("start refused: asked for by a page of another site")
        .count();
    assert!(refused >= 10, "{refused} cross-site starts refused");
    assert!(!std::fs::read_to_string(&log).unwrap().contains("application opened"));

    let dom = browse(&format!("{}/", backend.url), None).await;
    assert_eq!(attribute(&dom, "status", "data-state").as_deref(), Some("waiting"));

    let http = reqwest::Client::new();
    for (name, value) in [
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
        ("origin", "http://localhost:1"),
    ] {
        let answer = http.get(&target).header(name, value).send().await.unwrap();
        assert_eq!(answer.status(), 403, "{name}: {value}");
        assert_eq!(answer.headers()["cache-control"], "no-store");
    }
    let answer = http.get(&target).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["cache-control"], "no-store");
    let own = http
        .get(&target)
        .header("sec-fetch-site", "same-origin")
        .header("origin", &backend.url)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    drop(backend);
    std::fs::remove_dir_all(&data).unwrap();
}
