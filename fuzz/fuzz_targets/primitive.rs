//! The symmetric primitive on an owned buffer, with an arbitrary secret,
//! hash and ciphertext: never panics, and every entry point agrees.
#![no_main]

use libfuzzer_sys::fuzz_target;
use telegram_passport::DataCredentials;
use telegram_passport_fuzz::file_input;

fuzz_target!(|data: &[u8]| {
    let Some((file, ciphertext)) = file_input(data) else {
        return;
    };
    let owned = file.decrypt(ciphertext.to_vec()).ok().map(|p| p.into_vec());
    let pipelined = file.decrypt_pipelined(ciphertext.to_vec()).ok().map(|p| p.into_vec());
    let as_data = DataCredentials::new(*file.file_hash(), file.secret().clone());
    let element = as_data.decrypt(ciphertext.to_vec()).ok().map(|p| p.into_vec());
    assert_eq!(owned, pipelined);
    assert_eq!(owned, element);
    if let Some(plain) = owned {
        let padding = ciphertext.len() - plain.len();
        assert!((32..=255).contains(&padding), "padding {padding}");
    }
});
