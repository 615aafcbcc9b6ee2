//! Arbitrary bytes as the decrypted credentials JSON: encrypted for the
//! test key, then decrypted and parsed. Never panics; accepts only
//! well-formed JSON (checked with `IgnoredAny`, since serde_json, like the
//! credentials parser, skips unknown fields without checking that their
//! strings are UTF-8) with objects wherever the protocol has objects; and
//! every error is one line of bounded length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::de::IgnoredAny;
use telegram_passport::client;
use telegram_passport_fuzz::{bounded_error, credentials_shape_is_strict, key};

fuzz_target!(|json: &[u8]| {
    let encrypted = client::encrypt_credentials(&key().public_key(), json).expect("encrypting never fails");
    match encrypted.decrypt(key()) {
        Ok(credentials) => {
            let well_formed = serde_json::from_slice::<IgnoredAny>(json).is_ok();
            assert!(well_formed, "{credentials:?}");
            assert!(
                credentials_shape_is_strict(json),
                "accepted a non-object: {credentials:?}"
            );
        }
        Err(error) => bounded_error(&error),
    }
});
