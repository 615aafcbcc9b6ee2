//! The Bot API calls the service makes: `setPassportDataErrors`,
//! `sendMessage`, and `getFile` followed by the file's download. Every
//! failure (a network error, a non-2xx answer, `"ok": false`) is an error,
//! so the caller can leave the submission retryable. Errors never carry a
//! URL: every URL here holds the bot's token.

use std::time::Duration;

use telegram_passport::SetPassportDataErrors;

pub(crate) type Failure = Box<dyn std::error::Error + Send + Sync>;

/// Largest file the service downloads (Telegram's own limit is 10 MiB
/// for passport files).
const MAX_FILE: usize = 20 << 20;

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
    async fn call(&self, method: &str, body: &impl serde::Serialize) -> Result<serde_json::Value, Failure> {
        let url = format!("{}/bot{}/{method}", self.base_url, self.token);
        let response = self
            .http
            .post(url)
            .json(body)
            .send()
            .await
            .map_err(reqwest::Error::without_url)?;
        let status = response.status();
        let reply: serde_json::Value = response.json().await.map_err(|_| format!("{method}: HTTP {status}"))?;
        if reply["ok"] != true {
            return Err(format!("{method} failed: HTTP {status}, {}", reply["description"]).into());
        }
        Ok(reply["result"].clone())
    }

    pub(crate) async fn set_passport_data_errors(&self, body: &SetPassportDataErrors) -> Result<(), Failure> {
        self.call("setPassportDataErrors", body).await.map(drop)
    }

    /// A message to `user_id` with one button that opens `link`.
    pub(crate) async fn send_message(&self, user_id: i64, text: &str, button: &str, link: &str) -> Result<(), Failure> {
        let body = serde_json::json!({
            "chat_id": user_id,
            "text": text,
            "reply_markup": {"inline_keyboard": [[{"text": button, "url": link}]]},
        });
        self.call("sendMessage", &body).await.map(drop)
    }

    /// `getFile`, then the download.
    pub(crate) async fn download(&self, file_id: &str) -> Result<Vec<u8>, Failure> {
        let file = self.call("getFile", &serde_json::json!({ "file_id": file_id })).await?;
        let path = file["file_path"].as_str().ok_or("getFile returned no file_path")?;
        let url = format!("{}/file/bot{}/{path}", self.base_url, self.token);
        let mut response = self
            .http
            .get(url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(reqwest::Error::without_url)?;
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(reqwest::Error::without_url)? {
            if bytes.len() + chunk.len() > MAX_FILE {
                return Err("a passport file larger than 20 MiB".into());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}
