//! Nonces and replay protection (PROTOCOL §2: "never accept credentials with
//! the same nonce twice"), and claims: one holder per submission.
//!
//! A [`NonceStore`] issues nonces with a time-to-live and consumes each at
//! most once, atomically. Each nonce carries the caller's context (a session
//! id, an application id) so a backend learns which request the data answers.
//!
//! A [`Claim`] makes one holder own a submission between "decrypted" and
//! "consumed"; its documentation states the invariants, which every store
//! keeps atomically (one lock in memory, one Lua script on Redis, one
//! function holding the nonce's row lock on PostgreSQL).
//!
//! The rooms: `generate` makes nonces, `store` is the stores' contract,
//! `claim` the claims, `memory`, `redis` and `postgres` the three stores, and
//! `answer` what the two with a server answer.

#[cfg(any(feature = "redis", feature = "postgres"))]
mod answer;
mod claim;
mod generate;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "redis")]
mod redis;
mod store;

pub use self::claim::Claim;
#[cfg(any(feature = "redis", feature = "postgres"))]
pub(crate) use self::claim::Hold;
pub(crate) use self::claim::{retry_after, settled, submission_digest, Holder};
pub use self::generate::generate_nonce;
pub(crate) use self::generate::is_well_formed;
pub use self::memory::MemoryNonceStore;
#[cfg(feature = "postgres")]
pub use self::postgres::PostgresNonceStore;
#[cfg(feature = "redis")]
pub use self::redis::RedisNonceStore;
pub(crate) use self::store::{check_lease, check_ttl};
pub use self::store::{AsyncNonceStore, NonceStore};
