//! The audit trail (feature `tracing`): every step of a submission leaves
//! an event (received, decrypted or refused, nonce, validated), and no
//! event or span carries a name, a number, a date, an address, a phone
//! number, an e-mail address, file bytes, a nonce or a secret. Captured
//! with a real subscriber, in the form a log file would hold.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use telegram_passport::client::PassportBuilder;
use telegram_passport::{
    decrypt, CalendarDate, Date, ElementType, FileSlot, Gender, IdDocumentData, MemoryNonceStore, NonceCheck,
    NonceStore, PersonalDetails, ResidentialAddress, Scope, ScopeElement, Validation, Validator,
};

/// Everything the subscriber wrote.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What the user's app sends: distinctive values, so that any of them in
/// the log would be found.
const PERSONAL: [&str; 12] = [
    "Zoetrope",
    "Quixotic",
    "Зоя",
    "17.06.1983",
    "QZ-998877",
    "01.01.2020",
    "Xylophone Street 42",
    "Vladivostok",
    "690091",
    "4915199988877",
    "zq@example.org",
    "nonce-ZX81-secret",
];

#[test]
fn every_step_is_logged_and_nothing_personal_or_secret() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        // No timestamps: their digits could hold a marker searched for
        // below (a birth year in the microseconds).
        .without_time()
        .finish();
    let key = common::key("keys/rsa2048_pkcs1.pem");
    let photo = b"\xff\xd8PHOTO-BYTES-MARKER".to_vec();

    let (plaintexts, secrets) = tracing::subscriber::with_default(subscriber, || {
        let store = MemoryNonceStore::new();
        let nonce = store.issue("nonce-ZX81-secret", Duration::from_secs(60)).unwrap();
        let mut details = PersonalDetails::new(
            "Zoetrope",
            "Quixotic",
            Date::new("17.06.1983"),
            Gender::Female,
            "RU",
            "RU",
        );
        details.first_name_native = Some("Зоя".to_owned());
        let sealed = PassportBuilder::new()
            .personal_details(&details)
            .id_document(
                ElementType::Passport,
                &IdDocumentData::new("QZ-998877", Some(Date::new("01.01.2020"))),
            )
            .file(ElementType::Passport, FileSlot::FrontSide, "front", photo.clone())
            .address(&ResidentialAddress::new(
                "Xylophone Street 42",
                "Vladivostok",
                "RU",
                "690091",
            ))
            .phone_number("4915199988877")
            .email("zq@example.org")
            .seal(&key.public_key(), &nonce)
            .unwrap();

        // Received, decrypted, nonce consumed; validated: rejected (expired).
        let passport = decrypt(&key, &sealed.passport_data, NonceCheck::Consume(&store)).unwrap();
        let front = passport
            .identity_documents()
            .next()
            .unwrap()
            .front_side()
            .unwrap()
            .clone();
        assert_eq!(&front.decrypt(sealed.files["front"].clone()).unwrap()[..], &photo[..]);
        let scope = Scope::new([
            ScopeElement::one(ElementType::Passport),
            ScopeElement::one(ElementType::BankStatement),
        ])
        .unwrap();
        let validation = Validator::new(&scope, CalendarDate::new(2026, 11, 24).unwrap()).validate(passport);
        assert!(matches!(validation, Validation::Rejected(_)));
        // Replayed: refused at the nonce.
        assert!(decrypt(&key, &sealed.passport_data, NonceCheck::Consume(&store)).is_err());
        // Tampered: refused at decryption, the failed step named.
        let mut tampered = sealed.passport_data.clone();
        let flipped = if tampered.credentials.hash.starts_with('A') {
            "B"
        } else {
            "A"
        };
        tampered.credentials.hash.replace_range(..1, flipped);
        assert!(decrypt(&key, &tampered, NonceCheck::Skip).is_err());
        // Accepted, with the nonce checked against the expected one.
        let again = PassportBuilder::new()
            .email("zq@example.org")
            .seal(&key.public_key(), &nonce)
            .unwrap();
        let passport = decrypt(&key, &again.passport_data, NonceCheck::Expect(&nonce)).unwrap();
        let scope = Scope::new([ScopeElement::one(ElementType::Email)]).unwrap();
        let validation = Validator::new(&scope, CalendarDate::new(2026, 11, 24).unwrap()).validate(passport);
        assert!(matches!(validation, Validation::Accepted(_)));
        // What must not appear, beyond the values: the nonce, the encrypted
        // secret, and the element data's plaintext as the app sent it.
        let secrets = vec![
            nonce.clone(),
            sealed.passport_data.credentials.secret.clone(),
            sealed
                .passport_data
                .credentials
                .data
                .chars()
                .take(40)
                .collect::<String>(),
        ];
        (vec![String::from_utf8_lossy(&photo).into_owned()], secrets)
    });

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for step in [
        "passport received",
        "api=\"bot_api\"",
        "passport decrypted",
        "types=personal_details,passport,address,phone_number,email",
        "outcome=\"consumed\"",
        "outcome=\"refused\" error=\"nonce_replayed\"",
        "failed_step=\"hash\"",
        "outcome=\"checked\"",
        "passport validated",
        "outcome=\"rejected\"",
        "missing_elements=true",
        "outcome=\"accepted\"",
    ] {
        assert!(log.contains(step), "{step:?} missing from the log:\n{log}");
    }
    for forbidden in PERSONAL.iter().map(|s| s.to_string()).chain(plaintexts).chain(secrets) {
        assert!(!log.contains(&forbidden), "{forbidden:?} is in the log:\n{log}");
    }
    for marker in ["PHOTO-BYTES-MARKER", "1983", "Quix", "998877"] {
        assert!(!log.contains(marker), "{marker:?} is in the log:\n{log}");
    }
    println!("{log}");
}
