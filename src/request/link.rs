//! The request a service hands to the user's app (PROTOCOL §2): deep links
//! (`tg://passport?…`, `tg://resolve?domain=telegrampassport&…`) and the
//! parameters of Telegram's JavaScript SDK; and reading such a link back.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::key::PublicKey;
use crate::request::scope::Scope;

/// A request for Passport data: bot, scope, public key, nonce.
///
/// ```
/// use telegram_passport::{bot_id_from_token, ElementType::*, PassportRequest, PrivateKey, Scope, ScopeElement};
///
/// let key = PrivateKey::generate()?;
/// let scope = Scope::new([ScopeElement::one(PersonalDetails), ScopeElement::one(Email)])?;
/// let request = PassportRequest::new(bot_id_from_token("123456:AAH-token")?, scope, &key.public_key(), "nonce-1")
///     .with_callback_url("https://example.org/done");
///
/// let link = request.deep_link();
/// assert!(link.starts_with("tg://resolve?domain=telegrampassport&bot_id=123456&scope=%7B%22v%22%3A1"));
/// assert_eq!(PassportRequest::parse_link(&link)?, request);
/// # Ok::<(), telegram_passport::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassportRequest {
    bot_id: i64,
    scope: Scope,
    public_key: String,
    nonce: String,
    callback_url: Option<String>,
}

/// The parameters of the JavaScript SDK's `Telegram.Passport.auth(...)`,
/// serialised as the object the SDK takes.
#[derive(Debug, Clone, Serialize)]
pub struct SdkParameters<'a> {
    /// The bot's id.
    pub bot_id: i64,
    /// The scope, long form.
    pub scope: &'a Scope,
    /// The public key, SPKI PEM.
    pub public_key: &'a str,
    /// The request's nonce.
    pub nonce: &'a str,
    /// Where the app returns the user afterwards.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<&'a str>,
}

/// The bot id: the part of a bot token before the `:`.
pub fn bot_id_from_token(token: &str) -> Result<i64> {
    let invalid = || Error::InvalidBotToken;
    let (id, secret) = token.trim().split_once(':').ok_or_else(invalid)?;
    if secret.is_empty() || id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    id.parse().ok().filter(|&id: &i64| id > 0).ok_or_else(invalid)
}

impl PassportRequest {
    /// A request of `bot_id` for `scope`, to be encrypted to `public_key`,
    /// identified by `nonce`.
    pub fn new(bot_id: i64, scope: Scope, public_key: &PublicKey, nonce: impl Into<String>) -> Self {
        Self {
            bot_id,
            scope,
            public_key: public_key.to_pem(),
            nonce: nonce.into(),
            callback_url: None,
        }
    }

    /// Where the app sends the user back when done (web flows).
    pub fn with_callback_url(mut self, url: impl Into<String>) -> Self {
        self.callback_url = Some(url.into());
        self
    }

    /// The bot's id.
    pub fn bot_id(&self) -> i64 {
        self.bot_id
    }

    /// What is asked for.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// The public key, SPKI PEM.
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// The nonce the credentials will carry.
    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// The callback URL, if any.
    pub fn callback_url(&self) -> Option<&str> {
        self.callback_url.as_deref()
    }

    /// `tg://resolve?domain=telegrampassport&…`: the link that works on
    /// every platform, including old apps (which read `payload`).
    ///
    /// # Where it opens
    ///
    /// Put it on a web page the user opens in a browser (an `<a href>`, or
    /// Telegram's JavaScript SDK with [`sdk_parameters`](Self::sdk_parameters)),
    /// or behind a QR code. Never inside Telegram: the Bot API refuses a
    /// Passport link in a message's button (`400 Bad Request:
    /// BUTTON_URL_INVALID`), and Telegram's apps ignore one met inside
    /// the app. To ask a user again from a bot, send an `https` link to
    /// your page, and let the page hold the fresh request.
    pub fn deep_link(&self) -> String {
        format!("tg://resolve?domain=telegrampassport&{}", self.query())
    }

    /// `tg://passport?…`: the short form, for current apps. It opens
    /// where [`deep_link`](Self::deep_link) opens, and nowhere else.
    pub fn passport_link(&self) -> String {
        format!("tg://passport?{}", self.query())
    }

    /// The JavaScript SDK's parameters; serialise with `serde_json`.
    pub fn sdk_parameters(&self) -> SdkParameters<'_> {
        SdkParameters {
            bot_id: self.bot_id,
            scope: &self.scope,
            public_key: &self.public_key,
            nonce: &self.nonce,
            callback_url: self.callback_url.as_deref(),
        }
    }

    fn query(&self) -> String {
        let mut pairs = vec![
            ("bot_id", self.bot_id.to_string()),
            ("scope", self.scope.to_compact_json()),
            ("public_key", self.public_key.clone()),
            ("nonce", self.nonce.clone()),
        ];
        if let Some(url) = &self.callback_url {
            pairs.push(("callback_url", url.clone()));
        }
        pairs.push(("payload", self.nonce.clone()));
        let encoded: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", percent_encode(v)))
            .collect();
        encoded.join("&")
    }

    /// Reads a `tg://passport?…` or `tg://resolve?domain=telegrampassport&…`
    /// link back into a request. A legacy `payload` stands in for a missing
    /// `nonce`; when both are present, `nonce` wins.
    pub fn parse_link(link: &str) -> Result<Self> {
        let invalid = |reason: &str| Error::InvalidRequest(reason.to_owned());
        let query = if let Some(query) = link.strip_prefix("tg://passport?") {
            query
        } else if let Some(query) = link.strip_prefix("tg://resolve?") {
            query
        } else {
            return Err(invalid("not a tg://passport or tg://resolve link"));
        };
        let mut fields = std::collections::BTreeMap::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value).ok_or_else(|| invalid("malformed percent-encoding in the link"))?;
            fields.insert(key, value);
        }
        if link.starts_with("tg://resolve?") && fields.get("domain").map(String::as_str) != Some("telegrampassport") {
            return Err(invalid("a tg://resolve link for Passport has domain=telegrampassport"));
        }
        let field = |name: &str| {
            fields
                .get(name)
                .cloned()
                .ok_or_else(|| Error::InvalidRequest(format!("the link has no {name}")))
        };
        let bot_id = field("bot_id")?
            .parse()
            .map_err(|_| invalid("bot_id is not a number"))?;
        let scope = Scope::from_json(&field("scope")?)?;
        let public_key = field("public_key")?;
        PublicKey::from_pem(&public_key)?;
        let nonce = field("nonce").or_else(|_| field("payload"))?;
        Ok(Self {
            bot_id,
            scope,
            public_key,
            nonce,
            callback_url: fields.get("callback_url").cloned(),
        })
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes; `+` stays `+` (RFC 3986, not form encoding).
fn percent_decode(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            let hex = tail.get(..2)?;
            let hex = std::str::from_utf8(hex).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = tail.get(2..)?;
        } else {
            bytes.push(byte);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding_round_trips() {
        for text in [
            "",
            "a b+c/d=e&f",
            "-----BEGIN PUBLIC KEY-----\nMII+/=\n",
            "{\"v\":1}",
            "Zoë 明",
        ] {
            let encoded = percent_encode(text);
            assert!(
                encoded
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)),
                "{encoded}"
            );
            assert_eq!(percent_decode(&encoded).as_deref(), Some(text));
        }
        assert_eq!(percent_decode("%7B%22v%22"), Some("{\"v\"".to_owned()));
        assert_eq!(percent_decode("a+b"), Some("a+b".to_owned()));
        assert_eq!(percent_decode("%"), None);
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%ff"), None);
    }

    #[test]
    fn bot_ids_from_tokens() {
        assert_eq!(
            bot_id_from_token("1234567:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw").unwrap(),
            1234567
        );
        for bad in [
            "",
            "1234567",
            ":AAH",
            "12a:AAH",
            "1234567:",
            "-5:AAH",
            "0:AAH",
            "99999999999999999999:A",
        ] {
            assert!(matches!(bot_id_from_token(bad), Err(Error::InvalidBotToken)), "{bad}");
        }
    }
}
