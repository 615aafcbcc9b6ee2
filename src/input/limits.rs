//! Bounds on what the crate accepts from the network, each checked before
//! the allocation or work it guards.
//!
//! The defaults leave generous headroom over what Telegram's apps send
//! (element data is a few hundred bytes, credentials a few kilobytes,
//! photos at most 10 MB).

use crate::error::{Error, Result};

/// Size and count limits for incoming passports and files.
///
/// ```
/// use telegram_passport::Limits;
///
/// let strict = Limits { file: 12 << 20, ..Limits::default() };
/// assert_eq!(strict.element_data, 64 * 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of the input: `PassportData` / `Message` / `Update` JSON, or
    /// an MTProto message action's TL.
    pub input_json: usize,
    /// Bytes of encrypted credentials.
    pub credentials: usize,
    /// Bytes of one element's encrypted data.
    pub element_data: usize,
    /// Bytes of one encrypted file, on every path that decrypts one (in
    /// memory, in place, pipelined, streaming, to a path), checked before
    /// any work or buffer for it.
    pub file: u64,
    /// Elements in one passport.
    pub elements: usize,
    /// Files in one element's `files` or `translation` list.
    pub files_per_element: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            input_json: 4 << 20,
            credentials: 256 << 10,
            element_data: 64 << 10,
            file: 20 << 20,
            elements: 13,
            files_per_element: 50,
        }
    }
}

/// Checks `actual` against `limit`; `what` names it, only when it is too large.
pub(crate) fn check(what: impl FnOnce() -> String, actual: usize, limit: usize) -> Result<()> {
    check64(what, actual as u64, limit as u64)
}

/// [`check`] for sizes that may exceed `usize` (files).
pub(crate) fn check64(what: impl FnOnce() -> String, actual: u64, limit: u64) -> Result<()> {
    if actual > limit {
        return Err(Error::TooLarge {
            what: what(),
            actual,
            limit,
        });
    }
    Ok(())
}
