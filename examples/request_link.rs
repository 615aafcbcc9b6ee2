//! Prints a Telegram Passport request for a typical KYC scope: the deep
//! links and the JavaScript SDK's parameters.
//!
//! ```text
//! cargo run --example request_link -- --token BOT_TOKEN --key KEY.pem [--callback-url URL]
//! ```
//!
//! The scope: personal details with native names; one of passport,
//! identity card or driver's licence, with a selfie; address; phone; e-mail.
//! A backend would issue the nonce from its `NonceStore` (with the user's
//! session as context) and consume it on receipt; this tool just prints one.

use std::process::ExitCode;

use telegram_passport::ElementType::*;
use telegram_passport::{bot_id_from_token, generate_nonce, PassportRequest, PrivateKey, Scope, ScopeElement};

const USAGE: &str = "usage: request_link --token BOT_TOKEN --key KEY.pem [--callback-url URL]";

fn run() -> Result<String, String> {
    let mut args = std::env::args().skip(1);
    let (mut token, mut key, mut callback) = (None, None, None);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or_else(|| format!("{arg} needs a value; {USAGE}"))?;
        match arg.as_str() {
            "--token" => token = Some(value),
            "--key" => key = Some(value),
            "--callback-url" => callback = Some(value),
            _ => return Err(format!("unknown argument {arg}; {USAGE}")),
        }
    }
    let token = token.ok_or_else(|| format!("--token is required; {USAGE}"))?;
    let key_path = key.ok_or_else(|| format!("--key is required; {USAGE}"))?;

    let bot_id = bot_id_from_token(&token).map_err(|e| e.to_string())?;
    let pem = std::fs::read_to_string(&key_path).map_err(|e| format!("cannot read {key_path}: {e}"))?;
    let key = PrivateKey::from_pem(&pem).map_err(|e| format!("{key_path}: {e}"))?;
    let scope = Scope::new([
        ScopeElement::one(PersonalDetails).native_names(),
        ScopeElement::one_of([Passport, IdentityCard, DriverLicense]).selfie(),
        ScopeElement::one(Address),
        ScopeElement::one(PhoneNumber),
        ScopeElement::one(Email),
    ])
    .map_err(|e| e.to_string())?;
    let nonce = generate_nonce().map_err(|e| e.to_string())?;
    let mut request = PassportRequest::new(bot_id, scope, &key.public_key(), nonce);
    if let Some(url) = callback {
        request = request.with_callback_url(url);
    }
    let sdk = serde_json::to_string_pretty(&request.sdk_parameters()).map_err(|e| e.to_string())?;
    Ok(format!(
        "deep link:\n{}\n\nshort link:\n{}\n\nJavaScript SDK parameters (Telegram.Passport.auth):\n{sdk}",
        request.deep_link(),
        request.passport_link(),
    ))
}

fn main() -> ExitCode {
    match run() {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("request_link: {message}");
            ExitCode::FAILURE
        }
    }
}
