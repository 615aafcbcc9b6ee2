//! Nonces and replay protection (PROTOCOL §2: "never accept credentials with
//! the same nonce twice").
//!
//! A [`NonceStore`] issues nonces with a time-to-live and consumes each at
//! most once, atomically. Each nonce carries the caller's context (a session
//! id, an application id) so a backend learns which request the data answers.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::error::{Error, Result};
use crate::secret::fill_random;

/// Random bytes in a nonce: 256 bits.
const NONCE_BYTES: usize = 32;
/// Longest nonce a store looks up; anything longer was never issued here.
pub(crate) const MAX_NONCE_LEN: usize = 128;

/// A fresh nonce: 256 bits from the operating system's CSPRNG, as 43
/// URL-safe base64 characters.
///
/// ```
/// let nonce = telegram_passport::generate_nonce()?;
/// assert_eq!(nonce.len(), 43);
/// assert!(nonce.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
/// # Ok::<(), telegram_passport::Error>(())
/// ```
pub fn generate_nonce() -> Result<String> {
    let mut bytes = [0u8; NONCE_BYTES];
    fill_random(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Whether `nonce` could have been issued by [`generate_nonce`]; stores look
/// up nothing else, so attacker-chosen text never reaches their keys.
pub(crate) fn is_well_formed(nonce: &str) -> bool {
    !nonce.is_empty()
        && nonce.len() <= MAX_NONCE_LEN
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Issues nonces and consumes each exactly once.
///
/// Implementations must make [`consume`](NonceStore::consume) atomic: of any
/// number of concurrent consumers of one nonce, exactly one succeeds.
pub trait NonceStore: Send + Sync {
    /// Issues a fresh nonce, valid for `ttl`, remembering `context`.
    fn issue(&self, context: &str, ttl: Duration) -> Result<String>;

    /// Consumes `nonce` and returns its context. Fails with
    /// [`Error::NonceUnknown`], [`Error::NonceExpired`] or
    /// [`Error::NonceReplayed`] (already consumed).
    fn consume(&self, nonce: &str) -> Result<String>;

    /// The context of `nonce` if [`consume`](NonceStore::consume) would
    /// accept it now, consuming nothing; fails as `consume` does. For
    /// services that consume a nonce only once its submission is durably
    /// stored, so that a failure on the way leaves it retryable.
    fn peek(&self, nonce: &str) -> Result<String>;
}

impl<T: NonceStore + ?Sized> NonceStore for std::sync::Arc<T> {
    fn issue(&self, context: &str, ttl: Duration) -> Result<String> {
        (**self).issue(context, ttl)
    }

    fn consume(&self, nonce: &str) -> Result<String> {
        (**self).consume(nonce)
    }

    fn peek(&self, nonce: &str) -> Result<String> {
        (**self).peek(nonce)
    }
}

pub(crate) fn check_ttl(ttl: Duration) -> Result<()> {
    if ttl.is_zero() || ttl > Duration::from_secs(30 * 24 * 3600) {
        return Err(Error::InvalidTtl { ttl });
    }
    Ok(())
}

/// The asynchronous twin of [`NonceStore`], for handlers on an async
/// runtime (axum, actix, teloxide): a store round trip never blocks the
/// executor. Same contract: issue with a time-to-live, consume each nonce
/// at most once, atomically.
///
/// ```
/// use std::time::Duration;
/// use telegram_passport::{AsyncNonceStore, MemoryNonceStore};
///
/// # async fn run() -> Result<(), telegram_passport::Error> {
/// let store = MemoryNonceStore::new();
/// let nonce = AsyncNonceStore::issue(&store, "application-17", Duration::from_secs(900)).await?;
/// assert_eq!(AsyncNonceStore::consume(&store, &nonce).await?, "application-17");
/// # Ok(())
/// # }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(run()).unwrap();
/// ```
pub trait AsyncNonceStore: Send + Sync {
    /// Issues a fresh nonce, valid for `ttl`, remembering `context`.
    fn issue(&self, context: &str, ttl: Duration) -> impl std::future::Future<Output = Result<String>> + Send;

    /// Consumes `nonce` and returns its context; fails as
    /// [`NonceStore::consume`] does.
    fn consume(&self, nonce: &str) -> impl std::future::Future<Output = Result<String>> + Send;

    /// The context of `nonce` if `consume` would accept it now, consuming
    /// nothing; as [`NonceStore::peek`].
    fn peek(&self, nonce: &str) -> impl std::future::Future<Output = Result<String>> + Send;
}
