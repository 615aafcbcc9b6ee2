//! A real S3-compatible server for the tests: `moto_server` (Python's
//! `moto`, which answers conditional writes as S3 does: `If-None-Match: *`
//! on an existing key is `412 Precondition Failed`), on a free loopback
//! port, stopped on drop; its data lives in its memory. Tests that use it
//! carry `#[cfg_attr(no_s3_server, ignore = …)]`: where `moto_server` is
//! not on the `PATH` (and `CI` is not set) the build script sets that cfg.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `moto_server`, killed on drop.
pub struct Server {
    /// The process.
    pub child: Child,
    /// Its loopback port.
    pub port: u16,
    /// `http://127.0.0.1:<port>`: the endpoint (`AWS_ENDPOINT`).
    pub endpoint: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a server and waits until it answers.
pub fn start() -> Server {
    let port = crate::redis_server::free_port(false);
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start moto_server ({error}); pip install 'moto[server]'"));
    let server = Server {
        child,
        port,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if request(&server, "GET", "/", &[]).is_ok() {
            return server;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("moto_server did not answer on port {port} in 30 s");
}

impl Server {
    /// Creates the bucket `name`.
    pub fn create_bucket(&self, name: &str) {
        let (status, _) = request(self, "PUT", &format!("/{name}"), &[]).unwrap();
        assert_eq!(status, 200, "creating bucket {name}");
    }
}

/// One HTTP/1.1 request, unsigned (the server does not check signatures):
/// the answer's status and body.
fn request(server: &Server, method: &str, path: &str, body: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(("127.0.0.1", server.port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
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
