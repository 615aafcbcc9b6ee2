//! Async file decryption on tokio's I/O traits: the synchronous streaming
//! core ([`FileDecryptor`]) behind an `AsyncWrite`, and decryption from a
//! `Stream` of byte chunks or an `AsyncRead` into a path.
//!
//! Invariants: the crypto is the synchronous core's, unchanged; at most one
//! 64 KiB working buffer of encrypted bytes and one of plaintext on its way
//! to the sink are held; the inner sink is handed back only once the hash
//! and padding check out.
//!
//! No input holds the executor: one poll takes at most 64 KiB of input, each
//! piece (a write, a chunk, a read) counting at least 1 KiB, empty ones too,
//! and decrypts and hashes at most one 64 KiB chunk; then the task wakes
//! itself and yields. A stream or reader that is always ready cannot starve
//! a current-thread runtime.
//!
//! The path functions keep `decrypt_to_path`'s guarantees (they share its
//! temporary file and its rename), and their future is the only owner of
//! what they start: the folder's names change only in its own polls and in
//! its drop. The temporary file is created in the first poll and removed
//! when the future is dropped; the rename happens in the very poll that
//! returns `Ok`, never in a task that outlives the future. So a future
//! dropped at any point before `Ok` has published nothing, and there is
//! nothing to undo: an undo could not tell our file from one a concurrent
//! call renamed over it, and would lose what `path` held before. What runs
//! on the blocking pool (writes, the sync to disk) touches only the
//! temporary file's contents, and after a drop it finishes on a file that
//! no longer has a name.

use std::fmt;
use std::future::poll_fn;
use std::io::{self, Write};
use std::path::Path;
use std::pin::{pin, Pin};
use std::task::{ready, Context, Poll};

use futures_core::Stream;
use tempfile::NamedTempFile;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};
use crate::open::credentials::FileCredentials;
use crate::open::stream::FileDecryptor;
use crate::open::stream::{publish, temporary_beside};

/// The input one poll may take before it yields, in bytes.
const TURN: usize = 64 * 1024;
/// What one piece of input costs at least, however small: the calls around
/// an empty chunk are work too, so 64 of them end a turn.
const PIECE: usize = TURN / 64;

/// The work done since the task last gave the executor its thread back.
#[derive(Debug, Default)]
struct Turn {
    spent: usize,
}

impl Turn {
    /// Ready while the turn lasts; once it is spent, wakes the task and
    /// returns `Pending` once, and the next poll starts a new turn.
    fn poll_proceed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.spent < TURN {
            return Poll::Ready(());
        }
        self.spent = 0;
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// As much of `input` as the turn has room for.
    fn portion<'a>(&self, input: &'a [u8]) -> &'a [u8] {
        input.get(..TURN.saturating_sub(self.spent)).unwrap_or(input)
    }

    /// Counts one piece of input of `bytes` bytes.
    fn spend(&mut self, bytes: usize) {
        self.spent = self.spent.saturating_add(bytes.max(PIECE));
    }

    /// Ends the turn: a chunk was decrypted and hashed, which is a poll's worth.
    fn end(&mut self) {
        self.spent = TURN;
    }
}

/// Decrypts one file as its encrypted bytes arrive, writing plaintext to an
/// async sink.
///
/// It is an [`AsyncWrite`], so anything that downloads into a tokio writer
/// (teloxide's `download_file`, `tokio::io::copy` from a body) hands over in
/// one line. Then call [`finish`](AsyncFileDecryptor::finish): it writes the
/// last plaintext, checks the hash and the padding, and only then returns
/// the sink. **Until `finish` returns `Ok`, what the sink got is
/// unverified**: on failure it is dropped, and the caller must discard what
/// it wrote (or use [`FileCredentials::decrypt_chunks_to_path`], which does
/// that). Shutting it down flushes the sink but does not shut it down:
/// `finish` has the last bytes to write.
///
/// One poll takes at most 64 KiB of input, each write counting at least
/// 1 KiB, empty ones too, and decrypts and hashes at most one 64 KiB chunk:
/// then the next write wakes the task and yields once, whatever the sink
/// and however the caller writes. So it runs on the async executor without
/// stalling it; nothing is buffered beyond that chunk and its plaintext.
/// More than the size limit ([`Limits::file`](crate::Limits::file) of the
/// credentials) is refused before it is buffered.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), telegram_passport::Error> {
/// use telegram_passport::{client, FileCredentials};
/// use tokio::io::AsyncWriteExt;
///
/// let jpeg = vec![0xff; 100_000];
/// let encrypted = client::encrypt(&jpeg)?;
/// let credentials = FileCredentials::new(encrypted.hash, encrypted.secret);
///
/// let mut sink = credentials.async_decryptor(Vec::new())?;
/// for piece in encrypted.data.chunks(1500) {   // as packets arrive
///     sink.write_all(piece).await.map_err(telegram_passport::Error::Io)?;
/// }
/// let verified: Vec<u8> = sink.finish().await?;
/// assert_eq!(verified, jpeg);
/// # Ok(())
/// # }
/// ```
pub struct AsyncFileDecryptor<W> {
    core: FileDecryptor<Pending>,
    sink: W,
    /// Whatever the sink (a `Vec` never makes a writer wait), a write
    /// yields once this turn is spent.
    turn: Turn,
}

impl<W> fmt::Debug for AsyncFileDecryptor<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncFileDecryptor")
            .field("core", &self.core)
            .finish_non_exhaustive()
    }
}

/// Plaintext the core has decrypted and the async sink has not yet taken:
/// at most one chunk, since the core gets more input only once it is empty.
#[derive(Default)]
struct Pending {
    bytes: Zeroizing<Vec<u8>>,
    sent: usize,
}

impl Pending {
    fn rest(&self) -> &[u8] {
        self.bytes.get(self.sent..).unwrap_or_default()
    }

    fn clear(&mut self) {
        self.bytes.zeroize();
        self.sent = 0;
    }
}

impl Write for Pending {
    fn write(&mut self, plaintext: &[u8]) -> io::Result<usize> {
        self.bytes.extend_from_slice(plaintext);
        Ok(plaintext.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl FileCredentials {
    /// A streaming decryptor writing plaintext to the async `sink`; see
    /// [`AsyncFileDecryptor`] for when that output can be trusted.
    pub fn async_decryptor<W: AsyncWrite + Unpin>(&self, sink: W) -> Result<AsyncFileDecryptor<W>> {
        Ok(AsyncFileDecryptor {
            core: self.decryptor(Pending::default())?,
            sink,
            turn: Turn::default(),
        })
    }

    /// Decrypts a download that arrives as a [`Stream`] of byte chunks
    /// (reqwest's `bytes_stream()`, hyper's body frames, teloxide's
    /// `download_file_stream`) into the file at `path`, which appears only
    /// once the file is verified.
    ///
    /// The guarantees of [`FileCredentials::decrypt_to_path`]: a new
    /// exclusive, owner-only temporary file in `path`'s folder, renamed to
    /// `path` only once verified, removed on any failure; more than the
    /// size limit is refused with [`Error::TooLarge`] before it is
    /// buffered. A chunk the stream fails with is [`Error::Io`] with the
    /// stream's error as source.
    ///
    /// **Dropped, it leaves nothing.** The temporary file belongs to this
    /// future: it is created in the first poll and removed when the future
    /// is dropped, and the rename happens in the very poll that returns
    /// `Ok`, never in a task that outlives the future. So if this future is
    /// dropped before it returns (a timeout, a `select!` that took another
    /// branch), nothing appears at `path`, what `path` held stays, and no
    /// temporary file is left, not even later; if it returned `Ok`, the
    /// verified file is at `path`, and the folder has been synced (where
    /// the platform can) so that the rename survives a crash. The writes
    /// and the file's sync to disk run on tokio's blocking pool. The
    /// creation, the rename and the sync of the folder run on the
    /// executor's thread, because any wait between the rename and `Ok`
    /// would reopen the gap between publishing and telling: the last poll
    /// waits for the disk once, for that sync.
    ///
    /// **It yields.** One poll takes in at most 64 KiB of what the stream
    /// gave and at most 64 chunks (each counts at least 1 KiB, empty ones
    /// too), and decrypts at most one 64 KiB chunk; then the future wakes
    /// itself and returns `Pending`. A stream that is always ready, even
    /// with empty chunks, cannot hold a current-thread runtime, and a
    /// timeout around the call fires.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use telegram_passport::{client, FileCredentials};
    ///
    /// let jpeg = vec![0xd8; 200_000];
    /// let encrypted = client::encrypt(&jpeg)?;
    /// let credentials = FileCredentials::new(encrypted.hash, encrypted.secret);
    /// // A download as a stream of chunks; any `Result<impl AsRef<[u8]>, E>` items.
    /// let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
    ///     encrypted.data.chunks(16_384).map(|chunk| Ok(chunk.to_vec())).collect();
    /// let stream = futures_core_stream(chunks);
    ///
    /// let folder = std::env::temp_dir().join(format!("passport-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&folder)?;
    /// let path = folder.join("selfie.jpg");
    /// credentials.decrypt_chunks_to_path(stream, &path).await?;
    /// assert_eq!(std::fs::read(&path)?, jpeg);
    /// # std::fs::remove_dir_all(&folder)?;
    /// # Ok(())
    /// # }
    /// # // A minimal `Stream` over a list, as a download library would yield.
    /// # fn futures_core_stream<T: Unpin>(items: Vec<T>) -> impl futures_core::Stream<Item = T> + Unpin {
    /// #     struct Items<T>(std::vec::IntoIter<T>);
    /// #     impl<T: Unpin> futures_core::Stream for Items<T> {
    /// #         type Item = T;
    /// #         fn poll_next(mut self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>)
    /// #             -> std::task::Poll<Option<T>> { std::task::Poll::Ready(self.0.next()) }
    /// #     }
    /// #     Items(items.into_iter())
    /// # }
    /// ```
    pub async fn decrypt_chunks_to_path<S, B, E>(&self, chunks: S, path: &Path) -> Result<()>
    where
        S: Stream<Item = std::result::Result<B, E>>,
        B: AsRef<[u8]>,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (temporary, file) = temporary_file(path)?;
        let mut decryptor = self.async_decryptor(file)?;
        let mut chunks = pin!(chunks);
        loop {
            poll_fn(|cx| decryptor.turn.poll_proceed(cx)).await;
            let Some(chunk) = poll_fn(|cx| chunks.as_mut().poll_next(cx)).await else {
                break;
            };
            // The chunk itself, however small; its bytes count as they are written.
            decryptor.turn.spend(0);
            let chunk = chunk.map_err(|error| Error::Io(io::Error::other(error)))?;
            if let Err(error) = decryptor.write_all(chunk.as_ref()).await {
                return Err(decryptor.core.too_large().unwrap_or(Error::Io(error)));
            }
        }
        let file = decryptor.finish().await?;
        settle(temporary, file, path).await
    }

    /// Decrypts everything the async `reader` yields into the file at
    /// `path`, which appears only once the file is verified; the guarantees
    /// of [`FileCredentials::decrypt_chunks_to_path`]: dropped, it leaves
    /// nothing, and one poll takes at most 64 KiB or 64 reads of the
    /// reader, so a reader that is always ready cannot hold the executor.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use telegram_passport::{client, Error, FileCredentials};
    ///
    /// let encrypted = client::encrypt(&[0xd8; 5000])?;
    /// let credentials = FileCredentials::new(encrypted.hash, encrypted.secret);
    /// let folder = std::env::temp_dir().join(format!("passport-doc-read-{}", std::process::id()));
    /// std::fs::create_dir_all(&folder)?;
    /// let path = folder.join("scan.jpg");
    ///
    /// // One flipped byte: refused, and nothing is left behind.
    /// let mut tampered = encrypted.data.clone();
    /// tampered[100] ^= 1;
    /// let refused = credentials.decrypt_async_read_to_path(&tampered[..], &path).await;
    /// assert!(matches!(refused, Err(Error::Decryption(_))));
    /// assert_eq!(std::fs::read_dir(&folder)?.count(), 0);
    ///
    /// credentials.decrypt_async_read_to_path(&encrypted.data[..], &path).await?;
    /// assert_eq!(std::fs::read(&path)?, [0xd8; 5000]);
    /// # std::fs::remove_dir_all(&folder)?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn decrypt_async_read_to_path<R: AsyncRead + Unpin>(&self, mut reader: R, path: &Path) -> Result<()> {
        let (temporary, file) = temporary_file(path)?;
        let mut decryptor = self.async_decryptor(file)?;
        if let Err(error) = tokio::io::copy(&mut reader, &mut decryptor).await {
            return Err(decryptor.core.too_large().unwrap_or(Error::Io(error)));
        }
        let file = decryptor.finish().await?;
        settle(temporary, file, path).await
    }
}

/// The temporary file, created here and not on the blocking pool so that
/// it belongs to the future from the start (it removes itself when
/// dropped), and an async handle on it to write through.
fn temporary_file(path: &Path) -> Result<(NamedTempFile, tokio::fs::File)> {
    let temporary = temporary_beside(path)?;
    let handle = temporary.as_file().try_clone().map_err(Error::Io)?;
    Ok((temporary, tokio::fs::File::from_std(handle)))
}

/// Waits for the verified file's writes and its sync to disk, then renames
/// it into place.
async fn settle(temporary: NamedTempFile, file: tokio::fs::File, path: &Path) -> Result<()> {
    file.sync_all().await.map_err(Error::Io)?;
    drop(file);
    // No await from here on: the rename happens in the poll that returns
    // `Ok`, so a future dropped before that poll has published nothing.
    publish(temporary, path)
}

impl<W: AsyncWrite + Unpin> AsyncFileDecryptor<W> {
    /// Accepts files up to `bytes` long instead of the credentials'
    /// [`Limits::file`](crate::Limits::file); more is refused with
    /// [`Error::TooLarge`] before it is buffered.
    pub fn with_max_size(self, bytes: u64) -> Self {
        Self {
            core: self.core.with_max_size(bytes),
            ..self
        }
    }

    /// Moves the plaintext waiting for the sink into it.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let pending = self.core.sink_mut();
        // Wiping covers the buffer's whole capacity: only after plaintext,
        // not on every write of a piece.
        if pending.bytes.is_empty() {
            return Poll::Ready(Ok(()));
        }
        while !pending.rest().is_empty() {
            match ready!(Pin::new(&mut self.sink).poll_write(cx, pending.rest()))? {
                0 => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                written => pending.sent += written,
            }
        }
        pending.clear();
        Poll::Ready(Ok(()))
    }

    /// Writes the last plaintext, checks the hash and the padding, flushes
    /// the sink and returns it only if the file is verified. On failure the
    /// sink is dropped: discard what it got.
    pub async fn finish(mut self) -> Result<W> {
        // The last chunk's work is a poll's worth of its own.
        poll_fn(|cx| self.turn.poll_proceed(cx)).await;
        poll_fn(|cx| self.poll_drain(cx)).await.map_err(Error::Io)?;
        let Self { core, mut sink, .. } = self;
        let mut tail = core.finish()?;
        sink.write_all(tail.rest()).await.map_err(Error::Io)?;
        tail.clear();
        sink.flush().await.map_err(Error::Io)?;
        Ok(sink)
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for AsyncFileDecryptor<W> {
    /// Takes encrypted bytes; plaintext goes to the sink a chunk at a time.
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, input: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.turn.poll_proceed(cx));
        ready!(this.poll_drain(cx))?;
        let taken = this.core.write(this.turn.portion(input))?;
        this.turn.spend(taken);
        if !this.core.sink_mut().rest().is_empty() {
            this.turn.end();
        }
        Poll::Ready(Ok(taken))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.sink).poll_flush(cx)
    }

    /// Flushes only: the sink is not shut down, since
    /// [`finish`](AsyncFileDecryptor::finish) has the last bytes to write.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use crate::client;

    fn encrypted(len: usize) -> (Vec<u8>, Vec<u8>, FileCredentials) {
        let plain: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let sealed = client::encrypt(&plain).unwrap();
        let credentials = FileCredentials::new(sealed.hash, sealed.secret);
        (plain, sealed.data, credentials)
    }

    #[tokio::test]
    async fn its_debug_shows_the_progress_only() {
        let (plain, data, credentials) = encrypted(200_000);
        let mut sink = credentials.async_decryptor(Vec::new()).unwrap();
        assert_eq!(
            format!("{sink:?}"),
            "AsyncFileDecryptor { core: FileDecryptor { decrypted: 0, .. }, .. }"
        );
        sink.write_all(&data).await.unwrap();
        let whole_chunks = data.len() / 65536 * 65536;
        assert_eq!(
            format!("{sink:?}"),
            format!("AsyncFileDecryptor {{ core: FileDecryptor {{ decrypted: {whole_chunks}, .. }}, .. }}")
        );
        assert_eq!(sink.finish().await.unwrap(), plain);
    }

    /// A sink that notes what it got and how often it was flushed or shut down.
    #[derive(Default)]
    struct Recorder {
        bytes: Vec<u8>,
        flushes: usize,
        shutdowns: usize,
    }

    impl AsyncWrite for Recorder {
        fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, bytes: &[u8]) -> Poll<io::Result<usize>> {
            self.get_mut().bytes.extend_from_slice(bytes);
            Poll::Ready(Ok(bytes.len()))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.get_mut().flushes += 1;
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.get_mut().shutdowns += 1;
            Poll::Ready(Ok(()))
        }
    }

    /// Flushing hands the decrypted plaintext to the sink and flushes it;
    /// shutting down does the same and leaves the sink open for `finish`.
    #[tokio::test]
    async fn flush_and_shutdown_reach_the_sink_and_keep_it_open() {
        let (plain, data, credentials) = encrypted(200_000);
        let mut sink = credentials.async_decryptor(Recorder::default()).unwrap();
        // One whole chunk: decrypted, its plaintext waiting for the sink.
        sink.write_all(&data[..65536]).await.unwrap();
        assert!(sink.sink.bytes.is_empty());
        sink.flush().await.unwrap();
        let delivered = sink.sink.bytes.len();
        assert!(
            delivered > 0 && plain.starts_with(&sink.sink.bytes),
            "{delivered} bytes"
        );
        assert_eq!((sink.sink.flushes, sink.sink.shutdowns), (1, 0));

        sink.write_all(&data[65536..131072]).await.unwrap();
        sink.shutdown().await.unwrap();
        assert!(sink.sink.bytes.len() > delivered && plain.starts_with(&sink.sink.bytes));
        assert_eq!((sink.sink.flushes, sink.sink.shutdowns), (2, 0));

        sink.write_all(&data[131072..]).await.unwrap();
        let recorder = sink.finish().await.unwrap();
        assert_eq!(recorder.bytes, plain);
        assert_eq!(recorder.shutdowns, 0);
    }

    /// Plaintext that went out to the sink is wiped from the working buffer
    /// at once, so at most one chunk of it is ever held, not the file.
    #[tokio::test]
    async fn plaintext_that_went_out_is_not_kept() {
        let (plain, data, credentials) = encrypted(300_000);
        let mut sink = credentials.async_decryptor(Vec::new()).unwrap();
        for piece in data.chunks(1000) {
            sink.write_all(piece).await.unwrap();
            let pending = sink.core.sink_mut();
            assert!(pending.bytes.len() <= 65536, "{} bytes held", pending.bytes.len());
        }
        sink.flush().await.unwrap();
        let pending = sink.core.sink_mut();
        assert_eq!((pending.bytes.len(), pending.sent), (0, 0));
        assert_eq!(sink.finish().await.unwrap(), plain);
    }
}
