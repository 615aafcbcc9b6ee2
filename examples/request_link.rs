//! Prints a Telegram Passport request for a typical KYC scope: the deep
//! links and the JavaScript SDK's parameters.
//!
//! ```text
//! cargo run --example request_link -- --token BOT_TOKEN --key KEY.pem [--callback-url URL]
//! ```
//!
//! KEY is a PEM file or (feature `pkcs11`) a `pkcs11:` URI: the request
//! carries its public half.
//!
//! The scope: personal details with native names; one of passport,
//! identity card or driver's licence, with a selfie; address; phone; e-mail.
//! A backend would issue the nonce from its `NonceStore` (with the user's
//! session as context) and consume it on receipt; this tool just prints one.

use std::process::ExitCode;

use telegram_passport::ElementType::*;
use telegram_passport::{bot_id_from_token, generate_nonce, KeyRef, PassportRequest, Scope, ScopeElement};

const USAGE: &str = "usage: request_link --token BOT_TOKEN --key KEY [--callback-url URL]\n\n\
    Prints the deep links and the JavaScript SDK's parameters of a request for\n\
    a typical KYC scope. KEY is a PEM file or a pkcs11: URI.";

/// What went wrong: the command line (exit 2, with the usage) or the run (exit 1).
enum Failure {
    Usage(String),
    Run(String),
}

struct Args {
    token: String,
    key_path: String,
    callback: Option<String>,
}

/// The arguments, or `None` for `--help`.
fn parse_args() -> Result<Option<Args>, String> {
    let mut args = std::env::args().skip(1);
    let (mut token, mut key, mut callback) = (None, None, None);
    while let Some(arg) = args.next() {
        if arg == "--help" || arg == "-h" {
            return Ok(None);
        }
        let slot = match arg.as_str() {
            "--token" => &mut token,
            "--key" => &mut key,
            "--callback-url" => &mut callback,
            _ => return Err(format!("unknown argument {arg}")),
        };
        *slot = Some(args.next().ok_or_else(|| format!("{arg} needs a value"))?);
    }
    Ok(Some(Args {
        token: token.ok_or("--token is required")?,
        key_path: key.ok_or("--key is required")?,
        callback,
    }))
}

fn run() -> Result<String, Failure> {
    let Some(Args {
        token,
        key_path,
        callback,
    }) = parse_args().map_err(Failure::Usage)?
    else {
        return Ok(USAGE.to_owned());
    };
    run_with(&token, &key_path, callback).map_err(Failure::Run)
}

fn run_with(token: &str, key_path: &str, callback: Option<String>) -> Result<String, String> {
    let bot_id = bot_id_from_token(token).map_err(|e| e.to_string())?;
    let key = KeyRef::new(key_path).open().map_err(|e| e.to_string())?;
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
        Err(Failure::Usage(message)) => {
            eprintln!("request_link: {message}\n\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Run(message)) => {
            eprintln!("request_link: {message}");
            ExitCode::FAILURE
        }
    }
}
