//! The address applicants' browsers reach the service at (`PUBLIC_URL`),
//! and every link the service hands out under it: the applicant's page
//! (where the Telegram Passport link is opened, never in a message), a
//! page for one application, the page the user's Telegram app returns to,
//! and the webhook.
//!
//! An application's id travels in the page's fragment (`#application=…`),
//! which a browser never sends to a server, a link preview or a log. Only
//! the callback URL carries it in the query: Telegram appends its
//! `tg_passport=…` there.

use reqwest::Url;

/// `PUBLIC_URL`: an https origin with an optional path, no query or fragment.
#[derive(Clone, Debug)]
pub(crate) struct PublicUrl {
    /// Without a trailing slash.
    base: String,
    /// `scheme://host[:port]`, as a browser sends it in `Origin`.
    origin: String,
    plain_http: bool,
}

impl PublicUrl {
    /// Reads `text`: https, or http for a loopback host (to try the service
    /// on one machine); no user, query or fragment.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let url = Url::parse(text).map_err(|e| format!("not a URL ({e}): {text}"))?;
        let host = url.host_str().unwrap_or_default();
        let loopback = host.eq_ignore_ascii_case("localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        let plain_http = match url.scheme() {
            "https" => false,
            "http" if loopback => true,
            "http" => {
                return Err(format!(
                    "not https: {text} (Telegram opens https pages only; http is taken for a loopback host)"
                ))
            }
            _ => return Err(format!("not an https URL: {text}")),
        };
        if host.is_empty() || !url.username().is_empty() || url.password().is_some() {
            return Err(format!("not an https address with a host and no user: {text}"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!("a query or fragment has no place in it: {text}"));
        }
        let origin = url.origin().ascii_serialization();
        let base = url.as_str().trim_end_matches('/').to_owned();
        Ok(Self {
            base,
            origin,
            plain_http,
        })
    }

    /// Whether it is `http://` on a loopback host.
    pub(crate) fn is_plain_http(&self) -> bool {
        self.plain_http
    }

    /// The origin a browser names in `Origin` for the service's own pages.
    pub(crate) fn origin(&self) -> &str {
        &self.origin
    }

    /// The applicant's page, which opens a new application.
    pub(crate) fn page(&self) -> String {
        format!("{}/", self.base)
    }

    /// The page of application `id`, where its applicant gets a fresh
    /// Telegram Passport link for it.
    pub(crate) fn application_page(&self, id: &str) -> String {
        format!("{}/#application={id}", self.base)
    }

    /// Where the user's Telegram app returns to after request `tag` of
    /// application `id` (with `tg_passport=success`, `cancel` or `error`
    /// appended by the app).
    pub(crate) fn callback(&self, id: &str, tag: &str) -> String {
        format!("{}/?application={id}&request={tag}", self.base)
    }

    /// Where Telegram delivers updates (`setWebhook`'s `url`).
    pub(crate) fn webhook(&self) -> String {
        format!("{}/telegram/webhook", self.base)
    }
}

#[cfg(test)]
mod tests {
    use super::PublicUrl;

    #[test]
    fn https_or_loopback_http_only() {
        let url = PublicUrl::parse("https://kyc.example.org/verify/").unwrap();
        assert_eq!(url.origin(), "https://kyc.example.org");
        assert_eq!(url.page(), "https://kyc.example.org/verify/");
        assert_eq!(url.webhook(), "https://kyc.example.org/verify/telegram/webhook");
        assert!(!url.is_plain_http());
        let local = PublicUrl::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(local.origin(), "http://127.0.0.1:8080");
        assert!(local.is_plain_http());
        for wrong in [
            "http://kyc.example.org",
            "ftp://kyc.example.org",
            "https://kyc.example.org/?a=b",
            "https://kyc.example.org/#x",
            "https://user@kyc.example.org",
            "kyc.example.org",
            "",
        ] {
            assert!(PublicUrl::parse(wrong).is_err(), "{wrong}");
        }
    }
}
