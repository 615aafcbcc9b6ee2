//! The pure-Rust backend (`default-features = false`): RustCrypto's `rsa`,
//! `aes` + `cbc` and `sha2`.

use aes::cipher::{BlockModeDecrypt, KeyIvInit};
use sha2::Digest;
use zeroize::Zeroizing;

/// Shown by [`crate::backend_name`].
pub(crate) const NAME: &str = "RustCrypto";

/// RSA-OAEP (SHA-1, MGF1-SHA-1) with the `rsa` crate, blinded with the OS RNG.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RsaDecryptor;

impl RsaDecryptor {
    pub(crate) fn new(_key: &rsa::PrivateKey) -> Option<Self> {
        Some(Self)
    }

    pub(crate) fn decrypt(&self, key: &rsa::PrivateKey, ciphertext: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        key.oaep_decrypt::<sha1::Sha1>(ciphertext).ok().map(Zeroizing::new)
    }
}

/// AES-256-CBC decryption that keeps its chaining state across chunks.
/// On the heap, where it stays: moving the decryptor moves a pointer, not
/// a key schedule, and the one place it has is zeroized on drop.
pub(crate) struct CbcDecryptor(Box<cbc::Decryptor<aes::Aes256>>);

impl CbcDecryptor {
    pub(crate) fn new(key: &[u8], iv: &[u8]) -> Option<Self> {
        cbc::Decryptor::new_from_slices(key, iv)
            .ok()
            .map(|cipher| Self(Box::new(cipher)))
    }

    /// Decrypts whole blocks in place; `chunk.len()` is a multiple of 16.
    pub(crate) fn decrypt(&mut self, chunk: &mut [u8]) {
        let (blocks, _) = aes::cipher::inout::InOutBuf::from(chunk).into_chunks();
        self.0.decrypt_blocks_inout(blocks);
    }
}

/// SHA-256.
#[derive(Default)]
pub(crate) struct Sha256(sha2::Sha256);

impl Sha256 {
    pub(crate) fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    pub(crate) fn finalize(self) -> [u8; 32] {
        self.0.finalize().into()
    }
}
