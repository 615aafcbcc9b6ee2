//! The `kyc_backend` service's front door against hostile clients, through
//! its binary: the client address read as a load balancer writes it (every
//! header line, ports, IPv4 on a dual-stack listener) or refused, and
//! refused whole when the client's part of it does not parse; the start
//! limit shared by two instances on one Redis; a spread `/start` flood
//! beyond the nonce store's capacity that still lets an applicant through;
//! slow and stalled connections that neither hold memory nor stay open; a
//! webhook call with a wrong secret answered before its body is read.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

#[path = "support/common.rs"]
mod common;
#[path = "support/kyc.rs"]
mod kyc;

/// The example's client address parsing, with its table of cases.
#[allow(dead_code)]
#[path = "../src/client_ip.rs"]
mod client_ip;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kyc::{deliver, raw_request, start, stored, submission, Backend, Kind, SECRET};

fn address(backend: &Backend) -> SocketAddr {
    backend.url.trim_start_matches("http://").parse().unwrap()
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

/// `GET /start` `times` over, from 127.0.0.1 with these extra header
/// lines; the answers' statuses.
async fn starts(backend: &Backend, lines: &[&str], times: usize) -> Vec<u16> {
    let mut request = "GET /start HTTP/1.1\r\nHost: kyc\r\nConnection: close\r\n".to_owned();
    for line in lines {
        request.push_str(line);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    let mut statuses = Vec::new();
    for _ in 0..times {
        statuses.push(
            raw_request(address(backend), v4(127, 0, 0, 1), request.as_bytes())
                .await
                .0,
        );
    }
    statuses
}

/// Behind a load balancer that appends its own X-Forwarded-For line: the
/// balancer's entry counts, whatever the client wrote before it; a port
/// does not make a client the balancer; IPv4-mapped is IPv4; a missing or
/// unreadable entry is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_balancers_entry_counts() {
    let (_api, api_url) = kyc::bot_api().await;
    let data = kyc::data_dir("front-xff");
    let env = [("CLIENT_IP_HEADER", "x-forwarded-for"), ("STARTS_PER_CLIENT", "3")];
    let backend = Backend::start_with(&api_url, &data, None, &env);

    // The client's own line first, the balancer's second: counted by the
    // balancer's entry, so another client writing the same first line is
    // not charged.
    let own = &["X-Forwarded-For: 6.6.6.6", "X-Forwarded-For: 10.1.0.1"];
    assert_eq!(starts(&backend, own, 4).await, [200, 200, 200, 429]);
    let other = &["X-Forwarded-For: 6.6.6.6", "X-Forwarded-For: 10.1.0.2"];
    assert_eq!(starts(&backend, other, 1).await, [200]);
    let joined = &["X-Forwarded-For: 6.6.6.6, 10.1.0.1"];
    assert_eq!(
        starts(&backend, joined, 1).await,
        [429],
        "one line or two: the same list"
    );

    // With a port: that address, not the balancer.
    assert_eq!(starts(&backend, &["X-Forwarded-For: 10.1.0.3:5555"], 3).await, [200; 3]);
    assert_eq!(starts(&backend, &["X-Forwarded-For: 10.1.0.3"], 1).await, [429]);
    assert_eq!(
        starts(&backend, &["X-Forwarded-For: [::ffff:10.1.0.3]:1"], 1).await,
        [429]
    );
    assert_eq!(
        starts(&backend, &["X-Forwarded-For: 10.1.0.4"], 1).await,
        [200],
        "the balancer uncharged"
    );
    // IPv6: bracketed with a port, counted by its /64.
    assert_eq!(
        starts(&backend, &["X-Forwarded-For: [2001:db8:1:2::7]:443"], 3).await,
        [200; 3]
    );
    assert_eq!(starts(&backend, &["X-Forwarded-For: 2001:db8:1:2::99"], 1).await, [429]);
    assert_eq!(starts(&backend, &["X-Forwarded-For: 2001:db8:1:3::7"], 1).await, [200]);

    // Missing or unreadable: refused, never counted as the balancer.
    for lines in [
        &[][..],
        &["X-Forwarded-For: unknown"],
        &["X-Forwarded-For: garbage"],
        &["X-Forwarded-For: 10.1.0.5 10.1.0.6"],
        &["X-Forwarded-For: 10.1.0.5", "X-Forwarded-For: 10.1.0.6:99999"],
        &["X-Forwarded-For: "],
    ] {
        assert_eq!(starts(&backend, lines, 1).await, [400], "{lines:?}");
    }
    drop(backend);

    // Forwarded (RFC 7239): the last element's for=, quoted, with a port.
    let env = [("CLIENT_IP_HEADER", "forwarded"), ("STARTS_PER_CLIENT", "2")];
    let backend = Backend::start_with(&api_url, &data, None, &env);
    let spoofed = &[
        "Forwarded: for=6.6.6.6",
        "Forwarded: for=\"[2001:db8::17]:4711\";proto=https",
    ];
    assert_eq!(starts(&backend, spoofed, 3).await, [200, 200, 429]);
    assert_eq!(
        starts(&backend, &["Forwarded: for=6.6.6.6;by=10.0.0.1"], 1).await,
        [200]
    );
    for lines in [&["Forwarded: for=unknown"][..], &["Forwarded: for=_hidden"], &[]] {
        assert_eq!(starts(&backend, lines, 1).await, [400], "{lines:?}");
    }
    let _ = std::fs::remove_dir_all(&data);
}

/// A client opens a quoted string in its own `Forwarded` element, and the
/// balancer joins its `, for=…` onto that line: the quote would swallow the
/// balancer's element and leave the client's `for=` last. Refused (400)
/// instead, before and after the client's real address reaches its limit,
/// and a victim's address named that way keeps its whole share. A list of
/// nodes with a quote or a backslash in it is refused the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_cannot_choose_its_address_with_an_unterminated_quote() {
    let (_api, api_url) = kyc::bot_api().await;
    let data = kyc::data_dir("front-quote");
    let env = [("CLIENT_IP_HEADER", "forwarded"), ("STARTS_PER_CLIENT", "2")];
    let backend = Backend::start_with(&api_url, &data, None, &env);
    let joined = |chosen: &str| format!("Forwarded: for={chosen};x=\", for=198.51.100.7");

    for made_up in ["203.0.113.10", "203.0.113.11"] {
        assert_eq!(
            starts(&backend, &[joined(made_up).as_str()], 1).await,
            [400],
            "{made_up}"
        );
    }
    let real = "Forwarded: for=198.51.100.7";
    assert_eq!(starts(&backend, &[real], 3).await, [200, 200, 429]);
    for made_up in (20..25).map(|n| format!("203.0.113.{n}")) {
        assert_eq!(
            starts(&backend, &[joined(&made_up).as_str()], 1).await,
            [400],
            "{made_up} after the real address's limit"
        );
    }
    // The balancer's element on a line of its own: the client's line is
    // still part of the header, and still unreadable.
    let own_line = ["Forwarded: for=203.0.113.30;x=\"", "Forwarded: for=198.51.100.8"];
    assert_eq!(starts(&backend, &own_line, 1).await, [400]);

    let victim = "203.0.113.1";
    assert_eq!(starts(&backend, &[joined(victim).as_str()], 4).await, [400; 4]);
    let as_victim = format!("Forwarded: for={victim}");
    assert_eq!(
        starts(&backend, &[as_victim.as_str()], 3).await,
        [200, 200, 429],
        "the victim's share untouched"
    );
    drop(backend);

    let env = [("CLIENT_IP_HEADER", "x-forwarded-for"), ("STARTS_PER_CLIENT", "2")];
    let backend = Backend::start_with(&api_url, &data, None, &env);
    for lines in [
        &["X-Forwarded-For: \"203.0.113.40, 10.2.0.1"][..],
        &["X-Forwarded-For: 203.0.113.40\\, 10.2.0.1"],
        &["X-Forwarded-For: 203.0.113.40;x=\", 10.2.0.1"],
        &["X-Forwarded-For: garbage, 10.2.0.1"],
        &["X-Forwarded-For: \"203.0.113.40", "X-Forwarded-For: 10.2.0.1"],
    ] {
        assert_eq!(starts(&backend, lines, 1).await, [400], "{lines:?}");
    }
    assert_eq!(
        starts(&backend, &["X-Forwarded-For: unknown, 10.2.0.1"], 3).await,
        [200, 200, 429],
        "a hop that hides itself is no reason to refuse"
    );
    let _ = std::fs::remove_dir_all(&data);
}

/// On `LISTEN=[::]:…` IPv4 clients arrive as `::ffff:a.b.c.d`: each is
/// counted as its own IPv4 address, and `::1` apart from all of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dual_stack_listener_counts_ipv4_clients_apart() {
    let (_api, api_url) = kyc::bot_api().await;
    let data = kyc::data_dir("front-dual");
    let backend = kyc::start_listening_on("[::]", &api_url, &data, &[("STARTS_PER_CLIENT", "2")]);
    let port = address(&backend).port();
    let raw_start = |source: IpAddr| async move {
        let to = match source {
            IpAddr::V4(_) => SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            IpAddr::V6(_) => SocketAddr::from((Ipv6Addr::LOCALHOST, port)),
        };
        raw_request(
            to,
            source,
            b"GET /start HTTP/1.1\r\nHost: kyc\r\nConnection: close\r\n\r\n",
        )
        .await
        .0
    };
    let mut statuses = Vec::new();
    for source in [v4(127, 0, 0, 2), v4(127, 0, 0, 3), IpAddr::V6(Ipv6Addr::LOCALHOST)] {
        for _ in 0..3 {
            statuses.push(raw_start(source).await);
        }
    }
    assert_eq!(statuses, [200, 200, 429, 200, 200, 429, 200, 200, 429]);
    let _ = std::fs::remove_dir_all(&data);
}

/// More `/start` calls than the in-memory store holds, each from another
/// made-up address (the header trusted as a balancer's): nobody gets 503,
/// and an applicant who comes after the flood opens an application and
/// completes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spread_flood_beyond_the_stores_capacity_locks_no_one_out() {
    const CALLS: u32 = 101_000;
    const WORKERS: u32 = 8;
    let (api, api_url) = kyc::bot_api().await;
    let data = kyc::data_dir("front-spread");
    let env = [("CLIENT_IP_HEADER", "x-forwarded-for")];
    let backend = Arc::new(Backend::start_with(&api_url, &data, None, &env));
    let before = backend.rss_kib();
    let started = Instant::now();
    let tasks: Vec<_> = (0..WORKERS)
        .map(|worker| {
            let backend = Arc::clone(&backend);
            tokio::spawn(async move {
                let http = kyc::client(v4(127, 0, 0, 1));
                let mut statuses = std::collections::BTreeMap::new();
                for call in (worker..CALLS).step_by(WORKERS as usize) {
                    let made_up = Ipv4Addr::from(0x0a00_0000 + call);
                    let response = http
                        .get(format!("{}/start", backend.url))
                        .header("x-forwarded-for", made_up.to_string())
                        .send()
                        .await
                        .unwrap();
                    *statuses.entry(response.status().as_u16()).or_insert(0u32) += 1;
                }
                statuses
            })
        })
        .collect();
    let mut statuses = std::collections::BTreeMap::new();
    for task in tasks {
        for (status, count) in task.await.unwrap() {
            *statuses.entry(status).or_insert(0) += count;
        }
    }
    let elapsed = started.elapsed();
    let after = backend.rss_kib();
    println!(
        "{CALLS} /start calls from {CALLS} addresses in {elapsed:.1?}: {statuses:?} (status: count); resident memory {before} -> {after} KiB"
    );
    // Only the limiter's 65 536 counters may make two addresses share one.
    assert_eq!(statuses.keys().copied().filter(|s| *s != 200 && *s != 429).count(), 0);
    assert!(statuses[&200] > CALLS - 100, "{statuses:?}");

    // The applicant after the flood: a link, and the submission stored.
    let applicant = reqwest::Client::builder()
        .local_address(v4(127, 0, 0, 1))
        .default_headers(
            [("x-forwarded-for".parse().unwrap(), "203.0.113.7".parse().unwrap())]
                .into_iter()
                .collect(),
        )
        .build()
        .unwrap();
    let (application, request) = start(&applicant, &backend.url).await.unwrap();
    let good = submission(&api, &request, 6006, Kind::Good);
    assert_eq!(deliver(&applicant, &backend.url, &good).await, 200);
    assert!(stored(&data, &application).is_some());
    let _ = std::fs::remove_dir_all(&data);
}

/// The head of a webhook call with a body of `length` bytes, with `secret`.
fn webhook_head(secret: Option<&str>, length: usize) -> String {
    let secret = secret.map_or(String::new(), |s| format!("X-Telegram-Bot-Api-Secret-Token: {s}\r\n"));
    format!(
        "POST /telegram/webhook HTTP/1.1\r\nHost: kyc\r\nContent-Type: application/json\r\n{secret}Content-Length: {length}\r\n\r\n"
    )
}

/// A connection from 127.0.0.1 to `backend` that wrote `request`.
async fn connection(backend: &Backend, request: &[u8]) -> tokio::net::TcpStream {
    connection_from(backend, v4(127, 0, 0, 1), request).await
}

/// A connection from `source` that has sent `request` (the harness checks
/// that a backend listens from 127.0.0.1, so a test that counts one
/// client's connections uses another address).
async fn connection_from(backend: &Backend, source: IpAddr, request: &[u8]) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt as _;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind((source, 0).into()).unwrap();
    let mut stream = socket.connect(address(backend)).await.unwrap();
    stream.write_all(request).await.unwrap();
    stream
}

/// Reads until the server closes `stream` (or resets it); the status of
/// what it answered (0 for nothing) and when it closed.
async fn until_closed(mut stream: tokio::net::TcpStream) -> (u16, Instant) {
    use tokio::io::AsyncReadExt as _;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let status = answer.get(9..12).and_then(|code| std::str::from_utf8(code).ok());
    (status.and_then(|code| code.parse().ok()).unwrap_or(0), Instant::now())
}

/// Slow and stalled clients: big bodies without the secret are refused
/// before they are read, and memory stays low; stalled heads, bodies and
/// idle connections are closed after their timeouts; at the connection
/// cap, the next client waits for a stalled one to be closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_hold_neither_memory_nor_connections() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    const CONNECTIONS: usize = 150;
    const BODY: usize = 2 * 1024 * 1024 - 1;
    let (_api, api_url) = kyc::bot_api().await;
    let data = kyc::data_dir("front-slow");
    // All from one address: its share is the whole server here.
    let env = [
        ("HEADER_TIMEOUT_SECONDS", "2"),
        ("BODY_TIMEOUT_SECONDS", "3"),
        ("CONNECTIONS_PER_CLIENT", "1024"),
    ];
    let backend = Arc::new(Backend::start_with(&api_url, &data, None, &env));
    let http = kyc::client(v4(127, 0, 0, 1));
    let _ = start(&http, &backend.url).await.unwrap();
    let before = backend.rss_kib();

    // A wrong secret with a body that never comes: answered at once.
    let mut stream = connection(&backend, webhook_head(Some("wrong"), BODY).as_bytes()).await;
    let mut answer = [0; 12];
    let read = tokio::time::timeout(Duration::from_secs(1), stream.read_exact(&mut answer)).await;
    assert!(read.is_ok(), "no answer before the body");
    assert_eq!(&answer, b"HTTP/1.1 401");
    drop(stream);

    // 150 clients without the secret, each sending a 2 MB body minus one
    // byte as fast as the server takes it.
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(before));
    let sampler = {
        let (backend, peak) = (Arc::clone(&backend), Arc::clone(&peak));
        tokio::spawn(async move {
            loop {
                peak.fetch_max(backend.rss_kib(), std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let senders: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let backend = Arc::clone(&backend);
            tokio::spawn(async move {
                let stream = connection(&backend, webhook_head(None, BODY).as_bytes()).await;
                let (mut reader, mut writer) = stream.into_split();
                let writing = tokio::spawn(async move {
                    let chunk = vec![b' '; 64 * 1024];
                    let mut sent = 0;
                    while sent < BODY {
                        let part = &chunk[..chunk.len().min(BODY - sent)];
                        if writer.write_all(part).await.is_err() {
                            break;
                        }
                        sent += part.len();
                    }
                    sent
                });
                let mut answer = Vec::new();
                let _ = reader.read_to_end(&mut answer).await;
                let sent = writing.await.unwrap();
                (answer.get(9..12).map(<[u8]>::to_vec), sent)
            })
        })
        .collect();
    let mut refused = 0;
    let mut body_sent = 0;
    for sender in senders {
        let (status, sent) = sender.await.unwrap();
        refused += usize::from(status.as_deref() == Some(b"401"));
        body_sent += sent;
    }
    let after_bodies = backend.rss_kib();
    println!(
        "{CONNECTIONS} webhook calls without the secret, 2 MiB bodies: {refused} answered 401, {} KiB of body taken by the sockets before the server closed them; resident memory {before} KiB, peak {} KiB",
        body_sent / 1024,
        peak.load(std::sync::atomic::Ordering::Relaxed)
    );
    assert_eq!(refused, CONNECTIONS);

    // Stalled: 150 heads cut short, 150 bodies with the secret cut short,
    // and an idle keep-alive connection.
    let opened = Instant::now();
    let mut stalled = Vec::new();
    for _ in 0..CONNECTIONS {
        stalled.push(connection(&backend, b"GET /start HTTP/1.1\r\nHost: kyc\r\n").await);
    }
    let head = webhook_head(Some(SECRET), BODY);
    for _ in 0..CONNECTIONS {
        stalled.push(connection(&backend, format!("{head}{{\"update_id\":").as_bytes()).await);
    }
    let mut idle = connection(&backend, b"GET / HTTP/1.1\r\nHost: kyc\r\n\r\n").await;
    let mut first = vec![0; 12];
    idle.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    stalled.push(idle);
    let closed: Vec<_> = stalled
        .into_iter()
        .map(|stream| tokio::spawn(until_closed(stream)))
        .collect();
    let mut statuses = std::collections::BTreeMap::new();
    let mut last = opened;
    for closed in closed {
        let (status, at) = closed.await.unwrap();
        *statuses.entry(status).or_insert(0) += 1;
        last = last.max(at);
    }
    sampler.abort();
    let after = backend.rss_kib();
    let took = last - opened;
    println!(
        "{} stalled connections (heads, bodies with the secret, one idle) all closed {took:.1?} after they were opened: {statuses:?} (status, 0 for none: count); resident memory {after} KiB, peak {} KiB",
        2 * CONNECTIONS + 1,
        peak.load(std::sync::atomic::Ordering::Relaxed)
    );
    assert!(took < Duration::from_secs(8), "{took:?}");
    assert_eq!(statuses.get(&408), Some(&CONNECTIONS), "stalled bodies: {statuses:?}");
    let peak = peak.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        peak < before + 32 * 1024,
        "resident memory {before} KiB, peak {peak} KiB"
    );
    assert!(after_bodies < before + 32 * 1024);
    drop(backend);

    // At the cap, the next client is served once a stalled one is closed.
    let env = [
        ("HEADER_TIMEOUT_SECONDS", "2"),
        ("MAX_CONNECTIONS", "10"),
        ("CONNECTIONS_PER_CLIENT", "10"),
    ];
    let backend = Backend::start_with(&api_url, &data, None, &env);
    let mut silent = Vec::new();
    for _ in 0..10 {
        silent.push(connection_from(&backend, v4(127, 0, 0, 3), b"").await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let (status, _) = raw_request(
        address(&backend),
        v4(127, 0, 0, 2),
        b"GET /start HTTP/1.1\r\nHost: kyc\r\nConnection: close\r\n\r\n",
    )
    .await;
    let waited = started.elapsed();
    println!("with 10 silent connections at MAX_CONNECTIONS=10, the next client was answered after {waited:.1?}");
    assert_eq!(status, 200);
    assert!(waited > Duration::from_millis(1500), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    let _ = std::fs::remove_dir_all(&data);
}

/// 20 `/start` calls from one client, alternating between two instances,
/// within one ten-minute window of the start counts: a run that straddles
/// two windows counts in both, so it is made once more, from the second of
/// `sources`. Their answers' codes.
async fn twenty_starts_in_one_window(backends: &[Backend; 2], sources: [IpAddr; 2]) -> Vec<u16> {
    let window = || {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        now.as_secs() / 600
    };
    for source in sources {
        let first = window();
        let mut statuses = Vec::new();
        for call in 0..20 {
            statuses.push(kyc::raw_start(&backends[call % 2].url, source).await);
        }
        if window() == first {
            return statuses;
        }
    }
    panic!("two runs, neither within one window");
}

mod on_redis {
    use super::*;
    use common::redis_server;

    /// Two instances on one Redis: one client gets `STARTS_PER_CLIENT` in
    /// total, not per instance; another client its own; Redis gone → 503.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(no_redis_server, ignore = "needs redis-server (apt-get install redis-server)")]
    async fn two_instances_share_the_start_limit() {
        let redis = redis_server::start();
        let (_api, api_url) = kyc::bot_api().await;
        let data = kyc::data_dir("front-shared");
        let backends = [
            Backend::start(&api_url, &data, Some(&redis.url)),
            Backend::start(&api_url, &data, Some(&redis.url)),
        ];
        let statuses = twenty_starts_in_one_window(&backends, [v4(127, 0, 3, 1), v4(127, 0, 3, 2)]).await;
        let opened = statuses.iter().filter(|s| **s == 200).count();
        assert_eq!(opened, 10, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 10, "{statuses:?}");
        assert_eq!(kyc::raw_start(&backends[1].url, v4(127, 0, 3, 3)).await, 200);

        // One hash for the window, one field per client counted, expiring.
        let keys = redis_server::cli(redis.port, &["--scan", "--pattern", "kyc:starts:*"]);
        let keys: Vec<&str> = keys.lines().collect();
        assert!(!keys.is_empty() && keys.len() <= 2, "{keys:?}");
        let fields: usize = keys
            .iter()
            .map(|key| redis_server::cli(redis.port, &["hlen", key]).parse::<usize>().unwrap())
            .sum();
        assert!((2..=3).contains(&fields), "{fields} fields");
        for key in &keys {
            let ttl: i64 = redis_server::cli(redis.port, &["pttl", key]).parse().unwrap();
            assert!(ttl > 0 && ttl <= 1_200_000, "{key}: {ttl}");
        }

        drop(redis);
        assert_eq!(kyc::raw_start(&backends[0].url, v4(127, 0, 3, 4)).await, 503);
        let _ = std::fs::remove_dir_all(&data);
    }
}

mod on_postgres {
    use super::*;
    use telegram_passport_dev_support::postgres_server::{self, psql};

    /// Two instances on one PostgreSQL: one client gets `STARTS_PER_CLIENT`
    /// in total, not per instance; another client its own; PostgreSQL gone
    /// → 503.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(no_postgres_server, ignore = "needs postgresql (apt-get install postgresql)")]
    async fn two_instances_share_the_start_limit() {
        let postgres = postgres_server::start();
        let (_api, api_url) = kyc::bot_api().await;
        let data = kyc::data_dir("front-shared-pg");
        let shared = [("DATABASE_URL", postgres.url.as_str())];
        let backends = [
            Backend::start_with(&api_url, &data, None, &shared),
            Backend::start_with(&api_url, &data, None, &shared),
        ];
        let statuses = twenty_starts_in_one_window(&backends, [v4(127, 0, 4, 1), v4(127, 0, 4, 2)]).await;
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 10, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 10, "{statuses:?}");
        assert_eq!(kyc::raw_start(&backends[1].url, v4(127, 0, 4, 3)).await, 200);
        // One row per client counted in the window (two if the run straddled one).
        let rows: usize = psql(&postgres, "SELECT count(*) FROM kyc_starts")
            .unwrap()
            .parse()
            .unwrap();
        assert!((2..=3).contains(&rows), "{rows} rows");

        drop(postgres);
        assert_eq!(kyc::raw_start(&backends[0].url, v4(127, 0, 4, 4)).await, 503);
        let _ = std::fs::remove_dir_all(&data);
    }
}

/// A client that sends requests and never reads the answers: once the
/// answers fill the sockets, the server waits `BODY_TIMEOUT_SECONDS` for
/// the client to take some, then closes the connection instead of holding it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_reads_no_answers_is_let_go() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    const REQUESTS: usize = 50_000;
    let (_api, api_url) = kyc::bot_api().await;
    let data = kyc::data_dir("front-unread");
    let backend = Backend::start_with(&api_url, &data, None, &[("BODY_TIMEOUT_SECONDS", "2")]);
    let stream = tokio::net::TcpStream::connect(address(&backend)).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    // Far more answers (about 900 bytes each) than the sockets hold.
    let writing = tokio::spawn(async move {
        let requests = b"GET / HTTP/1.1\r\nHost: kyc\r\n\r\n".repeat(REQUESTS);
        let _ = writer.write_all(&requests).await;
        writer
    });
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut answers = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), reader.read_to_end(&mut answers)).await;
    let closed = started.elapsed();
    writing.abort();
    let answered = answers.windows(12).filter(|w| *w == b"HTTP/1.1 200").count();
    println!("{REQUESTS} pipelined requests, no answer read for 5 s: {answered} answers were sent before the server let go ({} KiB), closed after {closed:.1?}", answers.len() / 1024);
    assert!(read.is_ok(), "the connection stayed open");
    assert!(
        answered < REQUESTS,
        "every answer was sent: the server waited for the client"
    );
    let _ = std::fs::remove_dir_all(&data);
}
