//! A throwaway SoftHSM2 token in a folder of its own: its configuration
//! file, a token initialised with `softhsm2-util`, and RSA keys imported
//! from PEM (`softhsm2-util --import`, which reads PKCS#8).
//!
//! SoftHSM2 reads `SOFTHSM2_CONF` once per process, when the module is
//! initialised: a process that uses a [`Token`] sets it (see
//! [`Token::conf`]) before it opens any key.

use std::path::{Path, PathBuf};
use std::process::Command;

use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};

/// The user PIN of every throwaway token.
pub const PIN: &str = "4321";

/// Where Debian's (and most distributions') SoftHSM2 puts its module;
/// `SOFTHSM2_MODULE` overrides.
pub fn module() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("SOFTHSM2_MODULE") {
        return Some(PathBuf::from(path));
    }
    [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/local/lib/softhsm/libsofthsm2.so",
        "/opt/homebrew/lib/softhsm/libsofthsm2.so",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|path| path.is_file())
}

/// A token in `dir`, labelled `label`, with the user PIN [`PIN`].
pub struct Token {
    /// The folder of its configuration and token files.
    pub dir: PathBuf,
    /// The token's label.
    pub label: String,
    /// The SoftHSM2 module's path.
    pub module: PathBuf,
}

impl Token {
    /// Makes `dir` (removing what a former run left there), writes its
    /// `softhsm2.conf` and initialises the token.
    pub fn new(dir: &Path, label: &str) -> Result<Self, String> {
        let module = module().ok_or("SoftHSM2's module (libsofthsm2.so) is not installed")?;
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir.join("tokens")).map_err(|e| format!("{}: {e}", dir.display()))?;
        let conf = format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
            dir.join("tokens").display()
        );
        std::fs::write(dir.join("softhsm2.conf"), conf).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("pin"), format!("{PIN}\n")).map_err(|e| e.to_string())?;
        let token = Self {
            dir: dir.to_owned(),
            label: label.to_owned(),
            module,
        };
        token.util(&[
            "--init-token",
            "--free",
            "--label",
            label,
            "--pin",
            PIN,
            "--so-pin",
            "87654321",
        ])?;
        Ok(token)
    }

    /// The token another process made in `dir`.
    pub fn existing(dir: &Path, label: &str) -> Result<Self, String> {
        Ok(Self {
            dir: dir.to_owned(),
            label: label.to_owned(),
            module: module().ok_or("SoftHSM2's module (libsofthsm2.so) is not installed")?,
        })
    }

    /// The configuration file: the value of `SOFTHSM2_CONF`.
    pub fn conf(&self) -> PathBuf {
        self.dir.join("softhsm2.conf")
    }

    /// Runs `softhsm2-util` on this token's configuration.
    pub fn util(&self, args: &[&str]) -> Result<(), String> {
        let output = Command::new("softhsm2-util")
            .args(args)
            .env("SOFTHSM2_CONF", self.conf())
            .output()
            .map_err(|e| format!("cannot run softhsm2-util: {e}"))?;
        match output.status.success() {
            true => Ok(()),
            false => Err(format!(
                "softhsm2-util {}: {}{}",
                args.first().unwrap_or(&""),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )),
        }
    }

    /// Imports the private key of a PEM file (PKCS#1 or PKCS#8) as
    /// `object`, with `CKA_ID` `id`.
    pub fn import(&self, pem_file: &Path, object: &str, id: u8) -> Result<(), String> {
        let pem = std::fs::read_to_string(pem_file).map_err(|e| format!("{}: {e}", pem_file.display()))?;
        let key = rsa::PrivateKey::from_pkcs1_pem(&pem)
            .or_else(|_| rsa::PrivateKey::from_pkcs8_pem(&pem))
            .map_err(|e| format!("{}: {e}", pem_file.display()))?;
        let pkcs8 = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| e.to_string())?;
        let file = self.dir.join(format!("{object}.pkcs8.pem"));
        std::fs::write(&file, pkcs8.as_bytes()).map_err(|e| e.to_string())?;
        let imported = self.util(&[
            "--import",
            &file.to_string_lossy(),
            "--token",
            &self.label,
            "--label",
            object,
            "--id",
            &format!("{id:02x}"),
            "--pin",
            PIN,
        ]);
        let _ = std::fs::remove_file(&file);
        imported
    }

    /// The RFC 7512 URI of `object` on this token, the PIN read from a file.
    pub fn uri(&self, object: &str) -> String {
        format!(
            "pkcs11:token={};object={object}?module-path={}&pin-source=file:{}",
            self.label,
            self.module.display(),
            self.dir.join("pin").display()
        )
    }
}
