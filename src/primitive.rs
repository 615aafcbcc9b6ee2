//! The one symmetric primitive, used for credentials, element data and files:
//!
//! ```text
//! key ‖ iv ‖ _ = SHA-512(secret ‖ hash)          (32 + 16 + 16 bytes)
//! padded       = AES-256-CBC-decrypt(key, iv, ciphertext)   (no PKCS#7)
//! require        SHA-256(padded) == hash         (constant time)
//! require        32 <= padded[0] <= len(padded)  (length byte read unsigned)
//! plaintext    = padded[padded[0]..]
//! ```
//!
//! Invariants: decryption happens in place in the caller's buffer, one pass
//! that hashes each chunk while it is still in cache; on any failure the
//! buffer is zeroized, so unverified plaintext never escapes.

use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use aes::Aes256;
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use crate::error::Step;
use crate::secret::{Secret, Sha256Hash};

const BLOCK: usize = 16;
/// Smallest padding the protocol allows; also the smallest valid ciphertext.
pub(crate) const MIN_PADDING: usize = 32;
/// Bytes decrypted then hashed at a time: small enough to stay in L1/L2.
const CHUNK: usize = 16 * 1024;

/// Derives the AES key and IV: `SHA-512(secret ‖ hash)`, bytes 0..32 and 32..48.
fn derive(secret: &Secret, hash: &Sha256Hash) -> Zeroizing<[u8; 64]> {
    let mut digest = Sha512::new();
    digest.update(secret.expose());
    digest.update(hash.as_bytes());
    let mut out = digest.finalize();
    let mut material = Zeroizing::new([0u8; 64]);
    material.copy_from_slice(&out);
    out.as_mut_slice().zeroize();
    material
}

fn split(material: &[u8; 64]) -> (&[u8], &[u8]) {
    let (key, rest) = material.split_at(32);
    let (iv, _) = rest.split_at(BLOCK);
    (key, iv)
}

/// Decrypts and verifies `buf` in place. On success returns the offset at
/// which the plaintext starts (the padding length); on failure the buffer is
/// zeroized and the failed step returned.
pub(crate) fn decrypt_in_place(buf: &mut [u8], secret: &Secret, hash: &Sha256Hash) -> Result<usize, Step> {
    if buf.is_empty() || !buf.len().is_multiple_of(BLOCK) {
        buf.zeroize();
        return Err(Step::Length);
    }
    let material = derive(secret, hash);
    let (key, iv) = split(&material);
    let mut cipher = cbc::Decryptor::<Aes256>::new_from_slices(key, iv).map_err(|_| Step::KeyMaterial)?;
    let mut hasher = Sha256::new();
    for chunk in buf.chunks_mut(CHUNK) {
        let (blocks, _) = aes::cipher::inout::InOutBuf::from(&mut *chunk).into_chunks();
        cipher.decrypt_blocks_inout(blocks);
        hasher.update(&*chunk);
    }
    let matches = hasher.finalize().as_slice().ct_eq(hash.as_bytes());
    if !bool::from(matches) {
        buf.zeroize();
        return Err(Step::Hash);
    }
    let padding = usize::from(buf.first().copied().unwrap_or(0));
    if padding < MIN_PADDING || padding > buf.len() {
        buf.zeroize();
        return Err(Step::Padding);
    }
    Ok(padding)
}

/// Encrypts an already padded buffer in place and returns its hash: the
/// app's side of the primitive. `padded.len()` must be a multiple of 16.
pub(crate) fn encrypt_in_place(padded: &mut [u8], secret: &Secret) -> Sha256Hash {
    debug_assert_eq!(padded.len() % BLOCK, 0);
    let hash = Sha256Hash::new(Sha256::digest(&*padded).into());
    let material = derive(secret, &hash);
    let (key, iv) = split(&material);
    if let Ok(mut cipher) = cbc::Encryptor::<Aes256>::new_from_slices(key, iv) {
        let (blocks, _) = aes::cipher::inout::InOutBuf::from(padded).into_chunks();
        cipher.encrypt_blocks_inout(blocks);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    fn padded(padding: u8, plain: &[u8]) -> Vec<u8> {
        let mut buf = vec![0x5a; usize::from(padding)];
        buf[0] = padding;
        buf.extend_from_slice(plain);
        buf
    }

    #[test]
    fn round_trip_every_padding_length() {
        let secret = Secret::new([7; 32]);
        for padding in 32..=255u8 {
            let plain_len = (16 - usize::from(padding) % 16) % 16 + 16;
            let plain: Vec<u8> = (0..plain_len).map(|i| i as u8).collect();
            let mut buf = padded(padding, &plain);
            let hash = encrypt_in_place(&mut buf, &secret);
            let start = decrypt_in_place(&mut buf, &secret, &hash).unwrap();
            assert_eq!(&buf[start..], &plain[..], "padding {padding}");
        }
    }

    #[test]
    fn spans_several_chunks() {
        let secret = Secret::new([1; 32]);
        let plain: Vec<u8> = (0..CHUNK * 3 + 16).map(|i| (i * 31) as u8).collect();
        let mut buf = padded(48, &plain);
        let hash = encrypt_in_place(&mut buf, &secret);
        let start = decrypt_in_place(&mut buf, &secret, &hash).unwrap();
        assert_eq!(&buf[start..], &plain[..]);
    }

    #[test]
    fn failures_zeroize_and_name_the_step() {
        let secret = Secret::new([3; 32]);
        let mut good = padded(32, &[9; 32]);
        let hash = encrypt_in_place(&mut good, &secret);

        let mut flipped = good.clone();
        flipped[40] ^= 1;
        assert_eq!(decrypt_in_place(&mut flipped, &secret, &hash), Err(Step::Hash));
        assert!(flipped.iter().all(|&b| b == 0));

        let mut short = good[..good.len() - 1].to_vec();
        assert_eq!(decrypt_in_place(&mut short, &secret, &hash), Err(Step::Length));
        assert_eq!(decrypt_in_place(&mut [], &secret, &hash), Err(Step::Length));

        let mut low = padded(16, &[1; 16]);
        let low_hash = encrypt_in_place(&mut low, &secret);
        assert_eq!(decrypt_in_place(&mut low, &secret, &low_hash), Err(Step::Padding));
        assert!(low.iter().all(|&b| b == 0));
    }
}
