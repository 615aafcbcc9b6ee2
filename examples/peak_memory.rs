//! Peak memory of decrypting a 10 MiB file, in memory and streaming, as the
//! growth of the process's peak resident set (Linux `VmHWM`) beyond the
//! input (in memory) or beyond reading and discarding the output (streaming).
//!
//! ```text
//! cargo run --release --example peak_memory
//! ```
//!
//! Each measurement runs in a fresh child process, since the peak only grows.

use std::path::Path;
use std::process::Command;

use telegram_passport::{client, FileCredentials, Secret, Sha256Hash};

const SIZE: usize = 10 << 20;

type Failure = Box<dyn std::error::Error>;

/// The peak resident set so far, in bytes.
fn peak() -> Result<u64, Failure> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .ok_or("no VmHWM (Linux only)")?;
    let kib: u64 = line.split_whitespace().nth(1).ok_or("malformed VmHWM")?.parse()?;
    Ok(kib * 1024)
}

fn child(mode: &str, dir: &Path) -> Result<(), Failure> {
    let hash = Sha256Hash::from_slice(&std::fs::read(dir.join("hash"))?).ok_or("hash")?;
    let secret = Secret::from_slice(&std::fs::read(dir.join("secret"))?).ok_or("secret")?;
    let credentials = FileCredentials::new(hash, secret);
    let path = dir.join("file");
    let growth = match mode {
        "in-memory" => {
            let input = std::fs::read(&path)?; // the downloaded file, as a caller holds it
            let before = peak()?;
            let plaintext = credentials.decrypt(input)?;
            let after = peak()?;
            assert!(plaintext.len() > SIZE - 256);
            after.saturating_sub(before)
        }
        _ => {
            let file = std::fs::File::open(&path)?;
            let before = peak()?;
            credentials.decrypt_stream(file, std::io::sink())?;
            peak()?.saturating_sub(before)
        }
    };
    println!("{growth}");
    Ok(())
}

const USAGE: &str = "usage: peak_memory\n\n\
    Decrypts a 10 MiB file in memory and streaming, each in a child process,\n\
    and prints the peak memory each needed beyond the input.";

fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().collect();
    match args.as_slice() {
        // The child processes this program starts.
        [_, mode, dir] if mode == "in-memory" || mode == "streaming" => return child(mode, Path::new(dir)),
        [_] => {}
        [_, help] if help == "--help" || help == "-h" => {
            println!("{USAGE}");
            return Ok(());
        }
        [_, other, ..] => {
            eprintln!("peak_memory: unexpected argument {other:?}\n\n{USAGE}");
            std::process::exit(2);
        }
        [] => {}
    }
    let dir = std::env::temp_dir().join(format!("telegram-passport-peak-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let encrypted = client::encrypt(&vec![0xa5; SIZE])?;
    std::fs::write(dir.join("file"), &encrypted.data)?;
    std::fs::write(dir.join("hash"), encrypted.hash.as_bytes())?;
    std::fs::write(dir.join("secret"), encrypted.secret.expose())?;
    println!("peak memory beyond the input, decrypting a {} MiB file:", SIZE >> 20);
    for mode in ["in-memory", "streaming"] {
        let output = Command::new(std::env::current_exe()?).arg(mode).arg(&dir).output()?;
        let text = String::from_utf8(output.stdout)?;
        let bytes: f64 = text
            .trim()
            .parse()
            .map_err(|_| format!("{mode}: {}", String::from_utf8_lossy(&output.stderr)))?;
        println!(
            "  {mode:>9}: {:8.1} KiB = {:.3} x the file size",
            bytes / 1024.0,
            bytes / SIZE as f64
        );
    }
    std::fs::remove_dir_all(dir)?;
    Ok(())
}
