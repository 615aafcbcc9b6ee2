//! A real S3-compatible server for the tests: `moto_server` (Python's
//! `moto`, which answers conditional writes as S3 does: `If-None-Match: *`
//! on an existing key is `412 Precondition Failed`), on a free loopback
//! port, stopped on drop. It keeps its objects in memory and every request
//! in a log on disk (moto's recorder), so that [`Server::restart`] kills it
//! and starts it again on its log, as a store restarts on its disk. Tests
//! that use it carry `#[cfg_attr(no_s3_server, ignore = …)]`: where
//! `moto_server` is not on the `PATH` (and `CI` is not set) the build
//! script sets that cfg.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `moto_server`, killed on drop (its log removed).
pub struct Server {
    /// The process.
    pub child: Child,
    /// Its loopback port.
    pub port: u16,
    /// `http://127.0.0.1:<port>`: the endpoint (`AWS_ENDPOINT`).
    pub endpoint: String,
    /// Its log of requests.
    log: std::path::PathBuf,
    /// Restarted: the next value owns the log.
    restarted: bool,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !self.restarted {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// Starts a server, recording its requests, and waits until it answers.
pub fn start() -> Server {
    let port = crate::redis_server::free_port(false);
    let log = std::env::temp_dir().join(format!("telegram-passport-s3-{port}-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&log);
    spawn(port, log)
}

/// `moto_server` on `port` recording into `log`; replays `log` first if it
/// holds anything.
fn spawn(port: u16, log: std::path::PathBuf) -> Server {
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("MOTO_ENABLE_RECORDING", "True")
        .env("MOTO_RECORDER_FILEPATH", &log)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start moto_server ({error}); pip install 'moto[server]'"));
    let server = Server {
        child,
        port,
        endpoint: format!("http://127.0.0.1:{port}"),
        log,
        restarted: false,
    };
    let started = Instant::now();
    while request(&server, "GET", "/", &[]).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "moto_server did not answer on port {port} in 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    if std::fs::metadata(&server.log).is_ok_and(|meta| meta.len() > 0) {
        replay(&server);
    }
    let (status, _) = request(&server, "POST", "/moto-api/recorder/start-recording", &[]).unwrap();
    assert_eq!(status, 200, "recording");
    server
}

impl Server {
    /// Kills the server (`SIGKILL`) and starts it again on its port, where
    /// it replays its log before it takes anything new: the objects are
    /// back, as after a store's restart on its disk.
    pub fn restart(self) -> Server {
        self.crash().start()
    }

    /// Kills the server (`SIGKILL`), keeping its log and port for
    /// [`Crashed::start`].
    pub fn crash(mut self) -> Crashed {
        let (port, log) = (self.port, self.log.clone());
        self.restarted = true;
        drop(self);
        Crashed { port, log }
    }
}

/// A server that was killed: its port and its log.
pub struct Crashed {
    port: u16,
    log: std::path::PathBuf,
}

impl Crashed {
    /// Starts it again on its port, replaying its log first.
    pub fn start(self) -> Server {
        spawn(self.port, self.log)
    }
}

impl Server {
    /// Creates the bucket `name`.
    pub fn create_bucket(&self, name: &str) {
        let (status, _) = request(self, "PUT", &format!("/{name}"), &[]).unwrap();
        assert_eq!(status, 200, "creating bucket {name}");
    }
}

/// Sends every request of the server's log again, in order. A multipart
/// upload gets a new id when it is created again, so the parts and the
/// completion that named the old one are sent with the new one (matched
/// by key: each key is uploaded once at a time).
fn replay(server: &Server) {
    let log = std::fs::read_to_string(&server.log).unwrap();
    let mut created: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let mut renamed: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for line in log.lines() {
        let Some(entry) = Entry::read(line) else { continue };
        let (path, query) = entry.target.split_once('?').unwrap_or((&entry.target, ""));
        let mut query: Vec<String> = query.split('&').filter(|q| !q.is_empty()).map(str::to_owned).collect();
        for item in &mut query {
            if let Some(old) = item.strip_prefix("uploadId=") {
                let new = renamed
                    .entry(old.to_owned())
                    .or_insert_with(|| created.remove(path).unwrap_or_else(|| old.to_owned()));
                *item = format!("uploadId={new}");
            }
        }
        let target = match query.is_empty() {
            true => path.to_owned(),
            false => format!("{path}?{}", query.join("&")),
        };
        let headers: &[(&str, &str)] = match entry.create_only {
            true => &[("If-None-Match", "*")],
            false => &[],
        };
        let Ok((status, answer)) = send(server, &entry.method, &target, headers, &entry.body) else {
            continue;
        };
        if entry.method == "POST" && query.iter().any(|q| q == "uploads" || q == "uploads=") && status == 200 {
            let answer = String::from_utf8_lossy(&answer);
            if let Some((_, rest)) = answer.split_once("<UploadId>") {
                if let Some((id, _)) = rest.split_once("</UploadId>") {
                    created.insert(path.to_owned(), id.to_owned());
                }
            }
        }
    }
}

/// One request of the log.
struct Entry {
    method: String,
    /// Sent with `If-None-Match: *` (a conditional create): replayed so,
    /// so that one refused the first time is refused again.
    create_only: bool,
    /// The path and query, as sent.
    target: String,
    body: Vec<u8>,
}

impl Entry {
    /// An entry of moto's log: a JSON object per line with `method`, `url`,
    /// `body` and `body_encoded` (base64), read without a JSON library.
    fn read(line: &str) -> Option<Entry> {
        let text = |field: &str| -> Option<String> {
            let (_, rest) = line.split_once(&format!("\"{field}\": \""))?;
            let mut value = String::new();
            let mut chars = rest.chars();
            while let Some(c) = chars.next() {
                match c {
                    '"' => return Some(value),
                    '\\' => match chars.next()? {
                        'n' => value.push('\n'),
                        'r' => value.push('\r'),
                        't' => value.push('\t'),
                        'u' => {
                            let code: String = chars.by_ref().take(4).collect();
                            value.push(char::from_u32(u32::from_str_radix(&code, 16).ok()?)?);
                        }
                        other => value.push(other),
                    },
                    other => value.push(other),
                }
            }
            None
        };
        let url = text("url")?;
        let target = url
            .splitn(4, '/')
            .nth(3)
            .map(|rest| format!("/{rest}"))
            .unwrap_or_else(|| "/".to_owned());
        let body = text("body").unwrap_or_default();
        let body = match line.contains("\"body_encoded\": true") {
            true => base64_decode(&body)?,
            false => body.into_bytes(),
        };
        Some(Entry {
            create_only: text("If-None-Match").as_deref() == Some("*"),
            method: text("method")?,
            target,
            body,
        })
    }
}

/// Standard base64, padded.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    for chunk in text.trim_end_matches('=').as_bytes().chunks(4) {
        let digits: Vec<u8> = chunk.iter().map(|&c| value(c)).collect::<Option<_>>()?;
        let word = digits.iter().fold(0u32, |word, &d| (word << 6) | u32::from(d)) << (6 * (4 - digits.len()));
        let bytes = word.to_be_bytes();
        out.extend_from_slice(&bytes[1..digits.len()]);
    }
    Some(out)
}

/// One HTTP/1.1 request, unsigned (the server does not check signatures):
/// the answer's status and body.
fn request(server: &Server, method: &str, path: &str, body: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
    send(server, method, path, &[], body)
}

/// [`request`] with more header lines.
fn send(
    server: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(("127.0.0.1", server.port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let extra: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
        server.port,
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let head = String::from_utf8_lossy(&answer[..split]).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))?;
    let mut body = answer[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    Ok((status, body))
}

/// A chunked body, joined.
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = body.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&body[..end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&body[end + 2..end + 2 + size]);
        body = &body[end + 2 + size + 2..];
    }
    out
}
