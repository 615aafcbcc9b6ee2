//! The `gender` field of personal details.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Gender as the protocol defines it: `male` or `female`. Anything else a
/// client sends is kept as [`Gender::Unrecognized`] so it can be reported.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Gender {
    /// `"male"`.
    Male,
    /// `"female"`.
    Female,
    /// Any other text, kept as received (empty when the field was missing).
    Unrecognized(String),
}

impl Gender {
    /// The text as received.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Male => "male",
            Self::Female => "female",
            Self::Unrecognized(text) => text,
        }
    }
}

impl From<&str> for Gender {
    fn from(text: &str) -> Self {
        match text {
            "male" => Self::Male,
            "female" => Self::Female,
            other => Self::Unrecognized(other.to_owned()),
        }
    }
}

impl Default for Gender {
    fn default() -> Self {
        Self::Unrecognized(String::new())
    }
}

impl fmt::Display for Gender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Gender {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Gender {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text: Option<String> = Deserialize::deserialize(deserializer)?;
        Ok(Self::from(text.as_deref().unwrap_or_default()))
    }
}
