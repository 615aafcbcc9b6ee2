//! Every bound is checked before the work it guards, with a clear error;
//! endless input ends.

mod common;

use std::io::Read;

use base64::Engine as _;
use telegram_passport::client::PassportBuilder;
use telegram_passport::{
    client, decrypt_with_limits, mtproto, ElementType, EncryptedPassportElement, Error, FileCredentials, FileSlot,
    IdDocumentData, Limits, NonceCheck, PassportData,
};

fn too_large(result: Result<impl std::fmt::Debug, Error>, what: &str) {
    match result {
        Err(error @ Error::TooLarge { .. }) => assert!(error.to_string().starts_with(what), "{error}"),
        other => panic!("expected {what} to be too large: {other:?}"),
    }
}

#[test]
fn passport_bounds() {
    let key = common::key("keys/rsa2048_pkcs1.pem");
    let sealed = PassportBuilder::new()
        .id_document(ElementType::Passport, &IdDocumentData::new("P", None))
        .file(ElementType::Passport, FileSlot::Translation, "t1", vec![1; 10])
        .file(ElementType::Passport, FileSlot::Translation, "t2", vec![2; 10])
        .email("a@example.org")
        .seal(&key.public_key(), "n")
        .unwrap();
    let data = &sealed.passport_data;
    let check = |limits: Limits| decrypt_with_limits(&key, data, NonceCheck::Skip, &limits);
    assert!(check(Limits::default()).is_ok());
    too_large(
        check(Limits {
            elements: 1,
            ..Limits::default()
        }),
        "passport.data is 2",
    );
    too_large(
        check(Limits {
            element_data: 16,
            ..Limits::default()
        }),
        "passport.data is",
    );
    too_large(
        check(Limits {
            files_per_element: 1,
            ..Limits::default()
        }),
        "passport.translation is 2",
    );
    too_large(
        check(Limits {
            credentials: 100,
            ..Limits::default()
        }),
        "credentials.data is",
    );

    let json = data.to_json();
    let small = Limits {
        input_json: json.len() - 1,
        ..Limits::default()
    };
    too_large(
        PassportData::from_json_with_limits(json.as_bytes(), &small),
        "the passport data JSON is",
    );
    assert!(PassportData::from_json_with_limits(json.as_bytes(), &Limits::default()).is_ok());
    let huge = vec![b' '; Limits::default().input_json + 1];
    too_large(PassportData::from_json(&huge), "the passport data JSON is");

    // The same bounds over MTProto, checked by the same step: the same errors.
    let variants = [
        Limits {
            elements: 1,
            ..Limits::default()
        },
        Limits {
            element_data: 16,
            ..Limits::default()
        },
        Limits {
            files_per_element: 1,
            ..Limits::default()
        },
        Limits {
            credentials: 100,
            ..Limits::default()
        },
    ];
    for limits in variants {
        let bot_api = check(limits).unwrap_err().to_string();
        let mtproto = mtproto::decrypt_with_limits(&key, &sealed.mtproto, NonceCheck::Skip, &limits);
        assert_eq!(mtproto.unwrap_err().to_string(), bot_api, "{limits:?}");
    }
    // Both bound the credentials' RSA secret before any RSA work.
    let secret_limit = Limits {
        credentials: data.credentials.data.len(),
        ..Limits::default()
    };
    let mut long_secret = sealed.mtproto.clone();
    long_secret.credentials.secret = vec![1; secret_limit.credentials + 1];
    too_large(
        mtproto::decrypt_with_limits(&key, &long_secret, NonceCheck::Skip, &secret_limit),
        "credentials.secret is",
    );
    let mut long_secret = data.clone();
    long_secret.credentials.secret = "AAAA".repeat(secret_limit.credentials);
    too_large(
        decrypt_with_limits(&key, &long_secret, NonceCheck::Skip, &secret_limit),
        "credentials.secret is",
    );
}

#[test]
fn an_rsa_ciphertext_of_the_wrong_length_is_refused_before_rsa() {
    let key = common::key("keys/rsa2048_pkcs1.pem");
    let mut data = PassportBuilder::new()
        .email("a@example.org")
        .seal(&key.public_key(), "n")
        .unwrap()
        .passport_data;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut secret = b64.decode(&data.credentials.secret).unwrap();
    secret.push(0);
    data.credentials.secret = b64.encode(&secret);
    let error = decrypt_with_limits(&key, &data, NonceCheck::Skip, &Limits::default()).unwrap_err();
    assert_eq!(error.to_string(), "could not decrypt credentials");
    assert!(format!("{error:?}").contains("Rsa"));
}

#[test]
fn streams_stop_at_the_file_limit() {
    let encrypted = client::encrypt(&[7; 100_000]).unwrap();
    let credentials = FileCredentials::new(encrypted.hash, encrypted.secret);
    // Endless input ends, with a clear error, after the default 20 MiB.
    let endless = std::io::repeat(0x42);
    too_large(
        credentials.decrypt_stream(endless, std::io::sink()),
        "the encrypted file is",
    );
    // A smaller limit for one decryptor.
    let mut decryptor = credentials.decryptor(Vec::new()).unwrap().with_max_size(50_000);
    let copied = std::io::copy(&mut (&encrypted.data[..]).take(200_000), &mut decryptor);
    assert!(copied.is_err());
    too_large(decryptor.finish(), "the encrypted file is");
    // And the exact size still passes.
    let decryptor = credentials
        .decryptor(Vec::new())
        .unwrap()
        .with_max_size(encrypted.data.len() as u64);
    let mut decryptor = decryptor;
    std::io::copy(&mut &encrypted.data[..], &mut decryptor).unwrap();
    assert_eq!(decryptor.finish().unwrap(), vec![7; 100_000]);
}

/// `Limits::file` reaches every path that decrypts a file: set on the
/// credentials, or carried from `decrypt_with_limits` into each `FileRef`.
#[test]
fn the_file_limit_holds_on_every_path() {
    let encrypted = client::encrypt(&[7; 10_000]).unwrap();
    let size = encrypted.data.len() as u64;
    let at = |limit: u64| {
        FileCredentials::new(encrypted.hash, encrypted.secret.clone()).with_limits(&Limits {
            file: limit,
            ..Limits::default()
        })
    };
    let paths = |credentials: &FileCredentials| -> Vec<(&str, Result<usize, Error>)> {
        let folder = tempfile::tempdir().unwrap();
        let mut buf = encrypted.data.clone();
        vec![
            ("decrypt", credentials.decrypt(encrypted.data.clone()).map(|p| p.len())),
            (
                "decrypt_pipelined",
                credentials.decrypt_pipelined(encrypted.data.clone()).map(|p| p.len()),
            ),
            (
                "decrypt_in_place",
                credentials.decrypt_in_place(&mut buf).map(<[u8]>::len),
            ),
            (
                "decrypt_stream",
                credentials
                    .decrypt_stream(&encrypted.data[..], Vec::new())
                    .map(|v| v.len()),
            ),
            ("decryptor", {
                let mut decryptor = credentials.decryptor(Vec::new()).unwrap();
                let _ = std::io::copy(&mut &encrypted.data[..], &mut decryptor);
                decryptor.finish().map(|v| v.len())
            }),
            ("decrypt_to_path", {
                let path = folder.path().join("out.jpg");
                credentials
                    .decrypt_to_path(&encrypted.data[..], &path)
                    .map(|()| std::fs::metadata(&path).unwrap().len() as usize)
            }),
        ]
    };
    for (path, result) in paths(&at(size)) {
        assert_eq!(result.unwrap(), 10_000, "{path} at the exact limit");
    }
    for (path, result) in paths(&at(size - 1)) {
        match result {
            Err(Error::TooLarge { limit, .. }) => assert_eq!(limit, size - 1, "{path}"),
            other => panic!("{path}: expected TooLarge, got {other:?}"),
        }
    }

    // From a whole passport: the limits given to decrypt_with_limits.
    let key = common::key("keys/rsa2048_pkcs1.pem");
    let sealed = PassportBuilder::new()
        .id_document(ElementType::Passport, &IdDocumentData::new("P", None))
        .file(ElementType::Passport, FileSlot::FrontSide, "front", vec![1; 5000])
        .seal(&key.public_key(), "n")
        .unwrap();
    let front = |limits: &Limits| {
        let passport = decrypt_with_limits(&key, &sealed.passport_data, NonceCheck::Skip, limits).unwrap();
        let document = passport.identity_documents().next().unwrap();
        document
            .front_side()
            .unwrap()
            .decrypt(sealed.files["front"].clone())
            .map(|p| p.len())
    };
    assert_eq!(front(&Limits::default()).unwrap(), 5000);
    let small = Limits {
        file: 4096,
        ..Limits::default()
    };
    assert!(matches!(front(&small), Err(Error::TooLarge { limit: 4096, .. })));
    // And the same over MTProto.
    let passport = mtproto::decrypt_with_limits(&key, &sealed.mtproto, NonceCheck::Skip, &small).unwrap();
    let front = passport.identity_documents().next().unwrap().front_side().unwrap();
    let bytes = sealed.mtproto_files.values().next().unwrap().clone();
    assert!(matches!(front.decrypt(bytes), Err(Error::TooLarge { limit: 4096, .. })));
}

/// Counts are refused while the JSON is read, with the same error the
/// decrypt step gives for a `PassportData` built in memory.
#[test]
fn counts_are_refused_while_reading() {
    let element = r#"{"type":"email","hash":""}"#;
    let credentials = r#""credentials":{"data":"","hash":"","secret":""}"#;
    let elements = |n: usize| format!(r#"{{"data":[{}],{credentials}}}"#, vec![element; n].join(","));
    let limit = Limits::default().elements;
    assert!(PassportData::from_json(elements(limit).as_bytes()).is_ok());
    let over = PassportData::from_json(elements(limit + 2).as_bytes());
    too_large(over, &format!("passport.data is {} ", limit + 2));
    // Inside an Update, and in a Message.
    let update = format!(r#"{{"update_id":1,"message":{{"passport_data":{}}}}}"#, elements(100));
    too_large(PassportData::from_json(update.as_bytes()), "passport.data is 100 ");

    let file = r#"{"file_id":"f"}"#;
    let limit = Limits::default().files_per_element;
    for (head, tail, what) in [
        (
            r#"{"type":"utility_bill","hash":"","files":["#,
            "]}",
            "utility_bill.files",
        ),
        (
            r#"{"files":["#,
            r#"],"type":"utility_bill","hash":""}"#,
            "utility_bill.files",
        ),
        (
            r#"{"type":"passport","hash":"","translation":["#,
            "]}",
            "passport.translation",
        ),
    ] {
        let passport = |n: usize| format!(r#"{{"data":[{head}{}{tail}],{credentials}}}"#, vec![file; n].join(","));
        assert!(PassportData::from_json(passport(limit).as_bytes()).is_ok(), "{what}");
        too_large(
            PassportData::from_json(passport(limit + 1).as_bytes()),
            &format!("{what} is {} ", limit + 1),
        );
        // The limits of the call, not the defaults.
        let lenient = Limits {
            files_per_element: limit + 1,
            ..Limits::default()
        };
        assert!(PassportData::from_json_with_limits(passport(limit + 1).as_bytes(), &lenient).is_ok());
    }
}

/// What a list's reader says it expected, and that a list is refused for
/// its length before an item past the limit is looked at.
#[test]
fn lists_are_read_as_lists_and_only_up_to_their_limit() {
    let credentials = r#""credentials":{"data":"","hash":"","secret":""}"#;
    let text = |json: String| PassportData::from_json(json.as_bytes()).unwrap_err().to_string();
    assert!(text(format!(r#"{{"data":5,{credentials}}}"#)).contains("expected a list"));
    let files = text(format!(
        r#"{{"data":[{{"type":"utility_bill","hash":"","files":5}}],{credentials}}}"#
    ));
    assert!(
        files.contains("files: invalid type: integer `5`, expected a list"),
        "{files}"
    );
    // Past the limit, items are counted, not read: a non-object there is
    // still "too many", not "not an object".
    let limit = Limits::default().files_per_element;
    let items = format!("{},7,7", vec![r#"{"file_id":"f"}"#; limit].join(","));
    let json = format!(r#"{{"data":[{{"type":"utility_bill","hash":"","files":[{items}]}}],{credentials}}}"#);
    too_large(
        PassportData::from_json(json.as_bytes()),
        &format!("utility_bill.files is {} ", limit + 2),
    );
    let elements = format!(
        "{},7",
        vec![r#"{"type":"email","hash":""}"#; Limits::default().elements].join(",")
    );
    let json = format!(r#"{{"data":[{elements}],{credentials}}}"#);
    too_large(PassportData::from_json(json.as_bytes()), "passport.data is 14 ");
}

/// The limits of one call end with it: a plain serde read afterwards on
/// the same thread holds the defaults again.
#[test]
fn a_calls_limits_end_with_the_call() {
    let credentials = r#""credentials":{"data":"","hash":"","secret":""}"#;
    let many = format!(
        r#"{{"data":[{}],{credentials}}}"#,
        vec![r#"{"type":"email","hash":""}"#; 20].join(",")
    );
    let lenient = Limits {
        elements: 100,
        ..Limits::default()
    };
    assert!(PassportData::from_json_with_limits(many.as_bytes(), &lenient).is_ok());
    assert!(serde_json::from_str::<PassportData>(&many).is_err());
    assert!(PassportData::from_json(many.as_bytes()).is_err());
    // One element read through serde holds the default file limit too.
    let files = |n: usize| {
        format!(
            r#"{{"type":"utility_bill","hash":"","files":[{}]}}"#,
            vec![r#"{"file_id":"f"}"#; n].join(",")
        )
    };
    let limit = Limits::default().files_per_element;
    assert!(serde_json::from_str::<EncryptedPassportElement>(&files(limit)).is_ok());
    let over = serde_json::from_str::<EncryptedPassportElement>(&files(limit + 1)).unwrap_err();
    assert!(over.to_string().contains("utility_bill.files is"), "{over}");
}
