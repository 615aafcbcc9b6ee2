//! How many applications one client may open: at most `per_client` in each
//! `window`, counted in a fixed table of 65 536 counters, so a flood of
//! `/start` calls from any number of addresses costs the same memory as none.
//!
//! A client's counter is picked by a keyed hash (SHA-256, keyed with a key
//! derived from the webhook secret) of its address, or of its /64 for IPv6
//! (one subscriber usually holds a whole /64): every instance picks the same
//! counter, and nobody who lacks the secret can aim at another's counter.
//! In memory the table is 128 KiB in this process. On Redis it is one hash
//! per window (`kyc:starts:<window number>`, at most 65 536 fields, gone
//! after two windows) that every instance counts in, each start one atomic
//! increment-and-expire, so two instances allow no more than one. In
//! PostgreSQL it is one row per counter and window in `kyc_starts`, each
//! start one atomic upsert, rows of windows before the last removed a few
//! at a time as starts are counted.

use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest as _, Sha256};

use crate::shared::{Shared, SharedPostgres, SharedRedis, Unreachable};

const COUNTERS: usize = 1 << 16;

/// Counts a start in a window's hash and makes it expire; the new count.
const COUNT: &str = r"
local count = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
if redis.call('PTTL', KEYS[1]) < 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return count
";

pub(crate) struct StartLimiter {
    per_client: u16,
    window: Duration,
    key: [u8; 32],
    counts: Counts,
}

/// Counts a start in its window's row; the new count. Removes up to 16
/// rows of windows before the last.
const UPSERT: &str = "WITH gone AS (DELETE FROM kyc_starts WHERE (window_number, counter) IN (
    SELECT window_number, counter FROM kyc_starts WHERE window_number < $1 - 1 LIMIT 16 FOR UPDATE SKIP LOCKED))
  INSERT INTO kyc_starts (window_number, counter, count) VALUES ($1, $2, 1)
  ON CONFLICT (window_number, counter) DO UPDATE SET count = kyc_starts.count + 1
  RETURNING count::bigint";

enum Counts {
    Memory(Mutex<Window>),
    Redis { redis: SharedRedis },
    Postgres { postgres: SharedPostgres },
}

struct Window {
    started: Instant,
    counts: Box<[u16]>,
}

impl StartLimiter {
    /// `per_client` starts per `window`, counted in `shared` if there is
    /// one; `secret` keys the counters' hash (the same for every instance).
    pub(crate) fn new(per_client: u16, window: Duration, secret: &str, shared: Option<Shared>) -> Self {
        let key = Sha256::new()
            .chain_update(b"kyc_backend start limiter\0")
            .chain_update(secret.as_bytes())
            .finalize()
            .into();
        let counts = match shared {
            Some(Shared::Redis(redis)) => Counts::Redis { redis },
            Some(Shared::Postgres(postgres)) => Counts::Postgres { postgres },
            None => Counts::Memory(Mutex::new(Window {
                started: Instant::now(),
                counts: vec![0; COUNTERS].into_boxed_slice(),
            })),
        };
        Self {
            per_client,
            window,
            key,
            counts,
        }
    }

    /// Counts a start by `client`: false once it used up this window's, an
    /// error when the shared counts cannot be reached.
    pub(crate) async fn allow(&self, client: IpAddr) -> Result<bool, Unreachable> {
        let counter = self.counter(client);
        match &self.counts {
            Counts::Memory(state) => {
                let mut window = state.lock().unwrap_or_else(PoisonError::into_inner);
                if window.started.elapsed() >= self.window {
                    window.counts.fill(0);
                    window.started = Instant::now();
                }
                Ok(match window.counts.get_mut(usize::from(counter)) {
                    Some(count) if *count < self.per_client => {
                        *count += 1;
                        true
                    }
                    _ => false,
                })
            }
            Counts::Redis { redis } => {
                let key = format!("kyc:starts:{}", self.window_number());
                let expiry = (2 * self.window.as_millis().max(1)).to_string();
                let count: i64 = redis.script(COUNT, &[&key], &[&counter.to_string(), &expiry]).await?;
                Ok(count <= i64::from(self.per_client))
            }
            Counts::Postgres { postgres } => {
                let window = i64::try_from(self.window_number()).unwrap_or(i64::MAX);
                let count = postgres.number(UPSERT, window, i32::from(counter)).await?;
                Ok(count <= i64::from(self.per_client))
            }
        }
    }

    /// The number of the window now, the same on every instance (by the
    /// wall clock).
    fn window_number(&self) -> u128 {
        let now_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        now_ms / self.window.as_millis().max(1)
    }

    /// The counter of `client`: its address, or its /64 for IPv6.
    fn counter(&self, client: IpAddr) -> u16 {
        let mut hash = Sha256::new().chain_update(self.key);
        hash = match client.to_canonical() {
            IpAddr::V4(v4) => hash.chain_update([4]).chain_update(v4.octets()),
            IpAddr::V6(v6) => hash.chain_update([6]).chain_update((v6.to_bits() >> 64).to_be_bytes()),
        };
        let [first, second, ..]: [u8; 32] = hash.finalize().into();
        u16::from_be_bytes([first, second])
    }
}
