//! The MTProto form built from arbitrary bytes (with arbitrary or with the
//! fixture's valid credentials): decrypting never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use telegram_passport::{mtproto, NonceCheck};
use telegram_passport_fuzz::{key, SentMe};

fuzz_target!(|sent: SentMe| {
    let sent = mtproto::SecureValuesSentMe::from(sent);
    let _ = mtproto::decrypt(key(), &sent, NonceCheck::Skip);
});
