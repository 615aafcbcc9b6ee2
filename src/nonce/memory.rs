//! The embedded [`NonceStore`]: in memory, thread-safe, bounded.
//!
//! Invariants: the map never holds more than `capacity` entries. An entry
//! is live until it expires or is consumed; after that it stays as a
//! tombstone for `retention`, so a replay or a late arrival gets its precise
//! error. An entry keeps its latest claim (token, holder, submission, lease
//! end) and the claims released, and is not a tombstone while an unconsumed
//! claim's lease lasts; every claim operation runs under the one lock.
//!
//! When room is needed, tombstones go first: consumed ones in the order
//! they were consumed, expired ones by a sweep of every tombstone (at most
//! once per `SWEEP_EVERY` issues, so that a full store costs about as much
//! per issue as an empty one). If that is not enough, the oldest-issued
//! entry that no unconsumed claim holds under a live lease goes. Two queues
//! find them (issue order, consumption order); sweeps drop from them what the
//! map no longer holds, so they stay as bounded as the map.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::nonce::{
    check_lease, check_ttl, generate_nonce, is_well_formed, retry_after, settled, submission_digest, Claim, Holder,
    NonceStore,
};

/// Operations between two full sweeps of stale tombstones.
const SWEEP_EVERY: u32 = 1024;

/// An in-memory [`NonceStore`] for a single process.
///
/// It holds at most `capacity` nonces and never refuses to issue for lack of
/// room while one of them is not claimed: when full, used and expired
/// nonces go first, then the oldest-issued live nonce that no claim holds
/// under a live lease (it is then unknown: a submission under it is
/// refused, and the user needs a new link). So a flood of issues from
/// anywhere cannot lock honest users out; it can only shorten how long an
/// unused link stays valid, to the time the flood takes to issue `capacity`
/// more. [`Error::NonceStoreFull`] comes only when every nonce held is
/// claimed under a live lease.
///
/// ```
/// use std::time::Duration;
/// use telegram_passport::{Error, MemoryNonceStore, NonceStore};
///
/// let store = MemoryNonceStore::new();
/// let nonce = store.issue("session-42", Duration::from_secs(600))?;
/// assert_eq!(store.consume(&nonce)?, "session-42");
/// assert!(matches!(store.consume(&nonce), Err(Error::NonceReplayed)));
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug)]
pub struct MemoryNonceStore {
    state: Mutex<State>,
    capacity: usize,
    retention: Duration,
    holder: Holder,
}

/// Numbers the memory stores of a process, each a holder of its own.
static STORES: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Default)]
struct State {
    entries: HashMap<Arc<str>, Entry>,
    /// The entries' nonces in issue order, and some no longer in `entries`.
    issued: VecDeque<Arc<str>>,
    /// Consumed nonces in the order they were consumed, likewise.
    consumed: VecDeque<Arc<str>>,
    since_sweep: u32,
    /// Issues since tombstones were last all swept to make room.
    since_room: u32,
}

#[derive(Debug)]
struct Entry {
    context: String,
    expires_at: Instant,
    consumed_at: Option<Instant>,
    /// Made at the first claim: most nonces are never claimed.
    claims: Option<Box<Claims>>,
}

/// A nonce's claims: the latest, and those released.
#[derive(Debug, Default)]
struct Claims {
    /// The latest claim's fencing token; 0 before the first claim.
    token: u64,
    holder: String,
    /// The digest of its submission key.
    submission: String,
    /// When its lease ends; `None` once released (or before the first).
    lease_ends: Option<Instant>,
    /// Its lease.
    lease: Duration,
    /// Whether it consumed the nonce.
    consumed: bool,
    /// Every claim released: (token, holder).
    released: Vec<(u64, String)>,
}

impl Claims {
    fn is_latest(&self, claim: &Claim) -> bool {
        self.token == claim.token() && self.holder == claim.holder()
    }
}

impl Entry {
    fn is_live(&self, now: Instant) -> bool {
        self.consumed_at.is_none() && now < self.expires_at
    }

    /// Live, or claimed for a lease that lasts.
    fn in_use(&self, now: Instant) -> bool {
        self.is_live(now) || (self.consumed_at.is_none() && self.lease_ends().is_some_and(|ends| now < ends))
    }

    /// When the entry is forgotten: `retention` after it stopped being live
    /// and its last lease ended.
    fn forget_at(&self, retention: Duration) -> Instant {
        let ended = self
            .lease_ends()
            .map_or(self.expires_at, |ends| ends.max(self.expires_at));
        self.consumed_at.unwrap_or(ended).min(ended) + retention
    }

    /// When the latest claim's lease ends, if it was not released.
    fn lease_ends(&self) -> Option<Instant> {
        self.claims.as_ref().and_then(|claims| claims.lease_ends)
    }
}

impl Default for MemoryNonceStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryNonceStore {
    /// A store for up to 100 000 nonces, remembering used and expired ones
    /// for an hour (while room lasts: see the type's docs).
    pub fn new() -> Self {
        Self::with_limits(100_000, Duration::from_secs(3600))
    }

    /// A store for up to `capacity` nonces (live ones and tombstones),
    /// remembering used and expired nonces for `retention` (while room
    /// lasts: see the type's docs).
    pub fn with_limits(capacity: usize, retention: Duration) -> Self {
        Self {
            state: Mutex::new(State {
                since_room: SWEEP_EVERY,
                ..State::default()
            }),
            capacity: capacity.max(1),
            retention,
            holder: Holder::new(format!("memory-{}", STORES.fetch_add(1, Ordering::Relaxed))),
        }
    }

    /// Live (issued, unexpired, unconsumed) nonces.
    pub fn live(&self) -> usize {
        let now = Instant::now();
        self.lock().entries.values().filter(|e| e.is_live(now)).count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn issue_at(&self, context: &str, ttl: Duration, now: Instant) -> Result<String> {
        check_ttl(ttl)?;
        let nonce = generate_nonce()?;
        let mut state = self.lock();
        state.since_sweep += 1;
        state.since_room = state.since_room.saturating_add(1);
        if state.since_sweep >= SWEEP_EVERY {
            self.sweep(&mut state, now, false);
        }
        if state.entries.len() >= self.capacity && state.since_room >= SWEEP_EVERY {
            self.sweep(&mut state, now, true);
        }
        if state.entries.len() >= self.capacity && !Self::evict_oldest(&mut state, now) {
            return Err(Error::NonceStoreFull {
                capacity: self.capacity,
            });
        }
        let entry = Entry {
            context: context.to_owned(),
            expires_at: now + ttl,
            consumed_at: None,
            claims: None,
        };
        let key: Arc<str> = Arc::from(nonce.as_str());
        state.issued.push_back(Arc::clone(&key));
        state.entries.insert(key, entry);
        Ok(nonce)
    }

    /// Forgets the entry consumed first or, when none is left, the
    /// oldest-issued entry that no unconsumed claim holds under a live
    /// lease; false if every entry is held so.
    fn evict_oldest(state: &mut State, now: Instant) -> bool {
        while let Some(nonce) = state.consumed.pop_front() {
            if state.entries.remove(&nonce).is_some() {
                return true;
            }
        }
        for _ in 0..state.issued.len() {
            let Some(nonce) = state.issued.pop_front() else {
                return false;
            };
            match state.entries.get(&nonce) {
                None => {}
                Some(entry) if entry.consumed_at.is_none() && entry.lease_ends().is_some_and(|ends| now < ends) => {
                    state.issued.push_back(nonce);
                }
                Some(_) => {
                    state.entries.remove(&nonce);
                    return true;
                }
            }
        }
        false
    }

    pub(crate) fn consume_at(&self, nonce: &str, now: Instant) -> Result<String> {
        self.answer_at(nonce, now, true)
    }

    /// What `consume` would answer now; `consume` says whether to consume.
    fn answer_at(&self, nonce: &str, now: Instant, consume: bool) -> Result<String> {
        let mut state = self.lock();
        let entry = self.entry(&mut state, nonce, now)?;
        match entry.consumed_at {
            Some(_) => Err(Error::NonceReplayed),
            None if now >= entry.expires_at => Err(Error::NonceExpired),
            None => {
                let context = entry.context.clone();
                if consume {
                    entry.consumed_at = Some(now);
                    state.consumed.push_back(Arc::from(nonce));
                }
                Ok(context)
            }
        }
    }

    /// The entry of `nonce`, unless it was never issued or is forgotten.
    fn entry<'s>(&self, state: &'s mut State, nonce: &str, now: Instant) -> Result<&'s mut Entry> {
        if !is_well_formed(nonce) {
            return Err(Error::NonceUnknown);
        }
        let forgotten = |entry: &Entry| entry.forget_at(self.retention) <= now;
        if state.entries.get(nonce).is_some_and(forgotten) {
            state.entries.remove(nonce);
        }
        state.entries.get_mut(nonce).ok_or(Error::NonceUnknown)
    }

    pub(crate) fn claim_at(&self, nonce: &str, submission_key: &str, lease: Duration, now: Instant) -> Result<Claim> {
        check_lease(lease)?;
        if !is_well_formed(nonce) {
            return Err(Error::NonceUnknown);
        }
        let hold = self.holder.hold(nonce, lease, now)?;
        let submission = submission_digest(submission_key);
        let holder = self.holder.id();
        let mut state = self.lock();
        let entry = self.entry(&mut state, nonce, now)?;
        if entry.consumed_at.is_some() {
            return Err(Error::NonceReplayed);
        }
        let claims = entry.claims.get_or_insert_with(Box::default);
        if let Some(ends) = claims.lease_ends.filter(|&ends| now < ends) {
            if claims.holder == holder && claims.submission == submission {
                return Ok(Claim::new(nonce, &*entry.context, claims.token, holder, ends).held(hold));
            }
            if now < entry.expires_at {
                return Err(Error::NonceClaimed {
                    retry_after: retry_after(ends, now, claims.lease),
                });
            }
        }
        if now >= entry.expires_at {
            return Err(Error::NonceExpired);
        }
        claims.token += 1;
        claims.holder = holder.to_owned();
        claims.submission = submission;
        claims.lease_ends = Some(now + lease);
        claims.lease = lease;
        Ok(Claim::new(nonce, &*entry.context, claims.token, holder, now + lease).held(hold))
    }

    pub(crate) fn consume_claimed_at(&self, claim: &Claim, now: Instant) -> Result<String> {
        let mut state = self.lock();
        let result = self.entry(&mut state, claim.nonce(), now).and_then(|entry| {
            let Some(claims) = entry.claims.as_deref_mut() else {
                return Err(Error::ClaimLost);
            };
            if !claims.is_latest(claim) || (claims.lease_ends.is_none() && !claims.consumed) {
                return Err(Error::ClaimLost);
            }
            let first = !claims.consumed;
            if first {
                if entry.consumed_at.is_some() {
                    return Err(Error::NonceReplayed);
                }
                entry.consumed_at = Some(now);
                claims.consumed = true;
            }
            Ok((entry.context.clone(), first))
        });
        let result = result.map(|(context, first)| {
            if first {
                state.consumed.push_back(Arc::from(claim.nonce()));
            }
            context
        });
        settled(claim, result)
    }

    pub(crate) fn release_at(&self, claim: &Claim, now: Instant) -> Result<()> {
        let mut state = self.lock();
        let result = self.entry(&mut state, claim.nonce(), now).and_then(|entry| {
            let Some(claims) = entry.claims.as_deref_mut() else {
                return Err(Error::ClaimLost);
            };
            let released = (claim.token(), claim.holder().to_owned());
            if claims.is_latest(claim) {
                if entry.consumed_at.is_some() {
                    return Err(Error::NonceReplayed);
                }
                claims.lease_ends = None;
                if !claims.released.contains(&released) {
                    claims.released.push(released);
                }
                Ok(())
            } else if claims.released.contains(&released) {
                Ok(())
            } else {
                Err(Error::ClaimLost)
            }
        });
        settled(claim, result)
    }

    /// Drops forgotten tombstones; with `make_room`, every tombstone.
    fn sweep(&self, state: &mut State, now: Instant, make_room: bool) {
        state.since_sweep = 0;
        if make_room {
            state.since_room = 0;
        }
        let retention = self.retention;
        state.entries.retain(|_, entry| {
            let tombstone = !entry.in_use(now);
            !(tombstone && (make_room || entry.forget_at(retention) <= now))
        });
        let entries = &state.entries;
        state.issued.retain(|nonce| entries.contains_key(nonce));
        state.consumed.retain(|nonce| entries.contains_key(nonce));
    }
}

impl NonceStore for MemoryNonceStore {
    fn issue(&self, context: &str, ttl: Duration) -> Result<String> {
        self.issue_at(context, ttl, Instant::now())
    }

    fn consume(&self, nonce: &str) -> Result<String> {
        self.consume_at(nonce, Instant::now())
    }

    fn peek(&self, nonce: &str) -> Result<String> {
        self.answer_at(nonce, Instant::now(), false)
    }

    fn claim(&self, nonce: &str, submission_key: &str, lease: Duration) -> Result<Claim> {
        self.claim_at(nonce, submission_key, lease, Instant::now())
    }

    fn consume_claimed(&self, claim: &Claim) -> Result<String> {
        self.consume_claimed_at(claim, Instant::now())
    }

    fn release(&self, claim: &Claim) -> Result<()> {
        self.release_at(claim, Instant::now())
    }
}

/// Never blocks for more than a short lock, so the async API runs the
/// blocking one in place.
impl crate::nonce::AsyncNonceStore for MemoryNonceStore {
    async fn issue(&self, context: &str, ttl: Duration) -> Result<String> {
        NonceStore::issue(self, context, ttl)
    }

    async fn consume(&self, nonce: &str) -> Result<String> {
        NonceStore::consume(self, nonce)
    }

    async fn peek(&self, nonce: &str) -> Result<String> {
        NonceStore::peek(self, nonce)
    }

    async fn claim(&self, nonce: &str, submission_key: &str, lease: Duration) -> Result<Claim> {
        NonceStore::claim(self, nonce, submission_key, lease)
    }

    async fn consume_claimed(&self, claim: &Claim) -> Result<String> {
        NonceStore::consume_claimed(self, claim)
    }

    async fn release(&self, claim: &Claim) -> Result<()> {
        NonceStore::release(self, claim)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn consumed_once_with_its_context() {
        let store = MemoryNonceStore::new();
        let now = Instant::now();
        let nonce = store.issue_at("ctx", MINUTE, now).unwrap();
        assert_eq!(store.consume_at(&nonce, now).unwrap(), "ctx");
        assert!(matches!(store.consume_at(&nonce, now), Err(Error::NonceReplayed)));
        assert!(matches!(
            store.consume_at(&nonce, now + 2 * MINUTE),
            Err(Error::NonceReplayed)
        ));
    }

    #[test]
    fn unknown_expired_and_forgotten() {
        let store = MemoryNonceStore::with_limits(10, MINUTE);
        let now = Instant::now();
        assert!(matches!(
            store.consume_at("never-issued", now),
            Err(Error::NonceUnknown)
        ));
        assert!(matches!(store.consume_at("../../etc", now), Err(Error::NonceUnknown)));
        assert!(matches!(
            store.consume_at(&"a".repeat(500), now),
            Err(Error::NonceUnknown)
        ));
        let nonce = store.issue_at("ctx", MINUTE, now).unwrap();
        let just_before = now + MINUTE - Duration::from_millis(1);
        assert!(matches!(
            store.consume_at(&nonce, now + MINUTE),
            Err(Error::NonceExpired)
        ));
        assert!(matches!(
            store.consume_at(&nonce, now + 2 * MINUTE),
            Err(Error::NonceUnknown)
        ));
        let nonce = store.issue_at("ctx", MINUTE, now).unwrap();
        assert_eq!(store.consume_at(&nonce, just_before).unwrap(), "ctx");
    }

    #[test]
    fn when_full_tombstones_go_first_then_the_oldest_unclaimed() {
        let store = MemoryNonceStore::with_limits(3, MINUTE);
        let now = Instant::now();
        let [a, b, c] = ["a", "b", "c"].map(|context| store.issue_at(context, MINUTE, now).unwrap());
        // A consumed nonce goes first, though it is the newest.
        store.consume_at(&c, now).unwrap();
        let d = store.issue_at("d", MINUTE, now).unwrap();
        assert!(matches!(store.consume_at(&c, now), Err(Error::NonceUnknown)));
        // No tombstone left: the oldest-issued goes.
        let e = store.issue_at("e", MINUTE, now).unwrap();
        assert!(matches!(store.consume_at(&a, now), Err(Error::NonceUnknown)));
        // Claimed under a live lease: skipped, the next oldest goes.
        let claim = store.claim_at(&b, "submission", MINUTE, now).unwrap();
        let f = store.issue_at("f", MINUTE, now).unwrap();
        assert!(matches!(store.consume_at(&d, now), Err(Error::NonceUnknown)));
        // Every nonce claimed: nothing may go.
        let claims = [&e, &f].map(|nonce| store.claim_at(nonce, "submission", MINUTE, now).unwrap());
        let error = store.issue_at("g", MINUTE, now).unwrap_err();
        assert!(matches!(error, Error::NonceStoreFull { capacity: 3 }), "{error:?}");
        // Consumed through its claim, it is a tombstone again and goes first.
        assert_eq!(store.consume_claimed_at(&claim, now).unwrap(), "b");
        store.issue_at("g", MINUTE, now).unwrap();
        assert!(matches!(store.consume_at(&b, now), Err(Error::NonceUnknown)));
        for claim in &claims {
            assert!(store.consume_claimed_at(claim, now).is_ok());
        }
        assert_eq!(store.lock().entries.len(), 3);
    }

    #[test]
    fn expired_nonces_make_room_before_live_ones() {
        let store = MemoryNonceStore::with_limits(3, MINUTE);
        let now = Instant::now();
        for i in 0..2 {
            store.issue_at(&i.to_string(), Duration::from_secs(1), now).unwrap();
        }
        let live = store.issue_at("live", MINUTE, now).unwrap();
        let later = now + Duration::from_secs(2);
        store.issue_at("x", MINUTE, later).unwrap();
        store.issue_at("y", MINUTE, later).unwrap();
        assert_eq!(store.consume_at(&live, later).unwrap(), "live");
        assert_eq!(store.lock().entries.len(), 3);
    }

    /// However many nonces are issued, the map and both queues stay bounded.
    #[test]
    fn a_flood_of_issues_keeps_everything_bounded() {
        let capacity = 500;
        let store = MemoryNonceStore::with_limits(capacity, MINUTE);
        let now = Instant::now();
        for i in 0..20 * capacity {
            let nonce = store.issue_at("flood", MINUTE, now).unwrap();
            if i % 3 == 0 {
                store.consume_at(&nonce, now).unwrap();
            }
        }
        let state = store.lock();
        assert_eq!(state.entries.len(), capacity);
        let bound = capacity + SWEEP_EVERY as usize;
        assert!(state.issued.len() <= bound, "{}", state.issued.len());
        assert!(state.consumed.len() <= bound, "{}", state.consumed.len());
    }

    #[test]
    fn periodic_sweeps_forget_old_tombstones() {
        let store = MemoryNonceStore::with_limits(100_000, MINUTE);
        let now = Instant::now();
        for _ in 1..SWEEP_EVERY {
            store.issue_at("x", MINUTE, now).unwrap();
        }
        let later = now + 3 * MINUTE;
        store.issue_at("y", MINUTE, later).unwrap();
        assert_eq!(store.lock().entries.len(), 1);
    }

    #[test]
    fn one_claim_at_a_time_and_a_higher_token_after_the_lease() {
        let store = MemoryNonceStore::new();
        let now = Instant::now();
        let lease = Duration::from_secs(10);
        let nonce = store.issue_at("ctx", MINUTE, now).unwrap();
        let first = store.claim_at(&nonce, "a", lease, now).unwrap();
        assert_eq!((first.context(), first.token()), ("ctx", 1));
        let later = now + Duration::from_secs(4);
        match store.claim_at(&nonce, "b", lease, later) {
            Err(Error::NonceClaimed { retry_after }) => assert_eq!(retry_after, Duration::from_secs(6)),
            other => panic!("{other:?}"),
        }
        // The lease ended and nobody took over: the first may still consume…
        // but here another submission claims first, and fences it out.
        let after = now + lease;
        let second = store.claim_at(&nonce, "b", lease, after).unwrap();
        assert_eq!(second.token(), 2);
        assert!(matches!(store.consume_claimed_at(&first, after), Err(Error::ClaimLost)));
        assert!(matches!(store.release_at(&first, after), Err(Error::ClaimLost)));
        assert_eq!(store.consume_claimed_at(&second, after).unwrap(), "ctx");
        assert_eq!(store.consume_claimed_at(&second, after).unwrap(), "ctx");
        assert!(matches!(store.consume_claimed_at(&first, after), Err(Error::ClaimLost)));
        assert!(matches!(store.release_at(&second, after), Err(Error::NonceReplayed)));
        assert!(matches!(
            store.claim_at(&nonce, "b", lease, after),
            Err(Error::NonceReplayed)
        ));
        assert!(matches!(store.consume_at(&nonce, after), Err(Error::NonceReplayed)));
    }

    #[test]
    fn a_lapsed_claim_nobody_took_over_still_consumes_even_past_the_ttl() {
        let store = MemoryNonceStore::with_limits(10, MINUTE);
        let now = Instant::now();
        let nonce = store.issue_at("ctx", MINUTE, now).unwrap();
        let claim = store.claim_at(&nonce, "a", MINUTE, now + MINUTE / 2).unwrap();
        let past_ttl = now + MINUTE + Duration::from_secs(1);
        // While the claim is alive, this holder waits for it; once it is
        // gone (an answer lost), another submission gets "expired" and the
        // holder's own retry gets its claim back.
        assert!(matches!(
            store.claim_at(&nonce, "b", MINUTE, past_ttl),
            Err(Error::NonceClaimed { .. })
        ));
        let token = claim.token();
        drop(claim);
        assert!(matches!(
            store.claim_at(&nonce, "b", MINUTE, past_ttl),
            Err(Error::NonceExpired)
        ));
        let claim = store.claim_at(&nonce, "a", MINUTE, past_ttl).unwrap();
        assert_eq!(claim.token(), token);
        let past_lease = now + 2 * MINUTE;
        assert_eq!(store.consume_claimed_at(&claim, past_lease).unwrap(), "ctx");
        // Remembered for the retention after the lease ended, then forgotten.
        assert!(matches!(
            store.consume_at(&nonce, past_lease),
            Err(Error::NonceReplayed)
        ));
        assert!(matches!(
            store.consume_claimed_at(&claim, now + 4 * MINUTE),
            Err(Error::NonceUnknown)
        ));
    }

    #[test]
    fn the_same_holder_and_submission_get_the_claim_back_once_the_first_is_gone() {
        let store = MemoryNonceStore::new();
        let now = Instant::now();
        let nonce = store.issue_at("ctx", MINUTE, now).unwrap();
        let first = store.claim_at(&nonce, "a", MINUTE, now).unwrap();
        // Alive in this process: a second handler of the same submission waits.
        assert!(matches!(
            store.claim_at(&nonce, "a", MINUTE, now),
            Err(Error::NonceClaimed { .. })
        ));
        let (token, ends) = (first.token(), first.lease_ends());
        drop(first);
        let again = store
            .claim_at(&nonce, "a", MINUTE, now + Duration::from_secs(1))
            .unwrap();
        assert_eq!((again.token(), again.lease_ends()), (token, ends));
        store.release_at(&again, now).unwrap();
        let third = store.claim_at(&nonce, "a", MINUTE, now).unwrap();
        assert_eq!(third.token(), token + 1);
        // A retried release of the released claim still succeeds; its consume does not.
        store.release_at(&again, now).unwrap();
        assert!(matches!(store.consume_claimed_at(&again, now), Err(Error::ClaimLost)));
        assert_eq!(store.consume_claimed_at(&third, now).unwrap(), "ctx");
    }

    #[test]
    fn claims_fail_as_consume_does_and_leases_are_bounded() {
        let store = MemoryNonceStore::with_limits(10, MINUTE);
        let now = Instant::now();
        assert!(matches!(
            store.claim_at("never-issued", "a", MINUTE, now),
            Err(Error::NonceUnknown)
        ));
        assert!(matches!(
            store.claim_at("../x", "a", MINUTE, now),
            Err(Error::NonceUnknown)
        ));
        let nonce = store.issue_at("ctx", MINUTE, now).unwrap();
        assert!(matches!(
            store.claim_at(&nonce, "a", Duration::ZERO, now),
            Err(Error::InvalidLease { .. })
        ));
        assert!(matches!(
            store.claim_at(&nonce, "a", Duration::from_secs(3601), now),
            Err(Error::InvalidLease { .. })
        ));
        assert!(matches!(
            store.claim_at(&nonce, "a", MINUTE, now + MINUTE),
            Err(Error::NonceExpired)
        ));
        assert!(matches!(
            store.claim_at(&nonce, "a", MINUTE, now + 3 * MINUTE),
            Err(Error::NonceUnknown)
        ));
    }

    #[test]
    fn a_claimed_nonce_is_not_swept_to_make_room() {
        let store = MemoryNonceStore::with_limits(2, MINUTE);
        let now = Instant::now();
        let nonce = store.issue_at("ctx", Duration::from_secs(1), now).unwrap();
        let claim = store.claim_at(&nonce, "a", MINUTE, now).unwrap();
        let later = now + Duration::from_secs(2);
        let first = store.issue_at("1", MINUTE, later).unwrap();
        // Room is made from the unclaimed one, though it is newer.
        let second = store.issue_at("2", MINUTE, later).unwrap();
        assert!(matches!(store.consume_at(&first, later), Err(Error::NonceUnknown)));
        assert_eq!(store.consume_claimed_at(&claim, later).unwrap(), "ctx");
        assert_eq!(store.consume_at(&second, later).unwrap(), "2");
    }

    /// A caller that read the clock before another took the lock (and
    /// claimed) is never told to wait longer than the lease.
    #[test]
    fn the_wait_is_never_longer_than_the_lease() {
        let store = MemoryNonceStore::new();
        let (early, late) = (Instant::now(), Instant::now() + Duration::from_secs(1));
        let nonce = store.issue_at("ctx", MINUTE, early).unwrap();
        let claim = store.claim_at(&nonce, "a", MINUTE, late).unwrap();
        let waits = |result: Result<Claim>| match result {
            Err(Error::NonceClaimed { retry_after }) => retry_after,
            other => panic!("{other:?}"),
        };
        assert_eq!(waits(store.claim_at(&nonce, "b", MINUTE, early)), MINUTE, "held here");
        drop(claim);
        assert_eq!(
            waits(store.claim_at(&nonce, "b", MINUTE, early)),
            MINUTE,
            "in the store"
        );
    }

    #[test]
    fn ttl_must_be_sensible() {
        let store = MemoryNonceStore::new();
        assert!(store.issue("x", Duration::ZERO).is_err());
        assert!(store.issue("x", Duration::from_secs(31 * 24 * 3600)).is_err());
    }
}
