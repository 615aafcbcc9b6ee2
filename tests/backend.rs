//! Which backend does the receive path's private-key work. In the default
//! build that is AWS-LC, and RustCrypto's RSA decryption is not even linked.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::key;
use telegram_passport::client::PassportBuilder;
use telegram_passport::{backend_name, decrypt, NonceCheck};

#[test]
fn the_backend_is_the_one_the_features_select() {
    let expected = if cfg!(feature = "aws-lc") {
        "AWS-LC"
    } else {
        "RustCrypto"
    };
    assert_eq!(backend_name(), expected);
}

/// RustCrypto's RSA private-key function, `rsa::algorithms::rsa::rsa_decrypt`,
/// as both of rustc's symbol mangling schemes spell its path.
const RUSTCRYPTO_RSA_DECRYPT: &[u8] = b"3rsa10algorithms3rsa11rsa_decrypt";

/// Whether the symbol table names a function whose path contains `fragment`.
/// (Debug information may still mention functions the linker dropped, so
/// only the symbol table counts.)
fn linked(binary: &[u8], fragment: &[u8]) -> bool {
    use object::{Object, ObjectSymbol};
    let file = object::File::parse(binary).unwrap();
    let symbols: Vec<_> = file.symbols().chain(file.dynamic_symbols()).collect();
    assert!(!symbols.is_empty(), "the test binary has no symbol table");
    symbols.iter().any(|symbol| {
        let name = symbol.name_bytes().unwrap_or_default();
        symbol.is_definition() && name.windows(fragment.len()).any(|window| window == fragment)
    })
}

#[test]
fn rustcrypto_rsa_decryption_is_linked_only_into_the_pure_rust_build() {
    // Make the whole receive path reachable from this binary, so the linker
    // keeps whatever private-key code it calls.
    let key = key("keys/rsa2048_pkcs1.pem");
    let sealed = PassportBuilder::new()
        .email("a@example.org")
        .seal(&key.public_key(), "n")
        .unwrap();
    let passport = decrypt(&key, &sealed.passport_data, NonceCheck::Expect("n")).unwrap();
    assert_eq!(passport.email(), Some("a@example.org"));

    let binary = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    let found = linked(&binary, RUSTCRYPTO_RSA_DECRYPT);
    // The pure-Rust build must find it: that proves the search can see it.
    assert_eq!(found, !cfg!(feature = "aws-lc"), "backend {}", backend_name());
}
