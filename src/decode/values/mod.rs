//! Decoded element values (PROTOCOL §5) and their field types.
//!
//! Decoding is tolerant, as real clients require: unknown fields are ignored,
//! empty optional strings read as absent, and a required field that is
//! missing reads as empty. Whether a value is *acceptable* (a real date, a
//! known country) is a separate question the field types answer, so a bad
//! field can be reported to the user instead of failing the whole passport.

mod address;
mod country;
mod date;
mod gender;
mod id_document;
mod personal_details;

pub use address::ResidentialAddress;
pub use country::CountryCode;
pub use date::{CalendarDate, Date};
pub use gender::Gender;
pub use id_document::IdDocumentData;
pub use personal_details::PersonalDetails;

use crate::element_type::ElementType;
use crate::error::Result;
use crate::input::json;

/// Decoded element data.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum ElementValue {
    /// Of `personal_details`.
    PersonalDetails(PersonalDetails),
    /// Of an identity document.
    IdDocument(IdDocumentData),
    /// Of `address`.
    Address(ResidentialAddress),
}

impl ElementValue {
    /// Decodes the decrypted `data` JSON of an element of the given type.
    pub(crate) fn decode(element_type: ElementType, json: &[u8]) -> Result<Self> {
        let what = format!("{element_type} data");
        Ok(match element_type {
            ElementType::PersonalDetails => Self::PersonalDetails(json::from_slice(json, &what)?),
            ElementType::Address => Self::Address(json::from_slice(json, &what)?),
            _ => Self::IdDocument(json::from_slice(json, &what)?),
        })
    }
}

/// Reads an optional string, treating `""` (and `null`) as absent.
fn empty_as_none<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let value: Option<String> = serde::Deserialize::deserialize(deserializer)?;
    Ok(value.filter(|s| !s.is_empty()))
}

/// Reads a required string; `null` reads as empty.
fn null_as_empty<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let value: Option<String> = serde::Deserialize::deserialize(deserializer)?;
    Ok(value.unwrap_or_default())
}
