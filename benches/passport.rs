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
use telegram_passport::client::{self, PassportBuilder, SealedPassport};
use telegram_passport::{
    decrypt, CalendarDate, DataCredentials, Date, ElementType, FileCredentials, FileSlot, Gender, IdDocumentData,
    NonceCheck, PersonalDetails, PrivateKey, ResidentialAddress, Scope, ScopeElement, Validation, Validator,
};

fn key(name: &str) -> PrivateKey {
    let path = format!("{}/tests/data/keys/{name}", env!("CARGO_MANIFEST_DIR"));
    let pem = std::fs::read_to_string(path).unwrap_or_default();
    PrivateKey::from_pem(&pem).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Personal details, a passport with 3 files, an address, phone and e-mail.
fn typical(key: &PrivateKey) -> SealedPassport {
    let mut details = PersonalDetails::new("Anna", "Ivanova", Date::new("14.03.1991"), Gender::Female, "RU", "DE");
    details.first_name_native = Some("Анна".to_owned());
    details.last_name_native = Some("Иванова".to_owned());
    PassportBuilder::new()
        .personal_details(&details)
        .id_document(
            ElementType::Passport,
            &IdDocumentData::new("75 1234567", Some(Date::new("01.09.2031"))),
        )
        .file(ElementType::Passport, FileSlot::FrontSide, "front", vec![1; 1000])
        .file(ElementType::Passport, FileSlot::Selfie, "selfie", vec![2; 1000])
        .file(
            ElementType::Passport,
            FileSlot::Translation,
            "translation",
            vec![3; 1000],
        )
        .address(&ResidentialAddress::new("Unter den Linden 5", "Berlin", "DE", "10117"))
        .phone_number("4915112345678")
        .email("anna@example.org")
        .seal(&key.public_key(), "nonce")
        .unwrap_or_else(|e| panic!("{e}"))
}

fn passport(c: &mut Criterion) {
    let mut group = c.benchmark_group("passport");
    for name in ["rsa2048_pkcs1.pem", "rsa4096_pkcs1.pem"] {
        let key = key(name);
        let sealed = typical(&key);
        let bits = key.bits();
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
    for size in [100 << 10, 1 << 20, 10 << 20] {
        let encrypted = client::encrypt(&vec![0x5a; size]).unwrap_or_else(|e| panic!("{e}"));
        let credentials = FileCredentials::new(encrypted.hash, encrypted.secret.clone());
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
