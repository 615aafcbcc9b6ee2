//! The Redis every instance shares, one server or a cluster: besides the
//! nonce store (which keeps its own connection), the application ledger
//! and the per-client start counts keep their keys here. Every key is a
//! single key per command (or shares one hash tag), so the same commands
//! work on a cluster. Connects on first use and reconnects after a restart;
//! a stalled server fails a command after the timeout instead of hanging.

use std::time::Duration;

use crate::bot_api::Failure;

/// Connect and response timeouts, as the nonce store's.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Where the instances' shared state lives.
#[derive(Clone)]
pub(crate) struct SharedRedis {
    server: std::sync::Arc<Server>,
}

enum Server {
    Single {
        client: redis::Client,
        manager: tokio::sync::OnceCell<redis::aio::ConnectionManager>,
    },
    #[cfg(feature = "redis-cluster")]
    Cluster {
        client: Box<redis::cluster::ClusterClient>,
        connection: tokio::sync::OnceCell<redis::cluster_async::ClusterConnection>,
    },
}

impl SharedRedis {
    /// The server at `url`.
    pub(crate) fn open(url: &str) -> Result<Self, Failure> {
        let server = Server::Single {
            client: redis::Client::open(url)?,
            manager: tokio::sync::OnceCell::new(),
        };
        Ok(Self {
            server: std::sync::Arc::new(server),
        })
    }

    /// The cluster found through any of `nodes`.
    #[cfg(feature = "redis-cluster")]
    pub(crate) fn open_cluster(nodes: &[&str]) -> Result<Self, Failure> {
        let client = redis::cluster::ClusterClientBuilder::new(nodes.to_vec())
            .connection_timeout(TIMEOUT)
            .response_timeout(TIMEOUT)
            .retries(3)
            .build()?;
        let server = Server::Cluster {
            client: Box::new(client),
            connection: tokio::sync::OnceCell::new(),
        };
        Ok(Self {
            server: std::sync::Arc::new(server),
        })
    }

    /// Runs `command`; any failure, to reach the server or from it, is an
    /// error. A connection a server restart dropped is replaced and the
    /// command sent once more; a timeout is not retried.
    pub(crate) async fn query<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> Result<T, redis::RedisError> {
        match command.query_async(&mut self.connection().await?).await {
            Err(error) if dropped(&error) => command.query_async(&mut self.connection().await?).await,
            result => result,
        }
    }

    /// Runs `script` on `keys` (one hash tag) with `args`.
    pub(crate) async fn script<T: redis::FromRedisValue>(
        &self,
        script: &redis::Script,
        keys: &[&str],
        args: &[&str],
    ) -> Result<T, redis::RedisError> {
        let mut invocation = script.prepare_invoke();
        for key in keys {
            invocation.key(*key);
        }
        for arg in args {
            invocation.arg(*arg);
        }
        match invocation.invoke_async(&mut self.connection().await?).await {
            Err(error) if dropped(&error) => invocation.invoke_async(&mut self.connection().await?).await,
            result => result,
        }
    }

    /// The connection, made on first use.
    async fn connection(&self) -> Result<Connection, redis::RedisError> {
        match &*self.server {
            Server::Single { client, manager } => {
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(TIMEOUT))
                    .set_response_timeout(Some(TIMEOUT))
                    .set_number_of_retries(1);
                let manager = manager
                    .get_or_try_init(|| redis::aio::ConnectionManager::new_with_config(client.clone(), config))
                    .await?;
                Ok(Connection::Single(manager.clone()))
            }
            #[cfg(feature = "redis-cluster")]
            Server::Cluster { client, connection } => {
                let connection = connection.get_or_try_init(|| client.get_async_connection()).await?;
                Ok(Connection::Cluster(connection.clone()))
            }
        }
    }
}

/// A connection the server dropped (a restart): worth one more try.
fn dropped(error: &redis::RedisError) -> bool {
    error.is_connection_dropped() && !error.is_timeout()
}

/// One server's reconnecting connection, or the cluster's.
enum Connection {
    Single(redis::aio::ConnectionManager),
    #[cfg(feature = "redis-cluster")]
    Cluster(redis::cluster_async::ClusterConnection),
}

impl redis::aio::ConnectionLike for Connection {
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
