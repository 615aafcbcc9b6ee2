//! How long credentials decryption takes for each way it can fail, measured
//! side by side: what a sender timing the bot's answers could learn about
//! *why* a crafted credentials object failed.
//!
//! ```text
//! cargo run --release --example failure_timing                          # default: AWS-LC
//! cargo run --release --no-default-features --example failure_timing    # pure Rust
//! ```
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

#[path = "support/cli.rs"]
mod cli;

use std::hint::black_box;
use std::time::Instant;

use base64::Engine as _;
use rsa::pkcs8::DecodePublicKey;
use telegram_passport::{backend_name, EncryptedCredentials, PrivateKey};

type Failure = Box<dyn std::error::Error>;

const USAGE: &str = "usage: failure_timing\n\n\
    Times credentials decryption for each failure class, side by side, and\n\
    prints medians and interquartile ranges. Takes about half a minute.";
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

fn main() -> Result<(), Failure> {
    cli::no_arguments("failure_timing", USAGE);
    let pem = std::fs::read_to_string(data_dir().join("keys/rsa2048_pkcs1.pem"))?;
    let key = PrivateKey::from_pem(&pem)?;
    let public = rsa::PublicKey::from_public_key_pem(&key.public_key().to_pem())?;
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
    let classes: Vec<(&str, EncryptedCredentials)> = vec![
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
    ];
    for (name, credentials) in &classes {
        let error = credentials.decrypt(&key).err().ok_or(format!("{name}: decrypted"))?;
        eprintln!("{name}: {error}");
    }

    let mut times = vec![Vec::with_capacity(ROUNDS); classes.len()];
    for round in 0..ROUNDS {
        for i in 0..classes.len() {
            let class = (i + round) % classes.len();
            let credentials = &classes[class].1;
            let start = Instant::now();
            black_box(credentials.decrypt(&key).is_ok());
            times[class].push(start.elapsed().as_nanos() as f64 / 1e3);
        }
    }

    println!("backend: {}; RSA-2048; {ROUNDS} rounds\n", backend_name());
    println!("| failure class | median | interquartile range | paired difference to hash mismatch: median (IQR) |");
    println!("|---|---|---|---|");
    let quartiles = |values: &[f64]| {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let at = |q: usize| sorted[sorted.len() * q / 4];
        (at(1), at(2), at(3))
    };
    let mut spread: f64 = 0.0;
    for (class, (name, _)) in classes.iter().enumerate() {
        let (q1, median, q3) = quartiles(&times[class]);
        let differences: Vec<f64> = times[class].iter().zip(&times[REFERENCE]).map(|(a, b)| a - b).collect();
        let (d1, difference, d3) = quartiles(&differences);
        println!("| {name} | {median:.1} µs | {q1:.1}–{q3:.1} µs | {difference:+.2} µs ({d1:+.1} to {d3:+.1}) |");
        if (1..4).contains(&class) {
            spread = spread.max(difference.abs());
        }
    }
    println!("\nlargest median paired difference among hash, padding and OAEP failures: {spread:.2} µs");
    Ok(())
}
