//! Async file decryption: the same plaintext as the synchronous core for
//! any chunking and any sink speed; a sink handed back only once verified;
//! a path that holds the verified file or nothing, whatever went wrong;
//! the size limit refused before it is exceeded; a future dropped at any
//! point leaves nothing; no input, however ready, keeps the runtime's thread.

use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use telegram_passport::{client, Error, FileCredentials, Limits};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

fn encrypted(len: usize) -> (Vec<u8>, Vec<u8>, FileCredentials) {
    let plain: Vec<u8> = (0..len).map(|i| (i * 31 % 253) as u8).collect();
    let sealed = client::encrypt(&plain).unwrap();
    let credentials = FileCredentials::new(sealed.hash, sealed.secret.clone());
    (plain, sealed.data, credentials)
}

/// A stream of chunks, as a download library yields them; counts what it gave.
struct Chunks {
    items: std::vec::IntoIter<Result<Vec<u8>, io::Error>>,
    given: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl futures_core::Stream for Chunks {
    type Item = Result<Vec<u8>, io::Error>;
    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = self.items.next();
        if let Some(Ok(chunk)) = &next {
            self.given
                .fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
        }
        Poll::Ready(next)
    }
}

fn chunks(items: Vec<Result<Vec<u8>, io::Error>>) -> (Chunks, std::sync::Arc<std::sync::atomic::AtomicU64>) {
    let given = std::sync::Arc::default();
    let stream = Chunks {
        items: items.into_iter(),
        given: std::sync::Arc::clone(&given),
    };
    (stream, given)
}

fn pieces(data: &[u8], size: usize) -> Vec<Result<Vec<u8>, io::Error>> {
    data.chunks(size).map(|piece| Ok(piece.to_vec())).collect()
}

/// A sink that takes at most 1000 bytes a write and makes every other write wait.
#[derive(Default)]
struct Slow {
    got: Vec<u8>,
    turn: bool,
}

impl AsyncWrite for Slow {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bytes: &[u8]) -> Poll<io::Result<usize>> {
        self.turn = !self.turn;
        if self.turn {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let taken = bytes.len().min(1000);
        self.got.extend_from_slice(&bytes[..taken]);
        Poll::Ready(Ok(taken))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn entries(folder: &Path) -> Vec<String> {
    std::fs::read_dir(folder)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[tokio::test]
async fn any_chunking_into_any_sink_gives_the_synchronous_plaintext() {
    for len in [0, 1, 15, 16, 65_535, 65_536, 65_537, 1_000_003] {
        let (plain, data, credentials) = encrypted(len);
        for piece in [1usize, 1500, 65_536, 1 << 20] {
            if piece == 1 && len > 70_000 {
                continue;
            }
            let mut sink = credentials.async_decryptor(Vec::new()).unwrap();
            for chunk in data.chunks(piece) {
                sink.write_all(chunk).await.unwrap();
            }
            assert_eq!(sink.finish().await.unwrap(), plain, "{len} in pieces of {piece}");
        }
        let mut slow = credentials.async_decryptor(Slow::default()).unwrap();
        slow.write_all(&data).await.unwrap();
        slow.flush().await.unwrap();
        assert_eq!(slow.finish().await.unwrap().got, plain, "{len} into a slow sink");
    }
}

#[tokio::test]
async fn a_sink_comes_back_only_verified() {
    let (_, data, credentials) = encrypted(200_000);
    let mut tampered = data.clone();
    tampered[150_000] ^= 0x40;
    let mut sink = credentials.async_decryptor(Vec::new()).unwrap();
    sink.write_all(&tampered).await.unwrap();
    assert!(matches!(sink.finish().await, Err(Error::Decryption(_))));

    let mut sink = credentials.async_decryptor(Vec::new()).unwrap();
    sink.write_all(&data[..data.len() - 16]).await.unwrap();
    assert!(matches!(sink.finish().await, Err(Error::Decryption(_))));
}

#[tokio::test]
async fn a_path_holds_the_verified_file_or_nothing() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("scan.jpg");
    let (plain, data, credentials) = encrypted(300_000);

    let mut tampered = data.clone();
    tampered[299_000] ^= 1;
    let truncated = data[..data.len() - 32].to_vec();
    for bad in [tampered, truncated] {
        let (stream, _) = chunks(pieces(&bad, 16_384));
        let refused = credentials.decrypt_chunks_to_path(stream, &path).await;
        assert!(matches!(refused, Err(Error::Decryption(_))), "{refused:?}");
        assert_eq!(entries(folder.path()), Vec::<String>::new());
        let refused = credentials.decrypt_async_read_to_path(&bad[..], &path).await;
        assert!(matches!(refused, Err(Error::Decryption(_))), "{refused:?}");
        assert_eq!(entries(folder.path()), Vec::<String>::new());
    }

    // The download fails part-way: its error, with the cause as source.
    let mut failing = pieces(&data[..100_000], 10_000);
    failing.push(Err(io::Error::new(io::ErrorKind::ConnectionReset, "peer went away")));
    let (stream, _) = chunks(failing);
    let Err(Error::Io(error)) = credentials.decrypt_chunks_to_path(stream, &path).await else {
        panic!("an I/O error")
    };
    assert!(error.to_string().contains("peer went away"), "{error}");
    assert_eq!(entries(folder.path()), Vec::<String>::new());

    let (stream, _) = chunks(pieces(&data, 16_384));
    credentials.decrypt_chunks_to_path(stream, &path).await.unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), plain);
    assert_eq!(entries(folder.path()), ["scan.jpg"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test]
async fn more_than_the_limit_is_refused_before_it_is_taken() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("big.jpg");
    let (_, data, credentials) = encrypted(1 << 20);
    let credentials = credentials.with_limits(&Limits {
        file: 100_000,
        ..Limits::default()
    });
    let (stream, given) = chunks(pieces(&data, 16_384));
    let refused = credentials.decrypt_chunks_to_path(stream, &path).await;
    assert!(
        matches!(refused, Err(Error::TooLarge { limit: 100_000, .. })),
        "{refused:?}"
    );
    // The stream was not read on past the chunk that crossed the limit.
    let pulled = given.load(std::sync::atomic::Ordering::Relaxed);
    assert!(pulled <= 100_000 + 16_384, "{pulled} bytes pulled");
    assert_eq!(entries(folder.path()), Vec::<String>::new());

    let refused = credentials.decrypt_async_read_to_path(&data[..], &path).await;
    assert!(
        matches!(refused, Err(Error::TooLarge { limit: 100_000, .. })),
        "{refused:?}"
    );
    assert_eq!(entries(folder.path()), Vec::<String>::new());

    let mut sink = credentials.async_decryptor(Vec::new()).unwrap().with_max_size(50_000);
    assert!(sink.write_all(&data[..60_000]).await.is_err());
    assert!(matches!(
        sink.finish().await,
        Err(Error::TooLarge { limit: 50_000, .. })
    ));
}

/// A download abandoned part-way (the future dropped) leaves nothing.
#[tokio::test]
async fn an_abandoned_download_leaves_nothing() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("selfie.jpg");
    let (_, data, credentials) = encrypted(500_000);
    struct Stalls(Vec<Vec<u8>>);
    impl futures_core::Stream for Stalls {
        type Item = Result<Vec<u8>, io::Error>;
        fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            match self.0.pop() {
                Some(chunk) => Poll::Ready(Some(Ok(chunk))),
                None => Poll::Pending,
            }
        }
    }
    let mut first: Vec<Vec<u8>> = data[..200_000].chunks(20_000).map(<[u8]>::to_vec).collect();
    first.reverse();
    let download = credentials.decrypt_chunks_to_path(Stalls(first), &path);
    let waited = tokio::time::timeout(std::time::Duration::from_millis(300), download).await;
    assert!(waited.is_err(), "the stalled download cannot finish");
    assert_eq!(entries(folder.path()), Vec::<String>::new());
}

/// Polls a future until it completes or `at` passes, then drops it. It
/// polls again at once rather than on a timer's millisecond ticks, so drop
/// points fall anywhere, also between a blocking task's end and the poll
/// that would see it.
struct DropAt<F> {
    inner: Option<Pin<Box<F>>>,
    at: Instant,
}

impl<F: Future> Future for DropAt<F> {
    type Output = Option<F::Output>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        if let Poll::Ready(output) = inner.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        if Instant::now() >= self.at {
            self.inner = None;
            return Poll::Ready(None);
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// A download that gives one piece every `gap` (waking itself meanwhile,
/// so that no timer rounds it to milliseconds) and notes when it ended.
struct Paced {
    pieces: std::collections::VecDeque<Vec<u8>>,
    gap: Duration,
    next_at: Instant,
    ended: Arc<Mutex<Option<Instant>>>,
}

impl Paced {
    fn new(data: &[u8], piece: usize, gap: Duration) -> (Self, Arc<Mutex<Option<Instant>>>) {
        let ended = Arc::default();
        let paced = Self {
            pieces: data.chunks(piece).map(<[u8]>::to_vec).collect(),
            gap,
            next_at: Instant::now(),
            ended: Arc::clone(&ended),
        };
        (paced, ended)
    }
}

impl futures_core::Stream for Paced {
    type Item = Result<Vec<u8>, io::Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let now = Instant::now();
        if now < self.next_at {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.next_at = now + self.gap;
        let next = self.pieces.pop_front();
        if next.is_none() {
            self.ended.lock().unwrap().get_or_insert(now);
        }
        Poll::Ready(next.map(Ok))
    }
}

/// The same pacing as an `AsyncRead`.
struct PacedReader {
    stream: Paced,
    left: Vec<u8>,
}

impl AsyncRead for PacedReader {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if self.left.is_empty() {
            match futures_core::Stream::poll_next(Pin::new(&mut self.stream), cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Ready(Some(piece)) => self.left = piece?,
            }
        }
        let taken = self.left.len().min(buf.remaining());
        buf.put_slice(&self.left[..taken]);
        self.left.drain(..taken);
        Poll::Ready(Ok(()))
    }
}

#[derive(Clone, Copy, Debug)]
enum Entry {
    Chunks,
    AsyncRead,
}

type Runtime = fn() -> tokio::runtime::Runtime;

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

struct Run {
    /// `None` if the future was dropped.
    outcome: Option<Result<(), Error>>,
    /// How long after the start the download ended, if it did.
    ended: Option<Duration>,
    took: Duration,
}

/// One decryption into `path` on a runtime of its own, dropped at `at`
/// after the start unless it completed. Checks the folder right after the
/// drop, and again once the runtime is shut down, which waits for every
/// task on its blocking pool: whatever the future started has ended then.
fn run_once(
    runtime: Runtime,
    entry: Entry,
    data: &[u8],
    credentials: &FileCredentials,
    path: &Path,
    at: Duration,
    check: impl Fn(&Option<Result<(), Error>>),
) -> Run {
    let runtime = runtime();
    let (stream, ended) = Paced::new(data, 16_384, Duration::from_micros(400));
    let credentials = credentials.clone();
    let target = path.to_owned();
    let start = Instant::now();
    let download = async move {
        match entry {
            Entry::Chunks => credentials.decrypt_chunks_to_path(stream, &target).await,
            Entry::AsyncRead => {
                let reader = PacedReader {
                    stream,
                    left: Vec::new(),
                };
                credentials.decrypt_async_read_to_path(reader, &target).await
            }
        }
    };
    let outcome = runtime
        .block_on(runtime.spawn(DropAt {
            inner: Some(Box::pin(download)),
            at: start + at,
        }))
        .unwrap();
    let took = start.elapsed();
    check(&outcome);
    drop(runtime);
    check(&outcome);
    let ended = ended.lock().unwrap().map(|ended| ended - start);
    Run { outcome, ended, took }
}

/// Drops the download at 200 points: half spread over the whole of it, half
/// from the moment the stream ended (the check of the hash, the sync to
/// disk, the rename) to just past the end. Either the future completed, and
/// the verified file is at the path, or it was dropped, and the path holds
/// what it held before (nothing, or an older file) with no temporary file
/// beside it, right after the drop and once all it started has ended.
fn dropped_anywhere_it_leaves_nothing(runtime: Runtime, entry: Entry) {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("scan.jpg");
    let (plain, data, credentials) = encrypted(200_000);
    let older = b"the file an earlier call left".to_vec();
    let never = Duration::from_secs(60);

    // Where the download ends and the call returns, from three runs now:
    // the machine's load moves both.
    let calibrate = || {
        let mut calibration: Vec<(Duration, Duration)> = (0..3)
            .map(|_| {
                let run = run_once(runtime, entry, &data, &credentials, &path, never, |_| {});
                assert!(matches!(run.outcome, Some(Ok(()))), "{:?}", run.outcome);
                std::fs::remove_file(&path).unwrap();
                (run.took, run.ended.unwrap())
            })
            .collect();
        calibration.sort();
        calibration[1]
    };
    let (took, ended) = calibrate();
    let tail = |took: Duration, ended: Duration| (took + took / 10).saturating_sub(ended);
    let mut points: Vec<Duration> = (0..100u32)
        .map(|i| took * i / 100)
        .chain((0..100u32).map(|i| ended + tail(took, ended) * i / 100))
        .collect();

    let (mut completed, mut dropped, mut dropped_after_the_last_chunk) = (0, 0, 0);
    let mut i = 0;
    // A loaded machine can move the end past most points aimed at it: then
    // more points at the end as it is now, a few rounds at most.
    for round in 0..6 {
        if round > 0 {
            if dropped_after_the_last_chunk >= 10 {
                break;
            }
            let (took, ended) = calibrate();
            points = (0..50u32).map(|j| ended + tail(took, ended) * j / 50).collect();
        }
        for at in points.drain(..) {
            i += 1;
            let before = (i % 2 == 1).then_some(older.as_slice());
            if let Some(before) = before {
                std::fs::write(&path, before).unwrap();
            }
            let check = |outcome: &Option<Result<(), Error>>| {
                let what = format!("{entry:?}, dropped at {at:?} (point {i})");
                match outcome {
                    Some(Ok(())) => {
                        assert_eq!(entries(folder.path()), ["scan.jpg"], "{what}");
                        assert!(std::fs::read(&path).unwrap() == plain, "{what}: the verified file");
                    }
                    None => match before {
                        Some(before) => {
                            assert_eq!(entries(folder.path()), ["scan.jpg"], "{what}");
                            assert!(std::fs::read(&path).unwrap() == before, "{what}: the older file stays");
                        }
                        None => assert_eq!(entries(folder.path()), Vec::<String>::new(), "{what}"),
                    },
                    Some(Err(error)) => panic!("{what}: {error:?}"),
                }
            };
            let run = run_once(runtime, entry, &data, &credentials, &path, at, check);
            match run.outcome {
                Some(_) => completed += 1,
                None if run.ended.is_some() => dropped_after_the_last_chunk += 1,
                None => dropped += 1,
            }
            let _ = std::fs::remove_file(&path);
        }
    }
    eprintln!(
        "{entry:?}: {completed} completed, {dropped} dropped during the download, \
         {dropped_after_the_last_chunk} after its last chunk (a run took {took:?})"
    );
    assert!(
        completed > 0 && dropped > 0,
        "the drop points cover the download and its end"
    );
    assert!(
        dropped_after_the_last_chunk >= 10,
        "the drop points reach the check and the rename"
    );
}

#[test]
fn dropped_anywhere_on_a_current_thread_runtime_it_leaves_nothing() {
    dropped_anywhere_it_leaves_nothing(current_thread, Entry::Chunks);
    dropped_anywhere_it_leaves_nothing(current_thread, Entry::AsyncRead);
}

#[test]
fn dropped_anywhere_on_a_multi_thread_runtime_it_leaves_nothing() {
    dropped_anywhere_it_leaves_nothing(multi_thread, Entry::Chunks);
    dropped_anywhere_it_leaves_nothing(multi_thread, Entry::AsyncRead);
}

/// An input that is always ready and never ends: `piece` bytes each time.
#[derive(Clone, Copy)]
struct Endless {
    piece: usize,
}

impl futures_core::Stream for Endless {
    type Item = Result<&'static [u8], io::Error>;
    fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(Some(Ok(&[7; 16][..self.piece])))
    }
}

impl AsyncRead for Endless {
    fn poll_read(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let piece = self.piece.min(buf.remaining());
        buf.put_slice(&[7; 16][..piece]);
        Poll::Ready(Ok(()))
    }
}

/// Runs `work` inside a 200 ms `tokio::time::timeout` on a current-thread
/// runtime, on a thread of its own: the timeout can fire only if `work`
/// gives the thread back. Returns how long until it fired.
fn timed_out_after<F>(work: impl FnOnce() -> F + Send + 'static) -> Duration
where
    F: Future,
{
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = current_thread();
        let start = Instant::now();
        let waited = runtime.block_on(async { tokio::time::timeout(Duration::from_millis(200), work()).await });
        sender.send((waited.is_err(), start.elapsed())).unwrap();
    });
    // If the runtime never gets its thread back, that thread spins on until
    // the test process ends.
    let (fired, after) = receiver
        .recv_timeout(Duration::from_secs(10))
        .expect("the timeout did not fire within 10 s: the runtime was starved");
    assert!(fired, "an endless input cannot complete");
    after
}

/// Always-ready input, however small its pieces, gives the runtime back:
/// a 200 ms timeout fires within a second, and the abandoned path is empty.
#[test]
fn an_endless_ready_input_lets_a_timeout_fire() {
    let (_, _, credentials) = encrypted(16);
    // Large enough that the size limit never ends it first.
    let credentials = credentials.with_limits(&Limits {
        file: 1 << 40,
        ..Limits::default()
    });
    for piece in [0, 1, 16] {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("scan.jpg");
        let (chunks, target) = (credentials.clone(), path.clone());
        let after =
            timed_out_after(move || async move { chunks.decrypt_chunks_to_path(Endless { piece }, &target).await });
        assert!(after < Duration::from_secs(1), "chunks of {piece} bytes: {after:?}");
        assert_eq!(entries(folder.path()), Vec::<String>::new());

        let sink = credentials.clone();
        let after = timed_out_after(move || async move {
            let mut sink = sink.async_decryptor(tokio::io::sink()).unwrap();
            loop {
                // `write`, not `write_all`, which would skip an empty piece.
                let taken = sink.write(&[7; 16][..piece]).await.unwrap();
                assert_eq!(taken, piece);
            }
        });
        assert!(after < Duration::from_secs(1), "writes of {piece} bytes: {after:?}");

        if piece > 0 {
            let (reader, target) = (credentials.clone(), path.clone());
            let after =
                timed_out_after(
                    move || async move { reader.decrypt_async_read_to_path(Endless { piece }, &target).await },
                );
            assert!(after < Duration::from_secs(1), "reads of {piece} bytes: {after:?}");
            assert_eq!(entries(folder.path()), Vec::<String>::new());
        }
    }
}

/// What one poll of the whole future took from an input, at most.
struct Taken {
    pieces: u64,
    bytes: u64,
    polls: u64,
}

/// Counts what a stream gives.
struct Counting<S> {
    inner: S,
    given: Arc<(AtomicU64, AtomicU64)>,
}

impl<S: futures_core::Stream<Item = Result<Vec<u8>, io::Error>> + Unpin> futures_core::Stream for Counting<S> {
    type Item = S::Item;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let next = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(Some(Ok(piece))) = &next {
            self.given.0.fetch_add(1, Ordering::Relaxed);
            self.given.1.fetch_add(piece.len() as u64, Ordering::Relaxed);
        }
        next
    }
}

/// Polls `future` to the end on a current-thread runtime, noting the most
/// any one poll counted in `given` (pieces, bytes).
fn most_per_poll<F: Future>(given: &Arc<(AtomicU64, AtomicU64)>, future: F) -> (F::Output, Taken) {
    let mut future = pin!(future);
    let mut most = Taken {
        pieces: 0,
        bytes: 0,
        polls: 0,
    };
    let output = current_thread().block_on(std::future::poll_fn(|cx| {
        let (pieces, bytes) = (given.0.load(Ordering::Relaxed), given.1.load(Ordering::Relaxed));
        let poll = future.as_mut().poll(cx);
        most.pieces = most.pieces.max(given.0.load(Ordering::Relaxed) - pieces);
        most.bytes = most.bytes.max(given.1.load(Ordering::Relaxed) - bytes);
        most.polls += 1;
        poll
    }));
    (output, most)
}

/// The documented bound: one poll takes at most 64 chunks, empty ones
/// counted, and at most 64 KiB, and then the future yields.
#[test]
fn one_poll_takes_at_most_64_pieces_or_64_kib() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("scan.jpg");
    let (plain, data, credentials) = encrypted(100_000);

    // Ten thousand empty chunks before the file, then the file a byte at a time.
    let mut items: Vec<Result<Vec<u8>, io::Error>> = (0..10_000).map(|_| Ok(Vec::new())).collect();
    items.extend(pieces(&data, 1));
    let count = items.len() as u64;
    let given = Arc::default();
    let stream = Counting {
        inner: chunks(items).0,
        given: Arc::clone(&given),
    };
    let (result, most) = most_per_poll(&given, credentials.decrypt_chunks_to_path(stream, &path));
    result.unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), plain);
    assert!(most.pieces <= 64, "{} chunks in one poll", most.pieces);
    assert!(most.polls >= count / 64, "{} polls", most.polls);
    // And not a yield for every chunk: each costs a trip through the scheduler.
    assert!(most.polls <= count / 8, "{} polls for {count} chunks", most.polls);

    // Large chunks: at most 64 KiB of them in one poll, beyond the one being taken in.
    let given = Arc::default();
    let stream = Counting {
        inner: chunks(pieces(&data, 10_000)).0,
        given: Arc::clone(&given),
    };
    let (result, most) = most_per_poll(&given, credentials.decrypt_chunks_to_path(stream, &path));
    result.unwrap();
    assert!(most.bytes <= 64 * 1024 + 10_000, "{} bytes in one poll", most.bytes);
}

/// The sink's side of the bound: one write of a whole megabyte is taken in
/// 64 KiB at a time, a poll each, even into a sink that never waits.
#[test]
fn a_sink_takes_at_most_64_kib_a_poll() {
    let (plain, data, credentials) = encrypted(1 << 20);
    let given = Arc::<(AtomicU64, AtomicU64)>::default();
    let counted = Arc::clone(&given);
    let (result, most) = most_per_poll(&given, async move {
        let mut sink = credentials.async_decryptor(Vec::new())?;
        let mut rest = &data[..];
        while !rest.is_empty() {
            let taken = sink.write(rest).await.map_err(Error::Io)?;
            counted.0.fetch_add(1, Ordering::Relaxed);
            counted.1.fetch_add(taken as u64, Ordering::Relaxed);
            rest = &rest[taken..];
        }
        sink.finish().await
    });
    assert!(result.unwrap() == plain);
    assert!(most.bytes <= 64 * 1024, "{} bytes in one poll", most.bytes);
    assert!(most.polls >= 16, "{} polls", most.polls);
    // And a whole 64 KiB a poll, not a trip through the scheduler every
    // kilobyte: 16 chunks, then the end.
    assert_eq!(most.bytes, 64 * 1024, "{} bytes in one poll", most.bytes);
    assert!(most.polls <= 16 + 4, "{} polls", most.polls);
}

/// A file of a decrypted passport, through its `FileRef`: the sink, a
/// stream of chunks and a reader each give its plaintext, verified.
#[tokio::test]
async fn a_passports_file_decrypts_through_its_reference_every_async_way() {
    use telegram_passport::{ElementType, FileSlot, NonceCheck, PrivateKey};
    let key = PrivateKey::generate().unwrap();
    let plain: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    let sealed = client::PassportBuilder::new()
        .file(ElementType::UtilityBill, FileSlot::Files, "bill", plain.clone())
        .seal(&key.public_key(), "n")
        .unwrap();
    let passport = telegram_passport::decrypt(&key, &sealed.passport_data, NonceCheck::Skip).unwrap();
    let file = passport.address_documents().next().unwrap().files()[0].clone();
    let data = sealed.files["bill"].clone();

    let mut sink = file.async_decryptor(Vec::new()).unwrap();
    sink.write_all(&data).await.unwrap();
    assert_eq!(sink.finish().await.unwrap(), plain);

    let folder = tempfile::tempdir().unwrap();
    let (stream, _) = chunks(pieces(&data, 4096));
    let from_chunks = folder.path().join("from-chunks.jpg");
    file.decrypt_chunks_to_path(stream, &from_chunks).await.unwrap();
    assert_eq!(std::fs::read(&from_chunks).unwrap(), plain);

    let from_reader = folder.path().join("from-reader.jpg");
    file.decrypt_async_read_to_path(&data[..], &from_reader).await.unwrap();
    assert_eq!(std::fs::read(&from_reader).unwrap(), plain);
}
