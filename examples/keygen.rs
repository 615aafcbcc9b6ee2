//! Makes the bot's key: a new RSA private key in a file only its owner may
//! read, and its public half printed as BotFather's `/setpublickey` takes it.
//!
//! ```text
//! cargo run --example keygen -- private.key            # 2048 bits
//! cargo run --example keygen -- --bits 3072 private.key
//! ```
//!
//! The file is created, never replaced: a key already there may be the one
//! BotFather holds, and every submission sealed to it would be lost with it.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use telegram_passport::PrivateKey;

const USAGE: &str = "usage: keygen [--bits 2048|3072|4096] PATH

Writes a new RSA private key (PEM, BEGIN RSA PRIVATE KEY) to PATH, readable
by you only (mode 0600), and prints its public half (BEGIN PUBLIC KEY) on
stdout: send that to BotFather with /setpublickey. PATH must not exist yet.
2048 bits is what Telegram's documentation uses; a larger key costs more for
every submission it decrypts.";

/// What went wrong: the command line (exit 2, with the usage) or the run (exit 1).
enum Failure {
    Usage(String),
    Run(String),
}

struct Args {
    bits: usize,
    path: String,
}

/// The arguments, or `None` for `--help`.
fn parse_args() -> Result<Option<Args>, String> {
    let mut args = std::env::args().skip(1);
    let (mut bits, mut path) = (2048, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--help" | "-h" => return Ok(None),
            "--bits" => {
                let value = args.next().ok_or("--bits needs a value")?;
                bits = match value.as_str() {
                    "2048" => 2048,
                    "3072" => 3072,
                    "4096" => 4096,
                    _ => return Err(format!("--bits takes 2048, 3072 or 4096, not {value:?}")),
                };
            }
            other if other.starts_with('-') => return Err(format!("unknown argument {other:?}")),
            _ if path.is_some() => return Err(format!("one PATH only: {arg:?} is one too many")),
            _ => path = Some(arg),
        }
    }
    Ok(Some(Args {
        bits,
        path: path.ok_or("PATH is required: where to write the new key")?,
    }))
}

/// The public PEM and a word on what was written, or `None` for `--help`.
fn run() -> Result<Option<(String, String)>, Failure> {
    let Some(Args { bits, path }) = parse_args().map_err(Failure::Usage)? else {
        return Ok(None);
    };
    let public = write_key(Path::new(&path), bits).map_err(Failure::Run)?;
    let note = format!(
        "wrote a {bits}-bit RSA private key to {path}, readable by you only; give BotFather the public key above \
         with /setpublickey"
    );
    Ok(Some((public, note)))
}

/// Writes a new key of `bits` bits to `path`; its public PEM.
fn write_key(path: &Path, bits: usize) -> Result<String, String> {
    let shown = path.display();
    // Made first, so that an existing file is refused before any work.
    let mut file = create_owner_only(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => format!(
            "{shown} already exists: keygen never writes over a file (a key there may be the one BotFather \
             holds); choose another name, or move that file away first"
        ),
        _ => format!("cannot create {shown}: {e}"),
    })?;
    let written = PrivateKey::generate_with_bits(bits)
        .map_err(|e| e.to_string())
        .and_then(|key| {
            let pem = key.to_pem().map_err(|e| e.to_string())?;
            file.write_all(pem.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| format!("cannot write {shown}: {e}"))?;
            Ok(key.public_key().to_pem())
        });
    if written.is_err() {
        // The file is the one this run created, still empty or half-written:
        // nothing anyone else wrote is lost.
        let _ = std::fs::remove_file(path);
    }
    written
}

#[cfg(unix)]
fn create_owner_only(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    // `create_new` refuses any name that exists, a dangling symbolic link
    // included, so nothing is written through a link someone placed.
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn create_owner_only(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().write(true).create_new(true).open(path)
}

fn main() -> ExitCode {
    match run() {
        Ok(None) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Some((public, note))) => {
            print!("{public}");
            eprintln!("keygen: {note}");
            ExitCode::SUCCESS
        }
        Err(Failure::Usage(message)) => {
            eprintln!("keygen: {message}\n\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Run(message)) => {
            eprintln!("keygen: {message}");
            ExitCode::FAILURE
        }
    }
}
