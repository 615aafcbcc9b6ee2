//! The bot's RSA key pair held in this process: loading, export,
//! generation, and RSA-OAEP.
//!
//! Invariants: a [`PrivateKey`] always holds an RSA key of 2048 to 4096 bits;
//! its private parts are zeroized on drop and never shown by `Debug`.
//! Decryption is blinded (the OS random generator supplies the blinding factor).

use std::fmt;

use base64::Engine as _;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::der::asn1::AnyRef;
use rsa::pkcs8::der::{Decode, Reader, SliceReader, Tag, Tagged};
use rsa::pkcs8::{DecodePublicKey, EncodePublicKey, LineEnding, PrivateKeyInfoRef};
use rsa::traits::PublicKeyParts;
use sha1::Sha1;
use zeroize::Zeroizing;

use super::private::{Unwrap, Unwrapped};
use super::CredentialsKey;
use crate::backend;
use crate::error::{Error, KeyFound, Result};
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
    /// Reads the bot's private key from PEM text: PKCS#1 (`BEGIN RSA
    /// PRIVATE KEY`, as `openssl genrsa` writes) or PKCS#8 (`BEGIN PRIVATE
    /// KEY`).
    ///
    /// As OpenSSL does, text around the key's block is passed over (RFC
    /// 7468 allows explanatory text there): a byte-order mark, `Bag
    /// Attributes` lines, a comment, other blocks such as the key's
    /// certificate. Inside the block, the base64 may be wrapped at any
    /// width, or stand on one line with the BEGIN and END lines, as a
    /// setting flattens it. Nothing is guessed: two private keys, a block
    /// cut short, or anything but an unencrypted RSA key of 2048 to 4096
    /// bits is refused, saying what was found and what to do
    /// ([`Error::KeyFormat`] with a [`KeyFound`](crate::KeyFound),
    /// [`Error::KeyEncrypted`], [`Error::KeyNotRsa`], [`Error::KeySize`],
    /// [`Error::KeyMalformed`]). No message shows key material.
    ///
    /// ```
    /// use telegram_passport::{Error, KeyFound, PrivateKey};
    ///
    /// let key = PrivateKey::generate()?;
    /// let pem = key.to_pem()?;
    /// let exported = format!("\u{feff}Bag Attributes\n    friendlyName: bot\n{}", *pem);
    /// assert_eq!(PrivateKey::from_pem(&exported)?.public_key(), key.public_key());
    ///
    /// let public = key.public_key().to_pem();
    /// let mistake = PrivateKey::from_pem(&public).unwrap_err();
    /// assert!(matches!(mistake, Error::KeyFormat { found: KeyFound::PublicKey }));
    /// assert!(mistake.to_string().starts_with("a public key where the private key belongs"));
    /// # Ok::<(), telegram_passport::Error>(())
    /// ```
    pub fn from_pem(pem_text: &str) -> Result<Self> {
        let blocks = pem_blocks(pem_text)?;
        let keys: Vec<&Block<'_>> = blocks.iter().filter(|b| b.label.ends_with("PRIVATE KEY")).collect();
        match (keys.as_slice(), blocks.first()) {
            ([key], _) => Self::from_block(key),
            ([], Some(first)) => Err(found(not_a_private_key(first.label))),
            ([], None) => Err(without_blocks(pem_text)),
            (more, _) => Err(found(KeyFound::SeveralKeys { count: more.len() })),
        }
    }

    fn from_block(block: &Block<'_>) -> Result<Self> {
        match block.label {
            "RSA PRIVATE KEY" | "PRIVATE KEY" => Self::from_der(&block.der()?),
            "ENCRYPTED PRIVATE KEY" => Err(Error::KeyEncrypted),
            "EC PRIVATE KEY" => Err(not_rsa("an EC key")),
            "DSA PRIVATE KEY" => Err(not_rsa("a DSA key")),
            "OPENSSH PRIVATE KEY" => Err(found(KeyFound::OpenSsh)),
            other => Err(found(not_a_private_key(other))),
        }
    }

    /// Reads a DER private key, PKCS#8 or PKCS#1. What is not one is
    /// refused as [`from_pem`](Self::from_pem) refuses it: PEM text, a
    /// public key, a certificate, an encrypted or non-RSA key are each
    /// said.
    ///
    /// ```
    /// use telegram_passport::{Error, KeyFound, PrivateKey};
    ///
    /// let pem = PrivateKey::generate()?.to_pem()?;
    /// let mistake = PrivateKey::from_der(pem.as_bytes()).unwrap_err();
    /// assert!(matches!(mistake, Error::KeyFormat { found: KeyFound::Pem }));
    /// # Ok::<(), telegram_passport::Error>(())
    /// ```
    pub fn from_der(der: &[u8]) -> Result<Self> {
        if let Ok(info) = PrivateKeyInfoRef::from_der(der) {
            return Self::from_pkcs8(info);
        }
        match rsa::PrivateKey::from_pkcs1_der(der) {
            Ok(inner) => Self::checked(inner),
            Err(e) => Err(not_a_der_key(der, e)),
        }
    }

    fn from_pkcs8(info: PrivateKeyInfoRef<'_>) -> Result<Self> {
        let oid = info.algorithm.oid.to_string();
        if oid != RSA_ENCRYPTION {
            return Err(not_rsa(&algorithm(&oid)));
        }
        let inner = rsa::PrivateKey::try_from(info).map_err(|e| Error::KeyMalformed {
            reason: format!("a damaged key: its PKCS#8 holds no valid RSA key ({e})"),
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
        Self::generate_with_bits(MIN_BITS)
    }

    /// Generates a fresh key of `bits` bits, 2048 to 4096 like every key
    /// this crate loads ([`Error::KeySize`] otherwise). A larger key costs
    /// more for every submission it decrypts (3072 bits about three
    /// times, 4096 about seven times 2048's).
    ///
    /// ```
    /// use telegram_passport::{Error, PrivateKey};
    ///
    /// assert_eq!(PrivateKey::generate_with_bits(2048)?.bits(), 2048);
    /// assert!(matches!(PrivateKey::generate_with_bits(1024), Err(Error::KeySize { bits: 1024 })));
    /// # Ok::<(), telegram_passport::Error>(())
    /// ```
    pub fn generate_with_bits(bits: usize) -> Result<Self> {
        if !(MIN_BITS..=MAX_BITS).contains(&bits) {
            return Err(Error::KeySize { bits });
        }
        let inner = rsa::PrivateKey::new(&mut getrandom::SysRng, bits).map_err(|_| Error::Random)?;
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

fn found(found: KeyFound) -> Error {
    Error::KeyFormat { found }
}

fn not_rsa(found: &str) -> Error {
    Error::KeyNotRsa {
        found: found.to_owned(),
    }
}

fn malformed(reason: &str) -> Error {
    Error::KeyMalformed {
        reason: reason.to_owned(),
        source: None,
    }
}

const BEGIN: &str = "-----BEGIN ";
const END: &str = "-----END ";
const DASHES: &str = "-----";

/// One PEM block: its label and the text between its BEGIN and END lines.
struct Block<'a> {
    label: &'a str,
    body: &'a str,
}

impl Block<'_> {
    /// The block's bytes. Header lines are read only to tell an encrypted
    /// key; white space anywhere in the base64 is passed over.
    fn der(&self) -> Result<Zeroizing<Vec<u8>>> {
        if self.body.contains("\\n") {
            return Err(found(KeyFound::EscapedNewlines));
        }
        if self.body.contains(':') {
            return Err(
                match self.body.contains("Proc-Type:") && self.body.contains("ENCRYPTED") {
                    true => Error::KeyEncrypted,
                    false => malformed("header lines (Name: value) in the key's PEM block, which are not read"),
                },
            );
        }
        // Room for all of it up front: a growing buffer would leave copies
        // of the key behind.
        let mut base64 = Zeroizing::new(String::with_capacity(self.body.len()));
        base64.extend(self.body.chars().filter(|c| !c.is_ascii_whitespace()));
        if base64.is_empty() {
            return Err(malformed("a damaged key: nothing between its BEGIN and END lines"));
        }
        // The decoder's message would repeat a character of the input.
        base64::engine::general_purpose::STANDARD
            .decode(base64.as_bytes())
            .map(Zeroizing::new)
            .map_err(|_| malformed("a damaged key: what lies between its BEGIN and END lines is not base64"))
    }
}

/// Every PEM block of `text`, in order; text between blocks is passed over.
fn pem_blocks(text: &str) -> Result<Vec<Block<'_>>> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some((_, begun)) = rest.split_once(BEGIN) {
        let (label, after) = begun.split_once(DASHES).ok_or(found(KeyFound::Incomplete))?;
        if label.contains('\n') {
            return Err(malformed("a BEGIN line that does not end with -----"));
        }
        let (body, ended) = after.split_once(END).ok_or(found(KeyFound::Incomplete))?;
        if body.contains(BEGIN) {
            return Err(found(KeyFound::Incomplete));
        }
        let (end_label, after) = ended.split_once(DASHES).ok_or(found(KeyFound::Incomplete))?;
        if end_label != label {
            return Err(malformed(
                "a PEM block whose END line names another type than its BEGIN line",
            ));
        }
        blocks.push(Block { label, body });
        rest = after;
    }
    Ok(blocks)
}

/// What a PEM block that holds no private key is.
fn not_a_private_key(label: &str) -> KeyFound {
    match label {
        "PUBLIC KEY" | "RSA PUBLIC KEY" => KeyFound::PublicKey,
        "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE" => KeyFound::Certificate,
        "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" => KeyFound::CertificateRequest,
        other => KeyFound::OtherPem {
            label: match other.len() <= 40 && other.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ') {
                true => format!("{other:?}"),
                false => "with a name that is no PEM type".to_owned(),
            },
        },
    }
}

/// What text without a PEM block is.
fn without_blocks(text: &str) -> Error {
    let text = text.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    let binary = |c: char| c == char::REPLACEMENT_CHARACTER || (c.is_control() && !c.is_ascii_whitespace());
    let ssh = [
        "ssh-",
        "ecdsa-sha2-",
        "sk-ssh-",
        "sk-ecdsa-",
        "---- BEGIN SSH2 PUBLIC KEY",
    ];
    let base64 = |c: char| c.is_ascii_alphanumeric() || "+/=".contains(c) || c.is_ascii_whitespace();
    found(if text.is_empty() {
        KeyFound::Empty
    } else if text.chars().any(binary) {
        KeyFound::Der
    } else if ssh.iter().any(|start| text.starts_with(start)) {
        KeyFound::OpenSshPublicKey
    } else if text.len() >= 64 && text.chars().all(base64) {
        KeyFound::Unarmoured
    } else {
        KeyFound::NotPem
    })
}

/// What DER bytes that are neither PKCS#8 nor PKCS#1 private keys are,
/// told by the shape of their outer SEQUENCE.
fn not_a_der_key(der: &[u8], pkcs1: rsa::pkcs1::Error) -> Error {
    if der.is_empty() {
        return found(KeyFound::Empty);
    }
    if std::str::from_utf8(der).is_ok_and(|text| text.contains(BEGIN)) {
        return found(KeyFound::Pem);
    }
    let fields = AnyRef::from_der(der)
        .ok()
        .filter(|outer| outer.tag() == Tag::Sequence)
        .and_then(elements);
    let tags: Vec<Tag> = fields.iter().flatten().map(Tagged::tag).collect();
    match (tags.as_slice(), fields.as_deref()) {
        ([Tag::Sequence, Tag::OctetString], _) => Error::KeyEncrypted,
        ([Tag::Sequence, Tag::BitString] | [Tag::Integer, Tag::Integer], _) => found(KeyFound::PublicKey),
        ([Tag::Sequence, Tag::Sequence, Tag::BitString], Some([signed, ..])) => {
            // A certificate's signed part holds six fields or more, a
            // request's four.
            match elements(*signed).is_some_and(|fields| fields.len() >= 6) {
                true => found(KeyFound::Certificate),
                false => found(KeyFound::CertificateRequest),
            }
        }
        ([Tag::Integer, Tag::Sequence] | [Tag::Integer, Tag::Sequence, Tag::Sequence], _) => found(KeyFound::Pkcs12),
        ([Tag::Integer, Tag::OctetString, ..], _) => not_rsa("an EC key"),
        ([Tag::Integer, Tag::Integer, Tag::Integer, Tag::Integer, Tag::Integer, Tag::Integer], _) => {
            not_rsa("a DSA key")
        }
        _ => Error::KeyMalformed {
            reason: format!("a damaged key: neither a PKCS#8 nor a PKCS#1 RSA private key ({pkcs1})"),
            source: Some(Box::new(pkcs1)),
        },
    }
}

/// The elements of a constructed DER value, such as a SEQUENCE.
fn elements(value: AnyRef<'_>) -> Option<Vec<AnyRef<'_>>> {
    let mut reader = SliceReader::new(value.value()).ok()?;
    let mut elements = Vec::new();
    while !reader.is_finished() {
        elements.push(reader.decode::<AnyRef<'_>>().ok()?);
    }
    Some(elements)
}

/// A PKCS#8 algorithm's name for a person.
fn algorithm(oid: &str) -> String {
    match oid {
        "1.2.840.10045.2.1" => "an EC key",
        "1.3.101.112" => "an Ed25519 key",
        "1.3.101.113" => "an Ed448 key",
        "1.3.101.110" => "an X25519 key",
        "1.3.101.111" => "an X448 key",
        "1.2.840.10040.4.1" => "a DSA key",
        "1.2.840.113549.1.1.10" => "an RSA-PSS key (signatures only)",
        other => return format!("a key of algorithm {other}"),
    }
    .to_owned()
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

    /// `n` and `e` of `key`, big-endian, as a token gives them.
    fn components(key: &PublicKey) -> (Vec<u8>, Vec<u8>) {
        use rsa::pkcs1::EncodeRsaPublicKey;
        let der = key.inner.to_pkcs1_der().unwrap();
        let parts: rsa::pkcs1::RsaPublicKey<rsa::pkcs8::der::asn1::UintRef<'_>> =
            rsa::pkcs1::RsaPublicKey::from_der(der.as_bytes()).unwrap();
        (
            parts.modulus.as_bytes().to_vec(),
            parts.public_exponent.as_bytes().to_vec(),
        )
    }

    #[test]
    fn a_key_given_as_its_numbers_is_the_same_key_and_of_a_size_this_crate_loads() {
        let key = PrivateKey::generate().unwrap().public_key();
        let (n, e) = components(&key);
        let again = PublicKey::from_components(&n, &e).unwrap();
        assert_eq!(again, key);
        assert_eq!((again.size(), again.bits()), (256, 2048));
        let small = {
            let key = rsa::PrivateKey::new(&mut getrandom::SysRng, 1024).unwrap();
            components(&PublicKey {
                inner: key.to_public_key(),
            })
        };
        let error = PublicKey::from_components(&small.0, &small.1).unwrap_err();
        assert!(matches!(error, Error::KeySize { bits: 1024 }), "{error:?}");
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
