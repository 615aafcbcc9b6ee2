//! Async file decryption: the same plaintext as the synchronous core for
//! any chunking and any sink speed; a sink handed back only once verified;
//! a path that holds the verified file or nothing, whatever went wrong;
//! the size limit refused before it is exceeded.

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use telegram_passport::{client, Error, FileCredentials, Limits};
use tokio::io::{AsyncWrite, AsyncWriteExt};

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
