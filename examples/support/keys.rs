//! The keys a tool or service is given, each a PEM file or a `pkcs11:` URI
//! (RFC 7512; needs the feature `pkcs11`), the first the current one.
//!
//! Messages name a file by its path and a token key by the URI's path part
//! only: the query may hold a PIN.

#![allow(dead_code, reason = "each user takes what it needs")]

use std::io::Read;

use telegram_passport::{CredentialsKey, KeyRing, PrivateKey};

/// The largest key file read (an RSA-4096 PEM is about 3.3 KB).
const KEY_FILE_MAX: u64 = 64 << 10;

/// One key: a `pkcs11:` URI or the path of a PEM private key.
pub(crate) fn load_key(spec: &str) -> Result<Box<dyn CredentialsKey>, String> {
    if spec
        .get(..7)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("pkcs11:"))
    {
        let shown = spec.split_once('?').map_or(spec, |(path, _)| path);
        return load_pkcs11(spec).map_err(|e| format!("{shown}: {e}"));
    }
    let mut pem = String::new();
    std::fs::File::open(spec)
        .and_then(|file| file.take(KEY_FILE_MAX + 1).read_to_string(&mut pem))
        .map_err(|e| format!("cannot read {spec}: {e}"))?;
    let pem = zeroize::Zeroizing::new(pem);
    if pem.len() as u64 > KEY_FILE_MAX {
        return Err(format!("{spec} is larger than {KEY_FILE_MAX} bytes: not a key"));
    }
    let key = PrivateKey::from_pem(&pem).map_err(|e| format!("{spec}: {e}"))?;
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

/// The keys of a list in one setting: separated by commas or white space
/// (a comma inside a URI is written `%2C`).
#[allow(
    dead_code,
    reason = "for settings that hold a list; a tool's repeated option needs no split"
)]
pub(crate) fn split_list(text: &str) -> Vec<&str> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|spec| !spec.is_empty())
        .collect()
}
