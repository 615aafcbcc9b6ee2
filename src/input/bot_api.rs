//! The Bot API form of what the app sends (PROTOCOL §3): `PassportData`
//! and its parts, exactly as the JSON carries them (binary fields in base64,
//! decoded only when decrypted).

use serde::{Deserialize, Serialize};

use crate::element_type::ElementType;
use crate::error::{Error, Result};
use crate::input::json::{self, Counted};
use crate::input::limits::Limits;

/// `Update.message.passport_data`: the elements and the encrypted credentials.
///
/// ```
/// use telegram_passport::PassportData;
///
/// let update = br#"{"update_id": 1, "message": {"message_id": 2, "passport_data":
///     {"data": [], "credentials": {"data": "", "hash": "", "secret": ""}}}}"#;
/// let passport_data = PassportData::from_json(update)?;
/// assert!(passport_data.data.is_empty());
/// # Ok::<(), telegram_passport::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PassportData {
    /// The elements shared with the bot.
    #[serde(deserialize_with = "json::elements")]
    pub data: Vec<EncryptedPassportElement>,
    /// What is needed to decrypt them.
    #[serde(deserialize_with = "json::object")]
    pub credentials: EncryptedCredentials,
}

/// `EncryptedCredentials`: the credentials JSON, encrypted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EncryptedCredentials {
    /// Base64 of the encrypted credentials JSON.
    pub data: String,
    /// Base64 of SHA-256 of the padded plaintext.
    pub hash: String,
    /// Base64 of the credentials secret, RSA-OAEP encrypted to the bot's key.
    pub secret: String,
}

/// `EncryptedPassportElement`: one element, as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ReadElement")]
#[non_exhaustive]
pub struct EncryptedPassportElement {
    /// The element type.
    #[serde(rename = "type")]
    pub element_type: ElementType,
    /// Base64 of the encrypted data (personal details, identity documents, address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// The phone number (`phone_number` elements), verified by Telegram.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// The e-mail address (`email` elements), verified by Telegram.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Scans of an address document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<PassportFile>>,
    /// Front side of an identity document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub front_side: Option<PassportFile>,
    /// Reverse side of a driver's licence or identity card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverse_side: Option<PassportFile>,
    /// Selfie with the document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selfie: Option<PassportFile>,
    /// Translations of the document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub translation: Option<Vec<PassportFile>>,
    /// The element hash, opaque text: echo it back in `unspecified` error
    /// reports, never decode it.
    pub hash: String,
}

/// An [`EncryptedPassportElement`] as read: its file lists within
/// [`Limits::files_per_element`], refused while they are read and named by
/// the element's type, which may come after them.
#[derive(Deserialize)]
struct ReadElement {
    #[serde(rename = "type")]
    element_type: ElementType,
    #[serde(default)]
    data: Option<String>,
    #[serde(default)]
    phone_number: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default, deserialize_with = "json::optional_files")]
    files: Option<Counted<PassportFile>>,
    #[serde(default, deserialize_with = "json::optional_object")]
    front_side: Option<PassportFile>,
    #[serde(default, deserialize_with = "json::optional_object")]
    reverse_side: Option<PassportFile>,
    #[serde(default, deserialize_with = "json::optional_object")]
    selfie: Option<PassportFile>,
    #[serde(default, deserialize_with = "json::optional_files")]
    translation: Option<Counted<PassportFile>>,
    hash: String,
}

impl TryFrom<ReadElement> for EncryptedPassportElement {
    /// The refusal's text; the typed error is kept for the read.
    type Error = String;

    fn try_from(read: ReadElement) -> Result<Self, String> {
        let name = read.element_type;
        let within = |list: Option<Counted<PassportFile>>, part: &str| {
            list.map(|counted| counted.within(|| format!("{name}.{part}")))
                .transpose()
                .map_err(json::keep_refusal)
        };
        Ok(Self {
            element_type: read.element_type,
            data: read.data,
            phone_number: read.phone_number,
            email: read.email,
            files: within(read.files, "files")?,
            front_side: read.front_side,
            reverse_side: read.reverse_side,
            selfie: read.selfie,
            translation: within(read.translation, "translation")?,
            hash: read.hash,
        })
    }
}

/// `PassportFile`: a file on Telegram's servers, fetched with `getFile`.
/// Its bytes are encrypted; decrypt them with the matching
/// [`FileCredentials`](crate::FileCredentials).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PassportFile {
    /// Identifier for `getFile`.
    pub file_id: String,
    /// Identifier stable across bots; cannot be used to download.
    #[serde(default)]
    pub file_unique_id: String,
    /// Size in bytes (of the encrypted file).
    #[serde(default)]
    pub file_size: u64,
    /// Unix time the file was uploaded.
    #[serde(default)]
    pub file_date: i64,
}

impl PassportData {
    /// Reads a bare `PassportData`, or a `Message` or `Update` carrying one.
    pub fn from_json(json: &[u8]) -> Result<Self> {
        Self::from_json_with_limits(json, &Limits::default())
    }

    /// [`PassportData::from_json`] with another size limit than the default.
    pub fn from_json_with_limits(json: &[u8], limits: &Limits) -> Result<Self> {
        crate::input::limits::check(|| "the passport data JSON".to_owned(), json.len(), limits.input_json)?;
        let envelope: Envelope = crate::input::json::from_slice_within(json, "PassportData", limits)?;
        envelope.into_passport_data().ok_or(Error::NoPassportData)
    }

    /// Reads the `PassportData`, `Message` or `Update` of another Bot API
    /// library (frankenstein's, or a `serde_json::Value` from any
    /// framework) through its serde serialisation, with the same checks as
    /// [`PassportData::from_json`].
    ///
    /// ```
    /// use telegram_passport::PassportData;
    ///
    /// let update = serde_json::json!({"update_id": 1, "message": {"message_id": 2, "passport_data":
    ///     {"data": [], "credentials": {"data": "", "hash": "", "secret": ""}}}});
    /// let passport_data = PassportData::from_serializable(&update)?;
    /// assert!(passport_data.data.is_empty());
    /// # Ok::<(), telegram_passport::Error>(())
    /// ```
    pub fn from_serializable(value: &impl Serialize) -> Result<Self> {
        let json = serde_json::to_vec(value).map_err(|error| Error::Json {
            what: "PassportData".to_owned(),
            source: crate::error::JsonError::new(crate::text::excerpt(&error.to_string()), String::new(), 0, 0),
        })?;
        Self::from_json(&json)
    }

    /// A stable name for this submission, to claim its nonce with
    /// ([`NonceStore::claim`](crate::NonceStore::claim)): the same for every
    /// redelivery of the update, different for every other submission
    /// (see [`EncryptedCredentials::submission_key`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use telegram_passport::{EncryptedCredentials, MemoryNonceStore, NonceStore, PassportData};
    ///
    /// let passport_data = PassportData::new(vec![], EncryptedCredentials::new("", "", "c2VjcmV0"));
    /// let redelivered = passport_data.clone();
    /// assert_eq!(passport_data.submission_key(), redelivered.submission_key());
    ///
    /// let store = MemoryNonceStore::new();
    /// let nonce = store.issue("application-17", Duration::from_secs(900))?;
    /// let claim = store.claim(&nonce, &passport_data.submission_key(), Duration::from_secs(30))?;
    /// assert_eq!(claim.context(), "application-17");
    /// # Ok::<(), telegram_passport::Error>(())
    /// ```
    pub fn submission_key(&self) -> String {
        self.credentials.submission_key()
    }

    /// The JSON text.
    pub fn to_json(&self) -> String {
        // Serialising strings and integers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Any of `PassportData`, `Message` or `Update`, read in one pass; every
/// other field is skipped.
#[derive(Deserialize)]
struct Envelope {
    #[serde(default, deserialize_with = "json::optional_elements")]
    data: Option<Vec<EncryptedPassportElement>>,
    #[serde(default, deserialize_with = "json::optional_object")]
    credentials: Option<EncryptedCredentials>,
    #[serde(default, deserialize_with = "json::optional_object")]
    passport_data: Option<PassportData>,
    #[serde(default, deserialize_with = "json::optional_object")]
    message: Option<MessageEnvelope>,
}

#[derive(Deserialize)]
struct MessageEnvelope {
    #[serde(default, deserialize_with = "json::optional_object")]
    passport_data: Option<PassportData>,
}

impl Envelope {
    fn into_passport_data(self) -> Option<PassportData> {
        match self {
            Self {
                data: Some(data),
                credentials: Some(credentials),
                ..
            } => Some(PassportData { data, credentials }),
            Self {
                passport_data: Some(passport_data),
                ..
            } => Some(passport_data),
            Self {
                message: Some(message), ..
            } => message.passport_data,
            _ => None,
        }
    }
}

/// An element type by its Bot API name (`"driver_license"`); any other
/// text is [`Error::UnknownElementType`], bounded and escaped.
impl std::str::FromStr for ElementType {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == name)
            .ok_or_else(|| Error::UnknownElementType(crate::text::excerpt(name)))
    }
}

// Constructors: the wire structs are `#[non_exhaustive]`, so that a field
// Telegram adds is not a breaking release; these build them.

impl PassportData {
    /// The elements and the credentials that decrypt them.
    pub fn new(data: Vec<EncryptedPassportElement>, credentials: EncryptedCredentials) -> Self {
        Self { data, credentials }
    }
}

impl EncryptedCredentials {
    /// The three base64 fields.
    pub fn new(data: impl Into<String>, hash: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            data: data.into(),
            hash: hash.into(),
            secret: secret.into(),
        }
    }
}

impl EncryptedPassportElement {
    /// An element of `element_type` with its `hash` and nothing else; set
    /// the other fields as the element carries them.
    pub fn new(element_type: ElementType, hash: impl Into<String>) -> Self {
        Self {
            element_type,
            data: None,
            phone_number: None,
            email: None,
            files: None,
            front_side: None,
            reverse_side: None,
            selfie: None,
            translation: None,
            hash: hash.into(),
        }
    }
}

impl PassportFile {
    /// A file as `getFile` knows it.
    pub fn new(file_id: impl Into<String>, file_unique_id: impl Into<String>, file_size: u64, file_date: i64) -> Self {
        Self {
            file_id: file_id.into(),
            file_unique_id: file_unique_id.into(),
            file_size,
            file_date,
        }
    }
}
