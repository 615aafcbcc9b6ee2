//! One test per failure mode. Everything that could serve a remote sender as
//! an oracle is the same opaque error with the same message; the rest is a
//! clear, specific error.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use base64::Engine as _;
use telegram_passport::client::{self, PassportBuilder, SealedPassport};
use telegram_passport::{
    decrypt, mtproto, Date, Element, ElementType, Error, FileSlot, Gender, IdDocumentData, NonceCheck, PassportData,
    PersonalDetails, PrivateKey, Target,
};

/// A change to a sealed passport.
type Mutation = Box<dyn Fn(&mut PassportData)>;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn key() -> PrivateKey {
    common::key("keys/rsa2048_pkcs1.pem")
}

fn sealed(key: &PrivateKey) -> SealedPassport {
    PassportBuilder::new()
        .id_document(ElementType::Passport, &IdDocumentData::new("P1", None))
        .file(ElementType::Passport, FileSlot::FrontSide, "front", vec![0xff; 1000])
        .email("a@example.org")
        .seal(&key.public_key(), "nonce-1")
        .unwrap()
}

fn flip(base64_text: &mut String, byte: usize) {
    let mut bytes = B64.decode(&*base64_text).unwrap();
    bytes[byte] ^= 0x01;
    *base64_text = B64.encode(bytes);
}

fn edit(base64_text: &mut String, f: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = B64.decode(&*base64_text).unwrap();
    f(&mut bytes);
    *base64_text = B64.encode(bytes);
}

/// The error, checked to be the opaque one with the given target; returns
/// the local-only detail from `Debug`.
fn opaque(result: Result<impl std::fmt::Debug, Error>, target: Target) -> String {
    match result.unwrap_err() {
        Error::Decryption(error) => {
            assert_eq!(error.target(), target);
            let shown = error.to_string();
            assert!(
                !shown.contains("hash") && !shown.contains("padding") && !shown.contains("Rsa"),
                "{shown}"
            );
            format!("{error:?}")
        }
        other => panic!("expected the opaque decryption error, got {other:?}"),
    }
}

#[test]
fn credentials_failures_are_indistinguishable_to_the_sender() {
    let key = key();
    let base = sealed(&key).passport_data;
    let mut details = Vec::new();
    let mutations: [(&str, Mutation); 6] = [
        ("secret bit", Box::new(|p| flip(&mut p.credentials.secret, 100))),
        ("hash bit", Box::new(|p| flip(&mut p.credentials.hash, 0))),
        ("data bit", Box::new(|p| flip(&mut p.credentials.data, 40))),
        (
            "truncated",
            Box::new(|p| edit(&mut p.credentials.data, |d| d.truncate(d.len() - 16))),
        ),
        (
            "not a block multiple",
            Box::new(|p| edit(&mut p.credentials.data, |d| d.truncate(d.len() - 1))),
        ),
        (
            "short secret",
            Box::new(|p| edit(&mut p.credentials.secret, |d| d.truncate(100))),
        ),
    ];
    for (name, mutate) in mutations {
        let mut data = base.clone();
        mutate(&mut data);
        let result = decrypt(&key, &data, NonceCheck::Skip);
        assert_eq!(
            result.as_ref().unwrap_err().to_string(),
            "could not decrypt credentials",
            "{name}"
        );
        details.push((name, opaque(result, Target::Credentials)));
    }
    // Locally, Debug still says which step failed.
    assert!(details[0].1.contains("Rsa"), "{details:?}");
    assert!(details[1].1.contains("Hash"), "{details:?}");
    assert!(details[4].1.contains("Length"), "{details:?}");
}

#[test]
fn wrong_key() {
    let data = sealed(&key()).passport_data;
    let other = common::key("keys/rsa4096_pkcs1.pem");
    opaque(decrypt(&other, &data, NonceCheck::Skip), Target::Credentials);
}

#[test]
fn element_data_tampering() {
    let key = key();
    let mut data = sealed(&key).passport_data;
    flip(data.data[0].data.as_mut().unwrap(), 20);
    let result = decrypt(&key, &data, NonceCheck::Skip);
    assert_eq!(
        result.as_ref().unwrap_err().to_string(),
        "could not decrypt element data"
    );
    opaque(result, Target::ElementData);
}

#[test]
fn file_tampering() {
    let key = key();
    let sealed = sealed(&key);
    let passport = decrypt(&key, &sealed.passport_data, NonceCheck::Skip).unwrap();
    let front = passport.identity_documents().next().unwrap().front_side().unwrap();
    let mut bytes = sealed.files["front"].clone();
    bytes[500] ^= 0x80;
    opaque(front.decrypt(bytes), Target::File);
    let mut short = sealed.files["front"].clone();
    short.truncate(short.len() - 16);
    opaque(front.decrypt(short), Target::File);
    assert!(front.decrypt(sealed.files["front"].clone()).is_ok());
}

#[test]
fn wrong_nonce() {
    let key = key();
    let data = sealed(&key).passport_data;
    assert!(matches!(
        decrypt(&key, &data, NonceCheck::Expect("nonce-2")),
        Err(Error::NonceMismatch)
    ));
    assert!(matches!(
        decrypt(&key, &data, NonceCheck::Expect("nonce-")),
        Err(Error::NonceMismatch)
    ));
    assert!(matches!(
        decrypt(&key, &data, NonceCheck::Expect("")),
        Err(Error::NonceMismatch)
    ));
    assert_eq!(decrypt(&key, &data, NonceCheck::Skip).unwrap().nonce(), "nonce-1");
}

#[test]
fn bad_base64_names_the_field() {
    let key = key();
    let base = sealed(&key).passport_data;
    let cases: [(&str, Mutation); 4] = [
        ("credentials.secret", Box::new(|p| p.credentials.secret.insert(3, '*'))),
        ("credentials.hash", Box::new(|p| p.credentials.hash = "@@@@".into())),
        ("credentials.data", Box::new(|p| p.credentials.data.push_str("!!"))),
        ("passport.data", Box::new(|p| p.data[0].data = Some("%%%%".into()))),
    ];
    for (field, mutate) in cases {
        let mut data = base.clone();
        mutate(&mut data);
        match decrypt(&key, &data, NonceCheck::Skip) {
            Err(error @ Error::Base64 { .. }) => {
                assert_eq!(error.to_string(), format!("{field} is not valid base64"))
            }
            other => panic!("{field}: {other:?}"),
        }
    }
}

#[test]
fn wrong_sizes() {
    let key = key();
    let mut data = sealed(&key).passport_data;
    edit(&mut data.credentials.hash, |h| h.truncate(31));
    let error = decrypt(&key, &data, NonceCheck::Skip).unwrap_err();
    assert!(
        matches!(
            &error,
            Error::Length {
                expected: 32,
                actual: 31,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.to_string(), "credentials.hash must be 32 bytes, got 31");
}

#[test]
fn unknown_element_type_and_malformed_json() {
    let json = br#"{"data":[{"type":"selfie","hash":"x"}],"credentials":{"data":"","hash":"","secret":""}}"#;
    let message = PassportData::from_json(json).unwrap_err().to_string();
    assert!(
        message.contains("unknown variant `selfie`") && message.contains("personal_details"),
        "{message}"
    );
    assert!(matches!(
        PassportData::from_json(b"{\"data\": ["),
        Err(Error::Json { .. })
    ));
    assert!(matches!(
        PassportData::from_json(b"{\"update_id\": 1}"),
        Err(Error::NoPassportData)
    ));
    assert!(matches!(PassportData::from_json(b"\xff\xfe"), Err(Error::Json { .. })));
}

/// Re-encrypts the credentials JSON of `sealed` as `json` (as a broken app might).
fn with_credentials(key: &PrivateKey, sealed: &SealedPassport, json: &str) -> PassportData {
    let mut data = sealed.passport_data.clone();
    data.credentials = client::encrypt_credentials(&key.public_key(), json.as_bytes()).unwrap();
    data
}

#[test]
fn missing_credentials_for_an_element() {
    let key = key();
    let sealed = sealed(&key);
    let data = with_credentials(&key, &sealed, r#"{"secure_data": {}, "nonce": "nonce-1"}"#);
    let error = decrypt(&key, &data, NonceCheck::Expect("nonce-1")).unwrap_err();
    assert!(
        matches!(&error, Error::MissingCredentials { element: ElementType::Passport, part } if part == "data"),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "the credentials hold no data for the passport element"
    );
}

#[test]
fn missing_file_credentials_name_the_file() {
    let key = key();
    let sealed = sealed(&key);
    let credentials = sealed.passport_data.credentials.decrypt(&key).unwrap();
    let data = credentials
        .secure_value(ElementType::Passport)
        .unwrap()
        .data
        .as_ref()
        .unwrap();
    // The real data credentials, but nothing for the front side.
    let json = serde_json::json!({"secure_data": {"passport": {"data": {
        "data_hash": data.data_hash().to_base64(),
        "secret": B64.encode(data.secret().expose()),
    }}}, "nonce": "n"});
    let data = with_credentials(&key, &sealed, &json.to_string());
    let error = decrypt(&key, &data, NonceCheck::Skip).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the credentials hold no front_side for the passport element"
    );
}

#[test]
fn malformed_credentials_json() {
    let key = key();
    let sealed = sealed(&key);
    for (json, needle) in [
        ("not json", "malformed credentials JSON"),
        (
            r#"{"secure_data": {"passport": {"data": {"data_hash": "!!", "secret": "AA=="}}}}"#,
            "not valid base64",
        ),
        (
            r#"{"secure_data": {"passport": {"data": {"data_hash": "AAAA", "secret": "AA=="}}}}"#,
            "must be 32 bytes",
        ),
        (
            r#"{"secure_data": {"passport": {"data": {"secret": "AA=="}}}}"#,
            "missing field `data_hash`",
        ),
    ] {
        let data = with_credentials(&key, &sealed, json);
        let message = decrypt(&key, &data, NonceCheck::Skip).unwrap_err().to_string();
        assert!(message.contains(needle), "{json}: {message}");
    }
}

#[test]
fn duplicate_elements_and_missing_parts() {
    let key = key();
    let sealed = sealed(&key);
    let mut twice = sealed.passport_data.clone();
    twice.data.push(twice.data[0].clone());
    assert!(matches!(
        decrypt(&key, &twice, NonceCheck::Skip),
        Err(Error::DuplicateElement(ElementType::Passport))
    ));

    let mut no_data = sealed.passport_data.clone();
    no_data.data[0].data = None;
    let error = decrypt(&key, &no_data, NonceCheck::Skip).unwrap_err();
    assert_eq!(error.to_string(), "the passport element has no data");

    let mut no_email = sealed.passport_data.clone();
    no_email.data[1].email = None;
    assert!(matches!(
        decrypt(&key, &no_email, NonceCheck::Skip),
        Err(Error::MissingPart {
            element: ElementType::Email,
            part: "email"
        })
    ));
}

#[test]
fn secrets_never_show_in_debug() {
    let key = key();
    let sealed = sealed(&key);
    let credentials = sealed.passport_data.credentials.decrypt(&key).unwrap();
    let value = credentials.secure_value(ElementType::Passport).unwrap();
    let secret = B64.encode(value.data.as_ref().unwrap().secret().expose());
    let file_secret = B64.encode(value.front_side.as_ref().unwrap().secret().expose());
    let passport = decrypt(&key, &sealed.passport_data, NonceCheck::Skip).unwrap();
    let debug = format!(
        "{credentials:?} {passport:?} {:?}",
        passport.identity_documents().next().unwrap().front_side()
    );
    assert!(debug.contains("Secret(..)"));
    assert!(!debug.contains(&secret) && !debug.contains(&file_secret));
    let json = serde_json::to_string(&passport).unwrap();
    assert!(!json.contains(&secret) && !json.contains(&file_secret) && !json.contains("secret"));

    let front = passport.identity_documents().next().unwrap().front_side().unwrap();
    let jpeg = front.decrypt(sealed.files["front"].clone()).unwrap();
    assert_eq!(format!("{jpeg:?}"), "Plaintext(1000 bytes)");
}

/// A passport with every part that states a hash over MTProto: data,
/// front and reverse side, selfie, translations and files.
fn every_part(key: &PrivateKey) -> SealedPassport {
    let jpeg = |byte: u8| vec![byte; 100 + usize::from(byte)];
    PassportBuilder::new()
        .personal_details(&PersonalDetails::new(
            "Anna",
            "Ivanova",
            Date::new("14.03.1991"),
            Gender::Female,
            "RU",
            "DE",
        ))
        .id_document(ElementType::DriverLicense, &IdDocumentData::new("D1", None))
        .file(ElementType::DriverLicense, FileSlot::FrontSide, "front", jpeg(1))
        .file(ElementType::DriverLicense, FileSlot::ReverseSide, "reverse", jpeg(2))
        .file(ElementType::DriverLicense, FileSlot::Selfie, "selfie", jpeg(3))
        .file(ElementType::DriverLicense, FileSlot::Translation, "dt0", jpeg(4))
        .file(ElementType::DriverLicense, FileSlot::Translation, "dt1", jpeg(5))
        .file(ElementType::UtilityBill, FileSlot::Files, "u0", jpeg(6))
        .file(ElementType::UtilityBill, FileSlot::Files, "u1", jpeg(7))
        .file(ElementType::UtilityBill, FileSlot::Files, "u2", jpeg(8))
        .file(ElementType::UtilityBill, FileSlot::Translation, "ut0", jpeg(9))
        .phone_number("4512345678")
        .seal(&key.public_key(), "nonce-1")
        .unwrap()
}

/// The MTProto values as a TL library hands them over: written as TL and
/// read back.
fn through_tl(sent: &mtproto::SecureValuesSentMe) -> mtproto::SecureValuesSentMe {
    mtproto::SecureValuesSentMe::from_tl(&sent.to_tl_bytes()).unwrap()
}

fn value(sent: &mut mtproto::SecureValuesSentMe, element: ElementType) -> &mut mtproto::SecureValue {
    sent.values.iter_mut().find(|v| v.value_type == element).unwrap()
}

/// One hash the TL states, by the name the error gives it.
fn stated_hash<'a>(sent: &'a mut mtproto::SecureValuesSentMe, field: &str) -> &'a mut Vec<u8> {
    let (element, part) = field.split_once('.').unwrap();
    let element = value(sent, element.parse().unwrap());
    let file = |files: &'a mut Vec<mtproto::SecureFile>, index: &str| {
        &mut files[index.trim_end_matches(']').parse::<usize>().unwrap()].file_hash
    };
    match part.trim_end_matches(".file_hash").split_once('[') {
        None if part == "data_hash" => &mut element.data.as_mut().unwrap().data_hash,
        None => match part.trim_end_matches(".file_hash") {
            "front_side" => &mut element.front_side.as_mut().unwrap().file_hash,
            "reverse_side" => &mut element.reverse_side.as_mut().unwrap().file_hash,
            "selfie" => &mut element.selfie.as_mut().unwrap().file_hash,
            other => panic!("{other}"),
        },
        Some(("files", index)) => file(&mut element.files, index),
        Some(("translation", index)) => file(&mut element.translation, index),
        Some((other, _)) => panic!("{other}"),
    }
}

const STATED_HASHES: [&str; 11] = [
    "personal_details.data_hash",
    "driver_license.data_hash",
    "driver_license.front_side.file_hash",
    "driver_license.reverse_side.file_hash",
    "driver_license.selfie.file_hash",
    "driver_license.translation[0].file_hash",
    "driver_license.translation[1].file_hash",
    "utility_bill.files[0].file_hash",
    "utility_bill.files[1].file_hash",
    "utility_bill.files[2].file_hash",
    "utility_bill.translation[0].file_hash",
];

/// Every hash MTProto states beside the ciphertext must be the one the
/// credentials hold: one that differs (a flipped bit, another length, none)
/// is refused with an error that names the field and not which side is wrong.
#[test]
fn mtproto_hashes_that_contradict_the_credentials_are_refused() {
    let key = key();
    let sealed = every_part(&key);
    let passport = mtproto::decrypt(&key, &through_tl(&sealed.mtproto), NonceCheck::Expect("nonce-1")).unwrap();
    assert_eq!(passport.elements().len(), 4);
    type Change = fn(&mut Vec<u8>);
    let changes: [(&str, Change); 4] = [
        ("a flipped bit", |hash| hash[31] ^= 0x80),
        ("one byte short", |hash| {
            hash.pop();
        }),
        ("one byte more", |hash| hash.push(0)),
        ("empty", Vec::clear),
    ];
    for field in STATED_HASHES {
        for (change, apply) in changes {
            let mut sent = sealed.mtproto.clone();
            apply(stated_hash(&mut sent, field));
            let error = mtproto::decrypt(&key, &through_tl(&sent), NonceCheck::Expect("nonce-1")).unwrap_err();
            match &error {
                Error::Inconsistent { field: named } => assert_eq!(named, field, "{change}"),
                other => panic!("{field}, {change}: {other:?}"),
            }
            assert_eq!(
                error.to_string(),
                format!("{field} in the MTProto values contradicts the credentials")
            );
        }
    }
}

/// The check comes after the credentials are decrypted and verified: with
/// credentials that do not decrypt, a contradicting hash changes nothing,
/// and the error is the opaque one.
#[test]
fn contradictions_are_looked_for_only_in_verified_credentials() {
    let key = key();
    let sealed = every_part(&key);
    for field in STATED_HASHES {
        for part in ["secret", "data", "hash"] {
            let mut sent = sealed.mtproto.clone();
            stated_hash(&mut sent, field)[0] ^= 1;
            let credentials = &mut sent.credentials;
            let bytes = match part {
                "secret" => &mut credentials.secret,
                "data" => &mut credentials.data,
                _ => &mut credentials.hash,
            };
            bytes[7] ^= 1;
            let result = mtproto::decrypt(&key, &through_tl(&sent), NonceCheck::Expect("nonce-1"));
            opaque(result, Target::Credentials);
        }
    }
    let other_key = common::key("keys/rsa3072_pkcs8.pem");
    let mut sent = sealed.mtproto.clone();
    stated_hash(&mut sent, "driver_license.data_hash").clear();
    opaque(
        mtproto::decrypt(&other_key, &through_tl(&sent), NonceCheck::Skip),
        Target::Credentials,
    );
}

/// The TL's `secret`s are the app's cloud-storage encryption of the value
/// secrets, never the secrets the credentials carry: whatever they hold,
/// they are not compared.
#[test]
fn mtproto_secrets_are_not_compared() {
    let key = key();
    let mut sent = every_part(&key).mtproto;
    for value in &mut sent.values {
        if let Some(data) = &mut value.data {
            data.secret = vec![0x5a; 48];
        }
        let singles = [&mut value.front_side, &mut value.reverse_side, &mut value.selfie];
        for file in singles.into_iter().flatten() {
            file.secret = vec![0xa5; 48];
        }
        for file in value.files.iter_mut().chain(value.translation.iter_mut()) {
            file.secret = vec![0x3c; 48];
        }
    }
    let passport = mtproto::decrypt(&key, &through_tl(&sent), NonceCheck::Expect("nonce-1")).unwrap();
    let license = passport.element(ElementType::DriverLicense).unwrap();
    assert!(matches!(license, Element::Document(d) if d.translation().len() == 2));
}

/// Where the TL states no file (`secureFileEmpty`, or the flag unset),
/// nothing contradicts the credentials' entry for one: it is left unused,
/// as over the Bot API. A file without credentials is refused, as before.
#[test]
fn an_empty_secure_file_leaves_the_credentials_entry_unused() {
    let key = key();
    let sealed = every_part(&key);
    let front = value(&mut sealed.mtproto.clone(), ElementType::DriverLicense)
        .front_side
        .clone()
        .unwrap();
    // secureFile#7d09c27e id access_hash size dc_id date file_hash(32) secret(0)
    let mut encoded = 0x7d09_c27e_u32.to_le_bytes().to_vec();
    encoded.extend_from_slice(&front.id.to_le_bytes());
    encoded.extend_from_slice(&front.access_hash.to_le_bytes());
    encoded.extend_from_slice(&front.size.to_le_bytes());
    encoded.extend_from_slice(&front.dc_id.to_le_bytes());
    encoded.extend_from_slice(&front.date.to_le_bytes());
    encoded.push(32);
    encoded.extend_from_slice(&front.file_hash);
    encoded.extend_from_slice(&[0; 3 + 4]);
    let tl = sealed.mtproto.to_tl_bytes();
    let at = tl.windows(encoded.len()).position(|w| w == encoded).unwrap();
    let mut empty = tl[..at].to_vec();
    empty.extend_from_slice(&0x6419_9744_u32.to_le_bytes()); // secureFileEmpty
    empty.extend_from_slice(&tl[at + encoded.len()..]);
    let sent = mtproto::SecureValuesSentMe::from_tl(&empty).unwrap();
    let passport = mtproto::decrypt(&key, &sent, NonceCheck::Expect("nonce-1")).unwrap();
    let Some(Element::Document(license)) = passport.element(ElementType::DriverLicense) else {
        panic!("no driver's licence");
    };
    assert!(license.front_side().is_none());
    assert!(license.reverse_side().is_some());

    let mut fewer = sealed.mtproto.clone();
    value(&mut fewer, ElementType::UtilityBill).files.pop();
    let passport = mtproto::decrypt(&key, &through_tl(&fewer), NonceCheck::Skip).unwrap();
    let Some(Element::Document(bill)) = passport.element(ElementType::UtilityBill) else {
        panic!("no utility bill");
    };
    assert_eq!(bill.files().len(), 2);

    let mut more = sealed.mtproto.clone();
    let bill = value(&mut more, ElementType::UtilityBill);
    let extra = bill.files[0].clone();
    bill.files.push(extra);
    let error = mtproto::decrypt(&key, &through_tl(&more), NonceCheck::Skip).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the credentials hold no files[3] for the utility_bill element"
    );
}
