//! The data of an identity document (passport, driver's licence, identity
//! card, internal passport).

use serde::{Deserialize, Serialize};

use super::{null_as_empty, Date};

/// The data of an identity document.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IdDocumentData {
    /// Document number.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub document_no: String,
    /// Expiry date; absent for documents that do not expire.
    #[serde(
        default,
        deserialize_with = "empty_date_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub expiry_date: Option<Date>,
}

impl IdDocumentData {
    /// Document data with a number and an optional expiry date.
    pub fn new(document_no: impl Into<String>, expiry_date: Option<Date>) -> Self {
        Self {
            document_no: document_no.into(),
            expiry_date,
        }
    }
}

fn empty_date_as_none<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Date>, D::Error> {
    let text = super::empty_as_none(deserializer)?;
    Ok(text.map(Date::new))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_expiry_is_absent() {
        let data: IdDocumentData = serde_json::from_str(r#"{"document_no":"X1","expiry_date":""}"#).unwrap();
        assert_eq!(data, IdDocumentData::new("X1", None));
        let data: IdDocumentData =
            serde_json::from_str(r#"{"document_no":"X1","expiry_date":"01.02.2030","x":1}"#).unwrap();
        assert_eq!(data.expiry_date.as_ref().map(Date::as_str), Some("01.02.2030"));
        assert_eq!(
            serde_json::to_string(&data).unwrap(),
            r#"{"document_no":"X1","expiry_date":"01.02.2030"}"#
        );
    }
}
