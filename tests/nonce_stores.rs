//! Replay protection on both stores: the same behaviour from the in-memory
//! store and from a real Redis server (feature `redis`), including
//! concurrent consumers of one nonce over separate connections. The Redis
//! tests start their own `redis-server` on a free loopback port and stop it
//! afterwards; without one installed they say they are skipped (and fail
//! when `CI` is set).

mod common;

use std::sync::{Arc, Barrier};
use std::time::Duration;

use telegram_passport::client::PassportBuilder;
use telegram_passport::{decrypt, Error, MemoryNonceStore, NonceCheck, NonceStore};

const TTL: Duration = Duration::from_secs(60);

fn behaves_as_a_nonce_store(store: &dyn NonceStore) {
    let a = store.issue("session-a", TTL).unwrap();
    let b = store.issue("session-b", TTL).unwrap();
    assert_ne!(a, b);
    assert_eq!(store.consume(&b).unwrap(), "session-b");
    assert_eq!(store.consume(&a).unwrap(), "session-a");
    assert!(matches!(store.consume(&a), Err(Error::NonceReplayed)));
    assert!(matches!(store.consume("never-issued-nonce"), Err(Error::NonceUnknown)));
    assert!(matches!(store.consume("bad key*with spaces"), Err(Error::NonceUnknown)));
    assert!(matches!(store.consume(""), Err(Error::NonceUnknown)));

    let short = store.issue("session-c", Duration::from_millis(50)).unwrap();
    std::thread::sleep(Duration::from_millis(150));
    assert!(matches!(store.consume(&short), Err(Error::NonceExpired)));
}

/// `stores[i]` serves thread `i`; each round, every thread consumes the same
/// nonce at once, and exactly one must win.
fn exactly_one_consumer_wins(stores: Vec<Arc<dyn NonceStore>>, rounds: usize) {
    let threads = stores.len();
    let nonces: Vec<String> = (0..rounds)
        .map(|i| stores[0].issue(&format!("round-{i}"), TTL).unwrap())
        .collect();
    let nonces = Arc::new(nonces);
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = stores
        .into_iter()
        .map(|store| {
            let (nonces, barrier) = (Arc::clone(&nonces), Arc::clone(&barrier));
            std::thread::spawn(move || {
                nonces
                    .iter()
                    .map(|nonce| {
                        barrier.wait();
                        match store.consume(nonce) {
                            Ok(_) => 1,
                            Err(Error::NonceReplayed) => 0,
                            Err(other) => panic!("{other:?}"),
                        }
                    })
                    .collect::<Vec<u32>>()
            })
        })
        .collect();
    let results: Vec<Vec<u32>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for round in 0..rounds {
        let winners: u32 = results.iter().map(|r| r[round]).sum();
        assert_eq!(winners, 1, "round {round}: {winners} consumers succeeded");
    }
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
    exactly_one_consumer_wins(vec![shared; 8], 200);
}

#[cfg(feature = "redis")]
mod redis {
    use super::*;
    use std::net::{TcpListener, TcpStream};
    use std::process::{Child, Command, Stdio};
    use telegram_passport::RedisNonceStore;

    /// A `redis-server` on a free loopback port, stopped on drop.
    struct Server {
        child: Child,
        url: String,
    }

    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn start() -> Option<Server> {
        // In CI the server is installed, so a missing one is a failure there.
        let required = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false");
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let spawned = Command::new("redis-server")
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
            .stdout(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(error) if !required => {
                println!("SKIPPED: cannot start redis-server ({error}); install it to run the Redis tests");
                return None;
            }
            Err(error) => panic!("redis-server is required here: {error}"),
        };
        let server = Server {
            child,
            url: format!("redis://127.0.0.1:{port}/"),
        };
        for _ in 0..100 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(server);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not start listening on port {port}");
    }

    #[test]
    fn redis_store() {
        let Some(server) = start() else { return };
        let store = RedisNonceStore::open(&server.url).unwrap();
        behaves_as_a_nonce_store(&store);
        replayed_passport_data_is_refused(&store);

        // Separate store instances: separate clients and connections, as
        // separate backend instances would have.
        let stores: Vec<Arc<dyn NonceStore>> = (0..8)
            .map(|_| Arc::new(RedisNonceStore::open(&server.url).unwrap()) as Arc<dyn NonceStore>)
            .collect();
        exactly_one_consumer_wins(stores, 200);

        // An instance on another prefix does not see these nonces.
        let nonce = store.issue("x", TTL).unwrap();
        let other = RedisNonceStore::open(&server.url)
            .unwrap()
            .with_prefix("another-service");
        assert!(matches!(other.consume(&nonce), Err(Error::NonceUnknown)));
        assert_eq!(store.consume(&nonce).unwrap(), "x");
    }

    #[test]
    fn unreachable_redis_is_a_clear_error() {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let store = RedisNonceStore::open(&format!("redis://127.0.0.1:{port}/")).unwrap();
        let error = store.issue("x", TTL).unwrap_err();
        assert!(matches!(error, Error::NonceStore(_)), "{error:?}");
        assert!(error.to_string().starts_with("the nonce store failed: "), "{error}");
        assert!(matches!(RedisNonceStore::open("not a url"), Err(Error::NonceStore(_))));
    }
}
