//! A [`NonceStore`] on Redis, for services that run several instances.
//!
//! Atomic on the server: issuing is one Lua script (`SET NX PX` of the live
//! key plus a longer-lived "seen" marker), consuming is another (read and
//! delete the live key, mark the nonce consumed), so of any number of
//! concurrent consumers exactly one succeeds. Both keys of a nonce share a
//! hash tag, so the scripts also work on Redis Cluster.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::nonce::{check_ttl, generate_nonce, is_well_formed, NonceStore};

const ISSUE: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('SET', KEYS[2], 'issued', 'PX', ARGV[3])
  return 1
end
return 0
";

const CONSUME: &str = r"
local context = redis.call('GET', KEYS[1])
if context then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], 'consumed', 'PX', ARGV[1])
  return {1, context}
end
local seen = redis.call('GET', KEYS[2])
if seen == 'consumed' then return {2, ''} end
if seen then return {3, ''} end
return {0, ''}
";

/// Idle connections kept for reuse.
const POOL: usize = 16;

/// A [`NonceStore`] on a Redis server shared by every instance of a service.
///
/// ```no_run
/// use std::time::Duration;
/// use telegram_passport::{NonceStore, RedisNonceStore};
///
/// let store = RedisNonceStore::open("redis://127.0.0.1:6379/")?;
/// let nonce = store.issue("application-17", Duration::from_secs(900))?;
/// # Ok::<(), telegram_passport::Error>(())
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub struct RedisNonceStore {
    client: redis::Client,
    prefix: String,
    retention: Duration,
    idle: Mutex<Vec<redis::Connection>>,
    issue: redis::Script,
    consume: redis::Script,
}

impl std::fmt::Debug for RedisNonceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisNonceStore")
            .field("prefix", &self.prefix)
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

fn backend(error: redis::RedisError) -> Error {
    Error::NonceStore(error.to_string())
}

impl RedisNonceStore {
    /// A store on the server at `url` (`redis://[user:password@]host:port/db`),
    /// keys prefixed `telegram-passport:nonce`, used and expired nonces
    /// remembered for an hour. Connects on first use.
    pub fn open(url: &str) -> Result<Self> {
        let client = redis::Client::open(url).map_err(backend)?;
        Ok(Self {
            client,
            prefix: "telegram-passport:nonce".to_owned(),
            retention: Duration::from_secs(3600),
            idle: Mutex::new(Vec::new()),
            issue: redis::Script::new(ISSUE),
            consume: redis::Script::new(CONSUME),
        })
    }

    /// Uses another key prefix (to share a server between services).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Remembers used and expired nonces for `retention`, so that they get
    /// their precise error rather than "never issued".
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    fn keys(&self, nonce: &str) -> (String, String) {
        (
            format!("{}:{{{nonce}}}:live", self.prefix),
            format!("{}:{{{nonce}}}:seen", self.prefix),
        )
    }

    /// Runs `f` on a pooled connection; a connection that failed is dropped.
    fn with_connection<T>(&self, f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>) -> Result<T> {
        let pooled = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let mut connection = match pooled {
            Some(connection) => connection,
            None => self.client.get_connection().map_err(backend)?,
        };
        let result = f(&mut connection).map_err(backend)?;
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < POOL {
            idle.push(connection);
        }
        Ok(result)
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl NonceStore for RedisNonceStore {
    fn issue(&self, context: &str, ttl: Duration) -> Result<String> {
        check_ttl(ttl)?;
        // A 256-bit nonce never collides in practice; the loop only makes
        // the impossible case an error instead of an overwrite.
        for _ in 0..3 {
            let nonce = generate_nonce()?;
            let (live, seen) = self.keys(&nonce);
            let stored: i64 = self.with_connection(|connection| {
                self.issue
                    .key(&live)
                    .key(&seen)
                    .arg(context)
                    .arg(millis(ttl))
                    .arg(millis(ttl + self.retention))
                    .invoke(connection)
            })?;
            if stored == 1 {
                return Ok(nonce);
            }
        }
        Err(Error::NonceStore("could not store a fresh nonce".to_owned()))
    }

    fn consume(&self, nonce: &str) -> Result<String> {
        if !is_well_formed(nonce) {
            return Err(Error::NonceUnknown);
        }
        let (live, seen) = self.keys(nonce);
        let (status, context): (i64, String) = self.with_connection(|connection| {
            self.consume
                .key(&live)
                .key(&seen)
                .arg(millis(self.retention))
                .invoke(connection)
        })?;
        match status {
            1 => Ok(context),
            2 => Err(Error::NonceReplayed),
            3 => Err(Error::NonceExpired),
            _ => Err(Error::NonceUnknown),
        }
    }
}
