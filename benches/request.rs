//! The request side: scope and link building and parsing, and a nonce's
//! issue + consume round on each store.
//!
//! ```text
//! cargo bench --bench request
//! # with a Redis server for the Redis store:
//! TELEGRAM_PASSPORT_BENCH_REDIS=redis://127.0.0.1:6379/ cargo bench --all-features --bench request
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use telegram_passport::ElementType::*;
use telegram_passport::{MemoryNonceStore, NonceStore, PassportRequest, PrivateKey, Scope, ScopeElement};

fn typical_scope() -> Scope {
    Scope::new([
        ScopeElement::one(PersonalDetails).native_names(),
        ScopeElement::one_of([Passport, IdentityCard, DriverLicense]).selfie(),
        Address.into(),
        PhoneNumber.into(),
        Email.into(),
    ])
    .unwrap_or_else(|e| panic!("{e}"))
}

fn links(c: &mut Criterion) {
    let pem = std::fs::read_to_string(format!(
        "{}/tests/data/keys/rsa2048_pkcs1.pem",
        env!("CARGO_MANIFEST_DIR")
    ));
    let key = PrivateKey::from_pem(&pem.unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
    let request = PassportRequest::new(123_456, typical_scope(), &key.public_key(), "nonce");
    let link = request.deep_link();
    let compact = typical_scope().to_compact_json();
    let mut group = c.benchmark_group("request");
    group.bench_function("scope_to_compact_json", |b| {
        b.iter(|| black_box(&request).scope().to_compact_json())
    });
    group.bench_function("scope_from_json", |b| b.iter(|| Scope::from_json(black_box(&compact))));
    group.bench_function("deep_link", |b| b.iter(|| black_box(&request).deep_link()));
    group.bench_function("parse_link", |b| {
        b.iter(|| PassportRequest::parse_link(black_box(&link)))
    });
    group.finish();
}

fn issue_and_consume(store: &dyn NonceStore) {
    let nonce = store
        .issue("session", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"));
    store.consume(&nonce).unwrap_or_else(|e| panic!("{e}"));
}

fn nonce_stores(c: &mut Criterion) {
    let mut group = c.benchmark_group("nonce_store");
    let memory = MemoryNonceStore::new();
    group.bench_function("memory_issue_consume", |b| b.iter(|| issue_and_consume(&memory)));
    #[cfg(feature = "redis")]
    if let Ok(url) = std::env::var("TELEGRAM_PASSPORT_BENCH_REDIS") {
        let redis = telegram_passport::RedisNonceStore::open(&url).unwrap_or_else(|e| panic!("{e}"));
        group.bench_function("redis_issue_consume", |b| b.iter(|| issue_and_consume(&redis)));
    }
    group.finish();
}

criterion_group!(benches, links, nonce_stores);
criterion_main!(benches);
