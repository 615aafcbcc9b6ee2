//! The default backend (feature `aws-lc`): RSA-OAEP, AES-256-CBC and SHA-256
//! from AWS-LC.
//!
//! AWS-LC blinds RSA private-key operations and implements them in constant
//! time; AES uses AES-NI, SHA-256 the SHA extensions where present.

use aws_lc_rs::cipher::{DecryptingKey, DecryptionContext, UnboundCipherKey, AES_256};
use aws_lc_rs::digest;
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::rsa::{OaepPrivateDecryptingKey, PrivateDecryptingKey, OAEP_SHA1_MGF1SHA1};
use rsa::pkcs8::EncodePrivateKey;
use zeroize::Zeroizing;

/// Shown by [`crate::backend_name`].
pub(crate) const NAME: &str = "AWS-LC";

/// RSA-OAEP (SHA-1, MGF1-SHA-1) with AWS-LC.
pub(crate) struct RsaDecryptor(OaepPrivateDecryptingKey);

impl RsaDecryptor {
    /// The same key, handed to AWS-LC as PKCS#8 (the DER is zeroized after).
    pub(crate) fn new(key: &rsa::PrivateKey) -> Option<Self> {
        let der = key.to_pkcs8_der().ok()?;
        let key = PrivateDecryptingKey::from_pkcs8(der.as_bytes()).ok()?;
        OaepPrivateDecryptingKey::new(key).ok().map(Self)
    }

    pub(crate) fn decrypt(&self, _key: &rsa::PrivateKey, ciphertext: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(vec![0u8; self.0.min_output_size()]);
        let len = self
            .0
            .decrypt(&OAEP_SHA1_MGF1SHA1, ciphertext, &mut out, None)
            .ok()?
            .len();
        out.truncate(len);
        Some(out)
    }
}

/// AES-256-CBC decryption, chunk by chunk: each chunk's IV is the last
/// ciphertext block of the chunk before.
pub(crate) struct CbcDecryptor {
    /// On the heap, where it stays: moving the decryptor moves a pointer,
    /// not a key schedule, and the one place it has is zeroized on drop.
    key: Box<DecryptingKey>,
    iv: [u8; 16],
}

impl CbcDecryptor {
    pub(crate) fn new(key: &[u8], iv: &[u8]) -> Option<Self> {
        let key = Box::new(DecryptingKey::cbc(UnboundCipherKey::new(&AES_256, key).ok()?).ok()?);
        Some(Self {
            key,
            iv: iv.try_into().ok()?,
        })
    }

    /// Decrypts whole blocks in place; `chunk.len()` is a multiple of 16.
    pub(crate) fn decrypt(&mut self, chunk: &mut [u8]) {
        let Some(last) = chunk.len().checked_sub(16).and_then(|start| chunk.get(start..)) else {
            return;
        };
        let mut next_iv = [0u8; 16];
        next_iv.copy_from_slice(last);
        let context = DecryptionContext::Iv128(FixedLength::from(self.iv));
        if self.key.decrypt(chunk, context).is_err() {
            // Only a length that is not whole blocks can fail; leave garbage
            // so that the hash check fails.
            chunk.fill(0);
        }
        self.iv = next_iv;
    }
}

/// SHA-256.
pub(crate) struct Sha256(digest::Context);

impl Default for Sha256 {
    fn default() -> Self {
        Self(digest::Context::new(&digest::SHA256))
    }
}

impl Sha256 {
    pub(crate) fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    pub(crate) fn finalize(self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.0.finish().as_ref());
        out
    }
}
