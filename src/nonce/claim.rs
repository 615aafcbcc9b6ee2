//! Claims: one holder per submission, fenced, with a bounded lease.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::Digest as _;

use crate::error::{Error, Result};
#[cfg(doc)]
use crate::nonce::NonceStore;

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
