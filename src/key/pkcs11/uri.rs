//! RFC 7512 `pkcs11:` URIs: which token, which key, which module, and
//! where the PIN comes from.
//!
//! Invariant: a message about a URI names attributes only by the names
//! this parser knows, and never repeats a value or any text it does not
//! know: the query may hold a PIN, and a PIN with an unescaped `&`, `;`
//! or `=` in it turns its pieces into what looks like attribute names.

use std::path::PathBuf;

use zeroize::Zeroizing;

use crate::error::{Error, Pkcs11Problem, Result};
use crate::text::excerpt;

/// What the URI says to look for.
#[derive(Default)]
pub(super) struct Selector {
    pub(super) token: Option<String>,
    pub(super) serial: Option<String>,
    pub(super) manufacturer: Option<String>,
    pub(super) model: Option<String>,
    pub(super) slot_id: Option<u64>,
    pub(super) object: Option<String>,
    pub(super) id: Option<Vec<u8>>,
}

impl Selector {
    /// The URI's `object=` and `id=`, for messages: escaped and bounded.
    pub(super) fn key_name(&self) -> String {
        let mut parts = Vec::new();
        if let Some(object) = &self.object {
            parts.push(format!("object=\"{}\"", excerpt(object)));
        }
        if let Some(id) = &self.id {
            let hex: String = id.iter().map(|b| format!("%{b:02x}")).collect();
            parts.push(format!("id={}", excerpt(&hex)));
        }
        parts.join(", ")
    }
}

/// Where the PIN comes from.
pub(super) enum PinFrom {
    Value(Zeroizing<String>),
    File(PathBuf),
}

/// A parsed `pkcs11:` URI.
pub(super) struct Uri {
    pub(super) select: Selector,
    pub(super) module_path: PathBuf,
    pub(super) pin: PinFrom,
}

const PATH_ATTRIBUTES: &str = "token, serial, manufacturer, model, slot-id, object, id, type";
const QUERY_ATTRIBUTES: &str = "module-path, pin-source, pin-value";
/// Why a piece of the query that is no attribute may be there.
const AMPERSAND_HINT: &str = "a '&' inside a value, such as a PIN, is written %26";

fn bad(reason: String) -> Error {
    Error::Pkcs11 {
        problem: Pkcs11Problem::Uri(reason),
        source: None,
    }
}

impl Uri {
    /// RFC 7512: `pkcs11:` path attributes separated by `;`, then `?` and
    /// query attributes separated by `&`, each `name=value`, values
    /// percent-encoded.
    pub(super) fn parse(text: &str) -> Result<Self> {
        let rest = match text.get(..7) {
            Some(scheme) if scheme.eq_ignore_ascii_case("pkcs11:") => text.get(7..).unwrap_or_default(),
            _ => return Err(bad("it does not start with pkcs11:".to_owned())),
        };
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        Ok(Self {
            select: parse_path(path)?,
            ..parse_query(query)?
        })
    }
}

fn parse_path(path: &str) -> Result<Selector> {
    let mut select = Selector::default();
    let mut seen: Vec<&'static str> = Vec::new();
    for part in path.split(';').filter(|part| !part.is_empty()) {
        let (name, value) = part
            .split_once('=')
            .ok_or_else(|| bad("a path attribute has no '='".to_owned()))?;
        let name: &'static str = match name {
            "token" => "token",
            "serial" => "serial",
            "manufacturer" => "manufacturer",
            "model" => "model",
            "slot-id" => "slot-id",
            "object" => "object",
            "id" => "id",
            "type" => "type",
            "module-path" | "module-name" | "pin-value" | "pin-source" => {
                return Err(bad(format!("{name} is a query attribute: it belongs after the '?'")))
            }
            _ => {
                return Err(bad(format!(
                    "an unsupported path attribute (supported: {PATH_ATTRIBUTES})"
                )))
            }
        };
        if seen.contains(&name) {
            return Err(bad(format!("the path attribute {name} appears twice")));
        }
        seen.push(name);
        let bytes = percent_decode(value).map_err(|reason| bad(format!("{name}: {reason}")))?;
        let text =
            || String::from_utf8(bytes.to_vec()).map_err(|_| bad(format!("{name} is not UTF-8 once percent-decoded")));
        match name {
            "token" => select.token = Some(text()?),
            "serial" => select.serial = Some(text()?),
            "manufacturer" => select.manufacturer = Some(text()?),
            "model" => select.model = Some(text()?),
            "slot-id" => {
                let id = text()?.parse().map_err(|_| bad("slot-id is not a number".to_owned()))?;
                select.slot_id = Some(id);
            }
            "object" => select.object = Some(text()?),
            "id" => select.id = Some(bytes.to_vec()),
            _ => {
                if text()? != "private" {
                    return Err(bad(
                        "type names no private key; the private key is needed (type=private, or no type)".to_owned(),
                    ));
                }
            }
        }
    }
    if select.object.is_none() && select.id.is_none() {
        return Err(bad("it names no key: add object= or id=".to_owned()));
    }
    if select.token.is_none() && select.serial.is_none() && select.slot_id.is_none() {
        return Err(bad("it names no token: add token= (or serial=, slot-id=)".to_owned()));
    }
    Ok(select)
}

fn parse_query(query: &str) -> Result<Uri> {
    let (mut module_path, mut pin) = (None, None);
    for part in query.split('&').filter(|part| !part.is_empty()) {
        let (name, value) = part
            .split_once('=')
            .ok_or_else(|| bad(format!("a query attribute has no '=' ({AMPERSAND_HINT})")))?;
        let name = match name {
            "module-path" => "module-path",
            "pin-value" => "pin-value",
            "pin-source" => "pin-source",
            "module-name" => return Err(bad("module-name is not supported: give module-path".to_owned())),
            _ => {
                return Err(bad(format!(
                    "an unsupported query attribute (supported: {QUERY_ATTRIBUTES}; {AMPERSAND_HINT})"
                )))
            }
        };
        let bytes = percent_decode(value).map_err(|reason| bad(format!("{name}: {reason}")))?;
        let text = String::from_utf8(bytes.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| bad(format!("{name} is not UTF-8 once percent-decoded")))?;
        match name {
            "module-path" if module_path.is_none() => module_path = Some(PathBuf::from(text.as_str())),
            "pin-value" if pin.is_none() => pin = Some(PinFrom::Value(text)),
            "pin-source" if pin.is_none() => pin = Some(PinFrom::File(pin_file(&text).map_err(bad)?)),
            _ => {
                return Err(bad(format!(
                    "{name} repeats, or pin-value and pin-source are both given"
                )))
            }
        }
    }
    Ok(Uri {
        select: Selector::default(),
        module_path: module_path
            .ok_or_else(|| bad("module-path= is required (the module's library file)".to_owned()))?,
        pin: pin.ok_or_else(|| bad("the PIN is missing: add pin-source=file:PATH or pin-value=".to_owned()))?,
    })
}

/// The file a `pin-source` names: `file:/path`, `file:///path`, or a
/// plain path (RFC 7512 leaves the scheme to the consumer).
pub(super) fn pin_file(source: &str) -> std::result::Result<PathBuf, String> {
    let path = match source.strip_prefix("file:") {
        Some(rest) => match rest.strip_prefix("//") {
            // file://HOST/path: only the local host.
            Some(authority) => match authority.split_once('/') {
                Some(("" | "localhost", path)) => format!("/{path}"),
                _ => return Err("pin-source names a file on another host".to_owned()),
            },
            None => rest.to_owned(),
        },
        None if source.contains("://") => return Err("pin-source must be a file: URI or a path".to_owned()),
        None => source.to_owned(),
    };
    match path.is_empty() {
        true => Err("pin-source names no file".to_owned()),
        false => Ok(PathBuf::from(path)),
    }
}

/// RFC 3986 percent-decoding, into zeroized bytes (a `pin-value` passes
/// through here).
fn percent_decode(value: &str) -> std::result::Result<Zeroizing<Vec<u8>>, String> {
    let mut out = Zeroizing::new(Vec::with_capacity(value.len()));
    let mut bytes = value.bytes();
    while let Some(byte) = bytes.next() {
        if byte != b'%' {
            out.push(byte);
            continue;
        }
        let digit = |b: Option<u8>| b.and_then(|b| (b as char).to_digit(16));
        match (digit(bytes.next()), digit(bytes.next())) {
            (Some(high), Some(low)) => out.push((high * 16 + low) as u8),
            _ => return Err("a '%' is not followed by two hexadecimal digits".to_owned()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

    use std::path::Path;

    use super::*;

    fn problem(uri: &str) -> String {
        match Uri::parse(uri) {
            Err(Error::Pkcs11 {
                problem: Pkcs11Problem::Uri(reason),
                ..
            }) => reason,
            Err(other) => panic!("{uri}: {other}"),
            Ok(_) => panic!("{uri}: accepted"),
        }
    }

    #[test]
    fn a_tokens_manufacturer_and_model_select_it_too() {
        let uri = Uri::parse(
            "pkcs11:manufacturer=SoftHSM%20project;model=SoftHSM%20v2;token=t;object=k?module-path=/m.so&pin-value=1",
        )
        .unwrap();
        assert_eq!(uri.select.manufacturer.as_deref(), Some("SoftHSM project"));
        assert_eq!(uri.select.model.as_deref(), Some("SoftHSM v2"));
        for name in ["manufacturer", "model"] {
            let twice = format!("pkcs11:token=t;object=k;{name}=a;{name}=b?module-path=/m.so&pin-value=1");
            assert_eq!(problem(&twice), format!("the path attribute {name} appears twice"));
        }
    }

    #[test]
    fn a_module_or_a_pin_given_twice_is_refused() {
        for (query, repeated) in [
            ("module-path=/a.so&module-path=/b.so&pin-value=1", "module-path"),
            ("module-path=/m.so&pin-value=1&pin-value=2", "pin-value"),
            ("module-path=/m.so&pin-source=/run/pin&pin-value=2", "pin-value"),
            ("module-path=/m.so&pin-value=1&pin-source=/run/pin", "pin-source"),
            ("module-path=/m.so&pin-source=/run/a&pin-source=/run/b", "pin-source"),
        ] {
            assert_eq!(
                problem(&format!("pkcs11:token=t;object=k?{query}")),
                format!("{repeated} repeats, or pin-value and pin-source are both given"),
                "{query}"
            );
        }
    }

    #[test]
    fn a_full_uri_is_read_as_rfc_7512_says() {
        let uri = Uri::parse(
            "pkcs11:token=My%20Token;object=bot%3B2026;id=%01%02%ff;type=private;serial=42\
             ?module-path=/usr/lib/soft%20hsm.so&pin-source=file:///run/pin%20file",
        )
        .unwrap();
        assert_eq!(uri.select.token.as_deref(), Some("My Token"));
        assert_eq!(uri.select.object.as_deref(), Some("bot;2026"));
        assert_eq!(uri.select.id.as_deref(), Some(&[1u8, 2, 0xff][..]));
        assert_eq!(uri.select.serial.as_deref(), Some("42"));
        assert_eq!(uri.module_path, PathBuf::from("/usr/lib/soft hsm.so"));
        assert!(matches!(uri.pin, PinFrom::File(ref path) if path == Path::new("/run/pin file")));
        let uri = Uri::parse("PKCS11:token=t;id=%0A?pin-value=12%2634&module-path=m.so").unwrap();
        assert!(matches!(uri.pin, PinFrom::Value(ref pin) if pin.as_str() == "12&34"));
    }

    #[test]
    fn pin_sources_name_local_files() {
        assert_eq!(pin_file("file:/run/pin").unwrap(), PathBuf::from("/run/pin"));
        assert_eq!(pin_file("file:///run/pin").unwrap(), PathBuf::from("/run/pin"));
        assert_eq!(pin_file("file://localhost/run/pin").unwrap(), PathBuf::from("/run/pin"));
        assert_eq!(pin_file("pin.txt").unwrap(), PathBuf::from("pin.txt"));
        assert!(pin_file("file://elsewhere/run/pin").is_err());
        assert!(pin_file("https://example.org/pin").is_err());
        assert!(pin_file("file:").is_err());
    }

    #[test]
    fn malformed_uris_say_what_is_wrong() {
        let m = "module-path=/m.so";
        for (uri, expected) in [
            (
                "token=t;object=k?module-path=/m.so&pin-value=1",
                "does not start with pkcs11:",
            ),
            (&format!("pkcs11:token=t?{m}&pin-value=1") as &str, "names no key"),
            (&format!("pkcs11:object=k?{m}&pin-value=1"), "names no token"),
            ("pkcs11:token=t;object=k?pin-value=1", "module-path= is required"),
            (&format!("pkcs11:token=t;object=k?{m}"), "the PIN is missing"),
            (
                &format!("pkcs11:token=t;object=k;object=j?{m}&pin-value=1"),
                "the path attribute object appears twice",
            ),
            (
                &format!("pkcs11:token=t;object=k%2?{m}&pin-value=1"),
                "object: a '%' is not followed by two hexadecimal digits",
            ),
            (&format!("pkcs11:token=t;object=%ff?{m}&pin-value=1"), "not UTF-8"),
            (
                &format!("pkcs11:token=t;object=k;type=public?{m}&pin-value=1"),
                "names no private key",
            ),
            (
                &format!("pkcs11:token=t;object=k;color=red?{m}&pin-value=1"),
                "an unsupported path attribute (supported: token,",
            ),
            (
                &format!("pkcs11:token=t;object=k;pin-value=1?{m}"),
                "pin-value is a query attribute: it belongs after the '?'",
            ),
            (
                &format!("pkcs11:token=t;object;k?{m}&pin-value=1"),
                "a path attribute has no '='",
            ),
            (
                &format!("pkcs11:token=t;object=k?{m}&pin-value=1&pin-source=file:/p"),
                "both given",
            ),
            (
                "pkcs11:token=t;object=k?module-name=softhsm2&pin-value=1",
                "module-name is not supported",
            ),
            (
                &format!("pkcs11:token=t;object=k?{m}&pin-value"),
                "a query attribute has no '=' (a '&' inside a value, such as a PIN, is written %26)",
            ),
            (
                &format!("pkcs11:token=t;object=k?{m}&color=red"),
                "an unsupported query attribute (supported: module-path, pin-source, pin-value;",
            ),
            (
                &format!("pkcs11:token=t;object=k;slot-id=x?{m}&pin-value=1"),
                "slot-id is not a number",
            ),
        ] {
            let reason = problem(uri);
            assert!(reason.contains(expected), "{uri}: {reason}");
        }
    }

    #[test]
    fn names_in_messages_are_only_those_the_parser_knows() {
        // An unknown name is never repeated, whatever it holds.
        for uri in [
            "pkcs11:token=t;object=k;a\nFORGED=1?module-path=/m.so&pin-value=1",
            "pkcs11:token=t;object=k?module-path=/m.so&a\nFORGED=1",
            "pkcs11:token=t;object=k?module-path=/m.so&a\nFORGED",
            "pkcs11:token=t;object=k;a\nFORGED?module-path=/m.so&pin-value=1",
        ] {
            let reason = problem(uri);
            assert!(!reason.contains("FORGED") && !reason.contains('\n'), "{reason}");
        }
        let long = "x".repeat(100_000);
        for uri in [
            format!("pkcs11:token=t;object=k;{long}=1?module-path=/m.so&pin-value=1"),
            format!("pkcs11:token=t;object=k?module-path=/m.so&{long}"),
            format!("pkcs11:token=t;object=k?module-path=/m.so&{long}=%zz"),
        ] {
            assert!(problem(&uri).len() < 200, "{}", problem(&uri).len());
        }
    }
}
