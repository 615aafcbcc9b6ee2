//! The real-client vector: a `PassportData` a Telegram app sent to a test
//! bot (from python-telegram-bot's test suite), kept in the repository's
//! shared vectors beside this crate. Outside that layout the test says it is
//! skipped and why.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::path::PathBuf;

use serde_json::Value;
use telegram_passport::{decrypt, Element, NonceCheck, PassportData, PrivateKey};

fn vectors() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/vectors/python-telegram-bot");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("SKIPPED: real-client vectors not found at {}", dir.display());
        None
    }
}

#[test]
fn real_client_data_decrypts_to_the_expected_values() {
    let Some(dir) = vectors() else { return };
    let key = PrivateKey::from_pem(&std::fs::read_to_string(dir.join("key.pem")).unwrap()).unwrap();
    let input = std::fs::read(dir.join("passport_data.json")).unwrap();
    let expected: Value = serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();

    let passport_data = PassportData::from_json(&input).unwrap();
    let nonce = expected["nonce"].as_str().unwrap();
    let passport = decrypt(&key, &passport_data, NonceCheck::Expect(nonce)).unwrap();

    let expected_elements = expected["elements"].as_array().unwrap();
    assert_eq!(passport.elements().len(), expected_elements.len());
    for (element, want) in passport.elements().iter().zip(expected_elements) {
        assert_eq!(element.element_type().as_str(), want["type"].as_str().unwrap());
        let got = serde_json::to_value(element).unwrap();
        if let Some(data) = want.get("data") {
            assert_eq!(&got["data"], data, "{}", want["type"]);
        }
        if let Some(email) = want.get("email") {
            assert_eq!(&got["email"], email);
        }
        // Expected file references are bare file ids.
        for slot in ["front_side", "reverse_side", "selfie"] {
            if let Some(id) = want.get(slot) {
                assert_eq!(&got[slot]["file_id"], id, "{slot}");
            }
        }
        for slot in ["files", "translation"] {
            if let Some(ids) = want.get(slot) {
                let got_ids: Vec<&Value> = got[slot].as_array().unwrap().iter().map(|f| &f["file_id"]).collect();
                assert_eq!(got_ids, ids.as_array().unwrap().iter().collect::<Vec<_>>(), "{slot}");
            }
        }
    }
    // Placeholder element hashes are echoed as received, never decoded.
    let Element::Document(details) = &passport.elements()[0] else {
        panic!()
    };
    assert_eq!(
        serde_json::to_value(details.hash()).unwrap(),
        passport_data.data[0].hash.as_str()
    );
}
