//! Whole passports encrypted by an independent implementation (Python
//! `cryptography`, tests/data/generate.py): decrypted, decoded and every
//! file decrypted, in both the Bot API and the MTProto form.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::{assert_subset, b64, hex, key, load, sha256_hex};
use serde_json::Value;
use telegram_passport::mtproto::{
    SecureCredentialsEncrypted, SecureData, SecureFile, SecurePlainData, SecureValue, SecureValuesSentMe,
};
use telegram_passport::{
    decrypt, mtproto, DecryptedPassport, Error, FileLocation, FileRef, NonceCheck, PassportData, Target,
};

/// Checks the decoded passport against the fixture's `expected`, then
/// decrypts every file: `locate` names its entry in the fixture's `files`,
/// whose bytes `decode` reads.
fn check_passport(
    fixture: &Value,
    passport: &DecryptedPassport,
    locate: impl Fn(&FileRef) -> String,
    decode: fn(&Value) -> Vec<u8>,
) {
    assert_eq!(passport.nonce(), fixture["nonce"].as_str().unwrap());
    assert_subset(
        &fixture["expected"],
        &serde_json::to_value(passport).unwrap(),
        "passport",
    );
    let files = fixture["files"].as_object().unwrap();
    let mut decrypted = 0;
    for element in passport.elements() {
        let telegram_passport::Element::Document(document) = element else {
            continue;
        };
        for file in document.all_files() {
            let entry = &files[&locate(file)];
            let jpeg = file.decrypt(decode(&entry["encrypted"])).unwrap();
            assert_eq!(sha256_hex(&jpeg), entry["sha256"].as_str().unwrap());
            assert_eq!(&jpeg[..4], b"\xff\xd8\xff\xe0");
            decrypted += 1;
        }
    }
    assert_eq!(
        decrypted,
        files.len(),
        "every file in the fixture belongs to an element"
    );
}

fn check_bot_api(fixture: &Value, passport_data: &PassportData) -> DecryptedPassport {
    let key = key(fixture["key"].as_str().unwrap());
    let nonce = fixture["nonce"].as_str().unwrap();
    let passport = decrypt(&key, passport_data, NonceCheck::Expect(nonce)).unwrap();
    check_passport(fixture, &passport, |file| file.file_id().unwrap().to_owned(), b64);
    passport
}

#[test]
fn all_thirteen_element_types() {
    let fixture = load("passport/full.json");
    let passport_data: PassportData = serde_json::from_value(fixture["passport_data"].clone()).unwrap();
    let passport = check_bot_api(&fixture, &passport_data);
    assert_eq!(passport.elements().len(), 13);

    let details = passport.personal_details().unwrap();
    assert_eq!(details.middle_name, None, "empty optional string reads as absent");
    assert!(details.birth_date.is_valid() && details.country_code.is_assigned());
    assert_eq!(passport.identity_documents().count(), 4);
    assert_eq!(passport.address_documents().count(), 5);
    assert!(passport.address().unwrap().street_line2.is_none());
    assert!(passport.phone_number().is_some() && passport.email().is_some());
}

#[test]
fn element_hashes_and_file_hashes_are_kept_for_error_reports() {
    let fixture = load("passport/full.json");
    let passport_data: PassportData = serde_json::from_value(fixture["passport_data"].clone()).unwrap();
    let passport = check_bot_api(&fixture, &passport_data);
    for (element, sent) in passport.elements().iter().zip(&passport_data.data) {
        assert_eq!(serde_json::to_value(element.hash()).unwrap(), sent.hash.as_str());
    }
    let hashes: std::collections::HashSet<_> = passport
        .identity_documents()
        .flat_map(|d| d.all_files().map(|f| *f.file_hash()).chain(d.data_hash().copied()))
        .collect();
    // Every file and data hash is distinct: each came from its own credentials entry.
    let count: usize = passport.identity_documents().map(|d| d.all_files().count() + 1).sum();
    assert_eq!(hashes.len(), count);
}

#[test]
fn legacy_payload_instead_of_nonce() {
    let fixture = load("passport/payload_legacy.json");
    let passport_data: PassportData = serde_json::from_value(fixture["passport_data"].clone()).unwrap();
    let passport = check_bot_api(&fixture, &passport_data);
    assert_eq!(
        passport.personal_details().unwrap().middle_name.as_deref(),
        Some("Éloi")
    );
}

#[test]
fn a_whole_update_and_a_message_are_accepted() {
    let fixture = load("passport/update.json");
    let update = serde_json::to_vec(&fixture["update"]).unwrap();
    check_bot_api(&fixture, &PassportData::from_json(&update).unwrap());
    let message = serde_json::to_vec(&fixture["update"]["message"]).unwrap();
    check_bot_api(&fixture, &PassportData::from_json(&message).unwrap());
    let bare = serde_json::to_vec(&fixture["update"]["message"]["passport_data"]).unwrap();
    check_bot_api(&fixture, &PassportData::from_json(&bare).unwrap());
}

#[test]
fn the_wrong_key_is_one_opaque_error() {
    for name in ["passport/wrong_key.json", "passport/wrong_key_same_size.json"] {
        let fixture = load(name);
        let key = key(fixture["key"].as_str().unwrap());
        let passport_data: PassportData = serde_json::from_value(fixture["passport_data"].clone()).unwrap();
        let error = decrypt(&key, &passport_data, NonceCheck::Skip).unwrap_err();
        assert!(
            matches!(&error, Error::Decryption(e) if e.target() == Target::Credentials),
            "{name}: {error:?}"
        );
        assert_eq!(error.to_string(), "could not decrypt credentials");
    }
}

fn secure_file(v: &Value) -> SecureFile {
    SecureFile::new(
        v["id"].as_i64().unwrap(),
        v["access_hash"].as_i64().unwrap(),
        v["size"].as_i64().unwrap(),
        v["dc_id"].as_i64().unwrap() as i32,
        v["date"].as_i64().unwrap() as i32,
        hex(&v["file_hash"]),
        hex(&v["secret"]),
    )
}

fn secure_files(v: &Value) -> Vec<SecureFile> {
    v.as_array()
        .map(|a| a.iter().map(secure_file).collect())
        .unwrap_or_default()
}

fn mtproto_from_fixture(fixture: &Value) -> SecureValuesSentMe {
    let values = fixture["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let mut value = SecureValue::new(v["type"].as_str().unwrap().parse().unwrap(), hex(&v["hash"]));
            value.data = v
                .get("data")
                .map(|d| SecureData::new(hex(&d["data"]), hex(&d["data_hash"]), hex(&d["secret"])));
            value.front_side = v.get("front_side").map(secure_file);
            value.reverse_side = v.get("reverse_side").map(secure_file);
            value.selfie = v.get("selfie").map(secure_file);
            value.translation = secure_files(&v["translation"]);
            value.files = secure_files(&v["files"]);
            value.plain_data = v.get("plain_data").map(|p| match p.get("phone") {
                Some(phone) => SecurePlainData::Phone(phone.as_str().unwrap().to_owned()),
                None => SecurePlainData::Email(p["email"].as_str().unwrap().to_owned()),
            });
            value
        })
        .collect();
    let c = &fixture["credentials"];
    SecureValuesSentMe::new(
        values,
        SecureCredentialsEncrypted::new(hex(&c["data"]), hex(&c["hash"]), hex(&c["secret"])),
    )
}

/// `passport/mtproto.tl` is the same passport as `mtproto.json`, serialised
/// as TL by `tests/data/mtproto_tl.py` from the schema alone: it reads back
/// to the same values, and decrypts to the same passport.
#[test]
fn mtproto_tl_from_an_independent_serialiser() {
    let fixture = load("passport/mtproto.json");
    let tl = std::fs::read(common::data_dir().join("passport/mtproto.tl")).unwrap();
    let sent = SecureValuesSentMe::from_tl(&tl).unwrap();
    assert_eq!(sent, mtproto_from_fixture(&fixture));
    // Our serialiser writes the same bytes.
    assert_eq!(sent.to_tl_bytes(), tl);
    let key = key(fixture["key"].as_str().unwrap());
    let passport = mtproto::decrypt(&key, &sent, NonceCheck::Expect(fixture["nonce"].as_str().unwrap())).unwrap();
    let locate = |file: &FileRef| {
        let FileLocation::Mtproto(location) = file.location() else {
            panic!("not an MTProto file")
        };
        location.id.to_string()
    };
    check_passport(&fixture, &passport, locate, hex);
}

#[test]
fn mtproto_raw_bytes() {
    let fixture = load("passport/mtproto.json");
    let key = key(fixture["key"].as_str().unwrap());
    let nonce = fixture["nonce"].as_str().unwrap();
    let sent = mtproto_from_fixture(&fixture);
    let passport = mtproto::decrypt(&key, &sent, NonceCheck::Expect(nonce)).unwrap();
    let locate = |file: &FileRef| {
        let FileLocation::Mtproto(location) = file.location() else {
            panic!("not an MTProto file")
        };
        assert_eq!(&location.file_hash, file.file_hash().as_bytes());
        location.id.to_string()
    };
    check_passport(&fixture, &passport, locate, hex);
    assert_eq!(passport.address().unwrap().street_line2.as_deref(), Some("Flat 4"));
}
