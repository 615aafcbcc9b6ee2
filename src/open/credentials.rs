//! The decrypted `Credentials` (PROTOCOL §4): the nonce, and for each
//! element the hash and secret of its data and of each of its files.
//!
//! Invariant: a [`Credentials`] value exists only after RSA-OAEP, the hash
//! check and the padding check all succeeded. A failed RSA step continues
//! with a random secret, so every failure takes the same path to the same
//! opaque error.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::de::{Error as _, IgnoredAny, MapAccess};
use serde::{Deserialize, Deserializer};
use subtle::ConstantTimeEq;

use crate::element_type::{ElementType, FileSlot};
use crate::error::{DecryptionError, Error, Result, Step, Target};
use crate::input::json::{self, ObjectSeed, OptionSeed, ReadObject};
use crate::input::limits::{self, Limits};
use crate::key::private::Unwrapped;
use crate::key::CredentialsKey;
use crate::nonce::NonceStore;
use crate::open::primitive::{self, Threads};
use crate::secret::{Plaintext, Secret, Sha256Hash};

/// Whether, and how, to check the nonce inside the credentials.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub enum NonceCheck<'a> {
    /// Require this nonce, the one the request carried (constant-time comparison).
    Expect(&'a str),
    /// Consume the nonce from a [`NonceStore`] once everything decrypted:
    /// a nonce never issued, expired or already used is refused, so
    /// replayed data is refused even when it is byte-for-byte valid. The
    /// nonce's context comes back in [`DecryptedPassport::context`](crate::DecryptedPassport::context).
    Consume(&'a dyn NonceStore),
    /// Do not check. The caller must check [`DecryptedPassport::nonce`](crate::DecryptedPassport::nonce)
    /// itself, or accept replayed data.
    Skip,
}

impl std::fmt::Debug for NonceCheck<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Expect(nonce) => f.debug_tuple("Expect").field(nonce).finish(),
            Self::Consume(_) => f.write_str("Consume(..)"),
            Self::Skip => f.write_str("Skip"),
        }
    }
}

/// Decrypted credentials: the request's nonce and the per-element secrets.
#[derive(Debug, Clone)]
pub struct Credentials {
    secure_data: BTreeMap<ElementType, ElementCredentials>,
    nonce: String,
}

/// The credentials of one element: its data's secret and hash, and each
/// file's (the credentials JSON's `SecureValue`).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ElementCredentials {
    /// For the element's `data`.
    pub data: Option<DataCredentials>,
    /// For the front side scan.
    pub front_side: Option<FileCredentials>,
    /// For the reverse side scan.
    pub reverse_side: Option<FileCredentials>,
    /// For the selfie.
    pub selfie: Option<FileCredentials>,
    /// For the translation scans, by position.
    pub translation: Vec<FileCredentials>,
    /// For the document scans, by position.
    pub files: Vec<FileCredentials>,
}

/// Hash and secret of an element's `data`.
#[derive(Debug, Clone)]
pub struct DataCredentials {
    data_hash: Sha256Hash,
    secret: Secret,
}

/// Hash and secret of one file, and the largest file they decrypt
/// ([`Limits::file`]: the default, or what [`FileCredentials::with_limits`]
/// or [`decrypt_with_limits`](crate::decrypt_with_limits) set).
#[derive(Debug, Clone)]
pub struct FileCredentials {
    file_hash: Sha256Hash,
    secret: Secret,
    max_size: u64,
}

/// Decrypts `buf` in place; the one allocation is the caller's buffer.
pub(crate) fn open(
    mut buf: Vec<u8>,
    secret: &Secret,
    hash: &Sha256Hash,
    target: Target,
    threads: Threads,
) -> Result<Plaintext, DecryptionError> {
    match primitive::decrypt_in_place(&mut buf, secret, hash, threads) {
        Ok(start) => Ok(Plaintext::verified(buf, start)),
        Err(step) => Err(DecryptionError::new(target, step)),
    }
}

impl Credentials {
    /// RSA-decrypts the secret, then decrypts, verifies and parses the JSON;
    /// the file credentials inside carry `limits.file`.
    ///
    /// Each key `key` offers (a ring's current key first) takes the same
    /// work whether its unwrap succeeded or not: a refused unwrap continues
    /// with the stand-in secret through the symmetric steps, and only the
    /// credentials' hash decides which key opened them. When none did, the
    /// error is the one opaque [`Error::Decryption`], unless a key could
    /// not be asked at all ([`Error::KeyUnavailable`]: the submission may
    /// be retried).
    pub(crate) fn decrypt(
        key: &(impl CredentialsKey + ?Sized),
        encrypted_secret: &[u8],
        data: Vec<u8>,
        hash: &Sha256Hash,
        limits: &Limits,
    ) -> Result<Self> {
        // The stand-in secret is drawn whether or not it is needed, so that
        // a failed RSA step costs no system call the other paths do not make.
        let stand_in = Secret::random()?;
        let mut opened = None;
        let mut failure = DecryptionError::new(Target::Credentials, Step::Rsa);
        let mut unavailable = None;
        key.unwrap_each(encrypted_secret, &mut |unwrapped| {
            let (secret, rsa_failed) = match &unwrapped {
                Unwrapped::Secret(secret) => (secret, false),
                Unwrapped::Refused => (&stand_in, true),
                Unwrapped::Unavailable(_) => {
                    if let Unwrapped::Unavailable(error) = unwrapped {
                        unavailable.get_or_insert(error);
                    }
                    return false;
                }
            };
            // Every attempt opens its own copy: a failed one zeroizes it.
            match (
                open(data.clone(), secret, hash, Target::Credentials, Threads::One),
                rsa_failed,
            ) {
                (Ok(plaintext), false) => {
                    opened = Some(plaintext);
                    true
                }
                (Err(error), false) => {
                    failure = error;
                    false
                }
                (_, true) => {
                    failure = DecryptionError::new(Target::Credentials, Step::Rsa);
                    false
                }
            }
        });
        match (opened, unavailable) {
            (Some(plaintext), _) => Self::from_json(&plaintext, limits),
            (None, Some(unavailable)) => Err(unavailable),
            (None, None) => Err(failure.into()),
        }
    }

    /// Parses decrypted credentials JSON.
    pub(crate) fn from_json(json: &[u8], limits: &Limits) -> Result<Self> {
        let seed = CredentialsSeed {
            files: limits.files_per_element,
        };
        let raw = json::from_slice_with(json, "credentials", seed)?;
        let secure_data = raw.secure_data.into_iter();
        Ok(Self {
            secure_data: secure_data
                .map(|(element, value)| Ok((element, value.checked(limits)?)))
                .collect::<Result<_>>()?,
            nonce: raw.nonce.or(raw.payload).unwrap_or_default(),
        })
    }

    /// The nonce of the request these credentials answer (legacy `payload` if
    /// the app sent no `nonce`).
    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// Checks an expected nonce; consuming from a store happens later, once
    /// everything else succeeded.
    pub(crate) fn check_nonce(&self, check: NonceCheck<'_>) -> Result<()> {
        match check {
            NonceCheck::Expect(expected) if !bool::from(self.nonce.as_bytes().ct_eq(expected.as_bytes())) => {
                Err(Error::NonceMismatch)
            }
            _ => Ok(()),
        }
    }

    /// The credentials of one element.
    pub fn secure_value(&self, element: ElementType) -> Option<&ElementCredentials> {
        self.secure_data.get(&element)
    }

    /// Moves one element's credentials out.
    pub(crate) fn take_secure_value(&mut self, element: ElementType) -> Option<ElementCredentials> {
        self.secure_data.remove(&element)
    }
}

impl ElementCredentials {
    /// The credentials of one file: `index` counts within `files` and
    /// `translation`, and is 0 for the single-file parts.
    pub fn file(&self, slot: FileSlot, index: usize) -> Option<&FileCredentials> {
        match slot {
            FileSlot::FrontSide => self.front_side.as_ref().filter(|_| index == 0),
            FileSlot::ReverseSide => self.reverse_side.as_ref().filter(|_| index == 0),
            FileSlot::Selfie => self.selfie.as_ref().filter(|_| index == 0),
            FileSlot::Files => self.files.get(index),
            FileSlot::Translation => self.translation.get(index),
        }
    }

    /// Moves the credentials of a single-file part out.
    pub(crate) fn take_file(&mut self, slot: FileSlot) -> Option<FileCredentials> {
        match slot {
            FileSlot::FrontSide => self.front_side.take(),
            FileSlot::ReverseSide => self.reverse_side.take(),
            FileSlot::Selfie => self.selfie.take(),
            FileSlot::Files | FileSlot::Translation => None,
        }
    }

    /// Moves the credentials of a list part out.
    pub(crate) fn take_files(&mut self, slot: FileSlot) -> Vec<FileCredentials> {
        match slot {
            FileSlot::Files => std::mem::take(&mut self.files),
            FileSlot::Translation => std::mem::take(&mut self.translation),
            FileSlot::FrontSide | FileSlot::ReverseSide | FileSlot::Selfie => Vec::new(),
        }
    }

    /// Every file's credentials decrypt files of at most `limits.file` bytes.
    fn with_limits(mut self, limits: &Limits) -> Self {
        let singles = [&mut self.front_side, &mut self.reverse_side, &mut self.selfie];
        for file in singles.into_iter().flatten() {
            file.max_size = limits.file;
        }
        for file in self.files.iter_mut().chain(self.translation.iter_mut()) {
            file.max_size = limits.file;
        }
        self
    }
}

impl DataCredentials {
    /// Credentials from a hash and a secret.
    pub fn new(data_hash: Sha256Hash, secret: Secret) -> Self {
        Self { data_hash, secret }
    }

    /// SHA-256 of the padded plaintext: what a `data` error report names.
    pub fn data_hash(&self) -> &Sha256Hash {
        &self.data_hash
    }

    /// The secret.
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// Decrypts and verifies element data in place in `encrypted`.
    pub fn decrypt(&self, encrypted: Vec<u8>) -> Result<Plaintext> {
        Ok(open(
            encrypted,
            &self.secret,
            &self.data_hash,
            Target::ElementData,
            Threads::One,
        )?)
    }
}

impl FileCredentials {
    /// Credentials from a hash and a secret, with the default [`Limits`].
    pub fn new(file_hash: Sha256Hash, secret: Secret) -> Self {
        Self {
            file_hash,
            secret,
            max_size: Limits::default().file,
        }
    }

    /// The same credentials, decrypting files of at most `limits.file` bytes
    /// on every path: in memory, in place, pipelined and streaming.
    ///
    /// ```
    /// use telegram_passport::{client, Error, FileCredentials, Limits};
    ///
    /// let encrypted = client::encrypt(&[0xff; 5000])?;
    /// let credentials = FileCredentials::new(encrypted.hash, encrypted.secret.clone())
    ///     .with_limits(&Limits { file: 4096, ..Limits::default() });
    /// assert!(matches!(credentials.decrypt(encrypted.data), Err(Error::TooLarge { limit: 4096, .. })));
    /// # Ok::<(), telegram_passport::Error>(())
    /// ```
    pub fn with_limits(mut self, limits: &Limits) -> Self {
        self.max_size = limits.file;
        self
    }

    /// The largest encrypted file these credentials decrypt, in bytes.
    pub fn max_size(&self) -> u64 {
        self.max_size
    }

    /// Refuses a file beyond the limit before any work on it.
    fn check_size(&self, len: usize) -> Result<()> {
        limits::check64(|| "the encrypted file".to_owned(), len as u64, self.max_size)
    }

    /// SHA-256 of the padded file: what a file error report names.
    pub fn file_hash(&self) -> &Sha256Hash {
        &self.file_hash
    }

    /// The secret.
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// Decrypts and verifies a downloaded file, in place in `encrypted`: no
    /// second copy of the file is made.
    pub fn decrypt(&self, encrypted: Vec<u8>) -> Result<Plaintext> {
        self.check_size(encrypted.len())?;
        Ok(open(
            encrypted,
            &self.secret,
            &self.file_hash,
            Target::File,
            Threads::One,
        )?)
    }

    /// Like [`FileCredentials::decrypt`], but for a large file hashes on a
    /// second thread while this one decrypts. That pays where the second
    /// core is a real one; where two logical CPUs share one core, AES and
    /// SHA-256 compete for its units and this is slower (see
    /// docs/performance.md). Falls back to one thread when no second
    /// thread can start.
    pub fn decrypt_pipelined(&self, encrypted: Vec<u8>) -> Result<Plaintext> {
        self.check_size(encrypted.len())?;
        Ok(open(
            encrypted,
            &self.secret,
            &self.file_hash,
            Target::File,
            Threads::Two,
        )?)
    }

    /// Decrypts and verifies a file in the caller's buffer; returns the
    /// plaintext part of it. On failure the buffer is zeroized.
    pub fn decrypt_in_place<'a>(&self, buf: &'a mut [u8]) -> Result<&'a [u8]> {
        self.check_size(buf.len())?;
        let start = primitive::decrypt_in_place(buf, &self.secret, &self.file_hash, Threads::One)
            .map_err(|step| DecryptionError::new(Target::File, step))?;
        Ok(buf.get(start..).unwrap_or_default())
    }
}

/// The credentials JSON as read: every file list counted, at most `files`
/// long, named once read ([`RawElementCredentials::checked`]).
#[derive(Clone, Copy)]
struct CredentialsSeed {
    files: usize,
}

struct RawCredentials {
    secure_data: Vec<(ElementType, RawElementCredentials)>,
    nonce: Option<String>,
    payload: Option<String>,
}

impl<'de> ReadObject<'de> for CredentialsSeed {
    type Value = RawCredentials;

    fn read<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        #[derive(Deserialize)]
        #[serde(field_identifier, rename_all = "snake_case")]
        enum Field {
            SecureData,
            Nonce,
            Payload,
            #[serde(other)]
            Other,
        }
        let (mut secure_data, mut nonce, mut payload) = (None, None, None);
        while let Some(field) = map.next_key()? {
            match field {
                Field::SecureData => json::set(
                    &mut secure_data,
                    map.next_value_seed(ObjectSeed(SecureDataSeed(self)))?,
                    "secure_data",
                )?,
                Field::Nonce => json::set(&mut nonce, map.next_value()?, "nonce")?,
                Field::Payload => json::set(&mut payload, map.next_value()?, "payload")?,
                Field::Other => drop(map.next_value::<IgnoredAny>()?),
            }
        }
        Ok(RawCredentials {
            secure_data: secure_data.unwrap_or_default(),
            nonce: nonce.flatten(),
            payload: payload.flatten(),
        })
    }
}

/// `secure_data`: the credentials of each element type that has any
/// (every other name skipped, as Telegram may add some).
#[derive(Clone, Copy)]
struct SecureDataSeed(CredentialsSeed);

impl<'de> ReadObject<'de> for SecureDataSeed {
    type Value = Vec<(ElementType, RawElementCredentials)>;

    fn read<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut values: Vec<(ElementType, RawElementCredentials)> = Vec::new();
        while let Some(name) = map.next_key::<Cow<'de, str>>()? {
            let element = name
                .parse::<ElementType>()
                .ok()
                .filter(|element| !matches!(element, ElementType::PhoneNumber | ElementType::Email));
            let Some(element) = element else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            if values.iter().any(|(seen, _)| *seen == element) {
                return Err(A::Error::duplicate_field(element.as_str()));
            }
            if let Some(value) = map.next_value_seed(OptionSeed(ObjectSeed(ElementCredentialsSeed(self.0))))? {
                values.push((element, value));
            }
        }
        Ok(values)
    }
}

/// One element's credentials as read: its file lists counted.
struct RawElementCredentials {
    credentials: ElementCredentials,
    translation: Option<json::Counted<FileCredentials>>,
    files: Option<json::Counted<FileCredentials>>,
}

impl RawElementCredentials {
    /// The element's credentials, or [`Error::TooLarge`] for a list over its
    /// limit; every file's credentials decrypt at most `limits.file` bytes.
    fn checked(self, limits: &Limits) -> Result<ElementCredentials> {
        let within = |list: Option<json::Counted<FileCredentials>>, part: &str| {
            list.map(|counted| counted.within(|| format!("credentials.{part}")))
                .transpose()
                .map(Option::unwrap_or_default)
        };
        let credentials = ElementCredentials {
            translation: within(self.translation, "translation")?,
            files: within(self.files, "files")?,
            ..self.credentials
        };
        Ok(credentials.with_limits(limits))
    }
}

/// Reads one element's credentials.
#[derive(Clone, Copy)]
struct ElementCredentialsSeed(CredentialsSeed);

impl<'de> ReadObject<'de> for ElementCredentialsSeed {
    type Value = RawElementCredentials;

    fn read<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        #[derive(Deserialize)]
        #[serde(field_identifier, rename_all = "snake_case")]
        enum Field {
            Data,
            FrontSide,
            ReverseSide,
            Selfie,
            Translation,
            Files,
            #[serde(other)]
            Other,
        }
        let (mut data, mut front_side, mut reverse_side, mut selfie) = (None, None, None, None);
        let (mut translation, mut files) = (None, None);
        let list = OptionSeed(json::list::<FileCredentials>(self.0.files));
        while let Some(field) = map.next_key()? {
            match field {
                Field::Data => json::set(&mut data, map.next_value()?, "data")?,
                Field::FrontSide => json::set(&mut front_side, map.next_value()?, "front_side")?,
                Field::ReverseSide => json::set(&mut reverse_side, map.next_value()?, "reverse_side")?,
                Field::Selfie => json::set(&mut selfie, map.next_value()?, "selfie")?,
                Field::Translation => json::set(&mut translation, map.next_value_seed(list)?, "translation")?,
                Field::Files => json::set(&mut files, map.next_value_seed(list)?, "files")?,
                Field::Other => drop(map.next_value::<IgnoredAny>()?),
            }
        }
        Ok(RawElementCredentials {
            credentials: ElementCredentials {
                data: data.flatten(),
                front_side: front_side.flatten(),
                reverse_side: reverse_side.flatten(),
                selfie: selfie.flatten(),
                translation: Vec::new(),
                files: Vec::new(),
            },
            translation: translation.flatten(),
            files: files.flatten(),
        })
    }
}
fn hash_and_secret<'de, D: Deserializer<'de>>(
    deserializer: D,
    hash_field: &'static str,
) -> Result<(Sha256Hash, Secret), D::Error> {
    use serde::de::Error as _;
    #[derive(Deserialize)]
    struct Fields<'a> {
        #[serde(default, borrow)]
        data_hash: Option<Cow<'a, str>>,
        #[serde(default, borrow)]
        file_hash: Option<Cow<'a, str>>,
        #[serde(default, borrow)]
        secret: Option<Cow<'a, str>>,
    }
    let fields: Fields<'_> = json::object(deserializer)?;
    let hash = match hash_field {
        "data_hash" => fields.data_hash,
        _ => fields.file_hash,
    };
    let hash = hash.ok_or_else(|| D::Error::missing_field(hash_field))?;
    let secret = fields.secret.ok_or_else(|| D::Error::missing_field("secret"))?;
    let hash = crate::input::base64::decode_hash(&hash, hash_field).map_err(D::Error::custom)?;
    let secret = crate::input::base64::decode_secret(&secret, "secret").map_err(D::Error::custom)?;
    Ok((hash, secret))
}

impl<'de> Deserialize<'de> for DataCredentials {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (data_hash, secret) = hash_and_secret(deserializer, "data_hash")?;
        Ok(Self { data_hash, secret })
    }
}

impl<'de> Deserialize<'de> for FileCredentials {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (file_hash, secret) = hash_and_secret(deserializer, "file_hash")?;
        Ok(Self::new(file_hash, secret))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use crate::nonce::MemoryNonceStore;

    fn file(byte: u8) -> FileCredentials {
        FileCredentials::new(Sha256Hash::new([byte; 32]), Secret::random().unwrap())
    }

    /// Single-file parts answer only for index 0; lists by position.
    #[test]
    fn file_credentials_by_slot_and_index() {
        let value = ElementCredentials {
            front_side: Some(file(1)),
            reverse_side: Some(file(2)),
            selfie: Some(file(3)),
            translation: vec![file(4), file(5)],
            files: vec![file(6)],
            ..ElementCredentials::default()
        };
        let hash = |slot, index| value.file(slot, index).map(|f| f.file_hash().as_bytes()[0]);
        for (slot, byte) in [
            (FileSlot::FrontSide, 1),
            (FileSlot::ReverseSide, 2),
            (FileSlot::Selfie, 3),
        ] {
            assert_eq!(hash(slot, 0), Some(byte), "{slot}");
            assert_eq!(hash(slot, 1), None, "{slot}");
        }
        assert_eq!(hash(FileSlot::Translation, 1), Some(5));
        assert_eq!(hash(FileSlot::Translation, 2), None);
        assert_eq!(hash(FileSlot::Files, 0), Some(6));
        assert_eq!(hash(FileSlot::Files, 1), None);
    }

    /// `Debug` shows an expected nonce (it is no secret) and hides the store.
    #[test]
    fn nonce_check_debug() {
        let store = MemoryNonceStore::new();
        assert_eq!(format!("{:?}", NonceCheck::Expect("n-1")), r#"Expect("n-1")"#);
        assert_eq!(format!("{:?}", NonceCheck::Consume(&store)), "Consume(..)");
        assert_eq!(format!("{:?}", NonceCheck::Skip), "Skip");
    }

    /// The credentials JSON is read within the call's limits: each file
    /// list within `files_per_element` (named, counted past the limit
    /// without being read), every file bounded by `file`, unknown names
    /// skipped, a repeated element refused.
    #[test]
    fn credentials_read_within_the_calls_limits() {
        let file = r#"{"file_hash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","secret":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}"#;
        let json = |list: &str, n: usize, tail: &str| {
            let items = vec![file; n].join(",");
            format!(r#"{{"secure_data":{{"email":5,"utility_bill":{{"{list}":[{items}{tail}]}}}},"nonce":"n"}}"#)
        };
        let limits = Limits {
            files_per_element: 2,
            file: 1234,
            ..Limits::default()
        };
        let read = Credentials::from_json(json("files", 2, "").as_bytes(), &limits).unwrap();
        assert_eq!(read.nonce(), "n");
        let bill = read.secure_value(ElementType::UtilityBill).unwrap();
        assert_eq!(bill.files.len(), 2);
        assert!(bill.files.iter().all(|file| file.max_size == 1234));
        for list in ["files", "translation"] {
            // The third item is not even an object: past the limit, items are counted.
            match Credentials::from_json(json(list, 2, ",7,7").as_bytes(), &limits) {
                Err(Error::TooLarge { what, actual, limit }) => {
                    assert_eq!(
                        (what.as_str(), actual, limit),
                        (format!("credentials.{list}").as_str(), 4, 2)
                    );
                }
                other => panic!("{list}: {:?}", other.map(|c| c.nonce)),
            }
        }
        let twice = br#"{"secure_data":{"passport":{},"passport":{}}}"#;
        let error = Credentials::from_json(twice, &limits).map(|c| c.nonce).unwrap_err();
        assert!(error.to_string().contains("duplicate field `passport`"), "{error}");
        let not_an_object = br#"{"secure_data":{"passport":[]}}"#;
        let error = Credentials::from_json(not_an_object, &limits)
            .map(|c| c.nonce)
            .unwrap_err();
        assert!(matches!(error, Error::NotAnObject { .. }), "{error:?}");
    }
}
