//! How long one poll of an async file decryption keeps the executor: a
//! 10 MiB file decrypted into a path from a stream of chunks (as reqwest's
//! `bytes_stream()` yields them, as one large chunk, as a million empty
//! chunks before the data, and one byte at a time), and into an in-memory
//! sink that never makes the writer wait. Every stream is always ready, so
//! only the decryptor's own yielding gives the executor its thread back.
//! Each poll of the whole future is timed; prints the longest, the median,
//! the last (where a path function renames its file into place) and how
//! many there were.
//!
//! ```text
//! cargo run --release --features tokio --example async_poll
//! ```

use telegram_passport_dev_support::cli;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use telegram_passport::{client, FileCredentials};
use tokio::io::AsyncWriteExt;

const SIZE: usize = 10 << 20;

const USAGE: &str = "\
Usage: async_poll [--help]

Times every poll of a 10 MiB async file decryption (into a path from a
stream of 16 KiB chunks, of one 10 MiB chunk, of a million empty chunks
then 16 KiB ones, and of 1-byte chunks; one write into an in-memory sink)
and prints the longest, the median, the last (the rename into place) and
how many there were.
Build with --release for figures that mean anything.";

type Failure = Box<dyn std::error::Error>;

/// A future whose every poll is timed.
struct Timed<F> {
    inner: Pin<Box<F>>,
    polls: Vec<Duration>,
}

impl<F: Future> Future for Timed<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let start = Instant::now();
        let result = self.inner.as_mut().poll(cx);
        self.polls.push(start.elapsed());
        result
    }
}

async fn timed<F: Future>(future: F) -> (F::Output, Vec<Duration>) {
    let mut timed = Timed {
        inner: Box::pin(future),
        polls: Vec::new(),
    };
    let output = (&mut timed).await;
    (output, timed.polls)
}

/// A download body that is always ready: `empty` empty chunks, then the
/// data in pieces of `piece` bytes.
struct Chunks<'a> {
    empty: usize,
    rest: &'a [u8],
    piece: usize,
}

impl<'a> futures_core::Stream for Chunks<'a> {
    type Item = Result<&'a [u8], std::io::Error>;
    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.empty > 0 {
            self.empty -= 1;
            return Poll::Ready(Some(Ok(&[])));
        }
        if self.rest.is_empty() {
            return Poll::Ready(None);
        }
        let (chunk, rest) = self.rest.split_at(self.piece.min(self.rest.len()));
        self.rest = rest;
        Poll::Ready(Some(Ok(chunk)))
    }
}

/// The last poll is where a path function renames its file into place.
fn report(what: &str, mut polls: Vec<Duration>) {
    let last = polls.last().copied().unwrap_or_default();
    polls.sort();
    let longest = polls.last().copied().unwrap_or_default();
    let median = polls.get(polls.len() / 2).copied().unwrap_or_default();
    let ms = |poll: Duration| poll.as_secs_f64() * 1e3;
    println!(
        "{what:<50} longest poll {:>7.3} ms, median {:>6.3} ms, last {:>6.3} ms, {} polls",
        ms(longest),
        ms(median),
        ms(last),
        polls.len()
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Failure> {
    cli::no_arguments("async_poll", USAGE);
    let plain: Vec<u8> = (0..SIZE).map(|i| (i * 7 % 251) as u8).collect();
    let sealed = client::encrypt(&plain)?;
    let credentials = FileCredentials::new(sealed.hash, sealed.secret.clone());
    let folder = tempfile::tempdir()?;
    println!("a {} MiB file, {}", SIZE >> 20, telegram_passport::backend_name());

    for (what, empty, piece) in [
        ("stream of 16 KiB chunks into a path", 0, 16 << 10),
        ("stream of one 10 MiB chunk into a path", 0, SIZE + 1024),
        ("10^6 empty chunks, then 16 KiB ones, into a path", 1_000_000, 16 << 10),
        ("stream of 1-byte chunks into a path", 0, 1),
    ] {
        // A new name each time, as downloads go: the rename replaces nothing.
        let path = folder.path().join(format!("{empty}-{piece}.jpg"));
        let stream = Chunks {
            empty,
            rest: &sealed.data,
            piece,
        };
        let (result, polls) = timed(credentials.decrypt_chunks_to_path(stream, &path)).await;
        result?;
        if std::fs::read(&path)? != plain {
            return Err("the file differs".into());
        }
        report(what, polls);
    }

    let (result, polls) = timed(async {
        let mut sink = credentials.async_decryptor(Vec::with_capacity(SIZE))?;
        sink.write_all(&sealed.data)
            .await
            .map_err(telegram_passport::Error::Io)?;
        sink.finish().await
    })
    .await;
    if result? != plain {
        return Err("the plaintext differs".into());
    }
    report("one 10 MiB write into a Vec sink", polls);
    Ok(())
}
