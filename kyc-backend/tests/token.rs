//! The `kyc_backend` service's binary on a key in a SoftHSM2 token, kept
//! running while the token goes away and comes back: every delivery
//! meanwhile is answered 503 (Telegram delivers it again), and the token
//! that came back is used again within seconds, without a restart. Also
//! a token whose key objects are removed and restored.

#![cfg(feature = "pkcs11")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

#[path = "support/common.rs"]
mod common;
#[path = "support/kyc.rs"]
mod kyc;

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use kyc::{deliver_answer, start, stored, submission, Backend, Kind};

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Delivers `submission` every 50 ms until it is answered 200, for at
/// most `limit`; every other answer must be 503. How long it took.
async fn until_accepted(
    http: &reqwest::Client,
    backend: &str,
    submission: &kyc::Submission,
    limit: Duration,
) -> Duration {
    let start = Instant::now();
    loop {
        match deliver_answer(http, backend, submission).await {
            (200, _) => return start.elapsed(),
            (503, _) => {}
            (status, _) => panic!("answered {status}"),
        }
        assert!(start.elapsed() < limit, "still 503 after {:?}", start.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Delivers `submission` for `period`: every answer must be 503.
async fn unavailable_for(http: &reqwest::Client, backend: &str, submission: &kyc::Submission, period: Duration) {
    let start = Instant::now();
    let mut answers = 0;
    while start.elapsed() < period {
        let (status, _) = deliver_answer(http, backend, submission).await;
        assert_eq!(status, 503, "while the token is away");
        answers += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(answers >= 5, "{answers} answers");
}

/// A service on a key in a fresh token, and what it takes to talk to it.
struct Setup {
    token: kyc::softhsm::Token,
    api: std::sync::Arc<kyc::BotApi>,
    data: PathBuf,
    backend: Backend,
    http: reqwest::Client,
}

async fn setup(name: &str) -> Setup {
    let keys = common::data_dir().join("keys");
    let dir = std::env::temp_dir().join(format!("telegram-passport-kyc-token-{name}-{}", std::process::id()));
    let token = kyc::softhsm::Token::new(&dir, name).unwrap();
    token.import(&keys.join("rsa2048_pkcs1.pem"), "kyc-key", 1).unwrap();
    let (api, api_url) = kyc::bot_api().await;
    let data = kyc::data_dir(name);
    let uri = token.uri("kyc-key");
    let conf = token.conf().to_string_lossy().into_owned();
    let env = [("PASSPORT_PRIVATE_KEY", uri.as_str()), ("SOFTHSM2_CONF", conf.as_str())];
    let backend = Backend::start_with(&api_url, &data, None, &env);
    Setup {
        token,
        api,
        data,
        backend,
        http: kyc::client(LOCAL),
    }
}

impl Setup {
    /// A new application, accepted through the token.
    async fn accepted(&self, user: i64) {
        let (application, request) = start(&self.http, &self.backend.url).await.unwrap();
        let good = submission(&self.api, &request, user, Kind::Good);
        assert_eq!(deliver_answer(&self.http, &self.backend.url, &good).await.0, 200);
        assert!(stored(&self.data, &application).is_some());
    }

    fn cleanup(self) {
        drop(self.backend);
        std::fs::remove_dir_all(&self.data).unwrap();
        std::fs::remove_dir_all(&self.token.dir).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(no_softhsm, ignore = "needs SoftHSM2 (softhsm2-util and libsofthsm2.so)")]
async fn a_token_whose_folder_goes_away_and_comes_back_is_used_again_by_the_running_service() {
    let setup = setup("folder").await;
    setup.accepted(21_001).await;

    for round in 0..2 {
        let (application, request) = start(&setup.http, &setup.backend.url).await.unwrap();
        let pending = submission(&setup.api, &request, 21_010 + round, Kind::Good);
        let tokens = setup.token.dir.join("tokens");
        let away = setup.token.dir.join("tokens-away");
        std::fs::rename(&tokens, &away).unwrap();
        unavailable_for(&setup.http, &setup.backend.url, &pending, Duration::from_secs(2)).await;
        assert!(stored(&setup.data, &application).is_none());

        std::fs::rename(&away, &tokens).unwrap();
        let took = until_accepted(&setup.http, &setup.backend.url, &pending, Duration::from_secs(10)).await;
        println!("round {round}: the service used the token that came back after {took:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
        assert!(stored(&setup.data, &application).is_some());
        setup.accepted(21_020 + round).await;
    }
    assert_eq!(
        setup.api.errors.lock().unwrap().len(),
        0,
        "nobody was told anything was wrong"
    );
    setup.cleanup();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(no_softhsm, ignore = "needs SoftHSM2 (softhsm2-util and libsofthsm2.so)")]
async fn a_token_whose_key_objects_are_removed_and_restored_is_used_again_by_the_running_service() {
    let setup = setup("objects").await;
    setup.accepted(22_001).await;

    let tokens = setup.token.dir.join("tokens");
    let folder = std::fs::read_dir(&tokens).unwrap().next().unwrap().unwrap().path();
    let aside = setup.token.dir.join("aside");
    std::fs::create_dir_all(&aside).unwrap();
    let (application, request) = start(&setup.http, &setup.backend.url).await.unwrap();
    let pending = submission(&setup.api, &request, 22_010, Kind::Good);
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_owned();
        if name != "token.object" && name != "token.lock" {
            std::fs::copy(&path, aside.join(&name)).unwrap();
            std::fs::remove_file(&path).unwrap();
            removed.push(name);
        }
    }
    unavailable_for(&setup.http, &setup.backend.url, &pending, Duration::from_secs(2)).await;

    for name in &removed {
        std::fs::copy(aside.join(name), folder.join(name)).unwrap();
    }
    let took = until_accepted(&setup.http, &setup.backend.url, &pending, Duration::from_secs(10)).await;
    println!("the service used the restored key after {took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(stored(&setup.data, &application).is_some());
    setup.accepted(22_020).await;
    setup.cleanup();
}
