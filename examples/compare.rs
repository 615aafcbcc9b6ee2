//! Times the same inputs through this crate and through OpenSSL, in one
//! process, and prints our time over OpenSSL's: the ratio we track
//! (absolute times on a shared machine are noisy; ratios much less so).
//!
//! ```text
//! cargo run --release --features openssl-compare --example compare
//! cargo run --release --features openssl-compare,aws-lc --example compare
//! ```
//!
//! Each case alternates blocks of our runs and OpenSSL's and reports medians.
//! Buffers are prepared outside the timed region on both sides.

use std::hint::black_box;
use std::time::{Duration, Instant};

use base64::Engine as _;
use openssl::pkey::Private;
use openssl::rsa::{Padding, Rsa};
use openssl::symm::{Cipher, Crypter, Mode};
use telegram_passport::client::{self, PassportBuilder};
use telegram_passport::{
    backend_name, DataCredentials, Date, EncryptedCredentials, FileCredentials, Gender, PersonalDetails, PrivateKey,
};

type Failure = Box<dyn std::error::Error>;

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
fn openssl_credentials(rsa: &Rsa<Private>, credentials: &EncryptedCredentials) -> Result<usize, Failure> {
    let (data, hash, encrypted_secret) = (
        b64(&credentials.data)?,
        b64(&credentials.hash)?,
        b64(&credentials.secret)?,
    );
    let mut secret = vec![0u8; rsa.size() as usize];
    let len = rsa.private_decrypt(&encrypted_secret, &mut secret, Padding::PKCS1_OAEP)?;
    let mut out = vec![0u8; data.len() + 16];
    let range = openssl_open(&data, &secret[..len], &hash, &mut out)?;
    let json: serde_json::Value = serde_json::from_slice(&out[range])?;
    Ok(json.as_object().map_or(0, |o| o.len()))
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

fn main() -> Result<(), Failure> {
    println!(
        "backend: {}; OpenSSL: {}\n",
        backend_name(),
        openssl::version::version()
    );
    println!("| case | ours (median) | OpenSSL (median) | ours / OpenSSL |");
    println!("|---|---|---|---|");

    for (name, runs) in [("rsa2048_pkcs1.pem", 400), ("rsa4096_pkcs1.pem", 100)] {
        let pem = std::fs::read_to_string(format!("{}/tests/data/keys/{name}", env!("CARGO_MANIFEST_DIR")))?;
        let key = PrivateKey::from_pem(&pem)?;
        let rsa = Rsa::private_key_from_pem(pem.as_bytes())?;
        let sealed = PassportBuilder::new()
            .email("a@example.org")
            .seal(&key.public_key(), "nonce")?;
        let credentials = &sealed.passport_data.credentials;
        openssl_credentials(&rsa, credentials)?;
        let case = format!("credentials, RSA-{} (OAEP + symmetric + JSON)", key.bits());
        row(
            &case,
            race(
                runs,
                || timed(|| credentials.decrypt(&key).map(|c| c.nonce().len())),
                || timed(|| openssl_credentials(&rsa, credentials).ok()),
            ),
        );
    }

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

    let size = 10 << 20;
    let encrypted = client::encrypt(&vec![0x5a; size])?;
    let file = FileCredentials::new(encrypted.hash, encrypted.secret.clone());
    let mut buf = encrypted.data.clone();
    let mut out = vec![0u8; encrypted.data.len() + 16];
    let ours_in_place = |buf: &mut Vec<u8>| {
        buf.copy_from_slice(&encrypted.data);
        timed(|| file.decrypt_in_place(buf).map(<[u8]>::len))
    };
    let sha_only = || timed(|| openssl::sha::sha256(&encrypted.data));
    let file_case = "10 MiB file, decrypt + verify, in memory";
    row(
        &format!("{file_case} vs OpenSSL SHA-256 alone"),
        race(60, || ours_in_place(&mut buf), sha_only),
    );
    row(
        &format!("{file_case} vs OpenSSL decrypt-then-hash"),
        race(
            60,
            || ours_in_place(&mut buf),
            || {
                timed(|| {
                    openssl_open(
                        &encrypted.data,
                        encrypted.secret.expose(),
                        encrypted.hash.as_bytes(),
                        &mut out,
                    )
                    .ok()
                })
            },
        ),
    );
    row(
        "10 MiB file, pipelined on two threads, vs OpenSSL SHA-256 alone",
        race(
            60,
            || {
                let data = encrypted.data.clone();
                timed(|| file.decrypt_pipelined(data).map(|p| p.len()))
            },
            sha_only,
        ),
    );
    row(
        "10 MiB file, streaming in 64 KiB reads, vs OpenSSL SHA-256 alone",
        race(
            60,
            || timed(|| file.decrypt_stream(&encrypted.data[..], std::io::sink()).is_ok()),
            sha_only,
        ),
    );
    Ok(())
}
