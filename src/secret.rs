//! Types for key material and decrypted bytes.
//!
//! Invariant: every secret byte lives in a type that zeroizes it on drop and
//! whose `Debug` prints no secret bytes.

use std::fmt;
use std::ops::Deref;

use ::base64::engine::general_purpose::STANDARD;
use ::base64::Engine as _;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A 32-byte Telegram Passport secret: the credentials secret, or the secret
/// of one element's data or one file. Zeroized on drop; `Debug` shows nothing.
///
/// The bytes live in one heap allocation from the moment they are decoded
/// or decrypted, so moving a `Secret` (or the credentials holding it) moves
/// a pointer and leaves no stale copy of the bytes behind.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Secret(Box<[u8; Secret::LEN]>);

impl Secret {
    /// Size of every secret the protocol uses.
    pub const LEN: usize = 32;

    /// Wraps raw secret bytes.
    pub fn new(bytes: [u8; Self::LEN]) -> Self {
        Self(Box::new(bytes))
    }

    /// Reads a secret from a slice, which must be exactly [`Secret::LEN`] bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != Self::LEN {
            return None;
        }
        let mut secret = Self::zeroed();
        secret.0.copy_from_slice(bytes);
        Some(secret)
    }

    /// The raw bytes, for callers that store credentials themselves.
    pub fn expose(&self) -> &[u8; Self::LEN] {
        &self.0
    }

    fn zeroed() -> Self {
        Self(Box::new([0u8; Self::LEN]))
    }

    pub(crate) fn random() -> crate::error::Result<Self> {
        let mut secret = Self::zeroed();
        fill_random(secret.0.as_mut_slice())?;
        Ok(secret)
    }

    /// Random bytes written straight into the secret's own allocation.
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8; Self::LEN] {
        &mut self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Bytes of stack [`scrubbed`] overwrites below its caller: deeper than any
/// call chain of this crate's decryption (RSA, SHA-512, the AES key
/// schedule, JSON), with room to spare.
const SCRUB_BYTES: usize = 16 * 1024;

/// Runs `f`, then overwrites the stack its calls used.
///
/// Secrets and derived keys live in single zeroized heap allocations, and
/// the cryptographic libraries zeroize a key's final place; but moving a
/// key schedule by value (as their constructors do) leaves copies in the
/// stack frames of calls that have returned. Every public entry point that
/// decrypts runs its work through here, so those frames are overwritten
/// before it returns.
pub(crate) fn scrubbed<T>(f: impl FnOnce() -> T) -> T {
    #[inline(never)]
    fn run<T>(f: impl FnOnce() -> T) -> T {
        f()
    }
    #[inline(never)]
    fn overwrite() {
        let mut area = [0u64; SCRUB_BYTES / 8];
        // Volatile writes: not elided although nothing reads them.
        area.zeroize();
        std::hint::black_box(&area);
    }
    let result = run(f);
    overwrite();
    result
}

/// Fills `buf` from the operating system's random generator.
pub(crate) fn fill_random(buf: &mut [u8]) -> crate::error::Result<()> {
    getrandom::fill(buf).map_err(|_| crate::error::Error::Random)
}

/// A SHA-256 hash as the protocol uses it: `credentials.hash`, a `data_hash`
/// or a `file_hash`. Serialised and shown as base64, the form the Bot API's
/// error reports take.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha256Hash([u8; Sha256Hash::LEN]);

impl Sha256Hash {
    /// Size of a SHA-256 hash.
    pub const LEN: usize = 32;

    /// Wraps raw hash bytes.
    pub fn new(bytes: [u8; Self::LEN]) -> Self {
        Self(bytes)
    }

    /// Reads a hash from a slice, which must be exactly [`Sha256Hash::LEN`] bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    /// The raw bytes (the MTProto form).
    pub fn as_bytes(&self) -> &[u8; Self::LEN] {
        &self.0
    }

    /// Standard base64 with padding (the Bot API form). A hash is no
    /// secret: the base64 crate's own engine writes it.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }
}

impl fmt::Debug for Sha256Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Hash({})", self.to_base64())
    }
}

impl fmt::Display for Sha256Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl serde::Serialize for Sha256Hash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_base64())
    }
}

/// Verified, decrypted bytes: the padding is already stripped.
///
/// Exists only after the SHA-256 hash of the padded plaintext matched and the
/// padding was valid. Decryption happens in place, so this owns the buffer it
/// was decrypted in and views its tail; the whole buffer is zeroized on drop.
pub struct Plaintext {
    buf: Vec<u8>,
    start: usize,
}

impl Plaintext {
    /// Called only by the primitive, after verification.
    pub(crate) fn verified(buf: Vec<u8>, start: usize) -> Self {
        debug_assert!(start <= buf.len());
        Self { buf, start }
    }

    /// The plaintext.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }

    /// Moves the plaintext out as a `Vec` (shifting it to the front of the
    /// buffer, no new allocation). The returned `Vec` is no longer zeroized.
    pub fn into_vec(mut self) -> Vec<u8> {
        let mut buf = std::mem::take(&mut self.buf);
        let start = self.start.min(buf.len());
        buf.get_mut(..start).map(Zeroize::zeroize);
        buf.drain(..start);
        buf
    }
}

impl Deref for Plaintext {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for Plaintext {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Drop for Plaintext {
    fn drop(&mut self) {
        self.buf.zeroize();
    }
}

impl fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Plaintext({} bytes)", self.as_bytes().len())
    }
}
