//! Real PostgreSQL servers for the tests, each in a temporary data folder
//! of its own (`initdb`), listening on a free loopback port, stopped on
//! drop. Tests that use them carry `#[cfg_attr(no_postgres_server, ignore
//! = …)]`: where PostgreSQL's server programs are not installed (and `CI`
//! is not set) the build script sets that cfg, and the test summary shows
//! them as ignored, with the reason.
//!
//! PostgreSQL refuses to run as root: as root, the server and `initdb` run
//! as the `postgres` user that Debian's package creates (through
//! `setpriv`, which replaces itself, so the process started is the
//! server's and signals reach it).

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A PostgreSQL server, stopped (immediately) on drop, its folder removed.
pub struct Server {
    /// The server's main process (the postmaster).
    pub child: Child,
    /// Its loopback port.
    pub port: u16,
    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub url: String,
    /// Its data folder.
    pub dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Server {
    /// Sends `signal` (`-STOP`, `-CONT`, …) to the server and every
    /// process it started (one per connection, and its workers), so that
    /// `-STOP` stalls every connection, old and new.
    pub fn signal(&self, signal: &str) {
        let parent = self.child.id().to_string();
        let children = Command::new("pgrep").args(["-P", &parent]).output().unwrap();
        let children = String::from_utf8_lossy(&children.stdout).to_string();
        let mut pids: Vec<&str> = children.split_whitespace().collect();
        // Stop the parent first (it starts no one meanwhile); resume it last.
        match signal {
            "-CONT" => pids.push(&parent),
            _ => pids.insert(0, &parent),
        }
        let status = Command::new("kill").arg(signal).args(&pids).status().unwrap();
        assert!(status.success(), "kill {signal} {pids:?}");
    }

    /// Crashes the server (an immediate shutdown: no checkpoint, every
    /// connection cut) and starts it again on its port with its data: it
    /// recovers from its write-ahead log, as after a power cut.
    pub fn restart(self) -> Server {
        self.restart_after(Duration::ZERO)
    }

    /// [`Server::restart`], the server staying down for `down` first.
    pub fn restart_after(mut self, down: Duration) -> Server {
        self.stop();
        std::thread::sleep(down);
        let (port, dir) = (self.port, self.dir.clone());
        // Keep the folder: this value's drop must not remove it.
        self.dir = PathBuf::new();
        drop(self);
        spawn(port, dir)
    }

    fn stop(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        // SIGCONT first, in case a test left it stopped.
        let _ = Command::new("kill")
            .args(["-CONT", &self.child.id().to_string()])
            .status();
        let _ = Command::new("kill")
            .args(["-QUIT", &self.child.id().to_string()])
            .status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where PostgreSQL's server programs are: on the `PATH`, or in Debian's
/// versioned folder (the newest).
pub fn bin_dir() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path).find(|dir| dir.join("initdb").is_file() && dir.join("postgres").is_file())
    });
    on_path.or_else(|| {
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|entry| Some(entry.ok()?.path().join("bin")))
            .filter(|bin| bin.join("initdb").is_file())
            .collect();
        versions.sort();
        versions.pop()
    })
}

/// Whether this process runs as root (then PostgreSQL runs as `postgres`).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.trim_ascii() == b"0")
}

/// `program` from PostgreSQL's folder, as `postgres` when this is root.
fn command(program: &str) -> Command {
    let bin = bin_dir().expect("PostgreSQL's server programs (apt-get install postgresql)");
    match is_root() {
        true => {
            let mut command = Command::new("setpriv");
            command
                .args(["--reuid=postgres", "--regid=postgres", "--init-groups"])
                .arg(bin.join(program));
            command
        }
        false => Command::new(bin.join(program)),
    }
}

/// A fresh server in a new data folder.
pub fn start() -> Server {
    let port = crate::redis_server::free_port(false);
    let dir = std::env::temp_dir().join(format!("telegram-passport-postgres-{port}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    if is_root() {
        let owned = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(owned.success(), "chown postgres {}", dir.display());
    }
    let made = command("initdb")
        .args([
            "--auth=trust",
            "--username=postgres",
            "--encoding=UTF8",
            "--no-sync",
            "-D",
        ])
        .arg(&dir)
        .stdout(Stdio::null())
        .status()
        .unwrap_or_else(|error| panic!("cannot run initdb ({error}); install postgresql to run these tests"));
    assert!(made.success(), "initdb {}", dir.display());
    spawn(port, dir)
}

/// The server on `port` with the data in `dir`, once it takes connections.
fn spawn(port: u16, dir: PathBuf) -> Server {
    let child = command("postgres")
        .arg("-D")
        .arg(&dir)
        .args(["-p", &port.to_string(), "-k"])
        .arg(&dir)
        .args(["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start postgres ({error})"));
    let server = Server {
        child,
        port,
        url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        dir,
    };
    wait_until_ready(&server);
    server
}

fn wait_until_ready(server: &Server) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if TcpStream::connect(("127.0.0.1", server.port)).is_ok() && psql(server, "SELECT 1").as_deref() == Ok("1") {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("postgres did not take connections on port {} in 30 s", server.port);
}

/// `psql`'s answer to `sql`, trimmed, or its error.
pub fn psql(server: &Server, sql: &str) -> Result<String, String> {
    let bin = bin_dir().map(|dir| dir.join("psql"));
    let program = bin
        .filter(|p| Path::new(p).is_file())
        .unwrap_or_else(|| PathBuf::from("psql"));
    let output = Command::new(program)
        .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", &server.url, "-c", sql])
        .output()
        .map_err(|error| error.to_string())?;
    match output.status.success() {
        true => Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned()),
        false => Err(String::from_utf8_lossy(&output.stderr).trim().to_owned()),
    }
}
