//! The one receive path. Whatever API carried a submission (the Bot API's
//! [`PassportData`], MTProto's [`SecureValuesSentMe`]), it is opened here,
//! in two steps:
//!
//! 1. [`open_credentials`]: every limit checked, once, before anything is
//!    decoded or decrypted; then the credentials decrypted. The nonce, and
//!    which elements were sent, are known from here on.
//! 2. [`Opened::decrypt`]: the nonce checked, then every element's data
//!    decrypted, verified and decoded against the credentials, the files
//!    paired with theirs.
//!
//! [`decrypt`] is both steps in one call, the common case.

use crate::audit;
use crate::element_type::ElementType;
use crate::error::Result;
use crate::input::bot_api::{EncryptedCredentials, PassportData};
use crate::input::limits::{check, Limits};
use crate::input::mtproto::{SecureCredentialsEncrypted, SecureValuesSentMe};
use crate::input::received::{Bytes, Received, ReceivedCredentials, ReceivedElement};
use crate::key::CredentialsKey;
use crate::nonce::AsyncNonceStore;
use crate::open::credentials::{Credentials, NonceCheck};
use crate::open::passport::{assemble, DecryptedPassport};

/// What a user's app sends, in either wire form: the Bot API's
/// [`PassportData`] or MTProto's
/// [`SecureValuesSentMe`](crate::mtproto::SecureValuesSentMe). Every
/// receive call takes either.
pub trait Submission: private::Receive {}

impl Submission for PassportData {}
impl Submission for SecureValuesSentMe {}

#[allow(private_interfaces, reason = "sealed: the internal form never leaves the crate")]
pub(crate) mod private {
    use crate::input::received::Received;

    /// The internal form of a submission. Sealed: only this crate's wire
    /// forms implement it.
    #[allow(unreachable_pub, reason = "sealed: reachable as a supertrait, never nameable")]
    pub trait Receive {
        /// The internal form, borrowing from this one.
        fn received(&self) -> Received<'_>;
    }

    impl Receive for crate::input::bot_api::PassportData {
        fn received(&self) -> Received<'_> {
            self.received()
        }
    }

    impl Receive for crate::input::mtproto::SecureValuesSentMe {
        fn received(&self) -> Received<'_> {
            self.received()
        }
    }
}

/// Decrypts, verifies and decodes a whole submission: a [`PassportData`]
/// or an MTProto [`SecureValuesSentMe`](crate::mtproto::SecureValuesSentMe).
///
/// ```
/// use telegram_passport::{client::PassportBuilder, decrypt, NonceCheck, PrivateKey};
///
/// let key = PrivateKey::generate()?;
/// // What the user's app sends (here played by this crate's client side):
/// let sealed = PassportBuilder::new()
///     .phone_number("4512345678")
///     .seal(&key.public_key(), "request-42")?;
///
/// let passport = decrypt(&key, &sealed.passport_data, NonceCheck::Expect("request-42"))?;
/// assert_eq!(passport.phone_number(), Some("4512345678"));
/// # Ok::<(), telegram_passport::Error>(())
/// ```
pub fn decrypt(
    key: &(impl CredentialsKey + ?Sized),
    submission: &impl Submission,
    nonce: NonceCheck<'_>,
) -> Result<DecryptedPassport> {
    decrypt_with_limits(key, submission, nonce, &Limits::default())
}

/// [`decrypt`] with other [`Limits`] than the defaults.
pub fn decrypt_with_limits(
    key: &(impl CredentialsKey + ?Sized),
    submission: &impl Submission,
    nonce: NonceCheck<'_>,
    limits: &Limits,
) -> Result<DecryptedPassport> {
    open_credentials(key, submission, limits)?.decrypt(nonce)
}

/// [`decrypt`] for async handlers: decrypts and verifies everything, then
/// consumes the nonce from an [`AsyncNonceStore`] without blocking the
/// executor; the nonce's context comes back in
/// [`DecryptedPassport::context`]. As with [`NonceCheck::Consume`], the
/// nonce is consumed only once everything else succeeded.
///
/// Decryption itself is CPU work (an RSA-2048 private-key operation, about
/// a quarter of a millisecond with the default backend): run this on a
/// blocking-friendly thread if that matters to your server.
///
/// ```
/// use std::time::Duration;
/// use telegram_passport::{client::PassportBuilder, decrypt_and_consume, AsyncNonceStore, MemoryNonceStore, PrivateKey};
///
/// # async fn run() -> Result<(), telegram_passport::Error> {
/// let key = PrivateKey::generate()?;
/// let store = MemoryNonceStore::new();
/// let nonce = AsyncNonceStore::issue(&store, "application-17", Duration::from_secs(900)).await?;
/// let sealed = PassportBuilder::new().email("a@example.org").seal(&key.public_key(), &nonce)?;
///
/// let passport = decrypt_and_consume(&key, &sealed.passport_data, &store).await?;
/// assert_eq!(passport.context(), Some("application-17"));
/// assert!(decrypt_and_consume(&key, &sealed.passport_data, &store).await.is_err()); // replayed
/// # Ok(())
/// # }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(run()).unwrap();
/// ```
pub async fn decrypt_and_consume(
    key: &(impl CredentialsKey + ?Sized),
    submission: &impl Submission,
    store: &impl AsyncNonceStore,
) -> Result<DecryptedPassport> {
    decrypt(key, submission, NonceCheck::Skip)?.consume_nonce(store).await
}

/// The first step: every limit checked, then the credentials decrypted.
/// What the credentials say (the nonce, which elements they hold secrets
/// for) and which elements were sent are known from here on; nothing of
/// an element is decrypted yet, and nothing is decrypted twice.
///
/// ```
/// use telegram_passport::{client::PassportBuilder, open_credentials, ElementType, Limits, NonceCheck, PrivateKey};
///
/// let key = PrivateKey::generate()?;
/// let sealed = PassportBuilder::new().email("a@example.org").seal(&key.public_key(), "request-42")?;
///
/// let opened = open_credentials(&key, &sealed.passport_data, &Limits::default())?;
/// assert_eq!(opened.nonce(), "request-42");
/// assert_eq!(opened.element_types().collect::<Vec<_>>(), [ElementType::Email]);
/// // Look the nonce up, claim it … then the elements:
/// let passport = opened.decrypt(NonceCheck::Skip)?;
/// assert_eq!(passport.email(), Some("a@example.org"));
/// # Ok::<(), telegram_passport::Error>(())
/// ```
pub fn open_credentials<'a>(
    key: &(impl CredentialsKey + ?Sized),
    submission: &'a impl Submission,
    limits: &Limits,
) -> Result<Opened<'a>> {
    let received = private::Receive::received(submission);
    let _span = audit::received(received.api, received.elements.len());
    let opened = open_checked(key, received, limits);
    if let Err(error) = &opened {
        audit::failed(error);
    }
    opened
}

fn open_checked<'a>(
    key: &(impl CredentialsKey + ?Sized),
    received: Received<'a>,
    limits: &Limits,
) -> Result<Opened<'a>> {
    check_elements(&received.elements, limits)?;
    let credentials = decrypt_credentials(received.credentials, key, limits)?;
    Ok(Opened {
        api: received.api,
        credentials,
        elements: received.elements,
    })
}

/// A submission whose credentials are open ([`open_credentials`]); its
/// elements are decrypted by [`decrypt`](Opened::decrypt).
pub struct Opened<'a> {
    api: &'static str,
    credentials: Credentials,
    elements: Vec<ReceivedElement<'a>>,
}

impl Opened<'_> {
    /// The nonce the credentials carry: the request this submission answers.
    pub fn nonce(&self) -> &str {
        self.credentials.nonce()
    }

    /// The decrypted credentials: the nonce, and each element's secrets.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The credentials alone, for a caller that decrypts what it needs of
    /// them itself; the elements are not decrypted.
    pub fn into_credentials(self) -> Credentials {
        self.credentials
    }

    /// The types of the elements sent, in the order the app sent them.
    pub fn element_types(&self) -> impl Iterator<Item = ElementType> + '_ {
        self.elements.iter().map(|element| element.element_type)
    }

    /// The second step: the nonce checked, then every element decrypted,
    /// verified and decoded against the credentials, the nonce consumed
    /// last if `nonce` says so (a failure burns no request).
    pub fn decrypt(self, nonce: NonceCheck<'_>) -> Result<DecryptedPassport> {
        let _span = audit::resumed(self.api, self.elements.len());
        let opened = assemble(self.credentials, self.elements.into_iter(), nonce);
        if let Err(error) = &opened {
            audit::failed(error);
        }
        opened
    }
}

impl std::fmt::Debug for Opened<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("api", &self.api)
            .field("elements", &self.elements.len())
            .finish_non_exhaustive()
    }
}

/// The elements' limits: how many, and each one's data and file lists,
/// checked before any of them is decoded or decrypted.
fn check_elements(elements: &[ReceivedElement<'_>], limits: &Limits) -> Result<()> {
    check(|| "passport.data".to_owned(), elements.len(), limits.elements)?;
    for element in elements {
        let name = element.element_type;
        let data = element.data.map_or(0, Bytes::len);
        check(|| format!("{name}.data"), data, limits.element_data)?;
        for (list, part) in [(&element.files, "files"), (&element.translation, "translation")] {
            check(|| format!("{name}.{part}"), list.len(), limits.files_per_element)?;
        }
    }
    Ok(())
}

/// Checks the credentials' limits, RSA-decrypts the secret, then decrypts
/// and verifies the credentials.
fn decrypt_credentials(
    credentials: ReceivedCredentials<'_>,
    key: &(impl CredentialsKey + ?Sized),
    limits: &Limits,
) -> Result<Credentials> {
    check(
        || "credentials.data".to_owned(),
        credentials.data.len(),
        limits.credentials,
    )?;
    check(
        || "credentials.secret".to_owned(),
        credentials.secret.len(),
        limits.credentials,
    )?;
    let secret = credentials.secret.decode("credentials.secret")?;
    let hash = credentials.hash.hash("credentials.hash")?;
    let data = credentials.data.decode("credentials.data")?;
    Credentials::decrypt(key, &secret, data, &hash, limits)
}

impl EncryptedCredentials {
    /// RSA-decrypts the secret, then decrypts and verifies the credentials:
    /// the first step of the receive path for a caller that holds the
    /// credentials alone ([`open_credentials`] keeps the elements for the
    /// second).
    pub fn decrypt(&self, key: &(impl CredentialsKey + ?Sized)) -> Result<Credentials> {
        decrypt_credentials(self.received(), key, &Limits::default())
    }

    /// [`EncryptedCredentials::decrypt`] with other [`Limits`] than the
    /// defaults; the file credentials inside carry `limits.file`.
    pub fn decrypt_with_limits(&self, key: &(impl CredentialsKey + ?Sized), limits: &Limits) -> Result<Credentials> {
        decrypt_credentials(self.received(), key, limits)
    }
}

impl SecureCredentialsEncrypted {
    /// RSA-decrypts the secret, then decrypts and verifies the credentials,
    /// as [`EncryptedCredentials::decrypt`] does.
    pub fn decrypt(&self, key: &(impl CredentialsKey + ?Sized)) -> Result<Credentials> {
        decrypt_credentials(self.received(), key, &Limits::default())
    }

    /// [`SecureCredentialsEncrypted::decrypt`] with other [`Limits`] than
    /// the defaults; the file credentials inside carry `limits.file`.
    pub fn decrypt_with_limits(&self, key: &(impl CredentialsKey + ?Sized), limits: &Limits) -> Result<Credentials> {
        decrypt_credentials(self.received(), key, limits)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

    use super::*;
    use crate::client::PassportBuilder;
    use crate::key::PrivateKey;

    /// The first step tells the nonce and the element types, in the order
    /// sent, whichever wire form carried them; its `Debug` shows no secret.
    #[test]
    fn the_first_step_tells_the_nonce_and_the_elements_of_either_form() {
        let key = PrivateKey::generate().unwrap();
        let sealed = PassportBuilder::new()
            .phone_number("4512345678")
            .email("a@example.org")
            .seal(&key.public_key(), "request-42")
            .unwrap();
        let by_bot_api = open_credentials(&key, &sealed.passport_data, &Limits::default()).unwrap();
        let by_mtproto = open_credentials(&key, &sealed.mtproto, &Limits::default()).unwrap();
        for opened in [&by_bot_api, &by_mtproto] {
            assert_eq!(opened.nonce(), "request-42");
            assert_eq!(
                opened.element_types().collect::<Vec<_>>(),
                [ElementType::PhoneNumber, ElementType::Email]
            );
            assert_eq!(opened.credentials().nonce(), "request-42");
        }
        assert_eq!(
            format!("{by_bot_api:?}"),
            r#"Opened { api: "bot_api", elements: 2, .. }"#
        );
        assert_eq!(
            format!("{by_mtproto:?}"),
            r#"Opened { api: "mtproto", elements: 2, .. }"#
        );
        let passport = by_mtproto.decrypt(NonceCheck::Expect("request-42")).unwrap();
        assert_eq!(passport.email(), Some("a@example.org"));
    }

    /// Both wire forms of one submission have the same key, and another
    /// submission another.
    #[test]
    fn both_forms_of_a_submission_have_one_key() {
        let key = PrivateKey::generate().unwrap();
        let seal = || {
            PassportBuilder::new()
                .email("a@example.org")
                .seal(&key.public_key(), "n")
                .unwrap()
        };
        let (one, other) = (seal(), seal());
        let key_of = |sealed: &crate::client::SealedPassport| {
            (
                sealed.passport_data.credentials.submission_key(),
                sealed.mtproto.credentials.submission_key(),
            )
        };
        let (bot_api, mtproto) = key_of(&one);
        assert_eq!(bot_api, mtproto);
        assert_eq!(bot_api.len(), 43);
        assert_ne!(key_of(&other).1, mtproto);
    }
}
