//! Reading JSON a remote sender wrote: objects only where the protocol has
//! objects, and errors that name the field and echo at most a bounded,
//! escaped excerpt of the input.
//!
//! serde's derived structs also read JSON arrays (field by field, in order),
//! so `[]` would pass for credentials and `["a", "b", "c"]` for a hash and
//! secret pair. Everything read through here refuses that: the top level
//! must be an object, and so must every field read through [`Object`] or
//! [`object`].

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

use crate::error::{excerpt, Error, JsonError, Result};

/// What [`Object`]'s visitor expects; also how its errors are recognised.
const EXPECTED: &str = "a JSON object";

/// A `T` that may only be read from a JSON object.
pub(crate) struct Object<T>(pub(crate) T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        object(deserializer).map(Self)
    }
}

/// Reads a `T` from a JSON object only; for `#[serde(deserialize_with)]`.
pub(crate) fn object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<T, D::Error> {
    struct ObjectVisitor<T>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(EXPECTED)
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(MapAccessDeserializer::new(map))
        }
    }

    deserializer.deserialize_map(ObjectVisitor(PhantomData))
}

/// An optional object: absent or `null` is `None`.
pub(crate) fn optional_object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    Ok(Option::<Object<T>>::deserialize(deserializer)?.map(|o| o.0))
}

/// A list of objects.
pub(crate) fn objects<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Vec<T>, D::Error> {
    let list = Vec::<Object<T>>::deserialize(deserializer)?;
    Ok(list.into_iter().map(|o| o.0).collect())
}

/// An optional list of objects: absent or `null` is `None`.
pub(crate) fn optional_objects<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Vec<T>>, D::Error> {
    let list = Option::<Vec<Object<T>>>::deserialize(deserializer)?;
    Ok(list.map(|items| items.into_iter().map(|o| o.0).collect()))
}

/// Reads `what` (named in errors: `credentials`, `passport data` …) as a
/// JSON object of type `T`.
pub(crate) fn from_slice<'a, T: Deserialize<'a>>(json: &'a [u8], what: &str) -> Result<T> {
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let Object(value) = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| failure(what, e))?;
    // Nothing but whitespace may follow the document.
    deserializer.end().map_err(|e| error(what, &e))?;
    Ok(value)
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
        #[serde(default, deserialize_with = "optional_object")]
        inner: Option<Inner>,
        #[serde(default, deserialize_with = "optional_objects")]
        list: Option<Vec<Inner>>,
    }

    #[test]
    fn objects_read_and_everything_else_names_the_field() {
        let ok: Outer = from_slice(br#"{"inner": {"a": "x"}, "list": [{}, {"a": null}]}"#, "thing").unwrap();
        assert_eq!(ok.inner.unwrap().a.as_deref(), Some("x"));
        assert_eq!(ok.list.unwrap().len(), 2);
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
