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
/// Keys are separated by white space (spaces, tabs, newlines), and file
/// paths by commas too. A `pkcs11:` URI runs to the next white space,
/// commas included: RFC 7512 allows a comma in the query, and no URI
/// holds raw white space. What could be a URI cut apart is refused before
/// any key is opened (so no piece of a PIN is tried), and never repeated
/// (its query may hold a PIN): a word after a URI that is neither another
/// URI nor an existing file (a space inside the URI, which is written
/// `%20`), and a comma inside a URI followed by what looks like another key
/// (written `%2C` inside a URI; keys after a URI are separated by white
/// space).
pub(crate) fn split_list(text: &str) -> Result<Vec<&str>, String> {
    let mut keys = Vec::new();
    let mut after_uri = false;
    for word in text.split(char::is_whitespace).filter(|word| !word.is_empty()) {
        let mut rest = word;
        loop {
            if is_pkcs11(rest) {
                if rest.split(',').skip(1).any(looks_like_a_key) {
                    return Err(format!(
                        "key {}: a comma inside a pkcs11: URI is followed by what looks like another key; inside \
                         a URI a comma is part of it (write it as %2C to keep it there), and keys after a URI are \
                         separated by white space",
                        keys.len() + 1
                    ));
                }
                keys.push(rest);
                after_uri = true;
                break;
            }
            let (item, more) = match rest.split_once(',') {
                Some((item, more)) => (item, Some(more)),
                None => (rest, None),
            };
            if !item.is_empty() {
                if after_uri && std::fs::symlink_metadata(item).is_err() {
                    return Err(format!(
                        "key {}: what follows a pkcs11: URI is neither another pkcs11: URI nor an existing file; \
                         it is not repeated here, as it may be a piece of the URI cut at a space (its query may \
                         hold a PIN): inside a URI a space is written %20, and keys are separated by white space",
                        keys.len() + 1
                    ));
                }
                keys.push(item);
            }
            match more {
                Some(more) => rest = more,
                None => break,
            }
        }
    }
    Ok(keys)
}

fn is_pkcs11(spec: &str) -> bool {
    spec.get(..7)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("pkcs11:"))
}

/// Whether a piece of a URI after a comma names a key of its own.
fn looks_like_a_key(piece: &str) -> bool {
    let name = piece.to_ascii_lowercase();
    is_pkcs11(piece) || name.ends_with(".pem") || name.ends_with(".key") || std::path::Path::new(piece).is_file()
}
