//! Keys named in configuration: one setting lists the current key and the
//! older ones, each the path of a PEM private key file or a `pkcs11:` URI.
//!
//! Invariant: a URI is never cut, and nothing that could be a piece of one
//! (its query may hold a PIN) is opened or repeated in a message.

use std::fmt;
use std::io::Read as _;

use zeroize::Zeroizing;

use crate::error::{Error, KeyListProblem, Result};
use crate::key::{CredentialsKey, KeyRing, PrivateKey};
use crate::text::excerpt;

/// The largest key file read (an RSA-4096 PEM is about 3.3 KB).
const KEY_FILE_MAX: u64 = 64 << 10;

/// Where one key is: the path of a PEM private key file, or a `pkcs11:` URI
/// (RFC 7512) of a key held in a token (feature `pkcs11`).
///
/// Its `Debug` and [`shown`](KeyRef::shown) name a file by its path and a
/// token's key by its URI's path only: the query may hold a PIN.
///
/// ```
/// use telegram_passport::{Error, KeyRef};
///
/// let setting = "new.pem, old.pem pkcs11:token=bot;object=older?pin-source=/run/pin";
/// let keys = KeyRef::list(setting)?;
/// let shown: Vec<String> = keys.iter().map(KeyRef::shown).collect();
/// assert_eq!(shown, ["new.pem", "old.pem", "pkcs11:token=bot;object=older"]);
/// assert!(keys[2].is_token());
///
/// // A PIN with a space cuts its URI: refused, and never repeated.
/// let cut = KeyRef::list("pkcs11:token=bot;object=key?pin-value=12 34").unwrap_err();
/// assert!(matches!(cut, Error::KeyList { .. }));
/// assert!(!cut.to_string().contains("34"));
/// # Ok::<(), telegram_passport::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KeyRef<'a> {
    text: &'a str,
}

impl<'a> KeyRef<'a> {
    /// The key at `text`: a `pkcs11:` URI (any case of the scheme) or a
    /// file's path.
    pub fn new(text: &'a str) -> Self {
        Self { text }
    }

    /// Every key a setting lists, the first the current one.
    ///
    /// Keys are separated by white space (spaces, tabs, newlines) or commas.
    /// A `pkcs11:` URI may hold commas (RFC 7512 allows them in its query)
    /// but no raw white space, so once a URI has begun, a separator ends it
    /// only before another key: a `pkcs11:` URI or an existing file. A
    /// comma before anything else is the URI's own. White space before
    /// anything else is a URI cut apart (a space inside a URI is written
    /// `%20`), and a comma before the name of a key file that does not
    /// exist cannot be told from part of the query: both are
    /// [`Error::KeyList`], before any key is opened, so no piece of a PIN is
    /// ever tried, and what follows the URI is never repeated.
    pub fn list(setting: &'a str) -> Result<Vec<KeyRef<'a>>> {
        let mut keys = Vec::new();
        // The URI being read: where it starts and where it ends so far.
        let mut uri: Option<(usize, usize)> = None;
        for (start, end, after_space) in pieces(setting) {
            let piece = setting.get(start..end).unwrap_or_default();
            let is_a_key = is_pkcs11(piece) || std::fs::symlink_metadata(piece).is_ok();
            if let Some((uri_start, uri_end)) = uri {
                let key = keys.len() + 1;
                if is_a_key {
                    keys.push(KeyRef::new(setting.get(uri_start..uri_end).unwrap_or_default()));
                    uri = None;
                } else if after_space {
                    return Err(Error::KeyList {
                        problem: KeyListProblem::UriCutAtSpace { key },
                    });
                } else if looks_like_a_key_file(piece) {
                    return Err(Error::KeyList {
                        problem: KeyListProblem::CommaBeforeMissingFile { key },
                    });
                } else {
                    uri = Some((uri_start, end));
                    continue;
                }
            }
            match is_pkcs11(piece) {
                true => uri = Some((start, end)),
                false => keys.push(KeyRef::new(piece)),
            }
        }
        if let Some((uri_start, uri_end)) = uri {
            keys.push(KeyRef::new(setting.get(uri_start..uri_end).unwrap_or_default()));
        }
        Ok(keys)
    }

    /// Whether this is a key in a token (a `pkcs11:` URI).
    pub fn is_token(&self) -> bool {
        is_pkcs11(self.text)
    }

    /// The whole text, a URI's query included: it may hold a PIN, so never
    /// show it. See [`shown`](KeyRef::shown).
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// How to name this key in a message: a file by its path, a token's key
    /// by its URI's path (the query may hold a PIN), on one line, escaped
    /// and bounded as received text is.
    pub fn shown(&self) -> String {
        let shown = match self.is_token() {
            true => self.text.split_once('?').map_or(self.text, |(path, _)| path),
            false => self.text,
        };
        excerpt(shown)
    }

    /// Opens the key: reads a PEM file (at most 64 KiB, into memory that is
    /// wiped afterwards) or opens a token's key
    /// ([`Pkcs11Key::open`](crate::Pkcs11Key::open), feature `pkcs11`).
    /// Fails with [`Error::KeyOpen`], which names the key as
    /// [`shown`](KeyRef::shown) does and says why.
    pub fn open(&self) -> Result<Box<dyn CredentialsKey>> {
        let opened = match self.is_token() {
            true => open_token(self.text),
            false => read_pem(self.text).map(|key| Box::new(key) as Box<dyn CredentialsKey>),
        };
        opened.map_err(|error| Error::KeyOpen {
            key: self.shown(),
            error: Box::new(error),
        })
    }
}

impl fmt::Debug for KeyRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("KeyRef").field(&self.shown()).finish()
    }
}

impl KeyRing {
    /// A ring of every key `setting` lists ([`KeyRef::list`]), the first
    /// the current one: the keys are opened only once the whole list was
    /// read, and the first that fails to open fails the ring.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let (new, old) = (dir.path().join("new.pem"), dir.path().join("old.pem"));
    /// use telegram_passport::{KeyRing, PrivateKey};
    ///
    /// std::fs::write(&new, PrivateKey::generate()?.to_pem()?.as_bytes())?;
    /// std::fs::write(&old, PrivateKey::generate()?.to_pem()?.as_bytes())?;
    /// let ring = KeyRing::open_list(&format!("{} {}", new.display(), old.display()))?;
    /// assert_eq!(ring.keys().count(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_list(setting: &str) -> Result<KeyRing> {
        let keys = KeyRef::list(setting)?
            .iter()
            .map(KeyRef::open)
            .collect::<Result<Vec<_>>>()?;
        KeyRing::from_keys(keys).ok_or(Error::KeyList {
            problem: KeyListProblem::Empty,
        })
    }
}

/// A PEM private key file, read whole within the bound.
fn read_pem(path: &str) -> Result<PrivateKey> {
    // Room for all of it up front: a growing buffer would leave copies of
    // the key behind.
    let mut bytes = Zeroizing::new(Vec::with_capacity(KEY_FILE_MAX as usize + 1));
    std::fs::File::open(path)
        .and_then(|file| file.take(KEY_FILE_MAX + 1).read_to_end(&mut bytes))
        .map_err(|error| Error::KeyMalformed {
            reason: format!("cannot read the file: {error}"),
            source: Some(Box::new(error)),
        })?;
    if bytes.len() as u64 > KEY_FILE_MAX {
        return Err(Error::TooLarge {
            what: "a key file".to_owned(),
            actual: bytes.len() as u64,
            limit: KEY_FILE_MAX,
        });
    }
    let pem = std::str::from_utf8(&bytes).map_err(|_| Error::KeyFormat {
        found: crate::error::KeyFound::Der,
    })?;
    PrivateKey::from_pem(pem)
}

#[cfg(feature = "pkcs11")]
fn open_token(uri: &str) -> Result<Box<dyn CredentialsKey>> {
    Ok(Box::new(crate::key::Pkcs11Key::open(uri)?))
}

#[cfg(not(feature = "pkcs11"))]
fn open_token(_: &str) -> Result<Box<dyn CredentialsKey>> {
    Err(Error::Pkcs11 {
        problem: crate::error::Pkcs11Problem::NotBuilt,
        source: None,
    })
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
