//! The PostgreSQL every instance shares: two tables of its own beside the
//! nonce store's, created on first use (under an advisory lock, so that
//! instances starting together take turns). Each call is one statement,
//! atomic on its own; every statement has a timeout, and one that went out
//! on a connection a restart dropped is sent once more on another, so a
//! stalled or restarted server fails or recovers as the nonce store does.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection as _, PgPool};

use super::Unreachable;

/// Connect and statement timeouts, as the nonce store's.
const TIMEOUT: Duration = Duration::from_secs(2);

/// The service's tables: the ledger's facts and the start counts.
const SCHEMA: [&str; 3] = [
    "CREATE TABLE IF NOT EXISTS kyc_ledger (key text PRIMARY KEY, value text NOT NULL, until timestamptz NOT NULL)",
    "CREATE INDEX IF NOT EXISTS kyc_ledger_until ON kyc_ledger (until)",
    "CREATE TABLE IF NOT EXISTS kyc_starts (window_number bigint NOT NULL, counter int NOT NULL, count int NOT NULL,
       PRIMARY KEY (window_number, counter))",
];

/// The database at one URL, its pool made on first use.
#[derive(Clone)]
pub(crate) struct SharedPostgres {
    inner: std::sync::Arc<Inner>,
}

struct Inner {
    options: PgConnectOptions,
    pool: std::sync::OnceLock<PgPool>,
    schema: tokio::sync::OnceCell<()>,
}

impl SharedPostgres {
    /// The database at `url`; nothing is connected until first use.
    pub(crate) fn open(url: &str) -> Result<Self, sqlx::Error> {
        Ok(Self {
            inner: std::sync::Arc::new(Inner {
                options: url.parse()?,
                pool: std::sync::OnceLock::new(),
                schema: tokio::sync::OnceCell::new(),
            }),
        })
    }

    fn pool(&self) -> &PgPool {
        self.inner.pool.get_or_init(|| {
            PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(TIMEOUT)
                .test_before_acquire(true)
                .connect_lazy_with(self.inner.options.clone())
        })
    }

    /// The tables, made once.
    async fn ready(&self) -> Result<&PgPool, Unreachable> {
        let pool = self.pool();
        self.inner
            .schema
            .get_or_try_init(|| async {
                let made = tokio::time::timeout(TIMEOUT * 4, create(pool.clone())).await;
                made.map_err(|_| timed_out())?.map_err(unreachable)
            })
            .await?;
        Ok(pool)
    }

    /// The server's version, asked without making the tables (for
    /// `--check`).
    pub(crate) async fn version(&self) -> Result<String, Unreachable> {
        // A connection of its own: a pool's error would hide why it failed.
        let asked = async {
            let mut connection = sqlx::PgConnection::connect_with(&self.inner.options).await?;
            let version = sqlx::query_scalar::<_, String>("SHOW server_version")
                .fetch_one(&mut connection)
                .await?;
            connection.close().await?;
            Ok::<_, sqlx::Error>(version)
        };
        match tokio::time::timeout(TIMEOUT * 2, asked).await {
            Ok(answered) => answered.map_err(unreachable),
            Err(_) => Err(timed_out()),
        }
    }

    /// The text `sql` (one parameter: `key`) answers, if any.
    pub(crate) async fn text(&self, sql: &'static str, key: &str) -> Result<Option<String>, Unreachable> {
        let pool = self.ready().await?;
        twice(|| {
            sqlx::query_scalar::<_, String>(sql)
                .bind(key.to_owned())
                .fetch_optional(pool)
        })
        .await
    }

    /// Runs `sql` with `key`, `value` and a number of `seconds`.
    pub(crate) async fn put(&self, sql: &'static str, key: &str, value: &str, seconds: i64) -> Result<(), Unreachable> {
        let pool = self.ready().await?;
        let run = || {
            sqlx::query(sql)
                .bind(key.to_owned())
                .bind(value.to_owned())
                .bind(seconds)
                .execute(pool)
        };
        twice(run).await.map(drop)
    }

    /// Runs `sql` with `key` alone.
    pub(crate) async fn put_key(&self, sql: &'static str, key: &str) -> Result<(), Unreachable> {
        let pool = self.ready().await?;
        twice(|| sqlx::query(sql).bind(key.to_owned()).execute(pool))
            .await
            .map(drop)
    }

    /// The number `sql` (two parameters) answers.
    pub(crate) async fn number(&self, sql: &'static str, first: i64, second: i32) -> Result<i64, Unreachable> {
        let pool = self.ready().await?;
        twice(|| {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(first)
                .bind(second)
                .fetch_one(pool)
        })
        .await
    }
}

/// `statement` within the timeout, and once more if its connection was
/// found dropped (a restart); a timeout is not repeated.
async fn twice<T, F: std::future::Future<Output = sqlx::Result<T>>>(
    statement: impl Fn() -> F,
) -> Result<T, Unreachable> {
    for _ in 0..2 {
        match tokio::time::timeout(TIMEOUT, statement()).await {
            Err(_) => return Err(timed_out()),
            Ok(Err(error)) if dropped(&error) => continue,
            Ok(result) => return result.map_err(unreachable),
        }
    }
    Err(Unreachable("the connection was dropped twice".into()))
}

fn dropped(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(error) => error
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
        _ => false,
    }
}

fn unreachable(error: sqlx::Error) -> Unreachable {
    Unreachable(Box::new(error))
}

fn timed_out() -> Unreachable {
    Unreachable("PostgreSQL did not answer in time".into())
}

/// Creates the tables, in one transaction under an advisory lock.
async fn create(pool: PgPool) -> sqlx::Result<()> {
    let mut transaction = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('kyc_backend schema'))")
        .execute(&mut *transaction)
        .await?;
    for statement in SCHEMA {
        sqlx::query(statement).execute(&mut *transaction).await?;
    }
    transaction.commit().await
}
