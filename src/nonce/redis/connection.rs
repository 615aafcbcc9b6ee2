//! Connections to the server and the one retry policy both APIs follow:
//! a pool of blocking connections, the async API's reconnecting one, and
//! what a failure of either means for the caller.

use std::sync::{Mutex, PoisonError};
#[cfg(feature = "redis-cluster")]
use std::time::Duration;

use super::RedisNonceStore;
use crate::error::{Error, Result};

/// Idle connections kept for reuse.
const POOL: usize = 16;

/// Where the nonces live, with the connections kept to it.
pub(super) enum Server {
    Single {
        client: redis::Client,
        idle: Mutex<Vec<redis::Connection>>,
        /// The async API's connection, made on its first use.
        #[cfg(feature = "redis-async")]
        manager: tokio::sync::OnceCell<redis::aio::ConnectionManager>,
    },
    #[cfg(feature = "redis-cluster")]
    Cluster {
        nodes: Vec<redis::ConnectionInfo>,
        client: Box<redis::cluster::ClusterClient>,
        idle: Mutex<Vec<redis::cluster::ClusterConnection>>,
        connection: tokio::sync::OnceCell<redis::cluster_async::ClusterConnection>,
    },
}

/// A failure to reach the server, or an answer that says to come back
/// later (a cluster that is down or failing over, a server still loading
/// its data, a replica that cannot take writes: the redis crate's own list
/// of what a retry can fix), is "unavailable"; anything else the server
/// said is a store error, and data of another type under a key (which this
/// store never writes) is unexpected data.
pub(super) fn backend(error: redis::RedisError) -> Error {
    let unreachable = error.is_io_error()
        || error.is_timeout()
        || error.is_connection_refusal()
        || error.is_connection_dropped()
        || error.is_unrecoverable_error()
        || error.kind() == redis::ErrorKind::ClusterConnectionNotFound
        || !matches!(error.retry_method(), redis::RetryMethod::NoRetry);
    match (unreachable, error.code()) {
        (true, _) => Error::NonceStoreUnavailable(Box::new(error)),
        (false, Some("WRONGTYPE")) => Error::NonceStoreUnexpectedData(Box::new(error)),
        (false, _) => Error::NonceStore(Box::new(error)),
    }
}

impl RedisNonceStore {
    /// Runs `f` on a pooled connection; a connection that failed is dropped.
    /// A pooled connection found dropped (a server restart closes them all)
    /// is replaced and `f` run once more; a timeout is not retried, so a
    /// stalled server fails after one timeout.
    pub(super) fn with_connection<T>(
        &self,
        f: impl Fn(&mut dyn redis::ConnectionLike) -> redis::RedisResult<T>,
    ) -> Result<T> {
        match &self.server {
            Server::Single { client, idle, .. } => pooled(idle, f, || {
                let connection = client.get_connection_with_timeout(self.connect_timeout)?;
                connection.set_read_timeout(Some(self.io_timeout))?;
                connection.set_write_timeout(Some(self.io_timeout))?;
                Ok(connection)
            }),
            #[cfg(feature = "redis-cluster")]
            Server::Cluster { client, idle, .. } => pooled(idle, f, || client.get_connection()),
        }
    }
}

/// [`RedisNonceStore::with_connection`] on one kind of connection.
fn pooled<C: redis::ConnectionLike, T>(
    idle: &Mutex<Vec<C>>,
    f: impl Fn(&mut dyn redis::ConnectionLike) -> redis::RedisResult<T>,
    connect: impl Fn() -> redis::RedisResult<C>,
) -> Result<T> {
    let pooled = idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
    let (mut connection, fresh) = match pooled {
        Some(connection) => (connection, false),
        None => (connect().map_err(backend)?, true),
    };
    let mut tries = 1;
    let result = loop {
        match f(&mut connection) {
            // A fresh connection that failed is not replaced: it was no
            // stale one.
            Err(error) if !fresh && again(&error, tries) => {
                connection = connect().map_err(backend)?;
                tries += 1;
            }
            result => break result.map_err(backend)?,
        }
    };
    let mut idle = idle.lock().unwrap_or_else(PoisonError::into_inner);
    if idle.len() < POOL {
        idle.push(connection);
    }
    Ok(result)
}

/// A cluster client that gives up about as soon as a single-server
/// connection does: each connect and each answer bounded, and three retries
/// (enough for a reconnection followed by a MOVED redirection), not the
/// client's default sixteen with back-off.
#[cfg(feature = "redis-cluster")]
pub(super) fn cluster_client(
    nodes: &[redis::ConnectionInfo],
    connect: Duration,
    read_write: Duration,
) -> Result<redis::cluster::ClusterClient> {
    redis::cluster::ClusterClientBuilder::new(nodes.to_vec())
        .connection_timeout(connect)
        .response_timeout(read_write)
        .retries(3)
        .build()
        .map_err(backend)
}

/// The retry policy of both APIs: a command is sent at most this often.
const TRIES: u32 = 2;

/// A dropped connection (a server restart) is worth one more try; a
/// timeout is not, so a stalled server fails after one timeout.
fn retryable(error: &redis::RedisError) -> bool {
    error.is_connection_dropped() && !error.is_timeout()
}

/// Whether a command that failed with `error` on its `tries`th sending is
/// sent again: the one place both APIs ask.
fn again(error: &redis::RedisError, tries: u32) -> bool {
    tries < TRIES && retryable(error)
}

#[cfg(feature = "redis-async")]
impl RedisNonceStore {
    /// Runs `command` on the async connection: the async twin of
    /// [`with_connection`](Self::with_connection), with the same
    /// [retry policy](retryable). The connection reconnects by itself.
    pub(super) async fn with_connection_async<T, F, Fut>(&self, command: F) -> Result<T>
    where
        F: Fn(AsyncConnection) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let connection = self.connection().await?;
        let mut tries = 1;
        loop {
            match command(connection.clone()).await {
                Err(error) if again(&error, tries) => tries += 1,
                result => return result.map_err(backend),
            }
        }
    }
}

/// The async API's connection: one for the whole store, reconnecting.
#[cfg(feature = "redis-async")]
#[derive(Clone)]
pub(super) enum AsyncConnection {
    Single(redis::aio::ConnectionManager),
    #[cfg(feature = "redis-cluster")]
    Cluster(redis::cluster_async::ClusterConnection),
}

#[cfg(feature = "redis-async")]
impl redis::aio::ConnectionLike for AsyncConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a redis::Cmd) -> redis::RedisFuture<'a, redis::Value> {
        match self {
            Self::Single(connection) => connection.req_packed_command(cmd),
            #[cfg(feature = "redis-cluster")]
            Self::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        match self {
            Self::Single(connection) => connection.req_packed_commands(pipeline, offset, count),
            #[cfg(feature = "redis-cluster")]
            Self::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(connection) => connection.get_db(),
            #[cfg(feature = "redis-cluster")]
            Self::Cluster(connection) => connection.get_db(),
        }
    }
}

#[cfg(feature = "redis-async")]
impl RedisNonceStore {
    /// The async connection, made on first use with this store's timeouts.
    async fn connection(&self) -> Result<AsyncConnection> {
        match &self.server {
            Server::Single { client, manager, .. } => {
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.connect_timeout))
                    .set_response_timeout(Some(self.io_timeout))
                    .set_number_of_retries(1);
                let client = client.clone();
                let manager = manager
                    .get_or_try_init(|| redis::aio::ConnectionManager::new_with_config(client, config))
                    .await
                    .map_err(backend)?;
                Ok(AsyncConnection::Single(manager.clone()))
            }
            #[cfg(feature = "redis-cluster")]
            Server::Cluster { client, connection, .. } => {
                let connection = connection
                    .get_or_try_init(|| client.get_async_connection())
                    .await
                    .map_err(backend)?;
                Ok(AsyncConnection::Cluster(connection.clone()))
            }
        }
    }
}
