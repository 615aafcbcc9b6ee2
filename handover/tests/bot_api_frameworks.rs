//! The Bot API stacks: frankenstein's types, teloxide (through the raw
//! webhook body, since teloxide drops passport data), and any other
//! framework's `serde_json::Value`, each handed over in one call, decrypting
//! to the same passport. The update is the one Telegram sends: the crate's
//! client side seals it, and it is written out as JSON text first.

use telegram_passport::client::PassportBuilder;
use telegram_passport::{decrypt, NonceCheck, PassportData, PrivateKey};

/// A webhook body carrying a passport, as Telegram posts it.
fn webhook_body(key: &PrivateKey) -> Vec<u8> {
    let sealed = PassportBuilder::new()
        .phone_number("4915112345678")
        .email("anna@example.org")
        .seal(&key.public_key(), "nonce-7")
        .unwrap();
    let update = serde_json::json!({
        "update_id": 10,
        "message": {
            "message_id": 5, "date": 1_700_000_000,
            "from": {"id": 42, "is_bot": false, "first_name": "Anna"},
            "chat": {"id": 42, "type": "private", "first_name": "Anna"},
            "passport_data": sealed.passport_data,
        },
    });
    serde_json::to_vec(&update).unwrap()
}

fn check(key: &PrivateKey, passport_data: &PassportData) {
    let passport = decrypt(key, passport_data, NonceCheck::Expect("nonce-7")).unwrap();
    assert_eq!(passport.phone_number(), Some("4915112345678"));
    assert_eq!(passport.email(), Some("anna@example.org"));
}

/// frankenstein: its `PassportData` (or `Message`, or `Update`) in one call.
#[test]
fn frankenstein() {
    let key = PrivateKey::generate().unwrap();
    let update: frankenstein::updates::Update = serde_json::from_slice(&webhook_body(&key)).unwrap();
    let frankenstein::updates::UpdateContent::Message(message) = &update.content else {
        panic!("a message update")
    };
    let theirs = message
        .passport_data
        .as_ref()
        .expect("frankenstein keeps passport data");

    let passport_data = PassportData::from_serializable(theirs).unwrap();
    check(&key, &passport_data);
    // The whole message or update works too.
    assert_eq!(PassportData::from_serializable(message).unwrap(), passport_data);
    assert_eq!(PassportData::from_serializable(&update).unwrap(), passport_data);
}

/// teloxide: read the webhook body before teloxide parses it (teloxide-core
/// 0.13 turns a passport message into `MessageKind::Empty`), and hand the
/// bytes over; then give the same bytes to teloxide as usual.
#[test]
fn teloxide_raw_body() {
    let key = PrivateKey::generate().unwrap();
    let body = webhook_body(&key);
    match PassportData::from_json(&body) {
        Ok(passport_data) => check(&key, &passport_data),
        Err(telegram_passport::Error::NoPassportData) => panic!("this update carries one"),
        Err(other) => panic!("{other}"),
    }
    let no_passport = br#"{"update_id": 11, "message": {"message_id": 6, "date": 1, "text": "hi"}}"#;
    assert!(matches!(
        PassportData::from_json(no_passport),
        Err(telegram_passport::Error::NoPassportData)
    ));
}

/// Any other framework: a `serde_json::Value` of the update, the message or
/// the passport data.
#[test]
fn any_framework_json_value() {
    let key = PrivateKey::generate().unwrap();
    let update: serde_json::Value = serde_json::from_slice(&webhook_body(&key)).unwrap();
    for value in [&update, &update["message"], &update["message"]["passport_data"]] {
        check(&key, &PassportData::from_serializable(value).unwrap());
    }
    let not_passport = serde_json::json!({"update_id": 1, "message": {"text": "hi"}});
    assert!(matches!(
        PassportData::from_serializable(&not_passport),
        Err(telegram_passport::Error::NoPassportData)
    ));
}
