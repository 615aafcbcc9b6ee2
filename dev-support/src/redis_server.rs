//! Real `redis-server` processes for the tests, on free loopback ports:
//! single servers (optionally persistent, to restart them with their data)
//! and a three-master Redis Cluster. Tests that use them carry
//! `#[cfg_attr(no_redis_server, ignore = …)]`: where `redis-server` is not
//! installed (and `CI` is not set) the build script sets that cfg, and the
//! test summary shows them as ignored, with the reason.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server`, stopped (SIGKILL) on drop.
pub struct Server {
    /// The process.
    pub child: Child,
    /// Its loopback port.
    pub port: u16,
    /// `redis://127.0.0.1:<port>/`.
    pub url: String,
    /// Where it keeps its data, if it persists any.
    pub dir: Option<PathBuf>,
    options: Vec<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Sends `signal` (`-STOP`, `-CONT`, …) to the server process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {signal}");
    }

    /// Kills the server and starts it again on its port with its data.
    pub fn restart(self) -> Server {
        let (port, dir) = (self.port, self.dir.clone().expect("a persistent server"));
        let options = self.options.clone();
        drop(self);
        spawn(port, Some(dir), &options.iter().map(String::as_str).collect::<Vec<_>>())
    }
}

/// A free loopback port; with `bus`, its cluster bus port (+10000) is free too.
pub fn free_port(bus: bool) -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if !bus || (port < 55_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok()) {
            return port;
        }
    }
}

/// A server that keeps nothing on disk.
pub fn start() -> Server {
    spawn(free_port(false), None, &["--save", "", "--appendonly", "no"])
}

/// A server that writes every change to an append-only file (fsync
/// always), so that [`Server::restart`] finds its data again.
pub fn start_persistent() -> Server {
    let port = free_port(false);
    spawn(port, Some(scratch(port)), &PERSISTENT)
}

const PERSISTENT: [&str; 6] = ["--save", "", "--appendonly", "yes", "--appendfsync", "always"];

fn scratch(port: u16) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("telegram-passport-redis-{port}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `redis-server` on `port` with `options` (and `--dir`), once it listens.
pub fn spawn(port: u16, dir: Option<PathBuf>, options: &[&str]) -> Server {
    let mut command = Command::new("redis-server");
    command
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(options)
        .stdout(Stdio::null());
    if let Some(dir) = &dir {
        command.arg("--dir").arg(dir);
    }
    let child = command
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start redis-server ({error}); install it to run the Redis tests"));
    let server = Server {
        child,
        port,
        url: format!("redis://127.0.0.1:{port}/"),
        dir,
        options: options.iter().map(|o| (*o).to_owned()).collect(),
    };
    for _ in 0..200 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return server;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("redis-server did not start listening on port {port}");
}

/// `redis-cli -p PORT ARGS…`'s output, trimmed (an error reply included).
pub fn cli(port: u16, args: &[&str]) -> String {
    let output = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli comes with redis-server");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A three-master Redis Cluster on loopback, every node persistent.
pub struct Cluster {
    /// The three masters.
    pub nodes: Vec<Server>,
}

impl Cluster {
    /// Starts three nodes and joins them into a cluster, every slot served.
    pub fn start() -> Cluster {
        let mut nodes = Vec::new();
        for _ in 0..3 {
            let port = free_port(true);
            let conf = format!("nodes-{port}.conf");
            let options = [
                &PERSISTENT[..],
                &[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    &conf,
                    "--cluster-node-timeout",
                    "5000",
                ],
            ]
            .concat();
            nodes.push(spawn(port, Some(scratch(port)), &options));
        }
        let addresses: Vec<String> = nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .status()
            .expect("redis-cli comes with redis-server");
        assert!(created.success(), "redis-cli --cluster create");
        let cluster = Cluster { nodes };
        cluster.wait_until_ok();
        cluster
    }

    /// Each node's URL.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.url.clone()).collect()
    }

    /// Waits until every node reports `cluster_state:ok` and knows all three.
    pub fn wait_until_ok(&self) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            let ok = self.nodes.iter().all(|n| {
                let info = cli(n.port, &["cluster", "info"]);
                info.contains("cluster_state:ok") && info.contains("cluster_known_nodes:3")
            });
            if ok {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the cluster did not become ok in 30 s");
    }

    /// The index of the node that holds `key`.
    pub fn owner(&self, key: &str) -> usize {
        let slot = cli(self.nodes[0].port, &["cluster", "keyslot", key]);
        let slot: u16 = slot.parse().unwrap_or_else(|_| panic!("CLUSTER KEYSLOT said {slot}"));
        let ownership = cli(self.nodes[0].port, &["cluster", "slots"]);
        // Lines: start, end, ip, port, id, (replicas…) for each range.
        let lines: Vec<&str> = ownership.lines().map(str::trim).collect();
        for range in lines.windows(4) {
            let (Ok(start), Ok(end)) = (range[0].parse::<u16>(), range[1].parse::<u16>()) else {
                continue;
            };
            if range[2] == "127.0.0.1" && (start..=end).contains(&slot) {
                let port: u16 = range[3].parse().unwrap();
                return self.nodes.iter().position(|n| n.port == port).unwrap();
            }
        }
        panic!("no node holds slot {slot}: {ownership}");
    }
}
