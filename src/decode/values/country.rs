//! ISO 3166-1 alpha-2 country codes.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A country code field as received (`country_code`,
/// `residence_country_code`), checked against the complete ISO 3166-1
/// alpha-2 table of officially assigned codes.
///
/// ```
/// use telegram_passport::CountryCode;
///
/// assert!(CountryCode::new("DK").is_assigned());
/// assert!(!CountryCode::new("UK").is_assigned());  // the code is GB
/// assert!(!CountryCode::new("dk").is_assigned());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct CountryCode(String);

impl CountryCode {
    /// Wraps a country code field's text; never fails, see [`CountryCode::is_assigned`].
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The text as received.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the text is one of the 249 officially assigned ISO 3166-1
    /// alpha-2 codes (upper case, as the protocol sends them). User-assigned
    /// codes such as `XK` are not.
    pub fn is_assigned(&self) -> bool {
        ASSIGNED.binary_search(&self.0.as_str()).is_ok()
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for CountryCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for CountryCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text: Option<String> = Deserialize::deserialize(deserializer)?;
        Ok(Self(text.unwrap_or_default()))
    }
}

/// The officially assigned ISO 3166-1 alpha-2 codes, sorted.
const ASSIGNED: [&str; 249] = [
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ", "BA", "BB", "BD",
    "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS", "BT", "BV", "BW", "BY", "BZ", "CA",
    "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN", "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE",
    "DJ", "DK", "DM", "DO", "DZ", "EC", "EE", "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA",
    "GB", "GD", "GE", "GF", "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK",
    "HM", "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM", "JO", "JP",
    "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC", "LI", "LK", "LR", "LS", "LT",
    "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK", "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS",
    "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA", "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ",
    "OM", "PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS",
    "RU", "RW", "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS", "ST",
    "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO", "TR", "TT", "TV", "TW",
    "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI", "VN", "VU", "WF", "WS", "YE", "YT", "ZA",
    "ZM", "ZW",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_unique_and_complete() {
        assert!(ASSIGNED.windows(2).all(|w| w[0] < w[1]));
        assert!(ASSIGNED
            .iter()
            .all(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase())));
        for code in ["AD", "AX", "BQ", "CW", "GB", "RU", "SS", "SX", "US", "ZW"] {
            assert!(CountryCode::new(code).is_assigned(), "{code}");
        }
        for code in ["", "XK", "EU", "UK", "AN", "CS", "YU", "D", "DEU", "Dk"] {
            assert!(!CountryCode::new(code).is_assigned(), "{code}");
        }
    }
}
