//! What became of each application, shared by every instance: the one
//! state a delivery is answered from. Four facts are kept, each for a day
//! (longer than any link lives) unless said otherwise: an application was
//! **opened** (when, kept a week so that a link to an expired application
//! can say so), an application was **stored** (by whichever instance; kept
//! a week, as long as its page can be asked about it), the
//! user was **told** about the submission that carried a nonce (what to
//! fix, or to start again), and what an application's applicant was **last
//! told** (the message's text, as the bot sent it, and which request it
//! was about). Together with the nonce's claim the second and third make
//! every delivery's answer the same: a submission for a stored application
//! changes nothing; a submission already told about is not told again.
//! The first lets any instance hand out a fresh request for an
//! application it did not open; the second and the last are what the
//! applicant's page shows: outcomes and the service's own words, never
//! anything the applicant sent.
//!
//! In Redis (one key per fact, `kyc:ledger:…`), in PostgreSQL (one row
//! per fact in `kyc_ledger`, the same keys; rows past their time removed a
//! few at a time as facts are recorded), or in this process (bounded: the
//! oldest facts go first).

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::shared::{Shared, SharedPostgres, SharedRedis, Unreachable};

/// How long a fact is kept.
const KEPT: Duration = Duration::from_secs(24 * 3600);
/// How long an application's opening is remembered: longer than it stays open.
const OPENED_KEPT: Duration = Duration::from_secs(7 * 24 * 3600);
/// Facts kept in memory at most.
const CAPACITY: usize = 200_000;

/// A fact about an application.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Fact<'a> {
    /// The application with this id was opened (recorded with the Unix
    /// time, in seconds).
    Opened(&'a str),
    /// The application with this id is stored.
    Stored(&'a str),
    /// The user was told about the submission that carried this nonce.
    Told(&'a str),
    /// The applicant of the application with this id was last told this
    /// (the value recorded with it).
    LastTold(&'a str),
}

impl Fact<'_> {
    fn key(self) -> String {
        match self {
            Self::Opened(application) => format!("kyc:ledger:opened:{application}"),
            Self::Stored(application) => format!("kyc:ledger:stored:{application}"),
            Self::Told(nonce) => format!("kyc:ledger:told:{nonce}"),
            Self::LastTold(application) => format!("kyc:ledger:last-told:{application}"),
        }
    }

    /// How long the fact is kept.
    fn kept(self) -> Duration {
        match self {
            // What the page says of an application outlives its links.
            Self::Opened(_) | Self::Stored(_) => OPENED_KEPT,
            Self::Told(_) | Self::LastTold(_) => KEPT,
        }
    }
}

/// A failure to reach the ledger: the delivery is retried.
#[derive(Debug, thiserror::Error)]
#[error("the application ledger is unavailable: {0}")]
pub(crate) struct Unavailable(#[source] Unreachable);

impl From<redis::RedisError> for Unavailable {
    fn from(error: redis::RedisError) -> Self {
        Self(error.into())
    }
}

/// A fact's value, if it holds now.
const GET: &str = "SELECT value FROM kyc_ledger WHERE key = $1 AND until > clock_timestamp()";
/// Records a fact (replacing it) for `$3` seconds, and removes up to 16
/// facts past their time that no one else is removing.
const PUT: &str = "WITH gone AS (DELETE FROM kyc_ledger WHERE key IN (
    SELECT key FROM kyc_ledger WHERE until <= clock_timestamp() LIMIT 16 FOR UPDATE SKIP LOCKED))
  INSERT INTO kyc_ledger (key, value, until) VALUES ($1, $2, clock_timestamp() + $3 * interval '1 second')
  ON CONFLICT (key) DO UPDATE SET value = excluded.value, until = excluded.until";

/// Forgets a fact.
const FORGET: &str = "DELETE FROM kyc_ledger WHERE key = $1";

/// The facts, where the instances share them.
pub(crate) enum Ledger {
    Memory(Mutex<Facts>),
    Redis(SharedRedis),
    Postgres(SharedPostgres),
}

/// Facts in this process, oldest first, each with its value and expiry.
#[derive(Default)]
pub(crate) struct Facts {
    until: HashMap<String, (Instant, String)>,
    order: VecDeque<(Instant, String)>,
}

impl Ledger {
    /// A ledger in this process.
    pub(crate) fn in_memory() -> Self {
        Self::Memory(Mutex::new(Facts::default()))
    }

    /// The ledger in `shared`, or in this process without.
    pub(crate) fn on(shared: Option<Shared>) -> Self {
        match shared {
            Some(Shared::Redis(redis)) => Self::Redis(redis),
            Some(Shared::Postgres(postgres)) => Self::Postgres(postgres),
            None => Self::in_memory(),
        }
    }

    /// Whether `fact` holds.
    pub(crate) async fn holds(&self, fact: Fact<'_>) -> Result<bool, Unavailable> {
        Ok(self.value(fact).await?.is_some())
    }

    /// The value `fact` was recorded with, if it holds.
    pub(crate) async fn value(&self, fact: Fact<'_>) -> Result<Option<String>, Unavailable> {
        let key = fact.key();
        match self {
            Self::Memory(facts) => {
                let facts = facts.lock().unwrap_or_else(PoisonError::into_inner);
                Ok(facts
                    .until
                    .get(&key)
                    .filter(|(until, _)| *until > Instant::now())
                    .map(|(_, value)| value.clone()))
            }
            Self::Redis(redis) => match redis.query::<Option<String>>(redis::cmd("GET").arg(&key)).await {
                Ok(value) => Ok(value),
                // Someone else's data under our key: say what it is, and
                // treat it as absent; recording the fact replaces it.
                Err(error) if error.code() == Some("WRONGTYPE") => {
                    tracing::error!(key, reason = %error, "unexpected data in the application ledger, treated as absent");
                    Ok(None)
                }
                Err(error) => Err(error.into()),
            },
            Self::Postgres(postgres) => postgres.text(GET, &key).await.map_err(Unavailable),
        }
    }

    /// Records `fact`.
    pub(crate) async fn record(&self, fact: Fact<'_>) -> Result<(), Unavailable> {
        self.record_with(fact, "1").await
    }

    /// Records `fact` with `value` (replacing any value it had).
    pub(crate) async fn record_with(&self, fact: Fact<'_>, value: &str) -> Result<(), Unavailable> {
        let (key, kept) = (fact.key(), fact.kept());
        match self {
            Self::Memory(facts) => {
                let mut facts = facts.lock().unwrap_or_else(PoisonError::into_inner);
                let now = Instant::now();
                while facts.order.front().is_some_and(|(until, _)| *until <= now) || facts.order.len() >= CAPACITY {
                    if let Some((until, old)) = facts.order.pop_front() {
                        // Only if not recorded again since.
                        if facts.until.get(&old).is_some_and(|(since, _)| *since == until) {
                            facts.until.remove(&old);
                        }
                    }
                }
                facts.until.insert(key.clone(), (now + kept, value.to_owned()));
                facts.order.push_back((now + kept, key));
                Ok(())
            }
            Self::Redis(redis) => {
                let mut command = redis::cmd("SET");
                command.arg(&key).arg(value).arg("EX").arg(kept.as_secs());
                Ok(redis.query::<()>(&command).await?)
            }
            Self::Postgres(postgres) => {
                let seconds = i64::try_from(kept.as_secs()).unwrap_or(i64::MAX);
                postgres.put(PUT, &key, value, seconds).await.map_err(Unavailable)
            }
        }
    }

    /// Forgets `fact` (an erased application's), wherever it is kept.
    pub(crate) async fn forget(&self, fact: Fact<'_>) -> Result<(), Unavailable> {
        let key = fact.key();
        match self {
            Self::Memory(facts) => {
                let mut facts = facts.lock().unwrap_or_else(PoisonError::into_inner);
                // Its place in `order` goes when its time comes: removed
                // only if recorded at that time, which it no longer is.
                facts.until.remove(&key);
                Ok(())
            }
            Self::Redis(redis) => Ok(redis.query::<()>(redis::cmd("DEL").arg(&key)).await?),
            Self::Postgres(postgres) => postgres.put_key(FORGET, &key).await.map_err(Unavailable),
        }
    }
}
