//! Every delivery of a submission to the `kyc_backend` service's binary is
//! answered from one state, as deployed (processes, a stand-in Bot API, real
//! `redis-server`s): two submissions under one nonce end one way; a
//! rejection whose consume failed is not told again once the correction was
//! stored; failures no retry can fix (a tampered photo, an element that does
//! not decrypt, a user who blocked the bot) are answered 200 once the user
//! was told what is possible, and never resent; a link a restarted instance
//! never issued gets "start again"; an instance killed mid-download or
//! between its consume and its rename leaves nothing decrypted behind and
//! loses nothing; data of the wrong type in Redis is reported, not retried
//! forever.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

#[path = "support/common.rs"]
mod common;
#[path = "support/kyc.rs"]
mod kyc;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kyc::{deliver, deliver_answer, start, stored, submission, Backend, Kind};
use serde_json::Value;

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn counts(api: &kyc::BotApi) -> (usize, usize) {
    (api.errors.lock().unwrap().len(), api.messages.lock().unwrap().len())
}

/// Delivers until answered 2xx, as Telegram does (Retry-After honoured).
async fn deliver_until_done(http: &reqwest::Client, backend: &str, submission: &kyc::Submission) -> usize {
    for attempt in 1..=40 {
        match deliver_answer(http, backend, submission).await {
            (200, _) => return attempt,
            (503, after) => {
                let after = after.map_or(200, |seconds| seconds.parse::<u64>().unwrap() * 1000);
                tokio::time::sleep(Duration::from_millis(after.min(2000))).await;
            }
            (status, _) => panic!("answered {status}"),
        }
    }
    panic!("never answered 200");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_submissions_under_one_nonce_end_one_way() {
    let (api, api_url) = kyc::bot_api().await;
    let data = kyc::data_dir("one-way");
    let backend = Backend::start(&api_url, &data, None);
    let http = kyc::client(LOCAL);
    let (application, request) = start(&http, &backend.url).await.unwrap();
    // A valid submission with slow downloads, and an invalid one meanwhile.
    let valid = submission(&api, &request, 1001, Kind::Good);
    // (Another sender id only so that its files get other file ids.)
    let invalid = submission(&api, &request, 1002, Kind::ExpiredNoSelfie);
    api.download_delay_ms.store(400, Ordering::SeqCst);
    let slow = {
        let (http, url, update) = (http.clone(), backend.url.clone(), valid.update.to_string());
        tokio::spawn(async move { kyc::post(&http, &url, update, kyc::SECRET).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, after) = deliver_answer(&http, &backend.url, &invalid).await;
    assert_eq!(status, 503, "the nonce is claimed by the valid submission");
    assert!(after.is_some(), "with Retry-After");
    assert_eq!(slow.await.unwrap(), 200);
    assert!(stored(&data, &application).is_some());
    // Telegram comes back with the invalid one: finished, nobody told anything.
    assert_eq!(deliver(&http, &backend.url, &invalid).await, 200);
    assert_eq!(counts(&api), (0, 0), "no error report, no message, no new link");
    assert_eq!(kyc::folders(&data), (1, 0));
    std::fs::remove_dir_all(&data).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_no_retry_can_fix_are_told_once_and_answered_200() {
    let (api, api_url) = kyc::bot_api().await;
    let data = kyc::data_dir("permanent");
    let backend = Backend::start(&api_url, &data, None);
    let http = kyc::client(LOCAL);

    // A photo whose bytes do not match its credentials.
    let (application, request) = start(&http, &backend.url).await.unwrap();
    let tampered = submission(&api, &request, 2002, Kind::TamperedPhoto);
    assert_eq!(deliver(&http, &backend.url, &tampered).await, 200);
    let errors = api.errors.lock().unwrap().clone();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["errors"].as_array().unwrap().len(), 1);
    assert_eq!(errors[0]["errors"][0]["source"], "front_side");
    assert_eq!(errors[0]["errors"][0]["type"], "identity_card");
    let fresh = kyc::relink(&api, &http, &backend.url, 2002).await;
    assert_ne!(fresh.nonce(), request.nonce());
    let downloads = api.get_file_calls.load(Ordering::SeqCst);
    // Delivered again: nothing downloaded, reported or sent again.
    assert_eq!(deliver(&http, &backend.url, &tampered).await, 200);
    assert_eq!(api.get_file_calls.load(Ordering::SeqCst), downloads);
    assert_eq!(counts(&api), (1, 1));
    assert_eq!(kyc::folders(&data), (0, 0), "nothing decrypted left behind");
    // The user sends the photo again through the new link: stored.
    let fixed = submission(&api, &fresh, 2002, Kind::Good);
    assert_eq!(deliver(&http, &backend.url, &fixed).await, 200);
    assert!(stored(&data, &application).is_some());

    // An element that does not decrypt (its data does not match its hash).
    let (_, request) = start(&http, &backend.url).await.unwrap();
    let mut broken = submission(&api, &request, 3003, Kind::Good);
    let data_field = &mut broken.update["message"]["passport_data"]["data"][0]["data"];
    let mut text = data_field.as_str().unwrap().to_owned();
    let first = if text.starts_with('A') { "B" } else { "A" };
    text.replace_range(0..1, first);
    *data_field = Value::String(text);
    assert_eq!(deliver(&http, &backend.url, &broken).await, 200);
    assert_eq!(counts(&api), (1, 2), "a message, nothing the app could point at");
    assert_ne!(
        kyc::relink(&api, &http, &backend.url, 3003).await.nonce(),
        request.nonce()
    );
    assert_eq!(deliver(&http, &backend.url, &broken).await, 200);
    assert_eq!(counts(&api), (1, 2));

    // A rejected user who blocked the bot: the report is sent once, the
    // message cannot be, and no delivery changes that.
    api.blocked.lock().unwrap().insert(4004);
    let (_, request) = start(&http, &backend.url).await.unwrap();
    let blocked = submission(&api, &request, 4004, Kind::ExpiredNoSelfie);
    assert_eq!(deliver(&http, &backend.url, &blocked).await, 200);
    assert_eq!(counts(&api), (2, 2));
    assert_eq!(deliver(&http, &backend.url, &blocked).await, 200);
    assert_eq!(counts(&api), (2, 2), "setPassportDataErrors not resent");
    assert_eq!(kyc::folders(&data), (1, 0));
    std::fs::remove_dir_all(&data).unwrap();
}

/// The bot's link to an application that has expired: its page gets no
/// fresh request and says so (410 `expired`); one never opened is 404
/// `unknown`; a new application opens as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_or_unknown_application_gets_no_fresh_request() {
    let (_api, api_url) = kyc::bot_api().await;
    let data = kyc::data_dir("expired-application");
    let backend = Backend::start_with(&api_url, &data, None, &[("APPLICATION_TTL_SECONDS", "1")]);
    let http = kyc::client(LOCAL);
    let (application, _) = start(&http, &backend.url).await.unwrap();
    assert!(kyc::fresh_request(&http, &backend.url, &application).await.is_ok());
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        kyc::fresh_request(&http, &backend.url, &application).await.unwrap_err(),
        (410, "expired".to_owned())
    );
    assert_eq!(
        kyc::fresh_request(&http, &backend.url, &"B".repeat(43))
            .await
            .unwrap_err(),
        (404, "unknown".to_owned())
    );
    assert_eq!(
        kyc::fresh_request(&http, &backend.url, "not-an-id").await.unwrap_err(),
        (404, "unknown".to_owned())
    );
    assert!(start(&http, &backend.url).await.is_ok());
    std::fs::remove_dir_all(&data).unwrap();
}

/// Telegram refuses the service's own message (as it refuses a Passport
/// link in a button): the service's error, not the user's. The delivery
/// is left for redelivery (503), nothing is recorded as told, and the
/// applicant's page still says waiting; once the message goes through,
/// the user is told once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_message_is_not_counted_as_told() {
    let (api, api_url) = kyc::bot_api().await;
    let data = kyc::data_dir("refused-message");
    let backend = Backend::start(&api_url, &data, None);
    let http = kyc::client(LOCAL);
    let (application, request) = start(&http, &backend.url).await.unwrap();
    let bad = submission(&api, &request, 7007, Kind::ExpiredNoSelfie);
    *api.message_refusal.lock().unwrap() = Some("Bad Request: BUTTON_URL_INVALID");
    for _ in 0..2 {
        assert_eq!(deliver(&http, &backend.url, &bad).await, 503);
    }
    assert_eq!(api.refused_messages.lock().unwrap().len(), 2);
    assert!(api.messages.lock().unwrap().is_empty());
    let status = kyc::status(&http, &backend.url, &application).await;
    assert_eq!(status["state"], "waiting");
    *api.message_refusal.lock().unwrap() = None;
    assert_eq!(deliver_until_done(&http, &backend.url, &bad).await, 1);
    assert_eq!(api.messages.lock().unwrap().len(), 1);
    assert_eq!(deliver(&http, &backend.url, &bad).await, 200);
    assert_eq!(api.messages.lock().unwrap().len(), 1, "told once");
    let fresh = kyc::relink(&api, &http, &backend.url, 7007).await;
    assert_eq!(
        deliver(&http, &backend.url, &submission(&api, &fresh, 7007, Kind::Good)).await,
        200
    );
    assert!(stored(&data, &application).is_some());
    std::fs::remove_dir_all(&data).unwrap();
}

/// Telegram's flood control (429 with `retry_after`) on the service's own
/// calls: the delivery is answered 503 and nothing is counted as told;
/// once Telegram takes calls again, the user is told once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flood_control_on_the_bot_api_is_retried_and_told_once() {
    let (api, api_url) = kyc::bot_api().await;
    let data = kyc::data_dir("rate-limited");
    let backend = Backend::start(&api_url, &data, None);
    let http = kyc::client(LOCAL);
    let (_, request) = start(&http, &backend.url).await.unwrap();
    let bad = submission(&api, &request, 7107, Kind::ExpiredNoSelfie);
    api.rate_limited.store(1_000, Ordering::SeqCst);
    for _ in 0..2 {
        assert_eq!(deliver(&http, &backend.url, &bad).await, 503);
    }
    assert!(api.messages.lock().unwrap().is_empty());
    assert!(api.errors.lock().unwrap().is_empty());
    api.rate_limited.store(0, Ordering::SeqCst);
    assert_eq!(deliver_until_done(&http, &backend.url, &bad).await, 1);
    assert_eq!(deliver(&http, &backend.url, &bad).await, 200);
    assert_eq!(api.messages.lock().unwrap().len(), 1, "told once");
    std::fs::remove_dir_all(&data).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_in_memory_instance_tells_the_user_to_start_again() {
    let (api, api_url) = kyc::bot_api().await;
    let data = kyc::data_dir("restarted");
    let http = kyc::client(LOCAL);
    let backend = Backend::start(&api_url, &data, None);
    let (_, request) = start(&http, &backend.url).await.unwrap();
    let good = submission(&api, &request, 5005, Kind::Good);
    drop(backend);
    let backend = Backend::start(&api_url, &data, None);
    assert_eq!(deliver(&http, &backend.url, &good).await, 200);
    let message = api.messages.lock().unwrap()[0].clone();
    assert_eq!(message["chat_id"], 5005);
    assert!(message["text"].as_str().unwrap().contains("start again"), "{message}");
    // The message links to the page that opens a new application.
    assert_eq!(kyc::last_page_link(&api, 5005), format!("{}/", backend.url));
    let (_, fresh) = start(&http, &backend.url).await.unwrap();
    assert_ne!(fresh.nonce(), request.nonce());
    assert_eq!(fresh.scope(), request.scope());
    assert_eq!(deliver(&http, &backend.url, &good).await, 200);
    assert_eq!(counts(&api), (0, 1), "told once");
    // The new link works.
    assert_eq!(
        deliver(&http, &backend.url, &submission(&api, &fresh, 5005, Kind::Good)).await,
        200
    );
    assert_eq!(kyc::folders(&data), (1, 0));
    std::fs::remove_dir_all(&data).unwrap();
}

/// The service with its current key in a SoftHSM2 token and the key it
/// used before in a file (a rotation under way): links carry the token
/// key's public half; submissions sealed to either key are stored; one
/// sealed to neither is stored by no one and answered 200.
#[cfg(feature = "pkcs11")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(no_softhsm, ignore = "needs SoftHSM2 (softhsm2-util and libsofthsm2.so)")]
async fn a_key_in_a_token_and_the_old_one_in_a_file_during_a_rotation() {
    let keys = common::data_dir().join("keys");
    let dir = std::env::temp_dir().join(format!("telegram-passport-kyc-token-rotation-{}", std::process::id()));
    let token = kyc::softhsm::Token::new(&dir, "rotation").unwrap();
    token.import(&keys.join("rsa3072_pkcs8.pem"), "current", 1).unwrap();
    let ring = format!("{},{}", token.uri("current"), keys.join("rsa2048_pkcs1.pem").display());
    let (api, api_url) = kyc::bot_api().await;
    let data = kyc::data_dir("rotation");
    let conf = token.conf().to_string_lossy().into_owned();
    let env = [
        ("PASSPORT_PRIVATE_KEY", ring.as_str()),
        ("SOFTHSM2_CONF", conf.as_str()),
    ];
    let backend = Backend::start_with(&api_url, &data, None, &env);
    let http = kyc::client(LOCAL);
    let public = |file: &str| {
        let pem = std::fs::read_to_string(keys.join(file)).unwrap();
        telegram_passport::PrivateKey::from_pem(&pem)
            .unwrap()
            .public_key()
            .to_pem()
    };

    // Sealed to the current key, in the token.
    let (application, request) = start(&http, &backend.url).await.unwrap();
    assert_eq!(
        request.public_key(),
        public("rsa3072_pkcs8.pem"),
        "links carry the current key"
    );
    assert_eq!(
        deliver(&http, &backend.url, &submission(&api, &request, 11_001, Kind::Good)).await,
        200
    );
    assert!(stored(&data, &application).is_some());
    // Sealed to the previous key (an app that still had the old one).
    let (application, request) = start(&http, &backend.url).await.unwrap();
    let old = telegram_passport::PassportRequest::new(
        request.bot_id(),
        request.scope().clone(),
        &telegram_passport::PublicKey::from_pem(&public("rsa2048_pkcs1.pem")).unwrap(),
        request.nonce(),
    );
    assert_eq!(
        deliver(&http, &backend.url, &submission(&api, &old, 11_002, Kind::Good)).await,
        200
    );
    assert!(stored(&data, &application).is_some());
    // Sealed to neither.
    let (application, request) = start(&http, &backend.url).await.unwrap();
    let stranger = telegram_passport::PassportRequest::new(
        request.bot_id(),
        request.scope().clone(),
        &telegram_passport::PublicKey::from_pem(&public("rsa4096_pkcs1.pem")).unwrap(),
        request.nonce(),
    );
    assert_eq!(
        deliver(&http, &backend.url, &submission(&api, &stranger, 11_003, Kind::Good)).await,
        200
    );
    assert!(stored(&data, &application).is_none());
    assert_eq!(counts(&api), (0, 0));
    drop(backend);
    std::fs::remove_dir_all(&data).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

fn incoming(data: &Path) -> usize {
    kyc::folders(data).1
}

mod on_redis {
    use super::*;
    use common::redis_server;

    const LEASE: (&str, &str) = ("CLAIM_LEASE_SECONDS", "1");

    /// A rejection is told; its consume fails (Redis stalls right after the
    /// message), so it is answered 503. The user corrects it through the new
    /// link and is accepted; the rejection's redelivery then changes nothing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(no_redis_server, ignore = "needs redis-server (apt-get install redis-server)")]
    async fn a_rejection_redelivered_after_the_correction_is_not_told_again() {
        let redis = redis_server::start();
        let (api, api_url) = kyc::bot_api().await;
        let data = kyc::data_dir("told-once");
        let backend = Backend::start_with(&api_url, &data, Some(&redis.url), &[LEASE]);
        let http = kyc::client(LOCAL);
        let (application, request) = start(&http, &backend.url).await.unwrap();
        let bad = submission(&api, &request, 6006, Kind::ExpiredNoSelfie);
        let (pid, stalled) = (redis.child.id(), Arc::new(AtomicBool::new(false)));
        let hook_stalled = Arc::clone(&stalled);
        *api.on_send_message.lock().unwrap() = Some(Box::new(move || {
            if !hook_stalled.swap(true, Ordering::SeqCst) {
                let status = std::process::Command::new("kill")
                    .args(["-STOP", &pid.to_string()])
                    .status()
                    .unwrap();
                assert!(status.success());
            }
        }));
        assert_eq!(deliver(&http, &backend.url, &bad).await, 503);
        redis.signal("-CONT");
        assert_eq!(counts(&api), (1, 1), "told before the store stalled");
        let fresh = kyc::relink(&api, &http, &backend.url, 6006).await;
        let fixed = submission(&api, &fresh, 6006, Kind::Good);
        assert_eq!(deliver_until_done(&http, &backend.url, &fixed).await, 1);
        assert!(stored(&data, &application).is_some());
        // The rejection again, once its claim's lease is over.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        deliver_until_done(&http, &backend.url, &bad).await;
        assert_eq!(counts(&api), (1, 1), "not told again, no third link");
        assert_eq!(kyc::folders(&data), (1, 0));
        std::fs::remove_dir_all(&data).unwrap();
    }

    /// Killed while downloading: the next start deletes the unfinished
    /// draft; the redelivery stores the application whole.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(no_redis_server, ignore = "needs redis-server (apt-get install redis-server)")]
    async fn killed_mid_download_leaves_nothing_and_the_redelivery_stores() {
        let redis = redis_server::start();
        let (api, api_url) = kyc::bot_api().await;
        let data = kyc::data_dir("killed-download");
        let mut backend = Backend::start_with(&api_url, &data, Some(&redis.url), &[LEASE]);
        let http = kyc::client(LOCAL);
        let (application, request) = start(&http, &backend.url).await.unwrap();
        let good = submission(&api, &request, 7007, Kind::Good);
        api.download_delay_ms.store(300, Ordering::SeqCst);
        let delivery = {
            let (http, url, update) = (http.clone(), backend.url.clone(), good.update.to_string());
            tokio::spawn(async move {
                http.post(format!("{url}/telegram/webhook"))
                    .header("X-Telegram-Bot-Api-Secret-Token", kyc::SECRET)
                    .body(update)
                    .send()
                    .await
            })
        };
        // The first photo is decrypted into the draft, the second downloading.
        while api.get_file_calls.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(incoming(&data), 1, "a draft being written");
        backend.child.kill().unwrap();
        backend.child.wait().unwrap();
        assert!(delivery.await.unwrap().is_err(), "the connection died with it");
        api.download_delay_ms.store(0, Ordering::SeqCst);
        let backend = Backend::start_with(&api_url, &data, Some(&redis.url), &[LEASE]);
        assert_eq!(kyc::folders(&data), (0, 0), "the dead attempt's draft deleted at start");
        deliver_until_done(&http, &backend.url, &good).await;
        for (name, bytes) in &good.photos {
            assert_eq!(&std::fs::read(data.join(&application).join(name)).unwrap(), bytes);
        }
        assert_eq!(kyc::folders(&data), (1, 0));
        std::fs::remove_dir_all(&data).unwrap();
    }

    /// Killed (SIGKILL injected) at the rename that commits a draft whose
    /// claim consumed the nonce (the process's second rename: the first
    /// names the new draft): the next start commits it; the redelivery is
    /// finished, nothing downloaded again.
    ///
    /// strace counts a syscall per thread, so the injection lands only when
    /// both renames run on one of the runtime's blocking threads; an
    /// attempt where they did not is stored whole, and is tried again with
    /// a new application (at most `ATTEMPTS`).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        any(no_strace, no_redis_server),
        ignore = "needs strace and redis-server (apt-get install strace redis-server)"
    )]
    async fn killed_between_consume_and_rename_loses_nothing() {
        const ATTEMPTS: usize = 8;
        let redis = redis_server::start();
        let data = kyc::data_dir("killed-rename");
        let strace = kyc::strace();
        let mut attempt = 0;
        let (api, api_url, http, traced, application, good) = loop {
            attempt += 1;
            let (api, api_url) = kyc::bot_api().await;
            let traced = Backend::start_under(
                &[
                    &strace,
                    "-f",
                    "-o",
                    "/dev/null",
                    "-e",
                    "inject=rename:signal=SIGKILL:when=2",
                ],
                &api_url,
                &data,
                Some(&redis.url),
                &[LEASE],
            );
            let http = kyc::client(LOCAL);
            let (application, request) = start(&http, &traced.url).await.unwrap();
            let good = submission(&api, &request, 8008, Kind::Good);
            let answer = kyc::send(&http, &traced.url, &good).await;
            match answer {
                Err(_) => break (api, api_url, http, traced, application, good),
                Ok(answer) => {
                    // The renames ran on two threads: nothing was injected.
                    assert_eq!(answer.status(), 200, "attempt {attempt}");
                    assert!(stored(&data, &application).is_some(), "attempt {attempt}: stored whole");
                    assert!(
                        attempt < ATTEMPTS,
                        "killed before it answered, in none of {ATTEMPTS} attempts"
                    );
                    drop(traced);
                    std::fs::remove_dir_all(&data).unwrap();
                }
            }
        };
        println!("the kill landed at attempt {attempt}");
        drop(traced);
        assert!(stored(&data, &application).is_none());
        assert_eq!(incoming(&data), 2, "the sealed draft and its claim beside it");
        let backend = Backend::start_with(&api_url, &data, Some(&redis.url), &[LEASE]);
        assert_eq!(kyc::folders(&data), (1, 0), "committed at start");
        for (name, bytes) in &good.photos {
            assert_eq!(&std::fs::read(data.join(&application).join(name)).unwrap(), bytes);
        }
        let downloads = api.get_file_calls.load(Ordering::SeqCst);
        assert_eq!(deliver(&http, &backend.url, &good).await, 200);
        assert_eq!(api.get_file_calls.load(Ordering::SeqCst), downloads);
        assert_eq!(counts(&api), (0, 0));
        std::fs::remove_dir_all(&data).unwrap();
    }

    /// Instances starting again and again beside a busy one on the same
    /// data folder: each start succeeds (drafts that come and go while it
    /// looks are skipped), and it never takes a live draft for a dead one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(no_redis_server, ignore = "needs redis-server (apt-get install redis-server)")]
    async fn starting_beside_a_busy_instance_takes_nothing_from_it() {
        let redis = redis_server::start();
        let (api, api_url) = kyc::bot_api().await;
        api.download_delay_ms.store(5, Ordering::SeqCst);
        let data = kyc::data_dir("busy");
        let busy = Backend::start(&api_url, &data, Some(&redis.url));
        let http = kyc::client(LOCAL);
        let mut pending = Vec::new();
        for user in 0..20 {
            let client = kyc::client(IpAddr::V4(Ipv4Addr::new(127, 0, 2, user as u8)));
            let (application, request) = start(&client, &busy.url).await.unwrap();
            pending.push((application, submission(&api, &request, 10_000 + user, Kind::Good)));
        }
        let work = {
            let (http, url) = (http.clone(), busy.url.clone());
            let updates: Vec<String> = pending.iter().map(|(_, good)| good.update.to_string()).collect();
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                for update in updates {
                    statuses.push(kyc::post(&http, &url, update, kyc::SECRET).await);
                }
                statuses
            })
        };
        let mut starts = 0;
        while !work.is_finished() || starts < 15 {
            let mut other = Backend::start(&api_url, &data, Some(&redis.url));
            assert!(other.child.try_wait().unwrap().is_none(), "start {starts} failed");
            drop(other);
            starts += 1;
        }
        assert_eq!(work.await.unwrap(), vec![200; 20]);
        for (application, good) in &pending {
            for (name, bytes) in &good.photos {
                assert_eq!(&std::fs::read(data.join(application).join(name)).unwrap(), bytes);
            }
        }
        assert_eq!(kyc::folders(&data), (20, 0), "after {starts} starts");
        std::fs::remove_dir_all(&data).unwrap();
    }

    /// Someone else's data under the store's keys (WRONGTYPE): the user of
    /// that submission is told to start again and the delivery answered
    /// 200, not 503 forever; a ledger key of the wrong type is replaced.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(no_redis_server, ignore = "needs redis-server (apt-get install redis-server)")]
    async fn data_of_the_wrong_type_is_not_retried_forever() {
        let redis = redis_server::start();
        let (api, api_url) = kyc::bot_api().await;
        let data = kyc::data_dir("wrongtype");
        let backend = Backend::start(&api_url, &data, Some(&redis.url));
        let http = kyc::client(LOCAL);
        let (_, request) = start(&http, &backend.url).await.unwrap();
        let good = submission(&api, &request, 9009, Kind::Good);
        let claim_key = format!("telegram-passport:nonce:{{{}}}:claim", request.nonce());
        redis_server::cli(redis.port, &["RPUSH", &claim_key, "not a claim"]);
        assert_eq!(deliver(&http, &backend.url, &good).await, 200);
        assert!(api.messages.lock().unwrap()[0]["text"]
            .as_str()
            .unwrap()
            .contains("start again"));
        assert_eq!(deliver(&http, &backend.url, &good).await, 200);
        assert_eq!(counts(&api), (0, 1));

        let (application, request) = start(&http, &backend.url).await.unwrap();
        redis_server::cli(redis.port, &["RPUSH", &format!("kyc:ledger:stored:{application}"), "x"]);
        let good = submission(&api, &request, 9010, Kind::Good);
        assert_eq!(deliver(&http, &backend.url, &good).await, 200);
        assert!(stored(&data, &application).is_some());
        let kind = redis_server::cli(redis.port, &["TYPE", &format!("kyc:ledger:stored:{application}")]);
        assert_eq!(kind.trim(), "string");
        std::fs::remove_dir_all(&data).unwrap();
    }
}
