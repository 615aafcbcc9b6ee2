//! The inputs every performance comparison times, made in one place so that
//! this crate, OpenSSL (`compare/src/bin/compare.rs`), python-telegram-bot
//! (`compare/peers.sh`) and the criterion benches all see the same bytes.
//!
//! - credentials alone, for RSA-2048 and RSA-4096 keys;
//! - a typical whole `PassportData` (personal details, a passport with three
//!   files, an address, a phone number and an e-mail), RSA-2048;
//! - files of 100 KiB, 1 MiB and 10 MiB.

#![allow(dead_code, unreachable_pub)]

use std::path::Path;

use base64::Engine as _;
use telegram_passport::client::{self, Encrypted, PassportBuilder, SealedPassport};
use telegram_passport::{
    Date, ElementType, EncryptedCredentials, FileCredentials, FileSlot, Gender, IdDocumentData, PersonalDetails,
    PrivateKey, ResidentialAddress,
};

pub type Failure = Box<dyn std::error::Error>;

/// Key sizes the comparisons cover.
pub const KEY_BITS: [usize; 2] = [2048, 4096];
/// File sizes the comparisons cover.
pub const FILE_SIZES: [usize; 3] = [100 << 10, 1 << 20, 10 << 20];
/// The nonce every sealed payload carries.
pub const NONCE: &str = "nonce";

/// One of the test keys (written by an independent implementation).
pub struct TestKey {
    pub bits: usize,
    pub pem: String,
    pub key: PrivateKey,
}

pub fn test_key(bits: usize) -> Result<TestKey, Failure> {
    // The library's tests/data/, from the library or from the comparisons' package beside it.
    let keys = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|folder| folder.join("tests/data/keys"))
        .find(|keys| keys.is_dir())
        .ok_or("the library's tests/data/keys/ is not found")?;
    let pem = std::fs::read_to_string(keys.join(format!("rsa{bits}_pkcs1.pem")))?;
    let key = PrivateKey::from_pem(&pem)?;
    Ok(TestKey { bits, pem, key })
}

/// Credentials for one element, as small as real ones get.
pub fn credentials(key: &PrivateKey) -> Result<EncryptedCredentials, Failure> {
    let sealed = PassportBuilder::new()
        .email("a@example.org")
        .seal(&key.public_key(), NONCE)?;
    Ok(sealed.passport_data.credentials)
}

/// Personal details, a passport with 3 files, an address, phone and e-mail.
pub fn typical(key: &PrivateKey) -> Result<SealedPassport, Failure> {
    let mut details = PersonalDetails::new("Anna", "Ivanova", Date::new("14.03.1991"), Gender::Female, "RU", "DE");
    details.first_name_native = Some("Анна".to_owned());
    details.last_name_native = Some("Иванова".to_owned());
    // Every field present, as real apps send it (python-telegram-bot cannot
    // read an address without `street_line2` and `state`).
    let mut address = ResidentialAddress::new("Unter den Linden 5", "Berlin", "DE", "10117");
    address.street_line2 = Some("Hinterhaus".to_owned());
    address.state = Some("Berlin".to_owned());
    let sealed = PassportBuilder::new()
        .personal_details(&details)
        .id_document(
            ElementType::Passport,
            &IdDocumentData::new("75 1234567", Some(Date::new("01.09.2031"))),
        )
        .file(ElementType::Passport, FileSlot::FrontSide, "front", vec![1; 1000])
        .file(ElementType::Passport, FileSlot::Selfie, "selfie", vec![2; 1000])
        .file(
            ElementType::Passport,
            FileSlot::Translation,
            "translation",
            vec![3; 1000],
        )
        .address(&address)
        .phone_number("4915112345678")
        .email("anna@example.org")
        .seal(&key.public_key(), NONCE)?;
    Ok(sealed)
}

/// An encrypted file of `size` plaintext bytes, and its credentials.
pub struct TestFile {
    pub size: usize,
    pub encrypted: Encrypted,
    pub credentials: FileCredentials,
}

pub fn file(size: usize) -> Result<TestFile, Failure> {
    let encrypted = client::encrypt(&vec![0x5a; size])?;
    let credentials = FileCredentials::new(encrypted.hash, encrypted.secret.clone());
    Ok(TestFile {
        size,
        encrypted,
        credentials,
    })
}

/// A file size as the tables name it: "100 KiB", "1 MiB", "10 MiB".
pub fn size_name(size: usize) -> String {
    match size {
        s if s >= 1 << 20 => format!("{} MiB", s >> 20),
        s => format!("{} KiB", s >> 10),
    }
}

/// Writes every payload into `dir` for a peer implementation to time, with
/// `cases.json` listing them: `{"case", "kind", "key"?, "input", "hash"?, "secret"?}`.
/// Kinds: `credentials` (an `EncryptedCredentials` JSON), `passport` (a
/// `PassportData` JSON) and `file` (raw encrypted bytes).
pub fn write_all(dir: &Path) -> Result<Vec<serde_json::Value>, Failure> {
    use serde_json::json;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    std::fs::create_dir_all(dir)?;
    let mut cases = Vec::new();
    for bits in KEY_BITS {
        let key = test_key(bits)?;
        std::fs::write(dir.join(format!("rsa{bits}.pem")), &key.pem)?;
        let input = format!("credentials-{bits}.json");
        std::fs::write(dir.join(&input), serde_json::to_vec(&credentials(&key.key)?)?)?;
        cases.push(json!({"case": credentials_case(bits), "kind": "credentials", "key": format!("rsa{bits}.pem"), "input": input}));
    }
    let input = "passport-2048.json";
    std::fs::write(dir.join(input), typical(&test_key(2048)?.key)?.passport_data.to_json())?;
    cases.push(json!({"case": PASSPORT_CASE, "kind": "passport", "key": "rsa2048.pem", "input": input}));
    for size in FILE_SIZES {
        let file = file(size)?;
        let input = format!("file-{size}.bin");
        std::fs::write(dir.join(&input), &file.encrypted.data)?;
        cases.push(json!({
            "case": file_case(size),
            "kind": "file",
            "input": input,
            "hash": b64(file.encrypted.hash.as_bytes()),
            "secret": b64(file.encrypted.secret.expose()),
        }));
    }
    std::fs::write(dir.join("cases.json"), serde_json::to_vec_pretty(&cases)?)?;
    Ok(cases)
}

pub fn credentials_case(bits: usize) -> String {
    format!("credentials, RSA-{bits} (OAEP + symmetric + JSON)")
}

pub const PASSPORT_CASE: &str = "typical PassportData, RSA-2048 (parse + decrypt all + decode)";

pub fn file_case(size: usize) -> String {
    format!("{} file (decrypt + verify + unpad)", size_name(size))
}
