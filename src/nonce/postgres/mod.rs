//! An [`AsyncNonceStore`] on PostgreSQL, for services that keep their
//! state there rather than in Redis.
//!
//! The same contract and the same answers as the Redis store, kept the same
//! way: each operation is one call of a function in the database that locks
//! the nonce's row, decides and writes in one transaction (`schema`);
//! every call that decides carries a deadline on the server's clock, so a
//! call that reaches a stalled server after the caller gave up changes
//! nothing; a consume carries a token for the call, so its retry after a
//! lost answer gets the context instead of "replayed". Faults fail fast
//! and closed: connecting and each statement have timeouts, and whatever a
//! retry can fix (a restart, a failover, a serialization failure, a
//! timeout) is [`Error::NonceStoreUnavailable`], never "replayed" or
//! "unknown". A connection that a restart dropped is replaced and the call
//! made once more (`connection`).

mod connection;
mod schema;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use self::connection::{backend, Call, Statements};
use crate::error::{Error, Result};
use crate::nonce::answer::{answered, claimed, millis};
use crate::nonce::{
    check_lease, check_ttl, generate_nonce, is_well_formed, settled, submission_digest, AsyncNonceStore, Claim, Hold,
    Holder,
};

/// An [`AsyncNonceStore`] on PostgreSQL, shared by every instance of a
/// service: one row per nonce in a table the store creates (and migrates)
/// itself on first use.
///
/// ```no_run
/// use std::time::Duration;
/// use telegram_passport::{AsyncNonceStore, PostgresNonceStore};
///
/// # async fn run() -> Result<(), telegram_passport::Error> {
/// let store = PostgresNonceStore::open("postgres://kyc@127.0.0.1/kyc")?;
/// let nonce = store.issue("application-17", Duration::from_secs(900)).await?;
/// println!("tg://passport?…&nonce={nonce}");
/// # Ok(())
/// # }
/// # let _ = run;
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub struct PostgresNonceStore {
    options: PgConnectOptions,
    table: String,
    statements: Statements,
    retention: Duration,
    connect_timeout: Duration,
    io_timeout: Duration,
    max_connections: u32,
    /// Made on first use, inside the runtime, with the settings above.
    pool: OnceLock<PgPool>,
    /// Set once the schema is this code's version.
    migrated: tokio::sync::OnceCell<()>,
    /// This store value's holder id, and the claims it holds.
    holder: Holder,
}

impl std::fmt::Debug for PostgresNonceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the options: they hold the password.
        f.debug_struct("PostgresNonceStore")
            .field("table", &self.table)
            .field("retention", &self.retention)
            .field("connect_timeout", &self.connect_timeout)
            .field("io_timeout", &self.io_timeout)
            .field("max_connections", &self.max_connections)
            .field("holder", &self.holder.id())
            .finish_non_exhaustive()
    }
}

/// The table unless set otherwise.
const TABLE: &str = "telegram_passport_nonces";

/// Connect and statement timeouts unless set otherwise.
const TIMEOUT: Duration = Duration::from_secs(2);

impl PostgresNonceStore {
    /// A store on the database at `url`
    /// (`postgres://user:password@host:port/database`, or any form
    /// libpq takes), in table `telegram_passport_nonces`, used and expired
    /// nonces remembered for an hour, connect and statement timeouts of two
    /// seconds, at most 16 connections. Connects on first use.
    pub fn open(url: &str) -> Result<Self> {
        let options = url
            .parse::<PgConnectOptions>()
            .map_err(|error| Error::NonceStore(format!("not a PostgreSQL URL: {error}").into()))?;
        Ok(Self {
            options,
            table: TABLE.to_owned(),
            statements: Statements::of(TABLE),
            retention: Duration::from_secs(3600),
            connect_timeout: TIMEOUT,
            io_timeout: TIMEOUT,
            max_connections: 16,
            pool: OnceLock::new(),
            migrated: tokio::sync::OnceCell::new(),
            holder: Holder::new(generate_nonce()?),
        })
    }

    /// Uses another table (to share a database between services): lower-case
    /// ASCII letters, digits and `_`, starting with a letter, at most 40
    /// bytes. Its functions are named after it (`<table>_claim`, …), and its
    /// schema version is kept in `<table>_schema`.
    pub fn with_table(mut self, table: &str) -> Result<Self> {
        if !schema::is_table_name(table) {
            return Err(Error::NonceStore(
                format!(
                    "table name {:?}: use lower-case ASCII letters, digits and _, starting with a letter, at most 40 bytes",
                    crate::text::excerpt(table)
                )
                .into(),
            ));
        }
        table.clone_into(&mut self.table);
        self.statements = Statements::of(table);
        Ok(self)
    }

    /// Remembers used and expired nonces for `retention`, so that they get
    /// their precise error rather than "never issued". Rows past it are
    /// removed as new nonces are issued.
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// Other timeouts than two seconds: for getting a connection (connecting
    /// included), and for each statement. A call on an unreachable or
    /// stalled server fails after about one of each with
    /// [`Error::NonceStoreUnavailable`]. Takes effect if set before the
    /// first call.
    pub fn with_timeouts(mut self, connect: Duration, statement: Duration) -> Self {
        self.connect_timeout = connect.max(Duration::from_millis(1));
        self.io_timeout = statement.max(Duration::from_millis(1));
        self
    }

    /// At most `connections` connections (default 16). Takes effect if set
    /// before the first call.
    pub fn with_max_connections(mut self, connections: u32) -> Self {
        self.max_connections = connections.max(1);
        self
    }

    /// Creates the table and its functions, or migrates them to this
    /// version, now rather than on first use; under an advisory lock, so
    /// that instances starting together take turns. Fails with
    /// [`Error::NonceStoreUnexpectedData`] if the schema is newer than this
    /// build, and as any call does if the server cannot be reached.
    pub async fn migrate(&self) -> Result<()> {
        self.migrated
            .get_or_try_init(|| async {
                let work = connection::migrate(self.pool(), &self.table);
                let timeout = self.connect_timeout + self.io_timeout * 4;
                match tokio::time::timeout(timeout, work).await {
                    Ok(done) => done,
                    Err(_) => Err(connection::timed_out("creating the schema")),
                }
            })
            .await
            .copied()
    }

    fn pool(&self) -> &PgPool {
        self.pool.get_or_init(|| {
            PgPoolOptions::new()
                .max_connections(self.max_connections)
                .acquire_timeout(self.connect_timeout)
                .test_before_acquire(true)
                .connect_lazy_with(self.options.clone())
        })
    }

    /// Makes `call` (the schema first, once), on a pooled connection.
    async fn run(&self, call: Call<'_>) -> Result<connection::Answer> {
        self.migrate().await?;
        connection::run(self.pool(), &self.statements, &call, self.io_timeout).await
    }

    /// The claim of `nonce` reserved in this holder, or why not.
    fn hold(&self, nonce: &str, lease: Duration) -> Result<Hold> {
        check_lease(lease)?;
        if !is_well_formed(nonce) {
            return Err(Error::NonceUnknown);
        }
        self.holder.hold(nonce, lease, Instant::now())
    }

    fn retention_ms(&self) -> i64 {
        ms(self.retention)
    }
}

fn ms(duration: Duration) -> i64 {
    i64::try_from(millis(duration)).unwrap_or(i64::MAX)
}

impl AsyncNonceStore for PostgresNonceStore {
    async fn issue(&self, context: &str, ttl: Duration) -> Result<String> {
        check_ttl(ttl)?;
        // A 256-bit nonce never collides in practice; the loop only makes
        // the impossible case an error instead of an overwrite.
        for _ in 0..3 {
            let nonce = generate_nonce()?;
            let call = Call::Issue {
                nonce: &nonce,
                context,
                ttl_ms: ms(ttl),
                retention_ms: self.retention_ms(),
            };
            if self.run(call).await?.status == 1 {
                return Ok(nonce);
            }
        }
        Err(Error::NonceStore("could not store a fresh nonce".into()))
    }

    async fn consume(&self, nonce: &str) -> Result<String> {
        if !is_well_formed(nonce) {
            return Err(Error::NonceUnknown);
        }
        // The same token on a retry: a consume that ran but whose answer
        // was lost returns its context again instead of "replayed".
        let token = generate_nonce()?;
        let call = Call::Consume {
            nonce,
            token: &token,
            retention_ms: self.retention_ms(),
        };
        let answer = self.run(call).await?;
        answered(answer.status, answer.context)
    }

    async fn peek(&self, nonce: &str) -> Result<String> {
        if !is_well_formed(nonce) {
            return Err(Error::NonceUnknown);
        }
        let answer = self.run(Call::Peek { nonce }).await?;
        answered(answer.status, answer.context)
    }

    async fn claim(&self, nonce: &str, submission_key: &str, lease: Duration) -> Result<Claim> {
        let hold = self.hold(nonce, lease)?;
        let submission = submission_digest(submission_key);
        let call = Call::Claim {
            nonce,
            holder: self.holder.id(),
            submission: &submission,
            lease_ms: ms(lease),
            retention_ms: self.retention_ms(),
        };
        let sent = Instant::now();
        let answer = self.run(call).await?;
        let token = u64::try_from(answer.token).map_err(|_| backend(sqlx::Error::Decode("negative token".into())))?;
        let left = u64::try_from(answer.left_ms).unwrap_or(0);
        claimed(
            nonce,
            (answer.status, answer.context, token, left),
            sent,
            self.holder.id(),
            hold,
        )
    }

    async fn consume_claimed(&self, claim: &Claim) -> Result<String> {
        let result = async {
            let call = Call::ConsumeClaimed {
                nonce: fenced(claim)?,
                token: token_of(claim)?,
                holder: claim.holder(),
                retention_ms: self.retention_ms(),
            };
            let answer = self.run(call).await?;
            answered(answer.status, answer.context)
        };
        settled(claim, result.await)
    }

    async fn release(&self, claim: &Claim) -> Result<()> {
        let result = async {
            let call = Call::Release {
                nonce: fenced(claim)?,
                token: token_of(claim)?,
                holder: claim.holder(),
            };
            let answer = self.run(call).await?;
            answered(answer.status, answer.context).map(drop)
        };
        settled(claim, result.await)
    }
}

/// A claim's nonce; one this store cannot have issued is unknown.
fn fenced(claim: &Claim) -> Result<&str> {
    match is_well_formed(claim.nonce()) {
        true => Ok(claim.nonce()),
        false => Err(Error::NonceUnknown),
    }
}

/// A claim's fencing token as the database keeps it; one it cannot hold
/// was never made here.
fn token_of(claim: &Claim) -> Result<i64> {
    i64::try_from(claim.token()).map_err(|_| Error::ClaimLost)
}
