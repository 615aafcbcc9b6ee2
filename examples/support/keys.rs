//! The keys a tool or service is given, each a PEM file or a `pkcs11:` URI
//! (RFC 7512; needs the feature `pkcs11`), the first the current one.
//!
//! Messages name a file by its path and a token key by the URI's path part
//! only: the query may hold a PIN.

#![allow(dead_code, reason = "each user takes what it needs")]

use std::io::Read;

use telegram_passport::{CredentialsKey, KeyFound, KeyRing, PrivateKey};

/// The largest key file read (an RSA-4096 PEM is about 3.3 KB).
const KEY_FILE_MAX: u64 = 64 << 10;

/// One key: a `pkcs11:` URI or the path of a PEM private key.
pub(crate) fn load_key(spec: &str) -> Result<Box<dyn CredentialsKey>, String> {
    if is_pkcs11(spec) {
        let shown = spec.split_once('?').map_or(spec, |(path, _)| path);
        return load_pkcs11(spec).map_err(|e| format!("{shown}: {e}"));
    }
    // Room for all of it up front: a growing buffer would leave copies of
    // the key behind.
    let mut bytes = zeroize::Zeroizing::new(Vec::with_capacity(KEY_FILE_MAX as usize + 1));
    std::fs::File::open(spec)
        .and_then(|file| file.take(KEY_FILE_MAX + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("cannot read {spec}: {e}"))?;
    if bytes.len() as u64 > KEY_FILE_MAX {
        return Err(format!("{spec} is larger than {KEY_FILE_MAX} bytes: not a key"));
    }
    let pem = std::str::from_utf8(&bytes).map_err(|_| format!("{spec}: {}", KeyFound::Der))?;
    let key = PrivateKey::from_pem(pem).map_err(|e| format!("{spec}: {e}"))?;
    Ok(Box::new(key))
}

#[cfg(feature = "pkcs11")]
fn load_pkcs11(uri: &str) -> Result<Box<dyn CredentialsKey>, telegram_passport::Error> {
    Ok(Box::new(telegram_passport::Pkcs11Key::open(uri)?))
}

#[cfg(not(feature = "pkcs11"))]
fn load_pkcs11(_: &str) -> Result<Box<dyn CredentialsKey>, telegram_passport::Error> {
    Err(telegram_passport::Error::Pkcs11 {
        problem: telegram_passport::Pkcs11Problem::NotBuilt,
        source: None,
    })
}

/// A ring of every key in `specs`, the first the current one.
pub(crate) fn load_ring<S: AsRef<str>>(specs: impl IntoIterator<Item = S>) -> Result<KeyRing, String> {
    let keys = specs
        .into_iter()
        .map(|spec| load_key(spec.as_ref()))
        .collect::<Result<Vec<_>, _>>()?;
    KeyRing::from_keys(keys).ok_or_else(|| "no key given".to_owned())
}

/// The keys of a list in one setting, the first the current one.
///
/// Keys are separated by white space (spaces, tabs, newlines) or commas.
/// A `pkcs11:` URI may hold commas (RFC 7512 allows them in its query) but
/// no raw white space, so once a URI has begun, a separator ends it only
/// before another key: a `pkcs11:` URI or an existing file. A comma before
/// anything else is the URI's own. White space before anything else is a
/// URI cut apart (a space inside a URI is written `%20`), and a comma
/// before the name of a key file that does not exist cannot be told from
/// part of the query: both are refused before any key is opened, so no
/// piece of a PIN is ever tried, and what follows the URI is never
/// repeated, since its query may hold a PIN.
pub(crate) fn split_list(text: &str) -> Result<Vec<&str>, String> {
    let mut keys = Vec::new();
    // The URI being read: where it starts and where it ends so far.
    let mut uri: Option<(usize, usize)> = None;
    for (start, end, after_space) in pieces(text) {
        let piece = text.get(start..end).unwrap_or_default();
        let is_a_key = is_pkcs11(piece) || std::fs::symlink_metadata(piece).is_ok();
        if let Some((uri_start, uri_end)) = uri {
            if is_a_key {
                keys.push(text.get(uri_start..uri_end).unwrap_or_default());
                uri = None;
            } else if after_space {
                return Err(format!(
                    "key {}: a pkcs11: URI is followed by white space and then neither another pkcs11: URI nor an \
                     existing file; what follows is not repeated here, as it may be a piece of the URI cut at a \
                     space (its query may hold a PIN): inside a URI a space is written %20",
                    keys.len() + 1
                ));
            } else if looks_like_a_key_file(piece) {
                return Err(format!(
                    "key {}: a comma inside a pkcs11: URI is followed by the name of a key file that does not \
                     exist, not repeated here (the URI's query may hold a PIN): if it is a key, check its path; \
                     if it is part of the URI, write the comma as %2C",
                    keys.len() + 1
                ));
            } else {
                uri = Some((uri_start, end));
                continue;
            }
        }
        match is_pkcs11(piece) {
            true => uri = Some((start, end)),
            false => keys.push(piece),
        }
    }
    if let Some((uri_start, uri_end)) = uri {
        keys.push(text.get(uri_start..uri_end).unwrap_or_default());
    }
    Ok(keys)
}

/// The pieces of `text` between commas and white space: where each starts
/// and ends, and whether white space came before it.
fn pieces(text: &str) -> Vec<(usize, usize, bool)> {
    let separator = |c: char| c == ',' || c.is_whitespace();
    let mut pieces = Vec::new();
    let (mut start, mut after_space) = (None, false);
    for (at, c) in text.char_indices().chain(std::iter::once((text.len(), ' '))) {
        match (separator(c), start) {
            (true, Some(begun)) => {
                pieces.push((begun, at, after_space));
                (start, after_space) = (None, c.is_whitespace());
            }
            (true, None) => after_space |= c.is_whitespace(),
            (false, None) => start = Some(at),
            (false, Some(_)) => {}
        }
    }
    pieces
}

fn is_pkcs11(spec: &str) -> bool {
    spec.get(..7)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("pkcs11:"))
}

/// Whether a piece of a URI after a comma is named like a key file.
fn looks_like_a_key_file(piece: &str) -> bool {
    let name = piece.to_ascii_lowercase();
    name.ends_with(".pem") || name.ends_with(".key")
}
