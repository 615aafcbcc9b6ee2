//! Replay protection and claims on both stores: the same behaviour from the
//! in-memory store and from a real Redis server (feature `redis`), including
//! concurrent consumers and claimants of one nonce over separate
//! connections, leases that run out, and a stalled server. The Redis
//! tests start their own `redis-server` on a free loopback port and stop it
//! afterwards; without one installed they say they are skipped (and fail
//! when `CI` is set).

mod common;

use std::sync::Arc;
use std::time::Duration;

use telegram_passport::client::PassportBuilder;
use telegram_passport::{decrypt, Error, MemoryNonceStore, NonceCheck, NonceStore};

const TTL: Duration = Duration::from_secs(60);

fn behaves_as_a_nonce_store(store: &dyn NonceStore) {
    let a = store.issue("session-a", TTL).unwrap();
    let b = store.issue("session-b", TTL).unwrap();
    assert_ne!(a, b);
    // Peeking consumes nothing, however often.
    assert_eq!(store.peek(&b).unwrap(), "session-b");
    assert_eq!(store.peek(&b).unwrap(), "session-b");
    assert_eq!(store.consume(&b).unwrap(), "session-b");
    assert!(matches!(store.peek(&b), Err(Error::NonceReplayed)));
    assert!(matches!(store.peek("never-issued-nonce"), Err(Error::NonceUnknown)));
    assert_eq!(store.consume(&a).unwrap(), "session-a");
    assert!(matches!(store.consume(&a), Err(Error::NonceReplayed)));
    assert!(matches!(store.consume("never-issued-nonce"), Err(Error::NonceUnknown)));
    assert!(matches!(store.consume("bad key*with spaces"), Err(Error::NonceUnknown)));
    assert!(matches!(store.consume(""), Err(Error::NonceUnknown)));

    let short = store.issue("session-c", Duration::from_millis(50)).unwrap();
    std::thread::sleep(Duration::from_millis(150));
    assert!(matches!(store.peek(&short), Err(Error::NonceExpired)));
    assert!(matches!(store.consume(&short), Err(Error::NonceExpired)));
}

const LEASE: Duration = Duration::from_secs(30);

/// Claims on one store; `other`, if given, is another holder on the same
/// nonces (another instance of the service).
fn claims_behave(store: &dyn NonceStore, other: Option<&dyn NonceStore>) {
    let nonce = store.issue("application-1", TTL).unwrap();
    let claim = store.claim(&nonce, "submission-a", LEASE).unwrap();
    assert_eq!((claim.nonce(), claim.context()), (nonce.as_str(), "application-1"));
    assert!(claim.lease_left() <= LEASE && claim.lease_left() > LEASE / 2);
    let taken = store.claim(&nonce, "submission-b", LEASE);
    assert!(
        matches!(taken, Err(Error::NonceClaimed { retry_after }) if retry_after <= LEASE),
        "{taken:?}"
    );
    if let Some(other) = other {
        // The same update at another instance: taken, not handed out twice.
        let taken = other.claim(&nonce, "submission-a", LEASE);
        assert!(
            matches!(taken, Err(Error::NonceClaimed { retry_after }) if retry_after <= LEASE),
            "{taken:?}"
        );
        // Claims are not consumes: peek still answers.
        assert_eq!(other.peek(&nonce).unwrap(), "application-1");
    }

    // A retryable failure: released, and claimed again at once with a higher token.
    store.release(&claim).unwrap();
    store.release(&claim).unwrap();
    let again = store.claim(&nonce, "submission-b", LEASE).unwrap();
    assert_eq!(again.token(), claim.token() + 1);
    // The released claim is fenced out.
    assert!(matches!(store.consume_claimed(&claim), Err(Error::ClaimLost)));

    // The same holder claiming the same submission after the answer was
    // lost (here: the Claim dropped) gets the same claim back.
    let (token, ends) = (again.token(), again.lease_ends());
    drop(again);
    let back = store.claim(&nonce, "submission-b", LEASE).unwrap();
    assert_eq!(back.token(), token);
    assert!(
        back.lease_ends() <= ends + Duration::from_millis(100),
        "the lease is not extended"
    );

    // Consumed once, the same claim's retry gets the context again.
    assert_eq!(store.consume_claimed(&back).unwrap(), "application-1");
    assert_eq!(store.consume_claimed(&back).unwrap(), "application-1");
    assert!(matches!(store.consume_claimed(&claim), Err(Error::ClaimLost)));
    assert!(matches!(store.release(&back), Err(Error::NonceReplayed)));
    assert!(matches!(
        store.claim(&nonce, "submission-b", LEASE),
        Err(Error::NonceReplayed)
    ));
    assert!(matches!(store.consume(&nonce), Err(Error::NonceReplayed)));
    if let Some(other) = other {
        assert!(matches!(
            other.claim(&nonce, "submission-a", LEASE),
            Err(Error::NonceReplayed)
        ));
    }

    // A nonce consumed without a claim: the claim's consume is a replay.
    let nonce = store.issue("application-2", TTL).unwrap();
    let claim = store.claim(&nonce, "submission-a", LEASE).unwrap();
    assert_eq!(store.consume(&nonce).unwrap(), "application-2");
    assert!(matches!(store.consume_claimed(&claim), Err(Error::NonceReplayed)));

    // Claims fail as consume does.
    assert!(matches!(
        store.claim("never-issued-nonce", "s", LEASE),
        Err(Error::NonceUnknown)
    ));
    assert!(matches!(
        store.claim("bad key*with spaces", "s", LEASE),
        Err(Error::NonceUnknown)
    ));
    assert!(matches!(
        store.claim(&nonce, "s", Duration::ZERO),
        Err(Error::InvalidLease { .. })
    ));
    let short = store.issue("application-3", Duration::from_millis(50)).unwrap();
    std::thread::sleep(Duration::from_millis(150));
    assert!(matches!(store.claim(&short, "s", LEASE), Err(Error::NonceExpired)));
}

/// A holder that dies: its lease runs out, `next` (another holder, or the
/// same store) claims with a higher token, and the old claim can neither
/// consume nor release.
fn a_lapsed_lease_is_fenced_out(store: &dyn NonceStore, next: &dyn NonceStore) {
    let lease = Duration::from_millis(500);
    let nonce = store.issue("application-4", TTL).unwrap();
    let dead = store.claim(&nonce, "submission-a", lease).unwrap();
    assert!(matches!(
        next.claim(&nonce, "submission-b", lease),
        Err(Error::NonceClaimed { .. })
    ));
    std::thread::sleep(lease + Duration::from_millis(100));
    let live = next.claim(&nonce, "submission-b", LEASE).unwrap();
    assert!(live.token() > dead.token(), "{live:?} after {dead:?}");
    assert!(matches!(store.consume_claimed(&dead), Err(Error::ClaimLost)));
    assert!(matches!(store.release(&dead), Err(Error::ClaimLost)));
    assert_eq!(next.consume_claimed(&live).unwrap(), "application-4");
    assert!(matches!(store.consume_claimed(&dead), Err(Error::ClaimLost)));

    // A lapsed lease nobody took over still consumes.
    let nonce = store.issue("application-5", TTL).unwrap();
    let slow = store.claim(&nonce, "submission-a", lease).unwrap();
    std::thread::sleep(lease + Duration::from_millis(100));
    assert_eq!(store.consume_claimed(&slow).unwrap(), "application-5");
}

fn replayed_passport_data_is_refused(store: &dyn NonceStore) {
    let key = common::key("keys/rsa2048_pkcs1.pem");
    let nonce = store.issue("application-9", TTL).unwrap();
    let sealed = PassportBuilder::new()
        .email("a@example.org")
        .seal(&key.public_key(), &nonce)
        .unwrap();
    let first = decrypt(&key, &sealed.passport_data, NonceCheck::Consume(store)).unwrap();
    assert_eq!(first.context(), Some("application-9"));
    assert_eq!(first.email(), Some("a@example.org"));
    // Byte-for-byte the same, valid data, sent again:
    let replay = decrypt(&key, &sealed.passport_data, NonceCheck::Consume(store));
    assert!(matches!(replay, Err(Error::NonceReplayed)), "{replay:?}");

    let forged = PassportBuilder::new()
        .email("a@example.org")
        .seal(&key.public_key(), "made-up")
        .unwrap();
    let unknown = decrypt(&key, &forged.passport_data, NonceCheck::Consume(store));
    assert!(matches!(unknown, Err(Error::NonceUnknown)), "{unknown:?}");

    // A failed decryption does not burn the nonce.
    let nonce = store.issue("application-10", TTL).unwrap();
    let mut sealed = PassportBuilder::new()
        .email("b@example.org")
        .seal(&key.public_key(), &nonce)
        .unwrap();
    let good = sealed.passport_data.clone();
    sealed.passport_data.data[0].email = None;
    assert!(decrypt(&key, &sealed.passport_data, NonceCheck::Consume(store)).is_err());
    assert_eq!(
        decrypt(&key, &good, NonceCheck::Consume(store)).unwrap().context(),
        Some("application-10")
    );
}

#[test]
fn memory_store() {
    let store = MemoryNonceStore::new();
    behaves_as_a_nonce_store(&store);
    replayed_passport_data_is_refused(&store);
    let shared: Arc<dyn NonceStore> = Arc::new(MemoryNonceStore::new());
    common::exactly_one_consumer_wins(vec![shared; 8], 200);
}

#[test]
fn memory_store_claims() {
    let store = MemoryNonceStore::new();
    claims_behave(&store, None);
    a_lapsed_lease_is_fenced_out(&store, &store);
    // One store shared by eight threads: one holder, whose claim alive
    // keeps even its own other handlers out.
    let shared: Arc<dyn NonceStore> = Arc::new(MemoryNonceStore::new());
    common::exactly_one_claimant_wins(vec![shared; 8], 60);
}

/// A flood of issues from anywhere, several times the capacity, never
/// makes the store refuse; an applicant's link lasts until `capacity` more
/// were issued after it, and a claimed one until its lease ends.
#[test]
fn a_full_memory_store_keeps_issuing() {
    let capacity = 2_000;
    let store = MemoryNonceStore::with_limits(capacity, Duration::from_secs(3600));
    let flood = |count: usize| {
        for _ in 0..count {
            store.issue("flood", TTL).unwrap();
        }
    };
    let claimed = store.issue("claimed", TTL).unwrap();
    let claim = store.claim(&claimed, "submission", LEASE).unwrap();
    flood(3 * capacity);
    let honest = store.issue("honest", TTL).unwrap();
    flood(capacity - 2);
    assert_eq!(store.live(), capacity);
    // Still held: capacity - 1 issued after it, and the claimed one.
    assert_eq!(store.peek(&honest).unwrap(), "honest");
    flood(1);
    assert!(matches!(store.peek(&honest), Err(Error::NonceUnknown)));
    // The claimed one outlived every other nonce of its age.
    assert_eq!(store.consume_claimed(&claim).unwrap(), "claimed");
    // A consumed nonce gives its room to the next issue before any live one.
    let next = store.issue("next", TTL).unwrap();
    assert_eq!(store.consume(&next).unwrap(), "next");
    let live = store.live();
    store.issue("more", TTL).unwrap();
    assert!(matches!(store.consume(&next), Err(Error::NonceUnknown)));
    assert_eq!(store.live(), live + 1);
}

#[test]
fn submission_keys_name_the_submission() {
    let key = common::key("keys/rsa2048_pkcs1.pem");
    let seal = || {
        PassportBuilder::new()
            .email("a@example.org")
            .seal(&key.public_key(), "nonce")
            .unwrap()
            .passport_data
    };
    let (first, second) = (seal(), seal());
    assert_eq!(first.submission_key(), first.clone().submission_key());
    assert_ne!(first.submission_key(), second.submission_key(), "a new submission");
    assert_eq!(first.submission_key(), first.credentials.submission_key());
    assert_eq!(first.submission_key().len(), 43);
}

#[cfg(feature = "redis")]
mod redis {
    use super::*;
    use std::net::TcpListener;
    use telegram_passport::RedisNonceStore;

    use common::redis_server::{start, start_persistent};

    #[test]
    #[cfg_attr(no_redis_server, ignore = "needs redis-server (apt-get install redis-server)")]
    fn redis_store() {
        let server = start();
        let store = RedisNonceStore::open(&server.url).unwrap();
        behaves_as_a_nonce_store(&store);
        replayed_passport_data_is_refused(&store);

        // Separate store instances: separate clients and connections, as
        // separate backend instances would have.
        let stores: Vec<Arc<dyn NonceStore>> = (0..8)
            .map(|_| Arc::new(RedisNonceStore::open(&server.url).unwrap()) as Arc<dyn NonceStore>)
            .collect();
        common::exactly_one_consumer_wins(stores, 200);

        // An instance on another prefix does not see these nonces.
        let nonce = store.issue("x", TTL).unwrap();
        let other = RedisNonceStore::open(&server.url)
            .unwrap()
            .with_prefix("another-service");
        assert!(matches!(other.consume(&nonce), Err(Error::NonceUnknown)));
        assert_eq!(store.consume(&nonce).unwrap(), "x");
    }

    #[test]
    #[cfg_attr(no_redis_server, ignore = "needs redis-server (apt-get install redis-server)")]
    fn redis_store_claims() {
        let server = start();
        let store = RedisNonceStore::open(&server.url).unwrap();
        let other = RedisNonceStore::open(&server.url).unwrap();
        claims_behave(&store, Some(&other));
        a_lapsed_lease_is_fenced_out(&store, &other);
        a_lapsed_lease_is_fenced_out(&store, &store);
        // Eight instances race for each of 60 nonces: one claim each.
        let stores: Vec<Arc<dyn NonceStore>> = (0..8)
            .map(|_| Arc::new(RedisNonceStore::open(&server.url).unwrap()) as Arc<dyn NonceStore>)
            .collect();
        common::exactly_one_claimant_wins(stores, 60);
        // The claim and its nonce's keys share one hash tag.
        let nonce = store.issue("x", TTL).unwrap();
        let _claim = store.claim(&nonce, "s", LEASE).unwrap();
        let claim_key = format!("telegram-passport:nonce:{{{nonce}}}:claim");
        assert_eq!(common::redis_server::cli(server.port, &["type", &claim_key]), "hash");
    }

    /// A stalled server: claim, consume_claimed and release fail fast as
    /// "unavailable"; once it resumes, the claim is made and consumed.
    #[test]
    #[cfg_attr(no_redis_server, ignore = "needs redis-server (apt-get install redis-server)")]
    fn a_stalled_server_fails_claims_fast() {
        let server = start();
        let store = RedisNonceStore::open(&server.url)
            .unwrap()
            .with_timeouts(Duration::from_millis(500), Duration::from_millis(300));
        let nonces = [store.issue("a", TTL).unwrap(), store.issue("b", TTL).unwrap()];
        let held = store.claim(&nonces[1], "s", LEASE).unwrap();
        server.signal("-STOP");
        let started = std::time::Instant::now();
        let claim = store.claim(&nonces[0], "s", LEASE);
        let consume = store.consume_claimed(&held);
        let release = store.release(&held);
        let waited = started.elapsed();
        server.signal("-CONT");
        for result in [claim.map(drop), consume.map(drop), release] {
            assert!(matches!(result, Err(Error::NonceStoreUnavailable(_))), "{result:?}");
        }
        // Generous: the point is no hang, not the exact timeout.
        assert!(waited < Duration::from_secs(6), "{waited:?}");
        let claim = store.claim(&nonces[0], "s", LEASE).unwrap();
        assert_eq!(store.consume_claimed(&claim).unwrap(), "a");
        assert_eq!(store.consume_claimed(&held).unwrap(), "b");
    }

    #[test]
    fn unreachable_redis_is_a_clear_error() {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let store = RedisNonceStore::open(&format!("redis://127.0.0.1:{port}/")).unwrap();
        let error = store.issue("x", TTL).unwrap_err();
        assert!(matches!(error, Error::NonceStoreUnavailable(_)), "{error:?}");
        assert!(
            error.to_string().starts_with("the nonce store is unavailable: "),
            "{error}"
        );
        assert!(matches!(RedisNonceStore::open("not a url"), Err(Error::NonceStore(_))));
    }

    /// A stalled server (SIGSTOP): calls fail after about one timeout with
    /// "unavailable", and consume nothing; once it resumes, all is as before.
    #[test]
    #[cfg_attr(no_redis_server, ignore = "needs redis-server (apt-get install redis-server)")]
    fn a_stalled_server_fails_fast_and_burns_nothing() {
        let server = start();
        let store = RedisNonceStore::open(&server.url)
            .unwrap()
            .with_timeouts(Duration::from_millis(500), Duration::from_millis(300));
        let nonce = store.issue("application-1", TTL).unwrap();
        server.signal("-STOP");
        for _ in 0..3 {
            let started = std::time::Instant::now();
            let error = store.consume(&nonce).unwrap_err();
            assert!(matches!(error, Error::NonceStoreUnavailable(_)), "{error:?}");
            // Generous: the point is no hang, not the exact timeout.
            assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        }
        assert!(matches!(store.issue("x", TTL), Err(Error::NonceStoreUnavailable(_))));
        server.signal("-CONT");
        assert_eq!(store.consume(&nonce).unwrap(), "application-1");
        assert!(matches!(store.consume(&nonce), Err(Error::NonceReplayed)));
    }

    /// A restarted server (with its data on disk): the pooled connections
    /// it dropped are replaced without the caller seeing an error, and the
    /// first consume after the restart is a success, not "replayed".
    #[test]
    #[cfg_attr(no_redis_server, ignore = "needs redis-server (apt-get install redis-server)")]
    fn a_restarted_server_is_reconnected_transparently() {
        let server = start_persistent();
        let store = RedisNonceStore::open(&server.url).unwrap();
        let nonces: Vec<String> = (0..4).map(|i| store.issue(&format!("app-{i}"), TTL).unwrap()).collect();
        // SIGKILL: the append-only file has every write (fsync always).
        let _server = server.restart();
        for (i, nonce) in nonces.iter().enumerate() {
            assert_eq!(store.consume(nonce).unwrap(), format!("app-{i}"));
        }
        assert!(matches!(store.consume(&nonces[0]), Err(Error::NonceReplayed)));
    }
}

/// The async API: the same contract, on the in-memory store and on Redis,
/// through `decrypt_and_consume`.
mod asynchronous {
    use super::*;
    use telegram_passport::client::PassportBuilder;
    use telegram_passport::{decrypt_and_consume, AsyncNonceStore, MemoryNonceStore};

    async fn behaves_as_a_nonce_store(store: &(impl AsyncNonceStore + 'static)) {
        let key = common::key("keys/rsa2048_pkcs1.pem");
        let nonce = store.issue("application-5", TTL).await.unwrap();
        assert_eq!(store.peek(&nonce).await.unwrap(), "application-5");
        let sealed = PassportBuilder::new()
            .email("a@example.org")
            .seal(&key.public_key(), &nonce)
            .unwrap();
        let passport = decrypt_and_consume(&key, &sealed.passport_data, store).await.unwrap();
        assert_eq!(passport.context(), Some("application-5"));
        let replayed = decrypt_and_consume(&key, &sealed.passport_data, store).await;
        assert!(matches!(replayed, Err(Error::NonceReplayed)), "{replayed:?}");
        assert!(matches!(store.peek(&nonce).await, Err(Error::NonceReplayed)));
        assert!(matches!(store.consume("never-issued").await, Err(Error::NonceUnknown)));
    }

    #[tokio::test]
    async fn memory_store() {
        behaves_as_a_nonce_store(&MemoryNonceStore::new()).await;
    }

    /// Claims through the async API: fencing after a release, the same
    /// claim's retry, and a claim whose future was dropped got back.
    async fn claims_behave(store: &(impl AsyncNonceStore + 'static), other: &(impl AsyncNonceStore + 'static)) {
        let nonce = store.issue("application-6", TTL).await.unwrap();
        let claim = store.claim(&nonce, "submission-a", LEASE).await.unwrap();
        assert_eq!(claim.context(), "application-6");
        let taken = other.claim(&nonce, "submission-a", LEASE).await;
        assert!(matches!(taken, Err(Error::NonceClaimed { .. })), "{taken:?}");
        store.release(&claim).await.unwrap();
        let again = other.claim(&nonce, "submission-a", LEASE).await.unwrap();
        assert!(again.token() > claim.token());
        assert!(matches!(store.consume_claimed(&claim).await, Err(Error::ClaimLost)));
        let token = again.token();
        drop(again);
        let back = other.claim(&nonce, "submission-a", LEASE).await.unwrap();
        assert_eq!(back.token(), token);
        assert_eq!(other.consume_claimed(&back).await.unwrap(), "application-6");
        assert_eq!(other.consume_claimed(&back).await.unwrap(), "application-6");
        assert!(matches!(
            store.claim(&nonce, "s", LEASE).await,
            Err(Error::NonceReplayed)
        ));
        assert!(matches!(
            store.claim("never-issued", "s", LEASE).await,
            Err(Error::NonceUnknown)
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memory_store_claims() {
        let store = MemoryNonceStore::new();
        claims_behave(&store, &store).await;
        let shared = Arc::new(MemoryNonceStore::new());
        common::exactly_one_claimant_wins_async(vec![shared; 8], 60).await;
    }

    #[cfg(feature = "redis-async")]
    mod redis {
        use super::*;
        use common::redis_server::{start, start_persistent};
        use telegram_passport::RedisNonceStore;

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        #[cfg_attr(no_redis_server, ignore = "needs redis-server (apt-get install redis-server)")]
        async fn redis_store() {
            let server = start();
            let store = RedisNonceStore::open(&server.url).unwrap();
            behaves_as_a_nonce_store(&store).await;
            // Eight instances race for each of 50 nonces: one winner each.
            let stores: Vec<Arc<RedisNonceStore>> = (0..8)
                .map(|_| Arc::new(RedisNonceStore::open(&server.url).unwrap()))
                .collect();
            common::exactly_one_consumer_wins_async(stores, 50).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        #[cfg_attr(no_redis_server, ignore = "needs redis-server (apt-get install redis-server)")]
        async fn redis_store_claims() {
            let server = start();
            let store = RedisNonceStore::open(&server.url).unwrap();
            let other = RedisNonceStore::open(&server.url).unwrap();
            claims_behave(&store, &other).await;
            let stores: Vec<Arc<RedisNonceStore>> = (0..8)
                .map(|_| Arc::new(RedisNonceStore::open(&server.url).unwrap()))
                .collect();
            common::exactly_one_claimant_wins_async(stores, 60).await;

            // A stalled server: the claim fails fast; once it resumes, it is made.
            let store = store.with_timeouts(Duration::from_millis(500), Duration::from_millis(300));
            let nonce = AsyncNonceStore::issue(&store, "application-7", TTL).await.unwrap();
            server.signal("-STOP");
            let started = std::time::Instant::now();
            let stalled = AsyncNonceStore::claim(&store, &nonce, "s", LEASE).await;
            let waited = started.elapsed();
            server.signal("-CONT");
            assert!(matches!(stalled, Err(Error::NonceStoreUnavailable(_))), "{stalled:?}");
            assert!(waited < Duration::from_secs(5), "{waited:?}");
            let claim = AsyncNonceStore::claim(&store, &nonce, "s", LEASE).await.unwrap();
            assert_eq!(
                AsyncNonceStore::consume_claimed(&store, &claim).await.unwrap(),
                "application-7"
            );
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        #[cfg_attr(no_redis_server, ignore = "needs redis-server (apt-get install redis-server)")]
        async fn a_stalled_then_restarted_server() {
            let server = start_persistent();
            let store = RedisNonceStore::open(&server.url)
                .unwrap()
                .with_timeouts(Duration::from_millis(500), Duration::from_millis(300));
            let nonces = [
                AsyncNonceStore::issue(&store, "a", TTL).await.unwrap(),
                AsyncNonceStore::issue(&store, "b", TTL).await.unwrap(),
            ];
            server.signal("-STOP");
            let started = std::time::Instant::now();
            let error = AsyncNonceStore::consume(&store, &nonces[0]).await.unwrap_err();
            assert!(matches!(error, Error::NonceStoreUnavailable(_)), "{error:?}");
            assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
            server.signal("-CONT");
            assert_eq!(AsyncNonceStore::consume(&store, &nonces[0]).await.unwrap(), "a");
            let _server = server.restart();
            assert_eq!(AsyncNonceStore::consume(&store, &nonces[1]).await.unwrap(), "b");
            let replayed = AsyncNonceStore::consume(&store, &nonces[0]).await;
            assert!(matches!(replayed, Err(Error::NonceReplayed)), "{replayed:?}");
        }
    }
}
