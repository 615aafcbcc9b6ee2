//! After a passport and its files were decrypted and everything was dropped,
//! no copy of a secret, a derived key or the plaintext is left in the
//! process's memory: heap, stack or anywhere else it can write.
//!
//! The test runs itself as a child process that decrypts a passport (data
//! and files, in memory and streamed to disk), drops everything and waits;
//! the parent reads the child's memory through `/proc/<pid>/mem` and counts
//! what it finds. Linux only; elsewhere it says it is skipped. With the
//! feature `pkcs11`, the same again with the key in a SoftHSM2 token: the
//! raw RSA output and the OAEP decoding are this crate's to clear.
//!
//! ```text
//! cargo test --test memory_scan                # asserts, and prints the counts
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use rsa::pkcs1::DecodeRsaPrivateKey;
use sha2::{Digest, Sha512};
use telegram_passport::client::PassportBuilder;
use telegram_passport::{
    decrypt, CredentialsKey, Date, ElementType, FileSlot, Gender, IdDocumentData, NonceCheck, PassportData,
    PersonalDetails, PrivateKey,
};

#[cfg(feature = "pkcs11")]
use telegram_passport_dev_support::softhsm;

const CHILD: &str = "TELEGRAM_PASSPORT_MEMORY_SCAN_CHILD";
/// Set for the control run: the child keeps everything alive, and the scan
/// must find it (otherwise a clean result would prove nothing).
const KEEP: &str = "TELEGRAM_PASSPORT_MEMORY_SCAN_KEEP";
/// Set when the child opens its key in a token, by this URI.
const PKCS11_URI: &str = "TELEGRAM_PASSPORT_MEMORY_SCAN_PKCS11";
const FILE_LEN: usize = 300_000;

fn main() {
    if let Ok(dir) = std::env::var(CHILD) {
        let keep = std::env::var(KEEP).is_ok();
        child(Path::new(&dir), keep);
        return;
    }
    if !Path::new("/proc/self/mem").exists() {
        println!("memory_scan: SKIPPED (no /proc/<pid>/mem on this system)");
        println!("0 passed, 0 failed, 1 skipped");
        return;
    }
    let failures = parent();
    println!(
        "{} passed, {} failed",
        usize::from(failures == 0),
        usize::from(failures != 0)
    );
    if failures != 0 {
        std::process::exit(1);
    }
}

/// What the child is given, and the secrets the parent looks for.
struct Material {
    dir: PathBuf,
    needles: Vec<(String, Vec<u8>)>,
}

/// A distinctive file: no 16-byte run of it occurs by chance.
fn file_plaintext() -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut jpeg = vec![0xff, 0xd8];
    jpeg.extend((2..FILE_LEN).map(|_| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 24) as u8
    }));
    jpeg
}

fn prepare() -> Material {
    let dir = std::env::temp_dir().join(format!("telegram-passport-memory-scan-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let key = PrivateKey::generate().unwrap();
    let details = PersonalDetails::new("Scanned", "Person", Date::new("01.02.1990"), Gender::Female, "DK", "DK");
    let jpeg = file_plaintext();
    let sealed = PassportBuilder::new()
        .personal_details(&details)
        .id_document(ElementType::Passport, &IdDocumentData::new("SCAN123456", None))
        .file(ElementType::Passport, FileSlot::FrontSide, "front", jpeg.clone())
        .seal(&key.public_key(), "nonce")
        .unwrap();
    std::fs::write(dir.join("key.pem"), key.to_pem().unwrap().as_bytes()).unwrap();
    std::fs::write(dir.join("passport.json"), sealed.passport_data.to_json()).unwrap();
    std::fs::write(dir.join("front.enc"), &sealed.files["front"]).unwrap();

    // The secrets, as the parent learns them by decrypting the credentials
    // itself; the credentials secret with RustCrypto's RSA directly.
    let credentials = sealed.passport_data.credentials.decrypt(&key).unwrap();
    let mut needles = Vec::new();
    let rsa_key = rsa::PrivateKey::from_pkcs1_pem(&key.to_pem().unwrap()).unwrap();
    let encrypted_secret = base64::engine::general_purpose::STANDARD
        .decode(&sealed.passport_data.credentials.secret)
        .unwrap();
    let credentials_secret = rsa_key.oaep_decrypt::<sha1::Sha1>(&encrypted_secret).unwrap();
    let credentials_hash = base64::engine::general_purpose::STANDARD
        .decode(&sealed.passport_data.credentials.hash)
        .unwrap();
    needles.push(("credentials secret".to_owned(), credentials_secret.clone()));
    let material = Sha512::new()
        .chain_update(&credentials_secret)
        .chain_update(&credentials_hash)
        .finalize();
    needles.push(("credentials AES key".to_owned(), material[..32].to_vec()));
    // A freed block's first 16 bytes hold the allocator's own links: the
    // rest of the derived key and the IV is what a freed copy still shows.
    needles.push(("credentials derived key and IV".to_owned(), material[16..64].to_vec()));
    let mut derived = |name: &str, secret: &[u8], hash: &[u8]| {
        needles.push((format!("{name} secret"), secret.to_vec()));
        let material = Sha512::new().chain_update(secret).chain_update(hash).finalize();
        needles.push((format!("{name} AES key"), material[..32].to_vec()));
        needles.push((format!("{name} derived key and IV"), material[16..64].to_vec()));
    };
    for element in [ElementType::PersonalDetails, ElementType::Passport] {
        let value = credentials.secure_value(element).unwrap();
        let data = value.data.as_ref().unwrap();
        derived(
            &format!("{element} data"),
            data.secret().expose(),
            data.data_hash().as_bytes(),
        );
    }
    let front = credentials
        .secure_value(ElementType::Passport)
        .unwrap()
        .front_side
        .as_ref()
        .unwrap();
    derived("file", front.secret().expose(), front.file_hash().as_bytes());
    // Every 64-byte piece of the file's plaintext (after its first block).
    for (i, piece) in jpeg.chunks_exact(64).enumerate().skip(1) {
        needles.push((format!("file plaintext #{i}"), piece.to_vec()));
    }
    Material { dir, needles }
}

/// The child: decrypt everything as a service would, drop it (or, for the
/// control run, keep it), and wait.
fn child(dir: &Path, keep: bool) {
    {
        let pem = std::fs::read_to_string(dir.join("key.pem")).unwrap();
        let key: Box<dyn CredentialsKey> = match std::env::var(PKCS11_URI) {
            Ok(uri) => open_in_token(&uri),
            Err(_) => Box::new(PrivateKey::from_pem(&pem).unwrap()),
        };
        let data = PassportData::from_json(&std::fs::read(dir.join("passport.json")).unwrap()).unwrap();
        let passport = decrypt(&key, &data, NonceCheck::Expect("nonce")).unwrap();
        assert_eq!(passport.personal_details().unwrap().first_name, "Scanned");
        let document = passport.identity_documents().next().unwrap();
        let front = document.front_side().unwrap();
        let encrypted = std::fs::read(dir.join("front.enc")).unwrap();
        let jpeg = front.decrypt(encrypted.clone()).unwrap();
        assert_eq!(jpeg.len(), FILE_LEN);
        // Hashed on a second thread, whose stack outlives it in a cache.
        let credentials = data.credentials.decrypt(&key).unwrap();
        let front_credentials = credentials
            .secure_value(ElementType::Passport)
            .unwrap()
            .front_side
            .as_ref()
            .unwrap();
        let pipelined = front_credentials.decrypt_pipelined(encrypted.clone()).unwrap();
        assert_eq!(pipelined.len(), FILE_LEN);
        front.decrypt_to_path(&encrypted[..], &dir.join("front.jpg")).unwrap();
        if keep {
            std::mem::forget((passport, jpeg, pipelined, credentials));
        }
    }
    let out = std::io::stdout();
    writeln!(out.lock(), "ready").unwrap();
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
}

#[cfg(feature = "pkcs11")]
fn open_in_token(uri: &str) -> Box<dyn CredentialsKey> {
    Box::new(telegram_passport::Pkcs11Key::open(uri).unwrap())
}

#[cfg(not(feature = "pkcs11"))]
fn open_in_token(_: &str) -> Box<dyn CredentialsKey> {
    unreachable!("the parent asks for a token only with the feature pkcs11")
}

/// Counts each needle in every writable region of `pid`'s memory, by region kind.
fn scan(pid: u32, needles: &[(String, Vec<u8>)]) -> BTreeMap<String, BTreeMap<&'static str, usize>> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mut mem = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    let mut found: BTreeMap<String, BTreeMap<&'static str, usize>> = BTreeMap::new();
    for line in maps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if !fields[1].starts_with("rw") {
            continue;
        }
        let (start, end) = fields[0].split_once('-').unwrap();
        let (start, end) = (
            u64::from_str_radix(start, 16).unwrap(),
            u64::from_str_radix(end, 16).unwrap(),
        );
        let kind = match fields.get(5) {
            Some(&"[stack]") => "stack",
            Some(&"[heap]") | None => "heap",
            Some(_) => "other",
        };
        let mut region = vec![0u8; (end - start) as usize];
        if mem.seek(SeekFrom::Start(start)).is_err() || mem.read_exact(&mut region).is_err() {
            continue;
        }
        for (name, needle) in needles {
            let hits = memchr::memmem::find_iter(&region, needle).count();
            if hits > 0 {
                *found.entry(name.clone()).or_default().entry(kind).or_default() += hits;
            }
        }
    }
    found
}

/// Runs the child and scans it once it is ready.
fn run_child(
    material: &Material,
    keep: bool,
    env: &[(&str, String)],
) -> BTreeMap<String, BTreeMap<&'static str, usize>> {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .env(CHILD, &material.dir)
        .envs(env.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    if keep {
        command.env(KEEP, "1");
    }
    let mut child = command.spawn().unwrap();
    let mut ready = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready.trim(), "ready", "the child did not finish decrypting");
    let found = scan(child.id(), &material.needles);
    child.stdin.take().unwrap().write_all(b"\n").unwrap();
    assert!(child.wait().unwrap().success());
    found
}

fn parent() -> usize {
    let material = prepare();
    let mut failures = scan_with(&material, "the key in this process", &[]);
    failures += scan_in_token(&material);
    let _ = std::fs::remove_dir_all(&material.dir);
    failures
}

/// The same scan with the key in a SoftHSM2 token of its own.
#[cfg(all(feature = "pkcs11", not(no_softhsm)))]
fn scan_in_token(material: &Material) -> usize {
    let token = softhsm::Token::new(&material.dir.join("token"), "memory-scan").unwrap();
    token.import(&material.dir.join("key.pem"), "bot", 1).unwrap();
    let env = [
        ("SOFTHSM2_CONF", token.conf().display().to_string()),
        (PKCS11_URI, token.uri("bot")),
    ];
    // The token's raw RSA output is as good as the secret: asked here, of
    // the same token, it is one more needle (past the first 16 bytes, which
    // a freed block's allocator links overwrite).
    let mut material = Material {
        dir: material.dir.clone(),
        needles: material.needles.clone(),
    };
    let encoded = raw_rsa_in_token(&token, &material.dir);
    material
        .needles
        .push(("raw RSA output (OAEP encoded)".to_owned(), encoded[16..80].to_vec()));
    scan_with(&material, "the key in a SoftHSM2 token", &env)
}

/// `CKM_RSA_X_509` of the credentials' encrypted secret by the token's key.
#[cfg(all(feature = "pkcs11", not(no_softhsm)))]
fn raw_rsa_in_token(token: &softhsm::Token, dir: &Path) -> Vec<u8> {
    use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
    use cryptoki::mechanism::Mechanism;
    use cryptoki::object::{Attribute, ObjectClass};
    use cryptoki::session::UserType;
    use cryptoki::types::AuthPin;

    // SoftHSM2 reads its configuration when initialised: this process
    // initialises it here, and only here.
    std::env::set_var("SOFTHSM2_CONF", token.conf());
    let context = Pkcs11::new(&token.module).unwrap();
    context
        .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();
    let slot = context.get_slots_with_token().unwrap()[0];
    let session = context.open_ro_session(slot).unwrap();
    session
        .login(UserType::User, Some(&AuthPin::from(softhsm::PIN)))
        .unwrap();
    let key = session
        .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)])
        .unwrap()[0];
    let data = PassportData::from_json(&std::fs::read(dir.join("passport.json")).unwrap()).unwrap();
    let encrypted = base64::engine::general_purpose::STANDARD
        .decode(&data.credentials.secret)
        .unwrap();
    let encoded = session.decrypt(&Mechanism::RsaX509, key, &encrypted).unwrap();
    drop(session);
    context.finalize().unwrap();
    encoded
}

#[cfg(all(feature = "pkcs11", no_softhsm))]
fn scan_in_token(_: &Material) -> usize {
    println!("memory_scan: the key in a SoftHSM2 token: ignored, needs SoftHSM2");
    0
}

#[cfg(not(feature = "pkcs11"))]
fn scan_in_token(_: &Material) -> usize {
    0
}

/// A control run, then the run that counts; returns 1 if anything was left.
fn scan_with(material: &Material, what: &str, env: &[(&str, String)]) -> usize {
    // Control: with everything alive, the scan must see the plaintext and
    // every secret the passport holds.
    let alive = run_child(material, true, env);
    let unseen: Vec<&String> = material
        .needles
        .iter()
        .map(|(name, _)| name)
        .filter(|name| {
            // Never kept alive, even by the control run.
            !name.contains("AES key")
                && !name.contains("derived key")
                && !name.starts_with("credentials secret")
                && !name.starts_with("raw RSA output")
        })
        .filter(|name| !alive.contains_key(*name))
        .collect();
    if !unseen.is_empty() {
        println!("memory_scan ({what}): FAILED: the control run did not find {unseen:?}: the scan cannot see");
        return 1;
    }
    let found = run_child(material, false, env);

    let mut totals: BTreeMap<(String, &'static str), usize> = BTreeMap::new();
    for (name, kinds) in &found {
        let group = if name.starts_with("file plaintext") {
            "file plaintext (64-byte pieces)".to_owned()
        } else {
            name.clone()
        };
        for (kind, hits) in kinds {
            *totals.entry((group.clone(), kind)).or_default() += hits;
        }
    }
    println!("memory_scan ({what}): copies left after everything was dropped");
    for ((name, kind), hits) in &totals {
        println!("  {name:<40} {kind:<6} {hits}");
    }
    let total: usize = totals.values().sum();
    println!("  total: {total}");
    if total != 0 {
        println!("memory_scan ({what}): FAILED: {total} copies of secret material left");
        return 1;
    }
    0
}
