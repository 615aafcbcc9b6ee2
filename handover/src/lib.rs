//! Tests only: `tests/` hands what grammers, frankenstein, teloxide (the
//! raw webhook body) and any other framework (a `serde_json::Value`)
//! receive to telegram-passport. The main crate's README is compiled and
//! run here as doctests, since its recipes use those stacks.

/// The README's examples, compiled and run as doctests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
