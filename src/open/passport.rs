//! A decrypted passport: every element's data decrypted, verified and
//! decoded, every file paired with its credentials, built by [`assemble`]
//! on the receive path's second step ([`crate::open::receive`]).
//!
//! Invariant: a [`DecryptedPassport`] is built only here, after the
//! credentials and every element's data verified; its elements cannot be
//! constructed elsewhere.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::audit;
use crate::decode::values::{ElementValue, IdDocumentData, PersonalDetails, ResidentialAddress};
use crate::element_type::{ElementType, FileSlot};
use crate::error::{Error, Result};
use crate::input::received::{Bytes, ReceivedElement};
use crate::input::received::{ElementHash, FileLocation};
use crate::nonce::AsyncNonceStore;
use crate::open::credentials::{Credentials, ElementCredentials, FileCredentials, NonceCheck};
use crate::open::file::FileRef;
use crate::secret::Sha256Hash;

/// Checks the nonce, decrypts and decodes each sealed element against the
/// credentials, and only then consumes the nonce from a store (so a failed
/// decryption does not burn the user's request).
///
/// Runs only once the credentials are decrypted and verified: what the
/// input states twice (a `data_hash`, a file's `file_hash`) is checked
/// here, against them, never before.
pub(crate) fn assemble<'a>(
    mut credentials: Credentials,
    sealed: impl Iterator<Item = ReceivedElement<'a>>,
    nonce: NonceCheck<'_>,
) -> Result<DecryptedPassport> {
    if let Err(error) = credentials.check_nonce(nonce) {
        audit::nonce(Err(&error));
        return Err(error);
    }
    if let NonceCheck::Expect(_) = nonce {
        audit::nonce(Ok("checked"));
    }
    let mut elements: Vec<Element> = Vec::new();
    for element in sealed {
        if elements.iter().any(|e| e.element_type() == element.element_type) {
            return Err(Error::DuplicateElement(element.element_type));
        }
        // Each element's credentials move into it: no secret is copied.
        let secure_value = credentials.take_secure_value(element.element_type);
        elements.push(open_element(secure_value, element)?);
    }
    audit::decrypted(elements.iter().map(Element::element_type));
    let context = match nonce {
        NonceCheck::Consume(store) => {
            let consumed = store.consume(credentials.nonce());
            audit::nonce(consumed.as_ref().map(|_| "consumed"));
            Some(consumed?)
        }
        NonceCheck::Expect(_) => None,
        NonceCheck::Skip => {
            audit::nonce(Ok("skipped"));
            None
        }
    };
    Ok(DecryptedPassport {
        nonce: credentials.nonce().to_owned(),
        context,
        elements,
    })
}

fn open_element(secure_value: Option<ElementCredentials>, sealed: ReceivedElement<'_>) -> Result<Element> {
    let element_type = sealed.element_type;
    if let Some(part) = contact_field(element_type) {
        let value = match element_type {
            ElementType::PhoneNumber => sealed.phone_number,
            _ => sealed.email,
        };
        let value = value.ok_or(Error::MissingPart {
            element: element_type,
            part,
        })?;
        return Ok(Element::Contact(Contact {
            element_type,
            value: value.to_owned(),
            hash: sealed.hash,
        }));
    }
    let data = match element_type.has_data() {
        true => Some(open_data(
            element_type,
            sealed.data,
            sealed.data_hash,
            secure_value.as_ref(),
        )?),
        false => None,
    };
    let mut pairing = FilePairing {
        element_type,
        secure_value: secure_value.unwrap_or_default(),
    };
    Ok(Element::Document(Box::new(Document {
        element_type,
        data,
        front_side: pairing.single(FileSlot::FrontSide, sealed.front_side)?,
        reverse_side: pairing.single(FileSlot::ReverseSide, sealed.reverse_side)?,
        selfie: pairing.single(FileSlot::Selfie, sealed.selfie)?,
        translation: pairing.list(FileSlot::Translation, sealed.translation)?,
        files: pairing.list(FileSlot::Files, sealed.files)?,
        hash: sealed.hash,
    })))
}

/// The plain-text field of `phone_number` and `email` elements.
fn contact_field(element_type: ElementType) -> Option<&'static str> {
    match element_type {
        ElementType::PhoneNumber => Some("phone_number"),
        ElementType::Email => Some("email"),
        _ => None,
    }
}

/// Decrypts, verifies and decodes an element's `data`.
fn open_data(
    element_type: ElementType,
    encrypted: Option<Bytes<'_>>,
    stated_hash: Option<&[u8]>,
    secure_value: Option<&ElementCredentials>,
) -> Result<(ElementValue, Sha256Hash)> {
    let encrypted = encrypted
        .ok_or(Error::MissingPart {
            element: element_type,
            part: "data",
        })?
        .decode(&format!("{element_type}.data"))?;
    let credentials = secure_value
        .and_then(|value| value.data.as_ref())
        .ok_or_else(|| missing(element_type, "data".to_owned()))?;
    if let Some(stated) = stated_hash {
        consistent(stated, credentials.data_hash(), || format!("{element_type}.data_hash"))?;
    }
    let plaintext = credentials.decrypt(encrypted)?;
    Ok((
        ElementValue::decode(element_type, &plaintext)?,
        *credentials.data_hash(),
    ))
}

/// Pairs an element's files with their credentials, by position, moving
/// each file's credentials into its [`FileRef`]. Parts the element type
/// cannot carry are ignored.
struct FilePairing {
    element_type: ElementType,
    secure_value: ElementCredentials,
}

impl FilePairing {
    fn single(&mut self, slot: FileSlot, file: Option<FileLocation>) -> Result<Option<FileRef>> {
        let Some(file) = file.filter(|_| self.element_type.allows(slot)) else {
            return Ok(None);
        };
        let credentials = self.secure_value.take_file(slot);
        let credentials = credentials.ok_or_else(|| missing(self.element_type, slot.to_string()))?;
        paired(file, credentials, || format!("{}.{slot}", self.element_type)).map(Some)
    }

    fn list(&mut self, slot: FileSlot, files: Vec<FileLocation>) -> Result<Vec<FileRef>> {
        if !self.element_type.allows(slot) {
            return Ok(Vec::new());
        }
        let mut credentials = self.secure_value.take_files(slot).into_iter();
        files
            .into_iter()
            .enumerate()
            .map(|(index, file)| {
                let credentials = credentials.next();
                let credentials = credentials.ok_or_else(|| missing(self.element_type, format!("{slot}[{index}]")))?;
                paired(file, credentials, || format!("{}.{slot}[{index}]", self.element_type))
            })
            .collect()
    }
}

/// A file with its credentials, once the `file_hash` an MTProto file
/// states (a Bot API file states none) is the credentials' one; `part`
/// names the file in the error (`passport.front_side`, `utility_bill.files[2]`).
fn paired(file: FileLocation, credentials: FileCredentials, part: impl FnOnce() -> String) -> Result<FileRef> {
    if let FileLocation::Mtproto(stated) = &file {
        consistent(&stated.file_hash, credentials.file_hash(), || {
            format!("{}.file_hash", part())
        })?;
    }
    Ok(FileRef::new(file, credentials))
}

/// Refuses a hash the input states that is not the one the verified
/// credentials hold, in constant time ([`Error::Inconsistent`] says why that
/// error need not be opaque). A stated hash of another length differs.
fn consistent(stated: &[u8], credentials: &Sha256Hash, field: impl FnOnce() -> String) -> Result<()> {
    match crate::open::primitive::hash_matches(stated, credentials) {
        true => Ok(()),
        false => Err(Error::Inconsistent { field: field() }),
    }
}

fn missing(element: ElementType, part: String) -> Error {
    Error::MissingCredentials { element, part }
}

/// A decrypted, verified and decoded passport.
///
/// Serialises to `{"nonce": ..., "elements": [...]}` for logging or storage:
/// decoded values, file identifiers and hashes; never secrets.
#[derive(Debug, Clone, Serialize)]
pub struct DecryptedPassport {
    nonce: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<String>,
    elements: Vec<Element>,
}

impl DecryptedPassport {
    /// The nonce the credentials carried.
    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// The context the nonce was issued with, when it was consumed from a
    /// [`NonceStore`](crate::NonceStore) ([`NonceCheck::Consume`]).
    pub fn context(&self) -> Option<&str> {
        self.context.as_deref()
    }

    /// Consumes the nonce from an async store, for passports decrypted
    /// without a nonce check; the async twin of [`NonceCheck::Consume`].
    pub(crate) async fn consume_nonce(mut self, store: &impl AsyncNonceStore) -> Result<Self> {
        let consumed = store.consume(&self.nonce).await;
        audit::nonce(consumed.as_ref().map(|_| "consumed"));
        self.context = Some(consumed?);
        Ok(self)
    }

    /// Every element, in the order the app sent them.
    pub fn elements(&self) -> &[Element] {
        &self.elements
    }

    /// The element of a type, if sent.
    pub fn element(&self, element_type: ElementType) -> Option<&Element> {
        self.elements.iter().find(|e| e.element_type() == element_type)
    }

    /// The personal details, if sent.
    pub fn personal_details(&self) -> Option<&PersonalDetails> {
        self.documents().find_map(|d| match &d.data {
            Some((ElementValue::PersonalDetails(details), _)) => Some(details),
            _ => None,
        })
    }

    /// The residential address, if sent.
    pub fn address(&self) -> Option<&ResidentialAddress> {
        self.documents().find_map(|d| match &d.data {
            Some((ElementValue::Address(address), _)) => Some(address),
            _ => None,
        })
    }

    /// Each identity document sent (passport, driver's licence, identity
    /// card, internal passport), with its data and files.
    pub fn identity_documents(&self) -> impl Iterator<Item = &Document> {
        self.documents().filter(|d| d.element_type.is_identity_document())
    }

    /// Each address document sent, with its files.
    pub fn address_documents(&self) -> impl Iterator<Item = &Document> {
        self.documents().filter(|d| d.element_type.is_address_document())
    }

    /// The verified phone number, if sent.
    pub fn phone_number(&self) -> Option<&str> {
        self.contact(ElementType::PhoneNumber)
    }

    /// The verified e-mail address, if sent.
    pub fn email(&self) -> Option<&str> {
        self.contact(ElementType::Email)
    }

    pub(crate) fn documents(&self) -> impl Iterator<Item = &Document> {
        self.elements.iter().filter_map(|e| match e {
            Element::Document(d) => Some(&**d),
            Element::Contact(_) => None,
        })
    }

    fn contact(&self, element_type: ElementType) -> Option<&str> {
        self.elements.iter().find_map(|e| match e {
            Element::Contact(c) if c.element_type == element_type => Some(c.value.as_str()),
            _ => None,
        })
    }
}

/// One decrypted element.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Element {
    /// Personal details, an identity document, an address or an address document.
    Document(Box<Document>),
    /// A phone number or e-mail address.
    Contact(Contact),
}

impl Element {
    /// The element type.
    pub fn element_type(&self) -> ElementType {
        match self {
            Self::Document(d) => d.element_type,
            Self::Contact(c) => c.element_type,
        }
    }

    /// The element `hash`, for `unspecified` error reports.
    pub fn hash(&self) -> &ElementHash {
        match self {
            Self::Document(d) => &d.hash,
            Self::Contact(c) => &c.hash,
        }
    }
}

/// An element with data and/or files: personal details, an identity
/// document, an address, or an address document.
#[derive(Debug, Clone)]
pub struct Document {
    element_type: ElementType,
    data: Option<(ElementValue, Sha256Hash)>,
    front_side: Option<FileRef>,
    reverse_side: Option<FileRef>,
    selfie: Option<FileRef>,
    translation: Vec<FileRef>,
    files: Vec<FileRef>,
    hash: ElementHash,
}

impl Document {
    /// The element type.
    pub fn element_type(&self) -> ElementType {
        self.element_type
    }

    /// The decoded data (personal details, identity documents, address).
    pub fn value(&self) -> Option<&ElementValue> {
        self.data.as_ref().map(|(value, _)| value)
    }

    /// The identity document's data, for identity documents.
    pub fn id_document_data(&self) -> Option<&IdDocumentData> {
        match self.value() {
            Some(ElementValue::IdDocument(data)) => Some(data),
            _ => None,
        }
    }

    /// The `data_hash` from the credentials: what a `data` error report names.
    pub fn data_hash(&self) -> Option<&Sha256Hash> {
        self.data.as_ref().map(|(_, hash)| hash)
    }

    /// The front side scan.
    pub fn front_side(&self) -> Option<&FileRef> {
        self.front_side.as_ref()
    }

    /// The reverse side scan.
    pub fn reverse_side(&self) -> Option<&FileRef> {
        self.reverse_side.as_ref()
    }

    /// The selfie with the document.
    pub fn selfie(&self) -> Option<&FileRef> {
        self.selfie.as_ref()
    }

    /// The translation scans.
    pub fn translation(&self) -> &[FileRef] {
        &self.translation
    }

    /// The document scans (address documents).
    pub fn files(&self) -> &[FileRef] {
        &self.files
    }

    /// Every file of the element: front, reverse, selfie, files, translation.
    pub fn all_files(&self) -> impl Iterator<Item = &FileRef> {
        let singles = [&self.front_side, &self.reverse_side, &self.selfie];
        singles
            .into_iter()
            .flatten()
            .chain(&self.files)
            .chain(&self.translation)
    }

    /// The element `hash`, for `unspecified` error reports.
    pub fn hash(&self) -> &ElementHash {
        &self.hash
    }
}

/// A phone number or e-mail address, verified by Telegram.
#[derive(Debug, Clone)]
pub struct Contact {
    element_type: ElementType,
    value: String,
    hash: ElementHash,
}

impl Contact {
    /// `phone_number` or `email`.
    pub fn element_type(&self) -> ElementType {
        self.element_type
    }

    /// The phone number or e-mail address.
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl Serialize for Element {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("type", &self.element_type())?;
        match self {
            Self::Contact(contact) => map.serialize_entry(contact.element_type.as_str(), &contact.value)?,
            Self::Document(document) => {
                if let Some((value, data_hash)) = &document.data {
                    map.serialize_entry("data", value)?;
                    map.serialize_entry("data_hash", data_hash)?;
                }
                for (name, file) in [
                    ("front_side", &document.front_side),
                    ("reverse_side", &document.reverse_side),
                    ("selfie", &document.selfie),
                ] {
                    if let Some(file) = file {
                        map.serialize_entry(name, file)?;
                    }
                }
                for (name, files) in [("files", &document.files), ("translation", &document.translation)] {
                    if !files.is_empty() {
                        map.serialize_entry(name, files)?;
                    }
                }
            }
        }
        map.serialize_entry("hash", self.hash())?;
        map.end()
    }
}
