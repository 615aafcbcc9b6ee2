//! Claims per second on the stores a service with several instances
//! shares: a claim and its consume (the two calls a submission makes), from
//! 16 tasks at once, on Redis and on PostgreSQL, each a real server the
//! bench starts on loopback (with the in-memory store for scale).
//!
//! ```text
//! cargo bench --features postgres,redis-async --bench claims
//! ```
//!
//! Each figure is the time per claimed-and-consumed nonce, with 16 claims in
//! flight; its inverse is claims per second. Nonces are issued before the
//! clock starts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use telegram_passport::{AsyncNonceStore, MemoryNonceStore, PostgresNonceStore, RedisNonceStore};
use telegram_passport_dev_support::{postgres_server, redis_server};

const TASKS: usize = 16;

/// `iterations` nonces claimed and consumed by [`TASKS`] tasks; the time
/// from the first claim to the last consume.
async fn claim_and_consume<S: AsyncNonceStore + 'static>(store: &Arc<S>, iterations: u64) -> Duration {
    let mut nonces = Vec::new();
    for _ in 0..iterations {
        nonces.push(
            store
                .issue("application", Duration::from_secs(600))
                .await
                .unwrap_or_else(|e| panic!("{e}")),
        );
    }
    let per_task = nonces.len().div_ceil(TASKS).max(1);
    let started = Instant::now();
    let tasks: Vec<_> = nonces
        .chunks(per_task)
        .map(|chunk| {
            let (store, chunk) = (Arc::clone(store), chunk.to_vec());
            tokio::spawn(async move {
                for nonce in chunk {
                    let claim = store
                        .claim(&nonce, "submission", Duration::from_secs(30))
                        .await
                        .unwrap_or_else(|e| panic!("{e}"));
                    store.consume_claimed(&claim).await.unwrap_or_else(|e| panic!("{e}"));
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap_or_else(|e| panic!("{e}"));
    }
    started.elapsed()
}

fn claims(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let redis_server = redis_server::start();
    let postgres_server = postgres_server::start();
    let memory = Arc::new(MemoryNonceStore::new());
    let redis = Arc::new(RedisNonceStore::open(&redis_server.url).unwrap_or_else(|e| panic!("{e}")));
    let postgres = Arc::new(PostgresNonceStore::open(&postgres_server.url).unwrap_or_else(|e| panic!("{e}")));
    runtime.block_on(postgres.migrate()).unwrap_or_else(|e| panic!("{e}"));

    let mut group = c.benchmark_group("claim_and_consume");
    group.throughput(Throughput::Elements(1));
    group.sample_size(20);
    group.bench_function("memory", |b| {
        b.iter_custom(|n| runtime.block_on(claim_and_consume(&memory, n)))
    });
    group.bench_function("redis", |b| {
        b.iter_custom(|n| runtime.block_on(claim_and_consume(&redis, n)))
    });
    group.bench_function("postgres", |b| {
        b.iter_custom(|n| runtime.block_on(claim_and_consume(&postgres, n)))
    });
    group.finish();
}

criterion_group!(benches, claims);
criterion_main!(benches);
