//! Key loading against keys written by an independent implementation
//! (Python `cryptography`, tests/data/generate.py).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::data_dir;
use telegram_passport::{Error, PrivateKey, PublicKey};

fn read(name: &str) -> String {
    std::fs::read_to_string(data_dir().join("keys").join(name)).unwrap()
}

fn read_bytes(name: &str) -> Vec<u8> {
    std::fs::read(data_dir().join("keys").join(name)).unwrap()
}

#[test]
fn every_supported_encoding_loads_the_same_key() {
    let reference = read("rsa2048_public.pem");
    let keys = [
        PrivateKey::from_pem(&read("rsa2048_pkcs1.pem")).unwrap(),
        PrivateKey::from_pem(&read("rsa2048_pkcs1_crlf.pem")).unwrap(),
        PrivateKey::from_pem(&read("rsa2048_pkcs8.pem")).unwrap(),
        PrivateKey::from_der(&read_bytes("rsa2048_pkcs1.der")).unwrap(),
        PrivateKey::from_der(&read_bytes("rsa2048_pkcs8.der")).unwrap(),
    ];
    assert!(read("rsa2048_pkcs1_crlf.pem").contains("\r\n"));
    for key in &keys {
        assert_eq!(key.bits(), 2048);
        // Byte-exact against the SPKI PEM the other implementation wrote.
        assert_eq!(key.public_key().to_pem(), reference);
    }
    assert_eq!(PublicKey::from_pem(&reference).unwrap(), keys[0].public_key());
}

#[test]
fn sizes_from_2048_to_4096_load() {
    assert_eq!(PrivateKey::from_pem(&read("rsa3072_pkcs8.pem")).unwrap().bits(), 3072);
    assert_eq!(PrivateKey::from_pem(&read("rsa4096_pkcs1.pem")).unwrap().bits(), 4096);
}

#[test]
fn unusable_keys_get_clear_errors() {
    let error = |name: &str| PrivateKey::from_pem(&read(name)).unwrap_err();
    assert!(matches!(error("rsa1024_pkcs1.pem"), Error::KeySize { bits: 1024 }));
    assert!(matches!(error("rsa8192_pkcs1.pem"), Error::KeySize { bits: 8192 }));
    assert!(matches!(error("ec_p256_pkcs8.pem"), Error::KeyNotRsa { .. }));
    assert!(matches!(error("ed25519_pkcs8.pem"), Error::KeyNotRsa { .. }));
    assert!(matches!(error("rsa2048_encrypted_pkcs8.pem"), Error::KeyEncrypted));
    assert!(matches!(error("garbage.pem"), Error::KeyMalformed { .. }));
    assert!(matches!(error("rsa2048_public.pem"), Error::KeyMalformed { .. }));
    assert!(matches!(PrivateKey::from_pem("hello"), Err(Error::KeyMalformed { .. })));
    assert!(matches!(
        PrivateKey::from_der(b"\x30\x03\x02\x01\x00"),
        Err(Error::KeyMalformed { .. })
    ));
    assert!(matches!(PrivateKey::from_der(&[]), Err(Error::KeyMalformed { .. })));

    let message = error("ec_p256_pkcs8.pem").to_string();
    assert!(message.contains("not an RSA key"), "{message}");
    let message = error("rsa1024_pkcs1.pem").to_string();
    assert!(
        message.contains("1024 bits") && message.contains("2048 to 4096"),
        "{message}"
    );
}

#[test]
fn generated_keys_round_trip_through_pem() {
    let key = PrivateKey::generate().unwrap();
    assert_eq!(key.bits(), 2048);
    let pem = key.to_pem().unwrap();
    assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    let again = PrivateKey::from_pem(&pem).unwrap();
    assert_eq!(again.public_key(), key.public_key());
    assert_ne!(PrivateKey::generate().unwrap().public_key(), key.public_key());
}

#[test]
fn debug_shows_no_key_material() {
    let key = PrivateKey::from_pem(&read("rsa2048_pkcs1.pem")).unwrap();
    let debug = format!("{key:?} {:?}", key.public_key());
    assert_eq!(debug, "PrivateKey { bits: 2048, .. } PublicKey { bits: 2048 }");
}
