//! What a request asks for (PROTOCOL §2): a validated [`Scope`], in the long
//! form the SDKs take (`{"v":1,"data":[...]}`) and the compact form deep
//! links carry (`{"v":1,"d":[...]}`).
//!
//! Invariant: a [`Scope`] exists only if it passes every rule Telegram
//! applies, so a bad request fails here, not on the user's phone.

use std::collections::BTreeSet;
use std::fmt;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::element_type::ElementType;
use crate::error::{Error, Result};
use crate::text::excerpt;

/// A type a scope can name: one of the 13 element types, or an alias.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScopeType {
    /// One element type.
    Element(ElementType),
    /// `id_document`: one of passport, driver's licence, identity card.
    IdDocument,
    /// `address_document`: one of utility bill, bank statement, rental agreement.
    AddressDocument,
}

const ID_DOCUMENT: [ElementType; 3] = [
    ElementType::Passport,
    ElementType::DriverLicense,
    ElementType::IdentityCard,
];
const ADDRESS_DOCUMENT: [ElementType; 3] = [
    ElementType::UtilityBill,
    ElementType::BankStatement,
    ElementType::RentalAgreement,
];

impl ScopeType {
    /// Every scope type: the 13 element types and the two aliases.
    const ALL: [ScopeType; 15] = [
        ScopeType::Element(ElementType::PersonalDetails),
        ScopeType::Element(ElementType::Passport),
        ScopeType::Element(ElementType::DriverLicense),
        ScopeType::Element(ElementType::IdentityCard),
        ScopeType::Element(ElementType::InternalPassport),
        ScopeType::IdDocument,
        ScopeType::Element(ElementType::Address),
        ScopeType::Element(ElementType::UtilityBill),
        ScopeType::Element(ElementType::BankStatement),
        ScopeType::Element(ElementType::RentalAgreement),
        ScopeType::Element(ElementType::PassportRegistration),
        ScopeType::Element(ElementType::TemporaryRegistration),
        ScopeType::AddressDocument,
        ScopeType::Element(ElementType::PhoneNumber),
        ScopeType::Element(ElementType::Email),
    ];

    /// The long name, e.g. `"id_document"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Element(element_type) => element_type.as_str(),
            Self::IdDocument => "id_document",
            Self::AddressDocument => "address_document",
        }
    }

    /// The compact alias, e.g. `"idd"`.
    pub fn alias(self) -> &'static str {
        match self {
            Self::Element(element_type) => match element_type {
                ElementType::PersonalDetails => "pd",
                ElementType::Passport => "pp",
                ElementType::DriverLicense => "dl",
                ElementType::IdentityCard => "ic",
                ElementType::InternalPassport => "ip",
                ElementType::Address => "ad",
                ElementType::UtilityBill => "ub",
                ElementType::BankStatement => "bs",
                ElementType::RentalAgreement => "ra",
                ElementType::PassportRegistration => "pr",
                ElementType::TemporaryRegistration => "tr",
                ElementType::PhoneNumber => "pn",
                ElementType::Email => "em",
            },
            Self::IdDocument => "idd",
            Self::AddressDocument => "add",
        }
    }

    /// Reads a long name or a compact alias.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name || t.alias() == name)
    }

    /// The element types this stands for.
    pub fn element_types(self) -> &'static [ElementType] {
        match self {
            Self::Element(t) => t.as_slice(),
            Self::IdDocument => &ID_DOCUMENT,
            Self::AddressDocument => &ADDRESS_DOCUMENT,
        }
    }

    fn is_identity_document(self) -> bool {
        self.element_types().iter().all(|t| t.is_identity_document())
    }

    fn is_address_document(self) -> bool {
        self.element_types().iter().all(|t| t.is_address_document())
    }
}

impl From<ElementType> for ScopeType {
    fn from(element_type: ElementType) -> Self {
        Self::Element(element_type)
    }
}

impl fmt::Display for ScopeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One requested type with its flags (`PassportScopeElementOne`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScopeOne {
    /// The type asked for.
    pub scope_type: ScopeType,
    /// Ask for a selfie with the document.
    pub selfie: bool,
    /// Ask for a translation of the document.
    pub translation: bool,
    /// Ask for names in the native script too (personal details only).
    pub native_names: bool,
}

impl ScopeOne {
    /// The type, with no flags.
    pub fn new(scope_type: impl Into<ScopeType>) -> Self {
        Self {
            scope_type: scope_type.into(),
            selfie: false,
            translation: false,
            native_names: false,
        }
    }

    /// Also asks for a selfie.
    pub fn selfie(self) -> Self {
        Self { selfie: true, ..self }
    }

    /// Also asks for a translation.
    pub fn translation(self) -> Self {
        Self {
            translation: true,
            ..self
        }
    }

    /// Also asks for native-script names.
    pub fn native_names(self) -> Self {
        Self {
            native_names: true,
            ..self
        }
    }

    fn has_flags(&self) -> bool {
        self.selfie || self.translation || self.native_names
    }
}

impl From<ElementType> for ScopeOne {
    fn from(element_type: ElementType) -> Self {
        Self::new(element_type)
    }
}

impl From<ScopeType> for ScopeOne {
    fn from(scope_type: ScopeType) -> Self {
        Self::new(scope_type)
    }
}

/// One entry of a scope: a single type, or a group the user picks one of.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ScopeElement {
    /// A single type.
    One(ScopeOne),
    /// `PassportScopeElementOneOfSeveral`: any one of several documents.
    OneOf {
        /// The choices: all identity documents, or all address documents.
        items: Vec<ScopeOne>,
        /// Ask for a selfie with whichever document is chosen.
        selfie: bool,
        /// Ask for a translation of whichever document is chosen.
        translation: bool,
    },
}

impl ScopeElement {
    /// A single type, no flags.
    pub fn one(scope_type: impl Into<ScopeType>) -> Self {
        Self::One(ScopeOne::new(scope_type))
    }

    /// A group: any one of these documents.
    pub fn one_of<T: Into<ScopeOne>>(items: impl IntoIterator<Item = T>) -> Self {
        Self::OneOf {
            items: items.into_iter().map(Into::into).collect(),
            selfie: false,
            translation: false,
        }
    }

    /// Also asks for a selfie.
    pub fn selfie(self) -> Self {
        match self {
            Self::One(one) => Self::One(one.selfie()),
            Self::OneOf { items, translation, .. } => Self::OneOf {
                items,
                selfie: true,
                translation,
            },
        }
    }

    /// Also asks for a translation.
    pub fn translation(self) -> Self {
        match self {
            Self::One(one) => Self::One(one.translation()),
            Self::OneOf { items, selfie, .. } => Self::OneOf {
                items,
                selfie,
                translation: true,
            },
        }
    }

    /// Also asks for native-script names (valid on personal details only).
    pub fn native_names(self) -> Self {
        match self {
            Self::One(one) => Self::One(one.native_names()),
            group => group,
        }
    }
}

impl From<ElementType> for ScopeElement {
    fn from(element_type: ElementType) -> Self {
        Self::one(element_type)
    }
}

impl From<ScopeType> for ScopeElement {
    fn from(scope_type: ScopeType) -> Self {
        Self::one(scope_type)
    }
}

impl From<ScopeOne> for ScopeElement {
    fn from(one: ScopeOne) -> Self {
        Self::One(one)
    }
}

/// A validated request scope.
///
/// ```
/// use telegram_passport::{ElementType::*, Scope, ScopeElement};
///
/// let scope = Scope::new([
///     ScopeElement::one(PersonalDetails).native_names(),
///     ScopeElement::one_of([Passport, IdentityCard, DriverLicense]).selfie(),
///     Address.into(),
///     PhoneNumber.into(),
///     Email.into(),
/// ])?;
/// assert_eq!(
///     scope.to_compact_json(),
///     r#"{"v":1,"d":[{"_":"pd","n":1},{"_":["pp","ic","dl"],"s":1},"ad","pn","em"]}"#
/// );
/// assert_eq!(Scope::from_json(&scope.to_json())?, scope);
///
/// // What Telegram would refuse is refused here:
/// assert!(Scope::new([ScopeElement::one(Address).selfie()]).is_err());
/// # Ok::<(), telegram_passport::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    elements: Vec<ScopeElement>,
}

fn invalid(reason: impl Into<String>) -> Error {
    Error::InvalidScope(reason.into())
}

impl Scope {
    /// Validates a scope: at least one element; each element type at most
    /// once; a group holds only identity documents or only address
    /// documents; `selfie` only on identity documents; `translation` only on
    /// identity and address documents; `native_names` only on personal details.
    pub fn new<E: Into<ScopeElement>>(elements: impl IntoIterator<Item = E>) -> Result<Self> {
        let elements: Vec<ScopeElement> = elements.into_iter().map(Into::into).collect();
        if elements.is_empty() {
            return Err(invalid("a scope must request at least one element"));
        }
        let mut seen = BTreeSet::new();
        for element in &elements {
            match element {
                ScopeElement::One(one) => check_one(one, &mut seen)?,
                ScopeElement::OneOf { items, selfie, .. } => check_group(items, *selfie, &mut seen)?,
            }
        }
        Ok(Self { elements })
    }

    /// The elements, as given.
    pub fn elements(&self) -> &[ScopeElement] {
        &self.elements
    }

    /// Every element type the scope names (aliases expanded).
    pub fn element_types(&self) -> BTreeSet<ElementType> {
        let ones = self.elements.iter().flat_map(|element| match element {
            ScopeElement::One(one) => std::slice::from_ref(one),
            ScopeElement::OneOf { items, .. } => items.as_slice(),
        });
        ones.flat_map(|one| one.scope_type.element_types().iter().copied())
            .collect()
    }

    /// The long form, `{"v":1,"data":[...]}`, as the SDKs take it.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&Form {
            scope: self,
            compact: false,
        })
        .unwrap_or_default()
    }

    /// The compact form, `{"v":1,"d":[...]}`, as deep links carry it.
    pub fn to_compact_json(&self) -> String {
        serde_json::to_string(&Form {
            scope: self,
            compact: true,
        })
        .unwrap_or_default()
    }

    /// Reads either form and validates it.
    pub fn from_json(text: &str) -> Result<Self> {
        let value: Value = serde_json::from_str(text).map_err(|source| crate::input::json::error("scope", &source))?;
        let version = value.get("v").and_then(Value::as_u64);
        if version != Some(1) {
            return Err(invalid("the scope must have \"v\": 1"));
        }
        let (list, compact) = match (value.get("data"), value.get("d")) {
            (Some(list), _) => (list, false),
            (None, Some(list)) => (list, true),
            (None, None) => return Err(invalid("the scope has no \"data\" (or compact \"d\") list")),
        };
        let list = list
            .as_array()
            .ok_or_else(|| invalid("the scope's element list is not an array"))?;
        let keys = if compact { Keys::COMPACT } else { Keys::LONG };
        let elements = list
            .iter()
            .map(|item| parse_element(item, &keys))
            .collect::<Result<Vec<_>>>()?;
        Self::new(elements)
    }
}

fn check_one(one: &ScopeOne, seen: &mut BTreeSet<ElementType>) -> Result<()> {
    let name = one.scope_type.name();
    for element_type in one.scope_type.element_types() {
        if !seen.insert(*element_type) {
            return Err(invalid(format!("{element_type} is requested more than once")));
        }
    }
    if one.selfie && !one.scope_type.is_identity_document() {
        return Err(invalid(format!(
            "selfie can only be asked for identity documents, not {name}"
        )));
    }
    let document = one.scope_type.is_identity_document() || one.scope_type.is_address_document();
    if one.translation && !document {
        return Err(invalid(format!(
            "translation can only be asked for documents, not {name}"
        )));
    }
    if one.native_names && one.scope_type != ScopeType::Element(ElementType::PersonalDetails) {
        return Err(invalid(format!(
            "native_names can only be asked for personal_details, not {name}"
        )));
    }
    Ok(())
}

/// Checks a one_of group; `translation` is allowed on both kinds of document group.
fn check_group(items: &[ScopeOne], selfie: bool, seen: &mut BTreeSet<ElementType>) -> Result<()> {
    if items.is_empty() {
        return Err(invalid("a one_of group must list at least one document"));
    }
    for item in items {
        if !matches!(item.scope_type, ScopeType::Element(_)) {
            return Err(invalid(format!(
                "the alias {} cannot be used inside a one_of group",
                item.scope_type
            )));
        }
        check_one(item, seen)?;
    }
    let identity = items.iter().all(|item| item.scope_type.is_identity_document());
    let address = items.iter().all(|item| item.scope_type.is_address_document());
    if !identity && !address {
        return Err(invalid(
            "a one_of group must list only identity documents or only address documents",
        ));
    }
    if selfie && !identity {
        return Err(invalid("selfie can only be asked for a group of identity documents"));
    }
    Ok(())
}

/// The key names of one form.
struct Keys {
    list: &'static str,
    type_: &'static str,
    one_of: &'static str,
    selfie: &'static str,
    translation: &'static str,
    native_names: &'static str,
    compact: bool,
}

impl Keys {
    const LONG: Keys = Keys {
        list: "data",
        type_: "type",
        one_of: "one_of",
        selfie: "selfie",
        translation: "translation",
        native_names: "native_names",
        compact: false,
    };
    const COMPACT: Keys = Keys {
        list: "d",
        type_: "_",
        one_of: "_",
        selfie: "s",
        translation: "t",
        native_names: "n",
        compact: true,
    };
}

/// Reads a flag written as `true`/`false` or `1`/`0`.
fn flag(object: &serde_json::Map<String, Value>, key: &str) -> Result<bool> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::Number(n)) if n.as_u64() == Some(1) => Ok(true),
        Some(Value::Number(n)) if n.as_u64() == Some(0) => Ok(false),
        Some(other) => Err(invalid(format!(
            "flag {key:?} must be a boolean or 0/1, got {}",
            excerpt(&other.to_string())
        ))),
    }
}

fn parse_type(value: &Value) -> Result<ScopeType> {
    let name = value
        .as_str()
        .ok_or_else(|| invalid(format!("expected a type name, got {}", excerpt(&value.to_string()))))?;
    ScopeType::from_name(name).ok_or_else(|| invalid(format!("unknown scope type \"{}\"", excerpt(name))))
}

fn parse_one(value: &Value, keys: &Keys) -> Result<ScopeOne> {
    match value {
        Value::String(_) => Ok(ScopeOne::new(parse_type(value)?)),
        Value::Object(object) => {
            let scope_type = object
                .get(keys.type_)
                .ok_or_else(|| invalid(format!("an element has no {:?}", keys.type_)))?;
            Ok(ScopeOne {
                scope_type: parse_type(scope_type)?,
                selfie: flag(object, keys.selfie)?,
                translation: flag(object, keys.translation)?,
                native_names: flag(object, keys.native_names)?,
            })
        }
        other => Err(invalid(format!(
            "expected a type name or an object, got {}",
            excerpt(&other.to_string())
        ))),
    }
}

fn parse_element(value: &Value, keys: &Keys) -> Result<ScopeElement> {
    if let Some(Value::Array(items)) = value.as_object().and_then(|object| object.get(keys.one_of)) {
        let object = value.as_object().map_or_else(serde_json::Map::new, Clone::clone);
        let items = items
            .iter()
            .map(|item| parse_one(item, keys))
            .collect::<Result<Vec<_>>>()?;
        return Ok(ScopeElement::OneOf {
            items,
            selfie: flag(&object, keys.selfie)?,
            translation: flag(&object, keys.translation)?,
        });
    }
    parse_one(value, keys).map(ScopeElement::One)
}

/// Serialises a scope in one of its two forms, keys in the order Telegram writes them.
struct Form<'a> {
    scope: &'a Scope,
    compact: bool,
}

struct Element<'a> {
    element: &'a ScopeElement,
    keys: &'a Keys,
}

struct One<'a> {
    one: &'a ScopeOne,
    keys: &'a Keys,
}

fn write_flag<M: SerializeMap>(map: &mut M, keys: &Keys, key: &str, on: bool) -> Result<(), M::Error> {
    match (on, keys.compact) {
        (false, _) => Ok(()),
        (true, true) => map.serialize_entry(key, &1),
        (true, false) => map.serialize_entry(key, &true),
    }
}

impl Serialize for Form<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let keys = if self.compact { &Keys::COMPACT } else { &Keys::LONG };
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("v", &1)?;
        let elements: Vec<Element<'_>> = self
            .scope
            .elements
            .iter()
            .map(|element| Element { element, keys })
            .collect();
        map.serialize_entry(keys.list, &elements)?;
        map.end()
    }
}

impl Serialize for Element<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.element {
            ScopeElement::One(one) => One { one, keys: self.keys }.serialize(serializer),
            ScopeElement::OneOf {
                items,
                selfie,
                translation,
            } => {
                let keys = self.keys;
                let mut map = serializer.serialize_map(None)?;
                let items: Vec<One<'_>> = items.iter().map(|one| One { one, keys }).collect();
                map.serialize_entry(keys.one_of, &items)?;
                write_flag(&mut map, keys, keys.selfie, *selfie)?;
                write_flag(&mut map, keys, keys.translation, *translation)?;
                map.end()
            }
        }
    }
}

impl Serialize for One<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (one, keys) = (self.one, self.keys);
        let name = if keys.compact {
            one.scope_type.alias()
        } else {
            one.scope_type.name()
        };
        if !one.has_flags() {
            return serializer.serialize_str(name);
        }
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry(keys.type_, name)?;
        write_flag(&mut map, keys, keys.selfie, one.selfie)?;
        write_flag(&mut map, keys, keys.translation, one.translation)?;
        write_flag(&mut map, keys, keys.native_names, one.native_names)?;
        map.end()
    }
}

/// The long form, as an object (what the JavaScript SDK takes as `scope`).
impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Form {
            scope: self,
            compact: false,
        }
        .serialize(serializer)
    }
}
