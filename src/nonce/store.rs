//! The contract every nonce store keeps, blocking and async.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::nonce::Claim;

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

    /// Claims `nonce` for `lease` on behalf of the submission
    /// `submission_key`, and returns its context in a [`Claim`]: until the
    /// claim is consumed, released or its lease ends, no other claim of the
    /// nonce succeeds. The nonce must be live (issued, unexpired,
    /// unconsumed); [`peek`](NonceStore::peek) and
    /// [`consume`](NonceStore::consume) do not look at claims, so a service
    /// that claims a nonce consumes it only with
    /// [`consume_claimed`](NonceStore::consume_claimed).
    ///
    /// Fails with [`Error::NonceClaimed`] (with the time until the lease
    /// ends) while another claim holds the nonce; with
    /// [`Error::NonceUnknown`], [`Error::NonceExpired`] or
    /// [`Error::NonceReplayed`] as `consume` does; with
    /// [`Error::InvalidLease`] for a lease outside 1 ms to 1 hour; with
    /// [`Error::NonceStoreUnavailable`] if the store cannot be reached in
    /// time (then claim again: see below).
    ///
    /// **Which claim is "the same".** A claim belongs to a holder and a
    /// submission key. The holder is the store value (shared by its `Arc`
    /// clones; each `RedisNonceStore` has a random one, so each instance of
    /// a service is a holder of its own). The submission key names the
    /// submission, not the call: derive it from what was received, as
    /// [`PassportData::submission_key`](crate::PassportData::submission_key)
    /// does. While the lease lasts, a claim of the nonce by
    ///
    /// - another holder, or this holder for another submission key, fails
    ///   with [`Error::NonceClaimed`] (with [`Error::NonceExpired`] once the
    ///   nonce's time-to-live has passed: it can never be claimed again);
    /// - this holder for the same submission key, while a [`Claim`] this
    ///   store returned for the nonce is still alive (neither consumed,
    ///   released nor dropped), fails with [`Error::NonceClaimed`] too, so
    ///   that two handlers of one redelivered update in one instance do not
    ///   both work on it;
    /// - this holder for the same submission key, with no such [`Claim`]
    ///   alive (the answer to the first call was lost to a timeout, or the
    ///   `Claim` was dropped by a handler that failed), returns the same
    ///   claim again: the same fencing token and lease end.
    ///
    /// Once the lease has ended or the claim was released, the next claim
    /// of a live nonce, by anyone, is a new claim with the next fencing
    /// token.
    fn claim(&self, nonce: &str, submission_key: &str, lease: Duration) -> Result<Claim>;

    /// Consumes the nonce of `claim` and returns its context, if `claim`
    /// still holds it: if it is the nonce's latest claim and was not
    /// released. That holds even after its lease or the nonce's
    /// time-to-live ended, as long as no later claim was made.
    ///
    /// Idempotent: once `claim` consumed the nonce, consuming with it again
    /// (a retry after a timeout that had in fact run) returns the context
    /// again. Fails with [`Error::ClaimLost`] if the claim was released or a
    /// later claim was made (whether or not that one consumed the nonce):
    /// undo what was stored under this claim; with [`Error::NonceReplayed`]
    /// if the nonce was consumed by [`consume`](NonceStore::consume), not by
    /// a claim; with [`Error::NonceUnknown`] if the store has forgotten it;
    /// with [`Error::NonceStoreUnavailable`] if the store cannot be reached
    /// in time: then consume again with the same claim (a store with a
    /// server voids a request that reaches it after the caller gave up).
    fn consume_claimed(&self, claim: &Claim) -> Result<String>;

    /// Gives up `claim`, for a failure worth retrying: the next claim of
    /// the nonce succeeds at once, with the next fencing token, and
    /// `claim` can no longer consume it.
    ///
    /// Idempotent: releasing again, even after a later claim was made,
    /// succeeds. Fails with [`Error::ClaimLost`] if a later claim was made
    /// before this one was released (its lease had ended); with
    /// [`Error::NonceReplayed`] if the nonce was consumed (by this claim or
    /// otherwise: there is nothing left to release); with
    /// [`Error::NonceUnknown`] if the store has forgotten it; with
    /// [`Error::NonceStoreUnavailable`] as `consume_claimed` does.
    fn release(&self, claim: &Claim) -> Result<()>;
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

    fn claim(&self, nonce: &str, submission_key: &str, lease: Duration) -> Result<Claim> {
        (**self).claim(nonce, submission_key, lease)
    }

    fn consume_claimed(&self, claim: &Claim) -> Result<String> {
        (**self).consume_claimed(claim)
    }

    fn release(&self, claim: &Claim) -> Result<()> {
        (**self).release(claim)
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

    /// Claims `nonce` for `lease` on behalf of the submission
    /// `submission_key`; as [`NonceStore::claim`], whose documentation
    /// says which claims are the same. A claim whose future is dropped
    /// before it finished is not alive: claiming again gets it back.
    ///
    /// ```
    /// use std::time::Duration;
    /// use telegram_passport::{AsyncNonceStore, Error, MemoryNonceStore};
    ///
    /// # async fn run() -> Result<(), Error> {
    /// let store = MemoryNonceStore::new();
    /// let lease = Duration::from_secs(30);
    /// let nonce = AsyncNonceStore::issue(&store, "application-17", Duration::from_secs(900)).await?;
    /// let claim = AsyncNonceStore::claim(&store, &nonce, "submission-a", lease).await?;
    /// // A retryable failure: give the nonce up, and the next claim succeeds at once.
    /// AsyncNonceStore::release(&store, &claim).await?;
    /// let again = AsyncNonceStore::claim(&store, &nonce, "submission-a", lease).await?;
    /// assert_eq!(again.token(), claim.token() + 1);
    /// // The released claim is fenced out; the new one consumes.
    /// assert!(matches!(AsyncNonceStore::consume_claimed(&store, &claim).await, Err(Error::ClaimLost)));
    /// assert_eq!(AsyncNonceStore::consume_claimed(&store, &again).await?, "application-17");
    /// # Ok(())
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(run()).unwrap();
    /// ```
    fn claim(
        &self,
        nonce: &str,
        submission_key: &str,
        lease: Duration,
    ) -> impl std::future::Future<Output = Result<Claim>> + Send;

    /// Consumes the nonce of `claim` if it still holds it; as
    /// [`NonceStore::consume_claimed`].
    fn consume_claimed(&self, claim: &Claim) -> impl std::future::Future<Output = Result<String>> + Send;

    /// Gives up `claim`; as [`NonceStore::release`].
    fn release(&self, claim: &Claim) -> impl std::future::Future<Output = Result<()>> + Send;
}

/// Longest lease a claim may ask for.
const MAX_LEASE: Duration = Duration::from_secs(3600);

pub(crate) fn check_lease(lease: Duration) -> Result<()> {
    if lease.is_zero() || lease > MAX_LEASE {
        return Err(Error::InvalidLease { lease });
    }
    Ok(())
}
