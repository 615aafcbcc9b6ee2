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

// Request
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use crate::nonce::RedisNonceStore;
pub use crate::nonce::{generate_nonce, AsyncNonceStore, Claim, MemoryNonceStore, NonceStore};
pub use crate::request::link::{bot_id_from_token, PassportRequest, SdkParameters};
pub use crate::request::scope::{Scope, ScopeElement, ScopeOne, ScopeType};
// Input
pub use crate::input::bot_api::{EncryptedCredentials, EncryptedPassportElement, PassportData, PassportFile};
pub use crate::input::limits::Limits;
// Keys
#[cfg(feature = "pkcs11")]
#[cfg_attr(docsrs, doc(cfg(feature = "pkcs11")))]
pub use crate::key::Pkcs11Key;
pub use crate::key::{CredentialsKey, KeyRef, KeyRing, PrivateKey, PublicKey};
// Open
pub use crate::input::received::{ElementHash, FileLocation};
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use crate::open::async_file::AsyncFileDecryptor;
pub use crate::open::credentials::{Credentials, DataCredentials, FileCredentials, NonceCheck, SecureValue};
pub use crate::open::file::FileRef;
pub use crate::open::passport::{Contact, DecryptedPassport, Document, Element};
pub use crate::open::receive::{
    decrypt, decrypt_and_consume, decrypt_with_limits, open_credentials, Opened, Submission,
};
pub use crate::open::stream::FileDecryptor;
pub use crate::secret::{Plaintext, Secret, Sha256Hash};
// Decode
pub use crate::decode::values::{
    CalendarDate, CountryCode, Date, ElementValue, Gender, IdDocumentData, PersonalDetails, ResidentialAddress,
};
pub use crate::element_type::{ElementType, FileSlot};
// Check and report
pub use crate::check::report::{ErrorSource, PassportElementError, SecureValueError, SetPassportDataErrors, TlHashes};
pub use crate::check::validate::{Accepted, Finding, Problem, Rejected, Rule, Validation, Validator};
// Errors
pub use crate::error::{
    DecryptionError, Error, ErrorKind, JsonError, KeyFound, KeyListProblem, Pkcs11Problem, Target, TlProblem,
};
pub use crate::text::{one_line, EXCERPT_MAX};
// The build
pub use crate::backend::backend_name;
