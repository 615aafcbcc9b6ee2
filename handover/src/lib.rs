//! Tests only: `tests/` hands what grammers, frankenstein, teloxide (the
//! raw webhook body) and any other framework (a `serde_json::Value`)
//! receive to telegram-passport. The main crate's README runs here as
//! doctests too, its grammers, frankenstein and axum recipes included (`build.rs`
//! makes them runnable; the main crate has no such dependencies).

#![doc(test(attr(deny(warnings))))]

/// The README's examples, every one compiled and run.
#[doc = include_str!(concat!(env!("OUT_DIR"), "/README.md"))]
#[cfg(doctest)]
pub struct ReadmeDoctests;
