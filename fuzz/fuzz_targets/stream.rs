//! Streaming decryption, fed in input-chosen pieces, agrees with decryption
//! in memory. Input: 32-byte secret, 32-byte hash, a count `n`, `n` piece
//! sizes (used in turn, 0 read as 1), then the ciphertext.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use telegram_passport_fuzz::file_input;

fuzz_target!(|data: &[u8]| {
    let Some((file, rest)) = file_input(data) else { return };
    let Some((&n, rest)) = rest.split_first() else { return };
    let (sizes, mut ciphertext) = rest.split_at(usize::from(n).min(rest.len()));
    let expected = file.decrypt(ciphertext.to_vec()).ok().map(|p| p.into_vec());
    let mut decryptor = file.decryptor(Vec::new()).expect("any secret and hash make a cipher");
    let mut sizes = sizes.iter().map(|&size| usize::from(size).max(1)).cycle();
    while !ciphertext.is_empty() {
        let size = sizes.next().unwrap_or(ciphertext.len()).min(ciphertext.len());
        let (piece, tail) = ciphertext.split_at(size);
        decryptor.write_all(piece).expect("a Vec sink never fails");
        ciphertext = tail;
    }
    assert_eq!(decryptor.finish().ok(), expected);
});
