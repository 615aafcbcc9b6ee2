//! The Bot API calls the service makes: `setPassportDataErrors`,
//! `sendMessage`, and `getFile` followed by the file's download, streamed
//! through decryption into a file that appears only once verified. Every
//! failure (a network error, a non-2xx answer, `"ok": false`) is an
//! [`ApiError`] that says whether retrying can help: a network failure, a
//! timeout, 429 or 5xx can; any other 4xx (the user blocked the bot, the
//! file is gone or too big) cannot. Errors never carry a URL: every URL
//! here holds the bot's token.

use std::time::Duration;

use telegram_passport::{Error, FileRef, SetPassportDataErrors};

use crate::at_rest::FileWriter;

pub(crate) type Failure = Box<dyn std::error::Error + Send + Sync>;

/// A Bot API call that failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// Worth another try later: the network, a timeout, 429, 5xx.
    #[error("{0}")]
    Retryable(Failure),
    /// No retry can help: Telegram refused the call (403 for a user who
    /// blocked the bot, 400 for a file that is gone).
    #[error("{method} refused: HTTP {status}, {description}")]
    Refused {
        method: &'static str,
        status: u16,
        description: String,
    },
}

impl ApiError {
    /// The error for an answer with `status` (and Telegram's description).
    fn answered(method: &'static str, status: reqwest::StatusCode, description: String) -> Self {
        let retryable =
            status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS || status.is_success();
        match retryable {
            true => Self::Retryable(format!("{method} failed: HTTP {status}, {description}").into()),
            false => Self::Refused {
                method,
                status: status.as_u16(),
                description,
            },
        }
    }

    /// Whether Telegram refused because of the user, not the request: 403
    /// (the user blocked the bot, or the account is deactivated) or a chat
    /// that no longer exists. Any other refusal is the caller's own error.
    pub(crate) fn is_unreachable_user(&self) -> bool {
        match self {
            Self::Refused { status: 403, .. } => true,
            Self::Refused {
                status: 400,
                description,
                ..
            } => description.contains("chat not found") || description.contains("user not found"),
            _ => false,
        }
    }

    fn network(error: reqwest::Error) -> Self {
        Self::Retryable(Box::new(error.without_url()))
    }
}
/// Largest file the service downloads (Telegram's own limit is 10 MiB
/// for passport files).
const MAX_FILE: u64 = 20 << 20;

pub(crate) struct BotApi {
    base_url: String,
    token: String,
    http: reqwest::Client,
}

impl BotApi {
    pub(crate) fn new(base_url: String, token: String) -> Result<Self, Failure> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self { base_url, token, http })
    }

    /// Calls `method` with a JSON body; its `result`.
    async fn call(&self, method: &'static str, body: &impl serde::Serialize) -> Result<serde_json::Value, ApiError> {
        let url = format!("{}/bot{}/{method}", self.base_url, self.token);
        let response = self.http.post(url).json(body).send().await.map_err(ApiError::network)?;
        let status = response.status();
        let Ok(mut reply) = response.json::<serde_json::Value>().await else {
            return Err(ApiError::answered(
                method,
                status,
                "an answer that is not JSON".to_owned(),
            ));
        };
        if reply["ok"] != true {
            let description = reply["description"].as_str().unwrap_or("no description").to_owned();
            return Err(ApiError::answered(method, status, description));
        }
        Ok(reply["result"].take())
    }

    pub(crate) async fn set_passport_data_errors(&self, body: &SetPassportDataErrors) -> Result<(), ApiError> {
        self.call("setPassportDataErrors", body).await.map(drop)
    }

    /// A message to `user_id` with one button that opens `link` (an https
    /// page: Telegram refuses a Telegram Passport link in a button), no
    /// link preview.
    pub(crate) async fn send_message(
        &self,
        user_id: i64,
        text: &str,
        button: &str,
        link: &str,
    ) -> Result<(), ApiError> {
        let body = serde_json::json!({
            "chat_id": user_id,
            "text": text,
            "link_preview_options": {"is_disabled": true},
            "reply_markup": {"inline_keyboard": [[{"text": button, "url": link}]]},
        });
        self.call("sendMessage", &body).await.map(drop)
    }

    /// Downloads `file` and decrypts it into `into` as it arrives,
    /// verified on the way, without holding it in memory; `into` is
    /// finished (synced) once the file checked out. `Ok(false)`: the bytes
    /// do not match their credentials (what was written is left to its
    /// draft, which goes).
    pub(crate) async fn download_into(&self, file: &FileRef, into: FileWriter) -> Result<bool, ApiError> {
        let file_id = file
            .file_id()
            .ok_or_else(|| ApiError::Retryable("not a Bot API file".into()))?;
        let answer = self.call("getFile", &serde_json::json!({ "file_id": file_id })).await?;
        let Some(file_path) = answer["file_path"].as_str() else {
            return Err(ApiError::Retryable("getFile returned no file_path".into()));
        };
        let url = format!("{}/file/bot{}/{file_path}", self.base_url, self.token);
        let mut response = self.http.get(url).send().await.map_err(ApiError::network)?;
        let status = response.status();
        if !status.is_success() {
            return Err(ApiError::answered(
                "download",
                status,
                "the file's download failed".to_owned(),
            ));
        }
        let too_large = || ApiError::Refused {
            method: "download",
            status: status.as_u16(),
            description: "a passport file larger than 20 MiB".to_owned(),
        };
        let decrypting = file.credentials().decryptor(into).map(|d| d.with_max_size(MAX_FILE));
        let mut decryptor = decrypting.map_err(|error| ApiError::Retryable(Box::new(error)))?;
        // Each chunk decrypted and written (a 64 KiB write at most) where it
        // arrives: the disk is not the bottleneck of a download.
        loop {
            // A reqwest error carries the URL (and so the token): not kept.
            let chunk = response
                .chunk()
                .await
                .map_err(|error| ApiError::Retryable(without_url(std::io::Error::other(error))))?;
            let Some(chunk) = chunk else { break };
            if let Err(error) = std::io::Write::write_all(&mut decryptor, &chunk) {
                // Over the size limit, or the disk: finishing says which.
                return Err(match decryptor.finish() {
                    Err(Error::TooLarge { .. }) => too_large(),
                    _ => ApiError::Retryable(Box::new(error)),
                });
            }
        }
        match decryptor.finish() {
            Ok(into) => into
                .finish()
                .map(|()| true)
                .map_err(|e| ApiError::Retryable(Box::new(e))),
            Err(Error::Decryption(_)) => Ok(false),
            Err(Error::TooLarge { .. }) => Err(too_large()),
            Err(other) => Err(ApiError::Retryable(Box::new(other))),
        }
    }

    /// `getMe`: the bot the token belongs to.
    pub(crate) async fn get_me(&self) -> Result<serde_json::Value, ApiError> {
        self.call("getMe", &serde_json::json!({})).await
    }

    /// `getWebhookInfo`: where Telegram delivers the bot's updates, and how
    /// its last deliveries went.
    pub(crate) async fn get_webhook_info(&self) -> Result<serde_json::Value, ApiError> {
        self.call("getWebhookInfo", &serde_json::json!({})).await
    }
}

/// The download's I/O error, with a reqwest error's URL taken out.
fn without_url(error: std::io::Error) -> Failure {
    if !error.get_ref().is_some_and(|inner| inner.is::<reqwest::Error>()) {
        return Box::new(error);
    }
    match error.into_inner().map(|inner| inner.downcast::<reqwest::Error>()) {
        Some(Ok(network)) => Box::new(network.without_url()),
        _ => "the download failed".into(),
    }
}
