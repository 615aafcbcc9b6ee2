//! How long one poll of an async file decryption keeps the executor: a
//! 10 MiB file decrypted into a path from a stream of chunks (as reqwest's
//! `bytes_stream()` yields them, and as one large chunk), and into an
//! in-memory sink that never makes the writer wait. Each poll of the whole
//! future is timed; prints the longest, the median and how many there were.
//!
//! ```text
//! cargo run --release --features tokio --example async_poll
//! ```

#[path = "support/cli.rs"]
mod cli;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use telegram_passport::{client, FileCredentials};
use tokio::io::AsyncWriteExt;

const SIZE: usize = 10 << 20;

const USAGE: &str = "\
Usage: async_poll [--help]

Times every poll of a 10 MiB async file decryption (a stream of 16 KiB
chunks into a path, one 10 MiB chunk into a path, one write into an
in-memory sink) and prints the longest, the median and how many there were.
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

/// A list of chunks as a `Stream`, the shape of a download body.
struct Chunks(std::vec::IntoIter<Vec<u8>>);

impl futures_core::Stream for Chunks {
    type Item = Result<Vec<u8>, std::io::Error>;
    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(self.0.next().map(Ok))
    }
}

fn report(what: &str, mut polls: Vec<Duration>) {
    polls.sort();
    let longest = polls.last().copied().unwrap_or_default();
    let median = polls.get(polls.len() / 2).copied().unwrap_or_default();
    println!(
        "{what:<44} longest poll {:>7.3} ms, median {:>7.3} ms, {} polls",
        longest.as_secs_f64() * 1e3,
        median.as_secs_f64() * 1e3,
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

    for (what, piece) in [
        ("stream of 16 KiB chunks into a path", 16 << 10),
        ("stream of one 10 MiB chunk into a path", SIZE + 1024),
    ] {
        let path = folder.path().join("file.jpg");
        let stream = Chunks(
            sealed
                .data
                .chunks(piece)
                .map(<[u8]>::to_vec)
                .collect::<Vec<_>>()
                .into_iter(),
        );
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
