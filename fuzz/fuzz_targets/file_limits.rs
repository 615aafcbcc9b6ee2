//! `Limits::file` on every in-memory and streaming path: a file over the
//! limit is `TooLarge` everywhere, one within it decrypts exactly as without
//! a limit. Input: 32-byte secret, 32-byte hash, a 2-byte limit, then the
//! ciphertext.
#![no_main]

use libfuzzer_sys::fuzz_target;
use telegram_passport::{Error, Limits};
use telegram_passport_fuzz::file_input;

fuzz_target!(|data: &[u8]| {
    let Some((file, rest)) = file_input(data) else { return };
    let Some((limit, ciphertext)) = rest.split_first_chunk::<2>() else {
        return;
    };
    let limit = u64::from(u16::from_le_bytes(*limit));
    let unlimited = file.decrypt(ciphertext.to_vec()).ok().map(|p| p.into_vec());
    let limited = file.clone().with_limits(&Limits {
        file: limit,
        ..Limits::default()
    });
    let mut buf = ciphertext.to_vec();
    let results = [
        limited.decrypt(ciphertext.to_vec()).map(|p| p.into_vec()),
        limited.decrypt_pipelined(ciphertext.to_vec()).map(|p| p.into_vec()),
        limited.decrypt_in_place(&mut buf).map(<[u8]>::to_vec),
        limited.decrypt_stream(ciphertext, Vec::new()),
    ];
    for result in results {
        if ciphertext.len() as u64 > limit {
            assert!(matches!(result, Err(Error::TooLarge { .. })), "{result:?}");
        } else {
            assert_eq!(result.ok(), unlimited);
        }
    }
});
