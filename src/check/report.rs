//! Error reports sent back to the user (PROTOCOL §6): the Bot API's
//! `PassportElementError` for `setPassportDataErrors`, and the MTProto
//! `SecureValueError` for `users.setSecureValueErrors`.
//!
//! Invariant: a [`PassportElementError`] names only an element type its
//! source allows (a reverse side only for driver's licences and identity
//! cards, …); the constructors refuse anything else.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::element_type::{ElementType, FileSlot};
use crate::error::{Error, Result};
use crate::input::base64;
use crate::input::received::ElementHash;
use crate::open::passport::{Document, Element};
use crate::secret::Sha256Hash;

/// What an error report points at, with the hash the app matches it by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorSource {
    /// A field of the element's data (`data_hash` from the credentials).
    Data {
        /// The field, e.g. `"expiry_date"`.
        field_name: String,
        /// The element's `data_hash`.
        data_hash: Sha256Hash,
    },
    /// The front side scan.
    FrontSide {
        /// Its `file_hash`.
        file_hash: Sha256Hash,
    },
    /// The reverse side scan.
    ReverseSide {
        /// Its `file_hash`.
        file_hash: Sha256Hash,
    },
    /// The selfie.
    Selfie {
        /// Its `file_hash`.
        file_hash: Sha256Hash,
    },
    /// One scan of an address document.
    File {
        /// Its `file_hash`.
        file_hash: Sha256Hash,
    },
    /// The list of scans of an address document.
    Files {
        /// Every scan's `file_hash`.
        file_hashes: Vec<Sha256Hash>,
    },
    /// One file of the translation.
    TranslationFile {
        /// Its `file_hash`.
        file_hash: Sha256Hash,
    },
    /// The translation as a whole.
    TranslationFiles {
        /// Every translation file's `file_hash`.
        file_hashes: Vec<Sha256Hash>,
    },
    /// The element as a whole.
    Unspecified {
        /// The element `hash`, as received.
        element_hash: ElementHash,
    },
}

impl ErrorSource {
    /// The Bot API `source` tag, e.g. `"translation_files"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Data { .. } => "data",
            Self::FrontSide { .. } => "front_side",
            Self::ReverseSide { .. } => "reverse_side",
            Self::Selfie { .. } => "selfie",
            Self::File { .. } => "file",
            Self::Files { .. } => "files",
            Self::TranslationFile { .. } => "translation_file",
            Self::TranslationFiles { .. } => "translation_files",
            Self::Unspecified { .. } => "unspecified",
        }
    }

    /// Whether an element of this type can carry an error from this source.
    fn allows(&self, element_type: ElementType) -> bool {
        match self {
            Self::Data { .. } => element_type.has_data(),
            Self::FrontSide { .. } => element_type.allows(FileSlot::FrontSide),
            Self::ReverseSide { .. } => element_type.allows(FileSlot::ReverseSide),
            Self::Selfie { .. } => element_type.allows(FileSlot::Selfie),
            Self::File { .. } | Self::Files { .. } => element_type.allows(FileSlot::Files),
            Self::TranslationFile { .. } | Self::TranslationFiles { .. } => element_type.allows(FileSlot::Translation),
            Self::Unspecified { .. } => true,
        }
    }
}

/// One error for `setPassportDataErrors`: the user's app highlights the part
/// it points at and shows the message, and the user cannot resend until
/// every error is fixed.
///
/// ```
/// use telegram_passport::{ElementType, ErrorSource, PassportElementError, Sha256Hash};
///
/// let hash = Sha256Hash::new([7; 32]);
/// let error = PassportElementError::new(
///     ElementType::DriverLicense,
///     ErrorSource::ReverseSide { file_hash: hash },
///     "The reverse side is blurry",
/// )?;
/// assert_eq!(
///     serde_json::to_string(&error).unwrap(),
///     format!(r#"{{"source":"reverse_side","type":"driver_license","file_hash":"{}","message":"The reverse side is blurry"}}"#, hash.to_base64()),
/// );
/// // A passport has no reverse side: such an error cannot be built.
/// assert!(PassportElementError::new(ElementType::Passport, ErrorSource::ReverseSide { file_hash: hash }, "x").is_err());
/// # Ok::<(), telegram_passport::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PassportElementError {
    element_type: ElementType,
    source: ErrorSource,
    message: String,
}

impl PassportElementError {
    /// An error on `element_type` from `source`, if that type can carry it.
    pub fn new(element_type: ElementType, source: ErrorSource, message: impl Into<String>) -> Result<Self> {
        if !source.allows(element_type) {
            return Err(Error::NotAllowed {
                element: element_type,
                part: source.as_str(),
            });
        }
        if let ErrorSource::Files { file_hashes } | ErrorSource::TranslationFiles { file_hashes } = &source {
            if file_hashes.is_empty() {
                return Err(Error::EmptyFileList {
                    source_name: source.as_str(),
                });
            }
        }
        Ok(Self {
            element_type,
            source,
            message: message.into(),
        })
    }

    /// The element type.
    pub fn element_type(&self) -> ElementType {
        self.element_type
    }

    /// What the error points at.
    pub fn source(&self) -> &ErrorSource {
        &self.source
    }

    /// The message shown to the user.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same error with another message (for example, translated).
    pub fn with_message(self, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            ..self
        }
    }

    /// The MTProto form, for `users.setSecureValueErrors`. Fails only for an
    /// `unspecified` error whose Bot API element hash is not base64.
    pub fn to_mtproto(&self) -> Result<SecureValueError> {
        let bytes = |hash: &Sha256Hash| hash.as_bytes().to_vec();
        let all = |hashes: &[Sha256Hash]| hashes.iter().map(bytes).collect();
        let (constructor_id, hashes, field) = match &self.source {
            ErrorSource::Data { field_name, data_hash } => (
                SecureValueError::DATA,
                TlHashes::One(bytes(data_hash)),
                Some(field_name.clone()),
            ),
            ErrorSource::FrontSide { file_hash } => {
                (SecureValueError::FRONT_SIDE, TlHashes::One(bytes(file_hash)), None)
            }
            ErrorSource::ReverseSide { file_hash } => {
                (SecureValueError::REVERSE_SIDE, TlHashes::One(bytes(file_hash)), None)
            }
            ErrorSource::Selfie { file_hash } => (SecureValueError::SELFIE, TlHashes::One(bytes(file_hash)), None),
            ErrorSource::File { file_hash } => (SecureValueError::FILE, TlHashes::One(bytes(file_hash)), None),
            ErrorSource::Files { file_hashes } => (SecureValueError::FILES, TlHashes::Many(all(file_hashes)), None),
            ErrorSource::TranslationFile { file_hash } => (
                SecureValueError::TRANSLATION_FILE,
                TlHashes::One(bytes(file_hash)),
                None,
            ),
            ErrorSource::TranslationFiles { file_hashes } => (
                SecureValueError::TRANSLATION_FILES,
                TlHashes::Many(all(file_hashes)),
                None,
            ),
            ErrorSource::Unspecified { element_hash } => {
                let hash = match element_hash {
                    ElementHash::Bytes(hash) => hash.clone(),
                    ElementHash::Text(text) => base64::decode(text, "element hash")?,
                };
                (SecureValueError::UNSPECIFIED, TlHashes::One(hash), None)
            }
        };
        Ok(SecureValueError {
            constructor_id,
            value_type: self.element_type,
            hashes,
            field,
            text: self.message.clone(),
        })
    }
}

/// The Bot API JSON: `{"source": ..., "type": ..., <hash fields>, "message": ...}`.
impl Serialize for PassportElementError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("source", self.source.as_str())?;
        map.serialize_entry("type", &self.element_type)?;
        match &self.source {
            ErrorSource::Data { field_name, data_hash } => {
                map.serialize_entry("field_name", field_name)?;
                map.serialize_entry("data_hash", data_hash)?;
            }
            ErrorSource::FrontSide { file_hash }
            | ErrorSource::ReverseSide { file_hash }
            | ErrorSource::Selfie { file_hash }
            | ErrorSource::File { file_hash }
            | ErrorSource::TranslationFile { file_hash } => map.serialize_entry("file_hash", file_hash)?,
            ErrorSource::Files { file_hashes } | ErrorSource::TranslationFiles { file_hashes } => {
                map.serialize_entry("file_hashes", file_hashes)?
            }
            ErrorSource::Unspecified { element_hash } => map.serialize_entry("element_hash", element_hash)?,
        }
        map.serialize_entry("message", &self.message)?;
        map.end()
    }
}

/// The body of a Bot API `setPassportDataErrors` call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetPassportDataErrors {
    /// The user who sent the passport (`message.from.id`).
    pub user_id: i64,
    /// The errors; the user cannot resend until all are fixed.
    pub errors: Vec<PassportElementError>,
}

/// The hash argument of a `SecureValueError`: `bytes` or `Vector<bytes>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TlHashes {
    /// One hash.
    One(Vec<u8>),
    /// A list of hashes (`…Files`, `…TranslationFiles`).
    Many(Vec<Vec<u8>>),
}

/// An error in the MTProto form: a `SecureValueError` constructor for
/// `users.setSecureValueErrors`, with raw-byte hashes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecureValueError {
    /// The TL constructor id, e.g. `0xe8a40bd9` for `secureValueErrorData`.
    pub constructor_id: u32,
    /// The value's type (serialised as its `SecureValueType` constructor).
    pub value_type: ElementType,
    /// `data_hash`, `file_hash` or `hash`.
    pub hashes: TlHashes,
    /// The `field` of `secureValueErrorData`.
    pub field: Option<String>,
    /// The message.
    pub text: String,
}

impl SecureValueError {
    /// `secureValueErrorData#e8a40bd9`.
    pub const DATA: u32 = 0xe8a40bd9;
    /// `secureValueErrorFrontSide#00be3dfa`.
    pub const FRONT_SIDE: u32 = 0x00be3dfa;
    /// `secureValueErrorReverseSide#868a2aa5`.
    pub const REVERSE_SIDE: u32 = 0x868a2aa5;
    /// `secureValueErrorSelfie#e537ced6`.
    pub const SELFIE: u32 = 0xe537ced6;
    /// `secureValueErrorFile#7a700873`.
    pub const FILE: u32 = 0x7a700873;
    /// `secureValueErrorFiles#666220e9`.
    pub const FILES: u32 = 0x666220e9;
    /// `secureValueError#869d758f`.
    pub const UNSPECIFIED: u32 = 0x869d758f;
    /// `secureValueErrorTranslationFile#a1144770`.
    pub const TRANSLATION_FILE: u32 = 0xa1144770;
    /// `secureValueErrorTranslationFiles#34636dd8`.
    pub const TRANSLATION_FILES: u32 = 0x34636dd8;

    /// The TL binary serialisation (boxed), ready to go into the
    /// `Vector<SecureValueError>` of `users.setSecureValueErrors`.
    pub fn to_tl_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.constructor_id.to_le_bytes());
        out.extend_from_slice(&self.value_type.mtproto_constructor().to_le_bytes());
        match &self.hashes {
            TlHashes::One(hash) => crate::input::tl::put_bytes(&mut out, hash),
            TlHashes::Many(hashes) => {
                out.extend_from_slice(&0x1cb5c415u32.to_le_bytes());
                out.extend_from_slice(&(hashes.len() as u32).to_le_bytes());
                for hash in hashes {
                    crate::input::tl::put_bytes(&mut out, hash);
                }
            }
        }
        if let Some(field) = &self.field {
            crate::input::tl::put_bytes(&mut out, field.as_bytes());
        }
        crate::input::tl::put_bytes(&mut out, self.text.as_bytes());
        out
    }
}

impl Document {
    /// An error on a field of this element's data ("this date is wrong"),
    /// with the element's `data_hash`.
    pub fn data_error(&self, field_name: &str, message: impl Into<String>) -> Result<PassportElementError> {
        let data_hash = *self.data_hash().ok_or(Error::MissingPart {
            element: self.element_type(),
            part: "data",
        })?;
        let source = ErrorSource::Data {
            field_name: field_name.to_owned(),
            data_hash,
        };
        PassportElementError::new(self.element_type(), source, message)
    }

    /// An error on a file part ("the front side is blurry"): the front side,
    /// reverse side or selfie; for `Files` or `Translation`, the whole list.
    pub fn file_error(&self, slot: FileSlot, message: impl Into<String>) -> Result<PassportElementError> {
        let missing = || Error::MissingPart {
            element: self.element_type(),
            part: slot.as_str(),
        };
        let hash = |file: Option<&crate::open::file::FileRef>| file.map(|f| *f.file_hash()).ok_or_else(missing);
        let hashes = |files: &[crate::open::file::FileRef]| -> Result<Vec<Sha256Hash>> {
            let hashes: Vec<Sha256Hash> = files.iter().map(|f| *f.file_hash()).collect();
            if hashes.is_empty() {
                Err(missing())
            } else {
                Ok(hashes)
            }
        };
        let source = match slot {
            FileSlot::FrontSide => ErrorSource::FrontSide {
                file_hash: hash(self.front_side())?,
            },
            FileSlot::ReverseSide => ErrorSource::ReverseSide {
                file_hash: hash(self.reverse_side())?,
            },
            FileSlot::Selfie => ErrorSource::Selfie {
                file_hash: hash(self.selfie())?,
            },
            FileSlot::Files => ErrorSource::Files {
                file_hashes: hashes(self.files())?,
            },
            FileSlot::Translation => ErrorSource::TranslationFiles {
                file_hashes: hashes(self.translation())?,
            },
        };
        PassportElementError::new(self.element_type(), source, message)
    }

    /// An error on one file of a list part: `files[index]` or `translation[index]`.
    pub fn file_error_at(
        &self,
        slot: FileSlot,
        index: usize,
        message: impl Into<String>,
    ) -> Result<PassportElementError> {
        let file = match slot {
            FileSlot::Files => self.files().get(index),
            FileSlot::Translation => self.translation().get(index),
            _ => return self.file_error(slot, message),
        };
        let file_hash = *file
            .ok_or(Error::MissingPart {
                element: self.element_type(),
                part: slot.as_str(),
            })?
            .file_hash();
        let source = match slot {
            FileSlot::Files => ErrorSource::File { file_hash },
            _ => ErrorSource::TranslationFile { file_hash },
        };
        PassportElementError::new(self.element_type(), source, message)
    }

    /// An error on the element as a whole ("a selfie is required").
    pub fn unspecified_error(&self, message: impl Into<String>) -> PassportElementError {
        unspecified(self.element_type(), self.hash(), message)
    }
}

impl Element {
    /// An error on the element as a whole.
    pub fn unspecified_error(&self, message: impl Into<String>) -> PassportElementError {
        unspecified(self.element_type(), self.hash(), message)
    }
}

fn unspecified(element_type: ElementType, hash: &ElementHash, message: impl Into<String>) -> PassportElementError {
    PassportElementError {
        element_type,
        source: ErrorSource::Unspecified {
            element_hash: hash.clone(),
        },
        message: message.into(),
    }
}
