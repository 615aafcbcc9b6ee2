//! The topic pages under docs/ hold examples too: each page is the
//! documentation of an item here, so its examples run as doctests,
//! outside the public API.

/// The examples of docs/requesting.md, run as doctests.
#[doc = include_str!("../docs/requesting.md")]
pub(crate) struct RequestingDoctests;

/// The examples of docs/keys.md, run as doctests.
#[doc = include_str!("../docs/keys.md")]
pub(crate) struct KeysDoctests;

/// The examples of docs/checking.md, run as doctests.
#[doc = include_str!("../docs/checking.md")]
pub(crate) struct CheckingDoctests;
