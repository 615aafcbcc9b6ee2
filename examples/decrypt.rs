//! Decrypts a `PassportData` (or a `Message` / `Update` carrying one), or
//! with `--tl` the TL bytes of an MTProto `messageActionSecureValuesSentMe`,
//! by hand.
//!
//! ```text
//! cargo run --release --example decrypt -- --key KEY.pem [--nonce NONCE] [--files DIR --out DIR] INPUT.json
//! cargo run --release --example decrypt -- --key KEY.pem [--nonce NONCE] [--files DIR --out DIR] --tl INPUT.bin
//! ```
//!
//! Prints `{"nonce": ..., "elements": [...]}` on success, the same for both
//! inputs (element types in the Bot API's names). With `--files DIR --out
//! DIR`, decrypts every file whose encrypted bytes are at `DIR/<file_id>`
//! (MTProto: `DIR/<secureFile id>`) into `OUT/<the same name>`. With `--nonce`, any other nonce is an error. On any
//! failure: exit status 1, one line on stderr, nothing on stdout.
//!
//! Inputs are read within [`Limits::default`] (a larger INPUT or file is
//! refused without being read to the end). Files are all or nothing: OUT
//! receives the decrypted files only once every one verified, owner-only
//! (0600 files, a new OUT 0700 on Unix), and nothing on failure.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use telegram_passport::mtproto::{self, SecureValuesSentMe};
use telegram_passport::{
    decrypt_with_limits, DecryptedPassport, Element, FileLocation, Limits, NonceCheck, PassportData, PrivateKey,
};

const USAGE: &str = "usage: decrypt --key KEY.pem [--nonce NONCE] [--files DIR --out DIR] [--tl] INPUT";

struct Args {
    key: PathBuf,
    nonce: Option<String>,
    files: Option<(PathBuf, PathBuf)>,
    /// INPUT is MTProto TL rather than Bot API JSON.
    tl: bool,
    input: PathBuf,
}

/// The arguments, or `None` for `--help`.
fn parse_args() -> Result<Option<Args>, String> {
    let mut args = std::env::args_os().skip(1);
    let (mut key, mut nonce, mut files, mut out, mut input) = (None, None, None, None, None);
    let mut tl = false;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value; {USAGE}"));
        match arg.to_str() {
            Some("--key") => key = Some(PathBuf::from(value("--key")?)),
            Some("--nonce") => {
                let text = value("--nonce")?
                    .into_string()
                    .map_err(|_| "--nonce is not UTF-8".to_owned())?;
                nonce = Some(text);
            }
            Some("--files") => files = Some(PathBuf::from(value("--files")?)),
            Some("--out") => out = Some(PathBuf::from(value("--out")?)),
            Some("--tl") => tl = true,
            Some("-h" | "--help") => return Ok(None),
            Some(flag) if flag.starts_with("--") => return Err(format!("unknown option {flag}; {USAGE}")),
            _ if input.is_none() => input = Some(PathBuf::from(arg)),
            _ => return Err(format!("more than one INPUT; {USAGE}")),
        }
    }
    let files = match (files, out) {
        (Some(files), Some(out)) => Some((files, out)),
        (None, None) => None,
        _ => return Err(format!("--files and --out go together; {USAGE}")),
    };
    Ok(Some(Args {
        key: key.ok_or_else(|| format!("--key is required; {USAGE}"))?,
        nonce,
        files,
        tl,
        input: input.ok_or_else(|| format!("INPUT is required; {USAGE}"))?,
    }))
}

/// Reads at most `limit` bytes of `path`; refuses a larger file after
/// reading one byte past the limit, never the rest.
fn read_bounded(path: &Path, limit: usize) -> Result<Vec<u8>, String> {
    let file = File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() > limit {
        return Err(format!("{} is larger than {limit} bytes", path.display()));
    }
    Ok(bytes)
}

/// A file id names a file in DIR and OUT: it must not be able to leave them.
fn safe_file_name(file_id: &str) -> Result<&str, String> {
    let safe = !file_id.is_empty()
        && file_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    safe.then_some(file_id)
        .ok_or_else(|| format!("refusing file_id \"{}\": not a plain file name", excerpt(file_id)))
}

/// `text` with its control characters escaped: one line, whatever it holds.
fn one_line(text: &str) -> String {
    let mut line = String::with_capacity(text.len());
    for c in text.chars() {
        match c.is_control() {
            true => line.extend(c.escape_default()),
            false => line.push(c),
        }
    }
    line
}

/// At most 64 characters of untrusted text, on one line.
fn excerpt(text: &str) -> String {
    let mut out = one_line(&text.chars().take(64).collect::<String>());
    if text.chars().nth(64).is_some() {
        out.push('…');
    }
    out
}

/// What went wrong: the command line (exit 2) or the run (exit 1).
enum Failure {
    Usage(String),
    Run(String),
}

fn run() -> Result<String, Failure> {
    let Some(args) = parse_args().map_err(Failure::Usage)? else {
        return Ok(USAGE.to_owned());
    };
    decrypt(&args).map_err(Failure::Run)
}

fn decrypt(args: &Args) -> Result<String, String> {
    let limits = Limits::default();
    let pem = read_bounded(&args.key, 64 << 10)?;
    let pem = String::from_utf8(pem).map_err(|_| format!("{} is not a PEM text file", args.key.display()))?;
    let key = PrivateKey::from_pem(&pem).map_err(|e| format!("{}: {e}", args.key.display()))?;
    let input = read_bounded(&args.input, limits.input_json)?;
    let check = args.nonce.as_deref().map_or(NonceCheck::Skip, NonceCheck::Expect);
    let in_input = |e: telegram_passport::Error| format!("{}: {e}", args.input.display());
    let passport = match args.tl {
        false => {
            let passport_data = PassportData::from_json_with_limits(&input, &limits).map_err(in_input)?;
            decrypt_with_limits(&key, &passport_data, check, &limits)
        }
        true => {
            let sent = SecureValuesSentMe::from_tl_with_limits(&input, &limits).map_err(in_input)?;
            mtproto::decrypt_with_limits(&key, &sent, check, &limits)
        }
    }
    .map_err(|e| e.to_string())?;
    if let Some((dir, out)) = &args.files {
        decrypt_files(&passport, dir, out)?;
    }
    serde_json::to_string_pretty(&passport).map_err(|e| e.to_string())
}

/// Decrypts every file found in DIR into OUT, all or nothing: each is
/// streamed (within `Limits::file`) into an owner-only folder beside OUT,
/// and only once every one verified do they move into OUT.
fn decrypt_files(passport: &DecryptedPassport, dir: &Path, out: &Path) -> Result<(), String> {
    let parent = match out.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    // Owner-only; removed with everything in it on any failure.
    let mut builder = tempfile::Builder::new();
    builder.prefix(".decrypt-");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
    let staging = builder
        .tempdir_in(parent)
        .map_err(|e| format!("cannot create a folder in {}: {e}", parent.display()))?;
    let documents = passport.elements().iter().filter_map(|e| match e {
        Element::Document(document) => Some(document),
        _ => None,
    });
    let mut names = Vec::new();
    for file in documents.flat_map(|d| d.all_files()) {
        let file_id = match file.location() {
            FileLocation::BotApi(file) => file.file_id.clone(),
            FileLocation::Mtproto(file) => file.id.to_string(),
            _ => continue,
        };
        let name = safe_file_name(&file_id)?.to_owned();
        let source = dir.join(&name);
        if !source.is_file() {
            continue;
        }
        let encrypted = File::open(&source).map_err(|e| format!("cannot read {}: {e}", source.display()))?;
        file.decrypt_to_path(encrypted, &staging.path().join(&name))
            .map_err(|e| format!("{}: {e}", source.display()))?;
        names.push(name);
    }
    publish(staging, &names, out)
}

/// Moves the verified files into OUT: the whole folder at once if OUT does
/// not exist yet, otherwise file by file, taking back those already moved
/// if one cannot be.
fn publish(staging: tempfile::TempDir, names: &[String], out: &Path) -> Result<(), String> {
    if !out.exists() {
        let staged = staging.keep();
        return std::fs::rename(&staged, out).map_err(|e| {
            let _ = std::fs::remove_dir_all(&staged);
            format!("cannot create {}: {e}", out.display())
        });
    }
    let mut moved: Vec<&String> = Vec::new();
    for name in names {
        if let Err(e) = std::fs::rename(staging.path().join(name), out.join(name)) {
            for name in moved {
                let _ = std::fs::remove_file(out.join(name));
            }
            return Err(format!("cannot write {}: {e}", out.join(name).display()));
        }
        moved.push(name);
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(Failure::Usage(message)) => {
            eprintln!("decrypt: {}", one_line(&message));
            ExitCode::from(2)
        }
        Err(Failure::Run(message)) => {
            eprintln!("decrypt: {}", one_line(&message));
            ExitCode::FAILURE
        }
    }
}
