//! The Bot API form of what the app sends (PROTOCOL §3): `PassportData`
//! and its parts, exactly as the JSON carries them (binary fields in base64,
//! decoded only when decrypted).

use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess};
use serde::{Deserialize, Deserializer, Serialize};

use crate::element_type::ElementType;
use crate::error::{Error, Result};
use crate::input::json::{self, Counted, Object, ObjectSeed, OptionSeed, ReadObject};
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
///
/// Read through serde, it holds the default [`Limits`];
/// [`PassportData::from_json_with_limits`] takes others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PassportData {
    /// The elements shared with the bot.
    pub data: Vec<EncryptedPassportElement>,
    /// What is needed to decrypt them.
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
///
/// Read through serde, its file lists hold the default
/// [`Limits::files_per_element`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct EncryptedPassportElement {
    /// The element type.
    #[serde(rename = "type")]
    pub element_type: ElementType,
    /// Base64 of the encrypted data (personal details, identity documents, address).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// The phone number (`phone_number` elements), verified by Telegram.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// The e-mail address (`email` elements), verified by Telegram.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Scans of an address document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<PassportFile>>,
    /// Front side of an identity document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub front_side: Option<PassportFile>,
    /// Reverse side of a driver's licence or identity card.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reverse_side: Option<PassportFile>,
    /// Selfie with the document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selfie: Option<PassportFile>,
    /// Translations of the document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub translation: Option<Vec<PassportFile>>,
    /// The element hash, opaque text: echo it back in `unspecified` error
    /// reports, never decode it.
    pub hash: String,
}

impl<'de> Deserialize<'de> for PassportData {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let read = ObjectSeed(Within(Limits::default())).deserialize(deserializer)?;
        read.checked().map_err(D::Error::custom)
    }
}

impl<'de> Deserialize<'de> for EncryptedPassportElement {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let read = ObjectSeed(Within(Limits::default()).element()).deserialize(deserializer)?;
        read.checked().map_err(D::Error::custom)
    }
}

/// Reads the Bot API's form within these limits: every list is bounded as
/// it is read ([`json::ListSeed`]) and refused, by name, once read.
#[derive(Clone, Copy)]
struct Within(Limits);

impl Within {
    fn elements(self) -> json::ListSeed<ElementSeed> {
        json::ListSeed {
            limit: self.0.elements,
            item: self.element(),
        }
    }

    fn element(self) -> ElementSeed {
        ElementSeed {
            files: self.0.files_per_element,
        }
    }
}

/// A `PassportData` as read: its lists counted, not yet checked.
struct ReadPassportData {
    data: Counted<ReadElement>,
    credentials: EncryptedCredentials,
}

impl ReadPassportData {
    /// The passport, or [`Error::TooLarge`] naming the first list over its limit.
    fn checked(self) -> Result<PassportData> {
        let data = self.data.within(|| "passport.data".to_owned())?;
        Ok(PassportData {
            data: data.into_iter().map(ReadElement::checked).collect::<Result<_>>()?,
            credentials: self.credentials,
        })
    }
}

impl<'de> ReadObject<'de> for Within {
    type Value = ReadPassportData;

    fn read<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        #[derive(Deserialize)]
        #[serde(field_identifier, rename_all = "snake_case")]
        enum Field {
            Data,
            Credentials,
            #[serde(other)]
            Other,
        }
        let (mut data, mut credentials) = (None, None);
        while let Some(field) = map.next_key()? {
            match field {
                Field::Data => json::set(&mut data, map.next_value_seed(self.elements())?, "data")?,
                Field::Credentials => json::set(
                    &mut credentials,
                    map.next_value::<Object<EncryptedCredentials>>()?.0,
                    "credentials",
                )?,
                Field::Other => drop(map.next_value::<IgnoredAny>()?),
            }
        }
        Ok(ReadPassportData {
            data: data.ok_or_else(|| A::Error::missing_field("data"))?,
            credentials: credentials.ok_or_else(|| A::Error::missing_field("credentials"))?,
        })
    }
}

/// An [`EncryptedPassportElement`] as read: its file lists counted, named
/// by the element's type (which may come after them) once read.
struct ReadElement {
    element: EncryptedPassportElement,
    files: Option<Counted<PassportFile>>,
    translation: Option<Counted<PassportFile>>,
}

impl ReadElement {
    fn checked(self) -> Result<EncryptedPassportElement> {
        let name = self.element.element_type;
        let within = |list: Option<Counted<PassportFile>>, part: &str| {
            list.map(|counted| counted.within(|| format!("{name}.{part}")))
                .transpose()
        };
        Ok(EncryptedPassportElement {
            files: within(self.files, "files")?,
            translation: within(self.translation, "translation")?,
            ..self.element
        })
    }
}

/// Reads one element, its file lists at most `files` long.
#[derive(Clone, Copy)]
struct ElementSeed {
    files: usize,
}

impl<'de> ReadObject<'de> for ElementSeed {
    type Value = ReadElement;

    fn read<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        #[derive(Deserialize)]
        #[serde(field_identifier, rename_all = "snake_case")]
        enum Field {
            Type,
            Data,
            PhoneNumber,
            Email,
            Files,
            FrontSide,
            ReverseSide,
            Selfie,
            Translation,
            Hash,
            #[serde(other)]
            Other,
        }
        let (mut element_type, mut hash): (_, Option<String>) = (None, None);
        let (mut data, mut phone_number, mut email) = (None, None, None);
        let (mut front_side, mut reverse_side, mut selfie) = (None, None, None);
        let (mut files, mut translation) = (None, None);
        let list = OptionSeed(json::list::<PassportFile>(self.files));
        while let Some(field) = map.next_key()? {
            match field {
                Field::Type => json::set(&mut element_type, map.next_value()?, "type")?,
                Field::Hash => json::set(&mut hash, map.next_value()?, "hash")?,
                Field::Data => json::set(&mut data, map.next_value()?, "data")?,
                Field::PhoneNumber => json::set(&mut phone_number, map.next_value()?, "phone_number")?,
                Field::Email => json::set(&mut email, map.next_value()?, "email")?,
                Field::Files => json::set(&mut files, map.next_value_seed(list)?, "files")?,
                Field::Translation => json::set(&mut translation, map.next_value_seed(list)?, "translation")?,
                Field::FrontSide => json::set(&mut front_side, json::next_optional_object(&mut map)?, "front_side")?,
                Field::ReverseSide => {
                    json::set(&mut reverse_side, json::next_optional_object(&mut map)?, "reverse_side")?
                }
                Field::Selfie => json::set(&mut selfie, json::next_optional_object(&mut map)?, "selfie")?,
                Field::Other => drop(map.next_value::<IgnoredAny>()?),
            }
        }
        let mut element = EncryptedPassportElement::new(
            element_type.ok_or_else(|| A::Error::missing_field("type"))?,
            hash.ok_or_else(|| A::Error::missing_field("hash"))?,
        );
        element.data = data.flatten();
        element.phone_number = phone_number.flatten();
        element.email = email.flatten();
        element.front_side = front_side.flatten();
        element.reverse_side = reverse_side.flatten();
        element.selfie = selfie.flatten();
        Ok(ReadElement {
            element,
            files: files.flatten(),
            translation: translation.flatten(),
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
        let envelope = json::from_slice_with(json, "PassportData", EnvelopeSeed(Within(*limits)))?;
        envelope.into_passport_data()?.ok_or(Error::NoPassportData)
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
struct Envelope {
    data: Option<Counted<ReadElement>>,
    credentials: Option<EncryptedCredentials>,
    passport_data: Option<ReadPassportData>,
    message: Option<ReadPassportData>,
}

impl Envelope {
    /// The passport it carries, checked; `None` when it carries none.
    fn into_passport_data(self) -> Result<Option<PassportData>> {
        let read = match self {
            Self {
                data: Some(data),
                credentials: Some(credentials),
                ..
            } => ReadPassportData { data, credentials },
            Self {
                passport_data: Some(read),
                ..
            }
            | Self {
                message: Some(read), ..
            } => read,
            _ => return Ok(None),
        };
        read.checked().map(Some)
    }
}

/// Reads an [`Envelope`].
#[derive(Clone, Copy)]
struct EnvelopeSeed(Within);

impl<'de> ReadObject<'de> for EnvelopeSeed {
    type Value = Envelope;

    fn read<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        #[derive(Deserialize)]
        #[serde(field_identifier, rename_all = "snake_case")]
        enum Field {
            Data,
            Credentials,
            PassportData,
            Message,
            #[serde(other)]
            Other,
        }
        let (mut data, mut credentials, mut passport_data, mut message) = (None, None, None, None);
        while let Some(field) = map.next_key()? {
            match field {
                Field::Data => json::set(&mut data, map.next_value_seed(OptionSeed(self.0.elements()))?, "data")?,
                Field::Credentials => {
                    json::set(&mut credentials, json::next_optional_object(&mut map)?, "credentials")?
                }
                Field::PassportData => json::set(
                    &mut passport_data,
                    map.next_value_seed(OptionSeed(ObjectSeed(self.0)))?,
                    "passport_data",
                )?,
                Field::Message => json::set(
                    &mut message,
                    map.next_value_seed(OptionSeed(ObjectSeed(MessageSeed(self.0))))?,
                    "message",
                )?,
                Field::Other => drop(map.next_value::<IgnoredAny>()?),
            }
        }
        Ok(Envelope {
            data: data.flatten(),
            credentials: credentials.flatten(),
            passport_data: passport_data.flatten(),
            message: message.flatten().flatten(),
        })
    }
}

/// Reads a `Message`'s `passport_data`; every other field is skipped.
#[derive(Clone, Copy)]
struct MessageSeed(Within);

impl<'de> ReadObject<'de> for MessageSeed {
    type Value = Option<ReadPassportData>;

    fn read<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut passport_data = None;
        while let Some(field) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match field.as_ref() {
                "passport_data" => json::set(
                    &mut passport_data,
                    map.next_value_seed(OptionSeed(ObjectSeed(self.0)))?,
                    "passport_data",
                )?,
                _ => drop(map.next_value::<IgnoredAny>()?),
            }
        }
        Ok(passport_data.flatten())
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
