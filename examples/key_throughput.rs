//! Credentials decrypted per second through each kind of key, side by side
//! in one run: an in-process key against the same key in a throwaway
//! SoftHSM2 token, on one thread and on two; and a key ring whose first key
//! misses (the credentials were sealed to the older key) against one whose
//! first key opens them (a ciphertext below the first key's modulus, so
//! that the miss costs that key's private-key operation).
//!
//! ```text
//! cargo run --release --features pkcs11 --example key_throughput
//! ```
//!
//! Needs SoftHSM2 (`softhsm2-util` and its module). Each round runs every
//! configuration for the same number of decryptions, in an order that
//! rotates from round to round; printed per configuration: the median of
//! its rounds, and its median ratio to the in-process key on one thread
//! within the same round.

use telegram_passport_dev_support::{cli, softhsm};

use std::hint::black_box;

use base64::Engine as _;
use std::path::Path;
use std::time::Instant;

use telegram_passport::client::PassportBuilder;
use telegram_passport::{
    backend_name, CredentialsKey, EncryptedCredentials, KeyRing, Pkcs11Key, PrivateKey, PublicKey,
};

type Failure = Box<dyn std::error::Error>;

const USAGE: &str = "usage: key_throughput\n\n\
    Credentials decrypted per second: in-process key and SoftHSM2 token,\n\
    one thread and two; a key ring's miss on its first key. Needs SoftHSM2.\n\
    Takes about a minute.";
const ROUNDS: usize = 15;
/// Decryptions per configuration and round (shared by the threads).
const BATCH: usize = 200;

fn sealed_to(key: &PublicKey, nonce: &str) -> Result<EncryptedCredentials, Failure> {
    let sealed = PassportBuilder::new().email("someone@example.org").seal(key, nonce)?;
    Ok(sealed.passport_data.credentials)
}

/// The modulus, big-endian, as long as the key's ciphertexts.
fn modulus(key: &PublicKey) -> Result<Vec<u8>, Failure> {
    use rsa::pkcs8::DecodePublicKey;
    use rsa::traits::PublicKeyParts;
    let key = rsa::PublicKey::from_public_key_pem(&key.to_pem())?;
    let bytes = key.n().to_be_bytes();
    let start = bytes.len().saturating_sub(key.size());
    Ok(bytes[start..].to_vec())
}

/// Decryptions per second of `BATCH` decryptions on `threads` threads.
fn rate(key: &dyn CredentialsKey, credentials: &EncryptedCredentials, threads: usize) -> f64 {
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                for _ in 0..BATCH / threads {
                    black_box(credentials.decrypt(key).is_ok());
                }
            });
        }
    });
    BATCH as f64 / start.elapsed().as_secs_f64()
}

fn main() -> Result<(), Failure> {
    cli::no_arguments("key_throughput", USAGE);
    let pem_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/keys/rsa2048_pkcs1.pem");
    let pem = std::fs::read_to_string(&pem_file)?;
    let in_process = PrivateKey::from_pem(&pem)?;

    let dir = std::env::temp_dir().join(format!("telegram-passport-key-throughput-{}", std::process::id()));
    let token = softhsm::Token::new(&dir, "throughput")?;
    token.import(&pem_file, "bot", 1)?;
    std::env::set_var("SOFTHSM2_CONF", token.conf());
    let in_token = Pkcs11Key::open(&token.uri("bot"))?;

    let older = PrivateKey::generate()?;
    let to_current = sealed_to(&in_process.public_key(), "current")?;
    // A ciphertext at or above the first key's modulus is refused before
    // any RSA work (as likely as the older modulus is larger): measure the
    // miss that costs a private-key operation.
    let current_modulus = modulus(&in_process.public_key())?;
    let to_older = loop {
        let sealed = sealed_to(&older.public_key(), "older")?;
        let secret = base64::engine::general_purpose::STANDARD.decode(&sealed.secret)?;
        if secret.as_slice() < current_modulus.as_slice() {
            break sealed;
        }
    };
    let ring = KeyRing::new(PrivateKey::from_pem(&pem)?).with_older(older);

    let configurations: Vec<(&str, &dyn CredentialsKey, &EncryptedCredentials, usize)> = vec![
        ("in-process key, 1 thread", &in_process, &to_current, 1),
        ("in-process key, 2 threads", &in_process, &to_current, 2),
        ("SoftHSM2 key, 1 thread", &in_token, &to_current, 1),
        ("SoftHSM2 key, 2 threads", &in_token, &to_current, 2),
        ("ring, first key opens, 1 thread", &ring, &to_current, 1),
        ("ring, first key misses, 1 thread", &ring, &to_older, 1),
    ];
    for (name, key, credentials, _) in &configurations {
        credentials.decrypt(*key).map_err(|e| format!("{name}: {e}"))?;
    }
    let mut rates = vec![Vec::with_capacity(ROUNDS); configurations.len()];
    for round in 0..ROUNDS {
        for i in 0..configurations.len() {
            let c = (i + round) % configurations.len();
            let (_, key, credentials, threads) = configurations[c];
            rates[c].push(rate(key, credentials, threads));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);

    let median = |values: &[f64]| {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        sorted[sorted.len() / 2]
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "backend: {}; RSA-2048; {ROUNDS} rounds of {BATCH} decryptions per configuration; {cores} logical CPUs\n",
        backend_name()
    );
    println!("| configuration | credentials per second (median) | ratio to in-process, 1 thread (median of rounds) |");
    println!("|---|---|---|");
    for (c, (name, ..)) in configurations.iter().enumerate() {
        let ratios: Vec<f64> = rates[c].iter().zip(&rates[0]).map(|(a, b)| a / b).collect();
        println!("| {name} | {:.0} | {:.2} |", median(&rates[c]), median(&ratios));
    }
    Ok(())
}
