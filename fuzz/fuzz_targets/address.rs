//! Decrypted `ResidentialAddress` JSON: decoding never panics, and what decodes
//! survives being written back and read again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use telegram_passport::ResidentialAddress;

fuzz_target!(|data: &[u8]| {
    let Ok(first) = serde_json::from_slice::<ResidentialAddress>(data) else {
        return;
    };
    let json = serde_json::to_vec(&first).expect("serialising a value never fails");
    let second: ResidentialAddress = serde_json::from_slice(&json).expect("written JSON reads back");
    assert_eq!(first, second, "{}", String::from_utf8_lossy(&json));
});
