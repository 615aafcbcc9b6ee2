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

// Key rings: the current key and older ones.

mod ring {
    use std::sync::Arc;

    use telegram_passport::client::PassportBuilder;
    use telegram_passport::mtproto;
    use telegram_passport::{
        decrypt, decrypt_and_consume, AsyncNonceStore, CredentialsKey, Error, KeyRing, MemoryNonceStore, NonceCheck,
        PassportRequest, PrivateKey, Scope, ScopeElement,
    };

    fn sealed_to(key: &PrivateKey, nonce: &str) -> telegram_passport::client::SealedPassport {
        PassportBuilder::new()
            .email(&format!("{nonce}@example.org"))
            .seal(&key.public_key(), nonce)
            .unwrap()
    }

    #[test]
    fn a_ring_opens_what_was_sealed_to_any_of_its_keys_and_requests_carry_the_current_key() {
        let (new, old, older) = (
            PrivateKey::generate().unwrap(),
            PrivateKey::generate().unwrap(),
            PrivateKey::generate().unwrap(),
        );
        let sealed = [
            sealed_to(&new, "new"),
            sealed_to(&old, "old"),
            sealed_to(&older, "older"),
        ];
        let new_public = new.public_key();
        let ring = KeyRing::new(new).with_older(old).with_older(older);
        assert_eq!(ring.public_key(), new_public);
        assert_eq!(ring.current().public_key(), new_public);
        assert_eq!(ring.keys().count(), 3);
        let request = PassportRequest::new(
            1,
            Scope::new([ScopeElement::one(telegram_passport::ElementType::Email)]).unwrap(),
            &ring.public_key(),
            "n",
        );
        assert!(request
            .deep_link()
            .contains(&urlencoded_first_line(&new_public.to_pem())));
        for (sealed, nonce) in sealed.iter().zip(["new", "old", "older"]) {
            let passport = decrypt(&ring, &sealed.passport_data, NonceCheck::Expect(nonce)).unwrap();
            assert_eq!(passport.email(), Some(format!("{nonce}@example.org").as_str()));
            // The lower level too.
            let credentials = sealed.passport_data.credentials.decrypt(&ring).unwrap();
            assert_eq!(credentials.nonce(), nonce);
        }
    }

    /// The base64 of the PEM's first key line, as a link percent-encodes it.
    fn urlencoded_first_line(pem: &str) -> String {
        let line = pem.lines().nth(1).unwrap();
        line.chars()
            .take(20)
            .map(|c| match c {
                '+' => "%2B".to_owned(),
                '/' => "%2F".to_owned(),
                c => c.to_string(),
            })
            .collect()
    }

    #[test]
    fn when_no_key_of_the_ring_opens_it_the_error_is_the_one_opaque_decryption_error() {
        let stranger = PrivateKey::generate().unwrap();
        let sealed = sealed_to(&stranger, "n");
        let ring = KeyRing::new(PrivateKey::generate().unwrap()).with_older(PrivateKey::generate().unwrap());
        let from_ring = decrypt(&ring, &sealed.passport_data, NonceCheck::Skip).unwrap_err();
        let from_one = decrypt(
            &PrivateKey::generate().unwrap(),
            &sealed.passport_data,
            NonceCheck::Skip,
        )
        .unwrap_err();
        assert!(matches!(from_ring, Error::Decryption(_)), "{from_ring:?}");
        assert_eq!(from_ring.to_string(), from_one.to_string());
        assert_eq!(from_ring.to_string(), "could not decrypt credentials");
    }

    #[test]
    fn every_form_of_key_is_taken_by_every_receive_path() {
        let (new, old) = (PrivateKey::generate().unwrap(), PrivateKey::generate().unwrap());
        let sealed = sealed_to(&old, "n");
        let ring = Arc::new(KeyRing::new(new).with_older(old));
        let as_dyn: &dyn CredentialsKey = ring.as_ref();
        let boxed: Box<dyn CredentialsKey> = Box::new(KeyRing::new(PrivateKey::generate().unwrap()));
        assert!(decrypt(&ring, &sealed.passport_data, NonceCheck::Skip).is_ok());
        assert!(decrypt(as_dyn, &sealed.passport_data, NonceCheck::Skip).is_ok());
        assert!(decrypt(&&*ring, &sealed.passport_data, NonceCheck::Skip).is_ok());
        assert!(decrypt(&boxed, &sealed.passport_data, NonceCheck::Skip).is_err());
        // A ring inside a ring.
        let nested = KeyRing::new(PrivateKey::generate().unwrap()).with_older(Arc::clone(&ring));
        assert!(decrypt(&nested, &sealed.passport_data, NonceCheck::Skip).is_ok());
        // MTProto.
        let sent = sealed.mtproto.clone();
        assert_eq!(mtproto::decrypt(as_dyn, &sent, NonceCheck::Skip).unwrap().nonce(), "n");
        assert_eq!(sent.credentials.decrypt(&ring).unwrap().nonce(), "n");
        // Async, with a store.
        let store = MemoryNonceStore::new();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            let nonce = AsyncNonceStore::issue(&store, "ctx", std::time::Duration::from_secs(60))
                .await
                .unwrap();
            let (new, old) = (PrivateKey::generate().unwrap(), PrivateKey::generate().unwrap());
            let sealed = sealed_to(&old, &nonce);
            let ring = KeyRing::new(new).with_older(old);
            let passport = decrypt_and_consume(&ring, &sealed.passport_data, &store).await.unwrap();
            assert_eq!(passport.context(), Some("ctx"));
            let sent = sealed.mtproto.clone();
            let replayed = mtproto::decrypt_and_consume(&ring, &sent, &store).await.unwrap_err();
            assert!(matches!(replayed, Error::NonceReplayed), "{replayed:?}");
        });
    }

    #[test]
    fn a_ring_shows_its_keys_and_no_key_material() {
        let key = PrivateKey::generate().unwrap();
        let ring = KeyRing::new(key).with_older(PrivateKey::generate().unwrap());
        assert_eq!(
            format!("{ring:?}"),
            "KeyRing { current: PrivateKey { bits: 2048, .. }, older: [PrivateKey { bits: 2048, .. }] }"
        );
    }
}
