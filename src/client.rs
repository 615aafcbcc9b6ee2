//! The user's app's side (PROTOCOL §7): encrypting values, files and
//! credentials for a service's public key.
//!
//! A service never needs this to decrypt. It is here for tests, demos, and
//! anyone writing a client: [`PassportBuilder`] produces exactly what an
//! app would send, in both the Bot API and the MTProto form.

use std::collections::BTreeMap;

use serde::Serialize;
use zeroize::Zeroizing;

use crate::decode::values::{IdDocumentData, PersonalDetails, ResidentialAddress};
use crate::element_type::{ElementType, FileSlot};
use crate::error::{Error, Result};
use crate::input::base64;
use crate::input::bot_api::{EncryptedCredentials, EncryptedPassportElement, PassportData, PassportFile};
use crate::input::mtproto::{
    SecureCredentialsEncrypted, SecureData, SecureFile, SecurePlainData, SecureValue, SecureValuesSentMe,
};
use crate::key::PublicKey;
use crate::open::primitive::{self, MIN_PADDING};
use crate::secret::{fill_random, Secret, Sha256Hash};

/// Bytes encrypted with the primitive, and what decrypts them.
#[derive(Debug, Clone)]
pub struct Encrypted {
    /// The ciphertext.
    pub data: Vec<u8>,
    /// SHA-256 of the padded plaintext.
    pub hash: Sha256Hash,
    /// The secret the key and IV derive from.
    pub secret: Secret,
}

/// A fresh random secret as the apps make them: 32 bytes whose sum modulo
/// 255 is 239.
pub fn random_secret() -> Result<Secret> {
    let mut secret = Secret::random()?;
    let (last, rest) = secret.bytes_mut().split_last_mut().ok_or(Error::Random)?;
    let sum: u32 = rest.iter().map(|&b| u32::from(b)).sum();
    *last = ((239 + 255 * 32 - sum) % 255) as u8;
    Ok(secret)
}

/// Encrypts with a fresh secret and random padding, as an app does.
pub fn encrypt(plain: &[u8]) -> Result<Encrypted> {
    let mut pick = [0u8; 1];
    fill_random(&mut pick)?;
    let first = MIN_PADDING + (16 - (plain.len() + MIN_PADDING) % 16) % 16;
    let choices = (255 - first) / 16 + 1;
    let padding = first + 16 * (usize::from(pick[0]) % choices);
    hazmat::encrypt_with_padding(plain, random_secret()?, padding)
}

/// Raw cryptographic operations, for test vectors and interoperability
/// checks only.
///
/// **Hazardous:** nothing here chooses the secret or the padding for you.
/// A reused secret or a predictable padding defeats the encryption; an app
/// encrypts with [`encrypt`], which draws both fresh.
pub mod hazmat {
    use super::{fill_random, primitive, Encrypted, Error, Result, Secret, MIN_PADDING};

    /// Encrypts with a given secret and padding length; the padding bytes
    /// after the length byte are random.
    ///
    /// ```
    /// use telegram_passport::client::hazmat::encrypt_with_padding;
    /// use telegram_passport::Secret;
    ///
    /// let encrypted = encrypt_with_padding(b"sixteen bytes!!!", Secret::new([7; 32]), 32)?;
    /// assert_eq!(encrypted.data.len(), 48);
    /// # Ok::<(), telegram_passport::Error>(())
    /// ```
    pub fn encrypt_with_padding(plain: &[u8], secret: Secret, padding: usize) -> Result<Encrypted> {
        let length_byte = u8::try_from(padding).ok().filter(|&n| usize::from(n) >= MIN_PADDING);
        let Some(length_byte) = length_byte.filter(|_| (plain.len() + padding).is_multiple_of(16)) else {
            return Err(Error::InvalidPadding {
                length: plain.len(),
                padding,
            });
        };
        let mut data = vec![0u8; padding + plain.len()];
        let (head, tail) = data.split_at_mut(padding);
        fill_random(head)?;
        if let Some(first) = head.first_mut() {
            *first = length_byte;
        }
        tail.copy_from_slice(plain);
        let hash = primitive::encrypt_in_place(&mut data, &secret);
        Ok(Encrypted { data, hash, secret })
    }
}

/// Encrypts credentials JSON and RSA-encrypts its secret to `public_key`.
pub fn encrypt_credentials(public_key: &PublicKey, credentials_json: &[u8]) -> Result<EncryptedCredentials> {
    let encrypted = encrypt(credentials_json)?;
    Ok(EncryptedCredentials {
        data: base64::encode(&encrypted.data),
        hash: encrypted.hash.to_base64(),
        secret: base64::encode(&public_key.encrypt_secret(&encrypted.secret)?),
    })
}

/// Builds what a user's app sends: elements with their data and files,
/// encrypted for a service's public key. Elements come out in protocol
/// order ([`ElementType::ALL`]).
///
/// ```
/// use telegram_passport::client::PassportBuilder;
/// use telegram_passport::{decrypt, ElementType, FileSlot, IdDocumentData, NonceCheck, PrivateKey};
///
/// let key = PrivateKey::generate()?;
/// let sealed = PassportBuilder::new()
///     .id_document(ElementType::Passport, &IdDocumentData::new("X123", None))
///     .file(ElementType::Passport, FileSlot::FrontSide, "front-1", b"\xff\xd8 a JPEG".to_vec())
///     .seal(&key.public_key(), "nonce-1")?;
///
/// let passport = decrypt(&key, &sealed.passport_data, NonceCheck::Expect("nonce-1"))?;
/// let document = passport.identity_documents().next().unwrap();
/// let front = document.front_side().unwrap();
/// let jpeg = front.decrypt(sealed.files[front.file_id().unwrap()].clone())?;
/// assert_eq!(&jpeg[..], b"\xff\xd8 a JPEG");
/// # Ok::<(), telegram_passport::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct PassportBuilder {
    elements: BTreeMap<ElementType, Draft>,
    error: Option<Error>,
}

#[derive(Debug)]
struct Draft {
    element_type: ElementType,
    data: Option<Zeroizing<Vec<u8>>>,
    plain: Option<String>,
    files: BTreeMap<FileSlot, Vec<DraftFile>>,
}

#[derive(Debug)]
struct DraftFile {
    file_id: String,
    bytes: Zeroizing<Vec<u8>>,
}

/// What [`PassportBuilder::seal`] produces: the passport in both API forms
/// and the encrypted bytes of every file.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SealedPassport {
    /// The Bot API form.
    pub passport_data: PassportData,
    /// Encrypted file bytes by Bot API `file_id`.
    pub files: BTreeMap<String, Vec<u8>>,
    /// The MTProto form of the same passport.
    pub mtproto: SecureValuesSentMe,
    /// Encrypted file bytes by MTProto `secureFile.id`.
    pub mtproto_files: BTreeMap<i64, Vec<u8>>,
}

impl PassportBuilder {
    /// An empty passport.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `personal_details` data.
    pub fn personal_details(self, details: &PersonalDetails) -> Self {
        self.data(ElementType::PersonalDetails, details)
    }

    /// Adds an identity document's data.
    pub fn id_document(self, element_type: ElementType, data: &IdDocumentData) -> Self {
        self.data(element_type, data)
    }

    /// Adds `address` data.
    pub fn address(self, address: &ResidentialAddress) -> Self {
        self.data(ElementType::Address, address)
    }

    /// Adds any JSON as an element's data (to send extra or malformed fields).
    pub fn data(mut self, element_type: ElementType, value: &impl Serialize) -> Self {
        if !element_type.has_data() {
            return self.fail(Error::NotAllowed {
                element: element_type,
                part: "data",
            });
        }
        match serde_json::to_vec(value) {
            Ok(json) => self.draft(element_type).data = Some(Zeroizing::new(json)),
            Err(source) => return self.fail(crate::input::json::error(&format!("{element_type} data"), &source)),
        }
        self
    }

    /// Adds a file (a JPEG) to an element. `Files` and `Translation` append.
    pub fn file(mut self, element_type: ElementType, slot: FileSlot, file_id: &str, jpeg: Vec<u8>) -> Self {
        if !element_type.allows(slot) {
            return self.fail(Error::NotAllowed {
                element: element_type,
                part: slot.as_str(),
            });
        }
        let files = self.draft(element_type).files.entry(slot).or_default();
        let single = !matches!(slot, FileSlot::Files | FileSlot::Translation);
        if single {
            files.clear();
        }
        files.push(DraftFile {
            file_id: file_id.to_owned(),
            bytes: Zeroizing::new(jpeg),
        });
        self
    }

    /// Adds the verified phone number.
    pub fn phone_number(mut self, phone: &str) -> Self {
        self.draft(ElementType::PhoneNumber).plain = Some(phone.to_owned());
        self
    }

    /// Adds the verified e-mail address.
    pub fn email(mut self, email: &str) -> Self {
        self.draft(ElementType::Email).plain = Some(email.to_owned());
        self
    }

    fn fail(mut self, error: Error) -> Self {
        self.error.get_or_insert(error);
        self
    }

    fn draft(&mut self, element_type: ElementType) -> &mut Draft {
        self.elements.entry(element_type).or_insert_with(|| Draft {
            element_type,
            data: None,
            plain: None,
            files: BTreeMap::new(),
        })
    }

    /// Encrypts everything for `public_key`, with `nonce` in the credentials.
    pub fn seal(self, public_key: &PublicKey, nonce: &str) -> Result<SealedPassport> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let mut secure_data = serde_json::Map::new();
        let mut sealed = SealedPassport {
            passport_data: PassportData {
                data: Vec::new(),
                credentials: placeholder_credentials(),
            },
            files: BTreeMap::new(),
            mtproto: SecureValuesSentMe {
                values: Vec::new(),
                credentials: SecureCredentialsEncrypted {
                    data: Vec::new(),
                    hash: Vec::new(),
                    secret: Vec::new(),
                },
            },
            mtproto_files: BTreeMap::new(),
        };
        for draft in self.elements.values() {
            let (bot, mt, credentials) = seal_element(draft, &mut sealed)?;
            sealed.passport_data.data.push(bot);
            sealed.mtproto.values.push(mt);
            if let Some(credentials) = credentials {
                secure_data.insert(draft.element_type.as_str().to_owned(), credentials);
            }
        }
        let credentials = serde_json::json!({ "secure_data": secure_data, "nonce": nonce });
        let json = Zeroizing::new(credentials.to_string().into_bytes());
        let encrypted = encrypt(&json)?;
        let rsa_secret = public_key.encrypt_secret(&encrypted.secret)?;
        sealed.passport_data.credentials = EncryptedCredentials {
            data: base64::encode(&encrypted.data),
            hash: encrypted.hash.to_base64(),
            secret: base64::encode(&rsa_secret),
        };
        sealed.mtproto.credentials = SecureCredentialsEncrypted {
            data: encrypted.data,
            hash: encrypted.hash.as_bytes().to_vec(),
            secret: rsa_secret,
        };
        Ok(sealed)
    }
}

fn placeholder_credentials() -> EncryptedCredentials {
    EncryptedCredentials {
        data: String::new(),
        hash: String::new(),
        secret: String::new(),
    }
}

fn credentials_json(encrypted: &Encrypted, hash_field: &str) -> serde_json::Value {
    serde_json::json!({ hash_field: encrypted.hash.to_base64(), "secret": base64::encode(encrypted.secret.expose()) })
}

/// Encrypts one element: its Bot API form, its MTProto form, and its entry in `secure_data`.
fn seal_element(
    draft: &Draft,
    sealed: &mut SealedPassport,
) -> Result<(EncryptedPassportElement, SecureValue, Option<serde_json::Value>)> {
    let mut random = [0u8; 32];
    fill_random(&mut random)?;
    let element_hash = random.to_vec();
    let mut bot = EncryptedPassportElement::new(draft.element_type, base64::encode(&element_hash));
    let mut mt = SecureValue::new(draft.element_type, element_hash);
    match draft.element_type {
        ElementType::PhoneNumber => {
            bot.phone_number = draft.plain.clone();
            mt.plain_data = draft.plain.clone().map(SecurePlainData::Phone);
        }
        ElementType::Email => {
            bot.email = draft.plain.clone();
            mt.plain_data = draft.plain.clone().map(SecurePlainData::Email);
        }
        _ => {}
    }
    let mut value = serde_json::Map::new();
    if let Some(json) = &draft.data {
        let encrypted = encrypt(json)?;
        bot.data = Some(base64::encode(&encrypted.data));
        mt.data = Some(SecureData {
            data: encrypted.data.clone(),
            data_hash: encrypted.hash.as_bytes().to_vec(),
            secret: Vec::new(),
        });
        value.insert("data".to_owned(), credentials_json(&encrypted, "data_hash"));
    }
    for (&slot, files) in &draft.files {
        let mut bot_files = Vec::new();
        let mut mt_files = Vec::new();
        let mut creds = Vec::new();
        for file in files {
            let encrypted = encrypt(&file.bytes)?;
            let mut id_bytes = [0u8; 8];
            fill_random(&mut id_bytes)?;
            let id = i64::from_le_bytes(id_bytes) & i64::MAX;
            bot_files.push(PassportFile {
                file_id: file.file_id.clone(),
                file_unique_id: format!("u{}", file.file_id),
                file_size: encrypted.data.len() as u64,
                file_date: 1_700_000_000,
            });
            mt_files.push(SecureFile {
                id,
                access_hash: id.rotate_left(17),
                size: encrypted.data.len() as i64,
                dc_id: 2,
                date: 1_700_000_000,
                file_hash: encrypted.hash.as_bytes().to_vec(),
                secret: Vec::new(),
            });
            creds.push(credentials_json(&encrypted, "file_hash"));
            sealed.mtproto_files.insert(id, encrypted.data.clone());
            sealed.files.insert(file.file_id.clone(), encrypted.data);
        }
        let name = slot.as_str().to_owned();
        match slot {
            FileSlot::Files => {
                (bot.files, mt.files) = (Some(bot_files), mt_files);
                value.insert(name, serde_json::Value::Array(creds));
            }
            FileSlot::Translation => {
                (bot.translation, mt.translation) = (Some(bot_files), mt_files);
                value.insert(name, serde_json::Value::Array(creds));
            }
            FileSlot::FrontSide | FileSlot::ReverseSide | FileSlot::Selfie => {
                let (Some(bot_file), Some(mt_file), Some(cred)) = (bot_files.pop(), mt_files.pop(), creds.pop()) else {
                    continue;
                };
                match slot {
                    FileSlot::FrontSide => (bot.front_side, mt.front_side) = (Some(bot_file), Some(mt_file)),
                    FileSlot::ReverseSide => (bot.reverse_side, mt.reverse_side) = (Some(bot_file), Some(mt_file)),
                    _ => (bot.selfie, mt.selfie) = (Some(bot_file), Some(mt_file)),
                }
                value.insert(name, cred);
            }
        }
    }
    let credentials = (!value.is_empty()).then_some(serde_json::Value::Object(value));
    Ok((bot, mt, credentials))
}
