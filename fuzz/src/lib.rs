//! What the fuzz targets share: the fixed test key, a sealed passport for
//! it, the split of an input into file credentials and ciphertext, and an
//! `Arbitrary` mirror of the MTProto input.

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use telegram_passport::client::{PassportBuilder, SealedPassport};
use telegram_passport::mtproto::{
    SecureCredentialsEncrypted, SecureData, SecureFile, SecurePlainData, SecureValue, SecureValuesSentMe,
};
use telegram_passport::{
    Date, ElementType, FileCredentials, FileSlot, Gender, IdDocumentData, PersonalDetails, PrivateKey, Secret,
    Sha256Hash,
};

/// The project's 2048-bit test key (`tests/data/keys/rsa2048_pkcs1.pem`),
/// which the passport fixtures are encrypted for.
pub fn key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| {
        PrivateKey::from_pem(include_str!("../../tests/data/keys/rsa2048_pkcs1.pem")).expect("the test key loads")
    })
}

/// The nonce inside [`sealed`]'s credentials.
pub const NONCE: &str = "fuzz-nonce";

/// A passport sealed once for [`key`]: personal details, a passport with
/// its data and a front side, and an e-mail address.
pub fn sealed() -> &'static SealedPassport {
    static SEALED: OnceLock<SealedPassport> = OnceLock::new();
    SEALED.get_or_init(|| {
        let details = PersonalDetails::new("Jane", "Doe", Date::new("01.02.1990"), Gender::Female, "DK", "DK");
        PassportBuilder::new()
            .personal_details(&details)
            .id_document(ElementType::Passport, &IdDocumentData::new("X1234567", None))
            .file(
                ElementType::Passport,
                FileSlot::FrontSide,
                "front",
                b"\xff\xd8 a JPEG".to_vec(),
            )
            .email("jane@example.org")
            .seal(&key().public_key(), NONCE)
            .expect("the passport seals")
    })
}

/// Splits an input into file credentials (its first 32 bytes are the
/// secret, the next 32 the hash) and the ciphertext after them.
pub fn file_input(data: &[u8]) -> Option<(FileCredentials, &[u8])> {
    let (secret, rest) = data.split_first_chunk::<{ Secret::LEN }>()?;
    let (hash, ciphertext) = rest.split_first_chunk::<{ Sha256Hash::LEN }>()?;
    Some((
        FileCredentials::new(Sha256Hash::new(*hash), Secret::new(*secret)),
        ciphertext,
    ))
}

/// Valid credentials for [`key`]: those of the MTProto fixture
/// (`tests/data/passport/mtproto.json`).
pub fn fixture_credentials() -> &'static SecureCredentialsEncrypted {
    static CREDENTIALS: OnceLock<SecureCredentialsEncrypted> = OnceLock::new();
    CREDENTIALS.get_or_init(|| {
        let fixture: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/data/passport/mtproto.json")).expect("the fixture is JSON");
        let field = |name: &str| hex(fixture["credentials"][name].as_str().expect("a hex string"));
        SecureCredentialsEncrypted::new(field("data"), field("hash"), field("secret"))
    })
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// `messageActionSecureValuesSentMe`, built from arbitrary bytes.
#[derive(Debug, Arbitrary)]
pub struct SentMe {
    /// The values.
    pub values: Vec<Value>,
    /// Arbitrary credentials, or `None` for [`fixture_credentials`], which
    /// decrypt, so that the values are decrypted with real secrets.
    pub credentials: Option<Credentials>,
}

/// `secureCredentialsEncrypted`.
#[derive(Debug, Arbitrary)]
pub struct Credentials {
    data: Vec<u8>,
    hash: Vec<u8>,
    secret: Vec<u8>,
}

/// `secureValue`; the type is `ElementType::ALL[value_type % 13]`.
#[derive(Debug, Arbitrary)]
pub struct Value {
    value_type: u8,
    data: Option<Data>,
    front_side: Option<File>,
    reverse_side: Option<File>,
    selfie: Option<File>,
    translation: Vec<File>,
    files: Vec<File>,
    plain_data: Option<Plain>,
    hash: Vec<u8>,
}

/// `secureData`.
#[derive(Debug, Arbitrary)]
pub struct Data {
    data: Vec<u8>,
    data_hash: Vec<u8>,
    secret: Vec<u8>,
}

/// `secureFile`.
#[derive(Debug, Arbitrary)]
pub struct File {
    id: i64,
    access_hash: i64,
    size: i64,
    dc_id: i32,
    date: i32,
    file_hash: Vec<u8>,
    secret: Vec<u8>,
}

/// `securePlainPhone` / `securePlainEmail`.
#[derive(Debug, Arbitrary)]
pub enum Plain {
    /// A phone number.
    Phone(String),
    /// An e-mail address.
    Email(String),
}

impl From<SentMe> for SecureValuesSentMe {
    fn from(sent: SentMe) -> Self {
        let credentials = match sent.credentials {
            Some(c) => SecureCredentialsEncrypted::new(c.data, c.hash, c.secret),
            None => fixture_credentials().clone(),
        };
        Self::new(sent.values.into_iter().map(SecureValue::from).collect(), credentials)
    }
}

impl From<Value> for SecureValue {
    fn from(value: Value) -> Self {
        let file = |f: File| SecureFile::new(f.id, f.access_hash, f.size, f.dc_id, f.date, f.file_hash, f.secret);
        let value_type = ElementType::ALL[usize::from(value.value_type) % ElementType::ALL.len()];
        let mut built = Self::new(value_type, value.hash);
        built.data = value.data.map(|d| SecureData::new(d.data, d.data_hash, d.secret));
        built.front_side = value.front_side.map(file);
        built.reverse_side = value.reverse_side.map(file);
        built.selfie = value.selfie.map(file);
        built.translation = value.translation.into_iter().map(file).collect();
        built.files = value.files.into_iter().map(file).collect();
        built.plain_data = value.plain_data.map(|p| match p {
            Plain::Phone(phone) => SecurePlainData::Phone(phone),
            Plain::Email(email) => SecurePlainData::Email(email),
        });
        built
    }
}

/// Whether JSON the credentials parser accepted has objects wherever the
/// protocol has them: the top level, `secure_data`, each element's entry,
/// each `data` / file entry, and each item of `files` / `translation`.
pub fn credentials_shape_is_strict(json: &[u8]) -> bool {
    use serde_json::Value;
    let Ok(root) = serde_json::from_slice::<Value>(json) else {
        // Not parseable as a whole Value (e.g. invalid UTF-8 in a skipped
        // field): the parser's own check is the IgnoredAny one.
        return true;
    };
    let object_or_absent = |value: Option<&Value>| value.is_none_or(|v| v.is_object());
    let Some(root) = root.as_object() else { return false };
    let Some(secure_data) = root.get("secure_data") else {
        return true;
    };
    let Some(secure_data) = secure_data.as_object() else {
        return false;
    };
    // Phone number and e-mail carry no credentials: the parser skips them.
    let skipped = ["phone_number", "email"];
    let known = telegram_passport::ElementType::ALL.map(|t| t.as_str());
    let read = |name: &str| known.contains(&name) && !skipped.contains(&name);
    secure_data.iter().filter(|(name, _)| read(name)).all(|(_, value)| {
        let Some(value) = value.as_object() else { return false };
        ["data", "front_side", "reverse_side", "selfie"]
            .iter()
            .all(|part| object_or_absent(value.get(*part)))
            && ["files", "translation"].iter().all(|list| match value.get(*list) {
                None | Some(Value::Null) => true,
                Some(Value::Array(items)) => items.iter().all(Value::is_object),
                Some(_) => false,
            })
    })
}

/// Panics unless the error's message is one line of bounded length.
pub fn bounded_error(error: &telegram_passport::Error) {
    let shown = error.to_string();
    assert!(!shown.contains('\n'), "{shown:?}");
    assert!(
        shown.chars().count() < 3 * telegram_passport::EXCERPT_MAX + 200,
        "{shown}"
    );
}
