//! The KYC example under load, release build, on loopback: submissions per
//! second through one and through two instances sharing one Redis; the
//! resident memory of an instance after 200 000 `/start` calls (from one
//! client, and spread over 20 000 clients); and how long the webhook takes
//! to answer while Redis is stalled (SIGSTOP).
//!
//! ```text
//! cargo bench -p kyc-backend --bench load
//! ```
//!
//! Needs `redis-server`. Clients, the stand-in Bot API, the instances and
//! Redis share the machine's cores, so the rates are for comparison.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

#[path = "../tests/support/common.rs"]
mod common;
#[path = "../tests/support/kyc.rs"]
mod kyc;
use common::redis_server;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Instant;

use kyc::{deliver, start, submission, Backend, BotApi, Kind};

const CLIENTS: usize = 8;
const EACH: usize = 50;
/// The throughput runs' clients each open many applications.
const UNLIMITED: &[(&str, &str)] = &[("STARTS_PER_CLIENT", "65535")];

/// `CLIENTS` concurrent applicants, each through `EACH` applications
/// (start, seal, deliver), round-robin over `backends`; submissions/s.
async fn throughput(api: &Arc<BotApi>, backends: &[String]) -> f64 {
    let started = Instant::now();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (api, backends) = (Arc::clone(api), backends.to_vec());
            tokio::spawn(async move {
                let http = kyc::client(IpAddr::V4(Ipv4Addr::new(127, 2, 0, client as u8)));
                for n in 0..EACH {
                    let user = client * EACH + n;
                    let backend = &backends[user % backends.len()];
                    let (_, request) = start(&http, backend).await.unwrap();
                    let good = submission(&api, &request, user as i64, Kind::Good);
                    assert_eq!(deliver(&http, backend, &good).await, 200);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    (CLIENTS * EACH) as f64 / started.elapsed().as_secs_f64()
}

/// 200 000 `/start` calls over `clients` source addresses, 16 at a time,
/// each on a new connection; (answers 200, other answers, resident memory
/// before and after in KiB).
async fn flood(backend: &Arc<Backend>, clients: usize) -> (usize, usize, u64, u64) {
    const CALLS: usize = 200_000;
    let before = backend.rss_kib();
    let tasks: Vec<_> = (0..16)
        .map(|worker| {
            let backend = Arc::clone(backend);
            tokio::spawn(async move {
                let mut answers = (0, 0);
                for call in (worker..CALLS).step_by(16) {
                    let client = call % clients;
                    let source = IpAddr::V4(Ipv4Addr::new(127, 3, (client >> 8) as u8, client as u8));
                    match kyc::raw_start(&backend.url, source).await {
                        200 => answers.0 += 1,
                        _ => answers.1 += 1,
                    }
                }
                answers
            })
        })
        .collect();
    let mut answers = (0, 0);
    for task in tasks {
        let (ok, other) = task.await.unwrap();
        answers = (answers.0 + ok, answers.1 + other);
    }
    (answers.0, answers.1, before, backend.rss_kib())
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench` asks every bench target for its list
    }
    let redis = redis_server::start();
    let (api, api_url) = kyc::bot_api().await;
    let data = kyc::data_dir("load");
    println!(
        "kyc_backend, release build, {} submissions from {CLIENTS} clients per run:",
        CLIENTS * EACH
    );
    for round in 1..=2 {
        let one = [Backend::start_with(&api_url, &data, Some(&redis.url), UNLIMITED)];
        let rate_one = throughput(&api, &[one[0].url.clone()]).await;
        drop(one);
        let two = [
            Backend::start_with(&api_url, &data, Some(&redis.url), UNLIMITED),
            Backend::start_with(&api_url, &data, Some(&redis.url), UNLIMITED),
        ];
        let rate_two = throughput(&api, &[two[0].url.clone(), two[1].url.clone()]).await;
        drop(two);
        println!(
            "  run {round}: one instance on Redis {rate_one:.0} submissions/s, two instances {rate_two:.0} submissions/s ({:.2}x)",
            rate_two / rate_one
        );
        let _ = std::fs::remove_dir_all(&data);
    }

    for (clients, what) in [(1, "one client"), (20_000, "20 000 clients")] {
        let backend = Arc::new(Backend::start(&api_url, &data, None));
        let warm = kyc::client(IpAddr::V4(Ipv4Addr::new(127, 4, 0, 1)));
        let _ = start(&warm, &backend.url).await;
        let (ok, refused, before, after) = flood(&backend, clients).await;
        println!(
            "  200 000 /start calls from {what} (nonces in memory): {ok} opened, {refused} refused (429/503); resident memory {before} KiB -> {after} KiB"
        );
    }

    let backend = Backend::start_with(&api_url, &data, Some(&redis.url), UNLIMITED);
    let http = kyc::client(IpAddr::V4(Ipv4Addr::new(127, 5, 0, 1)));
    let mut waits = Vec::new();
    for user in 0..5 {
        let (_, request) = start(&http, &backend.url).await.unwrap();
        let good = submission(&api, &request, 9000 + user, Kind::Good);
        redis.signal("-STOP");
        let started = Instant::now();
        let status = deliver(&http, &backend.url, &good).await;
        waits.push(started.elapsed());
        redis.signal("-CONT");
        assert_eq!(status, 503);
        assert_eq!(deliver(&http, &backend.url, &good).await, 200);
    }
    waits.sort();
    println!(
        "  webhook while Redis is stalled: 503 after {:.2?} (median of 5; min {:.2?}, max {:.2?}); the store's timeouts are 2 s",
        waits[2], waits[0], waits[4]
    );
    drop(backend);
    let _ = std::fs::remove_dir_all(&data);
}
