//! Checking a decrypted passport against what was asked for ([`validate`]),
//! and the reports that make the user's app show what to fix ([`report`]).

pub(crate) mod report;
pub(crate) mod validate;
