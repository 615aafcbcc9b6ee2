//! The `address` element's data.

use serde::{Deserialize, Serialize};

use super::{empty_as_none, null_as_empty, CountryCode};

/// A residential address.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ResidentialAddress {
    /// First line.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub street_line1: String,
    /// Second line.
    #[serde(default, deserialize_with = "empty_as_none", skip_serializing_if = "Option::is_none")]
    pub street_line2: Option<String>,
    /// City.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub city: String,
    /// State or region.
    #[serde(default, deserialize_with = "empty_as_none", skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Country.
    #[serde(default)]
    pub country_code: CountryCode,
    /// Postal code.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub post_code: String,
}

impl ResidentialAddress {
    /// An address with the required fields set and the optional ones absent.
    pub fn new(
        street_line1: impl Into<String>,
        city: impl Into<String>,
        country_code: impl Into<String>,
        post_code: impl Into<String>,
    ) -> Self {
        Self {
            street_line1: street_line1.into(),
            city: city.into(),
            country_code: CountryCode::new(country_code),
            post_code: post_code.into(),
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_optionals_are_absent() {
        let json = r#"{"street_line1":"Main St 1","street_line2":"","city":"Århus","state":"","country_code":"DK","post_code":"8000"}"#;
        let address: ResidentialAddress = serde_json::from_str(json).unwrap();
        assert_eq!(address, ResidentialAddress::new("Main St 1", "Århus", "DK", "8000"));
    }
}
