//! Calls to the server and the one retry policy: each call on a pooled
//! connection, its deadline read from the server's clock first; a
//! connection found dropped (a restart, a failover) replaced and the call
//! made once more; and what a failure means for the caller.

use std::time::Duration;

use std::future::Future;
use std::pin::Pin;

use sqlx::{PgConnection, PgPool, Row as _};

use super::schema::{self, DEADLINE, VERSION};
use crate::error::{Error, Result};

/// One operation of the store, with its arguments.
pub(super) enum Call<'a> {
    Issue {
        nonce: &'a str,
        context: &'a str,
        ttl_ms: i64,
        retention_ms: i64,
    },
    Consume {
        nonce: &'a str,
        token: &'a str,
        retention_ms: i64,
    },
    Peek {
        nonce: &'a str,
    },
    Claim {
        nonce: &'a str,
        holder: &'a str,
        submission: &'a str,
        lease_ms: i64,
        retention_ms: i64,
    },
    ConsumeClaimed {
        nonce: &'a str,
        token: i64,
        holder: &'a str,
        retention_ms: i64,
    },
    Release {
        nonce: &'a str,
        token: i64,
        holder: &'a str,
    },
}

/// A function's answer (`nonce::answer` reads it); an issue's is status 1
/// when the nonce was stored.
pub(super) struct Answer {
    pub(super) status: i64,
    pub(super) context: String,
    pub(super) token: i64,
    pub(super) left_ms: i64,
}

/// The statements that call the functions of one table.
pub(super) struct Statements {
    issue: String,
    consume: String,
    peek: String,
    claim: String,
    consume_claimed: String,
    release: String,
}

impl Statements {
    pub(super) fn of(table: &str) -> Self {
        let call = |function: &str, arguments: usize| {
            let placeholders: Vec<String> = (1..=arguments).map(|n| format!("${n}")).collect();
            format!(
                "SELECT status::bigint, context, token, left_ms FROM {table}_{function}({})",
                placeholders.join(", ")
            )
        };
        Self {
            issue: format!("SELECT {table}_issue($1, $2, $3, $4)"),
            consume: call("consume", 4),
            peek: call("peek", 1),
            claim: call("claim", 6),
            consume_claimed: call("consume_claimed", 5),
            release: call("release", 4),
        }
    }
}

/// Makes `call`, and once more if the connection it went out on was found
/// dropped: every call is safe to repeat (a consume with its token, a claim
/// for its holder and submission, a release or a claim's consume by its
/// fencing token). A timeout is not repeated, so a stalled server fails
/// after one.
///
/// Boxed: the compiler cannot yet prove the statements' futures `Send` for
/// every lifetime the store's trait methods need, only for these.
pub(super) fn run<'a>(
    pool: &'a PgPool,
    sql: &'a Statements,
    call: &'a Call<'a>,
    timeout: Duration,
) -> Pin<Box<dyn Future<Output = Result<Answer>> + Send + 'a>> {
    Box::pin(async move {
        match attempt(pool, sql, call, timeout).await {
            Err(Failure::Dropped(_)) => attempt(pool, sql, call, timeout).await.map_err(Failure::into_error),
            result => result.map_err(Failure::into_error),
        }
    })
}

/// Why a try failed.
enum Failure {
    /// The connection was lost: worth one more try on another.
    Dropped(sqlx::Error),
    /// A statement got no answer in time.
    TimedOut,
    /// Anything else, as the caller sees it.
    Final(Error),
}

impl Failure {
    fn into_error(self) -> Error {
        match self {
            Self::Dropped(error) => backend(error),
            Self::TimedOut => timed_out("a statement"),
            Self::Final(error) => error,
        }
    }
}

impl From<sqlx::Error> for Failure {
    fn from(error: sqlx::Error) -> Self {
        match is_dropped(&error) {
            true => Self::Dropped(error),
            false => Self::Final(backend(error)),
        }
    }
}

/// One try on a pooled connection; one whose statement timed out is
/// closed, never pooled again.
async fn attempt(pool: &PgPool, sql: &Statements, call: &Call<'_>, timeout: Duration) -> Result<Answer, Failure> {
    let mut connection = pool.acquire().await?;
    let answer = decide(&mut connection, sql, call, timeout).await;
    if let Err(Failure::TimedOut) = answer {
        connection.close_on_drop();
    }
    answer
}

/// `statement` within `timeout`.
async fn timed<T>(timeout: Duration, statement: impl Future<Output = sqlx::Result<T>>) -> Result<T, Failure> {
    match tokio::time::timeout(timeout, statement).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(Failure::TimedOut),
    }
}

/// The call's function, on `connection`; first, for a call that decides,
/// its deadline on the server's clock: so a call that reaches the server
/// after this one gave up (each statement's timeout starts once the one
/// before answered) changes nothing.
async fn decide(
    connection: &mut PgConnection,
    sql: &Statements,
    call: &Call<'_>,
    timeout: Duration,
) -> Result<Answer, Failure> {
    let deadline = match call {
        Call::Issue { .. } | Call::Peek { .. } => 0,
        _ => {
            let timeout_us = i64::try_from(timeout.as_micros()).unwrap_or(i64::MAX);
            let query = sqlx::query_scalar::<_, i64>(DEADLINE).bind(timeout_us);
            timed(timeout, query.fetch_one(&mut *connection)).await?
        }
    };
    let query = match *call {
        Call::Issue {
            nonce,
            context,
            ttl_ms,
            retention_ms,
        } => {
            let query = sqlx::query_scalar::<_, bool>(&sql.issue)
                .bind(nonce)
                .bind(context)
                .bind(ttl_ms)
                .bind(retention_ms);
            let stored = timed(timeout, query.fetch_one(&mut *connection)).await?;
            return Ok(Answer {
                status: i64::from(stored),
                context: String::new(),
                token: 0,
                left_ms: 0,
            });
        }
        Call::Consume {
            nonce,
            token,
            retention_ms,
        } => sqlx::query(&sql.consume)
            .bind(nonce)
            .bind(token)
            .bind(retention_ms)
            .bind(deadline),
        Call::Peek { nonce } => sqlx::query(&sql.peek).bind(nonce),
        Call::Claim {
            nonce,
            holder,
            submission,
            lease_ms,
            retention_ms,
        } => sqlx::query(&sql.claim)
            .bind(nonce)
            .bind(holder)
            .bind(submission)
            .bind(lease_ms)
            .bind(retention_ms)
            .bind(deadline),
        Call::ConsumeClaimed {
            nonce,
            token,
            holder,
            retention_ms,
        } => sqlx::query(&sql.consume_claimed)
            .bind(nonce)
            .bind(token)
            .bind(holder)
            .bind(retention_ms)
            .bind(deadline),
        Call::Release { nonce, token, holder } => sqlx::query(&sql.release)
            .bind(nonce)
            .bind(token)
            .bind(holder)
            .bind(deadline),
    };
    let row = timed(timeout, query.fetch_one(&mut *connection)).await?;
    let read = || -> sqlx::Result<Answer> {
        Ok(Answer {
            status: row.try_get(0)?,
            context: row.try_get(1)?,
            token: row.try_get(2)?,
            left_ms: row.try_get(3)?,
        })
    };
    Ok(read()?)
}

/// Brings the schema of `table` to this code's version, in one
/// transaction under an advisory lock on the table's name.
/// Boxed, as [`run`] is.
pub(super) fn migrate(pool: &PgPool, table: &str) -> Pin<Box<dyn Future<Output = Result<()>> + Send + 'static>> {
    Box::pin(migrate_now(pool.clone(), table.to_owned()))
}

async fn migrate_now(pool: PgPool, table: String) -> Result<()> {
    let sql = Migration::of(&table);
    let mut transaction = pool.begin().await.map_err(backend)?;
    let found = migrate_in(&mut transaction, &sql).await.map_err(backend)?;
    if found > VERSION {
        return Err(Error::NonceStoreUnexpectedData(
            format!("{table} is at schema version {found}; this build knows up to {VERSION}").into(),
        ));
    }
    transaction.commit().await.map_err(backend)
}

/// The statements of a migration of one table.
struct Migration {
    table: String,
    versions: String,
    current: String,
    record: String,
    steps: Vec<(i32, Vec<String>)>,
}

impl Migration {
    fn of(table: &str) -> Self {
        Self {
            table: table.to_owned(),
            versions: format!("CREATE TABLE IF NOT EXISTS {table}_schema (version int NOT NULL)"),
            current: format!("SELECT coalesce(max(version), 0) FROM {table}_schema"),
            record: format!("INSERT INTO {table}_schema (version) VALUES ($1)"),
            steps: (1..=VERSION)
                .map(|version| (version, schema::step(table, version)))
                .collect(),
        }
    }
}

/// The migration's statements, in `transaction`; returns the version
/// found (left alone if newer than this code's).
async fn migrate_in(transaction: &mut PgConnection, sql: &Migration) -> sqlx::Result<i32> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
        .bind(&sql.table)
        .execute(&mut *transaction)
        .await?;
    sqlx::query(&sql.versions).execute(&mut *transaction).await?;
    let found: i32 = sqlx::query_scalar(&sql.current).fetch_one(&mut *transaction).await?;
    for (version, statements) in &sql.steps {
        if *version <= found {
            continue;
        }
        for statement in statements {
            sqlx::query(statement).execute(&mut *transaction).await?;
        }
        sqlx::query(&sql.record)
            .bind(version)
            .execute(&mut *transaction)
            .await?;
    }
    Ok(found)
}

/// "Unavailable" for `what` that did not answer in time.
pub(super) fn timed_out(what: &str) -> Error {
    Error::NonceStoreUnavailable(format!("{what} got no answer in time").into())
}

/// SQLSTATEs that a retry can fix: connection exceptions (class 08),
/// transaction rollbacks (40: serialization failures, deadlocks),
/// insufficient resources (53: too many connections), an operator's
/// intervention (57P01–57P05: shutdown, crash, starting up), a statement
/// cancelled or timed out (57014), a lock not available (55P03), and a
/// read-only server (25006: a standby, during a failover).
fn retryable(code: &str) -> bool {
    ["08", "40", "53", "57P"].iter().any(|class| code.starts_with(class)) || ["57014", "55P03", "25006"].contains(&code)
}

/// Whether the connection is gone: the next try, on another, may succeed.
fn is_dropped(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(error) => error
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
        _ => false,
    }
}

/// A failure to reach the server, or an answer that says to come back
/// later, is "unavailable"; a row or value of another shape than the
/// store writes is unexpected data; anything else is a store error.
pub(super) fn backend(error: sqlx::Error) -> Error {
    match &error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Error::NonceStoreUnavailable(Box::new(error)),
        sqlx::Error::Database(database) if database.code().is_some_and(|code| retryable(&code)) => {
            Error::NonceStoreUnavailable(Box::new(error))
        }
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. }
        | sqlx::Error::RowNotFound => Error::NonceStoreUnexpectedData(Box::new(error)),
        _ => Error::NonceStore(Box::new(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_retry_can_fix() {
        for code in [
            "08006", "08001", "40001", "40P01", "53300", "57P01", "57P03", "57014", "55P03", "25006",
        ] {
            assert!(retryable(code), "{code}");
        }
        for code in ["42P01", "42501", "23505", "22001", "XX000", "P0001"] {
            assert!(!retryable(code), "{code}");
        }
    }
}
