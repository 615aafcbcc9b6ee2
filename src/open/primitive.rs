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

use aes::cipher::{BlockModeEncrypt, KeyIvInit};
use aes::Aes256;
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use crate::backend;
use crate::error::Step;
use crate::secret::{scrubbed, Secret, Sha256Hash};

const BLOCK: usize = 16;
/// Smallest padding the protocol allows; also the smallest valid ciphertext.
pub(crate) const MIN_PADDING: usize = 32;
/// Bytes decrypted then hashed at a time: small enough to stay in L1/L2.
const CHUNK: usize = 16 * 1024;

/// `SHA-512(secret ‖ hash)` in one heap allocation, zeroized on drop.
struct KeyMaterial(Box<[u8; 64]>);

impl Drop for KeyMaterial {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl KeyMaterial {
    /// Derives the AES key and IV: `SHA-512(secret ‖ hash)`, bytes 0..32 and
    /// 32..48, written straight into the allocation.
    fn derive(secret: &Secret, hash: &Sha256Hash) -> Self {
        let mut digest = Sha512::new();
        digest.update(secret.expose());
        digest.update(hash.as_bytes());
        let mut material = Self(Box::new([0u8; 64]));
        digest.finalize_into((&mut *material.0).into());
        material
    }

    fn key_and_iv(&self) -> (&[u8], &[u8]) {
        let (key, rest) = self.0.split_at(32);
        let (iv, _) = rest.split_at(BLOCK);
        (key, iv)
    }
}

/// The AES-256-CBC decryptor for a secret and hash. It carries the chaining
/// state, so a buffer can be decrypted a chunk at a time.
pub(crate) type Cipher = backend::CbcDecryptor;

pub(crate) fn cipher(secret: &Secret, hash: &Sha256Hash) -> Result<Cipher, Step> {
    let material = KeyMaterial::derive(secret, hash);
    let (key, iv) = material.key_and_iv();
    Cipher::new(key, iv).ok_or(Step::KeyMaterial)
}

/// Decrypts whole blocks in place; `chunk.len()` is a multiple of 16.
pub(crate) fn decrypt_blocks(cipher: &mut Cipher, chunk: &mut [u8]) {
    cipher.decrypt(chunk);
}

/// Constant-time comparison of a computed digest with the expected hash.
pub(crate) fn hash_matches(digest: &[u8], expected: &Sha256Hash) -> bool {
    bool::from(digest.ct_eq(expected.as_bytes()))
}

/// The padding length from the first plaintext byte, read unsigned: 32 to
/// 255, and no more than the padded length.
pub(crate) fn padding_length(first: Option<u8>, padded_len: u64) -> Result<usize, Step> {
    let padding = usize::from(first.unwrap_or(0));
    if padding < MIN_PADDING || padding as u64 > padded_len {
        return Err(Step::Padding);
    }
    Ok(padding)
}

/// How many threads decrypt and hash a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Threads {
    /// Decrypt a chunk, then hash it while it is in cache.
    One,
    /// Decrypt on this thread while a second one hashes, for large buffers
    /// when a second core exists; one thread otherwise.
    Two,
}

/// Decrypts and verifies `buf` in place. On success returns the offset at
/// which the plaintext starts (the padding length); on failure the buffer is
/// zeroized and the failed step returned.
pub(crate) fn decrypt_in_place(
    buf: &mut [u8],
    secret: &Secret,
    hash: &Sha256Hash,
    threads: Threads,
) -> Result<usize, Step> {
    let result = scrubbed(|| decrypt_and_check(buf, secret, hash, threads));
    if result.is_err() {
        buf.zeroize();
    }
    result
}

fn decrypt_and_check(buf: &mut [u8], secret: &Secret, hash: &Sha256Hash, threads: Threads) -> Result<usize, Step> {
    if buf.is_empty() || !buf.len().is_multiple_of(BLOCK) {
        return Err(Step::Length);
    }
    // Building the key schedule leaves copies of it in the stack below this
    // frame; they are overwritten before anything else runs there (the
    // pipeline's channel, for one, copies its uninitialised padding from
    // the stack to the heap).
    let mut cipher = scrubbed(|| cipher(secret, hash))?;
    let two = threads == Threads::Two && buf.len() >= PIPELINE_MIN && pipeline::second_core();
    let pipelined = match two {
        true => pipeline::decrypt_and_hash(buf, &mut cipher),
        false => pipeline::Outcome::NotStarted,
    };
    let digest = match pipelined {
        pipeline::Outcome::Digest(digest) => digest,
        pipeline::Outcome::NotStarted => decrypt_and_hash(buf, &mut cipher),
        pipeline::Outcome::Failed => return Err(Step::Hash),
    };
    if !hash_matches(&digest, hash) {
        return Err(Step::Hash);
    }
    padding_length(buf.first().copied(), buf.len() as u64)
}

/// One thread: decrypt a chunk, then hash it while it is still in cache.
fn decrypt_and_hash(buf: &mut [u8], cipher: &mut Cipher) -> [u8; 32] {
    let mut hasher = backend::Sha256::default();
    for chunk in buf.chunks_mut(CHUNK) {
        decrypt_blocks(cipher, chunk);
        hasher.update(chunk);
    }
    hasher.finalize()
}

/// Below this size a second thread costs more than it saves.
const PIPELINE_MIN: usize = 256 * 1024;

/// Two threads: this one decrypts chunk after chunk while a second hashes
/// the chunks already decrypted, so a large buffer costs about as long as
/// SHA-256 alone instead of SHA-256 plus AES.
pub(crate) mod pipeline {
    use std::sync::mpsc;
    use std::sync::OnceLock;

    use super::{decrypt_blocks, Cipher};
    use crate::backend::Sha256;
    use crate::secret::scrubbed;

    /// Chunk handed from the decrypting to the hashing thread.
    const CHUNK: usize = 64 * 1024;

    /// Whether a second core is there to hash on.
    pub(crate) fn second_core() -> bool {
        static CORES: OnceLock<usize> = OnceLock::new();
        *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from)) > 1
    }

    /// What the two threads produced.
    pub(crate) enum Outcome {
        /// SHA-256 of the decrypted buffer.
        Digest([u8; 32]),
        /// No second thread could be started; the buffer is untouched.
        NotStarted,
        /// The hashing thread died; the buffer cannot be verified.
        Failed,
    }

    /// Decrypts `buf` in place and hashes the result on a second thread.
    pub(crate) fn decrypt_and_hash(buf: &mut [u8], cipher: &mut Cipher) -> Outcome {
        std::thread::scope(|scope| {
            let (chunks, decrypted) = mpsc::channel::<&[u8]>();
            let hasher = std::thread::Builder::new()
                .name("passport-sha256".to_owned())
                .spawn_scoped(scope, move || {
                    // The hashing state held plaintext; the thread's stack
                    // may be cached for the next thread, so it is
                    // overwritten before the thread ends.
                    scrubbed(|| {
                        let mut hasher = Sha256::default();
                        for chunk in decrypted {
                            hasher.update(chunk);
                        }
                        hasher.finalize()
                    })
                });
            let Ok(hasher) = hasher else { return Outcome::NotStarted };
            for chunk in buf.chunks_mut(CHUNK) {
                decrypt_blocks(cipher, chunk);
                let chunk: &[u8] = chunk;
                if chunks.send(chunk).is_err() {
                    return Outcome::Failed;
                }
            }
            drop(chunks);
            hasher.join().map_or(Outcome::Failed, Outcome::Digest)
        })
    }
}

/// Encrypts an already padded buffer in place and returns its hash: the
/// app's side of the primitive. `padded.len()` must be a multiple of 16.
pub(crate) fn encrypt_in_place(padded: &mut [u8], secret: &Secret) -> Sha256Hash {
    debug_assert_eq!(padded.len() % BLOCK, 0);
    let hash = Sha256Hash::new(Sha256::digest(&*padded).into());
    let material = KeyMaterial::derive(secret, &hash);
    let (key, iv) = material.key_and_iv();
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
            let start = decrypt_in_place(&mut buf, &secret, &hash, Threads::One).unwrap();
            assert_eq!(&buf[start..], &plain[..], "padding {padding}");
        }
    }

    #[test]
    fn spans_several_chunks() {
        let secret = Secret::new([1; 32]);
        let plain: Vec<u8> = (0..CHUNK * 3 + 16).map(|i| (i * 31) as u8).collect();
        let mut buf = padded(48, &plain);
        let hash = encrypt_in_place(&mut buf, &secret);
        let start = decrypt_in_place(&mut buf, &secret, &hash, Threads::One).unwrap();
        assert_eq!(&buf[start..], &plain[..]);
    }

    #[test]
    fn the_pipeline_hashes_what_one_thread_would() {
        let secret = Secret::new([9; 32]);
        for len in [PIPELINE_MIN, PIPELINE_MIN + 48, 3 * 1024 * 1024 + 16 * 7] {
            let plain: Vec<u8> = (0..len - 64).map(|i| (i % 251) as u8).collect();
            let mut buf = padded(64, &plain);
            let hash = encrypt_in_place(&mut buf, &secret);
            let mut threaded = buf.clone();
            let pipeline::Outcome::Digest(digest) =
                pipeline::decrypt_and_hash(&mut threaded, &mut cipher(&secret, &hash).unwrap())
            else {
                panic!("no second thread")
            };
            assert_eq!(&digest, hash.as_bytes());
            let single = decrypt_and_hash(&mut buf, &mut cipher(&secret, &hash).unwrap());
            assert_eq!(single, digest);
            assert_eq!(threaded, buf);
            assert_eq!(&buf[64..], &plain[..]);
        }
    }

    #[test]
    fn failures_zeroize_and_name_the_step() {
        let secret = Secret::new([3; 32]);
        let mut good = padded(32, &[9; 32]);
        let hash = encrypt_in_place(&mut good, &secret);

        let mut flipped = good.clone();
        flipped[40] ^= 1;
        assert_eq!(
            decrypt_in_place(&mut flipped, &secret, &hash, Threads::One),
            Err(Step::Hash)
        );
        assert!(flipped.iter().all(|&b| b == 0));

        let mut short = good[..good.len() - 1].to_vec();
        assert_eq!(
            decrypt_in_place(&mut short, &secret, &hash, Threads::One),
            Err(Step::Length)
        );
        assert_eq!(
            decrypt_in_place(&mut [], &secret, &hash, Threads::Two),
            Err(Step::Length)
        );

        let mut low = padded(16, &[1; 16]);
        let low_hash = encrypt_in_place(&mut low, &secret);
        assert_eq!(
            decrypt_in_place(&mut low, &secret, &low_hash, Threads::Two),
            Err(Step::Padding)
        );
        assert!(low.iter().all(|&b| b == 0));
    }
}
