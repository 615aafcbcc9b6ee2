//! The Redis every instance shares, one server or a cluster. Every key is
//! a single key per command (or shares one hash tag), so the same commands
//! work on a cluster. Connects on first use and reconnects after a restart;
//! a stalled server fails a command after the timeout instead of hanging.

use std::time::Duration;

use crate::telegram::Failure;

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
        match self.once(command).await {
            Err(error) if dropped(&error) => self.once(command).await,
            result => result,
        }
    }

    /// Runs the Lua `script` (a few lines: sent whole, `EVAL`) on `keys`
    /// (one hash tag) with `args`, as [`Self::query`].
    pub(crate) async fn script<T: redis::FromRedisValue>(
        &self,
        script: &str,
        keys: &[&str],
        args: &[&str],
    ) -> Result<T, redis::RedisError> {
        let mut command = redis::cmd("EVAL");
        command.arg(script).arg(keys.len()).arg(keys).arg(args);
        self.query(&command).await
    }

    /// Sends `command` once, on the connection made on first use.
    async fn once<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> Result<T, redis::RedisError> {
        match &*self.server {
            Server::Single { client, manager } => {
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(TIMEOUT))
                    .set_response_timeout(Some(TIMEOUT))
                    .set_number_of_retries(1);
                let manager = manager
                    .get_or_try_init(|| redis::aio::ConnectionManager::new_with_config(client.clone(), config))
                    .await?;
                command.query_async(&mut manager.clone()).await
            }
            #[cfg(feature = "redis-cluster")]
            Server::Cluster { client, connection } => {
                let connection = connection.get_or_try_init(|| client.get_async_connection()).await?;
                command.query_async(&mut connection.clone()).await
            }
        }
    }
}

/// A connection the server dropped (a restart): worth one more try.
fn dropped(error: &redis::RedisError) -> bool {
    error.is_connection_dropped() && !error.is_timeout()
}
