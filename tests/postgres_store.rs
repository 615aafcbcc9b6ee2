//! The PostgreSQL store (feature `postgres`) against a real server that
//! each test starts in a temporary folder: the stores' whole contract
//! (written once, async, and run on the in-memory and Redis stores too, so
//! that all three are held to the same answers), many tasks on separate
//! connections racing for one nonce, a lapsed lease fenced out, the server
//! stalled and crashed mid-run, the schema created once by instances that
//! start together, and every failure to reach the server "unavailable",
//! never "replayed" or "unknown". Without PostgreSQL's server programs
//! these tests say they are skipped (and fail when `CI` is set).
#![cfg(feature = "postgres")]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use telegram_passport::client::PassportBuilder;
use telegram_passport::{decrypt_and_consume, AsyncNonceStore, Error, MemoryNonceStore, PostgresNonceStore};
use telegram_passport_dev_support::postgres_server::{self, psql};

const TTL: Duration = Duration::from_secs(60);
const LEASE: Duration = Duration::from_secs(30);

/// Issue, peek, consume, expiry and the refusals, through the async API.
async fn behaves_as_a_nonce_store(store: &(impl AsyncNonceStore + 'static)) {
    let a = store.issue("session-a", TTL).await.unwrap();
    let b = store.issue("session-b", TTL).await.unwrap();
    assert_ne!(a, b);
    assert_eq!(store.peek(&b).await.unwrap(), "session-b");
    assert_eq!(store.peek(&b).await.unwrap(), "session-b");
    assert_eq!(store.consume(&b).await.unwrap(), "session-b");
    assert!(matches!(store.peek(&b).await, Err(Error::NonceReplayed)));
    assert!(matches!(
        store.peek("never-issued-nonce").await,
        Err(Error::NonceUnknown)
    ));
    assert_eq!(store.consume(&a).await.unwrap(), "session-a");
    assert!(matches!(store.consume(&a).await, Err(Error::NonceReplayed)));
    assert!(matches!(
        store.consume("never-issued-nonce").await,
        Err(Error::NonceUnknown)
    ));
    assert!(matches!(
        store.consume("bad key*with spaces").await,
        Err(Error::NonceUnknown)
    ));
    assert!(matches!(store.consume("").await, Err(Error::NonceUnknown)));
    let short = store.issue("session-c", Duration::from_millis(50)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(matches!(store.peek(&short).await, Err(Error::NonceExpired)));
    assert!(matches!(store.consume(&short).await, Err(Error::NonceExpired)));

    // Replayed data is refused, however valid.
    let key = common::key("keys/rsa2048_pkcs1.pem");
    let nonce = store.issue("application-9", TTL).await.unwrap();
    let sealed = PassportBuilder::new()
        .email("a@example.org")
        .seal(&key.public_key(), &nonce)
        .unwrap();
    let first = decrypt_and_consume(&key, &sealed.passport_data, store).await.unwrap();
    assert_eq!(first.context(), Some("application-9"));
    let replay = decrypt_and_consume(&key, &sealed.passport_data, store).await;
    assert!(matches!(replay, Err(Error::NonceReplayed)), "{replay:?}");
}

/// Claims on one store; `other` is another holder on the same nonces
/// (another instance of the service).
async fn claims_behave(store: &(impl AsyncNonceStore + 'static), other: &(impl AsyncNonceStore + 'static)) {
    let nonce = store.issue("application-1", TTL).await.unwrap();
    let claim = store.claim(&nonce, "submission-a", LEASE).await.unwrap();
    assert_eq!((claim.nonce(), claim.context()), (nonce.as_str(), "application-1"));
    assert!(claim.lease_left() <= LEASE && claim.lease_left() > LEASE / 2);
    let taken = store.claim(&nonce, "submission-b", LEASE).await;
    assert!(
        matches!(taken, Err(Error::NonceClaimed { retry_after }) if retry_after <= LEASE && retry_after > LEASE / 2),
        "{taken:?}"
    );
    let taken = other.claim(&nonce, "submission-a", LEASE).await;
    assert!(matches!(taken, Err(Error::NonceClaimed { .. })), "{taken:?}");
    assert_eq!(other.peek(&nonce).await.unwrap(), "application-1");

    // Released (twice: idempotent), claimed again at once with the next token.
    store.release(&claim).await.unwrap();
    store.release(&claim).await.unwrap();
    let again = store.claim(&nonce, "submission-b", LEASE).await.unwrap();
    assert_eq!(again.token(), claim.token() + 1);
    assert!(matches!(store.consume_claimed(&claim).await, Err(Error::ClaimLost)));
    // A release retried after a later claim was made still succeeds.
    store.release(&claim).await.unwrap();

    // The same holder and submission after a lost answer: the same claim.
    let (token, ends) = (again.token(), again.lease_ends());
    drop(again);
    let back = store.claim(&nonce, "submission-b", LEASE).await.unwrap();
    assert_eq!(back.token(), token);
    assert!(
        back.lease_ends() <= ends + Duration::from_millis(100),
        "the lease is not extended"
    );

    assert_eq!(store.consume_claimed(&back).await.unwrap(), "application-1");
    assert_eq!(store.consume_claimed(&back).await.unwrap(), "application-1");
    assert!(matches!(store.consume_claimed(&claim).await, Err(Error::ClaimLost)));
    assert!(matches!(store.release(&back).await, Err(Error::NonceReplayed)));
    assert!(matches!(
        store.claim(&nonce, "submission-b", LEASE).await,
        Err(Error::NonceReplayed)
    ));
    assert!(matches!(store.consume(&nonce).await, Err(Error::NonceReplayed)));
    assert!(matches!(
        other.claim(&nonce, "submission-a", LEASE).await,
        Err(Error::NonceReplayed)
    ));

    // Consumed without its claim: the claim's consume is a replay.
    let nonce = store.issue("application-2", TTL).await.unwrap();
    let claim = store.claim(&nonce, "submission-a", LEASE).await.unwrap();
    assert_eq!(store.consume(&nonce).await.unwrap(), "application-2");
    assert!(matches!(store.consume_claimed(&claim).await, Err(Error::NonceReplayed)));

    assert!(matches!(
        store.claim("never-issued-nonce", "s", LEASE).await,
        Err(Error::NonceUnknown)
    ));
    assert!(matches!(
        store.claim("bad key*with spaces", "s", LEASE).await,
        Err(Error::NonceUnknown)
    ));
    assert!(matches!(
        store.claim(&nonce, "s", Duration::ZERO).await,
        Err(Error::InvalidLease { .. })
    ));
    let short = store.issue("application-3", Duration::from_millis(50)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(matches!(
        store.claim(&short, "s", LEASE).await,
        Err(Error::NonceExpired)
    ));
}

/// A holder that dies: its lease runs out, `next` claims with a higher
/// token, and the old claim can neither consume nor release; a lapsed
/// lease nobody took over still consumes.
async fn a_lapsed_lease_is_fenced_out(
    store: &(impl AsyncNonceStore + 'static),
    next: &(impl AsyncNonceStore + 'static),
) {
    let lease = Duration::from_millis(500);
    let nonce = store.issue("application-4", TTL).await.unwrap();
    let dead = store.claim(&nonce, "submission-a", lease).await.unwrap();
    assert!(matches!(
        next.claim(&nonce, "submission-b", lease).await,
        Err(Error::NonceClaimed { .. })
    ));
    tokio::time::sleep(lease + Duration::from_millis(100)).await;
    let live = next.claim(&nonce, "submission-b", LEASE).await.unwrap();
    assert!(live.token() > dead.token(), "{live:?} after {dead:?}");
    assert!(matches!(store.consume_claimed(&dead).await, Err(Error::ClaimLost)));
    assert!(matches!(store.release(&dead).await, Err(Error::ClaimLost)));
    assert_eq!(next.consume_claimed(&live).await.unwrap(), "application-4");
    assert!(matches!(store.consume_claimed(&dead).await, Err(Error::ClaimLost)));

    let nonce = store.issue("application-5", TTL).await.unwrap();
    let slow = store.claim(&nonce, "submission-a", lease).await.unwrap();
    tokio::time::sleep(lease + Duration::from_millis(100)).await;
    assert_eq!(store.consume_claimed(&slow).await.unwrap(), "application-5");
}

/// The contract on the two stores the PostgreSQL one is measured against.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contract_holds_in_memory() {
    let store = MemoryNonceStore::new();
    behaves_as_a_nonce_store(&store).await;
    claims_behave(&store, &store).await;
    a_lapsed_lease_is_fenced_out(&store, &store).await;
}

#[cfg(feature = "redis-async")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(no_redis_server, ignore = "needs redis-server (apt-get install redis-server)")]
async fn the_contract_holds_on_redis() {
    use telegram_passport::RedisNonceStore;
    let server = common::redis_server::start();
    let store = RedisNonceStore::open(&server.url).unwrap();
    let other = RedisNonceStore::open(&server.url).unwrap();
    behaves_as_a_nonce_store(&store).await;
    claims_behave(&store, &other).await;
    a_lapsed_lease_is_fenced_out(&store, &other).await;
}

fn open(server: &postgres_server::Server) -> PostgresNonceStore {
    PostgresNonceStore::open(&server.url).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(no_postgres_server, ignore = "needs postgresql (apt-get install postgresql)")]
async fn the_contract_holds_on_postgres() {
    let server = postgres_server::start();
    let store = open(&server);
    let other = open(&server);
    behaves_as_a_nonce_store(&store).await;
    claims_behave(&store, &other).await;
    a_lapsed_lease_is_fenced_out(&store, &other).await;
    a_lapsed_lease_is_fenced_out(&store, &store).await;

    // Another table is another set of nonces.
    let nonce = store.issue("x", TTL).await.unwrap();
    let elsewhere = open(&server).with_table("another_service").unwrap();
    assert!(matches!(elsewhere.consume(&nonce).await, Err(Error::NonceUnknown)));
    assert_eq!(store.consume(&nonce).await.unwrap(), "x");
    for bad in ["", "Nonces", "a-b", "x; DROP TABLE y", "1st"] {
        let refused = open(&server).with_table(bad);
        assert!(matches!(refused, Err(Error::NonceStore(_))), "{bad}: {refused:?}");
    }
}

/// Many tasks on separate connections and pools race for each nonce:
/// one consumer, one claimant, every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(no_postgres_server, ignore = "needs postgresql (apt-get install postgresql)")]
async fn many_instances_race_and_one_wins() {
    let server = postgres_server::start();
    let stores: Vec<Arc<PostgresNonceStore>> = (0..8).map(|_| Arc::new(open(&server))).collect();
    common::exactly_one_consumer_wins_async(stores.clone(), 50).await;
    common::exactly_one_claimant_wins_async(stores, 60).await;
}

/// Instances that start together create the schema once, without tripping
/// over each other's DDL; a schema newer than this build is refused as
/// unexpected data, never used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(no_postgres_server, ignore = "needs postgresql (apt-get install postgresql)")]
async fn the_schema_is_made_once_and_a_newer_one_refused() {
    let server = postgres_server::start();
    let starting: Vec<_> = (0..8)
        .map(|_| {
            let store = open(&server);
            tokio::spawn(async move { store.migrate().await })
        })
        .collect();
    for instance in starting {
        instance.await.unwrap().unwrap();
    }
    assert_eq!(
        psql(&server, "SELECT count(*) FROM telegram_passport_nonces_schema").unwrap(),
        "1"
    );
    psql(&server, "INSERT INTO telegram_passport_nonces_schema VALUES (99)").unwrap();
    let newer = open(&server).issue("x", TTL).await;
    assert!(matches!(newer, Err(Error::NonceStoreUnexpectedData(_))), "{newer:?}");
    assert!(!newer.unwrap_err().is_retryable());
}

/// Rows past their retention are removed as nonces are issued; until
/// then, a used nonce is "replayed", after it "unknown".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(no_postgres_server, ignore = "needs postgresql (apt-get install postgresql)")]
async fn forgotten_rows_are_removed() {
    let server = postgres_server::start();
    let store = open(&server).with_retention(Duration::from_millis(200));
    let used = store.issue("a", TTL).await.unwrap();
    store.consume(&used).await.unwrap();
    let expired = store.issue("b", Duration::from_millis(100)).await.unwrap();
    assert!(matches!(store.consume(&used).await, Err(Error::NonceReplayed)));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(matches!(store.consume(&used).await, Err(Error::NonceUnknown)));
    assert!(matches!(store.consume(&expired).await, Err(Error::NonceUnknown)));
    let count = || psql(&server, "SELECT count(*) FROM telegram_passport_nonces").unwrap();
    assert_eq!(count(), "2");
    store.issue("c", TTL).await.unwrap();
    assert_eq!(count(), "1", "issuing removed the forgotten rows");
}

/// A stalled server (every process stopped): each call fails after about
/// one timeout with "unavailable" and decides nothing; once it resumes,
/// everything is as before: the nonce consumed once, the claim made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(no_postgres_server, ignore = "needs postgresql (apt-get install postgresql)")]
async fn a_stalled_server_fails_fast_and_decides_nothing() {
    let server = postgres_server::start();
    let store = open(&server).with_timeouts(Duration::from_millis(500), Duration::from_millis(300));
    let nonces = [
        store.issue("a", TTL).await.unwrap(),
        store.issue("b", TTL).await.unwrap(),
        store.issue("c", TTL).await.unwrap(),
    ];
    let held = store.claim(&nonces[1], "s", LEASE).await.unwrap();
    server.signal("-STOP");
    let started = Instant::now();
    let results = [
        store.consume(&nonces[0]).await.map(drop),
        store.claim(&nonces[2], "s", LEASE).await.map(drop),
        store.consume_claimed(&held).await.map(drop),
        store.release(&held).await,
        store.issue("d", TTL).await.map(drop),
    ];
    let waited = started.elapsed();
    server.signal("-CONT");
    for result in &results {
        assert!(matches!(result, Err(Error::NonceStoreUnavailable(_))), "{result:?}");
        assert!(result.as_ref().unwrap_err().is_retryable());
    }
    // Five calls, each about one timeout; generous: the point is no hang.
    assert!(waited < Duration::from_secs(8), "{waited:?}");
    assert_eq!(store.consume(&nonces[0]).await.unwrap(), "a");
    assert!(matches!(store.consume(&nonces[0]).await, Err(Error::NonceReplayed)));
    assert_eq!(store.consume_claimed(&held).await.unwrap(), "b");
    let claim = store.claim(&nonces[2], "s", LEASE).await.unwrap();
    assert_eq!(store.consume_claimed(&claim).await.unwrap(), "c");
}

/// The server crashes (every connection cut), stays down 1.5 s and
/// recovers while tasks
/// keep claiming and consuming: every answer is the truth or
/// "unavailable" (retried until it is the truth), never "replayed" or
/// "unknown" for a nonce that was live, and each nonce is consumed exactly
/// once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(no_postgres_server, ignore = "needs postgresql (apt-get install postgresql)")]
async fn a_crashed_and_restarted_server_loses_and_doubles_nothing() {
    let server = postgres_server::start();
    let store = Arc::new(open(&server).with_timeouts(Duration::from_millis(500), Duration::from_secs(1)));
    let nonces: Vec<String> = {
        let mut nonces = Vec::new();
        for i in 0..120 {
            nonces.push(store.issue(&format!("app-{i}"), TTL).await.unwrap());
        }
        nonces
    };
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = nonces
        .chunks(30)
        .map(|chunk| {
            let (store, chunk, done) = (Arc::clone(&store), chunk.to_vec(), Arc::clone(&done));
            tokio::spawn(async move {
                let mut unavailable = 0;
                for nonce in &chunk {
                    let claim = loop {
                        match store.claim(nonce, "submission", LEASE).await {
                            Ok(claim) => break claim,
                            Err(Error::NonceStoreUnavailable(_)) => unavailable += 1,
                            Err(error) => panic!("claim: {error:?}"),
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    };
                    loop {
                        match store.consume_claimed(&claim).await {
                            Ok(context) => {
                                assert!(context.starts_with("app-"));
                                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                                break;
                            }
                            Err(Error::NonceStoreUnavailable(_)) => unavailable += 1,
                            Err(error) => panic!("consume: {error:?}"),
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    tokio::time::sleep(Duration::from_millis(40)).await;
                }
                unavailable
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let before = done.load(std::sync::atomic::Ordering::SeqCst);
    let down = Duration::from_millis(1500);
    let server = tokio::task::spawn_blocking(move || server.restart_after(down))
        .await
        .unwrap();
    let after = done.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        before > 0 && after < 120,
        "the crash came mid-run: {before} done before it, {after} once it was back"
    );
    let mut unavailable = 0;
    for worker in workers {
        unavailable += worker.await.unwrap();
    }
    println!(
        "120 nonces claimed and consumed across a crash ({before} before it, {after} once back): \
         {unavailable} answers were 'unavailable' and retried"
    );
    assert!(unavailable > 0, "calls made while the server was down were told so");
    for nonce in &nonces {
        assert!(
            matches!(store.consume(nonce).await, Err(Error::NonceReplayed)),
            "{nonce}"
        );
    }
    let consumed = psql(
        &server,
        "SELECT count(*) FROM telegram_passport_nonces WHERE consumed_by LIKE 'claim:%'",
    )
    .unwrap();
    assert_eq!(consumed, "120");
}

/// No server at all: "unavailable" after the connect timeout; a URL that
/// is not one is refused at once; `Debug` never shows the password.
#[tokio::test]
async fn unreachable_and_malformed() {
    let port = common::redis_server::free_port(false);
    let store = PostgresNonceStore::open(&format!("postgres://kyc:s3cret-pw@127.0.0.1:{port}/kyc"))
        .unwrap()
        .with_timeouts(Duration::from_millis(300), Duration::from_millis(300));
    assert!(!format!("{store:?}").contains("s3cret-pw"), "{store:?}");
    let started = Instant::now();
    let error = store.issue("x", TTL).await.unwrap_err();
    assert!(matches!(error, Error::NonceStoreUnavailable(_)), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(matches!(
        PostgresNonceStore::open("not a url"),
        Err(Error::NonceStore(_))
    ));
}
