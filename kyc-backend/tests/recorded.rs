//! What the applicant's page reads is true: once the `kyc_backend`
//! example's binary has stored an application, its status says
//! `accepted`, whatever failed or died between storing it and recording
//! it in the ledger. A record the ledger refused is made by the sweep once
//! it is taken again; an instance killed right after the rename records
//! the application when it starts again, and the redelivery stores nothing
//! twice. As deployed: processes, a stand-in Bot API, a real
//! `redis-server`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

#[path = "support/common.rs"]
mod common;
#[path = "support/kyc.rs"]
mod kyc;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::redis_server;
use kyc::{deliver, start, submission, Backend, Kind};

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// The ledger's keys for stored applications.
const STORED: &str = "kyc:ledger:stored:";
/// How often the backend under test sweeps (`SWEEP_SECONDS`), and a margin
/// for a slow machine.
const SWEEP: Duration = Duration::from_secs(2);
const SWEEP_SECONDS: (&str, &str) = ("SWEEP_SECONDS", "2");
const MARGIN: Duration = Duration::from_secs(15);

/// `GET /applications/{id}/status`: the state the applicant's page shows.
async fn state(http: &reqwest::Client, backend: &str, application: &str) -> String {
    let response = http
        .get(format!("{backend}/applications/{application}/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    body["state"].as_str().unwrap().to_owned()
}

/// The ledger's record that `application` is stored, read in Redis itself.
fn recorded(port: u16, application: &str) -> bool {
    redis_server::cli(port, &["EXISTS", &format!("{STORED}{application}")]) == "1"
}

/// ACL key patterns granting every key except those starting with
/// `prefix` (an ACL grants by pattern and cannot except): each pattern
/// agrees with `prefix` up to one place and differs there.
fn every_key_but(prefix: &str) -> Vec<String> {
    prefix
        .char_indices()
        .map(|(at, differs)| format!("~{}[^{differs}]*", &prefix[..at]))
        .collect()
}

/// Stops a backend run under `strace` and the process it traces, which
/// outlives a killed `strace` (holding the test's output open) if the
/// fault was not injected.
fn stop_traced(traced: Backend) {
    let pid = traced.child.id();
    let traced_pids = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    for traced_pid in traced_pids.split_whitespace() {
        let _ = std::process::Command::new("kill").args(["-KILL", traced_pid]).status();
    }
    drop(traced);
}

fn downloads(api: &kyc::BotApi) -> usize {
    api.get_file_calls.load(Ordering::SeqCst)
}

fn same_photos(data: &Path, application: &str, good: &kyc::Submission) {
    for (name, bytes) in &good.photos {
        assert_eq!(&std::fs::read(data.join(application).join(name)).unwrap(), bytes);
    }
}

/// The backend's Redis user may read the records of stored applications
/// but not write them: the application is stored and the delivery
/// answered 200, its page says `waiting`, and the claim file stays as the
/// note of what is to be recorded. Once the write is allowed again, the
/// sweep records it and the page says `accepted`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(no_redis_server, ignore = "needs redis-server (apt-get install redis-server)")]
async fn a_record_the_ledger_refused_is_made_by_the_sweep() {
    let redis = redis_server::start();
    let port = redis.port.to_string();
    let mut rules = vec!["ACL", "SETUSER", "kyc", "reset", "on", ">kyc-password", "+@all"];
    let keys = every_key_but(STORED);
    let read_only = format!("%R~{STORED}*");
    rules.extend(keys.iter().map(String::as_str));
    rules.push(&read_only);
    assert_eq!(redis_server::cli(redis.port, &rules), "OK");
    let url = format!("redis://kyc:kyc-password@127.0.0.1:{port}/");
    let (api, api_url) = kyc::bot_api().await;
    let data = kyc::data_dir("record-refused");
    let backend = Backend::start_with(&api_url, &data, Some(&url), &[SWEEP_SECONDS]);
    // Another instance, with its own data folder: it knows only what the ledger says.
    let other_data = kyc::data_dir("record-refused-other");
    let other = Backend::start_with(&api_url, &other_data, Some(&url), &[SWEEP_SECONDS]);
    let http = kyc::client(LOCAL);
    let (application, request) = start(&http, &backend.url).await.unwrap();
    let good = submission(&api, &request, 12_001, Kind::Good);

    assert_eq!(
        deliver(&http, &backend.url, &good).await,
        200,
        "stored: nothing to retry"
    );
    same_photos(&data, &application, &good);
    assert!(!recorded(redis.port, &application), "the ledger refused the record");
    // The instance that stored it says so from its folder; the other waits for the ledger.
    assert_eq!(state(&http, &backend.url, &application).await, "accepted");
    assert_eq!(state(&http, &other.url, &application).await, "waiting");
    assert_eq!(kyc::folders(&data), (1, 1), "the claim file kept until recorded");
    assert_eq!(deliver(&http, &backend.url, &good).await, 200);

    assert_eq!(
        redis_server::cli(redis.port, &["ACL", "SETUSER", "kyc", "allkeys"]),
        "OK"
    );
    let restored = Instant::now();
    while state(&http, &other.url, &application).await != "accepted" {
        assert!(
            restored.elapsed() < SWEEP + MARGIN,
            "still not accepted a sweep after the ledger took records again"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(recorded(redis.port, &application));
    assert_eq!(kyc::folders(&data), (1, 0), "the claim file gone once recorded");
    assert_eq!(api.messages.lock().unwrap().len(), 0, "the applicant told nothing");
    std::fs::remove_dir_all(&data).unwrap();
    std::fs::remove_dir_all(&other_data).unwrap();
}

/// An in-memory instance restarted forgets its ledger; the applicant's
/// page still says `accepted` for what its folder holds, and a link to
/// it says the application is finished.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_in_memory_instance_still_says_accepted() {
    let (api, api_url) = kyc::bot_api().await;
    let data = kyc::data_dir("restarted-accepted");
    let http = kyc::client(LOCAL);
    let backend = Backend::start(&api_url, &data, None);
    let (application, request) = start(&http, &backend.url).await.unwrap();
    let good = submission(&api, &request, 12_003, Kind::Good);
    assert_eq!(deliver(&http, &backend.url, &good).await, 200);
    drop(backend);
    let backend = Backend::start(&api_url, &data, None);
    assert_eq!(state(&http, &backend.url, &application).await, "accepted");
    assert_eq!(
        kyc::fresh_request(&http, &backend.url, &application).await.unwrap_err(),
        (410, "finished".to_owned())
    );
    std::fs::remove_dir_all(&data).unwrap();
}

/// Killed (SIGKILL injected) right after the rename that stores the
/// application, as it opens the data folder to sync it, before anything
/// is recorded: the next start records it, the page says `accepted`, and
/// the redelivery is finished without downloading or storing again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    any(no_strace, no_redis_server),
    ignore = "needs strace and redis-server (apt-get install strace redis-server)"
)]
async fn killed_between_the_rename_and_the_record_is_recorded_at_start() {
    let redis = redis_server::start();
    let (api, api_url) = kyc::bot_api().await;
    let data = kyc::data_dir("killed-unrecorded");
    // There before the backend starts, so that the path to trace is its own.
    std::fs::create_dir_all(&data).unwrap();
    let (strace, folder) = (kyc::strace(), data.to_string_lossy().into_owned());
    let traced = Backend::start_under(
        &[
            &strace,
            "-f",
            "-o",
            "/dev/null",
            "-P",
            &folder,
            "-e",
            "inject=openat:signal=SIGKILL",
        ],
        &api_url,
        &data,
        Some(&redis.url),
        &[],
    );
    let http = kyc::client(LOCAL);
    let (application, request) = start(&http, &traced.url).await.unwrap();
    let good = submission(&api, &request, 12_002, Kind::Good);
    let answer = kyc::send(&http, &traced.url, &good).await;
    stop_traced(traced);
    assert!(answer.is_err(), "killed before it answered");
    same_photos(&data, &application, &good);
    assert!(!recorded(redis.port, &application), "killed before the record");
    assert_eq!(kyc::folders(&data), (1, 1), "the claim file beside the drafts");

    let backend = Backend::start(&api_url, &data, Some(&redis.url));
    assert_eq!(state(&http, &backend.url, &application).await, "accepted");
    assert_eq!(kyc::folders(&data), (1, 0), "recorded at start");
    let before = downloads(&api);
    assert_eq!(deliver(&http, &backend.url, &good).await, 200);
    assert_eq!(downloads(&api), before, "nothing downloaded again");
    same_photos(&data, &application, &good);
    assert_eq!(kyc::folders(&data), (1, 0), "nothing stored twice");
    assert_eq!(api.messages.lock().unwrap().len(), 0, "the applicant told nothing");
    std::fs::remove_dir_all(&data).unwrap();
}
