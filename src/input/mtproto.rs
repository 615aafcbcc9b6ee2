//! The MTProto form of what the app sends (PROTOCOL §3), as the public
//! module [`crate::mtproto`] shows it: the same data as the Bot API's, with
//! every binary field as raw bytes.

use crate::element_type::ElementType;

/// `messageActionSecureValuesSentMe`: the values and the encrypted credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SecureValuesSentMe {
    /// The values shared with the service.
    pub values: Vec<SecureValue>,
    /// What is needed to decrypt them.
    pub credentials: SecureCredentialsEncrypted,
}

/// `secureCredentialsEncrypted`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SecureCredentialsEncrypted {
    /// The encrypted credentials JSON.
    pub data: Vec<u8>,
    /// SHA-256 of the padded plaintext.
    pub hash: Vec<u8>,
    /// The credentials secret, RSA-OAEP encrypted to the service's key.
    pub secret: Vec<u8>,
}

/// `secureValue`: one element.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SecureValue {
    /// The type (from the `SecureValueType` constructor, see
    /// [`ElementType::from_mtproto_constructor`]).
    pub value_type: ElementType,
    /// Encrypted data.
    pub data: Option<SecureData>,
    /// Front side of an identity document.
    pub front_side: Option<SecureFile>,
    /// Reverse side of a driver's licence or identity card.
    pub reverse_side: Option<SecureFile>,
    /// Selfie with the document.
    pub selfie: Option<SecureFile>,
    /// Translations of the document.
    pub translation: Vec<SecureFile>,
    /// Scans of an address document.
    pub files: Vec<SecureFile>,
    /// A verified phone number or e-mail address.
    pub plain_data: Option<SecurePlainData>,
    /// The value hash, for `secureValueError`.
    pub hash: Vec<u8>,
}

/// `secureData`. A service decrypts with the hash and secret from the
/// credentials; `data_hash` must be the credentials' too
/// ([`Error::Inconsistent`](crate::Error::Inconsistent) otherwise), while
/// the `secret` here is the app's cloud-storage layer and is not checked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SecureData {
    /// The encrypted data.
    pub data: Vec<u8>,
    /// SHA-256 of the padded plaintext.
    pub data_hash: Vec<u8>,
    /// The cloud-storage secret (unused by a service).
    pub secret: Vec<u8>,
}

/// `secureFile`: an encrypted file on Telegram's servers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct SecureFile {
    /// File id, for `inputSecureFileLocation`.
    pub id: i64,
    /// Access hash, for `inputSecureFileLocation`.
    pub access_hash: i64,
    /// Size in bytes.
    pub size: i64,
    /// Data centre holding the file.
    pub dc_id: i32,
    /// Unix time of upload.
    pub date: i32,
    /// SHA-256 of the padded file: must be the credentials' `file_hash`
    /// ([`Error::Inconsistent`](crate::Error::Inconsistent) otherwise).
    pub file_hash: Vec<u8>,
    /// The cloud-storage secret (unused by a service).
    pub secret: Vec<u8>,
}

/// `securePlainPhone` / `securePlainEmail`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurePlainData {
    /// `securePlainPhone{phone}`.
    Phone(String),
    /// `securePlainEmail{email}`.
    Email(String),
}

// Constructors: the wire structs are `#[non_exhaustive]`, so that a field
// Telegram adds is not a breaking release; these build them.

impl SecureValuesSentMe {
    /// The values and the credentials that decrypt them.
    pub fn new(values: Vec<SecureValue>, credentials: SecureCredentialsEncrypted) -> Self {
        Self { values, credentials }
    }

    /// A stable name for this submission, to claim its nonce with
    /// ([`NonceStore::claim`](crate::NonceStore::claim)); the same as the
    /// Bot API's [`PassportData::submission_key`](crate::PassportData::submission_key)
    /// for the same submission.
    pub fn submission_key(&self) -> String {
        self.credentials.submission_key()
    }
}

impl SecureValue {
    /// A value of `value_type` with its `hash` and nothing else; set the
    /// other fields as the value carries them.
    pub fn new(value_type: ElementType, hash: Vec<u8>) -> Self {
        Self {
            value_type,
            data: None,
            front_side: None,
            reverse_side: None,
            selfie: None,
            translation: Vec::new(),
            files: Vec::new(),
            plain_data: None,
            hash,
        }
    }
}

impl SecureData {
    /// `secureData{data, data_hash, secret}`.
    pub fn new(data: Vec<u8>, data_hash: Vec<u8>, secret: Vec<u8>) -> Self {
        Self {
            data,
            data_hash,
            secret,
        }
    }
}

impl SecureFile {
    /// `secureFile{id, access_hash, size, dc_id, date, file_hash, secret}`.
    pub fn new(
        id: i64,
        access_hash: i64,
        size: i64,
        dc_id: i32,
        date: i32,
        file_hash: Vec<u8>,
        secret: Vec<u8>,
    ) -> Self {
        Self {
            id,
            access_hash,
            size,
            dc_id,
            date,
            file_hash,
            secret,
        }
    }
}

impl SecureCredentialsEncrypted {
    /// `secureCredentialsEncrypted{data, hash, secret}`.
    pub fn new(data: Vec<u8>, hash: Vec<u8>, secret: Vec<u8>) -> Self {
        Self { data, hash, secret }
    }
}
