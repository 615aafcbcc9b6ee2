//! A real Azure Blob Storage emulator for the tests: Azurite's
//! `azurite-blob` (from the npm registry), on a free loopback port with its
//! data in a temporary folder, stopped on drop. It signs nothing away: it
//! checks every request's shared-key signature, as Azure does, and answers
//! conditional writes (`If-None-Match: *` on an existing blob is `409`).
//! Tests that use it carry `#[cfg_attr(no_azurite, ignore = …)]`: where
//! `azurite-blob` is not on the `PATH` (and `CI` is not set) the build
//! script sets that cfg.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The emulator's one storage account.
pub const ACCOUNT: &str = "devstoreaccount1";

/// Its well-known key (public: Azurite's documentation gives it).
pub const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// An `azurite-blob`, killed on drop (its folder removed).
pub struct Server {
    /// The process.
    pub child: Child,
    /// Its loopback port.
    pub port: u16,
    /// `http://127.0.0.1:<port>`: what `AZURITE_BLOB_STORAGE_URL` names.
    pub endpoint: String,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts a server and waits until it takes connections.
pub fn start() -> Server {
    let port = crate::redis_server::free_port(false);
    let dir = std::env::temp_dir().join(format!("telegram-passport-azurite-{port}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let child = Command::new("azurite-blob")
        .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string(), "--location"])
        .arg(&dir)
        .args(["--silent", "--skipApiVersionCheck", "--disableTelemetry"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start azurite-blob ({error}); npm install azurite"));
    let server = Server {
        child,
        port,
        endpoint: format!("http://127.0.0.1:{port}"),
        dir,
    };
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "azurite-blob did not listen on port {port} in 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

/// Creates a container: a `PUT` signed with the account's key (Node.js's
/// own HMAC, as Azurite runs on Node.js); exits 0 on `201 Created`.
const CREATE_CONTAINER: &str = r#"
const http = require('http'), crypto = require('crypto');
const [port, container, account, key] = process.argv.slice(1);
const date = new Date().toUTCString(), version = '2021-08-06';
const path = `/${account}/${container}`;
const toSign = ['PUT', '', '', '', '', '', '', '', '', '', '', ''].join('\n')
  + `\nx-ms-date:${date}\nx-ms-version:${version}\n/${account}${path}\nrestype:container`;
const signature = crypto.createHmac('sha256', Buffer.from(key, 'base64')).update(toSign, 'utf8').digest('base64');
const request = http.request({
  host: '127.0.0.1', port, method: 'PUT', path: `${path}?restype=container`,
  headers: { 'x-ms-date': date, 'x-ms-version': version, 'Authorization': `SharedKey ${account}:${signature}`, 'Content-Length': 0 },
}, (response) => {
  let body = '';
  response.on('data', (chunk) => body += chunk);
  response.on('end', () => { if (response.statusCode !== 201) { console.error(response.statusCode, body); process.exitCode = 1; } });
});
request.on('error', (error) => { console.error(error.message); process.exitCode = 1; });
request.end();
"#;

impl Server {
    /// Creates the container `name`.
    pub fn create_container(&self, name: &str) {
        let out = Command::new("node")
            .args([
                "-e",
                CREATE_CONTAINER,
                &self.port.to_string(),
                name,
                ACCOUNT,
                ACCOUNT_KEY,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "creating container {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The settings that point `object_store` (and so the service) at this
    /// emulator: the standard `AZURE_STORAGE_USE_EMULATOR` and
    /// `AZURITE_BLOB_STORAGE_URL`.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AZURE_STORAGE_USE_EMULATOR", "true".to_owned()),
            ("AZURITE_BLOB_STORAGE_URL", self.endpoint.clone()),
        ]
    }
}
