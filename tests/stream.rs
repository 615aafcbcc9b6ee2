//! Streaming file decryption: the same result as in memory for any way the
//! bytes arrive, no output handed back unless verified, bounded buffering.

mod common;

use std::io::Write;

use proptest::prelude::*;
use telegram_passport::{client, Error, FileCredentials, Secret, Target};

fn encrypted(len: usize, padding: Option<usize>) -> (Vec<u8>, Vec<u8>, FileCredentials) {
    let plain: Vec<u8> = (0..len).map(|i| (i * 13 % 251) as u8).collect();
    let sealed = match padding {
        Some(padding) => client::hazmat::encrypt_with_padding(&plain, Secret::new([5; 32]), padding).unwrap(),
        None => client::encrypt(&plain).unwrap(),
    };
    let credentials = FileCredentials::new(sealed.hash, sealed.secret.clone());
    (plain, sealed.data, credentials)
}

fn stream(credentials: &FileCredentials, data: &[u8], piece: usize) -> Result<Vec<u8>, Error> {
    let mut decryptor = credentials.decryptor(Vec::new())?;
    for chunk in data.chunks(piece.max(1)) {
        decryptor.write_all(chunk).map_err(Error::Io)?;
    }
    decryptor.finish()
}

#[test]
fn every_padding_length_across_chunk_boundaries() {
    for padding in 32..=255usize {
        // Padded files of exactly the 64 KiB working buffer, and one block more.
        for len in [65_536 - padding, 65_536 - padding + 16] {
            let (plain, data, credentials) = encrypted(len, Some(padding));
            for piece in [1usize, 7, 4096, 65_536, 1 << 20] {
                if piece == 1 && padding % 37 != 0 {
                    continue; // byte-at-a-time on a sample of paddings keeps the test quick
                }
                assert_eq!(
                    stream(&credentials, &data, piece).unwrap(),
                    plain,
                    "padding {padding}, pieces of {piece}"
                );
            }
        }
    }
}

#[test]
fn files_from_tiny_to_several_megabytes() {
    for len in [0, 1, 15, 16, 65_535, 65_536, 65_537, 3 * 1024 * 1024 + 5] {
        let (plain, data, credentials) = encrypted(len, None);
        assert_eq!(stream(&credentials, &data, 8192).unwrap(), plain, "{len}");
        let mut reader = &data[..];
        let out = credentials.decrypt_stream(&mut reader, Vec::new()).unwrap();
        assert_eq!(out, plain);
        assert_eq!(&credentials.decrypt(data.clone()).unwrap()[..], &plain[..]);
        assert_eq!(&credentials.decrypt_pipelined(data).unwrap()[..], &plain[..]);
    }
}

fn is_opaque_file_error(result: Result<Vec<u8>, Error>) -> bool {
    matches!(result, Err(Error::Decryption(e)) if e.target() == Target::File)
}

#[test]
fn nothing_unverified_is_handed_back() {
    let (_, data, credentials) = encrypted(200_000, None);
    for position in [0, 100, 70_000, data.len() - 1] {
        let mut tampered = data.clone();
        tampered[position] ^= 0x40;
        assert!(
            is_opaque_file_error(stream(&credentials, &tampered, 5000)),
            "flip at {position}"
        );
    }
    assert!(is_opaque_file_error(stream(
        &credentials,
        &data[..data.len() - 16],
        5000
    )));
    assert!(is_opaque_file_error(stream(
        &credentials,
        &data[..data.len() - 1],
        5000
    )));
    assert!(is_opaque_file_error(stream(&credentials, &[], 5000)));
    let wrong = FileCredentials::new(*credentials.file_hash(), Secret::new([6; 32]));
    assert!(is_opaque_file_error(stream(&wrong, &data, 5000)));
}

#[test]
fn independent_vectors_stream_like_they_decrypt() {
    let dir = common::data_dir().join("primitive");
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let case = common::load(&format!("primitive/{name}"));
        let credentials = common::file_credentials(&common::b64(&case["hash"]), &common::b64(&case["secret"]));
        let result = stream(&credentials, &common::b64(&case["ciphertext"]), 33);
        match case["expect"].as_str().unwrap() {
            "ok" => assert_eq!(result.unwrap(), common::b64(&case["plaintext"]), "{name}"),
            _ => assert!(is_opaque_file_error(result), "{name}"),
        }
    }
}

#[test]
fn a_file_on_disk_appears_only_once_verified() {
    let dir = std::env::temp_dir().join(format!("telegram-passport-stream-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (plain, data, credentials) = encrypted(300_000, None);
    let path = dir.join("front.jpg");
    credentials.decrypt_to_path(&data[..], &path).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), plain);

    let mut tampered = data.clone();
    tampered[1000] ^= 1;
    let bad = dir.join("bad.jpg");
    let error = credentials.decrypt_to_path(&tampered[..], &bad).unwrap_err();
    assert_eq!(error.to_string(), "could not decrypt file");
    assert!(!bad.exists());
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["front.jpg"]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn sink_errors_are_reported() {
    #[derive(Debug)]
    struct Full;
    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk full"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let (_, data, credentials) = encrypted(100_000, None);
    let error = credentials.decrypt_stream(&data[..], Full).unwrap_err();
    assert!(matches!(error, Error::Io(_)), "{error:?}");
    assert!(error.to_string().contains("disk full"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_split_gives_the_same_plaintext(len in 0usize..200_000, cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..20)) {
        let (plain, data, credentials) = encrypted(len, None);
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(data.len() + 1)).collect();
        points.push(0);
        points.push(data.len());
        points.sort_unstable();
        let mut decryptor = credentials.decryptor(Vec::new()).unwrap();
        for pair in points.windows(2) {
            decryptor.write_all(&data[pair[0]..pair[1]]).unwrap();
        }
        prop_assert_eq!(decryptor.finish().unwrap(), plain);
    }
}

/// `Debug` shows how far a decryptor got, never the buffered plaintext;
/// and it got far: a chunk is decrypted as soon as it is full (64 KiB), so
/// what a large file buffers stays bounded.
#[test]
fn a_decryptor_shows_its_progress_only() {
    let (_, data, credentials) = encrypted(300_000, None);
    let mut decryptor = credentials.decryptor(Vec::new()).unwrap();
    assert_eq!(format!("{decryptor:?}"), "FileDecryptor { decrypted: 0, .. }");
    for piece in data.chunks(1000) {
        std::io::Write::write_all(&mut decryptor, piece).unwrap();
    }
    let whole_chunks = data.len() / 65536 * 65536;
    assert_eq!(
        format!("{decryptor:?}"),
        format!("FileDecryptor {{ decrypted: {whole_chunks}, .. }}")
    );
}

/// `flush` reaches the sink.
#[test]
fn flush_reaches_the_sink() {
    struct Flushes(usize);
    impl std::io::Write for Flushes {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.0 += 1;
            Ok(())
        }
    }
    let (_, _, credentials) = encrypted(100, None);
    let mut sink = Flushes(0);
    let mut decryptor = credentials.decryptor(&mut sink).unwrap();
    std::io::Write::flush(&mut decryptor).unwrap();
    drop(decryptor);
    assert_eq!(sink.0, 1);
}
