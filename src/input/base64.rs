//! Base64 as the Bot API writes it: the standard alphabet. Padding is
//! accepted whether present or not; output is always padded (the same as
//! [`Sha256Hash::to_base64`], which writes a hash with the base64 crate's
//! standard engine).

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::secret::{Secret, Sha256Hash};

const ENGINE: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

pub(crate) fn encode(bytes: &[u8]) -> String {
    ENGINE.encode(bytes)
}

pub(crate) fn decode(text: &str, field: &str) -> Result<Vec<u8>> {
    ENGINE.decode(text).map_err(|_| Error::Base64 {
        field: field.to_owned(),
    })
}

pub(crate) fn decode_hash(text: &str, field: &str) -> Result<Sha256Hash> {
    let bytes = decode(text, field)?;
    Sha256Hash::from_slice(&bytes).ok_or_else(|| Error::Length {
        field: field.to_owned(),
        expected: Sha256Hash::LEN,
        actual: bytes.len(),
    })
}

pub(crate) fn decode_secret(text: &str, field: &str) -> Result<Secret> {
    let bytes = Zeroizing::new(decode(text, field)?);
    Secret::from_slice(&bytes).ok_or_else(|| Error::Length {
        field: field.to_owned(),
        expected: Secret::LEN,
        actual: bytes.len(),
    })
}
