//! A key ring: the current key and older ones, for rotation that loses no
//! submission.
//!
//! Invariants: a ring holds a current key, and any number of older ones;
//! the current key is the one whose public half every request carries. Decryption offers the
//! encrypted secret to each key in order, current first; which key opened
//! the credentials is decided by the credentials' own SHA-256 check, never
//! by RSA alone.

use std::fmt;

use super::private::{Unwrap, Unwrapped};
use super::{CredentialsKey, PublicKey};

/// The current key and older ones. Requests and links carry the current
/// key's public half; decryption tries the current key first, then each
/// older one, and fails with the one opaque
/// [`Error::Decryption`](crate::Error::Decryption) when none opens the
/// credentials. The keys may be of any kind, files and tokens mixed.
///
/// Rotating (see "Rotating the key" in docs/keys.md): put the new key in as
/// current with the old one as older, register the new public half with
/// BotFather (`/setpublickey`), and remove the old key once no request
/// that carried it can still be answered.
///
/// ```
/// use telegram_passport::{client::PassportBuilder, decrypt, CredentialsKey, KeyRing, NonceCheck, PrivateKey};
///
/// let old = PrivateKey::generate()?;
/// let before = PassportBuilder::new().email("a@example.org").seal(&old.public_key(), "n-1")?;
///
/// let new = PrivateKey::generate()?;
/// let new_public = new.public_key();
/// let ring = KeyRing::new(new).with_older(old);
/// assert_eq!(ring.public_key(), new_public); // what requests carry from now on
/// let after = PassportBuilder::new().email("b@example.org").seal(&new_public, "n-2")?;
///
/// assert_eq!(decrypt(&ring, &before.passport_data, NonceCheck::Expect("n-1"))?.email(), Some("a@example.org"));
/// assert_eq!(decrypt(&ring, &after.passport_data, NonceCheck::Expect("n-2"))?.email(), Some("b@example.org"));
/// # Ok::<(), telegram_passport::Error>(())
/// ```
pub struct KeyRing {
    current: Box<dyn CredentialsKey>,
    /// Tried in this order after the current key.
    older: Vec<Box<dyn CredentialsKey>>,
}

impl KeyRing {
    /// A ring of one key, the current one.
    pub fn new(current: impl CredentialsKey + 'static) -> Self {
        Self {
            current: Box::new(current),
            older: Vec::new(),
        }
    }

    /// The ring with `older` tried after the keys it already holds.
    pub fn with_older(mut self, older: impl CredentialsKey + 'static) -> Self {
        self.older.push(Box::new(older));
        self
    }

    /// A ring of `keys`, the first the current one; `None` for no key.
    ///
    /// ```
    /// use telegram_passport::{CredentialsKey, KeyRing, PrivateKey};
    ///
    /// let keys: Vec<Box<dyn CredentialsKey>> = vec![Box::new(PrivateKey::generate()?), Box::new(PrivateKey::generate()?)];
    /// let current = keys[0].public_key();
    /// let ring = KeyRing::from_keys(keys).expect("two keys");
    /// assert_eq!((ring.public_key(), ring.keys().count()), (current, 2));
    /// assert!(KeyRing::from_keys(Vec::new()).is_none());
    /// # Ok::<(), telegram_passport::Error>(())
    /// ```
    pub fn from_keys(keys: impl IntoIterator<Item = Box<dyn CredentialsKey>>) -> Option<Self> {
        let mut keys = keys.into_iter();
        Some(Self {
            current: keys.next()?,
            older: keys.collect(),
        })
    }

    /// The current key.
    ///
    /// ```
    /// use telegram_passport::{KeyRing, PrivateKey};
    ///
    /// let new = PrivateKey::generate()?;
    /// let public = new.public_key();
    /// let ring = KeyRing::new(new).with_older(PrivateKey::generate()?);
    /// assert_eq!(ring.current().public_key(), public);
    /// # Ok::<(), telegram_passport::Error>(())
    /// ```
    pub fn current(&self) -> &dyn CredentialsKey {
        self.current.as_ref()
    }

    /// Every key, the current one first.
    ///
    /// ```
    /// use telegram_passport::{KeyRing, PrivateKey};
    ///
    /// let ring = KeyRing::new(PrivateKey::generate()?).with_older(PrivateKey::generate()?);
    /// let bits: Vec<usize> = ring.keys().map(|key| key.public_key().bits()).collect();
    /// assert_eq!(bits, [2048, 2048]);
    /// # Ok::<(), telegram_passport::Error>(())
    /// ```
    pub fn keys(&self) -> impl Iterator<Item = &dyn CredentialsKey> {
        std::iter::once(&self.current)
            .chain(&self.older)
            .map(|key| key.as_ref())
    }
}

impl Unwrap for KeyRing {
    fn unwrap_each(&self, encrypted: &[u8], attempt: &mut dyn FnMut(Unwrapped) -> bool) -> bool {
        self.keys().any(|key| key.unwrap_each(encrypted, attempt))
    }
}

impl CredentialsKey for KeyRing {
    fn public_key(&self) -> PublicKey {
        self.current.public_key()
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("current", &self.current)
            .field("older", &self.older)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;
    use crate::client::PassportBuilder;
    use crate::error::Error;
    use crate::key::PrivateKey;
    use crate::open::credentials::NonceCheck;
    use crate::open::receive::decrypt;
    use crate::secret::Secret;

    /// A key whose RSA "succeeds" with a random secret whatever it is
    /// given, as RSA with implicit rejection does for a wrong key; or one
    /// whose token cannot be asked.
    #[derive(Debug)]
    enum Odd {
        ImplicitRejection(PublicKey),
        Unavailable(PublicKey),
    }

    impl Unwrap for Odd {
        fn unwrap_each(&self, _: &[u8], attempt: &mut dyn FnMut(Unwrapped) -> bool) -> bool {
            attempt(match self {
                Odd::ImplicitRejection(_) => Unwrapped::Secret(Secret::random().unwrap()),
                Odd::Unavailable(_) => Unwrapped::Unavailable(Error::KeyUnavailable {
                    reason: "the token is not present".to_owned(),
                    source: None,
                }),
            })
        }
    }

    impl CredentialsKey for Odd {
        fn public_key(&self) -> PublicKey {
            match self {
                Odd::ImplicitRejection(key) | Odd::Unavailable(key) => key.clone(),
            }
        }
    }

    #[test]
    fn a_wrong_key_that_unwraps_something_does_not_stop_the_ring() {
        let right = PrivateKey::generate().unwrap();
        let sealed = PassportBuilder::new()
            .email("a@example.org")
            .seal(&right.public_key(), "n")
            .unwrap();
        let wrong = Odd::ImplicitRejection(PrivateKey::generate().unwrap().public_key());
        let ring = KeyRing::new(wrong).with_older(right);
        assert_eq!(
            decrypt(&ring, &sealed.passport_data, NonceCheck::Skip).unwrap().nonce(),
            "n"
        );
        // Alone, its "success" is the one opaque error: the hash decided.
        let alone = Odd::ImplicitRejection(PrivateKey::generate().unwrap().public_key());
        let error = decrypt(&alone, &sealed.passport_data, NonceCheck::Skip).unwrap_err();
        assert_eq!(error.to_string(), "could not decrypt credentials");
    }

    #[test]
    fn an_unavailable_key_is_skipped_and_reported_only_when_no_other_key_opens() {
        let right = PrivateKey::generate().unwrap();
        let sealed = PassportBuilder::new()
            .email("a@example.org")
            .seal(&right.public_key(), "n")
            .unwrap();
        let unavailable = || Odd::Unavailable(PrivateKey::generate().unwrap().public_key());
        let ring = KeyRing::new(unavailable()).with_older(right);
        assert_eq!(
            decrypt(&ring, &sealed.passport_data, NonceCheck::Skip).unwrap().nonce(),
            "n"
        );
        // The unavailable key might have been the one: not a refusal.
        let ring = KeyRing::new(unavailable()).with_older(PrivateKey::generate().unwrap());
        let error = decrypt(&ring, &sealed.passport_data, NonceCheck::Skip).unwrap_err();
        assert!(matches!(error, Error::KeyUnavailable { .. }), "{error:?}");
    }
}
