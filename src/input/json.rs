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
//! Lists are bounded while they are read, not after: a list longer than its
//! limit in the [`Limits`] of the read under way keeps no item past the
//! limit, counts the rest without building them, and is refused. So what a
//! read builds stays proportional to the input, whatever its shape.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::error::{Error, JsonError, Result};
use crate::input::limits::Limits;
use crate::text::excerpt;

thread_local! {
    /// The limits of the read under way on this thread ([`from_slice_within`]);
    /// the defaults outside one, so that a plain `serde_json` read of a
    /// public type is bounded too.
    static ACTIVE: Cell<Option<Limits>> = const { Cell::new(None) };
    /// Why the read under way was refused, when a limit refused it: the typed
    /// error, which serde's own error type cannot carry.
    static REFUSED: RefCell<Option<Error>> = const { RefCell::new(None) };
}

/// The limits in force for the read under way.
pub(crate) fn active_limits() -> Limits {
    ACTIVE.get().unwrap_or_default()
}

/// Refuses the read under way with `error`: returns the serde error to
/// fail with, and keeps the typed one for [`from_slice_within`].
pub(crate) fn refuse<E: serde::de::Error>(error: Error) -> E {
    E::custom(keep_refusal(error))
}

/// Keeps `error` as the reason the read under way fails; returns its text.
pub(crate) fn keep_refusal(error: Error) -> String {
    let text = error.to_string();
    REFUSED.set(Some(error));
    text
}

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

/// A list of at most `limit` objects, each a `T`.
struct CountedVisitor<T> {
    limit: usize,
    item: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for CountedVisitor<T> {
    type Value = Counted<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Counted<T>, A::Error> {
        // Not the size hint: the input's claim is no reason to allocate.
        let mut items = Vec::new();
        while items.len() < self.limit {
            match seq.next_element::<Object<T>>()? {
                Some(Object(item)) => items.push(item),
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

/// A list of at most `limit` objects: absent or `null` is `None`.
pub(crate) fn optional_counted<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
    limit: usize,
) -> Result<Option<Counted<T>>, D::Error> {
    struct OptionVisitor<T>(usize, PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for OptionVisitor<T> {
        type Value = Option<Counted<T>>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list or null")
        }

        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
            let visitor = CountedVisitor {
                limit: self.0,
                item: PhantomData,
            };
            deserializer.deserialize_seq(visitor).map(Some)
        }
    }

    deserializer.deserialize_option(OptionVisitor(limit, PhantomData))
}

/// A passport's elements, at most [`Limits::elements`] of them.
pub(crate) fn elements<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Vec<T>, D::Error> {
    let visitor = CountedVisitor {
        limit: active_limits().elements,
        item: PhantomData,
    };
    let counted = deserializer.deserialize_seq(visitor)?;
    counted.within(|| "passport.data".to_owned()).map_err(refuse)
}

/// [`elements`], absent or `null` being `None`.
pub(crate) fn optional_elements<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Vec<T>>, D::Error> {
    match optional_counted(deserializer, active_limits().elements)? {
        None => Ok(None),
        Some(counted) => counted.within(|| "passport.data".to_owned()).map(Some).map_err(refuse),
    }
}

/// A file list, at most [`Limits::files_per_element`] long; the element
/// that holds it names it in the error.
pub(crate) fn optional_files<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Counted<T>>, D::Error> {
    optional_counted(deserializer, active_limits().files_per_element)
}

/// [`from_slice`] within `limits`: a list longer than its limit is refused
/// with [`Error::TooLarge`] as soon as it is read.
pub(crate) fn from_slice_within<'a, T: Deserialize<'a>>(json: &'a [u8], what: &str, limits: &Limits) -> Result<T> {
    /// Puts back the limits of an enclosing read, however this one ends.
    struct Restore(Option<Limits>);
    impl Drop for Restore {
        fn drop(&mut self) {
            ACTIVE.set(self.0);
        }
    }
    let _restore = Restore(ACTIVE.replace(Some(*limits)));
    REFUSED.set(None);
    let read = from_slice(json, what);
    match (read, REFUSED.take()) {
        (Err(_), Some(refused)) => Err(refused),
        (read, _) => read,
    }
}

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
        #[serde(default, deserialize_with = "optional_files")]
        list: Option<Counted<Inner>>,
    }

    #[test]
    fn objects_read_and_everything_else_names_the_field() {
        let ok: Outer = from_slice(br#"{"inner": {"a": "x"}, "list": [{}, {"a": null}]}"#, "thing").unwrap();
        assert_eq!(ok.inner.unwrap().a.as_deref(), Some("x"));
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
