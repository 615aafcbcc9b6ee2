//! Decryption in the caller's buffer: on success the plaintext is the tail
//! of the buffer after a padding of 32 to 255 bytes whose first byte is its
//! length; on failure the buffer is zeroized.
#![no_main]

use libfuzzer_sys::fuzz_target;
use telegram_passport_fuzz::file_input;

fuzz_target!(|data: &[u8]| {
    let Some((file, ciphertext)) = file_input(data) else {
        return;
    };
    let mut buf = ciphertext.to_vec();
    let Ok((at, len)) = file
        .decrypt_in_place(&mut buf)
        .map(|plain| (plain.as_ptr(), plain.len()))
    else {
        return assert!(buf.iter().all(|&b| b == 0), "unverified plaintext left in the buffer");
    };
    let padding = buf.len() - len;
    assert_eq!(
        at,
        buf[padding..].as_ptr(),
        "the plaintext is not the tail of the buffer"
    );
    assert!((32..=255).contains(&padding), "padding {padding} of {}", buf.len());
    assert_eq!(usize::from(buf[0]), padding, "the padding differs from its length byte");
    assert_eq!(file.decrypt(ciphertext.to_vec()).ok().as_deref(), Some(&buf[padding..]));
});
