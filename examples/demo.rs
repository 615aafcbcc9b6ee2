//! The whole Telegram Passport flow on one machine, no network:
//!
//! 1. the bot generates its key pair (once, in real life);
//! 2. the bot builds a request: scope, nonce from its nonce store, deep link;
//! 3. the user's app encrypts a passport for the bot's public key;
//! 4. the bot decrypts, verifies and decodes it, consuming the nonce, then
//!    decrypts a photo; the same data sent again is refused as a replay.
//!
//! ```text
//! cargo run --example demo
//! ```

use std::time::{Duration, Instant};

use telegram_passport::client::PassportBuilder;
use telegram_passport::{
    decrypt, Date, ElementType, Error, FileSlot, Gender, IdDocumentData, MemoryNonceStore,
    NonceCheck, NonceStore, PassportRequest, PersonalDetails, PrivateKey, ResidentialAddress,
    Scope, ScopeElement,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. The bot's key. Register `public_key().to_pem()` with BotFather (/setpublickey).
    let key = PrivateKey::generate()?;
    let public_pem = key.public_key().to_pem();
    println!(
        "bot key: RSA-{}; public key for BotFather:\n{public_pem}",
        key.bits()
    );

    // 2. The request: what to ask for, and a nonce that remembers whose request it is.
    let store = MemoryNonceStore::new();
    let nonce = store.issue("session-42", Duration::from_secs(15 * 60))?;
    let scope = Scope::new([
        ScopeElement::one(ElementType::PersonalDetails).native_names(),
        ScopeElement::one_of([
            ElementType::Passport,
            ElementType::IdentityCard,
            ElementType::DriverLicense,
        ])
        .selfie(),
        ElementType::Address.into(),
        ElementType::PhoneNumber.into(),
        ElementType::Email.into(),
    ])?;
    let request = PassportRequest::new(123_456_789, scope, &key.public_key(), nonce);
    let link = request.deep_link();
    println!(
        "deep link for the user ({} characters): {}…\n",
        link.len(),
        &link[..100]
    );

    // 3. The user's app: personal details, a passport with front side and
    //    selfie, an address, phone and e-mail, encrypted for the bot.
    let mut details = PersonalDetails::new(
        "Anna",
        "Ivanova",
        Date::new("14.03.1991"),
        Gender::Female,
        "RU",
        "DE",
    );
    details.first_name_native = Some("Анна".to_owned());
    details.last_name_native = Some("Иванова".to_owned());
    let front_jpeg = fake_jpeg(48_000, 1);
    let selfie_jpeg = fake_jpeg(64_000, 2);
    let sealed = PassportBuilder::new()
        .personal_details(&details)
        .id_document(
            ElementType::Passport,
            &IdDocumentData::new("75 1234567", Some(Date::new("01.09.2031"))),
        )
        .file(
            ElementType::Passport,
            FileSlot::FrontSide,
            "passport-front",
            front_jpeg.clone(),
        )
        .file(
            ElementType::Passport,
            FileSlot::Selfie,
            "passport-selfie",
            selfie_jpeg,
        )
        .address(&ResidentialAddress::new(
            "Unter den Linden 5",
            "Berlin",
            "DE",
            "10117",
        ))
        .phone_number("4915112345678")
        .email("anna@example.org")
        .seal(&key.public_key(), request.nonce())?;
    let update_json = sealed.passport_data.to_json();
    println!(
        "the app sent {} bytes of passport_data\n",
        update_json.len()
    );

    // 4. The bot: one call decrypts, verifies and decodes everything, and
    //    consumes the nonce, learning whose request this answers.
    let started = Instant::now();
    let passport = decrypt(&key, &sealed.passport_data, NonceCheck::Consume(&store))?;
    let elapsed = started.elapsed();

    let details = passport.personal_details().ok_or("no personal details")?;
    println!(
        "answers:   {} (nonce {})",
        passport.context().unwrap_or("-"),
        passport.nonce()
    );
    println!(
        "name:      {} {} ({} {})",
        details.first_name,
        details.last_name,
        details.first_name_native.as_deref().unwrap_or("-"),
        details.last_name_native.as_deref().unwrap_or("-"),
    );
    println!("born:      {} ({})", details.birth_date, details.gender);
    println!(
        "citizen:   {}, resident in {}",
        details.country_code, details.residence_country_code
    );
    for document in passport.identity_documents() {
        let data = document.id_document_data().ok_or("no document data")?;
        let expiry = data.expiry_date.as_ref().map_or("none", |d| d.as_str());
        println!(
            "{}:  no. {}, expires {expiry}",
            document.element_type(),
            data.document_no
        );
    }
    if let Some(address) = passport.address() {
        println!(
            "address:   {}, {} {}, {}",
            address.street_line1, address.post_code, address.city, address.country_code
        );
    }
    println!("phone:     {}", passport.phone_number().unwrap_or("-"));
    println!("email:     {}", passport.email().unwrap_or("-"));
    println!("decrypted and verified in {elapsed:.2?}\n");

    // Files arrive later: download each with getFile, then decrypt it with
    // the credentials its reference carries.
    let passport_document = passport.identity_documents().next().ok_or("no passport")?;
    let front = passport_document.front_side().ok_or("no front side")?;
    let file_id = front.file_id().ok_or("not a Bot API file")?;
    let downloaded = sealed
        .files
        .get(file_id)
        .ok_or("file not downloaded")?
        .clone();
    let jpeg = front.decrypt(downloaded)?;
    println!(
        "front side {file_id}: {} bytes decrypted, JPEG header {:02x?}, identical to what the app sent: {}",
        jpeg.len(),
        &jpeg[..4],
        jpeg[..] == front_jpeg[..],
    );

    // The same update again, byte for byte: refused.
    match decrypt(&key, &sealed.passport_data, NonceCheck::Consume(&store)) {
        Err(error @ Error::NonceReplayed) => println!("the same data sent again: {error}"),
        other => return Err(format!("a replay was not refused: {other:?}").into()),
    }

    println!(
        "\nas JSON for logs or storage (no secrets):\n{}",
        serde_json::to_string_pretty(&passport)?
    );
    Ok(())
}

/// Stand-in photo bytes with a JPEG header.
fn fake_jpeg(len: usize, seed: u8) -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect();
    bytes[..4].copy_from_slice(&[0xff, 0xd8, 0xff, 0xe0]);
    bytes
}
