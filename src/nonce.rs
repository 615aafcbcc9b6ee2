//! Nonces and replay protection (PROTOCOL §2: "never accept credentials with
//! the same nonce twice"), and claims: one holder per submission.
//!
//! A [`NonceStore`] issues nonces with a time-to-live and consumes each at
//! most once, atomically. Each nonce carries the caller's context (a session
//! id, an application id) so a backend learns which request the data answers.
//!
//! A [`Claim`] makes one holder own a submission between "decrypted" and
//! "consumed"; its documentation states the invariants, which every store
//! keeps atomically (one lock in memory, one Lua script on Redis).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::Digest as _;

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

/// The stored form of a submission key: whatever the caller passes, the
/// store keeps 43 characters (URL-safe base64 of its SHA-256).
pub(crate) fn submission_digest(submission_key: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(submission_key.as_bytes()))
}

/// A nonce claimed for one submission: its context, for a bounded lease,
/// with the fencing token that [`NonceStore::consume_claimed`] and
/// [`NonceStore::release`] check. Made by [`NonceStore::claim`], which says
/// precisely which claims are the same.
///
/// Between decrypting a submission and consuming its nonce, a service with
/// several instances (each with its own disk) needs exactly one of them to
/// work on it. A claim gives it that, through the store they share:
///
/// - **One holder at a time.** A claim holds its nonce from when it is made
///   until it is consumed, released, or its lease ends; meanwhile every
///   other claim of the nonce fails with [`Error::NonceClaimed`], which says
///   how long until the lease ends.
/// - **Fencing.** Each new claim of a nonce gets a fencing token one higher
///   than the one before. [`consume_claimed`](NonceStore::consume_claimed)
///   and [`release`](NonceStore::release) check, atomically in the store,
///   that their claim is still the nonce's latest and was not released; a
///   holder whose lease ran out and whose nonce was claimed again gets
///   [`Error::ClaimLost`] and must undo what it stored. A claim whose lease
///   ran out but which nobody took over may still consume.
/// - **Idempotent retries.** The store remembers which claim consumed a
///   nonce, so a consume retried with the same claim (after a timeout that
///   in fact ran) gets the context again, and a release retried after it
///   ran succeeds again. A claim belongs to a holder (one per store value)
///   and to a submission key derived from the submission
///   ([`PassportData::submission_key`](crate::PassportData::submission_key)),
///   so the same holder claiming the same submission again, after the
///   answer was lost, gets the same claim back instead of "claimed".
///
/// ```
/// use std::time::Duration;
/// use telegram_passport::{Error, MemoryNonceStore, NonceStore};
///
/// let store = MemoryNonceStore::new();
/// let nonce = store.issue("application-17", Duration::from_secs(900))?;
/// let claim = store.claim(&nonce, "digest-of-the-submission", Duration::from_secs(30))?;
/// assert_eq!(claim.context(), "application-17");
/// // Anyone else, meanwhile: taken, with how long to wait.
/// let taken = store.claim(&nonce, "another-submission", Duration::from_secs(30));
/// assert!(matches!(taken, Err(Error::NonceClaimed { retry_after }) if retry_after <= Duration::from_secs(30)));
/// // … the outcome is stored durably, then:
/// assert_eq!(store.consume_claimed(&claim)?, "application-17");
/// assert_eq!(store.consume_claimed(&claim)?, "application-17", "a retry");
/// assert!(matches!(store.claim(&nonce, "another-submission", Duration::from_secs(30)), Err(Error::NonceReplayed)));
/// # Ok::<(), Error>(())
/// ```
///
/// While a `Claim` from one of this crate's stores is alive, that store
/// refuses other claims of its nonce even from the same holder; dropping
/// it (consuming or releasing ends that too) lets the holder claim the
/// same submission again and get this claim back while the lease lasts.
pub struct Claim {
    nonce: String,
    context: String,
    token: u64,
    holder: String,
    lease_ends: Instant,
    hold: Option<Hold>,
}

impl std::fmt::Debug for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claim")
            .field("nonce", &self.nonce)
            .field("context", &self.context)
            .field("token", &self.token)
            .field("holder", &self.holder)
            .field("lease_ends", &self.lease_ends)
            .finish()
    }
}

impl Claim {
    /// A claim as a [`NonceStore`] implementation outside this crate makes
    /// it: `token` is the nonce's fencing token for this claim, `holder`
    /// the store's holder id, `lease_ends` when the lease ends on this
    /// machine's clock (no later than in the store). Such a claim is not
    /// kept alive in its holder: keeping a second handler in the same
    /// process from getting the same claim back is up to that store.
    pub fn new(
        nonce: impl Into<String>,
        context: impl Into<String>,
        token: u64,
        holder: impl Into<String>,
        lease_ends: Instant,
    ) -> Self {
        Self {
            nonce: nonce.into(),
            context: context.into(),
            token,
            holder: holder.into(),
            lease_ends,
            hold: None,
        }
    }

    /// This claim, alive for its holder until it is consumed, released or
    /// dropped.
    pub(crate) fn held(mut self, hold: Hold) -> Self {
        hold.lasts_until(self.lease_ends);
        self.hold = Some(hold);
        self
    }

    /// The nonce claimed.
    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// The nonce's context, as [`NonceStore::issue`] stored it.
    pub fn context(&self) -> &str {
        &self.context
    }

    /// The fencing token: higher for each new claim of the nonce.
    pub fn token(&self) -> u64 {
        self.token
    }

    /// The holder's id (random per `RedisNonceStore` value).
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// When the lease ends, on this machine's monotonic clock: measured from
    /// before the request was sent, so no later than the store's own end.
    /// Past it, another holder may claim the nonce and fence this claim out.
    pub fn lease_ends(&self) -> Instant {
        self.lease_ends
    }

    /// The lease left now (zero once it has ended).
    pub fn lease_left(&self) -> Duration {
        self.lease_ends.saturating_duration_since(Instant::now())
    }

    /// The claim no longer holds its nonce for this store's holder.
    pub(crate) fn let_go(&self) {
        if let Some(hold) = &self.hold {
            hold.end();
        }
    }
}

/// The wait until a lease of `lease` that ends at `lease_ends` is over,
/// seen at `now`: never more than the lease, though `now` may have been
/// read before the lease's own start (by a caller that waited for a lock).
pub(crate) fn retry_after(lease_ends: Instant, now: Instant, lease: Duration) -> Duration {
    lease_ends.saturating_duration_since(now).min(lease)
}

/// `result` of consuming or releasing `claim`: unless the store could not
/// answer, the claim no longer holds its nonce for its holder.
pub(crate) fn settled<T>(claim: &Claim, result: Result<T>) -> Result<T> {
    if !matches!(result, Err(Error::NonceStoreUnavailable(_) | Error::NonceStore(_))) {
        claim.let_go();
    }
    result
}

/// A holder: one store value. It keeps the claims it handed out that are
/// still alive, so that it never hands out one claim twice at once.
#[derive(Debug)]
pub(crate) struct Holder {
    id: String,
    held: Arc<Mutex<Held>>,
}

/// Nonce → the hold of a claim in flight or alive.
#[derive(Debug, Default)]
struct Held {
    claims: HashMap<String, HeldClaim>,
    serial: u64,
}

#[derive(Debug)]
struct HeldClaim {
    serial: u64,
    lease_ends: Instant,
    lease: Duration,
}

impl Holder {
    pub(crate) fn new(id: String) -> Self {
        Self {
            id,
            held: Arc::new(Mutex::new(Held::default())),
        }
    }

    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// Reserves `nonce` for one claim call of this holder, for at most
    /// `lease` from `now`; refused while a claim of this holder that is in
    /// flight or alive holds it and its lease lasts.
    pub(crate) fn hold(&self, nonce: &str, lease: Duration, now: Instant) -> Result<Hold> {
        let mut held = lock(&self.held);
        if let Some(claim) = held.claims.get(nonce) {
            if claim.lease_ends > now {
                return Err(Error::NonceClaimed {
                    retry_after: retry_after(claim.lease_ends, now, claim.lease),
                });
            }
        }
        held.serial += 1;
        let serial = held.serial;
        let lease_ends = now + lease;
        held.claims.insert(
            nonce.to_owned(),
            HeldClaim {
                serial,
                lease_ends,
                lease,
            },
        );
        Ok(Hold {
            held: Arc::clone(&self.held),
            nonce: nonce.to_owned(),
            serial,
        })
    }
}

fn lock(held: &Mutex<Held>) -> std::sync::MutexGuard<'_, Held> {
    held.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One claim call's or [`Claim`]'s reservation in its holder; dropping it
/// ends it.
pub(crate) struct Hold {
    held: Arc<Mutex<Held>>,
    nonce: String,
    serial: u64,
}

impl Hold {
    fn lasts_until(&self, lease_ends: Instant) {
        if let Some(claim) = lock(&self.held).claims.get_mut(&self.nonce) {
            if claim.serial == self.serial {
                claim.lease_ends = lease_ends;
            }
        }
    }

    fn end(&self) {
        let mut held = lock(&self.held);
        if held
            .claims
            .get(&self.nonce)
            .is_some_and(|claim| claim.serial == self.serial)
        {
            held.claims.remove(&self.nonce);
        }
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.end();
    }
}
