//! The `kyc_backend` service's promises under crashes and redeliveries, with
//! real processes: three instances, each with a data folder of its own, on
//! one shared Redis (append-only file, restarted once mid-run), a
//! three-master Redis Cluster (one master restarted once), or one
//! PostgreSQL (crashed and restarted once) with applications committed to
//! an S3-compatible server (killed and restarted once), encrypted; 200 applicants
//! of every kind; a stand-in Telegram that delivers each update until an
//! instance answers 2xx (and now and then to two instances at once);
//! instances killed (`SIGKILL`) at random moments and while a message is
//! being sent, and started again on their data folder and port.
//!
//! At the end everything stops, each instance starts once more on its data
//! folder (its start-up sweep) and stops, and every applicant is accounted
//! for: each application that should be accepted is stored exactly once,
//! whole, across all data folders; a blocked user's never; every rejection
//! was told; nothing decrypted is left outside an application folder; every
//! update was answered. The figures are printed (`--nocapture`); a run that
//! fails keeps its folder, with each instance's log, and names it.

#![cfg(feature = "redis-cluster")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

#[path = "support/common.rs"]
mod common;
#[path = "support/kyc.rs"]
mod kyc;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::redis_server;
use kyc::{Backend, BotApi, Kind, Submission};
use serde_json::Value;
use telegram_passport::PassportRequest;
use telegram_passport_dev_support::{postgres_server, s3_server};

/// The file a draft names its claim in, removed once it is committed.
const CLAIM: &str = "claim.json";
/// Applicants per run.
const APPLICANTS: usize = 200;
/// Time between two applicants' arrivals: the run lasts long enough for
/// some thirty kills.
const ARRIVAL: Duration = Duration::from_millis(120);
/// What is not done by then is reported as not done, and the run stops.
const RUN_LIMIT: Duration = Duration::from_secs(100);
const INSTANCES: usize = 3;
/// How long one instance owns a submission: short, so that a killed
/// instance's claims run out within the run.
const CLAIM_LEASE_SECONDS: &str = "3";
/// One update in this many is first delivered to two instances at once.
const TWICE_ONE_IN: u64 = 5;
/// A `Retry-After` is honoured up to this long (Telegram waits longer).
const RETRY_AFTER_CAP: Duration = Duration::from_secs(1);
/// Time between kills at random moments, and how long a killed instance
/// stays down.
const KILL_EVERY: (Duration, Duration) = (Duration::from_millis(500), Duration::from_millis(2000));
const DOWN_FOR: (Duration, Duration) = (Duration::from_millis(100), Duration::from_millis(700));
/// While one `sendMessage` in this many is being answered, an instance is
/// killed (one time in three the sender, between its message and the end
/// of its submission).
const KILL_ON_MESSAGE_ONE_IN: u64 = 6;
/// How long a user takes to follow a message's link: often longer than
/// the claim lease, so that a submission whose instance died after its
/// message is delivered again before the user's correction arrives.
const REACTION: (Duration, Duration) = (Duration::from_millis(100), Duration::from_millis(4000));
/// Each file download takes this long, so that kills find instances in
/// the middle of storing.
const DOWNLOAD_MS: u64 = 10;

/// The soak runs one at a time: two on two cores would measure each other.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(no_redis_server, ignore = "needs redis-server (apt-get install redis-server)")]
async fn soak_on_one_redis_restarted_once() {
    let _one = ONE_AT_A_TIME.lock().await;
    let redis = Arc::new(Mutex::new(Some(redis_server::start_persistent())));
    let url = redis.lock().unwrap().as_ref().unwrap().url.clone();
    let restart = {
        let redis = Arc::clone(&redis);
        move || {
            let server = redis.lock().unwrap().take().unwrap();
            *redis.lock().unwrap() = Some(server.restart());
        }
    };
    let title = "one Redis server (append-only file), restarted once";
    soak(title, "one", vec![("REDIS_URL", url)], Box::new(restart), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(no_redis_server, ignore = "needs redis-server (apt-get install redis-server)")]
async fn soak_on_a_redis_cluster() {
    let _one = ONE_AT_A_TIME.lock().await;
    let cluster = Arc::new(Mutex::new(redis_server::Cluster::start()));
    let urls = cluster.lock().unwrap().urls().join(",");
    let restart = {
        let cluster = Arc::clone(&cluster);
        move || {
            let mut cluster = cluster.lock().unwrap();
            let node = cluster.nodes.remove(0);
            cluster.nodes.insert(0, node.restart());
            cluster.wait_until_ok();
        }
    };
    let title = "a three-master Redis Cluster, one master restarted once";
    soak(title, "cluster", vec![("REDIS_CLUSTER", urls)], Box::new(restart), None).await;
}

/// Three instances on PostgreSQL committing to an S3-compatible server,
/// every file encrypted to a reviewer: PostgreSQL crashed and restarted,
/// and the object server killed and started again on its log, once each
/// mid-run. The
/// accounting reads the applications back from the bucket, decrypted with
/// the reviewer's identity, and checks that no object and no file left on
/// an instance's disk is plaintext.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    any(no_postgres_server, no_s3_server),
    ignore = "needs postgresql and moto_server (apt-get install postgresql; pip install 'moto[server]')"
)]
async fn soak_on_postgres_and_object_storage_encrypted() {
    let _one = ONE_AT_A_TIME.lock().await;
    let postgres = Arc::new(Mutex::new(Some(postgres_server::start())));
    let url = postgres.lock().unwrap().as_ref().unwrap().url.clone();
    let s3 = s3_server::start();
    s3.create_bucket("kyc");
    let endpoint = s3.endpoint.clone();
    let s3 = Arc::new(Mutex::new(Some(s3)));
    let reviewer = age::x25519::Identity::generate();
    let restart = {
        let (postgres, s3) = (Arc::clone(&postgres), Arc::clone(&s3));
        move || {
            let server = postgres.lock().unwrap().take().unwrap();
            *postgres.lock().unwrap() = Some(server.restart());
            let server = s3.lock().unwrap().take().unwrap();
            *s3.lock().unwrap() = Some(server.restart());
        }
    };
    let mut shared = vec![
        ("DATABASE_URL", url),
        ("ARCHIVE_URL", "s3://kyc/soak".to_owned()),
        ("ARCHIVE_RECIPIENTS", reviewer.to_public().to_string()),
    ];
    shared.extend(kyc::s3_env(&endpoint, "test"));
    let archive = Bucket {
        store: kyc::bucket(&endpoint),
        prefix: "soak",
        reviewer,
    };
    let title =
        "PostgreSQL crashed and restarted once, the object server killed and restarted once, encrypted to a reviewer";
    soak(title, "objects", shared, Box::new(restart), Some(archive)).await;
}

/// Where the applications of a run on object storage are, and who can
/// read them.
struct Bucket {
    store: object_store::aws::AmazonS3,
    prefix: &'static str,
    reviewer: age::x25519::Identity,
}

/// What a run committed to its bucket: each application's files,
/// decrypted; and what is wrong with the bucket itself.
#[derive(Default)]
struct Committed {
    applications: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    /// Objects that are not age-encrypted, or do not decrypt.
    plaintext: Vec<String>,
    /// File objects that no manifest names.
    stray: Vec<String>,
}

impl Bucket {
    async fn read(&self) -> Committed {
        use futures_util::StreamExt as _;
        use object_store::{ObjectStore as _, ObjectStoreExt as _};
        let get = |key: String| async move {
            let found = self.store.get(&object_store::path::Path::from(key)).await.unwrap();
            found.bytes().await.unwrap().to_vec()
        };
        let list = |prefix: String| async move {
            let listed: Vec<_> = self
                .store
                .list(Some(&object_store::path::Path::from(prefix)))
                .collect()
                .await;
            listed
                .into_iter()
                .map(|meta| meta.unwrap().location.to_string())
                .collect::<Vec<String>>()
        };
        let mut committed = Committed::default();
        let mut named = std::collections::BTreeSet::new();
        for manifest in list(format!("{}/applications", self.prefix)).await {
            let value: Value = serde_json::from_slice(&get(manifest.clone()).await).unwrap();
            let id = value["application"].as_str().unwrap().to_owned();
            let mut files = BTreeMap::new();
            for pair in value["files"].as_array().unwrap() {
                let (name, object) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
                named.insert(object.to_owned());
                let sealed = get(object.to_owned()).await;
                match self.decrypt(&sealed) {
                    Some(plain) => {
                        files.insert(name.strip_suffix(".age").unwrap_or(name).to_owned(), plain);
                    }
                    None => committed.plaintext.push(object.to_owned()),
                }
            }
            committed.applications.insert(id, files);
        }
        for object in list(format!("{}/files", self.prefix)).await {
            if !named.contains(&object) {
                committed.stray.push(object);
            }
        }
        committed
    }

    /// The plaintext of an age file to the reviewer, if it is one.
    fn decrypt(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        if !sealed.starts_with(b"age-encryption.org/v1\n") {
            return None;
        }
        let decryptor = age::Decryptor::new(sealed).ok()?;
        let mut reader = decryptor
            .decrypt(std::iter::once(&self.reviewer as &dyn age::Identity))
            .ok()?;
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut reader, &mut plain).ok()?;
        Some(plain)
    }
}

/// What an applicant does.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Plan {
    /// Everything right the first time.
    Good,
    /// An expired document without a selfie, then corrected.
    Expired,
    /// No address, then sent complete.
    Missing,
    /// A photo whose bytes do not match its credentials, then sent again.
    Tampered,
    /// An expired document, and the bot blocked: never told, never stored.
    Blocked,
}

impl Plan {
    /// The mix: interleaved, so that every kind meets every crash.
    fn of(index: usize) -> Plan {
        const MIX: [Plan; 20] = {
            use Plan::*;
            [
                Good, Good, Good, Good, Good, Good, Good, Good, Expired, Expired, Expired, Expired, Missing, Missing,
                Missing, Tampered, Tampered, Tampered, Blocked, Blocked,
            ]
        };
        MIX[index * 7 % MIX.len()]
    }

    fn first(self) -> Kind {
        match self {
            Plan::Good => Kind::Good,
            Plan::Expired | Plan::Blocked => Kind::ExpiredNoSelfie,
            Plan::Missing => Kind::NoAddress,
            Plan::Tampered => Kind::TamperedPhoto,
        }
    }

    /// Whether the service must tell the user and the user sends again.
    fn corrected(self) -> bool {
        match self {
            Plan::Expired | Plan::Missing | Plan::Tampered => true,
            Plan::Good | Plan::Blocked => false,
        }
    }

    fn accepted(self) -> bool {
        self != Plan::Blocked
    }

    fn describe(self) -> &'static str {
        match self {
            Plan::Good => "accepted at once",
            Plan::Expired => "rejected, then fixed",
            Plan::Missing => "missing an element, then complete",
            Plan::Tampered => "tampered photo, then sent again",
            Plan::Blocked => "blocked the bot",
        }
    }
}

/// A small random source shared by every task (SplitMix64): the moments
/// and targets of kills and deliveries, not cryptography.
struct Random(AtomicU64);

impl Random {
    fn below(&self, n: u64) -> u64 {
        let mut z = self.0.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }

    fn instance(&self) -> usize {
        self.below(INSTANCES as u64) as usize
    }

    fn between(&self, (low, high): (Duration, Duration)) -> Duration {
        let span = (high - low).as_millis() as u64;
        low + Duration::from_millis(self.below(span + 1))
    }
}

/// The instances: each its port and data folder for life, and its process
/// while it runs.
struct Fleet {
    api_url: String,
    /// What the instances share: `REDIS_URL`, `REDIS_CLUSTER` or
    /// `DATABASE_URL`, and where the archive is, with their values.
    shared: Vec<(&'static str, String)>,
    ports: Vec<u16>,
    data: Vec<PathBuf>,
    logs: Vec<PathBuf>,
    processes: Vec<Mutex<Option<Backend>>>,
}

impl Fleet {
    fn new(api_url: String, shared: Vec<(&'static str, String)>, root: &Path) -> Fleet {
        let port = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        };
        Fleet {
            api_url,
            shared,
            ports: (0..INSTANCES).map(|_| port()).collect(),
            data: (0..INSTANCES).map(|i| root.join(format!("instance-{i}"))).collect(),
            logs: (0..INSTANCES).map(|i| root.join(format!("instance-{i}.log"))).collect(),
            processes: (0..INSTANCES).map(|_| Mutex::new(None)).collect(),
        }
    }

    fn url(&self, instance: usize) -> String {
        format!("http://127.0.0.1:{}", self.ports[instance])
    }

    /// Starts `instance` on its port and data folder; returns once it listens.
    fn start(&self, instance: usize) {
        let mut env = vec![
            ("CLAIM_LEASE_SECONDS", CLAIM_LEASE_SECONDS),
            ("STARTS_PER_CLIENT", "65535"),
            ("RUST_LOG", "info"),
        ];
        env.extend(self.shared.iter().map(|(name, value)| (*name, value.as_str())));
        let backend = Backend::start_on(
            &self.api_url,
            &self.data[instance],
            self.ports[instance],
            &env,
            &self.logs[instance],
        );
        let previous = self.processes[instance].lock().unwrap().replace(backend);
        assert!(previous.is_none(), "instance {instance} started twice");
    }

    /// `SIGKILL`s `instance`, if it runs.
    fn kill(&self, instance: usize) {
        let process = self.processes[instance].lock().unwrap().take();
        drop(process);
    }

    /// What the instances' logs say about any of `needles`, colours
    /// removed, in time order, without the audit trail's steps.
    fn log_lines(&self, needles: &[String]) -> Vec<String> {
        let mut lines = Vec::new();
        for (instance, log) in self.logs.iter().enumerate() {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            lines.extend(
                text.lines()
                    .map(without_colours)
                    .filter(|line| !line.contains("telegram_passport::audit"))
                    .filter(|line| needles.iter().any(|needle| line.contains(needle.as_str())))
                    .map(|line| (line.clone(), format!("instance {instance}: {line}"))),
            );
        }
        // Each line begins with its time.
        lines.sort();
        lines.into_iter().map(|(_, line)| line).collect()
    }
}

fn without_colours(line: &str) -> String {
    let mut plain = String::new();
    let mut escape = false;
    for c in line.chars() {
        match (escape, c) {
            (false, '\u{1b}') => escape = true,
            (false, c) => plain.push(c),
            (true, 'm') => escape = false,
            (true, _) => {}
        }
    }
    plain
}

/// Counts, as the run goes.
#[derive(Default)]
struct Tally {
    opened: AtomicUsize,
    /// `/start` calls that failed (an instance down, the shared store restarting).
    start_retries: AtomicUsize,
    /// Webhook calls, each instance counted.
    deliveries: AtomicUsize,
    /// Updates first delivered to two instances at once.
    twice: AtomicUsize,
    unavailable: AtomicUsize,
    /// Connections refused or broken: the instance was down or died.
    dead: AtomicUsize,
    /// Any other answer that is not 2xx.
    other: AtomicUsize,
    kills: AtomicUsize,
    /// Of those, kills while a message was being sent.
    kills_on_message: AtomicUsize,
    store_restarts: AtomicUsize,
}

impl Tally {
    fn get(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::SeqCst)
    }
}

/// Everything a run's tasks share.
struct Run {
    api: Arc<BotApi>,
    fleet: Fleet,
    http: reqwest::Client,
    deadline: Instant,
    stop: AtomicBool,
    random: Random,
    tally: Tally,
    /// The messages each user got, in order.
    inbox: Mutex<HashMap<i64, Vec<Message>>>,
    /// When an instance was killed or the shared store restarted.
    crashes: Mutex<Vec<Instant>>,
    /// The instance that is down, and until when: one at a time.
    down: Mutex<Option<(usize, Instant)>>,
}

impl Run {
    fn past_deadline(&self) -> bool {
        Instant::now() >= self.deadline
    }

    fn crashed(&self) {
        self.crashes.lock().unwrap().push(Instant::now());
    }

    /// `SIGKILL`s `instance`, unless one is down already; the chaos task
    /// starts it again.
    fn kill(&self, instance: usize) -> bool {
        let mut down = self.down.lock().unwrap();
        if down.is_some() {
            return false;
        }
        self.fleet.kill(instance);
        self.crashed();
        self.tally.kills.fetch_add(1, Ordering::SeqCst);
        *down = Some((instance, Instant::now() + self.random.between(DOWN_FOR)));
        true
    }
}

/// A message as its user saw it.
struct Message {
    /// Its place among all messages the Bot API took.
    number: usize,
    seen: Instant,
    link: String,
}

/// One webhook call's answer.
enum Answer {
    Status(u16, Option<Duration>),
    Dead,
}

async fn post(run: &Run, instance: usize, body: &str) -> Answer {
    run.tally.deliveries.fetch_add(1, Ordering::SeqCst);
    let sent = run
        .http
        .post(format!("{}/telegram/webhook", run.fleet.url(instance)))
        .header("X-Telegram-Bot-Api-Secret-Token", kyc::SECRET)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await;
    let Ok(response) = sent else {
        run.tally.dead.fetch_add(1, Ordering::SeqCst);
        return Answer::Dead;
    };
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse().ok())
        .map(Duration::from_secs);
    // Read to the end, so that the connection can serve the next call.
    let _ = response.bytes().await;
    if status == reqwest::StatusCode::SERVICE_UNAVAILABLE {
        run.tally.unavailable.fetch_add(1, Ordering::SeqCst);
    } else if !status.is_success() {
        run.tally.other.fetch_add(1, Ordering::SeqCst);
    }
    Answer::Status(status.as_u16(), retry_after)
}

/// How one update fared.
#[derive(Debug)]
struct Delivery {
    update_id: i64,
    /// When answered 2xx, how many messages the Bot API had taken: every
    /// message about this update is among them.
    answered: Option<usize>,
    calls: usize,
}

/// Delivers `update` as Telegram does: to an instance, again and again
/// after a short back-off (or the `Retry-After` asked for, capped), until
/// one answers 2xx; now and then to two instances at once.
async fn deliver(run: &Run, update: &Value) -> Delivery {
    let body = update.to_string();
    let mut delivery = Delivery {
        update_id: update["update_id"].as_i64().unwrap(),
        answered: None,
        calls: 0,
    };
    for attempt in 0u32.. {
        if run.past_deadline() {
            break;
        }
        let first = run.random.instance();
        let answers = if attempt == 0 && run.random.below(TWICE_ONE_IN) == 0 {
            run.tally.twice.fetch_add(1, Ordering::SeqCst);
            let second = (first + 1 + run.random.below(INSTANCES as u64 - 1) as usize) % INSTANCES;
            let (a, b) = tokio::join!(post(run, first, &body), post(run, second, &body));
            vec![a, b]
        } else {
            vec![post(run, first, &body).await]
        };
        delivery.calls += answers.len();
        if answers
            .iter()
            .any(|answer| matches!(answer, Answer::Status(200..=299, _)))
        {
            delivery.answered = Some(run.api.messages.lock().unwrap().len());
            break;
        }
        let backoff = Duration::from_millis(50 << attempt.min(4));
        let asked = answers
            .iter()
            .filter_map(|answer| match answer {
                Answer::Status(_, retry_after) => *retry_after,
                Answer::Dead => None,
            })
            .max()
            .map_or(Duration::ZERO, |asked| asked.min(RETRY_AFTER_CAP));
        tokio::time::sleep(backoff.max(asked) + Duration::from_millis(run.random.below(50))).await;
    }
    delivery
}

/// `GET /start` at any instance until one opens an application.
async fn open(run: &Run) -> Option<(String, PassportRequest)> {
    while !run.past_deadline() {
        let url = format!("{}/start", run.fleet.url(run.random.instance()));
        let opened = async {
            let response = run.http.get(url).send().await.ok()?;
            if !response.status().is_success() {
                return None;
            }
            let body: Value = response.json().await.ok()?;
            let request = PassportRequest::parse_link(body["deep_link"].as_str()?).ok()?;
            Some((body["application_id"].as_str()?.to_owned(), request))
        };
        if let Some(opened) = opened.await {
            run.tally.opened.fetch_add(1, Ordering::SeqCst);
            return Some(opened);
        }
        run.tally.start_retries.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// What the applicant's page does with the link of a message: a fresh
/// request for its application, from any instance that answers.
async fn relink(run: &Run, link: &str) -> Option<PassportRequest> {
    while !run.past_deadline() {
        let backend = run.fleet.url(run.random.instance());
        match kyc::follow_link(&run.http, &backend, link).await {
            Ok((_, request)) => return Some(request),
            // An instance killed meanwhile, or a store restarting: ask again.
            Err((status, _)) if status == 503 || status == 0 => {}
            Err(_) => return None,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// Seals a submission off the runtime's threads (RSA and AES in a debug build).
async fn seal(run: &Run, request: PassportRequest, user: i64, kind: Kind) -> Submission {
    let api = Arc::clone(&run.api);
    tokio::task::spawn_blocking(move || kyc::submission(&api, &request, user, kind))
        .await
        .unwrap()
}

/// The first link a message to `user` carried, once the user sees it.
async fn first_link(run: &Run, user: i64) -> Option<String> {
    while !run.past_deadline() {
        let link = run
            .inbox
            .lock()
            .unwrap()
            .get(&user)
            .and_then(|messages| messages.first())
            .map(|message| message.link.clone());
        if link.is_some() {
            return link;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// The users' Telegram apps: every message the stand-in Bot API took,
/// into each user's inbox, as it arrives.
async fn read_messages(run: Arc<Run>) {
    let mut seen = 0;
    loop {
        let stopping = run.stop.load(Ordering::SeqCst);
        run.collect_messages(&mut seen);
        if stopping {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Run {
    /// The messages after the first `seen`, into their users' inboxes.
    fn collect_messages(&self, seen: &mut usize) {
        let messages = self.api.messages.lock().unwrap()[*seen..].to_vec();
        let mut inbox = self.inbox.lock().unwrap();
        for message in messages {
            let link = message["reply_markup"]["inline_keyboard"][0][0]["url"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let user = message["chat_id"].as_i64().unwrap();
            let seen_at = Instant::now();
            inbox.entry(user).or_default().push(Message {
                number: *seen,
                seen: seen_at,
                link,
            });
            *seen += 1;
        }
    }
}

/// One applicant's story, as it happened.
struct Applicant {
    plan: Plan,
    user: i64,
    application: Option<String>,
    /// The photos of the submission that should be stored.
    photos: Option<Vec<(String, Vec<u8>)>>,
    deliveries: Vec<Delivery>,
    /// Where the story stopped short, if it did.
    stuck: Option<&'static str>,
}

/// Opens an application, sends what `plan` says, and (for a plan that is
/// corrected) follows the link of the first message it gets with a good
/// submission.
async fn applicant(run: Arc<Run>, index: usize, plan: Plan) -> Applicant {
    let user = 100_000 + index as i64;
    if plan == Plan::Blocked {
        run.api.blocked.lock().unwrap().insert(user);
    }
    let mut story = Applicant {
        plan,
        user,
        application: None,
        photos: None,
        deliveries: Vec::new(),
        stuck: None,
    };
    let Some((application, request)) = open(&run).await else {
        story.stuck = Some("no instance opened an application");
        return story;
    };
    story.application = Some(application);
    let first = seal(&run, request, user, plan.first()).await;
    if plan == Plan::Good {
        story.photos = Some(first.photos.clone());
    }
    // The user reacts to the message, whatever becomes of the delivery.
    let delivering = {
        let (run, update) = (Arc::clone(&run), first.update.clone());
        tokio::spawn(async move { deliver(&run, &update).await })
    };
    if plan.corrected() {
        match first_link(&run, user).await {
            None => story.stuck = Some("never told"),
            Some(link) => match relink(&run, &link).await {
                None => story.stuck = Some("told without a usable link"),
                Some(request) => {
                    tokio::time::sleep(run.random.between(REACTION)).await;
                    let corrected = seal(&run, request, user, Kind::Good).await;
                    story.photos = Some(corrected.photos.clone());
                    let delivery = deliver(&run, &corrected.update).await;
                    story.deliveries.push(delivery);
                }
            },
        }
    }
    story.deliveries.insert(0, delivering.await.unwrap());
    story
}

/// Kills an instance at random moments and starts it again on its data
/// folder and port, until the run stops.
async fn chaos(run: Arc<Run>) {
    let mut next_kill = Instant::now() + run.random.between(KILL_EVERY);
    while !run.stop.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let now = Instant::now();
        let down = *run.down.lock().unwrap();
        match down {
            Some((instance, until)) if now >= until => {
                let fleet = Arc::clone(&run);
                tokio::task::spawn_blocking(move || fleet.fleet.start(instance))
                    .await
                    .unwrap();
                *run.down.lock().unwrap() = None;
            }
            Some(_) => {}
            None if now >= next_kill => {
                let (fleet, instance) = (Arc::clone(&run), run.random.instance());
                tokio::task::spawn_blocking(move || fleet.kill(instance)).await.unwrap();
                next_kill = Instant::now() + run.random.between(KILL_EVERY);
            }
            None => {}
        }
    }
}

/// Now and then, while the stand-in Bot API takes a `sendMessage`, kills
/// an instance: the sender, one time in three, after its message went out
/// and before it finished the submission.
fn kill_on_messages(run: &Arc<Run>) {
    let weak = Arc::downgrade(run);
    let hook = move || {
        let Some(run) = weak.upgrade() else {
            return;
        };
        if run.stop.load(Ordering::SeqCst) || run.random.below(KILL_ON_MESSAGE_ONE_IN) != 0 {
            return;
        }
        if run.kill(run.random.instance()) {
            run.tally.kills_on_message.fetch_add(1, Ordering::SeqCst);
        }
    };
    *run.api.on_send_message.lock().unwrap() = Some(Box::new(hook));
}

/// Restarts the shared store (`restart`: killed, started again on its data) once a
/// third of the applicants have opened their application.
async fn restart_store(run: Arc<Run>, restart: Box<dyn FnOnce() + Send>) {
    while Tally::get(&run.tally.opened) < APPLICANTS / 3 {
        if run.stop.load(Ordering::SeqCst) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    run.crashed();
    tokio::task::spawn_blocking(restart).await.unwrap();
    run.tally.store_restarts.fetch_add(1, Ordering::SeqCst);
}

/// One run: start, soak, stop, sweep, account. Panics with the accounting
/// if a promise was broken.
async fn soak(
    title: &str,
    name: &str,
    shared: Vec<(&'static str, String)>,
    restart: Box<dyn FnOnce() + Send>,
    bucket: Option<Bucket>,
) {
    let began = Instant::now();
    let root = kyc::data_dir(&format!("soak-{name}"));
    std::fs::create_dir_all(&root).unwrap();
    let (api, api_url) = kyc::bot_api().await;
    api.download_delay_ms.store(DOWNLOAD_MS, Ordering::SeqCst);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let run = Arc::new(Run {
        api,
        fleet: Fleet::new(api_url, shared, &root),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap(),
        deadline: began + RUN_LIMIT,
        stop: AtomicBool::new(false),
        random: Random(AtomicU64::new(seed)),
        tally: Tally::default(),
        inbox: Mutex::new(HashMap::new()),
        crashes: Mutex::new(Vec::new()),
        down: Mutex::new(None),
    });
    let starting = Arc::clone(&run);
    tokio::task::spawn_blocking(move || (0..INSTANCES).for_each(|i| starting.fleet.start(i)))
        .await
        .unwrap();

    let inbox = tokio::spawn(read_messages(Arc::clone(&run)));
    let chaos = tokio::spawn(chaos(Arc::clone(&run)));
    kill_on_messages(&run);
    let restart = tokio::spawn(restart_store(Arc::clone(&run), restart));
    let mut applicants = Vec::new();
    for index in 0..APPLICANTS {
        applicants.push(tokio::spawn(applicant(Arc::clone(&run), index, Plan::of(index))));
        tokio::time::sleep(ARRIVAL).await;
    }
    let mut stories = Vec::new();
    for applicant in applicants {
        stories.push(applicant.await.unwrap());
    }
    run.stop.store(true, Ordering::SeqCst);
    chaos.await.unwrap();
    restart.await.unwrap();
    inbox.await.unwrap();

    // Everything stops; then each instance once more on its data folder,
    // until its start-up sweep has run.
    let fleet = Arc::clone(&run);
    tokio::task::spawn_blocking(move || {
        (0..INSTANCES).for_each(|i| fleet.fleet.kill(i));
        for i in 0..INSTANCES {
            fleet.fleet.start(i);
            let incoming = fleet.fleet.data[i].join(".incoming");
            let swept = Instant::now() + Duration::from_secs(5);
            while entries(&incoming) > 0 && Instant::now() < swept {
                std::thread::sleep(Duration::from_millis(50));
            }
            fleet.fleet.kill(i);
        }
    })
    .await
    .unwrap();
    let taken = began.elapsed();

    let committed = match &bucket {
        Some(bucket) => Some(bucket.read().await),
        None => None,
    };
    let accounting = account(&run, &stories, committed.as_ref());
    println!("{}", accounting.table(title, &run, &stories, taken));
    let broken = accounting.broken();
    if broken.is_empty() {
        std::fs::remove_dir_all(&root).unwrap();
        return;
    }
    let mut report = String::new();
    for (promise, examples) in &broken {
        let _ = writeln!(report, "broken: {promise}");
        for example in examples.iter().take(3) {
            let _ = writeln!(report, "  e.g. {}", example.what);
            for line in run.fleet.log_lines(&example.needles).iter().take(40) {
                let _ = writeln!(report, "    {line}");
            }
        }
    }
    panic!(
        "{report}every instance's log, and its data folder, are kept in {}",
        root.display()
    );
}

fn entries(folder: &Path) -> usize {
    std::fs::read_dir(folder).map_or(0, |entries| entries.count())
}

/// A broken promise: what happened, and what to look for in the logs
/// (the application id, `update=<id>}` of each of its updates).
struct Finding {
    what: String,
    needles: Vec<String>,
}

impl Finding {
    fn of(story: &Applicant, what: &str) -> Finding {
        let application = story.application.as_deref().unwrap_or("(no application)");
        let updates: Vec<String> = story
            .deliveries
            .iter()
            .map(|delivery| delivery.update_id.to_string())
            .collect();
        Finding {
            what: format!(
                "{application} (user {}, {}, updates {}): {what}",
                story.user,
                story.plan.describe(),
                updates.join(", ")
            ),
            needles: story
                .application
                .iter()
                .cloned()
                .chain(updates.iter().map(|update| format!("update={update}}}")))
                .collect(),
        }
    }

    fn at(name: &str, what: String) -> Finding {
        Finding {
            what,
            needles: vec![name.to_owned()],
        }
    }
}

/// What the data folders, the Bot API and the deliveries say at the end.
#[derive(Default)]
struct Accounting {
    /// Applications stored, each once or more.
    stored: usize,
    /// "<application id> <what>" for each broken promise, by promise.
    lost: Vec<Finding>,
    stored_twice: Vec<Finding>,
    not_whole: Vec<Finding>,
    /// Stored applications that still hold their draft's claim file.
    claims_left: Vec<Finding>,
    blocked_stored: Vec<Finding>,
    unknown_folders: Vec<Finding>,
    drafts_left: Vec<Finding>,
    untold: Vec<Finding>,
    unreported_photo: Vec<Finding>,
    /// Messages beyond the first for one submission.
    repeated: usize,
    /// Repeats with no crash (a kill or a store restart) around them.
    repeated_without_crash: Vec<Finding>,
    /// Messages to users whose submission needed none.
    unexpected_messages: Vec<Finding>,
    unanswered: Vec<Finding>,
    stuck: Vec<Finding>,
    /// Objects in the bucket that are not encrypted to the reviewer.
    plaintext_at_rest: Vec<Finding>,
    /// File objects no application's manifest names.
    stray_objects: Vec<Finding>,
}

/// Where an application committed to object storage is, among the
/// instances holding one: not an instance.
const BUCKET: usize = usize::MAX;

fn account(run: &Run, stories: &[Applicant], committed: Option<&Committed>) -> Accounting {
    let mut accounting = Accounting::default();
    if let Some(committed) = committed {
        for object in &committed.plaintext {
            accounting.plaintext_at_rest.push(Finding::at(
                object,
                format!("{object} is not encrypted to the reviewer"),
            ));
        }
        for object in &committed.stray {
            accounting
                .stray_objects
                .push(Finding::at(object, format!("{object} belongs to no application")));
        }
    }
    // Every application folder in every data folder, and every draft.
    let mut folders: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (instance, data) in run.fleet.data.iter().enumerate() {
        for entry in std::fs::read_dir(data).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if name == ".incoming" {
                for draft in std::fs::read_dir(data.join(&name)).unwrap() {
                    let draft = draft.unwrap().file_name().to_string_lossy().into_owned();
                    let files = entries(&data.join(&name).join(&draft));
                    accounting.drafts_left.push(Finding::at(
                        &draft,
                        format!("{draft} in instance {instance}'s .incoming, holding {files} files"),
                    ));
                }
            } else {
                folders.entry(name).or_default().push(instance);
            }
        }
    }
    let inbox = run.inbox.lock().unwrap();
    let crashes = run.crashes.lock().unwrap();
    let errors = run.api.errors.lock().unwrap();
    for story in stories {
        let on = |what: &str| Finding::of(story, what);
        if let Some(reason) = story.stuck {
            accounting.stuck.push(on(reason));
        }
        for delivery in story.deliveries.iter().filter(|delivery| delivery.answered.is_none()) {
            accounting.unanswered.push(on(&format!(
                "update {}: {} calls, none answered 2xx",
                delivery.update_id, delivery.calls
            )));
        }
        let Some(application) = &story.application else {
            continue;
        };
        let mut holders = folders.remove(application).unwrap_or_default();
        let in_bucket = committed.and_then(|committed| committed.applications.get(application));
        if in_bucket.is_some() {
            holders.push(BUCKET);
        }
        if !holders.is_empty() {
            accounting.stored += 1;
        }
        match (story.plan.accepted(), holders.as_slice()) {
            (false, []) => {}
            (false, _) => accounting
                .blocked_stored
                .push(on(&format!("stored by instances {holders:?}"))),
            (true, []) => accounting.lost.push(on("in no data folder")),
            (true, [BUCKET]) => {
                let files = in_bucket.cloned().unwrap_or_default();
                if let Err(problem) = whole(files, application, story) {
                    accounting.not_whole.push(on(&problem));
                }
            }
            (true, [instance]) => {
                let folder = run.fleet.data[*instance].join(application);
                match folder_files(&folder).and_then(|(files, claim)| whole(files, application, story).map(|()| claim))
                {
                    Ok(false) => {}
                    Ok(true) => accounting.claims_left.push(on(CLAIM)),
                    Err(problem) => accounting.not_whole.push(on(&problem)),
                }
            }
            (true, _) => accounting
                .stored_twice
                .push(on(&format!("stored by instances {holders:?}"))),
        }
        let messages = inbox.get(&story.user).map_or(&[][..], Vec::as_slice);
        // What a message is about: every message about the first
        // submission was taken before that update's 2xx answer.
        let first_answered = story
            .deliveries
            .first()
            .and_then(|delivery| delivery.answered)
            .unwrap_or(usize::MAX);
        let (about_first, later): (Vec<&Message>, Vec<&Message>) = messages
            .iter()
            .partition(|message| story.plan.corrected() && message.number < first_answered);
        if !later.is_empty() {
            accounting.unexpected_messages.push(on(&format!(
                "{} message(s) about a submission that needed none",
                later.len()
            )));
        }
        if !story.plan.corrected() {
            continue;
        }
        let Some((first, repeats)) = about_first.split_first() else {
            accounting.untold.push(on("no message"));
            continue;
        };
        accounting.repeated += repeats.len();
        for repeat in repeats {
            // An instance died (or the store restarted) after sending the
            // first message and before the submission was finished: the
            // redelivery cannot know the message went out. (Any crash in
            // that window counts: which instance sent it is not known.)
            let since = first.seen.checked_sub(Duration::from_secs(1)).unwrap_or(first.seen);
            if !crashes.iter().any(|crash| (since..=repeat.seen).contains(crash)) {
                accounting.repeated_without_crash.push(on(&format!(
                    "a message again {:.1?} after the first, no crash in between",
                    repeat.seen - first.seen
                )));
            }
        }
        if story.plan == Plan::Tampered {
            let file_sources = [
                "front_side",
                "reverse_side",
                "selfie",
                "file",
                "files",
                "translation_file",
                "translation_files",
            ];
            let reported = errors.iter().any(|call| {
                call["user_id"] == story.user
                    && call["errors"].as_array().is_some_and(|errors| {
                        errors
                            .iter()
                            .any(|error| file_sources.contains(&error["source"].as_str().unwrap_or_default()))
                    })
            });
            if !reported {
                accounting
                    .unreported_photo
                    .push(on("no setPassportDataErrors with a file error"));
            }
        }
    }
    accounting.unknown_folders = folders
        .into_iter()
        .map(|(name, holders)| {
            Finding::at(
                &name,
                format!("{name}: a folder of no applicant, in instances {holders:?}"),
            )
        })
        .collect();
    accounting
}

/// The files of an application's `folder`, by name, and whether it still
/// holds the claim its draft was sealed with (an instance killed between
/// the rename and removing it: documented as harmless, and reported).
fn folder_files(folder: &Path) -> Result<(BTreeMap<String, Vec<u8>>, bool), String> {
    let mut files = BTreeMap::new();
    let mut claim_left = false;
    for entry in std::fs::read_dir(folder).map_err(|e| e.to_string())? {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name == CLAIM {
            claim_left = true;
            continue;
        }
        let bytes = std::fs::read(folder.join(&name)).map_err(|e| format!("{name}: {e}"))?;
        files.insert(name, bytes);
    }
    Ok((files, claim_left))
}

/// Whether `files` are exactly the corrected (or first good) submission of
/// `story`: its values and byte-identical photos.
fn whole(mut files: BTreeMap<String, Vec<u8>>, application: &str, story: &Applicant) -> Result<(), String> {
    let photos = story
        .photos
        .as_ref()
        .ok_or("stored, though no good submission was sent")?;
    let json = files.remove("application.json").ok_or("no application.json")?;
    let values: Value = serde_json::from_slice(&json).map_err(|e| format!("application.json: {e}"))?;
    if values["application_id"] != application || values["telegram_user_id"] != story.user {
        return Err(format!(
            "application.json names application {} of user {}",
            values["application_id"], values["telegram_user_id"]
        ));
    }
    if values["passport"]["elements"][1]["data"]["expiry_date"] != "01.01.2035" {
        return Err("application.json holds a rejected submission".to_owned());
    }
    let names: Vec<&String> = files.keys().collect();
    let mut expected: Vec<&String> = photos.iter().map(|(name, _)| name).collect();
    expected.sort();
    if names != expected {
        return Err(format!(
            "files {names:?} besides application.json, expected {expected:?}"
        ));
    }
    for (name, bytes) in photos {
        if files.get(name) != Some(bytes) {
            return Err(format!("{name} differs from the photo sent"));
        }
    }
    Ok(())
}

impl Accounting {
    /// Each broken promise, with its examples.
    fn broken(&self) -> Vec<(&'static str, &[Finding])> {
        [
            ("an application that should be accepted is stored nowhere", &self.lost),
            ("an application is stored by more than one instance", &self.stored_twice),
            ("a stored application is not whole", &self.not_whole),
            ("a blocked user's application is stored", &self.blocked_stored),
            ("a folder belongs to no applicant", &self.unknown_folders),
            ("a draft is left in .incoming", &self.drafts_left),
            ("a rejected submission was not told", &self.untold),
            (
                "a tampered photo was not reported as a file error",
                &self.unreported_photo,
            ),
            ("a message was repeated without a crash", &self.repeated_without_crash),
            ("a message went to a user who needed none", &self.unexpected_messages),
            ("an update was never answered 2xx", &self.unanswered),
            ("an applicant's story stopped short", &self.stuck),
            (
                "an object at rest is not encrypted to the reviewer",
                &self.plaintext_at_rest,
            ),
            ("an object belongs to no application", &self.stray_objects),
        ]
        .into_iter()
        .filter(|(_, examples)| !examples.is_empty())
        .map(|(promise, examples)| (promise, examples.as_slice()))
        .collect()
    }

    fn table(&self, title: &str, run: &Run, stories: &[Applicant], taken: Duration) -> String {
        let tally = &run.tally;
        let mut kinds: BTreeMap<Plan, usize> = BTreeMap::new();
        for story in stories {
            *kinds.entry(story.plan).or_default() += 1;
        }
        let updates: usize = stories.iter().map(|story| story.deliveries.len()).sum();
        let mut rows = vec![("applicants".to_owned(), format!("{}", stories.len()))];
        rows.extend(
            kinds
                .iter()
                .map(|(plan, count)| (format!("  {}", plan.describe()), count.to_string())),
        );
        let count = |counter: &AtomicUsize| Tally::get(counter).to_string();
        rows.extend([
            ("updates".to_owned(), updates.to_string()),
            ("deliveries (webhook calls)".to_owned(), count(&tally.deliveries)),
            (
                "  of an update to two instances at once".to_owned(),
                count(&tally.twice),
            ),
            ("  answered 503".to_owned(), count(&tally.unavailable)),
            ("  to an instance down or dying".to_owned(), count(&tally.dead)),
            ("  answered otherwise, not 2xx".to_owned(), count(&tally.other)),
            ("/start calls retried".to_owned(), count(&tally.start_retries)),
            ("instances killed (SIGKILL)".to_owned(), count(&tally.kills)),
            (
                "  while a message was being sent".to_owned(),
                count(&tally.kills_on_message),
            ),
            ("shared store restarts".to_owned(), count(&tally.store_restarts)),
            (
                "messages".to_owned(),
                run.api.messages.lock().unwrap().len().to_string(),
            ),
            ("  repeated for one submission".to_owned(), self.repeated.to_string()),
            (
                "setPassportDataErrors calls".to_owned(),
                run.api.errors.lock().unwrap().len().to_string(),
            ),
            ("stored".to_owned(), self.stored.to_string()),
            (
                format!("  with {CLAIM} left in the folder"),
                self.claims_left.len().to_string(),
            ),
            ("lost".to_owned(), self.lost.len().to_string()),
            ("stored twice".to_owned(), self.stored_twice.len().to_string()),
            ("not whole".to_owned(), self.not_whole.len().to_string()),
            (
                "objects not encrypted to the reviewer".to_owned(),
                self.plaintext_at_rest.len().to_string(),
            ),
            (
                "objects of no application".to_owned(),
                self.stray_objects.len().to_string(),
            ),
            (
                "blocked users' stored".to_owned(),
                self.blocked_stored.len().to_string(),
            ),
            (
                "drafts left in .incoming".to_owned(),
                self.drafts_left.len().to_string(),
            ),
            ("rejections not told".to_owned(), self.untold.len().to_string()),
            (
                "updates never answered 2xx".to_owned(),
                self.unanswered.len().to_string(),
            ),
            ("time taken".to_owned(), format!("{:.1?}", taken)),
        ]);
        let mut table = format!("kyc soak on {title}\n");
        for (label, value) in rows {
            let _ = writeln!(table, "  {label:<42} {value:>8}");
        }
        table
    }
}
