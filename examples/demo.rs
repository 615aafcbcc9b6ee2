//! The whole Telegram Passport flow on one machine, no network:
//!
//! 1. the bot generates its key pair (once, in real life);
//! 2. it builds a request: scope, a nonce from its nonce store, a deep link;
//! 3. the user's app sends an expired passport and forgets the selfie: the
//!    bot decrypts, validates, and prints the errors it would send back;
//! 4. the user fixes both and sends again, answering a new request: accepted;
//!    the bot decrypts a photo, and refuses the same data sent a second time.
//!
//! ```text
//! cargo run --example demo
//! ```

use telegram_passport_dev_support::cli;

use std::time::{Duration, Instant};

use telegram_passport::client::{PassportBuilder, SealedPassport};
use telegram_passport::{
    decrypt, CalendarDate, Date, ElementType, Error, FileSlot, Gender, IdDocumentData, MemoryNonceStore, NonceCheck,
    NonceStore, PassportRequest, PersonalDetails, PrivateKey, PublicKey, ResidentialAddress, Scope, ScopeElement,
    Validation, Validator,
};

const FRONT_FILE_ID: &str = "passport-front";

const USAGE: &str = "usage: demo\n\n\
    Runs the whole flow on one machine: a request, a rejected submission and\n\
    its error report, the fixed submission accepted, a replay refused.";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    cli::no_arguments("demo", USAGE);
    // 1. The bot's key. Register `public_key().to_pem()` with BotFather (/setpublickey).
    let key = PrivateKey::generate()?;
    println!(
        "bot key: RSA-{}; public key for BotFather:\n{}",
        key.bits(),
        key.public_key().to_pem()
    );

    // 2. The request: what to ask for, and a nonce that remembers whose request it is.
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
    let store = MemoryNonceStore::new();
    let today = CalendarDate::new(2026, 11, 23).ok_or("not a date")?;
    let validator = Validator::new(&scope, today).minimum_age(18);
    let new_request = || -> Result<PassportRequest, Error> {
        let nonce = store.issue("session-42", Duration::from_secs(15 * 60))?;
        Ok(PassportRequest::new(
            123_456_789,
            scope.clone(),
            &key.public_key(),
            nonce,
        ))
    };
    let request = new_request()?;
    let link = request.deep_link();
    println!(
        "deep link for the user ({} characters): {}…\n",
        link.len(),
        link.get(..96).unwrap_or(&link)
    );

    // 3. The app sends an expired passport without the requested selfie.
    let sealed = submission(&key.public_key(), request.nonce(), "01.09.2021", false)?;
    let passport = decrypt(&key, &sealed.passport_data, NonceCheck::Consume(&store))?;
    match validator.validate(passport) {
        Validation::Rejected(rejected) => {
            println!("first submission rejected:");
            for finding in rejected.findings() {
                println!("  - {}", finding.message());
            }
            let body = rejected.set_passport_data_errors(987_654_321);
            println!(
                "setPassportDataErrors body:\n{}\n",
                serde_json::to_string_pretty(&body)?
            );
        }
        Validation::Accepted(_) => return Err("an expired passport was accepted".into()),
    }

    // 4. The user fixes both; the bot asks again with a fresh nonce (the old one is spent).
    let request = new_request()?;
    let sealed = submission(&key.public_key(), request.nonce(), "01.09.2031", true)?;
    let started = Instant::now();
    let passport = decrypt(&key, &sealed.passport_data, NonceCheck::Consume(&store))?;
    let elapsed = started.elapsed();
    let accepted = match validator.validate(passport) {
        Validation::Accepted(accepted) => accepted,
        Validation::Rejected(rejected) => return Err(format!("rejected: {:?}", rejected.findings()).into()),
    };
    let passport = accepted.passport();
    let details = passport.personal_details().ok_or("no personal details")?;
    println!("second submission accepted (decrypted and verified in {elapsed:.2?}):");
    println!(
        "  answers:  {} (nonce {})",
        passport.context().unwrap_or("-"),
        passport.nonce()
    );
    println!(
        "  name:     {} {} ({} {})",
        details.first_name,
        details.last_name,
        details.first_name_native.as_deref().unwrap_or("-"),
        details.last_name_native.as_deref().unwrap_or("-"),
    );
    println!("  born:     {} ({})", details.birth_date, details.gender);
    println!(
        "  citizen:  {}, resident in {}",
        details.country_code, details.residence_country_code
    );
    for document in passport.identity_documents() {
        let data = document.id_document_data().ok_or("no document data")?;
        let expiry = data.expiry_date.as_ref().map_or("none", |d| d.as_str());
        println!(
            "  {}: no. {}, expires {expiry}",
            document.element_type(),
            data.document_no
        );
    }
    if let Some(address) = passport.address() {
        println!(
            "  address:  {}, {} {}, {}",
            address.street_line1, address.post_code, address.city, address.country_code
        );
    }
    println!("  phone:    {}", passport.phone_number().unwrap_or("-"));
    println!("  email:    {}", passport.email().unwrap_or("-"));

    // Files arrive later: download each with getFile, then decrypt it with
    // the credentials its reference carries.
    let front = passport
        .identity_documents()
        .next()
        .and_then(|d| d.front_side())
        .ok_or("no front side")?;
    let downloaded = sealed.files.get(FRONT_FILE_ID).ok_or("file not downloaded")?.clone();
    let jpeg = front.decrypt(downloaded)?;
    println!(
        "  front side: {} bytes decrypted, JPEG header {:02x?}, identical to what the app sent: {}",
        jpeg.len(),
        jpeg.get(..4).unwrap_or_default(),
        jpeg[..] == fake_jpeg(48_000, 1)[..],
    );

    // The same update again, byte for byte: refused.
    match decrypt(&key, &sealed.passport_data, NonceCheck::Consume(&store)) {
        Err(error @ Error::NonceReplayed) => println!("\nthe same data sent again: {error}"),
        other => return Err(format!("a replay was not refused: {other:?}").into()),
    }
    println!(
        "\nstored as JSON (no secrets):\n{}",
        serde_json::to_string_pretty(passport)?
    );
    Ok(())
}

/// What the user's app sends: personal details, a passport (with the given
/// expiry, and a selfie if `selfie`), an address, phone and e-mail.
fn submission(bot_key: &PublicKey, nonce: &str, expiry: &str, selfie: bool) -> Result<SealedPassport, Error> {
    let mut details = PersonalDetails::new("Anna", "Ivanova", Date::new("14.03.1991"), Gender::Female, "RU", "DE");
    details.first_name_native = Some("Анна".to_owned());
    details.last_name_native = Some("Иванова".to_owned());
    let mut app = PassportBuilder::new()
        .personal_details(&details)
        .id_document(
            ElementType::Passport,
            &IdDocumentData::new("75 1234567", Some(Date::new(expiry))),
        )
        .file(
            ElementType::Passport,
            FileSlot::FrontSide,
            FRONT_FILE_ID,
            fake_jpeg(48_000, 1),
        )
        .address(&ResidentialAddress::new("Unter den Linden 5", "Berlin", "DE", "10117"))
        .phone_number("4915112345678")
        .email("anna@example.org");
    if selfie {
        app = app.file(
            ElementType::Passport,
            FileSlot::Selfie,
            "passport-selfie",
            fake_jpeg(64_000, 2),
        );
    }
    app.seal(bot_key, nonce)
}

/// Stand-in photo bytes with a JPEG header.
fn fake_jpeg(len: usize, seed: u8) -> Vec<u8> {
    let header = [0xff, 0xd8, 0xff, 0xe0];
    header
        .into_iter()
        .chain((4..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)))
        .collect()
}
