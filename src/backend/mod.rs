//! The primitives on the receive path's hot path — RSA-OAEP decryption,
//! AES-256-CBC decryption and SHA-256 — from one of two implementations,
//! chosen at compile time with the same interface:
//!
//! - AWS-LC (default feature `aws-lc`): AWS's fork of BoringSSL through
//!   `aws-lc-rs`; constant-time and blinded. The key is parsed into AWS-LC's
//!   form once, when it is loaded.
//! - RustCrypto (`default-features = false`): pure Rust, no C toolchain;
//!   `rsa` 0.10 blinded with constant-time bignum arithmetic, about ten
//!   times slower at RSA, and still listed by RUSTSEC-2023-0071.
//!
//! Everything else (key parsing and export, key generation, SHA-512, the
//! app side's encryption) uses RustCrypto in both builds; in the AWS-LC
//! build, no private-key operation goes through `rsa`.

#[cfg(feature = "aws-lc")]
mod aws_lc;
#[cfg(not(feature = "aws-lc"))]
mod rust_crypto;

#[cfg(feature = "aws-lc")]
pub(crate) use aws_lc::{CbcDecryptor, RsaDecryptor, Sha256, NAME};
#[cfg(not(feature = "aws-lc"))]
pub(crate) use rust_crypto::{CbcDecryptor, RsaDecryptor, Sha256, NAME};

/// The cryptographic backend this build decrypts with: `"AWS-LC"` (the
/// default feature `aws-lc`) or `"RustCrypto"` (`default-features = false`).
///
/// ```
/// let expected = if cfg!(feature = "aws-lc") { "AWS-LC" } else { "RustCrypto" };
/// assert_eq!(telegram_passport::backend_name(), expected);
/// ```
pub fn backend_name() -> &'static str {
    NAME
}
