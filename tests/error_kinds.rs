//! What a caller does about an error: real failures, from the public API,
//! each with its group (`kind`), whether a retry may succeed, and its code.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::time::Duration;

use telegram_passport::client::PassportBuilder;
use telegram_passport::{
    decrypt, Error, ErrorKind, MemoryNonceStore, NonceCheck, NonceStore, PassportData, PrivateKey, Scope,
};

/// The group, retryability and code of `error`, with its text for failures.
fn class(error: &Error) -> (ErrorKind, bool, &'static str) {
    (error.kind(), error.is_retryable(), error.code())
}

fn key() -> PrivateKey {
    common::key("keys/rsa2048_pkcs1.pem")
}

#[test]
fn input_that_cannot_be_opened_or_read_is_input_and_final() {
    let key = key();
    let other = PrivateKey::generate().unwrap();
    let sealed = PassportBuilder::new()
        .email("a@example.org")
        .seal(&other.public_key(), "nonce-1")
        .unwrap();
    let error = decrypt(&key, &sealed.passport_data, NonceCheck::Skip).unwrap_err();
    assert_eq!(class(&error), (ErrorKind::Input, false, "decryption"), "{error}");

    let error = PassportData::from_json(b"{").unwrap_err();
    assert_eq!(class(&error), (ErrorKind::Input, false, "json"), "{error}");
    let error = PassportData::from_json(b"[]").unwrap_err();
    assert_eq!(class(&error), (ErrorKind::Input, false, "not_an_object"), "{error}");
}

#[test]
fn the_nonces_refusals_are_nonce_and_final() {
    let store = MemoryNonceStore::new();
    let nonce = store.issue("application-1", Duration::from_secs(60)).unwrap();
    store.consume(&nonce).unwrap();
    let error = store.consume(&nonce).unwrap_err();
    assert_eq!(class(&error), (ErrorKind::Nonce, false, "nonce_replayed"), "{error}");
    let error = store.consume("never-issued").unwrap_err();
    assert_eq!(class(&error), (ErrorKind::Nonce, false, "nonce_unknown"), "{error}");

    let key = key();
    let sealed = PassportBuilder::new()
        .email("a@example.org")
        .seal(&key.public_key(), "nonce-1")
        .unwrap();
    let error = decrypt(&key, &sealed.passport_data, NonceCheck::Expect("nonce-2")).unwrap_err();
    assert_eq!(class(&error), (ErrorKind::Nonce, false, "nonce_mismatch"), "{error}");
}

#[test]
fn a_claimed_nonce_is_worth_retrying() {
    let store = MemoryNonceStore::new();
    let nonce = store.issue("application-1", Duration::from_secs(60)).unwrap();
    let _held = store.claim(&nonce, "submission-a", Duration::from_secs(30)).unwrap();
    let error = store
        .claim(&nonce, "submission-b", Duration::from_secs(30))
        .unwrap_err();
    assert_eq!(class(&error), (ErrorKind::Nonce, true, "nonce_claimed"), "{error}");
}

#[test]
fn the_callers_own_arguments_are_usage() {
    let store = MemoryNonceStore::new();
    let error = store.issue("application-1", Duration::ZERO).unwrap_err();
    assert_eq!(class(&error), (ErrorKind::Usage, false, "invalid_ttl"), "{error}");
    let error = Scope::from_json(r#"{"v":1,"data":[]}"#).unwrap_err();
    assert_eq!(class(&error), (ErrorKind::Usage, false, "invalid_scope"), "{error}");
    let error = telegram_passport::bot_id_from_token("no-colon").unwrap_err();
    assert_eq!(class(&error), (ErrorKind::Usage, false, "invalid_bot_token"), "{error}");
}

#[test]
fn key_mistakes_are_key_and_final() {
    let public = key().public_key().to_pem();
    let error = PrivateKey::from_pem(&public).unwrap_err();
    assert_eq!(class(&error), (ErrorKind::Key, false, "key_format"), "{error}");
    let error = PrivateKey::generate_with_bits(1024).unwrap_err();
    assert_eq!(class(&error), (ErrorKind::Key, false, "key_size"), "{error}");
}

/// A store that cannot be reached decided nothing: a retry may succeed.
#[cfg(feature = "redis")]
#[test]
fn an_unreachable_store_is_worth_retrying() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store = telegram_passport::RedisNonceStore::open(&format!("redis://127.0.0.1:{port}"))
        .unwrap()
        .with_timeouts(Duration::from_millis(200), Duration::from_millis(200));
    let error = store.issue("application-1", Duration::from_secs(60)).unwrap_err();
    assert_eq!(
        class(&error),
        (ErrorKind::NonceStore, true, "nonce_store_unavailable"),
        "{error}"
    );
}

/// Reading the encrypted bytes failed: nothing was decided about them.
#[test]
fn a_failed_read_is_io_and_worth_retrying() {
    let key = key();
    let sealed = PassportBuilder::new()
        .file(
            telegram_passport::ElementType::UtilityBill,
            telegram_passport::FileSlot::Files,
            "bill",
            vec![7; 4000],
        )
        .seal(&key.public_key(), "nonce-1")
        .unwrap();
    let passport = decrypt(&key, &sealed.passport_data, NonceCheck::Skip).unwrap();
    let file = passport.address_documents().next().unwrap().files()[0].clone();
    struct Failing;
    impl std::io::Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "download cut"))
        }
    }
    let target = tempfile::tempdir().unwrap();
    let error = file.decrypt_to_path(Failing, &target.path().join("bill")).unwrap_err();
    assert_eq!(class(&error), (ErrorKind::Io, true, "io"), "{error}");
    assert!(!target.path().join("bill").exists());
}
