//! Key loading against keys written by independent implementations
//! (Python `cryptography`, tests/data/generate.py; the `openssl` and
//! `ssh-keygen` commands, tests/data/keys/README.md): every form a key comes
//! in loads, and every mistake is named with what to do; the `keygen`
//! example; and how a setting's list of keys is split.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::data_dir;
use telegram_passport::{Error, KeyFound, PrivateKey, PublicKey};

fn read(name: &str) -> String {
    std::fs::read_to_string(data_dir().join("keys").join(name)).unwrap()
}

fn read_bytes(name: &str) -> Vec<u8> {
    std::fs::read(data_dir().join("keys").join(name)).unwrap()
}

#[test]
fn every_supported_encoding_loads_the_same_key() {
    let reference = read("rsa2048_public.pem");
    let keys = [
        PrivateKey::from_pem(&read("rsa2048_pkcs1.pem")).unwrap(),
        PrivateKey::from_pem(&read("rsa2048_pkcs1_crlf.pem")).unwrap(),
        PrivateKey::from_pem(&read("rsa2048_pkcs8.pem")).unwrap(),
        PrivateKey::from_der(&read_bytes("rsa2048_pkcs1.der")).unwrap(),
        PrivateKey::from_der(&read_bytes("rsa2048_pkcs8.der")).unwrap(),
    ];
    assert!(read("rsa2048_pkcs1_crlf.pem").contains("\r\n"));
    for key in &keys {
        assert_eq!(key.bits(), 2048);
        // Byte-exact against the SPKI PEM the other implementation wrote.
        assert_eq!(key.public_key().to_pem(), reference);
    }
    assert_eq!(PublicKey::from_pem(&reference).unwrap(), keys[0].public_key());
}

/// Text around the key is passed over as OpenSSL passes it over; the
/// base64 may be wrapped at any width.
#[test]
fn a_byte_order_mark_text_around_the_key_and_a_flattened_key_load_as_openssl_reads_them() {
    let reference = read("rsa2048_public.pem");
    let bom = read("rsa2048_pkcs1_bom_and_text.pem");
    assert!(bom.starts_with('\u{feff}') && bom.contains("Bag Attributes") && bom.trim_end().ends_with("service."));
    let bundle = read("rsa2048_certificate_and_key.pem");
    assert!(bundle.starts_with("-----BEGIN CERTIFICATE-----"));
    let one_line = read("rsa2048_pkcs8_one_line.txt");
    assert_eq!(one_line.lines().count(), 1);
    let indented: String = read("rsa2048_pkcs1.pem")
        .lines()
        .map(|line| format!("    {line}  \n"))
        .collect();
    for text in [bom, bundle, one_line, indented] {
        let key = PrivateKey::from_pem(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(key.public_key().to_pem(), reference);
    }
}

fn pem(name: &str) -> Error {
    PrivateKey::from_pem(&read(name)).unwrap_err()
}

fn der(name: &str) -> Error {
    PrivateKey::from_der(&read_bytes(name)).unwrap_err()
}

fn key_format(found: KeyFound) -> impl Fn(&Error) -> bool {
    move |error| matches!(error, Error::KeyFormat { found: f } if *f == found)
}

/// Whether an error is the one a case expects.
type Is = Box<dyn Fn(&Error) -> bool>;

/// Each mistake: the error, and words of its message that say what was
/// found and what to do.
#[test]
fn each_key_mistake_is_named_with_what_to_do() {
    use KeyFound::*;
    let der_as_text = String::from_utf8_lossy(&read_bytes("rsa2048_pkcs1.der")).into_owned();
    let escaped_in_a_setting = read("rsa2048_pkcs1_escaped_newlines.txt");
    assert!(escaped_in_a_setting.contains("-----\\nMII") && escaped_in_a_setting.lines().count() == 1);
    let cases: Vec<(&str, Error, Is, &[&str])> = vec![
        (
            "public key: SPKI",
            pem("rsa2048_public.pem"),
            Box::new(key_format(PublicKey)),
            &[
                "a public key where the private key belongs",
                "BEGIN PRIVATE KEY",
                "goes to BotFather",
            ],
        ),
        (
            "public key: PKCS#1",
            pem("rsa2048_public_pkcs1.pem"),
            Box::new(key_format(PublicKey)),
            &["a public key"],
        ),
        (
            "OpenSSH public key",
            pem("openssh_rsa2048.pub"),
            Box::new(key_format(OpenSshPublicKey)),
            &["an OpenSSH public key", "openssl genrsa"],
        ),
        (
            "certificate",
            pem("rsa2048_certificate.pem"),
            Box::new(key_format(Certificate)),
            &["a certificate, not a private key", "needs no certificate"],
        ),
        (
            "certificate request",
            pem("rsa2048_certificate_request.pem"),
            Box::new(key_format(CertificateRequest)),
            &["a certificate request"],
        ),
        (
            "encrypted: PKCS#8",
            pem("rsa2048_encrypted_pkcs8.pem"),
            Box::new(|e: &Error| matches!(e, Error::KeyEncrypted)),
            &["encrypted with a password", "openssl rsa -in"],
        ),
        (
            "encrypted: Proc-Type: 4,ENCRYPTED",
            pem("rsa2048_encrypted_legacy.pem"),
            Box::new(|e: &Error| matches!(e, Error::KeyEncrypted)),
            &["encrypted with a password"],
        ),
        (
            "OpenSSH private key",
            pem("openssh_rsa2048.key"),
            Box::new(key_format(OpenSsh)),
            &["an OpenSSH key", "openssl genrsa"],
        ),
        (
            "DER read as text",
            PrivateKey::from_pem(&der_as_text).unwrap_err(),
            Box::new(key_format(Der)),
            &["binary data, not PEM text", "openssl pkey -inform DER"],
        ),
        (
            "PEM given as DER",
            PrivateKey::from_der(read("rsa2048_pkcs1.pem").as_bytes()).unwrap_err(),
            Box::new(key_format(Pem)),
            &["PEM text", "load it as PEM"],
        ),
        (
            "EC: PKCS#8",
            pem("ec_p256_pkcs8.pem"),
            Box::new(not_rsa("an EC key")),
            &["an EC key, not RSA", "openssl genrsa"],
        ),
        (
            "EC: SEC1",
            pem("ec_p256_sec1.pem"),
            Box::new(not_rsa("an EC key")),
            &["an EC key, not RSA"],
        ),
        (
            "EC: as openssl ecparam -genkey writes it",
            pem("ec_p256_parameters_and_key.pem"),
            Box::new(not_rsa("an EC key")),
            &["an EC key, not RSA"],
        ),
        (
            "Ed25519",
            pem("ed25519_pkcs8.pem"),
            Box::new(not_rsa("an Ed25519 key")),
            &["an Ed25519 key, not RSA"],
        ),
        (
            "RSA-PSS",
            pem("rsa_pss2048_pkcs8.pem"),
            Box::new(not_rsa("an RSA-PSS key (signatures only)")),
            &["RSA-PSS"],
        ),
        (
            "1024 bits",
            pem("rsa1024_pkcs1.pem"),
            Box::new(|e: &Error| matches!(e, Error::KeySize { bits: 1024 })),
            &["1024 bits", "2048 to 4096"],
        ),
        (
            "8192 bits",
            pem("rsa8192_pkcs1.pem"),
            Box::new(|e: &Error| matches!(e, Error::KeySize { bits: 8192 })),
            &["8192 bits", "2048 to 4096"],
        ),
        (
            "no PEM at all",
            PrivateKey::from_pem("TELEGRAM_BOT_TOKEN=123:abc\n").unwrap_err(),
            Box::new(key_format(NotPem)),
            &["not a key", "BEGIN RSA PRIVATE KEY"],
        ),
        (
            "nothing",
            PrivateKey::from_pem(" \u{feff}\n").unwrap_err(),
            Box::new(key_format(Empty)),
            &["no key"],
        ),
        (
            "base64 without its lines",
            pem("rsa2048_pkcs8_base64_only.txt"),
            Box::new(key_format(Unarmoured)),
            &["without its -----BEGIN and -----END lines"],
        ),
        (
            "cut short",
            pem("rsa2048_pkcs1_no_end.pem"),
            Box::new(key_format(Incomplete)),
            &["cut short", "copy the whole key"],
        ),
        (
            "\\n for line breaks",
            PrivateKey::from_pem(&escaped_in_a_setting).unwrap_err(),
            Box::new(key_format(EscapedNewlines)),
            &["written as \\n", "real line breaks"],
        ),
        (
            "two keys",
            pem("two_keys.pem"),
            Box::new(key_format(SeveralKeys { count: 2 })),
            &["2 private keys where one belongs"],
        ),
        (
            "parameters only",
            pem("ec_p256_parameters.pem"),
            Box::new(key_format(OtherPem {
                label: "\"EC PARAMETERS\"".to_owned(),
            })),
            &["a PEM block of type \"EC PARAMETERS\", not a private key"],
        ),
        (
            "damaged",
            pem("garbage.pem"),
            Box::new(|e: &Error| matches!(e, Error::KeyMalformed { .. })),
            &["a damaged key"],
        ),
    ];
    for (case, error, is, words) in &cases {
        assert!(is(error), "{case}: {error:?}");
        let message = error.to_string();
        for word in *words {
            assert!(message.contains(word), "{case}: {message:?} does not say {word:?}");
        }
        assert!(!message.contains('\n'), "{case}: {message:?}");
    }
    // Two mistakes are said alike only where they are one mistake in
    // several forms (the group before a case's colon).
    let group = |case: &str| case.split_once(':').map_or(case, |(group, _)| group).to_owned();
    for (case, error, _, _) in &cases {
        for (other, other_error, _, _) in &cases {
            let alike = error.to_string() == other_error.to_string();
            assert_eq!(alike, group(case) == group(other), "{case} and {other}");
        }
    }
}

fn not_rsa(expected: &'static str) -> impl Fn(&Error) -> bool {
    move |error| matches!(error, Error::KeyNotRsa { found } if found == expected)
}

/// The same mistakes as DER bytes.
#[test]
fn der_mistakes_are_named_as_pem_ones_are() {
    let as_der = |name: &str| {
        use base64::Engine as _;
        let body: String = read(name).lines().filter(|l| !l.starts_with("-----")).collect();
        PrivateKey::from_der(&base64::engine::general_purpose::STANDARD.decode(body).unwrap()).unwrap_err()
    };
    assert!(key_format(KeyFound::PublicKey)(&as_der("rsa2048_public.pem")));
    assert!(key_format(KeyFound::PublicKey)(&as_der("rsa2048_public_pkcs1.pem")));
    assert!(key_format(KeyFound::Certificate)(&der("rsa2048_certificate.der")));
    assert!(key_format(KeyFound::CertificateRequest)(&as_der(
        "rsa2048_certificate_request.pem"
    )));
    assert!(key_format(KeyFound::Pkcs12)(&der("rsa2048.p12")));
    assert!(der("rsa2048.p12")
        .to_string()
        .contains("openssl pkcs12 -in bundle.p12 -nocerts -nodes"));
    assert!(matches!(der("rsa2048_encrypted_pkcs8.der"), Error::KeyEncrypted));
    assert!(not_rsa("an EC key")(&der("ec_p256_pkcs8.der")));
    assert!(not_rsa("an EC key")(&der("ec_p256_sec1.der")));
    assert!(not_rsa("a DSA key")(&der("dsa2048_traditional.der")));
    assert!(key_format(KeyFound::Empty)(&PrivateKey::from_der(&[]).unwrap_err()));
    let damaged = [&b"\x30\x03\x02\x01\x00"[..], b"hello", b"ssh-rsa AAAA"];
    for bytes in damaged {
        let error = PrivateKey::from_der(bytes).unwrap_err();
        assert!(matches!(error, Error::KeyMalformed { .. }), "{error:?}");
        assert!(error.to_string().contains("a damaged key"), "{error}");
    }
}

/// Every algorithm a PKCS#8 key may be of is named for a person.
#[test]
fn other_algorithms_are_named() {
    for (name, found) in [
        ("ed448_pkcs8.pem", "an Ed448 key"),
        ("x25519_pkcs8.pem", "an X25519 key"),
        ("x448_pkcs8.pem", "an X448 key"),
        ("dsa2048_pkcs8.pem", "a DSA key"),
        ("dsa2048_traditional.pem", "a DSA key"),
    ] {
        let error = pem(name);
        assert!(not_rsa(found)(&error), "{name}: {error:?}");
        assert!(error.to_string().starts_with(&format!("{found}, not RSA")), "{error}");
    }
    // An algorithm without a name here is given by its OID: a PKCS#8
    // PrivateKeyInfo of algorithm 1.2.3.4 and an empty key.
    let unknown = b"\x30\x0c\x02\x01\x00\x30\x05\x06\x03\x2a\x03\x04\x04\x00";
    let error = PrivateKey::from_der(unknown).unwrap_err();
    assert!(not_rsa("a key of algorithm 1.2.3.4")(&error), "{error:?}");
}

/// What a PEM block around the key can get wrong, each its own error.
#[test]
fn a_pem_block_that_does_not_hold_together_is_named() {
    let key = read("rsa2048_pkcs1.pem");
    let body = key
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect::<Vec<_>>()
        .join("\n");
    let block = |label: &str, inside: &str| format!("-----BEGIN {label}-----\n{inside}\n-----END {label}-----\n");
    let malformed = |text: &str, words: &str| {
        let error = PrivateKey::from_pem(text).unwrap_err();
        assert!(matches!(error, Error::KeyMalformed { .. }), "{words}: {error:?}");
        assert!(error.to_string().contains(words), "{error}");
    };
    malformed(
        &block("RSA PRIVATE KEY", &format!("Comment: made by hand\n\n{body}")),
        "header lines",
    );
    malformed(
        &block("RSA PRIVATE KEY", &format!("Proc-Type: 4,MIC-ONLY\n\n{body}")),
        "header lines",
    );
    malformed(&block("PRIVATE KEY", ""), "nothing between its BEGIN and END lines");
    malformed(
        &format!("-----BEGIN RSA PRIVATE KEY\n{body}\n-----END RSA PRIVATE KEY-----\n"),
        "BEGIN line",
    );
    malformed(
        &key.replace("END RSA PRIVATE KEY", "END PRIVATE KEY"),
        "END line names another type",
    );
    // Cut short, and another block after it.
    let cut = format!(
        "{}\n{}",
        read("rsa2048_pkcs1_no_end.pem"),
        read("rsa2048_certificate.pem")
    );
    assert!(key_format(KeyFound::Incomplete)(
        &PrivateKey::from_pem(&cut).unwrap_err()
    ));
    assert!(key_format(KeyFound::Incomplete)(
        &PrivateKey::from_pem("-----BEGIN RSA PRIV").unwrap_err()
    ));
    let no_end_dashes = key.replace("-----END RSA PRIVATE KEY-----", "-----END RSA PRIVATE KEY");
    assert!(key_format(KeyFound::Incomplete)(
        &PrivateKey::from_pem(&no_end_dashes).unwrap_err()
    ));
    // A block type that is no PEM type is described, not repeated.
    let odd = block("KEY\u{202e}EVIL", &body);
    let error = PrivateKey::from_pem(&odd).unwrap_err();
    let described = KeyFound::OtherPem {
        label: "with a name that is no PEM type".to_owned(),
    };
    assert!(key_format(described.clone())(&error), "{error:?}");
    let long = block(&"A".repeat(41), &body);
    assert!(key_format(described)(&PrivateKey::from_pem(&long).unwrap_err()));
    assert!(key_format(KeyFound::OtherPem {
        label: format!("{:?}", "A".repeat(40))
    })(
        &PrivateKey::from_pem(&block(&"A".repeat(40), &body)).unwrap_err()
    ));
    // A DSA key in OpenSSL's own form.
    assert!(not_rsa("a DSA key")(
        &PrivateKey::from_pem(&block("DSA PRIVATE KEY", &body)).unwrap_err()
    ));
}

/// Text with no PEM block at all, told by what it holds.
#[test]
fn text_without_a_block_is_told_by_what_it_holds() {
    let cases = [
        ("hello", KeyFound::NotPem),
        ("\u{fffd}\u{fffd}PNG", KeyFound::Der),
        ("\u{feff}", KeyFound::Empty),
        ("ecdsa-sha2-nistp256 AAAAE2VjZHNh", KeyFound::OpenSshPublicKey),
        (&"QUJD".repeat(16), KeyFound::Unarmoured),
        (&"QUJD".repeat(15), KeyFound::NotPem),
    ];
    for (text, expected) in cases {
        let error = PrivateKey::from_pem(text).unwrap_err();
        assert!(
            key_format(expected.clone())(&error),
            "{text:?}: {error:?}, not {expected:?}"
        );
    }
}

/// Every mistake's message, and its `Debug`, holds no line of the key.
#[test]
fn no_message_shows_key_material() {
    let files = [
        "rsa2048_encrypted_pkcs8.pem",
        "rsa2048_encrypted_legacy.pem",
        "openssh_rsa2048.key",
        "ec_p256_pkcs8.pem",
        "ec_p256_sec1.pem",
        "rsa_pss2048_pkcs8.pem",
        "rsa1024_pkcs1.pem",
        "rsa2048_pkcs8_base64_only.txt",
        "rsa2048_pkcs1_no_end.pem",
        "rsa2048_pkcs1_escaped_newlines.txt",
        "two_keys.pem",
        "garbage.pem",
    ];
    for name in files {
        let text = read(name);
        let error = PrivateKey::from_pem(&text).unwrap_err();
        let shown = format!("{error} {error:?}");
        let pieces = text
            .split(|c: char| c.is_whitespace() || c == '\\' || c == '-')
            .filter(|piece| piece.len() >= 12 && !piece.contains(':'));
        for piece in pieces {
            for window in piece.as_bytes().windows(12) {
                let window = std::str::from_utf8(window).unwrap();
                assert!(!shown.contains(window), "{name}: {shown:?} shows {window:?}");
            }
        }
    }
    // A flattened key with one character damaged: the decoder's own
    // message would show that character and where it is.
    let damaged = read("rsa2048_pkcs8_one_line.txt").replacen("MII", "M#I", 1);
    let error = PrivateKey::from_pem(&damaged).unwrap_err();
    assert!(
        matches!(error, Error::KeyMalformed { .. }) && error.to_string().contains("not base64"),
        "{error:?}"
    );
    assert!(!format!("{error} {error:?}").contains('#'), "{error:?}");
}

#[test]
fn sizes_from_2048_to_4096_load_and_are_made() {
    assert_eq!(PrivateKey::from_pem(&read("rsa3072_pkcs8.pem")).unwrap().bits(), 3072);
    assert_eq!(PrivateKey::from_pem(&read("rsa4096_pkcs1.pem")).unwrap().bits(), 4096);
    assert_eq!(PrivateKey::generate_with_bits(2048).unwrap().bits(), 2048);
    for bits in [0, 1024, 2047, 4097, 8192] {
        assert!(
            matches!(PrivateKey::generate_with_bits(bits), Err(Error::KeySize { bits: b }) if b == bits),
            "{bits}"
        );
    }
}

#[test]
fn generated_keys_round_trip_through_pem() {
    let key = PrivateKey::generate().unwrap();
    assert_eq!(key.bits(), 2048);
    let pem = key.to_pem().unwrap();
    assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    let again = PrivateKey::from_pem(&pem).unwrap();
    assert_eq!(again.public_key(), key.public_key());
    assert_ne!(PrivateKey::generate().unwrap().public_key(), key.public_key());
}

#[test]
fn debug_shows_no_key_material() {
    let key = PrivateKey::from_pem(&read("rsa2048_pkcs1.pem")).unwrap();
    let debug = format!("{key:?} {:?}", key.public_key());
    assert_eq!(debug, "PrivateKey { bits: 2048, .. } PublicKey { bits: 2048 }");
}

/// The `keygen` example, through its executable.
mod keygen {
    use std::path::{Path, PathBuf};
    use std::process::{Command, Output};
    use std::sync::OnceLock;

    use telegram_passport::{PrivateKey, PublicKey};

    fn keygen(args: &[&str]) -> Output {
        static TOOL: OnceLock<PathBuf> = OnceLock::new();
        let tool = TOOL.get_or_init(|| {
            super::common::examples::build(&["--example", "keygen"])
                .remove("keygen")
                .expect("cargo build names the keygen example's executable")
        });
        Command::new(tool).args(args).output().unwrap()
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("telegram-passport-keygen-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn text(bytes: &[u8]) -> &str {
        std::str::from_utf8(bytes).unwrap()
    }

    fn path(path: &Path) -> &str {
        path.to_str().unwrap()
    }

    #[test]
    fn writes_an_owner_only_key_and_prints_its_public_half_as_botfather_takes_it() {
        let dir = scratch("new");
        let key_path = dir.join("private.key");
        let made = keygen(&[path(&key_path)]);
        assert_eq!(made.status.code(), Some(0), "{}", text(&made.stderr));
        assert!(
            text(&made.stderr).contains("wrote a 2048-bit RSA private key")
                && text(&made.stderr).contains("/setpublickey"),
            "{}",
            text(&made.stderr)
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        }
        let pem = std::fs::read_to_string(&key_path).unwrap();
        assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"), "{}", &pem[..40]);
        let key = PrivateKey::from_pem(&pem).unwrap();
        assert_eq!(key.bits(), 2048);
        // Exactly the SubjectPublicKeyInfo PEM BotFather's /setpublickey takes.
        let public = text(&made.stdout);
        assert_eq!(public, key.public_key().to_pem());
        assert!(public.starts_with("-----BEGIN PUBLIC KEY-----\n") && public.ends_with("-----END PUBLIC KEY-----\n"));
        assert_eq!(PublicKey::from_pem(public).unwrap(), key.public_key());

        // Never over an existing file: the key BotFather holds stays.
        let again = keygen(&[path(&key_path)]);
        assert_eq!(again.status.code(), Some(1), "{}", text(&again.stderr));
        assert!(
            text(&again.stderr).contains("already exists"),
            "{}",
            text(&again.stderr)
        );
        assert!(again.stdout.is_empty());
        assert_eq!(std::fs::read_to_string(&key_path).unwrap(), pem);
        // Nor through a link someone placed, even one that leads nowhere yet.
        #[cfg(unix)]
        {
            let elsewhere = dir.join("elsewhere.key");
            let link = dir.join("link.key");
            std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
            let through = keygen(&[path(&link)]);
            assert_eq!(through.status.code(), Some(1), "{}", text(&through.stderr));
            assert!(!elsewhere.exists());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn another_size_on_request_and_a_wrong_command_line_writes_nothing() {
        let dir = scratch("sizes");
        let key_path = dir.join("private.key");
        let made = keygen(&["--bits", "3072", path(&key_path)]);
        assert_eq!(made.status.code(), Some(0), "{}", text(&made.stderr));
        let key = PrivateKey::from_pem(&std::fs::read_to_string(&key_path).unwrap()).unwrap();
        assert_eq!(key.bits(), 3072);
        assert_eq!(text(&made.stdout), key.public_key().to_pem());

        let other = dir.join("other.key");
        let other = path(&other);
        for args in [
            vec!["--bits", "1024", other],
            vec!["--bits", "8192", other],
            vec!["--bits"],
            vec![],
            vec![other, "second.key"],
            vec!["--force", other],
        ] {
            let refused = keygen(&args);
            assert_eq!(refused.status.code(), Some(2), "{args:?}: {}", text(&refused.stderr));
            assert!(text(&refused.stderr).contains("usage: keygen"), "{args:?}");
            assert!(refused.stdout.is_empty(), "{args:?}");
        }
        assert!(!Path::new(other).exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// How a setting's list of keys is split (the KYC service's
/// `PASSPORT_PRIVATE_KEY`): a `pkcs11:` URI is never cut inside, and what
/// could be a piece of one is refused before any key is opened, never
/// repeated.
mod key_lists {
    use telegram_passport::{KeyRef, KeyRing};

    /// The list's keys as text, or the error's text.
    fn split(list: &str) -> Result<Vec<&str>, String> {
        KeyRef::list(list)
            .map(|keys| keys.iter().map(KeyRef::as_str).collect())
            .map_err(|e| e.to_string())
    }

    /// The list's keys opened, as the service opens its setting.
    fn load(list: &str) -> Result<KeyRing, String> {
        KeyRing::open_list(list).map_err(|e| e.to_string())
    }

    const MARKER: &str = "S3CRET";

    fn key_file(name: &str) -> String {
        super::data_dir().join("keys").join(name).to_str().unwrap().to_owned()
    }

    /// A token key's URI whose module does not exist: opening it fails at
    /// once, before any PIN could be sent, with an error of its own.
    fn uri(query_tail: &str) -> String {
        format!("pkcs11:token=bot;object=key?module-path=/nonexistent/pkcs11-module.so&{query_tail}")
    }

    #[test]
    fn keys_are_separated_by_white_space_and_file_paths_by_commas_too() {
        let (a, b) = (key_file("rsa2048_pkcs1.pem"), key_file("rsa3072_pkcs8.pem"));
        for list in [
            format!("{a} {b}"),
            format!("{a},{b}"),
            format!("{a}, {b}"),
            format!("\n {a}\n\t{b} ,\n"),
        ] {
            assert_eq!(split(&list).unwrap(), [a.as_str(), b.as_str()], "{list:?}");
        }
        let ring = load(&format!("{a} {b}")).unwrap();
        assert_eq!(
            ring.keys().map(|key| key.public_key().bits()).collect::<Vec<_>>(),
            [2048, 3072]
        );
        assert_eq!(split(" ,\n").unwrap(), Vec::<&str>::new());
    }

    /// A comma inside a URI is the URI's own, unless another key follows
    /// it: the form `URI,older.pem` of a rotation keeps working.
    #[test]
    fn a_comma_inside_a_uri_is_part_of_it_unless_another_key_follows() {
        let a = key_file("rsa2048_pkcs1.pem");
        let with_comma = uri(&format!("pin-value=1234,{MARKER}"));
        let list = format!("{a},{with_comma}");
        assert_eq!(split(&list).unwrap(), [a.as_str(), with_comma.as_str()]);
        let more = uri(&format!("pin-value=1,2,,{MARKER},3"));
        assert_eq!(split(&more).unwrap(), [more.as_str()]);
        let other = uri("pin-value=1,2");
        for list in [
            format!("{with_comma},{a},{other}"),
            format!("{with_comma}\n{a}  {other}"),
            format!("{with_comma}, {a},{other}"),
        ] {
            let split = split(&list).unwrap();
            assert_eq!(split, [with_comma.as_str(), a.as_str(), other.as_str()], "{list:?}");
        }
        let two_tokens = format!("{with_comma},{other}");
        assert_eq!(split(&two_tokens).unwrap(), [with_comma.as_str(), other.as_str()]);
    }

    /// A PIN, or a token label, with a raw space: the URI would be cut
    /// there and the rest taken for a file.
    #[test]
    fn a_uri_cut_at_a_space_is_refused_before_any_key_is_opened_and_never_repeated() {
        let older = key_file("rsa2048_pkcs1.pem");
        for list in [
            uri(&format!("pin-value=1234 {MARKER}")),
            uri(&format!("pin-value={MARKER} 1234")),
            format!("{older} {}", uri(&format!("pin-value=12 34{MARKER}"))),
            format!("{} {older}", uri(&format!("pin-value=12 {MARKER}"))),
            uri(&format!("pin-value=1 2 {MARKER}")),
            format!("pkcs11:token=My {MARKER};object=key?module-path=/m.so&pin-value=1"),
            format!("{}\n{MARKER}", uri("pin-value=1")),
        ] {
            let error = split(&list).map(|keys| keys.len()).unwrap_err();
            assert!(
                error.contains("neither another pkcs11: URI nor an existing file"),
                "{error}"
            );
            assert!(error.contains("%20"), "{error}");
            assert!(
                !error.contains(MARKER) && !error.contains("pin-value"),
                "{list:?}: {error}"
            );
            // Nothing was opened: loading the same setting the service's
            // way fails at the split, not at the token.
            let loaded = load(&list).map(|_| ()).unwrap_err();
            assert_eq!(loaded, error);
        }
        // A file that follows a URI is a file.
        let list = format!("{} {older}", uri("pin-value=1"));
        assert_eq!(split(&list).unwrap().len(), 2);
    }

    /// A comma inside a URI before the name of a key file that does not
    /// exist: a key whose path is wrong, or a piece of the query? Refused,
    /// never repeated.
    #[test]
    fn a_comma_in_a_uri_before_a_missing_key_file_is_refused_and_never_repeated() {
        for list in [
            format!("{},old.pem", uri(&format!("pin-value={MARKER}"))),
            format!("{},{MARKER}.KEY", uri("pin-value=1")),
            format!("{},/keys/{MARKER}/old.pem", uri("pin-value=1,2")),
        ] {
            let error = split(&list).unwrap_err();
            assert!(error.contains("does not exist") && error.contains("%2C"), "{error}");
            assert!(
                !error.contains(MARKER) && !error.contains("pin-value") && !error.contains(".pem"),
                "{list:?}: {error}"
            );
            let loaded = load(&list).map(|_| ()).unwrap_err();
            assert_eq!(loaded, error);
        }
    }

    /// The split being right, a token key is opened whole: the error is
    /// the module's, and the PIN is in no message.
    #[test]
    fn a_whole_uri_reaches_the_token_and_its_pin_is_in_no_message() {
        let list = uri(&format!("pin-value=1234,{MARKER}"));
        let error = load(&list).map(|_| ()).unwrap_err();
        let expected = if cfg!(feature = "pkcs11") {
            "cannot load the PKCS#11 module"
        } else {
            "build with the feature `pkcs11`"
        };
        assert!(error.contains(expected), "{error}");
        assert!(!error.contains(MARKER) && !error.contains("1234"), "{error}");
    }

    /// A key opened from its place names it, without a token URI's query,
    /// in its error and its `Debug`; a file is read within a bound.
    #[test]
    fn a_key_is_opened_from_its_place_and_named_without_its_query() {
        use telegram_passport::{Error, ErrorKind};

        let token = KeyRef::new(&uri(&format!("pin-value={MARKER}")))
            .open()
            .map(|_| ())
            .unwrap_err();
        assert!(
            matches!(&token, Error::KeyOpen { key, .. } if key == "pkcs11:token=bot;object=key"),
            "{token:?}"
        );
        assert_eq!((token.kind(), token.is_retryable()), (ErrorKind::Key, false));
        let written = format!(
            "{token} {token:?} {:?}",
            KeyRef::new(&uri(&format!("pin-value={MARKER}")))
        );
        assert!(!written.contains(MARKER), "{written}");

        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let error = KeyRef::new(missing.to_str().unwrap()).open().map(|_| ()).unwrap_err();
        assert!(
            error.to_string().starts_with(&format!("{}: ", missing.display())),
            "{error}"
        );

        // A key file followed by 64 KiB of text: too large to be a key, and
        // refused without reading it all.
        let large = dir.path().join("large.pem");
        let mut text = std::fs::read_to_string(key_file("rsa2048_pkcs1.pem")).unwrap();
        text.push_str(&"x".repeat(64 << 10));
        std::fs::write(&large, text).unwrap();
        let error = KeyRef::new(large.to_str().unwrap()).open().map(|_| ()).unwrap_err();
        assert!(
            matches!(&error, Error::KeyOpen { error, .. } if matches!(**error, Error::TooLarge { .. })),
            "{error:?}"
        );

        let key = KeyRef::new(&key_file("rsa2048_pkcs1.pem")).open().unwrap();
        assert_eq!(key.public_key().bits(), 2048);
        assert!(matches!(KeyRing::open_list(" , "), Err(Error::KeyList { .. })));
    }
}

// Key rings: the current key and older ones.

mod ring {
    use std::sync::Arc;

    use telegram_passport::client::PassportBuilder;
    use telegram_passport::mtproto;
    use telegram_passport::{
        decrypt, decrypt_and_consume, AsyncNonceStore, CredentialsKey, Error, KeyRing, MemoryNonceStore, NonceCheck,
        PassportRequest, PrivateKey, Scope, ScopeElement,
    };

    fn sealed_to(key: &PrivateKey, nonce: &str) -> telegram_passport::client::SealedPassport {
        PassportBuilder::new()
            .email(&format!("{nonce}@example.org"))
            .seal(&key.public_key(), nonce)
            .unwrap()
    }

    #[test]
    fn a_ring_opens_what_was_sealed_to_any_of_its_keys_and_requests_carry_the_current_key() {
        let (new, old, older) = (
            PrivateKey::generate().unwrap(),
            PrivateKey::generate().unwrap(),
            PrivateKey::generate().unwrap(),
        );
        let sealed = [
            sealed_to(&new, "new"),
            sealed_to(&old, "old"),
            sealed_to(&older, "older"),
        ];
        let new_public = new.public_key();
        let ring = KeyRing::new(new).with_older(old).with_older(older);
        assert_eq!(ring.public_key(), new_public);
        assert_eq!(ring.current().public_key(), new_public);
        assert_eq!(ring.keys().count(), 3);
        let request = PassportRequest::new(
            1,
            Scope::new([ScopeElement::one(telegram_passport::ElementType::Email)]).unwrap(),
            &ring.public_key(),
            "n",
        );
        assert!(request
            .deep_link()
            .contains(&urlencoded_first_line(&new_public.to_pem())));
        for (sealed, nonce) in sealed.iter().zip(["new", "old", "older"]) {
            let passport = decrypt(&ring, &sealed.passport_data, NonceCheck::Expect(nonce)).unwrap();
            assert_eq!(passport.email(), Some(format!("{nonce}@example.org").as_str()));
            // The lower level too.
            let credentials = sealed.passport_data.credentials.decrypt(&ring).unwrap();
            assert_eq!(credentials.nonce(), nonce);
        }
    }

    /// The base64 of the PEM's first key line, as a link percent-encodes it.
    fn urlencoded_first_line(pem: &str) -> String {
        let line = pem.lines().nth(1).unwrap();
        line.chars()
            .take(20)
            .map(|c| match c {
                '+' => "%2B".to_owned(),
                '/' => "%2F".to_owned(),
                c => c.to_string(),
            })
            .collect()
    }

    #[test]
    fn when_no_key_of_the_ring_opens_it_the_error_is_the_one_opaque_decryption_error() {
        let stranger = PrivateKey::generate().unwrap();
        let sealed = sealed_to(&stranger, "n");
        let ring = KeyRing::new(PrivateKey::generate().unwrap()).with_older(PrivateKey::generate().unwrap());
        let from_ring = decrypt(&ring, &sealed.passport_data, NonceCheck::Skip).unwrap_err();
        let from_one = decrypt(
            &PrivateKey::generate().unwrap(),
            &sealed.passport_data,
            NonceCheck::Skip,
        )
        .unwrap_err();
        assert!(matches!(from_ring, Error::Decryption(_)), "{from_ring:?}");
        assert_eq!(from_ring.to_string(), from_one.to_string());
        assert_eq!(from_ring.to_string(), "could not decrypt credentials");
    }

    #[test]
    fn every_form_of_key_is_taken_by_every_receive_path() {
        let (new, old) = (PrivateKey::generate().unwrap(), PrivateKey::generate().unwrap());
        let sealed = sealed_to(&old, "n");
        let ring = Arc::new(KeyRing::new(new).with_older(old));
        let as_dyn: &dyn CredentialsKey = ring.as_ref();
        let boxed: Box<dyn CredentialsKey> = Box::new(KeyRing::new(PrivateKey::generate().unwrap()));
        assert!(decrypt(&ring, &sealed.passport_data, NonceCheck::Skip).is_ok());
        assert!(decrypt(as_dyn, &sealed.passport_data, NonceCheck::Skip).is_ok());
        assert!(decrypt(&&*ring, &sealed.passport_data, NonceCheck::Skip).is_ok());
        assert!(decrypt(&boxed, &sealed.passport_data, NonceCheck::Skip).is_err());
        // A ring inside a ring.
        let nested = KeyRing::new(PrivateKey::generate().unwrap()).with_older(Arc::clone(&ring));
        assert!(decrypt(&nested, &sealed.passport_data, NonceCheck::Skip).is_ok());
        // MTProto.
        let sent = sealed.mtproto.clone();
        assert_eq!(mtproto::decrypt(as_dyn, &sent, NonceCheck::Skip).unwrap().nonce(), "n");
        assert_eq!(sent.credentials.decrypt(&ring).unwrap().nonce(), "n");
        // Async, with a store.
        let store = MemoryNonceStore::new();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            let nonce = AsyncNonceStore::issue(&store, "ctx", std::time::Duration::from_secs(60))
                .await
                .unwrap();
            let (new, old) = (PrivateKey::generate().unwrap(), PrivateKey::generate().unwrap());
            let sealed = sealed_to(&old, &nonce);
            let ring = KeyRing::new(new).with_older(old);
            let passport = decrypt_and_consume(&ring, &sealed.passport_data, &store).await.unwrap();
            assert_eq!(passport.context(), Some("ctx"));
            let sent = sealed.mtproto.clone();
            let replayed = mtproto::decrypt_and_consume(&ring, &sent, &store).await.unwrap_err();
            assert!(matches!(replayed, Error::NonceReplayed), "{replayed:?}");
        });
    }

    #[test]
    fn a_ring_is_made_of_a_list_of_keys_the_first_the_current_one() {
        let (first, second) = (PrivateKey::generate().unwrap(), PrivateKey::generate().unwrap());
        let (current, older) = (first.public_key(), second.public_key());
        let keys: Vec<Box<dyn CredentialsKey>> = vec![Box::new(first), Box::new(second)];
        let ring = KeyRing::from_keys(keys).unwrap();
        assert_eq!(ring.public_key(), current);
        let publics: Vec<_> = ring.keys().map(|key| key.public_key()).collect();
        assert_eq!(publics, [current, older]);
        assert!(KeyRing::from_keys(Vec::new()).is_none());
    }

    #[test]
    fn a_ring_shows_its_keys_and_no_key_material() {
        let key = PrivateKey::generate().unwrap();
        let ring = KeyRing::new(key).with_older(PrivateKey::generate().unwrap());
        assert_eq!(
            format!("{ring:?}"),
            "KeyRing { current: PrivateKey { bits: 2048, .. }, older: [PrivateKey { bits: 2048, .. }] }"
        );
    }
}
