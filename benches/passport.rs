//! The decryption hot path: a whole typical `PassportData`, the credentials
//! alone (RSA + symmetric + JSON), element data with decoding (100 B–2 KB),
//! and files from 100 KB to 10 MB, in memory and streaming.
//!
//! ```text
//! cargo bench --bench passport
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use telegram_passport::client::{self, SealedPassport};
use telegram_passport::{
    decrypt, CalendarDate, DataCredentials, Date, ElementType, Gender, NonceCheck, PersonalDetails, PrivateKey, Scope,
    ScopeElement, Validation, Validator,
};

mod payloads;

fn key(bits: usize) -> PrivateKey {
    payloads::test_key(bits)
        .unwrap_or_else(|e| panic!("RSA-{bits}: {e}"))
        .key
}

fn typical(key: &PrivateKey) -> SealedPassport {
    payloads::typical(key).unwrap_or_else(|e| panic!("{e}"))
}

fn passport(c: &mut Criterion) {
    let mut group = c.benchmark_group("passport");
    for bits in payloads::KEY_BITS {
        let key = key(bits);
        let sealed = typical(&key);
        group.bench_function(BenchmarkId::new("decrypt_typical", bits), |b| {
            b.iter(|| decrypt(&key, black_box(&sealed.passport_data), NonceCheck::Expect("nonce")))
        });
        if bits == 2048 {
            let scope = Scope::new([
                ScopeElement::one(ElementType::PersonalDetails).native_names(),
                ScopeElement::one_of([ElementType::Passport, ElementType::IdentityCard]),
                ElementType::Address.into(),
                ElementType::PhoneNumber.into(),
                ElementType::Email.into(),
            ])
            .unwrap_or_else(|e| panic!("{e}"));
            let today = CalendarDate::new(2026, 11, 23).unwrap_or_else(|| panic!("date"));
            let validator = Validator::new(&scope, today);
            let passport = decrypt(&key, &sealed.passport_data, NonceCheck::Skip).unwrap_or_else(|e| panic!("{e}"));
            let outcome = validator.validate(passport.clone());
            assert!(matches!(outcome, Validation::Accepted(_)), "{outcome:?}");
            group.bench_function("validate_typical", |b| {
                b.iter(|| matches!(validator.validate(black_box(passport.clone())), Validation::Accepted(_)))
            });
        }
        group.bench_function(BenchmarkId::new("credentials", bits), |b| {
            b.iter(|| black_box(&sealed.passport_data.credentials).decrypt(&key))
        });
    }
    group.finish();
}

fn element_data(c: &mut Criterion) {
    let mut group = c.benchmark_group("element_data");
    for size in [100usize, 300, 1000, 2000] {
        // A PersonalDetails JSON of about `size` bytes.
        let mut details = PersonalDetails::new("Anna", "Ivanova", Date::new("14.03.1991"), Gender::Female, "RU", "DE");
        let filler = size.saturating_sub(serde_json::to_vec(&details).map_or(0, |v| v.len()) + 20);
        details.middle_name = Some("x".repeat(filler));
        let json = serde_json::to_vec(&details).unwrap_or_default();
        let encrypted = client::encrypt(&json).unwrap_or_else(|e| panic!("{e}"));
        let credentials = DataCredentials::new(encrypted.hash, encrypted.secret.clone());
        group.throughput(Throughput::Bytes(json.len() as u64));
        group.bench_function(BenchmarkId::new("decrypt_and_decode", json.len()), |b| {
            b.iter(|| {
                let plaintext = credentials
                    .decrypt(black_box(encrypted.data.clone()))
                    .unwrap_or_else(|e| panic!("{e}"));
                serde_json::from_slice::<PersonalDetails>(&plaintext).map(|d| d.first_name.len())
            })
        });
    }
    group.finish();
}

fn files(c: &mut Criterion) {
    let mut group = c.benchmark_group("file");
    group.measurement_time(Duration::from_secs(4));
    for size in payloads::FILE_SIZES {
        let payloads::TestFile {
            encrypted, credentials, ..
        } = payloads::file(size).unwrap_or_else(|e| panic!("{e}"));
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::new("in_memory", size), |b| {
            b.iter_batched_ref(
                || encrypted.data.clone(),
                |buf| credentials.decrypt_in_place(black_box(buf)).map(<[u8]>::len),
                BatchSize::LargeInput,
            )
        });
        group.bench_function(BenchmarkId::new("in_memory_pipelined", size), |b| {
            b.iter_batched(
                || encrypted.data.clone(),
                |buf| credentials.decrypt_pipelined(black_box(buf)).map(|p| p.len()),
                BatchSize::LargeInput,
            )
        });
        group.bench_function(BenchmarkId::new("streaming", size), |b| {
            b.iter(|| {
                let mut sink = std::io::sink();
                credentials
                    .decrypt_stream(black_box(&encrypted.data[..]), &mut sink)
                    .map(|_| ())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, passport, element_data, files);
criterion_main!(benches);
