//! Streaming file decryption: encrypted bytes in, as they arrive, plaintext
//! out to any `io::Write`, in bounded memory (one 64 KiB working buffer).
//!
//! Invariant: nothing written to the sink is trustworthy until
//! [`FileDecryptor::finish`] has checked the hash, so the sink is handed
//! back only then. [`FileCredentials::decrypt_to_path`] builds on that: it
//! writes to a temporary file and renames it into place only after a
//! successful check.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use tempfile::NamedTempFile;
use zeroize::{Zeroize, Zeroizing};

use crate::backend;
use crate::error::{DecryptionError, Error, Result, Step, Target};
use crate::open::credentials::FileCredentials;
use crate::open::primitive::{self, Cipher};
use crate::secret::{scrubbed, Sha256Hash};

/// Encrypted bytes gathered before they are decrypted and hashed together.
const CHUNK: usize = 64 * 1024;
const BLOCK: usize = 16;

/// Decrypts one file as its encrypted bytes arrive.
///
/// Write encrypted bytes in (it is an [`io::Write`], so `io::copy` from an
/// HTTP body works), then call [`finish`](FileDecryptor::finish). The sink
/// receives plaintext as it is decrypted, but **until `finish` returns `Ok`
/// it is unverified**: on failure `finish` drops the sink, and the caller
/// must discard whatever it wrote (or use
/// [`FileCredentials::decrypt_to_path`], which does that).
///
/// ```
/// use telegram_passport::{client, FileCredentials};
///
/// let jpeg = vec![0xff; 100_000];
/// let encrypted = client::encrypt(&jpeg)?;
/// let credentials = FileCredentials::new(encrypted.hash, encrypted.secret);
///
/// let mut decryptor = credentials.decryptor(Vec::new())?;
/// for piece in encrypted.data.chunks(1500) {   // as packets arrive
///     std::io::Write::write_all(&mut decryptor, piece).unwrap();
/// }
/// let verified: Vec<u8> = decryptor.finish()?;
/// assert_eq!(verified, jpeg);
/// # Ok::<(), telegram_passport::Error>(())
/// ```
pub struct FileDecryptor<W: Write> {
    cipher: Cipher,
    hasher: backend::Sha256,
    expected: Sha256Hash,
    sink: W,
    buf: Zeroizing<Vec<u8>>,
    /// The padding length byte, once the first block is decrypted.
    padding: Option<u8>,
    /// Padded bytes decrypted so far.
    decrypted: u64,
    /// Largest file accepted.
    max_size: u64,
}

impl<W: Write> fmt::Debug for FileDecryptor<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileDecryptor")
            .field("decrypted", &self.decrypted)
            .finish_non_exhaustive()
    }
}

fn failed(step: Step) -> Error {
    DecryptionError::new(Target::File, step).into()
}

impl FileCredentials {
    /// A streaming decryptor writing plaintext to `sink`.
    pub fn decryptor<W: Write>(&self, sink: W) -> Result<FileDecryptor<W>> {
        Ok(FileDecryptor {
            cipher: scrubbed(|| primitive::cipher(self.secret(), self.file_hash())).map_err(failed)?,
            hasher: backend::Sha256::default(),
            expected: *self.file_hash(),
            sink,
            buf: Zeroizing::new(Vec::with_capacity(CHUNK)),
            padding: None,
            decrypted: 0,
            max_size: self.max_size(),
        })
    }

    /// Decrypts everything `reader` yields into `sink`; returns the sink
    /// once the file is verified.
    pub fn decrypt_stream<R: Read, W: Write>(&self, mut reader: R, sink: W) -> Result<W> {
        scrubbed(move || {
            let mut decryptor = self.decryptor(sink)?;
            if let Err(error) = io::copy(&mut reader, &mut decryptor) {
                return Err(decryptor.too_large().unwrap_or(Error::Io(error)));
            }
            decryptor.finish()
        })
    }

    /// Decrypts everything `reader` yields into the file at `path`, which
    /// appears only once the file is verified.
    ///
    /// The plaintext goes to a new temporary file with a random name,
    /// created exclusively in `path`'s folder (it never opens an existing
    /// path, so a planted file or symlink is not followed) and readable by
    /// the owner only (mode 0600 on Unix). Once the hash and padding check
    /// out, it is flushed to disk and renamed to `path`, replacing whatever
    /// was there; on any failure it is removed. Of concurrent calls for one
    /// `path`, the last to finish wins, and `path` only ever holds one
    /// call's verified file. A crash part-way leaves at most an owner-only
    /// `.tp-*.partial` file beside `path`, never a file at `path`.
    pub fn decrypt_to_path<R: Read>(&self, reader: R, path: &Path) -> Result<()> {
        // On any error below, dropping the temporary file removes it.
        let verified = self.decrypt_stream(reader, temporary_beside(path)?)?;
        persist(verified, path)
    }
}

/// A new, exclusive, owner-only temporary file in `path`'s folder.
pub(crate) fn temporary_beside(path: &Path) -> Result<NamedTempFile> {
    tempfile::Builder::new()
        .prefix(".tp-")
        .suffix(".partial")
        .tempfile_in(folder_of(path))
        .map_err(Error::Io)
}

/// Flushes a verified temporary file to disk and renames it to `path`.
pub(crate) fn persist(verified: NamedTempFile, path: &Path) -> Result<()> {
    verified.as_file().sync_all().map_err(Error::Io)?;
    publish(verified, path)
}

/// Renames a verified temporary file, already flushed to disk, to `path`.
pub(crate) fn publish(verified: NamedTempFile, path: &Path) -> Result<()> {
    verified.persist(path).map_err(|e| Error::Io(e.error))?;
    // Make the rename itself durable; not every platform can sync a folder.
    if let Ok(folder) = File::open(folder_of(path)) {
        let _ = folder.sync_all();
    }
    Ok(())
}

fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

impl<W: Write> FileDecryptor<W> {
    /// Accepts files up to `bytes` long instead of the credentials' [`Limits::file`](crate::Limits::file); more
    /// is refused with [`Error::TooLarge`] before it is buffered.
    pub fn with_max_size(mut self, bytes: u64) -> Self {
        self.max_size = bytes;
        self
    }

    fn received(&self) -> u64 {
        self.decrypted + self.buf.len() as u64
    }

    /// The sink, for a wrapper that moves its output on (the async sink).
    #[cfg(feature = "tokio")]
    pub(crate) fn sink_mut(&mut self) -> &mut W {
        &mut self.sink
    }

    /// The error for a file beyond the size limit, if it is.
    pub(crate) fn too_large(&self) -> Option<Error> {
        let received = self.received();
        (received > self.max_size).then(|| Error::TooLarge {
            what: "the encrypted file".to_owned(),
            actual: received,
            limit: self.max_size,
        })
    }

    /// Decrypts the whole blocks gathered so far and writes their plaintext.
    fn process(&mut self) -> io::Result<()> {
        let whole = self.buf.len() - self.buf.len() % BLOCK;
        let Some(blocks) = self.buf.get_mut(..whole).filter(|b| !b.is_empty()) else {
            return Ok(());
        };
        primitive::decrypt_blocks(&mut self.cipher, blocks);
        self.hasher.update(blocks);
        let padding = *self.padding.get_or_insert(blocks.first().copied().unwrap_or(0));
        // Skip what is left of the padding, then write the rest.
        let skip = u64::from(padding).saturating_sub(self.decrypted).min(whole as u64) as usize;
        let result = self.sink.write_all(blocks.get(skip..).unwrap_or_default());
        blocks.zeroize();
        self.decrypted += whole as u64;
        self.buf.drain(..whole);
        result
    }

    /// Checks the hash and the padding; returns the sink only if the file
    /// is verified. On failure the sink is dropped: discard what it got.
    pub fn finish(self) -> Result<W> {
        // The decryptor (and its key schedule) is moved into, and dropped
        // in, a frame that is overwritten before this returns.
        scrubbed(move || self.verify())
    }

    fn verify(mut self) -> Result<W> {
        if let Some(error) = self.too_large() {
            return Err(error);
        }
        if !self.buf.len().is_multiple_of(BLOCK) {
            return Err(failed(Step::Length));
        }
        self.process().map_err(Error::Io)?;
        if self.decrypted == 0 {
            return Err(failed(Step::Length));
        }
        let digest = std::mem::take(&mut self.hasher).finalize();
        if !primitive::hash_matches(&digest, &self.expected) {
            return Err(failed(Step::Hash));
        }
        primitive::padding_length(self.padding, self.decrypted).map_err(failed)?;
        self.sink.flush().map_err(Error::Io)?;
        Ok(self.sink)
    }
}

impl<W: Write> Write for FileDecryptor<W> {
    /// Takes encrypted bytes; plaintext goes to the sink a chunk at a time.
    fn write(&mut self, input: &[u8]) -> io::Result<usize> {
        if self.received() + input.len() as u64 > self.max_size {
            // Counted, not buffered, so that the error can say how much came.
            self.decrypted += input.len() as u64;
            return Err(io::Error::other("the encrypted file exceeds the size limit"));
        }
        let room = CHUNK - self.buf.len();
        let taken = input.get(..room.min(input.len())).unwrap_or_default();
        self.buf.extend_from_slice(taken);
        if self.buf.len() == CHUNK {
            self.process()?;
        }
        Ok(taken.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.sink.flush()
    }
}
