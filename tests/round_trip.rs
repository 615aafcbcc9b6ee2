//! Round trips through the client side: random sizes, every padding length,
//! random passports, both API forms; and garbage that must never panic.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use proptest::prelude::*;
use telegram_passport::client::{self, PassportBuilder};
use telegram_passport::{
    decrypt, mtproto, Date, ElementType, Error, FileSlot, Gender, IdDocumentData, NonceCheck, PassportData,
    PersonalDetails, PrivateKey, ResidentialAddress, Secret,
};

fn key() -> &'static PrivateKey {
    static KEY: std::sync::OnceLock<PrivateKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| common::key("keys/rsa2048_pkcs1.pem"))
}

#[test]
fn every_padding_length_round_trips() {
    for padding in 32..=255usize {
        for extra_blocks in 0..3 {
            let len = (16 - padding % 16) % 16 + 16 * extra_blocks;
            let plain: Vec<u8> = (0..len).map(|i| (i * 7 + padding) as u8).collect();
            let encrypted =
                client::hazmat::encrypt_with_padding(&plain, Secret::new([padding as u8; 32]), padding).unwrap();
            assert_eq!(encrypted.data.len(), padding + len);
            assert_eq!(encrypted.data[..].len() % 16, 0);
            let credentials = common::file_credentials(encrypted.hash.as_bytes(), encrypted.secret.expose());
            assert_eq!(
                &credentials.decrypt(encrypted.data).unwrap()[..],
                &plain[..],
                "padding {padding}"
            );
        }
    }
}

#[test]
fn invalid_padding_lengths_are_refused_when_encrypting() {
    let secret = || Secret::new([1; 32]);
    for (len, padding) in [(0, 16), (0, 256), (1, 32), (16, 31), (0, 0)] {
        assert!(matches!(
            client::hazmat::encrypt_with_padding(&vec![0; len], secret(), padding),
            Err(Error::InvalidPadding { .. })
        ));
    }
}

#[test]
fn app_secrets_have_the_apps_checksum() {
    for _ in 0..100 {
        let secret = client::random_secret().unwrap();
        let sum: u32 = secret.expose().iter().map(|&b| u32::from(b)).sum();
        assert_eq!(sum % 255, 239);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_sizes_round_trip(plain in proptest::collection::vec(any::<u8>(), 0..5000)) {
        let encrypted = client::encrypt(&plain).unwrap();
        let padding = encrypted.data.len() - plain.len();
        prop_assert!((32..=255).contains(&padding));
        let credentials = common::file_credentials(encrypted.hash.as_bytes(), encrypted.secret.expose());
        let mut buf = encrypted.data.clone();
        prop_assert_eq!(credentials.decrypt_in_place(&mut buf).unwrap(), &plain[..]);
        prop_assert_eq!(credentials.decrypt(encrypted.data).unwrap().into_vec(), plain);
    }

    #[test]
    fn random_passports_round_trip_in_both_forms(
        first in "\\PC{0,20}",
        last in "[a-zA-ZÅØÆåøæ -]{1,30}",
        native in proptest::option::of("[а-яА-Я明日]{1,10}"),
        day in 1u8..=28, month in 1u8..=12, year in 1900u16..2020,
        document_no in "[A-Z0-9]{1,12}",
        file in proptest::collection::vec(any::<u8>(), 1..3000),
        nonce in "[A-Za-z0-9_-]{16,64}",
    ) {
        let mut details = PersonalDetails::new(first, last, Date::new(format!("{day:02}.{month:02}.{year}")), Gender::Male, "NO", "SE");
        details.first_name_native = native;
        let address = ResidentialAddress::new("1 Main St", "Oslo", "NO", "0150");
        let sealed = PassportBuilder::new()
            .personal_details(&details)
            .id_document(ElementType::DriverLicense, &IdDocumentData::new(document_no.clone(), None))
            .file(ElementType::DriverLicense, FileSlot::FrontSide, "f", file.clone())
            .file(ElementType::DriverLicense, FileSlot::ReverseSide, "r", file.clone())
            .address(&address)
            .file(ElementType::UtilityBill, FileSlot::Files, "u1", file.clone())
            .file(ElementType::UtilityBill, FileSlot::Files, "u2", vec![1; 10])
            .phone_number("4712345678")
            .seal(&key().public_key(), &nonce)
            .unwrap();

        let bot = decrypt(key(), &sealed.passport_data, NonceCheck::Expect(&nonce)).unwrap();
        let mt = mtproto::decrypt(key(), &sealed.mtproto, NonceCheck::Expect(&nonce)).unwrap();
        for passport in [&bot, &mt] {
            prop_assert_eq!(passport.personal_details(), Some(&details));
            prop_assert_eq!(passport.address(), Some(&address));
            let licence = passport.identity_documents().next().unwrap();
            prop_assert_eq!(&licence.id_document_data().unwrap().document_no, &document_no);
            prop_assert_eq!(passport.phone_number(), Some("4712345678"));
            let bill = passport.address_documents().next().unwrap();
            prop_assert_eq!(bill.files().len(), 2);
        }
        let licence = bot.identity_documents().next().unwrap();
        let back = licence.reverse_side().unwrap();
        prop_assert_eq!(back.decrypt(sealed.files["r"].clone()).unwrap().into_vec(), file.clone());
        let licence = mt.identity_documents().next().unwrap();
        let back = licence.reverse_side().unwrap();
        let telegram_passport::FileLocation::Mtproto(location) = back.location() else { panic!() };
        prop_assert_eq!(back.decrypt(sealed.mtproto_files[&location.id].clone()).unwrap().into_vec(), file);
        // The JSON form survives serde both ways.
        let reparsed = PassportData::from_json(sealed.passport_data.to_json().as_bytes()).unwrap();
        prop_assert_eq!(reparsed, sealed.passport_data);
    }

    #[test]
    fn garbage_json_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = PassportData::from_json(&bytes);
    }

    #[test]
    fn mutated_passports_never_panic(position in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let sealed = sealed_sample();
        let mut json = sealed.passport_data.to_json().into_bytes();
        let i = position.index(json.len());
        json[i] = byte;
        if let Ok(data) = PassportData::from_json(&json) {
            let _ = decrypt(key(), &data, NonceCheck::Skip);
        }
    }
}

fn sealed_sample() -> &'static client::SealedPassport {
    static SEALED: std::sync::OnceLock<client::SealedPassport> = std::sync::OnceLock::new();
    SEALED.get_or_init(|| {
        PassportBuilder::new()
            .personal_details(&PersonalDetails::new(
                "A",
                "B",
                Date::new("01.01.1990"),
                Gender::Female,
                "DK",
                "DK",
            ))
            .file(ElementType::Passport, FileSlot::Selfie, "s", vec![7; 64])
            .id_document(ElementType::Passport, &IdDocumentData::new("1", None))
            .email("x@example.org")
            .seal(&key().public_key(), "n")
            .unwrap()
    })
}

/// The legal padding lengths for a plaintext length, as `pick` chooses.
fn legal_padding(len: usize, pick: u8) -> usize {
    let first = 32 + (16 - (len + 32) % 16) % 16;
    let choices = (255 - first) / 16 + 1;
    first + 16 * (usize::from(pick) % choices)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn identity_for_any_size_up_to_64_kib_and_any_legal_padding(len in 0usize..=65_536, pick in any::<u8>(), seed in any::<u8>()) {
        let plain: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(seed | 1)).collect();
        let padding = legal_padding(len, pick);
        let encrypted = client::hazmat::encrypt_with_padding(&plain, client::random_secret().unwrap(), padding).unwrap();
        let credentials = common::file_credentials(encrypted.hash.as_bytes(), encrypted.secret.expose());
        prop_assert_eq!(credentials.decrypt(encrypted.data).unwrap().into_vec(), plain);
    }

    #[test]
    fn any_single_flipped_bit_is_rejected(len in 0usize..4096, place in 0u8..3, bit in any::<prop::sample::Index>()) {
        let encrypted = client::encrypt(&vec![0x33; len]).unwrap();
        let (mut data, mut hash, mut secret) =
            (encrypted.data.clone(), encrypted.hash.as_bytes().to_vec(), encrypted.secret.expose().to_vec());
        let target = match place {
            0 => &mut data,
            1 => &mut hash,
            _ => &mut secret,
        };
        let position = bit.index(target.len() * 8);
        target[position / 8] ^= 1 << (position % 8);
        let credentials = common::file_credentials(&hash, &secret);
        let result = credentials.decrypt(data);
        prop_assert!(matches!(result, Err(Error::Decryption(_))), "place {} bit {}", place, position);
    }

    #[test]
    fn random_json_never_panics_the_decoders(value in json_value(), text in "\\PC{0,300}") {
        for json in [value.to_string(), text] {
            let _ = serde_json::from_str::<PersonalDetails>(&json);
            let _ = serde_json::from_str::<IdDocumentData>(&json);
            let _ = serde_json::from_str::<ResidentialAddress>(&json);
            let _ = PassportData::from_json(json.as_bytes());
        }
    }
}

/// Random JSON, biased toward the field names the decoders look for.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let names = prop::sample::select(vec![
        "first_name",
        "last_name",
        "middle_name",
        "birth_date",
        "gender",
        "country_code",
        "residence_country_code",
        "first_name_native",
        "document_no",
        "expiry_date",
        "street_line1",
        "city",
        "post_code",
        "data",
        "credentials",
        "type",
        "hash",
        "passport_data",
        "message",
        "files",
        "front_side",
        "file_id",
        "x",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,20}".prop_map(Value::String),
        prop::sample::select(vec!["01.01.2000", "male", "DK", "", "passport", "31.02.2001"]).prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(names.clone(), inner, 0..8)
                .prop_map(|map| Value::Object(map.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}
