//! `kyc_backend --check`: what newcomers get wrong, asked of the Bot API
//! and of where the service keeps things, and said in plain words, one
//! line per check.
//!
//! It reads the settings the service reads and reports every problem it
//! finds in one run: a missing or wrong setting is reported, and each check
//! that needs it says it was skipped. Nothing it prints holds the token
//! (every line is scrubbed of it, since a webhook URL may carry it), the
//! webhook secret, or any part of a private key: of the keys, only the
//! current one's public half, which BotFather needs.

use std::fmt::Display;
use std::io::Read;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::Url;
use telegram_passport::{bot_id_from_token, one_line, Error, KeyRef, PrivateKey, PublicKey};
use zeroize::Zeroizing;

use crate::public_url::PublicUrl;
use crate::telegram::{ApiError, BotApi};

mod storage;

/// The settings the service does not start without.
const REQUIRED: [&str; 4] = [
    "TELEGRAM_BOT_TOKEN",
    "PASSPORT_PRIVATE_KEY",
    "WEBHOOK_SECRET",
    "PUBLIC_URL",
];

/// `BOT_API_URL` when it is not set, as the service has it.
const DEFAULT_BOT_API: &str = "https://api.telegram.org";

/// The only ports Telegram delivers webhooks to.
const WEBHOOK_PORTS: [u16; 4] = [443, 80, 88, 8443];

/// More updates waiting than this means Telegram is falling behind.
const PENDING_MANY: u64 = 100;

/// Telegram reports its most recent delivery error however old: one
/// younger than this is taken as still happening.
const RECENT_ERROR_SECONDS: u64 = 24 * 60 * 60;

/// A webhook secret shorter than this is easy to guess.
const SECRET_SHORT: usize = 16;

/// The largest file read to explain why it is not a key (an RSA-4096 PEM
/// is about 3.3 KB; the service refuses anything beyond 64 KiB).
const KEY_FILE_MAX: u64 = 64 << 10;

/// A key "name" longer than this is no path a person typed: it may be key
/// material pasted in, and is not repeated.
const KEY_NAME_MAX: usize = 256;

/// Runs the check on the service's settings; non-zero where the service
/// would not work.
pub(crate) async fn run() -> ExitCode {
    let token = setting("TELEGRAM_BOT_TOKEN");
    let mut report = Report::new(token.as_deref());
    report.hide(storage::secrets());
    let api = check_token(&mut report, token.as_deref()).await;
    let public_url = check_public_url(&mut report);
    check_webhook(&mut report, api.as_ref(), public_url.as_ref()).await;
    check_webhook_secret(&mut report);
    check_keys(&mut report);
    check_other_settings(&mut report);
    storage::check_storage(&mut report).await;
    report.finish()
}

/// A setting as the service reads it: unset and empty are the same.
fn setting(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// How one check came out.
#[derive(Clone, Copy)]
enum Outcome {
    Passed,
    /// The service works, but something deserves a look.
    Warning,
    /// The service would not work.
    Problem,
    /// Not checked: it needs something reported above.
    Skipped,
}

/// What `--check` prints, and whether the service would work.
struct Report {
    /// Texts never printed: the token and its secret half, each as given
    /// and without the white space around it; the storage settings'
    /// passwords and secret keys.
    hidden: Vec<String>,
    problems: usize,
    warnings: usize,
}

impl Report {
    fn new(token: Option<&str>) -> Self {
        let secret = token.and_then(|token| token.split_once(':')).map(|(_, secret)| secret);
        let hidden: Vec<String> = [token, token.map(str::trim), secret, secret.map(str::trim)]
            .into_iter()
            .flatten()
            .map(str::to_owned)
            .collect();
        let mut report = Self {
            hidden: Vec::new(),
            problems: 0,
            warnings: 0,
        };
        report.hide(hidden);
        report
    }

    /// Never prints `texts`.
    fn hide(&mut self, texts: Vec<String>) {
        // Too short to be a credential, and replacing it would garble the text.
        self.hidden.extend(texts.into_iter().filter(|text| text.len() >= 8));
    }

    /// One line: the outcome, what was checked, and what it found.
    fn line(&mut self, outcome: Outcome, subject: &str, text: impl Display) {
        let label = match outcome {
            Outcome::Passed => "ok",
            Outcome::Warning => {
                self.warnings += 1;
                "warning"
            }
            Outcome::Problem => {
                self.problems += 1;
                "PROBLEM"
            }
            Outcome::Skipped => "skipped",
        };
        self.print(&format!("{label:<8}{subject}: {text}"));
    }

    fn print(&self, text: &str) {
        let mut text = text.to_owned();
        for hidden in &self.hidden {
            text = text.replace(hidden.as_str(), "<token>");
        }
        println!("{text}");
    }

    fn finish(self) -> ExitCode {
        let warnings = match self.warnings {
            0 => String::new(),
            1 => ", 1 warning".to_owned(),
            n => format!(", {n} warnings"),
        };
        match self.problems {
            0 => {
                println!("\nall checks passed{warnings}");
                ExitCode::SUCCESS
            }
            n => {
                let problems = match n {
                    1 => "1 problem".to_owned(),
                    n => format!("{n} problems"),
                };
                println!("\n{problems}{warnings}: the service would not work until fixed");
                ExitCode::FAILURE
            }
        }
    }
}

/// The Bot API, once it took the token.
struct Api {
    client: BotApi,
    /// `BOT_API_URL`, or its default.
    base: String,
}

async fn check_token(report: &mut Report, token: Option<&str>) -> Option<Api> {
    const NAME: &str = "TELEGRAM_BOT_TOKEN";
    let Some(token) = token else {
        report.line(
            Outcome::Problem,
            NAME,
            "not set: give the token BotFather gave the bot (/token there), e.g. 123456:ABC-DEF...",
        );
        return None;
    };
    if let Some(fault) = token_fault(token) {
        report.line(Outcome::Problem, NAME, fault);
        return None;
    }
    let base = setting("BOT_API_URL").unwrap_or_else(|| DEFAULT_BOT_API.to_owned());
    if let Some(fault) = bot_api_url_fault(&base, token) {
        report.line(Outcome::Problem, "BOT_API_URL", fault);
        return None;
    }
    let client = match BotApi::new(base.clone(), token.to_owned()) {
        Ok(client) => client,
        Err(error) => {
            report.line(Outcome::Problem, "Bot API", format_args!("no HTTP client: {error}"));
            return None;
        }
    };
    match client.get_me().await {
        Ok(me) => {
            let username = me["username"].as_str().unwrap_or("?");
            report.line(
                Outcome::Passed,
                NAME,
                format_args!(
                    "the Bot API takes it: the bot @{} (id {})",
                    one_line(username),
                    me["id"]
                ),
            );
            Some(Api { client, base })
        }
        Err(error) => {
            let (subject, text) = api_failure(&base, "getMe", &error);
            report.line(Outcome::Problem, subject, text);
            None
        }
    }
}

/// What is wrong with the token's shape, if anything: what BotFather hands
/// out is the bot's number, a colon, then letters, digits, `_` and `-`.
fn token_fault(token: &str) -> Option<&'static str> {
    let secret_shaped = token.split_once(':').is_some_and(|(_, secret)| {
        !secret.is_empty()
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    });
    if secret_shaped && bot_id_from_token(token).is_ok() {
        return None;
    }
    Some(if token.contains(char::is_whitespace) {
        "not a bot token: it has a space or line break in it; copy it again from BotFather, nothing around it"
    } else if token.starts_with(['"', '\'']) {
        "not a bot token: it is in quotes, which are part of the value here; give it without them"
    } else if token.get(..3).is_some_and(|start| start.eq_ignore_ascii_case("bot")) {
        "not a bot token: give it without \"bot\" in front (the service puts that in each call's URL itself)"
    } else {
        "not a bot token: BotFather's are the bot's number, a colon, then letters, digits, _ and - \
         (123456:ABC-DEF...); copy it again from BotFather"
    })
}

/// What is wrong with `BOT_API_URL`, if anything.
fn bot_api_url_fault(base: &str, token: &str) -> Option<String> {
    let secret = token.split_once(':').map_or(token, |(_, secret)| secret);
    if base.contains(secret) {
        return Some(format!(
            "holds the token: give the server alone ({DEFAULT_BOT_API} unless you run your own); \
             the service adds /bot<token>/ to each call itself"
        ));
    }
    match Url::parse(base) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() && url.query().is_none() => None,
        _ => Some(format!(
            "not the address of a Bot API server: {}; the default is {DEFAULT_BOT_API}",
            one_line(base)
        )),
    }
}

/// What a failed Bot API call says about the setup: what it is about, and
/// the line to print.
fn api_failure(base: &str, method: &str, error: &ApiError) -> (&'static str, String) {
    let base = one_line(base);
    match error {
        ApiError::Refused { status: 401, .. } => (
            "TELEGRAM_BOT_TOKEN",
            "the token is refused: copy it again from BotFather (/token there; it changes when someone \
             revokes it)"
                .to_owned(),
        ),
        ApiError::Refused { status: 404, .. } => (
            "BOT_API_URL",
            format!(
                "{base} answers {method} with 404 Not Found: it must be a Bot API server alone \
                 ({DEFAULT_BOT_API} unless you run your own), and the token exactly as BotFather gave it"
            ),
        ),
        ApiError::Refused {
            status, description, ..
        } => (
            "Bot API",
            format!("{base} refused {method}: HTTP {status}, {}", one_line(description)),
        ),
        ApiError::Retryable(failure) if failure.is::<reqwest::Error>() => (
            "Bot API",
            format!(
                "cannot reach the Bot API at {base} ({}): check BOT_API_URL and this machine's network",
                causes(failure.as_ref())
            ),
        ),
        ApiError::Retryable(failure) => (
            "Bot API",
            format!("{base} did not answer as the Bot API does ({failure}): check BOT_API_URL, or try again later"),
        ),
    }
}

/// An error and each of its causes, on one line. The caller passes an
/// error without a URL: the Bot API's URLs hold the token.
fn causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    one_line(&text).into_owned()
}

fn check_public_url(report: &mut Report) -> Option<PublicUrl> {
    const NAME: &str = "PUBLIC_URL";
    let Some(text) = setting(NAME) else {
        report.line(
            Outcome::Problem,
            NAME,
            "not set: the https address applicants' browsers reach this service at, e.g. https://kyc.example.org \
             (Telegram delivers updates to PUBLIC_URL/telegram/webhook)",
        );
        return None;
    };
    let url = match PublicUrl::parse(&text) {
        Ok(url) => url,
        Err(message) => {
            report.line(Outcome::Problem, NAME, one_line(&message));
            return None;
        }
    };
    if url.is_plain_http() {
        report.line(
            Outcome::Problem,
            NAME,
            format_args!(
                "{} is for trying the service on this machine: Telegram delivers webhooks to https addresses \
                 only, and applicants' phones cannot reach this machine's loopback address; give the https \
                 address the service is reachable at from the internet",
                url.origin()
            ),
        );
        return None;
    }
    let port = Url::parse(url.origin())
        .ok()
        .and_then(|origin| origin.port_or_known_default());
    if let Some(port) = port.filter(|port| !WEBHOOK_PORTS.contains(port)) {
        report.line(
            Outcome::Problem,
            NAME,
            format_args!(
                "{} is on port {port}: Telegram delivers webhooks to ports 443, 80, 88 and 8443 only; serve \
                 the service (or a proxy in front of it) on one of them",
                url.origin()
            ),
        );
        return Some(url);
    }
    report.line(
        Outcome::Passed,
        NAME,
        format_args!(
            "applicants open {}, and Telegram is to deliver updates to {}",
            url.page(),
            url.webhook()
        ),
    );
    Some(url)
}

async fn check_webhook(report: &mut Report, api: Option<&Api>, public_url: Option<&PublicUrl>) {
    const NAME: &str = "webhook";
    let Some(api) = api else {
        report.line(
            Outcome::Skipped,
            NAME,
            "not asked: that needs the Bot API to take the token (above)",
        );
        return;
    };
    let info = match api.client.get_webhook_info().await {
        Ok(info) => info,
        Err(error) => {
            let (subject, text) = api_failure(&api.base, "getWebhookInfo", &error);
            report.line(Outcome::Problem, subject, text);
            return;
        }
    };
    let expected = public_url.map(PublicUrl::webhook);
    let url = info["url"].as_str().unwrap_or_default();
    if url.is_empty() {
        let url = expected.as_deref().unwrap_or("PUBLIC_URL/telegram/webhook");
        report.line(
            Outcome::Problem,
            NAME,
            format_args!(
                "none is set, so Telegram keeps the bot's updates for getUpdates and sends none to this \
                 service: {}",
                set_webhook(url, &api.base)
            ),
        );
        return;
    }
    let shown = one_line(url);
    match &expected {
        Some(expected) if same_url(url, expected) => {
            report.line(
                Outcome::Passed,
                NAME,
                format_args!("Telegram delivers updates to {shown}"),
            );
        }
        Some(expected) => report.line(
            Outcome::Problem,
            NAME,
            format_args!(
                "Telegram delivers updates to {shown}, not to this service's {expected}: {}",
                set_webhook(expected, &api.base)
            ),
        ),
        None => report.line(
            Outcome::Skipped,
            NAME,
            format_args!(
                "Telegram delivers updates to {shown}; whether that is this service needs a usable PUBLIC_URL (above)"
            ),
        ),
    }
    if let Some(kinds) = info["allowed_updates"].as_array().filter(|kinds| !kinds.is_empty()) {
        if !kinds.iter().any(|kind| kind == "message") {
            let kinds: Vec<String> = kinds
                .iter()
                .map(|kind| one_line(kind.as_str().unwrap_or("?")).into_owned())
                .collect();
            report.line(
                Outcome::Problem,
                NAME,
                format_args!(
                    "it delivers only {} updates, no message: passport data arrives in a message, so it never \
                     reaches the service; call setWebhook again with allowed_updates=[\"message\"] (or [] for \
                     Telegram's default: leaving it out keeps the current list)",
                    kinds.join(", ")
                ),
            );
        }
    }
    check_deliveries(report, &info);
}

/// What to do where the webhook is missing or wrong: `setWebhook` with
/// `url` on the Bot API at `api`, said with the settings' names (never
/// their values).
fn set_webhook(url: &str, api: &str) -> String {
    format!(
        "call setWebhook with url={url} and secret_token=$WEBHOOK_SECRET, e.g. curl -F url={url} \
         -F secret_token=\"$WEBHOOK_SECRET\" {api}/bot$TELEGRAM_BOT_TOKEN/setWebhook"
    )
}

/// Whether `url` (as Telegram has it) is `expected`, the way a URL parser
/// compares them (host case, default port).
fn same_url(url: &str, expected: &str) -> bool {
    match (Url::parse(url), Url::parse(expected)) {
        (Ok(url), Ok(expected)) => url == expected,
        _ => url == expected,
    }
}

/// How Telegram's deliveries to the webhook went.
fn check_deliveries(report: &mut Report, info: &serde_json::Value) {
    const NAME: &str = "webhook";
    let pending = info["pending_update_count"].as_u64().unwrap_or(0);
    let failed = info["last_error_date"].as_u64().filter(|&date| date > 0);
    if let Some(date) = failed {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let age = now.saturating_sub(date);
        let message = info["last_error_message"].as_str().unwrap_or("no reason given");
        let text = format!(
            "Telegram's last delivery failed {} ago: {}{}",
            ago(age),
            one_line(message),
            delivery_hint(message)
        );
        if age < RECENT_ERROR_SECONDS {
            report.line(Outcome::Problem, NAME, text);
        } else {
            report.line(
                Outcome::Warning,
                NAME,
                format_args!("{text} (Telegram reports its most recent failure however old: if deliveries work since, nothing to do)"),
            );
        }
    }
    check_connection_share(report, info);
    if pending > PENDING_MANY {
        report.line(
            Outcome::Warning,
            NAME,
            format_args!(
                "{pending} updates wait for delivery: Telegram is behind with this bot, and drops what it could \
                 not deliver within 24 hours"
            ),
        );
    } else if failed.is_none() {
        report.line(
            Outcome::Passed,
            NAME,
            format_args!("no failed delivery, {pending} updates waiting"),
        );
    }
}

/// Telegram opens up to the webhook's `max_connections` at once, from a
/// few addresses of its own: facing clients directly, the service closes
/// any beyond one client's share, and deliveries wait.
fn check_connection_share(report: &mut Report, info: &serde_json::Value) {
    const NAME: &str = "webhook";
    if setting("CLIENT_IP_HEADER").is_some() {
        return;
    }
    let Some(wanted) = info["max_connections"].as_u64() else {
        return;
    };
    let max = crate::number("MAX_CONNECTIONS", 1..=1_000_000, 1024).unwrap_or(1024);
    let Ok(share) = crate::number("CONNECTIONS_PER_CLIENT", 1..=1_000_000, (max / 16).max(1)) else {
        return;
    };
    if wanted > share {
        report.line(
            Outcome::Warning,
            NAME,
            format_args!(
                "Telegram may open {wanted} connections at once (setWebhook's max_connections), but one \
                 address may hold {share} here: set CONNECTIONS_PER_CLIENT to {wanted} or more, or \
                 max_connections to {share} or less"
            ),
        );
    }
}

/// What a delivery error of Telegram's usually means for this service.
fn delivery_hint(message: &str) -> &'static str {
    let message = message.to_ascii_lowercase();
    let says = |words: &[&str]| words.iter().any(|word| message.contains(word));
    if says(&["401", "403"]) {
        "; the service refuses updates without its secret: call setWebhook again with secret_token=$WEBHOOK_SECRET"
    } else if says(&["404", "405"]) {
        "; nothing takes updates there: the webhook is PUBLIC_URL/telegram/webhook, and a proxy in front of the \
         service must pass that path on"
    } else if says(&["ssl", "certificate"]) {
        "; Telegram does not trust the address's https certificate: use one from a public authority, with its \
         full chain"
    } else if says(&["refused", "timed out", "timeout", "resolve", "unreachable"]) {
        "; Telegram cannot reach the address: is the service running, and open to the internet on port 443, 80, 88 \
         or 8443?"
    } else if says(&["wrong response"]) {
        "; the service (or a proxy in front of it) failed the update: see its log"
    } else {
        ""
    }
}

/// `seconds` for a person: "5 minutes".
fn ago(seconds: u64) -> String {
    match seconds {
        0..120 => format!("{seconds} seconds"),
        120..7_200 => format!("{} minutes", seconds / 60),
        7_200..172_800 => format!("{} hours", seconds / 3_600),
        _ => format!("{} days", seconds / 86_400),
    }
}

fn check_webhook_secret(report: &mut Report) {
    const NAME: &str = "WEBHOOK_SECRET";
    const RULE: &str = "1 to 256 characters of A-Z, a-z, 0-9, _ and -";
    let Some(secret) = setting(NAME).map(Zeroizing::new) else {
        report.line(
            Outcome::Problem,
            NAME,
            format_args!(
                "not set: choose {RULE} (e.g. what `openssl rand -hex 32` prints), and give setWebhook the same \
                 as secret_token"
            ),
        );
        return;
    };
    let length = secret.chars().count();
    if !secret
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        report.line(
            Outcome::Problem,
            NAME,
            format_args!(
                "it holds characters Telegram refuses in a secret_token (a space or line break counts too): \
                 setWebhook takes {RULE}"
            ),
        );
    } else if length > 256 {
        report.line(
            Outcome::Problem,
            NAME,
            format_args!("{length} characters: setWebhook takes a secret_token of {RULE}"),
        );
    } else if length < SECRET_SHORT {
        report.line(
            Outcome::Warning,
            NAME,
            format_args!(
                "only {length} characters: whoever guesses it can post updates to the webhook; use a long random \
                 one (`openssl rand -hex 32`)"
            ),
        );
    } else {
        report.line(
            Outcome::Passed,
            NAME,
            format_args!(
                "{length} characters Telegram takes as a secret_token (that setWebhook was given the same shows \
                 only as a 401 in the webhook's last error)"
            ),
        );
    }
}

fn check_keys(report: &mut Report) {
    const NAME: &str = "PASSPORT_PRIVATE_KEY";
    let Some(list) = setting(NAME).map(Zeroizing::new) else {
        report.line(
            Outcome::Problem,
            NAME,
            "not set: the path of the bot's PEM private key (`cargo run --example keygen -- private.key` makes one), \
             or a pkcs11: URI",
        );
        return;
    };
    if list.contains("-----BEGIN") || list.contains("PRIVATE KEY") {
        report.line(
            Outcome::Problem,
            NAME,
            "it holds a key's text, not where the key is: put the key in a file only the service's user may read, \
             and give that file's path",
        );
        return;
    }
    let specs = match KeyRef::list(&list) {
        Ok(specs) => specs,
        Err(error) => {
            report.line(Outcome::Problem, NAME, error);
            return;
        }
    };
    if specs.is_empty() {
        report.line(Outcome::Problem, NAME, "it names no key");
        return;
    }
    let mut loaded: Vec<(usize, PublicKey)> = Vec::new();
    for (number, spec) in (1..).zip(&specs) {
        let role = match number {
            1 => "the current key",
            _ => "an older key",
        };
        let subject = format!("{NAME} key {number} ({})", shown(spec.as_str()));
        let public = match spec.open() {
            Ok(key) => key.public_key(),
            Err(error) => {
                let text = explain(spec.as_str()).unwrap_or_else(|| match error {
                    Error::KeyOpen { error, .. } => one_line(&error.to_string()).into_owned(),
                    other => one_line(&other.to_string()).into_owned(),
                });
                report.line(Outcome::Problem, &subject, format_args!("{role}: {text}"));
                continue;
            }
        };
        match loaded.iter().find(|(_, other)| *other == public) {
            Some((same, _)) => report.line(
                Outcome::Warning,
                &subject,
                format_args!("the same key as key {same}: list each key once"),
            ),
            None => report.line(
                Outcome::Passed,
                &subject,
                format_args!("{role}: RSA, {} bits", public.bits()),
            ),
        }
        loaded.push((number, public));
    }
    if let Some((1, current)) = loaded.first() {
        report.print(&format!(
            "        give BotFather this public key of the current key with /setpublickey (a bot cannot ask which \
             one Telegram holds: if unsure, send it again):\n{}",
            current.to_pem().trim_end()
        ));
    }
}

/// How a key is named in the report: a token's key by its URI's path (the
/// query may hold a PIN), a file by its path, unless the name is too long
/// to be one or looks like a pasted key's base64.
fn shown(spec: &str) -> String {
    if is_pkcs11(spec) {
        return one_line(spec.split_once('?').map_or(spec, |(path, _)| path)).into_owned();
    }
    if spec.len() > KEY_NAME_MAX {
        return format!("a name of {} characters, not repeated here", spec.chars().count());
    }
    let base64 = spec.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
    if base64 && spec.len() >= 16 && !std::path::Path::new(spec).exists() {
        return "a name that looks like key material, not repeated here".to_owned();
    }
    one_line(spec).into_owned()
}

fn is_pkcs11(spec: &str) -> bool {
    spec.get(..7)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("pkcs11:"))
}

/// Why the key file at `spec` is no key the service takes, in words a
/// newcomer understands; `None` where the loader's own words are better
/// (a token's key, a pipe read once already).
fn explain(spec: &str) -> Option<String> {
    if is_pkcs11(spec) {
        return None;
    }
    let metadata = match std::fs::metadata(spec) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Some(
                "there is no such file (a relative path starts from the folder the service is started in)".to_owned(),
            )
        }
        Err(error) => return Some(format!("cannot be looked at: {error}")),
    };
    if metadata.is_dir() {
        return Some("a folder, not a key file".to_owned());
    }
    if !metadata.is_file() {
        return None;
    }
    if metadata.len() > KEY_FILE_MAX {
        return Some(format!(
            "{} bytes: a key file has a few thousand; is it the right file?",
            metadata.len()
        ));
    }
    // Room for all of it up front: a growing buffer would leave copies of
    // the key behind.
    let mut bytes = Zeroizing::new(Vec::with_capacity(usize::try_from(KEY_FILE_MAX).unwrap_or(0) + 1));
    let read = std::fs::File::open(spec).and_then(|file| file.take(KEY_FILE_MAX).read_to_end(&mut bytes));
    match read {
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::PermissionDenied => {
            return Some("this user may not read it: the service's user must be able to".to_owned())
        }
        Err(error) => return Some(format!("cannot be read: {error}")),
    }
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Some(match PrivateKey::from_der(&bytes) {
            Ok(_) => "a DER (binary) key, and the service reads PEM text: convert it with \
                      `openssl pkey -inform DER -in FILE -out key.pem`"
                .to_owned(),
            Err(Error::KeyMalformed { .. }) => "binary data, not a PEM key".to_owned(),
            Err(error) => one_line(&error.to_string()).into_owned(),
        });
    };
    if text.trim().is_empty() {
        return Some("an empty file".to_owned());
    }
    Some(match PrivateKey::from_pem(text) {
        Ok(_) => return None,
        Err(Error::KeySize { bits }) if bits < 2048 => format!(
            "an RSA key of {bits} bits, too small: Telegram Passport needs 2048 bits or more; make a new one \
             (`cargo run --example keygen -- private.key`) and give the public key it prints to BotFather \
             (/setpublickey)"
        ),
        Err(Error::KeySize { bits }) => format!(
            "an RSA key of {bits} bits: this service takes 2048 to 4096; make a new one \
             (`cargo run --example keygen -- private.key`) and give the public key it prints to BotFather \
             (/setpublickey)"
        ),
        Err(error) => one_line(&error.to_string()).into_owned(),
    })
}

/// The settings `--check` has no words of its own for, read as the service
/// reads them.
fn check_other_settings(report: &mut Report) {
    const NAME: &str = "other settings";
    match crate::config() {
        Ok(_) => report.line(
            Outcome::Passed,
            NAME,
            "the service takes them (the listener is not tried here)",
        ),
        Err(message) if report.problems > 0 && about_required(&message) => report.line(
            Outcome::Skipped,
            NAME,
            "the service reads them once the settings above are right",
        ),
        Err(message) => report.line(Outcome::Problem, NAME, one_line(&message)),
    }
}

/// Whether the service's refusal `message` is about a setting checked above.
fn about_required(message: &str) -> bool {
    message.starts_with("missing ") || REQUIRED.iter().any(|name| message.starts_with(&format!("{name}:")))
}
