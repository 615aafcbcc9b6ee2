//! References to encrypted files, each paired with the credentials that
//! decrypt it.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::error::Result;
use crate::input::bot_api::PassportFile;
use crate::input::received::FileLocation;
use crate::open::credentials::FileCredentials;
use crate::open::stream::FileDecryptor;
use crate::secret::{Plaintext, Sha256Hash};

/// One file of an element (a scan, selfie or translation) together with
/// the credentials that decrypt it, paired by position as the protocol says.
///
/// Serialises to the file's identifiers and `file_hash`; the secret is never
/// serialised (use [`FileRef::credentials`] to store it deliberately).
#[derive(Debug, Clone)]
pub struct FileRef {
    location: FileLocation,
    credentials: FileCredentials,
}

impl FileRef {
    pub(crate) fn new(location: FileLocation, credentials: FileCredentials) -> Self {
        Self { location, credentials }
    }

    /// Where to download the file.
    pub fn location(&self) -> &FileLocation {
        &self.location
    }

    /// The Bot API file, if the passport came through the Bot API.
    pub fn passport_file(&self) -> Option<&PassportFile> {
        match &self.location {
            FileLocation::BotApi(file) => Some(file),
            FileLocation::Mtproto(_) => None,
        }
    }

    /// The Bot API `file_id`, if the passport came through the Bot API.
    pub fn file_id(&self) -> Option<&str> {
        self.passport_file().map(|file| file.file_id.as_str())
    }

    /// The credentials: hash and secret.
    pub fn credentials(&self) -> &FileCredentials {
        &self.credentials
    }

    /// SHA-256 of the padded file: what a file error report names.
    pub fn file_hash(&self) -> &Sha256Hash {
        self.credentials.file_hash()
    }

    /// Decrypts and verifies the downloaded bytes in place; the result is
    /// the JPEG. No second copy of the file is made.
    pub fn decrypt(&self, encrypted: Vec<u8>) -> Result<Plaintext> {
        self.credentials.decrypt(encrypted)
    }

    /// A streaming decryptor for this file, writing plaintext to `sink`;
    /// see [`FileDecryptor`] for when the output can be trusted.
    pub fn decryptor<W: std::io::Write>(&self, sink: W) -> Result<FileDecryptor<W>> {
        self.credentials.decryptor(sink)
    }

    /// Decrypts a download (any reader) into the file at `path`, which
    /// appears only once verified.
    pub fn decrypt_to_path<R: std::io::Read>(&self, reader: R, path: &std::path::Path) -> Result<()> {
        self.credentials.decrypt_to_path(reader, path)
    }

    /// A decrypting async sink for this file, writing plaintext to `sink`:
    /// `bot.download_file(path, &mut sink)` in teloxide, then
    /// [`finish`](crate::AsyncFileDecryptor::finish) for the verified sink.
    #[cfg(feature = "tokio")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub fn async_decryptor<W: tokio::io::AsyncWrite + Unpin>(
        &self,
        sink: W,
    ) -> Result<crate::open::async_file::AsyncFileDecryptor<W>> {
        self.credentials.async_decryptor(sink)
    }

    /// Decrypts a download arriving as a stream of byte chunks into the
    /// file at `path`, which appears only once verified; see
    /// [`FileCredentials::decrypt_chunks_to_path`].
    #[cfg(feature = "tokio")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub async fn decrypt_chunks_to_path<S, B, E>(&self, chunks: S, path: &std::path::Path) -> Result<()>
    where
        S: futures_core::Stream<Item = std::result::Result<B, E>>,
        B: AsRef<[u8]>,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        self.credentials.decrypt_chunks_to_path(chunks, path).await
    }

    /// Decrypts everything an async reader yields into the file at `path`,
    /// which appears only once verified; see
    /// [`FileCredentials::decrypt_async_read_to_path`].
    #[cfg(feature = "tokio")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub async fn decrypt_async_read_to_path<R: tokio::io::AsyncRead + Unpin>(
        &self,
        reader: R,
        path: &std::path::Path,
    ) -> Result<()> {
        self.credentials.decrypt_async_read_to_path(reader, path).await
    }
}

impl Serialize for FileRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        match &self.location {
            FileLocation::BotApi(file) => {
                map.serialize_entry("file_id", &file.file_id)?;
                map.serialize_entry("file_unique_id", &file.file_unique_id)?;
                map.serialize_entry("file_size", &file.file_size)?;
                map.serialize_entry("file_date", &file.file_date)?;
            }
            FileLocation::Mtproto(file) => {
                map.serialize_entry("id", &file.id)?;
                map.serialize_entry("access_hash", &file.access_hash)?;
                map.serialize_entry("size", &file.size)?;
                map.serialize_entry("dc_id", &file.dc_id)?;
                map.serialize_entry("date", &file.date)?;
            }
        }
        map.serialize_entry("file_hash", self.file_hash())?;
        map.end()
    }
}
