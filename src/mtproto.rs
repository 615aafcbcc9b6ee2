//! The MTProto form of what the app sends (PROTOCOL §3): the same data as
//! the Bot API's, with every binary field as raw bytes. Nothing on this path
//! is base64 except what is inside the decrypted credentials JSON.
//!
//! From a TL library (grammers, Telethon, TDLib …), take the TL bytes of the
//! service message's `messageActionSecureValuesSentMe` (grammers:
//! `action.to_bytes()` on the `MessageAction`) and read them with
//! [`SecureValuesSentMe::from_tl`]:
//!
//! ```text
//! let sent = mtproto::SecureValuesSentMe::from_tl(&action.to_bytes())?;
//! let passport = mtproto::decrypt(&key, &sent, NonceCheck::Consume(&store))?;
//! ```
//!
//! Both this path and the Bot API's go through the same receive path:
//! [`decrypt`] here is [`crate::decrypt`], which takes either form, with
//! the same limits, checked in one place, and the same decryption.
//!
//! ```
//! use telegram_passport::{client::PassportBuilder, mtproto, NonceCheck, PrivateKey};
//!
//! let key = PrivateKey::generate()?;
//! let sealed = PassportBuilder::new().email("a@example.org").seal(&key.public_key(), "n-1")?;
//! let passport = mtproto::decrypt(&key, &sealed.mtproto, NonceCheck::Expect("n-1"))?;
//! assert_eq!(passport.email(), Some("a@example.org"));
//! # Ok::<(), telegram_passport::Error>(())
//! ```

pub use crate::input::mtproto::{
    SecureCredentialsEncrypted, SecureData, SecureFile, SecurePlainData, SecureValue, SecureValuesSentMe,
};
pub use crate::open::receive::{decrypt, decrypt_and_consume, decrypt_with_limits};
