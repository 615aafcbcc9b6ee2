//! A valid sealed passport with input-chosen bytes overwritten in its
//! encrypted parts: decrypting never panics, and decrypts when nothing
//! changed. Input: 4-byte edits `[field, position (u16, big-endian), byte]`;
//! the fields are the credentials' data, secret and hash, then the data of
//! each element that has data.
#![no_main]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use telegram_passport::{decrypt, NonceCheck};
use telegram_passport_fuzz::{key, sealed, NONCE};

fuzz_target!(|data: &[u8]| {
    let mut passport_data = sealed().passport_data.clone();
    let credentials = &mut passport_data.credentials;
    let mut fields = vec![&mut credentials.data, &mut credentials.secret, &mut credentials.hash];
    fields.extend(
        passport_data
            .data
            .iter_mut()
            .filter_map(|element| element.data.as_mut()),
    );
    let count = fields.len();
    for edit in data.chunks_exact(4) {
        let field = &mut fields[usize::from(edit[0]) % count];
        let mut bytes = STANDARD
            .decode(field.as_bytes())
            .expect("the sealed passport is valid base64");
        let position = usize::from(u16::from_be_bytes([edit[1], edit[2]])) % bytes.len();
        bytes[position] = edit[3];
        **field = STANDARD.encode(bytes);
    }
    let decrypted = decrypt(key(), &passport_data, NonceCheck::Expect(NONCE));
    assert!(
        decrypted.is_ok() || passport_data != sealed().passport_data,
        "the untouched passport decrypts"
    );
});
