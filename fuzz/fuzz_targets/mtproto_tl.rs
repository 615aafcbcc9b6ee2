//! Arbitrary bytes as the TL of a `messageActionSecureValuesSentMe`:
//! reading never panics and never allocates beyond the input; what reads
//! back writes and reads again to the same value, and decrypts without
//! panicking; every error is one line of bounded length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use telegram_passport::mtproto::SecureValuesSentMe;
use telegram_passport::{mtproto, NonceCheck};
use telegram_passport_fuzz::{bounded_error, key};

fuzz_target!(|bytes: &[u8]| {
    match SecureValuesSentMe::from_tl(bytes) {
        Ok(sent) => {
            let again = SecureValuesSentMe::from_tl(&sent.to_tl_bytes()).expect("what we write reads back");
            assert_eq!(again, sent);
            if let Err(error) = mtproto::decrypt(key(), &sent, NonceCheck::Skip) {
                bounded_error(&error);
            }
        }
        Err(error) => bounded_error(&error),
    }
});
