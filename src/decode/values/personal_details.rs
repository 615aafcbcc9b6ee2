//! The `personal_details` element's data.

use serde::{Deserialize, Serialize};

use super::{empty_as_none, null_as_empty, CountryCode, Date, Gender};

/// Personal details: name, birth date, gender, citizenship and residence.
///
/// Native-script names are present when the request asked for
/// `native_names` and the user's legal name is not in the Latin alphabet.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PersonalDetails {
    /// First name, in Latin script.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub first_name: String,
    /// Last name, in Latin script.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub last_name: String,
    /// Middle name, in Latin script.
    #[serde(default, deserialize_with = "empty_as_none", skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    /// Date of birth.
    #[serde(default)]
    pub birth_date: Date,
    /// Gender.
    #[serde(default)]
    pub gender: Gender,
    /// Citizenship.
    #[serde(default)]
    pub country_code: CountryCode,
    /// Country of residence.
    #[serde(default)]
    pub residence_country_code: CountryCode,
    /// First name in the language of the user's country of residence.
    #[serde(default, deserialize_with = "empty_as_none", skip_serializing_if = "Option::is_none")]
    pub first_name_native: Option<String>,
    /// Last name in the language of the user's country of residence.
    #[serde(default, deserialize_with = "empty_as_none", skip_serializing_if = "Option::is_none")]
    pub last_name_native: Option<String>,
    /// Middle name in the language of the user's country of residence.
    #[serde(default, deserialize_with = "empty_as_none", skip_serializing_if = "Option::is_none")]
    pub middle_name_native: Option<String>,
}

impl PersonalDetails {
    /// Personal details with the required fields set and the optional ones absent.
    pub fn new(
        first_name: impl Into<String>,
        last_name: impl Into<String>,
        birth_date: impl Into<Date>,
        gender: Gender,
        country_code: impl Into<String>,
        residence_country_code: impl Into<String>,
    ) -> Self {
        Self {
            first_name: first_name.into(),
            last_name: last_name.into(),
            birth_date: birth_date.into(),
            gender,
            country_code: CountryCode::new(country_code),
            residence_country_code: CountryCode::new(residence_country_code),
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerant_decoding() {
        let json = r#"{"first_name":"Zoë","last_name":"Ångström","middle_name":"","birth_date":"31.04.1990",
            "gender":"other","country_code":"DK","residence_country_code":null,"first_name_native":"Зоя",
            "unknown_field":{"nested":[1,2]}}"#;
        let details: PersonalDetails = serde_json::from_str(json).unwrap();
        assert_eq!(details.first_name, "Zoë");
        assert_eq!(details.middle_name, None);
        assert!(!details.birth_date.is_valid());
        assert_eq!(details.gender, Gender::Unrecognized("other".into()));
        assert!(details.country_code.is_assigned());
        assert_eq!(details.residence_country_code.as_str(), "");
        assert_eq!(details.first_name_native.as_deref(), Some("Зоя"));
        let back = serde_json::to_value(&details).unwrap();
        assert_eq!(back["first_name_native"], "Зоя");
        assert!(back.get("middle_name").is_none() && back.get("unknown_field").is_none());
    }

    #[test]
    fn wrong_json_types_are_errors() {
        assert!(serde_json::from_str::<PersonalDetails>(r#"{"first_name": 5}"#).is_err());
        assert!(serde_json::from_str::<PersonalDetails>("\"Jane\"").is_err());
    }
}
