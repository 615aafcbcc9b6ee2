// The crate documentation is the README: one quick start, tested as doctests.
#![doc = include_str!("../README.md")]
// Doctests, the README's included, compile without a warning.
#![doc(test(attr(deny(warnings))))]
#![forbid(unsafe_code)]
// docs.rs: show the feature an item needs.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]
// Bad input must never panic: no unwrap, expect, panic or unchecked indexing in the library.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

// What every room speaks of: the element types, and secret bytes.
mod element_type;
mod secret;

// The rooms, in the order data flows through them.
// The request and its nonce:
mod request;

mod nonce;

// What the app sends, as received:
mod input;

// The keys that open it:
mod key;

// Opening it:
mod open;

// Decoding its values:
mod decode;

// Checking them, and reporting back to the app:
mod check;

// Beside them: the app's side, the MTProto facade, the audit trail, the
// cryptographic backend, the one error type, and received text in messages.
pub mod client;
pub mod mtproto;

mod audit;
mod backend;
mod error;
mod text;

// The examples of the topic pages under docs/, run as doctests.
#[cfg(doctest)]
mod topics;

// The names a service needs on its first day; the rest are in the public
// modules below, and (hidden from the documentation) still at the root,
// where earlier releases had them.

// Requesting
pub use crate::request::link::{bot_id_from_token, PassportRequest, SdkParameters};
pub use crate::request::scope::{Scope, ScopeElement};
// The nonce
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use crate::nonce::PostgresNonceStore;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use crate::nonce::RedisNonceStore;
pub use crate::nonce::{generate_nonce, AsyncNonceStore, Claim, MemoryNonceStore, NonceStore};
// What the app sends, and the keys that open it
pub use crate::input::bot_api::PassportData;
pub use crate::input::limits::Limits;
#[cfg(feature = "pkcs11")]
#[cfg_attr(docsrs, doc(cfg(feature = "pkcs11")))]
pub use crate::key::Pkcs11Key;
pub use crate::key::{CredentialsKey, KeyRef, KeyRing, PrivateKey, PublicKey};
// Opening it
pub use crate::open::credentials::NonceCheck;
pub use crate::open::file::FileRef;
pub use crate::open::passport::{DecryptedPassport, Document, Element};
pub use crate::open::receive::{
    decrypt, decrypt_and_consume, decrypt_with_limits, open_credentials, Opened, Submission,
};
// What it holds
pub use crate::element_type::{ElementType, FileSlot};
// Checking it, and reporting back
pub use crate::check::report::{PassportElementError, SetPassportDataErrors};
pub use crate::check::validate::{Accepted, Finding, Problem, Rejected, Rule, Validation, Validator};
// When something goes wrong
pub use crate::error::{Error, ErrorKind};
// The build
pub use crate::backend::backend_name;

/// The Bot API's form of what the app sends, part by part
/// ([`PassportData`] holds them).
pub mod bot_api {
    pub use crate::input::bot_api::{EncryptedCredentials, EncryptedPassportElement, PassportData, PassportFile};
}

/// The typed values of decrypted element data.
pub mod values {
    pub use crate::decode::values::{
        CalendarDate, CountryCode, Date, ElementValue, Gender, IdDocumentData, PersonalDetails, ResidentialAddress,
    };
}

/// The decrypted credentials, secret bytes, and files: for a service that
/// stores the credentials to decrypt files later, or decrypts files its own
/// way.
pub mod crypto {
    #[cfg(feature = "tokio")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub use crate::open::async_file::AsyncFileDecryptor;
    pub use crate::open::credentials::{Credentials, DataCredentials, ElementCredentials, FileCredentials};
    pub use crate::open::stream::FileDecryptor;
    pub use crate::secret::{Plaintext, Secret, Sha256Hash};
}

/// What a decrypted passport says about where its parts came from.
pub mod sent {
    pub use crate::input::received::{ElementHash, FileLocation};
    pub use crate::open::passport::Contact;
    pub use crate::request::scope::{ScopeOne, ScopeType};
}

/// The MTProto side of error reports (`users.setSecureValueErrors`) and
/// what every report names.
pub mod report {
    pub use crate::check::report::{ErrorSource, SecureValueError, TlHashes};
}

/// What an [`Error`] carries: the details of each kind, and how received
/// text appears in messages.
pub mod errors {
    pub use crate::error::{DecryptionError, JsonError, KeyFound, KeyListProblem, Pkcs11Problem, Target, TlProblem};
    pub use crate::text::{one_line, EXCERPT_MAX};
}

// Earlier releases' paths, kept so that code written for them compiles.
#[doc(hidden)]
pub use crate::bot_api::{EncryptedCredentials, EncryptedPassportElement, PassportFile};
#[doc(hidden)]
#[cfg(feature = "tokio")]
pub use crate::crypto::AsyncFileDecryptor;
#[doc(hidden)]
pub use crate::crypto::{Credentials, DataCredentials, FileCredentials, FileDecryptor, Plaintext, Secret, Sha256Hash};
#[doc(hidden)]
pub use crate::errors::{
    one_line, DecryptionError, JsonError, KeyFound, KeyListProblem, Pkcs11Problem, Target, TlProblem, EXCERPT_MAX,
};
/// The credentials of one element, under the credentials JSON's name; see
/// [`crypto::ElementCredentials`].
#[doc(hidden)]
pub type SecureValue = crate::crypto::ElementCredentials;
#[doc(hidden)]
pub use crate::report::{ErrorSource, SecureValueError, TlHashes};
#[doc(hidden)]
pub use crate::sent::{Contact, ElementHash, FileLocation, ScopeOne, ScopeType};
#[doc(hidden)]
pub use crate::values::{
    CalendarDate, CountryCode, Date, ElementValue, Gender, IdDocumentData, PersonalDetails, ResidentialAddress,
};
