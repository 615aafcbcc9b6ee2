//! The bot's RSA key pair held in this process: loading, export,
//! generation, and RSA-OAEP.
//!
//! Invariants: a [`PrivateKey`] always holds an RSA key of 2048 to 4096 bits;
//! its private parts are zeroized on drop and never shown by `Debug`.
//! Decryption is blinded (the OS random generator supplies the blinding factor).

use std::fmt;

use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::der::{pem, Decode};
use rsa::pkcs8::{DecodePublicKey, EncodePublicKey, LineEnding, PrivateKeyInfoRef};
use rsa::traits::PublicKeyParts;
use sha1::Sha1;
use zeroize::Zeroizing;

use super::private::{Unwrap, Unwrapped};
use super::CredentialsKey;
use crate::backend;
use crate::error::{Error, Result};
use crate::secret::{scrubbed, Secret};

const MIN_BITS: usize = 2048;
const MAX_BITS: usize = 4096;
const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";

/// The bot's RSA private key, the one whose public half is registered with
/// BotFather (`/setpublickey`).
///
/// ```
/// use telegram_passport::PrivateKey;
///
/// let key = PrivateKey::generate()?;
/// let pem = key.to_pem()?;
/// let again = PrivateKey::from_pem(&pem)?;
/// assert_eq!(again.public_key(), key.public_key());
/// assert!(key.public_key().to_pem().starts_with("-----BEGIN PUBLIC KEY-----"));
/// # Ok::<(), telegram_passport::Error>(())
/// ```
pub struct PrivateKey {
    inner: rsa::PrivateKey,
    decryptor: backend::RsaDecryptor,
}

/// The bot's RSA public key: what the user's app encrypts the credentials
/// secret to, and what the request hands to the app.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    inner: rsa::PublicKey,
}

impl PrivateKey {
    /// Reads a PEM private key: PKCS#1 (`BEGIN RSA PRIVATE KEY`, as
    /// `openssl genrsa` writes) or PKCS#8 (`BEGIN PRIVATE KEY`), with LF or
    /// CRLF line endings.
    pub fn from_pem(pem_text: &str) -> Result<Self> {
        let normalized = Zeroizing::new(pem_text.trim().replace("\r\n", "\n"));
        let (label, der) = pem::decode_vec(normalized.as_bytes()).map_err(|e| Error::KeyMalformed {
            reason: format!("not a PEM document ({e})"),
            source: Some(Box::new(e)),
        })?;
        let der = Zeroizing::new(der);
        match label {
            "RSA PRIVATE KEY" => Self::from_pkcs1_der(&der),
            "PRIVATE KEY" => Self::from_pkcs8_der(&der),
            "ENCRYPTED PRIVATE KEY" => Err(Error::KeyEncrypted),
            "EC PRIVATE KEY" => Err(Error::KeyNotRsa {
                found: "an EC key".to_owned(),
            }),
            "PUBLIC KEY" | "RSA PUBLIC KEY" => Err(Error::KeyMalformed {
                reason: "this is a public key; the private key is needed to decrypt".to_owned(),
                source: None,
            }),
            other => Err(Error::KeyMalformed {
                reason: format!("unexpected PEM label {other:?}"),
                source: None,
            }),
        }
    }

    /// Reads a DER private key, PKCS#8 or PKCS#1.
    pub fn from_der(der: &[u8]) -> Result<Self> {
        match PrivateKeyInfoRef::from_der(der) {
            Ok(_) => Self::from_pkcs8_der(der),
            Err(_) => Self::from_pkcs1_der(der),
        }
    }

    fn from_pkcs8_der(der: &[u8]) -> Result<Self> {
        let info = PrivateKeyInfoRef::from_der(der).map_err(|e| Error::KeyMalformed {
            reason: format!("invalid PKCS#8 structure ({e})"),
            source: Some(Box::new(e)),
        })?;
        let oid = info.algorithm.oid.to_string();
        if oid != RSA_ENCRYPTION {
            return Err(Error::KeyNotRsa {
                found: format!("algorithm {oid}"),
            });
        }
        let inner = rsa::PrivateKey::try_from(info).map_err(|e| Error::KeyMalformed {
            reason: format!("invalid RSA key in PKCS#8 ({e})"),
            source: Some(Box::new(e)),
        })?;
        Self::checked(inner)
    }

    fn from_pkcs1_der(der: &[u8]) -> Result<Self> {
        let inner = rsa::PrivateKey::from_pkcs1_der(der).map_err(|e| Error::KeyMalformed {
            reason: format!("invalid PKCS#1 RSA key ({e})"),
            source: Some(Box::new(e)),
        })?;
        Self::checked(inner)
    }

    fn checked(inner: rsa::PrivateKey) -> Result<Self> {
        let bits = modulus_bits(&inner);
        if !(MIN_BITS..=MAX_BITS).contains(&bits) {
            return Err(Error::KeySize { bits });
        }
        Self::with_backend(inner)
    }

    fn with_backend(inner: rsa::PrivateKey) -> Result<Self> {
        let decryptor = backend::RsaDecryptor::new(&inner).ok_or_else(|| Error::KeyMalformed {
            reason: format!("the {} backend refused the key", backend::NAME),
            source: None,
        })?;
        Ok(Self { inner, decryptor })
    }

    /// Generates a fresh 2048-bit key, the size Telegram's documentation uses.
    pub fn generate() -> Result<Self> {
        let inner = rsa::PrivateKey::new(&mut getrandom::SysRng, MIN_BITS).map_err(|_| Error::Random)?;
        Self::with_backend(inner)
    }

    /// The PKCS#1 PEM text (`BEGIN RSA PRIVATE KEY`), for storing a generated key.
    pub fn to_pem(&self) -> Result<Zeroizing<String>> {
        self.inner
            .to_pkcs1_pem(LineEnding::LF)
            .map_err(|e| Error::KeyMalformed {
                reason: format!("could not encode the key ({e})"),
                source: Some(Box::new(e)),
            })
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            inner: self.inner.to_public_key(),
        }
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        modulus_bits(&self.inner)
    }

    /// RSA-OAEP (SHA-1, MGF1-SHA-1, empty label), blinded. Any failure,
    /// including a plaintext that is not a 32-byte secret, is `None`.
    pub(crate) fn decrypt_secret(&self, encrypted: &[u8]) -> Option<Secret> {
        // An RSA ciphertext is exactly as long as the modulus.
        if encrypted.len() != self.inner.size() {
            return None;
        }
        scrubbed(|| {
            let plain = self.decryptor.decrypt(&self.inner, encrypted)?;
            Secret::from_slice(&plain)
        })
    }
}

impl Unwrap for PrivateKey {
    fn unwrap_each(&self, encrypted: &[u8], attempt: &mut dyn FnMut(Unwrapped) -> bool) -> bool {
        attempt(
            self.decrypt_secret(encrypted)
                .map_or(Unwrapped::Refused, Unwrapped::Secret),
        )
    }
}

impl CredentialsKey for PrivateKey {
    fn public_key(&self) -> PublicKey {
        PrivateKey::public_key(self)
    }
}

fn modulus_bits(key: &impl PublicKeyParts) -> usize {
    key.n().bit_width() as usize
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("bits", &self.bits())
            .finish_non_exhaustive()
    }
}

impl PublicKey {
    /// Reads an SPKI PEM public key (`BEGIN PUBLIC KEY`).
    pub fn from_pem(pem_text: &str) -> Result<Self> {
        let normalized = pem_text.trim().replace("\r\n", "\n");
        let inner = rsa::PublicKey::from_public_key_pem(&normalized).map_err(|e| Error::KeyMalformed {
            reason: format!("not an RSA SPKI public key ({e})"),
            source: Some(Box::new(e)),
        })?;
        Ok(Self { inner })
    }

    /// The SPKI PEM text (`BEGIN PUBLIC KEY`): what BotFather's
    /// `/setpublickey` takes and what a request carries as `public_key`.
    pub fn to_pem(&self) -> String {
        // Encoding a well-formed in-memory key cannot fail.
        self.inner.to_public_key_pem(LineEnding::LF).unwrap_or_default()
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        modulus_bits(&self.inner)
    }

    /// The key of modulus `n` and public exponent `e` (big-endian bytes,
    /// as a token's `CKA_MODULUS` and `CKA_PUBLIC_EXPONENT` hold them),
    /// 2048 to 4096 bits like every key this crate loads.
    #[cfg_attr(
        not(feature = "pkcs11"),
        allow(dead_code, reason = "only tokens give a key as its numbers")
    )]
    pub(crate) fn from_components(n: &[u8], e: &[u8]) -> Result<Self> {
        use rsa::pkcs1::DecodeRsaPublicKey;
        use rsa::pkcs8::der::asn1::UintRef;
        use rsa::pkcs8::der::Encode;
        let malformed = |e: rsa::pkcs8::der::Error| Error::KeyMalformed {
            reason: format!("not an RSA public key ({e})"),
            source: Some(Box::new(e)),
        };
        let der = rsa::pkcs1::RsaPublicKey {
            modulus: UintRef::new(n).map_err(malformed)?,
            public_exponent: UintRef::new(e).map_err(malformed)?,
        }
        .to_der()
        .map_err(malformed)?;
        let inner = rsa::PublicKey::from_pkcs1_der(&der).map_err(|e| Error::KeyMalformed {
            reason: format!("not an RSA public key ({e})"),
            source: Some(Box::new(e)),
        })?;
        let bits = modulus_bits(&inner);
        if !(MIN_BITS..=MAX_BITS).contains(&bits) {
            return Err(Error::KeySize { bits });
        }
        Ok(Self { inner })
    }

    /// Modulus size in bytes: the length of every RSA ciphertext to it.
    #[cfg_attr(
        not(feature = "pkcs11"),
        allow(dead_code, reason = "in-process keys ask their private half")
    )]
    pub(crate) fn size(&self) -> usize {
        self.inner.size()
    }

    /// RSA-OAEP (SHA-1) encryption of a secret: the app's side.
    pub(crate) fn encrypt_secret(&self, secret: &Secret) -> Result<Vec<u8>> {
        self.inner
            .oaep_encrypt::<Sha1>(secret.expose())
            .map_err(|_| Error::Random)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey").field("bits", &self.bits()).finish()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;

    /// A key whose RustCrypto half is `rust_crypto` and whose backend half
    /// was made from `backend`: decryption shows which of the two did the work.
    fn split_key(rust_crypto: &PrivateKey, backend: &PrivateKey) -> PrivateKey {
        PrivateKey {
            inner: rust_crypto.inner.clone(),
            decryptor: backend::RsaDecryptor::new(&backend.inner).unwrap(),
        }
    }

    #[test]
    fn the_backend_alone_does_the_private_key_operation() {
        let (a, b) = (PrivateKey::generate().unwrap(), PrivateKey::generate().unwrap());
        let split = split_key(&a, &b);
        let secret = Secret::random().unwrap();
        let to_a = a.public_key().encrypt_secret(&secret).unwrap();
        let to_b = b.public_key().encrypt_secret(&secret).unwrap();
        let decrypted = |key: &PrivateKey, ciphertext: &[u8]| key.decrypt_secret(ciphertext).map(|s| *s.expose());
        if cfg!(feature = "aws-lc") {
            // AWS-LC's parsed key decrypts; the `rsa` key beside it is only for export.
            assert_eq!(decrypted(&split, &to_b), Some(*secret.expose()));
            assert_eq!(decrypted(&split, &to_a), None);
        } else {
            assert_eq!(decrypted(&split, &to_a), Some(*secret.expose()));
            assert_eq!(decrypted(&split, &to_b), None);
        }
    }
}
