//! `kyc_backend --check` through its binary, against the stand-in Bot API:
//! a good setup passes and prints the public key BotFather needs; each
//! mistake a newcomer makes is said in words and fails the check, several
//! of them in one run; what it prints never holds the token, the webhook
//! secret or a line of a private key.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

#[path = "support/common.rs"]
mod common;
#[path = "support/kyc.rs"]
mod kyc;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

/// The address the stand-in's webhook is set to by default.
const PUBLIC_URL: &str = "https://kyc.example.org";

/// What one `--check` run printed, and how it ended.
struct Checked {
    code: Option<i32>,
    output: String,
}

impl Checked {
    /// Asserts that a line with `outcome` (`ok`, `warning`, `PROBLEM`,
    /// `skipped`) about `subject` says `words`.
    fn says(&self, outcome: &str, subject: &str, words: &str) -> &Self {
        let found = self
            .output
            .lines()
            .any(|line| line.starts_with(outcome) && line.contains(subject) && line.contains(words));
        assert!(
            found,
            "no {outcome} line about {subject} saying {words:?} in:\n{}",
            self.output
        );
        self
    }

    fn passed(&self) -> &Self {
        assert_eq!(self.code, Some(0), "--check failed:\n{}", self.output);
        assert!(!self.output.contains("PROBLEM"), "{}", self.output);
        self
    }

    fn failed(&self) -> &Self {
        assert_eq!(self.code, Some(1), "--check did not fail:\n{}", self.output);
        self
    }
}

/// The settings of a service that works against the stand-in at `api`.
fn good_setup(api: &str) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = kyc::key_env()
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
    for (name, value) in [
        ("TELEGRAM_BOT_TOKEN", kyc::TOKEN),
        ("WEBHOOK_SECRET", kyc::SECRET),
        ("BOT_API_URL", api),
        ("PUBLIC_URL", PUBLIC_URL),
        ("RUST_LOG", "off"),
    ] {
        env.insert(name.to_owned(), value.to_owned());
    }
    // Its own folder for each run: the tests run at once.
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let data = kyc::data_dir(&format!("check-run-{}", RUNS.fetch_add(1, Ordering::Relaxed)));
    env.insert("DATA_DIR".to_owned(), data.to_string_lossy().into_owned());
    env
}

/// The body lines of every PEM private key among `env`'s key files: none
/// may appear in what `--check` prints.
fn private_lines(env: &BTreeMap<String, String>) -> Vec<String> {
    let mut lines = Vec::new();
    let keys = env.get("PASSPORT_PRIVATE_KEY").map_or("", String::as_str);
    for spec in keys.split(|c: char| c == ',' || c.is_whitespace()) {
        let Ok(text) = std::fs::read_to_string(spec) else {
            continue;
        };
        if text.contains("PRIVATE KEY-----") {
            lines.extend(
                text.lines()
                    .filter(|line| line.len() >= 16 && !line.starts_with("-----") && !line.contains(':'))
                    .map(str::to_owned),
            );
        }
    }
    lines
}

/// Runs `--check` with the good setup against the stand-in at `api`,
/// `changes` on top (`None` unsets a setting).
async fn check(api: &str, changes: &[(&str, Option<&str>)]) -> Checked {
    let mut env = good_setup(api);
    for (name, value) in changes {
        match value {
            Some(value) => env.insert((*name).to_owned(), (*value).to_owned()),
            None => env.remove(*name),
        };
    }
    let never: Vec<String> = [kyc::TOKEN, kyc::SECRET, "TEST-token"]
        .into_iter()
        .map(str::to_owned)
        .chain(["TELEGRAM_BOT_TOKEN", "WEBHOOK_SECRET"].iter().filter_map(|name| {
            env.get(*name)
                .map(|value| value.trim().to_owned())
                .filter(|value| value.len() >= 8)
        }))
        .chain(private_lines(&env))
        .collect();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(kyc::binary())
            .arg("--check")
            .env_clear()
            .envs(&env)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let output_text = String::from_utf8(output.stdout).unwrap() + &String::from_utf8(output.stderr).unwrap();
    for secret in &never {
        assert!(
            !output_text.contains(secret.as_str()),
            "--check printed {secret:?}:\n{output_text}"
        );
    }
    Checked {
        code: output.status.code(),
        output: output_text,
    }
}

fn key_file(name: &str) -> String {
    common::data_dir()
        .join("keys")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// The good setup's key setting (a PEM file, or a token's key).
fn good_key() -> String {
    kyc::key_env()
        .into_iter()
        .find(|(name, _)| *name == "PASSPORT_PRIVATE_KEY")
        .unwrap()
        .1
}

fn set_webhook_info(api: &kyc::BotApi, info: Value) {
    *api.webhook_info.lock().unwrap() = Some(info);
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// A fresh folder for files a test writes.
fn scratch(name: &str) -> PathBuf {
    let dir = kyc::data_dir(&format!("check-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_setup_passes_and_prints_the_public_key_for_botfather() {
    let (_api, url) = kyc::bot_api().await;
    let checked = check(&url, &[]).await;
    checked
        .passed()
        .says("ok", "TELEGRAM_BOT_TOKEN", "@kyc_test_bot (id 123456)")
        .says("ok", "PUBLIC_URL", "https://kyc.example.org/telegram/webhook")
        .says(
            "ok",
            "webhook",
            "Telegram delivers updates to https://kyc.example.org/telegram/webhook",
        )
        .says("ok", "webhook", "no failed delivery")
        .says("ok", "WEBHOOK_SECRET", "25 characters")
        .says("ok", "PASSPORT_PRIVATE_KEY key 1", "the current key: RSA, 2048 bits")
        .says("ok", "other settings", "the service takes them")
        .says("ok", "shared state", "in memory, for one instance")
        .says("ok", "DATA_DIR", "drafts and stored applications")
        .says("warning", "at rest", "stored in plaintext");
    let public = common::key("keys/rsa2048_pkcs1.pem").public_key().to_pem();
    assert!(checked.output.contains(public.trim_end()), "{}", checked.output);
    assert!(checked.output.contains("/setpublickey"), "{}", checked.output);
    assert!(
        checked.output.ends_with("all checks passed, 1 warning\n"),
        "{}",
        checked.output
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_is_said_and_the_webhook_not_asked() {
    let (api, url) = kyc::bot_api().await;
    api.token_refused.store(true, Ordering::SeqCst);
    check(&url, &[])
        .await
        .failed()
        .says(
            "PROBLEM",
            "TELEGRAM_BOT_TOKEN",
            "the token is refused: copy it again from BotFather",
        )
        .says("skipped", "webhook", "needs the Bot API to take the token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_token_is_said_without_repeating_it() {
    let (_api, url) = kyc::bot_api().await;
    for (token, words) in [
        ("bot123456:TEST-token", "without \"bot\" in front"),
        ("123456-TEST-token", "the bot's number, a colon"),
        ("123456:TEST-token\n", "a space or line break"),
        ("\"123456:TEST-token\"", "in quotes"),
        ("123456:TEST/token?", "the bot's number, a colon"),
    ] {
        check(&url, &[("TELEGRAM_BOT_TOKEN", Some(token))])
            .await
            .failed()
            .says("PROBLEM", "TELEGRAM_BOT_TOKEN", "not a bot token")
            .says("PROBLEM", "TELEGRAM_BOT_TOKEN", words)
            .says("skipped", "webhook", "not asked");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_webhook_is_said_with_the_call_that_sets_it() {
    let (api, url) = kyc::bot_api().await;
    set_webhook_info(
        &api,
        json!({"url": "", "has_custom_certificate": false, "pending_update_count": 4}),
    );
    check(&url, &[])
        .await
        .failed()
        .says("PROBLEM", "webhook", "none is set")
        .says("PROBLEM", "webhook", "getUpdates")
        .says(
            "PROBLEM",
            "webhook",
            "setWebhook with url=https://kyc.example.org/telegram/webhook and secret_token=$WEBHOOK_SECRET",
        );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_elsewhere_is_said_even_when_its_url_holds_the_token() {
    let (api, url) = kyc::bot_api().await;
    set_webhook_info(
        &api,
        json!({"url": "https://old.example.org/telegram/webhook", "pending_update_count": 0}),
    );
    check(&url, &[]).await.failed().says(
        "PROBLEM",
        "webhook",
        "Telegram delivers updates to https://old.example.org/telegram/webhook, not to this service's \
         https://kyc.example.org/telegram/webhook",
    );
    // A common habit: the token as the webhook's secret path. `check`
    // asserts it is not printed.
    set_webhook_info(
        &api,
        json!({"url": format!("https://kyc.example.org/{}", kyc::TOKEN), "pending_update_count": 0}),
    );
    check(&url, &[]).await.failed().says(
        "PROBLEM",
        "webhook",
        "https://kyc.example.org/<token>, not to this service's",
    );
    // The same address in another spelling is the same webhook.
    set_webhook_info(
        &api,
        json!({"url": "https://KYC.example.org:443/telegram/webhook", "pending_update_count": 0}),
    );
    check(&url, &[]).await.passed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhooks_last_error_is_said_with_what_it_usually_means() {
    let (api, url) = kyc::bot_api().await;
    let webhook = format!("{PUBLIC_URL}/telegram/webhook");
    set_webhook_info(
        &api,
        json!({
            "url": webhook, "pending_update_count": 3,
            "last_error_date": unix_now() - 300,
            "last_error_message": "Wrong response from the webhook: 401 Unauthorized",
        }),
    );
    check(&url, &[])
        .await
        .failed()
        .says(
            "PROBLEM",
            "webhook",
            "Telegram's last delivery failed 5 minutes ago: Wrong response from the webhook: 401 Unauthorized",
        )
        .says(
            "PROBLEM",
            "webhook",
            "setWebhook again with secret_token=$WEBHOOK_SECRET",
        );
    set_webhook_info(
        &api,
        json!({
            "url": webhook, "pending_update_count": 0,
            "last_error_date": unix_now() - 60,
            "last_error_message": "SSL error {error:0A000086:SSL routines::certificate verify failed}",
        }),
    );
    check(&url, &[])
        .await
        .failed()
        .says("PROBLEM", "webhook", "does not trust the address's https certificate");
    // An error days old may be fixed since: worth a look, not a failure.
    set_webhook_info(
        &api,
        json!({
            "url": webhook, "pending_update_count": 0,
            "last_error_date": unix_now() - 3 * 86_400,
            "last_error_message": "Connection timed out",
        }),
    );
    check(&url, &[])
        .await
        .passed()
        .says("warning", "webhook", "failed 3 days ago: Connection timed out")
        .says("warning", "webhook", "cannot reach the address");
    set_webhook_info(&api, json!({"url": webhook, "pending_update_count": 5000}));
    check(&url, &[])
        .await
        .passed()
        .says("warning", "webhook", "5000 updates wait for delivery");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_updates_without_message_fail() {
    let (api, url) = kyc::bot_api().await;
    let webhook = format!("{PUBLIC_URL}/telegram/webhook");
    set_webhook_info(
        &api,
        json!({"url": webhook, "pending_update_count": 0, "allowed_updates": ["callback_query", "inline_query"]}),
    );
    check(&url, &[])
        .await
        .failed()
        .says(
            "PROBLEM",
            "webhook",
            "only callback_query, inline_query updates, no message",
        )
        .says("PROBLEM", "webhook", "allowed_updates=[\"message\"]");
    set_webhook_info(
        &api,
        json!({"url": webhook, "pending_update_count": 0, "allowed_updates": ["message", "callback_query"]}),
    );
    check(&url, &[]).await.passed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_url_telegram_cannot_deliver_to_fails() {
    let (_api, url) = kyc::bot_api().await;
    // The service takes it, to be tried on one machine; Telegram does not.
    check(&url, &[("PUBLIC_URL", Some("http://127.0.0.1:8080"))])
        .await
        .failed()
        .says(
            "PROBLEM",
            "PUBLIC_URL",
            "Telegram delivers webhooks to https addresses only",
        )
        .says("skipped", "webhook", "needs a usable PUBLIC_URL");
    for (public_url, words) in [
        ("http://kyc.example.org", "not https"),
        (
            "https://kyc.example.org/?from=bot",
            "a query or fragment has no place in it",
        ),
        ("https://kyc.example.org:8080", "ports 443, 80, 88 and 8443 only"),
    ] {
        check(&url, &[("PUBLIC_URL", Some(public_url))])
            .await
            .failed()
            .says("PROBLEM", "PUBLIC_URL", words);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_public_url_and_webhook_secret_are_both_said_in_one_run() {
    let (_api, url) = kyc::bot_api().await;
    let checked = check(&url, &[("PUBLIC_URL", None), ("WEBHOOK_SECRET", None)]).await;
    checked
        .failed()
        .says("PROBLEM", "PUBLIC_URL", "not set")
        .says("PROBLEM", "WEBHOOK_SECRET", "not set")
        .says("skipped", "webhook", "needs a usable PUBLIC_URL")
        .says("ok", "TELEGRAM_BOT_TOKEN", "the Bot API takes it")
        .says("ok", "PASSPORT_PRIVATE_KEY key 1", "RSA, 2048 bits")
        .says("skipped", "other settings", "once the settings above are right");
    assert!(checked.output.contains("\n2 problems"), "{}", checked.output);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_secret_telegram_refuses_fails() {
    let (_api, url) = kyc::bot_api().await;
    let long = "a".repeat(257);
    for secret in ["two words-and-more", "secret-with-newline\n", long.as_str()] {
        check(&url, &[("WEBHOOK_SECRET", Some(secret))]).await.failed().says(
            "PROBLEM",
            "WEBHOOK_SECRET",
            "1 to 256 characters of A-Z, a-z, 0-9, _ and -",
        );
    }
    check(&url, &[("WEBHOOK_SECRET", Some("short"))]).await.passed().says(
        "warning",
        "WEBHOOK_SECRET",
        "only 5 characters",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_key_as_the_private_key_is_said() {
    let (_api, url) = kyc::bot_api().await;
    let checked = check(&url, &[("PASSPORT_PRIVATE_KEY", Some(&key_file("rsa2048_public.pem")))]).await;
    checked.failed().says(
        "PROBLEM",
        "PASSPORT_PRIVATE_KEY key 1",
        "a public key where the private key belongs",
    );
    assert!(!checked.output.contains("/setpublickey"), "{}", checked.output);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_too_small_is_said() {
    let (_api, url) = kyc::bot_api().await;
    check(&url, &[("PASSPORT_PRIVATE_KEY", Some(&key_file("rsa1024_pkcs1.pem")))])
        .await
        .failed()
        .says(
            "PROBLEM",
            "PASSPORT_PRIVATE_KEY key 1",
            "an RSA key of 1024 bits, too small: Telegram Passport needs 2048 bits or more",
        );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_that_are_no_key_are_said_in_words() {
    let (_api, url) = kyc::bot_api().await;
    let dir = scratch("no-key");
    let text = dir.join("settings.txt");
    std::fs::write(&text, "TELEGRAM_BOT_TOKEN=...\n").unwrap();
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    for (file, words) in [
        (
            text.to_string_lossy().into_owned(),
            "not a key: a PEM key file holds a block",
        ),
        (empty.to_string_lossy().into_owned(), "an empty file"),
        (dir.to_string_lossy().into_owned(), "a folder, not a key file"),
        (
            dir.join("absent.pem").to_string_lossy().into_owned(),
            "there is no such file",
        ),
        (key_file("garbage.pem"), "a damaged key"),
        (key_file("ec_p256_pkcs8.pem"), "an EC key, not RSA"),
        (key_file("ed25519_pkcs8.pem"), "an Ed25519 key, not RSA"),
        (key_file("rsa2048_encrypted_pkcs8.pem"), "encrypted with a password"),
        (key_file("rsa2048_pkcs1.der"), "a DER (binary) key"),
    ] {
        check(&url, &[("PASSPORT_PRIVATE_KEY", Some(&file))])
            .await
            .failed()
            .says("PROBLEM", "PASSPORT_PRIVATE_KEY key 1", words);
    }
}

/// Runs `program` (a tool a newcomer makes keys with) in `dir`.
fn tool(program: &str, package: &str, args: &[&str], dir: &Path) {
    let status = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("this test needs the {program} command (Debian: {package}): {e}"));
    assert!(status.success(), "{program} {args:?}: {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    no_key_tools,
    ignore = "needs openssl and ssh-keygen (apt-get install openssl openssh-client)"
)]
async fn keys_the_usual_tools_make_wrongly_are_said_in_words() {
    let (_api, url) = kyc::bot_api().await;
    let dir = scratch("tools");
    tool("openssl", "openssl", &["genrsa", "-out", "small.pem", "1024"], &dir);
    tool("openssl", "openssl", &["genrsa", "-out", "good.pem", "2048"], &dir);
    let legacy = [
        "rsa",
        "-in",
        "good.pem",
        "-aes256",
        "-traditional",
        "-passout",
        "pass:pw",
        "-out",
        "legacy.pem",
    ];
    tool("openssl", "openssl", &legacy, &dir);
    let certificate = [
        "req",
        "-x509",
        "-key",
        "good.pem",
        "-subj",
        "/CN=kyc.example.org",
        "-days",
        "1",
        "-out",
        "cert.pem",
    ];
    tool("openssl", "openssl", &certificate, &dir);
    tool(
        "ssh-keygen",
        "openssh-client",
        &["-q", "-t", "ed25519", "-N", "", "-f", "ssh_key"],
        &dir,
    );
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
    for (file, words) in [
        ("small.pem", "an RSA key of 1024 bits, too small"),
        ("legacy.pem", "encrypted with a password"),
        ("cert.pem", "a certificate, not a private key"),
        ("ssh_key", "an OpenSSH key"),
        ("ssh_key.pub", "an OpenSSH public key"),
    ] {
        check(&url, &[("PASSPORT_PRIVATE_KEY", Some(&path(file)))])
            .await
            .failed()
            .says("PROBLEM", "PASSPORT_PRIVATE_KEY key 1", words);
    }
    check(&url, &[("PASSPORT_PRIVATE_KEY", Some(&path("good.pem")))])
        .await
        .passed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_second_key_fails_the_ring_and_the_first_is_still_shown() {
    let (_api, url) = kyc::bot_api().await;
    let ring = format!("{},{}", good_key(), key_file("rsa1024_pkcs1.pem"));
    let checked = check(&url, &[("PASSPORT_PRIVATE_KEY", Some(&ring))]).await;
    checked
        .failed()
        .says("ok", "PASSPORT_PRIVATE_KEY key 1", "the current key")
        .says(
            "PROBLEM",
            "PASSPORT_PRIVATE_KEY key 2",
            "an older key: an RSA key of 1024 bits",
        );
    let public = common::key("keys/rsa2048_pkcs1.pem").public_key().to_pem();
    assert!(checked.output.contains(public.trim_end()), "{}", checked.output);
    // The same key twice is worth a word, not a failure.
    let twice = format!("{} {}", good_key(), key_file("rsa2048_pkcs8.pem"));
    check(&url, &[("PASSPORT_PRIVATE_KEY", Some(&twice))])
        .await
        .passed()
        .says("warning", "PASSPORT_PRIVATE_KEY key 2", "the same key as key 1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_text_in_the_setting_is_said_and_never_repeated() {
    let (_api, url) = kyc::bot_api().await;
    let pem = std::fs::read_to_string(key_file("rsa2048_pkcs1.pem")).unwrap();
    let body: Vec<&str> = pem.lines().filter(|line| !line.starts_with("-----")).collect();
    let checked = check(&url, &[("PASSPORT_PRIVATE_KEY", Some(&pem))]).await;
    checked.failed().says(
        "PROBLEM",
        "PASSPORT_PRIVATE_KEY",
        "it holds a key's text, not where the key is",
    );
    // Its base64 alone, as some paste it: each line looks like a file name.
    let bare = body.join(" ");
    let bare_checked = check(&url, &[("PASSPORT_PRIVATE_KEY", Some(&bare))]).await;
    bare_checked
        .failed()
        .says("PROBLEM", "PASSPORT_PRIVATE_KEY key 1", "looks like key material");
    for line in body.iter().filter(|line| line.len() >= 16) {
        assert!(!checked.output.contains(line), "{}", checked.output);
        assert!(!bare_checked.output.contains(line), "{}", bare_checked.output);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_bot_api_is_said_without_the_token() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let closed = format!("http://{closed}");
    check(&closed, &[])
        .await
        .failed()
        .says("PROBLEM", "Bot API", &format!("cannot reach the Bot API at {closed}"))
        .says("skipped", "webhook", "not asked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_api_url_with_the_token_in_it_is_refused() {
    let (_api, url) = kyc::bot_api().await;
    let with_token = format!("{url}/bot{}", kyc::TOKEN);
    check(&url, &[("BOT_API_URL", Some(&with_token))]).await.failed().says(
        "PROBLEM",
        "BOT_API_URL",
        "holds the token: give the server alone",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_optional_setting_fails_as_the_service_would() {
    let (_api, url) = kyc::bot_api().await;
    check(&url, &[("MAX_CONNECTIONS", Some("0"))]).await.failed().says(
        "PROBLEM",
        "other settings",
        "MAX_CONNECTIONS: not a number from 1 to 1000000: 0",
    );
}

/// Telegram opens up to the webhook's `max_connections` from a few
/// addresses; a smaller share per address here is a warning with the two
/// ways out, and no warning behind a balancer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_share_below_telegrams_is_a_warning() {
    let (api, url) = kyc::bot_api().await;
    let webhook = format!("{PUBLIC_URL}/telegram/webhook");
    set_webhook_info(
        &api,
        json!({"url": webhook, "pending_update_count": 0, "max_connections": 40}),
    );
    check(&url, &[("MAX_CONNECTIONS", Some("64"))]).await.passed().says(
        "warning",
        "webhook",
        "set CONNECTIONS_PER_CLIENT to 40 or more",
    );
    let quiet = check(&url, &[("CONNECTIONS_PER_CLIENT", Some("40"))]).await;
    assert!(
        !quiet.passed().output.contains("CONNECTIONS_PER_CLIENT"),
        "{}",
        quiet.output
    );
    let behind = check(
        &url,
        &[
            ("MAX_CONNECTIONS", Some("64")),
            ("CLIENT_IP_HEADER", Some("x-forwarded-for")),
        ],
    )
    .await;
    assert!(
        !behind.passed().output.contains("CONNECTIONS_PER_CLIENT"),
        "{}",
        behind.output
    );
}

/// Where the service keeps things, tried as it would use them.
mod storage {
    use super::*;
    use object_store::ObjectStore as _;
    use telegram_passport_dev_support::{postgres_server, s3_server};

    /// The settings of `url` on the S3-compatible server at `endpoint`.
    fn bucket_env(endpoint: &str, url: &str) -> Vec<(&'static str, String)> {
        let mut env = kyc::s3_env(endpoint, "not-to-be-printed-s3");
        env.push(("ARCHIVE_URL", url.to_owned()));
        env
    }

    async fn check_with(api: &str, settings: &[(&str, String)]) -> Checked {
        let changes: Vec<(&str, Option<&str>)> = settings
            .iter()
            .map(|(name, value)| (*name, Some(value.as_str())))
            .collect();
        let checked = check(api, &changes).await;
        for secret in ["not-to-be-printed", "correct-horse-battery"] {
            assert!(
                !checked.output.contains(secret),
                "printed {secret}:\n{}",
                checked.output
            );
        }
        checked
    }

    /// Every object in the server's bucket `kyc`.
    async fn objects(s3: &s3_server::Server) -> Vec<String> {
        let mut names = Vec::new();
        let mut listed = kyc::bucket(&s3.endpoint).list(None);
        while let Some(meta) = futures_util::StreamExt::next(&mut listed).await {
            names.push(meta.unwrap().location.to_string());
        }
        names
    }

    /// PostgreSQL answers and the bucket takes a file and refuses to create
    /// it twice; the check leaves nothing behind (no object, no table), and
    /// says the files are encrypted to the recipients.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        any(no_s3_server, no_postgres_server),
        ignore = "needs moto_server and postgresql (pip install 'moto[server]'; apt-get install postgresql)"
    )]
    async fn postgres_and_a_bucket_that_refuses_a_second_create_pass() {
        let (_api, url) = kyc::bot_api().await;
        let postgres = postgres_server::start();
        let s3 = s3_server::start();
        s3.create_bucket("kyc");
        let recipient = age::x25519::Identity::generate().to_public().to_string();
        let mut settings = bucket_env(&s3.endpoint, "s3://kyc/applications");
        settings.extend([
            ("DATABASE_URL", postgres.url.clone()),
            ("ARCHIVE_RECIPIENTS", recipient),
            ("DATA_DIR", scratch("storage-good").to_string_lossy().into_owned()),
        ]);
        check_with(&url, &settings)
            .await
            .passed()
            .says("ok", "shared state", "PostgreSQL 1")
            .says("ok", "DATA_DIR", "drafts, before they are committed")
            .says(
                "ok",
                "archive",
                "s3://kyc/applications took a file and refused to create it twice",
            )
            .says("ok", "at rest", "encrypted to the 1 ARCHIVE_RECIPIENTS");
        assert_eq!(objects(&s3).await, Vec::<String>::new());
        let tables = postgres_server::psql(&postgres, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'");
        assert_eq!(tables.unwrap(), "0", "the check made tables");
    }

    /// An Azure container (Azurite) takes a file and refuses to create it
    /// twice; one that does not exist is said with Azure's words.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(no_azurite, ignore = "needs azurite (npm install azurite)")]
    async fn an_azure_container_is_tried_as_a_bucket_is() {
        let (_api, url) = kyc::bot_api().await;
        let azurite = telegram_passport_dev_support::azurite_server::start();
        azurite.create_container("kyc");
        let mut settings = azurite.env();
        settings.push(("ARCHIVE_URL", "az://kyc/applications".to_owned()));
        settings.push(("DATA_DIR", scratch("storage-azure").to_string_lossy().into_owned()));
        check_with(&url, &settings).await.passed().says(
            "ok",
            "archive",
            "az://kyc/applications took a file and refused to create it twice",
        );
        let mut listed = kyc::container(&azurite.endpoint).list(None);
        assert!(
            futures_util::StreamExt::next(&mut listed).await.is_none(),
            "the check left a blob"
        );
        settings.push(("ARCHIVE_URL", "az://no-such-container/applications".to_owned()));
        check_with(&url, &settings).await.failed().says(
            "PROBLEM",
            "archive",
            "404 Not Found: ContainerNotFound: The specified container does not exist.",
        );
    }

    /// A store that ignores conditional writes (here a front to the server
    /// that drops `If-None-Match`) is a warning that says what it risks.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(no_s3_server, ignore = "needs moto_server (pip install 'moto[server]')")]
    async fn a_store_that_ignores_conditional_writes_is_a_warning() {
        let (_api, url) = kyc::bot_api().await;
        let s3 = s3_server::start();
        s3.create_bucket("kyc");
        let front = without_conditions(&s3.endpoint).await;
        let mut settings = bucket_env(&front, "s3://kyc/applications");
        settings.push(("DATA_DIR", scratch("storage-ignoring").to_string_lossy().into_owned()));
        check_with(&url, &settings).await.passed().says(
            "warning",
            "archive",
            "ignores conditional writes (If-None-Match)",
        );
        assert_eq!(objects(&s3).await, Vec::<String>::new());
    }

    /// Each way the storage can be wrong fails, said in words, in one run:
    /// PostgreSQL not answering (its password not printed), a bucket that
    /// does not exist, a DATA_DIR that cannot take a file; plaintext at
    /// rest is a warning.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(no_s3_server, ignore = "needs moto_server (pip install 'moto[server]')")]
    async fn unreachable_storage_is_said_without_its_secrets() {
        let (_api, url) = kyc::bot_api().await;
        let s3 = s3_server::start();
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let not_a_folder = scratch("storage-file").join("plain-file");
        std::fs::write(&not_a_folder, b"a file").unwrap();
        let mut settings = bucket_env(&s3.endpoint, "s3://no-such-bucket/applications");
        settings.extend([
            (
                "DATABASE_URL",
                format!("postgres://kyc:correct-horse-battery@127.0.0.1:{closed}/kyc"),
            ),
            ("DATA_DIR", not_a_folder.to_string_lossy().into_owned()),
        ]);
        check_with(&url, &settings)
            .await
            .failed()
            .says(
                "PROBLEM",
                "shared state",
                &format!("127.0.0.1:{closed} does not answer"),
            )
            .says("PROBLEM", "DATA_DIR", "cannot hold drafts")
            .says(
                "PROBLEM",
                "archive",
                "s3://no-such-bucket/applications did not take a file",
            )
            .says(
                "PROBLEM",
                "archive",
                "404 Not Found: NoSuchBucket: The specified bucket does not exist",
            )
            .says("warning", "at rest", "applications are stored in plaintext");
    }

    /// Redis answers; without ARCHIVE_URL the applications are in DATA_DIR.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(no_redis_server, ignore = "needs redis-server (apt-get install redis-server)")]
    async fn redis_and_a_folder_pass() {
        let (_api, url) = kyc::bot_api().await;
        let redis = telegram_passport_dev_support::redis_server::start();
        let settings = [
            ("REDIS_URL", redis.url.clone()),
            ("DATA_DIR", scratch("storage-redis").to_string_lossy().into_owned()),
        ];
        check_with(&url, &settings)
            .await
            .passed()
            .says("ok", "shared state", "Redis ")
            .says("ok", "DATA_DIR", "drafts and stored applications (no ARCHIVE_URL)");
    }

    /// A front to the S3 server at `upstream` that forwards every request
    /// without its `If-None-Match`: a store that ignores conditional writes.
    async fn without_conditions(upstream: &str) -> String {
        let upstream = upstream.trim_end_matches('/').to_owned();
        let client = reqwest::Client::new();
        let forward = move |request: axum::extract::Request| {
            let (client, upstream) = (client.clone(), upstream.clone());
            async move {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, 64 << 20).await.unwrap();
                let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
                let mut headers = parts.headers.clone();
                headers.remove("if-none-match");
                headers.remove("host");
                let answer = client
                    .request(parts.method, format!("{upstream}{path}"))
                    .headers(headers)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                let mut response = axum::response::Response::builder().status(answer.status());
                for (name, value) in answer.headers() {
                    if name != "transfer-encoding" && name != "connection" {
                        response = response.header(name, value);
                    }
                }
                response
                    .body(axum::body::Body::from(answer.bytes().await.unwrap()))
                    .unwrap()
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, axum::Router::new().fallback(forward)).await });
        format!("http://{address}")
    }
}
