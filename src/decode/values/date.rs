//! Dates as the protocol writes them: `DD.MM.YYYY`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A date field exactly as the app sent it, with its calendar reading when
/// the text is a real `DD.MM.YYYY` date.
///
/// ```
/// use telegram_passport::Date;
///
/// let birth = Date::new("29.02.2000");
/// assert_eq!(birth.calendar().map(|d| d.year()), Some(2000));
/// assert!(!Date::new("29.02.2001").is_valid());  // not a leap year
/// assert_eq!(Date::new("31.4.2001").as_str(), "31.4.2001");  // original kept
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Date {
    text: String,
    calendar: Option<CalendarDate>,
}

/// A real calendar date. Ordered chronologically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CalendarDate {
    year: u16,
    month: u8,
    day: u8,
}

impl Date {
    /// Wraps a date field's text; never fails, see [`Date::is_valid`].
    pub fn new(text: impl Into<String>) -> Self {
        let text = text.into();
        let calendar = text.parse().ok();
        Self { text, calendar }
    }

    /// The text as received.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The calendar date, if the text is a real `DD.MM.YYYY` date.
    pub fn calendar(&self) -> Option<CalendarDate> {
        self.calendar
    }

    /// Whether the text is a real `DD.MM.YYYY` date.
    pub fn is_valid(&self) -> bool {
        self.calendar.is_some()
    }

    /// Whether the field was left empty.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }
}

impl CalendarDate {
    /// The date, if it exists in the Gregorian calendar (years 1–9999).
    pub fn new(year: u16, month: u8, day: u8) -> Option<Self> {
        let valid = (1..=9999).contains(&year) && (1..=days_in_month(year, month)).contains(&day);
        valid.then_some(Self { year, month, day })
    }

    /// The year.
    pub fn year(self) -> u16 {
        self.year
    }

    /// The month, 1–12.
    pub fn month(self) -> u8 {
        self.month
    }

    /// The day of the month, from 1.
    pub fn day(self) -> u8 {
        self.day
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    }
}

fn digits(text: &str) -> Option<u16> {
    text.bytes().try_fold(0u16, |acc, b| {
        b.is_ascii_digit().then(|| acc * 10 + u16::from(b - b'0'))
    })
}

impl FromStr for CalendarDate {
    type Err = crate::error::Error;

    /// Parses exactly `DD.MM.YYYY`; anything else is [`Error::InvalidDate`](crate::Error::InvalidDate).
    fn from_str(text: &str) -> Result<Self, crate::error::Error> {
        let invalid = || crate::error::Error::InvalidDate(crate::text::excerpt(text));
        let mut parts = text.split('.');
        let (Some(day), Some(month), Some(year), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        if day.len() != 2 || month.len() != 2 || year.len() != 4 {
            return Err(invalid());
        }
        let (day, month, year) = (
            digits(day).ok_or_else(invalid)?,
            digits(month).ok_or_else(invalid)?,
            digits(year).ok_or_else(invalid)?,
        );
        let month = u8::try_from(month).map_err(|_| invalid())?;
        let day = u8::try_from(day).map_err(|_| invalid())?;
        Self::new(year, month, day).ok_or_else(invalid)
    }
}

impl fmt::Display for CalendarDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}.{:02}.{:04}", self.day, self.month, self.year)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl From<CalendarDate> for Date {
    fn from(date: CalendarDate) -> Self {
        Self {
            text: date.to_string(),
            calendar: Some(date),
        }
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text: Option<String> = Deserialize::deserialize(deserializer)?;
        Ok(Self::new(text.unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_rules() {
        for (text, valid) in [
            ("01.01.2001", true),
            ("29.02.2000", true),
            ("29.02.1900", false),
            ("29.02.2024", true),
            ("31.12.9999", true),
            ("31.04.2001", false),
            ("00.01.2001", false),
            ("01.13.2001", false),
            ("01.01.0000", false),
            ("1.01.2001", false),
            ("01-01-2001", false),
            ("01.01.2001.", false),
            ("+1.01.2001", false),
            ("", false),
            ("٠١.٠١.٢٠٠١", false),
        ] {
            assert_eq!(Date::new(text).is_valid(), valid, "{text}");
        }
    }

    #[test]
    fn keeps_text_and_orders_chronologically() {
        let a: CalendarDate = "31.12.1999".parse().unwrap();
        let b: CalendarDate = "01.01.2000".parse().unwrap();
        assert!(a < b);
        assert_eq!(b.to_string(), "01.01.2000");
        let date: Date = serde_json::from_str("\"05.06.1990\"").unwrap();
        assert_eq!(
            (date.as_str(), date.calendar().map(|d| (d.day(), d.month(), d.year()))),
            ("05.06.1990", Some((5, 6, 1990)))
        );
        assert_eq!(serde_json::to_string(&date).unwrap(), "\"05.06.1990\"");
    }
}
