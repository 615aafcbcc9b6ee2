//! grammers (MTProto): the service message's action, serialised by
//! grammers-tl-types' own code, goes through `SecureValuesSentMe::from_tl`
//! and decrypts to the same passport as the Bot API form of the same
//! submission. The recipe, as in the README:
//!
//! ```ignore
//! let sent = mtproto::SecureValuesSentMe::from_tl(&service.action.to_bytes())?;
//! let passport = mtproto::decrypt(&key, &sent, NonceCheck::Consume(&store))?;
//! ```

use grammers_tl_types as tl;
use grammers_tl_types::{Deserializable as _, Serializable as _};
use telegram_passport::client::{PassportBuilder, SealedPassport};
use telegram_passport::mtproto::{self, SecurePlainData, SecureValuesSentMe};
use telegram_passport::{
    decrypt, Date, ElementType, FileSlot, Gender, IdDocumentData, MemoryNonceStore, NonceCheck, NonceStore as _,
    PersonalDetails, PrivateKey, ResidentialAddress,
};

fn submission(key: &PrivateKey, nonce: &str) -> SealedPassport {
    PassportBuilder::new()
        .personal_details(&PersonalDetails::new(
            "Anna",
            "Ivanova",
            Date::new("14.03.1991"),
            Gender::Female,
            "RU",
            "DE",
        ))
        .id_document(
            ElementType::Passport,
            &IdDocumentData::new("P-123", Some(Date::new("01.01.2035"))),
        )
        .file(ElementType::Passport, FileSlot::FrontSide, "front", vec![0xd8; 3000])
        .file(ElementType::Passport, FileSlot::Selfie, "selfie", vec![0xd9; 2000])
        .file(ElementType::Passport, FileSlot::Translation, "t1", vec![1; 100])
        .address(&ResidentialAddress::new("Unter den Linden 5", "Berlin", "DE", "10117"))
        .file(ElementType::UtilityBill, FileSlot::Files, "bill", vec![2; 500])
        .phone_number("4915112345678")
        .email("anna@example.org")
        .seal(&key.public_key(), nonce)
        .unwrap()
}

/// The same message action as grammers holds it: built field by field from
/// the sealed submission (this mapping is the test's, not a user's).
fn as_grammers(sent: &SecureValuesSentMe) -> tl::enums::MessageAction {
    let file = |f: &mtproto::SecureFile| {
        tl::enums::SecureFile::File(tl::types::SecureFile {
            id: f.id,
            access_hash: f.access_hash,
            size: f.size,
            dc_id: f.dc_id,
            date: f.date,
            file_hash: f.file_hash.clone(),
            secret: f.secret.clone(),
        })
    };
    let files = |list: &[mtproto::SecureFile]| (!list.is_empty()).then(|| list.iter().map(file).collect());
    let value_type = |t: ElementType| match t {
        ElementType::PersonalDetails => tl::enums::SecureValueType::PersonalDetails,
        ElementType::Passport => tl::enums::SecureValueType::Passport,
        ElementType::DriverLicense => tl::enums::SecureValueType::DriverLicense,
        ElementType::IdentityCard => tl::enums::SecureValueType::IdentityCard,
        ElementType::InternalPassport => tl::enums::SecureValueType::InternalPassport,
        ElementType::Address => tl::enums::SecureValueType::Address,
        ElementType::UtilityBill => tl::enums::SecureValueType::UtilityBill,
        ElementType::BankStatement => tl::enums::SecureValueType::BankStatement,
        ElementType::RentalAgreement => tl::enums::SecureValueType::RentalAgreement,
        ElementType::PassportRegistration => tl::enums::SecureValueType::PassportRegistration,
        ElementType::TemporaryRegistration => tl::enums::SecureValueType::TemporaryRegistration,
        ElementType::PhoneNumber => tl::enums::SecureValueType::Phone,
        ElementType::Email => tl::enums::SecureValueType::Email,
    };
    let values = sent
        .values
        .iter()
        .map(|v| {
            tl::enums::SecureValue::Value(tl::types::SecureValue {
                r#type: value_type(v.value_type),
                data: v.data.as_ref().map(|d| {
                    tl::enums::SecureData::Data(tl::types::SecureData {
                        data: d.data.clone(),
                        data_hash: d.data_hash.clone(),
                        secret: d.secret.clone(),
                    })
                }),
                front_side: v.front_side.as_ref().map(file),
                reverse_side: v.reverse_side.as_ref().map(file),
                selfie: v.selfie.as_ref().map(file),
                translation: files(&v.translation),
                files: files(&v.files),
                plain_data: v.plain_data.as_ref().map(|p| match p {
                    SecurePlainData::Phone(phone) => {
                        tl::enums::SecurePlainData::SecurePlainPhone(tl::types::SecurePlainPhone {
                            phone: phone.clone(),
                        })
                    }
                    SecurePlainData::Email(email) => {
                        tl::enums::SecurePlainData::SecurePlainEmail(tl::types::SecurePlainEmail {
                            email: email.clone(),
                        })
                    }
                }),
                hash: v.hash.clone(),
            })
        })
        .collect();
    let c = &sent.credentials;
    tl::enums::MessageAction::SecureValuesSentMe(tl::types::MessageActionSecureValuesSentMe {
        values,
        credentials: tl::enums::SecureCredentialsEncrypted::Encrypted(tl::types::SecureCredentialsEncrypted {
            data: c.data.clone(),
            hash: c.hash.clone(),
            secret: c.secret.clone(),
        }),
    })
}

#[test]
fn grammers_tl_bytes_decrypt_like_the_bot_api_form() {
    let key = PrivateKey::generate().unwrap();
    let store = MemoryNonceStore::new();
    let nonce = store
        .issue("application-1", std::time::Duration::from_secs(600))
        .unwrap();
    let sealed = submission(&key, &nonce);
    let action = as_grammers(&sealed.mtproto);

    // The recipe: two lines from grammers' action to a verified passport.
    let sent = mtproto::SecureValuesSentMe::from_tl(&action.to_bytes()).unwrap();
    let passport = mtproto::decrypt(&key, &sent, NonceCheck::Consume(&store)).unwrap();

    assert_eq!(sent, sealed.mtproto);
    assert_eq!(passport.context(), Some("application-1"));
    let bot_api = decrypt(&key, &sealed.passport_data, NonceCheck::Expect(&nonce)).unwrap();
    let values = |p: &telegram_passport::DecryptedPassport| {
        let mut json = serde_json::to_value(p).unwrap();
        // Only the element hashes and file locations differ between the APIs.
        for element in json["elements"].as_array_mut().unwrap() {
            let element = element.as_object_mut().unwrap();
            element.remove("hash");
            for part in ["front_side", "reverse_side", "selfie", "files", "translation"] {
                element.remove(part);
            }
        }
        json["elements"].clone()
    };
    assert_eq!(values(&passport), values(&bot_api));
    assert_eq!(passport.personal_details().unwrap().first_name, "Anna");
    assert_eq!(passport.phone_number(), Some("4915112345678"));
}

/// Our writer and grammers' reader agree too.
#[test]
fn grammers_reads_what_we_write() {
    let key = PrivateKey::generate().unwrap();
    let sealed = submission(&key, "n-1");
    let ours = sealed.mtproto.to_tl_bytes();
    let theirs = tl::enums::MessageAction::from_bytes(&ours).unwrap();
    assert_eq!(theirs.to_bytes(), ours);
    assert_eq!(theirs, as_grammers(&sealed.mtproto));
}

/// Malformed bytes from a TL library are refused with a typed error.
#[test]
fn other_actions_and_damaged_bytes_are_refused() {
    let other = tl::enums::MessageAction::ScreenshotTaken.to_bytes();
    assert!(matches!(
        SecureValuesSentMe::from_tl(&other),
        Err(telegram_passport::Error::Tl { offset: 0, .. })
    ));
    let key = PrivateKey::generate().unwrap();
    let bytes = as_grammers(&submission(&key, "n").mtproto).to_bytes();
    assert!(SecureValuesSentMe::from_tl(&bytes[..bytes.len() - 1]).is_err());
}
