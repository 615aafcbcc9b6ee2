//! The primitives on the hot path — RSA-OAEP decryption, AES-256-CBC
//! decryption and SHA-256 — from one of two implementations, chosen at
//! compile time with the same interface:
//!
//! - RustCrypto (default): pure Rust, no C toolchain; `rsa` 0.10 blinded and
//!   constant-time.
//! - AWS-LC (feature `aws-lc`): AWS's fork of BoringSSL through `aws-lc-rs`;
//!   constant-time, blinded, about four times faster RSA.
//!
//! Everything else (key parsing, SHA-512, the app side's encryption) uses
//! RustCrypto in both builds.

#[cfg(feature = "aws-lc")]
mod aws_lc;
#[cfg(not(feature = "aws-lc"))]
mod rust_crypto;

#[cfg(feature = "aws-lc")]
pub(crate) use aws_lc::{CbcDecryptor, RsaDecryptor, Sha256, NAME};
#[cfg(not(feature = "aws-lc"))]
pub(crate) use rust_crypto::{CbcDecryptor, RsaDecryptor, Sha256, NAME};
