//! Passport files straight from the download into verified plaintext:
//! teloxide-core's `Download` (`download_file` into the crate's async sink,
//! `download_file_stream` into a path) and reqwest's `bytes_stream()` into
//! a path, against a stand-in Bot API file server on 127.0.0.1. A tampered,
//! truncated or oversized download leaves nothing behind.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use telegram_passport::{client, Error, FileCredentials, Limits};
use teloxide_core::net::Download;

const TOKEN: &str = "123456:test-token";

/// Serves `files` as the Bot API serves downloads: `/file/bot<token>/<file_path>`.
async fn file_server(files: HashMap<String, Vec<u8>>) -> String {
    let files = Arc::new(files);
    let app = axum::Router::new().route(
        "/file/{bot}/{name}",
        axum::routing::get(
            move |axum::extract::Path((bot, name)): axum::extract::Path<(String, String)>| {
                let files = Arc::clone(&files);
                async move {
                    match (bot == format!("bot{TOKEN}"), files.get(&name)) {
                        (true, Some(bytes)) => Ok(bytes.clone()),
                        _ => Err(axum::http::StatusCode::NOT_FOUND),
                    }
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}")
}

struct Downloads {
    base: String,
    plain: Vec<u8>,
    credentials: FileCredentials,
}

/// One 3 MiB photo, sealed as the app seals it, served as is (`good.jpg`),
/// with one byte flipped (`tampered.jpg`) and cut short (`truncated.jpg`).
async fn downloads() -> Downloads {
    let plain: Vec<u8> = (0..3 << 20).map(|i: usize| (i * 17 % 241) as u8).collect();
    let sealed = client::encrypt(&plain).unwrap();
    let credentials = FileCredentials::new(sealed.hash, sealed.secret.clone());
    let mut tampered = sealed.data.clone();
    tampered[2_000_000] ^= 0x10;
    let truncated = sealed.data[..sealed.data.len() - 4096].to_vec();
    let files = HashMap::from([
        ("good.jpg".to_owned(), sealed.data.clone()),
        ("tampered.jpg".to_owned(), tampered),
        ("truncated.jpg".to_owned(), truncated),
    ]);
    Downloads {
        base: file_server(files).await,
        plain,
        credentials,
    }
}

fn bot(base: &str) -> teloxide_core::Bot {
    teloxide_core::Bot::new(TOKEN).set_api_url(base.parse().unwrap())
}

fn entries(folder: &Path) -> Vec<String> {
    std::fs::read_dir(folder)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// teloxide's `download_file` writes into the crate's sink; `finish` hands
/// the sink back only once the file is verified.
#[tokio::test]
async fn teloxide_download_file_into_the_sink() {
    let d = downloads().await;
    let bot = bot(&d.base);

    let mut sink = d.credentials.async_decryptor(Vec::new()).unwrap();
    bot.download_file("good.jpg", &mut sink).await.unwrap();
    assert_eq!(sink.finish().await.unwrap(), d.plain);

    for bad in ["tampered.jpg", "truncated.jpg"] {
        let mut sink = d.credentials.async_decryptor(Vec::new()).unwrap();
        bot.download_file(bad, &mut sink).await.unwrap();
        assert!(matches!(sink.finish().await, Err(Error::Decryption(_))), "{bad}");
    }

    // Over the size limit: the download stops with an error at the limit.
    let small = d.credentials.clone().with_limits(&Limits {
        file: 1 << 20,
        ..Limits::default()
    });
    let mut sink = small.async_decryptor(Vec::new()).unwrap();
    assert!(bot.download_file("good.jpg", &mut sink).await.is_err());
    assert!(matches!(
        sink.finish().await,
        Err(Error::TooLarge { limit: 1_048_576, .. })
    ));
}

/// teloxide's `download_file_stream` into a path: the verified file, or nothing.
#[tokio::test]
async fn teloxide_download_file_stream_into_a_path() {
    let d = downloads().await;
    let bot = bot(&d.base);
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("front.jpg");
    let small = d.credentials.clone().with_limits(&Limits {
        file: 1 << 20,
        ..Limits::default()
    });

    for (name, credentials) in [
        ("tampered.jpg", &d.credentials),
        ("truncated.jpg", &d.credentials),
        ("good.jpg", &small),
        ("missing.jpg", &d.credentials),
    ] {
        let refused = credentials
            .decrypt_chunks_to_path(bot.download_file_stream(name), &path)
            .await;
        assert!(refused.is_err(), "{name}");
        assert_eq!(entries(folder.path()), Vec::<String>::new(), "{name}");
    }
    d.credentials
        .decrypt_chunks_to_path(bot.download_file_stream("good.jpg"), &path)
        .await
        .unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), d.plain);
}

/// reqwest's `bytes_stream()` into a path: the verified file, or nothing.
#[tokio::test]
async fn reqwest_bytes_stream_into_a_path() {
    let d = downloads().await;
    let http = reqwest::Client::new();
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("selfie.jpg");
    let url = |name: &str| format!("{}/file/bot{TOKEN}/{name}", d.base);
    let small = d.credentials.clone().with_limits(&Limits {
        file: 1 << 20,
        ..Limits::default()
    });

    for (name, credentials) in [
        ("tampered.jpg", &d.credentials),
        ("truncated.jpg", &d.credentials),
        ("good.jpg", &small),
    ] {
        let response = http.get(url(name)).send().await.unwrap().error_for_status().unwrap();
        let refused = credentials.decrypt_chunks_to_path(response.bytes_stream(), &path).await;
        match name {
            "good.jpg" => assert!(matches!(refused, Err(Error::TooLarge { .. })), "{refused:?}"),
            _ => assert!(matches!(refused, Err(Error::Decryption(_))), "{name}: {refused:?}"),
        }
        assert_eq!(entries(folder.path()), Vec::<String>::new(), "{name}");
    }
    let response = http
        .get(url("good.jpg"))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    d.credentials
        .decrypt_chunks_to_path(response.bytes_stream(), &path)
        .await
        .unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), d.plain);
    assert_eq!(entries(folder.path()), ["selfie.jpg"]);
}
