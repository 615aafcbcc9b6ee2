//! Scopes, deep links and SDK parameters: every scope rule, both
//! serialisations, the public example link from the protocol, and property
//! tests that any valid scope survives serialise → parse.

mod common;

use proptest::prelude::*;
use telegram_passport::ElementType::{self, *};
use telegram_passport::{bot_id_from_token, Error, PassportRequest, Scope, ScopeElement, ScopeOne, ScopeType};

/// The scope of the public example page's link (PROTOCOL §2), as Telegram wrote it.
const EXAMPLE_COMPACT: &str = r#"{"v":1,"d":[{"_":"pd","n":1},"ad","pn","em",{"_":[{"_":"pp","s":1,"t":1},"ip","dl","ic"]},{"_":["ub","bs","ra","pr","tr"]}]}"#;

fn example_scope() -> Scope {
    Scope::new([
        ScopeElement::one(PersonalDetails).native_names(),
        Address.into(),
        PhoneNumber.into(),
        Email.into(),
        ScopeElement::one_of([
            ScopeOne::new(Passport).selfie().translation(),
            InternalPassport.into(),
            DriverLicense.into(),
            IdentityCard.into(),
        ]),
        ScopeElement::one_of([
            UtilityBill,
            BankStatement,
            RentalAgreement,
            PassportRegistration,
            TemporaryRegistration,
        ]),
    ])
    .unwrap()
}

#[test]
fn the_public_example_is_reproduced_element_for_element() {
    let scope = example_scope();
    assert_eq!(scope.to_compact_json(), EXAMPLE_COMPACT);
    assert_eq!(Scope::from_json(EXAMPLE_COMPACT).unwrap(), scope);
    assert_eq!(scope.element_types().len(), 13);
    let long = scope.to_json();
    assert_eq!(
        long,
        r#"{"v":1,"data":[{"type":"personal_details","native_names":true},"address","phone_number","email",{"one_of":[{"type":"passport","selfie":true,"translation":true},"internal_passport","driver_license","identity_card"]},{"one_of":["utility_bill","bank_statement","rental_agreement","passport_registration","temporary_registration"]}]}"#
    );
    assert_eq!(Scope::from_json(&long).unwrap(), scope);
}

fn refused(elements: Vec<ScopeElement>, needle: &str) {
    match Scope::new(elements.clone()) {
        Err(Error::InvalidScope(reason)) => {
            assert!(reason.contains(needle), "{elements:?}: {reason}")
        }
        other => panic!("{elements:?} was not refused: {other:?}"),
    }
}

#[test]
fn every_scope_rule() {
    refused(vec![], "at least one element");
    refused(
        vec![Passport.into(), Passport.into()],
        "passport is requested more than once",
    );
    refused(
        vec![ScopeElement::one(ScopeType::IdDocument), Passport.into()],
        "passport is requested more than once",
    );
    refused(
        vec![ScopeElement::one_of([Passport, DriverLicense]), DriverLicense.into()],
        "more than once",
    );
    refused(
        vec![ScopeElement::one_of([Passport, UtilityBill])],
        "only identity documents or only address",
    );
    refused(
        vec![ScopeElement::one_of([PersonalDetails, Passport])],
        "only identity documents or only address",
    );
    refused(
        vec![ScopeElement::one_of(Vec::<ElementType>::new())],
        "at least one document",
    );
    refused(
        vec![ScopeElement::one_of([ScopeType::IdDocument])],
        "alias id_document cannot be used inside",
    );
    refused(
        vec![ScopeElement::one(Address).selfie()],
        "selfie can only be asked for identity documents",
    );
    refused(vec![ScopeElement::one(UtilityBill).selfie()], "selfie");
    refused(vec![ScopeElement::one(ScopeType::AddressDocument).selfie()], "selfie");
    refused(
        vec![ScopeElement::one_of([UtilityBill, BankStatement]).selfie()],
        "group of identity documents",
    );
    refused(
        vec![ScopeElement::one(PersonalDetails).translation()],
        "translation can only be asked for documents",
    );
    refused(vec![ScopeElement::one(Email).translation()], "translation");
    refused(
        vec![ScopeElement::one(Passport).native_names()],
        "native_names can only be asked for personal_details",
    );
    refused(
        vec![ScopeElement::one_of([ScopeOne::new(Passport).native_names()])],
        "native_names",
    );

    // And what Telegram accepts is accepted.
    for valid in [
        vec![ScopeElement::one(ScopeType::IdDocument).selfie().translation()],
        vec![ScopeElement::one(ScopeType::AddressDocument).translation()],
        vec![ScopeElement::one_of([UtilityBill, BankStatement]).translation()],
        vec![
            ScopeElement::one_of([Passport]).selfie(),
            ScopeElement::one(InternalPassport).selfie(),
        ],
        vec![
            ScopeElement::one(PersonalDetails).native_names(),
            PassportRegistration.into(),
        ],
    ] {
        let scope = Scope::new(valid.clone()).unwrap_or_else(|e| panic!("{valid:?}: {e}"));
        assert_eq!(Scope::from_json(&scope.to_compact_json()).unwrap(), scope);
    }
}

#[test]
fn aliases_and_flags_in_both_forms() {
    let scope = Scope::new([
        ScopeElement::one(ScopeType::IdDocument).selfie(),
        ScopeType::AddressDocument.into(),
    ]);
    let scope = scope.unwrap();
    assert_eq!(scope.to_compact_json(), r#"{"v":1,"d":[{"_":"idd","s":1},"add"]}"#);
    assert_eq!(
        scope.to_json(),
        r#"{"v":1,"data":[{"type":"id_document","selfie":true},"address_document"]}"#
    );
    // Flags may be written as booleans or as 0/1 in either form.
    let loose = r#"{"v":1,"data":[{"type":"idd","selfie":1,"translation":false},{"_":"add"}]}"#;
    let parsed = Scope::from_json(loose);
    assert!(
        matches!(parsed, Err(Error::InvalidScope(_))),
        "compact keys in the long form: {parsed:?}"
    );
    let loose = r#"{"v":1,"data":[{"type":"id_document","selfie":1,"translation":false},"address_document"]}"#;
    assert_eq!(Scope::from_json(loose).unwrap(), scope);
}

#[test]
fn unreadable_scope_json() {
    for (json, needle) in [
        ("", "malformed scope JSON"),
        ("[]", "\"v\": 1"),
        (r#"{"v":2,"data":["email"]}"#, "\"v\": 1"),
        (r#"{"v":1}"#, "no \"data\""),
        (r#"{"v":1,"data":"email"}"#, "not an array"),
        (r#"{"v":1,"data":["selfie"]}"#, "unknown scope type \"selfie\""),
        (r#"{"v":1,"data":[5]}"#, "expected a type name"),
        (r#"{"v":1,"data":[{"selfie":true}]}"#, "has no \"type\""),
        (
            r#"{"v":1,"data":[{"type":"passport","selfie":"yes"}]}"#,
            "flag \"selfie\"",
        ),
        (r#"{"v":1,"d":[{"_":"pp","s":2}]}"#, "flag \"s\""),
    ] {
        let message = Scope::from_json(json).unwrap_err().to_string();
        assert!(message.contains(needle), "{json}: {message}");
    }
}

#[test]
fn deep_links_and_sdk_parameters() {
    let key = common::key("keys/rsa2048_pkcs1.pem");
    let bot_id = bot_id_from_token("543260180:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw").unwrap();
    let request = PassportRequest::new(bot_id, example_scope(), &key.public_key(), "n0nce_-x")
        .with_callback_url("https://example.org/passport?done=1&x=ä");

    let link = request.deep_link();
    assert!(
        link.starts_with("tg://resolve?domain=telegrampassport&bot_id=543260180&scope="),
        "{link}"
    );
    assert!(link.contains("&nonce=n0nce_-x&"), "{link}");
    assert!(link.ends_with("&payload=n0nce_-x"), "{link}");
    assert!(
        link.contains("callback_url=https%3A%2F%2Fexample.org%2Fpassport%3Fdone%3D1%26x%3D%C3%A4"),
        "{link}"
    );
    assert!(
        link.contains("public_key=-----BEGIN%20PUBLIC%20KEY-----%0AMII"),
        "{link}"
    );
    assert!(!link.contains('+') && !link.contains(' ') && !link.contains('\n'));
    assert_eq!(PassportRequest::parse_link(&link).unwrap(), request);

    let short = request.passport_link();
    assert!(short.starts_with("tg://passport?bot_id=543260180&"));
    assert_eq!(PassportRequest::parse_link(&short).unwrap(), request);

    let sdk = serde_json::to_value(request.sdk_parameters()).unwrap();
    assert_eq!(sdk["bot_id"], 543260180);
    assert_eq!(
        sdk["scope"],
        serde_json::from_str::<serde_json::Value>(&example_scope().to_json()).unwrap()
    );
    assert_eq!(sdk["public_key"], key.public_key().to_pem());
    assert_eq!(sdk["nonce"], "n0nce_-x");
    assert_eq!(sdk["callback_url"], "https://example.org/passport?done=1&x=ä");
}

#[test]
fn links_from_old_apps_and_bad_links() {
    let key = common::key("keys/rsa2048_pkcs1.pem");
    let scope = Scope::new([Email]).unwrap();
    let request = PassportRequest::new(7, scope, &key.public_key(), "abc");
    let legacy = request.passport_link().replace("&nonce=abc", "");
    assert_eq!(PassportRequest::parse_link(&legacy).unwrap().nonce(), "abc");
    let both = request.passport_link().replace("&payload=abc", "&payload=old");
    assert_eq!(
        PassportRequest::parse_link(&both).unwrap().nonce(),
        "abc",
        "nonce wins over payload"
    );

    for (link, needle) in [
        ("https://t.me/x", "not a tg://passport"),
        ("tg://resolve?domain=other&bot_id=1", "domain=telegrampassport"),
        ("tg://passport?scope=%7B", "no bot_id"),
        ("tg://passport?bot_id=x", "bot_id is not a number"),
        ("tg://passport?bot_id=1&scope=%zz", "percent-encoding"),
    ] {
        let message = PassportRequest::parse_link(link).unwrap_err().to_string();
        assert!(message.contains(needle), "{link}: {message}");
    }
    let no_key = request.passport_link().replace("public_key=", "public_key_=");
    assert!(PassportRequest::parse_link(&no_key)
        .unwrap_err()
        .to_string()
        .contains("no public_key"));
}

/// Any valid scope: a random choice of types, each used once, grouped or not,
/// with the flags each allows.
fn valid_scope() -> impl Strategy<Value = Scope> {
    let identity = [Passport, DriverLicense, IdentityCard, InternalPassport];
    let address = [
        UtilityBill,
        BankStatement,
        RentalAgreement,
        PassportRegistration,
        TemporaryRegistration,
    ];
    (
        proptest::sample::subsequence(identity.to_vec(), 0..=4),
        proptest::sample::subsequence(address.to_vec(), 0..=5),
        any::<[bool; 12]>(),
        proptest::sample::subsequence(vec![PersonalDetails, Address, PhoneNumber, Email], 0..=4),
    )
        .prop_filter_map("empty scope", |(ids, addresses, flags, plain)| {
            let mut elements: Vec<ScopeElement> = plain
                .into_iter()
                .map(|t| {
                    if t == PersonalDetails && flags[0] {
                        ScopeElement::one(t).native_names()
                    } else {
                        t.into()
                    }
                })
                .collect();
            let one = |t: ElementType, selfie: bool, translation: bool| {
                let mut one = ScopeOne::new(t);
                one.selfie = selfie && t.is_identity_document();
                one.translation = translation;
                one
            };
            if flags[1] && !ids.is_empty() {
                let items: Vec<ScopeOne> = ids.iter().map(|&t| one(t, flags[2], flags[3])).collect();
                let mut group = ScopeElement::one_of(items);
                if flags[4] {
                    group = group.selfie();
                }
                if flags[5] {
                    group = group.translation();
                }
                elements.push(group);
            } else {
                elements.extend(ids.iter().map(|&t| ScopeElement::One(one(t, flags[6], flags[7]))));
            }
            if flags[8] && !addresses.is_empty() {
                let group = ScopeElement::one_of(addresses.iter().map(|&t| one(t, false, flags[9])));
                elements.push(if flags[10] { group.translation() } else { group });
            } else {
                elements.extend(addresses.iter().map(|&t| ScopeElement::One(one(t, false, flags[11]))));
            }
            Scope::new(elements).ok()
        })
}

proptest! {
    #[test]
    fn any_valid_scope_survives_both_forms(scope in valid_scope()) {
        prop_assert_eq!(Scope::from_json(&scope.to_json()).unwrap(), scope.clone());
        prop_assert_eq!(Scope::from_json(&scope.to_compact_json()).unwrap(), scope.clone());
    }

    #[test]
    fn any_request_survives_its_links(scope in valid_scope(), nonce in "[A-Za-z0-9_-]{1,64}", bot_id in 1i64..i64::MAX,
                                      callback in proptest::option::of("\\PC{0,40}")) {
        let key = common::key("keys/rsa2048_pkcs1.pem");
        let mut request = PassportRequest::new(bot_id, scope, &key.public_key(), nonce);
        if let Some(url) = callback {
            request = request.with_callback_url(url);
        }
        prop_assert_eq!(PassportRequest::parse_link(&request.deep_link()).unwrap(), request.clone());
        prop_assert_eq!(PassportRequest::parse_link(&request.passport_link()).unwrap(), request);
    }

    #[test]
    fn scope_parsing_never_panics(json in "\\PC{0,200}") {
        let _ = Scope::from_json(&json);
    }
}
