//! Fresh nonces, and what a store accepts as one.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::error::Result;
use crate::secret::fill_random;

/// Random bytes in a nonce: 256 bits.
const NONCE_BYTES: usize = 32;
/// Longest nonce a store looks up; anything longer was never issued here.
const MAX_NONCE_LEN: usize = 128;

/// A fresh nonce: 256 bits from the operating system's CSPRNG, as 43
/// URL-safe base64 characters.
///
/// ```
/// let nonce = telegram_passport::generate_nonce()?;
/// assert_eq!(nonce.len(), 43);
/// assert!(nonce.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
/// # Ok::<(), telegram_passport::Error>(())
/// ```
pub fn generate_nonce() -> Result<String> {
    let mut bytes = [0u8; NONCE_BYTES];
    fill_random(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Whether `nonce` could have been issued by [`generate_nonce`]; stores look
/// up nothing else, so attacker-chosen text never reaches their keys.
pub(crate) fn is_well_formed(nonce: &str) -> bool {
    !nonce.is_empty()
        && nonce.len() <= MAX_NONCE_LEN
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
