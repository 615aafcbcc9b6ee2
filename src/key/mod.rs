//! What opens credentials: any key that can unwrap the 32-byte credentials
//! secret with RSA-OAEP (SHA-1, MGF1-SHA-1, empty label).
//!
//! Three kinds: a [`PrivateKey`] in this process (`in_process.rs`), a
//! [`Pkcs11Key`](crate::Pkcs11Key) that never leaves its token (`pkcs11/`,
//! feature `pkcs11`), and a [`KeyRing`] of the current key and older ones
//! (`ring.rs`). Every receive path takes any of them through the sealed
//! [`CredentialsKey`] trait; requests take the public half from the same
//! object.
//!
//! Invariant: a key only ever hands out a secret it unwrapped, and says
//! which of three things happened (unwrapped, refused, unavailable). What
//! a refused unwrap looks like from outside (one opaque error, the same
//! work as a hash failure) is decided in one place,
//! [`Credentials::decrypt`](crate::Credentials), not by each key.

use std::fmt;
use std::sync::Arc;

mod in_process;
mod list;
#[cfg(feature = "pkcs11")]
mod pkcs11;
mod ring;

pub use in_process::{PrivateKey, PublicKey};
pub use list::KeyRef;
#[cfg(feature = "pkcs11")]
pub use pkcs11::Pkcs11Key;
pub use ring::KeyRing;

/// A key that opens credentials: [`PrivateKey`], [`KeyRing`], or
/// (feature `pkcs11`) [`Pkcs11Key`](crate::Pkcs11Key); also `&K`, `Box<K>`
/// and `Arc<K>` of any of them, and `dyn CredentialsKey`.
///
/// The trait is sealed: the unwrapping itself is internal, so that every
/// key's failures take the same path to the same opaque
/// [`Error::Decryption`](crate::Error::Decryption).
///
/// ```
/// use telegram_passport::{client::PassportBuilder, decrypt, CredentialsKey, KeyRing, NonceCheck, PrivateKey};
///
/// fn open(key: &dyn CredentialsKey, sealed: &telegram_passport::PassportData) -> Result<String, telegram_passport::Error> {
///     Ok(decrypt(key, sealed, NonceCheck::Skip)?.nonce().to_owned())
/// }
///
/// let (new, old) = (PrivateKey::generate()?, PrivateKey::generate()?);
/// let sealed = PassportBuilder::new().email("a@example.org").seal(&old.public_key(), "n-1")?;
/// let ring = KeyRing::new(new).with_older(old);
/// assert_eq!(open(&ring, &sealed.passport_data)?, "n-1");
/// # Ok::<(), telegram_passport::Error>(())
/// ```
pub trait CredentialsKey: private::Unwrap + fmt::Debug + Send + Sync {
    /// The public half: what BotFather's `/setpublickey` takes and what a
    /// request carries ([`PassportRequest::new`](crate::PassportRequest::new)).
    /// For a ring, the current key's.
    fn public_key(&self) -> PublicKey;
}

pub(crate) mod private {
    use crate::error::Error;
    use crate::secret::Secret;

    /// What one key made of an encrypted credentials secret.
    #[derive(Debug)]
    #[allow(unreachable_pub, reason = "sealed: reachable as a supertrait, never nameable")]
    pub enum Unwrapped {
        /// RSA-OAEP gave 32 bytes: a candidate, until the credentials' hash
        /// confirms it (with implicit rejection, a wrong key "succeeds" too).
        Secret(Secret),
        /// The key refused the ciphertext: opaque, whatever the reason.
        Refused,
        /// The key could not be asked (its token is unavailable): nothing
        /// was decided about the submission.
        Unavailable(Error),
    }

    /// The internal half of [`CredentialsKey`](super::CredentialsKey).
    #[allow(unreachable_pub, reason = "sealed: reachable as a supertrait, never nameable")]
    pub trait Unwrap {
        /// Offers what each key makes of `encrypted` to `attempt`, the
        /// current key first, until `attempt` returns `true` (the
        /// credentials opened); returns whether it did.
        fn unwrap_each(&self, encrypted: &[u8], attempt: &mut dyn FnMut(Unwrapped) -> bool) -> bool;
    }
}

impl<K: CredentialsKey + ?Sized> private::Unwrap for &K {
    fn unwrap_each(&self, encrypted: &[u8], attempt: &mut dyn FnMut(private::Unwrapped) -> bool) -> bool {
        (**self).unwrap_each(encrypted, attempt)
    }
}

impl<K: CredentialsKey + ?Sized> CredentialsKey for &K {
    fn public_key(&self) -> PublicKey {
        (**self).public_key()
    }
}

impl<K: CredentialsKey + ?Sized> private::Unwrap for Box<K> {
    fn unwrap_each(&self, encrypted: &[u8], attempt: &mut dyn FnMut(private::Unwrapped) -> bool) -> bool {
        (**self).unwrap_each(encrypted, attempt)
    }
}

impl<K: CredentialsKey + ?Sized> CredentialsKey for Box<K> {
    fn public_key(&self) -> PublicKey {
        (**self).public_key()
    }
}

impl<K: CredentialsKey + ?Sized> private::Unwrap for Arc<K> {
    fn unwrap_each(&self, encrypted: &[u8], attempt: &mut dyn FnMut(private::Unwrapped) -> bool) -> bool {
        (**self).unwrap_each(encrypted, attempt)
    }
}

impl<K: CredentialsKey + ?Sized> CredentialsKey for Arc<K> {
    fn public_key(&self) -> PublicKey {
        (**self).public_key()
    }
}
