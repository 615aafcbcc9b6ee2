//! What a sender writes inside credentials, element data and the passport
//! JSON: objects must be objects (serde would read a struct from an array),
//! and no error message repeats more than a bounded, escaped excerpt of it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use proptest::prelude::*;
use serde_json::{json, Value};
use telegram_passport::client::{self, PassportBuilder, SealedPassport};
use telegram_passport::{
    decrypt, ElementType, Error, FileSlot, IdDocumentData, NonceCheck, PassportData, PrivateKey, EXCERPT_MAX,
};

fn key() -> PrivateKey {
    common::key("keys/rsa2048_pkcs1.pem")
}

fn sealed(key: &PrivateKey) -> SealedPassport {
    PassportBuilder::new()
        .id_document(ElementType::Passport, &IdDocumentData::new("P1", None))
        .file(ElementType::Passport, FileSlot::FrontSide, "front", vec![1; 100])
        .seal(&key.public_key(), "n")
        .unwrap()
}

/// `sealed`'s passport with `credentials` as its credentials JSON.
fn with_credentials(key: &PrivateKey, sealed: &SealedPassport, credentials: &Value) -> PassportData {
    let mut data = sealed.passport_data.clone();
    data.credentials = client::encrypt_credentials(&key.public_key(), credentials.to_string().as_bytes()).unwrap();
    data
}

/// The real credentials JSON of `sealed`, to change one part of.
fn real_credentials(key: &PrivateKey, sealed: &SealedPassport) -> Value {
    let credentials = sealed.passport_data.credentials.decrypt(key).unwrap();
    let value = credentials.secure_value(ElementType::Passport).unwrap();
    let b64 = |bytes: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes);
    let data = value.data.as_ref().unwrap();
    let front = value.front_side.as_ref().unwrap();
    json!({"secure_data": {"passport": {
        "data": {"data_hash": data.data_hash().to_base64(), "secret": b64(data.secret().expose())},
        "front_side": {"file_hash": front.file_hash().to_base64(), "secret": b64(front.secret().expose())},
    }}, "nonce": "n"})
}

fn not_an_object(result: Result<impl std::fmt::Debug, Error>, field: &str) {
    match result {
        Err(Error::NotAnObject { field: f, found }) => {
            assert_eq!(f, field, "found {found}");
        }
        other => panic!("{field}: expected NotAnObject, got {other:?}"),
    }
}

#[test]
fn credentials_objects_must_be_objects() {
    let key = key();
    let sealed = sealed(&key);
    let real = real_credentials(&key, &sealed);
    assert!(decrypt(&key, &with_credentials(&key, &sealed, &real), NonceCheck::Expect("n")).is_ok());

    for not_object in [json!([]), json!(["a", "b"]), json!("text"), json!(5), json!(true)] {
        not_an_object(
            decrypt(&key, &with_credentials(&key, &sealed, &not_object), NonceCheck::Skip),
            "credentials",
        );
        for (pointer, field) in [
            ("/secure_data", "credentials.secure_data"),
            ("/secure_data/passport", "credentials.secure_data.passport"),
            ("/secure_data/passport/data", "credentials.secure_data.passport.data"),
            (
                "/secure_data/passport/front_side",
                "credentials.secure_data.passport.front_side",
            ),
        ] {
            let mut changed = real.clone();
            *changed.pointer_mut(pointer).unwrap() = not_object.clone();
            not_an_object(
                decrypt(&key, &with_credentials(&key, &sealed, &changed), NonceCheck::Skip),
                field,
            );
        }
        let mut listed = real.clone();
        let good = real["secure_data"]["passport"]["front_side"].clone();
        listed["secure_data"]["passport"]["translation"] = json!([good, not_object]);
        not_an_object(
            decrypt(&key, &with_credentials(&key, &sealed, &listed), NonceCheck::Skip),
            "credentials.secure_data.passport.translation[1]",
        );
    }
    // The hash and secret pair in order, as an array: refused, not read.
    let mut pair = real.clone();
    let data = pair["secure_data"]["passport"]["data"].clone();
    pair["secure_data"]["passport"]["data"] = json!([data["data_hash"], data["secret"]]);
    not_an_object(
        decrypt(&key, &with_credentials(&key, &sealed, &pair), NonceCheck::Skip),
        "credentials.secure_data.passport.data",
    );
}

#[test]
fn element_data_must_be_an_object() {
    let key = key();
    for not_object in [json!([]), json!(["P1", "01.01.2030"]), json!("P1"), json!(1)] {
        let sealed = PassportBuilder::new()
            .data(ElementType::Passport, &not_object)
            .seal(&key.public_key(), "n")
            .unwrap();
        not_an_object(decrypt(&key, &sealed.passport_data, NonceCheck::Skip), "passport data");
    }
}

#[test]
fn passport_data_objects_must_be_objects() {
    let key = key();
    let real: Value = serde_json::from_str(&sealed(&key).passport_data.to_json()).unwrap();
    assert!(PassportData::from_json(real.to_string().as_bytes()).is_ok());
    let credentials = real["credentials"].clone();
    for (pointer, replacement, field) in [
        ("", json!([]), "PassportData"),
        (
            "/credentials",
            json!([credentials["data"], credentials["hash"], credentials["secret"]]),
            "PassportData.credentials",
        ),
        ("/data/0", json!(["passport", "x"]), "PassportData.data[0]"),
        (
            "/data/0/front_side",
            json!(["f", "u", 1, 2]),
            "PassportData.data[0].front_side",
        ),
    ] {
        let mut changed = real.clone();
        *changed.pointer_mut(pointer).unwrap() = replacement;
        not_an_object(PassportData::from_json(changed.to_string().as_bytes()), field);
    }
    let update = json!({"update_id": 1, "message": ["passport_data"]});
    not_an_object(
        PassportData::from_json(update.to_string().as_bytes()),
        "PassportData.message",
    );
}

/// An error's message: one line, and no longer than the bound allows.
fn bounded(error: &Error) -> String {
    let shown = error.to_string();
    assert!(!shown.contains('\n') && !shown.contains('\r'), "{shown:?}");
    assert!(
        shown.chars().count() < 3 * EXCERPT_MAX + 200,
        "{} characters: {shown}",
        shown.len()
    );
    shown
}

#[test]
fn received_text_in_errors_is_bounded_and_escaped() {
    let key = key();
    let sealed = sealed(&key);
    let long = "A".repeat(100_000);
    let hostile = format!("line one\nline two\u{202e}{long}");

    // In credentials.
    for credentials in [
        json!({"secure_data": long}),
        json!({"secure_data": {"passport": {"data": {"data_hash": hostile, "secret": 5}}}}),
        json!({"secure_data": {}, "nonce": [hostile]}),
    ] {
        let error = decrypt(&key, &with_credentials(&key, &sealed, &credentials), NonceCheck::Skip).unwrap_err();
        bounded(&error);
    }
    // In element data.
    let details = PassportBuilder::new()
        .data(
            ElementType::PersonalDetails,
            &json!({"first_name": 5, "last_name": [hostile]}),
        )
        .seal(&key.public_key(), "n")
        .unwrap();
    bounded(&decrypt(&key, &details.passport_data, NonceCheck::Skip).unwrap_err());
    // In the passport JSON: an unknown type, a value of the wrong type.
    for passport in [
        json!({"data": [{"type": hostile, "hash": "h"}], "credentials": {"data": "", "hash": "", "secret": ""}}),
        json!({"data": [{"type": "email", "hash": [hostile]}], "credentials": {"data": "", "hash": "", "secret": ""}}),
    ] {
        let shown = bounded(&PassportData::from_json(passport.to_string().as_bytes()).unwrap_err());
        assert!(!shown.contains("line two\u{202e}"), "{shown}");
    }
    // Text made of characters that each escape to several (a control
    // character: `\u{7f}`; an unassigned one: `\u{10fffd}`), as a field
    // name the error's path repeats and as a value: the escapes count.
    for escaping in ["\u{7f}", "\u{10fffd}", "\u{202e}"] {
        let name = format!("se{}pe_data", escaping.repeat(200));
        let credentials = json!({name: 5, "secure_data": {}, "nonce": [escaping.repeat(1000)]});
        let error = decrypt(&key, &with_credentials(&key, &sealed, &credentials), NonceCheck::Skip).unwrap_err();
        bounded(&error);
        bounded(&escaping.repeat(1000).parse::<ElementType>().unwrap_err());
    }
    // An unknown element type by name.
    let error = hostile.parse::<ElementType>().unwrap_err();
    let shown = bounded(&error);
    assert!(
        shown.contains("line one\\nline two\\u{202e}AAA") && shown.contains("… (100"),
        "{shown}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any text in any string position of the credentials: the error, if
    /// any, stays one bounded line.
    #[test]
    fn any_text_anywhere_gives_a_bounded_error(text in ".{0,3000}", position in 0usize..4) {
        let key = key();
        let sealed = sealed(&key);
        let mut credentials = real_credentials(&key, &sealed);
        match position {
            0 => credentials["secure_data"]["passport"]["data"]["secret"] = json!(text),
            1 => credentials["secure_data"]["passport"]["front_side"] = json!([text]),
            2 => credentials["secure_data"]["passport"] = json!(text),
            _ => credentials["nonce"] = json!({"text": text}),
        }
        if let Err(error) = decrypt(&key, &with_credentials(&key, &sealed, &credentials), NonceCheck::Skip) {
            bounded(&error);
        }
    }
}

#[test]
fn scopes_and_links_from_outside_give_bounded_errors() {
    use telegram_passport::{PassportRequest, Scope};
    let long = format!("x\n{}", "B".repeat(100_000));
    for scope in [
        json!({"v": 1, "data": [long]}),
        json!({"v": 1, "data": [{"type": "passport", "selfie": long}]}),
        json!({"v": 1, "data": [[long]]}),
        json!({"v": 1, "data": [{"type": [long]}]}),
    ] {
        let error = Scope::from_json(&scope.to_string()).unwrap_err();
        bounded(&error);
        let link = format!(
            "tg://passport?bot_id=1&scope={}&public_key=k&nonce=n",
            urlencode(&scope.to_string())
        );
        bounded(&PassportRequest::parse_link(&link).unwrap_err());
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
