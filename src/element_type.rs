//! The 13 element types and which parts each may carry (PROTOCOL §3).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The type of a Telegram Passport element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ElementType {
    /// Name, birth date, gender, citizenship and residence.
    PersonalDetails,
    /// A passport.
    Passport,
    /// A driver's licence.
    DriverLicense,
    /// An identity card.
    IdentityCard,
    /// An internal passport.
    InternalPassport,
    /// A residential address.
    Address,
    /// A utility bill.
    UtilityBill,
    /// A bank statement.
    BankStatement,
    /// A rental agreement.
    RentalAgreement,
    /// A passport registration.
    PassportRegistration,
    /// A temporary registration.
    TemporaryRegistration,
    /// A phone number, verified by Telegram, sent in plain text.
    PhoneNumber,
    /// An e-mail address, verified by Telegram, sent in plain text.
    Email,
}

/// A file-bearing part of an element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileSlot {
    /// The front side of an identity document.
    FrontSide,
    /// The reverse side of a driver's licence or identity card.
    ReverseSide,
    /// A selfie holding the identity document.
    Selfie,
    /// The scans of an address document.
    Files,
    /// Translated versions of a document.
    Translation,
}

impl ElementType {
    /// All 13 types, in protocol order.
    pub const ALL: [ElementType; 13] = [
        Self::PersonalDetails,
        Self::Passport,
        Self::DriverLicense,
        Self::IdentityCard,
        Self::InternalPassport,
        Self::Address,
        Self::UtilityBill,
        Self::BankStatement,
        Self::RentalAgreement,
        Self::PassportRegistration,
        Self::TemporaryRegistration,
        Self::PhoneNumber,
        Self::Email,
    ];

    /// This one type, as a slice (what a scope entry naming it stands for).
    pub(crate) fn as_slice(self) -> &'static [ElementType] {
        match self {
            Self::PersonalDetails => &[Self::PersonalDetails],
            Self::Passport => &[Self::Passport],
            Self::DriverLicense => &[Self::DriverLicense],
            Self::IdentityCard => &[Self::IdentityCard],
            Self::InternalPassport => &[Self::InternalPassport],
            Self::Address => &[Self::Address],
            Self::UtilityBill => &[Self::UtilityBill],
            Self::BankStatement => &[Self::BankStatement],
            Self::RentalAgreement => &[Self::RentalAgreement],
            Self::PassportRegistration => &[Self::PassportRegistration],
            Self::TemporaryRegistration => &[Self::TemporaryRegistration],
            Self::PhoneNumber => &[Self::PhoneNumber],
            Self::Email => &[Self::Email],
        }
    }

    /// The protocol's name, e.g. `"driver_license"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PersonalDetails => "personal_details",
            Self::Passport => "passport",
            Self::DriverLicense => "driver_license",
            Self::IdentityCard => "identity_card",
            Self::InternalPassport => "internal_passport",
            Self::Address => "address",
            Self::UtilityBill => "utility_bill",
            Self::BankStatement => "bank_statement",
            Self::RentalAgreement => "rental_agreement",
            Self::PassportRegistration => "passport_registration",
            Self::TemporaryRegistration => "temporary_registration",
            Self::PhoneNumber => "phone_number",
            Self::Email => "email",
        }
    }

    /// Passport, driver's licence, identity card or internal passport.
    pub fn is_identity_document(self) -> bool {
        matches!(
            self,
            Self::Passport | Self::DriverLicense | Self::IdentityCard | Self::InternalPassport
        )
    }

    /// Utility bill, bank statement, rental agreement, passport or temporary registration.
    pub fn is_address_document(self) -> bool {
        matches!(
            self,
            Self::UtilityBill
                | Self::BankStatement
                | Self::RentalAgreement
                | Self::PassportRegistration
                | Self::TemporaryRegistration
        )
    }

    /// Whether the element carries encrypted `data` (personal details,
    /// identity documents, address).
    pub fn has_data(self) -> bool {
        matches!(self, Self::PersonalDetails | Self::Address) || self.is_identity_document()
    }

    /// Whether the type may carry the given file part.
    pub fn allows(self, slot: FileSlot) -> bool {
        match slot {
            FileSlot::FrontSide | FileSlot::Selfie => self.is_identity_document(),
            FileSlot::ReverseSide => matches!(self, Self::DriverLicense | Self::IdentityCard),
            FileSlot::Files => self.is_address_document(),
            FileSlot::Translation => self.is_identity_document() || self.is_address_document(),
        }
    }

    /// The MTProto `SecureValueType` constructor id.
    pub fn mtproto_constructor(self) -> u32 {
        match self {
            Self::PersonalDetails => 0x9d2a81e3,
            Self::Passport => 0x3dac6a00,
            Self::DriverLicense => 0x06e425c4,
            Self::IdentityCard => 0xa0d0744b,
            Self::InternalPassport => 0x99a48f23,
            Self::Address => 0xcbe31e26,
            Self::UtilityBill => 0xfc36954e,
            Self::BankStatement => 0x89137c0d,
            Self::RentalAgreement => 0x8b883488,
            Self::PassportRegistration => 0x99e3806a,
            Self::TemporaryRegistration => 0xea02ec33,
            Self::PhoneNumber => 0xb320aadb,
            Self::Email => 0x8e3ca7ee,
        }
    }

    /// The type with the given MTProto `SecureValueType` constructor id.
    pub fn from_mtproto_constructor(id: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.mtproto_constructor() == id)
    }
}

impl fmt::Display for ElementType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FileSlot {
    /// The protocol's field name, e.g. `"front_side"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FrontSide => "front_side",
            Self::ReverseSide => "reverse_side",
            Self::Selfie => "selfie",
            Self::Files => "files",
            Self::Translation => "translation",
        }
    }
}

impl fmt::Display for FileSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_from_str() {
        for t in ElementType::ALL {
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.as_str()));
            assert_eq!(t.as_str().parse::<ElementType>().unwrap(), t);
            assert_eq!(ElementType::from_mtproto_constructor(t.mtproto_constructor()), Some(t));
        }
    }

    #[test]
    fn parts_follow_the_protocol_table() {
        use ElementType::*;
        assert!(DriverLicense.allows(FileSlot::ReverseSide));
        assert!(!Passport.allows(FileSlot::ReverseSide));
        assert!(UtilityBill.allows(FileSlot::Translation));
        assert!(!UtilityBill.allows(FileSlot::Selfie));
        assert!(!PersonalDetails.allows(FileSlot::Translation));
        assert!(!Email.has_data() && Address.has_data() && InternalPassport.has_data());
    }
}
