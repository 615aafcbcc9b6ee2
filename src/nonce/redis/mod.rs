//! A [`NonceStore`] on Redis, for services that run several instances.
//!
//! Atomic on the server: issuing is one Lua script (`SET NX PX` of the live
//! key plus a longer-lived "seen" marker), consuming is another (read and
//! delete the live key, mark the nonce consumed), so of any number of
//! concurrent consumers exactly one succeeds. Both keys of a nonce share a
//! hash tag, so the scripts also work on Redis Cluster.
//!
//! Faults fail fast and closed: every connection has connect, read and
//! write timeouts, and any failure to reach the server is
//! [`Error::NonceStoreUnavailable`], never "replayed" or "unknown". A
//! pooled connection that a server restart dropped is replaced and the
//! command sent once more; the consume script carries a token for the call,
//! so a retry of a consume that had in fact run returns its context instead
//! of "replayed"; and it carries a deadline on the server's own clock, so a
//! consume that reaches a stalled server after the caller gave up changes
//! nothing.
//!
//! Claims are three more scripts, with the same deadline. A nonce's claim
//! lives in a third key with the same hash tag: a hash of the latest
//! claim's fencing token, holder, submission digest, lease end (server
//! clock, ms) and context, plus a `released:<token>` field per claim
//! released. A nonce consumed by a claim leaves `consumed:claim.<token>.<holder>:`
//! in its "seen" marker, so that claim's retry is answered with the context.

mod connection;
mod scripts;

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[cfg(feature = "redis-cluster")]
use self::connection::cluster_client;
use self::connection::{backend, Server};
use self::scripts::{Lua, CLAIM, CONSUME, CONSUME_CLAIMED, ISSUE, PEEK, RELEASE, TIME};

use crate::error::{Error, Result};
use crate::nonce::answer::{answered, claimed, millis};
use crate::nonce::{
    check_lease, check_ttl, generate_nonce, is_well_formed, settled, submission_digest, Claim, Hold, Holder, NonceStore,
};

/// A [`NonceStore`] (and, with feature `redis-async`, an
/// [`AsyncNonceStore`](crate::AsyncNonceStore)) on a Redis server, or a
/// Redis Cluster, shared by every instance of a service.
///
/// ```no_run
/// use std::time::Duration;
/// use telegram_passport::{NonceStore, RedisNonceStore};
///
/// let store = RedisNonceStore::open("redis://127.0.0.1:6379/")?;
/// let nonce = store.issue("application-17", Duration::from_secs(900))?;
/// println!("tg://passport?…&nonce={nonce}");
/// # Ok::<(), telegram_passport::Error>(())
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub struct RedisNonceStore {
    server: Server,
    prefix: String,
    retention: Duration,
    connect_timeout: Duration,
    io_timeout: Duration,
    issue: Lua,
    consume: Lua,
    peek: Lua,
    time: Lua,
    claim_script: Lua,
    consume_claimed_script: Lua,
    release_script: Lua,
    /// This store value's holder id, and the claims it holds.
    holder: Holder,
}

impl std::fmt::Debug for RedisNonceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let server = match self.server {
            Server::Single { .. } => "single",
            #[cfg(feature = "redis-cluster")]
            Server::Cluster { .. } => "cluster",
        };
        f.debug_struct("RedisNonceStore")
            .field("server", &server)
            .field("prefix", &self.prefix)
            .field("retention", &self.retention)
            .field("connect_timeout", &self.connect_timeout)
            .field("io_timeout", &self.io_timeout)
            .field("holder", &self.holder.id())
            .finish_non_exhaustive()
    }
}

/// Connect, read and write timeouts unless set otherwise.
const TIMEOUT: Duration = Duration::from_secs(2);

impl RedisNonceStore {
    /// A store on the server at `url` (`redis://[user:password@]host:port/db`),
    /// keys prefixed `telegram-passport:nonce`, used and expired nonces
    /// remembered for an hour, connect, read and write timeouts of two
    /// seconds. Connects on first use.
    pub fn open(url: &str) -> Result<Self> {
        let client = redis::Client::open(url).map_err(backend)?;
        Self::on(Server::Single {
            client,
            idle: Mutex::new(Vec::new()),
            #[cfg(feature = "redis-async")]
            manager: tokio::sync::OnceCell::new(),
        })
    }

    /// A store on a Redis Cluster, found through any of `nodes` (URLs as for
    /// [`open`](Self::open)), with the same defaults. Both keys of a nonce
    /// share a hash tag, so each script runs on the one node that holds
    /// them; nonces spread over all masters. Connects on first use.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use telegram_passport::{NonceStore, RedisNonceStore};
    ///
    /// let store = RedisNonceStore::open_cluster(["redis://10.0.0.1:7000/", "redis://10.0.0.2:7000/"])?;
    /// let nonce = store.issue("application-17", Duration::from_secs(900))?;
    /// println!("tg://passport?…&nonce={nonce}");
    /// # Ok::<(), telegram_passport::Error>(())
    /// ```
    #[cfg(feature = "redis-cluster")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis-cluster")))]
    pub fn open_cluster<'a>(nodes: impl IntoIterator<Item = &'a str>) -> Result<Self> {
        let nodes = nodes
            .into_iter()
            .map(|url| redis::IntoConnectionInfo::into_connection_info(url).map_err(backend))
            .collect::<Result<Vec<_>>>()?;
        let client = Box::new(cluster_client(&nodes, TIMEOUT, TIMEOUT)?);
        Self::on(Server::Cluster {
            nodes,
            client,
            idle: Mutex::new(Vec::new()),
            connection: tokio::sync::OnceCell::new(),
        })
    }

    /// A store on `server`, a holder with a random id of its own.
    fn on(server: Server) -> Result<Self> {
        Ok(Self {
            server,
            prefix: "telegram-passport:nonce".to_owned(),
            retention: Duration::from_secs(3600),
            connect_timeout: TIMEOUT,
            io_timeout: TIMEOUT,
            issue: Lua::new(ISSUE),
            consume: Lua::new(CONSUME),
            peek: Lua::new(PEEK),
            time: Lua::new(TIME),
            claim_script: Lua::new(CLAIM),
            consume_claimed_script: Lua::new(CONSUME_CLAIMED),
            release_script: Lua::new(RELEASE),
            holder: Holder::new(generate_nonce()?),
        })
    }

    /// Uses another key prefix (to share a server between services).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Remembers used and expired nonces for `retention`, so that they get
    /// their precise error rather than "never issued".
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// Other timeouts than two seconds: for connecting, and for each read
    /// or write. A call on an unreachable or stalled server fails after
    /// about one of them (a few on a cluster, whose client retries) with
    /// [`Error::NonceStoreUnavailable`].
    pub fn with_timeouts(mut self, connect: Duration, read_write: Duration) -> Self {
        self.connect_timeout = connect.max(Duration::from_millis(1));
        self.io_timeout = read_write.max(Duration::from_millis(1));
        #[cfg(feature = "redis-cluster")]
        if let Server::Cluster { nodes, client, .. } = &mut self.server {
            // Only the nodes can make this fail, and `open_cluster` built a
            // client from these same nodes.
            if let Ok(rebuilt) = cluster_client(nodes, self.connect_timeout, self.io_timeout) {
                **client = rebuilt;
            }
        }
        self
    }

    fn keys(&self, nonce: &str) -> (String, String) {
        (
            format!("{}:{{{nonce}}}:live", self.prefix),
            format!("{}:{{{nonce}}}:seen", self.prefix),
        )
    }

    /// The live key, the seen marker and the claim of `nonce`: one hash
    /// tag, one slot.
    fn claim_keys(&self, nonce: &str) -> [String; 3] {
        let (live, seen) = self.keys(nonce);
        [live, seen, format!("{}:{{{nonce}}}:claim", self.prefix)]
    }
}

impl RedisNonceStore {
    /// The consume's deadline on the server's clock: its `TIME` now, plus
    /// the read/write timeout after which the caller gives up.
    fn deadline(&self, (seconds, micros): (u64, u64)) -> u64 {
        seconds
            .saturating_mul(1_000_000)
            .saturating_add(micros)
            .saturating_add(micros_of(self.io_timeout))
    }
}

fn micros_of(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

impl NonceStore for RedisNonceStore {
    fn issue(&self, context: &str, ttl: Duration) -> Result<String> {
        check_ttl(ttl)?;
        // A 256-bit nonce never collides in practice; the loop only makes
        // the impossible case an error instead of an overwrite.
        for _ in 0..3 {
            let nonce = generate_nonce()?;
            let (live, seen) = self.keys(&nonce);
            let args = self.issue_args(context, ttl);
            let stored: i64 = self.with_connection(|c| self.issue.run(c, &[&live, &seen], &args))?;
            if stored == 1 {
                return Ok(nonce);
            }
        }
        Err(Error::NonceStore("could not store a fresh nonce".into()))
    }

    fn consume(&self, nonce: &str) -> Result<String> {
        if !is_well_formed(nonce) {
            return Err(Error::NonceUnknown);
        }
        let (live, seen) = self.keys(nonce);
        // The same token on a retry: a consume that ran but whose answer
        // was lost returns its context again instead of "replayed".
        let token = generate_nonce()?;
        let (status, context): (i64, String) = self.with_connection(|c| {
            // The deadline on the server's clock: a consume that arrives
            // after this call gave up (a stalled server) changes nothing.
            let deadline = self.deadline(self.time.run(c, &[&live], &[])?);
            self.consume
                .run(c, &[&live, &seen], &self.consume_args(&token, deadline))
        })?;
        answered(status, context)
    }

    fn peek(&self, nonce: &str) -> Result<String> {
        if !is_well_formed(nonce) {
            return Err(Error::NonceUnknown);
        }
        let (live, seen) = self.keys(nonce);
        let (status, context): (i64, String) = self.with_connection(|c| self.peek.run(c, &[&live, &seen], &[]))?;
        answered(status, context)
    }

    fn claim(&self, nonce: &str, submission_key: &str, lease: Duration) -> Result<Claim> {
        let hold = self.hold(nonce, lease)?;
        let keys = self.claim_keys(nonce);
        let args = self.claim_args(submission_key, lease);
        let (answer, sent) = self.with_connection(|c| self.deadlined(c, &self.claim_script, &keys, &args))?;
        claimed(nonce, answer, sent, self.holder.id(), hold)
    }

    fn consume_claimed(&self, claim: &Claim) -> Result<String> {
        let (keys, [token, holder]) = self.fenced(claim)?;
        let args = [token, holder, millis(self.retention).to_string()];
        let result = self
            .with_connection(|c| self.deadlined(c, &self.consume_claimed_script, &keys, &args))
            .and_then(|((status, context), _): ((i64, String), _)| answered(status, context));
        settled(claim, result)
    }

    fn release(&self, claim: &Claim) -> Result<()> {
        let (keys, args) = self.fenced(claim)?;
        let result = self
            .with_connection(|c| self.deadlined(c, &self.release_script, &keys, &args))
            .and_then(|((status, context), _): ((i64, String), _)| answered(status, context).map(drop));
        settled(claim, result)
    }
}

impl RedisNonceStore {
    /// Runs `script` with `args` and then a deadline: the server's `TIME`
    /// now plus the read/write timeout, read on the node that holds
    /// `keys[0]`; so a script that reaches a stalled server after the
    /// caller gave up changes nothing. Also says when the script was sent.
    fn deadlined<T: redis::FromRedisValue>(
        &self,
        connection: &mut dyn redis::ConnectionLike,
        script: &Lua,
        keys: &[String; 3],
        args: &[String],
    ) -> redis::RedisResult<(T, Instant)> {
        let keys = keys.each_ref().map(String::as_str);
        let [live, ..] = keys;
        let deadline = self.deadline(self.time.run(connection, &[live], &[])?);
        let args = [args, &[deadline.to_string()]].concat();
        let sent = Instant::now();
        Ok((script.run(connection, &keys, &args)?, sent))
    }

    /// The claim script's arguments but the deadline.
    fn claim_args(&self, submission_key: &str, lease: Duration) -> [String; 4] {
        [
            self.holder.id().to_owned(),
            submission_digest(submission_key),
            millis(lease).to_string(),
            millis(self.retention).to_string(),
        ]
    }

    /// The claim of `nonce` reserved in this holder, or why not.
    fn hold(&self, nonce: &str, lease: Duration) -> Result<Hold> {
        check_lease(lease)?;
        if !is_well_formed(nonce) {
            return Err(Error::NonceUnknown);
        }
        self.holder.hold(nonce, lease, Instant::now())
    }

    /// The keys of a claim's nonce and the arguments that name the claim
    /// (its token and holder); a nonce this store never issued is unknown.
    fn fenced(&self, claim: &Claim) -> Result<([String; 3], [String; 2])> {
        if !is_well_formed(claim.nonce()) {
            return Err(Error::NonceUnknown);
        }
        let args = [claim.token().to_string(), claim.holder().to_owned()];
        Ok((self.claim_keys(claim.nonce()), args))
    }

    fn issue_args(&self, context: &str, ttl: Duration) -> [String; 3] {
        [
            context.to_owned(),
            millis(ttl).to_string(),
            millis(ttl + self.retention).to_string(),
        ]
    }

    fn consume_args(&self, token: &str, deadline: u64) -> [String; 3] {
        [
            millis(self.retention).to_string(),
            token.to_owned(),
            deadline.to_string(),
        ]
    }
}

/// The async API, over the redis crate's reconnecting connection manager
/// (or its async cluster connection), with the same scripts, timeouts,
/// retry and deadline as the blocking one.
#[cfg(feature = "redis-async")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis-async")))]
impl crate::nonce::AsyncNonceStore for RedisNonceStore {
    async fn issue(&self, context: &str, ttl: Duration) -> Result<String> {
        check_ttl(ttl)?;
        for _ in 0..3 {
            let nonce = generate_nonce()?;
            let (live, seen) = self.keys(&nonce);
            let args = self.issue_args(context, ttl);
            let keys = [live.as_str(), seen.as_str()];
            let args = &args;
            let stored: i64 = self
                .with_connection_async(|mut c| async move { self.issue.run_async(&mut c, &keys, args).await })
                .await?;
            if stored == 1 {
                return Ok(nonce);
            }
        }
        Err(Error::NonceStore("could not store a fresh nonce".into()))
    }

    async fn consume(&self, nonce: &str) -> Result<String> {
        if !is_well_formed(nonce) {
            return Err(Error::NonceUnknown);
        }
        let (live, seen) = self.keys(nonce);
        // As in the blocking API: one token for the call, a deadline per try.
        let token = &generate_nonce()?;
        let (live, seen) = (live.as_str(), seen.as_str());
        let (status, context): (i64, String) = self
            .with_connection_async(|mut c| async move {
                let deadline = self.deadline(self.time.run_async(&mut c, &[live], &[]).await?);
                let args = self.consume_args(token, deadline);
                self.consume.run_async(&mut c, &[live, seen], &args).await
            })
            .await?;
        answered(status, context)
    }

    async fn peek(&self, nonce: &str) -> Result<String> {
        if !is_well_formed(nonce) {
            return Err(Error::NonceUnknown);
        }
        let (live, seen) = self.keys(nonce);
        let keys = [live.as_str(), seen.as_str()];
        let (status, context): (i64, String) = self
            .with_connection_async(|mut c| async move { self.peek.run_async(&mut c, &keys, &[]).await })
            .await?;
        answered(status, context)
    }

    async fn claim(&self, nonce: &str, submission_key: &str, lease: Duration) -> Result<Claim> {
        let hold = self.hold(nonce, lease)?;
        let keys = self.claim_keys(nonce);
        let args = self.claim_args(submission_key, lease);
        let (answer, sent) = self.deadlined_async(&self.claim_script, &keys, &args).await?;
        claimed(nonce, answer, sent, self.holder.id(), hold)
    }

    async fn consume_claimed(&self, claim: &Claim) -> Result<String> {
        let (keys, [token, holder]) = self.fenced(claim)?;
        let args = [token, holder, millis(self.retention).to_string()];
        let result = self
            .deadlined_async(&self.consume_claimed_script, &keys, &args)
            .await
            .and_then(|((status, context), _): ((i64, String), _)| answered(status, context));
        settled(claim, result)
    }

    async fn release(&self, claim: &Claim) -> Result<()> {
        let (keys, args) = self.fenced(claim)?;
        let result = self
            .deadlined_async(&self.release_script, &keys, &args)
            .await
            .and_then(|((status, context), _): ((i64, String), _)| answered(status, context).map(drop));
        settled(claim, result)
    }
}

#[cfg(feature = "redis-async")]
impl RedisNonceStore {
    /// [`deadlined`](Self::deadlined) on the async connection.
    async fn deadlined_async<T: redis::FromRedisValue>(
        &self,
        script: &Lua,
        keys: &[String; 3],
        args: &[String],
    ) -> Result<(T, Instant)> {
        let keys = keys.each_ref().map(String::as_str);
        let [live, ..] = keys;
        self.with_connection_async(|mut c| async move {
            let deadline = self.deadline(self.time.run_async(&mut c, &[live], &[]).await?);
            let args = [args, &[deadline.to_string()]].concat();
            let sent = Instant::now();
            Ok((script.run_async(&mut c, &keys, &args).await?, sent))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

    use super::*;

    /// What the server answers decides the error: "come back later"
    /// answers (the server's own words, as a reply carries them) are
    /// "unavailable", so the caller retries; data of the wrong type is
    /// unexpected data, which no retry fixes; any other refusal is a store
    /// error, worth a retry once the store is fixed.
    #[test]
    fn answers_that_say_come_back_later_are_unavailable() {
        let answered = |reply: &str| {
            let value = redis::parse_redis_value(reply.as_bytes()).unwrap();
            backend(value.extract_error().unwrap_err())
        };
        for later in [
            "-LOADING Redis is loading the dataset in memory\r\n",
            "-CLUSTERDOWN The cluster is down\r\n",
            "-TRYAGAIN Multiple keys request during rehashing of slot\r\n",
            "-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n",
            "-READONLY You can't write against a read only replica.\r\n",
        ] {
            assert!(matches!(answered(later), Error::NonceStoreUnavailable(_)), "{later}");
        }
        let wrong = answered("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
        assert!(matches!(&wrong, Error::NonceStoreUnexpectedData(_)), "{wrong}");
        assert!(!wrong.is_retryable(), "{wrong}");
        assert!(wrong.to_string().contains("WRONGTYPE"), "{wrong}");
        let refused = answered("-NOPERM User has no permissions to run the 'evalsha' command\r\n");
        assert!(matches!(&refused, Error::NonceStore(_)), "{refused}");
        assert!(refused.is_retryable(), "{refused}");
    }

    /// The claim scripts on a real server, an answer lost in between: the
    /// same holder and submission get the same claim back, anyone else
    /// waits; consume and release are idempotent per claim and fenced by
    /// token and holder; past its deadline a script changes nothing.
    #[test]
    #[cfg_attr(no_redis_server, ignore = "needs redis-server (apt-get install redis-server)")]
    fn the_claim_scripts_are_idempotent_per_claim_and_void_after_their_deadline() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start redis-server: {error}"));
        let url = format!("redis://127.0.0.1:{port}/");
        let mut connection = (0..100)
            .find_map(|_| {
                std::thread::sleep(Duration::from_millis(50));
                redis::Client::open(url.as_str())
                    .and_then(|client| client.get_connection())
                    .ok()
            })
            .unwrap();
        let store = RedisNonceStore::open(&url).unwrap();
        let nonce = store.issue("application-9", Duration::from_secs(60)).unwrap();
        let keys = store.claim_keys(&nonce);
        let keys = [keys[0].as_str(), &keys[1], &keys[2]];
        let (past, future) = ("1".to_owned(), (u64::MAX / 2).to_string());
        let mut run = |script: &Lua, args: &[&str], deadline: &str| -> (i64, String, u64) {
            let mut args: Vec<String> = args.iter().map(|&a| a.to_owned()).collect();
            args.push(deadline.to_owned());
            let answer: redis::Value = script.run(&mut connection, &keys, &args).unwrap();
            let (status, context, token, _): (i64, String, u64, u64) = match redis::from_redis_value(answer.clone()) {
                Ok(claimed) => claimed,
                Err(_) => {
                    let (status, context): (i64, String) = redis::from_redis_value(answer).unwrap();
                    (status, context, 0, 0)
                }
            };
            (status, context, token)
        };
        let claim = |holder: &'static str, submission: &'static str| [holder, submission, "30000", "60000"];
        let ok = |token| (1, "application-9".to_owned(), token);
        assert_eq!(
            run(&store.claim_script, &claim("h1", "s1"), &past).0,
            4,
            "past its deadline"
        );
        assert_eq!(run(&store.claim_script, &claim("h1", "s1"), &future), ok(1));
        assert_eq!(run(&store.claim_script, &claim("h1", "s1"), &future), ok(1), "a retry");
        assert_eq!(
            run(&store.claim_script, &claim("h2", "s1"), &future).0,
            5,
            "another holder"
        );
        assert_eq!(
            run(&store.claim_script, &claim("h1", "s2"), &future).0,
            5,
            "another submission"
        );
        assert_eq!(run(&store.release_script, &["1", "h1"], &past).0, 4);
        assert_eq!(run(&store.release_script, &["1", "h2"], &future).0, 6, "not its claim");
        assert_eq!(run(&store.release_script, &["1", "h1"], &future).0, 1);
        assert_eq!(run(&store.claim_script, &claim("h2", "s1"), &future), ok(2));
        assert_eq!(
            run(&store.release_script, &["1", "h1"], &future).0,
            1,
            "a retried release"
        );
        let consume = |token: &'static str, holder: &'static str| [token, holder, "60000"];
        assert_eq!(run(&store.consume_claimed_script, &consume("1", "h1"), &future).0, 6);
        assert_eq!(run(&store.consume_claimed_script, &consume("2", "h2"), &past).0, 4);
        let consumed = (1, "application-9".to_owned(), 0);
        assert_eq!(
            run(&store.consume_claimed_script, &consume("2", "h2"), &future),
            consumed
        );
        assert_eq!(
            run(&store.consume_claimed_script, &consume("2", "h2"), &future),
            consumed
        );
        assert_eq!(run(&store.consume_claimed_script, &consume("2", "h1"), &future).0, 6);
        assert_eq!(run(&store.release_script, &["2", "h2"], &future).0, 2);
        assert_eq!(run(&store.claim_script, &claim("h2", "s1"), &future).0, 2);
        let _ = server.kill();
        let _ = server.wait();
    }

    /// The consume script on a real server: a retry with the call's token
    /// gets the context again, any other consume of a used nonce is a
    /// replay, and a consume past its deadline changes nothing.
    #[test]
    #[cfg_attr(no_redis_server, ignore = "needs redis-server (apt-get install redis-server)")]
    fn the_consume_script_is_idempotent_per_call_and_void_after_its_deadline() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let spawned = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn();
        let mut server = spawned.unwrap_or_else(|error| panic!("cannot start redis-server: {error}"));
        let store = RedisNonceStore::open(&format!("redis://127.0.0.1:{port}/")).unwrap();
        let mut connection = (0..100)
            .find_map(|_| {
                std::thread::sleep(Duration::from_millis(50));
                redis::Client::open(format!("redis://127.0.0.1:{port}/"))
                    .and_then(|client| client.get_connection())
                    .ok()
            })
            .unwrap();
        let nonce = store.issue("application-9", Duration::from_secs(60)).unwrap();
        let (live, seen) = store.keys(&nonce);
        let mut consume = |token: &str, deadline: u64| -> (i64, String) {
            let args = ["60000".to_owned(), token.to_owned(), deadline.to_string()];
            store.consume.run(&mut connection, &[&live, &seen], &args).unwrap()
        };
        let (past, future) = (1, u64::MAX / 2);
        assert_eq!(consume("token-a", past), (4, String::new()), "past its deadline");
        assert_eq!(consume("token-a", future), (1, "application-9".to_owned()));
        assert_eq!(
            consume("token-a", future),
            (1, "application-9".to_owned()),
            "the same call's retry"
        );
        assert_eq!(
            consume("token-b", future),
            (2, String::new()),
            "another consume: a replay"
        );
        assert_eq!(consume("token-a", past), (4, String::new()));
        let _ = server.kill();
        let _ = server.wait();
    }
}
