//! The one internal form of what a user's app sent, whichever API carried
//! it: the Bot API's JSON (base64 text) and MTProto (raw bytes) both become
//! a [`Received`] that borrows from the input. Everything after that is
//! shared ([`crate::open::receive`]); nothing here decodes or decrypts.

use serde::{Serialize, Serializer};

use crate::element_type::ElementType;
use crate::error::{Error, Result};
use crate::input::base64;
use crate::input::bot_api::{EncryptedCredentials, PassportData, PassportFile};
use crate::input::mtproto::{SecureCredentialsEncrypted, SecureFile, SecurePlainData, SecureValuesSentMe};
use crate::secret::Sha256Hash;

/// Where an encrypted file lives.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileLocation {
    /// A Bot API file: download with `getFile`.
    BotApi(PassportFile),
    /// An MTProto file: download with `upload.getFile` and
    /// `inputSecureFileLocation{id, access_hash}`.
    Mtproto(SecureFile),
}

/// The element `hash` as received, to echo back in `unspecified` error
/// reports: opaque text over the Bot API, raw bytes over MTProto.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ElementHash {
    /// Bot API: the text, never decoded.
    Text(String),
    /// MTProto: the bytes.
    Bytes(Vec<u8>),
}

impl Serialize for ElementHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Text(text) => serializer.serialize_str(text),
            Self::Bytes(bytes) => serializer.serialize_str(&base64::encode(bytes)),
        }
    }
}

/// Bytes as the input holds them, decoded only once they passed the limits.
#[derive(Clone, Copy)]
pub(crate) enum Bytes<'a> {
    /// Bot API: standard base64.
    Base64(&'a str),
    /// MTProto: raw.
    Raw(&'a [u8]),
}

impl Bytes<'_> {
    /// The decoded length (of valid base64; invalid base64 fails to decode).
    pub(crate) fn len(self) -> usize {
        match self {
            Self::Base64(text) => {
                let digits = text.trim_end_matches('=').len();
                digits / 4 * 3 + (digits % 4).saturating_sub(1)
            }
            Self::Raw(bytes) => bytes.len(),
        }
    }

    pub(crate) fn decode(self, field: &str) -> Result<Vec<u8>> {
        match self {
            Self::Base64(text) => base64::decode(text, field),
            Self::Raw(bytes) => Ok(bytes.to_vec()),
        }
    }

    pub(crate) fn hash(self, field: &str) -> Result<Sha256Hash> {
        let bytes = self.decode(field)?;
        Sha256Hash::from_slice(&bytes).ok_or_else(|| Error::Length {
            field: field.to_owned(),
            expected: Sha256Hash::LEN,
            actual: bytes.len(),
        })
    }
}

/// The encrypted credentials.
pub(crate) struct ReceivedCredentials<'a> {
    pub(crate) data: Bytes<'a>,
    pub(crate) hash: Bytes<'a>,
    pub(crate) secret: Bytes<'a>,
}

/// One element as sent.
pub(crate) struct ReceivedElement<'a> {
    pub(crate) element_type: ElementType,
    pub(crate) data: Option<Bytes<'a>>,
    /// The `data_hash` the input states beside the data (MTProto's
    /// `secureData`); the credentials' must be the same.
    pub(crate) data_hash: Option<&'a [u8]>,
    pub(crate) phone_number: Option<&'a str>,
    pub(crate) email: Option<&'a str>,
    pub(crate) front_side: Option<FileLocation>,
    pub(crate) reverse_side: Option<FileLocation>,
    pub(crate) selfie: Option<FileLocation>,
    pub(crate) translation: Vec<FileLocation>,
    pub(crate) files: Vec<FileLocation>,
    pub(crate) hash: ElementHash,
}

/// A whole passport as sent: credentials and elements.
pub(crate) struct Received<'a> {
    /// `bot_api` or `mtproto`, for the audit trail.
    pub(crate) api: &'static str,
    pub(crate) credentials: ReceivedCredentials<'a>,
    pub(crate) elements: Vec<ReceivedElement<'a>>,
}

impl ReceivedCredentials<'_> {
    /// The submission's name for [`NonceStore::claim`](crate::NonceStore::claim):
    /// URL-safe base64 of SHA-256 over the encrypted credentials secret as
    /// sent (decoded from base64 on the Bot API, so both APIs agree).
    /// RSA-OAEP makes that secret different for every submission, and the
    /// same in every redelivery of one.
    pub(crate) fn submission_key(&self) -> String {
        use ::base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use ::base64::Engine as _;
        use sha2::Digest as _;
        let digest = match self.secret {
            // Text that is not base64 never decrypts; any stable name will do.
            Bytes::Base64(text) => match base64::decode(text, "credentials.secret") {
                Ok(bytes) => sha2::Sha256::digest(bytes),
                Err(_) => sha2::Sha256::digest(text.as_bytes()),
            },
            Bytes::Raw(bytes) => sha2::Sha256::digest(bytes),
        };
        URL_SAFE_NO_PAD.encode(digest)
    }
}

// How each wire form maps onto the internal form: here, so that the wire
// forms know nothing of it.

impl PassportData {
    /// The internal form, borrowing from this one: mapping only, no checks.
    pub(crate) fn received(&self) -> Received<'_> {
        let files = |list: &Option<Vec<PassportFile>>| -> Vec<FileLocation> {
            list.iter().flatten().cloned().map(FileLocation::BotApi).collect()
        };
        let elements = self
            .data
            .iter()
            .map(|element| ReceivedElement {
                element_type: element.element_type,
                data: element.data.as_deref().map(Bytes::Base64),
                data_hash: None,
                phone_number: element.phone_number.as_deref(),
                email: element.email.as_deref(),
                front_side: element.front_side.clone().map(FileLocation::BotApi),
                reverse_side: element.reverse_side.clone().map(FileLocation::BotApi),
                selfie: element.selfie.clone().map(FileLocation::BotApi),
                translation: files(&element.translation),
                files: files(&element.files),
                hash: ElementHash::Text(element.hash.clone()),
            })
            .collect();
        Received {
            api: "bot_api",
            credentials: self.credentials.received(),
            elements,
        }
    }
}

impl EncryptedCredentials {
    /// A stable name for the submission these credentials came with:
    /// URL-safe base64 (43 characters) of SHA-256 over the encrypted
    /// credentials secret. RSA-OAEP makes that secret different for every
    /// submission, and every redelivery of one carries the same; the
    /// MTProto form of the same submission has the same key.
    pub fn submission_key(&self) -> String {
        self.received().submission_key()
    }

    pub(crate) fn received(&self) -> ReceivedCredentials<'_> {
        ReceivedCredentials {
            data: Bytes::Base64(&self.data),
            hash: Bytes::Base64(&self.hash),
            secret: Bytes::Base64(&self.secret),
        }
    }
}

impl SecureValuesSentMe {
    /// The internal form, borrowing from this one: mapping only, no checks.
    pub(crate) fn received(&self) -> Received<'_> {
        let location = |file: &SecureFile| FileLocation::Mtproto(file.clone());
        let elements = self
            .values
            .iter()
            .map(|value| {
                let (phone_number, email) = match &value.plain_data {
                    Some(SecurePlainData::Phone(phone)) => (Some(phone.as_str()), None),
                    Some(SecurePlainData::Email(email)) => (None, Some(email.as_str())),
                    None => (None, None),
                };
                ReceivedElement {
                    element_type: value.value_type,
                    data: value.data.as_ref().map(|data| Bytes::Raw(&data.data)),
                    data_hash: value.data.as_ref().map(|data| data.data_hash.as_slice()),
                    phone_number,
                    email,
                    front_side: value.front_side.as_ref().map(location),
                    reverse_side: value.reverse_side.as_ref().map(location),
                    selfie: value.selfie.as_ref().map(location),
                    translation: value.translation.iter().map(location).collect(),
                    files: value.files.iter().map(location).collect(),
                    hash: ElementHash::Bytes(value.hash.clone()),
                }
            })
            .collect();
        Received {
            api: "mtproto",
            credentials: self.credentials.received(),
            elements,
        }
    }
}

impl SecureCredentialsEncrypted {
    /// A stable name for the submission, as
    /// [`EncryptedCredentials::submission_key`](crate::EncryptedCredentials::submission_key)
    /// (the same key for the same submission).
    pub fn submission_key(&self) -> String {
        self.received().submission_key()
    }

    pub(crate) fn received(&self) -> ReceivedCredentials<'_> {
        ReceivedCredentials {
            data: Bytes::Raw(&self.data),
            hash: Bytes::Raw(&self.hash),
            secret: Bytes::Raw(&self.secret),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Bytes;

    /// The length checked against the limits is the decoded length
    /// exactly, padded or not, so a limit holds to the byte.
    #[test]
    fn base64_is_measured_as_the_bytes_it_decodes_to() {
        for (text, decoded) in [
            ("", 0),
            ("YQ", 1),
            ("YQ==", 1),
            ("YWI", 2),
            ("YWI=", 2),
            ("YWJj", 3),
            ("YWJjZA", 4),
            ("YWJjZGU=", 5),
        ] {
            assert_eq!(Bytes::Base64(text).len(), decoded, "{text:?}");
        }
        assert_eq!(Bytes::Raw(&[0; 7]).len(), 7);
    }
}
