//! A `PassportData`, `Message` or `Update` as JSON: what parses round-trips
//! through `to_json`, and decrypting it with the test key never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use telegram_passport::{decrypt, NonceCheck, PassportData};
use telegram_passport_fuzz::key;

fuzz_target!(|data: &[u8]| {
    let Ok(passport_data) = PassportData::from_json(data) else {
        return;
    };
    let json = passport_data.to_json();
    assert_eq!(
        PassportData::from_json(json.as_bytes()).ok().as_ref(),
        Some(&passport_data),
        "{json}"
    );
    let _ = decrypt(key(), &passport_data, NonceCheck::Skip);
});
