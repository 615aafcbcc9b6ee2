//! What every instance shares besides the nonce store (which keeps its own
//! connections): the application ledger and the per-client start counts,
//! in Redis (one server or a cluster) or in PostgreSQL.

mod in_postgres;
mod in_redis;

pub(crate) use self::in_postgres::SharedPostgres;
pub(crate) use self::in_redis::SharedRedis;

/// Where the shared state lives.
#[derive(Clone)]
pub(crate) enum Shared {
    Redis(SharedRedis),
    Postgres(SharedPostgres),
}

/// A failure to reach the shared state: the caller answers 503, and is
/// asked again.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Unreachable(#[source] pub(crate) Box<dyn std::error::Error + Send + Sync>);

impl From<redis::RedisError> for Unreachable {
    fn from(error: redis::RedisError) -> Self {
        Self(Box::new(error))
    }
}

impl Shared {
    /// What answers, in a few words ("Redis 7.0.15", "PostgreSQL 16.4"),
    /// asked without writing anything (for `--check`).
    pub(crate) async fn server(&self) -> Result<String, Unreachable> {
        match self {
            Self::Redis(redis) => {
                let info: String = redis.query(redis::cmd("INFO").arg("server")).await?;
                let version = info
                    .lines()
                    .find_map(|line| line.strip_prefix("redis_version:"))
                    .unwrap_or("(version not said)");
                Ok(format!("Redis {}", version.trim()))
            }
            Self::Postgres(postgres) => Ok(format!("PostgreSQL {}", postgres.version().await?)),
        }
    }
}
