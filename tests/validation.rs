//! Validation against the request and the error reports it produces: every
//! rule, every error source's Bot API JSON field by field, hashes equal to
//! the credentials', and the MTProto form.

mod common;

use serde_json::{json, Value};
use telegram_passport::client::{PassportBuilder, SealedPassport};
use telegram_passport::ElementType::{self, *};
use telegram_passport::{
    decrypt, mtproto, CalendarDate, Credentials, DecryptedPassport, Document, Error, FileSlot, NonceCheck,
    PassportElementError, PrivateKey, Problem, Rejected, Scope, ScopeElement, ScopeOne, ScopeType, SecureValueError,
    TlHashes, Validation, Validator,
};

fn key() -> &'static PrivateKey {
    static KEY: std::sync::OnceLock<PrivateKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| common::key("keys/rsa2048_pkcs1.pem"))
}

fn today() -> CalendarDate {
    CalendarDate::new(2026, 11, 23).unwrap()
}

fn jpeg(n: u8) -> Vec<u8> {
    vec![0xff, 0xd8, n, n, n, n]
}

fn good_details() -> Value {
    json!({"first_name": "Anna", "last_name": "Ivanova", "birth_date": "14.03.1991", "gender": "female",
           "country_code": "RU", "residence_country_code": "DE",
           "first_name_native": "Анна", "last_name_native": "Иванова"})
}

/// A complete, valid submission; `edit` changes it before sealing.
fn submission(edit: impl FnOnce(PassportBuilder) -> PassportBuilder) -> SealedPassport {
    let builder = PassportBuilder::new()
        .data(PersonalDetails, &good_details())
        .data(DriverLicense, &json!({"document_no": "DL-1", "expiry_date": "01.01.2030"}))
        .file(DriverLicense, FileSlot::FrontSide, "dl-front", jpeg(1))
        .file(DriverLicense, FileSlot::ReverseSide, "dl-back", jpeg(2))
        .file(DriverLicense, FileSlot::Selfie, "dl-selfie", jpeg(3))
        .file(DriverLicense, FileSlot::Translation, "dl-tr-1", jpeg(4))
        .file(DriverLicense, FileSlot::Translation, "dl-tr-2", jpeg(5))
        .data(Address, &json!({"street_line1": "Unter den Linden 5", "city": "Berlin", "country_code": "DE", "post_code": "10117"}))
        .file(UtilityBill, FileSlot::Files, "ub-1", jpeg(6))
        .file(UtilityBill, FileSlot::Files, "ub-2", jpeg(7))
        .file(UtilityBill, FileSlot::Translation, "ub-tr-1", jpeg(8))
        .phone_number("4915112345678")
        .email("anna@example.org");
    edit(builder).seal(&key().public_key(), "nonce").unwrap()
}

fn open(sealed: &SealedPassport) -> DecryptedPassport {
    decrypt(key(), &sealed.passport_data, NonceCheck::Expect("nonce")).unwrap()
}

fn kyc_scope() -> Scope {
    Scope::new([
        ScopeElement::one(PersonalDetails).native_names(),
        ScopeElement::one_of([Passport, IdentityCard, DriverLicense]).selfie(),
        ScopeElement::one(Address),
        ScopeElement::one(UtilityBill),
        ScopeElement::one(PhoneNumber),
        ScopeElement::one(Email),
    ])
    .unwrap()
}

fn validate(scope: &Scope, passport: DecryptedPassport) -> Validation {
    Validator::new(scope, today()).validate(passport)
}

fn rejected(validation: Validation) -> Rejected {
    match validation {
        Validation::Rejected(rejected) => rejected,
        Validation::Accepted(_) => panic!("accepted"),
    }
}

fn problems(validation: Validation) -> Vec<Problem> {
    rejected(validation)
        .findings()
        .iter()
        .map(|f| f.problem().clone())
        .collect()
}

fn document(passport: &DecryptedPassport, element_type: ElementType) -> &Document {
    passport
        .elements()
        .iter()
        .find_map(|e| match e {
            telegram_passport::Element::Document(d) if d.element_type() == element_type => Some(&**d),
            _ => None,
        })
        .unwrap()
}

#[test]
fn a_complete_submission_is_accepted_with_its_values() {
    let passport = open(&submission(|b| b));
    match validate(&kyc_scope(), passport) {
        Validation::Accepted(accepted) => {
            assert_eq!(accepted.passport().personal_details().unwrap().first_name, "Anna");
            let json = serde_json::to_value(Validation::Accepted(accepted)).unwrap();
            assert_eq!(json["status"], "accepted");
            assert_eq!(json["passport"]["elements"][0]["data"]["first_name"], "Anna");
        }
        Validation::Rejected(rejected) => panic!("{:?}", rejected.findings()),
    }
}

#[test]
fn missing_elements_single_and_one_of() {
    let sealed = PassportBuilder::new()
        .email("a@example.org")
        .seal(&key().public_key(), "nonce")
        .unwrap();
    let outcome = rejected(validate(&kyc_scope(), open(&sealed)));
    let problems: Vec<&Problem> = outcome.findings().iter().map(|f| f.problem()).collect();
    assert_eq!(
        problems[0],
        &Problem::MissingElement {
            requested: vec![PersonalDetails]
        }
    );
    assert_eq!(
        problems[1],
        &Problem::MissingElement {
            requested: vec![Passport, IdentityCard, DriverLicense]
        }
    );
    assert_eq!(
        outcome.findings()[1].message(),
        "Please share one of: passport, identity card, driver license"
    );
    assert_eq!(problems.len(), 5, "{problems:?}");
    assert!(outcome.has_missing_elements());
    assert!(
        outcome.findings().iter().all(|f| f.error().is_none()),
        "a missing element has no hash to name"
    );

    // An alias is satisfied by any of its types.
    let scope = Scope::new([ScopeType::IdDocument]).unwrap();
    assert!(matches!(
        validate(&scope, open(&submission(|b| b))),
        Validation::Accepted(_)
    ));
}

#[test]
fn requested_selfie_and_translation() {
    let no_selfie = PassportBuilder::new()
        .data(Passport, &json!({"document_no": "P1"}))
        .file(Passport, FileSlot::FrontSide, "front", jpeg(1))
        .seal(&key().public_key(), "nonce")
        .unwrap();
    for scope in [
        Scope::new([ScopeElement::one(Passport).selfie()]).unwrap(),
        Scope::new([ScopeElement::one_of([Passport, IdentityCard]).selfie()]).unwrap(),
        Scope::new([ScopeElement::one_of([
            ScopeOne::new(Passport).selfie(),
            IdentityCard.into(),
        ])])
        .unwrap(),
        Scope::new([ScopeElement::one(ScopeType::IdDocument).selfie()]).unwrap(),
    ] {
        let outcome = rejected(validate(&scope, open(&no_selfie)));
        assert_eq!(outcome.findings().len(), 1, "{scope:?}");
        let finding = &outcome.findings()[0];
        assert_eq!(
            finding.problem(),
            &Problem::MissingFile {
                element: Passport,
                slot: FileSlot::Selfie
            }
        );
        let error = serde_json::to_value(finding.error().unwrap()).unwrap();
        assert_eq!(error["source"], "unspecified");
        assert_eq!(error["type"], "passport");
        assert_eq!(error["message"], "Please upload a selfie holding the document");
    }
    let scope = Scope::new([ScopeElement::one_of([UtilityBill, BankStatement]).translation()]).unwrap();
    let no_translation = PassportBuilder::new()
        .file(BankStatement, FileSlot::Files, "bs", jpeg(1))
        .seal(&key().public_key(), "nonce")
        .unwrap();
    assert_eq!(
        problems(validate(&scope, open(&no_translation))),
        [Problem::MissingFile {
            element: BankStatement,
            slot: FileSlot::Translation
        }]
    );
    // Not asked for, not required.
    let scope = Scope::new([Passport]).unwrap();
    assert!(matches!(validate(&scope, open(&no_selfie)), Validation::Accepted(_)));
}

#[test]
fn missing_document_files() {
    let sealed = PassportBuilder::new()
        .data(IdentityCard, &json!({"document_no": "I1"}))
        .data(
            Address,
            &json!({"street_line1": "x", "city": "y", "country_code": "DE", "post_code": "1"}),
        )
        .file(RentalAgreement, FileSlot::Translation, "tr", jpeg(1))
        .seal(&key().public_key(), "nonce")
        .unwrap();
    let scope = Scope::new([IdentityCard, Address, RentalAgreement]).unwrap();
    assert_eq!(
        problems(validate(&scope, open(&sealed))),
        [
            Problem::MissingFile {
                element: IdentityCard,
                slot: FileSlot::FrontSide
            },
            Problem::MissingFile {
                element: IdentityCard,
                slot: FileSlot::ReverseSide
            },
            Problem::MissingFile {
                element: RentalAgreement,
                slot: FileSlot::Files
            },
        ]
    );
}

/// Seals the standard submission with personal details replaced by `details`.
fn with_details(details: Value) -> DecryptedPassport {
    open(&submission(|b| b.data(PersonalDetails, &details)))
}

fn details_with(field: &str, value: Value) -> Value {
    let mut details = good_details();
    details[field] = value;
    details
}

fn field_errors(validation: Validation) -> Vec<(String, String)> {
    rejected(validation)
        .errors()
        .iter()
        .map(|e| {
            let json = serde_json::to_value(e).unwrap();
            assert_eq!(json["source"], "data", "{json}");
            (
                json["field_name"].as_str().unwrap().to_owned(),
                json["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn personal_details_rules() {
    let scope = kyc_scope();
    let cases: Vec<(Value, (&str, &str))> = vec![
        (
            details_with("first_name", json!("")),
            ("first_name", "First name is required"),
        ),
        (
            details_with("last_name", json!("  ")),
            ("last_name", "Last name is required"),
        ),
        (
            details_with("birth_date", json!("")),
            ("birth_date", "Date of birth is required"),
        ),
        (
            details_with("birth_date", json!("31.02.1990")),
            ("birth_date", "Date of birth is not a valid date"),
        ),
        (
            details_with("birth_date", json!("24.11.2026")),
            ("birth_date", "Date of birth is in the future"),
        ),
        (
            details_with("birth_date", json!("01.01.1890")),
            ("birth_date", "Date of birth gives an age of 136 years; please check it"),
        ),
        (
            details_with("gender", json!("other")),
            ("gender", "Gender must be male or female"),
        ),
        (details_with("gender", json!("")), ("gender", "Gender is required")),
        (
            details_with("country_code", json!("XX")),
            ("country_code", "Country is not a valid country"),
        ),
        (
            details_with("residence_country_code", json!("")),
            ("residence_country_code", "Country of residence is required"),
        ),
        (
            details_with("first_name_native", json!("")),
            ("first_name_native", "First name in your native language is required"),
        ),
    ];
    for (details, (field, message)) in cases {
        let errors = field_errors(validate(&scope, with_details(details.clone())));
        assert_eq!(errors, [(field.to_owned(), message.to_owned())], "{details}");
    }
    // Born today is fine; native names are needed only when requested.
    assert!(matches!(
        validate(&scope, with_details(details_with("birth_date", json!("23.11.2026")))),
        Validation::Accepted(_)
    ));
    let plain = Scope::new([PersonalDetails]).unwrap();
    let mut details = good_details();
    details.as_object_mut().unwrap().retain(|k, _| !k.ends_with("_native"));
    assert!(matches!(
        validate(&plain, with_details(details)),
        Validation::Accepted(_)
    ));
}

#[test]
fn minimum_age() {
    let scope = Scope::new([PersonalDetails]).unwrap();
    let validator = Validator::new(&scope, today()).minimum_age(18);
    let passport = with_details(details_with("birth_date", json!("24.11.2008")));
    let outcome = rejected(validator.validate(passport));
    assert_eq!(
        outcome.findings()[0].problem(),
        &Problem::TooYoung { years: 17, minimum: 18 }
    );
    assert_eq!(outcome.findings()[0].message(), "You must be at least 18 years old");
    let passport = with_details(details_with("birth_date", json!("23.11.2008")));
    assert!(matches!(validator.validate(passport), Validation::Accepted(_)));
}

#[test]
fn identity_document_and_address_rules() {
    let scope = kyc_scope();
    for (data, expected) in [
        (
            json!({"document_no": "", "expiry_date": "01.01.2030"}),
            ("document_no", "Document number is required"),
        ),
        (
            json!({"document_no": "D", "expiry_date": "22.11.2026"}),
            ("expiry_date", "The document expired on 22.11.2026"),
        ),
        (
            json!({"document_no": "D", "expiry_date": "2030-01-01"}),
            ("expiry_date", "Expiry date is not a valid date"),
        ),
    ] {
        let passport = open(&submission(|b| b.data(DriverLicense, &data)));
        assert_eq!(
            field_errors(validate(&scope, passport)),
            [(expected.0.to_owned(), expected.1.to_owned())],
            "{data}"
        );
    }
    // Expiring today is still valid; no expiry date at all is valid.
    for data in [
        json!({"document_no": "D", "expiry_date": "23.11.2026"}),
        json!({"document_no": "D", "expiry_date": ""}),
    ] {
        let passport = open(&submission(|b| b.data(DriverLicense, &data)));
        assert!(matches!(validate(&scope, passport), Validation::Accepted(_)), "{data}");
    }
    for (data, expected) in [
        (
            json!({"street_line1": "", "city": "B", "country_code": "DE", "post_code": "1"}),
            "street_line1",
        ),
        (
            json!({"street_line1": "S", "city": "", "country_code": "DE", "post_code": "1"}),
            "city",
        ),
        (
            json!({"street_line1": "S", "city": "B", "country_code": "UK", "post_code": "1"}),
            "country_code",
        ),
        (
            json!({"street_line1": "S", "city": "B", "country_code": "DE"}),
            "post_code",
        ),
    ] {
        let passport = open(&submission(|b| b.data(Address, &data)));
        let errors = field_errors(validate(&scope, passport));
        assert_eq!(errors.len(), 1, "{data}");
        assert_eq!(errors[0].0, expected);
    }
}

#[test]
fn custom_rules_and_translated_messages() {
    let scope = kyc_scope();
    let citizens_of = |allowed: &'static [&'static str]| {
        move |passport: &DecryptedPassport| {
            let details = passport.personal_details().unwrap();
            if allowed.contains(&details.country_code.as_str()) {
                return Vec::new();
            }
            let document = document(passport, PersonalDetails);
            vec![document
                .data_error("country_code", "We serve EU citizens only")
                .unwrap()]
        }
    };
    let validator = Validator::new(&scope, today())
        .rule(citizens_of(&["DE", "FR"]))
        .messages(|problem| match problem {
            Problem::DocumentExpired { expiry, .. } => Some(format!("Das Dokument ist am {expiry} abgelaufen")),
            _ => None,
        });
    let passport = open(&submission(|b| {
        b.data(DriverLicense, &json!({"document_no": "D", "expiry_date": "01.01.2020"}))
    }));
    let outcome = rejected(validator.validate(passport));
    let messages: Vec<&str> = outcome.findings().iter().map(|f| f.message()).collect();
    assert_eq!(
        messages,
        ["Das Dokument ist am 01.01.2020 abgelaufen", "We serve EU citizens only"]
    );
    assert_eq!(outcome.findings()[1].problem(), &Problem::Custom);
    let json = serde_json::to_value(Validation::Rejected(outcome)).unwrap();
    assert_eq!(json["status"], "rejected");
    assert_eq!(json["findings"][0]["problem"]["code"], "document_expired");
    assert_eq!(json["findings"][0]["problem"]["expiry"], "01.01.2020");
    assert_eq!(json["errors"][1]["field_name"], "country_code");
}

fn credentials(sealed: &SealedPassport) -> Credentials {
    sealed.passport_data.credentials.decrypt(key()).unwrap()
}

#[test]
fn all_nine_bot_api_sources_field_by_field_with_the_credentials_hashes() {
    let sealed = submission(|b| b);
    let passport = open(&sealed);
    let credentials = credentials(&sealed);
    let b64 = |hash: &telegram_passport::Sha256Hash| Value::from(hash.to_base64());
    let licence = document(&passport, DriverLicense);
    let bill = document(&passport, UtilityBill);
    let dl = credentials.secure_value(DriverLicense).unwrap();
    let ub = credentials.secure_value(UtilityBill).unwrap();
    let element_hash = &sealed
        .passport_data
        .data
        .iter()
        .find(|e| e.element_type == UtilityBill)
        .unwrap()
        .hash;

    let cases: Vec<(PassportElementError, Value)> = vec![
        (
            licence.data_error("document_no", "m1").unwrap(),
            json!({"source": "data", "type": "driver_license", "field_name": "document_no",
                   "data_hash": b64(dl.data.as_ref().unwrap().data_hash()), "message": "m1"}),
        ),
        (
            licence.file_error(FileSlot::FrontSide, "m2").unwrap(),
            json!({"source": "front_side", "type": "driver_license",
                   "file_hash": b64(dl.front_side.as_ref().unwrap().file_hash()), "message": "m2"}),
        ),
        (
            licence.file_error(FileSlot::ReverseSide, "m3").unwrap(),
            json!({"source": "reverse_side", "type": "driver_license",
                   "file_hash": b64(dl.reverse_side.as_ref().unwrap().file_hash()), "message": "m3"}),
        ),
        (
            licence.file_error(FileSlot::Selfie, "m4").unwrap(),
            json!({"source": "selfie", "type": "driver_license",
                   "file_hash": b64(dl.selfie.as_ref().unwrap().file_hash()), "message": "m4"}),
        ),
        (
            bill.file_error_at(FileSlot::Files, 1, "m5").unwrap(),
            json!({"source": "file", "type": "utility_bill", "file_hash": b64(ub.files[1].file_hash()), "message": "m5"}),
        ),
        (
            bill.file_error(FileSlot::Files, "m6").unwrap(),
            json!({"source": "files", "type": "utility_bill",
                   "file_hashes": [b64(ub.files[0].file_hash()), b64(ub.files[1].file_hash())], "message": "m6"}),
        ),
        (
            licence.file_error_at(FileSlot::Translation, 1, "m7").unwrap(),
            json!({"source": "translation_file", "type": "driver_license",
                   "file_hash": b64(dl.translation[1].file_hash()), "message": "m7"}),
        ),
        (
            licence.file_error(FileSlot::Translation, "m8").unwrap(),
            json!({"source": "translation_files", "type": "driver_license",
                   "file_hashes": [b64(dl.translation[0].file_hash()), b64(dl.translation[1].file_hash())], "message": "m8"}),
        ),
        (
            bill.unspecified_error("m9"),
            json!({"source": "unspecified", "type": "utility_bill", "element_hash": element_hash, "message": "m9"}),
        ),
    ];
    let mut sources = std::collections::BTreeSet::new();
    for (error, expected) in &cases {
        let json = serde_json::to_value(error).unwrap();
        assert_eq!(
            json.as_object().unwrap().keys().collect::<Vec<_>>().len(),
            expected.as_object().unwrap().len()
        );
        for (field, value) in expected.as_object().unwrap() {
            assert_eq!(&json[field], value, "{field} of {json}");
        }
        sources.insert(json["source"].as_str().unwrap().to_owned());
    }
    assert_eq!(sources.len(), 9);

    let body = serde_json::to_value(telegram_passport::SetPassportDataErrors {
        user_id: 42,
        errors: cases.iter().map(|(e, _)| e.clone()).collect(),
    })
    .unwrap();
    assert_eq!(body["user_id"], 42);
    assert_eq!(body["errors"].as_array().unwrap().len(), 9);
}

#[test]
fn sources_refuse_types_they_do_not_allow() {
    use telegram_passport::{ErrorSource, Sha256Hash};
    let hash = Sha256Hash::new([1; 32]);
    let refused = [
        (Passport, ErrorSource::ReverseSide { file_hash: hash }),
        (UtilityBill, ErrorSource::FrontSide { file_hash: hash }),
        (Address, ErrorSource::Selfie { file_hash: hash }),
        (Passport, ErrorSource::File { file_hash: hash }),
        (
            IdentityCard,
            ErrorSource::Files {
                file_hashes: vec![hash],
            },
        ),
        (PersonalDetails, ErrorSource::TranslationFile { file_hash: hash }),
        (
            Address,
            ErrorSource::TranslationFiles {
                file_hashes: vec![hash],
            },
        ),
        (
            UtilityBill,
            ErrorSource::Data {
                field_name: "x".into(),
                data_hash: hash,
            },
        ),
        (
            Email,
            ErrorSource::Data {
                field_name: "x".into(),
                data_hash: hash,
            },
        ),
    ];
    for (element_type, source) in refused {
        let result = PassportElementError::new(element_type, source.clone(), "m");
        assert!(
            matches!(result, Err(Error::NotAllowed { .. })),
            "{element_type} {source:?}"
        );
    }
    assert!(PassportElementError::new(UtilityBill, ErrorSource::Files { file_hashes: vec![] }, "m").is_err());
    // Asking an element for a part it lacks is an error, not a report with a made-up hash.
    let passport = open(&submission(|b| b));
    let licence = document(&passport, DriverLicense);
    assert!(matches!(
        licence.file_error(FileSlot::Files, "m"),
        Err(Error::MissingPart { .. })
    ));
    assert!(document(&passport, UtilityBill).data_error("x", "m").is_err());
}

#[test]
fn mtproto_form_with_raw_hashes_and_constructor_ids() {
    let sealed = submission(|b| b.data(DriverLicense, &json!({"document_no": "D", "expiry_date": "01.01.2020"})));
    let passport = mtproto::decrypt(key(), &sealed.mtproto, NonceCheck::Expect("nonce")).unwrap();
    let credentials = credentials(&sealed);
    let dl = credentials.secure_value(DriverLicense).unwrap();
    let licence = document(&passport, DriverLicense);

    let data = licence
        .data_error("expiry_date", "expired")
        .unwrap()
        .to_mtproto()
        .unwrap();
    assert_eq!(data.constructor_id, 0xe8a40bd9);
    assert_eq!(
        data.hashes,
        TlHashes::One(dl.data.as_ref().unwrap().data_hash().as_bytes().to_vec())
    );
    assert_eq!(data.field.as_deref(), Some("expiry_date"));
    let tl = data.to_tl_bytes();
    assert_eq!(&tl[..4], &0xe8a40bd9u32.to_le_bytes());
    assert_eq!(&tl[4..8], &DriverLicense.mtproto_constructor().to_le_bytes());
    assert_eq!(tl[8], 32);
    assert_eq!(&tl[9..41], dl.data.as_ref().unwrap().data_hash().as_bytes());
    assert_eq!(&tl[44..56], b"\x0bexpiry_date");
    assert_eq!(&tl[56..64], b"\x07expired");
    assert_eq!(tl.len() % 4, 0);

    let files = licence
        .file_error(FileSlot::Translation, "t")
        .unwrap()
        .to_mtproto()
        .unwrap();
    assert_eq!(files.constructor_id, SecureValueError::TRANSLATION_FILES);
    let expected: Vec<Vec<u8>> = dl
        .translation
        .iter()
        .map(|c| c.file_hash().as_bytes().to_vec())
        .collect();
    assert_eq!(files.hashes, TlHashes::Many(expected));
    assert_eq!(&files.to_tl_bytes()[8..16], &[0x15, 0xc4, 0xb5, 0x1c, 2, 0, 0, 0]);

    let whole = licence.unspecified_error("u").to_mtproto().unwrap();
    let value = sealed
        .mtproto
        .values
        .iter()
        .find(|v| v.value_type == DriverLicense)
        .unwrap();
    assert_eq!(
        (whole.constructor_id, whole.hashes),
        (0x869d758f, TlHashes::One(value.hash.clone()))
    );

    let ids = [
        (FileSlot::FrontSide, 0x00be3dfa),
        (FileSlot::ReverseSide, 0x868a2aa5),
        (FileSlot::Selfie, 0xe537ced6),
    ];
    for (slot, id) in ids {
        assert_eq!(
            licence
                .file_error(slot, "x")
                .unwrap()
                .to_mtproto()
                .unwrap()
                .constructor_id,
            id
        );
    }
    let bill = document(&passport, UtilityBill);
    assert_eq!(
        bill.file_error_at(FileSlot::Files, 0, "x")
            .unwrap()
            .to_mtproto()
            .unwrap()
            .constructor_id,
        0x7a700873
    );
    assert_eq!(
        bill.file_error(FileSlot::Files, "x")
            .unwrap()
            .to_mtproto()
            .unwrap()
            .constructor_id,
        0x666220e9
    );
    let tr = bill
        .file_error_at(FileSlot::Translation, 0, "x")
        .unwrap()
        .to_mtproto()
        .unwrap();
    assert_eq!(tr.constructor_id, 0xa1144770);

    // A rejected validation converts as a whole.
    let outcome = rejected(validate(&kyc_scope(), passport));
    let errors = outcome.mtproto_errors().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].constructor_id, SecureValueError::DATA);
}

#[test]
fn bot_api_placeholder_hashes_cannot_become_mtproto_bytes() {
    let Some(dir) = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/vectors/python-telegram-bot")
        .canonicalize()
        .ok()
    else {
        println!("SKIPPED: real-client vectors not found");
        return;
    };
    let key = PrivateKey::from_pem(&std::fs::read_to_string(dir.join("key.pem")).unwrap()).unwrap();
    let data =
        telegram_passport::PassportData::from_json(&std::fs::read(dir.join("passport_data.json")).unwrap()).unwrap();
    let passport = decrypt(&key, &data, NonceCheck::Skip).unwrap();
    let error = passport.elements()[0].unspecified_error("x");
    assert_eq!(
        serde_json::to_value(&error).unwrap()["element_hash"],
        "What to put here?"
    );
    assert!(matches!(error.to_mtproto(), Err(Error::Base64 { .. })));
}
