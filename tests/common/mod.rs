//! Helpers shared by the integration tests: fixture loading and comparison,
//! nonce-store races, Redis servers, and the examples as executables.

#![allow(dead_code, unreachable_pub, unused_imports)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

pub use telegram_passport_dev_support::cli;
pub mod examples;
pub use telegram_passport_dev_support::redis_server;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};

use base64::Engine as _;
use serde_json::Value;
use telegram_passport::{AsyncNonceStore, Error, FileCredentials, NonceStore, PrivateKey, Secret, Sha256Hash};

pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

pub fn load(relative: &str) -> Value {
    let path = data_dir().join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

pub fn key(relative: &str) -> PrivateKey {
    let pem = std::fs::read_to_string(data_dir().join(relative)).unwrap();
    PrivateKey::from_pem(&pem).unwrap()
}

pub fn b64(value: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(value.as_str().unwrap())
        .unwrap()
}

pub fn hex(value: &Value) -> Vec<u8> {
    let text = value.as_str().unwrap();
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

pub fn file_credentials(hash: &[u8], secret: &[u8]) -> FileCredentials {
    FileCredentials::new(
        Sha256Hash::from_slice(hash).unwrap(),
        Secret::from_slice(secret).unwrap(),
    )
}

/// Asserts that every field of `expected` is in `actual` with the same value
/// (objects may have more fields; arrays must match element for element).
pub fn assert_subset(expected: &Value, actual: &Value, path: &str) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, v) in e {
                let got = a.get(k).unwrap_or_else(|| panic!("{path}.{k} missing in {actual}"));
                assert_subset(v, got, &format!("{path}.{k}"));
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            assert_eq!(e.len(), a.len(), "{path}: length");
            for (i, (e, a)) in e.iter().zip(a).enumerate() {
                assert_subset(e, a, &format!("{path}[{i}]"));
            }
        }
        _ => assert_eq!(expected, actual, "{path}"),
    }
}

/// One nonce a round, its context naming the round.
fn issue_rounds(store: &dyn NonceStore, rounds: usize) -> Arc<Vec<String>> {
    let issue = |i| {
        store
            .issue(&format!("round-{i}"), std::time::Duration::from_secs(60))
            .unwrap()
    };
    Arc::new((0..rounds).map(issue).collect())
}

/// `stores[i]` serves thread `i`; each round, every thread consumes the same
/// nonce at once, and exactly one must win.
pub fn exactly_one_consumer_wins(stores: Vec<Arc<dyn NonceStore>>, rounds: usize) {
    let threads = stores.len();
    let nonces = issue_rounds(stores[0].as_ref(), rounds);
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

/// The lease of the claim races.
pub const RACE_LEASE: std::time::Duration = std::time::Duration::from_secs(30);

/// The submission key racer `i` claims with: the same update delivered to
/// every even racer, another submission of the same nonce to every odd one.
pub fn racer_submission(i: usize) -> String {
    format!("submission-{}", i % 2)
}

/// `stores[i]` serves thread `i`; each round, every thread claims the same
/// nonce at once: exactly one gets the claim (and its context), every other
/// one `NonceClaimed` with a wait no longer than the lease. Racers report
/// what went wrong instead of panicking, so that none is left at a barrier.
pub fn exactly_one_claimant_wins(stores: Vec<Arc<dyn NonceStore>>, rounds: usize) {
    let threads = stores.len();
    let nonces = issue_rounds(stores[0].as_ref(), rounds);
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = stores
        .into_iter()
        .enumerate()
        .map(|(i, store)| {
            let (nonces, barrier) = (Arc::clone(&nonces), Arc::clone(&barrier));
            std::thread::spawn(move || {
                let claims: Vec<_> = nonces
                    .iter()
                    .enumerate()
                    .map(|(round, nonce)| {
                        barrier.wait();
                        claimed(store.claim(nonce, &racer_submission(i), RACE_LEASE), round)
                    })
                    .collect();
                // Claims are held until every round is over.
                barrier.wait();
                claims
                    .into_iter()
                    .map(|claim| claim.map(|claim| u32::from(claim.is_some())))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let results: Vec<Vec<Result<u32, String>>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for round in 0..rounds {
        let mut winners = 0;
        for result in &results {
            winners += result[round]
                .as_ref()
                .unwrap_or_else(|problem| panic!("round {round}: {problem}"));
        }
        assert_eq!(winners, 1, "round {round}: {winners} claimants succeeded");
    }
}

/// The async twin of [`exactly_one_consumer_wins`]: every store (separate
/// pools, as separate instances) races to consume each of `rounds` nonces;
/// exactly one wins each, the rest are told "replayed".
pub async fn exactly_one_consumer_wins_async<S: AsyncNonceStore + 'static>(stores: Vec<Arc<S>>, rounds: usize) {
    for round in 0..rounds {
        let nonce = stores[0]
            .issue(&format!("r{round}"), std::time::Duration::from_secs(60))
            .await
            .unwrap();
        let racers: Vec<_> = stores
            .iter()
            .map(|store| {
                let (store, nonce) = (Arc::clone(store), nonce.clone());
                tokio::spawn(async move { store.consume(&nonce).await })
            })
            .collect();
        let mut winners = 0;
        for racer in racers {
            match racer.await.unwrap() {
                Ok(context) => {
                    assert_eq!(context, format!("r{round}"));
                    winners += 1;
                }
                Err(error) => assert!(matches!(error, Error::NonceReplayed), "{error:?}"),
            }
        }
        assert_eq!(winners, 1, "round {round}");
    }
}

/// The async twin of [`exactly_one_claimant_wins`]: tasks instead of threads.
pub async fn exactly_one_claimant_wins_async<S: AsyncNonceStore + 'static>(stores: Vec<Arc<S>>, rounds: usize) {
    for round in 0..rounds {
        let nonce = stores[0]
            .issue(&format!("round-{round}"), std::time::Duration::from_secs(60))
            .await
            .unwrap();
        let racers: Vec<_> = stores
            .iter()
            .enumerate()
            .map(|(i, store)| {
                let (store, nonce) = (Arc::clone(store), nonce.clone());
                tokio::spawn(async move { store.claim(&nonce, &racer_submission(i), RACE_LEASE).await })
            })
            .collect();
        let mut claims = Vec::new();
        for racer in racers {
            claims.extend(claimed(racer.await.unwrap(), round).unwrap());
        }
        assert_eq!(claims.len(), 1, "round {round}: {} claimants succeeded", claims.len());
    }
}

/// A racer's claim, none if it was told to wait, or what was wrong.
fn claimed(
    result: Result<telegram_passport::Claim, Error>,
    round: usize,
) -> Result<Option<telegram_passport::Claim>, String> {
    match result {
        Ok(claim) if claim.context() != format!("round-{round}") || claim.lease_left() > RACE_LEASE => {
            Err(format!("{claim:?}"))
        }
        Ok(claim) => Ok(Some(claim)),
        Err(Error::NonceClaimed { retry_after }) if retry_after <= RACE_LEASE => Ok(None),
        Err(other) => Err(format!("{other:?}")),
    }
}
