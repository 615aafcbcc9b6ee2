//! The state the KYC backend's routes share: its settings, the stores,
//! the archive and the Bot API, and what the submission flow and the
//! routes both use (the scope asked for, a request's tag, today's date).
//! The routes are in [`crate::routes`], the flow of a submission in
//! [`crate::submission`].

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderName};
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use telegram_passport::{
    AsyncNonceStore, CalendarDate, CredentialsKey as _, ElementType, Error, KeyRing, PassportRequest, Scope,
    ScopeElement,
};

use crate::archive::Archive;
use crate::client_ip::Unreadable;
use crate::ledger::Ledger;
use crate::limiter::StartLimiter;
pub(crate) use crate::public_url::PublicUrl;
use crate::telegram::BotApi;

/// How long a request link stays valid.
const REQUEST_TTL: Duration = Duration::from_secs(30 * 60);
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
    /// How often drafts of dead attempts are settled (and stored
    /// applications' records repaired).
    pub(crate) sweep_every: Duration,
    /// How long an application stays open for fresh requests.
    pub(crate) application_ttl: Duration,
    /// How long a stored application is kept before the sweep erases it;
    /// `None`: until erased by hand (`--erase`).
    pub(crate) retention: Option<Duration>,
    /// Where applications are committed (`ARCHIVE_URL`): object storage,
    /// or `None` for this instance's `data_dir`.
    pub(crate) archive_url: Option<String>,
    /// The reviewers every stored file is encrypted to; `None`: plaintext.
    pub(crate) archive_recipients: Option<crate::at_rest::Recipients>,
}

/// The service's state, shared by all requests: configuration and handles,
/// nothing that grows.
pub(crate) struct App<S> {
    pub(crate) config: Config,
    pub(crate) bot_id: i64,
    pub(crate) nonces: S,
    pub(crate) ledger: Ledger,
    pub(crate) starts: StartLimiter,
    pub(crate) archive: Archive,
    pub(crate) bot_api: BotApi,
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

    /// A ledger value read back (an older plain message too).
    pub(crate) fn read(value: &str) -> Self {
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

    /// Whether the archive holds application `id` (this instance's folder,
    /// or the object storage every instance commits to): true whatever the
    /// ledger forgot (an in-memory ledger after a restart, a fact past its
    /// time) or has yet to learn (the sweep repairs it).
    pub(crate) async fn holds(&self, id: &str) -> bool {
        if let Some(objects) = self.archive.objects() {
            return match objects.holds(id).await {
                Ok(held) => held,
                Err(error) => {
                    tracing::warn!(reason = %error, "the object storage could not say whether it holds an application");
                    false
                }
            };
        }
        match self.archive.folder(id) {
            Some(folder) => tokio::fs::metadata(folder).await.is_ok_and(|meta| meta.is_dir()),
            None => false,
        }
    }

    /// The client a request comes from.
    pub(crate) fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> Result<IpAddr, Unreadable> {
        crate::client_ip::client(peer, headers, self.config.client_ip_header.as_ref())
    }

    /// Whether a browser says the request comes from a page of another
    /// site, or of another origin than the service's own: such a request
    /// was made by that page, not by the applicant. A caller that is not a
    /// browser sends neither header and is served.
    pub(crate) fn is_from_elsewhere(&self, headers: &HeaderMap) -> bool {
        let site = headers.get("sec-fetch-site").map(|v| v.as_bytes());
        let elsewhere_site = site.is_some_and(|site| site != b"same-origin" && site != b"none");
        let origin = headers.get(header::ORIGIN).map(|v| v.as_bytes());
        let elsewhere_origin = origin.is_some_and(|origin| origin != self.config.public_url.origin().as_bytes());
        elsewhere_site || elsewhere_origin
    }
}

/// Today's date (UTC).
pub(crate) fn today() -> CalendarDate {
    let today = time::OffsetDateTime::now_utc().date();
    let year = u16::try_from(today.year()).unwrap_or(u16::MAX);
    CalendarDate::new(year, u8::from(today.month()), today.day()).expect("the clock gives a real date")
}
