//! `RedisNonceStore` on a real three-master Redis Cluster on loopback
//! (`redis-server --cluster-enabled yes` ×3, `redis-cli --cluster create`):
//! nonces spread over the masters, and issue, peek, consume, replay, expiry
//! and exactly-once racing hold across nodes and across store instances
//! that know the cluster through different nodes, and so do claims (one
//! holder at a time, fencing, retries); a stalled master fails fast while
//! the others serve; a restarted master is reconnected.

#![cfg(feature = "redis-cluster")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::redis_server::Cluster;
use telegram_passport::{AsyncNonceStore, Error, NonceStore, RedisNonceStore};

const TTL: Duration = Duration::from_secs(60);
const LEASE: Duration = Duration::from_secs(30);

/// A store that knows the cluster only through node `seed`.
fn store(cluster: &Cluster, seed: usize) -> RedisNonceStore {
    RedisNonceStore::open_cluster([cluster.nodes[seed].url.as_str()])
        .unwrap()
        .with_timeouts(Duration::from_millis(500), Duration::from_millis(300))
}

fn live_key(nonce: &str) -> String {
    format!("telegram-passport:nonce:{{{nonce}}}:live")
}

/// Nonces issued until each of the three masters holds at least one; by node.
fn one_nonce_per_node(cluster: &Cluster, store: &RedisNonceStore) -> [String; 3] {
    let mut found: [Option<String>; 3] = Default::default();
    for i in 0..200 {
        let nonce = NonceStore::issue(store, &format!("application-{i}"), TTL).unwrap();
        let owner = cluster.owner(&live_key(&nonce));
        found[owner].get_or_insert(nonce);
        if found.iter().all(Option::is_some) {
            return found.map(Option::unwrap);
        }
    }
    panic!("200 nonces did not reach all three masters");
}

/// On each master, through two instances with different seed nodes: one
/// claim at a time, the released claim fenced out, the consume retried.
fn claims_hold_across_nodes(cluster: &Cluster, a: &RedisNonceStore, b: &RedisNonceStore) {
    for nonce in one_nonce_per_node(cluster, a) {
        // The claim lives with its nonce's keys, on one node.
        let claim_key = format!("telegram-passport:nonce:{{{nonce}}}:claim");
        assert_eq!(cluster.owner(&claim_key), cluster.owner(&live_key(&nonce)));
        let first = NonceStore::claim(a, &nonce, "submission", LEASE).unwrap();
        let taken = NonceStore::claim(b, &nonce, "submission", LEASE);
        assert!(matches!(taken, Err(Error::NonceClaimed { .. })), "{taken:?}");
        NonceStore::release(a, &first).unwrap();
        let second = NonceStore::claim(b, &nonce, "submission", LEASE).unwrap();
        assert_eq!(second.token(), first.token() + 1);
        assert!(matches!(NonceStore::consume_claimed(a, &first), Err(Error::ClaimLost)));
        let context = NonceStore::consume_claimed(b, &second).unwrap();
        assert_eq!(context, first.context());
        assert_eq!(NonceStore::consume_claimed(b, &second).unwrap(), context);
        let replay = NonceStore::claim(a, &nonce, "submission", LEASE);
        assert!(matches!(replay, Err(Error::NonceReplayed)), "{replay:?}");
    }
}

#[test]
#[cfg_attr(no_redis_server, ignore = "needs redis-server (apt-get install redis-server)")]
fn nonces_spread_over_the_masters_and_are_consumed_exactly_once() {
    let cluster = Cluster::start();
    let (a, b) = (store(&cluster, 0), store(&cluster, 2));

    let nonces: Vec<String> = (0..30)
        .map(|i| NonceStore::issue(&a, &format!("application-{i}"), TTL).unwrap())
        .collect();
    let mut per_node = [0; 3];
    for nonce in &nonces {
        let owner = cluster.owner(&live_key(nonce));
        // Both keys of a nonce share its hash tag: one node holds both.
        assert_eq!(
            cluster.owner(&format!("telegram-passport:nonce:{{{nonce}}}:seen")),
            owner
        );
        assert_eq!(
            common::redis_server::cli(cluster.nodes[owner].port, &["exists", &live_key(nonce)]),
            "1"
        );
        per_node[owner] += 1;
    }
    assert!(per_node.iter().filter(|&&n| n > 0).count() >= 2, "{per_node:?}");

    // Issued through one seed node, peeked and consumed through another.
    for (i, nonce) in nonces.iter().enumerate() {
        assert_eq!(NonceStore::peek(&b, nonce).unwrap(), format!("application-{i}"));
        assert_eq!(NonceStore::consume(&b, nonce).unwrap(), format!("application-{i}"));
        let replay = NonceStore::consume(&a, nonce);
        assert!(matches!(replay, Err(Error::NonceReplayed)), "{replay:?}");
    }
    assert!(matches!(
        NonceStore::consume(&b, "never-issued"),
        Err(Error::NonceUnknown)
    ));
    let short = NonceStore::issue(&a, "short", Duration::from_millis(50)).unwrap();
    std::thread::sleep(Duration::from_millis(150));
    assert!(matches!(NonceStore::consume(&b, &short), Err(Error::NonceExpired)));

    // Eight instances, each through its own seed node and connections,
    // race for each of 60 nonces (spread over all masters): one winner each.
    let racers = (0..8).map(|i| Arc::new(store(&cluster, i % 3)) as Arc<dyn NonceStore>);
    common::exactly_one_consumer_wins(racers.collect(), 60);

    claims_hold_across_nodes(&cluster, &a, &b);
    // And claim each of 60 nonces: one claim each.
    let racers = (0..8).map(|i| Arc::new(store(&cluster, i % 3)) as Arc<dyn NonceStore>);
    common::exactly_one_claimant_wins(racers.collect(), 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(no_redis_server, ignore = "needs redis-server (apt-get install redis-server)")]
async fn the_async_api_on_the_cluster() {
    let cluster = Cluster::start();
    let (a, b) = (store(&cluster, 1), store(&cluster, 2));
    let nonces = one_nonce_per_node(&cluster, &a);
    for nonce in &nonces {
        let context = AsyncNonceStore::peek(&b, nonce).await.unwrap();
        assert_eq!(AsyncNonceStore::consume(&b, nonce).await.unwrap(), context);
        let replay = AsyncNonceStore::consume(&a, nonce).await;
        assert!(matches!(replay, Err(Error::NonceReplayed)), "{replay:?}");
    }
    let issued = AsyncNonceStore::issue(&b, "async", TTL).await.unwrap();
    assert_eq!(NonceStore::consume(&a, &issued).unwrap(), "async");

    // Claims: made through one seed node, fenced and consumed through another.
    for nonce in one_nonce_per_node(&cluster, &a) {
        let first = AsyncNonceStore::claim(&a, &nonce, "submission", LEASE).await.unwrap();
        let taken = AsyncNonceStore::claim(&b, &nonce, "submission", LEASE).await;
        assert!(matches!(taken, Err(Error::NonceClaimed { .. })), "{taken:?}");
        AsyncNonceStore::release(&a, &first).await.unwrap();
        let second = AsyncNonceStore::claim(&b, &nonce, "submission", LEASE).await.unwrap();
        assert!(matches!(
            AsyncNonceStore::consume_claimed(&a, &first).await,
            Err(Error::ClaimLost)
        ));
        let context = AsyncNonceStore::consume_claimed(&b, &second).await.unwrap();
        assert_eq!(context, first.context());
    }
}

/// A stalled master (SIGSTOP): its nonces fail fast as "unavailable" and
/// are not consumed; the other masters keep serving; once it resumes, all
/// is as before.
#[test]
#[cfg_attr(no_redis_server, ignore = "needs redis-server (apt-get install redis-server)")]
fn a_stalled_master_fails_fast_while_the_others_serve() {
    let cluster = Cluster::start();
    let store = store(&cluster, 0);
    let nonces = one_nonce_per_node(&cluster, &store);
    // Another instance, its pooled connection made before the stall.
    let claimer = self::store(&cluster, 1);
    assert!(NonceStore::peek(&claimer, &nonces[0]).is_ok());
    cluster.nodes[1].signal("-STOP");
    let started = Instant::now();
    let stalled = NonceStore::consume(&store, &nonces[1]);
    let waited = started.elapsed();
    let started = Instant::now();
    let stalled_claim = NonceStore::claim(&claimer, &nonces[1], "submission", LEASE);
    let waited_claim = started.elapsed();
    let healthy = NonceStore::consume(&store, &nonces[2]);
    cluster.nodes[1].signal("-CONT");
    assert!(matches!(stalled, Err(Error::NonceStoreUnavailable(_))), "{stalled:?}");
    assert!(
        matches!(stalled_claim, Err(Error::NonceStoreUnavailable(_))),
        "{stalled_claim:?}"
    );
    // Generous: the point is no hang, not the exact timeout.
    assert!(waited < Duration::from_secs(4), "{waited:?}");
    assert!(waited_claim < Duration::from_secs(4), "{waited_claim:?}");
    assert!(healthy.is_ok(), "{healthy:?}");
    println!(
        "a consume on the stalled master failed after {waited:.2?}, a claim after {waited_claim:.2?} \
         (300 ms read timeout, retried)"
    );
    cluster.wait_until_ok();
    assert!(NonceStore::consume(&store, &nonces[1]).is_ok());
    assert!(matches!(
        NonceStore::consume(&store, &nonces[1]),
        Err(Error::NonceReplayed)
    ));
}

/// A master killed and restarted with its data: the stores reconnect and
/// its nonces are consumed, not "replayed".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(no_redis_server, ignore = "needs redis-server (apt-get install redis-server)")]
async fn a_restarted_master_is_reconnected() {
    let mut cluster = Cluster::start();
    let store = store(&cluster, 0);
    let nonces = one_nonce_per_node(&cluster, &store);
    let second = one_nonce_per_node(&cluster, &store);
    // Both APIs have live connections to every master before the restart.
    assert!(AsyncNonceStore::peek(&store, &nonces[0]).await.is_ok());
    let node = cluster.nodes.remove(2);
    cluster.nodes.insert(2, node.restart());
    cluster.wait_until_ok();
    let context = NonceStore::consume(&store, &nonces[2]).unwrap();
    assert!(context.starts_with("application-"), "{context}");
    let context = AsyncNonceStore::consume(&store, &second[2]).await.unwrap();
    assert!(context.starts_with("application-"), "{context}");
    assert!(matches!(
        NonceStore::consume(&store, &nonces[2]),
        Err(Error::NonceReplayed)
    ));
}
