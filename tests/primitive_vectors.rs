//! The primitive against vectors produced by an independent implementation
//! (Python `cryptography`, see tests/data/generate.py): every `ok_*` case
//! decrypts to its plaintext, every `bad_*` case is the opaque decryption error.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::{b64, file_credentials, load};
use telegram_passport::{Error, Target};

fn cases(prefix: &str) -> Vec<(String, serde_json::Value)> {
    let mut cases: Vec<_> = std::fs::read_dir(common::data_dir().join("primitive"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with(prefix))
        .map(|name| (name.clone(), load(&format!("primitive/{name}"))))
        .collect();
    cases.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(cases.len() >= 10, "too few {prefix} vectors");
    cases
}

#[test]
fn positive_vectors_decrypt_to_their_plaintext() {
    let mut paddings = Vec::new();
    for (name, case) in cases("ok_") {
        assert_eq!(case["expect"], "ok", "{name}");
        let credentials = file_credentials(&b64(&case["hash"]), &b64(&case["secret"]));
        let plaintext = credentials
            .decrypt(b64(&case["ciphertext"]))
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(&plaintext[..], &b64(&case["plaintext"])[..], "{name}");

        let mut buf = b64(&case["ciphertext"]);
        let in_place = credentials.decrypt_in_place(&mut buf).unwrap();
        assert_eq!(in_place, &b64(&case["plaintext"])[..], "{name} in place");
        paddings.push(case["padding_length"].as_u64().unwrap());
    }
    for padding in [32, 127, 128, 255] {
        assert!(paddings.contains(&padding), "no vector with padding {padding}");
    }
}

#[test]
fn negative_vectors_fail_with_one_opaque_error() {
    for (name, case) in cases("bad_") {
        assert_eq!(case["expect"], "decryption_error", "{name}");
        let credentials = file_credentials(&b64(&case["hash"]), &b64(&case["secret"]));
        let mut buf = b64(&case["ciphertext"]);
        let error = credentials.decrypt_in_place(&mut buf).unwrap_err();
        match &error {
            Error::Decryption(inner) => assert_eq!(inner.target(), Target::File, "{name}"),
            other => panic!("{name}: {other:?}"),
        }
        assert_eq!(error.to_string(), "could not decrypt file", "{name}");
        assert!(
            buf.iter().all(|&b| b == 0),
            "{name}: unverified plaintext left in the buffer"
        );
    }
}
