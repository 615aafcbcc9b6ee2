//! Reading JSON a remote sender wrote: objects only where the protocol has
//! objects, and errors that name the field and echo at most a bounded,
//! escaped excerpt of the input.
//!
//! serde's derived structs also read JSON arrays (field by field, in order),
//! so `[]` would pass for credentials and `["a", "b", "c"]` for a hash and
//! secret pair. Everything read through here refuses that: the top level
//! must be an object, and so must every field read through [`Object`] or
//! [`object`].
//!
//! Lists are bounded while they are read, not after: a list longer than
//! its limit keeps no item past the limit, counts the rest without building
//! them, and says so ([`Counted::Over`]). The limit reaches the reader as an
//! argument ([`ListSeed`], and [`ReadObject`] for whatever holds a list); the caller turns an overlong list into
//! [`Error::TooLarge`] once it knows the list's name. So what a read builds
//! stays proportional to the input, whatever its shape.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::error::{Error, JsonError, Result};
use crate::text::excerpt;

/// A list read within a limit: the items, or how many there were when
/// there were too many (none of them kept past the limit).
#[derive(Debug)]
pub(crate) enum Counted<T> {
    Within(Vec<T>),
    Over { count: usize, limit: usize },
}

impl<T> Counted<T> {
    /// The items, or [`Error::TooLarge`] for `what`.
    pub(crate) fn within(self, what: impl FnOnce() -> String) -> Result<Vec<T>> {
        match self {
            Self::Within(items) => Ok(items),
            Self::Over { count, limit } => Err(Error::TooLarge {
                what: what(),
                actual: count as u64,
                limit: limit as u64,
            }),
        }
    }
}

/// What reads one kind of JSON object from its fields, with what the read
/// carries (its limits). [`ObjectSeed`] makes it a serde reader that
/// refuses anything but an object; a type that derives `Deserialize` reads
/// through `PhantomData`.
pub(crate) trait ReadObject<'de> {
    /// What is read.
    type Value;

    /// Reads the object's fields.
    fn read<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error>;
}

impl<'de, T: Deserialize<'de>> ReadObject<'de> for PhantomData<T> {
    type Value = T;

    fn read<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map))
    }
}

/// Reads a list of at most `limit` objects, each with `item`.
#[derive(Clone, Copy)]
pub(crate) struct ListSeed<S> {
    pub(crate) limit: usize,
    pub(crate) item: S,
}

impl<'de, S: ReadObject<'de> + Clone> DeserializeSeed<'de> for ListSeed<S> {
    type Value = Counted<S::Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, S: ReadObject<'de> + Clone> Visitor<'de> for ListSeed<S> {
    type Value = Counted<S::Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        // Not the size hint: the input's claim is no reason to allocate.
        let mut items = Vec::new();
        while items.len() < self.limit {
            match seq.next_element_seed(ObjectSeed(self.item.clone()))? {
                Some(item) => items.push(item),
                None => return Ok(Counted::Within(items)),
            }
        }
        let mut count = items.len();
        while seq.next_element::<IgnoredAny>()?.is_some() {
            count = count.saturating_add(1);
        }
        match count > self.limit {
            true => Ok(Counted::Over {
                count,
                limit: self.limit,
            }),
            false => Ok(Counted::Within(items)),
        }
    }
}

/// A list of at most `limit` objects of type `T`.
pub(crate) fn list<T>(limit: usize) -> ListSeed<PhantomData<T>> {
    ListSeed {
        limit,
        item: PhantomData,
    }
}

/// Reads with `S` from a JSON object only.
#[derive(Clone, Copy)]
pub(crate) struct ObjectSeed<S>(pub(crate) S);

impl<'de, S: ReadObject<'de>> DeserializeSeed<'de> for ObjectSeed<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, S: ReadObject<'de>> Visitor<'de> for ObjectSeed<S> {
    type Value = S::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(EXPECTED)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.0.read(map)
    }
}

/// Reads with `S`, absent or `null` being `None`.
#[derive(Clone, Copy)]
pub(crate) struct OptionSeed<S>(pub(crate) S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for OptionSeed<S> {
    type Value = Option<S::Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for OptionSeed<S> {
    type Value = Option<S::Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value or null")
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        self.0.deserialize(deserializer).map(Some)
    }
}

/// Puts `value` into a field's `slot`, refusing a second one as serde's
/// derived readers do.
pub(crate) fn set<T, E: serde::de::Error>(slot: &mut Option<T>, value: T, field: &'static str) -> Result<(), E> {
    match slot.replace(value) {
        Some(_) => Err(E::duplicate_field(field)),
        None => Ok(()),
    }
}

/// Reads `what` (named in errors: `credentials`, `passport data` …) from a
/// JSON object with `reader`, which carries the limits of the read.
pub(crate) fn from_slice_with<'a, S: ReadObject<'a>>(json: &'a [u8], what: &str, reader: S) -> Result<S::Value> {
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let mut track = serde_path_to_error::Track::new();
    let read = ObjectSeed(reader).deserialize(serde_path_to_error::Deserializer::new(&mut deserializer, &mut track));
    let value = read.map_err(|error| failure(what, serde_path_to_error::Error::new(track.path(), error)))?;
    // Nothing but whitespace may follow the document.
    deserializer.end().map_err(|e| error(what, &e))?;
    Ok(value)
}

/// What [`Object`]'s visitor expects; also how its errors are recognised.
const EXPECTED: &str = "a JSON object";

/// A `T` that may only be read from a JSON object.
#[derive(Debug)]
pub(crate) struct Object<T>(pub(crate) T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        object(deserializer).map(Self)
    }
}

/// Reads a `T` from a JSON object only; for `#[serde(deserialize_with)]`.
pub(crate) fn object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<T, D::Error> {
    ObjectSeed(PhantomData).deserialize(deserializer)
}

/// The map's next value: an object, or `null` for `None`.
pub(crate) fn next_optional_object<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
    map: &mut A,
) -> Result<Option<T>, A::Error> {
    Ok(map.next_value::<Option<Object<T>>>()?.map(|object| object.0))
}

/// Reads `what` (named in errors: `credentials`, `passport data` …) as a
/// JSON object of type `T`.
pub(crate) fn from_slice<'a, T: Deserialize<'a>>(json: &'a [u8], what: &str) -> Result<T> {
    from_slice_with(json, what, PhantomData::<T>)
}

/// The typed error for a failure at `path` inside `what`.
fn failure(what: &str, error: serde_path_to_error::Error<serde_json::Error>) -> Error {
    let path = error.path().to_string();
    let field = match path.as_str() {
        "." | "" => what.to_owned(),
        path => format!("{what}.{}", excerpt(path)),
    };
    let error = error.into_inner();
    let message = message_without_position(&error);
    if let Some(found) = message.strip_suffix(&format!(", expected {EXPECTED}")) {
        let found = found.strip_prefix("invalid type: ").unwrap_or(found);
        return Error::NotAnObject {
            field,
            found: excerpt(found),
        };
    }
    json_error(what, field, &message, &error)
}

/// [`Error::Json`] for a document read or written without a field path.
pub(crate) fn error(what: &str, error: &serde_json::Error) -> Error {
    json_error(what, what.to_owned(), &message_without_position(error), error)
}

fn json_error(what: &str, field: String, message: &str, error: &serde_json::Error) -> Error {
    Error::Json {
        what: what.to_owned(),
        source: JsonError::new(excerpt(message), field, error.line(), error.column()),
    }
}

/// serde_json's message without the " at line L column C" it appends.
fn message_without_position(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    match message.strip_suffix(&suffix) {
        Some(message) => message.to_owned(),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    struct Inner {
        #[serde(default)]
        a: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    struct Outer {
        #[serde(default)]
        inner: Option<Object<Inner>>,
        #[serde(default, deserialize_with = "two_at_most")]
        list: Option<Counted<Inner>>,
    }

    fn two_at_most<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Counted<Inner>>, D::Error> {
        OptionSeed(list(2)).deserialize(deserializer)
    }

    #[test]
    fn objects_read_and_everything_else_names_the_field() {
        let ok: Outer = from_slice(br#"{"inner": {"a": "x"}, "list": [{}, {"a": null}]}"#, "thing").unwrap();
        assert_eq!(ok.inner.unwrap().0.a.as_deref(), Some("x"));
        assert_eq!(ok.list.unwrap().within(String::new).unwrap().len(), 2);
        let cases: [(&[u8], &str, &str); 6] = [
            (b"[]", "thing", "sequence"),
            (br#""text""#, "thing", "string \"text\""),
            (b"5", "thing", "integer `5`"),
            (br#"{"inner": []}"#, "thing.inner", "sequence"),
            (br#"{"inner": ["x"]}"#, "thing.inner", "sequence"),
            (br#"{"list": [{}, 7]}"#, "thing.list[1]", "integer `7`"),
        ];
        for (json, field, found) in cases {
            match from_slice::<Outer>(json, "thing") {
                Err(Error::NotAnObject { field: f, found: what }) => {
                    assert_eq!(
                        (f.as_str(), what.as_str()),
                        (field, found),
                        "{}",
                        String::from_utf8_lossy(json)
                    );
                }
                other => panic!("{}: {other:?}", String::from_utf8_lossy(json)),
            }
        }
    }

    #[test]
    fn other_errors_keep_position_and_stay_short() {
        let long = format!(r#"{{"inner": {{"a": 5}}, "x": "{}"}}"#, "A".repeat(100_000));
        let error = from_slice::<Outer>(long.as_bytes(), "thing").unwrap_err();
        let shown = error.to_string();
        assert!(shown.contains("thing.inner.a"), "{shown}");
        assert!(shown.contains("(line 1, column 17)"), "{shown}");
        let garbage = format!(r#"{{"inner": {{"a": {}}}}}"#, "\"B".repeat(50_000));
        let shown = from_slice::<Outer>(garbage.as_bytes(), "thing")
            .unwrap_err()
            .to_string();
        assert!(shown.len() < 400, "{} bytes", shown.len());
        let trailing = from_slice::<Outer>(b"{} []", "thing").unwrap_err();
        assert!(matches!(trailing, Error::Json { .. }), "{trailing:?}");
    }
}
