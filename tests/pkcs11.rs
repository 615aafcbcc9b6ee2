//! Keys in a real PKCS#11 token: SoftHSM2, with a token directory of its
//! own per test (feature `pkcs11`).
//!
//! SoftHSM2 reads `SOFTHSM2_CONF` once per process, so each test makes its
//! token, then runs its body in a child process of this test binary that
//! sees only that token. The `decrypt` tool runs as a process anyway.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;
use telegram_passport_dev_support::softhsm;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Barrier, OnceLock};
use std::time::{Duration, Instant};

use common::data_dir;
use common::examples::decrypt_tool;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use softhsm::Token;
use telegram_passport::client::PassportBuilder;
use telegram_passport::mtproto::{self, SecureValuesSentMe};
use telegram_passport::{
    decrypt, CredentialsKey, Error, KeyRing, NonceCheck, PassportData, Pkcs11Key, Pkcs11Problem, PrivateKey,
};

/// Names the test a child process runs; its token's folder is in `DIR`.
const CHILD: &str = "PKCS11_TEST_CHILD";
const DIR: &str = "PKCS11_TEST_DIR";

/// Makes a token for `test` with `setup`, then runs `body` on it in a child
/// process of this binary whose SoftHSM2 knows only that token.
/// The token's label is `label` (at most 32 bytes).
fn in_own_process(test: &str, label: &str, setup: impl FnOnce(&Token), body: impl FnOnce(&Token)) {
    if std::env::var(CHILD).as_deref() == Ok(test) {
        let dir = PathBuf::from(std::env::var_os(DIR).unwrap());
        body(&Token::existing(&dir, label).unwrap());
        return;
    }
    let dir = std::env::temp_dir().join(format!("telegram-passport-pkcs11-{label}-{}", std::process::id()));
    let token = Token::new(&dir, label).unwrap();
    setup(&token);
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            test,
            "--exact",
            "--nocapture",
            "--include-ignored",
            "--test-threads",
            "1",
        ])
        .env(CHILD, test)
        .env(DIR, &dir)
        .env("SOFTHSM2_CONF", token.conf())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{test} in its own process:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // What the child measured, for the parent's output.
    for line in stdout
        .lines()
        .filter_map(|line| line.find("measured: ").and_then(|at| line.get(at..)))
    {
        println!("{line}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

fn key_file(name: &str) -> PathBuf {
    data_dir().join("keys").join(name)
}

fn real_client_vector() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/vectors/python-telegram-bot")
}

fn pem(path: &Path) -> PrivateKey {
    PrivateKey::from_pem(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The Bot API fixtures, each with the key that opens it.
fn bot_api_fixtures() -> Vec<(String, PassportData, PathBuf)> {
    let mut fixtures: Vec<_> = ["full.json", "payload_legacy.json", "update.json"]
        .into_iter()
        .map(|name| {
            let fixture = common::load(&format!("passport/{name}"));
            let body = fixture.get("passport_data").unwrap_or(&fixture["update"]);
            let data = PassportData::from_json(&serde_json::to_vec(body).unwrap()).unwrap();
            (name.to_owned(), data, data_dir().join(fixture["key"].as_str().unwrap()))
        })
        .collect();
    let vector = real_client_vector();
    if vector.is_dir() {
        let data = PassportData::from_json(&std::fs::read(vector.join("passport_data.json")).unwrap()).unwrap();
        fixtures.push(("real client".to_owned(), data, vector.join("key.pem")));
    } else {
        println!("real-client vector not found at {}: left out", vector.display());
    }
    fixtures
}

/// Imports every key the fixtures use, each under its file name.
fn import_fixture_keys(token: &Token) {
    let mut seen = Vec::new();
    for (id, (_, _, key)) in bot_api_fixtures().into_iter().enumerate() {
        let object = object_name(&key);
        if !seen.contains(&object) {
            token.import(&key, &object, id as u8 + 1).unwrap();
            seen.push(object);
        }
    }
}

/// The key `bot` of `token`, opened, and a passport sealed to it (an
/// e-mail address, nonce `n`).
fn bot_and_sealed(token: &Token) -> (Pkcs11Key, telegram_passport::client::SealedPassport) {
    let key = Pkcs11Key::open(&token.uri("bot")).unwrap();
    let sealed = PassportBuilder::new()
        .email("a@example.org")
        .seal(&key.public_key(), "n")
        .unwrap();
    (key, sealed)
}

fn object_name(key: &Path) -> String {
    let parent = key.parent().unwrap().file_name().unwrap().to_string_lossy();
    let stem = key.file_stem().unwrap().to_string_lossy();
    format!("{parent}-{stem}")
}

#[test]
#[cfg_attr(no_softhsm, ignore = "needs SoftHSM2 (softhsm2-util and libsofthsm2.so)")]
fn every_fixture_and_the_real_client_vector_decrypt_through_the_token_as_in_process() {
    in_own_process(
        "every_fixture_and_the_real_client_vector_decrypt_through_the_token_as_in_process",
        "fixtures",
        import_fixture_keys,
        |token| {
            for (name, data, key) in bot_api_fixtures() {
                let in_process = pem(&key);
                let in_token = Pkcs11Key::open(&token.uri(&object_name(&key))).unwrap();
                assert_eq!(in_token.public_key(), in_process.public_key(), "{name}");
                let expected = serde_json::to_value(decrypt(&in_process, &data, NonceCheck::Skip).unwrap()).unwrap();
                let through = serde_json::to_value(decrypt(&in_token, &data, NonceCheck::Skip).unwrap()).unwrap();
                assert_eq!(through, expected, "{name}");
            }
            let fixture = common::load("passport/mtproto.json");
            let key = data_dir().join(fixture["key"].as_str().unwrap());
            let sent =
                SecureValuesSentMe::from_tl(&std::fs::read(data_dir().join("passport/mtproto.tl")).unwrap()).unwrap();
            let in_token = Pkcs11Key::open(&token.uri(&object_name(&key))).unwrap();
            let expected = mtproto::decrypt(&pem(&key), &sent, NonceCheck::Skip).unwrap();
            let through = mtproto::decrypt(&in_token, &sent, NonceCheck::Skip).unwrap();
            assert_eq!(
                serde_json::to_value(through).unwrap(),
                serde_json::to_value(expected).unwrap()
            );
        },
    );
}

/// Generates an RSA-2048 key pair inside the token, its private half
/// sensitive and never extractable, through the module itself.
fn generate_in_token(module: &Path, token: &Token, label: &str, id: u8, allowed: Option<MechanismType>) {
    let context = Pkcs11::new(module).unwrap();
    match context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(other) => panic!("{other}"),
    }
    let slot = context
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|slot| context.get_token_info(*slot).unwrap().label() == token.label)
        .unwrap();
    let session = context.open_rw_session(slot).unwrap();
    match session.login(UserType::User, Some(&AuthPin::from(softhsm::PIN))) {
        Ok(()) | Err(cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::UserAlreadyLoggedIn, _)) => {}
        Err(other) => panic!("{other}"),
    }
    let label = label.as_bytes().to_vec();
    let public = [
        Attribute::Token(true),
        Attribute::Label(label.clone()),
        Attribute::ModulusBits(2048.into()),
        Attribute::PublicExponent(vec![1, 0, 1]),
        Attribute::Encrypt(true),
    ];
    let private = [
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Label(label),
        Attribute::Id(vec![id]),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Decrypt(true),
    ];
    let private: Vec<Attribute> = private
        .into_iter()
        .chain(allowed.map(|mechanism| Attribute::AllowedMechanisms(vec![mechanism])))
        .collect();
    let (_, key) = session
        .generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &public, &private)
        .unwrap();
    let attributes = session
        .get_attributes(key, &[AttributeType::Sensitive, AttributeType::Extractable])
        .unwrap();
    assert!(attributes.contains(&Attribute::Sensitive(true)), "{attributes:?}");
    assert!(attributes.contains(&Attribute::Extractable(false)), "{attributes:?}");
    // The session closes on drop; the module stays initialised for the key.
}

#[test]
#[cfg_attr(no_softhsm, ignore = "needs SoftHSM2 (softhsm2-util and libsofthsm2.so)")]
fn a_key_generated_in_the_token_opens_what_is_sealed_to_it_and_refuses_the_rest_opaquely() {
    in_own_process(
        "a_key_generated_in_the_token_opens_what_is_sealed_to_it_and_refuses_the_rest_opaquely",
        "generated",
        |_| {},
        |token| {
            generate_in_token(&token.module, token, "generated", 0x42, None);
            // Named by its id this time.
            let uri = token.uri("generated").replace("object=generated", "id=%42");
            let key = Pkcs11Key::open(&uri).unwrap();
            assert_eq!(key.public_key().bits(), 2048);
            let sealed = PassportBuilder::new()
                .phone_number("4512345678")
                .seal(&key.public_key(), "n-1")
                .unwrap();
            let passport = decrypt(&key, &sealed.passport_data, NonceCheck::Expect("n-1")).unwrap();
            assert_eq!(passport.phone_number(), Some("4512345678"));

            // Sealed to another key: the token refuses, and the error is
            // the one an in-process key gives, word for word.
            let other = PrivateKey::generate().unwrap();
            let elsewhere = PassportBuilder::new()
                .phone_number("1")
                .seal(&other.public_key(), "n-2")
                .unwrap();
            let through = decrypt(&key, &elsewhere.passport_data, NonceCheck::Skip).unwrap_err();
            let in_process = decrypt(
                &PrivateKey::generate().unwrap(),
                &elsewhere.passport_data,
                NonceCheck::Skip,
            )
            .unwrap_err();
            assert!(matches!(through, Error::Decryption(_)), "{through:?}");
            assert_eq!(through.to_string(), in_process.to_string());
            assert_eq!(through.to_string(), "could not decrypt credentials");

            // Ciphertexts no RSA-2048 encryption makes (at or above the
            // modulus, or of another length): refused the same opaque way,
            // without asking the token.
            use base64::Engine as _;
            let mut json: serde_json::Value = serde_json::from_str(&sealed.passport_data.to_json()).unwrap();
            for bytes in [vec![0xff; 256], vec![0x01; 255], vec![0x01; 257]] {
                json["credentials"]["secret"] = base64::engine::general_purpose::STANDARD.encode(&bytes).into();
                let data = PassportData::from_json(json.to_string().as_bytes()).unwrap();
                let error = decrypt(&key, &data, NonceCheck::Skip).unwrap_err();
                assert_eq!(
                    error.to_string(),
                    "could not decrypt credentials",
                    "{} bytes: {error:?}",
                    bytes.len()
                );
            }

            // In a ring with the in-process key, both open.
            let ring = KeyRing::new(key).with_older(other);
            for (data, nonce) in [(&sealed.passport_data, "n-1"), (&elsewhere.passport_data, "n-2")] {
                assert_eq!(decrypt(&ring, data, NonceCheck::Skip).unwrap().nonce(), nonce);
            }
            // Debug names the key, never the PIN or the URI's query.
            let debug = format!("{ring:?}");
            assert!(debug.contains("Pkcs11Key") && !debug.contains(softhsm::PIN), "{debug}");
            assert!(debug.contains(r#"mechanism: "CKM_RSA_X_509""#), "{debug}");

            // A key whose policy allows only OAEP in the token: unwrapped
            // there, with the same outcomes.
            generate_in_token(
                &token.module,
                token,
                "oaep-only",
                0x43,
                Some(MechanismType::RSA_PKCS_OAEP),
            );
            let key = Pkcs11Key::open(&token.uri("oaep-only")).unwrap();
            assert!(
                format!("{key:?}").contains(r#"mechanism: "CKM_RSA_PKCS_OAEP""#),
                "{key:?}"
            );
            let sealed = PassportBuilder::new()
                .phone_number("4512345678")
                .seal(&key.public_key(), "n-3")
                .unwrap();
            assert_eq!(
                decrypt(&key, &sealed.passport_data, NonceCheck::Skip).unwrap().nonce(),
                "n-3"
            );
            let refused = decrypt(&key, &elsewhere.passport_data, NonceCheck::Skip).unwrap_err();
            assert!(matches!(refused, Error::Decryption(_)), "{refused:?}");
        },
    );
}

#[test]
#[cfg_attr(no_softhsm, ignore = "needs SoftHSM2 (softhsm2-util and libsofthsm2.so)")]
fn what_is_wrong_is_told_when_the_key_is_opened() {
    in_own_process(
        "what_is_wrong_is_told_when_the_key_is_opened",
        "load-errors",
        |token| token.import(&key_file("rsa2048_pkcs1.pem"), "bot", 1).unwrap(),
        |token| {
            let problem = |uri: &str| match Pkcs11Key::open(uri) {
                Err(Error::Pkcs11 { problem, .. }) => problem,
                Err(other) => panic!("{uri}: {other:?}"),
                Ok(_) => panic!("{uri}: opened"),
            };
            // While this process is not logged in to the token, the token
            // itself refuses a wrong PIN (for the other case, see
            // a_wrong_pin_is_refused_at_open_whatever_else_is_logged_in_to_the_token).
            let uri = token.uri("bot");
            let wrong_pin = format!(
                "{}?module-path={}&pin-value=0000",
                uri.split('?').next().unwrap(),
                token.module.display()
            );
            assert_eq!(problem(&wrong_pin), Pkcs11Problem::PinIncorrect);
            assert_eq!(
                Pkcs11Key::open(&wrong_pin).unwrap_err().to_string(),
                "PKCS#11 key: the token refused the PIN"
            );
            assert!(Pkcs11Key::open(&uri).is_ok());
            assert_eq!(
                problem(&uri.replace("object=bot", "object=nobody")),
                Pkcs11Problem::KeyNotFound("object=\"nobody\"".to_owned())
            );
            assert!(matches!(
                problem(&uri.replace(&format!("token={}", token.label), "token=elsewhere")),
                Pkcs11Problem::TokenNotFound { token } if token == "elsewhere"
            ));
            let module = token.module.display().to_string();
            assert!(matches!(
                problem(&uri.replace(&module, "/nowhere/libpkcs11.so")),
                Pkcs11Problem::Module { path } if path == Path::new("/nowhere/libpkcs11.so")
            ));
            let pin_file = token.dir.join("pin").display().to_string();
            assert!(matches!(
                problem(&uri.replace(&pin_file, "/nowhere/pin")),
                Pkcs11Problem::PinUnreadable { path } if path == Path::new("/nowhere/pin")
            ));

            // A PIN file reached through a symbolic link is read.
            let link = token.dir.join("pin-link");
            std::os::unix::fs::symlink(token.dir.join("pin"), &link).unwrap();
            assert!(Pkcs11Key::open(&uri.replace(&pin_file, &link.display().to_string())).is_ok());

            // What the URI names is repeated escaped, on one line, bounded;
            // a wrong PIN is not repeated at all.
            let token_label = format!("token={}", token.label);
            let error = Pkcs11Key::open(&uri.replace(&token_label, "token=a%0AFORGED%E2%80%AE")).unwrap_err();
            assert_eq!(
                error.to_string(),
                "PKCS#11 key: no token \"a\\nFORGED\\u{202e}\" is present in the module"
            );
            let long = "x".repeat(100_000);
            for uri in [
                uri.replace(&token_label, &format!("token={long}")),
                uri.replace("object=bot", &format!("object={long}")),
                uri.replace("object=bot", &format!("object=a%0A{long}")),
                uri.replace("object=bot", &format!("id=%0A{}", "%ff".repeat(30_000))),
            ] {
                let error = Pkcs11Key::open(&uri).unwrap_err();
                assert_one_bounded_line(&error.to_string(), 300);
            }
            let marked = format!(
                "{}?module-path={}&pin-value=S3CRETMARK",
                uri.split('?').next().unwrap(),
                token.module.display()
            );
            let error = Pkcs11Key::open(&marked).unwrap_err();
            assert!(
                matches!(
                    error,
                    Error::Pkcs11 {
                        problem: Pkcs11Problem::PinIncorrect,
                        ..
                    }
                ),
                "{error:?}"
            );
            for text in every_text(&error) {
                assert!(!text.contains("S3CRETMARK"), "{text}");
            }
        },
    );
}

#[test]
#[cfg_attr(no_softhsm, ignore = "needs SoftHSM2 (softhsm2-util and libsofthsm2.so)")]
fn eight_threads_decrypt_at_once_on_several_sessions_of_a_bounded_pool() {
    in_own_process(
        "eight_threads_decrypt_at_once_on_several_sessions_of_a_bounded_pool",
        "threads",
        |token| token.import(&key_file("rsa2048_pkcs1.pem"), "bot", 1).unwrap(),
        |token| {
            let key = Arc::new(Pkcs11Key::open(&token.uri("bot")).unwrap());
            let threads = 8;
            let sealed: Vec<_> = (0..threads)
                .map(|i| {
                    PassportBuilder::new()
                        .email(&format!("user{i}@example.org"))
                        .seal(&key.public_key(), &format!("n-{i}"))
                        .unwrap()
                })
                .collect();
            let sealed = Arc::new(sealed);
            let barrier = Arc::new(Barrier::new(threads));
            let handles: Vec<_> = (0..threads)
                .map(|i| {
                    let (key, sealed, barrier) = (Arc::clone(&key), Arc::clone(&sealed), Arc::clone(&barrier));
                    std::thread::spawn(move || {
                        for round in 0..20 {
                            barrier.wait();
                            let which = (i + round) % threads;
                            let passport = decrypt(&key, &sealed[which].passport_data, NonceCheck::Skip).unwrap();
                            assert_eq!(passport.email(), Some(format!("user{which}@example.org").as_str()));
                        }
                    })
                })
                .collect();
            for handle in handles {
                handle.join().unwrap();
            }
            // More than one session: decryptions at once did not queue
            // behind one; and no more than the pool's bound.
            let sessions = key.sessions();
            assert!((2..=8).contains(&sessions), "{sessions} session(s) open");

            // Twice as many threads as the pool's bound: they wait for a
            // session, and the token never sees more than 8.
            std::thread::scope(|scope| {
                for i in 0..16 {
                    let (key, sealed) = (&key, &sealed);
                    scope.spawn(move || {
                        for _ in 0..5 {
                            let passport = decrypt(key, &sealed[i % threads].passport_data, NonceCheck::Skip).unwrap();
                            assert_eq!(passport.nonce(), format!("n-{}", i % threads));
                        }
                    });
                }
            });
            assert!(key.sessions() <= 8, "{} sessions", key.sessions());
        },
    );
}

/// The module as this process has it loaded (the same state the keys use).
fn module_context(module: &Path) -> Pkcs11 {
    static CONTEXT: OnceLock<Pkcs11> = OnceLock::new();
    CONTEXT.get_or_init(|| Pkcs11::new(module).unwrap()).clone()
}

#[test]
#[cfg_attr(no_softhsm, ignore = "needs SoftHSM2 (softhsm2-util and libsofthsm2.so)")]
fn sessions_closed_underneath_are_replaced_and_a_missing_token_is_unavailable_not_a_refusal() {
    in_own_process(
        "sessions_closed_underneath_are_replaced_and_a_missing_token_is_unavailable_not_a_refusal",
        "underneath",
        |token| token.import(&key_file("rsa2048_pkcs1.pem"), "bot", 1).unwrap(),
        |token| {
            let (key, sealed) = bot_and_sealed(token);
            let opens =
                |key: &Pkcs11Key| decrypt(key, &sealed.passport_data, NonceCheck::Skip).map(|p| p.nonce().to_owned());
            assert_eq!(opens(&key).unwrap(), "n");

            // Logged out underneath (login is the application's, across its sessions).
            let context = module_context(&token.module);
            let slot = context.get_slots_with_token().unwrap()[0];
            let session = context.open_ro_session(slot).unwrap();
            session.logout().unwrap();
            drop(session);
            assert_eq!(opens(&key).unwrap(), "n");

            // The module finalised underneath: every session and the login
            // gone, the handles meaningless (C_CloseAllSessions and more).
            module_context(&token.module).finalize().unwrap();
            assert_eq!(opens(&key).unwrap(), "n");

            // The token removed: the module finalised, the token's folder
            // gone when it starts again. Not a refusal: retry later.
            let tokens = token.dir.join("tokens");
            let away = token.dir.join("tokens-away");
            std::fs::rename(&tokens, &away).unwrap();
            std::fs::create_dir(&tokens).unwrap();
            module_context(&token.module).finalize().unwrap();
            let error = opens(&key).unwrap_err();
            assert!(matches!(error, Error::KeyUnavailable { .. }), "{error:?}");
            assert!(error.to_string().contains("try the submission again later"), "{error}");

            // Re-inserted: the next submission opens again.
            std::fs::remove_dir(&tokens).unwrap();
            std::fs::rename(&away, &tokens).unwrap();
            module_context(&token.module).finalize().unwrap();
            assert_eq!(opens(&key).unwrap(), "n");
        },
    );
}

/// A logout underneath invalidates every session of the key: the next
/// decryption succeeds at once, however many sessions sat idle in the
/// pool; and sessions replaced again and again never add up beyond the
/// pool's bound.
#[test]
#[cfg_attr(no_softhsm, ignore = "needs SoftHSM2 (softhsm2-util and libsofthsm2.so)")]
fn every_session_a_logout_invalidated_is_replaced_and_none_is_counted_twice() {
    in_own_process(
        "every_session_a_logout_invalidated_is_replaced_and_none_is_counted_twice",
        "logouts",
        |token| token.import(&key_file("rsa2048_pkcs1.pem"), "bot", 1).unwrap(),
        |token| {
            let (key, sealed) = bot_and_sealed(token);
            let opens = || decrypt(&key, &sealed.passport_data, NonceCheck::Skip).map(|p| p.nonce().to_owned());
            let context = module_context(&token.module);
            let slot = context.get_slots_with_token().unwrap()[0];
            let log_out = || context.open_ro_session(slot).unwrap().logout().unwrap();
            for round in 0..20 {
                // Several sessions idle in the pool: threads at once.
                let barrier = Barrier::new(4);
                std::thread::scope(|scope| {
                    for _ in 0..4 {
                        scope.spawn(|| {
                            barrier.wait();
                            opens().unwrap();
                        });
                    }
                });
                log_out();
                assert_eq!(opens().unwrap(), "n", "round {round}");
                assert!(key.sessions() <= 8, "round {round}: {} sessions", key.sessions());
            }
        },
    );
}

/// A key names its token by slot too: `slot-id=` of the token's slot
/// opens it; any other slot's id finds no token, whatever the label says.
#[test]
#[cfg_attr(no_softhsm, ignore = "needs SoftHSM2 (softhsm2-util and libsofthsm2.so)")]
fn a_slot_id_selects_the_tokens_slot_and_no_other() {
    in_own_process(
        "a_slot_id_selects_the_tokens_slot_and_no_other",
        "by-slot",
        |token| token.import(&key_file("rsa2048_pkcs1.pem"), "bot", 1).unwrap(),
        |token| {
            // Opened by label first, which initialises the module here.
            let _by_label = Pkcs11Key::open(&token.uri("bot")).unwrap();
            let slot = module_context(&token.module).get_slots_with_token().unwrap()[0].id();
            let with_slot = |id: u64| token.uri("bot").replacen('?', &format!(";slot-id={id}?"), 1);
            assert!(Pkcs11Key::open(&with_slot(slot)).is_ok());
            let (problem, _) = open_problem(&with_slot(slot + 1));
            assert!(matches!(problem, Pkcs11Problem::TokenNotFound { .. }), "{problem:?}");
        },
    );
}

/// A key that is dropped closes its sessions. The token's login belongs to
/// the application's sessions on it: once the last one is closed, a new
/// session is not logged in; while the key lives, it is.
#[test]
#[cfg_attr(no_softhsm, ignore = "needs SoftHSM2 (softhsm2-util and libsofthsm2.so)")]
fn a_dropped_key_closes_its_sessions_and_the_login_ends_with_them() {
    in_own_process(
        "a_dropped_key_closes_its_sessions_and_the_login_ends_with_them",
        "dropped",
        |token| token.import(&key_file("rsa2048_pkcs1.pem"), "bot", 1).unwrap(),
        |token| {
            use cryptoki::session::SessionState;
            let (key, sealed) = bot_and_sealed(token);
            // Several sessions in the pool: threads decrypting at once.
            std::thread::scope(|scope| {
                for _ in 0..4 {
                    scope.spawn(|| decrypt(&key, &sealed.passport_data, NonceCheck::Skip).unwrap());
                }
            });
            let context = module_context(&token.module);
            let slot = context.get_slots_with_token().unwrap()[0];
            let state = || {
                context
                    .open_ro_session(slot)
                    .unwrap()
                    .get_session_info()
                    .unwrap()
                    .session_state()
            };
            assert_eq!(state(), SessionState::RoUser, "logged in while the key lives");
            drop(key);
            assert_eq!(
                state(),
                SessionState::RoPublic,
                "a session of the dropped key is still open"
            );
        },
    );
}

// The decrypt tool: the same JSON through the token as from the PEM file.

fn run_tool(token: &Token, args: &[&str]) -> (bool, String, String) {
    let output = decrypt_tool()
        .args(args)
        .env("SOFTHSM2_CONF", token.conf())
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
#[cfg_attr(no_softhsm, ignore = "needs SoftHSM2 (softhsm2-util and libsofthsm2.so)")]
fn the_decrypt_tool_prints_the_same_json_through_the_token_as_from_the_pem_file() {
    let dir = std::env::temp_dir().join(format!("telegram-passport-pkcs11-tool-{}", std::process::id()));
    let token = Token::new(&dir, "tool").unwrap();
    import_fixture_keys(&token);
    let mut inputs: Vec<(Vec<String>, PathBuf)> = Vec::new();
    for name in ["full.json", "payload_legacy.json", "update.json"] {
        let fixture = common::load(&format!("passport/{name}"));
        let body = fixture.get("passport_data").unwrap_or(&fixture["update"]);
        let input = dir.join(name);
        std::fs::write(&input, serde_json::to_vec(body).unwrap()).unwrap();
        inputs.push((vec![path(&input)], data_dir().join(fixture["key"].as_str().unwrap())));
    }
    let mtproto = common::load("passport/mtproto.json");
    inputs.push((
        vec!["--tl".to_owned(), path(&data_dir().join("passport/mtproto.tl"))],
        data_dir().join(mtproto["key"].as_str().unwrap()),
    ));
    let vector = real_client_vector();
    if vector.is_dir() {
        inputs.push((vec![path(&vector.join("passport_data.json"))], vector.join("key.pem")));
    }
    for (input, key) in &inputs {
        let input: Vec<&str> = input.iter().map(String::as_str).collect();
        let key_path = path(key);
        let from_pem = run_tool(&token, &[&["--key", &key_path][..], &input].concat());
        assert!(from_pem.0, "{input:?}: {}", from_pem.2);
        let uri = token.uri(&object_name(key));
        let through_token = run_tool(&token, &[&["--key", &uri][..], &input].concat());
        assert!(through_token.0, "{input:?}: {}", through_token.2);
        assert_eq!(through_token.1, from_pem.1, "{input:?}");
        // In a ring behind another key, the same again.
        let other = path(&key_file("rsa2048_pkcs8.pem"));
        let behind = if key.ends_with("rsa2048_pkcs1.pem") {
            path(&key_file("rsa4096_pkcs1.pem"))
        } else {
            other
        };
        let in_ring = run_tool(&token, &[&["--key", &behind, "--key", &uri][..], &input].concat());
        assert!(in_ring.0, "{input:?}: {}", in_ring.2);
        assert_eq!(in_ring.1, from_pem.1, "{input:?}");
    }

    // A wrong PIN, a missing object, a missing module: one line each, non-zero.
    let input = path(&dir.join("full.json"));
    let uri = token.uri(&object_name(&key_file("rsa2048_pkcs1.pem")));
    let (path_part, _) = uri.split_once('?').unwrap();
    let module = token.module.display().to_string();
    for (key, expected) in [
        (
            format!("{path_part}?module-path={module}&pin-value=0000"),
            "the token refused the PIN",
        ),
        (
            uri.replace("object=keys-rsa2048_pkcs1", "object=nobody"),
            "no private key on the token matches object=\"nobody\"",
        ),
        (
            uri.replace(&module, "/nowhere/libpkcs11.so"),
            "cannot load the PKCS#11 module /nowhere/libpkcs11.so",
        ),
    ] {
        let (ok, stdout, stderr) = run_tool(&token, &["--key", &key, &input]);
        assert!(!ok, "{key}");
        assert!(stdout.is_empty(), "{stdout}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
        assert!(!stderr.contains("0000"), "the PIN shown: {stderr}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

fn path(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

// A token that goes away and comes back, while the process keeps running.

/// Submits until `done` says the outcome is the awaited one, every 20 ms
/// for at most `limit`; every other outcome must be `KeyUnavailable`
/// (never a refusal, which would lose the submission). How long it took.
fn until(
    limit: Duration,
    mut submit: impl FnMut() -> Result<String, Error>,
    done: impl Fn(&Result<String, Error>) -> bool,
) -> Duration {
    let start = Instant::now();
    loop {
        let outcome = submit();
        if done(&outcome) {
            return start.elapsed();
        }
        assert!(matches!(outcome, Err(Error::KeyUnavailable { .. })), "{outcome:?}");
        assert!(start.elapsed() < limit, "still {outcome:?} after {:?}", start.elapsed());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The token's own folder under `tokens/` (SoftHSM2 names it by a UUID).
fn token_folder(token: &Token) -> PathBuf {
    let mut folders: Vec<_> = std::fs::read_dir(token.dir.join("tokens"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(folders.len(), 1, "{folders:?}");
    folders.pop().unwrap()
}

#[test]
#[cfg_attr(no_softhsm, ignore = "needs SoftHSM2 (softhsm2-util and libsofthsm2.so)")]
fn a_token_whose_folder_goes_away_and_comes_back_is_used_again_within_seconds() {
    in_own_process(
        "a_token_whose_folder_goes_away_and_comes_back_is_used_again_within_seconds",
        "comes-back",
        |token| {
            token.import(&key_file("rsa2048_pkcs1.pem"), "bot", 1).unwrap();
            token.import(&key_file("rsa3072_pkcs8.pem"), "other", 2).unwrap();
        },
        |token| {
            let key = Pkcs11Key::open(&token.uri("bot")).unwrap();
            let other = Pkcs11Key::open(&token.uri("other")).unwrap();
            let sealed = PassportBuilder::new()
                .email("a@example.org")
                .seal(&key.public_key(), "n")
                .unwrap();
            let to_other = PassportBuilder::new()
                .email("b@example.org")
                .seal(&other.public_key(), "o")
                .unwrap();
            let opens = |key: &Pkcs11Key, sealed: &PassportData| {
                decrypt(key, sealed, NonceCheck::Skip).map(|p| p.nonce().to_owned())
            };
            assert_eq!(opens(&key, &sealed.passport_data).unwrap(), "n");

            for round in 0..2 {
                // Gone: every submission is unavailable, for as long as it
                // stays away, and each is answered at once.
                let tokens = token.dir.join("tokens");
                let away = token.dir.join("tokens-away");
                std::fs::rename(&tokens, &away).unwrap();
                let gone = Instant::now();
                let mut answers = 0;
                while gone.elapsed() < Duration::from_millis(2500) {
                    let asked = Instant::now();
                    let error = opens(&key, &sealed.passport_data).unwrap_err();
                    assert!(matches!(error, Error::KeyUnavailable { .. }), "{error:?}");
                    assert!(asked.elapsed() < Duration::from_millis(500), "{:?}", asked.elapsed());
                    answers += 1;
                }
                assert!(answers > 20, "{answers} answers in 2.5 s");

                // Back: used again within seconds, by both keys.
                std::fs::rename(&away, &tokens).unwrap();
                let took = until(
                    Duration::from_secs(5),
                    || opens(&key, &sealed.passport_data),
                    |outcome| outcome.as_deref().ok() == Some("n"),
                );
                println!("measured: round {round}: the token that came back was used after {took:?}");
                assert!(took < Duration::from_secs(3), "{took:?}");
                assert_eq!(opens(&other, &to_other.passport_data).unwrap(), "o");
                // A refusal is still a refusal.
                let stranger = PassportBuilder::new()
                    .email("c@example.org")
                    .seal(&PrivateKey::generate().unwrap().public_key(), "s")
                    .unwrap();
                let refused = opens(&key, &stranger.passport_data).unwrap_err();
                assert!(matches!(refused, Error::Decryption(_)), "{refused:?}");
            }
        },
    );
}

#[test]
#[cfg_attr(no_softhsm, ignore = "needs SoftHSM2 (softhsm2-util and libsofthsm2.so)")]
fn a_token_whose_objects_are_removed_and_restored_is_used_again_within_seconds() {
    in_own_process(
        "a_token_whose_objects_are_removed_and_restored_is_used_again_within_seconds",
        "restored",
        |token| token.import(&key_file("rsa2048_pkcs1.pem"), "bot", 1).unwrap(),
        |token| {
            let (key, sealed) = bot_and_sealed(token);
            let opens = || decrypt(&key, &sealed.passport_data, NonceCheck::Skip).map(|p| p.nonce().to_owned());
            assert_eq!(opens().unwrap(), "n");

            // Every file of the token but the token's own, copied aside
            // and removed: the key is gone.
            let folder = token_folder(token);
            let aside = token.dir.join("aside");
            std::fs::create_dir_all(&aside).unwrap();
            let mut removed = Vec::new();
            for entry in std::fs::read_dir(&folder).unwrap() {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap().to_owned();
                if name != "token.object" && name != "token.lock" {
                    std::fs::copy(&path, aside.join(&name)).unwrap();
                    std::fs::remove_file(&path).unwrap();
                    removed.push(name);
                }
            }
            assert!(removed.len() >= 2, "{removed:?}");
            let gone = Instant::now();
            while gone.elapsed() < Duration::from_millis(2500) {
                let error = opens().unwrap_err();
                assert!(matches!(error, Error::KeyUnavailable { .. }), "{error:?}");
                std::thread::sleep(Duration::from_millis(10));
            }

            for name in &removed {
                std::fs::copy(aside.join(name), folder.join(name)).unwrap();
            }
            let took = until(Duration::from_secs(5), opens, |outcome| {
                outcome.as_deref().ok() == Some("n")
            });
            println!("measured: the key whose objects were restored was used after {took:?}");
            assert!(took < Duration::from_secs(3), "{took:?}");
        },
    );
}

// The PIN: checked at open whatever else is logged in; read bounded; never shown.

#[test]
#[cfg_attr(no_softhsm, ignore = "needs SoftHSM2 (softhsm2-util and libsofthsm2.so)")]
fn a_wrong_pin_is_refused_at_open_whatever_else_is_logged_in_to_the_token() {
    in_own_process(
        "a_wrong_pin_is_refused_at_open_whatever_else_is_logged_in_to_the_token",
        "two-keys",
        |token| {
            token.import(&key_file("rsa2048_pkcs1.pem"), "first", 1).unwrap();
            token.import(&key_file("rsa3072_pkcs8.pem"), "second", 2).unwrap();
        },
        |token| {
            let wrong = |object: &str| {
                let uri = token.uri(object);
                format!(
                    "{}?module-path={}&pin-value=0000",
                    uri.split('?').next().unwrap(),
                    token.module.display()
                )
            };
            let refused = |uri: &str| match Pkcs11Key::open(uri) {
                Err(
                    error @ Error::Pkcs11 {
                        problem: Pkcs11Problem::PinIncorrect,
                        ..
                    },
                ) => error,
                other => panic!("{other:?}"),
            };
            // Logged in by other code of this process (its session kept
            // open): the login is logged out and the token asked.
            let context = module_context(&token.module);
            match context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
                Ok(())
                | Err(cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::CryptokiAlreadyInitialized, _)) => {}
                Err(other) => panic!("{other}"),
            }
            let slot = context.get_slots_with_token().unwrap()[0];
            let foreign = context.open_ro_session(slot).unwrap();
            foreign
                .login(UserType::User, Some(&AuthPin::from(softhsm::PIN)))
                .unwrap();
            refused(&wrong("first"));
            assert!(
                context.get_token_info(slot).unwrap().user_pin_count_low(),
                "the token was asked"
            );

            let first = Pkcs11Key::open(&token.uri("first")).unwrap();
            assert!(!context.get_token_info(slot).unwrap().user_pin_count_low());
            let sealed = PassportBuilder::new()
                .email("a@example.org")
                .seal(&first.public_key(), "n")
                .unwrap();
            // The first key decrypts throughout.
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let busy = {
                let (first, sealed, stop) = (first.clone(), sealed.passport_data.clone(), Arc::clone(&stop));
                std::thread::spawn(move || {
                    let mut opened = 0;
                    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                        assert_eq!(decrypt(&first, &sealed, NonceCheck::Skip).unwrap().nonce(), "n");
                        opened += 1;
                    }
                    opened
                })
            };
            // The second key, with a wrong PIN while the first holds the
            // login: refused, without a try counted against the token.
            for _ in 0..5 {
                let error = refused(&wrong("second"));
                let source = std::error::Error::source(&error).unwrap().to_string();
                assert!(source.contains("the token was not asked"), "{source}");
            }
            assert!(
                !context.get_token_info(slot).unwrap().user_pin_count_low(),
                "no try counted"
            );
            assert!(!context.get_token_info(slot).unwrap().user_pin_locked());
            // With the right PIN, from a file this time.
            let second = Pkcs11Key::open(&token.uri("second")).unwrap();
            let to_second = PassportBuilder::new()
                .email("b@example.org")
                .seal(&second.public_key(), "o")
                .unwrap();
            assert_eq!(
                decrypt(&second, &to_second.passport_data, NonceCheck::Skip)
                    .unwrap()
                    .nonce(),
                "o"
            );
            std::thread::sleep(Duration::from_millis(200));
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
            let opened = busy.join().unwrap();
            assert!(opened > 0);
            drop(foreign);
        },
    );
}

/// The problem `Pkcs11Key::open` reports for `uri`, and how long it took.
fn open_problem(uri: &str) -> (Pkcs11Problem, Duration) {
    let start = Instant::now();
    match Pkcs11Key::open(uri) {
        Err(Error::Pkcs11 { problem, .. }) => (problem, start.elapsed()),
        Err(other) => panic!("{uri}: {other:?}"),
        Ok(_) => panic!("{uri}: opened"),
    }
}

/// A URI with the PIN in `pin_file`, for a module that is not there: the
/// PIN file is read before the module is loaded, so what is wrong with it
/// is the answer, and a PIN file read well gives `Module`.
fn with_pin_file(pin_file: &Path) -> String {
    format!(
        "pkcs11:token=t;object=k?module-path=/nowhere/libpkcs11.so&pin-source=file:{}",
        pin_file.display()
    )
}

/// Resident memory of this process, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_pin_file_is_read_only_if_it_is_a_regular_file_of_one_short_line() {
    let dir = std::env::temp_dir().join(format!("telegram-passport-pin-files-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let second = Duration::from_secs(1);
    let not_regular = |path: &Path, expected: &str| {
        let (problem, took) = open_problem(&with_pin_file(path));
        assert!(
            matches!(&problem, Pkcs11Problem::PinFileNotRegular { path: p, found } if p == path && *found == expected),
            "{problem:?}"
        );
        assert!(took < second, "{took:?}");
        problem
    };

    // A FIFO nobody writes to.
    let fifo = dir.join("fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let problem = not_regular(&fifo, "a FIFO");
    assert_eq!(
        problem.to_string(),
        format!("the PIN file {} is a FIFO, not a regular file", fifo.display())
    );
    // A device that never ends: refused before a byte is read.
    let before = rss_kib();
    not_regular(Path::new("/dev/zero"), "a character device");
    assert!(rss_kib() < before + 16 * 1024, "{} KiB, then {} KiB", before, rss_kib());
    // A folder.
    not_regular(&dir, "a folder");

    // 300 MB, sparse: refused as too long, not read.
    let big = dir.join("big");
    let file = std::fs::File::create(&big).unwrap();
    file.set_len(300_000_000).unwrap();
    drop(file);
    let before = rss_kib();
    let (problem, took) = open_problem(&with_pin_file(&big));
    assert!(
        matches!(&problem, Pkcs11Problem::PinFileTooLong { max: 256, .. }),
        "{problem:?}"
    );
    assert!(took < second && rss_kib() < before + 16 * 1024, "{took:?}");
    // Just over the bound, and just within it.
    let long = dir.join("long");
    std::fs::write(&long, "1".repeat(257)).unwrap();
    assert!(matches!(
        open_problem(&with_pin_file(&long)).0,
        Pkcs11Problem::PinFileTooLong { .. }
    ));
    std::fs::write(&long, format!("{}\n", "1".repeat(255))).unwrap();
    assert!(matches!(
        open_problem(&with_pin_file(&long)).0,
        Pkcs11Problem::Module { .. }
    ));

    // One line, one newline after it at most.
    let pin = dir.join("pin");
    for (content, read) in [
        ("1234", true),
        ("1234\n", true),
        ("1234\r\n", true),
        ("", false),
        ("\n", false),
        ("1234\n\n", false),
        ("1234\nrest", false),
        ("12\r34", false),
    ] {
        std::fs::write(&pin, content).unwrap();
        let (problem, _) = open_problem(&with_pin_file(&pin));
        match read {
            true => assert!(
                matches!(problem, Pkcs11Problem::Module { .. }),
                "{content:?}: {problem:?}"
            ),
            false => assert!(
                matches!(problem, Pkcs11Problem::PinFileNotOneLine { .. }),
                "{content:?}: {problem:?}"
            ),
        }
    }
    std::fs::write(&pin, b"12\xff34").unwrap();
    assert!(matches!(
        open_problem(&with_pin_file(&pin)).0,
        Pkcs11Problem::PinUnreadable { .. }
    ));

    // Symbolic links are followed (Kubernetes mounts secrets as links);
    // what they lead to is held to the same rules.
    std::fs::write(&pin, "1234\n").unwrap();
    let link = dir.join("link");
    std::os::unix::fs::symlink(&pin, &link).unwrap();
    assert!(matches!(
        open_problem(&with_pin_file(&link)).0,
        Pkcs11Problem::Module { .. }
    ));
    let to_fifo = dir.join("to-fifo");
    std::os::unix::fs::symlink(&fifo, &to_fifo).unwrap();
    not_regular(&to_fifo, "a FIFO");
    let to_zero = dir.join("to-zero");
    std::os::unix::fs::symlink("/dev/zero", &to_zero).unwrap();
    not_regular(&to_zero, "a character device");
    // Missing, or not readable: the system's error as the source.
    let (problem, _) = open_problem(&with_pin_file(&dir.join("missing")));
    assert!(matches!(problem, Pkcs11Problem::PinUnreadable { .. }), "{problem:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every message and `Debug` of `error`, down its chain of sources.
fn every_text(error: &Error) -> Vec<String> {
    let mut texts = vec![error.to_string(), format!("{error:?}"), format!("{error:#?}")];
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        texts.push(cause.to_string());
        texts.push(format!("{cause:?}"));
        source = cause.source();
    }
    texts
}

#[test]
fn no_piece_of_a_pin_or_of_unknown_uri_text_is_in_any_error() {
    const MARK: &str = "S3CRETMARK";
    let dir = std::env::temp_dir().join(format!("telegram-passport-pin-marks-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let m = "module-path=/nowhere/libpkcs11.so";
    let encoded: String = MARK.bytes().map(|b| format!("%{b:02X}")).collect();
    let mut uris = vec![
        format!("pkcs11:token=t;object=k?{m}&pin-value={MARK}"),
        format!("pkcs11:token=t;object=k?{m}&pin-value={encoded}"),
        format!("pkcs11:token=t;object=k?{m}&pin-value=12&{MARK}TAIL"),
        format!("pkcs11:token=t;object=k?{m}&pin-value=12&{MARK}=TAIL"),
        format!("pkcs11:token=t;object=k?{m}&pin-value={MARK}&PIN=TAIL"),
        format!("pkcs11:token=t;object=k?{m}&pin-value=12&PIN={MARK}"),
        format!("pkcs11:token=t;object=k?{MARK}=1&{m}&pin-value=1"),
        format!("pkcs11:token=t;object=k?{encoded}=1&{m}&pin-value=1"),
        format!("pkcs11:token=t;object=k?{m}&pin-value={MARK}%2"),
        format!("pkcs11:token=t;object=k?{m}&pin-value={MARK}%zz"),
        format!("pkcs11:token=t;object=k?{m}&pin-value={MARK}%ff"),
        format!("pkcs11:token=t;object=k?{m}&pin-value={MARK}&pin-value={MARK}"),
        format!("pkcs11:token=t;object=k?{m}&pin-value={MARK}&pin-source=file:/nowhere/pin"),
        format!("pkcs11:token=t;object=k?{m}&pin-source=file:/nowhere/pin&pin-value={MARK}"),
        format!("pkcs11:token=t;object=k??pin-value={MARK}&{m}"),
        format!("pkcs11:token=t;object=k?{m}?pin-value={MARK}"),
        format!("pkcs11:token=t;object=k?{MARK}"),
        format!("pkcs11:token=t;object=k?{m}&pin-value=12&{MARK}\nFORGED"),
        format!("pkcs11:token=t;object=k;pin-value={MARK}?{m}"),
        format!("pkcs11:token=t;object=k;pin-value=12;{MARK}?{m}&pin-value=1"),
        format!("pkcs11:token=t;object=k;pin-value=12&{MARK}?{m}"),
        format!("pkcs11:token=t;{MARK};object=k?{m}&pin-value=1"),
        format!("pkcs11:token=t;{MARK}=1;object=k?{m}&pin-value=1"),
        format!("pkcs11:token=t;object=k;type={MARK}?{m}&pin-value=1"),
        format!("pkcs11:token=t;object=k;slot-id={MARK}?{m}&pin-value=1"),
        format!("pkcs11:object=k?{m}&pin-value={MARK}"),
        format!("pkcs11:token=t?{m}&pin-value={MARK}"),
        format!("pkcs11:token=t;object=k?pin-value={MARK}"),
        format!("pkcs11:token=t;object=k?module-name={MARK}&pin-value={MARK}"),
        format!("pkcs11:token=t;object=k?{m}&pin-value=12,{MARK}"),
        format!("pkcs11:token=t;object=k?{m}&pin-value=12 {MARK}"),
        format!("pkcs11:token=t;object=k?{m}&pin-value=12#{MARK}"),
        format!("pkcs11:token=t;object=k?{m}&pin-value=12;{MARK}"),
        format!("pkcs12:token=t;object=k?{m}&pin-value={MARK}"),
    ];
    // In a PIN file, in every shape it is refused in.
    for (name, content) in [
        ("two-lines", format!("1234\n{MARK}\n")),
        ("too-long", format!("{MARK}{}", "x".repeat(300))),
        ("not-utf8", format!("{MARK}\u{0}")),
    ] {
        let path = dir.join(name);
        let mut bytes = content.into_bytes();
        if name == "not-utf8" {
            bytes.push(0xff);
        }
        std::fs::write(&path, bytes).unwrap();
        uris.push(with_pin_file(&path));
    }
    for uri in &uris {
        let error = Pkcs11Key::open(uri).unwrap_err();
        for text in every_text(&error) {
            assert!(!text.contains(MARK), "{uri:?}: {text}");
            assert!(!text.contains("FORGED"), "{uri:?}: {text}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `text` is one line of visible characters, at most `max` long.
fn assert_one_bounded_line(text: &str, max: usize) {
    assert!(
        !text
            .chars()
            .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}')),
        "{text:?}"
    );
    assert!(
        text.chars().count() <= max,
        "{} characters: {}",
        text.chars().count(),
        text
    );
}

#[test]
fn every_configured_text_a_pkcs11_error_repeats_is_escaped_and_bounded() {
    let long = "x".repeat(100_000);
    let forged = "a\nFORGED LOG LINE\r\u{1b}[31m\u{202e}\u{2028}";
    let forged_encoded = "a%0AFORGED%20LOG%20LINE%0D%1B[31m%E2%80%AE%E2%80%A8";
    for uri in [
        format!("pkcs11:token=t;object=k;{forged}=1?module-path=/m.so&pin-value=1"),
        format!("pkcs11:token=t;object=k?module-path=/m.so&{forged}=1"),
        format!("pkcs11:token=t;object=k;{long}=1?module-path=/m.so&pin-value=1"),
        format!("pkcs11:token=t;object=k?module-path=/m.so&{long}"),
        format!("pkcs11:token=t;object=k?module-path=/m.so&pin-value=1&{long}=%zz"),
        // The module's and the PIN file's paths are shown: escaped, cut.
        format!("pkcs11:token=t;object=k?module-path=/nowhere/{forged_encoded}.so&pin-value=1"),
        format!("pkcs11:token=t;object=k?module-path=/nowhere/{long}.so&pin-value=1"),
        format!("pkcs11:token=t;object=k?module-path=/m.so&pin-source=file:/nowhere/{forged_encoded}"),
        format!("pkcs11:token=t;object=k?module-path=/m.so&pin-source=file:/nowhere/{long}"),
    ] {
        let error = Pkcs11Key::open(&uri).unwrap_err();
        assert!(matches!(error, Error::Pkcs11 { .. }), "{error:?}");
        for text in every_text(&error) {
            assert!(!text.contains("\nFORGED"), "{text}");
        }
        let text = error.to_string();
        assert_one_bounded_line(&text, 300);
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            assert_one_bounded_line(&cause.to_string(), 300);
            source = cause.source();
        }
    }
}
