//! How long credentials decryption takes for each way it can fail, measured
//! side by side: what a sender timing the bot's answers could learn about
//! *why* a crafted credentials object failed.
//!
//! ```text
//! cargo run --release --example failure_timing                          # default: AWS-LC
//! cargo run --release --no-default-features --example failure_timing    # pure Rust
//! cargo run --release --features pkcs11 --example failure_timing -- --softhsm
//! ```
//!
//! With `--softhsm` (feature `pkcs11`, SoftHSM2 installed), the same key is
//! also imported into a throwaway SoftHSM2 token, and every round times each
//! class through both keys: the in-process key and the token's, where a
//! refused unwrap is the module's error code instead of AWS-LC's. With
//! `--pkcs11 URI`, through a key in your own token instead (any RSA key:
//! each key's classes are sealed to its own public half).
//!
//! Every class decrypts 64 bytes of data under an RSA-2048 key. The
//! symmetric parts are the primitive vectors in `tests/data/primitive`
//! (written by Python `cryptography`), their secrets RSA-OAEP encrypted here:
//!
//! - `decrypts`: hash and padding valid (then the JSON is refused: a sender
//!   can only get this far with a secret they chose themselves);
//! - `hash mismatch`, `bad padding`: the symmetric failures;
//! - `OAEP failure`: a valid RSA ciphertext with one byte changed;
//! - `input ≥ modulus`: all-ones, which RSA refuses before any private-key work.
//!
//! Each round times every class once, in an order that rotates from round to
//! round, so that a slow spell of a shared machine hits all classes alike.
//! Printed per class: the median and interquartile range, and the median
//! of its paired differences to `hash mismatch` within the same round: the
//! figure that says whether a class can be told apart.

#[cfg(feature = "pkcs11")]
use telegram_passport_dev_support::softhsm;

use std::hint::black_box;
use std::time::Instant;

use base64::Engine as _;
use rsa::pkcs8::DecodePublicKey;
use telegram_passport::{backend_name, CredentialsKey, EncryptedCredentials, PrivateKey};

type Failure = Box<dyn std::error::Error>;

const USAGE: &str = "usage: failure_timing [--softhsm | --pkcs11 URI]\n\n\
    Times credentials decryption for each failure class, side by side, and\n\
    prints medians and interquartile ranges. Takes about half a minute.\n\
    --softhsm: also through the same key in a throwaway SoftHSM2 token\n\
    (feature pkcs11), in the same rounds. --pkcs11 URI: also through your\n\
    token's key (any RSA key: the classes are sealed to it).";
const ROUNDS: usize = 2000;
/// The class the others are compared with.
const REFERENCE: usize = 1;

fn data_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `(ciphertext, hash, secret)` of a primitive vector.
fn vector(name: &str) -> Result<(String, String, Vec<u8>), Failure> {
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(data_dir().join("primitive").join(name))?)?;
    let text = |field: &str| {
        json[field]
            .as_str()
            .map(str::to_owned)
            .ok_or(format!("{name}: no {field}"))
    };
    let secret = base64::engine::general_purpose::STANDARD.decode(text("secret")?)?;
    Ok((text("ciphertext")?, text("hash")?, secret))
}

/// A key to time beside the in-process one.
enum Beside {
    None,
    /// The same key, imported into a throwaway SoftHSM2 token.
    SoftHsm,
    /// A key of the caller's, in their token.
    #[cfg_attr(not(feature = "pkcs11"), allow(dead_code, reason = "refused without the feature"))]
    Pkcs11(String),
}

/// What the command line asks for; handles `--help` and refuses anything else.
fn parse_args() -> Beside {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => Beside::None,
        ["--softhsm"] => Beside::SoftHsm,
        ["--pkcs11", uri] => Beside::Pkcs11((*uri).to_owned()),
        ["--help" | "-h"] => {
            println!("{USAGE}");
            std::process::exit(0);
        }
        _ => {
            eprintln!("failure_timing: unexpected arguments\n\n{USAGE}");
            std::process::exit(2);
        }
    }
}

/// The same key in a throwaway SoftHSM2 token, which this process's
/// module reads from `SOFTHSM2_CONF`.
#[cfg(feature = "pkcs11")]
fn in_token(pem_file: &std::path::Path) -> Result<(softhsm::Token, Box<dyn CredentialsKey>), Failure> {
    let dir = std::env::temp_dir().join(format!("telegram-passport-failure-timing-{}", std::process::id()));
    let token = softhsm::Token::new(&dir, "failure-timing")?;
    token.import(pem_file, "bot", 1)?;
    std::env::set_var("SOFTHSM2_CONF", token.conf());
    let key = telegram_passport::Pkcs11Key::open(&token.uri("bot"))?;
    Ok((token, Box::new(key)))
}

/// The failure classes, sealed to `key`.
fn classes(key: &telegram_passport::PublicKey) -> Result<Vec<(&'static str, EncryptedCredentials)>, Failure> {
    let public = rsa::PublicKey::from_public_key_pem(&key.to_pem())?;
    let seal = |name: &str, tamper: &dyn Fn(&mut Vec<u8>)| -> Result<EncryptedCredentials, Failure> {
        let (data, hash, secret) = vector(name)?;
        let mut encrypted_secret = public.oaep_encrypt::<sha1::Sha1>(&secret)?;
        tamper(&mut encrypted_secret);
        Ok(EncryptedCredentials::new(data, hash, b64(&encrypted_secret)))
    };
    let untouched = |_: &mut Vec<u8>| {};
    let flip_middle = |c: &mut Vec<u8>| {
        let middle = c.len() / 2;
        c[middle] ^= 0x5a;
    };
    let all_ones = |c: &mut Vec<u8>| c.fill(0xff);
    Ok(vec![
        ("decrypts (then JSON refused)", seal("ok_pad47_len17.json", &untouched)?),
        ("hash mismatch", seal("bad_bit_flip_ciphertext.json", &untouched)?),
        ("bad padding", seal("bad_padding_byte_exceeds_length.json", &untouched)?),
        (
            "OAEP failure",
            seal("bad_padding_byte_exceeds_length.json", &flip_middle)?,
        ),
        (
            "input ≥ modulus",
            seal("bad_padding_byte_exceeds_length.json", &all_ones)?,
        ),
    ])
}

fn main() -> Result<(), Failure> {
    let beside = parse_args();
    let pem_file = data_dir().join("keys/rsa2048_pkcs1.pem");
    let pem = std::fs::read_to_string(&pem_file)?;
    #[cfg_attr(not(feature = "pkcs11"), allow(unused_mut, reason = "only a token is added"))]
    let mut keys: Vec<(&str, Box<dyn CredentialsKey>)> = vec![("in-process", Box::new(PrivateKey::from_pem(&pem)?))];
    #[cfg(feature = "pkcs11")]
    let token = match beside {
        Beside::None => None,
        Beside::SoftHsm => {
            let (token, in_token) = in_token(&pem_file)?;
            keys.push(("SoftHSM2", in_token));
            Some(token)
        }
        Beside::Pkcs11(uri) => {
            keys.push(("PKCS#11", Box::new(telegram_passport::Pkcs11Key::open(&uri)?)));
            None
        }
    };
    #[cfg(not(feature = "pkcs11"))]
    if !matches!(beside, Beside::None) {
        return Err("--softhsm and --pkcs11 need the feature pkcs11".into());
    }
    let sealed_to = |key: &dyn CredentialsKey| classes(&key.public_key());
    let classes: Vec<Vec<(&str, EncryptedCredentials)>> = keys
        .iter()
        .map(|(_, key)| sealed_to(key.as_ref()))
        .collect::<Result<_, _>>()?;
    for ((key_name, key), classes) in keys.iter().zip(&classes) {
        for (name, credentials) in classes {
            let error = credentials.decrypt(key).err().ok_or(format!("{name}: decrypted"))?;
            eprintln!("{key_name}: {name}: {error}");
        }
    }
    let class_names: Vec<&str> = classes[0].iter().map(|(name, _)| *name).collect();

    // times[key][class], every key and class timed once a round.
    let mut times = vec![vec![Vec::with_capacity(ROUNDS); class_names.len()]; keys.len()];
    for round in 0..ROUNDS {
        for i in 0..class_names.len() {
            let class = (i + round) % class_names.len();
            for (k, (_, key)) in keys.iter().enumerate() {
                let credentials = &classes[k][class].1;
                let start = Instant::now();
                black_box(credentials.decrypt(key).is_ok());
                times[k][class].push(start.elapsed().as_nanos() as f64 / 1e3);
            }
        }
    }

    println!("backend: {}; RSA-2048; {ROUNDS} rounds\n", backend_name());
    let quartiles = |values: &[f64]| {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let at = |q: usize| sorted[sorted.len() * q / 4];
        (at(1), at(2), at(3))
    };
    for (k, (key_name, _)) in keys.iter().enumerate() {
        println!("key: {key_name}\n");
        println!("| failure class | median | interquartile range | paired difference to hash mismatch: median (IQR) |");
        println!("|---|---|---|---|");
        let mut spread: f64 = 0.0;
        for (class, name) in class_names.iter().enumerate() {
            let (q1, median, q3) = quartiles(&times[k][class]);
            let differences: Vec<f64> = times[k][class]
                .iter()
                .zip(&times[k][REFERENCE])
                .map(|(a, b)| a - b)
                .collect();
            let (d1, difference, d3) = quartiles(&differences);
            println!("| {name} | {median:.1} µs | {q1:.1}–{q3:.1} µs | {difference:+.2} µs ({d1:+.1} to {d3:+.1}) |");
            if (1..4).contains(&class) {
                spread = spread.max(difference.abs());
            }
        }
        println!("\nlargest median paired difference among hash, padding and OAEP failures: {spread:.2} µs\n");
    }
    #[cfg(feature = "pkcs11")]
    if let Some(token) = token {
        let _ = std::fs::remove_dir_all(&token.dir);
    }
    Ok(())
}
