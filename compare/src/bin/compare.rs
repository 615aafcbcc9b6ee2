//! Times the same inputs through this crate and through OpenSSL, in one
//! process, and prints our time over OpenSSL's: the ratio we track
//! (absolute times on a shared machine are noisy; ratios much less so).
//!
//! ```text
//! cargo run --release -p telegram-passport-compare --features openssl --bin compare                                  # default: AWS-LC
//! cargo run --release -p telegram-passport-compare --no-default-features --features openssl --bin compare    # pure Rust
//! ```
//!
//! The inputs are those of `benches/payloads` (shared with `compare/peers.sh`,
//! which compares python-telegram-bot on the same bytes): RSA-2048 and
//! RSA-4096 credentials, a typical whole `PassportData`, element data, and
//! files of 100 KiB, 1 MiB and 10 MiB. Each case alternates blocks of our runs
//! and OpenSSL's and reports medians. Buffers are prepared outside the timed
//! region on both sides.

use telegram_passport_dev_support::cli;

use std::hint::black_box;
use std::time::{Duration, Instant};

use base64::Engine as _;
use openssl::pkey::Private;
use openssl::rsa::{Padding, Rsa};
use openssl::symm::{Cipher, Crypter, Mode};
use telegram_passport::client;
use telegram_passport::{
    backend_name, decrypt, DataCredentials, Date, Gender, NonceCheck, PassportData, PersonalDetails,
};

#[path = "../../../benches/payloads/mod.rs"]
mod payloads;

use payloads::{Failure, TestFile, TestKey};

fn b64(text: &str) -> Result<Vec<u8>, Failure> {
    Ok(base64::engine::general_purpose::STANDARD.decode(text)?)
}

/// The symmetric steps with OpenSSL: SHA-512 → key/IV, AES-256-CBC without
/// padding into `out`, SHA-256 check, padding strip. Returns the plaintext range.
fn openssl_open(data: &[u8], secret: &[u8], hash: &[u8], out: &mut [u8]) -> Result<std::ops::Range<usize>, Failure> {
    let mut hasher = openssl::sha::Sha512::new();
    hasher.update(secret);
    hasher.update(hash);
    let material = hasher.finish();
    let mut crypter = Crypter::new(
        Cipher::aes_256_cbc(),
        Mode::Decrypt,
        &material[..32],
        Some(&material[32..48]),
    )?;
    crypter.pad(false);
    let mut len = crypter.update(data, out)?;
    len += crypter.finalize(&mut out[len..])?;
    if openssl::sha::sha256(&out[..len]) != hash {
        return Err("hash mismatch".into());
    }
    let padding = usize::from(out[0]);
    if !(32..=len).contains(&padding) {
        return Err("bad padding".into());
    }
    Ok(padding..len)
}

/// RSA-OAEP (SHA-1) with OpenSSL, then the symmetric steps, then JSON.
fn openssl_credentials(rsa: &Rsa<Private>, credentials: &serde_json::Value) -> Result<serde_json::Value, Failure> {
    let field = |name: &str| b64(credentials[name].as_str().unwrap_or_default());
    let (data, hash, encrypted_secret) = (field("data")?, field("hash")?, field("secret")?);
    let mut secret = vec![0u8; rsa.size() as usize];
    let len = rsa.private_decrypt(&encrypted_secret, &mut secret, Padding::PKCS1_OAEP)?;
    let mut out = vec![0u8; data.len() + 16];
    let range = openssl_open(&data, &secret[..len], &hash, &mut out)?;
    Ok(serde_json::from_slice(&out[range])?)
}

/// A whole `PassportData` with OpenSSL and generic JSON: parse, credentials,
/// then every element's data. Returns the number of decoded fields.
fn openssl_passport(rsa: &Rsa<Private>, json: &[u8]) -> Result<usize, Failure> {
    let passport: serde_json::Value = serde_json::from_slice(json)?;
    let credentials = openssl_credentials(rsa, &passport["credentials"])?;
    let mut fields = 0;
    for element in passport["data"].as_array().ok_or("no data")? {
        let (Some(data), Some(kind)) = (element["data"].as_str(), element["type"].as_str()) else {
            continue;
        };
        let keys = &credentials["secure_data"][kind]["data"];
        let secret = b64(keys["secret"].as_str().unwrap_or_default())?;
        let hash = b64(keys["data_hash"].as_str().unwrap_or_default())?;
        let data = b64(data)?;
        let mut out = vec![0u8; data.len() + 16];
        let range = openssl_open(&data, &secret, &hash, &mut out)?;
        let value: serde_json::Value = serde_json::from_slice(&out[range])?;
        fields += value.as_object().map_or(0, serde_json::Map::len);
    }
    Ok(fields)
}

/// Median time of `ours` and of `theirs`, measured in alternating blocks
/// (five each), each block after one untimed warm-up run: on some CPUs a
/// burst of wide AES instructions changes the clock for a while, which
/// would otherwise be charged to whatever runs next.
fn race(runs: usize, mut ours: impl FnMut() -> Duration, mut theirs: impl FnMut() -> Duration) -> (Duration, Duration) {
    const BLOCKS: usize = 5;
    let (mut a, mut b) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    for _ in 0..BLOCKS {
        ours();
        a.extend((0..runs / BLOCKS).map(|_| ours()));
        theirs();
        b.extend((0..runs / BLOCKS).map(|_| theirs()));
    }
    a.sort();
    b.sort();
    (a[a.len() / 2], b[b.len() / 2])
}

fn timed<T>(f: impl FnOnce() -> T) -> Duration {
    let start = Instant::now();
    black_box(f());
    start.elapsed()
}

fn row(case: &str, (ours, theirs): (Duration, Duration)) {
    let ratio = ours.as_secs_f64() / theirs.as_secs_f64();
    println!("| {case} | {ours:.2?} | {theirs:.2?} | {ratio:.2} |");
}

const USAGE: &str = "usage: compare\n\n\
    Times this crate and OpenSSL on the same inputs, in one process, and prints\n\
    a table of medians and our time over OpenSSL's. Takes about ten seconds.";

fn main() -> Result<(), Failure> {
    cli::no_arguments("compare", USAGE);
    println!(
        "backend: {}; OpenSSL: {}\n",
        backend_name(),
        openssl::version::version()
    );
    println!("| case | ours (median) | OpenSSL (median) | ours / OpenSSL |");
    println!("|---|---|---|---|");

    for bits in payloads::KEY_BITS {
        let TestKey { pem, key, .. } = payloads::test_key(bits)?;
        let rsa = Rsa::private_key_from_pem(pem.as_bytes())?;
        let credentials = payloads::credentials(&key)?;
        let credentials_json = serde_json::to_value(&credentials)?;
        openssl_credentials(&rsa, &credentials_json)?;
        let runs = if bits == 2048 { 400 } else { 100 };
        row(
            &payloads::credentials_case(bits),
            race(
                runs,
                || timed(|| credentials.decrypt(&key).map(|c| c.nonce().len())),
                || timed(|| openssl_credentials(&rsa, &credentials_json).ok()),
            ),
        );
    }

    let TestKey { pem, key, .. } = payloads::test_key(2048)?;
    let rsa = Rsa::private_key_from_pem(pem.as_bytes())?;
    let passport_json = payloads::typical(&key)?.passport_data.to_json().into_bytes();
    openssl_passport(&rsa, &passport_json)?;
    row(
        payloads::PASSPORT_CASE,
        race(
            400,
            || {
                timed(|| {
                    let data = PassportData::from_json(&passport_json).ok()?;
                    decrypt(&key, &data, NonceCheck::Skip).ok()
                })
            },
            || timed(|| openssl_passport(&rsa, &passport_json).ok()),
        ),
    );

    let mut details = PersonalDetails::new("Anna", "Ivanova", Date::new("14.03.1991"), Gender::Female, "RU", "DE");
    details.first_name_native = Some("Анна".to_owned());
    details.last_name_native = Some("Иванова".to_owned());
    details.middle_name = Some("Sergeyevna".to_owned());
    details.middle_name_native = Some("Сергеевна".to_owned());
    details.first_name = "Anna-Maria".to_owned();
    let json = serde_json::to_vec(&details)?;
    let encrypted = client::encrypt(&json)?;
    let data_credentials = DataCredentials::new(encrypted.hash, encrypted.secret.clone());
    let mut out = vec![0u8; encrypted.data.len() + 16];
    let element_case = format!("element data, {}-byte PersonalDetails (symmetric + decode)", json.len());
    row(
        &element_case,
        race(
            20_000,
            || {
                let data = encrypted.data.clone();
                timed(|| {
                    let plaintext = data_credentials.decrypt(data).ok()?;
                    serde_json::from_slice::<PersonalDetails>(&plaintext).ok()
                })
            },
            || {
                timed(|| {
                    let range = openssl_open(
                        &encrypted.data,
                        encrypted.secret.expose(),
                        encrypted.hash.as_bytes(),
                        &mut out,
                    )
                    .ok()?;
                    serde_json::from_slice::<PersonalDetails>(&out[range]).ok()
                })
            },
        ),
    );

    for size in payloads::FILE_SIZES {
        let TestFile {
            encrypted, credentials, ..
        } = payloads::file(size)?;
        let runs = (600 << 20) / size.max(1 << 20) / 10 * 10;
        let mut buf = encrypted.data.clone();
        let mut out = vec![0u8; encrypted.data.len() + 16];
        let ours_in_place = |buf: &mut Vec<u8>| {
            buf.copy_from_slice(&encrypted.data);
            timed(|| credentials.decrypt_in_place(buf).map(<[u8]>::len))
        };
        let openssl_decrypt_then_hash = |out: &mut Vec<u8>| {
            let (secret, hash) = (encrypted.secret.expose(), encrypted.hash.as_bytes());
            timed(|| openssl_open(&encrypted.data, secret, hash, out).ok())
        };
        row(
            &format!("{}, vs OpenSSL decrypt-then-hash", payloads::file_case(size)),
            race(runs, || ours_in_place(&mut buf), || openssl_decrypt_then_hash(&mut out)),
        );
        if size != 10 << 20 {
            continue;
        }
        let sha_only = || timed(|| openssl::sha::sha256(&encrypted.data));
        let name = payloads::size_name(size);
        row(
            &format!("{}, vs OpenSSL SHA-256 alone", payloads::file_case(size)),
            race(runs, || ours_in_place(&mut buf), sha_only),
        );
        row(
            &format!("{name} file, pipelined on two threads, vs OpenSSL SHA-256 alone"),
            race(
                runs,
                || {
                    let data = encrypted.data.clone();
                    timed(|| credentials.decrypt_pipelined(data).map(|p| p.len()))
                },
                sha_only,
            ),
        );
        row(
            &format!("{name} file, streaming in 64 KiB reads, vs OpenSSL SHA-256 alone"),
            race(
                runs,
                || timed(|| credentials.decrypt_stream(&encrypted.data[..], std::io::sink()).is_ok()),
                sha_only,
            ),
        );
    }
    Ok(())
}
