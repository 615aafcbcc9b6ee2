//! Decrypts a `PassportData` (or a `Message` / `Update` carrying one) by hand.
//!
//! ```text
//! cargo run --release --example decrypt -- --key KEY.pem [--nonce NONCE] [--files DIR --out DIR] INPUT.json
//! ```
//!
//! Prints `{"nonce": ..., "elements": [...]}` on success. With `--files DIR
//! --out DIR`, decrypts every file whose encrypted bytes are at `DIR/<file_id>`
//! into `OUT/<file_id>`. With `--nonce`, any other nonce is an error. On any
//! failure: exit status 1, one line on stderr, nothing on stdout.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use telegram_passport::{decrypt, Element, NonceCheck, PassportData, PrivateKey};

const USAGE: &str = "usage: decrypt --key KEY.pem [--nonce NONCE] [--files DIR --out DIR] INPUT.json";

struct Args {
    key: PathBuf,
    nonce: Option<String>,
    files: Option<(PathBuf, PathBuf)>,
    input: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args_os().skip(1);
    let (mut key, mut nonce, mut files, mut out, mut input) = (None, None, None, None, None);
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
            Some("-h" | "--help") => return Err(USAGE.to_owned()),
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
    Ok(Args {
        key: key.ok_or_else(|| format!("--key is required; {USAGE}"))?,
        nonce,
        files,
        input: input.ok_or_else(|| format!("INPUT is required; {USAGE}"))?,
    })
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// A file id names a file in DIR and OUT: it must not be able to leave them.
fn safe_file_name(file_id: &str) -> Result<&str, String> {
    let safe = !file_id.is_empty()
        && file_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    safe.then_some(file_id)
        .ok_or_else(|| format!("refusing file_id {file_id:?}: not a plain file name"))
}

fn run() -> Result<String, String> {
    let args = parse_args()?;
    let pem =
        String::from_utf8(read(&args.key)?).map_err(|_| format!("{} is not a PEM text file", args.key.display()))?;
    let key = PrivateKey::from_pem(&pem).map_err(|e| format!("{}: {e}", args.key.display()))?;
    let input = read(&args.input)?;
    let passport_data = PassportData::from_json(&input).map_err(|e| format!("{}: {e}", args.input.display()))?;
    let check = args.nonce.as_deref().map_or(NonceCheck::Skip, NonceCheck::Expect);
    let passport = decrypt(&key, &passport_data, check).map_err(|e| e.to_string())?;

    if let Some((dir, out)) = &args.files {
        std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
        let documents = passport.elements().iter().filter_map(|e| match e {
            Element::Document(document) => Some(document),
            _ => None,
        });
        for file in documents.flat_map(|d| d.all_files()) {
            let Some(file_id) = file.file_id() else {
                continue;
            };
            let name = safe_file_name(file_id)?;
            let source = dir.join(name);
            if !source.is_file() {
                continue;
            }
            let jpeg = file
                .decrypt(read(&source)?)
                .map_err(|e| format!("{}: {e}", source.display()))?;
            let target = out.join(name);
            std::fs::write(&target, &jpeg[..]).map_err(|e| format!("cannot write {}: {e}", target.display()))?;
        }
    }
    serde_json::to_string_pretty(&passport).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    match run() {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("decrypt: {message}");
            ExitCode::FAILURE
        }
    }
}
