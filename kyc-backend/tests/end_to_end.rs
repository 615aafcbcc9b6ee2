//! The `kyc_backend` service's binary end to end, as deployed: started as
//! processes with their environment, against a stand-in Bot API, with
//! nonces in memory or in a real `redis-server`. Accepted; replayed;
//! rejected → told → corrected under the same application; only elements
//! missing → re-requested; a failed download → retried and stored whole;
//! a `/start` flood → another applicant still served, memory flat; two
//! instances on one Redis → each submission stored once; Redis stalled →
//! fast 503s, no hang; Redis restarted → the next submission goes through.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

#[path = "support/common.rs"]
mod common;
#[path = "support/kyc.rs"]
mod kyc;

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kyc::{deliver, post, start, stored, submission, Backend, Kind, SECRET};
use telegram_passport::PassportRequest;

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn assert_owner_only(folder: &Path, names: impl IntoIterator<Item = String>) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(folder), 0o700, "application folder");
        assert_eq!(mode(folder.parent().unwrap()), 0o700, "data folder");
        for name in names {
            assert_eq!(mode(&folder.join(&name)), 0o600, "{name}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_replayed_rejected_and_corrected() {
    let (api, api_url) = kyc::bot_api().await;
    let data = kyc::data_dir("flow");
    let backend = Backend::start(&api_url, &data, None);
    let http = kyc::client(LOCAL);

    // Accepted: the values and byte-identical photos, owner-only, appear at once.
    let (application, request) = start(&http, &backend.url).await.unwrap();
    let good = submission(&api, &request, 1001, Kind::Good);
    assert_eq!(deliver(&http, &backend.url, &good).await, 200);
    let values = stored(&data, &application).expect("application stored");
    assert_eq!(values["application_id"], application.as_str());
    assert_eq!(values["telegram_user_id"], 1001);
    assert_eq!(values["passport"]["elements"][0]["data"]["first_name_native"], "Анна");
    assert_eq!(values["passport"]["elements"][1]["data"]["document_no"], "ID-77");
    for (name, bytes) in &good.photos {
        assert_eq!(
            &std::fs::read(data.join(&application).join(name)).unwrap(),
            bytes,
            "{name}"
        );
    }
    let names = good
        .photos
        .iter()
        .map(|(name, _)| name.clone())
        .chain(["application.json".to_owned()]);
    assert_owner_only(&data.join(&application), names);
    assert_eq!(api.get_file_calls.load(Ordering::SeqCst), 3);
    assert_eq!(kyc::folders(&data), (1, 0), "one folder, nothing left in .incoming");

    // Replayed: refused, nothing downloaded, reported or changed.
    assert_eq!(deliver(&http, &backend.url, &good).await, 200);
    assert_eq!(api.get_file_calls.load(Ordering::SeqCst), 3);
    assert!(api.errors.lock().unwrap().is_empty() && api.messages.lock().unwrap().is_empty());

    // Rejected: the exact error report, and a message to the user with a
    // fresh link for the same application.
    let (application, request) = start(&http, &backend.url).await.unwrap();
    let bad = submission(&api, &request, 2002, Kind::ExpiredNoSelfie);
    assert_eq!(deliver(&http, &backend.url, &bad).await, 200);
    assert!(stored(&data, &application).is_none());
    let errors = api.errors.lock().unwrap().clone();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["user_id"], 2002);
    let reported: Vec<(&str, &str)> = errors[0]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["source"].as_str().unwrap(), e["message"].as_str().unwrap()))
        .collect();
    assert_eq!(
        reported,
        [
            ("unspecified", "Please upload a selfie holding the document"),
            ("data", "The document expired on 01.01.2020")
        ]
    );
    let fresh = told(&api, &http, &backend.url, 2002, &request).await;
    // The old link stays refused: its update again changes nothing.
    assert_eq!(deliver(&http, &backend.url, &bad).await, 200);
    assert_eq!(
        (api.errors.lock().unwrap().len(), api.messages.lock().unwrap().len()),
        (1, 1)
    );
    // The corrected submission through the fresh link: the same application.
    let corrected = submission(&api, &fresh, 2002, Kind::Good);
    assert_eq!(deliver(&http, &backend.url, &corrected).await, 200);
    let values = stored(&data, &application).expect("the corrected application stored");
    assert_eq!(values["passport"]["elements"][1]["data"]["expiry_date"], "01.01.2035");

    // Only an element missing: no empty error report, a message that asks
    // for it with a fresh link, and the complete resubmission is accepted.
    let (application, request) = start(&http, &backend.url).await.unwrap();
    let partial = submission(&api, &request, 3003, Kind::NoAddress);
    assert_eq!(deliver(&http, &backend.url, &partial).await, 200);
    assert_eq!(
        api.errors.lock().unwrap().len(),
        1,
        "no setPassportDataErrors with errors: []"
    );
    let fresh = told(&api, &http, &backend.url, 3003, &request).await;
    let text = api.messages.lock().unwrap().last().unwrap()["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(text.contains("address"), "{text}");
    assert_eq!(
        deliver(&http, &backend.url, &submission(&api, &fresh, 3003, Kind::Good)).await,
        200
    );
    assert!(stored(&data, &application).is_some());

    // A wrong secret token gets 401, malformed JSON 400; the service goes on.
    let (application, request) = start(&http, &backend.url).await.unwrap();
    let next = submission(&api, &request, 4004, Kind::Good);
    assert_eq!(post(&http, &backend.url, next.update.to_string(), "wrong").await, 401);
    assert_eq!(post(&http, &backend.url, next.update.to_string(), "").await, 401);
    assert_eq!(
        post(&http, &backend.url, "{\"update_id\": ".to_owned(), SECRET).await,
        400
    );
    let text = "{\"update_id\": 5, \"message\": {\"text\": \"hi\"}}".to_owned();
    assert_eq!(post(&http, &backend.url, text, SECRET).await, 200);
    assert_eq!(deliver(&http, &backend.url, &next).await, 200);
    assert!(stored(&data, &application).is_some());
    assert_eq!(kyc::folders(&data), (4, 0));
    std::fs::remove_dir_all(&data).unwrap();
}

/// The last message must be to `user`, with one button to the page of
/// its application, which gives a request like `old` (same bot, key,
/// scope) under a new nonce.
async fn told(
    api: &kyc::BotApi,
    http: &reqwest::Client,
    backend: &str,
    user: i64,
    old: &PassportRequest,
) -> PassportRequest {
    let message = api.messages.lock().unwrap().last().unwrap().clone();
    assert_eq!(message["chat_id"], user);
    let fresh = kyc::relink(api, http, backend, user).await;
    assert_ne!(fresh.nonce(), old.nonce());
    assert_eq!(
        (fresh.bot_id(), fresh.public_key(), fresh.scope()),
        (old.bot_id(), old.public_key(), old.scope())
    );
    fresh
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_download_leaves_the_submission_retryable() {
    let (api, api_url) = kyc::bot_api().await;
    let data = kyc::data_dir("download");
    let backend = Backend::start(&api_url, &data, None);
    let http = kyc::client(LOCAL);
    let (application, request) = start(&http, &backend.url).await.unwrap();
    let good = submission(&api, &request, 1001, Kind::Good);
    // The second photo's getFile fails: 503, so Telegram delivers again.
    api.failing_get_file.store(2, Ordering::SeqCst);
    assert_eq!(deliver(&http, &backend.url, &good).await, 503);
    assert!(stored(&data, &application).is_none());
    assert_eq!(kyc::folders(&data), (0, 0), "no partial application left behind");
    // The redelivery goes through, complete.
    assert_eq!(deliver(&http, &backend.url, &good).await, 200);
    assert_eq!(api.get_file_calls.load(Ordering::SeqCst), 2 + 3);
    for (name, bytes) in &good.photos {
        assert_eq!(
            &std::fs::read(data.join(&application).join(name)).unwrap(),
            bytes,
            "{name}"
        );
    }
    assert!(stored(&data, &application).is_some());
    assert_eq!(kyc::folders(&data), (1, 0));
    std::fs::remove_dir_all(&data).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_flood_locks_out_no_one_and_memory_stays_flat() {
    let (api, api_url) = kyc::bot_api().await;
    let data = kyc::data_dir("flood");
    let backend = Arc::new(Backend::start(&api_url, &data, None));
    let flooder = kyc::client(LOCAL);
    // Warm up: the first requests make the server's buffers.
    let _ = start(&flooder, &backend.url).await;
    let before = backend.rss_kib();
    const CALLS: usize = 20_000;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (http, backend) = (flooder.clone(), Arc::clone(&backend));
            tokio::spawn(async move {
                let mut statuses = [0usize; 2];
                for _ in 0..CALLS / 8 {
                    match start(&http, &backend.url).await {
                        Ok(_) => statuses[0] += 1,
                        Err(429) => statuses[1] += 1,
                        Err(other) => panic!("/start answered {other}"),
                    }
                }
                statuses
            })
        })
        .collect();
    let mut statuses = [0usize; 2];
    for task in tasks {
        let [ok, limited] = task.await.unwrap();
        statuses[0] += ok;
        statuses[1] += limited;
    }
    let after = backend.rss_kib();
    // Ten per client and window, the warm-up included.
    assert_eq!(statuses, [9, CALLS - 9]);
    assert!(
        after < before + 4 * 1024,
        "resident memory {before} KiB before, {after} KiB after"
    );
    println!("{CALLS} /start calls from one client: {statuses:?} (200, 429); resident memory {before} -> {after} KiB");

    // Another applicant is served, start to stored.
    let other = kyc::client(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
    let (application, request) = start(&other, &backend.url).await.unwrap();
    let good = submission(&api, &request, 5005, Kind::Good);
    assert_eq!(deliver(&other, &backend.url, &good).await, 200);
    assert!(stored(&data, &application).is_some());
    std::fs::remove_dir_all(&data).unwrap();
}

/// 20 applications of three 10 MiB photos each, delivered at once, their
/// downloads paced as a slow network delivers them (256 KiB every 10 ms)
/// so that all 20 are downloading together: every photo streams from the
/// download into its draft, verified on the way, and the service's
/// resident memory rises by a small fraction of the 600 MiB in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_applications_of_three_10_mib_photos_stream_into_their_drafts() {
    let (api, api_url) = kyc::bot_api().await;
    let data = kyc::data_dir("streamed-photos");
    let backend = Backend::start(&api_url, &data, None);
    let streamed = deliver_at_once(&api, backend, 20, 10 << 20, "stored").await;
    for (application, sealed) in &streamed.applications {
        assert!(stored(&data, application).is_some(), "{application} stored");
        for (name, photo) in &sealed.photos {
            let written = std::fs::read(data.join(application).join(name)).unwrap();
            assert!(written == *photo, "{application}/{name} is the photo sent");
        }
    }
    // Before, each photo was held whole (and decrypted beside itself):
    // up to 20 MiB per download in flight, 400 MiB for these 20.
    assert!(
        streamed.rise_kib() < streamed.in_flight_kib / 10,
        "resident memory rose by {} KiB with {} KiB in flight",
        streamed.rise_kib(),
        streamed.in_flight_kib
    );
    std::fs::remove_dir_all(&data).unwrap();
}

/// What [`deliver_at_once`] sent, and the service's memory meanwhile.
struct Streamed {
    applications: Vec<(String, Arc<kyc::Submission>)>,
    in_flight_kib: u64,
    before: u64,
    peak: u64,
}

impl Streamed {
    fn rise_kib(&self) -> u64 {
        self.peak - self.before
    }
}

/// `count` applications of three `photo`-byte photos, delivered to
/// `backend` at once, their downloads paced (256 KiB every 10 ms) so that
/// all are in flight together; the resident memory sampled every 10 ms
/// and printed, with what happened to them (`outcome`).
async fn deliver_at_once(api: &Arc<kyc::BotApi>, backend: Backend, count: u8, photo: usize, outcome: &str) -> Streamed {
    let backend = Arc::new(backend);
    // Sealed on both cores: the client side encrypts them all.
    let mut sealing = Vec::new();
    for n in 0..count {
        let http = kyc::client(IpAddr::V4(Ipv4Addr::new(127, 0, 3, n + 1)));
        let (application, request) = start(&http, &backend.url).await.unwrap();
        let (api, user) = (Arc::clone(api), 7000 + i64::from(n));
        let sealed =
            tokio::task::spawn_blocking(move || kyc::submission_sized(&api, &request, user, Kind::Good, Some(photo)));
        sealing.push((http, application, sealed));
    }
    let mut applications = Vec::new();
    for (http, application, sealed) in sealing {
        applications.push((http, application, Arc::new(sealed.await.unwrap())));
    }
    api.download_pace_ms.store(10, Ordering::SeqCst);
    let before = backend.rss_kib();
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(before));
    let sampler = {
        let (backend, peak) = (Arc::clone(&backend), Arc::clone(&peak));
        tokio::spawn(async move {
            loop {
                peak.fetch_max(backend.rss_kib(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let started = Instant::now();
    let deliveries: Vec<_> = applications
        .iter()
        .map(|(http, _, sealed)| {
            let (http, url, sealed) = (http.clone(), backend.url.clone(), Arc::clone(sealed));
            tokio::spawn(async move { deliver(&http, &url, &sealed).await })
        })
        .collect();
    for delivery in deliveries {
        assert_eq!(delivery.await.unwrap(), 200);
    }
    let took = started.elapsed();
    sampler.abort();
    let peak = peak.load(Ordering::Relaxed);
    let in_flight_kib = u64::from(count) * 3 * (photo as u64 / 1024);
    println!(
        "{count} applications of three {} MiB photos ({} MiB) delivered at once, {outcome} in {:.1} s: \
         resident memory {before} KiB before, peak {peak} KiB (a rise of {} KiB)",
        photo >> 20,
        in_flight_kib / 1024,
        took.as_secs_f64(),
        peak - before,
    );
    Streamed {
        applications: applications
            .into_iter()
            .map(|(_, application, sealed)| (application, sealed))
            .collect(),
        in_flight_kib,
        before,
        peak,
    }
}

/// With `ARCHIVE_RECIPIENTS`, every file of an application is stored
/// encrypted to the reviewer as it streams in: nothing in the data folder
/// holds a photo's bytes or the applicant's data in plaintext, and the
/// `age` tool, with the reviewer's identity, gives back each photo byte for
/// byte and the application's values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(no_age, ignore = "needs age (apt-get install age)")]
async fn applications_are_stored_encrypted_to_the_reviewers() {
    let keys = kyc::data_dir("age-keys");
    std::fs::create_dir_all(&keys).unwrap();
    let identity = keys.join("reviewer.txt");
    let made = std::process::Command::new("age-keygen")
        .arg("-o")
        .arg(&identity)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "age-keygen: {}",
        String::from_utf8_lossy(&made.stderr)
    );
    let recipient = String::from_utf8_lossy(&made.stderr)
        .lines()
        .find_map(|line| line.strip_prefix("Public key: ").map(str::to_owned))
        .expect("age-keygen prints the public key");
    let (api, api_url) = kyc::bot_api().await;
    let data = kyc::data_dir("encrypted");
    let backend = Backend::start_with(&api_url, &data, None, &[("ARCHIVE_RECIPIENTS", &recipient)]);
    let http = kyc::client(LOCAL);
    let (application, request) = start(&http, &backend.url).await.unwrap();
    let good = submission(&api, &request, 4242, Kind::Good);
    assert_eq!(deliver(&http, &backend.url, &good).await, 200);

    let folder = data.join(&application);
    let mut names: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.iter().all(|name| name.ends_with(".age")), "{names:?}");
    assert!(names.contains(&"application.json.age".to_owned()), "{names:?}");
    assert_owner_only(&folder, names.clone());
    let decrypt = |name: &str| {
        let out = std::process::Command::new("age")
            .arg("-d")
            .arg("-i")
            .arg(&identity)
            .arg(folder.join(name))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "age -d {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    for (name, bytes) in &good.photos {
        assert_eq!(&decrypt(&format!("{name}.age")), bytes, "{name}");
    }
    let values: serde_json::Value = serde_json::from_slice(&decrypt("application.json.age")).unwrap();
    assert_eq!(values["application_id"], application.as_str());
    assert_eq!(values["telegram_user_id"], 4242);

    // No plaintext anywhere in the data folder: not a photo's bytes, not
    // the applicant's values.
    let needles: Vec<Vec<u8>> = good
        .photos
        .iter()
        .map(|(_, bytes)| bytes[bytes.len() / 2..][..1024].to_vec())
        .chain(["Ivanova", "Unter den Linden"].map(|value| value.as_bytes().to_vec()))
        .collect();
    assert!(
        serde_json::to_string(&values).unwrap().contains("Ivanova"),
        "the values hold the applicant's name"
    );
    let mut files = vec![data.clone()];
    let mut scanned = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|entry| entry.unwrap().path()));
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        for needle in &needles {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == &needle[..]),
                "plaintext in {}",
                path.display()
            );
        }
        scanned += 1;
    }
    assert!(scanned >= names.len());

    // What the service says at start: encrypted, or (without recipients)
    // plaintext, in its log.
    for (recipients, said) in [
        (Some(recipient.as_str()), "stored encrypted to the ARCHIVE_RECIPIENTS"),
        (
            None,
            "ARCHIVE_RECIPIENTS is not set: applications are stored in plaintext",
        ),
    ] {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = keys.join(format!("start-{port}.log"));
        let mut env = vec![("RUST_LOG", "info")];
        env.extend(recipients.map(|r| ("ARCHIVE_RECIPIENTS", r)));
        let started = Backend::start_on(&api_url, &data, port, &env, &log);
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.contains(said), "{said:?} not in: {text}");
        drop(started);
    }
    std::fs::remove_dir_all(&data).unwrap();
    std::fs::remove_dir_all(&keys).unwrap();
}

/// Two instances on one shared store (`shared`: the setting that names it),
/// each with its own data folder (two machines), behind a "load balancer"
/// that sends each start to one and delivers each update to both at once:
/// one works on it (each photo downloaded once), the other is answered 503
/// with `Retry-After`, and its redelivery 200; every application is stored
/// exactly once, complete.
async fn two_instances_store_each_submission_once(shared: (&str, &str)) {
    let (api, api_url) = kyc::bot_api().await;
    // Slow enough downloads that the two deliveries overlap.
    api.download_delay_ms.store(30, Ordering::SeqCst);
    let data = [kyc::data_dir("two-a"), kyc::data_dir("two-b")];
    let backends = [
        Backend::start_with(&api_url, &data[0], None, &[shared]),
        Backend::start_with(&api_url, &data[1], None, &[shared]),
    ];
    let urls: Vec<String> = backends.iter().map(|b| b.url.clone()).collect();
    let mut applications = Vec::new();
    let mut retry_afters = 0;
    for user in 0..20 {
        let http = kyc::client(IpAddr::V4(Ipv4Addr::new(127, 0, 1, user as u8)));
        let (application, request) = start(&http, &urls[user % 2]).await.unwrap();
        let good = submission(&api, &request, user as i64, Kind::Good);
        let (a, b) = tokio::join!(
            kyc::deliver_answer(&http, &urls[0], &good),
            kyc::deliver_answer(&http, &urls[1], &good)
        );
        let mut answers = [a, b];
        answers.sort_by_key(|answer| answer.0);
        assert_eq!(answers[0].0, 200, "user {user}: one instance finished it");
        if answers[1].0 == 503 {
            let after: u64 = answers[1].1.as_deref().expect("Retry-After").parse().unwrap();
            assert!((1..=60).contains(&after), "Retry-After: {after}");
            retry_afters += 1;
        } else {
            assert_eq!(answers[1].0, 200, "user {user}");
        }
        // Telegram's redelivery of the 503, to either: finished, nothing downloaded.
        assert_eq!(deliver(&http, &urls[user % 2], &good).await, 200);
        applications.push((application, good));
    }
    assert!(retry_afters >= 10, "{retry_afters} of 20 overlapped");
    assert_eq!(
        api.get_file_calls.load(Ordering::SeqCst),
        20 * 3,
        "each photo downloaded once"
    );
    for (application, good) in &applications {
        let holders: Vec<&PathBuf> = data.iter().filter(|dir| dir.join(application).exists()).collect();
        assert_eq!(holders.len(), 1, "{application} stored in {holders:?}");
        for (name, bytes) in &good.photos {
            assert_eq!(&std::fs::read(holders[0].join(application).join(name)).unwrap(), bytes);
        }
    }
    let (a, b) = (kyc::folders(&data[0]), kyc::folders(&data[1]));
    assert_eq!((a.0 + b.0, a.1 + b.1), (20, 0), "{a:?} {b:?}");
    for dir in &data {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

/// The shared store `server` stalled (`signal` with `-STOP`, then
/// `-CONT`): /start and the webhook answer 503 within the store's timeout
/// instead of hanging, and the stalled submission goes through once it
/// resumes; after `restart` (killed, started again on its data) the next
/// submission goes through.
async fn a_stalled_then_restarted_store<S>(
    shared: (&str, &str),
    server: S,
    signal: impl Fn(&S, &str),
    restart: impl FnOnce(S) -> S,
) {
    let (api, api_url) = kyc::bot_api().await;
    let data = kyc::data_dir("stall");
    let backend = Backend::start_with(&api_url, &data, None, &[shared]);
    let http = kyc::client(LOCAL);
    let (application, request) = start(&http, &backend.url).await.unwrap();
    let good = submission(&api, &request, 7007, Kind::Good);

    signal(&server, "-STOP");
    let started = Instant::now();
    let status = deliver(&http, &backend.url, &good).await;
    let webhook = started.elapsed();
    let started = Instant::now();
    let opened = start(&http, &backend.url).await;
    let start_call = started.elapsed();
    signal(&server, "-CONT");
    assert_eq!(status, 503);
    assert_eq!(opened.map(|_| ()), Err(503));
    // Two-second store timeouts; generous bounds: the point is no hang.
    assert!(webhook < Duration::from_secs(8), "{webhook:?}");
    assert!(start_call < Duration::from_secs(8), "{start_call:?}");
    println!(
        "while {} was stalled: webhook answered 503 in {webhook:.2?}, /start in {start_call:.2?}",
        shared.0
    );
    assert!(stored(&data, &application).is_none());
    assert_eq!(deliver(&http, &backend.url, &good).await, 200);
    assert!(stored(&data, &application).is_some());

    let (application, request) = start(&http, &backend.url).await.unwrap();
    let next = submission(&api, &request, 8008, Kind::Good);
    let _server = restart(server);
    let mut status = deliver(&http, &backend.url, &next).await;
    // A server still recovering answers "come back later": so does the service.
    for _ in 0..20 {
        if status != 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        status = deliver(&http, &backend.url, &next).await;
    }
    assert_eq!(status, 200);
    assert!(stored(&data, &application).is_some());
    std::fs::remove_dir_all(&data).unwrap();
}

mod on_redis {
    use super::*;
    use common::redis_server;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(no_redis_server, ignore = "needs redis-server (apt-get install redis-server)")]
    async fn two_instances_store_each_submission_once() {
        let redis = redis_server::start();
        super::two_instances_store_each_submission_once(("REDIS_URL", &redis.url)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(no_redis_server, ignore = "needs redis-server (apt-get install redis-server)")]
    async fn a_stalled_then_restarted_redis() {
        let redis = redis_server::start_persistent();
        let url = redis.url.clone();
        a_stalled_then_restarted_store(
            ("REDIS_URL", &url),
            redis,
            |redis, signal| redis.signal(signal),
            |redis| redis.restart(),
        )
        .await;
    }
}

mod on_postgres {
    use super::*;
    use telegram_passport_dev_support::postgres_server::{self, psql};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(no_postgres_server, ignore = "needs postgresql (apt-get install postgresql)")]
    async fn two_instances_store_each_submission_once() {
        let postgres = postgres_server::start();
        super::two_instances_store_each_submission_once(("DATABASE_URL", &postgres.url)).await;
        // What the instances shared is in the database: the ledger's facts
        // and the nonces, each consumed by a claim.
        let stored = psql(
            &postgres,
            "SELECT count(*) FROM kyc_ledger WHERE key LIKE 'kyc:ledger:stored:%'",
        )
        .unwrap();
        assert_eq!(stored, "20");
        let consumed = psql(
            &postgres,
            "SELECT count(*) FROM telegram_passport_nonces WHERE consumed_by LIKE 'claim:%'",
        )
        .unwrap();
        assert_eq!(consumed, "20");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(no_postgres_server, ignore = "needs postgresql (apt-get install postgresql)")]
    async fn a_stalled_then_restarted_postgres() {
        let postgres = postgres_server::start();
        let url = postgres.url.clone();
        a_stalled_then_restarted_store(
            ("DATABASE_URL", &url),
            postgres,
            |postgres, signal| postgres.signal(signal),
            |postgres| postgres.restart(),
        )
        .await;
    }

    /// What a request is refused with, and the ledger's rows about `id`.
    async fn gone(http: &reqwest::Client, backend: &str, postgres: &postgres_server::Server, id: &str) {
        let refused = kyc::fresh_request(http, backend, id).await.map(drop);
        assert_eq!(refused, Err((404, "unknown".to_owned())));
        let status = kyc::status(http, backend, id).await;
        assert_ne!(status["state"], "accepted", "{status}");
        let rows = psql(
            postgres,
            &format!("SELECT count(*) FROM kyc_ledger WHERE key LIKE '%:{id}'"),
        )
        .unwrap();
        assert_eq!(rows, "0", "the ledger forgot {id}");
    }

    /// `kyc_backend --erase ID`, with the service's settings: the
    /// application's folder and the ledger's facts about it go; another
    /// application stays; erasing again finds nothing and still succeeds;
    /// an id that is not one is refused.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(no_postgres_server, ignore = "needs postgresql (apt-get install postgresql)")]
    async fn an_application_is_erased_everywhere_it_is_kept() {
        let postgres = postgres_server::start();
        let (api, api_url) = kyc::bot_api().await;
        let data = kyc::data_dir("erase");
        let shared = ("DATABASE_URL", postgres.url.as_str());
        let backend = Backend::start_with(&api_url, &data, None, &[shared]);
        let http = kyc::client(LOCAL);
        let mut applications = Vec::new();
        for user in [501, 502] {
            let (application, request) = start(&http, &backend.url).await.unwrap();
            assert_eq!(
                deliver(&http, &backend.url, &submission(&api, &request, user, Kind::Good)).await,
                200
            );
            applications.push(application);
        }
        let erase = |id: &str| kyc::run_command(&["--erase", id], &data, &[shared]);
        let erased = erase(&applications[0]);
        let said = String::from_utf8_lossy(&erased.stdout).into_owned();
        assert!(
            erased.status.success(),
            "{said}{}",
            String::from_utf8_lossy(&erased.stderr)
        );
        assert!(said.contains("removed from the archive"), "{said}");
        assert!(!data.join(&applications[0]).exists());
        gone(&http, &backend.url, &postgres, &applications[0]).await;
        // The other application is untouched.
        assert!(stored(&data, &applications[1]).is_some());
        let rows = psql(
            &postgres,
            &format!("SELECT count(*) FROM kyc_ledger WHERE key LIKE '%:{}'", applications[1]),
        );
        assert_ne!(rows.unwrap(), "0");
        // Again: nothing left, still a success.
        let again = erase(&applications[0]);
        assert!(again.status.success());
        assert!(String::from_utf8_lossy(&again.stdout).contains("not in the archive"));
        assert_eq!(erase("../etc").status.code(), Some(2));
        std::fs::remove_dir_all(&data).unwrap();
    }

    /// `RETENTION_SECONDS`: the sweep erases each application that long
    /// after it was stored, folder and ledger facts, and nothing younger.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(no_postgres_server, ignore = "needs postgresql (apt-get install postgresql)")]
    async fn applications_past_their_retention_are_erased() {
        let postgres = postgres_server::start();
        let (api, api_url) = kyc::bot_api().await;
        let data = kyc::data_dir("retention");
        let env = [
            ("DATABASE_URL", postgres.url.as_str()),
            ("RETENTION_SECONDS", "3"),
            ("SWEEP_SECONDS", "1"),
        ];
        let backend = Backend::start_with(&api_url, &data, None, &env);
        let http = kyc::client(LOCAL);
        let (old, request) = start(&http, &backend.url).await.unwrap();
        assert_eq!(
            deliver(&http, &backend.url, &submission(&api, &request, 601, Kind::Good)).await,
            200
        );
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let (young, request) = start(&http, &backend.url).await.unwrap();
        assert_eq!(
            deliver(&http, &backend.url, &submission(&api, &request, 602, Kind::Good)).await,
            200
        );
        let started = Instant::now();
        while data.join(&old).exists() {
            assert!(started.elapsed() < Duration::from_secs(10), "not erased in time");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        gone(&http, &backend.url, &postgres, &old).await;
        assert!(stored(&data, &young).is_some(), "a younger application stays");
        std::fs::remove_dir_all(&data).unwrap();
    }
}

mod on_object_storage {
    use super::*;
    use futures_util::StreamExt as _;
    use object_store::{ObjectStore, ObjectStoreExt as _};
    use telegram_passport_dev_support::{azurite_server, postgres_server, s3_server};

    /// The object at `key`: its bytes, or `None` if there is none.
    async fn get(bucket: &dyn ObjectStore, key: &str) -> Option<Vec<u8>> {
        match bucket.get(&object_store::path::Path::from(key)).await {
            Ok(found) => Some(found.bytes().await.unwrap().to_vec()),
            Err(object_store::Error::NotFound { .. }) => None,
            Err(error) => panic!("{key}: {error}"),
        }
    }

    /// The keys under `prefix`.
    async fn keys(bucket: &dyn ObjectStore, prefix: &str) -> Vec<String> {
        let prefix = object_store::path::Path::from(prefix);
        let listed: Vec<_> = bucket.list(Some(&prefix)).collect().await;
        listed
            .into_iter()
            .map(|meta| meta.unwrap().location.to_string())
            .collect()
    }

    /// A reviewer's age identity (a file) and its recipient.
    fn reviewer(keys: &Path) -> (PathBuf, String) {
        std::fs::create_dir_all(keys).unwrap();
        let identity = keys.join("reviewer.txt");
        let made = std::process::Command::new("age-keygen")
            .arg("-o")
            .arg(&identity)
            .output()
            .unwrap();
        assert!(made.status.success(), "age-keygen");
        let recipient = String::from_utf8_lossy(&made.stderr)
            .lines()
            .find_map(|line| line.strip_prefix("Public key: ").map(str::to_owned))
            .unwrap();
        (identity, recipient)
    }

    /// `age -d` of `bytes` with `identity`.
    fn decrypt(identity: &Path, bytes: &[u8], scratch: &Path) -> Vec<u8> {
        let sealed = scratch.join("sealed.age");
        std::fs::write(&sealed, bytes).unwrap();
        let out = std::process::Command::new("age")
            .arg("-d")
            .arg("-i")
            .arg(identity)
            .arg(&sealed)
            .output()
            .unwrap();
        assert!(out.status.success(), "age -d: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    }

    /// Two instances on one PostgreSQL commit to one S3-compatible server,
    /// encrypted to a reviewer, every update delivered to both at once:
    /// each application appears exactly once (one manifest, created by a
    /// conditional create), whole, each photo byte for byte after `age -d`;
    /// nothing is left on either instance's disk; the page says accepted;
    /// `--erase` removes the application's objects.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        any(no_s3_server, no_postgres_server, no_age),
        ignore = "needs moto_server, postgresql and age (pip install 'moto[server]'; apt-get install postgresql age)"
    )]
    async fn two_instances_commit_each_application_once_to_object_storage() {
        let s3 = s3_server::start();
        s3.create_bucket("kyc");
        let store = kyc::bucket(&s3.endpoint);
        commit_each_application_once("s3://kyc/applications-2026", &kyc::s3_env(&s3.endpoint, "test"), &store).await;
    }

    /// The same on Azure Blob Storage (Azurite), configured by the standard
    /// emulator settings.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        any(no_azurite, no_postgres_server, no_age),
        ignore = "needs azurite, postgresql and age (npm install azurite; apt-get install postgresql age)"
    )]
    async fn two_instances_commit_each_application_once_to_azure_blob_storage() {
        let azurite = azurite_server::start();
        azurite.create_container("kyc");
        let store = kyc::container(&azurite.endpoint);
        commit_each_application_once("az://kyc/applications-2026", &azurite.env(), &store).await;
    }

    /// Two instances commit to `archive_url` (under `applications-2026`,
    /// with `store_env`), read back through `store`.
    async fn commit_each_application_once(archive_url: &str, store_env: &[(&str, String)], store: &dyn ObjectStore) {
        let postgres = postgres_server::start();
        let scratch = kyc::data_dir("objects-keys");
        let (identity, recipient) = reviewer(&scratch);
        let (api, api_url) = kyc::bot_api().await;
        api.download_delay_ms.store(30, Ordering::SeqCst);
        let data = [kyc::data_dir("objects-a"), kyc::data_dir("objects-b")];
        let mut env = vec![
            ("DATABASE_URL", postgres.url.as_str()),
            ("ARCHIVE_URL", archive_url),
            ("ARCHIVE_RECIPIENTS", recipient.as_str()),
        ];
        env.extend(store_env.iter().map(|(name, value)| (*name, value.as_str())));
        let backends = [
            Backend::start_with(&api_url, &data[0], None, &env),
            Backend::start_with(&api_url, &data[1], None, &env),
        ];
        let urls: Vec<String> = backends.iter().map(|b| b.url.clone()).collect();
        let mut applications = Vec::new();
        for user in 0..8 {
            let http = kyc::client(IpAddr::V4(Ipv4Addr::new(127, 0, 5, user as u8)));
            let (application, request) = start(&http, &urls[user % 2]).await.unwrap();
            let good = submission(&api, &request, 900 + user as i64, Kind::Good);
            let (a, b) = tokio::join!(
                kyc::deliver_answer(&http, &urls[0], &good),
                kyc::deliver_answer(&http, &urls[1], &good)
            );
            assert!(a.0 == 200 || b.0 == 200, "user {user}: {a:?} {b:?}");
            assert_eq!(deliver(&http, &urls[user % 2], &good).await, 200);
            applications.push((application, good));
        }
        let manifests = keys(store, "applications-2026/applications").await;
        assert_eq!(manifests.len(), applications.len(), "{manifests:?}");
        for (application, good) in &applications {
            let manifest = get(store, &format!("applications-2026/applications/{application}.json")).await;
            let manifest: serde_json::Value = serde_json::from_slice(&manifest.expect(application)).unwrap();
            let files: Vec<(String, String)> = serde_json::from_value(manifest["files"].clone()).unwrap();
            assert!(
                files.iter().any(|(name, _)| name == "application.json.age"),
                "{files:?}"
            );
            for (name, bytes) in &good.photos {
                let object = &files.iter().find(|(n, _)| *n == format!("{name}.age")).expect(name).1;
                let sealed = get(store, object).await.expect(object);
                assert!(
                    !sealed.windows(512).any(|w| w == &bytes[bytes.len() / 2..][..512]),
                    "plaintext in {object}"
                );
                assert_eq!(&decrypt(&identity, &sealed, &scratch), bytes, "{name}");
            }
            let status = kyc::status(&kyc::client(LOCAL), &urls[1], application).await;
            assert_eq!(status["state"], "accepted");
        }
        // Every file object belongs to a manifest: nothing of a losing
        // writer is left behind.
        let objects = keys(store, "applications-2026/files").await;
        let per_application = applications[0].1.photos.len() + 1;
        assert_eq!(objects.len(), applications.len() * per_application, "{objects:?}");
        // Nothing on the instances' disks: no folder, no draft, no note.
        for dir in &data {
            let left: Vec<_> = std::fs::read_dir(dir.join(".incoming")).unwrap().collect();
            assert!(left.is_empty(), "{left:?}");
            assert_eq!(kyc::folders(dir), (0, 0));
        }

        // Erased: the manifest and the files go.
        let (erased, _) = &applications[0];
        let out = kyc::run_command(&["--erase", erased], &data[0], &env);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(get(store, &format!("applications-2026/applications/{erased}.json"))
            .await
            .is_none());
        let left = keys(store, "applications-2026/files").await;
        assert_eq!(left.len(), (applications.len() - 1) * per_application);
        for dir in data.iter().chain([&scratch]) {
            std::fs::remove_dir_all(dir).unwrap();
        }
    }

    /// 8 applications of three 10 MiB photos, delivered at once, committed
    /// to the S3-compatible server encrypted to a reviewer: each file is
    /// uploaded from its draft a 5 MiB part at a time, in the instance's
    /// four part buffers, so the service's resident memory rises by a
    /// bounded amount whatever the photos' size and the commits at once
    /// (printed); every photo decrypts to the bytes sent.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        any(no_s3_server, no_postgres_server),
        ignore = "needs moto_server and postgresql (pip install 'moto[server]'; apt-get install postgresql)"
    )]
    async fn applications_of_10_mib_photos_commit_in_bounded_memory() {
        const APPLICATIONS: u8 = 8;
        let s3 = s3_server::start();
        s3.create_bucket("kyc");
        let postgres = postgres_server::start();
        let reviewer = age::x25519::Identity::generate();
        let recipient = reviewer.to_public().to_string();
        let (api, api_url) = kyc::bot_api().await;
        let data = kyc::data_dir("objects-streamed");
        let s3_env = kyc::s3_env(&s3.endpoint, "test");
        let mut env = vec![
            ("DATABASE_URL", postgres.url.as_str()),
            ("ARCHIVE_URL", "s3://kyc/streamed"),
            ("ARCHIVE_RECIPIENTS", recipient.as_str()),
        ];
        env.extend(s3_env.iter().map(|(name, value)| (*name, value.as_str())));
        let backend = Backend::start_with(&api_url, &data, None, &env);
        let streamed = super::deliver_at_once(&api, backend, APPLICATIONS, 10 << 20, "committed").await;
        let store = kyc::bucket(&s3.endpoint);
        for (application, sealed) in &streamed.applications {
            let manifest = get(&store, &format!("streamed/applications/{application}.json")).await;
            let manifest: serde_json::Value = serde_json::from_slice(&manifest.expect(application)).unwrap();
            let files: Vec<(String, String)> = serde_json::from_value(manifest["files"].clone()).unwrap();
            for (name, photo) in &sealed.photos {
                let object = &files.iter().find(|(n, _)| *n == format!("{name}.age")).expect(name).1;
                let encrypted = get(&store, object).await.expect(object);
                let decrypted = age::decrypt(&reviewer, &encrypted).unwrap();
                assert!(decrypted == *photo, "{application}/{name} is the photo sent");
            }
        }
        // The instance's part buffers are 20 MiB, whatever the number of
        // commits at once; the downloads into the drafts take about 12 MiB
        // more (the same run into a folder). With a part buffer per part,
        // made anew each time, these 8 commits rose 86 to 110 MiB.
        assert!(
            streamed.rise_kib() < 64 << 10,
            "resident memory rose by {} KiB with {} KiB in flight",
            streamed.rise_kib(),
            streamed.in_flight_kib
        );
        std::fs::remove_dir_all(&data).unwrap();
    }

    /// The object storage down when a submission is committed: its nonce
    /// is consumed, the upload fails within the storage's timeouts, and the
    /// delivery is answered 503 with the sealed draft left on disk; once the
    /// storage is back, the sweep commits it, whole, and the redelivery is
    /// answered as finished.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        any(no_s3_server, no_postgres_server),
        ignore = "needs moto_server and postgresql (pip install 'moto[server]'; apt-get install postgresql)"
    )]
    async fn a_commit_the_storage_refused_is_finished_by_the_sweep() {
        let s3 = s3_server::start();
        s3.create_bucket("kyc");
        let postgres = postgres_server::start();
        let (api, api_url) = kyc::bot_api().await;
        let data = kyc::data_dir("objects-down");
        let s3_env = kyc::s3_env(&s3.endpoint, "test");
        let mut env = vec![
            ("DATABASE_URL", postgres.url.as_str()),
            ("ARCHIVE_URL", "s3://kyc/down"),
            ("SWEEP_SECONDS", "1"),
        ];
        env.extend(s3_env.iter().map(|(name, value)| (*name, value.as_str())));
        let backend = Backend::start_with(&api_url, &data, None, &env);
        let http = kyc::client(LOCAL);
        let (application, request) = start(&http, &backend.url).await.unwrap();
        let good = submission(&api, &request, 4343, Kind::Good);

        let crashed = tokio::task::spawn_blocking(move || s3.crash()).await.unwrap();
        let started = Instant::now();
        assert_eq!(deliver(&http, &backend.url, &good).await, 503);
        let answered = started.elapsed();
        assert!(answered < Duration::from_secs(30), "{answered:?}");
        let sealed: Vec<_> = std::fs::read_dir(data.join(".incoming")).unwrap().collect();
        assert!(!sealed.is_empty(), "the sealed draft waits on disk");

        let s3 = tokio::task::spawn_blocking(move || crashed.start()).await.unwrap();
        let store = kyc::bucket(&s3.endpoint);
        let key = format!("down/applications/{application}.json");
        let waited = Instant::now();
        let manifest = loop {
            if let Some(manifest) = get(&store, &key).await {
                break manifest;
            }
            assert!(waited.elapsed() < Duration::from_secs(20), "not committed by the sweep");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let manifest: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
        let files: Vec<(String, String)> = serde_json::from_value(manifest["files"].clone()).unwrap();
        for (name, bytes) in &good.photos {
            let object = &files.iter().find(|(n, _)| n == name).expect(name).1;
            assert_eq!(&get(&store, object).await.unwrap(), bytes, "{name}");
        }
        assert_eq!(deliver(&http, &backend.url, &good).await, 200);
        println!("with the storage down, the delivery was answered 503 in {answered:.2?}; the sweep committed it once it was back");
        std::fs::remove_dir_all(&data).unwrap();
    }
}
