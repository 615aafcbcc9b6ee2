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

// The topic pages under docs/ hold examples too: each page's run as doctests,
// outside the public API.

/// The examples of docs/requesting.md, run as doctests.
#[doc = include_str!("../docs/requesting.md")]
#[cfg(doctest)]
pub struct RequestingDoctests;

/// The examples of docs/keys.md, run as doctests.
#[doc = include_str!("../docs/keys.md")]
#[cfg(doctest)]
pub struct KeysDoctests;

/// The examples of docs/checking.md, run as doctests.
#[doc = include_str!("../docs/checking.md")]
#[cfg(doctest)]
pub struct CheckingDoctests;

// The modules in the order data flows through them.

// Request: what to ask for, and the nonce that ties the answer to the ask.
mod nonce;
mod request;
mod scope;

// Input: what the app sends, as received, within limits.
mod base64;
mod bot_api;
mod json;
mod limits;
pub mod mtproto;
mod tl;

// Decrypt: the keys, one primitive, credentials, element data and files.
#[cfg(feature = "tokio")]
mod async_file;
mod audit;
mod backend;
mod credentials;
mod file;
mod key;
mod passport;
mod primitive;
mod sealed;
mod secret;
mod stream;

// Decode: element types and typed values.
mod element_type;
mod values;

// Validate and report back.
mod report;
mod validate;

// The app's side, the one error type, and received text in messages.
pub mod client;
mod error;
mod text;

// Request
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use crate::nonce::RedisNonceStore;
pub use crate::nonce::{generate_nonce, AsyncNonceStore, Claim, MemoryNonceStore, NonceStore};
pub use crate::request::{bot_id_from_token, PassportRequest, SdkParameters};
pub use crate::scope::{Scope, ScopeElement, ScopeOne, ScopeType};
// Input
pub use crate::bot_api::{EncryptedCredentials, EncryptedPassportElement, PassportData, PassportFile};
pub use crate::limits::Limits;
// Decrypt
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use crate::async_file::AsyncFileDecryptor;
pub use crate::credentials::{Credentials, DataCredentials, FileCredentials, NonceCheck, SecureValue};
pub use crate::file::{FileLocation, FileRef};
#[cfg(feature = "pkcs11")]
#[cfg_attr(docsrs, doc(cfg(feature = "pkcs11")))]
pub use crate::key::Pkcs11Key;
pub use crate::key::{CredentialsKey, KeyRef, KeyRing, PrivateKey, PublicKey};
pub use crate::passport::{
    decrypt, decrypt_and_consume, decrypt_with_limits, Contact, DecryptedPassport, Document, Element, ElementHash,
};
pub use crate::secret::{Plaintext, Secret, Sha256Hash};
pub use crate::stream::FileDecryptor;
// Decode
pub use crate::element_type::{ElementType, FileSlot};
pub use crate::values::{
    CalendarDate, CountryCode, Date, ElementValue, Gender, IdDocumentData, PersonalDetails, ResidentialAddress,
};
// Validate and report
pub use crate::report::{ErrorSource, PassportElementError, SecureValueError, SetPassportDataErrors, TlHashes};
pub use crate::validate::{Accepted, Finding, Problem, Rejected, Rule, Validation, Validator};
// Errors
pub use crate::error::{
    DecryptionError, Error, ErrorKind, JsonError, KeyFound, KeyListProblem, Pkcs11Problem, Target, TlProblem,
};
pub use crate::text::{one_line, EXCERPT_MAX};

/// The cryptographic backend this build decrypts with: `"AWS-LC"` (the
/// default feature `aws-lc`) or `"RustCrypto"` (`default-features = false`).
///
/// ```
/// let expected = if cfg!(feature = "aws-lc") { "AWS-LC" } else { "RustCrypto" };
/// assert_eq!(telegram_passport::backend_name(), expected);
/// ```
pub fn backend_name() -> &'static str {
    backend::NAME
}
