//! Checking a decrypted passport against the request and the rules a KYC
//! service needs, and turning each finding into the error report that makes
//! the user's app highlight the wrong field or photo.
//!
//! Invariant: an [`Accepted`] passport exists only after every check passed;
//! dates are judged against a date the caller gives, never the wall clock.

use std::fmt;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::check::report::{PassportElementError, SecureValueError, SetPassportDataErrors};
use crate::decode::values::{
    CalendarDate, CountryCode, Date, ElementValue, Gender, IdDocumentData, PersonalDetails, ResidentialAddress,
};
use crate::element_type::{ElementType, FileSlot};
use crate::error::Result;
use crate::open::passport::{DecryptedPassport, Document};
use crate::request::scope::{Scope, ScopeElement, ScopeOne};

/// Oldest plausible age, in years.
const MAX_AGE: u32 = 120;

/// What is wrong. Each variant has a default English message
/// ([`Problem::default_message`]); [`Validator::messages`] replaces or
/// translates them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Problem {
    /// A requested element (or every choice of a one-of group) is absent.
    MissingElement {
        /// The types any one of which would do.
        requested: Vec<ElementType>,
    },
    /// A required or requested file part is absent.
    MissingFile {
        /// The element.
        element: ElementType,
        /// The part: front side, reverse side, selfie, files or translation.
        slot: FileSlot,
    },
    /// A required field is empty.
    EmptyField {
        /// The element.
        element: ElementType,
        /// The field.
        field: &'static str,
    },
    /// A date field is not a real `DD.MM.YYYY` date.
    InvalidDate {
        /// The element.
        element: ElementType,
        /// The field.
        field: &'static str,
    },
    /// The birth date is after the validation date.
    BirthDateInFuture,
    /// The birth date means an age above 120 years.
    ImplausibleAge {
        /// The age it means.
        years: u32,
    },
    /// Younger than the validator's minimum age.
    TooYoung {
        /// The age.
        years: u32,
        /// The minimum.
        minimum: u32,
    },
    /// The document's expiry date is before the validation date.
    DocumentExpired {
        /// The document.
        element: ElementType,
        /// When it expired.
        #[serde(serialize_with = "display")]
        expiry: CalendarDate,
    },
    /// A country code that is not an assigned ISO 3166-1 alpha-2 code.
    InvalidCountry {
        /// The element.
        element: ElementType,
        /// The field.
        field: &'static str,
    },
    /// Gender other than `male` or `female`.
    InvalidGender,
    /// Native names were requested but a native name is missing.
    MissingNativeName {
        /// The field.
        field: &'static str,
    },
    /// Found by a caller's [`Rule`].
    Custom,
}

fn display<T: fmt::Display, S: Serializer>(value: &T, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

fn label(field: &str) -> &str {
    match field {
        "first_name" => "First name",
        "last_name" => "Last name",
        "middle_name" => "Middle name",
        "birth_date" => "Date of birth",
        "gender" => "Gender",
        "country_code" => "Country",
        "residence_country_code" => "Country of residence",
        "first_name_native" => "First name in your native language",
        "last_name_native" => "Last name in your native language",
        "document_no" => "Document number",
        "expiry_date" => "Expiry date",
        "street_line1" => "Street",
        "city" => "City",
        "post_code" => "Postcode",
        other => other,
    }
}

fn type_label(element_type: ElementType) -> String {
    element_type.as_str().replace('_', " ")
}

impl Problem {
    /// The English message sent unless [`Validator::messages`] says otherwise.
    pub fn default_message(&self) -> String {
        match self {
            Self::MissingElement { requested } => match requested.as_slice() {
                [one] => format!("Please share your {}", type_label(*one)),
                many => {
                    let names: Vec<String> = many.iter().map(|t| type_label(*t)).collect();
                    format!("Please share one of: {}", names.join(", "))
                }
            },
            Self::MissingFile { slot, .. } => match slot {
                FileSlot::FrontSide => "Please upload the front side of the document".to_owned(),
                FileSlot::ReverseSide => "Please upload the reverse side of the document".to_owned(),
                FileSlot::Selfie => "Please upload a selfie holding the document".to_owned(),
                FileSlot::Files => "Please upload a scan of the document".to_owned(),
                FileSlot::Translation => "Please upload a translation of the document".to_owned(),
            },
            Self::EmptyField { field, .. } | Self::MissingNativeName { field } => {
                format!("{} is required", label(field))
            }
            Self::InvalidDate { field, .. } => format!("{} is not a valid date", label(field)),
            Self::BirthDateInFuture => "Date of birth is in the future".to_owned(),
            Self::ImplausibleAge { years } => {
                format!("Date of birth gives an age of {years} years; please check it")
            }
            Self::TooYoung { minimum, .. } => format!("You must be at least {minimum} years old"),
            Self::DocumentExpired { expiry, .. } => format!("The document expired on {expiry}"),
            Self::InvalidCountry { field, .. } => {
                format!("{} is not a valid country", label(field))
            }
            Self::InvalidGender => "Gender must be male or female".to_owned(),
            Self::Custom => String::new(),
        }
    }
}

/// One thing found wrong: the problem, the message for the user, and the
/// error report that points the user's app at it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    problem: Problem,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<PassportElementError>,
}

impl Finding {
    /// What is wrong.
    pub fn problem(&self) -> &Problem {
        &self.problem
    }

    /// The message for the user.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The error report to send. `None` only for a wholly missing element,
    /// which has no hash an error could name: request the data again instead.
    pub fn error(&self) -> Option<&PassportElementError> {
        self.error.as_ref()
    }
}

/// A caller's own check, for example "citizens of these countries only".
/// Build its errors with [`Document::data_error`], [`Document::file_error`]
/// and friends, which pick the right hash. `Send + Sync`, so that a
/// [`Validator`] can be shared by an async server's tasks.
pub trait Rule: Send + Sync {
    /// The errors this rule finds in `passport`.
    fn check(&self, passport: &DecryptedPassport) -> Vec<PassportElementError>;
}

impl<F: Fn(&DecryptedPassport) -> Vec<PassportElementError> + Send + Sync> Rule for F {
    fn check(&self, passport: &DecryptedPassport) -> Vec<PassportElementError> {
        self(passport)
    }
}

type Messages<'a> = Box<dyn Fn(&Problem) -> Option<String> + Send + Sync + 'a>;

/// Checks decrypted passports against the scope that was requested.
///
/// ```
/// use telegram_passport::client::PassportBuilder;
/// use telegram_passport::{
///     decrypt, CalendarDate, Date, ElementType, IdDocumentData, NonceCheck, PrivateKey, Scope, ScopeElement, Validation, Validator,
/// };
///
/// let key = PrivateKey::generate()?;
/// let scope = Scope::new([ScopeElement::one(ElementType::Passport).selfie()])?;
/// let sealed = PassportBuilder::new()
///     .id_document(ElementType::Passport, &IdDocumentData::new("X1", Some(Date::new("01.01.2020"))))
///     .seal(&key.public_key(), "n")?;
/// let passport = decrypt(&key, &sealed.passport_data, NonceCheck::Expect("n"))?;
///
/// let today = CalendarDate::new(2026, 11, 23).unwrap();
/// let Validation::Rejected(rejected) = Validator::new(&scope, today).validate(passport) else { panic!() };
/// let messages: Vec<&str> = rejected.findings().iter().map(|f| f.message()).collect();
/// assert_eq!(messages, [
///     "Please upload a selfie holding the document",
///     "The document expired on 01.01.2020",
///     "Please upload the front side of the document",
/// ]);
/// let body = rejected.set_passport_data_errors(123); // POST to setPassportDataErrors
/// assert_eq!(body.errors.len(), 3);
/// # Ok::<(), telegram_passport::Error>(())
/// ```
pub struct Validator<'a> {
    scope: &'a Scope,
    today: CalendarDate,
    minimum_age: Option<u32>,
    rules: Vec<Box<dyn Rule + 'a>>,
    messages: Option<Messages<'a>>,
}

impl fmt::Debug for Validator<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Validator")
            .field("scope", self.scope)
            .field("today", &self.today)
            .field("minimum_age", &self.minimum_age)
            .field("rules", &self.rules.len())
            .finish_non_exhaustive()
    }
}

impl<'a> Validator<'a> {
    /// A validator for passports answering a request for `scope`, judging
    /// dates as of `today`.
    pub fn new(scope: &'a Scope, today: CalendarDate) -> Self {
        Self {
            scope,
            today,
            minimum_age: None,
            rules: Vec::new(),
            messages: None,
        }
    }

    /// Refuses people younger than `years`.
    pub fn minimum_age(mut self, years: u32) -> Self {
        self.minimum_age = Some(years);
        self
    }

    /// Adds a caller's own check.
    pub fn rule(mut self, rule: impl Rule + 'a) -> Self {
        self.rules.push(Box::new(rule));
        self
    }

    /// Replaces default messages: return `Some(text)` to use `text` for a
    /// problem (for example, in the user's language), `None` for the default.
    pub fn messages(mut self, messages: impl Fn(&Problem) -> Option<String> + Send + Sync + 'a) -> Self {
        self.messages = Some(Box::new(messages));
        self
    }

    /// Checks `passport`: accepted, or the findings to send back.
    pub fn validate(&self, passport: DecryptedPassport) -> Validation {
        let mut findings = Findings {
            validator: self,
            found: Vec::new(),
        };
        findings.check_scope(&passport);
        for document in passport.documents() {
            findings.check_document(document);
        }
        for rule in &self.rules {
            for error in rule.check(&passport) {
                let message = error.message().to_owned();
                findings.found.push(Finding {
                    problem: Problem::Custom,
                    message,
                    error: Some(error),
                });
            }
        }
        let missing = findings
            .found
            .iter()
            .any(|f| matches!(f.problem, Problem::MissingElement { .. }));
        crate::audit::validated(findings.found.is_empty(), findings.found.len(), missing);
        if findings.found.is_empty() {
            Validation::Accepted(Accepted { passport })
        } else {
            Validation::Rejected(Rejected {
                passport,
                findings: findings.found,
            })
        }
    }

    fn message(&self, problem: &Problem) -> String {
        self.messages
            .as_ref()
            .and_then(|m| m(problem))
            .unwrap_or_else(|| problem.default_message())
    }
}

/// Collects findings for one passport.
struct Findings<'v, 'a> {
    validator: &'v Validator<'a>,
    found: Vec<Finding>,
}

impl Findings<'_, '_> {
    fn push(&mut self, problem: Problem, document: Option<&Document>) {
        let message = self.validator.message(&problem);
        let error = document.map(|document| match data_field(&problem) {
            Some(field) => document
                .data_error(field, message.clone())
                .unwrap_or_else(|_| document.unspecified_error(message.clone())),
            None => document.unspecified_error(message.clone()),
        });
        self.found.push(Finding {
            problem,
            message,
            error,
        });
    }

    /// Every scope entry satisfied, with the files its flags ask for.
    fn check_scope(&mut self, passport: &DecryptedPassport) {
        for entry in self.validator.scope.elements() {
            let (choices, selfie, translation): (&[ScopeOne], bool, bool) = match entry {
                ScopeElement::One(one) => (std::slice::from_ref(one), false, false),
                ScopeElement::OneOf {
                    items,
                    selfie,
                    translation,
                } => (items, *selfie, *translation),
            };
            let found = choices.iter().find_map(|choice| {
                let types = choice.scope_type.element_types();
                let element = passport.elements().iter().find(|e| types.contains(&e.element_type()))?;
                Some((choice, element))
            });
            let Some((choice, element)) = found else {
                let requested = choices
                    .iter()
                    .flat_map(|c| c.scope_type.element_types().iter().copied())
                    .collect();
                self.push(Problem::MissingElement { requested }, None);
                continue;
            };
            let Some(document) = passport
                .documents()
                .find(|d| d.element_type() == element.element_type())
            else {
                continue;
            };
            let element = document.element_type();
            if (selfie || choice.selfie) && document.selfie().is_none() {
                self.push(
                    Problem::MissingFile {
                        element,
                        slot: FileSlot::Selfie,
                    },
                    Some(document),
                );
            }
            if (translation || choice.translation) && document.translation().is_empty() {
                self.push(
                    Problem::MissingFile {
                        element,
                        slot: FileSlot::Translation,
                    },
                    Some(document),
                );
            }
            if choice.native_names {
                if let Some(ElementValue::PersonalDetails(details)) = document.value() {
                    self.check_native_names(details, document);
                }
            }
        }
    }

    fn check_native_names(&mut self, details: &PersonalDetails, document: &Document) {
        for (field, value) in [
            ("first_name_native", &details.first_name_native),
            ("last_name_native", &details.last_name_native),
        ] {
            if value.is_none() {
                self.push(Problem::MissingNativeName { field }, Some(document));
            }
        }
    }

    fn check_document(&mut self, document: &Document) {
        let element = document.element_type();
        match document.value() {
            Some(ElementValue::PersonalDetails(details)) => self.check_personal_details(details, document),
            Some(ElementValue::IdDocument(data)) => self.check_id_document(data, document),
            Some(ElementValue::Address(address)) => self.check_address(address, document),
            _ => {}
        }
        if element.is_identity_document() && document.front_side().is_none() {
            self.push(
                Problem::MissingFile {
                    element,
                    slot: FileSlot::FrontSide,
                },
                Some(document),
            );
        }
        if element.allows(FileSlot::ReverseSide) && document.reverse_side().is_none() {
            self.push(
                Problem::MissingFile {
                    element,
                    slot: FileSlot::ReverseSide,
                },
                Some(document),
            );
        }
        if element.is_address_document() && document.files().is_empty() {
            self.push(
                Problem::MissingFile {
                    element,
                    slot: FileSlot::Files,
                },
                Some(document),
            );
        }
    }

    fn required(&mut self, document: &Document, field: &'static str, value: &str) -> bool {
        let present = !value.trim().is_empty();
        if !present {
            self.push(
                Problem::EmptyField {
                    element: document.element_type(),
                    field,
                },
                Some(document),
            );
        }
        present
    }

    fn country(&mut self, document: &Document, field: &'static str, code: &CountryCode) {
        if self.required(document, field, code.as_str()) && !code.is_assigned() {
            self.push(
                Problem::InvalidCountry {
                    element: document.element_type(),
                    field,
                },
                Some(document),
            );
        }
    }

    /// The calendar date of a required date field, reporting what is wrong with it.
    fn date(&mut self, document: &Document, field: &'static str, date: &Date) -> Option<CalendarDate> {
        if !self.required(document, field, date.as_str()) {
            return None;
        }
        let calendar = date.calendar();
        if calendar.is_none() {
            self.push(
                Problem::InvalidDate {
                    element: document.element_type(),
                    field,
                },
                Some(document),
            );
        }
        calendar
    }

    fn check_personal_details(&mut self, details: &PersonalDetails, document: &Document) {
        self.required(document, "first_name", &details.first_name);
        self.required(document, "last_name", &details.last_name);
        if let Some(birth) = self.date(document, "birth_date", &details.birth_date) {
            let today = self.validator.today;
            match age(birth, today) {
                None => self.push(Problem::BirthDateInFuture, Some(document)),
                Some(years) if years > MAX_AGE => self.push(Problem::ImplausibleAge { years }, Some(document)),
                Some(years) => {
                    if let Some(minimum) = self.validator.minimum_age.filter(|&minimum| years < minimum) {
                        self.push(Problem::TooYoung { years, minimum }, Some(document));
                    }
                }
            }
        }
        if let Gender::Unrecognized(text) = &details.gender {
            if self.required(document, "gender", text) {
                self.push(Problem::InvalidGender, Some(document));
            }
        }
        self.country(document, "country_code", &details.country_code);
        self.country(document, "residence_country_code", &details.residence_country_code);
    }

    fn check_id_document(&mut self, data: &IdDocumentData, document: &Document) {
        self.required(document, "document_no", &data.document_no);
        if let Some(expiry) = data
            .expiry_date
            .as_ref()
            .and_then(|date| self.date(document, "expiry_date", date))
        {
            if expiry < self.validator.today {
                self.push(
                    Problem::DocumentExpired {
                        element: document.element_type(),
                        expiry,
                    },
                    Some(document),
                );
            }
        }
    }

    fn check_address(&mut self, address: &ResidentialAddress, document: &Document) {
        self.required(document, "street_line1", &address.street_line1);
        self.required(document, "city", &address.city);
        self.country(document, "country_code", &address.country_code);
        self.required(document, "post_code", &address.post_code);
    }
}

/// The data field a problem is about, if it is about one.
fn data_field(problem: &Problem) -> Option<&'static str> {
    match problem {
        Problem::EmptyField { field, .. }
        | Problem::InvalidDate { field, .. }
        | Problem::InvalidCountry { field, .. }
        | Problem::MissingNativeName { field } => Some(field),
        Problem::BirthDateInFuture | Problem::ImplausibleAge { .. } | Problem::TooYoung { .. } => Some("birth_date"),
        Problem::DocumentExpired { .. } => Some("expiry_date"),
        Problem::InvalidGender => Some("gender"),
        // Problems of whole elements and files: no data field to point at.
        Problem::MissingElement { .. } | Problem::MissingFile { .. } | Problem::Custom => None,
    }
}

/// Full years from `birth` to `today`; `None` if `birth` is after `today`.
fn age(birth: CalendarDate, today: CalendarDate) -> Option<u32> {
    if birth > today {
        return None;
    }
    let had_birthday = (today.month(), today.day()) >= (birth.month(), birth.day());
    Some(u32::from(today.year() - birth.year()) - u32::from(!had_birthday))
}

/// The outcome of [`Validator::validate`].
#[derive(Debug, Clone)]
#[must_use]
pub enum Validation {
    /// Every check passed.
    Accepted(Accepted),
    /// Something is wrong: send the errors and request the data again.
    Rejected(Rejected),
}

/// A passport that passed every check; only [`Validator::validate`] makes one.
#[derive(Debug, Clone, Serialize)]
pub struct Accepted {
    passport: DecryptedPassport,
}

impl Accepted {
    /// The verified values.
    pub fn passport(&self) -> &DecryptedPassport {
        &self.passport
    }

    /// The verified values, by value.
    pub fn into_passport(self) -> DecryptedPassport {
        self.passport
    }
}

/// A passport with findings.
#[derive(Debug, Clone)]
pub struct Rejected {
    passport: DecryptedPassport,
    findings: Vec<Finding>,
}

impl Rejected {
    /// Everything found, in order: the scope's requirements, then each element, then custom rules.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// The passport as decrypted.
    pub fn passport(&self) -> &DecryptedPassport {
        &self.passport
    }

    /// The error reports to send (one per finding that has one).
    pub fn errors(&self) -> Vec<PassportElementError> {
        self.findings.iter().filter_map(|f| f.error.clone()).collect()
    }

    /// Whether some requested element is missing altogether, which no
    /// error report can name: issue a new request for it.
    pub fn has_missing_elements(&self) -> bool {
        self.findings
            .iter()
            .any(|f| matches!(f.problem, Problem::MissingElement { .. }))
    }

    /// The body of the Bot API `setPassportDataErrors` call for `user_id`.
    pub fn set_passport_data_errors(&self, user_id: i64) -> SetPassportDataErrors {
        SetPassportDataErrors {
            user_id,
            errors: self.errors(),
        }
    }

    /// The errors for MTProto's `users.setSecureValueErrors`.
    pub fn mtproto_errors(&self) -> Result<Vec<SecureValueError>> {
        self.findings
            .iter()
            .filter_map(|f| f.error.as_ref())
            .map(PassportElementError::to_mtproto)
            .collect()
    }
}

/// `{"status": "accepted", "passport": ...}` or
/// `{"status": "rejected", "findings": [...], "errors": [...]}`.
impl Serialize for Validation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        match self {
            Self::Accepted(accepted) => {
                map.serialize_entry("status", "accepted")?;
                map.serialize_entry("passport", &accepted.passport)?;
            }
            Self::Rejected(rejected) => {
                map.serialize_entry("status", "rejected")?;
                map.serialize_entry("findings", &rejected.findings)?;
                map.serialize_entry("errors", &rejected.errors())?;
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validators_can_be_shared_across_threads() {
        fn shareable<T: Send + Sync>(_: &T) {}
        let scope = Scope::new([ElementType::Email]).unwrap();
        let validator = Validator::new(&scope, date(2026, 1, 1)).rule(|_: &DecryptedPassport| Vec::new());
        shareable(&validator);
    }

    fn date(y: u16, m: u8, d: u8) -> CalendarDate {
        CalendarDate::new(y, m, d).unwrap()
    }

    #[test]
    fn ages_count_whole_years() {
        let today = date(2026, 11, 23);
        assert_eq!(age(date(2008, 11, 23), today), Some(18));
        assert_eq!(age(date(2008, 11, 24), today), Some(17));
        assert_eq!(age(date(2026, 11, 23), today), Some(0));
        assert_eq!(age(date(2026, 11, 24), today), None);
        assert_eq!(age(date(2000, 2, 29), date(2001, 2, 28)), Some(0));
        assert_eq!(age(date(2000, 2, 29), date(2001, 3, 1)), Some(1));
    }
}
